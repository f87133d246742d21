/* self.c - sipedge-check --self EDGE.CONF: are our own SRV records,
 * address and certificate what federation partners will verify?
 * (sipedge-check(1), "Checking our own edge").
 *
 *   conf      the few keys read from edge.conf
 *   srv, srv-domain, srv-edge    for each of internal.domains
 *   address   edge.fqdn has A/AAAA
 *   chain, name, validity, eku, key    tls.external.certificate
 *
 * The daemon's configuration loader lives in src/daemon, which tools may
 * not use (tests/layering.sh): the keys are read with libconfig here, with
 * the daemon's defaults (listener port 5061) and its rule that relative
 * file names are taken from the configuration file's directory.
 */
#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <libconfig.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "checker.h"
#include "checks.h"
#include "core/diag.h"

#define SELF_MAX_DOMAINS 32

struct self_conf {
	char fqdn[254];
	int port;                       /* the external listener's */
	char domain[SELF_MAX_DOMAINS][254];
	size_t ndomains;
	char cert[4096];
	char ca[4096];                  /* "" when not set */
};

/* name relative to dir unless absolute */
static void conf_path(char *out, size_t len, const char *dir, const char *name)
{
	if (name[0] == '/')
		snprintf(out, len, "%s", name);
	else
		snprintf(out, len, "%s/%s", dir, name);
}

static bool read_conf(struct checker *k, struct self_conf *sc)
{
	const char *path = k->o.self;
	char dirbuf[4096];
	snprintf(dirbuf, sizeof dirbuf, "%s", path);
	const char *dir = dirname(dirbuf);
	config_t cfg;
	config_init(&cfg);
	config_set_include_dir(&cfg, dir);
	memset(sc, 0, sizeof *sc);
	bool ok = false;
	const char *s = NULL;
	FILE *f = fopen(path, "r");
	if (!f) {
		report_add(&k->rep, CK_CONF, CHECK_FAIL, NULL, 0, "%s: cannot read it: %s",
			   path, strerror(errno));
		goto out;
	}
	fclose(f);
	if (!config_read_file(&cfg, path)) {
		report_add(&k->rep, CK_CONF, CHECK_FAIL, NULL, 0, "%s:%d: %s",
			   config_error_file(&cfg) ? config_error_file(&cfg) : path,
			   config_error_line(&cfg), config_error_text(&cfg));
		goto out;
	}
	if (!config_lookup_string(&cfg, "edge.fqdn", &s) ||
	    !opts_valid_domain(s, sc->fqdn, sizeof sc->fqdn)) {
		report_add(&k->rep, CK_CONF, CHECK_FAIL, NULL, 0,
			   "%s: edge.fqdn is missing or not a domain name", path);
		goto out;
	}
	sc->port = 5061;
	config_setting_t *ls = config_lookup(&cfg, "listen");
	bool external = false;
	for (int i = 0; ls && i < config_setting_length(ls) && !external; i++) {
		config_setting_t *l = config_setting_get_elem(ls, (unsigned)i);
		const char *zone = NULL;
		int port = 5061;
		if (l && config_setting_lookup_string(l, "zone", &zone) &&
		    strcmp(zone, "external") == 0) {
			external = true;
			config_setting_lookup_int(l, "port", &port);
			sc->port = port;
		}
	}
	if (!external) {
		report_add(&k->rep, CK_CONF, CHECK_FAIL, NULL, 0,
			   "%s: no listener of zone \"external\" in listen", path);
		goto out;
	}
	config_setting_t *ds = config_lookup(&cfg, "internal.domains");
	for (int i = 0; ds && i < config_setting_length(ds) &&
	     sc->ndomains < SELF_MAX_DOMAINS; i++) {
		const char *d = config_setting_get_string_elem(ds, i);
		if (d && opts_valid_domain(d, sc->domain[sc->ndomains], 254))
			sc->ndomains++;
	}
	if (sc->ndomains == 0) {
		report_add(&k->rep, CK_CONF, CHECK_FAIL, NULL, 0,
			   "%s: internal.domains names no domain", path);
		goto out;
	}
	if (!config_lookup_string(&cfg, "tls.external.certificate", &s) || !*s) {
		report_add(&k->rep, CK_CONF, CHECK_FAIL, NULL, 0,
			   "%s: tls.external.certificate is not set", path);
		goto out;
	}
	conf_path(sc->cert, sizeof sc->cert, dir, s);
	if (config_lookup_string(&cfg, "tls.external.ca_file", &s) && *s)
		conf_path(sc->ca, sizeof sc->ca, dir, s);
	char list[1024] = "";
	for (size_t i = 0; i < sc->ndomains; i++)
		snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s",
			 i ? ", " : "", sc->domain[i]);
	report_add(&k->rep, CK_CONF, CHECK_PASS, NULL, 0,
		   "%s: edge.fqdn %s, external listener port %d, domains %s, "
		   "certificate %s", path, sc->fqdn, sc->port, list, sc->cert);
	ok = true;
out:
	config_destroy(&cfg);
	return ok;
}

/* srv-edge: one target of the domain's SRV record is this edge. */
static void check_srv_edge(struct checker *k, const struct self_conf *sc,
			   const char *domain, const struct dns_srv *srv, size_t n)
{
	char name[400], us[300], others[1024] = "";
	snprintf(name, sizeof name, "%s.%s", k->o.service, domain);
	snprintf(us, sizeof us, "%s:%d", sc->fqdn, sc->port);
	int other_port = 0;
	for (size_t i = 0; i < n; i++) {
		if (strcasecmp(srv[i].target, sc->fqdn) == 0) {
			if (srv[i].port == sc->port) {
				report_add(&k->rep, CK_SRV_EDGE, CHECK_PASS, us, 0,
					   "%s -> %s: this edge's external listener", name, us);
				return;
			}
			other_port = srv[i].port;
		}
		char hp[300];
		snprintf(others + strlen(others), sizeof others - strlen(others), "%s%s",
			 *others ? ", " : "", srv_hostport(&srv[i], hp, sizeof hp));
	}
	if (other_port)
		report_add(&k->rep, CK_SRV_EDGE, CHECK_FAIL, us, DIAG_CONNECT,
			   "%s points to %s:%d, but the external listener is on port %d: "
			   "partners will connect to the wrong port", name, sc->fqdn,
			   other_port, sc->port);
	else
		report_add(&k->rep, CK_SRV_EDGE, CHECK_FAIL, us, 0,
			   "%s does not point to this edge (%s); its targets: %s",
			   name, us, n ? others : "none");
}

static STACK_OF(X509) *load_chain(const char *file, X509 **leaf)
{
	*leaf = NULL;
	FILE *f = fopen(file, "r");
	if (!f)
		return NULL;
	STACK_OF(X509) *rest = sk_X509_new_null();
	X509 *x;
	while (rest && (x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (!*leaf)
			*leaf = x;
		else if (!sk_X509_push(rest, x))
			X509_free(x);
	}
	fclose(f);
	ERR_clear_error();      /* the end of the file */
	return rest;
}

static void check_own_certificate(struct checker *k, const struct self_conf *sc,
				  const char *target)
{
	X509 *leaf;
	STACK_OF(X509) *rest = load_chain(sc->cert, &leaf);
	if (!leaf) {
		report_add(&k->rep, CK_CHAIN, CHECK_FAIL, target, DIAG_CERT_NAME,
			   "%s: cannot read a PEM certificate from %s", target, sc->cert);
		sk_X509_pop_free(rest, X509_free);
		return;
	}
	/* --ca, else the configured ca_file, else the system store */
	X509_STORE *own = NULL, *store = SSL_CTX_get_cert_store(k->ssl);
	const char *trust = k->trust;
	if (!k->o.ca && sc->ca[0]) {
		own = X509_STORE_new();
		if (own && X509_STORE_load_file(own, sc->ca) == 1) {
			store = own;
			trust = sc->ca;
		}
		ERR_clear_error();
	}
	/* the chain as the daemon presents it: the file's other certificates */
	STACK_OF(X509) *presented = sk_X509_dup(rest);
	if (presented)
		sk_X509_unshift(presented, leaf);
	STACK_OF(X509) *chain = NULL;
	check_chain(&k->rep, target, store, trust, leaf, presented, &chain);
	check_name(&k->rep, target, sc->fqdn, leaf);
	check_validity_days(&k->rep, target, leaf, chain, time(NULL), SELF_WARN_DAYS);
	check_eku(&k->rep, target, leaf);
	check_key(&k->rep, target, leaf, presented);
	sk_X509_pop_free(chain, X509_free);
	sk_X509_free(presented);
	sk_X509_pop_free(rest, X509_free);
	X509_free(leaf);
	X509_STORE_free(own);
}

int check_self(struct checker *k)
{
	struct self_conf sc;
	if (!read_conf(k, &sc))
		return 1;
	for (size_t d = 0; d < sc.ndomains; d++) {
		struct dns_srv srv[DNS_MAX_SRV];
		snprintf(k->o.domain, sizeof k->o.domain, "%s", sc.domain[d]);
		size_t n = check_srv(k, srv);
		for (size_t i = 0; i < n; i++) {
			char hp[300];
			check_srv_domain(k, &srv[i], srv_hostport(&srv[i], hp, sizeof hp));
		}
		if (n)
			check_srv_edge(k, &sc, sc.domain[d], srv, n);
	}
	snprintf(k->o.domain, sizeof k->o.domain, "%s", sc.fqdn);
	char target[300];
	struct dns_srv us = { .port = sc.port };
	snprintf(us.target, sizeof us.target, "%s", sc.fqdn);
	snprintf(target, sizeof target, "%s:%d", sc.fqdn, sc.port);
	struct sockaddr_storage addr[DNS_MAX_ADDRS];
	check_address(k, &us, target, addr);
	check_own_certificate(k, &sc, target);
	return k->rep.nfail ? 1 : 0;
}
