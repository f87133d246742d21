/* proxy.c - the pipeline: proxy_on_message's checks and dispatch, the
 * request path (CANCEL, ACK, OPTIONS for the edge, inbound and outbound
 * stages, proxy_forward), the response path back along the txn, Timer C
 * and linger, refusals and local answers. Decisions come from core
 * (classify, nexthop, route, policy); sending from forward.c; refusals
 * go through reject.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/su_alloc.h>

#include "net/conn.h"
#include "core/classify.h"
#include "core/diag.h"
#include "proxy/edge.h"
#include "proxy/federation.h"
#include "proxy/forward.h"
#include "net/listener.h"
#include "net/netctx.h"
#include "util/log.h"
#include "util/counters.h"
#include "proxy/outbound.h"
#include "proxy/partners.h"
#include "core/pat.h"
#include "core/policy.h"
#include "proxy/proxy.h"
#include "proxy/respond.h"
#include "proxy/reject.h"
#include "core/rewrite.h"
#include "core/route.h"
#include "core/share.h"
#include "core/sipmsg.h"
#include "proxy/tap.h"
#include "proxy/txn.h"

#define ACK_LINGER_SECS 5   /* keep an INVITE txn after a non-2xx final */

/* ------------------------------------------------------------ helpers */

/* A refusal's counters, its response, the message freed. */
static void answer_refused(struct conn *c, msg_t *msg, int status, const char *phrase,
			   const char *event, const char *reason, const char *hdrs)
{
	(void)phrase;
	reject(c, msg, &(struct rejection){ .event = event_by_name(event),
		.reason = reason, .status = status, .hdrs = hdrs, .logged = true });
}

/* Refuse a request: one log line, one response, message freed. */
static void refuse(struct conn *c, msg_t *msg, int status, const char *phrase,
		   const char *event, const char *reason, int ms_code,
		   const char *domain, const char *hdrs)
{
	(void)phrase;
	reject(c, msg, &(struct rejection){ .event = event_by_name(event),
		.reason = reason, .status = status, .ms_code = ms_code,
		.domain = domain, .hdrs = hdrs });
}

/* More transactions open than limits.max_transactions: the next hop is
 * slower than the offered load. Each one held costs memory until its
 * timeout, so new ones get 503 at once, logged once a second, not each. */
static void overloaded(struct conn *c, msg_t *msg)
{
	const struct conf *cf = c->edge->conf;
	char hdrs[512];
	int n = snprintf(hdrs, sizeof hdrs, "Retry-After: 5\r\n");
	diag_warning(hdrs + n, sizeof hdrs - (size_t)n, cf->federation.diagnostics,
		     cf->edge.fqdn, "edge overloaded: too many open transactions");
	log_limit_reached("max_transactions", NULL);
	answer_refused(c, msg, 503, NULL, "limit_reached", "max_transactions", hdrs);
}

void proxy_refuse_diag(struct conn *c, msg_t *msg, int status,
			const char *event, const char *reason,
			enum diag_code code, const struct diag_attrs *a)
{
	const struct conf *cf = c->edge->conf;
	char hdrs[1024];
	diag_headers(hdrs, sizeof hdrs, cf->federation.diagnostics, cf->edge.fqdn,
		     code, a, c->zone == ZONE_INTERNAL);
	refuse(c, msg, status, NULL, event, reason, (int)code,
	       a ? a->domain : NULL, hdrs);
}

void proxy_refuse_text(struct conn *c, msg_t *msg, int status,
			const char *event, const char *reason, const char *text)
{
	const struct conf *cf = c->edge->conf;
	char hdrs[512];
	diag_warning(hdrs, sizeof hdrs, cf->federation.diagnostics, cf->edge.fqdn, text);
	refuse(c, msg, status, NULL, event, reason, 0, NULL, hdrs);
}

/* ------------------------------------------------------------ sending */

static void on_txn_timeout(evutil_socket_t fd, short what, void *arg);

/* Send t to its current target; what could not be sent is answered. */
static void txn_send(struct txn *t)
{
	char hdrs[512];
	int status = fwd_send(t, on_txn_timeout, hdrs, sizeof hdrs);
	if (status) {
		respond_txn(t, status, hdrs[0] ? hdrs : NULL);
		txn_free(t);
	}
}

static void on_linger_done(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	txn_free(arg);
}

static void on_txn_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct txn *t = arg;
	if (t->kind != TXN_FORWARDED) {
		txn_complete(t, 0);
		return;
	}
	sip_t const *f = sip_object(t->fwd);
	char secs[16];
	snprintf(secs, sizeof secs, "%d", t->method == sip_method_invite
		 ? t->edge->conf->limits.invite_timeout
		 : t->edge->conf->limits.transaction_timeout);
	log_event(LOG_NOTICE, "transaction_timeout",
		  LOG_STR("method", respond_method(f)),
		  LOG_STR("call_id", respond_call_id(f)),
		  LOG_STR("target", t->targets[t->cur_target].host),
		  LOG_STR("seconds", secs),
		  LOG_STR("status", "408"),
		  LOG_CONN(t->up_conn), LOG_TXN(t->id));
	respond_txn(t, 408, NULL);
	if (t->method == sip_method_invite) {
		/* Timer C: CANCEL downstream, and stay a while to ACK the 487
		 * (or other final) the callee answers it with (RFC 3261 16.8). */
		fwd_hop_request(t, "CANCEL", NULL);
		t->status = 408;
		txn_enter(t, TXN_TIMED_OUT);
		txn_arm(t, ACK_LINGER_SECS, on_linger_done);
		return;
	}
	txn_free(t);
}

/* ------------------------------------------------------------ forward */

/* A peer over its share: 503 with Retry-After, logged once a second per
 * limit; every other peer keeps its capacity. */
static void peer_over_share(struct conn *up, msg_t *msg, const char *limit)
{
	const struct conf *cf = up->edge->conf;
	char hdrs[512], key[SHARE_KEY_MAX];
	int n = snprintf(hdrs, sizeof hdrs, "Retry-After: 5\r\n");
	diag_warning(hdrs + n, sizeof hdrs - (size_t)n, cf->federation.diagnostics,
		     cf->edge.fqdn, "too many open transactions for this peer");
	log_limit_reached(limit, conn_peer_key(up, key, sizeof key));
	answer_refused(up, msg, 503, NULL, "limit_reached", limit, hdrs);
}

void proxy_forward(struct conn *up, msg_t *msg, enum zone toward, int node,
		   const struct txn_target *targets_in, size_t ntargets)
{
	struct edge *e = up->edge;
	sip_t *sip = sip_object(msg);
	struct txn_target targets[TXN_MAX_TARGETS];
	if (ntargets > TXN_MAX_TARGETS)
		ntargets = TXN_MAX_TARGETS;
	memcpy(targets, targets_in, ntargets * sizeof *targets);
	if (toward == ZONE_EXTERNAL && (ntargets = fwd_guard_targets(targets, ntargets, e->conf)) == 0) {
		char domain[256];
		sipmsg_host(sip->sip_request->rq_url, domain, sizeof domain);
		struct diag_attrs a = { .domain = domain, .tls_target = targets_in[0].host };
		proxy_refuse_diag(up, msg, 403, "outbound_failed", "target_forbidden",
				  DIAG_NOT_FEDERATED, &a);
		return;
	}
	if (toward == ZONE_EXTERNAL) {
		const struct reach_entry *down = fwd_skip_unreachable(e, targets, ntargets);
		if (down) {
			char domain[256], fq[4][300];
			sipmsg_host(sip->sip_request->rq_url, domain, sizeof domain);
			enum diag_code code = fwd_fail_code(down->fail);
			/* Same diagnostics as the failure it remembers, with
			 * what the certificate named for a 1010. */
			struct diag_attrs a = { .domain = domain, .tls_target = down->host,
				.peer_server = code == DIAG_CERT_NAME && *down->names
					       ? down->names : NULL };
			fwd_targets_attrs(targets, ntargets, &a, fq);
			char target[300], hdrs[1024];
			snprintf(target, sizeof target, "%.255s:%d", down->host, down->port);
			diag_headers(hdrs, sizeof hdrs, e->conf->federation.diagnostics,
				     e->conf->edge.fqdn, code, &a, true);
			reject(up, msg, &(struct rejection){ .event = EV_OUTBOUND_FAILED,
				.reason = "target_unreachable", .detail = down->reason,
				.ms_code = (int)code, .status = 504, .domain = domain,
				.target = target, .hdrs = hdrs, .level = LOG_WARNING,
				.undelivered = true, .log_acks = true });
			return;
		}
	}
	struct zone_view zv = fwd_view(e, node);
	if (!zv.intl) {
		proxy_refuse_text(up, msg, 500, "internal_error", "no internal listener",
			    "no internal listener configured");
		return;
	}
	const char *up_branch = sip->sip_via->v_branch ? sip->sip_via->v_branch : "";
	struct txn *t = NULL;
	char branch[48];
	if (respond_expected(sip) &&
	    txn_count(e) >= (size_t)e->conf->limits.max_transactions) {
		overloaded(up, msg);
		return;
	}
	if (respond_expected(sip)) {
		t = txn_new(e, msg, up->id, up_branch);
		if (!t) {
			proxy_refuse_text(up, msg, 503, "limit_reached", "out_of_memory",
				    "edge out of memory");
			return;
		}
		t->method = sip->sip_request->rq_method;
		t->down_zone = toward;
		t->node = node;
		const char *over = fwd_take_share(up, sip, t);
		if (over) {
			t->fwd = NULL;             /* msg is still ours to answer */
			txn_free(t);
			peer_over_share(up, msg, over);
			return;
		}
		snprintf(branch, sizeof branch, "%s", t->branch);
	} else {
		txn_make_branch(e, branch, sizeof branch);
	}
	fwd_rewrite(e, msg, toward, &zv, t, branch);

	if (t) {
		t->ntargets = ntargets;
		memcpy(t->targets, targets, ntargets * sizeof *targets);
		txn_send(t);
		return;
	}
	/* ACK for 2xx and BENOTIFY: stateless, first target only. */
	struct conn *c = fwd_conn(e, toward, node, &targets[0]);
	if (c && !(toward == ZONE_INTERNAL && conn_congested(c)))
		respond_send(c, msg);
	msg_destroy(msg);
}

/* ------------------------------------------------------------ inbound */

/* What an Access Edge tells a Lync / Skype for Business pool about a
 * request from outside ([MS-SIPRE] 2.2.15): proven partner
 * (DirectPartner, an allowed entry) or discovered (AutoFederation),
 * verified by this edge. Only the edge writes it; one from outside is
 * removed before this. */
static void stamp_trust(const struct conf *cf, msg_t *msg, sip_t *sip)
{
	char from[256];
	sipmsg_host(sip->sip_from->a_url, from, sizeof from);
	/* Inserted with the headers (msg_header_add_str would put an unknown
	 * header after the body of a parsed message). */
	msg_header_t *h = msg_header_format(msg_home(msg), sip_unknown_class,
		"ms-edge-proxy-message-trust: ms-source-type=%s;ms-ep-fqdn=%s;"
		"ms-source-verified-user=verified;ms-source-network=federation",
		policy_allowed(cf, from) ? "DirectPartner" : "AutoFederation", cf->edge.fqdn);
	if (h)
		msg_header_insert(msg, (msg_pub_t *)sip, h);
}

/* The request passed the federation policy: now where it may go
 * (core/classify.c decides). */
static void inbound_accepted(struct conn *c, msg_t *msg, int route_port)
{
	struct edge *e = c->edge;
	const struct conf *cf = e->conf;
	sip_t *sip = sip_object(msg);
	struct inbound_verdict v;
	classify_inbound(cf, sip, c->local_port, route_port, txn_nodes_up(e), &v);
	if (v.node < 0 && v.status == 503) {
		refuse(c, msg, 503, NULL, "inbound_rejected", v.reason, 0,
		       v.domain, "Retry-After: 30\r\n");
		return;
	}
	if (v.node < 0) {
		struct diag_attrs a = { .domain = v.domain };
		proxy_refuse_diag(c, msg, v.status, "inbound_rejected", v.reason,
				  DIAG_NOT_LOCAL, &a);
		return;
	}
	sipmsg_remove_named(msg, sip, classify_untrusted_in_requests);
	if (cf->federation.stamp_trust)
		stamp_trust(cf, msg, sip);
	char from[256];
	partners_accepted(e->partners, sipmsg_host(sip->sip_from->a_url, from, sizeof from),
			  PARTNER_IN);
	const struct conf_node *n = &cf->internal.nodes[v.node];
	struct txn_target tg = { .port = n->ports[0].internal };
	snprintf(tg.host, sizeof tg.host, "%s", n->address);
	proxy_forward(c, msg, ZONE_INTERNAL, v.node, &tg, 1);
}

static void inbound(struct conn *c, msg_t *msg, int route_port)
{
	if (federation_inbound(c, msg, route_port, inbound_accepted) == FED_PASS)
		inbound_accepted(c, msg, route_port);
}

/* ------------------------------------------------------------ outbound */

/* The outbound stage's decision, acted on (perhaps after its DNS lookup). */
static void outbound_decided(struct conn *c, msg_t *msg, const struct outbound_decision *d)
{
	if (d->status == 0) {
		partners_accepted(c->edge->partners, d->domain, PARTNER_OUT);
		proxy_forward(c, msg, ZONE_EXTERNAL, c->node, d->tg, d->ntargets);
		return;
	}
	if (d->text) {
		proxy_refuse_text(c, msg, d->status, "outbound_failed", d->reason, d->text);
		return;
	}
	struct diag_attrs a = { .domain = d->domain };
	for (size_t i = 0; i < d->nfq; i++)
		a.fqdn[i] = d->fq[i];
	proxy_refuse_diag(c, msg, d->status, "outbound_failed", d->reason, d->code, &a);
}

static void outbound(struct conn *c, msg_t *msg, sip_t *sip)
{
	url_t const *u = NULL;
	enum outbound_way way = classify_outbound(c->edge->conf, sip, &u);
	if (way == OUT_BLOCKED) {
		char to[256];
		struct diag_attrs a = { .domain = sipmsg_host(sip->sip_to->a_url, to, sizeof to) };
		proxy_refuse_diag(c, msg, 403, "outbound_failed", "domain_blocked",
				  DIAG_NOT_FEDERATED, &a);
		return;
	}
	if (way == OUT_POLICY) {
		outbound_route(c, msg, sip->sip_to->a_tag != NULL, outbound_decided);
		return;
	}
	struct txn_target tg;
	sipmsg_host(u, tg.host, sizeof tg.host);
	tg.port = u->url_port ? atoi(u->url_port) : 5061;
	proxy_forward(c, msg, ZONE_EXTERNAL, c->node, &tg, 1);
}

/* ------------------------------------------------------------ requests */

static void on_cancel(struct conn *c, msg_t *msg, sip_t *sip)
{
	struct txn *t = txn_by_upstream(c->edge, c->id, sip->sip_via->v_branch
					? sip->sip_via->v_branch : "");
	if (!t) {
		refuse(c, msg, 481, NULL, "message_rejected", "no_matching_transaction",
		       0, NULL, NULL);
		return;
	}
	respond_reply(c, msg, 200, NULL, NULL);
	counters_answered(c->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND, "CANCEL", 200);
	msg_destroy(msg);
	if (t->status < 200)
		fwd_hop_request(t, "CANCEL", NULL);
}

/* Proxy-Require (RFC 3261 16.3 step 5): a 420 listing the option tags
 * not in federation.supported_extensions. True when refused. */
static bool refuse_unsupported(struct conn *c, msg_t *msg, sip_t const *sip)
{
	char hdr[600];
	if (classify_unsupported(c->edge->conf, sip, hdr, sizeof hdr) == 0)
		return false;
	refuse(c, msg, 420, NULL, "message_rejected", "proxy_require", 0, NULL,
	       hdr[0] ? hdr : NULL);
	return true;
}

struct zone_of { const struct edge *e; enum zone from; };

/* Is host one of the listener addresses of the zone a request came from? */
static bool own_listener(const char *host, void *arg)
{
	const struct zone_of *z = arg;
	for (const struct listener *l = z->e->listeners; l; l = l->next)
		if (l->zone == z->from && sipmsg_host_is(host, l->address))
			return true;
	return false;
}

/* OPTIONS for the edge itself (RFC 3261 11; a partner's keep-alive, such
 * as Kamailio's dispatcher probe): core/classify.c decides. */
static bool addressed_to_edge(const struct edge *e, enum zone from, sip_t const *sip)
{
	struct zone_of z = { e, from };
	return classify_to_edge(e->conf, sip, own_listener, &z);
}

/* The edge answers for itself, without a node: what it relays, and the
 * extensions it supports. */
static void answer_options(struct conn *c, msg_t *msg)
{
	const struct conf *cf = c->edge->conf;
	char hdrs[800];
	size_t off = (size_t)snprintf(hdrs, sizeof hdrs, "Allow: INVITE, ACK, CANCEL, BYE, "
		"OPTIONS, MESSAGE, INFO, SUBSCRIBE, NOTIFY, BENOTIFY, SERVICE, REFER, "
		"PRACK, UPDATE, PUBLISH\r\n");
	for (size_t i = 0; i < cf->federation.nsupported_extensions && off < sizeof hdrs; i++)
		off += (size_t)snprintf(hdrs + off, sizeof hdrs - off, "%s%s",
					i ? ", " : "Supported: ",
					cf->federation.supported_extensions[i]);
	if (cf->federation.nsupported_extensions && off < sizeof hdrs)
		snprintf(hdrs + off, sizeof hdrs - off, "\r\n");
	log_event(LOG_DEBUG, "options_answered",
		  LOG_STR("peer", c->peer),
		  LOG_STR("call_id", respond_call_id(sip_object(msg))), LOG_CONN(c->id));
	counters_answered(c->zone == ZONE_EXTERNAL ? COUNTER_INBOUND
			  : COUNTER_OUTBOUND, "OPTIONS", 200);
	counters_options_answered();
	respond_reply(c, msg, 200, NULL, hdrs);
	msg_destroy(msg);
}

/* A peer that wants its connection reused for requests toward it says
 * so with the alias parameter in its Via (RFC 5923 section 5); the sent-by
 * host and port are then where this connection leads. */
static void note_alias(struct conn *c, sip_via_t const *v)
{
	if (!v || !v->v_host || !v->v_params || !msg_params_find(v->v_params, "alias"))
		return;
	conn_set_alias(c, v->v_host, v->v_port ? atoi(v->v_port) : 5061);
}

static void on_request(struct conn *c, msg_t *msg, sip_t *sip)
{
	struct edge *e = c->edge;
	sip_method_t m = sip->sip_request->rq_method;
	const char *branch = sip->sip_via->v_branch ? sip->sip_via->v_branch : "";

	if (c->zone == ZONE_EXTERNAL && !c->outbound && !c->alias[0])
		note_alias(c, sip->sip_via);
	if (m == sip_method_ack) {
		struct txn *t = txn_by_upstream(e, c->id, branch);
		/* The ACK for a non-2xx the edge sent (relayed or its own, even
		 * one that ended no transaction) ends here (RFC 3261 17.2.1). */
		if ((t && t->status >= 300) || respond_own_ack(e, sip)) {
			log_event(LOG_DEBUG, "ack_absorbed",
				  LOG_STR("peer", c->peer),
				  LOG_STR("call_id", respond_call_id(sip)),
				  LOG_CONN(c->id), LOG_TXN(t ? t->id : 0));
			msg_destroy(msg);
			return;
		}
	}
	if (m == sip_method_cancel) {
		on_cancel(c, msg, sip);
		return;
	}
	if (sip->sip_max_forwards) {
		if (sip->sip_max_forwards->mf_count == 0) {
			proxy_refuse_text(c, msg, 483, "message_rejected", "too_many_hops",
				    "Max-Forwards reached zero");
			return;
		}
		sip->sip_max_forwards->mf_count--;
		msg_fragment_clear(sip->sip_max_forwards->mf_common);
	} else {
		sip_add_make(msg, sip, sip_max_forwards_class, "70");
	}
	if (rewrite_looped(&e->rw, sip)) {
		proxy_refuse_text(c, msg, 482, "message_rejected", "loop_detected",
			    "request already passed this edge");
		return;
	}
	if (sip->sip_proxy_require && refuse_unsupported(c, msg, sip))
		return;
	int strict_port = rewrite_strict_route(&e->rw, msg, sip);
	int route_port = rewrite_pop_own_routes(&e->rw, msg, sip, c->zone);
	if (strict_port > 0 && route_port == 0)
		route_port = strict_port;
	if (m == sip_method_options && addressed_to_edge(e, c->zone, sip)) {
		answer_options(c, msg);
		return;
	}
	if (c->zone == ZONE_EXTERNAL)
		inbound(c, msg, route_port);
	else
		outbound(c, msg, sip);
}

/* ------------------------------------------------------------ responses */

/* A response no transaction of this connection waits for: dropped and
 * counted; logged at most once a second per connection, with how many
 * went unlogged since, so a flood cannot fill the log. */
static void stray_response(struct conn *c, msg_t *msg, sip_t const *sip,
			   const char *reason, uint64_t txn_id)
{
	counters_rejection("stray_response", reason);
	time_t now = time(NULL);
	struct conn_owner none = { 0 }, *o = conn_owner_get(c);
	if (!o)
		o = &none;      /* out of memory: log, unsuppressed */
	if (o->stray_logged_at == now) {
		o->stray_suppressed++;
	} else {
		char code[12], supp[16];
		snprintf(code, sizeof code, "%d", sip->sip_status->st_status);
		snprintf(supp, sizeof supp, "%u", o->stray_suppressed);
		log_event(LOG_INFO, "stray_response",
			  LOG_STR("reason", reason),
			  LOG_STR("peer", c->peer),
			  LOG_STR("status", code),
			  LOG_STR("call_id", respond_call_id(sip)),
			  LOG_STR("method", respond_method(sip)),
			  LOG_STR("suppressed", o->stray_suppressed ? supp : NULL),
			  LOG_CONN(c->id), LOG_TXN(txn_id));
		o->stray_logged_at = now;
		o->stray_suppressed = 0;
	}
	msg_destroy(msg);
}

static void on_response(struct conn *c, msg_t *msg, sip_t *sip)
{
	struct edge *e = c->edge;
	int status = sip->sip_status->st_status;
	struct txn *t = sip->sip_via->v_branch
		? txn_by_branch(e, sip->sip_via->v_branch) : NULL;
	/* The callee's final answer to the CANCEL of a timed-out INVITE:
	 * ours to ACK (we answered 408 upstream already). */
	if (t && t->state == TXN_TIMED_OUT && t->down_conn == c->id && status >= 300 &&
	    sip->sip_cseq->cs_method == sip_method_invite) {
		fwd_hop_request(t, "ACK", sip->sip_to);
		msg_destroy(msg);
		return;
	}
	const char *stray = !t ? "no_transaction"
		/* Only the connection the request went out on may answer it:
		 * a branch seen elsewhere proves nothing about the sender. */
		: t->down_conn != c->id ? "wrong_connection"
		/* After a final only an INVITE's further 2xx may follow
		 * (forking, RFC 3261 16.7): a late provisional would re-arm
		 * Timer C on an answered call. */
		: t->status >= 200 && (status < 200 ||
				       !(t->method == sip_method_invite && status < 300))
		? "already_answered" : NULL;
	if (stray) {
		stray_response(c, msg, sip, stray, t ? t->id : 0);
		return;
	}
	/* Hop by hop: we sent our own 100, and answered the CANCEL ourselves. */
	if (status == 100 || sip->sip_cseq->cs_method == sip_method_cancel) {
		msg_destroy(msg);
		return;
	}
	if (t->kind != TXN_FORWARDED) {
		msg_destroy(msg);
		if (status >= 200)
			txn_complete(t, status);
		return;
	}
	if (c->zone == ZONE_EXTERNAL)
		sipmsg_remove_named(msg, sip, classify_untrusted_in_responses);
	rewrite_pop_via(msg, sip);
	if (t->hidden_vias)
		rewrite_restore_vias(msg, sip, t->hidden_vias);
	struct conn *up = conn_by_id(e->net, t->up_conn);
	if (up) {
		struct zone_view zv = fwd_view(e, t->node);
		rewrite_own_uris_for(&e->rw, msg, sip, up->zone, &zv);
		rewrite_cross(&e->rw, msg, sip, up->zone);
		if (up->zone == ZONE_EXTERNAL)
			sipmsg_remove_named(msg, sip, classify_untrusted_in_responses);
		respond_send(up, msg);
	}
	if (status < 200) {
		t->status = status;
		txn_enter(t, TXN_PROCEEDING);
		/* Timer C (RFC 3261 16.8): a ringing INVITE lives on while
		 * provisionals keep coming. */
		if (t->method == sip_method_invite)
			txn_arm(t, e->conf->limits.invite_timeout, on_txn_timeout);
		msg_destroy(msg);
		return;
	}
	int first_final = t->status < 200;
	if (first_final && up)
		counters_request(up->zone == ZONE_EXTERNAL ? COUNTER_INBOUND
			       : COUNTER_OUTBOUND, sip->sip_cseq->cs_method_name,
			       status, counters_since(&t->started));
	t->status = status;
	if (t->method == sip_method_invite)
		txn_enter(t, TXN_COMPLETED);
	if (t->method == sip_method_invite && status >= 300) {
		if (first_final)     /* RFC 3261 16.7: we ACK non-2xx downstream */
			fwd_hop_request(t, "ACK", sip->sip_to);
		txn_arm(t, ACK_LINGER_SECS, on_linger_done);
	} else if (t->method == sip_method_invite) {
		/* Further 2xx (forking) may follow: linger, relaying them. */
		txn_arm(t, ACK_LINGER_SECS, on_linger_done);
	} else {
		txn_free(t);
	}
	msg_destroy(msg);
}

/* ------------------------------------------------------------ entry */

void proxy_on_message(struct conn *c, msg_t *msg)
{
	sip_t *sip = sip_object(msg);
	TAP(c->edge, .kind = TAP_IN, .conn = c, .msg = msg);
	int status = 0;
	const char *many = sip && (sip->sip_request || sip->sip_status)
		? classify_too_many_values(c->edge->conf, sip, &status) : NULL;
	if (many) {
		if (sip->sip_status) {
			stray_response(c, msg, sip, many, 0);
			return;
		}
		/* The refusal carries the sender's own Via only: echoing
		 * thousands would cost more than the message did. */
		if (sip->sip_via)
			sip->sip_via->v_next = NULL;
		refuse(c, msg, status, NULL, "message_rejected", many, 0, NULL, NULL);
		return;
	}
	const char *bad = sipmsg_malformed(msg, sip);
	if (bad) {
		bool answer = sip && sip->sip_request && sip->sip_via &&
			sip->sip_request->rq_method != sip_method_ack;
		char hdrs[512] = "";
		if (answer)
			diag_warning(hdrs, sizeof hdrs, c->edge->conf->federation.diagnostics,
				     c->edge->conf->edge.fqdn, bad);
		/* A request we cannot even answer: the stream is not to be
		 * trusted further (RFC 4475 badinv01). */
		bool drop = !answer && (!sip || !sip->sip_status);
		reject(c, msg, &(struct rejection){ .event = EV_MESSAGE_REJECTED,
			.reason = bad, .count_as = "malformed", .status = answer ? 400 : 0,
			.hdrs = hdrs, .log_acks = true,
			.keys = REJECT_KEYS(LOG_STR("peer", c->peer), LOG_STR("reason", bad),
				LOG_STR("call_id", respond_call_id(sip)),
				LOG_STR("method", respond_method(sip))) });
		if (drop)
			conn_close(c, CFAIL_CLOSED, "parse_error");
		return;
	}
	if (!sipmsg_version_ok(sip)) {
		if (sip->sip_request)
			refuse(c, msg, 505, NULL, "message_rejected", "version_not_supported",
			       0, NULL, NULL);
		else
			msg_destroy(msg);
		return;
	}
	if (c->edge->stopping && sip->sip_request &&
	    sip->sip_request->rq_method != sip_method_ack) {
		refuse(c, msg, 503, NULL, "message_rejected", "shutting_down", 0, NULL,
		       "Retry-After: 10\r\n");
		return;
	}
	if (sip->sip_status)
		on_response(c, msg, sip);
	else
		on_request(c, msg, sip);
}

/* ------------------------------------------------------------ failures */

static void on_down_closed(struct txn *t, void *arg)
{
	struct conn *c = arg;
	const struct conf *cf = t->edge->conf;
	if (t->status >= 200)
		return;
	if (t->kind != TXN_FORWARDED) {
		txn_complete(t, -1);
		return;
	}
	if (t->down_zone == ZONE_EXTERNAL && c->fail != CFAIL_CLOSED &&
	    c->fail != CFAIL_FORBIDDEN) {
		reach_mark(&t->edge->reach, c->target, c->target_port, c->fail,
			   c->fail_reason, time(NULL), cf->limits.unreachable_hold);
		if (c->fail == CFAIL_CERT_NAME) {
			char seen[256];
			reach_set_names(&t->edge->reach, c->target, c->target_port,
					certnames_join(&c->names, seen, sizeof seen));
		}
	}
	/* Not delivered: the next target may do better. */
	if (c->fail != CFAIL_CLOSED && t->cur_target + 1 < t->ntargets) {
		t->cur_target++;
		txn_enter(t, TXN_TRYING);
		txn_send(t);
		return;
	}
	sip_t const *f = sip_object(t->fwd);
	char hdrs[1024];
	if (t->down_zone == ZONE_INTERNAL) {
		/* The details name internal hosts: they go to the log only. */
		diag_warning(hdrs, sizeof hdrs, cf->federation.diagnostics, cf->edge.fqdn,
			     "internal server unavailable");
		size_t off = strlen(hdrs);
		snprintf(hdrs + off, sizeof hdrs - off, "Retry-After: 30\r\n");
		reject(NULL, NULL, &(struct rejection){ .event = EV_NODE_UNREACHABLE,
			.reason = conn_fail_slug(c->fail), .status = 503, .hdrs = hdrs,
			.level = LOG_WARNING, .txn = t,
			.keys = REJECT_KEYS(LOG_STR("node", t->node >= 0
					? cf->internal.nodes[t->node].name : "(removed)"),
				LOG_STR("reason", conn_fail_slug(c->fail)),
				LOG_STR("detail", c->fail_reason),
				LOG_STR("call_id", respond_call_id(f)),
				LOG_STR("method", respond_method(f)),
				LOG_STR("status", "503")) });
		txn_free(t);
		return;
	}
	enum diag_code code = fwd_fail_code(c->fail);
	char domain[256], fqdn1[300], names[512], fq[4][300];
	sipmsg_host(f->sip_request->rq_url, domain, sizeof domain);
	snprintf(fqdn1, sizeof fqdn1, "%s:%d", c->target, c->target_port);
	certnames_join(&c->names, names, sizeof names);
	struct diag_attrs a = {
		.domain = domain,
		.tls_target = c->target,
		.peer_server = code == DIAG_CERT_NAME && *names ? names : NULL,
	};
	fwd_targets_attrs(t->targets, t->ntargets, &a, fq);
	diag_headers(hdrs, sizeof hdrs, cf->federation.diagnostics, cf->edge.fqdn,
		     code, &a, true);
	reject(NULL, NULL, &(struct rejection){ .event = EV_OUTBOUND_FAILED,
		.reason = conn_fail_slug(c->fail), .detail = c->fail_reason,
		.ms_code = (int)code, .status = c->fail == CFAIL_CLOSED ? 503 : 504,
		.domain = domain, .target = fqdn1, .hdrs = hdrs, .level = LOG_WARNING,
		.undelivered = true, .peer_down = c->peer[0] ? c->peer : NULL, .txn = t });
	txn_free(t);
}

void proxy_conn_closed(struct conn *c)
{
	if (c->zone == ZONE_INTERNAL && c->node >= 0)
		txn_node_lost(c->edge, c->node, c->fail, c->fail_reason);
	txn_each_down(c->edge, c->id, on_down_closed, c);
	conn_owner_free(c);
}

/* A dialled partner answered: its next hop is reachable again. */
static void proxy_conn_up(struct conn *c)
{
	if (c->outbound && c->zone == ZONE_EXTERNAL)
		reach_clear(&c->edge->reach, c->target, c->target_port);
}

static void proxy_tls_failure(struct conn *c, const char *slug)
{
	counters_tls_failure(c->zone == ZONE_EXTERNAL ? "external" : "internal", slug);
}

/* Register the proxy as the net layer's owner: the one place net calls up. */
void proxy_attach(struct edge *e)
{
	static const struct conn_handlers h = {
		.on_message = proxy_on_message,
		.on_up = proxy_conn_up,
		.on_closed = proxy_conn_closed,
		.on_tls_failure = proxy_tls_failure,
	};
	netctx_set_handlers(e->net, &h, e);
}
