/* rewrite.c - Via, Record-Route and Route editing on Sofia-SIP messages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/url.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_string.h>

#include "edge.h"
#include "listener.h"
#include "pat.h"
#include "rewrite.h"
#include "sipmsg.h"
#include "txn.h"

static const char *tr_name(enum transport t, bool upper)
{
	if (t == TRANSPORT_TLS)
		return upper ? "TLS" : "tls";
	return upper ? "TCP" : "tcp";
}

static void host_port(char *buf, size_t len, const char *addr, int port)
{
	snprintf(buf, len, strchr(addr, ':') ? "[%s]:%d" : "%s:%d", addr, port);
}

bool rewrite_is_own_uri(const struct edge *e, url_t const *u)
{
	if (!u || !u->url_host || !url_has_param(u, "sipedge"))
		return false;
	if (sipmsg_host_is(u->url_host, e->conf->edge.fqdn))
		return true;
	for (const struct listener *l = e->listeners; l; l = l->next)
		if (l->zone == ZONE_INTERNAL && sipmsg_host_is(u->url_host, l->address))
			return true;
	return false;
}

/* A route a node pre-loaded to reach us: our internal listener, without
 * our marker (RFC 3261 16.4: a first Route naming this proxy goes). */
static bool names_internal_listener(const struct edge *e, url_t const *u)
{
	if (!u || !u->url_host)
		return false;
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	for (const struct listener *l = e->listeners; l; l = l->next)
		if (l->zone == ZONE_INTERNAL && l->port == port && sipmsg_host_is(u->url_host, l->address))
			return true;
	return false;
}

/* A URI naming one of our listeners by address and port (what a UA with
 * an outbound proxy, or a previous hop routing by address, writes): a
 * listener on a wildcard address counts for edge.public_address. */
static bool names_listener(const struct edge *e, url_t const *u)
{
	if (!u || !u->url_host || url_has_param(u, "sipedge") || url_has_param(u, "maddr"))
		return false;
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	const char *pub = e->conf->edge.public_address;
	for (const struct listener *l = e->listeners; l; l = l->next) {
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

int rewrite_strict_route(const struct edge *e, msg_t *msg, sip_t *sip)
{
	url_t *ruri = sip->sip_request->rq_url;
	if (!rewrite_is_own_uri(e, ruri) || !sip->sip_route)
		return -1;
	char v[8] = "";
	int port = url_param(ruri->url_params, "sipedge", v, sizeof v) > 0 &&
		   strcmp(v, "ext") == 0 ? (ruri->url_port ? atoi(ruri->url_port) : 5061) : 0;
	/* RFC 3261 16.4: the last Route becomes the Request-URI. */
	sip_route_t *last = sip->sip_route;
	while (last->r_next)
		last = last->r_next;
	url_t *target = url_hdup(msg_home(msg), last->r_url);
	if (!target)
		return -1;
	*ruri = *target;
	msg_fragment_clear(sip->sip_request->rq_common);
	msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)last);
	return port;
}

int rewrite_pop_own_routes(const struct edge *e, msg_t *msg, sip_t *sip,
			   enum zone from)
{
	int ext_port = 0;
	while (sip->sip_route && ((from == ZONE_INTERNAL &&
	       !url_has_param(sip->sip_route->r_url, "sipedge") &&
	       names_internal_listener(e, sip->sip_route->r_url)) ||
	       names_listener(e, sip->sip_route->r_url)))
		msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_route);
	while (sip->sip_route && rewrite_is_own_uri(e, sip->sip_route->r_url)) {
		url_t const *u = sip->sip_route->r_url;
		char v[8] = "";
		if (url_param(u->url_params, "sipedge", v, sizeof v) > 0 &&
		    strcmp(v, "ext") == 0)
			ext_port = u->url_port ? atoi(u->url_port) : 5061;
		msg_header_remove(msg, (msg_pub_t *)sip, (msg_header_t *)sip->sip_route);
	}
	return ext_port;
}

bool rewrite_push_via(msg_t *msg, sip_t *sip, enum zone toward,
		      const struct zone_view *zv, const char *branch)
{
	char hp[300];
	if (toward == ZONE_EXTERNAL)
		host_port(hp, sizeof hp, zv->fqdn, zv->public_port);
	else
		host_port(hp, sizeof hp, zv->intl->address, zv->intl->port);
	sip_via_t *v = sip_via_format(msg_home(msg), "SIP/2.0/%s %s;branch=%s",
		toward == ZONE_EXTERNAL ? "TLS" : tr_name(zv->intl->transport, true),
		hp, branch);
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

/* Our URI in the form for a zone: kind is "ext" or "int". */
static void own_uri(char *buf, size_t len, enum zone form, const char *kind,
		    const struct zone_view *zv)
{
	char hp[300];
	if (form == ZONE_EXTERNAL) {
		host_port(hp, sizeof hp, zv->fqdn, zv->public_port);
		snprintf(buf, len, "sip:%s;transport=tls;lr;sipedge=%s", hp, kind);
	} else {
		host_port(hp, sizeof hp, zv->intl->address, zv->intl->port);
		snprintf(buf, len, "sip:%s;transport=%s;lr;sipedge=%s", hp,
			 tr_name(zv->intl->transport, false), kind);
	}
}

bool rewrite_record_route(msg_t *msg, sip_t *sip, enum zone toward,
			  const struct zone_view *zv)
{
	char ext[400], in[400];
	own_uri(ext, sizeof ext, ZONE_EXTERNAL, "ext", zv);
	own_uri(in, sizeof in, toward, "int", zv);
	/* msg_header_insert puts a header first: insert the lower one first. */
	const char *lower = toward == ZONE_EXTERNAL ? in : ext;
	const char *upper = toward == ZONE_EXTERNAL ? ext : in;
	su_home_t *home = msg_home(msg);
	sip_record_route_t *a = sip_record_route_format(home, "<%s>", lower);
	sip_record_route_t *b = sip_record_route_format(home, "<%s>", upper);
	return a && b &&
	       msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)a) == 0 &&
	       msg_header_insert(msg, (msg_pub_t *)sip, (msg_header_t *)b) == 0;
}

/* Our URIs in a route set are written in the form of the zone the message
 * goes to: "int" ones always; an "ext" one only when it names an internal
 * address, which only a forged one does (a node could otherwise have the
 * edge carry its internal listener's address outside). */
static const char *kind_to_map(const struct edge *e, url_t const *u)
{
	char v[8] = "";
	if (!rewrite_is_own_uri(e, u) ||
	    url_param(u->url_params, "sipedge", v, sizeof v) <= 0)
		return NULL;
	if (strcmp(v, "int") == 0)
		return "int";
	return sipmsg_host_is(u->url_host, e->conf->edge.fqdn) ? NULL : "ext";
}

static void map_list(const struct edge *e, msg_t *msg, sip_route_t *r,
		     enum zone toward, const struct zone_view *zv)
{
	char uri[400];
	for (; r; r = r->r_next) {
		const char *kind = kind_to_map(e, r->r_url);
		if (!kind)
			continue;
		own_uri(uri, sizeof uri, toward, kind, zv);
		url_t *u = url_make(msg_home(msg), uri);
		if (!u)
			continue;
		*r->r_url = *u;
		msg_fragment_clear_chain((msg_header_t *)r);
	}
}

void rewrite_own_uris_for(const struct edge *e, msg_t *msg, sip_t *sip,
			  enum zone toward, const struct zone_view *zv)
{
	map_list(e, msg, (sip_route_t *)sip->sip_record_route, toward, zv);
	map_list(e, msg, sip->sip_route, toward, zv);
}

bool rewrite_looped(const struct edge *e, sip_t const *sip)
{
	for (sip_via_t const *v = sip->sip_via; v; v = v->v_next) {
		if (!v->v_branch || strncmp(v->v_branch, BRANCH_PREFIX,
					    strlen(BRANCH_PREFIX)) != 0)
			continue;
		if (sipmsg_host_is(v->v_host, e->conf->edge.fqdn))
			return true;
		for (const struct listener *l = e->listeners; l; l = l->next)
			if (l->zone == ZONE_INTERNAL && sipmsg_host_is(v->v_host, l->address))
				return true;
	}
	return false;
}

/* Map one URL across the zone boundary; true if it changed. */
static bool pat_url(const struct edge *e, su_home_t *home, url_t *u,
		    enum zone toward)
{
	const struct conf *c = e->conf;
	if (!u || !u->url_host || rewrite_is_own_uri(e, u))
		return false;
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	char portbuf[8];
	if (toward == ZONE_EXTERNAL) {
		int pub = pat_public_port(c, u->url_host, port);
		if (!pub)
			return false;
		snprintf(portbuf, sizeof portbuf, "%d", pub);
		url_strip_transport(u);    /* also drops port, maddr and ttl */
		u->url_host = su_strdup(home, c->edge.fqdn);
		u->url_port = su_strdup(home, portbuf);
		u->url_params = u->url_params && *u->url_params
			? su_sprintf(home, "%s;transport=tls", u->url_params)
			: "transport=tls";
		return true;
	}
	if (!sipmsg_host_is(u->url_host, c->edge.fqdn))
		return false;
	int internal = 0;
	const struct conf_node *n = pat_node_for_public(c, port, &internal);
	if (!n)
		return false;
	snprintf(portbuf, sizeof portbuf, "%d", internal);
	url_strip_transport(u);
	u->url_host = strchr(n->address, ':') ? su_sprintf(home, "[%s]", n->address)
					      : su_strdup(home, n->address);
	u->url_port = su_strdup(home, portbuf);
	const char *tr = n->transport == TRANSPORT_TLS ? "transport=tls" : "transport=tcp";
	u->url_params = u->url_params && *u->url_params
		? su_sprintf(home, "%s;%s", u->url_params, tr) : tr;
	return true;
}

void rewrite_pat(const struct edge *e, msg_t *msg, sip_t *sip, enum zone toward)
{
	su_home_t *home = msg_home(msg);
	for (sip_contact_t *m = sip->sip_contact; m; m = m->m_next)
		if (pat_url(e, home, m->m_url, toward))
			msg_fragment_clear_chain((msg_header_t *)m);
	for (sip_record_route_t *r = sip->sip_record_route; r; r = r->r_next)
		if (pat_url(e, home, r->r_url, toward))
			msg_fragment_clear_chain((msg_header_t *)r);
	for (sip_route_t *r = sip->sip_route; r; r = r->r_next)
		if (pat_url(e, home, r->r_url, toward))
			msg_fragment_clear_chain((msg_header_t *)r);
	if (sip->sip_request && pat_url(e, home, sip->sip_request->rq_url, toward))
		msg_fragment_clear_chain((msg_header_t *)sip->sip_request);
	/* Identities a node may have written with its own address. */
	for (sip_p_asserted_identity_t *p = sip_p_asserted_identity(sip); p; p = p->paid_next)
		if (pat_url(e, home, p->paid_url, toward))
			msg_fragment_clear_chain((msg_header_t *)p);
	sip_referred_by_t *b = sip_referred_by(sip);
	if (b && pat_url(e, home, b->b_url, toward))
		msg_fragment_clear_chain((msg_header_t *)b);
}
