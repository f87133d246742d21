/* The proxy core without sockets: connections that never come up keep
 * what would be sent in their `pending` buffer, which the tests read. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/buffer.h>
#include <event2/event.h>

#include "net/conn.h"
#include "net/conn_impl.h"     /* conn_keyed: what the reuse index holds */
#include "proxy/edge.h"
#include "proxy/forward.h"
#include "core/framing.h"
#include "net/listener.h"
#include "proxy/proxy.h"
#include "core/sipmsg.h"
#include "proxy/txn.h"

static struct conf_static_route sr = { .pattern = ".test.partner.*",
				       .next_hop = "sip.partner.test", .port = 5061 };

static struct conf cf;
static struct edge e;
static struct listener l_int = { .zone = ZONE_INTERNAL, .transport = TRANSPORT_TCP,
				 .address = "10.1.1.1", .port = 5060 };
static struct listener l_ext = { .zone = ZONE_EXTERNAL, .transport = TRANSPORT_TLS,
				 .address = "192.0.2.10", .port = 5061 };

static void setup(void)
{
	unit_edge_conf(&cf);
	cf.federation.static_routes = &sr;
	cf.federation.nstatic_routes = 1;
	cf.federation.diagnostics = DIAG_BOTH;
	memset(&e, 0, sizeof e);
	e.conf = &cf;
	e.base = event_base_new();
	e.net = netctx_new(e.base, &cf, &e.next_id);
	proxy_attach(&e);
	e.txns = txn_table_new();
	l_ext.next = &l_int;
	l_int.next = NULL;
	e.listeners = &l_ext;
	fwd_refresh_view(&e);
}

static void teardown(void)
{
	conn_close_all(e.net);
	txn_table_free(e.txns);
	netctx_free(e.net);
	event_base_free(e.base);
	free(e.tokv);             /* fwd_refresh_view's, used until here */
	e.tokv = NULL;
}

/* A federated peer's connection (external) and a node's (internal). */
static struct conn *peer_conn(void)
{
	struct conn *c = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	c->local_port = 5061;
	/* as if its certificate had been verified */
	c->names.name[c->names.n++] = strdup("sip.partner.test");
	return c;
}

static struct conn *node_conn(void)
{
	return conn_to(e.net, ZONE_INTERNAL, TRANSPORT_TCP, "10.1.1.11", 5062, 0);
}

static void deliver(struct conn *c, const char *text)
{
	struct framer *f = framer_new(65535);
	framer_feed(f, text, strlen(text));
	msg_t *msg;
	ck_assert_int_eq(framer_next(f, &msg), FRAME_MSG);
	proxy_on_message(c, msg);
	framer_free(f);
}

/* The next message queued on c, parsed (caller destroys). */
static msg_t *sent(struct conn *c)
{
	size_t len = evbuffer_get_length(c->pending);
	if (len == 0)
		return NULL;
	struct framer *f = framer_new(65535);
	char *buf = malloc(len);
	evbuffer_copyout(c->pending, buf, len);
	framer_feed(f, buf, len);
	msg_t *msg = NULL;
	ck_assert_int_eq(framer_next(f, &msg), FRAME_MSG);
	evbuffer_drain(c->pending, msg_size(msg) ? (size_t)msg_size(msg) : len);
	framer_free(f);
	free(buf);
	return msg;
}

static char *printed(msg_t *m)
{
	size_t len;
	return sipmsg_print(m, &len);
}

static int count_vias(sip_t const *sip)
{
	int n = 0;
	for (sip_via_t const *v = sip->sip_via; v; v = v->v_next)
		n++;
	return n;
}

#define INBOUND(extra, ruri) \
	"MESSAGE " ruri " SIP/2.0\r\n" \
	"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKpeer1\r\n" \
	extra \
	"From: <sip:alice@partner.test>;tag=a1\r\n" \
	"To: <sip:bob@example.test>\r\n" \
	"Call-ID: call-1\r\n" \
	"CSeq: 1 MESSAGE\r\n" \
	"Contact: <sip:alice@198.51.100.7:5061;transport=tls>\r\n" \
	"Content-Length: 2\r\n\r\nhi"

START_TEST(inbound_forwarded_to_node)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Max-Forwards: 70\r\n", "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	sip_t *s = sip_object(m);
	ck_assert_int_eq(count_vias(s), 2);
	ck_assert_str_eq(s->sip_via->v_host, "10.1.1.1");
	ck_assert_str_eq(s->sip_via->v_port, "5060");
	ck_assert_str_eq(s->sip_via->v_protocol, "SIP/2.0/TCP");
	ck_assert(strncmp(s->sip_via->v_branch, BRANCH_PREFIX, strlen(BRANCH_PREFIX)) == 0);
	ck_assert_uint_eq(s->sip_max_forwards->mf_count, 69);
	sip_record_route_t *rr = s->sip_record_route;
	ck_assert_ptr_nonnull(rr);
	ck_assert_str_eq(rr->r_url->url_host, "10.1.1.1");     /* faces the node */
	ck_assert(url_has_param(rr->r_url, "lr"));
	ck_assert(url_has_param(rr->r_url, "sipedge=int"));
	ck_assert_ptr_nonnull(rr->r_next);
	ck_assert_str_eq(rr->r_next->r_url->url_host, "edge.example.com");
	ck_assert(url_has_param(rr->r_next->r_url, "sipedge=ext"));
	ck_assert_ptr_null(rr->r_next->r_next);
	ck_assert_str_eq(s->sip_payload->pl_data, "hi");
	ck_assert_uint_eq(txn_count(&e), 1);
	msg_destroy(m);
	ck_assert_ptr_null(sent(peer));                        /* nothing back yet */
}
END_TEST

/* More open transactions than limits.max_transactions: 503 at once. */
START_TEST(max_transactions_503)
{
	cf.limits.max_transactions = 1;
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Max-Forwards: 70\r\n", "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	msg_destroy(m);
	deliver(peer, INBOUND("Max-Forwards: 70\r\n", "sip:carol@example.test"));
	ck_assert_ptr_null(sent(n));
	m = sent(peer);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(sip_object(m)->sip_status->st_status, 503);
	char *t = printed(m);
	ck_assert_msg(strstr(t, "Retry-After: 5") != NULL, "%s", t);
	free(t);
	msg_destroy(m);
	ck_assert_uint_eq(txn_count(&e), 1);
}
END_TEST

START_TEST(max_forwards_missing_set_to_70)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("", "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	ck_assert_uint_eq(sip_object(m)->sip_max_forwards->mf_count, 70);
	msg_destroy(m);
}
END_TEST

static void expect_refusal(struct conn *c, int status, const char *needle)
{
	msg_t *m = sent(c);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(sip_object(m)->sip_status->st_status, status);
	if (needle) {
		char *t = printed(m);
		ck_assert_msg(strstr(t, needle) != NULL, "no '%s' in:\n%s", needle, t);
		free(t);
	}
	msg_destroy(m);
	ck_assert_uint_eq(txn_count(&e), 0);
}

START_TEST(max_forwards_zero_483)
{
	struct conn *peer = peer_conn();
	deliver(peer, INBOUND("Max-Forwards: 0\r\n", "sip:bob@example.test"));
	expect_refusal(peer, 483, "Warning: 399 edge.example.com");
}
END_TEST

START_TEST(loop_482)
{
	struct conn *peer = peer_conn();
	deliver(peer, INBOUND("Via: SIP/2.0/TLS edge.example.com:5061;branch=" BRANCH_PREFIX "ffff1\r\n"
			      "Max-Forwards: 60\r\n", "sip:bob@example.test"));
	expect_refusal(peer, 482, NULL);
}
END_TEST

START_TEST(proxy_require_420)
{
	struct conn *peer = peer_conn();
	deliver(peer, INBOUND("Proxy-Require: foo, bar\r\n", "sip:bob@example.test"));
	expect_refusal(peer, 420, "Unsupported: foo, bar");
}
END_TEST

START_TEST(not_local_403_1017)
{
	struct conn *peer = peer_conn();
	deliver(peer, INBOUND("", "sip:bob@elsewhere.test"));
	msg_t *m = sent(peer);
	ck_assert_ptr_nonnull(m);
	char *t = printed(m);
	ck_assert_int_eq(sip_object(m)->sip_status->st_status, 403);
	ck_assert(strstr(t, "ms-diagnostics: 1017;reason=\"Cannot route From and To domains in this combination\";source=\"edge.example.com\"") != NULL);
	ck_assert(strstr(t, "domain=") == NULL);   /* no attributes outside */
	free(t);
	msg_destroy(m);
}
END_TEST

START_TEST(missing_call_id_400)
{
	struct conn *peer = peer_conn();
	deliver(peer, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7;branch=z9hG4bKx\r\n"
		"From: <sip:a@partner.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n"
		"CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
	expect_refusal(peer, 400, "Call-ID");
}
END_TEST

/* No To at all: refused with a 400 that respond_reply() does not sign
 * (it read the missing To's tag once; tests/fuzz/regress/
 * fuzz_rewrite-no-to-signed-refusal.bin found it through the proxy). */
START_TEST(missing_to_400)
{
	struct conn *peer = peer_conn();
	deliver(peer, "INVITE sip:user@example.test SIP/2.0\r\n"
		"CSeq: 193942 INVITE\r\n"
		"Via: SIP/2.0/UDP 192.0.2.95;branch=z9hG4bKkdj.insuf\r\n"
		"From: <sip:a@partner.test>;tag=1\r\nCall-ID: no-to\r\n"
		"Content-Length: 0\r\n\r\n");
	expect_refusal(peer, 400, "Warning: 399 edge.example.com");
}
END_TEST

START_TEST(outbound_hides_inside)
{
	struct conn *n = node_conn();
	n->node = 0;
	deliver(n, "SUBSCRIBE sip:bob@partner.test SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKnode1\r\n"
		"Route: <sip:10.1.1.1:5060;transport=tcp;lr>\r\n"   /* pre-loaded to us */
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@example.test>;tag=n1\r\nTo: <sip:bob@partner.test>\r\n"
		"Call-ID: out-1\r\nCSeq: 1 SUBSCRIBE\r\nEvent: presence\r\n"
		"Contact: <sip:alice@10.1.1.11:5062;transport=tcp>\r\n"
		"P-Asserted-Identity: <sip:alice@10.1.1.11:5062>\r\n"
		"Referred-By: <sip:carol@10.1.1.11:5062>\r\n"
		"Content-Length: 0\r\n\r\n");
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	msg_t *m = sent(ext);
	ck_assert_ptr_nonnull(m);
	sip_t *s = sip_object(m);
	ck_assert_int_eq(count_vias(s), 1);                     /* node Via hidden */
	ck_assert_ptr_null(s->sip_route);                       /* our pre-loaded route went */
	ck_assert_str_eq(s->sip_via->v_host, "edge.example.com");
	ck_assert_str_eq(s->sip_via->v_protocol, "SIP/2.0/TLS");
	ck_assert_str_eq(s->sip_record_route->r_url->url_host, "edge.example.com");
	ck_assert(url_has_param(s->sip_record_route->r_url, "sipedge=ext"));
	ck_assert_str_eq(s->sip_record_route->r_next->r_url->url_host, "edge.example.com");
	ck_assert(url_has_param(s->sip_record_route->r_next->r_url, "sipedge=int"));
	char *t = printed(m);
	ck_assert_str_eq(s->sip_contact->m_url->url_host, "edge.example.com");
	ck_assert_str_eq(s->sip_contact->m_url->url_port, "5061");
	ck_assert_msg(strstr(t, "10.1.1.") == NULL, "internal address leaked:\n%s", t);
	free(t);
	msg_destroy(m);

}
END_TEST

/* What the edge sends sip.partner.test when node 0 sends text. */
static msg_t *node_to_partner(const char *text)
{
	struct conn *n = node_conn();
	n->node = 0;
	deliver(n, text);
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	msg_t *m = sent(ext);
	ck_assert_ptr_nonnull(m);
	return m;
}

/* A node forging our "ext" marker on its internal listener's address must
 * not have the edge carry that address outside. */
START_TEST(forged_ext_marker_mapped)
{
	msg_t *m = node_to_partner("MESSAGE sip:bob@partner.test SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKnode2\r\n"
		"Record-Route: <sip:10.1.1.1:5060;transport=tcp;lr;sipedge=ext>\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@example.test>;tag=n2\r\nTo: <sip:bob@partner.test>\r\n"
		"Call-ID: out-2\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
	char *t = printed(m);
	ck_assert_msg(strstr(t, "10.1.1.") == NULL, "internal address leaked:\n%s", t);
	ck_assert_str_eq(sip_object(m)->sip_record_route->r_next->r_next->r_url->url_host,
			 "edge.example.com");
	free(t);
	msg_destroy(m);
}
END_TEST

START_TEST(in_dialog_from_peer_restores_node_uri)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, "BYE sip:bob@edge.example.com:5061;transport=tls SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKbye1\r\n"
		"Route: <sip:edge.example.com:5061;transport=tls;lr;sipedge=ext>\r\n"
		"Route: <sip:edge.example.com:5061;transport=tls;lr;sipedge=int>\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=b1\r\n"
		"Call-ID: d-1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n");
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	sip_t *s = sip_object(m);
	ck_assert_ptr_null(s->sip_route);                       /* ours removed */
	ck_assert_str_eq(s->sip_request->rq_url->url_host, "10.1.1.11");
	ck_assert_str_eq(s->sip_request->rq_url->url_port, "5062");
	ck_assert(url_has_param(s->sip_request->rq_url, "transport=tcp"));
	msg_destroy(m);
}
END_TEST

START_TEST(response_follows_txn_and_stray_dropped)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Max-Forwards: 70\r\n", "sip:bob@example.test"));
	msg_t *fwd = sent(n);
	ck_assert_ptr_nonnull(fwd);
	char resp[2048];
	snprintf(resp, sizeof resp, "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/TCP 10.1.1.1:5060;branch=%s\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKpeer1\r\n"
		 "From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=b9\r\n"
		 "Call-ID: call-1\r\nCSeq: 1 MESSAGE\r\n"
		 "Contact: <sip:bob@10.1.1.11:5062;transport=tcp>\r\n"
		 "Content-Length: 0\r\n\r\n", sip_object(fwd)->sip_via->v_branch);
	msg_destroy(fwd);
	/* The upstream conn is found by id: the peer conn must be in the table. */
	deliver(n, resp);
	msg_t *back = sent(peer);
	ck_assert_ptr_nonnull(back);
	sip_t *s = sip_object(back);
	ck_assert_int_eq(s->sip_status->st_status, 200);
	ck_assert_int_eq(count_vias(s), 1);
	ck_assert_str_eq(s->sip_via->v_branch, "z9hG4bKpeer1");
	ck_assert_str_eq(s->sip_contact->m_url->url_host, "edge.example.com");
	char *t = printed(back);
	ck_assert_msg(strstr(t, "10.1.1.") == NULL, "internal address leaked:\n%s", t);
	free(t);
	msg_destroy(back);
	ck_assert_uint_eq(txn_count(&e), 0);
	/* The same response again is a stray: dropped. */
	deliver(n, resp);
	ck_assert_ptr_null(sent(peer));
}
END_TEST

START_TEST(node_unreachable_503_hides_inside)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Max-Forwards: 70\r\n", "sip:bob@example.test"));
	msg_t *fwd = sent(n);
	ck_assert_ptr_nonnull(fwd);
	msg_destroy(fwd);
	conn_close(n, CFAIL_CONNECT, "connect to 10.1.1.11:5062: Connection refused");
	msg_t *m = sent(peer);
	ck_assert_ptr_nonnull(m);
	sip_t *s = sip_object(m);
	ck_assert_int_eq(s->sip_status->st_status, 503);
	ck_assert_int_eq(count_vias(s), 1);
	ck_assert_str_eq(s->sip_via->v_branch, "z9hG4bKpeer1");
	char *t = printed(m);
	ck_assert_msg(strstr(t, "10.1.1.") == NULL, "internal address leaked:\n%s", t);
	ck_assert_msg(strstr(t, "Retry-After:") != NULL, "no Retry-After:\n%s", t);
	free(t);
	msg_destroy(m);
	ck_assert_uint_eq(txn_count(&e), 0);
}
END_TEST

START_TEST(unproven_domain_refused)
{
	struct conn *peer = peer_conn();
	deliver(peer, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKx\r\n"
		"From: <sip:mallory@other.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: c9\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
	expect_refusal(peer, 403, "ms-diagnostics: 1027;");
	/* the PAI claims a domain the certificate does not prove */
	deliver(peer, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKy\r\n"
		"From: <sip:alice@partner.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n"
		"P-Asserted-Identity: <sip:boss@lync.test>\r\n"
		"Call-ID: c10\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
	expect_refusal(peer, 403, "ms-diagnostics: 1027;");
}
END_TEST

static void deliver_fmt(struct conn *c, const char *fmt, const char *branch)
{
	char buf[2048];
	snprintf(buf, sizeof buf, fmt, branch);
	deliver(c, buf);
}

#define INVITE_HDRS \
	"Max-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=a1\r\n" \
	"To: <sip:bob@example.test>\r\nCall-ID: inv-1\r\n"

/* A branch longer than the stored upstream key (127 characters): its
 * CANCEL still finds the INVITE (both are cut the same way). */
START_TEST(cancel_long_branch)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	char br[200], text[2048];
	memset(br, 'x', sizeof br - 1);
	br[sizeof br - 1] = '\0';
	memcpy(br, "z9hG4bK", 7);
	snprintf(text, sizeof text, "INVITE sip:bob@example.test SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=%s\r\n" INVITE_HDRS
		 "CSeq: 1 INVITE\r\nContact: <sip:alice@198.51.100.7:5061;transport=tls>\r\n"
		 "Content-Length: 0\r\n\r\n", br);
	deliver(peer, text);
	msg_t *inv = sent(n);
	ck_assert_ptr_nonnull(inv);
	msg_destroy(inv);
	snprintf(text, sizeof text, "CANCEL sip:bob@example.test SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=%s\r\n" INVITE_HDRS
		 "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n", br);
	deliver(peer, text);
	msg_t *ok = sent(peer);
	ck_assert_ptr_nonnull(ok);
	ck_assert_int_eq(sip_object(ok)->sip_status->st_status, 200);
	msg_destroy(ok);
	msg_t *cancel = sent(n);
	ck_assert_ptr_nonnull(cancel);
	ck_assert_str_eq(sip_object(cancel)->sip_request->rq_method_name, "CANCEL");
	msg_destroy(cancel);
}
END_TEST

START_TEST(cancel_and_487)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, "INVITE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv\r\n" INVITE_HDRS
		"CSeq: 1 INVITE\r\nContact: <sip:alice@198.51.100.7:5061;transport=tls>\r\n"
		"Content-Length: 0\r\n\r\n");
	msg_t *inv = sent(n);
	ck_assert_ptr_nonnull(inv);
	char branch[64];
	snprintf(branch, sizeof branch, "%s", sip_object(inv)->sip_via->v_branch);
	msg_destroy(inv);

	deliver(peer, "CANCEL sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv\r\n" INVITE_HDRS
		"CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n");
	msg_t *ok = sent(peer);                      /* we answer the CANCEL */
	ck_assert_ptr_nonnull(ok);
	ck_assert_int_eq(sip_object(ok)->sip_status->st_status, 200);
	ck_assert_int_eq(sip_object(ok)->sip_cseq->cs_method, sip_method_cancel);
	msg_destroy(ok);
	msg_t *cancel = sent(n);                     /* and cancel downstream */
	ck_assert_ptr_nonnull(cancel);
	sip_t *cs = sip_object(cancel);
	ck_assert_str_eq(cs->sip_request->rq_method_name, "CANCEL");
	ck_assert_int_eq(count_vias(cs), 1);
	ck_assert_str_eq(cs->sip_via->v_branch, branch);
	ck_assert_str_eq(cs->sip_cseq->cs_method_name, "CANCEL");
	ck_assert_uint_eq(cs->sip_cseq->cs_seq, 1);
	msg_destroy(cancel);

	/* The node's 200 to our CANCEL is hop by hop: not relayed. */
	deliver_fmt(n, "SIP/2.0 200 OK\r\nVia: SIP/2.0/TCP 10.1.1.1:5060;branch=%s\r\n"
		    INVITE_HDRS "CSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n", branch);
	ck_assert_ptr_null(sent(peer));
	/* The 487 is relayed, and we ACK it downstream ourselves. */
	char resp[1024];
	snprintf(resp, sizeof resp, "SIP/2.0 487 Request Terminated\r\n"
		 "Via: SIP/2.0/TCP 10.1.1.1:5060;branch=%s\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=a1\r\n"
		 "To: <sip:bob@example.test>;tag=b7\r\nCall-ID: inv-1\r\n"
		 "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n", branch);
	deliver(n, resp);
	msg_t *r487 = sent(peer);
	ck_assert_ptr_nonnull(r487);
	ck_assert_int_eq(sip_object(r487)->sip_status->st_status, 487);
	ck_assert_int_eq(count_vias(sip_object(r487)), 1);
	msg_destroy(r487);
	msg_t *ack = sent(n);
	ck_assert_ptr_nonnull(ack);
	sip_t *as = sip_object(ack);
	ck_assert_str_eq(as->sip_request->rq_method_name, "ACK");
	ck_assert_str_eq(as->sip_via->v_branch, branch);
	ck_assert_str_eq(as->sip_to->a_tag, "b7");
	msg_destroy(ack);
	/* The peer's ACK for the 487 is ours to absorb. */
	deliver(peer, "ACK sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@partner.test>;tag=a1\r\n"
		"To: <sip:bob@example.test>;tag=b7\r\nCall-ID: inv-1\r\n"
		"CSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n");
	ck_assert_ptr_null(sent(n));
}
END_TEST

START_TEST(hidden_vias_restored_in_order)
{
	struct conn *n = node_conn();
	n->node = 0;
	deliver(n, "MESSAGE sip:bob@partner.test SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKtop\r\n"
		"Via: SIP/2.0/TCP 10.1.1.11:5080;branch=z9hG4bKinner\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:alice@example.test>;tag=n1\r\n"
		"To: <sip:bob@partner.test>\r\nCall-ID: vo-1\r\nCSeq: 1 MESSAGE\r\n"
		"Content-Length: 0\r\n\r\n");
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	msg_t *fwd = sent(ext);
	ck_assert_ptr_nonnull(fwd);
	deliver_fmt(ext, "SIP/2.0 200 OK\r\nVia: SIP/2.0/TLS edge.example.com:5061;branch=%s\r\n"
		    "From: <sip:alice@example.test>;tag=n1\r\nTo: <sip:bob@partner.test>;tag=p\r\n"
		    "Call-ID: vo-1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		    sip_object(fwd)->sip_via->v_branch);
	msg_destroy(fwd);
	msg_t *back = sent(n);
	ck_assert_ptr_nonnull(back);
	sip_t *s = sip_object(back);
	ck_assert_int_eq(count_vias(s), 2);
	ck_assert_str_eq(s->sip_via->v_branch, "z9hG4bKtop");
	ck_assert_str_eq(s->sip_via->v_next->v_branch, "z9hG4bKinner");
	msg_destroy(back);
}
END_TEST


/* ---------------------------------------------------------------- trust */

#define NODE_OUT(method, extra) \
	method " sip:bob@partner.test SIP/2.0\r\n" \
	"Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKnodeT\r\n" \
	"Max-Forwards: 70\r\n" \
	"From: <sip:alice@example.test>;tag=n1\r\n" \
	extra \
	"Call-ID: out-t\r\nCSeq: 1 " method "\r\n" \
	"Contact: <sip:alice@10.1.1.11:5062;transport=tcp>\r\n" \
	"Content-Length: 0\r\n\r\n"

static char *response_to(msg_t *req, int status, const char *extra)
{
	sip_t *r = sip_object(req);
	char *buf = malloc(4096);
	snprintf(buf, 4096, "SIP/2.0 %d X\r\nVia: SIP/2.0/TLS edge.example.com:5061;branch=%s\r\n"
		 "From: <sip:alice@example.test>;tag=n1\r\nTo: <sip:bob@partner.test>;tag=p1\r\n"
		 "Call-ID: %s\r\nCSeq: 1 %s\r\n%sContent-Length: 0\r\n\r\n", status,
		 r->sip_via->v_branch, r->sip_call_id->i_id, r->sip_request->rq_method_name,
		 extra);
	return buf;
}

/* A response is taken only from the connection its request went out on:
 * another certified peer that learned the branch cannot answer for it. */
START_TEST(response_only_from_its_connection)
{
	struct conn *n = node_conn();
	n->node = 0;
	deliver(n, NODE_OUT("MESSAGE", "To: <sip:bob@partner.test>\r\n"));
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	struct conn *evil = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.evil.test", 5061, -1);
	ck_assert_ptr_ne(ext, evil);
	msg_t *req = sent(ext);
	ck_assert_ptr_nonnull(req);
	char *forged = response_to(req, 503, ""), *real = response_to(req, 200, "");
	deliver(evil, forged);
	ck_assert_ptr_null(sent(n));                  /* the node heard nothing */
	ck_assert_uint_eq(txn_count(&e), 1);          /* and the txn is intact */
	deliver(ext, real);
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(sip_object(m)->sip_status->st_status, 200);
	msg_destroy(m);
	ck_assert_uint_eq(txn_count(&e), 0);
	free(forged);
	free(real);
	msg_destroy(req);
}
END_TEST

/* After an INVITE's final, only further 2xx (forking) are relayed: a late
 * provisional is stray, and neither re-arms Timer C on an answered call
 * nor moves the transaction back (a partner streaming 180s after its 200
 * would otherwise hold the transaction and its share). */
START_TEST(provisional_after_final_dropped)
{
	struct conn *n = node_conn();
	n->node = 0;
	deliver(n, NODE_OUT("INVITE", "To: <sip:bob@partner.test>\r\n"));
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	msg_t *req = sent(ext);
	ck_assert_ptr_nonnull(req);
	struct txn *t = txn_by_branch(&e, sip_object(req)->sip_via->v_branch);
	ck_assert_ptr_nonnull(t);
	char *ok = response_to(req, 200, ""), *ring = response_to(req, 180, "");
	deliver(ext, ok);
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(sip_object(m)->sip_status->st_status, 200);
	msg_destroy(m);
	ck_assert_int_eq(t->state, TXN_COMPLETED);
	deliver(ext, ring);
	ck_assert_ptr_null(sent(n));                  /* not relayed */
	ck_assert_int_eq(t->state, TXN_COMPLETED);
	ck_assert_int_eq(t->status, 200);
	deliver(ext, ok);                             /* a 2xx retransmission is */
	m = sent(n);
	ck_assert_ptr_nonnull(m);
	ck_assert_int_eq(sip_object(m)->sip_status->st_status, 200);
	msg_destroy(m);
	free(ok);
	free(ring);
	msg_destroy(req);
}
END_TEST

/* Branches: the RFC 3261 cookie, our mark, 96 random bits; all distinct,
 * and no two consecutive ones share a long prefix after the mark (no
 * counter, no per-process constant). */
START_TEST(branches_unpredictable)
{
	enum { N = 2000 };
	static char b[N][48];
	size_t plen = strlen(BRANCH_PREFIX), long_common = 0;
	for (int i = 0; i < N; i++) {
		txn_make_branch(&e, b[i], sizeof b[i]);
		ck_assert(strncmp(b[i], "z9hG4bK", 7) == 0);
		ck_assert(strncmp(b[i], BRANCH_PREFIX, plen) == 0);
		ck_assert_uint_eq(strlen(b[i]), plen + 2 * BRANCH_RANDOM_BYTES);
		ck_assert(strspn(b[i] + plen, "0123456789abcdef") == 2 * BRANCH_RANDOM_BYTES);
		int dup = 0;
		for (int k = 0; k < i; k++)
			dup += strcmp(b[i], b[k]) == 0;
		ck_assert_int_eq(dup, 0);
		if (i > 0) {
			size_t c = 0;
			while (b[i][plen + c] && b[i][plen + c] == b[i - 1][plen + c])
				c++;
			long_common += c >= 4;
		}
	}
	/* 4 equal hex digits by chance: 1 in 65536 per pair. */
	ck_assert_uint_le(long_common, 2);
}
END_TEST

/* Identity claims the edge cannot prove never reach a node; Microsoft's
 * trust marker neither, in requests or responses. */
START_TEST(unprovable_identity_headers_removed)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Max-Forwards: 70\r\n"
			      "Remote-Party-ID: <sip:ceo@example.test>;party=calling\r\n"
			      "P-Preferred-Identity: <sip:ceo@example.test>\r\n"
			      "Identity: abc\r\nIdentity-Info: <https://x.test/c>\r\n"
			      "Diversion: <sip:ceo@example.test>;reason=unconditional\r\n"
			      "History-Info: <sip:ceo@example.test>;index=1\r\n"
			      "ms-edge-proxy-message-trust: ms-source-type=AuthorizedServer\r\n"
			      "X-Kept: yes\r\n", "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	char *t = printed(m);
	static const char *gone[] = { "Remote-Party-ID", "P-Preferred-Identity", "Identity:",
		"Identity-Info", "Diversion", "History-Info", "ms-edge-proxy-message-trust", NULL };
	for (int i = 0; gone[i]; i++)
		ck_assert_msg(strcasestr(t, gone[i]) == NULL, "%s reached the node:\n%s", gone[i], t);
	ck_assert(strstr(t, "X-Kept: yes") != NULL);
	free(t);
	msg_destroy(m);
}
END_TEST

START_TEST(trust_header_removed_from_responses)
{
	struct conn *n = node_conn();
	n->node = 0;
	deliver(n, NODE_OUT("MESSAGE", "To: <sip:bob@partner.test>\r\n"));
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	msg_t *req = sent(ext);
	char *resp = response_to(req, 200, "ms-edge-proxy-message-trust: ms-source-type=InternalUser\r\n");
	deliver(ext, resp);
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	char *t = printed(m);
	ck_assert_msg(strcasestr(t, "ms-edge-proxy-message-trust") == NULL, "%s", t);
	free(t);
	free(resp);
	msg_destroy(m);
	msg_destroy(req);
}
END_TEST

START_TEST(referred_by_must_be_proven)
{
	struct conn *peer = peer_conn();
	deliver(peer, INBOUND("Referred-By: <sip:ceo@other.test>\r\n", "sip:bob@example.test"));
	expect_refusal(peer, 403, "1027");
	deliver(peer, INBOUND("Referred-By: <sip:carol@partner.test>\r\n", "sip:bob@example.test"));
	struct conn *n = node_conn();
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);                     /* proven like From: passes */
	msg_destroy(m);
}
END_TEST

/* An outsider's Route naming the edge with maddr would steer the node
 * toward maddr: refused like any foreign route. */
START_TEST(outsider_route_with_maddr_refused)
{
	struct conn *peer = peer_conn();
	deliver(peer, INBOUND("Route: <sip:edge.example.com:5061;maddr=10.1.1.11;lr>\r\n",
			      "sip:bob@example.test"));
	expect_refusal(peer, 403, "1017");
}
END_TEST

/* Targets a node's in-dialog request names (the partner's Record-Route
 * or Contact) pass the guard by name; a blocked partner's dialog ends. */
START_TEST(in_dialog_targets_guarded)
{
	static char *blocked[] = { "partner.test" };
	struct conn *n = node_conn();
	n->node = 0;
	deliver(n, NODE_OUT("MESSAGE", "To: <sip:bob@partner.test>;tag=p1\r\n"
			    "Route: <sip:10.1.1.11:5062;lr>\r\n"));
	expect_refusal(n, 403, "1027");
	deliver(n, NODE_OUT("MESSAGE", "To: <sip:bob@partner.test>;tag=p1\r\n"
			    "Route: <sip:10.1.1.1:5070;lr>\r\n"));   /* our inside, elsewhere */
	expect_refusal(n, 403, "1027");
	cf.federation.blocked = blocked;
	cf.federation.nblocked = 1;
	deliver(n, NODE_OUT("BYE", "To: <sip:bob@partner.test>;tag=p1\r\n"
			    "Route: <sip:sip.partner.test:5061;lr>\r\n"));
	expect_refusal(n, 403, "1027");
}
END_TEST


/* ------------------------------------------------------------ interop */

/* Lync presence: SUBSCRIBE with Proxy-Require: ms-benotify passes; an
 * unknown option tag still gets 420 naming only itself. */
START_TEST(proxy_require_supported_extensions)
{
	static char *ext[] = { "ms-benotify" };
	cf.federation.supported_extensions = ext;
	cf.federation.nsupported_extensions = 1;
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Proxy-Require: ms-benotify\r\nSupported: ms-benotify\r\n",
			      "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	msg_destroy(m);
	deliver(peer, INBOUND("Proxy-Require: ms-benotify\r\nProxy-Require: x-other\r\n",
			      "sip:bob@example.test"));
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(sip_object(r)->sip_status->st_status, 420);
	char *t = printed(r);
	ck_assert_msg(strstr(t, "Unsupported: x-other\r\n") != NULL, "%s", t);
	free(t);
	msg_destroy(r);
}
END_TEST

/* Untouched headers leave as they came: three Supported lines stay three
 * lines, a compact form stays compact, no empty header line appears. */
START_TEST(repeated_list_headers_kept)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Supported: ms-benotify\r\nSupported: ms-piggyback-first-notify\r\n"
			      "Supported: com.microsoft.autoextend\r\nAllow: INVITE, ACK\r\nAllow: BYE\r\n"
			      "k: timer\r\nX-Odd:   spaced  value\r\n", "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	char *t = printed(m);
	ck_assert_msg(strstr(t, "Supported: ms-benotify\r\nSupported: ms-piggyback-first-notify\r\n"
			     "Supported: com.microsoft.autoextend\r\nAllow: INVITE, ACK\r\nAllow: BYE\r\n"
			     "k: timer\r\nX-Odd:   spaced  value\r\n") != NULL, "%s", t);
	ck_assert_msg(strstr(t, ": \r\n") == NULL, "empty header line:\n%s", t);
	free(t);
	msg_destroy(m);
}
END_TEST

/* OPTIONS for the edge itself is answered by the edge, never a node. */
START_TEST(options_to_edge_answered)
{
	static char *ext[] = { "ms-benotify" };
	cf.federation.supported_extensions = ext;
	cf.federation.nsupported_extensions = 1;
	static const char *ruris[] = { "sip:edge.example.com:5061;transport=tls",
		"sip:192.0.2.10:5061", "sip:EDGE.example.com" };
	struct conn *peer = peer_conn(), *n = node_conn();
	for (size_t i = 0; i < 3; i++) {
		char req[1024];
		snprintf(req, sizeof req, "OPTIONS %s SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKo%zu\r\n"
			 "From: <sip:ping@partner.test>;tag=o1\r\nTo: <%s>\r\n"
			 "Call-ID: opt-%zu\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\n"
			 "Content-Length: 0\r\n\r\n", ruris[i], i, ruris[i], i);
		deliver(peer, req);
		msg_t *r = sent(peer);
		ck_assert_msg(r != NULL, "%s", ruris[i]);
		ck_assert_int_eq(sip_object(r)->sip_status->st_status, 200);
		char *t = printed(r);
		ck_assert_msg(strstr(t, "Allow: ") && strstr(t, "Supported: ms-benotify"), "%s", t);
		free(t);
		msg_destroy(r);
	}
	ck_assert_ptr_null(sent(n));
	ck_assert_uint_eq(txn_count(&e), 0);
	/* With a user part it is for someone behind the edge. */
	deliver(peer, "OPTIONS sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKo9\r\n"
		"From: <sip:alice@partner.test>;tag=o1\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: opt-9\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	msg_destroy(m);
}
END_TEST

/* A Route naming the edge by its listener address and port is the edge:
 * consumed, not a foreign route. */
START_TEST(route_by_listener_address_is_us)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Route: <sip:192.0.2.10:5061;transport=tls;lr>\r\n",
			      "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	ck_assert_ptr_null(sip_object(m)->sip_route);
	msg_destroy(m);
	/* Another port of the same address is not us. */
	deliver(peer, INBOUND("Route: <sip:192.0.2.10:5099;lr>\r\n", "sip:bob@example.test"));
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(sip_object(r)->sip_status->st_status, 403);
	msg_destroy(r);
}
END_TEST

/* RFC 3261 16.4: a strict-routing previous hop put our Record-Route value
 * in the Request-URI and the target in Route. */
START_TEST(strict_route_handled)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, "MESSAGE sip:edge.example.com:5061;transport=tls;lr;sipedge=ext SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKs1\r\n"
		"Route: <sip:bob@edge.example.com:5061;transport=tls>\r\n"
		"From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=b1\r\n"
		"Call-ID: strict-1\r\nCSeq: 2 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	sip_t *s = sip_object(m);
	ck_assert_str_eq(s->sip_request->rq_url->url_host, "10.1.1.11");   /* the node */
	ck_assert_str_eq(s->sip_request->rq_url->url_user, "bob");
	char *t = printed(m);
	ck_assert_msg(strstr(t, "sipedge=ext") == NULL || strstr(t, "Record-Route") != NULL, "%s", t);
	free(t);
	msg_destroy(m);
}
END_TEST

/* With federation.stamp_trust the edge marks what it verified, the way an
 * Access Edge does for a Lync pool ([MS-SIPRE] 2.2.15). */
START_TEST(stamp_trust_added)
{
	cf.federation.stamp_trust = true;
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("ms-edge-proxy-message-trust: ms-source-type=InternetUser\r\n",
			      "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	char *t = printed(m);
	ck_assert_msg(strstr(t, "ms-edge-proxy-message-trust: ms-source-type=DirectPartner;"
			     "ms-ep-fqdn=edge.example.com;ms-source-verified-user=verified;"
			     "ms-source-network=federation\r\n") != NULL, "%s", t);
	ck_assert_msg(strstr(t, "InternetUser") == NULL, "%s", t);
	free(t);
	msg_destroy(m);
}
END_TEST

/* RFC 5923: a peer's connection carries requests toward it only when it
 * asked (Via alias) for that host and port. */
/* An accepted, verified connection from a peer whose certificate names
 * name (no socket: nothing may be written to it). */
static struct conn *inbound_conn(const char *name)
{
	struct conn *c = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, name, 1, -1);
	c->outbound = false;
	c->state = CONN_UP;
	c->target[0] = '\0';
	c->local_port = 5061;
	c->names.name[c->names.n++] = strdup(name);
	return c;
}

START_TEST(reuse_only_with_alias)
{
	struct conn *n = node_conn();
	struct conn *plain = inbound_conn("sip.partner.test");
	deliver(plain, INBOUND("", "sip:bob@example.test"));        /* no alias */
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	msg_destroy(m);
	struct conn *out = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	ck_assert_ptr_ne(out, plain);                                /* dialled anew */
	struct conn *al = inbound_conn("sip.partner.test");
	deliver(al, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS sip.partner.test:5070;branch=z9hG4bKal1;alias\r\n"
		"From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: alias-1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	ck_assert_ptr_eq(conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5070, -1), al);
	ck_assert_ptr_eq(conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "SIP.Partner.test", 5070, -1), al);
	ck_assert_ptr_ne(conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5071, -1), al);
	ck_assert_ptr_eq(conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1), out);
}
END_TEST

/* A peer whose certificate does not name the alias host is never reused
 * for it, so it is not indexed under it either: each request toward the
 * partner would walk every such connection (a peer can open up to
 * limits.max_connections of them). */
START_TEST(alias_unproven_not_indexed)
{
	node_conn();
	struct conn *evil = inbound_conn("sip.evil.test");
	evil->state = CONN_TLS_HANDSHAKING;    /* its refusal queues in pending */
	deliver(evil, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS sip.partner.test:5070;branch=z9hG4bKal2;alias\r\n"
		"From: <sip:mallory@evil.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: alias-2\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 0\r\nContent-Length: 0\r\n\r\n");
	msg_t *r = sent(evil);                           /* refused (483) */
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(sip_object(r)->sip_status->st_status, 483);
	msg_destroy(r);
	evil->state = CONN_UP;
	ck_assert_str_eq(evil->alias, "sip.partner.test");     /* noted, once */
	ck_assert_ptr_null(conn_keyed(e.net, "a|sip.partner.test|5070", NULL));
	struct conn *al = inbound_conn("sip.partner.test");
	deliver(al, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS sip.partner.test:5070;branch=z9hG4bKal3;alias\r\n"
		"From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: alias-3\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	ck_assert_ptr_eq(conn_keyed(e.net, "a|sip.partner.test|5070", NULL), al);
	ck_assert_ptr_null(conn_keyed(e.net, "a|sip.partner.test|5070", al));
	ck_assert_ptr_eq(conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5070, -1), al);
}
END_TEST


/* ------------------------------------------------------------ red team */

/* Sofia reads "sip:ceo@example.test@sip.partner.test" with host
 * "example.test@sip.partner.test"; a node would read ceo@example.test. */
START_TEST(host_with_at_refused)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKat1\r\n"
		"From: <sip:ceo@example.test@sip.partner.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: at-1\r\nCSeq: 1 MESSAGE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(sip_object(r)->sip_status->st_status, 400);
	msg_destroy(r);
	ck_assert_ptr_null(sent(n));
}
END_TEST

/* VT, FF or DEL in a header: a node splitting lines there would read a
 * header the edge never checked. Folded lines leave unfolded. */
START_TEST(header_controls_and_folding)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("X-A: a\vRoute: <sip:10.1.1.11;lr>\r\n", "sip:bob@example.test"));
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(sip_object(r)->sip_status->st_status, 400);
	msg_destroy(r);
	ck_assert_ptr_null(sent(n));
	deliver(peer, INBOUND("X-B: b\r\n Route: <sip:10.1.1.11;lr>\r\n", "sip:bob@example.test"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	char *t = printed(m);
	ck_assert_msg(strstr(t, "\r\n Route") == NULL && strstr(t, "\r\nRoute") == NULL, "%s", t);
	ck_assert_msg(strstr(t, "X-B: b") != NULL, "%s", t);
	free(t);
	msg_destroy(m);
}
END_TEST

/* maddr in a Request-URI from outside may not steer a node inward. */
START_TEST(ruri_maddr_inward_refused)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("", "sip:bob@example.test;maddr=10.9.9.9"));
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(sip_object(r)->sip_status->st_status, 403);
	msg_destroy(r);
	ck_assert_ptr_null(sent(n));
	/* A public maddr (a Lync GRUU) passes as it came. */
	deliver(peer, INBOUND("", "sip:bob@example.test;opaque=user:epid:x;gruu;maddr=203.0.113.9"));
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	char *t = printed(m);
	ck_assert_msg(strstr(t, "maddr=203.0.113.9") != NULL, "%s", t);
	free(t);
	msg_destroy(m);
}
END_TEST

/* OPTIONS in a dialog, or for the internal listener from outside, is not
 * the edge's to answer. */
START_TEST(options_not_stolen)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, "OPTIONS sip:10.1.1.1:5060 SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKon1\r\n"
		"From: <sip:ping@partner.test>;tag=o1\r\nTo: <sip:10.1.1.1:5060>\r\n"
		"Call-ID: on-1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_ne(sip_object(r)->sip_status->st_status, 200);
	msg_destroy(r);
	deliver(peer, "OPTIONS sip:edge.example.com:5061 SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKon2\r\n"
		"From: <sip:alice@partner.test>;tag=o1\r\nTo: <sip:bob@example.test>;tag=b1\r\n"
		"Call-ID: on-2\r\nCSeq: 2 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);                  /* in dialog: to the node */
	msg_destroy(m);
}
END_TEST

/* A 483 for too many Via values echoes only the sender's own Via. */
START_TEST(too_many_via_483_short)
{
	cf.limits.max_via = 3;
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, INBOUND("Via: SIP/2.0/TLS 1.1.1.1;branch=z9hG4bK1, SIP/2.0/TLS 1.1.1.2;branch=z9hG4bK2, "
			      "SIP/2.0/TLS 1.1.1.3;branch=z9hG4bK3\r\n", "sip:bob@example.test"));
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	sip_t *s = sip_object(r);
	ck_assert_int_eq(s->sip_status->st_status, 483);
	ck_assert_int_eq(count_vias(s), 1);
	ck_assert_str_eq(s->sip_via->v_branch, "z9hG4bKpeer1");
	msg_destroy(r);
	ck_assert_ptr_null(sent(n));
}
END_TEST


/* The ACK for a non-2xx the edge made itself ends at the edge, though no
 * transaction was kept for the refused request (RFC 3261 17.2.1). */
START_TEST(ack_for_own_refusal_absorbed)
{
	struct conn *peer = peer_conn(), *n = node_conn();
	deliver(peer, "INVITE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv420\r\n"
		"Proxy-Require: x-unknown\r\n"
		"From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: ack-1\r\nCSeq: 1 INVITE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	msg_t *r = sent(peer);
	ck_assert_ptr_nonnull(r);
	ck_assert_int_eq(sip_object(r)->sip_status->st_status, 420);
	char ack[1024];
	snprintf(ack, sizeof ack, "ACK sip:bob@example.test SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv420\r\n"
		 "From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=%s\r\n"
		 "Call-ID: ack-1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
		 sip_object(r)->sip_to->a_tag);
	msg_destroy(r);
	deliver(peer, ack);
	ck_assert_ptr_null(sent(n));
	ck_assert_ptr_null(sent(peer));
	/* Another tag is someone else's ACK: forwarded as before. */
	deliver(peer, "ACK sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKinv420\r\n"
		"From: <sip:alice@partner.test>;tag=a1\r\nTo: <sip:bob@example.test>;tag=node9\r\n"
		"Call-ID: ack-1\r\nCSeq: 1 ACK\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n");
	msg_t *m = sent(n);
	ck_assert_ptr_nonnull(m);
	msg_destroy(m);
}
END_TEST

/* Thousands of transactions on one connection (every request to a node
 * goes out on its one connection): freed in any order, moved between
 * connections and across index growth, txn_each_down still finds exactly
 * the live ones of a connection. The chain is doubly linked: unlinking
 * one never walks the others (it did, and a backlog of 100 000 timeouts
 * took minutes). */
static void count_txn(struct txn *t, void *arg)
{
	(void)t;
	++*(size_t *)arg;
}

static size_t down_count(uint64_t conn)
{
	size_t n = 0;
	txn_each_down(&e, conn, count_txn, &n);
	return n;
}

START_TEST(txn_index_one_conn_churn)
{
	enum { N = 5000 };
	static struct txn *t[N];
	char b[32];
	for (int i = 0; i < N; i++) {
		snprintf(b, sizeof b, "z9hG4bKchurn%d", i);
		t[i] = txn_new(&e, NULL, 7, b);
		ck_assert_ptr_nonnull(t[i]);
		txn_set_down(t[i], i % 10 == 0 ? 43 : 42);
	}
	ck_assert_uint_eq(down_count(42), N - N / 10);
	ck_assert_uint_eq(down_count(43), N / 10);
	/* free every third (heads, middles and tails of the chain) */
	size_t live42 = 0, live43 = 0;
	for (int i = 0; i < N; i++) {
		if (i % 3 == 0) {
			txn_free(t[i]);
			t[i] = NULL;
		} else if (i % 10 == 0) {
			live43++;
		} else {
			live42++;
		}
	}
	ck_assert_uint_eq(down_count(42), live42);
	ck_assert_uint_eq(down_count(43), live43);
	/* move the rest of 43 to 44, and some of 42 to nothing */
	for (int i = 0; i < N; i++) {
		if (!t[i])
			continue;
		if (i % 10 == 0) {
			txn_set_down(t[i], 44);
		} else if (i % 7 == 0) {
			txn_set_down(t[i], 0);
			live42--;
		}
	}
	ck_assert_uint_eq(down_count(43), 0);
	ck_assert_uint_eq(down_count(44), live43);
	ck_assert_uint_eq(down_count(42), live42);
	for (int i = N - 1; i >= 0; i--)
		if (t[i])
			txn_free(t[i]);
	ck_assert_uint_eq(down_count(42), 0);
	ck_assert_uint_eq(down_count(44), 0);
	ck_assert_uint_eq(txn_count(&e), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxy");
	TCase *tc = tcase_create("proxy");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, inbound_forwarded_to_node);
	tcase_add_test(tc, max_forwards_missing_set_to_70);
	tcase_add_test(tc, max_forwards_zero_483);
	tcase_add_test(tc, loop_482);
	tcase_add_test(tc, proxy_require_420);
	tcase_add_test(tc, not_local_403_1017);
	tcase_add_test(tc, missing_call_id_400);
	tcase_add_test(tc, missing_to_400);
	tcase_add_test(tc, outbound_hides_inside);
	tcase_add_test(tc, max_transactions_503);
	tcase_add_test(tc, forged_ext_marker_mapped);
	tcase_add_test(tc, in_dialog_from_peer_restores_node_uri);
	tcase_add_test(tc, response_follows_txn_and_stray_dropped);
	tcase_add_test(tc, node_unreachable_503_hides_inside);
	tcase_add_test(tc, unproven_domain_refused);
	tcase_add_test(tc, cancel_and_487);
	tcase_add_test(tc, cancel_long_branch);
	tcase_add_test(tc, hidden_vias_restored_in_order);
	tcase_add_test(tc, response_only_from_its_connection);
	tcase_add_test(tc, provisional_after_final_dropped);
	tcase_add_test(tc, branches_unpredictable);
	tcase_add_test(tc, unprovable_identity_headers_removed);
	tcase_add_test(tc, trust_header_removed_from_responses);
	tcase_add_test(tc, referred_by_must_be_proven);
	tcase_add_test(tc, outsider_route_with_maddr_refused);
	tcase_add_test(tc, in_dialog_targets_guarded);
	tcase_add_test(tc, proxy_require_supported_extensions);
	tcase_add_test(tc, repeated_list_headers_kept);
	tcase_add_test(tc, options_to_edge_answered);
	tcase_add_test(tc, route_by_listener_address_is_us);
	tcase_add_test(tc, strict_route_handled);
	tcase_add_test(tc, stamp_trust_added);
	tcase_add_test(tc, reuse_only_with_alias);
	tcase_add_test(tc, alias_unproven_not_indexed);
	tcase_add_test(tc, host_with_at_refused);
	tcase_add_test(tc, header_controls_and_folding);
	tcase_add_test(tc, ruri_maddr_inward_refused);
	tcase_add_test(tc, options_not_stolen);
	tcase_add_test(tc, too_many_via_483_short);
	tcase_add_test(tc, ack_for_own_refusal_absorbed);
	tcase_add_test(tc, txn_index_one_conn_churn);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
