/* topo.h - topology hiding helpers (SPEC section 3) that need no message:
 * the internal tokens of a configuration, a host-boundary-aware matcher,
 * the ms-diagnostics source= rewrite and the SDP c=/o= rewrite.
 *
 * An internal token is a name or address that must never reach the
 * external zone: every node's address, tls_name and names[], and the
 * address of every internal listener. Pure functions: no state, no I/O.
 */
#ifndef SIPEDGE_TOPO_H
#define SIPEDGE_TOPO_H

#include <stdbool.h>
#include <stddef.h>

#include "core/types.h"

struct topo_tokens {
	const char **v;     /* points into the conf */
	size_t n;
};

/* How many tokens c has (for sizing topo_tokens_fill's array). */
size_t topo_tokens_count(const struct conf *c);
/* Fill v (room for topo_tokens_count(c)); returns the number written. */
size_t topo_tokens_fill(const struct conf *c, const char **v, size_t max);

/*
 * Does text[0..len) contain a token at a host boundary? Case-insensitive.
 * A match counts when the byte before it is not [A-Za-z0-9.-] and the
 * byte after it is not [A-Za-z0-9-], nor a '.' followed by [A-Za-z0-9]
 * (a trailing dot ends a name; "10.1.1.5" does not match in "10.1.1.50",
 * "x10.1.1.5", "a.10.1.1.5" or "10.1.1.5.b"). Returns the offset of the
 * first match, or -1.
 */
long topo_find(const char *text, size_t len, const struct topo_tokens *t);

/* topo_find on the text, then on it with %XX escapes decoded. */
bool topo_leaks(const char *text, size_t len, const struct topo_tokens *t);

/* Is host (a URI host: IPv6 in brackets or not) exactly a token? */
bool topo_host_is_token(const char *host, const struct topo_tokens *t);

/* Does s contain a token anywhere (case-insensitive, no boundary)? For
 * Call-IDs: masking too much costs nothing. */
bool topo_contains(const char *s, const struct topo_tokens *t);

/*
 * A ms-diagnostics / ms-diagnostics-public value with its source=
 * parameter (quoted or not) replaced by fqdn when that parameter names a
 * token. Writes the new value to out and returns true when something
 * changed; false (out untouched) when not, or when out is too small.
 */
bool topo_diag_source(const char *value, const struct topo_tokens *t,
		      const char *fqdn, char *out, size_t outlen);

/*
 * SDP: in every c= line and o= line whose address is exactly a token, the
 * address becomes pub (addrtype IP4/IP6 when pub is an IPv4/IPv6 literal,
 * kept for a name); an o= user name containing a token becomes "-".
 * Every other byte, line endings included, stays. Returns a malloc'd body
 * and its length in *outlen when something changed, else NULL.
 */
char *topo_sdp(const char *sdp, size_t len, const struct topo_tokens *t,
	       const char *pub, size_t *outlen);

#endif
