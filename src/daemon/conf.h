/* conf.h - read edge.conf(5) into a struct conf (core/types.h).
 *
 * conf_load() reads a file with libconfig, checks every key against the
 * schema and returns either a complete struct conf or a list of
 * "FILE:LINE: message" errors. Nothing else in the daemon reads libconfig.
 */
#ifndef SIPEDGE_CONF_H
#define SIPEDGE_CONF_H

#include <stdio.h>

#include "core/types.h"
#include "net/dns.h"

/* Error list filled by conf_load(): one "FILE:LINE: message" per entry. */
struct conf_errors {
	char **msg;
	size_t n;
};

/*
 * Read and validate PATH. On success returns a conf and leaves errs empty.
 * On failure returns NULL and fills errs (caller frees with
 * conf_errors_free). check_files=true also opens certificate/key/CA files,
 * checks that each key matches its certificate, and reports unreadable
 * files; unit tests of the schema may pass false.
 */
struct conf *conf_load(const char *path, bool check_files,
		       struct conf_errors *errs);
void conf_free(struct conf *c);

/* The effective configuration in libconfig syntax (sipedge -T): every
 * settable key of the schema, defaults filled in, lists expanded, under a
 * comment naming c->path. conf_load() of the text gives the same
 * configuration. No file is read: secrets are named, never printed. */
void conf_print(FILE *out, const struct conf *c);

/* The resolver's options from c's dns group; the strings stay c's. */
void conf_dns_options(const struct conf *c, struct dns_options *out);
void conf_errors_free(struct conf_errors *errs);

#endif
