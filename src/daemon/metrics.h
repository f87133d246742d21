/* metrics.h - counters for Prometheus (admin.metrics_address/port).
 *
 * Callers count events; gauges (connections, nodes, transactions, DNS
 * cache) are read from the daemon's state when /metrics is scraped.
 * Label values come from fixed sets: a method outside the known list is
 * "other", so peers cannot grow the number of series.
 */
#ifndef SIPEDGE_METRICS_H
#define SIPEDGE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct edge;
struct metrics;

enum metric_dir { METRIC_INBOUND = 0, METRIC_OUTBOUND = 1 };

struct metrics *metrics_new(struct edge *e);
/* Start the HTTP endpoint if admin.metrics_port != 0; false (logged) if
 * it cannot listen. */
bool metrics_listen(struct metrics *m);
void metrics_free(struct metrics *m);

/* A request's final response passed the edge (relayed or made by it),
 * with the time since the request arrived. */
void metrics_request(struct metrics *m, enum metric_dir dir, const char *method,
		     int status, double seconds);
/* A refusal logged as event=<event> reason=<reason> (slugs, see sipedge(8)). */
void metrics_rejection(struct metrics *m, const char *event, const char *reason);
/* An OPTIONS for the edge itself, answered by it. */
void metrics_options_answered(struct metrics *m);
/* A TLS handshake failure; reason is a short slug (tls_failure_slug()). */
void metrics_tls_failure(struct metrics *m, const char *zone, const char *reason);

/* Seconds from a CLOCK_MONOTONIC stamp (struct txn's started) until now. */
double metrics_since(const struct timespec *start);
/* The exposition /metrics serves, as a malloc'd NUL-terminated string
 * (length in *len if len is not NULL); NULL if m is NULL or out of memory. */
char *metrics_text(struct metrics *m, size_t *len);

#endif
