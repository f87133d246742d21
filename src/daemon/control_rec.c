/* control_rec.c - the control socket's records, as text or JSON. */
#include "daemon/control_impl.h"

/* ------------------------------------------------------------ records */


static void put_text_value(struct evbuffer *b, const char *v)
{
	bool quote = !*v;
	for (const char *p = v; *p && !quote; p++)
		quote = *p == ' ' || *p == '"' || *p == '=' || *p == '\\' ||
			(unsigned char)*p < 0x20 || *p == 0x7f;
	if (!quote) {
		evbuffer_add(b, v, strlen(v));
		return;
	}
	evbuffer_add(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)v; *p; p++) {
		if (*p == '"' || *p == '\\')
			evbuffer_add_printf(b, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			evbuffer_add_printf(b, "\\x%02x", *p);
		else
			evbuffer_add(b, p, 1);
	}
	evbuffer_add(b, "\"", 1);
}

static void put_json_string(struct evbuffer *b, const char *v, size_t len)
{
	evbuffer_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)v[i];
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
		else if (ch >= 0x80)
			evbuffer_add_printf(b, "\\u%04x", ch);  /* bytes, not UTF-8 */
		else
			evbuffer_add(b, &v[i], 1);
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
		} else if ((ch < 0x20 && ch != '\t') || ch == 0x7f) {
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
