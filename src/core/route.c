/* route.c - static route matching and inbound node choice. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/route.h"

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

/* Stable insertion sort by priority: n is small (DNS_MAX_SRV). */
static void by_priority(const struct dns_srv *srv, size_t *idx, size_t n)
{
	for (size_t i = 1; i < n; i++) {
		size_t v = idx[i], j = i;
		for (; j > 0 && srv[idx[j - 1]].priority > srv[v].priority; j--)
			idx[j] = idx[j - 1];
		idx[j] = v;
	}
}

size_t route_srv_order(const struct dns_srv *srv, size_t n,
		       unsigned (*rnd)(void *arg, unsigned limit), void *arg,
		       size_t *order)
{
	size_t idx[DNS_MAX_SRV];
	if (n > DNS_MAX_SRV)
		n = DNS_MAX_SRV;
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	by_priority(srv, idx, n);
	size_t out = 0;
	for (size_t start = 0; start < n;) {
		size_t end = start;
		while (end < n && srv[idx[end]].priority == srv[idx[start]].priority)
			end++;
		/* Zero weights first, then pick by running sums. */
		size_t group[DNS_MAX_SRV], g = 0;
		for (size_t i = start; i < end; i++)
			if (srv[idx[i]].weight == 0)
				group[g++] = idx[i];
		for (size_t i = start; i < end; i++)
			if (srv[idx[i]].weight != 0)
				group[g++] = idx[i];
		while (g > 0) {
			unsigned sum = 0;
			for (size_t i = 0; i < g; i++)
				sum += (unsigned)srv[group[i]].weight;
			unsigned r = rnd(arg, sum), run = 0;
			size_t pick = g - 1;
			for (size_t i = 0; i < g; i++) {
				run += (unsigned)srv[group[i]].weight;
				if (run >= r) {
					pick = i;
					break;
				}
			}
			order[out++] = group[pick];
			memmove(group + pick, group + pick + 1, (g - pick - 1) * sizeof *group);
			g--;
		}
		start = end;
	}
	return out;
}
