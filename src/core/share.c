/* share.c - per-peer counters in a chained hash, keys compared in full. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <openssl/rand.h>

#include "core/share.h"

struct entry {
	struct entry *next;
	unsigned count;
	char key[];
};

struct shares {
	struct entry **bucket;
	size_t nbuckets, nkeys;
	unsigned long long salt;       /* keys come from peers: unguessable */
};

struct shares *shares_new(void)
{
	struct shares *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->nbuckets = 256;
	s->bucket = calloc(s->nbuckets, sizeof *s->bucket);
	if (!s->bucket) {
		free(s);
		return NULL;
	}
	RAND_bytes((unsigned char *)&s->salt, sizeof s->salt);
	return s;
}

void shares_free(struct shares *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct entry *e = s->bucket[i], *n; e; e = n) {
			n = e->next;
			free(e);
		}
	free(s->bucket);
	free(s);
}

/* Keys longer than SHARE_KEY_MAX - 1 count as their first SHARE_KEY_MAX - 1
 * bytes everywhere (hash, compare, store), so take and release always
 * meet the same entry however long a peer's name is. */
#define CUT (SHARE_KEY_MAX - 1)

static size_t slot(const struct shares *s, const char *key, size_t n)
{
	unsigned long long h = 1469598103934665603ull ^ s->salt;
	for (size_t i = 0; *key && i < CUT; key++, i++)
		h = (h ^ (unsigned char)tolower((unsigned char)*key)) * 1099511628211ull;
	h ^= h >> 31;
	return (size_t)(h % n);
}

static struct entry **find(const struct shares *s, const char *key)
{
	struct entry **p = &s->bucket[slot(s, key, s->nbuckets)];
	while (*p && strncasecmp((*p)->key, key, CUT) != 0)
		p = &(*p)->next;
	return p;
}

/* Keep chains short as peers come: double at a load of 1. */
static void grow(struct shares *s)
{
	size_t n = s->nbuckets * 2;
	struct entry **b = calloc(n, sizeof *b);
	if (!b)
		return;            /* longer chains, still correct */
	for (size_t i = 0; i < s->nbuckets; i++)
		for (struct entry *e = s->bucket[i], *next; e; e = next) {
			next = e->next;
			size_t k = slot(s, e->key, n);
			e->next = b[k];
			b[k] = e;
		}
	free(s->bucket);
	s->bucket = b;
	s->nbuckets = n;
}

bool shares_take(struct shares *s, const char *key, unsigned cap)
{
	if (!s || !key)
		return true;
	struct entry **p = find(s, key);
	if (*p) {
		if (cap && (*p)->count >= cap)
			return false;
		(*p)->count++;
		return true;
	}
	size_t len = strnlen(key, CUT);
	struct entry *e = malloc(sizeof *e + len + 1);
	if (!e)
		return false;      /* cannot count it: refuse rather than lose track */
	memcpy(e->key, key, len);
	e->key[len] = '\0';
	e->count = 1;
	e->next = NULL;
	*find(s, e->key) = e;
	if (++s->nkeys > s->nbuckets)
		grow(s);
	return true;
}

void shares_release(struct shares *s, const char *key)
{
	if (!s || !key)
		return;
	struct entry **p = find(s, key);
	if (!*p)
		return;
	if (--(*p)->count == 0) {
		struct entry *e = *p;
		*p = e->next;
		free(e);
		s->nkeys--;
	}
}

unsigned shares_held(const struct shares *s, const char *key)
{
	if (!s || !key)
		return 0;
	struct entry *const *p = find(s, key);
	return *p ? (*p)->count : 0;
}

size_t shares_keys(const struct shares *s)
{
	return s ? s->nkeys : 0;
}
