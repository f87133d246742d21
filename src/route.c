/* route.c - static route matching and inbound node choice. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "route.h"

/* "abc.com" -> ".com.abc" (lower case, trailing dot dropped). */
static bool reverse_domain(const char *d, char *out, size_t len)
{
	size_t n = strlen(d);
	if (n > 0 && d[n - 1] == '.')
		n--;
	if (n == 0 || n + 2 > len)
		return false;
	size_t o = 0;
	size_t end = n;
	while (end > 0) {
		size_t start = end;
		while (start > 0 && d[start - 1] != '.')
			start--;
		out[o++] = '.';
		for (size_t i = start; i < end; i++)
			out[o++] = (char)tolower((unsigned char)d[i]);
		end = start > 0 ? start - 1 : 0;
	}
	out[o] = '\0';
	return true;
}

int route_pattern_score(const char *pattern, const char *domain)
{
	char rev[300];
	if (!pattern || !domain || !reverse_domain(domain, rev, sizeof rev))
		return -1;
	size_t plen = strlen(pattern);
	bool subtree = plen >= 2 && strcmp(pattern + plen - 2, ".*") == 0;
	size_t base = subtree ? plen - 2 : plen;
	size_t rlen = strlen(rev);
	if (rlen < base || strncasecmp(rev, pattern, base) != 0)
		return -1;
	if (rlen == base)
		return (int)(2 * base + (subtree ? 0 : 1));
	if (subtree && rev[base] == '.')
		return (int)(2 * base);
	return -1;
}

size_t route_static(const struct conf *c, const char *domain,
		    const struct conf_static_route **out, size_t max)
{
	int best = -1;
	const char *best_pattern = NULL;
	for (size_t i = 0; i < c->federation.nstatic_routes; i++) {
		int s = route_pattern_score(c->federation.static_routes[i].pattern, domain);
		if (s > best) {
			best = s;
			best_pattern = c->federation.static_routes[i].pattern;
		}
	}
	if (best < 0)
		return 0;
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++)       /* primaries, then backups */
		for (size_t i = 0; i < c->federation.nstatic_routes && n < max; i++) {
			const struct conf_static_route *r = &c->federation.static_routes[i];
			if (r->backup == (pass == 1) &&
			    strcasecmp(r->pattern, best_pattern) == 0)
				out[n++] = r;
		}
	return n;
}

static int node_index(const struct conf *c, const struct conf_node *n)
{
	return n ? (int)(n - c->internal.nodes) : -1;
}

int route_inbound_node(const struct conf *c, const bool *node_up,
		       const struct inbound_hint *h)
{
	/* A URI we handed out names its node by public port: in-dialog
	 * traffic follows it whatever listener it arrives on. */
	if (h->ruri_public_port > 0) {
		int n = node_index(c, conf_node_by_public_port(c, h->ruri_public_port));
		if (n >= 0)
			return n;
	}
	if (h->route_public_port > 0 && h->in_dialog) {
		int n = node_index(c, conf_node_by_public_port(c, h->route_public_port));
		if (n >= 0)
			return n;
	}
	/* ASA semantics: a node's own public port leads to that node. */
	if (!h->main_listener) {
		int n = node_index(c, conf_node_by_public_port(c, h->arrival_port));
		if (n >= 0)
			return n;
	}
	return node_index(c, conf_routing_node(c, node_up));
}
