/* Per-domain token buckets with an explicit clock. */
#include <check.h>
#include "unit.h"
#include <stdlib.h>

#include "rate.h"

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

START_TEST(collision_resets)
{
	struct rate_table *t = rate_table_new(1);         /* every domain collides */
	ck_assert_int_eq(burst(t, "a.test", 3, 0, 5), 3);
	ck_assert_int_eq(burst(t, "b.test", 3, 0, 5), 3);  /* evicted a.test */
	ck_assert_int_eq(burst(t, "a.test", 3, 0, 5), 3);  /* fresh bucket again */
	rate_table_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("rate");
	TCase *tc = tcase_create("rate");
	tcase_add_test(tc, cap_and_refill);
	tcase_add_test(tc, unlimited_and_independent);
	tcase_add_test(tc, collision_resets);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
