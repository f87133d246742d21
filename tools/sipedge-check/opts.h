/* opts.h - sipedge-check's command line (sipedge-check(1)), and the
 * resolver options it implies: the tool configures net/dns itself, from
 * --dns and fixed timeouts, never through the daemon's configuration. */
#ifndef SIPEDGE_CHECK_OPTS_H
#define SIPEDGE_CHECK_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/dns.h"

#define MAX_DNS_SERVERS 4
#define DNS_TIMEOUT_MS 2000
#define DNS_TRIES 2

struct opts {
	char domain[254];
	char *dns[MAX_DNS_SERVERS + 1];     /* NULL-terminated */
	size_t ndns;
	const char *ca;
	const char *service;
	bool json;
	int timeout_ms;         /* connect, TLS, each read */
	int answer_ms;          /* the partner's final response (default 10 s) */
	/* --cert/--key: the partner checks (present our certificate, OPTIONS) */
	const char *cert, *key;
	const char *from;       /* --from USER@DOMAIN, NULL: from the certificate */
	const char *to;         /* --to USER@DOMAIN: also a MESSAGE */
	const char *self;       /* --self CONF: our own edge instead of DOMAIN */
};

#define ANSWER_TIMEOUT_MS 10000

/* Fills o from argv. 0 when the check should run; otherwise the exit
 * status (2), the reason already on stderr. --help exits 0 itself. */
int opts_parse(int argc, char **argv, struct opts *o);

/* The resolver options for o: its --dns servers (none: resolv.conf). */
void opts_dns(const struct opts *o, struct dns_options *out);

/* A DNS name (a trailing dot allowed), written to out in lower case
 * without the dot. */
bool opts_valid_domain(const char *s, char *out, size_t len);

/* USER@DOMAIN (an optional "sip:" in front), a user without '@', ';',
 * '?', spaces or control characters, a valid domain. */
bool opts_valid_aor(const char *s);

/* HOST[:PORT] with a numeric HOST ("[v6]:port" for IPv6 with a port). */
bool opts_valid_dns_server(const char *s);

#endif
