/* netctx.h - the transport's own context, handed down by its owner.
 *
 * Everything the net layer needs (event base, TLS contexts, resolver,
 * configuration, id counter, connection table) comes through one struct
 * net that the owner creates and keeps current; net never sees the
 * owner's state. Upward calls go only through the handlers the owner
 * registers once (Redis connection.h; Kamailio's SREV_TCP_CLOSED: the
 * transport announces, it never calls the proxy).
 */
#ifndef SIPEDGE_NETCTX_H
#define SIPEDGE_NETCTX_H

#include <stdbool.h>
#include <stdint.h>
#include <event2/event.h>
#include <sofia-sip/msg.h>

#include "core/types.h"

struct conn;
struct conn_table;
struct tls_ctxs;
struct dns;

/* What the owner is told. Each is optional (NULL: nothing to do). They
 * run inside a connection callback: a handler may close the connection,
 * whose memory then lasts until the callback returns. */
struct conn_handlers {
	/* A complete message; the handler takes ownership of msg. */
	void (*on_message)(struct conn *c, msg_t *msg);
	/* Connected, and its certificate (if any) checked. */
	void (*on_up)(struct conn *c);
	/* Closing (c->fail and c->fail_reason say why): the last call for c,
	 * the place to free c->owner. */
	void (*on_closed)(struct conn *c);
	/* A TLS handshake failed, with its stable reason slug. */
	void (*on_tls_failure)(struct conn *c, const char *slug);
};

struct netctx {
	struct event_base *base;
	const struct conf *conf;       /* the owner swaps it on reload */
	struct tls_ctxs *tls;          /* the owner swaps it on reload */
	struct dns *dns;               /* the owner swaps it on reload */
	uint64_t *next_id;             /* shared with the owner's own ids */
	bool stopping;                 /* accept nothing more */
	bool reuseport;                /* workers: each binds its own sockets
					* to the same ports (SO_REUSEPORT) */
	struct conn_handlers on;
	void *owner;                   /* the owner's context, for handlers:
					* copied to each conn as c->edge */
	/* Leave from each zone's own listening address (listener.c keeps
	 * it current), so that nodes and firewalls see what they expect. */
	char source[2][64];
	struct conn_table *conns;      /* private to conn*.c */
};

/* A context on base with conf; ids are taken from *next_id. NULL when out
 * of memory. tls and dns are set by the owner before use. */
struct netctx *netctx_new(struct event_base *base, const struct conf *conf, uint64_t *next_id);
void netctx_free(struct netctx *n);     /* after conn_close_all */

/* Register the owner's handlers and context, once, before any traffic. */
void netctx_set_handlers(struct netctx *n, const struct conn_handlers *h, void *owner);

#endif
