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

#include "daemon/workers.h"
#include "core/rate.h"
#include "core/types.h"
#include "util/counters.h"
#include "util/log.h"

#define MAX_WORKERS 64
#define RATE_SLOTS 4096
#define NODE_SLOTS 1024    /* internal.nodes shared health covers */
#define STOP_SECS 15       /* SIGTERM drains 5 s at most; then SIGKILL */
#define RESTART_GAP_MS 1000 /* a worker that keeps dying restarts at most once a second */

static int ready_fd = -1;   /* worker: write end of the supervisor's pipe */

int workers_count(const struct conf *c)
{
	if (c->edge.workers > 0)
		return c->edge.workers;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > MAX_WORKERS ? MAX_WORKERS : (int)n;
}

void workers_ready(void)
{
	if (ready_fd >= 0) {
		ssize_t w = write(ready_fd, "r", 1);
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
	int pipe_r, pipe_w;
	sigset_t old;
};

/* Returns 0 in the parent (pid recorded), 1 in the new worker, -1 on error. */
static int spawn(struct sup *s, int i)
{
	pid_t parent = getpid();
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

static void describe(int status, char *buf, size_t len)
{
	if (WIFSIGNALED(status))
		snprintf(buf, len, "signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
}

bool workers_run(int n, int *index, struct workers_shared *sh, int *rc)
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
	void *umem = mmap(NULL, NODE_SLOTS * sizeof(bool), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (!counters_share((size_t)n) || rmem == MAP_FAILED || umem == MAP_FAILED ||
	    !(sh->rates = rate_table_place(rmem, RATE_SLOTS)) || pipe2(fds, O_CLOEXEC) < 0) {
		log_msg(LOG_ERR, "workers: cannot make the shared tables: %s", strerror(errno));
		return false;
	}
	sh->node_up = umem;
	sh->node_up_n = NODE_SLOTS;
	for (size_t i = 0; i < NODE_SLOTS; i++)
		sh->node_up[i] = true;
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
	int nready = 0;
	uint64_t stop_deadline = stopping ? now_ms() + STOP_SECS * 1000 : 0, last_tick = 0;
	uint64_t wd_usec = 0;
	bool watchdog = sd_watchdog_enabled(0, &wd_usec) > 0 && wd_usec > 0;
	uint64_t tick_ms = watchdog && wd_usec / 2000 < 5000 ? wd_usec / 2000 : 5000;
	*rc = 0;
	while (alive(&s) > 0) {
		struct timespec to = { 0, 100 * 1000000 };
		siginfo_t si;
		int sig = sigtimedwait(&set, &si, &to);
		uint64_t now = now_ms();
		if (sig == SIGHUP && !stopping) {
			send_all(&s, SIGHUP);
		} else if ((sig == SIGTERM || sig == SIGINT) && !stopping) {
			stopping = true;
			stop_deadline = now + STOP_SECS * 1000;
			sd_notify(0, "STOPPING=1");
			send_all(&s, SIGTERM);
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
			s.restart_at[i] = ran < RESTART_GAP_MS ? now + RESTART_GAP_MS : now;
			log_event(LOG_WARNING, "worker_exited",
				  LOG_INT("index", i), LOG_INT("pid", pid),
				  LOG_STR("status", how), LOG_STR("action", "restart"));
		}
		char buf[64];
		ssize_t got;
		while ((got = read(s.pipe_r, buf, sizeof buf)) > 0)
			nready += (int)got;
		if (!ready && !stopping && nready >= n) {
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
		if (ready && !stopping && now - last_tick >= tick_ms) {
			last_tick = now;
			sd_notifyf(0, "STATUS=%d of %d workers running", alive(&s), n);
			if (watchdog)
				sd_notify(0, "WATCHDOG=1");
		}
	}
	if (!ready)
		*rc = 1;
	log_event(LOG_NOTICE, "shutdown", LOG_STR("reason", "signal"),
		  LOG_INT("workers", n));
	return false;
}
