/* diag.c - Warning and ms-diagnostics headers for responses we make. */
#include <stdio.h>
#include <string.h>

#include "core/diag.h"

const char *diag_reason(enum diag_code code)
{
	switch (code) {
	case DIAG_NO_SRV: return "Unable to resolve DNS SRV record";
	case DIAG_SRV_NOT_IN_DOMAIN: return "No match for domain in DNS SRV results";
	case DIAG_CERT_NAME: return "Certificate trust with another server could not be established";
	case DIAG_NOT_LOCAL: return "Cannot route From and To domains in this combination";
	case DIAG_NOT_FEDERATED: return "Cannot route this type of SIP request to or from federated partners";
	case DIAG_CONNECT: return "Failed to connect to a federated peer server";
	case DIAG_TLS: return "Failed to complete TLS negotiation with a federated peer server";
	}
	return "Unknown";
}

#define PEER_SERVER_MAX 200   /* the partner's names: a list cut at a name */

/* Quoted-string values must not carry '"', '\\', CR/LF or any other control
 * character from peer data (a partner writes its certificate's names):
 * those are dropped, bytes outside ASCII become '?'. The value is cut
 * where the closing quote and the header's CRLF would no longer fit. */
static void put_attr(char *buf, size_t len, size_t *off, const char *k,
		     const char *v)
{
	if (!v || *off >= len || len - *off < strlen(k) + 8)
		return;
	int n = snprintf(buf + *off, len - *off, ";%s=\"", k);
	if (n < 0 || (size_t)n >= len - *off)
		return;
	*off += (size_t)n;
	for (; *v && *off + 4 < len; v++) {
		unsigned char ch = (unsigned char)*v;
		if (ch < 0x20 || ch == 0x7f || ch == '"' || ch == '\\')
			continue;
		buf[(*off)++] = ch >= 0x80 ? '?' : (char)ch;
	}
	buf[(*off)++] = '"';
	buf[*off] = '\0';
}

/* PeerServer: the names the partner's certificate carried, joined with
 * ','; a long list keeps its first names whole and ends with ",...". */
static void put_names(char *buf, size_t len, size_t *off, const char *k,
		      const char *v)
{
	char cut[PEER_SERVER_MAX + 8];
	if (v && strlen(v) > PEER_SERVER_MAX) {
		size_t n = PEER_SERVER_MAX - 4;
		while (n > 0 && v[n] != ',')
			n--;
		if (n == 0)                  /* one long name: cut it */
			snprintf(cut, sizeof cut, "%.*s...", PEER_SERVER_MAX - 4, v);
		else
			snprintf(cut, sizeof cut, "%.*s,...", (int)n, v);
		v = cut;
	}
	put_attr(buf, len, off, k, v);
}

static bool want_warning(enum diagnostics m)
{
	return m == DIAG_BOTH || m == DIAG_WARNING;
}

static bool want_ms(enum diagnostics m)
{
	return m == DIAG_BOTH || m == DIAG_MS;
}

const char *diag_headers(char *buf, size_t len, enum diagnostics mode,
			 const char *edge_fqdn, enum diag_code code,
			 const struct diag_attrs *a, bool internal)
{
	size_t off = 0;
	buf[0] = '\0';
	const char *reason = diag_reason(code);
	if (want_warning(mode)) {
		int n = snprintf(buf, len, "Warning: 399 %s \"%s\"\r\n",
				 edge_fqdn, reason);
		off = n > 0 && (size_t)n < len ? (size_t)n : 0;
	}
	if (!want_ms(mode))
		return buf;
	int n = snprintf(buf + off, len - off, "ms-diagnostics: %d;reason=\"%s\"",
			 (int)code, reason);
	if (n < 0 || (size_t)n >= len - off)
		return buf;
	off += (size_t)n;
	if (internal && a) {
		put_attr(buf, len, &off, "domain", a->domain);
		static const char *const fqdn_key[4] = { "fqdn1", "fqdn2", "fqdn3", "fqdn4" };
		for (int i = 0; i < 4; i++)
			put_attr(buf, len, &off, fqdn_key[i], a->fqdn[i]);
		put_attr(buf, len, &off, "tls-target", a->tls_target);
		put_names(buf, len, &off, "PeerServer", a->peer_server);
	}
	put_attr(buf, len, &off, "source", edge_fqdn);
	if (off + 2 < len)
		snprintf(buf + off, len - off, "\r\n");
	return buf;
}

const char *diag_warning(char *buf, size_t len, enum diagnostics mode,
			 const char *edge_fqdn, const char *text)
{
	buf[0] = '\0';
	if (want_warning(mode) || want_ms(mode))
		snprintf(buf, len, "Warning: 399 %s \"%s\"\r\n", edge_fqdn, text);
	return buf;
}
