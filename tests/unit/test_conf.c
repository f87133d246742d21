/* test_conf.c - conf_load(): schema, defaults, errors with line numbers,
 * certificate/key file checks, and the lookup helpers.
 *
 * Bad fixtures are compared error by error, exactly, after the directory
 * part of the file name: the line numbers are part of the interface.
 */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "daemon/conf.h"
#include "daemon/conf_check.h"
#include "util/log.h"

#define FIXTURE(name) TEST_SRCDIR "/tests/unit/conf/" name

static struct conf_errors errs;

/* The message without the directory of its file name. */
static const char *short_msg(const char *msg)
{
	const char *colon = strchr(msg, ':');
	const char *slash = msg;

	for (const char *p = msg; p < colon; p++)
		if (*p == '/')
			slash = p + 1;
	return slash;
}

static char *all_errors(void)
{
	size_t len = 1;
	char *s;

	for (size_t i = 0; i < errs.n; i++)
		len += strlen(errs.msg[i]) + 1;
	s = calloc(1, len);
	for (size_t i = 0; i < errs.n; i++) {
		strcat(s, errs.msg[i]);
		strcat(s, "\n");
	}
	return s;
}

/* Loads path and checks that it fails with exactly the expected errors
 * (NULL-terminated), each given as "basename:LINE: message". */
static void expect_errors_v(const char *path, bool check_files,
			    const char *const *expected)
{
	struct conf *c = conf_load(path, check_files, &errs);
	size_t n = 0;
	char *got = all_errors();

	ck_assert_msg(c == NULL, "%s loaded but should not", path);
	while (expected[n])
		n++;
	for (size_t i = 0; i < n && i < errs.n; i++)
		ck_assert_msg(strcmp(short_msg(errs.msg[i]), expected[i]) == 0,
			      "error %zu:\n  got:  %s\n  want: %s\nall:\n%s",
			      i + 1, short_msg(errs.msg[i]), expected[i], got);
	ck_assert_msg(errs.n == n, "%zu errors, want %zu:\n%s", errs.n, n, got);
	free(got);
	conf_errors_free(&errs);
}

#define EXPECT(path, ...) \
	expect_errors_v(path, false, (const char *const[]){ __VA_ARGS__, NULL })

static struct conf *load_ok(const char *path, bool check_files)
{
	struct conf *c = conf_load(path, check_files, &errs);
	char *got = all_errors();

	ck_assert_msg(c != NULL, "%s failed:\n%s", path, got);
	ck_assert_uint_eq(errs.n, 0);
	free(got);
	return c;
}

/* ------------------------------------------------------------ good */

START_TEST(test_good_minimal_defaults)
{
	struct conf *c = load_ok(FIXTURE("good-minimal.conf"), false);
	const struct conf_tls *e = &c->tls.external, *i = &c->tls.internal;

	ck_assert_str_eq(c->path, FIXTURE("good-minimal.conf"));
	ck_assert_str_eq(c->edge.fqdn, "edge.example.com");
	ck_assert_ptr_null(c->edge.public_address);
	ck_assert_int_eq(c->edge.workers, 0);            /* auto */

	ck_assert_str_eq(c->log.ident, "sipedge");
	ck_assert_int_eq(c->log.facility, LOG_DAEMON);
	ck_assert_int_eq(c->log.level, LOG_INFO);
	ck_assert(!c->log.sip_trace);

	ck_assert_uint_eq(c->dns.nservers, 0);
	ck_assert_ptr_nonnull(c->dns.servers);
	ck_assert_ptr_null(c->dns.servers[0]);
	ck_assert_int_eq(c->dns.timeout_ms, 2000);
	ck_assert_int_eq(c->dns.tries, 2);
	ck_assert_str_eq(c->dns.srv_service, "_sipfederationtls._tcp");
	ck_assert_int_eq(c->dns.cache_max_ttl, 3600);
	ck_assert_int_eq(c->dns.negative_ttl, 60);

	/* relative names are taken from the directory of the file */
	ck_assert_str_eq(e->certificate, FIXTURE("edge.crt"));
	ck_assert_str_eq(e->private_key, FIXTURE("edge.key"));
	ck_assert_str_eq(e->ca_file, "/etc/sipedge/federation-ca.pem");
	ck_assert_str_eq(e->crl_file, "");
	ck_assert_str_eq(e->min_version, "TLSv1.2");
	ck_assert_str_eq(e->ciphers, "HIGH:!aNULL:!MD5:!3DES");
	ck_assert_str_eq(e->ciphersuites, "");
	ck_assert(e->require_client_certificate);
	ck_assert_int_eq(e->verify_depth, 4);
	ck_assert(!e->accept_wildcards);

	ck_assert_str_eq(i->certificate, "/etc/sipedge/edge-internal.crt");
	ck_assert_str_eq(i->private_key, "/etc/sipedge/edge-internal.key");
	ck_assert_str_eq(i->ca_file, "/etc/sipedge/internal-ca.pem");
	ck_assert_str_eq(i->crl_file, "");
	ck_assert_str_eq(i->min_version, "TLSv1.2");
	ck_assert_str_eq(i->ciphers, "HIGH:!aNULL:!MD5:!3DES");
	ck_assert_str_eq(i->ciphersuites, "");
	ck_assert(i->require_client_certificate);
	ck_assert_int_eq(i->verify_depth, 4);
	ck_assert(!i->accept_wildcards);

	/* the reference's pair of listeners */
	ck_assert_uint_eq(c->nlisten, 2);
	ck_assert_int_eq(c->listen[0].zone, ZONE_EXTERNAL);
	ck_assert_str_eq(c->listen[0].address, "0.0.0.0");
	ck_assert_int_eq(c->listen[0].port, 5061);
	ck_assert_int_eq(c->listen[0].transport, TRANSPORT_TLS);
	ck_assert_int_eq(c->listen[1].zone, ZONE_INTERNAL);
	ck_assert_str_eq(c->listen[1].address, "10.1.1.1");
	ck_assert_int_eq(c->listen[1].port, 5061);
	ck_assert_int_eq(c->listen[1].transport, TRANSPORT_TLS);

	ck_assert_uint_eq(c->internal.ndomains, 1);
	ck_assert_str_eq(c->internal.domains[0], "example.com");
	ck_assert_uint_eq(c->internal.nnodes, 0);
	ck_assert_ptr_null(conf_routing_node(c, NULL));
	ck_assert_int_eq(c->internal.health.interval, 10);
	ck_assert_int_eq(c->internal.health.timeout, 5);
	ck_assert_int_eq(c->internal.health.failures, 3);

	ck_assert(!c->federation.discovery);
	ck_assert_int_eq(c->federation.srv_match, SRV_MATCH_EXACT);
	ck_assert_int_eq(c->federation.diagnostics, DIAG_BOTH);
	ck_assert_uint_eq(c->federation.nallowed, 0);
	ck_assert_uint_eq(c->federation.nblocked, 0);
	ck_assert_uint_eq(c->federation.nstatic_routes, 0);

	ck_assert_int_eq(c->limits.max_message_size, 65535);
	ck_assert_int_eq(c->limits.max_connections, 10000);
	ck_assert_int_eq(c->limits.max_connections_per_ip, 64);
	ck_assert_int_eq(c->limits.handshake_timeout, 10);
	ck_assert_int_eq(c->limits.header_timeout, 10);
	ck_assert_int_eq(c->limits.idle_timeout, 7200);
	ck_assert_int_eq(c->limits.rate_per_discovered_domain, 20);
	ck_assert_int_eq(c->limits.transaction_timeout, 32);
	ck_assert_int_eq(c->limits.invite_timeout, 180);

	ck_assert_str_eq(c->admin.metrics_address, "127.0.0.1");
	ck_assert_int_eq(c->admin.metrics_port, 9161);
	ck_assert_str_eq(c->admin.user, "");
	ck_assert_str_eq(c->admin.group, "");
	conf_free(c);
}
END_TEST

START_TEST(test_good_entry_defaults)
{
	struct conf *c = load_ok(FIXTURE("good-defaults.conf"), false);
	const struct conf_node *n;

	ck_assert_uint_eq(c->nlisten, 2);
	ck_assert_int_eq(c->listen[0].zone, ZONE_EXTERNAL);
	ck_assert_str_eq(c->listen[0].address, "0.0.0.0");
	ck_assert_int_eq(c->listen[0].port, 5061);
	ck_assert_int_eq(c->listen[0].transport, TRANSPORT_TLS);
	ck_assert_int_eq(c->listen[0].line, 11);
	ck_assert_int_eq(c->listen[1].zone, ZONE_INTERNAL);
	ck_assert_int_eq(c->listen[1].port, 5060);
	ck_assert_int_eq(c->listen[1].transport, TRANSPORT_TCP);
	ck_assert_int_eq(c->listen[1].line, 12);

	ck_assert_uint_eq(c->internal.nnodes, 1);
	n = &c->internal.nodes[0];
	ck_assert_str_eq(n->name, "imp1");
	ck_assert_str_eq(n->address, "10.1.1.11");
	ck_assert_str_eq(n->tls_name, "10.1.1.11");
	ck_assert_int_eq(n->transport, TRANSPORT_TLS);
	ck_assert_uint_eq(n->nports, 1);
	ck_assert_int_eq(n->ports[0].internal, 5062);
	ck_assert_int_eq(n->ports[0].public_, 5061);
	ck_assert(n->routing);
	ck_assert_int_eq(n->priority, 1);
	ck_assert_int_eq(n->line, 16);
	ck_assert_ptr_eq(conf_routing_node(c, NULL), n);
	conf_free(c);
}
END_TEST

START_TEST(test_good_full_values)
{
	struct conf *c = load_ok(FIXTURE("good-full.conf"), false);
	const struct conf_tls *e = &c->tls.external, *i = &c->tls.internal;
	const struct conf_node *n = c->internal.nodes;
	const struct conf_allowed *a = c->federation.allowed;
	const struct conf_static_route *r = c->federation.static_routes;

	ck_assert_str_eq(c->edge.public_address, "203.0.113.10");
	ck_assert_int_eq(c->edge.workers, 4);
	ck_assert_str_eq(c->log.ident, "sipedge-test");
	ck_assert_int_eq(c->log.facility, LOG_LOCAL3);
	ck_assert_int_eq(c->log.level, LOG_DEBUG);
	ck_assert(c->log.sip_trace);

	/* servers are normalised to host:port */
	ck_assert_uint_eq(c->dns.nservers, 4);
	ck_assert_str_eq(c->dns.servers[0], "127.0.0.1:5353");
	ck_assert_str_eq(c->dns.servers[1], "[::1]:53");
	ck_assert_str_eq(c->dns.servers[2], "192.0.2.53:53");
	ck_assert_str_eq(c->dns.servers[3], "[2001:db8::53]:53");
	ck_assert_ptr_null(c->dns.servers[4]);
	ck_assert_int_eq(c->dns.timeout_ms, 1500);
	ck_assert_int_eq(c->dns.tries, 3);
	ck_assert_str_eq(c->dns.srv_service, "_sip._tls");
	ck_assert_int_eq(c->dns.cache_max_ttl, 600);
	ck_assert_int_eq(c->dns.negative_ttl, 30);

	ck_assert_str_eq(e->certificate, FIXTURE("certs/edge.crt"));
	ck_assert_str_eq(e->private_key, FIXTURE("certs/edge.key"));
	ck_assert_str_eq(e->ca_file, "/etc/ssl/federation-ca.pem");
	ck_assert_str_eq(e->crl_file, FIXTURE("certs/federation.crl"));
	ck_assert_str_eq(e->min_version, "TLSv1.3");
	ck_assert_str_eq(e->ciphers, "HIGH:!aNULL");
	ck_assert_str_eq(e->ciphersuites, "TLS_AES_256_GCM_SHA384");
	ck_assert(!e->require_client_certificate);
	ck_assert_int_eq(e->verify_depth, 6);
	ck_assert(e->accept_wildcards);
	ck_assert_str_eq(i->certificate, FIXTURE("int.crt"));
	ck_assert_str_eq(i->private_key, FIXTURE("int.key"));
	ck_assert_str_eq(i->ca_file, FIXTURE("int-ca.pem"));
	ck_assert_str_eq(i->crl_file, "");
	ck_assert_str_eq(i->min_version, "TLSv1.1");
	ck_assert_str_eq(i->ciphers, "HIGH");
	ck_assert_str_eq(i->ciphersuites, "TLS_AES_128_GCM_SHA256");
	ck_assert(!i->require_client_certificate);
	ck_assert_int_eq(i->verify_depth, 2);
	ck_assert(!i->accept_wildcards);

	ck_assert_uint_eq(c->nlisten, 4);
	ck_assert_str_eq(c->listen[1].address, "::");
	ck_assert_int_eq(c->listen[3].zone, ZONE_INTERNAL);
	ck_assert_str_eq(c->listen[3].address, "fd00::1");
	ck_assert_int_eq(c->listen[3].port, 5060);
	ck_assert_int_eq(c->listen[3].transport, TRANSPORT_TCP);
	ck_assert_int_eq(c->listen[3].line, 48);

	ck_assert_uint_eq(c->internal.ndomains, 2);
	ck_assert_str_eq(c->internal.domains[1], "Example.ORG.");
	ck_assert_uint_eq(c->internal.nnodes, 4);
	ck_assert_str_eq(n[0].tls_name, "imp1.example.local");
	ck_assert_uint_eq(n[0].nports, 2);
	ck_assert_int_eq(n[0].ports[1].internal, 5080);
	ck_assert_int_eq(n[0].ports[1].public_, 5080);
	ck_assert_int_eq(n[0].priority, 2);
	ck_assert_int_eq(n[0].line, 53);
	ck_assert_str_eq(n[1].tls_name, "IMP2.example.local");
	ck_assert_int_eq(n[1].transport, TRANSPORT_TCP);
	ck_assert(!n[1].routing);
	ck_assert(n[2].routing);
	ck_assert_int_eq(n[2].priority, 1);
	ck_assert_int_eq(n[2].transport, TRANSPORT_TLS);
	ck_assert_str_eq(n[2].tls_name, "10.1.1.13");
	ck_assert_str_eq(n[3].address, "fd00::14");
	ck_assert_int_eq(c->internal.health.interval, 0);
	ck_assert_int_eq(c->internal.health.timeout, 2);
	ck_assert_int_eq(c->internal.health.failures, 5);

	ck_assert(c->federation.discovery);
	ck_assert_int_eq(c->federation.srv_match, SRV_MATCH_NONE);
	ck_assert_int_eq(c->federation.diagnostics, DIAG_MS);
	ck_assert_uint_eq(c->federation.nallowed, 4);
	ck_assert_str_eq(a[0].domain, "partner.example");
	ck_assert_ptr_null(a[0].peer);
	ck_assert_int_eq(a[0].rate, 0);
	ck_assert_int_eq(a[0].port, 0);
	ck_assert_int_eq(a[1].rate, 200);
	ck_assert_str_eq(a[2].peer, "sip.lync.example");
	ck_assert_int_eq(a[2].port, 5061);
	ck_assert_str_eq(a[3].peer, "192.0.2.7");
	ck_assert_int_eq(a[3].port, 5062);
	ck_assert_int_eq(a[3].line, 94);
	ck_assert_uint_eq(c->federation.nblocked, 2);
	ck_assert_str_eq(c->federation.blocked[1], "junk.example");
	ck_assert_uint_eq(c->federation.nstatic_routes, 3);
	ck_assert_str_eq(r[0].pattern, ".com.abc.*");
	ck_assert_int_eq(r[0].port, 5062);
	ck_assert(!r[0].backup);
	ck_assert_str_eq(r[1].next_hop, "accessedge2.abc.com");
	ck_assert_int_eq(r[1].port, 5061);
	ck_assert(r[1].backup);
	ck_assert_str_eq(r[2].pattern, ".ORG.xyz");
	ck_assert_int_eq(r[2].line, 100);

	ck_assert_int_eq(c->limits.max_message_size, 32768);
	ck_assert_int_eq(c->limits.max_connections, 500);
	ck_assert_int_eq(c->limits.max_connections_per_ip, 8);
	ck_assert_int_eq(c->limits.handshake_timeout, 5);
	ck_assert_int_eq(c->limits.header_timeout, 6);
	ck_assert_int_eq(c->limits.idle_timeout, 3600);
	ck_assert_int_eq(c->limits.rate_per_discovered_domain, 0);
	ck_assert_int_eq(c->limits.transaction_timeout, 16);
	ck_assert_int_eq(c->limits.invite_timeout, 90);

	ck_assert_str_eq(c->admin.metrics_address, "::1");
	ck_assert_int_eq(c->admin.metrics_port, 0);
	ck_assert_str_eq(c->admin.user, "sipedge");
	ck_assert_str_eq(c->admin.group, "sipedge");
	conf_free(c);
}
END_TEST

START_TEST(test_good_reference_and_sample)
{
	/* the reference of edge.conf(5), and the sample installed in /etc */
	conf_free(load_ok(FIXTURE("good-reference.conf"), false));
	conf_free(load_ok(TEST_SRCDIR "/etc/edge.conf", false));
}
END_TEST

START_TEST(test_lookups)
{
	struct conf *c = load_ok(FIXTURE("good-full.conf"), false);
	const struct conf_node *n = c->internal.nodes;
	const bool up_all[] = { true, true, true, true };
	const bool imp3_down[] = { true, true, false, true };
	const bool only_imp1[] = { true, true, false, false };
	const bool only_imp2[] = { false, true, false, false };

	/* imp1 priority 2, imp2 not routing, imp3 and imp4 priority 1 */
	ck_assert_ptr_eq(conf_routing_node(c, NULL), &n[2]);
	ck_assert_ptr_eq(conf_routing_node(c, up_all), &n[2]);
	ck_assert_ptr_eq(conf_routing_node(c, imp3_down), &n[3]);
	ck_assert_ptr_eq(conf_routing_node(c, only_imp1), &n[0]);
	ck_assert_ptr_null(conf_routing_node(c, only_imp2));

	ck_assert_ptr_eq(conf_node_by_public_port(c, 5061), &n[0]);
	ck_assert_ptr_eq(conf_node_by_public_port(c, 5080), &n[0]);
	ck_assert_ptr_eq(conf_node_by_public_port(c, 45080), &n[1]);
	ck_assert_ptr_null(conf_node_by_public_port(c, 5062));

	ck_assert(conf_is_local_domain(c, "example.com"));
	ck_assert(conf_is_local_domain(c, "EXAMPLE.Com"));
	ck_assert(conf_is_local_domain(c, "example.com."));
	ck_assert(conf_is_local_domain(c, "example.org"));
	ck_assert(conf_is_local_domain(c, "example.org."));
	ck_assert(!conf_is_local_domain(c, "sub.example.com"));
	ck_assert(!conf_is_local_domain(c, "example.co"));
	ck_assert(!conf_is_local_domain(c, "xexample.com"));
	ck_assert(!conf_is_local_domain(c, ""));
	ck_assert(!conf_is_local_domain(c, NULL));
	conf_free(c);
}
END_TEST

/* ------------------------------------------------------------- bad */

START_TEST(test_bad_unknown_key)
{
	EXPECT(FIXTURE("bad-unknown-key.conf"),
	       "bad-unknown-key.conf:3: unknown key 'fqnd' in group 'edge'",
	       "bad-unknown-key.conf:6: unknown key 'colour' at top level",
	       "bad-unknown-key.conf:12: unknown key 'cipher' in group 'tls.external'",
	       "bad-unknown-key.conf:15: unknown key 'crl_file' in group 'tls.internal'",
	       "bad-unknown-key.conf:16: unknown key 'accept_wildcards' in group 'tls.internal'",
	       "bad-unknown-key.conf:20: unknown key 'prot' in 'listen' entry 1",
	       "bad-unknown-key.conf:26: unknown key 'pubilc' in 'internal.nodes[1].ports' entry 1",
	       "bad-unknown-key.conf:27: unknown key 'weight' in 'internal.nodes' entry 1",
	       "bad-unknown-key.conf:28: unknown key 'intervall' in group 'internal.health'",
	       "bad-unknown-key.conf:31: unknown key 'ratelimit' in 'federation.allowed' entry 1",
	       "bad-unknown-key.conf:32: unknown key 'nexthop' in 'federation.static_routes' entry 1",
	       "bad-unknown-key.conf:34: unknown key 'max_msg_size' in group 'limits'",
	       "bad-unknown-key.conf:35: unknown key 'metrics' in group 'admin'",
	       "bad-unknown-key.conf:36: unknown key 'syslog' in group 'log'",
	       "bad-unknown-key.conf:37: unknown key 'server' in group 'dns'");
}
END_TEST

START_TEST(test_bad_type)
{
	EXPECT(FIXTURE("bad-type.conf"),
	       "bad-type.conf:2: 'public_address' must be a numeric IPv4 or IPv6 address (such as 10.1.1.1 or ::1)",
	       "bad-type.conf:3: 'facility' must be one of daemon, local0, local1, local2, local3, local4, local5, local6, local7",
	       "bad-type.conf:3: 'sip_trace' must be true or false",
	       "bad-type.conf:4: 'servers' must be a list of strings, such as [ \"a\", \"b\" ]",
	       "bad-type.conf:4: 'timeout_ms' must be a positive integer",
	       "bad-type.conf:4: 'tries' must be a positive integer",
	       "bad-type.conf:7: 'certificate' must be a file name",
	       "bad-type.conf:10: 'require_client_certificate' must be true or false",
	       "bad-type.conf:12: 'internal' must be a group { ... }",
	       "bad-type.conf:15: 'port' must be an integer from 1 to 65535",
	       "bad-type.conf:19: 'domains' must be a list of strings, such as [ \"a\", \"b\" ]",
	       "bad-type.conf:20: 'routing' must be true or false",
	       "bad-type.conf:22: entry 2 of 'nodes' must be a group { ... }",
	       "bad-type.conf:25: 'allowed' must be a list ( { ... }, ... )",
	       "bad-type.conf:26: entry 1 of 'blocked' must be a domain name such as example.com",
	       "bad-type.conf:26: entry 2 of 'blocked' must be a domain name such as example.com",
	       "bad-type.conf:28: 'admin' must be a group { ... }");
}
END_TEST

START_TEST(test_bad_missing_fqdn)
{
	EXPECT(FIXTURE("bad-missing-fqdn.conf"),
	       "bad-missing-fqdn.conf:2: missing required key 'fqdn' in group 'edge'");
}
END_TEST

START_TEST(test_bad_missing)
{
	EXPECT(FIXTURE("bad-missing.conf"),
	       "bad-missing.conf:0: missing required group 'edge' at top level",
	       "bad-missing.conf:3: missing required key 'private_key' in group 'tls.external'",
	       "bad-missing.conf:3: missing required key 'ca_file' in group 'tls.external'",
	       "bad-missing.conf:7: 'listen' needs at least one listener with zone = \"internal\"",
	       "bad-missing.conf:9: missing required key 'zone' in 'listen' entry 2",
	       "bad-missing.conf:12: 'domains' must not be empty",
	       "bad-missing.conf:14: missing required key 'name' in 'internal.nodes' entry 1",
	       "bad-missing.conf:15: missing required key 'address' in 'internal.nodes' entry 2",
	       "bad-missing.conf:15: missing required list 'ports' in 'internal.nodes' entry 2",
	       "bad-missing.conf:16: missing required key 'internal' in 'internal.nodes[3].ports' entry 1",
	       "bad-missing.conf:20: missing required key 'domain' in 'federation.allowed' entry 1",
	       "bad-missing.conf:21: missing required key 'next_hop' in 'federation.static_routes' entry 1");
}
END_TEST

START_TEST(test_bad_range)
{
	EXPECT(FIXTURE("bad-range.conf"),
	       "bad-range.conf:2: 'fqdn' must be a domain name such as example.com",
	       "bad-range.conf:2: 'public_address' must be a numeric IPv4 or IPv6 address (such as 10.1.1.1 or ::1)",
	       "bad-range.conf:3: 'ident' must not be empty",
	       "bad-range.conf:3: 'facility' must be one of daemon, local0, local1, local2, local3, local4, local5, local6, local7",
	       "bad-range.conf:3: 'level' must be one of err, warning, notice, info, debug",
	       "bad-range.conf:4: entry 1 of 'servers' must be a DNS server address such as \"192.0.2.53\", \"192.0.2.53:5353\" or \"[2001:db8::53]:53\"",
	       "bad-range.conf:4: entry 2 of 'servers' must be a DNS server address such as \"192.0.2.53\", \"192.0.2.53:5353\" or \"[2001:db8::53]:53\"",
	       "bad-range.conf:4: entry 3 of 'servers' must be a DNS server address such as \"192.0.2.53\", \"192.0.2.53:5353\" or \"[2001:db8::53]:53\"",
	       "bad-range.conf:5: 'timeout_ms' must be a positive integer",
	       "bad-range.conf:5: 'tries' must be a positive integer",
	       "bad-range.conf:5: 'cache_max_ttl' must be an integer of 0 or more",
	       "bad-range.conf:8: 'certificate' must not be empty",
	       "bad-range.conf:11: 'min_version' must be one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3",
	       "bad-range.conf:12: 'verify_depth' must be an integer from 0 to 100",
	       "bad-range.conf:16: 'zone' must be one of external, internal",
	       "bad-range.conf:16: 'port' must be an integer from 1 to 65535",
	       "bad-range.conf:17: 'address' must be a numeric IPv4 or IPv6 address (such as 10.1.1.1 or ::1)",
	       "bad-range.conf:17: 'port' must be an integer from 1 to 65535",
	       "bad-range.conf:17: 'transport' must be one of tls, tcp",
	       "bad-range.conf:21: entry 2 of 'domains' must be a domain name such as example.com",
	       "bad-range.conf:22: 'transport' must be one of tls, tcp",
	       "bad-range.conf:23: 'priority' must be an integer from 0 to 65535",
	       "bad-range.conf:24: 'internal' must be an integer from 1 to 65535",
	       "bad-range.conf:24: 'public' must be an integer from 1 to 65535",
	       "bad-range.conf:25: 'interval' must be an integer of 0 or more",
	       "bad-range.conf:25: 'timeout' must be a positive integer",
	       "bad-range.conf:25: 'failures' must be a positive integer",
	       "bad-range.conf:28: 'srv_match' must be one of exact, none",
	       "bad-range.conf:29: 'diagnostics' must be one of warning, ms-diagnostics, both, none",
	       "bad-range.conf:30: 'rate' must be an integer of 0 or more",
	       "bad-range.conf:32: 'max_message_size' must be an integer from 1024 to 16777216",
	       "bad-range.conf:32: 'max_connections' must be a positive integer",
	       "bad-range.conf:32: 'idle_timeout' must be a positive integer",
	       "bad-range.conf:33: 'rate_per_discovered_domain' must be an integer of 0 or more",
	       "bad-range.conf:33: 'invite_timeout' must be a positive integer",
	       "bad-range.conf:34: 'metrics_address' must be a numeric IPv4 or IPv6 address (such as 10.1.1.1 or ::1)",
	       "bad-range.conf:34: 'metrics_port' must be an integer from 0 to 65535");
}
END_TEST

START_TEST(test_bad_workers)
{
	EXPECT(FIXTURE("bad-workers.conf"),
	       "bad-workers.conf:2: 'workers' must be \"auto\" or an integer from 1 to 64");
	EXPECT(FIXTURE("bad-workers-many.conf"),
	       "bad-workers-many.conf:3: 'workers' must be \"auto\" or an integer from 1 to 64");
	EXPECT(FIXTURE("bad-workers-word.conf"),
	       "bad-workers-word.conf:2: 'workers' must be \"auto\" or an integer from 1 to 64");
}
END_TEST

START_TEST(test_bad_dup_node)
{
	EXPECT(FIXTURE("bad-dup-node.conf"),
	       "bad-dup-node.conf:15: duplicate node name 'imp1' (first on line 11)");
}
END_TEST

START_TEST(test_bad_dup_public_port)
{
	EXPECT(FIXTURE("bad-dup-public-port.conf"),
	       "bad-dup-public-port.conf:13: public port 5061 is already used by node 'imp1' on line 12",
	       "bad-dup-public-port.conf:18: public port 45062 is already used by node 'imp2' on line 15");
}
END_TEST

START_TEST(test_bad_dup_internal_port)
{
	EXPECT(FIXTURE("bad-dup-internal-port.conf"),
	       "bad-dup-internal-port.conf:13: internal port imp.example.local:5062 is already mapped on line 12",
	       "bad-dup-internal-port.conf:18: internal port IMP.example.LOCAL:5062 is already mapped on line 12");
}
END_TEST

START_TEST(test_bad_tcp_external)
{
	EXPECT(FIXTURE("bad-tcp-external.conf"),
	       "bad-tcp-external.conf:6: transport 'tcp' is only allowed in the internal zone; the external zone is TLS only");
}
END_TEST

START_TEST(test_bad_no_listener)
{
	EXPECT(FIXTURE("bad-no-listener.conf"),
	       "bad-no-listener.conf:4: 'listen' needs at least one listener with zone = \"external\"");
}
END_TEST

#define BAD_PATTERN "'pattern' must be a reversed domain with a leading dot " \
	"and an optional trailing \".*\", such as \".com.example.*\" or "     \
	"\".com.example\""
START_TEST(test_bad_pattern)
{
	EXPECT(FIXTURE("bad-pattern.conf"),
	       "bad-pattern.conf:17: " BAD_PATTERN,
	       "bad-pattern.conf:18: " BAD_PATTERN,
	       "bad-pattern.conf:19: " BAD_PATTERN,
	       "bad-pattern.conf:20: " BAD_PATTERN,
	       "bad-pattern.conf:21: " BAD_PATTERN,
	       "bad-pattern.conf:22: " BAD_PATTERN,
	       "bad-pattern.conf:23: " BAD_PATTERN);
}
END_TEST

#define BAD_NET "entry %s of 'allowed_networks' must be an IP network such as " \
	"\"192.0.2.0/24\", \"2001:db8::/32\" or a single address"
START_TEST(test_bad_networks)
{
	char a[200], b[200], c[200];
	snprintf(a, sizeof a, "bad-networks.conf:15: " BAD_NET, "4");
	snprintf(b, sizeof b, "bad-networks.conf:16: " BAD_NET, "5");
	snprintf(c, sizeof c, "bad-networks.conf:17: " BAD_NET, "6");
	EXPECT(FIXTURE("bad-networks.conf"), a, b, c);
}
END_TEST

START_TEST(test_bad_allowed)
{
	EXPECT(FIXTURE("bad-allowed.conf"),
	       "bad-allowed.conf:15: 'port' is only valid together with 'peer'",
	       "bad-allowed.conf:16: 'peer' must be a host name or IP address",
	       "bad-allowed.conf:19: 'next_hop' must be a host name or IP address",
	       "bad-allowed.conf:19: 'port' must be an integer from 1 to 65535");
}
END_TEST

START_TEST(test_bad_syntax)
{
	EXPECT(FIXTURE("bad-syntax.conf"), "bad-syntax.conf:3: syntax error");
	EXPECT(FIXTURE("bad-dup-key.conf"),
	       "bad-dup-key.conf:5: duplicate setting name");
}
END_TEST

START_TEST(test_missing_file)
{
	EXPECT(FIXTURE("no-such-file.conf"),
	       "no-such-file.conf:0: cannot read configuration file: No such file or directory");
	/* errs may be NULL when only success matters */
	ck_assert_ptr_null(conf_load(FIXTURE("bad-type.conf"), false, NULL));
	conf_free(NULL);
	conf_errors_free(&errs);
}
END_TEST

/* libconfig 1.5 exits the process on a directory: never handed one. */
START_TEST(test_include_checked)
{
	struct conf *c = load_ok(FIXTURE("good-include.conf"), false);
	conf_free(c);
	ck_assert_ptr_null(conf_load(FIXTURE("bad-include.conf"), false, &errs));
	ck_assert_uint_eq(errs.n, 2);
	ck_assert_str_eq(short_msg(errs.msg[0]), "bad-include.conf:2: @include \""
			 TEST_SRCDIR "/tests/unit/conf/\": is a directory");
	ck_assert_str_eq(short_msg(errs.msg[1]), "bad-include.conf:3: @include \""
			 TEST_SRCDIR "/tests/unit/conf/no-such-include.conf\": "
			 "No such file or directory");
	conf_errors_free(&errs);
	EXPECT(TEST_SRCDIR "/tests/unit/conf",
	       "conf:0: cannot read configuration file: is a directory");
}
END_TEST

/* ----------------------------------------------------------- files */

static char tmpdir[] = "/tmp/sipedge-test-conf-XXXXXX";

static void sh(const char *fmt, ...)
{
	char cmd[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof cmd, fmt, ap);
	va_end(ap);
	ck_assert_msg(system(cmd) == 0, "failed: %s", cmd);
}

#define NEWCERT "openssl req -x509 -newkey ec -pkeyopt " \
	"ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=%s "   \
	"-keyout %s.key -out %s.crt 2>/dev/null"

static void files_setup(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	sh("cd %s && " NEWCERT " && " NEWCERT " && " NEWCERT, tmpdir,
	   "edge.example.com", "edge", "edge", "other", "other", "other",
	   "edge-internal", "edge-internal", "edge-internal");
	sh("cd %s && cp edge.crt federation-ca.pem && "
	   "cp edge-internal.crt internal-ca.pem && "
	   "echo 'not a certificate' > garbage.pem && mkdir dir.crt && "
	   "openssl genpkey -algorithm ec -pkeyopt ec_paramgen_curve:P-256 "
	   "-aes256 -pass pass:secret -out encrypted.key 2>/dev/null && "
	   "touch index.txt && printf '[ca]\\ndefault_ca=d\\n[d]\\n"
	   "database=index.txt\\ndefault_md=sha256\\ndefault_crl_days=1\\n'"
	   " > ca.cnf && openssl ca -config ca.cnf -gencrl -keyfile edge.key "
	   "-cert edge.crt -out federation.crl 2>/dev/null", tmpdir);
}

static void files_teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", tmpdir);
}

struct files {
	const char *cert, *key, *ca, *crl;
	const char *icert, *ikey, *ica;
	const char *listen_transport, *node_transport;
};

static const struct files good_files = {
	"edge.crt", "edge.key", "federation-ca.pem", "",
	"edge-internal.crt", "edge-internal.key", "internal-ca.pem",
	"tls", "tls",
};

/* Line numbers below are asserted by the tests: keep the layout. */
static char *write_conf(const struct files *f)
{
	static char path[256];
	FILE *fp;

	snprintf(path, sizeof path, "%s/test.conf", tmpdir);
	fp = fopen(path, "w");
	ck_assert_ptr_nonnull(fp);
	fprintf(fp,
		"edge = { fqdn = \"edge.example.com\"; };\n"            /* 1 */
		"tls = {\n"
		"  external = {\n"
		"    certificate = \"%s\";\n"                            /* 4 */
		"    private_key = \"%s\";\n"                            /* 5 */
		"    ca_file = \"%s\";\n"                                /* 6 */
		"    crl_file = \"%s\";\n"                               /* 7 */
		"  };\n"
		"  internal = {\n"
		"    certificate = \"%s\";\n"                            /* 10 */
		"    private_key = \"%s\";\n"                            /* 11 */
		"    ca_file = \"%s\";\n"                                /* 12 */
		"  };\n"
		"};\n"
		"listen = (\n"
		"  { zone = \"external\"; address = \"127.0.0.1\"; },\n"
		"  { zone = \"internal\"; address = \"127.0.0.1\"; port = 5062;"
		" transport = \"%s\"; }\n"
		");\n"
		"internal = {\n"
		"  domains = [ \"example.com\" ];\n"
		"  nodes = ( { name = \"imp1\"; address = \"127.0.0.1\";"
		" transport = \"%s\";\n"
		"              ports = ( { internal = 5070; public = 5061; } ); } );\n"
		"};\n",
		f->cert, f->key, f->ca, f->crl, f->icert, f->ikey, f->ica,
		f->listen_transport, f->node_transport);
	fclose(fp);
	return path;
}

/* Expects exactly one error: "test.conf:LINE: " + msg, where every %s in
 * msg is replaced by the temporary directory. */
static void expect_file_error(const struct files *f, int line,
			      const char *msg)
{
	char want[1024], full[768];
	const char *expected[] = { want, NULL };

	snprintf(full, sizeof full, msg, tmpdir, tmpdir);
	snprintf(want, sizeof want, "test.conf:%d: %s", line, full);
	expect_errors_v(write_conf(f), true, expected);
}

START_TEST(test_files_good)
{
	struct files f = good_files;
	struct conf *c;
	char want[512];

	f.crl = "federation.crl";
	c = load_ok(write_conf(&f), true);
	snprintf(want, sizeof want, "%s/edge.crt", tmpdir);
	ck_assert_str_eq(c->tls.external.certificate, want);
	snprintf(want, sizeof want, "%s/federation.crl", tmpdir);
	ck_assert_str_eq(c->tls.external.crl_file, want);
	snprintf(want, sizeof want, "%s/internal-ca.pem", tmpdir);
	ck_assert_str_eq(c->tls.internal.ca_file, want);
	conf_free(c);
}
END_TEST

START_TEST(test_files_unchecked)
{
	struct files f = good_files;

	f.cert = "missing.crt";
	f.key = "other.key";
	conf_free(load_ok(write_conf(&f), false));
}
END_TEST

START_TEST(test_files_missing_cert)
{
	struct files f = good_files;

	f.cert = "missing.crt";
	expect_file_error(&f, 4, "cannot read certificate '%s/missing.crt': "
			  "No such file or directory");
	f = good_files;
	f.cert = "dir.crt";
	expect_file_error(&f, 4, "cannot read certificate '%s/dir.crt': "
			  "Is a directory");
	f = good_files;
	f.key = "missing.key";
	expect_file_error(&f, 5, "cannot read private key '%s/missing.key': "
			  "No such file or directory");
	f = good_files;
	f.ca = "missing-ca.pem";
	expect_file_error(&f, 6, "cannot read CA file '%s/missing-ca.pem': "
			  "No such file or directory");
	f = good_files;
	f.crl = "missing.crl";
	expect_file_error(&f, 7, "cannot read CRL file '%s/missing.crl': "
			  "No such file or directory");
}
END_TEST

START_TEST(test_files_key_mismatch)
{
	struct files f = good_files;

	f.key = "other.key";
	expect_file_error(&f, 5, "private key '%s/other.key' does not match "
			  "certificate '%s/edge.crt'");
	f = good_files;
	f.ikey = "edge.key";
	expect_file_error(&f, 11, "private key '%s/edge.key' does not match "
			  "certificate '%s/edge-internal.crt'");
}
END_TEST

START_TEST(test_files_not_pem)
{
	struct files f = good_files;

	f.cert = "garbage.pem";
	expect_file_error(&f, 4, "certificate '%s/garbage.pem' does not "
			  "begin with a PEM certificate");
	f = good_files;
	f.key = "garbage.pem";
	expect_file_error(&f, 5, "private key '%s/garbage.pem' is not an "
			  "unencrypted PEM private key");
	f = good_files;
	f.key = "encrypted.key";    /* must fail, never prompt */
	expect_file_error(&f, 5, "private key '%s/encrypted.key' is not an "
			  "unencrypted PEM private key");
	f = good_files;
	f.ica = "garbage.pem";
	expect_file_error(&f, 12, "CA file '%s/garbage.pem' contains no PEM "
			  "certificate");
	f = good_files;
	f.crl = "edge.crt";
	expect_file_error(&f, 7, "CRL file '%s/edge.crt' contains no PEM CRL");
}
END_TEST

START_TEST(test_files_internal_only_if_tls)
{
	struct files f = good_files;

	f.icert = "missing.crt";
	f.listen_transport = "tcp";
	f.node_transport = "tcp";
	conf_free(load_ok(write_conf(&f), true));
	f.listen_transport = "tls";
	expect_file_error(&f, 10, "cannot read certificate '%s/missing.crt': "
			  "No such file or directory");
	f.listen_transport = "tcp";
	f.node_transport = "tls";
	expect_file_error(&f, 10, "cannot read certificate '%s/missing.crt': "
			  "No such file or directory");
}
END_TEST

START_TEST(test_files_sample_config)
{
	/* etc/edge.conf passes once its /etc/sipedge files exist: the
	 * temporary directory holds files of the same names */
	char path[256];
	struct conf *c;

	sh("sed 's#/etc/sipedge/#%s/#g' '%s/etc/edge.conf' > %s/sample.conf",
	   tmpdir, TEST_SRCDIR, tmpdir);
	snprintf(path, sizeof path, "%s/sample.conf", tmpdir);
	c = load_ok(path, true);
	ck_assert_uint_eq(c->internal.nnodes, 1);
	conf_free(c);
}
END_TEST

/* The value kinds the checks (conf_check.c) accept, one table: what is
 * stored for a good value, NULL for a refused one. */
START_TEST(test_kind_values)
{
	static const struct choice zones[] = { { "external", 0 }, { "internal", 1 },
					       { NULL, 0 } };
	static const struct { enum kind k; const char *in, *out; } t[] = {
		{ K_DOMAIN, "edge.example.com", "edge.example.com" },
		{ K_DOMAIN, "edge..example.com", NULL },
		{ K_DOMAIN, "10.1.1.1", "10.1.1.1" },   /* digits are labels too */
		{ K_HOST, "::1", "::1" },
		{ K_HOST, "a b", NULL },
		{ K_IP, "10.1.1.1", "10.1.1.1" },
		{ K_IP, "edge.example.com", NULL },
		{ K_PATH, "certs/edge.pem", "/etc/sipedge/certs/edge.pem" },
		{ K_PATH, "/abs/edge.pem", "/abs/edge.pem" },
		{ K_DNS, "192.0.2.53", "192.0.2.53:53" },
		{ K_DNS, "192.0.2.53:5353", "192.0.2.53:5353" },
		{ K_DNS, "2001:db8::53", "[2001:db8::53]:53" },
		{ K_DNS, "[2001:db8::53]:54", "[2001:db8::53]:54" },
		{ K_DNS, "192.0.2.53:0", NULL },
		{ K_DNS, "ns.example.com", NULL },
		{ K_PATTERN, ".com.example.*", ".com.example.*" },
		{ K_PATTERN, ".com.example", ".com.example" },
		{ K_PATTERN, "com.example", NULL },
		{ K_NET, "192.0.2.0/24", "192.0.2.0/24" },
		{ K_NET, "192.0.2.0/33", NULL },
		{ K_TOKEN, "ms-benotify", "ms-benotify" },
		{ K_TOKEN, "ms benotify", NULL },
		{ K_CHOICE, "internal", "internal" },
		{ K_CHOICE, "Internal", NULL },
		{ K_STR, "anything at all", "anything at all" },
	};
	struct ld ld = { .file = "edge.conf", .dir = (char *)"/etc/sipedge" };

	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		char *got = conf_kind_value(&ld, t[i].k, t[i].in, zones);
		if (t[i].out)
			ck_assert_msg(got && strcmp(got, t[i].out) == 0,
				      "%s: got %s", t[i].in, got ? got : "NULL");
		else
			ck_assert_msg(!got, "%s: got %s", t[i].in, got);
		free(got);
	}
	ck_assert_str_eq(conf_kind_noun(K_BOOL), "true or false");
	ck_assert_uint_eq(ld.n, 0);             /* refusing is the caller's */
}
END_TEST

/* ------------------------------------------------------ conf_print */

static char *printed(const struct conf *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	conf_print(f, c);
	fclose(f);
	return buf;
}

/* The text after the header comment (which names the file read). */
static const char *body(const char *text)
{
	while (*text == '#') {
		const char *nl = strchr(text, '\n');
		ck_assert_ptr_nonnull(nl);
		text = nl + 1;
	}
	return text;
}

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/test_conf_printXXXXXX");
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

/* path -> text1 -> load -> text2: text2 == text1 (a fixed point), and the
 * header names the file it came from. Returns text1. */
static char *round_trip(const char *path)
{
	struct conf *c = load_ok(path, false);
	char *t1 = printed(c), *tmp = write_tmp(t1);
	struct conf *c2 = load_ok(tmp, false);
	char *t2 = printed(c2);

	ck_assert_msg(strstr(t1, path) && t1[0] == '#', "header without %s:\n%s", path, t1);
	ck_assert_msg(strstr(t2, tmp) != NULL, "header without %s", tmp);
	ck_assert_msg(strcmp(body(t1), body(t2)) == 0,
		      "printed again differently:\n--- first\n%s\n--- second\n%s", t1, t2);
	unlink(tmp);
	free(tmp);
	free(t2);
	conf_free(c2);
	conf_free(c);
	return t1;
}

START_TEST(test_print_round_trip)
{
	char *full = round_trip(FIXTURE("good-full.conf"));
	char *ref = round_trip(FIXTURE("good-reference.conf"));
	char *min = round_trip(FIXTURE("good-minimal.conf"));

	/* The other good files: includes merged, the sample of /etc. */
	free(round_trip(FIXTURE("good-include.conf")));
	free(round_trip(FIXTURE("good-defaults.conf")));
	free(round_trip(TEST_SRCDIR "/etc/edge.conf"));

	/* Values of the file, made absolute where they are file names. */
	ck_assert_ptr_nonnull(strstr(full, "facility = \"local3\";"));
	ck_assert_ptr_nonnull(strstr(full, "workers = 4;"));
	ck_assert_ptr_nonnull(strstr(full, "certificate = \"" TEST_SRCDIR
					   "/tests/unit/conf/certs/edge.crt\";"));
	ck_assert_ptr_nonnull(strstr(full, "servers = [ \"127.0.0.1:5353\", \"[::1]:53\""));
	/* Keys not in the file show their defaults; lists are expanded. */
	ck_assert_ptr_nonnull(strstr(full, "max_transactions = 10000;"));
	ck_assert_ptr_nonnull(strstr(full, "target = \"journal\";"));
	ck_assert_ptr_nonnull(strstr(min, "target = \"syslog\";"));
	ck_assert_ptr_nonnull(strstr(full, "supported_extensions = [ \"ms-benotify\" ];"));
	ck_assert_ptr_nonnull(strstr(min, "workers = \"auto\";"));
	ck_assert_ptr_nonnull(strstr(min, "zone = \"internal\";"));     /* listen default */
	ck_assert_ptr_nonnull(strstr(min, "secret_file = \"\";"));
	ck_assert_ptr_nonnull(strstr(min, "# public_address: not set"));
	ck_assert_ptr_nonnull(strstr(min, "nodes = ( );"));
	/* Not settable (fixed) keys are not printed: tls.internal has no
	 * crl_file, allowed.port without peer is a comment. */
	ck_assert_ptr_null(strstr(strstr(full, "internal = {"), "crl_file"));
	ck_assert_ptr_nonnull(strstr(full, "# port: not set"));
	free(full);
	free(ref);
	free(min);
}
END_TEST

START_TEST(test_print_escapes)
{
	/* Quotes, backslashes and control bytes come back as they were. */
	const char *text =
		"edge = { fqdn = \"edge.example.com\"; };\n"
		"log = { ident = \"a\\\"b\\\\c\\td\\x01e\"; };\n"
		"tls = { external = { certificate = \"/x/e.crt\"; private_key = \"/x/e.key\";"
		" ca_file = \"/x/ca.pem\"; ciphers = \"HIGH:!aNULL\"; }; };\n"
		"internal = { domains = [ \"example.com\" ]; };\n";
	char *tmp = write_tmp(text);
	struct conf *c = load_ok(tmp, false);
	char *t1;

	ck_assert_str_eq(c->log.ident, "a\"b\\c\td\001e");
	t1 = printed(c);
	ck_assert_ptr_nonnull(strstr(t1, "ident = \"a\\\"b\\\\c\\x09d\\x01e\";"));
	free(t1);
	conf_free(c);
	t1 = round_trip(tmp);
	free(t1);
	unlink(tmp);
	free(tmp);
}
END_TEST

START_TEST(test_log_target)
{
	struct conf *c = load_ok(FIXTURE("good-full.conf"), false);
	ck_assert_int_eq(c->log.target, LOG_TARGET_JOURNAL);
	conf_free(c);
	c = load_ok(FIXTURE("good-minimal.conf"), false);
	ck_assert_int_eq(c->log.target, LOG_TARGET_SYSLOG);
	conf_free(c);
}
END_TEST

static Suite *conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *t = tcase_create("schema");
	TCase *f = tcase_create("files");

	tcase_add_test(t, test_good_minimal_defaults);
	tcase_add_test(t, test_good_entry_defaults);
	tcase_add_test(t, test_good_full_values);
	tcase_add_test(t, test_good_reference_and_sample);
	tcase_add_test(t, test_lookups);
	tcase_add_test(t, test_bad_unknown_key);
	tcase_add_test(t, test_bad_type);
	tcase_add_test(t, test_bad_missing_fqdn);
	tcase_add_test(t, test_bad_missing);
	tcase_add_test(t, test_bad_range);
	tcase_add_test(t, test_bad_workers);
	tcase_add_test(t, test_bad_dup_node);
	tcase_add_test(t, test_bad_dup_public_port);
	tcase_add_test(t, test_bad_dup_internal_port);
	tcase_add_test(t, test_bad_tcp_external);
	tcase_add_test(t, test_bad_no_listener);
	tcase_add_test(t, test_bad_pattern);
	tcase_add_test(t, test_bad_allowed);
	tcase_add_test(t, test_bad_networks);
	tcase_add_test(t, test_bad_syntax);
	tcase_add_test(t, test_missing_file);
	tcase_add_test(t, test_include_checked);
	tcase_add_test(t, test_kind_values);
	tcase_add_test(t, test_print_round_trip);
	tcase_add_test(t, test_print_escapes);
	tcase_add_test(t, test_log_target);
	suite_add_tcase(s, t);

	tcase_add_unchecked_fixture(f, files_setup, files_teardown);
	tcase_set_timeout(f, 30);
	tcase_add_test(f, test_files_good);
	tcase_add_test(f, test_files_unchecked);
	tcase_add_test(f, test_files_missing_cert);
	tcase_add_test(f, test_files_key_mismatch);
	tcase_add_test(f, test_files_not_pem);
	tcase_add_test(f, test_files_internal_only_if_tls);
	tcase_add_test(f, test_files_sample_config);
	suite_add_tcase(s, f);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(conf_suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
