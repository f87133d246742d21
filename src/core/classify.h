/* classify.h - what kind of request this is, and where it may go, from
 * its zone, method and addressing (SPEC sections 1 and 4). Pure: each
 * function reads the configuration and the parsed message and returns a
 * verdict; the proxy (src/proxy/proxy.c) acts on it, logs and counts.
 */
#ifndef SIPEDGE_CLASSIFY_H
#define SIPEDGE_CLASSIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <sofia-sip/sip.h>

#include "core/types.h"

/* Headers a partner may not send the nodes: identity claims the edge
 * cannot prove, and Microsoft's trust marker, which only an edge itself
 * may set. Referred-By is proven like From instead. */
extern const char *const classify_untrusted_in_requests[];
/* Also never sent outside, in either direction. */
extern const char *const classify_untrusted_in_responses[];

/* More header values than the limits allow: the reason slug
 * ("too_many_via", "too_many_values") and the status in *status; NULL if
 * within them. A response gets the slack of what the edge itself adds. */
const char *classify_too_many_values(const struct conf *cf, sip_t const *sip,
				     int *status);

/* Proxy-Require option tags not in federation.supported_extensions: how
 * many, and (if any) an "Unsupported: a, b\r\n" header in hdr, or "" when
 * the list would not fit in len. */
size_t classify_unsupported(const struct conf *cf, sip_t const *sip,
			    char *hdr, size_t len);

/* An OPTIONS for the edge itself: no user part, no Route, no To tag, and
 * the host is edge.fqdn, edge.public_address, or (asked through ours) one
 * of the listener addresses of the zone it came from. */
bool classify_to_edge(const struct conf *cf, sip_t const *sip,
		      bool (*ours)(const char *host, void *arg), void *arg);

/* A Route left after ours that names anything but edge.fqdn (or carries
 * a maddr): a node honouring it would make the edge a relay. */
bool classify_foreign_route(const struct conf *cf, sip_route_t const *r);

/* A Request-URI maddr that names a node, an internal name, one of our
 * own addresses or a special address the guard would not let the edge
 * dial. A public maddr (Lync GRUUs carry one) is fine. */
bool classify_maddr_inward(const struct conf *cf, url_t const *u);

/* Where a request from a partner that passed the federation policy goes. */
struct inbound_verdict {
	int node;                  /* >= 0: this node */
	int status;                /* else: refuse with status and reason */
	const char *reason;        /* foreign_route, not_local_domain,
				    * no_node_available */
	char domain[256];          /* the Request-URI host */
};
void classify_inbound(const struct conf *cf, sip_t const *sip, int local_port,
		      int route_port, const bool *node_up, struct inbound_verdict *v);

/* How a request from a node leaves. */
enum outbound_way {
	OUT_BLOCKED,               /* in dialog with a blocked domain */
	OUT_DIRECT,                /* to *u: the peer's Record-Route, or a Contact */
	OUT_POLICY,                /* out of dialog: outbound policy and next hops */
};
enum outbound_way classify_outbound(const struct conf *cf, sip_t const *sip,
				    url_t const **u);

#endif
