/* nexthop.c - outbound policy and configured next hops (pure). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/nexthop.h"
#include "core/policy.h"
#include "core/route.h"

static void refuse(struct nexthop *d, const char *reason, enum diag_code code)
{
	d->verdict = NEXTHOP_REFUSE;
	d->status = 403;
	d->reason = reason;
	d->code = code;
}

void nexthop_outbound(const struct conf *cf, const char *domain, bool in_dialog,
		      struct nexthop *d)
{
	memset(d, 0, sizeof *d);
	if (conf_is_local_domain(cf, domain) || strcasecmp(domain, cf->edge.fqdn) == 0) {
		refuse(d, "local_domain", DIAG_NOT_LOCAL);
		return;
	}
	if (!in_dialog && policy_blocked(cf, domain)) {
		refuse(d, "domain_blocked", DIAG_NOT_FEDERATED);
		return;
	}
	const struct conf_allowed *entry = policy_allowed(cf, domain);
	if (!in_dialog && !entry && !cf->federation.discovery) {
		refuse(d, "domain_not_federated", DIAG_NOT_FEDERATED);
		return;
	}
	const struct conf_static_route *r[NEXTHOP_MAX];
	d->n = route_static(cf, domain, r, NEXTHOP_MAX);
	for (size_t i = 0; i < d->n; i++) {
		snprintf(d->hop[i].host, sizeof d->hop[i].host, "%s", r[i]->next_hop);
		d->hop[i].port = r[i]->port;
	}
	if (d->n == 0 && entry && entry->peer) {
		snprintf(d->hop[0].host, sizeof d->hop[0].host, "%s", entry->peer);
		d->hop[0].port = entry->port;
		d->n = 1;
	}
	d->verdict = d->n > 0 ? NEXTHOP_GO : NEXTHOP_SRV;
}
