#!/bin/bash
# Trust at the edge (SPEC sections 1 and 4): attacks that worked against
# 307ba50, one function per case. Each must fail there and pass with the
# fixes.
#   1. response injection: a response counts only on the connection its
#      request went out on (to a node's request, to a health probe); the
#      edge's Via branches are unpredictable
#   2. outbound target guard: nothing a partner (Record-Route, Contact),
#      its DNS (SRV, A/AAAA) or the configuration (fixed peer) names makes
#      the edge dial a node, itself, or a loopback/private/link-local
#      address outside federation.allowed_networks; a blocked domain is
#      refused in dialog too; an outsider's Route with maddr never reaches
#      the node
#   3. identity headers from outside: Referred-By is proven like From;
#      Remote-Party-ID, P-Preferred-Identity, Identity, Identity-Info,
#      Diversion, History-Info are removed; ms-edge-proxy-message-trust is
#      removed from responses as well as requests
#   4. rate caps count per allowed entry / proven certificate identity,
#      not per claimed domain string
#   5. SIGHUP removing a node with open transactions toward it
# Addresses (127.0.27.x):
#   .1 external TLS :5061  .2 internal TCP :5060  .11 node imp1 (sippeer)
#   .12 node imp2 (case 5)  .13 node imp3, never answers (case 1c)
#   .53 dnsmasq
#   .21 sip.partner.test  (cert partner): answers 200 at once; its 2xx to
#       INVITE carries a Record-Route to the trap .99
#   .22 sip.srv.test      (cert srv): holds its answers (case 1a)
#   .23, .24, .27 injectors (certs otherdom = not federated, partner)
#   .25 sip.primary.test  (cert primary): records the branches (case 1b)
#   .26 sip.open.test     (cert open): a discovered peer (case 4)
#   traps, never to be dialled: .99:5061 (loopback outside
#   allowed_networks), .98:5061 (sip.blocked.test), [::1]:27061
# federation.allowed_networks is 127.0.27.16/28: .16-.31 may be dialled.
. "$(dirname "$0")/lib.sh"
se_init 27
se_need dnsmasq
se_pki
# Many short sippeer runs: the interpreter itself, not a version-manager
# shim that costs a second per start on a loaded machine
PEER=("$(python3 -c 'import sys; print(sys.executable)')" "$TOOLS/sippeer.py")
SRV=_sipfederationtls._tcp
V6PORT=$((27061 + ${SE_NET_SHIFT:-0}))
PEERNET=$NET.16/28
LATE=20                 # sip.srv.test holds its answers (case 1a) at most so long
T_START=$SECONDS

# ------------------------------------------------------------ helpers

# The node's Contact names its listening port (the one the PAT maps),
# whatever port its request leaves from
NODE_AT=$NET.11:5062

conns() { cat "$RUN/$1.conns" 2>/dev/null || echo 0; }
# count_in FILE ERE : lines of FILE matching ERE (0 if there is no FILE)
count_in() { cat "$1" 2>/dev/null | grep -cE -- "$2"; }
# tls_from ADDR CERT : sippeer send args: mutual TLS to the external
# listener from ADDR presenting pki/CERT
tls_from() {
	TLSARGS=(--connect "$NET.1:5061" --bind "$1" --tls --ca "$PKI/ca.crt" --sni edge.test
	         --cert "$PKI/$2.crt" --key "$PKI/$2.key")
}
# wait_count N FILE FILTER... : up to 10 s until FILE has N messages matching
wait_count() {
	local n=$1 f=$2 i=0; shift 2
	while [ $i -lt 100 ] && [ "$(se_count "$f" "$@")" -lt "$n" ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ "$(se_count "$f" "$@")" -ge "$n" ]
}
# wait_pid PID SECONDS : bounded wait for a background job; rc in WAIT_RC
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

# In-dialog requests a node sends (To has a tag), with and without Route.
cat >"$RUN/indialog-route.sip" <<'EOF'
${METHOD:-BYE} ${RURI} SIP/2.0
Via: SIP/2.0/TCP ${LOCAL};branch=${BRANCH}
Max-Forwards: 70
Route: ${ROUTE}
From: <sip:alice@example.test>;tag=${TAG}
To: <sip:bob@${TODOM:-partner.test}>;tag=peer${TAG}
Call-ID: ${CALLID}
CSeq: 2 ${METHOD:-BYE}
EOF
grep -v '^Route:' "$RUN/indialog-route.sip" >"$RUN/indialog.sip"

# ------------------------------------------------------------ peers, DNS

se_start_dns --local=/test/ \
	--host-record="sip.srv.test,$NET.22" --host-record="sip.primary.test,$NET.25" \
	--host-record="sip.open.test,$NET.26" \
	--host-record="sip.fixed.test,$NET.99" --host-record="imp1.corp.test,$NET.11" \
	--srv-host="$SRV.other.test,sip.other.test,5061" \
	--srv-host="$SRV.evil-node.test,sip.evil-node.test,5062" \
	--host-record="sip.evil-node.test,$NET.11" \
	--srv-host="$SRV.evil-loop.test,sip.evil-loop.test,5061" \
	--host-record="sip.evil-loop.test,$NET.99" \
	--srv-host="$SRV.evil-self.test,sip.evil-self.test,5061" \
	--host-record="sip.evil-self.test,$NET.1" \
	--srv-host="$SRV.evil-six.test,sip.evil-six.test,$V6PORT" \
	--host-record="sip.evil-six.test,::1" \
	--srv-host="$SRV.blocked.test,sip.blocked.test,5061" \
	--host-record="sip.blocked.test,$NET.98" \
	$(for i in $(seq 20); do echo "--srv-host=$SRV.d$i.disc.test,sip.open.test,5061"; done)

se_serve node "$NET.11:5062" --timeout 900
se_tls_peer partner "$NET.21:5061" partner --timeout 900 \
	--record-route "<sip:$NET.99:5061;transport=tls;lr>" \
	--respond-header "ms-edge-proxy-message-trust: ms-source-type=InternalUser;ms-ep-fqdn=sip.partner.test" \
	--respond-header "MS-EDGE-PROXY-MESSAGE-TRUST: ms-source-type=AutoProvisioned"
se_tls_peer late "$NET.22:5061" srv --timeout 900 --delay $LATE --release "$RUN/late.release" \
	--respond-header "X-Answered-By: the-real-peer"
se_tls_peer branches "$NET.25:5061" primary --timeout 900
se_serve trap99 "$NET.99:5061" --timeout 900
se_serve trap98 "$NET.98:5061" --timeout 900
se_serve trap6 "[::1]:$V6PORT" --timeout 900

# nothing_dialled DESC : no trap saw a connection, the node saw no new one
# (the edge's own internal connection to it excepted: NODE_CONNS), the edge
# did not connect to itself
nothing_dialled() {
	local self
	self=$(se_log_lines "peer=$NETRE\\.[12]:" | grep -c . || true)
	se_eq "$1: nothing dialled (trap99 trap98 trap6 node+ self)" "0 0 0 0 0" \
		"$(conns trap99) $(conns trap98) $(conns trap6) $(( $(conns node) - NODE_CONNS )) $self"
}

conf_main() {
	se_write_conf internal="{
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              names = [ \"imp1.corp.test\" ];
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
  health = { interval = 0; };
}" federation="{
  allowed_networks = [ \"$PEERNET\" ];
  discovery = true;
  allowed = ( { domain = \"partner.test\"; peer = \"sip.partner.test\"; port = 5061; },
              { domain = \"srv.test\"; peer = \"sip.srv.test\"; port = 5061; },
              { domain = \"primary.test\"; peer = \"sip.primary.test\"; port = 5061; },
              { domain = \"fixed.test\"; peer = \"sip.fixed.test\"; port = 5061; },
              { domain = \"other.test\"; } );
  blocked = [ \"blocked.test\" ];
}" limits="{ handshake_timeout = 2; unreachable_hold = 0; transaction_timeout = 10; }"
}

# ================================================= 1. response injection

# 1a. The node sends SUBSCRIBE, MESSAGE and INVITE to srv.test; its peer
# (sip.srv.test) holds each answer until told. Meanwhile two other certified
# connections inject a 200 and a 503 with the branch the peer saw (a branch
# a partner learns, e.g. from a NOTIFY the edge sent it): one from a
# certificate of no federated domain (otherdom), one from another partner
# (partner.test). The node must get the real answers only.
case_injection() {
	local m pid out=$RUN/inject-node.out
	rm -f "$out"
	timeout 40 "${PEER[@]}" send "${NODE[@]}" --pipeline --timeout 25 --out "$out" \
		--var RURI=sip:bob@srv.test --var FROM=sip:alice@example.test --var LOCAL="$NODE_AT" \
		"$SCEN/subscribe.sip" "$SCEN/message.sip" "$SCEN/invite.sip" \
		>"$RUN/inject-node.send" 2>&1 &
	pid=$!
	SE_PIDS+=("$pid")
	if ! wait_count 3 "$RUN/late.rec" --received; then
		not_ok "1a: sip.srv.test did not receive the node's 3 requests"
		touch "$RUN/late.release"
		wait_pid "$pid" 1
		return
	fi
	ok "1a: sip.srv.test received SUBSCRIBE, MESSAGE, INVITE (and holds the answers)"
	# one process forges all 12 (a loaded machine starts Python slowly)
	"${PEER[0]}" - "$TOOLS" "$RUN/late.rec" "$RUN/inject-a.raw" "$RUN/inject-b.raw" <<'EOF'
import sys
sys.path.insert(0, sys.argv[1])
import sippeer
a = b = b""
for _, req in sippeer.load_messages(sys.argv[2]):
    ok, busy = (sippeer.make_response(req, code, sippeer.rand_token(8),
                                      ["X-Answered-By: injector"]) for code in (200, 503))
    a += ok + busy
    b += busy + ok
open(sys.argv[3], "wb").write(a)
open(sys.argv[4], "wb").write(b)
EOF
	se_eq "1a: (6 forged responses per injector, branch z9hG4bKse...)" "6 6" \
		"$(grep -c '^SIP/2.0' "$RUN/inject-a.raw") $(grep -c '^SIP/2.0' "$RUN/inject-b.raw")"
	se_log_mark
	tls_from "$NET.23" otherdom
	se_send_any "1a: injector with a certificate of no federated domain sends 200+503 x3" \
		'^(NORESPONSE|CLOSED)' "${TLSARGS[@]}" --raw-file "$RUN/inject-a.raw" --no-response --grace 0.5
	tls_from "$NET.24" partner
	se_send_any "1a: injector with another partner's certificate sends 503+200 x3" \
		'^(NORESPONSE|CLOSED)' "${TLSARGS[@]}" --raw-file "$RUN/inject-b.raw" --no-response --grace 0.5
	# a response to no transaction at all, from a third connection
	sed -n '1,/^\r$/p' "$RUN/inject-a.raw" |
		sed 's/branch=z9hG4bKse[0-9A-Za-z]*/branch=z9hG4bKse00000000000000000000000000000000/' \
		>"$RUN/inject-c.raw"
	tls_from "$NET.27" otherdom
	se_send_any "1a: a third connection sends a 200 whose branch is no transaction's" \
		'^(NORESPONSE|CLOSED)' "${TLSARGS[@]}" --raw-file "$RUN/inject-c.raw" --no-response --grace 0.3
	sleep 0.3               # let the edge read them all
	se_eq "1a: the node's requests were still unanswered by sip.srv.test" 0 \
		"$(count_in "$out" '^X-Answered-By: the-real-peer')"
	touch "$RUN/late.release"
	wait_pid "$pid" 30
	se_eq "1a: the node's sender got a final response to each request" 0 "$WAIT_RC"
	sed 's/^/#   /' "$RUN/inject-node.send"
	se_eq "1a: no injected response reached the node" 0 \
		"$(count_in "$out" '^X-Answered-By: injector')"
	se_eq "1a: no 503 reached the node" 0 "$(se_count "$out" --status 503)"
	for m in SUBSCRIBE MESSAGE INVITE; do
		se_eq "1a: the node's $m got the real peer's 200" "the-real-peer" \
			"$(se_inspect "$out" --cseq-method $m --status 200 --index -1 --header X-Answered-By)"
	done
	se_wait_log "1a: stray logged with reason=wrong_connection (injector .23)" \
		'event=stray_response' 'reason=wrong_connection' "peer=$NETRE\\.23:" \
		' conn=c[0-9]+ txn=t[0-9]+$'
	se_wait_log "1a: stray logged with reason=wrong_connection (injector .24)" \
		'event=stray_response' 'reason=wrong_connection' "peer=$NETRE\\.24:"
	se_wait_log "1a: stray logged with reason=no_transaction (.27)" \
		'event=stray_response' 'reason=no_transaction' "peer=$NETRE\.27:"
	local n23
	n23=$(se_log_lines 'event=stray_response' "peer=$NETRE\\.23:" | grep -c . || true)
	se_check "1a: 6 strays from .23 within a second: at most 2 lines ($n23)" \
		[ "$n23" -ge 1 -a "$n23" -le 2 ]
}

# 1b. Branches of many transactions: each z9hG4bKse + >= 16 hex digits, all
# distinct, no shared prefix and no counter between consecutive ones, every
# digit position uniformly spread (chi-square).
# As many as fit in BRANCH_BUDGET seconds, from 2000 to 10000.
BRANCH_MAX=10000
BRANCH_BUDGET=15
case_branches() {
	local sent=0 t0=$SECONDS chunk=1000 rc=0
	while [ $sent -lt $BRANCH_MAX ] &&
	      { [ $sent -lt 2000 ] || [ $((SECONDS - t0)) -lt $BRANCH_BUDGET ]; }; do
		timeout 60 "${PEER[@]}" send "${NODE[@]}" --pipeline --window 100 --timeout 50 \
			--var RURI=sip:bob@primary.test --var FROM=sip:alice@example.test \
			--repeat $chunk --expect 200 "$SCEN/message.sip" >"$RUN/branches.send" 2>&1 ||
			{ rc=$?; break; }
		sent=$((sent + chunk))
	done
	se_eq "1b: $sent MESSAGEs node -> primary.test, all 200 (in $((SECONDS - t0)) s)" 0 "$rc"
	[ "$rc" = 0 ] || tail -n 3 "$RUN/branches.send" | sed 's/^/#   /'
	"${PEER[0]}" - "$RUN/branches.rec" >"$RUN/branches.stats" <<'EOF'
import re, sys
text = open(sys.argv[1], encoding="utf-8", errors="replace").read()
# the one Via a partner sees is the edge's
b = re.findall(r"^Via:[^\r\n]*?;\s*branch=([^;,\s]+)", text, re.M | re.I)
n = len(b)
fmt = re.compile(r"^z9hG4bKse([0-9a-fA-F]{16})")
good = [fmt.match(x) for x in b]
hexes = [g.group(1).lower() for g in good if g]
print("count", n)
print("distinct", len(set(b)))
print("badformat", n - len(hexes))
def common(x, y):
    k = 0
    while k < min(len(x), len(y)) and x[k] == y[k]:
        k += 1
    return k
tails = [x[len("z9hG4bKse"):] for x in b]
print("maxprefix", max((common(tails[i], tails[i + 1]) for i in range(n - 1)), default=0))
nums = [int(h, 16) for h in hexes]
up = sum(1 for i in range(len(nums) - 1) if nums[i + 1] > nums[i])
print("ascending_pct", round(100.0 * up / max(1, len(nums) - 1)))
chi = 0.0
for pos in range(16):
    if not hexes:
        break
    cnt = [0] * 16
    for h in hexes:
        cnt[int(h[pos], 16)] += 1
    e = len(hexes) / 16.0
    chi = max(chi, sum((c - e) ** 2 / e for c in cnt))
print("maxchi2", int(chi) if hexes else 9999)
print("example", " ".join(b[:3]))
EOF
	sed 's/^/#   /' "$RUN/branches.stats"
	st() { sed -n "s/^$1 //p" "$RUN/branches.stats"; }
	local n; n=$(st count)
	se_eq "1b: sip.primary.test recorded each one's branch" "$sent" "$n"
	se_check "1b: at least 2000 branches ($n)" [ "${n:-0}" -ge 2000 ]
	se_eq "1b: all distinct" "$n" "$(st distinct)"
	se_eq "1b: every one is z9hG4bKse + >= 16 hex digits" 0 "$(st badformat)"
	se_check "1b: consecutive ones share at most 8 hex digits after z9hG4bKse ($(st maxprefix))" \
		[ "$(st maxprefix)" -le 8 ]
	se_check "1b: no counter: 45-55 % of consecutive ones go up ($(st ascending_pct) %)" \
		[ "$(st ascending_pct)" -ge 45 -a "$(st ascending_pct)" -le 55 ]
	# 15 degrees of freedom: P(chi2 > 60) < 1e-6 per position
	se_check "1b: each of the 16 digit positions is uniform (max chi2 $(st maxchi2) < 60)" \
		[ "$(st maxchi2)" -lt 60 ]
}

# 1c. Health probes: imp3 ($NET.13) accepts the connection and never
# answers; a partner's connection answers each probe for it with the
# branch (read from imp3's recording: a branch an attacker who could
# predict them would know). imp3 must still go down and never come up.
case_probe_forgery() {
	local forged
	"${PEER[0]}" - "$TOOLS" "$RUN/imp3.rec" "$NET.1:5061" "$NET.24" "$PKI" 4 \
		>"$RUN/probe-forger.out" 2>&1 <<'EOF'
import socket, sys, time
sys.path.insert(0, sys.argv[1])
import sippeer
rec, (host, port), src, pki, secs = sys.argv[2], sys.argv[3].split(":"), sys.argv[4], sys.argv[5], float(sys.argv[6])
ctx = sippeer.tls_context(False, pki + "/partner.crt", pki + "/partner.key", pki + "/ca.crt", "edge.test")
sock, seen, forged, end = None, 0, 0, time.monotonic() + secs
while time.monotonic() < end:
    probes = [m for _, m in sippeer.load_messages(rec) if m.is_request and m.method == "OPTIONS"]
    for m in probes[seen:]:
        for attempt in (1, 2):
            try:
                if sock is None:
                    sock = ctx.wrap_socket(socket.create_connection(
                        (host, int(port)), timeout=2, source_address=(src, 0)),
                        server_hostname="edge.test")
                sock.sendall(sippeer.make_response(m, 200, "forged"))
                forged += 1
                break
            except OSError as e:
                print("reconnect after %s" % e)
                sock = None
    seen = len(probes)
    time.sleep(0.05)
print("FORGED %d" % forged)
EOF
	forged=$(sed -n 's/^FORGED //p' "$RUN/probe-forger.out")
	se_check "1c: forged 200s to imp3's probes were sent (${forged:-none})" [ "${forged:-0}" -ge 2 ]
	se_log_lines 'event=node_(up|down) node=imp3( |$)' | sed 's/^/#   /'
	se_match "1c: imp3 went down all the same" 'event=node_down node=imp3( |$)' \
		"$(se_log_lines 'event=node_down node=imp3( |$)' || true)"
	se_nomatch "1c: and never came back up" 'event=node_up node=imp3( |$)' \
		"$(se_log_lines 'event=node_up node=imp3( |$)' || true)"
}

# ================================================= 2. outbound target guard

N=0
# What a refusal may be (status/ms-diagnostics code): a target refused by
# its address 504/1046, by its name (blocked domain, node name) 403/1027.
# A literal IP that is a node's or a listener's configured address may be
# either (SPEC does not say which).
BY_ADDR='504/1046' BY_NAME='403/1027' LITERAL='403/1027|504/1046'
# refused_out DESC ALLOWED [sippeer send args...] : a node's request is
# refused as ALLOWED (an ERE over STATUS/CODE), logged as outbound_failed
# with REASON (default target_forbidden); nothing is dialled.
refused_out() {
	local desc=$1 allowed=$2 got
	shift 2
	N=$((N + 1)) ID=trust-out-$N-$$
	NODE_CONNS=$(conns node)
	se_log_mark
	se_send_any "$desc: refused" '^STATUS [3-6][0-9][0-9] ' "${NODE[@]}" --var CALLID=$ID "$@" \
		--timeout 10 --show-header ms-diagnostics
	# STATUS/ms-diagnostics code of the (last) final response
	got=$(printf '%s\n' "$SEND_OUT" | awk '/^STATUS / { s = $2; c = "none" }
		/^HEADER ms-diagnostics: / { c = $3; sub(/;.*/, "", c) } END { print s "/" c }')
	se_match "$desc: $got is one of $allowed" "^($allowed)\$" "$got"
	se_wait_log "$desc: logged outbound_failed reason=${REASON:-target_forbidden}" \
		"event=outbound_failed reason=(${REASON:-target_forbidden}) " "call_id=$(re "$ID")( |\$)"
	nothing_dialled "$desc"
}
OWN_ROUTE="<sip:$NET.2:5060;transport=tcp;lr;sipedge=int>"

# a partner's Record-Route at a loopback address outside allowed_networks:
# the node's ACK and BYE follow it, the edge must not
case_guard_record_route() {
	N=$((N + 1)) ID=trust-out-$N-$$
	NODE_CONNS=$(conns node)
	se_log_mark
	se_send_any "Record-Route $NET.99 (partner's 2xx): the BYE gets 504" \
		'^STATUS 504 BYE' "${NODE[@]}" --var CALLID=$ID --dialog --show-header ms-diagnostics \
		--var LOCAL="$NODE_AT" \
		--var RURI=sip:bob@partner.test --var FROM=sip:alice@example.test "$SCEN/invite.sip"
	se_match "Record-Route $NET.99: after the INVITE's 200" '^STATUS 200 INVITE' "$SEND_OUT"
	se_match "Record-Route $NET.99: the BYE's 504 carries ms-diagnostics 1046" \
		'^HEADER ms-diagnostics: 1046;' "$(printf '%s\n' "$SEND_OUT" | sed -n '/^STATUS 504 BYE/,$p')"
	se_wait_log "Record-Route $NET.99: logged outbound_failed reason=target_forbidden" \
		'event=outbound_failed reason=target_forbidden ' "call_id=$(re "$ID")( |\$)"
	sleep 0.2
	nothing_dialled "Record-Route $NET.99"
}

# Routes a node copied from a partner's Record-Route (after the edge's own).
# (One at the internal listener $NET.2:5060 names the edge itself: popped
# before and after the fixes, so no case here; the Contact case dials it.)
case_guard_routes() {
	local R=("$RUN/indialog-route.sip" --var RURI="sip:bob@$NET.21:5061;transport=tls")
	refused_out "Route at the node $NET.11:5062" "$LITERAL" "${R[@]}" \
		--var ROUTE="$OWN_ROUTE, <sip:$NET.11:5062;transport=tcp;lr>"
	refused_out "Route at the node by its name imp1.corp.test" "$BY_NAME" "${R[@]}" \
		--var ROUTE="$OWN_ROUTE, <sip:imp1.corp.test:5062;lr>"
	refused_out "Route at sip.blocked.test (a blocked domain)" "$BY_NAME" "${R[@]}" \
		--var ROUTE="$OWN_ROUTE, <sip:sip.blocked.test:5061;transport=tls;lr>"
	# A Route naming an external listener names the edge itself (SPEC
	# section 2): popped like its own, or refused; never dialled
	N=$((N + 1)) ID=trust-out-$N-$$
	NODE_CONNS=$(conns node)
	se_log_mark
	se_send_any "Route at the external listener $NET.1:5061: the edge itself (to partner) or refused" \
		'^STATUS (200|504) BYE' "${NODE[@]}" --var CALLID=$ID "${R[@]}" \
		--var ROUTE="$OWN_ROUTE, <sip:$NET.1:5061;transport=tls;lr>"
	sleep 0.2
	nothing_dialled "Route at the external listener $NET.1:5061"
}

# a partner's Contact as the Request-URI of an in-dialog request, no Route
case_guard_contacts() {
	local u
	for u in "$NET.11:5062;transport=tcp" "$NET.2:5060;transport=tcp" "$NET.1:5061;transport=tls"; do
		refused_out "Contact sip:bob@$u" "$LITERAL" "$RUN/indialog.sip" --var RURI="sip:bob@$u"
	done
	for u in "$NET.99:5061;transport=tls" "[::1]:$V6PORT;transport=tls" \
	         "10.1.2.3:5061;transport=tls" "169.254.1.1:5061;transport=tls" \
	         "100.64.1.1:5061;transport=tls" "[fd00::1]:5061;transport=tls"; do
		refused_out "Contact sip:bob@$u" "$BY_ADDR" "$RUN/indialog.sip" --var RURI="sip:bob@$u"
	done
	REASON='target_forbidden|domain_blocked' refused_out \
		"in-dialog Request-URI in blocked.test" "$BY_NAME" "$RUN/indialog.sip" \
		--var RURI="sip:bob@blocked.test" --var TODOM=blocked.test
}

# DNS and configuration: SRV targets and fixed peers are checked after
# resolution, address by address
case_guard_dns() {
	local out=("$SCEN/message.sip" --var FROM=sip:alice@example.test)
	refused_out "SRV of a discovered domain, target A = the node" "$BY_ADDR" "${out[@]}" \
		--var RURI=sip:bob@evil-node.test
	refused_out "SRV of a discovered domain, target A = $NET.99" "$BY_ADDR" "${out[@]}" \
		--var RURI=sip:bob@evil-loop.test
	refused_out "SRV of a discovered domain, target A = the external listener" "$BY_ADDR" "${out[@]}" \
		--var RURI=sip:bob@evil-self.test
	refused_out "SRV of a discovered domain, target AAAA = ::1" "$BY_ADDR" "${out[@]}" \
		--var RURI=sip:bob@evil-six.test
	refused_out "fixed peer sip.fixed.test resolving to $NET.99" "$BY_ADDR" "${out[@]}" \
		--var RURI=sip:bob@fixed.test
	# the control: the guard lets allowed_networks through
	NODE_CONNS=$(conns node)
	se_send "control: partner.test ($NET.21, in allowed_networks) gets the MESSAGE: 200" \
		"${NODE[@]}" "${out[@]}" --var RURI=sip:bob@partner.test --expect 200
}

# An outsider's Route naming the edge with maddr at the node or the
# internal listener: refused, the node sees nothing
case_foreign_route() {
	local target
	for target in "$NET.11" "$NET.2"; do
		N=$((N + 1)) ID=trust-in-$N-$$
		awk -v r="<sip:edge.test:5061;maddr=$target;lr>" \
			'{ print } /^Max-Forwards:/ { print "Route: " r }' "$SCEN/message.sip" \
			>"$RUN/maddr.sip"
		se_log_mark
		tls_from "$NET.21" partner
		se_send "Route <sip:edge.test:5061;maddr=$target;lr> from outside: 403" \
			"${TLSARGS[@]}" --var CALLID=$ID "$RUN/maddr.sip" --expect 403
		se_wait_log "maddr=$target: logged inbound_rejected reason=foreign_route" \
			'event=inbound_rejected reason=foreign_route ' "call_id=$(re "$ID")( |\$)"
		sleep 0.2
		se_eq "maddr=$target: the node received nothing" 0 \
			"$(se_count "$RUN/node.rec" --call-id "$ID")"
	done
}

# ================================================= 3. identity headers

# inject FILE NAME VALUE... : the message template with these headers
# added after Max-Forwards
with_headers() {
	local f=$1; shift
	awk -v h="$(printf '%s\n' "$@")" '{ print } /^Max-Forwards:/ { print h }' \
		"$SCEN/message.sip" >"$f"
}

case_identity() {
	tls_from "$NET.21" partner
	# Referred-By: proven like From
	N=$((N + 1)) ID=trust-in-$N-$$
	with_headers "$RUN/rb-ok.sip" "Referred-By: <sip:carol@partner.test>"
	se_send "control: Referred-By partner.test (proven): 200" "${TLSARGS[@]}" \
		--var CALLID=$ID "$RUN/rb-ok.sip" --expect 200
	se_eq "control: Referred-By partner.test reached the node" "<sip:carol@partner.test>" \
		"$(se_inspect "$RUN/node.rec" --call-id "$ID" --header Referred-By)"
	local rb
	for rb in "Referred-By: <sip:boss@other.test>" "b: <sip:boss@other.test>" \
	          "Referred-By: <sip:boss@unknown-domain.test>"; do
		N=$((N + 1)) ID=trust-in-$N-$$
		with_headers "$RUN/rb.sip" "$rb"
		se_send "$rb (partner's certificate cannot prove it): 403" "${TLSARGS[@]}" \
			--var CALLID=$ID "$RUN/rb.sip" --expect 403
		sleep 0.2
		se_eq "$rb: the node received nothing" 0 "$(se_count "$RUN/node.rec" --call-id "$ID")"
	done

	# identity headers an outsider may not assert: removed
	N=$((N + 1)) ID=trust-in-$N-$$
	local h hs=(Remote-Party-ID P-Preferred-Identity Identity Identity-Info Diversion History-Info)
	with_headers "$RUN/ids.sip" \
		'Remote-Party-ID: "Boss" <sip:boss@example.test>;party=calling;screen=yes;privacy=off' \
		'P-Preferred-Identity: <sip:boss@example.test>' \
		'Identity: ZmFrZSBzaWduYXR1cmU;info=<https://partner.test/cert.pem>;alg=ES256;ppt=shaken' \
		'Identity-Info: <https://partner.test/cert.pem>;alg=rsa-sha1' \
		'Diversion: <sip:boss@example.test>;reason=unconditional' \
		'History-Info: <sip:boss@example.test>;index=1'
	se_send "identity headers from outside: the request passes, 200" "${TLSARGS[@]}" \
		--var CALLID=$ID "$RUN/ids.sip" --expect 200
	local q=() counts i
	for h in "${hs[@]}"; do q+=(--count-header "$h"); done
	mapfile -t counts < <(se_inspect "$RUN/node.rec" --call-id "$ID" "${q[@]}")
	for i in "${!hs[@]}"; do
		se_eq "${hs[i]} from outside: removed before the node" 0 "${counts[i]:-missing}"
	done
	se_nomatch "none of them in the node's raw copy" \
		'^(remote-party-id|p-preferred-identity|identity|identity-info|diversion|history-info) *:' \
		"$(se_inspect "$RUN/node.rec" --call-id "$ID" --raw | tr 'A-Z' 'a-z')"

	# the trust marker in a partner's response to a node's request
	N=$((N + 1)) ID=trust-out-$N-$$
	se_send "node MESSAGE to partner.test (its 200 carries ms-edge-proxy-message-trust x2): 200" \
		"${NODE[@]}" --var CALLID=$ID "$SCEN/message.sip" --var RURI=sip:bob@partner.test \
		--var FROM=sip:alice@example.test --expect 200 --out "$RUN/trust-resp.out"
	se_nomatch "ms-edge-proxy-message-trust from outside: removed from the 200 the node got" \
		'ms-edge-proxy-message-trust' \
		"$(se_inspect "$RUN/trust-resp.out" --call-id "$ID" --status 200 --raw | tr 'A-Z' 'a-z')"
}

# ================================================= 4. rate caps

# burst NAME CERT ADDR TEMPLATE... : 100 MESSAGEs at 50/s from ADDR; sets
# N200, N503 and MAX200: what a cap of 5/s with a burst of 5 lets through
# in the time the burst took (+1 s), plus 2 for the edges
burst() {
	local name=$1 cert=$2 addr=$3 t0=${EPOCHREALTIME/./} secs
	shift 3
	tls_from "$addr" "$cert"
	rm -f "$RUN/$name.out"
	timeout 30 "${PEER[@]}" send "${TLSARGS[@]}" --pipeline --interval 0.02 --timeout 20 \
		--out "$RUN/$name.out" "$@" >"$RUN/$name.send" 2>&1
	secs=$(( (${EPOCHREALTIME/./} - t0) / 1000000 + 1 ))
	N200=$(se_count "$RUN/$name.out" --status 200)
	N503=$(se_count "$RUN/$name.out" --status 503)
	MAX200=$((5 + 5 * secs + 2))
	note "$name: $N200 x 200, $N503 x 503 in less than $secs s"
}

case_rate_allowed() {
	# From u@a1.partner.test, u@a2.partner.test, ... : one bucket, the entry's
	sed 's/^From: .*/From: <sip:u@a${SEQ}.partner.test>;tag=${TAG}/' "$SCEN/message.sip" \
		>"$RUN/rate-sub.sip"
	burst rate-allowed partner "$NET.21" --repeat 100 "$RUN/rate-sub.sip"
	se_eq "rate, allowed entry: 100 answered" 100 $((N200 + N503))
	se_check "rate, allowed entry (rate 5) and a fresh subdomain per request: 5..$MAX200 pass ($N200)" \
		[ "$N200" -ge 5 -a "$N200" -le "$MAX200" ]
	se_wait_log "rate, allowed entry: logged rate_limited" \
		'event=inbound_rejected reason=rate_limited status=503 '
}

case_rate_discovered() {
	# 20 discovered domains, all proven by the same certificate (sip.open.test)
	local i t=()
	for i in $(seq 20); do
		sed "s/^From: .*/From: <sip:u@d$i.disc.test>;tag=\${TAG}/" "$SCEN/message.sip" \
			>"$RUN/rate-d$i.sip"
		t+=("$RUN/rate-d$i.sip")
	done
	sleep 1.1       # a fresh second for the log and the buckets
	burst rate-disc open "$NET.26" --repeat 5 "${t[@]}"
	se_eq "rate, discovered: 100 answered" 100 $((N200 + N503))
	se_check "rate, 20 discovered domains proven by one certificate (5/s): 5..$MAX200 pass ($N200)" \
		[ "$N200" -ge 5 -a "$N200" -le "$MAX200" ]
}

# ================================================= 5. reload

# Two nodes, imp2 (priority 1, the second in the list) gets the new
# requests; 10 INVITEs and 10 MESSAGEs wait at imp2 (180, no final);
# SIGHUP with imp2 gone: the node list is one shorter than the index the
# transactions toward imp2 held.
two_nodes() {
	local imp2=",
            { name = \"imp2\"; address = \"$NET.12\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 45062; } ); routing = true; priority = 1; }"
	[ "$1" = 1 ] && imp2=
	se_write_conf internal="{
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 2; }$imp2 );
  health = { interval = 0; };
}" federation="{
  allowed_networks = [ \"$PEERNET\" ];
  allowed = ( { domain = \"partner.test\"; peer = \"sip.partner.test\"; port = 5061; } );
}" limits="{ transaction_timeout = 8; invite_timeout = 8; }"
}

case_reload() {
	local pid n out=$RUN/reload-partner.out
	se_serve imp2 "$NET.12:5062" --respond 180 --timeout 900
	tls_from "$NET.21" partner
	rm -f "$out"
	timeout 40 "${PEER[@]}" send "${TLSARGS[@]}" --pipeline --timeout 25 --out "$out" \
		--repeat 10 "$SCEN/invite.sip" "$SCEN/message.sip" >"$RUN/reload-partner.send" 2>&1 &
	pid=$!
	SE_PIDS+=("$pid")
	if wait_count 20 "$RUN/imp2.rec" --received; then
		ok "reload: 20 transactions open at imp2 (10 INVITE, 10 MESSAGE, 180 each)"
	else
		not_ok "reload: imp2 got $(se_count "$RUN/imp2.rec" --received) of 20 requests"
	fi
	two_nodes 1
	se_log_mark
	kill -HUP "$DAEMON_PID"
	se_wait_log "reload without imp2: result=ok" 'event=reload result=ok'
	se_daemon_alive "reload without imp2: sipedge survived"
	wait_pid "$pid" 30
	sed 's/^/#   /' "$RUN/reload-partner.send" | sort | uniq -c | head
	n=$(grep -cE '^STATUS (408|503) (INVITE|MESSAGE)$' "$RUN/reload-partner.send" || true)
	se_eq "reload: the partner got a final 408/503 for each of the 20" 20 "$n"
	se_eq "reload: its sender saw all of them" 0 "$WAIT_RC"
	# the transactions must know their node went away: not blame imp1, not
	# lose the name (307ba50 read past the shortened node list)
	local lines
	lines=$(se_log_lines 'event=node_unreachable' || true)
	se_check "reload: node_unreachable logged for the failed transactions" [ -n "$lines" ]
	se_nomatch "reload: each names imp2 or a removed node" \
		'.' "$(printf '%s\n' "$lines" | grep -vE ' node=(imp2|\(removed\)) ' || true)"
	se_daemon_alive "reload: sipedge still running"
	se_send "after the reload: a partner MESSAGE goes to imp1, 200" "${PARTNER[@]}" \
		"$SCEN/message.sip" --expect 200
}

# ================================================= run

# run_case FUNCTION : run one case, say how long it took. SE_TRUST_CASES
# (function names, space-separated) runs only those; a daemon phase none
# of whose cases is wanted is skipped.
run_case() {
	local t0=$SECONDS
	wanted "$1" || return 0
	"$1"
	note "$1: $((SECONDS - t0)) s"
}
wanted() {
	local c
	[ -z "${SE_TRUST_CASES:-}" ] && return 0
	for c; do [[ " $SE_TRUST_CASES " == *" $c "* ]] && return 0; done
	return 1
}
PHASE1=(case_injection case_branches case_guard_record_route case_guard_routes
        case_guard_contacts case_guard_dns case_foreign_route case_identity)

NODE_CONNS=0
if wanted "${PHASE1[@]}"; then
	conf_main
	se_start_daemon
	for c in "${PHASE1[@]}"; do run_case $c; done
	se_daemon_alive
	se_stop_daemon
	mv "$RUN/sipedge.log" "$RUN/sipedge.1.log"
fi

# rate caps: an allowed entry with rate 5, discovery at 5/s, no SRV match
# rule (every discovered domain names sip.open.test); health probes each
# second, imp3 never answers them
if wanted case_probe_forgery case_rate_allowed case_rate_discovered; then
	se_serve imp3 "$NET.13:5062" --respond 0 --timeout 900
	se_write_conf internal="{
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; },
            { name = \"imp3\"; address = \"$NET.13\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 55062; } ); routing = false; } );
  health = { interval = 1; timeout = 1; failures = 1; };
}" federation="{
  allowed_networks = [ \"$PEERNET\" ];
  discovery = true;
  srv_match = \"none\";
  allowed = ( { domain = \"partner.test\"; peer = \"sip.partner.test\"; port = 5061; rate = 5; } );
}" limits='{ rate_per_discovered_domain = 5; }'
	se_start_daemon
	SE_LOG_MARK=0           # a new log
	run_case case_probe_forgery
	se_log_mark
	run_case case_rate_allowed
	run_case case_rate_discovered
	se_daemon_alive
	se_stop_daemon
	mv "$RUN/sipedge.log" "$RUN/sipedge.2.log"
fi

if wanted case_reload; then
	two_nodes 2
	se_start_daemon
	SE_LOG_MARK=0
	run_case case_reload
	se_stop_daemon
fi
note "t-trust took $((SECONDS - T_START)) s"
se_done
