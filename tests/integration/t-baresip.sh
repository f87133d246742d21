#!/bin/bash
# A SIP user agent nobody here wrote: baresip (Debian baresip-core), run
# headless with a config directory under $RUN, as a federated partner's UA
# alice@partner.test. It speaks TLS to the edge and presents a client
# certificate from the test PKI (sip_certificate: partner.crt, which names
# sip.partner.test), and its account has an outbound proxy naming the edge
# by address and port, so that every request carries
#   Route: <sip:127.0.N.1:5061;transport=tls;lr>
# as a UA with an outbound proxy writes it (issue 13: a Route naming the
# edge by a listener address is the edge itself, consumed). It sends a
# MESSAGE (the contact module's /message command, given with -e) and a
# presence SUBSCRIBE (the presence module, ;presence=p2p in contacts) to
# bob@example.test; the node (sippeer serve) answers 200 and the 200s must
# reach baresip (its SIP trace, -s). Its OPTIONS sip:127.0.N.1 (menu's
# /options with the edge's address: baresip would complete a bare
# "edge.test" into edge.test@partner.test), with the same Route, is the
# edge's to answer, not a node's.
. "$(dirname "$0")/lib.sh"
command -v baresip >/dev/null 2>&1 || se_skip "baresip is not installed (apt-get install baresip-core)"
MODDIR=
for d in /usr/lib/baresip/modules /usr/lib/*/baresip/modules /usr/local/lib/baresip/modules; do
	[ -f "$d/contact.so" ] && [ -f "$d/presence.so" ] && { MODDIR=$d; break; }
done
[ -n "$MODDIR" ] || se_skip "baresip's contact and presence modules are not installed (baresip-core)"
se_init 34
se_pki
se_write_conf
NODEREC=$RUN/node.rec
se_serve node "$NET.11:5062" --respond 200 --timeout 60 --contact "sip:bob@$NET.11:5062;transport=tcp"
se_start_daemon

# baresip's configuration: TLS only, on $NET.31 (TLS port = sip_listen + 1),
# client certificate + key in one PEM, the test CA, no audio, no terminal.
B=$RUN/baresip
mkdir -p "$B"
cat "$PKI/partner.crt" "$PKI/partner.key" >"$B/cert.pem"
cat >"$B/config" <<EOF
poll_method		epoll
sip_listen		$NET.31:5060
sip_certificate		$B/cert.pem
sip_cafile		$PKI/ca.crt
module_path		$MODDIR
module			account.so
module			contact.so
module			presence.so
module			menu.so
EOF
cat >"$B/accounts" <<EOF
<sip:alice@partner.test;transport=tls>;regint=0;outbound="sip:$NET.1:5061;transport=tls";answermode=manual
EOF
cat >"$B/contacts" <<EOF
"Bob" <sip:bob@example.test>;presence=p2p
EOF

# baresip -f DIR -s (SIP trace) -e CMD -t SECONDS: quits by itself
se_bg baresip baresip -4 -f "$B" -s -t 10 -e "/message hello from baresip" \
	-e "/options $NET.1"
BS_PID=$BG_PID
BS=$RUN/baresip.out
# wait (bounded) for the MESSAGE and the SUBSCRIBE to reach the node
n=0
while [ $n -lt 100 ] && ! { grep -aq '^MESSAGE ' "$NODEREC" 2>/dev/null &&
	grep -aq '^SUBSCRIBE ' "$NODEREC" 2>/dev/null; }; do
	sleep 0.1; n=$((n + 1))
done
if grep -aq 'baresip init failed\|network init failed' "$RUN/baresip.out"; then
	sed 's/^/#   /' "$RUN/baresip.out" | head -n 10
	se_skip "baresip cannot start on this machine: $(grep -a 'init failed' "$RUN/baresip.out" | head -n 1)"
fi
sleep 1         # the 200s on their way back to baresip
se_kill "$BS_PID" 5
if grep -aq 'tls_handshake_failed' "$RUN/sipedge.log"; then
	note "TLS handshake with baresip failed: $(grep -a tls_handshake_failed "$RUN/sipedge.log" | head -n 1)"
fi

# bs_final METHOD : the final statuses baresip's SIP trace shows for METHOD
# (trace blocks start with "TLS FROM -> TO"; menu's /options prints its
# response once more, without that line)
bs_final() {
	tr -d '\r' <"$BS" | awk -v m="$1" '/^TLS / { tr = 1; next }
		/^SIP\/2\.0 [0-9]+ / { st = tr ? $2 : ""; tr = 0; next } { tr = 0 }
		/^$/ { st = "" } /^CSeq:/ && $3 == m && st >= 200 { print st; st = "" }' | xargs
}
msg=$(tr -d '\r' <"$NODEREC" 2>/dev/null | awk '/^=== sippeer/ { on = 0 } /^MESSAGE / { on = 1 } on')
sub=$(tr -d '\r' <"$NODEREC" 2>/dev/null | awk '/^=== sippeer/ { on = 0 } /^SUBSCRIBE / { on = 1 } on')
se_match "baresip's MESSAGE reached the node: MESSAGE sip:bob@example.test" \
	'^MESSAGE sip:bob@example\.test SIP/2\.0$' "$(head -n 1 <<<"$msg")"
se_match "MESSAGE at the node: From alice@partner.test (proven by baresip's client certificate)" \
	'^From: .*<sip:alice@partner\.test[;>]' "$(grep -E '^(From|f):' <<<"$msg")"
se_eq "MESSAGE at the node: the Route naming the edge by address:port was consumed" "" \
	"$(grep -Ei '^(Route):' <<<"$msg")"
se_match "MESSAGE at the node: the body" '^hello from baresip$' "$(tail -n 2 <<<"$msg")"
se_match "baresip sent that Route: <sip:$NET.1:5061;transport=tls;lr>" \
	"^Route: <sip:$NETRE\\.1:5061;transport=tls;lr>" "$(tr -d '\r' <"$BS" | grep -a '^Route:' | head -n 1)"
se_eq "baresip got 200 for its MESSAGE (its SIP trace)" 200 "$(bs_final MESSAGE)"
se_match "baresip's presence SUBSCRIBE reached the node" \
	'^SUBSCRIBE sip:bob@example\.test SIP/2\.0$' "$(head -n 1 <<<"$sub")"
se_match "SUBSCRIBE at the node: Event presence" '^(Event|o): *presence' "$(grep -Ei '^(Event|o):' <<<"$sub")"
se_eq "baresip got 200 for its SUBSCRIBE (its SIP trace)" 200 "$(bs_final SUBSCRIBE)"

se_match "baresip sent OPTIONS sip:$NET.1 (Route to the edge)" "^OPTIONS sip:$NETRE\\.1 SIP/2\\.0\$" \
	"$(tr -d '\r' <"$BS" | grep -a '^OPTIONS ')"
se_eq "baresip got 200 for it" 200 "$(bs_final OPTIONS)"
se_match "... from the edge itself (Allow lists BENOTIFY)" '^Allow: .*BENOTIFY' \
	"$(tr -d '\r' <"$BS" | awk '/^SIP\/2\.0 / { blk = "" } { blk = blk $0 "\n" }
		/^CSeq: [0-9]+ OPTIONS/ { hit = 1 } /^$/ { if (hit) printf "%s", blk; hit = 0; blk = "" }' | grep '^Allow:')"
se_eq "... and the node never saw an OPTIONS" 0 "$(grep -ac '^OPTIONS ' "$NODEREC")"

se_daemon_alive
se_stop_daemon
se_done
