#!/bin/bash
# Outbound routing by DNS SRV: a node (internal listener) sends MESSAGE to a
# federated domain; the edge applies the outbound policy, looks up
# _sipfederationtls._tcp.<domain>, keeps the targets named <label>.<domain>
# (srv_match = exact), tries them by priority with mutual TLS and answers the
# node 504 with complete ms-diagnostics when none works.
#   1. outbound policy: blocked (suffix) and not allowed -> 403 1027
#   2. SRV priorities: refused first target, wrong-name first target, both up
#   3. failures: all down (1046, bounded), plain TCP (1047), wrong name
#      (1010), subdomain target (1009, Cisco TAC wording), no SRV (1008)
#   4. connection reuse: 100 MESSAGEs from two nodes, one TLS connection
#      (also: an allowed entry's peer/port routes without SRV)
# Static routes and backups: t-outbound-backup.sh.
. "$(dirname "$0")/lib.sh"
se_init 12
se_pki

SRV=_sipfederationtls._tcp
HOLD=5                       # limits.unreachable_hold (ASan and a loaded CI take seconds per request)
WHY_1008='Unable to resolve DNS SRV record'
WHY_1009='No match for domain in DNS SRV results'
WHY_1010='Certificate trust with another server could not be established'
WHY_1027='Cannot route this type of SIP request to or from federated partners'
WHY_1046='Failed to connect to a federated peer server'
WHY_1047='Failed to complete TLS negotiation with a federated peer server'

# Addresses: .21 sip.partner.test:5071 (peer of partner.test, no SRV)
#   srv.test   -> sip.srv.test (prio 10, .22), sip2.srv.test (prio 20, .23)
#   down.test  -> sip.down.test (10, .24), sip2.down.test (20, .25): nothing listens
#   plain.test -> sip.plain.test (.26): plain TCP, no TLS
#   wrong.test -> sip.wrong.test (.27): certificate for other.partner.test
#   tac.test   -> vcse.sub.tac.test (.28): not <label>.tac.test
#   stranger.test (not allowed) -> sip.stranger.test (.29); blocked.test's
#   peer sip.blocked.test (.29): the trap, must never see a connection
#   nosrv.test: no SRV record (NXDOMAIN)
se_start_dns --local=/test/ \
	--host-record="sip.srv.test,$NET.22" --host-record="sip2.srv.test,$NET.23" \
	--host-record="sip.down.test,$NET.24" --host-record="sip2.down.test,$NET.25" \
	--host-record="sip.plain.test,$NET.26" --host-record="sip.wrong.test,$NET.27" \
	--host-record="vcse.sub.tac.test,$NET.28" \
	--host-record="sip.stranger.test,$NET.29" --host-record="sip.blocked.test,$NET.29" \
	--srv-host="$SRV.srv.test,sip.srv.test,5061,10,0" \
	--srv-host="$SRV.srv.test,sip2.srv.test,5061,20,0" \
	--srv-host="$SRV.down.test,sip.down.test,5061,10,0" \
	--srv-host="$SRV.down.test,sip2.down.test,5061,20,0" \
	--srv-host="$SRV.plain.test,sip.plain.test,5061" \
	--srv-host="$SRV.wrong.test,sip.wrong.test,5061" \
	--srv-host="$SRV.tac.test,vcse.sub.tac.test,5061" \
	--srv-host="$SRV.stranger.test,sip.stranger.test,5061"

se_write_conf internal="{
  domains = [ \"example.test\" ];
  nodes = ( { name = \"imp1\"; address = \"$NET.11\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 5061; } ); routing = true; priority = 1; },
            { name = \"imp2\"; address = \"$NET.12\"; transport = \"tcp\";
              ports = ( { internal = 5062; public = 45062; } ); routing = false; } );
  health = { interval = 0; };
}" federation='{
  discovery = false;
  srv_match = "exact";
  blocked = [ "blocked.test" ];
  allowed = ( { domain = "partner.test"; peer = "sip.partner.test"; port = 5071; },
              { domain = "blocked.test"; peer = "sip.blocked.test"; port = 5061; },
              { domain = "srv.test"; }, { domain = "down.test"; }, { domain = "plain.test"; },
              { domain = "wrong.test"; }, { domain = "tac.test"; }, { domain = "nosrv.test"; } );
}' limits="{ unreachable_hold = $HOLD; handshake_timeout = 2; }"

se_tls_peer partner "$NET.21:5071" partner
se_tls_peer srv2 "$NET.23:5061" srv2
se_serve plain "$NET.26:5061" --timeout 300
se_tls_peer wrong "$NET.27:5061" wrongsan
se_tls_peer vcse "$NET.28:5061" vcse
se_tls_peer trap "$NET.29:5061" partner
se_start_daemon

# out DESC CALLID DOMAIN CODE : imp1 sends MESSAGE sip:bob@DOMAIN, expects CODE
out() {
	se_send "$1" "${NODE[@]}" "$SCEN/message.sip" --var RURI="sip:bob@$3" \
		--var FROM=sip:alice@example.test --var CALLID="$2" --expect "$4" --timeout 15
}
# hdr CALLID NAME : that header of the final response the node got
hdr() { se_inspect "$RUN/peer.out" --call-id "$1" --index -1 --header "$2"; }
conns() { cat "$RUN/$1.conns" 2>/dev/null || echo 0; }
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
# hold_over T0_MS : sleep until a failure marked at T0_MS is no longer held
hold_over() {
	local left=$(( $1 + HOLD * 1000 + 1000 - $(now_ms) ))
	[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
	return 0
}
# next_second : sleep until 50 ms after the wall clock's next whole second
next_second() {
	local d=$(( 1050000 - 10#${EPOCHREALTIME#*.} ))
	sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
}
srv_queried() { grep -c "query\[SRV\] $(re "$SRV.$1") " "$RUN/dnsmasq.log"; }

# ------------------------------------------------------------ 1. policy
for dom in blocked.test sub.blocked.test; do
	id=outsrv-blocked-$dom-$$
	se_log_mark
	out "$dom (blocked, suffix) gets 403" "$id" "$dom" 403
	se_eq "$dom: ms-diagnostics 1027" \
		"1027;reason=\"$WHY_1027\";domain=\"$dom\";source=\"edge.test\"" \
		"$(hdr "$id" ms-diagnostics)"
	se_wait_log "$dom: logged reason=domain_blocked code=1027 status=403" \
		"event=outbound_failed reason=domain_blocked code=1027 status=403 domain=$(re "$dom") .*call_id=$id "
done
id=outsrv-stranger-$$
se_log_mark
out "stranger.test (not allowed, discovery off) gets 403" "$id" stranger.test 403
se_eq "stranger.test: ms-diagnostics 1027" \
	"1027;reason=\"$WHY_1027\";domain=\"stranger.test\";source=\"edge.test\"" \
	"$(hdr "$id" ms-diagnostics)"
se_wait_log "stranger.test: logged reason=domain_not_federated code=1027 status=403" \
	"event=outbound_failed reason=domain_not_federated code=1027 status=403 domain=stranger\\.test .*call_id=$id "
se_eq "refused domains: no SRV lookup for stranger.test" 0 "$(srv_queried stranger.test)"
se_eq "refused domains: their servers saw no connection" 0 "$(conns trap)"

# ------------------------------------------------------------ 2. SRV priorities
# a. sip.srv.test (priority 10) refuses the connection: sip2.srv.test gets it
id=outsrv-prio-refused-$$
se_log_mark
out "srv.test, first target refuses: node gets 200" "$id" srv.test 200
t_refused=$(now_ms)
se_has "srv.test: sip2.srv.test (priority 20) received the MESSAGE" "$RUN/srv2.rec" \
	--method MESSAGE --call-id "$id"
se_wait_log "srv.test: sip.srv.test (priority 10) was tried first and refused" \
	"event=connection_closed .*peer=$NETRE\\.22:5061 target=sip\\.srv\\.test reason=\"connect to $NETRE\\.22:5061: Connection refused\""
se_nomatch "srv.test: no outbound_failed logged" "event=outbound_failed" "$(se_log_lines "call_id=$id")"
# (b runs after section 3, once sip.srv.test's hold is over)

# ------------------------------------------------------------ 3. failures
# all targets down: 504 1046 at once, the last target decides; a second
# request right after finds both held (unreachable_hold) and is answered
# from memory. (The hold counts whole seconds: start just after one ticks.)
id=outsrv-down-$$ id2=outsrv-down-held-$$
se_log_mark
next_second
t0=$(now_ms)
out "down.test, every target refuses: 504" "$id" down.test 504
ms=$(( $(now_ms) - t0 ))
mark1=$SE_LOG_MARK; se_log_mark; mark2=$SE_LOG_MARK
out "down.test again within unreachable_hold: 504" "$id2" down.test 504
note "the second request was answered $(( $(now_ms) - t0 )) ms after the first was sent"
se_check "down.test: answered within 5 s (took $ms ms)" [ "$ms" -lt 5000 ]
diag_1046="1046;reason=\"$WHY_1046\";domain=\"down.test\";fqdn1=\"sip.down.test:5061\";fqdn2=\"sip2.down.test:5061\";tls-target=\"sip2.down.test\";source=\"edge.test\""
se_eq "down.test: ms-diagnostics 1046, both targets, tls-target the last" \
	"$diag_1046" "$(hdr "$id" ms-diagnostics)"
se_eq "down.test: Warning 399" "399 edge.test \"$WHY_1046\"" "$(hdr "$id" Warning)"
SE_LOG_MARK=$mark1
se_wait_log "down.test: logged outbound_failed reason=connect_failed code=1046 status=504" \
	"event=outbound_failed reason=connect_failed detail=\"connect to $NETRE\\.25:5061: Connection refused\" code=1046 status=504 domain=down\\.test target=sip2\\.down\\.test:5061 .*call_id=$id "
se_wait_log "down.test: the undelivered request's line ends with its conn= and txn=" \
	"event=outbound_failed reason=connect_failed .*call_id=$id method=[A-Z]+ conn=c[0-9]+ txn=t[0-9]+\$"
se_log_lines "event=connection_closed .*target=sip\\.down\\.test reason=\"connect to" >/dev/null
se_eq "down.test: sip.down.test was tried too" 0 $?
SE_LOG_MARK=$mark2
se_eq "down.test held: same ms-diagnostics" "$diag_1046" "$(hdr "$id2" ms-diagnostics)"
se_wait_log "down.test held: logged outbound_failed code=1046 status=504" \
	"event=outbound_failed reason=[a-z_]+ .*code=1046 status=504 domain=down\\.test .*call_id=$id2 "
se_nomatch "down.test held: no new connection attempt" "target=sip2?\\.down\\.test" \
	"$(se_log_lines "event=connection_closed")"

# TLS towards a plain TCP listener: 1047
id=outsrv-plain-$$
se_log_mark
out "plain.test, target speaks no TLS: 504" "$id" plain.test 504
se_eq "plain.test: ms-diagnostics 1047" \
	"1047;reason=\"$WHY_1047\";domain=\"plain.test\";fqdn1=\"sip.plain.test:5061\";tls-target=\"sip.plain.test\";source=\"edge.test\"" \
	"$(hdr "$id" ms-diagnostics)"
se_wait_log "plain.test: logged outbound_failed reason=tls_failed code=1047 status=504" \
	"event=outbound_failed reason=tls_failed detail=\"[^\"]+\" code=1047 status=504 domain=plain\\.test target=sip\\.plain\\.test:5061 .*call_id=$id "
se_eq "plain.test: the plain listener got a connection" 1 "$(conns plain)"
se_eq "plain.test: and no request" 0 "$(se_count "$RUN/plain.rec" --method MESSAGE)"

# the target's certificate names another host: 1010 with tls-target, PeerServer
id=outsrv-wrong-$$
se_log_mark
out "wrong.test, certificate for other.partner.test: 504" "$id" wrong.test 504
se_eq "wrong.test: ms-diagnostics 1010 with tls-target and PeerServer" \
	"1010;reason=\"$WHY_1010\";domain=\"wrong.test\";fqdn1=\"sip.wrong.test:5061\";tls-target=\"sip.wrong.test\";PeerServer=\"other.partner.test\";source=\"edge.test\"" \
	"$(hdr "$id" ms-diagnostics)"
se_wait_log "wrong.test: logged outbound_failed reason=certificate_name code=1010 status=504" \
	"event=outbound_failed reason=certificate_name detail=\"certificate does not name sip\\.wrong\\.test \\(it names: other\\.partner\\.test\\)\" code=1010 status=504 domain=wrong\\.test target=sip\\.wrong\\.test:5061 .*call_id=$id "
se_eq "wrong.test: the wrong server got no request" 0 "$(se_count "$RUN/wrong.rec" --method MESSAGE)"

# Cisco TAC parity: SRV points at vcse.sub.tac.test -> 1009, nothing dialled
id=outsrv-tac-$$
se_log_mark
out "tac.test, SRV target vcse.sub.tac.test: 504" "$id" tac.test 504
se_eq "tac.test: ms-diagnostics exactly as in the TAC note" \
	"1009;reason=\"$WHY_1009\";domain=\"tac.test\";fqdn1=\"vcse.sub.tac.test:5061\";source=\"edge.test\"" \
	"$(hdr "$id" ms-diagnostics)"
se_wait_log "tac.test: logged outbound_failed reason=srv_not_in_domain code=1009 status=504" \
	"event=outbound_failed reason=srv_not_in_domain code=1009 status=504 domain=tac\\.test .*call_id=$id "
se_eq "tac.test: vcse.sub.tac.test saw no connection" 0 "$(conns vcse)"

# no SRV record at all: 1008
id=outsrv-nosrv-$$
se_log_mark
out "nosrv.test, no SRV record: 504" "$id" nosrv.test 504
se_eq "nosrv.test: ms-diagnostics 1008" \
	"1008;reason=\"$WHY_1008\";domain=\"nosrv.test\";source=\"edge.test\"" \
	"$(hdr "$id" ms-diagnostics)"
se_wait_log "nosrv.test: logged outbound_failed reason=no_srv_record code=1008 status=504" \
	"event=outbound_failed reason=no_srv_record code=1008 status=504 domain=nosrv\\.test .*call_id=$id "
se_eq "nosrv.test: the SRV record was asked for" 1 "$(srv_queried nosrv.test)"

# ------------------------------------------------------------ 2. continued
# b. sip.srv.test answers with a certificate for other.partner.test
se_tls_peer srvwrong "$NET.22:5061" wrongsan
srvwrong_pid=$BG_PID
hold_over "$t_refused"
id=outsrv-prio-wrongname-$$
se_log_mark
out "srv.test, first target's certificate has the wrong name: node gets 200" "$id" srv.test 200
t_wrong=$(now_ms)
se_has "srv.test: sip2.srv.test received the MESSAGE" "$RUN/srv2.rec" --method MESSAGE --call-id "$id"
se_eq "srv.test: sip.srv.test (priority 10) was dialled first" 1 "$(conns srvwrong)"
se_eq "srv.test: and got no request" 0 "$(se_count "$RUN/srvwrong.rec" --method MESSAGE)"
se_wait_log "srv.test: its certificate was refused" \
	"event=tls_handshake_failed .*target=sip\\.srv\\.test reason=certificate_name detail=\"certificate does not name sip\\.srv\\.test \\(it names: other\\.partner\\.test\\)\""

# c. both up: priority 10 wins, although a connection to sip2 is open
se_kill "$srvwrong_pid"
se_tls_peer srv1 "$NET.22:5061" srv
hold_over "$t_wrong"
id=outsrv-prio-up-$$
out "srv.test, both targets up: node gets 200" "$id" srv.test 200
se_has "srv.test: sip.srv.test (priority 10) received the MESSAGE" "$RUN/srv1.rec" \
	--method MESSAGE --call-id "$id"
se_eq "srv.test: sip2.srv.test did not" 0 "$(se_count "$RUN/srv2.rec" --call-id "$id")"

# ------------------------------------------------------------ 4. reuse
# 2 nodes x 50 pipelined MESSAGEs to partner.test (allowed, peer on :5071)
N=50
tpl=(); for ((i = 0; i < N; i++)); do tpl+=("$SCEN/message.sip"); done
t0=$(now_ms)
pids=()
for n in 1 2; do        # imp1 sends from $NET.11, imp2 from $NET.12
	timeout 30 "${PEER[@]}" send --connect "$NET.2:5060" --bind "$NET.1$n" --pipeline \
		--timeout 20 --var RURI=sip:bob@partner.test --var FROM=sip:alice@example.test \
		--var BODY="outsrv reuse from imp$n" --expect 200 "${tpl[@]}" \
		>"$RUN/reuse-imp$n.out" 2>&1 &
	pids+=($!)
	SE_PIDS+=($!)
done
for n in 1 2; do
	wait "${pids[n - 1]}"
	se_eq "reuse: imp$n's sender succeeded" 0 $?
	se_eq "reuse: imp$n got $N x 200" "$N" "$(grep -c '^STATUS 200 MESSAGE$' "$RUN/reuse-imp$n.out")"
done
note "reuse: $((2 * N)) MESSAGEs answered in $(( $(now_ms) - t0 )) ms"
se_eq "reuse: sip.partner.test received $((2 * N)) MESSAGEs" $((2 * N)) \
	"$(se_count "$RUN/partner.rec" --method MESSAGE)"
se_eq "reuse: over ONE TLS connection" 1 "$(conns partner)"
se_eq "reuse: peer route, no SRV lookup for partner.test" 0 "$(srv_queried partner.test)"

se_daemon_alive
se_stop_daemon
se_done
