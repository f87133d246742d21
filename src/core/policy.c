/* policy.c - blocked, allowed, then proof of identity (SPEC section 4). */
#include <string.h>
#include <strings.h>

#include "core/policy.h"

/* Length without one trailing dot: DNS names may carry it or not. */
static size_t name_len(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && s[n - 1] == '.' ? n - 1 : n;
}

bool policy_under(const char *domain, const char *suffix)
{
	size_t d = name_len(domain), s = name_len(suffix);
	if (s == 0 || d < s || strncasecmp(domain + d - s, suffix, s) != 0)
		return false;
	return d == s || domain[d - s - 1] == '.';
}

bool policy_blocked(const struct conf *c, const char *domain)
{
	for (size_t i = 0; i < c->federation.nblocked; i++)
		if (policy_under(domain, c->federation.blocked[i]))
			return true;
	return false;
}

const struct conf_allowed *policy_allowed(const struct conf *c, const char *domain)
{
	const struct conf_allowed *best = NULL;
	for (size_t i = 0; i < c->federation.nallowed; i++) {
		const struct conf_allowed *a = &c->federation.allowed[i];
		if (policy_under(domain, a->domain) &&
		    (!best || name_len(a->domain) > name_len(best->domain)))
			best = a;
	}
	return best;
}

/* RFC-less but Microsoft's rule: the SRV target must be <label>.<domain>,
 * so that sip.sub.domain or a host in another domain proves nothing. */
bool policy_srv_target_counts(enum srv_match m, const char *target,
			      const char *domain)
{
	if (m == SRV_MATCH_NONE)
		return true;
	size_t t = name_len(target), d = name_len(domain);
	if (d == 0 || t < d + 2 || target[t - d - 1] != '.' ||
	    strncasecmp(target + t - d, domain, d) != 0)
		return false;
	const char *dot = memchr(target, '.', t - d - 1);
	return dot == NULL;
}

static void reject(struct policy_out *out, int status, enum diag_code code,
		   const char *reason)
{
	out->action = POLICY_REJECT;
	out->status = status;
	out->code = code;
	out->reason = reason;
}

void policy_inbound(const struct conf *c, const struct policy_in *in,
		    struct policy_out *out)
{
	memset(out, 0, sizeof *out);
	bool wild = c->tls.external.accept_wildcards;
	if (!in->domain || !*in->domain) {
		reject(out, 403, DIAG_NOT_FEDERATED, "domain_not_federated");
		return;
	}
	if (policy_blocked(c, in->domain)) {
		reject(out, 403, DIAG_NOT_FEDERATED, "domain_blocked");
		return;
	}
	out->entry = policy_allowed(c, in->domain);
	if (!out->entry && !c->federation.discovery) {
		reject(out, 403, DIAG_NOT_FEDERATED, "domain_not_federated");
		return;
	}
	if (out->entry && out->entry->peer) {
		/* A fixed partner edge: its certificate is the whole proof. */
		if (certnames_match(in->cert, out->entry->peer, wild)) {
			out->action = POLICY_ACCEPT;
			out->proved_by = out->entry->peer;
		} else {
			reject(out, 403, DIAG_CERT_NAME, "certificate_not_peer");
		}
		return;
	}
	if (in->srv == SRV_UNKNOWN) {
		out->action = POLICY_LOOKUP_SRV;
		return;
	}
	if (in->srv == SRV_FAILED) {
		reject(out, 504, DIAG_NO_SRV, "dns_failed");
		return;
	}
	if (in->srv == SRV_NONE) {
		reject(out, 403, DIAG_NO_SRV, "no_srv_record");
		return;
	}
	bool counted = false;
	for (size_t i = 0; i < in->nsrv; i++) {
		if (!policy_srv_target_counts(c->federation.srv_match,
					      in->srv_targets[i], in->domain))
			continue;
		counted = true;
		if (certnames_match(in->cert, in->srv_targets[i], wild)) {
			out->action = POLICY_ACCEPT;
			out->proved_by = in->srv_targets[i];
			return;
		}
	}
	if (in->nsrv == 0)
		reject(out, 403, DIAG_NO_SRV, "no_srv_record");
	else if (!counted)
		reject(out, 403, DIAG_SRV_NOT_IN_DOMAIN, "srv_not_in_domain");
	else
		reject(out, 403, DIAG_CERT_NAME, "certificate_mismatch");
}
