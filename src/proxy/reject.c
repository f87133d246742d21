/* reject.c - log, count and answer a refusal (reject.h). */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_protos.h>

#include "core/certname.h"
#include "core/policy.h"
#include "net/conn.h"
#include "proxy/edge.h"
#include "proxy/partners.h"
#include "proxy/reject.h"
#include "proxy/tap.h"
#include "proxy/respond.h"
#include "proxy/txn.h"
#include "util/counters.h"
#include "util/log.h"

#define REJECT_MAX_KEYS 16

static void log_rejection(const struct conn *c, sip_t const *sip,
			  const struct rejection *r, uint64_t conn_id, uint64_t txn_id)
{
	unsigned dropped = 0;
	const char *ev = event_name(r->event);
	if (r->flood && !log_flood_allow(ev, r->reason, &dropped))
		return;
	/* Every refusal is a notice, whatever else its event logs. */
	bool ack = sip && sip->sip_request && sip->sip_request->rq_method == sip_method_ack;
	int level = ack && !r->log_acks ? LOG_DEBUG : r->level ? r->level : LOG_NOTICE;
	if (r->keys) {
		const struct log_kv *kv[REJECT_MAX_KEYS + 3];
		size_t n = 0;
		for (; r->keys[n] && n < REJECT_MAX_KEYS; n++)
			kv[n] = r->keys[n];
		kv[n++] = LOG_CONN(conn_id);
		kv[n++] = LOG_TXN(txn_id);
		kv[n] = LOG_END;
		log_event_kv(level, ev, kv);
		return;
	}
	char names[512];
	bool show_names = !r->undelivered && c->zone == ZONE_EXTERNAL;
	if (show_names)
		certnames_join(&c->names, names, sizeof names);
	log_event(level, ev, LOG_STR("reason", r->reason),
		  LOG_STR("detail", r->detail),
		  r->ms_code ? LOG_INT("code", r->ms_code) : LOG_STR("code", NULL),
		  LOG_INT("status", r->status), LOG_STR("domain", r->domain),
		  LOG_STR("target", r->target),
		  LOG_STR("peer", r->undelivered ? r->peer_down : c->peer),
		  LOG_STR("cert_names", show_names ? names : NULL),
		  LOG_STR("srv_targets", r->srv_targets),
		  LOG_STR("call_id", respond_call_id(sip)),
		  LOG_STR("method", respond_method(sip)),
		  LOG_COUNT("suppressed", dropped),
		  LOG_CONN(conn_id), LOG_TXN(txn_id));
}

/* Is name (a certificate name, "*." stripped) domain or under it? */
static bool cert_under(const char *name, const char *domain)
{
	return policy_under(strncmp(name, "*.", 2) == 0 ? name + 2 : name, domain);
}

/* What a refusal counts under in sipedge-ctl partners: the domain a node
 * asked for, or one the partner's certificate names; a domain a partner
 * only claims counts under "unproven:" and its certificate's first name,
 * so one partner cannot fill the table with other organisations' names. */
static const char *partner_of(const struct conn *c, const char *domain,
			      char *buf, size_t len)
{
	if (c->zone != ZONE_EXTERNAL)
		return domain;
	for (size_t i = 0; i < c->names.n; i++)
		if (cert_under(c->names.name[i], domain))
			return domain;
	if (!c->names.n)
		return NULL;
	snprintf(buf, len, "unproven:%s", c->names.name[0]);
	return buf;
}

/* A forwarded request not delivered: answered upstream from its txn. */
static void reject_txn(const struct rejection *r)
{
	struct txn *t = r->txn;
	if (!r->logged)
		log_rejection(NULL, sip_object(t->fwd), r, t->up_conn, t->id);
	TAP(t->edge, .kind = TAP_DECISION, .msg = t->fwd, .verdict = "undelivered",
	    .status = r->status, .reason = r->count_as ? r->count_as : r->reason,
	    .domain = r->domain, .txn = t->id);
	respond_txn(t, r->status, r->hdrs);
}

void reject(struct conn *c, msg_t *msg, const struct rejection *r)
{
	if (r->txn) {
		reject_txn(r);
		return;
	}
	sip_t const *sip = sip_object(msg);
	if (!r->logged)
		log_rejection(c, sip, r, c->id, 0);
	counters_rejection(event_name(r->event), r->count_as ? r->count_as : r->reason);
	char key[PARTNER_DOMAIN_MAX];
	const char *who = r->domain ? partner_of(c, r->domain, key, sizeof key) : NULL;
	if (who)
		partners_refused(c->edge->partners, who,
				 c->zone == ZONE_EXTERNAL ? PARTNER_IN : PARTNER_OUT,
				 r->count_as ? r->count_as : r->reason);
	TAP(c->edge, .kind = TAP_DECISION, .conn = c, .msg = msg, .verdict = "refused",
	    .status = r->status, .reason = r->count_as ? r->count_as : r->reason,
	    .domain = r->domain);
	/* Counted as a request, not as a 0 s latency: the histogram times
	 * what the edge relayed, a refusal is counted in rejections. */
	if (r->status && sip && sip->sip_request && respond_expected(sip))
		counters_answered(c->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND,
				  respond_method(sip), r->status);
	if (r->status)
		respond_reply(c, msg, r->status, NULL, r->hdrs);
	msg_destroy(msg);
}
