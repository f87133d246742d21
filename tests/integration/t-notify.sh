#!/bin/bash
# systemd notify protocol: with NOTIFY_SOCKET set (and no -f) sipedge stays
# in the foreground and sends READY=1 once its listeners accept, STATUS= at
# start and every 5 s, WATCHDOG=1 at half of WATCHDOG_USEC (only when
# WATCHDOG_PID is unset or its own pid), RELOADING=1 + READY=1 around a
# reload (a failed one too) and STOPPING=1 on SIGTERM. The socket is a
# python stand-in for systemd that records the sender's pid (SCM_CREDENTIALS).
. "$(dirname "$0")/lib.sh"
se_init 20
se_need sipp
se_pki
se_write_conf
se_node_uas node-uas.xml

SLOW=1 START=10
[ "${SE_VALGRIND:-0}" = 1 ] && SLOW=3 START=60
NLOG=$RUN/notify.log
SOCK=$RUN/notify.sock
if [ ${#SOCK} -gt 100 ]; then           # sun_path is 108 bytes
	SOCKDIR=$(mktemp -d /tmp/sipedge-notify.XXXXXX)
	SOCK=$SOCKDIR/notify.sock
	trap 'rm -rf "$SOCKDIR"; se_done' EXIT
fi
se_bg notify python3 "$TOOLS/notify_listen.py" --socket "$SOCK" --out "$NLOG" \
	--check "$NET.1:5061" --check "$NET.2:5060" --ready "$RUN/notify.ready" --timeout 600
"${PEER[@]}" wait --file "$RUN/notify.ready" --pid "$BG_PID" --timeout 10 ||
	{ cat "$RUN/notify.out"; se_bail "notify_listen.py did not start"; }
: >>"$NLOG"

now() { date +%s.%N; }
# start_notified [VAR=VALUE...] : sipedge WITHOUT -f, NOTIFY_SOCKET and VARs
# in its environment, as a child of this shell. WATCHDOG_PID=self: that
# variable is set to the daemon's own pid.
start_notified() {
	local wrap=() pre=() unset=(-u WATCHDOG_USEC -u WATCHDOG_PID)
	if [ "${SE_VALGRIND:-0}" = 1 ]; then
		se_need valgrind
		wrap=(valgrind -q --error-exitcode=99 --leak-check=full
		      --errors-for-leak-kinds=definite,possible)
	fi
	if [ "${1:-}" = WATCHDOG_PID=self ]; then
		pre=(bash -c 'export WATCHDOG_PID=$$; exec "$@"' sh); shift
		unset=(-u WATCHDOG_USEC)
	fi
	echo "# ---- start: $* (${pre[*]:+WATCHDOG_PID=self})" >>"$RUN/sipedge.log"
	T_START=$(now)
	"${pre[@]}" env "${unset[@]}" NOTIFY_SOCKET="$SOCK" "$@" \
		"${wrap[@]}" "$SIPEDGE" -c "$RUN/edge.conf" </dev/null >>"$RUN/sipedge.log" 2>&1 &
	DAEMON_PID=$!
}
# msgs PID [SINCE] : "TIME KEY=VALUE" sent by PID (any: any pid) after epoch SINCE
msgs() {
	awk -v p="$1" -v t="${2:-0}" '($2 == p || (p == "any" && $2 != "-")) && $1 + 0 > t + 0 {
		$2 = ""; sub(/  /, " "); print }' "$NLOG"
}
# wait_msg DESC PID ERE SECONDS [SINCE] : bounded wait for a message from
# PID (after SINCE) whose KEY=VALUE matches ERE; sets MSG_T to its time.
wait_msg() {
	local desc=$1 pid=$2 ere=$3 n=$(($4 * 10)) since=${5:-0} line
	while :; do
		line=$(msgs "$pid" "$since" | awk -v e="$ere" '{ r = $0; sub(/^[^ ]* /, "", r) } r ~ e { print; exit }')
		[ -n "$line" ] && break
		n=$((n - 1))
		if [ "$n" -le 0 ]; then
			not_ok "$desc (nothing matching /$ere/ from pid $pid within $4 s)"
			MSG_T=; return 1
		fi
		sleep 0.1
	done
	MSG_T=${line%% *}
	ok "$desc [+$(awk -v a="$MSG_T" -v b="$since" 'BEGIN { printf "%.2f", a - (b > 0 ? b : a) }') s]"
}
# sleep_until EPOCH
sleep_until() {
	local d
	d=$(awk -v a="$1" -v b="$(now)" 'BEGIN { d = a - b; print (d > 0 ? d : 0) }')
	sleep "$d"
}
# count PID KEY=VALUE FROM TO : how many such messages in (FROM, TO]
count() {
	msgs "$1" "$3" | awk -v k="$2" -v to="$4" '$2 == k && $1 + 0 <= to + 0' | wc -l
}
# gaps PID KEY=VALUE SINCE : seconds between consecutive such messages
gaps() {
	msgs "$1" "$3" | awk -v k="$2" '$2 == k { if (p) printf "%.2f ", $1 - p; p = $1 }'
}
# in_range LO HI VALUES... : every value in [LO, HI]
in_range() {
	local lo=$1 hi=$2 v; shift 2
	[ $# -gt 0 ] || return 1
	for v; do awk -v v="$v" -v lo="$lo" -v hi="$hi" 'BEGIN { exit !(v >= lo && v <= hi) }' || return 1; done
}
STATUS_RE='^STATUS=[0-9]+ external and [0-9]+ internal connections, [0-9]+/[0-9]+ nodes up, [0-9]+ transactions$'

# ------------------------------------------------------------ A: watchdog
note "A: NOTIFY_SOCKET, WATCHDOG_USEC=2000000, no WATCHDOG_PID"
start_notified WATCHDOG_USEC=2000000
A=$DAEMON_PID
wait_msg "READY=1 arrives" any '^READY=1$' "$START" "$T_START" || se_done
T_READY=$MSG_T
sleep 0.3
sender=$(awk '$3 == "READY=1" { print $2; exit }' "$NLOG")
se_eq "READY=1 was sent by the pid started: sipedge did not fork" "$A" "$sender"
if [ "$sender" != "$A" ]; then          # stop the forked daemon too
	SE_PIDS+=("$sender")
	se_done
fi
se_eq "that process is still running, a child of this shell" "$$" \
	"$(awk '{ print $4 }' "/proc/$A/stat" 2>/dev/null)"
se_match "its state is not zombie" '^[RSD]$' "$(awk '{ print $3 }' "/proc/$A/stat" 2>/dev/null)"
se_eq "at READY=1, the external listener $NET.1:5061 accepts" ok \
	"$(awk -v h="$NET.1:5061" '$3 == "READY-CHECK" && $4 == h { print $5; exit }' "$NLOG")"
se_eq "at READY=1, the internal listener $NET.2:5060 accepts" ok \
	"$(awk -v h="$NET.2:5060" '$3 == "READY-CHECK" && $4 == h { print $5; exit }' "$NLOG")"
se_eq "the first two messages: READY=1, then STATUS=" "READY=1 STATUS" \
	"$(msgs "$A" | head -n 2 | awk '{ sub(/=.*/, "", $2); printf "%s%s", (NR > 1 ? " " : ""), ($2 == "READY" ? "READY=1" : $2) }')"
FIRST_STATUS=$(msgs "$A" | awk '$2 ~ /^STATUS=/ { sub(/^[^ ]* /, ""); print; exit }')
se_match "STATUS= has the documented format [$FIRST_STATUS]" "$STATUS_RE" "$FIRST_STATUS"
se_eq "STATUS= at start: nothing connected yet, 1/1 nodes up" \
	"STATUS=0 external and 0 internal connections, 1/1 nodes up, 0 transactions" "$FIRST_STATUS"

sleep_until "$(awk -v t="$T_READY" -v s="$SLOW" 'BEGIN { printf "%.3f", t + 3 * s + 0.2 }')"
n=$(count "$A" WATCHDOG=1 "$T_READY" "$(awk -v t="$T_READY" -v s="$SLOW" 'BEGIN { printf "%.3f", t + 3 * s }')")
se_match "WATCHDOG=1 at least twice within $((3 * SLOW)) s of READY=1 (got $n)" '^([2-9]|[1-9][0-9]+)$' "$n"
g=$(gaps "$A" WATCHDOG=1 "$T_READY")
if in_range 0.7 $((SLOW + 1)) $g; then ok "WATCHDOG=1 every ~1 s, half of WATCHDOG_USEC [gaps: $g]"
else not_ok "WATCHDOG=1 every ~1 s, half of WATCHDOG_USEC [gaps: $g]"; fi

# STATUS follows the connections: 3 external (TLS peers), 1 internal (node)
T=$(now)
se_bg peers python3 "$TOOLS/reload_peers.py" hold --connect "$NET.1:5061" \
	--bind "$NET.21" --cert "$PKI/partner.crt" --key "$PKI/partner.key" \
	--ca "$PKI/ca.crt" --sni edge.test --count 3 --control "$RUN/peers.sock" \
	--ready "$RUN/peers.ready" --timeout 120
"${PEER[@]}" wait --file "$RUN/peers.ready" --pid "$BG_PID" --timeout 20 ||
	{ cat "$RUN/peers.out"; se_bail "reload_peers.py did not connect"; }
out=$(python3 "$TOOLS/reload_peers.py" ctl "$RUN/peers.sock" message 10)
se_match "3 partners connected, each MESSAGE got 200 [$out]" '^sent=3 ok=3 ' "$out"
wait_msg "STATUS= then counts 3 external and 1 internal connections" "$A" \
	'^STATUS=3 external and 1 internal connections, 1/1 nodes up, [0-9]+ transactions$' \
	$((3 * SLOW)) "$T"

# reload: RELOADING=1 then READY=1
T=$(now)
kill -HUP "$A"
wait_msg "SIGHUP: READY=1 again" "$A" '^READY=1$' $((5 * SLOW)) "$T"
se_eq "SIGHUP: RELOADING=1, then READY=1" "RELOADING=1 READY=1" \
	"$(msgs "$A" "$T" | awk '$2 == "RELOADING=1" || $2 == "READY=1" { print $2 }' | xargs)"
se_daemon_alive "sipedge still running after the reload"

# failed reload: RELOADING=1 then READY=1 as well
cp "$RUN/edge.conf" "$RUN/edge.conf.good"
se_write_conf 'limits={ frobnicate = 1; }'
T=$(now)
kill -HUP "$A"
wait_msg "failed reload: READY=1 again" "$A" '^READY=1$' $((5 * SLOW)) "$T"
se_eq "failed reload: RELOADING=1, then READY=1" "RELOADING=1 READY=1" \
	"$(msgs "$A" "$T" | awk '$2 == "RELOADING=1" || $2 == "READY=1" { print $2 }' | xargs)"
se_daemon_alive "sipedge still running after the failed reload"
cp "$RUN/edge.conf.good" "$RUN/edge.conf"
out=$(python3 "$TOOLS/reload_peers.py" ctl "$RUN/peers.sock" message 10)
se_match "the partners' connections still work [$out]" '^sent=3 ok=3 ' "$out"
python3 "$TOOLS/reload_peers.py" ctl "$RUN/peers.sock" quit >/dev/null

T=$(now)
se_stop_daemon
wait_msg "SIGTERM: STOPPING=1" "$A" '^STOPPING=1$' 2 "$T"
se_eq "every message came from that one pid" "" \
	"$(awk -v p="$A" -v t0="$T_START" '$1 + 0 > t0 + 0 && $2 != "-" && $2 != p' "$NLOG" | head -n 3)"

# ------------------------------------------------------------ B: no watchdog
note "B: NOTIFY_SOCKET only"
start_notified
B=$DAEMON_PID
wait_msg "READY=1 arrives" "$B" '^READY=1$' "$START" || se_done
T_READY=$MSG_T
sleep_until "$(awk -v t="$T_READY" -v s="$SLOW" 'BEGIN { printf "%.3f", t + 5 + s - 0.3 }')"
g=$(msgs "$B" | awk '$2 ~ /^STATUS=/ { if (p) printf "%.2f ", $1 - p; p = $1 }')
if in_range 4.5 $((5 + SLOW)) $g; then ok "STATUS= at start and again 5 s later [gaps: $g]"
else not_ok "STATUS= at start and again 5 s later [gaps: ${g:-none}]"; fi
se_eq "no WATCHDOG=1 without WATCHDOG_USEC" 0 "$(count "$B" WATCHDOG=1 0 9e9)"
se_stop_daemon

# ------------------------------------------------------------ C, D: WATCHDOG_PID
note "C: WATCHDOG_USEC=2000000 WATCHDOG_PID=<sipedge's own pid>"
start_notified WATCHDOG_PID=self WATCHDOG_USEC=2000000
C=$DAEMON_PID
wait_msg "READY=1 arrives" "$C" '^READY=1$' "$START" || se_done
wait_msg "WATCHDOG_PID = its pid: WATCHDOG=1 arrives" "$C" '^WATCHDOG=1$' $((2 * SLOW + 1)) "$MSG_T"
se_stop_daemon

note "D: WATCHDOG_USEC=2000000 WATCHDOG_PID=1 (another process)"
start_notified WATCHDOG_PID=1 WATCHDOG_USEC=2000000
D=$DAEMON_PID
wait_msg "READY=1 arrives" "$D" '^READY=1$' "$START" || se_done
T_READY=$MSG_T
sleep $((2 * SLOW)).5
se_eq "WATCHDOG_PID = another pid: no WATCHDOG=1 within $((2 * SLOW)).5 s" 0 \
	"$(count "$D" WATCHDOG=1 0 9e9)"
se_stop_daemon

# ------------------------------------------------------------ E: cannot listen
note "E: a listener that cannot be bound (the sipp node holds $NET.11:5062)"
se_write_conf "listen=(
  { zone = \"external\"; address = \"$NET.1\"; port = 5061; transport = \"tls\"; },
  { zone = \"internal\"; address = \"$NET.11\"; port = 5062; transport = \"tcp\"; } )"
start_notified
E=$DAEMON_PID
n=$((START * 10))
while [ "$n" -gt 0 ] && kill -0 "$E" 2>/dev/null &&
      [ "$(awk '{ print $3 }' "/proc/$E/stat" 2>/dev/null)" != Z ]; do
	sleep 0.1; n=$((n - 1))
done
DAEMON_PID=
se_kill "$E" 1
if [ "$KILL_RC" != 0 ] && [ "$n" -gt 0 ]; then ok "sipedge exits non-zero (rc $KILL_RC)"
else not_ok "sipedge exits non-zero (rc $KILL_RC$([ "$n" -gt 0 ] || echo ', killed'))"; fi
se_eq "... and never says READY=1" "" "$(msgs "$E" | grep 'READY=1')"
se_done
