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

/* May one more request for key pass at now_ms, at `rate` per second
 * with bursts up to `rate`? rate <= 0 means unlimited. Keys compare
 * case-insensitively. */
bool rate_allow(struct rate_table *t, const char *key, int rate,
		uint64_t now_ms);

#endif
