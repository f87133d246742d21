/* sipedge-ctl - talk to a running sipedge over its control socket.
 *
 * One command per connection (see src/daemon/control.h for the line
 * protocol). With edge.workers > 1 every worker has its own socket
 * (PATH, PATH.1, ...): the greeting names how many, and the command goes
 * to each in turn, or, for trace, to all at once.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

#define DEFAULT_SOCKET "/run/sipedge/control.sock"
#define MAX_WORKERS 256
/* Above the largest record the daemon sends: a trace's 16 KB of message
 * text, escaped in JSON (at most 6 bytes a byte), and its keys. */
#define LINE_MAX_BYTES (256 * 1024)
#define REPLY_TIMEOUT_MS 10000

struct peer {
	int fd;
	const char *cmd;           /* to send after the greeting */
	char buf[LINE_MAX_BYTES];
	size_t len;
	bool greeted, done, failed;
	int workers;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sipedge-ctl [-s SOCKET] [--json] COMMAND\n"
		"commands:\n"
		"  status                      version, uptime, configuration, last reload\n"
		"  nodes                       the IM and Presence nodes and their state\n"
		"  connections                 open connections, peers, certificates, bytes\n"
		"  partners                    partner domains seen, last verdict, counts\n"
		"  dns flush [DOMAIN]          forget cached DNS answers\n"
		"  drop DOMAIN|ADDRESS         close that partner's connections now\n"
		"  trace DOMAIN|ADDRESS [--count N]\n"
		"                              stream the partner's SIP messages and the\n"
		"                              edge's decisions (Ctrl-C ends it)\n"
		"default SOCKET: %s (admin.control_socket)\n", DEFAULT_SOCKET);
}

static int dial(const char *path, bool quiet)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof sun.sun_path) {
		fprintf(stderr, "sipedge-ctl: %s: path too long\n", path);
		return -1;
	}
	memcpy(sun.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof sun) < 0) {
		int err = errno;
		if (!quiet) {
			fprintf(stderr, "sipedge-ctl: cannot connect to %s: %s\n", path,
				strerror(err));
			if (err == EACCES)
				fprintf(stderr, "sipedge-ctl: the socket is for root and the "
					"members of admin.group\n");
			else if (err == ENOENT || err == ECONNREFUSED)
				fprintf(stderr, "sipedge-ctl: is sipedge running, with "
					"admin.control_socket = \"%s\"?\n", path);
		}
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

static bool send_all(int fd, const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, s, n, MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return false;
		s += w;
		n -= (size_t)w;
	}
	return true;
}

/* Is this record a message (not a decision) of a trace? */
static bool is_message(const char *line)
{
	return strncmp(line, "trace=in ", 9) == 0 || strncmp(line, "trace=out ", 10) == 0 ||
	       strncmp(line, "{\"trace\":\"in\"", 13) == 0 ||
	       strncmp(line, "{\"trace\":\"out\"", 14) == 0;
}

/* One complete line from the server. Returns false once the reply ended. */
static bool handle_line(struct peer *p, char *line, unsigned long *messages, int *rc)
{
	if (!p->greeted) {
		p->greeted = true;
		const char *w = strstr(line, " workers=");
		if (strncmp(line, "# sipedge ", 10) != 0) {
			fprintf(stderr, "sipedge-ctl: not a sipedge control socket "
				"(or it is busy): %s\n", line);
			p->failed = true;
			*rc = 1;
			return false;
		}
		p->workers = w ? atoi(w + 9) : 1;
		if (p->cmd && !send_all(p->fd, p->cmd, strlen(p->cmd))) {
			fprintf(stderr, "sipedge-ctl: cannot send the command: %s\n",
				strerror(errno));
			p->failed = true;
			*rc = 1;
			return false;
		}
		return true;
	}
	if (line[0] == '#')
		return true;
	if (strcmp(line, "OK") == 0)
		return false;
	if (strncmp(line, "OK ", 3) == 0) {
		fprintf(stderr, "sipedge-ctl: %s\n", line + 3);
		return false;
	}
	if (strncmp(line, "ERR", 3) == 0) {
		fprintf(stderr, "sipedge-ctl: %s\n", line[3] ? line + 4 : "error");
		p->failed = true;
		*rc = 1;
		return false;
	}
	puts(line);
	if (is_message(line))
		(*messages)++;
	return true;
}

/* Read what arrived on p; false once its reply ended or it failed. */
static bool pump(struct peer *p, unsigned long *messages, int *rc)
{
	ssize_t r = recv(p->fd, p->buf + p->len, sizeof p->buf - 1 - p->len, 0);
	if (r < 0 && errno == EINTR)
		return true;
	if (r <= 0) {
		if (!p->done) {
			fprintf(stderr, "sipedge-ctl: the daemon closed the connection\n");
			*rc = 1;
		}
		return false;
	}
	p->len += (size_t)r;
	p->buf[p->len] = '\0';
	char *start = p->buf, *nl;
	while ((nl = memchr(start, '\n', p->len - (size_t)(start - p->buf)))) {
		*nl = '\0';
		if (!handle_line(p, start, messages, rc)) {
			p->done = true;
			return false;
		}
		start = nl + 1;
	}
	p->len -= (size_t)(start - p->buf);
	memmove(p->buf, start, p->len);
	if (p->len == sizeof p->buf - 1) {
		fprintf(stderr, "sipedge-ctl: a line longer than %d bytes\n", LINE_MAX_BYTES);
		*rc = 1;
		return false;
	}
	return true;
}

/* Run the command line `cmd` on the sockets in paths[0..n); for a trace,
 * stop once `want` messages arrived in total (0: never). */
static int run(char paths[][PATH_MAX], int n, const char *cmd, bool trace,
	       unsigned long want, int *workers_seen)
{
	struct peer *peers = calloc((size_t)n, sizeof *peers);
	struct pollfd *pf = calloc((size_t)n, sizeof *pf);
	int rc = 0, open_n = 0;
	unsigned long messages = 0;
	if (!peers || !pf) {
		fprintf(stderr, "sipedge-ctl: out of memory\n");
		free(peers);
		free(pf);
		return 1;
	}
	for (int i = 0; i < n; i++) {
		peers[i].fd = dial(paths[i], false);
		if (peers[i].fd < 0) {
			rc = 1;
			peers[i].done = true;
			continue;
		}
		peers[i].cmd = cmd;    /* sent once the greeting is read */
		open_n++;
	}
	while (open_n > 0 && !(trace && want && messages >= want)) {
		int k = 0;
		for (int i = 0; i < n; i++)
			if (!peers[i].done && peers[i].fd >= 0) {
				pf[k].fd = peers[i].fd;
				pf[k].events = POLLIN;
				k++;
			}
		int r = poll(pf, (nfds_t)k, trace ? -1 : REPLY_TIMEOUT_MS);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "sipedge-ctl: no answer within %d s\n",
				REPLY_TIMEOUT_MS / 1000);
			rc = 1;
			break;
		}
		for (int j = 0; j < k; j++) {
			if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			for (int i = 0; i < n; i++) {
				if (peers[i].fd != pf[j].fd || peers[i].done)
					continue;
				if (!pump(&peers[i], &messages, &rc)) {
					peers[i].done = true;
					open_n--;
				}
				if (peers[i].workers > *workers_seen)
					*workers_seen = peers[i].workers;
			}
		}
		fflush(stdout);
	}
	for (int i = 0; i < n; i++)
		if (peers[i].fd >= 0)
			close(peers[i].fd);
	free(peers);
	free(pf);
	return rc;
}

int main(int argc, char **argv)
{
	const char *sock = DEFAULT_SOCKET;
	bool json = false;
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "-s") == 0 && i + 1 < argc)
			sock = argv[++i];
		else if (strcmp(argv[i], "--json") == 0)
			json = true;
		else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			usage(stdout);
			return 0;
		} else if (strcmp(argv[i], "-V") == 0) {
			printf("sipedge-ctl %s\n", PACKAGE_VERSION);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return 2;
	}
	/* The command line as the server reads it. */
	char cmd[1024] = "";
	size_t at = 0;
	bool trace = strcmp(argv[i], "trace") == 0;
	unsigned long want = 0;
	for (int k = i; k < argc; k++) {
		if (strcmp(argv[k], "--json") == 0) {
			json = true;
			continue;
		}
		if (strcmp(argv[k], "--count") == 0 && k + 1 < argc) {
			char *end;
			want = strtoul(argv[k + 1], &end, 10);
			if (*end || want == 0) {
				fprintf(stderr, "sipedge-ctl: --count needs a positive number\n");
				return 2;
			}
		}
		if (strpbrk(argv[k], "\r\n") || at + strlen(argv[k]) + 2 >= sizeof cmd) {
			fprintf(stderr, "sipedge-ctl: arguments too long or not one line\n");
			return 2;
		}
		at += (size_t)snprintf(cmd + at, sizeof cmd - at, "%s%s", at ? " " : "", argv[k]);
	}
	if (at + sizeof " --json\n" > sizeof cmd) {
		fprintf(stderr, "sipedge-ctl: arguments too long\n");
		return 2;
	}
	if (json)
		at += (size_t)snprintf(cmd + at, sizeof cmd - at, " --json");
	snprintf(cmd + at, sizeof cmd - at, "\n");
	signal(SIGPIPE, SIG_IGN);

	static char paths[MAX_WORKERS][PATH_MAX];
	snprintf(paths[0], PATH_MAX, "%s", sock);
	int workers = 1;
	if (!trace) {
		/* Worker 0 first; its greeting says whether there are more. */
		int rc = run(paths, 1, cmd, false, 0, &workers);
		for (int w = 1; w < workers && w < MAX_WORKERS; w++) {
			snprintf(paths[0], PATH_MAX, "%s.%d", sock, w);
			int dummy = 0;
			rc |= run(paths, 1, cmd, false, 0, &dummy);
		}
		return rc;
	}
	/* A trace listens to every worker at once: ask worker 0 how many. */
	int fd = dial(sock, false);
	if (fd < 0)
		return 1;
	char greet[256];
	ssize_t r = recv(fd, greet, sizeof greet - 1, 0);
	close(fd);
	if (r > 0) {
		greet[r] = '\0';
		const char *w = strstr(greet, " workers=");
		workers = w ? atoi(w + 9) : 1;
	}
	if (workers < 1 || workers > MAX_WORKERS)
		workers = 1;
	for (int w = 1; w < workers; w++)
		snprintf(paths[w], PATH_MAX, "%s.%d", sock, w);
	int seen = 0;
	return run(paths, workers, cmd, true, want, &seen);
}
