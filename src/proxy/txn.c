/* txn.c - transaction table, indexed by our branch and by upstream key,
 * and each transaction's state machine (txn_enter). */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/htable.h>
#include <sofia-sip/msg_header.h>
#include <openssl/rand.h>

#include "proxy/edge.h"
#include "util/log.h"
#include "core/sipmsg.h"
#include "proxy/txn.h"

#define DOWN_HASH(t) ((t)->hash_down)
#define UP_HASH(t) ((t)->hash_up)
HTABLE_DECLARE_WITH(down_ht, dh, struct txn, size_t, unsigned);
HTABLE_BODIES_WITH(down_ht, dh, struct txn, DOWN_HASH, size_t, unsigned);
HTABLE_DECLARE_WITH(up_ht, uh, struct txn, size_t, unsigned);
HTABLE_BODIES_WITH(up_ht, uh, struct txn, UP_HASH, size_t, unsigned);

struct txn_table {
	down_ht_t down;
	up_ht_t up;
	struct txn **byconn;       /* by down_conn, chained through dnext */
	size_t nbyconn, nindexed;
	struct node_watch watch;   /* all zero: nobody watches */
	uint64_t up_salt;          /* up keys: the branch is the peer's choice */
};

static size_t conn_slot(uint64_t id, size_t n)
{
	return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 20) % n;
}

/* O(1): every transaction on the node's one connection shares a chain, so
 * unlinking must not walk it (a walk made each timeout cost the number of
 * transactions pending on that connection). */
static void unlink_down(struct txn *t)
{
	struct txn_table *tt = t->edge->txns;
	if (!t->dpprev)
		return;
	*t->dpprev = t->dnext;
	if (t->dnext)
		t->dnext->dpprev = t->dpprev;
	tt->nindexed--;
	t->dnext = NULL;
	t->dpprev = NULL;
}

static void link_down(struct txn **head, struct txn *t)
{
	t->dnext = *head;
	if (t->dnext)
		t->dnext->dpprev = &t->dnext;
	*head = t;
	t->dpprev = head;
}

void txn_set_down(struct txn *t, uint64_t conn_id)
{
	struct txn_table *tt = t->edge->txns;
	unlink_down(t);
	t->down_conn = conn_id;
	if (!conn_id)
		return;
	if (!tt->byconn || tt->nindexed >= tt->nbyconn) {    /* load at most 1 */
		size_t n = tt->nbyconn ? tt->nbyconn * 2 : 256;
		struct txn **b = calloc(n, sizeof *b);
		if (b) {
			for (size_t i = 0; i < tt->nbyconn; i++)
				for (struct txn *x = tt->byconn[i], *nx; x; x = nx) {
					nx = x->dnext;
					link_down(&b[conn_slot(x->down_conn, n)], x);
				}
			free(tt->byconn);
			tt->byconn = b;
			tt->nbyconn = n;
		} else if (!tt->byconn) {
			return;
		}
	}
	link_down(&tt->byconn[conn_slot(conn_id, tt->nbyconn)], t);
	tt->nindexed++;
}

/* FNV-1a; keys are short and come from peers, and a collision never makes
 * a wrong match (keys are compared in full), but many would make a long
 * probe run for every lookup: the upstream key is salted (the connection
 * id alone is guessable). */
static unsigned hash_str(const char *s, uint64_t salt)
{
	uint64_t h = 1469598103934665603ull ^ salt;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (unsigned)(h ^ (h >> 32));
}

struct txn_table *txn_table_new(void)
{
	struct txn_table *t = calloc(1, sizeof *t);
	if (t)
		RAND_bytes((unsigned char *)&t->up_salt, sizeof t->up_salt);
	if (t && (down_ht_resize(NULL, &t->down, 0) < 0 ||
		  up_ht_resize(NULL, &t->up, 0) < 0)) {
		su_free(NULL, t->down.dh_table);
		free(t);
		return NULL;
	}
	return t;
}

void txn_table_free(struct txn_table *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->down.dh_size; i++)
		while (t->down.dh_table[i])
			txn_free(t->down.dh_table[i]);
	su_free(NULL, t->down.dh_table);
	su_free(NULL, t->up.uh_table);
	free(t->byconn);
	free(t);
}

size_t txn_count(const struct edge *e)
{
	return e->txns->down.dh_used;
}

/* RFC 3261 cookie, our mark, then 96 bits from the CSPRNG: a branch says
 * nothing about the next one, so a peer that saw one cannot name another
 * transaction's (no counter, no per-process constant to learn). */
void txn_make_branch(struct edge *e, char *buf, size_t len)
{
	(void)e;
	unsigned char r[BRANCH_RANDOM_BYTES];
	static const char hex[] = "0123456789abcdef";
	char tail[2 * BRANCH_RANDOM_BYTES + 1];
	if (RAND_bytes(r, sizeof r) != 1)
		abort();   /* never predictable branches: no CSPRNG, no edge */
	for (size_t i = 0; i < sizeof r; i++) {
		tail[2 * i] = hex[r[i] >> 4];
		tail[2 * i + 1] = hex[r[i] & 15];
	}
	tail[sizeof tail - 1] = '\0';
	snprintf(buf, len, BRANCH_PREFIX "%s", tail);
}

struct txn *txn_new(struct edge *e, msg_t *fwd, uint64_t up_conn,
		    const char *up_branch)
{
	struct txn_table *tt = e->txns;
	if ((down_ht_is_full(&tt->down) && down_ht_resize(NULL, &tt->down, 0) < 0) ||
	    (up_ht_is_full(&tt->up) && up_ht_resize(NULL, &tt->up, 0) < 0))
		return NULL;
	struct txn *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->edge = e;
	t->id = ++e->next_id;
	t->fwd = fwd;
	t->node = -1;
	t->up_conn = up_conn;
	clock_gettime(CLOCK_MONOTONIC, &t->started);
	snprintf(t->up_branch, sizeof t->up_branch, "%s", up_branch ? up_branch : "");
	txn_make_branch(e, t->branch, sizeof t->branch);
	t->hash_down = hash_str(t->branch, 0);
	t->hash_up = hash_str(t->up_branch, up_conn ^ tt->up_salt);
	down_ht_insert(&tt->down, t);
	up_ht_insert(&tt->up, t);
	return t;
}

/* The legal transitions, by from-state (bit `to` set = legal). Retrying
 * the next target after a provisional returns to TRYING; a COMPLETED
 * INVITE re-enters itself on each further 2xx (the linger restarts); a
 * 2xx after Timer C is still relayed (RFC 3261 16.7) and completes it. */
#define B(s) (1u << (s))
static const unsigned legal[TXN_NSTATES] = {
	[TXN_TRYING] = B(TXN_PROCEEDING) | B(TXN_COMPLETED) | B(TXN_TIMED_OUT) |
		       B(TXN_TERMINATED),
	[TXN_PROCEEDING] = B(TXN_TRYING) | B(TXN_COMPLETED) | B(TXN_TIMED_OUT) |
			   B(TXN_TERMINATED),
	[TXN_COMPLETED] = B(TXN_TERMINATED),
	[TXN_TIMED_OUT] = B(TXN_COMPLETED) | B(TXN_TERMINATED),
	[TXN_TERMINATED] = 0,
};
#undef B

bool txn_state_legal(enum txn_state from, enum txn_state to)
{
	if ((unsigned)from >= TXN_NSTATES || (unsigned)to >= TXN_NSTATES)
		return false;
	return (legal[from] >> to) & 1u;
}

const char *txn_state_name(enum txn_state s)
{
	static const char *const name[TXN_NSTATES] = {
		[TXN_TRYING] = "trying", [TXN_PROCEEDING] = "proceeding",
		[TXN_COMPLETED] = "completed", [TXN_TIMED_OUT] = "timed_out",
		[TXN_TERMINATED] = "terminated",
	};
	return (unsigned)s < TXN_NSTATES ? name[s] : "invalid";
}

bool txn_enter(struct txn *t, enum txn_state s)
{
	if (t->state == s)
		return true;
	if (!txn_state_legal(t->state, s)) {
		log_msg(LOG_ERR, "txn %llu: illegal transition %s -> %s",
			(unsigned long long)t->id, txn_state_name(t->state),
			txn_state_name(s));
		return false;
	}
	log_msg(LOG_DEBUG, "txn %llu: %s -> %s", (unsigned long long)t->id,
		txn_state_name(t->state), txn_state_name(s));
	t->state = s;
	return true;
}

void txn_complete(struct txn *t, int status)
{
	if (t->on_final)
		t->on_final(t, status);
	txn_free(t);
}

void txn_free(struct txn *t)
{
	struct txn_table *tt = t->edge->txns;
	txn_enter(t, TXN_TERMINATED);
	if (t->share_key[0]) {
		shares_release(t->edge->shares, t->share_key);
		if (t->share_invite) {
			char ik[SHARE_KEY_MAX + 8];
			snprintf(ik, sizeof ik, "invite|%s", t->share_key);
			shares_release(t->edge->shares, ik);
		}
	}
	down_ht_remove(&tt->down, t);
	up_ht_remove(&tt->up, t);
	unlink_down(t);
	if (t->timer)
		event_free(t->timer);
	if (t->fwd)
		msg_destroy(t->fwd);
	free(t);
}

void txn_watch_nodes(struct edge *e, const struct node_watch *w)
{
	e->txns->watch = w ? *w : (struct node_watch){ 0 };
}

const bool *txn_nodes_up(const struct edge *e)
{
	const struct node_watch *w = &e->txns->watch;
	return w->current ? w->current(w->arg) : w->up;
}

void txn_node_lost(struct edge *e, int node, enum conn_fail why, const char *reason)
{
	const struct node_watch *w = &e->txns->watch;
	if (w->lost)
		w->lost(w->arg, node, why, reason);
}

struct txn *txn_by_branch(struct edge *e, const char *branch)
{
	down_ht_t *ht = &e->txns->down;
	for (struct txn **tp = down_ht_hash(ht, hash_str(branch, 0)); *tp;
	     tp = down_ht_next(ht, tp))
		if (strcmp((*tp)->branch, branch) == 0)
			return *tp;
	return NULL;
}

struct txn *txn_by_upstream(struct edge *e, uint64_t up_conn,
			    const char *up_branch)
{
	up_ht_t *ht = &e->txns->up;
	/* Cut as txn_new() stored it, or a branch of 128 characters or more
	 * never finds its INVITE (only the peer's own transactions share
	 * the connection, so a longer common prefix misleads nobody else). */
	char key[sizeof ((struct txn *)0)->up_branch];
	snprintf(key, sizeof key, "%s", up_branch ? up_branch : "");
	up_branch = key;
	for (struct txn **tp = up_ht_hash(ht, hash_str(up_branch, up_conn ^ e->txns->up_salt)); *tp;
	     tp = up_ht_next(ht, tp))
		if ((*tp)->up_conn == up_conn && (*tp)->method == sip_method_invite &&
		    strcmp((*tp)->up_branch, up_branch) == 0)
			return *tp;
	return NULL;
}

void txn_arm(struct txn *t, int secs, void (*cb)(evutil_socket_t, short, void *))
{
	if (!t->timer)
		t->timer = evtimer_new(t->edge->base, cb, t);
	else {
		evtimer_del(t->timer);
		event_assign(t->timer, t->edge->base, -1, 0, cb, t);
	}
	struct timeval tv = { secs, 0 };
	evtimer_add(t->timer, &tv);
}

void txn_each_down(struct edge *e, uint64_t conn_id,
		   void (*fn)(struct txn *t, void *arg), void *arg)
{
	/* Collect first: fn may free txns and move others between lists. */
	struct txn_table *tt = e->txns;
	if (!tt->byconn || !conn_id)
		return;
	size_t n = 0, cap = 16;
	struct txn **hit = malloc(cap * sizeof *hit);
	for (struct txn *t = tt->byconn[conn_slot(conn_id, tt->nbyconn)]; hit && t; t = t->dnext) {
		if (t->down_conn != conn_id)
			continue;
		if (n == cap) {
			struct txn **h2 = realloc(hit, (cap *= 2) * sizeof *hit);
			if (!h2)
				break;
			hit = h2;
		}
		hit[n++] = t;
	}
	for (size_t i = 0; i < n; i++)
		fn(hit[i], arg);
	free(hit);
}

void txn_foreach(struct edge *e, void (*fn)(struct txn *t, void *arg), void *arg)
{
	down_ht_t *ht = &e->txns->down;
	for (size_t i = 0; i < ht->dh_size; i++)
		if (ht->dh_table[i])
			fn(ht->dh_table[i], arg);
}

void txn_trim(struct txn *t)
{
	if (t->trimmed || !t->fwd)
		return;
	msg_t *sk = sipmsg_skeleton(t->fwd);
	if (!sk)
		return;               /* keep the whole request: still correct */
	sip_via_t *hidden = NULL;
	if (t->hidden_vias && !(hidden = sip_via_dup(msg_home(sk), t->hidden_vias))) {
		msg_destroy(sk);
		return;
	}
	msg_destroy(t->fwd);
	t->fwd = sk;
	t->hidden_vias = hidden;
	t->trimmed = true;
}
