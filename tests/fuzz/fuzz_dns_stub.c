/* fuzz_dns_stub.c - src/net/dns.c for fuzz_rewrite: no sockets, no c-ares.
 *
 * Lookups are queued; the harness answers SRV lookups itself with
 * records derived from the input (fuzz_dns_answer_srv), after the call
 * that asked has returned, as dns.h promises. Address lookups (a dialled
 * connection's start_resolve) are never answered: the connection stays
 * RESOLVING and keeps what is sent to it in its `pending` buffer.
 */
#include <stdlib.h>
#include <string.h>

#include "net/dns.h"
#include "fuzz_dns_stub.h"

struct waiter {
	struct waiter *next;
	dns_srv_cb srv_cb;
	dns_addr_cb addr_cb;
	void *arg;
	char name[300];
};

struct dns {
	struct waiter *srv, *addr;      /* pending, newest first */
	struct dns_stats st;
};

struct dns *dns_new(struct event_base *base, const struct dns_options *o)
{
	(void)base; (void)o;
	return calloc(1, sizeof(struct dns));
}

static void drop(struct waiter *w)
{
	while (w) {
		struct waiter *next = w->next;
		free(w);
		w = next;
	}
}

void dns_free(struct dns *d)
{
	if (!d)
		return;
	fuzz_dns_answer_srv(d, DNS_FAILED, NULL, NULL, 0);
	drop(d->addr);
	free(d);
}

void fuzz_dns_forget_addr(struct dns *d)
{
	drop(d->addr);
	d->addr = NULL;
}

static struct waiter *waiter(const char *name, void *arg)
{
	struct waiter *w = calloc(1, sizeof *w);
	if (!w)
		abort();
	w->arg = arg;
	strncpy(w->name, name ? name : "", sizeof w->name - 1);
	return w;
}

void dns_resolve(struct dns *d, const char *host, int port,
		 dns_addr_cb cb, void *arg)
{
	(void)port;
	struct waiter *w = waiter(host, arg);
	w->addr_cb = cb;
	w->next = d->addr;
	d->addr = w;
}

bool dns_srv_cached(struct dns *d, const char *name)
{
	(void)d; (void)name;
	return false;      /* every answer comes from the input */
}

void dns_srv(struct dns *d, const char *name, dns_srv_cb cb, void *arg)
{
	struct waiter *w = waiter(name, arg);
	w->srv_cb = cb;
	w->next = d->srv;
	d->srv = w;
	d->st.queries++;
}

size_t fuzz_dns_answer_srv(struct dns *d, enum dns_status st,
			   size_t (*make)(const char *name, struct dns_srv *out,
					  size_t max, void *arg),
			   void *arg, unsigned max_rounds)
{
	size_t answered = 0;
	/* Answers may ask again (the next identity domain): a few rounds. */
	for (unsigned round = 0; d->srv && (max_rounds == 0 || round < max_rounds); round++) {
		struct waiter *w = d->srv;
		d->srv = NULL;
		while (w) {
			struct waiter *next = w->next;
			struct dns_srv rec[DNS_MAX_SRV];
			size_t n = st == DNS_OK && make ? make(w->name, rec, DNS_MAX_SRV, arg) : 0;
			enum dns_status s = st == DNS_OK && n == 0 ? DNS_NOTFOUND : st;
			if (s == DNS_FAILED)
				d->st.failures++;
			w->srv_cb(w->arg, s, s == DNS_OK ? rec : NULL, n);
			free(w);
			answered++;
			w = next;
		}
	}
	if (max_rounds && d->srv)              /* still asking: fail the rest */
		answered += fuzz_dns_answer_srv(d, DNS_FAILED, NULL, NULL, 0);
	return answered;
}

void dns_get_stats(const struct dns *d, struct dns_stats *out)
{
	*out = d->st;
}

const char *dns_strerror(enum dns_status st)
{
	switch (st) {
	case DNS_OK: return "ok";
	case DNS_NOTFOUND: return "not found";
	case DNS_FAILED: return "lookup failed";
	}
	return "?";
}
