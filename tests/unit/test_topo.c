/* Topology hiding (SPEC section 3): the token matcher, the Call-ID mask,
 * the edge secret, ms-diagnostics source=, SDP, the port map with node
 * names and unpaired ports, and whole messages through
 * rewrite_hide_topology()/rewrite_reveal() and the proxy core. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <openssl/sha.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_protos.h>

#include "net/conn.h"
#include "proxy/edge.h"
#include "proxy/forward.h"
#include "core/framing.h"
#include "net/listener.h"
#include "core/mask.h"
#include "core/pat.h"
#include "proxy/proxy.h"
#include "proxy/respond.h"
#include "core/rewrite.h"
#include "daemon/secret.h"
#include "core/sipmsg.h"
#include "core/topo.h"
#include "proxy/txn.h"

/* ------------------------------------------------------------ the edge */

static struct conf_portmap ports1[] = { { 5062, 5061 }, { 5080, 5080 } };
static struct conf_portmap ports2[] = { { 5062, 45062 } };
static char *names1[] = { "imp1.corp.internal" };
static struct conf_node nodes[] = {
	{ .name = "imp1", .address = "10.1.1.11", .tls_name = "imp1.example.local",
	  .names = names1, .nnames = 1, .transport = TRANSPORT_TCP, .ports = ports1,
	  .nports = 2, .routing = true, .priority = 1 },
	{ .name = "imp2", .address = "fd00::12", .tls_name = "fd00::12",
	  .transport = TRANSPORT_TCP, .ports = ports2, .nports = 1, .priority = 2 },
};
static struct conf_listen listens[] = {
	{ .zone = ZONE_EXTERNAL, .address = "192.0.2.10", .port = 5061,
	  .transport = TRANSPORT_TLS },
	{ .zone = ZONE_INTERNAL, .address = "10.1.1.1", .port = 5060,
	  .transport = TRANSPORT_TCP },
};
static struct conf_static_route sr = { .pattern = ".test.partner.*",
				       .next_hop = "sip.partner.test", .port = 5061 };
static char *domains[] = { "example.test" };
static struct conf_allowed partner = { .domain = "partner.test", .peer = "sip.partner.test",
				       .port = 5061 };

static struct conf cf;
static struct edge e;
static struct listener l_int = { .zone = ZONE_INTERNAL, .transport = TRANSPORT_TCP,
				 .address = "10.1.1.1", .port = 5060 };
static struct listener l_ext = { .zone = ZONE_EXTERNAL, .transport = TRANSPORT_TLS,
				 .address = "192.0.2.10", .port = 5061 };
static const char *tokv[16];
static struct topo_tokens tk;
/* rewrite.c's view of e: the same listeners, e's key (read at each call). */
static const struct own_addr own[] = {
	{ ZONE_EXTERNAL, TRANSPORT_TLS, "192.0.2.10", 5061 },
	{ ZONE_INTERNAL, TRANSPORT_TCP, "10.1.1.1", 5060 },
};
static struct rewrite_ctx rc;

static void setup(void)
{
	memset(&cf, 0, sizeof cf);
	cf.edge.fqdn = "edge.example.com";
	cf.edge.public_address = "192.0.2.10";
	cf.listen = listens;
	cf.nlisten = 2;
	cf.internal.domains = domains;
	cf.internal.ndomains = 1;
	cf.internal.nodes = nodes;
	cf.internal.nnodes = 2;
	cf.federation.static_routes = &sr;
	cf.federation.nstatic_routes = 1;
	cf.federation.diagnostics = DIAG_BOTH;
	cf.federation.allowed = &partner;
	cf.federation.nallowed = 1;
	unit_default_limits(&cf);
	memset(&e, 0, sizeof e);
	e.conf = &cf;
	e.base = event_base_new();
	e.net = netctx_new(e.base, &cf, &e.next_id);
	proxy_attach(&e);
	e.txns = txn_table_new();
	memset(e.secret, 0x5a, sizeof e.secret);
	l_ext.next = &l_int;
	l_int.next = NULL;
	e.listeners = &l_ext;
	fwd_refresh_view(&e);
	tk.v = tokv;
	tk.n = topo_tokens_fill(&cf, tokv, 16);
	rc = (struct rewrite_ctx){ &cf, e.secret, own, 2, NULL, { NULL, 0 } };
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

static msg_t *parse(const char *text)
{
	struct framer *f = framer_new(65535);
	framer_feed(f, text, strlen(text));
	msg_t *msg = NULL;
	ck_assert_int_eq(framer_next(f, &msg), FRAME_MSG);
	framer_free(f);
	return msg;
}

static char *printed(msg_t *m)
{
	size_t len;
	char *t = sipmsg_print(m, &len);
	ck_assert_ptr_nonnull(t);
	return t;
}

/* The value of the first header line starting with "name:" in text. */
static char *line_of(const char *text, const char *name, char *buf, size_t len)
{
	size_t n = strlen(name);
	buf[0] = '\0';
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *v = p + n + 1 + strspn(p + n + 1, " ");
			size_t l = strcspn(v, "\r\n");
			snprintf(buf, len, "%.*s", (int)l, v);
			return buf;
		}
	return NULL;
}

/* ------------------------------------------------------------ matcher */

START_TEST(tokens_from_conf)
{
	/* address, tls_name, names[] of each node; tls_name = address once;
	 * the internal listener; not the external one */
	ck_assert_uint_eq(tk.n, 5);
	ck_assert_str_eq(tokv[0], "10.1.1.11");
	ck_assert_str_eq(tokv[1], "imp1.example.local");
	ck_assert_str_eq(tokv[2], "imp1.corp.internal");
	ck_assert_str_eq(tokv[3], "fd00::12");
	ck_assert_str_eq(tokv[4], "10.1.1.1");
	ck_assert_uint_ge(topo_tokens_count(&cf), tk.n);
}
END_TEST

static const struct {
	const char *text;
	long at;                 /* expected offset, -1 none */
} find_table[] = {
	{ "10.1.1.11", 0 },
	{ "sip:alice@10.1.1.11:5062", 10 },
	{ "<sip:10.1.1.11>", 5 },
	{ "10.1.1.110", -1 },             /* a longer address */
	{ "10.1.1.11a", -1 },
	{ "x10.1.1.11", -1 },
	{ "a.10.1.1.11", -1 },            /* a name that ends like it */
	{ "10.1.1.11.b", -1 },            /* a name that starts like it */
	{ "node 10.1.1.11.", 5 },          /* a trailing dot ends it */
	{ "-10.1.1.11", -1 },
	{ "10.1.1.11-x", -1 },
	{ "(10.1.1.11)", 1 },
	{ "\"10.1.1.11\"", 1 },
	{ "IMP1.Corp.Internal:5062", 0 },   /* names: any case */
	{ "mail.imp1.corp.internal", -1 },
	{ "imp1.corp.internals", -1 },
	{ "[fd00::12]:5062", 1 },
	{ "fd00::123", -1 },
	{ "10.1.1.1", 0 },                 /* the internal listener */
	{ "10.1.1.10", -1 },
	{ "10.1.1.1;lr", 0 },
	{ "edge.example.com 192.0.2.10", -1 },
	{ "", -1 },
	{ "10.1.1.11\r\n", 0 },
};

START_TEST(token_matcher_table)
{
	for (size_t i = 0; i < sizeof find_table / sizeof find_table[0]; i++) {
		const char *t = find_table[i].text;
		ck_assert_msg(topo_find(t, strlen(t), &tk) == find_table[i].at,
			      "topo_find(\"%s\") = %ld, expected %ld", t,
			      topo_find(t, strlen(t), &tk), find_table[i].at);
	}
	/* only the given length counts */
	ck_assert_int_eq(topo_find("10.1.1.110", 9, &tk), 0);
	ck_assert_int_eq(topo_find("imp1.corp.internal", 17, &tk), -1);
	/* escapes: what a URI header or user part may hide */
	const char *esc = "Replaces=abc%4010.1.1.11%3Bto-tag%3D1";
	ck_assert_int_eq(topo_find(esc, strlen(esc), &tk), -1);
	ck_assert(topo_leaks(esc, strlen(esc), &tk));
	ck_assert(topo_leaks("%31%30.1.1.11", 13, &tk));
	ck_assert(!topo_leaks("abc%4010.1.1.110", 16, &tk));
	ck_assert(!topo_leaks("100%", 4, &tk));
	/* hosts */
	ck_assert(topo_host_is_token("10.1.1.11", &tk));
	ck_assert(topo_host_is_token("[FD00::12]", &tk));
	ck_assert(topo_host_is_token("imp1.corp.internal.", &tk));
	ck_assert(!topo_host_is_token("10.1.1.111", &tk));
	ck_assert(!topo_host_is_token("edge.example.com", &tk));
	/* Call-IDs: anywhere */
	ck_assert(topo_contains("abc-10.1.1.11x", &tk));
	ck_assert(!topo_contains("abc@partner.test", &tk));
}
END_TEST

/* ------------------------------------------------------------ mask */

START_TEST(b64url)
{
	unsigned char in[5] = { 0xfb, 0xff, 0x00, 0x10, 0x7f }, out[8];
	char s[16];
	for (size_t n = 0; n <= 5; n++) {
		size_t l = mask_b64url_encode(in, n, s, sizeof s);
		ck_assert_uint_eq(l, (n * 4 + 2) / 3);
		ck_assert_ptr_null(strchr(s, '='));
		ck_assert_int_eq(mask_b64url_decode(s, l, out, sizeof out), (long)n);
		ck_assert(memcmp(in, out, n) == 0);
	}
	ck_assert_str_eq((mask_b64url_encode(in, 2, s, sizeof s), s), "-_8");
	ck_assert_int_eq(mask_b64url_decode("A", 1, out, sizeof out), -1);     /* no length */
	ck_assert_int_eq(mask_b64url_decode("ab+c", 4, out, sizeof out), -1);  /* not url */
	ck_assert_int_eq(mask_b64url_decode("-_9", 3, out, sizeof out), -1);   /* not canonical */
	ck_assert_uint_eq(mask_b64url_encode(in, 5, s, 7), 0);                 /* no room */
}
END_TEST

static const unsigned char key1[32] = { 1, 2, 3 };
static const unsigned char key2[32] = { 1, 2, 4 };

START_TEST(mask_round_trip)
{
	const char *ids[] = { "xyz@10.1.1.11", "a", "8f3e0c2b-77aa-4d1e@imp1.corp.internal",
			      "with spaces and \"quotes\" ~!%" };
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		char m[MASK_MAX_OUT], back[MASK_MAX_CALLID + 1];
		ck_assert(mask_callid(key1, ids[i], m, sizeof m));
		ck_assert(mask_is_masked(m));
		ck_assert_msg(strspn(m + strlen(MASK_PREFIX), "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				     "abcdefghijklmnopqrstuvwxyz0123456789-_") ==
			      strlen(m) - strlen(MASK_PREFIX), "%s", m);
		ck_assert(topo_find(m, strlen(m), &tk) < 0);
		ck_assert(mask_unmask(key1, m, back, sizeof back));
		ck_assert_str_eq(back, ids[i]);
	}
}
END_TEST

START_TEST(mask_deterministic)
{
	char a[MASK_MAX_OUT], b[MASK_MAX_OUT], c[MASK_MAX_OUT], d[MASK_MAX_OUT];
	ck_assert(mask_callid(key1, "xyz@10.1.1.11", a, sizeof a));
	ck_assert(mask_callid(key1, "xyz@10.1.1.11", b, sizeof b));
	ck_assert_str_eq(a, b);                           /* every message of a dialog */
	ck_assert(mask_callid(key1, "xyz@10.1.1.12", c, sizeof c));
	ck_assert_str_ne(a, c);
	ck_assert(mask_callid(key2, "xyz@10.1.1.11", d, sizeof d));
	ck_assert_str_ne(a, d);                           /* another secret */
	/* the synthetic IV differs with the Call-ID: no shared keystream */
	ck_assert(strncmp(a + 7, c + 7, 22) != 0);
}
END_TEST

START_TEST(mask_tamper_and_wrong_key)
{
	char m[MASK_MAX_OUT], back[MASK_MAX_CALLID + 1];
	ck_assert(mask_callid(key1, "xyz@10.1.1.11", m, sizeof m));
	ck_assert(!mask_unmask(key2, m, back, sizeof back));     /* wrong key */
	ck_assert_str_eq(back, "");
	for (size_t i = strlen(MASK_PREFIX); m[i]; i++) {         /* each character */
		char t[MASK_MAX_OUT];
		strcpy(t, m);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		ck_assert_msg(!mask_unmask(key1, t, back, sizeof back), "tampered at %zu", i);
	}
	char t[MASK_MAX_OUT];
	strcpy(t, m);
	t[strlen(t) - 2] = '\0';                                   /* truncated */
	ck_assert(!mask_unmask(key1, t, back, sizeof back));
	ck_assert(!mask_unmask(key1, "semask-", back, sizeof back));
	ck_assert(!mask_unmask(key1, "semask-AAAAAAAAAAAAAAAAAAAAAAAAAAAA", back, sizeof back));
	ck_assert(!mask_unmask(key1, "xyz@10.1.1.11", back, sizeof back));   /* no prefix */
	ck_assert(!mask_unmask(key1, "semask-!!!!", back, sizeof back));
	ck_assert(!mask_unmask(key1, m, back, 5));                 /* no room */
}
END_TEST

START_TEST(mask_cap_and_hash)
{
	char id[MASK_MAX_CALLID + 2], m[MASK_MAX_OUT], back[MASK_MAX_CALLID + 1];
	memset(id, 'a', sizeof id);
	memcpy(id, "10.1.1.11@", 10);
	id[MASK_MAX_CALLID] = '\0';
	ck_assert(mask_callid(key1, id, m, sizeof m));             /* 1024: masked */
	ck_assert(mask_unmask(key1, m, back, sizeof back));
	ck_assert_str_eq(back, id);
	id[MASK_MAX_CALLID] = 'a';
	id[MASK_MAX_CALLID + 1] = '\0';
	ck_assert(!mask_callid(key1, id, m, sizeof m));            /* 1025: not */
	ck_assert(!mask_callid(key1, "", m, sizeof m));
	char h1[64], h2[64];
	ck_assert(mask_hash(key1, id, h1, sizeof h1));
	ck_assert(mask_hash(key1, id, h2, sizeof h2));
	ck_assert_str_eq(h1, h2);
	ck_assert_uint_eq(strlen(h1), strlen(MASK_HASH_PREFIX) + 43);
	ck_assert(!mask_is_masked(h1));
}
END_TEST

/* ------------------------------------------------------------ secret */

static char *tmpfile_with(const char *content, size_t len)
{
	static char path[64];
	snprintf(path, sizeof path, "/tmp/test_topo_secret.XXXXXX");
	int fd = mkstemp(path);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
	close(fd);
	return path;
}

START_TEST(secret_files)
{
	unsigned char k1[32], k2[32];
	char err[256];
	ck_assert(secret_load("", k1, err, sizeof err));            /* random */
	ck_assert(secret_load("", k2, err, sizeof err));
	ck_assert(memcmp(k1, k2, 32) != 0);

	const char *content = "0123456789abcdef0123456789abcdef\n";
	char *p = tmpfile_with(content, strlen(content));
	ck_assert(secret_load(p, k1, err, sizeof err));
	unsigned char want[32];
	SHA256((const unsigned char *)content, strlen(content), want);
	ck_assert(memcmp(k1, want, 32) == 0);
	ck_assert(secret_load(p, k2, err, sizeof err));
	ck_assert(memcmp(k1, k2, 32) == 0);                         /* restart-stable */
	unlink(p);

	p = tmpfile_with("short", 5);
	ck_assert(!secret_load(p, k1, err, sizeof err));
	ck_assert_msg(strstr(err, "has 5 bytes, at least 32") != NULL, "%s", err);
	unlink(p);

	char big[SECRET_MAX + 1];
	memset(big, 'x', sizeof big);
	p = tmpfile_with(big, sizeof big);
	ck_assert(!secret_load(p, k1, err, sizeof err));
	ck_assert_msg(strstr(err, "longer than 4096") != NULL, "%s", err);
	unlink(p);
	p = tmpfile_with(big, SECRET_MAX);
	ck_assert(secret_load(p, k1, err, sizeof err));
	unlink(p);

	ck_assert(!secret_load("/nonexistent/secret", k1, err, sizeof err));
	ck_assert_msg(strstr(err, "cannot open '/nonexistent/secret': No such file") != NULL,
		      "%s", err);
	ck_assert(!secret_load("/tmp", k1, err, sizeof err));
	ck_assert_msg(strstr(err, "not a regular file") != NULL, "%s", err);
}
END_TEST

/* ------------------------------------------------------------ free text */

static const struct {
	const char *in, *out;        /* out NULL: unchanged */
} diag_table[] = {
	{ "1000;reason=\"x\";source=\"imp1.corp.internal\"",
	  "1000;reason=\"x\";source=\"edge.example.com\"" },
	{ "1000;reason=\"x\";source=imp1.corp.internal;appName=\"IM\"",
	  "1000;reason=\"x\";source=edge.example.com;appName=\"IM\"" },
	{ "1000; Source = \"10.1.1.11:5062\"", "1000; Source = \"edge.example.com\"" },
	{ "1000;source=\"sip.partner.test\"", NULL },
	{ "1000;reason=\"source=10.1.1.11\"", NULL },          /* inside a quoted value */
	{ "1000;resource=\"10.1.1.11\"", NULL },               /* another parameter */
	{ "1000;source=\"10.1.1.110\"", NULL },
	{ "1000;source=\"a\\\"b 10.1.1.1\";x=1", "1000;source=\"edge.example.com\";x=1" },
	{ "1000;source=\"imp1.example.local\";source=\"fd00::12\"",
	  "1000;source=\"edge.example.com\";source=\"edge.example.com\"" },
	{ "1000;source=", NULL },
};

/* Rotation: masks made with the previous key (A) are restored under
 * (current B, previous A) while its window is open, not without it. */
START_TEST(mask_rotation)
{
	char m[MASK_MAX_OUT], back[MASK_MAX_CALLID + 1];
	ck_assert(mask_callid(key1, "xyz@10.1.1.11", m, sizeof m));      /* A */
	ck_assert(mask_unmask_any(key2, key1, m, back, sizeof back));      /* B, prev A */
	ck_assert_str_eq(back, "xyz@10.1.1.11");
	ck_assert(!mask_unmask_any(key2, NULL, m, back, sizeof back));     /* B only */
	ck_assert(mask_unmask_any(key1, NULL, m, back, sizeof back));      /* current A */
	ck_assert(mask_unmask_any(key1, key2, m, back, sizeof back));
	ck_assert(!mask_unmask_any(key2, key2, m, back, sizeof back));

	/* the window: seconds from when the previous key was loaded */
	struct mask_prev p = { .loaded = true, .at_ms = 10000 };
	memcpy(p.key, key1, 32);
	ck_assert_int_eq(mask_prev_left_ms(&p, 5, 10000), 5000);
	ck_assert_int_eq(mask_prev_left_ms(&p, 5, 14999), 1);
	ck_assert_int_eq(mask_prev_left_ms(&p, 5, 15000), 0);             /* over */
	ck_assert_int_eq(mask_prev_left_ms(&p, 5, 99999), 0);
	ck_assert_int_eq(mask_prev_left_ms(&p, 0, 10000), 0);             /* 0: not at all */
	ck_assert_int_eq(mask_prev_left_ms(&p, 604800, 10000), 604800000LL);
	p.loaded = false;
	ck_assert_int_eq(mask_prev_left_ms(&p, 5, 10000), 0);             /* none */
	ck_assert_int_eq(mask_prev_left_ms(NULL, 5, 10000), 0);

	/* rewrite.c: the mask of A, restored under B with A as secret_prev */
	char text[2048];
	snprintf(text, sizeof text, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKp\r\n"
		 "From: <sip:alice@partner.test>;tag=a\r\nTo: <sip:bob@example.test>;tag=b\r\n"
		 "Call-ID: %s\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n", m);
	struct rewrite_ctx r2 = { &cf, key2, own, 2, NULL, { NULL, 0 } };
	msg_t *msg = parse(text);
	rewrite_reveal(&r2, msg, sip_object(msg));
	ck_assert_str_eq(sip_object(msg)->sip_call_id->i_id, m);          /* window closed */
	msg_destroy(msg);
	r2.secret_prev = key1;
	msg = parse(text);
	rewrite_reveal(&r2, msg, sip_object(msg));
	ck_assert_str_eq(sip_object(msg)->sip_call_id->i_id, "xyz@10.1.1.11");
	msg_destroy(msg);
	/* and the edge's view: fwd_refresh_view() passes the open key only */
	memcpy(e.secret, key2, 32);
	e.secret_prev = p;
	e.secret_prev.loaded = true;
	e.secret_prev_open = true;
	fwd_refresh_view(&e);
	ck_assert_ptr_eq(e.rw.secret_prev, e.secret_prev.key);
	e.secret_prev_open = false;
	fwd_refresh_view(&e);
	ck_assert_ptr_null(e.rw.secret_prev);
}
END_TEST

/* The To tag of the edge's own responses: signed with the current key,
 * an ACK for one signed with the previous key still recognised while its
 * window is open. */
START_TEST(own_ack_rotation)
{
	const char *req = "MESSAGE sip:bob@example.test SIP/2.0\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKrot1\r\n"
		"From: <sip:alice@partner.test>;tag=a\r\nTo: <sip:bob@example.test>\r\n"
		"Call-ID: rot@partner.test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
	msg_t *rq = parse(req);
	msg_t *resp = sipmsg_response(rq, 403, NULL, NULL);
	ck_assert_ptr_nonnull(resp);
	memcpy(e.secret, key1, 32);                                          /* A */
	e.secret_prev_open = false;
	respond_sign(&e, resp);
	const char *tag = sip_object(resp)->sip_to->a_tag;
	ck_assert_ptr_nonnull(tag);
	char ack[2048];
	snprintf(ack, sizeof ack, "ACK sip:bob@example.test SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKrot1\r\n"
		 "From: <sip:alice@partner.test>;tag=a\r\nTo: <sip:bob@example.test>;tag=%s\r\n"
		 "Call-ID: rot@partner.test\r\nCSeq: 1 ACK\r\nContent-Length: 0\r\n\r\n", tag);
	msg_destroy(resp);
	msg_destroy(rq);
	msg_t *a = parse(ack);
	ck_assert(respond_own_ack(&e, sip_object(a)));                      /* A */
	memcpy(e.secret, key2, 32);                                          /* B, no prev */
	ck_assert(!respond_own_ack(&e, sip_object(a)));
	memcpy(e.secret_prev.key, key1, 32);                                 /* B, prev A */
	e.secret_prev.loaded = true;
	e.secret_prev_open = true;
	ck_assert(respond_own_ack(&e, sip_object(a)));
	e.secret_prev_open = false;                                          /* window over */
	ck_assert(!respond_own_ack(&e, sip_object(a)));
	msg_destroy(a);
}
END_TEST

/* edge.secret_previous_file: "" is none; a file is read as secret_file. */
START_TEST(secret_previous_files)
{
	struct mask_prev p = { .loaded = true };
	char err[256];
	ck_assert(secret_load_previous("", &p, err, sizeof err));
	ck_assert(!p.loaded);
	const char *content = "0123456789abcdef0123456789abcdef\n";
	char *path = tmpfile_with(content, strlen(content));
	int64_t before = secret_now_ms();
	ck_assert(secret_load_previous(path, &p, err, sizeof err));
	ck_assert(p.loaded);
	ck_assert_int_ge(p.at_ms, before);
	ck_assert_int_le(p.at_ms, secret_now_ms());
	unsigned char want[32];
	SHA256((const unsigned char *)content, strlen(content), want);
	ck_assert(memcmp(p.key, want, 32) == 0);
	unlink(path);
	path = tmpfile_with("short", 5);
	struct mask_prev q = p;
	ck_assert(!secret_load_previous(path, &p, err, sizeof err));
	ck_assert_msg(strstr(err, "has 5 bytes, at least 32") != NULL, "%s", err);
	ck_assert(memcmp(&p, &q, sizeof p) == 0);                          /* untouched */
	unlink(path);
	ck_assert(!secret_load_previous("/nonexistent/secret", &p, err, sizeof err));
	ck_assert_msg(strstr(err, "cannot open") != NULL, "%s", err);
}
END_TEST

START_TEST(diag_source_table)
{
	for (size_t i = 0; i < sizeof diag_table / sizeof diag_table[0]; i++) {
		char out[256] = "untouched";
		bool ch = topo_diag_source(diag_table[i].in, &tk, "edge.example.com",
					   out, sizeof out);
		if (diag_table[i].out) {
			ck_assert_msg(ch, "%s: not changed", diag_table[i].in);
			ck_assert_str_eq(out, diag_table[i].out);
		} else {
			ck_assert_msg(!ch, "%s: changed to %s", diag_table[i].in, out);
		}
	}
	char small[8];
	ck_assert(!topo_diag_source("1;source=10.1.1.11", &tk, "edge.example.com",
				    small, sizeof small));
}
END_TEST

/* ------------------------------------------------------------ SDP */

START_TEST(sdp_rewrite)
{
	const char *in = "v=0\r\n"
		"o=imp1.corp.internal 2890844526 2890842807 IN IP4 10.1.1.11\r\n"
		"s=-\r\n"
		"c=IN IP4 10.1.1.11\r\n"
		"t=0 0\r\n"
		"m=audio 49170 RTP/AVP 0\r\n"
		"c=IN IP4 10.1.1.110\r\n"               /* not a node */
		"a=rtpmap:0 PCMU/8000\r\n"
		"m=video 51372 RTP/AVP 31\r\n"
		"c=IN IP6 fd00::12\r\n"
		"a=sendrecv\r\n";
	size_t len = 0;
	char *out = topo_sdp(in, strlen(in), &tk, "192.0.2.10", &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, strlen(out));
	ck_assert_str_eq(out, "v=0\r\n"
		"o=- 2890844526 2890842807 IN IP4 192.0.2.10\r\n"
		"s=-\r\n"
		"c=IN IP4 192.0.2.10\r\n"
		"t=0 0\r\n"
		"m=audio 49170 RTP/AVP 0\r\n"
		"c=IN IP4 10.1.1.110\r\n"
		"a=rtpmap:0 PCMU/8000\r\n"
		"m=video 51372 RTP/AVP 31\r\n"
		"c=IN IP4 192.0.2.10\r\n"
		"a=sendrecv\r\n");
	free(out);

	/* a name: the address type stays; bare LF and no final newline kept */
	const char *lf = "v=0\no=- 1 1 IN IP4 10.1.1.1\nc=IN IP4 10.1.1.11/127\nt=0 0";
	out = topo_sdp(lf, strlen(lf), &tk, "edge.example.com", &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_str_eq(out, "v=0\no=- 1 1 IN IP4 edge.example.com\n"
			 "c=IN IP4 edge.example.com/127\nt=0 0");
	free(out);
	out = topo_sdp(lf, strlen(lf), &tk, "2001:db8::1", &len);
	ck_assert_str_eq(out, "v=0\no=- 1 1 IN IP6 2001:db8::1\nc=IN IP6 2001:db8::1/127\nt=0 0");
	free(out);

	/* nothing internal, or not SDP lines: NULL */
	const char *clean = "v=0\r\no=- 1 1 IN IP4 192.0.2.99\r\nc=IN IP4 192.0.2.99\r\n";
	ck_assert_ptr_null(topo_sdp(clean, strlen(clean), &tk, "192.0.2.10", &len));
	const char *odd = "c=IN IP4\r\nc=10.1.1.11\r\no=10.1.1.11\r\n";
	ck_assert_ptr_null(topo_sdp(odd, strlen(odd), &tk, "192.0.2.10", &len));
	/* many lines: the output grows as needed */
	char many[8192] = "";
	for (int i = 0; i < 100; i++)
		strcat(many, "c=IN IP4 10.1.1.1\r\n");
	out = topo_sdp(many, strlen(many), &tk, "a-very-long-public-name.edge.example.com", &len);
	ck_assert_ptr_nonnull(out);
	ck_assert_uint_eq(len, 100 * strlen("c=IN IP4 a-very-long-public-name.edge.example.com\r\n"));
	free(out);
}
END_TEST

/* ------------------------------------------------------------ port map */

START_TEST(names_and_unpaired_ports)
{
	ck_assert_int_eq(pat_public_port_any(&cf, "10.1.1.11", 5062), 5061);
	ck_assert_int_eq(pat_public_port_any(&cf, "10.1.1.11", 5080), 5080);
	ck_assert_int_eq(pat_public_port_any(&cf, "10.1.1.11", 7000), 5061);  /* unpaired: first */
	ck_assert_int_eq(pat_public_port_any(&cf, "imp1.example.local", 5080), 5080);
	ck_assert_int_eq(pat_public_port_any(&cf, "IMP1.corp.internal", 5062), 5061);
	ck_assert_int_eq(pat_public_port_any(&cf, "imp1.corp.internal", 5060), 5061);
	ck_assert_int_eq(pat_public_port_any(&cf, "[fd00::12]", 9), 45062);
	ck_assert_int_eq(pat_public_port_any(&cf, "10.1.1.1", 5060), 0);      /* a listener */
	ck_assert_int_eq(pat_public_port_any(&cf, "10.1.1.111", 5062), 0);
	ck_assert_int_eq(pat_public_port_any(&cf, NULL, 5062), 0);
	ck_assert(pat_names_node(&nodes[0], "imp1.corp.internal"));
	ck_assert(!pat_names_node(&nodes[1], "imp1.corp.internal"));
	/* the exact map is unchanged */
	ck_assert_int_eq(pat_public_port(&cf, "10.1.1.11", 7000), 0);
}
END_TEST

/* ------------------------------------------------------------ messages */

#define LEAKY_SDP "v=0\r\no=imp1 1 1 IN IP4 10.1.1.11\r\ns=-\r\nc=IN IP4 10.1.1.11\r\n" \
	"t=0 0\r\nm=message 5062 sip null\r\n"

static const char leaky_invite[] =
	"INVITE sip:bob@partner.test SIP/2.0\r\n"
	"Via: SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bKse1\r\n"
	"Max-Forwards: 69\r\n"
	"From: <sip:alice@example.test>;tag=1\r\nTo: <sip:bob@partner.test>\r\n"
	"Call-ID: xyz@10.1.1.11\r\nCSeq: 1 INVITE\r\n"
	"Contact: <sip:alice@imp1.corp.internal:5080;transport=tcp>;+sip.instance=\"<urn:x>\"\r\n"
	"Record-Route: <sip:10.1.1.11:7000;lr>\r\n"
	"Refer-To: <sip:carol@10.1.1.11:5062?Replaces=abc%4010.1.1.11%3Bto-tag%3D1%3Bfrom-tag%3D2>\r\n"
	"Referred-By: <sip:carol@imp1.example.local>\r\n"
	"Reply-To: <sip:alice@imp1.corp.internal>\r\n"
	"Path: <sip:10.1.1.11:5062;lr>, <sip:proxy.partner.test;lr>\r\n"
	"Service-Route: <sip:[fd00::12];lr>\r\n"
	"Error-Info: <sip:err@10.1.1.11>\r\n"
	"Call-Info: <http://10.1.1.11/photo.png>;purpose=icon, <http://www.example.test/x>;purpose=info\r\n"
	"Alert-Info: <http://imp1.corp.internal:8080/ring>\r\n"
	"Remote-Party-ID: \"A\" <sip:alice@10.1.1.11>;party=calling\r\n"
	"P-Asserted-Identity: <sip:alice@10.1.1.11:5062>\r\n"
	"P-Preferred-Identity: <sip:alice@10.1.1.11>\r\n"
	"History-Info: <sip:bob@10.1.1.11>;index=1\r\n"
	"Diversion: <sip:x@imp1.corp.internal>;reason=unknown\r\n"
	"Warning: 399 10.1.1.11:5062 \"hello\"\r\n"
	"Warning: 399 sip.partner.test \"kept\"\r\n"
	"Server: IMP 10.1.1.11\r\nUser-Agent: imp1.corp.internal/1\r\n"
	"P-Charging-Vector: icid-value=1\r\n"
	"ms-diagnostics: 1;reason=\"x\";source=\"imp1.corp.internal\"\r\n"
	"ms-diagnostics-public: 2;reason=\"y\";source=10.1.1.11\r\n"
	"Replaces: abc@10.1.1.11;to-tag=1;from-tag=2\r\n"
	"In-Reply-To: abc@10.1.1.11, other@partner.test\r\n"
	"Subject: from 10.1.1.1.\r\n"
	"X-Keep: nothing internal here\r\n"
	"Content-Type: application/sdp\r\n"
	"Content-Length: ";

static msg_t *leaky(void)
{
	char text[4096];
	size_t n = strlen(leaky_invite);
	memcpy(text, leaky_invite, n);
	snprintf(text + n, sizeof text - n, "%d\r\n\r\n" LEAKY_SDP, (int)strlen(LEAKY_SDP));
	return parse(text);
}

START_TEST(hide_every_header)
{
	msg_t *m = leaky();
	sip_t *s = sip_object(m);
	rewrite_hide_topology(&rc, m, s);
	char *t = printed(m);
	/* nothing internal, anywhere */
	ck_assert_msg(topo_find(t, strlen(t), &tk) < 0, "leak at %ld:\n%s",
		      topo_find(t, strlen(t), &tk), t);
	ck_assert_msg(!topo_leaks(t, strlen(t), &tk), "escaped leak:\n%s", t);
	ck_assert_msg(strstr(t, ":5062") == NULL && strstr(t, "7000") == NULL,
		      "internal port:\n%s", t);
	char v[512];
	ck_assert_str_eq(line_of(t, "Contact", v, sizeof v),
			 "<sip:alice@edge.example.com:5080;transport=tls>;+sip.instance=\"<urn:x>\"");
	ck_assert_str_eq(line_of(t, "Record-Route", v, sizeof v),
			 "<sip:edge.example.com:5061;lr;transport=tls>");   /* unpaired */
	ck_assert_msg(strncmp(line_of(t, "Refer-To", v, sizeof v),
			      "<sip:carol@edge.example.com:5061;transport=tls?Replaces=semask-", 63) == 0,
		      "%s", v);
	ck_assert_msg(strstr(v, "%3Bto-tag%3D1%3Bfrom-tag%3D2>") != NULL, "%s", v);
	ck_assert_str_eq(line_of(t, "Referred-By", v, sizeof v),
			 "<sip:carol@edge.example.com:5061;transport=tls>");
	ck_assert_str_eq(line_of(t, "Reply-To", v, sizeof v),
			 "<sip:alice@edge.example.com:5061;transport=tls>");
	ck_assert_str_eq(line_of(t, "Path", v, sizeof v),
			 "<sip:edge.example.com:5061;lr;transport=tls>");
	ck_assert_msg(strstr(t, "<sip:proxy.partner.test;lr>") != NULL, "%s", t);
	ck_assert_str_eq(line_of(t, "Service-Route", v, sizeof v),
			 "<sip:edge.example.com:45062;lr;transport=tls>");
	ck_assert_str_eq(line_of(t, "Error-Info", v, sizeof v),
			 "<sip:err@edge.example.com:5061;transport=tls>");
	ck_assert_str_eq(line_of(t, "Call-Info", v, sizeof v),
			 "<http://www.example.test/x>;purpose=info");         /* http: naming a node goes */
	ck_assert_ptr_null(line_of(t, "Alert-Info", v, sizeof v));
	ck_assert_str_eq(line_of(t, "Remote-Party-ID", v, sizeof v),
			 "\"A\" <sip:alice@edge.example.com:5061;transport=tls>;party=calling");
	ck_assert_str_eq(line_of(t, "P-Asserted-Identity", v, sizeof v),
			 "<sip:alice@edge.example.com:5061;transport=tls>");
	ck_assert_str_eq(line_of(t, "P-Preferred-Identity", v, sizeof v),
			 "<sip:alice@edge.example.com:5061;transport=tls>");
	ck_assert_ptr_null(line_of(t, "History-Info", v, sizeof v));
	ck_assert_ptr_null(line_of(t, "Diversion", v, sizeof v));
	ck_assert_str_eq(line_of(t, "Warning", v, sizeof v), "399 edge.example.com \"hello\"");
	ck_assert_msg(strstr(t, "Warning: 399 sip.partner.test \"kept\"") != NULL, "%s", t);
	ck_assert_ptr_null(line_of(t, "Server", v, sizeof v));
	ck_assert_ptr_null(line_of(t, "User-Agent", v, sizeof v));
	ck_assert_ptr_null(line_of(t, "P-Charging-Vector", v, sizeof v));
	ck_assert_str_eq(line_of(t, "ms-diagnostics", v, sizeof v),
			 "1;reason=\"x\";source=\"edge.example.com\"");
	ck_assert_str_eq(line_of(t, "ms-diagnostics-public", v, sizeof v),
			 "2;reason=\"y\";source=edge.example.com");
	ck_assert_ptr_null(line_of(t, "Subject", v, sizeof v));   /* the final check */
	ck_assert_str_eq(line_of(t, "X-Keep", v, sizeof v), "nothing internal here");
	ck_assert(strncmp(line_of(t, "Call-ID", v, sizeof v), "semask-", 7) == 0);
	ck_assert(strncmp(line_of(t, "Replaces", v, sizeof v), "semask-", 7) == 0);
	ck_assert_msg(strstr(v, ";to-tag=1;from-tag=2") != NULL, "%s", v);
	ck_assert(strncmp(line_of(t, "In-Reply-To", v, sizeof v), "semask-", 7) == 0);
	ck_assert_msg(strstr(v, ", other@partner.test") != NULL, "%s", v);
	/* From, To, CSeq, the start line as they were */
	ck_assert_msg(strncmp(t, "INVITE sip:bob@partner.test SIP/2.0\r\n", 37) == 0, "%s", t);
	ck_assert_str_eq(line_of(t, "From", v, sizeof v), "<sip:alice@example.test>;tag=1");
	/* SDP: the edge's public address, Content-Length follows */
	const char *body = strstr(t, "\r\n\r\n") + 4;
	ck_assert_str_eq(body, "v=0\r\no=imp1 1 1 IN IP4 192.0.2.10\r\ns=-\r\n"
			 "c=IN IP4 192.0.2.10\r\nt=0 0\r\nm=message 5062 sip null\r\n");
	char cl[24];
	snprintf(cl, sizeof cl, "%d", (int)strlen(body));
	ck_assert_str_eq(line_of(t, "Content-Length", v, sizeof v), cl);
	if (getenv("TOPO_SHOW"))
		fprintf(stderr, "%s\n", t);
	/* what was printed parses back whole */
	msg_t *again = parse(t);
	ck_assert_uint_eq(sip_object(again)->sip_payload->pl_len, strlen(body));
	msg_destroy(again);
	free(t);
	msg_destroy(m);
}
END_TEST

/* Outside in: our masks come back as they were, other Call-IDs stay. */
START_TEST(reveal_restores)
{
	msg_t *m = leaky();
	rewrite_hide_topology(&rc, m, sip_object(m));
	char *t = printed(m);
	msg_destroy(m);
	m = parse(t);
	free(t);
	sip_t *s = sip_object(m);
	rewrite_reveal(&rc, m, s);
	ck_assert_str_eq(s->sip_call_id->i_id, "xyz@10.1.1.11");
	ck_assert_str_eq(s->sip_replaces->rp_call_id, "abc@10.1.1.11");
	ck_assert_str_eq(s->sip_in_reply_to->k_items[0], "abc@10.1.1.11");
	ck_assert_str_eq(s->sip_in_reply_to->k_items[1], "other@partner.test");
	t = printed(m);
	char v[512];
	ck_assert_str_eq(line_of(t, "Refer-To", v, sizeof v),
			 "<sip:carol@10.1.1.11:5062;transport=tcp?Replaces=abc%4010.1.1.11%3Bto-tag%3D1%3Bfrom-tag%3D2>");
	ck_assert_str_eq(line_of(t, "Contact", v, sizeof v),
			 "<sip:alice@10.1.1.11:5080;transport=tcp>;+sip.instance=\"<urn:x>\"");
	ck_assert_str_eq(line_of(t, "Record-Route", v, sizeof v),
			 "<sip:10.1.1.11:5062;lr;transport=tcp>");   /* unpaired: the SIP port */
	ck_assert_str_eq(line_of(t, "Service-Route", v, sizeof v),
			 "<sip:[fd00::12]:5062;lr;transport=tcp>");
	free(t);
	msg_destroy(m);

	/* a partner's own Call-ID, a forged or foreign mask: unchanged */
	const char *ids[] = { "abc@partner.test", "semask-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
			      "semask-", "semask-abc@10.1.1.11" };
	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		char text[1024];
		snprintf(text, sizeof text, "MESSAGE sip:bob@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKp\r\n"
			 "From: <sip:alice@partner.test>;tag=a\r\nTo: <sip:bob@example.test>\r\n"
			 "Call-ID: %s\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n", ids[i]);
		m = parse(text);
		s = sip_object(m);
		rewrite_reveal(&rc, m, s);
		ck_assert_str_eq(s->sip_call_id->i_id, ids[i]);
		msg_destroy(m);
	}
	/* under another secret, our mask is a foreign one */
	char mk[MASK_MAX_OUT], text[2048];
	ck_assert(mask_callid(key1, "xyz@10.1.1.11", mk, sizeof mk));
	snprintf(text, sizeof text, "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/TCP 10.1.1.1:5060;branch=z9hG4bKse\r\n"
		 "From: <sip:alice@example.test>;tag=a\r\nTo: <sip:bob@partner.test>;tag=b\r\n"
		 "Call-ID: %s\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n", mk);
	m = parse(text);
	s = sip_object(m);
	rewrite_reveal(&rc, m, s);
	ck_assert_str_eq(s->sip_call_id->i_id, mk);
	msg_destroy(m);
	memcpy(e.secret, key1, 32);
	m = parse(text);
	s = sip_object(m);
	rewrite_reveal(&rc, m, s);
	ck_assert_str_eq(s->sip_call_id->i_id, "xyz@10.1.1.11");
	msg_destroy(m);
}
END_TEST

/* A Call-ID over MASK_MAX_CALLID with an internal address: one-way. */
START_TEST(long_callid_hashed)
{
	char id[1200], text[2048];
	memset(id, 'q', sizeof id);
	memcpy(id + 500, "@10.1.1.11", 10);
	id[sizeof id - 1] = '\0';
	snprintf(text, sizeof text, "MESSAGE sip:bob@partner.test SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bKse2\r\n"
		 "From: <sip:alice@example.test>;tag=a\r\nTo: <sip:bob@partner.test>\r\n"
		 "Call-ID: %s\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n", id);
	msg_t *m = parse(text);
	sip_t *s = sip_object(m);
	rewrite_hide_topology(&rc, m, s);
	ck_assert(strncmp(s->sip_call_id->i_id, MASK_HASH_PREFIX, 7) == 0);
	char *t = printed(m);
	ck_assert(topo_find(t, strlen(t), &tk) < 0);
	free(t);
	msg_destroy(m);
}
END_TEST

/* A response's status phrase naming a node. */
START_TEST(status_phrase)
{
	msg_t *m = parse("SIP/2.0 503 node 10.1.1.11 down\r\n"
		"Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKp\r\n"
		"From: <sip:alice@partner.test>;tag=a\r\nTo: <sip:bob@example.test>;tag=b\r\n"
		"Call-ID: c@partner.test\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
	rewrite_hide_topology(&rc, m, sip_object(m));
	char *t = printed(m);
	ck_assert_msg(strncmp(t, "SIP/2.0 503 Service Unavailable\r\n", 33) == 0, "%s", t);
	ck_assert_msg(strstr(t, "Call-ID: c@partner.test\r\n") != NULL, "%s", t);
	free(t);
	msg_destroy(m);
}
END_TEST

/* Whatever bytes leave, whatever path Sofia takes to print them: a
 * header kept as received (compact forms, token lists merged or split,
 * headers that fail to parse and go to sip_error, unknown ones, folded
 * lines) is removed when it names an internal host. Each row is one or
 * more header lines of a node's request going outside. */
static const char *const raw_rows[] = {
	/* fuzz_rewrite-content-encoding-leak.bin: compact e:, a class
	 * msg_header_remove() did not find (the removal failed silently) */
	"e: x:<sip:u@10.1.1.11:5062>\r\n",
	"E:ror-Info: <sip:errors@10.1.1.11:5062>\r\n",
	"e: gzip\r\ne: x;h=10.1.1.11\r\n",                    /* merged lines */
	"Content-Encoding: gzip\r\ne: x;h=imp1.corp.internal\r\n",
	"e: x;h=10%2E1%2E1%2E11\r\n",                         /* escaped */
	"k: imp1.corp.internal\r\n",                          /* Supported */
	"Supported: timer\r\nk: 100rel, 10.1.1.1\r\n",
	"u: presence, x;id=10.1.1.11\r\n",                    /* Allow-Events */
	"d: proxy, imp1.example.local\r\n",                   /* Request-Disposition */
	"a: x <sip:alice@10.1.1.11:5062>\r\n",                /* Accept-Contact */
	"j: *;x=\"10.1.1.11\"\r\n",                           /* Reject-Contact */
	"s: from 10.1.1.11\r\n",                              /* Subject */
	"o: presence;id=imp1.corp.internal\r\n",              /* Event */
	"x: 1800;refresher=10.1.1.11\r\n",                    /* Session-Expires */
	"y: imp1.corp.internal\r\n",                          /* Identity */
	"r: <http://imp1.corp.internal/x>\r\n",               /* Refer-To */
	"Expires: 10.1.1.11\r\n",                             /* fails: sip_error */
	"Max-Forwards: 10.1.1.11\r\n",                        /* second: sip_error */
	"c: text/x;h=10.1.1.11\r\n",                          /* second Content-Type */
	"Accept: text/plain, application/x;h=10.1.1.11\r\n",  /* two values, one line */
	"Supported: timer,\r\n imp1.corp.internal\r\n",       /* folded list */
	"X-Node: a\r\n 10.1.1.11\r\n",                        /* folded unknown */
	"Diversion: <sip:x@fd00::12>\r\n",                    /* unknown */
	"Allow: INVITE\r\nAllow: ACK, x10.1.1.11, 10.1.1.11\r\n",
	"10.1.1.11: named after a node\r\n",                /* in the name */
	"k: a\r\nContent-Encoding: b\r\nk: c;h=[fd00::12]\r\n",
};

START_TEST(hide_raw_headers)
{
	const char *row = raw_rows[_i];
	char text[2048];
	snprintf(text, sizeof text, "MESSAGE sip:bob@partner.test SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS edge.example.com:5061;branch=z9hG4bKse9\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:alice@example.test>;tag=a\r\nTo: <sip:bob@partner.test>\r\n"
		 "Call-ID: raw@example.test\r\nCSeq: 1 MESSAGE\r\n"
		 "X-Before: kept\r\n%sX-After: kept\r\n"
		 "Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi", row);
	msg_t *m = parse(text);
	rewrite_hide_topology(&rc, m, sip_object(m));
	char *t = printed(m);
	ck_assert_msg(!topo_leaks(t, strlen(t), &tk), "row %d (%s) leaks:\n%s", _i, row, t);
	char v[64];
	ck_assert_msg(line_of(t, "X-Before", v, sizeof v) && line_of(t, "X-After", v, sizeof v),
		      "row %d: a clean header went:\n%s", _i, t);
	msg_t *again = parse(t);               /* what is sent frames whole */
	ck_assert_str_eq(sip_object(again)->sip_payload->pl_data, "hi");
	msg_destroy(again);
	free(t);
	msg_destroy(m);
}
END_TEST

/* A strict-routing hop's last Route becomes the Request-URI only when
 * it can be one: white space Sofia reads inside <> would break the
 * request line (fuzz_rewrite-strict-route-space.bin). */
START_TEST(strict_route_request_line)
{
	static const struct { const char *route; int port; const char *ruri; } rows[] = {
		{ "<sip:bob@partner.test;lr>", 5061, "sip:bob@partner.test;lr" },
		{ "<sip:bob@partner.test;x=a b>", -1, NULL },
		{ "<sip:bob@partner.test;x=a\tb>", -1, NULL },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		char text[1024];
		snprintf(text, sizeof text,
			 "BYE sip:edge.example.com:5061;transport=tls;lr;sipedge=ext SIP/2.0\r\n"
			 "Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKs\r\n"
			 "Route: %s\r\nMax-Forwards: 70\r\n"
			 "From: <sip:alice@example.test>;tag=a\r\nTo: <sip:bob@partner.test>;tag=b\r\n"
			 "Call-ID: s@example.test\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
			 rows[i].route);
		msg_t *m = parse(text);
		sip_t *s = sip_object(m);
		if (!s->sip_route) {            /* Sofia refused the Route: nothing to test */
			msg_destroy(m);
			continue;
		}
		ck_assert_int_eq(rewrite_strict_route(&rc, m, s), rows[i].port);
		char *t = printed(m);
		if (rows[i].ruri) {
			char want[256];
			snprintf(want, sizeof want, "BYE %s SIP/2.0\r\n", rows[i].ruri);
			ck_assert_msg(strncmp(t, want, strlen(want)) == 0, "row %zu:\n%s", i, t);
		} else {
			ck_assert_msg(strncmp(t, "BYE sip:edge.example.com:5061;", 30) == 0,
				      "row %zu:\n%s", i, t);
		}
		msg_destroy(parse(t));          /* frames whole */
		free(t);
		msg_destroy(m);
	}
}
END_TEST

/* ------------------------------------------------------------ proxy core */

static struct conn *node_conn(void)
{
	struct conn *c = conn_to(e.net, ZONE_INTERNAL, TRANSPORT_TCP, "10.1.1.11", 5062, 0);
	c->node = 0;
	return c;
}

static struct conn *peer_conn(void)
{
	struct conn *c = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	c->local_port = 5061;
	if (c->names.n == 0)
		c->names.name[c->names.n++] = strdup("sip.partner.test");
	return c;
}

static void deliver(struct conn *c, const char *text)
{
	proxy_on_message(c, parse(text));
}

static msg_t *sent(struct conn *c)
{
	size_t len = evbuffer_get_length(c->pending);
	if (len == 0)
		return NULL;
	char *buf = malloc(len + 1);
	evbuffer_copyout(c->pending, buf, len);
	buf[len] = '\0';
	struct framer *f = framer_new(65535);
	framer_feed(f, buf, len);
	msg_t *msg = NULL;
	ck_assert_int_eq(framer_next(f, &msg), FRAME_MSG);
	evbuffer_drain(c->pending, msg_size(msg) ? (size_t)msg_size(msg) : len);
	framer_free(f);
	free(buf);
	return msg;
}

START_TEST(proxy_masks_and_restores)
{
	struct conn *n = node_conn();
	deliver(n, "MESSAGE sip:bob@partner.test SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKnode1\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@example.test>;tag=n1\r\nTo: <sip:bob@partner.test>\r\n"
		"Call-ID: xyz@10.1.1.11\r\nCSeq: 1 MESSAGE\r\n"
		"Contact: <sip:alice@imp1.corp.internal:5062;transport=tcp>\r\n"
		"User-Agent: IMP on imp1.corp.internal\r\n"
		"Content-Length: 0\r\n\r\n");
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	msg_t *m = sent(ext);
	ck_assert_ptr_nonnull(m);
	sip_t *s = sip_object(m);
	char masked[MASK_MAX_OUT];
	snprintf(masked, sizeof masked, "%s", s->sip_call_id->i_id);
	ck_assert(mask_is_masked(masked));
	char *t = printed(m);
	ck_assert_msg(!topo_leaks(t, strlen(t), &tk), "leak:\n%s", t);
	free(t);
	/* the partner answers with the masked Call-ID: the node gets its own */
	char resp[4096];
	snprintf(resp, sizeof resp, "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/TLS edge.example.com:5061;branch=%s\r\n"
		 "From: <sip:alice@example.test>;tag=n1\r\nTo: <sip:bob@partner.test>;tag=p1\r\n"
		 "Call-ID: %s\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n",
		 s->sip_via->v_branch, masked);
	msg_destroy(m);
	deliver(ext, resp);
	msg_t *back = sent(n);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(sip_object(back)->sip_status->st_status, 200);
	ck_assert_str_eq(sip_object(back)->sip_call_id->i_id, "xyz@10.1.1.11");
	msg_destroy(back);

	/* an in-dialog request from the partner with the mask */
	struct conn *peer = peer_conn();
	char req[4096];
	snprintf(req, sizeof req, "MESSAGE sip:alice@edge.example.com:5061;transport=tls SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKp2\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:bob@partner.test>;tag=p1\r\nTo: <sip:alice@example.test>;tag=n1\r\n"
		 "Call-ID: %s\r\nCSeq: 5 MESSAGE\r\nContent-Length: 0\r\n\r\n", masked);
	deliver(peer, req);
	msg_t *in = sent(n);
	ck_assert_ptr_nonnull(in);
	sip_t *is = sip_object(in);
	ck_assert_str_eq(is->sip_call_id->i_id, "xyz@10.1.1.11");
	ck_assert_str_eq(is->sip_request->rq_url->url_host, "10.1.1.11");
	/* the node's answer goes out masked again, the same way */
	snprintf(resp, sizeof resp, "SIP/2.0 200 OK\r\n"
		 "Via: SIP/2.0/TCP 10.1.1.1:5060;branch=%s\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKp2\r\n"
		 "From: <sip:bob@partner.test>;tag=p1\r\nTo: <sip:alice@example.test>;tag=n1\r\n"
		 "Call-ID: xyz@10.1.1.11\r\nCSeq: 5 MESSAGE\r\n"
		 "Server: imp1.corp.internal\r\nContent-Length: 0\r\n\r\n", is->sip_via->v_branch);
	msg_destroy(in);
	deliver(n, resp);
	back = sent(peer);
	ck_assert_ptr_nonnull(back);
	ck_assert_str_eq(sip_object(back)->sip_call_id->i_id, masked);
	ck_assert_ptr_null(sip_object(back)->sip_server);
	msg_destroy(back);

	/* the node never answers an in-dialog request: 503 to the partner, masked */
	snprintf(req, sizeof req, "MESSAGE sip:alice@edge.example.com:5061;transport=tls SIP/2.0\r\n"
		 "Via: SIP/2.0/TLS 198.51.100.7:5061;branch=z9hG4bKp3\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:bob@partner.test>;tag=p1\r\nTo: <sip:alice@example.test>;tag=n1\r\n"
		 "Call-ID: %s\r\nCSeq: 6 MESSAGE\r\nContent-Length: 0\r\n\r\n", masked);
	deliver(peer, req);
	in = sent(n);
	ck_assert_ptr_nonnull(in);
	msg_destroy(in);
	conn_close(n, CFAIL_CONNECT, "connect to 10.1.1.11:5062: Connection refused");
	back = sent(peer);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_eq(sip_object(back)->sip_status->st_status, 503);
	ck_assert_str_eq(sip_object(back)->sip_call_id->i_id, masked);
	msg_destroy(back);
}
END_TEST

/* The partner never answers the node: the 503/504 the edge makes for the
 * node carries the node's own Call-ID. */
START_TEST(local_response_to_node_restored)
{
	struct conn *n = node_conn();
	deliver(n, "MESSAGE sip:bob@partner.test SIP/2.0\r\n"
		"Via: SIP/2.0/TCP 10.1.1.11:5062;branch=z9hG4bKnode9\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:alice@example.test>;tag=n9\r\nTo: <sip:bob@partner.test>\r\n"
		"Call-ID: lost@10.1.1.11\r\nCSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n");
	struct conn *ext = conn_to(e.net, ZONE_EXTERNAL, TRANSPORT_TLS, "sip.partner.test", 5061, -1);
	msg_t *m = sent(ext);
	ck_assert_ptr_nonnull(m);
	ck_assert(mask_is_masked(sip_object(m)->sip_call_id->i_id));
	msg_destroy(m);
	conn_close(ext, CFAIL_CONNECT, "connect: refused");
	msg_t *back = sent(n);
	ck_assert_ptr_nonnull(back);
	ck_assert_int_ge(sip_object(back)->sip_status->st_status, 500);
	ck_assert_str_eq(sip_object(back)->sip_call_id->i_id, "lost@10.1.1.11");
	msg_destroy(back);
}
END_TEST

int main(void)
{
	sipmsg_mclass();
	Suite *s = suite_create("topo");
	TCase *pure = tcase_create("pure");
	tcase_add_checked_fixture(pure, setup, teardown);
	tcase_add_test(pure, tokens_from_conf);
	tcase_add_test(pure, token_matcher_table);
	tcase_add_test(pure, b64url);
	tcase_add_test(pure, mask_round_trip);
	tcase_add_test(pure, mask_deterministic);
	tcase_add_test(pure, mask_tamper_and_wrong_key);
	tcase_add_test(pure, mask_cap_and_hash);
	tcase_add_test(pure, secret_files);
	tcase_add_test(pure, mask_rotation);
	tcase_add_test(pure, own_ack_rotation);
	tcase_add_test(pure, secret_previous_files);
	tcase_add_test(pure, diag_source_table);
	tcase_add_test(pure, sdp_rewrite);
	tcase_add_test(pure, names_and_unpaired_ports);
	suite_add_tcase(s, pure);
	TCase *msgs = tcase_create("messages");
	tcase_add_checked_fixture(msgs, setup, teardown);
	tcase_add_test(msgs, hide_every_header);
	tcase_add_test(msgs, reveal_restores);
	tcase_add_test(msgs, long_callid_hashed);
	tcase_add_test(msgs, status_phrase);
	tcase_add_test(msgs, strict_route_request_line);
	tcase_add_loop_test(msgs, hide_raw_headers, 0,
			    (int)(sizeof raw_rows / sizeof raw_rows[0]));
	tcase_add_test(msgs, proxy_masks_and_restores);
	tcase_add_test(msgs, local_response_to_node_restored);
	suite_add_tcase(s, msgs);
	return unit_run(s);
}
