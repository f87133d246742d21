#!/bin/bash
# log.target = "journal": each event reaches the journal with its pairs as
# fields (EVENT=, DOMAIN=, ...), so journalctl can select by them; stderr
# in the foreground stays as it is. The daemon part runs everywhere; the
# journal part needs a running systemd-journald and journalctl, and the
# test is a SKIP (exit 77) without them, after the daemon part.
. "$(dirname "$0")/lib.sh"
se_init 41
se_pki
IDENT=sipedge-t-journal-$$-$RANDOM     # this run's entries, and no other's
se_write_conf log="{ level = \"debug\"; target = \"journal\"; ident = \"$IDENT\"; }"

OUT=$(timeout 10 "$SIPEDGE" -tT -c "$RUN/edge.conf" 2>/dev/null)
se_match "-tT shows log.target" '^  target = "journal";$' "$OUT"

se_start_daemon
id=j-foreign-$$
se_send "MESSAGE for a non-local domain gets 403" "${PARTNER[@]}" "$SCEN/message.sip" \
	--var CALLID=$id --var RURI=sip:bob@elsewhere.test --expect 403
se_wait_log "foreground: the refusal is still on stderr" \
	"event=inbound_rejected reason=not_local_domain .*call_id=$id"
LINE=$(grep "event=inbound_rejected .*call_id=$id" "$RUN/sipedge.log" | head -1)
DOMAIN=$(printf '%s\n' "$LINE" | sed -n 's/.* domain=\([^ ]*\).*/\1/p')
se_check "the event line has a domain= pair" [ -n "$DOMAIN" ]
se_daemon_alive

why=
if ! command -v journalctl >/dev/null; then
	why="journalctl is not installed"
elif [ ! -S /run/systemd/journal/socket ]; then
	why="no systemd-journald here (/run/systemd/journal/socket is missing; systemctl is-system-running: $(systemctl is-system-running 2>&1 | head -1))"
fi
if [ -n "$why" ]; then
	OUT=$(timeout 10 "$SIPEDGE" -t -c "$RUN/edge.conf" 2>&1)
	se_match "-t warns that no journald runs here" \
		'edge\.conf: warning: log\.target is "journal" but no systemd-journald runs here' "$OUT"
	note "the daemon logged to syslog instead (a line the journal does not take is not lost)"
	se_stop_daemon
	[ "$SE_FAIL" -eq 0 ] || se_done      # a failure above is not a SKIP
	se_skip "$why: the journal fields are not checked (tests/unit/test_log checks the field names and the entries with a fake journal)"
fi

# journald writes asynchronously: poll for a few seconds.
q=(journalctl --no-pager -o json SYSLOG_IDENTIFIER="$IDENT" EVENT=inbound_rejected)
for _ in $(seq 50); do
	J=$("${q[@]}" 2>/dev/null | grep -F "$id")
	[ -n "$J" ] && break
	sleep 0.2
done
se_check "journalctl SYSLOG_IDENTIFIER=$IDENT EVENT=inbound_rejected finds the refusal" [ -n "$J" ]
field() { printf '%s\n' "$J" | head -1 | python3 -c "import json,sys; print(json.load(sys.stdin).get('$1',''))"; }
se_eq "EVENT= the event name" inbound_rejected "$(field EVENT)"
se_eq "DOMAIN= the domain of the line" "$DOMAIN" "$(field DOMAIN)"
se_eq "REASON= not_local_domain" not_local_domain "$(field REASON)"
se_eq "STATUS= 403" 403 "$(field STATUS)"
se_eq "CALL_ID= the Call-ID" "$id" "$(field CALL_ID)"
se_eq "PRIORITY= notice (5)" 5 "$(field PRIORITY)"
se_match "MESSAGE= the same text as the syslog line" "^event=inbound_rejected reason=not_local_domain " "$(field MESSAGE)"
J2=$(journalctl --no-pager -o json SYSLOG_IDENTIFIER="$IDENT" EVENT=inbound_rejected DOMAIN="$DOMAIN" 2>/dev/null | grep -cF "$id")
se_check "selecting by DOMAIN=$DOMAIN finds it too" [ "${J2:-0}" -ge 1 ]
se_stop_daemon
se_done
