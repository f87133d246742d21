/* conf.c - read edge.conf with libconfig and validate it against the schema.
 *
 * The schema is a set of tables (struct field), one per group or list
 * element. A single walker reads a group against its table: it reports
 * unknown keys, wrong types, missing required keys and out-of-range values,
 * stores values (or defaults) at the offsets the table gives, and goes on
 * after every error so that an administrator sees all problems at once.
 * Rules that span several keys or list entries run afterwards, as hooks.
 * conf_free() walks the same tables, so nothing allocated is forgotten.
 */
#include "daemon/conf.h"
#include "util/netaddr.h"
#include "daemon/secret.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libconfig.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

/* ------------------------------------------------------------ helpers */

/* A configuration is small; running out of memory while reading it leaves
 * nothing sensible to do, and checking every strdup would bury the rules. */
static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

static char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* ASCII only: under a locale such as tr_TR, tolower('I') is not 'i'. */
static char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* Case-insensitive compare of the first n bytes of a and b. */
static bool ascii_eqn(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static bool ascii_eq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && ascii_eqn(a, b, n);
}

/* --------------------------------------------------------- the loader */

struct ld {
	const char *file;       /* as given, so messages match the command line */
	char *dir;              /* absolute directory of the file */
	config_t *cfg;
	struct conf_errors *errs;
	unsigned long *order;   /* per error: sort key, see err() */
};

static void add_error(struct conf_errors *errs, char *msg)
{
	char **m = realloc(errs->msg, (errs->n + 1) * sizeof *m);

	if (!m)
		abort();
	m[errs->n++] = msg;
	errs->msg = m;
}

/* The schema is walked group by group, not line by line, so errors are
 * sorted afterwards: by line, the main file before any @include'd one. */
static void sort_errors(struct ld *ld)
{
	char **m = ld->errs->msg;

	for (size_t i = 1; i < ld->errs->n; i++) {
		unsigned long k = ld->order[i];
		char *v = m[i];
		size_t j = i;

		for (; j > 0 && ld->order[j - 1] > k; j--) {
			ld->order[j] = ld->order[j - 1];
			m[j] = m[j - 1];
		}
		ld->order[j] = k;
		m[j] = v;
	}
}

/* libconfig names an @include'd file as written, relative to the include
 * directory (ours: the directory of the main file). */
static void add_error_at(struct ld *ld, const char *file, unsigned line,
			 const char *msg)
{
	if (file && strcmp(file, ld->file) != 0 && file[0] != '/')
		add_error(ld->errs, xasprintf("%s/%s:%u: %s", ld->dir, file,
					      line, msg));
	else
		add_error(ld->errs, xasprintf("%s:%u: %s",
					      file ? file : ld->file, line,
					      msg));
}

/* s may be the root setting (line 0: the file as a whole). */
static void err(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void err(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned line = s ? config_setting_source_line(s) : 0;
	bool included = file && strcmp(file, ld->file) != 0;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	add_error_at(ld, file, line, msg);
	free(msg);
	ld->order = realloc(ld->order, ld->errs->n * sizeof *ld->order);
	if (!ld->order)
		abort();
	ld->order[ld->errs->n - 1] = (included ? 1UL << 31 : 0) + line;
}

/* The setting at a dotted path, or its nearest existing ancestor: a value
 * that came from a default is reported at the group that would hold it. */
static config_setting_t *nearest(config_t *cfg, const char *path)
{
	char buf[256];
	config_setting_t *s;
	char *dot;

	snprintf(buf, sizeof buf, "%s", path);
	while (!(s = config_lookup(cfg, buf))) {
		if (!(dot = strrchr(buf, '.')))
			return config_root_setting(cfg);
		*dot = '\0';
	}
	return s;
}

/* ------------------------------------------------------- value checks */

static bool is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* Letters, digits, '-' and '_' in dot-separated labels of 1..63 bytes; a
 * single trailing dot (absolute name) is accepted. */
static bool is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 254 || (len == 254 && s[253] != '.'))
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (ascii_alnum(*p) || *p == '-' || *p == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* ^\.[a-z0-9-]+(\.[a-z0-9-]+)*(\.\*)?$, case-insensitive, written out
 * because regcomp's REG_ICASE follows the locale. */
static bool is_route_pattern(const char *s)
{
	size_t label = 0;

	if (*s != '.')
		return false;
	for (s++; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			if (s[1] == '*' && s[2] == '\0')
				return true;
			label = 0;
		} else if (ascii_alnum(*s) || *s == '-') {
			label++;
		} else {
			return false;
		}
	}
	return label > 0;
}

static bool parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return false;
	*port = (int)v;
	return true;
}

/* "ip", "ip:port", "v6", "[v6]" or "[v6]:port", normalised to the
 * "host:port" form c-ares expects, so that consumers need not guess. */
static char *dns_server(const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *colon = strchr(s, ':'), *end, *hend;
	int port = 53;
	bool v6;

	if (*s == '[') {
		if (!(end = strchr(s, ']')) ||
		    (end[1] && (end[1] != ':' || !parse_port(end + 2, &port))))
			return NULL;
		s++;
		hend = end;
		v6 = true;
	} else if (colon && colon == strrchr(s, ':')) {
		if (!parse_port(colon + 1, &port))
			return NULL;
		hend = colon;
		v6 = false;
	} else {
		hend = s + strlen(s);
		v6 = colon != NULL;
	}
	if ((size_t)(hend - s) >= sizeof host)
		return NULL;
	memcpy(host, s, (size_t)(hend - s));
	host[hend - s] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1)
		return NULL;
	return v6 ? xasprintf("[%s]:%d", host, port) :
		    xasprintf("%s:%d", host, port);
}

/* ------------------------------------------------------------- schema */

enum kind {             /* the string kinds come first: is_string_kind() */
	K_STR,          /* any string */
	K_DOMAIN,       /* DNS name */
	K_HOST,         /* DNS name or IP address */
	K_IP,           /* numeric IPv4/IPv6 address */
	K_PATH,         /* file name, stored absolute */
	K_DNS,          /* DNS server address[:port] */
	K_PATTERN,      /* static route pattern */
	K_NET,          /* IP network: address[/prefix] */
	K_TOKEN,        /* SIP token (RFC 3261 25.1), e.g. an option tag */
	K_CHOICE,       /* one of choices, stored as the string */
	K_ENUM,         /* one of choices, stored as its int value */
	K_INT,
	K_BOOL,
	K_STRLIST,      /* array or list of strings of kind elem */
	K_GROUP,        /* nested table sub, stored in place at off */
	K_LIST,         /* list of groups of table sub, stored as an array */
};

struct choice {
	const char *name;
	int value;
};

typedef void hook_fn(struct ld *ld, config_setting_t *s, void *p);

struct field {
	const char *key;
	enum kind kind;
	size_t off;             /* from the start of the struct being filled */
	bool required;
	bool fixed;             /* not settable here; default always applies */
	bool empty_ok;          /* for strings, "" is a meaningful value */
	long long min, max;     /* K_INT */
	long long idef;         /* default of K_INT, K_BOOL, K_ENUM */
	const char *sdef;       /* default of string kinds; NULL = none */
	const struct choice *choices;
	enum kind elem;         /* K_STRLIST */
	size_t off_n;           /* K_STRLIST, K_LIST: where the count goes */
	bool non_empty;         /* K_STRLIST, K_LIST */
	const struct field *sub;        /* K_GROUP, K_LIST */
	size_t elem_size;       /* K_LIST */
	hook_fn *elem_done;     /* K_LIST: p is the element just read */
	hook_fn *list_done;     /* K_LIST: p is the struct holding the list */
	hook_fn *absent;        /* K_LIST: fills in the default list */
};

#define AT(type, member) .off = offsetof(type, member)

static const struct choice facilities[] = {
	{ "daemon", LOG_DAEMON },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 }
};
static const struct choice levels[] = {
	{ "err", LOG_ERR }, { "warning", LOG_WARNING },
	{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
	{ "debug", LOG_DEBUG }, { NULL, 0 }
};
static const struct choice zones[] = {
	{ "external", ZONE_EXTERNAL }, { "internal", ZONE_INTERNAL },
	{ NULL, 0 }
};
static const struct choice transports[] = {
	{ "tls", TRANSPORT_TLS }, { "tcp", TRANSPORT_TCP }, { NULL, 0 }
};
static const struct choice srv_matches[] = {
	{ "exact", SRV_MATCH_EXACT }, { "none", SRV_MATCH_NONE }, { NULL, 0 }
};
static const struct choice diagnostics[] = {
	{ "warning", DIAG_WARNING }, { "ms-diagnostics", DIAG_MS },
	{ "both", DIAG_BOTH }, { "none", DIAG_NONE }, { NULL, 0 }
};
static const struct choice tls_versions[] = {
	{ "TLSv1", 0 }, { "TLSv1.1", 0 }, { "TLSv1.2", 0 }, { "TLSv1.3", 0 },
	{ NULL, 0 }
};

static hook_fn listen_entry_done, listen_done, listen_default, node_done,
	extensions_default,
	nodes_done, allowed_done, route_done;

static const struct field edge_fields[] = {
	{ "fqdn", K_DOMAIN, AT(struct conf, edge.fqdn), .required = true },
	{ "public_address", K_IP, AT(struct conf, edge.public_address) },
	{ "secret_file", K_PATH, AT(struct conf, edge.secret_file),
	  .empty_ok = true, .sdef = "" },
	{ 0 }
};

static const struct field log_fields[] = {
	{ "ident", K_STR, AT(struct conf, log.ident), .sdef = "sipedge" },
	{ "facility", K_ENUM, AT(struct conf, log.facility),
	  .choices = facilities, .idef = LOG_DAEMON },
	{ "level", K_ENUM, AT(struct conf, log.level),
	  .choices = levels, .idef = LOG_INFO },
	{ "sip_trace", K_BOOL, AT(struct conf, log.sip_trace) },
	{ 0 }
};

static const struct field dns_fields[] = {
	{ "servers", K_STRLIST, AT(struct conf, dns.servers), .elem = K_DNS,
	  .off_n = offsetof(struct conf, dns.nservers) },
	{ "timeout_ms", K_INT, AT(struct conf, dns.timeout_ms),
	  .min = 1, .max = INT_MAX, .idef = 2000 },
	{ "tries", K_INT, AT(struct conf, dns.tries),
	  .min = 1, .max = INT_MAX, .idef = 2 },
	{ "srv_service", K_STR, AT(struct conf, dns.srv_service),
	  .sdef = "_sipfederationtls._tcp" },
	{ "cache_max_ttl", K_INT, AT(struct conf, dns.cache_max_ttl),
	  .min = 0, .max = INT_MAX, .idef = 3600 },
	{ "negative_ttl", K_INT, AT(struct conf, dns.negative_ttl),
	  .min = 0, .max = INT_MAX, .idef = 60 },
	{ 0 }
};

/* Shared by both profiles; EXT/INT pick what differs between them. */
#define TLS_FIELDS(EXT, cert, key, ca)                                     \
	{ "certificate", K_PATH, AT(struct conf_tls, certificate),          \
	  .required = EXT, .sdef = cert },                                  \
	{ "private_key", K_PATH, AT(struct conf_tls, private_key),          \
	  .required = EXT, .sdef = key },                                   \
	{ "ca_file", K_PATH, AT(struct conf_tls, ca_file),                  \
	  .required = EXT, .sdef = ca },                                    \
	{ "crl_file", K_PATH, AT(struct conf_tls, crl_file),                \
	  .fixed = !EXT, .empty_ok = true, .sdef = "" },                    \
	{ "min_version", K_CHOICE, AT(struct conf_tls, min_version),        \
	  .choices = tls_versions, .sdef = "TLSv1.2" },                     \
	{ "ciphers", K_STR, AT(struct conf_tls, ciphers),                   \
	  .sdef = "HIGH:!aNULL:!MD5:!3DES" },                               \
	{ "ciphersuites", K_STR, AT(struct conf_tls, ciphersuites),         \
	  .empty_ok = true, .sdef = "" },                                   \
	{ "require_client_certificate", K_BOOL,                             \
	  AT(struct conf_tls, require_client_certificate), .idef = true },  \
	{ "verify_depth", K_INT, AT(struct conf_tls, verify_depth),         \
	  .min = 0, .max = 100, .idef = 4 },                                \
	{ "accept_wildcards", K_BOOL, AT(struct conf_tls, accept_wildcards), \
	  .fixed = !EXT },                                                  \
	{ 0 }

static const struct field tls_external_fields[] = {
	TLS_FIELDS(true, NULL, NULL, NULL)
};
static const struct field tls_internal_fields[] = {
	TLS_FIELDS(false, "/etc/sipedge/edge-internal.crt",
		   "/etc/sipedge/edge-internal.key",
		   "/etc/sipedge/internal-ca.pem")
};

static const struct field tls_fields[] = {
	{ "external", K_GROUP, AT(struct conf, tls.external),
	  .required = true, .sub = tls_external_fields },
	{ "internal", K_GROUP, AT(struct conf, tls.internal),
	  .sub = tls_internal_fields },
	{ 0 }
};

static const struct field listen_fields[] = {
	{ "zone", K_ENUM, AT(struct conf_listen, zone), .required = true,
	  .choices = zones },
	{ "address", K_IP, AT(struct conf_listen, address), .required = true },
	{ "port", K_INT, AT(struct conf_listen, port),
	  .min = 1, .max = 65535, .idef = 5061 },
	{ "transport", K_ENUM, AT(struct conf_listen, transport),
	  .choices = transports, .idef = TRANSPORT_TLS },
	{ 0 }
};

static const struct field port_fields[] = {
	{ "internal", K_INT, AT(struct conf_portmap, internal),
	  .required = true, .min = 1, .max = 65535 },
	{ "public", K_INT, AT(struct conf_portmap, public_),
	  .required = true, .min = 1, .max = 65535 },
	{ 0 }
};

static const struct field node_fields[] = {
	{ "name", K_STR, AT(struct conf_node, name), .required = true },
	{ "address", K_HOST, AT(struct conf_node, address), .required = true },
	{ "tls_name", K_HOST, AT(struct conf_node, tls_name) },
	{ "names", K_STRLIST, AT(struct conf_node, names), .elem = K_HOST,
	  .off_n = offsetof(struct conf_node, nnames) },
	{ "transport", K_ENUM, AT(struct conf_node, transport),
	  .choices = transports, .idef = TRANSPORT_TLS },
	{ "ports", K_LIST, AT(struct conf_node, ports), .required = true,
	  .off_n = offsetof(struct conf_node, nports), .non_empty = true,
	  .sub = port_fields, .elem_size = sizeof(struct conf_portmap) },
	{ "routing", K_BOOL, AT(struct conf_node, routing), .idef = true },
	{ "priority", K_INT, AT(struct conf_node, priority),
	  .min = 0, .max = 65535, .idef = 1 },
	{ 0 }
};

static const struct field health_fields[] = {
	{ "interval", K_INT, AT(struct conf, internal.health.interval),
	  .min = 0, .max = INT_MAX, .idef = 10 },
	{ "timeout", K_INT, AT(struct conf, internal.health.timeout),
	  .min = 1, .max = INT_MAX, .idef = 5 },
	{ "failures", K_INT, AT(struct conf, internal.health.failures),
	  .min = 1, .max = INT_MAX, .idef = 3 },
	{ 0 }
};

static const struct field internal_fields[] = {
	{ "domains", K_STRLIST, AT(struct conf, internal.domains),
	  .required = true, .elem = K_DOMAIN, .non_empty = true,
	  .off_n = offsetof(struct conf, internal.ndomains) },
	{ "nodes", K_LIST, AT(struct conf, internal.nodes),
	  .off_n = offsetof(struct conf, internal.nnodes),
	  .sub = node_fields, .elem_size = sizeof(struct conf_node),
	  .elem_done = node_done, .list_done = nodes_done },
	{ "health", K_GROUP, .sub = health_fields },
	{ 0 }
};

static const struct field allowed_fields[] = {
	{ "domain", K_DOMAIN, AT(struct conf_allowed, domain),
	  .required = true },
	{ "rate", K_INT, AT(struct conf_allowed, rate),
	  .min = 0, .max = INT_MAX },
	{ "peer", K_HOST, AT(struct conf_allowed, peer) },
	{ "port", K_INT, AT(struct conf_allowed, port), .min = 1, .max = 65535 },
	{ 0 }
};

static const struct field route_fields[] = {
	{ "pattern", K_PATTERN, AT(struct conf_static_route, pattern),
	  .required = true },
	{ "next_hop", K_HOST, AT(struct conf_static_route, next_hop),
	  .required = true },
	{ "port", K_INT, AT(struct conf_static_route, port),
	  .min = 1, .max = 65535, .idef = 5061 },
	{ "backup", K_BOOL, AT(struct conf_static_route, backup) },
	{ 0 }
};

static const struct field federation_fields[] = {
	{ "discovery", K_BOOL, AT(struct conf, federation.discovery) },
	{ "srv_match", K_ENUM, AT(struct conf, federation.srv_match),
	  .choices = srv_matches, .idef = SRV_MATCH_EXACT },
	{ "diagnostics", K_ENUM, AT(struct conf, federation.diagnostics),
	  .choices = diagnostics, .idef = DIAG_BOTH },
	{ "allowed", K_LIST, AT(struct conf, federation.allowed),
	  .off_n = offsetof(struct conf, federation.nallowed),
	  .sub = allowed_fields, .elem_size = sizeof(struct conf_allowed),
	  .elem_done = allowed_done },
	{ "blocked", K_STRLIST, AT(struct conf, federation.blocked),
	  .elem = K_DOMAIN,
	  .off_n = offsetof(struct conf, federation.nblocked) },
	{ "static_routes", K_LIST, AT(struct conf, federation.static_routes),
	  .off_n = offsetof(struct conf, federation.nstatic_routes),
	  .sub = route_fields, .elem_size = sizeof(struct conf_static_route),
	  .elem_done = route_done },
	{ "allowed_networks", K_STRLIST, AT(struct conf, federation.allowed_networks),
	  .elem = K_NET,
	  .off_n = offsetof(struct conf, federation.nallowed_networks) },
	{ "supported_extensions", K_STRLIST,
	  AT(struct conf, federation.supported_extensions), .elem = K_TOKEN,
	  .off_n = offsetof(struct conf, federation.nsupported_extensions),
	  .absent = extensions_default },
	{ "stamp_trust", K_BOOL, AT(struct conf, federation.stamp_trust) },
	{ 0 }
};

#define LIMIT(key, lo, def)                                               \
	{ #key, K_INT, AT(struct conf, limits.key), .min = lo,             \
	  .max = INT_MAX, .idef = def }
static const struct field limits_fields[] = {
	{ "max_message_size", K_INT, AT(struct conf, limits.max_message_size),
	  .min = 1024, .max = 16 * 1024 * 1024, .idef = 65535 },
	LIMIT(max_connections, 1, 10000),
	LIMIT(max_connections_per_ip, 1, 64),
	LIMIT(max_transactions, 1, 10000),
	LIMIT(max_transactions_per_peer, 1, 1000),
	LIMIT(max_invites_per_peer, 1, 100),
	LIMIT(max_dns_pending_per_peer, 1, 32),
	LIMIT(max_dns_pending, 1, 1024),
	{ "max_output_buffer", K_INT, AT(struct conf, limits.max_output_buffer),
	  .min = 65536, .max = INT_MAX, .idef = 1048576 },
	LIMIT(output_stall_timeout, 1, 30),
	LIMIT(max_handshaking, 1, 2000),
	LIMIT(max_handshaking_per_network, 1, 100),
	{ "max_via", K_INT, AT(struct conf, limits.max_via),
	  .min = 2, .max = 1000, .idef = 70 },
	{ "max_header_values", K_INT, AT(struct conf, limits.max_header_values),
	  .min = 4, .max = 10000, .idef = 64 },
	LIMIT(handshake_timeout, 1, 10),
	LIMIT(header_timeout, 1, 10),
	LIMIT(idle_timeout, 1, 7200),
	LIMIT(rate_per_discovered_domain, 0, 20),
	LIMIT(transaction_timeout, 1, 32),
	LIMIT(invite_timeout, 1, 180),
	LIMIT(unreachable_hold, 0, 30),
	{ 0 }
};
#undef LIMIT

static const struct field admin_fields[] = {
	{ "metrics_address", K_IP, AT(struct conf, admin.metrics_address),
	  .sdef = "127.0.0.1" },
	{ "metrics_port", K_INT, AT(struct conf, admin.metrics_port),
	  .min = 0, .max = 65535, .idef = 9161 },
	{ "user", K_STR, AT(struct conf, admin.user), .empty_ok = true,
	  .sdef = "" },
	{ "group", K_STR, AT(struct conf, admin.group), .empty_ok = true,
	  .sdef = "" },
	{ 0 }
};

/* Groups whose fields hold offsets into struct conf itself sit at off 0. */
static const struct field top_fields[] = {
	{ "edge", K_GROUP, .required = true, .sub = edge_fields },
	{ "log", K_GROUP, .sub = log_fields },
	{ "dns", K_GROUP, .sub = dns_fields },
	{ "tls", K_GROUP, .required = true, .sub = tls_fields },
	{ "listen", K_LIST, AT(struct conf, listen),
	  .off_n = offsetof(struct conf, nlisten),
	  .sub = listen_fields, .elem_size = sizeof(struct conf_listen),
	  .elem_done = listen_entry_done, .list_done = listen_done,
	  .absent = listen_default },
	{ "internal", K_GROUP, .required = true, .sub = internal_fields },
	{ "federation", K_GROUP, .sub = federation_fields },
	{ "limits", K_GROUP, .sub = limits_fields },
	{ "admin", K_GROUP, .sub = admin_fields },
	{ 0 }
};

#undef AT

/* ------------------------------------------------------------- walker */

#define SLOT(base, f, type) ((type *)((char *)(base) + (f)->off))

static bool is_string_kind(enum kind k)
{
	return k <= K_CHOICE;
}

static bool is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static const char *kind_noun(enum kind k)
{
	switch (k) {
	case K_STR:     return "a string";
	case K_DOMAIN:  return "a domain name such as example.com";
	case K_HOST:    return "a host name or IP address";
	case K_IP:      return "a numeric IPv4 or IPv6 address (such as "
			       "10.1.1.1 or ::1)";
	case K_PATH:    return "a file name";
	case K_DNS:     return "a DNS server address such as \"192.0.2.53\", "
			       "\"192.0.2.53:5353\" or \"[2001:db8::53]:53\"";
	case K_PATTERN: return "a reversed domain with a leading dot and an "
			       "optional trailing \".*\", such as "
			       "\".com.example.*\" or \".com.example\"";
	case K_NET:     return "an IP network such as \"192.0.2.0/24\", "
			       "\"2001:db8::/32\" or a single address";
	case K_TOKEN:   return "a SIP option tag such as \"ms-benotify\"";
	case K_BOOL:    return "true or false";
	case K_STRLIST: return "a list of strings, such as [ \"a\", \"b\" ]";
	case K_GROUP:   return "a group { ... }";
	case K_LIST:    return "a list ( { ... }, ... )";
	default:        return "";
	}
}

static void err_type(struct ld *ld, config_setting_t *s, const char *name,
		     const struct field *f, enum kind k)
{
	char buf[160];
	size_t n = 0;

	if (k == K_INT) {
		if (f->min == 0 && f->max == INT_MAX)
			err(ld, s, "'%s' must be an integer of 0 or more", name);
		else if (f->min == 1 && f->max == INT_MAX)
			err(ld, s, "'%s' must be a positive integer", name);
		else
			err(ld, s, "'%s' must be an integer from %lld to %lld",
			    name, f->min, f->max);
		return;
	}
	if (k != K_ENUM && k != K_CHOICE) {
		err(ld, s, "'%s' must be %s", name, kind_noun(k));
		return;
	}
	buf[0] = '\0';
	for (const struct choice *c = f->choices; c->name && n < sizeof buf;
	     c++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
				      c == f->choices ? "" : ", ", c->name);
	err(ld, s, "'%s' must be one of %s", name, buf);
}

static char *abs_path(struct ld *ld, const char *p)
{
	size_t n = strlen(ld->dir);

	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s%s%s", ld->dir, ld->dir[n - 1] == '/' ? "" : "/",
			 p);
}

/* Checks a string of kind k; returns the value to store, or NULL. */
static char *string_value(struct ld *ld, const struct field *f, enum kind k,
			  const char *v)
{
	if (*v == '\0')
		return f->empty_ok ? xstrdup(v) : NULL;
	switch (k) {
	case K_DOMAIN:
		return is_hostname(v) ? xstrdup(v) : NULL;
	case K_HOST:
		return is_hostname(v) || is_ip(v) ? xstrdup(v) : NULL;
	case K_IP:
		return is_ip(v) ? xstrdup(v) : NULL;
	case K_PATH:
		return abs_path(ld, v);
	case K_DNS:
		return dns_server(v);
	case K_PATTERN:
		return is_route_pattern(v) ? xstrdup(v) : NULL;
	case K_NET: {
		struct net n;
		return net_parse(v, &n) ? xstrdup(v) : NULL;
	}
	case K_TOKEN:
		return strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789-.!%*_+`'~") == strlen(v) ? xstrdup(v) : NULL;
	case K_CHOICE:
		for (const struct choice *c = f->choices; c->name; c++)
			if (strcmp(c->name, v) == 0)
				return xstrdup(v);
		return NULL;
	default:
		return xstrdup(v);
	}
}

static void read_group(struct ld *ld, config_setting_t *g, const char *path,
		       const char *where, const struct field *fields,
		       void *base);

static char *join(const char *path, const char *key)
{
	return xasprintf("%s%s%s", path, *path ? "." : "", key);
}

static void read_strlist(struct ld *ld, config_setting_t *s,
			 const struct field *f, void *base)
{
	size_t n = s ? (size_t)config_setting_length(s) : 0;
	char **v = xcalloc(n + 1, sizeof *v);   /* NULL-terminated */
	size_t used = 0;

	for (size_t i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		const char *str = config_setting_get_string(e);
		char *val = str && *str ? string_value(ld, f, f->elem, str) : NULL;

		if (!val)
			err(ld, e, "entry %zu of '%s' must be %s", i + 1,
			    f->key, kind_noun(f->elem));
		else
			v[used++] = val;
	}
	if (s && n == 0 && f->non_empty)
		err(ld, s, "'%s' must not be empty", f->key);
	*SLOT(base, f, char **) = v;
	*(size_t *)((char *)base + f->off_n) = used;
	if (!s && f->absent) {
		free(v);
		f->absent(ld, NULL, base);
	}
}

static void read_list(struct ld *ld, config_setting_t *s, const char *path,
		      const struct field *f, void *base)
{
	size_t n = s ? (size_t)config_setting_length(s) : 0;
	char *v = n ? xcalloc(n, f->elem_size) : NULL;

	/* Elements stay index-aligned with the settings, even broken ones,
	 * so that hooks can find an element's setting by its index. */
	*SLOT(base, f, void *) = v;
	*(size_t *)((char *)base + f->off_n) = n;
	for (size_t i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
		char *lpath = join(path, f->key);
		char *epath = xasprintf("%s[%zu]", lpath, i + 1);
		char *where = xasprintf("in '%s' entry %zu", lpath, i + 1);

		if (config_setting_type(e) != CONFIG_TYPE_GROUP)
			err(ld, e, "entry %zu of '%s' must be a group { ... }",
			    i + 1, f->key);
		else
			read_group(ld, e, epath, where, f->sub,
				   v + i * f->elem_size);
		if (f->elem_done)
			f->elem_done(ld, e, v + i * f->elem_size);
		free(lpath);
		free(epath);
		free(where);
	}
	if (s && n == 0 && f->non_empty)
		err(ld, s, "'%s' must not be empty", f->key);
	if (s && f->list_done)
		f->list_done(ld, s, base);
	if (!s && f->absent)
		f->absent(ld, NULL, base);
}

/* One key: s is its setting, or NULL to apply the default. */
static void read_field(struct ld *ld, config_setting_t *s, const char *path,
		       const struct field *f, void *base)
{
	int t = s ? config_setting_type(s) : CONFIG_TYPE_NONE;

	if (is_string_kind(f->kind)) {
		const char *v = t == CONFIG_TYPE_STRING ?
				config_setting_get_string(s) : NULL;
		char *val = NULL;

		if (!s && f->sdef)
			val = string_value(ld, f, f->kind, f->sdef);
		else if (v && !*v && !f->empty_ok)
			err(ld, s, "'%s' must not be empty", f->key);
		else if (s && (!v || !(val = string_value(ld, f, f->kind, v))))
			err_type(ld, s, f->key, f, f->kind);
		*SLOT(base, f, char *) = val;
		return;
	}
	switch (f->kind) {
	case K_INT: {
		long long v = s && is_int(s) ? config_setting_get_int64(s) :
			      f->idef;

		if (s && (!is_int(s) || v < f->min || v > f->max)) {
			err_type(ld, s, f->key, f, K_INT);
			v = f->idef;
		}
		*SLOT(base, f, int) = (int)v;
		break;
	}
	case K_BOOL:
		*SLOT(base, f, bool) = f->idef;
		if (s && t != CONFIG_TYPE_BOOL)
			err_type(ld, s, f->key, f, K_BOOL);
		else if (s)
			*SLOT(base, f, bool) = config_setting_get_bool(s);
		break;
	case K_ENUM: {
		const char *v = t == CONFIG_TYPE_STRING ?
				config_setting_get_string(s) : "";
		const struct choice *c = f->choices;

		*SLOT(base, f, int) = (int)f->idef;
		if (!s)
			break;
		while (c->name && strcmp(c->name, v) != 0)
			c++;
		if (c->name)
			*SLOT(base, f, int) = c->value;
		else
			err_type(ld, s, f->key, f, K_ENUM);
		break;
	}
	case K_STRLIST:
		if (s && t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			err_type(ld, s, f->key, f, K_STRLIST);
			s = NULL;
		}
		read_strlist(ld, s, f, base);
		break;
	case K_GROUP: {
		char *sub = join(path, f->key);
		char *where = xasprintf("in group '%s'", sub);

		if (s && t != CONFIG_TYPE_GROUP)
			err_type(ld, s, f->key, f, K_GROUP);
		else if (s || !f->required)
			read_group(ld, s, sub, where, f->sub,
				   (char *)base + f->off);
		free(sub);
		free(where);
		break;
	}
	case K_LIST:
		if (s && t != CONFIG_TYPE_LIST && t != CONFIG_TYPE_ARRAY) {
			err_type(ld, s, f->key, f, K_LIST);
			s = NULL;
		}
		read_list(ld, s, path, f, base);
		break;
	default:
		break;
	}
}

static const struct field *find_field(const struct field *fields,
				      const char *name)
{
	for (const struct field *f = fields; f->key; f++)
		if (!f->fixed && strcmp(f->key, name) == 0)
			return f;
	return NULL;
}

/* g may be NULL: an optional group that is absent gets all its defaults.
 * where ("in group 'edge'") ends the messages about g. */
static void read_group(struct ld *ld, config_setting_t *g, const char *path,
		       const char *where, const struct field *fields,
		       void *base)
{
	for (int i = 0; g && i < config_setting_length(g); i++) {
		config_setting_t *s = config_setting_get_elem(g, (unsigned)i);

		if (!find_field(fields, config_setting_name(s)))
			err(ld, s, "unknown key '%s' %s",
			    config_setting_name(s), where);
	}
	for (const struct field *f = fields; f->key; f++) {
		config_setting_t *s = g && !f->fixed ?
				      config_setting_get_member(g, f->key) : NULL;

		if (!s && g && f->required)
			err(ld, g, "missing required %s '%s' %s",
			    f->kind == K_GROUP ? "group" :
			    f->kind == K_LIST ? "list" : "key", f->key, where);
		read_field(ld, s, path, f, base);
	}
}

/* -------------------------------------------------- cross-entry rules */

static config_setting_t *member(config_setting_t *s, const char *key)
{
	return s && config_setting_is_group(s) ?
	       config_setting_get_member(s, key) : NULL;
}

static config_setting_t *elem(config_setting_t *s, size_t i)
{
	return s ? config_setting_get_elem(s, (unsigned)i) : NULL;
}

static int line_of(config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

static void listen_entry_done(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf_listen *l = p;

	l->line = line_of(s);
	if (member(s, "zone") && l->zone == ZONE_EXTERNAL &&
	    l->transport == TRANSPORT_TCP)
		err(ld, member(s, "transport"),
		    "transport 'tcp' is only allowed in the internal zone; "
		    "the external zone is TLS only");
}

static void listen_done(struct ld *ld, config_setting_t *s, void *p)
{
	const struct conf *c = p;
	bool seen[2] = { false, false };

	for (size_t i = 0; i < c->nlisten; i++)
		if (member(elem(s, i), "zone"))
			seen[c->listen[i].zone] = true;
	if (!seen[ZONE_EXTERNAL])
		err(ld, s, "'listen' needs at least one listener with "
		    "zone = \"external\"");
	if (!seen[ZONE_INTERNAL])
		err(ld, s, "'listen' needs at least one listener with "
		    "zone = \"internal\"");
}

/* The reference configuration's pair, as edge.conf(5) documents. */
static void listen_default(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf *c = p;

	(void)ld, (void)s;
	c->listen = xcalloc(2, sizeof *c->listen);
	c->nlisten = 2;
	c->listen[0] = (struct conf_listen){ ZONE_EXTERNAL, xstrdup("0.0.0.0"),
					     5061, TRANSPORT_TLS, 0 };
	c->listen[1] = (struct conf_listen){ ZONE_INTERNAL, xstrdup("10.1.1.1"),
					     5061, TRANSPORT_TLS, 0 };
}

/* The Microsoft extensions federated partners put in Proxy-Require
 * ([MS-SIP] 4.4, [MS-PRES] 4.11: SUBSCRIBE with ms-benotify). */
static void extensions_default(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf *c = p;

	(void)ld, (void)s;
	c->federation.supported_extensions = xcalloc(2, sizeof(char *));
	c->federation.supported_extensions[0] = xstrdup("ms-benotify");
	c->federation.nsupported_extensions = 1;
}

static void node_done(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf_node *n = p;

	(void)ld;
	n->line = line_of(s);
	if (!n->tls_name && n->address && !member(s, "tls_name"))
		n->tls_name = xstrdup(n->address);
}

/* The port map must be a bijection: address:internal <-> edge.fqdn:public.
 * Port k of node i is compared with every earlier entry, so that the error
 * lands on the second occurrence and names the first. */
static void check_port(struct ld *ld, config_setting_t *nodes_s,
		       const struct conf *c, size_t i, size_t k)
{
	const struct conf_node *nodes = c->internal.nodes, *a = &nodes[i];
	const struct conf_portmap *pa = &a->ports[k];
	config_setting_t *ps = elem(member(elem(nodes_s, i), "ports"), k);
	/* A zero is a value already reported as invalid: not compared. */
	bool int_done = !pa->internal || !a->address, pub_done = !pa->public_;
	bool v6 = a->address && strchr(a->address, ':');

	for (size_t j = 0; j <= i; j++) {
		const struct conf_node *b = &nodes[j];
		config_setting_t *bs = member(elem(nodes_s, j), "ports");

		for (size_t m = 0; m < (j == i ? k : b->nports); m++) {
			const struct conf_portmap *pb = &b->ports[m];

			if (!int_done && pa->internal == pb->internal &&
			    b->address && ascii_eq(a->address, b->address)) {
				int_done = true;
				err(ld, member(ps, "internal"),
				    "internal port %s%s%s:%d is already mapped "
				    "on line %d", v6 ? "[" : "", a->address,
				    v6 ? "]" : "", pa->internal,
				    line_of(member(elem(bs, m), "internal")));
			}
			if (!pub_done && pa->public_ == pb->public_) {
				pub_done = true;
				err(ld, member(ps, "public"),
				    "public port %d is already used by node "
				    "'%s' on line %d", pa->public_,
				    b->name ? b->name : "?",
				    line_of(member(elem(bs, m), "public")));
			}
		}
	}
}

static void nodes_done(struct ld *ld, config_setting_t *s, void *p)
{
	const struct conf *c = p;
	const struct conf_node *nodes = c->internal.nodes;

	for (size_t i = 0; i < c->internal.nnodes; i++) {
		for (size_t j = 0; j < i && nodes[i].name; j++) {
			if (nodes[j].name &&
			    strcmp(nodes[j].name, nodes[i].name) == 0) {
				err(ld, member(elem(s, i), "name"),
				    "duplicate node name '%s' (first on line %d)",
				    nodes[i].name,
				    line_of(member(elem(s, j), "name")));
				break;
			}
		}
		for (size_t k = 0; k < nodes[i].nports; k++)
			check_port(ld, s, c, i, k);
	}
}

static void allowed_done(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf_allowed *a = p;

	a->line = line_of(s);
	if (member(s, "port") && !member(s, "peer"))
		err(ld, member(s, "port"),
		    "'port' is only valid together with 'peer'");
	else if (a->peer && !member(s, "port"))
		a->port = 5061;
}

static void route_done(struct ld *ld, config_setting_t *s, void *p)
{
	(void)ld;
	((struct conf_static_route *)p)->line = line_of(s);
}

/* ------------------------------------------------------------ files */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;      /* never prompt on a terminal: the daemon cannot */
}

static FILE *open_file(struct ld *ld, config_setting_t *s, const char *what,
		       const char *path)
{
	FILE *fp = fopen(path, "r");
	struct stat st;

	if (fp && fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		fp = NULL;
		errno = EISDIR;
	}
	if (!fp)
		err(ld, s, "cannot read %s '%s': %s", what, path,
		    strerror(errno));
	return fp;
}

static X509 *load_cert(struct ld *ld, config_setting_t *s, const char *path)
{
	FILE *fp = open_file(ld, s, "certificate", path);
	X509 *x;

	if (!fp)
		return NULL;
	if (!(x = PEM_read_X509(fp, NULL, no_passphrase, NULL)))
		err(ld, s, "certificate '%s' does not begin with a PEM "
		    "certificate", path);
	fclose(fp);
	return x;
}

static EVP_PKEY *load_key(struct ld *ld, config_setting_t *s, const char *path)
{
	FILE *fp = open_file(ld, s, "private key", path);
	EVP_PKEY *k;

	if (!fp)
		return NULL;
	if (!(k = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL)))
		err(ld, s, "private key '%s' is not an unencrypted PEM "
		    "private key", path);
	fclose(fp);
	return k;
}

/* crl: load CRLs instead of certificates; either must yield at least one. */
static void load_store(struct ld *ld, config_setting_t *s, const char *what,
		       const char *path, bool crl)
{
	FILE *fp = open_file(ld, s, what, path);
	X509_STORE *store;
	X509_LOOKUP *lu;
	int n = 0;

	if (!fp)
		return;
	fclose(fp);
	if ((store = X509_STORE_new()) &&
	    (lu = X509_STORE_add_lookup(store, X509_LOOKUP_file())))
		n = crl ? X509_load_crl_file(lu, path, X509_FILETYPE_PEM) :
			  X509_load_cert_file(lu, path, X509_FILETYPE_PEM);
	if (n <= 0)
		err(ld, s, "%s '%s' contains no PEM %s", what, path,
		    crl ? "CRL" : "certificate");
	X509_STORE_free(store);
}

static config_setting_t *tls_key(struct ld *ld, const char *group,
				 const char *key)
{
	char path[64];

	snprintf(path, sizeof path, "tls.%s.%s", group, key);
	return nearest(ld->cfg, path);
}

static void check_tls_files(struct ld *ld, const char *group,
			    const struct conf_tls *t)
{
	config_setting_t *cs = tls_key(ld, group, "certificate");
	config_setting_t *ks = tls_key(ld, group, "private_key");
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;

	if (t->certificate)
		cert = load_cert(ld, cs, t->certificate);
	if (t->private_key)
		key = load_key(ld, ks, t->private_key);
	if (cert && key && X509_check_private_key(cert, key) != 1)
		err(ld, ks, "private key '%s' does not match certificate '%s'",
		    t->private_key, t->certificate);
	if (t->ca_file)
		load_store(ld, tls_key(ld, group, "ca_file"), "CA file",
			   t->ca_file, false);
	if (t->crl_file && *t->crl_file)
		load_store(ld, tls_key(ld, group, "crl_file"), "CRL file",
			   t->crl_file, true);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
}

/* OpenSSL decides what a cipher string means: ask it now, so that a bad
 * one is reported with its line rather than at the first handshake. */
static void check_ciphers(struct ld *ld, const char *group,
			  const struct conf_tls *t)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	if (!ctx)
		return;
	if (t->ciphers && *t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1)
		err(ld, tls_key(ld, group, "ciphers"),
		    "'ciphers' matches no cipher OpenSSL knows: '%s'", t->ciphers);
	if (t->ciphersuites && *t->ciphersuites &&
	    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1)
		err(ld, tls_key(ld, group, "ciphersuites"),
		    "'ciphersuites' is not a valid TLS 1.3 suite list: '%s'",
		    t->ciphersuites);
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

/* edge.secret_file: the key of the Call-ID masks, read as it will be. */
static void check_secret(struct ld *ld, const struct conf *c)
{
	const char *path = c->edge.secret_file;
	unsigned char key[32];
	char why[512];

	if (!path || !*path)
		return;
	if (!secret_load(path, key, why, sizeof why))
		err(ld, nearest(ld->cfg, "edge.secret_file"), "secret_file: %s", why);
	OPENSSL_cleanse(key, sizeof key);
}

/* The account to run as must exist now, not when a root start needs it. */
static void check_accounts(struct ld *ld, const struct conf *c)
{
	const char *u = c->admin.user, *g = c->admin.group;
	if (u && *u && !getpwnam(u))
		err(ld, config_lookup(ld->cfg, "admin.user"), "no such user '%s'", u);
	if (g && *g && !getgrnam(g))
		err(ld, config_lookup(ld->cfg, "admin.group"), "no such group '%s'", g);
	if (g && *g && !(u && *u))
		err(ld, config_lookup(ld->cfg, "admin.group"),
		    "'group' without 'user': set the user to run as too");
}

/* ------------------------------------------------------------ public */

static void free_group(const struct field *fields, void *base)
{
	for (const struct field *f = fields; f->key; f++) {
		if (is_string_kind(f->kind)) {
			free(*SLOT(base, f, char *));
		} else if (f->kind == K_STRLIST) {
			char **v = *SLOT(base, f, char **);

			for (size_t i = 0; v && v[i]; i++)
				free(v[i]);
			free(v);
		} else if (f->kind == K_GROUP) {
			free_group(f->sub, (char *)base + f->off);
		} else if (f->kind == K_LIST) {
			char *v = *SLOT(base, f, char *);
			size_t n = *(size_t *)((char *)base + f->off_n);

			for (size_t i = 0; i < n; i++)
				free_group(f->sub, v + i * f->elem_size);
			free(v);
		}
	}
}

void conf_free(struct conf *c)
{
	if (!c)
		return;
	free_group(top_fields, c);
	free(c->path);
	free(c);
}

void conf_dns_options(const struct conf *c, struct dns_options *out)
{
	*out = (struct dns_options){
		.servers = c->dns.servers, .nservers = c->dns.nservers,
		.timeout_ms = c->dns.timeout_ms, .tries = c->dns.tries,
		.cache_max_ttl = c->dns.cache_max_ttl,
		.negative_ttl = c->dns.negative_ttl,
	};
}

void conf_errors_free(struct conf_errors *errs)
{
	if (!errs)
		return;
	for (size_t i = 0; i < errs->n; i++)
		free(errs->msg[i]);
	free(errs->msg);
	errs->msg = NULL;
	errs->n = 0;
}

static char *absolute(const char *path)
{
	char cwd[PATH_MAX];

	if (path[0] == '/' || !getcwd(cwd, sizeof cwd))
		return xstrdup(path);
	return xasprintf("%s%s%s", cwd, strcmp(cwd, "/") ? "/" : "", path);
}

/*
 * libconfig 1.5 exits the process (flex's fatal error) when a file it
 * reads is a directory, as '@include ""' names: sipedge -t would die
 * without a word and a reload would kill the daemon. So every file it will
 * read is checked first: a regular file, includes followed to libconfig's
 * own depth limit (10). Names are relative to dir, as libconfig takes them.
 */
static void check_readable(struct ld *ld, const char *path, const char *at,
			   unsigned line, int depth)
{
	struct stat st;
	FILE *fp;

	const char *why = NULL;
	if (stat(path, &st) != 0)
		why = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		why = "is a directory";
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (why) {
		add_error(ld->errs, at ? xasprintf("%s:%u: @include \"%s\": %s", at,
						   line, path, why)
				       : xasprintf("%s:0: cannot read configuration "
						   "file: %s", path, why));
		return;
	}
	if (depth >= 10 || !(fp = fopen(path, "r")))
		return;        /* libconfig says why, with the line */
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	for (unsigned n = 1; (len = getline(&buf, &cap, fp)) >= 0; n++) {
		/* libconfig reads names up to a NUL: "x\0y" would be "x". */
		if (memchr(buf, '\0', (size_t)len)) {
			add_error(ld->errs, xasprintf("%s:%u: NUL byte in the file",
						      path, n));
			break;
		}
		char *p = buf + strspn(buf, " \t"), *end;
		if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
			continue;
		p += 8 + strspn(p + 8, " \t");
		if (*p++ != '"' || !(end = strchr(p, '"')))
			continue;
		*end = '\0';
		if (strchr(p, '\\')) {
			add_error(ld->errs, xasprintf("%s:%u: @include: escapes in "
						      "file names are not supported",
						      path, n));
			continue;
		}
		char *inc = xasprintf("%s/%s", ld->dir, p);
		check_readable(ld, inc, path, n, depth + 1);
		free(inc);
	}
	free(buf);
	fclose(fp);
}

struct conf *conf_load(const char *path, bool check_files,
		       struct conf_errors *errs)
{
	struct conf_errors local = { NULL, 0 };
	struct ld ld = { .file = path, .errs = errs ? errs : &local };
	struct conf *c = NULL;
	config_t cfg;
	char *slash;
	FILE *fp;

	ld.errs->msg = NULL;
	ld.errs->n = 0;
	/* libconfig reports only "file I/O error"; the errno is the news. */
	if (!(fp = fopen(path, "r"))) {
		add_error(ld.errs, xasprintf("%s:0: cannot read configuration "
					     "file: %s", path, strerror(errno)));
		goto out;
	}
	fclose(fp);

	c = xcalloc(1, sizeof *c);
	c->path = absolute(path);
	ld.dir = xstrdup(c->path);
	if (!(slash = strrchr(ld.dir, '/')))
		strcpy(ld.dir, ".");    /* getcwd() failed: the best we have */
	else
		slash[slash == ld.dir] = '\0';     /* "/edge.conf" keeps "/" */
	check_readable(&ld, path, NULL, 0, 0);
	if (ld.errs->n) {
		free(ld.dir);
		goto out;
	}

	config_init(&cfg);
	ld.cfg = &cfg;
	/* @include names are taken from the file's directory, like every
	 * other file name in it. (libconfig 1.5 then prefixes absolute
	 * names too, so those fail with "cannot open include file".) */
	config_set_include_dir(&cfg, ld.dir);
	if (!config_read_file(&cfg, path)) {
		add_error_at(&ld, config_error_file(&cfg),
			     (unsigned)config_error_line(&cfg),
			     config_error_text(&cfg));
	} else {
		read_group(&ld, config_root_setting(&cfg), "", "at top level",
			   top_fields, c);
		check_ciphers(&ld, "external", &c->tls.external);
		check_ciphers(&ld, "internal", &c->tls.internal);
		if (check_files) {
			check_accounts(&ld, c);
			check_secret(&ld, c);
			check_tls_files(&ld, "external", &c->tls.external);
			if (conf_internal_tls_used(c))
				check_tls_files(&ld, "internal",
						&c->tls.internal);
		}
		sort_errors(&ld);
	}
	config_destroy(&cfg);
	free(ld.dir);
	free(ld.order);
out:
	if (ld.errs->n) {
		conf_free(c);
		c = NULL;
	}
	conf_errors_free(&local);
	return c;
}
