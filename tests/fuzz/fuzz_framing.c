/* fuzz_framing.c - libFuzzer harness (issue 7 (a)): raw bytes from a
 * connection through framing, parsing and classification.
 *
 * The input is a short header and one stream. The stream goes to a framer
 * in 1..3 chunks cut at positions given by the header, with a maximum
 * message size also taken from it. Every event is drained; every message is classified with
 * sipmsg_malformed() and, when well-formed, printed and answered
 * (sipmsg_response), as the proxy does.
 *
 * Properties checked besides the sanitizers (see fuzz_common.h):
 *  separator - a message the edge accepts is printed (and forwarded) with
 *              the empty line it arrived with; it must be CRLF, or the
 *              next hop may see the message end elsewhere;
 *  reframe   - printed again, an accepted message or a response the edge
 *              makes must frame as exactly one complete message, or the
 *              next hop sees other requests than the edge checked;
 *  uri-roundtrip - and the next hop must read the same hosts in the
 *              Request-URI, From and To as the edge did (the federation
 *              policy and the routing decide on those);
 *  limit     - when the stream is one whole message (as a framer without
 *              a limit reads it), it passes if it has at most
 *              max_message_size bytes and is refused if it has more,
 *              however it is cut (trailing CR/LF may be a keep-alive:
 *              not counted for "more").
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/framing.h"
#include "core/sipmsg.h"
#include "fuzz_common.h"

/* How bytes the edge writes frame again at the next hop: the number of
 * messages, anything else that came out, and the first message. */
static int reframe(const char *text, size_t len, int *other, msg_t **first)
{
	struct framer *f = framer_new(16 * 1024 * 1024);
	int msgs = 0;
	*other = 0;
	*first = NULL;
	framer_feed(f, text, len);
	msg_t *m;
	enum frame_event ev;
	while ((ev = framer_next(f, &m)) != FRAME_NONE) {
		if (ev == FRAME_MSG) {
			if (msgs++ == 0)
				*first = m;
			else
				msg_destroy(m);
		} else {
			(*other)++;
		}
	}
	if (framer_pending(f))          /* a message left incomplete */
		(*other)++;
	framer_free(f);
	return msgs;
}

/* Sofia reads "sip:host/x" as host + path, and prints it as "sip:hostx". */
static bool has_path(sip_t const *sip)
{
	if (sip->sip_request && sip->sip_request->rq_url->url_path)
		return true;
	if ((sip->sip_from && sip->sip_from->a_url->url_path) ||
	    (sip->sip_to && sip->sip_to->a_url->url_path))
		return true;
	for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next)
		if (m->m_url->url_path)
			return true;
	return false;
}

static bool same_host(url_t const *a, url_t const *b)
{
	char x[256], y[256];
	sipmsg_host(a, x, sizeof x);
	sipmsg_host(b, y, sizeof y);
	return strcmp(x, y) == 0 && (!a->url_port) == (!b->url_port) &&
	       (!a->url_port || strcmp(a->url_port, b->url_port) == 0);
}

static void check_reframe(const char *what, sip_t const *sip, const char *text, size_t len)
{
	int other;
	msg_t *again;
	int n = reframe(text, len, &other, &again);
	const char *tag = has_path(sip) ? "uri-roundtrip" : "reframe";
	if (n != 1 || other) {
		fuzz_dump(tag, what, text, len);
		finding(tag, "%s prints as %d message(s) and %d other event(s)",
			what, n, other);
	} else {
		sip_t const *s2 = sip_object(again);
		const char *diff = NULL;
		if (!s2 || !s2->sip_from || !s2->sip_to)
			diff = "From/To";
		else if (sip->sip_request && (!s2->sip_request ||
			 !same_host(sip->sip_request->rq_url, s2->sip_request->rq_url)))
			diff = "Request-URI";
		else if (!same_host(sip->sip_from->a_url, s2->sip_from->a_url))
			diff = "From";
		else if (!same_host(sip->sip_to->a_url, s2->sip_to->a_url))
			diff = "To";
		if (diff) {
			char a[256] = "", b[256] = "";
			if (!strcmp(diff, "Request-URI")) {
				sipmsg_host(sip->sip_request->rq_url, a, sizeof a);
				if (s2 && s2->sip_request)
					sipmsg_host(s2->sip_request->rq_url, b, sizeof b);
			} else if (!strcmp(diff, "From")) {
				sipmsg_host(sip->sip_from->a_url, a, sizeof a);
				sipmsg_host(s2->sip_from->a_url, b, sizeof b);
			} else if (!strcmp(diff, "To")) {
				sipmsg_host(sip->sip_to->a_url, a, sizeof a);
				sipmsg_host(s2->sip_to->a_url, b, sizeof b);
			}
			fuzz_dump("uri-roundtrip", what, text, len);
			finding("uri-roundtrip", "%s: the edge read host \"%s\", the next hop "
				"reads \"%s\"", diff, a, b);
		}
	}
	if (again)
		msg_destroy(again);
}

static void on_message(msg_t *msg, unsigned pick)
{
	sip_t *sip = sip_object(msg);
	if (sipmsg_malformed(msg, sip))
		return;
	char host[256];
	if (sip->sip_request)
		sipmsg_host(sip->sip_request->rq_url, host, sizeof host);
	sipmsg_host(sip->sip_from->a_url, host, sizeof host);

	size_t len = 0;
	char *text = sipmsg_print(msg, &len);
	if (text) {
		const sip_separator_t *sep = sip->sip_separator;
		if (sep && strcmp(sep->sep_data, "\r\n") != 0) {
			fuzz_dump("separator", "accepted message, printed", text, len);
			finding("separator", "accepted message ends its headers with "
				"\"%s\", and is printed that way",
				sep->sep_data[0] == '\r' ? "\\r" : "\\n");
		} else {        /* the reframe failure that follows is that one */
			check_reframe("accepted message, printed", sip, text, len);
		}
		free(text);
	}
	if (!sip->sip_request)
		return;
	static const int codes[] = { 100, 200, 400, 403, 482, 483, 503, 504 };
	static const char *extra[] = {
		NULL, "",
		"Warning: 399 edge.example.com \"x\"\r\n",
		"ms-diagnostics: 1027;reason=\"Cannot route\";source=\"edge.example.com\"\r\n"
		"Retry-After: 30\r\n",
	};
	msg_t *resp = sipmsg_response(msg, codes[pick % 8], (pick & 8) ? "Nope" : NULL,
				      extra[(pick >> 4) % 4]);
	if (resp) {
		text = sipmsg_print(resp, &len);
		if (text) {
			check_reframe("response made by the edge", sip_object(resp), text, len);
			free(text);
		}
		msg_destroy(resp);
	}
}

/* A stream that is exactly one message, read by a framer without limit. */
static bool one_message(const char *stream, size_t len)
{
	int other;
	msg_t *m;
	int n = reframe(stream, len, &other, &m);
	if (m)
		msg_destroy(m);
	return n == 1 && !other;
}

static void check_limit(const char *stream, size_t len, size_t max, int msgs,
			int toolarge, unsigned nchunks)
{
	if (!one_message(stream, len))
		return;
	/* CR/LF at the end may be a keep-alive after the message rather than
	 * its last bytes: the message has between lo and len bytes. */
	size_t lo = len;
	while (lo > 0 && (stream[lo - 1] == '\r' || stream[lo - 1] == '\n'))
		lo--;
	if (len <= max && (toolarge || msgs != 1))
		finding("limit", "a %zu-byte message in %u read(s) is refused with "
			"max_message_size %zu", len, nchunks, max);
	if (lo > max && msgs)
		finding("limit", "a %zu-byte message in %u read(s) passes with "
			"max_message_size %zu", lo, nchunks, max);
}

/* The input: a 5-byte header, then the stream.
 *   byte 0     bits 0-1: max_message_size (65535, 65535, 4096, 1024)
 *              bits 2-3: number of chunks - 1 (3 means 1)
 *              bits 4-7: which responses to make
 *   bytes 1-2  first cut (big-endian, modulo the stream length + 1)
 *   bytes 3-4  second cut
 * Cuts at fixed offsets keep a crash reproducible while libFuzzer
 * minimizes the stream. */
#define HDR_LEN 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR_LEN)
		return 0;
	static const size_t maxes[] = { 65535, 65535, 4096, 1024 };
	const char *stream = (const char *)data + HDR_LEN;
	size_t len = size - HDR_LEN;
	unsigned nchunks = 1 + ((data[0] >> 2) & 3) % 3;
	size_t cut[4] = { 0, len, len, len };
	if (nchunks >= 2)
		cut[1] = ((size_t)data[1] << 8 | data[2]) % (len + 1);
	if (nchunks == 3)
		cut[2] = ((size_t)data[3] << 8 | data[4]) % (len + 1);
	if (cut[2] < cut[1]) {
		size_t t = cut[1];
		cut[1] = cut[2];
		cut[2] = t;
	}
	struct framer *f = framer_new(maxes[data[0] & 3]);
	if (!f)
		return 0;
	unsigned pick = data[0] >> 4;       /* which response to make */
	int got_msg = 0, got_toolarge = 0;
	for (int k = 0; k < 3; k++) {
		framer_feed(f, stream + cut[k], cut[k + 1] - cut[k]);
		(void)framer_pending(f);
		msg_t *msg;
		enum frame_event ev;
		while ((ev = framer_next(f, &msg)) != FRAME_NONE) {
			if (ev == FRAME_MSG && msg) {
				got_msg++;
				on_message(msg, pick++);
				msg_destroy(msg);
			} else if (ev == FRAME_MSG || msg) {
				finding("event", "event %d with message %p", (int)ev, (void *)msg);
			} else if (ev == FRAME_TOOLARGE) {
				got_toolarge++;
			}
		}
	}
	framer_free(f);
	check_limit(stream, len, maxes[data[0] & 3], got_msg, got_toolarge, nchunks);
	return 0;
}
