#!/bin/bash
# Lync / Skype for Business Access Edge replays (issue 13). A federated
# partner (sip.partner.test, mutual TLS) sends what an Access Edge relays
# for its Lync users, built from Microsoft's open specifications ([MS-SIP],
# [MS-PRES] 2.2.2.4.1 and 4.11, [MS-SIPRE]; templates in
# scenarios/lync/): presence and category SUBSCRIBEs with ms-benotify in
# Proxy-Require, BENOTIFY both ways, SERVICE with a category publication,
# an INVITE to a GRUU with maddr and EPIDs, a 57 KB multipart/related
# MESSAGE, CRLF keep-alives between messages on one connection, repeated
# and compact headers. The node (sippeer serve) records the bytes it got;
# `sippeer compare` checks that every header line, parameter and body byte
# arrived exactly as sent except the documented rewrites (the edge's Via
# and Record-Route, Max-Forwards - 1, the edge's Route entries consumed,
# PAT, identity headers removed, ms-edge-proxy-message-trust replaced by
# the edge's own: federation.stamp_trust). What the edge does on its own
# for such partners (OPTIONS, 420, trust stamps) is t-lync-edge.sh.
. "$(dirname "$0")/lib.sh"
se_init 30
se_pki
LYNC=$SCEN/lync
se_start_dns --srv-host="_sipfederationtls._tcp.partner.test,sip.partner.test,5061,10,10"
se_write_conf \
	"federation={
  allowed = ( { domain = \"partner.test\"; peer = \"sip.partner.test\"; port = 5061; } );
  static_routes = ( { pattern = \".test.partner.*\"; next_hop = \"sip.partner.test\"; port = 5061; } );
  stamp_trust = true;
}" \
	'limits={ max_message_size = 65535; }'
NODEREC=$RUN/node.rec
SENT=$RUN/partner.sent
# The node answers 200 (to BENOTIFY nothing).
se_serve node "$NET.11:5062" --respond 200 --timeout 120 \
	--contact "sip:bob@$NET.11:5062;transport=tcp"
# The partner's own server side, where requests from the node go.
se_tls_peer partner "$NET.21:5061" partner --respond 200

se_start_daemon

EDGE_VIA="^SIP/2\\.0/TCP $NETRE\\.2:5060;(.*;)?branch=z9hG4bK"
TRUST='ms-source-type=DirectPartner;ms-ep-fqdn=edge.test;ms-source-verified-user=verified;ms-source-network=federation'
REMOVED=(--removed Remote-Party-ID --removed P-Preferred-Identity --removed Identity
	 --removed Identity-Info --removed Diversion --removed History-Info
	 --removed ms-edge-proxy-message-trust)

# sent_cids : "METHOD CALL-ID" of each request the partner sent, in order
sent_cids() {
	awk '/^=== sippeer sent / { start = 1; next }
	     start { m = $1; start = 0 }
	     /^(Call-ID|i)[ \t]*:/ { v = $0; sub(/^[^:]*:[ \t]*/, "", v); sub(/\r$/, "", v); print m, v }' "$SENT"
}

# compare DESC CALLID METHOD [compare args] : the node got it byte-exact
# modulo the documented rewrites, with one ms-edge-proxy-message-trust:
# the edge's.
compare() {
	local desc=$1 cid=$2 m=$3 out; shift 3
	out=$("${PEER[@]}" compare "$SENT" "$NODEREC" --call-id "$cid" --method "$m" \
		--edge-via "$EDGE_VIA" "${REMOVED[@]}" --added ms-edge-proxy-message-trust \
		--want "ms-edge-proxy-message-trust: $TRUST" "$@" 2>&1)
	if [ $? -eq 0 ]; then ok "$desc [$(printf '%s\n' "$out" | tail -n 1)]"
	else not_ok "$desc"; printf '%s\n' "$out" | sed 's/^/#   /'; fi
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

# ---- a 57 KB multipart/related MESSAGE (an IM with an inline picture)
python3 - "$RUN/message-multipart.sip" <<'EOF'
import base64, random, sys
rnd = random.Random(13)
img = base64.encodebytes(bytes(rnd.randrange(256) for _ in range(42000))).decode()
head = """MESSAGE sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS ${LOCAL};branch=${BRANCH}
Max-Forwards: 69
From: "Alice" <sip:alice@partner.test>;tag=${TAG};epid=d6277c8671
To: <sip:bob@example.test>;epid=5ba7e8a65a
Call-ID: ${CALLID}
CSeq: 1 MESSAGE
User-Agent: UCCAPI/15.0.4420.1017 OC/15.0.4420.1017 (Microsoft Lync)
Ms-IM-Format: text/html; charset=UTF-8; ms-body=PGI+aGk8L2I+
Content-Type: multipart/related;type="text/html";boundary="----=_NextPart_000_0013_01D0A1B2.C3D4E5F6"
"""
b = "----=_NextPart_000_0013_01D0A1B2.C3D4E5F6"
body = ("--%s\nContent-Type: text/html; charset=UTF-8\n\n"
        "<html><body><b>picture:</b><img src=\"cid:part1@partner.test\"></body></html>\n"
        "--%s\nContent-Type: image/png\nContent-ID: <part1@partner.test>\n"
        "Content-Transfer-Encoding: base64\n\n%s--%s--\n") % (b, b, img, b)
# sippeer's template reader ends lines in CRLF
assert 56 * 1024 <= len(body.replace("\n", "\r\n")) <= 58 * 1024, len(body)
open(sys.argv[1], "w").write(head + "\n" + body)
EOF

# ---- A: one connection, a CRLF keep-alive before each message
se_send "A: SUBSCRIBE presence, SUBSCRIBE categories, SUBSCRIBE roaming-contacts, SERVICE, 57 KB MESSAGE on one connection, CRLF pings between: all 200" \
	"${PARTNER[@]}" "$LYNC/subscribe-presence.sip" "$LYNC/subscribe-categories.sip" \
	"$LYNC/subscribe-roaming.sip" "$LYNC/service-publish.sip" "$RUN/message-multipart.sip" \
	--keepalive --sent-out "$SENT" --var PARTNER_IP="$NET.21" --expect 200 --timeout 20
se_eq "A: a CRLF pong for each of the 4 pings" 4 "$(grep -c '^PONG$' <<<"$SEND_OUT")"
se_eq "A: 5 final responses, all 200" "5 5" \
	"$(grep -c '^STATUS ' <<<"$SEND_OUT") $(grep -c '^STATUS 200 ' <<<"$SEND_OUT")"
read -r _ CID_PRES _ CID_CAT _ CID_ROAM _ CID_SVC _ CID_MSG <<<"$(sent_cids | head -n 5 | xargs)"
se_eq "A: presence SUBSCRIBE's 200 at the partner: its own 2 Via, nothing of the edge's" 2 \
	"$(se_inspect "$RUN/peer.out" --call-id "$CID_PRES" --status 200 --count-header Via)"
compare "A: presence SUBSCRIBE ([MS-PRES] 4.11; Proxy-Require ms-benotify, 3 Supported lines, 2 Via, partner Record-Route, EPID) byte-exact at the node" \
	"$CID_PRES" SUBSCRIBE
compare "A: category SUBSCRIBE ([MS-PRES] 2.2.2.4.1; msrtc-event-categories, Require, batchSub body) byte-exact at the node" \
	"$CID_CAT" SUBSCRIBE
compare "A: roaming-contacts SUBSCRIBE (compact v/f/t/i/m/o/k, maddr, +sip.instance, odd spacing and a tab) byte-exact at the node" \
	"$CID_ROAM" SUBSCRIBE
compare "A: SERVICE (msrtc-category-publish+xml, UTF-8 body; RPID, PPI and foreign trust header removed) byte-exact at the node" \
	"$CID_SVC" SERVICE
compare "A: 57 KB multipart/related MESSAGE byte-exact at the node" "$CID_MSG" MESSAGE
se_eq "A: three Supported lines stay three at the node (raw lines of the presence SUBSCRIBE)" 3 \
	"$(awk -v id="$CID_PRES" '/^=== sippeer/ { on = 0 } $0 ~ ("^Call-ID: " id) { on = 1 } { print on ":" $0 }' "$NODEREC" |
	   grep -ac '^1:Supported: ')"

# ---- B: INVITE to a GRUU, maddr in Contact, identity headers, then ACK/BYE
se_send "B: INVITE to a GRUU Request-URI (opaque=user:epid:...;gruu), ACK, BYE: 200s" \
	"${PARTNER[@]}" "$LYNC/invite-gruu.sip" --dialog --sent-out "$SENT" \
	--var PARTNER_IP="$NET.21" --expect 200
CID_INV=$(sent_cids | awk '$1 == "INVITE" { c = $2 } END { print c }')
compare "B: INVITE (GRUU, EPIDs on From/To, maddr, 7 Supported lines, SDP; History-Info, Diversion, Identity removed) byte-exact at the node" \
	"$CID_INV" INVITE
se_match "B: BYE at node: Request-URI is the node's Contact again (PAT)" \
	"^BYE sip:bob@$NETRE\\.11:5062;transport=tcp SIP/2\\.0\$" \
	"$(se_inspect "$NODEREC" --received --method BYE --call-id "$CID_INV" --start-line)"

# ---- C: BENOTIFY partner -> node, in the presence SUBSCRIBE's dialog
# The partner's route set: the edge's Record-Route entries of the 200
# (reversed); the Request-URI: the 200's Contact (the node's, PAT-mapped).
eval "$(python3 - "$TOOLS" "$RUN/peer.out" "$SENT" "$CID_PRES" <<'EOF'
import re, shlex, sys
sys.path.insert(0, sys.argv[1])
import sippeer
ok = [m for d, m in sippeer.load_messages(sys.argv[2]) if not m.is_request and
      m.status == 200 and m.get("Call-ID") == sys.argv[4] and m.cseq()[1] == "SUBSCRIBE"]
req = [m for d, m in sippeer.load_messages(sys.argv[3]) if m.is_request and
       m.get("Call-ID") == sys.argv[4]]
if not ok or not req:       # no 200 (a failure reported above)
    print("P_CONTACT= P_TTAG= P_FTAG= P_ROUTES=")
    sys.exit(0)
r, q = ok[-1], req[0]
tag = lambda v: (re.search(r";tag=([^;]+)", v or "") or [None, ""])[1]
print("P_CONTACT=" + shlex.quote(sippeer.uri_of((r.values("Contact") or [""])[0])))
print("P_TTAG=" + shlex.quote(tag(r.get("To"))))
print("P_FTAG=" + shlex.quote(tag(q.get("From"))))
print("P_ROUTES=" + shlex.quote("\n".join("Route: " + v for v in
      reversed(r.values("Record-Route")) if "sipedge" in v)))
EOF
)"
note "partner's in-dialog target $P_CONTACT, routes: $(echo $P_ROUTES)"
se_match "C: the node's Contact reached the partner as edge.test (PAT)" '^sip:bob@edge\.test(:5061)?[;>]' "$P_CONTACT"
se_send "C: BENOTIFY partner -> node (in dialog, Route to the edge, PAT Request-URI): no response" \
	"${PARTNER[@]}" "$LYNC/benotify.sip" --sent-out "$SENT" --var CALLID="$CID_PRES" \
	--var RURI="$P_CONTACT" --var ROUTES="$P_ROUTES" --var FTAG="$P_FTAG" --var TTAG="$P_TTAG" \
	--no-response --grace 1
compare "C: BENOTIFY at node byte-exact (Route entries of the edge consumed, Request-URI mapped back)" \
	"$CID_PRES" BENOTIFY --own-route sipedge \
	--map "$P_CONTACT" "sip:bob@$NET.11:5062;transport=tcp"

# ---- C2: the same from a strict router (RFC 3261 16.4): the Request-URI
# is the edge's own Record-Route value, the node's Contact the last Route
P_FIRST=$(head -n 1 <<<"$P_ROUTES" | sed -E 's/^Route: <([^>]*)>.*/\1/')
P_STRICT=$(tail -n +2 <<<"$P_ROUTES"; echo "Route: <$P_CONTACT>")
se_send "C2: BENOTIFY partner -> node, strict routing (Request-URI = the edge's Record-Route): no response" \
	"${PARTNER[@]}" "$LYNC/benotify.sip" --sent-out "$SENT" --var CALLID="$CID_PRES" \
	--var RURI="$P_FIRST" --var ROUTES="$P_STRICT" --var FTAG="$P_FTAG" --var TTAG="$P_TTAG" \
	--no-response --grace 1
compare "C2: strict-routed BENOTIFY at node byte-exact (last Route became the Request-URI, mapped back)" \
	"$CID_PRES" BENOTIFY --nth 1 --own-route sipedge --own-route "^<$(re "$P_CONTACT")>\$" \
	--map "$P_FIRST" "sip:bob@$NET.11:5062;transport=tcp"

# ---- D: BENOTIFY node -> partner, same dialog, the node's route set
N_ROUTES=$(se_inspect "$NODEREC" --received --method SUBSCRIBE --call-id "$CID_PRES" --values Record-Route | sed 's/^/Route: /')
cat >"$RUN/node-benotify.sip" <<EOF
BENOTIFY sip:alice@sip.partner.test:5061;transport=tls SIP/2.0
Via: SIP/2.0/TCP $NET.11:5062;branch=\${BRANCH}
Max-Forwards: 70
$N_ROUTES
From: <sip:bob@example.test>;tag=$P_TTAG;epid=5ba7e8a65a
To: "Alice" <sip:alice@partner.test>;tag=$P_FTAG;epid=d6277c8671
Call-ID: $CID_PRES
CSeq: 1 BENOTIFY
Contact: <sip:bob@$NET.11:5062;transport=tcp>
Event: presence
Subscription-State: active;expires=3600
Content-Type: application/msrtc-event-categories+xml

<categories xmlns="http://schemas.microsoft.com/2006/09/sip/categories" uri="sip:bob@example.test"><category name="state" instance="0"><state xmlns="http://schemas.microsoft.com/2006/09/sip/state" xsi:type="aggregateState" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><availability>3500</availability></state></category></categories>
EOF
se_send "D: BENOTIFY node -> partner (in dialog, the node's route set): no response" \
	"${NODE[@]}" "$RUN/node-benotify.sip" --sent-out "$RUN/node.sent" --no-response --grace 1
n=0
while [ $n -lt 30 ] && [ "$(seen "$RUN/partner.rec" "$CID_PRES" BENOTIFY)" = 0 ]; do
	sleep 0.1; n=$((n + 1))
done
se_eq "D: the partner's server got the BENOTIFY" 1 "$(seen "$RUN/partner.rec" "$CID_PRES" BENOTIFY)"
out=$("${PEER[@]}" compare "$RUN/node.sent" "$RUN/partner.rec" --call-id "$CID_PRES" \
	--method BENOTIFY --edge-via '^SIP/2\.0/TLS edge\.test:5061;(.*;)?branch=z9hG4bK' \
	--own-route sipedge --removed Via --map "$NET.11:5062;transport=tcp" "edge.test:5061;transport=tls" 2>&1)
if [ $? -eq 0 ]; then ok "D: BENOTIFY at the partner byte-exact but for the edge's rewrites [$(tail -n 1 <<<"$out")]"
else not_ok "D: BENOTIFY at the partner byte-exact but for the edge's rewrites"; sed 's/^/#   /' <<<"$out"; fi

se_daemon_alive
se_stop_daemon
se_done
