/* SPDX-License-Identifier: MIT */
/*
 * iec_readings.c - from a parsed IEC 62056-21 telegram (iec_parse.c) to
 * readings: register values with their units (exact integer Wh for
 * energy), billing-period values, load-profile (P.01) rows, the meter's
 * serial number, and the meter's clock as UTC.
 *
 * Like the parser: no I/O and no allocation, so that it is fuzzed with it
 * (tests/fuzz/fuzz_iec.c) and tested against every captured telegram in
 * realdata/iec62056-21 (tests/unit/test_iec_parse.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iec_parse.h"

int gw_iec_local_to_utc(int year, int month, int day, int hour, int min,
			int sec, int isdst, int64_t *ms)
{
	struct tm tm;

	if (year < 1970 || year > 2200 || month < 1 || month > 12 || day < 1 ||
	    day > 31 || hour < 0 || hour > 23 || min < 0 || min > 59 ||
	    sec < 0 || sec > 60)
		return GW_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = year - 1900;
	tm.tm_mon = month - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	/* The meter's season flag only settles the hour that occurs twice
	 * when daylight saving time ends; in a zone without DST (or outside
	 * that hour) mktime must not shift the time by it. */
	struct tm hint = tm;
	tm.tm_isdst = -1;
	time_t tt = mktime(&tm);
	if (isdst >= 0 && tm.tm_isdst != isdst) {
		hint.tm_isdst = isdst;
		time_t t2 = mktime(&hint);
		if (hint.tm_isdst == isdst && hint.tm_hour == hour)
			tt = t2;
	}
	if (tt == (time_t)-1)
		return GW_EINVAL;
	*ms = (int64_t)tt * 1000;
	return 0;
}

static int64_t pow10i(int e)
{
	int64_t p = 1;

	while (e-- > 0)
		p *= 10;
	return p;
}

/* value = mantissa * 10^(exp10 - decimals) in unit; energy to scale 0
 * (rounded half away from zero), other units to scale 0 when the value is
 * whole, else the meter's own resolution. Returns 0 or GW_EINVAL. */
static int to_reading(int64_t m, int decimals, int exp10, enum gw_unit unit,
		      struct gw_reading *r)
{
	int sc = exp10 - decimals;

	if (sc > 0) {
		if (sc > 18)
			return GW_EINVAL;
		int64_t p = pow10i(sc);
		if (m > INT64_MAX / p || m < -(INT64_MAX / p))
			return GW_EINVAL;
		m *= p;
		sc = 0;
	} else if (sc < 0 && gw_unit_is_energy(unit)) {
		if (-sc > 18)
			return GW_EINVAL;
		int64_t p = pow10i(-sc), q = m / p, rem = m % p;
		if (rem * 2 >= p)
			q++;
		else if (rem * 2 <= -p)
			q--;
		m = q;
		sc = 0;
	}
	if (sc < -18)
		return GW_EINVAL;
	r->value = m;
	r->scale = (int8_t)sc;
	r->unit = (uint8_t)unit;
	return 0;
}

/* "C.D.E" parts of a normalised name without prefix or billing suffix:
 * returns the number of numeric parts read (0 if C is not a number). */
static int name_parts(const char *name, int *c, int *d)
{
	char *end;

	if (strchr(name, ':') || !isdigit((unsigned char)name[0]))
		return 0;
	*c = (int)strtol(name, &end, 10);
	if (*end != '.' || !isdigit((unsigned char)end[1]))
		return 1;
	*d = (int)strtol(end + 1, &end, 10);
	return 2;
}

/* The unit of an energy register X.8.Y sent without one (EDIS
 * convention: k-units). */
static int energy_default(const char *name, enum gw_unit *u, int *e)
{
	int c, d;

	if (name_parts(name, &c, &d) < 2 || d != 8 || c < 1 || c > 199 ||
	    (c >= 96 && c <= 99))
		return GW_EINVAL;
	switch (c % 20) {
	case 1: case 2: case 15: case 16: *u = GW_UNIT_WH; break;
	case 3: case 4: case 5: case 6: case 7: case 8: *u = GW_UNIT_VARH; break;
	case 9: case 10: *u = GW_UNIT_VAH; break;
	default: return GW_EINVAL;
	}
	*e = 3;
	return 0;
}

static int electrical(const char *name)
{
	int c, d = 0;
	const char *p = name;
	int dots = 0;

	for (; *p && *p != '*'; p++)
		dots += *p == '.';
	return dots == 2 && name_parts(name, &c, &d) == 2 && c >= 1 && c <= 199 &&
	       !(c >= 96 && c <= 99);
}

/* The unit of the current value of the register d is a billing value of. */
static int inherited_unit(const struct gw_iec_telegram *t,
			  const struct gw_iec_dataset *d, enum gw_unit *u, int *e)
{
	char base[GW_OBIS_MAX];
	const char *star = strrchr(d->name, '*');

	if (!star || (size_t)(star - d->name) >= sizeof(base))
		return GW_EINVAL;
	memcpy(base, d->name, (size_t)(star - d->name));
	base[star - d->name] = '\0';
	for (size_t i = 0; i < t->n_sets; i++) {
		const struct gw_iec_dataset *o = &t->sets[i];
		if (o->n_values && strcmp(o->name, base) == 0) {
			const struct gw_iec_value *v = &t->values[o->first_value];
			return v->unit[0] ? gw_unit_parse(v->unit, u, e) : GW_EINVAL;
		}
	}
	return GW_EINVAL;
}

static int seen(const struct gw_reading *out, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (out[i].ts_ms == 0 && strcmp(out[i].obis, name) == 0)
			return 1;
	return 0;
}

/* Adds a register reading (ts_ms 0) unless its name is there already. */
static int add(struct gw_reading *out, size_t *n, size_t cap,
	       const struct gw_reading *r)
{
	if (seen(out, *n, r->obis))
		return 0;
	if (*n >= cap)
		return GW_EFULL;
	out[(*n)++] = *r;
	return 0;
}

/* A load-profile channel's name: normalised, the short form "C.D" of some
 * meters completed to "C.D.0", so that EMH's "1.5" and Metcom's
 * "1-0:1.5.0" name the same channel. Returns 0 or GW_EINVAL. */
static int channel_name(const char *text, char *name, size_t cap)
{
	int billing, dots = 0;

	if (gw_iec_name(text, name, cap, &billing) || billing >= 0)
		return GW_EINVAL;
	const char *core = strrchr(name, ':');
	for (const char *p = core ? core + 1 : name; *p; p++)
		dots += *p == '.';
	if (dots == 1 && strlen(name) + 2 < cap)
		strcat(name, ".0");
	return 0;
}

/* Load profile: P.xx(time)(status)(interval min)(channels)(name)(unit)...
 * then one row of `channels` values per interval. With `series` the
 * readings are the series "P.01:<channel>" of the channels that are not
 * energy; else every channel's entries under the channel's own name. */
/* A little over 80 lines: the header's fields, then one loop over the
 * rows that carries the header's time, interval and channel names into
 * each row's readings. */
static int profile_rows(const struct gw_iec_telegram *t, size_t h,
			const char *meter_id, int series, struct gw_reading *out,
			size_t *n, size_t cap, int64_t *interval_ms)
{
	const struct gw_iec_dataset *d = &t->sets[h];
	const struct gw_iec_value *v = &t->values[d->first_value];
	int64_t m;
	int dec, x[6];

	if (d->n_values < 4 || strcmp(d->name, "P.01") != 0)
		return 0;
	const char *ts = v[0].text;
	if (strlen(ts) != 13 || gw_iec_digits(ts + 1, x, 6))
		return 0;
	int isdst = ts[0] == '0' ? 0 : ts[0] == '1' ? 1 : -1;
	int64_t t0;
	if (ts[0] == '2') { /* UTC */
		struct tm tm;
		memset(&tm, 0, sizeof(tm));
		tm.tm_year = 100 + x[0];
		tm.tm_mon = x[1] - 1;
		tm.tm_mday = x[2];
		tm.tm_hour = x[3];
		tm.tm_min = x[4];
		tm.tm_sec = x[5];
		t0 = (int64_t)timegm(&tm) * 1000;
	} else if (gw_iec_local_to_utc(2000 + x[0], x[1], x[2], x[3], x[4], x[5],
				       isdst, &t0)) {
		return 0;
	}
	if (gw_iec_number(v[2].text, &m, &dec) || dec || m < 1 || m > 1440)
		return 0;
	int64_t step = m * 60000;
	if (gw_iec_number(v[3].text, &m, &dec) || dec || m < 1 || m > 32 ||
	    d->n_values < 4 + 2 * m)
		return 0;
	if (interval_ms)
		*interval_ms = step;
	int ch = (int)m;
	char names[32][GW_OBIS_MAX];
	enum gw_unit units[32];
	int exps[32];
	for (int c = 0; c < ch; c++) {
		char plain[GW_OBIS_MAX];
		const struct gw_iec_value *u = &v[5 + 2 * c];
		names[c][0] = '\0';
		if (channel_name(v[4 + 2 * c].text, plain, sizeof(plain)) ||
		    gw_unit_parse(u->unit[0] ? u->unit : u->text, &units[c], &exps[c]))
			continue;
		if (!series) {
			memcpy(names[c], plain, sizeof(plain));
			continue;
		}
		/* energy channels fill gaps of the register (iec_profile.h) */
		if (gw_unit_is_energy(units[c]))
			continue;
		int w = snprintf(names[c], sizeof(names[c]), "%s%s",
				 GW_IEC_PROFILE_PREFIX, plain);
		if (w < 0 || (size_t)w >= sizeof(names[c]))
			names[c][0] = '\0'; /* too long a name: not kept */
	}
	int row = 0;
	for (size_t i = h + 1; i < t->n_sets && t->sets[i].address[0] == '\0';
	     i++, row++) {
		const struct gw_iec_dataset *r = &t->sets[i];
		const struct gw_iec_value *rv = &t->values[r->first_value];
		for (int c = 0; c < ch && c < r->n_values; c++) {
			struct gw_reading rd;
			if (!names[c][0] || rv[c].truncated ||
			    gw_iec_number(rv[c].text, &m, &dec))
				continue;
			memset(&rd, 0, sizeof(rd));
			if (to_reading(m, dec, exps[c], units[c], &rd))
				continue;
			gw_strlcpy(rd.meter_id, meter_id, sizeof(rd.meter_id));
			gw_strlcpy(rd.obis, names[c], sizeof(rd.obis));
			rd.ts_ms = t0 + step * row;
			rd.status = GW_RS_PROFILE;
			if (*n >= cap)
				return GW_EFULL;
			out[(*n)++] = rd;
		}
	}
	return 0;
}

int gw_iec_profile(const struct gw_iec_telegram *t, const char *meter_id,
		   struct gw_reading *out, size_t cap, int64_t *interval_ms)
{
	size_t n = 0;

	*interval_ms = 0;
	for (size_t i = 0; i < t->n_sets; i++) {
		const struct gw_iec_dataset *d = &t->sets[i];
		if (d->address[0] && d->name[0] == 'P' && d->name[1] == '.' &&
		    profile_rows(t, i, meter_id, 0, out, &n, cap, interval_ms))
			return GW_EFULL;
	}
	return (int)n;
}

int gw_iec_serial(const struct gw_iec_telegram *t, char *buf, size_t cap)
{
	static const char *const names[] = { "C.1.0", "96.1.0", "0.0.0" };

	for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
		for (size_t i = 0; i < t->n_sets; i++) {
			const struct gw_iec_dataset *d = &t->sets[i];
			/* "0-0:96.1.0*255" (medium 0: abstract) keeps its
			 * prefix in the normalised name */
			const char *name = strncmp(d->name, "0-0:", 4) == 0
						   ? d->name + 4 : d->name;
			if (d->billing != -1 || d->n_values == 0 ||
			    strcmp(name, names[k]) != 0)
				continue;
			const struct gw_iec_value *v = &t->values[d->first_value];
			size_t len = strlen(v->text);
			int ok = len > 0 && len < cap && !v->truncated;
			for (size_t j = 0; ok && j < len; j++)
				ok = v->text[j] > 0x20 && v->text[j] < 0x7f;
			if (!ok)
				continue;
			memcpy(buf, v->text, len + 1);
			return 1;
		}
	}
	return 0;
}

int gw_iec_readings(const struct gw_iec_telegram *t, const char *meter_id,
		    unsigned flags, struct gw_reading *out, size_t cap)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n_sets; i++) {
		const struct gw_iec_dataset *d = &t->sets[i];
		const struct gw_iec_value *v = &t->values[d->first_value];
		enum gw_unit unit = GW_UNIT_NONE;
		int e = 0, dec;
		int64_t m;
		struct gw_reading r;

		if (d->address[0] == '\0')
			continue; /* a load-profile row */
		if (d->name[0] == 'P' && d->name[1] == '.') {
			if ((flags & GW_IEC_PROFILE) &&
			    profile_rows(t, i, meter_id, 1, out, &n, cap, NULL))
				return GW_EFULL;
			continue;
		}
		if (d->n_values < 1 || v->truncated ||
		    gw_iec_number(v->text, &m, &dec))
			continue;
		if (d->billing >= 0 && !(flags & GW_IEC_BILLING))
			continue;
		if (v->unit[0]) {
			if (gw_unit_parse(v->unit, &unit, &e))
				continue; /* a unit readings cannot carry */
		} else if (inherited_unit(t, d, &unit, &e) &&
			   energy_default(d->name, &unit, &e)) {
			if (!electrical(d->name))
				continue;
			unit = GW_UNIT_NONE;
			e = 0;
		}
		memset(&r, 0, sizeof(r));
		if (to_reading(m, dec, e, unit, &r))
			continue;
		gw_strlcpy(r.meter_id, meter_id, sizeof(r.meter_id));
		gw_strlcpy(r.obis, d->name, sizeof(r.obis));
		if (add(out, &n, cap, &r))
			return GW_EFULL;
	}
	return (int)n;
}
