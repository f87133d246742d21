/* partner.c - sipedge-check DOMAIN --cert F --key F: what the partner's
 * edge says to us (sipedge-check(1), "Partner checks").
 *
 *   mtls     the partner accepts our certificate (mutual TLS)
 *   options  its final answer to an OPTIONS sip:DOMAIN from our domain
 *   message  with --to, its final answer to a MESSAGE to that user
 *
 * Each request goes over a connection of its own, to the address that
 * passed the connect check, with the partner's certificate verified (it
 * passed chain and name before). Sofia-SIP builds the requests and parses
 * the answers (core/framing.c). Every byte from the partner is hostile:
 * reads are bounded in size and time, and what we print of it is escaped.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sofia-sip/msg_header.h>

#include "checker.h"
#include "checks.h"
#include "core/diag.h"
#include "core/framing.h"
#include "core/sipmsg.h"

#define ANSWER_MAX_BYTES (256 * 1024)  /* read at most this much per request */
#define ANSWER_MAX_MSG 65535           /* one message */
#define ANSWER_MAX_1XX 32              /* provisional answers skipped */

/* The outcome of one request. */
struct answer {
	bool handshake;         /* the TLS handshake completed */
	bool refused;           /* the partner refused our certificate */
	int alert;              /* its fatal alert, -1 none */
	int status;             /* final status, 0 none */
	char phrase[200];       /* escaped */
	int code;               /* ms-diagnostics code, 0 none */
	char diag[400];         /* escaped ms-diagnostics value */
	char warning[400];      /* escaped Warning */
	char err[400];          /* why there is no final answer */
	char tls[64];           /* protocol version */
};

/* ------------------------------------------------------------ setup */

int partner_setup(struct checker *k)
{
	char trust[300];
	SSL_CTX *ctx = make_ssl_ctx(&k->o, trust, sizeof trust);
	if (!ctx)
		return 2;
	SSL_CTX_set_client_cert_cb(ctx, NULL);
	if (SSL_CTX_use_certificate_chain_file(ctx, k->o.cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, k->o.key, SSL_FILETYPE_PEM) != 1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		unsigned long e = ERR_peek_last_error();
		fprintf(stderr, "sipedge-check: --cert %s --key %s: %s\n", k->o.cert,
			k->o.key, e ? ERR_reason_error_string(e) : "cannot load them");
		SSL_CTX_free(ctx);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	X509 *ours = SSL_CTX_get0_certificate(ctx);
	cert_subject(ours, k->our_subject, sizeof k->our_subject);
	if (k->o.from) {
		const char *f = k->o.from;
		if (strncasecmp(f, "sip:", 4) == 0)
			f += 4;
		snprintf(k->from, sizeof k->from, "sip:%s", f);
	} else {
		char dom[254];
		if (!cert_domain(ours, dom, sizeof dom)) {
			fprintf(stderr, "sipedge-check: %s names no domain: give --from "
				"USER@OURDOMAIN\n", k->o.cert);
			SSL_CTX_free(ctx);
			return 2;
		}
		snprintf(k->from, sizeof k->from, "sip:check@%s", dom);
	}
	k->mtls = ctx;
	return 0;
}

void partner_free(struct checker *k)
{
	SSL_CTX_free(k->mtls);
	k->mtls = NULL;
}

/* ------------------------------------------------------------ request */

static void random_hex(char *buf, size_t bytes)
{
	unsigned char r[32];
	static const char hex[] = "0123456789abcdef";
	if (bytes > sizeof r)
		bytes = sizeof r;
	if (RAND_bytes(r, (int)bytes) != 1)
		for (size_t i = 0; i < bytes; i++)
			r[i] = (unsigned char)rand();
	for (size_t i = 0; i < bytes; i++) {
		buf[2 * i] = hex[r[i] >> 4];
		buf[2 * i + 1] = hex[r[i] & 15];
	}
	buf[2 * bytes] = '\0';
}

/* One header line through Sofia's parser; false if it refuses it. */
static bool add(msg_t *msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static bool add(msg_t *msg, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	return n > 0 && (size_t)n < sizeof line &&
	       msg_header_add_str(msg, (msg_pub_t *)sip_object(msg), line) == 0;
}

/*
 * The request as a federation edge sends it; the text (heap, caller
 * frees) and its Call-ID into callid. via is our socket's "host:port".
 */
static char *build_request(const struct checker *k, const char *method,
			   const char *ruri, const char *via, char *callid,
			   size_t clen, size_t *len)
{
	char branch[33], tag[17], id[33], rl[600];
	random_hex(branch, 16);
	random_hex(tag, 8);
	random_hex(id, 16);
	snprintf(callid, clen, "%s", id);
	msg_t *msg = msg_create(sipmsg_mclass(), 0);
	if (!msg)
		return NULL;
	sip_t *sip = sip_object(msg);
	bool message = strcmp(method, "MESSAGE") == 0;
	char body[400];
	snprintf(body, sizeof body, "sipedge-check: a test message from %s", k->from);
	snprintf(rl, sizeof rl, "%s %s SIP/2.0", method, ruri);
	bool ok = sip_add_make(msg, sip, sipmsg_request_class(), rl) == 0 &&
		add(msg, "Via: SIP/2.0/TLS %s;branch=z9hG4bK%s;rport\r\n", via, branch) &&
		add(msg, "Max-Forwards: 70\r\n") &&
		add(msg, "From: <%s>;tag=%s\r\n", k->from, tag) &&
		add(msg, "To: <%s>\r\n", ruri) &&
		add(msg, "Call-ID: %s\r\n", id) &&
		sip_add_make(msg, sip, sipmsg_cseq_class(), message ? "1 MESSAGE" : "1 OPTIONS") == 0 &&
		add(msg, "Supported: ms-benotify, timer\r\n") &&
		add(msg, "User-Agent: sipedge-check/%s\r\n", PACKAGE_VERSION) &&
		(message || add(msg, "Accept: application/sdp\r\n"));
	if (ok && message)
		ok = add(msg, "Content-Type: text/plain;charset=utf-8\r\n") &&
		     sip_add_make(msg, sip, sip_payload_class, body) == 0;
	/* Content-Length and the empty line */
	ok = ok && sip_complete_message(msg) == 0;
	char *text = ok ? sipmsg_print(msg, len) : NULL;
	msg_destroy(msg);
	return text;
}

/* ------------------------------------------------------------ answer */

static bool refusal_alert(int alert)
{
	switch (alert & 0xff) {
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REQUIRED:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_ACCESS_DENIED:
		return true;
	default:
		return false;
	}
}

/* What we show of a final response. */
static void take_response(struct answer *a, sip_t const *sip)
{
	a->status = sip->sip_status->st_status;
	const char *ph = sip->sip_status->st_phrase ? sip->sip_status->st_phrase : "";
	escape_text(ph, 120, a->phrase, sizeof a->phrase);
	const char *diag = NULL;
	for (int pass = 0; pass < 2 && !diag; pass++)
		for (sip_unknown_t const *u = sip->sip_unknown; u && !diag; u = u->un_next)
			if (u->un_name && u->un_value &&
			    strcasecmp(u->un_name, pass ? "ms-diagnostics-public"
						       : "ms-diagnostics") == 0)
				diag = u->un_value;
	if (diag) {
		char *end;
		long c = strtol(diag, &end, 10);
		a->code = end != diag && c > 0 && c < 100000 ? (int)c : 0;
		escape_text(diag, 300, a->diag, sizeof a->diag);
	}
	sip_warning_t const *w = sip->sip_warning;
	if (w)
		snprintf(a->warning, sizeof a->warning, "%u %s", w->w_code,
			 w->w_text ? w->w_text : "");
	if (w) {
		char tmp[sizeof a->warning];
		escape_text(a->warning, 300, tmp, sizeof tmp);
		memcpy(a->warning, tmp, sizeof tmp);
	}
}

/* Is msg the final response to our request? Takes it into a. */
static bool our_final(struct answer *a, msg_t *msg, const char *callid,
		      const char *method, int *provisional)
{
	sip_t const *sip = sip_object(msg);
	if (!sip || !sip->sip_status || !sip->sip_call_id || !sip->sip_cseq ||
	    strcmp(sip->sip_call_id->i_id, callid) != 0 ||
	    strcasecmp(sip->sip_cseq->cs_method_name, method) != 0)
		return false;   /* a request from the partner, or not ours */
	if (sip->sip_status->st_status < 200) {
		++*provisional;
		return false;
	}
	take_response(a, sip);
	return true;
}

static int ms_left(const struct timespec *t0, int total)
{
	long left = total - ms_since(t0);
	return left > 0 ? (int)left : 0;
}

/* After a non-blocking TLS call returned rc: wait, until total ms after
 * t0, for what it wants; true to call it again. A partner that drips
 * bytes cannot stretch the handshake past the deadline. */
static bool tls_wait(SSL *ssl, int fd, int rc, const struct timespec *t0,
		     int total)
{
	int e = SSL_get_error(ssl, rc);
	short ev = e == SSL_ERROR_WANT_READ ? POLLIN
		 : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
	int left = ms_left(t0, total);
	if (!ev || left == 0)
		return false;
	struct pollfd p = { .fd = fd, .events = ev };
	return poll(&p, 1, left) > 0;
}

/* Read until the final response, an error or the deadline. */
static void await_answer(const struct checker *k, SSL *ssl, int fd,
			 const char *callid, const char *method, struct answer *a)
{
	struct framer *fr = framer_new(ANSWER_MAX_MSG);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t total = 0;
	int provisional = 0;
	char buf[4096];
	if (!fr) {
		snprintf(a->err, sizeof a->err, "out of memory");
		return;
	}
	for (;;) {
		int left = ms_left(&t0, k->o.answer_ms);
		if (left == 0) {
			snprintf(a->err, sizeof a->err, "no final response within %.3g s%s",
				 k->o.answer_ms / 1000.0,
				 provisional ? " (only provisional ones)" : "");
			break;
		}
		if (SSL_pending(ssl) == 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			if (poll(&p, 1, left) <= 0)
				continue;       /* the deadline check above ends it */
		}
		ERR_clear_error();
		errno = 0;
		int n = SSL_read(ssl, buf, sizeof buf), sys = errno;
		struct tls_seen *seen = SSL_get_ex_data(ssl, seen_idx);
		if (n <= 0 && seen->alert < 0) {
			/* a session ticket, or the receive timeout: not the end */
			int e = SSL_get_error(ssl, n);
			if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
			    (e == SSL_ERROR_SYSCALL && (sys == EAGAIN || sys == EWOULDBLOCK)))
				continue;
		}
		if (n <= 0) {
			if (seen->alert >= 0) {
				a->alert = seen->alert;
				a->refused = refusal_alert(seen->alert);
				snprintf(a->err, sizeof a->err, "the partner sent the alert \"%s\"",
					 alert_name(seen->alert));
			} else {
				snprintf(a->err, sizeof a->err, "the partner closed the "
					 "connection without a final response");
			}
			break;
		}
		total += (size_t)n;
		framer_feed(fr, buf, (size_t)n);
		msg_t *msg = NULL;
		enum frame_event ev;
		bool done = false;
		while (!done && (ev = framer_next(fr, &msg)) != FRAME_NONE) {
			if (ev == FRAME_MSG) {
				done = our_final(a, msg, callid, method, &provisional);
				msg_destroy(msg);
			} else if (ev == FRAME_ERROR || ev == FRAME_TOOLARGE) {
				snprintf(a->err, sizeof a->err, "the partner sent %s",
					 ev == FRAME_ERROR ? "bytes that are not SIP"
					 : "a message over 64 KiB");
				done = true;
			}
		}
		if (done)
			break;
		if (total > ANSWER_MAX_BYTES || provisional > ANSWER_MAX_1XX) {
			snprintf(a->err, sizeof a->err, "no final response after %zu "
				 "bytes and %d provisional responses", total, provisional);
			break;
		}
	}
	framer_free(fr);
}

/* Connect, handshake with our certificate, send, await the answer. */
static void exchange(struct checker *k, const char *host,
		     const struct sockaddr_storage *addr, const char *method,
		     const char *ruri, struct answer *a)
{
	memset(a, 0, sizeof *a);
	a->alert = -1;
	char err[200];
	int fd = connect_to(addr, k->o.timeout_ms, err, sizeof err);
	if (fd < 0) {
		snprintf(a->err, sizeof a->err, "cannot connect: %s", err);
		return;
	}
	struct tls_seen seen = { .alert = -1 };
	SSL *ssl = SSL_new(k->mtls);
	if (!ssl || !SSL_set_ex_data(ssl, seen_idx, &seen) ||
	    !SSL_set_tlsext_host_name(ssl, host) || !SSL_set_fd(ssl, fd) ||
	    !SSL_set1_host(ssl, host)) {
		snprintf(a->err, sizeof a->err, "cannot set up TLS (out of memory)");
		goto out;
	}
	SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_WILDCARDS);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc, sys;
	do {
		ERR_clear_error();
		errno = 0;
		rc = SSL_connect(ssl);
		sys = errno;
	} while (rc != 1 && seen.alert < 0 && tls_wait(ssl, fd, rc, &t0, k->o.timeout_ms));
	if (rc != 1) {
		if (seen.alert >= 0 && refusal_alert(seen.alert)) {
			a->refused = true;
			a->alert = seen.alert;
		} else {
			char why[300];
			tls_failure(why, sizeof why, ssl, rc, sys, &seen, k->o.timeout_ms);
			snprintf(a->err, sizeof a->err, "TLS handshake failed: %s", why);
		}
		goto out;
	}
	a->handshake = true;
	snprintf(a->tls, sizeof a->tls, "%s", SSL_get_version(ssl));
	struct sockaddr_storage me;
	socklen_t ml = sizeof me;
	char via[INET6_ADDRSTRLEN + 16] = "invalid.invalid";
	if (getsockname(fd, (struct sockaddr *)&me, &ml) == 0)
		addr_str(&me, true, via, sizeof via);
	char callid[64];
	size_t len = 0;
	char *req = build_request(k, method, ruri, via, callid, sizeof callid, &len);
	if (!req) {
		snprintf(a->err, sizeof a->err, "cannot build the %s request", method);
		goto out;
	}
	int w;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do
		ERR_clear_error();
	while ((w = SSL_write(ssl, req, (int)len)) <= 0 && seen.alert < 0 &&
	       tls_wait(ssl, fd, w, &t0, k->o.timeout_ms));
	free(req);
	if (w != (int)len) {
		/* a TLS 1.3 refusal may arrive as we write: read it */
		await_answer(k, ssl, fd, callid, method, a);
		if (!a->refused && !a->err[0])
			snprintf(a->err, sizeof a->err, "cannot send the request");
		goto out;
	}
	await_answer(k, ssl, fd, callid, method, a);
	if (!a->refused && !a->err[0])
		SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	close(fd);
}

/* ------------------------------------------------------------ report */

static void report_answer(struct checker *k, const char *check,
			  const char *target, const char *method,
			  const struct answer *a)
{
	if (!a->status) {
		report_add(&k->rep, check, CHECK_FAIL, target, 0,
			   "%s: partner answers %s: %s", target, method, a->err);
		return;
	}
	enum check_status st = answer_status(a->status);
	char extra[1200] = "";
	const char *meaning = a->code ? diag_meaning(a->code) : NULL;
	if (a->diag[0] && meaning)
		snprintf(extra, sizeof extra, " \u2014 ms-diagnostics %d: %s (partner said: %s)",
			 a->code, meaning, a->diag);
	else if (a->diag[0])
		snprintf(extra, sizeof extra, " \u2014 ms-diagnostics: %s", a->diag);
	else if (a->warning[0])
		snprintf(extra, sizeof extra, " \u2014 Warning: %s", a->warning);
	if (st == CHECK_PASS && a->status >= 300)
		snprintf(extra + strlen(extra), sizeof extra - strlen(extra),
			 " (reachable, and it accepted us, but it does not take %s itself)",
			 method);
	report_add(&k->rep, check, st, target, meaning ? a->code : 0,
		   "%s: partner answers %s: %d %s%s", target, method, a->status,
		   a->phrase, extra);
}

void check_partner(struct checker *k, const char *target, const char *host,
		   const struct sockaddr_storage *addr)
{
	char ruri[300];
	struct answer a;
	snprintf(ruri, sizeof ruri, "sip:%s", k->o.domain);
	exchange(k, host, addr, "OPTIONS", ruri, &a);
	if (a.refused) {
		report_add(&k->rep, CK_MTLS, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: partner refused our certificate (alert \"%s\"): it does "
			   "not accept \"%s\"", target, alert_name(a.alert), k->our_subject);
		return;
	}
	if (!a.handshake) {
		report_add(&k->rep, CK_MTLS, CHECK_FAIL, target, DIAG_TLS,
			   "%s: %s", target, a.err);
		return;
	}
	report_add(&k->rep, CK_MTLS, CHECK_PASS, target, 0,
		   "%s: partner accepted our certificate \"%s\" (%s), From %s",
		   target, k->our_subject, a.tls, k->from);
	report_answer(k, CK_OPTIONS, target, "OPTIONS", &a);
	if (!k->o.to)
		return;
	const char *to = k->o.to;
	if (strncasecmp(to, "sip:", 4) == 0)
		to += 4;
	snprintf(ruri, sizeof ruri, "sip:%s", to);
	exchange(k, host, addr, "MESSAGE", ruri, &a);
	if (a.refused)
		snprintf(a.err, sizeof a.err, "partner refused our certificate "
			 "(alert \"%s\")", alert_name(a.alert));
	report_answer(k, CK_MESSAGE, target, "MESSAGE", &a);
}
