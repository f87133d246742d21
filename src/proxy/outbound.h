/* outbound.h - where an out-of-dialog request from a node goes (SPEC
 * sections 2 and 4, outbound): outbound policy, then a static route, a
 * fixed partner edge, or the domain's _sipfederationtls._tcp SRV targets. */
#ifndef SIPEDGE_OUTBOUND_H
#define SIPEDGE_OUTBOUND_H

#include <stdbool.h>
#include <sofia-sip/msg.h>

struct conn;

/* Takes ownership of msg: forwards it (possibly after an SRV lookup) or
 * answers the node with the reason it cannot go out. The policy applies
 * to out-of-dialog requests only; in_dialog ones are just routed. */
void outbound_route(struct conn *c, msg_t *msg, bool in_dialog);

#endif
