/* The inbound federation decision, one table row per branch. */
#include <check.h>
#include "unit.h"
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"

static struct conf_allowed allowed[] = {
	{ .domain = "partner.test" },
	{ .domain = "lync.test", .peer = "sip.lync.test", .port = 5061 },
	{ .domain = "sub.partner.test", .peer = "edge.sub.partner.test", .port = 5061 },
	{ .domain = "busy.test", .rate = 200 },
};
static char *blocked[] = { "spam.example" };
static struct conf cf;

static void setup(void)
{
	memset(&cf, 0, sizeof cf);
	cf.federation.allowed = allowed;
	cf.federation.nallowed = sizeof allowed / sizeof allowed[0];
	cf.federation.blocked = blocked;
	cf.federation.nblocked = 1;
	cf.federation.srv_match = SRV_MATCH_EXACT;
}

static struct certnames names(const char *a, const char *b)
{
	struct certnames cn = { .n = 0 };
	if (a) cn.name[cn.n++] = (char *)a;
	if (b) cn.name[cn.n++] = (char *)b;
	return cn;
}

struct row {
	const char *what;
	bool discovery, wildcards, srv_none_mode;
	const char *domain;
	const char *cert1, *cert2;
	enum srv_state srv;
	const char *t1, *t2;
	enum policy_action action;
	int status;
	enum diag_code code;
	const char *reason;
	const char *proved_by;
	const char *entry;              /* expected allowed entry domain, or NULL */
};

static const struct row rows[] = {
	{ "blocked exact", .domain = "spam.example", .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_NOT_FEDERATED, .reason = "domain_blocked" },
	{ "blocked parent", .discovery = true, .domain = "x.spam.example", .action = POLICY_REJECT,
	  .status = 403, .code = DIAG_NOT_FEDERATED, .reason = "domain_blocked" },
	{ "label boundary: notspam.example is not blocked", .domain = "notspam.example",
	  .action = POLICY_REJECT, .status = 403, .code = DIAG_NOT_FEDERATED,
	  .reason = "domain_not_federated" },
	{ "no domain", .domain = NULL, .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_NOT_FEDERATED, .reason = "domain_not_federated" },
	{ "empty domain", .domain = "", .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_NOT_FEDERATED, .reason = "domain_not_federated" },
	{ "not allowed, discovery off", .domain = "other.test", .action = POLICY_REJECT,
	  .status = 403, .code = DIAG_NOT_FEDERATED, .reason = "domain_not_federated" },
	{ "fixed peer proven", .domain = "lync.test", .cert1 = "sip.lync.test",
	  .action = POLICY_ACCEPT, .proved_by = "sip.lync.test", .entry = "lync.test" },
	{ "fixed peer not in certificate", .domain = "lync.test", .cert1 = "sip.partner.test",
	  .srv = SRV_FOUND, .t1 = "sip.lync.test", .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_CERT_NAME, .reason = "certificate_not_peer" },
	{ "longest allowed entry wins", .domain = "a.sub.partner.test",
	  .cert1 = "edge.sub.partner.test", .action = POLICY_ACCEPT,
	  .proved_by = "edge.sub.partner.test", .entry = "sub.partner.test" },
	{ "SRV needed", .domain = "partner.test", .cert1 = "sip.partner.test",
	  .action = POLICY_LOOKUP_SRV, .entry = "partner.test" },
	{ "DNS failed", .domain = "partner.test", .srv = SRV_FAILED, .action = POLICY_REJECT,
	  .status = 504, .code = DIAG_NO_SRV, .reason = "dns_failed" },
	{ "no SRV record", .domain = "partner.test", .srv = SRV_NONE, .action = POLICY_REJECT,
	  .status = 403, .code = DIAG_NO_SRV, .reason = "no_srv_record" },
	{ "SRV answer without targets", .domain = "partner.test", .srv = SRV_FOUND,
	  .action = POLICY_REJECT, .status = 403, .code = DIAG_NO_SRV, .reason = "no_srv_record" },
	{ "SRV target in a subdomain", .domain = "partner.test", .cert1 = "sip.sub.partner.test",
	  .srv = SRV_FOUND, .t1 = "sip.sub.partner.test", .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_SRV_NOT_IN_DOMAIN, .reason = "srv_not_in_domain" },
	{ "SRV target in another domain", .domain = "partner.test", .cert1 = "sip.other.test",
	  .srv = SRV_FOUND, .t1 = "sip.other.test", .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_SRV_NOT_IN_DOMAIN, .reason = "srv_not_in_domain" },
	{ "certificate names another host", .domain = "partner.test", .cert1 = "other.partner.test",
	  .srv = SRV_FOUND, .t1 = "sip.partner.test", .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_CERT_NAME, .reason = "certificate_mismatch" },
	{ "SRV target proven", .domain = "Partner.Test.", .cert1 = "sip.partner.test",
	  .srv = SRV_FOUND, .t1 = "SIP.partner.test.", .action = POLICY_ACCEPT,
	  .proved_by = "SIP.partner.test.", .entry = "partner.test" },
	{ "second target proven, first not in domain", .domain = "partner.test",
	  .cert1 = "sip2.partner.test", .srv = SRV_FOUND, .t1 = "sip.other.test",
	  .t2 = "sip2.partner.test", .action = POLICY_ACCEPT, .proved_by = "sip2.partner.test",
	  .entry = "partner.test" },
	{ "srv_match none accepts another domain", .srv_none_mode = true, .domain = "partner.test",
	  .cert1 = "sip.other.test", .srv = SRV_FOUND, .t1 = "sip.other.test",
	  .action = POLICY_ACCEPT, .proved_by = "sip.other.test", .entry = "partner.test" },
	{ "wildcard certificate refused", .domain = "partner.test", .cert1 = "*.partner.test",
	  .srv = SRV_FOUND, .t1 = "sip.partner.test", .action = POLICY_REJECT, .status = 403,
	  .code = DIAG_CERT_NAME, .reason = "certificate_mismatch" },
	{ "wildcard certificate accepted", .wildcards = true, .domain = "partner.test",
	  .cert1 = "*.partner.test", .srv = SRV_FOUND, .t1 = "sip.partner.test",
	  .action = POLICY_ACCEPT, .proved_by = "sip.partner.test", .entry = "partner.test" },
	{ "discovered domain", .discovery = true, .domain = "open.test", .cert1 = "sip.open.test",
	  .srv = SRV_FOUND, .t1 = "sip.open.test", .action = POLICY_ACCEPT,
	  .proved_by = "sip.open.test" },
};

START_TEST(decision_table)
{
	const struct row *r = &rows[_i];
	cf.federation.discovery = r->discovery;
	cf.tls.external.accept_wildcards = r->wildcards;
	cf.federation.srv_match = r->srv_none_mode ? SRV_MATCH_NONE : SRV_MATCH_EXACT;
	struct certnames cn = names(r->cert1, r->cert2);
	const char *targets[2] = { r->t1, r->t2 };
	struct policy_in in = { .domain = r->domain, .cert = &cn, .srv = r->srv,
				.srv_targets = targets, .nsrv = (r->t1 != NULL) + (r->t2 != NULL) };
	struct policy_out out;
	policy_inbound(&cf, &in, &out);
	ck_assert_msg(out.action == r->action, "%s: action %d", r->what, out.action);
	if (r->action == POLICY_REJECT) {
		ck_assert_msg(out.status == r->status, "%s: status %d", r->what, out.status);
		ck_assert_msg(out.code == r->code, "%s: code %d", r->what, out.code);
		ck_assert_msg(strcmp(out.reason, r->reason) == 0, "%s: %s", r->what, out.reason);
	}
	if (r->proved_by)
		ck_assert_msg(out.proved_by && strcmp(out.proved_by, r->proved_by) == 0,
			      "%s: proved_by %s", r->what, out.proved_by);
	if (r->action == POLICY_ACCEPT || r->action == POLICY_LOOKUP_SRV) {
		if (r->entry)
			ck_assert_msg(out.entry && strcmp(out.entry->domain, r->entry) == 0,
				      "%s: entry", r->what);
		else
			ck_assert_msg(out.entry == NULL, "%s: discovered", r->what);
	}
}
END_TEST

START_TEST(srv_target_rule)
{
	static const struct { const char *t, *d; bool ok; } t[] = {
		{ "sip.partner.test", "partner.test", true },
		{ "sip.partner.test.", "partner.test", true },
		{ "SIP.PARTNER.TEST", "partner.test.", true },
		{ "sip.sub.partner.test", "partner.test", false },
		{ "partner.test", "partner.test", false },
		{ ".partner.test", "partner.test", false },
		{ "sippartner.test", "partner.test", false },
		{ "sip.other.test", "partner.test", false },
		{ "sip.partner.test", "", false },
		{ "sip.partnex.test", "partner.test", false },
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		ck_assert_msg(policy_srv_target_counts(SRV_MATCH_EXACT, t[i].t, t[i].d) == t[i].ok,
			      "%s in %s", t[i].t, t[i].d);
	ck_assert(policy_srv_target_counts(SRV_MATCH_NONE, "sip.other.test", "partner.test"));
}
END_TEST

START_TEST(blocked_and_allowed_lookups)
{
	ck_assert(policy_blocked(&cf, "SPAM.example."));
	ck_assert(!policy_blocked(&cf, "example"));
	ck_assert_ptr_null(policy_allowed(&cf, "test"));
	ck_assert_ptr_null(policy_allowed(&cf, "xpartner.test"));
	ck_assert_str_eq(policy_allowed(&cf, "busy.test")->domain, "busy.test");
	ck_assert_int_eq(policy_allowed(&cf, "busy.test")->rate, 200);

	/* Longest entry wins whatever the order; an empty entry matches nothing. */
	struct conf_allowed rev[] = { { .domain = "sub.partner.test" }, { .domain = "partner.test" } };
	char *empty[] = { "" };
	struct conf c2 = { 0 };
	c2.federation.allowed = rev;
	c2.federation.nallowed = 2;
	c2.federation.blocked = empty;
	c2.federation.nblocked = 1;
	ck_assert_str_eq(policy_allowed(&c2, "a.sub.partner.test")->domain, "sub.partner.test");
	ck_assert(!policy_blocked(&c2, "anything.test"));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("policy");
	TCase *tc = tcase_create("policy");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_add_loop_test(tc, decision_table, 0, sizeof rows / sizeof rows[0]);
	tcase_add_test(tc, srv_target_rule);
	tcase_add_test(tc, blocked_and_allowed_lookups);
	suite_add_tcase(s, tc);
	return unit_run(s);
}
