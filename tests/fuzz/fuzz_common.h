/* fuzz_common.h - what the libFuzzer harnesses share.
 *
 * finding(tag, ...) reports a broken property (not a sanitizer error) and
 * aborts, so libFuzzer keeps the input as a crash. A property whose bug is
 * known and still open can be switched off by listing its tag in the
 * environment variable FUZZ_IGNORE (comma separated); run.sh takes the
 * tags from tests/fuzz/regress/OPEN, so fuzzing can go on finding other
 * bugs while one waits for its fix.
 */
#ifndef SIPEDGE_FUZZ_COMMON_H
#define SIPEDGE_FUZZ_COMMON_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline bool fuzz_ignored(const char *tag)
{
	const char *list = getenv("FUZZ_IGNORE");
	size_t n = strlen(tag);
	for (const char *p = list; p && *p; ) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len == n && strncmp(p, tag, n) == 0)
			return true;
		p = end ? end + 1 : p + len;
	}
	return false;
}

static inline void finding(const char *tag, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static inline void finding(const char *tag, const char *fmt, ...)
{
	if (fuzz_ignored(tag))
		return;
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "FUZZ FINDING [%s]: ", tag);
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n(set FUZZ_IGNORE=%s to go on past this known bug)\n", tag);
	va_end(ap);
	abort();
}

/* Deterministic choices derived from the input. */
static inline uint64_t fuzz_hash(const uint8_t *p, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

/* Text for the report of a finding(tag, ...) about to be made, with CR
 * and LF visible; nothing when that tag is ignored. */
static inline void fuzz_dump(const char *tag, const char *what, const char *text,
			     size_t len)
{
	if (fuzz_ignored(tag))
		return;
	fprintf(stderr, "---- %s (%zu bytes)\n", what, len);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)text[i];
		if (c == '\r')
			fputs("\\r", stderr);
		else if (c == '\n')
			fputs("\\n\n", stderr);
		else if (c < 32 || c >= 127)
			fprintf(stderr, "\\x%02x", c);
		else
			fputc(c, stderr);
	}
	fputs("\n----\n", stderr);
}

#endif
