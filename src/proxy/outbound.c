/* outbound.c - the outbound stage: configured next hops (core/nexthop.c)
 * or the domain's SRV targets, as a decision for the pipeline. */
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
#include "core/nexthop.h"
#include "core/policy.h"
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
	outbound_done_fn *done;
};

static void job_free(struct out_job *job)
{
	if (job->share[0])
		shares_release(job->edge->shares, job->share);
	free(job);
}

/* A refusal with the complete attributes the node's administrator needs. */
static void refuse(struct outbound_decision *d, int status, const char *reason,
		   enum diag_code code, const struct dns_srv *srv, size_t n)
{
	d->status = status;
	d->reason = reason;
	d->code = code;
	for (d->nfq = 0; d->nfq < n && d->nfq < 4; d->nfq++)
		snprintf(d->fq[d->nfq], sizeof d->fq[d->nfq], "%s:%d",
			 srv[d->nfq].target, srv[d->nfq].port);
}

static unsigned uniform(void *arg, unsigned limit)
{
	(void)arg;
	uint32_t r = 0;
	RAND_bytes((unsigned char *)&r, sizeof r);
	return limit ? (unsigned)(r % ((uint64_t)limit + 1)) : 0;
}

static void route_by_srv(const struct conf *cf, struct outbound_decision *d,
			 enum dns_status st, const struct dns_srv *srv, size_t n)
{
	if (st == DNS_FAILED) {
		refuse(d, 504, "dns_failed", DIAG_NO_SRV, NULL, 0);
		return;
	}
	if (st != DNS_OK || n == 0) {
		refuse(d, 504, "no_srv_record", DIAG_NO_SRV, NULL, 0);
		return;
	}
	struct dns_srv counted[DNS_MAX_SRV];
	size_t k = 0;
	for (size_t i = 0; i < n && i < DNS_MAX_SRV; i++)
		if (policy_srv_target_counts(cf->federation.srv_match, srv[i].target,
					     d->domain))
			counted[k++] = srv[i];
	if (k == 0) {
		refuse(d, 504, "srv_not_in_domain", DIAG_SRV_NOT_IN_DOMAIN, srv, n);
		return;
	}
	size_t order[DNS_MAX_SRV];
	route_srv_order(counted, k, uniform, NULL, order);
	struct txn_target *tg = d->tg;
	size_t nt = 0;
	for (; nt < k && nt < TXN_MAX_TARGETS; nt++) {
		snprintf(tg[nt].host, sizeof tg[nt].host, "%s", counted[order[nt]].target);
		tg[nt].port = counted[order[nt]].port;
	}
	d->ntargets = nt;
}

static void on_srv(void *arg, enum dns_status st, const struct dns_srv *srv,
		   size_t n)
{
	struct out_job *job = arg;
	job->edge->out_pending--;
	struct conn *c = conn_by_id(job->edge->net, job->conn_id);
	if (c && c->state != CONN_CLOSED) {
		struct outbound_decision d = { .status = 0 };
		snprintf(d.domain, sizeof d.domain, "%s", job->domain);
		route_by_srv(c->edge->conf, &d, st, srv, n);
		job->done(c, job->msg, &d);
	} else
		msg_destroy(job->msg);     /* the node is gone: nobody to answer */
	job_free(job);
}

_Static_assert(NEXTHOP_MAX == TXN_MAX_TARGETS, "one bound for next hops");

/* The SRV lookup, unless the backlog or the domain's share is full. */
static void lookup_srv(struct conn *c, msg_t *msg, struct outbound_decision *d,
		       outbound_done_fn *done);

void outbound_route(struct conn *c, msg_t *msg, bool in_dialog,
		    outbound_done_fn *done)
{
	struct outbound_decision d = { .status = 0 };
	struct nexthop h;
	sipmsg_host(sip_object(msg)->sip_request->rq_url, d.domain, sizeof d.domain);
	nexthop_outbound(c->edge->conf, d.domain, in_dialog, &h);
	if (h.verdict == NEXTHOP_SRV) {
		lookup_srv(c, msg, &d, done);
		return;
	}
	if (h.verdict == NEXTHOP_REFUSE) {
		refuse(&d, h.status, h.reason, h.code, NULL, 0);
	} else {
		for (d.ntargets = 0; d.ntargets < h.n; d.ntargets++) {
			snprintf(d.tg[d.ntargets].host, sizeof d.tg[d.ntargets].host, "%s",
				 h.hop[d.ntargets].host);
			d.tg[d.ntargets].port = h.hop[d.ntargets].port;
		}
	}
	done(c, msg, &d);
}

static void lookup_srv(struct conn *c, msg_t *msg, struct outbound_decision *d,
		       outbound_done_fn *done)
{
	struct edge *e = c->edge;
	const struct conf *cf = e->conf;
	const char *domain = d->domain;
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
		d->status = 503;
		d->reason = "dns_backlog";
		d->text = "too many requests waiting for DNS";
		done(c, msg, d);
		return;
	}
	*job = (struct out_job){ .edge = e, .conn_id = c->id, .msg = msg, .done = done };
	snprintf(job->domain, sizeof job->domain, "%s", domain);
	if (!cached)
		snprintf(job->share, sizeof job->share, "%s", share);
	e->out_pending++;
	dns_srv(e->dns, name, on_srv, job);
}
