/* listener.h - the listening sockets of both zones. The list belongs to
 * the owner; accepted sockets go to conn_accept(), and each zone's first
 * listening address is kept in the net context as the source address
 * dialled connections leave from (so conn.c needs no listener). */
#ifndef SIPEDGE_LISTENER_H
#define SIPEDGE_LISTENER_H

#include <stdbool.h>
#include "core/types.h"

struct netctx;

struct listener {
	enum zone zone;
	enum transport transport;
	char address[64];
	int port;
	struct evconnlistener *ev;
	struct event *resume;          /* paused after EMFILE/ENFILE/ENOMEM */
	int backoff_ms;
	/* A load balancer in front (listen entry's proxy_protocol): each
	 * connection starts with a PROXY header, and only from these. */
	bool proxy;
	struct net *proxy_from;
	size_t nproxy_from;
	struct netctx *net;
	struct listener *next;
};

/* Bind every listener of c: the `listen` entries plus one external
 * listener per node public port not already covered. False (logged) if
 * any bind fails. */
bool listeners_open(struct netctx *n, struct listener **list);
void listeners_close(struct netctx *n, struct listener **list);

/* Make the open listeners those that c asks for, keeping the ones both
 * configurations share (their queued connections stay). False, with
 * nothing changed, when a new one cannot be bound. */
bool listeners_update(struct netctx *n, struct listener **list, const struct conf *c);

#endif
