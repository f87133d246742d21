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

/*
 * Merge shims (issue 15): the counting calls as they were before the
 * counters moved to util. m is ignored (the counters are process-wide).
 * Nothing in this branch calls them but net/conn.c's
 * metrics_tls_failure(); drop-in replacements are in util/counters.h.
 * Remove once no caller is left.
 */
enum metric_dir { METRIC_INBOUND = COUNTER_INBOUND, METRIC_OUTBOUND = COUNTER_OUTBOUND };

static inline void metrics_request(struct metrics *m, enum metric_dir dir,
				   const char *method, int status, double seconds)
{
	(void)m;
	counters_request((enum counter_dir)dir, method, status, seconds);
}

static inline void metrics_rejection(struct metrics *m, const char *event,
				     const char *reason)
{
	(void)m;
	counters_rejection(event, reason);
}

static inline void metrics_options_answered(struct metrics *m)
{
	(void)m;
	counters_options_answered();
}

static inline void metrics_tls_failure(struct metrics *m, const char *zone,
				       const char *reason)
{
	(void)m;
	counters_tls_failure(zone, reason);
}

static inline double metrics_since(const struct timespec *start)
{
	return counters_since(start);
}

#endif
