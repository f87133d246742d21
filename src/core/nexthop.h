/* nexthop.h - where an out-of-dialog request from a node goes, as far as
 * the configuration decides it (SPEC sections 2 and 4): outbound policy,
 * then a static route or a fixed partner edge; otherwise the domain's
 * SRV records must be looked up (src/proxy/outbound.c does that).
 * Pure: a verdict, no I/O.
 */
#ifndef SIPEDGE_NEXTHOP_H
#define SIPEDGE_NEXTHOP_H

#include <stdbool.h>
#include <stddef.h>

#include "core/diag.h"
#include "core/types.h"

#define NEXTHOP_MAX 8

struct next_hop {
	char host[256];
	int port;
};

enum nexthop_verdict {
	NEXTHOP_REFUSE,            /* status, reason, code */
	NEXTHOP_GO,                /* hop[0..n) in order */
	NEXTHOP_SRV,               /* look up the domain's SRV records */
};

struct nexthop {
	enum nexthop_verdict verdict;
	int status;
	const char *reason;        /* local_domain, domain_blocked,
				    * domain_not_federated */
	enum diag_code code;
	struct next_hop hop[NEXTHOP_MAX];
	size_t n;
};

/* The policy applies to out-of-dialog requests only; in-dialog ones are
 * just routed. */
void nexthop_outbound(const struct conf *cf, const char *domain, bool in_dialog,
		      struct nexthop *d);

#endif
