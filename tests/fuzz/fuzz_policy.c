/* fuzz_policy.c - libFuzzer harness (issue 7 (b)): the inbound federation
 * decision with fuzzed identities, certificate names and SRV answers.
 *
 * Input: one flags byte, then fields separated by '\n':
 *   0      the From identity    (a From header value, or a bare domain)
 *   1      a P-Asserted-Identity (likewise)
 *   2..5   certificate names    (with X.509 on: first byte U = SAN URI,
 *                                D = SAN DNS, C = subject CN; else DNS)
 *   6..9   SRV targets of the domain
 * flags: bit 0 discovery, 1 accept_wildcards, 2 srv_match = none,
 *        3-4 SRV state (unknown, found, none, failed),
 *        5 certificate built as X.509 and read with certnames_from_x509(),
 *        6 identities parsed as headers (else used as domains as they are).
 *
 * policy_inbound() runs against a fixed configuration for every identity
 * domain, as federation.c does. Its answer, policy_srv_target_counts(),
 * certnames_match(), certnames_from_x509() and certnames_join() are
 * compared with a reference written from SPEC section 4 and RFC 5922
 * (tag "policy", "srv-match", "certname", "x509-names", "join").
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/x509v3.h>
#include <sofia-sip/su_alloc.h>

#include "core/certname.h"
#include "core/policy.h"
#include "core/sipmsg.h"
#include "fuzz_common.h"

#define NFIELDS 10
#define DOMAIN_MAX 128          /* federation.c keeps identity hosts this long */

static struct conf_allowed allowed[] = {
	{ .domain = "partner.test", .peer = "sip.partner.test", .port = 5061 },
	{ .domain = "srv.test" },
	{ .domain = "sub.srv.test", .rate = 10 },
	{ .domain = "Example.ORG." },
	{ .domain = "fixed.sub.srv.test", .peer = "edge.fixed.test", .port = 5061 },
};
static char *blocked[] = { "bad.test", "evil.srv.test", "Spam.Example." };
static struct conf cf;

/* ------------------------------------------------------------ reference */

static char lc(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* lower-case copy without one trailing dot */
static void norm(const char *s, size_t n, char *out, size_t outlen)
{
	if (n > 0 && s[n - 1] == '.')
		n--;
	if (n >= outlen)
		n = outlen - 1;
	for (size_t i = 0; i < n; i++)
		out[i] = lc(s[i]);
	out[n] = '\0';
}

static bool ends_with_label(const char *d, const char *s)
{
	size_t dl = strlen(d), sl = strlen(s);
	if (sl == 0 || dl < sl || strcmp(d + dl - sl, s) != 0)
		return false;
	return dl == sl || d[dl - sl - 1] == '.';
}

static bool ref_under(const char *domain, const char *suffix)
{
	char d[1024], s[1024];
	norm(domain, strlen(domain), d, sizeof d);
	norm(suffix, strlen(suffix), s, sizeof s);
	return ends_with_label(d, s);
}

/* target is <one label>.<domain> (or any target with srv_match none) */
static bool ref_counts(enum srv_match m, const char *target, const char *domain)
{
	if (m == SRV_MATCH_NONE)
		return true;
	char t[1024], d[1024];
	norm(target, strlen(target), t, sizeof t);
	norm(domain, strlen(domain), d, sizeof d);
	size_t tl = strlen(t), dl = strlen(d);
	if (dl == 0 || tl < dl + 2 || strcmp(t + tl - dl, d) != 0 || t[tl - dl - 1] != '.')
		return false;
	return memchr(t, '.', tl - dl - 1) == NULL;
}

static bool ref_match(const struct certnames *cn, const char *host, bool wild)
{
	char h[1024];
	norm(host, strlen(host), h, sizeof h);
	if (!*h || strchr(h, '*'))
		return false;
	const char *dot = strchr(h, '.');
	for (size_t i = 0; i < cn->n; i++) {
		/* names are stored normalized (one trailing dot already off) */
		char n[1024];
		snprintf(n, sizeof n, "%s", cn->name[i]);
		for (char *q = n; *q; q++)
			*q = lc(*q);
		if (strchr(n, '*')) {
			if (wild && n[0] == '*' && n[1] == '.' && n[2] &&
			    dot && dot != h && strcmp(dot + 1, n + 2) == 0)
				return true;
		} else if (strcmp(n, h) == 0) {
			return true;
		}
	}
	return false;
}

/* The diagnostics code of SPEC section 4's table, by log reason. */
static enum diag_code ref_code(const char *reason)
{
	if (!strcmp(reason, "domain_not_federated") || !strcmp(reason, "domain_blocked"))
		return DIAG_NOT_FEDERATED;
	if (!strcmp(reason, "dns_failed") || !strcmp(reason, "no_srv_record"))
		return DIAG_NO_SRV;
	if (!strcmp(reason, "srv_not_in_domain"))
		return DIAG_SRV_NOT_IN_DOMAIN;
	return DIAG_CERT_NAME;
}

static void ref_decide(const struct conf *c, const struct policy_in *in,
		       struct policy_out *out);

static void ref_policy(const struct conf *c, const struct policy_in *in,
		       struct policy_out *out)
{
	ref_decide(c, in, out);
	if (out->action == POLICY_REJECT)
		out->code = ref_code(out->reason);
}

static void ref_decide(const struct conf *c, const struct policy_in *in,
		       struct policy_out *out)
{
	memset(out, 0, sizeof *out);
	out->action = POLICY_REJECT;
	out->status = 403;
	if (!in->domain || !*in->domain) {
		out->reason = "domain_not_federated";
		return;
	}
	for (size_t i = 0; i < c->federation.nblocked; i++)
		if (ref_under(in->domain, c->federation.blocked[i])) {
			out->reason = "domain_blocked";
			return;
		}
	size_t best = 0;
	for (size_t i = 0; i < c->federation.nallowed; i++) {
		char s[1024];
		norm(c->federation.allowed[i].domain, strlen(c->federation.allowed[i].domain),
		     s, sizeof s);
		if (ref_under(in->domain, s) && strlen(s) > best) {
			best = strlen(s);
			out->entry = &c->federation.allowed[i];
		}
	}
	if (!out->entry && !c->federation.discovery) {
		out->reason = "domain_not_federated";
		return;
	}
	bool wild = c->tls.external.accept_wildcards;
	if (out->entry && out->entry->peer) {
		if (ref_match(in->cert, out->entry->peer, wild)) {
			out->action = POLICY_ACCEPT;
			out->status = 0;
			out->proved_by = out->entry->peer;
		} else {
			out->reason = "certificate_not_peer";
		}
		return;
	}
	switch (in->srv) {
	case SRV_UNKNOWN:
		out->action = POLICY_LOOKUP_SRV;
		out->status = 0;
		return;
	case SRV_FAILED:
		out->status = 504;
		out->reason = "dns_failed";
		return;
	case SRV_NONE:
		out->reason = "no_srv_record";
		return;
	case SRV_FOUND:
		break;
	}
	bool counted = false;
	for (size_t i = 0; i < in->nsrv; i++) {
		if (!ref_counts(c->federation.srv_match, in->srv_targets[i], in->domain))
			continue;
		counted = true;
		if (ref_match(in->cert, in->srv_targets[i], wild)) {
			out->action = POLICY_ACCEPT;
			out->status = 0;
			out->proved_by = in->srv_targets[i];
			return;
		}
	}
	out->reason = in->nsrv == 0 ? "no_srv_record"
		: !counted ? "srv_not_in_domain" : "certificate_mismatch";
}

static const char *act(enum policy_action a)
{
	return a == POLICY_ACCEPT ? "accept" : a == POLICY_REJECT ? "reject" : "lookup";
}

static void check_policy(const struct policy_in *in)
{
	struct policy_out got, want;
	policy_inbound(&cf, in, &got);
	ref_policy(&cf, in, &want);
	bool same = got.action == want.action && got.entry == want.entry &&
		    got.proved_by == want.proved_by;
	if (same && got.action == POLICY_REJECT)
		same = got.status == want.status && got.reason && want.reason &&
		       strcmp(got.reason, want.reason) == 0;
	if (same && got.action == POLICY_REJECT)
		same = got.code == want.code;
	if (!same) {
		fprintf(stderr, "domain \"%s\" srv %d nsrv %zu discovery %d wild %d srv_match %d\n",
			in->domain ? in->domain : "(null)", (int)in->srv, in->nsrv,
			cf.federation.discovery, cf.tls.external.accept_wildcards,
			(int)cf.federation.srv_match);
		for (size_t i = 0; in->cert && i < in->cert->n; i++)
			fprintf(stderr, "  cert name \"%s\"\n", in->cert->name[i]);
		for (size_t i = 0; i < in->nsrv; i++)
			fprintf(stderr, "  srv target \"%s\"\n", in->srv_targets[i]);
		finding("policy", "policy_inbound: %s %d %s (entry %s, proved by %s); "
			"reference: %s %d %s (entry %s, proved by %s)",
			act(got.action), got.status, got.reason ? got.reason : "-",
			got.entry ? got.entry->domain : "-", got.proved_by ? got.proved_by : "-",
			act(want.action), want.status, want.reason ? want.reason : "-",
			want.entry ? want.entry->domain : "-",
			want.proved_by ? want.proved_by : "-");
	}
}

/* ------------------------------------------------------------ certificates */

/* Lower-cased, one trailing dot off, non-empty, no duplicates, at most
 * CERTNAME_MAX: what struct certnames holds (certname.c add_name()). */
static void add_ref(struct certnames *cn, const char *s, size_t n)
{
	char buf[1024];
	if (cn->n >= CERTNAME_MAX || memchr(s, '\0', n))
		return;
	norm(s, n, buf, sizeof buf);
	if (!*buf)
		return;
	for (size_t i = 0; i < cn->n; i++)
		if (strcmp(cn->name[i], buf) == 0)
			return;
	cn->name[cn->n++] = strdup(buf);
}

/* RFC 5922 7.1 as SPEC section 4 puts it: sip:<host> URIs, then DNS names;
 * the CN only without a subjectAltName. */
static void ref_uri(struct certnames *cn, const char *s, size_t n)
{
	if (n < 4 || memchr(s, '\0', n) || strncasecmp(s, "sip:", 4) != 0)
		return;
	s += 4;
	n -= 4;
	if (memchr(s, '@', n))
		return;
	size_t h = 0;
	while (h < n && s[h] != ';' && s[h] != '?')
		h++;
	if (memchr(s, ':', h))
		return;
	add_ref(cn, s, h);
}

struct field {
	const char *p;
	size_t n;
};

static X509 *make_cert(const struct field *f, size_t nf, struct certnames *want)
{
	X509 *x = X509_new();
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	X509_NAME *subj = X509_get_subject_name(x);
	bool have_san = false;
	memset(want, 0, sizeof *want);
	for (size_t i = 0; i < nf; i++) {
		if (!f[i].n)
			continue;
		char kind = f[i].p[0];
		const char *v = f[i].p + (kind == 'U' || kind == 'D' || kind == 'C');
		size_t vn = f[i].n - (kind == 'U' || kind == 'D' || kind == 'C');
		if (kind == 'C') {
			/* ASCII only, so that the UTF-8 conversion keeps the bytes */
			bool ascii = true;
			for (size_t k = 0; k < vn; k++)
				ascii &= (unsigned char)v[k] < 128 && v[k] != '\0';
			if (!ascii || !vn)
				continue;
			X509_NAME_add_entry_by_NID(subj, NID_commonName, MBSTRING_ASC,
						   (const unsigned char *)v, (int)vn, -1, 0);
			continue;
		}
		GENERAL_NAME *gn = GENERAL_NAME_new();
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
		ASN1_STRING_set(ia5, v, (int)vn);
		GENERAL_NAME_set0_value(gn, kind == 'U' ? GEN_URI : GEN_DNS, ia5);
		sk_GENERAL_NAME_push(gens, gn);
		have_san = true;
	}
	if (have_san) {
		X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, 0);
		for (int pass = 0; pass < 2; pass++)
			for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
				const GENERAL_NAME *gn = sk_GENERAL_NAME_value(gens, i);
				const ASN1_STRING *s = gn->d.ia5;
				const char *d = (const char *)ASN1_STRING_get0_data(s);
				size_t n = (size_t)ASN1_STRING_length(s);
				if (pass == 0 && gn->type == GEN_URI)
					ref_uri(want, d, n);
				else if (pass == 1 && gn->type == GEN_DNS && n)
					add_ref(want, d, n);
			}
	} else {
		for (int i = 0; i < X509_NAME_entry_count(subj); i++) {
			const ASN1_STRING *s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
			add_ref(want, (const char *)ASN1_STRING_get0_data(s),
				(size_t)ASN1_STRING_length(s));
		}
	}
	GENERAL_NAMES_free(gens);
	return x;
}

static void check_names(const struct certnames *got, const struct certnames *want)
{
	bool same = got->n == want->n;
	for (size_t i = 0; same && i < got->n; i++)
		same = strcmp(got->name[i], want->name[i]) == 0;
	if (same)
		return;
	for (size_t i = 0; i < got->n; i++)
		fprintf(stderr, "  certnames_from_x509 [%zu] \"%s\"\n", i, got->name[i]);
	for (size_t i = 0; i < want->n; i++)
		fprintf(stderr, "  reference           [%zu] \"%s\"\n", i, want->name[i]);
	finding("x509-names", "certnames_from_x509: %zu names, reference %zu",
		got->n, want->n);
}

static void check_join(const struct certnames *cn)
{
	char full[CERTNAME_MAX * 1100], part[64];
	certnames_join(cn, full, sizeof full);
	for (size_t len = 1; len <= sizeof part; len += 7) {
		certnames_join(cn, part, len);
		if (strlen(part) >= len || strncmp(part, full, strlen(part)) != 0 ||
		    (strlen(full) < len && strcmp(part, full) != 0))
			finding("join", "certnames_join(%zu) = \"%s\", full \"%s\"", len, part, full);
	}
}

/* ------------------------------------------------------------ identities */

/* The host of a From/P-Asserted-Identity value, the way federation.c takes
 * it (sip: and sips: only), or the field itself as a bare domain. */
static bool identity(su_home_t *home, const struct field *f, bool as_header,
		     char *out, size_t outlen)
{
	char raw[2048];
	size_t n = f->n < sizeof raw - 1 ? f->n : sizeof raw - 1;
	memcpy(raw, f->p, n);
	raw[n] = '\0';
	if (!as_header) {
		snprintf(out, outlen, "%s", raw);
		return true;
	}
	sip_from_t *from = sip_from_make(home, raw);
	if (!from ||
	    (from->a_url->url_type != url_sip && from->a_url->url_type != url_sips))
		return false;
	sipmsg_host(from->a_url, out, outlen);
	return true;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	sipmsg_mclass();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t flags = data[0];
	struct field f[NFIELDS] = { { 0 } };
	size_t nf = 0;
	const char *p = (const char *)data + 1, *end = (const char *)data + size;
	while (nf < NFIELDS && p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *e = nl ? nl : end;
		f[nf].p = p;
		f[nf].n = (size_t)(e - p);
		nf++;
		p = e + 1;
	}

	memset(&cf, 0, sizeof cf);
	cf.federation.allowed = allowed;
	cf.federation.nallowed = sizeof allowed / sizeof allowed[0];
	cf.federation.blocked = blocked;
	cf.federation.nblocked = sizeof blocked / sizeof blocked[0];
	cf.federation.discovery = flags & 1;
	cf.tls.external.accept_wildcards = flags & 2;
	cf.federation.srv_match = (flags & 4) ? SRV_MATCH_NONE : SRV_MATCH_EXACT;
	enum srv_state srv = (enum srv_state)((flags >> 3) & 3);

	/* The certificate. */
	struct certnames cn = { .n = 0 };
	if (flags & 32) {
		struct certnames want;
		X509 *x = make_cert(f + 2, 4, &want);
		certnames_from_x509(x, &cn);
		X509_free(x);
		check_names(&cn, &want);
		certnames_free(&want);
	} else {
		for (size_t i = 2; i < 6; i++)
			if (f[i].n)
				add_ref(&cn, f[i].p, f[i].n);
	}
	check_join(&cn);

	/* SRV targets: as the resolver hands them over, NUL-free strings. */
	char tbuf[4][256];
	const char *targets[4];
	size_t nsrv = 0;
	for (size_t i = 6; i < 10; i++) {
		if (!f[i].p || (!f[i].n && i > 6))
			continue;
		size_t n = f[i].n < 255 ? f[i].n : 255;
		memcpy(tbuf[nsrv], f[i].p, n);
		tbuf[nsrv][n] = '\0';
		targets[nsrv] = tbuf[nsrv];
		nsrv++;
	}

	su_home_t *home = su_home_new(sizeof *home);
	char domains[2][DOMAIN_MAX];
	for (int k = 0; k < 2; k++) {
		if (!f[k].p || !identity(home, &f[k], flags & 64, domains[k], sizeof domains[k]))
			continue;
		struct policy_in in = {
			.domain = domains[k], .cert = &cn, .srv = srv,
			.srv_targets = targets, .nsrv = srv == SRV_FOUND ? nsrv : 0,
		};
		check_policy(&in);
		for (size_t i = 0; i < nsrv; i++) {
			for (int m = 0; m < 2; m++) {
				bool got = policy_srv_target_counts((enum srv_match)m, targets[i],
								    domains[k]);
				if (got != ref_counts((enum srv_match)m, targets[i], domains[k]))
					finding("srv-match", "policy_srv_target_counts(%d, \"%s\", "
						"\"%s\") = %d", m, targets[i], domains[k], got);
			}
		}
		for (int w = 0; w < 2; w++)
			if (certnames_match(&cn, domains[k], w) != ref_match(&cn, domains[k], w))
				finding("certname", "certnames_match(\"%s\", wildcards %d) = %d",
					domains[k], w, !ref_match(&cn, domains[k], w));
	}
	for (size_t i = 0; i < nsrv; i++)
		for (int w = 0; w < 2; w++)
			if (certnames_match(&cn, targets[i], w) != ref_match(&cn, targets[i], w))
				finding("certname", "certnames_match(\"%s\", wildcards %d) = %d",
					targets[i], w, !ref_match(&cn, targets[i], w));
	(void)certnames_match(NULL, "x", true);
	(void)certnames_match(&cn, NULL, true);
	su_home_unref(home);
	certnames_free(&cn);
	return 0;
}
