#!/bin/bash
# sipedge-ctl over the control socket (admin.control_socket): who may use
# it, status, nodes, connections, partners, dns flush, drop, trace (with
# its bounds: a reader that never reads costs the edge nothing), the
# protocol's refusals, a stale or busy socket, and two workers.
. "$(dirname "$0")/lib.sh"
se_init 36
se_need sipp setpriv
se_pki
se_write_conf
se_node_uas node-uas.xml
se_start_daemon
CTL=("$SIPEDGE_CTL" -s "$SE_CTL")
[ -x "$SIPEDGE_CTL" ] || se_bail "sipedge-ctl not built: $SIPEDGE_CTL"

# ctl ARGS... : CTL_OUT, CTL_ERR, CTL_RC of one sipedge-ctl run (bounded).
ctl() {
	timeout 20 "${CTL[@]}" "$@" >"$RUN/ctl.out" 2>"$RUN/ctl.err"
	CTL_RC=$?
	CTL_OUT=$(cat "$RUN/ctl.out")
	CTL_ERR=$(cat "$RUN/ctl.err")
}

# field KEY TEXT : the value of KEY=value in the first line that has it.
field() { printf '%s\n' "$2" | grep -oE "(^| )$1=[^ ]*" | head -n 1 | sed "s/^ *$1=//"; }

# ---- A: the socket and who may use it
se_eq "A: the control socket is a socket" socket \
	"$(stat -c %F "$SE_CTL" | sed 's/^socket$/socket/')"
se_eq "A: mode 0660: owner and group only, never the world" 660 "$(stat -c %a "$SE_CTL")"
if [ "$(id -u)" = 0 ]; then
	se_eq "A: its group is admin.group (nogroup)" nogroup "$(stat -c %G "$SE_CTL")"
	out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups \
		"${CTL[@]}" status 2>&1)
	se_match "A: a member of admin.group may use it" '(^| )version=' "$out"
	out=$(setpriv --reuid=daemon --regid=daemon --clear-groups \
		"${CTL[@]}" status 2>&1); rc=$?
	se_match "A: any other user may not (exit $rc)" 'Permission denied' "$out"
	se_eq "A: ... and sipedge-ctl exits 1" 1 "$rc"
else
	note "A: not root: the group checks need other accounts"
fi

# ---- B: status, nodes
ctl status
se_eq "B: status exits 0" 0 "$CTL_RC"
se_eq "B: status names the version" "$("$SIPEDGE" -V | awk '{print $2}')" \
	"$(field version "$CTL_OUT")"
se_eq "B: ... the configuration file" "$RUN/edge.conf" "$(field config "$CTL_OUT")"
se_eq "B: ... no reload yet" none "$(field last_reload_result "$CTL_OUT")"
se_eq "B: ... one worker" 1 "$(field workers "$CTL_OUT")"
ctl --json status
se_eq "B: --json status is one JSON object with the pid" "$DAEMON_PID" \
	"$(printf '%s' "$CTL_OUT" | python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["pid"])' 2>&1)"
kill -HUP "$DAEMON_PID"
se_wait_log "B: a reload" 'event=reload'
ctl status
se_eq "B: status shows the reload's result" ok "$(field last_reload_result "$CTL_OUT")"
ctl nodes
se_match_all "B: nodes lists imp1 with its address and state" "$CTL_OUT" \
	"^node=imp1 " "address=$NETRE\\.11:5062" 'state=up'

# ---- C: connections and partners
se_bg held "${PEER[@]}" send "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=ctl-held-$$ --expect 200 --hold 30 --timeout 35
HELD=$BG_PID
n=0
while [ $n -lt 100 ] && ! grep -q 'STATUS 200' "$RUN/held.out" 2>/dev/null; do
	sleep 0.1; n=$((n + 1))
done
ctl connections
line=$(printf '%s\n' "$CTL_OUT" | grep "peer=$NETRE\\.21:" | head -n 1)
se_match_all "C: connections shows the partner's, with what it proved" "$line" \
	'zone=external' 'direction=in' 'state=up' 'cert_names=sip\.partner\.test' \
	'verdicts=partner\.test:accepted' 'local_port=5061'
se_match "C: ... and the bytes it sent" 'bytes_in=[1-9][0-9]*' "$line"
se_match "C: the node's connection is there too" "zone=internal .*node=imp1" "$CTL_OUT"
se_send "C: a MESSAGE from a domain the partner's certificate does not prove: 403" \
	"${PARTNER[@]}" "$SCEN/message.sip" --var CALLID=ctl-evil-$$ \
	--var FROM=sip:mallory@evil.test --expect 403
ctl partners
se_match_all "C: partners counts partner.test's accepted request" \
	"$(printf '%s\n' "$CTL_OUT" | grep '^domain=partner\.test ')" 'in_accepted=1' 'last=accepted'
se_match_all "C: ... and the refusal of evil.test, which it only claimed, under its own name" \
	"$(printf '%s\n' "$CTL_OUT" | grep '^domain=unproven:sip\.partner\.test ')" 'in_refused=1' \
	'last=refused' 'last_reason=[a-z_]+'
se_nomatch "C: ... so a partner cannot fill the table with other organisations' names" \
	'^domain=evil\.test ' "$CTL_OUT"

# ---- D: drop
se_log_mark
ctl drop partner.test
se_eq "D: drop partner.test closes its one connection" "closed=1" "$CTL_OUT"
se_wait_log "D: ... logged with the operator as the reason" \
	'event=connection_closed' "peer=$NETRE\\.21:" 'dropped by the operator'
se_wait_log "D: ... and the command itself, with the operator's uid" \
	'event=control_command' 'command=drop' 'argument=partner\.test' "uid=$(id -u)" 'closed=1'
n=0
while [ $n -lt 50 ] && kill -0 "$HELD" 2>/dev/null; do sleep 0.1; n=$((n + 1)); done
se_match "D: the partner saw its connection close" 'CLOSED|closed' "$(cat "$RUN/held.out")"
ctl drop 192.0.2.99
se_eq "D: drop of an address with no connection closes nothing" "closed=0" "$CTL_OUT"
ctl drop imp1.internal.test
ctl connections
se_match "D: a node's connection is never dropped" "zone=internal" "$CTL_OUT"

# ---- E: trace
# trace_bg NAME ARGS... : sipedge-ctl trace in the background, once started.
trace_bg() {
	local name=$1 n=0; shift
	se_bg "$name" "${CTL[@]}" "$@"
	TRACE_PID=$BG_PID
	while [ $n -lt 50 ] && ! grep -q 'trace.*started' "$RUN/$name.out" 2>/dev/null; do
		sleep 0.1; n=$((n + 1))
	done
}
# trace_end PID : wait (bounded) for a trace to end; TRACE_RC.
trace_end() {
	local n=0
	while [ $n -lt 100 ] && kill -0 "$1" 2>/dev/null; do sleep 0.1; n=$((n + 1)); done
	wait "$1" 2>/dev/null; TRACE_RC=$?
}
trace_bg trace1 trace partner.test --count 4
se_send "E: a MESSAGE from the partner while traced: 200" "${PARTNER[@]}" \
	"$SCEN/message.sip" --var CALLID=ctl-trace-$$ --expect 200
trace_end "$TRACE_PID"
T=$(cat "$RUN/trace1.out")
se_eq "E: the trace ends by itself after --count 4 messages (exit 0)" 0 "$TRACE_RC"
se_match_all "E: it shows the request as it came in, its text under it" "$T" \
	"^trace=in .*zone=external .*peer=$NETRE\\.21:.*cert_names=sip\\.partner\\.test .*method=MESSAGE .*call_id=ctl-trace-$$" \
	'^\| MESSAGE sip:bob@example\.test SIP/2\.0$' '^\| From: <sip:alice@partner\.test>'
se_match "E: the edge's decision: forwarded to node imp1" \
	"^trace=decision .*method=MESSAGE .*verdict=forwarded .*next_hop=node:imp1" "$T"
se_match "E: the request as it went to the node" "^trace=out .*zone=internal .*method=MESSAGE" "$T"
se_match "E: the node's 200 as it came back" "^trace=in .*zone=internal .*status=200" "$T"
se_nomatch "E: no other partner's traffic, no control bytes" $'\r|\x1b' "$T"

trace_bg trace2 trace evil.test --count 2
se_send "E: a refused request while traced: 403" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=ctl-trace-evil-$$ --var FROM=sip:mallory@evil.test --expect 403
trace_end "$TRACE_PID"
T=$(cat "$RUN/trace2.out")
se_match "E: a refusal's decision names its status and reason" \
	'^trace=decision .*verdict=refused .*status=403 .*reason=[a-z_]+.*domain=evil\.test' "$T"
se_match "E: ... and the 403 as sent" '^trace=out .*status=403' "$T"

# What a partner writes reaches the operator's terminal escaped: C0, C1
# (raw and UTF-8) and bidi controls as \xNN in text; JSON keeps the text.
sed 's/^\${BODY:-hello from sippeer}$/caf\xc3\xa9 \x1b[2J \xc2\x9b31m \xe2\x80\xae EVIL/' \
	"$SCEN/message.sip" >"$RUN/esc.sip"
trace_bg trace4 trace partner.test --count 1
se_send "E: a MESSAGE whose body carries terminal controls" "${PARTNER[@]}" "$RUN/esc.sip" \
	--var CALLID=ctl-esc-$$ --expect 200
trace_end "$TRACE_PID"
T=$(cat "$RUN/trace4.out")
se_match "E: text: every byte outside printable ASCII shown as \\xNN" \
	'^\| caf\\xc3\\xa9 \\x1b\[2J \\xc2\\x9b31m \\xe2\\x80\\xae EVIL$' "$T"
se_nomatch "E: ... none of them raw" $'\x1b|\xc2\x9b|\xe2\x80\xae' "$T"
trace_bg trace5 --json trace partner.test --count 1
se_send "E: the same in JSON" "${PARTNER[@]}" "$RUN/esc.sip" --var CALLID=ctl-esc2-$$ --expect 200
trace_end "$TRACE_PID"
line=$(grep '"trace":"in"' "$RUN/trace5.out" | head -n 1)
se_eq "E: JSON keeps the text, with the controls as escapes" yes "$(printf '%s' "$line" | python3 -c '
import json, sys
raw = sys.stdin.read()
m = json.loads(raw)["message"]
body = m.split("\r\n\r\n", 1)[1].strip()
ok = body == "caf\u00e9 \u001b[2J \u009b31m \u202e EVIL" and "\\u009b" in raw and "\\u202e" in raw and "caf\u00e9".encode() in raw.encode()
print("yes" if ok else "no: %r" % body)' 2>&1)"

trace_bg trace3 --json trace "$NET.21" --count 1
se_send "E: traced by address, in JSON" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=ctl-json-$$ --expect 200
trace_end "$TRACE_PID"
se_eq "E: --json trace records are JSON with the message text" "in ctl-json-$$ yes" \
	"$(grep '"trace":"in"' "$RUN/trace3.out" | head -n 1 | python3 -c '
import json, sys
r = json.loads(sys.stdin.readline())
print(r["trace"], r["call_id"], "yes" if r["message"].startswith("MESSAGE sip:") else "no")' 2>&1)"

ctl trace
se_eq "E: trace without a partner is refused (exit 1)" 1 "$CTL_RC"
ctl trace 'bad;domain'
se_match "E: ... so is a malformed one" 'not a domain name or an address' "$CTL_ERR"

# ---- F: a trace reader that never reads costs the edge nothing
timeout 60 python3 - "$SE_CTL" "$RUN/slow.out" <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(sys.argv[1])
s.sendall(b"trace partner.test\n")
open(sys.argv[2] + ".ready", "w").close()
time.sleep(15)          # reads nothing while the flood goes through
s.settimeout(5)
data = b""
try:
    while len(data) < 50_000_000:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
except socket.timeout:
    pass
open(sys.argv[2], "wb").write(data)
EOF
SLOW=$!
n=0
while [ $n -lt 50 ] && [ ! -e "$RUN/slow.out.ready" ]; do sleep 0.1; n=$((n + 1)); done
sleep 0.3
se_send "F: 600 MESSAGEs from the partner while a tracer does not read: every one 200" \
	"${PARTNER[@]}" "$SCEN/message.sip" --repeat 600 --pipeline \
	--window 16 --expect 200 --timeout 60
ctl status
se_eq "F: the edge still answers sipedge-ctl meanwhile" 0 "$CTL_RC"
se_eq "F: ... with the stalled trace counted" 1 "$(field traces "$CTL_OUT")"
wait "$SLOW"
se_match "F: the tracer, reading again, is told how many records it lost" \
	'trace=dropped dropped=[1-9]' "$(grep -a 'trace=dropped' "$RUN/slow.out" | head -n 1)"
ctl status
se_eq "F: its session is gone once it closed" 0 "$(field traces "$CTL_OUT")"

# ---- G: the protocol's bounds
out=$(timeout 10 python3 - "$SE_CTL" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
s.sendall(b"status " + b"x" * 5000)
data = b""
while True:
    c = s.recv(4096)
    if not c: break
    data += c
print(data.decode(errors="replace").splitlines()[-1])
EOF
)
se_eq "G: a command line over 1024 bytes is refused" "ERR command line too long" "$out"
ctl frobnicate
se_match "G: an unknown command is refused (exit $CTL_RC)" 'unknown command' "$CTL_ERR"
out=$(timeout 20 python3 - "$SE_CTL" <<'EOF'
import socket, sys
socks = []
for i in range(20):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(5)
    socks.append(s)
busy = 0
for s in socks:
    try:
        if b"busy" in s.recv(4096): busy += 1
    except socket.timeout:
        pass
print(busy)
EOF
)
se_eq "G: 20 idle sessions at once: the 4 over the cap of 16 are told 'busy'" 4 "$out"
out=$(timeout 30 python3 - "$SE_CTL" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(1)
t0 = time.monotonic()
try:
    while time.monotonic() - t0 < 20:
        s.send(b"s")                   # one byte every half second
        try:
            if s.recv(4096) == b"": break
        except socket.timeout:
            pass
        time.sleep(0.5)
except OSError:
    pass
print("closed after %d s" % round(time.monotonic() - t0))
EOF
)
se_match "G: a command dripped a byte at a time is cut at 10 s ($out)" '^closed after 1[0-2] s$' "$out"
ctl status
se_eq "G: ... and a session is free again once they closed" 0 "$CTL_RC"
ctl dns flush
se_eq "G: dns flush answers how many answers it forgot" "flushed=0" "$CTL_OUT"
ctl dns flush partner.test
se_eq "G: dns flush DOMAIN too" "flushed=0" "$CTL_OUT"
se_wait_log "G: dns flush is logged" 'event=control_command' 'command=dns_flush' 'argument=partner\.test'

# ---- H: a stale socket, a busy one, not a socket
kill -9 "$DAEMON_PID"; wait "$DAEMON_PID" 2>/dev/null; DAEMON_PID=
se_eq "H: after kill -9 the socket file stays behind" socket "$(stat -c %F "$SE_CTL" 2>&1)"
se_start_daemon
ctl status
se_eq "H: a new daemon takes the stale socket over" 0 "$CTL_RC"
cp "$RUN/edge.conf" "$RUN/other.conf"
sed -i "s/$NETRE\\.1\"/$NET.5\"/; s/$NETRE\\.2\"/$NET.6\"/" "$RUN/other.conf"
timeout 20 "$SIPEDGE" -f -c "$RUN/other.conf" >"$RUN/other.log" 2>&1; rc=$?
se_eq "H: a second daemon naming a live daemon's socket does not start" 1 "$rc"
se_match "H: ... and says why" 'startup_failed reason=control_socket .*in use by another running sipedge' \
	"$(cat "$RUN/other.log")"
ctl status
se_eq "H: the first daemon's socket still works" 0 "$CTL_RC"
se_stop_daemon
rm -f "$SE_CTL"; touch "$SE_CTL"
timeout 20 "$SIPEDGE" -f -c "$RUN/edge.conf" >"$RUN/notsock.log" 2>&1; rc=$?
se_match "H: a file that is not a socket is never removed: no start (exit $rc)" \
	'reason=control_socket .*is not a socket' "$(cat "$RUN/notsock.log")"
rm -f "$SE_CTL"
mkdir -p "$RUN/open"; chmod 0777 "$RUN/open"
sed "s|control_socket = \"[^\"]*\"|control_socket = \"$RUN/open/c.sock\"|" "$RUN/edge.conf" >"$RUN/open.conf"
timeout 20 "$SIPEDGE" -f -c "$RUN/open.conf" >"$RUN/open.log" 2>&1; rc=$?
se_match "H: a socket directory others may write (0777, not sticky) is refused (exit $rc)" \
	'reason=control_socket .*may be written by others' "$(cat "$RUN/open.log")"

# ---- I: two workers, one command
sed -i 's/workers = 1;/workers = 2;/' "$RUN/edge.conf"
grep -q 'workers = 2;' "$RUN/edge.conf" || se_bail "I: no workers = 1 to change in edge.conf"
se_start_daemon
n=0
while [ $n -lt 100 ] && [ ! -S "$SE_CTL.1" ]; do sleep 0.1; n=$((n + 1)); done
ctl status
se_eq "I: status answers for each of the two workers" "0 1" \
	"$(printf '%s\n' "$CTL_OUT" | grep -oE '(^| )worker=[0-9]+' | sed 's/.*=//' | sort | tr '\n' ' ' | sed 's/ $//')"
se_eq "I: ... on two sockets, both 0660" "660 660" "$(stat -c %a "$SE_CTL" "$SE_CTL.1" | tr '\n' ' ' | sed 's/ $//')"
se_stop_daemon
se_done
