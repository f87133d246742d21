#!/bin/bash
# Least privilege (issue 7 item 7): started as root, sipedge binds (here a
# port below 1024), reads its keys, then runs as admin.user/admin.group for
# good; it refuses to run as root without them, or as a root account.
# Needs root (CI runs as root); skipped otherwise.
. "$(dirname "$0")/lib.sh"
se_init 26
[ "$(id -u)" = 0 ] || se_skip "needs root (binds port 506, switches user)"
se_need setpriv
id nobody >/dev/null 2>&1 && getent group nogroup >/dev/null || se_skip "no nobody/nogroup"
se_pki
NOBODY=$(id -u nobody) NOGROUP=$(getent group nogroup | cut -d: -f3)
LISTEN="(
  { zone = \"external\"; address = \"$NET.1\"; port = 506; transport = \"tls\"; },
  { zone = \"internal\"; address = \"$NET.2\"; port = 5060; transport = \"tcp\"; }
)"

# refused ADMIN REASON DESC : the daemon started as root exits 1 before
# serving, with event=startup_failed reason=REASON.
refused() {
	SE_AS_ROOT=1 se_write_conf listen="$LISTEN" admin="$1"
	timeout 10 "$SIPEDGE" -f -c "$RUN/edge.conf" </dev/null >"$RUN/refused.log" 2>&1
	se_eq "$3: exit status 1" 1 $?
	se_match "$3: event=startup_failed reason=$2" "event=startup_failed reason=$2 " \
		"$(cat "$RUN/refused.log")"
	se_nomatch "$3: never served (no event=startup)" 'event=startup ' "$(cat "$RUN/refused.log")"
}
refused '{ metrics_port = 0; }' root_without_user "root, admin.user empty"
refused '{ metrics_port = 0; user = "root"; }' user_is_root "admin.user = root"

# -t names a missing account with its line.
se_write_conf listen="$LISTEN" admin='{ metrics_port = 0; user = "no-such-user-sipedge"; group = "no-such-group-sipedge"; }'
out=$("$SIPEDGE" -t -c "$RUN/edge.conf" 2>&1)
se_match "-t: unknown user, with FILE:LINE" 'edge\.conf:[0-9]+: .*no such user .no-such-user-sipedge.' "$out"
se_match "-t: unknown group, with FILE:LINE" 'edge\.conf:[0-9]+: .*no such group .no-such-group-sipedge.' "$out"

# Runs as nobody:nogroup, with no supplementary groups, port 506 bound.
se_write_conf listen="$LISTEN" admin='{ metrics_port = 0; user = "nobody"; group = "nogroup"; }'
se_node_uas
se_start_daemon "$NET.1:506" "$NET.2:5060"
se_wait_log "event=privileges_dropped user=nobody group=nogroup" \
	"event=privileges_dropped user=nobody uid=$NOBODY group=nogroup gid=$NOGROUP"
st=/proc/$DAEMON_PID/status
se_match "real, effective, saved and fs uid are nobody's" \
	"^Uid:[[:space:]]+$NOBODY[[:space:]]+$NOBODY[[:space:]]+$NOBODY[[:space:]]+$NOBODY\$" "$(grep ^Uid: "$st")"
se_match "real, effective, saved and fs gid are nogroup's" \
	"^Gid:[[:space:]]+$NOGROUP[[:space:]]+$NOGROUP[[:space:]]+$NOGROUP[[:space:]]+$NOGROUP\$" "$(grep ^Gid: "$st")"
se_match "supplementary groups: nogroup only (root's are gone)" \
	"^Groups:[[:space:]]*$NOGROUP[[:space:]]*\$" "$(grep ^Groups: "$st")"
se_match "no capabilities left" '^CapEff:[[:space:]]+0+$' "$(grep ^CapEff: "$st")"
TLSARGS=(--connect "$NET.1:506" --bind "$NET.21" --tls --ca "$PKI/ca.crt" --sni edge.test
	--cert "$PKI/partner.crt" --key "$PKI/partner.key")
se_send "partner MESSAGE over port 506 reaches the node: 200" "${TLSARGS[@]}" \
	"$SCEN/message.sip" --expect 200
se_eq "the node got it" 1 "$(se_count "$RUN/node.msg" --received --method MESSAGE)"

# A reload runs as nobody: keys only root can read keep the running
# configuration (and the daemon); readable ones are taken.
chmod 600 "$PKI"/*.key     # as mkpki.sh makes them (se_pki opened them up)
se_log_mark
kill -HUP "$DAEMON_PID"
se_wait_log "reload with root-only keys: refused, old configuration kept" "event=reload result=failed .*Permission denied"
se_daemon_alive "alive after the refused reload"
se_send "still serving after the refused reload" "${TLSARGS[@]}" "$SCEN/message.sip" --expect 200
if setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$RUN/edge.conf"; then
	chmod 640 "$PKI"/*.key && chgrp nogroup "$PKI"/*.key
	se_log_mark
	kill -HUP "$DAEMON_PID"
	se_wait_log "reload with keys readable by group nogroup: applied" "event=reload result=ok"
	se_send "serving after the reload" "${TLSARGS[@]}" "$SCEN/message.sip" --expect 200
else
	note "$RUN is not readable by nobody: the successful reload is not tried"
fi
se_daemon_alive
se_stop_daemon
se_done
