/* SPDX-License-Identifier: MIT */
/*
 * iec_parse.c - the IEC 62056-21 telegram parser (see iec_parse.h): framing
 * (garbage, sign-on echo, identification, STX..ETX and BCC, push data),
 * data sets, the meter's clock, load profiles, and the conversion of data
 * sets into readings.
 *
 * Everything here works on the bytes it is given and on the caller's
 * structures: no I/O and no allocation, so that it can be fuzzed
 * (tests/fuzz/fuzz_iec.c) and tested against every captured telegram in
 * realdata/iec62056-21 (tests/unit/test_iec_parse.c).
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iec_parse.h"

const char *gw_iec_reason_name(enum gw_iec_reason r)
{
	switch (r) {
	case GW_IEC_OK: return "ok";
	case GW_IEC_NO_DATA: return "no data";
	case GW_IEC_BAD_IDENT: return "bad identification line";
	case GW_IEC_NO_STX: return "no STX block";
	case GW_IEC_NO_ETX: return "block cut short (no ETX)";
	case GW_IEC_NO_BCC: return "no BCC after ETX";
	case GW_IEC_BAD_BCC: return "bad BCC";
	case GW_IEC_NO_END: return "no end line '!'";
	case GW_IEC_SYNTAX: return "malformed data line";
	case GW_IEC_TOO_MANY: return "too many data sets";
	}
	return "?";
}

uint8_t gw_iec_bcc(const uint8_t *p, size_t n)
{
	uint8_t x = 0;

	for (size_t i = 0; i < n; i++)
		x ^= p[i];
	return x;
}

static const int mode_c_bauds[] = {300, 600, 1200, 2400, 4800, 9600, 19200};

int gw_iec_baud_of(char c)
{
	if (c >= '0' && c <= '6')
		return mode_c_bauds[c - '0'];
	return 0;
}

char gw_iec_baud_char(int baud)
{
	for (int i = 0; i < 7; i++)
		if (mode_c_bauds[i] == baud)
			return (char)('0' + i);
	return 0;
}

int gw_iec_parse_ident(const uint8_t *s, size_t n, struct gw_iec_ident *id)
{
	size_t i, k = 0, e = 0;

	memset(id, 0, sizeof(*id));
	if (n < 4)
		return GW_EPROTO;
	for (i = 0; i < 3; i++) {
		if (!isalpha(s[i]))
			return GW_EPROTO;
		id->manufacturer[i] = (char)s[i];
	}
	id->fast = islower(s[2]) != 0;
	id->baud_char = (char)s[3];
	if (s[3] >= '0' && s[3] <= '9') {
		id->mode = 'C';
		id->baud = gw_iec_baud_of((char)s[3]);
	} else if (s[3] >= 'A' && s[3] <= 'I') {
		static const int b[] = {600, 1200, 2400, 4800, 9600, 19200};
		id->mode = 'B';
		id->baud = s[3] <= 'F' ? b[s[3] - 'A'] : 0;
	} else {
		id->mode = 'A';
	}
	for (i = 4; i + 1 < n && s[i] == '\\'; i += 2)
		if (e + 1 < sizeof(id->enhanced))
			id->enhanced[e++] = (char)s[i + 1];
	for (; i < n; i++) {
		if (k + 1 >= sizeof(id->model))
			break;
		id->model[k++] = s[i] >= 0x20 && s[i] < 0x7f ? (char)s[i] : '?';
	}
	return 0;
}

int gw_iec_number(const char *s, int64_t *mantissa, int *decimals)
{
	int64_t m = 0;
	int neg = 0, digits = 0, dec = -1;

	while (*s == ' ')
		s++;
	if (*s == '+' || *s == '-')
		neg = *s++ == '-';
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			if (++digits > 18)
				return GW_EINVAL;
			m = m * 10 + (*s - '0');
			if (dec >= 0)
				dec++;
		} else if (*s == '.' && dec < 0) {
			dec = 0;
		} else {
			break;
		}
	}
	while (*s == ' ')
		s++;
	if (*s || digits == 0)
		return GW_EINVAL;
	*mantissa = neg ? -m : m;
	*decimals = dec < 0 ? 0 : dec;
	return 0;
}

/* Characters of a data-set address. */
static int addr_char(uint8_t c)
{
	return isalnum(c) || c == '.' || c == '-' || c == ':' || c == '*' ||
	       c == '&' || c == '_';
}

int gw_iec_name(const char *address, char *name, size_t cap, int *billing)
{
	const char *p = address, *colon = strchr(address, ':');
	char core[32];
	size_t n = 0;
	int keep_prefix = 0, a = -1, b = -1;

	*billing = -1;
	if (cap < 2 || !*address)
		return GW_EINVAL;
	if (colon) {
		char *end;
		a = (int)strtol(p, &end, 10);
		if (end == p || (*end != '-' && end != colon))
			return GW_EINVAL;
		if (*end == '-') {
			const char *q = end + 1;
			b = (int)strtol(q, &end, 10);
			if (end == q || end != colon)
				return GW_EINVAL;
		}
		keep_prefix = !(a == 1 && (b == 0 || b == 1 || b == -1));
		p = colon + 1;
	}
	/* core: up to '*' or '&' (the billing-period separators) */
	while (*p && *p != '*' && *p != '&') {
		if (n + 1 >= sizeof(core) || !addr_char((uint8_t)*p) || *p == ':')
			return GW_EINVAL;
		core[n++] = *p++;
	}
	core[n] = '\0';
	if (n == 0)
		return GW_EINVAL;
	if (*p) {
		char *end;
		long f = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end || f < 0 || f > 255)
			return GW_EINVAL;
		if (f != 255)
			*billing = (int)f;
	}
	int w;
	char prefix[16] = "";
	if (keep_prefix) {
		if (b >= 0)
			snprintf(prefix, sizeof(prefix), "%d-%d:", a, b);
		else
			snprintf(prefix, sizeof(prefix), "%d:", a);
	}
	if (*billing >= 0)
		w = snprintf(name, cap, "%s%s*%d", prefix, core, *billing);
	else
		w = snprintf(name, cap, "%s%s", prefix, core);
	return w < 0 || (size_t)w >= cap ? GW_EINVAL : 0;
}

static int fail(struct gw_iec_telegram *t, enum gw_iec_reason r, size_t at)
{
	t->reason = r;
	t->error_at = at;
	t->n_sets = 0;
	t->n_values = 0;
	if (r == GW_IEC_BAD_BCC)
		return GW_ECRC;
	if (r == GW_IEC_TOO_MANY)
		return GW_EFULL;
	return GW_EPROTO;
}

/* Parses "hhmmss" / "hh:mm:ss" and "[0]YYMMDD" / "YY-MM-DD". */
static int parse_digits(const char *s, int *out, int n)
{
	int k = 0, v = 0;

	for (; *s && k < 2 * n; s++) {
		if (*s == ':' || *s == '-')
			continue;
		if (*s < '0' || *s > '9')
			return GW_EINVAL;
		v = v * 10 + (*s - '0');
		if (++k % 2 == 0) {
			out[k / 2 - 1] = v;
			v = 0;
		}
	}
	return k == 2 * n && !*s ? 0 : GW_EINVAL;
}

static void take_clock(struct gw_iec_telegram *t, const struct gw_iec_dataset *d)
{
	const struct gw_iec_value *v = &t->values[d->first_value];
	int x[3];

	if (d->n_values < 1 || d->billing >= 0)
		return;
	if (strcmp(d->name, "0.9.1") == 0 && parse_digits(v->text, x, 3) == 0 &&
	    x[0] < 24 && x[1] < 60 && x[2] < 61) {
		t->clock.has_time = true;
		t->clock.hour = x[0];
		t->clock.min = x[1];
		t->clock.sec = x[2];
	} else if (strcmp(d->name, "0.9.2") == 0) {
		const char *s = v->text;
		if (strlen(s) == 7 && s[0] >= '0' && s[0] <= '9')
			s++; /* "0YYMMDD": a leading century/season digit */
		if (parse_digits(s, x, 3) == 0 && x[1] >= 1 && x[1] <= 12 &&
		    x[2] >= 1 && x[2] <= 31) {
			t->clock.has_date = true;
			t->clock.year = 2000 + x[0];
			t->clock.month = x[1];
			t->clock.day = x[2];
		}
	}
}

/* Data lines in buf[i..end): address(value)(value)... repeated, lines
 * separated by CR LF, until "!" or end. Load-profile rows "(v)(v)" have
 * no address and follow a P.xx data set. Returns 0 or a fail() code. */
static int parse_lines(const uint8_t *buf, size_t i, size_t end,
		       struct gw_iec_telegram *t, size_t *stop)
{
	int in_profile = 0;

	while (i < end) {
		uint8_t c = buf[i];
		if (c == '\r' || c == '\n') {
			i++;
			continue;
		}
		if (c == '!') {
			t->has_end = true;
			i++;
			/* the end line: "!" CR LF, "!" LF or just "!" */
			if (i < end && buf[i] == '\r')
				i++;
			if (i < end && buf[i] == '\n')
				i++;
			break;
		}
		if (t->n_sets >= GW_IEC_MAX_SETS)
			return fail(t, GW_IEC_TOO_MANY, i);
		struct gw_iec_dataset *d = &t->sets[t->n_sets];
		memset(d, 0, sizeof(*d));
		d->billing = -1;
		size_t a = 0;
		while (i < end && addr_char(buf[i])) {
			if (a + 1 >= sizeof(d->address))
				return fail(t, GW_IEC_SYNTAX, i);
			d->address[a++] = (char)buf[i++];
		}
		d->address[a] = '\0';
		if (i >= end || buf[i] != '(')
			return fail(t, GW_IEC_SYNTAX, i);
		if (a == 0 && !in_profile)
			return fail(t, GW_IEC_SYNTAX, i);
		if (a > 0) {
			int billing;
			if (gw_iec_name(d->address, d->name, sizeof(d->name),
					&billing))
				return fail(t, GW_IEC_SYNTAX, i - a);
			d->billing = (int16_t)billing;
			in_profile = d->name[0] == 'P' && d->name[1] == '.';
		}
		d->first_value = (uint16_t)t->n_values;
		while (i < end && buf[i] == '(') {
			if (t->n_values >= GW_IEC_MAX_VALUES)
				return fail(t, GW_IEC_TOO_MANY, i);
			struct gw_iec_value *v = &t->values[t->n_values];
			size_t k = 0, star = 0;
			int have_star = 0;
			memset(v, 0, sizeof(*v));
			i++;
			size_t start = i;
			while (i < end && buf[i] != ')') {
				uint8_t ch = buf[i];
				if (ch == '(' || ch == '\r' || ch == '\n' || ch < 0x20 ||
				    ch >= 0x7f)
					return fail(t, GW_IEC_SYNTAX, i);
				if (ch == '*' && !have_star) {
					have_star = 1;
					star = i;
				}
				i++;
			}
			if (i >= end)
				return fail(t, GW_IEC_SYNTAX, i);
			size_t vend = have_star ? star : i;
			/* value text, trimmed */
			size_t b0 = start, b1 = vend;
			while (b0 < b1 && buf[b0] == ' ')
				b0++;
			while (b1 > b0 && buf[b1 - 1] == ' ')
				b1--;
			if (b1 - b0 >= sizeof(v->text)) {
				v->truncated = true;
				b1 = b0 + sizeof(v->text) - 1;
			}
			for (size_t q = b0; q < b1; q++)
				v->text[k++] = (char)buf[q];
			v->text[k] = '\0';
			if (have_star) {
				size_t u0 = star + 1, u1 = i, m = 0;
				while (u0 < u1 && buf[u0] == ' ')
					u0++;
				while (u1 > u0 && buf[u1 - 1] == ' ')
					u1--;
				if (u1 - u0 >= sizeof(v->unit))
					v->truncated = true;
				for (size_t q = u0; q < u1 && m + 1 < sizeof(v->unit); q++)
					v->unit[m++] = (char)buf[q];
				v->unit[m] = '\0';
			}
			i++; /* ')' */
			t->n_values++;
			d->n_values++;
		}
		take_clock(t, d);
		t->n_sets++;
	}
	*stop = i;
	return 0;
}

/* Skips "/?address!" [CR LF] at buf[i]; returns the index after it, or i. */
static size_t skip_signon(const uint8_t *buf, size_t i, size_t n)
{
	size_t j = i + 2;

	if (i + 2 > n || buf[i] != '/' || buf[i + 1] != '?')
		return i;
	while (j < n && j - i < 40 && buf[j] != '!' && buf[j] >= 0x20 &&
	       buf[j] < 0x7f)
		j++;
	if (j >= n || buf[j] != '!')
		return i;
	j++;
	if (j < n && buf[j] == '\r')
		j++;
	if (j < n && buf[j] == '\n')
		j++;
	return j;
}

int gw_iec_parse(const uint8_t *buf, size_t n, unsigned flags,
		 struct gw_iec_telegram *t)
{
	size_t i = 0, stop = 0;
	int rc;

	t->reason = GW_IEC_OK;
	t->error_at = 0;
	t->echo = t->has_ident = t->has_stx = t->has_etx = t->has_end = false;
	t->bcc_checked = false;
	t->bcc_sent = t->bcc_calc = 0;
	t->garbage = t->used = 0;
	t->n_sets = t->n_values = 0;
	memset(&t->ident, 0, sizeof(t->ident));
	memset(&t->clock, 0, sizeof(t->clock));

	/* Garbage: control bytes and bytes outside ASCII before anything. */
	for (;;) {
		while (i < n && buf[i] != '/' && buf[i] != GW_IEC_STX &&
		       !isalnum(buf[i]) && buf[i] != '(' && buf[i] != '!') {
			i++;
			t->garbage++;
		}
		size_t j = skip_signon(buf, i, n);
		if (j == i)
			break;
		t->echo = true;
		i = j;
	}
	if (i >= n)
		return fail(t, GW_IEC_NO_DATA, i);
	if (buf[i] == '/') {
		size_t j = i + 1;
		while (j < n && buf[j] != '\n' && buf[j] != '\r')
			j++;
		if (j >= n || gw_iec_parse_ident(buf + i + 1, j - i - 1, &t->ident))
			return fail(t, GW_IEC_BAD_IDENT, i);
		t->has_ident = true;
		i = j;
		while (i < n && (buf[i] == '\r' || buf[i] == '\n'))
			i++;
		if (i >= n && (flags & (GW_IEC_NEED_BCC | GW_IEC_NEED_END)))
			return fail(t, flags & GW_IEC_NEED_BCC ? GW_IEC_NO_STX
							       : GW_IEC_NO_END, i);
	}
	if (i < n && buf[i] == GW_IEC_STX) {
		size_t s = i + 1, e = s;
		t->has_stx = true;
		while (e < n && buf[e] != GW_IEC_ETX)
			e++;
		if (e >= n)
			return fail(t, GW_IEC_NO_ETX, n);
		t->has_etx = true;
		if (e + 1 >= n)
			return fail(t, GW_IEC_NO_BCC, e);
		t->bcc_calc = gw_iec_bcc(buf + s, e + 1 - s);
		t->bcc_sent = buf[e + 1];
		if (t->bcc_calc != t->bcc_sent)
			return fail(t, GW_IEC_BAD_BCC, e + 1);
		t->bcc_checked = true;
		rc = parse_lines(buf, s, e, t, &stop);
		if (rc)
			return rc;
		/* Only CR/LF may follow the end line inside the block. */
		for (size_t q = stop; q < e; q++)
			if (buf[q] != '\r' && buf[q] != '\n')
				return fail(t, GW_IEC_SYNTAX, q);
		t->used = e + 2;
		return 0;
	}
	if (flags & GW_IEC_NEED_BCC)
		return fail(t, GW_IEC_NO_STX, i);
	rc = parse_lines(buf, i, n, t, &stop);
	if (rc)
		return rc;
	if ((flags & GW_IEC_NEED_END) && !t->has_end)
		return fail(t, GW_IEC_NO_END, stop);
	if (t->n_sets == 0 && !t->has_ident)
		return fail(t, GW_IEC_NO_DATA, stop);
	t->used = stop;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Readings                                                           */

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
	if (strlen(ts) != 13 || parse_digits(ts + 1, x, 6))
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
