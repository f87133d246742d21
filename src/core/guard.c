/* guard.c - the outbound target guard (SPEC section 4), pure. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/guard.h"
#include "util/netaddr.h"
#include "core/policy.h"

/* Ranges the edge never dials on a partner's word (RFC 6890 and friends). */
static const struct special {
	const char *net, *what;
} specials[] = {
	{ "0.0.0.0/8", "unspecified" },
	{ "127.0.0.0/8", "loopback" },
	{ "10.0.0.0/8", "private (RFC 1918)" },
	{ "172.16.0.0/12", "private (RFC 1918)" },
	{ "192.168.0.0/16", "private (RFC 1918)" },
	{ "100.64.0.0/10", "shared address space (RFC 6598)" },
	{ "169.254.0.0/16", "link-local" },
	{ "192.0.0.0/24", "IETF protocol assignments" },
	{ "224.0.0.0/4", "multicast" },
	{ "240.0.0.0/4", "reserved" },
	{ "::/128", "unspecified" },
	{ "::1/128", "loopback" },
	{ "::/96", "IPv4-compatible" },
	{ "64:ff9b::/96", "NAT64 (RFC 6052)" },
	{ "64:ff9b:1::/48", "NAT64 (RFC 8215)" },
	{ "2002::/16", "6to4" },
	{ "fe80::/10", "link-local" },
	{ "fec0::/10", "site-local" },
	{ "fc00::/7", "unique local (ULA)" },
	{ "ff00::/8", "multicast" },
};

static bool same_addr(const char *ip, const struct sockaddr *sa)
{
	struct net n;
	return ip && net_parse(ip, &n) && n.prefix == (n.family == AF_INET ? 32 : 128) &&
	       net_contains(&n, sa);
}

static bool is_wildcard(const char *ip)
{
	return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0;
}

/* One of our listeners: its address and port, or a wildcard listener's
 * port on one of our own interface addresses. */
static bool is_self(const struct conf *cf, const struct guard_self *self,
		    const struct sockaddr *sa)
{
	int port = net_port_of(sa);
	for (size_t i = 0; i < cf->nlisten; i++) {
		const struct conf_listen *l = &cf->listen[i];
		bool own_port = l->port == port;
		/* Node public ports are listened on the external addresses. */
		for (size_t k = 0; !own_port && l->zone == ZONE_EXTERNAL &&
		     k < cf->internal.nnodes; k++)
			for (size_t p = 0; p < cf->internal.nodes[k].nports; p++)
				own_port |= cf->internal.nodes[k].ports[p].public_ == port;
		if (!own_port)
			continue;
		if (same_addr(l->address, sa))
			return true;
		/* Behind NAT, the public address is us on the external ports. */
		if (l->zone == ZONE_EXTERNAL && same_addr(cf->edge.public_address, sa))
			return true;
		for (size_t k = 0; is_wildcard(l->address) && self && k < self->n; k++) {
			unsigned char a[16], b[16];
			int fa = net_addr_of((const struct sockaddr *)&self->addrs[k], a);
			if (fa && fa == net_addr_of(sa, b) &&
			    memcmp(a, b, fa == AF_INET ? 4 : 16) == 0)
				return true;
		}
	}
	return false;
}

enum guard_verdict guard_address(const struct conf *cf, const struct guard_self *self,
				 const struct sockaddr *sa, char *why, size_t whylen)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	unsigned char a[16];
	int fam = net_addr_of(sa, a);
	if (fam)
		inet_ntop(fam, a, ip, sizeof ip);
	char dummy[1];
	if (!why) {
		why = dummy;
		whylen = sizeof dummy;
	}
	if (!fam) {
		snprintf(why, whylen, "not an IP address");
		return GUARD_SPECIAL;
	}
	for (size_t i = 0; i < cf->internal.nnodes; i++)
		if (same_addr(cf->internal.nodes[i].address, sa)) {
			snprintf(why, whylen, "%s is the address of node %s", ip,
				 cf->internal.nodes[i].name);
			return GUARD_NODE;
		}
	if (is_self(cf, self, sa)) {
		snprintf(why, whylen, "%s:%d is one of the edge's own listeners", ip,
			 net_port_of(sa));
		return GUARD_SELF;
	}
	for (size_t i = 0; i < sizeof specials / sizeof specials[0]; i++) {
		struct net n;
		if (!net_parse(specials[i].net, &n) || !net_contains(&n, sa))
			continue;
		for (size_t k = 0; k < cf->federation.nallowed_networks; k++) {
			struct net ok;
			if (net_parse(cf->federation.allowed_networks[k], &ok) &&
			    net_contains(&ok, sa))
				return GUARD_OK;
		}
		snprintf(why, whylen, "%s is %s and not in federation.allowed_networks",
			 ip, specials[i].what);
		return GUARD_SPECIAL;
	}
	/* 255.255.255.255 is inside 240/4 above. */
	return GUARD_OK;
}

bool guard_name(const struct conf *cf, const char *name)
{
	if (!name || !*name)
		return false;
	/* "host." is host (an absolute DNS name). */
	char host[256];
	size_t n = strlen(name);
	if (n >= sizeof host)
		return false;
	memcpy(host, name, n + 1);
	if (n > 1 && host[n - 1] == '.')
		host[n - 1] = '\0';
	if (policy_blocked(cf, host))
		return false;
	/* The edge itself: dialling it would only loop. */
	if ((cf->edge.fqdn && strcasecmp(host, cf->edge.fqdn) == 0) ||
	    (cf->edge.public_address && strcasecmp(host, cf->edge.public_address) == 0))
		return false;
	for (size_t i = 0; i < cf->internal.nnodes; i++) {
		const struct conf_node *n = &cf->internal.nodes[i];
		if (strcasecmp(host, n->address) == 0 ||
		    (n->tls_name && strcasecmp(host, n->tls_name) == 0))
			return false;
		for (size_t k = 0; k < n->nnames; k++)
			if (strcasecmp(host, n->names[k]) == 0)
				return false;
	}
	for (size_t i = 0; i < cf->nlisten; i++)
		if (cf->listen[i].zone == ZONE_INTERNAL &&
		    strcasecmp(host, cf->listen[i].address) == 0)
			return false;
	return true;
}
