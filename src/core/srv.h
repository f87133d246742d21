/* srv.h - one DNS SRV record (RFC 2782), as the resolver (net/dns), its
 * cache (core/dnscache) and the next-hop order (core/route) share it. A
 * plain type, so that core decides about SRV answers without the
 * resolver. */
#ifndef SIPEDGE_SRV_H
#define SIPEDGE_SRV_H

#define DNS_MAX_SRV 16          /* records kept from one answer */

struct dns_srv {
	char target[256];
	int port;
	int priority;
	int weight;
};

#endif
