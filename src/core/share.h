/* share.h - how much of a resource each peer holds, pure.
 *
 * A peer is who can be blamed for a resource: the certificate identity a
 * partner proved, its address before the handshake, a node. Counting per
 * peer lets the edge refuse the one peer that holds too much while every
 * other peer keeps its capacity (SPEC section 1). Entries live only while
 * their count is above zero, so the table is bounded by the global caps
 * of whatever it counts.
 */
#ifndef SIPEDGE_SHARE_H
#define SIPEDGE_SHARE_H

#include <stdbool.h>
#include <stddef.h>

#define SHARE_KEY_MAX 160

struct shares;

struct shares *shares_new(void);
void shares_free(struct shares *s);

/* One more for key, unless it already holds cap (0 = no cap). */
bool shares_take(struct shares *s, const char *key, unsigned cap);
/* Give one back (a key not held is ignored). */
void shares_release(struct shares *s, const char *key);
unsigned shares_held(const struct shares *s, const char *key);
/* Distinct keys holding something. */
size_t shares_keys(const struct shares *s);

#endif
