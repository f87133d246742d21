/* The transaction state machine's transition table (txn_state_legal). */
#include <check.h>
#include "unit.h"

#include "proxy/txn.h"

#define T TXN_TRYING
#define P TXN_PROCEEDING
#define C TXN_COMPLETED
#define O TXN_TIMED_OUT
#define X TXN_TERMINATED

/* Every (from, to) pair and whether today's proxy makes that move. */
static const struct {
	enum txn_state from, to;
	bool legal;
	const char *why;
} cases[] = {
	{ T, P, true, "a provisional" },
	{ T, C, true, "an INVITE final without provisional" },
	{ T, O, true, "Timer C before any provisional" },
	{ T, X, true, "non-INVITE final, failure, timeout, refused share" },
	{ T, T, false, "a change, not a re-entry (txn_enter makes that a no-op)" },
	{ P, T, true, "next target after the connection failed" },
	{ P, C, true, "an INVITE final" },
	{ P, O, true, "Timer C while ringing" },
	{ P, X, true, "non-INVITE final" },
	{ P, P, false, "no change" },
	{ C, X, true, "linger over" },
	{ C, C, false, "a further 2xx re-enters (a no-op), no change" },
	{ C, T, false, "a completed txn is not resent" },
	{ C, P, false, "a late provisional changes nothing" },
	{ C, O, false, "Timer C is off once a final came" },
	{ O, X, true, "linger over" },
	{ O, O, false, "no change" },
	{ O, C, true, "a 2xx after Timer C is relayed (RFC 3261 16.7); a 487 is only ACKed" },
	{ O, T, false, "no resend after Timer C" },
	{ O, P, false, "no provisional after Timer C" },
	{ X, T, false, "terminated is final" },
	{ X, P, false, "terminated is final" },
	{ X, C, false, "terminated is final" },
	{ X, O, false, "terminated is final" },
	{ X, X, false, "terminated is final" },
};

START_TEST(transition_table)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		ck_assert_msg(txn_state_legal(cases[i].from, cases[i].to) == cases[i].legal,
			      "%s -> %s: %s", txn_state_name(cases[i].from),
			      txn_state_name(cases[i].to), cases[i].why);
}
END_TEST

START_TEST(every_pair_covered_and_out_of_range_refused)
{
	bool seen[TXN_NSTATES][TXN_NSTATES] = { { false } };
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		seen[cases[i].from][cases[i].to] = true;
	for (int f = 0; f < TXN_NSTATES; f++)
		for (int t = 0; t < TXN_NSTATES; t++)
			ck_assert_msg(seen[f][t], "pair %d -> %d has no case", f, t);
	ck_assert(!txn_state_legal(TXN_NSTATES, TXN_TERMINATED));
	ck_assert(!txn_state_legal(TXN_TRYING, TXN_NSTATES));
	ck_assert_str_eq(txn_state_name(TXN_NSTATES), "invalid");
	ck_assert_str_eq(txn_state_name(TXN_TIMED_OUT), "timed_out");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("txn_state");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, transition_table);
	tcase_add_test(tc, every_pair_covered_and_out_of_range_refused);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
