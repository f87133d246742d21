/* reach.c - a small table; the slot closest to expiry makes room. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/reach.h"

static struct reach_entry *find(struct reach *r, const char *host, int port)
{
	for (int i = 0; i < REACH_SLOTS; i++)
		if (r->e[i].until && r->e[i].port == port &&
		    strcasecmp(r->e[i].host, host) == 0)
			return &r->e[i];
	return NULL;
}

void reach_mark(struct reach *r, const char *host, int port, int fail,
		const char *reason, time_t now, int hold)
{
	if (hold <= 0)
		return;
	(void)now;
	struct reach_entry *e = find(r, host, port);
	if (!e) {
		e = &r->e[0];     /* empty slots have until == 0 */
		for (int i = 1; i < REACH_SLOTS; i++)
			if (r->e[i].until < e->until)
				e = &r->e[i];
	}
	snprintf(e->host, sizeof e->host, "%s", host);
	e->port = port;
	e->until = now + hold;
	e->fail = fail;
	snprintf(e->reason, sizeof e->reason, "%s", reason ? reason : "");
	e->names[0] = '\0';
}

void reach_set_names(struct reach *r, const char *host, int port,
		     const char *names)
{
	struct reach_entry *e = find(r, host, port);
	if (e)
		snprintf(e->names, sizeof e->names, "%s", names ? names : "");
}

const struct reach_entry *reach_down(const struct reach *r, const char *host,
				     int port, time_t now)
{
	const struct reach_entry *e = find((struct reach *)r, host, port);
	return e && e->until > now ? e : NULL;
}

void reach_clear(struct reach *r, const char *host, int port)
{
	struct reach_entry *e = find(r, host, port);
	if (e)
		memset(e, 0, sizeof *e);
}
