/* Pure decisions of the pipeline (core/classify.c, core/nexthop.c) as
 * tables: what a request is and where it may go. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <string.h>
#include <sofia-sip/sip_protos.h>

#include "core/classify.h"
#include "core/nexthop.h"
#include "core/sipmsg.h"

static struct conf_static_route sr = { .pattern = ".test.static.*",
				       .next_hop = "hop.static.test", .port = 5071 };
static char *blocked[] = { "blocked.test" };
static char *exts[] = { "gruu", "path" };
static struct conf cf;
static msg_t *m;

static void setup(void)
{
	unit_edge_conf(&cf);
	cf.federation.static_routes = &sr;
	cf.federation.nstatic_routes = 1;
	cf.federation.blocked = blocked;
	cf.federation.nblocked = 1;
	cf.federation.supported_extensions = exts;
	cf.federation.nsupported_extensions = 2;
	m = NULL;
}

static void teardown(void)
{
	if (m)
		msg_destroy(m);
}

/* A request line, To tag (or ""), and extra header lines. */
static sip_t *req(const char *line, const char *to_tag, const char *extra)
{
	char text[2048];
	snprintf(text, sizeof text,
		 "%s SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKx\r\n"
		 "From: <sip:alice@partner.test>;tag=a\r\n"
		 "To: <sip:bob@example.test>%s%s\r\n"
		 "Call-ID: c1\r\nCSeq: 1 MESSAGE\r\n%s"
		 "Content-Length: 0\r\n\r\n",
		 line, *to_tag ? ";tag=" : "", to_tag, extra);
	if (m)
		msg_destroy(m);
	m = msg_make(sipmsg_mclass(), 0, text, strlen(text));
	ck_assert_ptr_nonnull(m);
	return sip_object(m);
}

START_TEST(inbound_verdicts)
{
	static const struct {
		const char *line, *extra;
		int node, status;
		const char *reason;
	} t[] = {
		{ "MESSAGE sip:bob@example.test", "", 0, 0, NULL },
		{ "MESSAGE sip:bob@other.test", "", -1, 403, "not_local_domain" },
		{ "MESSAGE sip:bob@edge.example.com:5061", "", 0, 0, NULL },
		{ "MESSAGE sip:bob@edge.example.com:5999", "", -1, 403, "not_local_domain" },
		{ "MESSAGE sip:bob@example.test", "Route: <sip:elsewhere.test;lr>\r\n",
		  -1, 403, "foreign_route" },
		{ "MESSAGE sip:bob@example.test",
		  "Route: <sip:edge.example.com;lr;maddr=10.1.1.11>\r\n", -1, 403, "foreign_route" },
		{ "MESSAGE sip:bob@example.test;maddr=10.1.1.11", "", -1, 403, "foreign_route" },
		{ "MESSAGE sip:bob@example.test;maddr=198.51.100.9", "", 0, 0, NULL },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		struct inbound_verdict v;
		classify_inbound(&cf, req(t[i].line, "", t[i].extra), 5061, 0, NULL, &v);
		ck_assert_msg(v.node == t[i].node && v.status == t[i].status,
			      "%s: node %d status %d", t[i].line, v.node, v.status);
		if (t[i].reason)
			ck_assert_str_eq(v.reason, t[i].reason);
	}
	bool down[] = { false };
	struct inbound_verdict v;
	classify_inbound(&cf, req("MESSAGE sip:bob@example.test", "", ""), 5061, 0, down, &v);
	ck_assert_int_eq(v.status, 503);
	ck_assert_str_eq(v.reason, "no_node_available");
	ck_assert_str_eq(v.domain, "example.test");
}
END_TEST

START_TEST(outbound_ways)
{
	static const struct {
		const char *line, *tag, *extra;
		enum outbound_way way;
		const char *host;
	} t[] = {
		{ "MESSAGE sip:carol@partner.test", "", "", OUT_POLICY, NULL },
		{ "MESSAGE sip:carol@partner.test", "x", "", OUT_POLICY, NULL },
		{ "BYE sip:carol@198.51.100.9", "x", "", OUT_DIRECT, "198.51.100.9" },
		{ "BYE sip:carol@host.partner.test:5072", "x", "", OUT_DIRECT, "host.partner.test" },
		{ "BYE sip:carol@host.partner.test", "x", "Route: <sip:rr.partner.test;lr>\r\n",
		  OUT_DIRECT, "rr.partner.test" },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		url_t const *u = NULL;
		ck_assert_int_eq(classify_outbound(&cf, req(t[i].line, t[i].tag, t[i].extra), &u),
				 t[i].way);
		if (t[i].host)
			ck_assert_str_eq(u->url_host, t[i].host);
	}
	/* To a blocked domain, in dialog: the dialog ends with the block. */
	char text[512];
	snprintf(text, sizeof text, "BYE sip:carol@198.51.100.9 SIP/2.0\r\n"
		 "Via: SIP/2.0/TCP 10.1.1.11;branch=z9hG4bKy\r\n"
		 "From: <sip:bob@example.test>;tag=b\r\nTo: <sip:carol@blocked.test>;tag=x\r\n"
		 "Call-ID: c2\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
	msg_t *b = msg_make(sipmsg_mclass(), 0, text, strlen(text));
	url_t const *u = NULL;
	ck_assert_int_eq(classify_outbound(&cf, sip_object(b), &u), OUT_BLOCKED);
	msg_destroy(b);
}
END_TEST

START_TEST(to_edge_and_unsupported)
{
	static const struct {
		const char *line, *tag, *extra;
		bool to_edge;
	} t[] = {
		{ "OPTIONS sip:edge.example.com", "", "", true },
		{ "OPTIONS sip:192.0.2.10", "", "", false },     /* only via ours() */
		{ "OPTIONS sip:bob@edge.example.com", "", "", false },
		{ "OPTIONS sip:edge.example.com", "x", "", false },
		{ "OPTIONS sip:edge.example.com", "", "Route: <sip:x.test;lr>\r\n", false },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++)
		ck_assert_msg(classify_to_edge(&cf, req(t[i].line, t[i].tag, t[i].extra),
					       NULL, NULL) == t[i].to_edge, "%zu", i);
	char hdr[600];
	ck_assert_uint_eq(classify_unsupported(&cf, req("MESSAGE sip:b@example.test", "",
		"Proxy-Require: gruu, PATH\r\n"), hdr, sizeof hdr), 0);
	ck_assert_uint_eq(classify_unsupported(&cf, req("MESSAGE sip:b@example.test", "",
		"Proxy-Require: gruu, foo\r\nProxy-Require: bar\r\n"), hdr, sizeof hdr), 2);
	ck_assert_str_eq(hdr, "Unsupported: foo, bar\r\n");
}
END_TEST

START_TEST(too_many_values)
{
	int status = 0;
	cf.limits.max_header_values = 1;
	ck_assert_ptr_null(classify_too_many_values(&cf, req("MESSAGE sip:b@example.test", "",
		"Route: <sip:a.test;lr>\r\n"), &status));
	ck_assert_str_eq(classify_too_many_values(&cf, req("MESSAGE sip:b@example.test", "",
		"Route: <sip:a.test;lr>, <sip:b.test;lr>\r\n"), &status), "too_many_values");
	ck_assert_int_eq(status, 400);
	cf.limits.max_via = 0;
	ck_assert_str_eq(classify_too_many_values(&cf, req("MESSAGE sip:b@example.test", "", ""),
						  &status), "too_many_via");
	ck_assert_int_eq(status, 483);
}
END_TEST

START_TEST(nexthop_table)
{
	static const struct {
		const char *domain;
		bool in_dialog, discovery;
		enum nexthop_verdict verdict;
		const char *reason_or_host;
		int port;
	} t[] = {
		{ "example.test", false, true, NEXTHOP_REFUSE, "local_domain", 0 },
		{ "edge.example.com", true, true, NEXTHOP_REFUSE, "local_domain", 0 },
		{ "blocked.test", false, true, NEXTHOP_REFUSE, "domain_blocked", 0 },
		{ "unknown.test", false, false, NEXTHOP_REFUSE, "domain_not_federated", 0 },
		{ "unknown.test", true, false, NEXTHOP_SRV, NULL, 0 },
		{ "unknown.test", false, true, NEXTHOP_SRV, NULL, 0 },
		{ "partner.test", false, false, NEXTHOP_GO, "sip.partner.test", 5061 },
		{ "a.static.test", false, true, NEXTHOP_GO, "hop.static.test", 5071 },
	};
	for (size_t i = 0; i < sizeof t / sizeof *t; i++) {
		struct nexthop d;
		cf.federation.discovery = t[i].discovery;
		nexthop_outbound(&cf, t[i].domain, t[i].in_dialog, &d);
		ck_assert_msg(d.verdict == t[i].verdict, "%s: verdict %d", t[i].domain, d.verdict);
		if (d.verdict == NEXTHOP_REFUSE) {
			ck_assert_str_eq(d.reason, t[i].reason_or_host);
			ck_assert_int_eq(d.status, 403);
		} else if (d.verdict == NEXTHOP_GO) {
			ck_assert_uint_eq(d.n, 1);
			ck_assert_str_eq(d.hop[0].host, t[i].reason_or_host);
			ck_assert_int_eq(d.hop[0].port, t[i].port);
		}
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("classify");
	TCase *tc = tcase_create("core");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inbound_verdicts);
	tcase_add_test(tc, outbound_ways);
	tcase_add_test(tc, to_edge_and_unsupported);
	tcase_add_test(tc, too_many_values);
	tcase_add_test(tc, nexthop_table);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
