#!/bin/bash
# What the edge does on its own for Lync / Skype for Business partners
# (issue 13; the replays themselves are t-lync.sh):
#  A. OPTIONS addressed to the edge itself (edge.test, edge.test:5061, a
#     listener address:port), an Access Edge's keep-alive: answered 200 by
#     the edge with Allow and Supported, never seen by a node, counted in
#     sipedge_options_answered_total (admin.metrics_port); an OPTIONS for
#     a user goes to the node as before;
#  B. Proxy-Require with an extension the edge does not support: 420 with
#     Unsupported listing only that one (ms-benotify is supported);
#  C. federation.stamp_trust: a partner found by discovery (SRV and
#     certificate) is stamped ms-source-type=AutoFederation toward the
#     node, an allowed one DirectPartner;
#  D. a partner's ms-edge-proxy-message-trust in a response never reaches
#     the node.
. "$(dirname "$0")/lib.sh"
se_init 35
se_pki
LYNC=$SCEN/lync
MPORT=9161
se_start_dns --srv-host="_sipfederationtls._tcp.partner.test,sip.partner.test,5061,10,10" \
	--srv-host="_sipfederationtls._tcp.other.test,sip.other.test,5061,10,10" \
	--host-record="sip.other.test,$NET.22"
se_write_conf \
	"federation={
  allowed = ( { domain = \"partner.test\"; peer = \"sip.partner.test\"; port = 5061; } );
  static_routes = ( { pattern = \".test.partner.*\"; next_hop = \"sip.partner.test\"; port = 5061; } );
  stamp_trust = true;
  discovery = true;
}" "admin={ metrics_address = \"$NET.1\"; metrics_port = $MPORT; }"
NODEREC=$RUN/node.rec
SENT=$RUN/partner.sent
se_serve node "$NET.11:5062" --respond 200 --timeout 120 \
	--contact "sip:bob@$NET.11:5062;transport=tcp"
# The partner's own server: its responses carry a trust header of its own.
se_tls_peer partner "$NET.21:5061" partner --respond 200 \
	--respond-header 'ms-edge-proxy-message-trust: ms-source-type=InternalUser;ms-ep-fqdn=pool.partner.test;ms-source-verified-user=verified;ms-source-network=intranet'
se_start_daemon "$NET.1:5061" "$NET.2:5060" "$NET.1:$MPORT"
TRUST='ms-source-type=DirectPartner;ms-ep-fqdn=edge.test;ms-source-verified-user=verified;ms-source-network=federation'

# sent_cids : "METHOD CALL-ID" of each request the partner sent, in order
sent_cids() {
	awk '/^=== sippeer sent / { start = 1; next }
	     start { m = $1; start = 0 }
	     /^(Call-ID|i)[ \t]*:/ { v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/\r$/, "", v); print m, v }' "$SENT"
}

# seen FILE CALLID [METHOD] : how many requests (METHOD ones) with that
# Call-ID the sippeer record FILE holds (awk: no Python start-up to pay)
seen() {
	awk -v id="$2" -v m="${3:-[A-Z]+}" '
	function flush() { if (hit && start ~ ("^" m " ")) n++ }
	/^=== sippeer / { flush(); hit = 0; start = ""; next }
	{ l = $0; sub(/\r$/, "", l) }
	start == "" { start = l; next }
	l ~ /^(Call-ID|i)[ \t]*:/ { v = l; sub(/^[^:]*:[ \t]*/, "", v); if (v == id) hit = 1 }
	END { flush(); print n + 0 }' "$1" 2>/dev/null || echo 0
}

# ---- C: a discovered partner (open federation: SRV + certificate) is
# stamped AutoFederation, an allowed one (a fixed peer) DirectPartner
se_tls_client otherdom
se_send "C: SUBSCRIBE from alice@other.test (discovered, certificate sip.other.test) gets 200" \
	"${TLSARGS[@]/#$NET.21/$NET.22}" --sent-out "$SENT" --expect 200 --msg \
	"$(sed 's/alice@partner\.test/alice@other.test/; s/sip\.partner\.test/sip.other.test/' "$LYNC/subscribe-presence.sip")"
CID_AUTO=$(sent_cids | awk '$1 == "SUBSCRIBE" { c = $2 } END { print c }')
se_eq "C: the node got ms-edge-proxy-message-trust ms-source-type=AutoFederation" \
	"ms-edge-proxy-message-trust: ${TRUST/DirectPartner/AutoFederation}" \
	"$(awk -v id="$CID_AUTO" '/^=== sippeer/ { on = 0 } $0 ~ ("^Call-ID: " id) { on = 1 } on' "$NODEREC" |
	   tr -d '\r' | grep -i '^ms-edge-proxy-message-trust:')"

se_send "C: the same SUBSCRIBE from alice@partner.test (allowed, peer sip.partner.test) gets 200" \
	"${PARTNER[@]}" --sent-out "$SENT" --expect 200 --msg "$(cat "$LYNC/subscribe-presence.sip")"
CID_DIRECT=$(sent_cids | awk '$1 == "SUBSCRIBE" { c = $2 } END { print c }')
se_eq "C: ... stamped ms-source-type=DirectPartner" "ms-edge-proxy-message-trust: $TRUST" \
	"$(awk -v id="$CID_DIRECT" '/^=== sippeer/ { on = 0 } $0 ~ ("^Call-ID: " id) { on = 1 } on' "$NODEREC" |
	   tr -d '\r' | grep -i '^ms-edge-proxy-message-trust:')"

# ---- D: a partner's response never brings its trust header inside
se_send "D: MESSAGE node -> bob@partner.test: the partner's 200 reaches the node" "${NODE[@]}" \
	--msg 'MESSAGE sip:bob@partner.test SIP/2.0
Via: SIP/2.0/TCP ${LOCAL};branch=${BRANCH}
Max-Forwards: 70
From: <sip:carol@example.test>;tag=${TAG}
To: <sip:bob@partner.test>
Call-ID: ${CALLID}
CSeq: 1 MESSAGE
Content-Type: text/plain

hi' --var CALLID=lync-g-$$ --out "$RUN/node-responses.out" --expect 200
se_eq "D: the partner's server (which puts ms-edge-proxy-message-trust in its 200) got it" 1 \
	"$(seen "$RUN/partner.rec" lync-g-$$ MESSAGE)"
se_eq "D: ... and the 200 at the node has no ms-edge-proxy-message-trust" 0 \
	"$(grep -aci '^ms-edge-proxy-message-trust' "$RUN/node-responses.out")"

# ---- B: a Proxy-Require the edge does not support
id=lync-420-$$
se_send "B: Proxy-Require: ms-benotify, x-unknown-ext (two lines) gets 420" "${PARTNER[@]}" \
	--msg "SUBSCRIBE sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS \${LOCAL};branch=\${BRANCH}
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=\${TAG}
To: <sip:bob@example.test>
Call-ID: $id
CSeq: 1 SUBSCRIBE
Contact: <sip:alice@sip.partner.test:5061;transport=tls>
Event: presence
Supported: ms-benotify
Proxy-Require: ms-benotify
Proxy-Require: x-unknown-ext" --expect 420 --expect-header 'Unsupported: ^x-unknown-ext$'
se_eq "B: the node never saw it" 0 "$(seen "$NODEREC" $id)"
# INVITEs the edge refuses itself (420 here, 483 for Max-Forwards: 0):
# the partner ACKs the refusal (RFC 3261 17.1.1.3; sippeer sends it on the
# same branch). That ACK ends the edge's own transaction: it is absorbed,
# never forwarded to a node, and not logged as a rejection of its own
# (issue 13).
id=lync-420-inv-$$
se_log_mark
se_send "B: INVITE with Proxy-Require: x-unknown-ext gets 420 (and is ACKed)" "${PARTNER[@]}" \
	--var CALLID=$id --expect 420 --expect-header 'Unsupported: ^x-unknown-ext$' --msg "$(
	sed 's/^CSeq: .*/&\nProxy-Require: x-unknown-ext/' "$SCEN/invite.sip")"
id2=lync-483-inv-$$
se_send "B: INVITE with Max-Forwards: 0 gets 483 (and is ACKed)" "${PARTNER[@]}" \
	"$SCEN/invite.sip" --var CALLID=$id2 --var MF=0 --expect 483
sleep 0.5       # the ACKs have no answer to wait for
se_eq "B: one notice-level rejection logged for each call (the INVITE's), none for an ACK" \
	"INVITE INVITE" "$(se_log_lines "call_id=($id|$id2)( |\$)" | grep -E ' notice ' | grep -oE 'method=[A-Z]+' | sed 's/method=//' | xargs)"
se_eq "B: the node saw none of the two INVITEs" 0 "$(( $(seen "$NODEREC" $id INVITE) + $(seen "$NODEREC" $id2 INVITE) ))"
se_eq "B: ... and none of their ACKs (the edge's own transactions)" 0 \
	"$(( $(seen "$NODEREC" $id ACK) + $(seen "$NODEREC" $id2 ACK) ))"

# ---- A: OPTIONS for the edge itself (a partner's keep-alive)
metric() {
	curl -s --noproxy '*' -m 5 "http://$NET.1:$MPORT/metrics" |
		awk -v n="$1" '$1 == n || index($1, n "{") == 1 { s += $NF } END { print s + 0 }'
}
before=$(metric sipedge_options_answered_total)
opt() {
	printf 'OPTIONS %s SIP/2.0\nVia: SIP/2.0/TLS ${LOCAL};branch=${BRANCH}\nMax-Forwards: 70\nFrom: <sip:sip.partner.test>;tag=${TAG}\nTo: <%s>\nCall-ID: %s\nCSeq: 1 OPTIONS\nAccept: application/sdp\n' "$1" "$1" "$2"
}
T1="sip:edge.test:5061;transport=tls" T2="sip:$NET.1:5061;transport=tls" T3="sip:edge.test"
se_send "A: OPTIONS $T1, $T2 and $T3 (one connection) each answered 200 by the edge, with Allow and Supported" \
	"${PARTNER[@]}" --msg "$(opt "$T1" lync-opt1-$$)" --msg "$(opt "$T2" lync-opt2-$$)" \
	--msg "$(opt "$T3" lync-opt3-$$)" --expect 200 \
	--expect-header 'Allow: BENOTIFY' --expect-header 'Allow: SERVICE' \
	--expect-header 'Supported: ^ms-benotify$'
se_eq "A: 3 answers" 3 "$(grep -c '^STATUS 200 OPTIONS' <<<"$SEND_OUT")"
se_eq "A: the node never saw any of them" 0 \
	"$(( $(seen "$NODEREC" lync-opt1-$$) + $(seen "$NODEREC" lync-opt2-$$) + $(seen "$NODEREC" lync-opt3-$$) ))"
after=$(metric sipedge_options_answered_total)
se_eq "A: sipedge_options_answered_total rose by 3 ($before -> $after)" 3 "$((after - before))"
id=lync-opt-user-$$
se_send "A: OPTIONS sip:bob@example.test (a user) goes to the node: 200" \
	"${PARTNER[@]}" --msg "$(opt sip:bob@example.test $id)" --expect 200
se_eq "A: ... and the node got that one" 1 "$(seen "$NODEREC" $id OPTIONS)"
se_eq "A: ... not counted as answered by the edge" "$after" "$(metric sipedge_options_answered_total)"

se_daemon_alive
se_stop_daemon
se_done
