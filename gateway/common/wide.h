/* SPDX-License-Identifier: MIT */
/*
 * wide.h - exact 128-bit unsigned arithmetic in portable C, for the few
 * products of two 64-bit quantities the gateway must not round: a
 * register's change times a time span (interpolation at midnight, the
 * sharing of a load profile over a gap), power times a long gap.
 *
 * Why not unsigned __int128: 32-bit ARM (armhf) has no such type, and
 * the gateway runs there. One code path on every target, so that what the
 * host's tests check is what runs on the concentrator. These are used
 * once per midnight or gap, never per reading; the division is a plain
 * shift-and-subtract with a 64-bit fast path.
 *
 * All operations wrap modulo 2^128, as unsigned __int128 does.
 */
#ifndef GW_WIDE_H
#define GW_WIDE_H

#include <stdint.h>

/* An unsigned 128-bit value: hi * 2^64 + lo. */
struct gw_u128 {
	uint64_t hi;
	uint64_t lo;
};

/* The value v (hi 0). */
struct gw_u128 gw_u128_of(uint64_t v);

/* a * b, exact. */
struct gw_u128 gw_u128_mul64(uint64_t a, uint64_t b);

/* a * b modulo 2^128. */
struct gw_u128 gw_u128_mul(struct gw_u128 a, uint64_t b);

/* a + b modulo 2^128. */
struct gw_u128 gw_u128_add(struct gw_u128 a, struct gw_u128 b);

/* -1, 0 or 1 as a < b, a == b, a > b. */
int gw_u128_cmp(struct gw_u128 a, struct gw_u128 b);

/* Whether a is 0. */
int gw_u128_is_zero(struct gw_u128 a);

/* n / d (truncated); the remainder into *rem if rem is not NULL. d must
 * not be 0 (the result is then 0 and *rem n, not a trap). */
struct gw_u128 gw_u128_divmod(struct gw_u128 n, struct gw_u128 d,
			      struct gw_u128 *rem);

/* a as a double (to within one unit in the last place). */
double gw_u128_to_double(struct gw_u128 a);

/* a * b / d, the quotient truncated toward zero, computed exactly and
 * returned modulo 2^64 as the cast of a 128-bit result would (so exact
 * whenever the quotient fits an int64). d must not be 0. */
int64_t gw_muldiv64(int64_t a, int64_t b, int64_t d);

/* a + (b - a) * num / den, rounded to nearest with halves away from zero,
 * without overflow for any int64 a and b (b - a may not fit an int64).
 * den > 0; exact when the result lies between a and b (0 <= num <= den). */
int64_t gw_interp64(int64_t a, int64_t b, int64_t num, int64_t den);

#endif
