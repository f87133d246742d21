/* federation.h - the inbound policy stage (SPEC section 4) around the pure
 * decision in policy.c: which domains a request claims, what this
 * connection already proved, SRV lookups, and per-domain rate caps. */
#ifndef SIPEDGE_FEDERATION_H
#define SIPEDGE_FEDERATION_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>
#include <sofia-sip/msg.h>

struct conn;
struct verdict;

/* What the proxy keeps per connection, as its struct conn owner pointer:
 * allocated on first use, freed by conn_owner_free() when the connection
 * closes (the on_closed handler). */
struct conn_owner {
	struct verdict *verdicts;     /* what the peer proved, per domain */
	unsigned nverdicts;
	time_t stray_logged_at;       /* last stray_response line for it */
	unsigned stray_suppressed;    /* strays not logged since */
};
struct conn_owner *conn_owner_get(struct conn *c);   /* NULL: out of memory */
void conn_owner_free(struct conn *c);

/* "domain:accepted,domain:REASON" of what c's peer was judged on (whole
 * entries that fit in buf); returns how many verdicts c holds. */
size_t federation_verdicts(const struct conn *c, char *buf, size_t len);
/* Was c's peer accepted for domain or a domain under it? */
bool federation_proved(const struct conn *c, const char *domain);

/* Forget what c's peer proved (reload: the lists may have changed). */
void federation_forget(struct conn *c);

enum fed_result {
	FED_PASS,       /* every claimed domain is proven: go on */
	FED_REFUSED,    /* answered and logged; msg freed */
	FED_PENDING,    /* waiting for DNS; resume() or a refusal follows */
};

typedef void (*fed_resume_fn)(struct conn *c, msg_t *msg, int arg);

/* Check a request from the external zone. With FED_PENDING the stage owns
 * msg and calls resume(c, msg, arg) once it passes, if c still exists. */
enum fed_result federation_inbound(struct conn *c, msg_t *msg, int arg,
				   fed_resume_fn resume);

#endif
