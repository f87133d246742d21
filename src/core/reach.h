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
	char names[256];         /* a 1010: the names the certificate carried */
};

struct reach {
	struct reach_entry e[REACH_SLOTS];
};

/* Remember host:port as failed until now + hold (hold <= 0: forget). */
void reach_mark(struct reach *r, const char *host, int port, int fail,
		const char *reason, time_t now, int hold);
/* With a certificate name failure (1010): the names the peer's
 * certificate did carry, for the PeerServer of the requests refused while
 * the failure is held (reach_mark clears them). */
void reach_set_names(struct reach *r, const char *host, int port,
		     const char *names);
/* The failure still held for host:port, or NULL. */
const struct reach_entry *reach_down(const struct reach *r, const char *host,
				     int port, time_t now);
void reach_clear(struct reach *r, const char *host, int port);

#endif
