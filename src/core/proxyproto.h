/* proxyproto.h - the PROXY protocol header (HAProxy's proxy-protocol.txt,
 * versions 1 and 2) a load balancer puts before a connection's own bytes
 * to name the client it relays. Pure: given the bytes received so far, say
 * whether more are needed, the header is bad (why), or it is complete (how
 * long it is and what it says). Bytes after the header (a TLS ClientHello)
 * are never part of what it consumed.
 *
 * Accepted:
 *   v1  "PROXY TCP4 SRC DST SPORT DPORT\r\n", "PROXY TCP6 ...\r\n" or
 *       "PROXY UNKNOWN[ anything]\r\n"; at most 107 bytes, single spaces,
 *       numeric addresses of the family named, ports 0..65535 without
 *       leading zeros.
 *   v2  the 12-byte signature, version 2, command LOCAL or PROXY; for
 *       PROXY, AF_INET or AF_INET6 over STREAM (AF_UNSPEC: UNKNOWN).
 *       The length field (addresses and TLVs) at most PP_V2_MAX_LEN; TLVs
 *       are skipped, but each must fit inside it.
 * Refused with a reason: anything else (AF_UNIX, DGRAM, other versions or
 * commands, a v1 line too long or malformed, bytes that start neither).
 */
#ifndef SIPEDGE_PROXYPROTO_H
#define SIPEDGE_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>

#define PP_V1_MAX 107                   /* the whole line, CRLF included */
#define PP_V2_MAX_LEN 512               /* v2 length field: addresses + TLVs */
#define PP_MAX_HEADER (16 + PP_V2_MAX_LEN)

enum pp_status { PP_NEED_MORE, PP_DONE, PP_ERROR };

enum pp_kind {
	PP_PROXY,       /* relays a client: src/dst below */
	PP_LOCAL,       /* v2 LOCAL (the balancer's own check): keep the socket's */
	PP_UNKNOWN,     /* v1 UNKNOWN, v2 PROXY AF_UNSPEC: keep the socket's */
};

struct pp_result {
	int version;            /* 1 or 2, once known */
	enum pp_kind kind;
	size_t consumed;        /* PP_DONE: the header's length */
	int family;             /* PP_PROXY: AF_INET or AF_INET6 */
	unsigned char src[16], dst[16];
	uint16_t sport, dport;
	const char *reason;     /* PP_ERROR: why (static text) */
};

/* Parse the len bytes of buf received so far. PP_NEED_MORE promises that
 * every byte given belongs to the header (a reader may consume them all);
 * PP_DONE fills *r (r->consumed bytes are the header); PP_ERROR sets
 * r->reason. */
enum pp_status proxyproto_parse(const unsigned char *buf, size_t len, struct pp_result *r);

#endif
