/* rate.c - token buckets in milli-tokens, refilled on use.
 *
 * Open addressing over a fixed table, keys compared in full, probing a
 * short window from a salted hash. A bucket is only ever replaced when it
 * is empty or has refilled to its cap (then forgetting it changes
 * nothing); when the whole window is busy the request is refused. So no
 * second name can refill a busy bucket, and memory is fixed.
 */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/rand.h>

#include "core/rate.h"

#define RATE_KEY_MAX 160
#define RATE_WINDOW 8          /* slots probed per key */

struct bucket {
	char key[RATE_KEY_MAX];    /* "" = free */
	int rate;
	int64_t millitokens;
	uint64_t last_ms;
};

struct rate_table {
	size_t n;
	uint64_t salt;
	bool placed;               /* memory is the caller's (rate_table_place) */
	bool locked;               /* shared by processes: take lock */
	pthread_mutex_t lock;
	struct bucket b[];
};

struct rate_table *rate_table_new(size_t slots)
{
	struct rate_table *t = calloc(1, sizeof *t + slots * sizeof t->b[0]);
	if (t) {
		t->n = slots;
		RAND_bytes((unsigned char *)&t->salt, sizeof t->salt);
	}
	return t;
}

size_t rate_table_bytes(size_t slots)
{
	return sizeof(struct rate_table) + slots * sizeof(struct bucket);
}

struct rate_table *rate_table_place(void *mem, size_t slots)
{
	struct rate_table *t = mem;
	pthread_mutexattr_t a;
	memset(t, 0, rate_table_bytes(slots));
	t->n = slots;
	t->placed = true;
	RAND_bytes((unsigned char *)&t->salt, sizeof t->salt);
	/* Robust: a worker that dies holding it does not stop the others. */
	if (pthread_mutexattr_init(&a) != 0)
		return NULL;
	bool ok = pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED) == 0 &&
		  pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST) == 0 &&
		  pthread_mutex_init(&t->lock, &a) == 0;
	pthread_mutexattr_destroy(&a);
	t->locked = ok;
	return ok ? t : NULL;
}

void rate_table_free(struct rate_table *t)
{
	if (t && !t->placed)
		free(t);
}

static size_t slot_of(const struct rate_table *t, const char *k)
{
	uint64_t h = 1469598103934665603ull ^ t->salt;
	for (; *k; k++)
		h = (h ^ (unsigned char)tolower((unsigned char)*k)) * 1099511628211ull;
	h ^= h >> 29;
	return (size_t)(h % t->n);
}

static void refill(struct bucket *b, uint64_t now_ms)
{
	int64_t cap = (int64_t)b->rate * 1000;
	if (now_ms > b->last_ms) {
		/* rate tokens per second = rate milli-tokens per millisecond */
		uint64_t dt = now_ms - b->last_ms;
		b->millitokens = dt >= (uint64_t)cap ? cap
			: b->millitokens + (int64_t)dt * b->rate;
		if (b->millitokens > cap)
			b->millitokens = cap;
		b->last_ms = now_ms;
	}
}

/* Free, or refilled to its cap: replacing it loses nothing. */
static bool reusable(struct bucket *b, uint64_t now_ms)
{
	if (!b->key[0])
		return true;
	refill(b, now_ms);
	return b->millitokens >= (int64_t)b->rate * 1000;
}

static bool allow(struct rate_table *t, const char *key, int rate,
		  uint64_t now_ms)
{
	size_t len = strlen(key);
	if (len >= RATE_KEY_MAX)
		len = RATE_KEY_MAX - 1;   /* keys are configured or proven names */
	size_t home = slot_of(t, key), window = t->n < RATE_WINDOW ? t->n : RATE_WINDOW;
	struct bucket *b = NULL, *spare = NULL;
	for (size_t i = 0; i < window && !b; i++) {
		struct bucket *s = &t->b[(home + i) % t->n];
		if (strncasecmp(s->key, key, len) == 0 && s->key[len] == '\0')
			b = s;
		else if (!spare && reusable(s, now_ms))
			spare = s;
	}
	if (!b) {
		if (!spare)
			return false;     /* every bucket near it is in use: refuse */
		b = spare;
		memcpy(b->key, key, len);
		b->key[len] = '\0';
		b->rate = rate;
		b->millitokens = (int64_t)rate * 1000;
		b->last_ms = now_ms;
	}
	if (b->rate != rate) {           /* the configuration changed */
		b->rate = rate;
		if (b->millitokens > (int64_t)rate * 1000)
			b->millitokens = (int64_t)rate * 1000;
	}
	refill(b, now_ms);
	if (b->millitokens < 1000)
		return false;
	b->millitokens -= 1000;
	return true;
}

bool rate_allow(struct rate_table *t, const char *key, int rate,
		uint64_t now_ms)
{
	if (rate <= 0 || !t || t->n == 0)
		return true;
	if (!t->locked)
		return allow(t, key, rate, now_ms);
	int rc = pthread_mutex_lock(&t->lock);
	if (rc == EOWNERDEAD)            /* a bucket may be half-updated: */
		pthread_mutex_consistent(&t->lock);   /* at worst a token off */
	else if (rc != 0)
		return false;
	bool ok = allow(t, key, rate, now_ms);
	pthread_mutex_unlock(&t->lock);
	return ok;
}
