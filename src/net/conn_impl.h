/* conn_impl.h - what conn.c, conn_io.c and conn_out.c share; private to
 * them (nothing outside src/net/conn*.c includes it).
 *
 * Freeing: a connection is freed in one place, conn_reap(), and only once
 * it is CLOSED and no callback of ours is running on it. Every callback
 * that may close it brackets its work with conn_enter()/conn_leave(); the
 * outermost conn_leave() frees it (Redis connhelpers.h).
 */
#ifndef SIPEDGE_CONN_IMPL_H
#define SIPEDGE_CONN_IMPL_H

#include <stdbool.h>
#include <sys/socket.h>
#include <event2/util.h>

#include "core/types.h"

/* Not conn.h: each conn*.c includes both, and conn.c is conn.h's module. */
struct conn;
struct netctx;

/* conn.c */
struct conn *conn_new(struct netctx *n, enum zone zone, enum transport tr);
void conn_reap(struct conn *c);           /* free if CLOSED and not busy */
void conn_enter(struct conn *c);          /* a callback of ours starts */
void conn_leave(struct conn *c);          /* ... and ends: maybe frees c */
void conn_drop(struct conn *c);           /* never announced: just free */
void conn_fmt_peer(struct conn *c, const struct sockaddr *sa);
void conn_handshake_over(struct conn *c);
/* A PROXY header named the client behind the balancer: c becomes the
 * client's (peer, per-address and handshake limits). False (logged) when
 * a limit refuses it; the caller drops c. */
bool conn_proxied(struct conn *c, const struct sockaddr *client);
/* The reuse index (see conn.c): connections keyed under key (any case),
 * one after another starting with after = NULL. */
void conn_index_as(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
struct conn *conn_keyed(struct netctx *n, const char *key, struct conn *after);

/* conn_io.c */
bool conn_timers_new(struct conn *c);     /* handshake and header deadlines */
bool conn_setup_bev(struct conn *c, evutil_socket_t fd, bool accepting);
void conn_go_up(struct conn *c);
/* A balancer's connection: read its PROXY header from fd, then set up
 * TLS. False when out of memory (the caller closes fd). */
bool conn_proxy_wait(struct conn *c, evutil_socket_t fd);
void conn_pp_free(struct conn *c);        /* closes the fd still held */

/* conn_out.c */
void conn_dial_next(struct conn *c);      /* the next resolved address */

#endif
