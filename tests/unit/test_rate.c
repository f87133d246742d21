/* Per-domain token buckets with an explicit clock. */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>

#include "core/rate.h"

static int burst(struct rate_table *t, const char *d, int rate, uint64_t now, int tries)
{
	int ok = 0;
	for (int i = 0; i < tries; i++)
		ok += rate_allow(t, d, rate, now);
	return ok;
}

START_TEST(cap_and_refill)
{
	struct rate_table *t = rate_table_new(64);
	ck_assert_int_eq(burst(t, "open.test", 20, 1000, 25), 20);   /* 25 in one go */
	ck_assert_int_eq(burst(t, "open.test", 20, 1000, 5), 0);
	ck_assert_int_eq(burst(t, "open.test", 20, 1050, 5), 1);     /* 50 ms = 1 token */
	ck_assert_int_eq(burst(t, "open.test", 20, 3000, 50), 20);   /* never above the cap */
	ck_assert_int_eq(burst(t, "OPEN.test", 20, 3000, 1), 0);     /* same domain */
	rate_table_free(t);
}
END_TEST

START_TEST(unlimited_and_independent)
{
	struct rate_table *t = rate_table_new(64);
	ck_assert_int_eq(burst(t, "a.test", 0, 0, 1000), 1000);
	ck_assert_int_eq(burst(t, "b.test", 2, 0, 5), 2);
	ck_assert_int_eq(burst(t, "c.test", 2, 0, 5), 2);
	ck_assert(rate_allow(NULL, "x", 1, 0));
	rate_table_free(t);
}
END_TEST

START_TEST(collision_never_refills)
{
	struct rate_table *t = rate_table_new(1);         /* every key collides */
	ck_assert_int_eq(burst(t, "a.test", 3, 0, 5), 3);
	ck_assert_int_eq(burst(t, "b.test", 3, 0, 5), 0);  /* a.test's bucket is busy */
	ck_assert_int_eq(burst(t, "a.test", 3, 0, 5), 0);  /* and was not reset */
	/* Once a.test has refilled, its bucket may go to another key. */
	ck_assert_int_eq(burst(t, "b.test", 3, 1000, 5), 3);
	ck_assert_int_eq(burst(t, "a.test", 3, 1000, 5), 0);
	rate_table_free(t);
}
END_TEST

START_TEST(many_keys_bounded)
{
	/* 10 000 keys through 64 slots within one second: at most 64 buckets
	 * exist, each key got at most its burst, and a key in use keeps its
	 * state whatever the others do. */
	struct rate_table *t = rate_table_new(64);
	ck_assert_int_eq(burst(t, "victim.test", 2, 0, 2), 2);
	int passed = 0;
	char k[32];
	for (int i = 0; i < 10000; i++) {
		snprintf(k, sizeof k, "k%d.test", i);
		passed += burst(t, k, 2, 10, 3);
	}
	ck_assert_int_le(passed, 64 * 2);
	ck_assert_int_eq(burst(t, "victim.test", 2, 10, 5), 0);
	rate_table_free(t);
}
END_TEST

START_TEST(rate_change_applies)
{
	struct rate_table *t = rate_table_new(16);
	ck_assert_int_eq(burst(t, "x.test", 10, 0, 3), 3);
	ck_assert_int_eq(burst(t, "x.test", 2, 0, 5), 2);   /* lowered: cap 2 now */
	rate_table_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rate");
	TCase *tc = tcase_create("rate");
	tcase_add_test(tc, cap_and_refill);
	tcase_add_test(tc, unlimited_and_independent);
	tcase_add_test(tc, collision_never_refills);
	tcase_add_test(tc, many_keys_bounded);
	tcase_add_test(tc, rate_change_applies);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
