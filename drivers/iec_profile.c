/* SPDX-License-Identifier: MIT */
/*
 * iec_profile.c - a meter's load profile, untrusted, placed on the
 * gateway's clock and turned into register points for a gap (see
 * iec_profile.h).
 *
 * The profile is the meter's word: its time stamps are on the meter's
 * clock, which may be minutes or years off, and its values are what the
 * meter chose to record. So nothing of it is taken that does not agree
 * with what the gateway read itself: time stamps are moved by the clock
 * offset read in the same readout and must land near the gateway's time;
 * points put into a register's series must lie strictly inside the gap,
 * between the register's values at its two ends, never running
 * backwards, and derived points add up exactly to the register's change.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iec_profile.h"
#include "wide.h"

size_t gw_iec_profile_place(struct gw_reading *r, size_t n, int64_t offset_ms,
			    int64_t now_ms, int64_t window_ms, int64_t ahead_ms)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (r[i].ts_ms != 0) {
			int64_t ts = r[i].ts_ms - offset_ms;
			if (ts < now_ms - window_ms || ts > now_ms + ahead_ms)
				continue;
			r[i].ts_ms = ts;
		}
		if (k != i)
			r[k] = r[i];
		k++;
	}
	return k;
}

static int by_ts(const void *a, const void *b)
{
	const struct gw_reading *x = a, *y = b;

	return x->ts_ms < y->ts_ms ? -1 : x->ts_ms > y->ts_ms;
}

/* The entries of channel `name` in p[0..n), sorted by time, one per time
 * stamp (the first), into a new array *out (free it). Returns their
 * number or GW_ENOMEM. */
static int channel(const struct gw_reading *p, size_t n, const char *name,
		   struct gw_reading **out)
{
	size_t k = 0;

	*out = NULL;
	for (size_t i = 0; i < n; i++)
		k += strcmp(p[i].obis, name) == 0;
	if (k == 0)
		return 0;
	struct gw_reading *c = malloc(k * sizeof(*c));
	if (!c)
		return GW_ENOMEM;
	k = 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(p[i].obis, name) == 0)
			c[k++] = p[i];
	qsort(c, k, sizeof(*c), by_ts);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (u == 0 || c[i].ts_ms != c[u - 1].ts_ms)
			c[u++] = c[i];
	*out = c;
	return (int)u;
}

static void point(struct gw_reading *r, const char *meter_id, const char *obis,
		  int64_t ts, int64_t v, enum gw_reading_status st)
{
	memset(r, 0, sizeof(*r));
	gw_strlcpy(r->meter_id, meter_id, sizeof(r->meter_id));
	gw_strlcpy(r->obis, obis, sizeof(r->obis));
	r->ts_ms = ts;
	r->value = v;
	r->unit = GW_UNIT_WH;
	r->status = (uint8_t)st;
}

/* The register's own values from a profile channel of the same name. */
static int direct(const struct gw_reading *c, int k, const struct gw_iec_gap *g,
		  const char *meter_id, struct gw_reading *out, size_t cap,
		  char *why, size_t why_cap)
{
	size_t n = 0;
	int64_t last = g->from_value;

	for (int i = 0; i < k; i++) {
		if (c[i].ts_ms <= g->from_ms || c[i].ts_ms >= g->to_ms)
			continue;
		if (!gw_unit_is_energy((enum gw_unit)c[i].unit) || c[i].scale != 0 ||
		    c[i].value < last || c[i].value > g->to_value) {
			snprintf(why, why_cap,
				 "its %s %lld is not between %lld and %lld Wh",
				 g->obis, (long long)c[i].value, (long long)last,
				 (long long)g->to_value);
			return GW_EPROTO;
		}
		if (n >= cap)
			return GW_EFULL;
		last = c[i].value;
		n++;
	}
	n = 0;
	for (int i = 0; i < k; i++)
		if (c[i].ts_ms > g->from_ms && c[i].ts_ms < g->to_ms)
			point(&out[n++], meter_id, g->obis, c[i].ts_ms, c[i].value,
			      GW_RS_PROFILE);
	return (int)n;
}

/* Weights are products of a value and a time span: 128 bits (wide.h, as
 * 32-bit ARM has no 128-bit type). */
struct share {
	struct gw_u128 w; /* weight: value x overlap */
	struct gw_u128 rem;
	int64_t q; /* whole Wh given */
	int64_t end_ms;
	size_t idx;
};

static int by_rem(const void *a, const void *b)
{
	const struct share *x = a, *y = b;

	int c = gw_u128_cmp(x->rem, y->rem);

	if (c != 0)
		return -c;
	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

static int by_idx(const void *a, const void *b)
{
	const struct share *x = a, *y = b;

	return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* a - b, for a >= b */
static struct gw_u128 minus(struct gw_u128 a, struct gw_u128 b)
{
	struct gw_u128 d = {a.hi - b.hi - (a.lo < b.lo), a.lo - b.lo};

	return d;
}

static int64_t pow10i(int e)
{
	int64_t p = 1;

	while (e-- > 0)
		p *= 10;
	return p;
}

/* The register's change shared out over interval energies (C.29.E, Wh per
 * interval) or demands (C.5.E, W). */
/* Longer than 80 lines: the intervals' overlap with the gap, their
 * weights, the check against the register's change and the
 * largest-remainder sharing all work on the same arrays of intervals;
 * split, each piece would need all of them. */
static int derived(const struct gw_reading *c, int k, int64_t step,
		   int per_interval, const struct gw_iec_gap *g,
		   const char *meter_id, struct gw_reading *out, size_t cap,
		   char *why, size_t why_cap)
{
	int64_t delta = g->to_value - g->from_value;
	int first = -1, last = -1, smin = 127;

	for (int i = 0; i < k; i++) {
		if (c[i].ts_ms <= g->from_ms || c[i].ts_ms - step >= g->to_ms)
			continue;
		if (c[i].value < 0 || c[i].scale < -12 || c[i].scale > 6) {
			snprintf(why, why_cap, "a negative or odd value in %s",
				 c[i].obis);
			return GW_EPROTO;
		}
		if (first < 0)
			first = i;
		last = i;
		if (c[i].scale < smin)
			smin = c[i].scale;
	}
	if (first < 0)
		return 0;
	/* The profile must cover the gap: its first interval begins within
	 * one interval of the gap's start, its last ends within two of the
	 * gap's end (the meter's current interval is not recorded yet). */
	if (c[first].ts_ms - step > g->from_ms + step ||
	    c[last].ts_ms < g->to_ms - 2 * step) {
		snprintf(why, why_cap, "the profile covers only part of the gap");
		return GW_EPROTO;
	}
	size_t m = (size_t)(last - first) + 2; /* intervals and the tail */
	struct share *s = calloc(m, sizeof(*s));
	if (!s)
		return GW_ENOMEM;
	struct gw_u128 total = gw_u128_of(0);
	for (int i = first; i <= last; i++) {
		int64_t a = c[i].ts_ms - step > g->from_ms ? c[i].ts_ms - step
							  : g->from_ms;
		int64_t b = c[i].ts_ms < g->to_ms ? c[i].ts_ms : g->to_ms;
		struct share *x = &s[i - first];
		x->idx = (size_t)(i - first);
		x->end_ms = c[i].ts_ms;
		int64_t v = c[i].value * pow10i(c[i].scale - smin);
		if (b > a)
			x->w = gw_u128_mul64((uint64_t)v, (uint64_t)(b - a));
		total = gw_u128_add(total, x->w);
	}
	/* the tail: from the last recorded interval's end to the read */
	struct share *tail = &s[m - 1];
	tail->idx = m - 1;
	tail->end_ms = g->to_ms;
	int64_t tl = g->to_ms - (c[last].ts_ms > g->from_ms ? c[last].ts_ms : g->from_ms);
	if (tl > 0)
		tail->w = gw_u128_mul64((uint64_t)(c[last].value * pow10i(c[last].scale - smin)),
					(uint64_t)tl);
	total = gw_u128_add(total, tail->w);
	/* Plausibility, in Wh: energy = weight * f. */
	double f = per_interval ? 1.0 / (double)step
				: 1.0 / 3.6e6;
	for (int e = smin; e < 0; e++)
		f /= 10.0;
	for (int e = 0; e < smin; e++)
		f *= 10.0;
	double e_prof = gw_u128_to_double(total) * f;
	double e_tail = gw_u128_to_double(tail->w) * f;
	double off = e_prof - (double)delta;
	if (off < 0)
		off = -off;
	if (gw_u128_is_zero(total) ? delta != 0
		       : off > (double)delta / 10.0 + e_tail + 2.0) {
		snprintf(why, why_cap,
			 "its %s adds up to %.0f Wh, the register changed by %lld Wh",
			 c[first].obis, e_prof, (long long)delta);
		free(s);
		return GW_EPROTO;
	}
	/* The recorded intervals are the meter's own measurements: when the
	 * register moved at least as much as they add up to, each keeps its
	 * energy and the tail (the meter's current interval, not recorded
	 * yet) gets the rest. Its estimate from the last interval's demand
	 * is for the check above only: a load switched on after that
	 * interval would otherwise have its energy shared out over the
	 * earlier intervals, onto earlier days. */
	uint64_t base = (uint64_t)(per_interval ? step : 3600000); /* weight of 1 Wh */
	if (smin <= 0 && base <= UINT64_MAX / (uint64_t)pow10i(-smin)) {
		uint64_t per_wh = base * (uint64_t)pow10i(-smin);
		struct gw_u128 need = gw_u128_mul64((uint64_t)delta, per_wh);
		struct gw_u128 rec = minus(total, tail->w);
		if (gw_u128_cmp(need, rec) >= 0) {
			tail->w = minus(need, rec);
			total = need;
		}
	}
	/* Largest remainder: whole Wh in proportion to the weights, the Wh
	 * left over to the largest remainders, so the shares add up to
	 * delta exactly. */
	int64_t given = 0;
	for (size_t j = 0; j < m && !gw_u128_is_zero(total); j++) {
		struct gw_u128 num = gw_u128_mul(s[j].w, (uint64_t)delta);
		s[j].q = (int64_t)gw_u128_divmod(num, total, &s[j].rem).lo;
		given += s[j].q;
	}
	if (!gw_u128_is_zero(total)) {
		qsort(s, m, sizeof(*s), by_rem);
		for (size_t j = 0; given < delta; j = (j + 1) % m) {
			s[j].q++;
			given++;
		}
		qsort(s, m, sizeof(*s), by_idx);
	}
	size_t n = 0;
	int64_t v = g->from_value;
	for (size_t j = 0; j + 1 < m; j++) {
		v += s[j].q;
		if (s[j].end_ms <= g->from_ms || s[j].end_ms >= g->to_ms)
			continue;
		if (n >= cap) {
			free(s);
			return GW_EFULL;
		}
		point(&out[n++], meter_id, g->obis, s[j].end_ms, v, GW_RS_DERIVED);
	}
	free(s);
	return (int)n;
}

int gw_iec_backfill(const struct gw_reading *p, size_t n, int64_t step_ms,
		    const struct gw_iec_gap *g, const char *meter_id,
		    struct gw_reading *out, size_t cap, char *why, size_t why_cap)
{
	struct gw_reading *c = NULL;
	int k, rc = 0, cc, dd, ee;
	char name[GW_OBIS_MAX];

	why[0] = '\0';
	if (g->to_ms <= g->from_ms || step_ms <= 0)
		return 0;
	if (g->to_value < g->from_value) {
		snprintf(why, why_cap, "the register went backwards across the gap");
		return GW_EPROTO;
	}
	k = channel(p, n, g->obis, &c);
	if (k < 0)
		return k;
	if (k > 0) {
		rc = direct(c, k, g, meter_id, out, cap, why, why_cap);
		free(c);
		return rc;
	}
	char tail[4];
	if (sscanf(g->obis, "%d.%d.%d%3s", &cc, &dd, &ee, tail) != 3 || dd != 8)
		return 0;
	static const int kinds[2] = {29, 5}; /* energy per interval, demand */
	for (int i = 0; i < 2; i++) {
		snprintf(name, sizeof(name), "%d.%d.%d", cc, kinds[i], ee);
		k = channel(p, n, name, &c);
		if (k < 0)
			return k;
		if (k == 0)
			continue;
		if (kinds[i] == 29 ? !gw_unit_is_energy((enum gw_unit)c[0].unit)
				   : c[0].unit != GW_UNIT_W) {
			free(c);
			continue;
		}
		rc = derived(c, k, step_ms, kinds[i] == 29, g, meter_id, out, cap,
			     why, why_cap);
		free(c);
		return rc;
	}
	return 0;
}
