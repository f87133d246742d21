/* reject.h - the one refusal path: one log line, one count, one response.
 *
 * Every request the edge refuses goes through reject(): it logs
 * event=<events.def name> reason=<slug> ... conn=c<id> [txn=t<id>], counts
 * the refusal (sipedge_rejections_total and sipedge_requests_total),
 * answers with the status and headers given, and frees the message.
 * A forwarded request that could not be delivered is refused the same
 * way through its txn (.txn): the answer is made from the request as
 * forwarded and sent upstream.
 */
#ifndef SIPEDGE_REJECT_H
#define SIPEDGE_REJECT_H

#include <stdbool.h>
#include <sofia-sip/msg.h>

#include "core/events.h"
#include "util/log.h"

struct conn;
struct txn;

struct rejection {
	enum event_id event;
	const char *reason;        /* slug (events.def), or a short text */
	int status;                /* SIP status of the answer; 0: none (a
				    * response, or a request that cannot be
				    * answered) */
	int ms_code;               /* ms-diagnostics code logged as code=; 0: none */
	const char *detail;        /* detail= after reason= */
	const char *domain;
	const char *target;        /* target= (the next hop) after domain= */
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
	/* Level of the line; 0: LOG_NOTICE (every refusal is a notice,
	 * unless its event says otherwise: delivery failures are warnings). */
	int level;
	/* Not delivered to the next hop: peer= is the far end dialled
	 * (peer_down, NULL: none was), not the sender; no cert_names=. */
	bool undelivered;
	const char *peer_down;
	/* The request of this forwarded txn, already sent on (msg and c are
	 * NULL): answered upstream with a response made from it; conn= is
	 * its upstream connection, txn= its id. Not a refusal of the edge's
	 * own: sipedge_rejections_total does not count it. */
	struct txn *txn;
	/* Counted under this slug rather than reason= (a malformed message:
	 * the reason logged is the parser's text). */
	const char *count_as;
	/* The line's keys, for an event not laid out like a refusal
	 * (node_unreachable, a malformed message's message_rejected):
	 * reject() appends conn= and txn=. NULL-terminated (LOG_END); not
	 * with .flood. */
	const struct log_kv *const *keys;
};

/*
 * reject(c, msg, &(struct rejection){ .event = EV_INBOUND_REJECTED,
 *        .reason = "rate_limited", .status = 503, .domain = d,
 *        .hdrs = "Retry-After: 1\r\n" });
 */
void reject(struct conn *c, msg_t *msg, const struct rejection *r);

/* The keys of .keys: REJECT_KEYS(LOG_STR("peer", p), ...). */
#define REJECT_KEYS(...) ((const struct log_kv *const[]){ __VA_ARGS__, LOG_END })

#endif
