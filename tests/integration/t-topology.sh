#!/bin/bash
# Topology hiding (SPEC section 3), the hard guarantee: whatever a node
# writes, no internal address, port or node host name reaches the
# external zone.
#   imp1 $NET.11 (tls_name imp1.node.internal, names imp1.corp.internal)
#        5062 -> 5061; the internal listener $NET.2:5060
# Leak scan: the node (sippeer over TCP from $NET.11) sends the partner
# (sippeer serve, mutual TLS, recording) an INVITE naming its address,
# port and names in every header it may write, a Call-ID xyz@$NET.11 and
# SDP c=/o= with its address; nothing of it may be in what the partner
# received. Then the dialog works both ways with the masked Call-ID: the
# partner's in-dialog MESSAGE reaches the node with the ORIGINAL Call-ID,
# before and after an edge restart with the same edge.secret_file (the
# mask is stateless), and the node's own in-dialog MESSAGE leaves with the
# same mask. Also: sipedge -t and a reload on edge.secret_file.
. "$(dirname "$0")/lib.sh"
se_init 28
se_need sipp
se_pki
se_start_dns

head -c 32 /dev/urandom >"$RUN/secret"
chmod 644 "$RUN/secret"        # a reload runs as nobody when started as root
NAMES='imp1.corp.internal imp1.node.internal'
internal="{
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              tls_name = \"imp1.node.internal\"; names = [ \"imp1.corp.internal\" ];
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
  health = { interval = 0; };
}"
federation='{
  allowed = ( { domain = "partner.test"; peer = "sip.partner.test"; port = 5061; } );
  static_routes = ( { pattern = ".test.partner.*"; next_hop = "sip.partner.test"; port = 5061; } );
  allowed_networks = [ "127.0.0.0/8" ];
}'
edge_group() { printf '{ fqdn = "edge.test"; public_address = "192.0.2.10"; secret_file = "%s"; }' "$1"; }
se_write_conf edge="$(edge_group secret)" internal="$internal" federation="$federation"

# ------------------------------------------------ sipedge -t and the secret
check() { OUT=$(timeout 10 "$SIPEDGE" -t -c "$1" 2>&1); RC=$?; }
check "$RUN/edge.conf"
se_eq "sipedge -t with a 32-byte secret_file: exit 0" 0 "$RC"
se_nomatch "sipedge -t with a secret_file: no warning" 'warning' "$OUT"
SE_CONF=$RUN/nosecret.conf se_write_conf edge="$(edge_group missing-secret)" \
	internal="$internal" federation="$federation"
check "$RUN/nosecret.conf"
se_eq "missing secret_file: exit 1" 1 "$RC"
se_match "missing secret_file: FILE:LINE and why" \
	"nosecret\\.conf:1: secret_file: cannot open '.*/missing-secret': No such file" "$OUT"
printf 'too short' >"$RUN/short-secret"
SE_CONF=$RUN/short.conf se_write_conf edge="$(edge_group short-secret)" \
	internal="$internal" federation="$federation"
check "$RUN/short.conf"
se_match "short secret_file: exit 1, says how long it must be" \
	"short\\.conf:1: secret_file: '.*/short-secret' has 9 bytes, at least 32" "$OUT ($RC)"
OUT=$(cd "$RUN" && timeout 10 "$SIPEDGE" -f -c "$RUN/nosecret.conf" 2>&1); RC=$?
se_match "the daemon does not start on a missing secret_file: exit 1, FILE:LINE" \
	"^1 .*nosecret\\.conf:1: secret_file: cannot open" "$RC $(echo $OUT)"
SE_CONF=$RUN/empty.conf se_write_conf edge='{ fqdn = "edge.test"; }' \
	internal="$internal" federation="$federation"
check "$RUN/empty.conf"
se_match "no secret_file: configuration OK with a warning" \
	'empty\.conf: warning: edge\.secret_file is not set.*configuration OK' "$(echo $OUT)"

# ------------------------------------------------ peers and the edge
se_serve partner "$NET.21:5061" --tls --cert "$PKI/partner.crt" --key "$PKI/partner.key" \
	--ca "$PKI/ca.crt" --contact "sip:peer@sip.partner.test:5061;transport=tls" --timeout 600
se_node_uas node-uas.xml "$NET.11" node -deadcall_wait 0
se_start_daemon

PREC=$RUN/partner.rec                    # requests the partner received
POUT=$RUN/peer.out                       # responses the partner received
NOUT=$RUN/imp1-uac.out                   # responses the node received
NODEARGS=(--connect "$NET.2:5060" --bind "$NET.11" --out "$NOUT")
NETRE11=$NETRE\\.11 NETRE2=$NETRE\\.2
# Internal addresses, node names, the node's ports: none may reach outside.
LEAK="(^|[^0-9A-Za-z.-])($NETRE11|$NETRE2)([^0-9A-Za-z-]|\$)|imp1\\.corp\\.internal|imp1\\.node\\.internal|[:= ](5062|5099)([^0-9]|\$)"
uri() { printf '%s\n' "$1" | sed -E 's/^[^<]*<([^>]*)>.*$/\1/'; }
joined() { se_inspect "$@" | awk 'NR > 1 { printf ", " } { printf "%s", $0 }'; }
reversed() { se_inspect "$@" | tac | awk 'NR > 1 { printf ", " } { printf "%s", $0 }'; }
# leaks FILE : "TOTAL NBAD FIRST-HIT" over the messages of FILE (sippeer
# --out/--record), %XX escapes decoded too
leaks() {
	python3 - "$1" "$LEAK" <<'PY'
import re, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
leak = re.compile(sys.argv[2], re.I)
marks = list(re.finditer(r"^=== sippeer \S+ \S+ from \S* ===$", text, re.M))
bad = []
for i, m in enumerate(marks):
    msg = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
    # %XX escapes must not hide one either
    plain = re.sub(r"%([0-9A-Fa-f]{2})", lambda x: chr(int(x.group(1), 16)), msg)
    hits = [l.strip() for l in (msg + "\n" + plain).splitlines() if leak.search(l)]
    if hits:
        bad.append(hits[0])
print(len(marks), len(bad), bad[0] if bad else "")
PY
}
# scan DESC FILE : no message in FILE leaks
scan() {
	local total nbad first
	read -r total nbad first <<<"$(leaks "$2")"
	if [ "${total:-0}" -gt 0 ] && [ "$nbad" = 0 ]; then
		ok "$1: $total message(s), no internal address, port or name"
	else
		not_ok "$1: ${nbad:-?} of ${total:-?} messages leak: $first"
	fi
}

# ------------------------------------------------ the leak scan
orig="xyz-$$@$NET.11"
se_send "the node's INVITE naming itself everywhere gets 200" "${NODEARGS[@]}" \
	"$SCEN/topo-node-invite.sip" --var NODE="$NET.11" --var EDGE_INT="$NET.2" \
	--var CALLID="$orig" --expect 200 --timeout 5
n=$(se_count "$PREC" --method INVITE)
se_eq "the partner received one INVITE" 1 "$n"
sel=(--method INVITE --index -1)
masked=$(se_inspect "$PREC" "${sel[@]}" --header Call-ID)
se_match "INVITE at partner: Call-ID masked (semask-...)" '^semask-[A-Za-z0-9_-]{40,}$' "$masked"
raw=$(se_inspect "$PREC" "${sel[@]}" --raw)
printf '%s\n' "$raw" | sed 's/^/#   /'
scan "what the partner received (the INVITE)" "$PREC"
se_eq "INVITE at partner: Contact mapped" "<sip:alice@edge.test:5061;transport=tls>" \
	"$(se_inspect "$PREC" "${sel[@]}" --values Contact)"
se_eq "INVITE at partner: P-Asserted-Identity (tls_name) mapped" \
	"<sip:alice@edge.test:5061;transport=tls>" \
	"$(se_inspect "$PREC" "${sel[@]}" --values P-Asserted-Identity)"
se_eq "INVITE at partner: P-Preferred-Identity (unpaired port 5099) mapped to the first public port" \
	"<sip:alice@edge.test:5061;transport=tls>" \
	"$(se_inspect "$PREC" "${sel[@]}" --header P-Preferred-Identity)"
se_match "INVITE at partner: Refer-To mapped, its Replaces Call-ID masked" \
	'^<sip:carol@edge\.test:5061;transport=tls\?Replaces=semask-[A-Za-z0-9_-]+%3Bto-tag%3D1%3Bfrom-tag%3D2>$' \
	"$(se_inspect "$PREC" "${sel[@]}" --header Refer-To)"
for h in Referred-By Reply-To Error-Info; do
	se_match "INVITE at partner: $h mapped" '@edge\.test:5061;transport=tls>' \
		"$(se_inspect "$PREC" "${sel[@]}" --header $h)"
done
se_match "INVITE at partner: Remote-Party-ID mapped" \
	'^"Alice" <sip:alice@edge\.test:5061;transport=tls>;party=calling;screen=yes$' \
	"$(se_inspect "$PREC" "${sel[@]}" --header Remote-Party-ID)"
for h in Path Service-Route; do
	se_eq "INVITE at partner: $h mapped" "<sip:edge.test:5061;lr;transport=tls>" \
		"$(se_inspect "$PREC" "${sel[@]}" --values $h)"
done
se_eq "INVITE at partner: Warning agent is edge.test" '399 edge.test "node warning"' \
	"$(se_inspect "$PREC" "${sel[@]}" --header Warning)"
se_eq "INVITE at partner: ms-diagnostics source=edge.test" \
	'23003;reason="x";source="edge.test"' "$(se_inspect "$PREC" "${sel[@]}" --header ms-diagnostics)"
se_eq "INVITE at partner: ms-diagnostics-public source=edge.test" \
	'23003;reason="y";source=edge.test' \
	"$(se_inspect "$PREC" "${sel[@]}" --header ms-diagnostics-public)"
gone=
for h in Call-Info Alert-Info History-Info Diversion Server User-Agent P-Charging-Vector \
	Organization Subject; do
	[ "$(se_inspect "$PREC" "${sel[@]}" --count-header $h)" = 0 ] || gone="$gone $h"
done
se_eq "INVITE at partner: headers that could not be mapped were removed" "" "$gone"
body=$(se_inspect "$PREC" "${sel[@]}" --body)
se_match_all "INVITE at partner: SDP c= and o= carry the public address" "$body" \
	'^o=imp1 1 1 IN IP4 192\.0\.2\.10$' '^c=IN IP4 192\.0\.2\.10$' '^m=message 2855 TCP/TLS/MSRP \*$'
se_eq "INVITE at partner: From and To as the node wrote them" \
	"<sip:alice@example.test>|<sip:bob@partner.test>" \
	"$(se_inspect "$PREC" "${sel[@]}" --header From | sed 's/;tag=.*//')|$(se_inspect "$PREC" "${sel[@]}" --header To)"
rsel=(--call-id "$orig" --status 200 --cseq-method INVITE --index -1)
se_has "200 INVITE at the node: the node's own Call-ID" "$NOUT" "${rsel[@]}"

# ------------------------------------------------ the dialog, both ways
in_ruri=$(uri "$(se_inspect "$PREC" "${sel[@]}" --values Contact | head -n 1)")
in_route=$(joined "$PREC" "${sel[@]}" --values Record-Route)
in_from=$(se_inspect "$NOUT" "${rsel[@]}" --header To)      # the partner's side, tagged
in_to=$(se_inspect "$PREC" "${sel[@]}" --header From)
# partner_message DESC CSEQ : the partner's in-dialog MESSAGE, masked Call-ID
partner_message() {
	se_send "$1: 200" "${PARTNER[@]}" "$SCEN/pat-in-dialog.sip" --var METHOD=MESSAGE \
		--var CALLID="$masked" --var CSEQ="$2" --var RURI="$in_ruri" --var ROUTE="$in_route" \
		--var FROM="$in_from" --var TO="$in_to" --expect 200 --timeout 5
	local i=30
	while [ $i -gt 0 ] && [ "$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$orig")" -lt "$3" ]; do
		sleep 0.1; i=$((i - 1))
	done
	se_eq "$1: reached the node with the original Call-ID $orig" "$3" \
		"$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$orig")"
	se_eq "$1: at the node, CSeq $2" "$2 MESSAGE" \
		"$(se_inspect "$RUN/node.msg" --received --method MESSAGE --call-id "$orig" --index -1 --header CSeq)"
	se_has "$1: the 200 at the partner has the masked Call-ID" "$POUT" \
		--call-id "$masked" --status 200 --cseq-method MESSAGE
}
partner_message "the partner's in-dialog MESSAGE" 2 1

# the node's in-dialog MESSAGE: the same mask
se_send "the node's in-dialog MESSAGE gets 200" "${NODEARGS[@]}" "$SCEN/pat-in-dialog.sip" \
	--var METHOD=MESSAGE --var CALLID="$orig" --var CSEQ=2 \
	--var RURI="$(uri "$(se_inspect "$NOUT" "${rsel[@]}" --values Contact | head -n 1)")" \
	--var ROUTE="$(reversed "$NOUT" "${rsel[@]}" --values Record-Route)" \
	--var FROM="$in_to" --var TO="$in_from" --expect 200 --timeout 5
se_eq "the node's MESSAGE at the partner: the same masked Call-ID" 1 \
	"$(se_count "$PREC" --method MESSAGE --call-id "$masked")"
se_has "the 200 at the node: the original Call-ID" "$NOUT" \
	--call-id "$orig" --status 200 --cseq-method MESSAGE

# a mask that does not authenticate is left as it is
forged="semask-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
se_send "a MESSAGE with a forged mask gets 200" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID="$forged" --expect 200 --timeout 5
se_eq "the forged mask reached the node unchanged" 1 \
	"$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$forged")"

# ------------------------------------------------ restart: the same secret
cp "$RUN/sipedge.log" "$RUN/sipedge.1.log"
se_stop_daemon
se_start_daemon
SE_LOG_MARK=0
partner_message "after a restart, the partner's in-dialog MESSAGE" 3 2

# ------------------------------------------------ reload: the secret file
se_write_conf edge="$(edge_group missing-secret)" internal="$internal" federation="$federation"
se_log_mark
kill -HUP "$DAEMON_PID"
se_wait_log "reload naming a missing secret_file fails" 'event=reload' 'result=failed' 'missing-secret'
partner_message "after the failed reload, the old key still restores" 4 3
head -c 32 /dev/urandom >"$RUN/secret2"
chmod 644 "$RUN/secret2"
se_write_conf edge="$(edge_group secret2)" internal="$internal" federation="$federation"
se_log_mark
kill -HUP "$DAEMON_PID"
se_wait_log "reload with a new secret_file" 'event=reload' 'result=ok'
se_send "with another key, the old mask is foreign: 200 all the same" "${PARTNER[@]}" \
	"$SCEN/pat-in-dialog.sip" --var METHOD=MESSAGE --var CALLID="$masked" --var CSEQ=5 \
	--var RURI="$in_ruri" --var ROUTE="$in_route" --var FROM="$in_from" --var TO="$in_to" \
	--expect 200 --timeout 5
i=30
while [ $i -gt 0 ] && [ "$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$masked")" = 0 ]; do
	sleep 0.1; i=$((i - 1))
done
se_eq "with another key, the old mask reaches the node unchanged" 1 \
	"$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$masked")"

# ------------------------------------------------ the whole external side
read -r total nbad first <<<"$(leaks "$NOUT")"
se_match "control: the scan finds the node's address in what the node received" \
	'^[1-9]' "${nbad:-0} ($first)"
scan "every request the partner received" "$PREC"
scan "every response the partner received" "$POUT"
se_daemon_alive
se_stop_daemon
se_done
