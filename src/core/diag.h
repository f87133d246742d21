/* diag.h - the Microsoft-compatible failure diagnostics of SPEC section 4.
 *
 * Operators compare these with what Lync/Skype for Business edges log, so
 * codes and reason texts are fixed. Towards the internal nodes the
 * ms-diagnostics attributes are complete; towards the outside only the code
 * and reason are shown.
 */
#ifndef SIPEDGE_DIAG_H
#define SIPEDGE_DIAG_H

#include <stdbool.h>
#include <stddef.h>
#include "core/types.h"

enum diag_code {
	DIAG_NO_SRV = 1008,
	DIAG_SRV_NOT_IN_DOMAIN = 1009,
	DIAG_CERT_NAME = 1010,
	DIAG_NOT_LOCAL = 1017,
	DIAG_NOT_FEDERATED = 1027,
	DIAG_CONNECT = 1046,
	DIAG_TLS = 1047,
};

const char *diag_reason(enum diag_code code);

/* Attributes for the internal side; any may be NULL. */
struct diag_attrs {
	const char *domain;
	const char *fqdn[4];       /* fqdn1.. : "host:port" */
	const char *tls_target;
	const char *peer_server;   /* names the peer's certificate carried
				    * (1010), joined with ','; cut after
				    * 200 bytes at a name, then ",..." */
};

/*
 * Headers ("Name: value\r\n"...) for a response the edge makes, per
 * federation.diagnostics. internal=false drops the attributes. Writes at
 * most len bytes into buf and returns buf.
 */
const char *diag_headers(char *buf, size_t len, enum diagnostics mode,
			 const char *edge_fqdn, enum diag_code code,
			 const struct diag_attrs *attrs, bool internal);

/* Headers for a plain Warning with free text (no ms code), e.g. 400/483. */
const char *diag_warning(char *buf, size_t len, enum diagnostics mode,
			 const char *edge_fqdn, const char *text);

#endif
