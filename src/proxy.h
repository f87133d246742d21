/* proxy.h - the RFC 3261 section 16 proxy: one entry point per message.
 *
 * receive (conn.c) -> check -> classify -> policy -> route -> rewrite ->
 * send. Requests from the external zone are inbound, requests from a node
 * are outbound; responses follow their transaction back.
 */
#ifndef SIPEDGE_PROXY_H
#define SIPEDGE_PROXY_H

#include <sofia-sip/msg.h>

struct conn;

/* Takes ownership of msg. */
void proxy_on_message(struct conn *c, msg_t *msg);

/* c is closing: answer the transactions that were waiting on it. */
void proxy_conn_closed(struct conn *c);

#endif
