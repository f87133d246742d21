/* rate.h - per-domain request rate caps (token buckets), pure.
 *
 * Direct-mapped: a domain whose slot is taken by another starts a fresh
 * bucket. That bounds memory whatever the number of domains; a domain
 * only ever gains a burst of `rate` from an eviction.
 */
#ifndef SIPEDGE_RATE_H
#define SIPEDGE_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rate_table;

struct rate_table *rate_table_new(size_t slots);
void rate_table_free(struct rate_table *t);

/* May one more request for domain pass at now_ms, at `rate` per second
 * with bursts up to `rate`? rate <= 0 means unlimited. */
bool rate_allow(struct rate_table *t, const char *domain, int rate,
		uint64_t now_ms);

#endif
