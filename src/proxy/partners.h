/* partners.h - what each partner domain did lately, for sipedge-ctl
 * partners: requests accepted and refused each way, the last refusal's
 * reason. A hash keyed by the domain (one lookup per request) over a
 * bounded set: when full, the domain seen least recently goes (LRU).
 */
#ifndef SIPEDGE_PARTNERS_H
#define SIPEDGE_PARTNERS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define PARTNERS_MAX 1024
#define PARTNER_DOMAIN_MAX 128

enum partner_dir { PARTNER_IN, PARTNER_OUT };

struct partner_stats {
	char domain[PARTNER_DOMAIN_MAX];   /* lower case */
	uint64_t accepted[2], refused[2];  /* by enum partner_dir */
	char last_reason[48];              /* last refusal, "" = none */
	int last_refused;                  /* 1: the last request was refused */
	time_t first_seen, last_seen;
};

struct partners;

struct partners *partners_new(size_t max);
void partners_free(struct partners *p);

/* NULL-safe; a domain too long to keep is not counted. */
void partners_accepted(struct partners *p, const char *domain, enum partner_dir d);
void partners_refused(struct partners *p, const char *domain, enum partner_dir d,
		      const char *reason);

/* Most recently seen first. */
void partners_each(const struct partners *p,
		   void (*fn)(const struct partner_stats *s, void *arg), void *arg);
size_t partners_count(const struct partners *p);

#endif
