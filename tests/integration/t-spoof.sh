#!/bin/bash
# Spoofing at the external listener (issue 7 item 5): a federated peer may
# only speak for the domains its certificate proves, only to local domains,
# never through the edge to internal addresses or to other domains, and
# only with a certificate that is valid, trusted and its own. Each attempt
# is refused with the right status, ms-diagnostics code and log event, and
# never reaches the node (a sippeer UAS on $NET.11:5062 recording all).
#   partner.test   allowed, peer sip.partner.test (cert partner)
#   other.test     allowed, SRV sip.other.test     (cert otherdom)
#   sub.test       allowed, SRV sip.sub.sub.test   (cert sub: a subdomain)
#   elsewhere.test allowed, SRV sip.other.test     (another domain)
#   wild.test      allowed, SRV sip.wild.test      (cert wild: *.wild.test)
#   unlisted.test  not federated (discovery off)
. "$(dirname "$0")/lib.sh"
se_init 24
se_pki
SRV=_sipfederationtls._tcp
srv_host() { echo "--srv-host=$SRV.$1,$2,5061"; }

reason_of() {
	case $1 in
	1009) echo "No match for domain in DNS SRV results" ;;
	1010) echo "Certificate trust with another server could not be established" ;;
	1017) echo "Cannot route From and To domains in this combination" ;;
	1027) echo "Cannot route this type of SIP request to or from federated partners" ;;
	esac
}
at_node() { se_count "$RUN/node.rec" --received --call-id "$1"; }

# refused DESC STATUS CODE SLUG-ERE CERT [sippeer send args...] : a MESSAGE
# from $NET.21 presenting pki/CERT gets STATUS with ms-diagnostics CODE and
# its Warning, one event=inbound_rejected line with reason SLUG and code
# CODE is logged, and the node never sees it. Call-ID: $ID.
N=0
refused() {
	local desc=$1 st=$2 code=$3 slug=$4 cert=$5 why
	shift 5
	N=$((N + 1)) ID=spoof-$N-$$
	why=$(re "$(reason_of "$code")")
	se_tls_client "$cert"
	se_log_mark
	se_send "$desc: $st ($code)" "${TLSARGS[@]}" --var CALLID=$ID "$@" --expect "$st" \
		--expect-header "ms-diagnostics: ^$code;reason=\"$why\";source=\"edge\\.test\"\$" \
		--expect-header "Warning: ^399 edge\\.test \"$why\"\$"
	se_wait_log "$desc: logged reason=$slug code=$code" \
		" event=inbound_rejected reason=$slug code=$code status=$st .*call_id=$(re "$ID") "
	se_eq "$desc: one log line" 1 \
		"$(se_log_lines "event=inbound_rejected" "call_id=$(re "$ID")( |\$)" | wc -l)"
	se_eq "$desc: did not reach the node" 0 "$(at_node "$ID")"
}
# accepted DESC CERT [args...] : the control case: 200 from the node
accepted() {
	local desc=$1 cert=$2
	shift 2
	N=$((N + 1)) ID=spoof-$N-$$
	se_tls_client "$cert"
	se_send "$desc: 200" "${TLSARGS[@]}" --var CALLID=$ID "$@" --expect 200
	se_eq "$desc: reached the node" 1 "$(at_node "$ID")"
}
MSG=$SCEN/message.sip
PAI=$SCEN/policy-message-pai.sip

se_start_dns --local=/test/ \
	"$(srv_host other.test sip.other.test)" \
	"$(srv_host sub.test sip.sub.sub.test)" \
	"$(srv_host elsewhere.test sip.other.test)" \
	"$(srv_host wild.test sip.wild.test)"
se_write_conf federation='{
  discovery = false;
  allowed = ( { domain = "partner.test"; peer = "sip.partner.test"; },
              { domain = "other.test"; }, { domain = "sub.test"; },
              { domain = "elsewhere.test"; }, { domain = "wild.test"; } );
}'
se_serve node "$NET.11:5062" --timeout 600
se_start_daemon

# ---------------------------------------------------------- identities
accepted "control: partner cert, From partner.test" partner "$MSG"
accepted "control: otherdom cert (sip.other.test), From other.test" otherdom "$MSG" \
	--var FROM=sip:alice@other.test

# partner.test's certificate speaking for other domains. Which code depends
# on the claimed domain: one the edge federates with (other.test, proven by
# its SRV target sip.other.test) is refused because the certificate does
# not prove it (1010); one it does not federate with at all (unlisted.test,
# discovery off) is refused as not federated (1027), before any proof.
refused "partner cert, From other.test (federated, not proven)" 403 1010 certificate_mismatch \
	partner "$MSG" --var FROM=sip:alice@other.test
refused "partner cert, From unlisted.test (not federated)" 403 1027 domain_not_federated \
	partner "$MSG" --var FROM=sip:alice@unlisted.test
refused "From partner.test, P-Asserted-Identity other.test" 403 1010 certificate_mismatch \
	partner "$PAI" --var FROM=sip:alice@partner.test --var PAI=sip:boss@other.test
refused "From partner.test, P-Asserted-Identity unlisted.test" 403 1027 domain_not_federated \
	partner "$PAI" --var FROM=sip:alice@partner.test --var PAI=sip:boss@unlisted.test
refused "From partner.test, P-Asserted-Identity tel: (cannot be proven)" 403 1027 identity_not_sip \
	partner "$PAI" --var FROM=sip:alice@partner.test --var PAI=tel:+15551234

# every identity counts: more than the edge checks (From + 4 PAI) is refused
sed 's/^P-Asserted-Identity: .*$/P-Asserted-Identity: <sip:a@partner.test>, <sip:b@partner.test>, <sip:c@partner.test>, <sip:d@partner.test>, <sip:boss@other.test>/' \
	"$PAI" >"$RUN/pai5.sip"
refused "four P-Asserted-Identity in partner.test, the fifth in other.test" 403 1027 too_many_identities \
	partner "$RUN/pai5.sip" --var FROM=sip:alice@partner.test --var PAI=unused

# a long domain is not a domain of partner.test because its first 127
# characters happen to end in .partner.test
long=$(printf 'a%.0s' $(seq 60)).$(printf 'b%.0s' $(seq 53)).partner.test
long=$long.attacker.test
se_eq "(the long domain's first 127 characters end in .partner.test)" \
	partner.test "$(echo "${long:0:127}" | grep -o 'partner\.test$')"
refused "From $((${#long})) characters: ....partner.test.attacker.test" 403 1027 '[a-z_]+' \
	partner "$MSG" --var "FROM=sip:alice@$long"

# SRV targets that do not count (Microsoft's rule: <label>.<domain>)
refused "SRV target in a subdomain (sip.sub.sub.test for sub.test)" 403 1009 srv_not_in_domain \
	sub "$MSG" --var FROM=sip:alice@sub.test
refused "SRV target in another domain (sip.other.test for elsewhere.test)" 403 1009 srv_not_in_domain \
	otherdom "$MSG" --var FROM=sip:alice@elsewhere.test
# a wildcard certificate proves no name (accept_wildcards is false)
refused "wildcard certificate *.wild.test for wild.test" 403 1010 certificate_mismatch \
	wild "$MSG" --var FROM=sip:alice@wild.test

# ---------------------------------------------------------- certificates
# tls_refused DESC CERT SLUG [sippeer args] : the handshake is refused and
# logged as tls_handshake_failed with reason=SLUG, nothing reaches the node
tls_refused() {
	local desc=$1 cert=$2 slug=$3
	shift 3
	N=$((N + 1)) ID=spoof-$N-$$
	se_tls_client "$cert"
	se_log_mark
	se_send "$desc: TLS handshake refused" "${TLSARGS[@]}" --var CALLID=$ID "$@" \
		--expect-handshake-failure "$MSG" --timeout 5
	se_wait_log "$desc: logged tls_handshake_failed reason=$slug" \
		"event=tls_handshake_failed zone=external peer=$NETRE\\.21:[0-9]+ reason=$slug( |\$)"
	se_eq "$desc: did not reach the node" 0 "$(at_node "$ID")"
}
tls_refused "expired certificate" expired certificate_expired
tls_refused "certificate not yet valid (2099)" notyet certificate_not_yet_valid
tls_refused "certificate from an untrusted CA" untrusted unknown_ca
tls_refused "self-signed certificate" selfsigned unknown_ca
tls_refused "no client certificate" none no_client_certificate
tls_refused "no client certificate, TLS 1.2" none no_client_certificate --tls-version 1.2
tls_refused "expired certificate, TLS 1.2" expired certificate_expired --tls-version 1.2

# ---------------------------------------------------------- no SSRF, no relay
# Request-URI at the node's internal address, the internal listener, or
# another external domain: 1017, and nothing goes anywhere
# (To stays sip:bob@example.test: the responses echo To, and t-bytescan
# would rightly object to an internal address in what a peer received)
sed 's/^To: .*/To: <sip:bob@example.test>/' "$MSG" >"$RUN/ruri.sip"
refused "Request-URI at the node's internal address $NET.11:5062" 403 1017 '[a-z_]+' \
	partner "$RUN/ruri.sip" --var "RURI=sip:bob@$NET.11:5062;transport=tcp"
refused "Request-URI at the internal listener $NET.2:5060" 403 1017 '[a-z_]+' \
	partner "$RUN/ruri.sip" --var "RURI=sip:bob@$NET.2:5060"
refused "Request-URI in another external domain (open relay)" 403 1017 '[a-z_]+' \
	partner "$RUN/ruri.sip" --var RURI=sip:bob@elsewhere.test
refused "Request-URI edge.test on a port that maps to no node" 403 1017 '[a-z_]+' \
	partner "$RUN/ruri.sip" --var RURI=sip:bob@edge.test:5999
# Route: the edge must not honour (or pass on) a foreign Route either
route_msg() {   # FILE ROUTE
	awk -v r="$2" '{ print } /^Max-Forwards:/ { print "Route: " r }' "$MSG" >"$1"
}
route_msg "$RUN/route-node.sip" "<sip:$NET.11:5062;transport=tcp;lr>"
refused "Route at the node's internal address $NET.11:5062" 403 1017 '[a-z_]+' \
	partner "$RUN/route-node.sip"
# another internal address (a trap listening on $NET.99:5062): whatever the
# answer, the edge itself must never connect there
se_serve trap "$NET.99:5062" --timeout 600
route_msg "$RUN/route-trap.sip" "<sip:$NET.99:5062;transport=tcp;lr>"
refused "Route at another internal address $NET.99:5062" 403 1017 '[a-z_]+' \
	partner "$RUN/route-trap.sip"
sleep 0.5
se_eq "Route at $NET.99:5062: the edge never connected there (no SSRF)" 0 \
	"$(cat "$RUN/trap.conns" 2>/dev/null || echo 0)"
route_msg "$RUN/route-ext.sip" "<sip:sip.elsewhere.test:5061;transport=tls;lr>"
refused "Route at another external domain (open relay)" 403 1017 '[a-z_]+' \
	partner "$RUN/route-ext.sip"
sleep 0.3       # dnsmasq logs asynchronously
se_eq "Route at another external domain: the edge did not even look it up (no SSRF)" 0 \
	"$(grep -c 'sip\.elsewhere\.test' "$RUN/dnsmasq.log")"

# the internal listener is for the configured nodes only
N=$((N + 1)) ID=spoof-$N-$$
se_log_mark
se_send_any "internal listener from $NET.21 (not a node): connection closed" '^CLOSED' \
	--connect "$NET.2:5060" --bind "$NET.21" "$MSG" --var CALLID=$ID --expect-close --timeout 5
se_wait_log "internal listener: logged connection_refused" \
	"event=connection_refused zone=internal peer=$NETRE\\.21:[0-9]+ reason=\"not a configured node\""
se_eq "internal listener: did not reach the node" 0 "$(at_node "$ID")"

# ---------------------------------------------------------- trust marker
N=$((N + 1)) ID=spoof-$N-$$
awk '{ print } /^Max-Forwards:/ {
	print "ms-edge-proxy-message-trust: ms-source-type=EdgeProxy;ms-ep-fqdn=edge.test;ms-source-network=federation"
	print "MS-EDGE-PROXY-MESSAGE-TRUST: ms-source-type=InternalUser"
	print "Ms-Edge-Proxy-Message-Trust : ms-source-type=AutoProvisioned" }' "$MSG" >"$RUN/trust.sip"
se_tls_client partner
se_send "injected ms-edge-proxy-message-trust (3 spellings): forwarded, 200" "${TLSARGS[@]}" \
	--var CALLID=$ID "$RUN/trust.sip" --expect 200
se_eq "trust marker: the node got the request" 1 "$(at_node "$ID")"
se_eq "trust marker: removed, the node's copy has none" 0 \
	"$(se_inspect "$RUN/node.rec" --received --call-id "$ID" --count-header ms-edge-proxy-message-trust)"
se_nomatch "trust marker: not in the node's raw copy in any spelling" 'ms-edge-proxy-message-trust' \
	"$(se_inspect "$RUN/node.rec" --received --call-id "$ID" --raw | tr 'A-Z' 'a-z')"

se_daemon_alive
se_stop_daemon
se_done
