/* checks.c - the report of sipedge-check(1) and its certificate checks.
 *
 * Every FAIL about the certificate carries 1010: whatever the exact flaw
 * (untrusted, wrong name, dates, key usage, weak key), the peer that
 * verifies it gives up with "Certificate trust with another server could
 * not be established".
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

#include "core/certname.h"
#include "checks.h"
#include "core/diag.h"

/* ------------------------------------------------------------ report */

const char *check_status_name(enum check_status st)
{
	switch (st) {
	case CHECK_PASS: return "PASS";
	case CHECK_WARN: return "WARN";
	case CHECK_FAIL: return "FAIL";
	}
	return "FAIL";
}

static char *xstrdup(const char *s)
{
	char *d = strdup(s);
	if (!d) {
		perror("sipedge-check");
		exit(2);
	}
	return d;
}

void report_add(struct report *r, const char *check, enum check_status st,
		const char *target, int code, const char *fmt, ...)
{
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 32;
		struct check_result *p = realloc(r->r, cap * sizeof *p);
		if (!p) {
			perror("sipedge-check");
			exit(2);
		}
		r->r = p;
		r->cap = cap;
	}
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	struct check_result *c = &r->r[r->n++];
	c->check = check;
	c->status = st;
	c->target = target ? xstrdup(target) : NULL;
	c->message = xstrdup(msg);
	c->code = st == CHECK_FAIL ? code : 0;
	if (st == CHECK_FAIL)
		r->nfail++;
	else if (st == CHECK_WARN)
		r->nwarn++;
	if (r->live) {
		char line[2400];
		fprintf(r->live, "%s\n", report_line(c, line, sizeof line));
		fflush(r->live);
	}
}

void report_free(struct report *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->r[i].target);
		free(r->r[i].message);
	}
	free(r->r);
	r->r = NULL;
	r->n = r->cap = 0;
}

const char *report_line(const struct check_result *c, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%-4s  %-14s %s", check_status_name(c->status),
			 c->check, c->message);
	if (c->code && n >= 0 && (size_t)n < len)
		snprintf(buf + n, len - (size_t)n, " [%d %s]", c->code,
			 diag_reason((enum diag_code)c->code));
	return buf;
}

void json_string(FILE *out, const char *s)
{
	if (!s) {
		fputs("null", out);
		return;
	}
	putc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':  fputs("\\\"", out); break;
		case '\\': fputs("\\\\", out); break;
		case '\n': fputs("\\n", out); break;
		case '\r': fputs("\\r", out); break;
		case '\t': fputs("\\t", out); break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				fprintf(out, "\\u%04x", *p);
			else
				putc(*p, out);  /* UTF-8 passes through */
		}
	}
	putc('"', out);
}

void report_json(const struct report *r, const char *domain, FILE *out)
{
	fputs("{\n  \"domain\": ", out);
	json_string(out, domain);
	fprintf(out, ",\n  \"status\": \"%s\",\n  \"checks\": [",
		r->nfail ? "FAIL" : r->nwarn ? "WARN" : "PASS");
	for (size_t i = 0; i < r->n; i++) {
		const struct check_result *c = &r->r[i];
		fprintf(out, "%s\n    {\"check\": \"%s\", \"status\": \"%s\", \"target\": ",
			i ? "," : "", c->check, check_status_name(c->status));
		json_string(out, c->target);
		fputs(", \"message\": ", out);
		json_string(out, c->message);
		if (c->code) {
			fprintf(out, ", \"code\": %d, \"reason\": ", c->code);
			json_string(out, diag_reason((enum diag_code)c->code));
		} else {
			fputs(", \"code\": null, \"reason\": null", out);
		}
		putc('}', out);
	}
	fputs(r->n ? "\n  ]\n}\n" : "]\n}\n", out);
}

/* ------------------------------------------------------------ helpers */

const char *cert_subject(X509 *x, char *buf, size_t len)
{
	buf[0] = '\0';
	BIO *b = BIO_new(BIO_s_mem());
	if (!b)
		return buf;
	X509_NAME_print_ex(b, X509_get_subject_name(x), 0,
			   XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
	int n = BIO_read(b, buf, (int)len - 1);
	buf[n > 0 ? n : 0] = '\0';
	BIO_free(b);
	return buf;
}

static const char *fmt_time(const ASN1_TIME *t, char *buf, size_t len)
{
	struct tm tm;
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		snprintf(buf, len, "(unreadable date)");
	else
		strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

static const char *fmt_now(time_t now, char *buf, size_t len)
{
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%d %H:%M:%S UTC", &tm);
	return buf;
}

/* Whole days from now to t (negative: in the past). */
static int days_until(const ASN1_TIME *t, time_t now)
{
	int days = 0, secs = 0;
	ASN1_TIME *n = ASN1_TIME_set(NULL, now);
	if (!n || ASN1_TIME_diff(&days, &secs, n, t) != 1)
		days = 0;
	ASN1_TIME_free(n);
	return days;
}

static bool self_signed(X509 *x)
{
	return (X509_get_extension_flags(x) & EXFLAG_SS) != 0;
}

/* ------------------------------------------------------------ chain */

static const char *chain_hint(int err, int npresented)
{
	switch (err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		return npresented <= 1
			? "; the server sent only its own certificate: it must send "
			  "its intermediate CA certificates too, up to a root the peers trust"
			: "; the chain does not lead to a CA this machine trusts";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return "; a self-signed certificate: federation needs one issued "
		       "by a CA the peers trust (a public CA)";
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "; the chain ends in a root CA this machine does not trust";
	default:
		return "";
	}
}

bool check_chain(struct report *r, const char *target, X509_STORE *store,
		 const char *trust, X509 *leaf, STACK_OF(X509) *presented,
		 STACK_OF(X509) **chain_out)
{
	char subj[512], root[512];
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	if (chain_out)
		*chain_out = NULL;
	if (!ctx || X509_STORE_CTX_init(ctx, store, leaf, presented) != 1) {
		X509_STORE_CTX_free(ctx);
		report_add(r, CK_CHAIN, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: cannot verify the chain (out of memory)", target);
		return false;
	}
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx),
				    X509_V_FLAG_NO_CHECK_TIME);
	bool ok = X509_verify_cert(ctx) == 1;
	STACK_OF(X509) *chain = X509_STORE_CTX_get1_chain(ctx);
	if (ok) {
		X509 *top = chain && sk_X509_num(chain) > 0
			? sk_X509_value(chain, sk_X509_num(chain) - 1) : leaf;
		report_add(r, CK_CHAIN, CHECK_PASS, target, 0,
			   "%s: issued through %d certificate(s) up to \"%s\", trusted by %s",
			   target, chain ? sk_X509_num(chain) : 1,
			   cert_subject(top, root, sizeof root), trust);
	} else {
		int err = X509_STORE_CTX_get_error(ctx);
		int depth = X509_STORE_CTX_get_error_depth(ctx);
		X509 *bad = X509_STORE_CTX_get_current_cert(ctx);
		report_add(r, CK_CHAIN, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: not trusted by %s: %s (depth %d, \"%s\")%s",
			   target, trust, X509_verify_cert_error_string(err), depth,
			   cert_subject(bad ? bad : leaf, subj, sizeof subj),
			   chain_hint(err, presented ? sk_X509_num(presented) : 1));
	}
	X509_STORE_CTX_free(ctx);
	if (chain_out)
		*chain_out = chain;
	else
		sk_X509_pop_free(chain, X509_free);
	return ok;
}

/* ------------------------------------------------------------ name */

bool check_name(struct report *r, const char *target, const char *host,
		X509 *leaf)
{
	struct certnames cn;
	char names[2048];
	certnames_from_x509(leaf, &cn);
	certnames_join(&cn, names, sizeof names);
	bool ok = certnames_match(&cn, host, false);
	if (ok)
		report_add(r, CK_NAME, CHECK_PASS, target, 0,
			   "%s: certificate names %s (names: %s)", target, host, names);
	else if (cn.n == 0)
		report_add(r, CK_NAME, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: certificate does not name %s (it names nothing: no "
			   "subjectAltName DNS entry and no CN)", target, host);
	else
		report_add(r, CK_NAME, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: certificate does not name %s (it names: %s)%s",
			   target, host, names,
			   certnames_match(&cn, host, true)
			   ? "; only a wildcard matches, and federation peers do "
			     "not accept wildcards" : "");
	certnames_free(&cn);
	return ok;
}

/* ------------------------------------------------------------ validity */

/* One certificate's dates: adds a FAIL or WARN (never a PASS); returns
 * the status it added, CHECK_PASS when it added nothing. */
static enum check_status judge_dates(struct report *r, const char *target,
				     X509 *x, const char *what, time_t now,
				     int warn_days)
{
	char when[64], nowbuf[64];
	const ASN1_TIME *nb = X509_get0_notBefore(x), *na = X509_get0_notAfter(x);
	if (X509_cmp_time(nb, &now) > 0) {
		report_add(r, CK_VALIDITY, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: %s is not valid before %s; check this machine's clock: now is %s",
			   target, what, fmt_time(nb, when, sizeof when),
			   fmt_now(now, nowbuf, sizeof nowbuf));
		return CHECK_FAIL;
	}
	if (X509_cmp_time(na, &now) < 0) {
		report_add(r, CK_VALIDITY, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: %s expired on %s (%d days ago); check this machine's clock: now is %s",
			   target, what, fmt_time(na, when, sizeof when),
			   -days_until(na, now), fmt_now(now, nowbuf, sizeof nowbuf));
		return CHECK_FAIL;
	}
	int left = days_until(na, now);
	if (left < warn_days) {
		report_add(r, CK_VALIDITY, CHECK_WARN, target, 0,
			   "%s: %s expires on %s (%d days left): renew it",
			   target, what, fmt_time(na, when, sizeof when), left);
		return CHECK_WARN;
	}
	return CHECK_PASS;
}

bool check_validity(struct report *r, const char *target, X509 *leaf,
		    STACK_OF(X509) *chain, time_t now)
{
	return check_validity_days(r, target, leaf, chain, now, CHECK_WARN_DAYS);
}

bool check_validity_days(struct report *r, const char *target, X509 *leaf,
			 STACK_OF(X509) *chain, time_t now, int warn_days)
{
	bool fail = false, said = false;
	enum check_status st = judge_dates(r, target, leaf, "certificate", now, warn_days);
	fail |= st == CHECK_FAIL;
	said |= st != CHECK_PASS;
	for (int i = 0; chain && i < sk_X509_num(chain); i++) {
		X509 *x = sk_X509_value(chain, i);
		if (X509_cmp(x, leaf) == 0)
			continue;
		char subj[512], what[600];
		snprintf(what, sizeof what, "CA certificate \"%s\"",
			 cert_subject(x, subj, sizeof subj));
		st = judge_dates(r, target, x, what, now, warn_days);
		fail |= st == CHECK_FAIL;
		said |= st != CHECK_PASS;
	}
	if (!said) {
		char from[64], until[64];
		report_add(r, CK_VALIDITY, CHECK_PASS, target, 0,
			   "%s: valid from %s until %s (%d days left)", target,
			   fmt_time(X509_get0_notBefore(leaf), from, sizeof from),
			   fmt_time(X509_get0_notAfter(leaf), until, sizeof until),
			   days_until(X509_get0_notAfter(leaf), now));
	}
	return !fail;
}

/* ------------------------------------------------------------ eku */

/* The key purposes the extension lists, as "serverAuth, clientAuth". */
static const char *eku_list(X509 *x, char *buf, size_t len)
{
	size_t off = 0;
	buf[0] = '\0';
	EXTENDED_KEY_USAGE *eku = X509_get_ext_d2i(x, NID_ext_key_usage, NULL, NULL);
	for (int i = 0; eku && i < sk_ASN1_OBJECT_num(eku); i++) {
		char name[80];
		ASN1_OBJECT *o = sk_ASN1_OBJECT_value(eku, i);
		int nid = OBJ_obj2nid(o);
		if (nid != NID_undef)
			snprintf(name, sizeof name, "%s", OBJ_nid2sn(nid));
		else
			OBJ_obj2txt(name, sizeof name, o, 1);
		int n = snprintf(buf + off, len - off, "%s%s", off ? ", " : "", name);
		if (n < 0 || (size_t)n >= len - off)
			break;
		off += (size_t)n;
	}
	EXTENDED_KEY_USAGE_free(eku);
	if (!*buf)
		snprintf(buf, len, "none");
	return buf;
}

bool check_eku(struct report *r, const char *target, X509 *leaf)
{
	char has[512];
	if (!(X509_get_extension_flags(leaf) & EXFLAG_XKUSAGE)) {
		report_add(r, CK_EKU, CHECK_WARN, target, 0,
			   "%s: no extendedKeyUsage extension (any purpose); federation "
			   "certificates normally list serverAuth and clientAuth", target);
		return true;
	}
	uint32_t xku = X509_get_extended_key_usage(leaf);
	bool server = xku & XKU_SSL_SERVER, client = xku & XKU_SSL_CLIENT;
	eku_list(leaf, has, sizeof has);
	if (server && client) {
		report_add(r, CK_EKU, CHECK_PASS, target, 0,
			   "%s: extendedKeyUsage has serverAuth and clientAuth", target);
		return true;
	}
	report_add(r, CK_EKU, CHECK_FAIL, target, DIAG_CERT_NAME,
		   "%s: extendedKeyUsage lacks %s (has: %s); the edge uses the same "
		   "certificate as TLS server and as TLS client, so peers require both",
		   target, !server && !client ? "serverAuth and clientAuth"
			   : !server ? "serverAuth" : "clientAuth", has);
	return false;
}

/* ------------------------------------------------------------ key */

static const char *key_desc(EVP_PKEY *pk, char *buf, size_t len)
{
	char group[64] = "";
	int bits = EVP_PKEY_get_bits(pk);
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		snprintf(buf, len, "RSA %d-bit key", bits);
		break;
	case EVP_PKEY_EC:
		if (EVP_PKEY_get_utf8_string_param(pk, OSSL_PKEY_PARAM_GROUP_NAME,
						   group, sizeof group, NULL) != 1)
			snprintf(group, sizeof group, "unknown curve");
		snprintf(buf, len, "EC %d-bit key (%s)", bits, group);
		break;
	default:
		snprintf(buf, len, "%s %d-bit key", OBJ_nid2sn(EVP_PKEY_get_base_id(pk)), bits);
	}
	return buf;
}

/* NULL when the key is acceptable, else why not. */
static const char *key_flaw(EVP_PKEY *pk)
{
	int bits = EVP_PKEY_get_bits(pk);
	switch (EVP_PKEY_get_base_id(pk)) {
	case EVP_PKEY_RSA:
	case EVP_PKEY_RSA_PSS:
		return bits < 2048 ? "RSA keys need at least 2048 bits" : NULL;
	case EVP_PKEY_EC:
		return bits < 256 ? "EC keys need at least 256 bits (P-256)" : NULL;
	case EVP_PKEY_ED25519:
	case EVP_PKEY_ED448:
		return NULL;
	case EVP_PKEY_DSA:
		return "DSA keys are not accepted by TLS federation peers";
	default:
		return "unknown key type";
	}
}

static bool weak_digest(int md)
{
	return md == NID_md5 || md == NID_sha1 || md == NID_md4 || md == NID_md2 ||
	       md == NID_mdc2 || md == NID_md5_sha1;
}

/* FAIL for a certificate signed with MD5/SHA-1; true when fine. */
static bool check_sig(struct report *r, const char *target, X509 *x, bool is_leaf)
{
	int sig = X509_get_signature_nid(x), md = NID_undef, pk = NID_undef;
	if (!OBJ_find_sigid_algs(sig, &md, &pk) || !weak_digest(md))
		return true;
	char subj[512];
	report_add(r, CK_KEY, CHECK_FAIL, target, DIAG_CERT_NAME,
		   "%s: %s is signed with %s (%s): peers refuse MD5 and SHA-1 "
		   "signatures; have it reissued with SHA-256", target,
		   is_leaf ? "certificate" : "CA certificate",
		   OBJ_nid2ln(sig), is_leaf ? OBJ_nid2sn(md) : cert_subject(x, subj, sizeof subj));
	return false;
}

bool check_key(struct report *r, const char *target, X509 *leaf,
	       STACK_OF(X509) *presented)
{
	char desc[128];
	bool ok = true;
	EVP_PKEY *pk = X509_get0_pubkey(leaf);
	if (!pk) {
		report_add(r, CK_KEY, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: cannot read the certificate's public key", target);
		return false;
	}
	const char *flaw = key_flaw(pk);
	if (flaw) {
		report_add(r, CK_KEY, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: %s: %s", target, key_desc(pk, desc, sizeof desc), flaw);
		ok = false;
	}
	ok &= check_sig(r, target, leaf, true);
	for (int i = 0; presented && i < sk_X509_num(presented); i++) {
		X509 *x = sk_X509_value(presented, i);
		if (X509_cmp(x, leaf) != 0 && !self_signed(x))
			ok &= check_sig(r, target, x, false);
	}
	if (ok)
		report_add(r, CK_KEY, CHECK_PASS, target, 0, "%s: %s, signed with %s",
			   target, key_desc(pk, desc, sizeof desc),
			   OBJ_nid2ln(X509_get_signature_nid(leaf)));
	return ok;
}

/* ------------------------------------------------------------ partner */

const char *escape_text(const char *s, size_t n, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (len == 0)
		return buf;
	for (size_t i = 0; i < n && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		char e[5];
		size_t el;
		if (c == '\\') {
			e[0] = e[1] = '\\';
			el = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			e[0] = (char)c;
			el = 1;
		} else {
			e[0] = '\\'; e[1] = 'x'; e[2] = hex[c >> 4]; e[3] = hex[c & 15];
			el = 4;
		}
		if (o + el + 1 > len) {         /* no room: end with "..." */
			while (o > 0 && o + 4 > len)
				o--;
			if (o + 4 <= len) {
				memcpy(buf + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(buf + o, e, el);
		o += el;
	}
	buf[o] = '\0';
	return buf;
}

const char *diag_meaning(int code)
{
	switch (code) {
	case DIAG_NO_SRV:
		return "the partner could not find our _sipfederationtls._tcp SRV "
		       "record (check it with sipedge-check --self)";
	case DIAG_SRV_NOT_IN_DOMAIN:
		return "the partner found our SRV record, but its target is not "
		       "<label>.<our domain> or is not the name our certificate proves";
	case DIAG_CERT_NAME:
		return "the partner does not accept our certificate for our domain "
		       "(untrusted CA, or it does not name our SRV target)";
	case DIAG_NOT_LOCAL:
		return "the partner does not serve the To domain, or does not route "
		       "between our From domain and it";
	case DIAG_NOT_FEDERATED:
		return "the partner does not federate with our domain (not in its "
		       "allowed list, or blocked): ask its administrator to add us";
	case DIAG_CONNECT:
		return "the partner's edge could not connect to the next hop "
		       "(its internal server, or back to us)";
	case DIAG_TLS:
		return "the partner's edge could not complete TLS with the next hop "
		       "(its internal server, or back to us)";
	}
	return NULL;
}

enum check_status answer_status(int status)
{
	if (status >= 200 && status < 300)
		return CHECK_PASS;
	if (status == 405 || status == 501)
		return CHECK_PASS;
	return CHECK_FAIL;
}

bool cert_domain(X509 *x, char *buf, size_t len)
{
	struct certnames cn;
	certnames_from_x509(x, &cn);
	const char *name = NULL;
	for (size_t i = 0; i < cn.n && !name; i++)
		if (cn.name[i][0] && cn.name[i][0] != '*')
			name = cn.name[i];
	bool ok = false;
	if (name) {
		const char *dot1 = strchr(name, '.');
		const char *dot2 = dot1 ? strchr(dot1 + 1, '.') : NULL;
		const char *d = dot2 ? dot1 + 1 : name;
		ok = strlen(d) < len;
		if (ok)
			snprintf(buf, len, "%s", d);
	}
	certnames_free(&cn);
	return ok;
}
