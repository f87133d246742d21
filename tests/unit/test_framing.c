/* Stream framing: split, merged, oversized, keep-alives, garbage. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/framing.h"
#include "core/sipmsg.h"

#define MSG(body) \
	"MESSAGE sip:bob@example.test SIP/2.0\r\n" \
	"Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n" \
	"Max-Forwards: 70\r\n" \
	"From: <sip:alice@partner.test>;tag=1\r\n" \
	"To: <sip:bob@example.test>\r\n" \
	"Call-ID: c1\r\n" \
	"CSeq: 1 MESSAGE\r\n" \
	"Content-Length: 5\r\n\r\n" body

struct result {
	int msgs, pings, errors, toolarge;
	char bodies[8][16];
};

static void drain(struct framer *f, struct result *r)
{
	msg_t *m;
	enum frame_event ev;
	while ((ev = framer_next(f, &m)) != FRAME_NONE) {
		if (ev == FRAME_MSG) {
			sip_t *sip = sip_object(m);
			if (r->msgs < 8 && sip->sip_payload)
				snprintf(r->bodies[r->msgs], 16, "%.*s",
					 (int)sip->sip_payload->pl_len, sip->sip_payload->pl_data);
			r->msgs++;
			msg_destroy(m);
		} else if (ev == FRAME_PING) {
			r->pings++;
		} else if (ev == FRAME_ERROR) {
			r->errors++;
		} else if (ev == FRAME_TOOLARGE) {
			r->toolarge++;
		}
	}
}

/* Feed in chunks of `chunk` bytes (0 = all at once). */
static struct result feed(const char *data, size_t len, size_t chunk, size_t max)
{
	struct result r = { 0 };
	struct framer *f = framer_new(max);
	if (chunk == 0)
		chunk = len;
	for (size_t off = 0; off < len; off += chunk) {
		size_t n = len - off < chunk ? len - off : chunk;
		framer_feed(f, data + off, n);
		drain(f, &r);
	}
	framer_free(f);
	return r;
}

START_TEST(one_message)
{
	const char m[] = MSG("hello");
	struct result r = feed(m, strlen(m), 0, 65535);
	ck_assert_int_eq(r.msgs, 1);
	ck_assert_str_eq(r.bodies[0], "hello");
	ck_assert_int_eq(r.errors + r.toolarge + r.pings, 0);
}
END_TEST

START_TEST(split_every_size)
{
	const char m[] = MSG("hello");
	/* Every chunk size from 1 byte up: a message split anywhere. */
	for (size_t chunk = 1; chunk < 40; chunk++) {
		struct result r = feed(m, strlen(m), chunk, 65535);
		ck_assert_msg(r.msgs == 1, "chunk %zu: %d messages", chunk, r.msgs);
		ck_assert_str_eq(r.bodies[0], "hello");
	}
}
END_TEST

START_TEST(merged_three)
{
	const char m[] = MSG("one..") MSG("two..") MSG("three");
	struct result r = feed(m, strlen(m), 0, 65535);
	ck_assert_int_eq(r.msgs, 3);
	ck_assert_str_eq(r.bodies[0], "one..");
	ck_assert_str_eq(r.bodies[1], "two..");
	ck_assert_str_eq(r.bodies[2], "three");
}
END_TEST

START_TEST(merged_and_split)
{
	const char m[] = MSG("one..") MSG("two..");
	struct result r = feed(m, strlen(m), 97, 65535);
	ck_assert_int_eq(r.msgs, 2);
	ck_assert_str_eq(r.bodies[1], "two..");
}
END_TEST

START_TEST(keepalive_ping)
{
	struct result r = feed("\r\n\r\n", 4, 1, 65535);
	ck_assert_int_eq(r.pings, 1);
	ck_assert_int_eq(r.msgs, 0);
	/* a lone CRLF is a pong: no answer */
	r = feed("\r\n", 2, 0, 65535);
	ck_assert_int_eq(r.pings, 0);
	const char m[] = "\r\n\r\n" MSG("hello");
	r = feed(m, strlen(m), 0, 65535);
	ck_assert_int_eq(r.pings, 1);
	ck_assert_int_eq(r.msgs, 1);
}
END_TEST

START_TEST(oversized_headers)
{
	const char m[] = MSG("hello");
	struct result r = feed(m, strlen(m), 10, 100);
	ck_assert_int_eq(r.msgs, 0);
	ck_assert_int_eq(r.toolarge, 1);
}
END_TEST

START_TEST(oversized_content_length)
{
	const char m[] = "MESSAGE sip:b@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n"
			 "Content-Length: 6000\r\n\r\nxxxx";
	struct result r = feed(m, strlen(m), 0, 4096);
	ck_assert_int_eq(r.msgs, 0);
	ck_assert_int_eq(r.toolarge, 1);
}
END_TEST

/* `copies` messages of exactly `total` bytes each (a body of x). */
static char *sized_message(size_t total, size_t *len, int copies)
{
	char head[256];
	size_t body = total - 200;
	int h = 0;
	for (int round = 0; round < 4; round++) {   /* the length's digits move h */
		h = snprintf(head, sizeof head, "MESSAGE sip:b@example.test SIP/2.0\r\n"
			     "Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n"
			     "From: <sip:a@p.test>;tag=1\r\nTo: <sip:b@example.test>\r\n"
			     "Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: %zu\r\n\r\n",
			     body);
		body = total - (size_t)h;
	}
	char *m = malloc(total * copies);
	for (int c = 0; c < copies; c++) {
		memcpy(m + c * total, head, (size_t)h);
		memset(m + c * total + h, 'x', body);
	}
	*len = total * copies;
	return m;
}

/* max_message_size is exact however the bytes arrive, alone or
 * pipelined (Sofia's buffer sizes grow with the number of reads). */
START_TEST(limit_exact_across_reads)
{
	const size_t cuts[] = { 0, 1, 999, 1000, 1400, 16384 };
	const size_t max = 131072;
	for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
		size_t len;
		char *m = sized_message(max, &len, 2);
		ck_assert_uint_eq(len, 2 * max);
		struct result r = feed(m, len, cuts[i], max);
		ck_assert_msg(r.msgs == 2 && r.toolarge == 0,
			      "cut %zu: %d msgs, %d too large", cuts[i], r.msgs, r.toolarge);
		free(m);
		m = sized_message(max + 1, &len, 1);
		r = feed(m, len, cuts[i], max);
		ck_assert_msg(r.msgs == 0 && r.toolarge == 1, "cut %zu: max + 1 passed", cuts[i]);
		free(m);
	}
}
END_TEST

START_TEST(garbage)
{
	const char m[] = "\x01\x02\x03 not sip at all\r\n\r\n";
	struct result r = feed(m, sizeof m - 1, 0, 65535);
	ck_assert_int_eq(r.msgs, 0);
	ck_assert_int_eq(r.errors, 1);
}
END_TEST

START_TEST(pending_flag)
{
	const char m[] = MSG("hello");
	struct framer *f = framer_new(65535);
	ck_assert(!framer_pending(f));
	framer_feed(f, m, 20);
	ck_assert(framer_pending(f));
	framer_feed(f, m + 20, strlen(m) - 20);
	struct result r = { 0 };
	drain(f, &r);
	ck_assert_int_eq(r.msgs, 1);
	ck_assert(!framer_pending(f));
	framer_free(f);
}
END_TEST

/* The one message a framer makes of m (the framer is gone, the msg not). */
static msg_t *frame_one(const char *m)
{
	struct framer *f = framer_new(65535);
	framer_feed(f, m, strlen(m));
	msg_t *msg;
	ck_assert_int_eq(framer_next(f, &msg), FRAME_MSG);
	framer_free(f);
	return msg;
}

START_TEST(malformed_detected)
{
	const char m[] = "MESSAGE sip:bob@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n"
			 "From: <sip:a@p.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n"
			 "CSeq: 1 MESSAGE\r\nContent-Length: 0\r\n\r\n";
	msg_t *msg = frame_one(m);
	const char *why = sipmsg_malformed(msg, sip_object(msg));
	ck_assert_ptr_nonnull(why);
	ck_assert(strstr(why, "Call-ID") != NULL);
	msg_destroy(msg);
}
END_TEST

/* Sofia reads "sip:host/x" as host + path and prints "sip:hostx": the
 * edge would check one host and the next hop read another (fuzz finds). */
static const char *malformed_text(const char *m)
{
	static char why[80];
	msg_t *msg = frame_one(m);
	const char *w = sipmsg_malformed(msg, sip_object(msg));
	snprintf(why, sizeof why, "%s", w ? w : "");
	msg_destroy(msg);
	return why;
}

#define PATH_MSG(ruri, from, extra) \
	"MESSAGE " ruri " SIP/2.0\r\n" \
	"Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n" \
	"From: " from ";tag=1\r\nTo: <sip:bob@example.test>\r\n" \
	"Call-ID: c1\r\nCSeq: 1 MESSAGE\r\n" extra "Content-Length: 0\r\n\r\n"

START_TEST(uri_with_path_refused)
{
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:bob@example.test",
		"<sip:alice@partner.test>", "")), "");
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:bob@example.test",
		"<sip:alice@partner.test/@victim.example>", "")), "malformed From URI");
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:bob@example.test/.evil.org",
		"<sip:alice@partner.test>", "")), "malformed Request-URI URI");
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:bob@example.test",
		"<sip:alice@partner.test>", "Referred-By: <sip/x:carol@10.1.1.11:5062>\r\n")),
		"malformed Referred-By URI");
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:bob@example.test",
		"<sip:alice@partner.test>",
		"P-Asserted-Identity: <sip:a@partner.test/x>\r\n")),
		"malformed P-Asserted-Identity URI");
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:bob@example.test",
		"<sip:alice@partner.test>", "Route: <sip:10.1.1.1/x;lr>\r\n")),
		"malformed Route URI");
	/* folded over lines: the CRLF stays in the host */
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:bob@example.test",
		"a.example>\r\n  ;x=1\r\n  ", "")), "malformed From URI");
	/* '/' is legal in the user part: not a path */
	ck_assert_str_eq(malformed_text(PATH_MSG("sip:a/b@example.test",
		"<sip:alice@partner.test>", "")), "");
}
END_TEST

/* A bare LF (or CR) ending the headers is sent on as CRLF. */
START_TEST(separator_printed_as_crlf)
{
	const char m[] = "MESSAGE sip:bob@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n"
			 "From: <sip:a@p.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n"
			 "Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2\r\n\nhi";
	msg_t *msg = frame_one(m);
	size_t len;
	char *out = sipmsg_print(msg, &len);
	ck_assert_ptr_nonnull(out);
	ck_assert(len > 6);
	ck_assert_str_eq(out + len - 6, "\r\n\r\nhi");
	free(out);
	msg_destroy(msg);
}
END_TEST

/* RFC 3261 7.5: CRLFs between messages are ignored, even in one read;
 * a double CRLF there is still a ping (RFC 4475 dblreq). */
START_TEST(crlf_between_messages)
{
	const char m[] = MSG("one..") "\r\n" MSG("two..") "\r\n\r\n";
	struct result r = feed(m, strlen(m), 0, 65535);
	ck_assert_int_eq(r.errors + r.toolarge, 0);
	ck_assert_int_eq(r.msgs, 2);
	ck_assert_str_eq(r.bodies[1], "two..");
	ck_assert_int_eq(r.pings, 1);
	r = feed(m, strlen(m), 13, 65535);       /* and split anywhere */
	ck_assert_int_eq(r.msgs, 2);
	ck_assert_int_eq(r.pings, 1);
}
END_TEST

/* A binary body with NULs and many lines, split across reads, is a body. */
START_TEST(binary_body_split)
{
	char m[4096];
	int hdr = snprintf(m, sizeof m, "MESSAGE sip:b@example.test SIP/2.0\r\n"
			   "Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n"
			   "From: <sip:a@p.test>;tag=1\r\nTo: <sip:b@example.test>\r\n"
			   "Call-ID: c1\r\nCSeq: 1 MESSAGE\r\nContent-Length: 2000\r\n\r\n");
	for (int i = 0; i < 2000; i++)
		m[hdr + i] = (char)(i % 3 == 0 ? '\0' : '\n');
	struct result r = feed(m, (size_t)hdr + 2000, 300, 65535);
	ck_assert_int_eq(r.errors + r.toolarge, 0);
	ck_assert_int_eq(r.msgs, 1);
}
END_TEST

/* More than 512 header lines is refused; Sofia's cost grows with them. */
START_TEST(header_line_bomb)
{
	static char m[16384];
	int off = snprintf(m, sizeof m, "MESSAGE sip:b@example.test SIP/2.0\r\n");
	for (int i = 0; i < 600; i++)
		off += snprintf(m + off, sizeof m - (size_t)off, "X-H: a\r\n");
	struct result r = feed(m, (size_t)off, 1000, 65535);
	ck_assert_int_eq(r.toolarge, 1);
	ck_assert_int_eq(r.msgs, 0);
}
END_TEST

/* A body that never completes keeps the message pending (header_timeout). */
START_TEST(pending_until_body_complete)
{
	const char m[] = "MESSAGE sip:b@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n"
			 "Content-Length: 50\r\n\r\nonly part";
	struct framer *f = framer_new(65535);
	framer_feed(f, m, strlen(m));
	msg_t *msg;
	ck_assert_int_eq(framer_next(f, &msg), FRAME_NONE);
	ck_assert(framer_pending(f));
	framer_free(f);
}
END_TEST

/* Debian's Sofia 1.12.11 rejects these unless sipmsg.c works around it. */
START_TEST(microsoft_and_prefix_methods)
{
	static const char *methods[] = { "SERVICE", "BENOTIFY", "NOTE", "SE", "SUBSCRIBE", "INFO",
					 "!interesting-Method0123456789_*+`.%indeed'~" };
	for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++) {
		char m[640];
		snprintf(m, sizeof m, "%s sip:bob@example.test SIP/2.0\r\n"
			 "Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK1\r\n"
			 "From: <sip:a@p.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n"
			 "Call-ID: c1\r\nCSeq: 7 %s\r\nContent-Length: 0\r\n\r\n",
			 methods[i], methods[i]);
		struct framer *f = framer_new(65535);
		framer_feed(f, m, strlen(m));
		msg_t *msg;
		ck_assert_msg(framer_next(f, &msg) == FRAME_MSG, "%s not parsed", methods[i]);
		sip_t *sip = sip_object(msg);
		ck_assert_str_eq(sip->sip_request->rq_method_name, methods[i]);
		ck_assert_str_eq(sip->sip_cseq->cs_method_name, methods[i]);
		ck_assert_uint_eq(sip->sip_cseq->cs_seq, 7);
		ck_assert_ptr_null(sipmsg_malformed(msg, sip));
		msg_destroy(msg);
		framer_free(f);
	}
}
END_TEST

/* Hundreds of small messages in one read, with keep-alives between some:
 * all framed, in order, whether fed at once or in odd-sized pieces. (The
 * framer once copied the rest of the read after each message: a read of
 * many small messages cost its length squared.) */
static void check_pipelined(size_t piece)
{
	enum { N = 400 };
	size_t cap = N * 256, len = 0;
	char *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	for (int i = 0; i < N; i++) {
		len += (size_t)snprintf(buf + len, cap - len,
			"MESSAGE sip:bob@example.test SIP/2.0\r\n"
			"Via: SIP/2.0/TLS 192.0.2.1;branch=z9hG4bK%d\r\n"
			"From: <sip:alice@partner.test>;tag=1\r\nTo: <sip:bob@example.test>\r\n"
			"Call-ID: p%d\r\nCSeq: 1 MESSAGE\r\nContent-Length: 5\r\n\r\n%05d%s",
			i, i, i, i % 7 == 3 ? "\r\n\r\n" : "");
	}
	struct framer *f = framer_new(65535);
	int next = 0, bad = 0;
	for (size_t off = 0; off < len; off += piece) {
		size_t n = len - off < piece ? len - off : piece;
		ck_assert(framer_feed(f, buf + off, n));
		msg_t *m;
		enum frame_event ev;
		while ((ev = framer_next(f, &m)) != FRAME_NONE) {
			if (ev != FRAME_MSG) {
				if (ev != FRAME_PING)
					bad++;
				continue;
			}
			sip_t *sip = sip_object(m);
			char want[16];
			snprintf(want, sizeof want, "%05d", next);
			if (!sip->sip_payload || sip->sip_payload->pl_len != 5 ||
			    memcmp(sip->sip_payload->pl_data, want, 5) != 0)
				bad++;
			next++;
			msg_destroy(m);
		}
	}
	framer_free(f);
	free(buf);
	ck_assert_int_eq(bad, 0);
	ck_assert_int_eq(next, N);
}

START_TEST(pipelined_many_small)
{
	check_pipelined((size_t)-1 / 2);   /* the whole stream in one read */
	check_pipelined(16384);
	check_pipelined(997);
	check_pipelined(31);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("framing");
	TCase *tc = tcase_create("framing");
	tcase_add_test(tc, one_message);
	tcase_add_test(tc, split_every_size);
	tcase_add_test(tc, merged_three);
	tcase_add_test(tc, merged_and_split);
	tcase_add_test(tc, keepalive_ping);
	tcase_add_test(tc, oversized_headers);
	tcase_add_test(tc, oversized_content_length);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, limit_exact_across_reads);
	tcase_add_test(tc, pending_flag);
	tcase_add_test(tc, malformed_detected);
	tcase_add_test(tc, uri_with_path_refused);
	tcase_add_test(tc, separator_printed_as_crlf);
	tcase_add_test(tc, microsoft_and_prefix_methods);
	tcase_add_test(tc, crlf_between_messages);
	tcase_add_test(tc, pending_until_body_complete);
	tcase_add_test(tc, binary_body_split);
	tcase_add_test(tc, header_line_bomb);
	tcase_add_test(tc, pipelined_many_small);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
