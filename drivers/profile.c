/* SPDX-License-Identifier: MIT */
/*
 * profile.c - Modbus meter profiles: loading and validating the register map
 * of one meter model from an INI data file. Turning a register's words
 * into a reading is profile_codec.c's.
 */
#include <errno.h>
#include <stdarg.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ini.h"
#include "profile.h"

#define MAX_REGS_DEFAULT 100
#define MAX_REGS_LIMIT 125 /* Modbus: at most 125 registers per read */
#define EXP10_LIMIT 9      /* |exp10| of a scale, and of a unit prefix */

int gw_reg_type_words(enum gw_reg_type t)
{
	switch (t) {
	case GW_T_INT16:
	case GW_T_UINT16:
		return 1;
	case GW_T_INT32:
	case GW_T_UINT32:
	case GW_T_FLOAT32:
		return 2;
	case GW_T_INT64:
	case GW_T_UINT64:
	case GW_T_FLOAT64:
		return 4;
	}
	return 0;
}

static const char *const type_names[] = {
	[GW_T_INT16] = "int16",	    [GW_T_UINT16] = "uint16",
	[GW_T_INT32] = "int32",	    [GW_T_UINT32] = "uint32",
	[GW_T_INT64] = "int64",	    [GW_T_UINT64] = "uint64",
	[GW_T_FLOAT32] = "float32", [GW_T_FLOAT64] = "float64",
};

static const char *const order_names[] = {
	[GW_ORDER_ABCD] = "ABCD",
	[GW_ORDER_CDAB] = "CDAB",
	[GW_ORDER_BADC] = "BADC",
	[GW_ORDER_DCBA] = "DCBA",
};

/* Keys of a [register] section, as bits, to find missing required keys. */
enum {
	K_FUNCTION = 1 << 0,
	K_ADDRESS = 1 << 1,
	K_TYPE = 1 << 2,
	K_ORDER = 1 << 3,
	K_SCALE = 1 << 4,
	K_UNIT = 1 << 5,
	K_NA = 1 << 6,
	K_MIN = 1 << 7,
	K_MAX = 1 << 8,
	K_REQUIRED = K_FUNCTION | K_ADDRESS | K_TYPE | K_UNIT,
};

enum { S_NONE, S_PROFILE, S_REGISTER };

struct load_state {
	const char *path;
	struct gw_profile *p;
	int cap;
	int section;       /* S_* */
	int seen_profile;  /* line of [profile], 0 if none yet */
	unsigned prof_keys;
	unsigned *reg_keys; /* keys seen per register */
	int errors;
};

static int errorf(const struct load_state *st, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int errorf(const struct load_state *st, int line, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: ", st->path, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return GW_ECONFIG;
}

/* Parses an unsigned integer, decimal or 0x hex, the whole string. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (*s == '-' || *s == '+' || *s == '\0' || *s == ' ')
		return GW_EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end != '\0' || end == s)
		return GW_EINVAL;
	/* strtoull with base 0 reads "010" as octal; nobody means that. */
	if (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
		return GW_EINVAL;
	*out = v;
	return 0;
}

/* Normalises an OBIS code to "C.D.E": accepts "C.D.E", "A-B:C.D.E" and a
 * trailing "*F". Each group is 0..255. */
static int parse_obis(const char *s, char *out, size_t cap)
{
	unsigned v[3];
	int n = 0;
	const char *p = strchr(s, ':');

	if (p) {
		/* "A-B:" prefix: two numbers separated by '-' */
		unsigned a, b;
		char tail;
		if (sscanf(s, "%3u-%3u%c", &a, &b, &tail) != 3 || tail != ':' ||
		    a > 255 || b > 255)
			return GW_EINVAL;
		s = p + 1;
	}
	for (int i = 0; i < 3; i++) {
		if (*s < '0' || *s > '9')
			return GW_EINVAL;
		unsigned x = 0;
		int digits = 0;
		while (*s >= '0' && *s <= '9') {
			x = x * 10 + (unsigned)(*s++ - '0');
			if (++digits > 3)
				return GW_EINVAL;
		}
		if (x > 255)
			return GW_EINVAL;
		v[n++] = x;
		if (i < 2 && *s++ != '.')
			return GW_EINVAL;
	}
	if (*s == '*') {
		uint64_t f;
		if (parse_u64(s + 1, &f) || f > 255)
			return GW_EINVAL;
	} else if (*s != '\0') {
		return GW_EINVAL;
	}
	snprintf(out, cap, "%u.%u.%u", v[0], v[1], v[2]);
	return 0;
}

/* "/N" (divisor; its factors of ten go to exp10), "eN", "e-N", "1". */
static int parse_scale(const char *s, int8_t *exp10, uint32_t *divisor)
{
	uint64_t d;
	int e = 0;

	if (strcmp(s, "1") == 0) {
		*exp10 = 0;
		*divisor = 1;
		return 0;
	}
	if (s[0] == '/') {
		if (parse_u64(s + 1, &d) || d == 0 || d > UINT32_MAX)
			return GW_EINVAL;
		while (d % 10 == 0) {
			d /= 10;
			e--;
		}
		*exp10 = (int8_t)e;
		*divisor = (uint32_t)d;
		return 0;
	}
	if (s[0] == 'e' || s[0] == 'E') {
		const char *p = s + 1;
		int neg = 0;
		if (*p == '-' || *p == '+')
			neg = *p++ == '-';
		if (*p < '0' || *p > '9' || p[1] != '\0')
			return GW_EINVAL; /* one digit: |e| <= 9 */
		e = *p - '0';
		*exp10 = (int8_t)(neg ? -e : e);
		*divisor = 1;
		return 0;
	}
	return GW_EINVAL;
}

/* The raw value's bits as a type of `bits` width: hex or decimal, a negative
 * decimal for signed types. */
static int parse_na(const char *s, enum gw_reg_type t, uint64_t *out)
{
	int bits = gw_reg_type_words(t) * 16;
	uint64_t mask = bits == 64 ? UINT64_MAX : ((uint64_t)1 << bits) - 1;
	int is_signed = t == GW_T_INT16 || t == GW_T_INT32 || t == GW_T_INT64;
	uint64_t v;

	if (s[0] == '-') {
		if (!is_signed || parse_u64(s + 1, &v))
			return GW_EINVAL;
		uint64_t lim = (uint64_t)1 << (bits - 1); /* |min| */
		if (v > lim)
			return GW_EINVAL;
		*out = ((uint64_t)0 - v) & mask;
		return 0;
	}
	if (parse_u64(s, &v) || (v & ~mask) != 0)
		return GW_EINVAL;
	*out = v;
	return 0;
}

/* A bound of a register's range, in the file's unit: a decimal number
 * ("-1", "250.5", "1e12"), or "none" for no bound (+-inf by `upper`). */
static int parse_bound(const char *s, int upper, double *out)
{
	char *end;

	if (strcmp(s, "none") == 0) {
		*out = upper ? HUGE_VAL : -HUGE_VAL;
		return 0;
	}
	/* Digits, sign, point and exponent only: strtod would also take
	 * "inf", "nan" and hex floats. */
	if (*s == '\0' || s[strspn(s, "0123456789+-.eE")] != '\0')
		return GW_EINVAL;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end != '\0' || end == s || !isfinite(v))
		return GW_EINVAL;
	*out = v;
	return 0;
}

static int key_profile(struct load_state *st, const char *key,
		       const char *value, int line)
{
	struct gw_profile *p = st->p;
	unsigned bit;

	if (strcmp(key, "name") == 0) {
		bit = 1;
		if (!*value || gw_strlcpy(p->name, value, sizeof(p->name)) ||
		    strpbrk(value, "/ \t"))
			return errorf(st, line, "name: '%s' is not a valid profile name",
				      value);
	} else if (strcmp(key, "description") == 0) {
		bit = 2;
		gw_strlcpy(p->description, value, sizeof(p->description));
	} else if (strcmp(key, "max_registers") == 0) {
		uint64_t v;
		bit = 4;
		if (parse_u64(value, &v) || v < 1 || v > MAX_REGS_LIMIT)
			return errorf(st, line,
				      "max_registers: '%s' is not an integer 1..%d",
				      value, MAX_REGS_LIMIT);
		p->max_registers = (int)v;
	} else {
		return errorf(st, line, "unknown key '%s' in [profile]", key);
	}
	if (st->prof_keys & bit)
		return errorf(st, line, "duplicate key '%s'", key);
	st->prof_keys |= bit;
	return 0;
}

/* One branch per key of a [register] section, in the order
 * docs/profiles.md lists them: longer than 80 lines, but read top to
 * bottom it is the file format's reference, which a split would scatter. */
static int key_register(struct load_state *st, const char *key,
			const char *value, int line)
{
	struct gw_profile_reg *r = &st->p->regs[st->p->n_regs - 1];
	unsigned *seen = &st->reg_keys[st->p->n_regs - 1];
	unsigned bit;
	uint64_t v;

	if (strcmp(key, "function") == 0) {
		bit = K_FUNCTION;
		if (strcmp(value, "3") == 0)
			r->function = 3;
		else if (strcmp(value, "4") == 0)
			r->function = 4;
		else
			return errorf(st, line,
				      "function: '%s' is not 3 (holding) or 4 (input)",
				      value);
	} else if (strcmp(key, "address") == 0) {
		bit = K_ADDRESS;
		if (parse_u64(value, &v) || v > 0xFFFF)
			return errorf(st, line,
				      "address: '%s' is not a wire address 0..0xFFFF",
				      value);
		r->address = (uint16_t)v;
	} else if (strcmp(key, "type") == 0) {
		bit = K_TYPE;
		size_t i;
		for (i = 0; i < sizeof(type_names) / sizeof(type_names[0]); i++)
			if (strcmp(value, type_names[i]) == 0)
				break;
		if (i == sizeof(type_names) / sizeof(type_names[0]))
			return errorf(st, line,
				      "type: '%s' is not one of int16 uint16 int32 uint32 int64 uint64 float32 float64",
				      value);
		if (*seen & K_NA)
			return errorf(st, line, "type: must come before 'na'");
		r->type = (uint8_t)i;
	} else if (strcmp(key, "order") == 0) {
		bit = K_ORDER;
		size_t i;
		for (i = 0; i < 4; i++)
			if (strcmp(value, order_names[i]) == 0)
				break;
		if (i == 4)
			return errorf(st, line,
				      "order: '%s' is not one of ABCD CDAB BADC DCBA",
				      value);
		r->order = (uint8_t)i;
	} else if (strcmp(key, "scale") == 0) {
		bit = K_SCALE;
		if (parse_scale(value, &r->exp10, &r->divisor))
			return errorf(st, line,
				      "scale: '%s' is not a divisor '/N', a power of ten 'eN' or 'e-N' (|N| <= 9), or '1'",
				      value);
	} else if (strcmp(key, "unit") == 0) {
		enum gw_unit u;
		int e;
		bit = K_UNIT;
		if (gw_unit_parse(value, &u, &e))
			return errorf(st, line, "unit: '%s' is not a known unit",
				      value);
		r->unit = (uint8_t)u;
		r->unit_exp10 = (int8_t)e;
	} else if (strcmp(key, "na") == 0) {
		bit = K_NA;
		if (!(*seen & K_TYPE))
			return errorf(st, line, "na: 'type' must come first");
		if (parse_na(value, (enum gw_reg_type)r->type, &r->na))
			return errorf(st, line,
				      "na: '%s' does not fit the register's type %s",
				      value, type_names[r->type]);
		r->has_na = 1;
	} else if (strcmp(key, "min") == 0 || strcmp(key, "max") == 0) {
		/* Kept in the file's unit here; check_profile converts it to
		 * the base unit once `unit` is known. */
		int upper = key[1] == 'a';
		bit = upper ? K_MAX : K_MIN;
		if (parse_bound(value, upper, upper ? &r->max : &r->min))
			return errorf(st, line,
				      "%s: '%s' is not a number (like 250, -1.5 or 1e12) or 'none'",
				      key, value);
		if (upper)
			r->has_max = 1;
		else
			r->has_min = 1;
	} else {
		return errorf(st, line, "unknown key '%s' in [register %s]", key,
			      r->obis);
	}
	if (*seen & bit)
		return errorf(st, line, "duplicate key '%s'", key);
	*seen |= bit;
	return 0;
}

static int section_header(struct load_state *st, const char *section, int line)
{
	struct gw_profile *p = st->p;

	/* Until this header is accepted, its keys belong to no section: a
	 * refused header's keys are skipped (the header's error is enough),
	 * never taken for keys of the section before it. */
	st->section = S_NONE;
	if (strcmp(section, "profile") == 0) {
		if (st->seen_profile)
			return errorf(st, line, "duplicate [profile] (first at line %d)",
				      st->seen_profile);
		st->seen_profile = line;
		st->section = S_PROFILE;
		return 0;
	}
	if (strncmp(section, "register ", 9) != 0) {
		return errorf(st, line,
			      "unknown section [%s]: expected [profile] or [register OBIS]",
			      section);
	}
	char obis[GW_OBIS_MAX];
	const char *code = section + 9;
	while (*code == ' ')
		code++;
	if (parse_obis(code, obis, sizeof(obis)))
		return errorf(st, line, "[%s]: '%s' is not an OBIS code like 1.8.0",
			      section, code);
	for (int i = 0; i < p->n_regs; i++)
		if (strcmp(p->regs[i].obis, obis) == 0)
			return errorf(st, line,
				      "[%s]: register %s is already defined at line %d",
				      section, obis, p->regs[i].line);
	if (p->n_regs == st->cap) {
		int ncap = st->cap ? st->cap * 2 : 16;
		struct gw_profile_reg *nr =
			realloc(p->regs, sizeof(*nr) * (size_t)ncap);
		if (!nr)
			return GW_ENOMEM;
		p->regs = nr;
		unsigned *nk = realloc(st->reg_keys, sizeof(*nk) * (size_t)ncap);
		if (!nk)
			return GW_ENOMEM;
		st->reg_keys = nk;
		st->cap = ncap;
	}
	struct gw_profile_reg *r = &p->regs[p->n_regs];
	memset(r, 0, sizeof(*r));
	gw_strlcpy(r->obis, obis, sizeof(r->obis));
	r->order = GW_ORDER_ABCD;
	r->divisor = 1;
	r->line = line;
	st->reg_keys[p->n_regs] = 0;
	p->n_regs++;
	st->section = S_REGISTER;
	return 0;
}

static int load_cb(void *ctx, const char *section, const char *key,
		   const char *value, int line)
{
	struct load_state *st = ctx;
	int rc;

	if (!key)
		rc = section_header(st, section, line);
	else if (st->section == S_PROFILE)
		rc = key_profile(st, key, value, line);
	else if (st->section == S_REGISTER)
		rc = key_register(st, key, value, line);
	else if (*section == '\0')
		rc = errorf(st, line, "key '%s' outside of a section", key);
	else
		rc = 0; /* inside an unknown section: already reported */
	if (rc == GW_ENOMEM)
		return rc;
	if (rc)
		st->errors++;
	/* Go on to report every error in the file, not just the first. */
	return 0;
}

static int reg_cmp(const void *a, const void *b)
{
	const struct gw_profile_reg *x = a, *y = b;

	if (x->function != y->function)
		return x->function - y->function;
	return (int)x->address - (int)y->address;
}

/* Checks what needs the whole file: required keys, sizes, overlaps. */
static void check_profile(struct load_state *st)
{
	struct gw_profile *p = st->p;

	if (!st->seen_profile) {
		errorf(st, 1, "missing [profile] section");
		st->errors++;
	}
	if (p->n_regs == 0) {
		errorf(st, st->seen_profile ? st->seen_profile : 1,
		       "the profile defines no [register OBIS] section");
		st->errors++;
	}
	for (int i = 0; i < p->n_regs; i++) {
		struct gw_profile_reg *r = &p->regs[i];
		unsigned missing = K_REQUIRED & ~st->reg_keys[i];
		static const struct {
			unsigned bit;
			const char *name;
		} req[] = { { K_FUNCTION, "function" },
			    { K_ADDRESS, "address" },
			    { K_TYPE, "type" },
			    { K_UNIT, "unit" } };
		for (size_t k = 0; k < sizeof(req) / sizeof(req[0]); k++) {
			if (missing & req[k].bit) {
				errorf(st, r->line,
				       "[register %s]: missing required key '%s'",
				       r->obis, req[k].name);
				st->errors++;
			}
		}
		if (missing)
			continue;
		int words = gw_reg_type_words((enum gw_reg_type)r->type);
		if ((int)r->address + words - 1 > 0xFFFF) {
			errorf(st, r->line,
			       "[register %s]: %s at 0x%04X runs past address 0xFFFF",
			       r->obis, type_names[r->type], r->address);
			st->errors++;
		}
		if (words > p->max_registers) {
			errorf(st, r->line,
			       "[register %s]: %d registers exceed max_registers %d",
			       r->obis, words, p->max_registers);
			st->errors++;
		}
		/* min/max to the base unit (kWh -> Wh) */
		double f = pow(10.0, r->unit_exp10), lo, hi;
		if (r->has_min)
			r->min *= f;
		if (r->has_max)
			r->max *= f;
		gw_profile_range(r, &lo, &hi);
		if (!(lo < hi)) {
			char u[16];
			gw_profile_unit_text(r, u, sizeof(u));
			errorf(st, r->line,
			       "[register %s]: min %g%s is not below max %g%s%s",
			       r->obis, lo / f, u, hi / f, u,
			       r->has_min && r->has_max ? ""
						       : " (the unit's default; see docs/profiles.md)");
			st->errors++;
		}
	}
	if (st->errors)
		return;
	/* Sort by function and address (keys ride along by index: no longer
	 * needed), then reject overlapping registers. */
	qsort(p->regs, (size_t)p->n_regs, sizeof(p->regs[0]), reg_cmp);
	for (int i = 1; i < p->n_regs; i++) {
		const struct gw_profile_reg *a = &p->regs[i - 1], *b = &p->regs[i];
		if (a->function == b->function &&
		    (int)a->address + gw_reg_type_words((enum gw_reg_type)a->type) >
			    (int)b->address) {
			errorf(st, b->line,
			       "[register %s]: address 0x%04X overlaps register %s (line %d)",
			       b->obis, b->address, a->obis, a->line);
			st->errors++;
		}
	}
}

/* The file's base name without ".prof", as a default profile name. */
static void default_name(const char *path, char *out, size_t cap)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	gw_strlcpy(out, b, cap);
	size_t n = strlen(out);
	if (n > 5 && strcmp(out + n - 5, ".prof") == 0)
		out[n - 5] = '\0';
}

/* Loads from the file at path, or from buf when buf is not NULL. */
static int load(const char *path, const char *buf, size_t len,
		struct gw_profile **out)
{
	struct load_state st;
	int rc;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	st.path = path;
	st.p = calloc(1, sizeof(*st.p));
	if (!st.p)
		return GW_ENOMEM;
	st.p->max_registers = MAX_REGS_DEFAULT;
	gw_strlcpy(st.p->path, path, sizeof(st.p->path));

	if (buf)
		rc = gw_ini_parse_buffer(path, buf, len, load_cb, &st);
	else
		rc = gw_ini_parse(path, load_cb, &st);
	if (rc == 0) {
		check_profile(&st);
		if (st.errors)
			rc = GW_ECONFIG;
	}
	free(st.reg_keys);
	if (rc) {
		gw_profile_free(st.p);
		return rc == GW_EIO || rc == GW_ENOMEM ? rc : GW_ECONFIG;
	}
	if (!(st.prof_keys & 1))
		default_name(path, st.p->name, sizeof(st.p->name));
	*out = st.p;
	return 0;
}

int gw_profile_load(const char *path, struct gw_profile **out)
{
	return load(path, NULL, 0, out);
}

int gw_profile_parse_buffer(const char *name, const char *buf, size_t len,
			    struct gw_profile **out)
{
	return load(name, buf ? buf : "", buf ? len : 0, out);
}

/* The next directory of a search path "A:B:C" from *p into dir; 0 at
 * the end. */
static int next_dir(const char **p, char *dir, size_t cap)
{
	const char *s = *p, *colon;
	size_t len;

	if (!s)
		return 0;
	colon = strchr(s, ':');
	len = colon ? (size_t)(colon - s) : strlen(s);
	*p = colon ? colon + 1 : NULL;
	if (len >= cap)
		len = cap - 1;
	memcpy(dir, s, len);
	dir[len] = '\0';
	if (!dir[0])
		snprintf(dir, cap, ".");
	return 1;
}

int gw_profile_locate(const char *path, const char *name, int skip,
		      char *out, size_t cap)
{
	char dir[GW_PATH_MAX];
	const char *p = path && *path ? path : ".";

	if (!name || !*name || strchr(name, '/') || strcmp(name, "..") == 0)
		return GW_EINVAL;
	while (next_dir(&p, dir, sizeof(dir))) {
		if (snprintf(out, cap, "%s/%s.prof", dir, name) >= (int)cap)
			return GW_EINVAL;
		if (access(out, F_OK) == 0) {
			if (skip-- == 0)
				return 0;
		} else if (errno != ENOENT && errno != ENOTDIR) {
			/* A site's own profile may be there: not looking
			 * further is safer than loading another one. */
			gw_warn("profile %s: cannot look into %s: %s", name, dir,
				strerror(errno));
			return GW_EIO;
		}
	}
	out[0] = '\0';
	return GW_ENOTFOUND;
}

int gw_profile_dirs(const char *path, int (*fn)(const char *dir, void *arg),
		    void *arg)
{
	char dir[GW_PATH_MAX];
	const char *p = path && *path ? path : ".";

	while (next_dir(&p, dir, sizeof(dir))) {
		int rc = fn(dir, arg);
		if (rc)
			return rc;
	}
	return 0;
}

int gw_profile_load_named(const char *dir, const char *name,
			  struct gw_profile **out)
{
	char path[GW_PATH_MAX];
	int rc;

	*out = NULL;
	rc = gw_profile_locate(dir, name, 0, path, sizeof(path));
	if (rc)
		return rc;
	return gw_profile_load(path, out);
}

void gw_profile_free(struct gw_profile *p)
{
	if (!p)
		return;
	free(p->regs);
	free(p);
}
