/* reload.c - build everything new first, then swap pointers.
 *
 * Everything that can fail (parsing, certificates, binding new listeners,
 * a new resolver) happens before the running state is touched. The swap
 * itself cannot fail. OpenSSL reference counts keep the old contexts alive
 * for the connections that use them.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>
#include <systemd/sd-journal.h>

#include "daemon/conf.h"
#include "net/conn.h"
#include "net/dns.h"
#include "proxy/edge.h"
#include "proxy/federation.h"
#include "proxy/health.h"
#include "net/listener.h"
#include "util/counters.h"
#include "util/log.h"
#include "daemon/reload.h"
#include "daemon/secret.h"
#include "proxy/forward.h"
#include "net/tls.h"
#include "proxy/txn.h"

static void on_secret_window(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	reload_secret_window(arg);
}

void reload_secret_window(struct edge *e)
{
	int64_t left = mask_prev_left_ms(&e->secret_prev,
					 e->conf->edge.secret_previous_seconds, secret_now_ms());
	bool was = e->secret_prev_open;
	e->secret_prev_open = left > 0;
	if (e->secret_prev_timer)
		evtimer_del(e->secret_prev_timer);
	if (left > 0) {
		if (!e->secret_prev_timer)
			e->secret_prev_timer = evtimer_new(e->base, on_secret_window, e);
		int64_t us = left * 1000 + 1000;   /* just past the end */
		struct timeval tv = { (time_t)(us / 1000000), (suseconds_t)(us % 1000000) };
		if (e->secret_prev_timer)
			evtimer_add(e->secret_prev_timer, &tv);
	} else if (e->secret_prev.loaded) {
		/* Over: the key is forgotten; a reload naming the same file does
		 * not bring it back (a new name does, for a new window). */
		OPENSSL_cleanse(e->secret_prev.key, sizeof e->secret_prev.key);
		e->secret_prev.loaded = false;
		if (was)
			log_msg(LOG_NOTICE, "edge.secret_previous_file: the previous key is no "
				"longer accepted (edge.secret_previous_seconds are over)");
	}
	fwd_refresh_view(e);
}

static bool same_dns(const struct conf *a, const struct conf *b)
{
	if (a->dns.nservers != b->dns.nservers || a->dns.timeout_ms != b->dns.timeout_ms ||
	    a->dns.tries != b->dns.tries || a->dns.cache_max_ttl != b->dns.cache_max_ttl ||
	    a->dns.negative_ttl != b->dns.negative_ttl)
		return false;
	for (size_t i = 0; i < a->dns.nservers; i++)
		if (strcmp(a->dns.servers[i], b->dns.servers[i]) != 0)
			return false;
	return true;
}

static int node_named(const struct conf *c, const char *name)
{
	for (size_t i = 0; i < c->internal.nnodes; i++)
		if (strcmp(c->internal.nodes[i].name, name) == 0)
			return (int)i;
	return -1;
}

struct remap {
	const struct conf *old, *new_;
};

static int remap_node(const struct remap *r, int node)
{
	return node < 0 ? -1 : node_named(r->new_, r->old->internal.nodes[node].name);
}

static void remap_conn(struct conn *c, void *arg)
{
	int was = c->node;
	conn_set_node(c, remap_node(arg, c->node));
	/* The lists may have changed: what a peer proved is asked again. */
	federation_forget(c);
	/* So may accept_wildcards: whether its certificate names the host
	 * its Via alias offers is decided again (conn_set_alias). */
	if (c->alias[0] && !c->outbound) {
		char host[sizeof c->alias];
		memcpy(host, c->alias, sizeof host);
		conn_set_alias(c, host, c->alias_port);
	}
	if (was >= 0 && c->node < 0 && c->zone == ZONE_INTERNAL)
		conn_close(c, CFAIL_CLOSED, "node removed from the configuration");
}

static void remap_txn(struct txn *t, void *arg)
{
	t->node = remap_node(arg, t->node);
}

/* The result for sipedge_config_last_reload_* (daemon/metrics.c). */
static void record(bool ok)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	counters_config_loaded(ok, (double)tv.tv_sec + (double)tv.tv_usec / 1e6);
}

static void failed(const char *why)
{
	record(false);
	log_event(LOG_ERR, "reload",
		  LOG_STR("result", "failed"),
		  LOG_STR("error", why),
		  LOG_STR("action", "running configuration kept"));
	sd_notify(0, "READY=1");
}

bool reload(struct edge *e)
{
	sd_notify(0, "RELOADING=1");
	struct conf_errors errs = { 0 };
	struct conf *nc = conf_load(e->conf->path, true, &errs);
	if (!nc) {
		for (size_t i = 0; i < errs.n; i++)
			log_event(LOG_ERR, "reload",
				  LOG_STR("result", "failed"),
				  LOG_STR("error", errs.msg[i]));
		conf_errors_free(&errs);
		failed("configuration has errors (lines above)");
		return false;
	}
	struct tls_ctxs *nt = tls_ctxs_new(nc);
	if (!nt) {
		conf_free(nc);
		failed("cannot load the TLS files (lines above)");
		return false;
	}
	/* A new secret file only when its name changed (the key of the
	 * Call-ID masks: a new one breaks the dialogs masked so far). */
	unsigned char key[32];
	bool new_key = strcmp(e->conf->edge.secret_file, nc->edge.secret_file) != 0;
	char why[600];
	if (new_key && !secret_load(nc->edge.secret_file, key, why, sizeof why)) {
		log_event(LOG_ERR, "reload",
			  LOG_STR("result", "failed"),
			  LOG_STR("error", why));
		tls_ctxs_free(nt);
		conf_free(nc);
		failed("cannot read edge.secret_file (line above)");
		return false;
	}
	/* The previous key likewise only when its file's name changed: its
	 * window counts from the start or the reload that loaded it. */
	struct mask_prev prev;
	bool new_prev = strcmp(e->conf->edge.secret_previous_file,
			       nc->edge.secret_previous_file) != 0;
	if (new_prev && !secret_load_previous(nc->edge.secret_previous_file, &prev, why,
					      sizeof why)) {
		log_event(LOG_ERR, "reload",
			  LOG_STR("result", "failed"),
			  LOG_STR("error", why));
		OPENSSL_cleanse(key, sizeof key);
		tls_ctxs_free(nt);
		conf_free(nc);
		failed("cannot read edge.secret_previous_file (line above)");
		return false;
	}
	struct dns_options dopt;
	conf_dns_options(nc, &dopt);
	struct dns *nd = same_dns(e->conf, nc) ? NULL : dns_new(e->base, &dopt);
	if (!same_dns(e->conf, nc) && !nd) {
		tls_ctxs_free(nt);
		conf_free(nc);
		OPENSSL_cleanse(key, sizeof key);
		OPENSSL_cleanse(&prev, sizeof prev);
		failed("cannot start the DNS resolver with the new dns settings");
		return false;
	}
	if (!listeners_update(e->net, &e->listeners, nc)) {
		dns_free(nd);
		tls_ctxs_free(nt);
		conf_free(nc);
		OPENSSL_cleanse(key, sizeof key);
		OPENSSL_cleanse(&prev, sizeof prev);
		failed("cannot bind a new listener (line above)");
		return false;
	}

	/* Commit: nothing below can fail. */
	struct conf *old = e->conf;
	struct tls_ctxs *ot = e->tls;
	struct remap r = { old, nc };
	health_stop(e);
	e->conf = nc;
	e->tls = nt;
	e->net->conf = nc;
	e->net->tls = nt;
	if (new_key) {
		memcpy(e->secret, key, sizeof key);
		OPENSSL_cleanse(key, sizeof key);
	}
	if (new_prev) {
		OPENSSL_cleanse(&e->secret_prev, sizeof e->secret_prev);
		e->secret_prev = prev;
		OPENSSL_cleanse(&prev, sizeof prev);
	}
	reload_secret_window(e);   /* the new seconds; and fwd_refresh_view() */
	/* Transactions first: closing a removed node's connection below
	 * fails its transactions, which must already name nodes of nc. */
	txn_foreach(e, remap_txn, &r);
	conn_foreach(e->net, remap_conn, &r);
	if (nd) {
		/* Lookups still waiting on the old resolver fail (504/503). */
		struct dns *od = e->dns;
		e->dns = e->net->dns = nd;
		dns_free(od);
	}
	health_start(e);
	log_reopen(nc->log.ident, nc->log.facility, nc->log.level);
	log_set_journal(nc->log.target == LOG_TARGET_JOURNAL ? sd_journal_sendv : NULL);
	tls_ctxs_free(ot);
	conf_free(old);
	record(true);
	log_event(LOG_NOTICE, "reload",
		  LOG_STR("result", "ok"),
		  LOG_STR("config", nc->path));
	sd_notify(0, "READY=1");
	return true;
}
