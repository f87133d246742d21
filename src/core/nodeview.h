/* nodeview.h - node health shared between workers (edge.workers > 1).
 *
 * Worker 0 probes the nodes and writes their up/down state into a shared
 * mapping; the other workers read it. Each worker indexes nodes by its own
 * internal.nodes order, which differs from the prober's while a reload is
 * under way (or failed in one worker and not another). The header says
 * which node list the array is in: a reader whose list differs ignores it.
 */
#ifndef SIPEDGE_NODEVIEW_H
#define SIPEDGE_NODEVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/types.h"

struct node_view {
	uint64_t gen;       /* nodeview_gen() of the writer's list; 0: being written */
	uint32_t nnodes;
	bool up[];          /* nnodes entries, in the writer's order */
};

/* Bytes of a view with room for n nodes. */
size_t nodeview_bytes(size_t n);

/* A hash of c's node list: order, name, address, transport, SIP port.
 * Never 0. */
uint64_t nodeview_gen(const struct conf *c);

/* The shared up[] if v describes the node list with hash gen and nnodes
 * nodes, else NULL (route by one's own view). */
const bool *nodeview_read(const struct node_view *v, uint64_t gen, size_t nnodes);

/* The writer (re)starting on list gen/nnodes (a restart or a reload): with
 * keep, true if v already holds that list (a prober on the same list keeps
 * the state, its next probe corrects it); otherwise, or without keep (the
 * writer does not probe: nothing would ever correct a "down"), v is reset
 * to that list, every node up, and false. */
bool nodeview_claim(struct node_view *v, uint64_t gen, size_t nnodes, bool keep);

#endif
