/* conn.c - connection lifecycle: the net context, the connection table
 * (by id, by reuse key, per source address), accept, close and the one
 * deferred free. Reading and writing are in conn_io.c, dialling in
 * conn_out.c. The owner hears of a closed connection through its on_closed
 * handler; nothing here calls above the net layer.
 */
#include <assert.h>
#include <errno.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <openssl/rand.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/htable.h>

#include "net/conn.h"
#include "net/conn_impl.h"
#include "core/framing.h"
#include "util/netaddr.h"
#include "util/log.h"
#include "core/share.h"

#define CONN_HASH(c) ((c)->hash)
HTABLE_DECLARE_WITH(conn_ht, ch, struct conn, size_t, unsigned);
HTABLE_BODIES_WITH(conn_ht, ch, struct conn, CONN_HASH, size_t, unsigned);

/* Accepted connections per source address (limits.max_connections_per_ip). */
struct ipcount {
	unsigned hash;
	unsigned n;
	char ip[INET6_ADDRSTRLEN];
};
#define IP_HASH(x) ((x)->hash)
HTABLE_DECLARE_WITH(ip_ht, ih, struct ipcount, size_t, unsigned);
HTABLE_BODIES_WITH(ip_ht, ih, struct ipcount, IP_HASH, size_t, unsigned);

static uint64_t key_salt;      /* conn_to's index and the per-address
				* counts: keys come from peers */

struct conn_table {
	conn_ht_t ht;           /* by id */
	ip_ht_t ips;            /* inbound connections per source address */
	struct conn *head;      /* all connections */
	size_t n, nzone[2];
	size_t handshaking;     /* accepted, handshake not done */
	struct conn **kb;       /* by reuse key (conn_to), chained */
	size_t nkb, nkeyed;
	struct shares *hs_nets; /* the same, per /24 or /64 */
};

/* Salted: a peer with an IPv6 /64 picks its source addresses, and all of
 * them in one probe run would make each accept and close walk it. */
static unsigned ip_hash(const char *ip)
{
	uint64_t h = 1469598103934665603ull ^ key_salt;
	for (; *ip; ip++)
		h = (h ^ (unsigned char)*ip) * 1099511628211ull;
	return (unsigned)(h ^ (h >> 32));
}

static struct ipcount *ip_find(struct conn_table *t, const char *ip)
{
	unsigned h = ip_hash(ip);
	for (struct ipcount **p = ip_ht_hash(&t->ips, h); *p; p = ip_ht_next(&t->ips, p))
		if ((*p)->hash == h && strcmp((*p)->ip, ip) == 0)
			return *p;
	return NULL;
}

/* Count one more inbound connection from ip; false if that passes max. */
static bool ip_take(struct conn_table *t, const char *ip, unsigned max)
{
	struct ipcount *c = ip_find(t, ip);
	if (c && c->n >= max)
		return false;
	if (!c) {
		if ((ip_ht_is_full(&t->ips) && ip_ht_resize(NULL, &t->ips, 0) < 0) ||
		    !(c = calloc(1, sizeof *c)))
			return false;
		c->hash = ip_hash(ip);
		snprintf(c->ip, sizeof c->ip, "%s", ip);
		ip_ht_insert(&t->ips, c);
	}
	c->n++;
	return true;
}

static void ip_release(struct conn_table *t, const char *ip)
{
	struct ipcount *c = ip_find(t, ip);
	if (c && --c->n == 0) {
		ip_ht_remove(&t->ips, c);
		free(c);
	}
}

static struct conn_table *conn_table_new(void)
{
	struct conn_table *t = calloc(1, sizeof *t);
	if (!key_salt)
		RAND_bytes((unsigned char *)&key_salt, sizeof key_salt);
	if (t && (conn_ht_resize(NULL, &t->ht, 0) < 0 || ip_ht_resize(NULL, &t->ips, 0) < 0 ||
		  !(t->hs_nets = shares_new()))) {
		su_free(NULL, t->ht.ch_table);
		su_free(NULL, t->ips.ih_table);
		free(t);
		return NULL;
	}
	return t;
}

static void conn_table_free(struct conn_table *t)
{
	if (!t)
		return;
	assert(t->head == NULL);
	shares_free(t->hs_nets);
	free(t->kb);
	su_free(NULL, t->ht.ch_table);
	su_free(NULL, t->ips.ih_table);
	free(t);
}

struct netctx *netctx_new(struct event_base *base, const struct conf *conf, uint64_t *next_id)
{
	struct netctx *n = calloc(1, sizeof *n);
	if (!n || !(n->conns = conn_table_new())) {
		free(n);
		return NULL;
	}
	n->base = base;
	n->conf = conf;
	n->next_id = next_id;
	return n;
}

void netctx_free(struct netctx *n)
{
	if (!n)
		return;
	conn_table_free(n->conns);
	free(n);
}

void netctx_set_handlers(struct netctx *n, const struct conn_handlers *h, void *owner)
{
	n->on = *h;
	n->owner = owner;
}

size_t conn_count(const struct netctx *n, int zone)
{
	return zone < 0 ? n->conns->n : n->conns->nzone[zone];
}

static unsigned id_hash(uint64_t id)
{
	return (unsigned)((id * 0x9E3779B97F4A7C15ull) >> 32);
}

struct conn *conn_by_id(struct netctx *n, uint64_t id)
{
	conn_ht_t *ht = &n->conns->ht;
	for (struct conn **cc = conn_ht_hash(ht, id_hash(id)); *cc;
	     cc = conn_ht_next(ht, cc))
		if ((*cc)->id == id)
			return *cc;
	return NULL;
}

struct conn *conn_new(struct netctx *n, enum zone zone, enum transport tr)
{
	struct conn_table *t = n->conns;
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->opened = time(NULL);
	c->fr = framer_new((size_t)n->conf->limits.max_message_size);
	c->pending = evbuffer_new();
	if (!c->fr || !c->pending || (conn_ht_is_full(&t->ht) &&
				       conn_ht_resize(NULL, &t->ht, 0) < 0)) {
		framer_free(c->fr);
		if (c->pending)
			evbuffer_free(c->pending);
		free(c);
		return NULL;
	}
	c->id = ++*n->next_id;
	c->hash = id_hash(c->id);
	c->net = n;
	c->edge = n->owner;
	c->zone = zone;
	c->transport = tr;
	c->node = -1;
	c->state = CONN_TCP_CONNECTING;
	conn_ht_insert(&t->ht, c);
	c->next = t->head;
	if (t->head)
		t->head->prev = c;
	t->head = c;
	t->n++;
	t->nzone[zone]++;
	return c;
}

/* ------------------------------------------------------------ reuse index
 *
 * conn_to() finds a connection to reuse by key, never by walking every
 * connection (SPEC: no per-message cost that grows with the edge):
 *   n|NODE          a node's connection, either direction
 *   o|ZONE|HOST|PORT  a connection the edge dialled
 *   a|HOST|PORT     a partner's connection that asked for reuse (alias)
 * Host names are compared case-insensitively: keys hold them lower-case. */
static unsigned key_hash(const char *k)
{
	uint64_t h = 1469598103934665603ull ^ key_salt;
	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ull;
	return (unsigned)(h ^ (h >> 32));
}

/* O(1): a chain may hold many connections under one key (a partner's
 * connections that all asked for reuse of one host and port). */
static void unindex(struct conn *c)
{
	struct conn_table *t = c->net->conns;
	if (c->kpprev) {
		*c->kpprev = c->knext;
		if (c->knext)
			c->knext->kpprev = c->kpprev;
		t->nkeyed--;
	}
	c->key[0] = '\0';
	c->knext = NULL;
	c->kpprev = NULL;
}

static void link_key(struct conn **head, struct conn *c)
{
	c->knext = *head;
	if (c->knext)
		c->knext->kpprev = &c->knext;
	*head = c;
	c->kpprev = head;
}

void conn_index_as(struct conn *c, const char *fmt, ...)
{
	struct conn_table *t = c->net->conns;
	unindex(c);
	if (!t->kb || t->nkeyed >= t->nkb) {       /* grow: load at most 1 */
		size_t n = t->nkb ? t->nkb * 2 : 256;
		struct conn **kb = calloc(n, sizeof *kb);
		if (!kb && !t->kb)
			return;                     /* not reusable: still correct */
		if (kb) {
			for (size_t i = 0; i < t->nkb; i++)
				for (struct conn *x = t->kb[i], *nx; x; x = nx) {
					nx = x->knext;
					link_key(&kb[x->khash % n], x);
				}
			free(t->kb);
			t->kb = kb;
			t->nkb = n;
		}
	}
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(c->key, sizeof c->key, fmt, ap);
	va_end(ap);
	for (char *p = c->key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	c->khash = key_hash(c->key);
	link_key(&t->kb[c->khash % t->nkb], c);
	t->nkeyed++;
}

struct conn *conn_keyed(struct netctx *n, const char *key, struct conn *after)
{
	struct conn_table *t = n->conns;
	if (!t->kb)
		return NULL;
	char k[sizeof after->key];
	snprintf(k, sizeof k, "%s", key);
	for (char *p = k; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	unsigned h = key_hash(k);
	for (struct conn *c = after ? after->knext : t->kb[h % t->nkb]; c; c = c->knext)
		if (c->khash == h && strcmp(c->key, k) == 0)
			return c;
	return NULL;
}

void conn_set_alias(struct conn *c, const char *host, int port)
{
	snprintf(c->alias, sizeof c->alias, "%s", host);
	c->alias_port = port;
	/* Indexed only when its certificate names host, as conn_to() requires
	 * for reuse: every lookup under a key walks what is indexed there, so
	 * a peer claiming another partner's name for all its connections
	 * (up to max_connections) would make each request to that partner
	 * walk them. */
	if (certnames_match(&c->names, host, c->net->conf->tls.external.accept_wildcards))
		conn_index_as(c, "a|%s|%d", host, port);
}

void conn_set_node(struct conn *c, int node)
{
	c->node = node;
	if (node >= 0)
		conn_index_as(c, "n|%d", node);
	else if (c->key[0] == 'n')
		unindex(c);
}

static void conn_free(struct conn *c)
{
	struct conn_table *t = c->net->conns;
	conn_ht_remove(&t->ht, c);
	if (c->prev)
		c->prev->next = c->next;
	else
		t->head = c->next;
	if (c->next)
		c->next->prev = c->prev;
	t->n--;
	t->nzone[c->zone]--;
	if (c->counted_ip)
		ip_release(t, c->peer_ip);
	conn_handshake_over(c);
	unindex(c);
	conn_pp_free(c);
	if (c->bev)
		bufferevent_free(c->bev);      /* closes the socket and SSL */
	if (c->hs_timer)
		event_free(c->hs_timer);
	if (c->hdr_timer)
		event_free(c->hdr_timer);
	if (c->stall_timer)
		event_free(c->stall_timer);
	framer_free(c->fr);
	evbuffer_free(c->pending);
	certnames_free(&c->names);
	free(c);
}

void conn_reap(struct conn *c)
{
	if (c->busy == 0 && c->state == CONN_CLOSED)
		conn_free(c);
}

void conn_enter(struct conn *c)
{
	c->busy++;
}

void conn_leave(struct conn *c)
{
	c->busy--;
	conn_reap(c);
}

void conn_drop(struct conn *c)
{
	c->state = CONN_CLOSED;
	conn_reap(c);
}

const char *conn_peer_key(const struct conn *c, char *buf, size_t len)
{
	if (c->zone == ZONE_INTERNAL && c->node >= 0 &&
	    (size_t)c->node < c->net->conf->internal.nnodes)
		snprintf(buf, len, "node:%s", c->net->conf->internal.nodes[c->node].name);
	else if (c->names.n > 0)
		snprintf(buf, len, "cert:%s", c->names.name[0]);
	else
		snprintf(buf, len, "net:%s", c->peer_ip[0] ? c->peer_ip : c->target);
	return buf;
}

const char *conn_fail_slug(enum conn_fail f)
{
	switch (f) {
	case CFAIL_NONE: return "closed";
	case CFAIL_DNS: return "dns_failed";
	case CFAIL_CONNECT: return "connect_failed";
	case CFAIL_TLS: return "tls_failed";
	case CFAIL_CERT_NAME: return "certificate_name";
	case CFAIL_CLOSED: return "closed";
	case CFAIL_FORBIDDEN: return "target_forbidden";
	}
	return "closed";
}

void conn_close(struct conn *c, enum conn_fail why, const char *reason)
{
	if (c->state == CONN_CLOSED)
		return;
	/* A connection accepted and closed before its handshake completed
	 * is a peer's doing that proved nothing: a flood of them is logged
	 * once a second (suppressed=N), not once each. */
	bool unproven = !c->outbound && c->state != CONN_UP;
	c->state = CONN_CLOSED;
	if (c->fail == CFAIL_NONE) {
		c->fail = why;
		snprintf(c->fail_reason, sizeof c->fail_reason, "%s",
			 reason ? reason : conn_fail_slug(why));
	}
	unsigned dropped = 0;
	if (!unproven || log_flood_allow("connection_closed", "unproven", &dropped)) {
		char id[24], n[16];
		snprintf(id, sizeof id, "c%llu", (unsigned long long)c->id);
		snprintf(n, sizeof n, "%u", dropped);
		log_event(LOG_INFO, "connection_closed",
			  LOG_STR("id", id),
			  LOG_STR("zone", c->zone == ZONE_EXTERNAL ? "external" : "internal"),
			  LOG_STR("peer", c->peer[0] ? c->peer : NULL),
			  LOG_STR("target", c->target[0] ? c->target : NULL),
			  LOG_STR("reason", c->fail_reason),
			  LOG_STR("suppressed", dropped ? n : NULL),
			  LOG_CONN(c->id));
	}
	/* The owner answers what waited on c and frees its c->owner. */
	if (c->net->on.on_closed)
		c->net->on.on_closed(c);
	conn_reap(c);
}

void conn_foreach(struct netctx *n, void (*fn)(struct conn *c, void *arg), void *arg)
{
	for (struct conn *c = n->conns->head, *next; c; c = next) {
		next = c->next;
		if (c->state != CONN_CLOSED)
			fn(c, arg);
	}
}

void conn_close_all(struct netctx *n)
{
	while (n->conns->head) {
		struct conn *c = n->conns->head;
		if (c->state == CONN_CLOSED) {
			/* still inside a callback (DNS): detach it from us, the
			 * one free that does not wait for conn_leave() */
			conn_free(c);
			continue;
		}
		c->busy = 0;
		conn_close(c, CFAIL_CLOSED, "shutdown");
	}
}

void conn_fmt_peer(struct conn *c, const struct sockaddr *sa)
{
	char ip[INET6_ADDRSTRLEN] = "?";
	int port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
		port = ntohs(s4->sin_port);
		snprintf(c->peer, sizeof c->peer, "%s:%d", ip, port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
		port = ntohs(s6->sin6_port);
		snprintf(c->peer, sizeof c->peer, "[%s]:%d", ip, port);
	}
	snprintf(c->peer_ip, sizeof c->peer_ip, "%s", ip);
}


/* An accepted connection leaves the pre-authentication budget: its
 * handshake is done, or it is gone. */
void conn_handshake_over(struct conn *c)
{
	if (!c->hs_net[0])
		return;
	c->net->conns->handshaking--;
	shares_release(c->net->conns->hs_nets, c->hs_net);
	c->hs_net[0] = '\0';
}

/* Connections still in TCP/TLS setup have a budget of their own, under
 * max_connections: limits.max_handshaking in all, and
 * max_handshaking_per_network per IPv4 /24 or IPv6 /64, so that floods of
 * half-open connections from a few networks cannot take the room of
 * partners that already proved who they are. */
static bool handshake_budget(struct conn *c, const struct sockaddr *sa)
{
	struct conn_table *t = c->net->conns;
	const struct conf *cf = c->net->conf;
	unsigned char a[16];
	int fam = net_addr_of(sa, a);
	char net[INET6_ADDRSTRLEN];
	if (fam == AF_INET) {
		a[3] = 0;
		inet_ntop(AF_INET, a, net, sizeof net);
		snprintf(c->hs_net, sizeof c->hs_net, "%s/24", net);
	} else {
		memset(a + 8, 0, 8);
		inet_ntop(AF_INET6, a, net, sizeof net);
		snprintf(c->hs_net, sizeof c->hs_net, "%s/64", net);
	}
	if (t->handshaking >= (size_t)cf->limits.max_handshaking) {
		log_limit_reached("max_handshaking", c->peer_ip);
		c->hs_net[0] = '\0';
		return false;
	}
	if (!shares_take(t->hs_nets, c->hs_net, (unsigned)cf->limits.max_handshaking_per_network)) {
		log_limit_reached("max_handshaking_per_network", c->hs_net);
		c->hs_net[0] = '\0';
		return false;
	}
	t->handshaking++;
	return true;
}

/* ------------------------------------------------------------ accept */

static int node_by_ip(const struct conf *cf, const char *ip)
{
	unsigned char a[16], b[16];
	int fam = strchr(ip, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(fam, ip, a) != 1)
		return -1;
	for (size_t i = 0; i < cf->internal.nnodes; i++)
		if (inet_pton(fam, cf->internal.nodes[i].address, b) == 1 &&
		    memcmp(a, b, fam == AF_INET ? 4 : 16) == 0)
			return (int)i;
	return -1;
}

/* See conn_impl.h. The balancer's network held the handshake slot until
 * now; the client's takes it over. */
bool conn_proxied(struct conn *c, const struct sockaddr *client)
{
	struct conn_table *t = c->net->conns;
	const struct conf *cf = c->net->conf;
	char lb[sizeof c->peer];
	snprintf(lb, sizeof lb, "%s", c->peer);
	conn_handshake_over(c);
	conn_fmt_peer(c, client);
	log_msg(LOG_DEBUG, "c%llu: PROXY header from %s names %s",
		(unsigned long long)c->id, lb, c->peer);
	if (!ip_take(t, c->peer_ip, (unsigned)cf->limits.max_connections_per_ip)) {
		log_limit_reached("max_connections_per_ip", c->peer_ip);
		return false;
	}
	c->counted_ip = true;
	return c->transport != TRANSPORT_TLS || handshake_budget(c, client);
}

void conn_accept(struct netctx *n, evutil_socket_t fd, const struct sockaddr *sa,
		 int salen, enum zone zone, enum transport tr, int local_port, bool proxy)
{
	(void)salen;
	const struct conf *cf = n->conf;
	char ipbuf[INET6_ADDRSTRLEN] = "";
	unsigned char raw[16];
	int fam = net_addr_of(sa, raw);
	if (fam)
		inet_ntop(fam, raw, ipbuf, sizeof ipbuf);
	/* A configured node may always connect: partners filling the table
	 * must not cut the edge off from its own nodes. */
	bool is_node = zone == ZONE_INTERNAL && node_by_ip(cf, ipbuf) >= 0;
	if (n->stopping || (!is_node && conn_count(n, -1) >= (size_t)cf->limits.max_connections)) {
		if (!n->stopping)
			log_limit_reached("max_connections", NULL);
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = conn_new(n, zone, tr);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	conn_fmt_peer(c, sa);
	c->local_port = local_port;
	/* One address may not take every slot; configured nodes are exempt.
	 * Behind a balancer, the address counted is the client's, once its
	 * PROXY header has named it (conn_proxied). */
	if (!proxy && node_by_ip(cf, c->peer_ip) < 0) {
		if (!ip_take(n->conns, c->peer_ip, (unsigned)cf->limits.max_connections_per_ip)) {
			log_limit_reached("max_connections_per_ip", c->peer_ip);
			evutil_closesocket(fd);
			conn_drop(c);
			return;
		}
		c->counted_ip = true;
	}
	if (zone == ZONE_INTERNAL) {
		/* Only the configured nodes may use the internal listeners. */
		conn_set_node(c, node_by_ip(cf, c->peer_ip));
		if (c->node < 0) {
			log_event(LOG_WARNING, "connection_refused",
				  LOG_STR("zone", "internal"),
				  LOG_STR("peer", c->peer),
				  LOG_STR("reason", "not a configured node"),
				  LOG_CONN(c->id));
			evutil_closesocket(fd);
			conn_drop(c);
			return;
		}
	}
	evutil_make_socket_nonblocking(fd);
	if (proxy) {
		/* Waiting for the header, the balancer holds the slot. */
		if (!conn_timers_new(c) || !handshake_budget(c, sa) ||
		    !conn_proxy_wait(c, fd)) {
			evutil_closesocket(fd);
			conn_drop(c);
		}
		return;
	}
	if (!conn_timers_new(c) || !conn_setup_bev(c, fd, true)) {
		evutil_closesocket(fd);
		conn_drop(c);
		return;
	}
	if (tr == TRANSPORT_TCP) {
		conn_go_up(c);
	} else {
		if (zone == ZONE_EXTERNAL && !handshake_budget(c, sa)) {
			conn_drop(c);
			return;
		}
		c->state = CONN_TLS_HANDSHAKING;
		struct timeval tv = { cf->limits.handshake_timeout, 0 };
		evtimer_add(c->hs_timer, &tv);
	}
}

