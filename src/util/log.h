/* log.h - syslog (always) plus stderr (foreground), one line per event.
 *
 * Event lines are an interface documented in sipedge(8):
 *   event=<name> id=<conn or txn id> key=value ...
 * Values containing spaces or quotes are quoted by log_kv_*.
 */
#ifndef SIPEDGE_LOG_H
#define SIPEDGE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <syslog.h>

void log_open(const char *ident, int facility, int level, bool to_stderr);
/* New ident/facility/level, same stderr choice (reload). openlog() keeps
 * the ident pointer: it must outlive the next call. */
void log_reopen(const char *ident, int facility, int level);
void log_set_level(int level);
bool log_enabled(int level);
void log_msg(int level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/*
 * Build one event line: log_event(LOG_NOTICE, "inbound_rejected",
 *   "peer", peer, "code", "403", NULL). Pairs of key, value; NULL values
 * are skipped; values are quoted when they contain spaces, '"' or '='.
 */
void log_event(int level, const char *event, ...);

/* May an event driven by outside traffic be logged now? At most once a
 * second per (event, reason); *suppressed gets how many were not logged
 * since the last one. event and reason must outlive the process (string
 * literals, slugs). */
bool log_flood_allow(const char *event, const char *reason, unsigned *suppressed);

/* event=limit_reached limit=LIMIT [peer=PEER] [suppressed=N], at most once
 * a second per limit: a flood must not flood syslog. */
void log_limit_reached(const char *limit, const char *peer);

#endif
