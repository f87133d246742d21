/* counters.h - the edge's counters and latency histograms.
 *
 * The proxy counts; the metrics endpoint (daemon/metrics.c) reads the
 * table and renders it. One table per process: each process runs one
 * event loop, so counting needs no handle, no lock and no dependency (util
 * depends on nothing of ours). With workers, each has its slot in a
 * shared mapping and the endpoint reads the sum (counters_share()). Label values come from fixed sets: a
 * method outside the known list is "other", so peers cannot grow the
 * number of series:
 *   - method: the 16 methods the edge knows, else "other";
 *   - status: the exact code for the common finals, else its class
 *     ("2xx" .. "6xx"), else "other";
 *   - rejections and TLS failures: (event|zone, reason) slugs from the
 *     code, kept in a table of COUNTERS_PAIR_MAX rows; once it is full a
 *     new pair counts under (its event, "other") if that row exists, else
 *     under ("other", "other").
 */
#ifndef SIPEDGE_COUNTERS_H
#define SIPEDGE_COUNTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

enum counter_dir { COUNTER_INBOUND = 0, COUNTER_OUTBOUND = 1 };

#define COUNTERS_METHODS 17        /* 16 known + "other" */
#define COUNTERS_CODES 22          /* exact status codes */
#define COUNTERS_STATUS (COUNTERS_CODES + 6)    /* + 2xx..6xx, "other" */
#define COUNTERS_BUCKETS 17        /* latency bounds, 1 ms .. 180 s; +Inf is one more */
#define COUNTERS_PAIR_MAX 64
#define COUNTERS_LABEL_MAX 48

struct counter_pair {
	char a[COUNTERS_LABEL_MAX], b[COUNTERS_LABEL_MAX];
	unsigned long long n;
};

struct counter_pairs {
	struct counter_pair row[COUNTERS_PAIR_MAX];
	size_t n;
	unsigned long long overflow;     /* ("other", "other") */
};

struct counter_histogram {
	unsigned long long bucket[COUNTERS_BUCKETS + 1]; /* not cumulative; last = +Inf */
	unsigned long long count;
	double sum;
};

/* What a process says about itself (with workers, each in its slot; not
 * summed: the endpoint reads each slot with counters_proc()). */
struct counter_proc {
	int pid;                        /* 0: the slot was never used */
	int config_ok;                  /* 1: last load good, 0: last reload failed */
	double config_time;             /* Unix time of the last good load */
	unsigned long long open_fds;    /* as last published (counters_proc_fds) */
};

struct counters {
	unsigned long long requests[2][COUNTERS_METHODS][COUNTERS_STATUS];
	struct counter_histogram latency[2];
	struct counter_pairs rejections;
	struct counter_pairs tls_failures;
	unsigned long long options_answered;
	struct counter_proc proc;
};

/* A request's final response passed the edge (relayed or made by it),
 * with the time since the request arrived:
 *   counters_request(COUNTER_INBOUND, "MESSAGE", 200, counters_since(&t->started)); */
void counters_request(enum counter_dir dir, const char *method, int status,
		      double seconds);
/* A request the edge answered itself at once, without a transaction (a
 * refusal, its own OPTIONS or CANCEL answer): counted in requests, but not
 * observed in the latency histogram (a refusal is not a 0 s answer). */
void counters_answered(enum counter_dir dir, const char *method, int status);
/* A refusal logged as event=<event> reason=<reason> (events.def slugs). */
void counters_rejection(const char *event, const char *reason);
/* An OPTIONS for the edge itself, answered by it. */
void counters_options_answered(void);
/* A TLS handshake failure; reason is a short slug (tls_failure_slug()). */
void counters_tls_failure(const char *zone, const char *reason);
/* Seconds from a CLOCK_MONOTONIC stamp (struct txn's started) until now;
 * 0 for a stamp never set. */
double counters_since(const struct timespec *start);

/* Reading, for the endpoint: the table, and its label names. */
const struct counters *counters_get(void);
const char *counters_dir_name(size_t d);
const char *counters_method_name(size_t i);
/* The status label of column i: "200", "4xx", "other" (buf for codes). */
const char *counters_status_label(size_t i, char *buf, size_t len);
/* The upper bound of latency bucket i as a label; "+Inf" for the last. */
const char *counters_bucket_label(size_t i);

/* Workers (edge.workers > 1): before forking, one table per worker in a
 * MAP_SHARED mapping; each worker then counts in its slot only (a
 * restarted worker keeps counting in the slot of the one it replaces),
 * and counters_get() returns the sum over every slot. */
bool counters_share(size_t n);
void counters_use_slot(size_t i);

/* This process: started (pid, configuration loaded at now, Unix time),
 * a reload's result (the time moves only when ok), its open descriptors. */
void counters_proc_start(int pid, double now);
void counters_config_loaded(bool ok, double now);
void counters_proc_fds(unsigned long long n);
/* The processes' own records: one per worker slot, or this process's
 * alone (counters_nprocs() == 1 without workers). */
size_t counters_nprocs(void);
const struct counter_proc *counters_proc(size_t i);
/* The pid of the process that made the shared slots (the supervisor of
 * edge.workers), or 0 without workers. */
int counters_supervisor(void);

/* Everything back to 0 (unit tests). */
void counters_reset(void);

#endif
