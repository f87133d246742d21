/* types.h - the validated edge.conf as every layer sees it: plain data.
 *
 * daemon/conf.c fills a struct conf from edge.conf(5); everything else only
 * reads it. A struct conf is immutable once loaded, so a reload can build a
 * new one beside the running one and swap pointers.
 */
#ifndef SIPEDGE_CORE_TYPES_H
#define SIPEDGE_CORE_TYPES_H

#include <stdbool.h>
#include <stddef.h>

enum zone { ZONE_EXTERNAL = 0, ZONE_INTERNAL = 1 };
enum transport { TRANSPORT_TLS = 0, TRANSPORT_TCP = 1 };
enum srv_match { SRV_MATCH_EXACT = 0, SRV_MATCH_NONE = 1 };
enum diagnostics { DIAG_BOTH = 0, DIAG_WARNING, DIAG_MS, DIAG_NONE };

struct conf_tls {
	char *certificate;      /* PEM, leaf first then chain */
	char *private_key;
	char *ca_file;
	char *crl_file;         /* "" = none (external only) */
	char *min_version;      /* "TLSv1" .. "TLSv1.3" */
	char *ciphers;
	char *ciphersuites;     /* "" = OpenSSL default */
	bool require_client_certificate;
	int verify_depth;
	bool accept_wildcards;  /* external only; false for internal */
};

struct conf_listen {
	enum zone zone;
	char *address;          /* numeric IPv4 or IPv6 */
	int port;
	enum transport transport;
	int line;               /* source line, for later diagnostics */
	bool proxy_protocol;    /* a PROXY v1/v2 header comes first (external) */
	char **proxy_from;      /* CIDR: who may send it; required with it */
	size_t nproxy_from;
};

struct conf_portmap {
	int internal;
	int public_;            /* "public" in edge.conf */
};

struct conf_node {
	char *name;
	char *address;          /* IP or FQDN */
	char *tls_name;         /* defaults to address */
	char **names;           /* more host names that count as internal */
	size_t nnames;
	enum transport transport;
	struct conf_portmap *ports;
	size_t nports;          /* >= 1; ports[0] is the node's SIP port */
	bool routing;
	int priority;
	int line;
};

struct conf_allowed {
	char *domain;
	int rate;               /* requests/s; 0 = unlimited (default) */
	char *peer;             /* NULL = found through SRV */
	int port;               /* with peer; default 5061 */
	int line;
};

struct conf_static_route {
	char *pattern;          /* ".com.abc.*" or ".com.abc" */
	char *next_hop;
	int port;               /* default 5061 */
	bool backup;
	int line;
};

struct conf {
	char *path;             /* file it was read from */

	struct {
		char *fqdn;
		char *public_address;   /* NULL = none */
		char *secret_file;      /* "" = a key made at start */
		char *secret_previous_file;  /* "" = none; rotation: still accepted */
		int secret_previous_seconds; /* ..for this long after it was loaded */
		int workers;            /* 0 = auto (online CPUs), else 1..64 */
	} edge;

	struct {
		char *ident;
		int facility;           /* LOG_DAEMON, LOG_LOCAL0.. */
		int level;              /* LOG_ERR..LOG_DEBUG */
		bool sip_trace;
		int target;             /* LOG_TARGET_SYSLOG, LOG_TARGET_JOURNAL (util/log.h) */
	} log;

	struct {
		char **servers;         /* "host:port" strings, NULL-terminated; empty = resolv.conf */
		size_t nservers;
		int timeout_ms;
		int tries;
		char *srv_service;
		int cache_max_ttl;
		int negative_ttl;
	} dns;

	struct {
		struct conf_tls external;
		struct conf_tls internal;
	} tls;

	struct conf_listen *listen;
	size_t nlisten;

	struct {
		char **domains;
		size_t ndomains;
		struct conf_node *nodes;
		size_t nnodes;
		struct {
			int interval;
			int timeout;
			int failures;
		} health;
	} internal;

	struct {
		bool discovery;
		enum srv_match srv_match;
		enum diagnostics diagnostics;
		struct conf_allowed *allowed;
		size_t nallowed;
		char **blocked;
		size_t nblocked;
		struct conf_static_route *static_routes;
		size_t nstatic_routes;
		char **allowed_networks; /* CIDR; the outbound guard may dial these */
		size_t nallowed_networks;
		char **supported_extensions; /* Proxy-Require values we support */
		size_t nsupported_extensions;
		bool stamp_trust;       /* add ms-edge-proxy-message-trust inward */
	} federation;

	struct {
		int max_message_size;
		int max_connections;
		int max_connections_per_ip;
		int max_transactions;   /* open at once; beyond: 503 */
		int max_transactions_per_peer;  /* of those, one peer's share */
		int max_invites_per_peer;       /* INVITEs in progress per peer */
		int max_dns_pending_per_peer;   /* requests waiting for DNS */
		int max_dns_pending;            /* the same, edge-wide */
		int max_output_buffer;  /* bytes queued to one connection */
		int output_stall_timeout; /* seconds above it before closing */
		int max_handshaking;    /* connections still in TCP/TLS setup */
		int max_handshaking_per_network; /* per /24 (IPv4) or /64 (IPv6) */
		int max_via;            /* Via values in a message (483 above) */
		int max_header_values;  /* Route, Record-Route, Contact values */
		int handshake_timeout;
		int header_timeout;
		int idle_timeout;
		int rate_per_discovered_domain;
		int transaction_timeout;
		int invite_timeout;
		int unreachable_hold;   /* seconds a failed next hop is skipped */
	} limits;

	struct {
		char *metrics_address;
		int metrics_port;       /* 0 = off */
		char *user;             /* "" = stay */
		char *group;
		char *control_socket;   /* sipedge-ctl; "" = off */
	} admin;
};

/* Lookups used on the message path (core/conflookup.c). */
const struct conf_node *conf_routing_node(const struct conf *c,
					  const bool *node_up /* may be NULL */);
const struct conf_node *conf_node_by_public_port(const struct conf *c, int port);
bool conf_is_local_domain(const struct conf *c, const char *host);
/* Does any internal listener or node use TLS (so tls.internal matters)? */
bool conf_internal_tls_used(const struct conf *c);

#endif
