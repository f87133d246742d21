/* checks.h - the report of sipedge-check(1) and its certificate checks.
 *
 * A report is a list of results, one per line of output:
 *   STATUS  CHECK          MESSAGE [CODE REASON]
 * with STATUS PASS/WARN/FAIL, CHECK one of the fixed ids below and the
 * bracket only on FAILs a federated peer would report with an
 * ms-diagnostics code. The certificate checks are pure functions over
 * X509 objects (no sockets), so unit tests can feed them any certificate.
 */
#ifndef SIPEDGE_CHECKS_H
#define SIPEDGE_CHECKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>
#include <openssl/x509.h>

enum check_status { CHECK_PASS = 0, CHECK_WARN, CHECK_FAIL };

/* Check ids, in the order the checks run (sipedge-check(1)). */
#define CK_SRV          "srv"
#define CK_SRV_DOMAIN   "srv-domain"
#define CK_ADDRESS      "address"
#define CK_CONNECT      "connect"
#define CK_TLS          "tls"
#define CK_CHAIN        "chain"
#define CK_NAME         "name"
#define CK_VALIDITY     "validity"
#define CK_EKU          "eku"
#define CK_KEY          "key"
/* --cert/--key: the partner's answer to us */
#define CK_MTLS         "mtls"
#define CK_OPTIONS      "options"
#define CK_MESSAGE      "message"
/* --self: our own edge */
#define CK_CONF         "conf"
#define CK_SRV_EDGE     "srv-edge"

#define CHECK_WARN_DAYS 30      /* validity WARN below this many days */
#define SELF_WARN_DAYS 21       /* --self: our own certificate */

struct check_result {
	const char *check;      /* one of CK_* */
	enum check_status status;
	char *target;           /* "host:port", or NULL for the domain */
	char *message;
	int code;               /* ms-diagnostics code, 0 = none */
};

struct report {
	struct check_result *r;
	size_t n, cap;
	FILE *live;             /* text lines are written here as they come; NULL = keep */
	unsigned nfail, nwarn;
};

/* Add one result (message printf-style) and, with r->live, print its line. */
void report_add(struct report *r, const char *check, enum check_status st,
		const char *target, int code, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));
void report_free(struct report *r);
/* The one text line of a result, without newline, into buf. */
const char *report_line(const struct check_result *c, char *buf, size_t len);
void report_json(const struct report *r, const char *domain, FILE *out);
/* s as a JSON string literal (with quotes); NULL as null. */
void json_string(FILE *out, const char *s);

const char *check_status_name(enum check_status st);

/* ----------------------------------------------- certificate checks
 * target is "host:port" (the report's target), host the name the
 * certificate must prove. Each adds one or more results to r and returns
 * false when it added a FAIL. now is the time to judge dates by. */

/* Does the presented chain lead to a trusted root of store? Dates are
 * not judged here (check_validity does), nor key usage (check_eku).
 * trust names the store in messages ("the system CA store", a file).
 * *chain_out (if chain_out) gets the chain built, leaf first, as far as
 * it got; free with sk_X509_pop_free(chain, X509_free). */
bool check_chain(struct report *r, const char *target, X509_STORE *store,
		 const char *trust, X509 *leaf, STACK_OF(X509) *presented,
		 STACK_OF(X509) **chain_out);
/* RFC 5922: a subjectAltName (or, without any, the CN) names host;
 * wildcards do not count. */
bool check_name(struct report *r, const char *target, const char *host,
		X509 *leaf);
/* notBefore <= now < notAfter for the leaf and every other certificate
 * of chain (may be NULL); WARN when the leaf has < CHECK_WARN_DAYS left. */
bool check_validity(struct report *r, const char *target, X509 *leaf,
		    STACK_OF(X509) *chain, time_t now);
/* The same with another WARN threshold. */
bool check_validity_days(struct report *r, const char *target, X509 *leaf,
			 STACK_OF(X509) *chain, time_t now, int warn_days);
/* extendedKeyUsage has both serverAuth and clientAuth. */
bool check_eku(struct report *r, const char *target, X509 *leaf);
/* RSA >= 2048 bits, EC >= 256 bits, no MD5/SHA-1 signature on the leaf or
 * on any certificate of presented that is not self-signed. */
bool check_key(struct report *r, const char *target, X509 *leaf,
	       STACK_OF(X509) *presented);

/* ----------------------------------------------- partner answers */

/* Text from the partner made safe for a terminal: printable ASCII passes,
 * a backslash and every other byte become \\ and \xNN; at most n bytes of
 * s are read (s may lack a NUL within them) and the result is cut with
 * "..." to fit len. Returns buf. */
const char *escape_text(const char *s, size_t n, char *buf, size_t len);

/* What a ms-diagnostics code in a partner's answer to us means for our
 * side (the reason text itself is core/diag.c's); NULL if unknown. */
const char *diag_meaning(int code);

/* How a final response status to a probe is judged: 2xx PASS; 405/501
 * PASS (reachable, accepted us, does not do the method); else FAIL. */
enum check_status answer_status(int status);

/* Our SIP domain as the certificate shows it: the first DNS name of the
 * subjectAltName (else the CN) without its first label when it has three
 * or more ("sip.example.com" -> "example.com"). False if it names none. */
bool cert_domain(X509 *x, char *buf, size_t len);

/* "CN=..., O=..." of a certificate's subject into buf. */
const char *cert_subject(X509 *x, char *buf, size_t len);

#endif
