#!/bin/bash
# edge.workers = 2: a supervisor and two workers on SO_REUSEPORT sockets.
# Traffic over many partner connections is answered (200) and spread over
# both workers; /metrics (one endpoint) sums the counters of both; two
# SIGHUPs under load lose nothing; a rate cap holds for the whole edge, not
# per worker; node health is probed by worker 0 only and read by both; a
# killed worker is restarted with a log line; SIGTERM stops every worker. Helper: tests/tools/reload_peers.py (held connections).
. "$(dirname "$0")/lib.sh"
se_init 47
se_need sipp ss
se_pki

N=40 ROUND=30
RP=(python3 "$TOOLS/reload_peers.py")
BINDS=(--bind "$NET.21" --bind "$NET.22")
PROBE=(--connect "$NET.1:5061" --bind "$NET.29" --cert "$PKI/partner.crt"
       --key "$PKI/partner.key" --ca "$PKI/ca.crt" --sni edge.test
       --known edge="$PKI/edge.crt")
CTL=$RUN/peers.sock
MPORT=9161
URL=http://$NET.1:$MPORT/metrics
SENT=0          # requests the partner sent, each answered by the node

# conf [RATE [HEALTH]] : two workers, metrics on; RATE caps the partner's
# entry, HEALTH is internal.health
conf() {
	local rate=${1:+ rate = $1;} health=${2:-interval = 0;}
	se_write_conf "internal={
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
  health = { $health };
}" \
		 'edge={ fqdn = "edge.test"; workers = 2; }' \
		"admin={ metrics_address = \"$NET.1\"; metrics_port = $MPORT; }" \
		"federation={ allowed = ( { domain = \"${ALLOWED:-partner}.test\"; peer = \"sip.${ALLOWED:-partner}.test\"; port = 5061;$rate } );
  static_routes = ( { pattern = \".test.partner.*\"; next_hop = \"sip.partner.test\"; port = 5061; } ); }"
}

# workers : the supervisor's live children, one pid a line
workers() { pgrep -P "$DAEMON_PID" | sort; }

# round : one MESSAGE over every held connection; the result in $OUT
round() {
	OUT=$("${RP[@]}" ctl --timeout $((ROUND + 15)) "$CTL" message "$ROUND")
	SENT=$((SENT + N))
}

# inbound_total : sum of sipedge_requests_total{direction="inbound"}
inbound_total() {
	timeout 10 python3 - "$URL" <<'EOF'
import sys, urllib.request
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    body = opener.open(sys.argv[1], timeout=5).read().decode()
except Exception as e:
    print("error:", e)
    sys.exit(0)
n = 0
for line in body.splitlines():
    if line.startswith("sipedge_requests_total{") and 'direction="inbound"' in line:
        n += int(float(line.rsplit(" ", 1)[1]))
print(n)
EOF
}

# probes COUNT : COUNT MESSAGEs, each over a new connection: " 200" for a
# 200, " refused" for another final answer, " ?" else
probes() {
	local k out
	for k in $(seq "$1"); do
		out=$("${RP[@]}" probe "${PROBE[@]}" --message --timeout 10 2>&1)
		case $(echo $out) in
		*"STATUS 200"*) printf ' 200' ;;
		*FAILED*" other=1 "*) printf ' refused' ;;
		*) printf ' ?' ;;
		esac
	done
}

# wait_lines ERE COUNT : up to 10 s for COUNT log lines after the mark
wait_lines() {
	local n=100
	while [ "$n" -gt 0 ] && [ "$(se_log_lines "$1" | wc -l)" -lt "$2" ]; do
		sleep 0.1; n=$((n - 1))
	done
	se_log_lines "$1" | wc -l
}

conf
se_start_dns
se_serve partner "$NET.21:5061" --tls --cert "$PKI/partner.crt" --key "$PKI/partner.key" \
	--ca "$PKI/ca.crt" --contact "sip:peer@sip.partner.test:5061;transport=tls" --timeout 600
se_node_uas node-uas.xml "$NET.11" node -deadcall_wait 0
se_start_daemon "$NET.1:5061" "$NET.2:5060" "$NET.1:$MPORT"
se_wait_log "the supervisor logs workers_started workers=2" 'event=workers_started workers=2'
se_eq "two worker processes" 2 "$(workers | wc -l)"
se_eq "each worker logged its startup" "worker=0 worker=1" \
	"$(grep -o 'event=startup .*worker=[0-9]*' "$RUN/sipedge.log" | grep -o 'worker=[0-9]*' | sort | tr '\n' ' ' | sed 's/ $//')"

# ---------------------------------------------------------------- one mask key
# No edge.secret_file: the key is random, made once by the supervisor before
# the fork, so a Call-ID one worker masked is unmasked by the other. The
# node's INVITE (Call-ID naming its address: masked) goes out; the partner
# then sends in-dialog MESSAGEs over new connections (spread over both
# workers): each reaches the node with the original Call-ID.
PREC=$RUN/partner.rec NOUT=$RUN/imp1-uac.out
orig="wk-$$@$NET.11"
se_send "the node's INVITE gets 200" --connect "$NET.2:5060" --bind "$NET.11" --out "$NOUT" \
	"$SCEN/topo-node-invite.sip" --var NODE="$NET.11" --var EDGE_INT="$NET.2" \
	--var CALLID="$orig" --expect 200 --timeout 5
sel=(--method INVITE --index -1)
masked=$(se_inspect "$PREC" "${sel[@]}" --header Call-ID)
se_match "INVITE at partner: Call-ID masked" '^semask-[A-Za-z0-9_-]{40,}$' "$masked"
in_ruri=$(se_inspect "$PREC" "${sel[@]}" --values Contact | head -n 1 | sed -E 's/^[^<]*<([^>]*)>.*$/\1/')
in_route=$(se_inspect "$PREC" "${sel[@]}" --values Record-Route | awk 'NR > 1 { printf ", " } { printf "%s", $0 }')
in_from=$(se_inspect "$NOUT" --call-id "$orig" --status 200 --cseq-method INVITE --index -1 --header To)
in_to=$(se_inspect "$PREC" "${sel[@]}" --header From)
M=16          # all on one worker by chance: 1 in 32768
se_log_mark
for c in $(seq 2 $((M + 1))); do
	timeout 20 "${PEER[@]}" send --timeout 5 --out "$RUN/peer.out" "${PARTNER[@]}" \
		"$SCEN/pat-in-dialog.sip" --var METHOD=MESSAGE --var CALLID="$masked" --var CSEQ="$c" \
		--var RURI="$in_ruri" --var ROUTE="$in_route" --var FROM="$in_from" --var TO="$in_to" \
		--expect 200 >>"$RUN/mask.out" 2>&1
done
i=30
while [ $i -gt 0 ] && [ "$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$orig")" -lt "$M" ]; do
	sleep 0.1; i=$((i - 1))
done
se_eq "$M in-dialog MESSAGEs over new connections: all reach the node with the original Call-ID" \
	"$M" "$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$orig")"
se_eq "none reaches the node with the masked Call-ID" 0 \
	"$(se_count "$RUN/node.msg" --received --method MESSAGE --call-id "$masked")"
n=50
while [ "$n" -gt 0 ] && [ "$(se_log_lines 'event=connection_closed .*zone=external' | wc -l)" -lt "$M" ]; do
	sleep 0.1; n=$((n - 1))
done
se_eq "the $M connections were spread over both workers" 2 \
	"$(se_log_lines 'event=connection_closed .*zone=external' | grep -o 'worker=[01]' | sort -u | wc -l)"
SENT=$M         # inbound requests so far, for /metrics below

# ---------------------------------------------------------------- traffic
se_bg peers "${RP[@]}" hold "${PROBE[@]:4}" --connect "$NET.1:5061" "${BINDS[@]}" \
	--count "$N" --control "$CTL" --ready "$RUN/peers.ready" --timeout 300
PEERS_PID=$BG_PID
"${PEER[@]}" wait --file "$RUN/peers.ready" --pid "$PEERS_PID" --timeout 60 ||
	{ cat "$RUN/peers.out"; se_bail "reload_peers.py did not connect"; }
se_match "$N partner connections established" "^opened=$N failed=0 " "$(head -n 1 "$RUN/peers.ready")"
round
se_eq "MESSAGE over each of the $N connections gets 200" \
	"sent=$N ok=$N other=0 noanswer=0 closed=0" "$OUT"

# Which process holds each accepted partner connection.
ss -Htnp state established src "$NET.1:5061" 2>/dev/null |
	grep -o 'pid=[0-9]*' | sort | uniq -c >"$RUN/spread"
sed 's/^/#   /' "$RUN/spread"
se_eq "both workers hold partner connections" 2 "$(wc -l <"$RUN/spread")"
se_eq "no connection is held by the supervisor" 0 "$(grep -c "pid=$DAEMON_PID\$" "$RUN/spread")"

se_eq "/metrics sums both workers: inbound requests = $SENT sent" "$SENT" "$(inbound_total)"

# ---------------------------------------------------------------- 2 reloads under load
se_log_mark
( for i in 1 2 3 4 5 6; do
	"${RP[@]}" ctl --timeout $((ROUND + 15)) "$CTL" message "$ROUND"
  done ) >"$RUN/load.out" 2>&1 &
LOAD=$!
SE_PIDS+=("$LOAD")
sleep 0.3
kill -HUP "$DAEMON_PID"
se_eq "first SIGHUP: both workers reload (result=ok)" 2 "$(wait_lines 'event=reload result=ok' 2)"
kill -HUP "$DAEMON_PID"
se_eq "second SIGHUP: both workers reload again" 4 "$(wait_lines 'event=reload result=ok' 4)"
n=$((ROUND * 6 + 30)) i=0
while [ $i -lt "$n" ] && kill -0 "$LOAD" 2>/dev/null; do sleep 0.2; i=$((i + 1)); done
sed 's/^/#   /' "$RUN/load.out"
SENT=$((SENT + 6 * N))
se_eq "6 rounds of $N MESSAGEs during two reloads: every one gets 200" 6 \
	"$(grep -cx "sent=$N ok=$N other=0 noanswer=0 closed=0" "$RUN/load.out")"
se_eq "/metrics after the reloads: inbound requests = $SENT sent" "$SENT" "$(inbound_total)"
se_eq "no reload failed" 0 "$(se_log_lines 'event=reload result=failed' | wc -l)"

# ---------------------------------------------------------------- global rate cap
# rate = 10 for the partner's entry; a burst of 40 at once spread over both
# workers: a cap per worker would let about 20 through, a global one 10
# (plus what refills while the burst is handled).
conf 10
se_log_mark
kill -HUP "$DAEMON_PID"
se_eq "reload to rate = 10: both workers" 2 "$(wait_lines 'event=reload result=ok' 2)"
sleep 1.1                 # full buckets
t0=${EPOCHREALTIME/./}
round
ms=$(( (${EPOCHREALTIME/./} - t0) / 1000 ))
ok200=$(echo "$OUT" | sed -n 's/.* ok=\([0-9]*\) .*/\1/p')
max=$((10 + 10 * ms / 1000 + 2))
note "burst: $OUT in $ms ms"
se_check "rate 10 is global: 8..$max of $N pass ($ok200), not one cap per worker" \
	[ "${ok200:-0}" -ge 8 -a "${ok200:-99}" -le "$max" ]
se_match "the rest is refused, not lost" "sent=$N ok=$ok200 other=$((N - ok200)) noanswer=0 closed=0" "$OUT"

# ---------------------------------------------------------------- shared health
# internal.health on: worker 0 probes the node and writes the shared state;
# worker 1 does not probe, it reads. The node dies: one node_down (worker 0),
# and requests on connections of both workers get refused at once.
conf "" "interval = 1; timeout = 1; failures = 1;"
se_log_mark
kill -HUP "$DAEMON_PID"
se_eq "reload with internal.health on: both workers" 2 "$(wait_lines 'event=reload result=ok' 2)"
round
se_eq "health on, node up: MESSAGE over each connection gets 200" \
	"sent=$N ok=$N other=0 noanswer=0 closed=0" "$OUT"
se_log_mark
se_kill "$NODE_PID" 5
se_eq "the node stops: one node_down, from worker 0" 1 "$(wait_lines 'event=node_down node=imp1 .*worker=0' 1)"
sleep 1.5
se_eq "worker 1 neither probes nor decides on its own" 0 \
	"$(se_log_lines 'event=node_(down|up) .*worker=1' | wc -l)"
round
se_match "both workers refuse every request while the shared state says down" \
	"^sent=$N ok=0 other=$N noanswer=0 closed=0" "$OUT"

# ---------------------------------------------------------------- health turned off
# A reload turns internal.health off while the shared state says the node
# is down (worker 0 keeps a state known for its node list across a restart
# or a reload, but only while it probes: nothing would ever say "up"
# again). Off means every node up, as in one process: once the node is
# back, both workers route to it.
conf
se_log_mark
kill -HUP "$DAEMON_PID"
se_eq "reload with internal.health off while the node is down: both workers" 2 \
	"$(wait_lines 'event=reload result=ok' 2)"
se_node_uas node-uas.xml        # the node again, for what follows
round
se_eq "health off: both workers route to the node again" \
	"sent=$N ok=$N other=0 noanswer=0 closed=0" "$OUT"

# ---------------------------------------------------------------- a worker dies
se_log_mark
victim=$(workers | head -n 1)
kill -KILL "$victim"
se_wait_log "the supervisor logs the dead worker" "event=worker_exited .*pid=$victim status=\"?signal 9\"? action=restart"
se_wait_log "and restarts it" 'event=worker_restarted '
n=100
while [ "$n" -gt 0 ] && [ "$(workers | wc -l)" -ne 2 ]; do sleep 0.1; n=$((n - 1)); done
se_eq "two workers again" 2 "$(workers | wc -l)"
se_eq "the dead one is not among them" 0 "$(workers | grep -cx "$victim")"
se_wait_log "the new worker started" 'event=startup '
out=$("${RP[@]}" probe "${PROBE[@]}" --message --timeout 10 2>&1)
se_match "a new connection after the restart gets 200" "STATUS 200" "$(echo $out)"
se_daemon_alive "the supervisor is still running"

# ---------------------------------------------------------------- a restart after a reload
# The partner is removed by a reload; a worker then dies: the one restarted
# in its slot must start from the reloaded configuration (the supervisor
# reloads too), not from the one the daemon started with.
ALLOWED=other conf
se_log_mark
kill -HUP "$DAEMON_PID"
se_eq "reload without partner.test: both workers" 2 "$(wait_lines 'event=reload result=ok' 2)"
se_log_mark
victim=$(workers | head -n 1)
kill -KILL "$victim"
se_wait_log "a worker killed after the reload is restarted" 'event=worker_restarted '
se_wait_log "the new worker started" 'event=startup '
before=$(se_count "$RUN/node.msg" --received --method MESSAGE)
se_log_mark
# The kernel spreads new connections over the workers by a hash of their
# addresses: 8 at a time until both have answered (5 rounds at most; all
# 8 on one worker is a 1 in 128 chance per round).
codes='' rounds=0
while [ $rounds -lt 5 ]; do
	codes+=$(probes 8)
	rounds=$((rounds + 1))
	[ "$(se_log_lines 'event=inbound_rejected .*status=403' | grep -o 'worker=[01]' | sort -u | wc -l)" -ge 2 ] && break
done
se_eq "partner.test removed: $((rounds * 8)) new connections, every MESSAGE refused" \
	"" "$(printf '%s' "$codes" | tr ' ' '\n' | grep -v '^refused$' | grep -v '^$')"
se_eq "refused with 403 by both workers (the restarted one too)" "$((rounds * 8)) 2" \
	"$(se_log_lines 'event=inbound_rejected .*status=403 domain=partner\.test' | wc -l) $(se_log_lines 'event=inbound_rejected .*status=403' | grep -o 'worker=[01]' | sort -u | wc -l)"
se_eq "none reached the node" "$before" "$(se_count "$RUN/node.msg" --received --method MESSAGE)"
conf
se_log_mark
kill -HUP "$DAEMON_PID"
se_eq "reload with partner.test again: both workers" 2 "$(wait_lines 'event=reload result=ok' 2)"

# ---------------------------------------------------------------- a hung worker
# SIGSTOP: alive to waitpid(), its loop does not turn. Its heartbeat goes
# stale; within 10 s (+ slack) the supervisor kills and restarts it.
se_log_mark
victim=$(workers | head -n 1)
kill -STOP "$victim"
n=200
while [ "$n" -gt 0 ] && ! se_log_lines 'event=worker_restarted ' >/dev/null; do
	sleep 0.1; n=$((n - 1))
done
se_wait_log "a stopped worker is found hung" "event=worker_hung .*pid=$victim "
se_wait_log "killed and logged" "event=worker_exited .*pid=$victim status=\"?signal 9\"? action=restart"
se_wait_log "and restarted" 'event=worker_restarted '
se_wait_log "the new worker started" 'event=startup '
se_eq "after the hung worker's restart: 6 new connections get 200" \
	" 200 200 200 200 200 200" "$(probes 6)"

# ---------------------------------------------------------------- all workers die at once
# Both killed within the same second: the supervisor must not take "no
# worker alive" for the end (it used to exit 0, and systemd's
# Restart=on-failure did nothing); both slots are restarted.
se_log_mark
both=$(workers)
kill -KILL $both
se_eq "both workers killed at once: two worker_restarted" 2 "$(wait_lines 'event=worker_restarted ' 2)"
n=100
while [ "$n" -gt 0 ] && [ "$(workers | wc -l)" -ne 2 ]; do sleep 0.1; n=$((n - 1)); done
se_eq "two workers again, none of the killed ones" "2 0" \
	"$(workers | wc -l) $(workers | grep -cxF "$both")"
se_daemon_alive "the supervisor is still running after losing every worker"
wait_lines 'event=startup ' 2 >/dev/null
out=$("${RP[@]}" probe "${PROBE[@]}" --message --timeout 10 2>&1)
se_match "a new connection after both restarts gets 200" "STATUS 200" "$(echo $out)"

# ---------------------------------------------------------------- stop
se_kill "$PEERS_PID" 5
pids=$(workers)
se_stop_daemon
left=0
for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
se_eq "SIGTERM stopped every worker" 0 "$left"

# ---------------------------------------------------------------- the supervisor is killed
# SIGKILL leaves the workers no word but the parent-death signal, which the
# privilege drop clears unless set again after it: bounded wait for every
# worker to go and the ports to be free.
se_log_mark
se_start_daemon "$NET.1:5061" "$NET.2:5060" "$NET.1:$MPORT"
wait_lines 'event=startup ' 2 >/dev/null
pids=$(workers)
se_eq "restarted edge: two workers" 2 "$(echo "$pids" | wc -w)"
kill -KILL "$DAEMON_PID"
wait "$DAEMON_PID" 2>/dev/null
DAEMON_PID=
n=50 left=2
while [ "$n" -gt 0 ]; do
	left=0
	for p in $pids; do kill -0 "$p" 2>/dev/null && left=$((left + 1)); done
	[ "$left" = 0 ] && break
	sleep 0.1; n=$((n - 1))
done
se_eq "supervisor killed (-9): every worker exits within 5 s" 0 "$left"
for p in $pids; do kill -KILL "$p" 2>/dev/null; done      # not to leak into later tests
se_eq "and the ports are free" "" \
	"$(ss -Htln "( src $NET.1:5061 or src $NET.2:5060 or src $NET.1:$MPORT )" 2>/dev/null)"
se_done
