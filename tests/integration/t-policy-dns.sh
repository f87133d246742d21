#!/bin/bash
# Inbound federation policy, the cases that need a daemon of their own:
#   1. tls.external.accept_wildcards = true: a *.wild.test certificate
#      proves SRV target sip.wild.test;
#   2. the DNS server is down (nothing listens on its port) and
#   3. the DNS server never answers (a silent UDP socket): 504 with
#      ms-diagnostics 1008 within dns.timeout_ms * dns.tries + 5 s (the
#      slack covers the client's own start and handshake on a loaded CI box;
#      a hung lookup would take the client's 32 s).
. "$(dirname "$0")/lib.sh"
se_init 11
se_need sipp
se_pki

SRV=_sipfederationtls._tcp
TIMEOUT_MS=500 TRIES=2
WHY_1008='Unable to resolve DNS SRV record'
FED='{ allowed = ( { domain = "partner.test"; }, { domain = "wild.test"; } ); }'

# restart GROUP=VALUE... : (re)start the daemon with this configuration,
# keeping the log of the previous one.
PHASE=0
restart() {
	if [ -n "$DAEMON_PID" ]; then
		se_stop_daemon
		mv "$RUN/sipedge.log" "$RUN/sipedge.$PHASE.log"
	fi
	PHASE=$((PHASE + 1))
	se_write_conf "$@"
	se_start_daemon
	se_log_mark
}

# dns_fails DESC : a MESSAGE from partner.test (allowed, proven by SRV)
# gets 504 with 1008 in time, and is logged as dns_failed.
dns_fails() {
	local id=policy-dns-$PHASE-$$ t0 ms limit=$((TIMEOUT_MS * TRIES + 5000))
	se_tls_client partner
	t0=${EPOCHREALTIME/./}
	se_send "$1: 504 (1008)" "${TLSARGS[@]}" "$SCEN/message.sip" \
		--var FROM=sip:alice@partner.test --var CALLID=$id --expect 504 \
		--expect-header "ms-diagnostics: ^1008;reason=\"$WHY_1008\";source=\"edge\\.test\"\$" \
		--expect-header "Warning: ^399 edge\\.test \"$WHY_1008\"\$"
	ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
	se_check "$1: answered within ${limit} ms (took $ms ms)" [ "$ms" -le "$limit" ]
	ELAPSED_MS=$ms
	se_wait_log "$1: logged reason=dns_failed code=1008 status=504" \
		" event=inbound_rejected reason=dns_failed code=1008 status=504 domain=partner\\.test peer=$NETRE\\.21:[0-9]+ cert_names=sip\\.partner\\.test( srv_targets=\"\")? call_id=$id method=MESSAGE conn=c[0-9]+\$"
	se_eq "$1: did not reach the node" 0 "$(se_count "$RUN/node.msg" --call-id $id)"
}

se_start_dns --local=/test/ \
	"--srv-host=$SRV.partner.test,sip.partner.test,5061" \
	"--srv-host=$SRV.wild.test,sip.wild.test,5061"
se_node_uas node-uas.xml

# 1. wildcards accepted
restart federation="$FED" tls='{
  external = { certificate = "pki/edge.crt"; private_key = "pki/edge.key"; ca_file = "pki/ca.crt";
               accept_wildcards = true; };
  internal = { certificate = "pki/edge-internal.crt"; private_key = "pki/edge-internal.key"; ca_file = "pki/internal-ca.crt"; };
}'
id=policy-wild-$$
se_tls_client wild
se_send "accept_wildcards = true: *.wild.test proves sip.wild.test: 200" "${TLSARGS[@]}" \
	"$SCEN/message.sip" --var FROM=sip:alice@wild.test --var CALLID=$id --expect 200
se_has "wildcard: reached the node" "$RUN/node.msg" --received --method MESSAGE --call-id $id
se_nomatch "wildcard: no refusal logged" "event=inbound_rejected" "$(se_log_lines "call_id=$id")"

# 2. DNS server down: nothing listens on its port
dns_conf="{ servers = [ \"$NET.54:$DNS_PORT\" ]; timeout_ms = $TIMEOUT_MS; tries = $TRIES; }"
restart federation="$FED" dns="$dns_conf"
dns_fails "DNS server down"

# 3. DNS server silent: a UDP socket that reads nothing and answers nothing
se_bg blackhole python3 -c "import socket, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('$NET.55', $DNS_PORT))
time.sleep(300)"
sleep 0.3
kill -0 "$BG_PID" 2>/dev/null || se_bail "silent DNS socket did not start: $(cat "$RUN/blackhole.out")"
dns_conf="{ servers = [ \"$NET.55:$DNS_PORT\" ]; timeout_ms = $TIMEOUT_MS; tries = $TRIES; }"
restart federation="$FED" dns="$dns_conf"
dns_fails "DNS server never answers"
se_check "silent DNS: the edge waited at least one timeout ($ELAPSED_MS ms)" \
	[ "$ELAPSED_MS" -ge "$TIMEOUT_MS" ]

se_daemon_alive
se_stop_daemon
se_done
