/* conf.c - read edge.conf with libconfig and validate it against the schema.
 *
 * The schema is a set of tables (struct field), one per group or list
 * element. A single walker reads a group against its table: it reports
 * unknown keys, wrong types, missing required keys and out-of-range values,
 * stores values (or defaults) at the offsets the table gives, and goes on
 * after every error so that an administrator sees all problems at once.
 * Rules that span several keys or list entries run afterwards, as hooks;
 * they and the file checks live in conf_check.c. conf_free() walks the
 * same tables, so nothing allocated is forgotten.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/conf.h"
#include "daemon/conf_check.h"
#include "util/log.h"

/* ------------------------------------------------------------- schema */

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
static const struct choice targets[] = {
	{ "syslog", LOG_TARGET_SYSLOG }, { "journal", LOG_TARGET_JOURNAL },
	{ NULL, 0 }
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

static hook_fn listen_default, extensions_default;

static const struct field edge_fields[] = {
	{ "fqdn", K_DOMAIN, AT(struct conf, edge.fqdn), .required = true },
	{ "public_address", K_IP, AT(struct conf, edge.public_address) },
	{ "secret_file", K_PATH, AT(struct conf, edge.secret_file),
	  .empty_ok = true, .sdef = "" },
	{ "secret_previous_file", K_PATH, AT(struct conf, edge.secret_previous_file),
	  .empty_ok = true, .sdef = "" },
	{ "secret_previous_seconds", K_INT, AT(struct conf, edge.secret_previous_seconds),
	  .min = 0, .max = 604800, .idef = 86400 },
	{ "workers", K_INT, AT(struct conf, edge.workers), .min = 1, .max = 64,
	  .idef = 0, .auto_ok = true },
	{ 0 }
};

static const struct field log_fields[] = {
	{ "ident", K_STR, AT(struct conf, log.ident), .sdef = "sipedge" },
	{ "facility", K_ENUM, AT(struct conf, log.facility),
	  .choices = facilities, .idef = LOG_DAEMON },
	{ "level", K_ENUM, AT(struct conf, log.level),
	  .choices = levels, .idef = LOG_INFO },
	{ "sip_trace", K_BOOL, AT(struct conf, log.sip_trace) },
	{ "target", K_ENUM, AT(struct conf, log.target),
	  .choices = targets, .idef = LOG_TARGET_SYSLOG },
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
	{ "proxy_protocol", K_BOOL, AT(struct conf_listen, proxy_protocol) },
	{ "proxy_from", K_STRLIST, AT(struct conf_listen, proxy_from), .elem = K_NET,
	  .non_empty = true,
	  .off_n = offsetof(struct conf_listen, nproxy_from) },
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
	  .elem_done = conf_node_done, .list_done = conf_nodes_done },
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
	  .elem_done = conf_allowed_done },
	{ "blocked", K_STRLIST, AT(struct conf, federation.blocked),
	  .elem = K_DOMAIN,
	  .off_n = offsetof(struct conf, federation.nblocked) },
	{ "static_routes", K_LIST, AT(struct conf, federation.static_routes),
	  .off_n = offsetof(struct conf, federation.nstatic_routes),
	  .sub = route_fields, .elem_size = sizeof(struct conf_static_route),
	  .elem_done = conf_route_done },
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
	{ "control_socket", K_STR, AT(struct conf, admin.control_socket),
	  .empty_ok = true, .sdef = "/run/sipedge/control.sock" },
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
	  .elem_done = conf_listen_entry_done, .list_done = conf_listen_done,
	  .absent = listen_default },
	{ "internal", K_GROUP, .required = true, .sub = internal_fields },
	{ "federation", K_GROUP, .sub = federation_fields },
	{ "limits", K_GROUP, .sub = limits_fields },
	{ "admin", K_GROUP, .sub = admin_fields },
	{ 0 }
};

#undef AT

const struct field *conf_schema(void)
{
	return top_fields;
}

/* ------------------------------------------------------------- walker */

#define SLOT(base, f, type) ((type *)((char *)(base) + (f)->off))

static bool is_int(const config_setting_t *s)
{
	int t = config_setting_type(s);

	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static void err_type(struct ld *ld, config_setting_t *s, const char *name,
		     const struct field *f, enum kind k)
{
	char buf[160];
	size_t n = 0;

	if (k == K_INT) {
		if (f->auto_ok)
			conf_err(ld, s, "'%s' must be \"auto\" or an integer from %lld to %lld",
			    name, f->min, f->max);
		else if (f->min == 0 && f->max == INT_MAX)
			conf_err(ld, s, "'%s' must be an integer of 0 or more", name);
		else if (f->min == 1 && f->max == INT_MAX)
			conf_err(ld, s, "'%s' must be a positive integer", name);
		else
			conf_err(ld, s, "'%s' must be an integer from %lld to %lld",
			    name, f->min, f->max);
		return;
	}
	if (k != K_ENUM && k != K_CHOICE) {
		conf_err(ld, s, "'%s' must be %s", name, conf_kind_noun(k));
		return;
	}
	buf[0] = '\0';
	for (const struct choice *c = f->choices; c->name && n < sizeof buf;
	     c++)
		n += (size_t)snprintf(buf + n, sizeof buf - n, "%s%s",
				      c == f->choices ? "" : ", ", c->name);
	conf_err(ld, s, "'%s' must be one of %s", name, buf);
}

/* Checks a string of kind k; returns the value to store, or NULL. */
static char *string_value(struct ld *ld, const struct field *f, enum kind k,
			  const char *v)
{
	if (*v == '\0')
		return f->empty_ok ? xstrdup(v) : NULL;
	return conf_kind_value(ld, k, v, f->choices);
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
			conf_err(ld, e, "entry %zu of '%s' must be %s", i + 1,
			    f->key, conf_kind_noun(f->elem));
		else
			v[used++] = val;
	}
	if (s && n == 0 && f->non_empty)
		conf_err(ld, s, "'%s' must not be empty", f->key);
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
			conf_err(ld, e, "entry %zu of '%s' must be a group { ... }",
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
		conf_err(ld, s, "'%s' must not be empty", f->key);
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
			conf_err(ld, s, "'%s' must not be empty", f->key);
		else if (s && (!v || !(val = string_value(ld, f, f->kind, v))))
			err_type(ld, s, f->key, f, f->kind);
		*SLOT(base, f, char *) = val;
		return;
	}
	switch (f->kind) {
	case K_INT: {
		long long v = s && is_int(s) ? config_setting_get_int64(s) :
			      f->idef;
		bool is_auto = s && f->auto_ok && t == CONFIG_TYPE_STRING &&
			       strcmp(config_setting_get_string(s), "auto") == 0;

		if (s && !is_auto && (!is_int(s) || v < f->min || v > f->max)) {
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
			conf_err(ld, s, "unknown key '%s' %s",
			    config_setting_name(s), where);
	}
	for (const struct field *f = fields; f->key; f++) {
		config_setting_t *s = g && !f->fixed ?
				      config_setting_get_member(g, f->key) : NULL;

		if (!s && g && f->required)
			conf_err(ld, g, "missing required %s '%s' %s",
			    f->kind == K_GROUP ? "group" :
			    f->kind == K_LIST ? "list" : "key", f->key, where);
		read_field(ld, s, path, f, base);
	}
}

/* ------------------------------------------------------------ defaults */

/* The reference configuration's pair, as edge.conf(5) documents. */
static void listen_default(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf *c = p;

	(void)ld, (void)s;
	c->listen = xcalloc(2, sizeof *c->listen);
	c->nlisten = 2;
	c->listen[0] = (struct conf_listen){ .zone = ZONE_EXTERNAL,
		.address = xstrdup("0.0.0.0"), .port = 5061, .transport = TRANSPORT_TLS };
	c->listen[1] = (struct conf_listen){ .zone = ZONE_INTERNAL,
		.address = xstrdup("10.1.1.1"), .port = 5061, .transport = TRANSPORT_TLS };
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

static char *dir_of(const char *abs)
{
	char *dir = xstrdup(abs), *slash = strrchr(dir, '/');

	if (!slash)
		strcpy(dir, ".");       /* getcwd() failed: the best we have */
	else
		slash[slash == dir] = '\0';    /* "/edge.conf" keeps "/" */
	return dir;
}

/* The checks that need the whole configuration; some open files. */
static void check_all(struct ld *ld, const struct conf *c, bool check_files)
{
	conf_check_ciphers(ld, "external", &c->tls.external);
	conf_check_ciphers(ld, "internal", &c->tls.internal);
	if (!check_files)
		return;
	conf_check_accounts(ld, c);
	conf_check_secret(ld, c);
	conf_check_tls_files(ld, "external", &c->tls.external);
	if (conf_internal_tls_used(c))
		conf_check_tls_files(ld, "internal", &c->tls.internal);
}

static void read_file(struct ld *ld, const char *path, struct conf *c,
		      bool check_files)
{
	config_t cfg;

	config_init(&cfg);
	ld->cfg = &cfg;
	/* @include names are taken from the file's directory, like every
	 * other file name in it. (libconfig 1.5 then prefixes absolute
	 * names too, so those fail with "cannot open include file".) */
	config_set_include_dir(&cfg, ld->dir);
	if (!config_read_file(&cfg, path)) {
		conf_add_error_at(ld, config_error_file(&cfg),
				  (unsigned)config_error_line(&cfg),
				  config_error_text(&cfg));
	} else {
		read_group(ld, config_root_setting(&cfg), "", "at top level",
			   top_fields, c);
		check_all(ld, c, check_files);
		conf_sort_errors(ld);
	}
	config_destroy(&cfg);
}

struct conf *conf_load(const char *path, bool check_files,
		       struct conf_errors *errs)
{
	struct ld ld = { .file = path };
	struct conf *c = NULL;
	FILE *fp;

	/* libconfig reports only "file I/O error"; the errno is the news. */
	if (!(fp = fopen(path, "r"))) {
		conf_add_error(&ld, xasprintf("%s:0: cannot read configuration "
					      "file: %s", path, strerror(errno)));
	} else {
		fclose(fp);
		c = xcalloc(1, sizeof *c);
		c->path = absolute(path);
		ld.dir = dir_of(c->path);
		conf_check_readable(&ld, path, NULL, 0, 0);
		if (!ld.n)
			read_file(&ld, path, c, check_files);
		free(ld.dir);
		free(ld.order);
	}
	if (ld.n) {
		conf_free(c);
		c = NULL;
	}
	struct conf_errors got = { ld.msg, ld.n };
	if (errs)
		*errs = got;
	else
		conf_errors_free(&got);
	return c;
}
