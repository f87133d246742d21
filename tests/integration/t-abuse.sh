#!/bin/bash
# Abuse of the external listener (issue 7 item 4): connection limits,
# slowloris (TLS handshake and SIP headers), a malformed-message flood,
# oversized / header-bomb / huge-URI messages, the discovered-domain rate
# cap. In every scenario a legitimate partner (sip.partner.test, from
# $NET.21, another address than the abuse) gets 200 to a MESSAGE while the
# abuse is going on. The node is a sippeer UAS on $NET.11:5062 (it takes
# the large messages sipp would not). Metrics on $NET.3:9161 give the
# daemon's own connection count.
#   abusers: .22 (message flood), .31-.38 (connection floods),
#            .41-.45 (slowloris)
# Timing assertions: not meant to run under SE_VALGRIND=1.
. "$(dirname "$0")/lib.sh"
se_init 23
se_pki
FLOOD=(python3 "$TOOLS/abuse_flood.py")
SLOW=(python3 "$TOOLS/abuse_slowloris.py")
MPORT=9161
MURL=http://$NET.3:$MPORT/metrics
CERTARGS=(--cert "$PKI/partner.crt" --key "$PKI/partner.key" --ca "$PKI/ca.crt" --sni edge.test)
LEGIT=(--legit-bind "$NET.21" --legit-template "$SCEN/message.sip")
SRV=_sipfederationtls._tcp

# conf LIMITS [GROUP=VALUE...] : edge.conf with these limits and metrics on .3
conf() {
	local limits=$1; shift
	se_write_conf "limits=$limits" \
		"admin={ metrics_address = \"$NET.3\"; metrics_port = $MPORT; }" "$@"
}
start() { se_start_daemon "$NET.1:5061" "$NET.2:5060" "$NET.3:$MPORT"; }
# restart LIMITS [GROUP=VALUE...] : stop the daemon (its log kept), start anew
PHASE=1
restart() {
	se_stop_daemon
	mv "$RUN/sipedge.log" "$RUN/sipedge.$PHASE.log"
	PHASE=$((PHASE + 1))
	conf "$@"
	start
}

# connections : the daemon's open connections (both zones, from its metrics)
connections() {
	timeout 10 python3 - "$MURL" <<'EOF'
import re, sys, urllib.request
o = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    t = o.open(sys.argv[1], timeout=5).read().decode()
except Exception as e:
    print("error:%s" % e); sys.exit(0)
print(sum(int(float(v)) for v in re.findall(r'^sipedge_connections\{[^}]*\} (\S+)$', t, re.M)))
EOF
}
# metric ERE : the sum of the samples whose "name{labels}" matches ERE
metric() {
	timeout 10 python3 - "$MURL" "$1" <<'EOF'
import re, sys, urllib.request
o = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    t = o.open(sys.argv[1], timeout=5).read().decode()
except Exception as e:
    print("error:%s" % e); sys.exit(0)
print(sum(int(float(m.group(2))) for m in re.finditer(r'^(\S+) (\S+)$', t, re.M)
          if re.search(sys.argv[2], m.group(1))))
EOF
}
# wait_connections N : up to 10 s for the daemon to be down to N connections
wait_connections() {
	local i=0 n
	while [ $i -lt 100 ]; do
		n=$(connections)
		[ "$n" = "$1" ] && break
		sleep 0.1; i=$((i + 1))
	done
	se_eq "daemon back to $1 open connection(s)" "$1" "$n"
}
# val FILE KEY : the value of "KEY value" in a tool's output
val() { sed -n "s/^$2 //p" "$1" | head -n 1; }
# cpu : the daemon's user+system CPU time in clock ticks (CLK per second)
CLK=$(getconf CLK_TCK)
cpu() { awk '{ print $14 + $15 }' "/proc/$DAEMON_PID/stat"; }
# rss : the daemon's VmRSS in kB
rss() { awk '/^VmRSS:/ { print $2 }' "/proc/$DAEMON_PID/status"; }
legit_now() {   # DESC : a fresh partner connection's MESSAGE gets 200
	se_send "$1" "${PARTNER[@]}" "$SCEN/message.sip" --expect 200
}
# wait_file FILE PID SECONDS
wait_file() { "${PEER[@]}" wait --file "$1" --pid "$2" --timeout "$3"; }
# wait_pid PID SECONDS : bounded wait for a background tool; rc in WAIT_RC
wait_pid() {
	local n=$(($2 * 10))
	while [ $n -gt 0 ] && kill -0 "$1" 2>/dev/null; do sleep 0.1; n=$((n - 1)); done
	if kill -0 "$1" 2>/dev/null; then
		note "pid $1 still running after $2 s, killed"
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
	WAIT_RC=$?
}
# limit_lines LIMIT : limit_reached lines for LIMIT since the mark
limit_lines() { se_log_lines "event=limit_reached limit=$1( |\$)" || true; }
# once_per_second DESC LIMIT REFUSED OUTFILE : LIMIT logged, but at most once
# a second: no two lines share a timestamp, no more lines than seconds the
# flood covered, and fewer lines than refused connections
once_per_second() {
	local desc=$1 limit=$2 refused=$3 f=$4 lines n dup span
	lines=$(limit_lines "$limit")
	n=$(printf '%s' "$lines" | grep -c . || true)
	dup=$(printf '%s\n' "$lines" | grep . | cut -d' ' -f1 | sort | uniq -d | wc -l)
	span=$(( $(val "$f" LAST_EPOCH | cut -d. -f1) - $(val "$f" FIRST_EPOCH | cut -d. -f1) + 1 ))
	note "$desc: $refused refused connections, $n limit=$limit line(s) over $span s"
	printf '%s\n' "$lines" | head -n 4 | sed 's/^/#   /'
	se_check "$desc: limit=$limit logged ($n)" [ "$n" -ge 1 ]
	se_eq "$desc: never two limit=$limit lines in the same second" 0 "$dup"
	se_check "$desc: at most one line per second of flood ($n <= $span + 1)" \
		[ "$n" -le $((span + 1)) ]
	se_check "$desc: far fewer lines than refused connections ($n < $refused)" \
		[ "$n" -lt "$refused" ]
}

# the slowloris scenario needs ~1100 descriptors in the daemon and the tool
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt 1500 ]; then
	ulimit -n 4096 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fi
NOFILE=$(ulimit -n)

se_need dnsmasq
se_start_dns --local=/test/ "--srv-host=$SRV.open.test,sip.open.test,5061"
se_serve node "$NET.11:5062" --timeout 900 --max-header 1048576

# ====================================================== connection limits
T0=$SECONDS
conf '{ max_connections = 50; max_connections_per_ip = 10; handshake_timeout = 10; }'
start
legit_now "before any abuse: partner MESSAGE gets 200"
wait_connections 1      # the one to the node

# --- max_connections_per_ip: 40 attempts from .31 over ~2.7 s
se_log_mark
rm -f "$RUN/release"
se_bg flood-perip "${FLOOD[@]}" conns --connect "$NET.1:5061" "${CERTARGS[@]}" "${LEGIT[@]}" \
	--source "$NET.31" --per-source 40 --rate 15 --settle 1 \
	--hold 20 --release "$RUN/release" --ready "$RUN/perip.ready"
pid=$BG_PID
if wait_file "$RUN/perip.ready" "$pid" 30; then
	f=$RUN/flood-perip.out
	se_eq "per-IP: 10 connections from $NET.31 held" 10 "$(val "$f" HELD)"
	se_eq "per-IP: the other 30 refused" 30 "$(val "$f" REFUSED)"
	se_eq "per-IP: no connect() failed" 0 "$(val "$f" CONNECT_FAILED)"
	se_eq "per-IP: partner MESSAGE on its connection before the flood: 200" 200 \
		"$(val "$f" LEGIT_BEFORE | cut -d' ' -f1)"
	se_eq "per-IP: partner MESSAGE on that connection during the flood: 200" 200 \
		"$(val "$f" LEGIT_DURING | cut -d' ' -f1)"
	se_eq "per-IP: daemon holds node + partner + 10 flood connections" 12 "$(connections)"
	legit_now "per-IP: during the flood a new partner connection ($NET.21) gets 200"
	se_wait_log "per-IP: refusal logged with limit and peer" \
		"event=limit_reached limit=max_connections_per_ip peer=$NETRE\\.31\$"
	once_per_second "per-IP" max_connections_per_ip "$(val "$f" REFUSED)" "$f"
	se_eq "per-IP: max_connections itself not reached" "" "$(limit_lines max_connections)"
else
	not_ok "per-IP: connection flood tool did not report"; cat "$RUN/flood-perip.out"
fi
touch "$RUN/release"
wait_pid "$pid" 10
wait_connections 1

# --- max_connections: 8 addresses x 20 attempts over ~3.2 s
se_log_mark
rm -f "$RUN/release"
se_bg flood-max "${FLOOD[@]}" conns --connect "$NET.1:5061" "${CERTARGS[@]}" "${LEGIT[@]}" \
	$(for i in 31 32 33 34 35 36 37 38; do echo --source "$NET.$i"; done) \
	--per-source 20 --rate 50 --settle 1 --hold 20 --release "$RUN/release" \
	--ready "$RUN/max.ready"
pid=$BG_PID
if wait_file "$RUN/max.ready" "$pid" 30; then
	f=$RUN/flood-max.out
	se_eq "max_connections: the daemon is at exactly 50 connections" 50 "$(connections)"
	se_eq "max_connections: 48 flood connections held (50 - node - partner)" 48 "$(val "$f" HELD)"
	se_eq "max_connections: the other 112 refused" 112 "$(val "$f" REFUSED)"
	se_eq "max_connections: partner MESSAGE before the flood: 200" 200 \
		"$(val "$f" LEGIT_BEFORE | cut -d' ' -f1)"
	se_eq "max_connections: partner MESSAGE on its established connection during the flood: 200" 200 \
		"$(val "$f" LEGIT_DURING | cut -d' ' -f1)"
	se_eq "max_connections: the held flood connections are still held" 48 "$(val "$f" STILL_HELD)"
	se_wait_log "max_connections: refusal logged" "event=limit_reached limit=max_connections\$"
	once_per_second "max_connections" max_connections "$(val "$f" REFUSED)" "$f"
	# a full table refuses everyone new, partners included: that is the limit
	se_send "max_connections: while full, a new connection (partner too) is refused" \
		"${PARTNER[@]}" --expect-handshake-failure "$SCEN/message.sip" --timeout 5
else
	not_ok "max_connections: connection flood tool did not report"; cat "$RUN/flood-max.out"
fi
touch "$RUN/release"
wait_pid "$pid" 10
wait_connections 1
legit_now "max_connections: after the flood a new partner connection gets 200"
se_daemon_alive
note "connection limits: $((SECONDS - T0)) s"

# ====================================================== slowloris
T0=$SECONDS
# (the five slowloris addresses share a /24: its handshake budget is
# t-fairness's subject, here only the timeouts are)
restart '{ max_connections = 2000; max_connections_per_ip = 200;
  max_handshaking_per_network = 1000; handshake_timeout = 2; header_timeout = 2; }'
SRC=(); for i in 41 42 43 44 45; do SRC+=(--source "$NET.$i"); done
if [ "$NOFILE" != unlimited ] && [ "$NOFILE" -lt 1200 ]; then
	note "slowloris needs ulimit -n >= 1200 (have $NOFILE): skipped"
else
	# --- 500 connections that never finish the TLS handshake
	se_log_mark
	hs0=$(metric 'sipedge_tls_handshake_failures_total\{.*reason="handshake_timeout"')
	rm -f "$RUN/slow-tls.ready"
	se_bg slow-tls "${SLOW[@]}" tls --connect "$NET.1:5061" "${SRC[@]}" --count 500 \
		--expect 2 --grace 3 --ready "$RUN/slow-tls.ready"
	pid=$BG_PID
	if wait_file "$RUN/slow-tls.ready" "$pid" 20; then
		legit_now "TLS slowloris: during it a partner MESSAGE gets 200"
	else
		not_ok "TLS slowloris: the tool did not open its connections"
	fi
	wait_pid "$pid" 30
	f=$RUN/slow-tls.out
	sed -n '/^OPEN_SECONDS\|^OPENED\|^MIN_S\|^MEDIAN_S\|^MAX_S/p' "$f" | sed 's/^/# /'
	se_eq "TLS slowloris: 500 connections opened" 500 "$(val "$f" OPENED)"
	se_eq "TLS slowloris: all 500 closed within handshake_timeout 2 s + 3 s" 500 "$(val "$f" IN_TIME)"
	se_eq "TLS slowloris: none closed before the timeout (1.5 s)" 0 "$(val "$f" EARLY)"
	se_eq "TLS slowloris: 500 handshake timeouts counted (sipedge_tls_handshake_failures_total)" 500 \
		"$(( $(metric 'sipedge_tls_handshake_failures_total\{.*reason="handshake_timeout"') - hs0 ))"
	# a flood of them is logged once a second per reason, with suppressed=N
	lines=$(se_log_lines "event=tls_handshake_failed zone=external peer=$NETRE\\.4[1-5]:" \
		'reason=handshake_timeout' || true)
	n=$(printf '%s' "$lines" | grep -c . || true)
	se_check "TLS slowloris: handshake_timeout logged, at most once a second ($n lines)" \
		[ "$n" -ge 1 -a "$n" -le 8 ]
	se_eq "TLS slowloris: never two handshake_timeout lines in the same second" 0 \
		"$(printf '%s\n' "$lines" | grep . | cut -d' ' -f1 | sort | uniq -d | wc -l)"
	wait_connections 1

	# --- 500 mutual-TLS connections that send half a request
	se_log_mark
	rm -f "$RUN/slow-hdr.ready"
	se_bg slow-hdr "${SLOW[@]}" header --connect "$NET.1:5061" "${SRC[@]}" --count 500 \
		--cert "$PKI/partner.crt" --key "$PKI/partner.key" --ca "$PKI/ca.crt" \
		--template "$SCEN/message.sip" --expect 2 --grace 3 --parallel 40 \
		--ready "$RUN/slow-hdr.ready"
	pid=$BG_PID
	if wait_file "$RUN/slow-hdr.ready" "$pid" 30; then
		legit_now "header slowloris: during it a partner MESSAGE gets 200"
	else
		not_ok "header slowloris: the tool did not open its connections"
	fi
	wait_pid "$pid" 40
	f=$RUN/slow-hdr.out
	sed -n '/^OPEN_SECONDS\|^OPENED\|^MIN_S\|^MEDIAN_S\|^MAX_S/p' "$f" | sed 's/^/# /'
	se_eq "header slowloris: 500 mutual-TLS connections opened" 500 "$(val "$f" OPENED)"
	se_eq "header slowloris: no handshake failed" 0 "$(val "$f" HANDSHAKE_FAILED)"
	se_eq "header slowloris: all 500 closed within header_timeout 2 s + 3 s" 500 "$(val "$f" IN_TIME)"
	se_eq "header slowloris: none closed before the timeout (1.5 s)" 0 "$(val "$f" EARLY)"
	se_eq "header slowloris: 500 header_timeout rejections logged" 500 \
		"$(se_log_lines "event=message_rejected peer=$NETRE\\.4[1-5]:" \
			'limits\.header_timeout' | wc -l)"
	wait_connections 1
fi
se_daemon_alive
note "slowloris: $((SECONDS - T0)) s"

# ====================================================== malformed / oversized
T0=$SECONDS
restart '{ max_message_size = 131072; transaction_timeout = 5; }'

# --- 10 000 requests without Call-ID on one connection, as fast as possible
flood() {   # NAME COUNT [abuse_flood args]
	local name=$1 n=$2; shift 2
	timeout 120 "${FLOOD[@]}" messages --connect "$NET.1:5061" --bind "$NET.22" \
		"${CERTARGS[@]}" --template "$SCEN/no-callid.sip" --count "$n" --timeout 60 \
		"$@" >"$RUN/$name.out" 2>&1
}
flood warmup 1000
se_eq "warm-up: 1000 x 400" 1000 "$(val "$RUN/warmup.out" STATUS_400)"
rss0=$(rss)
se_log_mark
flood flood 10000 "${LEGIT[@]}"
rss1=$(rss)
f=$RUN/flood.out
sed -n '/^SEND_SECONDS\|^ELAPSED\|^LEGIT\|^CLOSED\|^MESSAGE_BYTES/p' "$f" | sed 's/^/# /'
note "daemon VmRSS: $rss0 kB after the warm-up, $rss1 kB after the 10 000"
se_eq "flood: all 10 000 sent" 10000 "$(val "$f" SENT)"
se_eq "flood: answered, 10 000 x 400" 10000 "$(val "$f" STATUS_400)"
se_eq "flood: nothing but 400" 10000 "$(val "$f" RESPONSES)"
se_eq "flood: the connection was not closed" no "$(val "$f" CLOSED)"
se_eq "flood: afterwards the same connection still answers (400)" 400 "$(val "$f" AFTER)"
se_check "flood: over within 60 s ($(val "$f" ELAPSED) s)" \
	awk -v t="$(val "$f" ELAPSED)" 'BEGIN { exit !(t != "" && t < 60) }'
se_eq "flood: partner MESSAGE (other connection, $NET.21) during it: 200" 200 \
	"$(val "$f" LEGIT_DURING | cut -d' ' -f1)"
se_check "flood: partner answered before the flood was ($(val "$f" LEGIT_DONE_AT_RESPONSES) of 10000 answered)" \
	[ "$(val "$f" LEGIT_DONE_AT_RESPONSES)" -lt 10000 ]
if [ "${SE_VALGRIND:-0}" = 1 ]; then
	note "VmRSS not checked under valgrind"
elif ldd "$SIPEDGE" 2>/dev/null | grep -q libasan; then
	# ASan keeps freed memory in quarantine (256 MB): RSS says nothing
	# there; its leak checker does.
	note "VmRSS not checked with AddressSanitizer"
else
	se_check "flood: VmRSS grew by at most 4 MB ($((rss1 - rss0)) kB)" [ $((rss1 - rss0)) -le 4096 ]
fi
se_eq "flood: one message_rejected line per request (10 000 + the one after)" 10001 \
	"$(se_log_lines "event=message_rejected peer=$NETRE\\.22:" 'Call-ID' | wc -l)"
se_daemon_alive "daemon alive after the flood"

# raw FILE : bytes for sippeer --raw-file
big=$RUN/big.sip
# --- larger than max_message_size (131072): 200 KB body
{ printf 'MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS %s:5061;branch=z9hG4bK-big\r\nMax-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=1\r\nTo: <sip:bob@example.test>\r\nCall-ID: big-%s\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 204800\r\n\r\n' "$NET.21" $$
  head -c 204800 /dev/zero | tr '\0' x; } >"$big"
se_log_mark
se_send_any "200 KB body over max_message_size 128 KB: connection closed" '^CLOSED' \
	"${PARTNER[@]}" --raw-file "$big" --expect-close --timeout 10
se_wait_log "oversized: logged" 'event=message_rejected' 'exceeds limits\.max_message_size'
se_daemon_alive
# --- a header section larger than the limit that never ends (1 KB lines)
{ printf 'MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS %s:5061;branch=z9hG4bK-hdr\r\n' "$NET.21"
  for i in $(seq 200); do printf 'X-Pad: %01000d\r\n' $i; done; } >"$big"
se_send_any "200 KB of headers, no end: connection closed" '^CLOSED' \
	"${PARTNER[@]}" --raw-file "$big" --expect-close --timeout 10
se_check "... at once, not at header_timeout (10 s): $(val "$RUN/send.out" ELAPSED) s" \
	awk -v t="$(val "$RUN/send.out" ELAPSED)" 'BEGIN { exit !(t != "" && t < 1) }'
se_daemon_alive

# request CALLID RURI [EXTRA-HEADER-FILE] : a MESSAGE from the partner as raw bytes
request() {
	{ printf 'MESSAGE %s SIP/2.0\r\nVia: SIP/2.0/TLS %s:5061;branch=z9hG4bK-%s\r\nMax-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=1\r\nTo: <sip:bob@example.test>\r\nCall-ID: %s\r\nCSeq: 1 MESSAGE\r\n' \
		"$2" "$NET.21" "$1" "$1"
	  [ -n "${3:-}" ] && cat "$3"
	  printf 'Content-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'; } >"$big"
}
# sane DESC ERE CALLID : the request in $big gets a final response matching
# ERE (e.g. "STATUS (200|400)") on an open connection; the daemon lives
sane() {
	se_send_any "$1" "$2" "${PARTNER[@]}" --raw-file "$big" --timeout 10
	note "$1: $(printf '%s' "$SEND_OUT" | tr '\n' ' ')"
	se_daemon_alive
}
at_node() { se_count "$RUN/node.rec" --received --call-id "$1"; }

# --- header count bomb: 10 000 "X-H: a" (80 KB, under the 128 KB limit)
id=bomb-$$
for i in $(seq 10000); do printf 'X-H: a\r\n'; done >"$RUN/xh.txt"
request $id sip:bob@example.test "$RUN/xh.txt"
c0=$(cpu)
# more than 512 header lines is refused before Sofia spends time on them
se_send_any "10 000 X-H headers: connection closed (too many header lines)" 'CLOSED' \
	"${PARTNER[@]}" --raw-file "$big" --timeout 10
se_daemon_alive
ticks=$(( $(cpu) - c0 ))
if [ "$(at_node $id)" = 1 ]; then
	se_eq "header bomb: forwarded, the node got all 10 000 X-H" 10000 \
		"$(se_inspect "$RUN/node.rec" --received --call-id $id --count-header X-H)"
fi
# a single-threaded proxy that spends long on one 80 KB request can be
# stalled by a trickle of them: linear parsing takes a few ms
se_check "header bomb: cost the daemon at most 100 ms of CPU ($((ticks * 1000 / CLK)) ms)" \
	[ $((ticks * 1000 / CLK)) -le 100 ]
# --- a 60 KB Request-URI (user part), within the size limit
id=longuri-$$
request $id "sip:$(head -c 61440 /dev/zero | tr '\0' a)@example.test"
sane "60 KB Request-URI user part: a final response" '^STATUS (200|400|403|404|414|416|513) MESSAGE' $id
# --- a 60 KB host name
id=longhost-$$
request $id "sip:bob@$(for i in $(seq 960); do printf 'abcdefghijklmnopqrstuvwxyz01234567890abcdefghijklmnopqrstu.'; done)example.test"
sane "60 KB Request-URI host: refused (400/403/416)" '^STATUS (400|403|416) MESSAGE' $id
se_eq "60 KB host: not forwarded" 0 "$(at_node $id)"
# --- 5000 URI parameters
id=params-$$
request $id "sip:bob@example.test$(for i in $(seq 5000); do printf ';p%d=v' $i; done)"
sane "5000 URI parameters: a final response" '^STATUS (200|400|414|416|513) MESSAGE' $id
# --- 2000 URI headers (?h=v&...) in the Request-URI
id=uhdrs-$$
request $id "sip:bob@example.test?$(for i in $(seq 2000); do printf 'h%d=v&' $i; done)x=y"
sane "2000 URI headers in the Request-URI: a final response" '^STATUS (200|400|414|416|513) MESSAGE' $id
# --- a URI nested 300 deep in a uri parameter (<sip:..;r=<sip:..;r=<...>>>)
id=nested-$$
nest=$(for i in $(seq 300); do printf 'sip:a%d@example.test;r=%%3C' $i; done)
request $id "sip:bob@example.test;r=%3C$nest"
sane "URI nested 300 deep (escaped): a final response" '^STATUS (200|400|414|416|513) MESSAGE' $id
# --- From with 300 nested angle brackets
id=angles-$$
request $id sip:bob@example.test
ang=$(printf '<%.0s' $(seq 300))
sed -i "s|^From: <sip:alice@partner.test>;tag=1|From: $ang""sip:alice@partner.test>;tag=1|" "$big"
sane "From with 300 nested '<': a final response" '^STATUS (400|403) MESSAGE' $id
# --- 1000 Via entries
id=vias-$$
for i in $(seq 1000); do printf 'Via: SIP/2.0/TLS 192.0.2.%d:5061;branch=z9hG4bK-v%d\r\n' $((i % 250 + 1)) $i; done >"$RUN/via.txt"
request $id sip:bob@example.test "$RUN/via.txt"
# 1000 Via lines are more than the 512 header lines the edge reads
se_send_any "1000 extra Via entries: connection closed (too many header lines)" 'CLOSED' \
	"${PARTNER[@]}" --raw-file "$big" --timeout 10
se_daemon_alive
# --- requests within max_message_size must be served, however they come
# an 80 KB body (the limit is 128 KB)
id=body80-$$
{ printf 'MESSAGE sip:bob@example.test SIP/2.0\r\nVia: SIP/2.0/TLS %s:5061;branch=z9hG4bK-%s\r\nMax-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=1\r\nTo: <sip:bob@example.test>\r\nCall-ID: %s\r\nCSeq: 1 MESSAGE\r\nContent-Type: text/plain\r\nContent-Length: 81920\r\n\r\n' \
	"$NET.21" $id $id; head -c 81920 /dev/zero | tr '\0' b; } >"$big"
se_send_any "80 KB body, under max_message_size: forwarded, 200" '^STATUS 200 MESSAGE' \
	"${PARTNER[@]}" --raw-file "$big" --timeout 15
se_eq "80 KB body: reached the node" 1 "$(at_node $id)"
# two 125 KB requests back to back on one connection (each under 128 KB;
# in 128 long header lines: more than 512 lines is the header bomb above)
{ printf 'MESSAGE sip:bob@example.test SIP/2.0\nVia: SIP/2.0/${TRANSPORT} ${LOCAL};branch=${BRANCH}\n'
  printf 'Max-Forwards: 70\nFrom: <sip:alice@partner.test>;tag=${TAG}\nTo: <sip:bob@example.test>\n'
  printf 'Call-ID: ${CALLID}\nCSeq: 1 MESSAGE\n'
  for i in $(seq 128); do printf 'X-Pad: %0970d\n' $i; done
  printf 'Content-Type: text/plain\n\nhi\n'; } >"$RUN/pad.sip"
timeout 60 "${FLOOD[@]}" messages --connect "$NET.1:5061" --bind "$NET.22" "${CERTARGS[@]}" \
	--template "$RUN/pad.sip" --count 2 --timeout 15 >"$RUN/pipe2.out" 2>&1
note "two pipelined $(val "$RUN/pipe2.out" MESSAGE_BYTES)-byte requests: $(tr '\n' ' ' <"$RUN/pipe2.out")"
se_eq "two pipelined 125 KB requests: both answered 200" 2 "$(val "$RUN/pipe2.out" STATUS_200)"
se_eq "two pipelined 125 KB requests: connection kept" no "$(val "$RUN/pipe2.out" CLOSED)"
se_daemon_alive
legit_now "after all of it: partner MESSAGE gets 200"
note "malformed/oversized: $((SECONDS - T0)) s"

# ====================================================== discovered-domain rate
T0=$SECONDS
restart '{ rate_per_discovered_domain = 20; }' federation='{
  discovery = true;
  allowed = ( { domain = "partner.test"; peer = "sip.partner.test"; } );
}'
se_log_mark
se_tls_client open
burst=(); for i in $(seq 30); do burst+=("$SCEN/message.sip"); done
rm -f "$RUN/burst.out"
se_bg burst-send "${PEER[@]}" send "${TLSARGS[@]}" --bind "$NET.22" --var FROM=sip:burst@open.test \
	--pipeline --out "$RUN/burst.out" --timeout 20 "${burst[@]}"
pid=$BG_PID
legit_now "rate cap: during the open.test burst a partner MESSAGE gets 200"
wait_pid "$pid" 30
se_eq "rate cap: the burst tool succeeded (a final response to each)" 0 "$WAIT_RC"
n200=$(se_count "$RUN/burst.out" --status 200)
n503=$(se_count "$RUN/burst.out" --status 503)
note "burst of 30 from open.test: $n200 x 200, $n503 x 503"
se_eq "rate cap: every one of the 30 answered (200 or 503)" 30 $((n200 + n503))
se_check "rate cap: some 503 ($n503)" [ "$n503" -ge 1 ]
se_check "rate cap: the bucket of 20 went through ($n200)" [ "$n200" -ge 20 ]
se_eq "rate cap: each 503 has Retry-After" "$n503" \
	"$(grep -Eic $'^Retry-After: *[0-9]+ *\r?$' "$RUN/burst.out")"
se_eq "rate cap: one rate_limited line per 503" "$n503" \
	"$(se_log_lines 'event=inbound_rejected reason=rate_limited status=503 domain=open\.test ' | wc -l)"
note "rate cap: $((SECONDS - T0)) s"

se_daemon_alive
se_stop_daemon
se_done
