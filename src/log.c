/* log.c - syslog always, stderr as well in the foreground. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "log.h"

static int cur_level = LOG_INFO;
static bool use_stderr;

void log_open(const char *ident, int facility, int level, bool to_stderr)
{
	closelog();
	openlog(ident, LOG_PID | LOG_NDELAY, facility);
	cur_level = level;
	use_stderr = to_stderr;
}

void log_reopen(const char *ident, int facility, int level)
{
	log_open(ident, facility, level, use_stderr);
}

void log_set_level(int level)
{
	cur_level = level;
}

bool log_enabled(int level)
{
	return level <= cur_level;
}

static void emit(int level, const char *line)
{
	syslog(level, "%s", line);
	if (use_stderr) {
		static const char *names[] = { "emerg", "alert", "crit", "err",
			"warning", "notice", "info", "debug" };
		char ts[32];
		time_t now = time(NULL);
		strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", localtime(&now));
		fprintf(stderr, "%s %s %s\n", ts, names[level & 7], line);
	}
}

void log_msg(int level, const char *fmt, ...)
{
	if (!log_enabled(level))
		return;
	char line[4096];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	emit(level, line);
}

/* Append " key=value", quoting values a parser would otherwise split. */
static size_t append_kv(char *buf, size_t off, size_t len, const char *k,
			const char *v)
{
	bool quote = *v == '\0' || strpbrk(v, " \t\"=") != NULL;
	int n = snprintf(buf + off, len - off, " %s=%s", k, quote ? "\"" : "");
	if (n < 0 || (size_t)n >= len - off)
		return len - 1;
	off += (size_t)n;
	for (const char *p = v; *p && off + 3 < len; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			buf[off++] = '\\';
		buf[off++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (quote && off + 1 < len)
		buf[off++] = '"';
	buf[off] = '\0';
	return off;
}

void log_event(int level, const char *event, ...)
{
	if (!log_enabled(level))
		return;
	char line[4096];
	size_t off = (size_t)snprintf(line, sizeof line, "event=%s", event);
	va_list ap;
	va_start(ap, event);
	for (;;) {
		const char *k = va_arg(ap, const char *);
		if (!k)
			break;
		const char *v = va_arg(ap, const char *);
		if (v)
			off = append_kv(line, off, sizeof line, k, v);
	}
	va_end(ap);
	emit(level, line);
}

void log_limit_reached(const char *limit, const char *peer)
{
	static struct { const char *limit; time_t last; } seen[8];
	time_t now = time(NULL);
	size_t i = 0;
	for (; i < sizeof seen / sizeof seen[0] && seen[i].limit; i++)
		if (strcmp(seen[i].limit, limit) == 0)
			break;
	if (i < sizeof seen / sizeof seen[0]) {
		if (seen[i].limit && seen[i].last == now)
			return;
		seen[i].limit = limit;   /* string literals: they outlive us */
		seen[i].last = now;
	}
	log_event(LOG_WARNING, "limit_reached", "limit", limit, "peer", peer, NULL);
}
