#!/bin/bash
# Rotation of the edge secret (edge.secret_previous_file/_seconds).
#   imp1 $NET.11 (node, TCP 5062), the partner $NET.21 (TLS), 2 workers.
# The node's INVITE leaves with its Call-ID masked under key A. Reload with
# secret_file = B, secret_previous_file = A: the partner's in-dialog
# MESSAGE with the A mask still reaches the node with the original
# Call-ID (also from workers the supervisor restarted after the reload),
# and a new dialog is masked under B. A reload naming A again (a new file
# name: a new window) with secret_previous_seconds = 1: once the window
# is over, the A mask is no longer restored: it is foreign and reaches the
# node unchanged (as a forged mask does), while the B mask still is.
# Also: sipedge -t checks secret_previous_file like secret_file.
. "$(dirname "$0")/lib.sh"
se_init 48
se_need sipp
se_pki
se_start_dns

for k in A B; do head -c 32 /dev/urandom >"$RUN/secret$k"; chmod 644 "$RUN/secret$k"; done
cp "$RUN/secretA" "$RUN/secretA2"
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
# edge_group SECRET [PREVIOUS [SECONDS]]
edge_group() {
	printf '{ fqdn = "edge.test"; public_address = "192.0.2.10"; workers = 2; secret_file = "%s";' "$1"
	[ -n "${2:-}" ] && printf ' secret_previous_file = "%s";' "$2"
	[ -n "${3:-}" ] && printf ' secret_previous_seconds = %s;' "$3"
	printf ' }'
}
conf() { se_write_conf edge="$(edge_group "$@")" internal="$internal" federation="$federation"; }

# ------------------------------------------------ sipedge -t
check() { OUT=$(timeout 10 "$SIPEDGE" -t -c "$RUN/edge.conf" 2>&1); RC=$?; }
conf secretB secretA 3600
check
se_eq "sipedge -t with secret_file and secret_previous_file: exit 0" 0 "$RC"
conf secretB missing-secret
check
se_match "sipedge -t: a missing secret_previous_file: exit 1, FILE:LINE and why" \
	"^1 .*edge\\.conf:1: secret_previous_file: cannot open '.*/missing-secret': No such file" \
	"$RC $(echo $OUT)"
printf 'too short' >"$RUN/short-secret"
conf secretB short-secret
check
se_match "sipedge -t: a short secret_previous_file: exit 1, says how long it must be" \
	"^1 .*secret_previous_file: '.*/short-secret' has 9 bytes, at least 32" "$RC $(echo $OUT)"
conf secretB secretA 604801
check
se_match "sipedge -t: secret_previous_seconds over a week: exit 1" \
	"^1 .*secret_previous_seconds" "$RC $(echo $OUT)"
conf secretB missing-secret
OUT=$(cd "$RUN" && timeout 10 "$SIPEDGE" -f -c "$RUN/edge.conf" 2>&1); RC=$?
se_match "the daemon does not start on a missing secret_previous_file: exit 1" \
	"^1 .*secret_previous_file: cannot open" "$RC $(echo $OUT)"

# ------------------------------------------------ peers and the edge, key A
conf secretA
se_serve partner "$NET.21:5061" --tls --cert "$PKI/partner.crt" --key "$PKI/partner.key" \
	--ca "$PKI/ca.crt" --contact "sip:peer@sip.partner.test:5061;transport=tls" --timeout 600
se_node_uas node-uas.xml "$NET.11" node -deadcall_wait 0
se_start_daemon

PREC=$RUN/partner.rec
POUT=$RUN/peer.out
NOUT=$RUN/imp1-uac.out
NODEARGS=(--connect "$NET.2:5060" --bind "$NET.11" --out "$NOUT")
uri() { printf '%s\n' "$1" | sed -E 's/^[^<]*<([^>]*)>.*$/\1/'; }
joined() { se_inspect "$@" | awk 'NR > 1 { printf ", " } { printf "%s", $0 }'; }
wait_lines() {
	local n=100
	while [ "$n" -gt 0 ] && [ "$(se_log_lines "$1" | wc -l)" -lt "$2" ]; do
		sleep 0.1; n=$((n - 1))
	done
	se_log_lines "$1" | wc -l
}
reload() {
	se_log_mark
	kill -HUP "$DAEMON_PID"
	se_eq "$1: both workers reload (result=ok)" 2 "$(wait_lines 'event=reload.*result=ok' 2)"
}

# dialog ORIG : the node's INVITE with Call-ID ORIG; sets masked, the
# partner's request line, route, From and To for its in-dialog requests
dialog() {
	local orig=$1 n
	se_send "the node's INVITE ($orig) gets 200" "${NODEARGS[@]}" \
		"$SCEN/topo-node-invite.sip" --var NODE="$NET.11" --var EDGE_INT="$NET.2" \
		--var CALLID="$orig" --expect 200 --timeout 5
	n=$(se_count "$PREC" --method INVITE)
	local sel=(--method INVITE --index $((n - 1)))
	masked=$(se_inspect "$PREC" "${sel[@]}" --header Call-ID)
	in_ruri=$(uri "$(se_inspect "$PREC" "${sel[@]}" --values Contact | head -n 1)")
	in_route=$(joined "$PREC" "${sel[@]}" --values Record-Route)
	in_from=$(se_inspect "$NOUT" --call-id "$orig" --status 200 --cseq-method INVITE \
		--index -1 --header To)
	in_to=$(se_inspect "$PREC" "${sel[@]}" --header From)
}
# at_node CALLID : MESSAGEs with this Call-ID the node received
at_node() { se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$1"; }
# partner_message DESC MASKED CSEQ EXPECT-CALLID : the partner's in-dialog
# MESSAGE with MASKED; the node must get one more with EXPECT-CALLID
partner_message() {
	local before i=50
	before=$(at_node "$4")
	se_send "$1: 200" "${PARTNER[@]}" "$SCEN/pat-in-dialog.sip" --var METHOD=MESSAGE \
		--var CALLID="$2" --var CSEQ="$3" --var RURI="$in_ruri" --var ROUTE="$in_route" \
		--var FROM="$in_from" --var TO="$in_to" --expect 200 --timeout 5
	while [ $i -gt 0 ] && [ "$(at_node "$4")" -le "$before" ]; do
		sleep 0.1; i=$((i - 1))
	done
	se_eq "$1: reached the node with Call-ID $4" $((before + 1)) "$(at_node "$4")"
}

origA="rotA-$$@$NET.11"
dialog "$origA"
maskedA=$masked
se_match "key A: the Call-ID leaves masked" '^semask-[A-Za-z0-9_-]{20,}$' "$maskedA"
ruriA=$in_ruri routeA=$in_route fromA=$in_from toA=$in_to
partner_message "key A: the partner's in-dialog MESSAGE" "$maskedA" 2 "$origA"

# ------------------------------------------------ rotation: B, previous A
conf secretB secretA 3600
reload "secret_file = B, secret_previous_file = A"
partner_message "B with previous A: the A mask is still restored" "$maskedA" 3 "$origA"
origB="rotB-$$@$NET.11"
dialog "$origB"
maskedB=$masked
ruriB=$in_ruri routeB=$in_route fromB=$in_from toB=$in_to
se_match "a new dialog: masked" '^semask-[A-Za-z0-9_-]{20,}$' "$maskedB"
partner_message "the new dialog's in-dialog MESSAGE" "$maskedB" 2 "$origB"
# The same Call-ID masked under B is not the A mask (the mask is
# deterministic per key): a second INVITE with the dialog's Call-ID.
se_send "the node's INVITE with Call-ID $origA again gets 200" "${NODEARGS[@]}" \
	"$SCEN/topo-node-invite.sip" --var NODE="$NET.11" --var EDGE_INT="$NET.2" \
	--var CALLID="$origA" --expect 200 --timeout 5
n=$(se_count "$PREC" --method INVITE)
remasked=$(se_inspect "$PREC" --method INVITE --index $((n - 1)) --header Call-ID)
se_match "new messages are masked with B: $origA no longer leaves as the A mask" \
	'^semask-' "$remasked"
[ "$remasked" != "$maskedA" ] && ok "the B mask of $origA differs from its A mask" ||
	not_ok "the B mask of $origA differs from its A mask ($remasked)"

# workers restarted by the supervisor after the reload get the pair
for w in $(ps -o pid= --ppid "$DAEMON_PID"); do
	se_log_mark
	kill -KILL "$w"
	se_wait_log "worker $w killed: restarted" 'event=worker_restarted '
done
in_ruri=$ruriA in_route=$routeA in_from=$fromA in_to=$toA
partner_message "restarted workers: the A mask is still restored" "$maskedA" 4 "$origA"
partner_message "restarted workers: a second MESSAGE (the other worker, maybe)" "$maskedA" 5 "$origA"

# ------------------------------------------------ the window closes
conf secretB secretA2 1
reload "secret_previous_file = A (another name: loaded again), seconds = 1"
se_wait_log "after 1 s the previous key is no longer accepted" \
	'secret_previous_file: the previous key is no longer accepted'
sleep 1
partner_message "window over: the A mask is not restored, it reaches the node unchanged" \
	"$maskedA" 6 "$maskedA"
se_eq "window over: the node got no more MESSAGE with $origA" 4 "$(at_node "$origA")"
in_ruri=$ruriB in_route=$routeB in_from=$fromB in_to=$toB
partner_message "window over: the B mask is still restored" "$maskedB" 3 "$origB"

se_daemon_alive
se_stop_daemon
se_done
