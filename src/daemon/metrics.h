/* metrics.h - the Prometheus endpoint (admin.metrics_address/port).
 *
 * The counters themselves live in util/counters.h, where the proxy counts;
 * this endpoint renders them with gauges (connections, nodes,
 * transactions, DNS cache) read from the daemon's state when /metrics is
 * scraped.
 */
#ifndef SIPEDGE_METRICS_H
#define SIPEDGE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/counters.h"

struct edge;
struct evbuffer;
struct metrics;

struct metrics *metrics_new(struct edge *e);
/* Start the HTTP endpoint if admin.metrics_port != 0; false (logged) if
 * it cannot listen. */
bool metrics_listen(struct metrics *m);
void metrics_free(struct metrics *m);

/* Append the exposition /metrics serves to b. m may be NULL (counters
 * only, no gauges, start time 0). */
void metrics_render(const struct metrics *m, struct evbuffer *b);

#endif
