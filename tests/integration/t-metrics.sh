#!/bin/bash
# Metrics: Prometheus text at http://admin.metrics_address:metrics_port/metrics.
# A few requests (answered by the node, refused inbound, refused outbound,
# a failed TLS handshake) must show up in the right series, and
# `promtool check metrics` (Debian package prometheus) must accept the page.
# The reload gauges follow a failed and a good SIGHUP, certificate expiry
# matches the test PKI, build info matches `sipedge -V`, refusals are not
# observed in the latency histogram, and every metric name the alerting
# rules (contrib/prometheus) and the dashboard (contrib/grafana) query is
# one this scrape serves.
. "$(dirname "$0")/lib.sh"
se_init 17
se_need sipp promtool
se_pki
MPORT=9161
se_write_conf "admin={ metrics_address = \"$NET.1\"; metrics_port = $MPORT; }"
se_node_uas node-uas.xml
se_start_daemon "$NET.1:5061" "$NET.2:5060" "$NET.1:$MPORT"
URL=http://$NET.1:$MPORT

# fetch PATH [METHOD] : HTTP_CODE and CTYPE set, body in $RUN/body (5 s at most).
fetch() {
	local out
	out=$(timeout 10 python3 - "$URL$1" "${2:-GET}" "$RUN/body" <<'EOF'
import sys, urllib.request, urllib.error
url, method, out = sys.argv[1:4]
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    r = opener.open(urllib.request.Request(url, method=method), timeout=5)
    code, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "")
except urllib.error.HTTPError as e:
    code, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
except Exception as e:
    print("000 error:", e)
    sys.exit(0)
with open(out, "wb") as f:
    f.write(body)
print(code, ctype)
EOF
)
	HTTP_CODE=${out%% *}
	CTYPE=${out#* }
}

# promtool_ok DESC : promtool check metrics accepts $RUN/body, no lint remarks.
promtool_ok() {
	local rc=0
	timeout 20 promtool check metrics <"$RUN/body" >"$RUN/promtool.out" 2>&1 || rc=$?
	if [ "$rc" -eq 0 ] && [ ! -s "$RUN/promtool.out" ]; then ok "$1"
	else not_ok "$1 (rc=$rc)"; sed 's/^/#   /' "$RUN/promtool.out"; fi
}

# has DESC LINE : the page has exactly this line.
has() {
	if grep -Fxq -- "$2" "$RUN/body"; then ok "$1"
	else not_ok "$1 (no line '$2')"; grep -F -- "${2%%\{*}" "$RUN/body" | sed 's/^/#   /' | head -20; fi
}

# value SERIES : the value of one series (name{labels} exactly), or "none".
value() {
	awk -v s="$1 " 'index($0, s) == 1 { print substr($0, length(s) + 1); f = 1 }
		END { if (!f) print "none" }' "$RUN/body"
}

# requests DIR : sum of sipedge_requests_total over one direction.
requests() {
	awk -v d="direction=\"$1\"" 'index($0, "sipedge_requests_total{") == 1 &&
		index($0, d) { n += $2 } END { print n + 0 }' "$RUN/body"
}

# ---- before any request
fetch /metrics
se_eq "GET /metrics answers 200" 200 "$HTTP_CODE"
se_match "Content-Type is the text exposition format 0.0.4" \
	'^text/plain; version=0\.0\.4' "$CTYPE"
promtool_ok "promtool check metrics accepts the page at startup"
has "histogram present with no observations" \
	'sipedge_request_duration_seconds_count{direction="inbound"} 0'
has "node imp1 up (health off: every node counts as up)" 'sipedge_node_up{node="imp1"} 1'
has "last reload success is 1 after startup" 'sipedge_config_last_reload_success 1'
T0=$(value sipedge_config_last_reload_timestamp_seconds)
se_eq "reload timestamp is the startup time (within 60 s of now)" yes \
	"$(awk -v t="$T0" -v n="$(date +%s)" 'BEGIN { print (t > n - 60 && t <= n + 1) ? "yes" : "no" }')"
version=$("$SIPEDGE" -V | awk '{ print $2 }')
se_match "build info names the version of sipedge -V ($version)" \
	"^sipedge_build_info\\{version=\"$(re "$version")\",openssl=\"[^\"]+\",libevent=\"[^\"]+\"\\} 1\$" \
	"$(grep '^sipedge_build_info' "$RUN/body")"
# expiry CERT : notAfter of pki/CERT.crt as Unix time
expiry() { date -u -d "$(openssl x509 -enddate -noout -in "$PKI/$1.crt" | cut -d= -f2)" +%s; }
se_eq "edge certificate expiry is its notAfter" "$(expiry edge)" \
	"$(value 'sipedge_certificate_expiry_timestamp_seconds{zone="external",subject="edge.test"}')"
se_eq "CA certificate expiry is its notAfter" "$(expiry ca)" \
	"$(value 'sipedge_certificate_expiry_timestamp_seconds{zone="external",subject="sipedge test federation CA"}')"
se_match "open descriptors reported (> 0)" '^process_open_fds [1-9][0-9]*$' \
	"$(grep '^process_open_fds ' "$RUN/body")"
se_match "resident memory reported (> 0)" '^process_resident_memory_bytes [1-9][0-9]*$' \
	"$(grep '^process_resident_memory_bytes ' "$RUN/body")"
se_match "CPU seconds reported" '^process_cpu_seconds_total [0-9]+\.[0-9]+$' \
	"$(grep '^process_cpu_seconds_total ' "$RUN/body")"
se_match "descriptor limit reported" '^process_max_fds [1-9][0-9]*$' \
	"$(grep '^process_max_fds ' "$RUN/body")"
se_eq "process start time is the daemon's (within 60 s of now)" yes \
	"$(awk -v t="$(value process_start_time_seconds)" -v n="$(date +%s)" \
		'BEGIN { print (t > n - 60 && t <= n + 1) ? "yes" : "no" }')"
se_eq "latency buckets go up to 180 s" 1 \
	"$(grep -c '^sipedge_request_duration_seconds_bucket{direction="inbound",le="180"} ' "$RUN/body")"

# ---- traffic
id=m-ok-$$
se_send "MESSAGE from partner gets 200 from the node" "${PARTNER[@]}" \
	"$SCEN/message.sip" --var CALLID=$id --expect 200
fetch /metrics
lat_in=$(value 'sipedge_request_duration_seconds_count{direction="inbound"}')
se_eq "the relayed MESSAGE is observed in the latency histogram" 1 "$lat_in"
id=m-foreign-$$
se_send "MESSAGE for a non-local domain gets 403" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=$id --var RURI=sip:bob@elsewhere.test --expect 403
id=m-out-$$
se_send "MESSAGE from the node to an unfederated domain gets 403" "${NODE[@]}" \
	"$SCEN/message.sip" --var CALLID=$id --var RURI=sip:bob@nowhere.test \
	--var FROM=sip:alice@example.test --expect 403
se_tls_client none
se_send "TLS handshake without a client certificate fails" "${TLSARGS[@]}" \
	--expect-handshake-failure "$SCEN/message.sip" --timeout 5
se_wait_log "the handshake failure is logged" 'event=tls_handshake_failed' 'zone=external'
slug=$(se_log_lines 'event=tls_handshake_failed' | tail -n 1 | grep -oE 'reason=[a-z_]+' | cut -d= -f2)

# ---- after
fetch /metrics
se_eq "GET /metrics answers 200 after traffic" 200 "$HTTP_CODE"
cp "$RUN/body" "$RUN/metrics.txt"     # kept for a look after the run
promtool_ok "promtool check metrics accepts the page after traffic"
has "inbound MESSAGE 200 counted" \
	'sipedge_requests_total{direction="inbound",method="MESSAGE",status="200"} 1'
has "inbound MESSAGE 403 counted" \
	'sipedge_requests_total{direction="inbound",method="MESSAGE",status="403"} 1'
has "outbound MESSAGE 403 counted" \
	'sipedge_requests_total{direction="outbound",method="MESSAGE",status="403"} 1'
has "inbound refusal counted with its reason" \
	'sipedge_rejections_total{event="inbound_rejected",reason="not_local_domain"} 1'
has "outbound refusal counted with its reason" \
	'sipedge_rejections_total{event="outbound_failed",reason="domain_not_federated"} 1'
has "TLS handshake failure counted with the logged reason (${slug:-?})" \
	"sipedge_tls_handshake_failures_total{zone=\"external\",reason=\"${slug:-?}\"} 1"
se_match "open external connections reported" '^sipedge_connections\{zone="external"\} [0-9]+$' \
	"$(grep '^sipedge_connections{zone="external"}' "$RUN/body")"
se_match "open internal connections reported" '^sipedge_connections\{zone="internal"\} [0-9]+$' \
	"$(grep '^sipedge_connections{zone="internal"}' "$RUN/body")"
se_match "transactions reported" '^sipedge_transactions [0-9]+$' \
	"$(grep '^sipedge_transactions ' "$RUN/body")"
has "node imp1 still up" 'sipedge_node_up{node="imp1"} 1'
se_match "DNS counters reported" '^sipedge_dns_cache_hits_total [0-9]+$' \
	"$(grep '^sipedge_dns_cache_hits_total ' "$RUN/body")"
# The refusals count as requests and rejections, not as 0 s latencies.
se_eq "inbound: a refused request does not change the histogram count" "$lat_in" \
	"$(value 'sipedge_request_duration_seconds_count{direction="inbound"}')"
se_eq "outbound: the refused request is not observed" 0 \
	"$(value 'sipedge_request_duration_seconds_count{direction="outbound"}')"
for d in inbound outbound; do
	se_eq "$d: +Inf bucket equals the count" \
		"$(value "sipedge_request_duration_seconds_count{direction=\"$d\"}")" \
		"$(value "sipedge_request_duration_seconds_bucket{direction=\"$d\",le=\"+Inf\"}")"
done
se_eq "2 inbound and 1 outbound requests counted" "2 1" "$(requests inbound) $(requests outbound)"

# ---- reloads: a failed one shows as 0 (the log alone said so), a good one
# sets 1 and moves the timestamp
# sighup RESULT : SIGHUP, wait for the event=reload line with result=RESULT
sighup() {
	se_log_mark
	kill -HUP "$DAEMON_PID"
	se_wait_log "SIGHUP: reload $1" 'event=reload ' "result=$1" \
		"$([ "$1" = ok ] && echo 'result=ok' || echo 'action=')"
}
cp "$RUN/edge.conf" "$RUN/edge.conf.good"
printf 'no_such_group = { x = 1; };\n' >>"$RUN/edge.conf"
sighup failed
fetch /metrics
has "last reload success is 0 after a failed reload" 'sipedge_config_last_reload_success 0'
se_eq "a failed reload keeps the timestamp of the last good load" "$T0" \
	"$(value sipedge_config_last_reload_timestamp_seconds)"
sleep 1.1
cp "$RUN/edge.conf.good" "$RUN/edge.conf"
sighup ok
fetch /metrics
has "last reload success is 1 again after a good reload" 'sipedge_config_last_reload_success 1'
T1=$(value sipedge_config_last_reload_timestamp_seconds)
se_eq "the good reload moved the timestamp forward" yes \
	"$(awk -v a="$T0" -v b="$T1" 'BEGIN { print (b > a + 1) ? "yes" : "no" }')"
promtool_ok "promtool check metrics accepts the page after the reloads"

# ---- every metric the rules and the dashboard query is served (a renamed
# metric fails here, not silently on a dashboard)
names=$(cat "$top_srcdir/contrib/prometheus/sipedge.rules.yml" \
	"$top_srcdir/contrib/prometheus/sipedge.rules.test.yml" \
	"$top_srcdir/contrib/grafana/sipedge.json" |
	grep -oE '\b(sipedge|process)_[a-z0-9_]+' | LC_ALL=C sort -u)
missing=
for n in $names; do
	grep -qE "^$n(\{| )" "$RUN/body" || missing+=" $n"
done
se_eq "the rules and the dashboard query only served metrics ($(echo $names | wc -w) names)" "" "${missing# }"

# ---- anything but GET /metrics is 404
fetch /other
se_eq "GET /other answers 404" 404 "$HTTP_CODE"
fetch /
se_eq "GET / answers 404" 404 "$HTTP_CODE"
fetch /metrics POST
se_eq "POST /metrics answers 404" 404 "$HTTP_CODE"

se_daemon_alive
se_stop_daemon

# ---- the endpoint cannot listen: the daemon refuses to start, naming it
se_bg blocker python3 -c "
import socket, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('$NET.1', $MPORT)); s.listen(1); time.sleep(60)"
if "${PEER[@]}" wait --listen "$NET.1:$MPORT" --pid "$BG_PID" --timeout 10; then
	rc=0
	timeout 20 "$SIPEDGE" -f -c "$RUN/edge.conf" </dev/null >"$RUN/sipedge-busy.log" 2>&1 || rc=$?
	se_match "metrics port in use: sipedge exits non-zero (not killed by timeout)" \
		'^([1-9]|[1-9][0-9]|1[01][0-9]|12[0-3])$' "$rc"
	se_match "metrics port in use: the error names address and port" \
		"$NETRE\.1:$MPORT" "$(grep -i metrics "$RUN/sipedge-busy.log")"
else
	not_ok "could not occupy $NET.1:$MPORT for the bind failure check"
fi
se_done
