/* rewrite.h - what the edge changes in a message as it crosses zones.
 *
 * Our own URIs carry the parameter sipedge=ext or sipedge=int, so they are
 * never confused with a node URI that PAT rewrote to edge.fqdn:P. The
 * internal-facing Record-Route entry names the internal listener inside
 * and edge.fqdn:P outside (P = public port of the node owning the dialog),
 * which keeps internal addresses off the wire and needs no dialog state.
 */
#ifndef SIPEDGE_REWRITE_H
#define SIPEDGE_REWRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <sofia-sip/sip.h>

#include "core/types.h"
#include "core/topo.h"

/* The top of every Via branch the edge writes (RFC 3261 8.1.1.7's magic
 * cookie and our own mark): rewrite_looped() knows its own by it. */
#define BRANCH_PREFIX "z9hG4bKse"

/* One socket the edge listens on, as rewrite.c sees it: enough to know
 * a URI or Via naming the edge itself. */
struct own_addr {
	enum zone zone;
	enum transport transport;
	const char *address;           /* numeric, as bound */
	int port;
};

/* All rewrite.c reads of the running edge, filled by the proxy for the
 * message at hand: the configuration, the Call-ID mask key and the
 * listeners bound now (they change on reload). */
struct rewrite_ctx {
	const struct conf *conf;
	const unsigned char *secret;   /* 32 bytes: mask.h's key */
	const struct own_addr *listeners;
	size_t nlisteners;
	/* The previous key while its window is open (edge.secret_previous_*),
	 * else NULL: accepted for restoring masks, never used to make one. */
	const unsigned char *secret_prev;
	/* conf's internal tokens (topo_tokens_fill), made once per view;
	 * v NULL: made for each message (tests, fuzzing) */
	struct topo_tokens tokens;
};

/* The first internal listener with transport tr (for our Via/RR toward a
 * node), else any internal one, else NULL. */
const struct own_addr *rewrite_internal_listener(const struct rewrite_ctx *rc,
						 enum transport tr);

/* Where "inside" is for this message: the internal listener and the
 * public port that stand for the node at the internal end. */
struct zone_view {
	const char *fqdn;
	int public_port;
	const struct own_addr *intl;
};

bool rewrite_is_own_uri(const struct rewrite_ctx *rc, url_t const *u);

/* Remove our own entries from the top of Route (and, from a node, a
 * pre-loaded route to our internal listener); returns the port of our
 * external entry (or 0). */
int rewrite_pop_own_routes(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
			   enum zone from);

/* A strict-routing previous hop (RFC 3261 16.4) put our own Record-Route
 * value in the Request-URI: the last Route becomes the Request-URI.
 * Returns the port of our external URI (0 for an internal one), or -1
 * when the Request-URI is not ours, or the last Route cannot be a
 * Request-URI (white space or a control character in it): then nothing
 * changes. */
int rewrite_strict_route(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip);

bool rewrite_push_via(msg_t *msg, sip_t *sip, enum zone toward,
		      const struct zone_view *zv, const char *branch);
void rewrite_pop_via(msg_t *msg, sip_t *sip);

/* Take every Via off the message; returns them (in msg's home). */
sip_via_t *rewrite_hide_vias(msg_t *msg, sip_t *sip);
bool rewrite_restore_vias(msg_t *msg, sip_t *sip, sip_via_t const *vias);

/* Add our two Record-Route entries, the one facing `toward` on top. */
bool rewrite_record_route(msg_t *msg, sip_t *sip, enum zone toward,
			  const struct zone_view *zv);

/* Give our internal-facing Record-Route/Route entries the form for the
 * zone the message is about to enter. */
void rewrite_own_uris_for(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
			  enum zone toward, const struct zone_view *zv);

/* Does any Via show that this request already passed an edge with our
 * name (a loop, RFC 3261 16.3 step 4)? */
bool rewrite_looped(const struct rewrite_ctx *rc, sip_t const *sip);


/* PAT (SPEC section 3) on every URI-bearing header Sofia parses
 * (Contact, Record-Route, Route, Path, Service-Route, P-Asserted-Identity,
 * P-Preferred-Identity, Remote-Party-ID, Referred-By, Refer-To, Reply-To,
 * Error-Info, Call-Info, Alert-Info) and the Request-URI: toward the
 * outside every node address or name:port becomes edge.fqdn:public;
 * transport=tls (an unpaired port: the node's first public port), an
 * internal listener edge.fqdn at the main external port; toward the
 * inside edge.fqdn:public becomes the node's address:internal. */
void rewrite_pat(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip, enum zone toward);

/*
 * Everything a message needs before it enters the external zone: PAT as
 * above, the Call-ID (and Replaces, In-Reply-To, Refer-To ?Replaces=)
 * masked when it names an internal host (mask.h), the Warning agent,
 * Server/User-Agent, P-Charging-Vector, ms-diagnostics source=, the
 * status phrase, SDP c=/o= lines, and last any header whose text still
 * names an internal host removed (From, To, Via, Call-ID, CSeq and the
 * start line excepted). sipedge(8) lists it all.
 */
void rewrite_hide_topology(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip);

/* The way in: PAT reversed, our Call-ID masks restored (a mask that does
 * not authenticate stays as it is). */
void rewrite_reveal(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip);

/* rewrite_hide_topology() toward the external zone, rewrite_reveal()
 * toward the internal one. */
void rewrite_cross(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip, enum zone toward);

#endif
