/* sipmsg.c - Sofia-SIP glue: message class, sanity checks, printing,
 * locally generated responses. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/rand.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/su_alloc.h>

#include "sipmsg.h"

msg_mclass_t const *sipmsg_mclass(void)
{
	static msg_mclass_t const *mc;
	if (!mc) {
		/* Extended once for the life of the process; Sofia keeps it. */
		mc = sip_extend_mclass(NULL);
		if (!mc)
			mc = sip_default_mclass();
	}
	return mc;
}

const char *sipmsg_malformed(msg_t *msg, sip_t const *sip)
{
	(void)msg;
	if (!sip)
		return "unparseable message";
	if (!sip->sip_request && !sip->sip_status)
		return "no request or status line";
	if (!sip->sip_via)
		return "missing or malformed Via";
	if (!sip->sip_from)
		return "missing or malformed From";
	if (!sip->sip_to)
		return "missing or malformed To";
	if (!sip->sip_call_id)
		return "missing or malformed Call-ID";
	if (!sip->sip_cseq)
		return "missing or malformed CSeq";
	if (!sip->sip_content_length)
		return "missing Content-Length";
	if (sip->sip_request) {
		if (!sip->sip_request->rq_url->url_host)
			return "Request-URI without host";
		if (sip->sip_cseq->cs_method != sip->sip_request->rq_method ||
		    (sip->sip_request->rq_method == sip_method_unknown &&
		     strcmp(sip->sip_cseq->cs_method_name,
			    sip->sip_request->rq_method_name) != 0))
			return "CSeq method does not match request method";
	}
	if (sip->sip_error)
		return "malformed header";
	return NULL;
}

char *sipmsg_print(msg_t *msg, size_t *len)
{
	if (msg_serialize(msg, NULL) < 0 || msg_prepare(msg) < 0)
		return NULL;
	return msg_as_string(NULL, msg, NULL, 0, len);
}

static void random_tag(char *buf, size_t len)
{
	unsigned char r[8];
	static const char hex[] = "0123456789abcdef";
	RAND_bytes(r, sizeof r);
	size_t i = 0;
	for (; i < sizeof r && 2 * i + 2 < len; i++) {
		buf[2 * i] = hex[r[i] >> 4];
		buf[2 * i + 1] = hex[r[i] & 15];
	}
	buf[2 * i] = '\0';
}

msg_t *sipmsg_response(msg_t *req, int status, const char *phrase,
		       const char *extra_headers)
{
	sip_t const *rq = sip_object(req);
	msg_t *resp = msg_create(sipmsg_mclass(), 0);
	if (!resp || !rq)
		goto fail;
	sip_t *rs = sip_object(resp);
	su_home_t *home = msg_home(resp);
	if (!phrase)
		phrase = sip_status_phrase(status);
	if (!phrase)
		phrase = "Unknown";
	if (sip_add_dup(resp, rs, (sip_header_t *)sip_status_create(home, status, phrase, NULL)) < 0)
		goto fail;
	for (sip_via_t const *v = rq->sip_via; v; v = v->v_next)
		if (sip_add_dup(resp, rs, (sip_header_t const *)sip_via_copy(home, v)) < 0)
			goto fail;
	if (sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_from) < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_to) < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_call_id) < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_cseq) < 0)
		goto fail;
	if (status > 100 && rs->sip_to && !rs->sip_to->a_tag) {
		char tag[20];
		random_tag(tag, sizeof tag);
		sip_to_tag(home, rs->sip_to, tag);
	}
	if (extra_headers && *extra_headers &&
	    msg_header_add_str(resp, (msg_pub_t *)rs, extra_headers) < 0)
		goto fail;
	if (sip_add_make(resp, rs, sip_content_length_class, "0") < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t *)sip_separator_create(home)) < 0)
		goto fail;
	return resp;
fail:
	if (resp)
		msg_destroy(resp);
	return NULL;
}

const char *sipmsg_host(url_t const *url, char *buf, size_t len)
{
	if (!url || !url->url_host || len == 0) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	size_t i = 0;
	for (const char *p = url->url_host; *p && i + 1 < len; p++)
		buf[i++] = (char)tolower((unsigned char)*p);
	if (i > 0 && buf[i - 1] == '.')
		i--;
	buf[i] = '\0';
	return buf;
}
