#!/bin/bash
# Two edges behind DNS SRV (sipedge(8) RUNNING SEVERAL EDGES, "DNS: two SRV
# targets") and a partner that follows RFC 3263: Kamailio 5.6 (Debian
# kamailio + kamailio-tls-modules, config kamailio/partner-srv.cfg.in)
# relays its UA's MESSAGEs to sip:example.test;transport=tls with its own
# resolver, DNS cache and DNS failover.
#   dnsmasq (port 53: Kamailio's resolver reads /etc/resolv.conf, which has
#   no port; Kamailio runs in a private mount namespace whose resolv.conf
#   names the test's dnsmasq):
#     _sips._tcp.example.test and _sipfederationtls._tcp.example.test
#       SRV 10 10 5061 edge1.example.test -> edge A
#       SRV 20 10 5061 edge2.example.test -> edge B
#   1. A steady stream (a MESSAGE every 100 ms on one TCP connection from
#      the UA to Kamailio) goes through edge A only (priority 10).
#   2. Edge A stops (SIGTERM) under that stream: Kamailio fails over to
#      edge B. The failed requests and the time until B carries the stream
#      are counted ("# failover" lines); every request started 4 s after
#      the stop (Kamailio's fr_timer 3 s + 1 s) gets 200, through B.
#   3. Edge A restarted: the stream returns to it once Kamailio's blocklist
#      entry for it expires (5 s); then kill -9 of A, the same bounds.
#   4. Again, then A hangs (SIGSTOP: connections accepted, nothing
#      answered): Kamailio's fr_timer (3 s) moves the stream to B; every
#      request started 8 s after the hang gets 200.
#   .2 A internal   .3 A external (edge1)   .4 B external (edge2)
#   .5 B internal   .11 node (sippeer)   .21 Kamailio   .53 dnsmasq
. "$(dirname "$0")/lib.sh"
se_need_kamailio tm
[ "$(id -u)" = 0 ] ||
	se_skip "needs root: Kamailio's resolver reads /etc/resolv.conf, replaced for it in a private mount namespace"
command -v unshare >/dev/null 2>&1 || se_skip "unshare is not installed (util-linux)"
unshare --mount --propagation private true 2>/dev/null ||
	se_skip "cannot make a mount namespace here (unshare --mount failed)"
se_init 53
note "$(kamailio -v 2>/dev/null | head -n 1), modules in $MPATH"
se_pki

DNS_PORT=53
srv() { printf -- '--srv-host=%s.example.test,%s.example.test,5061,%s,10\n' "$@"; }
se_start_dns --local-ttl=300 --host-record="edge1.example.test,$NET.3" \
	--host-record="edge2.example.test,$NET.4" \
	--srv-host="_sipfederationtls._tcp.partner.test,sip.partner.test,5061,10,10" \
	$(srv _sips._tcp edge1 10) $(srv _sips._tcp edge2 20) \
	$(srv _sipfederationtls._tcp edge1 10) $(srv _sipfederationtls._tcp edge2 20)

CTL_B=$(se_ctl_path b)
se_cluster_conf "$RUN/edge.conf" "$NET.3" "$NET.2" "$SE_CTL"
se_cluster_conf "$RUN/edge-b.conf" "$NET.4" "$NET.5" "$CTL_B"
se_serve node "$NET.11:5062" --respond 200 --timeout 600
se_start_daemon "$NET.3:5061" "$NET.2:5060"
A_PID=$DAEMON_PID
se_start_edge edge-b "$RUN/edge-b.conf" "$NET.4:5061" "$NET.5:5060"
B_PID=$EDGE_PID

# Kamailio, its resolver pointed at dnsmasq.
echo "nameserver $NET.53" >"$RUN/resolv.conf"
mkdir -p "$RUN/kamrun"
sed -e "s|@ADDR@|$NET.21|g" -e "s|@RUN@|$RUN|g" -e "s|@MPATH@|$MPATH|g" \
	"$KAMDIR/partner-srv.cfg.in" >"$RUN/kamailio.cfg"
sed -e "s|@PKI@|$PKI|g" "$KAMDIR/tls.cfg.in" >"$RUN/tls.cfg"
kamailio -c -f "$RUN/kamailio.cfg" -Y "$RUN/kamrun" >"$RUN/kamailio-check.out" 2>&1 ||
	{ sed 's/^/#   /' "$RUN/kamailio-check.out"; se_bail "kamailio rejects kamailio.cfg"; }
# unshare execs (no fork): the pid is Kamailio's main process.
se_bg kamailio unshare --mount --propagation private sh -c \
	'mount --bind "$1" /etc/resolv.conf && exec kamailio -f "$2" -DD -E -Y "$3" -m 64 -M 8' \
	sh "$RUN/resolv.conf" "$RUN/kamailio.cfg" "$RUN/kamrun"
KAM_PID=$BG_PID
KAMLOG=$RUN/kamailio.out
"${PEER[@]}" wait --listen "$NET.21:5070" --listen "$NET.21:5061" --pid "$KAM_PID" --timeout 15 ||
	{ sed 's/^/#   /' "$KAMLOG" | tail -n 20; se_bail "kamailio did not start listening on $NET.21:5070"; }
ok "kamailio started (pid $KAM_PID), resolver $NET.53"

# node_edges CALLID-PREFIX : Call-ID and the node's top Via host for each request with that
# Call-ID prefix, in order (which edge relayed it: .2 A, .5 B).
node_edges() {
	python3 - "$TOOLS" "$RUN/node.rec" "$1" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import sippeer
for d, m in sippeer.load_messages(sys.argv[2]):
    cid, via = m.get("Call-ID", ""), (m.values("Via") or [""])[0].split()
    if m.method == "MESSAGE" and cid.startswith(sys.argv[3]) and len(via) > 1:
        print(cid, via[1].split(";")[0].rsplit(":", 1)[0])
EOF
}

# load NAME SECONDS : the UA's stream through Kamailio (one TCP connection,
# a MESSAGE every 100 ms, 10 s per request at most) in the background.
load() {
	se_bg "load-$1" python3 "$TOOLS/msgload.py" --connect "$NET.21:5070" --bind "$NET.31" \
		--seconds "$2" --interval 0.1 --mode keep --timeout 10 --tag "srv-$1"
	LOAD_PID=$BG_PID
	local n=0
	while [ $n -lt 50 ] && ! [ -s "$RUN/load-$1.out" ]; do sleep 0.1; n=$((n + 1)); done
}

# failover NAME T_STOP [GRACE [MIN]] : figures and bounds for load NAME, A
# stopped at T_STOP (ms); every request started GRACE s (default 4) after
# it must succeed, and at least MIN (10) ran before and after. Sets FAILS
# and SLOW (the slowest request answered after the stop, ms).
failover() {
	local f=$RUN/load-$1.out t=$2 g=$((${3:-4} * 1000)) min=${4:-10} total fails nfail last lf late before after slow
	total=$(grep -c . "$f")
	fails=$(awk '$3 != "STATUS_200"' "$f")
	nfail=$(printf '%s' "$fails" | grep -c .)
	last=$(printf '%s\n' "$fails" | awk 'NF { print $2 }' | sort -n | tail -1)
	if [ -n "$last" ]; then lf=$((last - t)); else lf=none; fi
	before=$(awk -v k="$t" '$2 < k' "$f" | grep -c .)
	after=$(awk -v k="$t" -v g="$g" '$1 >= k + g' "$f" | grep -c .)
	# the slowest request answered after the stop: what failing over cost
	slow=$(awk -v k="$t" -v g="$g" '$2 >= k && $1 < k + g { d = $2 - $1; if (d > m) m = d } END { print m + 0 }' "$f")
	SLOW=$slow
	# requests answered after the stop that took over a second: one in
	# flight on the stopped edge waits for Kamailio's fr_timer
	NSLOW=$(awk -v k="$t" '$2 >= k && $2 - $1 > 1000' "$f" | grep -c .)
	note "failover ($1): $nfail failed of $total, last failure $lf ms after the stop, slowest request answered after it $slow ms"
	[ "$nfail" = 0 ] ||
		note "failover ($1): failures: $(printf '%s\n' "$fails" | awk -v k="$t" 'NF { printf "start %+dms end %+dms %s; ", $1 - k, $2 - k, $3 }')"
	se_eq "$1: every request before the stop got 200" 0 \
		"$(awk -v k="$t" '$2 < k && $3 != "STATUS_200"' "$f" | grep -c .)"
	[ "$before" -ge "$min" ] && [ "$after" -ge "$min" ] &&
		ok "$1: steady stream, $before requests before the stop, $after from $((g / 1000)) s after it" ||
		not_ok "$1: steady stream, $before requests before the stop, $after from $((g / 1000)) s after it"
	late=$(awk -v k="$t" -v g="$g" '$1 >= k + g && $3 != "STATUS_200"' "$f")
	se_eq "$1: every request started $((g / 1000)) s after the stop gets 200" "" "$late"
	FAILS=$nfail
}

se_le() { [ "$3" -le "$2" ] && ok "$1 ($3)" || not_ok "$1 ($3 > $2)"; }

# ---- 1. edge A (priority 10) carries the stream
load steady 3
wait "$LOAD_PID"
edges=$(node_edges srv-steady | awk '{ print $2 }' | sort | uniq -c | awk '{ printf "%s:%s ", $2, $1 }')
note "stream through Kamailio with both edges up: at the node, by relaying edge: $edges"
se_eq "every request of the stream got 200" 0 "$(awk '$3 != "STATUS_200"' "$RUN/load-steady.out" | grep -c .)"
se_eq "... and all went through edge A (SRV priority 10)" "$NET.2" \
	"$(node_edges srv-steady | awk '{ print $2 }' | sort -u | paste -sd' ')"
dq=$(cat "$RUN/dnsmasq.log" 2>/dev/null)
se_match "dnsmasq: Kamailio asked for _sips._tcp.example.test (RFC 3263 for transport=tls)" \
	'query\[SRV\] _sips\._tcp\.example\.test from' "$dq"

# ---- 2. edge A stops (SIGTERM) under the stream
load term 12
sleep 3
T_STOP=$(date +%s%3N)
se_stop_daemon
wait "$LOAD_PID"
failover term "$T_STOP"
se_le "term: at most one request lost" 1 "$FAILS"
se_le "term: at most one request (in flight) slowed by more than 1 s (refused at once: next target)" 1 "$NSLOW"
se_le "term: none by more than fr_timer + 1 s" 4000 "$SLOW"
after_b=$(node_edges srv-term | awk -v a="$NET.2" 'seen && $2 == a { bad++ } $2 != a { seen = 1 } END { print bad + 0 }')
se_eq "term: once B took over, nothing more went to A" 0 "$after_b"
nb=$(node_edges srv-term | awk -v b="$NET.5" '$2 == b' | grep -c .)
[ "$nb" -ge 10 ] && ok "term: edge B relayed the rest of the stream ($nb requests)" ||
	not_ok "term: edge B relayed the rest of the stream ($nb requests)"
se_match "kamailio logged the failed target (edge A)" "$NETRE\\.3" \
	"$(grep -aiE 'blocklist|blacklist|connect|failover|KAM-FAIL' "$KAMLOG" | tail -n 30)"

# back NAME SECONDS : restart edge A, start stream NAME, bounded wait (15 s)
# until the stream goes through A again (Kamailio retries a blocklisted
# destination after dst_blocklist_expire, 5 s here).
back() {
	se_start_daemon "$NET.3:5061" "$NET.2:5060"
	A_PID=$DAEMON_PID
	local t0
	t0=$(date +%s%3N)
	load "$1" "$2"
	while [ $(( $(date +%s%3N) - t0 )) -lt 15000 ] &&
	      ! node_edges "srv-$1" | awk -v a="$NET.2" '$2 == a { f = 1 } END { exit !f }'; do
		sleep 0.2
	done
	if node_edges "srv-$1" | awk -v a="$NET.2" '$2 == a { f = 1 } END { exit !f }'; then
		ok "$1: the stream is back on edge A ($(( $(date +%s%3N) - t0 )) ms after its restart)"
	else
		not_ok "$1: the stream is back on edge A within 15 s of its restart"
	fi
	sleep 2
}
# on_b NAME : how many of stream NAME's requests edge B relayed
on_b() { node_edges "srv-$1" | awk -v b="$NET.5" '$2 == b' | grep -c .; }

# ---- 3. A back in front, then kill -9 under the stream
back kill 16
T_KILL=$(date +%s%3N)
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null
DAEMON_PID=
wait "$LOAD_PID"
failover kill "$T_KILL"
se_le "kill: at most one request lost" 1 "$FAILS"
se_le "kill: at most one request (in flight) slowed by more than 1 s" 1 "$NSLOW"
se_le "kill: none by more than fr_timer + 1 s" 4000 "$SLOW"
nb=$(on_b kill)
[ "$nb" -ge 10 ] && ok "kill: edge B relayed the rest of the stream ($nb requests)" ||
	not_ok "kill: edge B relayed the rest of the stream ($nb requests)"

# ---- 4. A back in front, then hung (SIGSTOP): the kernel still accepts
# connections and takes bytes, nothing answers, as with an edge whose host
# is overloaded or gone behind a silent firewall. Kamailio gives up on a
# request after fr_timer (3 s) and tries the next target.
back hang 30
T_HANG=$(date +%s%3N)
kill -STOP "$A_PID"
wait "$LOAD_PID"
kill -CONT "$A_PID"
failover hang "$T_HANG" 4 3
se_le "hang: no request took more than fr_timer + 1 s" 4000 "$SLOW"
se_le "hang: at most one request lost" 1 "$FAILS"
slow_n=$(awk -v k="$T_HANG" '$1 >= k + 4000 && $2 - $1 >= 2500' "$RUN/load-hang.out" | grep -c .)
note "hang: $slow_n requests after the first 4 s each waited for fr_timer: a default Kamailio blocklists a destination on a timeout for INVITE only (tm blst_methods_add), so every MESSAGE tries the hung edge first"
nb=$(on_b hang)
[ "$nb" -ge 3 ] && ok "hang: edge B relayed the rest of the stream ($nb requests)" ||
	not_ok "hang: edge B relayed the rest of the stream ($nb requests)"
se_stop_daemon

kill -0 "$B_PID" 2>/dev/null && ok "edge B still running" || not_ok "edge B still running (it died)"
se_kill "$KAM_PID" 10
note "kamailio (pid $KAM_PID) stopped, exit status $KILL_RC"
se_done
