/* health.h - is each IM and Presence node up? (internal.health)
 *
 * OPTIONS every `interval` seconds; `failures` lost probes in a row make
 * a node down, one answered probe makes it up again. A connection to a
 * node that cannot be made (TCP or TLS) makes it down at once; an
 * established one that breaks counts as a lost probe and triggers the
 * next probe now. With interval = 0 every node counts as up.
 */
#ifndef SIPEDGE_HEALTH_H
#define SIPEDGE_HEALTH_H

#include <stdbool.h>

struct edge;

bool health_start(struct edge *e);
void health_stop(struct edge *e);

/* Up state per node (index as in internal.nodes), for the daemon's
 * status and metrics; the proxy reads the same array through
 * txn_nodes_up(), registered by health_start(). */
const bool *health_up(const struct edge *e);

#endif
