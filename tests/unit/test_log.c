/* test_log.c - journal field names of event keys (log_journal_field), and
 * the entries log_event() hands the journal's sender (a fake here). */
#include <check.h>
#include "unit.h"
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>

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

/* The fake journal: the last entry, one "NAME=value" string per field. */
static char got[LOG_JOURNAL_FIELDS_MAX][2048];
static int ngot, fake_rc;

static int fake_send(const struct iovec *iov, int n)
{
	ngot = n;
	for (int i = 0; i < n && i < LOG_JOURNAL_FIELDS_MAX; i++) {
		size_t len = iov[i].iov_len < sizeof got[i] - 1 ? iov[i].iov_len : sizeof got[i] - 1;
		memcpy(got[i], iov[i].iov_base, len);
		got[i][len] = '\0';
	}
	return fake_rc;
}

static const char *field(const char *name)
{
	size_t n = strlen(name);
	for (int i = 0; i < ngot; i++)
		if (strncmp(got[i], name, n) == 0 && got[i][n] == '=')
			return got[i] + n + 1;
	return NULL;
}

START_TEST(journal_entry)
{
	log_open("sipedge-test", LOG_LOCAL3, LOG_DEBUG, false);
	log_set_journal(fake_send);
	log_event(LOG_NOTICE, "inbound_rejected", LOG_STR("reason", "domain_not_federated"),
		  LOG_INT("code", 1027), LOG_INT("status", 403),
		  LOG_STR("domain", "partner.example"), LOG_STR("detail", "a \"quoted\" = value"),
		  LOG_STR("peer", NULL), LOG_COUNT("suppressed", 0), LOG_STR("message", "m"),
		  LOG_CONN(7), LOG_TXN(0));
	ck_assert_str_eq(field("EVENT"), "inbound_rejected");
	ck_assert_str_eq(field("REASON"), "domain_not_federated");
	ck_assert_str_eq(field("CODE"), "1027");
	ck_assert_str_eq(field("STATUS"), "403");
	ck_assert_str_eq(field("DOMAIN"), "partner.example");
	ck_assert_str_eq(field("DETAIL"), "a \"quoted\" = value");   /* unquoted */
	ck_assert_str_eq(field("SE_MESSAGE"), "m");
	ck_assert_str_eq(field("CONN"), "c7");
	ck_assert_ptr_null(field("PEER"));                      /* left out, as in the line */
	ck_assert_ptr_null(field("SUPPRESSED"));
	ck_assert_ptr_null(field("TXN"));
	ck_assert_str_eq(field("MESSAGE"), "event=inbound_rejected reason=domain_not_federated "
			 "code=1027 status=403 domain=partner.example "
			 "detail=\"a \\\"quoted\\\" = value\" message=m conn=c7");
	ck_assert_str_eq(field("PRIORITY"), "5");
	ck_assert_str_eq(field("SYSLOG_FACILITY"), "19");
	ck_assert_str_eq(field("SYSLOG_IDENTIFIER"), "sipedge-test");

	log_msg(LOG_ERR, "plain %d", 1);                        /* not an event */
	ck_assert_int_eq(ngot, 4);
	ck_assert_str_eq(field("MESSAGE"), "plain 1");
	ck_assert_str_eq(field("PRIORITY"), "3");

	log_set_level(LOG_INFO);                                /* below the level: nothing */
	ngot = 0;
	log_event(LOG_DEBUG, "ack_absorbed", LOG_CONN(1));
	ck_assert_int_eq(ngot, 0);
	log_set_journal(NULL);
	log_event(LOG_NOTICE, "startup", LOG_STR("version", "x"));
	ck_assert_int_eq(ngot, 0);                              /* syslog */
}
END_TEST

START_TEST(journal_bounds)
{
	static char big[5000];
	static const struct log_kv *kv[80];
	static struct log_kv pair[79];
	memset(big, 'v', sizeof big - 1);
	log_open("sipedge-test", LOG_DAEMON, LOG_DEBUG, false);
	log_set_journal(fake_send);
	log_event(LOG_NOTICE, "startup", LOG_STR("detail", big));
	ck_assert_uint_eq(strlen(field("DETAIL")), LOG_JOURNAL_VALUE_MAX);
	/* Many pairs: the entry is bounded, MESSAGE and the rest still there. */
	for (size_t i = 0; i < 79; i++) {
		pair[i] = (struct log_kv){ .key = "k", .kind = LOG_K_STR, .s = "v" };
		kv[i] = &pair[i];
	}
	kv[79] = LOG_END;
	log_event_kv(LOG_NOTICE, "startup", kv);
	ck_assert_int_le(ngot, LOG_JOURNAL_FIELDS_MAX);
	ck_assert_ptr_nonnull(field("EVENT"));
	ck_assert_ptr_nonnull(field("K"));
	ck_assert_ptr_nonnull(field("MESSAGE"));
	ck_assert_str_eq(field("PRIORITY"), "5");
	ck_assert_str_eq(field("SYSLOG_IDENTIFIER"), "sipedge-test");
	/* Long values fill the buffer first: the fixed fields still fit. */
	for (size_t i = 0; i < 79; i++)
		pair[i].s = big;
	log_event_kv(LOG_NOTICE, "startup", kv);
	ck_assert_ptr_nonnull(field("MESSAGE"));
	ck_assert_str_eq(field("SYSLOG_IDENTIFIER"), "sipedge-test");
	fake_rc = -1;                                           /* refused: syslog, no crash */
	log_event(LOG_NOTICE, "startup", LOG_STR("version", "x"));
	fake_rc = 0;
	log_set_journal(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("log");
	TCase *tc = tcase_create("journal");
	tcase_add_test(tc, field_names);
	tcase_add_test(tc, field_bounds);
	tcase_add_test(tc, journal_entry);
	tcase_add_test(tc, journal_bounds);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
