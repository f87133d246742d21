#!/bin/bash
# Timers and failures toward the node, and connection limits of the
# external listener: 503 when the node is unreachable, 408 when it never
# answers (limits.transaction_timeout), and connections closed on
# limits.handshake_timeout, limits.header_timeout and limits.idle_timeout,
# each neither (much) later nor earlier than configured.
. "$(dirname "$0")/lib.sh"
se_init 7
se_pki
TT=2 HS=2 HDR=2 IDLE=3
se_write_conf limits="{ transaction_timeout = $TT; invite_timeout = 3; handshake_timeout = $HS; header_timeout = $HDR; idle_timeout = $IDLE; }"
se_start_daemon

# ELAPSED printed by sippeer send --expect-close; now_s for the others
elapsed() { printf '%s\n' "$SEND_OUT" | sed -n 's/^ELAPSED //p' | tail -n 1; }
now_s() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.3f\", $1 }"; }
# se_between DESC MIN MAX VALUE : MIN <= VALUE <= MAX (decimal seconds)
se_between() {
	if [ -n "$4" ] && awk -v v="$4" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'
	then ok "$1 (${4}s)"
	else not_ok "$1 (${4:-no value}s not in [$2, $3])"; fi
}

# ---- 503: nothing listens on the node's address. sipedge(8), node_unreachable:
# the peer gets only 'Warning: 399 FQDN "internal server unavailable"' and
# Retry-After: 30; the node and the failure are in the log line only.
id=unreach-$$
se_log_mark
se_send "MESSAGE to an unreachable node gets 503" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=$id --expect 503 --timeout 10
se_assert_response "$RUN/peer.out" $id MESSAGE 503
sel=(--call-id $id --status 503)
se_eq "503: Warning: 399 edge.test \"internal server unavailable\"" \
	'399 edge.test "internal server unavailable"' "$(se_inspect "$RUN/peer.out" "${sel[@]}" --values Warning)"
se_eq "503: Retry-After: 30" 30 "$(se_inspect "$RUN/peer.out" "${sel[@]}" --header Retry-After)"
se_nomatch "503: names neither the node nor its address" "imp1|$NETRE\.11|$NETRE\.2:" \
	"$(se_inspect "$RUN/peer.out" "${sel[@]}" --raw)"
se_wait_log "log: node_unreachable (node, its address, status 503)" 'event=node_unreachable' \
	'node=imp1' ' reason=' "$NETRE\.11:5062" "call_id=$id" 'method=MESSAGE' 'status=503'

# ---- 408: the node takes the MESSAGE and never answers
se_serve silent "$NET.11:5062" --respond 0 --timeout 120
SILENT_PID=$BG_PID
id=timeout-$$ br=z9hG4bKtimeout$$
se_log_mark
t0=$(now_s)
se_send "MESSAGE the node never answers gets 408 within transaction_timeout + 2 s" \
	"${PARTNER[@]}" "$SCEN/message.sip" --var CALLID=$id --var BRANCH=$br \
	--expect 408 --timeout $((TT + 2))
t1=$(now_s)
se_between "408 not before transaction_timeout - 0.5 s" $(calc "$TT - 0.5") $((TT + 2)) \
	"$(calc "$t1 - $t0")"
se_assert_response "$RUN/peer.out" $id MESSAGE 408
se_match "408: its (top) Via is the peer's own, with its branch" \
	"^SIP/2\.0/TLS $NETRE\.21:[0-9]+;branch=$br\$" \
	"$(se_inspect "$RUN/peer.out" --call-id $id --status 408 --values Via | head -n 1)"
se_has "the silent node did receive the MESSAGE" "$RUN/silent.rec" --method MESSAGE --call-id $id
se_wait_log "log: transaction_timeout, method MESSAGE, status 408" \
	'event=transaction_timeout' 'method=MESSAGE' "call_id=$id" "seconds=$TT" 'status=408 conn=c[0-9]+ txn=t[0-9]+$'

# ---- handshake_timeout: TCP connection to the TLS listener, nothing sent
se_log_mark
se_send "silent TCP connection to the TLS listener closed within handshake_timeout + 2 s" \
	--connect "$NET.1:5061" --bind "$NET.21" --raw-hex '' --expect-close --timeout $((HS + 2))
se_between "... and not before handshake_timeout - 0.5 s" $(calc "$HS - 0.5") $((HS + 2)) "$(elapsed)"
se_wait_log "log: tls_handshake_failed, reason names the handshake timeout" \
	'event=tls_handshake_failed' 'zone=external' "peer=$NETRE\.21:" 'reason=handshake_timeout detail="[^"]*handshake'

# ---- header_timeout: 40 bytes of a MESSAGE, then nothing
printf 'MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS' | head -c 40 >"$RUN/partial.bin"
se_eq "partial message is 40 bytes" 40 "$(wc -c <"$RUN/partial.bin")"
se_log_mark
se_send "40 bytes of a MESSAGE then silence: closed within header_timeout + 2 s" \
	"${PARTNER[@]}" --raw-file "$RUN/partial.bin" --expect-close --timeout $((HDR + 2))
se_between "... and not before header_timeout - 0.5 s" $(calc "$HDR - 0.5") $((HDR + 2)) "$(elapsed)"
se_wait_log "log: message_rejected, not completed within limits.header_timeout" \
	'event=message_rejected' "peer=$NETRE\.21:" \
	'reason="message not completed within limits\.header_timeout"'
se_wait_log "log: connection_closed, reason=header_timeout" \
	'event=connection_closed' 'zone=external' "peer=$NETRE\.21:" 'reason=header_timeout'

# ---- idle_timeout: handshake done, nothing sent
se_log_mark
se_send "idle mutual-TLS connection closed within idle_timeout + 2 s" \
	"${PARTNER[@]}" --raw-hex '' --expect-close --timeout $((IDLE + 2))
se_between "... and not before idle_timeout - 0.5 s" $(calc "$IDLE - 0.5") $((IDLE + 2)) "$(elapsed)"
se_wait_log "log: connection_closed, reason=idle_timeout" \
	'event=connection_closed' 'zone=external' "peer=$NETRE\.21:" 'reason=idle_timeout'

# ---- a responsive node: business as usual
se_kill "$SILENT_PID" 5         # the edge sees EOF (or has idled it out)
se_serve node "$NET.11:5062" --respond 200 --timeout 120
id=normal-$$
se_send "MESSAGE to a responsive node gets 200" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=$id --expect 200
se_assert_response "$RUN/peer.out" $id MESSAGE 200
se_has "the node received it" "$RUN/node.rec" --method MESSAGE --call-id $id

se_daemon_alive
se_stop_daemon
se_done
