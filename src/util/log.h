/* log.h - syslog or the journal, plus stderr (foreground), one line per
 * event.
 *
 * Event lines are an interface documented in sipedge(8):
 *   event=<name> key=value ... [conn=c<id>] [txn=t<id>]
 * Values containing spaces or quotes are quoted by log_kv_*.
 */
#ifndef SIPEDGE_LOG_H
#define SIPEDGE_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <syslog.h>

void log_open(const char *ident, int facility, int level, bool to_stderr);
/* New ident/facility/level, same stderr choice (reload). openlog() keeps
 * the ident pointer: it must outlive the next call. */
void log_reopen(const char *ident, int facility, int level);
void log_set_level(int level);

/* log.target (edge.conf(5)): syslog, or the journal. util does no I/O of
 * its own beyond syslog(3): the daemon hands in the journal's sender
 * (sd_journal_sendv), a test a fake. With a sender set, each line goes to
 * it as MESSAGE=, with PRIORITY=, SYSLOG_IDENTIFIER= (the ident),
 * SYSLOG_FACILITY= and, for an event, EVENT=<name> and one field per
 * key=value pair (the key through log_journal_field(), the value as it is,
 * cut at LOG_JOURNAL_VALUE_MAX bytes), so that
 *   journalctl -u sipedge EVENT=inbound_rejected DOMAIN=partner.example
 * finds them. A line the sender refuses (< 0) goes to syslog. */
enum log_target { LOG_TARGET_SYSLOG = 0, LOG_TARGET_JOURNAL = 1 };
struct iovec;
typedef int log_journal_fn(const struct iovec *iov, int n);
void log_set_journal(log_journal_fn *send);     /* NULL: syslog */
#define LOG_JOURNAL_VALUE_MAX 1024
#define LOG_JOURNAL_FIELDS_MAX 48       /* fields of one entry, all told */

/* The journal field name of an event key, into out (at most
 * LOG_JOURNAL_NAME_MAX bytes and a NUL): A-Z, 0-9 and '_' only, letters
 * upper-cased, any other byte as '_'; a name that would start with '_' or
 * a digit, or that is one of the journal's own fields (MESSAGE, PRIORITY,
 * SYSLOG_IDENTIFIER, ...) or EVENT, gets the prefix "SE_". Returns the
 * length, 0 for an empty key (the pair is then left out). */
#define LOG_JOURNAL_NAME_MAX 64
size_t log_journal_field(const char *key, char *out, size_t len);
bool log_enabled(int level);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * One event line, typed: every value goes through a LOG_* constructor, so
 * a value of the wrong type, or a bare "key", "value" pair, does not
 * compile. The macro appends the end marker itself.
 *
 *   log_event(LOG_NOTICE, "inbound_rejected", LOG_STR("reason", slug),
 *             LOG_INT("status", 403), LOG_COUNT("suppressed", dropped),
 *             LOG_CONN(c->id), LOG_TXN(t ? t->id : 0));
 *
 * prints event=inbound_rejected reason=... status=403 conn=c7 txn=t12.
 * Left out: a NULL string, a count of 0, an id of 0. Strings are quoted
 * when empty or when they contain spaces, tabs, '"' or '='.
 */
enum log_kind { LOG_K_STR, LOG_K_INT, LOG_K_COUNT, LOG_K_ID };

struct log_kv {
	const char *key;
	enum log_kind kind;
	const char *s;                  /* LOG_K_STR */
	long long i;                    /* LOG_K_INT */
	unsigned long long u;           /* LOG_K_COUNT, LOG_K_ID */
	char tag;                       /* LOG_K_ID: printed before the number */
};

#define LOG_STR(k, v) (&(const struct log_kv){ .key = (k), .kind = LOG_K_STR, .s = (v) })
#define LOG_INT(k, v) (&(const struct log_kv){ .key = (k), .kind = LOG_K_INT, .i = (v) })
#define LOG_COUNT(k, v) (&(const struct log_kv){ .key = (k), .kind = LOG_K_COUNT, .u = (v) })
#define LOG_ID(k, t, v) \
	(&(const struct log_kv){ .key = (k), .kind = LOG_K_ID, .tag = (t), .u = (v) })
/* The session ids every line about a connection or transaction carries. */
#define LOG_CONN(id) LOG_ID("conn", 'c', (id))
#define LOG_TXN(id) LOG_ID("txn", 't', (id))

/* The end marker the log_event() macro appends: not written by callers. */
#define LOG_END ((const struct log_kv *)0)

/* With edge.workers > 1: every event line of this process ends with
 * worker=<index> (0-based); the supervisor's own lines have none. */
void log_set_worker(int index);

void log_event_kv(int level, const char *event, const struct log_kv *const kv[]);
#define log_event(level, event, ...) \
	log_event_kv((level), (event), (const struct log_kv *const[]){ __VA_ARGS__, LOG_END })

/* May an event driven by outside traffic be logged now? At most once a
 * second per (event, reason); *suppressed gets how many were not logged
 * since the last one. event and reason must outlive the process (string
 * literals, slugs). */
bool log_flood_allow(const char *event, const char *reason, unsigned *suppressed);

/* event=limit_reached limit=LIMIT [peer=PEER] [suppressed=N], at most once
 * a second per limit: a flood must not flood syslog. */
void log_limit_reached(const char *limit, const char *peer);

#endif
