/* test_certname.c - identity sets of in-memory certificates. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "core/certname.h"

static EVP_PKEY *key;

static X509 *new_cert(void)
{
	X509 *x = X509_new();

	ck_assert_ptr_nonnull(x);
	ck_assert_int_eq(X509_set_version(x, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), 0);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	ck_assert_int_eq(X509_set_pubkey(x, key), 1);
	return x;
}

static void add_cn(X509 *x, int type, const void *val, int len)
{
	ck_assert_int_eq(X509_NAME_add_entry_by_NID(X509_get_subject_name(x),
		NID_commonName, type, val, len, -1, 0), 1);
}

static void add_san_conf(X509 *x, const char *san)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, san);
	ck_assert_ptr_nonnull(ext);
	ck_assert_int_eq(X509_add_ext(x, ext, -1), 1);
	X509_EXTENSION_free(ext);
}

/* For SAN contents the config syntax cannot express (NULs, emptiness). */
static void add_raw(GENERAL_NAMES *gens, int type, const char *s, int len)
{
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *str = ASN1_IA5STRING_new();

	ck_assert(gn && str && ASN1_STRING_set(str, s, len));
	GENERAL_NAME_set0_value(gn, type, str);
	ck_assert(sk_GENERAL_NAME_push(gens, gn) > 0);
}

static X509 *sign(X509 *x)
{
	ck_assert_int_eq(X509_set_issuer_name(x, X509_get_subject_name(x)), 1);
	ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
	return x;
}

/* cn or san NULL: no subject CN / no subjectAltName extension at all. */
static X509 *make_cert(const char *cn, const char *san)
{
	X509 *x = new_cert();

	if (cn)
		add_cn(x, MBSTRING_UTF8, cn, -1);
	if (san)
		add_san_conf(x, san);
	return sign(x);
}

static const char *names_of(X509 *x, char *buf, size_t len)
{
	struct certnames cn;

	certnames_from_x509(x, &cn);
	certnames_join(&cn, buf, len);
	certnames_free(&cn);
	return buf;
}

struct match {
	const char *host;
	bool wild;
	bool want;
};

static const struct {
	const char *what;
	const char *cn;
	const char *san;
	const char *names;      /* expected certnames_join() */
	struct match m[12];     /* up to host == NULL */
} cases[] = {
	{ "SAN URI only", "cn.partner.test", "URI:sip:sip.partner.test",
	  "sip.partner.test",
	  { { "sip.partner.test", false, true },
	    { "cn.partner.test", false, false },
	    { "partner.test", true, false } } },
	{ "SAN DNS only", "cn.partner.test", "DNS:edge.partner.test",
	  "edge.partner.test",
	  { { "edge.partner.test", false, true },
	    { "cn.partner.test", false, false } } },
	{ "URI before DNS whatever the order",
	  NULL, "DNS:edge.partner.test,URI:sip:sip.partner.test",
	  "sip.partner.test,edge.partner.test",
	  { { "edge.partner.test", false, true },
	    { "sip.partner.test", false, true } } },
	{ "CN only without SAN", "Edge.Partner.Test", NULL,
	  "edge.partner.test",
	  { { "edge.partner.test", false, true },
	    { "partner.test", false, false } } },
	{ "CN ignored once a SAN exists", "cn.partner.test",
	  "DNS:edge.partner.test", "edge.partner.test",
	  { { "cn.partner.test", false, false },
	    { "cn.partner.test", true, false } } },
	{ "no CN, no SAN", NULL, NULL, "",
	  { { "partner.test", true, false } } },
	{ "only user-less sip: URIs count", "cn.partner.test",
	  "URI:sip:alice@user.test,URI:sip:bob;x=y@semi.test,"
	  "URI:sips:sips.test,URI:http://http.test/,URI:sipx:x.test,"
	  "URI:sipxy.test,URI:sip:port.test:5061,URI:sip:[2001:db8::1],"
	  "URI:sip:,URI:SIP:Params.Test;transport=tls?h=v,"
	  "URI:sip:hdr.test?subject=x,DNS:edge.partner.test",
	  "params.test,hdr.test,edge.partner.test",
	  { { "params.test", false, true },
	    { "hdr.test", false, true },
	    { "y.test", false, false },
	    { "user.test", false, false },
	    { "semi.test", false, false },
	    { "sips.test", false, false },
	    { "http.test", false, false },
	    { "x.test", false, false },
	    { "port.test", false, false },
	    { "cn.partner.test", false, false } } },
	{ "case-insensitive", NULL,
	  "URI:sip:SIP.Partner.TEST,DNS:Edge.PARTNER.test",
	  "sip.partner.test,edge.partner.test",
	  { { "sip.partner.test", false, true },
	    { "EDGE.partner.Test", false, true } } },
	{ "trailing dots", NULL, "DNS:edge.partner.test.,DNS:b.partner.test",
	  "edge.partner.test,b.partner.test",
	  { { "edge.partner.test", false, true },
	    { "edge.partner.test.", false, true },
	    { "b.partner.test.", false, true },
	    { "b.partner.test..", false, false },
	    { ".", false, false } } },
	{ "wildcard", NULL, "DNS:*.partner.test", "*.partner.test",
	  { { "a.partner.test", false, false },
	    { "a.partner.test", true, true },
	    { "A.Partner.TEST.", true, true },
	    { "partner.test", true, false },
	    { ".partner.test", true, false },
	    { "a.b.partner.test", true, false },
	    { "a.partner.test.x", true, false },
	    { "a.partner.tes", true, false },
	    { "apartner.test", true, false },
	    { "*.partner.test", true, false },
	    { "*.partner.test", false, false } } },
	{ "wildcard as a URI host", NULL, "URI:sip:*.partner.test",
	  "*.partner.test",
	  { { "a.partner.test", true, true },
	    { "a.partner.test", false, false } } },
	{ "partial and misplaced wildcards never match", NULL,
	  "DNS:a*.partner.test,DNS:*a.partner.test,DNS:a.*.test,"
	  "DNS:*.*.test,DNS:*,DNS:*.,DNS:*..",
	  "a*.partner.test,*a.partner.test,a.*.test,*.*.test,*,*.",
	  { { "ab.partner.test", true, false },
	    { "ba.partner.test", true, false },
	    { "a.partner.test", true, false },
	    { "a*.partner.test", true, false },
	    { "a.b.test", true, false },
	    { "test", true, false },
	    { "a", true, false },
	    { "a..", true, false } } },
	{ "duplicates dropped", "dup.partner.test",
	  "URI:sip:dup.partner.test,DNS:DUP.partner.test,"
	  "DNS:dup.partner.test.,DNS:other.test,DNS:dup.partner.test",
	  "dup.partner.test,other.test",
	  { { "dup.partner.test", false, true } } },
};

START_TEST(test_table)
{
	X509 *x = make_cert(cases[_i].cn, cases[_i].san);
	struct certnames cn;
	char buf[512];

	certnames_from_x509(x, &cn);
	ck_assert_msg(strcmp(certnames_join(&cn, buf, sizeof(buf)),
			     cases[_i].names) == 0,
		      "%s: names \"%s\", want \"%s\"", cases[_i].what, buf,
		      cases[_i].names);
	for (const struct match *m = cases[_i].m; m->host; m++)
		ck_assert_msg(certnames_match(&cn, m->host, m->wild) == m->want,
			      "%s: match(\"%s\", wildcards=%d) != %d",
			      cases[_i].what, m->host, m->wild, m->want);
	certnames_free(&cn);
	X509_free(x);
}
END_TEST

START_TEST(test_null_cert)
{
	struct certnames cn;
	char buf[8] = "junk";

	certnames_from_x509(NULL, &cn);
	ck_assert_uint_eq(cn.n, 0);
	ck_assert_str_eq(certnames_join(&cn, buf, sizeof(buf)), "");
	ck_assert(!certnames_match(&cn, "partner.test", true));
	certnames_free(&cn);
}
END_TEST

START_TEST(test_empty_host)
{
	X509 *x = make_cert(NULL, "DNS:*.partner.test,DNS:partner.test");
	struct certnames cn;

	certnames_from_x509(x, &cn);
	ck_assert(!certnames_match(&cn, NULL, true));
	ck_assert(!certnames_match(&cn, "", true));
	ck_assert(!certnames_match(&cn, ".", true));
	ck_assert(certnames_match(&cn, "partner.test", false));
	certnames_free(&cn);
	X509_free(x);
}
END_TEST

START_TEST(test_limit)
{
	X509 *x;
	struct certnames cn;
	char san[1024] = "", host[32];

	for (int i = 0; i < CERTNAME_MAX + 8; i++) {
		size_t n = strlen(san);

		snprintf(san + n, sizeof(san) - n, "%sDNS:n%d.test",
			 i ? "," : "", i);
	}
	x = make_cert(NULL, san);
	certnames_from_x509(x, &cn);
	ck_assert_uint_eq(cn.n, CERTNAME_MAX);
	snprintf(host, sizeof(host), "n%d.test", CERTNAME_MAX - 1);
	ck_assert(certnames_match(&cn, host, false));
	snprintf(host, sizeof(host), "n%d.test", CERTNAME_MAX);
	ck_assert(!certnames_match(&cn, host, false));
	certnames_free(&cn);
	X509_free(x);
}
END_TEST

START_TEST(test_embedded_nul)
{
	static const char dns[] = "good.test\0.evil.test";
	static const char uri[] = "sip:good.test\0x";
	X509 *x = new_cert();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	char buf[128];

	ck_assert_ptr_nonnull(gens);
	add_raw(gens, GEN_DNS, dns, sizeof(dns) - 1);
	add_raw(gens, GEN_URI, uri, sizeof(uri) - 1);
	add_raw(gens, GEN_DNS, "ok.test", -1);
	ck_assert_int_eq(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
					   X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(gens);
	ck_assert_str_eq(names_of(sign(x), buf, sizeof(buf)), "ok.test");
	X509_free(x);
}
END_TEST

/* An empty or repeated SAN is still "a SAN": no fallback to the CN. */
START_TEST(test_san_without_fallback)
{
	X509 *x = new_cert();
	GENERAL_NAMES *gens = GENERAL_NAMES_new();
	char buf[128];

	add_cn(x, MBSTRING_UTF8, "cn.partner.test", -1);
	ck_assert_ptr_nonnull(gens);
	ck_assert_int_eq(X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0,
					   X509V3_ADD_DEFAULT), 1);
	GENERAL_NAMES_free(gens);
	ck_assert_str_eq(names_of(sign(x), buf, sizeof(buf)), "");

	add_san_conf(x, "DNS:edge.partner.test");
	ck_assert_int_eq(X509_get_ext_count(x), 2);
	ck_assert_str_eq(names_of(sign(x), buf, sizeof(buf)), "");
	X509_free(x);
}
END_TEST

START_TEST(test_cn_multi_bmp)
{
	/* "B.Test" in UCS-2BE: raw bytes carry NULs, UTF-8 does not. */
	static const unsigned char bmp[] = { 0, 'B', 0, '.', 0, 'T', 0, 'e',
					     0, 's', 0, 't' };
	static const char nul[] = "c.test\0.evil.test";
	X509 *x = new_cert();
	char buf[128];

	add_cn(x, MBSTRING_UTF8, "a.test", -1);
	add_cn(x, V_ASN1_BMPSTRING, bmp, sizeof(bmp));
	add_cn(x, MBSTRING_UTF8, "A.TEST.", -1);
	add_cn(x, V_ASN1_UTF8STRING, nul, sizeof(nul) - 1);
	ck_assert_str_eq(names_of(sign(x), buf, sizeof(buf)), "a.test,b.test");
	X509_free(x);
}
END_TEST

START_TEST(test_join)
{
	X509 *x = make_cert(NULL, "DNS:aaa.test,DNS:bbb.test");
	struct certnames cn, none;
	char buf[32];

	certnames_from_x509(x, &cn);
	ck_assert_str_eq(certnames_join(&cn, buf, sizeof(buf)),
			 "aaa.test,bbb.test");
	ck_assert_str_eq(certnames_join(&cn, buf, 18), "aaa.test,bbb.test");
	ck_assert_str_eq(certnames_join(&cn, buf, 17), "aaa.test,bbb.tes");
	ck_assert_str_eq(certnames_join(&cn, buf, 10), "aaa.test,");
	ck_assert_str_eq(certnames_join(&cn, buf, 9), "aaa.test");
	ck_assert_str_eq(certnames_join(&cn, buf, 1), "");
	strcpy(buf, "untouched");
	ck_assert_ptr_eq(certnames_join(&cn, buf, 0), buf);
	ck_assert_str_eq(buf, "untouched");

	certnames_from_x509(NULL, &none);
	ck_assert_str_eq(certnames_join(&none, buf, sizeof(buf)), "");

	certnames_free(&cn);
	ck_assert_uint_eq(cn.n, 0);
	certnames_free(&cn);
	X509_free(x);
}
END_TEST

static Suite *certname_suite(void)
{
	Suite *s = suite_create("certname");
	TCase *tc = tcase_create("core");

	tcase_add_loop_test(tc, test_table, 0,
			    (int)(sizeof(cases) / sizeof(cases[0])));
	tcase_add_test(tc, test_null_cert);
	tcase_add_test(tc, test_empty_host);
	tcase_add_test(tc, test_limit);
	tcase_add_test(tc, test_embedded_nul);
	tcase_add_test(tc, test_san_without_fallback);
	tcase_add_test(tc, test_cn_multi_bmp);
	tcase_add_test(tc, test_join);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr;
	int failed;

	/* One key for every certificate: keygen per test is wasted time. */
	key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!key) {
		fprintf(stderr, "test_certname: cannot generate a key\n");
		return 1;
	}
	sr = srunner_create(certname_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	EVP_PKEY_free(key);
	return failed ? 1 : 0;
}
