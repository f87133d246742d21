/* control_rec.c - the control socket's records, as text or JSON. */
#include "daemon/control_impl.h"

/* ------------------------------------------------------------ records */


/* Text output goes to a terminal: every byte outside printable ASCII
 * (C0, DEL, and everything from 0x80, where C1 controls and bidi
 * overrides live) is shown as \xNN, never passed on. */
static bool text_plain(unsigned char ch)
{
	return ch >= 0x20 && ch < 0x7f;
}

static void put_text_value(struct evbuffer *b, const char *v)
{
	bool quote = !*v;
	for (const char *p = v; *p && !quote; p++)
		quote = *p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
			!text_plain((unsigned char)*p);
	if (!quote) {
		evbuffer_add(b, v, strlen(v));
		return;
	}
	evbuffer_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (!text_plain(*p))
			evbuffer_add_printf(b, "\\x%02x", *p);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
}

/* The length of a valid UTF-8 sequence at v (at most n bytes) and its
 * code point, or 0 when the bytes are not one (overlong, surrogate, cut). */
static size_t utf8_seq(const unsigned char *v, size_t n, unsigned *cp)
{
	unsigned c = v[0];
	size_t k = c >= 0xf0 && c <= 0xf4 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 && c < 0xe0 ? 2 : 0;
	if (k == 0 || k > n)
		return 0;
	unsigned x = c & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((v[i] & 0xc0) != 0x80)
			return 0;
		x = x << 6 | (v[i] & 0x3f);
	}
	if ((k == 3 && (x < 0x800 || (x >= 0xd800 && x <= 0xdfff))) ||
	    (k == 4 && (x < 0x10000 || x > 0x10ffff)))
		return 0;
	*cp = x;
	return k;
}

/* JSON carries text as it is: valid UTF-8 passes, except C1 controls and
 * bidi overrides (escaped as \uXXXX); a byte that is not UTF-8 becomes
 * U+FFFD. */
static void put_json_string(struct evbuffer *b, const char *v, size_t len)
{
	const unsigned char *u = (const unsigned char *)v;
	evbuffer_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = u[i];
		unsigned cp;
		size_t k;
		if (ch == '"' || ch == '\\')
			evbuffer_add_printf(b, "\\%c", ch);
		else if (ch == '\n')
			evbuffer_add(b, "\\n", 2);
		else if (ch == '\r')
			evbuffer_add(b, "\\r", 2);
		else if (ch == '\t')
			evbuffer_add(b, "\\t", 2);
		else if (ch < 0x20 || ch == 0x7f)
			evbuffer_add_printf(b, "\\u%04x", ch);
		else if (ch < 0x80)
			evbuffer_add(b, &v[i], 1);
		else if (!(k = utf8_seq(u + i, len - i, &cp)))
			evbuffer_add(b, "\\ufffd", 6);
		else {
			if ((cp >= 0x80 && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
			    (cp >= 0x2066 && cp <= 0x2069))
				evbuffer_add_printf(b, "\\u%04x", cp);
			else
				evbuffer_add(b, &v[i], k);
			i += k - 1;
		}
	}
	evbuffer_add(b, "\"", 1);
}

void rec_begin(struct rec *r, struct session *s)
{
	r->b = bufferevent_get_output(s->bev);
	r->json = s->json;
	r->n = 0;
	if (r->json)
		evbuffer_add(r->b, "{", 1);
}

static void rec_key(struct rec *r, const char *k)
{
	if (r->json) {
		if (r->n++)
			evbuffer_add(r->b, ",", 1);
		put_json_string(r->b, k, strlen(k));
		evbuffer_add(r->b, ":", 1);
	} else {
		if (r->n++)
			evbuffer_add(r->b, " ", 1);
		evbuffer_add_printf(r->b, "%s=", k);
	}
}

void rec_str(struct rec *r, const char *k, const char *v)
{
	if (!v)
		return;
	rec_key(r, k);
	if (r->json)
		put_json_string(r->b, v, strlen(v));
	else
		put_text_value(r->b, v);
}

void rec_int(struct rec *r, const char *k, long long v)
{
	rec_key(r, k);
	evbuffer_add_printf(r->b, "%lld", v);
}

void rec_time(struct rec *r, const char *k, time_t t)
{
	char buf[32] = "never";
	struct tm tm;
	if (t > 0 && gmtime_r(&t, &tm))
		strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	rec_str(r, k, buf);
}

/* The message's text: "| line" lines after a text record, a "message"
 * field in JSON. Bounded; CR dropped, control bytes escaped. */
void rec_message(struct rec *r, const char *text, size_t len)
{
	size_t shown = len > TRACE_MAX_TEXT ? TRACE_MAX_TEXT : len;
	if (r->json) {
		rec_key(r, "message");
		put_json_string(r->b, text, shown);
		if (shown < len)
			rec_int(r, "truncated", (long long)(len - shown));
		return;
	}
	evbuffer_add(r->b, "\n| ", 3);
	for (size_t i = 0; i < shown; i++) {
		unsigned char ch = (unsigned char)text[i];
		if (ch == '\r')
			continue;
		if (ch == '\n') {
			if (i + 1 < shown)
				evbuffer_add(r->b, "\n| ", 3);
		} else if (!text_plain(ch) && ch != '\t') {
			evbuffer_add_printf(r->b, "\\x%02x", ch);
		} else {
			evbuffer_add(r->b, &text[i], 1);
		}
	}
	if (shown < len)
		evbuffer_add_printf(r->b, "\n| ... (%zu bytes more)", len - shown);
}

void rec_end(struct rec *r)
{
	evbuffer_add(r->b, r->json ? "}\n" : "\n", r->json ? 2 : 1);
}
