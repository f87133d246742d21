/* conf_print.c - the effective configuration, as sipedge -T prints it.
 *
 * Walks the schema tables of conf.c (conf_schema()), the same ones the
 * loader reads with, so a key added to the schema is printed without a
 * second list here. Every settable key is printed with its value, defaults
 * filled in and lists expanded; the output is libconfig that conf_load()
 * reads back into the same configuration (printing that again gives the
 * same text). What cannot be written as a value is a comment:
 *   - a string with no value and no default (edge.public_address unset);
 *   - an integer outside its range, i.e. unset (allowed.port without peer).
 * Keys the schema marks fixed are not settable and not printed. Files are
 * named, never read: edge.secret_file's content is not printed.
 */
#include <stdio.h>

#include "daemon/conf.h"
#include "daemon/conf_check.h"

#define SLOT(base, f, type) ((type *)((const char *)(base) + (f)->off))

static void indent(FILE *out, int depth)
{
	for (int i = 0; i < depth; i++)
		fputs("  ", out);
}

/* A libconfig string literal: '"' and '\' escaped, control bytes and DEL
 * as \xNN (libconfig reads those back); other bytes as they are. */
static void put_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(out, "\\%c", *p);
		else if (*p < 0x20 || *p == 0x7f)
			fprintf(out, "\\x%02x", *p);
		else
			fputc(*p, out);
	}
	fputc('"', out);
}

static const char *choice_name(const struct choice *c, int value)
{
	for (; c->name; c++)
		if (c->value == value)
			return c->name;
	return NULL;
}

static void print_group(FILE *out, const struct field *fields,
			const void *base, int depth);

static void print_list(FILE *out, const struct field *f, const void *base,
		       int depth)
{
	const char *v = *SLOT(base, f, char *const);
	size_t n = *(const size_t *)((const char *)base + f->off_n);

	fprintf(out, "%s = (", f->key);
	for (size_t i = 0; i < n; i++) {
		fprintf(out, "%s\n", i ? "," : "");
		indent(out, depth + 1);
		fputs("{\n", out);
		print_group(out, f->sub, v + i * f->elem_size, depth + 2);
		indent(out, depth + 1);
		fputs("}", out);
	}
	if (n) {
		fputc('\n', out);
		indent(out, depth);
	} else {
		fputc(' ', out);
	}
	fputs(");\n", out);
}

static void print_field(FILE *out, const struct field *f, const void *base,
			int depth)
{
	if (is_string_kind(f->kind)) {
		const char *v = *SLOT(base, f, char *const);

		if (!v) {
			fprintf(out, "# %s: not set\n", f->key);
			return;
		}
		fprintf(out, "%s = ", f->key);
		put_string(out, v);
		fputs(";\n", out);
		return;
	}
	switch (f->kind) {
	case K_INT: {
		int v = *SLOT(base, f, const int);

		if (f->auto_ok && v == 0)
			fprintf(out, "%s = \"auto\";\n", f->key);
		else if (v < f->min || v > f->max)
			fprintf(out, "# %s: not set\n", f->key);
		else
			fprintf(out, "%s = %d;\n", f->key, v);
		break;
	}
	case K_BOOL:
		fprintf(out, "%s = %s;\n", f->key,
			*SLOT(base, f, const bool) ? "true" : "false");
		break;
	case K_ENUM: {
		const char *name = choice_name(f->choices, *SLOT(base, f, const int));

		if (name)
			fprintf(out, "%s = \"%s\";\n", f->key, name);
		else
			fprintf(out, "# %s: not set\n", f->key);
		break;
	}
	case K_STRLIST: {
		char *const *v = *SLOT(base, f, char **const);
		size_t n = *(const size_t *)((const char *)base + f->off_n);

		/* A list that may not be empty is absent when it is: written
		 * out it would not load again (listen.proxy_from). */
		if (n == 0 && f->non_empty) {
			fprintf(out, "# %s: not set\n", f->key);
			break;
		}
		fprintf(out, "%s = [", f->key);
		for (size_t i = 0; i < n; i++) {
			fputs(i ? ", " : " ", out);
			put_string(out, v[i]);
		}
		fputs(" ];\n", out);
		break;
	}
	case K_GROUP:
		fprintf(out, "%s = {\n", f->key);
		print_group(out, f->sub, (const char *)base + f->off, depth + 1);
		indent(out, depth);
		fputs("};\n", out);
		break;
	case K_LIST:
		print_list(out, f, base, depth);
		break;
	default:
		break;
	}
}

static void print_group(FILE *out, const struct field *fields,
			const void *base, int depth)
{
	for (const struct field *f = fields; f->key; f++) {
		if (f->fixed)
			continue;
		indent(out, depth);
		print_field(out, f, base, depth);
	}
}

void conf_print(FILE *out, const struct conf *c)
{
	fputs("# Effective configuration (sipedge -T): every key, defaults filled in,\n"
	      "# read from ", out);
	for (const unsigned char *p = (const unsigned char *)c->path; p && *p; p++)
		fputc(*p < 0x20 || *p == 0x7f ? '?' : *p, out);
	fputs("\n# (includes expanded, file names absolute). No secret is printed:\n"
	      "# edge.secret_file and the private keys are named, never read here.\n", out);
	print_group(out, conf_schema(), c, 0);
}
