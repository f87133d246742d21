/* listener.c - bind, accept, hand the socket to conn.c with its zone. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <event2/listener.h>

#include "conn.h"
#include "edge.h"
#include "listener.h"
#include "log.h"

static void on_accept(struct evconnlistener *ev, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	(void)ev;
	struct listener *l = arg;
	conn_accept(l->edge, fd, sa, salen, l->zone, l->transport, l->port);
}

static bool open_one(struct edge *e, enum zone zone, enum transport tr,
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
	*l = (struct listener){ .zone = zone, .transport = tr, .port = port, .edge = e };
	snprintf(l->address, sizeof l->address, "%s", addr);
	l->ev = evconnlistener_new_bind(e->base, on_accept, l,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
		1024, (struct sockaddr *)&ss, (int)len);
	if (!l->ev) {
		log_msg(LOG_ERR, "listen: cannot bind %s port %d (%s zone): %s", addr,
			port, zone == ZONE_EXTERNAL ? "external" : "internal",
			evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		free(l);
		return false;
	}
	l->next = e->listeners;
	e->listeners = l;
	return true;
}

static bool have_external_port(const struct edge *e, int port)
{
	for (const struct listener *l = e->listeners; l; l = l->next)
		if (l->zone == ZONE_EXTERNAL && l->port == port)
			return true;
	return false;
}

bool listeners_open(struct edge *e)
{
	const struct conf *c = e->conf;
	const char *first_ext = NULL;
	for (size_t i = 0; i < c->nlisten; i++) {
		const struct conf_listen *cl = &c->listen[i];
		if (!open_one(e, cl->zone, cl->transport, cl->address, cl->port))
			return false;
		if (cl->zone == ZONE_EXTERNAL && !first_ext)
			first_ext = cl->address;
	}
	/* Each node's public ports are listeners too (PAT), on the first
	 * external address. */
	for (size_t n = 0; first_ext && n < c->internal.nnodes; n++) {
		const struct conf_node *node = &c->internal.nodes[n];
		for (size_t p = 0; p < node->nports; p++) {
			int port = node->ports[p].public_;
			if (!have_external_port(e, port) &&
			    !open_one(e, ZONE_EXTERNAL, TRANSPORT_TLS, first_ext, port))
				return false;
		}
	}
	return true;
}

void listeners_close(struct edge *e)
{
	while (e->listeners) {
		struct listener *l = e->listeners;
		e->listeners = l->next;
		evconnlistener_free(l->ev);
		free(l);
	}
}

const struct listener *listener_internal(const struct edge *e, enum transport tr)
{
	const struct listener *any = NULL;
	for (const struct listener *l = e->listeners; l; l = l->next) {
		if (l->zone != ZONE_INTERNAL)
			continue;
		if (l->transport == tr)
			return l;
		any = l;
	}
	return any;
}
