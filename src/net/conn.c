/* conn.c - connection lifecycle: accept, dial, verify, frame, time out.
 *
 * Dialling is done in two visible steps, TCP connect and then TLS, so that
 * "could not connect" (1046) and "TLS negotiation failed" (1047) stay
 * distinguishable, as the federation diagnostics require.
 */
#include <assert.h>
#include <errno.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <ifaddrs.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/htable.h>

#include "net/conn.h"
#include "proxy/edge.h"
#include "core/framing.h"
#include "core/guard.h"
#include "util/netaddr.h"
#include "net/listener.h"
#include "util/log.h"
#include "daemon/metrics.h"
#include "proxy/proxy.h"
#include "core/share.h"
#include "net/tls.h"

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

static uint64_t key_salt;      /* conn_to's index: keys come from peers */

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

static unsigned ip_hash(const char *ip)
{
	unsigned h = 2166136261u;
	for (; *ip; ip++)
		h = (h ^ (unsigned char)*ip) * 16777619u;
	return h;
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

struct conn_table *conn_table_new(void)
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

void conn_table_free(struct conn_table *t)
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

size_t conn_count(const struct edge *e, int zone)
{
	return zone < 0 ? e->conns->n : e->conns->nzone[zone];
}

static unsigned id_hash(uint64_t id)
{
	return (unsigned)((id * 0x9E3779B97F4A7C15ull) >> 32);
}

struct conn *conn_by_id(struct edge *e, uint64_t id)
{
	conn_ht_t *ht = &e->conns->ht;
	for (struct conn **cc = conn_ht_hash(ht, id_hash(id)); *cc;
	     cc = conn_ht_next(ht, cc))
		if ((*cc)->id == id)
			return *cc;
	return NULL;
}

static struct conn *conn_new(struct edge *e, enum zone zone, enum transport tr)
{
	struct conn_table *t = e->conns;
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->fr = framer_new((size_t)e->conf->limits.max_message_size);
	c->pending = evbuffer_new();
	if (!c->fr || !c->pending || (conn_ht_is_full(&t->ht) &&
				       conn_ht_resize(NULL, &t->ht, 0) < 0)) {
		framer_free(c->fr);
		if (c->pending)
			evbuffer_free(c->pending);
		free(c);
		return NULL;
	}
	c->id = ++e->next_id;
	c->hash = id_hash(c->id);
	c->edge = e;
	c->zone = zone;
	c->transport = tr;
	c->node = -1;
	c->state = CONN_CONNECTING;
	conn_ht_insert(&t->ht, c);
	c->next = t->head;
	if (t->head)
		t->head->prev = c;
	t->head = c;
	t->n++;
	t->nzone[zone]++;
	return c;
}

static void handshake_over(struct conn *c);

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

static void unindex(struct conn *c)
{
	struct conn_table *t = c->edge->conns;
	if (!c->key[0] || !t->kb)
		return;
	for (struct conn **p = &t->kb[c->khash % t->nkb]; *p; p = &(*p)->knext)
		if (*p == c) {
			*p = c->knext;
			t->nkeyed--;
			break;
		}
	c->key[0] = '\0';
	c->knext = NULL;
}

static void index_as(struct conn *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void index_as(struct conn *c, const char *fmt, ...)
{
	struct conn_table *t = c->edge->conns;
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
					x->knext = kb[x->khash % n];
					kb[x->khash % n] = x;
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
	c->knext = t->kb[c->khash % t->nkb];
	t->kb[c->khash % t->nkb] = c;
	t->nkeyed++;
}

void conn_set_alias(struct conn *c, const char *host, int port)
{
	snprintf(c->alias, sizeof c->alias, "%s", host);
	c->alias_port = port;
	index_as(c, "a|%s|%d", host, port);
}

void conn_set_node(struct conn *c, int node)
{
	c->node = node;
	if (node >= 0)
		index_as(c, "n|%d", node);
	else if (c->key[0] == 'n')
		unindex(c);
}

static void conn_free(struct conn *c)
{
	struct conn_table *t = c->edge->conns;
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
	handshake_over(c);
	unindex(c);
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
	free(c->verdicts);
	free(c);
}

const char *conn_peer_key(const struct conn *c, char *buf, size_t len)
{
	if (c->zone == ZONE_INTERNAL && c->node >= 0 &&
	    (size_t)c->node < c->edge->conf->internal.nnodes)
		snprintf(buf, len, "node:%s", c->edge->conf->internal.nodes[c->node].name);
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
			  LOG_STR("suppressed", dropped ? n : NULL));
	}
	proxy_conn_closed(c);
	if (!c->busy)
		conn_free(c);
}

void conn_foreach(struct edge *e, void (*fn)(struct conn *c, void *arg), void *arg)
{
	for (struct conn *c = e->conns->head, *next; c; c = next) {
		next = c->next;
		if (c->state != CONN_CLOSED)
			fn(c, arg);
	}
}

void conn_close_all(struct edge *e)
{
	while (e->conns->head) {
		struct conn *c = e->conns->head;
		if (c->state == CONN_CLOSED) {
			/* still inside a callback (DNS): detach it from us */
			conn_free(c);
			continue;
		}
		c->busy = 0;
		conn_close(c, CFAIL_CLOSED, "shutdown");
	}
}

static void fmt_peer(struct conn *c, const struct sockaddr *sa)
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

/* ------------------------------------------------------------ reading */

/* The deadline runs from a message's first byte: restart it when a
 * message completed in this read and another has begun. */
static void arm_header_timer(struct conn *c, bool completed)
{
	bool pending = framer_pending(c->fr);
	bool armed = evtimer_pending(c->hdr_timer, NULL);
	if (pending && (!armed || completed)) {
		struct timeval tv = { c->edge->conf->limits.header_timeout, 0 };
		evtimer_add(c->hdr_timer, &tv);
	} else if (!pending && armed) {
		evtimer_del(c->hdr_timer);
	}
}

static bool dispatch(struct conn *c)
{
	msg_t *msg;
	enum frame_event ev;
	bool completed = false;
	while (c->state == CONN_UP && (ev = framer_next(c->fr, &msg)) != FRAME_NONE) {
		switch (ev) {
		case FRAME_MSG:
			completed = true;
			proxy_on_message(c, msg);
			break;
		case FRAME_PING:
			bufferevent_write(c->bev, "\r\n", 2);
			break;
		case FRAME_ERROR:
			log_event(LOG_NOTICE, "message_rejected",
				  LOG_STR("peer", c->peer),
				  LOG_STR("reason", "unparseable stream"));
			conn_close(c, CFAIL_CLOSED, "parse_error");
			break;
		case FRAME_TOOLARGE:
			log_event(LOG_NOTICE, "message_rejected",
				  LOG_STR("peer", c->peer),
				  LOG_STR("reason", "message exceeds limits.max_message_size"));
			conn_close(c, CFAIL_CLOSED, "too_large");
			break;
		case FRAME_NONE:
			break;
		}
	}
	/* Anything left after a close is dropped with the framer. */
	return completed;
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	c->busy++;
	c->heard = true;
	bool completed = false;
	while (c->state == CONN_UP && !c->out_paused && evbuffer_get_length(in) > 0) {
		struct evbuffer_iovec v[8];
		int n = evbuffer_peek(in, -1, NULL, v, 8);
		size_t used = 0;
		for (int i = 0; i < n && i < 8; i++) {
			framer_feed(c->fr, v[i].iov_base, v[i].iov_len);
			used += v[i].iov_len;
		}
		evbuffer_drain(in, used);
		completed |= dispatch(c);
	}
	if (c->state == CONN_UP)
		arm_header_timer(c, completed);
	if (--c->busy == 0 && c->state == CONN_CLOSED)
		conn_free(c);
}

static void on_header_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct conn *c = arg;
	log_event(LOG_NOTICE, "message_rejected",
		  LOG_STR("peer", c->peer),
		  LOG_STR("reason", "message not completed within limits.header_timeout"));
	conn_close(c, CFAIL_CLOSED, "header_timeout");
}

/* ------------------------------------------------------------ TLS + up */

static void log_handshake_failure(struct conn *c, const char *slug,
				  const char *detail, const char *hint)
{
	const char *zone = c->zone == ZONE_EXTERNAL ? "external" : "internal";
	metrics_tls_failure(c->edge->metrics, zone, slug);
	/* Handshakes we did not start are a peer's doing: a flood of them
	 * is logged once a second per reason. A connect-and-close with no
	 * TLS byte (a scanner, a load balancer's check) is only info. */
	unsigned dropped = 0;
	if (!c->outbound && !log_flood_allow("tls_handshake_failed", slug, &dropped))
		return;
	char n[16];
	snprintf(n, sizeof n, "%u", dropped);
	log_event(strcmp(slug, "closed") == 0 ? LOG_INFO : LOG_WARNING, "tls_handshake_failed",
		  LOG_STR("zone", zone),
		  LOG_STR("peer", c->peer),
		  LOG_STR("target", c->target[0] ? c->target : NULL),
		  LOG_STR("reason", slug),
		  LOG_STR("detail", detail),
		  LOG_STR("hint", *hint ? hint : NULL),
		  LOG_STR("suppressed", dropped ? n : NULL));
}

/* An accepted connection leaves the pre-authentication budget: its
 * handshake is done, or it is gone. */
static void handshake_over(struct conn *c)
{
	if (!c->hs_net[0])
		return;
	c->edge->conns->handshaking--;
	shares_release(c->edge->conns->hs_nets, c->hs_net);
	c->hs_net[0] = '\0';
}

/* Connections still in TCP/TLS setup have a budget of their own, under
 * max_connections: limits.max_handshaking in all, and
 * max_handshaking_per_network per IPv4 /24 or IPv6 /64, so that floods of
 * half-open connections from a few networks cannot take the room of
 * partners that already proved who they are. */
static bool handshake_budget(struct conn *c, const struct sockaddr *sa)
{
	struct conn_table *t = c->edge->conns;
	const struct conf *cf = c->edge->conf;
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

static void go_up(struct conn *c)
{
	const struct conf *cf = c->edge->conf;
	handshake_over(c);
	c->state = CONN_UP;
	/* An earlier address that failed says nothing about this one. */
	c->fail = CFAIL_NONE;
	c->fail_reason[0] = '\0';
	if (c->outbound && c->zone == ZONE_EXTERNAL)
		reach_clear(&c->edge->reach, c->target, c->target_port);
	evtimer_del(c->hs_timer);
	struct timeval idle = { cf->limits.idle_timeout, 0 };
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	if (evbuffer_get_length(c->pending) > 0)
		bufferevent_write_buffer(c->bev, c->pending);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* The name this connection's certificate must prove, or NULL. */
static const char *expected_name(struct conn *c)
{
	if (c->node >= 0)
		return c->edge->conf->internal.nodes[c->node].tls_name;
	if (c->outbound)
		return c->target;
	return NULL;
}

static void on_tls_up(struct conn *c)
{
	SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
	X509 *cert = SSL_get1_peer_certificate(ssl);
	certnames_from_x509(cert, &c->names);
	X509_free(cert);
	const char *want = expected_name(c);
	bool wild = c->zone == ZONE_EXTERNAL && c->edge->conf->tls.external.accept_wildcards;
	if (want && !certnames_match(&c->names, want, wild)) {
		char names[512], reason[1024];
		certnames_join(&c->names, names, sizeof names);
		snprintf(reason, sizeof reason,
			 "certificate does not name %s (it names: %s)", want,
			 *names ? names : "nothing");
		log_handshake_failure(c, "certificate_name", reason, "");
		conn_close(c, CFAIL_CERT_NAME, reason);
		return;
	}
	go_up(c);
}

static void try_next_addr(struct conn *c);

/* Why an established connection failed. OpenSSL 3 reports a peer that
 * closes without close_notify as "unexpected eof": that is a plain close. */
static const char *close_reason(struct conn *c)
{
	static char reason[160];
	unsigned long err = c->transport == TRANSPORT_TLS
		? bufferevent_get_openssl_error(c->bev) : 0;
	int serr = EVUTIL_SOCKET_ERROR();
	if (err && ERR_GET_REASON(err) != SSL_R_UNEXPECTED_EOF_WHILE_READING) {
		const char *r = ERR_reason_error_string(err);
		snprintf(reason, sizeof reason, "tls error: %s", r ? r : "unknown");
	} else if (serr && !err) {
		snprintf(reason, sizeof reason, "socket error: %s",
			 evutil_socket_error_to_string(serr));
	} else {
		return "peer_closed";
	}
	return reason;
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	(void)bev;
	c->busy++;
	if (what & BEV_EVENT_CONNECTED) {
		if (c->transport == TRANSPORT_TLS)
			on_tls_up(c);
		else
			go_up(c);
	} else if (c->state == CONN_CONNECTING && c->transport == TRANSPORT_TLS) {
		char reason[256], hint[160];
		unsigned long err = bufferevent_get_openssl_error(c->bev);
		SSL *ssl = bufferevent_openssl_get_ssl(c->bev);
		tls_failure_reason(ssl, err, reason, sizeof reason, hint, sizeof hint);
		const char *slug = tls_failure_slug(ssl, err);
		while (bufferevent_get_openssl_error(c->bev))
			;
		log_handshake_failure(c, slug, reason, hint);
		if (c->outbound) {
			c->fail = CFAIL_TLS;
			snprintf(c->fail_reason, sizeof c->fail_reason, "%s", reason);
			bufferevent_free(c->bev);
			c->bev = NULL;
			try_next_addr(c);
		} else {
			conn_close(c, CFAIL_TLS, reason);
		}
	} else if (what & BEV_EVENT_TIMEOUT) {
		conn_close(c, CFAIL_CLOSED, "idle_timeout");
	} else if (what & BEV_EVENT_EOF) {
		conn_close(c, CFAIL_CLOSED, "peer_closed");
	} else if (what & BEV_EVENT_ERROR) {
		/* TLS 1.3: a server refuses our certificate after our side of
		 * the handshake is done. Silence then an error is a TLS
		 * failure, not a lost connection: nothing was processed. */
		bool refused = c->outbound && !c->heard && c->transport == TRANSPORT_TLS;
		const char *why = close_reason(c);
		if (refused)
			log_handshake_failure(c, "alert_received", why, "");
		conn_close(c, refused ? CFAIL_TLS : CFAIL_CLOSED, why);
	}
	if (--c->busy == 0 && c->state == CONN_CLOSED)
		conn_free(c);
}

static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct conn *c = arg;
	if (c->outbound && c->state == CONN_CONNECTING) {
		c->fail = c->bev ? CFAIL_TLS : CFAIL_CONNECT;
		snprintf(c->fail_reason, sizeof c->fail_reason, "%s timed out",
			 c->bev ? "TLS handshake" : "TCP connect");
		if (c->bev)
			log_handshake_failure(c, "handshake_timeout", c->fail_reason, "");
		conn_close(c, c->fail, c->fail_reason);
		return;
	}
	log_handshake_failure(c, "handshake_timeout",
			      "handshake not completed within limits.handshake_timeout", "");
	conn_close(c, CFAIL_TLS, "handshake_timeout");
}

/* ------------------------------------------------------------ output cap
 *
 * A peer that does not read its responses would make the edge hold them
 * without end (SPEC section 1). Above limits.max_output_buffer the edge
 * stops reading from that peer, so it sends nothing more that needs an
 * answer; once half of it has drained, reading resumes. Still above after
 * limits.output_stall_timeout seconds, or four times above at any time,
 * the connection is closed. */
static void on_stalled(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct conn *c = arg;
	if (c->out_paused)
		conn_close(c, CFAIL_CLOSED, "output_stalled");
}

static void check_output(struct conn *c, size_t queued)
{
	const struct conf *cf = c->edge->conf;
	size_t cap = (size_t)cf->limits.max_output_buffer;
	/* A node's connection carries every partner's traffic: pausing or
	 * closing it would let one partner hurt all. Requests toward a
	 * congested node are refused instead (conn_congested()). */
	if (queued <= cap || c->zone == ZONE_INTERNAL)
		return;
	/* Closing is left to the timer: the caller may still be writing
	 * the rest of a message to c. */
	bool overflow = queued > 4 * cap;
	if (c->out_paused && !overflow)
		return;
	if (!c->stall_timer && !(c->stall_timer = evtimer_new(c->edge->base, on_stalled, c)))
		return;
	if (!c->out_paused) {
		char key[SHARE_KEY_MAX];
		c->out_paused = true;
		if (c->bev)
			bufferevent_disable(c->bev, EV_READ);
		log_limit_reached("max_output_buffer", conn_peer_key(c, key, sizeof key));
	}
	struct timeval tv = { overflow ? 0 : cf->limits.output_stall_timeout, 0 };
	evtimer_add(c->stall_timer, &tv);
}

static void on_drained(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (!c->out_paused || c->state != CONN_UP)
		return;
	c->out_paused = false;
	if (c->stall_timer)
		evtimer_del(c->stall_timer);
	bufferevent_enable(bev, EV_READ);
	/* What arrived before the pause is still in the input buffer. */
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

static bool setup_bev(struct conn *c, evutil_socket_t fd, bool accepting)
{
	struct edge *e = c->edge;
	/* A SIP message is written whole: Nagle would only hold a response
	 * back until the peer's next ACK (20 ms p50 at 50 requests/s). */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (c->transport == TRANSPORT_TLS) {
		SSL_CTX *ctx = c->zone == ZONE_EXTERNAL
			? (accepting ? e->tls->ext_server : e->tls->ext_client)
			: (accepting ? e->tls->int_server : e->tls->int_client);
		SSL *ssl = ctx ? SSL_new(ctx) : NULL;
		if (!ssl)
			return false;
		if (!accepting && c->target[0] && !strchr(c->target, ':') &&
		    inet_addr(c->target) == INADDR_NONE)
			SSL_set_tlsext_host_name(ssl, c->target);
		c->bev = bufferevent_openssl_socket_new(e->base, fd, ssl,
			accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev) {
			SSL_free(ssl);
			return false;
		}
	} else {
		c->bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			return false;
	}
	bufferevent_setcb(c->bev, on_read, on_drained, on_event, c);
	/* on_drained runs once the output is down to half the cap. */
	bufferevent_setwatermark(c->bev, EV_WRITE,
				 (size_t)e->conf->limits.max_output_buffer / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
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

void conn_accept(struct edge *e, evutil_socket_t fd, const struct sockaddr *sa,
		 int salen, enum zone zone, enum transport tr, int local_port)
{
	(void)salen;
	const struct conf *cf = e->conf;
	char ipbuf[INET6_ADDRSTRLEN] = "";
	unsigned char raw[16];
	int fam = net_addr_of(sa, raw);
	if (fam)
		inet_ntop(fam, raw, ipbuf, sizeof ipbuf);
	/* A configured node may always connect: partners filling the table
	 * must not cut the edge off from its own nodes. */
	bool is_node = zone == ZONE_INTERNAL && node_by_ip(cf, ipbuf) >= 0;
	if (e->stopping || (!is_node && conn_count(e, -1) >= (size_t)cf->limits.max_connections)) {
		if (!e->stopping)
			log_limit_reached("max_connections", NULL);
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = conn_new(e, zone, tr);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	fmt_peer(c, sa);
	c->local_port = local_port;
	/* One address may not take every slot; configured nodes are exempt. */
	if (node_by_ip(cf, c->peer_ip) < 0) {
		if (!ip_take(e->conns, c->peer_ip, (unsigned)cf->limits.max_connections_per_ip)) {
			log_limit_reached("max_connections_per_ip", c->peer_ip);
			evutil_closesocket(fd);
			c->state = CONN_CLOSED;
			conn_free(c);
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
				  LOG_STR("reason", "not a configured node"));
			evutil_closesocket(fd);
			c->state = CONN_CLOSED;
			conn_free(c);
			return;
		}
	}
	evutil_make_socket_nonblocking(fd);
	c->hs_timer = evtimer_new(e->base, on_handshake_timeout, c);
	c->hdr_timer = evtimer_new(e->base, on_header_timeout, c);
	if (!setup_bev(c, fd, true)) {
		evutil_closesocket(fd);
		c->state = CONN_CLOSED;
		conn_free(c);
		return;
	}
	if (tr == TRANSPORT_TCP) {
		go_up(c);
	} else {
		if (zone == ZONE_EXTERNAL && !handshake_budget(c, sa)) {
			c->state = CONN_CLOSED;
			conn_free(c);
			return;
		}
		struct timeval tv = { cf->limits.handshake_timeout, 0 };
		evtimer_add(c->hs_timer, &tv);
	}
}

/* ------------------------------------------------------------ dial */

static void on_connect_ready(evutil_socket_t fd, short what, void *arg);

/* Leave from the zone's own listening address, so that nodes (and
 * firewalls) see the address they were configured with. */
static void bind_source(struct conn *c, evutil_socket_t fd, int family)
{
	const struct listener *l = c->edge->listeners;
	while (l && l->zone != c->zone)
		l = l->next;
	if (!l)
		return;
	struct sockaddr_storage ss = { 0 };
	socklen_t len = 0;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		if (inet_pton(AF_INET, l->address, &s4->sin_addr) != 1 ||
		    s4->sin_addr.s_addr == htonl(INADDR_ANY))
			return;
		s4->sin_family = AF_INET;
		len = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET6, l->address, &s6->sin6_addr) != 1 ||
		    IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			return;
		s6->sin6_family = AF_INET6;
		len = sizeof *s6;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		log_msg(LOG_DEBUG, "cannot bind source %s: %s", l->address, strerror(errno));
}

static void try_next_addr(struct conn *c)
{
	while (c->next_addr < c->naddrs) {
		struct sockaddr_storage *sa = &c->addrs[c->next_addr++];
		fmt_peer(c, (struct sockaddr *)sa);
		socklen_t len = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
							  : sizeof(struct sockaddr_in);
		evutil_socket_t fd = socket(sa->ss_family, SOCK_STREAM, 0);
		if (fd < 0)
			continue;
		evutil_make_socket_nonblocking(fd);
		evutil_make_socket_closeonexec(fd);
		bind_source(c, fd, sa->ss_family);
		if (connect(fd, (struct sockaddr *)sa, len) < 0 && errno != EINPROGRESS) {
			c->fail = CFAIL_CONNECT;
			snprintf(c->fail_reason, sizeof c->fail_reason, "connect to %s: %s",
				 c->peer, strerror(errno));
			evutil_closesocket(fd);
			continue;
		}
		/* One-shot write watch: the connect result. */
		c->busy++;
		if (event_base_once(c->edge->base, fd, EV_WRITE, on_connect_ready, c, NULL) < 0) {
			c->busy--;
			evutil_closesocket(fd);
			continue;
		}
		return;
	}
	conn_close(c, c->fail ? c->fail : CFAIL_CONNECT,
		   c->fail_reason[0] ? c->fail_reason : "no address to connect to");
}

static void on_connect_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct conn *c = arg;
	int err = 0;
	socklen_t len = sizeof err;
	if (c->state == CONN_CLOSED) {
		evutil_closesocket(fd);
	} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
		c->fail = CFAIL_CONNECT;
		snprintf(c->fail_reason, sizeof c->fail_reason, "connect to %s: %s",
			 c->peer, strerror(err ? err : errno));
		evutil_closesocket(fd);
		try_next_addr(c);
	} else if (!setup_bev(c, fd, false)) {
		evutil_closesocket(fd);
		conn_close(c, CFAIL_CONNECT, "out of memory");
	} else if (c->transport == TRANSPORT_TCP) {
		go_up(c);
	}
	if (--c->busy == 0 && c->state == CONN_CLOSED)
		conn_free(c);
}

/* The edge's own interface addresses, for listeners bound to a wildcard
 * address; re-read at most once a minute. */
static struct guard_self own_addrs(void)
{
	static struct sockaddr_storage addrs[32];
	static size_t n;
	static time_t read_at;
	time_t now = time(NULL);
	if (now - read_at >= 60 || read_at == 0) {
		struct ifaddrs *ifa = NULL;
		n = 0;
		read_at = now;
		if (getifaddrs(&ifa) == 0) {
			for (struct ifaddrs *i = ifa; i && n < 32; i = i->ifa_next) {
				if (!i->ifa_addr || (i->ifa_addr->sa_family != AF_INET &&
						     i->ifa_addr->sa_family != AF_INET6))
					continue;
				memcpy(&addrs[n++], i->ifa_addr,
				       i->ifa_addr->sa_family == AF_INET
				       ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6));
			}
			freeifaddrs(ifa);
		}
	}
	return (struct guard_self){ addrs, n };
}

/* Keep in c->addrs only what the outbound target guard allows (external
 * zone; the nodes are configured, not chosen by a peer). Returns how many;
 * with none, c->fail_reason says why the first was refused. */
static size_t guarded(struct conn *c, const struct sockaddr_storage *addrs, size_t n)
{
	size_t k = 0;
	struct guard_self self = own_addrs();
	for (size_t i = 0; i < n; i++) {
		char why[200];
		if (c->zone == ZONE_EXTERNAL &&
		    guard_address(c->edge->conf, &self, (const struct sockaddr *)&addrs[i],
				  why, sizeof why) != GUARD_OK) {
			if (k == 0 && c->fail != CFAIL_FORBIDDEN) {
				c->fail = CFAIL_FORBIDDEN;
				snprintf(c->fail_reason, sizeof c->fail_reason,
					 "target %.60s refused: %.170s", c->target, why);
			}
			continue;
		}
		c->addrs[k++] = addrs[i];
	}
	return k;
}

static void on_resolved(void *arg, enum dns_status status,
			const struct sockaddr_storage *addrs, size_t n)
{
	struct conn *c = arg;
	if (c->state != CONN_CLOSED) {
		if (status != DNS_OK || n == 0) {
			char reason[300];
			snprintf(reason, sizeof reason, "cannot resolve %s: %s",
				 c->target, dns_strerror(status));
			conn_close(c, CFAIL_DNS, reason);
		} else if ((n = guarded(c, addrs, n)) == 0) {
			conn_close(c, CFAIL_FORBIDDEN, c->fail_reason);
		} else {
			c->fail = CFAIL_NONE;
			c->fail_reason[0] = '\0';
			c->naddrs = n;
			c->state = CONN_CONNECTING;
			struct timeval tv = { c->edge->conf->limits.handshake_timeout, 0 };
			evtimer_add(c->hs_timer, &tv);
			try_next_addr(c);
		}
	}
	if (--c->busy == 0 && c->state == CONN_CLOSED)
		conn_free(c);
}

static void start_resolve(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct conn *c = arg;
	if (c->state == CONN_CLOSED)
		on_resolved(c, DNS_FAILED, NULL, 0);
	else
		dns_resolve(c->edge->dns, c->target, c->target_port, on_resolved, c);
}

static bool reusable(const struct conn *c, enum zone zone, const char *host,
		     int port, int node)
{
	if (c->state == CONN_CLOSED || c->zone != zone)
		return false;
	if (node >= 0)
		return c->node == node;
	if (c->outbound)
		return c->target_port == port && strcasecmp(c->target, host) == 0;
	/* A peer's own connection serves requests to it only when the peer
	 * asked for that (Via alias, RFC 5923) for this very host and port,
	 * and its verified certificate names the host. */
	return c->state == CONN_UP && c->alias[0] && c->alias_port == port &&
	       strcasecmp(c->alias, host) == 0 &&
	       certnames_match(&c->names, host, c->edge->conf->tls.external.accept_wildcards);
}

static struct conn *lookup(struct edge *e, enum zone zone, const char *host,
			   int port, int node, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static struct conn *lookup(struct edge *e, enum zone zone, const char *host,
			   int port, int node, const char *fmt, ...)
{
	struct conn_table *t = e->conns;
	if (!t->kb)
		return NULL;
	char key[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(key, sizeof key, fmt, ap);
	va_end(ap);
	for (char *p = key; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	unsigned h = key_hash(key);
	for (struct conn *c = t->kb[h % t->nkb]; c; c = c->knext)
		if (c->khash == h && strcmp(c->key, key) == 0 &&
		    reusable(c, zone, host, port, node))
			return c;
	return NULL;
}

struct conn *conn_to(struct edge *e, enum zone zone, enum transport tr,
		     const char *host, int port, int node)
{
	struct conn *found = node >= 0
		? lookup(e, zone, host, port, node, "n|%d", node)
		: lookup(e, zone, host, port, node, "o|%d|%s|%d", (int)zone, host, port);
	if (!found && node < 0 && zone == ZONE_EXTERNAL)
		found = lookup(e, zone, host, port, node, "a|%s|%d", host, port);
	if (found)
		return found;
	struct conn *c = conn_new(e, zone, tr);
	if (!c)
		return NULL;
	c->outbound = true;
	snprintf(c->target, sizeof c->target, "%s", host);
	c->target_port = port;
	if (node >= 0)
		conn_set_node(c, node);
	else
		index_as(c, "o|%d|%s|%d", (int)zone, host, port);
	c->state = CONN_RESOLVING;
	c->hs_timer = evtimer_new(e->base, on_handshake_timeout, c);
	c->hdr_timer = evtimer_new(e->base, on_header_timeout, c);
	/* Resolve from the loop, never inside the caller: the caller must be
	 * able to attach its transaction before any failure is reported. */
	c->busy++;          /* held until the resolver answers */
	struct timeval now = { 0, 0 };
	if (event_base_once(e->base, -1, EV_TIMEOUT, start_resolve, c, &now) < 0) {
		c->busy--;
		c->state = CONN_CLOSED;
		conn_free(c);
		return NULL;
	}
	return c;
}

bool conn_congested(const struct conn *c)
{
	size_t q = c->state == CONN_UP && c->bev
		? evbuffer_get_length(bufferevent_get_output(c->bev))
		: evbuffer_get_length(c->pending);
	return q > (size_t)c->edge->conf->limits.max_output_buffer;
}

void conn_send(struct conn *c, const char *data, size_t len)
{
	if (c->state == CONN_UP) {
		bufferevent_write(c->bev, data, len);
		check_output(c, evbuffer_get_length(bufferevent_get_output(c->bev)));
	} else if (c->state != CONN_CLOSED) {
		evbuffer_add(c->pending, data, len);
		check_output(c, evbuffer_get_length(c->pending));
	}
}
