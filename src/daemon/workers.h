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
struct mask_prev;
struct rate_table;

/* How many workers conf asks for: edge.workers, or for "auto" the online
 * CPUs (1..64). */
int workers_count(const struct conf *c);

/* What the workers share, mapped before the fork (counters aside). */
struct workers_shared {
	struct rate_table *rates;   /* one bucket table for the whole edge */
	struct node_view *node_up;  /* node health: worker 0 writes, all read */
	size_t node_up_n;
};

/* Forks n (> 1) workers and supervises them. Returns true in a worker,
 * with *index its slot (0..n-1), *sh the shared tables, *conf and key the
 * configuration, Call-ID mask key and previous key (rotation) to start
 * from (on SIGHUP the supervisor reloads *conf, key when edge.secret_file
 * changes and prev when edge.secret_previous_file does, so a
 * worker restarted later starts from the last good one); false in the
 * supervisor once every worker is gone, with *rc its exit code. */
bool workers_run(int n, struct conf **conf, unsigned char key[32], struct mask_prev *prev,
		 int *index, struct workers_shared *sh, int *rc);

/* In a worker, from its periodic tick: "my loop turns" (the supervisor
 * kills one silent for 10 s). A no-op in a single process. */
void workers_heartbeat(void);

/* In a worker, after the privilege drop (which clears it): the
 * parent-death signal again; false if the supervisor is already gone. In a
 * single process: true. */
bool workers_after_drop(void);

/* A worker tells the supervisor it has started (after its READY point). */
void workers_ready(void);

#endif
