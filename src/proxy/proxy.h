/* proxy.h - the RFC 3261 section 16 proxy: one entry point per message.
 *
 * receive (conn.c) -> check -> classify -> policy -> route -> rewrite ->
 * send. Requests from the external zone are inbound, requests from a node
 * are outbound; responses follow their transaction back.
 */
#ifndef SIPEDGE_PROXY_H
#define SIPEDGE_PROXY_H

#include <stddef.h>
#include <sofia-sip/msg.h>

#include "core/types.h"
#include "core/diag.h"

struct conn;
struct txn_target;
struct txn;
struct edge;

/* Takes ownership of msg. */
void proxy_on_message(struct conn *c, msg_t *msg);

/* c is closing: answer the transactions that were waiting on it. */
void proxy_conn_closed(struct conn *c);

/* Register the proxy as the owner of e->net's connections: messages,
 * up, closed and TLS failures come to the functions above. Once, after
 * e->net is made and before any traffic. */
void proxy_attach(struct edge *e);

/* Send a checked, routed request toward zone `toward`, trying targets in
 * order (one connection failure moves to the next). Takes msg. */
void proxy_forward(struct conn *up, msg_t *msg, enum zone toward, int node,
		   const struct txn_target *targets, size_t ntargets);

/* Refuse a request from c: one log line (event, reason), one response
 * with the Microsoft diagnostics or a Warning text. Takes msg. */
void proxy_refuse_diag(struct conn *c, msg_t *msg, int status, const char *event,
		       const char *reason, enum diag_code code, const struct diag_attrs *a);
void proxy_refuse_text(struct conn *c, msg_t *msg, int status, const char *event,
		       const char *reason, const char *text);

#endif
