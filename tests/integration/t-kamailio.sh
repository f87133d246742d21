#!/bin/bash
# Interop with a real Kamailio (Debian kamailio + kamailio-tls-modules) as the
# remote federation edge sip.partner.test: the internal node (sipp) sends a
# MESSAGE and a SUBSCRIBE to bob@partner.test; the edge finds the partner by
# SRV (_sipfederationtls._tcp.partner.test, dnsmasq), connects with mutual
# TLS presenting edge.test's certificate, Kamailio (which requires and
# verifies a client certificate) answers 200 and the 200s reach the node.
# Kamailio's config templates are in tests/integration/kamailio/.
. "$(dirname "$0")/lib.sh"
se_need_kamailio sl
se_init 14
se_need sipp
note "$(kamailio -v 2>/dev/null | head -n 1), modules in $MPATH"
se_pki

# partner.test: SRV -> sip.partner.test:5061, sip.partner.test -> $NET.21
SRV=_sipfederationtls._tcp.partner.test
se_start_dns --srv-host="$SRV,sip.partner.test,5061,10,10"
# partner.test allowed, no peer and no static route: the edge must use SRV.
se_write_conf federation='{ allowed = ( { domain = "partner.test"; } ); }'

# Kamailio as sip.partner.test on $NET.21:5061 (TLS only, mutual TLS).
mkdir -p "$RUN/kamrun"
sed -e "s|@ADDR@|$NET.21|g" -e "s|@RUN@|$RUN|g" -e "s|@MPATH@|$MPATH|g" \
	"$KAMDIR/kamailio.cfg.in" >"$RUN/kamailio.cfg"
sed -e "s|@PKI@|$PKI|g" "$KAMDIR/tls.cfg.in" >"$RUN/tls.cfg"
kamailio -c -f "$RUN/kamailio.cfg" -Y "$RUN/kamrun" >"$RUN/kamailio-check.out" 2>&1 ||
	{ sed 's/^/#   /' "$RUN/kamailio-check.out"; se_bail "kamailio rejects kamailio.cfg"; }
# -DD: no daemon, the pid we start is Kamailio's main process; -E: log to stderr
se_bg kamailio kamailio -f "$RUN/kamailio.cfg" -DD -E -P "$RUN/kamailio.pid" \
	-Y "$RUN/kamrun" -m 64 -M 8
KAM_PID=$BG_PID
KAMLOG=$RUN/kamailio.out
if "${PEER[@]}" wait --listen "$NET.21:5061" --pid "$KAM_PID" --timeout 15; then
	ok "kamailio started (pid $KAM_PID), listening on tls:$NET.21:5061"
else
	sed 's/^/#   /' "$KAMLOG" | tail -n 20
	se_bail "kamailio did not start listening on $NET.21:5061 within 15s"
fi
se_start_daemon

# kam_uac NAME SCENARIO : the node (sipp) sends one request from the scenario
# to sip:bob@partner.test through the edge's internal listener; returns sipp's
# exit status (0 = got 200). Trace in $RUN/NAME.msg.
kam_uac() {
	( cd "$RUN" && exec timeout 30 sipp -sf "$SCEN/$2" -t t1 \
		-i "$NET.11" -p 5062 -s bob -key domain partner.test \
		-cid_str "%u-%p-$1@node.example.test" -m 1 -recv_timeout 10000 \
		-timeout 20 -nostdin -trace_msg -message_file "$RUN/$1.msg" \
		"$NET.2:5060" ) </dev/null >"$RUN/sipp-$1.out" 2>&1
}

# kam_msg METHOD : the whole METHOD request Kamailio received ($mb, CR removed)
kam_msg() {
	tr -d '\r' <"$KAMLOG" | awk -v m="$1" '
		$0 ~ ("KAM-MSG-BEGIN " m " ") { on = 1; next }
		$0 ~ ("^KAM-MSG-END " m " ") { on = 0 }
		on'
}
# kam_req METHOD : Kamailio's KAM-REQ summary line for METHOD
kam_req() { grep -a "KAM-REQ method=$1 " "$KAMLOG" | head -n 1; }

# wait_kam METHOD : bounded wait (5 s) for Kamailio to have logged METHOD
wait_kam() {
	local n=50
	while [ "$n" -gt 0 ] && ! grep -aq "^KAM-MSG-END $1 " "$KAMLOG"; do
		sleep 0.1; n=$((n - 1))
	done
}

for m in MESSAGE SUBSCRIBE; do
	scen=node-uac-message.xml
	[ "$m" = SUBSCRIBE ] && scen=kamailio-uac-subscribe.xml
	name=node-uac-${m,,}
	kam_uac "$name" "$scen"
	rc=$?
	se_eq "node's $m to bob@partner.test gets 200 (sipp exit status)" 0 "$rc"
	[ "$rc" -eq 0 ] || sed 's/^/#   /' "$RUN/sipp-$name.out" | tail -n 5
	se_eq "node: the $m 200 carries only the node's own Via" 1 \
		"$(se_inspect "$RUN/$name.msg" --received --status 200 --cseq-method "$m" --count-header Via)"

	# What Kamailio saw
	wait_kam "$m"
	req=$(kam_req "$m")
	msg=$(kam_msg "$m")
	if [ -n "$req" ] && [ -n "$msg" ]; then ok "kamailio received the $m"
	else not_ok "kamailio received the $m"; continue; fi
	note "$req"
	se_match "kamailio: $m request line is to bob@partner.test" \
		"^$m sip:bob@partner\\.test SIP/2\\.0\$" "$(printf '%s\n' "$msg" | head -n 1)"
	vias=$(printf '%s\n' "$msg" | grep -Ei '^(via|v)[[:space:]]*:' |
		sed -E 's/^[^:]*:[[:space:]]*//')
	se_eq "kamailio: $m has exactly 1 Via" 1 \
		"$(printf '%s\n' "$vias" | tr ',' '\n' | grep -c .)"
	se_match "kamailio: $m Via is the edge's (TLS edge.test:5061, branch z9hG4bKse)" \
		'^SIP/2\.0/TLS edge\.test:5061;(.*;)?branch=z9hG4bKse' "$vias"
	se_match "kamailio: $m top Via as parsed by Kamailio" \
		'via=\[SIP/2\.0/TLS edge\.test:5061;(.*;)?branch=z9hG4bKse[^]]*\]' "$req"
	se_match "kamailio: $m arrived over TLS" ' proto=tls ' "$req"
	se_match_all "kamailio: $m client certificate is edge.test's (test CA), verified" "$req" \
		'peer_cn=\[edge\.test\]' 'peer_san_dns=\[edge\.test\]' \
		'peer_issuer_cn=\[sipedge test federation CA\]' 'peer_verified=1( |$)'
	se_match "kamailio: $m TLS SNI was sip.partner.test" 'sni=\[sip\.partner\.test\]' "$req"
	se_nomatch "kamailio: no internal address ($NET.2, $NET.11) in the $m" \
		"$NETRE\\.(2|11)([^0-9]|\$)" "$msg"
done

# The edge found sip.partner.test by SRV.
se_match "dnsmasq: SRV query for $SRV" "query\\[SRV\\] $(re "$SRV") from" \
	"$(cat "$RUN/dnsmasq.log" 2>/dev/null)"
se_match "dnsmasq: A query for sip.partner.test" 'query\[A\] sip\.partner\.test from' \
	"$(cat "$RUN/dnsmasq.log" 2>/dev/null)"
note "kamailio saw the edge connect from $(grep -ao ' src=[0-9.]*:[0-9]*' "$KAMLOG" |
	sed 's/ src=//' | sort -u | tr '\n' ' ')"

se_daemon_alive
se_stop_daemon
se_kill "$KAM_PID" 10
note "kamailio (pid $KAM_PID) stopped, exit status $KILL_RC"
se_done
