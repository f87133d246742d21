/* reject.c - log, count and answer a refusal (reject.h). */
#include <stdio.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_protos.h>

#include "core/certname.h"
#include "net/conn.h"
#include "proxy/reject.h"
#include "proxy/respond.h"
#include "util/counters.h"
#include "util/log.h"

static void log_rejection(const struct conn *c, sip_t const *sip,
			  const struct rejection *r)
{
	unsigned dropped = 0;
	const char *ev = event_name(r->event);
	if (r->flood && !log_flood_allow(ev, r->reason, &dropped))
		return;
	/* Every refusal is a notice, whatever else its event logs. */
	bool ack = sip && sip->sip_request && sip->sip_request->rq_method == sip_method_ack;
	int level = ack && !r->log_acks ? LOG_DEBUG : LOG_NOTICE;
	char names[512];
	certnames_join(&c->names, names, sizeof names);
	log_event(level, ev, LOG_STR("reason", r->reason),
		  r->ms_code ? LOG_INT("code", r->ms_code) : LOG_STR("code", NULL),
		  LOG_INT("status", r->status), LOG_STR("domain", r->domain),
		  LOG_STR("peer", c->peer),
		  LOG_STR("cert_names", c->zone == ZONE_EXTERNAL ? names : NULL),
		  LOG_STR("srv_targets", r->srv_targets),
		  LOG_STR("call_id", respond_call_id(sip)),
		  LOG_STR("method", respond_method(sip)),
		  LOG_COUNT("suppressed", dropped));
}

void reject(struct conn *c, msg_t *msg, const struct rejection *r)
{
	sip_t const *sip = sip_object(msg);
	if (!r->logged)
		log_rejection(c, sip, r);
	counters_rejection(event_name(r->event), r->reason);
	if (sip && sip->sip_request && respond_expected(sip))
		counters_request(c->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND,
				 respond_method(sip), r->status, 0);
	respond_reply(c, msg, r->status, NULL, r->hdrs);
	msg_destroy(msg);
}
