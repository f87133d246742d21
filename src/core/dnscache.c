/* dnscache.c - chained hash over a fixed bucket array plus an LRU list.
 *
 * The bucket array is sized once (a power of two >= max_entries), so the
 * table never rehashes and chains stay short. Names come indirectly from
 * peers (a claimed From domain is looked up), so the hash is salted: a peer
 * cannot choose names that all fall in one bucket, where every lookup of a
 * name there would walk up to max_entries.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "core/dnscache.h"

struct entry {
	struct entry *hnext;            /* bucket chain */
	struct entry *newer, *older;    /* LRU list */
	unsigned hash;
	enum dnscache_type type;
	bool negative;
	time_t expires;
	size_t n;
	void *recs;
	char name[256];
};

struct dnscache {
	struct entry **buckets;
	size_t mask;
	struct entry *newest, *oldest;
	size_t max;
	size_t entries;         /* the bound counts them */
	int max_ttl, negative_ttl;
	uint64_t salt;          /* names come from peers: unguessable buckets */
};

struct dnscache *dnscache_new(size_t max_entries, int max_ttl, int negative_ttl)
{
	struct dnscache *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	size_t nb = 16;
	while (nb < max_entries)
		nb *= 2;
	c->buckets = calloc(nb, sizeof *c->buckets);
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	c->mask = nb - 1;
	c->max = max_entries;
	c->max_ttl = max_ttl;
	c->negative_ttl = negative_ttl;
	RAND_bytes((unsigned char *)&c->salt, sizeof c->salt);
	return c;
}

static void free_entry(struct entry *e)
{
	free(e->recs);
	free(e);
}

void dnscache_free(struct dnscache *c)
{
	if (!c)
		return;
	for (struct entry *e = c->newest, *next; e; e = next) {
		next = e->older;
		free_entry(e);
	}
	free(c->buckets);
	free(c);
}

/* "Partner.TEST." and "partner.test" are one DNS name. */
static bool normalize(const char *name, char key[256])
{
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = name[i];
		key[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch - 'A' + 'a') : ch;
	}
	key[len] = '\0';
	return true;
}

static unsigned hash_key(const struct dnscache *c, enum dnscache_type t, const char *key)
{
	uint64_t h = (1469598103934665603ull ^ c->salt) + (uint64_t)t;
	for (; *key; key++)
		h = (h ^ (unsigned char)*key) * 1099511628211ull;
	return (unsigned)(h ^ (h >> 32));
}

/* The link that points at (t, key), or at the chain's terminating NULL. */
static struct entry **find(struct dnscache *c, enum dnscache_type t,
			   const char *key, unsigned h)
{
	struct entry **pp = &c->buckets[h & c->mask];
	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && (*pp)->type == t &&
		    strcmp((*pp)->name, key) == 0)
			break;
	return pp;
}

static void lru_unlink(struct dnscache *c, struct entry *e)
{
	*(e->newer ? &e->newer->older : &c->newest) = e->older;
	*(e->older ? &e->older->newer : &c->oldest) = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct dnscache *c, struct entry *e)
{
	e->older = c->newest;
	*(c->newest ? &c->newest->newer : &c->oldest) = e;
	c->newest = e;
}

static void drop(struct dnscache *c, struct entry **link)
{
	struct entry *e = *link;
	*link = e->hnext;
	lru_unlink(c, e);
	free_entry(e);
	c->entries--;
}

enum dnscache_result dnscache_lookup(struct dnscache *c, enum dnscache_type t,
				     const char *name, time_t now,
				     struct dnscache_answer *out)
{
	char key[256];
	memset(out, 0, sizeof *out);
	struct entry **link;
	if (!normalize(name, key) || !*(link = find(c, t, key, hash_key(c, t, key))))
		return DNSCACHE_MISS;
	struct entry *e = *link;
	if (now >= e->expires) {
		drop(c, link);
		return DNSCACHE_EXPIRED;
	}
	lru_unlink(c, e);
	lru_push(c, e);
	out->expires = e->expires;
	if (e->negative)
		return DNSCACHE_NEGATIVE;
	out->n = e->n;
	if (t == DNSCACHE_SRV)
		out->srv = e->recs;
	else
		out->addrs = e->recs;
	return DNSCACHE_HIT;
}

static size_t rec_size(enum dnscache_type t)
{
	return t == DNSCACHE_SRV ? sizeof(struct dns_srv)
				 : sizeof(struct sockaddr_storage);
}

/* recs == NULL stores a negative entry. */
static bool store(struct dnscache *c, enum dnscache_type t, const char *name,
		  const void *recs, size_t n, int ttl, time_t now)
{
	char key[256];
	if (ttl <= 0 || c->max == 0 || !normalize(name, key))
		return false;
	struct entry *e = calloc(1, sizeof *e);
	if (!e || (recs && !(e->recs = malloc(n * rec_size(t))))) {
		free(e);
		return false;
	}
	if (recs)
		memcpy(e->recs, recs, n * rec_size(t));
	e->negative = !recs;
	e->n = recs ? n : 0;
	e->type = t;
	e->expires = now + ttl;
	e->hash = hash_key(c, t, key);
	strcpy(e->name, key);

	struct entry **link = find(c, t, key, e->hash);
	if (*link) {
		drop(c, link);
	} else if (c->entries >= c->max) {
		struct entry *old = c->oldest;
		drop(c, find(c, old->type, old->name, old->hash));
	}
	struct entry **head = &c->buckets[e->hash & c->mask];
	e->hnext = *head;
	*head = e;
	lru_push(c, e);
	c->entries++;
	return true;
}

bool dnscache_put(struct dnscache *c, enum dnscache_type t, const char *name,
		  const void *recs, size_t n, int ttl, time_t now)
{
	if (!recs || n == 0 || n > DNSCACHE_MAX_RECORDS)
		return false;
	return store(c, t, name, recs, n, ttl < c->max_ttl ? ttl : c->max_ttl, now);
}

bool dnscache_put_negative(struct dnscache *c, enum dnscache_type t,
			   const char *name, time_t now)
{
	return store(c, t, name, NULL, 0, c->negative_ttl, now);
}

/* Offset just past the name at off, or 0. A compression pointer ends the
 * name where it stands, so nothing is followed and nothing can loop. */
static size_t skip_name(const unsigned char *m, size_t len, size_t off)
{
	while (off < len) {
		unsigned l = m[off];
		if ((l & 0xc0) == 0xc0)
			return off + 2 <= len ? off + 2 : 0;
		if (l & 0xc0)
			return 0;       /* obsolete label types */
		off += 1 + l;
		if (l == 0)
			return off;
	}
	return 0;
}

static unsigned get16(const unsigned char *p)
{
	return (unsigned)p[0] << 8 | p[1];
}

int dnscache_answer_ttl(const unsigned char *msg, size_t len)
{
	if (!msg || len < 12)
		return 0;
	unsigned qd = get16(msg + 4), an = get16(msg + 6);
	size_t off = 12;
	for (unsigned i = 0; i < qd; i++)
		if (!(off = skip_name(msg, len, off)) || (off += 4) > len)
			return 0;
	uint32_t min = UINT32_MAX;
	for (unsigned i = 0; i < an; i++) {
		if (!(off = skip_name(msg, len, off)) || off + 10 > len)
			return 0;
		const unsigned char *rr = msg + off;
		uint32_t ttl = (uint32_t)get16(rr + 4) << 16 | get16(rr + 6);
		if (ttl > INT32_MAX)
			ttl = 0;        /* RFC 2181 section 8 */
		if (ttl < min)
			min = ttl;
		off += 10 + get16(rr + 8);
		if (off > len)
			return 0;
	}
	return an ? (int)min : 0;
}

/* "partner.test" names itself and every name below it. */
static bool under(const char *name, const char *domain, size_t dlen)
{
	size_t n = strlen(name);
	return n >= dlen && strcmp(name + n - dlen, domain) == 0 &&
	       (n == dlen || name[n - dlen - 1] == '.');
}

size_t dnscache_flush(struct dnscache *c, const char *domain)
{
	char key[256];
	if (domain && !normalize(domain, key))
		return 0;
	size_t dlen = domain ? strlen(key) : 0, n = 0;
	for (struct entry *e = c->newest, *older; e; e = older) {
		older = e->older;
		if (domain && !under(e->name, key, dlen))
			continue;
		drop(c, find(c, e->type, e->name, e->hash));
		n++;
	}
	return n;
}
