# lib.sh - shared helpers of the sipedge integration tests (bash, sourced).
#
#   . "$(dirname "$0")/lib.sh"
#   se_init 2                 # NET=127.0.2, RUN=$top_builddir/tests/run/<test>
#   se_pki; se_write_conf; se_start_daemon
#   se_send "MESSAGE gets 200" "${PARTNER[@]}" "$SCEN/message.sip" --expect 200
#   se_done
#
# Every test owns the loopback /24 127.0.N.0 (N given to se_init):
#   .1 external TLS listener :5061   .2 internal TCP listener :5060
#   .11 internal node (sipp) :5062   .21.. federated peers
#   .53 dnsmasq :$DNS_PORT
# Everything started through se_bg / se_start_* is stopped on exit. Every wait
# is bounded. Exit status: 0 pass, 1 fail, 77 skip (automake convention).
# Environment: top_srcdir, top_builddir, SIPEDGE (defaults derived from this
# file's location); SE_VALGRIND=1 runs the daemon under valgrind;
# SE_VERBOSE=1 shows the daemon log live on stderr; SE_NET_SHIFT=K and
# SE_RUN_SUFFIX=S move a test to 127.0.(N+K) and tests/run/<test>S so that a
# second run (t-valgrind.sh, another tree) can go beside the first.

set -u

: "${top_srcdir:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
: "${SIPEDGE:=$top_builddir/src/sipedge}"
TOOLS=$top_srcdir/tests/tools
SCEN=$top_srcdir/tests/integration/scenarios
DNS_PORT=${DNS_PORT:-10053}
SE_PASS=0 SE_FAIL=0 SE_PIDS=() DAEMON_PID='' SE_LOG_MARK=0 SE_SEQ=0

# ------------------------------------------------------------ reporting

ok()     { SE_PASS=$((SE_PASS + 1)); echo "ok - $*"; }
not_ok() { SE_FAIL=$((SE_FAIL + 1)); echo "not ok - $*"; }
note()   { echo "# $*"; }
se_skip() { echo "SKIP: $*"; trap - EXIT; se_cleanup; exit 77; }   # not via se_done (exit 1)
se_bail() { not_ok "$*"; se_done; }

# se_eq DESC EXPECTED ACTUAL
se_eq() {
	if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}
# se_match DESC ERE TEXT   /  se_nomatch DESC ERE TEXT
se_match() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then ok "$1"
	else not_ok "$1 ('$3' does not match /$2/)"; fi
}
# se_match_all DESC TEXT ERE... : TEXT matches every ERE
se_match_all() {
	local desc=$1 text=$2 re; shift 2
	for re; do
		printf '%s\n' "$text" | grep -Eq -- "$re" ||
			{ not_ok "$desc ('$text' does not match /$re/)"; return; }
	done
	ok "$desc"
}
se_nomatch() {
	if printf '%s\n' "$3" | grep -Eq -- "$2"; then
		not_ok "$1 (matches /$2/: $(printf '%s\n' "$3" | grep -E -- "$2" | head -3))"
	else ok "$1"; fi
}
# se_check DESC CMD... : ok if CMD exits 0 (its output is shown on failure)
se_check() {
	local desc=$1; shift
	if "$@" >"$RUN/check.out" 2>&1; then ok "$desc"
	else not_ok "$desc"; sed 's/^/#   /' "$RUN/check.out"; fi
}

# Escape a string for use inside an ERE.
re() { printf '%s' "$1" | sed 's/[].[^$*+?(){}|\\]/\\&/g'; }

se_done() {
	trap - EXIT
	se_cleanup
	echo "# $SE_PASS passed, $SE_FAIL failed ($RUN)"
	if [ "$SE_FAIL" -ne 0 ] || [ "$SE_PASS" -eq 0 ]; then
		if [ -s "$RUN/sipedge.log" ]; then
			echo "# ---- last 40 lines of $RUN/sipedge.log"
			tail -n 40 "$RUN/sipedge.log" | sed 's/^/# /'
		fi
		exit 1
	fi
	exit 0
}

# ------------------------------------------------------------ processes

# se_bg NAME CMD... : run CMD in the background (in $RUN, output to
# $RUN/NAME.out), remember its pid in BG_PID for cleanup.
se_bg() {
	local name=$1; shift
	( cd "$RUN" && exec "$@" ) </dev/null >"$RUN/$name.out" 2>&1 &
	BG_PID=$!
	SE_PIDS+=("$BG_PID")
}

# se_kill PID [SECONDS] : SIGTERM, bounded wait, then SIGKILL; sets KILL_RC.
se_kill() {
	local pid=$1 n=$(( ${2:-5} * 10 ))
	KILL_RC=
	kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; KILL_RC=$?; return 0; }
	kill -TERM "$pid" 2>/dev/null
	while [ "$n" -gt 0 ] && kill -0 "$pid" 2>/dev/null &&
	      [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do
		sleep 0.1; n=$((n - 1))
	done
	if [ "$n" -eq 0 ]; then
		kill -KILL "$pid" 2>/dev/null
		note "pid $pid did not stop on SIGTERM, killed"
	fi
	wait "$pid" 2>/dev/null
	KILL_RC=$?
}

se_cleanup() {
	local i
	[ -n "$DAEMON_PID" ] && se_kill "$DAEMON_PID" 10
	DAEMON_PID=
	for ((i = ${#SE_PIDS[@]} - 1; i >= 0; i--)); do
		se_kill "${SE_PIDS[$i]}" 5
	done
	SE_PIDS=()
}

# se_need_kamailio MODULE... : skip (77) unless Kamailio is installed with
# its tls module and each MODULE.so; sets MPATH (their directory, with a
# trailing /) and KAMDIR (the tests' Kamailio config templates).
se_need_kamailio() {
	local d m ok
	command -v kamailio >/dev/null 2>&1 ||
		se_skip "kamailio is not installed (apt-get install kamailio kamailio-tls-modules)"
	KAMDIR=$top_srcdir/tests/integration/kamailio
	MPATH=
	for d in /usr/lib/*/kamailio/modules /usr/lib/kamailio/modules /usr/lib64/kamailio/modules \
		 /usr/local/lib/*/kamailio/modules /usr/local/lib/kamailio/modules; do
		ok=1
		for m in tls "$@"; do [ -f "$d/$m.so" ] || ok=0; done
		[ $ok = 1 ] && { MPATH=$d/; break; }
	done
	[ -n "$MPATH" ] ||
		se_skip "Kamailio's modules tls $* are not all installed (apt-get install kamailio kamailio-tls-modules)"
}

# ------------------------------------------------------------ setup

se_need() {
	local c
	for c; do command -v "$c" >/dev/null 2>&1 || se_skip "$c is not installed"; done
}

se_need_daemon() {
	[ -x "$SIPEDGE" ] || se_skip "daemon not built: $SIPEDGE"
}

# se_init N : claim 127.0.N.0/24 and a fresh run directory.
se_init() {
	# SE_NET_SHIFT/SE_RUN_SUFFIX let a second run of the same test (under
	# valgrind) go in parallel with the first without sharing addresses.
	TEST=$(basename "$0" .sh)${SE_RUN_SUFFIX:-}
	NET=127.0.$(($1 + ${SE_NET_SHIFT:-0}))
	NETRE=$(re "$NET")
	RUN=$top_builddir/tests/run/$TEST
	PEER=(python3 "$TOOLS/sippeer.py")
	se_need python3 openssl
	python3 -c "import socket; socket.socket().bind(('$NET.1', 0))" 2>/dev/null ||
		se_skip "cannot bind $NET.1 (is 127.0.0.0/8 routed to lo?)"
	local busy
	busy=$("${PEER[@]}" listeners "$NET.")
	if [ -n "$busy" ]; then    # another run owns the /24: leave its RUN alone
		echo "not ok - $NET.0/24 is in use by another run (listening:" $busy")"
		echo "# run it later, or beside the other with SE_NET_SHIFT/SE_RUN_SUFFIX"
		exit 99
	fi
	rm -rf "$RUN"
	mkdir -p "$RUN" || exit 99
	# A Unix socket path holds 107 bytes; a deep build tree gets one in /tmp.
	SE_CTL=$RUN/control.sock
	if [ ${#SE_CTL} -gt 90 ]; then
		SE_CTL=/tmp/sipedge-ctl-$TEST-${NET##*.}.sock
	fi
	SIPEDGE_CTL=${SIPEDGE_CTL:-$top_builddir/tools/sipedge-ctl/sipedge-ctl}
	trap se_done EXIT
	trap 'not_ok "interrupted"; exit 1' INT TERM
	note "$TEST: NET=$NET RUN=$RUN"
}

# se_pki : test PKI in $RUN/pki; sets the sippeer argument arrays
#   PARTNER  mutual TLS to the external listener as sip.partner.test
#   NODE     plain TCP to the internal listener from the node's address
se_pki() {
	"$TOOLS/mkpki.sh" "$RUN/pki" || se_bail "mkpki.sh failed"
	PKI=$RUN/pki
	# Reloads run as nobody (see se_write_conf): throw-away keys, readable.
	[ "$(id -u)" = 0 ] && chmod 644 "$PKI"/*.key
	se_tls_client partner
	PARTNER=("${TLSARGS[@]}")
	NODE=(--connect "$NET.2:5060" --bind "$NET.11")
}

# se_tls_client CERT : set TLSARGS to sippeer send args reaching the external
# listener from $NET.21 presenting pki/CERT.crt ("none": no certificate).
se_tls_client() {
	TLSARGS=(--connect "$NET.1:5061" --bind "$NET.21" --tls --ca "$PKI/ca.crt" --sni edge.test)
	[ "$1" = none ] || TLSARGS+=(--cert "$PKI/$1.crt" --key "$PKI/$1.key")
}

# se_write_conf [GROUP=VALUE ...] : write ${SE_CONF:-$RUN/edge.conf}.
# Each argument replaces the default group of that name ("GROUP = VALUE;"),
# adds a new group after the defaults, or with an empty VALUE drops it.
se_write_conf() {
	local -A g
	local order=(edge log dns tls listen internal federation admin) kv k
	g[edge]='{ fqdn = "edge.test"; }'
	g[log]='{ level = "debug"; sip_trace = false; }'
	g[dns]="{ servers = [ \"$NET.53:$DNS_PORT\" ]; }"
	g[tls]='{
  external = { certificate = "pki/edge.crt"; private_key = "pki/edge.key"; ca_file = "pki/ca.crt"; };
  internal = { certificate = "pki/edge-internal.crt"; private_key = "pki/edge-internal.key"; ca_file = "pki/internal-ca.crt"; };
}'
	g[listen]="(
  { zone = \"external\"; address = \"$NET.1\"; port = 5061; transport = \"tls\"; },
  { zone = \"internal\"; address = \"$NET.2\"; port = 5060; transport = \"tcp\"; }
)"
	g[internal]="{
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
  health = { interval = 0; };
}"
	g[federation]='{
  allowed = ( { domain = "partner.test"; peer = "sip.partner.test"; port = 5061; } );
  static_routes = ( { pattern = ".test.partner.*"; next_hop = "sip.partner.test"; port = 5061; } );
}'
	g[admin]='{ metrics_port = 0; }'
	for kv; do
		k=${kv%%=*}
		[ -n "${g[$k]+set}" ] || order+=("$k")
		g[$k]=${kv#*=}
	done
	# The tests' peers live on 127.0.0.0/8, which the outbound target
	# guard refuses unless listed (SPEC section 4); a test that sets its
	# own allowed_networks keeps it.
	if [ -n "${g[federation]}" ] && [[ ${g[federation]} != *allowed_networks* ]]; then
		g[federation]="{ allowed_networks = [ \"127.0.0.0/8\" ]; ${g[federation]#\{}"
	fi
	# One worker unless the test says otherwise: edge.workers defaults to
	# "auto" (every CPU), and the tests were written for one process.
	if [ -n "${g[edge]}" ] && [[ ${g[edge]} != *workers* ]]; then
		g[edge]="{ workers = 1; ${g[edge]#\{}"
	fi
	# Started as root (CI), the daemon must be told whom to run as: it
	# binds, then drops to nobody, as a root start in production does.
	# SE_AS_ROOT=1 leaves that out (t-privs: the refusal).
	if [ "$(id -u)" = 0 ] && [ "${SE_AS_ROOT:-0}" != 1 ] && [ -n "${g[admin]}" ] &&
	   [[ ${g[admin]} != *user* ]]; then
		g[admin]="{ user = \"nobody\"; group = \"nogroup\"; ${g[admin]#\{}"
	fi
	# Each test's daemon its own control socket ($SE_CTL, for sipedge-ctl
	# -s): the default /run/sipedge/control.sock would be shared by every
	# test running at once.
	if [[ ${g[admin]} != *control_socket* ]]; then
		[ -n "${g[admin]}" ] || g[admin]='{ }'
		g[admin]="{ control_socket = \"$SE_CTL\"; ${g[admin]#\{}"
	fi
	for k in "${order[@]}"; do
		[ -n "${g[$k]}" ] && printf '%s = %s;\n' "$k" "${g[$k]}"
	done >"${SE_CONF:-$RUN/edge.conf}"
}

# se_cluster_conf FILE EXT INT CTL [EXTERNAL-LISTEN-KEYS] : one edge of a
# cluster (sipedge(8) RUNNING SEVERAL EDGES) in FILE: edge.fqdn edge.test and
# the one $RUN/secret every edge shares (made by the first call), external
# TLS on EXT:5061 (plus the keys given, e.g. proxy_protocol), internal TCP on
# INT:5060, control socket CTL, no metrics; the rest as se_write_conf's.
se_cluster_conf() {
	if [ ! -s "$RUN/secret" ]; then
		head -c 32 /dev/urandom >"$RUN/secret"
		chmod 0640 "$RUN/secret"
	fi
	SE_CONF=$1 se_write_conf "edge={ fqdn = \"edge.test\"; secret_file = \"$RUN/secret\"; }" \
		"listen=(
  { zone = \"external\"; address = \"$2\"; port = 5061; transport = \"tls\"; ${5:-} },
  { zone = \"internal\"; address = \"$3\"; port = 5060; transport = \"tcp\"; }
)" "admin={ control_socket = \"$4\"; metrics_port = 0; }"
}

# se_ctl_path NAME : a control socket path for a second daemon (NAME), in
# $RUN unless that is too long for a Unix socket.
se_ctl_path() {
	local p=$RUN/control-$1.sock
	[ ${#p} -gt 90 ] && p=/tmp/sipedge-ctl-$TEST-$1-${NET##*.}.sock
	printf '%s\n' "$p"
}

# se_start_edge NAME CONF LISTEN... : a second daemon (output in
# $RUN/NAME.out, stopped by se_cleanup); bounded wait (20 s) for its
# listeners and its event=startup. Sets EDGE_PID.
se_start_edge() {
	local name=$1 conf=$2 args=() a
	shift 2
	se_bg "$name" "$SIPEDGE" -f -c "$conf"
	EDGE_PID=$BG_PID
	for a; do args+=(--listen "$a"); done
	"${PEER[@]}" wait "${args[@]}" --pid "$EDGE_PID" --timeout 20 &&
		grep -q 'event=startup' "$RUN/$name.out" ||
		se_bail "$name did not start: $(tail -5 "$RUN/$name.out")"
	ok "$name started (pid $EDGE_PID), listening on $*"
}

# ------------------------------------------------------------ daemon

# se_start_daemon [LISTEN...] : start $SIPEDGE -f on $RUN/edge.conf, wait
# (bounded: 20 s, a loaded CI machine) until the listeners (default
# $NET.1:5061 $NET.2:5060) exist. If not, it says where the daemon is.
se_start_daemon() {
	local listen=("${@:-$NET.1:5061}") args=() t=20 a
	[ $# -eq 0 ] && listen+=("$NET.2:5060")
	se_need_daemon
	local wrap=()
	if [ "${SE_VALGRIND:-0}" = 1 ]; then
		se_need valgrind
		wrap=(valgrind -q --error-exitcode=99 --leak-check=full
		      --errors-for-leak-kinds=definite,possible)
		t=60
	fi
	# Emptied here, not only by the child's redirection: the wait below
	# must never see the previous instance's event=startup (a restart
	# whose child has not run yet).
	: >"$RUN/sipedge.log"
	"${wrap[@]}" "$SIPEDGE" -f -c "$RUN/edge.conf" </dev/null >"$RUN/sipedge.log" 2>&1 &
	DAEMON_PID=$!
	[ "${SE_VERBOSE:-0}" = 1 ] && { tail -f "$RUN/sipedge.log" --pid=$DAEMON_PID >&2 & }
	for a in "${listen[@]}"; do args+=(--listen "$a"); done
	# The port alone could belong to another process: our daemon logs
	# event=startup only once all of its own listeners are bound.
	local i=0
	while [ $i -lt $((t * 10)) ] && kill -0 "$DAEMON_PID" 2>/dev/null &&
	      ! grep -q 'event=startup' "$RUN/sipedge.log"; do
		sleep 0.1; i=$((i + 1))
	done
	if grep -q 'event=startup' "$RUN/sipedge.log" &&
	   "${PEER[@]}" wait "${args[@]}" --pid "$DAEMON_PID" --timeout "$t"; then
		ok "sipedge started (pid $DAEMON_PID), listening on ${listen[*]}"
	else
		if kill -0 "$DAEMON_PID" 2>/dev/null; then
			note "sipedge (pid $DAEMON_PID) is running, $(wc -c <"$RUN/sipedge.log") bytes logged"
			note "state: $(grep -E '^(State|Uid)' /proc/$DAEMON_PID/status | tr '\n' ' ') wchan=$(cat /proc/$DAEMON_PID/wchan) syscall=$(cat /proc/$DAEMON_PID/syscall 2>&1 | cut -c1-40)"
			note "open files: $(ls -l /proc/$DAEMON_PID/fd | awk '{print $NF}' | tr '\n' ' ')"
			note "kernel stack: $(cat /proc/$DAEMON_PID/stack 2>/dev/null | tr '\n' ' ')"
			command -v gdb >/dev/null && timeout 20 gdb -p "$DAEMON_PID" -batch -ex 'bt' 2>&1 | grep -E '^#' | sed 's/^/# gdb: /'
		else
			wait "$DAEMON_PID"
			note "sipedge (pid $DAEMON_PID) exited with status $?"
		fi
		se_bail "sipedge did not start listening on ${listen[*]} within ${t}s"
	fi
}

se_daemon_alive() {
	if [ -n "$DAEMON_PID" ] && kill -0 "$DAEMON_PID" 2>/dev/null; then
		ok "${1:-sipedge still running}"
	else
		not_ok "${1:-sipedge still running} (it died)"
		se_done
	fi
}

# se_stop_daemon : SIGTERM must make it exit 0 (within 10 s).
se_stop_daemon() {
	local pid=$DAEMON_PID
	DAEMON_PID=
	se_kill "$pid" "$([ "${SE_VALGRIND:-0}" = 1 ] && echo 60 || echo 10)"
	se_eq "sipedge exits 0 on SIGTERM" 0 "$KILL_RC"
}

# se_log_mark : later se_wait_log calls only look at lines logged after now.
se_log_mark() { SE_LOG_MARK=$(wc -l <"$RUN/sipedge.log"); }

# se_log_lines ERE... : daemon log lines after the mark matching every ERE.
se_log_lines() {
	local out re
	out=$(tail -n +"$((SE_LOG_MARK + 1))" "$RUN/sipedge.log")
	for re; do out=$(printf '%s\n' "$out" | grep -E -- "$re") || return 1; done
	printf '%s\n' "$out"
}

# se_wait_log DESC ERE... : wait up to 5 s for a line matching every ERE.
se_wait_log() {
	local desc=$1 n=50; shift
	while [ "$n" -gt 0 ]; do
		if se_log_lines "$@" >"$RUN/log.match"; then
			ok "$desc"; sed 's/^/#   /' "$RUN/log.match" | head -3
			return 0
		fi
		sleep 0.1; n=$((n - 1))
	done
	not_ok "$desc (no log line matching: $*)"
}

# ------------------------------------------------------------ peers

# se_start_dns [dnsmasq args...] : dnsmasq on $NET.53:$DNS_PORT answering
# sip.partner.test -> $NET.21 plus whatever is passed.
se_start_dns() {
	se_need dnsmasq
	se_bg dnsmasq dnsmasq --no-daemon --conf-file=/dev/null --no-resolv --no-hosts \
		--port="$DNS_PORT" --listen-address="$NET.53" --bind-interfaces \
		--pid-file= --user="$(id -un)" --group="$(id -gn)" \
		--host-record="sip.partner.test,$NET.21" --log-queries \
		--log-facility="$RUN/dnsmasq.log" "$@"
	"${PEER[@]}" wait --listen "$NET.53:$DNS_PORT" --pid "$BG_PID" --timeout 10 &&
		sleep 0.2 && kill -0 "$BG_PID" 2>/dev/null ||
		{ cat "$RUN/dnsmasq.out"; se_bail "dnsmasq did not start"; }
}

# se_node_uas [SCENARIO [ADDR [NAME [SIPP-ARG...]]]] : sipp plays the
# internal node on ADDR:5062 (default $NET.11); what it sends and receives
# goes to $RUN/NAME.msg (default node.msg), its output to $RUN/sipp-NAME.out.
se_node_uas() {
	local scen=${1:-node-uas.xml} addr=${2:-$NET.11} name=${3:-node}
	shift $(($# < 3 ? $# : 3))
	se_need sipp
	se_bg "sipp-$name" sipp -sf "$SCEN/$scen" -t t1 -i "$addr" -p 5062 \
		-nd -nostdin -timeout 300 -trace_msg -message_file "$RUN/$name.msg" \
		-trace_err -error_file "$RUN/$name.err" "$@"
	NODE_PID=$BG_PID
	"${PEER[@]}" wait --listen "$addr:5062" --pid "$NODE_PID" --timeout 10 ||
		{ cat "$RUN/sipp-$name.out"; se_bail "sipp node did not start"; }
}

# se_node_uac USER DOMAIN : sipp plays the node sending one MESSAGE to
# sip:USER@DOMAIN through the internal listener; returns sipp's exit status
# (0 = got 200). Trace in $RUN/node-uac.msg.
se_node_uac() {
	se_need sipp
	( cd "$RUN" && exec timeout 30 sipp -sf "$SCEN/node-uac-message.xml" -t t1 \
		-i "$NET.11" -p 5062 -s "$1" -key domain "$2" \
		-cid_str "%u-%p@node.example.test" -m 1 -recv_timeout 10000 \
		-timeout 20 -nostdin -trace_msg -message_file "$RUN/node-uac.msg" \
		"$NET.2:5060" ) </dev/null >"$RUN/sipp-uac.out" 2>&1
}

# se_serve NAME ADDR:PORT [sippeer serve args...] : a sippeer UAS recording
# requests to $RUN/NAME.rec; waits until it listens.
se_serve() {
	local name=$1 addr=$2; shift 2
	se_bg "$name" "${PEER[@]}" serve --listen "$addr" --record "$RUN/$name.rec" \
		--ready "$RUN/$name.ready" --conn-count-file "$RUN/$name.conns" "$@"
	"${PEER[@]}" wait --file "$RUN/$name.ready" --pid "$BG_PID" --timeout 10 ||
		{ cat "$RUN/$name.out"; se_bail "sippeer serve $name did not start"; }
}

# se_send DESC [sippeer send args...] : ok if sippeer exits 0. Output is in
# $RUN/send.out (and SEND_OUT); responses are appended to $RUN/peer.out.
se_send() {
	local desc=$1 t=15 i; shift
	for ((i = 1; i <= $#; i++)); do
		[ "${!i}" = --timeout ] && { i=$((i + 1)); t=${!i%.*}; }
	done
	SE_SEQ=$((SE_SEQ + 1))
	timeout $((t + 10)) "${PEER[@]}" send --timeout "$t" --out "$RUN/peer.out" "$@" \
		>"$RUN/send.out" 2>&1
	SEND_RC=$?
	SEND_OUT=$(cat "$RUN/send.out")
	cp "$RUN/send.out" "$RUN/send.$SE_SEQ.out"
	if [ "$SEND_RC" -eq 0 ]; then
		ok "$desc [$(printf "%s" "$SEND_OUT" | tr "\n" " " | cut -c1-80)]"
	else
		not_ok "$desc (sippeer rc=$SEND_RC)"
		sed 's/^/#   /' "$RUN/send.out"
	fi
}

# se_send_any DESC ERE [sippeer send args...] : ok if sippeer's output
# matches ERE, whatever its exit status ("CLOSED|STATUS 513").
se_send_any() {
	local desc=$1 want=$2; shift 2
	timeout 40 "${PEER[@]}" send --timeout 15 --out "$RUN/peer.out" "$@" \
		>"$RUN/send.out" 2>&1
	SEND_RC=$?
	SEND_OUT=$(cat "$RUN/send.out")
	se_match "$desc [$(printf "%s" "$SEND_OUT" | tr "\n" " " | cut -c1-80)]" "$want" "$SEND_OUT"
}

# se_inspect FILE [sippeer inspect args...] : prints the answer.
se_inspect() { "${PEER[@]}" inspect "$@" 2>&1; }

# se_has DESC FILE FILTER... : a message matching the sippeer inspect
# FILTER (e.g. --received --method MESSAGE --call-id X) is in FILE.
se_has() {
	local desc=$1; shift
	if "${PEER[@]}" inspect "$@" --start-line >/dev/null 2>&1; then ok "$desc"
	else not_ok "$desc (not in $(basename "$1"))"; fi
}

# se_count FILE FILTER... : how many messages in FILE match FILTER.
se_count() { "${PEER[@]}" inspect "$@" --count-messages 2>/dev/null || echo 0; }

# se_assert_at_node CALLID METHOD : the node got the inbound request as the
# edge must forward it: 2 Via (edge's internal listener on top),
# Max-Forwards 69, two Record-Route (internal listener, then edge.test).
se_assert_at_node() {
	local f=$RUN/node.msg m=$2 sel=(--received --method "$2" --call-id "$1") rr
	if ! "${PEER[@]}" inspect "$f" "${sel[@]}" --start-line >/dev/null 2>&1; then
		not_ok "$m reached the node"; return
	fi
	ok "$m reached the node"
	se_eq "$m at node: 2 Via" 2 "$(se_inspect "$f" "${sel[@]}" --count-header Via)"
	se_match "$m at node: top Via is the edge's internal listener" \
		"^SIP/2\.0/TCP $NETRE\.2:5060;(.*;)?branch=z9hG4bK" \
		"$(se_inspect "$f" "${sel[@]}" --values Via | head -n 1)"
	se_eq "$m at node: Max-Forwards 69" 69 \
		"$(se_inspect "$f" "${sel[@]}" --header Max-Forwards)"
	mapfile -t rr < <(se_inspect "$f" "${sel[@]}" --values Record-Route)
	se_eq "$m at node: 2 Record-Route entries" 2 "${#rr[@]}"
	se_match_all "$m at node: Record-Route #1 is the internal listener, lr, sipedge" \
		"${rr[0]:-}" "^<sip:$NETRE\.2:5060[;>]" ';lr[;>]' ';sipedge[=;>]'
	se_match_all "$m at node: Record-Route #2 is edge.test, lr, sipedge" \
		"${rr[1]:-}" '^<sip:edge\.test(:5061)?[;>]' ';lr[;>]' ';sipedge[=;>]'
}

# se_assert_response FILE CALLID METHOD CODE [CSEQ] : the last CODE response
# for CALLID in FILE has exactly one Via and CSeq "CSEQ METHOD" (CSEQ 1).
se_assert_response() {
	local f=$1 n=${5:-1} sel=(--call-id "$2" --cseq-method "$3" --status "$4" --index -1)
	if ! "${PEER[@]}" inspect "$f" "${sel[@]}" --start-line >/dev/null 2>&1; then
		not_ok "$3: no $4 response with Call-ID $2"; return
	fi
	se_eq "$3 $4: exactly 1 Via" 1 "$(se_inspect "$f" "${sel[@]}" --count-header Via)"
	se_eq "$3 $4: same CSeq" "$n $3" "$(se_inspect "$f" "${sel[@]}" --header CSeq)"
}

# se_seed_nodes [HEALTH] : the seed documents' three-node PAT layout as an
# `internal` group: imp1 .11 (5062->5061, 5080->5080, routing, priority 1),
# imp2 .12 (45062, 45080, routing, priority 2), imp3 .13 (55062, 55080).
se_seed_nodes() {
	local health=${1:-"interval = 0;"} i pub
	printf '{\n  domains = [ "example.test" ];\n  nodes = (\n'
	for i in 1 2 3; do
		case $i in 1) pub="5061 5080" ;; 2) pub="45062 45080" ;; 3) pub="55062 55080" ;; esac
		set -- $pub
		printf '    { name = "imp%s"; address = "%s.1%s"; transport = "tcp";\n' "$i" "$NET" "$i"
		printf '      ports = ( { internal = 5062; public = %s; }, { internal = 5080; public = %s; } );\n' "$1" "$2"
		case $i in
		1) printf '      routing = true; priority = 1; },\n' ;;
		2) printf '      routing = true; priority = 2; },\n' ;;
		3) printf '      routing = false; }\n' ;;
		esac
	done
	printf '  );\n  health = { %s };\n}\n' "$health"
}

# se_tls_peer NAME ADDR CERT [ARG...] : a federated peer (mutual TLS with the
# test CA, certificate CERT from the test PKI) recording requests.
se_tls_peer() {
	local name=$1 addr=$2 cert=$3
	shift 3
	se_serve "$name" "$addr" --tls --cert "$PKI/$cert.crt" --key "$PKI/$cert.key" \
		--ca "$PKI/ca.crt" --timeout 300 "$@"
}
