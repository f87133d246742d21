/* The DNS cache alone: TTLs, negative entries, keys, the size bound. */
#include <check.h>
#include "unit.h"
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "core/dnscache.h"

static struct dnscache *c;

static void setup(void)
{
	c = dnscache_new(8, 300, 60);
	ck_assert_ptr_nonnull(c);
}

static void teardown(void)
{
	dnscache_free(c);
}

static struct dns_srv srv1[2] = {
	{ "sip.partner.test", 5061, 10, 50 },
	{ "sip2.partner.test", 5062, 20, 0 },
};

static struct sockaddr_storage addr4(const char *ip)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	sin->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	return ss;
}

static enum dnscache_result look(enum dnscache_type t, const char *name, time_t now)
{
	struct dnscache_answer a;
	return dnscache_lookup(c, t, name, now, &a);
}

START_TEST(positive_answer_kept_as_given)
{
	const char *n = "_sipfederationtls._tcp.partner.test";
	ck_assert(dnscache_put(c, DNSCACHE_SRV, n, srv1, 2, 30, 1000));
	struct dnscache_answer a;
	ck_assert_int_eq(dnscache_lookup(c, DNSCACHE_SRV, n, 1000, &a), DNSCACHE_HIT);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_ptr_null(a.addrs);
	ck_assert_str_eq(a.srv[1].target, "sip2.partner.test");
	ck_assert_int_eq(a.srv[1].port, 5062);
	ck_assert_int_eq(a.srv[1].priority, 20);
	ck_assert_int_eq(a.srv[0].weight, 50);
	ck_assert_int_eq(a.expires, 1030);

	struct sockaddr_storage v[2] = { addr4("192.0.2.1"), addr4("192.0.2.2") };
	ck_assert(dnscache_put(c, DNSCACHE_ADDR, "sip.partner.test", v, 2, 30, 1000));
	ck_assert_int_eq(dnscache_lookup(c, DNSCACHE_ADDR, "sip.partner.test", 1001, &a),
			 DNSCACHE_HIT);
	ck_assert_ptr_null(a.srv);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_mem_eq(&a.addrs[1], &v[1], sizeof v[1]);
}
END_TEST

START_TEST(expiry_at_the_exact_second)
{
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "a.test", srv1, 1, 30, 100));
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 129), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 130), DNSCACHE_EXPIRED);
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 130), DNSCACHE_MISS);
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, "a.test", srv1, 1, 0, 100));
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, "a.test", srv1, 1, -5, 100));
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 100), DNSCACHE_MISS);
}
END_TEST

START_TEST(ttl_capped_by_max_ttl)
{
	struct dnscache_answer a;
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "a.test", srv1, 1, 86400, 1000));
	ck_assert_int_eq(dnscache_lookup(c, DNSCACHE_SRV, "a.test", 1000, &a), DNSCACHE_HIT);
	ck_assert_int_eq(a.expires, 1300);
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 1299), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 1300), DNSCACHE_EXPIRED);

	struct dnscache *off = dnscache_new(8, 0, 60);
	ck_assert(!dnscache_put(off, DNSCACHE_SRV, "a.test", srv1, 1, 86400, 1000));
	ck_assert(dnscache_put_negative(off, DNSCACHE_SRV, "b.test", 1000));
	dnscache_free(off);
}
END_TEST

START_TEST(negative_entries_live_negative_ttl)
{
	struct dnscache_answer a;
	ck_assert(dnscache_put_negative(c, DNSCACHE_SRV, "nx.test", 500));
	ck_assert_int_eq(dnscache_lookup(c, DNSCACHE_SRV, "nx.test", 559, &a),
			 DNSCACHE_NEGATIVE);
	ck_assert_uint_eq(a.n, 0);
	ck_assert_ptr_null(a.srv);
	ck_assert_int_eq(a.expires, 560);
	ck_assert_int_eq(look(DNSCACHE_SRV, "nx.test", 560), DNSCACHE_EXPIRED);

	/* a positive answer replaces a negative one and vice versa */
	ck_assert(dnscache_put_negative(c, DNSCACHE_SRV, "nx.test", 600));
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "nx.test", srv1, 1, 10, 601));
	ck_assert_int_eq(look(DNSCACHE_SRV, "nx.test", 602), DNSCACHE_HIT);
	ck_assert(dnscache_put_negative(c, DNSCACHE_SRV, "nx.test", 603));
	ck_assert_int_eq(look(DNSCACHE_SRV, "nx.test", 604), DNSCACHE_NEGATIVE);

	struct dnscache *off = dnscache_new(8, 300, 0);
	ck_assert(!dnscache_put_negative(off, DNSCACHE_SRV, "nx.test", 500));
	dnscache_free(off);
}
END_TEST

START_TEST(keys_ignore_case_and_trailing_dot)
{
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "Partner.TEST.", srv1, 1, 30, 0));
	ck_assert_int_eq(look(DNSCACHE_SRV, "partner.test", 1), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "PARTNER.test.", 1), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "partner.tes", 1), DNSCACHE_MISS);
	ck_assert_int_eq(look(DNSCACHE_SRV, "xpartner.test", 1), DNSCACHE_MISS);
}
END_TEST

START_TEST(types_are_separate)
{
	struct sockaddr_storage v = addr4("192.0.2.9");
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "both.test", srv1, 1, 30, 0));
	ck_assert_int_eq(look(DNSCACHE_ADDR, "both.test", 1), DNSCACHE_MISS);
	ck_assert(dnscache_put_negative(c, DNSCACHE_ADDR, "both.test", 0));
	ck_assert_int_eq(look(DNSCACHE_SRV, "both.test", 1), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_ADDR, "both.test", 1), DNSCACHE_NEGATIVE);
	ck_assert(dnscache_put(c, DNSCACHE_ADDR, "both.test", &v, 1, 30, 0));
	ck_assert_int_eq(look(DNSCACHE_ADDR, "both.test", 1), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "both.test", 1), DNSCACHE_HIT);
}
END_TEST

START_TEST(refuses_what_it_cannot_key_or_hold)
{
	char longname[300];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, longname, srv1, 1, 30, 0));
	ck_assert_int_eq(look(DNSCACHE_SRV, longname, 0), DNSCACHE_MISS);
	longname[255] = '.';            /* 255 characters plus the root dot */
	longname[256] = '\0';
	ck_assert(dnscache_put(c, DNSCACHE_SRV, longname, srv1, 1, 30, 0));
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, "", srv1, 1, 30, 0));
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, ".", srv1, 1, 30, 0));
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, "a.test", srv1, 0, 30, 0));
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, "a.test", NULL, 1, 30, 0));
	static struct dns_srv many[DNSCACHE_MAX_RECORDS + 1];
	ck_assert(!dnscache_put(c, DNSCACHE_SRV, "a.test", many,
				DNSCACHE_MAX_RECORDS + 1, 30, 0));
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "a.test", many,
			       DNSCACHE_MAX_RECORDS, 30, 0));
}
END_TEST

START_TEST(evicts_least_recently_used_at_the_bound)
{
	char name[32];
	for (int i = 0; i < 8; i++) {
		snprintf(name, sizeof name, "n%d.test", i);
		ck_assert(dnscache_put(c, DNSCACHE_SRV, name, srv1, 1, 30, 0));
	}
	ck_assert_int_eq(look(DNSCACHE_SRV, "n0.test", 1), DNSCACHE_HIT);
	ck_assert(dnscache_put_negative(c, DNSCACHE_SRV, "n8.test", 1));
	ck_assert_int_eq(look(DNSCACHE_SRV, "n1.test", 1), DNSCACHE_MISS);
	ck_assert_int_eq(look(DNSCACHE_SRV, "n0.test", 1), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "n8.test", 1), DNSCACHE_NEGATIVE);
	/* replacing an entry takes no second slot: one new name evicts
	 * exactly one, the least recently used (n3) */
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "n2.test", srv1, 2, 30, 1));
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "n9.test", srv1, 1, 30, 1));
	ck_assert_int_eq(look(DNSCACHE_SRV, "n3.test", 1), DNSCACHE_MISS);
	for (int i = 4; i <= 9; i++) {
		snprintf(name, sizeof name, "n%d.test", i);
		ck_assert_int_eq(look(DNSCACHE_SRV, name, 1),
				 i == 8 ? DNSCACHE_NEGATIVE : DNSCACHE_HIT);
	}
	ck_assert_int_eq(look(DNSCACHE_SRV, "n2.test", 1), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "n0.test", 1), DNSCACHE_HIT);
}
END_TEST

START_TEST(bound_holds_under_churn)
{
	struct dnscache *big = dnscache_new(DNSCACHE_DEFAULT_SIZE, 300, 60);
	char name[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof name, "h%d.test", i);
		ck_assert(dnscache_put_negative(big, DNSCACHE_ADDR, name, 0));
	}
	struct dnscache_answer a;
	size_t kept = 0;
	for (int i = 0; i < 10000; i++) {
		snprintf(name, sizeof name, "h%d.test", i);
		kept += dnscache_lookup(big, DNSCACHE_ADDR, name, 1, &a) == DNSCACHE_NEGATIVE;
	}
	ck_assert_uint_eq(kept, DNSCACHE_DEFAULT_SIZE);
	ck_assert_int_eq(dnscache_lookup(big, DNSCACHE_ADDR, "h5903.test", 1, &a),
			 DNSCACHE_MISS);
	ck_assert_int_eq(dnscache_lookup(big, DNSCACHE_ADDR, "h5904.test", 1, &a),
			 DNSCACHE_NEGATIVE);
	ck_assert_int_eq(dnscache_lookup(big, DNSCACHE_ADDR, "h9999.test", 1, &a),
			 DNSCACHE_NEGATIVE);
	dnscache_free(big);
}
END_TEST

/* What one name answers over its life: an expired entry is dropped by
 * the lookup that finds it, so the next one misses. */
START_TEST(lookup_results_over_time)
{
	ck_assert(dnscache_put(c, DNSCACHE_SRV, "a.test", srv1, 1, 10, 0));
	ck_assert(dnscache_put_negative(c, DNSCACHE_SRV, "nx.test", 0));
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 1), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 2), DNSCACHE_HIT);
	ck_assert_int_eq(look(DNSCACHE_SRV, "nx.test", 3), DNSCACHE_NEGATIVE);
	ck_assert_int_eq(look(DNSCACHE_SRV, "b.test", 3), DNSCACHE_MISS);
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 10), DNSCACHE_EXPIRED);
	ck_assert_int_eq(look(DNSCACHE_SRV, "a.test", 10), DNSCACHE_MISS);
	ck_assert_int_eq(look(DNSCACHE_SRV, "nx.test", 60), DNSCACHE_EXPIRED);
}
END_TEST

/* A reply to "_s._tcp.a.test SRV" with two answers, TTLs 300 and ttl2. */
static size_t srv_reply(unsigned char *m, uint32_t ttl2)
{
	static const unsigned char head[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
		2, '_', 's', 4, '_', 't', 'c', 'p', 1, 'a', 4, 't', 'e', 's', 't', 0,
		0, 33, 0, 1,
	};
	size_t n = sizeof head;
	memcpy(m, head, n);
	for (int i = 0; i < 2; i++) {
		uint32_t ttl = i ? ttl2 : 300;
		const unsigned char rr[] = {
			0xc0, 12, 0, 33, 0, 1,
			ttl >> 24, ttl >> 16 & 0xff, ttl >> 8 & 0xff, ttl & 0xff,
			0, 12, 0, 10, 0, 50, 0x13, 0xc5,
			3, 's', 'i', 'p', 0xc0, 20,
		};
		memcpy(m + n, rr, sizeof rr);
		n += sizeof rr;
	}
	return n;
}

/* Exact-size heap copies, so that any read past the end is a valgrind error. */
static int ttl_of(const unsigned char *m, size_t len)
{
	unsigned char *copy = malloc(len ? len : 1);
	memcpy(copy, m, len);
	int ttl = dnscache_answer_ttl(copy, len);
	free(copy);
	return ttl;
}

START_TEST(answer_ttl_is_the_smallest)
{
	unsigned char m[512];
	size_t n = srv_reply(m, 120);
	ck_assert_int_eq(ttl_of(m, n), 120);
	n = srv_reply(m, 7200);
	ck_assert_int_eq(ttl_of(m, n), 300);
	n = srv_reply(m, 0x80000000u);          /* MSB set counts as 0 */
	ck_assert_int_eq(ttl_of(m, n), 0);
	n = srv_reply(m, 120);
	m[7] = 0;                               /* no answers: NODATA */
	ck_assert_int_eq(ttl_of(m, n), 0);
	ck_assert_int_eq(dnscache_answer_ttl(NULL, 0), 0);
}
END_TEST

START_TEST(answer_ttl_never_reads_past_the_end)
{
	unsigned char m[512];
	size_t n = srv_reply(m, 120);
	for (size_t len = 0; len < n; len++)
		ck_assert_msg(ttl_of(m, len) == 0, "truncated at %zu", len);

	n = srv_reply(m, 120);
	m[5] = 0xff;                            /* 255 questions */
	ck_assert_int_eq(ttl_of(m, n), 0);
	n = srv_reply(m, 120);
	m[7] = 0xff;                            /* 255 answers */
	ck_assert_int_eq(ttl_of(m, n), 0);
	n = srv_reply(m, 120);
	m[32 + 10] = 0xff;                      /* first rdlength runs off */
	ck_assert_int_eq(ttl_of(m, n), 0);
	n = srv_reply(m, 120);
	m[12] = 0x40;                           /* extended label type */
	ck_assert_int_eq(ttl_of(m, n), 0);
	n = srv_reply(m, 120);
	m[12] = 63;                             /* label longer than the rest */
	ck_assert_int_eq(ttl_of(m, 40), 0);
	/* every byte garbage, every length: bounded and quiet */
	srand(1);
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)rand() % 80;
		for (size_t i = 0; i < len; i++)
			m[i] = (unsigned char)rand();
		if (len > 7)
			m[4] = 0, m[6] = 0;     /* keep counts small sometimes */
		(void)ttl_of(m, len);
	}
}
END_TEST

/* An operator's "dns flush": a domain and the names under it, or all. */
START_TEST(flush_by_domain_or_all)
{
	static const struct { const char *name; bool srv; bool gone; } rows[] = {
		{ "_sipfederationtls._tcp.partner.test", true, true },
		{ "sip.partner.test", false, true },
		{ "Partner.Test.", false, true },          /* the domain itself */
		{ "notpartner.test", false, false },       /* a suffix, not a label */
		{ "partner.test.example", false, false },
		{ "_sipfederationtls._tcp.other.test", true, false },
	};
	struct sockaddr_storage a = addr4("192.0.2.7");
	size_t n = sizeof rows / sizeof rows[0];
	for (size_t i = 0; i < n; i++)
		ck_assert(rows[i].srv
			  ? dnscache_put(c, DNSCACHE_SRV, rows[i].name, srv1, 2, 100, 1000)
			  : dnscache_put(c, DNSCACHE_ADDR, rows[i].name, &a, 1, 100, 1000));
	ck_assert_uint_eq(dnscache_flush(c, "PARTNER.test."), 3);
	struct dnscache_answer out;
	for (size_t i = 0; i < n; i++)
		ck_assert_msg((dnscache_lookup(c, rows[i].srv ? DNSCACHE_SRV : DNSCACHE_ADDR,
					      rows[i].name, 1001, &out) == DNSCACHE_MISS) ==
			      rows[i].gone, "row %zu (%s)", i, rows[i].name);
	ck_assert_uint_eq(dnscache_flush(c, ""), 0);       /* not a name */
	ck_assert_uint_eq(dnscache_flush(c, NULL), 3);
	ck_assert_uint_eq(dnscache_flush(c, NULL), 0);
	/* still usable after */
	ck_assert(dnscache_put(c, DNSCACHE_ADDR, "sip.partner.test", &a, 1, 100, 1000));
	ck_assert_int_eq(dnscache_lookup(c, DNSCACHE_ADDR, "sip.partner.test", 1001, &out),
			 DNSCACHE_HIT);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dnscache");
	TCase *tc = tcase_create("dnscache");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, positive_answer_kept_as_given);
	tcase_add_test(tc, expiry_at_the_exact_second);
	tcase_add_test(tc, ttl_capped_by_max_ttl);
	tcase_add_test(tc, negative_entries_live_negative_ttl);
	tcase_add_test(tc, keys_ignore_case_and_trailing_dot);
	tcase_add_test(tc, types_are_separate);
	tcase_add_test(tc, refuses_what_it_cannot_key_or_hold);
	tcase_add_test(tc, evicts_least_recently_used_at_the_bound);
	tcase_add_test(tc, bound_holds_under_churn);
	tcase_add_test(tc, lookup_results_over_time);
	tcase_add_test(tc, answer_ttl_is_the_smallest);
	tcase_add_test(tc, answer_ttl_never_reads_past_the_end);
	tcase_add_test(tc, flush_by_domain_or_all);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
