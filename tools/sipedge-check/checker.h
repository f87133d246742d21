/* checker.h - what check.c, partner.c and self.c of sipedge-check(1)
 * share: the run's state, and the DNS, TCP and TLS steps each of them
 * takes (all in check.c). */
#ifndef SIPEDGE_CHECKER_H
#define SIPEDGE_CHECKER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <sys/socket.h>
#include <openssl/ssl.h>
#include <event2/event.h>

#include "checks.h"
#include "opts.h"
#include "net/dns.h"

#define MUTUAL_TLS_WAIT_MS 2000 /* TLS 1.3: how long a refusal may take */

struct checker {
	struct opts o;
	struct report rep;
	struct event_base *base;
	struct dns *dns;
	SSL_CTX *ssl;
	char trust[300];        /* "the system CA store" or "FILE" */
	/* --cert/--key (partner.c) */
	SSL_CTX *mtls;          /* our certificate, the peer verified */
	char from[300];         /* sip:USER@OURDOMAIN */
	char our_subject[300];
};

/* What the TLS callbacks saw during one handshake. */
struct tls_seen {
	bool cert_requested;
	int alert;              /* fatal alert received (SSL info value), -1 none */
};

extern int seen_idx;            /* SSL ex_data index of struct tls_seen */

/* DNS (check.c) */
void wait_dns(struct checker *k, bool *done, enum dns_status *st);
size_t check_srv(struct checker *k, struct dns_srv *out);
bool check_srv_domain(struct checker *k, const struct dns_srv *s,
		      const char *target);
size_t check_address(struct checker *k, const struct dns_srv *s,
		     const char *target, struct sockaddr_storage *out);
const char *srv_hostport(const struct dns_srv *s, char *buf, size_t len);
const char *addr_str(const struct sockaddr_storage *sa, bool with_port,
		     char *buf, size_t len);

/* TCP and TLS (check.c) */
long ms_since(const struct timespec *t0);
void set_io_timeout(int fd, int ms);
int connect_to(const struct sockaddr_storage *sa, int timeout_ms,
	       char *err, size_t elen);
int check_connect(struct checker *k, const char *target,
		  const struct sockaddr_storage *addr, size_t n);
void on_info(const SSL *ssl, int where, int ret);
const char *alert_name(int alert);
bool client_cert_refusal(int alert);
void tls_failure(char *buf, size_t len, SSL *ssl, int rc, int sys,
		 const struct tls_seen *seen, int timeout_ms);
SSL *check_tls(struct checker *k, const char *target, const char *host, int fd);
/* chain, name, validity, eku, key; true when chain and name passed. */
bool check_certificate(struct checker *k, const char *target,
		       const char *host, SSL *ssl);
SSL_CTX *make_ssl_ctx(const struct opts *o, char *trust, size_t tlen);
struct dns *make_dns(struct event_base *base, const struct opts *o);

/* partner.c: with --cert/--key, our certificate and an OPTIONS (and a
 * MESSAGE with --to) to one target that passed the checks above. */
int partner_setup(struct checker *k);    /* 0, or 2 (said on stderr) */
void partner_free(struct checker *k);
void check_partner(struct checker *k, const char *target, const char *host,
		   const struct sockaddr_storage *addr);

/* self.c: --self CONF; the exit status. */
int check_self(struct checker *k);

#endif
