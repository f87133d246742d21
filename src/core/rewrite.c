/* rewrite.c - topology hiding (SPEC section 3): what a node wrote never
 * shows an internal address, port or name outside; PAT and Call-ID masks.
 * The edge's own Via, Record-Route and Route entries: rewrite_hops.c. */
#include <stddef.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/sip_status.h>
#include <sofia-sip/url.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/su_string.h>

#include "core/mask.h"
#include "core/pat.h"
#include "core/rewrite.h"
#include "core/sipmsg.h"
#include "core/topo.h"

/* The port of the edge's main external listener (how the edge itself is
 * reached from outside). */
static int main_public_port(const struct conf *c)
{
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].zone == ZONE_EXTERNAL)
			return c->listen[i].port;
	return 5061;
}

static void set_host_port(su_home_t *home, url_t *u, const char *host, int port,
			  const char *transport)
{
	char portbuf[8];
	snprintf(portbuf, sizeof portbuf, "%d", port);
	url_strip_transport(u);    /* also drops port, maddr and ttl */
	u->url_host = strchr(host, ':') ? su_sprintf(home, "[%s]", host)
					: su_strdup(home, host);
	u->url_port = su_strdup(home, portbuf);
	u->url_params = u->url_params && *u->url_params
		? su_sprintf(home, "%s;%s", u->url_params, transport) : transport;
}

enum url_fate { URL_KEPT, URL_MAPPED, URL_DROP };

static void remove_header(msg_t *msg, sip_t *sip, msg_header_t *h);

/*
 * Toward the outside: a SIP URI naming a node (address, tls_name or
 * names[]) becomes edge.fqdn:P, P the public port paired with its port or,
 * for a port without a pair, the node's first public port; one naming an
 * internal listener becomes edge.fqdn at the main external port. Any other
 * URI (http:, ...) naming an internal host cannot be mapped: its header
 * entry goes.
 */
static enum url_fate hide_url(const struct rewrite_ctx *rc, const struct topo_tokens *tk,
			      su_home_t *home, url_t *u)
{
	const struct conf *c = rc->conf;
	if (!u || !u->url_host)
		return URL_KEPT;
	bool internal = topo_host_is_token(u->url_host, tk);
	if (u->url_type != url_sip && u->url_type != url_sips)
		return internal ? URL_DROP : URL_KEPT;
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	int pub = pat_public_port_any(c, u->url_host, port);
	if (!pub && internal)
		pub = main_public_port(c);
	if (!pub)
		return URL_KEPT;
	set_host_port(home, u, c->edge.fqdn, pub, "transport=tls");
	return URL_MAPPED;
}

/* Toward a node: edge.fqdn:P (not one of our own URIs) becomes the
 * address and internal port P stands for. */
static enum url_fate reveal_url(const struct rewrite_ctx *rc, su_home_t *home, url_t *u)
{
	const struct conf *c = rc->conf;
	if (!u || !u->url_host || rewrite_is_own_uri(rc, u) ||
	    (u->url_type != url_sip && u->url_type != url_sips) ||
	    !sipmsg_host_is(u->url_host, c->edge.fqdn))
		return URL_KEPT;
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	int internal = 0;
	const struct conf_node *n = pat_node_for_public(c, port, &internal);
	if (!n)
		return URL_KEPT;
	set_host_port(home, u, n->address, internal,
		      n->transport == TRANSPORT_TLS ? "transport=tls" : "transport=tcp");
	return URL_MAPPED;
}

/* Every URI-bearing header a node may write that Sofia parses (with the
 * extra headers of sipmsg_mclass()); History-Info, Diversion and the like
 * stay unknown to Sofia and are left to the final check. */
static const struct uri_header {
	msg_hclass_t *cls;
	size_t url;              /* offset of the url_t in the header */
} uri_headers[] = {
	{ sip_contact_class, offsetof(sip_contact_t, m_url) },
	{ sip_record_route_class, offsetof(sip_record_route_t, r_url) },
	{ sip_route_class, offsetof(sip_route_t, r_url) },
	{ sip_path_class, offsetof(sip_path_t, r_url) },
	{ sip_service_route_class, offsetof(sip_service_route_t, r_url) },
	{ sip_p_asserted_identity_class, offsetof(sip_p_asserted_identity_t, paid_url) },
	{ sip_p_preferred_identity_class, offsetof(sip_p_preferred_identity_t, ppid_url) },
	{ sip_remote_party_id_class, offsetof(sip_remote_party_id_t, rpid_url) },
	{ sip_referred_by_class, offsetof(sip_referred_by_t, b_url) },
	{ sip_refer_to_class, offsetof(sip_refer_to_t, r_url) },
	{ sip_reply_to_class, offsetof(sip_reply_to_t, rplyto_url) },
	{ sip_error_info_class, offsetof(sip_error_info_t, ei_url) },
	{ sip_call_info_class, offsetof(sip_call_info_t, ci_url) },
	{ sip_alert_info_class, offsetof(sip_alert_info_t, ai_url) },
};

static void map_uris(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
		     enum zone toward, const struct topo_tokens *tk)
{
	su_home_t *home = msg_home(msg);
	for (size_t i = 0; i < sizeof uri_headers / sizeof uri_headers[0]; i++) {
		msg_header_t *h = msg_header_access((msg_pub_t *)sip, uri_headers[i].cls);
		while (h) {
			msg_header_t *next = h->sh_next;
			url_t *u = (url_t *)((char *)h + uri_headers[i].url);
			enum url_fate f = toward == ZONE_EXTERNAL ? hide_url(rc, tk, home, u)
								  : reveal_url(rc, home, u);
			if (f == URL_MAPPED)
				msg_fragment_clear_chain(h);
			else if (f == URL_DROP)
				remove_header(msg, sip, h);
			h = next;
		}
	}
	if (sip->sip_request) {
		url_t *u = sip->sip_request->rq_url;
		enum url_fate f = toward == ZONE_EXTERNAL ? hide_url(rc, tk, home, u)
							  : reveal_url(rc, home, u);
		if (f == URL_MAPPED)
			msg_fragment_clear_chain((msg_header_t *)sip->sip_request);
	}
}

/* The internal tokens of the running configuration: the view's, or made
 * in msg's home. */
static void tokens_of(const struct rewrite_ctx *rc, su_home_t *home,
		      struct topo_tokens *tk)
{
	if (rc->tokens.v) {
		*tk = rc->tokens;
		return;
	}
	size_t n = topo_tokens_count(rc->conf);
	tk->v = n ? su_alloc(home, n * sizeof *tk->v) : NULL;
	tk->n = tk->v ? topo_tokens_fill(rc->conf, tk->v, n) : 0;
}

void rewrite_pat(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip, enum zone toward)
{
	struct topo_tokens tk;
	tokens_of(rc, msg_home(msg), &tk);
	map_uris(rc, msg, sip, toward, &tk);
}

/* ------------------------------------------------------------ Call-ID */

/* A Call-ID toward the outside: masked when it names an internal host;
 * NULL when it stays. */
static const char *hide_id(const struct rewrite_ctx *rc, su_home_t *home, const char *id,
			   const struct topo_tokens *tk)
{
	if (!id || !topo_contains(id, tk))
		return NULL;
	char buf[MASK_MAX_OUT];
	if (mask_callid(rc->secret, id, buf, sizeof buf) ||
	    mask_hash(rc->secret, id, buf, sizeof buf))   /* over MASK_MAX_CALLID */
		return su_strdup(home, buf);
	return MASK_HASH_PREFIX "unavailable";          /* never the original */
}

/* A Call-ID toward a node: ours restored; NULL when it stays. */
static const char *reveal_id(const struct rewrite_ctx *rc, su_home_t *home, const char *id)
{
	char buf[MASK_MAX_CALLID + 1];
	if (!mask_is_masked(id) ||
	    !mask_unmask_any(rc->secret, rc->secret_prev, id, buf, sizeof buf))
		return NULL;
	return su_strdup(home, buf);
}

static const char *map_id(const struct rewrite_ctx *rc, su_home_t *home, const char *id,
			  enum zone toward, const struct topo_tokens *tk)
{
	return toward == ZONE_EXTERNAL ? hide_id(rc, home, id, tk) : reveal_id(rc, home, id);
}

/* URI headers (RFC 3261 19.1.1 "?h=v&...") are escaped: all but
 * unreserved and hnv-unreserved characters. */
static void escape_hvalue(char *out, size_t outlen, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	for (; *s && o + 4 < outlen; s++) {
		unsigned char ch = (unsigned char)*s;
		if (isalnum(ch) || strchr("-_.!~*'()[]/?:+$", ch)) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

/* Refer-To: <sip:...?Replaces=callid%3Bto-tag%3D..>: the Call-ID of
 * the dialog to replace, masked/restored like the message's own. */
static const char *map_uri_replaces(const struct rewrite_ctx *rc, su_home_t *home,
				    const char *headers, enum zone toward,
				    const struct topo_tokens *tk)
{
	if (!headers || !strcasestr(headers, "replaces="))
		return NULL;
	char *out = su_strdup(home, "");
	bool changed = false;
	const char *p = headers;
	while (out && *p) {
		size_t n = strcspn(p, "&");
		char *part = su_strndup(home, p, (isize_t)n);
		const char *eq = part ? strchr(part, '=') : NULL;
		const char *piece = part;
		if (eq && eq - part == 8 && strncasecmp(part, "replaces", 8) == 0) {
			char *val = su_strdup(home, eq + 1);
			if (val) {
				url_unescape(val, val);
				size_t idlen = strcspn(val, ";");
				char *id = su_strndup(home, val, (isize_t)idlen);
				const char *nid = id ? map_id(rc, home, id, toward, tk) : NULL;
				if (nid) {
					char *plain = su_sprintf(home, "%s%s", nid, val + idlen);
					size_t cap = plain ? strlen(plain) * 3 + 1 : 0;
					char *esc = cap ? su_alloc(home, cap) : NULL;
					if (esc) {
						escape_hvalue(esc, cap, plain);
						piece = su_sprintf(home, "%.*s=%s",
								   (int)(eq - part), part, esc);
						changed = true;
					}
				}
			}
		}
		out = su_sprintf(home, "%s%s%s", out, *out ? "&" : "", piece ? piece : "");
		p += n;
		if (*p == '&')
			p++;
	}
	return changed ? out : NULL;
}

static void map_callids(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
			enum zone toward, const struct topo_tokens *tk)
{
	su_home_t *home = msg_home(msg);
	const char *id;
	if (sip->sip_call_id &&
	    (id = map_id(rc, home, sip->sip_call_id->i_id, toward, tk))) {
		sip->sip_call_id->i_id = id;
		sip->sip_call_id->i_hash = (uint32_t)msg_hash_string(id);
		msg_fragment_clear(sip->sip_call_id->i_common);
	}
	if (sip->sip_replaces &&
	    (id = map_id(rc, home, sip->sip_replaces->rp_call_id, toward, tk))) {
		sip->sip_replaces->rp_call_id = id;
		msg_fragment_clear(sip->sip_replaces->rp_common);
	}
	for (sip_in_reply_to_t *r = sip->sip_in_reply_to; r; r = r->k_next)
		for (size_t i = 0; r->k_items && r->k_items[i]; i++)
			if ((id = map_id(rc, home, r->k_items[i], toward, tk))) {
				r->k_items[i] = id;
				msg_fragment_clear_chain((msg_header_t *)r);
			}
	sip_refer_to_t *rt = sip_refer_to(sip);
	const char *hs;
	if (rt && (hs = map_uri_replaces(rc, home, rt->r_url->url_headers, toward, tk))) {
		rt->r_url->url_headers = hs;
		msg_fragment_clear_chain((msg_header_t *)rt);
	}
}

/* ------------------------------------------------------------ removal */

/* Is h in msg's fragment chain, what msg_prepare() and msg_iovec() send? */
static bool chained(msg_t *msg, msg_header_t const *h)
{
	msg_header_t **head = msg_chain_head(msg);
	for (msg_header_t const *x = head ? *head : NULL; x; x = x->sh_succ)
		if (x == h)
			return true;
	return false;
}

/*
 * Take h out of what msg sends, for good. msg_header_remove() finds h's
 * list in sip by looking h's class up, by pointer, in the message class;
 * when the message class does not hold that very class it returns -1 and
 * leaves h where it is, to be sent. A message parsed with sipmsg_mclass()
 * has such headers: its hash table holds copies of the token-list classes
 * (keep_list_lines), while Sofia's compact-form table still names the
 * stock ones (d Request-Disposition, e Content-Encoding, k Supported,
 * u Allow-Events). Then h takes the class the message class lists under
 * h's name (a copy: same layout, hash and slot) and goes again. Should h
 * still be chained (cutting it out of the chain by hand would not do:
 * msg_serialize() chains again what sip still holds), it stays, sent as
 * no bytes at all, and the values that shared its line are printed anew.
 */
static const char sent_as_nothing[1] = "";

static void remove_header(msg_t *msg, sip_t *sip, msg_header_t *h)
{
	if (h->sh_data == sent_as_nothing)
		return;                 /* done already */
	msg_header_remove(msg, (msg_pub_t *)sip, h);
	if (!chained(msg, h))
		return;
	msg_hclass_t *hc = h->sh_class;
	msg_href_t const *hr = hc && hc->hc_name && *hc->hc_name
		? msg_find_hclass(msg_mclass(msg), hc->hc_name, NULL) : NULL;
	if (hr && hr->hr_class && hr->hr_class != hc &&
	    hr->hr_class->hc_hash == hc->hc_hash && hr->hr_class->hc_size == hc->hc_size) {
		h->sh_class = hr->hr_class;
		msg_header_remove(msg, (msg_pub_t *)sip, h);
		if (!chained(msg, h))
			return;
	}
	if (h->sh_data) {
		const char *end = (const char *)h->sh_data + h->sh_len;
		for (msg_header_t *x = h->sh_succ; x && x->sh_data == end && !x->sh_len;
		     x = x->sh_succ)
			x->sh_data = NULL;
	}
	h->sh_data = sent_as_nothing;
	h->sh_len = 0;
}

/* ------------------------------------------------------------ free text */

static void remove_named(msg_t *msg, sip_t *sip, const char *name)
{
	sip_unknown_t *u = sip->sip_unknown;
	while (u) {
		sip_unknown_t *next = u->un_next;
		if (u->un_name && strcasecmp(u->un_name, name) == 0)
			remove_header(msg, sip, (msg_header_t *)u);
		u = next;
	}
}

static void hide_free_text(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
			   const struct topo_tokens *tk)
{
	su_home_t *home = msg_home(msg);
	const char *fqdn = rc->conf->edge.fqdn;
	/* The warn-agent (RFC 3261 20.43) is us. */
	for (sip_warning_t *w = sip->sip_warning; w; w = w->w_next)
		if (w->w_host && topo_find(w->w_host, strlen(w->w_host), tk) >= 0) {
			w->w_host = fqdn;
			w->w_port = NULL;
			msg_fragment_clear_chain((msg_header_t *)w);
		}
	if (sip->sip_server && sip->sip_server->g_string &&
	    topo_leaks(sip->sip_server->g_string, strlen(sip->sip_server->g_string), tk))
		remove_header(msg, sip, (msg_header_t *)sip->sip_server);
	if (sip->sip_user_agent && sip->sip_user_agent->g_string &&
	    topo_leaks(sip->sip_user_agent->g_string, strlen(sip->sip_user_agent->g_string), tk))
		remove_header(msg, sip, (msg_header_t *)sip->sip_user_agent);
	/* A trust domain header (RFC 7315 4.6): never across the boundary. */
	remove_named(msg, sip, "P-Charging-Vector");
	for (sip_unknown_t *u = sip->sip_unknown; u; u = u->un_next) {
		if (!u->un_name || !u->un_value ||
		    (strcasecmp(u->un_name, "ms-diagnostics") != 0 &&
		     strcasecmp(u->un_name, "ms-diagnostics-public") != 0))
			continue;
		size_t cap = strlen(u->un_value) + strlen(fqdn) * 4 + 1;
		char *v = su_alloc(home, cap);
		if (v && topo_diag_source(u->un_value, tk, fqdn, v, cap)) {
			u->un_value = v;
			msg_fragment_clear(u->un_common);
		}
	}
	if (sip->sip_status && sip->sip_status->st_phrase &&
	    topo_leaks(sip->sip_status->st_phrase, strlen(sip->sip_status->st_phrase), tk)) {
		const char *std = sip_status_phrase(sip->sip_status->st_status);
		sip->sip_status->st_phrase = std ? std : "Unknown";
		msg_fragment_clear(sip->sip_status->st_common);
	}
}

/* ------------------------------------------------------------ SDP */

static void hide_sdp(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip,
		     const struct topo_tokens *tk)
{
	sip_payload_t *pl = sip->sip_payload;
	if (!pl || !pl->pl_data || !pl->pl_len || !sip->sip_content_type ||
	    !sip->sip_content_type->c_type ||
	    strcasecmp(sip->sip_content_type->c_type, "application/sdp") != 0)
		return;
	const struct conf *c = rc->conf;
	const char *pub = c->edge.public_address && *c->edge.public_address
		? c->edge.public_address : c->edge.fqdn;
	size_t len = 0;
	char *body = topo_sdp(pl->pl_data, pl->pl_len, tk, pub, &len);
	if (!body)
		return;
	char *copy = su_alloc(msg_home(msg), len + 1);
	if (copy) {
		memcpy(copy, body, len);
		copy[len] = '\0';
		pl->pl_data = copy;
		pl->pl_len = (usize_t)len;
		msg_fragment_clear(pl->pl_common);
		if (sip->sip_content_length) {
			sip->sip_content_length->l_length = (uint32_t)len;
			msg_fragment_clear(sip->sip_content_length->l_common);
		}
	}
	free(body);
}

/* ------------------------------------------------------------ final check */

/* Headers the final check leaves alone: the start line and the framing,
 * Via (ours outward on a request, the peer's own on a response), From and
 * To (never altered: SPEC section 3), Call-ID (masked above), CSeq. */
static bool structural(sip_t const *sip, msg_header_t const *h)
{
	return h == (msg_header_t const *)sip->sip_request ||
	       h == (msg_header_t const *)sip->sip_status ||
	       h == (msg_header_t const *)sip->sip_separator ||
	       h == (msg_header_t const *)sip->sip_payload ||
	       h == (msg_header_t const *)sip->sip_from ||
	       h == (msg_header_t const *)sip->sip_to ||
	       h == (msg_header_t const *)sip->sip_call_id ||
	       h == (msg_header_t const *)sip->sip_cseq ||
	       h == (msg_header_t const *)sip->sip_content_length ||
	       h == (msg_header_t const *)sip->sip_max_forwards ||
	       h->sh_class == sip_via_class || h->sh_class == sip_payload_class ||
	       h->sh_class == sip_separator_class;
}

/* Any header whose text still names an internal host goes. */
static void drop_leaking(msg_t *msg, sip_t *sip, const struct topo_tokens *tk)
{
	if (msg_serialize(msg, (msg_pub_t *)sip) < 0)
		return;
	msg_header_t **head = msg_chain_head(msg);
	char stack[2048];
	for (msg_header_t *h = head ? *head : NULL, *next; h; h = next) {
		next = h->sh_succ;
		if (structural(sip, h))
			continue;
		issize_t n = msg_header_e(stack, sizeof stack, h, 0);
		bool leaks;
		if (n < 0) {
			leaks = true;             /* cannot print it: cannot vouch for it */
		} else if ((size_t)n < sizeof stack) {
			leaks = topo_leaks(stack, (size_t)n, tk);
		} else {
			char *big = malloc((size_t)n + 1);
			leaks = !big || msg_header_e(big, n + 1, h, 0) != n ||
				topo_leaks(big, (size_t)n, tk);
			free(big);
		}
		/* An untouched header goes out as it came (sipmsg_iovec), and
		 * its bytes can say more than its parsed form prints (an
		 * Accept-Contact value Sofia reads as parameters only). */
		if (!leaks && h->sh_data && h->sh_len)
			leaks = topo_leaks(h->sh_data, (size_t)h->sh_len, tk);
		if (leaks)
			remove_header(msg, sip, h);
	}
}

/* ------------------------------------------------------------ entry points */

void rewrite_hide_topology(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip)
{
	struct topo_tokens tk;
	tokens_of(rc, msg_home(msg), &tk);
	map_uris(rc, msg, sip, ZONE_EXTERNAL, &tk);
	map_callids(rc, msg, sip, ZONE_EXTERNAL, &tk);
	hide_free_text(rc, msg, sip, &tk);
	hide_sdp(rc, msg, sip, &tk);
	drop_leaking(msg, sip, &tk);
}

void rewrite_reveal(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip)
{
	struct topo_tokens tk;
	tokens_of(rc, msg_home(msg), &tk);
	map_uris(rc, msg, sip, ZONE_INTERNAL, &tk);
	map_callids(rc, msg, sip, ZONE_INTERNAL, &tk);
}

void rewrite_cross(const struct rewrite_ctx *rc, msg_t *msg, sip_t *sip, enum zone toward)
{
	if (toward == ZONE_EXTERNAL)
		rewrite_hide_topology(rc, msg, sip);
	else
		rewrite_reveal(rc, msg, sip);
}
