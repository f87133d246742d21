/* control.c - the control socket (control.h): sessions, commands, live
 * traces. Everything here runs on an operator's request, never per
 * message, except the tap (on_tap), which only runs while a trace does.
 */
#include "daemon/control.h"
#include "daemon/control_impl.h"

/* ------------------------------------------------------------ sessions */

static void session_free(struct session *s)
{
	struct control *ctl = s->ctl;
	if (s->tracing && ctl->edge->tap.watchers)
		ctl->edge->tap.watchers--;
	*(s->prev ? &s->prev->next : &ctl->sessions) = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ctl->nsessions--;
	if (s->deadline)
		event_free(s->deadline);
	bufferevent_free(s->bev);
	free(s);
}

static void on_read(struct bufferevent *bev, void *arg);
static void on_event(struct bufferevent *bev, short what, void *arg);

static void tell_dropped(struct session *s)
{
	struct rec r;
	rec_begin(&r, s);
	rec_str(&r, "trace", "dropped");
	rec_int(&r, "dropped", (long long)s->dropped);
	rec_end(&r);
	s->dropped_told = true;
}

/* Everything queued went out. An answered session half-closes and lingers
 * (2 s at most) reading what the client still sends: closing with unread
 * bytes would reset the connection before the client read the answer. A
 * trace that lost records says so now, not at the next record. */
static void on_written(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	if (s->done) {
		shutdown(bufferevent_getfd(bev), SHUT_WR);
		/* 2 s from now, whatever the client sends meanwhile. */
		struct timeval tv = { 2, 0 };
		evtimer_add(s->deadline, &tv);
		bufferevent_set_timeouts(bev, NULL, NULL);
		bufferevent_disable(bev, EV_WRITE);
		bufferevent_setcb(bev, on_read, NULL, on_event, s);
	} else if (s->tracing && s->dropped && !s->dropped_told) {
		tell_dropped(s);
	}
}

/* The last line; the session ends once it is written. */
void ctl_finish(struct session *s, const char *fmt, ...)
{
	struct evbuffer *b = bufferevent_get_output(s->bev);
	va_list ap;
	va_start(ap, fmt);
	evbuffer_add_vprintf(b, fmt, ap);
	va_end(ap);
	evbuffer_add(b, "\n", 1);
	if (s->tracing) {
		s->tracing = false;
		s->ctl->edge->tap.watchers--;
	}
	/* Still reading (and dropping) what the client sends: closing with
	 * unread bytes would reset the connection before it read the end. */
	s->done = true;
}

/* One line per command that changes something or starts a trace: what,
 * on what, who (the client's uid), and how much (key=n, if key). */
void ctl_log_command(struct session *s, const char *cmd, const char *arg,
			const char *key, long long n)
{
	log_event(LOG_NOTICE, "control_command", LOG_STR("command", cmd),
		  LOG_STR("argument", arg), LOG_INT("uid", s->uid),
		  key ? LOG_INT(key, n) : LOG_STR("x", NULL));
}

/* ------------------------------------------------------------ trace */

const char *ctl_zone_str(enum zone z)
{
	return z == ZONE_EXTERNAL ? "external" : "internal";
}

static void trace_record(struct session *s, const struct tap_event *ev)
{
	static const char *const kinds[] = { "in", "out", "decision" };
	struct rec r;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	char when[48];
	struct tm tm;
	time_t sec = ts.tv_sec;
	gmtime_r(&sec, &tm);
	size_t k = strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(when + k, sizeof when - k, ".%03ldZ", ts.tv_nsec / 1000000);
	rec_begin(&r, s);
	rec_str(&r, "trace", kinds[ev->kind]);
	rec_str(&r, "time", when);
	if (s->ctl->nworkers > 1)
		rec_int(&r, "worker", s->ctl->worker);
	char id[32], names[512];
	if (ev->conn) {
		snprintf(id, sizeof id, "c%llu", (unsigned long long)ev->conn->id);
		rec_str(&r, "conn", id);
		rec_str(&r, "zone", ctl_zone_str(ev->conn->zone));
		rec_str(&r, "peer", ev->conn->peer);
		if (ev->conn->names.n)
			rec_str(&r, "cert_names", certnames_join(&ev->conn->names, names,
								 sizeof names));
	}
	if (ev->txn) {
		snprintf(id, sizeof id, "t%llu", (unsigned long long)ev->txn);
		rec_str(&r, "txn", id);
	}
	sip_t const *sip = ev->msg ? sip_object(ev->msg) : NULL;
	if (sip && sip->sip_request)
		rec_str(&r, "method", sip->sip_request->rq_method_name);
	if (sip && sip->sip_status && ev->kind != TAP_DECISION)
		rec_int(&r, "status", sip->sip_status->st_status);
	if (sip && sip->sip_call_id)
		rec_str(&r, "call_id", sip->sip_call_id->i_id);
	if (ev->kind == TAP_DECISION) {
		rec_str(&r, "verdict", ev->verdict);
		if (ev->status)
			rec_int(&r, "status", ev->status);
		rec_str(&r, "reason", ev->reason);
		rec_str(&r, "domain", ev->domain);
		rec_str(&r, "next_hop", ev->next_hop);
	} else if (ev->msg) {
		size_t len = 0;
		char *text = sipmsg_print(ev->msg, &len);
		if (text) {
			rec_int(&r, "bytes", (long long)len);
			rec_message(&r, text, len);
			free(text);
		}
	}
	rec_end(&r);
}

static void on_tap(void *arg, const struct tap_event *ev)
{
	struct control *ctl = arg;
	for (struct session *s = ctl->sessions; s; s = s->next) {
		if (!s->tracing || !event_matches(s, ev))
			continue;
		struct evbuffer *out = bufferevent_get_output(s->bev);
		if (evbuffer_get_length(out) > TRACE_MAX_QUEUED) {
			s->dropped++;   /* the edge never waits for a reader */
			s->dropped_told = false;
			continue;
		}
		if (s->dropped && !s->dropped_told)
			tell_dropped(s);
		trace_record(s, ev);
		if (ev->kind != TAP_DECISION && ++s->seen >= s->want && s->want)
			ctl_finish(s, "OK messages=%llu dropped=%llu",
			       (unsigned long long)s->seen, (unsigned long long)s->dropped);
	}
}

static void run_command(struct session *s, char *line)
{
	char *argv[CTL_MAX_ARGS + 1];
	int argc = 0;
	long long count = 0;
	for (char *save = NULL, *t = strtok_r(line, " \t", &save); t;
	     t = strtok_r(NULL, " \t", &save)) {
		if (strcmp(t, "--json") == 0) {
			s->json = true;
			continue;
		}
		if (strcmp(t, "--count") == 0) {
			char *v = strtok_r(NULL, " \t", &save), *end = NULL;
			count = v ? strtoll(v, &end, 10) : 0;
			if (!v || *end || count < 1 || count > TRACE_MAX_COUNT) {
				ctl_finish(s, "ERR --count needs a number from 1 to %d",
				       TRACE_MAX_COUNT);
				return;
			}
			continue;
		}
		if (argc == CTL_MAX_ARGS) {
			ctl_finish(s, "ERR too many arguments");
			return;
		}
		argv[argc++] = t;
	}
	argv[argc] = NULL;
	const char *cmd = argc ? argv[0] : "";
	if (strcmp(cmd, "status") == 0 && argc == 1)
		cmd_status(s);
	else if (strcmp(cmd, "nodes") == 0 && argc == 1)
		cmd_nodes(s);
	else if (strcmp(cmd, "connections") == 0 && argc == 1)
		cmd_connections(s);
	else if (strcmp(cmd, "partners") == 0 && argc == 1)
		cmd_partners(s);
	else if (strcmp(cmd, "dns") == 0 && argc >= 2 && argc <= 3 &&
		 strcmp(argv[1], "flush") == 0)
		cmd_dns_flush(s, argv[2]);
	else if (strcmp(cmd, "drop") == 0 && argc == 2)
		cmd_drop(s, argv[1]);
	else if (strcmp(cmd, "trace") == 0 && argc == 2)
		cmd_trace(s, argv[1], count);
	else
		ctl_finish(s, "ERR unknown command or wrong arguments: try status, nodes, "
		       "connections, partners, dns flush [DOMAIN], drop DOMAIN|ADDRESS, "
		       "trace DOMAIN|ADDRESS [--count N]");
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct session *s = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	if (s->tracing || s->done) {
		evbuffer_drain(in, evbuffer_get_length(in));   /* ignored */
		return;
	}
	size_t n = 0;
	char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
	if (!line) {
		if (evbuffer_get_length(in) > CTL_MAX_LINE)
			ctl_finish(s, "ERR command line too long");
		return;
	}
	if (n > CTL_MAX_LINE || memchr(line, '\0', n))
		ctl_finish(s, "ERR command line too long or not text");
	else {
		evtimer_del(s->deadline);   /* answering: the write timeout rules */
		run_command(s, line);
	}
	free(line);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct session *s = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT))
		session_free(s);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	(void)fd; (void)what;
	session_free(arg);
}

static long peer_uid(int fd)
{
	struct ucred cr;
	socklen_t len = sizeof cr;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &len) < 0)
		return -1;
	return (long)cr.uid;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int salen, void *arg)
{
	(void)l; (void)sa; (void)salen;
	struct control *ctl = arg;
	struct event_base *base = ctl->edge->base;
	if (ctl->nsessions >= CTL_MAX_SESSIONS) {
		static const char busy[] = "ERR busy: too many sipedge-ctl sessions\n";
		ssize_t w = write(fd, busy, sizeof busy - 1);
		(void)w;
		evutil_closesocket(fd);
		return;
	}
	struct session *s = calloc(1, sizeof *s);
	if (!s || !(s->deadline = evtimer_new(base, on_deadline, s)) ||
	    !(s->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE))) {
		if (s && s->deadline)
			event_free(s->deadline);
		free(s);
		evutil_closesocket(fd);
		return;
	}
	s->ctl = ctl;
	s->uid = peer_uid(fd);
	s->next = ctl->sessions;
	if (s->next)
		s->next->prev = s;
	ctl->sessions = s;
	ctl->nsessions++;
	bufferevent_setcb(s->bev, on_read, on_written, on_event, s);
	/* The command within 10 s of the connect, however slowly it comes
	 * (a timer, not a read timeout that each byte would restart); what is
	 * written, taken within 30 s (a client that stops reading does not
	 * hold a session for good). */
	struct timeval rtv = { CTL_READ_TIMEOUT, 0 }, wtv = { CTL_WRITE_TIMEOUT, 0 };
	evtimer_add(s->deadline, &rtv);
	bufferevent_set_timeouts(s->bev, NULL, &wtv);
	bufferevent_enable(s->bev, EV_READ | EV_WRITE);
	evbuffer_add_printf(bufferevent_get_output(s->bev),
			    "# sipedge %s worker=%d workers=%d\n", PACKAGE_VERSION,
			    ctl->worker < 0 ? 0 : ctl->worker, ctl->nworkers);
}

/* ------------------------------------------------------------ socket */

const char *control_path(const char *path, int worker, char *buf, size_t len)
{
	if (worker <= 0)
		snprintf(buf, len, "%s", path);
	else
		snprintf(buf, len, "%s.%d", path, worker);
	return buf;
}

/* A leftover socket of an earlier run goes; anything else stays. */
static bool clear_stale(const char *path, char *why, size_t len)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return errno == ENOENT ||
		       (snprintf(why, len, "%s: %s", path, strerror(errno)), false);
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(why, len, "%s exists and is not a socket", path);
		return false;
	}
	/* Another sipedge answering there keeps it. */
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
	if (fd >= 0)
		close(fd);
	if (live) {
		snprintf(why, len, "%s is in use by another running sipedge", path);
		return false;
	}
	if (unlink(path) < 0) {
		snprintf(why, len, "cannot remove the old socket %s: %s", path,
			 strerror(errno));
		return false;
	}
	return true;
}

/* The socket's directory: made when missing (one level: /run/sipedge when
 * systemd did not make it), and refused when someone else could swap what
 * is in it: owned by root or us, not writable by group or others unless
 * sticky (/tmp). */
static bool make_parent(const char *path, gid_t gid, char *why, size_t len)
{
	char dir[sizeof ((struct sockaddr_un *)0)->sun_path];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash)
		return true;
	if (slash == dir)
		slash[1] = '\0';       /* "/" itself */
	else
		*slash = '\0';
	if (mkdir(dir, 0750) < 0) {
		if (errno != EEXIST) {
			snprintf(why, len, "cannot create %s: %s", dir, strerror(errno));
			return false;
		}
	} else if (gid != (gid_t)-1 && geteuid() == 0) {
		/* By descriptor: the name may be swapped, the directory not. */
		int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) < 0 || st.st_uid != geteuid() ||
		    fchown(fd, (uid_t)-1, gid) < 0) {
			snprintf(why, len, "cannot give %s to its group: %s", dir,
				 fd < 0 ? strerror(errno) : "not the directory made");
			if (fd >= 0)
				close(fd);
			return false;
		}
		close(fd);
	}
	struct stat st;
	if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(why, len, "%s is not a directory", dir);
		return false;
	}
	if ((st.st_uid != 0 && st.st_uid != geteuid()) ||
	    ((st.st_mode & (S_IWGRP | S_IWOTH)) && !(st.st_mode & S_ISVTX))) {
		snprintf(why, len, "%s may be written by others (owner %ld, mode %04o): "
			 "the socket would not be safe there", dir, (long)st.st_uid,
			 (unsigned)(st.st_mode & 07777));
		return false;
	}
	return true;
}

struct control *control_open(struct edge *e, int worker, int nworkers,
			     char *why, size_t len)
{
	const struct conf *cf = e->conf;
	why[0] = '\0';
	if (!cf->admin.control_socket || !*cf->admin.control_socket)
		return NULL;
	struct control *ctl = calloc(1, sizeof *ctl);
	if (!ctl) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	ctl->edge = e;
	ctl->fd = -1;
	ctl->worker = worker;
	ctl->nworkers = nworkers < 1 ? 1 : nworkers;
	char path[sizeof ctl->path + 16];
	control_path(cf->admin.control_socket, worker, path, sizeof path);
	if (strlen(path) >= sizeof ctl->path) {
		snprintf(why, len, "%s: path too long for a Unix socket", path);
		goto fail;
	}
	memcpy(ctl->path, path, strlen(path) + 1);      /* fits: checked above */
	gid_t gid = (gid_t)-1;
	if (cf->admin.group && *cf->admin.group) {
		struct group *g = getgrnam(cf->admin.group);
		if (!g) {
			snprintf(why, len, "no such group '%s' (admin.group)", cf->admin.group);
			goto fail;
		}
		gid = g->gr_gid;
	}
	if (!make_parent(ctl->path, gid, why, len) || !clear_stale(ctl->path, why, len))
		goto fail;
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	memcpy(sun.sun_path, ctl->path, strlen(ctl->path) + 1);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (ctl->fd < 0) {
		snprintf(why, len, "socket: %s", strerror(errno));
		goto fail;
	}
	/* Made with its mode (umask) and its group (effective gid) from the
	 * start: no chmod or chown by name afterwards, which would follow
	 * whatever someone put at the name in between. */
	mode_t old = umask(0117);
	gid_t egid = getegid();
	bool switched = gid != (gid_t)-1 && geteuid() == 0 && setegid(gid) == 0;
	int rc = bind(ctl->fd, (struct sockaddr *)&sun, sizeof sun);
	int err = errno;
	if (switched && setegid(egid) < 0)
		abort();                /* cannot happen as root; never go on */
	umask(old);
	if (rc < 0) {
		snprintf(why, len, "bind %s: %s", ctl->path, strerror(err));
		goto fail;
	}
	struct stat st;
	if (lstat(ctl->path, &st) < 0 || !S_ISSOCK(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 07777) != 0660 ||
	    (switched && st.st_gid != gid)) {
		snprintf(why, len, "%s: not the socket just made with mode 0660 and "
			 "group %s", ctl->path, cf->admin.group && *cf->admin.group
			 ? cf->admin.group : "(ours)");
		goto fail;
	}
	if (listen(ctl->fd, 16) < 0) {
		snprintf(why, len, "listen %s: %s", ctl->path, strerror(errno));
		unlink(ctl->path);
		goto fail;
	}
	e->tap.fn = on_tap;
	e->tap.arg = ctl;
	return ctl;
fail:
	if (ctl->fd >= 0)
		close(ctl->fd);
	free(ctl);
	return NULL;
}

void control_start(struct control *ctl)
{
	if (!ctl || ctl->lis)
		return;
	ctl->lis = evconnlistener_new(ctl->edge->base, on_accept, ctl,
				      LEV_OPT_CLOSE_ON_FREE, -1, ctl->fd);
	if (!ctl->lis)
		log_msg(LOG_ERR, "control socket %s: cannot listen", ctl->path);
}

void control_free(struct control *ctl)
{
	if (!ctl)
		return;
	while (ctl->sessions)
		session_free(ctl->sessions);
	if (ctl->edge->tap.arg == ctl) {
		ctl->edge->tap.fn = NULL;
		ctl->edge->tap.arg = NULL;
		ctl->edge->tap.watchers = 0;
	}
	if (ctl->lis)
		evconnlistener_free(ctl->lis);
	else if (ctl->fd >= 0)
		close(ctl->fd);
	unlink(ctl->path);   /* may fail after the privilege drop: harmless */
	free(ctl);
}
