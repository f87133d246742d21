/* dns.c - c-ares on libevent: c-ares tells which sockets to watch
 * (sock_state_cb), libevent watches them and the c-ares timeout. */
#include <stdlib.h>
#include <string.h>
#include <ares.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "dns.h"
#include "log.h"

#define DNS_MAX_SOCKS 16

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
};

struct dns {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;
	struct dns_sock socks[DNS_MAX_SOCKS];
};

struct dns_req {
	struct dns *d;
	int port;
	dns_addr_cb cb;
	void *arg;
};

static void rearm_timer(struct dns *d)
{
	struct timeval tv, *tvp = ares_timeout(d->ch, NULL, &tv);
	if (tvp)
		evtimer_add(d->timer, tvp);
	else
		evtimer_del(d->timer);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct dns *d = arg;
	ares_process_fd(d->ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm_timer(d);
}

static void on_sock(evutil_socket_t fd, short what, void *arg)
{
	struct dns *d = arg;
	ares_process_fd(d->ch, (what & EV_READ) ? fd : ARES_SOCKET_BAD,
			(what & EV_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm_timer(d);
}

static void sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	struct dns *d = data;
	struct dns_sock *slot = NULL, *free_slot = NULL;
	for (int i = 0; i < DNS_MAX_SOCKS; i++) {
		if (d->socks[i].ev && d->socks[i].fd == fd)
			slot = &d->socks[i];
		else if (!d->socks[i].ev && !free_slot)
			free_slot = &d->socks[i];
	}
	if (slot) {
		event_free(slot->ev);
		slot->ev = NULL;
	}
	if (!readable && !writable)
		return;
	if (!slot)
		slot = free_slot;
	if (!slot) {
		log_msg(LOG_ERR, "dns: too many resolver sockets");
		return;
	}
	short what = EV_PERSIST | (readable ? EV_READ : 0) | (writable ? EV_WRITE : 0);
	slot->fd = fd;
	slot->ev = event_new(d->base, fd, what, on_sock, d);
	event_add(slot->ev, NULL);
}

struct dns *dns_new(struct event_base *base, const struct conf *c)
{
	static int lib_init;
	if (!lib_init++ && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return NULL;
	struct dns *d = calloc(1, sizeof *d);
	if (!d)
		return NULL;
	d->base = base;
	struct ares_options o = { 0 };
	o.sock_state_cb = sock_state;
	o.sock_state_cb_data = d;
	o.timeout = c->dns.timeout_ms;
	o.tries = c->dns.tries;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	if (ares_init_options(&d->ch, &o, mask) != ARES_SUCCESS) {
		free(d);
		return NULL;
	}
	if (c->dns.nservers > 0) {
		size_t len = 1;
		for (size_t i = 0; i < c->dns.nservers; i++)
			len += strlen(c->dns.servers[i]) + 1;
		char *csv = calloc(1, len);
		for (size_t i = 0; csv && i < c->dns.nservers; i++) {
			if (i)
				strcat(csv, ",");
			strcat(csv, c->dns.servers[i]);
		}
		int r = csv ? ares_set_servers_ports_csv(d->ch, csv) : ARES_ENOMEM;
		free(csv);
		if (r != ARES_SUCCESS) {
			log_msg(LOG_ERR, "dns: cannot use dns.servers: %s", ares_strerror(r));
			ares_destroy(d->ch);
			free(d);
			return NULL;
		}
	}
	d->timer = evtimer_new(base, on_timer, d);
	return d;
}

void dns_free(struct dns *d)
{
	if (!d)
		return;
	ares_destroy(d->ch);    /* runs pending callbacks with ARES_EDESTRUCTION */
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		if (d->socks[i].ev)
			event_free(d->socks[i].ev);
	event_free(d->timer);
	free(d);
}

static void on_addrinfo(void *arg, int status, int timeouts,
			struct ares_addrinfo *res)
{
	(void)timeouts;
	struct dns_req *rq = arg;
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
	size_t n = 0;
	if (status == ARES_SUCCESS && res) {
		for (struct ares_addrinfo_node *a = res->nodes;
		     a && n < DNS_MAX_ADDRS; a = a->ai_next) {
			if (a->ai_addrlen > sizeof addrs[0])
				continue;
			memset(&addrs[n], 0, sizeof addrs[n]);
			memcpy(&addrs[n], a->ai_addr, a->ai_addrlen);
			if (a->ai_family == AF_INET)
				((struct sockaddr_in *)&addrs[n])->sin_port = htons(rq->port);
			else if (a->ai_family == AF_INET6)
				((struct sockaddr_in6 *)&addrs[n])->sin6_port = htons(rq->port);
			else
				continue;
			n++;
		}
		if (n == 0)
			status = ARES_ENODATA;
	}
	if (res)
		ares_freeaddrinfo(res);
	rq->cb(rq->arg, status, addrs, n);
	free(rq);
}

void dns_resolve(struct dns *d, const char *host, int port,
		 dns_addr_cb cb, void *arg)
{
	struct dns_req *rq = calloc(1, sizeof *rq);
	if (!rq) {
		cb(arg, ARES_ENOMEM, NULL, 0);
		return;
	}
	*rq = (struct dns_req){ d, port, cb, arg };
	struct ares_addrinfo_hints h = { 0 };
	h.ai_family = AF_UNSPEC;
	h.ai_flags = ARES_AI_NOSORT;
	ares_getaddrinfo(d->ch, host, NULL, &h, on_addrinfo, rq);
	rearm_timer(d);
}

const char *dns_strerror(int status)
{
	return ares_strerror(status);
}
