/* conflookup.c - questions the message path asks of the configuration. */
#include "core/types.h"

#include <stdbool.h>
#include <stddef.h>
#include <strings.h>
#include <string.h>

bool conf_internal_tls_used(const struct conf *c)
{
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].zone == ZONE_INTERNAL &&
		    c->listen[i].transport == TRANSPORT_TLS)
			return true;
	for (size_t i = 0; i < c->internal.nnodes; i++)
		if (c->internal.nodes[i].transport == TRANSPORT_TLS)
			return true;
	return false;
}

const struct conf_node *conf_routing_node(const struct conf *c,
					  const bool *node_up)
{
	const struct conf_node *best = NULL;

	for (size_t i = 0; i < c->internal.nnodes; i++) {
		const struct conf_node *n = &c->internal.nodes[i];

		if (n->routing && (!node_up || node_up[i]) &&
		    (!best || n->priority < best->priority))
			best = n;
	}
	return best;
}

const struct conf_node *conf_node_by_public_port(const struct conf *c, int port)
{
	for (size_t i = 0; i < c->internal.nnodes; i++)
		for (size_t j = 0; j < c->internal.nodes[i].nports; j++)
			if (c->internal.nodes[i].ports[j].public_ == port)
				return &c->internal.nodes[i];
	return NULL;
}

bool conf_is_local_domain(const struct conf *c, const char *host)
{
	size_t hl;

	if (!host)
		return false;
	hl = strlen(host);
	if (hl && host[hl - 1] == '.')
		hl--;
	for (size_t i = 0; i < c->internal.ndomains; i++) {
		const char *d = c->internal.domains[i];
		size_t dl = strlen(d);

		if (dl && d[dl - 1] == '.')
			dl--;
		if (dl == hl && strncasecmp(d, host, hl) == 0)
			return true;
	}
	return false;
}
