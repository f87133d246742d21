#!/bin/bash
# A node nobody here wrote: the npm "sip" package (version pinned in
# tests/node/package.json and package-lock.json, installed by
# `contrib/install-deps --test` with `npm ci --prefix tests/node`) plays
# the internal node, tests/node/node-uas.js. A federated partner (mutual
# TLS) sends a MESSAGE and a SUBSCRIBE through the edge; the sip package
# answers 200 and both 200s come back to the partner; it then sends a
# NOTIFY in the subscription's dialog (Route = the edge's Record-Route
# entries, Request-URI = the partner's Contact), which the edge takes to
# the partner's server sip.partner.test:5061, and the partner's 200 comes
# back to the sip package.
. "$(dirname "$0")/lib.sh"
NODEDIR=$top_srcdir/tests/node
command -v node >/dev/null 2>&1 || se_skip "node is not installed (apt-get install nodejs npm)"
[ -f "$NODEDIR/node_modules/sip/sip.js" ] ||
	se_skip "tests/node/node_modules is missing (npm ci --prefix tests/node; contrib/install-deps --test does it)"
se_init 33
se_pki
se_start_dns
se_write_conf
se_tls_peer partner "$NET.21:5061" partner --respond 200
NODEREC=$RUN/node.rec
se_bg node-uas node "$NODEDIR/node-uas.js" --address "$NET.11" --port 5062 \
	--record "$NODEREC" --ready "$RUN/node-uas.ready" --timeout 60
NODE_PID=$BG_PID
"${PEER[@]}" wait --listen "$NET.11:5062" --file "$RUN/node-uas.ready" --pid "$NODE_PID" --timeout 15 ||
	{ cat "$RUN/node-uas.out"; se_bail "node-uas.js did not start"; }
ok "node-uas.js (npm sip $(node -p "require('$NODEDIR/node_modules/sip/package.json').version")) listens on $NET.11:5062"
se_start_daemon

# block FILE CALLID START-ERE : the last recorded message in FILE (sippeer
# record format) whose first line matches START-ERE and whose Call-ID is
# CALLID, CRs removed (awk and grep: no Python start-up to pay, the machine
# may be busy)
block() {
	tr -d '\r' <"$1" 2>/dev/null | awk -v id="$2" -v re="$3" '
	function flush() { if (hit && start ~ re) out = buf }
	/^=== sippeer / { flush(); buf = ""; start = ""; hit = 0; next }
	start == "" { start = $0 }
	{ buf = buf $0 "\n" }
	/^(Call-ID|i)[ \t]*:/ { v = $0; sub(/^[^:]*:[ \t]*/, "", v); if (v == id) hit = 1 }
	END { flush(); printf "%s", out }'
}
hdrs() { printf '%s\n' "$1" | awk 'NR > 1 && $0 == "" { exit } { print }' | grep -Eic "^($2)[ \t]*:"; }

id=npm-msg-$$
se_send "MESSAGE partner -> node: the sip package's 200 reaches the partner" \
	"${PARTNER[@]}" "$SCEN/message.sip" --var CALLID=$id --expect 200
r=$(block "$RUN/peer.out" $id '^SIP/2\.0 200 ')
se_eq "MESSAGE 200 at the partner: exactly its own Via" 1 "$(hdrs "$r" 'Via|v')"
m=$(block "$NODEREC" $id '^MESSAGE ')
se_match "the sip package got the MESSAGE, the edge's Via on top" \
	"^Via: SIP/2\\.0/TCP $NETRE\\.2:5060;(.*;)?branch=z9hG4bK" "$(grep -Ei '^(via|v):' <<<"$m" | head -n 1)"
se_match "... and the body as sent" '^hello from sippeer$' "$(tail -n 2 <<<"$m")"

id=npm-sub-$$
se_send "SUBSCRIBE partner -> node: the sip package's 200 reaches the partner" \
	"${PARTNER[@]}" --var CALLID=$id --expect 200 --msg 'SUBSCRIBE sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS ${LOCAL};branch=${BRANCH}
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=${TAG}
To: <sip:bob@example.test>
Call-ID: ${CALLID}
CSeq: 1 SUBSCRIBE
Contact: <sip:alice@sip.partner.test:5061;transport=tls>
Event: presence
Accept: application/pidf+xml
Supported: ms-benotify
Proxy-Require: ms-benotify
Expires: 60'
r=$(block "$RUN/peer.out" $id '^SIP/2\.0 200 ')
se_eq "SUBSCRIBE 200 at the partner: exactly its own Via" 1 "$(hdrs "$r" 'Via|v')"
se_match "SUBSCRIBE 200 at the partner: the node's Contact as edge.test (PAT)" \
	'^(Contact|m): *<sip:bob@edge\.test(:5061)?[;>]' "$(grep -Ei '^(contact|m):' <<<"$r")"
n=0
while [ $n -lt 50 ] && ! grep -q '^200 NOTIFY' "$NODEREC.notify" 2>/dev/null; do
	sleep 0.1; n=$((n + 1))
done
m=$(block "$RUN/partner.rec" $id '^NOTIFY ')
se_match "the partner's server got the sip package's NOTIFY, Request-URI = the partner's Contact" \
	'^NOTIFY sip:alice@sip\.partner\.test:5061;transport=tls SIP/2\.0$' "$(head -n 1 <<<"$m")"
se_eq "NOTIFY at the partner: one Via (the edge's), no Route left" "1 0" \
	"$(hdrs "$m" 'Via|v') $(hdrs "$m" 'Route')"
se_match "NOTIFY at the partner: the pidf body" '<basic>open</basic>' "$m"
se_eq "the partner's 200 to the NOTIFY came back to the sip package" "200 NOTIFY" \
	"$(head -n 1 "$NODEREC.notify" 2>/dev/null)"

se_daemon_alive
se_stop_daemon
se_done
