/* listener.h - the listening sockets of both zones. */
#ifndef SIPEDGE_LISTENER_H
#define SIPEDGE_LISTENER_H

#include <stdbool.h>
#include "core/types.h"

struct edge;

struct listener {
	enum zone zone;
	enum transport transport;
	char address[64];
	int port;
	struct evconnlistener *ev;
	struct event *resume;          /* paused after EMFILE/ENFILE/ENOMEM */
	int backoff_ms;
	struct edge *edge;
	struct listener *next;
};

/* Bind every listener of c: the `listen` entries plus one external
 * listener per node public port not already covered. False (logged) if
 * any bind fails. */
bool listeners_open(struct edge *e);
void listeners_close(struct edge *e);

/* Make the open listeners those that c asks for, keeping the ones both
 * configurations share (their queued connections stay). False, with
 * nothing changed, when a new one cannot be bound. */
bool listeners_update(struct edge *e, const struct conf *c);

#endif
