/* dns.h - c-ares driven by the libevent loop, with a cache in front.
 *
 * Never blocks the loop. Every callback runs exactly once, from the loop,
 * never inside the call that asked, so callers may attach state after
 * asking. Identical lookups in flight share one query on the wire.
 */
#ifndef SIPEDGE_DNS_H
#define SIPEDGE_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "core/srv.h"        /* struct dns_srv, DNS_MAX_SRV */

#define DNS_MAX_ADDRS 8
#define DNS_MAX_WAITERS 256     /* requests sharing one query */
#define DNS_MAX_PENDING 1024    /* distinct queries in flight */

enum dns_status {
	DNS_OK = 0,
	DNS_NOTFOUND = 1,       /* NXDOMAIN or no records of that type */
	DNS_FAILED = 2,         /* timeout, SERVFAIL, REFUSED, no server,
				 * a limit above, or shutdown */
};

/* addrs (NULL unless DNS_OK) is only valid during the call. */
typedef void (*dns_addr_cb)(void *arg, enum dns_status st,
			    const struct sockaddr_storage *addrs, size_t naddrs);
/* srv (NULL unless DNS_OK) is only valid during the call. */
typedef void (*dns_srv_cb)(void *arg, enum dns_status st,
			   const struct dns_srv *srv, size_t n);

/* queries: lookups put on the wire, one per group of coalesced requests.
 * cache_hits / negative_hits: requests answered from the cache.
 * coalesced: requests that joined a query already in flight.
 * failures: callbacks run with DNS_FAILED. */
struct dns_stats {
	unsigned long queries, cache_hits, negative_hits, failures, coalesced;
};

/* How to resolve: the daemon fills this from edge.conf's dns group,
 * sipedge-check from its command line, so the resolver needs neither. */
struct dns_options {
	char *const *servers;           /* "IP" or "IP:PORT"; none: resolv.conf */
	size_t nservers;
	int timeout_ms;                 /* per try and server */
	int tries;
	int cache_max_ttl;              /* caps positive TTLs; 0: no cache */
	int negative_ttl;               /* life of NXDOMAIN/NODATA; 0: none */
};

/* o is read once; it and its strings may be freed afterwards. */
struct dns *dns_new(struct event_base *base, const struct dns_options *o);
/* Runs every pending callback (DNS_FAILED), then frees. Not from a callback. */
void dns_free(struct dns *d);

/* A/AAAA of host (a numeric address is answered without a query), port put
 * into every address. */
void dns_resolve(struct dns *d, const char *host, int port,
		 dns_addr_cb cb, void *arg);

/* SRV records of name, e.g. "_sipfederationtls._tcp.partner.test". Records
 * with the "." target are dropped; beyond DNS_MAX_SRV the lowest priority
 * values are kept. */
void dns_srv(struct dns *d, const char *name, dns_srv_cb cb, void *arg);

/* Would dns_srv(name) be answered from the cache (no query)? */
bool dns_srv_cached(struct dns *d, const char *name);

void dns_get_stats(const struct dns *d, struct dns_stats *out);

/* Forget cached answers: all (domain NULL) or domain and names under it.
 * Lookups in flight finish and are cached as usual. */
size_t dns_flush(struct dns *d, const char *domain);

const char *dns_strerror(enum dns_status st);

#endif
