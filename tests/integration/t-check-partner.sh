#!/bin/bash
# sipedge-check --cert/--key DOMAIN (the partner's answer to us) and
# sipedge-check --self EDGE.CONF (our own SRV, address, certificate), against
# the real sipedge daemon as the partner's edge, dnsmasq and the test PKI:
#   1. a certificate the partner federates with: mtls PASS, OPTIONS 200
#      (relayed by the edge to its node, played by sippeer)
#   2. a certificate of a domain the partner blocks: OPTIONS 403 with the
#      partner's ms-diagnostics 1027 shown and explained
#   3. a certificate from a CA the partner does not trust: "partner refused
#      our certificate"
#   4. --to: a MESSAGE reaching the node, 200; a node that answers OPTIONS
#      with 405: PASS with the note
#   5. --self on the partner's own edge.conf: every line PASS
#   6. --self on a broken setup: SRV target in a subdomain, SRV on the wrong
#      port, certificate without clientAuth -> those FAIL lines
#   7. a partner whose answer carries terminal escapes: printed escaped
#   8. usage errors exit 2
. "$(dirname "$0")/lib.sh"
CHECK=${SIPEDGE_CHECK:-$top_builddir/tools/sipedge-check/sipedge-check}
[ -x "$CHECK" ] || { echo "SKIP: sipedge-check not built: $CHECK"; exit 77; }
se_init 37
se_need_daemon
# The partner's edge is sip.example.test (its SRV target is <label>.example.test).
"$TOOLS/mkpki.sh" "$RUN/pki" sip.example.test || se_bail "mkpki.sh failed"
PKI=$RUN/pki
[ "$(id -u)" = 0 ] && chmod 644 "$PKI"/*.key

SRV=_sipfederationtls._tcp
E=sip.example.test:5061
WHY_1009='No match for domain in DNS SRV results'
WHY_1010='Certificate trust with another server could not be established'
WHY_1027='Cannot route this type of SIP request to or from federated partners'
WHY_1046='Failed to connect to a federated peer server'

se_start_dns --local=/test/ \
	--host-record="sip.example.test,$NET.1" \
	--srv-host="$SRV.example.test,sip.example.test,5061" \
	--srv-host="$SRV.partner.test,sip.partner.test,5061" \
	--srv-host="$SRV.tac.test,vcse.sub.tac.test,5062" \
	--host-record="vcse.sub.tac.test,$NET.28"

# The partner's edge: federates with partner.test (sip.partner.test's
# certificate proves it), blocks other.test; its node imp1 is $NET.11:5062.
se_write_conf edge='{ fqdn = "sip.example.test"; }' \
	federation='{
  allowed = ( { domain = "partner.test"; peer = "sip.partner.test"; port = 5061; },
              { domain = "other.test"; peer = "sip.other.test"; port = 5061; } );
  blocked = [ "other.test" ];
}'
se_start_daemon
NODE_PID=
node() {
	[ -n "$NODE_PID" ] && se_kill "$NODE_PID"
	SE_SEQ=$((SE_SEQ + 1))
	se_serve "node$SE_SEQ" "$NET.11:5062" --timeout 300 "$@"
	NODE_PID=$BG_PID
	NODE_REC=$RUN/node$SE_SEQ.rec
}
node

# chk NAME [sipedge-check args] : bounded run with the test DNS and CA
chk() {
	local name=$1; shift
	timeout 60 "$CHECK" --dns "$NET.53:$DNS_PORT" --ca "$PKI/ca.crt" "$@" \
		>"$RUN/chk-$name.out" 2>"$RUN/chk-$name.err"
	RC=$?
	OUT=$(cat "$RUN/chk-$name.out")
	note "sipedge-check $* -> exit $RC"
	sed 's/^/#   /' "$RUN/chk-$name.out" "$RUN/chk-$name.err"
}
has() {
	if printf '%s\n' "$OUT" | grep -Fxq -- "$2"; then ok "$1"
	else not_ok "$1 (no line '$2')"; fi
}
has_re() {
	if printf '%s\n' "$OUT" | grep -Eq -- "^$2\$"; then ok "$1"
	else not_ok "$1 (no line matching /^$2\$/)"; fi
}
shape() { printf '%s\n' "$OUT" | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'; }
fails() { printf '%s\n' "$OUT" | grep '^FAIL'; }
me() { echo --cert "$PKI/$1.crt" --key "$PKI/$1.key"; }
ALL_PASS="PASS srv, PASS srv-domain, PASS address, PASS connect, WARN tls, PASS chain, PASS name, PASS validity, PASS eku, PASS key"
PARTNER_SUBJ='CN=sip.partner.test,O=sipedge tests'

# ------------------------------------------------------------ 1. allowed
chk allowed example.test $(me partner) --timeout 5
se_eq "allowed: exit 0" 0 "$RC"
se_eq "allowed: the outside checks, then mtls and options" \
	"$ALL_PASS, PASS mtls, PASS options" "$(shape)"
has_re "allowed: mtls PASS, our certificate and From" \
	"PASS  mtls           $(re "$E"): partner accepted our certificate \"$(re "$PARTNER_SUBJ")\" \\(TLSv1\\.[23]\\), From sip:check@partner\\.test"
has "allowed: OPTIONS 200" "PASS  options        $E: partner answers OPTIONS: 200 OK"
se_has "allowed: the node got our OPTIONS sip:example.test" "$NODE_REC" --method OPTIONS
se_match "allowed: From our domain, with a tag" '^<sip:check@partner\.test>;tag=[0-9a-f]+$' \
	"$(se_inspect "$NODE_REC" --method OPTIONS --header From)"
se_eq "allowed: the request URI" "OPTIONS sip:example.test SIP/2.0" \
	"$(se_inspect "$NODE_REC" --method OPTIONS --start-line)"

# --json: the partner checks are checks like the others
chk json example.test $(me partner) --json --timeout 5
se_eq "--json: exit 0" 0 "$RC"
se_eq "--json: mtls and options last, options' message" \
	"PASS mtls|PASS options|$E: partner answers OPTIONS: 200 OK" \
	"$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"]; print(*[x["status"]+" "+x["check"] for x in c[-2:]], c[-1]["message"], sep="|")' "$RUN/chk-json.out" 2>&1)"

# --from
chk from example.test $(me partner) --from boss@partner.test --timeout 5
se_eq "--from: exit 0" 0 "$RC"
se_match "--from: the node saw that From" '^<sip:boss@partner\.test>;tag=' \
	"$(se_inspect "$NODE_REC" --method OPTIONS --index -1 --header From)"

# ------------------------------------------------------------ 2. blocked
chk blocked example.test $(me otherdom) --timeout 5
se_eq "blocked: exit 1" 1 "$RC"
has_re "blocked: our certificate is accepted at the TLS level" \
	"PASS  mtls           $(re "$E"): partner accepted our certificate \"CN=sip\\.other\\.test,O=sipedge tests\" \\(TLSv1\\.[23]\\), From sip:check@other\\.test"
has_re "blocked: OPTIONS 403 with the partner's ms-diagnostics 1027 explained" \
	"FAIL  options        $(re "$E"): partner answers OPTIONS: 403 Forbidden — ms-diagnostics 1027: the partner does not federate with our domain \\(not in its allowed list, or blocked\\): ask its administrator to add us \\(partner said: 1027;reason=\"$(re "$WHY_1027")\".*\\) \\[1027 $(re "$WHY_1027")\\]"
se_eq "blocked: the only FAIL" 1 "$(fails | wc -l)"

# ------------------------------------------------------------ 3. untrusted
chk untrusted example.test $(me untrusted) --timeout 5
se_eq "untrusted CA: exit 1" 1 "$RC"
has_re "untrusted CA: partner refused our certificate" \
	"FAIL  mtls           $(re "$E"): partner refused our certificate \\(alert \"unknown CA\"\\): it does not accept \"$(re "$PARTNER_SUBJ")\" \\[1010 $(re "$WHY_1010")\\]"
se_eq "untrusted CA: no options line after the refusal" \
	"$ALL_PASS, FAIL mtls" "$(shape)"

# ------------------------------------------------------------ 4. --to
chk message example.test $(me partner) --to alice@example.test --timeout 5
se_eq "--to: exit 0" 0 "$RC"
has "--to: MESSAGE 200" "PASS  message        $E: partner answers MESSAGE: 200 OK"
se_has "--to: the node got the MESSAGE" "$NODE_REC" --method MESSAGE
se_eq "--to: its request URI" "MESSAGE sip:alice@example.test SIP/2.0" \
	"$(se_inspect "$NODE_REC" --method MESSAGE --start-line)"
se_eq "--to: text/plain" "text/plain;charset=utf-8" \
	"$(se_inspect "$NODE_REC" --method MESSAGE --header Content-Type)"

# the exchanges and a refusal under valgrind
if command -v valgrind >/dev/null 2>&1; then
	for c in partner untrusted; do
		timeout 120 valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,possible "$CHECK" \
			--dns "$NET.53:$DNS_PORT" --ca "$PKI/ca.crt" --timeout 5 $(me $c) \
			--to alice@example.test example.test \
			>"$RUN/valgrind-$c.out" 2>"$RUN/valgrind-$c.err"
		RC=$?
		want=0
		[ $c = partner ] || want=1      # its FAIL
		se_eq "valgrind, --cert $c --to: exit $want, no memory errors or leaks" "$want" "$RC"
		sed 's/^/#   /' "$RUN/valgrind-$c.err"
	done
else
	note "valgrind not installed: memory check skipped"
fi

node --respond-method OPTIONS=405 --respond-method MESSAGE=480
chk noopt example.test $(me partner) --to alice@example.test --timeout 5
se_eq "405 to OPTIONS, 480 to MESSAGE: exit 1" 1 "$RC"
has_re "405 to OPTIONS: PASS with the note" \
	"PASS  options        $(re "$E"): partner answers OPTIONS: 405 [A-Za-z ]+ \\(reachable, and it accepted us, but it does not take OPTIONS itself\\)"
has_re "480 to MESSAGE: FAIL" \
	"FAIL  message        $(re "$E"): partner answers MESSAGE: 480 [A-Za-z ]+"

node --respond 0
chk silent example.test $(me partner) --timeout 2
se_eq "no answer: exit 1" 1 "$RC"
has "no answer: bounded wait" \
	"FAIL  options        $E: partner answers OPTIONS: no final response within 2 s"

# ------------------------------------------------------------ 5. --self, good
chk self --self "$RUN/edge.conf"
se_eq "--self on the partner's own edge.conf: exit 0" 0 "$RC"
se_eq "--self: every line PASS" \
	"PASS conf, PASS srv, PASS srv-domain, PASS srv-edge, PASS address, PASS chain, PASS name, PASS validity, PASS eku, PASS key" \
	"$(shape)"
has "--self: conf line" \
	"PASS  conf           $RUN/edge.conf: edge.fqdn sip.example.test, external listener port 5061, domains example.test, certificate $RUN/pki/edge.crt"
has "--self: srv-edge line" \
	"PASS  srv-edge       $SRV.example.test -> $E: this edge's external listener"
has "--self: name line" \
	"PASS  name           $E: certificate names sip.example.test (names: sip.example.test)"
has "--self: chain through the configured ca_file" \
	"PASS  chain          $E: issued through 2 certificate(s) up to \"CN=sipedge test federation CA,O=sipedge tests\", trusted by $RUN/pki/ca.crt"

if command -v valgrind >/dev/null 2>&1; then
	timeout 120 valgrind -q --error-exitcode=99 --leak-check=full \
		--errors-for-leak-kinds=definite,possible "$CHECK" \
		--dns "$NET.53:$DNS_PORT" --self "$RUN/edge.conf" \
		>"$RUN/valgrind-self.out" 2>"$RUN/valgrind-self.err"
	se_eq "valgrind, --self: no memory errors or leaks" 0 "$?"
	sed 's/^/#   /' "$RUN/valgrind-self.err"
fi

chk self-missing --self "$RUN/no-such.conf"
se_eq "--self on a missing file: exit 1" 1 "$RC"
has "--self on a missing file: conf FAIL" \
	"FAIL  conf           $RUN/no-such.conf: cannot read it: No such file or directory"
printf 'edge = { fqdn = "sip.example.test" ;\n' >"$RUN/broken.conf"
chk self-syntax --self "$RUN/broken.conf"
se_eq "--self on a syntax error: exit 1" 1 "$RC"
has_re "--self on a syntax error: conf FAIL with file and line" \
	"FAIL  conf           $(re "$RUN/broken.conf"):[12]: .*"

# ------------------------------------------------------------ 6. --self, broken
# sip.partner.test serving partner.test (SRV on 5061) and tac.test (SRV to
# vcse.sub.tac.test), listening on 5062, with a serverAuth-only certificate
SE_CONF=$RUN/self-bad.conf se_write_conf edge='{ fqdn = "sip.partner.test"; }' \
	tls='{ external = { certificate = "pki/noclientauth.crt"; private_key = "pki/noclientauth.key"; ca_file = "pki/ca.crt"; }; }' \
	listen="( { zone = \"external\"; address = \"$NET.21\"; port = 5062; transport = \"tls\"; } )" \
	internal='{ domains = [ "partner.test", "tac.test" ]; }'
B=sip.partner.test:5062
timeout 60 "$CHECK" --dns "$NET.53:$DNS_PORT" --self "$RUN/self-bad.conf" \
	>"$RUN/chk-self-bad.out" 2>&1
RC=$?
OUT=$(cat "$RUN/chk-self-bad.out")
sed 's/^/#   /' "$RUN/chk-self-bad.out"
se_eq "--self broken: exit 1" 1 "$RC"
has "--self broken: SRV on the wrong port" \
	"FAIL  srv-edge       $SRV.partner.test points to sip.partner.test:5061, but the external listener is on port 5062: partners will connect to the wrong port [1046 $WHY_1046]"
has "--self broken: SRV target in a subdomain" \
	"FAIL  srv-domain     vcse.sub.tac.test is not <label>.tac.test [1009 $WHY_1009]"
has "--self broken: that domain's SRV is not this edge" \
	"FAIL  srv-edge       $SRV.tac.test does not point to this edge ($B); its targets: vcse.sub.tac.test:5062"
has "--self broken: certificate without clientAuth" \
	"FAIL  eku            $B: extendedKeyUsage lacks clientAuth (has: serverAuth); the edge uses the same certificate as TLS server and as TLS client, so peers require both [1010 $WHY_1010]"
se_eq "--self broken: exactly those FAILs" 4 "$(fails | wc -l)"

se_daemon_alive
se_stop_daemon

# ------------------------------------------------------------ 7. hostile
# A partner edge (sippeer, mutual TLS) whose answers carry terminal escapes
# and an unknown code: printed escaped, never raw.
SE_SEQ=$((SE_SEQ + 1))
se_tls_peer hostile "$NET.21:5061" partner --respond 403 \
	--respond-header $'ms-diagnostics: 9999;reason="\e[2J\e]0;owned\a";source="x"' \
	--respond-header $'Warning: 399 sip.partner.test "\e[31mred"'
P=sip.partner.test:5061
chk hostile partner.test $(me edge) --timeout 3
se_eq "hostile partner: exit 1" 1 "$RC"
has "hostile partner: the unknown code and its text shown escaped, no bracket" \
	"FAIL  options        $P: partner answers OPTIONS: 403 Forbidden — ms-diagnostics: 9999;reason=\"\\x1b[2J\\x1b]0;owned\\x07\";source=\"x\""
se_nomatch "hostile partner: no raw control character reaches the output" \
	$'[\x01-\x08\x0b-\x1f\x7f]' "$(cat "$RUN/chk-hostile.out")"
se_match "hostile partner: it got our OPTIONS, From our certificate's domain" \
	'^<sip:check@example\.test>;tag=[0-9a-f]+$' \
	"$(se_inspect "$RUN/hostile.rec" --method OPTIONS --header From)"

# ------------------------------------------------------------ 8. usage
usage() {
	timeout 10 "$CHECK" "$@" >"$RUN/usage.out" 2>&1
	se_eq "usage error exits 2: sipedge-check $*" 2 "$?"
}
usage --cert "$PKI/partner.crt" example.test
usage --key "$PKI/partner.key" example.test
usage --to alice@example.test example.test
usage $(me partner) --to 'alice' example.test
usage $(me partner) --from 'a b@partner.test' example.test
usage --cert "$PKI/partner.crt" --key "$PKI/srv.key" example.test
usage --self "$RUN/edge.conf" example.test
usage --self "$RUN/edge.conf" $(me partner)

se_done
