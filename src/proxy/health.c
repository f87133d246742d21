/* health.c - OPTIONS probes and node up/down state. Health uses the
 * transaction API (txn_originate, with its completion callback) and is
 * never called by the proxy: it registers its up[] array and its
 * connection-lost hook with the transaction table (txn_watch_nodes). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include <sofia-sip/sip_protos.h>

#include "proxy/edge.h"
#include "proxy/forward.h"
#include "proxy/health.h"
#include "util/log.h"
#include "core/sipmsg.h"
#include "proxy/txn.h"
#include "core/nodeview.h"

struct node_health {
	bool up;
	int lost;                /* probes lost in a row */
	struct txn *probe;       /* outstanding probe, or NULL */
};

struct health {
	struct edge *edge;
	struct node_health *n;
	bool *up;                /* copy of n[].up for route_inbound_node() */
	bool *shared;            /* workers: the shared array, or NULL */
	bool reader;             /* up is the shared array, written by another
				  * worker: no probes here */
	struct node_view *view;  /* workers: the shared view */
	uint64_t gen;            /* nodeview_gen() of our node list */
	struct event *timer;
};

/* txn_id: the probe that decided, 0 if none did (a lost connection). */
static void set_state(struct health *h, int i, bool up, const char *reason,
		      uint64_t txn_id)
{
	if (h->n[i].up == up)
		return;
	h->n[i].up = h->up[i] = up;
	if (h->shared)
		h->shared[i] = up;
	char lost[12];
	snprintf(lost, sizeof lost, "%d", h->n[i].lost);
	log_event(up ? LOG_NOTICE : LOG_WARNING, up ? "node_up" : "node_down",
		  LOG_STR("node", h->edge->conf->internal.nodes[i].name),
		  LOG_STR("reason", up ? NULL : reason),
		  LOG_STR("lost_probes", up ? NULL : lost), LOG_TXN(txn_id));
}

static void on_probe_done(struct txn *t, int status)
{
	struct health *h = t->final_arg;
	int i = t->node;
	h->n[i].probe = NULL;
	if (status > 0) {        /* any answer means the node is alive */
		h->n[i].lost = 0;
		set_state(h, i, true, NULL, t->id);
		return;
	}
	h->n[i].lost++;
	if (status < 0)
		set_state(h, i, false, "connection failed", t->id);
	else if (h->n[i].lost >= h->edge->conf->internal.health.failures)
		set_state(h, i, false, "no answer to OPTIONS", t->id);
}

static msg_t *probe_msg(const struct conf *c, const struct conf_node *n)
{
	unsigned char r[8];
	RAND_bytes(r, sizeof r);
	char text[1024];
	snprintf(text, sizeof text,
		 "OPTIONS sip:%s:%d;transport=%s SIP/2.0\r\n"
		 "Max-Forwards: 70\r\n"
		 "From: <sip:%s>;tag=%02x%02x%02x%02x\r\n"
		 "To: <sip:%s:%d>\r\n"
		 "Call-ID: probe-%02x%02x%02x%02x@%s\r\n"
		 "CSeq: 1 OPTIONS\r\n"
		 "Content-Length: 0\r\n\r\n",
		 n->address, n->ports[0].internal,
		 n->transport == TRANSPORT_TLS ? "tls" : "tcp",
		 c->edge.fqdn, r[0], r[1], r[2], r[3],
		 n->address, n->ports[0].internal,
		 r[4], r[5], r[6], r[7], c->edge.fqdn);
	msg_t *msg = msg_make(sipmsg_mclass(), 0, text, strlen(text));
	return msg;
}

static void probe(struct health *h, int i)
{
	struct edge *e = h->edge;
	if (h->n[i].probe)
		return;
	msg_t *msg = probe_msg(e->conf, &e->conf->internal.nodes[i]);
	if (msg)
		h->n[i].probe = txn_originate(e, TXN_PROBE, msg, i,
					      e->conf->internal.health.timeout,
					      on_probe_done, h);
}

static void conn_lost(void *arg, int node, enum conn_fail why, const char *reason);

/* A reader: the prober's state while its node list is ours; else our own
 * (every node up: we do not probe). */
static const bool *reader_view(void *arg)
{
	struct health *h = arg;
	const bool *up = nodeview_read(h->view, h->gen, h->edge->conf->internal.nnodes);
	return up ? up : h->up;
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct health *h = arg;
	for (size_t i = 0; i < h->edge->conf->internal.nnodes; i++)
		probe(h, (int)i);
}

bool health_start(struct edge *e)
{
	const struct conf *c = e->conf;
	struct health *h = calloc(1, sizeof *h);
	if (!h)
		return false;
	h->edge = e;
	h->n = calloc(c->internal.nnodes + 1, sizeof *h->n);
	h->up = calloc(c->internal.nnodes + 1, sizeof *h->up);
	if (!h->n || !h->up) {
		free(h->n);
		free(h->up);
		free(h);
		return false;
	}
	for (size_t i = 0; i < c->internal.nnodes; i++)
		h->n[i].up = h->up[i] = true;     /* until a probe says otherwise */
	if (e->shared_up && c->internal.nnodes <= e->shared_up_n) {
		h->view = e->shared_up;
		h->gen = nodeview_gen(c);
		if (e->health_prober) {
			/* A restarted (or reloaded) prober on the same list
			 * keeps what is known, and probes at once below. With
			 * health off it does not probe: every node up, as in
			 * one process (a "down" kept would stay for good). */
			if (nodeview_claim(h->view, h->gen, c->internal.nnodes,
					   c->internal.health.interval > 0))
				for (size_t i = 0; i < c->internal.nnodes; i++)
					h->n[i].up = h->up[i] = h->view->up[i];
			h->shared = h->view->up;
		} else {
			h->reader = true;
		}
	}
	e->health = h;
	txn_watch_nodes(e, &(struct node_watch){
		.up = h->up, .lost = conn_lost, .arg = h,
		.current = h->reader ? reader_view : NULL });
	if (c->internal.health.interval > 0 && !h->reader) {
		h->timer = event_new(e->base, -1, EV_PERSIST, on_tick, h);
		struct timeval tv = { c->internal.health.interval, 0 };
		event_add(h->timer, &tv);
		on_tick(-1, 0, h);
	}
	return true;
}

void health_stop(struct edge *e)
{
	struct health *h = e->health;
	if (!h)
		return;
	txn_watch_nodes(e, NULL);
	if (h->timer)
		event_free(h->timer);
	/* Outstanding probes are freed with the txn table. */
	for (size_t i = 0; i < e->conf->internal.nnodes; i++)
		if (h->n[i].probe)
			h->n[i].probe->on_final = NULL;
	free(h->n);
	free(h->up);
	free(h);
	e->health = NULL;
}

const bool *health_up(const struct edge *e)
{
	if (!e->health)
		return NULL;
	return e->health->reader ? reader_view(e->health) : e->health->up;
}

/* A connection to node closed or failed (the proxy tells the txn table,
 * which tells us). */
static void conn_lost(void *arg, int node, enum conn_fail why, const char *reason)
{
	struct health *h = arg;
	struct edge *e = h->edge;
	if (node < 0 || e->stopping || e->conf->internal.health.interval <= 0 ||
	    h->reader)
		return;
	if (why == CFAIL_CONNECT || why == CFAIL_TLS || why == CFAIL_CERT_NAME ||
	    why == CFAIL_DNS) {
		h->n[node].lost++;
		set_state(h, node, false, reason, 0);
	} else if (why == CFAIL_CLOSED && h->n[node].up) {
		probe(h, node);          /* find out now rather than at the tick */
	}
}
