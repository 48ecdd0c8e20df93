/* SPDX-License-Identifier: MIT */
/*
 * test_time.c - UTC parsing, civil days, local days in zones with and
 * without daylight saving, and the anchored simulated clock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clock.h"
#include "gw.h"
#include "reading.h"
#include "tz.h"

static void utc_parse_format(void **state)
{
	int64_t ms;
	char buf[40];

	(void)state;
	assert_int_equal(gw_parse_utc("2026-03-01T00:00:00Z", &ms), 0);
	assert_int_equal(ms, 1772323200000LL);
	assert_int_equal(gw_parse_utc("2026-03-01T00:00:00.25Z", &ms), 0);
	assert_int_equal(ms, 1772323200250LL);
	assert_int_equal(gw_parse_utc("2026-03-01 00:00:01+00", &ms), 0);
	assert_int_equal(ms, 1772323201000LL);
	assert_int_equal(gw_parse_utc("2026-03-01", &ms), 0);
	assert_int_equal(ms, 1772323200000LL);
	assert_string_equal(gw_format_utc(1772323200250LL, buf, sizeof(buf)),
			    "2026-03-01T00:00:00.250Z");
	assert_int_equal(gw_parse_utc("2026-03-01T00:00:00", &ms), GW_EINVAL);
	assert_int_equal(gw_parse_utc("2026-13-01T00:00:00Z", &ms), GW_EINVAL);
	assert_int_equal(gw_parse_utc("2026-03-01T00:00:00+07", &ms), GW_EINVAL);
	assert_int_equal(gw_parse_utc("yesterday", &ms), GW_EINVAL);
}

static void civil_days(void **state)
{
	int y, m, d;
	int32_t day;
	char buf[16];

	(void)state;
	assert_int_equal(gw_day_from_ymd(1970, 1, 1), 0);
	assert_int_equal(gw_day_from_ymd(2000, 3, 1), 11017);
	for (int32_t z = -1000; z < 40000; z += 7) {
		gw_day_to_ymd(z, &y, &m, &d);
		assert_int_equal(gw_day_from_ymd(y, m, d), z);
	}
	assert_int_equal(gw_day_parse("2024-02-29", &day), 0);
	assert_string_equal(gw_day_format(day, buf, sizeof(buf)), "2024-02-29");
	assert_int_equal(gw_day_parse("2026-02-29", &day), GW_EINVAL);
	assert_int_equal(gw_day_parse("2026-2-1", &day), GW_EINVAL);
}

static void zone_validation(void **state)
{
	(void)state;
	assert_int_equal(gw_tz_set("Asia/Ho_Chi_Minh"), 0);
	assert_string_equal(gw_tz_name(), "Asia/Ho_Chi_Minh");
	assert_int_equal(gw_tz_set("Mars/Olympus_Mons"), GW_ENOTFOUND);
	assert_int_equal(gw_tz_set("../etc/passwd"), GW_EINVAL);
	assert_int_equal(gw_tz_set(""), GW_EINVAL);
	/* a failed set keeps the previous zone */
	assert_string_equal(gw_tz_name(), "Asia/Ho_Chi_Minh");
}

static void ho_chi_minh_days(void **state)
{
	int32_t day;

	(void)state;
	assert_int_equal(gw_tz_set("Asia/Ho_Chi_Minh"), 0);
	gw_day_parse("2026-03-01", &day);
	/* UTC+7: local midnight is 17:00 UTC the day before */
	assert_int_equal(gw_tz_day_start(day), 1772323200000LL - 7 * 3600000LL);
	assert_int_equal(gw_tz_day_of(1772323200000LL - 7 * 3600000LL), day);
	assert_int_equal(gw_tz_day_of(1772323200000LL - 7 * 3600000LL - 1), day - 1);
	assert_int_equal(gw_tz_day_start(day + 1) - gw_tz_day_start(day),
			 86400000LL);
}

static void dst_days_berlin_new_york(void **state)
{
	int32_t spring, autumn;

	(void)state;
	assert_int_equal(gw_tz_set("Europe/Berlin"), 0);
	gw_day_parse("2026-03-29", &spring);
	gw_day_parse("2026-10-25", &autumn);
	assert_int_equal(gw_tz_day_start(spring + 1) - gw_tz_day_start(spring),
			 23 * 3600000LL);
	assert_int_equal(gw_tz_day_start(autumn + 1) - gw_tz_day_start(autumn),
			 25 * 3600000LL);
	assert_int_equal(gw_tz_day_start(spring + 2) - gw_tz_day_start(spring + 1),
			 24 * 3600000LL);
	/* 2026-03-29 00:00 CET = 2026-03-28T23:00Z */
	int64_t ms;
	gw_parse_utc("2026-03-28T23:00:00Z", &ms);
	assert_int_equal(gw_tz_day_start(spring), ms);

	assert_int_equal(gw_tz_set("America/New_York"), 0);
	gw_day_parse("2026-03-08", &spring);
	gw_day_parse("2026-11-01", &autumn);
	assert_int_equal(gw_tz_day_start(spring + 1) - gw_tz_day_start(spring),
			 23 * 3600000LL);
	assert_int_equal(gw_tz_day_start(autumn + 1) - gw_tz_day_start(autumn),
			 25 * 3600000LL);
	/* every instant of a day maps back to that day */
	for (int64_t t = gw_tz_day_start(autumn); t < gw_tz_day_start(autumn + 1);
	     t += 60000)
		assert_int_equal(gw_tz_day_of(t), autumn);
}

static void simulated_clock(void **state)
{
	struct gw_clock a, b;
	int64_t anchor;

	(void)state;
	assert_int_equal(gw_clock_parse_anchor("1700000000.5", &anchor), 0);
	assert_int_equal(anchor, 1700000000500000LL);
	assert_int_equal(gw_clock_parse_anchor("1700000000.1234567", &anchor), 0);
	assert_int_equal(anchor, 1700000000123456LL);
	assert_int_equal(gw_clock_parse_anchor("17e8", &anchor), GW_EINVAL);
	assert_int_equal(gw_clock_parse_anchor("-5", &anchor), GW_EINVAL);
	assert_int_equal(gw_clock_init_sim(&a, 1, 0, 0), GW_EINVAL);
	assert_int_equal(gw_clock_init_sim(&a, 1, 0, GW_CLOCK_SPEED_MAX + 1),
			 GW_EINVAL);

	/* Two clocks with one anchor agree however late each was made. */
	int64_t now = gw_real_now_us();
	assert_int_equal(gw_clock_init_sim(&a, now - 2000000, 1772323200000LL,
					   1440), 0);
	assert_int_equal(gw_clock_init_sim(&b, now - 2000000, 1772323200000LL,
					   1440), 0);
	int64_t ta = gw_clock_now_ms(&a), tb = gw_clock_now_ms(&b);
	assert_true(tb - ta >= 0 && tb - ta < 1440 * 50); /* < 50 ms real apart */
	/* about 2 real seconds after the anchor: 2880 simulated seconds */
	assert_true(ta - 1772323200000LL >= 2880000 - 1440 * 50);
	assert_true(ta - 1772323200000LL <= 2880000 + 1440 * 1000);
	assert_int_equal(gw_clock_real_us(&a, 1440000), 1000000);

	/* the times a step's measure read (gw_clock_watch_times): the clock
	 * at the watch's wall time, its monotonic time on the clock's scale;
	 * and after a real measure, the times it read, not later ones */
	struct gw_clock_watch w = {.real_us = now - 2000000 + 1000000,
				   .mono_us = 5000000};
	int64_t wn, wm;
	gw_clock_watch_times(&a, &w, &wn, &wm);
	assert_int_equal(wn, 1772323200000LL + 1440000);
	assert_int_equal(wm, 5000000LL * 1440 / 1000);
	memset(&w, 0, sizeof(w));
	assert_int_equal(gw_clock_step_ms(&a, &w), 0);
	gw_clock_watch_times(&a, &w, &wn, &wm);
	int64_t after = gw_clock_now_ms(&a);
	assert_true(wn <= after && after - wn < 1440 * 1000);
	assert_int_equal(wn, 1772323200000LL + (w.real_us - (now - 2000000)) * 1440 / 1000);

	/* sleeping 1 simulated hour at 3600x takes about 1 real second */
	gw_clock_init_sim(&a, 0, 0, 36000);
	int64_t r0 = gw_real_now_us();
	assert_true(gw_clock_sleep_until(&a, 3600000, NULL));
	int64_t r1 = gw_real_now_us();
	assert_true(gw_clock_now_ms(&a) >= 3600000);
	assert_true(r1 - r0 >= 99000);
	/* command-line options, as gatewayd's simulators take them */
	fflush(stderr);
	int saved = dup(2), devnull = open("/dev/null", O_WRONLY);
	dup2(devnull, 2);
	assert_int_equal(gw_clock_from_options(&a, "t", NULL, NULL, "60"), GW_EINVAL);
	assert_int_equal(gw_clock_from_options(&a, "t", NULL, "yesterday", NULL), GW_EINVAL);
	assert_int_equal(gw_clock_from_options(&a, "t", "soon", "2026-03-01", NULL), GW_EINVAL);
	assert_int_equal(gw_clock_from_options(&a, "t", NULL, "2026-03-01", "5x"), GW_EINVAL);
	assert_int_equal(gw_clock_from_options(&a, "t", NULL, "2026-03-01", "0"), GW_EINVAL);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	assert_int_equal(gw_clock_from_options(&a, "t", "1700000000", "2026-03-01", "60"), 0);
	assert_true(a.simulated);
	assert_int_equal(a.anchor_us, 1700000000000000LL);
	assert_int_equal(a.start_ms, 1772323200000LL);
	assert_int_equal(a.speed, 60);
	atomic_int stop = 1;
	assert_false(gw_clock_sleep_until(&a, 1000000000LL, &stop));
}

/* --clock-anchor @FILE: the clock stands at its start, and its monotonic
 * scale with it, until FILE holds the anchor; then both run, in step. */
static void simulated_clock_anchor_file(void **state)
{
	char dir[] = "/tmp/gwclockXXXXXX", path[64], tmp[80], arg[80];
	struct gw_clock c;
	int64_t a;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/anchor", dir);
	snprintf(tmp, sizeof(tmp), "%s/anchor.tmp", dir);
	snprintf(arg, sizeof(arg), "@%s", path);
	assert_int_equal(gw_clock_parse_anchor("@", &a), GW_EINVAL);
	assert_int_equal(gw_clock_from_options(&c, "t", arg, "2026-03-01T00:00:00Z", "3600"), 0);
	assert_int_equal(c.anchor_us, GW_CLOCK_ANCHOR_LATER);
	int64_t m0 = gw_clock_mono_ms(&c);
	usleep(1000000); /* 1 s real = 1 simulated hour if it ran */
	assert_int_equal(gw_clock_now_ms(&c), 1772323200000LL);
	assert_int_equal(gw_clock_mono_ms(&c), m0);
	/* a file being written (not whole) is not taken */
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("17", f);
	fclose(f);
	unlink(path);
	assert_int_equal(gw_clock_now_ms(&c), 1772323200000LL);
	/* the anchor appears: both clocks run from the start, in step */
	int64_t anchor = gw_real_now_us();
	f = fopen(tmp, "w");
	assert_non_null(f);
	fprintf(f, "%lld.%06lld\n", (long long)(anchor / 1000000),
		(long long)(anchor % 1000000));
	fclose(f);
	assert_int_equal(rename(tmp, path), 0);
	usleep(20000);
	int64_t now = gw_clock_now_ms(&c), mono = gw_clock_mono_ms(&c);
	int64_t real_after = gw_real_now_us();
	assert_true(now > 1772323200000LL);
	/* no further than the real time since the anchor allows */
	assert_true(now <= 1772323200000LL + (real_after - anchor) * 3600 / 1000);
	/* the monotonic scale ran as far as the clock since the anchor, not
	 * since the clock began to stand a real second (3,600,000 simulated
	 * ms) before it; half of that is the bound, whatever the load */
	int64_t d = (mono - m0) - (now - 1772323200000LL);
	assert_true(d > -1800000 && d < 1800000);
	unlink(path);
	rmdir(dir);
}

static void decimals_and_units(void **state)
{
	char buf[48];
	enum gw_unit u;
	int e;

	(void)state;
	assert_string_equal(gw_format_decimal(12345, -3, buf, sizeof(buf)), "12.345");
	assert_string_equal(gw_format_decimal(-5, -3, buf, sizeof(buf)), "-0.005");
	assert_string_equal(gw_format_decimal(7, 2, buf, sizeof(buf)), "700");
	assert_string_equal(gw_format_decimal(INT64_MIN, 0, buf, sizeof(buf)),
			    "-9223372036854775808");
	/* the smallest scale an int8_t holds: no overflow, cut to the buffer */
	char big[200];
	gw_format_decimal(-1, -128, big, sizeof(big));
	assert_int_equal(strlen(big), 131);
	assert_string_equal(big + 128, "001");
	assert_string_equal(gw_format_decimal(1, -3, buf, 4), "0.0");
	assert_int_equal(gw_unit_parse("kWh", &u, &e), 0);
	assert_int_equal(u, GW_UNIT_WH);
	assert_int_equal(e, 3);
	assert_int_equal(gw_unit_parse("VAh", &u, &e), 0);
	assert_int_equal(u, GW_UNIT_VAH);
	assert_int_equal(e, 0);
	assert_int_equal(gw_unit_parse("kvarh", &u, &e), 0);
	assert_int_equal(u, GW_UNIT_VARH);
	assert_int_equal(gw_unit_parse("furlong", &u, &e), GW_EINVAL);
	assert_true(gw_unit_is_energy(GW_UNIT_WH));
	assert_false(gw_unit_is_energy(GW_UNIT_W));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(utc_parse_format),
		cmocka_unit_test(civil_days),
		cmocka_unit_test(zone_validation),
		cmocka_unit_test(ho_chi_minh_days),
		cmocka_unit_test(dst_days_berlin_new_york),
		cmocka_unit_test(simulated_clock),
		cmocka_unit_test(simulated_clock_anchor_file),
		cmocka_unit_test(decimals_and_units),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
