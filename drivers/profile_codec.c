/* SPDX-License-Identifier: MIT */
/*
 * profile_codec.c - a Modbus profile register's raw 16-bit words to an
 * exact reading (and back, for the simulator), and the register's range.
 *
 * Energy leaves this file as an integer count of Wh (varh, VAh) at scale 0;
 * other quantities as an exact decimal value * 10^scale. Where the meter's
 * value cannot be represented exactly (a float, a divisor that is not a
 * power of ten) it is rounded here, once, half away from zero; docs/profiles.md
 * documents the rules.
 */
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "profile.h"

char *gw_profile_unit_text(const struct gw_profile_reg *r, char *buf, size_t cap)
{
	const char *base = gw_unit_name((enum gw_unit)r->unit);
	const char *prefix = r->unit_exp10 == 3    ? "k"
			     : r->unit_exp10 == 6  ? "M"
			     : r->unit_exp10 == -3 ? "m"
						   : "";

	snprintf(buf, cap, "%s%s%s", *base ? " " : "", *base ? prefix : "", base);
	return buf;
}

static uint16_t bswap16(uint16_t w)
{
	return (uint16_t)((w >> 8) | (w << 8));
}

/* The register's raw bits, most significant first, from wire words. */
static uint64_t words_to_bits(const struct gw_profile_reg *r,
			      const uint16_t *words)
{
	int n = gw_reg_type_words((enum gw_reg_type)r->type);
	int swap_words = r->order == GW_ORDER_CDAB || r->order == GW_ORDER_DCBA;
	int swap_bytes = r->order == GW_ORDER_BADC || r->order == GW_ORDER_DCBA;
	uint64_t v = 0;

	for (int i = 0; i < n; i++) {
		uint16_t w = words[swap_words ? n - 1 - i : i];
		v = (v << 16) | (swap_bytes ? bswap16(w) : w);
	}
	return v;
}

static void bits_to_words(const struct gw_profile_reg *r, uint64_t v,
			  uint16_t *words)
{
	int n = gw_reg_type_words((enum gw_reg_type)r->type);
	int swap_words = r->order == GW_ORDER_CDAB || r->order == GW_ORDER_DCBA;
	int swap_bytes = r->order == GW_ORDER_BADC || r->order == GW_ORDER_DCBA;

	for (int i = n - 1; i >= 0; i--) {
		uint16_t w = (uint16_t)(v & 0xFFFF);
		v >>= 16;
		words[swap_words ? n - 1 - i : i] = swap_bytes ? bswap16(w) : w;
	}
}

static int pow10_u64(int e, uint64_t *out)
{
	uint64_t v = 1;

	if (e < 0 || e > 19)
		return GW_EINVAL;
	for (int i = 0; i < e; i++)
		v *= 10;
	*out = v;
	return 0;
}

/* mag / d rounded half away from zero (for a magnitude: half up). */
static uint64_t div_round(uint64_t mag, uint64_t d)
{
	uint64_t q = mag / d, r = mag % d;

	if (r >= d - r)
		q++;
	return q;
}

/* Sets *out to the signed value neg ? -mag : mag, GW_EINVAL if it does not
 * fit an int64. */
static int to_i64(int neg, uint64_t mag, int64_t *out)
{
	if (neg) {
		if (mag > (uint64_t)INT64_MAX + 1)
			return GW_EINVAL;
		*out = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
	} else {
		if (mag > (uint64_t)INT64_MAX)
			return GW_EINVAL;
		*out = (int64_t)mag;
	}
	return 0;
}

/* mag * 10^e / div, rounded half away from zero, without overflow (e may be
 * negative). */
static int scale_mag(uint64_t mag, int e, uint64_t div, uint64_t *out)
{
	uint64_t p;

	if (e >= 0) {
		if (pow10_u64(e, &p) || __builtin_mul_overflow(mag, p, &mag))
			return GW_EINVAL;
	} else {
		if (pow10_u64(-e, &p) || __builtin_mul_overflow(div, p, &div))
			return GW_EINVAL;
	}
	*out = div_round(mag, div);
	return 0;
}

void gw_profile_range(const struct gw_profile_reg *r, double *min, double *max)
{
	double lim;

	/* Beyond what any meter can report (docs/profiles.md): a 9-digit MWh
	 * display is 1e15 Wh; the largest generating units are under 2 GW. */
	switch ((enum gw_unit)r->unit) {
	case GW_UNIT_WH:
	case GW_UNIT_VARH:
	case GW_UNIT_VAH: lim = 1e15; break;
	case GW_UNIT_W:
	case GW_UNIT_VAR:
	case GW_UNIT_VA: lim = 1e10; break;
	case GW_UNIT_V:
	case GW_UNIT_A: lim = 1e6; break;
	case GW_UNIT_HZ: lim = 1000; break;
	default: lim = HUGE_VAL; break;
	}
	*min = r->has_min ? r->min : r->unit == GW_UNIT_HZ ? 0 : -lim;
	*max = r->has_max ? r->max : lim;
}

/* Writes "why" for a refused value, if the caller wants it. */
static int bad(char *why, size_t cap, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int bad(char *why, size_t cap, const char *fmt, ...)
{
	va_list ap;

	if (why && cap) {
		va_start(ap, fmt);
		vsnprintf(why, cap, fmt, ap);
		va_end(ap);
	}
	return GW_EINVAL;
}

/* Refuses a decoded reading outside the register's range. */
static int check_range(const struct gw_profile_reg *r,
		       const struct gw_reading *out, char *why, size_t cap)
{
	double lo, hi, q = (double)out->value * pow(10.0, out->scale);

	gw_profile_range(r, &lo, &hi);
	if (q >= lo && q <= hi)
		return 0;
	char u[16];
	double f = pow(10.0, r->unit_exp10);
	gw_profile_unit_text(r, u, sizeof(u));
	if (q > hi)
		return bad(why, cap, "%.6g%s, above max %.6g%s", q / f, u, hi / f, u);
	return bad(why, cap, "%.6g%s, below min %.6g%s", q / f, u, lo / f, u);
}

/* The whole way of one raw value to a reading: sentinel, sign, float or
 * integer, scaling, the one rounding, the range. Longer than 80 lines
 * because each step works on the previous one's intermediate values
 * (magnitude, sign, exponent); kept together so that the rounding happens
 * once, in one place a reader can check. */
static int decode(const struct gw_profile_reg *r, const uint16_t *words,
		  struct gw_reading *out, char *why, size_t cap)
{
	uint64_t bits = words_to_bits(r, words);
	int e = r->exp10 + r->unit_exp10;
	int energy = gw_unit_is_energy((enum gw_unit)r->unit);
	int neg = 0;
	uint64_t mag;
	char u[16];

	if (r->has_na && bits == r->na)
		return GW_ENOTAVAIL;
	gw_strlcpy(out->obis, r->obis, sizeof(out->obis));
	out->unit = r->unit;
	out->status = GW_RS_OK;

	if (r->type == GW_T_FLOAT32 || r->type == GW_T_FLOAT64) {
		double f;
		const char *tn = r->type == GW_T_FLOAT32 ? "float32" : "float64";
		if (r->type == GW_T_FLOAT32) {
			uint32_t b32 = (uint32_t)bits;
			float f32;
			memcpy(&f32, &b32, sizeof(f32));
			f = f32;
		} else {
			memcpy(&f, &bits, sizeof(f));
		}
		if (isnan(f))
			return GW_ENOTAVAIL;
		if (isinf(f))
			return bad(why, cap, "%s %cinf", tn, f < 0 ? '-' : '+');
		/* Rounded once, here: energy to whole Wh, others to 1/1000. */
		/* Multiply or divide by an exact power of ten, so that 230.1
		 * V read as a float gives 230100 mV, not 230099.99... */
		int fe = energy ? e : e + 3;
		double x = fe >= 0 ? f * pow(10.0, fe) : f / pow(10.0, -fe);
		x /= (double)r->divisor;
		if (!isfinite(x) || fabs(x) >= 9.2e18)
			return bad(why, cap, "%s %.6g%s, beyond a 64-bit integer", tn,
				   f, gw_profile_unit_text(r, u, sizeof(u)));
		out->value = llround(x);
		out->scale = (int8_t)(energy ? 0 : -3);
		return check_range(r, out, why, cap);
	}

	switch (r->type) {
	case GW_T_INT16: {
		int64_t v = (int16_t)(uint16_t)bits;
		neg = v < 0;
		mag = neg ? (uint64_t)(-v) : (uint64_t)v;
		break;
	}
	case GW_T_INT32: {
		int64_t v = (int32_t)(uint32_t)bits;
		neg = v < 0;
		mag = neg ? (uint64_t)(-v) : (uint64_t)v;
		break;
	}
	case GW_T_INT64:
		neg = (int64_t)bits < 0;
		mag = neg ? (uint64_t)0 - bits : bits;
		break;
	default: /* unsigned */
		mag = bits;
		break;
	}

	uint64_t raw = mag;
	int rc;
	if (energy) {
		/* Exact Wh at scale 0: raw * 10^e / divisor. */
		out->scale = 0;
		rc = scale_mag(mag, e, r->divisor, &mag);
		if (rc == 0)
			rc = to_i64(neg, mag, &out->value);
	} else {
		rc = 0;
		if (r->divisor != 1) {
			/* Not a power of ten: three more decimals, rounded. */
			rc = scale_mag(mag, 3, r->divisor, &mag);
			e -= 3;
		}
		if (rc == 0 && (e < INT8_MIN || e > INT8_MAX))
			rc = GW_EINVAL;
		out->scale = (int8_t)e;
		if (rc == 0)
			rc = to_i64(neg, mag, &out->value);
	}
	if (rc)
		return bad(why, cap, "raw %s%" PRIu64 ", beyond a 64-bit integer once scaled",
			   neg ? "-" : "", raw);
	return check_range(r, out, why, cap);
}

int gw_profile_decode_why(const struct gw_profile_reg *r, const uint16_t *words,
			  struct gw_reading *out, char *why, size_t cap)
{
	if (why && cap)
		why[0] = '\0';
	return decode(r, words, out, why, cap);
}

int gw_profile_decode(const struct gw_profile_reg *r, const uint16_t *words,
		      struct gw_reading *out)
{
	return decode(r, words, out, NULL, 0);
}

int gw_profile_encode(const struct gw_profile_reg *r, int64_t value, int scale,
		      uint16_t *words)
{
	/* raw = value * 10^(scale - e) * divisor */
	int e = scale - r->exp10 - r->unit_exp10;
	uint64_t bits;

	if (r->type == GW_T_FLOAT32 || r->type == GW_T_FLOAT64) {
		long double x = (long double)value * powl(10.0L, e) *
				(long double)r->divisor;
		if (r->type == GW_T_FLOAT32) {
			float f = (float)x;
			uint32_t b32;
			if (!isfinite(f))
				return GW_EINVAL;
			memcpy(&b32, &f, sizeof(b32));
			bits = b32;
		} else {
			double d = (double)x;
			memcpy(&bits, &d, sizeof(bits));
		}
		bits_to_words(r, bits, words);
		return 0;
	}

	int neg = value < 0;
	uint64_t mag = neg ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	if (__builtin_mul_overflow(mag, (uint64_t)r->divisor, &mag))
		return GW_EINVAL;
	if (scale_mag(mag, e, 1, &mag))
		return GW_EINVAL;

	int64_t lo, hi;
	uint64_t umax;
	switch (r->type) {
	case GW_T_INT16: lo = INT16_MIN; hi = INT16_MAX; break;
	case GW_T_INT32: lo = INT32_MIN; hi = INT32_MAX; break;
	case GW_T_INT64: lo = INT64_MIN; hi = INT64_MAX; break;
	case GW_T_UINT16: umax = UINT16_MAX; goto unsig;
	case GW_T_UINT32: umax = UINT32_MAX; goto unsig;
	default: umax = UINT64_MAX; goto unsig;
	}
	int64_t sv;
	if (to_i64(neg, mag, &sv) || sv < lo || sv > hi)
		return GW_EINVAL;
	bits = (uint64_t)sv;
	bits &= gw_reg_type_words((enum gw_reg_type)r->type) == 4
			? UINT64_MAX
			: ((uint64_t)1 << (16 * gw_reg_type_words(
						   (enum gw_reg_type)r->type))) - 1;
	bits_to_words(r, bits, words);
	return 0;
unsig:
	if ((neg && mag != 0) || mag > umax)
		return GW_EINVAL;
	bits_to_words(r, mag, words);
	return 0;
}
