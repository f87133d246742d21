/* workers.c - the supervisor of edge.workers (see workers.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <systemd/sd-daemon.h>
#include <openssl/crypto.h>

#include "daemon/workers.h"
#include "daemon/conf.h"
#include "daemon/secret.h"
#include "net/tls.h"
#include "core/nodeview.h"
#include "core/rate.h"
#include "core/types.h"
#include "util/counters.h"
#include "util/log.h"

#define MAX_WORKERS 64
#define RATE_SLOTS 4096
#define NODE_SLOTS 1024    /* internal.nodes shared health covers */
#define STOP_SECS 15       /* SIGTERM drains 5 s at most; then SIGKILL */
#define RESTART_GAP_MS 1000 /* a worker that keeps dying restarts at most once a second */
/* A slot restarted more than FAIL_RESTARTS times within FAIL_WINDOW_SECS
 * is not going to work (a port taken, a file gone, a bug on every start):
 * the supervisor gives up and exits 1, so that systemd (Restart=on-failure)
 * or the operator sees the failure instead of an edge that keeps losing a
 * share of its connections. 5 in 60 s: a worker crashing on a rare request
 * is restarted indefinitely, one dying at each start is not. */
#define FAIL_RESTARTS 5
#define FAIL_WINDOW_SECS 60
/* A worker stamps its slot every HEARTBEAT_SECS (main.c's tick); one whose
 * stamp is older than HANG_MS is hung (a loop stuck, SIGSTOP, a deadlock on
 * the shared rate lock): SIGKILL, then the usual restart. 10 s is many
 * missed ticks (a burst or a reload reading files stalls a loop for far
 * less) and still well inside a systemd WatchdogSec= of 30 s or more. */
#define HANG_MS 10000

static int ready_fd = -1;   /* worker: write end of the supervisor's pipe */
static pid_t supervisor_pid; /* worker: its parent, saved before the fork */
static int my_slot = -1;     /* worker: its index */
static uint64_t *beats;      /* shared: each worker's last tick, CLOCK_MONOTONIC ms */

int workers_count(const struct conf *c)
{
	if (c->edge.workers > 0)
		return c->edge.workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

bool workers_after_drop(void)
{
	if (!supervisor_pid)
		return true;
	/* setuid()/setgid() reset the parent-death signal (commit_creds()):
	 * ask again, then check the supervisor did not die in between. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) != 0 || getppid() != supervisor_pid) {
		log_msg(LOG_ERR, "workers: the supervisor (pid %d) is gone", (int)supervisor_pid);
		return false;
	}
	return true;
}

static uint64_t now_ms(void);

void workers_heartbeat(void)
{
	if (beats && my_slot >= 0)
		__atomic_store_n(&beats[my_slot], now_ms(), __ATOMIC_RELAXED);
}

void workers_ready(void)
{
	workers_heartbeat();
	if (ready_fd >= 0) {
		/* Its pid, not its slot: a byte left in the pipe by a worker
		 * that died right after writing it must not mark the one
		 * restarted in its slot ready (a SIGHUP forwarded to it while
		 * it still ignores SIGHUP would be lost). One write of
		 * sizeof(pid_t) < PIPE_BUF: atomic, never split. */
		pid_t me = getpid();
		ssize_t w = write(ready_fd, &me, sizeof me);
		(void)w;
		close(ready_fd);
		ready_fd = -1;
	}
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct sup {
	int n;
	pid_t pid[MAX_WORKERS];        /* 0: not running */
	uint64_t started[MAX_WORKERS];
	uint64_t restart_at[MAX_WORKERS];  /* 0: none pending */
	uint64_t fail_since[MAX_WORKERS];  /* start of the FAIL_WINDOW_SECS window */
	int fails[MAX_WORKERS];            /* restarts of the slot within it */
	bool up[MAX_WORKERS];              /* reported ready since its fork */
	bool hup_pending[MAX_WORKERS];     /* a SIGHUP to send once it is up */
	int pipe_r, pipe_w;
	sigset_t old;
};

/* Returns 0 in the parent (pid recorded), 1 in the new worker, -1 on error. */
static int spawn(struct sup *s, int i)
{
	pid_t parent = getpid();
	supervisor_pid = parent;
	__atomic_store_n(&beats[i], now_ms(), __ATOMIC_RELAXED);
	pid_t pid = fork();
	if (pid < 0) {
		log_msg(LOG_ERR, "workers: cannot fork worker %d: %s", i, strerror(errno));
		return -1;
	}
	if (pid == 0) {
		/* Stop with the supervisor, even when it is killed. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		if (getppid() != parent)     /* it died before prctl() */
			_exit(1);
		close(s->pipe_r);
		ready_fd = s->pipe_w;
		my_slot = i;
		/* systemd hears the supervisor only (NotifyAccess=main). */
		unsetenv("NOTIFY_SOCKET");
		unsetenv("WATCHDOG_USEC");
		unsetenv("WATCHDOG_PID");
		/* A reload asked for before its loop listens is not a kill. */
		signal(SIGHUP, SIG_IGN);
		sigprocmask(SIG_SETMASK, &s->old, NULL);
		return 1;
	}
	s->pid[i] = pid;
	s->started[i] = now_ms();
	s->restart_at[i] = 0;
	/* It starts from the last good configuration: no reload owed. */
	s->up[i] = s->hup_pending[i] = false;
	return 0;
}

static int alive(const struct sup *s)
{
	int n = 0;
	for (int i = 0; i < s->n; i++)
		n += s->pid[i] != 0;
	return n;
}

static void send_all(const struct sup *s, int sig)
{
	for (int i = 0; i < s->n; i++)
		if (s->pid[i])
			kill(s->pid[i], sig);
}

/* SIGHUP to the workers that listen for it; one still starting gets it
 * once it reports ready (it ignores SIGHUP until then). */
static void hup_all(struct sup *s)
{
	for (int i = 0; i < s->n; i++) {
		if (!s->pid[i])
			continue;
		if (s->up[i])
			kill(s->pid[i], SIGHUP);
		else
			s->hup_pending[i] = true;
	}
}

/* The supervisor's own reload: what a worker restarted later starts from.
 * The checks of reload.c that need no event loop (the file, the TLS files,
 * the secret); the workers reload and bind on their own. */
static void sup_reload(struct conf **cp, unsigned char key[32], struct mask_prev *prev)
{
	struct conf_errors errs = { 0 };
	struct conf *nc = conf_load((*cp)->path, true, &errs);
	if (!nc) {
		for (size_t i = 0; i < errs.n; i++)
			log_msg(LOG_ERR, "workers: %s", errs.msg[i]);
		conf_errors_free(&errs);
		log_msg(LOG_ERR, "workers: reload failed, restarted workers keep the "
			"previous configuration");
		return;
	}
	struct tls_ctxs *t = tls_ctxs_new(nc);
	if (!t) {
		conf_free(nc);
		log_msg(LOG_ERR, "workers: reload failed (TLS files), restarted workers "
			"keep the previous configuration");
		return;
	}
	tls_ctxs_free(t);
	/* Both keys read before either is replaced; the previous one only when
	 * its file's name changed, so its window still counts from the reload
	 * that loaded it (a worker restarted later gets this pair). */
	bool new_key = strcmp((*cp)->edge.secret_file, nc->edge.secret_file) != 0;
	bool new_prev = strcmp((*cp)->edge.secret_previous_file,
			       nc->edge.secret_previous_file) != 0;
	unsigned char nk[32];
	struct mask_prev np;
	char why[600];
	if (new_key && !secret_load(nc->edge.secret_file, nk, why, sizeof why)) {
		log_msg(LOG_ERR, "workers: reload failed: %s", why);
		conf_free(nc);
		return;
	}
	if (new_prev && !secret_load_previous(nc->edge.secret_previous_file, &np, why,
					      sizeof why)) {
		log_msg(LOG_ERR, "workers: reload failed: secret_previous_file: %s", why);
		OPENSSL_cleanse(nk, sizeof nk);
		conf_free(nc);
		return;
	}
	if (new_key)
		memcpy(key, nk, sizeof nk);
	if (new_prev) {
		OPENSSL_cleanse(prev, sizeof *prev);
		*prev = np;
	}
	OPENSSL_cleanse(nk, sizeof nk);
	OPENSSL_cleanse(&np, sizeof np);
	conf_free(*cp);
	*cp = nc;
	log_reopen(nc->log.ident, nc->log.facility, nc->log.level);
	log_msg(LOG_INFO, "workers: configuration reloaded for the workers started from now on");
}

static void describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
}

bool workers_run(int n, struct conf **conf, unsigned char key[32], struct mask_prev *prev,
		 int *index,
		 struct workers_shared *sh, int *rc)
{
	static struct sup s;
	int fds[2];
	*rc = 1;
	if (n > MAX_WORKERS)
		n = MAX_WORKERS;
	s.n = n;
	/* Shared before fork: counters (a slot per worker, summed by the
	 * endpoint) and the rate buckets (one table, process-shared lock). */
	size_t rbytes = rate_table_bytes(RATE_SLOTS);
	void *rmem = mmap(NULL, rbytes, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *umem = mmap(NULL, nodeview_bytes(NODE_SLOTS), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	void *bmem = mmap(NULL, MAX_WORKERS * sizeof *beats, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!counters_share((size_t)n) || rmem == MAP_FAILED || umem == MAP_FAILED ||
	    bmem == MAP_FAILED ||
	    !(sh->rates = rate_table_place(rmem, RATE_SLOTS)) || pipe2(fds, O_CLOEXEC) < 0) {
		log_msg(LOG_ERR, "workers: cannot make the shared tables: %s", strerror(errno));
		return false;
	}
	beats = bmem;
	sh->node_up = umem;
	sh->node_up_n = NODE_SLOTS;     /* gen 0: no list yet (zeroed map) */
	s.pipe_r = fds[0];
	s.pipe_w = fds[1];
	fcntl(s.pipe_r, F_SETFL, O_NONBLOCK);

	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, &s.old);

	for (int i = 0; i < n; i++) {
		int r = spawn(&s, i);
		if (r == 1) {
			*index = i;
			return true;
		}
		if (r < 0) {
			send_all(&s, SIGTERM);
			break;
		}
	}

	bool stopping = alive(&s) < n, ready = false;
	uint64_t stop_deadline = stopping ? now_ms() + STOP_SECS * 1000 : 0, last_tick = 0;
	uint64_t wd_usec = 0;
	bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0;
	uint64_t tick_ms = watchdog && wd_usec / 2000 < 5000 ? wd_usec / 2000 : 5000;
	*rc = 0;
	/* Until told to stop, even with no worker alive (all died at once,
	 * their restarts pending); once stopping, until the last is gone. */
	while (!stopping || alive(&s) > 0) {
		struct timespec to = { 0, 100 * 1000000 };
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &to);
		uint64_t now = now_ms();
		if (sig == SIGHUP && !stopping) {
			sup_reload(conf, key, prev);
			hup_all(&s);
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = true;
			stop_deadline = now + STOP_SECS * 1000;
			sd_notify(0, "STOPPING=1");
			send_all(&s, SIGTERM);
		}
		/* Before reaping: a pid a worker wrote before it died is read
		 * while it is still the slot's. Every write is one pid_t
		 * (atomic), so reads come in whole pids. */
		pid_t buf[64];
		ssize_t got;
		while ((got = read(s.pipe_r, buf, sizeof buf)) > 0)
			for (ssize_t k = 0; k < got / (ssize_t)sizeof *buf; k++) {
				int i = 0;
				while (i < s.n && s.pid[i] != buf[k])
					i++;
				if (i == s.n || s.up[i])
					continue;
				s.up[i] = true;
				if (s.hup_pending[i]) {
					s.hup_pending[i] = false;
					kill(s.pid[i], SIGHUP);
				}
			}
		int status;
		pid_t pid;
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			int i = 0;
			while (i < s.n && s.pid[i] != pid)
				i++;
			if (i == s.n)
				continue;
			s.pid[i] = 0;
			s.up[i] = false;
			if (stopping)
				continue;
			char how[32];
			describe(status, how, sizeof how);
			if (!ready) {
				/* One failed to start: the edge as a whole did. */
				log_msg(LOG_ERR, "workers: worker %d (pid %d) failed to start (%s)",
					i, (int)pid, how);
				*rc = 1;
				stopping = true;
				stop_deadline = now + STOP_SECS * 1000;
				send_all(&s, SIGTERM);
				continue;
			}
			uint64_t ran = now - s.started[i];
			if (now - s.fail_since[i] > FAIL_WINDOW_SECS * 1000) {
				s.fail_since[i] = now;
				s.fails[i] = 0;
			}
			if (++s.fails[i] > FAIL_RESTARTS) {
				log_event(LOG_ERR, "workers_failing",
					  LOG_INT("index", i), LOG_INT("pid", pid),
					  LOG_STR("status", how),
					  LOG_INT("restarts", s.fails[i] - 1),
					  LOG_INT("seconds", FAIL_WINDOW_SECS),
					  LOG_STR("action", "stop"));
				*rc = 1;
				stopping = true;
				stop_deadline = now + STOP_SECS * 1000;
				send_all(&s, SIGTERM);
				continue;
			}
			s.restart_at[i] = ran < RESTART_GAP_MS ? now + RESTART_GAP_MS : now;
			log_event(LOG_WARNING, "worker_exited",
				  LOG_INT("index", i), LOG_INT("pid", pid),
				  LOG_STR("status", how), LOG_STR("action", "restart"));
		}
		int nup = 0;
		for (int i = 0; i < s.n; i++)
			nup += s.up[i];
		if (!ready && !stopping && nup >= n) {
			ready = true;
			log_event(LOG_NOTICE, "workers_started", LOG_INT("workers", n));
			sd_notify(0, "READY=1");
		}
		for (int i = 0; i < s.n && !stopping; i++)
			if (!s.pid[i] && s.restart_at[i] && now >= s.restart_at[i]) {
				int r = spawn(&s, i);
				if (r == 1) {
					*index = i;
					return true;
				}
				if (r == 0)
					log_event(LOG_NOTICE, "worker_restarted",
						  LOG_INT("index", i), LOG_INT("pid", s.pid[i]));
				else
					s.restart_at[i] = now + RESTART_GAP_MS;
			}
		if (stopping && now >= stop_deadline)
			send_all(&s, SIGKILL);
		/* Hung workers: SIGKILL, reaped and restarted above. */
		bool fresh = true;
		for (int i = 0; i < s.n && ready && !stopping; i++) {
			if (!s.pid[i] || !s.up[i])
				continue;
			uint64_t beat = __atomic_load_n(&beats[i], __ATOMIC_RELAXED);
			if (now > beat && now - beat > HANG_MS) {
				log_event(LOG_ERR, "worker_hung",
					  LOG_INT("index", i), LOG_INT("pid", s.pid[i]),
					  LOG_INT("silent_ms", (long long)(now - beat)),
					  LOG_STR("action", "kill"));
				kill(s.pid[i], SIGKILL);
				s.up[i] = false;
				fresh = false;
			}
		}
		if (ready && !stopping && now - last_tick >= tick_ms) {
			last_tick = now;
			sd_notifyf(0, "STATUS=%d of %d workers running", alive(&s), n);
			/* Only while every running worker's loop turns. */
			if (watchdog && fresh)
				sd_notify(0, "WATCHDOG=1");
		}
	}
	if (!ready)
		*rc = 1;
	log_event(LOG_NOTICE, "shutdown", LOG_STR("reason", "signal"),
		  LOG_INT("workers", n));
	return false;
}
