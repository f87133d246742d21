#!/bin/bash
# testssl.sh against the external listener (issue 7 item 6): with the
# default TLS settings no SSLv2/SSLv3/TLS 1.0/TLS 1.1, no NULL, aNULL,
# EXPORT, LOW, RC4 or 3DES ciphers, forward secrecy, RFC 5746 secure
# renegotiation and no client-initiated renegotiation, no TLS compression,
# none of the known vulnerabilities. Then the documented legacy opt-in
# (tls.external min_version = "TLSv1") must really offer TLS 1.0.
# testssl.sh (Debian package testssl.sh) runs with a client certificate:
# --mtls where it has it (3.1+), else through abuse_openssl_mtls.sh.
# Runtime: about 80 s (three bounded testssl runs).
. "$(dirname "$0")/lib.sh"
se_init 25
TESTSSL=$(command -v testssl || command -v testssl.sh) || se_skip "testssl.sh is not installed"
se_pki
note "$("$TESTSSL" --version 2>/dev/null | sed 's/\x1b\[[0-9;]*m//g' | grep -o 'testssl[^ ]* *[0-9][^ ]*' | head -n 1)"

MTLS=()
if "$TESTSSL" --help 2>&1 | grep -q -- '--mtls'; then
	cat "$PKI/partner.crt" "$PKI/partner.key" >"$RUN/partner-mtls.pem"
	MTLS=(--mtls "$RUN/partner-mtls.pem")
else
	export MTLS_CERT=$PKI/partner.crt MTLS_KEY=$PKI/partner.key
	MTLS=(--openssl "$TOOLS/abuse_openssl_mtls.sh")
fi

# testssl NAME SECONDS CHECKS... : run it against $NET.1:5061 (SNI edge.test),
# JSON findings in $RUN/NAME.json, output in $RUN/NAME.out
testssl() {
	local name=$1 limit=$2 t0=$SECONDS; shift 2
	rm -f "$RUN/$name.json"
	( cd "$RUN" && exec timeout "$limit" "$TESTSSL" "${MTLS[@]}" --warnings off --quiet \
		--color 0 --nodns none --ip "$NET.1" --add-ca "$PKI/ca.crt" \
		--openssl-timeout 5 --connect-timeout 5 --jsonfile "$RUN/$name.json" \
		"$@" edge.test:5061 ) </dev/null >"$RUN/$name.out" 2>&1
	note "testssl $*: exit $?, $((SECONDS - t0)) s"
	se_check "testssl ($name) finished and wrote its JSON" \
		python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); sys.exit(not any(x["id"] == "scanTime" for x in d))' \
		"$RUN/$name.json"
}
# finding NAME ID : testssl's finding for ID ("" if absent)
finding() {
	python3 - "$RUN/$1.json" "$2" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
for x in d:
    if x["id"] == sys.argv[2]:
        print(x["finding"])
        break
EOF
}
# expect NAME ID ERE DESC
expect() { se_match "$4 [$2: $(finding "$1" "$2")]" "$3" "$(finding "$1" "$2")"; }
# serious NAME : findings of severity HIGH or CRITICAL, certificate checks
# aside (the test PKI has no CRL or OCSP URI by design)
serious() {
	python3 - "$RUN/$1.json" <<'EOF'
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except Exception:
    sys.exit(0)
for x in d:
    if x["severity"] in ("HIGH", "CRITICAL") and not x["id"].startswith("cert"):
        print("%s: %s" % (x["id"], x["finding"]))
EOF
}

# ---------------------------------------------------------- defaults
se_write_conf
se_start_daemon
se_log_mark
testssl default 300 -p -s -f -S -U
for p in SSLv2 SSLv3; do expect default $p '^not offered' "defaults: $p not offered"; done
expect default TLS1 '^not offered' "defaults: TLS 1.0 not offered"
expect default TLS1_1 '^not offered' "defaults: TLS 1.1 not offered"
expect default TLS1_2 '^offered' "defaults: TLS 1.2 offered"
for c in NULL aNULL EXPORT LOW 3DES_IDEA; do
	expect default cipherlist_$c '^not offered' "defaults: no $c ciphers"
done
expect default RC4 '^not vulnerable' "defaults: no RC4 ciphers"
expect default PFS '^offered' "defaults: forward secrecy offered"
# RFC 5746 support is the safe state ("not supported" would be the hole);
# renegotiation started by the client must be refused
expect default secure_renego '^supported' "defaults: secure renegotiation (RFC 5746) supported"
expect default secure_client_renego '^not vulnerable' "defaults: client-initiated renegotiation refused"
expect default CRIME_TLS '^not vulnerable' "defaults: no TLS compression (CRIME)"
for v in heartbleed CCS ROBOT POODLE_SSL SWEET32 FREAK DROWN LOGJAM BEAST fallback_SCSV; do
	expect default $v '^(not vulnerable|no protocol below)' "defaults: $v"
done
se_eq "defaults: no HIGH or CRITICAL finding (certificate checks aside)" "" "$(serious default)"
# the client certificate really was presented: no handshake of the scan
# failed for want of one (testssl's own sockets send none, but those only
# look at the ServerHello)
se_eq "defaults: testssl presented its client certificate" "" \
	"$(se_log_lines 'event=tls_handshake_failed' 'reason=no_client_certificate' | head -n 3)"
se_daemon_alive "defaults: sipedge survived the scan"
se_stop_daemon

# ---------------------------------------------------------- legacy opt-in
tls_conf() {   # EXTRA-SETTINGS : tls group with these in tls.external
	echo "{
  external = { certificate = \"pki/edge.crt\"; private_key = \"pki/edge.key\"; ca_file = \"pki/ca.crt\"; $1 };
  internal = { certificate = \"pki/edge-internal.crt\"; private_key = \"pki/edge-internal.key\"; ca_file = \"pki/internal-ca.crt\"; };
}"
}
# as edge.conf(5) documents it: min_version alone
mv "$RUN/sipedge.log" "$RUN/sipedge.1.log"
se_write_conf "tls=$(tls_conf 'min_version = "TLSv1";')"
se_start_daemon
testssl minversion 120 -p
expect minversion TLS1 '^offered' "min_version = TLSv1: TLS 1.0 offered"
expect minversion TLS1_1 '^offered' "min_version = TLSv1: TLS 1.1 offered"
se_stop_daemon

# with the cipher list opened too (OpenSSL 3 wants security level 0 for
# TLS 1.0/1.1 signatures; 3DES asked for where OpenSSL still has it)
mv "$RUN/sipedge.log" "$RUN/sipedge.2.log"
legacy='HIGH:3DES:!aNULL:!MD5:@SECLEVEL=0'
se_write_conf "tls=$(tls_conf "min_version = \"TLSv1\"; ciphers = \"$legacy\";")"
se_start_daemon
testssl legacy 180 -p -s
expect legacy TLS1 '^offered' "legacy ($legacy): TLS 1.0 offered"
expect legacy TLS1_1 '^offered' "legacy: TLS 1.1 offered"
expect legacy TLS1_2 '^offered' "legacy: TLS 1.2 still offered"
for p in SSLv2 SSLv3; do expect legacy $p '^not offered' "legacy: $p still not offered"; done
for c in NULL aNULL EXPORT; do
	expect legacy cipherlist_$c '^not offered' "legacy: still no $c ciphers"
done
if openssl ciphers '3DES:@SECLEVEL=0' >/dev/null 2>&1; then
	expect legacy cipherlist_3DES_IDEA '^offered' "legacy: 3DES offered"
else
	note "this OpenSSL ($(openssl version)) has no 3DES cipher suites: 3DES not checked"
fi
se_daemon_alive
se_stop_daemon
se_done
