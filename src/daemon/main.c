/* main.c - command line, startup, signals, shutdown. */
#include <getopt.h>
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/crypto.h>
#include <systemd/sd-daemon.h>
#define SD_JOURNAL_SUPPRESS_LOCATION 1  /* no CODE_FILE=log.c on each entry */
#include <systemd/sd-journal.h>

#include "config.h"
#include "daemon/conf.h"
#include "net/conn.h"
#include "net/dns.h"
#include "proxy/edge.h"
#include "proxy/health.h"
#include "proxy/partners.h"
#include "proxy/proxy.h"
#include "net/listener.h"
#include "daemon/privs.h"
#include "util/log.h"
#include "daemon/metrics.h"
#include "daemon/control.h"
#include "daemon/reload.h"
#include "core/rate.h"
#include "core/share.h"
#include "daemon/secret.h"
#include "proxy/forward.h"
#include "net/tls.h"
#include "proxy/txn.h"
#include "daemon/workers.h"
#include "util/counters.h"

#define DRAIN_SECS 5        /* how long SIGTERM waits for open transactions */

static void usage(FILE *f)
{
	fprintf(f, "usage: sipedge [-c FILE] [-f] [-t] [-T] [-V]\n"
		   "  -c FILE  configuration (default " SYSCONFDIR "/sipedge/edge.conf)\n"
		   "  -f       stay in the foreground, log to stderr too\n"
		   "  -t       check the configuration and exit\n"
		   "  -T       check, then print the effective configuration (implies -t)\n"
		   "  -V       print the version and exit\n");
}

static void notify_status(struct edge *e)
{
	const bool *up = health_up(e);
	size_t nodes = e->conf->internal.nnodes, nup = 0;
	for (size_t i = 0; i < nodes; i++)
		nup += !up || up[i];
	sd_notifyf(0, "STATUS=%zu external and %zu internal connections, %zu/%zu nodes up, "
		   "%zu transactions", conn_count(e->net, ZONE_EXTERNAL),
		   conn_count(e->net, ZONE_INTERNAL), nup, nodes, txn_count(e));
}

static void on_drain_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct edge *e = arg;
	static int ticks;
	if (txn_count(e) == 0 || ++ticks > DRAIN_SECS * 10) {
		event_base_loopbreak(e->base);
		return;
	}
	struct timeval tv = { 0, 100000 };
	evtimer_add(e->drain_timer, &tv);
}

static void on_stop(evutil_socket_t sig, short what, void *arg)
{
	(void)what;
	struct edge *e = arg;
	if (e->stopping)
		return;
	e->stopping = e->net->stopping = true;
	sd_notify(0, "STOPPING=1");
	log_event(LOG_NOTICE, "shutdown_requested",
		  LOG_STR("signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
	listeners_close(e->net, &e->listeners);
	fwd_refresh_view(e);
	e->drain_timer = evtimer_new(e->base, on_drain_tick, e);
	on_drain_tick(-1, 0, e);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
	(void)sig; (void)what;
	struct edge *e = arg;
	if (!e->stopping) {
		e->reload_ok = reload(e);
		e->reload_at = time(NULL);
	}
}

/* STATUS= for systemctl status, and the watchdog ping when asked for. */
static void on_tick(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	struct edge *e = arg;
	notify_status(e);
	if (e->watchdog)
		sd_notify(0, "WATCHDOG=1");
	workers_heartbeat();
}

static void start_ticks(struct edge *e, bool worker)
{
	uint64_t usec = 0;
	/* A worker's tick is also its heartbeat to the supervisor (workers.c):
	 * every second. */
	struct timeval tv = { worker ? 1 : 5, 0 };
	if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
		e->watchdog = true;
		/* Ping at half the watchdog interval, status every 5 s at most. */
		if (usec / 2 < 5000000) {
			tv.tv_sec = (time_t)(usec / 2 / 1000000);
			tv.tv_usec = (suseconds_t)(usec / 2 % 1000000);
		}
	}
	e->tick = event_new(e->base, -1, EV_PERSIST, on_tick, e);
	event_add(e->tick, &tv);
}

static char *listener_summary(const struct edge *e)
{
	static char buf[1024];
	size_t off = 0;
	buf[0] = '\0';
	for (const struct listener *l = e->listeners; l && off < sizeof buf; l = l->next)
		off += (size_t)snprintf(buf + off, sizeof buf - off, "%s%s/%s:%d",
			off ? "," : "", l->zone == ZONE_EXTERNAL ? "external" : "internal",
			l->transport == TRANSPORT_TLS ? "tls" : "tcp", l->port);
	return buf;
}

static void edge_free(struct edge *e)
{
	control_free(e->control);
	e->control = NULL;
	health_stop(e);
	if (e->net)
		listeners_close(e->net, &e->listeners);
	fwd_refresh_view(e);      /* DNS waiters below may still rewrite */
	/* The resolver first: its waiters (connections still resolving,
	 * requests waiting for SRV) must run while what they point at is
	 * alive, and give back their DNS shares. */
	dns_free(e->dns);
	if (e->net)
		conn_close_all(e->net);
	txn_table_free(e->txns);
	netctx_free(e->net);
	rate_table_free(e->rates);
	shares_free(e->shares);
	partners_free(e->partners);
	free(e->tokv);
	tls_ctxs_free(e->tls);
	if (e->sig_term) event_free(e->sig_term);
	if (e->sig_int) event_free(e->sig_int);
	if (e->sig_hup) event_free(e->sig_hup);
	if (e->drain_timer) event_free(e->drain_timer);
	if (e->tick) event_free(e->tick);
	if (e->secret_prev_timer) event_free(e->secret_prev_timer);
	OPENSSL_cleanse(&e->secret_prev, sizeof e->secret_prev);
	metrics_free(e->metrics);
	conf_free(e->conf);
	if (e->base)
		event_base_free(e->base);
}

/* Every connection is a descriptor: with RLIMIT_NOFILE below
 * limits.max_connections, accept() would fail long before the limit and
 * the edge would refuse partners it promised to take. Raise the soft
 * limit to fit (plus room for listeners, DNS, metrics and logging), or
 * refuse to start, saying what to change. */
#define FD_RESERVE 64
static bool fit_fd_limit(const struct conf *cf)
{
	struct rlimit rl;
	rlim_t want = (rlim_t)cf->limits.max_connections + FD_RESERVE;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= want)
		return true;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < want) {
		char detail[200];
		snprintf(detail, sizeof detail, "limits.max_connections = %d needs %llu "
			 "file descriptors, the hard limit is %llu: raise LimitNOFILE= "
			 "(systemd) or lower max_connections", cf->limits.max_connections,
			 (unsigned long long)want, (unsigned long long)rl.rlim_max);
		log_event(LOG_ERR, "startup_failed",
			  LOG_STR("reason", "file_descriptors"),
			  LOG_STR("detail", detail));
		return false;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		log_event(LOG_ERR, "startup_failed",
			  LOG_STR("reason", "file_descriptors"),
			  LOG_STR("detail", strerror(errno)));
		return false;
	}
	return true;
}

int main(int argc, char **argv)
{
	const char *path = SYSCONFDIR "/sipedge/edge.conf";
	bool foreground = false, check_only = false, dump = false;
	int opt;
	while ((opt = getopt(argc, argv, "c:ftTVh")) != -1) {
		switch (opt) {
		case 'c': path = optarg; break;
		case 'f': foreground = true; break;
		case 't': check_only = true; break;
		case 'T': check_only = dump = true; break;
		case 'V': printf("sipedge %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 1;
	}

	struct conf_errors errs = { 0 };
	struct conf *conf = conf_load(path, true, &errs);
	if (!conf) {
		for (size_t i = 0; i < errs.n; i++)
			fprintf(stderr, "%s\n", errs.msg[i]);
		conf_errors_free(&errs);
		return 1;
	}
	struct edge edge = { .conf = conf };
	struct edge *e = &edge;
	if (check_only) {
		/* Cipher strings and key/cert pairs as OpenSSL itself takes them. */
		log_open("sipedge", LOG_DAEMON, LOG_ERR, true);
		e->tls = tls_ctxs_new(conf);
		int ok = e->tls != NULL;
		if (ok && !*conf->edge.secret_file)
			fprintf(stderr, "%s: warning: edge.secret_file is not set: the Call-ID "
				"mask key is made at each start, so a dialog whose Call-ID was "
				"masked does not survive a restart (or another edge)\n",
				conf->path);
		/* privs_drop() refuses a root start without admin.user; a start
		 * as the account itself (systemd User=) is fine: warn. */
		if (ok && (geteuid() == 0 || getuid() == 0) && !*conf->admin.user)
			fprintf(stderr, "%s: warning: admin.user is empty: started as root, "
				"sipedge refuses to start (event=startup_failed reason="
				"root_without_user); set admin.user (and admin.group), or "
				"start it as its own user (systemd User=)\n", conf->path);
		if (ok && conf->log.target == LOG_TARGET_JOURNAL &&
		    access("/run/systemd/journal/socket", F_OK) != 0)
			fprintf(stderr, "%s: warning: log.target is \"journal\" but no "
				"systemd-journald runs here (/run/systemd/journal/socket): "
				"the lines would go to syslog\n", conf->path);
		/* -T: stdout is the configuration alone, so it can be read back. */
		if (ok && dump)
			conf_print(stdout, conf);
		edge_free(e);
		if (!ok)
			return 1;
		fprintf(dump ? stderr : stdout, "configuration OK\n");
		return 0;
	}

	log_open(conf->log.ident, conf->log.facility, conf->log.level, foreground);
	log_set_journal(conf->log.target == LOG_TARGET_JOURNAL ? sd_journal_sendv : NULL);
	/* Under systemd (Type=notify) the main process must stay. */
	if (!foreground && !getenv("NOTIFY_SOCKET") && daemon(0, 0) < 0) {
		log_msg(LOG_ERR, "cannot daemonize: %m");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	int rc = 1;
	if (!fit_fd_limit(conf))
		goto out;
	/* Before the privilege drop: the file may be readable by root only.
	 * Before the fork: every worker (and every worker restarted later)
	 * inherits the same key, so a Call-ID masked by one worker is
	 * unmasked by any other, even when the key is random. */
	char why[512];
	if (!secret_load(conf->edge.secret_file, e->secret, why, sizeof why)) {
		log_event(LOG_ERR, "startup_failed",
			  LOG_STR("reason", "secret_file"),
			  LOG_STR("detail", why));
		goto out;
	}
	/* Rotation: the previous key, accepted (never used to encode) for
	 * edge.secret_previous_seconds from now; reload.c closes the window. */
	if (!secret_load_previous(conf->edge.secret_previous_file, &e->secret_prev,
				  why, sizeof why)) {
		log_event(LOG_ERR, "startup_failed",
			  LOG_STR("reason", "secret_file"),
			  LOG_STR("detail", why));
		goto out;
	}
	if (!*conf->edge.secret_file)
		log_event(LOG_NOTICE, "secret_random",
			  LOG_STR("detail", "edge.secret_file is not set: "
				  "Call-IDs masked before a restart will not be restored"));
	/* edge.workers: from here on this runs in each worker; the main
	 * process supervises them (workers.c) and returns here only to exit. */
	int nworkers = workers_count(conf), windex = -1;
	struct workers_shared shared = { 0 };
	if (nworkers > 1) {
		bool worker = workers_run(nworkers, &conf, e->secret, &e->secret_prev, &windex,
					  &shared, &rc);
		e->conf = conf;       /* the supervisor's last good one */
		if (!worker)
			goto out;
		rc = 1;
		log_set_worker(windex);
		counters_use_slot((size_t)windex);
	}
	e->base = event_base_new();
	if (!e->base || !(e->net = netctx_new(e->base, conf, &e->next_id)) ||
	    !(e->txns = txn_table_new()) ||
	    !(e->rates = shared.rates ? shared.rates : rate_table_new(4096)) ||
	    !(e->shares = shares_new()) ||
	    !(e->partners = partners_new(PARTNERS_MAX))) {
		log_msg(LOG_ERR, "out of memory");
		goto out;
	}
	if (!(e->tls = tls_ctxs_new(conf)))
		goto out;
	struct dns_options dopt;
	conf_dns_options(conf, &dopt);
	if (!(e->dns = dns_new(e->base, &dopt))) {
		log_msg(LOG_ERR, "cannot start the DNS resolver");
		goto out;
	}
	e->net->tls = e->tls;
	e->net->dns = e->dns;
	e->net->reuseport = nworkers > 1;
	e->shared_up = shared.node_up;      /* NULL with one worker */
	e->shared_up_n = shared.node_up_n;
	e->health_prober = windex <= 0;
	proxy_attach(e);
	if (!listeners_open(e->net, &e->listeners))
		goto out;
	reload_secret_window(e);   /* and fwd_refresh_view() */
	if (!health_start(e)) {
		log_msg(LOG_ERR, "out of memory");
		goto out;
	}
	e->metrics = metrics_new(e);
	/* One endpoint: worker 0's, reading every worker's counters. */
	if (windex <= 0 && !metrics_listen(e->metrics))
		goto out;
	/* The control socket too is made as root: its group is admin.group. */
	if (!(e->control = control_open(e, windex, nworkers, why, sizeof why)) && *why) {
		log_event(LOG_ERR, "startup_failed", LOG_STR("reason", "control_socket"),
			  LOG_STR("detail", why));
		goto out;
	}
	/* Everything that needs root is done: ports bound, keys read. */
	if (!privs_drop(conf) || !workers_after_drop())
		goto out;
	e->sig_term = evsignal_new(e->base, SIGTERM, on_stop, e);
	e->sig_int = evsignal_new(e->base, SIGINT, on_stop, e);
	e->sig_hup = evsignal_new(e->base, SIGHUP, on_hup, e);
	evsignal_add(e->sig_term, NULL);
	evsignal_add(e->sig_int, NULL);
	evsignal_add(e->sig_hup, NULL);

	log_event(LOG_NOTICE, "startup",
		  LOG_STR("version", PACKAGE_VERSION),
		  LOG_STR("config", conf->path),
		  LOG_STR("fqdn", conf->edge.fqdn),
		  LOG_STR("listeners", listener_summary(e)));
	control_start(e->control);
	e->started_at = time(NULL);
	sd_notify(0, "READY=1");
	workers_ready();
	notify_status(e);
	start_ticks(e, windex >= 0);
	event_base_dispatch(e->base);
	log_event(LOG_NOTICE, "shutdown",
		  LOG_STR("reason", e->stopping ? "signal" : "loop ended"),
		  LOG_STR("open_transactions", txn_count(e) ? "abandoned" : "0"));
	rc = 0;
out:
	edge_free(e);
	return rc;
}
