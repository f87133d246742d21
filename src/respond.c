/* respond.c - print, queue, and locally generated responses. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conn.h"
#include "edge.h"
#include "log.h"
#include "respond.h"
#include "sipmsg.h"

void respond_send(struct conn *c, msg_t *msg)
{
	/* Sofia's fragments straight into the connection's buffer: one copy. */
	msg_iovec_t small[32], *vec = small;
	isize_t n = sipmsg_iovec(msg, small, 32);
	if (n <= 0)
		return;
	if (n > 32) {
		if (!(vec = calloc((size_t)n, sizeof *vec)))
			return;
		msg_iovec(msg, vec, n);
	}
	if (c->edge->conf->log.sip_trace && log_enabled(LOG_DEBUG)) {
		size_t len = 0;
		char *text = sipmsg_print(msg, &len);
		if (text)
			log_msg(LOG_DEBUG, "sip_trace to=%s\n%.*s", c->peer, (int)len, text);
		free(text);
	}
	for (isize_t i = 0; i < n; i++)
		conn_send(c, vec[i].mv_base, vec[i].mv_len);
	if (vec != small)
		free(vec);
}

int respond_expected(sip_t const *sip)
{
	return sip->sip_request->rq_method != sip_method_ack &&
	       strcasecmp(sip->sip_request->rq_method_name, "BENOTIFY") != 0;
}

void respond_reply(struct conn *c, msg_t *req, int status, const char *phrase,
		   const char *hdrs)
{
	sip_t const *sip = sip_object(req);
	if (!sip || !sip->sip_request || !respond_expected(sip))
		return;
	msg_t *resp = sipmsg_response(req, status, phrase, hdrs);
	if (resp) {
		respond_send(c, resp);
		msg_destroy(resp);
	}
}

const char *respond_call_id(sip_t const *sip)
{
	return sip && sip->sip_call_id ? sip->sip_call_id->i_id : NULL;
}

const char *respond_method(sip_t const *sip)
{
	if (sip && sip->sip_request)
		return sip->sip_request->rq_method_name;
	if (sip && sip->sip_cseq)
		return sip->sip_cseq->cs_method_name;
	return NULL;
}
