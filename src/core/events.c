/* events.c - lookups in events.def. */
#include <string.h>

#include "core/events.h"

static const struct {
	const char *name, *text;
	int level;
} events[EV_COUNT] = {
#define EVENT(id, name, level, text) [id] = { name, text, level },
#define REASON(event, slug, status, counted)
#include "core/events.def"
#undef EVENT
#undef REASON
};

static const struct event_reason reasons[] = {
#define EVENT(id, name, level, text)
#define REASON(event, slug, status, counted) { event, slug, status, counted },
#include "core/events.def"
#undef EVENT
#undef REASON
};

const char *event_name(enum event_id ev)
{
	return (unsigned)ev < EV_COUNT ? events[ev].name : "other";
}

enum event_id event_by_name(const char *name)
{
	for (int i = 0; name && i < EV_COUNT; i++)
		if (strcmp(events[i].name, name) == 0)
			return (enum event_id)i;
	return EV_COUNT;
}

int event_level(enum event_id ev)
{
	return (unsigned)ev < EV_COUNT ? events[ev].level : EVL_NOTICE;
}

const char *event_text(enum event_id ev)
{
	return (unsigned)ev < EV_COUNT ? events[ev].text : "";
}

const struct event_reason *event_reason(enum event_id ev, const char *slug)
{
	for (size_t i = 0; slug && i < sizeof reasons / sizeof *reasons; i++)
		if (reasons[i].event == ev && strcmp(reasons[i].slug, slug) == 0)
			return &reasons[i];
	return NULL;
}

const struct event_reason *event_reasons(size_t *n)
{
	*n = sizeof reasons / sizeof *reasons;
	return reasons;
}
