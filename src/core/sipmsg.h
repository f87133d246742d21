/* sipmsg.h - the few Sofia-SIP helpers the proxy needs around msg_t. */
#ifndef SIPEDGE_SIPMSG_H
#define SIPEDGE_SIPMSG_H

#include <stdbool.h>
#include <stddef.h>
#include <sofia-sip/msg.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/sip_header.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_status.h>

/* The SIP message class with the extra headers (P-Asserted-Identity ...)
 * registered, so that they are parsed rather than kept as unknown. */
msg_mclass_t const *sipmsg_mclass(void);

/* The request-line and CSeq classes of that mclass (Sofia workaround in
 * sipmsg.c): headers built with sip_request_create()/sip_cseq_create()
 * carry Sofia's own classes and cannot be added to our messages; make
 * them from text with these instead (sip_add_make). */
msg_hclass_t *sipmsg_request_class(void);
msg_hclass_t *sipmsg_cseq_class(void);

/* Why a request cannot be processed: NULL if it is well-formed enough
 * (RFC 3261 8.2 / 16.3 checks), else a short reason for 400. */
const char *sipmsg_malformed(msg_t *msg, sip_t const *sip);

/* SIP/2.0 in the start line and in every Via? (else 505, RFC 3261 8.2.2) */
bool sipmsg_version_ok(sip_t const *sip);

/* Serialize msg into a fresh heap buffer (caller frees). */
char *sipmsg_print(msg_t *msg, size_t *len);
/* The message as Sofia fragments ready to send (headers the edge did not
 * edit as they came); returns how many entries it needs, which may be
 * more than veclen (then call msg_iovec() again with room), or -1. */
isize_t sipmsg_iovec(msg_t *msg, msg_iovec_t *vec, isize_t veclen);

/* A response to req with status/phrase; To tag added for non-100 responses
 * when the request has none. extra_headers ("Name: value\r\n"...) may be
 * NULL. Returns a new msg owned by the caller. */
msg_t *sipmsg_response(msg_t *req, int status, const char *phrase,
		       const char *extra_headers);

/* Host of a URL, lower-case, without trailing dot, into buf. */
const char *sipmsg_host(url_t const *url, char *buf, size_t len);

/* What a transaction needs of the request it forwarded once no target
 * is left to send it to: request line, Via, Route, Max-Forwards, From,
 * To, Call-ID and CSeq (to answer it, CANCEL it, ACK a non-2xx), without
 * the body or other headers. NULL when out of memory. */
msg_t *sipmsg_skeleton(msg_t *req);

/* Does a URI host name addr? IPv6 literals appear in URIs as "[...]",
 * addresses in edge.conf bare; names compare case-insensitively. */
bool sipmsg_host_is(const char *uri_host, const char *addr);

/* Remove every header whose full name is one of names (NULL-terminated,
 * case-insensitive), known to Sofia or not; returns how many went. */
size_t sipmsg_remove_named(msg_t *msg, sip_t *sip, const char *const *names);

#endif
