/* control_cmd.c - the control socket's commands (sipedge-ctl(8)). */
#include "daemon/control_impl.h"

/* ------------------------------------------------------------ matching */

/* "sip.partner.test" is under "partner.test"; so is "partner.test". */
bool name_under(const char *name, const char *domain)
{
	return name && *name && policy_under(name, domain);
}

/* An address as 16 bytes, IPv4 as ::ffff:a.b.c.d: a dual-stack listener
 * names an IPv4 peer that way. */
static bool addr16(const char *a, unsigned char out[16])
{
	unsigned char v4[4];
	if (inet_pton(AF_INET, a, v4) == 1) {
		memset(out, 0, 10);
		out[10] = out[11] = 0xff;
		memcpy(out + 12, v4, 4);
		return true;
	}
	return inet_pton(AF_INET6, a, out) == 1;
}

static bool same_addr(const char *a, const char *b)
{
	unsigned char x[16], y[16];
	return addr16(a, x) && addr16(b, y) && memcmp(x, y, 16) == 0;
}

bool conn_matches(const struct conn *c, bool by_addr, const char *f)
{
	if (by_addr)
		return same_addr(c->peer_ip, f);
	for (size_t i = 0; i < c->names.n; i++) {
		const char *nm = c->names.name[i];
		if (name_under(strncmp(nm, "*.", 2) == 0 ? nm + 2 : nm, f))
			return true;
	}
	/* Not the Via alias: the peer claims it, nothing proves it. */
	return name_under(c->target, f) || federation_proved(c, f);
}

static bool url_under(url_t const *u, const char *f)
{
	return u && u->url_host && name_under(u->url_host, f);
}

static bool msg_matches(msg_t *msg, const char *f)
{
	sip_t const *sip = msg ? sip_object(msg) : NULL;
	if (!sip)
		return false;
	return (sip->sip_request && url_under(sip->sip_request->rq_url, f)) ||
	       (sip->sip_from && url_under(sip->sip_from->a_url, f)) ||
	       (sip->sip_to && url_under(sip->sip_to->a_url, f));
}

bool event_matches(const struct session *s, const struct tap_event *ev)
{
	if (ev->conn && conn_matches(ev->conn, s->by_addr, s->filter))
		return true;
	if (s->by_addr)
		return false;
	return (ev->domain && name_under(ev->domain, s->filter)) ||
	       msg_matches(ev->msg, s->filter);
}

/* ------------------------------------------------------------ commands */

void cmd_status(struct session *s)
{
	struct edge *e = s->ctl->edge;
	const struct conf *cf = e->conf;
	struct rec r;
	size_t up = 0;
	const bool *ups = health_up(e);
	for (size_t i = 0; ups && i < cf->internal.nnodes; i++)
		up += ups[i];
	rec_begin(&r, s);
	rec_str(&r, "version", PACKAGE_VERSION);
	rec_int(&r, "pid", (long long)getpid());
	rec_int(&r, "worker", s->ctl->worker < 0 ? 0 : s->ctl->worker);
	rec_int(&r, "workers", s->ctl->nworkers);
	rec_str(&r, "config", cf->path);
	rec_time(&r, "started", e->started_at);
	rec_int(&r, "uptime", (long long)(time(NULL) - e->started_at));
	rec_time(&r, "last_reload", e->reload_at);
	rec_str(&r, "last_reload_result", !e->reload_at ? "none" :
					  e->reload_ok ? "ok" : "failed");
	rec_int(&r, "connections", (long long)conn_count(e->net, -1));
	rec_int(&r, "connections_external", (long long)conn_count(e->net, ZONE_EXTERNAL));
	rec_int(&r, "connections_internal", (long long)conn_count(e->net, ZONE_INTERNAL));
	rec_int(&r, "transactions", (long long)txn_count(e));
	rec_int(&r, "nodes", (long long)cf->internal.nnodes);
	rec_int(&r, "nodes_up", (long long)up);
	rec_int(&r, "partners", (long long)partners_count(e->partners));
	rec_int(&r, "traces", e->tap.watchers);
	rec_str(&r, "stopping", e->stopping ? "yes" : "no");
	rec_end(&r);
	ctl_finish(s, "OK");
}

void cmd_nodes(struct session *s)
{
	struct edge *e = s->ctl->edge;
	const struct conf *cf = e->conf;
	const bool *ups = health_up(e);
	for (size_t i = 0; i < cf->internal.nnodes; i++) {
		const struct conf_node *n = &cf->internal.nodes[i];
		char addr[300];
		snprintf(addr, sizeof addr, strchr(n->address, ':') ? "[%s]:%d" : "%s:%d",
			 n->address, n->ports[0].internal);
		struct rec r;
		rec_begin(&r, s);
		rec_str(&r, "node", n->name);
		rec_str(&r, "address", addr);
		rec_str(&r, "transport", n->transport == TRANSPORT_TLS ? "tls" : "tcp");
		rec_str(&r, "state", !ups ? "unknown" : ups[i] ? "up" : "down");
		rec_str(&r, "probing", cf->internal.health.interval > 0 ? "yes" : "no");
		rec_int(&r, "connections", 0);
		rec_end(&r);
	}
	ctl_finish(s, "OK");
}

static const char *state_str(enum conn_state st)
{
	switch (st) {
	case CONN_RESOLVING:        return "resolving";
	case CONN_TCP_CONNECTING:   return "connecting";
	case CONN_TLS_HANDSHAKING:  return "handshaking";
	case CONN_UP:               return "up";
	case CONN_CLOSED:           return "closed";
	}
	return "?";
}

struct each {
	struct session *s;
	const char *filter;
	bool by_addr;
	unsigned n;
	time_t now;
};

static void one_connection(struct conn *c, void *arg)
{
	struct each *w = arg;
	if (w->filter && !conn_matches(c, w->by_addr, w->filter))
		return;
	const struct conf *cf = w->s->ctl->edge->conf;
	char id[32], names[512], verdicts[512], target[300];
	struct rec r;
	rec_begin(&r, w->s);
	snprintf(id, sizeof id, "c%llu", (unsigned long long)c->id);
	rec_str(&r, "conn", id);
	if (w->s->ctl->nworkers > 1)
		rec_int(&r, "worker", w->s->ctl->worker);
	rec_str(&r, "zone", ctl_zone_str(c->zone));
	rec_str(&r, "direction", c->outbound ? "out" : "in");
	rec_str(&r, "transport", c->transport == TRANSPORT_TLS ? "tls" : "tcp");
	rec_str(&r, "state", state_str(c->state));
	rec_str(&r, "peer", c->peer);
	if (!c->outbound)
		rec_int(&r, "local_port", c->local_port);
	if (c->node >= 0 && (size_t)c->node < cf->internal.nnodes)
		rec_str(&r, "node", cf->internal.nodes[c->node].name);
	if (*c->target) {
		snprintf(target, sizeof target, "%s:%d", c->target, c->target_port);
		rec_str(&r, "target", target);
	}
	if (*c->alias) {
		snprintf(target, sizeof target, "%s:%d", c->alias, c->alias_port);
		rec_str(&r, "alias", target);
	}
	if (c->names.n)
		rec_str(&r, "cert_names", certnames_join(&c->names, names, sizeof names));
	if (federation_verdicts(c, verdicts, sizeof verdicts))
		rec_str(&r, "verdicts", verdicts);
	rec_int(&r, "age", (long long)(w->now - c->opened));
	rec_int(&r, "bytes_in", (long long)c->bytes_in);
	rec_int(&r, "bytes_out", (long long)c->bytes_out);
	rec_end(&r);
	w->n++;
}

void cmd_connections(struct session *s)
{
	struct each w = { .s = s, .now = time(NULL) };
	conn_foreach(s->ctl->edge->net, one_connection, &w);
	ctl_finish(s, "OK");
}

static void one_partner(const struct partner_stats *p, void *arg)
{
	struct session *s = arg;
	struct rec r;
	rec_begin(&r, s);
	rec_str(&r, "domain", p->domain);
	if (s->ctl->nworkers > 1)
		rec_int(&r, "worker", s->ctl->worker);
	rec_str(&r, "last", p->last_refused ? "refused" : "accepted");
	rec_str(&r, "last_reason", *p->last_reason ? p->last_reason : NULL);
	rec_int(&r, "in_accepted", (long long)p->accepted[PARTNER_IN]);
	rec_int(&r, "in_refused", (long long)p->refused[PARTNER_IN]);
	rec_int(&r, "out_accepted", (long long)p->accepted[PARTNER_OUT]);
	rec_int(&r, "out_refused", (long long)p->refused[PARTNER_OUT]);
	rec_time(&r, "first_seen", p->first_seen);
	rec_time(&r, "last_seen", p->last_seen);
	rec_end(&r);
}

void cmd_partners(struct session *s)
{
	partners_each(s->ctl->edge->partners, one_partner, s);
	ctl_finish(s, "OK");
}

/* An address ("192.0.2.7", "2001:db8::1", canonical in out) or a domain
 * name (lower case in out). NULL: fine; else what is wrong. */
const char *parse_target(const char *arg, char *out, size_t len, bool *by_addr)
{
	unsigned char bin[16];
	const char *v = arg;
	char tmp[64];
	size_t n = strlen(arg);
	if (n >= 2 && n < sizeof tmp && arg[0] == '[' && arg[n - 1] == ']') {
		memcpy(tmp, arg + 1, n - 2);
		tmp[n - 2] = '\0';
		v = tmp;
	}
	if (inet_pton(AF_INET, v, bin) == 1 || inet_pton(AF_INET6, v, bin) == 1) {
		int af = strchr(v, ':') ? AF_INET6 : AF_INET;
		*by_addr = true;
		return inet_ntop(af, bin, out, (socklen_t)len) ? NULL : "bad address";
	}
	*by_addr = false;
	if (n == 0 || n >= len || n > 253)
		return "not a domain name or an address";
	for (size_t i = 0; i < n; i++) {
		char ch = (char)tolower((unsigned char)arg[i]);
		if (!isalnum((unsigned char)ch) && ch != '-' && ch != '.' && ch != '_')
			return "not a domain name or an address";
		out[i] = ch;
	}
	out[n] = '\0';
	if (n && out[n - 1] == '.')
		out[n - 1] = '\0';
	if (!*out || out[0] == '.' || strstr(out, ".."))
		return "not a domain name or an address";
	return NULL;
}

void cmd_dns_flush(struct session *s, const char *arg)
{
	char dom[256];
	bool by_addr = false;
	const char *bad = arg ? parse_target(arg, dom, sizeof dom, &by_addr) : NULL;
	if (bad || by_addr) {
		ctl_finish(s, "ERR dns flush: %s", bad ? bad : "a domain name, not an address");
		return;
	}
	size_t n = dns_flush(s->ctl->edge->dns, arg ? dom : NULL);
	ctl_log_command(s, "dns_flush", arg ? dom : "all", "flushed", (long long)n);
	struct rec r;
	rec_begin(&r, s);
	rec_int(&r, "flushed", (long long)n);
	rec_end(&r);
	ctl_finish(s, "OK");
}

static void drop_one(struct conn *c, void *arg)
{
	struct each *w = arg;
	if (!conn_matches(c, w->by_addr, w->filter))
		return;
	/* An operator closes partners' connections, never a node's. */
	if (c->zone != ZONE_EXTERNAL)
		return;
	w->n++;
	conn_close(c, CFAIL_CLOSED, "dropped by the operator (sipedge-ctl drop)");
}

void cmd_drop(struct session *s, const char *arg)
{
	char f[256];
	bool by_addr;
	const char *bad = arg ? parse_target(arg, f, sizeof f, &by_addr)
			      : "drop needs a domain or an address";
	if (bad) {
		ctl_finish(s, "ERR %s", bad);
		return;
	}
	struct each w = { .s = s, .filter = f, .by_addr = by_addr };
	conn_foreach(s->ctl->edge->net, drop_one, &w);
	ctl_log_command(s, "drop", f, "closed", w.n);
	struct rec r;
	rec_begin(&r, s);
	rec_int(&r, "closed", w.n);
	rec_end(&r);
	ctl_finish(s, "OK");
}

void cmd_trace(struct session *s, const char *arg, long long count)
{
	bool by_addr;
	const char *bad = arg ? parse_target(arg, s->filter, sizeof s->filter, &by_addr)
			      : "trace needs a domain or an address";
	if (bad) {
		ctl_finish(s, "ERR %s", bad);
		return;
	}
	s->by_addr = by_addr;
	s->want = count > 0 ? (uint64_t)count : 0;     /* 0: until the client goes */
	s->tracing = true;
	s->ctl->edge->tap.watchers++;
	/* The client's EOF ends it: keep reading, without a deadline; a
	 * reader stuck for 30 s (nothing of the queue taken) is closed. */
	struct timeval wtv = { CTL_WRITE_TIMEOUT, 0 };
	bufferevent_set_timeouts(s->bev, NULL, &wtv);
	evtimer_del(s->deadline);
	ctl_log_command(s, "trace", s->filter, count > 0 ? "count" : NULL, count);
	struct rec r;
	rec_begin(&r, s);
	rec_str(&r, "trace", "started");
	rec_str(&r, by_addr ? "address" : "domain", s->filter);
	if (count > 0)
		rec_int(&r, "count", count);
	if (s->ctl->nworkers > 1)
		rec_int(&r, "worker", s->ctl->worker);
	rec_end(&r);
}
