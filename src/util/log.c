/* log.c - syslog or the journal, stderr as well in the foreground. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "util/log.h"

static int cur_level = LOG_INFO;
static bool use_stderr;
static int worker = -1;             /* log_set_worker(); -1: one process */
static log_journal_fn *journal;     /* log_set_journal(); NULL: syslog */
static const char *cur_ident = "sipedge";   /* the caller's, as openlog() */
static int cur_facility = LOG_DAEMON;

void log_open(const char *ident, int facility, int level, bool to_stderr)
{
	closelog();
	openlog(ident, LOG_PID | LOG_NDELAY, facility);
	cur_ident = ident;
	cur_facility = facility;
	cur_level = level;
	use_stderr = to_stderr;
}

void log_set_journal(log_journal_fn *send)
{
	journal = send;
}

/* ------------------------------------------------------------ journal */

/* Bounds of one journal entry: a flood of long values must not grow it. */
#define J_FIELDS LOG_JOURNAL_FIELDS_MAX
#define J_VALUE_MAX LOG_JOURNAL_VALUE_MAX

struct jentry {
	struct iovec iov[J_FIELDS];
	size_t n, off;
	char buf[16384];
};

static const char *const j_reserved[] = {
	"MESSAGE", "MESSAGE_ID", "PRIORITY", "CODE_FILE", "CODE_LINE",
	"CODE_FUNC", "ERRNO", "INVOCATION_ID", "USER_INVOCATION_ID",
	"SYSLOG_FACILITY", "SYSLOG_IDENTIFIER", "SYSLOG_PID",
	"SYSLOG_TIMESTAMP", "SYSLOG_RAW", "DOCUMENTATION", "TID", "UNIT",
	"USER_UNIT", "OBJECT_PID", "EVENT", NULL
};

size_t log_journal_field(const char *key, char *out, size_t len)
{
	size_t max = len ? len - 1 : 0, n = 0;
	if (max > LOG_JOURNAL_NAME_MAX)
		max = LOG_JOURNAL_NAME_MAX;
	if (!key || !*key || max < 4) {
		if (len)
			out[0] = '\0';
		return 0;
	}
	bool prefix = *key == '_' || (*key >= '0' && *key <= '9');
	if (prefix)
		n = (size_t)snprintf(out, len, "SE_");
	for (const char *p = key; *p && n < max; p++) {
		char c = *p;
		if (c >= 'a' && c <= 'z')
			c = (char)(c - 'a' + 'A');
		else if (!(c >= 'A' && c <= 'Z') && !(c >= '0' && c <= '9'))
			c = '_';
		out[n++] = c;
	}
	out[n] = '\0';
	for (const char *const *r = j_reserved; !prefix && *r; r++) {
		if (strcmp(out, *r) == 0) {
			if (n + 3 > max) {
				out[0] = '\0';
				return 0;
			}
			memmove(out + 3, out, n + 1);
			memcpy(out, "SE_", 3);
			n += 3;
			break;
		}
	}
	return n;
}

/* Appends NAME=value (value cut at vlen bytes); dropped when full. */
static void j_add(struct jentry *j, const char *name, const char *value,
		  size_t vlen)
{
	size_t nlen = strlen(name);
	if (j->n >= J_FIELDS || j->off + nlen + 1 + vlen > sizeof j->buf)
		return;
	char *p = j->buf + j->off;
	memcpy(p, name, nlen);
	p[nlen] = '=';
	memcpy(p + nlen + 1, value, vlen);
	j->iov[j->n++] = (struct iovec){ .iov_base = p, .iov_len = nlen + 1 + vlen };
	j->off += nlen + 1 + vlen;
}

/* The fields j_send() adds last always fit: the pairs leave them room. */
#define J_FIXED 4                   /* MESSAGE, PRIORITY, SYSLOG_FACILITY, _IDENTIFIER */
#define J_FIXED_BYTES (4096 + 512)  /* the line (4095 at most) and the others */
#define J_IDENT_MAX 256

static void j_pair(struct jentry *j, const char *key, const char *value)
{
	char name[LOG_JOURNAL_NAME_MAX + 1];
	size_t nlen = log_journal_field(key, name, sizeof name);
	size_t vlen = strnlen(value, J_VALUE_MAX);
	if (nlen && j->n < J_FIELDS - J_FIXED &&
	    j->off + nlen + 1 + vlen <= sizeof j->buf - J_FIXED_BYTES)
		j_add(j, name, value, vlen);
}

static bool j_send(int level, const char *line, struct jentry *j)
{
	char num[16];
	j_add(j, "MESSAGE", line, strlen(line));
	snprintf(num, sizeof num, "%d", level & 7);
	j_add(j, "PRIORITY", num, strlen(num));
	snprintf(num, sizeof num, "%d", cur_facility >> 3);
	j_add(j, "SYSLOG_FACILITY", num, strlen(num));
	j_add(j, "SYSLOG_IDENTIFIER", cur_ident, strnlen(cur_ident, J_IDENT_MAX));
	return journal(j->iov, (int)j->n) >= 0;
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

/* j: the event's fields for the journal, or NULL (then only the line). */
static void emit(int level, const char *line, struct jentry *j)
{
	static struct jentry plain;
	if (journal) {
		if (!j) {
			plain.n = plain.off = 0;
			j = &plain;
		}
		if (!j_send(level, line, j))
			syslog(level, "%s", line);  /* no journal: not lost */
	} else {
		syslog(level, "%s", line);
	}
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
	emit(level, line, NULL);
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
	/* The line and the journal's fields come from the same pairs. */
	static struct jentry jent;      /* 16 KiB: not on a worker's stack */
	struct jentry *j = journal ? &jent : NULL;
	if (j) {
		j->n = j->off = 0;
		j_add(j, "EVENT", event, strnlen(event, J_VALUE_MAX));
	}
	size_t off = (size_t)snprintf(line, sizeof line, "event=%s", event);
	for (; *kv; kv++) {
		const char *v = kv_text(*kv, num, sizeof num);
		if (!v)
			continue;
		off = append_kv(line, off, sizeof line, (*kv)->key, v);
		if (j)
			j_pair(j, (*kv)->key, v);
	}
	if (worker >= 0) {
		snprintf(num, sizeof num, "%d", worker);
		off = append_kv(line, off, sizeof line, "worker", num);
		if (j)
			j_pair(j, "worker", num);
	}
	emit(level, line, j);
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
