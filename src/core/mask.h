/* mask.h - the stateless, reversible Call-ID mask (SPEC section 3).
 *
 * A Call-ID a node wrote with an internal address or name in it leaves
 * for the outside masked and comes back restored, with no state in the
 * edge: the mask is a deterministic authenticated encryption (SIV style)
 * under a key derived from the edge secret (edge.secret_file), so every
 * message of a dialog masks the same way, on every edge of a cluster that
 * shares the secret, before and after a restart.
 *
 *   k_mac = HMAC-SHA256(secret, "callid-mac")
 *   k_enc = HMAC-SHA256(secret, "callid-enc")
 *   IV    = HMAC-SHA256(k_mac, callid)[0..15]
 *   C     = AES-256-CTR(k_enc, IV, callid)
 *   mask  = "semask-" base64url_nopad(IV || C)
 *
 * Unmasking decrypts and recomputes IV: a mask that does not authenticate
 * (forged, tampered with, another key) is not one of ours.
 *
 * Call-IDs longer than MASK_MAX_CALLID bytes are not masked reversibly:
 * mask_hash() gives a one-way "sehash-" form for them instead (see
 * rewrite.c). Pure functions: no state, no I/O.
 */
#ifndef SIPEDGE_MASK_H
#define SIPEDGE_MASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MASK_PREFIX "semask-"
#define MASK_HASH_PREFIX "sehash-"
#define MASK_KEY_LEN 32
#define MASK_MAX_CALLID 1024
/* "semask-" + base64url(16 + 1024 bytes) + NUL */
#define MASK_MAX_OUT (sizeof MASK_PREFIX + ((16 + MASK_MAX_CALLID) * 4 + 2) / 3 + 1)

/* Mask callid (1..MASK_MAX_CALLID bytes) into out; false if it does not
 * fit or is empty or too long. */
bool mask_callid(const unsigned char secret[MASK_KEY_LEN], const char *callid,
		 char *out, size_t outlen);

/* Does it look like one of our masks (the prefix)? */
bool mask_is_masked(const char *s);

/* Restore a mask made with this secret into out. False (out untouched
 * beyond its first byte) when s is no mask, does not decode, or does not
 * authenticate under this secret. */
bool mask_unmask(const unsigned char secret[MASK_KEY_LEN], const char *s,
		 char *out, size_t outlen);

/* Rotation (edge.secret_previous_file): masks are always made with the
 * current key; a mask is restored under the current key, then under
 * prev when it is not NULL (the previous key, its window open). */
bool mask_unmask_any(const unsigned char cur[MASK_KEY_LEN], const unsigned char *prev,
		     const char *s, char *out, size_t outlen);

/* The previous key and when it was loaded (at start, or by the reload
 * that named its file), in CLOCK_MONOTONIC milliseconds: the same clock in
 * every worker, so a worker restarted later closes the window on time. */
struct mask_prev {
	unsigned char key[MASK_KEY_LEN];
	bool loaded;
	int64_t at_ms;
};

/* Milliseconds the previous key is still accepted at now_ms, with a window
 * of seconds (edge.secret_previous_seconds) from its loading; 0 when it is
 * not (none loaded, seconds 0, or the window is over). */
int64_t mask_prev_left_ms(const struct mask_prev *p, int seconds, int64_t now_ms);

/* One-way form of a Call-ID: "sehash-" base64url(HMAC-SHA256(k_mac, callid)),
 * 50 characters; false if outlen is too small. */
bool mask_hash(const unsigned char secret[MASK_KEY_LEN], const char *callid,
	       char *out, size_t outlen);

/* base64url without padding; returns the length written (NUL added) or
 * 0 when out is too small. Exposed for the tests. */
size_t mask_b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen);
/* Returns the decoded length, or -1 on a character outside the alphabet,
 * a length that is no base64 length, or an out too small. */
long mask_b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen);

#endif
