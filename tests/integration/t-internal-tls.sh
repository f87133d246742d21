#!/bin/bash
# Internal zone over mutual TLS: the internal listener and the node use TLS
# with the internal CA; the node must prove its configured tls_name
# (RFC 5922, SAN DNS) whichever side dialled, and non-nodes are refused.
. "$(dirname "$0")/lib.sh"
se_init 21
se_pki
[ -s "$PKI/node2.crt" ] || se_bail "mkpki.sh made no node2.crt"

# the node (.11) in both roles: TLS client of the internal listener ...
NODE_TLS=(--connect "$NET.2:5061" --tls --ca "$PKI/internal-ca.crt" --sni edge.internal)
node_client() {    # CERT ADDR : NODEARGS from ADDR with pki/CERT ("none": no certificate)
	NODEARGS=("${NODE_TLS[@]}" --bind "$2")
	[ "$1" = none ] || NODEARGS+=(--cert "$PKI/$1.crt" --key "$PKI/$1.key")
}
# ... and TLS server on :5062, requiring and verifying the edge's certificate
node_serve() {     # NAME CERT
	se_serve "$1" "$NET.11:5062" --tls --cert "$PKI/$2.crt" --key "$PKI/$2.key" \
		--ca "$PKI/internal-ca.crt" --timeout 120 --verbose
	NODE_PID=$BG_PID
}

se_start_dns
se_write_conf listen="(
  { zone = \"external\"; address = \"$NET.1\"; port = 5061; transport = \"tls\"; },
  { zone = \"internal\"; address = \"$NET.2\"; port = 5061; transport = \"tls\"; }
)" internal="{
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; tls_name = \"node1.internal\"; transport = \"tls\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
  health = { interval = 0; };
}"
se_tls_peer partner "$NET.21:5061" partner
node_serve node node1
se_start_daemon "$NET.1:5061" "$NET.2:5061"

# 1. inbound: partner -> external listener -> node over mutual TLS
id=itls-in-$$
se_send "1: partner's MESSAGE reaches the TLS node and gets 200" "${PARTNER[@]}" \
	"$SCEN/message.sip" --var CALLID=$id --expect 200
se_assert_response "$RUN/peer.out" $id MESSAGE 200
f=$RUN/node.rec sel=(--method MESSAGE --call-id $id)
se_has "1: the node recorded the MESSAGE" "$f" "${sel[@]}"
se_match "1: at node: top Via is the internal TLS listener, branch z9hG4bKse" \
	"^SIP/2\.0/TLS $NETRE\.2:5061;(.*;)?branch=z9hG4bKse" \
	"$(se_inspect "$f" "${sel[@]}" --values Via | head -n 1)"
mapfile -t rr < <(se_inspect "$f" "${sel[@]}" --values Record-Route)
se_eq "1: at node: 2 Record-Route entries" 2 "${#rr[@]}"
se_match_all "1: at node: Record-Route #1 is the internal listener with transport=tls" \
	"${rr[0]:-}" "^<sip:$NETRE\.2:5061;" ';transport=tls[;>]' ';lr[;>]' ';sipedge[=;>]'
se_match "1: the edge presented its internal certificate (edge.internal) to the node" \
	"TLS TLSv1\.[23] from $NETRE\.2:[0-9]+ \(edge\.internal\)" "$(cat "$RUN/node.out")"

# 2. outbound: the node (TLS client from .11) -> internal listener -> partner
id=itls-out-$$
node_client node1 "$NET.11"
se_send "2: node's MESSAGE to bob@partner.test over TLS gets 200" "${NODEARGS[@]}" \
	"$SCEN/message.sip" --var CALLID=$id --var RURI=sip:bob@partner.test \
	--var FROM=sip:alice@example.test --expect 200
se_assert_response "$RUN/peer.out" $id MESSAGE 200
se_has "2: the partner (.21) received it" "$RUN/partner.rec" --method MESSAGE --call-id $id
se_match "2: at partner: the Via is the edge's external one" \
	'^SIP/2\.0/TLS edge\.test:5061;(.*;)?branch=z9hG4bK' \
	"$(se_inspect "$RUN/partner.rec" --method MESSAGE --call-id $id --values Via)"

# 3. a node whose certificate does not name node1.internal: not used, 503
se_log_mark
se_kill "$NODE_PID"
node_serve badnode node2
# the edge must notice that its connection to the old node is gone
n=50
until se_log_lines 'event=connection_closed' "peer=$NETRE\.11:5062" >/dev/null || [ $n -eq 0 ]; do
	sleep 0.1; n=$((n - 1))
done
id=itls-badnode-$$
se_send "3: MESSAGE to a node with the wrong certificate name gets 503" "${PARTNER[@]}" \
	"$SCEN/message.sip" --var CALLID=$id --expect 503
se_eq "3: the wrong node received nothing" 0 "$(se_count "$RUN/badnode.rec" --method MESSAGE)"
se_wait_log "3: logged tls_handshake_failed reason=certificate_name (node2.internal)" \
	'event=tls_handshake_failed' 'zone=internal' 'reason=certificate_name' \
	'node1\.internal' 'node2\.internal'
se_wait_log "3: logged node_unreachable" 'event=node_unreachable' 'imp1' "$id"
se_kill "$NODE_PID"

# 4. inbound connections: wrong certificate from the node's address, and a
#    client that is not a node at all
se_log_mark
node_client node2 "$NET.11"
se_send "4: node address with a node2.internal certificate: handshake done, then closed" \
	"${NODEARGS[@]}" "$SCEN/message.sip" --var FROM=sip:alice@example.test \
	--var RURI=sip:bob@partner.test --expect-close --timeout 5
se_nomatch "4: ... and no response to its MESSAGE" '^STATUS' "$SEND_OUT"
se_wait_log "4: logged tls_handshake_failed reason=certificate_name" \
	'event=tls_handshake_failed' 'zone=internal' "peer=$NETRE\.11:" \
	'reason=certificate_name' 'node2\.internal'
se_log_mark
node_client node1 "$NET.99"
se_send "4: a client at .99 (not a node) is refused" "${NODEARGS[@]}" \
	--expect-handshake-failure "$SCEN/message.sip" --timeout 5
se_wait_log "4: logged connection_refused for .99" 'event=connection_refused' \
	'zone=internal' "peer=$NETRE\.99:"
se_eq "4: the partner got only the node's one MESSAGE" 1 \
	"$(se_count "$RUN/partner.rec" --method MESSAGE)"

# 5. no client certificate: handshake refused
se_log_mark
node_client none "$NET.11"
se_send "5: node address without a client certificate: TLS handshake refused" \
	"${NODEARGS[@]}" --expect-handshake-failure "$SCEN/message.sip" --timeout 5
se_wait_log "5: logged tls_handshake_failed reason=no_client_certificate" \
	'event=tls_handshake_failed' 'zone=internal' 'reason=no_client_certificate'

se_daemon_alive
# 6.
se_stop_daemon
se_done
