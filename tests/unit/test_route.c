/* Route decisions and the PAT map, from configuration data alone. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon/conf.h"
#include "core/diag.h"
#include "core/pat.h"
#include "core/reach.h"
#include "core/route.h"

static struct conf_static_route routes[] = {
	{ .pattern = ".com.abc.*", .next_hop = "accessedge.abc.com", .port = 5061 },
	{ .pattern = ".com.abc.*", .next_hop = "backup.abc.com", .port = 5061, .backup = true },
	{ .pattern = ".com.abc.*", .next_hop = "accessedge2.abc.com", .port = 5062 },
	{ .pattern = ".com.abc.sales", .next_hop = "sales-edge.abc.com", .port = 5061 },
	{ .pattern = ".com.xyz", .next_hop = "edge.xyz.com", .port = 5061 },
};

static struct conf_portmap p1[] = { { 5062, 5061 }, { 5080, 5080 } };
static struct conf_portmap p2[] = { { 5062, 45062 }, { 5080, 45080 } };
static struct conf_portmap p3[] = { { 5062, 55062 }, { 5080, 55080 } };
static struct conf_node nodes[] = {
	{ .name = "imp1", .address = "10.1.1.11", .ports = p1, .nports = 2, .routing = true, .priority = 1 },
	{ .name = "imp2", .address = "10.1.1.12", .ports = p2, .nports = 2, .routing = true, .priority = 2 },
	{ .name = "imp3", .address = "fd00::13", .ports = p3, .nports = 2, .routing = false, .priority = 1 },
};
static struct conf_listen listens[] = {
	{ .zone = ZONE_EXTERNAL, .address = "0.0.0.0", .port = 5061 },
};

static struct conf cf;

static void setup(void)
{
	memset(&cf, 0, sizeof cf);
	cf.edge.fqdn = "edge.example.com";
	cf.federation.static_routes = routes;
	cf.federation.nstatic_routes = sizeof routes / sizeof routes[0];
	cf.internal.nodes = nodes;
	cf.internal.nnodes = 3;
	cf.listen = listens;
	cf.nlisten = 1;
}

START_TEST(pattern_table)
{
	static const struct { const char *pattern, *domain; bool match; } t[] = {
		{ ".com.abc.*", "abc.com", true },
		{ ".com.abc.*", "sales.abc.com", true },
		{ ".com.abc.*", "a.b.abc.com", true },
		{ ".com.abc.*", "ABC.COM.", true },
		{ ".com.abc.*", "xabc.com", false },
		{ ".com.abc.*", "abc.co", false },
		{ ".com.abc.*", "com", false },
		{ ".com.abc", "abc.com", true },
		{ ".com.abc", "sales.abc.com", false },
		{ ".com.abc", "", false },
		{ ".com", "com", true },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		ck_assert_msg((route_pattern_score(t[i].pattern, t[i].domain) >= 0) == t[i].match,
			      "%s vs %s", t[i].pattern, t[i].domain);
	/* exact beats subtree of the same domain, longer beats shorter */
	ck_assert_int_gt(route_pattern_score(".com.abc", "abc.com"),
			 route_pattern_score(".com.abc.*", "abc.com"));
	ck_assert_int_gt(route_pattern_score(".com.abc.sales", "sales.abc.com"),
			 route_pattern_score(".com.abc.*", "sales.abc.com"));
}
END_TEST

START_TEST(static_longest_then_backups)
{
	const struct conf_static_route *out[8];
	size_t n = route_static(&cf, "abc.com", out, 8);
	ck_assert_uint_eq(n, 3);
	ck_assert_str_eq(out[0]->next_hop, "accessedge.abc.com");
	ck_assert_str_eq(out[1]->next_hop, "accessedge2.abc.com");
	ck_assert_str_eq(out[2]->next_hop, "backup.abc.com");   /* backups last */
	n = route_static(&cf, "sales.abc.com", out, 8);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(out[0]->next_hop, "sales-edge.abc.com");
	ck_assert_uint_eq(route_static(&cf, "sub.xyz.com", out, 8), 0);
	ck_assert_uint_eq(route_static(&cf, "xyz.com", out, 8), 1);
	ck_assert_uint_eq(route_static(&cf, "other.org", out, 8), 0);
	ck_assert_uint_eq(route_static(&cf, "abc.com", out, 1), 1);   /* bounded */
}
END_TEST

START_TEST(inbound_node_choice)
{
	struct inbound_hint h = { .arrival_port = 5061, .main_listener = true };
	ck_assert_int_eq(route_inbound_node(&cf, NULL, &h), 0);       /* routing, prio 1 */
	bool up[3] = { false, true, true };
	ck_assert_int_eq(route_inbound_node(&cf, up, &h), 1);         /* next routing */
	bool none[3] = { false, false, true };
	ck_assert_int_eq(route_inbound_node(&cf, none, &h), -1);      /* imp3 not routing */
	h = (struct inbound_hint){ .arrival_port = 55062 };
	ck_assert_int_eq(route_inbound_node(&cf, NULL, &h), 2);       /* node's own port */
	h = (struct inbound_hint){ .arrival_port = 5061, .main_listener = true,
				   .ruri_public_port = 45080 };
	ck_assert_int_eq(route_inbound_node(&cf, NULL, &h), 1);       /* URI we handed out */
	h = (struct inbound_hint){ .arrival_port = 5061, .main_listener = true,
				   .route_public_port = 55062, .in_dialog = true };
	ck_assert_int_eq(route_inbound_node(&cf, NULL, &h), 2);       /* our Route entry */
	h.in_dialog = false;
	ck_assert_int_eq(route_inbound_node(&cf, NULL, &h), 0);       /* new: routing node */
}
END_TEST

START_TEST(pat_map_both_ways)
{
	ck_assert_int_eq(pat_public_port(&cf, "10.1.1.12", 5080), 45080);
	ck_assert_int_eq(pat_public_port(&cf, "10.1.1.11", 5062), 5061);
	ck_assert_int_eq(pat_public_port(&cf, "[fd00::13]", 5062), 55062);
	ck_assert_int_eq(pat_public_port(&cf, "10.1.1.12", 5999), 0);
	ck_assert_int_eq(pat_public_port(&cf, "10.1.1.99", 5062), 0);
	int internal = 0;
	const struct conf_node *n = pat_node_for_public(&cf, 45062, &internal);
	ck_assert_ptr_nonnull(n);
	ck_assert_str_eq(n->name, "imp2");
	ck_assert_int_eq(internal, 5062);
	ck_assert_ptr_null(pat_node_for_public(&cf, 1234, NULL));
	/* every pair maps back to itself */
	for (size_t i = 0; i < 3; i++)
		for (size_t p = 0; p < nodes[i].nports; p++) {
			int in = 0;
			ck_assert_ptr_eq(pat_node_for_public(&cf, nodes[i].ports[p].public_, &in),
					 &nodes[i]);
			ck_assert_int_eq(in, nodes[i].ports[p].internal);
		}
	ck_assert_int_eq(pat_default_port(1, NULL), 5061);
	ck_assert_int_eq(pat_default_port(0, "lr;transport=tls"), 5061);
	ck_assert_int_eq(pat_default_port(0, "transport=tcp"), 5060);
	ck_assert_int_eq(pat_default_port(0, "xtransport=tls"), 5060);
}
END_TEST

/* xorshift32 with a fixed seed: the same draws on every run. */
static unsigned draw(void *arg, unsigned limit)
{
	uint32_t *x = arg;
	*x ^= *x << 13;
	*x ^= *x >> 17;
	*x ^= *x << 5;
	return limit ? *x % (limit + 1) : 0;
}

static struct dns_srv srv_rec(const char *t, int prio, int weight)
{
	struct dns_srv r = { .port = 5061, .priority = prio, .weight = weight };
	snprintf(r.target, sizeof r.target, "%s", t);
	return r;
}

START_TEST(srv_priority_order)
{
	struct dns_srv s[] = { srv_rec("c", 30, 1), srv_rec("a", 10, 0), srv_rec("b", 20, 5),
			       srv_rec("a2", 10, 0) };
	size_t order[4];
	uint32_t seed = 12345;
	ck_assert_uint_eq(route_srv_order(s, 4, draw, &seed, order), 4);
	/* priority 10 first (both zero weight: listed order), then 20, then 30 */
	ck_assert_str_eq(s[order[0]].target, "a");
	ck_assert_str_eq(s[order[1]].target, "a2");
	ck_assert_str_eq(s[order[2]].target, "b");
	ck_assert_str_eq(s[order[3]].target, "c");
}
END_TEST

START_TEST(srv_weighted_distribution)
{
	/* weights 60/30/10 at one priority: first picks over 10000 draws */
	struct dns_srv s[] = { srv_rec("w60", 10, 60), srv_rec("w30", 10, 30),
			       srv_rec("w10", 10, 10), srv_rec("backup", 20, 100) };
	int first[3] = { 0 };
	uint32_t seed = 2463534242u;
	for (int i = 0; i < 10000; i++) {
		size_t order[4];
		route_srv_order(s, 4, draw, &seed, order);
		ck_assert_uint_lt(order[0], 3);           /* never the backup first */
		ck_assert_str_eq(s[order[3]].target, "backup");
		first[order[0]]++;
	}
	/* expected 6000/3000/1000; allow +-4 % of the draws */
	ck_assert_msg(abs(first[0] - 6000) < 400, "w60 first %d times", first[0]);
	ck_assert_msg(abs(first[1] - 3000) < 400, "w30 first %d times", first[1]);
	ck_assert_msg(abs(first[2] - 1000) < 400, "w10 first %d times", first[2]);
}
END_TEST

/* A held 1010 keeps the names the certificate carried (PeerServer);
 * a new failure of the same hop forgets them. */
START_TEST(unreachable_names)
{
	static struct reach r;
	memset(&r, 0, sizeof r);
	reach_mark(&r, "a.test", 5061, 3, "certificate does not name a.test", 100, 30);
	reach_set_names(&r, "A.test", 5061, "wrong.test,other.test");
	ck_assert_str_eq(reach_down(&r, "a.test", 5061, 101)->names, "wrong.test,other.test");
	reach_set_names(&r, "b.test", 5061, "x");                  /* not held: nothing */
	ck_assert_ptr_null(reach_down(&r, "b.test", 5061, 101));
	reach_mark(&r, "a.test", 5061, 2, "refused", 110, 30);
	ck_assert_str_eq(reach_down(&r, "a.test", 5061, 111)->names, "");
}
END_TEST

/* PeerServer comes from a partner's certificate: no quote, backslash,
 * CR, LF or control character reaches the header, a long list is cut at
 * a name, and the header always ends with CRLF. */
START_TEST(diag_peer_server_quoted)
{
	char buf[1024];
	struct diag_attrs a = { .domain = "partner.test", .tls_target = "sip.partner.test",
				.peer_server = "bad\"name\r\nX-Evil: 1\t\x01\x7f\\,caf\xc3\xa9.test" };
	diag_headers(buf, sizeof buf, DIAG_MS, "edge.test", DIAG_CERT_NAME, &a, true);
	ck_assert_str_eq(buf, "ms-diagnostics: 1010;reason=\"Certificate trust with another server "
			 "could not be established\";domain=\"partner.test\";tls-target=\"sip.partner.test\";"
			 "PeerServer=\"badnameX-Evil: 1,caf??.test\";source=\"edge.test\"\r\n");

	char names[600] = "";
	for (int i = 0; i < 30; i++)
		snprintf(names + strlen(names), sizeof names - strlen(names),
			 "%sname%02d.partner.test", i ? "," : "", i);
	a.peer_server = names;
	diag_headers(buf, sizeof buf, DIAG_MS, "edge.test", DIAG_CERT_NAME, &a, true);
	const char *p = strstr(buf, "PeerServer=\"");
	ck_assert_ptr_nonnull(p);
	const char *q = strchr(p + 12, '"');
	ck_assert_ptr_nonnull(q);
	ck_assert_uint_le((size_t)(q - p - 12), 200);
	ck_assert(strncmp(q - 4, ",...", 4) == 0);
	ck_assert(strncmp(q - 5, "t", 1) == 0);                   /* whole names */
	ck_assert_ptr_nonnull(strstr(buf, "\";source=\"edge.test\"\r\n"));

	/* A buffer too small for every attribute still ends the header. */
	char small[160];
	diag_headers(small, sizeof small, DIAG_MS, "edge.test", DIAG_CERT_NAME, &a, true);
	size_t n = strlen(small);
	ck_assert_uint_ge(n, 2);
	ck_assert_str_eq(small + n - 2, "\r\n");
	ck_assert_ptr_null(strchr(small, '\n') == small + n - 1 ? NULL : strchr(small, '\n'));
}
END_TEST

START_TEST(unreachable_memory)
{
	static struct reach r;
	memset(&r, 0, sizeof r);
	ck_assert_ptr_null(reach_down(&r, "a.test", 5061, 100));
	reach_mark(&r, "a.test", 5061, 2, "refused", 100, 30);
	ck_assert_ptr_nonnull(reach_down(&r, "A.TEST", 5061, 129));
	ck_assert_str_eq(reach_down(&r, "a.test", 5061, 129)->reason, "refused");
	ck_assert_ptr_null(reach_down(&r, "a.test", 5061, 130));   /* held 30 s */
	ck_assert_ptr_null(reach_down(&r, "a.test", 5062, 110));   /* other port */
	reach_mark(&r, "a.test", 5061, 2, "refused", 200, 30);
	reach_clear(&r, "a.test", 5061);
	ck_assert_ptr_null(reach_down(&r, "a.test", 5061, 201));
	reach_mark(&r, "b.test", 5061, 2, "x", 0, 0);              /* hold 0: off */
	ck_assert_ptr_null(reach_down(&r, "b.test", 5061, 0));
	/* a full table drops the entry closest to expiry */
	for (int i = 0; i < REACH_SLOTS + 1; i++) {
		char h[32];
		snprintf(h, sizeof h, "h%d.test", i);
		reach_mark(&r, h, 5061, 2, "x", 1000 + i, 30);
	}
	ck_assert_ptr_null(reach_down(&r, "h0.test", 5061, 1010));     /* evicted */
	ck_assert_ptr_nonnull(reach_down(&r, "h1.test", 5061, 1010));
	ck_assert_ptr_nonnull(reach_down(&r, "h64.test", 5061, 1070));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("route");
	TCase *tc = tcase_create("route");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_test(tc, pattern_table);
	tcase_add_test(tc, static_longest_then_backups);
	tcase_add_test(tc, inbound_node_choice);
	tcase_add_test(tc, pat_map_both_ways);
	tcase_add_test(tc, srv_priority_order);
	tcase_add_test(tc, srv_weighted_distribution);
	tcase_add_test(tc, unreachable_memory);
	tcase_add_test(tc, unreachable_names);
	tcase_add_test(tc, diag_peer_server_quoted);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
