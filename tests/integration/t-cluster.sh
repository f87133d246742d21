#!/bin/bash
# Two edges of one cluster (sipedge(8) RUNNING SEVERAL EDGES): A and B share
# edge.fqdn, the configuration and one edge.secret_file, and sit behind
# HAProxy in TCP mode with send-proxy-v2 and a TCP health check.
#   1. contrib/haproxy/haproxy.cfg passes `haproxy -c` (and
#      contrib/keepalived/keepalived.conf `keepalived -t` when installed).
#   2. A dialog across edges: the node SUBSCRIBEs to the partner through A
#      (Call-ID naming the node, so it leaves masked); the partner's
#      in-dialog NOTIFY comes in through B (HAProxy's B-only port) and
#      reaches the same node with the Call-ID restored; its 200 returns.
#   3. What HAProxy's TCP check looks like in an edge's log.
#   4. kill -9 A under a steady load of MESSAGEs through HAProxy (every
#      50 ms on each of two held TLS connections and on a stream of new
#      connections): the failed requests are counted and timed ("# failover"
#      lines); every request started 2 s after HAProxy marked A DOWN
#      succeeds, and the held connection on A loses one request.
#   5. keepalived (root, network namespaces): contrib's keepalived.conf on
#      two edges in namespaces; kill -9 of A's sipedge moves the virtual
#      address to B, whose sipedge answers on it.
#   .1 HAProxy (:5061 both edges, :5071 A only, :5072 B only)
#   .2 A internal   .3 A external   .4 B external   .5 B internal
#   .11 node (sipp)   .21 partner   .53 dnsmasq
. "$(dirname "$0")/lib.sh"
se_init 52
se_need haproxy sipp
se_pki
se_start_dns

# ---- 1. the contrib files
se_check "haproxy -c accepts contrib/haproxy/haproxy.cfg" \
	haproxy -c -f "$top_srcdir/contrib/haproxy/haproxy.cfg"
if command -v keepalived >/dev/null 2>&1; then
	# The track script names the installed sipedge-ctl, which keepalived
	# -t wants to find: checked with /bin/true in its place.
	sed 's|/usr/sbin/sipedge-ctl|/bin/true|' "$top_srcdir/contrib/keepalived/keepalived.conf" \
		>"$RUN/keepalived.conf"
	se_check "keepalived -t accepts contrib/keepalived/keepalived.conf" \
		keepalived -t -l -f "$RUN/keepalived.conf"
else
	note "keepalived is not installed: contrib/keepalived/keepalived.conf not checked"
fi

# ---- two edges, one secret
PP='proxy_protocol = true; proxy_from = [ "'$NET'.1/32" ];'
CTL_B=$(se_ctl_path b)
se_cluster_conf "$RUN/edge.conf" "$NET.3" "$NET.2" "$SE_CTL" "$PP"
se_cluster_conf "$RUN/edge-b.conf" "$NET.4" "$NET.5" "$CTL_B" "$PP"
for c in edge.conf edge-b.conf; do
	se_check "sipedge -t accepts $c (shared secret_file, proxy_protocol)" \
		sh -c "cd '$RUN' && '$SIPEDGE' -t -c '$RUN/$c'"
done

# -deadcall_wait 0: the NOTIFY arrives after sipp ended the SUBSCRIBE's
# call; it starts a new one and is answered 200.
se_node_uas node-uas.xml "$NET.11" node -deadcall_wait 0
se_serve partner "$NET.21:5061" --tls --cert "$PKI/partner.crt" --key "$PKI/partner.key" \
	--ca "$PKI/ca.crt" --contact "sip:bob@sip.partner.test:5061;transport=tls" --timeout 600
se_start_daemon "$NET.3:5061" "$NET.2:5060"
A_PID=$DAEMON_PID
LOG_A=$RUN/sipedge.log
se_start_edge edge-b "$RUN/edge-b.conf" "$NET.4:5061" "$NET.5:5060"
B_PID=$EDGE_PID
LOG_B=$RUN/edge-b.out

# The contrib file's backend, on the test's addresses.
cat >"$RUN/haproxy.cfg" <<EOF
global
  maxconn 500
defaults
  mode tcp
  source $NET.1
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend federation
  bind $NET.1:5061
  default_backend edges
backend edges
  balance roundrobin
  default-server send-proxy-v2 check port 5061 inter 500 fall 2 rise 2
  server a $NET.3:5061
  server b $NET.4:5061
listen only_a
  bind $NET.1:5071
  server a $NET.3:5061 send-proxy-v2
listen only_b
  bind $NET.1:5072
  server b $NET.4:5061 send-proxy-v2
EOF
se_check "haproxy -c accepts the test's configuration" haproxy -c -f "$RUN/haproxy.cfg"
se_bg haproxy haproxy -f "$RUN/haproxy.cfg" -db
HAP_PID=$BG_PID
"${PEER[@]}" wait --listen "$NET.1:5061" --listen "$NET.1:5071" --listen "$NET.1:5072" \
	--pid "$HAP_PID" --timeout 10 || se_bail "haproxy did not start: $(cat "$RUN/haproxy.out")"
ok "haproxy listens on $NET.1:5061 (A and B), :5071 (A), :5072 (B)"

# ---- 2. a dialog across edges
uri() { printf '%s\n' "$1" | sed -E 's/^[^<]*<([^>]*)>.*$/\1/'; }
joined() { se_inspect "$@" | awk 'NR > 1 { printf ", " } { printf "%s", $0 }'; }
PREC=$RUN/partner.rec
id=cl-sub-$$@$NET.11         # names the node: leaves masked
se_send "the node's SUBSCRIBE through edge A gets 200" --connect "$NET.2:5060" --bind "$NET.11" \
	--out "$RUN/node-uac.out" "$SCEN/pat-node-subscribe.sip" --var NODE=$NET.11 \
	--var CALLID=$id --var BRANCH=z9hG4bKclsub$$ --var TAG=s$$ --expect 200 --timeout 5
sel=(--method SUBSCRIBE)
se_has "the partner received the SUBSCRIBE" "$PREC" "${sel[@]}"
mid=$(se_inspect "$PREC" "${sel[@]}" --index -1 --header Call-ID)
se_match "... with the Call-ID masked (semask-)" '^semask-' "$mid"
sel+=(--call-id "$mid")
rr=$(se_inspect "$PREC" "${sel[@]}" --values Record-Route | paste -sd'|')
se_match "... Record-Route names edge.fqdn only, nothing of edge A" \
	'^<sip:edge\.test(:5061)?;[^>]*sipedge=ext>\|<sip:edge\.test(:5061)?;[^>]*sipedge=int>$' "$rr"
ct=$(se_inspect "$PREC" "${sel[@]}" --values Contact)
rsel=(--call-id "$id" --status 200 --cseq-method SUBSCRIBE)
se_check "... the 200 reaches the node with its own Call-ID" \
	"${PEER[@]}" inspect "$RUN/node-uac.out" "${rsel[@]}" --start-line
# RFC 3261 12.1.1: Request-URI = Contact, Route = Record-Route in order; sent
# to HAProxy's B-only port: the balancer picked the other edge.
n_b0=$(wc -l <"$LOG_B")
se_send "the partner's in-dialog NOTIFY through edge B gets 200" "${PARTNER[@]}" \
	--connect "$NET.1:5072" "$SCEN/pat-notify.sip" --var CALLID="$mid" \
	--var RURI="$(uri "$ct")" --var ROUTE="$(joined "$PREC" "${sel[@]}" --values Record-Route)" \
	--var FROM="$(se_inspect "$RUN/node-uac.out" "${rsel[@]}" --header To)" \
	--var TO="$(se_inspect "$PREC" "${sel[@]}" --header From)" --var CSEQ=1 \
	--expect 200 --timeout 5
n=30
while [ $n -gt 0 ] && [ "$(se_count "$RUN/node.msg" --received --method NOTIFY --call-id "$id")" = 0 ]; do
	sleep 0.1; n=$((n - 1))
done
nsel=(--received --method NOTIFY --call-id "$id")
se_has "the NOTIFY reached the same node with the Call-ID restored ($id)" "$RUN/node.msg" "${nsel[@]}"
se_match "... relayed by edge B (top Via is B's internal listener)" \
	"^SIP/2\\.0/TCP $NETRE\\.5:5060;" "$(se_inspect "$RUN/node.msg" "${nsel[@]}" --values Via | head -n 1)"
se_match "... Request-URI restored to the node's Contact" \
	"^NOTIFY sip:alice@$NETRE\\.11:5062;([^ ]*;)?transport=tcp SIP/2\\.0\$" \
	"$(se_inspect "$RUN/node.msg" "${nsel[@]}" --start-line)"
se_assert_response "$RUN/peer.out" "$mid" NOTIFY 200
se_match "edge B took the NOTIFY's connection from HAProxy, for the partner" \
	"PROXY header from $NETRE\\.1:[0-9]+ names $NETRE\\.21:" "$(tail -n +"$((n_b0 + 1))" "$LOG_B")"

# ---- 3. HAProxy's TCP check in the edge's log
# With send-proxy-v2 on a server, HAProxy's TCP check writes a PROXY v2
# header too, then resets: the edge logs that as tls_handshake_failed
# (warning, once a second). "port 5061" on the check turns the header off
# (HAProxy: no PROXY on checks with their own port): the check connects and
# closes without a byte, which the edge closes silently. Let a few checks
# run, then look at what A logged for HAProxy's address.
se_log_mark
sleep 2
checks=$(se_log_lines "peer=$NETRE\\.1:" || true)
note "edge A's log lines for HAProxy's address during 2 s of checks (every 500 ms): $(printf '%s' "$checks" | grep -c .)"
[ -z "$checks" ] || printf '%s\n' "$checks" | head -3 | sed 's/^/#   /'
se_eq "HAProxy's TCP checks leave no line in the edge's log" "" "$checks"

# ---- 4. kill -9 A under a steady load through HAProxy
# The node is now sippeer: sipp (-t t1) ends its whole run when a
# connection is reset, which the kill can do to A's connection to it.
se_kill "$NODE_PID" 5
se_serve node2 "$NET.11:5062" --respond 200 --timeout 600
# Two partner connections held open (roundrobin: one on each edge), then a
# stream with a new connection per MESSAGE; each sends every 50 ms.
for st in keep1 keep2 new; do
	se_bg "load-$st" python3 "$TOOLS/msgload.py" --connect "$NET.1:5061" --bind "$NET.21" \
		--tls "$PKI" --seconds "$([ $st = new ] && echo 8 || echo 9)" --interval 0.05 \
		--mode "${st%[12]}" --tag cl-load
	LOAD_PIDS+=("$BG_PID")
	n=0
	while [ $n -lt 50 ] && ! [ -s "$RUN/load-$st.out" ]; do sleep 0.1; n=$((n + 1)); done
done
# HAProxy's stderr (-db) gets "Server edges/a is DOWN": timestamp it.
( n=0; while [ $n -lt 400 ] && ! grep -q 'Server edges/a is DOWN' "$RUN/haproxy.out"; do
	sleep 0.02; n=$((n + 1)); done; date +%s%3N >"$RUN/down.ms" ) &
WATCH_PID=$!
SE_PIDS+=("$WATCH_PID")
sleep 2
T_KILL=$(date +%s%3N)
kill -KILL "$A_PID"
wait "$A_PID" 2>/dev/null
DAEMON_PID=
wait "$WATCH_PID" 2>/dev/null
for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null; done
T_DOWN=$(cat "$RUN/down.ms" 2>/dev/null || echo 0)
noticed=$((T_DOWN - T_KILL))
grep 'is DOWN' "$RUN/haproxy.out" | head -1 | sed 's/^/#   /'
[ "$T_DOWN" -gt 0 ] && ok "HAProxy marked A DOWN ($noticed ms after the kill)" ||
	not_ok "HAProxy marked A DOWN (no 'Server edges/a is DOWN' in haproxy.out)"
# stream NAME : figures and bounds for $RUN/load-NAME.out; sets NFAIL
stream() {
	local f=$RUN/load-$1.out total before after fails last lf late
	total=$(grep -c . "$f")
	before=$(awk -v k="$T_KILL" '$1 < k' "$f" | grep -c .)
	after=$(awk -v d="$T_DOWN" '$1 >= d + 2000' "$f" | grep -c .)
	fails=$(awk '$3 != "STATUS_200"' "$f")
	NFAIL=$(printf '%s' "$fails" | grep -c .)
	last=$(printf '%s\n' "$fails" | awk 'NF { print $2 }' | sort -n | tail -1)
	if [ -n "$last" ]; then lf=$((last - T_KILL)); else lf=none; fi
	note "failover ($1): $NFAIL failed of $total, last failure $lf ms after the kill, HAProxy noticed after $noticed ms"
	[ "$NFAIL" = 0 ] ||
		note "failover ($1): failures: $(printf '%s\n' "$fails" | awk -v k="$T_KILL" 'NF { printf "start %+dms end %+dms %s; ", $1 - k, $2 - k, $3 }')"
	se_eq "$1: every request before the kill got 200" 0 \
		"$(awk -v k="$T_KILL" '$2 < k && $3 != "STATUS_200"' "$f" | grep -c .)"
	[ "$before" -ge 5 ] && [ "$after" -ge 5 ] &&
		ok "$1: steady load, $before requests before the kill, $after from 2 s after HAProxy noticed" ||
		not_ok "$1: steady load, $before requests before the kill, $after from 2 s after HAProxy noticed"
	late=$(awk -v d="$T_DOWN" '$1 >= d + 2000 && $3 != "STATUS_200"' "$f")
	se_eq "$1: every request started 2 s after HAProxy noticed succeeds" "" "$late"
	[ "$lf" = none ] || [ "$noticed" -le 0 ] || [ "$lf" -le $((noticed + 2000)) ] &&
		ok "$1: no failure later than 2 s after HAProxy noticed" ||
		not_ok "$1: no failure later than 2 s after HAProxy noticed (last $lf ms, noticed $noticed ms)"
}
stream new
stream keep1; k1=$NFAIL
stream keep2; k2=$NFAIL
all=$(cat "$RUN"/load-*.out)
last=$(printf '%s\n' "$all" | awk '$3 != "STATUS_200" { print $2 }' | sort -n | tail -1)
note "failover: $(printf '%s\n' "$all" | awk '$3 != "STATUS_200"' | grep -c .) failed of $(printf '%s\n' "$all" | grep -c .), last failure $([ -n "$last" ] && echo $((last - T_KILL)) || echo none) ms after the kill, HAProxy noticed after $noticed ms"
[ $((k1 + k2)) -ge 1 ] && [ "$k1" -le 1 ] && [ "$k2" -le 1 ] &&
	ok "the held connection through A lost its request in flight, then reconnected (failures: $k1, $k2)" ||
	not_ok "the held connection through A lost its request in flight, then reconnected (failures: $k1, $k2)"
se_send "a new MESSAGE through HAProxy now gets 200 (edge B)" "${PARTNER[@]}" \
	"$SCEN/message.sip" --var CALLID=cl-after-$$ --expect 200

kill -0 "$B_PID" 2>/dev/null && ok "edge B still running" || not_ok "edge B still running (it died)"
se_kill "$B_PID" 5

# ---- 5. keepalived: a VRRP address moved between two edges
# Network namespaces (root only): "lan" holds a bridge; edge A (10.199.0.11)
# and edge B (.12) each run sipedge (external listener on the virtual
# address .10, bound before it is theirs: ip_nonlocal_bind) and keepalived
# (contrib's file with these addresses, track script sipedge-ctl status:
# two failures put A in FAULT, it sends a priority 0 advertisement);
# "peer" holds the node (sipp, .31) and the partner (.21). kill -9 of A's
# sipedge: the track script fails, B takes the address, the partner's
# MESSAGEs (a new connection each) get 200 from B.
KA_NS=()
ka_cleanup() {
	local ns
	for ns in "${KA_NS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	KA_NS=()
}
ka_run() {
	local pfx=$1 i
	KA_NS=("${pfx}lan" "${pfx}a" "${pfx}b" "${pfx}p")
	for i in "${KA_NS[@]}"; do ip netns add "$i" || return 1; done
	ip -n "${pfx}lan" link add br0 type bridge && ip -n "${pfx}lan" link set br0 up || return 1
	for i in a:11 b:12 p:21; do
		ip link add "v${pfx}${i%%:*}" netns "${pfx}lan" type veth peer name eth0 netns "$pfx${i%%:*}" &&
		ip -n "${pfx}lan" link set "v${pfx}${i%%:*}" master br0 up &&
		ip -n "$pfx${i%%:*}" addr add "10.199.0.${i#*:}/24" dev eth0 &&
		ip -n "$pfx${i%%:*}" link set eth0 up && ip -n "$pfx${i%%:*}" link set lo up || return 1
	done
	ip -n "${pfx}p" addr add 10.199.0.31/24 dev eth0 || return 1
	for i in a b; do ip netns exec "$pfx$i" sysctl -qw net.ipv4.ip_nonlocal_bind=1 || return 1; done
	return 0
}
if [ "$(id -u)" != 0 ] || ! command -v keepalived >/dev/null 2>&1; then
	note "keepalived: not run (needs root and keepalived)"
elif ! ka_run "se$$" >"$RUN/ka-net.out" 2>&1; then
	note "keepalived: not run, network namespaces unavailable: $(head -3 "$RUN/ka-net.out")"
	ka_cleanup
else
	P=se$$
	VIP=10.199.0.10
	se_bg ka-node ip netns exec "${P}p" sipp -sf "$SCEN/node-uas.xml" -t t1 -i 10.199.0.31 -p 5062 \
		-nd -nostdin -timeout 120 -trace_msg -message_file "$RUN/ka-node.msg" -deadcall_wait 0
	for e in a:11 b:12; do
		x=${e%%:*}
		SE_CONF=$RUN/ka-edge-$x.conf se_write_conf \
			"edge={ fqdn = \"edge.test\"; secret_file = \"$RUN/secret\"; }" \
			"dns={ servers = [ \"10.199.0.53:53\" ]; }" \
			"listen=(
  { zone = \"external\"; address = \"$VIP\"; port = 5061; transport = \"tls\"; },
  { zone = \"internal\"; address = \"10.199.0.${e#*:}\"; port = 5060; transport = \"tcp\"; }
)" "internal={ domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"10.199.0.31\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
  health = { interval = 0; }; }" \
			"admin={ control_socket = \"/tmp/sipedge-ctl-ka-$P-$x.sock\"; metrics_port = 0; }"
		se_bg "ka-edge-$x" ip netns exec "$P$x" "$SIPEDGE" -f -c "$RUN/ka-edge-$x.conf"
		eval "KA_EDGE_$x=\$BG_PID"
		# contrib's file with this test's addresses and control socket
		sed -e "s|/usr/sbin/sipedge-ctl status|$SIPEDGE_CTL -s /tmp/sipedge-ctl-ka-$P-$x.sock status|" \
			-e "s|192\.0\.2\.10/24|$VIP/24|; s|192\.0\.2\.10|$VIP|g" \
			-e "/^ *enable_script_security/d; s|router_id sipedge1|router_id sipedge-$x|" \
			"$top_srcdir/contrib/keepalived/keepalived.conf" >"$RUN/ka-$x.conf"
		if [ $x = a ]; then
			sed -i -e 's|unicast_src_ip 192\.0\.2\.11|unicast_src_ip 10.199.0.11|' \
				-e 's|^\( *\)192\.0\.2\.12$|\110.199.0.12|' "$RUN/ka-$x.conf"
		else
			sed -i -e 's|state MASTER|state BACKUP|; s|priority 150|priority 100|' \
				-e 's|unicast_src_ip 192\.0\.2\.11|unicast_src_ip 10.199.0.12|' \
				-e 's|^\( *\)192\.0\.2\.12$|\110.199.0.11|' "$RUN/ka-$x.conf"
		fi
	done
	n=0
	while [ $n -lt 200 ] && ! { grep -q event=startup "$RUN/ka-edge-a.out" &&
	                            grep -q event=startup "$RUN/ka-edge-b.out"; }; do
		sleep 0.1; n=$((n + 1))
	done
	se_match "keepalived: both edges started on the virtual address (not yet theirs)" \
		'event=startup.*event=startup' "$(grep -h event=startup "$RUN"/ka-edge-[ab].out | tr '\n' ' ')"
	for x in a b; do
		se_bg "ka-$x" ip netns exec "$P$x" keepalived -n -l -D -P -f "$RUN/ka-$x.conf" \
			-p "$RUN/ka-$x.pid" -r "$RUN/ka-$x-vrrp.pid"
	done
	n=0
	while [ $n -lt 150 ] && ! ip -n "${P}a" -o addr show | grep -q "$VIP/"; do sleep 0.1; n=$((n + 1)); done
	ip -n "${P}a" -o addr show | grep -q "$VIP/" &&
		ok "keepalived: edge A holds $VIP ($((n * 100)) ms)" ||
		not_ok "keepalived: edge A holds $VIP ($(tail -3 "$RUN/ka-a.out"))"
	KA_SEND=(ip netns exec "${P}p" python3 "$TOOLS/sippeer.py" send --connect "$VIP:5061"
		--bind 10.199.0.21 --tls --ca "$PKI/ca.crt" --sni edge.test
		--cert "$PKI/partner.crt" --key "$PKI/partner.key" --timeout 2 "$SCEN/message.sip")
	se_check "keepalived: a MESSAGE to $VIP gets 200 (edge A)" \
		"${KA_SEND[@]}" --var CALLID=ka-1-$$ --expect 200
	# kill -9 A's sipedge; send a MESSAGE every 200 ms until one gets 200
	# from B (bounded: 15 s).
	T_KILL=$(date +%s%3N)
	kill -KILL "$KA_EDGE_a"
	wait "$KA_EDGE_a" 2>/dev/null
	fails=0 tries=0 got=
	while [ $(( $(date +%s%3N) - T_KILL )) -lt 15000 ]; do
		tries=$((tries + 1))
		if "${KA_SEND[@]}" --var CALLID=ka-f$tries-$$ --expect 200 >"$RUN/ka-send.out" 2>&1; then
			got=$(( $(date +%s%3N) - T_KILL )); break
		fi
		fails=$((fails + 1)); sleep 0.2
	done
	moved=$(grep -m1 -n 'Entering MASTER STATE' "$RUN/ka-b.out" | cut -d: -f1)
	grep -hE 'chk_sipedge.*(failed|returning)|Entering (MASTER|BACKUP|FAULT) STATE$|priority 0' \
		"$RUN/ka-a.out" "$RUN/ka-b.out" | sed 's/^/#   /'
	note "keepalived: kill at $(date -d @$((T_KILL / 1000)) +%T).$((T_KILL % 1000))"
	note "keepalived failover: $fails failed of $tries, first 200 ${got:-never} ms after the kill"
	[ -n "$got" ] && [ "$got" -le 8000 ] &&
		ok "keepalived: B answers on $VIP ${got} ms after A's sipedge was killed (track script fall 2, interval 1)" ||
		not_ok "keepalived: B answers on $VIP within 8 s (${got:-never}; $(tail -2 "$RUN/ka-b.out" | tr '\n' ' '))"
	[ -n "$moved" ] && ok "keepalived: B logged Entering MASTER STATE" ||
		not_ok "keepalived: B logged Entering MASTER STATE"
	ip -n "${P}b" -o addr show | grep -q "$VIP/" && ok "keepalived: $VIP is on B" ||
		not_ok "keepalived: $VIP is on B"
	for p in "${SE_PIDS[@]}"; do se_kill "$p" 5; done
	SE_PIDS=()
	ka_cleanup
	rm -f "/tmp/sipedge-ctl-ka-$P-a.sock" "/tmp/sipedge-ctl-ka-$P-b.sock"
fi
se_done
