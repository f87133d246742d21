#!/bin/bash
# sipedge-check DOMAIN against the test DNS and PKI: a good domain passes
# every check (exit 0), and each classic federation mistake gives the exact
# FAIL line and ms-diagnostics code a peer would log (exit 1):
#   1. good domain; mutual-TLS servers (TLS 1.3 and 1.2) are a WARN only;
#      --json; --service; the real sipedge as the server
#   2. DNS: no SRV (NXDOMAIN, no SRV record, "." target), DNS down (1008);
#      SRV target in a subdomain, in another domain, mixed (1009);
#      target without an address (1046)
#   3. TCP/TLS: nothing listening (1046), plain TCP (1047)
#   4. certificate: wrong name, untrusted CA, not in the system store
#      (1010), expired (clock hint), expiring soon (WARN), no clientAuth
#   5. usage errors exit 2
# (and, when valgrind is installed, two runs under valgrind)
. "$(dirname "$0")/lib.sh"
CHECK=${SIPEDGE_CHECK:-$top_builddir/tools/sipedge-check/sipedge-check}
[ -x "$CHECK" ] || { echo "SKIP: sipedge-check not built: $CHECK"; exit 77; }
se_init 18
se_pki

SRV=_sipfederationtls._tcp
WHY_1008='Unable to resolve DNS SRV record'
WHY_1009='No match for domain in DNS SRV results'
WHY_1010='Certificate trust with another server could not be established'
WHY_1046='Failed to connect to a federated peer server'
WHY_1047='Failed to complete TLS negotiation with a federated peer server'
CA_SUBJ='CN=sipedge test federation CA,O=sipedge tests'

# Addresses: .21 sip.partner.test (restarted with each certificate to test)
#   srv.test   -> sip.srv.test (.22, good) + vcse.sub.srv.test (bad)
#   down.test  -> sip.down.test (.24): nothing listens
#   plain.test -> sip.plain.test (.26): plain TCP
#   wrong.test -> sip.wrong.test (.27): certificate for other.partner.test
#   tac.test   -> vcse.sub.tac.test (.28): must never be dialled
#   elsewhere.test -> sip.partner.test: another domain
#   noaddr.test -> sip.noaddr.test: no A/AAAA
#   nosrv.test: NXDOMAIN; nodata.test: TXT only; dot.test: target "."
#   test -> edge.test (.1): the sipedge daemon itself
se_start_dns --local=/test/ \
	--host-record="sip.srv.test,$NET.22" --host-record="vcse.sub.srv.test,$NET.28" \
	--host-record="sip.down.test,$NET.24" --host-record="sip.plain.test,$NET.26" \
	--host-record="sip.wrong.test,$NET.27" --host-record="vcse.sub.tac.test,$NET.28" \
	--host-record="edge.test,$NET.1" \
	--srv-host="$SRV.partner.test,sip.partner.test,5061,10,10" \
	--srv-host="_sipinternaltls._tcp.partner.test,sip.partner.test,5061,0,0" \
	--srv-host="$SRV.srv.test,sip.srv.test,5061,10,0" \
	--srv-host="$SRV.srv.test,vcse.sub.srv.test,5061,20,0" \
	--srv-host="$SRV.down.test,sip.down.test,5061" \
	--srv-host="$SRV.plain.test,sip.plain.test,5061" \
	--srv-host="$SRV.wrong.test,sip.wrong.test,5061" \
	--srv-host="$SRV.tac.test,vcse.sub.tac.test,5061" \
	--srv-host="$SRV.elsewhere.test,sip.partner.test,5061" \
	--srv-host="$SRV.noaddr.test,sip.noaddr.test,5061" \
	--srv-host="$SRV.dot.test" \
	--srv-host="$SRV.test,edge.test,5061" \
	--txt-record="$SRV.nodata.test,nothing here"

# tls_peer NAME ADDR CERT [sippeer serve args] : a TLS server
tls_peer() {
	local name=$1 addr=$2 cert=$3; shift 3
	se_serve "$name" "$addr" --tls --cert "$PKI/$cert.crt" --key "$PKI/$cert.key" \
		--timeout 300 "$@"
}
# partner CERT [sippeer serve args] : sip.partner.test:5061 serves CERT
PARTNER_PID=
partner() {
	[ -n "$PARTNER_PID" ] && se_kill "$PARTNER_PID"
	SE_SEQ=$((SE_SEQ + 1))
	tls_peer "partner-$1-$SE_SEQ" "$NET.21:5061" "$@"
	PARTNER_PID=$BG_PID
}
conns() { cat "$RUN/$1.conns" 2>/dev/null || echo 0; }

# chk NAME [sipedge-check args] : run it (bounded) with the test DNS and CA;
# sets RC and OUT, keeps the output in $RUN/chk-NAME.out
chk() {
	local name=$1; shift
	timeout 60 "$CHECK" --dns "$NET.53:$DNS_PORT" --ca "$PKI/ca.crt" --timeout 2 "$@" \
		>"$RUN/chk-$name.out" 2>"$RUN/chk-$name.err"
	RC=$?
	OUT=$(cat "$RUN/chk-$name.out")
	note "sipedge-check $* -> exit $RC"
	sed 's/^/#   /' "$RUN/chk-$name.out" "$RUN/chk-$name.err"
}
# has DESC LINE : OUT has exactly this line
has() {
	if printf '%s\n' "$OUT" | grep -Fxq -- "$2"; then ok "$1"
	else not_ok "$1 (no line '$2')"; fi
}
# has_re DESC ERE : OUT has a line matching ^ERE$
has_re() {
	if printf '%s\n' "$OUT" | grep -Eq -- "^$2\$"; then ok "$1"
	else not_ok "$1 (no line matching /^$2\$/)"; fi
}
# shape : "STATUS check" of every line, space-separated
shape() { printf '%s\n' "$OUT" | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }'; }
# fails : the FAIL lines
fails() { printf '%s\n' "$OUT" | grep '^FAIL' ; }
ALL_PASS="PASS srv, PASS srv-domain, PASS address, PASS connect, PASS tls, PASS chain, PASS name, PASS validity, PASS eku, PASS key"
P=sip.partner.test:5061

# ------------------------------------------------------------ 1. good
partner partner
chk good partner.test
se_eq "good: exit 0" 0 "$RC"
se_eq "good: every check passes, in order" "$ALL_PASS" "$(shape)"
has "good: srv line" \
	"PASS  srv            $SRV.partner.test -> $P (priority 10, weight 10)"
has "good: srv-domain line" "PASS  srv-domain     sip.partner.test is <label>.partner.test"
has "good: address line" "PASS  address        sip.partner.test -> $NET.21"
has_re "good: connect line" "PASS  connect        $(re "$P"): connected to $(re "$NET.21:5061") in [0-9]+ ms"
has_re "good: tls line (TLS 1.3, SNI, no client certificate asked)" \
	"PASS  tls            $(re "$P"): TLSv1\\.3 TLS_[A-Z0-9_]+, SNI sip\\.partner\\.test, client certificate not requested"
has "good: chain line" \
	"PASS  chain          $P: issued through 2 certificate(s) up to \"$CA_SUBJ\", trusted by $PKI/ca.crt"
has "good: name line" \
	"PASS  name           $P: certificate names sip.partner.test (names: sip.partner.test)"
has_re "good: validity line" \
	"PASS  validity       $(re "$P"): valid from [0-9-]+ [0-9:]+ UTC until [0-9-]+ [0-9:]+ UTC \\((82[45]) days left\\)"
has "good: eku line" "PASS  eku            $P: extendedKeyUsage has serverAuth and clientAuth"
has "good: key line" \
	"PASS  key            $P: EC 256-bit key (prime256v1), signed with ecdsa-with-SHA256"

# --json: the same checks and statuses, one object
chk good-json partner.test --json
se_eq "json: exit 0" 0 "$RC"
se_eq "json: parses, domain and status" "partner.test PASS 10" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["domain"], d["status"], len(d["checks"]))' "$RUN/chk-good-json.out" 2>&1)"
OUT=$(cat "$RUN/chk-good.out")
se_eq "json: same checks and statuses as the text output" "$(shape)" \
	"$(python3 -c 'import json,sys; print(", ".join(c["status"]+" "+c["check"] for c in json.load(open(sys.argv[1]))["checks"]))' "$RUN/chk-good-json.out" 2>&1)"
se_eq "json: fields of a check" \
	"['check', 'code', 'message', 'reason', 'status', 'target'] sip.partner.test:5061 None" \
	"$(python3 -c 'import json,sys; c=json.load(open(sys.argv[1]))["checks"][1]; print(sorted(c), c["target"], c["code"])' "$RUN/chk-good-json.out" 2>&1)"

# another service name
chk service partner.test --service _sipinternaltls._tcp
se_eq "--service: exit 0" 0 "$RC"
has "--service: the SRV record of that service" \
	"PASS  srv            _sipinternaltls._tcp.partner.test -> $P (priority 0, weight 0)"

# the system store (default) does not know the test CA
timeout 60 "$CHECK" --dns "$NET.53:$DNS_PORT" --timeout 2 partner.test \
	>"$RUN/chk-system.out" 2>&1
RC=$?
OUT=$(cat "$RUN/chk-system.out")
sed 's/^/#   /' "$RUN/chk-system.out"
se_eq "system store: exit 1" 1 "$RC"
has "system store: chain FAIL 1010" \
	"FAIL  chain          $P: not trusted by the system CA store: unable to get local issuer certificate (depth 0, \"CN=sip.partner.test,O=sipedge tests\"); the server sent only its own certificate: it must send its intermediate CA certificates too, up to a root the peers trust [1010 $WHY_1010]"
se_eq "system store: the only FAIL" 1 "$(fails | wc -l)"

# mutual TLS demanded (TLS 1.3: refused after the handshake) -> WARN only
partner partner --ca "$PKI/ca.crt"
chk mutual13 partner.test
se_eq "mutual TLS 1.3: exit 0 (WARN is fine)" 0 "$RC"
has "mutual TLS 1.3: tls WARN" \
	"WARN  tls            $P: server requires a client certificate (mutual TLS) — expected for federation; this check presents none (TLSv1.3, alert \"certificate required\")"
se_eq "mutual TLS 1.3: the certificate is still checked" \
	"${ALL_PASS/PASS tls/WARN tls}" "$(shape)"
partner partner --ca "$PKI/ca.crt" --tls-version 1.2
chk mutual12 partner.test
se_eq "mutual TLS 1.2: exit 0" 0 "$RC"
has "mutual TLS 1.2: tls WARN" \
	"WARN  tls            $P: server requires a client certificate (mutual TLS) — expected for federation; this check presents none (TLSv1.2, alert \"handshake failure\")"
se_eq "mutual TLS 1.2: the certificate is still checked" \
	"${ALL_PASS/PASS tls/WARN tls}" "$(shape)"

# ------------------------------------------------------------ 2. DNS
chk nosrv nosrv.test
se_eq "nosrv.test: exit 1" 1 "$RC"
se_eq "nosrv.test: one line, srv FAIL 1008 NXDOMAIN" \
	"FAIL  srv            $SRV.nosrv.test: no such name (NXDOMAIN) [1008 $WHY_1008]" "$OUT"
chk nodata nodata.test
se_eq "nodata.test: srv FAIL 1008, name exists" \
	"FAIL  srv            $SRV.nodata.test: the name exists but has no SRV record [1008 $WHY_1008]" "$OUT"
chk dot dot.test
se_eq "dot.test: srv FAIL 1008, target \".\"" \
	"FAIL  srv            $SRV.dot.test: its only target is \".\": the domain says it offers no federation [1008 $WHY_1008]" "$OUT"
t0=$(date +%s)
timeout 60 "$CHECK" --dns "$NET.54:$DNS_PORT" --ca "$PKI/ca.crt" partner.test \
	>"$RUN/chk-dnsdown.out" 2>&1
RC=$?
OUT=$(cat "$RUN/chk-dnsdown.out")
sed 's/^/#   /' "$RUN/chk-dnsdown.out"
se_eq "DNS server down: exit 1" 1 "$RC"
se_eq "DNS server down: srv FAIL 1008, lookup failed" \
	"FAIL  srv            $SRV.partner.test: DNS lookup failed (timeout, SERVFAIL or REFUSED) asking $NET.54:$DNS_PORT [1008 $WHY_1008]" "$OUT"
se_check "DNS server down: answered within 10 s" [ $(( $(date +%s) - t0 )) -le 10 ]

tls_peer vcse "$NET.28:5061" vcse --conn-count-file "$RUN/vcse.conns"
chk tac tac.test
se_eq "tac.test (SRV to a subdomain): exit 1" 1 "$RC"
se_eq "tac.test: srv PASS, srv-domain FAIL 1009, nothing else" \
	"PASS srv, FAIL srv-domain" "$(shape)"
has "tac.test: srv-domain FAIL line" \
	"FAIL  srv-domain     vcse.sub.tac.test is not <label>.tac.test [1009 $WHY_1009]"
chk elsewhere elsewhere.test
se_eq "elsewhere.test (SRV to another domain): exit 1" 1 "$RC"
has "elsewhere.test: srv-domain FAIL 1009" \
	"FAIL  srv-domain     sip.partner.test is not <label>.elsewhere.test [1009 $WHY_1009]"
se_eq "elsewhere.test: not dialled" "PASS srv, FAIL srv-domain" "$(shape)"

tls_peer srv "$NET.22:5061" srv
chk mixed srv.test
se_eq "srv.test (one good, one bad target): exit 1" 1 "$RC"
se_eq "srv.test: the bad target FAILs, the good one is checked to the end" \
	"PASS srv, PASS srv, PASS srv-domain, FAIL srv-domain, PASS address, PASS connect, PASS tls, PASS chain, PASS name, PASS validity, PASS eku, PASS key" \
	"$(shape)"
has "srv.test: FAIL line for vcse.sub.srv.test" \
	"FAIL  srv-domain     vcse.sub.srv.test is not <label>.srv.test [1009 $WHY_1009]"
has "srv.test: sip.srv.test's certificate checked" \
	"PASS  name           sip.srv.test:5061: certificate names sip.srv.test (names: sip.srv.test)"
se_eq "the bad targets (vcse.sub.*) never saw a connection" 0 "$(conns vcse)"

# the same run, and one through the NXDOMAIN path, under valgrind
if command -v valgrind >/dev/null 2>&1; then
	for d in srv.test nosrv.test; do
		timeout 120 valgrind -q --error-exitcode=99 --leak-check=full \
			--errors-for-leak-kinds=definite,possible "$CHECK" \
			--dns "$NET.53:$DNS_PORT" --ca "$PKI/ca.crt" --timeout 5 "$d" \
			>"$RUN/valgrind-$d.out" 2>"$RUN/valgrind-$d.err"
		se_eq "valgrind, $d: exit 1 (its FAIL), no memory errors or leaks" 1 "$?"
		sed 's/^/#   /' "$RUN/valgrind-$d.err"
	done
else
	note "valgrind not installed: memory check skipped"
fi

chk noaddr noaddr.test
se_eq "noaddr.test: exit 1" 1 "$RC"
has "noaddr.test: address FAIL 1046" \
	"FAIL  address        sip.noaddr.test: no A or AAAA record [1046 $WHY_1046]"
se_eq "noaddr.test: stops there" "PASS srv, PASS srv-domain, FAIL address" "$(shape)"

# ------------------------------------------------------------ 3. TCP, TLS
chk down down.test
se_eq "down.test (nothing listening): exit 1" 1 "$RC"
has "down.test: connect FAIL 1046" \
	"FAIL  connect        sip.down.test:5061: cannot connect: $NET.24:5061: Connection refused [1046 $WHY_1046]"
se_eq "down.test: stops there" "PASS srv, PASS srv-domain, PASS address, FAIL connect" "$(shape)"

se_serve plain "$NET.26:5061" --timeout 300
chk plain plain.test
se_eq "plain.test (plain TCP): exit 1" 1 "$RC"
se_eq "plain.test: tls FAIL 1047, no certificate checks" \
	"PASS srv, PASS srv-domain, PASS address, PASS connect, FAIL tls" "$(shape)"
has_re "plain.test: tls FAIL line" \
	"FAIL  tls            sip\\.plain\\.test:5061: TLS handshake failed: (no TLS answer within 2 s \\(is this port plain TCP\\?\\)|the server closed the connection during the handshake \\(is this port TLS\\?\\)|the server does not speak TLS on this port \\(.*\\)) \\[1047 $WHY_1047\\]"

# ------------------------------------------------------------ 4. certificate
tls_peer wrong "$NET.27:5061" wrongsan
chk wrong wrong.test
se_eq "wrong.test (certificate without the SRV FQDN): exit 1" 1 "$RC"
se_eq "wrong.test: the only FAIL is name 1010, naming the names it has" \
	"FAIL  name           sip.wrong.test:5061: certificate does not name sip.wrong.test (it names: other.partner.test) [1010 $WHY_1010]" \
	"$(fails)"
chk wrong-json wrong.test --json
se_eq "wrong.test --json: exit 1" 1 "$RC"
OUT=$(cat "$RUN/chk-wrong.out")
se_eq "wrong.test --json: same statuses as the text output" "$(shape)" \
	"$(python3 -c 'import json,sys; print(", ".join(c["status"]+" "+c["check"] for c in json.load(open(sys.argv[1]))["checks"]))' "$RUN/chk-wrong-json.out" 2>&1)"
se_eq "wrong.test --json: status FAIL, the name check with code 1010 and its reason" \
	"FAIL|sip.wrong.test:5061|1010|$WHY_1010|sip.wrong.test:5061: certificate does not name sip.wrong.test (it names: other.partner.test)" \
	"$(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); c=[c for c in d["checks"] if c["status"]=="FAIL"]; print(d["status"], *[str(c[0][k]) for k in ("target","code","reason","message")], sep="|")' "$RUN/chk-wrong-json.out" 2>&1)"

partner untrusted
chk untrusted partner.test
se_eq "untrusted CA: exit 1" 1 "$RC"
se_eq "untrusted CA: the only FAIL is chain 1010, with OpenSSL's error" \
	"FAIL  chain          $P: not trusted by $PKI/ca.crt: unable to get local issuer certificate (depth 0, \"CN=sip.partner.test,O=sipedge tests\"); the server sent only its own certificate: it must send its intermediate CA certificates too, up to a root the peers trust [1010 $WHY_1010]" \
	"$(fails)"

partner expired
chk expired partner.test
se_eq "expired: exit 1" 1 "$RC"
se_eq "expired: one FAIL" 1 "$(fails | wc -l)"
has_re "expired: validity FAIL 1010 with the clock hint" \
	"FAIL  validity       $(re "$P"): certificate expired on 2020-02-01 00:00:00 UTC \\([0-9]+ days ago\\); check this machine's clock: now is $(date -u +%Y-%m-%d) [0-9:]+ UTC \\[1010 $WHY_1010\\]"
has "expired: chain still trusted (dates are the validity check's)" \
	"PASS  chain          $P: issued through 2 certificate(s) up to \"$CA_SUBJ\", trusted by $PKI/ca.crt"

partner soon
chk soon partner.test
se_eq "expires in 10 days: exit 0 (WARN)" 0 "$RC"
has_re "expires in 10 days: validity WARN" \
	"WARN  validity       $(re "$P"): certificate expires on [0-9-]+ [0-9:]+ UTC \\((9|10) days left\\): renew it"

partner noclientauth
chk noclientauth partner.test
se_eq "no clientAuth: exit 1" 1 "$RC"
se_eq "no clientAuth: the only FAIL is eku" \
	"FAIL  eku            $P: extendedKeyUsage lacks clientAuth (has: serverAuth); the edge uses the same certificate as TLS server and as TLS client, so peers require both [1010 $WHY_1010]" \
	"$(fails)"
se_kill "$PARTNER_PID"

# ------------------------------------------------------------ sipedge itself
# DOMAIN "test": SRV -> edge.test:5061, the daemon's external listener
se_write_conf
se_start_daemon
chk daemon test
se_eq "sipedge as the server: exit 0" 0 "$RC"
se_eq "sipedge as the server: mutual TLS WARN, the rest passes" \
	"${ALL_PASS/PASS tls/WARN tls}" "$(shape)"
has "sipedge as the server: its certificate names edge.test" \
	"PASS  name           edge.test:5061: certificate names edge.test (names: edge.test)"
se_daemon_alive
se_stop_daemon

# ------------------------------------------------------------ 5. usage
usage() {
	timeout 10 "$CHECK" "$@" >"$RUN/usage.out" 2>&1
	se_eq "usage error exits 2: sipedge-check $*" 2 "$?"
}
usage
usage a.test b.test
usage --bogus partner.test
usage --timeout 0 partner.test
usage --timeout x partner.test
usage --dns sip.partner.test partner.test
usage 'bad domain!'
usage --ca "$RUN/no-such-file" partner.test
timeout 10 "$CHECK" --help >"$RUN/usage.out" 2>&1
se_eq "--help exits 0" 0 "$?"

se_done
