/* check.c - sipedge-check DOMAIN: a domain's federation setup, seen from
 * the outside the way a Microsoft Access Edge sees it (sipedge-check(1)).
 *
 *   srv -> srv-domain -> address -> connect -> tls -> chain, name,
 *   validity, eku, key          (all but srv once per SRV target)
 *
 * DNS goes through the daemon's resolver module (src/net/dns.c) on a private
 * libevent loop, so the answers are the ones sipedge would act on. TCP
 * and TLS are plain blocking sockets with timeouts: this is a CLI tool.
 * These checks present no client certificate; with --cert/--key,
 * partner.c then presents ours and asks the partner (OPTIONS, MESSAGE).
 * --self (self.c) checks our own edge with the same steps.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include <ares.h>
#include <arpa/nameser.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include "checker.h"
#include "checks.h"
#include "opts.h"
#include "core/diag.h"
#include "net/dns.h"
#include "util/log.h"
#include "core/policy.h"

int seen_idx = -1;

/* ------------------------------------------------------------ DNS */

struct srv_answer {
	bool done;
	enum dns_status st;
	struct dns_srv srv[DNS_MAX_SRV];
	size_t n;
};

struct addr_answer {
	bool done;
	enum dns_status st;
	struct sockaddr_storage addr[DNS_MAX_ADDRS];
	size_t n;
};

static void on_srv(void *arg, enum dns_status st, const struct dns_srv *srv,
		   size_t n)
{
	struct srv_answer *a = arg;
	a->st = st;
	a->n = st == DNS_OK ? n : 0;
	if (a->n)
		memcpy(a->srv, srv, n * sizeof *srv);
	a->done = true;
}

static void on_addr(void *arg, enum dns_status st,
		    const struct sockaddr_storage *addrs, size_t n)
{
	struct addr_answer *a = arg;
	a->st = st;
	a->n = st == DNS_OK ? n : 0;
	if (a->n)
		memcpy(a->addr, addrs, n * sizeof *addrs);
	a->done = true;
}

/* dns.c answers every request (by its own deadline at the latest). */
void wait_dns(struct checker *k, bool *done, enum dns_status *st)
{
	while (!*done)
		if (event_base_loop(k->base, EVLOOP_ONCE) != 0) {
			*st = DNS_FAILED;       /* no events left: cannot happen */
			break;
		}
}

/*
 * dns.c folds NXDOMAIN, "no SRV record" and a "." target into one
 * DNS_NOTFOUND; to tell the operator which, ask once more with c-ares.
 */
struct why {
	bool done;
	int status;
	bool dot;
	ares_socket_t fd[8];
	size_t nfd;
};

static void why_sock(void *data, ares_socket_t fd, int readable, int writable)
{
	(void)writable;
	struct why *w = data;
	for (size_t i = 0; i < w->nfd; i++)
		if (w->fd[i] == fd) {
			if (!readable)
				w->fd[i] = w->fd[--w->nfd];
			return;
		}
	if (readable && w->nfd < sizeof w->fd / sizeof w->fd[0])
		w->fd[w->nfd++] = fd;
}

static void why_answer(void *arg, int status, int timeouts,
		       unsigned char *abuf, int alen)
{
	(void)timeouts;
	struct why *w = arg;
	w->status = status;
	struct ares_srv_reply *rep = NULL;
	if (status == ARES_SUCCESS &&
	    ares_parse_srv_reply(abuf, alen, &rep) == ARES_SUCCESS)
		for (struct ares_srv_reply *r = rep; r; r = r->next)
			if (r->host && (!*r->host || strcmp(r->host, ".") == 0))
				w->dot = true;
	ares_free_data(rep);
	w->done = true;
}

static const char *srv_absent_why(const struct checker *k, const char *name)
{
	struct why w = { 0 };
	ares_channel ch;
	struct ares_options ao = { 0 };
	ao.timeout = DNS_TIMEOUT_MS;
	ao.tries = DNS_TRIES;
	ao.sock_state_cb = why_sock;
	ao.sock_state_cb_data = &w;
	if (ares_init_options(&ch, &ao, ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES |
			      ARES_OPT_SOCK_STATE_CB) != ARES_SUCCESS)
		return "no SRV record";
	char csv[MAX_DNS_SERVERS * 64] = "";
	for (size_t i = 0; i < k->o.ndns; i++)
		snprintf(csv + strlen(csv), sizeof csv - strlen(csv), "%s%s",
			 i ? "," : "", k->o.dns[i]);
	if (k->o.ndns && ares_set_servers_ports_csv(ch, csv) != ARES_SUCCESS) {
		ares_destroy(ch);
		return "no SRV record";
	}
	ares_query(ch, name, ns_c_in, ns_t_srv, why_answer, &w);
	struct timespec t0, t;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!w.done) {
		struct timeval tv, *tvp = ares_timeout(ch, NULL, &tv);
		int ms = tvp ? (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1 : 100;
		struct pollfd p[8];
		for (size_t i = 0; i < w.nfd; i++)
			p[i] = (struct pollfd){ .fd = w.fd[i], .events = POLLIN };
		int n = poll(p, w.nfd, ms);
		if (n <= 0)
			ares_process_fd(ch, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
		for (size_t i = 0; n > 0 && i < w.nfd && !w.done; i++)
			if (p[i].revents)
				ares_process_fd(ch, p[i].fd, ARES_SOCKET_BAD);
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 4 * DNS_TIMEOUT_MS * DNS_TRIES / 1000)
			break;
	}
	ares_destroy(ch);       /* runs why_answer with ARES_EDESTRUCTION if pending */
	if (w.dot)
		return "its only target is \".\": the domain says it offers no federation";
	switch (w.status) {
	case ARES_ENOTFOUND:
		return "no such name (NXDOMAIN)";
	case ARES_ENODATA:
		return "the name exists but has no SRV record";
	default:
		return "no SRV record";
	}
}

static const char *dns_servers_desc(const struct checker *k, char *buf, size_t len)
{
	if (k->o.ndns == 0)
		return "the servers of /etc/resolv.conf";
	snprintf(buf, len, "%s", k->o.dns[0]);
	for (size_t i = 1; i < k->o.ndns; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), ", %s", k->o.dns[i]);
	return buf;
}

/* "host:port" of an SRV record: the target of every per-target result. */
const char *srv_hostport(const struct dns_srv *s, char *buf, size_t len)
{
	snprintf(buf, len, "%.*s:%d", (int)sizeof s->target - 1, s->target, s->port);
	return buf;
}

static int srv_order(const void *a, const void *b)
{
	const struct dns_srv *x = a, *y = b;
	if (x->priority != y->priority)
		return x->priority < y->priority ? -1 : 1;
	if (x->weight != y->weight)
		return x->weight > y->weight ? -1 : 1;
	int c = strcasecmp(x->target, y->target);
	return c ? c : x->port - y->port;
}

/* 1. srv: the records, sorted the way a peer tries them; 0 = FAIL. */
size_t check_srv(struct checker *k, struct dns_srv *out)
{
	char name[400], servers[MAX_DNS_SERVERS * 64];
	struct srv_answer a = { 0 };
	snprintf(name, sizeof name, "%s.%s", k->o.service, k->o.domain);
	dns_srv(k->dns, name, on_srv, &a);
	wait_dns(k, &a.done, &a.st);
	if (a.st == DNS_FAILED) {
		report_add(&k->rep, CK_SRV, CHECK_FAIL, NULL, DIAG_NO_SRV,
			   "%s: DNS lookup failed (timeout, SERVFAIL or REFUSED) asking %s",
			   name, dns_servers_desc(k, servers, sizeof servers));
		return 0;
	}
	if (a.st != DNS_OK || a.n == 0) {
		report_add(&k->rep, CK_SRV, CHECK_FAIL, NULL, DIAG_NO_SRV, "%s: %s",
			   name, srv_absent_why(k, name));
		return 0;
	}
	qsort(a.srv, a.n, sizeof a.srv[0], srv_order);
	for (size_t i = 0; i < a.n; i++) {
		char hp[300];
		size_t l = strlen(a.srv[i].target);
		if (l && a.srv[i].target[l - 1] == '.')
			a.srv[i].target[l - 1] = '\0';
		srv_hostport(&a.srv[i], hp, sizeof hp);
		report_add(&k->rep, CK_SRV, CHECK_PASS, hp, 0,
			   "%s -> %s (priority %d, weight %d)", name, hp,
			   a.srv[i].priority, a.srv[i].weight);
		out[i] = a.srv[i];
	}
	return a.n;
}

/* 2. srv-domain: the target is <label>.<domain>, as Access Edges demand. */
bool check_srv_domain(struct checker *k, const struct dns_srv *s,
		      const char *target)
{
	bool ok = policy_srv_target_counts(SRV_MATCH_EXACT, s->target, k->o.domain);
	if (ok)
		report_add(&k->rep, CK_SRV_DOMAIN, CHECK_PASS, target, 0,
			   "%s is <label>.%s", s->target, k->o.domain);
	else
		report_add(&k->rep, CK_SRV_DOMAIN, CHECK_FAIL, target,
			   DIAG_SRV_NOT_IN_DOMAIN, "%s is not <label>.%s",
			   s->target, k->o.domain);
	return ok;
}

const char *addr_str(const struct sockaddr_storage *sa, bool with_port,
		     char *buf, size_t len)
{
	char host[INET6_ADDRSTRLEN], port[8];
	socklen_t sl = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in);
	if (getnameinfo((const struct sockaddr *)sa, sl, host, sizeof host, port,
			sizeof port, NI_NUMERICHOST | NI_NUMERICSERV) != 0)
		snprintf(host, sizeof host, "?");
	if (!with_port)
		snprintf(buf, len, "%s", host);
	else if (sa->ss_family == AF_INET6)
		snprintf(buf, len, "[%s]:%s", host, port);
	else
		snprintf(buf, len, "%s:%s", host, port);
	return buf;
}

/* 3. address: A/AAAA of the target. */
size_t check_address(struct checker *k, const struct dns_srv *s,
		     const char *target, struct sockaddr_storage *out)
{
	struct addr_answer a = { 0 };
	dns_resolve(k->dns, s->target, s->port, on_addr, &a);
	wait_dns(k, &a.done, &a.st);
	if (a.st != DNS_OK || a.n == 0) {
		report_add(&k->rep, CK_ADDRESS, CHECK_FAIL, target, DIAG_CONNECT,
			   "%s: %s", s->target, a.st == DNS_FAILED
			   ? "address lookup failed (timeout, SERVFAIL or REFUSED)"
			   : "no A or AAAA record");
		return 0;
	}
	char list[DNS_MAX_ADDRS * (INET6_ADDRSTRLEN + 2)] = "", one[INET6_ADDRSTRLEN];
	for (size_t i = 0; i < a.n; i++) {
		out[i] = a.addr[i];
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 i ? ", " : "", addr_str(&a.addr[i], false, one, sizeof one));
	}
	report_add(&k->rep, CK_ADDRESS, CHECK_PASS, target, 0, "%s -> %s",
		   s->target, list);
	return a.n;
}

/* ------------------------------------------------------------ TCP */

long ms_since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

void set_io_timeout(int fd, int ms)
{
	struct timeval tv = { ms / 1000, ms % 1000 * 1000 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* A connected blocking socket with I/O timeouts, or -1 with err set. */
int connect_to(const struct sockaddr_storage *sa, int timeout_ms,
	       char *err, size_t elen)
{
	socklen_t sl = sa->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
						 : sizeof(struct sockaddr_in);
	int fd = socket(sa->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, elen, "%s", strerror(errno));
		return -1;
	}
	int e = 0;
	if (connect(fd, (const struct sockaddr *)sa, sl) != 0) {
		e = errno;
		if (e == EINPROGRESS) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			int n = poll(&p, 1, timeout_ms);
			socklen_t el = sizeof e;
			if (n == 0)
				e = ETIMEDOUT;
			else if (n < 0)
				e = errno;
			else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &el) != 0)
				e = errno;
		}
	}
	if (e) {
		if (e == ETIMEDOUT)
			snprintf(err, elen, "no answer within %.3g s (filtered by a firewall?)",
				 timeout_ms / 1000.0);
		else
			snprintf(err, elen, "%s", strerror(e));
		close(fd);
		return -1;
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	set_io_timeout(fd, timeout_ms);
	return fd;
}

/* 4. connect: the addresses in order, as a peer tries them. */
int check_connect(struct checker *k, const char *target,
		  const struct sockaddr_storage *addr, size_t n)
{
	char failed[2048] = "", err[200], as[INET6_ADDRSTRLEN + 16];
	for (size_t i = 0; i < n; i++) {
		struct timespec t0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		int fd = connect_to(&addr[i], k->o.timeout_ms, err, sizeof err);
		addr_str(&addr[i], true, as, sizeof as);
		if (fd >= 0) {
			report_add(&k->rep, CK_CONNECT, CHECK_PASS, target, 0,
				   "%s: connected to %s in %ld ms", target, as, ms_since(&t0));
			return fd;
		}
		if (i + 1 < n)
			report_add(&k->rep, CK_CONNECT, CHECK_WARN, target, 0,
				   "%s: %s: %s (a peer may give up before trying the next address)",
				   target, as, err);
		snprintf(failed + strlen(failed), sizeof failed - strlen(failed),
			 "%s%s: %s", *failed ? "; " : "", as, err);
	}
	report_add(&k->rep, CK_CONNECT, CHECK_FAIL, target, DIAG_CONNECT,
		   "%s: cannot connect: %s", target, failed);
	return -1;
}

/* ------------------------------------------------------------ TLS */

static int on_cert_request(SSL *ssl, X509 **x509, EVP_PKEY **pkey)
{
	(void)x509; (void)pkey;
	struct tls_seen *seen = SSL_get_ex_data(ssl, seen_idx);
	seen->cert_requested = true;
	return 0;               /* send none */
}

void on_info(const SSL *ssl, int where, int ret)
{
	struct tls_seen *seen = SSL_get_ex_data(ssl, seen_idx);
	if ((where & SSL_CB_READ_ALERT) && (ret >> 8) == SSL3_AL_FATAL)
		seen->alert = ret;
}

/* OpenSSL 3.0 has no text for the TLS 1.3 alerts. */
const char *alert_name(int alert)
{
	switch (alert & 0xff) {
	case SSL_AD_CERTIFICATE_REQUIRED: return "certificate required";
	case SSL_AD_MISSING_EXTENSION:    return "missing extension";
	case SSL_AD_NO_APPLICATION_PROTOCOL: return "no application protocol";
	default: return SSL_alert_desc_string_long(alert);
	}
}

bool client_cert_refusal(int alert)
{
	int d = alert & 0xff;
	return d == SSL_AD_CERTIFICATE_REQUIRED || d == SSL_AD_HANDSHAKE_FAILURE ||
	       d == SSL_AD_BAD_CERTIFICATE;
}

/* TLS 1.3 clients finish first; a server that wants a certificate says
 * so with an alert right after. Wait a moment for it. */
static void await_refusal(SSL *ssl, int fd, int timeout_ms)
{
	char b;
	set_io_timeout(fd, timeout_ms < MUTUAL_TLS_WAIT_MS ? timeout_ms : MUTUAL_TLS_WAIT_MS);
	SSL_peek(ssl, &b, 1);
	set_io_timeout(fd, timeout_ms);
}

/* Why the handshake failed; sys is errno right after SSL_connect. */
void tls_failure(char *buf, size_t len, SSL *ssl, int rc, int sys,
		 const struct tls_seen *seen, int timeout_ms)
{
	int e = SSL_get_error(ssl, rc);
	unsigned long err = ERR_peek_last_error();
	if (seen->alert >= 0) {
		snprintf(buf, len, "the server sent the alert \"%s\"",
			 alert_name(seen->alert));
	} else if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ||
		   (e == SSL_ERROR_SYSCALL && (sys == EAGAIN || sys == EWOULDBLOCK))) {
		snprintf(buf, len, "no TLS answer within %.3g s (is this port plain TCP?)",
			 timeout_ms / 1000.0);
	} else if (err && ERR_GET_LIB(err) == ERR_LIB_SSL &&
		   (ERR_GET_REASON(err) == SSL_R_WRONG_VERSION_NUMBER ||
		    ERR_GET_REASON(err) == SSL_R_PACKET_LENGTH_TOO_LONG ||
		    ERR_GET_REASON(err) == SSL_R_UNKNOWN_PROTOCOL)) {
		snprintf(buf, len, "the server does not speak TLS on this port (%s)",
			 ERR_reason_error_string(err));
	} else if (err) {
		const char *r = ERR_reason_error_string(err);
		snprintf(buf, len, "%s", r ? r : "TLS error");
	} else if (e == SSL_ERROR_SYSCALL && sys) {
		snprintf(buf, len, "%s", strerror(sys));
	} else {
		snprintf(buf, len, "the server closed the connection during the "
			 "handshake (is this port TLS?)");
	}
}

/* 5. tls: handshake with SNI = host, no client certificate. Returns the
 * SSL when a server certificate arrived (even if the server then refused
 * us for want of a client certificate), else NULL. */
SSL *check_tls(struct checker *k, const char *target, const char *host, int fd)
{
	struct tls_seen seen = { .alert = -1 };
	SSL *ssl = SSL_new(k->ssl);
	if (!ssl || !SSL_set_ex_data(ssl, seen_idx, &seen) ||
	    !SSL_set_tlsext_host_name(ssl, host) || !SSL_set_fd(ssl, fd)) {
		report_add(&k->rep, CK_TLS, CHECK_FAIL, target, DIAG_TLS,
			   "%s: cannot set up TLS (out of memory)", target);
		SSL_free(ssl);
		return NULL;
	}
	ERR_clear_error();
	errno = 0;
	int rc = SSL_connect(ssl), sys = errno;
	if (rc == 1 && seen.cert_requested)
		await_refusal(ssl, fd, k->o.timeout_ms);
	const char *ver = SSL_get_version(ssl);
	if (seen.cert_requested && seen.alert >= 0 && client_cert_refusal(seen.alert)) {
		report_add(&k->rep, CK_TLS, CHECK_WARN, target, 0,
			   "%s: server requires a client certificate (mutual TLS) \u2014 "
			   "expected for federation; this check presents none (%s, alert \"%s\")",
			   target, ver, alert_name(seen.alert));
	} else if (rc == 1 && seen.alert < 0) {
		report_add(&k->rep, CK_TLS, CHECK_PASS, target, 0,
			   "%s: %s %s, SNI %s, client certificate %s", target, ver,
			   SSL_get_cipher_name(ssl), host,
			   seen.cert_requested ? "requested but optional" : "not requested");
	} else {
		char why[400];
		tls_failure(why, sizeof why, ssl, rc, sys, &seen, k->o.timeout_ms);
		report_add(&k->rep, CK_TLS, CHECK_FAIL, target, DIAG_TLS,
			   "%s: TLS handshake failed: %s", target, why);
	}
	ERR_clear_error();
	if (!SSL_get0_peer_certificate(ssl)) {
		SSL_free(ssl);
		return NULL;
	}
	return ssl;
}

/* 6-10 on the certificate the server sent. */
bool check_certificate(struct checker *k, const char *target,
		       const char *host, SSL *ssl)
{
	X509 *leaf = SSL_get0_peer_certificate(ssl);
	STACK_OF(X509) *presented = SSL_get_peer_cert_chain(ssl);
	STACK_OF(X509) *chain = NULL;
	bool ok = check_chain(&k->rep, target, SSL_CTX_get_cert_store(k->ssl),
			      k->trust, leaf, presented, &chain);
	ok &= check_name(&k->rep, target, host, leaf);
	check_validity(&k->rep, target, leaf, chain, time(NULL));
	check_eku(&k->rep, target, leaf);
	check_key(&k->rep, target, leaf, presented);
	sk_X509_pop_free(chain, X509_free);
	return ok;
}

/* 3-10 for one SRV target that passed srv-domain; with --cert, the
 * partner checks on the first target whose certificate we trust.
 * Returns true once the partner checks ran. */
static bool check_target(struct checker *k, const struct dns_srv *s,
			 const char *target, bool partner_done)
{
	struct sockaddr_storage addr[DNS_MAX_ADDRS];
	size_t n = check_address(k, s, target, addr);
	if (n == 0)
		return false;
	int fd = check_connect(k, target, addr, n);
	if (fd < 0)
		return false;
	/* now: a server that refuses us below may reset the connection */
	struct sockaddr_storage peer;
	socklen_t pl = sizeof peer;
	bool have_peer = getpeername(fd, (struct sockaddr *)&peer, &pl) == 0;
	bool trusted = false;
	SSL *ssl = check_tls(k, target, s->target, fd);
	if (ssl) {
		trusted = check_certificate(k, target, s->target, ssl);
		SSL_free(ssl);  /* no close_notify: the server may have refused us */
	}
	close(fd);
	if (!k->o.cert || partner_done || !ssl || !have_peer)
		return false;
	if (!trusted) {
		report_add(&k->rep, CK_MTLS, CHECK_FAIL, target, 0,
			   "%s: OPTIONS not sent: this target's certificate is not "
			   "trusted (see above); an edge would not talk to it either",
			   target);
		return false;
	}
	/* the address that answered the connect check */
	check_partner(k, target, s->target, &peer);
	return true;
}

/* ------------------------------------------------------------ setup */

SSL_CTX *make_ssl_ctx(const struct opts *o, char *trust, size_t tlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx)
		return NULL;
	/* Judge weak certificates in "key", do not refuse them here. */
	SSL_CTX_set_security_level(ctx, 0);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_client_cert_cb(ctx, on_cert_request);
	SSL_CTX_set_info_callback(ctx, on_info);
	struct stat st;
	int ok;
	if (!o->ca) {
		ok = SSL_CTX_set_default_verify_paths(ctx);
		snprintf(trust, tlen, "the system CA store");
	} else if (stat(o->ca, &st) == 0 && S_ISDIR(st.st_mode)) {
		ok = SSL_CTX_load_verify_locations(ctx, NULL, o->ca);
		snprintf(trust, tlen, "%s", o->ca);
	} else {
		ok = SSL_CTX_load_verify_locations(ctx, o->ca, NULL);
		snprintf(trust, tlen, "%s", o->ca);
	}
	if (ok != 1) {
		unsigned long e = ERR_peek_last_error();
		fprintf(stderr, "sipedge-check: cannot load CA certificates from %s: %s\n",
			o->ca ? o->ca : "the system store",
			e ? ERR_reason_error_string(e) : strerror(errno));
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

struct dns *make_dns(struct event_base *base, const struct opts *o)
{
	struct dns_options d;
	opts_dns(o, &d);
	return dns_new(base, &d);
}

/* DOMAIN: every check in order; the exit status. */
static int check_domain(struct checker *k)
{
	struct dns_srv srv[DNS_MAX_SRV];
	size_t n = check_srv(k, srv);
	bool good[DNS_MAX_SRV];
	char target[DNS_MAX_SRV][300];
	for (size_t i = 0; i < n; i++) {
		srv_hostport(&srv[i], target[i], sizeof target[i]);
		good[i] = check_srv_domain(k, &srv[i], target[i]);
	}
	bool partner_done = false;
	for (size_t i = 0; i < n; i++)
		if (good[i])
			partner_done |= check_target(k, &srv[i], target[i], partner_done);
	if (k->o.cert && !partner_done && !k->rep.nfail)
		report_add(&k->rep, CK_MTLS, CHECK_FAIL, NULL, 0,
			   "%s: no SRV target to send OPTIONS to", k->o.domain);
	return k->rep.nfail ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct checker k;
	memset(&k, 0, sizeof k);
	int rc = opts_parse(argc, argv, &k.o);
	if (rc)
		return rc;
	log_set_level(LOG_CRIT);        /* the modules' logs are not our output */
	signal(SIGPIPE, SIG_IGN);       /* a server closing on us is a result */
	seen_idx = SSL_get_ex_new_index(0, NULL, NULL, NULL, NULL);
	k.ssl = make_ssl_ctx(&k.o, k.trust, sizeof k.trust);
	if (!k.ssl)
		return 2;
	k.base = event_base_new();
	k.dns = k.base ? make_dns(k.base, &k.o) : NULL;
	if (!k.dns) {
		fprintf(stderr, "sipedge-check: cannot start the DNS resolver\n");
		SSL_CTX_free(k.ssl);
		if (k.base)
			event_base_free(k.base);
		return 2;
	}
	k.rep.live = k.o.json ? NULL : stdout;
	if (k.o.cert && (rc = partner_setup(&k)) != 0) {
		dns_free(k.dns);
		event_base_free(k.base);
		SSL_CTX_free(k.ssl);
		return rc;
	}
	rc = k.o.self ? check_self(&k) : check_domain(&k);
	if (k.o.json)
		report_json(&k.rep, k.o.domain, stdout);
	report_free(&k.rep);
	partner_free(&k);
	dns_free(k.dns);
	event_base_free(k.base);
	SSL_CTX_free(k.ssl);
	if (fflush(stdout) != 0)
		rc = 2;
	return rc;
}
