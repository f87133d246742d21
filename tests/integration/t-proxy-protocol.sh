#!/bin/bash
# PROXY protocol behind a load balancer: HAProxy (Debian package haproxy)
# in TCP mode on $NET.1:5061 balances round robin over two edges, A on
# $NET.3:5061 and B on $NET.4:5061, with send-proxy-v2; both have
# proxy_protocol = true and proxy_from = [ "$NET.1" ]. The partner
# ($NET.21) sends MESSAGEs through HAProxy, one connection each: both edges
# get some, the node (sipp, $NET.11) answers 200, and each edge logs and
# shows (sipedge-ctl connections) the partner's own address, not HAProxy's.
# Refused before TLS, logged and counted: a direct connection from the
# partner (not in proxy_from), garbage or a bare ClientHello from the
# balancer's address, a silent connection (header timeout, bounded). A v1
# header and a v2 one written by hand work, a v2 LOCAL keeps the balancer's
# address. max_connections_per_ip counts the real address: 2 held from one
# partner address through HAProxy ($NET.1:5071, edge A only), the third is
# refused, while three other addresses pass. `sipedge -t` refuses
# proxy_protocol without proxy_from, at its line.
#   .1 HAProxy   .2 A internal   .3 A external (+ metrics :9161)
#   .4 B external   .5 B internal   .11 node   .21-.29 partners
. "$(dirname "$0")/lib.sh"
se_init 38
se_need haproxy sipp
se_pki
MPORT=9161
PP=(python3 "$RUN/pp.py")

# ---- the configuration check
SE_CONF=$RUN/bad.conf se_write_conf "listen=(
  { zone = \"external\"; address = \"$NET.3\"; port = 5061;
    proxy_protocol = true; },
  { zone = \"internal\"; address = \"$NET.2\"; port = 5060; transport = \"tcp\"; }
)"
out=$(cd "$RUN" && "$SIPEDGE" -t -c "$RUN/bad.conf" 2>&1)
se_match "sipedge -t: proxy_protocol without proxy_from is an error at its line" \
	"bad\\.conf:$(grep -n 'proxy_protocol = true' "$RUN/bad.conf" | cut -d: -f1): 'proxy_protocol = true' needs 'proxy_from'" "$out"

# ---- two edges behind HAProxy
# conf_for EXT INT CTL FILE [GROUP=VALUE...]
conf_for() {
	local ext=$1 int=$2 ctl=$3 file=$4; shift 4
	SE_CONF=$file se_write_conf "listen=(
  { zone = \"external\"; address = \"$ext\"; port = 5061; transport = \"tls\";
    proxy_protocol = true; proxy_from = [ \"$NET.1\" ]; },
  { zone = \"internal\"; address = \"$int\"; port = 5060; transport = \"tcp\"; }
)" "limits={ max_connections_per_ip = 2; }" \
		"admin={ control_socket = \"$ctl\"; metrics_address = \"$ext\"; metrics_port = $MPORT; }" "$@"
}
CTL_B=$RUN/control-b.sock
[ ${#CTL_B} -gt 90 ] && CTL_B=/tmp/sipedge-ctl-$TEST-b-${NET##*.}.sock
conf_for "$NET.3" "$NET.2" "$SE_CTL" "$RUN/edge.conf"
conf_for "$NET.4" "$NET.5" "$CTL_B" "$RUN/edge-b.conf"
( cd "$RUN" && "$SIPEDGE" -t -c "$RUN/edge.conf" ) >/dev/null 2>&1 ||
	se_bail "edge.conf refused: $(cd "$RUN" && "$SIPEDGE" -t -c "$RUN/edge.conf" 2>&1)"
ok "sipedge -t accepts proxy_protocol with proxy_from"

se_node_uas node-uas.xml
se_start_daemon "$NET.3:5061" "$NET.2:5060"
se_bg edge-b "$SIPEDGE" -f -c "$RUN/edge-b.conf"
B_PID=$BG_PID
LOG_B=$RUN/edge-b.out
"${PEER[@]}" wait --listen "$NET.4:5061" --listen "$NET.5:5060" --pid "$B_PID" --timeout 20 &&
	grep -q 'event=startup' "$LOG_B" || se_bail "edge B did not start: $(tail -5 "$LOG_B")"
ok "edge B started (pid $B_PID)"

cat >"$RUN/haproxy.cfg" <<EOF
global
  maxconn 200
defaults
  mode tcp
  source $NET.1
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend federation
  bind $NET.1:5061
  default_backend edges
backend edges
  balance roundrobin
  server a $NET.3:5061 send-proxy-v2
  server b $NET.4:5061 send-proxy-v2
listen only_a
  bind $NET.1:5071
  server a $NET.3:5061 send-proxy-v2
EOF
haproxy -c -f "$RUN/haproxy.cfg" >"$RUN/haproxy-check.out" 2>&1 ||
	se_bail "haproxy -c refused the configuration: $(cat "$RUN/haproxy-check.out")"
se_bg haproxy haproxy -f "$RUN/haproxy.cfg" -db
"${PEER[@]}" wait --listen "$NET.1:5061" --listen "$NET.1:5071" --pid "$BG_PID" --timeout 10 ||
	se_bail "haproxy did not start: $(cat "$RUN/haproxy.out")"
ok "haproxy listens on $NET.1:5061 (both edges) and $NET.1:5071 (edge A)"

# The hand-made client: connect from --bind, write a PROXY header (or
# garbage), then optionally TLS as the partner and one MESSAGE.
cat >"$RUN/pp.py" <<'EOF'
import argparse, socket, ssl, struct, sys, time, uuid
p = argparse.ArgumentParser()
p.add_argument("--connect", required=True)
p.add_argument("--bind", required=True)
p.add_argument("--header", default="none")  # none v1:IP:PORT v2:IP:PORT local garbage
p.add_argument("--pki")
p.add_argument("--message", action="store_true")
p.add_argument("--hold", type=float, default=0)
p.add_argument("--wait-close", type=float, default=0)
a = p.parse_args()
host, port = a.connect.rsplit(":", 1)
port = int(port)
s = socket.create_connection((host, port), timeout=10, source_address=(a.bind, 0))
sig = b"\r\n\r\n\x00\r\nQUIT\n"
h = a.header
if h.startswith("v1:"):
    _, ip, sp = h.split(":")
    data = ("PROXY TCP4 %s %s %s %d\r\n" % (ip, host, sp, port)).encode()
elif h.startswith("v2:"):
    _, ip, sp = h.split(":")
    body = socket.inet_aton(ip) + socket.inet_aton(host) + struct.pack("!HH", int(sp), port)
    data = sig + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body
elif h == "local":
    data = sig + bytes([0x20, 0x00, 0, 0])
elif h == "garbage":
    data = b"GET / HTTP/1.0\r\n\r\n"
else:
    data = b""
if data:
    s.sendall(data)
if a.wait_close:
    s.settimeout(a.wait_close)
    t0 = time.monotonic()
    try:
        d = s.recv(100)
        print("CLOSED" if d == b"" else "DATA", "%.1f" % (time.monotonic() - t0))
    except socket.timeout:
        print("OPEN")
    except OSError as e:
        print("CLOSED", "%.1f" % (time.monotonic() - t0), e)
    sys.exit(0)
ctx = ssl.create_default_context(cafile=a.pki + "/ca.crt")
ctx.load_cert_chain(a.pki + "/partner.crt", a.pki + "/partner.key")
try:
    s = ctx.wrap_socket(s, server_hostname="edge.test")
    s.settimeout(10)
    if a.message:
        s.do_handshake()
except (ssl.SSLError, OSError) as e:
    print("HANDSHAKE_FAILED", e)
    sys.exit(1)
if a.message:
    lip, lport = s.getsockname()[:2]
    body = b"hello through a balancer"
    cid = uuid.uuid4().hex
    msg = ("MESSAGE sip:bob@example.test SIP/2.0\r\n"
           "Via: SIP/2.0/TLS %s:%d;branch=z9hG4bK%s\r\n"
           "Max-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=%s\r\n"
           "To: <sip:bob@example.test>\r\nCall-ID: pp-%s\r\nCSeq: 1 MESSAGE\r\n"
           "Content-Type: text/plain\r\nContent-Length: %d\r\n\r\n"
           % (lip, lport, cid[:10], cid[10:16], cid, len(body))).encode() + body
    s.sendall(msg)
    buf = b""
    try:
        while True:
            d = s.recv(4096)
            if not d:
                break
            buf += d
            if b"\r\n\r\n" in buf and not buf.startswith(b"SIP/2.0 1"):
                break
            if buf.startswith(b"SIP/2.0 1") and b"\r\n\r\n" in buf:
                buf = buf.split(b"\r\n\r\n", 1)[1]
    except (socket.timeout, OSError) as e:
        print("NO_ANSWER", e)
        sys.exit(1)
    print("STATUS", buf.split(b"\r\n", 1)[0].decode(errors="replace"))
    sys.stdout.flush()
else:
    # TLS 1.3: the server's verdict on our certificate comes after the
    # handshake; a read shows it (or times out: accepted).
    s.settimeout(0.5)
    try:
        d = s.recv(1)
        if d == b"":
            print("CLOSED")
            sys.exit(1)
    except socket.timeout:
        pass
    except (ssl.SSLError, OSError) as e:
        print("HANDSHAKE_FAILED", e)
        sys.exit(1)
    print("HANDSHAKE_OK")
    sys.stdout.flush()
if a.hold:
    time.sleep(a.hold)
EOF

# metric EDGE SERIES : a sample of edge EDGE's metrics (0 when absent).
metric() {
	timeout 10 python3 - "http://$1:$MPORT/metrics" "$2" <<'EOF'
import sys, urllib.request
o = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    t = o.open(sys.argv[1], timeout=5).read().decode()
except Exception as e:
    print("error:%s" % e); sys.exit(0)
v = [l.split()[-1] for l in t.splitlines() if l.startswith(sys.argv[2] + " ")]
print(v[0] if v else 0)
EOF
}

# ---- messages through HAProxy land on both edges
se_log_mark
MARK_B=$(wc -l <"$LOG_B")
for i in 1 2 3 4 5 6; do
	se_send "MESSAGE $i through HAProxy gets 200" "${PARTNER[@]}" "$SCEN/message.sip" \
		--var CALLID=pp-lb-$i-$$ --expect 200
done
n_a=$(grep -c "^Via: SIP/2.0/TCP $NETRE\\.2:5060" "$RUN/node.msg")
n_b=$(grep -c "^Via: SIP/2.0/TCP $NETRE\\.5:5060" "$RUN/node.msg")
note "node trace: $n_a Vias of edge A, $n_b of edge B"
[ "$n_a" -ge 2 ] && [ "$n_b" -ge 2 ] && ok "both edges relayed some (A $n_a, B $n_b)" ||
	not_ok "both edges relayed some (A $n_a, B $n_b)"
se_wait_log "edge A logs the partner's own address (peer=$NET.21:PORT)" \
	'event=connection_closed' "peer=$NETRE\\.21:[0-9]+ "
lines_b=$(tail -n +"$((MARK_B + 1))" "$LOG_B")
se_match "edge B logs the partner's own address too" \
	"event=connection_closed .*peer=$NETRE\\.21:[0-9]+ " "$lines_b"
se_nomatch "edge A never names HAProxy's address as a peer" "peer=$NETRE\\.1:" \
	"$(se_log_lines 'peer=' || true)"
se_nomatch "edge B neither" "peer=$NETRE\\.1:" "$lines_b"

# ---- sipedge-ctl connections: the held partner connection
se_bg held "${PEER[@]}" send "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=pp-held-$$ --expect 200 --hold 20 --timeout 25
HELD=$BG_PID
n=0
while [ $n -lt 100 ] && ! grep -q 'STATUS 200' "$RUN/held.out" 2>/dev/null; do
	sleep 0.1; n=$((n + 1))
done
ctl_out=$("$SIPEDGE_CTL" -s "$SE_CTL" connections 2>&1; "$SIPEDGE_CTL" -s "$CTL_B" connections 2>&1)
printf '%s\n' "$ctl_out" | sed 's/^/#   /' | head -8
line=$(printf '%s\n' "$ctl_out" | grep 'zone=external' | head -n 1)
se_match_all "sipedge-ctl connections shows peer=$NET.21 on the edge that has it" "$line" \
	"peer=$NETRE\\.21:[0-9]+ " 'state=up' 'cert_names=sip\.partner\.test'
se_nomatch "... and no external connection from HAProxy's address" \
	"zone=external .*peer=$NETRE\\.1:" "$ctl_out"
se_kill "$HELD" 2

# ---- refused before TLS
se_log_mark
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.21" --pki "$PKI" 2>&1)
se_match "a direct TLS connection from the partner (not in proxy_from) fails" \
	'HANDSHAKE_FAILED|CLOSED' "$out"
se_wait_log "... refused at accept, logged with the partner's address" \
	'event=connection_refused' 'reason=proxy_not_allowed' "peer=$NETRE\\.21:"
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.22" --wait-close 5 2>&1)
se_match "... closed before anything is read" '^CLOSED 0\.' "$out"
se_eq "... counted" 2 "$(metric "$NET.3" 'sipedge_rejections_total{event="connection_refused",reason="proxy_not_allowed"}')"

out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.1" --header garbage --wait-close 5 2>&1)
se_match "garbage instead of a PROXY header from the balancer's address: closed" '^CLOSED' "$out"
se_wait_log "... logged with a reason" 'event=connection_refused' 'reason=proxy_header_invalid' \
	"peer=$NETRE\\.1:" 'detail="not a PROXY protocol header"'
sleep 1.1    # one line a second per reason
se_log_mark
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.1" --pki "$PKI" 2>&1)
se_match "a ClientHello without a PROXY header: the handshake fails" 'HANDSHAKE_FAILED|CLOSED' "$out"
se_wait_log "... refused as proxy_header_invalid" 'event=connection_refused' 'reason=proxy_header_invalid'
se_nomatch "... and no TLS handshake was attempted" 'event=tls_handshake_failed' \
	"$(se_log_lines 'event=' || true)"

se_log_mark
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.1" --header none --wait-close 10 2>&1)
se_match "a silent connection is closed within the header timeout (3 s)" '^CLOSED [2-4]\.' "$out"
se_wait_log "... logged as proxy_header_timeout" 'event=connection_refused' \
	'reason=proxy_header_timeout' "peer=$NETRE\\.1:"

# ---- headers written by hand
se_log_mark
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.1" --header "v1:$NET.26:40026" \
	--pki "$PKI" --message 2>&1)
se_match "a PROXY v1 header, then TLS and a MESSAGE: 200" '^STATUS SIP/2\.0 200' "$out"
se_wait_log "... the edge logs the address the v1 header named" \
	'event=connection_closed' "peer=$NETRE\\.26:40026 "
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.1" --header "v2:$NET.27:40027" \
	--pki "$PKI" --message 2>&1)
se_match "a PROXY v2 header by hand: 200" '^STATUS SIP/2\.0 200' "$out"
se_wait_log "... the edge logs the address the v2 header named" \
	'event=connection_closed' "peer=$NETRE\\.27:40027 "
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.1" --header local \
	--pki "$PKI" --message 2>&1)
se_match "a v2 LOCAL header (a balancer's own check): 200" '^STATUS SIP/2\.0 200' "$out"
se_wait_log "... with the balancer's own address" 'event=connection_closed' "peer=$NETRE\\.1:[0-9]+ "

# ---- max_connections_per_ip counts the real address
se_log_mark
pids=()
for i in 1 2; do
	se_bg "hold$i" "${PP[@]}" --connect "$NET.1:5071" --bind "$NET.21" --pki "$PKI" --hold 15
	pids+=("$BG_PID")
done
n=0
while [ $n -lt 100 ] && [ "$(cat "$RUN/hold1.out" "$RUN/hold2.out" 2>/dev/null | grep -c HANDSHAKE_OK)" -lt 2 ]; do
	sleep 0.1; n=$((n + 1))
done
se_eq "two connections from $NET.21 through HAProxy are held" 2 \
	"$(cat "$RUN/hold1.out" "$RUN/hold2.out" | grep -c HANDSHAKE_OK)"
out=$(timeout 20 "${PP[@]}" --connect "$NET.1:5071" --bind "$NET.21" --pki "$PKI" 2>&1)
se_match "the third from $NET.21 is refused (max_connections_per_ip = 2, real address)" \
	'HANDSHAKE_FAILED|CLOSED' "$out"
se_wait_log "... limit_reached for the partner's address, not HAProxy's" \
	'event=limit_reached' 'limit=max_connections_per_ip' "peer=$NETRE\\.21( |$)"
for i in 3 4 5; do
	se_bg "hold$i" "${PP[@]}" --connect "$NET.1:5071" --bind "$NET.2$i" --pki "$PKI" --hold 10
	pids+=("$BG_PID")
done
n=0
while [ $n -lt 100 ] && [ "$(cat "$RUN"/hold[345].out 2>/dev/null | grep -c HANDSHAKE_OK)" -lt 3 ]; do
	sleep 0.1; n=$((n + 1))
done
se_eq "three connections from three other addresses pass meanwhile (5 from HAProxy)" 3 \
	"$(cat "$RUN"/hold[345].out | grep -c HANDSHAKE_OK)"
for p in "${pids[@]}"; do se_kill "$p" 2; done

# ---- a reload turns it off and on again on the listener it keeps
se_log_mark
SE_CONF=$RUN/edge.conf se_write_conf "listen=(
  { zone = \"external\"; address = \"$NET.3\"; port = 5061; transport = \"tls\"; },
  { zone = \"internal\"; address = \"$NET.2\"; port = 5060; transport = \"tcp\"; }
)" "admin={ control_socket = \"$SE_CTL\"; metrics_address = \"$NET.3\"; metrics_port = $MPORT; }"
kill -HUP "$DAEMON_PID"
se_wait_log "reload without proxy_protocol" 'event=reload' 'result=ok'
se_send "... then a direct connection from the partner gets 200" "${PARTNER[@]}" \
	--connect "$NET.3:5061" "$SCEN/message.sip" --var CALLID=pp-direct-$$ --expect 200
se_log_mark
conf_for "$NET.3" "$NET.2" "$SE_CTL" "$RUN/edge.conf"
kill -HUP "$DAEMON_PID"
se_wait_log "reload with proxy_protocol again" 'event=reload' 'result=ok'
sleep 1.1    # one line a second per reason
out=$("${PP[@]}" --connect "$NET.3:5061" --bind "$NET.21" --wait-close 5 2>&1)
se_match "... a direct connection is refused again" '^CLOSED 0\.' "$out"
se_wait_log "... as proxy_not_allowed" 'event=connection_refused' 'reason=proxy_not_allowed'
se_send "... and HAProxy's still relay" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=pp-after-$$ --expect 200

se_daemon_alive "edge A still running"
kill -0 "$B_PID" 2>/dev/null && ok "edge B still running" || not_ok "edge B still running (it died)"
se_stop_daemon
se_done
