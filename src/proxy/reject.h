/* reject.h - the one refusal path: one log line, one count, one response.
 *
 * Every request the edge refuses goes through reject(): it logs
 * event=<events.def name> reason=<slug> ..., counts the
 * refusal (sipedge_rejections_total and sipedge_requests_total), answers
 * with the status and headers given, and frees the message.
 */
#ifndef SIPEDGE_REJECT_H
#define SIPEDGE_REJECT_H

#include <stdbool.h>
#include <sofia-sip/msg.h>

#include "core/events.h"

struct conn;

struct rejection {
	enum event_id event;
	const char *reason;        /* slug (events.def), or a short text */
	int status;                /* SIP status of the answer */
	int ms_code;               /* ms-diagnostics code logged as code=; 0: none */
	const char *domain;
	const char *srv_targets;   /* comma-separated; NULL: no lookup was needed */
	const char *hdrs;          /* extra response headers, "Name: v\r\n"... */
	/* The line is logged at most once a second per (event, reason), with
	 * suppressed=N: refusals that come in floods. */
	bool flood;
	/* No line: the caller logged the cause (log_limit_reached()). */
	bool logged;
	/* Log a refused ACK like any request; by default it is a debug line
	 * (it usually acknowledges a refusal of ours, RFC 3261 17.1.1.3). */
	bool log_acks;
};

/*
 * reject(c, msg, &(struct rejection){ .event = EV_INBOUND_REJECTED,
 *        .reason = "rate_limited", .status = 503, .domain = d,
 *        .hdrs = "Retry-After: 1\r\n" });
 */
void reject(struct conn *c, msg_t *msg, const struct rejection *r);

#endif
