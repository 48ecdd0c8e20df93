/* SPDX-License-Identifier: MIT */
/*
 * test_profile.c - Modbus profiles: decoding every type and word order
 * against hand-computed wire words, scaling and rounding, "not available",
 * encode/decode round trips, float32 energy resolution, and loading profile
 * files (every shipped profile, and one broken file per kind of error).
 */
#include <glob.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "profile.h"

/* Test files live next to this source file; tests run from the top. */
#define FILES "tests/unit/files/profiles/"

static struct gw_profile_reg reg(enum gw_reg_type t, enum gw_word_order o,
				 const char *unit, int exp10, uint32_t divisor)
{
	struct gw_profile_reg r;
	enum gw_unit u;
	int ue;

	memset(&r, 0, sizeof(r));
	strcpy(r.obis, "1.8.0");
	r.function = 3;
	r.type = (uint8_t)t;
	r.order = (uint8_t)o;
	r.exp10 = (int8_t)exp10;
	r.divisor = divisor;
	assert_int_equal(gw_unit_parse(unit, &u, &ue), 0);
	r.unit = (uint8_t)u;
	r.unit_exp10 = (int8_t)ue;
	return r;
}

/* Takes away the register's range (as "min = none", "max = none" in a
 * file), to test the arithmetic up to the int64 limits. */
static void unbounded(struct gw_profile_reg *r)
{
	r->has_min = r->has_max = 1;
	r->min = -HUGE_VAL;
	r->max = HUGE_VAL;
}

/* Decodes words and checks value and scale. */
static void dec(const struct gw_profile_reg *r, const uint16_t *w,
		int64_t value, int scale)
{
	struct gw_reading rd;

	memset(&rd, 0, sizeof(rd));
	assert_int_equal(gw_profile_decode(r, w, &rd), 0);
	assert_int_equal(rd.value, value);
	assert_int_equal(rd.scale, scale);
	assert_int_equal(rd.unit, r->unit);
	assert_string_equal(rd.obis, r->obis);
}

static int dec_rc(const struct gw_profile_reg *r, const uint16_t *w)
{
	struct gw_reading rd;
	return gw_profile_decode(r, w, &rd);
}

static void test_type_words(void **state)
{
	(void)state;
	assert_int_equal(gw_reg_type_words(GW_T_INT16), 1);
	assert_int_equal(gw_reg_type_words(GW_T_UINT16), 1);
	assert_int_equal(gw_reg_type_words(GW_T_INT32), 2);
	assert_int_equal(gw_reg_type_words(GW_T_UINT32), 2);
	assert_int_equal(gw_reg_type_words(GW_T_FLOAT32), 2);
	assert_int_equal(gw_reg_type_words(GW_T_INT64), 4);
	assert_int_equal(gw_reg_type_words(GW_T_UINT64), 4);
	assert_int_equal(gw_reg_type_words(GW_T_FLOAT64), 4);
}

static void test_decode_16(void **state)
{
	(void)state;
	struct gw_profile_reg r = reg(GW_T_INT16, GW_ORDER_ABCD, "W", 0, 1);
	dec(&r, (uint16_t[]){ 0xFFFE }, -2, 0);
	r.order = GW_ORDER_CDAB; /* one word: no word swap */
	dec(&r, (uint16_t[]){ 0xFFFE }, -2, 0);
	r.order = GW_ORDER_BADC; /* bytes swapped */
	dec(&r, (uint16_t[]){ 0xFEFF }, -2, 0);
	r.order = GW_ORDER_DCBA;
	dec(&r, (uint16_t[]){ 0xFEFF }, -2, 0);

	r = reg(GW_T_UINT16, GW_ORDER_ABCD, "W", 0, 1);
	dec(&r, (uint16_t[]){ 0xC350 }, 50000, 0);
	r.order = GW_ORDER_BADC;
	dec(&r, (uint16_t[]){ 0x50C3 }, 50000, 0);
}

static void test_decode_32(void **state)
{
	(void)state;
	/* -123456 = 0xFFFE1DC0 */
	struct gw_profile_reg r = reg(GW_T_INT32, GW_ORDER_ABCD, "W", 0, 1);
	dec(&r, (uint16_t[]){ 0xFFFE, 0x1DC0 }, -123456, 0);
	r.order = GW_ORDER_CDAB;
	dec(&r, (uint16_t[]){ 0x1DC0, 0xFFFE }, -123456, 0);
	r.order = GW_ORDER_BADC;
	dec(&r, (uint16_t[]){ 0xFEFF, 0xC01D }, -123456, 0);
	r.order = GW_ORDER_DCBA;
	dec(&r, (uint16_t[]){ 0xC01D, 0xFEFF }, -123456, 0);

	/* 305419896 = 0x12345678 */
	r = reg(GW_T_UINT32, GW_ORDER_ABCD, "Wh", 0, 1);
	dec(&r, (uint16_t[]){ 0x1234, 0x5678 }, 305419896, 0);
	r.order = GW_ORDER_CDAB;
	dec(&r, (uint16_t[]){ 0x5678, 0x1234 }, 305419896, 0);
	r.order = GW_ORDER_BADC;
	dec(&r, (uint16_t[]){ 0x3412, 0x7856 }, 305419896, 0);
	r.order = GW_ORDER_DCBA;
	dec(&r, (uint16_t[]){ 0x7856, 0x3412 }, 305419896, 0);
	/* uint32 above INT32_MAX stays positive */
	dec(&r, (uint16_t[]){ 0xFFFF, 0xFFFF }, 4294967295LL, 0);
}

static void test_decode_64(void **state)
{
	(void)state;
	/* 0x0102030405060708 = 72623859790382856 */
	struct gw_profile_reg r = reg(GW_T_INT64, GW_ORDER_ABCD, "Wh", 0, 1);
	unbounded(&r);
	const int64_t v = 72623859790382856LL;
	dec(&r, (uint16_t[]){ 0x0102, 0x0304, 0x0506, 0x0708 }, v, 0);
	r.order = GW_ORDER_CDAB;
	dec(&r, (uint16_t[]){ 0x0708, 0x0506, 0x0304, 0x0102 }, v, 0);
	r.order = GW_ORDER_BADC;
	dec(&r, (uint16_t[]){ 0x0201, 0x0403, 0x0605, 0x0807 }, v, 0);
	r.order = GW_ORDER_DCBA;
	dec(&r, (uint16_t[]){ 0x0807, 0x0605, 0x0403, 0x0201 }, v, 0);
	/* -v = 0xFEFDFCFBFAF9F8F8 */
	r.order = GW_ORDER_ABCD;
	dec(&r, (uint16_t[]){ 0xFEFD, 0xFCFB, 0xFAF9, 0xF8F8 }, -v, 0);
	dec(&r, (uint16_t[]){ 0x8000, 0, 0, 0 }, INT64_MIN, 0);

	r = reg(GW_T_UINT64, GW_ORDER_ABCD, "Wh", 0, 1);
	unbounded(&r);
	dec(&r, (uint16_t[]){ 0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF }, INT64_MAX, 0);
	/* above INT64_MAX: does not fit a reading */
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE }),
			 GW_EINVAL);
	/* ... unless the scale brings it down: /100 Wh */
	r = reg(GW_T_UINT64, GW_ORDER_ABCD, "Wh", -2, 1);
	unbounded(&r);
	dec(&r, (uint16_t[]){ 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFE },
	    184467440737095516LL, 0); /* 18446744073709551614 / 100, rounded */
}

static void test_decode_float(void **state)
{
	(void)state;
	/* 230.5 = 0x43668000 -> 230500 mV (scale -3) */
	struct gw_profile_reg r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "V", 0, 1);
	dec(&r, (uint16_t[]){ 0x4366, 0x8000 }, 230500, -3);
	r.order = GW_ORDER_CDAB;
	dec(&r, (uint16_t[]){ 0x8000, 0x4366 }, 230500, -3);
	r.order = GW_ORDER_BADC;
	dec(&r, (uint16_t[]){ 0x6643, 0x0080 }, 230500, -3);
	r.order = GW_ORDER_DCBA;
	dec(&r, (uint16_t[]){ 0x0080, 0x6643 }, 230500, -3);
	/* 50.01 is 50.0099983... as a float32: rounded to 50.010 */
	r.order = GW_ORDER_ABCD;
	r.unit = GW_UNIT_HZ;
	dec(&r, (uint16_t[]){ 0x4248, 0x0A3D }, 50010, -3);
	/* -1.25 kW = 0xBFA00000 -> -1250000 mW */
	r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "kW", 0, 1);
	dec(&r, (uint16_t[]){ 0xBFA0, 0x0000 }, -1250000, -3);

	/* 1234.5678 kWh as float64 = 0x40934A456D5CFAAD -> 1234568 Wh */
	r = reg(GW_T_FLOAT64, GW_ORDER_ABCD, "kWh", 0, 1);
	dec(&r, (uint16_t[]){ 0x4093, 0x4A45, 0x6D5C, 0xFAAD }, 1234568, 0);
	r.order = GW_ORDER_CDAB;
	dec(&r, (uint16_t[]){ 0xFAAD, 0x6D5C, 0x4A45, 0x4093 }, 1234568, 0);
	r.order = GW_ORDER_BADC;
	dec(&r, (uint16_t[]){ 0x9340, 0x454A, 0x5C6D, 0xADFA }, 1234568, 0);
	r.order = GW_ORDER_DCBA;
	dec(&r, (uint16_t[]){ 0xADFA, 0x5C6D, 0x454A, 0x9340 }, 1234568, 0);

	/* Whole Wh, half away from zero: 2.5 Wh -> 3, -2.5 Wh -> -3 */
	r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "Wh", 0, 1);
	dec(&r, (uint16_t[]){ 0x4020, 0x0000 }, 3, 0);
	dec(&r, (uint16_t[]){ 0xC020, 0x0000 }, -3, 0);
	/* infinity does not fit */
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0x7F80, 0x0000 }), GW_EINVAL);
}

static void test_scale_rounding(void **state)
{
	(void)state;
	/* /100 kWh: 10 Wh per count */
	struct gw_profile_reg r = reg(GW_T_UINT32, GW_ORDER_ABCD, "kWh", -2, 1);
	dec(&r, (uint16_t[]){ 0x0001, 0xE240 }, 1234560, 0); /* raw 123456 */
	/* /1000 kWh: 1 Wh per count */
	r = reg(GW_T_UINT32, GW_ORDER_ABCD, "kWh", -3, 1);
	dec(&r, (uint16_t[]){ 0, 5 }, 5, 0);
	/* e-4 kWh = 0.1 Wh per count: rounded half away from zero */
	r = reg(GW_T_INT32, GW_ORDER_ABCD, "kWh", -4, 1);
	dec(&r, (uint16_t[]){ 0, 15 }, 2, 0);
	dec(&r, (uint16_t[]){ 0, 14 }, 1, 0);
	dec(&r, (uint16_t[]){ 0xFFFF, 0xFFF1 }, -2, 0); /* -15 */
	dec(&r, (uint16_t[]){ 0xFFFF, 0xFFF2 }, -1, 0); /* -14 */
	/* a divisor that is not a power of ten, on energy */
	r = reg(GW_T_UINT16, GW_ORDER_ABCD, "Wh", 0, 3);
	dec(&r, (uint16_t[]){ 10 }, 3, 0);
	dec(&r, (uint16_t[]){ 11 }, 4, 0);
	/* MWh e0: 10^6 Wh per count */
	r = reg(GW_T_UINT16, GW_ORDER_ABCD, "MWh", 0, 1);
	dec(&r, (uint16_t[]){ 7 }, 7000000, 0);
	/* too big for an int64 after scaling */
	r = reg(GW_T_UINT64, GW_ORDER_ABCD, "MWh", 3, 1);
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0x7FFF, 0, 0, 0 }), GW_EINVAL);

	/* non-energy: exact decimal, scale = exp10 + unit prefix */
	r = reg(GW_T_UINT16, GW_ORDER_ABCD, "V", -2, 1);
	dec(&r, (uint16_t[]){ 23012 }, 23012, -2);
	r = reg(GW_T_INT16, GW_ORDER_ABCD, "kW", -1, 1);
	dec(&r, (uint16_t[]){ 12 }, 12, 2); /* 1.2 kW = 1200 W */
	r = reg(GW_T_UINT16, GW_ORDER_ABCD, "W", 3, 1);
	dec(&r, (uint16_t[]){ 5 }, 5, 3);
	/* divisor 3: three more decimals, rounded */
	r = reg(GW_T_INT16, GW_ORDER_ABCD, "V", 0, 3);
	dec(&r, (uint16_t[]){ 10 }, 3333, -3);
	dec(&r, (uint16_t[]){ 2 }, 667, -3);
	dec(&r, (uint16_t[]){ 0xFFFE }, -667, -3);
	/* float and exp10: 230.5 with e-1 -> 23.05 V */
	r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "V", -1, 1);
	dec(&r, (uint16_t[]){ 0x4366, 0x8000 }, 23050, -3);
	/* float energy and divisor 4: 10 kWh / 4 = 2500 Wh */
	r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "kWh", 0, 4);
	dec(&r, (uint16_t[]){ 0x4120, 0x0000 }, 2500, 0);
}

static void test_not_available(void **state)
{
	(void)state;
	struct gw_profile_reg r = reg(GW_T_UINT64, GW_ORDER_ABCD, "kWh", -2, 1);
	r.has_na = 1;
	r.na = UINT64_MAX;
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF }),
			 GW_ENOTAVAIL);
	dec(&r, (uint16_t[]){ 0, 0, 0, 5 }, 50, 0);

	/* compared on raw bits, after the word order */
	r = reg(GW_T_INT32, GW_ORDER_CDAB, "W", -2, 1);
	r.has_na = 1;
	r.na = 0x7FFFFFFF;
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0xFFFF, 0x7FFF }), GW_ENOTAVAIL);
	dec(&r, (uint16_t[]){ 0x7FFF, 0xFFFF }, -32769, -2); /* 0xFFFF7FFF */

	/* NaN, quiet or signalling, either sign, is "not available" */
	r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "V", 0, 1);
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0x7FC0, 0x0000 }), GW_ENOTAVAIL);
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0xFFC0, 0x0001 }), GW_ENOTAVAIL);
	r = reg(GW_T_FLOAT64, GW_ORDER_ABCD, "kWh", 0, 1);
	assert_int_equal(dec_rc(&r, (uint16_t[]){ 0x7FF8, 0, 0, 1 }), GW_ENOTAVAIL);
}

/* Decodes words expecting a refused value; checks the reason given. */
static void bad_value(const struct gw_profile_reg *r, const uint16_t *w,
		      const char *why)
{
	struct gw_reading rd;
	char got[96];

	memset(got, 'x', sizeof(got));
	assert_int_equal(gw_profile_decode_why(r, w, &rd, got, sizeof(got)),
			 GW_EINVAL);
	assert_string_equal(got, why);
	assert_int_equal(gw_profile_decode(r, w, &rd), GW_EINVAL);
}

/* Values that cannot be true: infinities, beyond the int64 limits, beyond
 * the register's range (its own or its unit's default). */
static void test_bad_values(void **state)
{
	(void)state;
	struct gw_profile_reg r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "kWh", 0, 1);
	char why[64];
	struct gw_reading rd;

	bad_value(&r, (uint16_t[]){ 0x7F80, 0x0000 }, "float32 +inf");
	bad_value(&r, (uint16_t[]){ 0xFF80, 0x0000 }, "float32 -inf");
	/* the largest float32, 3.4e38 kWh */
	bad_value(&r, (uint16_t[]){ 0x7F7F, 0xFFFF },
		  "float32 3.40282e+38 kWh, beyond a 64-bit integer");
	/* 1e13 kWh = 1e16 Wh: fits an int64, beyond the energy default of
	 * 1e15 Wh (1e12 kWh) */
	bad_value(&r, (uint16_t[]){ 0x5511, 0x84E7 }, "1e+13 kWh, above max 1e+12 kWh");
	dec(&r, (uint16_t[]){ 0x5368, 0xD4A5 }, 999999995904000LL, 0); /* ~1e12 kWh */
	/* a NaN stays "not available", with no reason */
	strcpy(why, "old");
	assert_int_equal(gw_profile_decode_why(&r, (uint16_t[]){ 0x7FC0, 0 }, &rd,
					       why, sizeof(why)),
			 GW_ENOTAVAIL);
	assert_string_equal(why, "");
	r = reg(GW_T_FLOAT64, GW_ORDER_ABCD, "W", 0, 1);
	bad_value(&r, (uint16_t[]){ 0xFFF0, 0, 0, 0 }, "float64 -inf");

	/* integers beyond int64 once scaled */
	r = reg(GW_T_UINT64, GW_ORDER_ABCD, "MWh", 3, 1);
	bad_value(&r, (uint16_t[]){ 0x7FFF, 0, 0, 0 },
		  "raw 9223090561878065152, beyond a 64-bit integer once scaled");
	r = reg(GW_T_INT64, GW_ORDER_ABCD, "kWh", 0, 1);
	bad_value(&r, (uint16_t[]){ 0x8000, 0, 0, 0 },
		  "raw -9223372036854775808, beyond a 64-bit integer once scaled");

	/* defaults per unit: voltage +-1e6 V, frequency 0..1000 Hz,
	 * current +-1e6 A, power +-1e10 W; none without a unit */
	r = reg(GW_T_UINT32, GW_ORDER_ABCD, "V", 0, 1);
	dec(&r, (uint16_t[]){ 0x000F, 0x4240 }, 1000000, 0);
	bad_value(&r, (uint16_t[]){ 0x000F, 0x4241 }, "1e+06 V, above max 1e+06 V");
	r = reg(GW_T_INT16, GW_ORDER_ABCD, "Hz", -2, 1);
	bad_value(&r, (uint16_t[]){ 0xFFFF }, "-0.01 Hz, below min 0 Hz");
	dec(&r, (uint16_t[]){ 5000 }, 5000, -2);
	r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "kA", 0, 1);
	bad_value(&r, (uint16_t[]){ 0x4E6E, 0x6B28 }, "1e+09 kA, above max 1000 kA");
	r = reg(GW_T_INT64, GW_ORDER_ABCD, "kW", 0, 1);
	bad_value(&r, (uint16_t[]){ 0xFFFF, 0xFFFF, 0x0000, 0x0000 },
		  "-4.29497e+09 kW, below min -1e+07 kW");
	r = reg(GW_T_UINT64, GW_ORDER_ABCD, "-", 0, 1);
	dec(&r, (uint16_t[]){ 0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF }, INT64_MAX, 0);

	/* a range of its own, in the base unit here (a file's kWh bounds
	 * are converted on load) */
	r = reg(GW_T_INT16, GW_ORDER_ABCD, "-", -3, 1);
	r.has_min = r.has_max = 1;
	r.min = -1;
	r.max = 1;
	dec(&r, (uint16_t[]){ 1000 }, 1000, -3);
	dec(&r, (uint16_t[]){ 0xFC18 }, -1000, -3);
	bad_value(&r, (uint16_t[]){ 1001 }, "1.001, above max 1");
	bad_value(&r, (uint16_t[]){ 0xFC17 }, "-1.001, below min -1");
	/* no room for the reason: still refused */
	assert_int_equal(gw_profile_decode_why(&r, (uint16_t[]){ 1001 }, &rd, why, 1),
			 GW_EINVAL);
	assert_string_equal(why, "");
}

static void test_load_range(void **state)
{
	(void)state;
	struct gw_profile *p = NULL;
	double lo, hi;

	assert_int_equal(gw_profile_load(FILES "good_range.prof", &p), 0);
	assert_int_equal(p->n_regs, 4);
	/* sorted by address: 1.8.0, 32.7.0, 13.7.0, 16.7.0 */
	gw_profile_range(&p->regs[0], &lo, &hi);
	assert_true(lo == 0 && hi == 1e12); /* 1e9 kWh in Wh */
	gw_profile_range(&p->regs[1], &lo, &hi);
	assert_true(lo == -1e6 && hi == 500); /* default min, 0.5 kV */
	gw_profile_range(&p->regs[2], &lo, &hi);
	assert_true(lo == -1 && hi == 1);
	gw_profile_range(&p->regs[3], &lo, &hi);
	assert_true(isinf(lo) && lo < 0 && isinf(hi) && hi > 0);
	/* 600 V = 0.6 kV is above 0.5 kV */
	uint16_t w[2];
	struct gw_reading rd;
	char why[64];
	assert_int_equal(gw_profile_encode(&p->regs[1], 600, 0, w), 0);
	assert_int_equal(gw_profile_decode_why(&p->regs[1], w, &rd, why, sizeof(why)),
			 GW_EINVAL);
	assert_string_equal(why, "0.6 kV, above max 0.5 kV");
	/* 20 GW, beyond the default, with "none" */
	/* 2e9 W: within "none" (and the default) */
	assert_int_equal(gw_profile_encode(&p->regs[3], 2000000000LL, 0, w), 0);
	assert_int_equal(gw_profile_decode(&p->regs[3], w, &rd), 0);
	gw_profile_free(p);

	/* the same file from memory */
	FILE *f = fopen(FILES "good_range.prof", "r");
	char buf[4096];
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_int_equal(gw_profile_parse_buffer("mem/good.prof", buf, n, &p), 0);
	assert_string_equal(p->name, "range");
	assert_int_equal(p->n_regs, 4);
	gw_profile_free(p);
	/* an empty buffer: no [profile], no registers */
	p = (struct gw_profile *)1;
	assert_int_equal(gw_profile_parse_buffer("mem/empty.prof", NULL, 0, &p),
			 GW_ECONFIG);
	assert_null(p);
}

/* Encodes value*10^scale and decodes it again. */
static void roundtrip(const struct gw_profile_reg *r, int64_t value, int scale,
		      int64_t want, int want_scale)
{
	uint16_t w[4] = { 0 };
	assert_int_equal(gw_profile_encode(r, value, scale, w), 0);
	dec(r, w, want, want_scale);
}

static void test_roundtrip(void **state)
{
	(void)state;
	static const enum gw_reg_type types[] = {
		GW_T_INT16, GW_T_UINT16, GW_T_INT32,   GW_T_UINT32,
		GW_T_INT64, GW_T_UINT64, GW_T_FLOAT32, GW_T_FLOAT64,
	};
	for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
		for (int o = GW_ORDER_ABCD; o <= GW_ORDER_DCBA; o++) {
			struct gw_profile_reg r =
				reg(types[t], (enum gw_word_order)o, "Wh", 0, 1);
			roundtrip(&r, 12345, 0, 12345, 0);
			roundtrip(&r, 0, 0, 0, 0);
			int is_float = types[t] == GW_T_FLOAT32 ||
				       types[t] == GW_T_FLOAT64;
			/* /100 kWh: integers to 10 Wh resolution (the
			 * meter's), floats keep the fraction */
			r = reg(types[t], (enum gw_word_order)o, "kWh", -2, 1);
			roundtrip(&r, 12340, 0, 12340, 0);
			roundtrip(&r, 12345, 0, is_float ? 12345 : 12350, 0);
			/* voltage /10 V, given in 0.1 V */
			r = reg(types[t], (enum gw_word_order)o, "V", -1, 1);
			roundtrip(&r, 2301, -1, is_float ? 230100 : 2301,
				  is_float ? -3 : -1);
		}
	}
	/* large energy through int64 and uint64 ABCD */
	struct gw_profile_reg r = reg(GW_T_UINT64, GW_ORDER_ABCD, "kWh", -2, 1);
	roundtrip(&r, 987654321098760LL, 0, 987654321098760LL, 0);
	r = reg(GW_T_INT64, GW_ORDER_DCBA, "Wh", 0, 1);
	roundtrip(&r, -987654321098765LL, 0, -987654321098765LL, 0);

	/* what does not fit */
	uint16_t w[4];
	r = reg(GW_T_UINT16, GW_ORDER_ABCD, "Wh", 0, 1);
	assert_int_equal(gw_profile_encode(&r, 65536, 0, w), GW_EINVAL);
	assert_int_equal(gw_profile_encode(&r, -1, 0, w), GW_EINVAL);
	r = reg(GW_T_INT16, GW_ORDER_ABCD, "W", 0, 1);
	assert_int_equal(gw_profile_encode(&r, 32768, 0, w), GW_EINVAL);
	assert_int_equal(gw_profile_encode(&r, -32768, 0, w), 0);
	assert_int_equal(w[0], 0x8000);
	r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "Wh", 0, 1);
	assert_int_equal(gw_profile_encode(&r, INT64_MAX, 30, w), GW_EINVAL);
}

/* A float32 kWh register (Eastron style) can only hold 24 bits of
 * mantissa: at 1,000,000 kWh one step is 0.0625 kWh = 62.5 Wh, so a reading
 * is off by up to 31.25 Wh. Integer registers have no such error. */
static void test_float32_resolution(void **state)
{
	(void)state;
	struct gw_profile_reg r = reg(GW_T_FLOAT32, GW_ORDER_ABCD, "kWh", 0, 1);
	struct gw_reading rd;
	uint16_t w[2];
	int64_t worst = 0;

	/* 1,000,000.030 kWh */
	assert_int_equal(gw_profile_encode(&r, 1000000030LL, 0, w), 0);
	assert_int_equal(gw_profile_decode(&r, w, &rd), 0);
	assert_int_equal(rd.value, 1000000000LL); /* 30 Wh lost */
	for (int64_t wh = 1000000000LL; wh < 1000000000LL + 200; wh++) {
		assert_int_equal(gw_profile_encode(&r, wh, 0, w), 0);
		assert_int_equal(gw_profile_decode(&r, w, &rd), 0);
		int64_t err = llabs(rd.value - wh);
		if (err > worst)
			worst = err;
	}
	printf("# float32 kWh at 1e6 kWh: worst error %lld Wh (step 62.5 Wh)\n",
	       (long long)worst);
	assert_true(worst >= 31 && worst <= 32);
	/* At 1,000 kWh the step is 0.061 Wh: exact to the Wh. */
	assert_int_equal(gw_profile_encode(&r, 1000123LL, 0, w), 0);
	assert_int_equal(gw_profile_decode(&r, w, &rd), 0);
	assert_int_equal(rd.value, 1000123LL);
}

/* Loads path with stderr captured into msg. */
static int load_capture(const char *path, struct gw_profile **p, char *msg,
			size_t cap)
{
	char tmpl[] = "/tmp/test_profile.XXXXXX";
	int fd = mkstemp(tmpl);
	int saved = dup(2);
	int rc;

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	rc = gw_profile_load(path, p);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	lseek(fd, 0, SEEK_SET);
	ssize_t n = read(fd, msg, cap - 1);
	msg[n > 0 ? n : 0] = '\0';
	close(fd);
	unlink(tmpl);
	return rc;
}

static void test_load_minimal(void **state)
{
	(void)state;
	struct gw_profile *p = NULL;

	assert_int_equal(gw_profile_load(FILES "good_minimal.prof", &p), 0);
	assert_non_null(p);
	assert_string_equal(p->name, "minimal");
	assert_int_equal(p->max_registers, 100);
	assert_int_equal(p->n_regs, 1);
	assert_string_equal(p->regs[0].obis, "1.8.0"); /* normalised */
	assert_int_equal(p->regs[0].function, 4);
	assert_int_equal(p->regs[0].order, GW_ORDER_ABCD);
	assert_int_equal(p->regs[0].exp10, 0);
	assert_int_equal(p->regs[0].divisor, 1);
	assert_int_equal(p->regs[0].unit, GW_UNIT_WH);
	assert_int_equal(p->regs[0].has_na, 0);
	assert_int_equal(p->regs[0].line, 5);
	gw_profile_free(p);

	assert_int_equal(gw_profile_load_named("tests/unit/files/profiles",
					       "no_such_profile", &p),
			 GW_ENOTFOUND);
	assert_null(p);
	gw_profile_free(NULL);
}

static void test_load_errors(void **state)
{
	(void)state;
	static const struct {
		const char *file;
		int line;
		const char *words;
	} cases[] = {
		{ "bad_unknown_key.prof", 9, "unknown key 'adress'" },
		{ "bad_type.prof", 7, "type: 'uint24'" },
		{ "missing_address.prof", 5, "missing required key 'address'" },
		{ "bad_order.prof", 9, "order: 'BACD'" },
		{ "bad_na.prof", 9, "na: '0x1FFFF'" },
		{ "bad_overlap.prof", 11, "overlaps register 1.8.0" },
		{ "bad_scale.prof", 8, "scale: '0.01'" },
		{ "bad_duplicate.prof", 11, "already defined at line 5" },
		{ "bad_range.prof", 10, "max: 'inf' is not a number" },
		{ "bad_range_order.prof", 5,
		  "min 2e+12 kWh is not below max 1e+12 kWh (the unit's default" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[256], msg[2048], want[300];
		struct gw_profile *p = (struct gw_profile *)1;
		snprintf(path, sizeof(path), FILES "%s", cases[i].file);
		assert_int_equal(load_capture(path, &p, msg, sizeof(msg)),
				 GW_ECONFIG);
		assert_null(p);
		snprintf(want, sizeof(want), "%s:%d: ", path, cases[i].line);
		if (!strstr(msg, want) || !strstr(msg, cases[i].words)) {
			print_error("%s: got '%s', want '%s...%s'\n", cases[i].file,
				    msg, want, cases[i].words);
			fail();
		}
	}
	struct gw_profile *p = NULL;
	char msg[512];
	assert_int_equal(load_capture(FILES "does_not_exist.prof", &p, msg,
				      sizeof(msg)),
			 GW_EIO);
}

/* A refused section header is one error; the keys under it are skipped,
 * not taken for the register before it (which would give "duplicate key"
 * errors, or quietly complete that register). */
static void test_load_refused_section(void **state)
{
	(void)state;
	struct gw_profile *p = (struct gw_profile *)1;
	char msg[2048];
	const char *path = FILES "bad_sections.prof";

	assert_int_equal(load_capture(path, &p, msg, sizeof(msg)), GW_ECONFIG);
	assert_null(p);
	int lines = 0;
	for (const char *c = msg; *c; c++)
		lines += *c == '\n';
	char want[512];
	snprintf(want, sizeof(want),
		 "%s:6: [register 1.8.0]: missing required key 'type'\n"
		 "%s:6: [register 1.8.0]: missing required key 'unit'\n",
		 path, path);
	if (lines != 4 || !strstr(msg, ":9: [register 1.8.0]: register 1.8.0 is already defined at line 6\n") ||
	    !strstr(msg, ":15: [register 1.8.x]: '1.8.x' is not an OBIS code") ||
	    !strstr(msg, want)) {
		print_error("got:\n%s", msg);
		fail();
	}
}

static void test_shipped_profiles(void **state)
{
	(void)state;
	glob_t g;

	assert_int_equal(glob("profiles/*.prof", 0, NULL, &g), 0);
	assert_true(g.gl_pathc >= 2);
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct gw_profile *p = NULL;
		int rc = gw_profile_load(g.gl_pathv[i], &p);
		if (rc) {
			print_error("%s: %s\n", g.gl_pathv[i], gw_strerror(rc));
			fail();
		}
		assert_true(p->n_regs > 0);
		/* the file's name is the profile's name */
		char want[GW_PATH_MAX];
		snprintf(want, sizeof(want), "profiles/%s.prof", p->name);
		assert_string_equal(want, g.gl_pathv[i]);
		/* sorted by function, then address */
		for (int k = 1; k < p->n_regs; k++)
			assert_true(p->regs[k - 1].function < p->regs[k].function ||
				    (p->regs[k - 1].function == p->regs[k].function &&
				     p->regs[k - 1].address < p->regs[k].address));
		gw_profile_free(p);
	}
	globfree(&g);

	/* The ABB map the end-to-end test relies on. */
	struct gw_profile *p = NULL;
	assert_int_equal(gw_profile_load_named("profiles", "abb_b23", &p), 0);
	const struct gw_profile_reg *r = NULL;
	for (int k = 0; k < p->n_regs; k++)
		if (strcmp(p->regs[k].obis, "1.8.0") == 0)
			r = &p->regs[k];
	assert_non_null(r);
	assert_int_equal(r->address, 0x5000);
	assert_int_equal(r->function, 3);
	assert_int_equal(r->type, GW_T_UINT64);
	assert_int_equal(r->exp10, -2);
	assert_int_equal(r->unit_exp10, 3);
	assert_true(r->has_na && r->na == UINT64_MAX);
	gw_profile_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_type_words),
		cmocka_unit_test(test_decode_16),
		cmocka_unit_test(test_decode_32),
		cmocka_unit_test(test_decode_64),
		cmocka_unit_test(test_decode_float),
		cmocka_unit_test(test_scale_rounding),
		cmocka_unit_test(test_not_available),
		cmocka_unit_test(test_bad_values),
		cmocka_unit_test(test_load_range),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_float32_resolution),
		cmocka_unit_test(test_load_minimal),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_refused_section),
		cmocka_unit_test(test_shipped_profiles),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
