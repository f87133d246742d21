/* topo.c - internal tokens, the boundary-aware matcher, ms-diagnostics
 * source= and SDP c=/o= rewriting. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>

#include "core/topo.h"

size_t topo_tokens_count(const struct conf *c)
{
	size_t n = 0;
	for (size_t i = 0; i < c->internal.nnodes; i++)
		n += 2 + c->internal.nodes[i].nnames;
	for (size_t i = 0; i < c->nlisten; i++)
		n += c->listen[i].zone == ZONE_INTERNAL;
	return n;
}

static void add(const char **v, size_t max, size_t *n, const char *s)
{
	if (!s || !*s || *n >= max)
		return;
	for (size_t i = 0; i < *n; i++)
		if (strcasecmp(v[i], s) == 0)
			return;
	v[(*n)++] = s;
}

size_t topo_tokens_fill(const struct conf *c, const char **v, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < c->internal.nnodes; i++) {
		const struct conf_node *nd = &c->internal.nodes[i];
		add(v, max, &n, nd->address);
		add(v, max, &n, nd->tls_name);
		for (size_t k = 0; k < nd->nnames; k++)
			add(v, max, &n, nd->names[k]);
	}
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].zone == ZONE_INTERNAL)
			add(v, max, &n, c->listen[i].address);
	return n;
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-';
}

long topo_find(const char *text, size_t len, const struct topo_tokens *t)
{
	if (!text || !t)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (i > 0 && (name_char(text[i - 1]) || text[i - 1] == '.'))
			continue;
		for (size_t k = 0; k < t->n; k++) {
			size_t tl = strlen(t->v[k]);
			if (tl == 0 || tl > len - i || strncasecmp(text + i, t->v[k], tl) != 0)
				continue;
			size_t e = i + tl;
			if (e < len && name_char(text[e]))
				continue;
			if (e < len && text[e] == '.' && e + 1 < len &&
			    isalnum((unsigned char)text[e + 1]))
				continue;
			return (long)i;
		}
	}
	return -1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

bool topo_leaks(const char *text, size_t len, const struct topo_tokens *t)
{
	if (topo_find(text, len, t) >= 0)
		return true;
	if (!memchr(text, '%', len))
		return false;
	char *d = malloc(len + 1);
	if (!d)
		return true;            /* cannot tell: assume the worst */
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int h, l;
		if (text[i] == '%' && i + 2 < len &&
		    (h = hexval(text[i + 1])) >= 0 && (l = hexval(text[i + 2])) >= 0) {
			d[o++] = (char)(h << 4 | l);
			i += 2;
		} else {
			d[o++] = text[i];
		}
	}
	bool found = topo_find(d, o, t) >= 0;
	free(d);
	return found;
}

bool topo_host_is_token(const char *host, const struct topo_tokens *t)
{
	if (!host || !t)
		return false;
	size_t n = strlen(host);
	if (n > 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n > 1 && host[n - 1] == '.')
		n--;
	for (size_t k = 0; k < t->n; k++)
		if (strlen(t->v[k]) == n && strncasecmp(host, t->v[k], n) == 0)
			return true;
	return false;
}

bool topo_contains(const char *s, const struct topo_tokens *t)
{
	if (!s || !t)
		return false;
	for (size_t k = 0; k < t->n; k++)
		if (*t->v[k] && strcasestr(s, t->v[k]))
			return true;
	return false;
}

/* ------------------------------------------------------------ ms-diagnostics */

struct out {
	char *buf;
	size_t len, cap;
	bool full;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->full || o->len + n + 1 > o->cap) {
		o->full = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

bool topo_diag_source(const char *value, const struct topo_tokens *t,
		      const char *fqdn, char *out, size_t outlen)
{
	if (!value || !out || outlen == 0)
		return false;
	struct out o = { out, 0, outlen, false };
	const char *p = value, *copied = value;
	bool changed = false, at_param = true, quoted = false;
	for (; *p; p++) {
		if (quoted) {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '"')
				quoted = false;
			continue;
		}
		if (*p == '"') {
			quoted = true;
			at_param = false;
			continue;
		}
		if (*p == ';') {
			at_param = true;
			continue;
		}
		if (*p == ' ' || *p == '\t')
			continue;
		if (!at_param)
			continue;
		at_param = false;
		if (strncasecmp(p, "source", 6) != 0)
			continue;
		const char *q = p + 6;
		q += strspn(q, " \t");
		if (*q != '=')
			continue;
		q++;
		q += strspn(q, " \t");
		const char *vs, *ve;            /* the value's content */
		const char *end;                /* just past the value */
		if (*q == '"') {
			vs = ++q;
			while (*q && *q != '"') {
				if (*q == '\\' && q[1])
					q++;
				q++;
			}
			ve = q;
			end = *q ? q + 1 : q;
		} else {
			vs = q;
			while (*q && *q != ';' && *q != ',' && *q != ' ' && *q != '\t')
				q++;
			ve = end = q;
		}
		if (topo_find(vs, (size_t)(ve - vs), t) >= 0) {
			put(&o, copied, (size_t)(vs - copied));
			put(&o, fqdn, strlen(fqdn));
			copied = ve;
			changed = true;
		}
		p = end - 1;
	}
	if (!changed)
		return false;
	put(&o, copied, strlen(copied));
	if (o.full) {
		out[0] = '\0';
		return false;
	}
	return true;
}

/* ------------------------------------------------------------ SDP */

/*
 * A strict line-based rewrite of c= and o= only, not Sofia's sdp_parse()
 * and sdp_print(): Debian's sofia-sip 1.12.11 has them, but its printer
 * prints the session back in its own form, not as it came (it drops
 * "a=sendrecv", for one, and what it cannot parse it cannot print), so a
 * node's offer would leave altered beyond the two addresses. Only lines
 * of exactly the RFC 4566 form are touched:
 * "c=<nettype> <addrtype> <address>[/ttl]" and
 * "o=<user> <sess-id> <sess-version> <nettype> <addrtype> <address>".
 */

/* Fields of an SDP line value split on single spaces (RFC 4566 5). */
#define MAX_FIELDS 8

static size_t split(const char *s, size_t len, const char *f[MAX_FIELDS],
		    size_t fl[MAX_FIELDS])
{
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= len && n < MAX_FIELDS; i++) {
		if (i == len || s[i] == ' ') {
			f[n] = s + start;
			fl[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	return n;
}

static bool field_is_token(const char *s, size_t n, const struct topo_tokens *t)
{
	char host[300];
	if (n == 0 || n >= sizeof host)
		return false;
	memcpy(host, s, n);
	host[n] = '\0';
	return topo_host_is_token(host, t);
}

static const char *addrtype_of(const char *pub)
{
	unsigned char b[16];
	if (inet_pton(AF_INET, pub, b) == 1)
		return "IP4";
	if (inet_pton(AF_INET6, pub, b) == 1)
		return "IP6";
	return NULL;
}

/* One c= or o= line's value (after "c="/"o="): rewritten into o, or false. */
static bool sdp_line(char kind, const char *v, size_t len, const struct topo_tokens *t,
		     const char *pub, struct out *o)
{
	const char *f[MAX_FIELDS];
	size_t fl[MAX_FIELDS];
	size_t n = split(v, len, f, fl);
	size_t want = kind == 'c' ? 3 : 6;
	if (n != want)
		return false;
	size_t ai = want - 1, ti = want - 2;     /* address, addrtype */
	size_t alen = fl[ai];
	const char *slash = memchr(f[ai], '/', fl[ai]);
	if (slash)
		alen = (size_t)(slash - f[ai]);
	bool addr = field_is_token(f[ai], alen, t);
	bool user = kind == 'o' && topo_find(f[0], fl[0], t) >= 0;
	if (!addr && !user)
		return false;
	const char *at = addrtype_of(pub);
	for (size_t i = 0; i < n; i++) {
		if (i)
			put(o, " ", 1);
		if (user && i == 0)
			put(o, "-", 1);
		else if (addr && i == ai) {
			put(o, pub, strlen(pub));
			put(o, f[ai] + alen, fl[ai] - alen);          /* "/ttl" kept */
		} else if (addr && i == ti && at)
			put(o, at, 3);
		else
			put(o, f[i], fl[i]);
	}
	return true;
}

char *topo_sdp(const char *sdp, size_t len, const struct topo_tokens *t,
	       const char *pub, size_t *outlen)
{
	if (!sdp || !pub || !*pub || len == 0)
		return NULL;
	size_t lines = 1;
	for (size_t k = 0; k < len; k++)
		lines += sdp[k] == '\n';
	/* Each line may grow by the address and "IP6" at most. */
	size_t cap = len + lines * (strlen(pub) + 4) + 1;
	struct out o = { malloc(cap), 0, cap, false };
	if (!o.buf)
		return NULL;
	bool changed = false;
	size_t i = 0;
	while (i < len) {
		const char *nl = memchr(sdp + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - sdp) : len;      /* at '\n' or len */
		size_t ce = end;                                /* content end */
		if (ce > i && sdp[ce - 1] == '\r')
			ce--;
		const char *line = sdp + i;
		size_t ll = ce - i;
		bool done = false;
		if (ll > 2 && (line[0] == 'c' || line[0] == 'o') && line[1] == '=') {
			size_t mark = o.len;
			bool was_full = o.full;
			put(&o, line, 2);
			if (sdp_line(line[0], line + 2, ll - 2, t, pub, &o)) {
				done = changed = true;
			} else {
				o.len = mark;
				o.full = was_full;
			}
		}
		if (!done)
			put(&o, line, ll);
		put(&o, sdp + ce, (nl ? end + 1 : end) - ce);       /* "\r\n", "\n" or "" */
		i = nl ? end + 1 : len;
	}
	if (!changed || o.full) {
		free(o.buf);
		return NULL;
	}
	*outlen = o.len;
	return o.buf;
}
