/* fuzz_rewrite.c - libFuzzer harness (issue 7 (c), issue 15): fuzzed
 * messages through rewrite.c's entry points in both directions, called in
 * the order the proxy calls them (proxy.c: on_request, proxy_forward,
 * on_response, local_response), on a configuration built in C and a fixed
 * Call-ID mask key. Links src/core and src/util only: no sockets, no
 * transactions, no policy; the proxy's own stages are covered by
 * tests/unit/test_proxy.c and the integration tests.
 *
 * Input: a 5-byte header, then messages separated by a line "%%":
 *   byte 0  bit 0 edge.public_address set, 1 the main external listener
 *           bound on 0.0.0.0, 2 a request from outside goes to node imp2
 *           (unless its Route names a node's public port), 5 node imp1
 *           over TLS, 6 no internal TLS listener; 3-4 and 7 unused
 *   byte 1-2  who sends message i (2 bits each, message 0 lowest):
 *           0 the partner (main listener), 1 another peer on imp1's public
 *           port 45062, 2 node imp1, 3 node imp2 (IPv6)
 *   byte 3  bit 0: the edge answers each request it forwarded itself
 *           (local_response), with the status bits 1-3 pick
 *   byte 4  unused
 * (the layout of the harness that drove the whole proxy: its corpus
 * still reads the same way.) A request from outside goes to a node, one
 * from a node goes outside; a response must name, in its top Via, a
 * branch the edge sent toward its sender's zone (else the proxy drops it)
 * and goes back the way its request came. Messages the proxy refuses
 * before rewriting (sipmsg_malformed, the version, a loop) are skipped.
 * In a message, "$BRANCH" becomes the top Via branch of the last request
 * the edge sent, so that responses can find their request.
 *
 * Properties checked besides the sanitizers (see fuzz_common.h):
 *  output-frame - what the edge sends frames as one whole message
 *                 (reported as "separator" when the message came with a
 *                 bare CR or LF empty line, as "uri-roundtrip" when it had
 *                 a URI with a path: fuzz_framing's findings);
 *  own-uri      - toward the outside, no Record-Route/Route entry of ours
 *                 (sipedge=int) names the internal listener;
 *  hide-via     - a request from a node leaves with exactly one Via, ours;
 *  pat          - toward the outside, no Contact, Record-Route, Route,
 *                 Request-URI, P-Asserted-Identity or Referred-By names a
 *                 node address:port that the PAT map covers (SPEC 3);
 *  topology     - toward the outside, a node's message names no internal
 *                 host (node address, tls_name, names, internal listener)
 *                 at a host boundary, %XX escapes decoded, in any header
 *                 but Via, From, To and CSeq, nor in its start line's
 *                 host (SPEC 3, rewrite_hide_topology);
 *  callid       - a node's Call-ID, masked on the way out, comes back in
 *                 (rewrite_reveal) as the node wrote it;
 *  uri-roundtrip - a URI of a message the edge takes (Request-URI, From,
 *                 To, Contact, Route, Record-Route, P-Asserted-Identity,
 *                 Referred-By) prints and reads back with its scheme and
 *                 host (what the edge checked is what the next hop reads);
 *  identity     - a peer's request reaches the node with the From host it
 *                 came with (the one the federation policy checks, SPEC 4);
 *  pattern      - route_pattern_score() ignores case and a trailing dot,
 *                 and a domain matches its own reversed pattern.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/su_alloc.h>
#include <sofia-sip/url.h>

#include "core/framing.h"
#include "core/mask.h"
#include "core/pat.h"
#include "core/rewrite.h"
#include "core/route.h"
#include "core/sipmsg.h"
#include "core/topo.h"
#include "fuzz_common.h"

/* ------------------------------------------------------------ the edge */

static struct conf_portmap ports0[] = { { 5062, 5061 }, { 5072, 45062 } };
static char *names0[] = { "imp1.corp.example.test" };
static struct conf_portmap ports1[] = { { 5062, 45063 } };
static struct conf_node nodes[] = {
	{ .name = "imp1", .address = "10.1.1.11", .tls_name = "imp1.example.test",
	  .names = names0, .nnames = 1,
	  .transport = TRANSPORT_TCP, .ports = ports0, .nports = 2, .routing = true,
	  .priority = 1 },
	{ .name = "imp2", .address = "fd00::12", .tls_name = "fd00::12",
	  .transport = TRANSPORT_TCP, .ports = ports1, .nports = 1, .routing = true,
	  .priority = 2 },
};
#define NNODES 2
static struct conf_listen listens[] = {
	{ .zone = ZONE_EXTERNAL, .address = "192.0.2.10", .port = 5061,
	  .transport = TRANSPORT_TLS },
	{ .zone = ZONE_INTERNAL, .address = "10.1.1.1", .port = 5060,
	  .transport = TRANSPORT_TCP },
};
static char *domains[] = { "example.test", "Sub.Example.Test." };
static const char *patterns[] = {
	".test.partner.*", ".test.static", ".*", ".test", ".", "", ".test..*",
};
static const unsigned char secret[MASK_KEY_LEN] = "fuzz_rewrite: a fixed mask key.";

static struct conf cf;
/* The listeners bound, as the proxy hands them to rewrite.c. */
static struct own_addr own[4];
static struct rewrite_ctx rc;

static void configure(uint8_t flags)
{
	memset(&cf, 0, sizeof cf);
	cf.edge.fqdn = "edge.example.com";
	cf.edge.public_address = (flags & 1) ? "192.0.2.10" : NULL;
	cf.listen = listens;
	cf.nlisten = 2;
	cf.internal.domains = domains;
	cf.internal.ndomains = 2;
	nodes[0].transport = (flags & 32) ? TRANSPORT_TLS : TRANSPORT_TCP;
	cf.internal.nodes = nodes;
	cf.internal.nnodes = NNODES;
	cf.limits.max_message_size = 65535;
	cf.limits.max_via = 70;
	cf.limits.max_header_values = 64;
	size_t n = 0;
	own[n++] = (struct own_addr){ ZONE_EXTERNAL, TRANSPORT_TLS,
				      (flags & 2) ? "0.0.0.0" : "192.0.2.10", 5061 };
	own[n++] = (struct own_addr){ ZONE_EXTERNAL, TRANSPORT_TLS, "192.0.2.10", 45062 };
	own[n++] = (struct own_addr){ ZONE_INTERNAL, TRANSPORT_TCP, "10.1.1.1", 5060 };
	if (!(flags & 64))
		own[n++] = (struct own_addr){ ZONE_INTERNAL, TRANSPORT_TLS, "10.1.1.1", 5061 };
	rc = (struct rewrite_ctx){ &cf, secret, own, n, NULL, { NULL, 0 } };
	/* Half the inputs with the tokens made once, as fwd_refresh_view()
	 * does; the rest with rewrite.c making them per message. */
	static const char *view_tokv[16];
	if ((flags & 128) && topo_tokens_count(&cf) <= 16)
		rc.tokens = (struct topo_tokens){ view_tokv, topo_tokens_fill(&cf, view_tokv, 16) };
}

/* As proxy.c's view_for(). */
static struct zone_view view_for(int node)
{
	struct zone_view zv = { .fqdn = cf.edge.fqdn };
	enum transport tr = TRANSPORT_TCP;
	if (node >= 0) {
		zv.public_port = cf.internal.nodes[node].ports[0].public_;
		tr = cf.internal.nodes[node].transport;
	} else {
		zv.public_port = cf.listen[0].port;
	}
	zv.intl = rewrite_internal_listener(&rc, tr);
	return zv;
}

/* ------------------------------------------------------------ checks */

static bool verbose;            /* FUZZ_VERBOSE=1: show what is sent */
static bool lax_uris;           /* URIs Sofia misprints: when listed open, skip the URI checks */

static bool node_mapped(url_t const *u)
{
	if (!u || !u->url_host)
		return false;
	const char *h = u->url_host;
	size_t n = strlen(h);
	if (n > 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	int port = u->url_port ? atoi(u->url_port)
			       : pat_default_port(u->url_type == url_sips, u->url_params);
	for (size_t i = 0; i < NNODES; i++) {
		if (strlen(nodes[i].address) != n || strncasecmp(nodes[i].address, h, n) != 0)
			continue;
		for (size_t k = 0; k < nodes[i].nports; k++)
			if (nodes[i].ports[k].internal == port)
				return true;
	}
	return false;
}

static void check_pat(const char *what, url_t const *u, const char *text, size_t len)
{
	if (node_mapped(u)) {
		fuzz_dump("pat", "sent toward the outside", text, len);
		finding("pat", "%s names node %s:%s toward the outside", what,
			u->url_host, u->url_port ? u->url_port : "(default)");
	}
}

/* Our internal-facing entries (sipedge=int on the internal listener's
 * address) must have been mapped to edge.fqdn before leaving. A node may
 * write any URI, markers included: only our listener's address with our
 * "int" marker counts (a node's made-up "sipedge=ext" on it is not ours). */
static void check_own(const char *what, url_t const *u, const char *text, size_t len)
{
	char v[8] = "";
	if (!u || !u->url_host ||
	    url_param(u->url_params, "sipedge", v, sizeof v) <= 0 || strcmp(v, "int") != 0)
		return;
	for (size_t i = 0; i < rc.nlisteners; i++)
		if (own[i].zone == ZONE_INTERNAL && sipmsg_host_is(u->url_host, own[i].address)) {
			fuzz_dump("own-uri", "sent toward the outside", text, len);
			finding("own-uri", "%s: our internal entry %s:%s leaves unmapped",
				what, u->url_host, u->url_port ? u->url_port : "");
		}
}

/* The hard guarantee of SPEC 3, on what was printed for the outside. */
static void check_topology(sip_t const *sip, const char *p, size_t plen)
{
	static const char *tokv[16];
	struct topo_tokens tk = { tokv, topo_tokens_fill(&cf, tokv, 16) };
	const char *end = memmem(p, plen, "\r\n\r\n", 4);
	size_t hlen = end ? (size_t)(end - p) + 2 : plen;
	const char *line = memchr(p, '\n', hlen);     /* past the start line */
	while (line && (size_t)(line + 1 - p) < hlen) {
		line++;
		const char *nl = memchr(line, '\n', hlen - (size_t)(line - p));
		size_t ll = nl ? (size_t)(nl - line) : hlen - (size_t)(line - p);
		size_t nlen = strcspn(line, ": \t");
		static const char *skip[] = { "via", "v", "from", "f", "to", "t", "cseq" };
		bool skipped = false;
		for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++)
			skipped |= nlen == strlen(skip[i]) && strncasecmp(line, skip[i], nlen) == 0;
		if (!skipped && topo_leaks(line, ll, &tk)) {
			fuzz_dump("topology", "sent toward the outside", p, plen);
			finding("topology", "a node's message leaves naming an internal host: %.*s",
				(int)(ll > 200 ? 200 : ll), line);
		}
		line = nl;
	}
	if (sip->sip_request && sip->sip_request->rq_url->url_host &&
	    topo_host_is_token(sip->sip_request->rq_url->url_host, &tk)) {
		fuzz_dump("topology", "sent toward the outside", p, plen);
		finding("topology", "Request-URI host %s leaves", sip->sip_request->rq_url->url_host);
	}
}

static void check_outside(sip_t const *sip, bool from_node, const char *text, size_t len)
{
	if (lax_uris)
		return;
	for (sip_record_route_t const *r = sip->sip_record_route; r; r = r->r_next)
		check_own("Record-Route", r->r_url, text, len);
	for (sip_route_t const *r = sip->sip_route; r; r = r->r_next)
		check_own("Route", r->r_url, text, len);
	if (!from_node)
		return;
	check_topology(sip, text, len);
	if (sip->sip_request) {
		int n = 0;
		for (sip_via_t const *v = sip->sip_via; v; v = v->v_next)
			n++;
		if (n != 1 || strcasecmp(sip->sip_via->v_host, cf.edge.fqdn) != 0) {
			fuzz_dump("hide-via", "request sent toward the outside", text, len);
			finding("hide-via", "a node's request leaves with %d Via(s), top %s",
				n, sip->sip_via ? sip->sip_via->v_host : "-");
		}
		check_pat("Request-URI", sip->sip_request->rq_url, text, len);
	}
	for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next)
		check_pat("Contact", m->m_url, text, len);
	for (sip_record_route_t const *r = sip->sip_record_route; r; r = r->r_next)
		check_pat("Record-Route", r->r_url, text, len);
	for (sip_route_t const *r = sip->sip_route; r; r = r->r_next)
		check_pat("Route", r->r_url, text, len);
	for (sip_p_asserted_identity_t const *p = sip_p_asserted_identity(sip); p;
	     p = p->paid_next)
		check_pat("P-Asserted-Identity", p->paid_url, text, len);
	sip_referred_by_t const *b = sip_referred_by(sip);
	if (b)
		check_pat("Referred-By", b->b_url, text, len);
}

/* What the way out did to a node's Call-ID, the way in undoes (a Call-ID
 * too long to mask is hashed: one-way by design). */
static void check_callid(msg_t *out, const char *original, const char *text, size_t len)
{
	sip_t *s = sip_object(out);
	if (lax_uris || !original || !s || !s->sip_call_id ||
	    strcmp(s->sip_call_id->i_id, original) == 0 ||
	    strncmp(s->sip_call_id->i_id, MASK_HASH_PREFIX, strlen(MASK_HASH_PREFIX)) == 0)
		return;
	rewrite_reveal(&rc, out, s);
	if (strcmp(s->sip_call_id->i_id, original) != 0) {
		fuzz_dump("callid", "sent toward the outside", text, len);
		finding("callid", "Call-ID \"%s\" comes back in as \"%s\"", original,
			s->sip_call_id->i_id);
	}
}

/* What the edge is about to send one way. */
struct sent {
	enum zone toward;
	bool from_node;              /* what a node wrote, going out */
	const char *tag;             /* how a bad frame is reported */
	const char *from_host;       /* a peer's request: its From host, else NULL */
	const char *callid;          /* a node's Call-ID as it wrote it, else NULL */
};

/* The one message text framed back, or NULL (then reported). */
static msg_t *reframe(const char *text, size_t len, const char *tag)
{
	struct framer *f = framer_new(16 * 1024 * 1024);
	framer_feed(f, text, len);
	msg_t *m = NULL, *extra = NULL;
	enum frame_event ev = framer_next(f, &m);
	enum frame_event ev2 = ev == FRAME_MSG ? framer_next(f, &extra) : FRAME_NONE;
	bool whole = ev == FRAME_MSG && ev2 == FRAME_NONE && !framer_pending(f);
	if (extra)
		msg_destroy(extra);
	framer_free(f);
	if (!whole) {
		if (m)
			msg_destroy(m);
		fuzz_dump(tag, "sent", text, len);
		finding(tag, "what the edge sent does not frame as one message (event %d, %d)",
			(int)ev, (int)ev2);
		return NULL;
	}
	return m;
}

/* Print msg as the proxy sends it, then check what the receiver reads. */
static void emit(msg_t *msg, const struct sent *w)
{
	size_t len;
	char *text = sipmsg_print(msg, &len);
	if (!text)
		return;
	if (verbose)
		fuzz_dump("-", w->toward == ZONE_EXTERNAL ? "to the outside" : "to a node",
			  text, len);
	msg_t *m = reframe(text, len, w->tag);
	sip_t const *sip = m ? sip_object(m) : NULL;
	if (sip && w->toward == ZONE_EXTERNAL)
		check_outside(sip, w->from_node, text, len);
	if (sip && w->from_host && sip->sip_from && !lax_uris) {
		char h[256];
		sipmsg_host(sip->sip_from->a_url, h, sizeof h);
		if (strcmp(h, w->from_host) != 0) {
			fuzz_dump("identity", "sent to a node", text, len);
			finding("identity", "the request came with From host \"%s\", the "
				"node reads \"%s\"", w->from_host, h);
		}
	}
	if (m && w->callid)
		check_callid(m, w->callid, text, len);
	if (m)
		msg_destroy(m);
	free(text);
}

static void reverse(const char *d, char *out, size_t len)
{
	size_t n = strlen(d), o = 0;
	while (n > 0 && o + 2 < len) {
		size_t s = n;
		while (s > 0 && d[s - 1] != '.')
			s--;
		if (o + 1 + (n - s) + 1 > len)
			break;
		out[o++] = '.';
		memcpy(out + o, d + s, n - s);
		o += n - s;
		n = s > 0 ? s - 1 : 0;
	}
	out[o] = '\0';
}

static void check_patterns(const char *host)
{
	size_t n = strlen(host);
	if (n == 0 || n > 200 || host[n - 1] == '.' || host[0] == '.' || strstr(host, ".."))
		return;
	char dot[256], up[256], rev[260];
	snprintf(dot, sizeof dot, "%s.", host);
	for (size_t i = 0; i <= n; i++)
		up[i] = (char)toupper((unsigned char)host[i]);
	for (size_t i = 0; i < sizeof patterns / sizeof patterns[0]; i++) {
		int s = route_pattern_score(patterns[i], host);
		if (route_pattern_score(patterns[i], dot) != s ||
		    route_pattern_score(patterns[i], up) != s)
			finding("pattern", "route_pattern_score(\"%s\", \"%s\") = %d, "
				"but not for \"%s\" or \"%s\"", patterns[i], host, s, dot, up);
	}
	reverse(host, rev, sizeof rev);
	if (route_pattern_score(rev, host) < 0)
		finding("pattern", "\"%s\" does not match its own pattern \"%s\"", host, rev);
	strcat(rev, ".*");
	if (route_pattern_score(rev, host) < 0)
		finding("pattern", "\"%s\" does not match its own pattern \"%s\"", host, rev);
	int internal;
	(void)pat_public_port(&cf, host, 5062);
	(void)pat_node_for_public(&cf, (int)(n * 997 % 65536), &internal);
}

static void check_request_uri(sip_t const *sip)
{
	if (!sip || !sip->sip_request || !sip->sip_request->rq_url->url_host)
		return;
	url_t const *u = sip->sip_request->rq_url;
	check_patterns(u->url_host);
	int dp = pat_default_port(u->url_type == url_sips, u->url_params);
	if (dp != 5060 && dp != 5061)
		finding("pattern", "pat_default_port() = %d", dp);
}

/* ------------------------------------------------------------ the proxy's steps */

/* A request the edge forwarded: what its responses need. */
struct fwd {
	msg_t *msg;                  /* as sent (holds the hidden Vias) */
	char branch[64];
	enum zone up, down;
	int node;
	sip_via_t const *hidden;     /* a node's Vias, kept off the wire */
	bool expects_response;
};

#define MAX_MSGS 8
static struct fwd fwds[MAX_MSGS];
static size_t nfwd;
static char last_branch[64];
static bool local_answers;
static int local_status;

/* The message would be refused before rewriting (proxy_on_message). */
static bool refused_early(msg_t *msg, sip_t const *sip)
{
	return sipmsg_malformed(msg, (sip_t *)sip) || !sipmsg_version_ok(sip);
}

/* Which node a request from outside goes to: the one whose public port
 * its Route (or a strict-routing Request-URI) named, else by the flag. */
static int inbound_node(int route_port, bool to_imp2)
{
	int internal;
	const struct conf_node *n = route_port > 0 ? pat_node_for_public(&cf, route_port, &internal)
						   : NULL;
	if (n)
		return (int)(n - cf.internal.nodes);
	return to_imp2 ? 1 : 0;
}

/* As proxy.c's local_response(): the edge answers what it forwarded. */
static void answer_locally(const struct fwd *t, const char *tag)
{
	msg_t *resp = sipmsg_response(t->msg, local_status, NULL, NULL);
	if (!resp)
		return;
	sip_t *rs = sip_object(resp);
	rewrite_pop_via(resp, rs);
	if (t->hidden)
		rewrite_restore_vias(resp, rs, t->hidden);
	rewrite_cross(&rc, resp, rs, t->up);
	emit(resp, &(struct sent){ .toward = t->up, .tag = tag });
	msg_destroy(resp);
}

/* As on_request() and proxy_forward(): takes msg. */
static void forward_request(msg_t *msg, sip_t *sip, enum zone from, int node,
			    bool to_imp2, const char *tag)
{
	if (rewrite_looped(&rc, sip)) {              /* 482 */
		msg_destroy(msg);
		return;
	}
	int strict_port = rewrite_strict_route(&rc, msg, sip);
	int route_port = rewrite_pop_own_routes(&rc, msg, sip, from);
	if (strict_port > 0 && route_port == 0)
		route_port = strict_port;
	enum zone toward = from == ZONE_EXTERNAL ? ZONE_INTERNAL : ZONE_EXTERNAL;
	if (from == ZONE_EXTERNAL)
		node = inbound_node(route_port, to_imp2);
	struct zone_view zv = view_for(node);
	if (!zv.intl || nfwd == MAX_MSGS) {
		msg_destroy(msg);
		return;
	}
	char from_host[256] = "", callid[256];
	sip_method_t m = sip->sip_request->rq_method;
	if (from == ZONE_EXTERNAL && m != sip_method_cancel)
		sipmsg_host(sip->sip_from->a_url, from_host, sizeof from_host);
	snprintf(callid, sizeof callid, "%s", sip->sip_call_id->i_id);

	struct fwd *t = &fwds[nfwd++];
	*t = (struct fwd){ .msg = msg, .up = from, .down = toward, .node = node,
			   .expects_response = m != sip_method_ack };
	snprintf(t->branch, sizeof t->branch, BRANCH_PREFIX "fuzz%zu", nfwd);
	if (toward == ZONE_EXTERNAL)
		t->hidden = rewrite_hide_vias(msg, sip);
	rewrite_push_via(msg, sip, toward, &zv, t->branch);
	if (m != sip_method_ack && m != sip_method_cancel)
		rewrite_record_route(msg, sip, toward, &zv);
	rewrite_own_uris_for(&rc, msg, sip, toward, &zv);
	rewrite_cross(&rc, msg, sip, toward);
	emit(msg, &(struct sent){ .toward = toward, .from_node = from == ZONE_INTERNAL,
				  .tag = tag, .from_host = from_host[0] ? from_host : NULL,
				  .callid = from == ZONE_INTERNAL && strlen(callid) < 255 ? callid
											: NULL });
	snprintf(last_branch, sizeof last_branch, "%s", t->branch);
	if (local_answers && t->expects_response)
		answer_locally(t, tag);
}

/* As on_response(): a response goes back the way its request came;
 * takes msg. */
static void relay_response(msg_t *msg, sip_t *sip, enum zone from, const char *tag)
{
	const struct fwd *t = NULL;
	for (size_t i = 0; i < nfwd && !t; i++)
		if (fwds[i].down == from && fwds[i].expects_response && sip->sip_via->v_branch &&
		    strcmp(fwds[i].branch, sip->sip_via->v_branch) == 0)
			t = &fwds[i];
	if (!t) {                                     /* stray: dropped */
		msg_destroy(msg);
		return;
	}
	rewrite_pop_via(msg, sip);
	if (t->hidden)
		rewrite_restore_vias(msg, sip, t->hidden);
	struct zone_view zv = view_for(t->node);
	rewrite_own_uris_for(&rc, msg, sip, t->up, &zv);
	rewrite_cross(&rc, msg, sip, t->up);
	emit(msg, &(struct sent){ .toward = t->up, .from_node = from == ZONE_INTERNAL,
				  .tag = tag });
	msg_destroy(msg);
}

/* ------------------------------------------------------------ driving */

/* "$BRANCH" -> the last branch we sent. */
static char *substitute(const char *p, size_t n, size_t *outlen)
{
	static const char key[] = "$BRANCH";
	size_t bl = strlen(last_branch), cap = n + 1, o = 0;
	for (const char *q = p; (q = memmem(q, (size_t)(p + n - q), key, 7)); q += 7)
		cap += bl;
	char *out = malloc(cap);
	for (size_t i = 0; i < n; ) {
		if (i + 7 <= n && memcmp(p + i, key, 7) == 0) {
			memcpy(out + o, last_branch, bl);
			o += bl;
			i += 7;
		} else {
			out[o++] = p[i++];
		}
	}
	*outlen = o;
	return out;
}

/* Sofia reads "sip:host/x" as host + path and prints "sip:hostx"
 * (fuzz_framing's uri-roundtrip): the URI checks of a message with such a
 * URI are skipped while that bug is listed open. */
static bool url_path(url_t const *u)
{
	return u && (u->url_path || u->url_root);
}

static bool has_path(sip_t const *sip)
{
	if (!sip)
		return false;
	if (sip->sip_request && url_path(sip->sip_request->rq_url))
		return true;
	if ((sip->sip_from && url_path(sip->sip_from->a_url)) ||
	    (sip->sip_to && url_path(sip->sip_to->a_url)))
		return true;
	for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next)
		if (url_path(m->m_url))
			return true;
	for (sip_record_route_t const *r = sip->sip_record_route; r; r = r->r_next)
		if (url_path(r->r_url))
			return true;
	for (sip_route_t const *r = sip->sip_route; r; r = r->r_next)
		if (url_path(r->r_url))
			return true;
	for (sip_p_asserted_identity_t const *p = sip_p_asserted_identity(sip); p;
	     p = p->paid_next)
		if (url_path(p->paid_url))
			return true;
	sip_referred_by_t const *b = sip_referred_by(sip);
	return b && url_path(b->b_url);
}

/* A URI rewriting may print anew must read back as the same scheme and
 * host: the next hop checks nothing the edge checked otherwise (Sofia's
 * "sip:host/x" is printed "sip:hostx", "sip/x:u@h" as "sipx:u@h";
 * sipmsg_malformed() refuses them). */
static void roundtrip_one(const char *what, url_t const *u)
{
	if (!u || !u->url_host || lax_uris)
		return;
	su_home_t home[1] = { SU_HOME_INIT(home) };
	char *s = url_as_string(home, u);
	url_t *v = s ? url_make(home, s) : NULL;
	if (v && (v->url_type != u->url_type || !v->url_host ||
		  strcasecmp(v->url_host, u->url_host) != 0 ||
		  strcasecmp(v->url_scheme ? v->url_scheme : "",
			     u->url_scheme ? u->url_scheme : "") != 0))
		finding("uri-roundtrip", "%s: %s:...@%s prints as \"%s\", read back with host %s",
			what, u->url_scheme ? u->url_scheme : "?", u->url_host, s,
			v->url_host ? v->url_host : "(none)");
	su_home_deinit(home);
}

static void check_roundtrip(sip_t const *sip)
{
	if (sip->sip_request)
		roundtrip_one("Request-URI", sip->sip_request->rq_url);
	roundtrip_one("From", sip->sip_from->a_url);
	roundtrip_one("To", sip->sip_to->a_url);
	for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next)
		roundtrip_one("Contact", m->m_url);
	for (sip_record_route_t const *r = sip->sip_record_route; r; r = r->r_next)
		roundtrip_one("Record-Route", r->r_url);
	for (sip_route_t const *r = sip->sip_route; r; r = r->r_next)
		roundtrip_one("Route", r->r_url);
	for (sip_p_asserted_identity_t const *p = sip_p_asserted_identity(sip); p;
	     p = p->paid_next)
		roundtrip_one("P-Asserted-Identity", p->paid_url);
	if (sip_referred_by(sip))
		roundtrip_one("Referred-By", sip_referred_by(sip)->b_url);
}

static bool sep_crlf(sip_t const *sip)
{
	return !sip || !sip->sip_separator || strcmp(sip->sip_separator->sep_data, "\r\n") == 0;
}

/* Too many values for the proxy's limits: refused before rewriting. */
static bool too_many(sip_t const *sip)
{
	size_t n = 0;
	for (sip_via_t const *v = sip->sip_via; v; v = v->v_next)
		n++;
	return n > (size_t)cf.limits.max_via;
}

/* One message from sender `who`; takes msg. */
static void handle(msg_t *msg, int who, uint8_t flags)
{
	sip_t *sip = sip_object(msg);
	check_request_uri(sip);
	if (refused_early(msg, sip) || too_many(sip)) {
		msg_destroy(msg);
		return;
	}
	enum zone from = who < 2 ? ZONE_EXTERNAL : ZONE_INTERNAL;
	bool path = has_path(sip);
	lax_uris = path && fuzz_ignored("uri-roundtrip");
	/* a bare CR/LF empty line, a URI path printed without its '/':
	 * fuzz_framing's "separator" and "uri-roundtrip" */
	const char *tag = !sep_crlf(sip) ? "separator" : path ? "uri-roundtrip" : "output-frame";
	check_roundtrip(sip);
	if (sip->sip_status)
		relay_response(msg, sip, from, tag);
	else
		forward_request(msg, sip, from, who - 2, flags & 4, tag);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	sipmsg_mclass();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	return 0;
}

#define HDR_LEN 5

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < HDR_LEN)
		return 0;
	static const int statuses[] = { 408, 480, 500, 503, 504, 100, 487, 603 };
	uint8_t flags = data[0];
	unsigned plan = (unsigned)data[1] | (unsigned)data[2] << 8;
	local_answers = data[3] & 1;
	local_status = statuses[(data[3] >> 1) & 7];
	configure(flags);
	last_branch[0] = '\0';
	nfwd = 0;

	const char *p = (const char *)data + HDR_LEN, *end = (const char *)data + size;
	int nmsg = 0;
	while (p < end && nmsg < MAX_MSGS) {
		const char *sep = memmem(p, (size_t)(end - p), "\n%%\n", 4);
		const char *stop = sep ? sep + 1 : end;
		size_t len;
		char *text = substitute(p, (size_t)(stop - p), &len);
		p = sep ? sep + 4 : end;

		struct framer *f = framer_new((size_t)cf.limits.max_message_size);
		framer_feed(f, text, len);
		free(text);
		msg_t *msg;
		enum frame_event ev;
		while ((ev = framer_next(f, &msg)) != FRAME_NONE) {
			if (ev != FRAME_MSG)
				continue;
			if (nmsg == MAX_MSGS) {
				msg_destroy(msg);
				continue;
			}
			handle(msg, (plan >> (2 * nmsg)) & 3, flags);
			nmsg++;
		}
		framer_free(f);
	}
	for (size_t i = 0; i < nfwd; i++)
		msg_destroy(fwds[i].msg);
	return 0;
}
