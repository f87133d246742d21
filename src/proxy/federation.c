/* federation.c - identities, verdict cache, SRV lookups, rate caps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sofia-sip/sip_extra.h>

#include "net/conn.h"
#include "core/diag.h"
#include "net/dns.h"
#include "proxy/edge.h"
#include "proxy/federation.h"
#include "util/log.h"
#include "core/policy.h"
#include "core/rate.h"
#include "proxy/reject.h"
#include "core/share.h"
#include "core/sipmsg.h"

#define FED_MAX_IDENTITIES 4     /* P-Asserted-Identity entries checked */
#define FED_MAX_DOMAINS (2 + FED_MAX_IDENTITIES)   /* + From and Referred-By */
#define FED_DOMAIN_MAX 128

struct fed_job {
	struct edge *edge;
	uint64_t conn_id;
	msg_t *msg;
	int arg;
	fed_resume_fn resume;
	char domain[FED_MAX_DOMAINS][FED_DOMAIN_MAX];
	size_t n, next;
	/* SRV answer for domain[next], once it arrived */
	enum srv_state srv;
	char targets[DNS_MAX_SRV][256];
	size_t ntargets;
	char share[SHARE_KEY_MAX + 8];  /* the peer's DNS share it holds, "" = none */
};

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* From, every P-Asserted-Identity and Referred-By, deduplicated. Only
 * sip: and sips: identities can be proven; anything else, or more
 * identities than we check, refuses the request (never skip one
 * unchecked). */
static const char *identities(sip_t const *sip, struct fed_job *job)
{
	url_t const *urls[FED_MAX_DOMAINS];
	size_t nu = 0;
	urls[nu++] = sip->sip_from->a_url;
	sip_referred_by_t const *rb = sip_referred_by(sip);
	if (rb)
		urls[nu++] = rb->b_url;
	size_t npai = 0;
	for (sip_p_asserted_identity_t const *p = sip_p_asserted_identity(sip);
	     p; p = p->paid_next) {
		if (npai++ == FED_MAX_IDENTITIES)
			return "too_many_identities";
		urls[nu++] = p->paid_url;
	}
	job->n = 0;
	for (size_t i = 0; i < nu; i++) {
		if (urls[i]->url_type != url_sip && urls[i]->url_type != url_sips)
			return "identity_not_sip";
		char d[FED_DOMAIN_MAX];
		sipmsg_host(urls[i], d, sizeof d);
		bool seen = false;
		for (size_t k = 0; k < job->n; k++)
			seen |= strcmp(job->domain[k], d) == 0;
		if (!seen)     /* nu <= FED_MAX_DOMAINS: always room */
			memcpy(job->domain[job->n++], d, sizeof d);
	}
	return NULL;
}

/* What a peer proved for one claimed domain, kept for the connection's
 * life so the steady state costs no DNS or X.509 work per message. */
struct verdict {
	char domain[128];
	bool accepted;
	short status;                      /* response when refused */
	short code;                        /* ms-diagnostics code when refused */
	const char *reason;                /* static log slug */
	int rate;                          /* requests/s cap, 0 = none */
	char rate_key[160];                /* what the cap counts: the allowed
					    * entry or the proven identity */
};
#define CONN_MAX_VERDICTS 8

struct conn_owner *conn_owner_get(struct conn *c)
{
	if (!c->owner)
		c->owner = calloc(1, sizeof *c->owner);
	return c->owner;
}

void federation_forget(struct conn *c)
{
	if (!c->owner)
		return;
	free(c->owner->verdicts);
	c->owner->verdicts = NULL;
	c->owner->nverdicts = 0;
}

void conn_owner_free(struct conn *c)
{
	federation_forget(c);
	free(c->owner);
	c->owner = NULL;
}

size_t federation_verdicts(const struct conn *c, char *buf, size_t len)
{
	const struct conn_owner *o = c->owner;
	size_t at = 0;
	if (len)
		buf[0] = '\0';
	for (unsigned i = 0; o && i < o->nverdicts && at < len; i++) {
		const struct verdict *v = &o->verdicts[i];
		int n = snprintf(buf + at, len - at, "%s%s:%s", at ? "," : "", v->domain,
				 v->accepted ? "accepted" : v->reason ? v->reason : "refused");
		if (n < 0 || (size_t)n >= len - at) {
			buf[at] = '\0';      /* whole entries only */
			break;
		}
		at += (size_t)n;
	}
	return o ? o->nverdicts : 0;
}

bool federation_proved(const struct conn *c, const char *domain)
{
	const struct conn_owner *o = c->owner;
	for (unsigned i = 0; o && i < o->nverdicts; i++)
		if (o->verdicts[i].accepted && policy_under(o->verdicts[i].domain, domain))
			return true;
	return false;
}

static struct verdict *verdict_find(struct conn *c, const char *d)
{
	struct conn_owner *o = c->owner;
	for (unsigned i = 0; o && i < o->nverdicts; i++)
		if (strcmp(o->verdicts[i].domain, d) == 0)
			return &o->verdicts[i];
	return NULL;
}

static void verdict_store(struct conn *c, const char *d, const struct policy_out *o)
{
	if (strlen(d) >= FED_DOMAIN_MAX || (o->action == POLICY_REJECT && o->status >= 500))
		return;         /* a DNS failure is not a verdict on the peer */
	struct conn_owner *co = conn_owner_get(c);
	if (!co || (!co->verdicts &&
		    !(co->verdicts = calloc(CONN_MAX_VERDICTS, sizeof *co->verdicts))))
		return;
	/* Full: the oldest goes; a peer claiming many domains just pays again. */
	if (co->nverdicts == CONN_MAX_VERDICTS) {
		memmove(co->verdicts, co->verdicts + 1,
			(CONN_MAX_VERDICTS - 1) * sizeof *co->verdicts);
		co->nverdicts--;
	}
	struct verdict *v = &co->verdicts[co->nverdicts++];
	snprintf(v->domain, sizeof v->domain, "%s", d);
	v->accepted = o->action == POLICY_ACCEPT;
	v->status = (short)o->status;
	v->code = (short)o->code;
	v->reason = o->reason;
	v->rate = o->entry ? o->entry->rate
			   : c->edge->conf->limits.rate_per_discovered_domain;
	/* One bucket per allowed entry (a suffix entry covers every
	 * subdomain a peer may invent) or per certificate identity that
	 * proved a discovered domain, never per claimed string. */
	if (o->entry)
		snprintf(v->rate_key, sizeof v->rate_key, "allowed:%.140s", o->entry->domain);
	else
		snprintf(v->rate_key, sizeof v->rate_key, "proven:%.140s",
			 o->proved_by ? o->proved_by : d);
}

static void refuse(struct conn *c, msg_t *msg, const char *domain, int status,
		   int code, const char *reason, const char *srv_targets)
{
	const struct conf *cf = c->edge->conf;
	char hdrs[1024];
	bool backlog = strcmp(reason, "dns_backlog") == 0;
	if (code)
		diag_headers(hdrs, sizeof hdrs, cf->federation.diagnostics,
			     cf->edge.fqdn, (enum diag_code)code, NULL, false);
	else   /* a rate clears within a second; a DNS backlog takes longer */
		snprintf(hdrs, sizeof hdrs, "Retry-After: %d\r\n", backlog ? 5 : 1);
	/* A DNS backlog refusal comes in floods (a peer claiming domains
	 * whose DNS never answers): logged once a second, with the count of
	 * the others. Each rate_limited refusal stays one line (sipedge(8)).
	 * An ACK refused here is logged like any request. */
	reject(c, msg, &(struct rejection){ .event = EV_INBOUND_REJECTED,
		.reason = reason, .status = status, .ms_code = code, .domain = domain,
		.srv_targets = srv_targets, .hdrs = hdrs, .flood = backlog,
		.log_acks = true });
}

static void on_srv(void *arg, enum dns_status st, const struct dns_srv *srv,
		   size_t n);

/* Take a place in the DNS backlog for job (its peer's share, then the
 * edge-wide cap); NULL when taken, else the limit that refused. */
static const char *dns_backlog(struct conn *c, struct fed_job *job)
{
	struct edge *e = c->edge;
	const struct conf *cf = e->conf;
	if (e->fed_pending + e->out_pending >= (unsigned)cf->limits.max_dns_pending)
		return "dns_pending";
	if (!job->share[0]) {
		char key[SHARE_KEY_MAX];
		snprintf(job->share, sizeof job->share, "dns|%s",
			 conn_peer_key(c, key, sizeof key));
		if (!shares_take(e->shares, job->share,
				 (unsigned)cf->limits.max_dns_pending_per_peer)) {
			job->share[0] = '\0';
			return "max_dns_pending_per_peer";
		}
	}
	return NULL;
}

static void job_free(struct fed_job *job)
{
	if (job->share[0])
		shares_release(job->edge->shares, job->share);
	free(job);
}

/* Decide domain after domain; stops at the first refusal or lookup. */
static enum fed_result run(struct conn *c, struct fed_job *job)
{
	struct edge *e = c->edge;
	for (; job->next < job->n; job->next++, job->srv = SRV_UNKNOWN) {
		const char *d = job->domain[job->next];
		struct verdict *v = verdict_find(c, d);
		if (v && !v->accepted) {
			refuse(c, job->msg, d, v->status, v->code, v->reason, NULL);
			return FED_REFUSED;
		}
		if (v)
			continue;
		const char *tp[DNS_MAX_SRV];
		for (size_t i = 0; i < job->ntargets; i++)
			tp[i] = job->targets[i];
		struct policy_in in = { .domain = d, .cert = &c->names, .srv = job->srv,
					.srv_targets = tp, .nsrv = job->ntargets };
		struct policy_out out;
		policy_inbound(e->conf, &in, &out);
		if (out.action == POLICY_LOOKUP_SRV) {
			/* Only a request that needs a lookup counts against the
			 * backlog: the peer's share first, then the edge's. */
			char name[300];
			snprintf(name, sizeof name, "%s.%s", e->conf->dns.srv_service, d);
			const char *limit = dns_srv_cached(e->dns, name) ? NULL
				: dns_backlog(c, job);
			if (limit) {
				char key[SHARE_KEY_MAX];
				log_limit_reached(limit, conn_peer_key(c, key, sizeof key));
				refuse(c, job->msg, d, 503, 0, "dns_backlog", NULL);
				return FED_REFUSED;
			}
			e->fed_pending++;
			dns_srv(e->dns, name, on_srv, job);
			return FED_PENDING;
		}
		verdict_store(c, d, &out);
		if (out.action == POLICY_REJECT) {
			char list[1024] = "";
			for (size_t i = 0, off = 0; i < job->ntargets && off < sizeof list; i++)
				off += (size_t)snprintf(list + off, sizeof list - off, "%s%s",
							i ? "," : "", job->targets[i]);
			refuse(c, job->msg, d, out.status, (int)out.code, out.reason,
			       job->srv == SRV_UNKNOWN ? NULL : list);
			return FED_REFUSED;
		}
		job->ntargets = 0;
	}
	/* Proven; now the request rate each cap is held to, once per
	 * request even when several identities share a cap. */
	const char *counted[FED_MAX_DOMAINS];
	size_t ncounted = 0;
	for (size_t i = 0; i < job->n; i++) {
		struct verdict *v = verdict_find(c, job->domain[i]);
		bool seen = false;
		for (size_t k = 0; v && k < ncounted; k++)
			seen |= strcasecmp(counted[k], v->rate_key) == 0;
		if (!v || seen)
			continue;
		counted[ncounted++] = v->rate_key;
		if (!rate_allow(e->rates, v->rate_key, v->rate, now_ms())) {
			refuse(c, job->msg, v->domain, 503, 0, "rate_limited", NULL);
			return FED_REFUSED;
		}
	}
	return FED_PASS;
}

static void on_srv(void *arg, enum dns_status st, const struct dns_srv *srv,
		   size_t n)
{
	struct fed_job *job = arg;
	struct edge *e = job->edge;
	e->fed_pending--;
	struct conn *c = conn_by_id(e->net, job->conn_id);
	if (!c || c->state == CONN_CLOSED) {
		msg_destroy(job->msg);     /* the peer is gone: nobody to answer */
		job_free(job);
		return;
	}
	job->srv = st == DNS_OK ? SRV_FOUND : st == DNS_NOTFOUND ? SRV_NONE : SRV_FAILED;
	job->ntargets = 0;
	for (size_t i = 0; st == DNS_OK && i < n && i < DNS_MAX_SRV; i++)
		snprintf(job->targets[job->ntargets++], sizeof job->targets[0], "%s",
			 srv[i].target);
	enum fed_result r = run(c, job);
	if (r == FED_PENDING)
		return;
	if (r == FED_PASS)
		job->resume(c, job->msg, job->arg);
	job_free(job);
}

enum fed_result federation_inbound(struct conn *c, msg_t *msg, int arg,
				   fed_resume_fn resume)
{
	struct edge *e = c->edge;
	/* Not zeroed: the name arrays (several KB) are written before they
	 * are read, and clearing them was a tenth of a message's cost. */
	struct fed_job *job = malloc(sizeof *job);
	if (!job) {
		refuse(c, msg, NULL, 503, 0, "out_of_memory", NULL);
		return FED_REFUSED;
	}
	job->edge = e;
	job->conn_id = c->id;
	job->msg = msg;
	job->arg = arg;
	job->resume = resume;
	job->n = job->next = job->ntargets = 0;
	job->srv = SRV_UNKNOWN;
	job->share[0] = '\0';
	enum fed_result r;
	const char *bad = identities(sip_object(msg), job);
	if (bad) {
		refuse(c, msg, NULL, 403, DIAG_NOT_FEDERATED, bad, NULL);
		r = FED_REFUSED;
	} else {
		r = run(c, job);
	}
	if (r != FED_PENDING)
		job_free(job);
	return r;
}
