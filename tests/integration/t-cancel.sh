#!/bin/bash
# CANCEL through the edge (RFC 3261 9.2, 16.10): a mutual-TLS peer cancels a
# ringing INVITE. The edge answers the CANCEL itself, sends its own CANCEL
# (its branch, its single Via) to the node, relays the node's 487, ACKs the
# 487 downstream itself and absorbs the peer's ACK. A CANCEL that matches
# no INVITE gets 481.
. "$(dirname "$0")/lib.sh"
se_init 8
se_need sipp
se_pki
se_write_conf
se_node_uas cancel-uas.xml      # 180, then 200 CANCEL + 487 INVITE on CANCEL
se_start_daemon

NODEF=$RUN/node.msg
id=cancel-$$ br=z9hG4bKcancel$$
se_send "INVITE, 180, CANCEL (same branch): 200 for CANCEL, 487 for INVITE" \
	"${PARTNER[@]}" "$SCEN/invite.sip" --var CALLID=$id --var BRANCH=$br \
	--cancel-after 180 --expect-cancel 200 --expect 487 --timeout 10
se_match "peer saw 180, then 200 CANCEL, then 487 INVITE" \
	"PROVISIONAL 180 INVITE STATUS 200 CANCEL STATUS 487 INVITE" "${SEND_OUT//$'\n'/ }"
se_nomatch "peer got no duplicate or stray response" "DUPLICATE_FINAL|STRAY" "$SEND_OUT"
se_assert_response "$RUN/peer.out" $id CANCEL 200
se_assert_response "$RUN/peer.out" $id INVITE 487
se_eq "peer got exactly one 200 CANCEL" 1 \
	"$(se_count "$RUN/peer.out" --call-id $id --cseq-method CANCEL --status 200)"
se_match "200 CANCEL: top Via is the peer's own (its branch)" \
	"^SIP/2\.0/TLS $NETRE\.21:[0-9]+;branch=$br\$" \
	"$(se_inspect "$RUN/peer.out" --call-id $id --cseq-method CANCEL --status 200 --values Via | head -n 1)"
se_match "487 INVITE: top Via is the peer's own (its branch)" \
	"^SIP/2\.0/TLS $NETRE\.21:[0-9]+;branch=$br\$" \
	"$(se_inspect "$RUN/peer.out" --call-id $id --cseq-method INVITE --status 487 --values Via | head -n 1)"

# at the node: the edge's CANCEL belongs to the INVITE it forwarded
sel=(--received --call-id $id)
inv_branch=$(se_inspect "$NODEF" "${sel[@]}" --method INVITE --values Via | head -n 1 |
	sed -n 's/.*;branch=\([^;,]*\).*/\1/p')
se_match "INVITE at node: top Via branch is the edge's (z9hG4bKse...)" '^z9hG4bKse' "$inv_branch"
se_eq "INVITE at node: 2 Via" 2 "$(se_inspect "$NODEF" "${sel[@]}" --method INVITE --count-header Via)"
se_eq "node got exactly one CANCEL" 1 "$(se_count "$NODEF" "${sel[@]}" --method CANCEL)"
cancel_via=$(se_inspect "$NODEF" "${sel[@]}" --method CANCEL --values Via)
se_eq "CANCEL at node: exactly 1 Via (the edge's)" 1 \
	"$(se_inspect "$NODEF" "${sel[@]}" --method CANCEL --count-header Via)"
se_match "CANCEL at node: its Via is the edge's internal listener with the INVITE's branch" \
	"^SIP/2\.0/TCP $NETRE\.2:5060;(.*;)?branch=$(re "$inv_branch")(;|\$)" "$cancel_via"
se_eq "CANCEL at node: CSeq 1 CANCEL" "1 CANCEL" \
	"$(se_inspect "$NODEF" "${sel[@]}" --method CANCEL --header CSeq)"
se_eq "CANCEL at node: Request-URI of the INVITE" \
	"$(se_inspect "$NODEF" "${sel[@]}" --method INVITE --start-line | cut -d' ' -f2)" \
	"$(se_inspect "$NODEF" "${sel[@]}" --method CANCEL --start-line | cut -d' ' -f2)"

# the ACK for the 487 is the edge's (hop by hop), the peer's is absorbed
n=0
while [ $n -lt 30 ] && [ "$(se_count "$NODEF" "${sel[@]}" --method ACK)" = 0 ]; do
	sleep 0.1; n=$((n + 1))
done
sleep 1         # a second (forwarded) ACK would arrive by now
se_eq "node got exactly one ACK" 1 "$(se_count "$NODEF" "${sel[@]}" --method ACK)"
se_eq "ACK at node: CSeq 1 ACK" "1 ACK" "$(se_inspect "$NODEF" "${sel[@]}" --method ACK --header CSeq)"
se_eq "ACK at node: exactly 1 Via" 1 "$(se_inspect "$NODEF" "${sel[@]}" --method ACK --count-header Via)"
se_match "ACK at node: top Via branch is the INVITE's edge branch" \
	";branch=$(re "$inv_branch")(;|\$)" \
	"$(se_inspect "$NODEF" "${sel[@]}" --method ACK --values Via | head -n 1)"

# CANCEL without an INVITE
id=cancel-orphan-$$
se_log_mark
se_send "CANCEL matching no INVITE gets 481" "${PARTNER[@]}" "$SCEN/cancel-orphan.sip" \
	--var CALLID=$id --expect 481 --timeout 5
se_assert_response "$RUN/peer.out" $id CANCEL 481
se_wait_log "log: CANCEL rejected, no matching transaction" 'event=message_rejected' \
	'reason=no_matching_transaction' 'status=481' "call_id=$id"
se_eq "the unmatched CANCEL did not reach the node" 0 "$(se_count "$NODEF" --call-id $id)"

se_daemon_alive
se_stop_daemon
se_done
