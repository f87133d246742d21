/* dnscache.h - DNS answers kept within their TTL. Pure: no sockets, no
 * resolver, the clock is an argument, so tests decide what time it is.
 *
 * Key: (type, name), name compared case-insensitively and without one
 * trailing dot. Value: a positive answer (SRV records or addresses) or a
 * negative one (NXDOMAIN/NODATA). An entry inserted at NOW with TTL T
 * answers while now < NOW + T, so T = 0 means "do not cache".
 *
 * Size is bounded; when full, the least recently used entry goes. Expired
 * entries are dropped when a lookup finds them; until then they age out of
 * the LRU order like any other unused entry.
 */
#ifndef SIPEDGE_DNSCACHE_H
#define SIPEDGE_DNSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <sys/socket.h>

#include "core/srv.h"

#define DNSCACHE_MAX_RECORDS 64     /* per entry; callers pass far fewer */
#define DNSCACHE_DEFAULT_SIZE 4096

/* ADDR is one getaddrinfo answer: A and AAAA together. */
enum dnscache_type { DNSCACHE_ADDR = 1, DNSCACHE_SRV = 2 };

enum dnscache_result {
	DNSCACHE_MISS = 0,
	DNSCACHE_HIT,           /* positive answer in *out */
	DNSCACHE_NEGATIVE,      /* name or records known not to exist */
	DNSCACHE_EXPIRED,       /* was there, now dropped: ask again */
};

/* Pointers stay valid until the next insert, lookup or free. */
struct dnscache_answer {
	const struct dns_srv *srv;              /* DNSCACHE_SRV */
	const struct sockaddr_storage *addrs;   /* DNSCACHE_ADDR */
	size_t n;
	time_t expires;
};

struct dnscache;

/* max_ttl caps positive TTLs, negative_ttl is the life of negative
 * entries; 0 disables either kind. */
struct dnscache *dnscache_new(size_t max_entries, int max_ttl, int negative_ttl);
void dnscache_free(struct dnscache *c);

enum dnscache_result dnscache_lookup(struct dnscache *c, enum dnscache_type t,
				     const char *name, time_t now,
				     struct dnscache_answer *out);

/* Replace whatever (t, name) held. recs is an array of struct dns_srv
 * (SRV) or struct sockaddr_storage (ADDR). Returns false when nothing was
 * stored: TTL 0 after capping, n out of 1..DNSCACHE_MAX_RECORDS, a name
 * longer than 255, or no memory. */
bool dnscache_put(struct dnscache *c, enum dnscache_type t, const char *name,
		  const void *recs, size_t n, int ttl, time_t now);
bool dnscache_put_negative(struct dnscache *c, enum dnscache_type t,
			   const char *name, time_t now);

/* Smallest TTL among the answer records of a raw DNS reply, because c-ares
 * 1.18 parses SRV replies without TTLs. 0 when there is no answer or the
 * message is malformed: such an answer is used but not cached. */
int dnscache_answer_ttl(const unsigned char *msg, size_t len);

/* Drop every entry (domain NULL) or those for domain and the names under
 * it (its SRV name, its targets): an operator's "dns flush". Walks the
 * whole cache; never on a message path. Returns the entries dropped. */
size_t dnscache_flush(struct dnscache *c, const char *domain);

#endif
