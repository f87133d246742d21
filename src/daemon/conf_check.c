/* conf_check.c - what the schema walk (conf.c) asks about edge.conf
 * beyond a key's type: the loader's error list, the value kinds, rules
 * across keys and list entries, and the files the configuration names
 * (certificates, keys, CA and CRL files, the secret, @includes), opened
 * the way the daemon will open them. Knows nothing of the schema tables;
 * conf.c calls in, never the other way round.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "daemon/conf_check.h"
#include "daemon/secret.h"
#include "util/netaddr.h"

/* --------------------------------------------------------- the errors */

void conf_add_error(struct ld *ld, char *msg)
{
	char **m = realloc(ld->msg, (ld->n + 1) * sizeof *m);

	if (!m)
		abort();
	m[ld->n++] = msg;
	ld->msg = m;
}

/* The schema is walked group by group, not line by line, so errors are
 * sorted afterwards: by line, the main file before any @include'd one. */
void conf_sort_errors(struct ld *ld)
{
	char **m = ld->msg;

	for (size_t i = 1; i < ld->n; i++) {
		unsigned long k = ld->order[i];
		char *v = m[i];
		size_t j = i;

		for (; j > 0 && ld->order[j - 1] > k; j--) {
			ld->order[j] = ld->order[j - 1];
			m[j] = m[j - 1];
		}
		ld->order[j] = k;
		m[j] = v;
	}
}

/* libconfig names an @include'd file as written, relative to the include
 * directory (ours: the directory of the main file). */
void conf_add_error_at(struct ld *ld, const char *file, unsigned line,
			 const char *msg)
{
	if (file && strcmp(file, ld->file) != 0 && file[0] != '/')
		conf_add_error(ld, xasprintf("%s/%s:%u: %s", ld->dir, file,
					     line, msg));
	else
		conf_add_error(ld, xasprintf("%s:%u: %s",
					     file ? file : ld->file, line,
					     msg));
}

/* s may be the root setting (line 0: the file as a whole). */
void conf_err(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = s ? config_setting_source_file(s) : NULL;
	unsigned line = s ? config_setting_source_line(s) : 0;
	bool included = file && strcmp(file, ld->file) != 0;
	va_list ap;
	char *msg;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	conf_add_error_at(ld, file, line, msg);
	free(msg);
	ld->order = realloc(ld->order, ld->n * sizeof *ld->order);
	if (!ld->order)
		abort();
	ld->order[ld->n - 1] = (included ? 1UL << 31 : 0) + line;
}

/* The setting at a dotted path, or its nearest existing ancestor: a value
 * that came from a default is reported at the group that would hold it. */
config_setting_t *conf_nearest(config_t *cfg, const char *path)
{
	char buf[256];
	config_setting_t *s;
	char *dot;

	snprintf(buf, sizeof buf, "%s", path);
	while (!(s = config_lookup(cfg, buf))) {
		if (!(dot = strrchr(buf, '.')))
			return config_root_setting(cfg);
		*dot = '\0';
	}
	return s;
}

/* ------------------------------------------------------- value checks */

static bool is_ip(const char *s)
{
	unsigned char buf[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, s, buf) == 1 ||
	       inet_pton(AF_INET6, s, buf) == 1;
}

/* Letters, digits, '-' and '_' in dot-separated labels of 1..63 bytes; a
 * single trailing dot (absolute name) is accepted. */
static bool is_hostname(const char *s)
{
	size_t len = strlen(s), label = 0;

	if (len == 0 || len > 254 || (len == 254 && s[253] != '.'))
		return false;
	for (const char *p = s; *p; p++) {
		if (*p == '.') {
			if (label == 0)
				return false;
			label = 0;
		} else if (ascii_alnum(*p) || *p == '-' || *p == '_') {
			if (++label > 63)
				return false;
		} else {
			return false;
		}
	}
	return true;
}

/* ^\.[a-z0-9-]+(\.[a-z0-9-]+)*(\.\*)?$, case-insensitive, written out
 * because regcomp's REG_ICASE follows the locale. */
static bool is_route_pattern(const char *s)
{
	size_t label = 0;

	if (*s != '.')
		return false;
	for (s++; *s; s++) {
		if (*s == '.') {
			if (label == 0)
				return false;
			if (s[1] == '*' && s[2] == '\0')
				return true;
			label = 0;
		} else if (ascii_alnum(*s) || *s == '-') {
			label++;
		} else {
			return false;
		}
	}
	return label > 0;
}

static bool parse_port(const char *s, int *port)
{
	char *end;
	long v;

	if (*s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < 1 || v > 65535)
		return false;
	*port = (int)v;
	return true;
}

/* "ip", "ip:port", "v6", "[v6]" or "[v6]:port", normalised to the
 * "host:port" form c-ares expects, so that consumers need not guess. */
static char *dns_server(const char *s)
{
	char host[INET6_ADDRSTRLEN + 1];
	unsigned char buf[sizeof(struct in6_addr)];
	const char *colon = strchr(s, ':'), *end, *hend;
	int port = 53;
	bool v6;

	if (*s == '[') {
		if (!(end = strchr(s, ']')) ||
		    (end[1] && (end[1] != ':' || !parse_port(end + 2, &port))))
			return NULL;
		s++;
		hend = end;
		v6 = true;
	} else if (colon && colon == strrchr(s, ':')) {
		if (!parse_port(colon + 1, &port))
			return NULL;
		hend = colon;
		v6 = false;
	} else {
		hend = s + strlen(s);
		v6 = colon != NULL;
	}
	if ((size_t)(hend - s) >= sizeof host)
		return NULL;
	memcpy(host, s, (size_t)(hend - s));
	host[hend - s] = '\0';
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, buf) != 1)
		return NULL;
	return v6 ? xasprintf("[%s]:%d", host, port) :
		    xasprintf("%s:%d", host, port);
}

const char *conf_kind_noun(enum kind k)
{
	switch (k) {
	case K_STR:     return "a string";
	case K_DOMAIN:  return "a domain name such as example.com";
	case K_HOST:    return "a host name or IP address";
	case K_IP:      return "a numeric IPv4 or IPv6 address (such as "
			       "10.1.1.1 or ::1)";
	case K_PATH:    return "a file name";
	case K_DNS:     return "a DNS server address such as \"192.0.2.53\", "
			       "\"192.0.2.53:5353\" or \"[2001:db8::53]:53\"";
	case K_PATTERN: return "a reversed domain with a leading dot and an "
			       "optional trailing \".*\", such as "
			       "\".com.example.*\" or \".com.example\"";
	case K_NET:     return "an IP network such as \"192.0.2.0/24\", "
			       "\"2001:db8::/32\" or a single address";
	case K_TOKEN:   return "a SIP option tag such as \"ms-benotify\"";
	case K_BOOL:    return "true or false";
	case K_STRLIST: return "a list of strings, such as [ \"a\", \"b\" ]";
	case K_GROUP:   return "a group { ... }";
	case K_LIST:    return "a list ( { ... }, ... )";
	default:        return "";
	}
}

static char *abs_path(struct ld *ld, const char *p)
{
	size_t n = strlen(ld->dir);

	if (p[0] == '/')
		return xstrdup(p);
	return xasprintf("%s%s%s", ld->dir, ld->dir[n - 1] == '/' ? "" : "/",
			 p);
}

char *conf_kind_value(struct ld *ld, enum kind k, const char *v,
		      const struct choice *choices)
{
	switch (k) {
	case K_DOMAIN:
		return is_hostname(v) ? xstrdup(v) : NULL;
	case K_HOST:
		return is_hostname(v) || is_ip(v) ? xstrdup(v) : NULL;
	case K_IP:
		return is_ip(v) ? xstrdup(v) : NULL;
	case K_PATH:
		return abs_path(ld, v);
	case K_DNS:
		return dns_server(v);
	case K_PATTERN:
		return is_route_pattern(v) ? xstrdup(v) : NULL;
	case K_NET: {
		struct net n;
		return net_parse(v, &n) ? xstrdup(v) : NULL;
	}
	case K_TOKEN:
		return strspn(v, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
			      "0123456789-.!%*_+`'~") == strlen(v) ? xstrdup(v) : NULL;
	case K_CHOICE:
		for (const struct choice *c = choices; c->name; c++)
			if (strcmp(c->name, v) == 0)
				return xstrdup(v);
		return NULL;
	default:
		return xstrdup(v);
	}
}

/* -------------------------------------------------- cross-entry rules */

static config_setting_t *member(config_setting_t *s, const char *key)
{
	return s && config_setting_is_group(s) ?
	       config_setting_get_member(s, key) : NULL;
}

static config_setting_t *elem(config_setting_t *s, size_t i)
{
	return s ? config_setting_get_elem(s, (unsigned)i) : NULL;
}

static int line_of(config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

void conf_listen_entry_done(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf_listen *l = p;

	l->line = line_of(s);
	if (member(s, "zone") && l->zone == ZONE_EXTERNAL &&
	    l->transport == TRANSPORT_TCP)
		conf_err(ld, member(s, "transport"),
		    "transport 'tcp' is only allowed in the internal zone; "
		    "the external zone is TLS only");
	/* A load balancer's PROXY header names the client (edge.conf(5)).
	 * Internal listeners know their nodes by address: none there. */
	if (l->proxy_protocol && member(s, "zone") && l->zone == ZONE_INTERNAL)
		conf_err(ld, member(s, "proxy_protocol"),
		    "'proxy_protocol' is only allowed in the external zone");
	else if (l->proxy_protocol && l->nproxy_from == 0 && !member(s, "proxy_from"))
		conf_err(ld, member(s, "proxy_protocol"),
		    "'proxy_protocol = true' needs 'proxy_from', the networks of "
		    "the load balancers that send the header");
	if (!l->proxy_protocol && member(s, "proxy_from"))
		conf_err(ld, member(s, "proxy_from"),
		    "'proxy_from' needs 'proxy_protocol = true'");
}

void conf_listen_done(struct ld *ld, config_setting_t *s, void *p)
{
	const struct conf *c = p;
	bool seen[2] = { false, false };

	for (size_t i = 0; i < c->nlisten; i++)
		if (member(elem(s, i), "zone"))
			seen[c->listen[i].zone] = true;
	if (!seen[ZONE_EXTERNAL])
		conf_err(ld, s, "'listen' needs at least one listener with "
		    "zone = \"external\"");
	if (!seen[ZONE_INTERNAL])
		conf_err(ld, s, "'listen' needs at least one listener with "
		    "zone = \"internal\"");
}

void conf_node_done(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf_node *n = p;

	(void)ld;
	n->line = line_of(s);
	if (!n->tls_name && n->address && !member(s, "tls_name"))
		n->tls_name = xstrdup(n->address);
}

/* The port map must be a bijection: address:internal <-> edge.fqdn:public.
 * Port k of node i is compared with every earlier entry, so that the error
 * lands on the second occurrence and names the first. */
static void check_port(struct ld *ld, config_setting_t *nodes_s,
		       const struct conf *c, size_t i, size_t k)
{
	const struct conf_node *nodes = c->internal.nodes, *a = &nodes[i];
	const struct conf_portmap *pa = &a->ports[k];
	config_setting_t *ps = elem(member(elem(nodes_s, i), "ports"), k);
	/* A zero is a value already reported as invalid: not compared. */
	bool int_done = !pa->internal || !a->address, pub_done = !pa->public_;
	bool v6 = a->address && strchr(a->address, ':');

	for (size_t j = 0; j <= i; j++) {
		const struct conf_node *b = &nodes[j];
		config_setting_t *bs = member(elem(nodes_s, j), "ports");

		for (size_t m = 0; m < (j == i ? k : b->nports); m++) {
			const struct conf_portmap *pb = &b->ports[m];

			if (!int_done && pa->internal == pb->internal &&
			    b->address && ascii_eq(a->address, b->address)) {
				int_done = true;
				conf_err(ld, member(ps, "internal"),
				    "internal port %s%s%s:%d is already mapped "
				    "on line %d", v6 ? "[" : "", a->address,
				    v6 ? "]" : "", pa->internal,
				    line_of(member(elem(bs, m), "internal")));
			}
			if (!pub_done && pa->public_ == pb->public_) {
				pub_done = true;
				conf_err(ld, member(ps, "public"),
				    "public port %d is already used by node "
				    "'%s' on line %d", pa->public_,
				    b->name ? b->name : "?",
				    line_of(member(elem(bs, m), "public")));
			}
		}
	}
}

void conf_nodes_done(struct ld *ld, config_setting_t *s, void *p)
{
	const struct conf *c = p;
	const struct conf_node *nodes = c->internal.nodes;

	for (size_t i = 0; i < c->internal.nnodes; i++) {
		for (size_t j = 0; j < i && nodes[i].name; j++) {
			if (nodes[j].name &&
			    strcmp(nodes[j].name, nodes[i].name) == 0) {
				conf_err(ld, member(elem(s, i), "name"),
				    "duplicate node name '%s' (first on line %d)",
				    nodes[i].name,
				    line_of(member(elem(s, j), "name")));
				break;
			}
		}
		for (size_t k = 0; k < nodes[i].nports; k++)
			check_port(ld, s, c, i, k);
	}
}

void conf_allowed_done(struct ld *ld, config_setting_t *s, void *p)
{
	struct conf_allowed *a = p;

	a->line = line_of(s);
	if (member(s, "port") && !member(s, "peer"))
		conf_err(ld, member(s, "port"),
		    "'port' is only valid together with 'peer'");
	else if (a->peer && !member(s, "port"))
		a->port = 5061;
}

void conf_route_done(struct ld *ld, config_setting_t *s, void *p)
{
	(void)ld;
	((struct conf_static_route *)p)->line = line_of(s);
}

/* ------------------------------------------------------------ files */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf, (void)size, (void)rwflag, (void)u;
	return -1;      /* never prompt on a terminal: the daemon cannot */
}

static FILE *open_file(struct ld *ld, config_setting_t *s, const char *what,
		       const char *path)
{
	FILE *fp = fopen(path, "r");
	struct stat st;

	if (fp && fstat(fileno(fp), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(fp);
		fp = NULL;
		errno = EISDIR;
	}
	if (!fp)
		conf_err(ld, s, "cannot read %s '%s': %s", what, path,
		    strerror(errno));
	return fp;
}

static X509 *load_cert(struct ld *ld, config_setting_t *s, const char *path)
{
	FILE *fp = open_file(ld, s, "certificate", path);
	X509 *x;

	if (!fp)
		return NULL;
	if (!(x = PEM_read_X509(fp, NULL, no_passphrase, NULL)))
		conf_err(ld, s, "certificate '%s' does not begin with a PEM "
		    "certificate", path);
	fclose(fp);
	return x;
}

static EVP_PKEY *load_key(struct ld *ld, config_setting_t *s, const char *path)
{
	FILE *fp = open_file(ld, s, "private key", path);
	EVP_PKEY *k;

	if (!fp)
		return NULL;
	if (!(k = PEM_read_PrivateKey(fp, NULL, no_passphrase, NULL)))
		conf_err(ld, s, "private key '%s' is not an unencrypted PEM "
		    "private key", path);
	fclose(fp);
	return k;
}

/* crl: load CRLs instead of certificates; either must yield at least one. */
static void load_store(struct ld *ld, config_setting_t *s, const char *what,
		       const char *path, bool crl)
{
	FILE *fp = open_file(ld, s, what, path);
	X509_STORE *store;
	X509_LOOKUP *lu;
	int n = 0;

	if (!fp)
		return;
	fclose(fp);
	if ((store = X509_STORE_new()) &&
	    (lu = X509_STORE_add_lookup(store, X509_LOOKUP_file())))
		n = crl ? X509_load_crl_file(lu, path, X509_FILETYPE_PEM) :
			  X509_load_cert_file(lu, path, X509_FILETYPE_PEM);
	if (n <= 0)
		conf_err(ld, s, "%s '%s' contains no PEM %s", what, path,
		    crl ? "CRL" : "certificate");
	X509_STORE_free(store);
}

static config_setting_t *tls_key(struct ld *ld, const char *group,
				 const char *key)
{
	char path[64];

	snprintf(path, sizeof path, "tls.%s.%s", group, key);
	return conf_nearest(ld->cfg, path);
}

void conf_check_tls_files(struct ld *ld, const char *group,
			    const struct conf_tls *t)
{
	config_setting_t *cs = tls_key(ld, group, "certificate");
	config_setting_t *ks = tls_key(ld, group, "private_key");
	X509 *cert = NULL;
	EVP_PKEY *key = NULL;

	if (t->certificate)
		cert = load_cert(ld, cs, t->certificate);
	if (t->private_key)
		key = load_key(ld, ks, t->private_key);
	if (cert && key && X509_check_private_key(cert, key) != 1)
		conf_err(ld, ks, "private key '%s' does not match certificate '%s'",
		    t->private_key, t->certificate);
	if (t->ca_file)
		load_store(ld, tls_key(ld, group, "ca_file"), "CA file",
			   t->ca_file, false);
	if (t->crl_file && *t->crl_file)
		load_store(ld, tls_key(ld, group, "crl_file"), "CRL file",
			   t->crl_file, true);
	X509_free(cert);
	EVP_PKEY_free(key);
	ERR_clear_error();
}

/* OpenSSL decides what a cipher string means: ask it now, so that a bad
 * one is reported with its line rather than at the first handshake. */
void conf_check_ciphers(struct ld *ld, const char *group,
			  const struct conf_tls *t)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_method());
	if (!ctx)
		return;
	if (t->ciphers && *t->ciphers && SSL_CTX_set_cipher_list(ctx, t->ciphers) != 1)
		conf_err(ld, tls_key(ld, group, "ciphers"),
		    "'ciphers' matches no cipher OpenSSL knows: '%s'", t->ciphers);
	if (t->ciphersuites && *t->ciphersuites &&
	    SSL_CTX_set_ciphersuites(ctx, t->ciphersuites) != 1)
		conf_err(ld, tls_key(ld, group, "ciphersuites"),
		    "'ciphersuites' is not a valid TLS 1.3 suite list: '%s'",
		    t->ciphersuites);
	SSL_CTX_free(ctx);
	ERR_clear_error();
}

/* edge.secret_file and edge.secret_previous_file: the keys of the Call-ID
 * masks, read as they will be. */
static void check_secret_file(struct ld *ld, const char *path, const char *key_name)
{
	unsigned char key[32];
	char why[512], full[64];

	if (!path || !*path)
		return;
	snprintf(full, sizeof full, "edge.%s", key_name);
	if (!secret_load(path, key, why, sizeof why))
		conf_err(ld, conf_nearest(ld->cfg, full), "%s: %s", key_name, why);
	OPENSSL_cleanse(key, sizeof key);
}

void conf_check_secret(struct ld *ld, const struct conf *c)
{
	check_secret_file(ld, c->edge.secret_file, "secret_file");
	check_secret_file(ld, c->edge.secret_previous_file, "secret_previous_file");
}

/* The account to run as must exist now, not when a root start needs it. */
void conf_check_accounts(struct ld *ld, const struct conf *c)
{
	const char *u = c->admin.user, *g = c->admin.group;
	if (u && *u && !getpwnam(u))
		conf_err(ld, config_lookup(ld->cfg, "admin.user"), "no such user '%s'", u);
	if (g && *g && !getgrnam(g))
		conf_err(ld, config_lookup(ld->cfg, "admin.group"), "no such group '%s'", g);
	if (g && *g && !(u && *u))
		conf_err(ld, config_lookup(ld->cfg, "admin.group"),
		    "'group' without 'user': set the user to run as too");
	/* A Unix socket path, with room for a worker's ".N". */
	const char *cs = c->admin.control_socket;
	if (cs && *cs && (cs[0] != '/' || strlen(cs) > 100))
		conf_err(ld, conf_nearest(ld->cfg, "admin.control_socket"),
			 "control_socket: an absolute path of at most 100 characters, "
			 "or \"\" for none");
}

/*
 * libconfig 1.5 exits the process (flex's fatal error) when a file it
 * reads is a directory, as '@include ""' names: sipedge -t would die
 * without a word and a reload would kill the daemon. So every file it will
 * read is checked first: a regular file, includes followed to libconfig's
 * own depth limit (10). Names are relative to dir, as libconfig takes them.
 */
void conf_check_readable(struct ld *ld, const char *path, const char *at,
			   unsigned line, int depth)
{
	struct stat st;
	FILE *fp;

	const char *why = NULL;
	if (stat(path, &st) != 0)
		why = strerror(errno);
	else if (S_ISDIR(st.st_mode))
		why = "is a directory";
	else if (!S_ISREG(st.st_mode))
		why = "not a regular file";
	if (why) {
		conf_add_error(ld, at ? xasprintf("%s:%u: @include \"%s\": %s", at,
						  line, path, why)
				      : xasprintf("%s:0: cannot read configuration "
						  "file: %s", path, why));
		return;
	}
	if (depth >= 10 || !(fp = fopen(path, "r")))
		return;        /* libconfig says why, with the line */
	char *buf = NULL;
	size_t cap = 0;
	ssize_t len;
	for (unsigned n = 1; (len = getline(&buf, &cap, fp)) >= 0; n++) {
		/* libconfig reads names up to a NUL: "x\0y" would be "x". */
		if (memchr(buf, '\0', (size_t)len)) {
			conf_add_error(ld, xasprintf("%s:%u: NUL byte in the file",
						     path, n));
			break;
		}
		char *p = buf + strspn(buf, " \t"), *end;
		if (strncmp(p, "@include", 8) != 0 || (p[8] != ' ' && p[8] != '\t'))
			continue;
		p += 8 + strspn(p + 8, " \t");
		if (*p++ != '"' || !(end = strchr(p, '"')))
			continue;
		*end = '\0';
		if (strchr(p, '\\')) {
			conf_add_error(ld, xasprintf("%s:%u: @include: escapes in "
						     "file names are not supported",
						     path, n));
			continue;
		}
		char *inc = xasprintf("%s/%s", ld->dir, p);
		conf_check_readable(ld, inc, path, n, depth + 1);
		free(inc);
	}
	free(buf);
	fclose(fp);
}
