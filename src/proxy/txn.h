/* txn.h - proxy transactions: the request we forwarded, where its
 * responses go back to, and what to say upstream if none comes.
 *
 * A txn lives from forwarding a request until its final response has been
 * relayed (INVITE with a non-2xx final lingers briefly to absorb the
 * upstream ACK). Dialogs are not kept here: see rewrite.c.
 *
 * Its life is one explicit state machine (like OpenSMTPD's
 * smtp_enter_state()): every change goes through txn_enter(), which
 * refuses a transition txn_state_legal() does not list and logs the
 * others at debug with the txn id.
 *
 *   TRYING ---1xx---> PROCEEDING ---1xx (Timer C rearmed)--+
 *     |  ^               |  |  ^_______________________________|
 *     |  +--next target--+  |
 *     +---final (INVITE)----+--> COMPLETED --linger over--> TERMINATED
 *     +---Timer C (INVITE)--+--> TIMED_OUT --linger over--> TERMINATED
 *     +---final, failure, timeout (others)----------------> TERMINATED
 */
#ifndef SIPEDGE_TXN_H
#define SIPEDGE_TXN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <event2/util.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>

#include "core/types.h"
#include "core/rewrite.h"     /* BRANCH_PREFIX */
#include "core/share.h"
#include "net/conn.h"

struct edge;
struct conn;

#define TXN_MAX_TARGETS 8

struct txn_target {
	char host[256];
	int port;
};

/* Who the transaction answers to. */
enum txn_kind {
	TXN_FORWARDED,     /* a request relayed for a peer or a node */
	TXN_PROBE,         /* a health probe: the edge's own, final to on_final */
	TXN_ORIGINATED,    /* any other request the edge makes itself */
};

enum txn_state {
	TXN_TRYING,        /* sent (or being sent) to the current target */
	TXN_PROCEEDING,    /* a provisional response came */
	TXN_COMPLETED,     /* INVITE final relayed: lingers to ACK a non-2xx
			    * downstream and relay further 2xx (forking) */
	TXN_TIMED_OUT,     /* Timer C fired on an INVITE: 408 sent up, CANCEL
			    * down; lingers to ACK the callee's 487 */
	TXN_TERMINATED,    /* being freed */
};
#define TXN_NSTATES (TXN_TERMINATED + 1)

/* May a txn go from `from` to `to`? (pure; the table above) */
bool txn_state_legal(enum txn_state from, enum txn_state to);
const char *txn_state_name(enum txn_state s);

struct txn {
	unsigned hash_down, hash_up;
	enum txn_kind kind;
	enum txn_state state;      /* change it with txn_enter() only */
	uint64_t id;
	struct edge *edge;
	char branch[48];           /* our Via branch toward the next hop (random) */
	uint64_t up_conn;          /* connection the request came on */
	char up_branch[128];       /* its top Via branch (CANCEL/ACK match) */
	uint64_t down_conn;        /* connection it went out on (txn_set_down) */
	struct txn *dnext;         /* txn_each_down's index: the chain of */
	struct txn **dpprev;       /* its slot, doubly linked (O(1) unlink) */
	enum zone down_zone;
	int node;                  /* internal node at either end, or -1 */
	msg_t *fwd;                /* the request as forwarded (trimmed to
				    * its skeleton once sent to the last
				    * target: sipmsg_skeleton()) */
	bool trimmed;
	sip_via_t *hidden_vias;    /* upstream Vias kept off the wire (in fwd's home) */
	sip_method_t method;
	int status;                /* best response so far, 0 = none */
	struct timespec started;   /* CLOCK_MONOTONIC at txn_new (metrics latency) */
	struct txn_target targets[TXN_MAX_TARGETS];
	size_t ntargets, cur_target;
	struct event *timer;
	int timeout;               /* seconds; 0 = by method from limits */
	/* Requests the edge itself sends (kind != TXN_FORWARDED) have no
	 * upstream: the final status goes here instead (0 = no answer in
	 * time, -1 = connection failed). NULL once its owner lost interest. */
	void (*on_final)(struct txn *t, int status);
	void *final_arg;
	/* The peer's share it counts against (e->shares), "" = none. */
	char share_key[SHARE_KEY_MAX];
	bool share_invite;         /* also holds one of its INVITE share */
};

struct txn_table;
struct txn_table *txn_table_new(void);
void txn_table_free(struct txn_table *t);     /* frees remaining txns */
size_t txn_count(const struct edge *e);

/* A new txn owning fwd; NULL on allocation failure. */
struct txn *txn_new(struct edge *e, msg_t *fwd, uint64_t up_conn,
		    const char *up_branch);
void txn_free(struct txn *t);      /* enters TXN_TERMINATED */

/* Move t to state s; false (logged as an error, state kept) if the
 * transition is not legal. Entering the current state again is a no-op. */
bool txn_enter(struct txn *t, enum txn_state s);

/* An edge-originated txn ended with status (0: no answer in time, -1:
 * connection failed): its owner's on_final is told, then t is freed. */
void txn_complete(struct txn *t, int status);

struct txn *txn_by_branch(struct edge *e, const char *branch);
/* The INVITE server side that a CANCEL or ACK from upstream refers to. */
struct txn *txn_by_upstream(struct edge *e, uint64_t up_conn,
			    const char *up_branch);

/* Replace fwd by its skeleton (hidden_vias moved along). */
void txn_trim(struct txn *t);

/* (Re)arm the txn timer to fire after secs seconds. */
void txn_arm(struct txn *t, int secs, void (*cb)(evutil_socket_t, short, void *));

/* The request went out on connection conn_id (indexed for txn_each_down). */
void txn_set_down(struct txn *t, uint64_t conn_id);

/* Call fn for each txn whose downstream connection is conn_id (found by
 * index, never by walking every transaction). fn may free. */
void txn_each_down(struct edge *e, uint64_t conn_id,
		   void (*fn)(struct txn *t, void *arg), void *arg);

/* Call fn for every txn; fn must not free or create txns. */
void txn_foreach(struct edge *e, void (*fn)(struct txn *t, void *arg), void *arg);

/* Node health as the proxy sees it, registered by whoever watches it
 * (health.c): the proxy reads up[] for routing and reports a lost
 * connection to a node, but never calls health itself (the transaction
 * table holds the hooks, like Kamailio's tm callbacks). */
struct node_watch {
	const bool *up;            /* per internal.nodes index; NULL = all up */
	void (*lost)(void *arg, int node, enum conn_fail why, const char *reason);
	void *arg;
	/* If set, asked at each use instead of up (a view that may change,
	 * e.g. the shared health of another worker). */
	const bool *(*current)(void *arg);
};
/* Register w (copied), or clear with NULL. */
void txn_watch_nodes(struct edge *e, const struct node_watch *w);
/* The registered up[] (NULL: every node counts as up). */
const bool *txn_nodes_up(const struct edge *e);
/* A connection to node closed or failed: tell the watcher, if any. */
void txn_node_lost(struct edge *e, int node, enum conn_fail why, const char *reason);

/* A fresh branch for our Via. */
void txn_make_branch(struct edge *e, char *buf, size_t len);

#define BRANCH_RANDOM_BYTES 12   /* 96 bits after the prefix */

#endif
