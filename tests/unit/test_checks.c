/* test_checks.c - sipedge-check's certificate checks and report on
 * in-memory certificates: weak keys and signatures, key usages, dates,
 * names, chains, and the JSON and text output. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "checks.h"
#include "opts.h"
#include "unit.h"

#define DAY 86400L
#define NOW 1800000000L         /* 2027-01-15: the tests' clock */

static EVP_PKEY *ca_key, *ec_key;
static X509 *ca;

static void add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
	ck_assert_ptr_nonnull(e);
	ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
	X509_EXTENSION_free(e);
}

struct spec {
	const char *cn;
	const char *san;        /* NULL: none */
	const char *eku;        /* NULL: no extension */
	long from, until;       /* seconds relative to NOW */
	EVP_PKEY *key;          /* NULL: ec_key */
	const EVP_MD *md;       /* NULL: SHA-256 */
	bool self;              /* self-signed CA instead of issued by ca */
};

static X509 *make(const struct spec *s)
{
	X509 *x = X509_new();
	EVP_PKEY *k = s->key ? s->key : ec_key;
	ck_assert_ptr_nonnull(x);
	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 2);
	ASN1_TIME_set(X509_getm_notBefore(x), NOW + s->from);
	ASN1_TIME_set(X509_getm_notAfter(x), NOW + s->until);
	X509_NAME_add_entry_by_NID(X509_get_subject_name(x), NID_commonName,
				   MBSTRING_UTF8, (const unsigned char *)s->cn, -1, -1, 0);
	X509_set_pubkey(x, k);
	X509 *issuer = s->self ? x : ca;
	X509_set_issuer_name(x, X509_get_subject_name(issuer));
	if (s->self) {
		add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE");
		add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign");
	}
	if (s->san)
		add_ext(x, issuer, NID_subject_alt_name, s->san);
	if (s->eku)
		add_ext(x, issuer, NID_ext_key_usage, s->eku);
	ck_assert_int_gt(X509_sign(x, s->self ? k : ca_key,
				   s->md ? s->md : EVP_sha256()), 0);
	return x;
}

static X509 *leaf(const char *san, const char *eku, long from, long until)
{
	struct spec s = { "sip.partner.test", san, eku, from, until, NULL, NULL, false };
	return make(&s);
}

static void setup(void)
{
	ca_key = EVP_EC_gen("P-256");
	ec_key = EVP_EC_gen("P-256");
	ck_assert(ca_key && ec_key);
	struct spec s = { "test CA", NULL, NULL, -DAY, 3650 * DAY, ca_key, NULL, true };
	ca = make(&s);
}

static void teardown(void)
{
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(ec_key);
}

static struct report rep;

static void reset(void)
{
	report_free(&rep);
	memset(&rep, 0, sizeof rep);
}

/* "STATUS check" of result i */
static const char *st(size_t i)
{
	static char buf[64];
	ck_assert_uint_lt(i, rep.n);
	snprintf(buf, sizeof buf, "%s %s", check_status_name(rep.r[i].status),
		 rep.r[i].check);
	return buf;
}

static const char *msg(size_t i)
{
	ck_assert_uint_lt(i, rep.n);
	return rep.r[i].message;
}

#define T "sip.partner.test:5061"

START_TEST(key_sizes_and_signatures)
{
	X509 *x = leaf("DNS:sip.partner.test", "serverAuth,clientAuth", -DAY, DAY * 90);
	reset();
	ck_assert(check_key(&rep, T, x, NULL));
	ck_assert_str_eq(st(0), "PASS key");
	ck_assert_str_eq(msg(0), T ": EC 256-bit key (prime256v1), signed with ecdsa-with-SHA256");
	X509_free(x);

	EVP_PKEY *rsa1024 = EVP_RSA_gen(1024), *rsa2048 = EVP_RSA_gen(2048);
	EVP_PKEY *p224 = EVP_EC_gen("P-224");
	ck_assert(rsa1024 && rsa2048 && p224);
	struct spec s = { "sip.partner.test", NULL, NULL, -DAY, DAY, rsa1024, NULL, false };
	x = make(&s);
	reset();
	ck_assert(!check_key(&rep, T, x, NULL));
	ck_assert_uint_eq(rep.n, 1);
	ck_assert_str_eq(st(0), "FAIL key");
	ck_assert_str_eq(msg(0), T ": RSA 1024-bit key: RSA keys need at least 2048 bits");
	ck_assert_int_eq(rep.r[0].code, 1010);
	X509_free(x);

	s.key = p224;
	x = make(&s);
	reset();
	ck_assert(!check_key(&rep, T, x, NULL));
	ck_assert_str_eq(msg(0), T ": EC 224-bit key (secp224r1): EC keys need at least 256 bits (P-256)");
	X509_free(x);

	s.key = rsa2048;
	x = make(&s);
	reset();
	ck_assert(check_key(&rep, T, x, NULL));
	ck_assert_str_eq(msg(0), T ": RSA 2048-bit key, signed with ecdsa-with-SHA256");
	X509_free(x);

	/* a SHA-1 signature on the leaf, and on an intermediate presented */
	s.md = EVP_sha1();
	x = make(&s);
	reset();
	ck_assert(!check_key(&rep, T, x, NULL));
	ck_assert_uint_eq(rep.n, 1);
	ck_assert_str_eq(msg(0), T ": certificate is signed with ecdsa-with-SHA1 (SHA1): "
			 "peers refuse MD5 and SHA-1 signatures; have it reissued with SHA-256");
	STACK_OF(X509) *presented = sk_X509_new_null();
	s.md = NULL;
	X509 *good = make(&s);
	sk_X509_push(presented, good);
	sk_X509_push(presented, x);     /* stands in for a SHA-1 intermediate */
	sk_X509_push(presented, ca);    /* self-signed: its signature is moot */
	reset();
	ck_assert(!check_key(&rep, T, good, presented));
	ck_assert_uint_eq(rep.n, 1);
	ck_assert_str_eq(msg(0), T ": CA certificate is signed with ecdsa-with-SHA1 "
			 "(CN=sip.partner.test): peers refuse MD5 and SHA-1 signatures; "
			 "have it reissued with SHA-256");
	sk_X509_free(presented);
	X509_free(good);
	X509_free(x);
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(rsa2048);
	EVP_PKEY_free(p224);
	reset();
}
END_TEST

START_TEST(key_usages)
{
	static const struct {
		const char *eku;
		const char *want;       /* "STATUS: message tail" */
	} cases[] = {
		{ "serverAuth,clientAuth", "PASS: extendedKeyUsage has serverAuth and clientAuth" },
		{ "clientAuth,serverAuth,emailProtection", "PASS: extendedKeyUsage has serverAuth and clientAuth" },
		{ "serverAuth", "FAIL: extendedKeyUsage lacks clientAuth (has: serverAuth); the edge "
		  "uses the same certificate as TLS server and as TLS client, so peers require both" },
		{ "clientAuth", "FAIL: extendedKeyUsage lacks serverAuth (has: clientAuth); the edge "
		  "uses the same certificate as TLS server and as TLS client, so peers require both" },
		{ "emailProtection", "FAIL: extendedKeyUsage lacks serverAuth and clientAuth (has: "
		  "emailProtection); the edge uses the same certificate as TLS server and as TLS "
		  "client, so peers require both" },
		{ NULL, "WARN: no extendedKeyUsage extension (any purpose); federation "
		  "certificates normally list serverAuth and clientAuth" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		X509 *x = leaf("DNS:sip.partner.test", cases[i].eku, -DAY, DAY);
		char got[1024];
		reset();
		bool ok = check_eku(&rep, T, x);
		ck_assert_uint_eq(rep.n, 1);
		snprintf(got, sizeof got, "%s%s", check_status_name(rep.r[0].status),
			 rep.r[0].message + strlen(T));
		ck_assert_str_eq(got, cases[i].want);
		ck_assert(ok == (rep.r[0].status != CHECK_FAIL));
		ck_assert_int_eq(rep.r[0].code, rep.r[0].status == CHECK_FAIL ? 1010 : 0);
		X509_free(x);
	}
	reset();
}
END_TEST

START_TEST(dates)
{
	X509 *x = leaf("DNS:sip.partner.test", NULL, -10 * DAY, 100 * DAY);
	reset();
	ck_assert(check_validity(&rep, T, x, NULL, NOW));
	ck_assert_str_eq(st(0), "PASS validity");
	ck_assert_str_eq(msg(0), T ": valid from 2027-01-05 08:00:00 UTC until "
			 "2027-04-25 08:00:00 UTC (100 days left)");
	X509_free(x);

	x = leaf("DNS:sip.partner.test", NULL, -10 * DAY, 29 * DAY + 3600);
	reset();
	ck_assert(check_validity(&rep, T, x, NULL, NOW));
	ck_assert_str_eq(st(0), "WARN validity");
	ck_assert_str_eq(msg(0), T ": certificate expires on 2027-02-13 09:00:00 UTC "
			 "(29 days left): renew it");
	X509_free(x);

	x = leaf("DNS:sip.partner.test", NULL, -100 * DAY, -3 * DAY);
	reset();
	ck_assert(!check_validity(&rep, T, x, NULL, NOW));
	ck_assert_uint_eq(rep.n, 1);
	ck_assert_str_eq(msg(0), T ": certificate expired on 2027-01-12 08:00:00 UTC "
			 "(3 days ago); check this machine's clock: now is 2027-01-15 08:00:00 UTC");
	ck_assert_int_eq(rep.r[0].code, 1010);
	X509_free(x);

	x = leaf("DNS:sip.partner.test", NULL, 2 * DAY, 100 * DAY);
	reset();
	ck_assert(!check_validity(&rep, T, x, NULL, NOW));
	ck_assert_str_eq(msg(0), T ": certificate is not valid before 2027-01-17 08:00:00 UTC; "
			 "check this machine's clock: now is 2027-01-15 08:00:00 UTC");

	/* an expired CA in the chain fails although the leaf is fine */
	struct spec s = { "old CA", NULL, NULL, -900 * DAY, -DAY, ca_key, NULL, true };
	X509 *old = make(&s);
	X509 *ok = leaf("DNS:sip.partner.test", NULL, -DAY, 100 * DAY);
	STACK_OF(X509) *chain = sk_X509_new_null();
	sk_X509_push(chain, ok);
	sk_X509_push(chain, old);
	reset();
	ck_assert(!check_validity(&rep, T, ok, chain, NOW));
	ck_assert_uint_eq(rep.n, 1);
	ck_assert_str_eq(msg(0), T ": CA certificate \"CN=old CA\" expired on 2027-01-14 "
			 "08:00:00 UTC (1 days ago); check this machine's clock: now is "
			 "2027-01-15 08:00:00 UTC");
	sk_X509_free(chain);
	X509_free(ok);
	X509_free(old);
	X509_free(x);
	reset();
}
END_TEST

START_TEST(names)
{
	X509 *x = leaf("DNS:other.partner.test,DNS:sip.partner.test", NULL, -DAY, DAY);
	reset();
	ck_assert(check_name(&rep, T, "SIP.partner.test", x));
	ck_assert_str_eq(msg(0), T ": certificate names SIP.partner.test "
			 "(names: other.partner.test,sip.partner.test)");
	X509_free(x);

	x = leaf("DNS:*.partner.test", NULL, -DAY, DAY);
	reset();
	ck_assert(!check_name(&rep, T, "sip.partner.test", x));
	ck_assert_str_eq(msg(0), T ": certificate does not name sip.partner.test (it "
			 "names: *.partner.test); only a wildcard matches, and federation "
			 "peers do not accept wildcards");
	ck_assert_int_eq(rep.r[0].code, 1010);
	X509_free(x);

	struct spec s = { "", NULL, NULL, -DAY, DAY, NULL, NULL, false };
	x = make(&s);
	reset();
	ck_assert(!check_name(&rep, T, "sip.partner.test", x));
	ck_assert_str_eq(msg(0), T ": certificate does not name sip.partner.test (it "
			 "names nothing: no subjectAltName DNS entry and no CN)");
	X509_free(x);
	reset();
}
END_TEST

START_TEST(chains)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_add_cert(store, ca);
	X509 *x = leaf("DNS:sip.partner.test", NULL, -100 * DAY, -DAY);   /* expired */
	STACK_OF(X509) *chain = NULL;
	reset();
	ck_assert(check_chain(&rep, T, store, "ca.pem", x, NULL, &chain));
	ck_assert_str_eq(msg(0), T ": issued through 2 certificate(s) up to "
			 "\"CN=test CA\", trusted by ca.pem");
	ck_assert_int_eq(sk_X509_num(chain), 2);
	sk_X509_pop_free(chain, X509_free);

	struct spec s = { "sip.partner.test", NULL, NULL, -DAY, DAY, NULL, NULL, true };
	X509 *self = make(&s);
	reset();
	ck_assert(!check_chain(&rep, T, store, "ca.pem", self, NULL, NULL));
	ck_assert_str_eq(msg(0), T ": not trusted by ca.pem: self-signed certificate "
			 "(depth 0, \"CN=sip.partner.test\"); a self-signed certificate: "
			 "federation needs one issued by a CA the peers trust (a public CA)");
	ck_assert_int_eq(rep.r[0].code, 1010);
	X509_free(self);
	X509_free(x);
	X509_STORE_free(store);
	reset();
}
END_TEST

START_TEST(output)
{
	char line[512], *buf = NULL;
	size_t len = 0;
	reset();
	report_add(&rep, CK_SRV_DOMAIN, CHECK_FAIL, "vcse.sub.example.com:5061", 1009,
		   "vcse.sub.example.com is not <label>.%s", "example.com");
	report_add(&rep, CK_SRV, CHECK_PASS, NULL, 1008, "tab\there \"q\" \\ \x01 é");
	ck_assert_str_eq(report_line(&rep.r[0], line, sizeof line),
			 "FAIL  srv-domain     vcse.sub.example.com is not <label>.example.com "
			 "[1009 No match for domain in DNS SRV results]");
	/* a code only shows on FAILs */
	ck_assert_str_eq(report_line(&rep.r[1], line, sizeof line),
			 "PASS  srv            tab\there \"q\" \\ \x01 é");
	ck_assert_uint_eq(rep.nfail, 1);

	FILE *f = open_memstream(&buf, &len);
	report_json(&rep, "example.com", f);
	fclose(f);
	ck_assert_str_eq(buf,
		"{\n  \"domain\": \"example.com\",\n  \"status\": \"FAIL\",\n  \"checks\": [\n"
		"    {\"check\": \"srv-domain\", \"status\": \"FAIL\", \"target\": "
		"\"vcse.sub.example.com:5061\", \"message\": \"vcse.sub.example.com is not "
		"<label>.example.com\", \"code\": 1009, \"reason\": \"No match for domain in "
		"DNS SRV results\"},\n"
		"    {\"check\": \"srv\", \"status\": \"PASS\", \"target\": null, \"message\": "
		"\"tab\\there \\\"q\\\" \\\\ \\u0001 é\", \"code\": null, \"reason\": null}\n"
		"  ]\n}\n");
	free(buf);
	reset();

	f = open_memstream(&buf, &len);
	report_json(&rep, "a\"b", f);
	fclose(f);
	ck_assert_str_eq(buf, "{\n  \"domain\": \"a\\\"b\",\n  \"status\": \"PASS\",\n"
			 "  \"checks\": []\n}\n");
	free(buf);
}
END_TEST

/* The command line's pure parts (opts.c): what --dns and DOMAIN accept. */
START_TEST(option_values)
{
	static const struct { const char *in, *out; } domains[] = {
		{ "Partner.Example.COM.", "partner.example.com" },
		{ "_sip._tls.a-b.test", "_sip._tls.a-b.test" },
		{ "x", "x" },
		{ "", NULL }, { ".", NULL }, { "a..b", NULL }, { ".a", NULL },
		{ "a b.test", NULL }, { "a.test..", NULL }, { "é.test", NULL },
	};
	char out[254];
	for (size_t i = 0; i < sizeof domains / sizeof *domains; i++) {
		bool ok = opts_valid_domain(domains[i].in, out, sizeof out);
		ck_assert_msg(ok == (domains[i].out != NULL), "%s", domains[i].in);
		if (ok)
			ck_assert_str_eq(out, domains[i].out);
	}
	char label[70], longname[300];
	memset(label, 'a', 64);
	label[64] = '\0';
	ck_assert(!opts_valid_domain(label, out, sizeof out));
	label[63] = '\0';
	ck_assert(opts_valid_domain(label, out, sizeof out));
	memset(longname, 'a', sizeof longname);
	for (size_t i = 63; i < sizeof longname; i += 64)
		longname[i] = '.';
	longname[254] = '\0';          /* 254 characters, no trailing dot */
	ck_assert(!opts_valid_domain(longname, out, sizeof out));

	static const struct { const char *in; bool ok; } servers[] = {
		{ "192.0.2.53", true }, { "192.0.2.53:5353", true },
		{ "2001:db8::53", true }, { "[2001:db8::53]:53", true },
		{ "[2001:db8::53]", true },
		{ "ns.example.com", false }, { "192.0.2.53:0", false },
		{ "192.0.2.53:65536", false }, { "192.0.2.53:", false },
		{ "[2001:db8::53]x", false }, { "[192.0.2.53]:53", false },
		{ "[2001:db8::53", false }, { "", false },
	};
	for (size_t i = 0; i < sizeof servers / sizeof *servers; i++)
		ck_assert_msg(opts_valid_dns_server(servers[i].in) == servers[i].ok,
			      "%s", servers[i].in);

	struct opts o = { .dns = { "192.0.2.53", "192.0.2.54:5353" }, .ndns = 2 };
	struct dns_options d;
	opts_dns(&o, &d);
	ck_assert_uint_eq(d.nservers, 2);
	ck_assert_str_eq(d.servers[1], "192.0.2.54:5353");
	ck_assert_int_eq(d.timeout_ms, DNS_TIMEOUT_MS);
	ck_assert_int_eq(d.tries, DNS_TRIES);
}
END_TEST

/* --self judges our own certificate with a 21-day WARN. */
START_TEST(self_warn_days)
{
	X509 *x = leaf("DNS:sip.partner.test", NULL, -10 * DAY, 25 * DAY);
	reset();
	ck_assert(check_validity_days(&rep, T, x, NULL, NOW, SELF_WARN_DAYS));
	ck_assert_str_eq(st(0), "PASS validity");
	reset();
	ck_assert(check_validity(&rep, T, x, NULL, NOW));
	ck_assert_str_eq(st(0), "WARN validity");
	X509_free(x);
	x = leaf("DNS:sip.partner.test", NULL, -10 * DAY, 20 * DAY + 3600);
	reset();
	ck_assert(check_validity_days(&rep, T, x, NULL, NOW, SELF_WARN_DAYS));
	ck_assert_str_eq(st(0), "WARN validity");
	ck_assert_str_eq(msg(0), T ": certificate expires on 2027-02-04 09:00:00 UTC "
			 "(20 days left): renew it");
	X509_free(x);
	reset();
}
END_TEST

/* What the partner sends us reaches the terminal escaped and bounded. */
START_TEST(partner_text)
{
	char b[64];
	ck_assert_str_eq(escape_text("Forbidden", 100, b, sizeof b), "Forbidden");
	ck_assert_str_eq(escape_text("\x1b[2J\r\nA\\B\x7f\xff", 100, b, sizeof b),
			 "\\x1b[2J\\x0d\\x0aA\\\\B\\x7f\\xff");
	/* n bounds the read: no NUL needed within it */
	const char raw[4] = { 'a', 'b', 'c', 'd' };
	ck_assert_str_eq(escape_text(raw, 3, b, sizeof b), "abc");
	/* cut to fit, with "..." and never half an escape */
	ck_assert_str_eq(escape_text("abcdefghij", 100, b, 8), "abcd...");
	ck_assert_str_eq(escape_text("ab\x01\x02\x03", 100, b, 10), "ab\\x01...");
	ck_assert_str_eq(escape_text("ab", 100, b, 3), "ab");
	escape_text("abc", 100, b, 1);
	ck_assert_str_eq(b, "");

	/* every code of core/diag.h has a meaning for our side; others none */
	static const int codes[] = { 1008, 1009, 1010, 1017, 1027, 1046, 1047 };
	for (size_t i = 0; i < sizeof codes / sizeof *codes; i++)
		ck_assert_msg(diag_meaning(codes[i]) != NULL, "%d", codes[i]);
	ck_assert_ptr_null(diag_meaning(1034));
	ck_assert_ptr_null(diag_meaning(0));

	ck_assert_int_eq(answer_status(200), CHECK_PASS);
	ck_assert_int_eq(answer_status(202), CHECK_PASS);
	ck_assert_int_eq(answer_status(405), CHECK_PASS);
	ck_assert_int_eq(answer_status(501), CHECK_PASS);
	ck_assert_int_eq(answer_status(403), CHECK_FAIL);
	ck_assert_int_eq(answer_status(404), CHECK_FAIL);
	ck_assert_int_eq(answer_status(480), CHECK_FAIL);
	ck_assert_int_eq(answer_status(503), CHECK_FAIL);
	ck_assert_int_eq(answer_status(302), CHECK_FAIL);
}
END_TEST

/* --from's default: our domain from our certificate. */
START_TEST(our_domain)
{
	char d[254];
	X509 *x = leaf("DNS:sip.partner.test", NULL, -DAY, DAY);
	ck_assert(cert_domain(x, d, sizeof d));
	ck_assert_str_eq(d, "partner.test");
	X509_free(x);
	x = leaf("DNS:*.wild.test,DNS:Edge.Example.COM", NULL, -DAY, DAY);
	ck_assert(cert_domain(x, d, sizeof d));
	ck_assert_str_eq(d, "example.com");
	X509_free(x);
	x = leaf("DNS:example.com", NULL, -DAY, DAY);
	ck_assert(cert_domain(x, d, sizeof d));
	ck_assert_str_eq(d, "example.com");
	ck_assert(!cert_domain(x, d, 5));
	X509_free(x);
	x = leaf(NULL, NULL, -DAY, DAY);       /* the CN, sip.partner.test */
	ck_assert(cert_domain(x, d, sizeof d));
	ck_assert_str_eq(d, "partner.test");
	X509_free(x);
	x = leaf("DNS:*.wild.test", NULL, -DAY, DAY);
	ck_assert(!cert_domain(x, d, sizeof d));
	X509_free(x);
}
END_TEST

static int parse(struct opts *o, const char *const *args)
{
	char *argv[16];
	int argc = 0;
	argv[argc++] = (char *)"sipedge-check";
	for (; *args && argc < 15; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	optind = 0;             /* glibc: start over */
	opterr = 0;
	FILE *keep = stderr;
	stderr = fopen("/dev/null", "w");
	int rc = opts_parse(argc, argv, o);
	fclose(stderr);
	stderr = keep;
	return rc;
}

/* --cert/--key/--from/--to/--self on the command line. */
START_TEST(partner_options)
{
	static const struct { const char *in; bool ok; } aors[] = {
		{ "alice@example.test", true }, { "sip:alice@example.test", true },
		{ "a.b-c_d@x", true }, { "alice", false }, { "@example.test", false },
		{ "a b@example.test", false }, { "a;x@example.test", false },
		{ "alice@bad domain", false }, { "a\r\nb@example.test", false },
		{ "a@b@example.test", false }, { "alice@", false },
	};
	for (size_t i = 0; i < sizeof aors / sizeof *aors; i++)
		ck_assert_msg(opts_valid_aor(aors[i].in) == aors[i].ok, "%s", aors[i].in);

	struct opts o;
	ck_assert_int_eq(parse(&o, (const char *[]){ "example.test", NULL }), 0);
	ck_assert_int_eq(o.answer_ms, 10000);
	ck_assert_ptr_null(o.cert);
	ck_assert_int_eq(parse(&o, (const char *[]){ "--cert", "c", "--key", "k",
		"--from", "me@ours.test", "--to", "bob@example.test", "--timeout", "3",
		"example.test", NULL }), 0);
	ck_assert_str_eq(o.cert, "c");
	ck_assert_str_eq(o.key, "k");
	ck_assert_str_eq(o.from, "me@ours.test");
	ck_assert_str_eq(o.to, "bob@example.test");
	ck_assert_int_eq(o.answer_ms, 3000);
	ck_assert_int_eq(parse(&o, (const char *[]){ "--self", "edge.conf", NULL }), 0);
	ck_assert_str_eq(o.self, "edge.conf");

	static const char *const bad[][8] = {
		{ "--cert", "c", "example.test" },
		{ "--key", "k", "example.test" },
		{ "--to", "bob@example.test", "example.test" },
		{ "--cert", "c", "--key", "k", "--to", "bob", "example.test" },
		{ "--self", "edge.conf", "example.test" },
		{ "--self", "edge.conf", "--cert", "c", "--key", "k" },
		{ "--self" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		ck_assert_msg(parse(&o, bad[i]) == 2, "case %zu", i);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("checks");
	TCase *tc = tcase_create("checks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, key_sizes_and_signatures);
	tcase_add_test(tc, key_usages);
	tcase_add_test(tc, dates);
	tcase_add_test(tc, names);
	tcase_add_test(tc, chains);
	tcase_add_test(tc, output);
	tcase_add_test(tc, option_values);
	tcase_add_test(tc, self_warn_days);
	tcase_add_test(tc, partner_text);
	tcase_add_test(tc, our_domain);
	tcase_add_test(tc, partner_options);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
