#!/bin/bash
# Outbound static routes (Cisco IM&P notation) against DNS SRV, and backups:
#   1. static.test has both a static route and an SRV record: the static
#      next hop gets the request, the SRV target is neither looked up nor dialled
#   2. bk.test: primary sip.primary.test, backup sip.backup.test (listed
#      first, backup = true). The backup is used only while the primary is
#      unreachable; a refused primary is skipped for limits.unreachable_hold
#      seconds, then used again; both down: 504 1046 naming both.
. "$(dirname "$0")/lib.sh"
se_init 13
se_pki

SRV=_sipfederationtls._tcp
HOLD=2                       # limits.unreachable_hold
WHY_1046='Failed to connect to a federated peer server'

# .21 sip.partner.test (static next hop of static.test)
# .22 sip.static.test  (SRV target of static.test: must stay untouched)
# .23 sip.primary.test, .24 sip.backup.test (static routes of bk.test)
se_start_dns --local=/test/ \
	--host-record="sip.static.test,$NET.22" \
	--host-record="sip.primary.test,$NET.23" --host-record="sip.backup.test,$NET.24" \
	--srv-host="$SRV.static.test,sip.static.test,5061"
se_write_conf federation='{
  allowed = ( { domain = "static.test"; }, { domain = "bk.test"; } );
  static_routes = (
    { pattern = ".test.static.*"; next_hop = "sip.partner.test"; port = 5061; },
    { pattern = ".test.bk.*"; next_hop = "sip.backup.test"; port = 5061; backup = true; },
    { pattern = ".test.bk.*"; next_hop = "sip.primary.test"; port = 5061; } );
}' limits="{ unreachable_hold = $HOLD; }"

se_tls_peer partner "$NET.21:5061" partner
se_tls_peer srvtarget "$NET.22:5061" partner
se_tls_peer primary "$NET.23:5061" primary
primary_pid=$BG_PID
se_tls_peer backup "$NET.24:5061" backup
backup_pid=$BG_PID
se_start_daemon

# out DESC CALLID DOMAIN CODE : imp1 sends MESSAGE sip:bob@DOMAIN, expects CODE
out() {
	se_send "$1" "${NODE[@]}" "$SCEN/message.sip" --var RURI="sip:bob@$3" \
		--var FROM=sip:alice@example.test --var CALLID="$2" --expect "$4" --timeout 15
}
hdr() { se_inspect "$RUN/peer.out" --call-id "$1" --index -1 --header "$2"; }
conns() { cat "$RUN/$1.conns" 2>/dev/null || echo 0; }
got() { se_count "$RUN/$1.rec" --method MESSAGE --call-id "$2"; }
now_ms() { echo $(( ${EPOCHREALTIME/./} / 1000 )); }
# next_second : sleep until 50 ms after the wall clock's next whole second
next_second() {
	local d=$(( 1050000 - 10#${EPOCHREALTIME#*.} ))
	sleep "$(printf '%d.%06d' $((d / 1000000)) $((d % 1000000)))"
}

# ------------------------------------------------------------ 1. static vs SRV
id=outsrv-static-$$
out "static.test (static route and SRV record): node gets 200" "$id" static.test 200
se_eq "static.test: the static next hop sip.partner.test received it" 1 "$(got partner "$id")"
se_eq "static.test: the SRV target was not dialled" 0 "$(conns srvtarget)"
se_eq "static.test: its SRV record was not even looked up" 0 \
	"$(grep -c "query\[SRV\] $(re "$SRV.static.test") " "$RUN/dnsmasq.log")"

# ------------------------------------------------------------ 2. backup
id=outsrv-bk-up-$$
out "bk.test, primary up: node gets 200" "$id" bk.test 200
se_eq "bk.test: the primary received it (backup listed first)" 1 "$(got primary "$id")"
se_eq "bk.test: the backup was not dialled" 0 "$(conns backup)"

# The hold counts whole seconds: fail just after one ticks, then bring the
# primary back at once; it stays held until second t_fail_s + HOLD.
se_kill "$primary_pid"
id=outsrv-bk-down-$$
se_log_mark
next_second
t_fail_s=${EPOCHREALTIME%.*} t_fail=$(now_ms)
out "bk.test, primary refuses: node still gets 200" "$id" bk.test 200
se_tls_peer primary2 "$NET.23:5061" primary
primary2_pid=$BG_PID
id2=outsrv-bk-held-$$
out "bk.test, primary back but within unreachable_hold: 200" "$id2" bk.test 200
t_held_s=${EPOCHREALTIME%.*}
se_eq "bk.test: the backup received the first" 1 "$(got backup "$id")"
se_wait_log "bk.test: the primary was tried and refused" \
	"event=connection_closed .*peer=$NETRE\\.23:5061 target=sip\\.primary\\.test reason=\"connect to $NETRE\\.23:5061: Connection refused\""
if [ "$t_held_s" -lt $((t_fail_s + HOLD)) ]; then
	se_eq "bk.test held ($(( $(now_ms) - t_fail )) ms): the backup received it" 1 "$(got backup "$id2")"
	se_eq "bk.test held: the primary was not dialled" 0 "$(conns primary2)"
else
	note "bk.test held: skipped, answered at second $t_held_s, hold ended at $((t_fail_s + HOLD))"
fi

# after the hold the primary is used again
left=$(( t_fail + HOLD * 1000 + 1000 - $(now_ms) ))
[ "$left" -gt 0 ] && sleep "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))"
id=outsrv-bk-back-$$
out "bk.test, primary back after unreachable_hold + 1 s: 200" "$id" bk.test 200
se_eq "bk.test: the primary received it again" 1 "$(got primary2 "$id")"
se_eq "bk.test: the backup did not" 0 "$(got backup "$id")"

# both down: the last failure (the backup's) decides
se_kill "$primary2_pid"
se_kill "$backup_pid"
id=outsrv-bk-alldown-$$
se_log_mark
out "bk.test, primary and backup refuse: 504" "$id" bk.test 504
se_eq "bk.test: ms-diagnostics 1046 naming primary then backup" \
	"1046;reason=\"$WHY_1046\";domain=\"bk.test\";fqdn1=\"sip.primary.test:5061\";fqdn2=\"sip.backup.test:5061\";tls-target=\"sip.backup.test\";source=\"edge.test\"" \
	"$(hdr "$id" ms-diagnostics)"
se_wait_log "bk.test: logged outbound_failed reason=connect_failed code=1046 status=504" \
	"event=outbound_failed reason=connect_failed detail=\"connect to $NETRE\\.24:5061: Connection refused\" code=1046 status=504 domain=bk\\.test target=sip\\.backup\\.test:5061 .*call_id=$id "

se_daemon_alive
se_stop_daemon
se_done
