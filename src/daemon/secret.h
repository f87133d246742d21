/* secret.h - the edge secret (edge.secret_file): the key of the Call-ID
 * mask (mask.h), shared by every edge of a cluster. */
#ifndef SIPEDGE_SECRET_H
#define SIPEDGE_SECRET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/mask.h"

#define SECRET_MIN 32       /* bytes of content a secret file must have */
#define SECRET_MAX 4096

/*
 * path "": 32 random bytes (masks then change at every start) and true.
 * Otherwise path must be a regular file with SECRET_MIN..SECRET_MAX bytes;
 * key = SHA-256 of its content. On failure false and a one-line reason in
 * err ("cannot open '/etc/sipedge/secret': Permission denied", ...).
 */
bool secret_load(const char *path, unsigned char key[32], char *err, size_t errlen);

/* CLOCK_MONOTONIC in milliseconds: the clock of struct mask_prev. */
int64_t secret_now_ms(void);

/* edge.secret_previous_file (rotation): path "" = no previous key
 * (p->loaded false); otherwise read as secret_load() reads secret_file,
 * p->at_ms = now. On failure false, p untouched, the reason in err. */
bool secret_load_previous(const char *path, struct mask_prev *p, char *err, size_t errlen);

#endif
