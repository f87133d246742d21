/* conn_io.c - a connection's bytes: framing what it reads, the TLS
 * handshake and certificate name check that make it UP, writing with the
 * output cap (backpressure), and the deadlines on each.
 *
 * Dialling is done in two visible steps, TCP connect and then TLS, so that
 * "could not connect" (1046) and "TLS negotiation failed" (1047) stay
 * distinguishable, as the federation diagnostics require: the states
 * TCP_CONNECTING and TLS_HANDSHAKING keep them apart.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <openssl/err.h>

#include "net/conn.h"
#include "net/conn_impl.h"
#include "core/framing.h"
#include "core/proxyproto.h"
#include "core/share.h"
#include "net/tls.h"
#include "util/counters.h"
#include "util/log.h"

/* ------------------------------------------------------------ reading */

/* The deadline runs from a message's first byte: restart it when a
 * message completed in this read and another has begun. */
static void arm_header_timer(struct conn *c, bool completed)
{
	bool pending = framer_pending(c->fr);
	bool armed = evtimer_pending(c->hdr_timer, NULL);
	if (pending && (!armed || completed)) {
		struct timeval tv = { c->net->conf->limits.header_timeout, 0 };
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
			if (c->net->on.on_message)
				c->net->on.on_message(c, msg);
			else
				msg_destroy(msg);
			break;
		case FRAME_PING:
			bufferevent_write(c->bev, "\r\n", 2);
			break;
		case FRAME_ERROR:
			log_event(LOG_NOTICE, "message_rejected",
				  LOG_STR("peer", c->peer),
				  LOG_STR("reason", "unparseable stream"), LOG_CONN(c->id));
			conn_close(c, CFAIL_CLOSED, "parse_error");
			break;
		case FRAME_TOOLARGE:
			log_event(LOG_NOTICE, "message_rejected",
				  LOG_STR("peer", c->peer),
				  LOG_STR("reason", "message exceeds limits.max_message_size"),
				  LOG_CONN(c->id));
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
	conn_enter(c);
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
		c->bytes_in += used;
		completed |= dispatch(c);
	}
	if (c->state == CONN_UP)
		arm_header_timer(c, completed);
	conn_leave(c);
}

static void on_header_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct conn *c = arg;
	log_event(LOG_NOTICE, "message_rejected",
		  LOG_STR("peer", c->peer),
		  LOG_STR("reason", "message not completed within limits.header_timeout"),
		  LOG_CONN(c->id));
	conn_close(c, CFAIL_CLOSED, "header_timeout");
}

/* ------------------------------------------------------------ TLS + up */

static void log_handshake_failure(struct conn *c, const char *slug,
				  const char *detail, const char *hint)
{
	const char *zone = c->zone == ZONE_EXTERNAL ? "external" : "internal";
	if (c->net->on.on_tls_failure)
		c->net->on.on_tls_failure(c, slug);
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
		  LOG_STR("suppressed", dropped ? n : NULL),
		  LOG_CONN(c->id));
}



void conn_go_up(struct conn *c)
{
	const struct conf *cf = c->net->conf;
	conn_handshake_over(c);
	c->state = CONN_UP;
	/* An earlier address that failed says nothing about this one. */
	c->fail = CFAIL_NONE;
	c->fail_reason[0] = '\0';
	evtimer_del(c->hs_timer);
	struct timeval idle = { cf->limits.idle_timeout, 0 };
	bufferevent_set_timeouts(c->bev, &idle, NULL);
	if (evbuffer_get_length(c->pending) > 0)
		bufferevent_write_buffer(c->bev, c->pending);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (c->net->on.on_up)
		c->net->on.on_up(c);
}

/* The name this connection's certificate must prove, or NULL. */
static const char *expected_name(struct conn *c)
{
	if (c->node >= 0)
		return c->net->conf->internal.nodes[c->node].tls_name;
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
	bool wild = c->zone == ZONE_EXTERNAL && c->net->conf->tls.external.accept_wildcards;
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
	conn_go_up(c);
}

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
	conn_enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		if (c->transport == TRANSPORT_TLS)
			on_tls_up(c);
		else
			conn_go_up(c);
	} else if (c->state == CONN_TLS_HANDSHAKING) {
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
			conn_dial_next(c);
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
	conn_leave(c);
}

static void pp_refuse(struct conn *c, const char *slug, const char *detail);

static void on_handshake_timeout(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct conn *c = arg;
	if (c->state == CONN_CLOSED)   /* closed while a callback held it */
		return;
	if (c->pp) {
		pp_refuse(c, "proxy_header_timeout", "no complete PROXY header in time");
		return;
	}
	bool in_tls = c->state == CONN_TLS_HANDSHAKING;
	if (c->outbound && (in_tls || c->state == CONN_TCP_CONNECTING)) {
		c->fail = in_tls ? CFAIL_TLS : CFAIL_CONNECT;
		snprintf(c->fail_reason, sizeof c->fail_reason, "%s timed out",
			 in_tls ? "TLS handshake" : "TCP connect");
		if (in_tls)
			log_handshake_failure(c, "handshake_timeout", c->fail_reason, "");
		conn_close(c, c->fail, c->fail_reason);
		return;
	}
	log_handshake_failure(c, "handshake_timeout",
			      "handshake not completed within limits.handshake_timeout", "");
	conn_close(c, CFAIL_TLS, "handshake_timeout");
}

/* ------------------------------------------------------------ PROXY header
 *
 * Behind a load balancer (a listen entry's proxy_protocol), a connection
 * starts with a PROXY v1 or v2 header, read here from the raw socket
 * before any TLS: peeked, and only the header's own bytes taken, so that
 * the ClientHello after it stays in the socket for OpenSSL. Bytes the
 * parser says are all header (NEED_MORE) are taken at once, so a partial
 * header does not keep the socket readable. Within PP_TIMEOUT seconds
 * (or limits.handshake_timeout if shorter) it must be complete; then the
 * TLS handshake gets its own limits.handshake_timeout. */
#define PP_TIMEOUT 3

struct conn_pp {
	struct event *ev;
	evutil_socket_t fd;
	size_t len;
	unsigned char buf[PP_MAX_HEADER];
};

void conn_pp_free(struct conn *c)
{
	if (!c->pp)
		return;
	if (c->pp->ev)
		event_free(c->pp->ev);
	evutil_closesocket(c->pp->fd);
	free(c->pp);
	c->pp = NULL;
}

/* Refused before TLS: counted, logged once a second per reason, dropped
 * (the owner never heard of it). */
static void pp_refuse(struct conn *c, const char *slug, const char *detail)
{
	unsigned dropped;
	counters_rejection("connection_refused", slug);
	if (log_flood_allow("connection_refused", slug, &dropped))
		log_event(LOG_WARNING, "connection_refused", LOG_STR("zone", "external"),
			  LOG_STR("peer", c->peer), LOG_STR("reason", slug),
			  LOG_STR("detail", detail), LOG_COUNT("suppressed", dropped),
			  LOG_CONN(c->id));
	conn_drop(c);
}

/* The header is complete: the connection is the client's, and TLS starts
 * on the bytes after it. */
static void pp_done(struct conn *c, const struct pp_result *r)
{
	evutil_socket_t fd = c->pp->fd;
	event_free(c->pp->ev);
	free(c->pp);
	c->pp = NULL;
	if (r->kind == PP_PROXY) {
		struct sockaddr_storage ss = { 0 };
		if (r->family == AF_INET) {
			struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
			s4->sin_family = AF_INET;
			memcpy(&s4->sin_addr, r->src, 4);
			s4->sin_port = htons(r->sport);
		} else {
			struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
			s6->sin6_family = AF_INET6;
			memcpy(&s6->sin6_addr, r->src, 16);
			s6->sin6_port = htons(r->sport);
		}
		if (!conn_proxied(c, (struct sockaddr *)&ss)) {
			evutil_closesocket(fd);
			conn_drop(c);
			return;
		}
	}
	/* LOCAL (the balancer's own check) and UNKNOWN keep its address. */
	if (!conn_setup_bev(c, fd, true)) {
		evutil_closesocket(fd);
		conn_drop(c);
		return;
	}
	if (c->transport == TRANSPORT_TCP) {
		conn_go_up(c);
		return;
	}
	c->state = CONN_TLS_HANDSHAKING;
	struct timeval tv = { c->net->conf->limits.handshake_timeout, 0 };
	evtimer_add(c->hs_timer, &tv);
}

static void on_pp_readable(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct conn *c = arg;
	struct conn_pp *pp = c->pp;
	conn_enter(c);
	ssize_t n = recv(fd, pp->buf + pp->len, sizeof pp->buf - pp->len, MSG_PEEK);
	if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
		conn_leave(c);
		return;
	}
	if (n <= 0) {
		if (n == 0 && pp->len == 0)     /* connect and close: a probe */
			conn_drop(c);
		else
			pp_refuse(c, "proxy_header_invalid", n == 0
				  ? "closed before the PROXY header ended"
				  : evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		conn_leave(c);
		return;
	}
	struct pp_result r;
	enum pp_status st = proxyproto_parse(pp->buf, pp->len + (size_t)n, &r);
	if (st == PP_ERROR) {
		pp_refuse(c, "proxy_header_invalid", r.reason);
		conn_leave(c);
		return;
	}
	/* Take what is header, and nothing after it. */
	size_t take = st == PP_DONE ? r.consumed - pp->len : (size_t)n;
	if (take > 0 && recv(fd, pp->buf + pp->len, take, 0) != (ssize_t)take) {
		pp_refuse(c, "proxy_header_invalid", "socket read failed");
		conn_leave(c);
		return;
	}
	pp->len += take;
	if (st == PP_DONE)
		pp_done(c, &r);
	conn_leave(c);
}

bool conn_proxy_wait(struct conn *c, evutil_socket_t fd)
{
	c->pp = calloc(1, sizeof *c->pp);
	if (!c->pp)
		return false;
	c->pp->fd = fd;
	c->pp->ev = event_new(c->net->base, fd, EV_READ | EV_PERSIST, on_pp_readable, c);
	if (!c->pp->ev || event_add(c->pp->ev, NULL) < 0) {
		if (c->pp->ev)
			event_free(c->pp->ev);
		free(c->pp);
		c->pp = NULL;
		return false;
	}
	int t = c->net->conf->limits.handshake_timeout;
	struct timeval tv = { t < PP_TIMEOUT ? t : PP_TIMEOUT, 0 };
	evtimer_add(c->hs_timer, &tv);
	return true;
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
	const struct conf *cf = c->net->conf;
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
	if (!c->stall_timer && !(c->stall_timer = evtimer_new(c->net->base, on_stalled, c)))
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

bool conn_timers_new(struct conn *c)
{
	c->hs_timer = evtimer_new(c->net->base, on_handshake_timeout, c);
	c->hdr_timer = evtimer_new(c->net->base, on_header_timeout, c);
	return c->hs_timer && c->hdr_timer;
}

bool conn_setup_bev(struct conn *c, evutil_socket_t fd, bool accepting)
{
	struct netctx *n = c->net;
	/* A SIP message is written whole: Nagle would only hold a response
	 * back until the peer's next ACK (20 ms p50 at 50 requests/s). */
	int one = 1;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (c->transport == TRANSPORT_TLS) {
		SSL_CTX *ctx = c->zone == ZONE_EXTERNAL
			? (accepting ? n->tls->ext_server : n->tls->ext_client)
			: (accepting ? n->tls->int_server : n->tls->int_client);
		SSL *ssl = ctx ? SSL_new(ctx) : NULL;
		if (!ssl)
			return false;
		if (!accepting && c->target[0] && !strchr(c->target, ':') &&
		    inet_addr(c->target) == INADDR_NONE)
			SSL_set_tlsext_host_name(ssl, c->target);
		c->bev = bufferevent_openssl_socket_new(n->base, fd, ssl,
			accepting ? BUFFEREVENT_SSL_ACCEPTING : BUFFEREVENT_SSL_CONNECTING,
			BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev) {
			SSL_free(ssl);
			return false;
		}
	} else {
		c->bev = bufferevent_socket_new(n->base, fd, BEV_OPT_CLOSE_ON_FREE);
		if (!c->bev)
			return false;
	}
	bufferevent_setcb(c->bev, on_read, on_drained, on_event, c);
	/* on_drained runs once the output is down to half the cap. */
	bufferevent_setwatermark(c->bev, EV_WRITE,
				 (size_t)n->conf->limits.max_output_buffer / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	return true;
}


bool conn_congested(const struct conn *c)
{
	size_t q = c->state == CONN_UP && c->bev
		? evbuffer_get_length(bufferevent_get_output(c->bev))
		: evbuffer_get_length(c->pending);
	return q > (size_t)c->net->conf->limits.max_output_buffer;
}

void conn_send(struct conn *c, const char *data, size_t len)
{
	c->bytes_out += len;
	if (c->state == CONN_UP) {
		bufferevent_write(c->bev, data, len);
		check_output(c, evbuffer_get_length(bufferevent_get_output(c->bev)));
	} else if (c->state != CONN_CLOSED) {
		evbuffer_add(c->pending, data, len);
		check_output(c, evbuffer_get_length(c->pending));
	}
}

