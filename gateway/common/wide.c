/* SPDX-License-Identifier: MIT */
/*
 * wide.c - exact 128-bit unsigned arithmetic without a 128-bit type
 * (wide.h): 64 x 64 -> 128 products from 32-bit halves, a 128 / 128
 * division by shift and subtract.
 */
#include <stddef.h>

#include "wide.h"

struct gw_u128 gw_u128_of(uint64_t v)
{
	struct gw_u128 r = { 0, v };

	return r;
}

struct gw_u128 gw_u128_mul64(uint64_t a, uint64_t b)
{
	uint64_t al = a & 0xFFFFFFFFu, ah = a >> 32;
	uint64_t bl = b & 0xFFFFFFFFu, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	/* the middle column: at most 3 * (2^32 - 1), no carry lost */
	uint64_t mid = (ll >> 32) + (lh & 0xFFFFFFFFu) + (hl & 0xFFFFFFFFu);
	struct gw_u128 r;

	r.lo = (mid << 32) | (ll & 0xFFFFFFFFu);
	r.hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
	return r;
}

struct gw_u128 gw_u128_mul(struct gw_u128 a, uint64_t b)
{
	struct gw_u128 r = gw_u128_mul64(a.lo, b);

	r.hi += a.hi * b; /* the part beyond 2^128 falls away */
	return r;
}

struct gw_u128 gw_u128_add(struct gw_u128 a, struct gw_u128 b)
{
	struct gw_u128 r;

	r.lo = a.lo + b.lo;
	r.hi = a.hi + b.hi + (r.lo < a.lo);
	return r;
}

int gw_u128_cmp(struct gw_u128 a, struct gw_u128 b)
{
	if (a.hi != b.hi)
		return a.hi < b.hi ? -1 : 1;
	return a.lo < b.lo ? -1 : a.lo > b.lo;
}

int gw_u128_is_zero(struct gw_u128 a)
{
	return a.hi == 0 && a.lo == 0;
}

struct gw_u128 gw_u128_divmod(struct gw_u128 n, struct gw_u128 d,
			      struct gw_u128 *rem)
{
	struct gw_u128 q = { 0, 0 }, r = { 0, 0 };

	if (gw_u128_is_zero(d)) {
		if (rem)
			*rem = n;
		return q;
	}
	if (n.hi == 0 && d.hi == 0) {
		q.lo = n.lo / d.lo;
		r.lo = n.lo % d.lo;
	} else {
		/* restoring division, one bit of n at a time, high first */
		for (int i = 127; i >= 0; i--) {
			uint64_t top = r.hi >> 63;
			uint64_t bit = i >= 64 ? (n.hi >> (i - 64)) & 1 : (n.lo >> i) & 1;

			r.hi = (r.hi << 1) | (r.lo >> 63);
			r.lo = (r.lo << 1) | bit;
			/* r < 2 d before the shift's carry: top set means r >= d */
			if (top || gw_u128_cmp(r, d) >= 0) {
				uint64_t borrow = r.lo < d.lo;

				r.lo -= d.lo;
				r.hi -= d.hi + borrow;
				if (i >= 64)
					q.hi |= UINT64_C(1) << (i - 64);
				else
					q.lo |= UINT64_C(1) << i;
			}
		}
	}
	if (rem)
		*rem = r;
	return q;
}

double gw_u128_to_double(struct gw_u128 a)
{
	return (double)a.hi * 18446744073709551616.0 + (double)a.lo;
}

/* |v| as a uint64 (exact also for INT64_MIN). */
static uint64_t mag(int64_t v)
{
	return v < 0 ? UINT64_C(0) - (uint64_t)v : (uint64_t)v;
}

/* v, or -v modulo 2^64 when neg, as an int64 (the value's own bits). */
static int64_t signed_of(uint64_t v, int neg)
{
	uint64_t u = neg ? UINT64_C(0) - v : v;

	/* not a plain cast: out of int64's range, a cast is not defined
	 * by C11; this is the two's complement reading of the bits */
	return u <= INT64_MAX ? (int64_t)u : -(int64_t)(UINT64_MAX - u) - 1;
}

int64_t gw_muldiv64(int64_t a, int64_t b, int64_t d)
{
	int neg = (a < 0) != (b < 0);
	struct gw_u128 p = gw_u128_mul64(mag(a), mag(b));
	struct gw_u128 q = gw_u128_divmod(p, gw_u128_of(mag(d)), NULL);

	if (d < 0)
		neg = !neg;
	if (gw_u128_is_zero(p))
		neg = 0;
	return signed_of(q.lo, neg);
}

int64_t gw_interp64(int64_t a, int64_t b, int64_t num, int64_t den)
{
	/* b - a as a sign and a magnitude below 2^64 */
	int neg = b < a;
	uint64_t diff = neg ? (uint64_t)a - (uint64_t)b : (uint64_t)b - (uint64_t)a;
	struct gw_u128 rem;
	struct gw_u128 p = gw_u128_mul64(diff, mag(num));
	struct gw_u128 q = gw_u128_divmod(p, gw_u128_of((uint64_t)den), &rem);

	if (num < 0)
		neg = !neg;
	/* rem < den <= INT64_MAX: 2 * rem fits */
	if (2 * rem.lo >= (uint64_t)den)
		q.lo++;
	uint64_t step = neg ? UINT64_C(0) - q.lo : q.lo;

	return signed_of((uint64_t)a + step, 0);
}
