/* workers.h - edge.workers: event-loop processes sharing the ports.
 *
 * With more than one worker the main process becomes a supervisor: it
 * makes the shared tables (counters, rate buckets), forks the workers
 * (each then starts the edge as a single process would, binding its own
 * SO_REUSEPORT sockets), restarts one that dies, forwards SIGHUP and
 * SIGTERM, and alone talks to systemd. See doc/design.md.
 */
#ifndef SIPEDGE_WORKERS_H
#define SIPEDGE_WORKERS_H

#include <stdbool.h>

struct conf;
struct rate_table;

/* How many workers conf asks for: edge.workers, or for "auto" the online
 * CPUs (1..64). */
int workers_count(const struct conf *c);

/* What the workers share, mapped before the fork (counters aside). */
struct workers_shared {
	struct rate_table *rates;   /* one bucket table for the whole edge */
	bool *node_up;              /* node health: worker 0 writes, all read */
	size_t node_up_n;
};

/* Forks n (> 1) workers and supervises them. Returns true in a worker,
 * with *index its slot (0..n-1) and *sh the shared tables; false in the
 * supervisor once every worker is gone, with *rc its exit code. */
bool workers_run(int n, int *index, struct workers_shared *sh, int *rc);

/* A worker tells the supervisor it has started (after its READY point). */
void workers_ready(void);

#endif
