/* rate.h - request rate caps (token buckets), pure.
 *
 * Keys are what a cap belongs to: an allowed entry of edge.conf, or the
 * certificate identity that proved a discovered domain (never the
 * claimed string, which a peer can vary). Fixed memory: a key finds a
 * free or refilled bucket near its hash or is refused; a busy bucket is
 * never handed to another key, so collisions grant no fresh burst.
 */
#ifndef SIPEDGE_RATE_H
#define SIPEDGE_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rate_table;

struct rate_table *rate_table_new(size_t slots);
void rate_table_free(struct rate_table *t);

/* A table in memory the caller owns (rate_table_bytes(slots) of it), such
 * as a MAP_SHARED mapping made before the workers fork: every worker then
 * draws from the same buckets, under a process-shared robust lock, so a
 * cap holds for the whole edge. rate_table_free() leaves the memory. */
size_t rate_table_bytes(size_t slots);
struct rate_table *rate_table_place(void *mem, size_t slots);

/* May one more request for key pass at now_ms, at `rate` per second
 * with bursts up to `rate`? rate <= 0 means unlimited. Keys compare
 * case-insensitively. */
bool rate_allow(struct rate_table *t, const char *key, int rate,
		uint64_t now_ms);

#endif
