/* classify.c - pure decisions about a request's kind and direction,
 * taken out of the proxy pipeline so they can be table-tested. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sofia-sip/sip_protos.h>

#include "core/classify.h"
#include "core/guard.h"
#include "core/pat.h"
#include "core/policy.h"
#include "core/route.h"
#include "core/sipmsg.h"

const char *const classify_untrusted_in_requests[] = {
	"ms-edge-proxy-message-trust", "Remote-Party-ID", "P-Preferred-Identity",
	"Identity", "y", "Identity-Info", "n", "Diversion", "History-Info", NULL
};
const char *const classify_untrusted_in_responses[] = {
	"ms-edge-proxy-message-trust", NULL
};

/* How many values a header list holds, counted up to limit + 1. */
static size_t values(msg_header_t const *h, size_t limit)
{
	size_t n = 0;
	for (; h && n <= limit; h = h->sh_next)
		n++;
	return n;
}

/* Header values, not lines, are what costs (SPEC section 1): a request
 * with more Via values than RFC 3261 loop detection needs, or more Route,
 * Record-Route or Contact values than max_header_values, is refused
 * before any other work. A response may carry what the edge itself added
 * on top of a request it accepted (its Via, its two Record-Route
 * entries), so it is held to the caps plus that; one over is dropped,
 * never a reason to close the connection it came on. */
const char *classify_too_many_values(const struct conf *cf, sip_t const *sip,
				     int *status)
{
	size_t slack = sip->sip_status ? 2 : 0;
	size_t via = (size_t)cf->limits.max_via + slack;
	size_t other = (size_t)cf->limits.max_header_values + slack;
	*status = 483;
	if (values((msg_header_t const *)sip->sip_via, via) > via)
		return "too_many_via";
	*status = 400;
	if (values((msg_header_t const *)sip->sip_route, other) > other ||
	    values((msg_header_t const *)sip->sip_record_route, other) > other ||
	    values((msg_header_t const *)sip->sip_contact, other) > other)
		return "too_many_values";
	return NULL;
}

static bool supported(const struct conf *cf, const char *tag)
{
	for (size_t x = 0; x < cf->federation.nsupported_extensions; x++)
		if (strcasecmp(tag, cf->federation.supported_extensions[x]) == 0)
			return true;
	return false;
}

/* Proxy-Require (RFC 3261 16.3 step 5): every option tag, over every
 * Proxy-Require line, must be supported; the others are listed. */
size_t classify_unsupported(const struct conf *cf, sip_t const *sip,
			    char *hdr, size_t len)
{
	static const char name[] = "Unsupported: ";
	size_t off = strlen(name), n = 0;
	if (len < off + 3)
		return 0;
	memcpy(hdr, name, off + 1);
	for (sip_proxy_require_t const *k = sip->sip_proxy_require; k; k = k->k_next)
		for (size_t i = 0; k->k_items && k->k_items[i]; i++) {
			if (supported(cf, k->k_items[i]))
				continue;
			int w = snprintf(hdr + off, len - off, "%s%s", n ? ", " : "",
					 k->k_items[i]);
			n++;
			if (w > 0 && (size_t)w < len - off - 3)
				off += (size_t)w;
			else
				hdr[off] = '\0';   /* too long to list: the 420 goes without */
		}
	if (n == 0)
		return 0;
	if (off > strlen(name))
		strcpy(hdr + off, "\r\n");
	else
		hdr[0] = '\0';
	return n;
}

bool classify_to_edge(const struct conf *cf, sip_t const *sip,
		      bool (*ours)(const char *host, void *arg), void *arg)
{
	url_t const *u = sip->sip_request->rq_url;
	/* In a dialog (To tag) an OPTIONS is for the other end. */
	if (sip->sip_route || sip->sip_to->a_tag || (u->url_user && *u->url_user) ||
	    !u->url_host)
		return false;
	if (sipmsg_host_is(u->url_host, cf->edge.fqdn) ||
	    (cf->edge.public_address && sipmsg_host_is(u->url_host, cf->edge.public_address)))
		return true;
	/* Only the listeners of the zone it came from: an outsider must not
	 * learn which internal address is ours. */
	return ours && ours(u->url_host, arg);
}

bool classify_foreign_route(const struct conf *cf, sip_route_t const *r)
{
	for (; r; r = r->r_next) {
		char h[256];
		/* maddr overrides the host (RFC 3261 19.1.1): an outsider's
		 * edge.fqdn;maddr=INTERNAL would steer the node inward. */
		if (strcasecmp(sipmsg_host(r->r_url, h, sizeof h), cf->edge.fqdn) != 0 ||
		    url_has_param(r->r_url, "maddr"))
			return true;
	}
	return false;
}

bool classify_maddr_inward(const struct conf *cf, url_t const *u)
{
	char m[256];
	if (url_param(u->url_params, "maddr", m, sizeof m) <= 0)
		return false;
	size_t n = strlen(m);
	if (n > 2 && m[0] == '[' && m[n - 1] == ']') {
		memmove(m, m + 1, n - 2);
		m[n - 2] = '\0';
	}
	struct sockaddr_storage ss = { 0 };
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	if (inet_pton(AF_INET, m, &s4->sin_addr) == 1)
		s4->sin_family = AF_INET;
	else if (inet_pton(AF_INET6, m, &s6->sin6_addr) == 1)
		s6->sin6_family = AF_INET6;
	else
		return !guard_name(cf, m);
	return guard_address(cf, NULL, (struct sockaddr *)&ss, NULL, 0) != GUARD_OK;
}

static bool main_listener_port(const struct conf *c, int port)
{
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].zone == ZONE_EXTERNAL && c->listen[i].port == port)
			return true;
	return false;
}

static void refused(struct inbound_verdict *v, int status, const char *reason)
{
	v->node = -1;
	v->status = status;
	v->reason = reason;
}

/* The edge never relays outside to outside: the Request-URI names a
 * local domain, or edge.fqdn at the public port of a node. */
void classify_inbound(const struct conf *cf, sip_t const *sip, int local_port,
		      int route_port, const bool *node_up, struct inbound_verdict *v)
{
	url_t const *ruri = sip->sip_request->rq_url;
	sipmsg_host(ruri, v->domain, sizeof v->domain);
	if (classify_foreign_route(cf, sip->sip_route) || classify_maddr_inward(cf, ruri)) {
		refused(v, 403, "foreign_route");
		return;
	}
	struct inbound_hint h = {
		.arrival_port = local_port,
		.main_listener = main_listener_port(cf, local_port),
		.route_public_port = route_port,
		.in_dialog = sip->sip_to->a_tag != NULL,
	};
	if (strcasecmp(v->domain, cf->edge.fqdn) == 0) {
		int port = ruri->url_port ? atoi(ruri->url_port)
			: pat_default_port(ruri->url_type == url_sips, ruri->url_params);
		if (!pat_node_for_public(cf, port, NULL)) {
			refused(v, 403, "not_local_domain");
			return;
		}
		h.ruri_public_port = port;
	} else if (!conf_is_local_domain(cf, v->domain)) {
		refused(v, 403, "not_local_domain");
		return;
	}
	v->node = route_inbound_node(cf, node_up, &h);
	if (v->node < 0)
		refused(v, 503, "no_node_available");
	else
		v->status = 0, v->reason = NULL;
}

static bool host_is_ip(const char *h)
{
	unsigned char buf[16];
	return h && (h[0] == '[' || inet_pton(AF_INET, h, buf) == 1);
}

enum outbound_way classify_outbound(const struct conf *cf, sip_t const *sip,
				    url_t const **u)
{
	char to[256];
	/* In dialog too: a dialog never outlives a block (SPEC section 4). */
	sipmsg_host(sip->sip_to->a_url, to, sizeof to);
	if (sip->sip_to->a_tag && policy_blocked(cf, to))
		return OUT_BLOCKED;
	url_t const *ruri = sip->sip_request->rq_url;
	if (sip->sip_route)            /* in dialog: the peer's Record-Route */
		*u = sip->sip_route->r_url;
	else if (sip->sip_to->a_tag && (ruri->url_port || host_is_ip(ruri->url_host)))
		*u = ruri;             /* a Contact: go there (RFC 3263) */
	else
		return OUT_POLICY;
	return OUT_DIRECT;
}
