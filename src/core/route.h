/* route.h - where a request goes next. Pure functions of configuration
 * and URIs, unit-tested without sockets. */
#ifndef SIPEDGE_ROUTE_H
#define SIPEDGE_ROUTE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/srv.h"
#include "core/types.h"

/*
 * IM and Presence reversed-domain pattern: ".com.abc.*" matches abc.com and
 * every subdomain, ".com.abc" only abc.com. Returns a specificity score
 * (higher = more specific) or -1 when it does not match.
 */
int route_pattern_score(const char *pattern, const char *domain);

/*
 * Static route candidates for domain, in the order to try: the primaries
 * of the most specific matching pattern, then its backups. Returns the
 * number written to out (0 = no static route).
 */
size_t route_static(const struct conf *c, const char *domain,
		    const struct conf_static_route **out, size_t max);

/* What an inbound (external -> internal) request carries that names a node. */
struct inbound_hint {
	int arrival_port;        /* external listener port it came in on */
	bool main_listener;      /* that port is a `listen` entry */
	int ruri_public_port;    /* R-URI is edge.fqdn:P -> P, else 0 */
	int route_public_port;   /* our removed external Route named port P, else 0 */
	bool in_dialog;          /* To tag present */
};

/*
 * The node index an inbound request goes to, or -1 when no node can take
 * it (no routing node up). node_up may be NULL (all up).
 */
int route_inbound_node(const struct conf *c, const bool *node_up,
		       const struct inbound_hint *h);

/*
 * RFC 2782 order of SRV records: ascending priority; within a priority,
 * weighted random selection without replacement (zero weights first, as
 * the RFC asks). rnd(arg, limit) returns a uniform integer in [0, limit].
 * Writes indexes into order; returns n.
 */
size_t route_srv_order(const struct dns_srv *srv, size_t n,
		       unsigned (*rnd)(void *arg, unsigned limit), void *arg,
		       size_t *order);

#endif
