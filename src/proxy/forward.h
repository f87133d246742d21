/* forward.h - sending requests downstream (Kamailio's t_fwd and uac):
 * the connection to a target, the Via/Record-Route edits for the zone a
 * request enters, sending a transaction to its current target and arming
 * its timer, CANCEL/ACK hop requests, per-peer shares, and requests the
 * edge originates itself (health probes). Nothing here answers upstream,
 * logs a refusal or counts: a failure comes back as a status for the
 * pipeline (proxy.c) to answer with.
 */
#ifndef SIPEDGE_FORWARD_H
#define SIPEDGE_FORWARD_H

#include <stddef.h>
#include <sofia-sip/sip.h>

#include "core/diag.h"
#include "core/reach.h"
#include "core/rewrite.h"
#include "proxy/txn.h"

struct conn;
struct edge;

/* Rebuild e->rw from e->conf, e->secret and e->listeners: after startup,
 * a reload and closing the listeners. */
void fwd_refresh_view(struct edge *e);

/* How the edge presents itself for a given node (-1: toward partners). */
struct zone_view fwd_view(const struct edge *e, int node);

/* The connection toward target tg in zone `toward` (node's transport
 * inward, TLS outward); NULL if none can be had. */
struct conn *fwd_conn(struct edge *e, enum zone toward, int node,
		      const struct txn_target *tg);

/* Send t to its current target and arm its timer (on_timeout for a
 * forwarded txn; an originated one completes with status 0). 0 when sent;
 * else the status to answer upstream with, its headers in hdrs ("" for
 * none). A node that reads too slowly gets no new forwarded request. */
int fwd_send(struct txn *t, void (*on_timeout)(evutil_socket_t, short, void *),
	     char *hdrs, size_t len);

/* CANCEL, or ACK for a non-2xx final (RFC 3261 9.1 and 17.1.1.3), built
 * from the forwarded INVITE and sent where it went. */
void fwd_hop_request(struct txn *t, const char *name, sip_to_t const *to);

/* Targets that failed within limits.unreachable_hold go last; if all
 * did, the remembered failure (else NULL). */
const struct reach_entry *fwd_skip_unreachable(struct edge *e,
					       struct txn_target *tg, size_t n);

/* ms-diagnostics code for a connection failure (enum conn_fail). */
enum diag_code fwd_fail_code(int fail);

/* ms-diagnostics fqdn1..4 attributes: the targets that were tried. */
void fwd_targets_attrs(const struct txn_target *tg, size_t n,
		       struct diag_attrs *a, char fq[4][300]);

/* Count t against its peer's share; NULL when taken, else the limit. */
const char *fwd_take_share(struct conn *up, sip_t const *sip, struct txn *t);

/* Drop targets the outbound guard forbids by name; how many remain. */
size_t fwd_guard_targets(struct txn_target *tg, size_t n, const struct conf *cf);

/* The edits for the zone a request enters: internal Vias hidden (kept in
 * t), our Via with branch, Record-Route, own URIs, the Call-ID. */
void fwd_rewrite(struct edge *e, msg_t *msg, enum zone toward,
		 const struct zone_view *zv, struct txn *t, const char *branch);

/* Send a request the edge makes itself (kind TXN_PROBE or
 * TXN_ORIGINATED) to a node; the final status goes to on_final (0: no
 * answer within timeout seconds, -1: connection failed). Takes msg;
 * NULL if it could not be sent. */
struct txn *txn_originate(struct edge *e, enum txn_kind kind, msg_t *msg,
			  int node, int timeout,
			  void (*on_final)(struct txn *t, int status), void *arg);

#endif
