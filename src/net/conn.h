/* conn.h - one TCP or TLS connection, in either zone, either direction.
 *
 * States: RESOLVING -> TCP_CONNECTING -> TLS_HANDSHAKING (handshake +
 * name check; TLS only) -> UP -> CLOSED. A dialled connection whose
 * handshake fails goes back to TCP_CONNECTING for its next address.
 * Nothing is written to a dialled peer before its certificate has been
 * checked: bytes queue in `pending` until UP. A connection is freed only
 * outside its own callbacks (see conn_close). The owner hears of messages,
 * up and closed through the handlers of net.h.
 *
 * Files: conn.c lifecycle, table and accept; conn_io.c reading, writing,
 * handshake and output cap; conn_out.c dialling (resolve, guard, connect,
 * reuse).
 */
#ifndef SIPEDGE_CONN_H
#define SIPEDGE_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/bufferevent.h>
#include <openssl/ssl.h>

#include "core/certname.h"
#include "core/types.h"
#include "net/dns.h"
#include "net/netctx.h"

struct edge;
struct conn_owner;

enum conn_state {
	CONN_RESOLVING,
	CONN_TCP_CONNECTING,   /* accepted, or connect() in flight */
	CONN_TLS_HANDSHAKING,  /* TLS handshake and certificate name check */
	CONN_UP,
	CONN_CLOSED,
};

/* Why a connection failed or closed; decides the diagnostics code. */
enum conn_fail {
	CFAIL_NONE = 0,
	CFAIL_DNS,          /* next hop name did not resolve */
	CFAIL_CONNECT,      /* TCP connect refused or timed out (1046) */
	CFAIL_TLS,          /* handshake failed (1047) */
	CFAIL_CERT_NAME,    /* certificate does not name the target (1010) */
	CFAIL_CLOSED,       /* closed after it was up */
	CFAIL_FORBIDDEN,    /* every address refused by the target guard */
};

struct conn {
	uint64_t id;
	unsigned hash;
	struct netctx *net;
	struct edge *edge;                 /* net->owner, for the owner's
					    * handlers: opaque here */
	struct conn_owner *owner;          /* the owner's per-connection state
					    * (opaque here; freed by on_closed) */
	enum zone zone;
	enum transport transport;
	bool outbound;
	enum conn_state state;
	struct bufferevent *bev;
	struct framer *fr;
	struct evbuffer *pending;          /* outbound bytes before UP */
	char peer[INET6_ADDRSTRLEN + 8];   /* "ip:port" or "[ip]:port" */
	char peer_ip[INET6_ADDRSTRLEN];
	int local_port;                    /* listener port it arrived on */
	int node;                          /* internal node index, or -1 */
	char target[256];                  /* name dialled (outbound) */
	int target_port;
	char alias[256];                   /* inbound: the peer's Via sent-by
					    * when it asked for reuse (RFC 5923
					    * alias), "" = not reusable */
	int alias_port;
	struct certnames names;            /* peer certificate identities */
	enum conn_fail fail;
	char fail_reason[256];
	struct sockaddr_storage addrs[DNS_MAX_ADDRS];
	size_t naddrs, next_addr;
	struct event *hs_timer;            /* connect + handshake deadline */
	struct event *hdr_timer;           /* a begun message must complete */
	int busy;                          /* inside one of our callbacks */
	bool heard;                        /* the peer has sent us something */
	bool counted_ip;                   /* counts toward max_connections_per_ip */
	char hs_net[64];                   /* inbound, still in its handshake:
					    * the network it counts against */
	struct conn_pp *pp;                /* reading a PROXY header (conn_io.c):
					    * no bufferevent, no TLS yet */
	bool out_paused;                   /* output above max_output_buffer:
					    * not reading from the peer */
	struct event *stall_timer;         /* paused too long: close */
	time_t opened;                     /* for sipedge-ctl connections */
	uint64_t bytes_in, bytes_out;      /* SIP bytes read and queued */
	struct conn *prev, *next;
	/* Index for conn_to(): what this connection can be reused for. */
	char key[300];                     /* "" = not reusable */
	unsigned khash;
	struct conn *knext;
	struct conn **kpprev;      /* the link to c in its chain: O(1) unindex */
};

size_t conn_count(const struct netctx *n, int zone /* -1 = all */);

/* A socket accepted by a listener. proxy: a load balancer's, that sends
 * a PROXY protocol header before anything else (the listener checked its
 * address against proxy_from). */
void conn_accept(struct netctx *n, evutil_socket_t fd, const struct sockaddr *sa,
		 int salen, enum zone zone, enum transport tr, int local_port, bool proxy);

/*
 * A connection to host:port in zone, reusing an open (or opening) one to
 * the same name. node is the internal node index or -1. NULL only when
 * out of memory; failures later surface through the on_closed handler.
 */
struct conn *conn_to(struct netctx *n, enum zone zone, enum transport tr,
		     const char *host, int port, int node);

struct conn *conn_by_id(struct netctx *n, uint64_t id);

/* The peer of an accepted connection asked for reuse (RFC 5923 alias):
 * requests toward host:port may use it. */
void conn_set_alias(struct conn *c, const char *host, int port);
/* The node a connection belongs to changed (reload). */
void conn_set_node(struct conn *c, int node);

/* More queued toward this connection than limits.max_output_buffer? */
bool conn_congested(const struct conn *c);

/* Queue bytes; sent once the connection is UP. */
void conn_send(struct conn *c, const char *data, size_t len);

/* Close now (or as soon as the current callback returns). */
void conn_close(struct conn *c, enum conn_fail why, const char *reason);

/* Who is to blame for what this connection makes the edge hold (SPEC
 * section 1): "cert:NAME" once a partner's certificate is verified,
 * "net:ADDRESS" before, "node:NAME" for a node. */
const char *conn_peer_key(const struct conn *c, char *buf, size_t len);

/* Stable log slug for a failure: connect_failed, tls_failed, ... */
const char *conn_fail_slug(enum conn_fail f);

/* Call fn for every open connection; fn may close the one it is given. */
void conn_foreach(struct netctx *n, void (*fn)(struct conn *c, void *arg), void *arg);

/* Close every connection (shutdown). */
void conn_close_all(struct netctx *n);

#endif
