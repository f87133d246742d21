/* opts.c - sipedge-check's command line: what it accepts and refuses,
 * with the messages sipedge-check(1) shows. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "opts.h"

static int usage(FILE *out, int rc)
{
	fprintf(out,
		"usage: sipedge-check DOMAIN [--dns HOST[:PORT]]... [--ca FILE] [--json]\n"
		"                     [--service _sipfederationtls._tcp] [--timeout SECONDS]\n"
		"                     [--cert FILE --key FILE [--from USER@OURDOMAIN] [--to USER@DOMAIN]]\n"
		"       sipedge-check --self EDGE.CONF [--dns HOST[:PORT]]... [--ca FILE] [--json]\n"
		"Checks DOMAIN's SIP federation setup (DNS SRV, TCP, TLS, certificate) the\n"
		"way a federated Access Edge sees it; with --cert/--key also presents our\n"
		"certificate to DOMAIN's edge and sends OPTIONS (and a MESSAGE with --to).\n"
		"--self checks our own SRV records, address and certificate instead.\n"
		"Exit 0: no FAIL; 1: a FAIL; 2: usage.\n"
		"See sipedge-check(1).\n");
	return rc;
}

bool opts_valid_domain(const char *s, char *out, size_t len)
{
	size_t n = strlen(s);
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n == 0 || n >= len || n > 253)
		return false;
	size_t label = 0;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
		out[i] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
	}
	out[n] = '\0';
	return label > 0;
}

bool opts_valid_aor(const char *s)
{
	if (strncasecmp(s, "sip:", 4) == 0)
		s += 4;
	const char *at = strchr(s, '@');
	if (!at || at == s || at - s > 64)
		return false;
	for (const char *p = s; p < at; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("@;?<>\"\\:,", *p))
			return false;
	char d[254];
	return opts_valid_domain(at + 1, d, sizeof d);
}

bool opts_valid_dns_server(const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *port = NULL;
	unsigned char buf[sizeof(struct in6_addr)];
	if (*s == '[') {
		const char *e = strchr(s, ']');
		if (!e || (size_t)(e - s - 1) >= sizeof host)
			return false;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = '\0';
		if (e[1] == ':')
			port = e + 2;
		else if (e[1])
			return false;
		if (inet_pton(AF_INET6, host, buf) != 1)
			return false;
	} else {
		const char *c = strchr(s, ':');
		if (c && strchr(c + 1, ':'))        /* bare IPv6, no port */
			return inet_pton(AF_INET6, s, buf) == 1;
		size_t n = c ? (size_t)(c - s) : strlen(s);
		if (n >= sizeof host)
			return false;
		memcpy(host, s, n);
		host[n] = '\0';
		port = c ? c + 1 : NULL;
		if (inet_pton(AF_INET, host, buf) != 1)
			return false;
	}
	if (port) {
		char *end;
		long p = strtol(port, &end, 10);
		if (!*port || *end || p < 1 || p > 65535)
			return false;
	}
	return true;
}

int opts_parse(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "dns", required_argument, NULL, 'd' },
		{ "ca", required_argument, NULL, 'c' },
		{ "json", no_argument, NULL, 'j' },
		{ "service", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "cert", required_argument, NULL, 'C' },
		{ "key", required_argument, NULL, 'K' },
		{ "from", required_argument, NULL, 'F' },
		{ "to", required_argument, NULL, 'T' },
		{ "self", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	memset(o, 0, sizeof *o);
	o->service = "_sipfederationtls._tcp";
	o->timeout_ms = 5000;
	o->answer_ms = ANSWER_TIMEOUT_MS;
	int opt;
	while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;
		double t;
		switch (opt) {
		case 'd':
			if (!opts_valid_dns_server(optarg)) {
				fprintf(stderr, "sipedge-check: --dns %s: expected a numeric "
					"address, optionally with :PORT ([IPv6]:PORT)\n", optarg);
				return 2;
			}
			if (o->ndns == MAX_DNS_SERVERS) {
				fprintf(stderr, "sipedge-check: at most %d --dns servers\n",
					MAX_DNS_SERVERS);
				return 2;
			}
			o->dns[o->ndns++] = optarg;
			break;
		case 'c':
			o->ca = optarg;
			break;
		case 'j':
			o->json = true;
			break;
		case 's':
			if (!*optarg || optarg[strlen(optarg) - 1] == '.' ||
			    strlen(optarg) > 100) {
				fprintf(stderr, "sipedge-check: --service %s: expected "
					"e.g. _sipfederationtls._tcp\n", optarg);
				return 2;
			}
			o->service = optarg;
			break;
		case 't':
			errno = 0;
			t = strtod(optarg, &end);
			if (errno || end == optarg || *end || !(t > 0 && t <= 300)) {
				fprintf(stderr, "sipedge-check: --timeout %s: expected "
					"seconds, more than 0 and at most 300\n", optarg);
				return 2;
			}
			o->timeout_ms = (int)(t * 1000 + 0.5);
			if (o->timeout_ms < 1)
				o->timeout_ms = 1;
			o->answer_ms = o->timeout_ms;
			break;
		case 'C':
			o->cert = optarg;
			break;
		case 'K':
			o->key = optarg;
			break;
		case 'F':
		case 'T':
			if (!opts_valid_aor(optarg)) {
				fprintf(stderr, "sipedge-check: --%s %s: expected USER@DOMAIN\n",
					opt == 'F' ? "from" : "to", optarg);
				return 2;
			}
			if (opt == 'F')
				o->from = optarg;
			else
				o->to = optarg;
			break;
		case 'S':
			o->self = optarg;
			break;
		case 'h':
			exit(usage(stdout, 0));
		default:
			return usage(stderr, 2);
		}
	}
	if (o->self) {
		if (optind != argc || o->cert || o->key || o->from || o->to) {
			fprintf(stderr, "sipedge-check: --self takes no DOMAIN, "
				"--cert, --key, --from or --to\n");
			return usage(stderr, 2);
		}
		return 0;
	}
	if (!o->cert != !o->key) {
		fprintf(stderr, "sipedge-check: --cert and --key go together\n");
		return 2;
	}
	if ((o->from || o->to) && !o->cert) {
		fprintf(stderr, "sipedge-check: --from and --to need --cert and --key\n");
		return 2;
	}
	if (optind != argc - 1)
		return usage(stderr, 2);
	if (!opts_valid_domain(argv[optind], o->domain, sizeof o->domain)) {
		fprintf(stderr, "sipedge-check: %s: not a domain name\n", argv[optind]);
		return 2;
	}
	return 0;
}

void opts_dns(const struct opts *o, struct dns_options *out)
{
	*out = (struct dns_options){
		.servers = o->dns, .nservers = o->ndns,
		.timeout_ms = DNS_TIMEOUT_MS, .tries = DNS_TRIES,
		.cache_max_ttl = 300, .negative_ttl = 60,
	};
}
