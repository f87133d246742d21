#!/bin/bash
# Interop with a real Kamailio 5.6 (Debian kamailio + kamailio-tls-modules)
# as the partner's edge sip.partner.test (issue 13; config template
# kamailio/partner-edge.cfg.in):
#  A. keep-alives: Kamailio's dispatcher pings sip:edge.test:5061 with
#     OPTIONS every second while NO node is up; the edge answers 200 itself
#     and Kamailio brings the edge's destination up and keeps it up.
#  B. RFC 5923 connection reuse, counted from both sides: a node's MESSAGE
#     for partner.test goes to the SRV target sip.partner.test:5061 over a
#     connection the edge dials, never over an unrelated inbound connection
#     of that partner (UAs whose certificate names sip.partner.test: one
#     without alias, one with alias for another port; one with alias for
#     sip.partner.test:5061 whose certificate does not name it; and
#     Kamailio's own keep-alive connection, no alias);
#  C. when Kamailio relayed a request with ";alias" in a Via whose sent-by
#     is sip.partner.test:5061, the node's MESSAGE comes back over that very
#     connection (Kamailio sees it from the edge's listener address).
. "$(dirname "$0")/lib.sh"
se_need_kamailio dispatcher
command -v kamcmd >/dev/null 2>&1 || se_skip "kamcmd is not installed (package kamailio)"
se_init 32
se_need ss
note "$(kamailio -v 2>/dev/null | head -n 1), modules in $MPATH"
se_pki

SRV=_sipfederationtls._tcp.partner.test
se_start_dns --srv-host="$SRV,sip.partner.test,5061,10,10"
# partner.test by SRV (no fixed peer); the one node is never there: health
# probes every second mark it down.
se_write_conf federation='{ allowed = ( { domain = "partner.test"; } ); }' \
	"internal={
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; } );
  health = { interval = 1; timeout = 1; failures = 1; };
}"

CTL=$RUN/kamctl.sock
if [ ${#CTL} -gt 100 ]; then           # sun_path is 108 bytes
	CTLDIR=$(mktemp -d /tmp/sipedge-kamctl.XXXXXX)
	CTL=$CTLDIR/kamctl.sock
	trap 'rm -rf "$CTLDIR"; se_done' EXIT
fi
mkdir -p "$RUN/kamrun"
sed -e "s|@ADDR@|$NET.21|g" -e "s|@EDGE@|$NET.1|g" -e "s|@RUN@|$RUN|g" \
	-e "s|@MPATH@|$MPATH|g" -e "s|@CTL@|$CTL|g" \
	"$KAMDIR/partner-edge.cfg.in" >"$RUN/kamailio.cfg"
sed -e "s|@PKI@|$PKI|g" "$KAMDIR/tls.cfg.in" >"$RUN/tls.cfg"
# the edge's destination, inactive (flags 1) until a ping succeeds
echo "1 sip:edge.test:5061;transport=tls 1" >"$RUN/dispatcher.list"
kamailio -c -f "$RUN/kamailio.cfg" -Y "$RUN/kamrun" >"$RUN/kamailio-check.out" 2>&1 ||
	{ sed 's/^/#   /' "$RUN/kamailio-check.out"; se_bail "kamailio rejects kamailio.cfg"; }
KAMLOG=$RUN/kamailio.out

se_start_daemon
se_wait_log "the node is down (health probes, nothing listens on $NET.11:5062)" \
	'event=node_down' 'imp1'

se_bg kamailio kamailio -f "$RUN/kamailio.cfg" -DD -E -P "$RUN/kamailio.pid" \
	-Y "$RUN/kamrun" -m 64 -M 8
KAM_PID=$BG_PID
if "${PEER[@]}" wait --listen "$NET.21:5061" --listen "$NET.21:5070" --pid "$KAM_PID" --timeout 15; then
	ok "kamailio started (pid $KAM_PID): tls:$NET.21:5061, tcp:$NET.21:5070"
else
	sed 's/^/#   /' "$KAMLOG" | tail -n 20
	se_bail "kamailio did not start listening within 15s"
fi

# ---- A: keep-alives answered by the edge while no node is up
se_log_mark
n=0
while [ $n -lt 100 ] && ! grep -aq 'KAM-DS-UP' "$KAMLOG"; do sleep 0.1; n=$((n + 1)); done
se_match "A: Kamailio's dispatcher brought sip:edge.test:5061 up (event_route dispatcher:dst-up)" \
	'KAM-DS-UP sip:edge\.test:5061;transport=tls' "$(grep -a 'KAM-DS-' "$KAMLOG")"
sleep 3         # three more rounds of pings
ds=$(timeout 5 kamcmd -s "unix:$CTL" dispatcher.list 2>&1)
se_match "A: ... and keeps it up: dispatcher.list says FLAGS: AP (active, probing)" \
	'FLAGS: AP' "$(grep -A3 'URI: sip:edge.test:5061' <<<"$ds" | tr '\n' ' ')"
se_nomatch "A: ... never down" 'KAM-DS-DOWN' "$(grep -a 'KAM-DS-' "$KAMLOG")"
pings=$(se_log_lines 'event=options_answered' | wc -l)
se_match "A: the edge answered Kamailio's OPTIONS itself ($pings in ~3 s)" '^([3-9]|[1-9][0-9]+)$' "$pings"
se_eq "A: no node was up all along" 0 "$(grep -c 'event=node_up' "$RUN/sipedge.log")"
timeout 5 kamcmd -s "unix:$CTL" dispatcher.ping_active 0 >/dev/null 2>&1

# node_msg NAME : the node sends one MESSAGE to bob@partner.test (200 wanted)
node_msg() {
	se_send "$1" "${NODE[@]}" --var CALLID="kam-$2-$$" --msg 'MESSAGE sip:bob@partner.test SIP/2.0
Via: SIP/2.0/TCP ${LOCAL};branch=${BRANCH}
Max-Forwards: 70
From: <sip:carol@example.test>;tag=${TAG}
To: <sip:bob@partner.test>
Call-ID: ${CALLID}
CSeq: 1 MESSAGE
Content-Type: text/plain

hello partner' --expect 200
}
# ua NAME BIND VIA-SENT-BY VIA-PARAMS [CERT] : a partner UA (certificate
# CERT, default partner: names sip.partner.test) sends a MESSAGE in and
# keeps its connection 8 s, answering 200 to whatever request comes in on
# it (ANSWERED lines).
ua() {
	local cert=${5:-partner}
	se_bg "$1" "${PEER[@]}" send --connect "$NET.1:5061" --bind "$2" --tls \
		--ca "$PKI/ca.crt" --sni edge.test --cert "$PKI/$cert.crt" --key "$PKI/$cert.key" \
		--timeout 20 --hold 8 --msg "MESSAGE sip:bob@example.test SIP/2.0
Via: SIP/2.0/TLS $3;branch=\${BRANCH}$4
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=\${TAG}
To: <sip:bob@example.test>
Call-ID: ua-$1-$$
CSeq: 1 MESSAGE
Content-Type: text/plain

hi"
}
# established : TCP connections between the edge ($NET.1) and Kamailio
# ($NET.21, tcp_source_ipv4), counted once, from Kamailio's end
established() {
	ss -Htn state established 2>/dev/null |
		awk -v k="$NET.21:" -v e="$NET.1:" 'index($3, k) == 1 && index($4, e) == 1' | wc -l
}

# ---- B: unrelated inbound connections of the partner are not reused
ua ua1 "$NET.22" "$NET.22:5061" ''               # no alias
UA1=$BG_PID
ua ua2 "$NET.23" "sip.partner.test:5070" ';alias' # alias, another port
UA2=$BG_PID
# alias for sip.partner.test:5061 exactly, but a certificate that does not
# name sip.partner.test (its MESSAGE is refused: From is not proven)
ua ua3 "$NET.25" "sip.partner.test:5061" ';alias' otherdom
UA3=$BG_PID
n=0
while [ $n -lt 50 ] && ! { grep -q '^STATUS' "$RUN/ua1.out" && grep -q '^STATUS' "$RUN/ua2.out" &&
	grep -q '^STATUS' "$RUN/ua3.out"; }; do
	sleep 0.1; n=$((n + 1))
done
se_match "B: the three partner UAs got an answer and hold their connections" \
	'^STATUS [0-9]+ MESSAGE STATUS [0-9]+ MESSAGE STATUS 403 MESSAGE $' \
	"$(cat "$RUN/ua1.out" "$RUN/ua2.out" "$RUN/ua3.out" | grep '^STATUS' | tr '\n' ' ')"
se_eq "B: Kamailio's keep-alive connection (no alias) is still open: 1 connection edge <-> Kamailio" 1 "$(established)"
node_msg "B: node's MESSAGE to bob@partner.test gets 200" b
src=$(grep -a "KAM-REQ method=MESSAGE" "$KAMLOG" | tail -n 1 | sed -nE 's/.* src=([^ ]*) .*/\1/p')
se_match "B: Kamailio got it on a connection the edge dialled to sip.partner.test:5061 (from $src, not the edge's listener)" \
	"^[0-9.]+:[0-9]+\$" "$src"
se_nomatch "B: ... i.e. not from $NET.1:5061" "^$NETRE\\.1:5061\$" "$src"
se_eq "B: now 2 connections edge <-> Kamailio (the keep-alive one, the edge's own)" 2 "$(established)"
sleep 0.5
se_eq "B: no partner UA got the node's request" "" \
	"$(grep -h '^ANSWERED' "$RUN/ua1.out" "$RUN/ua2.out" "$RUN/ua3.out")"
se_kill "$UA1" 2; se_kill "$UA2" 2; se_kill "$UA3" 2

# ---- C: Kamailio's own connection with ;alias sip.partner.test:5061 is reused
se_stop_daemon          # no connection left from B
se_start_daemon
n=0
while [ $n -lt 50 ] && [ "$(established)" != 0 ]; do sleep 0.1; n=$((n + 1)); done
se_eq "C: no connection edge <-> Kamailio after the restart" 0 "$(established)"
se_send "C: a partner UA's MESSAGE relayed by Kamailio (Via ;alias) gets an answer from the edge" \
	--connect "$NET.21:5070" --bind "$NET.24" --var CALLID="kam-c-in-$$" --msg 'MESSAGE sip:bob@example.test SIP/2.0
Via: SIP/2.0/TCP ${LOCAL};branch=${BRANCH}
Max-Forwards: 70
From: <sip:alice@partner.test>;tag=${TAG}
To: <sip:bob@example.test>
Call-ID: ${CALLID}
CSeq: 1 MESSAGE
Content-Type: text/plain

via kamailio'
note "C: the edge answered Kamailio's relay with: $(grep '^STATUS' "$RUN/send.out")"
se_match "C: Kamailio's Via carried ;alias with sent-by sip.partner.test:5061 (as the edge's answer shows)" \
	'via=\[SIP/2\.0/TLS sip\.partner\.test:5061;[^]]*;alias[];]' \
	"$(grep -a "KAM-RPL .*cid=kam-c-in-$$" "$KAMLOG")"
se_eq "C: one connection edge <-> Kamailio (Kamailio dialled it)" 1 "$(established)"
node_msg "C: node's MESSAGE to bob@partner.test gets 200" c
src=$(grep -a "KAM-REQ method=MESSAGE ruri=sip:bob@partner.test" "$KAMLOG" | tail -n 1 | sed -nE 's/.* src=([^ ]*) .*/\1/p')
se_eq "C: Kamailio got it on its own connection, from the edge's listener" "$NET.1:5061" "$src"
se_eq "C: still one connection edge <-> Kamailio: reused, none dialled" 1 "$(established)"

se_daemon_alive
se_stop_daemon
se_kill "$KAM_PID" 10
note "kamailio (pid $KAM_PID) stopped, exit status $KILL_RC"
se_done
