/* rewrite_hops.c - the edge's own hops in a message: Via, Record-Route
 * and the route set (strict routing, our own Route entries, loops), built
 * as structures rather than printed and parsed again (rewrite.h). */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/url.h>
#include <sofia-sip/su_alloc.h>

#include "core/pat.h"
#include "core/rewrite.h"
#include "core/sipmsg.h"

const struct own_addr *rewrite_internal_listener(const struct rewrite_ctx *rc,
						 enum transport tr)
{
	const struct own_addr *any = NULL;
	for (size_t i = 0; i < rc->nlisteners; i++) {
		const struct own_addr *l = &rc->listeners[i];
		if (l->zone != ZONE_INTERNAL)
			continue;
		if (l->transport == tr)
			return l;
		any = l;
	}
	return any;
}

bool rewrite_is_own_uri(const struct rewrite_ctx *rc, url_t const *u)
{
	if (!u || !u->url_host || !url_has_param(u, "sipedge"))
		return false;
	if (sipmsg_host_is(u->url_host, rc->conf->edge.fqdn))
		return true;
	for (size_t i = 0; i < rc->nlisteners; i++)
		if (rc->listeners[i].zone == ZONE_INTERNAL &&
		    sipmsg_host_is(u->url_host, rc->listeners[i].address))
			return true;
	return false;
}

/* A route a node pre-loaded to reach us: our internal listener, without
 * our marker (RFC 3261 16.4: a first Route naming this proxy goes). */
static bool names_internal_listener(const struct rewrite_ctx *rc, url_t const *u)
{
	if (!u || !u->url_host)
		return false;
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	for (size_t i = 0; i < rc->nlisteners; i++) {
		const struct own_addr *l = &rc->listeners[i];
		if (l->zone == ZONE_INTERNAL && l->port == port && sipmsg_host_is(u->url_host, l->address))
			return true;
	}
	return false;
}

/* A URI naming one of our listeners by address and port (what a UA with
 * an outbound proxy, or a previous hop routing by address, writes): a
 * listener on a wildcard address counts for edge.public_address. */
static bool names_listener(const struct rewrite_ctx *rc, url_t const *u)
{
	if (!u || !u->url_host || url_has_param(u, "sipedge") || url_has_param(u, "maddr"))
		return false;
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	const char *pub = rc->conf->edge.public_address;
	for (size_t i = 0; i < rc->nlisteners; i++) {
		const struct own_addr *l = &rc->listeners[i];
		if (l->port != port)
			continue;
		if (sipmsg_host_is(u->url_host, l->address))
			return true;
		if (pub && (strcmp(l->address, "0.0.0.0") == 0 || strcmp(l->address, "::") == 0) &&
		    sipmsg_host_is(u->url_host, pub))
			return true;
	}
	return false;
}

/* A Request-URI is one token of the request line (RFC 3261 7.1, 25.1);
 * a Route URI, inside its <>, can hold what Sofia reads and prints back
 * (white space, a control character) but a request line cannot. */
static bool fits_request_line(url_t const *u)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	const char *s = url_as_string(home, u);
	bool fits = s && *s;
	for (const char *p = s; fits && *p; p++)
		fits = (unsigned char)*p > ' ' && *p != 0x7f;
	su_home_deinit(home);
	return fits;
}

int rewrite_strict_route(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip)
{
	url_t *ruri = sip->sip_request->rq_url;
	if (!rewrite_is_own_uri(rc, ruri) || !sip->sip_route)
		return -1;
	char v[8] = "";
	int port = url_param(ruri->url_params, "sipedge", v, sizeof v) > 0 &&
		   strcmp(v, "ext") == 0 ? (ruri->url_port ? atoi(ruri->url_port) : 5061) : 0;
	/* RFC 3261 16.4: the last Route becomes the Request-URI. */
	sip_route_t *last = sip->sip_route;
	while (last->r_next)
		last = last->r_next;
	if (!fits_request_line(last->r_url))
		return -1;
	url_t *target = url_hdup(msg_home(msg), last->r_url);
	if (!target)
		return -1;
	*ruri = *target;
	msg_fragment_clear(sip->sip_request->rq_common);
	msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)last);
	return port;
}

int rewrite_pop_own_routes(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
			   enum zone from)
{
	int ext_port = 0;
	while (sip->sip_route && ((from == ZONE_INTERNAL &&
	       !url_has_param(sip->sip_route->r_url, "sipedge") &&
	       names_internal_listener(rc, sip->sip_route->r_url)) ||
	       names_listener(rc, sip->sip_route->r_url)))
		msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_route);
	while (sip->sip_route && rewrite_is_own_uri(rc, sip->sip_route->r_url)) {
		url_t const *u = sip->sip_route->r_url;
		char v[8] = "";
		if (url_param(u->url_params, "sipedge", v, sizeof v) > 0 &&
		    strcmp(v, "ext") == 0)
			ext_port = u->url_port ? atoi(u->url_port) : 5061;
		msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_route);
	}
	return ext_port;
}

/* Our address in a zone's form: host (IPv6 in brackets) and port, made
 * without printf; the header functions below copy them. */
struct own_hp {
	char host[260];
	char port[8];
};

static void own_hp(struct own_hp *o, enum zone form, const struct zone_view *zv)
{
	const char *addr = form == ZONE_EXTERNAL ? zv->fqdn : zv->intl->address;
	unsigned port = (unsigned)(form == ZONE_EXTERNAL ? zv->public_port : zv->intl->port);
	size_t n = strlen(addr);
	if (n > sizeof o->host - 3)
		n = sizeof o->host - 3;
	bool v6 = memchr(addr, ':', n) != NULL;
	size_t at = 0;
	if (v6)
		o->host[at++] = '[';
	memcpy(o->host + at, addr, n);
	at += n;
	if (v6)
		o->host[at++] = ']';
	o->host[at] = '\0';
	char digits[8];
	size_t k = 0;
	do
		digits[k++] = (char)('0' + port % 10);
	while ((port /= 10) && k < 5);
	for (size_t i = 0; i < k; i++)
		o->port[i] = digits[k - 1 - i];
	o->port[k] = '\0';
}

bool rewrite_push_via(msg_t *msg, sip_t *sip, enum zone toward,
		      const struct zone_view *zv, const char *branch)
{
	struct own_hp hp;
	own_hp(&hp, toward, zv);
	char param[96] = "branch=";
	size_t bl = strlen(branch);
	if (bl > sizeof param - 8)
		return false;
	memcpy(param + 7, branch, bl + 1);
	/* Built as a structure, not printed and parsed again. */
	sip_via_t *v = sip_via_create(msg_home(msg), hp.host, hp.port,
		toward == ZONE_EXTERNAL || zv->intl->transport == TRANSPORT_TLS
			? "SIP/2.0/TLS" : "SIP/2.0/TCP", param, NULL);
	return v && msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)v) == 0;
}

void rewrite_pop_via(msg_t *msg, sip_t *sip)
{
	if (sip->sip_via)
		msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_via);
}

sip_via_t *rewrite_hide_vias(msg_t *msg, sip_t *sip)
{
	sip_via_t *saved = sip_via_dup(msg_home(msg), sip->sip_via);
	while (sip->sip_via)
		msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_via);
	return saved;
}

bool rewrite_restore_vias(msg_t *msg, sip_t *sip, sip_via_t const *vias)
{
	/* Via headers go in at the top one by one: insert the last first. */
	sip_via_t const *list[64];
	size_t n = 0;
	for (; vias && n < sizeof list / sizeof list[0]; vias = vias->v_next)
		list[n++] = vias;
	while (n > 0) {
		sip_via_t *one = sip_via_copy(msg_home(msg), list[--n]);
		if (!one)
			return false;
		one->v_next = NULL;
		if (msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)one) < 0)
			return false;
	}
	return true;
}

/* Our URI in the form for a zone, kind "ext" or "int": a url_t over o's
 * strings and a constant parameter list (copied by whoever keeps it). */
struct own_url {
	url_t u;
	struct own_hp hp;
};

static const url_t *own_url(struct own_url *o, enum zone form, const char *kind,
			    const struct zone_view *zv)
{
	static const char *const params[2][2] = {
		{ "transport=tcp;lr;sipedge=ext", "transport=tcp;lr;sipedge=int" },
		{ "transport=tls;lr;sipedge=ext", "transport=tls;lr;sipedge=int" },
	};
	bool tls = form == ZONE_EXTERNAL || zv->intl->transport == TRANSPORT_TLS;
	own_hp(&o->hp, form, zv);
	url_init(&o->u, url_sip);
	o->u.url_host = o->hp.host;
	o->u.url_port = o->hp.port;
	o->u.url_params = params[tls][strcmp(kind, "int") == 0];
	return &o->u;
}

bool rewrite_record_route(msg_t *msg, sip_t *sip, enum zone toward,
			  const struct zone_view *zv)
{
	struct own_url ext, in;
	const url_t *ue = own_url(&ext, ZONE_EXTERNAL, "ext", zv);
	const url_t *ui = own_url(&in, toward, "int", zv);
	/* msg_header_insert puts a header first: insert the lower one first. */
	const url_t *lower = toward == ZONE_EXTERNAL ? ui : ue;
	const url_t *upper = toward == ZONE_EXTERNAL ? ue : ui;
	su_home_t *home = msg_home(msg);
	sip_record_route_t *a = sip_record_route_create(home, lower, NULL);
	sip_record_route_t *b = sip_record_route_create(home, upper, NULL);
	return a && b &&
	       msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)a) == 0 &&
	       msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)b) == 0;
}

/* Our URIs in a route set are written in the form of the zone the message
 * goes to: "int" ones always; an "ext" one only when it names an internal
 * address, which only a forged one does (a node could otherwise have the
 * edge carry its internal listener's address outside). */
static const char *kind_to_map(const struct rewrite_ctx *rc, url_t const *u)
{
	char v[8] = "";
	if (!rewrite_is_own_uri(rc, u) ||
	    url_param(u->url_params, "sipedge", v, sizeof v) <= 0)
		return NULL;
	if (strcmp(v, "int") == 0)
		return "int";
	return sipmsg_host_is(u->url_host, rc->conf->edge.fqdn) ? NULL : "ext";
}

static void map_list(const struct rewrite_ctx *rc, msg_t *msg, sip_route_t *r,
		     enum zone toward, const struct zone_view *zv)
{
	for (; r; r = r->r_next) {
		const char *kind = kind_to_map(rc, r->r_url);
		if (!kind)
			continue;
		struct own_url o;
		url_t *u = url_hdup(msg_home(msg), own_url(&o, toward, kind, zv));
		if (!u)
			continue;
		*r->r_url = *u;
		msg_fragment_clear_chain((msg_header_t *)r);
	}
}

void rewrite_own_uris_for(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
			  enum zone toward, const struct zone_view *zv)
{
	map_list(rc, msg, (sip_route_t *)sip->sip_record_route, toward, zv);
	map_list(rc, msg, sip->sip_route, toward, zv);
}

bool rewrite_looped(const struct rewrite_ctx *rc, sip_t const *sip)
{
	for (sip_via_t const *v = sip->sip_via; v; v = v->v_next) {
		if (!v->v_branch || strncmp(v->v_branch, BRANCH_PREFIX,
					    strlen(BRANCH_PREFIX)) != 0)
			continue;
		if (sipmsg_host_is(v->v_host, rc->conf->edge.fqdn))
			return true;
		for (size_t i = 0; i < rc->nlisteners; i++)
			if (rc->listeners[i].zone == ZONE_INTERNAL &&
			    sipmsg_host_is(v->v_host, rc->listeners[i].address))
				return true;
	}
	return false;
}

/* ------------------------------------------------------------ PAT */
