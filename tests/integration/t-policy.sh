#!/bin/bash
# Inbound federation policy (SPEC section 4). Peers present different
# certificates from $NET.21; one dnsmasq holds one domain per case:
#   partner.test   SRV sip.partner.test     cert partner  (DNS:sip.partner.test)
#   sub.test       SRV sip.sub.sub.test     cert sub      (a subdomain target)
#   elsewhere.test SRV sip.other.test       cert otherdom (another domain)
#   mismatch.test  SRV sip.mismatch.test    cert mismatch (DNS:other.mismatch.test)
#   cnonly.test    SRV sip.cnonly.test      cert sancn    (CN right, SAN wrong)
#   wild.test      SRV sip.wild.test        cert wild     (DNS:*.wild.test)
#   open.test      SRV sip.open.test        cert open     (discovery only)
#   nosrv.test     no SRV (NXDOMAIN)
#   lync.test      no SRV, allowed with peer sip.lync.test, cert lync
#   spam.test      blocked (and allowed: blocking wins)
# First with discovery off, then the daemon restarts with discovery on.
# Wildcards accepted and DNS failures: t-policy-dns.sh.
. "$(dirname "$0")/lib.sh"
se_init 9
se_need sipp
se_pki

SRV=_sipfederationtls._tcp
srv_host() { echo "--srv-host=$SRV.$1,$2,5061"; }

reason_of() {
	case $1 in
	1008) echo "Unable to resolve DNS SRV record" ;;
	1009) echo "No match for domain in DNS SRV results" ;;
	1010) echo "Certificate trust with another server could not be established" ;;
	1017) echo "Cannot route From and To domains in this combination" ;;
	1027) echo "Cannot route this type of SIP request to or from federated partners" ;;
	esac
}

# srv_queries DOMAIN : SRV queries dnsmasq got for DOMAIN so far (after a
# short settle: dnsmasq writes its log asynchronously).
srv_queries() {
	sleep 0.3
	grep -ci "query\[SRV\] $(re "$SRV.$1") from" "$RUN/dnsmasq.log"
}

# req CERT FROM [PAI] [RURI] : the next request: a MESSAGE from $NET.21
# presenting pki/CERT.crt, From FROM, P-Asserted-Identity PAI ("": none),
# Request-URI RURI (default sip:bob@example.test). Sets REQ and ID.
N=0
req() {
	se_tls_client "$1"
	N=$((N + 1)) ID=policy-$N-$$
	REQ=("${TLSARGS[@]}" --var "FROM=$2" --var "CALLID=$ID")
	if [ -n "${3:-}" ]; then REQ+=("$SCEN/policy-message-pai.sip" --var "PAI=$3")
	else REQ+=("$SCEN/message.sip"); fi
	[ -n "${4:-}" ] && REQ+=(--var "RURI=$4")
	return 0
}

# expect_forwarded DESC : REQ gets 200 from the node, and no refusal is logged.
expect_forwarded() {
	se_log_mark
	se_send "$1: 200" "${REQ[@]}" --expect 200
	se_has "$1: reached the node" "$RUN/node.msg" --received --method MESSAGE --call-id "$ID"
	se_nomatch "$1: no refusal logged" "event=inbound_rejected" \
		"$(se_log_lines "call_id=$(re "$ID")( |\$)")"
}

# expect_refused DESC STATUS CODE SLUG DOMAIN CERT_NAMES SRV_TARGETS : REQ
# gets STATUS with ms-diagnostics CODE and the matching Warning, exactly one
# event=inbound_rejected line is logged, the node never sees it.
# SRV_TARGETS: "-" no lookup (no srv_targets), "none" looked up but no
# targets (srv_targets absent or empty), else the exact list. SLUG is an
# ERE; DOMAIN "*" is any.
expect_refused() {
	local desc=$1 st=$2 code=$3 slug=$4 dom=$5 names=$6 targets=$7 why srv
	why=$(re "$(reason_of "$code")")
	if [ "$dom" = '*' ]; then dom='[^ ]+'; else dom=$(re "$dom"); fi
	case $targets in
	-)    srv= ;;
	none) srv='( srv_targets="")?' ;;
	*)    srv=" srv_targets=$(re "$targets")" ;;
	esac
	se_log_mark
	se_send "$desc: $st ($code)" "${REQ[@]}" --expect "$st" \
		--expect-header "ms-diagnostics: ^$code;reason=\"$why\";source=\"edge\\.test\"\$" \
		--expect-header "Warning: ^399 edge\\.test \"$why\"\$"
	se_wait_log "$desc: logged reason=$slug code=$code status=$st" \
		" event=inbound_rejected reason=$slug code=$code status=$st domain=$dom peer=$NETRE\\.21:[0-9]+ cert_names=$(re "$names")$srv call_id=$(re "$ID") method=MESSAGE conn=c[0-9]+\$"
	se_eq "$desc: one log line" 1 \
		"$(se_log_lines "event=inbound_rejected" "call_id=$(re "$ID")( |\$)" | wc -l)"
	se_eq "$desc: did not reach the node" 0 "$(se_count "$RUN/node.msg" --call-id "$ID")"
}

# restart GROUP=VALUE... : stop the daemon (keeping its log), start it again
# with another configuration.
PHASE=1
restart() {
	se_stop_daemon
	mv "$RUN/sipedge.log" "$RUN/sipedge.$PHASE.log"
	PHASE=$((PHASE + 1))
	se_write_conf "$@"
	se_start_daemon
}

se_start_dns --local=/test/ \
	"$(srv_host partner.test sip.partner.test)" \
	"$(srv_host sub.test sip.sub.sub.test)" \
	"$(srv_host elsewhere.test sip.other.test)" \
	"$(srv_host mismatch.test sip.mismatch.test)" \
	"$(srv_host cnonly.test sip.cnonly.test)" \
	"$(srv_host wild.test sip.wild.test)" \
	"$(srv_host open.test sip.open.test)"
se_write_conf federation='{
  discovery = false;
  allowed = ( { domain = "partner.test"; }, { domain = "sub.test"; },
              { domain = "elsewhere.test"; }, { domain = "mismatch.test"; },
              { domain = "cnonly.test"; }, { domain = "wild.test"; },
              { domain = "nosrv.test"; }, { domain = "spam.test"; },
              { domain = "lync.test"; peer = "sip.lync.test"; } );
  blocked = [ "spam.test" ];
}'
se_node_uas node-uas.xml
se_start_daemon

# ---------------------------------------------------------- discovery off

req partner sip:alice@partner.test
expect_forwarded "allowed partner.test, SRV sip.partner.test, cert names it"
se_check "an SRV query for partner.test was made" [ "$(srv_queries partner.test)" -ge 1 ]

req partner sip:someone@partner.test sip:alice@partner.test
expect_forwarded "identity in P-Asserted-Identity (same domain as From)"
se_eq "node got the P-Asserted-Identity" "<sip:alice@partner.test>" \
	"$(se_inspect "$RUN/node.msg" --received --call-id "$ID" --header P-Asserted-Identity)"

req partner sip:alice@unknown.test
expect_refused "not allowed, discovery off" 403 1027 domain_not_federated \
	unknown.test sip.partner.test -
se_eq "no SRV lookup for a domain that is not federated" 0 "$(srv_queries unknown.test)"

req partner sip:alice@x.spam.test
expect_refused "subdomain of blocked spam.test (also allowed)" 403 1027 domain_blocked \
	x.spam.test sip.partner.test -
se_eq "no SRV lookup for a blocked domain" 0 "$(srv_queries x.spam.test)"

req sub sip:alice@sub.test
expect_refused "SRV target sip.sub.sub.test (subdomain)" 403 1009 srv_not_in_domain \
	sub.test sip.sub.sub.test sip.sub.sub.test

req otherdom sip:alice@elsewhere.test
expect_refused "SRV target sip.other.test (other domain)" 403 1009 srv_not_in_domain \
	elsewhere.test sip.other.test sip.other.test

req mismatch sip:alice@mismatch.test
expect_refused "cert names only other.mismatch.test" 403 1010 certificate_mismatch \
	mismatch.test other.mismatch.test sip.mismatch.test

req sancn sip:alice@cnonly.test
expect_refused "CN sip.cnonly.test but SAN other.cnonly.test" 403 1010 certificate_mismatch \
	cnonly.test other.cnonly.test sip.cnonly.test

req wild sip:alice@wild.test
expect_refused "wildcard *.wild.test, accept_wildcards false" 403 1010 certificate_mismatch \
	wild.test '*.wild.test' sip.wild.test

req partner sip:alice@nosrv.test
expect_refused "no SRV record (NXDOMAIN)" 403 1008 no_srv_record \
	nosrv.test sip.partner.test none

req partner sip:alice@partner.test sip:alice@mismatch.test
expect_refused "From proven, PAI domain mismatch.test not" 403 1010 certificate_mismatch \
	mismatch.test sip.partner.test sip.mismatch.test

req lync sip:alice@lync.test
expect_forwarded "allowed with peer sip.lync.test, cert names it, no SRV"
se_eq "no SRV lookup for a domain with a fixed peer" 0 "$(srv_queries lync.test)"

req partner sip:alice@lync.test
expect_refused "lync.test from a cert that is not its peer" 403 1010 certificate_not_peer \
	lync.test sip.partner.test -

# SPEC names no slug and no domain for this one (From's or the R-URI's)
req partner sip:alice@partner.test "" sip:bob@elsewhere.test
expect_refused "Request-URI in a non-local domain" 403 1017 '[a-z_]+' \
	'*' sip.partner.test -

# verdict cache: per (connection, domain), for the connection's life
before=$(srv_queries partner.test)
se_tls_client partner
se_send "two MESSAGEs on one connection: 200 each" "${TLSARGS[@]}" \
	--var FROM=sip:alice@partner.test "$SCEN/message.sip" "$SCEN/message.sip" --expect 200
se_match "both answered" "STATUS 200 MESSAGE STATUS 200 MESSAGE" "${SEND_OUT//$'\n'/ }"
se_eq "exactly one SRV query for partner.test on that connection" 1 \
	$(( $(srv_queries partner.test) - before ))
before=$(srv_queries partner.test)
req partner sip:alice@partner.test
expect_forwarded "a new connection"
se_eq "a new connection looks partner.test up again" 1 $(( $(srv_queries partner.test) - before ))
# a refusal is a verdict too
before=$(srv_queries mismatch.test)
se_tls_client mismatch
se_send "two MESSAGEs from mismatch.test on one connection: 403 (1010) each" "${TLSARGS[@]}" \
	--var FROM=sip:alice@mismatch.test "$SCEN/message.sip" "$SCEN/message.sip" \
	--expect 403 --expect-header 'ms-diagnostics: ^1010;'
se_match "both answered" "STATUS 403 MESSAGE STATUS 403 MESSAGE" "${SEND_OUT//$'\n'/ }"
se_eq "exactly one SRV query for mismatch.test on that connection" 1 \
	$(( $(srv_queries mismatch.test) - before ))

se_daemon_alive

# ---------------------------------------------------------- discovery on

restart federation='{
  discovery = true;
  allowed = ( { domain = "partner.test"; } );
  blocked = [ "spam.test" ];
}' limits='{ rate_per_discovered_domain = 20; }'

req open sip:alice@open.test
expect_forwarded "discovery on, open.test not listed, SRV + cert fine"

req partner sip:alice@x.spam.test
expect_refused "blocked wins over discovery" 403 1027 domain_blocked \
	x.spam.test sip.partner.test -

# rate: 25 requests at once from a discovered domain, 20/s with burst 20
sleep 1.1                       # whatever open.test used above is back
se_log_mark
at_node=$(se_count "$RUN/node.msg" --received --method MESSAGE)
se_tls_client open
burst=()
for i in $(seq 25); do burst+=("$SCEN/message.sip"); done
se_send "25 pipelined MESSAGEs from open.test: a final response to each" \
	"${TLSARGS[@]}" --var FROM=sip:burst@open.test --pipeline --out "$RUN/burst.out" \
	--timeout 20 "${burst[@]}"
n200=$(se_count "$RUN/burst.out" --status 200)
n503=$(se_count "$RUN/burst.out" --status 503)
note "burst: $n200 x 200, $n503 x 503"
se_eq "burst: 200s + 503s = 25" 25 $((n200 + n503))
se_check "burst: some got 503 ($n503)" [ "$n503" -ge 1 ]
se_check "burst: at least the burst of 20 accepted ($n200)" [ "$n200" -ge 20 ]
# the node's 200s carry neither header: count them over the whole file
se_eq "burst: every 503 has Retry-After: <seconds>" "$n503" \
	"$(grep -Eic $'^Retry-After: *[0-9]+ *\r?$' "$RUN/burst.out")"
se_eq "burst: no ms-diagnostics on a 503 (no ms code)" 0 \
	"$(grep -Eic '^ms-diagnostics:' "$RUN/burst.out")"
sleep 0.5
se_eq "burst: the node got exactly the accepted ones" "$n200" \
	$(( $(se_count "$RUN/node.msg" --received --method MESSAGE) - at_node ))
se_eq "burst: one rate_limited line per 503 (status=503 domain=open.test, no code)" "$n503" \
	"$(se_log_lines " event=inbound_rejected reason=rate_limited status=503 domain=open\\.test peer=$NETRE\\.21:[0-9]+ " | wc -l)"

se_daemon_alive
se_stop_daemon
se_done
