/* listener.c - bind, accept, hand the socket to conn.c with its zone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "net/conn.h"
#include "net/netctx.h"
#include "net/listener.h"
#include "util/counters.h"
#include "util/log.h"
#include "util/netaddr.h"

/* Behind a load balancer, only the balancers may connect: anyone else
 * could name any address in a PROXY header. */
static bool proxy_allowed(const struct listener *l, const struct sockaddr *sa)
{
	for (size_t i = 0; i < l->nproxy_from; i++)
		if (net_contains(&l->proxy_from[i], sa))
			return true;
	return false;
}

static void refuse_unproxied(const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?", peer[INET6_ADDRSTRLEN + 8];
	unsigned char a[16];
	int fam = net_addr_of(sa, a);
	if (fam)
		inet_ntop(fam, a, ip, sizeof ip);
	snprintf(peer, sizeof peer, fam == AF_INET6 ? "[%s]:%d" : "%s:%d", ip, net_port_of(sa));
	counters_rejection("connection_refused", "proxy_not_allowed");
	unsigned dropped;
	if (log_flood_allow("connection_refused", "proxy_not_allowed", &dropped))
		log_event(LOG_WARNING, "connection_refused", LOG_STR("zone", "external"),
			  LOG_STR("peer", peer), LOG_STR("reason", "proxy_not_allowed"),
			  LOG_STR("detail", "not in the listener's proxy_from"),
			  LOG_COUNT("suppressed", dropped));
}

static void on_accept(struct evconnlistener *ev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	(void)ev;
	struct listener *l = arg;
	l->backoff_ms = 0;
	if (l->proxy && !proxy_allowed(l, sa)) {
		refuse_unproxied(sa);
		evutil_closesocket(fd);
		return;
	}
	conn_accept(l->net, fd, sa, salen, l->zone, l->transport, l->port, l->proxy);
}

/* accept() failed. Out of descriptors (or memory) the socket stays
 * readable and the loop would spin on it: pause this listener, with a
 * backoff from 10 ms doubling to 1 s, logged once a second. Other errors
 * (a connection reset before it was accepted) need nothing. */
static void on_resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct listener *l = arg;
	evconnlistener_enable(l->ev);
}

static void on_accept_error(struct evconnlistener *ev, void *arg)
{
	struct listener *l = arg;
	int err = EVUTIL_SOCKET_ERROR();
	if (err != EMFILE && err != ENFILE && err != ENOBUFS && err != ENOMEM)
		return;
	evconnlistener_disable(ev);
	l->backoff_ms = l->backoff_ms ? l->backoff_ms * 2 : 10;
	if (l->backoff_ms > 1000)
		l->backoff_ms = 1000;
	if (!l->resume)
		l->resume = evtimer_new(l->net->base, on_resume, l);
	struct timeval tv = { l->backoff_ms / 1000, (l->backoff_ms % 1000) * 1000 };
	if (l->resume)
		evtimer_add(l->resume, &tv);
	else
		evconnlistener_enable(ev);
	unsigned dropped;
	if (log_flood_allow("limit_reached", "file_descriptors", &dropped)) {
		log_event(LOG_WARNING, "limit_reached", LOG_STR("limit", "file_descriptors"),
			  LOG_STR("detail", evutil_socket_error_to_string(err)),
			  LOG_INT("pause_ms", l->backoff_ms), LOG_COUNT("suppressed", dropped));
	}
}

static bool open_one(struct netctx *n, struct listener **list, enum zone zone, enum transport tr,
		     const char *addr, int port)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, addr, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		len = sizeof *s4;
	} else if (inet_pton(AF_INET6, addr, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		len = sizeof *s6;
	} else {
		log_msg(LOG_ERR, "listen: '%s' is not a numeric address", addr);
		return false;
	}
	struct listener *l = calloc(1, sizeof *l);
	if (!l)
		return false;
	*l = (struct listener){ .zone = zone, .transport = tr, .port = port, .net = n };
	snprintf(l->address, sizeof l->address, "%s", addr);
	l->ev = evconnlistener_new_bind(n->base, on_accept, l,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC |
		(n->reuseport ? LEV_OPT_REUSEABLE_PORT : 0),
		1024, (struct sockaddr *)&ss, (int)len);
	if (!l->ev) {
		log_msg(LOG_ERR, "listen: cannot bind %s port %d (%s zone): %s", addr,
			port, zone == ZONE_EXTERNAL ? "external" : "internal",
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		free(l);
		return false;
	}
	evconnlistener_set_error_cb(l->ev, on_accept_error);
	struct listener **tail = list;
	while (*tail)
		tail = &(*tail)->next;
	*tail = l;
	return true;
}

/* The sockets a configuration asks for: the `listen` entries, plus one
 * external listener per node public port not already covered, on the
 * first external address. */
struct want {
	enum zone zone;
	enum transport tr;
	const char *addr;
	int port;
	const struct conf_listen *cl;   /* its entry: PROXY protocol settings */
};

static size_t wanted(const struct conf *c, struct want *w, size_t max)
{
	size_t n = 0;
	const struct conf_listen *first_ext = NULL;
	for (size_t i = 0; i < c->nlisten && n < max; i++) {
		const struct conf_listen *cl = &c->listen[i];
		w[n++] = (struct want){ cl->zone, cl->transport, cl->address, cl->port, cl };
		if (cl->zone == ZONE_EXTERNAL && !first_ext)
			first_ext = cl;
	}
	for (size_t k = 0; first_ext && k < c->internal.nnodes; k++) {
		const struct conf_node *node = &c->internal.nodes[k];
		for (size_t p = 0; p < node->nports && n < max; p++) {
			bool have = false;
			for (size_t i = 0; i < n; i++)
				have |= w[i].zone == ZONE_EXTERNAL && w[i].port == node->ports[p].public_;
			if (!have)
				w[n++] = (struct want){ ZONE_EXTERNAL, TRANSPORT_TLS,
							first_ext->address,
							node->ports[p].public_, first_ext };
		}
	}
	return n;
}

static bool same(const struct listener *l, const struct want *w)
{
	return l->zone == w->zone && l->transport == w->tr && l->port == w->port &&
	       strcmp(l->address, w->addr) == 0;
}

/* The PROXY protocol settings of w's entry (kept listeners too: a reload
 * may turn them on or off, or change proxy_from). */
static void set_proxy(struct listener *l, const struct want *w)
{
	free(l->proxy_from);
	l->proxy_from = NULL;
	l->nproxy_from = 0;
	l->proxy = w->cl->proxy_protocol;
	if (!l->proxy)
		return;
	l->proxy_from = calloc(w->cl->nproxy_from ? w->cl->nproxy_from : 1, sizeof *l->proxy_from);
	for (size_t i = 0; l->proxy_from && i < w->cl->nproxy_from; i++)
		if (net_parse(w->cl->proxy_from[i], &l->proxy_from[l->nproxy_from]))
			l->nproxy_from++;
}

static void close_one(struct listener *l)
{
	free(l->proxy_from);
	if (l->resume)
		event_free(l->resume);
	evconnlistener_free(l->ev);
	free(l);
}

/* Dialled connections leave from each zone's first listening address. */
static void set_sources(struct netctx *n, const struct listener *list)
{
	n->source[ZONE_EXTERNAL][0] = n->source[ZONE_INTERNAL][0] = '\0';
	for (const struct listener *l = list; l; l = l->next)
		if (!n->source[l->zone][0])
			snprintf(n->source[l->zone], sizeof n->source[l->zone], "%s", l->address);
}

bool listeners_open(struct netctx *n, struct listener **list)
{
	return listeners_update(n, list, n->conf);
}

bool listeners_update(struct netctx *net, struct listener **list, const struct conf *c)
{
	struct want w[1024];
	size_t n = wanted(c, w, sizeof w / sizeof w[0]);
	struct listener *old = *list, *added = NULL;
	*list = NULL;
	/* Open what is new first: on any failure nothing changes. */
	for (size_t i = 0; i < n; i++) {
		bool have = false;
		for (struct listener *l = old; l && !have; l = l->next)
			have = same(l, &w[i]);
		if (have)
			continue;
		if (!open_one(net, list, w[i].zone, w[i].tr, w[i].addr, w[i].port)) {
			while (*list) {
				struct listener *l = *list;
				*list = l->next;
				close_one(l);
			}
			*list = old;
			return false;
		}
	}
	added = *list;
	*list = NULL;
	/* Keep the old ones still wanted, in order; close the rest. */
	struct listener **tail = list;
	for (struct listener *l = old, *next; l; l = next) {
		next = l->next;
		bool keep = false;
		for (size_t i = 0; i < n && !keep; i++)
			keep = same(l, &w[i]);
		if (keep) {
			*tail = l;
			tail = &l->next;
		} else {
			close_one(l);
		}
	}
	*tail = added;
	for (struct listener *l = *list; l; l = l->next)
		for (size_t i = 0; i < n; i++)
			if (same(l, &w[i])) {
				set_proxy(l, &w[i]);
				break;
			}
	set_sources(net, *list);
	return true;
}

void listeners_close(struct netctx *n, struct listener **list)
{
	while (*list) {
		struct listener *l = *list;
		*list = l->next;
		close_one(l);
	}
	set_sources(n, NULL);
}
