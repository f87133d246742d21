/* pat.c - the port map, both directions. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/pat.h"

static bool same_host(const char *uri_host, const char *addr)
{
	size_t n = strlen(uri_host);
	if (n > 2 && uri_host[0] == '[' && uri_host[n - 1] == ']')
		return strlen(addr) == n - 2 && strncasecmp(uri_host + 1, addr, n - 2) == 0;
	return strcasecmp(uri_host, addr) == 0;
}

int pat_public_port(const struct conf *c, const char *host, int port)
{
	if (!host)
		return 0;
	for (size_t i = 0; i < c->internal.nnodes; i++) {
		const struct conf_node *n = &c->internal.nodes[i];
		if (!same_host(host, n->address))
			continue;
		for (size_t p = 0; p < n->nports; p++)
			if (n->ports[p].internal == port)
				return n->ports[p].public_;
	}
	return 0;
}

bool pat_names_node(const struct conf_node *n, const char *host)
{
	if (!host)
		return false;
	if (same_host(host, n->address) || (n->tls_name && same_host(host, n->tls_name)))
		return true;
	for (size_t k = 0; k < n->nnames; k++)
		if (same_host(host, n->names[k]))
			return true;
	return false;
}

int pat_public_port_any(const struct conf *c, const char *host, int port)
{
	if (!host)
		return 0;
	const struct conf_node *first = NULL;
	for (size_t i = 0; i < c->internal.nnodes; i++) {
		const struct conf_node *n = &c->internal.nodes[i];
		if (!pat_names_node(n, host))
			continue;
		for (size_t p = 0; p < n->nports; p++)
			if (n->ports[p].internal == port)
				return n->ports[p].public_;
		if (!first)
			first = n;
	}
	return first && first->nports ? first->ports[0].public_ : 0;
}

const struct conf_node *pat_node_for_public(const struct conf *c, int public_port,
					    int *internal_port)
{
	for (size_t i = 0; i < c->internal.nnodes; i++) {
		const struct conf_node *n = &c->internal.nodes[i];
		for (size_t p = 0; p < n->nports; p++)
			if (n->ports[p].public_ == public_port) {
				if (internal_port)
					*internal_port = n->ports[p].internal;
				return n;
			}
	}
	return NULL;
}

int pat_default_port(int is_sips, const char *params)
{
	if (is_sips)
		return 5061;
	if (params) {
		const char *t = strcasestr(params, "transport=tls");
		if (t && (t == params || t[-1] == ';'))
			return 5061;
	}
	return 5060;
}
