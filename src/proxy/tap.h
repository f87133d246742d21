/* tap.h - what the proxy shows a live trace (sipedge-ctl trace).
 *
 * The proxy reports every message it reads, every message it sends and
 * each decision it takes to one function its owner registered (the
 * daemon's control socket); with no trace running, the cost is one test
 * per message. The function must not keep the pointers, nor block: it
 * copies what a matching trace wants, or drops it.
 */
#ifndef SIPEDGE_TAP_H
#define SIPEDGE_TAP_H

#include <stdint.h>
#include <sofia-sip/msg.h>

struct conn;

enum tap_kind {
	TAP_IN,         /* a message read from conn */
	TAP_OUT,        /* a message queued toward conn */
	TAP_DECISION,   /* what the edge did with a request */
};

struct tap_event {
	enum tap_kind kind;
	const struct conn *conn;   /* IN/OUT: where; DECISION: the sender's,
				    * or NULL when it is gone */
	msg_t *msg;                /* the message; DECISION: the request, or NULL */
	const char *verdict;       /* DECISION: refused, forwarded, answered */
	int status;                /* DECISION: the answer's status, 0: none */
	const char *reason;        /* DECISION: the reason slug, or NULL */
	const char *next_hop;      /* DECISION (forwarded): "node:NAME", the
				    * partner host:port, or NULL */
	const char *domain;        /* DECISION: the partner domain, or NULL */
	uint64_t txn;              /* 0: none */
};

typedef void (*tap_fn)(void *arg, const struct tap_event *ev);

struct tap {
	tap_fn fn;                 /* NULL: nothing registered */
	void *arg;
	unsigned watchers;         /* traces running; 0: fn is not called */
};

#define TAP(e, ...) do { \
	if ((e)->tap.watchers && (e)->tap.fn) \
		(e)->tap.fn((e)->tap.arg, &(const struct tap_event){ __VA_ARGS__ }); \
} while (0)

#endif
