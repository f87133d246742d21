/* proxyproto.c - PROXY protocol v1 and v2 headers, parsed strictly. */
#include <stdbool.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include "core/proxyproto.h"

static const unsigned char v2sig[12] = {
	0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A
};
static const char v1sig[] = "PROXY ";

static enum pp_status fail(struct pp_result *r, const char *why)
{
	r->reason = why;
	return PP_ERROR;
}

static size_t min_sz(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ------------------------------------------------------------ v1 */

/* A port: 1 to 5 digits, no leading zero (but "0"), at most 65535. */
static bool v1_port(const char *s, size_t n, uint16_t *out)
{
	if (n == 0 || n > 5 || (n > 1 && s[0] == '0'))
		return false;
	unsigned long v = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v > 65535)
		return false;
	*out = (uint16_t)v;
	return true;
}

static bool v1_addr(int fam, const char *s, size_t n, unsigned char *out)
{
	char buf[64];
	if (n == 0 || n >= sizeof buf)
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	return inet_pton(fam, buf, out) == 1;
}

/* Characters a v1 line may hold before its CR: printable ASCII. */
static bool v1_char(unsigned char c)
{
	return c >= 0x20 && c <= 0x7e;
}

static enum pp_status parse_v1(const unsigned char *buf, size_t len, struct pp_result *r)
{
	size_t lim = min_sz(len, PP_V1_MAX), eol = 0;
	bool found = false;
	for (size_t i = sizeof v1sig - 1; i < lim && !found; i++) {
		if (buf[i] == '\n') {
			eol = i;
			found = true;
		} else if (buf[i] == '\r') {
			if (i + 1 < len && buf[i + 1] != '\n')
				return fail(r, "v1: CR not followed by LF");
		} else if (!v1_char(buf[i])) {
			return fail(r, "v1: not a text line");
		}
	}
	if (!found)
		return len >= PP_V1_MAX ? fail(r, "v1: line longer than 107 bytes") : PP_NEED_MORE;
	if (buf[eol - 1] != '\r')
		return fail(r, "v1: line does not end in CRLF");
	/* The fields between "PROXY " and CR, separated by single spaces. */
	const char *line = (const char *)buf + (sizeof v1sig - 1);
	size_t n = eol - 1 - (sizeof v1sig - 1);
	const char *f[6];
	size_t fl[6], nf = 0;
	size_t start = 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && line[i] != ' ')
			continue;
		if (nf == 6)
			return fail(r, "v1: too many fields");
		f[nf] = line + start;
		fl[nf] = i - start;
		if (fl[nf] == 0)
			return fail(r, "v1: empty field (extra space)");
		nf++;
		start = i + 1;
		/* UNKNOWN: whatever follows is ignored (proxy-protocol.txt). */
		if (nf == 1 && fl[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0)
			break;
	}
	r->consumed = eol + 1;
	if (nf >= 1 && fl[0] == 7 && memcmp(f[0], "UNKNOWN", 7) == 0) {
		r->kind = PP_UNKNOWN;
		return PP_DONE;
	}
	int fam;
	if (fl[0] == 4 && memcmp(f[0], "TCP4", 4) == 0)
		fam = AF_INET;
	else if (fl[0] == 4 && memcmp(f[0], "TCP6", 4) == 0)
		fam = AF_INET6;
	else
		return fail(r, "v1: protocol is not TCP4, TCP6 or UNKNOWN");
	if (nf != 5)
		return fail(r, "v1: wrong number of fields");
	if (!v1_addr(fam, f[1], fl[1], r->src) || !v1_addr(fam, f[2], fl[2], r->dst))
		return fail(r, "v1: bad address");
	if (!v1_port(f[3], fl[3], &r->sport) || !v1_port(f[4], fl[4], &r->dport))
		return fail(r, "v1: bad port");
	r->kind = PP_PROXY;
	r->family = fam;
	return PP_DONE;
}

/* ------------------------------------------------------------ v2 */

static enum pp_status parse_v2(const unsigned char *buf, size_t len, struct pp_result *r)
{
	/* Refuse as early as the bytes allow: a bad header need not wait. */
	if (len > 12) {
		if ((buf[12] >> 4) != 2)
			return fail(r, "v2: version is not 2");
		if ((buf[12] & 0xf) > 1)
			return fail(r, "v2: command is neither LOCAL nor PROXY");
	}
	bool local = len > 12 && (buf[12] & 0xf) == 0;
	unsigned af = len > 13 ? buf[13] >> 4 : 0, proto = len > 13 ? buf[13] & 0xf : 0;
	if (len > 13 && !local) {
		if (af > 3 || proto > 2)
			return fail(r, "v2: unknown address family or transport");
		if (af == 3)
			return fail(r, "v2: AF_UNIX is not supported");
		if (proto == 2)
			return fail(r, "v2: DGRAM is not supported");
		if (af != 0 && proto != 1)
			return fail(r, "v2: transport is not STREAM");
	}
	if (len < 16)
		return PP_NEED_MORE;
	size_t hl = (size_t)buf[14] << 8 | buf[15];
	if (hl > PP_V2_MAX_LEN)
		return fail(r, "v2: length over 512 bytes");
	if (len < 16 + hl)
		return PP_NEED_MORE;
	r->consumed = 16 + hl;
	if (local) {
		r->kind = PP_LOCAL;
		return PP_DONE;
	}
	const unsigned char *p = buf + 16;
	size_t alen;
	if (af == 0) {
		r->kind = PP_UNKNOWN;
		return PP_DONE;         /* the address block is not ours to read */
	} else if (af == 1) {
		alen = 12;
		if (hl < alen)
			return fail(r, "v2: length too short for AF_INET");
		memcpy(r->src, p, 4);
		memcpy(r->dst, p + 4, 4);
		r->family = AF_INET;
	} else {
		alen = 36;
		if (hl < alen)
			return fail(r, "v2: length too short for AF_INET6");
		memcpy(r->src, p, 16);
		memcpy(r->dst, p + 16, 16);
		r->family = AF_INET6;
	}
	r->sport = (uint16_t)(p[alen - 4] << 8 | p[alen - 3]);
	r->dport = (uint16_t)(p[alen - 2] << 8 | p[alen - 1]);
	/* TLVs: type, 2-byte length, value; skipped, each within hl. */
	for (size_t off = alen; off < hl;) {
		if (hl - off < 3)
			return fail(r, "v2: truncated TLV");
		size_t tl = (size_t)p[off + 1] << 8 | p[off + 2];
		if (tl > hl - off - 3)
			return fail(r, "v2: TLV overruns the header");
		off += 3 + tl;
	}
	r->kind = PP_PROXY;
	return PP_DONE;
}

enum pp_status proxyproto_parse(const unsigned char *buf, size_t len, struct pp_result *r)
{
	memset(r, 0, sizeof *r);
	if (len == 0)
		return PP_NEED_MORE;
	size_t n1 = min_sz(len, sizeof v1sig - 1), n2 = min_sz(len, sizeof v2sig);
	if (memcmp(buf, v1sig, n1) == 0) {
		r->version = 1;
		return len < sizeof v1sig - 1 ? PP_NEED_MORE : parse_v1(buf, len, r);
	}
	if (memcmp(buf, v2sig, n2) == 0) {
		r->version = 2;
		return len < sizeof v2sig ? PP_NEED_MORE : parse_v2(buf, len, r);
	}
	return fail(r, "not a PROXY protocol header");
}
