/* metrics.c - Prometheus text exposition (format 0.0.4) at /metrics.
 *
 * Counters come from util/counters.c, whose label sets are bounded, so
 * peers cannot grow memory or the size of a scrape. Counters only grow;
 * gauges (connections, transactions, nodes, DNS) are read from the
 * daemon's state when /metrics is scraped: the endpoint reads downward,
 * nothing below calls it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/crypto.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "net/conn.h"
#include "net/dns.h"
#include "net/tls.h"
#include "proxy/edge.h"
#include "proxy/health.h"
#include "util/counters.h"
#include "util/log.h"
#include "daemon/metrics.h"
#include "proxy/txn.h"

#define FDS_TICK_SECS 5      /* workers publish their open descriptors */
#define CERTS_PER_ZONE 80    /* the edge's chain and its CA file (64 CAs) */
#define CA_MAX 64
#define SUBJECT_MAX 128

struct metrics {
	struct edge *edge;
	struct evhttp *http;
	struct event *fds_tick;                      /* workers only */
	double start_time;                           /* Unix time, seconds */
};

static double unix_now(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* Descriptors open in this process (the directory's own one aside). */
static unsigned long long own_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return 0;
	unsigned long long n = 0;
	const struct dirent *de;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n ? n - 1 : 0;
}

/* With workers the endpoint (worker 0) cannot always read another
 * worker's /proc/PID/fd (not dumpable after the privilege drop): each
 * publishes its own count in its slot. */
static void on_fds_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	counters_proc_fds(own_fds());
}

struct metrics *metrics_new(struct edge *e)
{
	struct metrics *m = calloc(1, sizeof *m);
	if (!m) {
		log_msg(LOG_ERR, "out of memory: metrics disabled");
		return NULL;
	}
	m->edge = e;
	m->start_time = unix_now();
	/* Made once the configuration is loaded: the startup counts as the
	 * first good load (sipedge_config_last_reload_*). */
	counters_proc_start((int)getpid(), m->start_time);
	counters_proc_fds(own_fds());
	if (e && e->base && counters_nprocs() > 1) {
		struct timeval tv = { FDS_TICK_SECS, 0 };
		m->fds_tick = event_new(e->base, -1, EV_PERSIST, on_fds_tick, m);
		if (m->fds_tick)
			event_add(m->fds_tick, &tv);
	}
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
	       "response leaving the edge (requests the edge refused or answered at "
	       "once are not observed).");
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

/* ------------------------------------------------------------ configuration */

/* Is the process of a slot still there? (A dead worker's slot waits for
 * its replacement, which records itself at its start.) */
static bool proc_live(const struct counter_proc *p)
{
	if (!p || p->pid <= 0)
		return false;
	return p->pid == (int)getpid() || kill(p->pid, 0) == 0 || errno == EPERM;
}

/* With workers each reloads on SIGHUP and records its result in its
 * slot: the edge reports success only if every live worker's last load
 * was good, and the oldest of their last good loads. */
static void render_config(struct evbuffer *b)
{
	size_t n = counters_nprocs();
	int ok = 1;
	double when = 0;
	bool any = false;
	for (size_t i = 0; i < n; i++) {
		const struct counter_proc *p = counters_proc(i);
		if (n > 1 && !proc_live(p))
			continue;
		if (!p->config_ok)
			ok = 0;
		if (!any || p->config_time < when)
			when = p->config_time;
		any = true;
	}
	if (!any)
		ok = 0;
	header(b, "sipedge_config_last_reload_success", "gauge",
	       "1 if the last configuration load (startup or SIGHUP) succeeded in "
	       "every worker, 0 if a reload failed (the previous configuration runs).");
	evbuffer_add_printf(b, "sipedge_config_last_reload_success %d\n", ok);
	header(b, "sipedge_config_last_reload_timestamp_seconds", "gauge",
	       "Unix time of the last successful configuration load (startup counts; "
	       "with workers the oldest of theirs).");
	evbuffer_add_printf(b, "sipedge_config_last_reload_timestamp_seconds %.3f\n", when);
}

/* ------------------------------------------------------------ certificates */

struct cert_row {
	char subject[SUBJECT_MAX];
	double expiry;
};

/* s (len bytes) as a label value: printable ASCII and, with utf8, the
 * bytes of a UTF-8 string OpenSSL made; anything else is '?'. Truncated
 * on a character boundary. */
static void clean_subject(char *out, const unsigned char *s, size_t len, bool utf8)
{
	size_t o = 0;
	for (size_t i = 0; i < len && o + 1 < SUBJECT_MAX; i++)
		out[o++] = (s[i] >= 0x20 && s[i] < 0x7f) || (utf8 && s[i] >= 0x80)
			   ? (char)s[i] : '?';
	if (o + 1 >= SUBJECT_MAX && utf8)
		while (o > 0 && ((unsigned char)out[o - 1] & 0xc0) == 0x80)
			o--;
	if (o > 0 && utf8 && ((unsigned char)out[o - 1] & 0xc0) == 0xc0)
		o--;                     /* a lead byte cut from its tail */
	out[o] = '\0';
}

/* The subject CN, else the first DNS subjectAltName, else "unknown". */
static void cert_subject(X509 *x, char *out)
{
	const X509_NAME *sn = X509_get_subject_name(x);
	int i = sn ? X509_NAME_get_index_by_NID(sn, NID_commonName, -1) : -1;
	if (i >= 0) {
		unsigned char *u = NULL;
		int n = ASN1_STRING_to_UTF8(&u, X509_NAME_ENTRY_get_data(
						    X509_NAME_get_entry(sn, i)));
		if (n > 0) {
			clean_subject(out, u, (size_t)n, true);
			OPENSSL_free(u);
			if (*out)
				return;
		}
	}
	GENERAL_NAMES *alt = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int k = 0; alt && k < sk_GENERAL_NAME_num(alt); k++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(alt, k);
		if (g->type == GEN_DNS) {
			clean_subject(out, ASN1_STRING_get0_data(g->d.dNSName),
				      (size_t)ASN1_STRING_length(g->d.dNSName), false);
			break;
		}
	}
	GENERAL_NAMES_free(alt);
	if (!*out)
		snprintf(out, SUBJECT_MAX, "unknown");
}

/* One row per subject: two certificates with the same name (an old and
 * a renewed CA) show the one that expires first. */
static void add_cert(struct cert_row *rows, size_t *n, X509 *x)
{
	struct tm tm;
	char subject[SUBJECT_MAX] = "";
	if (!x || !ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm))
		return;
	double expiry = (double)timegm(&tm);
	cert_subject(x, subject);
	for (size_t i = 0; i < *n; i++)
		if (strcmp(rows[i].subject, subject) == 0) {
			if (expiry < rows[i].expiry)
				rows[i].expiry = expiry;
			return;
		}
	if (*n >= CERTS_PER_ZONE)
		return;
	memcpy(rows[*n].subject, subject, sizeof subject);
	rows[(*n)++].expiry = expiry;
}

/* The certificates a zone's context holds: the edge's own with its chain,
 * and the CA file's (at most CA_MAX). Read from the loaded contexts, so a
 * reload that loads new files shows them. */
static void render_zone_certs(struct evbuffer *b, const char *zone, SSL_CTX *ctx)
{
	static struct cert_row rows[CERTS_PER_ZONE];
	size_t n = 0, cas = 0;
	if (!ctx)
		return;
	add_cert(rows, &n, SSL_CTX_get0_certificate(ctx));
	STACK_OF(X509) *chain = NULL;
	if (SSL_CTX_get0_chain_certs(ctx, &chain) && chain)
		for (int i = 0; i < sk_X509_num(chain) && i < 8; i++)
			add_cert(rows, &n, sk_X509_value(chain, i));
	STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
	for (int i = 0; objs && i < sk_X509_OBJECT_num(objs) && cas < CA_MAX; i++) {
		X509 *x = X509_OBJECT_get0_X509(sk_X509_OBJECT_value(objs, i));
		if (x) {
			add_cert(rows, &n, x);
			cas++;
		}
	}
	for (size_t i = 0; i < n; i++) {
		evbuffer_add_printf(b, "sipedge_certificate_expiry_timestamp_seconds{zone=\"%s\",subject=\"",
				    zone);
		add_label(b, rows[i].subject);
		evbuffer_add_printf(b, "\"} %.0f\n", rows[i].expiry);
	}
}

static void render_certs(struct evbuffer *b, const struct tls_ctxs *t)
{
	header(b, "sipedge_certificate_expiry_timestamp_seconds", "gauge",
	       "notAfter of the edge's certificates, their chain and the CA certificates "
	       "of each zone (Unix time), by zone and subject CN (else first DNS name).");
	render_zone_certs(b, "external", t->ext_server);
	render_zone_certs(b, "internal", t->int_server);
}

/* ------------------------------------------------------------ process */

struct proc_stat {
	double cpu, start;           /* seconds; start as Unix time */
	unsigned long long rss;      /* bytes */
};

/* /proc/PID/stat: utime, stime (fields 14, 15), starttime (22), rss (24).
 * World-readable, also for a worker that dropped privileges. */
static bool read_stat(int pid, struct proc_stat *st)
{
	char path[64], buf[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	const char *p = strrchr(buf, ')');   /* comm may hold spaces and ')' */
	if (!p)
		return false;
	unsigned long long ut, stt, start;
	long long rss;
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
		   "%*d %*d %*d %*d %*d %*d %llu %*u %lld", &ut, &stt, &start, &rss) != 4)
		return false;
	static double btime = -1;
	if (btime < 0) {
		btime = 0;
		FILE *s = fopen("/proc/stat", "re");
		char line[256];
		while (s && fgets(line, sizeof line, s))
			if (sscanf(line, "btime %lf", &btime) == 1)
				break;
		if (s)
			fclose(s);
	}
	double hz = (double)sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	st->cpu = (double)(ut + stt) / hz;
	st->start = btime + (double)start / hz;
	st->rss = rss > 0 ? (unsigned long long)rss * (unsigned long long)page : 0;
	return true;
}

/* The standard process_* metrics, for the whole edge: with workers the
 * sum over the supervisor and the live workers (CPU, memory; descriptors
 * over the workers), the start time the supervisor's. */
static void render_process(struct evbuffer *b)
{
	struct proc_stat st, sum = { 0 };
	unsigned long long fds = 0;
	int sup = counters_supervisor(), self = (int)getpid();
	if (!read_stat(sup ? sup : self, &sum))
		return;
	if (!sup) {
		fds = own_fds();
	} else {
		for (size_t i = 0; i < counters_nprocs(); i++) {
			const struct counter_proc *p = counters_proc(i);
			if (!proc_live(p) || !read_stat(p->pid, &st))
				continue;
			sum.cpu += st.cpu;
			sum.rss += st.rss;
			fds += p->pid == self ? own_fds() : p->open_fds;
		}
	}
	struct rlimit rl;
	header(b, "process_cpu_seconds_total", "counter",
	       "Total user and system CPU time spent in seconds (supervisor and workers).");
	evbuffer_add_printf(b, "process_cpu_seconds_total %.2f\n", sum.cpu);
	header(b, "process_resident_memory_bytes", "gauge",
	       "Resident memory size in bytes (supervisor and workers).");
	evbuffer_add_printf(b, "process_resident_memory_bytes %llu\n", sum.rss);
	header(b, "process_open_fds", "gauge",
	       "Number of open file descriptors (the workers').");
	evbuffer_add_printf(b, "process_open_fds %llu\n", fds);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
		header(b, "process_max_fds", "gauge",
		       "Maximum number of open file descriptors (per process).");
		evbuffer_add_printf(b, "process_max_fds %llu\n",
				    (unsigned long long)rl.rlim_cur);
	}
	header(b, "process_start_time_seconds", "gauge",
	       "Start time of the process since unix epoch in seconds.");
	evbuffer_add_printf(b, "process_start_time_seconds %.2f\n", sum.start);
}

void metrics_render(const struct metrics *m, struct evbuffer *b)
{
	render_counters(b);
	render_gauges(b, m ? m->edge : NULL);
	render_config(b);
	if (m && m->edge && m->edge->tls)
		render_certs(b, m->edge->tls);
	header(b, "sipedge_build_info", "gauge",
	       "Always 1; the version and the OpenSSL and libevent in use are labels.");
	evbuffer_add_printf(b, "sipedge_build_info{version=\"");
	add_label(b, PACKAGE_VERSION);
	evbuffer_add_printf(b, "\",openssl=\"");
	add_label(b, OpenSSL_version(OPENSSL_VERSION_STRING));
	evbuffer_add_printf(b, "\",libevent=\"");
	add_label(b, event_get_version());
	evbuffer_add_printf(b, "\"} 1\n");
	header(b, "sipedge_start_time_seconds", "gauge",
	       "Start time of the daemon since the Unix epoch in seconds.");
	evbuffer_add_printf(b, "sipedge_start_time_seconds %.3f\n", m ? m->start_time : 0.0);
	render_process(b);
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
	if (m->fds_tick)
		event_free(m->fds_tick);
	free(m);
}
