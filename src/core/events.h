/* events.h - names, levels and reason slugs of the events sipedge logs
 * (the table is events.def). Pure lookups: core does not log. */
#ifndef SIPEDGE_EVENTS_H
#define SIPEDGE_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

/* Syslog priorities by number (RFC 5424), so core needs no <syslog.h>. */
enum event_level { EVL_ERR = 3, EVL_WARNING = 4, EVL_NOTICE = 5, EVL_INFO = 6,
		   EVL_DEBUG = 7 };

enum event_id {
#define EVENT(id, name, level, text) id,
#define REASON(event, slug, status, counted)
#include "core/events.def"
#undef EVENT
#undef REASON
	EV_COUNT
};

struct event_reason {
	enum event_id event;
	const char *slug;
	int status;             /* the SIP status it answers; 0: none */
	bool counted;           /* in sipedge_rejections_total */
};

/* event_name(EV_INBOUND_REJECTED) is "inbound_rejected": the name in the
 * log line and the event label of sipedge_rejections_total. */
const char *event_name(enum event_id ev);
/* The id of an event name; EV_COUNT for a name not in the table. */
enum event_id event_by_name(const char *name);
int event_level(enum event_id ev);
const char *event_text(enum event_id ev);
/* The row of (ev, slug), NULL for a slug the table does not know (a
 * free-text reason, such as message_rejected's from the framer). */
const struct event_reason *event_reason(enum event_id ev, const char *slug);
/* Every reason row, in table order: *n gets their number. */
const struct event_reason *event_reasons(size_t *n);

#endif
