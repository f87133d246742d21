/* partners.c - per partner domain counters (partners.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>

#include "proxy/partners.h"

struct entry {
	struct partner_stats s;
	unsigned hash;
	struct entry *hnext;
	struct entry *newer, *older;   /* LRU list */
};

struct partners {
	struct entry **buckets;
	size_t mask, n, max;
	struct entry *newest, *oldest;
	unsigned long long salt;       /* domains come from peers and nodes */
};

struct partners *partners_new(size_t max)
{
	struct partners *p = calloc(1, sizeof *p);
	size_t nb = 16;
	while (nb < max)
		nb *= 2;
	if (!p || !(p->buckets = calloc(nb, sizeof *p->buckets))) {
		free(p);
		return NULL;
	}
	p->mask = nb - 1;
	p->max = max ? max : 1;
	RAND_bytes((unsigned char *)&p->salt, sizeof p->salt);
	return p;
}

void partners_free(struct partners *p)
{
	if (!p)
		return;
	for (struct entry *e = p->newest, *next; e; e = next) {
		next = e->older;
		free(e);
	}
	free(p->buckets);
	free(p);
}

static bool key_of(const struct partners *p, const char *domain,
		   char key[PARTNER_DOMAIN_MAX], unsigned *h)
{
	size_t n = domain ? strlen(domain) : 0;
	if (n > 0 && domain[n - 1] == '.')
		n--;
	if (n == 0 || n >= PARTNER_DOMAIN_MAX)
		return false;
	unsigned long long x = 1469598103934665603ull ^ p->salt;
	for (size_t i = 0; i < n; i++) {
		char ch = domain[i];
		key[i] = ch >= 'A' && ch <= 'Z' ? (char)(ch - 'A' + 'a') : ch;
		x = (x ^ (unsigned char)key[i]) * 1099511628211ull;
	}
	key[n] = '\0';
	*h = (unsigned)(x ^ (x >> 32));
	return true;
}

static struct entry **find(struct partners *p, const char *key, unsigned h)
{
	struct entry **pp = &p->buckets[h & p->mask];
	for (; *pp; pp = &(*pp)->hnext)
		if ((*pp)->hash == h && strcmp((*pp)->s.domain, key) == 0)
			break;
	return pp;
}

static void lru_unlink(struct partners *p, struct entry *e)
{
	*(e->newer ? &e->newer->older : &p->newest) = e->older;
	*(e->older ? &e->older->newer : &p->oldest) = e->newer;
	e->newer = e->older = NULL;
}

static void lru_push(struct partners *p, struct entry *e)
{
	e->older = p->newest;
	*(p->newest ? &p->newest->newer : &p->oldest) = e;
	p->newest = e;
}

/* The domain's entry, made (evicting the oldest) when new; now touched. */
static struct partner_stats *touch(struct partners *p, const char *domain)
{
	char key[PARTNER_DOMAIN_MAX];
	unsigned h;
	if (!p || !key_of(p, domain, key, &h))
		return NULL;
	time_t now = time(NULL);
	struct entry **link = find(p, key, h), *e = *link;
	if (e) {
		lru_unlink(p, e);
	} else {
		if (p->n >= p->max) {
			struct entry *old = p->oldest;
			struct entry **ol = find(p, old->s.domain, old->hash);
			*ol = old->hnext;
			lru_unlink(p, old);
			free(old);
			p->n--;
			link = find(p, key, h);   /* the chain may have changed */
		}
		if (!(e = calloc(1, sizeof *e)))
			return NULL;
		memcpy(e->s.domain, key, strlen(key) + 1);
		e->hash = h;
		e->s.first_seen = now;
		e->hnext = *link;
		*link = e;
		p->n++;
	}
	lru_push(p, e);
	e->s.last_seen = now;
	return &e->s;
}

void partners_accepted(struct partners *p, const char *domain, enum partner_dir d)
{
	struct partner_stats *s = touch(p, domain);
	if (s) {
		s->accepted[d]++;
		s->last_refused = 0;
	}
}

void partners_refused(struct partners *p, const char *domain, enum partner_dir d,
		      const char *reason)
{
	struct partner_stats *s = touch(p, domain);
	if (!s)
		return;
	s->refused[d]++;
	s->last_refused = 1;
	size_t n = reason ? strlen(reason) : 0;
	if (n >= sizeof s->last_reason)
		n = sizeof s->last_reason - 1;
	memcpy(s->last_reason, reason ? reason : "", n);
	s->last_reason[n] = '\0';
}

void partners_each(const struct partners *p,
		   void (*fn)(const struct partner_stats *s, void *arg), void *arg)
{
	for (const struct entry *e = p ? p->newest : NULL; e; e = e->older)
		fn(&e->s, arg);
}

size_t partners_count(const struct partners *p)
{
	return p ? p->n : 0;
}
