/* control_impl.h - what the control socket's files share (control.c:
 * sessions, socket, trace; control_cmd.c: the commands and what they
 * match; control_rec.c: records as text or JSON). Not for other files. */
#ifndef SIPEDGE_CONTROL_IMPL_H
#define SIPEDGE_CONTROL_IMPL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE            /* struct ucred */
#endif
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <sofia-sip/sip.h>
#include <sofia-sip/sip_protos.h>

#include "config.h"
#include "core/certname.h"
#include "core/policy.h"
#include "core/sipmsg.h"
#include "core/types.h"
#include "net/conn.h"
#include "net/dns.h"
#include "net/netctx.h"
#include "proxy/edge.h"
#include "proxy/federation.h"
#include "proxy/health.h"
#include "proxy/partners.h"
#include "proxy/tap.h"
#include "proxy/txn.h"
#include "util/log.h"

#define CTL_MAX_SESSIONS 16
#define CTL_MAX_LINE 1024
#define CTL_MAX_ARGS 8
#define CTL_READ_TIMEOUT 10          /* seconds to send the command */
#define CTL_WRITE_TIMEOUT 30         /* seconds a reader may take nothing */
#define TRACE_MAX_QUEUED (256 * 1024) /* a slow reader loses records */
#define TRACE_MAX_TEXT (16 * 1024)   /* of one message's text */
#define TRACE_MAX_COUNT 1000000

struct session {
	struct control *ctl;
	struct bufferevent *bev;
	struct event *deadline;      /* the command within 10 s; the linger */
	struct session *prev, *next;
	long uid;                    /* the client's, from SO_PEERCRED; -1 */
	bool json;
	bool done;                   /* answered: free once written */
	bool tracing;
	bool by_addr;                /* filter is an address, else a domain */
	char filter[256];
	uint64_t want, seen, dropped;
	bool dropped_told;
};

struct control {
	struct edge *edge;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct evconnlistener *lis;
	struct session *sessions;
	unsigned nsessions;
	int worker, nworkers;
};

/* One output record: "k=v k=v" or {"k":"v","k":1} (control_rec.c). */
struct rec {
	struct evbuffer *b;
	bool json;
	int n;
};
void rec_begin(struct rec *r, struct session *s);
void rec_str(struct rec *r, const char *k, const char *v);   /* NULL: left out */
void rec_int(struct rec *r, const char *k, long long v);
void rec_time(struct rec *r, const char *k, time_t t);
/* A message's text: "| " lines after the record, or its "message" field. */
void rec_message(struct rec *r, const char *text, size_t len);
void rec_end(struct rec *r);

/* control.c */
void ctl_finish(struct session *s, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void ctl_log_command(struct session *s, const char *cmd, const char *arg,
		 const char *key, long long n);
const char *ctl_zone_str(enum zone z);

/* control_cmd.c */
bool name_under(const char *name, const char *domain);
bool conn_matches(const struct conn *c, bool by_addr, const char *f);
bool event_matches(const struct session *s, const struct tap_event *ev);
const char *parse_target(const char *arg, char *out, size_t len, bool *by_addr);
void cmd_status(struct session *s);
void cmd_nodes(struct session *s);
void cmd_connections(struct session *s);
void cmd_partners(struct session *s);
void cmd_dns_flush(struct session *s, const char *arg);
void cmd_drop(struct session *s, const char *arg);
void cmd_trace(struct session *s, const char *arg, long long count);

#endif
