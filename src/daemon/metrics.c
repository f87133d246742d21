/* metrics.c - Prometheus text exposition (format 0.0.4) at /metrics.
 *
 * Counters come from util/counters.c, whose label sets are bounded, so
 * peers cannot grow memory or the size of a scrape. Counters only grow;
 * gauges (connections, transactions, nodes, DNS) are read from the
 * daemon's state when /metrics is scraped: the endpoint reads downward,
 * nothing below calls it.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "net/conn.h"
#include "net/dns.h"
#include "proxy/edge.h"
#include "proxy/health.h"
#include "util/counters.h"
#include "util/log.h"
#include "daemon/metrics.h"
#include "proxy/txn.h"

struct metrics {
	struct edge *edge;
	struct evhttp *http;
	double start_time;                           /* Unix time, seconds */
};

struct metrics *metrics_new(struct edge *e)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m) {
		log_msg(LOG_ERR, "out of memory: metrics disabled");
		return NULL;
	}
	m->edge = e;
	struct timeval tv;
	gettimeofday(&tv, NULL);
	m->start_time = (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
	return m;
}

/* ------------------------------------------------------------ exposition */

/* A label value as the text format wants it: \ " and newline escaped. */
static void add_label(struct evbuffer *b, const char *v)
{
	for (; v && *v; v++) {
		if (*v == '\\')
			evbuffer_add(b, "\\\\", 2);
		else if (*v == '"')
			evbuffer_add(b, "\\\"", 2);
		else if (*v == '\n')
			evbuffer_add(b, "\\n", 2);
		else
			evbuffer_add(b, v, 1);
	}
}

static void header(struct evbuffer *b, const char *name, const char *type,
		   const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* name{k1="v1"[,k2="v2"]} value */
static void sample(struct evbuffer *b, const char *name, const char *k1,
		   const char *v1, const char *k2, const char *v2,
		   unsigned long long value)
{
	evbuffer_add_printf(b, "%s", name);
	if (k1) {
		evbuffer_add_printf(b, "{%s=\"", k1);
		add_label(b, v1);
		if (k2) {
			evbuffer_add_printf(b, "\",%s=\"", k2);
			add_label(b, v2);
		}
		evbuffer_add(b, "\"}", 2);
	}
	evbuffer_add_printf(b, " %llu\n", value);
}

static void render_pairs(struct evbuffer *b, const char *name,
			 const struct counter_pairs *t,
			 const char *ka, const char *kb)
{
	unsigned long long over = t->overflow;
	for (size_t i = 0; i < t->n; i++) {
		unsigned long long n = t->row[i].n;
		if (strcmp(t->row[i].a, "other") == 0 && strcmp(t->row[i].b, "other") == 0) {
			n += over;
			over = 0;
		}
		sample(b, name, ka, t->row[i].a, kb, t->row[i].b, n);
	}
	if (over)
		sample(b, name, ka, "other", kb, "other", over);
}

static void render_requests(struct evbuffer *b, const struct counters *k)
{
	char st[16];
	header(b, "sipedge_requests_total", "counter",
	       "Requests whose final response passed the edge (relayed or made by it), "
	       "by direction (inbound = from the external zone), method and final status "
	       "(common codes exact, others by class).");
	for (size_t d = 0; d < 2; d++)
		for (size_t mi = 0; mi < COUNTERS_METHODS; mi++)
			for (size_t si = 0; si < COUNTERS_STATUS; si++) {
				unsigned long long n = k->requests[d][mi][si];
				if (!n)
					continue;
				evbuffer_add_printf(b, "sipedge_requests_total{direction=\"%s\","
						    "method=\"%s\",status=\"%s\"} %llu\n",
						    counters_dir_name(d), counters_method_name(mi),
						    counters_status_label(si, st, sizeof st), n);
			}
}

static void render_latency(struct evbuffer *b, const struct counters *k)
{
	header(b, "sipedge_request_duration_seconds", "histogram",
	       "Time from a request entering the edge's transaction to its final "
	       "response leaving the edge (0 for requests the edge refused at once).");
	for (size_t d = 0; d < 2; d++) {
		const struct counter_histogram *h = &k->latency[d];
		const char *dir = counters_dir_name(d);
		unsigned long long cum = 0;
		for (size_t i = 0; i <= COUNTERS_BUCKETS; i++) {
			cum += h->bucket[i];
			evbuffer_add_printf(b, "sipedge_request_duration_seconds_bucket{"
					    "direction=\"%s\",le=\"%s\"} %llu\n", dir,
					    counters_bucket_label(i), cum);
		}
		evbuffer_add_printf(b, "sipedge_request_duration_seconds_sum{direction=\"%s\"} %.9g\n",
				    dir, h->sum);
		evbuffer_add_printf(b, "sipedge_request_duration_seconds_count{direction=\"%s\"} %llu\n",
				    dir, h->count);
	}
}

static void render_counters(struct evbuffer *b)
{
	const struct counters *k = counters_get();
	render_requests(b, k);
	render_latency(b, k);

	header(b, "sipedge_rejections_total", "counter",
	       "Requests the edge refused, by log event and reason slug (see sipedge(8)).");
	render_pairs(b, "sipedge_rejections_total", &k->rejections, "event", "reason");

	header(b, "sipedge_options_answered_total", "counter",
	       "OPTIONS requests addressed to the edge itself, answered by the edge.");
	evbuffer_add_printf(b, "sipedge_options_answered_total %llu\n", k->options_answered);

	header(b, "sipedge_tls_handshake_failures_total", "counter",
	       "TLS handshakes that failed, by zone and reason slug.");
	render_pairs(b, "sipedge_tls_handshake_failures_total", &k->tls_failures,
		     "zone", "reason");
}

static void render_dns(struct evbuffer *b, struct dns *dns)
{
	struct dns_stats ds;
	dns_get_stats(dns, &ds);
	header(b, "sipedge_dns_queries_total", "counter", "DNS queries put on the wire.");
	sample(b, "sipedge_dns_queries_total", NULL, NULL, NULL, NULL, ds.queries);
	header(b, "sipedge_dns_cache_hits_total", "counter",
	       "DNS lookups answered from the cache.");
	sample(b, "sipedge_dns_cache_hits_total", NULL, NULL, NULL, NULL, ds.cache_hits);
	header(b, "sipedge_dns_negative_hits_total", "counter",
	       "DNS lookups answered from the negative cache.");
	sample(b, "sipedge_dns_negative_hits_total", NULL, NULL, NULL, NULL,
	       ds.negative_hits);
	header(b, "sipedge_dns_failures_total", "counter",
	       "DNS lookups that failed (timeout, SERVFAIL, REFUSED, limits).");
	sample(b, "sipedge_dns_failures_total", NULL, NULL, NULL, NULL, ds.failures);
	header(b, "sipedge_dns_coalesced_total", "counter",
	       "DNS lookups that joined a query already in flight.");
	sample(b, "sipedge_dns_coalesced_total", NULL, NULL, NULL, NULL, ds.coalesced);
}

/* Gauges read from the daemon's state at scrape time. */
static void render_gauges(struct evbuffer *b, struct edge *e)
{
	if (e && e->net) {
		header(b, "sipedge_connections", "gauge", "Open connections by zone.");
		sample(b, "sipedge_connections", "zone", "external", NULL, NULL,
		       conn_count(e->net, ZONE_EXTERNAL));
		sample(b, "sipedge_connections", "zone", "internal", NULL, NULL,
		       conn_count(e->net, ZONE_INTERNAL));
	}
	if (e && e->txns) {
		header(b, "sipedge_transactions", "gauge", "Open proxy transactions.");
		sample(b, "sipedge_transactions", NULL, NULL, NULL, NULL, txn_count(e));
	}
	if (e && e->conf && e->conf->internal.nnodes) {
		const bool *up = health_up(e);
		header(b, "sipedge_node_up", "gauge",
		       "1 if the internal node is up (internal.health), else 0.");
		for (size_t i = 0; i < e->conf->internal.nnodes; i++)
			sample(b, "sipedge_node_up", "node", e->conf->internal.nodes[i].name,
			       NULL, NULL, !up || up[i]);
	}
	if (e && e->dns)
		render_dns(b, e->dns);
}

void metrics_render(const struct metrics *m, struct evbuffer *b)
{
	render_counters(b);
	render_gauges(b, m ? m->edge : NULL);
	header(b, "sipedge_build_info", "gauge", "Always 1; the version is a label.");
	sample(b, "sipedge_build_info", "version", PACKAGE_VERSION, NULL, NULL, 1);
	header(b, "sipedge_start_time_seconds", "gauge",
	       "Start time of the daemon since the Unix epoch in seconds.");
	evbuffer_add_printf(b, "sipedge_start_time_seconds %.3f\n", m ? m->start_time : 0.0);
}

/* ------------------------------------------------------------ HTTP */

static void on_http(struct evhttp_request *req, void *arg)
{
	struct metrics *m = arg;
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	if ((cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) ||
	    !path || strcmp(path, "/metrics") != 0) {
		evhttp_send_error(req, HTTP_NOTFOUND, NULL);
		return;
	}
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, HTTP_INTERNAL, NULL);
		return;
	}
	metrics_render(m, b);
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(h, "Cache-Control", "no-store");
	evhttp_send_reply(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

bool metrics_listen(struct metrics *m)
{
	if (!m || m->http || !m->edge || !m->edge->conf || !m->edge->base)
		return true;
	const struct conf *c = m->edge->conf;
	int port = c->admin.metrics_port;
	const char *addr = c->admin.metrics_address ? c->admin.metrics_address : "127.0.0.1";
	if (port == 0)
		return true;
	bool v6 = strchr(addr, ':') != NULL;
	m->http = evhttp_new(m->edge->base);
	if (!m->http) {
		log_msg(LOG_ERR, "cannot start the metrics endpoint on %s%s%s:%d: out of memory",
			v6 ? "[" : "", addr, v6 ? "]" : "", port);
		return false;
	}
	/* Scrapes are small GETs: anything large or slow is not one. */
	evhttp_set_timeout(m->http, 10);
	evhttp_set_max_headers_size(m->http, 8192);
	evhttp_set_max_body_size(m->http, 1024);
	evhttp_set_gencb(m->http, on_http, m);
	errno = 0;
	if (!evhttp_bind_socket_with_handle(m->http, addr, (ev_uint16_t)port)) {
		int err = errno;
		log_msg(LOG_ERR, "cannot listen for metrics on %s%s%s:%d: %s",
			v6 ? "[" : "", addr, v6 ? "]" : "", port,
			err ? strerror(err) : "bind failed");
		evhttp_free(m->http);
		m->http = NULL;
		return false;
	}
	log_msg(LOG_INFO, "metrics at http://%s%s%s:%d/metrics",
		v6 ? "[" : "", addr, v6 ? "]" : "", port);
	return true;
}

void metrics_free(struct metrics *m)
{
	if (!m)
		return;
	if (m->http)
		evhttp_free(m->http);
	free(m);
}
