/* fuzz_conf.c - libFuzzer harness (issue 7 (d)): edge.conf parsing.
 *
 * The input is written to edge.conf in a private temporary directory and
 * read with conf_load(path, false, &errs), as `sipedge -t` would without
 * opening the certificate files.
 *
 * Properties checked besides the sanitizers (see fuzz_common.h):
 *  conf-result  - a configuration comes back exactly when there are no
 *                 errors, and every error reads "FILE:LINE: message";
 *  conf-schema  - what conf.h promises of a loaded configuration holds
 *                 (edge.fqdn set, nodes with >= 1 port in 1..65535,
 *                 max_message_size in 1024..16777216, ...);
 *  conf-patmap  - the PAT map is the bijection conf.c validates:
 *                 pat_public_port() and pat_node_for_public() invert
 *                 each other on every configured port pair;
 *  conf-exit    - conf_load() returns: it must not end the process (a
 *                 reload runs it inside the daemon); libFuzzer reports
 *                 "fuzz target exited". Only the switch is ours: with it
 *                 in FUZZ_IGNORE, @include of the directory is skipped.
 *
 * @include is kept, but only of names inside the directory: libconfig
 * would read "../../dev/zero" for ever, which is no bug of the edge.
 */
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/conf.h"
#include "core/pat.h"
#include "fuzz_common.h"

static char dir[64], path[96];

/* libconfig 1.5 (Debian 12) leaks its string buffer when the scanner
 * fails inside some string literals (reproduced with libconfig alone:
 * config_read_file() + config_destroy()). Not the edge's bug; a
 * configuration is read once per start or reload. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
	return "leak:libconfig_yylex\nleak:libconfig.so\n";
}

static const char included[] =
	"# what an @include \"inc.conf\" in a fuzzed file reads\n"
	"federation = { discovery = true; blocked = [ \"bad.test\" ]; };\n";

static void cleanup(void)
{

	char inc[96];
	snprintf(inc, sizeof inc, "%s/inc.conf", dir);
	unlink(path);
	unlink(inc);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc; (void)argv;
	snprintf(dir, sizeof dir, "%s/fuzz_conf.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(dir)) {
		perror("fuzz_conf: mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof path, "%s/edge.conf", dir);
	char inc[96];
	snprintf(inc, sizeof inc, "%s/inc.conf", dir);
	FILE *f = fopen(inc, "w");
	if (!f || fputs(included, f) < 0 || fclose(f) != 0) {
		perror("fuzz_conf: inc.conf");
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

/* An include that could leave the directory (or read a device): a
 * quoted name with '/', "..", or an escape in it. And, while that bug is
 * open (conf-exit), the directory itself: "" or "." (up to a NUL). */
static bool escapes(const uint8_t *d, size_t n)
{
	for (size_t i = 0; i + 8 <= n; i++) {
		if (d[i] != '@' || strncasecmp((const char *)d + i + 1, "include", 7) != 0)
			continue;
		size_t k = i + 8;
		while (k < n && d[k] != '"' && d[k] != '\n')
			k++;
		size_t name = k + 1, len = 0;
		while (name + len < n && d[name + len] != '"' && d[name + len] != '\n')
			len++;
		const uint8_t *nul = memchr(d + name, '\0', len);
		size_t clen = nul ? (size_t)(nul - (d + name)) : len;
		for (size_t q = 0; q < len; q++)
			if (d[name + q] == '/' || d[name + q] == '\\' ||
			    (d[name + q] == '.' && q + 1 < len && d[name + q + 1] == '.'))
				return true;
		if ((clen == 0 || (clen == 1 && d[name] == '.')) && fuzz_ignored("conf-exit"))
			return true;
	}
	return false;
}

static void check_errors(const struct conf_errors *errs)
{
	for (size_t i = 0; i < errs->n; i++) {
		const char *m = errs->msg[i];
		const char *colon = m ? strchr(m, ':') : NULL;
		/* "FILE:LINE: msg": FILE is ours (or an included name), LINE digits */
		const char *p = m ? strstr(m, ".conf:") : NULL;
		if (!m || !colon || !p) {
			finding("conf-result", "error without FILE:LINE: \"%s\"", m ? m : "(null)");
			return;
		}
		p += 6;
		if (!isdigit((unsigned char)*p))
			finding("conf-result", "error without a line number: \"%s\"", m);
		while (isdigit((unsigned char)*p))
			p++;
		if (p[0] != ':' || p[1] != ' ' || !p[2])
			finding("conf-result", "error not \"FILE:LINE: message\": \"%s\"", m);
	}
}

static void check_conf(const struct conf *c)
{
	if (!c->edge.fqdn || !*c->edge.fqdn)
		finding("conf-schema", "loaded without edge.fqdn");
	if (c->nlisten == 0 || !c->listen)
		finding("conf-schema", "loaded without a listener");
	if (c->limits.max_message_size < 1024 || c->limits.max_message_size > 16777216)
		finding("conf-schema", "max_message_size %d", c->limits.max_message_size);
	for (size_t i = 0; i < c->nlisten; i++)
		if (c->listen[i].port < 1 || c->listen[i].port > 65535 || !c->listen[i].address)
			finding("conf-schema", "listener %zu: port %d", i, c->listen[i].port);
	for (size_t i = 0; i < c->federation.nallowed; i++)
		if (!c->federation.allowed[i].domain)
			finding("conf-schema", "allowed entry %zu without domain", i);
	for (size_t i = 0; i < c->federation.nstatic_routes; i++)
		if (!c->federation.static_routes[i].pattern ||
		    !c->federation.static_routes[i].next_hop)
			finding("conf-schema", "static route %zu incomplete", i);
	for (size_t i = 0; i < c->internal.nnodes; i++) {
		const struct conf_node *n = &c->internal.nodes[i];
		if (!n->name || !n->address || !n->tls_name || n->nports < 1 || !n->ports)
			finding("conf-schema", "node %zu incomplete", i);
		for (size_t k = 0; k < n->nports; k++) {
			const struct conf_portmap *pm = &n->ports[k];
			if (pm->internal < 1 || pm->internal > 65535 ||
			    pm->public_ < 1 || pm->public_ > 65535)
				finding("conf-schema", "node %s port %d -> %d", n->name,
					pm->internal, pm->public_);
			int internal = 0;
			const struct conf_node *back = pat_node_for_public(c, pm->public_, &internal);
			if (pat_public_port(c, n->address, pm->internal) != pm->public_ ||
			    back != n || internal != pm->internal)
				finding("conf-patmap", "node %s %s:%d <-> public %d does not "
					"map both ways", n->name, n->address, pm->internal,
					pm->public_);
			if (conf_node_by_public_port(c, pm->public_) != n)
				finding("conf-patmap", "node %s: lookups disagree", n->name);
		}
	}
	(void)conf_routing_node(c, NULL);
	(void)conf_internal_tls_used(c);
	for (size_t i = 0; i < c->internal.ndomains; i++)
		if (!conf_is_local_domain(c, c->internal.domains[i]))
			finding("conf-schema", "internal domain '%s' is not local",
				c->internal.domains[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (escapes(data, size))
		return 0;
	FILE *f = fopen(path, "w");
	if (!f)
		abort();
	if (size && fwrite(data, 1, size, f) != size)
		abort();
	if (fclose(f) != 0)
		abort();

	struct conf_errors errs = { NULL, 0 };
	struct conf *c = conf_load(path, false, &errs);
	if (c && errs.n)
		finding("conf-result", "a configuration and %zu errors", errs.n);
	if (!c && !errs.n)
		finding("conf-result", "neither a configuration nor an error");
	check_errors(&errs);
	if (c)
		check_conf(c);
	conf_free(c);
	conf_errors_free(&errs);
	return 0;
}
