/* certname.h - which names a certificate proves, per RFC 5922 section 7.1.
 *
 * Pure functions over an X509: no sockets, no verification of the chain
 * (OpenSSL does that during the handshake). The identity set is:
 * subjectAltName URI entries of the form sip:<host> first, then
 * subjectAltName DNS entries, and the subject CN only when the certificate
 * has no subjectAltName extension at all.
 */
#ifndef SIPEDGE_CERTNAME_H
#define SIPEDGE_CERTNAME_H

#include <stdbool.h>
#include <stddef.h>
#include <openssl/x509.h>

#define CERTNAME_MAX 32         /* names kept per certificate; rest ignored */

struct certnames {
	char *name[CERTNAME_MAX];   /* lower-cased, heap-allocated */
	size_t n;
};

/* Fill out with the identity set of cert (may be NULL: empty set). */
void certnames_from_x509(X509 *cert, struct certnames *out);
void certnames_free(struct certnames *cn);

/*
 * Does the set name host? Case-insensitive, no trailing-dot differences.
 * A name "*.d" matches exactly one extra leftmost label of d, and only
 * when accept_wildcards is true.
 */
bool certnames_match(const struct certnames *cn, const char *host,
		     bool accept_wildcards);

/* Names joined with ',' into buf (for logs and ms-diagnostics). */
const char *certnames_join(const struct certnames *cn, char *buf, size_t len);

#endif
