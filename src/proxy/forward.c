/* forward.c - sending requests downstream on their transactions, and the
 * edge's own requests (see forward.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/su_alloc.h>

#include "net/conn.h"
#include "core/classify.h"
#include "proxy/edge.h"
#include "proxy/forward.h"
#include "core/guard.h"
#include "net/listener.h"
#include "util/log.h"
#include "proxy/respond.h"
#include "core/share.h"
#include "core/sipmsg.h"

void fwd_refresh_view(struct edge *e)
{
	size_t n = 0;
	for (const struct listener *l = e->listeners; l && n < EDGE_MAX_OWN; l = l->next)
		e->own[n++] = (struct own_addr){ l->zone, l->transport, l->address, l->port };
	/* The internal tokens once per configuration, not per message: the
	 * list is de-duplicated, quadratic in the number of node names. */
	size_t nt = topo_tokens_count(e->conf);
	const char **tv = nt ? calloc(nt, sizeof *tv) : NULL;
	free(e->tokv);
	e->tokv = tv;
	e->rw = (struct rewrite_ctx){ e->conf, e->secret, e->own, n,
				      e->secret_prev_open ? e->secret_prev.key : NULL,
				      { tv, tv ? topo_tokens_fill(e->conf, tv, nt) : 0 } };
}

struct zone_view fwd_view(const struct edge *e, int node)
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
	zv.intl = rewrite_internal_listener(&e->rw, tr);
	return zv;
}

struct conn *fwd_conn(struct edge *e, enum zone toward, int node,
		      const struct txn_target *tg)
{
	if (toward == ZONE_INTERNAL) {
		const struct conf_node *n = &e->conf->internal.nodes[node];
		return conn_to(e->net, ZONE_INTERNAL, n->transport, tg->host, tg->port, node);
	}
	return conn_to(e->net, ZONE_EXTERNAL, TRANSPORT_TLS, tg->host, tg->port, -1);
}

/* An originated request got no final in time. */
static void on_own_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	txn_complete(arg, 0);
}

int fwd_send(struct txn *t, void (*on_timeout)(evutil_socket_t, short, void *),
	     char *hdrs, size_t len)
{
	struct edge *e = t->edge;
	struct conn *c = fwd_conn(e, t->down_zone, t->node, &t->targets[t->cur_target]);
	hdrs[0] = '\0';
	if (!c)
		return 503;
	/* A node that reads slower than partners send: the new request is
	 * refused rather than queued, and the node's connection stays up
	 * for everyone (SPEC section 1). */
	if (t->down_zone == ZONE_INTERNAL && conn_congested(c) && t->kind == TXN_FORWARDED) {
		const struct conf *cf = e->conf;
		int n = snprintf(hdrs, len, "Retry-After: 5\r\n");
		diag_warning(hdrs + n, len - (size_t)n, cf->federation.diagnostics,
			     cf->edge.fqdn, "internal server congested");
		log_limit_reached("node_congested", t->node >= 0 ? cf->internal.nodes[t->node].name : NULL);
		return 503;
	}
	txn_set_down(t, c->id);
	if (e->tap.watchers && t->kind == TXN_FORWARDED) {
		char hop[300];
		if (t->node >= 0)
			snprintf(hop, sizeof hop, "node:%s", e->conf->internal.nodes[t->node].name);
		else
			snprintf(hop, sizeof hop, "%s:%d", t->targets[t->cur_target].host,
				 t->targets[t->cur_target].port);
		TAP(e, .kind = TAP_DECISION, .msg = t->fwd, .verdict = "forwarded",
		    .next_hop = hop, .txn = t->id);
	}
	respond_send(c, t->fwd);
	/* No other target to resend it to: keep only what answering,
	 * cancelling and acknowledging need (SPEC section 1), not the body. */
	if (t->cur_target + 1 >= t->ntargets)
		txn_trim(t);
	int secs = t->timeout ? t->timeout
		: t->method == sip_method_invite ? e->conf->limits.invite_timeout
						 : e->conf->limits.transaction_timeout;
	txn_arm(t, secs, t->kind == TXN_FORWARDED ? on_timeout : on_own_timeout);
	return 0;
}

/* Same Request-URI, Call-ID, From, CSeq number, Route, and our single
 * Via as the forwarded INVITE. */
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

void fwd_hop_request(struct txn *t, const char *name, sip_to_t const *to)
{
	struct conn *c = conn_by_id(t->edge->net, t->down_conn);
	msg_t *msg = c ? hop_request(t, name, to) : NULL;
	if (msg) {
		respond_send(c, msg);
		msg_destroy(msg);
	}
}

const struct reach_entry *fwd_skip_unreachable(struct edge *e,
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

enum diag_code fwd_fail_code(int fail)
{
	if (fail == CFAIL_TLS)
		return DIAG_TLS;
	if (fail == CFAIL_CERT_NAME)
		return DIAG_CERT_NAME;
	return DIAG_CONNECT;
}

void fwd_targets_attrs(const struct txn_target *tg, size_t n,
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
 * own share). */
const char *fwd_take_share(struct conn *up, sip_t const *sip, struct txn *t)
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

/* The outbound target guard by name (SPEC section 4): never a blocked
 * domain, a node or the internal listener, whoever chose the target.
 * Addresses are checked once resolved (conn.c). */
size_t fwd_guard_targets(struct txn_target *tg, size_t n, const struct conf *cf)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (guard_name(cf, tg[i].host))
			tg[k++] = tg[i];
	return k;
}

void fwd_rewrite(struct edge *e, msg_t *msg, enum zone toward,
		 const struct zone_view *zv, struct txn *t, const char *branch)
{
	sip_t *sip = sip_object(msg);
	/* Internal Vias never leave: kept in the txn, restored on the way back. */
	if (toward == ZONE_EXTERNAL) {
		sip_via_t *hidden = rewrite_hide_vias(msg, sip);
		if (t)
			t->hidden_vias = hidden;
	}
	rewrite_push_via(msg, sip, toward, zv, branch);
	sip_method_t m = sip->sip_request->rq_method;
	if (m != sip_method_ack && m != sip_method_cancel)
		rewrite_record_route(msg, sip, toward, zv);
	rewrite_own_uris_for(&e->rw, msg, sip, toward, zv);
	rewrite_cross(&e->rw, msg, sip, toward);
	if (toward == ZONE_EXTERNAL)     /* it names a pool inside: never out */
		sipmsg_remove_named(msg, sip, classify_untrusted_in_responses);
}

struct txn *txn_originate(struct edge *e, enum txn_kind kind, msg_t *msg,
			  int node, int timeout,
			  void (*on_final)(struct txn *t, int status), void *arg)
{
	const struct conf_node *n = &e->conf->internal.nodes[node];
	struct txn *t = txn_new(e, msg, 0, "");
	if (!t) {
		msg_destroy(msg);
		return NULL;
	}
	sip_t *sip = sip_object(msg);
	struct zone_view zv = fwd_view(e, node);
	t->kind = kind;
	t->method = sip->sip_request->rq_method;
	t->down_zone = ZONE_INTERNAL;
	t->node = node;
	t->timeout = timeout;
	t->on_final = on_final;
	t->final_arg = arg;
	t->ntargets = 1;
	snprintf(t->targets[0].host, sizeof t->targets[0].host, "%s", n->address);
	t->targets[0].port = n->ports[0].internal;
	char hdrs[512];
	if (!zv.intl || !rewrite_push_via(msg, sip, ZONE_INTERNAL, &zv, t->branch) ||
	    fwd_send(t, NULL, hdrs, sizeof hdrs) != 0) {
		txn_free(t);
		return NULL;
	}
	return t;
}
