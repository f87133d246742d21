/* Per-peer shares: take up to the cap, give back, forget at zero. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <string.h>

#include "core/share.h"

START_TEST(cap_and_release)
{
	struct shares *s = shares_new();
	ck_assert(shares_take(s, "cert:a.test", 2));
	ck_assert(shares_take(s, "CERT:A.test", 2));          /* same peer */
	ck_assert(!shares_take(s, "cert:a.test", 2));
	ck_assert(shares_take(s, "cert:b.test", 2));          /* others unaffected */
	ck_assert_uint_eq(shares_held(s, "cert:a.test"), 2);
	shares_release(s, "cert:a.test");
	ck_assert(shares_take(s, "cert:a.test", 2));
	shares_release(s, "cert:a.test");
	shares_release(s, "cert:a.test");
	shares_release(s, "cert:b.test");
	ck_assert_uint_eq(shares_keys(s), 0);                 /* forgotten at zero */
	shares_release(s, "cert:never.test");                 /* ignored */
	shares_free(s);
}
END_TEST

/* A name longer than the key room still meets its own entry on release
 * and is held to its cap (a long certificate name must not escape). */
START_TEST(long_keys)
{
	struct shares *s = shares_new();
	char k[400];
	memset(k, 'a', sizeof k - 1);
	k[sizeof k - 1] = '\0';
	memcpy(k, "invite|cert:", 12);
	ck_assert(shares_take(s, k, 2));
	ck_assert(shares_take(s, k, 2));
	ck_assert(!shares_take(s, k, 2));
	shares_release(s, k);
	shares_release(s, k);
	ck_assert_uint_eq(shares_keys(s), 0);
	shares_free(s);
}
END_TEST

START_TEST(many_peers)
{
	struct shares *s = shares_new();
	char k[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "net:10.0.%d.%d", i / 250, i % 250);
		ck_assert(shares_take(s, k, 1));
		ck_assert(!shares_take(s, k, 1));
	}
	ck_assert_uint_eq(shares_keys(s), 5000);
	for (int i = 0; i < 5000; i++) {
		snprintf(k, sizeof k, "net:10.0.%d.%d", i / 250, i % 250);
		shares_release(s, k);
	}
	ck_assert_uint_eq(shares_keys(s), 0);
	shares_free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("share");
	TCase *tc = tcase_create("share");
	tcase_add_test(tc, cap_and_release);
	tcase_add_test(tc, long_keys);
	tcase_add_test(tc, many_peers);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
