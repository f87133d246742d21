#!/bin/bash
# Timer C (RFC 3261 16.6 step 11, 16.7 step 2; issue 13): an INVITE's
# timer, limits.invite_timeout (3 s here), restarts on every provisional
# response 101-199. A callee that keeps ringing (a 180 every second for
# 7 s, then 200) is never cancelled; one that rang once and went quiet is
# cancelled after invite_timeout: CANCEL at the node, 408 at the partner.
# The node is sipp (scenarios/timer-c-uas.xml).
. "$(dirname "$0")/lib.sh"
se_init 31
se_need sipp
se_pki
se_write_conf 'limits={ invite_timeout = 3; }'
se_node_uas timer-c-uas.xml
se_start_daemon
NODEF=$RUN/node.msg
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", b - a }'; }

# ---- 1: rings for 7 s (8 x 180, one a second), then 200: no CANCEL
id=timerc-ring-$$
t0=$(now)
se_send "ringing INVITE (180 every 1 s for 7 s > invite_timeout 3 s) ends in 200, then ACK/BYE" \
	"${PARTNER[@]}" "$SCEN/invite.sip" --var CALLID=$id --var RURI=sip:ring@example.test \
	--dialog --expect 200 --timeout 20
t1=$(now)
se_eq "ringing INVITE: the partner got all 8 180s" 8 "$(grep -c '^PROVISIONAL 180 INVITE' <<<"$SEND_OUT")"
se_match "ringing INVITE: 200 INVITE then 200 BYE, nothing else final" \
	'^STATUS 200 INVITE STATUS 200 BYE $' "$(grep '^STATUS' <<<"$SEND_OUT" | tr '\n' ' ')"
el=$(secs "$t0" "$t1")
se_match "ringing INVITE: the call lasted past invite_timeout (${el} s, the node answers at ~7 s)" \
	'^([7-9]|1[0-9])\.' "$el"
sleep 0.5
se_eq "ringing INVITE: no CANCEL reached the node" 0 \
	"$(se_count "$NODEF" --received --method CANCEL --call-id $id)"
se_eq "ringing INVITE: the node got ACK and BYE" "1 1" \
	"$(se_count "$NODEF" --received --method ACK --call-id $id) $(se_count "$NODEF" --received --method BYE --call-id $id)"

# ---- 2: one 180, then silence: cancelled after invite_timeout
id=timerc-stall-$$
se_log_mark
t0=$(now)
se_send "stalled INVITE (one 180, then silence) gets 408 from the edge" \
	"${PARTNER[@]}" "$SCEN/invite.sip" --var CALLID=$id --var RURI=sip:stall@example.test \
	--expect 408 --timeout 15
t1=$(now)
el=$(secs "$t0" "$t1")
se_match "stalled INVITE: 408 about invite_timeout after the 180 (${el} s, want 2.5-8)" \
	'^(2\.[5-9]|[3-7]\.[0-9]|8\.0)$' "$el"
se_eq "stalled INVITE: the partner saw the 180 first" 1 "$(grep -c '^PROVISIONAL 180 INVITE' <<<"$SEND_OUT")"
n=0
while [ $n -lt 30 ] && [ "$(se_count "$NODEF" --received --method CANCEL --call-id $id)" = 0 ]; do
	sleep 0.1; n=$((n + 1))
done
se_eq "stalled INVITE: the edge sent CANCEL to the node" 1 \
	"$(se_count "$NODEF" --received --method CANCEL --call-id $id)"
se_eq "stalled INVITE: ... and ACKed the node's 487" 1 \
	"$(se_count "$NODEF" --received --method ACK --call-id $id)"
se_eq "stalled INVITE: the partner got one 408 and no 487" "1 0" \
	"$(se_count "$RUN/peer.out" --call-id $id --status 408) $(se_count "$RUN/peer.out" --call-id $id --status 487)"

se_daemon_alive
se_stop_daemon
se_done
