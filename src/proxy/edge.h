/* edge.h - the daemon's runtime state: one struct edge per process.
 *
 * Flow of a message: listener.c/conn.c receive and frame it, proxy.c
 * classifies and checks it, route.c picks the next hop, rewrite.c edits
 * Via/Record-Route/Route, conn.c sends it; txn.c pairs responses with the
 * requests we forwarded.
 */
#ifndef SIPEDGE_EDGE_H
#define SIPEDGE_EDGE_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <event2/event.h>

#include "core/types.h"
#include "core/reach.h"
#include "core/mask.h"
#include "core/rewrite.h"
#include "proxy/tap.h"

/* listeners_update() binds at most this many. */
#define EDGE_MAX_OWN 1024

struct tls_ctxs;
struct txn_table;
struct netctx;
struct dns;
struct listener;
struct rate_table;
struct health;
struct metrics;
struct partners;
struct control;

struct edge {
	struct event_base *base;
	struct conf *conf;
	struct tls_ctxs *tls;
	struct dns *dns;
	struct listener *listeners;   /* listeners_update() keeps it */
	struct netctx *net;           /* the transport: connections, and the
				       * base, conf, tls and dns it was given */
	struct txn_table *txns;
	struct rate_table *rates;     /* per-domain request caps */
	struct shares *shares;        /* what each peer holds (txns, DNS) */
	unsigned fed_pending;         /* requests waiting for an SRV lookup */
	unsigned out_pending;         /* node requests waiting for an SRV lookup */
	struct reach reach;           /* next hops that failed recently */
	struct health *health;        /* node up/down state and probes */
	/* edge.workers > 1: node up/down shared by every worker (a MAP_SHARED
	 * view with room for shared_up_n nodes, core/nodeview.h); the worker
	 * with health_prober probes and writes it, the others read it when
	 * its node list is theirs. NULL: this process decides. */
	struct node_view *shared_up;
	size_t shared_up_n;
	bool health_prober;
	struct metrics *metrics;      /* NULL-safe: counting is optional */
	struct control *control;      /* the daemon's control socket, or NULL */
	unsigned char secret[32];  /* edge.secret_file's key: Call-ID masks (mask.h) */
	/* edge.secret_previous_file's key (rotation): accepted, never used to
	 * encode, while secret_prev_open; the daemon closes it with
	 * secret_prev_timer when edge.secret_previous_seconds have passed. */
	struct mask_prev secret_prev;
	bool secret_prev_open;
	struct event *secret_prev_timer;
	/* What rewrite.c reads of the running edge: conf, key, listeners.
	 * fwd_refresh_view() rebuilds it whenever one of them changes, so no
	 * message pays for it. */
	struct rewrite_ctx rw;
	struct own_addr own[EDGE_MAX_OWN];
	const char **tokv;         /* rw.tokens' array (heap; into conf) */
	struct tap tap;            /* live traces (sipedge-ctl trace) */
	struct partners *partners; /* per partner domain: counts, last verdict */
	time_t started_at;         /* for sipedge-ctl status */
	time_t reload_at;          /* last SIGHUP handled, 0: none yet */
	bool reload_ok;            /* its result */
	uint64_t next_id;          /* ids for connections and transactions */
	bool stopping;
	struct event *sig_term, *sig_int, *sig_hup;
	struct event *drain_timer;
	struct event *tick;           /* STATUS= and watchdog */
	bool watchdog;
};

#endif
