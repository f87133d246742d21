/* tls.h - OpenSSL contexts per zone and handshake diagnostics. */
#ifndef SIPEDGE_TLS_H
#define SIPEDGE_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/ssl.h>

#include "core/types.h"

struct tls_ctxs {
	SSL_CTX *ext_server, *ext_client;   /* federated peers */
	SSL_CTX *int_server, *int_client;   /* IM&P nodes; NULL if no TLS there */
};

/* Build all contexts; on failure logs "FILE: reason" lines and returns NULL. */
struct tls_ctxs *tls_ctxs_new(const struct conf *c);
void tls_ctxs_free(struct tls_ctxs *t);

/*
 * Why a handshake failed, in words an administrator can act on, from the
 * SSL object's verify result and the OpenSSL error queue. hint gets a
 * suggestion (clock for date errors) or "".
 */
void tls_failure_reason(SSL *ssl, unsigned long err, char *reason, size_t rlen,
			char *hint, size_t hlen);

/* The same failure as a short slug from a fixed set (logs, metrics):
 * certificate_expired, certificate_not_yet_valid, unknown_ca,
 * certificate_purpose, certificate_revoked, certificate_invalid,
 * no_client_certificate, protocol_version, no_shared_cipher,
 * alert_received, closed, protocol_error. */
const char *tls_failure_slug(SSL *ssl, unsigned long err);

#endif
