/* certname.c - which names a certificate proves, per RFC 5922 section 7.1. */
#include "core/certname.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/x509v3.h>

/* ASCII only: under a locale such as tr_TR, tolower('I') is not 'i'. */
static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_eq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static void add_name(struct certnames *out, const char *s, size_t len)
{
	char *name;

	if (out->n >= CERTNAME_MAX)
		return;
	if (len > 0 && s[len - 1] == '.')
		len--;
	if (len == 0)
		return;
	name = malloc(len + 1);
	if (!name)
		return;
	for (size_t i = 0; i < len; i++)
		name[i] = ascii_lower(s[i]);
	name[len] = '\0';
	for (size_t i = 0; i < out->n; i++) {
		if (strcmp(out->name[i], name) == 0) {
			free(name);
			return;
		}
	}
	out->name[out->n++] = name;
}

/*
 * The contents of an IA5String, or NULL if it hides a NUL: otherwise
 * "good.test\0.evil.test" would be read as good.test.
 */
static const char *ia5_span(const ASN1_STRING *s, size_t *len)
{
	const char *d = (const char *)ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s);

	if (!d || n <= 0 || memchr(d, '\0', (size_t)n))
		return NULL;
	*len = (size_t)n;
	return d;
}

/*
 * Only "sip:<host>" names a domain. Any '@' means a user part, which can
 * itself contain ';' ("sip:bob;x=y@host"), so look for it before cutting
 * parameters. A port or an IPv6 literal (':') is not a domain identity.
 */
static void add_uri(struct certnames *out, const ASN1_STRING *s)
{
	size_t len, host;
	const char *d = ia5_span(s, &len);

	if (!d || len < 4 || !ascii_eq(d, "sip:", 4))
		return;
	d += 4;
	len -= 4;
	if (memchr(d, '@', len))
		return;
	for (host = 0; host < len && d[host] != ';' && d[host] != '?'; host++)
		if (d[host] == ':')
			return;
	add_name(out, d, host);
}

static void add_dns(struct certnames *out, const ASN1_STRING *s)
{
	size_t len;
	const char *d = ia5_span(s, &len);

	if (d)
		add_name(out, d, len);
}

static void add_cns(struct certnames *out, const X509 *cert)
{
	const X509_NAME *subj = X509_get_subject_name(cert);
	int i = -1;

	while ((i = X509_NAME_get_index_by_NID(subj, NID_commonName, i)) >= 0) {
		const ASN1_STRING *d =
			X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
		unsigned char *utf8 = NULL;
		/* CNs may be BMPString etc.; compare them as UTF-8. */
		int n = ASN1_STRING_to_UTF8(&utf8, d);

		if (n > 0 && !memchr(utf8, '\0', (size_t)n))
			add_name(out, (const char *)utf8, (size_t)n);
		OPENSSL_free(utf8);
	}
}

void certnames_from_x509(X509 *cert, struct certnames *out)
{
	GENERAL_NAMES *gens;
	int crit = -1;

	memset(out, 0, sizeof(*out));
	if (!cert)
		return;
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, &crit, NULL);
	if (!gens) {
		/*
		 * -1 is "no extension". A repeated (-2) or undecodable SAN is
		 * not an absent one: falling back to the CN would let a broken
		 * SAN smuggle in a name, so such a certificate proves nothing.
		 */
		if (crit == -1)
			add_cns(out, cert);
		return;
	}
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
			const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);

			if (pass == 0 && gn->type == GEN_URI)
				add_uri(out, gn->d.uniformResourceIdentifier);
			else if (pass == 1 && gn->type == GEN_DNS)
				add_dns(out, gn->d.dNSName);
		}
	}
	GENERAL_NAMES_free(gens);
}

void certnames_free(struct certnames *cn)
{
	for (size_t i = 0; i < cn->n; i++) {
		free(cn->name[i]);
		cn->name[i] = NULL;
	}
	cn->n = 0;
}

/*
 * A '*' is only meaningful as the whole leftmost label. Hosts containing
 * '*' are refused by the caller, so a '*' anywhere else never matches.
 */
static bool wildcard_match(const char *name, const char *host, size_t hlen)
{
	const char *dot = memchr(host, '.', hlen);
	size_t rest;

	if (name[0] != '*' || name[1] != '.' || name[2] == '\0')
		return false;
	if (!dot || dot == host)
		return false;
	rest = strlen(name + 1);
	return (size_t)(host + hlen - dot) == rest &&
	       ascii_eq(dot, name + 1, rest);
}

bool certnames_match(const struct certnames *cn, const char *host,
		     bool accept_wildcards)
{
	size_t hlen;

	if (!cn || !host)
		return false;
	hlen = strlen(host);
	if (hlen > 0 && host[hlen - 1] == '.')
		hlen--;
	if (hlen == 0 || memchr(host, '*', hlen))
		return false;
	for (size_t i = 0; i < cn->n; i++) {
		const char *name = cn->name[i];

		if (strchr(name, '*')) {
			if (accept_wildcards && wildcard_match(name, host, hlen))
				return true;
		} else if (strlen(name) == hlen && ascii_eq(name, host, hlen)) {
			return true;
		}
	}
	return false;
}

const char *certnames_join(const struct certnames *cn, char *buf, size_t len)
{
	size_t used = 0;

	if (!buf || len == 0)
		return buf;
	buf[0] = '\0';
	for (size_t i = 0; cn && i < cn->n; i++) {
		const char *part[2] = { i ? "," : "", cn->name[i] };

		for (int p = 0; p < 2; p++) {
			size_t n = strlen(part[p]);

			if (n > len - 1 - used)
				n = len - 1 - used;
			memcpy(buf + used, part[p], n);
			used += n;
		}
	}
	buf[used] = '\0';
	return buf;
}
