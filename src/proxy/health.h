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

#include "net/conn.h"

struct edge;

bool health_start(struct edge *e);
void health_stop(struct edge *e);

/* Up state per node (index as in internal.nodes), for route decisions. */
const bool *health_up(const struct edge *e);

/* A connection to node closed or failed (conn.c via proxy.c). */
void health_conn_lost(struct edge *e, int node, enum conn_fail why,
		      const char *reason);

#endif
