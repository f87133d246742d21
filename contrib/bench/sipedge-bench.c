/* sipedge-bench - load generator for a SIP federation edge (issue 8).
 *
 * Plays a federated peer: opens mutual-TLS connections to the edge's
 * external listener and, in the default "load" mode, sends MESSAGE (or
 * SUBSCRIBE) requests at a fixed total rate (--rate) or as fast as a window
 * of outstanding transactions per connection allows (--window). Two other
 * modes measure connections instead of requests: --idle N --hold S keeps N
 * connections open and idle, --handshakes N does N connect/handshake/close
 * cycles. Every mode prints exactly one line of JSON on stdout.
 *
 * Single-threaded on purpose: one libevent loop, like the daemon under test,
 * so that on a small machine the tool takes one core at most.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_HEADER 65536        /* larger header section: protocol error */
#define RING_BITS 20            /* transactions in flight, at most 2^20 */
#define RING_SIZE (1u << RING_BITS)
#define SUB_BITS 9              /* histogram: 512 buckets per power of two */
#define NBUCKETS ((64 - SUB_BITS + 1) << SUB_BITS)
#define MAX_DRAIN_S 5.0

enum mode { M_LOAD, M_IDLE, M_HANDSHAKES };
enum cstate { C_FREE, C_TCP, C_TLS, C_UP, C_CLOSING };
enum tstate { T_FREE, T_PENDING, T_DONE };

static struct {
	struct sockaddr_in dst;
	struct in_addr binds[64];
	int nbinds;
	const char *cert, *key, *ca, *sni;
	const char *method, *from_domain, *to, *local_ip, *ready_file;
	int conns, window, concurrency;
	double rate, duration, timeout, hold;
	long count, idle, handshakes;
	bool verbose;
	enum mode mode;
} opt = {
	.method = "MESSAGE", .from_domain = "partner.test",
	.to = "sip:bob@example.test", .conns = 1, .window = 0, .concurrency = 64,
	.duration = 10, .timeout = 5,
};

struct conn {
	int idx, fd;
	enum cstate st;
	struct event *tcp_ev;           /* waits for the TCP connect */
	struct bufferevent *bev;
	int outstanding;                /* transactions without final response */
	char via[64];                   /* "ip:port" of our end */
};

struct txn {
	uint64_t seq, t_sent;
	int conn;
	enum tstate st;
};

static struct event_base *base;
static SSL_CTX *ctx;
static struct conn *conns;
static long nconns;                     /* slots in conns[] */
static struct txn *ring;
static uint64_t hist[NBUCKETS];
static char run_id[16];                 /* distinguishes runs in branch/Call-ID */
static struct event *tick_ev, *sweep_ev, *sig_ev[2];

/* Counters; "started" are connection attempts begun, "done" those finished. */
static struct {
	long started, done, up, hs_ok, hs_fail, disconnects, in_flight;
	uint64_t next_seq, sweep_seq, sent, offered, not_sent, ok, non2xx,
		 timeouts, late, stray, requests_in, pending, hist_n;
	uint64_t t_conn_start, t_conn_end, t_start, t_send_end, t_last_resp,
		 lat_sum, lat_max;
	bool sending, finished;
	char first_err[160];
} S;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static struct timeval tv_of(double s)
{
	struct timeval tv = { (time_t)s, (suseconds_t)((s - floor(s)) * 1e6) };
	return tv;
}

static void die(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("sipedge-bench: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	exit(2);
}

static void note_err(const char *fmt, ...)
{
	va_list ap;
	if (S.first_err[0] && !opt.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(S.first_err, sizeof S.first_err, fmt, ap);
	va_end(ap);
	if (opt.verbose)
		fprintf(stderr, "sipedge-bench: %s\n", S.first_err);
}

/* ------------------------------------------------------------ latency */

/* Log-linear histogram: exact below 1024 us, then 512 buckets per power of
 * two (< 0.2 % error), so percentiles need no sorting and no memory that
 * grows with the run. */
static unsigned bucket_of(uint64_t v)
{
	if (v < (1u << (SUB_BITS + 1)))
		return (unsigned)v;
	int e = 63 - __builtin_clzll(v) - SUB_BITS;
	return ((unsigned)(e + 1) << SUB_BITS) + (unsigned)(v >> e) - (1u << SUB_BITS);
}

static uint64_t bucket_low(unsigned b)
{
	if (b < (1u << (SUB_BITS + 1)))
		return b;
	unsigned e = (b >> SUB_BITS) - 1;
	return ((uint64_t)(b & ((1u << SUB_BITS) - 1)) + (1u << SUB_BITS)) << e;
}

static uint64_t percentile(double p)
{
	if (!S.hist_n)
		return 0;
	uint64_t want = (uint64_t)ceil(p / 100.0 * (double)S.hist_n), acc = 0;
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < NBUCKETS; b++) {
		acc += hist[b];
		if (acc >= want) {   /* report the middle of the bucket */
			uint64_t lo = bucket_low(b), hi = bucket_low(b + 1);
			uint64_t v = lo + (hi - lo) / 2;
			return v > S.lat_max ? S.lat_max : v;
		}
	}
	return S.lat_max;
}

/* ------------------------------------------------------------ output */

static void finish(void)
{
	if (S.finished)
		return;
	S.finished = true;
	uint64_t now = now_ns();
	if (opt.mode == M_LOAD) {
		/* what is still pending after the drain has timed out */
		S.timeouts += S.pending;
		S.pending = 0;
		uint64_t end = S.t_last_resp > S.t_send_end ? S.t_last_resp : S.t_send_end;
		double el = S.t_start && end > S.t_start ? (double)(end - S.t_start) / 1e9 : 0;
		double send_el = S.t_start ? (double)(S.t_send_end - S.t_start) / 1e9 : 0;
		printf("{\"mode\":\"load\",\"method\":\"%s\",\"connections\":%ld,"
		       "\"handshake_failures\":%ld,\"offered_rate\":%.1f,\"window\":%d,"
		       "\"send_seconds\":%.3f,\"offered\":%" PRIu64 ",\"not_sent\":%" PRIu64 ","
		       "\"sent\":%" PRIu64 ",\"ok_2xx\":%" PRIu64 ",\"errors\":%" PRIu64 ","
		       "\"non_2xx\":%" PRIu64 ",\"timeouts\":%" PRIu64 ",\"late\":%" PRIu64 ","
		       "\"stray\":%" PRIu64 ",\"requests_received\":%" PRIu64 ","
		       "\"disconnects\":%ld,\"throughput\":%.1f,\"send_rate\":%.1f,"
		       "\"latency_us\":{\"p50\":%" PRIu64 ",\"p90\":%" PRIu64 ",\"p99\":%" PRIu64
		       ",\"p99.9\":%" PRIu64 ",\"max\":%" PRIu64 ",\"mean\":%.0f}",
		       opt.method, S.hs_ok, S.hs_fail, opt.rate, opt.window, send_el,
		       S.offered, S.not_sent, S.sent, S.ok, S.non2xx + S.timeouts, S.non2xx,
		       S.timeouts, S.late, S.stray, S.requests_in, S.disconnects,
		       el > 0 ? (double)S.ok / el : 0, send_el > 0 ? (double)S.sent / send_el : 0,
		       percentile(50), percentile(90), percentile(99), percentile(99.9),
		       S.lat_max, S.hist_n ? (double)S.lat_sum / (double)S.hist_n : 0);
	} else {
		uint64_t end = S.t_conn_end ? S.t_conn_end : now;
		double el = (double)(end - S.t_conn_start) / 1e9;
		printf("{\"mode\":\"%s\",\"attempts\":%ld,\"connections\":%ld,"
		       "\"handshake_failures\":%ld,\"handshakes_per_s\":%.1f,\"seconds\":%.3f",
		       opt.mode == M_IDLE ? "idle" : "handshakes", S.started, S.hs_ok,
		       S.hs_fail, el > 0 ? (double)S.hs_ok / el : 0, el);
		if (opt.mode == M_IDLE)
			printf(",\"hold\":%.1f,\"open_at_end\":%ld,\"dropped_while_idle\":%ld",
			       opt.hold, S.up, S.disconnects);
	}
	if (S.first_err[0]) {       /* JSON string: the text has no quotes/controls */
		printf(",\"first_error\":\"");
		for (const char *p = S.first_err; *p; p++)
			putchar(*p == '"' || *p == '\\' || (unsigned char)*p < 32 ? '_' : *p);
		putchar('"');
	}
	printf("}\n");
	fflush(stdout);
	event_base_loopbreak(base);
}

/* ------------------------------------------------------------ requests */

static void send_request(struct conn *c)
{
	char buf[1536], body[64];
	uint64_t seq = ++S.next_seq;
	struct txn *t = &ring[seq & (RING_SIZE - 1)];
	bool msg = strcmp(opt.method, "MESSAGE") == 0;
	int blen = msg ? snprintf(body, sizeof body, "sipedge-bench %s %" PRIu64 "\r\n",
				  run_id, seq) : 0;
	int n = snprintf(buf, sizeof buf,
		"%s %s SIP/2.0\r\n"
		"Via: SIP/2.0/TLS %s;branch=z9hG4bKsb%s.%" PRIu64 ";rport\r\n"
		"Max-Forwards: 70\r\n"
		"From: <sip:user@%s>;tag=t%s.%" PRIu64 "\r\n"
		"To: <%s>\r\n"
		"Call-ID: sb%s.%" PRIu64 "@bench.%s\r\n"
		"CSeq: 1 %s\r\n"
		"%s%s%s%s"
		"Content-Length: %d\r\n\r\n%s",
		opt.method, opt.to, c->via, run_id, seq, opt.from_domain, run_id, seq,
		opt.to, run_id, seq, opt.from_domain, opt.method,
		msg ? "Content-Type: text/plain\r\n" : "",
		msg ? "" : "Contact: <sip:user@", msg ? "" : c->via,
		msg ? "" : ";transport=tls>\r\nEvent: presence\r\nExpires: 60\r\n"
			   "Accept: application/pidf+xml\r\n",
		blen, msg ? body : "");
	if (n <= 0 || (size_t)n >= sizeof buf)
		die("request does not fit in %zu bytes (--to too long?)", sizeof buf);
	t->seq = seq;
	t->t_sent = now_ns();
	t->conn = c->idx;
	t->st = T_PENDING;
	S.pending++;
	S.sent++;
	c->outstanding++;
	bufferevent_write(c->bev, buf, (size_t)n);
}

/* Can this connection take one more request now? */
static bool may_send(const struct conn *c)
{
	return S.sending && c->st == C_UP && (opt.window <= 0 || c->outstanding < opt.window) &&
	       S.next_seq + 1 - S.sweep_seq < RING_SIZE &&
	       (opt.count <= 0 || (long)S.sent < opt.count);
}

static void stop_sending(void);

/* Window mode: keep every connection's window full. */
static void fill(struct conn *c)
{
	if (opt.rate > 0)
		return;
	while (may_send(c))
		send_request(c);
	if (opt.count > 0 && (long)S.sent >= opt.count && S.sending)
		stop_sending();
}

/* Rate mode: every millisecond, send what the schedule says is due, round
 * robin over the connections. A request that no connection can take (all
 * windows full) is counted as not sent rather than queued, so that the tool
 * never hides an overloaded edge behind a growing local backlog. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	static long rr;
	(void)fd; (void)what; (void)arg;
	double el = (double)(now_ns() - S.t_start) / 1e9;
	uint64_t due = (uint64_t)(opt.rate * el);
	if (opt.count > 0 && due > (uint64_t)opt.count)
		due = (uint64_t)opt.count;
	while (S.sending && S.offered < due) {
		S.offered++;
		long tried = 0;
		for (; tried < nconns; tried++) {
			struct conn *c = &conns[rr++ % nconns];
			if (may_send(c)) {
				send_request(c);
				break;
			}
		}
		if (tried == nconns)
			S.not_sent++;
	}
	if (opt.count > 0 && S.offered >= (uint64_t)opt.count && S.sending)
		stop_sending();
}

static void maybe_done(void)
{
	if (!S.sending && S.pending == 0 && S.t_start)
		finish();       /* nothing left to wait for: no need to drain */
}

/* Transactions are sent in sequence order, so the oldest pending one is at
 * sweep_seq: time out from there until one is still young. */
static void sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	uint64_t now = now_ns(), limit = (uint64_t)(opt.timeout * 1e9);
	while (S.sweep_seq < S.next_seq) {
		struct txn *t = &ring[(S.sweep_seq + 1) & (RING_SIZE - 1)];
		if (t->st == T_PENDING) {
			if (now - t->t_sent < limit)
				break;
			t->st = T_DONE;
			S.timeouts++;
			S.pending--;
			conns[t->conn].outstanding--;
			fill(&conns[t->conn]);
		}
		S.sweep_seq++;
	}
	maybe_done();
}

/* End of the drain (load mode) or of the hold (idle mode). */
static void finish_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	if (opt.mode == M_LOAD)
		sweep_cb(-1, 0, NULL);
	finish();
}

static void stop_sending(void)
{
	S.sending = false;
	S.t_send_end = now_ns();
	if (tick_ev)
		event_del(tick_ev);
	double d = opt.timeout < MAX_DRAIN_S ? opt.timeout : MAX_DRAIN_S;
	struct timeval tv = tv_of(d + 0.05);
	event_base_once(base, -1, EV_TIMEOUT, finish_cb, NULL, &tv);
	maybe_done();
}

static void end_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what; (void)arg;
	if (S.sending)
		stop_sending();
}

static void start_load(void)
{
	if (S.up == 0) {
		note_err("no connection could be established");
		finish();
		return;
	}
	S.t_start = now_ns();
	S.sending = true;
	struct timeval tv = tv_of(opt.duration), ms = { 0, 1000 }, sw = { 0, 100000 };
	event_base_once(base, -1, EV_TIMEOUT, end_cb, NULL, &tv);
	sweep_ev = event_new(base, -1, EV_PERSIST, sweep_cb, NULL);
	evtimer_add(sweep_ev, &sw);
	if (opt.rate > 0) {
		tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, NULL);
		evtimer_add(tick_ev, &ms);
	} else {
		for (long i = 0; i < nconns; i++)
			fill(&conns[i]);
	}
}

/* ------------------------------------------------------------ responses */

/* Header name match, full or compact form, case-insensitive. */
static bool hname(const char *n, size_t len, const char *full, const char *compact)
{
	return (len == strlen(full) && !strncasecmp(n, full, len)) ||
	       (compact && len == strlen(compact) && !strncasecmp(n, compact, len));
}

/* Our sequence number from "...z9hG4bKsb<run>.<seq>" (Via branch) or
 * "sb<run>.<seq>@..." (Call-ID); 0 if the text is not ours. */
static uint64_t our_seq(const char *v, size_t len, const char *prefix)
{
	char pre[48];
	int pl = snprintf(pre, sizeof pre, "%s%s.", prefix, run_id);
	for (size_t i = 0; i + (size_t)pl <= len; i++) {
		if (memcmp(v + i, pre, (size_t)pl) != 0)
			continue;
		uint64_t seq = 0;
		for (size_t j = i + (size_t)pl; j < len && v[j] >= '0' && v[j] <= '9'; j++)
			seq = seq * 10 + (uint64_t)(v[j] - '0');
		return seq;
	}
	return 0;
}

/* Parses the header section [p, p+len); returns the status code (0 for a
 * request, -1 if malformed) and sets *clen and *seq. */
static int parse_head(const char *p, size_t len, long *clen, uint64_t *seq)
{
	const char *end = p + len, *line = p;
	int status = -1;
	bool first = true, via_seen = false;
	uint64_t cid_seq = 0;
	*clen = 0;
	*seq = 0;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - line);
		if (ll && line[ll - 1] == '\r')
			ll--;
		if (first) {    /* status line, or request line (0) */
			status = ll >= 12 && !memcmp(line, "SIP/2.0 ", 8) ? atoi(line + 8) : 0;
			first = false;
		} else if (ll && line[0] != ' ' && line[0] != '\t') {
			const char *colon = memchr(line, ':', ll);
			if (colon) {
				size_t nl2 = (size_t)(colon - line);
				while (nl2 && (line[nl2 - 1] == ' ' || line[nl2 - 1] == '\t'))
					nl2--;
				const char *v = colon + 1;
				size_t vl = ll - (size_t)(v - line);
				if (hname(line, nl2, "content-length", "l")) {
					while (vl && (*v == ' ' || *v == '\t'))
						v++, vl--;
					long n = 0;
					for (; vl && *v >= '0' && *v <= '9' && n < 100000000; v++, vl--)
						n = n * 10 + (*v - '0');
					*clen = n;
				} else if (hname(line, nl2, "via", "v") && !via_seen) {
					via_seen = true;    /* only the top Via is ours */
					*seq = our_seq(v, vl, "z9hG4bKsb");
				} else if (hname(line, nl2, "call-id", "i")) {
					cid_seq = our_seq(v, vl, "sb");
				}
			}
		}
		line = le + 1;
	}
	if (!*seq)
		*seq = cid_seq;
	return status;
}

static void on_response(int status, uint64_t seq)
{
	struct txn *t = &ring[seq & (RING_SIZE - 1)];
	if (!seq || t->seq != seq) {
		S.stray++;
		return;
	}
	if (status < 200)       /* provisional: wait for the final one */
		return;
	if (t->st != T_PENDING) {
		S.late++;       /* after its timeout, or a retransmitted final */
		return;
	}
	uint64_t now = now_ns();
	t->st = T_DONE;
	S.pending--;
	conns[t->conn].outstanding--;
	uint64_t us = (now - t->t_sent) / 1000;
	hist[bucket_of(us)]++;
	S.hist_n++;
	S.lat_sum += us;
	S.lat_max = us > S.lat_max ? us : S.lat_max;
	S.t_last_resp = now;
	if (status < 300)
		S.ok++;
	else
		S.non2xx++;
	fill(&conns[t->conn]);
}

static void close_conn(struct conn *c, bool failed);

static void read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t have = evbuffer_get_length(in);
		if (!have)
			return;
		/* CRLF keep-alives (RFC 5626) between messages */
		unsigned char *b = evbuffer_pullup(in, 1);
		if (b[0] == '\r' || b[0] == '\n') {
			evbuffer_drain(in, 1);
			continue;
		}
		struct evbuffer_ptr pos = evbuffer_search(in, "\r\n\r\n", 4, NULL);
		if (pos.pos < 0) {
			if (have > MAX_HEADER) {
				note_err("header section over %d bytes from the edge", MAX_HEADER);
				close_conn(c, false);
			}
			return;
		}
		size_t hlen = (size_t)pos.pos;
		long clen;
		uint64_t seq;
		const char *h = (const char *)evbuffer_pullup(in, (ev_ssize_t)hlen + 4);
		int status = parse_head(h, hlen, &clen, &seq);
		if (have < hlen + 4 + (size_t)clen)
			return;         /* body not complete yet */
		evbuffer_drain(in, hlen + 4 + (size_t)clen);
		if (status > 0)
			on_response(status, seq);
		else if (status == 0)
			S.requests_in++;        /* not answered: the edge need not send any */
		else
			S.stray++;
		if (c->st != C_UP)
			return;
	}
}

/* ------------------------------------------------------------ connections */

static void start_more(void);

static void phase_done(void)
{
	S.t_conn_end = now_ns();
	if (opt.mode == M_LOAD) {
		start_load();
	} else if (opt.mode == M_IDLE) {
		if (opt.ready_file) {
			FILE *f = fopen(opt.ready_file, "w");
			if (f) {
				fprintf(f, "%ld\n", S.up);
				fclose(f);
			}
		}
		struct timeval tv = tv_of(opt.hold);
		event_base_once(base, -1, EV_TIMEOUT, finish_cb, NULL, &tv);
	} else {
		finish();
	}
}

static void close_conn(struct conn *c, bool failed)
{
	if (c->st == C_FREE)
		return;
	if (c->tcp_ev)
		event_free(c->tcp_ev);
	c->tcp_ev = NULL;
	if (c->bev)
		bufferevent_free(c->bev);       /* closes the socket too */
	else if (c->fd >= 0)
		close(c->fd);
	c->bev = NULL;
	c->fd = -1;
	if (failed)
		S.hs_fail++;
	else if (c->st == C_UP)
		S.disconnects++;
	if (c->st == C_UP || c->st == C_CLOSING)
		S.up--;
	bool was_connecting = c->st == C_TCP || c->st == C_TLS || opt.mode == M_HANDSHAKES;
	c->st = C_FREE;
	if (was_connecting) {
		S.in_flight--;
		S.done++;
		start_more();
	}
}

static void event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED) {
		c->st = C_UP;
		S.up++;
		S.hs_ok++;
		bufferevent_set_timeouts(bev, NULL, NULL);
		if (opt.mode == M_HANDSHAKES) {
			/* Close from our side, then wait for the edge's EOF: it has
			 * then read our Finished, so its handshake is complete too,
			 * and the ticket it may have sent is read, not RST. */
			c->st = C_CLOSING;
			shutdown(c->fd, SHUT_WR);
			struct timeval tv = tv_of(opt.timeout);
			bufferevent_set_timeouts(bev, &tv, NULL);
			return;
		}
		S.in_flight--;
		S.done++;
		start_more();
		return;
	}
	if (c->st == C_TLS) {
		unsigned long e = bufferevent_get_openssl_error(bev);
		char eb[120] = "";
		if (e)
			ERR_error_string_n(e, eb, sizeof eb);
		note_err("TLS handshake failed: %s", e ? eb : (what & BEV_EVENT_TIMEOUT) ?
			 "timeout" : "connection closed");
		close_conn(c, true);
	} else if (c->st == C_CLOSING) {
		close_conn(c, false);
	} else {
		if (S.sending || opt.mode == M_IDLE)
			note_err("connection %d closed by the edge", c->idx);
		close_conn(c, false);
	}
}

static void tcp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	int err = 0;
	socklen_t el = sizeof err;
	event_free(c->tcp_ev);
	c->tcp_ev = NULL;
	if (what & EV_TIMEOUT)
		err = ETIMEDOUT;
	else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		err = errno;
	if (err) {
		note_err("TCP connect failed: %s", strerror(err));
		close_conn(c, true);
		return;
	}
	struct sockaddr_in me;
	socklen_t ml = sizeof me;
	char ip[INET_ADDRSTRLEN] = "0.0.0.0";
	if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0)
		inet_ntop(AF_INET, &me.sin_addr, ip, sizeof ip);
	snprintf(c->via, sizeof c->via, "%s:%u", opt.local_ip ? opt.local_ip : ip,
		 ntohs(me.sin_port));
	SSL *ssl = SSL_new(ctx);
	if (!ssl)
		die("SSL_new failed");
	if (opt.sni) {
		SSL_set_tlsext_host_name(ssl, opt.sni);
		SSL_set1_host(ssl, opt.sni);    /* and check the edge's name */
	}
	c->st = C_TLS;
	c->bev = bufferevent_openssl_socket_new(base, fd, ssl, BUFFEREVENT_SSL_CONNECTING,
						BEV_OPT_CLOSE_ON_FREE);
	if (!c->bev)
		die("bufferevent_openssl_socket_new failed");
	bufferevent_openssl_set_allow_dirty_shutdown(c->bev, 1);
	bufferevent_setcb(c->bev, read_cb, NULL, event_cb, c);
	struct timeval tv = tv_of(opt.timeout);
	bufferevent_set_timeouts(c->bev, &tv, &tv);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* A connection attempt that failed before any event was set up: counted
 * here, without close_conn(), whose start_more() would recurse. */
static void start_failed(struct conn *c, const char *what)
{
	note_err("%s: %s", what, strerror(errno));
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->st = C_FREE;
	S.hs_fail++;
	S.done++;
}

/* Starts a non-blocking TCP connect; TLS begins once it is up (tcp_cb). */
static void start_conn(struct conn *c)
{
	S.started++;
	c->outstanding = 0;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		start_failed(c, "socket (raise ulimit -n?)");
		return;
	}
	int one = 1;
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (opt.nbinds) {
		/* Port chosen at connect() time, per 4-tuple: with several source
		 * addresses, far more than 28 000 connections can be open. */
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
		struct sockaddr_in src = { .sin_family = AF_INET,
			.sin_addr = opt.binds[S.started % opt.nbinds] };
		if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) {
			start_failed(c, "bind");
			return;
		}
	}
	if (connect(c->fd, (struct sockaddr *)&opt.dst, sizeof opt.dst) < 0 &&
	    errno != EINPROGRESS) {
		start_failed(c, "connect");
		return;
	}
	c->st = C_TCP;
	S.in_flight++;
	struct timeval tv = tv_of(opt.timeout);
	c->tcp_ev = event_new(base, c->fd, EV_WRITE, tcp_cb, c);
	event_add(c->tcp_ev, &tv);
}

/* Keeps at most --concurrency connection attempts (TCP + TLS) in flight. */
static void start_more(void)
{
	long total = opt.mode == M_LOAD ? opt.conns : opt.mode == M_IDLE ? opt.idle
									: opt.handshakes;
	while (S.in_flight < opt.concurrency && S.started < total && !S.finished) {
		struct conn *c = NULL;
		for (long i = 0; i < nconns && !c; i++)  /* free slot; nconns is small */
			if (conns[(S.started + i) % nconns].st == C_FREE)
				c = &conns[(S.started + i) % nconns];
		if (!c)
			break;
		start_conn(c);
	}
	if (S.done == total && !S.t_conn_end)
		phase_done();
}

/* ------------------------------------------------------------ setup */

static void signal_cb(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what; (void)arg;
	if (opt.mode == M_LOAD && S.sending)
		stop_sending();
	else
		finish();
}

static void parse_addr(const char *s, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	if (!colon || (size_t)(colon - s) >= sizeof host)
		die("--connect wants ADDRESS:PORT, got '%s'", s);
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = 0;
	sa->sin_family = AF_INET;
	sa->sin_port = htons((uint16_t)atoi(colon + 1));
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1 || !sa->sin_port)
		die("bad address '%s' (IPv4 address and port)", s);
}

static void usage(FILE *f)
{
	fputs("usage: sipedge-bench --connect ADDR:PORT --cert F --key F --ca F [options]\n"
	      "  load (default)  --conns N, --rate R (total/s) or --window W (per connection,\n"
	      "                  default 8 without --rate, unlimited with it), --duration S\n"
	      "                  (default 10, also caps --count N), --method MESSAGE|SUBSCRIBE\n"
	      "  idle            --idle N --hold S [--ready FILE: count written once all up]\n"
	      "  handshakes      --handshakes N: connect, handshake, close, N times\n"
	      "  --bind A[,B..]  source IPv4 address(es), taken in turn per connection\n"
	      "  --sni NAME      SNI sent, and the name the edge's certificate must have\n"
	      "  --from-domain D From <sip:user@D> (partner.test); --to URI Request-URI and\n"
	      "                  To (sip:bob@example.test); --local-ip IP host in Via/Contact\n"
	      "  --timeout S     per transaction and handshake (5); drain <= min(S, 5) s\n"
	      "  --concurrency C connection attempts in flight (64); -v every error\n"
	      "Prints one line of JSON. Exit 0 if a request got a 2xx (load) or a handshake\n"
	      "succeeded (other modes), 1 otherwise, 2 on bad usage.\n", f);
}

static void parse_args(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "connect", 1, 0, 'C' }, { "bind", 1, 0, 'b' }, { "cert", 1, 0, 'c' },
		{ "key", 1, 0, 'k' }, { "ca", 1, 0, 'a' }, { "sni", 1, 0, 's' },
		{ "method", 1, 0, 'm' }, { "from-domain", 1, 0, 'F' }, { "to", 1, 0, 'T' },
		{ "local-ip", 1, 0, 'L' }, { "conns", 1, 0, 'n' }, { "rate", 1, 0, 'r' },
		{ "window", 1, 0, 'w' }, { "duration", 1, 0, 'd' }, { "count", 1, 0, 'N' },
		{ "timeout", 1, 0, 't' }, { "idle", 1, 0, 'I' }, { "hold", 1, 0, 'H' },
		{ "handshakes", 1, 0, 'S' }, { "concurrency", 1, 0, 'y' },
		{ "ready", 1, 0, 'R' }, { "verbose", 0, 0, 'v' }, { "help", 0, 0, 'h' },
		{ 0, 0, 0, 0 }
	};
	const char *connect = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "vh", lo, NULL)) != -1) {
		switch (o) {
		case 'C': connect = optarg; break;
		case 'b':
			for (char *s = strtok(optarg, ","); s; s = strtok(NULL, ",")) {
				if (opt.nbinds == (int)(sizeof opt.binds / sizeof opt.binds[0]))
					die("too many --bind addresses");
				if (inet_pton(AF_INET, s, &opt.binds[opt.nbinds++]) != 1)
					die("bad --bind address '%s'", s);
			}
			break;
		case 'c': opt.cert = optarg; break;
		case 'k': opt.key = optarg; break;
		case 'a': opt.ca = optarg; break;
		case 's': opt.sni = optarg; break;
		case 'm': opt.method = optarg; break;
		case 'F': opt.from_domain = optarg; break;
		case 'T': opt.to = optarg; break;
		case 'L': opt.local_ip = optarg; break;
		case 'R': opt.ready_file = optarg; break;
		case 'v': opt.verbose = true; break;
		/* numbers: nonsense (atoi gives 0) is caught by the range check */
		case 'n': opt.conns = atoi(optarg); break;
		case 'r': opt.rate = atof(optarg); break;
		case 'w': opt.window = atoi(optarg); break;
		case 'd': opt.duration = atof(optarg); break;
		case 'N': opt.count = atol(optarg); break;
		case 't': opt.timeout = atof(optarg); break;
		case 'H': opt.hold = atof(optarg); break;
		case 'y': opt.concurrency = atoi(optarg); break;
		case 'I': opt.idle = atol(optarg); opt.mode = M_IDLE; break;
		case 'S': opt.handshakes = atol(optarg); opt.mode = M_HANDSHAKES; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc || !connect || !opt.cert || !opt.key || !opt.ca) {
		usage(stderr);
		exit(2);
	}
	parse_addr(connect, &opt.dst);
	if (strcmp(opt.method, "MESSAGE") && strcmp(opt.method, "SUBSCRIBE"))
		die("--method is MESSAGE or SUBSCRIBE");
	if (opt.conns < 1 || opt.concurrency < 1 || opt.duration <= 0 || opt.timeout <= 0 ||
	    opt.rate < 0 || opt.window < 0 || opt.hold < 0 ||
	    (opt.mode == M_IDLE && opt.idle < 1) ||
	    (opt.mode == M_HANDSHAKES && opt.handshakes < 1))
		die("a count, rate or time is out of range");
	if (opt.rate == 0 && opt.window == 0)
		opt.window = 8;
}

static SSL_CTX *make_ctx(void)
{
	SSL_CTX *c = SSL_CTX_new(TLS_client_method());
	if (!c || !SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
	    SSL_CTX_use_certificate_chain_file(c, opt.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(c, opt.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(c) != 1 ||
	    SSL_CTX_load_verify_locations(c, opt.ca, NULL) != 1) {
		ERR_print_errors_fp(stderr);
		die("cannot load the client certificate, key or CA");
	}
	SSL_CTX_set_verify(c, SSL_VERIFY_PEER, NULL);
	/* Every handshake is a full one: no session is ever stored or offered. */
	SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_options(c, SSL_OP_NO_TICKET);
	/* 10 000 idle connections: do not keep 2 x 16 KB of buffers each. */
	SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);
	return c;
}

int main(int argc, char **argv)
{
	parse_args(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	snprintf(run_id, sizeof run_id, "%x%04x", (unsigned)getpid(),
		 (unsigned)(now_ns() & 0xffff));
	ctx = make_ctx();
	base = event_base_new();
	if (!base)
		die("event_base_new failed");
	nconns = opt.mode == M_LOAD ? opt.conns : opt.mode == M_IDLE ? opt.idle
		 : opt.concurrency;
	conns = calloc((size_t)nconns, sizeof *conns);
	ring = opt.mode == M_LOAD ? calloc(RING_SIZE, sizeof *ring) : NULL;
	if (!conns || (opt.mode == M_LOAD && !ring))
		die("out of memory");
	for (long i = 0; i < nconns; i++) {
		conns[i].idx = (int)i;
		conns[i].fd = -1;
	}
	int sigs[2] = { SIGINT, SIGTERM };
	for (int i = 0; i < 2; i++) {
		sig_ev[i] = evsignal_new(base, sigs[i], signal_cb, NULL);
		event_add(sig_ev[i], NULL);
	}
	S.t_conn_start = now_ns();
	start_more();
	event_base_dispatch(base);
	if (!S.finished)
		finish();
	bool good = opt.mode == M_LOAD ? S.ok > 0 : S.hs_ok > 0;
	/* The process exits now: the kernel closes what is still open. */
	return good ? 0 : 1;
}
