/* SPDX-License-Identifier: MIT */
/*
 * iec_parse.c - the IEC 62056-21 telegram parser (see iec_parse.h): framing
 * (garbage, sign-on echo, identification, STX..ETX and BCC, push data),
 * data sets and the meter's clock. Turning data sets into readings is
 * iec_readings.c's.
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

int gw_iec_digits(const char *s, int *out, int n)
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
	if (strcmp(d->name, "0.9.1") == 0 && gw_iec_digits(v->text, x, 3) == 0 &&
	    x[0] < 24 && x[1] < 60 && x[2] < 61) {
		t->clock.has_time = true;
		t->clock.hour = x[0];
		t->clock.min = x[1];
		t->clock.sec = x[2];
	} else if (strcmp(d->name, "0.9.2") == 0) {
		const char *s = v->text;
		if (strlen(s) == 7 && s[0] >= '0' && s[0] <= '9')
			s++; /* "0YYMMDD": a leading century/season digit */
		if (gw_iec_digits(s, x, 3) == 0 && x[1] >= 1 && x[1] <= 12 &&
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
/* Longer than 80 lines: one pass over the bytes that carries the state of
 * the data set being read (its address, the open value, its unit) from
 * byte to byte; split up, that state and the exact byte offset of an error
 * (error_at) would have to travel between the pieces. */
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

/* The framing steps in the order the bytes come (garbage, echo,
 * identification, STX..ETX and BCC, the push end line), each a few lines;
 * a little over 80 lines in all, kept in order so that it reads like the
 * frame it checks. */
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
