/* dns.c - c-ares on libevent: c-ares tells which sockets to watch
 * (sock_state_cb), libevent watches them and the c-ares timeout.
 *
 * A request becomes a waiter on a job. A job is either a query in flight
 * (hashed in d->inflight by (type, name) to coalesce) or an answer ready
 * to hand out (d->ready). Answers are only handed out by on_ready, a
 * zero-delay timer, so no callback runs inside dns_resolve()/dns_srv(),
 * even when c-ares answers synchronously (hosts file, no servers).
 *
 * c-ares 1.18 doubles the timeout on every round of tries, so a silent
 * server would hold requests for timeout*(2^tries-1). Each query gets a
 * deadline of timeout*tries*servers instead; at the deadline its waiters
 * fail, and a late answer still goes into the cache.
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <ares.h>
#include <openssl/rand.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <netinet/in.h>

#include "core/dnscache.h"
#include "net/dns.h"
#include "util/log.h"

#define DNS_MAX_SOCKS 16
#define DNS_BUCKETS 1024        /* in-flight index; power of two */

struct dns_sock {
	ares_socket_t fd;
	struct event *ev;
};

struct waiter {
	struct waiter *next;
	dns_addr_cb addr_cb;    /* exactly one of the two is set */
	dns_srv_cb srv_cb;
	void *arg;
	int port;
};

struct job {
	struct job *next;       /* d->ready */
	struct job *hnext;      /* d->inflight bucket */
	unsigned hash;
	struct dns *d;
	struct event *deadline;
	bool abandoned;         /* waiters failed; c-ares still owns it */
	enum dnscache_type type;
	char name[256];
	struct waiter *waiters, **wtail;
	size_t nwaiters;
	enum dns_status st;
	size_t n;
	union {
		struct dns_srv srv[DNS_MAX_SRV];
		struct sockaddr_storage addr[DNS_MAX_ADDRS];   /* port 0 */
	} r;
};

struct dns {
	struct event_base *base;
	ares_channel ch;
	struct event *timer;
	struct event *ready_ev;
	struct dns_sock socks[DNS_MAX_SOCKS];
	struct dnscache *cache;
	struct job *inflight[DNS_BUCKETS];
	size_t ninflight;       /* abandoned jobs included: c-ares still works */
	struct timeval patience;
	struct job *ready, **ready_tail;
	struct dns_stats st;
	time_t last_limit_log;
	bool closing;
	uint64_t salt;          /* in-flight buckets: names come from peers */
};

/* The callback contract cannot be kept without memory to queue the
 * answer, and a few hundred bytes failing means the process is done. */
static void *xcalloc(size_t size)
{
	void *p = calloc(1, size);
	if (!p) {
		log_msg(LOG_CRIT, "dns: out of memory");
		abort();
	}
	return p;
}

/* Cache ages must not jump with the wall clock. */
static time_t now_sec(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* ------------------------------------------------- c-ares on libevent */

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

/* ------------------------------------------------------ jobs, waiters */

static struct job *job_new(struct dns *d, enum dnscache_type t, const char *name)
{
	struct job *j = xcalloc(sizeof *j);
	j->d = d;
	j->type = t;
	snprintf(j->name, sizeof j->name, "%s", name);
	j->wtail = &j->waiters;
	return j;
}

static void add_waiter(struct job *j, struct waiter *w)
{
	*j->wtail = w;
	j->wtail = &w->next;
	j->nwaiters++;
}

static void push_ready(struct dns *d, struct job *j)
{
	static const struct timeval zero = { 0, 0 };
	j->next = NULL;
	*d->ready_tail = j;
	d->ready_tail = &j->next;
	evtimer_add(d->ready_ev, &zero);
}

/* An answer known without asking anyone. */
static void answer_now(struct dns *d, struct waiter *w, enum dnscache_type t,
		       const char *name, enum dns_status st)
{
	struct job *j = job_new(d, t, name);
	j->st = st;
	add_waiter(j, w);
	push_ready(d, j);
}

static void set_port(struct sockaddr_storage *ss, int port)
{
	if (ss->ss_family == AF_INET)
		((struct sockaddr_in *)ss)->sin_port = htons(port);
	else if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
}

static void call_waiter(struct job *j, struct waiter *w, enum dns_status st)
{
	size_t n = st == DNS_OK ? j->n : 0;
	if (w->srv_cb) {
		w->srv_cb(w->arg, st, n ? j->r.srv : NULL, n);
		return;
	}
	struct sockaddr_storage a[DNS_MAX_ADDRS];
	for (size_t i = 0; i < n; i++) {
		a[i] = j->r.addr[i];
		set_port(&a[i], w->port);
	}
	w->addr_cb(w->arg, st, n ? a : NULL, n);
}

static void deliver(struct dns *d, struct job *j)
{
	enum dns_status st = d->closing ? DNS_FAILED : j->st;
	for (struct waiter *w = j->waiters, *next; w; w = next) {
		next = w->next;
		if (st == DNS_FAILED)
			d->st.failures++;
		call_waiter(j, w, st);
		free(w);
	}
	free(j);
}

/* One batch: answers queued by these callbacks wait for the next turn of
 * the loop, so a caller that keeps asking cannot starve it. */
static void run_ready(struct dns *d)
{
	struct job *j = d->ready;
	d->ready = NULL;
	d->ready_tail = &d->ready;
	while (j) {
		struct job *next = j->next;
		deliver(d, j);
		j = next;
	}
}

static void on_ready(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	run_ready(arg);
}

/* --------------------------------------------------- query completion */

static enum dns_status map_status(int ares_status)
{
	switch (ares_status) {
	case ARES_SUCCESS:      return DNS_OK;
	case ARES_ENOTFOUND:
	case ARES_ENODATA:      return DNS_NOTFOUND;
	default:                return DNS_FAILED;
	}
}

static void remember(struct dns *d, struct job *j, int ttl)
{
	if (j->st == DNS_OK && log_enabled(LOG_DEBUG))
		log_msg(LOG_DEBUG, "dns: %s %s: %zu record(s), ttl %d",
			j->type == DNSCACHE_SRV ? "SRV" : "address", j->name, j->n, ttl);
	if (j->st == DNS_OK)
		dnscache_put(d->cache, j->type, j->name, &j->r, j->n, ttl, now_sec());
	else if (j->st == DNS_NOTFOUND)
		dnscache_put_negative(d->cache, j->type, j->name, now_sec());
}

static void unlink_inflight(struct dns *d, struct job *j)
{
	struct job **pp = &d->inflight[j->hash % DNS_BUCKETS];
	while (*pp != j)
		pp = &(*pp)->hnext;
	*pp = j->hnext;
}

static void finish(struct job *j, int ares_status, int ttl)
{
	struct dns *d = j->d;
	if (ares_status == ARES_SUCCESS && j->n == 0)
		ares_status = ARES_ENODATA;
	j->st = map_status(ares_status);
	if (j->st == DNS_FAILED && !d->closing && !j->abandoned)
		log_msg(LOG_DEBUG, "dns: %s lookup of %s failed: %s",
			j->type == DNSCACHE_SRV ? "SRV" : "address", j->name,
			ares_strerror(ares_status));
	if (!d->closing)
		remember(d, j, ttl);
	event_free(j->deadline);
	d->ninflight--;
	if (j->abandoned) {
		free(j);
		return;
	}
	unlink_inflight(d, j);
	push_ready(d, j);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct job *j = arg, *f = job_new(j->d, j->type, j->name);
	log_msg(LOG_DEBUG, "dns: %s lookup of %s failed: no answer in time",
		j->type == DNSCACHE_SRV ? "SRV" : "address", j->name);
	f->st = DNS_FAILED;
	if (j->waiters) {
		f->waiters = j->waiters;
		f->wtail = j->wtail;
		f->nwaiters = j->nwaiters;
	}
	j->waiters = NULL;
	j->wtail = &j->waiters;
	j->nwaiters = 0;
	j->abandoned = true;
	unlink_inflight(j->d, j);
	push_ready(j->d, f);
}

static size_t worst_srv(const struct dns_srv *s, size_t n)
{
	size_t w = 0;
	for (size_t i = 1; i < n; i++)
		if (s[i].priority > s[w].priority)
			w = i;
	return w;
}

static size_t keep_srv(struct dns_srv *out, const struct ares_srv_reply *r)
{
	size_t n = 0;
	for (; r; r = r->next) {
		if (!r->host || !*r->host || strcmp(r->host, ".") == 0 ||
		    strlen(r->host) >= sizeof out->target)
			continue;       /* "." = service decidedly not offered */
		size_t i = n;
		if (n == DNS_MAX_SRV) {
			i = worst_srv(out, n);
			if (out[i].priority <= r->priority)
				continue;
		} else {
			n++;
		}
		snprintf(out[i].target, sizeof out[i].target, "%s", r->host);
		out[i].port = r->port;
		out[i].priority = r->priority;
		out[i].weight = r->weight;
	}
	return n;
}

static void on_srv(void *arg, int status, int timeouts,
		   unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct job *j = arg;
	int ttl = 0;
	if (status == ARES_SUCCESS) {
		struct ares_srv_reply *rep = NULL;
		status = ares_parse_srv_reply(abuf, alen, &rep);
		if (status == ARES_SUCCESS)
			j->n = keep_srv(j->r.srv, rep);
		ares_free_data(rep);
		ttl = dnscache_answer_ttl(abuf, alen > 0 ? (size_t)alen : 0);
	}
	finish(j, status, ttl);
}

static void on_addrinfo(void *arg, int status, int timeouts,
			struct ares_addrinfo *res)
{
	(void)timeouts;
	struct job *j = arg;
	int ttl = INT_MAX;
	for (struct ares_addrinfo_node *a = res ? res->nodes : NULL;
	     status == ARES_SUCCESS && a && j->n < DNS_MAX_ADDRS; a = a->ai_next) {
		if ((a->ai_family != AF_INET && a->ai_family != AF_INET6) ||
		    a->ai_addrlen > sizeof j->r.addr[0])
			continue;
		memcpy(&j->r.addr[j->n++], a->ai_addr, a->ai_addrlen);
		if (a->ai_ttl < ttl)
			ttl = a->ai_ttl;
	}
	if (res)
		ares_freeaddrinfo(res);
	finish(j, status, ttl);
}

/* ------------------------------------------------------------ requests */

/* FNV-1a over the lower-cased name, to match strcasecmp(); salted and
 * folded, since the bucket is taken from the low bits. */
static unsigned name_hash(const struct dns *d, enum dnscache_type t, const char *name)
{
	uint64_t h = (1469598103934665603ull ^ d->salt) + (uint64_t)t;
	for (; *name; name++) {
		unsigned char ch = (unsigned char)*name;
		h = (h ^ (ch >= 'A' && ch <= 'Z' ? ch + 32u : ch)) * 1099511628211ull;
	}
	return (unsigned)(h ^ (h >> 32));
}

static struct job *find_inflight(struct dns *d, enum dnscache_type t,
				 const char *name)
{
	unsigned h = name_hash(d, t, name);
	for (struct job *j = d->inflight[h % DNS_BUCKETS]; j; j = j->hnext)
		if (j->hash == h && j->type == t && strcasecmp(j->name, name) == 0)
			return j;
	return NULL;
}

static struct job *from_cache(struct dns *d, enum dnscache_type t,
			      const char *name)
{
	struct dnscache_answer a;
	enum dnscache_result r = dnscache_lookup(d->cache, t, name, now_sec(), &a);
	if (r != DNSCACHE_HIT && r != DNSCACHE_NEGATIVE)
		return NULL;
	struct job *j = job_new(d, t, name);
	if (r == DNSCACHE_NEGATIVE) {
		d->st.negative_hits++;
		j->st = DNS_NOTFOUND;
		return j;
	}
	d->st.cache_hits++;
	j->st = DNS_OK;
	if (t == DNSCACHE_SRV) {
		j->n = a.n < DNS_MAX_SRV ? a.n : DNS_MAX_SRV;
		memcpy(j->r.srv, a.srv, j->n * sizeof a.srv[0]);
	} else {
		j->n = a.n < DNS_MAX_ADDRS ? a.n : DNS_MAX_ADDRS;
		memcpy(j->r.addr, a.addrs, j->n * sizeof a.addrs[0]);
	}
	return j;
}

bool dns_srv_cached(struct dns *d, const char *name)
{
	struct dnscache_answer a;
	enum dnscache_result r = dnscache_lookup(d->cache, DNSCACHE_SRV, name, now_sec(), &a);
	return r == DNSCACHE_HIT || r == DNSCACHE_NEGATIVE;
}

static void start_query(struct dns *d, struct job *j)
{
	struct job **bucket = &d->inflight[j->hash % DNS_BUCKETS];
	j->hnext = *bucket;
	*bucket = j;
	d->ninflight++;
	d->st.queries++;
	j->deadline = evtimer_new(d->base, on_deadline, j);
	evtimer_add(j->deadline, &d->patience);
	if (j->type == DNSCACHE_SRV) {
		ares_query(d->ch, j->name, ns_c_in, ns_t_srv, on_srv, j);
	} else {
		struct ares_addrinfo_hints h = { 0 };
		h.ai_family = AF_UNSPEC;
		h.ai_flags = ARES_AI_NOSORT;
		ares_getaddrinfo(d->ch, j->name, NULL, &h, on_addrinfo, j);
	}
	rearm_timer(d);
}

static bool within_limit(struct dns *d, size_t used, size_t max)
{
	if (used < max)
		return true;
	time_t now = now_sec();
	if (now != d->last_limit_log) {
		d->last_limit_log = now;
		log_event(LOG_WARNING, "limit_reached", LOG_STR("limit", "dns_pending"));
	}
	return false;
}

static void request(struct dns *d, enum dnscache_type t, const char *name,
		    struct waiter *w)
{
	struct job *j;
	if (d->closing) {
		answer_now(d, w, t, "", DNS_FAILED);
	} else if (strlen(name) >= sizeof j->name) {
		answer_now(d, w, t, "", DNS_NOTFOUND);
	} else if ((j = from_cache(d, t, name))) {
		add_waiter(j, w);
		push_ready(d, j);
	} else if ((j = find_inflight(d, t, name))) {
		if (within_limit(d, j->nwaiters, DNS_MAX_WAITERS)) {
			d->st.coalesced++;
			add_waiter(j, w);
		} else {
			answer_now(d, w, t, name, DNS_FAILED);
		}
	} else if (within_limit(d, d->ninflight, DNS_MAX_PENDING)) {
		j = job_new(d, t, name);
		j->hash = name_hash(d, t, name);
		add_waiter(j, w);
		start_query(d, j);
	} else {
		answer_now(d, w, t, name, DNS_FAILED);
	}
}

/* "192.0.2.1", "2001:db8::1" or "[2001:db8::1]" */
static bool numeric(const char *host, struct sockaddr_storage *ss)
{
	char buf[INET6_ADDRSTRLEN + 2];
	size_t len = strlen(host);
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		ss->ss_family = AF_INET;
		return true;
	}
	if (len >= 2 && len < sizeof buf && host[0] == '[' && host[len - 1] == ']') {
		memcpy(buf, host + 1, len - 2);
		buf[len - 2] = '\0';
		host = buf;
	}
	if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		ss->ss_family = AF_INET6;
		return true;
	}
	return false;
}

void dns_resolve(struct dns *d, const char *host, int port,
		 dns_addr_cb cb, void *arg)
{
	struct waiter *w = xcalloc(sizeof *w);
	w->addr_cb = cb;
	w->arg = arg;
	w->port = port;
	struct sockaddr_storage ss;
	if (!d->closing && numeric(host, &ss)) {
		struct job *j = job_new(d, DNSCACHE_ADDR, "");
		j->st = DNS_OK;
		j->n = 1;
		j->r.addr[0] = ss;
		add_waiter(j, w);
		push_ready(d, j);
		return;
	}
	request(d, DNSCACHE_ADDR, host, w);
}

void dns_srv(struct dns *d, const char *name, dns_srv_cb cb, void *arg)
{
	struct waiter *w = xcalloc(sizeof *w);
	w->srv_cb = cb;
	w->arg = arg;
	request(d, DNSCACHE_SRV, name, w);
}

/* ------------------------------------------------------------ lifetime */

static int set_servers(ares_channel ch, const struct dns_options *o)
{
	size_t len = 1;
	for (size_t i = 0; i < o->nservers; i++)
		len += strlen(o->servers[i]) + 1;
	char *csv = xcalloc(len);
	for (size_t i = 0; i < o->nservers; i++) {
		if (i)
			strcat(csv, ",");
		strcat(csv, o->servers[i]);
	}
	int r = ares_set_servers_ports_csv(ch, csv);
	free(csv);
	return r;
}

static void set_patience(struct dns *d, const struct dns_options *o)
{
	long long nservers = 0;
	struct ares_addr_port_node *list = NULL;
	if (ares_get_servers_ports(d->ch, &list) == ARES_SUCCESS)
		for (struct ares_addr_port_node *s = list; s; s = s->next)
			nservers++;
	ares_free_data(list);
	long long ms = (long long)o->timeout_ms * o->tries *
		       (nservers ? nservers : 1);
	d->patience.tv_sec = ms / 1000;
	d->patience.tv_usec = ms % 1000 * 1000;
}

static bool init_channel(struct dns *d, const struct dns_options *o)
{
	struct ares_options ao = { 0 };
	ao.sock_state_cb = sock_state;
	ao.sock_state_cb_data = d;
	ao.timeout = o->timeout_ms;
	ao.tries = o->tries;
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES;
	int r = ares_init_options(&d->ch, &ao, mask);
	if (r != ARES_SUCCESS) {
		log_msg(LOG_ERR, "dns: cannot start resolver: %s", ares_strerror(r));
		return false;
	}
	if (o->nservers > 0 && (r = set_servers(d->ch, o)) != ARES_SUCCESS) {
		log_msg(LOG_ERR, "dns: cannot use dns.servers: %s", ares_strerror(r));
		ares_destroy(d->ch);
		return false;
	}
	set_patience(d, o);
	return true;
}

struct dns *dns_new(struct event_base *base, const struct dns_options *o)
{
	static int lib_init;
	if (!lib_init++ && ares_library_init(ARES_LIB_INIT_ALL) != ARES_SUCCESS)
		return NULL;
	struct dns *d = xcalloc(sizeof *d);
	d->base = base;
	d->ready_tail = &d->ready;
	d->last_limit_log = (time_t)-1;
	RAND_bytes((unsigned char *)&d->salt, sizeof d->salt);
	d->cache = dnscache_new(DNSCACHE_DEFAULT_SIZE, o->cache_max_ttl,
				o->negative_ttl);
	if (!d->cache || !init_channel(d, o)) {
		dnscache_free(d->cache);
		free(d);
		return NULL;
	}
	d->timer = evtimer_new(base, on_timer, d);
	d->ready_ev = evtimer_new(base, on_ready, d);
	return d;
}

void dns_free(struct dns *d)
{
	if (!d)
		return;
	d->closing = true;
	ares_destroy(d->ch);    /* in-flight queries finish with ARES_EDESTRUCTION */
	for (int i = 0; i < DNS_BUCKETS; i++)   /* only if c-ares broke that */
		while (d->inflight[i])
			finish(d->inflight[i], ARES_EDESTRUCTION, 0);
	while (d->ready)
		run_ready(d);
	for (int i = 0; i < DNS_MAX_SOCKS; i++)
		if (d->socks[i].ev)
			event_free(d->socks[i].ev);
	event_free(d->timer);
	event_free(d->ready_ev);
	dnscache_free(d->cache);
	free(d);
}

void dns_get_stats(const struct dns *d, struct dns_stats *out)
{
	*out = d->st;
}

size_t dns_flush(struct dns *d, const char *domain)
{
	return d->cache ? dnscache_flush(d->cache, domain) : 0;
}

const char *dns_strerror(enum dns_status st)
{
	switch (st) {
	case DNS_OK:            return "ok";
	case DNS_NOTFOUND:      return "no such record";
	case DNS_FAILED:        return "lookup failed";
	}
	return "unknown status";
}
