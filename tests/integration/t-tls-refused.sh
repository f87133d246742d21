#!/bin/bash
# Mutual TLS on the external listener: peers without an acceptable client
# certificate are refused (and logged); good peers keep working.
. "$(dirname "$0")/lib.sh"
se_init 4
se_need sipp
se_pki
se_write_conf
se_node_uas node-uas.xml
se_start_daemon

good_peer_ok() {
	se_send "afterwards a good peer's MESSAGE gets 200" "${PARTNER[@]}" \
		"$SCEN/message.sip" --expect 200
	se_daemon_alive
}

# refused CERT DESC : handshake with pki/CERT.crt fails, and is logged
refused() {
	se_log_mark
	se_tls_client "$1"
	se_send "$2: TLS handshake refused" "${TLSARGS[@]}" \
		--expect-handshake-failure "$SCEN/message.sip" --timeout 5
	se_wait_log "$2: logged event=tls_handshake_failed" 'event=tls_handshake_failed'
}

refused none "no client certificate"
good_peer_ok
refused untrusted "client certificate from an untrusted CA"
good_peer_ok
refused expired "expired client certificate"
se_wait_log "expired: the log line gives a reason= and hints at the clock" \
	'event=tls_handshake_failed' 'reason=' '[Cc]lock'
good_peer_ok
refused noclientauth "client certificate without the clientAuth EKU"
good_peer_ok

se_stop_daemon
se_done
