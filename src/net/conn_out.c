/* conn_out.c - dialling: conn_to() reuses a connection by key or makes a
 * new one, which resolves its target from the loop, keeps the addresses
 * the outbound target guard allows, and connects to them in turn (the
 * TLS handshake that follows is conn_io.c's).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <ifaddrs.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <event2/event.h>

#include "net/conn.h"
#include "net/conn_impl.h"
#include "core/guard.h"
#include "util/log.h"

static void on_connect_ready(evutil_socket_t fd, short what, void *arg);

/* Leave from the zone's own listening address, so that nodes (and
 * firewalls) see the address they were configured with. */
static void bind_source(struct conn *c, evutil_socket_t fd, int family)
{
	const char *address = c->net->source[c->zone];
	if (!*address)
		return;
	struct sockaddr_storage ss = { 0 };
	socklen_t len = 0;
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		if (inet_pton(AF_INET, address, &s4->sin_addr) != 1 ||
		    s4->sin_addr.s_addr == htonl(INADDR_ANY))
			return;
		s4->sin_family = AF_INET;
		len = sizeof *s4;
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		if (inet_pton(AF_INET6, address, &s6->sin6_addr) != 1 ||
		    IN6_IS_ADDR_UNSPECIFIED(&s6->sin6_addr))
			return;
		s6->sin6_family = AF_INET6;
		len = sizeof *s6;
	}
	if (bind(fd, (struct sockaddr *)&ss, len) < 0)
		log_msg(LOG_DEBUG, "cannot bind source %s: %s", address, strerror(errno));
}

void conn_dial_next(struct conn *c)
{
	c->state = CONN_TCP_CONNECTING;
	while (c->next_addr < c->naddrs) {
		struct sockaddr_storage *sa = &c->addrs[c->next_addr++];
		conn_fmt_peer(c, (struct sockaddr *)sa);
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
		conn_enter(c);
		if (event_base_once(c->net->base, fd, EV_WRITE, on_connect_ready, c, NULL) < 0) {
			c->busy--;      /* no callback was scheduled: nothing to reap */
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
		conn_dial_next(c);
	} else if (!conn_setup_bev(c, fd, false)) {
		evutil_closesocket(fd);
		conn_close(c, CFAIL_CONNECT, "out of memory");
	} else if (c->transport == TRANSPORT_TCP) {
		conn_go_up(c);
	} else {
		c->state = CONN_TLS_HANDSHAKING;
	}
	conn_leave(c);
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
		    guard_address(c->net->conf, &self, (const struct sockaddr *)&addrs[i],
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
			struct timeval tv = { c->net->conf->limits.handshake_timeout, 0 };
			evtimer_add(c->hs_timer, &tv);
			conn_dial_next(c);
		}
	}
	conn_leave(c);
}

static void start_resolve(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct conn *c = arg;
	if (c->state == CONN_CLOSED)
		on_resolved(c, DNS_FAILED, NULL, 0);
	else
		dns_resolve(c->net->dns, c->target, c->target_port, on_resolved, c);
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
	       certnames_match(&c->names, host, c->net->conf->tls.external.accept_wildcards);
}

/* A connection to reuse under key, or NULL. */
static struct conn *lookup(struct netctx *n, enum zone zone, const char *host,
			   int port, int node, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
static struct conn *lookup(struct netctx *n, enum zone zone, const char *host,
			   int port, int node, const char *fmt, ...)
{
	char key[300];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(key, sizeof key, fmt, ap);
	va_end(ap);
	for (struct conn *c = conn_keyed(n, key, NULL); c; c = conn_keyed(n, key, c))
		if (reusable(c, zone, host, port, node))
			return c;
	return NULL;
}

struct conn *conn_to(struct netctx *n, enum zone zone, enum transport tr,
		     const char *host, int port, int node)
{
	struct conn *found = node >= 0
		? lookup(n, zone, host, port, node, "n|%d", node)
		: lookup(n, zone, host, port, node, "o|%d|%s|%d", (int)zone, host, port);
	if (!found && node < 0 && zone == ZONE_EXTERNAL)
		found = lookup(n, zone, host, port, node, "a|%s|%d", host, port);
	if (found)
		return found;
	struct conn *c = conn_new(n, zone, tr);
	if (!c)
		return NULL;
	c->outbound = true;
	snprintf(c->target, sizeof c->target, "%s", host);
	c->target_port = port;
	if (node >= 0)
		conn_set_node(c, node);
	else
		conn_index_as(c, "o|%d|%s|%d", (int)zone, host, port);
	c->state = CONN_RESOLVING;
	if (!conn_timers_new(c)) {
		conn_drop(c);
		return NULL;
	}
	/* Resolve from the loop, never inside the caller: the caller must be
	 * able to attach its transaction before any failure is reported. */
	conn_enter(c);      /* held until the resolver answers */
	struct timeval now = { 0, 0 };
	if (event_base_once(n->base, -1, EV_TIMEOUT, start_resolve, c, &now) < 0) {
		c->busy--;
		conn_drop(c);
		return NULL;
	}
	return c;
}

