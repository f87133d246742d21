#!/bin/bash
# Node health (internal.health): OPTIONS probes to every node; a routing node
# that stops answering is down after `failures` lost probes, one whose
# connection is refused is down at once; new requests on the main listener
# go to the routing node with the lowest priority that is up, and get 503
# (Retry-After) when none is. Only configured nodes may use the internal
# listener.
#   imp1 $NET.11  5062 -> 5061   5080 -> 5080    routing, priority 1
#   imp2 $NET.12  5062 -> 45062  5080 -> 45080   routing, priority 2
#   imp3 $NET.13  5062 -> 55062  5080 -> 55080   not routing
# Each node is a sipp UAS on NODE:5062 (node-uas.xml answers OPTIONS 200);
# traces in imp<N>.msg (imp1b.msg for imp1's second life).
. "$(dirname "$0")/lib.sh"
se_init 16
se_need sipp
se_pki
INTERVAL=1 TIMEOUT=1 FAILURES=2 TT=2
se_write_conf internal="$(se_seed_nodes "interval = $INTERVAL; timeout = $TIMEOUT; failures = $FAILURES;")" limits="{ transaction_timeout = $TT; }"
declare -A NPID
for i in 1 2 3; do
	se_node_uas node-uas.xml "$NET.1$i" "imp$i" -deadcall_wait 0
	NPID[imp$i]=$NODE_PID
done
se_start_daemon "$NET.1:5061" "$NET.2:5060" "$NET.1:5080" "$NET.1:45062" "$NET.1:45080" \
	"$NET.1:55062" "$NET.1:55080"
T_START=$(date +%s.%N)

POUT=$RUN/peer.out
LEAK="$NETRE\\.(2|11|12|13)([^0-9]|\$)|:(5060|5062|5080)([^0-9]|\$)|imp[0-9]"
now_s() { date +%s.%N; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
# se_between DESC MIN MAX VALUE : MIN <= VALUE <= MAX (decimal seconds)
se_between() {
	if [ -n "$4" ] && awk -v v="$4" -v lo="$2" -v hi="$3" 'BEGIN { exit !(v >= lo && v <= hi) }'
	then ok "$1 (${4}s)"
	else not_ok "$1 (${4:-no value}s not in [$2, $3])"; fi
}
# wait_log_since T0 MAX ERE... : wait (bounded, MAX s) for a daemon log line
# after the mark matching every ERE; sets WAITED (seconds since T0) or ''
wait_log_since() {
	local t0=$1 max=$2 end; shift 2
	end=$(calc "$(now_s) + $max")
	WAITED=
	while awk -v a="$(now_s)" -v b="$end" 'BEGIN { exit !(a < b) }'; do
		if se_log_lines "$@" >"$RUN/log.match"; then
			WAITED=$(calc "$(now_s) - $t0"); return 0
		fi
		sleep 0.05
	done
	return 1
}
# got NAME CALLID : requests with CALLID node NAME (imp1, imp1b, ...) received
got() { se_count "$RUN/$1.msg" --received --call-id "$2"; }
# subscribe DESC ERE-OF-NODE : a new SUBSCRIBE from the peer on the main
# listener gets 200 and reached node NAME (trace NAME.msg) only
subscribe() {
	local desc=$1 want=$2 id=fo-sub-$((++NSUB))-$$ n others=0 f
	se_send "$desc: SUBSCRIBE on the main listener gets 200" "${PARTNER[@]}" \
		"$SCEN/subscribe.sip" --var CALLID=$id --expect 200 --timeout 5
	for f in "$RUN"/imp*.msg; do
		n=$(basename "$f" .msg)
		[ "$n" = "$want" ] || others=$((others + $(got "$n" $id)))
	done
	se_eq "$desc: it reached $want and no other node" "1 0" "$(got "$want" $id) $others"
}
NSUB=0
# clean DESC FILTER... : the response the peer got names nothing internal
clean() {
	local desc=$1; shift
	se_nomatch "$desc: no internal address, port or node name" "$LEAK" \
		"$(se_inspect "$POUT" "$@" --raw)"
}
# start_node NAME ADDR : (re)start a sipp node
start_node() {
	se_node_uas node-uas.xml "$2" "$1" -deadcall_wait 0
	NPID[$1]=$NODE_PID
}

# ------------------------------------------------ probes, all nodes up
for i in 1 2 3; do
	n=0
	while [ $n -lt 40 ] && [ "$(se_count "$RUN/imp$i.msg" --received --method OPTIONS)" = 0 ]; do
		sleep 0.1; n=$((n + 1))
	done
	se_match "imp$i received an OPTIONS probe for its address:internal port" \
		"^OPTIONS sip:$NETRE\\.1$i:5062;transport=tcp SIP/2\\.0\$" \
		"$(se_inspect "$RUN/imp$i.msg" --received --method OPTIONS --start-line)"
	se_match "imp$i answered the probe with 200" '^[1-9]' \
		"$(se_count "$RUN/imp$i.msg" --sent --status 200 --cseq-method OPTIONS)"
done
# a few probe rounds with every node answering: nobody goes down
sleep "$(calc "$INTERVAL * $FAILURES + 1.5 - ($(now_s) - $T_START)" | sed 's/^-.*/0/')"
se_eq "no node_down while every node answers" "" "$(se_log_lines 'event=node_down')"
n1=$(se_count "$RUN/imp1.msg" --received --method OPTIONS)
se_match "imp1 is probed every ${INTERVAL}s (>= 2 probes so far)" '^([2-9]|[1-9][0-9]+)$' "$n1"
subscribe "all up" imp1

# ------------------------------------------------ imp1 stops answering
se_log_mark
t0=$(now_s)
kill -STOP "${NPID[imp1]}"
note "imp1 (sipp pid ${NPID[imp1]}) stopped with SIGSTOP: it accepts, never answers"
if wait_log_since "$t0" 6 'event=node_down' 'node=imp1'; then
	ok "log: node_down node=imp1 [$(head -n 1 "$RUN/log.match" | cut -d' ' -f3-)]"
	# lower bound: one probe timeout at least; upper: FAILURES probes lost,
	# each TIMEOUT long (a tick that finds the last probe outstanding sends
	# none: up to INTERVAL + TIMEOUT per probe), plus 1 s of slack
	se_between "imp1 down after $FAILURES lost probes: not at once, within ~3-4 s" \
		0.9 "$(calc "$FAILURES * ($INTERVAL + $TIMEOUT) + 1")" "$WAITED"
	se_match "node_down has a reason" ' reason=[^ ]' "$(head -n 1 "$RUN/log.match")"
else
	not_ok "log: node_down node=imp1 within 6 s of SIGSTOP"
fi
subscribe "imp1 down" imp2
# A new request on imp1's own public port still goes to imp1: no answer, 408
id=fo-408-$$
se_send "MESSAGE on imp1's port 5080 (imp1 silent) gets 408" "${PARTNER[@]}" \
	--connect "$NET.1:5080" "$SCEN/message.sip" --var CALLID=$id --expect 408 --timeout $((TT + 3))
se_assert_response "$POUT" $id MESSAGE 408
clean "408" --call-id $id --status 408

se_log_mark
t0=$(now_s)
kill -CONT "${NPID[imp1]}"
if wait_log_since "$t0" 6 'event=node_up' 'node=imp1'; then
	ok "log: node_up node=imp1 [$(head -n 1 "$RUN/log.match" | cut -d' ' -f3-)]"
	se_between "imp1 up again within ~3 s of answering" 0 3.5 "$WAITED"
else
	not_ok "log: node_up node=imp1 within 6 s of SIGCONT"
fi
subscribe "imp1 back" imp1
se_eq "imp1 never got the SUBSCRIBE sent while it was down" 0 "$(got imp1 fo-sub-2-$$)"

# ------------------------------------------------ imp1's connection refused
se_log_mark
t0=$(now_s)
se_kill "${NPID[imp1]}" 5
note "imp1 (sipp) killed: its port refuses connections"
if wait_log_since "$t0" 6 'event=node_down' 'node=imp1'; then
	ok "log: node_down node=imp1 [$(head -n 1 "$RUN/log.match" | cut -d' ' -f3-)]"
	se_between "imp1 (connection refused) down at once (< 1 s)" 0 1 "$WAITED"
else
	not_ok "log: node_down node=imp1 within 6 s of the kill"
fi
subscribe "imp1 refused" imp2

# ------------------------------------------------ no routing node up
se_log_mark
se_kill "${NPID[imp2]}" 5
if wait_log_since "$(now_s)" 6 'event=node_down' 'node=imp2'; then
	ok "log: node_down node=imp2 [$(head -n 1 "$RUN/log.match" | cut -d' ' -f3-)]"
else
	not_ok "log: node_down node=imp2 within 6 s of the kill"
fi
id=fo-503-$$
se_log_mark
se_send "no routing node up: SUBSCRIBE on the main listener gets 503 with Retry-After" \
	"${PARTNER[@]}" "$SCEN/subscribe.sip" --var CALLID=$id --expect 503 \
	--expect-header 'Retry-After: ^[0-9]+' --timeout 5
se_assert_response "$POUT" $id SUBSCRIBE 503
clean "503 (no node)" --call-id $id --status 503
se_wait_log "log: inbound_rejected reason=no_node_available" 'event=inbound_rejected' \
	'reason=no_node_available' "call_id=$id"
se_eq "the 503'd SUBSCRIBE reached no node" 0 "$(( $(got imp1 $id) + $(got imp2 $id) + $(got imp3 $id) ))"
# imp3 (up, not routing) still takes what comes on its own port
id=fo-imp3-$$
se_send "SUBSCRIBE on imp3's port 55062 still gets 200" "${PARTNER[@]}" --connect "$NET.1:55062" \
	"$SCEN/subscribe.sip" --var CALLID=$id --expect 200 --timeout 5
se_eq "it reached imp3" 1 "$(got imp3 $id)"
# imp2's own port with imp2 down: the edge answers itself, naming nothing internal
id=fo-down-$$
se_send "MESSAGE on imp2's port 45062 (imp2 down) gets 503" "${PARTNER[@]}" --connect "$NET.1:45062" \
	"$SCEN/message.sip" --var CALLID=$id --expect 503 --timeout 5
se_assert_response "$POUT" $id MESSAGE 503
clean "503 (node down)" --call-id $id --status 503

# ------------------------------------------------ imp1 returns
se_log_mark
t0=$(now_s)
start_node imp1b "$NET.11"
if wait_log_since "$t0" 6 'event=node_up' 'node=imp1'; then
	ok "log: node_up node=imp1 [$(head -n 1 "$RUN/log.match" | cut -d' ' -f3-)]"
	se_between "restarted imp1 up within ~3 s" 0 3.5 "$WAITED"
else
	not_ok "log: node_up node=imp1 within 6 s of its restart"
fi
subscribe "imp1 restarted" imp1b

# ------------------------------------------------ not a node
se_log_mark
se_send_any "TCP connection to the internal listener from $NET.99 is closed" '^CLOSED' \
	--connect "$NET.2:5060" --bind "$NET.99" "$SCEN/message.sip" \
	--var RURI=sip:bob@partner.test --var FROM=sip:alice@example.test --expect-close --timeout 5
se_wait_log "log: connection_refused zone=internal, not a configured node" \
	'event=connection_refused' 'zone=internal' "$NETRE\\.99" 'reason="not a configured node"'

se_daemon_alive
se_stop_daemon
se_done
