/* framing.h - SIP over a byte stream: bytes in, whole messages out.
 *
 * Pure and socket-free so the unit tests can feed it split, merged and
 * oversized input. Sofia-SIP does the parsing and Content-Length framing;
 * this layer adds what Sofia leaves to the transport: RFC 5626 CRLF
 * keep-alives and the size limit.
 */
#ifndef SIPEDGE_FRAMING_H
#define SIPEDGE_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <sofia-sip/msg.h>

enum frame_event {
	FRAME_NONE = 0,   /* need more bytes */
	FRAME_MSG,        /* a complete message (caller owns *msg) */
	FRAME_PING,       /* double CRLF: answer with a single CRLF */
	FRAME_ERROR,      /* unparseable stream: close the connection */
	FRAME_TOOLARGE,   /* message exceeds max size: close the connection */
};

struct framer;

struct framer *framer_new(size_t max_size);
void framer_free(struct framer *f);

/* Hand bytes to the framer; it keeps what it needs. Returns false after a
 * fatal error (then framer_next() reports it). */
bool framer_feed(struct framer *f, const char *data, size_t len);

/* Next event, in order. Call until FRAME_NONE. */
enum frame_event framer_next(struct framer *f, msg_t **msg);

/* True while a message has begun but not completed (header_timeout). */
bool framer_pending(const struct framer *f);

#endif
