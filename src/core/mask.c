/* mask.c - the Call-ID mask: HMAC-SHA256 synthetic IV, AES-256-CTR. */
#include <string.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "core/mask.h"

#define IV_LEN 16

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t mask_b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen)
{
	size_t need = (len * 4 + 2) / 3;
	if (outlen < need + 1)
		return 0;
	size_t o = 0, i = 0;
	for (; i + 3 <= len; i += 3) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned)in[i] << 16;
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned)in[i] << 16 | (unsigned)in[i + 1] << 8;
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
	}
	out[o] = '\0';
	return o;
}

static int b64_val(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

long mask_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen)
{
	if (len % 4 == 1)
		return -1;
	size_t need = len * 3 / 4;
	if (outlen < need)
		return -1;
	size_t o = 0;
	unsigned acc = 0;
	int bits = 0;
	for (size_t i = 0; i < len; i++) {
		int v = b64_val(in[i]);
		if (v < 0)
			return -1;
		acc = (acc << 6 | (unsigned)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Canonical form only: the bits left over must be zero. */
	if (bits && (acc & ((1u << bits) - 1)))
		return -1;
	return (long)o;
}

/* k = HMAC-SHA256(key, label) */
static bool derive(const unsigned char secret[MASK_KEY_LEN], const char *label,
		   unsigned char out[32])
{
	unsigned int n = 32;
	return HMAC(EVP_sha256(), secret, MASK_KEY_LEN, (const unsigned char *)label,
		    strlen(label), out, &n) != NULL && n == 32;
}

static bool synthetic_iv(const unsigned char k_mac[32], const unsigned char *data,
			 size_t len, unsigned char iv[IV_LEN])
{
	unsigned char full[32];
	unsigned int n = sizeof full;
	if (!HMAC(EVP_sha256(), k_mac, 32, data, len, full, &n) || n != 32)
		return false;
	memcpy(iv, full, IV_LEN);
	OPENSSL_cleanse(full, sizeof full);
	return true;
}

/* AES-256-CTR is its own inverse. */
static bool ctr(const unsigned char k_enc[32], const unsigned char iv[IV_LEN],
		const unsigned char *in, size_t len, unsigned char *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int n = 0, fin = 0;
	bool ok = ctx && len <= (size_t)MASK_MAX_CALLID &&
		  EVP_EncryptInit_ex(ctx, EVP_aes_256_ctr(), NULL, k_enc, iv) == 1 &&
		  EVP_EncryptUpdate(ctx, out, &n, in, (int)len) == 1 &&
		  EVP_EncryptFinal_ex(ctx, out + n, &fin) == 1 &&
		  (size_t)(n + fin) == len;
	EVP_CIPHER_CTX_free(ctx);
	return ok;
}

bool mask_is_masked(const char *s)
{
	return s && strncmp(s, MASK_PREFIX, strlen(MASK_PREFIX)) == 0;
}

bool mask_callid(const unsigned char secret[MASK_KEY_LEN], const char *callid,
		 char *out, size_t outlen)
{
	size_t len = callid ? strlen(callid) : 0;
	size_t pre = strlen(MASK_PREFIX);
	if (len == 0 || len > MASK_MAX_CALLID || outlen < pre + 1)
		return false;
	unsigned char k_mac[32], k_enc[32], buf[IV_LEN + MASK_MAX_CALLID];
	bool ok = derive(secret, "callid-mac", k_mac) && derive(secret, "callid-enc", k_enc) &&
		  synthetic_iv(k_mac, (const unsigned char *)callid, len, buf) &&
		  ctr(k_enc, buf, (const unsigned char *)callid, len, buf + IV_LEN);
	if (ok) {
		memcpy(out, MASK_PREFIX, pre);
		ok = mask_b64url_encode(buf, IV_LEN + len, out + pre, outlen - pre) > 0;
	}
	OPENSSL_cleanse(k_mac, sizeof k_mac);
	OPENSSL_cleanse(k_enc, sizeof k_enc);
	if (!ok && outlen)
		out[0] = '\0';
	return ok;
}

bool mask_unmask(const unsigned char secret[MASK_KEY_LEN], const char *s,
		 char *out, size_t outlen)
{
	if (outlen)
		out[0] = '\0';
	if (!mask_is_masked(s))
		return false;
	const char *enc = s + strlen(MASK_PREFIX);
	size_t elen = strlen(enc);
	unsigned char buf[IV_LEN + MASK_MAX_CALLID], plain[MASK_MAX_CALLID], iv[IV_LEN];
	if (elen > ((IV_LEN + MASK_MAX_CALLID) * 4 + 2) / 3)
		return false;
	long n = mask_b64url_decode(enc, elen, buf, sizeof buf);
	if (n <= IV_LEN)
		return false;
	size_t len = (size_t)n - IV_LEN;
	if (len + 1 > outlen)
		return false;
	unsigned char k_mac[32], k_enc[32];
	bool ok = derive(secret, "callid-mac", k_mac) && derive(secret, "callid-enc", k_enc) &&
		  ctr(k_enc, buf, buf + IV_LEN, len, plain) &&
		  synthetic_iv(k_mac, plain, len, iv) &&
		  CRYPTO_memcmp(iv, buf, IV_LEN) == 0 &&
		  !memchr(plain, '\0', len);
	if (ok) {
		memcpy(out, plain, len);
		out[len] = '\0';
	}
	OPENSSL_cleanse(k_mac, sizeof k_mac);
	OPENSSL_cleanse(k_enc, sizeof k_enc);
	OPENSSL_cleanse(plain, sizeof plain);
	return ok;
}

bool mask_unmask_any(const unsigned char cur[MASK_KEY_LEN], const unsigned char *prev,
		     const char *s, char *out, size_t outlen)
{
	return mask_unmask(cur, s, out, outlen) ||
	       (prev && mask_unmask(prev, s, out, outlen));
}

int64_t mask_prev_left_ms(const struct mask_prev *p, int seconds, int64_t now_ms)
{
	if (!p || !p->loaded || seconds <= 0)
		return 0;
	int64_t left = p->at_ms + (int64_t)seconds * 1000 - now_ms;
	return left > 0 ? left : 0;
}

bool mask_hash(const unsigned char secret[MASK_KEY_LEN], const char *callid,
	       char *out, size_t outlen)
{
	size_t pre = strlen(MASK_HASH_PREFIX);
	unsigned char k_mac[32], h[32];
	unsigned int n = sizeof h;
	bool ok = callid && outlen > pre && derive(secret, "callid-mac", k_mac) &&
		  HMAC(EVP_sha256(), k_mac, 32, (const unsigned char *)callid,
		       strlen(callid), h, &n) && n == 32;
	if (ok) {
		memcpy(out, MASK_HASH_PREFIX, pre);
		ok = mask_b64url_encode(h, sizeof h, out + pre, outlen - pre) > 0;
	}
	OPENSSL_cleanse(k_mac, sizeof k_mac);
	if (!ok && outlen)
		out[0] = '\0';
	return ok;
}
