/* SPDX-License-Identifier: MIT */
/*
 * test_time64.c - times after 2038-01-19T03:14:07Z, where a 32-bit time_t
 * ends: the gateway works in int64 milliseconds, but converts to time_t
 * for the C library's calendar (gmtime_r, timegm, localtime_r, mktime).
 * On 32-bit ARM (armhf) the build asks glibc for a 64-bit time_t
 * (_TIME_BITS=64, Makefile); these checks fail there if it does not have
 * one. Run on the build host and under qemu-arm (make check-cross).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>

#include <cmocka.h>

#include "gw.h"
#include "iec_parse.h"
#include "tz.h"

static void types_are_64_bit(void **state)
{
	(void)state;
	assert_int_equal(sizeof(time_t), 8);
	assert_int_equal(sizeof(off_t), 8); /* journal and spool files > 2 GiB */
}

static void utc_after_2038(void **state)
{
	char buf[32];
	int64_t ms;

	(void)state;
	/* the first second a 32-bit time_t cannot hold */
	assert_string_equal(gw_format_utc(INT64_C(2147483648000), buf, sizeof(buf)),
			    "2038-01-19T03:14:08.000Z");
	assert_int_equal(gw_parse_utc("2038-01-19T03:14:08.000Z", &ms), 0);
	assert_int_equal(ms, INT64_C(2147483648000));
	/* and the last one it can, one millisecond before */
	assert_string_equal(gw_format_utc(INT64_C(2147483647999), buf, sizeof(buf)),
			    "2038-01-19T03:14:07.999Z");
	/* past the unsigned 32-bit end (2106) too */
	assert_int_equal(gw_parse_utc("2110-03-01T00:00:00.250Z", &ms), 0);
	assert_string_equal(gw_format_utc(ms, buf, sizeof(buf)), "2110-03-01T00:00:00.250Z");
	assert_int_equal(gw_parse_utc("2100-03-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, INT64_C(4107542400000));
}

static void local_days_after_2038(void **state)
{
	int32_t spring, autumn;

	(void)state;
	assert_int_equal(gw_tz_set("Europe/Berlin"), 0);
	assert_int_equal(gw_day_parse("2040-03-25", &spring), 0);
	assert_int_equal(gw_day_parse("2040-10-28", &autumn), 0);
	assert_int_equal(spring, 25651);
	/* 2040-03-25 00:00 CET = 2040-03-24T23:00Z; 23 and 25 hour days */
	assert_int_equal(gw_tz_day_start(spring), INT64_C(2216242800000));
	assert_int_equal(gw_tz_day_start(spring + 1), INT64_C(2216325600000));
	assert_int_equal(gw_tz_day_start(autumn), INT64_C(2234988000000));
	assert_int_equal(gw_tz_day_start(autumn + 1), INT64_C(2235078000000));
	assert_int_equal(gw_tz_day_of(INT64_C(2216242800000)), spring);
	assert_int_equal(gw_tz_day_of(INT64_C(2216242800000) - 1), spring - 1);
	assert_int_equal(gw_tz_day_of(INT64_C(2235078000000) - 1), autumn);
	assert_int_equal(gw_tz_set("UTC"), 0);
}

static void meter_clock_after_2038(void **state)
{
	int64_t ms;

	(void)state;
	assert_int_equal(gw_tz_set("Europe/Berlin"), 0);
	/* a meter's local 2040-03-25 03:00 (CEST, after the jump) */
	assert_int_equal(gw_iec_local_to_utc(2040, 3, 25, 3, 0, 0, -1, &ms), 0);
	assert_int_equal(ms, INT64_C(2216242800000) + 2 * 3600000);
	/* the hour that occurs twice, told apart by the season flag */
	int64_t summer, winter;
	assert_int_equal(gw_iec_local_to_utc(2040, 10, 28, 2, 30, 0, 1, &summer), 0);
	assert_int_equal(gw_iec_local_to_utc(2040, 10, 28, 2, 30, 0, 0, &winter), 0);
	assert_int_equal(winter - summer, 3600000);
	assert_int_equal(gw_tz_set("UTC"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(types_are_64_bit),
		cmocka_unit_test(utc_after_2038),
		cmocka_unit_test(local_days_after_2038),
		cmocka_unit_test(meter_clock_after_2038),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
