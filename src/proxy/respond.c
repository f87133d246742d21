/* respond.c - print, queue, and locally generated responses. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/su_alloc.h>

#include "net/conn.h"
#include "proxy/edge.h"
#include "util/log.h"
#include "proxy/respond.h"
#include "proxy/tap.h"
#include "core/rewrite.h"
#include "core/sipmsg.h"
#include "proxy/txn.h"
#include "util/counters.h"

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
	TAP(c->edge, .kind = TAP_OUT, .conn = c, .msg = msg);
	if (vec != small)
		free(vec);
}

int respond_expected(sip_t const *sip)
{
	return sip->sip_request->rq_method != sip_method_ack &&
	       strcasecmp(sip->sip_request->rq_method_name, "BENOTIFY") != 0;
}

/* The To tag of a response the edge makes itself: a keyed MAC of the
 * Call-ID and top Via branch it answers, so that the ACK for it (same
 * Call-ID, same branch, this tag: RFC 3261 17.1.1.3) is recognised without
 * keeping any state, and absorbed instead of forwarded. */
static void own_tag(const unsigned char key[32], sip_t const *r, char out[20])
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	char data[1200];
	snprintf(data, sizeof data, "ack-tag|%.900s|%.250s",
		 r->sip_call_id ? r->sip_call_id->i_id : "",
		 r->sip_via && r->sip_via->v_branch ? r->sip_via->v_branch : "");
	HMAC(EVP_sha256(), key, 32, (const unsigned char *)data,
	     strlen(data), mac, &n);
	static const char hex[] = "0123456789abcdef";
	memcpy(out, "se", 2);
	for (int i = 0; i < 8; i++) {
		out[2 + 2 * i] = hex[mac[i] >> 4];
		out[3 + 2 * i] = hex[mac[i] & 15];
	}
	out[18] = '\0';
}

void respond_sign(const struct edge *e, msg_t *resp)
{
	sip_t *rs = sip_object(resp);
	char tag[20], param[32];
	if (!rs || !rs->sip_to || !rs->sip_status || rs->sip_status->st_status < 101)
		return;
	own_tag(e->secret, rs, tag);   /* always the current key */
	snprintf(param, sizeof param, "tag=%s", tag);
	/* Sofia keeps the pointer: the parameter must live in the message. */
	msg_header_replace_param(msg_home(resp), rs->sip_to->a_common,
				 su_strdup(msg_home(resp), param));
	msg_fragment_clear(rs->sip_to->a_common);
}

bool respond_own_ack(const struct edge *e, sip_t const *ack)
{
	char tag[20];
	if (!ack->sip_to || !ack->sip_to->a_tag)
		return false;
	if (strlen(ack->sip_to->a_tag) != 18)
		return false;
	own_tag(e->secret, ack, tag);
	if (CRYPTO_memcmp(tag, ack->sip_to->a_tag, 18) == 0)
		return true;
	if (!e->secret_prev_open)   /* the previous key, while its window is open */
		return false;
	own_tag(e->secret_prev.key, ack, tag);
	return CRYPTO_memcmp(tag, ack->sip_to->a_tag, 18) == 0;
}

void respond_reply(struct conn *c, msg_t *req, int status, const char *phrase,
		   const char *hdrs)
{
	sip_t const *sip = sip_object(req);
	if (!sip || !sip->sip_request || !respond_expected(sip))
		return;
	msg_t *resp = sipmsg_response(req, status, phrase, hdrs);
	if (resp && (!sip->sip_to || !sip->sip_to->a_tag))
		respond_sign(c->edge, resp);
	if (resp) {
		respond_send(c, resp);
		msg_destroy(resp);
	}
}

void respond_txn(struct txn *t, int status, const char *hdrs)
{
	struct conn *up = conn_by_id(t->edge->net, t->up_conn);
	if (!up || t->method == sip_method_ack)
		return;
	msg_t *resp = sipmsg_response(t->fwd, status, NULL, hdrs);
	if (!resp)
		return;
	sip_t *rs = sip_object(resp);
	rewrite_pop_via(resp, rs);
	if (t->hidden_vias)
		rewrite_restore_vias(resp, rs, t->hidden_vias);
	rewrite_cross(&t->edge->rw, resp, rs, up->zone);   /* the Call-ID as upstream knows it */
	if (!sip_object(t->fwd)->sip_to->a_tag)
		respond_sign(t->edge, resp);
	respond_send(up, resp);
	counters_request(up->zone == ZONE_EXTERNAL ? COUNTER_INBOUND : COUNTER_OUTBOUND,
			 respond_method(sip_object(t->fwd)), status, counters_since(&t->started));
	msg_destroy(resp);
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
