/* test_log.c - journal field names of event keys (log_journal_field). */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <string.h>

#include "util/log.h"

START_TEST(field_names)
{
	static const struct { const char *key, *want; } t[] = {
		{ "domain", "DOMAIN" },
		{ "peer", "PEER" },
		{ "code", "CODE" },
		{ "call_id", "CALL_ID" },
		{ "srv_targets", "SRV_TARGETS" },
		{ "Mixed_Case9", "MIXED_CASE9" },
		{ "cert-names", "CERT_NAMES" },         /* other bytes: '_' */
		{ "a.b c=d", "A_B_C_D" },
		{ "caf\xc3\xa9", "CAF__" },             /* UTF-8 byte by byte */
		{ "_pid", "SE__PID" },                  /* '_': trusted fields */
		{ "9lives", "SE_9LIVES" },              /* no leading digit */
		{ "message", "SE_MESSAGE" },            /* the journal's own */
		{ "priority", "SE_PRIORITY" },
		{ "syslog_identifier", "SE_SYSLOG_IDENTIFIER" },
		{ "event", "SE_EVENT" },                /* ours: the event name */
		{ "messages", "MESSAGES" },
		{ "", "" },
	};
	char out[LOG_JOURNAL_NAME_MAX + 1];
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
		size_t n = log_journal_field(t[i].key, out, sizeof out);
		ck_assert_msg(strcmp(out, t[i].want) == 0, "%s: got %s, want %s",
			      t[i].key, out, t[i].want);
		ck_assert_uint_eq(n, strlen(t[i].want));
	}
	ck_assert_uint_eq(log_journal_field(NULL, out, sizeof out), 0);
}
END_TEST

START_TEST(field_bounds)
{
	char key[200], out[LOG_JOURNAL_NAME_MAX + 1], small[8];
	memset(key, 'k', sizeof key - 1);
	key[sizeof key - 1] = '\0';
	ck_assert_uint_eq(log_journal_field(key, out, sizeof out), LOG_JOURNAL_NAME_MAX);
	ck_assert_uint_eq(strlen(out), LOG_JOURNAL_NAME_MAX);
	key[0] = '_';   /* prefixed, still within the bound */
	ck_assert_uint_eq(log_journal_field(key, out, sizeof out), LOG_JOURNAL_NAME_MAX);
	ck_assert(strncmp(out, "SE__KKK", 7) == 0);
	/* A short buffer cuts the name, never overruns. */
	ck_assert_uint_eq(log_journal_field("domain_name", small, sizeof small), 7);
	ck_assert_str_eq(small, "DOMAIN_");
	ck_assert_uint_eq(log_journal_field("message", small, sizeof small), 0);
	ck_assert_str_eq(small, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("journal");
	tcase_add_test(tc, field_names);
	tcase_add_test(tc, field_bounds);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
