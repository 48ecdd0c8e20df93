/* SPDX-License-Identifier: MIT */
/*
 * opt.c - reads configuration values by key tables (opt.h), fills in
 * their defaults and prints them as the Markdown tables of
 * docs/configuration.md. Every message names file and line and says what
 * a good value would have been.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "opt.h"

int gw_opt_error(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "%s:%d: ", file, line);
	else
		fprintf(stderr, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return GW_ECONFIG;
}

int gw_opt_parse_int(const char *v, long long lo, long long hi, long long *out)
{
	char *end;
	long long x;

	errno = 0;
	if (*v == '\0')
		return GW_EINVAL;
	/* strtoll with base 0 reads "010" as octal 8: a unit id "010" in a
	 * meter list would read meter 8. Nobody means that: refused. */
	const char *d = v + (*v == '+' || *v == '-');
	if (d[0] == '0' && d[1] >= '0' && d[1] <= '9')
		return GW_EINVAL;
	x = strtoll(v, &end, 0);
	if (errno || *end != '\0' || x < lo || x > hi)
		return GW_EINVAL;
	*out = x;
	return 0;
}

/* Seconds, with an optional unit suffix: 90, 90s, 15m, 2h, 1d. */
int gw_opt_parse_duration(const char *v, long long lo, long long hi,
			  long long *out)
{
	char buf[32], *end;
	long long x, mult = 1;
	size_t n = strlen(v);

	if (n == 0 || n >= sizeof(buf))
		return GW_EINVAL;
	memcpy(buf, v, n + 1);
	switch (buf[n - 1]) {
	case 's': mult = 1; buf[n - 1] = '\0'; break;
	case 'm': mult = 60; buf[n - 1] = '\0'; break;
	case 'h': mult = 3600; buf[n - 1] = '\0'; break;
	case 'd': mult = 86400; buf[n - 1] = '\0'; break;
	default: break;
	}
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno || *end != '\0' || end == buf || x < 0 ||
	    x > LLONG_MAX / mult)
		return GW_EINVAL;
	x *= mult;
	if (x < lo || x > hi)
		return GW_EINVAL;
	*out = x;
	return 0;
}

/* A size: a number of bytes with an optional unit B, kB, KB, MB, GB
 * (powers of 1024; KiB, MiB, GiB also accepted). */
static int parse_size(const char *v, uint64_t *out)
{
	static const struct { const char *u; uint64_t mult; } units[] = {
		{"", 1}, {"B", 1}, {"kB", 1024}, {"KB", 1024}, {"KiB", 1024},
		{"MB", 1 << 20}, {"MiB", 1 << 20},
		{"GB", 1 << 30}, {"GiB", 1 << 30},
	};
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return GW_EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno)
		return GW_EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].u) == 0) {
			if (x > UINT64_MAX / units[i].mult)
				return GW_EINVAL;
			*out = (uint64_t)x * units[i].mult;
			return 0;
		}
	}
	return GW_EINVAL;
}

char *gw_opt_format_duration(long long s, char *buf, size_t cap)
{
	if (s != 0 && s % 86400 == 0)
		snprintf(buf, cap, "%lldd", s / 86400);
	else if (s != 0 && s % 3600 == 0)
		snprintf(buf, cap, "%lldh", s / 3600);
	else if (s != 0 && s % 60 == 0)
		snprintf(buf, cap, "%lldm", s / 60);
	else
		snprintf(buf, cap, "%llds", s);
	return buf;
}

int gw_opt_valid_id(const char *s, size_t cap)
{
	size_t n = strlen(s);

	if (n == 0 || n >= cap)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
		    *s != '-')
			return 0;
	return 1;
}

int gw_opt_find(const struct gw_opt *tab, const char *key)
{
	for (int i = 0; tab && tab[i].name; i++)
		if (strcmp(tab[i].name, key) == 0)
			return i;
	return -1;
}

int gw_opt_count(const struct gw_opt *tab)
{
	int n = 0;

	while (tab && tab[n].name)
		n++;
	return n;
}

static void store_int(const struct gw_opt *o, void *obj, long long x)
{
	char *p = (char *)obj + o->offset;

	switch (o->size) {
	case 1: { int8_t v = (int8_t)x; memcpy(p, &v, 1); break; }
	case 2: { int16_t v = (int16_t)x; memcpy(p, &v, 2); break; }
	case 4: { int32_t v = (int32_t)x; memcpy(p, &v, 4); break; }
	default: { int64_t v = x; memcpy(p, &v, 8); break; }
	}
}

/* "a, b, c": the names of o's choices that are not aliases. */
static void choice_list(const struct gw_opt *o, const char *sep,
			const char *quote, char *buf, size_t cap)
{
	size_t n = 0;

	buf[0] = '\0';
	for (const struct gw_opt_choice *c = o->choices; c && c->name; c++) {
		if (c->alias)
			continue;
		int k = snprintf(buf + n, cap - n, "%s%s%s%s", n ? sep : "", quote,
				 c->name, quote);
		if (k < 0 || (size_t)k >= cap - n)
			return;
		n += (size_t)k;
	}
}

/* What a good value of o is, for "is not ..." messages. */
static void expect_text(const struct gw_opt *o, char *buf, size_t cap)
{
	char a[32], b[32], list[512];

	if (o->expect) {
		snprintf(buf, cap, "%s", o->expect);
		return;
	}
	switch (o->type) {
	case GW_OPT_INT:
		snprintf(buf, cap, "a number in %lld..%lld", o->min, o->max);
		break;
	case GW_OPT_DURATION:
		snprintf(buf, cap, "%sa duration in %s..%s",
			 o->flags & GW_OPT_OFF ? "off, 0 or " : "",
			 gw_opt_format_duration(o->min, a, sizeof(a)),
			 gw_opt_format_duration(o->max, b, sizeof(b)));
		break;
	case GW_OPT_DAYS:
		snprintf(buf, cap, "a whole number of days in %lldd..%lldd",
			 o->min / 86400, o->max / 86400);
		break;
	case GW_OPT_SIZE:
		snprintf(buf, cap, "a size like 512MB, 2GB or 0 (no bound)");
		break;
	case GW_OPT_CHOICE:
		choice_list(o, ", ", "", list, sizeof(list));
		snprintf(buf, cap, "one of %s", list);
		break;
	case GW_OPT_BOOL:
		snprintf(buf, cap, "yes or no");
		break;
	case GW_OPT_ID:
		snprintf(buf, cap,
			 "a valid id (letters, digits, '.', '_', '-', at most %zu)",
			 o->size - 1);
		break;
	default:
		snprintf(buf, cap, "valid");
		break;
	}
}

/* Resolves a path relative to the directory of the configuration file. */
static int resolve_path(const char *base, const char *v, char *out, size_t cap)
{
	const char *slash = base ? strrchr(base, '/') : NULL;
	int n;

	if (v[0] == '/' || !slash)
		n = snprintf(out, cap, "%s", v);
	else
		n = snprintf(out, cap, "%.*s/%s", (int)(slash - base), base, v);
	return n < 0 || (size_t)n >= cap ? GW_EINVAL : 0;
}

/* "A:B:C" with each directory resolved relative to the configuration
 * file's directory, into out ("A" alone for a single one). */
static int resolve_list(const char *base, const char *v, char *out, size_t cap,
			char *why, size_t wcap)
{
	size_t n = 0;

	out[0] = '\0';
	for (const char *p = v;;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);
		char one[GW_PATH_MAX], dir[GW_PATH_MAX];

		if (len == 0)
			return snprintf(why, wcap, "an empty directory in '%s'", v), GW_EINVAL;
		if (len >= sizeof(one))
			return snprintf(why, wcap, "too long"), GW_EINVAL;
		memcpy(one, p, len);
		one[len] = '\0';
		if (resolve_path(base, one, dir, sizeof(dir)))
			return snprintf(why, wcap, "too long"), GW_EINVAL;
		int k = snprintf(out + n, cap - n, "%s%s", n ? ":" : "", dir);
		if (k < 0 || (size_t)k >= cap - n)
			return snprintf(why, wcap, "too long"), GW_EINVAL;
		n += (size_t)k;
		if (!colon)
			return 0;
		p = colon + 1;
	}
}

/* Reads v as o's type into obj; 0, GW_EINVAL (why may say more), or 1
 * for "empty or too long" (strings). */
static int parse_value(const struct gw_opt *o, void *obj, const char *v,
		       const char *base, char *why, size_t cap)
{
	char *field = (char *)obj + o->offset;
	long long x = 0;

	switch (o->type) {
	case GW_OPT_INT:
		if (gw_opt_parse_int(v, o->min, o->max, &x))
			return GW_EINVAL;
		break;
	case GW_OPT_DURATION:
		if ((o->flags & GW_OPT_OFF) && strcmp(v, "off") == 0)
			break;
		if (gw_opt_parse_duration(v, 0, LLONG_MAX, &x) ||
		    (x < o->min && !(x == 0 && (o->flags & GW_OPT_OFF))) ||
		    x > o->max)
			return GW_EINVAL;
		break;
	case GW_OPT_DAYS:
		if (gw_opt_parse_duration(v, o->min, o->max, &x) || x % 86400)
			return GW_EINVAL;
		x /= 86400;
		break;
	case GW_OPT_SIZE: {
		uint64_t sz;
		if (parse_size(v, &sz))
			return GW_EINVAL;
		memcpy(field, &sz, sizeof(sz));
		return 0;
	}
	case GW_OPT_CHOICE: {
		const struct gw_opt_choice *c = o->choices;
		while (c && c->name && strcmp(c->name, v) != 0)
			c++;
		if (!c || !c->name)
			return GW_EINVAL;
		x = c->value;
		break;
	}
	case GW_OPT_BOOL:
		if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0)
			x = 1;
		else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0)
			x = 0;
		else
			return GW_EINVAL;
		break;
	case GW_OPT_STRING:
		return !*v || gw_strlcpy(field, v, o->size) ? 1 : 0;
	case GW_OPT_PATH:
		if (!*v)
			return snprintf(why, cap, "empty"), GW_EINVAL;
		if (o->flags & GW_OPT_LIST)
			return resolve_list(base, v, field, o->size, why, cap);
		if (resolve_path(base, v, field, o->size))
			return snprintf(why, cap, "too long"), GW_EINVAL;
		return 0;
	case GW_OPT_ID:
		if (!gw_opt_valid_id(v, o->size))
			return GW_EINVAL;
		gw_strlcpy(field, v, o->size);
		return 0;
	case GW_OPT_CUSTOM:
		return o->parse(v, field, why, cap);
	}
	store_int(o, obj, x);
	return 0;
}

int gw_opt_set(const struct gw_opt *o, void *obj, const char *value,
	       const char *base, const char *file, int line)
{
	char why[512] = "", expect[600];
	int rc = parse_value(o, obj, value, base, why, sizeof(why));

	if (rc == 0)
		return 0;
	if (rc == 1)
		return gw_opt_error(file, line, "%s: empty or too long", o->name);
	if (why[0])
		return gw_opt_error(file, line, "%s: %s", o->name, why);
	expect_text(o, expect, sizeof(expect));
	return gw_opt_error(file, line, "%s: '%s' is not %s", o->name, value,
			    expect);
}

int gw_opt_defaults(const struct gw_opt *tab, void *obj, const char *base)
{
	char why[512];

	for (int i = 0; tab && tab[i].name; i++) {
		if (!tab[i].def)
			continue;
		if (parse_value(&tab[i], obj, tab[i].def, base, why, sizeof(why))) {
			fprintf(stderr, "key table: %s: bad default '%s'\n",
				tab[i].name, tab[i].def);
			return GW_EINVAL;
		}
	}
	return 0;
}

const struct gw_opt *gw_opt_missing(const struct gw_opt *tab, const int *lines)
{
	for (int i = 0; tab && tab[i].name; i++)
		if ((tab[i].flags & GW_OPT_REQUIRED) && !lines[i])
			return &tab[i];
	return NULL;
}

/* A default or range as the docs show it: numbers bare, words in
 * backticks. */
static void doc_value(const char *v, char *buf, size_t cap)
{
	const char *p = v + (*v == '-');
	int number = *p != '\0';

	for (; *p; p++)
		number &= isdigit((unsigned char)*p) != 0;
	snprintf(buf, cap, number ? "%s" : "`%s`", v);
}

static void doc_range(const struct gw_opt *o, char *buf, size_t cap)
{
	char a[32], b[32];

	buf[0] = '\0';
	if (o->doc_range) {
		snprintf(buf, cap, "%s", o->doc_range);
		return;
	}
	switch (o->type) {
	case GW_OPT_INT:
		snprintf(buf, cap, "%lld..%lld", o->min, o->max);
		break;
	case GW_OPT_DURATION:
		snprintf(buf, cap, "%s%s..%s", o->flags & GW_OPT_OFF ? "`off`, `0`, " : "",
			 gw_opt_format_duration(o->min, a, sizeof(a)),
			 gw_opt_format_duration(o->max, b, sizeof(b)));
		break;
	case GW_OPT_DAYS:
		snprintf(buf, cap, "%lldd..%lldd (whole days)", o->min / 86400,
			 o->max / 86400);
		break;
	case GW_OPT_CHOICE:
		choice_list(o, ", ", "`", buf, cap);
		break;
	case GW_OPT_BOOL:
		snprintf(buf, cap, "`yes`, `no`");
		break;
	case GW_OPT_ID:
		snprintf(buf, cap, "letters, digits, `.`, `_`, `-`; at most %zu",
			 o->size - 1);
		break;
	default:
		break;
	}
}

void gw_opt_markdown(FILE *f, const struct gw_opt *tab)
{
	fprintf(f, "| key | required | default | range | meaning |\n");
	fprintf(f, "|---|---|---|---|---|\n");
	for (int i = 0; tab && tab[i].name; i++) {
		const struct gw_opt *o = &tab[i];
		char def[256] = "", range[512];
		if (o->doc_default)
			snprintf(def, sizeof(def), "%s", o->doc_default);
		else if (o->def)
			doc_value(o->def, def, sizeof(def));
		doc_range(o, range, sizeof(range));
		fprintf(f, "| `%s` | %s | %s | %s | %s |\n", o->name,
			o->flags & GW_OPT_REQUIRED ? "yes" : "no", def, range,
			o->help ? o->help : "");
	}
}
