/* dns.h - c-ares driven by the libevent loop. Never blocks the loop. */
#ifndef SIPEDGE_DNS_H
#define SIPEDGE_DNS_H

#include <stddef.h>
#include <sys/socket.h>
#include <event2/event.h>

#include "conf.h"

#define DNS_MAX_ADDRS 8

struct dns;

/* status 0 = ok; otherwise a c-ares status, with ares_strerror() text. */
typedef void (*dns_addr_cb)(void *arg, int status,
			    const struct sockaddr_storage *addrs, size_t naddrs);

struct dns *dns_new(struct event_base *base, const struct conf *c);
void dns_free(struct dns *d);

/* A/AAAA of host, port put into every address. The callback may run before
 * dns_resolve() returns (numeric hosts) and runs exactly once. */
void dns_resolve(struct dns *d, const char *host, int port,
		 dns_addr_cb cb, void *arg);

const char *dns_strerror(int status);

#endif
