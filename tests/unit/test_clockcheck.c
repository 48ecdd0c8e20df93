/* SPDX-License-Identifier: MIT */
/*
 * test_clockcheck.c - whether the gateway believes its clock
 * (clockcheck.h): the start against the spool's past (a bad RTC, a gateway
 * that was off for a week, a spool a wrong clock moved forward), steps at
 * run time, the meters', the database's and the operator's word, the
 * sealing time and what is withheld while held, and the table that sets
 * aside readings after the clock stepped back (clockmarks.h: by name and
 * by number, across a new configuration). Also the state file that keeps
 * what the gateway saw.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "clockcheck.h"
#include "clockmarks.h"
#include "config.h"
#include "gw.h"
#include "spool.h"
#include "tz.h"

#define MIN (60 * INT64_C(1000))
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)
#define JUMP (2 * HOUR)
/* 2026-03-01T00:00:00Z */
#define T0 INT64_C(1772323200000)

static struct gw_clockcheck cc;

static void start(int64_t now, int64_t seen, int64_t lo, int64_t hi,
		  enum gw_clock_change want)
{
	struct gw_clock_past past = {.seen_ms = seen, .sealed_lo_ms = lo,
				     .sealed_hi_ms = hi};
	gw_clockcheck_init(&cc, JUMP);
	assert_int_equal(gw_clockcheck_start(&cc, now, 0, &past), want);
}

static void fresh_gateway_trusts_any_clock(void **state)
{
	(void)state;
	start(T0 + 300 * DAY, 0, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	assert_true(cc.fresh);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, T0 + 300 * DAY, 0), T0 + 300 * DAY);
	assert_int_equal(gw_clockcheck_withhold(&cc, T0, 0, T0 + 400 * DAY), 0);
	assert_int_equal(gw_clockcheck_needs_rewind(&cc, T0), 0);
}

static void restart_within_max_jump_is_trusted(void **state)
{
	(void)state;
	/* seen an hour ago; a step back of an hour (NTP) as well */
	start(T0 + HOUR, T0, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	assert_false(cc.fresh);
	start(T0 - HOUR, T0, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	/* no "seen" (a spool of the version before): the first open day says
	 * the clock was past its start + seal_delay, and would have sealed it
	 * by its end + seal_delay */
	int64_t lo = T0 + 30 * MIN, hi = T0 + DAY + 30 * MIN;
	start(T0 + 15 * HOUR, 0, lo, hi, GW_CLOCK_SAME);
	start(T0 + DAY + 2 * HOUR, 0, lo, hi, GW_CLOCK_SAME);
	start(T0 + DAY + 3 * HOUR, 0, lo, hi, GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_AHEAD);
	start(T0 - 2 * HOUR, 0, lo, hi, GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_BEHIND);
}

/* A spool of the version before (no "seen"): its first open day allows
 * the clock a day; the journal's newest reading tells more. */
static void journal_is_the_witness_of_an_old_spool(void **state)
{
	(void)state;
	int64_t lo = T0 + 30 * MIN, hi = T0 + DAY + 30 * MIN;
	/* the RTC came back at 01:00 though the gateway read until 20:00 */
	start(T0 + HOUR, 0, lo, hi, GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_journal(&cc, T0 + HOUR, 0, INT64_MIN), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_journal(&cc, T0 + HOUR, 0, T0 + 2 * HOUR), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_journal(&cc, T0 + HOUR, 0, T0 + 20 * HOUR), GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_BEHIND);
	assert_int_equal(cc.by, GW_WIT_STATE);
	assert_int_equal(gw_clockcheck_ref(&cc, T0 + HOUR, 0), T0 + 20 * HOUR);
	assert_int_equal(gw_clockcheck_withhold(&cc, T0 + HOUR, 0, T0 + HOUR), 1);
	assert_int_equal(gw_clockcheck_needs_rewind(&cc, T0 + HOUR), 0);
	/* once set right it is corrected */
	assert_int_equal(gw_clockcheck_tick(&cc, T0 + 20 * HOUR + MIN, MIN, 19 * HOUR),
			 GW_CLOCK_CORRECTED);
}

static void bad_rtc_at_boot_is_held_and_seals_by_the_past(void **state)
{
	(void)state;
	int64_t seen = T0 + 12 * HOUR, now = T0 + 300 * DAY;
	start(now, seen, T0 + 30 * MIN, T0 + DAY + 30 * MIN, GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_AHEAD);
	assert_int_equal(cc.by, GW_WIT_STATE);
	assert_int_equal(cc.holds, 1);
	/* seals by what it saw plus the time run since, never by the clock */
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now, 0), seen);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now + 5 * HOUR, 5 * HOUR),
			 seen + 5 * HOUR);
	/* what the clock stamps now is withheld; what lies near the past is not */
	assert_int_equal(gw_clockcheck_withhold(&cc, now, 0, now), 1);
	assert_int_equal(gw_clockcheck_withhold(&cc, now, 0, seen + HOUR), 0);
	assert_int_equal(gw_clockcheck_needs_rewind(&cc, now), 0);
	/* the clock itself does not come back by time passing */
	assert_int_equal(gw_clockcheck_tick(&cc, now + HOUR, HOUR, 0), GW_CLOCK_SAME);
	char buf[512];
	gw_clockcheck_describe(&cc, now, 0, buf, sizeof(buf));
	assert_non_null(strstr(buf, "after the last time this gateway saw"));
	assert_non_null(strstr(buf, "gwctl clock trust"));
}

static void bad_rtc_set_right_is_corrected(void **state)
{
	(void)state;
	int64_t seen = T0, now = T0 + 300 * DAY;
	start(now, seen, 0, 0, GW_CLOCK_HELD);
	/* ten minutes later NTP sets the clock right */
	assert_int_equal(gw_clockcheck_tick(&cc, seen + 10 * MIN, 10 * MIN,
					    -(300 * DAY - 10 * MIN)),
			 GW_CLOCK_CORRECTED);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, seen + 10 * MIN, 10 * MIN),
			 seen + 10 * MIN);
}

static void powered_off_for_a_week_is_confirmed_by_meters(void **state)
{
	(void)state;
	int64_t seen = T0, now = T0 + 7 * DAY;
	int64_t agree[3] = {2 * MIN, -MIN, 30 * 1000};
	int64_t split[4] = {2 * MIN, -MIN, -7 * DAY, -7 * DAY};
	start(now, seen, 0, 0, GW_CLOCK_HELD);
	/* half of them is not more than half */
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, split, 4), GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_AHEAD);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, agree, 0), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, agree, 3), GW_CLOCK_RELEASED);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	assert_int_equal(cc.by, GW_WIT_METERS);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now, 0), now);
	char buf[256];
	assert_non_null(strstr(gw_clockcheck_describe(&cc, now, 0, buf, sizeof(buf)),
			       "confirmed by the meters"));
}

static void meters_that_disagree_give_their_time(void **state)
{
	(void)state;
	int64_t seen = T0, now = T0 + 300 * DAY;
	/* the meters say it is a day after the last time seen */
	int64_t off[3] = {-(299 * DAY), -(299 * DAY) + MIN, -(299 * DAY) - MIN};
	start(now, seen, 0, 0, GW_CLOCK_HELD);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, off, 3), GW_CLOCK_HELD);
	assert_int_equal(cc.by, GW_WIT_METERS);
	assert_int_equal(cc.trust, GW_CLOCK_AHEAD);
	assert_int_equal(gw_clockcheck_ref(&cc, now, 0), now - 299 * DAY);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now + HOUR, HOUR), T0 + DAY + HOUR);
	/* the same again changes nothing */
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, off, 3), GW_CLOCK_SAME);
}

static void database_is_the_stronger_witness(void **state)
{
	(void)state;
	int64_t seen = T0, now = T0 + 300 * DAY;
	int64_t agree[3] = {0, 0, 0};
	start(now, seen, 0, 0, GW_CLOCK_HELD);
	/* the database says the clock is 300 days ahead */
	assert_int_equal(gw_clockcheck_database(&cc, now, 0, -300 * DAY), GW_CLOCK_HELD);
	assert_int_equal(cc.by, GW_WIT_DATABASE);
	assert_int_equal(gw_clockcheck_ref(&cc, now, 0), T0);
	/* meters that (wrongly) agree with the clock do not overrule it */
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, agree, 3), GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_AHEAD);
	/* the same word again is no new hold */
	assert_int_equal(gw_clockcheck_database(&cc, now, 0, -300 * DAY), GW_CLOCK_SAME);
	assert_int_equal(cc.holds, 1);
	/* once the database agrees, it is released */
	assert_int_equal(gw_clockcheck_database(&cc, now, 0, 3 * 1000), GW_CLOCK_RELEASED);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	/* and a trusted clock the database contradicts is held */
	assert_int_equal(gw_clockcheck_database(&cc, now, 0, 5 * HOUR), GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_BEHIND);
	assert_int_equal(cc.holds, 2);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now, 0), now);
	assert_int_equal(gw_clockcheck_withhold(&cc, now, 0, now), 1);
}

static void spool_moved_forward_needs_a_rewind(void **state)
{
	(void)state;
	/* a wrong clock sealed everything up to 2027-01-09; the clock is
	 * right again at 2026-03-02 */
	int64_t lo = T0 + 314 * DAY + 30 * MIN, now = T0 + DAY;
	int64_t agree[2] = {MIN, -MIN};
	start(now, lo, lo, lo + DAY, GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_BEHIND);
	assert_int_equal(gw_clockcheck_needs_rewind(&cc, now), 1);
	/* nothing is sealed: the clock is before every open day */
	assert_true(gw_clockcheck_seal_ms(&cc, now, 0) <= now);
	/* no witness can release it: trusting the clock would drop every
	 * reading as late */
	assert_int_equal(gw_clockcheck_confirm(&cc, now, 0), GW_CLOCK_HELD);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, agree, 2), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_database(&cc, now, 0, 0), GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_BEHIND);
	char buf[512];
	assert_non_null(strstr(gw_clockcheck_describe(&cc, now, 0, buf, sizeof(buf)),
			       "gwctl clock rewind"));
	/* readings of the clock are withheld (the journal keeps them for the
	 * rewind) */
	assert_int_equal(gw_clockcheck_withhold(&cc, now, 0, now), 1);
	/* a clock that comes forward to the spool's time was the wrong one */
	assert_int_equal(gw_clockcheck_tick(&cc, lo + HOUR, 0, lo + HOUR - now),
			 GW_CLOCK_CORRECTED);
}

static void clock_behind_what_was_seen_is_confirmed_by_operator(void **state)
{
	(void)state;
	/* seen 5 hours ahead (the clock was fast), nothing sealed ahead */
	int64_t now = T0 + 10 * HOUR;
	start(now, now + 5 * HOUR, T0 + 30 * MIN, T0 + DAY + 30 * MIN, GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_BEHIND);
	assert_int_equal(gw_clockcheck_needs_rewind(&cc, now), 0);
	assert_int_equal(gw_clockcheck_withhold(&cc, now, 0, now), 1);
	assert_int_equal(gw_clockcheck_withhold(&cc, now, 0, now + 4 * HOUR), 0);
	assert_int_equal(gw_clockcheck_confirm(&cc, now, 0), GW_CLOCK_RELEASED);
	assert_int_equal(cc.by, GW_WIT_OPERATOR);
	assert_int_equal(gw_clockcheck_confirm(&cc, now, 0), GW_CLOCK_SAME);
}

static void steps_at_run_time(void **state)
{
	(void)state;
	int64_t now = T0;
	start(now, now, 0, 0, GW_CLOCK_SAME);
	/* NTP steps back an hour, or forward a minute: taken as they come */
	assert_int_equal(gw_clockcheck_tick(&cc, now - HOUR, 100, -HOUR - 100), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_tick(&cc, now + MIN, 200, MIN + HOUR), GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	/* a step of 400 days: held, sealing by the clock before the step */
	int64_t jumped = now + 400 * DAY;
	assert_int_equal(gw_clockcheck_tick(&cc, jumped, 300, 400 * DAY - MIN), GW_CLOCK_HELD);
	assert_int_equal(cc.by, GW_WIT_STEP);
	assert_int_equal(cc.trust, GW_CLOCK_AHEAD);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, jumped, 300), now + MIN);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, jumped + HOUR, 300 + HOUR),
			 now + MIN + HOUR);
	assert_int_equal(gw_clockcheck_withhold(&cc, jumped, 300, jumped), 1);
	assert_int_equal(gw_clockcheck_withhold(&cc, jumped, 300, now), 0);
	char buf[512];
	assert_non_null(strstr(gw_clockcheck_describe(&cc, jumped, 300, buf, sizeof(buf)),
			       "stepped +400 days"));
	/* and back: corrected */
	assert_int_equal(gw_clockcheck_tick(&cc, now + 2 * MIN, 300 + MIN, -400 * DAY),
			 GW_CLOCK_CORRECTED);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	/* a step back of 5 hours: held behind; the operator says it is right */
	assert_int_equal(gw_clockcheck_tick(&cc, now - 5 * HOUR, 400, -5 * HOUR - 2 * MIN),
			 GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_BEHIND);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now - 5 * HOUR, 400), now - 5 * HOUR);
	assert_int_equal(gw_clockcheck_confirm(&cc, now - 5 * HOUR, 400), GW_CLOCK_RELEASED);
	assert_int_equal(cc.holds, 2);
}

/* A step of the wall clock that lands between a tick and a seal (the main
 * loop reads the clock again to seal; a loaded machine can keep it from
 * the next tick for long) seals nothing, and is not recorded as "seen",
 * before a tick judges it. */
static void step_before_the_next_tick_seals_nothing(void **state)
{
	(void)state;
	int64_t now = T0;
	start(now, now, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_tick(&cc, now + MIN, 1000 + MIN, 0), GW_CLOCK_SAME);
	/* 2 s later the wall clock reads 300 days on: no tick saw it yet */
	int64_t jumped = now + MIN + 2000 + 300 * DAY;
	int64_t mono = 1000 + MIN + 2000;
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, jumped, mono), now + MIN + 2000);
	assert_int_equal(gw_clockcheck_ref(&cc, jumped, mono), now + MIN + 2000);
	/* nor one back: the seal waits, "seen" stays where the clock was */
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now - 300 * DAY, mono), now - 300 * DAY);
	assert_int_equal(gw_clockcheck_ref(&cc, now - 300 * DAY, mono), now + MIN + 2000);
	/* the tick that sees it holds, and sealing stays by the clock before */
	assert_int_equal(gw_clockcheck_tick(&cc, jumped, mono, 300 * DAY), GW_CLOCK_HELD);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, jumped + HOUR, mono + HOUR),
			 now + MIN + 2000 + HOUR);
	/* without a step, a tick moves it on with the clock */
	start(now, now, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_tick(&cc, now + HOUR, HOUR, 0), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_seal_ms(&cc, now + HOUR + 100, HOUR + 100),
			 now + HOUR + 100);
}

static void meters_hold_only_a_gateway_without_past(void **state)
{
	(void)state;
	int64_t now = T0 + 300 * DAY;
	int64_t off[3] = {-300 * DAY, -300 * DAY + MIN, -300 * DAY - 2 * MIN};
	/* nothing to compare with: three meters say the clock is 300 days
	 * ahead */
	start(now, 0, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, off, 1), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, off, 3), GW_CLOCK_HELD);
	assert_int_equal(cc.trust, GW_CLOCK_AHEAD);
	assert_int_equal(cc.by, GW_WIT_METERS);
	assert_int_equal(gw_clockcheck_ref(&cc, now, 0), now - 300 * DAY);
	/* with a past, meters alone never hold (the state is the witness;
	 * meters set to another zone must not stop the sealing) */
	start(now, now - HOUR, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, off, 3), GW_CLOCK_SAME);
	/* nor once the database confirmed the clock */
	start(now, 0, 0, 0, GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_database(&cc, now, 0, 0), GW_CLOCK_SAME);
	assert_int_equal(gw_clockcheck_meters(&cc, now, 0, off, 3), GW_CLOCK_SAME);
	assert_int_equal(cc.trust, GW_CLOCK_TRUSTED);
}

/* Whatever the witnesses say, a held clock never seals beyond them. */
static void held_never_seals_beyond_the_witnesses(void **state)
{
	(void)state;
	unsigned seed = 7;
	for (int i = 0; i < 5000; i++) {
		int64_t seen = T0 + (int64_t)(rand_r(&seed) % 1000) * HOUR;
		int64_t now = seen + ((int64_t)(rand_r(&seed) % 20000) - 10000) * HOUR;
		int64_t el = (int64_t)(rand_r(&seed) % 1000) * MIN;
		start(now, seen, 0, 0,
		      now > seen + JUMP || now < seen - JUMP ? GW_CLOCK_HELD
							     : GW_CLOCK_SAME);
		int64_t seal = gw_clockcheck_seal_ms(&cc, now + el, el);
		assert_true(seal <= now + el);
		if (cc.trust != GW_CLOCK_TRUSTED)
			assert_true(seal <= seen + el);
	}
}

static void durations(void **state)
{
	char b[32];
	(void)state;
	assert_string_equal(gw_clock_duration(300 * DAY, 1, b, sizeof(b)), "+300 days");
	assert_string_equal(gw_clock_duration(-(5 * HOUR + 20 * MIN), 1, b, sizeof(b)),
			    "-5 h 20 min");
	assert_string_equal(gw_clock_duration(40 * MIN, 0, b, sizeof(b)), "40 min");
	assert_string_equal(gw_clock_duration(12 * 1000, 0, b, sizeof(b)), "12 s");
	assert_string_equal(gw_clock_trust_name(GW_CLOCK_AHEAD), "ahead");
	assert_string_equal(gw_clock_witness_name(GW_WIT_DATABASE), "database");
}

static void marks_set_aside_readings_stamped_again(void **state)
{
	(void)state;
	struct gw_clock_marks *m = gw_clock_marks_new();
	assert_non_null(m);
	/* one read of a meter: several registers with one time */
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "PE1", "2.8.0", T0, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "PE2", "1.8.0", T0 + 5, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0 + 15 * MIN, HOUR, 0), 0);
	/* the clock steps back 40 minutes: stamped again, set aside */
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0 - 25 * MIN + 15 * MIN, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0 + 15 * MIN, HOUR, 0), 1);
	/* another register is judged by its own readings */
	assert_int_equal(gw_clock_marks_check(m, "PE1", "2.8.0", T0 + 1, HOUR, 0), 0);
	/* "PE1\t2" + "8.0" is not "PE1" + "2.8.0" */
	assert_int_equal(gw_clock_marks_check(m, "PE1\t2", "8.0", T0, HOUR, 0), 0);
	/* beyond the window: a wild step, left to the clock's hold */
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0 - 5 * HOUR, HOUR, 0), 0);
	/* without a window: any time at or before the newest */
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0 - 5 * HOUR, -1, 0), 1);
	/* past the newest again: kept, and newest */
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0 + 30 * MIN, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0 + 20 * MIN, HOUR, 0), 1);
	/* many registers: the table grows and forgets nothing */
	char id[32];
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "M%04d", i);
		assert_int_equal(gw_clock_marks_check(m, id, "1.8.0", T0 + i, HOUR, 0), 0);
	}
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "M%04d", i);
		assert_int_equal(gw_clock_marks_check(m, id, "1.8.0", T0 + i, HOUR, 0), 1);
		assert_int_equal(gw_clock_marks_check(m, id, "1.8.0", T0 + i + 1, HOUR, 0), 0);
	}
	/* just after a step back: the first reading past the newest, on the
	 * same grid point a few ms later, is set aside too (guard) */
	assert_int_equal(gw_clock_marks_check(m, "G", "1.8.0", T0, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "G", "1.8.0", T0 + 3, HOUR, 7 * MIN), 1);
	assert_int_equal(gw_clock_marks_check(m, "G", "1.8.0", T0 + 15 * MIN, HOUR, 7 * MIN), 0);
	assert_int_equal(gw_clock_marks_check(m, "G", "1.8.0", T0 + 15 * MIN + 2, HOUR, 0), 0);
	gw_clock_marks_clear(m);
	assert_int_equal(gw_clock_marks_check(m, "PE1", "1.8.0", T0, HOUR, 0), 0);
	gw_clock_marks_free(m);
	gw_clock_marks_free(NULL);
}

/* 10,000 meters x 3 registers, ids of every length a meter id may have:
 * the records fill many blocks, the table grows several times, and each
 * register keeps its own newest time through it all and after a clear. */
static void marks_of_many_registers_keep_their_own_time(void **state)
{
	static const char *const codes[] = {"1.8.0", "2.8.0", "1-0:1.8.0*255"};
	char id[GW_ID_MAX];
	(void)state;
	struct gw_clock_marks *m = gw_clock_marks_new();
	assert_non_null(m);
	for (int pass = 0; pass < 2; pass++) {
		for (int i = 0; i < 10000; i++) {
			int len = snprintf(id, sizeof(id), "m%d-", i);
			while (len < 1 + i % (GW_ID_MAX - 1))
				id[len++] = 'x';
			id[len] = '\0';
			for (int c = 0; c < 3; c++)
				assert_int_equal(gw_clock_marks_check(m, id, codes[c],
								      T0 + i * 3 + c,
								      HOUR, 0), 0);
		}
		for (int i = 0; i < 10000; i++) {
			int len = snprintf(id, sizeof(id), "m%d-", i);
			while (len < 1 + i % (GW_ID_MAX - 1))
				id[len++] = 'x';
			id[len] = '\0';
			for (int c = 0; c < 3; c++) {
				int64_t t = T0 + i * 3 + c;
				/* at its own time: again; one ms later: new */
				assert_int_equal(gw_clock_marks_check(m, id, codes[c], t,
								      HOUR, 0), 1);
				assert_int_equal(gw_clock_marks_check(m, id, codes[c],
								      t - 1, HOUR, 0), 1);
				assert_int_equal(gw_clock_marks_check(m, id, codes[c],
								      t + 1, HOUR, 0), 0);
			}
		}
		/* forgotten: the same times are new again on the second pass */
		gw_clock_marks_clear(m);
	}
	gw_clock_marks_free(m);
}

/* A configuration of meters A, B, C or C, X, A (one bus each file) from
 * a file in dir. */
static struct gw_config *meters_config(const char *dir, const char *const *ids,
				       int n)
{
	char path[128];
	struct gw_config *cfg = NULL;

	snprintf(path, sizeof(path), "%s/gw%s.ini", dir, ids[0]);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[gateway]\nid = g\ntimezone = UTC\nspool_dir = %s\n"
		   "[bus b]\ntype = iec62056-21\ndevice = /dev/null\n", dir);
	for (int i = 0; i < n; i++)
		fprintf(f, "[meter %s]\nbus = b\naddress = %d\n", ids[i], i + 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(gw_config_load(path, &cfg), 0);
	assert_int_equal(cfg->n_meters, n);
	return cfg;
}

/* Whether (meter at, code)'s newest time is t (window and guard 0: set
 * aside only at its own time, nothing changed). */
static int marked_at(struct gw_clock_marks *m, int at, long code, int64_t t)
{
	return gw_clock_marks_check_at(m, at, code, t - 1, 0, 0) == 0 &&
	       gw_clock_marks_check_at(m, at, code, t, 0, 0) == 1;
}

/* A meter's registers share its newest time, and the time before it,
 * compactly; a register whose time is apart from them keeps its own: one
 * left behind by days, one ahead of the rest, registers each read at a
 * time of its own, milliseconds apart and a second apart, and readings
 * stamped again after the clock stepped back. */
static void marks_apart_from_their_meter_keep_their_time(void **state)
{
	static const char *const ids[] = {"A"};
	char dir[] = "/tmp/gwmarks.XXXXXX", cmd[64], obis[16];
	long code[23];
	(void)state;
	assert_non_null(mkdtemp(dir));
	struct gw_config *cfg = meters_config(dir, ids, 1);
	struct gw_clock_marks *m = gw_clock_marks_new();
	assert_non_null(m);
	assert_int_equal(gw_clock_marks_use(m, cfg), 0);
	for (int c = 0; c < 23; c++) {
		snprintf(obis, sizeof(obis), "1.8.%d", c);
		code[c] = gw_clock_marks_code(m, obis);
		assert_true(code[c] >= 0);
	}
	/* one cycle, one time; the next, register by register */
	for (int c = 0; c < 23; c++)
		assert_int_equal(gw_clock_marks_check_at(m, 0, code[c], T0, HOUR, 0), 0);
	for (int c = 0; c < 23; c++) {
		assert_int_equal(gw_clock_marks_check_at(m, 0, code[c], T0 + 15 * MIN,
							 HOUR, 0), 0);
		/* the cycle half read: each register where it is */
		for (int k = 0; k < 23; k++)
			assert_true(marked_at(m, 0, code[k], k <= c ? T0 + 15 * MIN : T0));
	}
	/* register 5 is left behind for days while the rest go on */
	for (int day = 1; day <= 3; day++)
		for (int c = 0; c < 23; c++)
			if (c != 5)
				assert_int_equal(gw_clock_marks_check_at(m, 0, code[c],
									 T0 + day * 24 * HOUR,
									 HOUR, 0), 0);
	assert_true(marked_at(m, 0, code[5], T0 + 15 * MIN));
	assert_true(marked_at(m, 0, code[4], T0 + 72 * HOUR));
	/* register 7 a day ahead of the rest, the rest then a cycle on */
	assert_int_equal(gw_clock_marks_check_at(m, 0, code[7], T0 + 96 * HOUR, HOUR, 0), 0);
	for (int c = 0; c < 23; c++)
		if (c != 7 && c != 5)
			assert_int_equal(gw_clock_marks_check_at(m, 0, code[c],
								 T0 + 72 * HOUR + 15 * MIN,
								 HOUR, 0), 0);
	assert_true(marked_at(m, 0, code[7], T0 + 96 * HOUR));
	assert_true(marked_at(m, 0, code[6], T0 + 72 * HOUR + 15 * MIN));
	assert_true(marked_at(m, 0, code[5], T0 + 15 * MIN));
	/* back at register 7's time, and before it, within the window: aside */
	assert_int_equal(gw_clock_marks_check_at(m, 0, code[7], T0 + 96 * HOUR - MIN,
						 HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 0, code[5], T0 + 15 * MIN - MIN,
						 HOUR, 0), 1);
	/* beyond the window: kept, and the mark stays */
	assert_int_equal(gw_clock_marks_check_at(m, 0, code[5], T0 + 15 * MIN - HOUR - 1,
						 HOUR, 0), 0);
	assert_true(marked_at(m, 0, code[5], T0 + 15 * MIN));
	/* each register at a time of its own: milliseconds, then seconds apart */
	for (int step = 1; step <= 1000; step *= 1000)
		for (int round = 1; round <= 2; round++)
			for (int c = 0; c < 23; c++) {
				int64_t hour = (step > 1 ? 102 : 100) + round;
				int64_t t = T0 + hour * HOUR + step * (c * 23 % 29);
				assert_int_equal(gw_clock_marks_check_at(m, 0, code[c], t,
									 HOUR, 0), 0);
				for (int k = 0; k <= c; k++)
					assert_true(marked_at(m, 0, code[k],
							      T0 + hour * HOUR +
							      step * (k * 23 % 29)));
			}
	/* the clock stepped back an hour: what is stamped again is set
	 * aside, within the guard too; past both, new */
	int64_t last = T0 + 104 * HOUR + 1000 * (22 * 23 % 29);
	for (int c = 0; c < 23; c++) {
		int64_t t = T0 + 101 * HOUR + 500 + c;
		assert_int_equal(gw_clock_marks_check_at(m, 0, code[c], t, -1, 0), 1);
	}
	assert_int_equal(gw_clock_marks_check_at(m, 0, code[22], last + 400, -1, 500), 1);
	assert_true(marked_at(m, 0, code[22], last));
	assert_int_equal(gw_clock_marks_check_at(m, 0, code[22], last + 501, -1, 500), 0);
	assert_true(marked_at(m, 0, code[22], last + 501));
	/* a new configuration moves them by name and back, times and all */
	assert_int_equal(gw_clock_marks_use(m, NULL), 0);
	assert_int_equal(gw_clock_marks_check(m, "A", "1.8.22", last + 501, 0, 0), 1);
	assert_int_equal(gw_clock_marks_check(m, "A", "1.8.5", T0 + 15 * MIN, 0, 0), 0);
	assert_int_equal(gw_clock_marks_use(m, cfg), 0);
	assert_true(marked_at(m, 0, code[22], last + 501));
	for (int c = 0; c < 22; c++)
		assert_true(marked_at(m, 0, code[c], T0 + 104 * HOUR + 1000 * (c * 23 % 29)));
	gw_clock_marks_free(m);
	gw_config_free(cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The marks against a plain table of every (meter, register)'s newest
 * time, over a long run of readings of every kind (a cycle's one time, a
 * few milliseconds apart, far behind, far ahead, the clock stepped
 * back), by number and by name, each window and guard, with new
 * configurations between: every answer the same. */
static void marks_agree_with_a_plain_table(void **state)
{
	static const char *const ids1[] = {"A", "B", "C", "D"}, *const ids2[] = {"C", "E", "A"};
	static const char *const all[] = {"A", "B", "C", "D", "E", "Z"};
	enum { N_ID = 6, N_CODE = 23 };
	char dir[] = "/tmp/gwmarks.XXXXXX", cmd[64], obis[N_CODE][16];
	int64_t want[N_ID][N_CODE], now = T0;
	long code[N_CODE];
	uint64_t x = 88172645463325252u;
	(void)state;
	assert_non_null(mkdtemp(dir));
	struct gw_config *cfgs[3] = {meters_config(dir, ids1, 4), meters_config(dir, ids2, 3), NULL};
	const struct gw_config *cfg = cfgs[0];
	struct gw_clock_marks *m = gw_clock_marks_new();
	assert_non_null(m);
	assert_int_equal(gw_clock_marks_use(m, cfg), 0);
	for (int c = 0; c < N_CODE; c++) {
		snprintf(obis[c], sizeof(obis[c]), "1.8.%d", c);
		code[c] = gw_clock_marks_code(m, obis[c]);
		for (int i = 0; i < N_ID; i++)
			want[i][c] = INT64_MIN;
	}
	for (int step = 0; step < 400000; step++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned r = (unsigned)(x >> 32);
		if (r % 5000 == 0) {
			cfg = cfgs[r / 5000 % 3];
			assert_int_equal(gw_clock_marks_use(m, cfg), 0);
			continue;
		}
		int id = (int)(r % N_ID), c = (int)(r / N_ID % N_CODE);
		int64_t ts;
		switch (r / 1000 % 16) {
		case 0: /* far behind */
			ts = now - (int64_t)(r % 1000) * 3 * HOUR;
			break;
		case 1: /* far ahead */
			ts = now + (int64_t)(r % 100) * HOUR;
			break;
		case 2: /* the clock steps back */
			now -= (int64_t)(r % 7) * 10 * MIN;
			ts = now;
			break;
		case 3: case 4: case 5: /* a few milliseconds apart */
			ts = now + (int64_t)(r % 300) - 150;
			break;
		case 6: /* a new cycle */
			now += 15 * MIN;
			ts = now;
			break;
		default: /* this cycle's time */
			ts = now;
		}
		int64_t window = r % 3 == 0 ? -1 : r % 3 == 1 ? 0 : HOUR;
		int64_t guard = (r >> 24) % 2 ? 500 : 0;
		int64_t *w = &want[id][c];
		int expect = *w == INT64_MIN ? 0 : ts > *w + guard ? 0
			     : window < 0 || ts >= *w - window;
		if (*w == INT64_MIN || ts > *w + guard)
			*w = ts;
		const struct gw_meter_config *mc =
			cfg ? gw_config_find_meter(cfg, all[id]) : NULL;
		int got = mc && (r >> 20) % 2
				  ? gw_clock_marks_check_at(m, (int)(mc - cfg->meters), code[c],
							    ts, window, guard)
				  : gw_clock_marks_check(m, all[id], obis[c], ts, window, guard);
		assert_int_equal(got, expect);
	}
	gw_clock_marks_free(m);
	gw_config_free(cfgs[0]);
	gw_config_free(cfgs[1]);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

/* The meters of the configuration are marked by number (their index, the
 * code's number), others by name, and both ways look at one mark; a new
 * configuration keeps every mark: a meter that moved finds its marks at
 * its new index, one removed keeps them by name until it comes back, one
 * added finds what was marked by its name before. */
static void marks_by_number_follow_their_meters(void **state)
{
	static const char *const ids1[] = {"A", "B", "C"}, *const ids2[] = {"C", "X", "A"};
	char dir[] = "/tmp/gwmarks.XXXXXX", cmd[64];
	(void)state;
	assert_non_null(mkdtemp(dir));
	struct gw_config *c1 = meters_config(dir, ids1, 3), *c2 = meters_config(dir, ids2, 3);
	struct gw_clock_marks *m = gw_clock_marks_new();
	assert_non_null(m);
	assert_int_equal(gw_clock_marks_use(m, c1), 0);
	long e = gw_clock_marks_code(m, "1.8.0"), i = gw_clock_marks_code(m, "2.8.0");
	assert_int_equal(e, 0);
	assert_int_equal(i, 1);
	assert_int_equal(gw_clock_marks_code(m, "1.8.0"), e);
	/* A by number, then by name: one mark */
	assert_int_equal(gw_clock_marks_check_at(m, 0, e, T0, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "A", "1.8.0", T0, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 0, i, T0, HOUR, 0), 0);
	/* B by name, then by number; a code first seen by name has a number */
	assert_int_equal(gw_clock_marks_check(m, "B", "1.8.0", T0 + 1, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "B", "3.8.0", T0 + 1, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check_at(m, 1, e, T0 + 1, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 1, gw_clock_marks_code(m, "3.8.0"),
						 T0, HOUR, 0), 1);
	/* X is not configured: by name */
	assert_int_equal(gw_clock_marks_check(m, "X", "1.8.0", T0 + 2, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "X", "1.8.0", T0 + 2, HOUR, 0), 1);
	/* numbers out of range */
	assert_int_equal(gw_clock_marks_check_at(m, 3, e, T0, HOUR, 0), GW_EINVAL);
	assert_int_equal(gw_clock_marks_check_at(m, -1, e, T0, HOUR, 0), GW_EINVAL);
	assert_int_equal(gw_clock_marks_check_at(m, 0, 3, T0, HOUR, 0), GW_EINVAL);

	/* C, X, A: A moved to 2, X came to 1, B went */
	assert_int_equal(gw_clock_marks_use(m, c2), 0);
	assert_int_equal(gw_clock_marks_check_at(m, 2, e, T0, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 2, i, T0, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 1, e, T0 + 2, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check(m, "X", "1.8.0", T0 + 2, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 0, e, T0, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "B", "1.8.0", T0 + 1, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check(m, "B", "3.8.0", T0 + 1, HOUR, 0), 1);
	/* what is new now moves on with its meter */
	assert_int_equal(gw_clock_marks_check_at(m, 2, e, T0 + MIN, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "B", "2.8.0", T0 + MIN, HOUR, 0), 0);

	/* back to A, B, C: B's marks by number again, X's by name, C's at 2 */
	assert_int_equal(gw_clock_marks_use(m, c1), 0);
	assert_int_equal(gw_clock_marks_check_at(m, 0, e, T0 + MIN, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 1, e, T0 + 1, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 1, i, T0 + MIN, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 1, i, T0 + MIN + 1, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "X", "1.8.0", T0 + 2, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 2, e, T0, HOUR, 0), 1);
	/* none: everything by name, as it was */
	assert_int_equal(gw_clock_marks_use(m, NULL), 0);
	assert_int_equal(gw_clock_marks_check(m, "A", "1.8.0", T0 + MIN, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check(m, "C", "1.8.0", T0, HOUR, 0), 1);
	assert_int_equal(gw_clock_marks_check_at(m, 0, e, T0, HOUR, 0), GW_EINVAL);
	assert_int_equal(gw_clock_marks_use(m, c2), 0);
	assert_int_equal(gw_clock_marks_check_at(m, 0, e, T0, HOUR, 0), 1);

	/* forgotten; the codes keep their numbers */
	gw_clock_marks_clear(m);
	assert_int_equal(gw_clock_marks_check_at(m, 2, e, T0, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_check(m, "B", "1.8.0", T0, HOUR, 0), 0);
	assert_int_equal(gw_clock_marks_code(m, "2.8.0"), i);
	gw_clock_marks_free(m);
	gw_config_free(c1);
	gw_config_free(c2);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void state_keeps_what_was_seen(void **state)
{
	char dir[] = "/tmp/gwclock.XXXXXX", path[64], cmd[96];
	struct gw_spool_state st;
	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(gw_spool_open(dir), 0);
	assert_int_equal(gw_tz_set("Asia/Ho_Chi_Minh"), 0);
	assert_int_equal(gw_spool_state_read(dir, &st), GW_ENOTFOUND);
	assert_int_equal(st.next_day, INT32_MIN);
	assert_int_equal(st.seen_ms, 0);
	struct gw_spool_state w = {.next_day = gw_tz_day_of(T0), .seen_ms = T0 + 123};
	assert_int_equal(gw_spool_state_save(dir, &w), 0);
	assert_int_equal(gw_spool_state_read(dir, &st), 0);
	assert_int_equal(st.next_day, w.next_day);
	assert_int_equal(st.seen_ms, T0 + 123);
	/* writing the sealed-through day keeps what was seen */
	assert_int_equal(gw_spool_state_write(dir, w.next_day + 1), 0);
	assert_int_equal(gw_spool_state_read(dir, &st), 0);
	assert_int_equal(st.next_day, w.next_day + 1);
	assert_int_equal(st.seen_ms, T0 + 123);
	/* a state of the version before: one line; unknown keys skipped */
	snprintf(path, sizeof(path), "%s/state", dir);
	FILE *f = fopen(path, "w");
	fputs("next_day=2026-03-05\nlater_key=1\n", f);
	fclose(f);
	assert_int_equal(gw_spool_state_read(dir, &st), 0);
	assert_int_equal(st.seen_ms, 0);
	int32_t d;
	assert_int_equal(gw_day_parse("2026-03-05", &d), 0);
	assert_int_equal(st.next_day, d);
	/* a damaged line is reported; the batch files decide */
	f = fopen(path, "w");
	fputs("next_day=2026-3-5\nseen=yesterday\n", f);
	fclose(f);
	assert_int_equal(gw_spool_state_read(dir, &st), GW_ECORRUPT);
	assert_int_equal(gw_spool_next_day(dir, "gw", &d), 0);
	assert_int_equal(d, INT32_MIN);
	/* the lock: one holder at a time, released when closed */
	int fd, fd2;
	long holder;
	assert_int_equal(gw_spool_lock(dir, &fd, &holder), 0);
	assert_true(fd >= 0);
	/* flock is per open file: a second open conflicts, even here */
	assert_int_equal(gw_spool_lock(dir, &fd2, &holder), 1);
	assert_int_equal(holder, (long)getpid());
	close(fd);
	assert_int_equal(gw_spool_lock(dir, &fd2, &holder), 0);
	close(fd2);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fresh_gateway_trusts_any_clock),
		cmocka_unit_test(restart_within_max_jump_is_trusted),
		cmocka_unit_test(journal_is_the_witness_of_an_old_spool),
		cmocka_unit_test(bad_rtc_at_boot_is_held_and_seals_by_the_past),
		cmocka_unit_test(bad_rtc_set_right_is_corrected),
		cmocka_unit_test(powered_off_for_a_week_is_confirmed_by_meters),
		cmocka_unit_test(meters_that_disagree_give_their_time),
		cmocka_unit_test(database_is_the_stronger_witness),
		cmocka_unit_test(spool_moved_forward_needs_a_rewind),
		cmocka_unit_test(clock_behind_what_was_seen_is_confirmed_by_operator),
		cmocka_unit_test(steps_at_run_time),
		cmocka_unit_test(step_before_the_next_tick_seals_nothing),
		cmocka_unit_test(meters_hold_only_a_gateway_without_past),
		cmocka_unit_test(held_never_seals_beyond_the_witnesses),
		cmocka_unit_test(durations),
		cmocka_unit_test(marks_set_aside_readings_stamped_again),
		cmocka_unit_test(marks_of_many_registers_keep_their_own_time),
		cmocka_unit_test(marks_by_number_follow_their_meters),
		cmocka_unit_test(marks_apart_from_their_meter_keep_their_time),
		cmocka_unit_test(marks_agree_with_a_plain_table),
		cmocka_unit_test(state_keeps_what_was_seen),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
