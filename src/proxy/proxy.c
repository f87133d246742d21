/* proxy.c - request and response paths of the edge. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <arpa/inet.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/su_alloc.h>

#include "net/conn.h"
#include "core/diag.h"
#include "proxy/edge.h"
#include "proxy/federation.h"
#include "core/guard.h"
#include "proxy/health.h"
#include "net/listener.h"
#include "util/log.h"
#include "util/counters.h"
#include "proxy/outbound.h"
#include "core/pat.h"
#include "core/policy.h"
#include "proxy/proxy.h"
#include "proxy/reject.h"
#include "proxy/respond.h"
#include "core/rewrite.h"
#include "core/route.h"
#include "core/share.h"
#include "core/sipmsg.h"
#include "proxy/txn.h"

#define ACK_LINGER_SECS 5   /* keep an INVITE txn after a non-2xx final */

/* ------------------------------------------------------------ helpers */

/* A refusal's counters, its response, the message freed; the caller
 * logged it (log_limit_reached). The phrase is always the default one. */
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

/* Headers a partner may not send the nodes (SPEC section 4): identity
 * claims the edge cannot prove, and Microsoft's trust marker, which only
 * an edge itself may set. Referred-By is proven like From instead. */
static const char *const untrusted_in_requests[] = {
	"ms-edge-proxy-message-trust", "Remote-Party-ID", "P-Preferred-Identity",
	"Identity", "y", "Identity-Info", "n", "Diversion", "History-Info", NULL
};
/* Also never sent outside, in either direction. */
static const char *const untrusted_in_responses[] = {
	"ms-edge-proxy-message-trust", NULL
};

/* How the edge presents itself for a given node. */
static struct zone_view view_for(const struct edge *e, int node)
{
	const struct conf *c = e->conf;
	struct zone_view zv = { .fqdn = c->edge.fqdn };
	enum transport tr = TRANSPORT_TCP;
	if (node >= 0) {
		zv.public_port = c->internal.nodes[node].ports[0].public_;
		tr = c->internal.nodes[node].transport;
	} else {
		for (size_t i = 0; i < c->nlisten && !zv.public_port; i++)
			if (c->listen[i].zone == ZONE_EXTERNAL)
				zv.public_port = c->listen[i].port;
	}
	zv.intl = listener_internal(e, tr);
	return zv;
}

/* ------------------------------------------------------------ sending */

static void on_txn_timeout(evutil_socket_t fd, short what, void *arg);

static struct conn *target_conn(struct edge *e, struct txn *t)
{
	const struct txn_target *tg = &t->targets[t->cur_target];
	if (t->down_zone == ZONE_INTERNAL) {
		const struct conf_node *n = &e->conf->internal.nodes[t->node];
		return conn_to(e, ZONE_INTERNAL, n->transport, tg->host, tg->port, t->node);
	}
	return conn_to(e, ZONE_EXTERNAL, TRANSPORT_TLS, tg->host, tg->port, -1);
}

static void local_response(struct txn *t, int status, const char *hdrs);

static void txn_send(struct txn *t)
{
	struct edge *e = t->edge;
	struct conn *c = target_conn(e, t);
	if (!c) {
		local_response(t, 503, NULL);
		txn_free(t);
		return;
	}
	/* A node that reads slower than partners send: the new request is
	 * refused rather than queued, and the node's connection stays up
	 * for everyone (SPEC section 1). */
	if (t->down_zone == ZONE_INTERNAL && conn_congested(c) && !t->on_final) {
		const struct conf *cf = e->conf;
		char hdrs[512];
		int n = snprintf(hdrs, sizeof hdrs, "Retry-After: 5\r\n");
		diag_warning(hdrs + n, sizeof hdrs - (size_t)n, cf->federation.diagnostics,
			     cf->edge.fqdn, "internal server congested");
		log_limit_reached("node_congested", t->node >= 0 ? cf->internal.nodes[t->node].name : NULL);
		local_response(t, 503, hdrs);
		txn_free(t);
		return;
	}
	txn_set_down(t, c->id);
	respond_send(c, t->fwd);
	/* No other target to resend it to: keep only what answering,
	 * cancelling and acknowledging need (SPEC section 1), not the body. */
	if (t->cur_target + 1 >= t->ntargets)
		txn_trim(t);
	int secs = t->timeout ? t->timeout
		: t->method == sip_method_invite ? e->conf->limits.invite_timeout
						 : e->conf->limits.transaction_timeout;
	txn_arm(t, secs, on_txn_timeout);
}

/* A request built from the forwarded INVITE: CANCEL, or ACK for a
 * non-2xx final (RFC 3261 9.1 and 17.1.1.3): same Request-URI, Call-ID,
 * From, CSeq number, Route, and our single Via. */
static msg_t *hop_request(struct txn *t, const char *name, sip_to_t const *to)
{
	sip_t const *f = sip_object(t->fwd);
	msg_t *msg = msg_create(sipmsg_mclass(), 0);
	if (!msg)
		return NULL;
	sip_t *s = sip_object(msg);
	su_home_t *home = msg_home(msg);
	sip_via_t *v = sip_via_copy(home, f->sip_via);
	char *uri = url_as_string(home, f->sip_request->rq_url);
	if (v)
		v->v_next = NULL;      /* only our own Via */
	if (!v || !uri ||
	    sip_add_make(msg, s, sipmsg_request_class(),
			 su_sprintf(home, "%s %s SIP/2.0", name, uri)) < 0 ||
	    sip_add_dup(msg, s, (sip_header_t *)v) < 0 ||
	    sip_add_make(msg, s, sip_max_forwards_class, "70") < 0 ||
	    sip_add_dup(msg, s, (sip_header_t *)f->sip_from) < 0 ||
	    sip_add_dup(msg, s, (sip_header_t *)(to ? to : f->sip_to)) < 0 ||
	    sip_add_dup(msg, s, (sip_header_t *)f->sip_call_id) < 0 ||
	    sip_add_make(msg, s, sipmsg_cseq_class(),
			 su_sprintf(home, "%u %s", f->sip_cseq->cs_seq, name)) < 0 ||
	    (f->sip_route && sip_add_dup(msg, s, (sip_header_t *)f->sip_route) < 0) ||
	    sip_add_make(msg, s, sip_content_length_class, "0") < 0 ||
	    sip_add_dup(msg, s, (sip_header_t *)sip_separator_create(home)) < 0) {
		msg_destroy(msg);
		return NULL;
	}
	return msg;
}

static void send_hop_request(struct txn *t, const char *name, sip_to_t const *to)
{
	struct conn *c = conn_by_id(t->edge, t->down_conn);
	msg_t *msg = c ? hop_request(t, name, to) : NULL;
	if (msg) {
		respond_send(c, msg);
		msg_destroy(msg);
	}
}

/* A response we make for a forwarded request, sent upstream. */
static void local_response(struct txn *t, int status, const char *hdrs)
{
	struct conn *up = conn_by_id(t->edge, t->up_conn);
	if (!up || t->method == sip_method_ack)
		return;
	msg_t *resp = sipmsg_response(t->fwd, status, NULL, hdrs);
	if (!resp)
		return;
	sip_t *rs = sip_object(resp);
	rewrite_pop_via(resp, rs);
	if (t->hidden_vias)
		rewrite_restore_vias(resp, rs, t->hidden_vias);
	rewrite_cross(t->edge, resp, rs, up->zone);   /* the Call-ID as upstream knows it */
	if (!sip_object(t->fwd)->sip_to->a_tag)
		respond_sign(t->edge, resp);
	respond_send(up, resp);
	counters_request(up->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND, respond_method(sip_object(t->fwd)), status, counters_since(&t->started));
	msg_destroy(resp);
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
	if (t->on_final) {
		t->on_final(t, 0);
		txn_free(t);
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
		  LOG_STR("status", "408"));
	local_response(t, 408, NULL);
	if (t->method == sip_method_invite) {
		/* Timer C: CANCEL downstream, and stay a while to ACK the 487
		 * (or other final) the callee answers it with (RFC 3261 16.8). */
		send_hop_request(t, "CANCEL", NULL);
		t->status = 408;
		t->timed_out = true;
		txn_arm(t, ACK_LINGER_SECS, on_linger_done);
		return;
	}
	txn_free(t);
}

/* ------------------------------------------------------------ forward */

/* Targets that failed within limits.unreachable_hold go last; if all
 * did, the remembered failure answers at once. */
static const struct reach_entry *skip_unreachable(struct edge *e,
						   struct txn_target *tg, size_t n)
{
	struct txn_target alive[TXN_MAX_TARGETS], dead[TXN_MAX_TARGETS];
	const struct reach_entry *last = NULL;
	size_t na = 0, nd = 0;
	time_t now = time(NULL);
	for (size_t i = 0; i < n; i++) {
		const struct reach_entry *r = reach_down(&e->reach, tg[i].host, tg[i].port, now);
		if (r) {
			dead[nd++] = tg[i];
			last = r;
		} else {
			alive[na++] = tg[i];
		}
	}
	memcpy(tg, alive, na * sizeof *tg);
	memcpy(tg + na, dead, nd * sizeof *tg);
	return na == 0 ? last : NULL;
}

static enum diag_code fail_code(int fail)
{
	if (fail == CFAIL_TLS)
		return DIAG_TLS;
	if (fail == CFAIL_CERT_NAME)
		return DIAG_CERT_NAME;
	return DIAG_CONNECT;
}

/* ms-diagnostics fqdn1..4 attributes: the targets that were tried. */
static void targets_attrs(const struct txn_target *tg, size_t n,
			  struct diag_attrs *a, char fq[4][300])
{
	for (size_t i = 0; i < n && i < 4; i++) {
		snprintf(fq[i], 300, "%.255s:%d", tg[i].host, tg[i].port);
		a->fqdn[i] = fq[i];
	}
}

/* Per-peer shares (SPEC section 1): the peer a transaction counts
 * against is the partner that sent the request, or, for a node's request,
 * the partner domain it goes to (one that never answers holds only its
 * own share). NULL when taken, else the limit that refused. */
static const char *take_share(struct conn *up, sip_t const *sip, struct txn *t)
{
	struct edge *e = up->edge;
	const struct conf *cf = e->conf;
	char key[SHARE_KEY_MAX], dom[256];
	if (up->zone == ZONE_EXTERNAL) {
		conn_peer_key(up, key, sizeof key);
	} else {
		sipmsg_host(sip->sip_request->rq_url, dom, sizeof dom);
		snprintf(key, sizeof key, "to:%.150s", dom);
	}
	if (!shares_take(e->shares, key, (unsigned)cf->limits.max_transactions_per_peer))
		return "max_transactions_per_peer";
	if (t->method == sip_method_invite) {
		char ik[SHARE_KEY_MAX + 8];
		snprintf(ik, sizeof ik, "invite|%s", key);
		if (!shares_take(e->shares, ik, (unsigned)cf->limits.max_invites_per_peer)) {
			shares_release(e->shares, key);
			return "max_invites_per_peer";
		}
		t->share_invite = true;
	}
	snprintf(t->share_key, sizeof t->share_key, "%s", key);
	return NULL;
}

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

/* The outbound target guard by name (SPEC section 4): never a blocked
 * domain, a node or the internal listener, whoever chose the target.
 * Addresses are checked once resolved (conn.c). Returns how many remain. */
static size_t guard_targets(struct txn_target *tg, size_t n, const struct conf *cf)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (guard_name(cf, tg[i].host))
			tg[k++] = tg[i];
	return k;
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
	if (toward == ZONE_EXTERNAL && (ntargets = guard_targets(targets, ntargets, e->conf)) == 0) {
		char domain[256];
		sipmsg_host(sip->sip_request->rq_url, domain, sizeof domain);
		struct diag_attrs a = { .domain = domain, .tls_target = targets_in[0].host };
		proxy_refuse_diag(up, msg, 403, "outbound_failed", "target_forbidden",
				  DIAG_NOT_FEDERATED, &a);
		return;
	}
	if (toward == ZONE_EXTERNAL) {
		const struct reach_entry *down = skip_unreachable(e, targets, ntargets);
		if (down) {
			char domain[256], fq[4][300];
			sipmsg_host(sip->sip_request->rq_url, domain, sizeof domain);
			struct diag_attrs a = { .domain = domain, .tls_target = down->host };
			targets_attrs(targets, ntargets, &a, fq);
			/* Same diagnostics as the failure it remembers. */
			char target[300], ms[12], hdrs[1024];
			snprintf(target, sizeof target, "%.255s:%d", down->host, down->port);
			snprintf(ms, sizeof ms, "%d", (int)fail_code(down->fail));
			log_event(LOG_WARNING, "outbound_failed",
				  LOG_STR("reason", "target_unreachable"),
				  LOG_STR("detail", down->reason),
				  LOG_STR("code", ms),
				  LOG_STR("status", "504"),
				  LOG_STR("domain", domain),
				  LOG_STR("target", target),
				  LOG_STR("call_id", respond_call_id(sip)),
				  LOG_STR("method", respond_method(sip)));
			diag_headers(hdrs, sizeof hdrs, e->conf->federation.diagnostics,
				     e->conf->edge.fqdn, fail_code(down->fail), &a, true);
			counters_rejection("outbound_failed", "target_unreachable");
			if (respond_expected(sip)) counters_request(COUNTER_OUTBOUND, respond_method(sip), 504, 0);
			respond_reply(up, msg, 504, NULL, hdrs);
			msg_destroy(msg);
			return;
		}
	}
	struct zone_view zv = view_for(e, node);
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
		const char *over = take_share(up, sip, t);
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
	/* Internal Vias never leave: kept in the txn, restored on the way back. */
	if (toward == ZONE_EXTERNAL) {
		sip_via_t *hidden = rewrite_hide_vias(msg, sip);
		if (t)
			t->hidden_vias = hidden;
	}
	rewrite_push_via(msg, sip, toward, &zv, branch);
	sip_method_t m = sip->sip_request->rq_method;
	if (m != sip_method_ack && m != sip_method_cancel)
		rewrite_record_route(msg, sip, toward, &zv);
	rewrite_own_uris_for(e, msg, sip, toward, &zv);
	rewrite_cross(e, msg, sip, toward);
	if (toward == ZONE_EXTERNAL)     /* it names a pool inside: never out */
		sipmsg_remove_named(msg, sip, untrusted_in_responses);

	if (t) {
		t->ntargets = ntargets;
		memcpy(t->targets, targets, ntargets * sizeof *targets);
		txn_send(t);
		return;
	}
	/* ACK for 2xx and BENOTIFY: stateless, first target only. */
	struct conn *c = toward == ZONE_INTERNAL
		? conn_to(e, ZONE_INTERNAL, e->conf->internal.nodes[node].transport,
			  targets[0].host, targets[0].port, node)
		: conn_to(e, ZONE_EXTERNAL, TRANSPORT_TLS, targets[0].host,
			  targets[0].port, -1);
	if (c && !(toward == ZONE_INTERNAL && conn_congested(c)))
		respond_send(c, msg);
	msg_destroy(msg);
}

struct txn *proxy_originate(struct edge *e, msg_t *msg, int node, int timeout,
			    void (*on_final)(struct txn *t, int status), void *arg)
{
	const struct conf_node *n = &e->conf->internal.nodes[node];
	struct txn *t = txn_new(e, msg, 0, "");
	if (!t) {
		msg_destroy(msg);
		return NULL;
	}
	sip_t *sip = sip_object(msg);
	struct zone_view zv = view_for(e, node);
	t->method = sip->sip_request->rq_method;
	t->down_zone = ZONE_INTERNAL;
	t->node = node;
	t->timeout = timeout;
	t->on_final = on_final;
	t->final_arg = arg;
	t->ntargets = 1;
	snprintf(t->targets[0].host, sizeof t->targets[0].host, "%s", n->address);
	t->targets[0].port = n->ports[0].internal;
	if (!zv.intl || !rewrite_push_via(msg, sip, ZONE_INTERNAL, &zv, t->branch)) {
		txn_free(t);
		return NULL;
	}
	txn_send(t);
	return t;
}

/* ------------------------------------------------------------ inbound */

static bool main_listener_port(const struct conf *c, int port)
{
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].zone == ZONE_EXTERNAL && c->listen[i].port == port)
			return true;
	return false;
}

/* A Route that names neither the edge (node URIs the edge handed out are
 * edge.fqdn:P) nor nothing: somewhere a node must not be sent. */
static bool foreign_route(const struct conf *cf, sip_route_t const *r)
{
	for (; r; r = r->r_next) {
		char h[256];
		/* maddr overrides the host (RFC 3261 19.1.1): an outsider's
		 * edge.fqdn;maddr=INTERNAL would steer the node inward. */
		if (strcasecmp(sipmsg_host(r->r_url, h, sizeof h), cf->edge.fqdn) != 0 ||
		    url_has_param(r->r_url, "maddr"))
			return true;
	}
	return false;
}

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

/* A maddr in the Request-URI from outside that names a node, an internal
 * name, one of our own addresses or a special address the guard would not
 * let the edge dial: a node honouring it (RFC 3263) would be steered
 * there. A public maddr (Lync GRUUs carry one) passes unchanged. */
static bool maddr_inward(const struct conf *cf, url_t const *u)
{
	char m[256];
	if (url_param(u->url_params, "maddr", m, sizeof m) <= 0)
		return false;
	size_t n = strlen(m);
	if (n > 2 && m[0] == '[' && m[n - 1] == ']') {
		memmove(m, m + 1, n - 2);
		m[n - 2] = '\0';
	}
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, m, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, m, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return !guard_name(cf, m);
	return guard_address(cf, NULL, (struct sockaddr *)&ss, NULL, 0) != GUARD_OK;
}

/* The request passed the federation policy: now where it may go. */
static void inbound_accepted(struct conn *c, msg_t *msg, int route_port)
{
	struct edge *e = c->edge;
	const struct conf *cf = e->conf;
	sip_t *sip = sip_object(msg);
	url_t *ruri = sip->sip_request->rq_url;
	char host[256];
	sipmsg_host(ruri, host, sizeof host);
	if (foreign_route(cf, sip->sip_route) || maddr_inward(cf, ruri)) {
		/* Routes left after ours lead elsewhere: a node honouring them
		 * would make the edge a relay. */
		struct diag_attrs a = { .domain = host };
		proxy_refuse_diag(c, msg, 403, "inbound_rejected", "foreign_route",
				  DIAG_NOT_LOCAL, &a);
		return;
	}

	struct inbound_hint h = {
		.arrival_port = c->local_port,
		.main_listener = main_listener_port(cf, c->local_port),
		.route_public_port = route_port,
		.in_dialog = sip->sip_to->a_tag != NULL,
	};
	if (strcasecmp(host, cf->edge.fqdn) == 0) {
		int port = ruri->url_port ? atoi(ruri->url_port)
			: pat_default_port(ruri->url_type == url_sips, ruri->url_params);
		if (!pat_node_for_public(cf, port, NULL)) {
			struct diag_attrs a = { .domain = host };
			proxy_refuse_diag(c, msg, 403, "inbound_rejected", "not_local_domain",
				    DIAG_NOT_LOCAL, &a);
			return;
		}
		h.ruri_public_port = port;
	} else if (!conf_is_local_domain(cf, host)) {
		/* The edge never relays outside to outside. */
		struct diag_attrs a = { .domain = host };
		proxy_refuse_diag(c, msg, 403, "inbound_rejected", "not_local_domain",
			    DIAG_NOT_LOCAL, &a);
		return;
	}
	sipmsg_remove_named(msg, sip, untrusted_in_requests);
	if (cf->federation.stamp_trust)
		stamp_trust(cf, msg, sip);

	int node = route_inbound_node(cf, health_up(e), &h);
	if (node < 0) {
		refuse(c, msg, 503, NULL, "inbound_rejected", "no_node_available", 0,
		       host, "Retry-After: 30\r\n");
		return;
	}
	const struct conf_node *n = &cf->internal.nodes[node];
	struct txn_target tg = { .port = n->ports[0].internal };
	snprintf(tg.host, sizeof tg.host, "%s", n->address);
	proxy_forward(c, msg, ZONE_INTERNAL, node, &tg, 1);
}

static void inbound(struct conn *c, msg_t *msg, int route_port)
{
	if (federation_inbound(c, msg, route_port, inbound_accepted) == FED_PASS)
		inbound_accepted(c, msg, route_port);
}

/* ------------------------------------------------------------ outbound */

static bool host_is_ip(const char *h)
{
	unsigned char buf[16];
	return h && (h[0] == '[' || inet_pton(AF_INET, h, buf) == 1);
}

static void outbound(struct conn *c, msg_t *msg, sip_t *sip)
{
	struct txn_target tg;
	url_t const *u;
	char to[256];
	/* In dialog too: a dialog never outlives a block (SPEC section 4). */
	sipmsg_host(sip->sip_to->a_url, to, sizeof to);
	if (sip->sip_to->a_tag && policy_blocked(c->edge->conf, to)) {
		struct diag_attrs a = { .domain = to };
		proxy_refuse_diag(c, msg, 403, "outbound_failed", "domain_blocked",
				  DIAG_NOT_FEDERATED, &a);
		return;
	}
	if (sip->sip_route) {          /* in dialog: the peer's Record-Route */
		u = sip->sip_route->r_url;
	} else if (sip->sip_to->a_tag && (sip->sip_request->rq_url->url_port ||
		   host_is_ip(sip->sip_request->rq_url->url_host))) {
		u = sip->sip_request->rq_url;   /* a Contact: go there (RFC 3263) */
	} else {
		outbound_route(c, msg, sip->sip_to->a_tag != NULL);
		return;
	}
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
	counters_request(c->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND, "CANCEL", 200, 0);
	msg_destroy(msg);
	if (t->status < 200)
		send_hop_request(t, "CANCEL", NULL);
}

/* Proxy-Require (RFC 3261 16.3 step 5): every option tag, over every
 * Proxy-Require line, must be in federation.supported_extensions; the
 * others are listed in Unsupported with the 420. True when refused. */
static bool refuse_unsupported(struct conn *c, msg_t *msg, sip_t const *sip)
{
	const struct conf *cf = c->edge->conf;
	char hdr[600] = "Unsupported: ";
	size_t off = strlen(hdr), n = 0;
	for (sip_proxy_require_t const *k = sip->sip_proxy_require; k; k = k->k_next)
		for (size_t i = 0; k->k_items && k->k_items[i]; i++) {
			bool known = false;
			for (size_t x = 0; x < cf->federation.nsupported_extensions; x++)
				known |= strcasecmp(k->k_items[i],
						    cf->federation.supported_extensions[x]) == 0;
			if (known)
				continue;
			int w = snprintf(hdr + off, sizeof hdr - off, "%s%s", n ? ", " : "",
					 k->k_items[i]);
			n++;
			if (w > 0 && (size_t)w < sizeof hdr - off - 3)
				off += (size_t)w;
			else
				hdr[off] = '\0';   /* too long to list: the 420 goes without */
		}
	if (n == 0)
		return false;
	strcpy(hdr + off, "\r\n");
	refuse(c, msg, 420, NULL, "message_rejected", "proxy_require", 0, NULL,
	       off > strlen("Unsupported: ") ? hdr : NULL);
	return true;
}

/* OPTIONS for the edge itself: no user part, no Route left, and the
 * host is edge.fqdn or one of its listeners (RFC 3261 11; a partner's
 * keep-alive, such as Kamailio's dispatcher probe). */
static bool addressed_to_edge(const struct edge *e, enum zone from, sip_t const *sip)
{
	url_t const *u = sip->sip_request->rq_url;
	/* In a dialog (To tag) an OPTIONS is for the other end. */
	if (sip->sip_route || sip->sip_to->a_tag || (u->url_user && *u->url_user) ||
	    !u->url_host)
		return false;
	if (sipmsg_host_is(u->url_host, e->conf->edge.fqdn) ||
	    (e->conf->edge.public_address && sipmsg_host_is(u->url_host, e->conf->edge.public_address)))
		return true;
	/* Only the listeners of the zone it came from: an outsider must not
	 * learn which internal address is ours. */
	for (const struct listener *l = e->listeners; l; l = l->next)
		if (l->zone == from && sipmsg_host_is(u->url_host, l->address))
			return true;
	return false;
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
		  LOG_STR("call_id", respond_call_id(sip_object(msg))));
	counters_request(c->zone == ZONE_EXTERNAL ? COUNTER_INBOUND
			: COUNTER_OUTBOUND, "OPTIONS", 200, 0);
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
				  LOG_STR("call_id", respond_call_id(sip)));
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
	if (rewrite_looped(e, sip)) {
		proxy_refuse_text(c, msg, 482, "message_rejected", "loop_detected",
			    "request already passed this edge");
		return;
	}
	if (sip->sip_proxy_require && refuse_unsupported(c, msg, sip))
		return;
	int strict_port = rewrite_strict_route(e, msg, sip);
	int route_port = rewrite_pop_own_routes(e, msg, sip, c->zone);
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
			   const char *reason)
{
	counters_rejection("stray_response", reason);
	time_t now = time(NULL);
	if (c->stray_logged_at == now) {
		c->stray_suppressed++;
	} else {
		char code[12], supp[16];
		snprintf(code, sizeof code, "%d", sip->sip_status->st_status);
		snprintf(supp, sizeof supp, "%u", c->stray_suppressed);
		log_event(LOG_INFO, "stray_response",
			  LOG_STR("reason", reason),
			  LOG_STR("peer", c->peer),
			  LOG_STR("status", code),
			  LOG_STR("call_id", respond_call_id(sip)),
			  LOG_STR("method", respond_method(sip)),
			  LOG_STR("suppressed", c->stray_suppressed ? supp : NULL));
		c->stray_logged_at = now;
		c->stray_suppressed = 0;
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
	if (t && t->timed_out && t->down_conn == c->id && status >= 300 &&
	    sip->sip_cseq->cs_method == sip_method_invite) {
		send_hop_request(t, "ACK", sip->sip_to);
		msg_destroy(msg);
		return;
	}
	const char *stray = !t ? "no_transaction"
		/* Only the connection the request went out on may answer it:
		 * a branch seen elsewhere proves nothing about the sender. */
		: t->down_conn != c->id ? "wrong_connection"
		: t->status >= 200 && !(t->method == sip_method_invite && status < 300)
		? "already_answered" : NULL;
	if (stray) {
		stray_response(c, msg, sip, stray);
		return;
	}
	/* Hop by hop: we sent our own 100, and answered the CANCEL ourselves. */
	if (status == 100 || sip->sip_cseq->cs_method == sip_method_cancel) {
		msg_destroy(msg);
		return;
	}
	if (t->on_final) {
		msg_destroy(msg);
		if (status >= 200) {
			t->on_final(t, status);
			txn_free(t);
		}
		return;
	}
	if (c->zone == ZONE_EXTERNAL)
		sipmsg_remove_named(msg, sip, untrusted_in_responses);
	rewrite_pop_via(msg, sip);
	if (t->hidden_vias)
		rewrite_restore_vias(msg, sip, t->hidden_vias);
	struct conn *up = conn_by_id(e, t->up_conn);
	if (up) {
		struct zone_view zv = view_for(e, t->node);
		rewrite_own_uris_for(e, msg, sip, up->zone, &zv);
		rewrite_cross(e, msg, sip, up->zone);
		if (up->zone == ZONE_EXTERNAL)
			sipmsg_remove_named(msg, sip, untrusted_in_responses);
		respond_send(up, msg);
	}
	if (status < 200) {
		t->status = status;
		/* Timer C (RFC 3261 16.8): a ringing INVITE lives on while
		 * provisionals keep coming. */
		if (t->method == sip_method_invite && !t->on_final)
			txn_arm(t, e->conf->limits.invite_timeout, on_txn_timeout);
		msg_destroy(msg);
		return;
	}
	int first_final = t->status < 200;
	if (first_final && up) counters_request(up->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND, sip->sip_cseq->cs_method_name, status, counters_since(&t->started));
	t->status = status;
	if (t->method == sip_method_invite && status >= 300) {
		if (first_final)     /* RFC 3261 16.7: we ACK non-2xx downstream */
			send_hop_request(t, "ACK", sip->sip_to);
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

/* How many values a header list holds, counted up to limit + 1. */
static size_t values(msg_header_t const *h, size_t limit)
{
	size_t n = 0;
	for (; h && n <= limit; h = h->sh_next)
		n++;
	return n;
}

/* Header values, not lines, are what costs (SPEC section 1): a request
 * with more Via values than RFC 3261 loop detection needs, or more Route,
 * Record-Route or Contact values than max_header_values, is refused
 * before any other work. A response may carry what the edge itself added
 * on top of a request it accepted (its Via, its two Record-Route
 * entries), so it is held to the caps plus that; one over is dropped,
 * never a reason to close the connection it came on. */
static const char *too_many_values(const struct conf *cf, sip_t const *sip, int *status)
{
	size_t slack = sip->sip_status ? 2 : 0;
	size_t via = (size_t)cf->limits.max_via + slack;
	size_t other = (size_t)cf->limits.max_header_values + slack;
	*status = 483;
	if (values((msg_header_t const *)sip->sip_via, via) > via)
		return "too_many_via";
	*status = 400;
	if (values((msg_header_t const *)sip->sip_route, other) > other ||
	    values((msg_header_t const *)sip->sip_record_route, other) > other ||
	    values((msg_header_t const *)sip->sip_contact, other) > other)
		return "too_many_values";
	return NULL;
}

void proxy_on_message(struct conn *c, msg_t *msg)
{
	sip_t *sip = sip_object(msg);
	int status = 0;
	const char *many = sip && (sip->sip_request || sip->sip_status)
		? too_many_values(c->edge->conf, sip, &status) : NULL;
	if (many) {
		if (sip->sip_status) {
			stray_response(c, msg, sip, many);
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
		log_event(LOG_NOTICE, "message_rejected",
			  LOG_STR("peer", c->peer),
			  LOG_STR("reason", bad),
			  LOG_STR("call_id", respond_call_id(sip)),
			  LOG_STR("method", respond_method(sip)));
		counters_rejection("message_rejected", "malformed");
		if (sip && sip->sip_request && sip->sip_via &&
		    sip->sip_request->rq_method != sip_method_ack) {
			counters_request(c->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND, respond_method(sip), 400, 0);
			char hdrs[512];
			diag_warning(hdrs, sizeof hdrs, c->edge->conf->federation.diagnostics,
				     c->edge->conf->edge.fqdn, bad);
			respond_reply(c, msg, 400, NULL, hdrs);
		} else if (!sip || !sip->sip_status) {
			/* A request we cannot even answer: the stream is not to
			 * be trusted further (RFC 4475 badinv01). */
			msg_destroy(msg);
			conn_close(c, CFAIL_CLOSED, "parse_error");
			return;
		}
		msg_destroy(msg);
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
	if (t->on_final) {
		t->on_final(t, -1);
		txn_free(t);
		return;
	}
	if (t->down_zone == ZONE_EXTERNAL && c->fail != CFAIL_CLOSED &&
	    c->fail != CFAIL_FORBIDDEN)
		reach_mark(&t->edge->reach, c->target, c->target_port, c->fail,
			   c->fail_reason, time(NULL), cf->limits.unreachable_hold);
	/* Not delivered: the next target may do better. */
	if (c->fail != CFAIL_CLOSED && t->cur_target + 1 < t->ntargets) {
		t->cur_target++;
		txn_send(t);
		return;
	}
	sip_t const *f = sip_object(t->fwd);
	char hdrs[1024];
	if (t->down_zone == ZONE_INTERNAL) {
		/* The details name internal hosts: they go to the log only. */
		log_event(LOG_WARNING, "node_unreachable",
			  LOG_STR("node", t->node >= 0 ? cf->internal.nodes[t->node].name : "(removed)"),
			  LOG_STR("reason", conn_fail_slug(c->fail)),
			  LOG_STR("detail", c->fail_reason),
			  LOG_STR("call_id", respond_call_id(f)),
			  LOG_STR("method", respond_method(f)),
			  LOG_STR("status", "503"));
		diag_warning(hdrs, sizeof hdrs, cf->federation.diagnostics, cf->edge.fqdn,
			     "internal server unavailable");
		size_t off = strlen(hdrs);
		snprintf(hdrs + off, sizeof hdrs - off, "Retry-After: 30\r\n");
		local_response(t, 503, hdrs);
		txn_free(t);
		return;
	}
	enum diag_code code = fail_code(c->fail);
	char domain[256], fqdn1[300], names[512], ms[12], fq[4][300];
	sipmsg_host(f->sip_request->rq_url, domain, sizeof domain);
	snprintf(fqdn1, sizeof fqdn1, "%s:%d", c->target, c->target_port);
	certnames_join(&c->names, names, sizeof names);
	struct diag_attrs a = {
		.domain = domain,
		.tls_target = c->target,
		.peer_server = code == DIAG_CERT_NAME && *names ? names : NULL,
	};
	targets_attrs(t->targets, t->ntargets, &a, fq);
	int status = c->fail == CFAIL_CLOSED ? 503 : 504;
	snprintf(ms, sizeof ms, "%d", (int)code);
	log_event(LOG_WARNING, "outbound_failed",
		  LOG_STR("reason", conn_fail_slug(c->fail)),
		  LOG_STR("detail", c->fail_reason),
		  LOG_STR("code", ms),
		  LOG_STR("status", status == 503 ? "503" : "504"),
		  LOG_STR("domain", domain),
		  LOG_STR("target", fqdn1),
		  LOG_STR("peer", c->peer[0] ? c->peer : NULL),
		  LOG_STR("call_id", respond_call_id(f)),
		  LOG_STR("method", respond_method(f)));
	diag_headers(hdrs, sizeof hdrs, cf->federation.diagnostics, cf->edge.fqdn,
		     code, &a, true);
	local_response(t, status, hdrs);
	txn_free(t);
}

void proxy_conn_closed(struct conn *c)
{
	if (c->zone == ZONE_INTERNAL && c->node >= 0)
		health_conn_lost(c->edge, c->node, c->fail, c->fail_reason);
	txn_each_down(c->edge, c->id, on_down_closed, c);
}
