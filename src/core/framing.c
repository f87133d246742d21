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

#include "core/framing.h"
#include "core/sipmsg.h"

#define FRAME_CHUNK 8192
/* Sofia's header handling grows worse than linearly with the number of
 * headers (10 000 cost ~0.4 s of CPU): more lines than this before the
 * body are refused as too large. */
#define FRAME_MAX_HEADER_LINES 512

struct frame_item {
	enum frame_event ev;
	msg_t *msg;
};

struct framer {
	size_t max_size;
	msg_t *cur;             /* message being received, NULL at a boundary */
	size_t cur_bytes;       /* bytes fed into cur (may include the next message's) */
	size_t cur_lines;       /* header lines of cur */
	bool hdr_done;          /* the empty line ending cur's headers was fed */
	bool line_empty;        /* the current line of cur has no text yet */
	bool hdr_nul;           /* a NUL was fed before the headers ended */
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
static bool in_headers(msg_t *m)
{
	sip_t const *sip = sip_object(m);
	return !sip || !sip->sip_separator;   /* the empty line not parsed yet */
}

static bool nul_in_headers(const struct framer *f, msg_t *m)
{
	return f->hdr_nul && in_headers(m);
}

/* Lines up to the empty line that ends the headers (body lines are not
 * counted, even when they share a read with the headers). */
static void count_header_lines(struct framer *f, const char *p, size_t n)
{
	for (size_t i = 0; i < n && !f->hdr_done; i++) {
		if (p[i] == '\0')
			f->hdr_nul = true;
		if (p[i] == '\n') {
			f->hdr_done = f->line_empty;
			f->cur_lines++;
			f->line_empty = true;
		} else if (p[i] != '\r') {
			f->line_empty = false;
		}
	}
}

/* Pull out every complete message the parser now holds. */
static void extract(struct framer *f)
{
	while (f->cur && !f->dead) {
		int r = msg_extract(f->cur);
		if (r == 0) {
			sip_t const *sip = sip_object(f->cur);
			/* Sofia's own cap is loose (see feed()); ours is exact. */
			if (f->cur_bytes > f->max_size + FRAME_CHUNK ||
			    f->cur_lines > FRAME_MAX_HEADER_LINES ||
			    (sip && sip->sip_content_length &&
			     sip->sip_content_length->l_length > f->max_size))
				fail(f, FRAME_TOOLARGE);
			else if (nul_in_headers(f, f->cur))
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
		/* The message's own bytes: msg_size() counts the buffers
		 * Sofia allocated, which grow faster when cut across reads. */
		size_t spill = next ? msg_buf_committed(next) : 0;
		if (f->cur_bytes - spill > f->max_size) {
			if (next)
				msg_destroy(next);
			msg_destroy(done);
			fail(f, FRAME_TOOLARGE);
			return;
		}
		if (next) {
			size_t n = spill;
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
		/* The limit guards reading; re-encoding with our Via and
		 * Record-Route needs room beyond it. */
		msg_maxsize(done, (usize_t)f->max_size * 4 + 65536);
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
			/* Loose on purpose: bytes of the next message may share a
			 * chunk with this one's end; extract() enforces max_size. */
			msg_maxsize(f->cur, f->max_size * 2 + 4 * FRAME_CHUNK);
			f->cur_bytes = f->cur_lines = 0;
			f->hdr_done = f->line_empty = f->hdr_nul = false;
		}
		/* Bounded chunks: a read may also hold the next message, which
		 * must not count against this one's size limit. */
		size_t chunk = len < FRAME_CHUNK ? len : FRAME_CHUNK;
		msg_iovec_t vec[2];
		issize_t nv = msg_recv_iovec(f->cur, vec, 2, chunk, 0);
		if (nv < 0) {
			fail(f, FRAME_TOOLARGE);   /* Sofia refused more room */
			break;
		}
		size_t copied = 0;
		for (issize_t i = 0; i < nv && copied < chunk; i++) {
			size_t n = vec[i].mv_len;
			if (n > chunk - copied)
				n = chunk - copied;
			memcpy(vec[i].mv_base, data + copied, n);
			copied += n;
		}
		count_header_lines(f, data, copied);
		f->cur_bytes += copied;
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
