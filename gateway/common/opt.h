/* SPDX-License-Identifier: MIT */
/*
 * opt.h - key tables: the keys of one configuration section, each with its
 * type, range, default and help, in one const array.
 *
 * One table is the whole truth about a key: gw_opt_set() reads a value
 * into the struct the table describes (or reports "FILE:LINE: key: 'x' is
 * not ..."), gw_opt_defaults() fills in every default, gw_opt_markdown()
 * prints the table docs/configuration.md holds. The configuration core
 * keeps tables for [gateway], [clock], [database] and the keys every bus
 * and meter has; each driver keeps the tables of its own bus and meter
 * keys (drivers/driver.h), so that a new protocol adds its keys without
 * touching the core (the chrony way: the core parses, the driver says
 * what).
 */
#ifndef GW_OPT_H
#define GW_OPT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum gw_opt_type {
	GW_OPT_INT,      /* decimal or 0x hex in min..max; no leading zero */
	GW_OPT_DURATION, /* seconds in min..max: "90", "90s", "15m", "2h", "1d" */
	GW_OPT_DAYS,     /* a duration of whole days in min..max (seconds),
			  * stored as the number of days */
	GW_OPT_SIZE,     /* bytes, "512MB", "2GB" (powers of 1024); uint64_t */
	GW_OPT_CHOICE,   /* one of .choices, stored as its value */
	GW_OPT_BOOL,     /* yes/no (true/false), stored as 1/0 */
	GW_OPT_STRING,   /* non-empty text of at most .size - 1 bytes */
	GW_OPT_PATH,     /* a path, relative to the configuration file's
			  * directory, of at most .size - 1 bytes */
	GW_OPT_ID,       /* letters, digits, '.', '_', '-'; at most .size - 1 */
	GW_OPT_CUSTOM,   /* .parse alone reads it */
};

/* Flags of struct gw_opt. */
#define GW_OPT_REQUIRED 0x1 /* the section needs it */
#define GW_OPT_OFF 0x2      /* DURATION: "off" and 0 are also allowed, as 0 */
#define GW_OPT_LIST 0x4     /* PATH: directories separated by ':', searched
			     * in order; each resolved on its own */

struct gw_opt_choice {
	const char *name;
	long long value;
	int alias; /* accepted, but not listed in messages and docs */
};

struct gw_opt {
	const char *name; /* NULL ends a table */
	enum gw_opt_type type;
	/* Where the value goes in the section's struct: offsetof and sizeof
	 * of the field. INT, DURATION, DAYS, CHOICE and BOOL store a signed
	 * integer of .size 1, 2, 4 or 8 bytes; SIZE a uint64_t; STRING, PATH
	 * and ID a char array of .size bytes. CUSTOM hands .parse the field. */
	size_t offset, size;
	long long min, max; /* INT, DURATION, DAYS: the range */
	const struct gw_opt_choice *choices; /* CHOICE: ends with a NULL name */
	const char *def;    /* the default, as written in a file (parsed as a
			     * value at gw_opt_defaults); NULL: none */
	unsigned flags;     /* GW_OPT_* */
	/* CUSTOM: reads value into field; returns 0, or GW_EINVAL with a
	 * reason in why ("" for the generic "is not <expect>"). */
	int (*parse)(const char *value, void *field, char *why, size_t cap);
	/* What a good value is, after "is not" in messages ("an installed
	 * IANA time zone"); NULL: from the type and range. */
	const char *expect;
	/* The docs table's columns, where the type and .def do not say it
	 * all ("300 (`c`), 9600 (`fixed`, `d`)"); NULL: generated. */
	const char *doc_default, *doc_range;
	const char *help; /* the docs table's "meaning" (Markdown) */
};

/* The index of key in tab, or -1. */
int gw_opt_find(const struct gw_opt *tab, const char *key);

/* The number of keys in tab. */
int gw_opt_count(const struct gw_opt *tab);

/* Reads value for key o into obj (the section's struct). base is the
 * configuration file's path (relative paths are resolved against its
 * directory). On a bad value reports "file:line: key: ..." on stderr and
 * returns GW_ECONFIG. */
int gw_opt_set(const struct gw_opt *o, void *obj, const char *value,
	       const char *base, const char *file, int line);

/* Sets every key of tab that has a default. Returns 0, or GW_EINVAL when
 * a table's default does not parse (a bug, reported on stderr). */
int gw_opt_defaults(const struct gw_opt *tab, void *obj, const char *base);

/* The first key of tab flagged GW_OPT_REQUIRED whose line in lines[]
 * (one per key, 0: not given) is 0, or NULL. */
const struct gw_opt *gw_opt_missing(const struct gw_opt *tab, const int *lines);

/* Prints tab as a Markdown table: key, required, default, range,
 * meaning. */
void gw_opt_markdown(FILE *f, const struct gw_opt *tab);

/* Reports "file:line: message" (or "file: message" for line 0) on stderr
 * as one line; returns GW_ECONFIG. The one way configuration errors are
 * printed, by the core and by drivers. */
int gw_opt_error(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Helpers that other parsers share with the tables. Each returns 0 or
 * GW_EINVAL. */
int gw_opt_parse_int(const char *v, long long lo, long long hi, long long *out);
int gw_opt_parse_duration(const char *v, long long lo, long long hi,
			  long long *out);
/* "1d", "15m", "90s": the largest unit that divides s. */
char *gw_opt_format_duration(long long s, char *buf, size_t cap);
/* Letters, digits, '.', '_', '-'; 1 .. cap - 1 long. */
int gw_opt_valid_id(const char *s, size_t cap);

#endif
