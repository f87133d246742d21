/* outbound.h - the outbound stage: where an out-of-dialog request from a
 * node goes (SPEC sections 2 and 4). The configured part is decided in
 * core/nexthop.c; this stage adds the domain's _sipfederationtls._tcp SRV
 * lookup, and hands its decision to the pipeline, which forwards or
 * refuses: the stage never calls back into the proxy. */
#ifndef SIPEDGE_OUTBOUND_H
#define SIPEDGE_OUTBOUND_H

#include <stdbool.h>
#include <sofia-sip/msg.h>

#include "core/diag.h"
#include "proxy/txn.h"

struct conn;

struct outbound_decision {
	int status;                /* 0: forward to tg[0..ntargets) */
	const char *reason;        /* else: event outbound_failed, this reason */
	const char *text;          /* refuse with this Warning text, or ... */
	enum diag_code code;       /* ... these diagnostics, with domain and fq */
	char domain[256];
	char fq[4][300];           /* "host:port" of the SRV targets seen */
	size_t nfq;
	struct txn_target tg[TXN_MAX_TARGETS];
	size_t ntargets;
};

/* Called once per request, perhaps after a DNS lookup; takes msg. */
typedef void outbound_done_fn(struct conn *c, msg_t *msg,
			      const struct outbound_decision *d);

/* Takes ownership of msg: decides (possibly after an SRV lookup) and
 * passes msg with the decision to done; if the node's connection closed
 * meanwhile, msg is dropped (nobody to answer). The policy applies to
 * out-of-dialog requests only; in_dialog ones are just routed. */
void outbound_route(struct conn *c, msg_t *msg, bool in_dialog,
		    outbound_done_fn *done);

#endif
