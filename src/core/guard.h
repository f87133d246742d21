/* guard.h - the outbound target guard: may the edge dial this address?
 *
 * Every address the edge connects to in the external zone passes here,
 * whoever chose it: a static route, a fixed peer, an SRV target, a Route,
 * Contact or Request-URI a partner put in a dialog, and every A/AAAA
 * answer. Pure functions of the configuration and the address, so that a
 * partner's DNS or Record-Route can never make the edge connect inward.
 */
#ifndef SIPEDGE_GUARD_H
#define SIPEDGE_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "core/types.h"
#include "util/netaddr.h"

enum guard_verdict {
	GUARD_OK = 0,
	GUARD_NODE,            /* a node's address: never */
	GUARD_SELF,            /* one of the edge's own listeners: never */
	GUARD_SPECIAL,         /* loopback, private, ... not in allowed_networks */
};

/* The edge's own addresses when a listener is bound to a wildcard
 * address (from getifaddrs); may be empty. */
struct guard_self {
	const struct sockaddr_storage *addrs;
	size_t n;
};

/*
 * May the edge connect to sa (with its port) in the external zone?
 * Nodes and the edge's own listeners never; loopback, link-local,
 * multicast, unspecified, broadcast, RFC 1918, ULA and 100.64/10 only
 * when inside federation.allowed_networks. why (may be NULL) gets a short
 * text for the log, e.g. "10.1.1.5 is private (RFC 1918)".
 */
enum guard_verdict guard_address(const struct conf *cf, const struct guard_self *self,
				 const struct sockaddr *sa, char *why, size_t whylen);

/* May a target named host be dialled at all: not in a blocked domain, not
 * a node's name or address, not the edge's internal listener. */
bool guard_name(const struct conf *cf, const char *host);

#endif
