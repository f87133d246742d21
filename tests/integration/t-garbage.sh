#!/bin/bash
# Robustness of the external listener: garbage, oversized and malformed
# messages are refused without harming the daemon or other peers.
. "$(dirname "$0")/lib.sh"
se_init 5
se_need sipp
se_pki
se_write_conf limits='{ max_message_size = 4096; }'
se_node_uas node-uas.xml
se_start_daemon

# 4 KB of random bytes (no CR/LF) ending in an empty line
{ head -c 16384 /dev/urandom | tr -d '\r\n' | head -c 4092; printf '\r\n\r\n'; } >"$RUN/garbage.bin"
se_send_any "4 KB of random bytes: connection closed or 400" 'CLOSED|STATUS 400' \
	"${PARTNER[@]}" --raw-file "$RUN/garbage.bin" --expect-close
se_daemon_alive

body=$(head -c 6000 /dev/zero | tr '\0' x)
se_send_any "6000-byte body over max_message_size 4096: closed or 513" 'CLOSED|STATUS 513' \
	"${PARTNER[@]}" "$SCEN/message.sip" --var BODY="$body" --expect-close
se_daemon_alive

se_send "request without Call-ID gets 400" "${PARTNER[@]}" "$SCEN/no-callid.sip" --expect 400
se_send "CRLFCRLF keep-alive gets a single CRLF back" "${PARTNER[@]}" \
	--raw-hex 0d0a0d0a --expect-pong --timeout 5

se_send "then a good peer's MESSAGE gets 200" "${PARTNER[@]}" "$SCEN/message.sip" --expect 200
se_daemon_alive
se_stop_daemon
se_done
