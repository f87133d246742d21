#!/bin/bash
# Outbound: the internal node sends MESSAGE to a federated domain; the edge
# resolves the static route's next hop (dnsmasq) and connects with mutual TLS.
. "$(dirname "$0")/lib.sh"
se_init 3
se_need sipp
se_pki
# partner.test -> sip.partner.test (.21, up), down.test -> sip.down.test
# (.22, nothing listens), wrong.test -> sip.wrong.test (.23, wrong cert)
se_start_dns --host-record="sip.down.test,$NET.22" --host-record="sip.wrong.test,$NET.23"
se_write_conf federation='{
  allowed = ( { domain = "partner.test"; peer = "sip.partner.test"; port = 5061; },
              { domain = "down.test"; peer = "sip.down.test"; port = 5061; },
              { domain = "wrong.test"; peer = "sip.wrong.test"; port = 5061; } );
  static_routes = ( { pattern = ".test.partner.*"; next_hop = "sip.partner.test"; port = 5061; },
                    { pattern = ".test.down.*"; next_hop = "sip.down.test"; port = 5061; },
                    { pattern = ".test.wrong.*"; next_hop = "sip.wrong.test"; port = 5061; } );
}'
se_serve partner "$NET.21:5061" --tls --cert "$PKI/partner.crt" --key "$PKI/partner.key" \
	--ca "$PKI/ca.crt" --timeout 120
se_serve wrong "$NET.23:5061" --tls --cert "$PKI/wrongsan.crt" --key "$PKI/wrongsan.key" \
	--ca "$PKI/ca.crt" --timeout 120
se_start_daemon

# 1. the node (sipp) -> edge -> sip.partner.test: 200 back to the node
se_node_uac bob partner.test
se_eq "node's MESSAGE to bob@partner.test gets 200 (sipp exit status)" 0 $?
se_eq "node got 200 with only its own Via" 1 \
	"$(se_inspect "$RUN/node-uac.msg" --received --status 200 --count-header Via)"
f=$RUN/partner.rec
se_has "the partner received the MESSAGE" "$f" --method MESSAGE
se_eq "at partner: exactly 1 Via" 1 "$(se_inspect "$f" --method MESSAGE --count-header Via)"
se_match "at partner: the Via is the edge's (TLS edge.test:5061)" \
	'^SIP/2\.0/TLS edge\.test:5061;(.*;)?branch=z9hG4bK' \
	"$(se_inspect "$f" --method MESSAGE --values Via)"
se_eq "at partner: Max-Forwards 69" 69 "$(se_inspect "$f" --method MESSAGE --header Max-Forwards)"
mapfile -t rr < <(se_inspect "$f" --method MESSAGE --values Record-Route)
se_eq "at partner: 2 Record-Route entries" 2 "${#rr[@]}"
for r in "${rr[@]}"; do
	se_match_all "at partner: Record-Route $r: edge.test, lr, sipedge" "$r" \
		'^<sip:edge\.test(:[0-9]+)?[;>]' ';lr[;>]' ';sipedge[=;>]'
done
se_nomatch "at partner: no internal address outside Contact" "$NETRE\." \
	"$(se_inspect "$f" --method MESSAGE --raw | grep -Eiv '^(contact|m):')"
note "partner accepted $(cat "$RUN/partner.conns" 2>/dev/null || echo 0) connection(s)"

# 2. next hop down: 504 with ms-diagnostics 1046
se_send "MESSAGE to down.test (nothing listening) gets 504" "${NODE[@]}" \
	"$SCEN/message.sip" --var RURI=sip:bob@down.test --var FROM=sip:alice@example.test \
	--timeout 40 --expect 504 --expect-header 'ms-diagnostics: 1046'

# 3. next hop presents a certificate for other.partner.test: 504, 1010
se_send "MESSAGE to wrong.test (cert for other.partner.test) gets 504" "${NODE[@]}" \
	"$SCEN/message.sip" --var RURI=sip:bob@wrong.test --var FROM=sip:alice@example.test \
	--timeout 40 --expect 504 --expect-header 'ms-diagnostics: 1010'
se_eq "wrong-cert peer received no request" 0 "$(se_count "$RUN/wrong.rec" --method MESSAGE)"

se_daemon_alive
se_stop_daemon
se_done
