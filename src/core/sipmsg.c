/* sipmsg.c - Sofia-SIP glue: message class, sanity checks, printing,
 * locally generated responses. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <openssl/rand.h>
#include <sofia-sip/msg_addr.h>
#include <sofia-sip/msg_header.h>
#include <sofia-sip/msg_mclass.h>
#include <sofia-sip/msg_parser.h>
#include <sofia-sip/sip_parser.h>
#include <sofia-sip/sip_extra.h>
#include <sofia-sip/sip_protos.h>
#include <sofia-sip/su_alloc.h>

#include "core/sipmsg.h"

/*
 * Debian's Sofia-SIP 1.12.11 sip_method_d() refuses an unknown method that
 * starts with the letter of a known one when the byte at the known name's
 * length is white space or NUL: "SERVICE" (S as in SUBSCRIBE) fails at the
 * end of a request-line token or a CSeq. Microsoft edges send SERVICE, so
 * the request line and CSeq parsers are wrapped to parse the name from a
 * scratch copy padded with non-space bytes. Everything else stays Sofia's.
 */
#define METHOD_PAD " ............"

static sip_method_t method_d(char *name, char const **return_name)
{
	char buf[80];
	size_t n = strlen(name);
	if (n == 0 || n + sizeof METHOD_PAD > sizeof buf)
		return sip_method_invalid;
	memcpy(buf, name, n);
	memcpy(buf + n, METHOD_PAD, sizeof METHOD_PAD);
	char *p = buf;
	sip_method_t m = sip_method_d(&p, NULL);
	if (m < 0 || strcmp(p, METHOD_PAD + 1) != 0) {
		/* Sofia also refuses '+' and '`', which RFC 3261 tokens allow. */
		for (size_t i = 0; i < n; i++)
			if (!isalnum((unsigned char)name[i]) && !strchr("-.!%*_+`'~", name[i]))
				return sip_method_invalid;
		m = sip_method_unknown;
	}
	*return_name = m == sip_method_unknown ? name : sip_method_name(m, name);
	return m;
}

static issize_t request_d(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	(void)home; (void)slen;
	sip_request_t *rq = (sip_request_t *)h;
	char *uri, *version;
	if (msg_firstline_d(s, &uri, &version) < 0 || !uri || !version ||
	    (rq->rq_method = method_d(s, &rq->rq_method_name)) < 0 ||
	    url_d(rq->rq_url, uri) < 0 ||
	    sip_version_d(&version, &rq->rq_version) < 0 || *version)
		return -1;
	return 0;
}

static issize_t cseq_d(su_home_t *home, msg_header_t *h, char *s, isize_t slen)
{
	(void)home; (void)slen;
	sip_cseq_t *cs = (sip_cseq_t *)h;
	if (msg_uint32_d(&s, &cs->cs_seq) < 0)
		return -1;
	size_t n = strlen(s);
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	cs->cs_method = method_d(s, &cs->cs_method_name);
	return cs->cs_method < 0 ? -1 : 0;
}

static struct msg_hclass_s request_class[1], cseq_class[1];
msg_mclass_t const *sipmsg_mclass(void);

msg_hclass_t *sipmsg_request_class(void)
{
	sipmsg_mclass();
	return request_class;
}

msg_hclass_t *sipmsg_cseq_class(void)
{
	sipmsg_mclass();
	return cseq_class;
}

/* Sofia merges repeated token-list headers (Supported, Allow, Require,
 * ...) into the first one and leaves the others empty, so three
 * Supported lines would be printed as one merged line and two empty
 * ones. The edge prints untouched headers as they came (SPEC section 2):
 * each line stays a header of its own, chained like Contact. Every
 * list kind of our copy of the class gets a copy of its header class
 * with that behaviour; nothing in the edge builds these headers from the
 * stock classes. */
static void keep_list_lines(msg_mclass_t *mc)
{
	static struct msg_hclass_s copies[64];
	/* The compact forms (d, e, k, u are lists) have a table of their
	 * own, Sofia's, shared and read-only: ours is a copy naming ours. */
	static msg_href_t shorts[MC_SHORT_SIZE];
	if (mc->mc_short) {
		memcpy(shorts, mc->mc_short, sizeof shorts);
		mc->mc_short = shorts;
	}
	size_t n = 0;
	for (int i = 0; i < mc->mc_hash_size; i++) {
		msg_href_t *hr = &mc->mc_hash[i];
		if (!hr->hr_class || hr->hr_class->hc_kind != msg_kind_list ||
		    n == sizeof copies / sizeof copies[0])
			continue;
		msg_hclass_t *stock = hr->hr_class;
		copies[n] = *stock;
		copies[n].hc_kind = msg_kind_apndlist;
		hr->hr_class = &copies[n];
		for (size_t k = 0; mc->mc_short == shorts && k < MC_SHORT_SIZE; k++)
			if (shorts[k].hr_class == stock)
				shorts[k].hr_class = &copies[n];
		n++;
	}
}

msg_mclass_t const *sipmsg_mclass(void)
{
	static msg_mclass_t *mc;
	if (!mc) {
		/* Our own copy, extended with the extra headers, kept for the
		 * life of the process. */
		mc = sip_extend_mclass(NULL);
		if (!mc)
			return sip_default_mclass();
		request_class[0] = sip_request_class[0];
		request_class[0].hc_parse = request_d;
		mc->mc_request[0].hr_class = request_class;
		cseq_class[0] = sip_cseq_class[0];
		cseq_class[0].hc_parse = cseq_d;
		isize_t len;
		msg_href_t *hr = (msg_href_t *)msg_find_hclass(mc, "CSeq", &len);
		if (hr && hr->hr_class == sip_cseq_class)
			hr->hr_class = cseq_class;
		keep_list_lines(mc);
	}
	return mc;
}

/*
 * URIs Sofia would print back other than the next hop must read them, so
 * that the edge checks one host and the next hop reads another:
 * - "sip:host/x" is host plus a path without a root, printed without the
 *   '/': "sip:hostx" (and "sip/x:u@h" as "sipx:u@h"); a path after a root
 *   ("http://h/x", RFC 4475 novelsc) prints back as it came;
 * - a bare URI folded over lines ("From: a.example\r\n ;tag=1") keeps the
 *   CRLF in its host and prints it without the folding space: the next
 *   hop reads a new header line.
 */
static bool has_ctl(const char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A SIP URI's host is a host name, an IPv4 address or a bracketed IPv6
 * reference (RFC 3261 25.1). Sofia takes everything up to the last '@'
 * as the user part only sometimes: "sip:ceo@example.test@sip.partner.test"
 * gets host "example.test@sip.partner.test", which the policy would see
 * under partner.test while a next hop splitting at the first '@' sees
 * ceo@example.test. Any other character in a host is refused. */
static bool host_bad(url_t const *u)
{
	const char *h = u->url_host;
	if ((u->url_type != url_sip && u->url_type != url_sips) || !h)
		return false;
	size_t n = strlen(h);
	if (h[0] == '[')
		return n < 3 || h[n - 1] != ']' ||
		       strspn(h + 1, "0123456789abcdefABCDEF:.") != n - 2;
	return n == 0 || strspn(h, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
				"0123456789.-_") != n;
}

/* Sofia prints some URIs other than it read them ("1%3Bto@3D", no
 * scheme: the %3B printed as ';', read back with host "1"): whatever
 * does not read back with its scheme and host is refused. */
static bool reads_back_other(url_t const *u)
{
	su_home_t home[1] = { SU_HOME_INIT(home) };
	char *s = url_as_string(home, u);
	url_t *v = s ? url_make(home, s) : NULL;
	bool other = !v || v->url_type != u->url_type ||
		     strcasecmp(v->url_scheme ? v->url_scheme : "",
				u->url_scheme ? u->url_scheme : "") != 0 ||
		     !v->url_host != !u->url_host ||
		     (u->url_host && strcasecmp(v->url_host, u->url_host) != 0);
	su_home_deinit(home);
	return other;
}

/* Only an escape or an unknown scheme can print otherwise: the round trip
 * (a print and a parse) is for those, not for every URI of every message. */
static bool may_print_other(url_t const *u)
{
	if (u->url_type != url_sip && u->url_type != url_sips && u->url_type != url_tel)
		return true;
	const char *parts[] = { u->url_user, u->url_password, u->url_host, u->url_port,
				u->url_path, u->url_params, u->url_headers };
	for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
		if (parts[i] && strchr(parts[i], '%'))
			return true;
	return false;
}

static bool url_misprints(url_t const *u)
{
	if (!u)
		return false;
	return host_bad(u) || (may_print_other(u) && reads_back_other(u)) ||
	       (u->url_path && !u->url_root) || has_ctl(u->url_user) ||
	       has_ctl(u->url_password) || has_ctl(u->url_host) ||
	       has_ctl(u->url_port) || has_ctl(u->url_path) ||
	       has_ctl(u->url_params) || has_ctl(u->url_headers);
}

static const char *uri_misprinted(sip_t const *sip)
{
	if (sip->sip_request && url_misprints(sip->sip_request->rq_url))
		return "malformed Request-URI URI";
	if (url_misprints(sip->sip_from->a_url))
		return "malformed From URI";
	if (url_misprints(sip->sip_to->a_url))
		return "malformed To URI";
	for (sip_contact_t const *m = sip->sip_contact; m; m = m->m_next)
		if (url_misprints(m->m_url))
			return "malformed Contact URI";
	for (sip_route_t const *r = sip->sip_route; r; r = r->r_next)
		if (url_misprints(r->r_url))
			return "malformed Route URI";
	for (sip_record_route_t const *r = sip->sip_record_route; r; r = r->r_next)
		if (url_misprints(r->r_url))
			return "malformed Record-Route URI";
	for (sip_p_asserted_identity_t const *p = sip_p_asserted_identity(sip); p;
	     p = p->paid_next)
		if (url_misprints(p->paid_url))
			return "malformed P-Asserted-Identity URI";
	for (sip_p_preferred_identity_t const *p = sip_p_preferred_identity(sip); p;
	     p = p->ppid_next)
		if (url_misprints(p->ppid_url))
			return "malformed P-Preferred-Identity URI";
	if (sip_referred_by(sip) && url_misprints(sip_referred_by(sip)->b_url))
		return "malformed Referred-By URI";
	if (sip->sip_refer_to && url_misprints(sip->sip_refer_to->r_url))
		return "malformed Refer-To URI";
	return NULL;
}

/* A control character other than HTAB (and the CRLF that ends a line) in
 * a header as received: some next hop splits lines at VT, FF or DEL and
 * would read a header the edge never checked. Refused, since Sofia keeps
 * the byte in the value and printing anew would not remove it. */
static bool header_ctl(msg_t *msg)
{
	msg_header_t **head = msg ? msg_chain_head(msg) : NULL;
	for (msg_header_t *h = head ? *head : NULL; h; h = h->sh_succ) {
		if (!h->sh_class || !h->sh_class->hc_name || !h->sh_data)
			continue;       /* first line, separator, body */
		const unsigned char *p = (const unsigned char *)h->sh_data;
		for (size_t i = 0; i < h->sh_len; i++)
			if ((p[i] < 0x20 && p[i] != '\t' && p[i] != '\r' && p[i] != '\n') ||
			    p[i] == 0x7f)
				return true;
	}
	return false;
}

const char *sipmsg_malformed(msg_t *msg, sip_t const *sip)
{
	if (!sip)
		return "unparseable message";
	if (!sip->sip_request && !sip->sip_status)
		return "no request or status line";
	if (!sip->sip_via)
		return "missing or malformed Via";
	if (!sip->sip_from)
		return "missing or malformed From";
	if (!sip->sip_to)
		return "missing or malformed To";
	if (!sip->sip_call_id)
		return "missing or malformed Call-ID";
	if (!sip->sip_cseq)
		return "missing or malformed CSeq";
	if (!sip->sip_content_length)
		return "missing Content-Length";
	if (sip->sip_request) {
		if (!sip->sip_request->rq_url->url_host)
			return "Request-URI without host";
		/* RFC 3261 19.1.5: headers in a Request-URI are not for a proxy
		 * to pass on (RFC 4475 escruri). */
		if (sip->sip_request->rq_url->url_headers)
			return "Request-URI carries headers";
		if (sip->sip_cseq->cs_method != sip->sip_request->rq_method ||
		    (sip->sip_request->rq_method == sip_method_unknown &&
		     strcmp(sip->sip_cseq->cs_method_name,
			    sip->sip_request->rq_method_name) != 0))
			return "CSeq method does not match request method";
	}
	if (sip->sip_error)
		return "malformed header";
	if (header_ctl(msg))
		return "control character in a header";
	return uri_misprinted(sip);
}

bool sipmsg_version_ok(sip_t const *sip)
{
	char const *v = sip->sip_request ? sip->sip_request->rq_version
					 : sip->sip_status ? sip->sip_status->st_version : NULL;
	if (!v || strcasecmp(v, "SIP/2.0") != 0)
		return false;
	for (sip_via_t const *via = sip->sip_via; via; via = via->v_next)
		if (!via->v_protocol || strncasecmp(via->v_protocol, "SIP/2.0/", 8) != 0)
			return false;
	return true;
}

/* A header whose bytes hold a CR or LF that is not the CRLF ending it: a
 * bare one (Sofia accepts it as a line end) or a folded continuation line
 * (obs-fold). Another parser may frame either differently, so such a
 * header is printed anew, on one line, rather than passed on as read. */
static bool needs_one_line(msg_header_t const *h)
{
	const char *p = h->sh_data;
	size_t n = h->sh_len;
	while (n > 0 && (p[n - 1] == '\n' || p[n - 1] == '\r'))
		n--;                    /* the line's own end */
	for (size_t i = 0; p && i < n; i++)
		if (p[i] == '\r' || p[i] == '\n')
			return true;
	return h->sh_len >= 2 && (p[h->sh_len - 1] != '\n' || p[h->sh_len - 2] != '\r');
}

/* Folding is whitespace (RFC 3261 7.3.1): an unknown header's value keeps
 * the raw CRLF, which printing would pass on; make it spaces. */
static void unfold_unknown(msg_header_t *h)
{
	if (h->sh_class->hc_hash != msg_unknown_hash)
		return;
	char *v = (char *)((msg_unknown_t *)h)->un_value;
	for (; v && *v; v++)
		if (*v == '\r' || *v == '\n')
			*v = ' ';
}

isize_t sipmsg_iovec(msg_t *msg, msg_iovec_t *vec, isize_t veclen)
{
	sip_t *sip = sip_object(msg);
	/* The separator is always sent as CRLF (see bare_line_end). */
	if (sip && sip->sip_separator && strcmp(sip->sip_separator->sep_data, "\r\n") != 0) {
		strcpy(sip->sip_separator->sep_data, "\r\n");
		msg_fragment_clear(sip->sip_separator->sep_common);
	}
	if (msg_serialize(msg, NULL) < 0)
		return -1;
	/* The first line always in canonical form: RFC 3261 allows exactly
	 * one SP between its elements (RFC 4475 lwsstart, trws). */
	if (sip && sip->sip_request)
		msg_fragment_clear(sip->sip_request->rq_common);
	else if (sip && sip->sip_status)
		msg_fragment_clear(sip->sip_status->st_common);
	/* Untouched headers go out as they came (N lines stay N lines, a
	 * peer's spelling kept); what the edge edited or added has no bytes
	 * yet and is printed by msg_prepare. */
	for (msg_header_t *h = msg_chain_head(msg) ? *msg_chain_head(msg) : NULL; h; h = h->sh_succ)
		if (h->sh_data && h->sh_class && h->sh_class->hc_name && needs_one_line(h)) {
			unfold_unknown(h);
			msg_fragment_clear_chain(h);   /* and the values sharing its line */
		}
	if (msg_prepare(msg) < 0)
		return -1;
	return msg_iovec(msg, vec, veclen);
}

char *sipmsg_print(msg_t *msg, size_t *len)
{
	msg_iovec_t small[32], *vec = small;
	isize_t n = sipmsg_iovec(msg, small, 32);
	if (n <= 0)
		return NULL;
	if (n > 32) {
		if (!(vec = calloc((size_t)n, sizeof *vec)))
			return NULL;
		msg_iovec(msg, vec, n);
	}
	size_t total = 0;
	for (isize_t i = 0; i < n; i++)
		total += vec[i].mv_len;
	char *out = malloc(total + 1);
	if (out) {
		size_t off = 0;
		for (isize_t i = 0; i < n; i++) {
			memcpy(out + off, vec[i].mv_base, vec[i].mv_len);
			off += vec[i].mv_len;
		}
		out[total] = '\0';
		*len = total;
	}
	if (vec != small)
		free(vec);
	return out;
}

static void random_tag(char *buf, size_t len)
{
	unsigned char r[8];
	static const char hex[] = "0123456789abcdef";
	RAND_bytes(r, sizeof r);
	size_t i = 0;
	for (; i < sizeof r && 2 * i + 2 < len; i++) {
		buf[2 * i] = hex[r[i] >> 4];
		buf[2 * i + 1] = hex[r[i] & 15];
	}
	buf[2 * i] = '\0';
}

msg_t *sipmsg_response(msg_t *req, int status, const char *phrase,
		       const char *extra_headers)
{
	sip_t const *rq = sip_object(req);
	msg_t *resp = msg_create(sipmsg_mclass(), 0);
	if (!resp || !rq)
		goto fail;
	sip_t *rs = sip_object(resp);
	su_home_t *home = msg_home(resp);
	if (!phrase)
		phrase = sip_status_phrase(status);
	if (!phrase)
		phrase = "Unknown";
	if (sip_add_dup(resp, rs, (sip_header_t *)sip_status_create(home, status, phrase, NULL)) < 0)
		goto fail;
	/* One dup of the whole list keeps the order (sip_via_copy() of each
	 * entry would copy the rest of the chain with it). */
	if (sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_via) < 0)
		goto fail;
	if (sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_from) < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_to) < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_call_id) < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t const *)rq->sip_cseq) < 0)
		goto fail;
	if (status > 100 && rs->sip_to && !rs->sip_to->a_tag) {
		char tag[20];
		random_tag(tag, sizeof tag);
		sip_to_tag(home, rs->sip_to, tag);
	}
	if (extra_headers && *extra_headers &&
	    msg_header_add_str(resp, (msg_pub_t *)rs, extra_headers) < 0)
		goto fail;
	if (sip_add_make(resp, rs, sip_content_length_class, "0") < 0 ||
	    sip_add_dup(resp, rs, (sip_header_t *)sip_separator_create(home)) < 0)
		goto fail;
	return resp;
fail:
	if (resp)
		msg_destroy(resp);
	return NULL;
}

const char *sipmsg_host(url_t const *url, char *buf, size_t len)
{
	if (!url || !url->url_host || len == 0) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	/* A host that does not fit is no host: a truncated name could pass a
	 * suffix check it should fail. */
	if (strlen(url->url_host) >= len) {
		buf[0] = '\0';
		return buf;
	}
	size_t i = 0;
	for (const char *p = url->url_host; *p && i + 1 < len; p++)
		buf[i++] = (char)tolower((unsigned char)*p);
	if (i > 0 && buf[i - 1] == '.')
		i--;
	buf[i] = '\0';
	return buf;
}

/* The header's name as it would be printed (unknown headers keep theirs). */
static const char *header_name(msg_header_t const *h)
{
	if (!h->sh_class)
		return NULL;
	if (h->sh_class->hc_hash == msg_unknown_hash)
		return ((msg_unknown_t const *)h)->un_name;
	return h->sh_class->hc_name;
}

size_t sipmsg_remove_named(msg_t *msg, sip_t *sip, const char *const *names)
{
	size_t removed = 0;
	/* Several passes: removing reshapes the chain, so collect, then
	 * remove; a message holds a bounded number of headers. */
	for (int pass = 0; pass < 64; pass++) {
		msg_header_t *hit[64];
		size_t n = 0;
		msg_header_t **head = msg_chain_head(msg);
		for (msg_header_t *h = head ? *head : NULL; h && n < 64; h = h->sh_succ) {
			const char *name = header_name(h);
			for (size_t i = 0; name && names[i]; i++)
				if (strcasecmp(name, names[i]) == 0) {
					hit[n++] = h;
					break;
				}
		}
		for (size_t i = 0; i < n; i++)
			msg_header_remove(msg, (msg_pub_t *)sip, hit[i]);
		removed += n;
		if (n < 64)
			break;
	}
	return removed;
}

bool sipmsg_host_is(const char *uri_host, const char *addr)
{
	size_t n = strlen(uri_host);
	if (n > 2 && uri_host[0] == '[' && uri_host[n - 1] == ']')
		return strlen(addr) == n - 2 && strncasecmp(uri_host + 1, addr, n - 2) == 0;
	return strcasecmp(uri_host, addr) == 0;
}

msg_t *sipmsg_skeleton(msg_t *req)
{
	sip_t const *rq = sip_object(req);
	msg_t *sk = msg_create(sipmsg_mclass(), 0);
	if (!sk || !rq || !rq->sip_request)
		goto fail;
	sip_t *s = sip_object(sk);
	if (sip_add_dup(sk, s, (sip_header_t const *)rq->sip_request) < 0 ||
	    sip_add_dup(sk, s, (sip_header_t const *)rq->sip_via) < 0 ||
	    (rq->sip_route && sip_add_dup(sk, s, (sip_header_t const *)rq->sip_route) < 0) ||
	    (rq->sip_max_forwards &&
	     sip_add_dup(sk, s, (sip_header_t const *)rq->sip_max_forwards) < 0) ||
	    sip_add_dup(sk, s, (sip_header_t const *)rq->sip_from) < 0 ||
	    sip_add_dup(sk, s, (sip_header_t const *)rq->sip_to) < 0 ||
	    sip_add_dup(sk, s, (sip_header_t const *)rq->sip_call_id) < 0 ||
	    sip_add_dup(sk, s, (sip_header_t const *)rq->sip_cseq) < 0 ||
	    sip_add_make(sk, s, sip_content_length_class, "0") < 0 ||
	    sip_add_dup(sk, s, (sip_header_t *)sip_separator_create(msg_home(sk))) < 0)
		goto fail;
	return sk;
fail:
	if (sk)
		msg_destroy(sk);
	return NULL;
}
