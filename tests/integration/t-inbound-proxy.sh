#!/bin/bash
# Inbound: a mutual-TLS federated peer (sip.partner.test) sends requests to
# the external listener; the edge forwards them to the routing node (sipp).
. "$(dirname "$0")/lib.sh"
se_init 2
se_need sipp
se_pki
se_write_conf
se_node_uas node-uas.xml
se_start_daemon

# requests that the node answers with 200
for m in subscribe message service; do
	M=${m^^} id=in-$m-$$
	se_send "$M from partner gets 200" "${PARTNER[@]}" "$SCEN/$m.sip" \
		--var CALLID=$id --expect 200
	se_assert_response "$RUN/peer.out" $id $M 200
	se_assert_at_node $id $M
done

# INVITE dialog: ACK and BYE follow the Route set built from Record-Route
id=in-invite-$$
se_send "INVITE/ACK/BYE dialog: 200 to INVITE and to BYE" "${PARTNER[@]}" \
	"$SCEN/invite.sip" --var CALLID=$id --dialog --expect 200
se_match "peer saw 200 for INVITE and BYE" "STATUS 200 INVITE.*STATUS 200 BYE" "${SEND_OUT//$'\n'/ }"
se_assert_response "$RUN/peer.out" $id INVITE 200
se_assert_response "$RUN/peer.out" $id BYE 200 2
se_assert_at_node $id INVITE
sleep 0.5       # the ACK has no response to wait for
se_eq "ACK reached the node" 1 "$(se_count "$RUN/node.msg" --received --method ACK --call-id $id)"
se_eq "BYE reached the node" 1 "$(se_count "$RUN/node.msg" --received --method BYE --call-id $id)"
se_match "BYE at node: Request-URI is the node's Contact" "^BYE sip:node@$NETRE\.11:5062;transport=tcp " \
	"$(se_inspect "$RUN/node.msg" --received --method BYE --call-id $id --start-line)"
se_eq "BYE at node: the edge consumed its Route entries" 0 \
	"$(se_inspect "$RUN/node.msg" --received --method BYE --call-id $id --count-header Route)"

# BENOTIFY: forwarded, never answered
id=in-benotify-$$
se_send "BENOTIFY from partner gets no response" "${PARTNER[@]}" "$SCEN/benotify.sip" \
	--var CALLID=$id --no-response --grace 2
se_assert_at_node $id BENOTIFY

# answered by the edge itself, never forwarded
id=in-mf0-$$
se_send "Max-Forwards: 0 gets 483" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=$id --var MF=0 --expect 483
se_assert_response "$RUN/peer.out" $id MESSAGE 483
id=in-foreign-$$
se_send "request for a non-local domain gets 403" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=$id --var RURI=sip:bob@elsewhere.test --expect 403
se_assert_response "$RUN/peer.out" $id MESSAGE 403
se_eq "neither reached the node" 0 "$(( $(se_count "$RUN/node.msg" --call-id in-mf0-$$) + \
	$(se_count "$RUN/node.msg" --call-id in-foreign-$$) ))"

se_daemon_alive
se_stop_daemon
se_done
