/* The outbound target guard: one table row per rule (SPEC section 4). */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/guard.h"

static struct conf_portmap ports1[] = { { 5062, 5061 }, { 5080, 45080 } };
static char *names1[] = { "imp1.corp.internal" };
static struct conf_node nodes[] = {
	{ .name = "imp1", .address = "10.1.1.11", .tls_name = "imp1.example.local",
	  .names = names1, .nnames = 1, .ports = ports1, .nports = 2 },
	{ .name = "imp6", .address = "2001:db8:1::11", .tls_name = "2001:db8:1::11",
	  .ports = ports1, .nports = 1 },
};
static struct conf_listen listen_[] = {
	{ .zone = ZONE_EXTERNAL, .address = "198.51.100.1", .port = 5061 },
	{ .zone = ZONE_INTERNAL, .address = "10.1.1.1", .port = 5060 },
	{ .zone = ZONE_EXTERNAL, .address = "::", .port = 5062 },
};
static char *allowed_nets[] = { "127.0.27.0/24", "fd00:1::/64", "10.9.9.9" };
static char *blocked[] = { "spam.example" };
static struct conf cf;

static void setup(void)
{
	memset(&cf, 0, sizeof cf);
	cf.edge.fqdn = "edge.example.com";
	cf.internal.nodes = nodes;
	cf.internal.nnodes = 2;
	cf.listen = listen_;
	cf.nlisten = 3;
	cf.federation.allowed_networks = allowed_nets;
	cf.federation.nallowed_networks = 3;
	cf.federation.blocked = blocked;
	cf.federation.nblocked = 1;
}

static struct sockaddr_storage sa(const char *ip, int port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, ip, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
	} else {
		ck_assert(inet_pton(AF_INET6, ip, &s6->sin6_addr) == 1);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
	}
	return ss;
}

static const struct arow {
	const char *ip;
	int port;
	enum guard_verdict want;
	const char *why;        /* substring of the explanation */
} arows[] = {
	{ "203.0.113.7", 5061, GUARD_OK, NULL },
	{ "2001:db8:2::7", 5061, GUARD_OK, NULL },
	{ "10.1.1.11", 5061, GUARD_NODE, "node imp1" },
	{ "10.1.1.11", 443, GUARD_NODE, "node imp1" },
	{ "::ffff:10.1.1.11", 5061, GUARD_NODE, "node imp1" },
	{ "2001:db8:1::11", 5062, GUARD_NODE, "node imp6" },
	{ "198.51.100.1", 5061, GUARD_SELF, "own listeners" },
	{ "198.51.100.1", 45080, GUARD_SELF, "own listeners" },  /* node public port */
	{ "198.51.100.1", 5070, GUARD_OK, NULL },
	{ "10.1.1.1", 5060, GUARD_SELF, "own listeners" },
	{ "127.0.0.1", 5061, GUARD_SPECIAL, "loopback" },
	{ "127.1.2.3", 5061, GUARD_SPECIAL, "loopback" },
	{ "127.0.27.21", 5061, GUARD_OK, NULL },                 /* allowed network */
	{ "127.0.28.21", 5061, GUARD_SPECIAL, "loopback" },
	{ "10.1.2.3", 5061, GUARD_SPECIAL, "RFC 1918" },
	{ "10.9.9.9", 5061, GUARD_OK, NULL },                    /* allowed single address */
	{ "10.9.9.10", 5061, GUARD_SPECIAL, "RFC 1918" },
	{ "172.16.0.1", 5061, GUARD_SPECIAL, "RFC 1918" },
	{ "172.31.255.255", 5061, GUARD_SPECIAL, "RFC 1918" },
	{ "172.32.0.1", 5061, GUARD_OK, NULL },
	{ "192.168.1.1", 5061, GUARD_SPECIAL, "RFC 1918" },
	{ "100.64.0.1", 5061, GUARD_SPECIAL, "6598" },
	{ "100.127.255.254", 5061, GUARD_SPECIAL, "6598" },
	{ "100.128.0.1", 5061, GUARD_OK, NULL },
	{ "169.254.1.1", 5061, GUARD_SPECIAL, "link-local" },
	{ "0.0.0.0", 5061, GUARD_SPECIAL, "unspecified" },
	{ "224.0.0.1", 5061, GUARD_SPECIAL, "multicast" },
	{ "255.255.255.255", 5061, GUARD_SPECIAL, "reserved" },
	{ "::", 5070, GUARD_SPECIAL, "unspecified" },
	{ "::1", 5061, GUARD_SPECIAL, "loopback" },
	{ "::ffff:127.0.0.1", 5061, GUARD_SPECIAL, "loopback" },
	{ "::ffff:192.168.0.1", 5061, GUARD_SPECIAL, "RFC 1918" },
	{ "fe80::1", 5061, GUARD_SPECIAL, "link-local" },
	{ "fd12:3456::1", 5061, GUARD_SPECIAL, "ULA" },
	{ "fd00:1::5", 5061, GUARD_OK, NULL },                   /* allowed ULA /64 */
	{ "ff02::1", 5061, GUARD_SPECIAL, "multicast" },
	{ "64:ff9b::a01:10b", 5061, GUARD_SPECIAL, "NAT64" },
	{ "2002:a01:10b::1", 5061, GUARD_SPECIAL, "6to4" },
};

START_TEST(address_rules)
{
	const struct arow *r = &arows[_i];
	struct sockaddr_storage ss = sa(r->ip, r->port);
	char why[200] = "";
	enum guard_verdict v = guard_address(&cf, NULL, (struct sockaddr *)&ss, why, sizeof why);
	ck_assert_msg(v == r->want, "%s:%d: got %d, want %d (%s)", r->ip, r->port, v, r->want, why);
	if (r->why)
		ck_assert_msg(strstr(why, r->why), "%s: '%s' lacks '%s'", r->ip, why, r->why);
}
END_TEST

START_TEST(wildcard_listener_is_self_on_own_addresses)
{
	/* The external listener on [::]:5062 is the edge on any of its own
	 * addresses, even an allowed one; another host on 5062 is not. */
	struct sockaddr_storage own[] = { sa("127.0.27.5", 0), sa("203.0.113.50", 0) };
	struct guard_self self = { own, 2 };
	struct sockaddr_storage a = sa("203.0.113.50", 5062), b = sa("127.0.27.5", 5062),
				c = sa("203.0.113.51", 5062);
	ck_assert_int_eq(guard_address(&cf, &self, (struct sockaddr *)&a, NULL, 0), GUARD_SELF);
	ck_assert_int_eq(guard_address(&cf, &self, (struct sockaddr *)&b, NULL, 0), GUARD_SELF);
	ck_assert_int_eq(guard_address(&cf, &self, (struct sockaddr *)&c, NULL, 0), GUARD_OK);
}
END_TEST

static const struct nrow {
	const char *host;
	bool ok;
} nrows[] = {
	{ "sip.partner.test", true },
	{ "spam.example", false },
	{ "edge.SPAM.example", false },
	{ "notspam.example", true },
	{ "10.1.1.11", false },
	{ "imp1.example.local", false },
	{ "IMP1.corp.internal", false },
	{ "2001:db8:1::11", false },
	{ "10.1.1.1", false },                /* the internal listener */
	{ "", false },
	{ "spam.example.", false },           /* absolute name */
	{ "imp1.example.local.", false },
	{ "edge.example.com", false },        /* the edge itself */
	{ "edge.example.com.", false },
};

START_TEST(name_rules)
{
	const struct nrow *r = &nrows[_i];
	ck_assert_msg(guard_name(&cf, r->host) == r->ok, "%s", r->host);
}
END_TEST

START_TEST(networks_parse)
{
	struct net n;
	ck_assert(net_parse("10.0.0.0/8", &n) && n.family == AF_INET && n.prefix == 8);
	ck_assert(net_parse("2001:db8::/32", &n) && n.family == AF_INET6 && n.prefix == 32);
	ck_assert(net_parse("192.0.2.1", &n) && n.prefix == 32);
	ck_assert(net_parse("::1", &n) && n.prefix == 128);
	ck_assert(net_parse("0.0.0.0/0", &n) && n.prefix == 0);
	ck_assert(!net_parse("10.0.0.0/33", &n));
	ck_assert(!net_parse("10.0.0.0/", &n));
	ck_assert(!net_parse("10.0.0.0/8x", &n));
	ck_assert(!net_parse("10.0.0/8", &n));
	ck_assert(!net_parse("/8", &n));
	ck_assert(!net_parse("example.com/8", &n));
	ck_assert(!net_parse("::/129", &n));
	struct sockaddr_storage a = sa("10.200.1.1", 1);
	ck_assert(net_parse("10.128.0.0/9", &n) && net_contains(&n, (struct sockaddr *)&a));
	ck_assert(net_parse("10.0.0.0/9", &n) && !net_contains(&n, (struct sockaddr *)&a));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("guard");
	TCase *tc = tcase_create("guard");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, address_rules, 0, (int)(sizeof arows / sizeof arows[0]));
	tcase_add_test(tc, wildcard_listener_is_self_on_own_addresses);
	tcase_add_loop_test(tc, name_rules, 0, (int)(sizeof nrows / sizeof nrows[0]));
	tcase_add_test(tc, networks_parse);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
