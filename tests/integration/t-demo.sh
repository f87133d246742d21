#!/bin/bash
# README's Quick start, as a user runs it: contrib/demo/run starts the
# daemon on the demo setup, `node` plays the IM&P node, `send` plays the
# federated partner. The MESSAGE must get 200 end to end, with no DNS at
# all (the demo configuration names no DNS server; nothing may be looked
# up). Runs the demo in $RUN/demo on 127.0.29.0/24 with the built daemon.
. "$(dirname "$0")/lib.sh"
se_init 29
se_need_daemon
DEMO=("$top_srcdir/contrib/demo/run")
export DEMO_DIR=$RUN/demo DEMO_NET=$NET SIPEDGE DEMO_WAIT=2

cd "$RUN" || se_bail "no $RUN"
se_bg demo "${DEMO[@]}"
demo_pid=$BG_PID
"${PEER[@]}" wait --listen "$NET.1:5061" --listen "$NET.2:5060" --pid "$demo_pid" --timeout 30 ||
	{ sed 's/^/#   /' "$RUN/demo.out" | tail -30; se_bail "the demo daemon did not start"; }
ok "contrib/demo/run started the daemon ($NET.1:5061, $NET.2:5060)"
se_match "the demo checked its configuration (sipedge -t)" "configuration OK" "$(cat "$RUN/demo.out")"

# Without the node, the partner learns why (and the edge stays up).
out=$("${DEMO[@]}" send "nobody home" 2>&1)
printf '%s\n' "$out" | sed 's/^/#   /' | head -20
se_match "send without the node: an error response, not a hang" '^SIP/2\.0 (503|408|504) ' "$out"

se_bg node "${DEMO[@]}" node
"${PEER[@]}" wait --listen "$NET.11:5062" --pid "$BG_PID" --timeout 10 ||
	se_bail "the demo node did not start"
ok "contrib/demo/run node listens on $NET.11:5062"

out=$("${DEMO[@]}" send "hello" 2>&1)
printf '%s\n' "$out" | sed 's/^/#   /' | head -20
se_match "send: the partner gets 200 end to end" '^SIP/2\.0 200 OK' "$out"
se_match "the node printed the MESSAGE it got" 'MESSAGE sip:alice@example\.test SIP/2\.0' \
	"$(cat "$RUN/node.out")"
se_match "the node saw the text" '^hello$' "$(cat "$RUN/node.out")"
se_nomatch "no DNS was used (no lookup logged)" 'dns: (SRV|address)' "$(cat "$RUN/demo.out")"
se_nomatch "nothing refused" 'event=(inbound_rejected|message_rejected)' "$(cat "$RUN/demo.out")"
se_done
