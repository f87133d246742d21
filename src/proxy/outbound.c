/* outbound.c - outbound policy and next-hop selection for node requests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/rand.h>

#include "net/conn.h"
#include "core/diag.h"
#include "net/dns.h"
#include "proxy/edge.h"
#include "util/log.h"
#include "proxy/outbound.h"
#include "core/policy.h"
#include "proxy/proxy.h"
#include "core/route.h"
#include "core/share.h"
#include "core/sipmsg.h"
#include "proxy/txn.h"


struct out_job {
	struct edge *edge;
	uint64_t conn_id;
	msg_t *msg;
	char domain[256];
	char share[SHARE_KEY_MAX];    /* "dns|to:DOMAIN" share held, "" = none */
};

static void job_free(struct out_job *job)
{
	if (job->share[0])
		shares_release(job->edge->shares, job->share);
	free(job);
}

/* Refuse with the complete attributes the node's administrator needs. */
static void refuse(struct conn *c, msg_t *msg, int status, const char *reason,
		   enum diag_code code, const char *domain,
		   const struct dns_srv *srv, size_t n)
{
	char fq[4][300];
	struct diag_attrs a = { .domain = domain };
	for (size_t i = 0; i < n && i < 4; i++) {
		snprintf(fq[i], sizeof fq[i], "%s:%d", srv[i].target, srv[i].port);
		a.fqdn[i] = fq[i];
	}
	proxy_refuse_diag(c, msg, status, "outbound_failed", reason, code, &a);
}

static unsigned uniform(void *arg, unsigned limit)
{
	(void)arg;
	uint32_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof r);
	return limit ? (unsigned)(r % ((uint64_t)limit + 1)) : 0;
}

static void route_by_srv(struct conn *c, msg_t *msg, const char *domain,
			 enum dns_status st, const struct dns_srv *srv, size_t n)
{
	const struct conf *cf = c->edge->conf;
	if (st == DNS_FAILED) {
		refuse(c, msg, 504, "dns_failed", DIAG_NO_SRV, domain, NULL, 0);
		return;
	}
	if (st != DNS_OK || n == 0) {
		refuse(c, msg, 504, "no_srv_record", DIAG_NO_SRV, domain, NULL, 0);
		return;
	}
	struct dns_srv counted[DNS_MAX_SRV];
	size_t k = 0;
	for (size_t i = 0; i < n && i < DNS_MAX_SRV; i++)
		if (policy_srv_target_counts(cf->federation.srv_match, srv[i].target, domain))
			counted[k++] = srv[i];
	if (k == 0) {
		refuse(c, msg, 504, "srv_not_in_domain", DIAG_SRV_NOT_IN_DOMAIN,
		       domain, srv, n);
		return;
	}
	size_t order[DNS_MAX_SRV];
	route_srv_order(counted, k, uniform, NULL, order);
	struct txn_target tg[TXN_MAX_TARGETS];
	size_t nt = 0;
	for (; nt < k && nt < TXN_MAX_TARGETS; nt++) {
		snprintf(tg[nt].host, sizeof tg[nt].host, "%s", counted[order[nt]].target);
		tg[nt].port = counted[order[nt]].port;
	}
	proxy_forward(c, msg, ZONE_EXTERNAL, c->node, tg, nt);
}

static void on_srv(void *arg, enum dns_status st, const struct dns_srv *srv,
		   size_t n)
{
	struct out_job *job = arg;
	job->edge->out_pending--;
	struct conn *c = conn_by_id(job->edge->net, job->conn_id);
	if (c && c->state != CONN_CLOSED)
		route_by_srv(c, job->msg, job->domain, st, srv, n);
	else
		msg_destroy(job->msg);     /* the node is gone: nobody to answer */
	job_free(job);
}

void outbound_route(struct conn *c, msg_t *msg, bool in_dialog)
{
	struct edge *e = c->edge;
	const struct conf *cf = e->conf;
	char domain[256];
	sipmsg_host(sip_object(msg)->sip_request->rq_url, domain, sizeof domain);

	if (conf_is_local_domain(cf, domain) || strcasecmp(domain, cf->edge.fqdn) == 0) {
		refuse(c, msg, 403, "local_domain", DIAG_NOT_LOCAL, domain, NULL, 0);
		return;
	}
	if (!in_dialog && policy_blocked(cf, domain)) {
		refuse(c, msg, 403, "domain_blocked", DIAG_NOT_FEDERATED, domain, NULL, 0);
		return;
	}
	const struct conf_allowed *entry = policy_allowed(cf, domain);
	if (!in_dialog && !entry && !cf->federation.discovery) {
		refuse(c, msg, 403, "domain_not_federated", DIAG_NOT_FEDERATED, domain, NULL, 0);
		return;
	}
	struct txn_target tg[TXN_MAX_TARGETS];
	const struct conf_static_route *r[TXN_MAX_TARGETS];
	size_t n = route_static(cf, domain, r, TXN_MAX_TARGETS);
	for (size_t i = 0; i < n; i++) {
		snprintf(tg[i].host, sizeof tg[i].host, "%s", r[i]->next_hop);
		tg[i].port = r[i]->port;
	}
	if (n == 0 && entry && entry->peer) {
		snprintf(tg[0].host, sizeof tg[0].host, "%s", entry->peer);
		tg[0].port = entry->port;
		n = 1;
	}
	if (n > 0) {
		proxy_forward(c, msg, ZONE_EXTERNAL, c->node, tg, n);
		return;
	}
	char name[300], share[SHARE_KEY_MAX];
	snprintf(name, sizeof name, "%s.%s", cf->dns.srv_service, domain);
	snprintf(share, sizeof share, "dns|to:%.140s", domain);
	/* A lookup answered from the cache takes no place in the backlog;
	 * the others count against the domain's share (a domain whose DNS
	 * never answers holds only its own), then the edge's. */
	bool cached = dns_srv_cached(e->dns, name);
	const char *limit = cached ? NULL
		: e->fed_pending + e->out_pending >= (unsigned)cf->limits.max_dns_pending
		? "dns_pending"
		: !shares_take(e->shares, share, (unsigned)cf->limits.max_dns_pending_per_peer)
		? "max_dns_pending_per_peer" : NULL;
	struct out_job *job = limit ? NULL : calloc(1, sizeof *job);
	if (!job) {
		if (!limit)
			shares_release(e->shares, cached ? NULL : share);
		log_limit_reached(limit ? limit : "out_of_memory", share + 4);
		proxy_refuse_text(c, msg, 503, "outbound_failed", "dns_backlog",
				  "too many requests waiting for DNS");
		return;
	}
	*job = (struct out_job){ .edge = e, .conn_id = c->id, .msg = msg };
	snprintf(job->domain, sizeof job->domain, "%s", domain);
	if (!cached)
		snprintf(job->share, sizeof job->share, "%s", share);
	e->out_pending++;
	dns_srv(e->dns, name, on_srv, job);
}
