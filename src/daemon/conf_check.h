/* conf_check.h - between the schema walk (conf.c) and the checks
 * (conf_check.c): the loader's state, the error list both report into,
 * and the checks conf.c calls. Internal to src/daemon/conf*.c; the rest
 * of the daemon includes daemon/conf.h.
 */
#ifndef SIPEDGE_CONF_CHECK_H
#define SIPEDGE_CONF_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libconfig.h>

#include "core/types.h"

/* A configuration is small; running out of memory while reading it leaves
 * nothing sensible to do, and checking every strdup would bury the rules. */
static inline void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort();
	return p;
}

static inline char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		abort();
	return p;
}

static inline char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static inline char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0)
		abort();
	va_end(ap);
	return s;
}

/* ASCII only: under a locale such as tr_TR, tolower('I') is not 'i'. */
static inline char ascii_lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static inline bool ascii_alnum(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z');
}

/* Case-insensitive compare of the first n bytes of a and b. */
static inline bool ascii_eqn(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_lower(a[i]) != ascii_lower(b[i]))
			return false;
	return true;
}

static inline bool ascii_eq(const char *a, const char *b)
{
	size_t n = strlen(a);

	return n == strlen(b) && ascii_eqn(a, b, n);
}

enum kind {             /* the string kinds come first: is_string_kind() */
	K_STR,          /* any string */
	K_DOMAIN,       /* DNS name */
	K_HOST,         /* DNS name or IP address */
	K_IP,           /* numeric IPv4/IPv6 address */
	K_PATH,         /* file name, stored absolute */
	K_DNS,          /* DNS server address[:port] */
	K_PATTERN,      /* static route pattern */
	K_NET,          /* IP network: address[/prefix] */
	K_TOKEN,        /* SIP token (RFC 3261 25.1), e.g. an option tag */
	K_CHOICE,       /* one of choices, stored as the string */
	K_ENUM,         /* one of choices, stored as its int value */
	K_INT,
	K_BOOL,
	K_STRLIST,      /* array or list of strings of kind elem */
	K_GROUP,        /* nested table sub, stored in place at off */
	K_LIST,         /* list of groups of table sub, stored as an array */
};

struct choice {
	const char *name;
	int value;
};

struct ld {
	const char *file;       /* as given, so messages match the command line */
	char *dir;              /* absolute directory of the file */
	config_t *cfg;
	char **msg;             /* "FILE:LINE: message", conf_load() hands */
	size_t n;               /* them to its caller */
	unsigned long *order;   /* per error: sort key, see conf_err() */
};

/* The schema: one table per group or list element (conf.c). The loader,
 * conf_free() and the printer (conf_print.c) all walk these tables. */
typedef void hook_fn(struct ld *ld, config_setting_t *s, void *p);

struct field {
	const char *key;
	enum kind kind;
	size_t off;             /* from the start of the struct being filled */
	bool required;
	bool fixed;             /* not settable here; default always applies */
	bool empty_ok;          /* for strings, "" is a meaningful value */
	bool auto_ok;           /* K_INT: the string "auto" reads as 0 */
	long long min, max;     /* K_INT */
	long long idef;         /* default of K_INT, K_BOOL, K_ENUM */
	const char *sdef;       /* default of string kinds; NULL = none */
	const struct choice *choices;
	enum kind elem;         /* K_STRLIST */
	size_t off_n;           /* K_STRLIST, K_LIST: where the count goes */
	bool non_empty;         /* K_STRLIST, K_LIST */
	const struct field *sub;        /* K_GROUP, K_LIST */
	size_t elem_size;       /* K_LIST */
	hook_fn *elem_done;     /* K_LIST: p is the element just read */
	hook_fn *list_done;     /* K_LIST: p is the struct holding the list */
	hook_fn *absent;        /* K_LIST: fills in the default list */
};

static inline bool is_string_kind(enum kind k)
{
	return k <= K_CHOICE;
}

/* The top-level table; groups without an offset hold struct conf's. */
const struct field *conf_schema(void);

/* Errors: conf_err() reports at setting s (NULL or the root: the file as
 * a whole); conf_sort_errors() puts them in FILE:LINE order at the end. */
void conf_err(struct ld *ld, const config_setting_t *s, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void conf_add_error(struct ld *ld, char *msg);  /* takes msg */
void conf_add_error_at(struct ld *ld, const char *file, unsigned line,
		       const char *msg);
void conf_sort_errors(struct ld *ld);
config_setting_t *conf_nearest(config_t *cfg, const char *path);

/* A non-empty string v of kind k (a string kind, K_CHOICE with its
 * choices): the value to store (a K_PATH made absolute, a K_DNS in the
 * c-ares form) or NULL when v is not of that kind. conf_kind_noun() says
 * what a value of kind k must be, for the error message. */
char *conf_kind_value(struct ld *ld, enum kind k, const char *v,
		      const struct choice *choices);
const char *conf_kind_noun(enum kind k);

/* Rules across keys and entries: the schema's hooks (see struct field). */
void conf_listen_entry_done(struct ld *ld, config_setting_t *s, void *p);
void conf_listen_done(struct ld *ld, config_setting_t *s, void *p);
void conf_node_done(struct ld *ld, config_setting_t *s, void *p);
void conf_nodes_done(struct ld *ld, config_setting_t *s, void *p);
void conf_allowed_done(struct ld *ld, config_setting_t *s, void *p);
void conf_route_done(struct ld *ld, config_setting_t *s, void *p);

/* Files, read as the daemon will read them. */
void conf_check_readable(struct ld *ld, const char *path, const char *at,
			 unsigned line, int depth);
void conf_check_ciphers(struct ld *ld, const char *group,
			const struct conf_tls *t);
void conf_check_tls_files(struct ld *ld, const char *group,
			  const struct conf_tls *t);
void conf_check_secret(struct ld *ld, const struct conf *c);
void conf_check_accounts(struct ld *ld, const struct conf *c);

#endif
