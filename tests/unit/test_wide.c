/* SPDX-License-Identifier: MIT */
/*
 * test_wide.c - the portable 128-bit arithmetic of gateway/common/wide.c
 * against values worked out beforehand (Python's integers), on every
 * target, and, where the compiler has unsigned __int128 (amd64, arm64),
 * against it on many pseudo-random operands. On armhf, which has no
 * 128-bit type, the fixed values are the reference.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "wide.h"

static void assert_u128(struct gw_u128 got, struct gw_u128 want)
{
	if (got.hi != want.hi || got.lo != want.lo)
		fail_msg("got 0x%016llx%016llx, want 0x%016llx%016llx",
			 (unsigned long long)got.hi, (unsigned long long)got.lo,
			 (unsigned long long)want.hi, (unsigned long long)want.lo);
}

static void mul_extremes(void **state)
{
	struct gw_u128 want = { UINT64_C(0xFFFFFFFFFFFFFFFE), 1 };

	(void)state;
	assert_u128(gw_u128_mul64(UINT64_MAX, UINT64_MAX), want);
	assert_u128(gw_u128_mul64(0, UINT64_MAX), gw_u128_of(0));
	assert_u128(gw_u128_mul64(UINT64_C(1) << 32, UINT64_C(1) << 32),
		    (struct gw_u128){ 1, 0 });
	/* a 128-bit value times 64 bits wraps modulo 2^128 */
	assert_u128(gw_u128_mul((struct gw_u128){ UINT64_MAX, UINT64_MAX }, 2),
		    (struct gw_u128){ UINT64_MAX, UINT64_MAX - 1 });
	assert_u128(gw_u128_mul((struct gw_u128){ 3, 5 }, 7),
		    (struct gw_u128){ 21, 35 });
	/* the carry from lo into hi, and the wrap of hi */
	assert_u128(gw_u128_add(gw_u128_of(UINT64_MAX), gw_u128_of(1)),
		    (struct gw_u128){ 1, 0 });
	assert_u128(gw_u128_add((struct gw_u128){ UINT64_MAX, UINT64_MAX }, gw_u128_of(1)),
		    gw_u128_of(0));
	assert_int_equal(gw_u128_cmp((struct gw_u128){ 1, 0 }, gw_u128_of(UINT64_MAX)), 1);
	assert_int_equal(gw_u128_cmp(gw_u128_of(5), gw_u128_of(6)), -1);
	assert_int_equal(gw_u128_cmp(gw_u128_of(6), gw_u128_of(6)), 0);
	assert_true(gw_u128_is_zero(gw_u128_of(0)));
	assert_false(gw_u128_is_zero((struct gw_u128){ 1, 0 }));
	assert_true(gw_u128_to_double((struct gw_u128){ 1, 0 }) == 18446744073709551616.0);
	assert_true(gw_u128_to_double(gw_u128_of(12345)) == 12345.0);
}

#define U(h, l) { UINT64_C(h), UINT64_C(l) }
static const struct {
	struct gw_u128 n, d, q, r; /* n / d = q, remainder r */
} divs[] = {
	{ U(0xffffffffffffffff, 0xffffffffffffffff), U(0x0000000000000000, 0x0000000000000001),
	  U(0xffffffffffffffff, 0xffffffffffffffff), U(0x0000000000000000, 0x0000000000000000) },
	{ U(0xffffffffffffffff, 0xffffffffffffffff), U(0x0000000000000001, 0x0000000000000001),
	  U(0x0000000000000000, 0xffffffffffffffff), U(0x0000000000000000, 0x0000000000000000) },
	{ U(0x8000000000000000, 0x0000000000003039), U(0x0000001000000000, 0x0000000000000007),
	  U(0x0000000000000000, 0x0000000007ffffff), U(0x0000000fffffffff, 0xffffffffc8003040) },
	{ U(0x0000000027e41b32, 0x46bec9b16e398115), U(0x0000000000000000, 0x000000000036ee80),
	  U(0x00000000000000b9, 0xe7dd4eaf1f75f6aa), U(0x0000000000000000, 0x0000000000102015) },
	{ U(0x0000000000000001, 0x0000000000000000), U(0x0000000000000000, 0xffffffffffffffff),
	  U(0x0000000000000000, 0x0000000000000001), U(0x0000000000000000, 0x0000000000000001) },
	{ U(0x0000000000000000, 0x0000000000000005), U(0x0000000000000040, 0x0000000000000000),
	  U(0x0000000000000000, 0x0000000000000000), U(0x0000000000000000, 0x0000000000000005) },
	{ U(0xc000000000000000, 0x0000000000000000), U(0x4000000000000000, 0x0000000000000001),
	  U(0x0000000000000000, 0x0000000000000002), U(0x3fffffffffffffff, 0xfffffffffffffffe) },
	{ U(0x6513270e269e0d37, 0xf2a74de452e6b438), U(0x4497c815d23f0824, 0x128b2f330c5c7fd1),
	  U(0x0000000000000000, 0x0000000000000001), U(0x207b5ef8545f0513, 0xe01c1eb1468a3467) },
	{ U(0x0ed904759531985d, 0x5d9dc9f81818e811), U(0x000000061600a35a, 0x099950d836f675cd),
	  U(0x0000000000000000, 0x0000000002708e71), U(0x0000000358d62697, 0x0713334bfc473294) },
	{ U(0x1738f7d93d9c1724, 0x11e20b8f6b0d549b), U(0x00000009d3ac94af, 0x0f21ddb66cad4a27),
	  U(0x0000000000000000, 0x00000000025cf8c6), U(0x00000001890fcd2e, 0x747f6e54892c3271) },
	{ U(0xa170b33839263059, 0xf28c105d1fb17c23), U(0x49de82670fd630f1, 0xf29d0da9953f48f1),
	  U(0x0000000000000000, 0x0000000000000002), U(0x0db3ae6a1979ce76, 0x0d51f509f532ea41) },
	{ U(0xf9ebdacc0cb1e29c, 0x658cda1495e60af5), U(0x0000000000000000, 0x4740cb9f0becd7b1),
	  U(0x0000000000000003, 0x81ec78b27cfd4a40), U(0x0000000000000000, 0x3c9386423e69f4b5) },
};
#undef U

static void divmod_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(divs) / sizeof(divs[0]); i++) {
		struct gw_u128 r;
		struct gw_u128 q = gw_u128_divmod(divs[i].n, divs[i].d, &r);

		print_message("# division %zu\n", i);
		assert_u128(q, divs[i].q);
		assert_u128(r, divs[i].r);
		/* back: q * d + r == n, where d fits 64 bits */
		if (divs[i].d.hi == 0)
			assert_u128(gw_u128_add(gw_u128_mul(q, divs[i].d.lo), r), divs[i].n);
	}
	/* by 0: no trap, quotient 0, remainder n */
	struct gw_u128 r;
	assert_u128(gw_u128_divmod(gw_u128_of(9), gw_u128_of(0), &r), gw_u128_of(0));
	assert_u128(r, gw_u128_of(9));
}

static const struct {
	int64_t a, b, d, want;
} muldivs[] = {
	{ INT64_MAX, INT64_MAX, INT64_C(3600000), INT64_C(-7235719990625843531) },
	{ INT64_MIN, INT64_MAX, INT64_C(3600000), INT64_C(7235717428578055515) },
	{ INT64_MIN, INT64_MIN, INT64_MIN, INT64_MIN },
	{ INT64_C(120000), INT64_C(34560000000), INT64_C(3600000), INT64_C(1152000000) },
	{ INT64_C(-7), INT64_C(3), INT64_C(2), INT64_C(-10) },
	{ INT64_C(7), INT64_C(-3), INT64_C(2), INT64_C(-10) },
	{ INT64_C(-7), INT64_C(-3), INT64_C(-2), INT64_C(-10) },
	{ INT64_C(0), INT64_C(-5), INT64_C(3), INT64_C(0) },
	{ INT64_C(1099511627776), INT64_C(1099511627776), INT64_C(1048576), INT64_C(1152921504606846976) },
};

static void muldiv_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(muldivs) / sizeof(muldivs[0]); i++) {
		print_message("# muldiv %zu\n", i);
		assert_int_equal(gw_muldiv64(muldivs[i].a, muldivs[i].b, muldivs[i].d),
				 muldivs[i].want);
	}
}

static const struct {
	int64_t a, b, num, den, want;
} interps[] = {
	{ INT64_MIN, INT64_MAX, INT64_C(1), INT64_C(2), INT64_C(0) },
	{ INT64_MAX, INT64_MIN, INT64_C(1), INT64_C(2), INT64_C(-1) },
	{ INT64_MIN, INT64_MAX, INT64_C(86399999), INT64_C(86400000), INT64_C(9223371823350793472) },
	{ INT64_C(0), INT64_C(3), INT64_C(1), INT64_C(2), INT64_C(2) },
	{ INT64_C(0), INT64_C(-3), INT64_C(1), INT64_C(2), INT64_C(-2) },
	{ INT64_C(10), INT64_C(20), INT64_C(0), INT64_C(7), INT64_C(10) },
	{ INT64_C(10), INT64_C(20), INT64_C(7), INT64_C(7), INT64_C(20) },
	{ INT64_C(1000), INT64_C(1001), INT64_C(1), INT64_C(2), INT64_C(1001) },
	{ INT64_C(5), INT64_C(4), INT64_C(1), INT64_C(2), INT64_C(4) },
	{ INT64_C(123456789012), INT64_C(123456789999), INT64_C(299999), INT64_C(900000), INT64_C(123456789341) },
};

static void interp_values(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(interps) / sizeof(interps[0]); i++) {
		print_message("# interp %zu\n", i);
		assert_int_equal(gw_interp64(interps[i].a, interps[i].b, interps[i].num,
					     interps[i].den),
				 interps[i].want);
	}
}

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;
__extension__ typedef __int128 i128;

static uint64_t next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* a random value of a random width, so that small and wide operands
 * (the 64-bit fast path and the long division) both come up */
static uint64_t operand(uint64_t *s)
{
	unsigned w = (unsigned)(next(s) % 64) + 1;
	uint64_t v = next(s);

	return w == 64 ? v : v & ((UINT64_C(1) << w) - 1);
}

static struct gw_u128 from(u128 v)
{
	return (struct gw_u128){ (uint64_t)(v >> 64), (uint64_t)v };
}

static void against_int128(void **state)
{
	uint64_t s = UINT64_C(0x9E3779B97F4A7C15);

	(void)state;
	for (int i = 0; i < 200000; i++) {
		uint64_t a = operand(&s), b = operand(&s), c = operand(&s);
		u128 p = (u128)a * b;
		struct gw_u128 got = gw_u128_mul64(a, b);
		assert_u128(got, from(p));
		u128 n = p * (next(&s) % 4 ? 1 : (u128)operand(&s) + 1);
		u128 d = next(&s) % 2 ? (u128)(c | 1) : ((u128)operand(&s) << 64) | c;
		if (d == 0)
			d = 1;
		struct gw_u128 r;
		assert_u128(gw_u128_divmod(from(n), from(d), &r), from(n / d));
		assert_u128(r, from(n % d));
		assert_u128(gw_u128_mul(from(n), c), from(n * c));
		assert_int_equal(gw_u128_cmp(from(n), from(d)), n < d ? -1 : n > d);
		/* signed: muldiv and interp as the batching core had them */
		int64_t x = (int64_t)a, y = (int64_t)(next(&s) % 2 ? b : b >> 20);
		int64_t z = (int64_t)(c >> 1) | 1;
		if (next(&s) % 2)
			z = -z;
		assert_int_equal(gw_muldiv64(x, y, z), (int64_t)((i128)x * y / z));
		int64_t den = (int64_t)(c >> 1) + 1, num = (int64_t)(operand(&s) % (uint64_t)den);
		i128 dd = ((i128)y - x) * num;
		i128 q = dd / den, rr = dd % den;
		if (2 * (rr < 0 ? -rr : rr) >= den)
			q += dd < 0 ? -1 : 1;
		assert_int_equal(gw_interp64(x, y, num, den), (int64_t)(x + q));
	}
}
#endif

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mul_extremes),
		cmocka_unit_test(divmod_values),
		cmocka_unit_test(muldiv_values),
		cmocka_unit_test(interp_values),
#ifdef __SIZEOF_INT128__
		cmocka_unit_test(against_int128),
#endif
	};

#ifndef __SIZEOF_INT128__
	/* not a skipped test counted as passed: it is not there at all */
	print_message("# no 128-bit type on this target: the fixed values are the check\n");
#endif

	return cmocka_run_group_tests(tests, NULL, NULL);
}
