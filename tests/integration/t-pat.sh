#!/bin/bash
# PAT-style port map (SPEC section 3): three nodes behind edge.test, each
# with its own public ports.
#   imp1 $NET.11  5062 -> 5061   5080 -> 5080    routing, priority 1
#   imp2 $NET.12  5062 -> 45062  5080 -> 45080   routing, priority 2
#   imp3 $NET.13  5062 -> 55062  5080 -> 55080   not routing
# Outward, every node address:port in Via, Contact, Record-Route, Route,
# Request-URI, P-Asserted-Identity and Referred-By becomes
# edge.test:public;transport=tls and internal Vias are hidden; inward, a
# request on public port P or for edge.test:P goes to the node owning P with
# the URI restored. No dialog state: dialogs survive an edge restart.
# The peer (sippeer serve, mutual TLS) plays sip.partner.test; each node is
# a sipp UAS on NODE:5062 (trace imp<N>.msg); requests a node originates are
# sent by sippeer over TCP from the node's address (responses in imp<N>-uac.out).
. "$(dirname "$0")/lib.sh"
se_init 15
se_need sipp
se_pki
se_start_dns

NODES=$(se_seed_nodes)
se_write_conf internal="$NODES"
se_serve partner "$NET.21:5061" --tls --cert "$PKI/partner.crt" --key "$PKI/partner.key" \
	--ca "$PKI/ca.crt" --contact "sip:peer@sip.partner.test:5061;transport=tls" --timeout 600
# -deadcall_wait 0: a request for a Call-ID whose sipp call ended (a second
# NOTIFY; a BYE after the edge restart closed the connection, which ends
# sipp's call) starts a new call and is answered, instead of being dropped.
for i in 1 2 3; do se_node_uas node-uas.xml "$NET.1$i" "imp$i" -deadcall_wait 0; done
LISTEN=("$NET.1:5061" "$NET.2:5060" "$NET.1:5080" "$NET.1:45062" "$NET.1:45080"
	"$NET.1:55062" "$NET.1:55080")
se_start_daemon "${LISTEN[@]}"

PREC=$RUN/partner.rec                    # requests the peer received
POUT=$RUN/peer.out                       # responses the peer received
# Internal addresses ($NET.2 listener, .11-.13 nodes) and ports (5060
# listener, 5062/5080 nodes): none may reach the external side.
LEAK="$NETRE\\.(2|11|12|13)([^0-9]|\$)|:(5060|5062|5080)([^0-9]|\$)"
# node N: sippeer send args for a request node N originates
node_args() {
	NODEARGS=(--connect "$NET.2:5060" --bind "$NET.1$1" --out "$RUN/imp$1-uac.out")
}
# at_public P : sippeer send args for the peer, to the edge's port P
at_public() { PUB=("${PARTNER[@]}" --connect "$NET.1:$1"); }
# uri NAME-ADDR : the URI inside <...>
uri() { printf '%s\n' "$1" | sed -E 's/^[^<]*<([^>]*)>.*$/\1/'; }
# joined FILE SEL... : the values of a header (last argument), joined by ", "
joined() { se_inspect "$@" | awk 'NR > 1 { printf ", " } { printf "%s", $0 }'; }
# reversed FILE SEL... : the same, in reverse order
reversed() { se_inspect "$@" | tac | awk 'NR > 1 { printf ", " } { printf "%s", $0 }'; }
# got NODE CALLID METHOD : how many METHOD requests node imp<NODE> received
got() { se_count "$RUN/imp$1.msg" --received --method "$3" --call-id "$2"; }
# only_at N CALLID METHOD DESC : imp<N> received it once, the other nodes never
only_at() {
	local n=$1 id=$2 m=$3 others=0 i
	for i in 1 2 3; do [ "$i" = "$n" ] || others=$((others + $(got $i "$id" "$m"))); done
	se_eq "$4: $m reached imp$n (once) and no other node" "1 0" "$(got "$n" "$id" "$m") $others"
}
# wait_at N CALLID METHOD : bounded wait (3 s) until imp<N> logged the request
wait_at() {
	local n=30
	while [ $n -gt 0 ] && [ "$(got "$1" "$2" "$3")" = 0 ]; do sleep 0.1; n=$((n - 1)); done
}
# clean DESC TEXT : no internal address or port in TEXT
clean() { se_nomatch "$1: no internal address or port" "$LEAK" "$2"; }
# all_raw FILE SEL... : every matching message, raw
all_raw() {
	local f=$1 n i; shift
	n=$(se_count "$f" "$@")
	for ((i = 0; i < n; i++)); do se_inspect "$f" "$@" --index $i --raw; done
}
# edge_ports TEXT : the distinct edge.test:PORT in TEXT
edge_ports() { printf '%s\n' "$1" | grep -Eo 'edge\.test:[0-9]+' | sort -u | tr '\n' ' '; }

# ------------------------------------------------ new requests: arrival port
for c in "5061 1 main-listener" "45062 2 imp2-port" "55062 3 imp3-port" "45080 2 imp2-2nd-port"; do
	set -- $c
	id=pat-new-$3-$$
	at_public "$1"
	se_send "MESSAGE to bob@example.test on port $1 gets 200" "${PUB[@]}" \
		"$SCEN/message.sip" --var CALLID=$id --expect 200 --timeout 5
	only_at "$2" $id MESSAGE "new request on port $1"
	se_assert_response "$POUT" $id MESSAGE 200
done
# a Request-URI the edge handed out names the node, whatever the listener
id=pat-ruri-$$
se_send "MESSAGE to sip:bob@edge.test:55080 on the main listener gets 200" "${PARTNER[@]}" \
	"$SCEN/message.sip" --var CALLID=$id --var RURI=sip:bob@edge.test:55080 --expect 200 --timeout 5
only_at 3 $id MESSAGE "Request-URI edge.test:55080"
se_match "MESSAGE at imp3: Request-URI restored to $NET.13:5080;transport=tcp" \
	"^MESSAGE sip:bob@$NETRE\\.13:5080;transport=tcp SIP/2\\.0\$" \
	"$(se_inspect "$RUN/imp3.msg" --received --call-id $id --method MESSAGE --start-line)"
id=pat-403-$$
se_send "MESSAGE to sip:bob@edge.test:9999 (no such public port) gets 403" "${PARTNER[@]}" \
	"$SCEN/message.sip" --var CALLID=$id --var RURI=sip:bob@edge.test:9999 --expect 403
se_assert_response "$POUT" $id MESSAGE 403
clean "403" "$(se_inspect "$POUT" --call-id $id --status 403 --raw)"

# ------------------------------------------------ internal Vias: hidden, restored
id=pat-vias-$$ br=z9hG4bKpatvia$$
via2="SIP/2.0/TCP $NET.12:5080;branch=z9hG4bKpatinner$$;received=$NET.12"
node_args 2
se_send_any "imp2's SUBSCRIBE with 2 Vias is answered" "STATUS 200|STRAY 200" \
	"${NODEARGS[@]}" "$SCEN/pat-node-subscribe.sip" --var NODE=$NET.12 --var CALLID=$id \
	--var BRANCH=$br --var VIA2=", $via2" --timeout 5
se_eq "SUBSCRIBE at peer: only the edge's Via" 1 \
	"$(se_inspect "$PREC" --method SUBSCRIBE --call-id $id --count-header Via)"
se_eq "200 SUBSCRIBE at imp2: both internal Vias restored, in order" \
	"SIP/2.0/TCP $NET.12:5062;branch=$br|$via2" \
	"$(se_inspect "$RUN/imp2-uac.out" --call-id $id --status 200 --values Via | paste -sd'|')"

# ------------------------------------------------ SUBSCRIBE from imp2, NOTIFY back
id=pat-sub-$$ br=z9hG4bKpatsub$$
se_send "imp2's SUBSCRIBE to bob@partner.test gets 200" "${NODEARGS[@]}" \
	"$SCEN/pat-node-subscribe.sip" --var NODE=$NET.12 --var CALLID=$id --var BRANCH=$br \
	--var TAG=s$$ --expect 200 --timeout 5
sel=(--method SUBSCRIBE --call-id $id)
se_has "the peer received the SUBSCRIBE" "$PREC" "${sel[@]}"
raw=$(se_inspect "$PREC" "${sel[@]}" --raw)
se_eq "SUBSCRIBE at peer: exactly 1 Via" 1 "$(se_inspect "$PREC" "${sel[@]}" --count-header Via)"
se_match "SUBSCRIBE at peer: the Via is SIP/2.0/TLS edge.test:45062" \
	'^SIP/2\.0/TLS edge\.test:45062;branch=z9hG4bK[^;]*$' "$(se_inspect "$PREC" "${sel[@]}" --values Via)"
se_eq "SUBSCRIBE at peer: Request-URI untouched" "SUBSCRIBE sip:bob@partner.test SIP/2.0" \
	"$(se_inspect "$PREC" "${sel[@]}" --start-line)"
ct=$(se_inspect "$PREC" "${sel[@]}" --values Contact)
se_match_all "SUBSCRIBE at peer: Contact is alice@edge.test:45062, ob kept, transport=tls, expires kept" \
	"$ct" '^<sip:alice@edge\.test:45062;' ';ob[;>]' ';transport=tls>' '>;expires=600$'
se_nomatch "SUBSCRIBE at peer: Contact has no transport=tcp" 'transport=tcp' "$ct"
se_eq "SUBSCRIBE at peer: Record-Route is the edge's, ext then int, port 45062" \
	"<sip:edge.test:45062;transport=tls;lr;sipedge=ext>|<sip:edge.test:45062;transport=tls;lr;sipedge=int>" \
	"$(se_inspect "$PREC" "${sel[@]}" --values Record-Route | paste -sd'|')"
se_eq "SUBSCRIBE at peer: P-Asserted-Identity mapped" "<sip:alice@edge.test:45062;transport=tls>" \
	"$(se_inspect "$PREC" "${sel[@]}" --values P-Asserted-Identity)"
se_eq "SUBSCRIBE at peer: Referred-By mapped" "<sip:carol@edge.test:45062;transport=tls>" \
	"$(se_inspect "$PREC" "${sel[@]}" --header Referred-By)"
se_eq "SUBSCRIBE at peer: the only edge address is edge.test:45062" "edge.test:45062 " \
	"$(edge_ports "$raw")"
clean "SUBSCRIBE at peer" "$raw"
rsel=(--call-id $id --status 200 --cseq-method SUBSCRIBE)
se_eq "200 SUBSCRIBE at imp2: its own Via restored" "SIP/2.0/TCP $NET.12:5062;branch=$br" \
	"$(se_inspect "$RUN/imp2-uac.out" "${rsel[@]}" --values Via)"

# The peer's NOTIFY, built from the SUBSCRIBE it received (RFC 3261 12.1.1:
# Request-URI = Contact, Route = Record-Route in order), over new connections.
sub_ruri=$(uri "$ct")
sub_route=$(joined "$PREC" "${sel[@]}" --values Record-Route)
sub_to=$(se_inspect "$RUN/imp2-uac.out" "${rsel[@]}" --header To)     # the peer's tag
sub_from=$(se_inspect "$PREC" "${sel[@]}" --header From)
# notify DESC PORT CSEQ : the peer's NOTIFY via edge port PORT reaches imp2
notify() {
	local nsel=(--received --method NOTIFY --call-id $id) line
	at_public "$2"
	se_send "$1: 200" "${PUB[@]}" "$SCEN/pat-notify.sip" --var CALLID=$id \
		--var RURI="$sub_ruri" --var ROUTE="$sub_route" --var FROM="$sub_to" \
		--var TO="$sub_from" --var CSEQ=$3 --expect 200 --timeout 5
	wait_at 2 $id NOTIFY
	line=$(se_inspect "$RUN/imp2.msg" "${nsel[@]}" --index -1 --start-line)
	se_match "$1: reached imp2 with Request-URI alice@$NET.12:5062;...;transport=tcp" \
		"^NOTIFY sip:alice@$NETRE\\.12:5062;([^ ]*;)?transport=tcp SIP/2\\.0\$" "$line"
	se_nomatch "$1: Request-URI at imp2 has no transport=tls" 'transport=tls' "$line"
	se_eq "$1: at imp2, CSeq $3" "$3 NOTIFY" \
		"$(se_inspect "$RUN/imp2.msg" "${nsel[@]}" --index -1 --header CSeq)"
	se_assert_response "$POUT" $id NOTIFY 200 $3
	clean "$1: 200 at peer" "$(se_inspect "$POUT" --call-id $id --cseq-method NOTIFY --status 200 --index -1 --raw)"
}
notify "NOTIFY over a new TLS connection to port 45062" 45062 1
notify "NOTIFY over a new TLS connection to port 5061" 5061 2
se_eq "imp1 and imp3 got no NOTIFY" "0 0" "$(got 1 $id NOTIFY) $(got 3 $id NOTIFY)"

# ------------------------------------------------ INVITE dialogs with imp3
# imp3 calls the peer; imp3 sends ACK and BYE
id=pat-inv-out-$$
node_args 3
se_send "imp3 INVITE/ACK/BYE to bob@partner.test: 200 to INVITE and BYE" "${NODEARGS[@]}" \
	"$SCEN/pat-node-invite.sip" --var NODE=$NET.13 --var CALLID=$id --dialog --expect 200 --timeout 5
se_match "imp3 saw 200 INVITE, 200 BYE" "STATUS 200 INVITE.*STATUS 200 BYE" "${SEND_OUT//$'\n'/ }"
sel=(--method INVITE --call-id $id)
se_has "the peer received the INVITE" "$PREC" "${sel[@]}"
se_match "INVITE at peer: the Via is SIP/2.0/TLS edge.test:55062" \
	'^SIP/2\.0/TLS edge\.test:55062;branch=z9hG4bK[^;]*$' "$(se_inspect "$PREC" "${sel[@]}" --values Via)"
se_eq "INVITE at peer: Contact mapped" "<sip:alice@edge.test:55062;transport=tls>" \
	"$(se_inspect "$PREC" "${sel[@]}" --values Contact)"
se_eq "INVITE at peer: Record-Route is the edge's with port 55062" \
	"<sip:edge.test:55062;transport=tls;lr;sipedge=ext>|<sip:edge.test:55062;transport=tls;lr;sipedge=int>" \
	"$(se_inspect "$PREC" "${sel[@]}" --values Record-Route | paste -sd'|')"
n=30
while [ $n -gt 0 ] && [ "$(se_count "$PREC" --method BYE --call-id $id)" = 0 ]; do sleep 0.1; n=$((n - 1)); done
for m in ACK BYE; do
	se_eq "$m from imp3 reached the peer once" 1 "$(se_count "$PREC" --method $m --call-id $id)"
	se_match "$m at peer: Request-URI is the peer's Contact, the Via edge.test:55062" \
		"^$m sip:peer@sip\\.partner\\.test:5061;transport=tls SIP/2\\.0 SIP/2\\.0/TLS edge\\.test:55062;" \
		"$(se_inspect "$PREC" --method $m --call-id $id --start-line --values Via | paste -sd' ')"
done
clean "INVITE, ACK, BYE at peer" "$(all_raw "$PREC" --call-id $id)"

# the peer calls bob@example.test on imp3's public port; the peer sends ACK and BYE
id=pat-inv-in-$$
at_public 55062
se_send "peer INVITE/ACK/BYE on port 55062: 200 to INVITE and BYE" "${PUB[@]}" \
	"$SCEN/invite.sip" --var CALLID=$id --dialog --expect 200 --timeout 5
only_at 3 $id INVITE "INVITE on port 55062"
sel=(--call-id $id --cseq-method INVITE --status 200)
se_eq "200 INVITE at peer: Contact is node@edge.test:55062" "<sip:node@edge.test:55062;transport=tls>" \
	"$(se_inspect "$POUT" "${sel[@]}" --values Contact)"
se_eq "200 INVITE at peer: Record-Route is the edge's with port 55062" \
	"<sip:edge.test:55062;transport=tls;lr;sipedge=int>|<sip:edge.test:55062;transport=tls;lr;sipedge=ext>" \
	"$(se_inspect "$POUT" "${sel[@]}" --values Record-Route | paste -sd'|')"
se_assert_response "$POUT" $id INVITE 200
se_assert_response "$POUT" $id BYE 200 2
clean "every response at peer (100, 180, 200 INVITE, 200 BYE)" "$(all_raw "$POUT" --call-id $id)"
wait_at 3 $id BYE
for m in ACK BYE; do
	only_at 3 $id $m "in-dialog $m"
	se_match "$m at imp3: Request-URI is node@$NET.13:5062;transport=tcp" \
		"^$m sip:node@$NETRE\\.13:5062;transport=tcp SIP/2\\.0\$" \
		"$(se_inspect "$RUN/imp3.msg" --received --method $m --call-id $id --start-line)"
done

# ------------------------------------------------ restart between 200 and BYE
# R1: the peer calls imp2 on port 45062 and stops after the 200 (no ACK yet)
r1=pat-r1-$$
at_public 45062
se_send "R1: peer INVITE on port 45062 gets 200" "${PUB[@]}" "$SCEN/invite.sip" \
	--var CALLID=$r1 --expect 200 --timeout 5
only_at 2 $r1 INVITE "R1"
r1sel=(--call-id $r1 --cseq-method INVITE --status 200 --index -1)
r1_ruri=$(uri "$(se_inspect "$POUT" "${r1sel[@]}" --values Contact | head -n 1)")
r1_route=$(reversed "$POUT" "${r1sel[@]}" --values Record-Route)
r1_from=$(se_inspect "$POUT" "${r1sel[@]}" --header From)
r1_to=$(se_inspect "$POUT" "${r1sel[@]}" --header To)
se_eq "R1: the node's Contact as the peer got it" "sip:node@edge.test:45062;transport=tls" "$r1_ruri"

# R2: imp3 calls the peer, ACKs the 200 (the peer will send the BYE)
r2=pat-r2-$$
node_args 3
se_send "R2: imp3 INVITE to bob@partner.test gets 200" "${NODEARGS[@]}" \
	"$SCEN/pat-node-invite.sip" --var NODE=$NET.13 --var CALLID=$r2 --expect 200 --timeout 5
r2sel=(--call-id $r2 --cseq-method INVITE --status 200 --index -1)
se_send "R2: imp3's ACK (Route from the 200)" "${NODEARGS[@]}" "$SCEN/pat-in-dialog.sip" \
	--var METHOD=ACK --var CALLID=$r2 --var CSEQ=1 \
	--var RURI="$(uri "$(se_inspect "$RUN/imp3-uac.out" "${r2sel[@]}" --values Contact | head -n 1)")" \
	--var ROUTE="$(reversed "$RUN/imp3-uac.out" "${r2sel[@]}" --values Record-Route)" \
	--var FROM="$(se_inspect "$RUN/imp3-uac.out" "${r2sel[@]}" --header From)" \
	--var TO="$(se_inspect "$RUN/imp3-uac.out" "${r2sel[@]}" --header To)"
n=30
while [ $n -gt 0 ] && [ "$(se_count "$PREC" --method ACK --call-id $r2)" = 0 ]; do sleep 0.1; n=$((n - 1)); done
se_eq "R2: the ACK reached the peer" 1 "$(se_count "$PREC" --method ACK --call-id $r2)"
r2sel=(--method INVITE --call-id $r2)
r2_ruri=$(uri "$(se_inspect "$PREC" "${r2sel[@]}" --values Contact | head -n 1)")
r2_route=$(joined "$PREC" "${r2sel[@]}" --values Record-Route)
r2_from=$(se_inspect "$RUN/imp3-uac.out" --call-id $r2 --status 200 --header To)
r2_to=$(se_inspect "$PREC" "${r2sel[@]}" --header From)

# R3: imp2 subscribes to the peer
r3=pat-r3-$$
node_args 2
se_send "R3: imp2's SUBSCRIBE gets 200" "${NODEARGS[@]}" "$SCEN/pat-node-subscribe.sip" \
	--var NODE=$NET.12 --var CALLID=$r3 --expect 200 --timeout 5
r3sel=(--method SUBSCRIBE --call-id $r3)
r3_ruri=$(uri "$(se_inspect "$PREC" "${r3sel[@]}" --values Contact | head -n 1)")
r3_route=$(joined "$PREC" "${r3sel[@]}" --values Record-Route)
r3_from=$(se_inspect "$RUN/imp2-uac.out" --call-id $r3 --status 200 --header To)
r3_to=$(se_inspect "$PREC" "${r3sel[@]}" --header From)

cp "$RUN/sipedge.log" "$RUN/sipedge.1.log"
se_stop_daemon
se_start_daemon "${LISTEN[@]}"
SE_LOG_MARK=0

# R1 after the restart: ACK and BYE over a new connection to the MAIN
# listener (where a new request would go to imp1): they belong to imp2
se_send "R1 after restart: the peer's ACK via port 5061" "${PARTNER[@]}" \
	"$SCEN/pat-in-dialog.sip" --var METHOD=ACK --var CALLID=$r1 --var CSEQ=1 \
	--var RURI="$r1_ruri" --var ROUTE="$r1_route" --var FROM="$r1_from" --var TO="$r1_to"
se_send "R1 after restart: the peer's BYE via port 5061 gets 200" "${PARTNER[@]}" \
	"$SCEN/pat-in-dialog.sip" --var METHOD=BYE --var CALLID=$r1 --var CSEQ=2 \
	--var RURI="$r1_ruri" --var ROUTE="$r1_route" --var FROM="$r1_from" --var TO="$r1_to" \
	--expect 200 --timeout 5
wait_at 2 $r1 BYE
for m in ACK BYE; do
	only_at 2 $r1 $m "R1 after restart"
	se_match "R1 after restart: $m at imp2 has Request-URI node@$NET.12:5062;transport=tcp" \
		"^$m sip:node@$NETRE\\.12:5062;transport=tcp SIP/2\\.0\$" \
		"$(se_inspect "$RUN/imp2.msg" --received --method $m --call-id $r1 --start-line)"
done
se_assert_response "$POUT" $r1 BYE 200 2

# R2 after the restart: the peer (callee) hangs up: Request-URI = the
# INVITE's Contact, Route = its Record-Route in order; via port 5061
se_send "R2 after restart: the peer's BYE via port 5061 gets 200" "${PARTNER[@]}" \
	"$SCEN/pat-in-dialog.sip" --var METHOD=BYE --var CALLID=$r2 --var CSEQ=7 \
	--var RURI="$r2_ruri" --var ROUTE="$r2_route" --var FROM="$r2_from" --var TO="$r2_to" \
	--expect 200 --timeout 5
wait_at 3 $r2 BYE
only_at 3 $r2 BYE "R2 after restart"
se_match "R2 after restart: BYE at imp3 has Request-URI alice@$NET.13:5062;transport=tcp" \
	"^BYE sip:alice@$NETRE\\.13:5062;transport=tcp SIP/2\\.0\$" \
	"$(se_inspect "$RUN/imp3.msg" --received --method BYE --call-id $r2 --start-line)"
se_assert_response "$POUT" $r2 BYE 200 7

# R3 after the restart: the peer's NOTIFY via imp2's port
at_public 45062
se_send "R3 after restart: the peer's NOTIFY via port 45062 gets 200" "${PUB[@]}" \
	"$SCEN/pat-notify.sip" --var CALLID=$r3 --var CSEQ=1 \
	--var RURI="$r3_ruri" --var ROUTE="$r3_route" --var FROM="$r3_from" --var TO="$r3_to" \
	--expect 200 --timeout 5
wait_at 2 $r3 NOTIFY
only_at 2 $r3 NOTIFY "R3 after restart"
se_match "R3 after restart: NOTIFY at imp2 has Request-URI alice@$NET.12:5062;...;transport=tcp" \
	"^NOTIFY sip:alice@$NETRE\\.12:5062;([^ ]*;)?transport=tcp SIP/2\\.0\$" \
	"$(se_inspect "$RUN/imp2.msg" --received --method NOTIFY --call-id $r3 --start-line)"
se_assert_response "$POUT" $r3 NOTIFY 200

# ------------------------------------------------ the whole external side
# Every message the peer received, in both files: no internal address/port.
for f in "$PREC" "$POUT"; do
	res=$(python3 - "$f" "$LEAK" <<'PY'
import re, sys
text = open(sys.argv[1], "rb").read().decode("utf-8", "surrogateescape")
leak = re.compile(sys.argv[2])
marks = list(re.finditer(r"^=== sippeer \S+ \S+ from \S* ===$", text, re.M))
bad = []
for i, m in enumerate(marks):
    msg = text[m.end():marks[i + 1].start() if i + 1 < len(marks) else len(text)]
    hits = [l.strip() for l in msg.splitlines() if leak.search(l)]
    if hits:
        bad.append(hits[0])
print(len(marks), len(bad), bad[0] if bad else "")
PY
)
	read -r total nbad first <<<"$res"
	if [ "${total:-0}" -gt 0 ] && [ "$nbad" = 0 ]; then
		ok "all $total messages in $(basename "$f"): no internal address or port"
	else
		not_ok "$(basename "$f"): ${nbad:-?} of ${total:-?} messages name an internal address or port: $first"
	fi
done

se_daemon_alive
se_stop_daemon
se_done
