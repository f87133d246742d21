#!/bin/sh
# abuse_openssl_mtls.sh - an openssl that presents a client certificate.
#
# testssl.sh before 3.1 has no --mtls option; given this script as its
# --openssl, every "openssl s_client ... -connect ..." it runs presents
# $MTLS_CERT / $MTLS_KEY, so that its handshake-completing checks
# (renegotiation, resumption, server defaults) pass a server that requires
# mutual TLS. Everything else goes to the real openssl unchanged.
# OPENSSL_REAL overrides which openssl that is (default: openssl in PATH).
real=${OPENSSL_REAL:-openssl}
if [ "$1" = s_client ] && [ -n "${MTLS_CERT:-}" ]; then
	for a; do
		if [ "$a" = -connect ]; then
			exec "$real" "$@" -cert "$MTLS_CERT" -key "${MTLS_KEY:-$MTLS_CERT}"
		fi
	done
fi
exec "$real" "$@"
