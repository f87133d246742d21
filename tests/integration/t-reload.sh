#!/bin/bash
# Hot reload (SIGHUP): 200 established mutual-TLS connections survive a
# reload that changes the edge certificate and keep working over their old
# connection; a new connection sees the new certificate (new path, then new
# content at the same path); a broken configuration (unknown key, missing
# certificate, key not matching, no PEM, bad cipher string) is logged as
# FILE:LINE and leaves service untouched; a rewritten CRL applies to new
# connections only; listeners are added and removed, and one that cannot be
# bound fails the whole reload. Helper: tests/tools/reload_peers.py.
# SE_VALGRIND=1: 20 connections (SE_RELOAD_CONNS=N overrides), longer waits.
. "$(dirname "$0")/lib.sh"
se_init 19
se_need sipp
se_pki
[ -s "$PKI/edge2.crt" ] || se_bail "mkpki.sh made no edge2.crt"

N=${SE_RELOAD_CONNS:-200}
WAIT=5 ROUND=30
if [ "${SE_VALGRIND:-0}" = 1 ]; then
	N=${SE_RELOAD_CONNS:-20} WAIT=30 ROUND=60
fi
RP=(python3 "$TOOLS/reload_peers.py")
# 50 connections per source address at most (limits.max_connections_per_ip
# defaults to 64); the partner certificate is the same on all of them.
BINDS=()
for ((i = 0; i < (N + 49) / 50; i++)); do BINDS+=(--bind "$NET.$((21 + i))"); done
PROBE=(--connect "$NET.1:5061" --bind "$NET.29" --cert "$PKI/partner.crt"
       --key "$PKI/partner.key" --ca "$PKI/ca.crt" --sni edge.test
       --known edge="$PKI/edge.crt" --known edge2="$PKI/edge2.crt")
CTL=$RUN/peers.sock

INTERNAL_TLS='internal = { certificate = "pki/edge-internal.crt"; private_key = "pki/edge-internal.key"; ca_file = "pki/internal-ca.crt"; };'
# tls_group CERT KEY : the tls group with this external certificate and key
tls_group() {
	printf '{\n  external = { certificate = "%s";\n    private_key = "%s";\n    ca_file = "pki/ca.crt"; };\n  %s\n}' \
		"$1" "$2" "$INTERNAL_TLS"
}
# listen_group ADDR... : external TLS on .1, internal TCP :5060 on each ADDR
listen_group() {
	local a out="( { zone = \"external\"; address = \"$NET.1\"; port = 5061; transport = \"tls\"; }"
	for a; do
		out+=",
  { zone = \"internal\"; address = \"$a\"; port = 5060; transport = \"tcp\"; }"
	done
	printf '%s\n)' "$out"
}
# conf ... : se_write_conf with the running defaults of this test
CUR_TLS=$(tls_group pki/edge.crt pki/edge.key)
CUR_LISTEN=$(listen_group "$NET.2")
conf() { se_write_conf "tls=$CUR_TLS" "listen=$CUR_LISTEN" "$@"; }

# sighup DESC ERE... : SIGHUP, wait (bounded) for the event=reload line that
# ends the reload (result=ok, or the one with action=...), check it matches
# every ERE. The reload lines are in $RUN/reload.lines afterwards.
sighup() {
	local desc=$1 n=$((WAIT * 10)) t0; shift
	se_log_mark
	t0=$(date +%s.%N)
	kill -HUP "$DAEMON_PID"
	while [ "$n" -gt 0 ] &&
	      ! se_log_lines 'event=reload ' '(result=ok|action=)' >/dev/null; do
		sleep 0.1; n=$((n - 1))
	done
	se_log_lines 'event=reload' >"$RUN/reload.lines" || : >"$RUN/reload.lines"
	note "reload took $(awk "BEGIN { printf \"%.2f\", $(date +%s.%N) - $t0 }") s"
	sed 's/^/#   /' "$RUN/reload.lines"
	se_match_all "$desc" "$(grep -E 'result=ok|action=' "$RUN/reload.lines" | tail -n 1)" "$@"
}

# round DESC : a MESSAGE over every held connection, all 200
round() {
	local out
	out=$("${RP[@]}" ctl --timeout $((ROUND + 15)) "$CTL" message "$ROUND")
	se_eq "$1 [${out:0:100}]" "sent=$N ok=$N other=0 noanswer=0 closed=0" "$out"
}
# held DESC EXPECTED-CERT-COUNTS : the held connections are all still open
held() {
	se_eq "$1" "open=$N closed=0 $2" "$("${RP[@]}" ctl "$CTL" status)"
}
# probe DESC LABEL : a new connection sees certificate LABEL and gets 200
probe() {
	local out
	out=$("${RP[@]}" probe "${PROBE[@]}" --message --timeout 10 2>&1)
	se_match_all "$1 [$(echo $out | cut -c1-60)]" "$(echo $out)" "^CERT $2 " "STATUS 200"
	PROBE_OUT=$out
}
# accepts DESC ADDR : a node-side TCP connection to ADDR:5060 gets a pong
accepts() {
	se_send_any "$1" '^PONG' --connect "$2:5060" --bind "$NET.11" \
		--raw-hex 0d0a0d0a --expect-pong --timeout 5
}
refuses() {
	se_send_any "$1" '^CONNECT_FAILED' --connect "$2:5060" --bind "$NET.11" \
		--raw-hex 0d0a0d0a --expect-pong --timeout 5
}

serial_of() { openssl x509 -in "$1" -noout -serial | sed 's/^serial=//'; }
E1_SERIAL=$(serial_of "$PKI/edge.crt")
E2_SERIAL=$(serial_of "$PKI/edge2.crt")
[ "$E1_SERIAL" != "$E2_SERIAL" ] || se_bail "edge and edge2 have the same serial"

conf
se_node_uas node-uas.xml
se_start_daemon

# ---------------------------------------------------------------- N peers
t0=$SECONDS
se_bg peers "${RP[@]}" hold "${PROBE[@]:4}" --connect "$NET.1:5061" "${BINDS[@]}" \
	--count "$N" --control "$CTL" --ready "$RUN/peers.ready" --timeout 600
PEERS_PID=$BG_PID
"${PEER[@]}" wait --file "$RUN/peers.ready" --pid "$PEERS_PID" --timeout $((30 + N / 5)) ||
	{ cat "$RUN/peers.out"; se_bail "reload_peers.py did not connect"; }
se_match "$N mutual-TLS connections established, all saw edge.crt [$(head -n 1 "$RUN/peers.ready")]" \
	"^opened=$N failed=0 .*cert\.edge=$N\$" "$(head -n 1 "$RUN/peers.ready")"
se_eq "they saw edge.crt's serial" "$N" \
	"$(awk -v s="$E1_SERIAL" 'NR > 1 && toupper($4) == toupper(s)' "$RUN/peers.ready" | wc -l)"
held "all $N held connections open" "cert.edge=$N"
round "before any reload: MESSAGE over each of the $N connections gets 200"
note "connect + first round: $((SECONDS - t0)) s"

# ---------------------------------------------------------------- new certificate
mkdir -p "$RUN/live"
cp "$PKI/edge2.crt" "$RUN/live/ext.crt"
cp "$PKI/edge2.key" "$RUN/live/ext.key"
CUR_TLS=$(tls_group live/ext.crt live/ext.key)
conf
sighup "reload with a new edge certificate: result=ok config=edge.conf" \
	'result=ok' "config=$(re "$RUN/edge.conf")( |\$)"
se_daemon_alive
held "after the certificate change: all $N old connections still open" "cert.edge=$N"
round "after the certificate change: MESSAGE over each old connection gets 200"
probe "a new connection sees the new certificate (edge2) and gets 200" edge2
se_match "... with edge2's serial" "SERIAL $E2_SERIAL " "$(echo $PROBE_OUT)"
se_nomatch "... not edge.crt's fingerprint" \
	"$(awk 'NR == 2 { print $5 }' "$RUN/peers.ready")" "$PROBE_OUT"

# ---------------------------------------------------------------- broken configurations
# each: reload fails with FILE:LINE, the running configuration keeps serving
broken() {
	local desc=$1 pat=$2 err=$3 line
	line=$(grep -n -- "$pat" "$RUN/edge.conf" | head -n 1 | cut -d: -f1)
	[ -n "$line" ] || { not_ok "$desc: '$pat' not in edge.conf"; return; }
	sighup "$desc: reload fails, running configuration kept" \
		'result=failed' 'action="?running configuration kept'
	se_match "$desc: the error is logged as FILE:LINE (line $line)" \
		"event=reload result=failed error=\"?$(re "$RUN/edge.conf"):$line: $err" \
		"$(cat "$RUN/reload.lines")"
	se_match "$desc: ... followed by one summary line" \
		'error="configuration has errors \(lines above\)" action="running configuration kept"' \
		"$(tail -n 1 "$RUN/reload.lines")"
	se_nomatch "$desc: no result=ok" 'result=ok' "$(cat "$RUN/reload.lines")"
	se_daemon_alive "$desc: sipedge still running"
	probe "$desc: a new connection still sees edge2 and gets 200" edge2
	held "$desc: the old connections are still open" "cert.edge=$N"
}
conf "limits={ max_connections = 10000;
  frobnicate = 1; }"
broken "unknown key" 'frobnicate' "unknown key 'frobnicate'"
round "after the failed reloads so far: MESSAGE over each old connection gets 200"

CUR_TLS=$(tls_group pki/missing.crt live/ext.key)
conf
broken "certificate file missing" 'missing\.crt' "cannot read certificate '[^']*missing\.crt'"
CUR_TLS=$(tls_group live/ext.crt pki/edge.key)
conf
broken "private key not matching the certificate" 'pki/edge\.key' \
	"private key '[^']*edge\.key' does not match certificate"
printf 'not a certificate\n' >"$RUN/garbage.crt"
CUR_TLS=$(tls_group garbage.crt live/ext.key)
conf
broken "certificate file without a certificate" 'garbage\.crt' "certificate '[^']*garbage\.crt'"
CUR_TLS=$(tls_group live/ext.crt live/ext.key | sed 's|ca_file = "pki/ca.crt";|&\
    ciphers = "NO-SUCH-CIPHER";|')
conf
broken "cipher string OpenSSL rejects" 'NO-SUCH-CIPHER' "[^\"]*cipher"

# ---------------------------------------------------------------- same path, new content
cp "$PKI/edge.crt" "$RUN/live/ext.crt"
cp "$PKI/edge.key" "$RUN/live/ext.key"
CUR_TLS=$(tls_group live/ext.crt live/ext.key)
conf
sighup "certificate replaced in place (same path): result=ok" 'result=ok'
probe "a new connection sees the replaced file's certificate (edge)" edge
se_match "... with edge.crt's serial" "SERIAL $E1_SERIAL " "$(echo $PROBE_OUT)"
held "all $N old connections still open" "cert.edge=$N"

# ---------------------------------------------------------------- CRL re-read
# mkcrl [CERT] : (re)write crl/ca.crl, an empty CRL of ca, or one revoking CERT
mkcrl() {
	local d=$RUN/crl ca=(-batch -config "$RUN/crl/ca.cnf" -cert "$PKI/ca.crt" -keyfile "$PKI/ca.key")
	mkdir -p "$d"
	: >"$d/index.txt"
	echo 01 >"$d/crlnumber"
	printf '[ ca ]\ndefault_ca = t\n[ t ]\ndatabase = %s\ncrlnumber = %s\ndefault_md = sha256\ndefault_crl_days = 30\n' \
		"$d/index.txt" "$d/crlnumber" >"$d/ca.cnf"
	{ [ $# -eq 0 ] || openssl ca "${ca[@]}" -revoke "$1"; } >"$d/openssl.log" 2>&1 &&
	openssl ca "${ca[@]}" -gencrl -out "$d/ca.crl.new" >>"$d/openssl.log" 2>&1 &&
	mv "$d/ca.crl.new" "$d/ca.crl" || { cat "$d/openssl.log"; se_bail "cannot make a CRL"; }
}
mkcrl
CUR_TLS=$(tls_group live/ext.crt live/ext.key | sed 's|ca_file = "pki/ca.crt";|&\
    crl_file = "crl/ca.crl";|')
conf
sighup "an (empty) CRL added: result=ok" 'result=ok'
probe "a new connection from the partner is accepted" edge
mkcrl "$PKI/partner.crt"
sighup "the CRL file rewritten, revoking the partner certificate: result=ok" 'result=ok'
out=$("${RP[@]}" probe "${PROBE[@]}" --message --timeout 5 2>&1)
se_nomatch "a new connection from the revoked partner gets nowhere [$(echo $out | cut -c1-60)]" \
	'STATUS 200' "$out"
se_wait_log "... refused as certificate_revoked" 'event=tls_handshake_failed' \
	'reason=certificate_revoked'
held "the $N connections established before the revocation stay up" "cert.edge=$N"
round "... and their MESSAGEs still get 200 (established sessions keep theirs)"
CUR_TLS=$(tls_group live/ext.crt live/ext.key)
conf
sighup "CRL removed from the configuration: result=ok" 'result=ok'
probe "the partner is accepted again" edge

# ---------------------------------------------------------------- listeners
accepts "internal listener $NET.2:5060 accepts" "$NET.2"
refuses "$NET.3:5060 does not accept yet" "$NET.3"
CUR_LISTEN=$(listen_group "$NET.2" "$NET.3")
conf
sighup "second internal listener added: result=ok" 'result=ok'
accepts "the new listener $NET.3:5060 accepts" "$NET.3"
accepts "$NET.2:5060 still accepts" "$NET.2"

CUR_LISTEN=$(listen_group "$NET.2")
conf
sighup "second internal listener removed: result=ok" 'result=ok'
refuses "the removed listener $NET.3:5060 no longer accepts" "$NET.3"
accepts "$NET.2:5060 still accepts" "$NET.2"

# a listener that cannot be bound (sipp, the node, holds $NET.11:5062) fails
# the whole reload: $NET.3:5060, bindable and listed before it, is not opened
CUR_LISTEN="( { zone = \"external\"; address = \"$NET.1\"; port = 5061; transport = \"tls\"; },
  { zone = \"internal\"; address = \"$NET.2\"; port = 5060; transport = \"tcp\"; },
  { zone = \"internal\"; address = \"$NET.3\"; port = 5060; transport = \"tcp\"; },
  { zone = \"internal\"; address = \"$NET.11\"; port = 5062; transport = \"tcp\"; } )"
conf
sighup "a listener that cannot be bound: reload fails, running configuration kept" \
	'result=failed' 'action="?running configuration kept'
se_match "... the bind error is logged" "cannot bind $NETRE\.11 port 5062" \
	"$(tail -n +"$((SE_LOG_MARK + 1))" "$RUN/sipedge.log")"
refuses "... and nothing changed: $NET.3:5060 was not kept open" "$NET.3"
accepts "... $NET.2:5060 still accepts" "$NET.2"
probe "... a new TLS connection still works" edge

# ---------------------------------------------------------------- end
held "at the end: all $N connections opened before the first reload still open" "cert.edge=$N"
round "at the end: MESSAGE over each of them gets 200"
se_eq "sipp node reports no unexpected message" 0 \
	"$(cat "$RUN/node.err" 2>/dev/null | grep -ciE 'unexpected|aborting')"
"${RP[@]}" ctl "$CTL" quit >/dev/null
se_daemon_alive
se_stop_daemon
se_done
