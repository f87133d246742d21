/* framing.c - stream framing with Sofia-SIP's incremental parser.
 *
 * Sofia parses into a msg_t that owns its buffer; msg_extract() tells when a
 * message is complete and msg_next() hands over bytes that already belong
 * to the following message. Keep-alives are taken off before Sofia sees
 * them, at message boundaries only, because inside a message CRLF is data.
 */
#include <stdlib.h>
#include <string.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_buffer.h>

#include "framing.h"
#include "sipmsg.h"

struct frame_item {
	enum frame_event ev;
	msg_t *msg;
};

struct framer {
	size_t max_size;
	msg_t *cur;             /* message being received, NULL at a boundary */
	int lf_run;             /* LFs seen in a row at a boundary */
	bool dead;
	char *carry;            /* bytes after a message, fed again at a boundary */
	size_t carry_len;
	struct frame_item *q;   /* events not yet taken by framer_next() */
	size_t qhead, qlen, qcap;
};

static void push(struct framer *f, enum frame_event ev, msg_t *msg)
{
	if (f->qhead > 0 && f->qhead == f->qlen)
		f->qhead = f->qlen = 0;
	if (f->qlen == f->qcap) {
		size_t cap = f->qcap ? f->qcap * 2 : 4;
		struct frame_item *q = realloc(f->q, cap * sizeof *q);
		if (!q) {               /* out of memory: drop the stream */
			if (msg)
				msg_destroy(msg);
			f->dead = true;
			return;
		}
		f->q = q;
		f->qcap = cap;
	}
	f->q[f->qlen++] = (struct frame_item){ ev, msg };
}

struct framer *framer_new(size_t max_size)
{
	struct framer *f = calloc(1, sizeof *f);
	if (f)
		f->max_size = max_size;
	return f;
}

void framer_free(struct framer *f)
{
	if (!f)
		return;
	for (size_t i = f->qhead; i < f->qlen; i++)
		if (f->q[i].msg)
			msg_destroy(f->q[i].msg);
	free(f->q);
	free(f->carry);
	if (f->cur)
		msg_destroy(f->cur);
	free(f);
}

/* A message is pending from its first byte until it is complete (headers
 * and body): header_timeout covers both. */
bool framer_pending(const struct framer *f)
{
	return f->cur != NULL;
}

static void fail(struct framer *f, enum frame_event ev)
{
	if (f->cur) {
		msg_destroy(f->cur);
		f->cur = NULL;
	}
	f->dead = true;
	push(f, ev, NULL);
}

/* Consume CR/LF at a message boundary; a double CRLF is a ping, a lone
 * CRLF is a pong (or stray) and is ignored. Returns bytes consumed. */
static size_t eat_keepalives(struct framer *f, const char *p, size_t len)
{
	size_t i = 0;
	for (; i < len && (p[i] == '\r' || p[i] == '\n'); i++) {
		if (p[i] == '\n' && ++f->lf_run == 2) {
			push(f, FRAME_PING, NULL);
			f->lf_run = 0;
		}
	}
	return i;
}

/* Sofia parses headers as C strings: a NUL before the body can never be
 * parsed, so the message would only wait for header_timeout. */
static bool nul_in_headers(msg_t *m)
{
	return !msg_get_flags(m, MSG_FLG_BODY) && msg_buf_committed(m) > 0 &&
	       memchr(msg_buf_committed_data(m), '\0', msg_buf_committed(m)) != NULL;
}

/* Pull out every complete message the parser now holds. */
static void extract(struct framer *f)
{
	while (f->cur && !f->dead) {
		int r = msg_extract(f->cur);
		if (r == 0) {
			if (msg_size(f->cur) > f->max_size ||
			    msg_buf_committed(f->cur) > f->max_size)
				fail(f, FRAME_TOOLARGE);
			else if (nul_in_headers(f->cur))
				fail(f, FRAME_ERROR);
			return;
		}
		if (r < 0) {
			fail(f, msg_get_flags(f->cur, MSG_FLG_TOOLARGE)
				     ? FRAME_TOOLARGE : FRAME_ERROR);
			return;
		}
		/* Bytes that followed the message go round again from a
		 * boundary, where keep-alives and stray CRLFs are handled
		 * (Sofia's msg_next() would take them as a message start). */
		msg_t *done = f->cur, *next = msg_next(done);
		f->cur = NULL;
		if (next) {
			size_t n = msg_buf_committed(next);
			char *more = n ? realloc(f->carry, f->carry_len + n) : f->carry;
			if (n && !more) {
				msg_destroy(next);
				msg_destroy(done);
				fail(f, FRAME_ERROR);
				return;
			}
			if (n) {
				memcpy(more + f->carry_len, msg_buf_committed_data(next), n);
				f->carry = more;
				f->carry_len += n;
			}
			msg_destroy(next);
		}
		push(f, FRAME_MSG, done);
	}
}

static void feed(struct framer *f, const char *data, size_t len);

bool framer_feed(struct framer *f, const char *data, size_t len)
{
	feed(f, data, len);
	while (f->carry_len > 0 && !f->dead) {
		char *again = f->carry;
		size_t n = f->carry_len;
		f->carry = NULL;
		f->carry_len = 0;
		feed(f, again, n);
		free(again);
	}
	return !f->dead;
}

static void feed(struct framer *f, const char *data, size_t len)
{
	while (len > 0 && !f->dead) {
		if (!f->cur) {
			size_t k = eat_keepalives(f, data, len);
			data += k;
			len -= k;
			if (len == 0)
				break;
			f->lf_run = 0;
			f->cur = msg_create(sipmsg_mclass(), MSG_FLG_EXTRACT_COPY);
			if (!f->cur) {
				fail(f, FRAME_ERROR);
				break;
			}
			msg_maxsize(f->cur, f->max_size);
		}
		msg_iovec_t vec[2];
		issize_t nv = msg_recv_iovec(f->cur, vec, 2, len, 0);
		if (nv < 0) {
			fail(f, msg_get_flags(f->cur, MSG_FLG_TOOLARGE)
				     ? FRAME_TOOLARGE : FRAME_TOOLARGE);
			break;
		}
		size_t copied = 0;
		for (issize_t i = 0; i < nv && copied < len; i++) {
			size_t n = vec[i].mv_len;
			if (n > len - copied)
				n = len - copied;
			memcpy(vec[i].mv_base, data + copied, n);
			copied += n;
		}
		msg_recv_commit(f->cur, copied, 0);
		data += copied;
		len -= copied;
		extract(f);
		if (f->carry_len > 0)
			break;     /* the rest follows the carried bytes */
	}
	if (len > 0 && !f->dead) {
		/* Keep order: what was not fed yet goes after the carry. */
		char *more = realloc(f->carry, f->carry_len + len);
		if (!more) {
			fail(f, FRAME_ERROR);
			return;
		}
		memcpy(more + f->carry_len, data, len);
		f->carry = more;
		f->carry_len += len;
	}
}

enum frame_event framer_next(struct framer *f, msg_t **msg)
{
	*msg = NULL;
	if (f->qhead == f->qlen)
		return FRAME_NONE;
	struct frame_item it = f->q[f->qhead++];
	*msg = it.msg;
	return it.ev;
}
