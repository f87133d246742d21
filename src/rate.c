/* rate.c - token buckets in milli-tokens, refilled on use. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "rate.h"

#define RATE_DOMAIN_MAX 128

struct bucket {
	char domain[RATE_DOMAIN_MAX];
	int64_t millitokens;
	uint64_t last_ms;
};

struct rate_table {
	size_t n;
	struct bucket b[];
};

struct rate_table *rate_table_new(size_t slots)
{
	struct rate_table *t = calloc(1, sizeof *t + slots * sizeof t->b[0]);
	if (t)
		t->n = slots;
	return t;
}

void rate_table_free(struct rate_table *t)
{
	free(t);
}

static size_t slot_of(const struct rate_table *t, const char *d)
{
	uint64_t h = 1469598103934665603ull;
	for (; *d; d++)
		h = (h ^ (unsigned char)tolower((unsigned char)*d)) * 1099511628211ull;
	return (size_t)(h % t->n);
}

bool rate_allow(struct rate_table *t, const char *domain, int rate,
		uint64_t now_ms)
{
	if (rate <= 0 || !t || t->n == 0)
		return true;
	struct bucket *b = &t->b[slot_of(t, domain)];
	int64_t cap = (int64_t)rate * 1000;
	if (strcasecmp(b->domain, domain) != 0) {
		size_t n = strlen(domain);
		if (n >= RATE_DOMAIN_MAX)
			n = RATE_DOMAIN_MAX - 1;
		memcpy(b->domain, domain, n);
		b->domain[n] = '\0';
		b->millitokens = cap;
		b->last_ms = now_ms;
	}
	if (now_ms > b->last_ms) {
		/* rate tokens per second = rate milli-tokens per millisecond */
		b->millitokens += (int64_t)(now_ms - b->last_ms) * rate;
		if (b->millitokens > cap)
			b->millitokens = cap;
		b->last_ms = now_ms;
	}
	if (b->millitokens < 1000)
		return false;
	b->millitokens -= 1000;
	return true;
}
