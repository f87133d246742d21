/* reach.h - next hops that failed recently, so that a burst of requests
 * does not dial a dead peer once per request. Pure: time is passed in. */
#ifndef SIPEDGE_REACH_H
#define SIPEDGE_REACH_H

#include <stdbool.h>
#include <time.h>

#define REACH_SLOTS 64

struct reach_entry {
	char host[256];
	int port;
	time_t until;
	int fail;                /* enum conn_fail of the last failure */
	char reason[160];
};

struct reach {
	struct reach_entry e[REACH_SLOTS];
};

/* Remember host:port as failed until now + hold (hold <= 0: forget). */
void reach_mark(struct reach *r, const char *host, int port, int fail,
		const char *reason, time_t now, int hold);
/* The failure still held for host:port, or NULL. */
const struct reach_entry *reach_down(const struct reach *r, const char *host,
				     int port, time_t now);
void reach_clear(struct reach *r, const char *host, int port);

#endif
