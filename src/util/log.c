/* log.c - syslog always, stderr as well in the foreground. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "util/log.h"

static int cur_level = LOG_INFO;
static bool use_stderr;
static int worker = -1;             /* log_set_worker(); -1: one process */

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

void log_set_worker(int index)
{
	worker = index;
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

/* One value as text; NULL when the pair is left out. */
static const char *kv_text(const struct log_kv *kv, char *buf, size_t len)
{
	switch (kv->kind) {
	case LOG_K_STR:
		return kv->s;
	case LOG_K_INT:
		snprintf(buf, len, "%lld", kv->i);
		return buf;
	case LOG_K_COUNT:
		if (!kv->u)
			return NULL;
		snprintf(buf, len, "%llu", kv->u);
		return buf;
	case LOG_K_ID:
		if (!kv->u)
			return NULL;
		snprintf(buf, len, "%c%llu", kv->tag, kv->u);
		return buf;
	}
	return NULL;
}

void log_event_kv(int level, const char *event, const struct log_kv *const kv[])
{
	if (!log_enabled(level))
		return;
	char line[4096], num[32];
	size_t off = (size_t)snprintf(line, sizeof line, "event=%s", event);
	for (; *kv; kv++) {
		const char *v = kv_text(*kv, num, sizeof num);
		if (v)
			off = append_kv(line, off, sizeof line, (*kv)->key, v);
	}
	if (worker >= 0) {
		snprintf(num, sizeof num, "%d", worker);
		off = append_kv(line, off, sizeof line, "worker", num);
	}
	emit(level, line);
}

bool log_flood_allow(const char *event, const char *reason, unsigned *suppressed)
{
	/* Keys are string literals or slugs from fixed tables: compared by
	 * content, kept by pointer. Beyond the table every key shares the
	 * last slot, so an unknown number of reasons is still bounded. */
	static struct { const char *event, *reason; time_t last; unsigned dropped; } seen[64];
	time_t now = time(NULL);
	size_t n = sizeof seen / sizeof seen[0], i = 0;
	if (!reason)
		reason = "";
	for (; i < n - 1 && seen[i].event; i++)
		if (strcmp(seen[i].event, event) == 0 && strcmp(seen[i].reason, reason) == 0)
			break;
	if (!seen[i].event) {
		seen[i].event = event;
		seen[i].reason = reason;
	}
	if (seen[i].last == now) {
		seen[i].dropped++;
		return false;
	}
	seen[i].last = now;
	*suppressed = seen[i].dropped;
	seen[i].dropped = 0;
	return true;
}

void log_limit_reached(const char *limit, const char *peer)
{
	unsigned dropped;
	if (!log_flood_allow("limit_reached", limit, &dropped))
		return;
	log_event(LOG_WARNING, "limit_reached", LOG_STR("limit", limit), LOG_STR("peer", peer),
		  LOG_COUNT("suppressed", dropped));
}
