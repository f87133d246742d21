/* PROXY protocol header parser: every branch of v1 and v2, fragments,
 * trailing TLS bytes, garbage, and a bounded random loop. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "core/proxyproto.h"

static const unsigned char SIG[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};
/* The first bytes of a TLS ClientHello. */
static const unsigned char TLS[] = { 0x16, 0x03, 0x01, 0x02, 0x00, 0x01 };

static enum pp_status parse_str(const char *s, struct pp_result *r)
{
	return proxyproto_parse((const unsigned char *)s, strlen(s), r);
}

/* A v2 header in out: cmd, fam byte, addresses for AF_INET/INET6,
 * tlv_len bytes of TLVs (one TLV of that size minus 3); returns its size. */
static size_t v2(unsigned char *out, unsigned char ver_cmd, unsigned char fam,
		 size_t tlv_len)
{
	memcpy(out, SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	size_t alen = 0;
	unsigned char *p = out + 16;
	if ((fam >> 4) == 1) {
		inet_pton(AF_INET, "192.0.2.7", p);
		inet_pton(AF_INET, "198.51.100.1", p + 4);
		p[8] = 0x13; p[9] = 0x88;       /* 5000 */
		p[10] = 0x13; p[11] = 0xc5;     /* 5061 */
		alen = 12;
	} else if ((fam >> 4) == 2) {
		inet_pton(AF_INET6, "2001:db8::7", p);
		inet_pton(AF_INET6, "2001:db8::1", p + 16);
		p[32] = 0xff; p[33] = 0xff;     /* 65535 */
		p[34] = 0x13; p[35] = 0xc5;
		alen = 36;
	}
	if (tlv_len >= 3) {
		p[alen] = 0x04;                 /* PP2_TYPE_NOOP */
		p[alen + 1] = (unsigned char)((tlv_len - 3) >> 8);
		p[alen + 2] = (unsigned char)(tlv_len - 3);
		memset(p + alen + 3, 0xab, tlv_len - 3);
	}
	size_t hl = alen + tlv_len;
	out[14] = (unsigned char)(hl >> 8);
	out[15] = (unsigned char)hl;
	return 16 + hl;
}

/* ---------------------------------------------------------------- v1 */

START_TEST(v1_tcp4)
{
	struct pp_result r;
	const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061\r\n";
	ck_assert_int_eq(parse_str(h, &r), PP_DONE);
	ck_assert_int_eq(r.version, 1);
	ck_assert_int_eq(r.kind, PP_PROXY);
	ck_assert_int_eq(r.family, AF_INET);
	ck_assert_uint_eq(r.consumed, strlen(h));
	char ip[64];
	inet_ntop(AF_INET, r.src, ip, sizeof ip);
	ck_assert_str_eq(ip, "192.0.2.7");
	inet_ntop(AF_INET, r.dst, ip, sizeof ip);
	ck_assert_str_eq(ip, "198.51.100.1");
	ck_assert_uint_eq(r.sport, 5000);
	ck_assert_uint_eq(r.dport, 5061);
}
END_TEST

START_TEST(v1_tcp6_and_ports)
{
	struct pp_result r;
	ck_assert_int_eq(parse_str("PROXY TCP6 2001:db8::7 2001:db8::1 0 65535\r\n", &r), PP_DONE);
	ck_assert_int_eq(r.family, AF_INET6);
	ck_assert_uint_eq(r.sport, 0);
	ck_assert_uint_eq(r.dport, 65535);
	char ip[64];
	inet_ntop(AF_INET6, r.src, ip, sizeof ip);
	ck_assert_str_eq(ip, "2001:db8::7");
	ck_assert_int_eq(parse_str("PROXY TCP6 2001:db8::7 2001:db8::1 1 65536\r\n", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 1x 2\r\n", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 123456 2\r\n", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n", &r), PP_ERROR);
}
END_TEST

START_TEST(v1_unknown)
{
	struct pp_result r;
	ck_assert_int_eq(parse_str("PROXY UNKNOWN\r\n", &r), PP_DONE);
	ck_assert_int_eq(r.kind, PP_UNKNOWN);
	ck_assert_uint_eq(r.consumed, 15);
	ck_assert_int_eq(parse_str("PROXY UNKNOWN ffff:f::1 ffff:f::2 1 2\r\n", &r), PP_DONE);
	ck_assert_int_eq(r.kind, PP_UNKNOWN);
}
END_TEST

START_TEST(v1_malformed)
{
	static const char *bad[] = {
		"PROXY TCP4  192.0.2.7 198.51.100.1 5000 5061\r\n",   /* two spaces */
		"PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061 \r\n",   /* trailing space */
		"PROXY  TCP4 192.0.2.7 198.51.100.1 5000 5061\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 5000\r\n",         /* field missing */
		"PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061 7\r\n",  /* one more */
		"PROXY TCP4 2001:db8::7 198.51.100.1 5000 5061\r\n",  /* wrong family */
		"PROXY TCP6 192.0.2.7 2001:db8::1 5000 5061\r\n",
		"PROXY TCP4 192.0.2.256 198.51.100.1 5000 5061\r\n",
		"PROXY TCP4 example.com 198.51.100.1 5000 5061\r\n",
		"PROXY UDP4 192.0.2.7 198.51.100.1 5000 5061\r\n",
		"PROXY tcp4 192.0.2.7 198.51.100.1 5000 5061\r\n",
		"PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061\n",      /* LF only */
		"PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061\rX",     /* CR, no LF */
		"PROXY TCP4 192.0.2.7\t198.51.100.1 5000 5061\r\n",   /* tab */
		"PROXY \r\n",
		"PROXY UNKNOWNX\r\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		struct pp_result r;
		ck_assert_msg(parse_str(bad[i], &r) == PP_ERROR, "accepted: %s", bad[i]);
		ck_assert_ptr_nonnull(r.reason);
	}
}
END_TEST

START_TEST(v1_too_long)
{
	struct pp_result r;
	char line[200];
	/* 107 bytes exactly: accepted (UNKNOWN with padding). */
	memset(line, 'a', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 105, "\r\n", 2);
	ck_assert_int_eq(proxyproto_parse((unsigned char *)line, 107, &r), PP_DONE);
	ck_assert_uint_eq(r.consumed, 107);
	/* 108: refused, and 107 bytes without an end are refused at once. */
	memset(line, 'a', sizeof line);
	memcpy(line, "PROXY UNKNOWN ", 14);
	memcpy(line + 106, "\r\n", 2);
	ck_assert_int_eq(proxyproto_parse((unsigned char *)line, 108, &r), PP_ERROR);
	ck_assert_int_eq(proxyproto_parse((unsigned char *)line, 107, &r), PP_ERROR);
	ck_assert_int_eq(proxyproto_parse((unsigned char *)line, 106, &r), PP_NEED_MORE);
}
END_TEST

/* ---------------------------------------------------------------- v2 */

START_TEST(v2_inet)
{
	unsigned char b[600];
	size_t n = v2(b, 0x21, 0x11, 0);
	struct pp_result r;
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_DONE);
	ck_assert_int_eq(r.version, 2);
	ck_assert_int_eq(r.kind, PP_PROXY);
	ck_assert_int_eq(r.family, AF_INET);
	ck_assert_uint_eq(r.consumed, 28);
	ck_assert_uint_eq(r.sport, 5000);
	ck_assert_uint_eq(r.dport, 5061);
	char ip[64];
	inet_ntop(AF_INET, r.src, ip, sizeof ip);
	ck_assert_str_eq(ip, "192.0.2.7");
}
END_TEST

START_TEST(v2_inet6_tlvs)
{
	unsigned char b[600];
	size_t n = v2(b, 0x21, 0x21, 40);
	struct pp_result r;
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_DONE);
	ck_assert_int_eq(r.family, AF_INET6);
	ck_assert_uint_eq(r.consumed, 16 + 36 + 40);
	ck_assert_uint_eq(r.sport, 65535);
	char ip[64];
	inet_ntop(AF_INET6, r.src, ip, sizeof ip);
	ck_assert_str_eq(ip, "2001:db8::7");
	/* The largest allowed length, and one more. */
	n = v2(b, 0x21, 0x21, PP_V2_MAX_LEN - 36);
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_DONE);
	ck_assert_uint_eq(r.consumed, PP_MAX_HEADER);
	n = v2(b, 0x21, 0x21, PP_V2_MAX_LEN - 35);
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_ERROR);
	/* Refused from the length field alone: no need to wait for it. */
	ck_assert_int_eq(proxyproto_parse(b, 16, &r), PP_ERROR);
}
END_TEST

START_TEST(v2_bad_tlv)
{
	unsigned char b[600];
	size_t n = v2(b, 0x21, 0x11, 10);
	b[16 + 12 + 2] = 8;                    /* TLV says 8, 7 remain */
	struct pp_result r;
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_ERROR);
	n = v2(b, 0x21, 0x11, 0);
	b[15] = 14;                            /* 2 stray bytes: not a TLV */
	b[28] = 1; b[29] = 0;
	ck_assert_int_eq(proxyproto_parse(b, 30, &r), PP_ERROR);
	/* Addresses shorter than the family needs. */
	n = v2(b, 0x21, 0x11, 0);
	b[15] = 11;
	ck_assert_int_eq(proxyproto_parse(b, 27, &r), PP_ERROR);
	n = v2(b, 0x21, 0x21, 0);
	b[15] = 35;
	ck_assert_int_eq(proxyproto_parse(b, 51, &r), PP_ERROR);
}
END_TEST

START_TEST(v2_local_unspec)
{
	unsigned char b[600];
	struct pp_result r;
	size_t n = v2(b, 0x20, 0x00, 0);           /* LOCAL, HAProxy's check */
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_DONE);
	ck_assert_int_eq(r.kind, PP_LOCAL);
	ck_assert_uint_eq(r.consumed, 16);
	n = v2(b, 0x20, 0x11, 0);                  /* LOCAL with addresses: ignored */
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_DONE);
	ck_assert_int_eq(r.kind, PP_LOCAL);
	ck_assert_uint_eq(r.consumed, 28);
	n = v2(b, 0x21, 0x00, 0);                  /* PROXY AF_UNSPEC */
	ck_assert_int_eq(proxyproto_parse(b, n, &r), PP_DONE);
	ck_assert_int_eq(r.kind, PP_UNKNOWN);
}
END_TEST

START_TEST(v2_refused)
{
	unsigned char b[600];
	struct pp_result r;
	struct { unsigned char vc, fam; } bad[] = {
		{ 0x11, 0x11 },        /* version 1 in a v2 header */
		{ 0x31, 0x11 },        /* version 3 */
		{ 0x22, 0x11 },        /* command 2 */
		{ 0x2f, 0x11 },
		{ 0x21, 0x31 },        /* AF_UNIX */
		{ 0x21, 0x12 },        /* DGRAM */
		{ 0x21, 0x22 },
		{ 0x21, 0x10 },        /* AF_INET, transport UNSPEC */
		{ 0x21, 0x41 },        /* family 4 */
		{ 0x21, 0x13 },        /* transport 3 */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		size_t n = v2(b, bad[i].vc, bad[i].fam, 0);
		ck_assert_msg(proxyproto_parse(b, n, &r) == PP_ERROR, "case %zu accepted", i);
		ck_assert_ptr_nonnull(r.reason);
		/* Known from the first 14 bytes. */
		ck_assert_msg(proxyproto_parse(b, 14, &r) == PP_ERROR, "case %zu waits", i);
	}
}
END_TEST

/* ------------------------------------------------------- both versions */

/* One byte at a time: NEED_MORE until the last, then DONE with the whole
 * length; the TLS bytes after it are not consumed. */
static void fragmented(const unsigned char *h, size_t n)
{
	unsigned char buf[700];
	memcpy(buf, h, n);
	memcpy(buf + n, TLS, sizeof TLS);
	struct pp_result r;
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(proxyproto_parse(buf, i, &r) == PP_NEED_MORE, "prefix %zu of %zu", i, n);
	ck_assert_int_eq(proxyproto_parse(buf, n, &r), PP_DONE);
	ck_assert_uint_eq(r.consumed, n);
	for (size_t extra = 1; extra <= sizeof TLS; extra++) {
		ck_assert_int_eq(proxyproto_parse(buf, n + extra, &r), PP_DONE);
		ck_assert_uint_eq(r.consumed, n);
	}
}

START_TEST(fragments_and_trailing_tls)
{
	const char *v1s[] = {
		"PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061\r\n",
		"PROXY TCP6 2001:db8::7 2001:db8::1 5000 5061\r\n",
		"PROXY UNKNOWN\r\n",
	};
	for (size_t i = 0; i < 3; i++)
		fragmented((const unsigned char *)v1s[i], strlen(v1s[i]));
	unsigned char b[600];
	fragmented(b, v2(b, 0x21, 0x11, 0));
	fragmented(b, v2(b, 0x21, 0x21, 20));
	fragmented(b, v2(b, 0x20, 0x00, 0));
}
END_TEST

START_TEST(garbage)
{
	struct pp_result r;
	ck_assert_int_eq(proxyproto_parse(TLS, sizeof TLS, &r), PP_ERROR);
	ck_assert_int_eq(proxyproto_parse(TLS, 1, &r), PP_ERROR);  /* at once */
	ck_assert_int_eq(parse_str("OPTIONS sip:x SIP/2.0\r\n", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("PROXZ", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("proxy TCP4", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("\r\n\r\n", &r), PP_NEED_MORE); /* v2 so far */
	ck_assert_int_eq(parse_str("\r\n\r\nX", &r), PP_ERROR);
	ck_assert_int_eq(parse_str("PROX", &r), PP_NEED_MORE);
	ck_assert_int_eq(proxyproto_parse((const unsigned char *)"", 0, &r), PP_NEED_MORE);
	/* Binary inside a v1 line is refused before its end. */
	ck_assert_int_eq(proxyproto_parse((const unsigned char *)"PROXY \x16\x03", 8, &r), PP_ERROR);
}
END_TEST

START_TEST(truncated)
{
	struct pp_result r;
	/* Cut short, each is still NEED_MORE (the reader's timeout ends it). */
	ck_assert_int_eq(parse_str("PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061\r", &r), PP_NEED_MORE);
	ck_assert_int_eq(parse_str("PROXY TCP4 192.0.2.7", &r), PP_NEED_MORE);
	unsigned char b[600];
	size_t n = v2(b, 0x21, 0x21, 0);
	ck_assert_int_eq(proxyproto_parse(b, n - 1, &r), PP_NEED_MORE);
	ck_assert_int_eq(proxyproto_parse(b, 15, &r), PP_NEED_MORE);
}
END_TEST

/* Random bytes, and valid headers with one byte changed: never a crash,
 * never a DONE that consumed more than given or a NEED_MORE on more than
 * a header can hold. */
START_TEST(random_loop)
{
	unsigned seed = 12345;
	unsigned char b[700];
	for (int iter = 0; iter < 20000; iter++) {
		size_t n;
		if (iter % 3 == 0) {
			n = (seed = seed * 1103515245u + 12345u) % sizeof b;
			for (size_t i = 0; i < n; i++)
				b[i] = (unsigned char)((seed = seed * 1103515245u + 12345u) >> 16);
		} else if (iter % 3 == 1) {
			n = v2(b, 0x21, (iter & 4) ? 0x21 : 0x11, (size_t)(iter % 64));
			seed = seed * 1103515245u + 12345u;
			b[(seed >> 8) % n] ^= (unsigned char)(1u << ((seed >> 4) % 8));
		} else {
			const char *h = "PROXY TCP4 192.0.2.7 198.51.100.1 5000 5061\r\n";
			n = strlen(h);
			memcpy(b, h, n);
			seed = seed * 1103515245u + 12345u;
			b[(seed >> 8) % n] = (unsigned char)(seed >> 20);
		}
		struct pp_result r;
		enum pp_status st = proxyproto_parse(b, n, &r);
		if (st == PP_DONE)
			ck_assert_uint_le(r.consumed, n);
		else if (st == PP_NEED_MORE)
			ck_assert_uint_lt(n, PP_MAX_HEADER);
		else
			ck_assert_ptr_nonnull(r.reason);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("proxyproto");
	TCase *tc = tcase_create("proxyproto");
	tcase_add_test(tc, v1_tcp4);
	tcase_add_test(tc, v1_tcp6_and_ports);
	tcase_add_test(tc, v1_unknown);
	tcase_add_test(tc, v1_malformed);
	tcase_add_test(tc, v1_too_long);
	tcase_add_test(tc, v2_inet);
	tcase_add_test(tc, v2_inet6_tlvs);
	tcase_add_test(tc, v2_bad_tlv);
	tcase_add_test(tc, v2_local_unspec);
	tcase_add_test(tc, v2_refused);
	tcase_add_test(tc, fragments_and_trailing_tls);
	tcase_add_test(tc, garbage);
	tcase_add_test(tc, truncated);
	tcase_add_test(tc, random_loop);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
