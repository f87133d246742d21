/* netaddr.h - IP networks (CIDR) and socket addresses, pure. */
#ifndef SIPEDGE_NETADDR_H
#define SIPEDGE_NETADDR_H

#include <stdbool.h>
#include <sys/socket.h>

/* An IP network: address and prefix length (a bare address is /32 or /128). */
struct net {
	int family;                 /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	int prefix;
};

bool net_parse(const char *s, struct net *out);
/* Is the address (AF_INET or AF_INET6, port ignored) inside n? An IPv4
 * address mapped into IPv6 counts as the IPv4 address. */
bool net_contains(const struct net *n, const struct sockaddr *sa);

/* The address of sa in out (4 or 16 bytes); an IPv4-mapped IPv6
 * address as IPv4. Returns its family, or 0 for anything else. */
int net_addr_of(const struct sockaddr *sa, unsigned char out[16]);
int net_port_of(const struct sockaddr *sa);

#endif
