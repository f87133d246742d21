/* respond.h - putting messages on a connection, and answering requests
 * ourselves. Shared by the proxy and the federation policy stage. */
#ifndef SIPEDGE_RESPOND_H
#define SIPEDGE_RESPOND_H

#include <stdbool.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

struct conn;
struct txn;

/* Serialize and queue msg on c (msg stays the caller's). */
void respond_send(struct conn *c, msg_t *msg);

/* Answer req on c with status, unless it is an ACK or BENOTIFY (which get
 * no response). hdrs: extra "Name: value\r\n" lines or NULL. */
void respond_reply(struct conn *c, msg_t *req, int status, const char *phrase,
		   const char *hdrs);

/* A response the edge makes for forwarded txn t (from the request as
 * forwarded), sent on t's upstream connection if it is still there, and
 * counted in sipedge_requests_total; none for an ACK. */
void respond_txn(struct txn *t, int status, const char *hdrs);

/* BENOTIFY (Microsoft) is a NOTIFY that expects no response; ACK neither. */
int respond_expected(sip_t const *sip);

struct edge;
/* Give a response the edge made itself (to a request without To tag) the
 * To tag the edge can recognise in the ACK for it; respond_own_ack() says
 * whether an ACK is for such a response (stateless, keyed by the edge's
 * secret). */
void respond_sign(const struct edge *e, msg_t *resp);
bool respond_own_ack(const struct edge *e, sip_t const *ack);

const char *respond_call_id(sip_t const *sip);
const char *respond_method(sip_t const *sip);

#endif
