/* SPDX-License-Identifier: MIT */
/*
 * test_batch.c - the batching core: exact daily consumption at local
 * midnights (measured, interpolated, estimated, incomplete), daylight-saving
 * days, instantaneous values, counters going backwards, and properties that
 * must hold for any split and order of the same readings.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "batch_int.h" /* the tracks' last points (tails_rebase) */
#include "drops.h"
#include "tz.h"

#define MIN 60000LL
#define HOUR 3600000LL

struct collected {
	int n;
	struct gw_batch *b[128];
};

static int collect(void *ctx, struct gw_batch *b)
{
	struct collected *c = ctx;

	assert_true(c->n < 128);
	c->b[c->n++] = b;
	return 0;
}

static void free_collected(struct collected *c)
{
	for (int i = 0; i < c->n; i++)
		gw_batch_free(c->b[i]);
	c->n = 0;
}

static struct gw_batcher *new_batcher(void)
{
	struct gw_batcher_params p = {
		.gateway_id = "gw-test",
		.poll_interval_ms = 15 * MIN,
		.midnight_tolerance_ms = 1 * MIN,
		.max_gap_ms = 2 * HOUR,
		.seal_delay_ms = 30 * MIN,
	};
	struct gw_batcher *b = gw_batcher_new(&p);
	assert_non_null(b);
	return b;
}

static struct gw_reading rd(const char *meter, const char *obis, int64_t ts,
			    int64_t v, enum gw_unit u)
{
	struct gw_reading r;

	memset(&r, 0, sizeof(r));
	snprintf(r.meter_id, sizeof(r.meter_id), "%s", meter);
	snprintf(r.obis, sizeof(r.obis), "%s", obis);
	r.ts_ms = ts;
	r.value = v;
	r.unit = (uint8_t)u;
	return r;
}

static const struct gw_day_register *find_day(const struct gw_batch *b,
					      const char *meter, const char *obis)
{
	for (size_t i = 0; i < b->n_days; i++)
		if (!strcmp(b->days[i].meter_id, meter) &&
		    !strcmp(b->days[i].obis, obis))
			return &b->days[i];
	return NULL;
}

static int32_t day_of(const char *ymd)
{
	int32_t d;

	assert_int_equal(gw_day_parse(ymd, &d), 0);
	return d;
}

/* A meter consuming 1 Wh per minute, read every 15 minutes on the dot from
 * 2026-03-01 00:00 local for three days: two whole days are measured. */
static void measured_days(void **state)
{
	struct gw_batcher *b = new_batcher();
	struct collected c = {0};
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	t0 = gw_tz_day_start(d0);
	for (int64_t t = t0; t <= t0 + 3 * 24 * HOUR; t += 15 * MIN) {
		struct gw_reading r = rd("m1", "1.8.0", t, 5000000 + (t - t0) / MIN,
					 GW_UNIT_WH);
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
	/* nothing before the seal delay has passed */
	assert_int_equal(gw_batcher_advance(b, t0 + 24 * HOUR + 29 * MIN, collect, &c), 0);
	assert_int_equal(gw_batcher_advance(b, t0 + 3 * 24 * HOUR + 30 * MIN, collect, &c), 3);
	assert_int_equal(c.n, 3);
	for (int i = 0; i < 3; i++) {
		const struct gw_day_register *dr = find_day(c.b[i], "m1", "1.8.0");
		assert_non_null(dr);
		assert_int_equal(c.b[i]->day, d0 + i);
		assert_int_equal(dr->consumption, 1440);
		assert_int_equal(dr->start_value, 5000000 + 1440 * i);
		assert_int_equal(dr->quality, GW_Q_MEASURED);
		assert_int_equal(dr->readings, 96);
		assert_int_equal(dr->minutes_missing, 0);
		assert_string_equal(c.b[i]->gateway_id, "gw-test");
		assert_string_equal(c.b[i]->timezone, "Asia/Ho_Chi_Minh");
		assert_int_equal(c.b[i]->n_series, 1);
		assert_int_equal(c.b[i]->series[0].n, 96);
	}
	free_collected(&c);
	gw_batcher_free(b);
}

/* Polls 7 minutes off midnight: interpolated to the exact Wh; a reading a
 * few seconds off midnight counts as measured. */
static void interpolated_and_tolerance(void **state)
{
	struct gw_batcher *b = new_batcher();
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	/* 2 Wh per minute; readings at :07, :22, :37, :52 */
	for (int64_t t = t0 - HOUR + 7 * MIN; t <= t0 + 25 * HOUR; t += 15 * MIN) {
		struct gw_reading r = rd("m1", "1.8.0", t, 2 * ((t - t0) / MIN) + 1000,
					 GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	/* a second meter read 20 s after each midnight: within tolerance */
	for (int64_t t = t0 - HOUR + 20000; t <= t0 + 25 * HOUR; t += 15 * MIN) {
		struct gw_reading r = rd("m2", "1.8.0", t, (t - t0) / 1000, GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 2);
	/* day d0-1 has one hour of readings and no start: incomplete */
	const struct gw_day_register *first = find_day(c.b[0], "m1", "1.8.0");
	assert_non_null(first);
	assert_int_equal(first->quality, GW_Q_INCOMPLETE);
	const struct gw_day_register *dr = find_day(c.b[1], "m1", "1.8.0");
	assert_non_null(dr);
	assert_int_equal(dr->quality, GW_Q_INTERPOLATED);
	assert_int_equal(dr->start_value, 1000);
	assert_int_equal(dr->end_value, 1000 + 2 * 1440);
	assert_int_equal(dr->consumption, 2880);
	dr = find_day(c.b[1], "m2", "1.8.0");
	assert_non_null(dr);
	assert_int_equal(dr->quality, GW_Q_MEASURED);
	assert_int_equal(dr->consumption, 86400); /* 20 s late on both ends */
	free_collected(&c);
	gw_batcher_free(b);
}

/* A 5-hour outage across midnight: the day is estimated, and the minutes
 * missing are counted. */
static void estimated_gap(void **state)
{
	struct gw_batcher *b = new_batcher();
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	for (int64_t t = t0; t <= t0 + 48 * HOUR; t += 15 * MIN) {
		if (t > t0 + 22 * HOUR && t < t0 + 27 * HOUR)
			continue; /* 22:00 .. 03:00 next day missing */
		struct gw_reading r = rd("m1", "1.8.0", t, (t - t0) / MIN, GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	assert_int_equal(gw_batcher_advance(b, t0 + 49 * HOUR, collect, &c), 2);
	const struct gw_day_register *dr = find_day(c.b[0], "m1", "1.8.0");
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	assert_int_equal(dr->consumption, 1440); /* linear meter: still exact */
	/* 22:00..03:00 is a 5 h gap: from 22:07:30 to 02:52:30 is missing
	 * (a reading stands for half a poll interval either side of it),
	 * 112.5 minutes of it in day 1 and 172.5 in day 2 */
	assert_int_equal(dr->minutes_missing, 112);
	dr = find_day(c.b[1], "m1", "1.8.0");
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	assert_int_equal(dr->minutes_missing, 172);
	assert_int_equal(dr->readings, 96 - 12);
	free_collected(&c);
	gw_batcher_free(b);
}

/* Days of 23 and 25 hours in Europe/Berlin and America/New_York. */
static void dst_days(void **state)
{
	static const struct {
		const char *zone, *spring, *autumn;
	} z[] = {
		{"Europe/Berlin", "2026-03-29", "2026-10-25"},
		{"America/New_York", "2026-03-08", "2026-11-01"},
	};

	(void)state;
	for (size_t k = 0; k < 2; k++) {
		const char *days[2] = {z[k].spring, z[k].autumn};
		int64_t expect[2] = {23 * 60, 25 * 60};
		assert_int_equal(gw_tz_set(z[k].zone), 0);
		for (int j = 0; j < 2; j++) {
			struct gw_batcher *b = new_batcher();
			struct collected c = {0};
			int32_t d = day_of(days[j]);
			int64_t s = gw_tz_day_start(d), e = gw_tz_day_start(d + 1);
			for (int64_t t = s - HOUR; t <= e + HOUR; t += 15 * MIN) {
				struct gw_reading r =
					rd("m1", "1.8.0", t, (t - s) / MIN, GW_UNIT_WH);
				gw_batcher_add(b, &r, 1);
			}
			gw_batcher_advance(b, e + 2 * HOUR, collect, &c);
			const struct gw_day_register *dr = NULL;
			for (int i = 0; i < c.n; i++)
				if (c.b[i]->day == d)
					dr = find_day(c.b[i], "m1", "1.8.0");
			assert_non_null(dr);
			assert_int_equal(dr->consumption, expect[j]);
			assert_int_equal(dr->readings, expect[j] / 15);
			assert_int_equal(dr->quality, GW_Q_MEASURED);
			free_collected(&c);
			gw_batcher_free(b);
		}
	}
}

/* Voltage is interval data only; export is accounted like import. */
static void instantaneous_and_export(void **state)
{
	struct gw_batcher *b = new_batcher();
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	for (int64_t t = t0; t <= t0 + 24 * HOUR; t += 15 * MIN) {
		struct gw_reading r[3] = {
			rd("m1", "1.8.0", t, 100, GW_UNIT_WH),
			rd("m1", "2.8.0", t, 7 * ((t - t0) / (15 * MIN)), GW_UNIT_WH),
			rd("m1", "32.7.0", t, 2301 + (t / MIN) % 5, GW_UNIT_V),
		};
		r[2].scale = -1;
		gw_batcher_add(b, r, 3);
	}
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 1);
	assert_int_equal(c.b[0]->n_days, 2);
	assert_int_equal(c.b[0]->n_series, 3);
	assert_null(find_day(c.b[0], "m1", "32.7.0"));
	assert_int_equal(find_day(c.b[0], "m1", "1.8.0")->consumption, 0);
	assert_int_equal(find_day(c.b[0], "m1", "2.8.0")->consumption, 7 * 96);
	for (size_t i = 0; i < c.b[0]->n_series; i++)
		if (!strcmp(c.b[0]->series[i].obis, "32.7.0"))
			assert_int_equal(c.b[0]->series[i].scale, -1);
	free_collected(&c);
	gw_batcher_free(b);
}

static int64_t rollover_100k(void *ctx, const char *meter, const char *obis)
{
	(void)ctx;
	(void)obis;
	return strcmp(meter, "wrap") == 0 ? 100000 : 0;
}

static struct gw_batcher *new_batcher_roll(int64_t max_power_w, int window,
					   int64_t (*roll)(void *, const char *,
							   const char *))
{
	struct gw_batcher_params p = {
		.gateway_id = "gw-test",
		.poll_interval_ms = 15 * MIN,
		.midnight_tolerance_ms = 1 * MIN,
		.max_gap_ms = 2 * HOUR,
		.seal_delay_ms = 30 * MIN,
		.max_power_w = max_power_w,
		.revision_window_days = window,
		.rollover = roll,
	};
	struct gw_batcher *b = gw_batcher_new(&p);
	assert_non_null(b);
	return b;
}

static struct gw_batcher *new_batcher_power(int64_t max_power_w, int window)
{
	return new_batcher_roll(max_power_w, window, rollover_100k);
}

static int count_events(const struct gw_batch *b, enum gw_event_kind k)
{
	int n = 0;
	for (size_t i = 0; i < b->n_events; i++)
		n += b->events[i].kind == k;
	return n;
}

/* 1 Wh a minute all day, with a replaced meter, a wrapping register and a
 * glitch: each day's consumption stays right, and each is flagged. */
static void reset_wrap_jump(void **state)
{
	struct gw_batcher *b = new_batcher_power(100000, 0);
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	for (int64_t t = t0; t <= t0 + 24 * HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		struct gw_reading r[3] = {
			/* replaced at 12:00 by a meter starting from 0 */
			rd("swap", "1.8.0", t, min < 720 ? 900000 + min : min - 720,
			   GW_UNIT_WH),
			/* a 100 kWh register rolling over at 10:40 */
			rd("wrap", "1.8.0", t, (99360 + min) % 100000, GW_UNIT_WH),
			/* a glitch of +1 MWh from 10:00 on */
			rd("jump", "1.8.0", t, 5000 + min + (min >= 600 ? 1000000 : 0),
			   GW_UNIT_WH),
		};
		gw_batcher_add(b, r, 3);
	}
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 1);
	const struct gw_day_register *dr = find_day(c.b[0], "swap", "1.8.0");
	/* 705 Wh on the old meter to 11:45, the new one from 0 at 12:00 to
	 * 720 at midnight; the 15 minutes of the swap are not known */
	assert_int_equal(dr->consumption, 705 + 720);
	assert_int_equal(dr->start_value, 900000);
	assert_int_equal(dr->end_value, 720);
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	dr = find_day(c.b[0], "wrap", "1.8.0");
	assert_int_equal(dr->consumption, 1440); /* exact across the wrap */
	assert_int_equal(dr->quality, GW_Q_MEASURED);
	assert_int_equal(dr->end_value, (99360 + 1440) % 100000);
	dr = find_day(c.b[0], "jump", "1.8.0");
	assert_int_equal(dr->consumption, 1440 - 15); /* the jump's step left out */
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	assert_int_equal(count_events(c.b[0], GW_EV_COUNTER_RESET), 1);
	assert_int_equal(count_events(c.b[0], GW_EV_COUNTER_WRAP), 1);
	assert_int_equal(count_events(c.b[0], GW_EV_JUMP), 1);
	free_collected(&c);
	gw_batcher_free(b);

	/* Without a power bound a restarted counter's first value is not
	 * counted, and a jump is summed (and not flagged). */
	b = new_batcher_power(0, 0);
	for (int64_t t = t0; t <= t0 + 24 * HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		struct gw_reading r = rd("swap", "1.8.0", t,
					 min < 720 ? 900000 + min : min - 700, GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c);
	assert_int_equal(find_day(c.b[0], "swap", "1.8.0")->consumption, 705 + 720);
	free_collected(&c);
	gw_batcher_free(b);
}

/* A wrap and a reset right across midnight. */
static void drops_across_midnight(void **state)
{
	struct gw_batcher *b = new_batcher_power(100000, 0);
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	/* readings at :07, :22, ... so every midnight is interpolated */
	for (int64_t t = t0 + 7 * MIN; t <= t0 + 49 * HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		struct gw_reading r[2] = {
			rd("wrap", "1.8.0", t, (100000 - 1440 + min) % 100000, GW_UNIT_WH),
			rd("swap", "1.8.0", t, min < 1440 ? 700000 + min : min - 1440,
			   GW_UNIT_WH),
		};
		gw_batcher_add(b, r, 2);
	}
	gw_batcher_advance(b, t0 + 49 * HOUR, collect, &c);
	assert_int_equal(c.n, 2);
	assert_int_equal(count_events(c.b[1], GW_EV_COUNTER_WRAP), 0); /* at the boundary */
	assert_int_equal(count_events(c.b[1], GW_EV_COUNTER_RESET), 1);
	const struct gw_day_register *dr = find_day(c.b[1], "wrap", "1.8.0");
	assert_int_equal(dr->start_value, 0); /* interpolated across the wrap */
	assert_int_equal(dr->consumption, 1440);
	assert_int_equal(dr->quality, GW_Q_INTERPOLATED);
	/* day 1 of "wrap" has no start boundary: incomplete, from 00:07 */
	assert_int_equal(find_day(c.b[0], "wrap", "1.8.0")->consumption, 1440 - 7);
	/* the swap between 23:52 and 00:07: day 1 ends on the old counter */
	dr = find_day(c.b[0], "swap", "1.8.0");
	assert_int_equal(dr->end_value, 700000 + 1432);
	assert_int_equal(dr->quality, GW_Q_INCOMPLETE);
	dr = find_day(c.b[1], "swap", "1.8.0");
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	/* the new counter counted from 0: 7 Wh by 00:07, then on to 1440 */
	assert_int_equal(dr->consumption, 1440);
	free_collected(&c);
	gw_batcher_free(b);
}

/* A meter replaced, as the scheduler tells by its serial number (a
 * meter_replaced event at the new meter's first read): the old register
 * and the new one are counted apart, whatever their values, with no
 * counter_reset or jump; the step between them is not known. */
static void known_replacement(void **state)
{
	struct gw_batcher *b = new_batcher_power(100000, 0);
	struct collected c = {0};
	struct gw_event ev;

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	/* at noon, by a meter whose register stands far higher */
	memset(&ev, 0, sizeof(ev));
	snprintf(ev.meter_id, sizeof(ev.meter_id), "noon");
	ev.kind = GW_EV_METER_REPLACED;
	ev.ts_ms = t0 + 12 * HOUR;
	snprintf(ev.detail, sizeof(ev.detail), "serial A1 -> B2");
	assert_int_equal(gw_batcher_add_event(b, &ev), 0);
	/* between 23:52 and 00:07, by one whose register starts at 300 */
	snprintf(ev.meter_id, sizeof(ev.meter_id), "night");
	ev.ts_ms = t0 + 24 * HOUR + 7 * MIN;
	assert_int_equal(gw_batcher_add_event(b, &ev), 0);
	for (int64_t t = t0; t <= t0 + 48 * HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		struct gw_reading r = rd("noon", "1.8.0", t,
					 min < 720 ? 900000 + min : 5000000 + (min - 720),
					 GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	/* "told": the same noon swap, known from before a restart (no event) */
	assert_int_equal(gw_batcher_add_replacement(b, "told", t0 + 12 * HOUR), 0);
	for (int64_t t = t0; t <= t0 + 48 * HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		struct gw_reading r = rd("told", "1.8.0", t,
					 min < 720 ? 900000 + min : 5000000 + (min - 720),
					 GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	for (int64_t t = t0 + 7 * MIN; t <= t0 + 49 * HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		struct gw_reading r = rd("night", "1.8.0", t,
					 min < 1440 ? 700000 + min : 300 + (min - 1447),
					 GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	assert_int_equal(gw_batcher_advance(b, t0 + 49 * HOUR, collect, &c), 2);
	/* 705 Wh on the old meter to 11:45, 720 on the new one from noon */
	const struct gw_day_register *dr = find_day(c.b[0], "noon", "1.8.0");
	assert_int_equal(dr->consumption, 705 + 720);
	assert_int_equal(dr->start_value, 900000);
	assert_int_equal(dr->end_value, 5000720);
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	dr = find_day(c.b[0], "told", "1.8.0");
	assert_int_equal(dr->consumption, 705 + 720);
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	/* the next day is the new meter's alone */
	dr = find_day(c.b[1], "noon", "1.8.0");
	assert_int_equal(dr->consumption, 1440);
	assert_int_equal(dr->quality, GW_Q_MEASURED);
	/* across midnight: day 1 ends on the old meter's last value, day 2
	 * counts the new one from 00:07 (300) to midnight (interpolated) */
	dr = find_day(c.b[0], "night", "1.8.0");
	assert_int_equal(dr->end_value, 700000 + 1432);
	dr = find_day(c.b[1], "night", "1.8.0");
	assert_int_equal(dr->start_value, 700000 + 1432);
	assert_int_equal(dr->consumption, 1433);
	assert_int_equal(dr->quality, GW_Q_ESTIMATED);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(count_events(c.b[i], GW_EV_COUNTER_RESET), 0);
		assert_int_equal(count_events(c.b[i], GW_EV_JUMP), 0);
	}
	/* one event each for "noon" and "night"; none made up for "told" */
	assert_int_equal(count_events(c.b[0], GW_EV_METER_REPLACED), 1);
	assert_int_equal(count_events(c.b[1], GW_EV_METER_REPLACED), 1);
	free_collected(&c);
	gw_batcher_free(b);
}

/* Readings that arrive for a day already sealed produce a new revision of
 * that day, never a lost update; outside the window they are dropped and
 * counted. */
static void late_readings_revise(void **state)
{
	struct gw_batcher *b = new_batcher_power(0, 2);
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	/* meter a every 15 min; meter b offline from 08:00 on day 1 */
	for (int64_t t = t0 - HOUR; t <= t0 + 24 * HOUR + HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		struct gw_reading r = rd("a", "1.8.0", t, min, GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
		if (t <= t0 + 8 * HOUR) {
			r = rd("b", "1.8.0", t, 2 * min, GW_UNIT_WH);
			gw_batcher_add(b, &r, 1);
		}
	}
	gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c);
	struct gw_batch *first = NULL;
	for (int i = 0; i < c.n; i++)
		if (c.b[i]->day == d0)
			first = c.b[i];
	assert_non_null(first);
	assert_int_equal(find_day(first, "b", "1.8.0")->quality, GW_Q_INCOMPLETE);
	assert_int_equal(find_day(first, "b", "1.8.0")->consumption, 2 * 480);
	int before = c.n;
	/* meter b's load profile arrives later, for the rest of day 1 */
	for (int64_t t = t0 + 8 * HOUR; t <= t0 + 24 * HOUR + HOUR; t += 15 * MIN) {
		struct gw_reading r = rd("b", "1.8.0", t, 2 * ((t - t0) / MIN), GW_UNIT_WH);
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
	/* a repeated reading changes nothing: no revision for day 0 - 1 */
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 1);
	assert_int_equal(c.n, before + 1);
	struct gw_batch *rev = c.b[c.n - 1];
	assert_int_equal(rev->day, d0);
	const struct gw_day_register *dr = find_day(rev, "b", "1.8.0");
	assert_int_equal(dr->quality, GW_Q_MEASURED);
	assert_int_equal(dr->consumption, 2 * 1440);
	assert_int_equal(find_day(rev, "a", "1.8.0")->consumption, 1440);
	/* nothing more to seal again */
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 0);
	/* far too late: dropped and counted */
	struct gw_reading old = rd("a", "1.8.0", t0 - 5 * 24 * HOUR, 1, GW_UNIT_WH);
	uint64_t late = gw_drops_get(GW_DROP_LATE);
	gw_batcher_add(b, &old, 1);
	assert_int_equal(gw_drops_get(GW_DROP_LATE), late + 1);
	/* a replayed cycle read while its day was open causes no revision */
	struct gw_reading again[2] = {rd("a", "1.8.0", t0 + 3 * MIN, 3, GW_UNIT_WH),
				      rd("b", "1.8.0", t0 + 3 * MIN, 6, GW_UNIT_WH)};
	gw_batcher_replay(b, again, 2);
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 0);
	free_collected(&c);
	gw_batcher_free(b);

	/* After a crash: day 0 sealed (restored), then the journal replays
	 * the cycles. A late load profile for day 0, read on day 1 after day
	 * 0's seal time, must still revise day 0. */
	b = new_batcher_power(0, 2);
	gw_batcher_restore(b, d0 + 1);
	struct gw_reading cyc[3] = {
		rd("a", "1.8.0", t0 + 10 * HOUR, 600, GW_UNIT_WH),   /* late */
		rd("a", "1.8.0", t0 + 23 * HOUR, 1380, GW_UNIT_WH),  /* late */
		rd("a", "1.8.0", t0 + 26 * HOUR, 1560, GW_UNIT_WH),  /* now */
	};
	cyc[0].status = cyc[1].status = GW_RS_PROFILE; /* from its load profile */
	struct gw_reading early[2] = {
		rd("a", "1.8.0", t0 - 2 * MIN, 0, GW_UNIT_WH), /* cycle of day 0 */
		rd("a", "1.8.0", t0 + 2 * MIN, 2, GW_UNIT_WH),
	};
	assert_int_equal(gw_batcher_replay(b, early, 2), 0);
	assert_int_equal(gw_batcher_advance(b, t0 + 26 * HOUR, collect, &c), 0);
	assert_int_equal(gw_batcher_replay(b, cyc, 3), 0);
	assert_int_equal(gw_batcher_advance(b, t0 + 26 * HOUR, collect, &c), 1);
	assert_int_equal(c.b[0]->day, d0);
	free_collected(&c);
	gw_batcher_free(b);
}

/* Readings arriving in any order, with sealing in between: the latest
 * revision of every day equals the days sealed from readings in order. */
static void property_late_arrival(void **state)
{
	(void)state;
	gw_tz_set("America/New_York");
	srand(777);
	for (int round = 0; round < 10; round++) {
		int32_t d0 = day_of("2026-10-30");
		int64_t t0 = gw_tz_day_start(d0), stop = gw_tz_day_start(d0 + 4);
		size_t n = 0;
		struct gw_reading r[600];
		int64_t v = 1000;
		for (int64_t t = t0 - HOUR; t < stop && n < 600;
		     t += (10 + rand() % 20) * MIN) {
			r[n++] = rd(rand() % 2 ? "m1" : "m2", "1.8.0", t, v, GW_UNIT_WH);
			v += rand() % 100;
		}
		struct gw_day_register want[8], got[8];
		int nw = 0, ng = 0;
		for (int pass = 0; pass < 2; pass++) {
			struct gw_batcher *b = new_batcher_power(0, 31);
			struct collected c = {0};
			if (pass == 1)
				for (size_t i = n - 1; i > 0; i--) {
					size_t j = (size_t)rand() % (i + 1);
					struct gw_reading tmp = r[i];
					r[i] = r[j];
					r[j] = tmp;
				}
			for (size_t i = 0; i < n; i++) {
				gw_batcher_add(b, &r[i], 1);
				if (pass == 1 && i % 50 == 49) {
					gw_batcher_advance(b, stop + HOUR, collect, &c);
					if (c.n > 48) /* keep the newest batches */
						free_collected(&c);
				}
			}
			gw_batcher_advance(b, stop + HOUR, collect, &c);
			/* latest revision of each day, for meter m1 */
			int *cnt = pass ? &ng : &nw;
			struct gw_day_register *out = pass ? got : want;
			*cnt = 0;
			for (int32_t d = d0 - 1; d < d0 + 4; d++) {
				const struct gw_day_register *last = NULL;
				for (int i = 0; i < c.n; i++)
					if (c.b[i]->day == d && find_day(c.b[i], "m1", "1.8.0"))
						last = find_day(c.b[i], "m1", "1.8.0");
				if (last)
					out[(*cnt)++] = *last;
			}
			free_collected(&c);
			gw_batcher_free(b);
		}
		assert_int_equal(ng, nw);
		assert_memory_equal(got, want, sizeof(want[0]) * (size_t)nw);
	}
}

/* Same readings, split into polls of random size and added in random
 * order: the same days, and consecutive days sum to the register's change
 * between the first and last midnight. A monotonic register never yields a
 * negative day. */
static void property_split_and_order(void **state)
{
	(void)state;
	gw_tz_set("Europe/Berlin");
	srand(12345);
	for (int round = 0; round < 20; round++) {
		int32_t d0 = day_of("2026-03-27") + (round % 3) * 100;
		int64_t t0 = gw_tz_day_start(d0);
		size_t n = 0, cap = 2000;
		struct gw_reading *r = calloc(cap, sizeof(*r));
		int64_t v = 1000000;
		int64_t stop = gw_tz_day_start(d0 + 4) + 12 * HOUR;
		for (int64_t t = t0 - 2 * HOUR; t < stop && n < cap;) {
			r[n++] = rd("m1", "1.8.0", t, v, GW_UNIT_WH);
			t += (5 + rand() % 40) * MIN; /* irregular polls */
			v += rand() % 500;            /* monotonic */
		}
		int64_t totals[2] = {0, 0}, firsts[2] = {0, 0};
		struct gw_day_register days[2][8];
		int ndays[2] = {0, 0};
		for (int pass = 0; pass < 2; pass++) {
			struct gw_batcher *b = new_batcher();
			struct collected c = {0};
			if (pass == 1) { /* shuffle */
				for (size_t i = n - 1; i > 0; i--) {
					size_t j = (size_t)rand() % (i + 1);
					struct gw_reading tmp = r[i];
					r[i] = r[j];
					r[j] = tmp;
				}
			}
			for (size_t i = 0; i < n;) {
				size_t k = 1 + (size_t)rand() % 7;
				if (k > n - i)
					k = n - i;
				assert_int_equal(gw_batcher_add(b, r + i, k), 0);
				i += k;
			}
			gw_batcher_advance(b, t0 + 6 * 24 * HOUR, collect, &c);
			for (int i = 0; i < c.n; i++) {
				const struct gw_day_register *dr =
					find_day(c.b[i], "m1", "1.8.0");
				if (!dr || dr->quality == GW_Q_INCOMPLETE)
					continue;
				assert_true(dr->consumption >= 0);
				if (ndays[pass] == 0)
					firsts[pass] = dr->start_value;
				else /* days chain: one's end is the next's start */
					assert_int_equal(dr->start_value,
							 days[pass][ndays[pass] - 1].end_value);
				totals[pass] += dr->consumption;
				days[pass][ndays[pass]++] = *dr;
			}
			free_collected(&c);
			gw_batcher_free(b);
		}
		assert_int_equal(ndays[0], 4);
		assert_int_equal(ndays[1], ndays[0]);
		assert_memory_equal(days[0], days[1], sizeof(days[0][0]) * (size_t)ndays[0]);
		assert_int_equal(totals[0],
				 days[0][ndays[0] - 1].end_value - firsts[0]);
		free(r);
	}
}

/* Events go into the batch of the first day sealed after their time, and
 * stay queued when sealing fails. */
static int refuse(void *ctx, struct gw_batch *b)
{
	(void)ctx;
	gw_batch_free(b);
	return GW_EIO;
}

static void events_follow_days(void **state)
{
	struct gw_batcher *b = new_batcher();
	struct collected c = {0};
	struct gw_event ev = {.meter_id = "m1", .kind = GW_EV_OFFLINE};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	for (int64_t t = t0; t <= t0 + 48 * HOUR; t += HOUR) {
		struct gw_reading r = rd("m1", "1.8.0", t, t / MIN, GW_UNIT_WH);
		gw_batcher_add(b, &r, 1);
	}
	ev.ts_ms = t0 + 3 * HOUR;
	assert_int_equal(gw_batcher_add_event(b, &ev), 0);
	ev.ts_ms = t0 + 30 * HOUR;
	ev.kind = GW_EV_ONLINE;
	assert_int_equal(gw_batcher_add_event(b, &ev), 0);
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, refuse, NULL), GW_EIO);
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 1);
	assert_int_equal(c.b[0]->n_events, 1);
	assert_int_equal(c.b[0]->events[0].kind, GW_EV_OFFLINE);
	assert_int_equal(gw_batcher_advance(b, t0 + 49 * HOUR, collect, &c), 1);
	assert_int_equal(c.b[1]->n_events, 1);
	assert_int_equal(c.b[1]->events[0].kind, GW_EV_ONLINE);
	assert_string_equal(gw_event_name(GW_EV_METER_REPLACED), "meter_replaced");
	assert_null(gw_event_name(0));
	free_collected(&c);
	gw_batcher_free(b);
}

/* The latest batch of day d among the collected ones (a later revision
 * replaces an earlier one), or NULL. */
static const struct gw_batch *latest(const struct collected *c, int32_t d)
{
	const struct gw_batch *b = NULL;

	for (int i = 0; i < c->n; i++)
		if (c->b[i]->day == d)
			b = c->b[i];
	return b;
}

static int batches_of(const struct collected *c, int32_t d)
{
	int n = 0;

	for (int i = 0; i < c->n; i++)
		n += c->b[i]->day == d;
	return n;
}

static const struct gw_event *find_event(const struct collected *c,
					 enum gw_event_kind k, const char *meter)
{
	for (int i = 0; i < c->n; i++)
		for (size_t j = 0; j < c->b[i]->n_events; j++)
			if (c->b[i]->events[j].kind == k &&
			    strcmp(c->b[i]->events[j].meter_id, meter) == 0)
				return &c->b[i]->events[j];
	return NULL;
}

/* Feeds a meter consuming 1 Wh a minute, read every 15 minutes from
 * `from` to `to` except in [off, on), advancing the clock as it goes
 * (sealing each day 30 minutes after it ends, as gatewayd does). */
static void feed(struct gw_batcher *b, struct collected *c, const char *meter,
		 int64_t t0, int64_t from, int64_t to, int64_t off, int64_t on)
{
	for (int64_t t = from; t <= to; t += 15 * MIN) {
		gw_batcher_advance(b, t, collect, c);
		if (t >= off && t < on)
			continue;
		struct gw_reading r = rd(meter, "1.8.0", t, 100000 + (t - t0) / MIN,
					 GW_UNIT_WH);
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
}

/* A meter silent from 18:00 on day 1 to 10:00 on day 3, inside the
 * revision window: when it comes back, day 1 is sealed again with its end
 * (no longer incomplete), day 2 gets an estimated row missing all its
 * minutes, day 3 starts where day 2 ends, and the days add up exactly. */
static void dark_day_revised(void **state)
{
	struct gw_batcher *b = new_batcher_power(250000, 2);
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1);
	feed(b, &c, "m1", t0, t0, t0 + 4 * 24 * HOUR, t0 + 18 * HOUR + 1,
	     t0 + 2 * 24 * HOUR + 10 * HOUR);
	gw_batcher_advance(b, t0 + 4 * 24 * HOUR + HOUR, collect, &c);
	/* day 1 was sealed incomplete first, then again when m1 came back */
	assert_true(batches_of(&c, d1) >= 2);
	const struct gw_day_register *r1 = find_day(latest(&c, d1), "m1", "1.8.0");
	const struct gw_day_register *r2 = find_day(latest(&c, d1 + 1), "m1", "1.8.0");
	const struct gw_day_register *r3 = find_day(latest(&c, d1 + 2), "m1", "1.8.0");
	assert_non_null(r1);
	assert_non_null(r2);
	assert_non_null(r3);
	assert_int_equal(find_day(c.b[0], "m1", "1.8.0")->quality, GW_Q_INCOMPLETE);
	assert_int_equal(r1->quality, GW_Q_ESTIMATED);
	assert_int_equal(r1->consumption, 1440); /* 1 Wh a minute: exact */
	assert_int_equal(r2->quality, GW_Q_ESTIMATED);
	assert_int_equal(r2->readings, 0);
	assert_int_equal(r2->minutes_missing, 1440);
	assert_int_equal(r2->consumption, 1440);
	assert_int_equal(r2->start_value, r1->end_value);
	assert_int_equal(r3->start_value, r2->end_value);
	assert_int_equal(r3->quality, GW_Q_ESTIMATED);
	assert_int_equal(r3->consumption, 1440);
	/* 18:00 .. 10:00 two days later is missing but for half a poll
	 * interval at each end: 6 h less 7.5 min on day 1, 10 h less 7.5
	 * min on day 3 */
	assert_int_equal(r1->minutes_missing, 360 - 8);
	assert_int_equal(r3->minutes_missing, 600 - 8);
	assert_null(find_event(&c, GW_EV_LONG_GAP, "m1"));
	free_collected(&c);
	gw_batcher_free(b);
}

/* Silent from noon on day 1 to noon on day 5 with a window of one day:
 * when it comes back, days 1 to 3 are final. Day 4, the oldest that can
 * be sealed again, starts at the register interpolated to its midnight;
 * the energy between the last reading and that midnight is on no day, and
 * a long_gap event says how much (1 Wh a minute: 2.5 days = 3600 Wh), so
 * that the books still balance. */
static void long_gap_event(void **state)
{
	struct gw_batcher *b = new_batcher_power(250000, 1);
	struct collected c = {0};
	struct gw_long_gaps g;

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1);
	feed(b, &c, "m1", t0, t0, t0 + 6 * 24 * HOUR, t0 + 12 * HOUR + 1,
	     t0 + 4 * 24 * HOUR + 12 * HOUR);
	gw_batcher_advance(b, t0 + 6 * 24 * HOUR + HOUR, collect, &c);
	const struct gw_day_register *r1 = find_day(latest(&c, d1), "m1", "1.8.0");
	assert_int_equal(r1->quality, GW_Q_INCOMPLETE);
	assert_int_equal(r1->end_value, 100000 + 720); /* the last reading */
	assert_null(latest(&c, d1 + 1)); /* dark and final: no rows */
	assert_null(latest(&c, d1 + 2));
	const struct gw_day_register *r4 = find_day(latest(&c, d1 + 3), "m1", "1.8.0");
	assert_non_null(r4);
	assert_int_equal(r4->start_value, 100000 + 3 * 1440);
	assert_int_equal(r4->quality, GW_Q_ESTIMATED);
	assert_int_equal(r4->minutes_missing, 1440);
	const struct gw_event *e = find_event(&c, GW_EV_LONG_GAP, "m1");
	assert_non_null(e);
	assert_string_equal(e->obis, "1.8.0");
	assert_int_equal(e->ts_ms, t0 + 12 * HOUR); /* silent since */
	assert_string_equal(e->detail, "3600 Wh not placed on days before 2026-03-04 "
				       "(silent from 2026-03-01T05:00:00Z)");
	gw_batcher_long_gaps(b, &g);
	assert_int_equal(g.count, 1);
	assert_int_equal(g.wh, 3600);
	assert_int_equal(g.unknown, 0);
	assert_non_null(strstr(g.last, "m1 1.8.0 3600 Wh"));
	/* the books: rows plus the long gap make the register's change */
	int64_t sum = 3600;
	for (int32_t d = d1; d <= d1 + 5; d++) {
		const struct gw_batch *x = latest(&c, d);
		if (x && find_day(x, "m1", "1.8.0"))
			sum += find_day(x, "m1", "1.8.0")->consumption;
	}
	const struct gw_day_register *r6 = find_day(latest(&c, d1 + 5), "m1", "1.8.0");
	assert_int_equal(sum, r6->end_value - 100000);
	free_collected(&c);
	gw_batcher_free(b);
}

/* A gateway whose meters never answer still seals its days: the offline
 * and outage events go out with them. */
static void silent_gateway_seals_events(void **state)
{
	struct gw_batcher *b = new_batcher();
	struct collected c = {0};
	struct gw_event ev = {.meter_id = "m1", .kind = GW_EV_OFFLINE};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1);
	ev.ts_ms = t0 + 45 * MIN;
	assert_int_equal(gw_batcher_add_event(b, &ev), 0);
	ev.kind = GW_EV_POWER_OUTAGE;
	assert_int_equal(gw_batcher_add_event(b, &ev), 0);
	assert_int_equal(gw_batcher_oldest_open_day(b), d1);
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 1);
	assert_int_equal(c.b[0]->day, d1);
	assert_int_equal(c.b[0]->n_events, 2);
	assert_int_equal(c.b[0]->n_days, 0);
	/* the days go on without readings (nothing to seal) */
	assert_int_equal(gw_batcher_advance(b, t0 + 5 * 24 * HOUR, collect, &c), 0);
	assert_int_equal(gw_batcher_oldest_open_day(b), d1 + 4);
	free_collected(&c);
	gw_batcher_free(b);
}

/* Values that cannot be a cumulative register (negative, beyond 10^15,
 * the int64 limits, alternating huge positive and negative ones) are not
 * kept: counted as bad_value drops, one bad_value event per register and
 * day, the day flagged estimated; the day's energy stays exact. A garbage
 * value inside the range cannot invent energy either, even with no
 * max_power configured: an increase beyond 10 GW is a jump. Times before
 * 1970 or after 9999 are bad times. Nothing overflows, nothing crashes. */
static void extreme_values(void **state)
{
	static const int64_t garbage[] = {INT64_MAX, INT64_MIN, -1,
					  GW_ENERGY_MAX + 1, INT64_MAX - 1,
					  INT64_MIN + 1, 4611686018427387904LL,
					  -4611686018427387904LL};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1);
	for (int power = 0; power < 2; power++) {
		struct gw_batcher *b = new_batcher_power(power ? 250000 : 0, 2);
		struct collected c = {0};
		gw_drops_reset();
		for (int64_t t = t0; t <= t0 + 24 * HOUR; t += 15 * MIN) {
			int64_t min = (t - t0) / MIN;
			struct gw_reading r[4] = {
				rd("ok", "1.8.0", t, GW_ENERGY_MAX - 2000 + min, GW_UNIT_WH),
				rd("bad", "1.8.0", t, 5000 + min, GW_UNIT_WH),
				rd("bad", "1.8.0", t + 7 * MIN, garbage[(min / 15) % 8],
				   GW_UNIT_WH),
				rd("v", "32.7.0", t, min % 2 ? INT64_MAX : INT64_MIN, GW_UNIT_V),
			};
			assert_int_equal(gw_batcher_add(b, r, 4), 0);
			/* a spike inside the range at 10:07, a dip to 3 at 14:07 */
			if (min == 600) {
				struct gw_reading sp = rd("spike", "1.8.0", t + 7 * MIN,
							  100000000000000LL, GW_UNIT_WH);
				assert_int_equal(gw_batcher_add(b, &sp, 1), 0);
			}
			if (min == 840) {
				struct gw_reading dp = rd("spike", "1.8.0", t + 7 * MIN, 3,
							  GW_UNIT_WH);
				assert_int_equal(gw_batcher_add(b, &dp, 1), 0);
			}
			struct gw_reading s = rd("spike", "1.8.0", t, 7000 + min, GW_UNIT_WH);
			assert_int_equal(gw_batcher_add(b, &s, 1), 0);
		}
		struct gw_reading t_bad[2] = {rd("ok", "1.8.0", INT64_MAX, 1, GW_UNIT_WH),
					      rd("ok", "1.8.0", -1, 1, GW_UNIT_WH)};
		assert_int_equal(gw_batcher_add(b, t_bad, 2), 0);
		assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 1);
		const struct gw_batch *x = c.b[0];
		const struct gw_day_register *ok = find_day(x, "ok", "1.8.0");
		assert_int_equal(ok->consumption, 1440);
		assert_int_equal(ok->end_value, GW_ENERGY_MAX - 2000 + 1440);
		assert_int_equal(ok->quality, GW_Q_MEASURED);
		const struct gw_day_register *bad = find_day(x, "bad", "1.8.0");
		assert_int_equal(bad->consumption, 1440);
		assert_int_equal(bad->readings, 96);
		assert_int_equal(bad->quality, GW_Q_ESTIMATED);
		assert_int_equal(count_events(x, GW_EV_BAD_VALUE), 1);
		assert_int_equal(gw_drops_get(GW_DROP_BAD_VALUE), 97);
		assert_int_equal(gw_drops_get(GW_DROP_BAD_TIME), 2);
		/* the spike and the dip: left out, the day flagged, no energy
		 * made up or lost */
		const struct gw_day_register *sp = find_day(x, "spike", "1.8.0");
		assert_int_equal(sp->consumption, 1440);
		assert_int_equal(sp->quality, GW_Q_ESTIMATED);
		assert_int_equal(count_events(x, GW_EV_JUMP), 2);
		assert_int_equal(count_events(x, GW_EV_COUNTER_RESET), 0);
		/* instantaneous values are kept as read, whatever they are */
		for (size_t i = 0; i < x->n_series; i++)
			if (!strcmp(x->series[i].obis, "32.7.0"))
				assert_int_equal(x->series[i].value[1], INT64_MAX);
		free_collected(&c);
		gw_batcher_free(b);
	}
}

/* A meter back after a silence from 08:00 on day 2 to 08:00 on day 3, with
 * its load profile for the silence (GW_RS_PROFILE, two values derived:
 * GW_RS_DERIVED) delivered late in the cycle of its return: day 2 and day
 * 3 are sealed again from the profile as if read; the midnight between
 * them, a profile value, is measured, but where it is a derived value it
 * is interpolated, never measured. */
static void profile_backfill(void **state)
{
	(void)state;
	gw_tz_set("Europe/Berlin");
	int32_t d1 = day_of("2026-03-28"); /* day 2 is the 23-hour day */
	int64_t t0 = gw_tz_day_start(d1);
	for (int derived = 0; derived < 2; derived++) {
		struct gw_batcher *b = new_batcher_power(250000, 2);
		struct collected c = {0};
		int64_t off = gw_tz_day_start(d1 + 1) + 8 * HOUR;
		int64_t on = gw_tz_day_start(d1 + 2) + 8 * HOUR;
		feed(b, &c, "m1", t0, t0, on - 15 * MIN, off, on);
		/* at 08:00 on day 3: the profile and the current reading */
		struct gw_reading cyc[128];
		size_t n = 0;
		for (int64_t t = off; t <= on; t += 15 * MIN) {
			cyc[n] = rd("m1", "1.8.0", t, 100000 + (t - t0) / MIN, GW_UNIT_WH);
			cyc[n].status = t == on ? GW_RS_OK : GW_RS_PROFILE;
			if (derived && (t == gw_tz_day_start(d1 + 2) ||
					t == gw_tz_day_start(d1 + 2) - 15 * MIN))
				cyc[n].status = GW_RS_DERIVED;
			n++;
		}
		assert_true(n < 128);
		gw_batcher_advance(b, on, collect, &c);
		int before = c.n;
		assert_int_equal(find_day(latest(&c, d1 + 1), "m1", "1.8.0")->quality,
				 GW_Q_INCOMPLETE);
		assert_int_equal(gw_batcher_add(b, cyc, n), 0);
		assert_int_equal(gw_batcher_advance(b, on, collect, &c), 1);
		assert_int_equal(c.n, before + 1); /* day 2 again; day 3 is open */
		feed(b, &c, "m1", t0, on + 15 * MIN, gw_tz_day_start(d1 + 3) + HOUR, 0, 0);
		const struct gw_day_register *r2 = find_day(latest(&c, d1 + 1), "m1", "1.8.0");
		const struct gw_day_register *r3 = find_day(latest(&c, d1 + 2), "m1", "1.8.0");
		assert_int_equal(r2->readings, 92); /* 23 hours */
		assert_int_equal(r2->minutes_missing, 0);
		assert_int_equal(r2->consumption, 23 * 60);
		assert_int_equal(r3->start_value, r2->end_value);
		assert_int_equal(r3->consumption, 1440);
		assert_int_equal(r2->quality, derived ? GW_Q_INTERPOLATED : GW_Q_MEASURED);
		assert_int_equal(r3->quality, derived ? GW_Q_INTERPOLATED : GW_Q_MEASURED);
		free_collected(&c);
		gw_batcher_free(b);
	}
}

/* A late reading inside the day after a final midnight does not move that
 * midnight: the final day's end stays the next day's start. */
static void frozen_edge(void **state)
{
	struct gw_batcher *b = new_batcher_power(250000, 1);
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1);
	/* silent 23:00 .. 03:00 around day 2's start, then on */
	feed(b, &c, "m1", t0, t0, t0 + 2 * 24 * HOUR + HOUR, t0 + 23 * HOUR + 1,
	     t0 + 27 * HOUR);
	/* day 1 is final now (window 1, day 2 sealed); its end was
	 * interpolated over 23:00 .. 03:00 */
	const struct gw_day_register *r1 = find_day(latest(&c, d1), "m1", "1.8.0");
	assert_int_equal(r1->quality, GW_Q_ESTIMATED);
	int64_t end1 = r1->end_value;
	/* a late reading at 00:30 on day 2, off the line (a meter that ran
	 * fast at night): day 2 is sealed again, its start does not move */
	struct gw_reading late = rd("m1", "1.8.0", t0 + 24 * HOUR + 30 * MIN,
				    100000 + 1440 + 100, GW_UNIT_WH);
	late.status = GW_RS_PROFILE;
	assert_int_equal(gw_batcher_add(b, &late, 1), 0);
	int before = c.n;
	gw_batcher_advance(b, t0 + 2 * 24 * HOUR + HOUR, collect, &c);
	assert_int_equal(c.n, before + 1);
	const struct gw_day_register *r2 = find_day(latest(&c, d1 + 1), "m1", "1.8.0");
	assert_int_equal(r2->start_value, end1);
	assert_int_equal(r2->consumption, r2->end_value - r2->start_value);
	/* a reading for the final day itself is dropped as late */
	uint64_t late0 = gw_batcher_dropped(b);
	struct gw_reading old = rd("m1", "1.8.0", t0 + 23 * HOUR + 30 * MIN, 100000 + 1410,
				   GW_UNIT_WH);
	assert_int_equal(gw_batcher_add(b, &old, 1), 0);
	assert_int_equal(gw_batcher_dropped(b), late0 + 1);
	free_collected(&c);
	gw_batcher_free(b);
}

/* Across a restart: the edges saved when the last day was sealed, a
 * journal that holds only the last days, and a meter that has been silent
 * for longer: when it comes back after the restart, its long_gap event
 * and its days are the same as without the restart. Edges for a later
 * day are refused, a damaged text changes nothing. */
static void restart_long_gap(void **state)
{
	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1);
	int64_t off = t0 + 12 * HOUR + 1, on = t0 + 5 * 24 * HOUR + 12 * HOUR;
	int64_t crash = t0 + 4 * 24 * HOUR + 2 * HOUR;
	struct collected c = {0}, d = {0};

	/* without a restart */
	struct gw_batcher *b = new_batcher_power(250000, 1);
	feed(b, &c, "m1", t0, t0, t0 + 8 * 24 * HOUR, off, on);
	gw_batcher_free(b);

	/* with one: the gateway dies at 02:00 on day 5 */
	b = new_batcher_power(250000, 1);
	feed(b, &d, "m1", t0, t0, crash, off, on);
	char *text;
	size_t len;
	assert_int_equal(gw_batcher_edges_save(b, &text, &len), 0);
	int32_t next = gw_batcher_oldest_open_day(b);
	assert_int_equal(next, d1 + 4);
	assert_non_null(strstr(text, "m1\t1.8.0\tWh\tpending\t0\tmeasured\t"));
	gw_batcher_free(b);
	b = new_batcher_power(250000, 1);
	gw_batcher_restore(b, next);
	char why[128];
	/* damaged: every kind is refused and changes nothing */
	static const char *const bad[] = {
		"next_day=2026-03-05\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tWh\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tWh\tfrozen\t-5\tmeasured\t-\t-\t0\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tV\tfrozen\t5\tmeasured\t-\t-\t0\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tWh\tsideways\t5\tmeasured\t-\t-\t0\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tWh\tpending\t0\tmeasured\t-\t-\t0\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tWh\tfrozen\t5\tincomplete\t-\t-\t0\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tWh\tfrozen\t5\tmeasured\t12x\t5\t0\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nevent\tjump\tm1\t1.8.0\t5\t-\n",
		"next_day=2026-03-05 edge_day=2026-03-04\nm1\t1.8.0\tWh\tfrozen\t5\tmeasured\t-\t-\t0",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(gw_batcher_edges_load(b, bad[i], strlen(bad[i]), why,
						       sizeof(why)), GW_ECORRUPT);
	/* a line longer than any the core writes (a meter id of 400
	 * bytes), and a NUL inside a line: refused too */
	char longl[1024];
	int ln = snprintf(longl, sizeof(longl),
			  "next_day=2026-03-05 edge_day=2026-03-04\n"
			  "%0400d\t1.8.0\tWh\tfrozen\t5\tmeasured\t-\t-\t0\n", 1);
	assert_int_equal(gw_batcher_edges_load(b, longl, (size_t)ln, why, sizeof(why)),
			 GW_ECORRUPT);
	assert_non_null(strstr(why, "line 2"));
	static const char nul[] = "next_day=2026-03-05 edge_day=2026-03-04\n"
				  "m1\t1.8.0\tWh\tfr\0zen\t5\tmeasured\t-\t-\t0\n";
	assert_int_equal(gw_batcher_edges_load(b, nul, sizeof(nul) - 1, why, sizeof(why)),
			 GW_ECORRUPT);
	const char *later = "next_day=2026-03-09 edge_day=2026-03-08\n";
	assert_int_equal(gw_batcher_edges_load(b, later, strlen(later), why, sizeof(why)),
			 GW_EINVAL);
	assert_int_equal(gw_batcher_edges_load(b, text, len, why, sizeof(why)), 0);
	/* saved again, the same text */
	char *again;
	size_t alen;
	assert_int_equal(gw_batcher_edges_save(b, &again, &alen), 0);
	assert_int_equal(alen, len);
	assert_memory_equal(again, text, len);
	free(again);
	free(text);
	/* the journal from day 4 (next - 1 - window) on: m1 said nothing */
	feed(b, &d, "m1", t0, crash, t0 + 8 * 24 * HOUR, off, on);
	gw_batcher_free(b);

	const struct gw_event *e1 = find_event(&c, GW_EV_LONG_GAP, "m1");
	const struct gw_event *e2 = find_event(&d, GW_EV_LONG_GAP, "m1");
	assert_non_null(e1);
	assert_non_null(e2);
	assert_string_equal(e1->detail, e2->detail);
	assert_int_equal(e1->ts_ms, e2->ts_ms);
	for (int32_t day = d1; day <= d1 + 6; day++) {
		const struct gw_batch *x = latest(&c, day), *y = latest(&d, day);
		assert_true(!x == !y);
		if (!x)
			continue;
		const struct gw_day_register *p = find_day(x, "m1", "1.8.0");
		const struct gw_day_register *q = find_day(y, "m1", "1.8.0");
		assert_int_equal(p->start_value, q->start_value);
		assert_int_equal(p->end_value, q->end_value);
		assert_int_equal(p->quality, q->quality);
		assert_int_equal(p->minutes_missing, q->minutes_missing);
	}
	free_collected(&c);
	free_collected(&d);
}

/* A meter silent beyond the window comes back with its load profile for
 * the gap, the current reading first and the profile after it (as the IEC
 * driver delivers them): the edge midnight is taken up against the
 * earliest profile value after it, not the current reading. The register
 * stood still through the silence and ran from the edge midnight on, so
 * almost nothing is left unplaced. */
static void backfill_after_long_gap(void **state)
{
	struct gw_batcher *b = new_batcher_power(250000, 1);
	struct collected c = {0};
	struct gw_reading cyc[160];
	struct gw_long_gaps g;

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1), d4 = t0 + 3 * 24 * HOUR;
	int64_t on = t0 + 4 * 24 * HOUR + 12 * HOUR;
	for (int64_t t = t0; t <= on; t += 15 * MIN) {
		gw_batcher_advance(b, t, collect, &c);
		if (t > t0 + 12 * HOUR)
			continue; /* silent from 12:00 on day 1 */
		struct gw_reading r = rd("m1", "1.8.0", t, 100000 + (t - t0) / MIN, GW_UNIT_WH);
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
	/* flat at 100720 until day 4's midnight, then 1 Wh a minute */
	size_t n = 0;
	cyc[n++] = rd("m1", "1.8.0", on, 100720 + (on - d4) / MIN, GW_UNIT_WH);
	for (int64_t t = d4 + 5 * MIN; t < on; t += 15 * MIN, n++) {
		cyc[n] = rd("m1", "1.8.0", t, 100720 + (t - d4) / MIN, GW_UNIT_WH);
		cyc[n].status = GW_RS_PROFILE;
	}
	assert_true(n < 160);
	assert_int_equal(gw_batcher_add(b, cyc, n), 0);
	gw_batcher_advance(b, on, collect, &c);
	/* counted once day 4 is final (window 1: when day 5 is sealed) */
	gw_batcher_long_gaps(b, &g);
	assert_int_equal(g.count, 0);
	feed(b, &c, "m1", d4 - 720 * MIN, on + 15 * MIN, on + 2 * 24 * HOUR, 0, 0);
	gw_batcher_long_gaps(b, &g);
	assert_int_equal(g.count, 1);
	assert_true(g.wh <= 5); /* 100720 .. the midnight, from the 00:05 value */
	const struct gw_day_register *r4 = find_day(latest(&c, d1 + 3), "m1", "1.8.0");
	assert_non_null(r4);
	assert_int_equal(r4->start_value, 100720 + g.wh);
	free_collected(&c);
	gw_batcher_free(b);
}

/* A midnight interpolated over a gap and frozen (window 0: final as soon
 * as its day is sealed), then the meter's load profile shows the register
 * stood still until after midnight: the frozen value was high. The next
 * day holds its books at the frozen value until the register passes it:
 * no counter reset, its days chain and add up, and it is estimated. */
static void frozen_estimate_overshoot(void **state)
{
	struct gw_batcher *b = new_batcher_power(250000, 0);
	struct collected c = {0};

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1), m = t0 + 24 * HOUR;
	/* 1 Wh a minute to 20:00, still until 00:10, 10 Wh a minute after */
	for (int64_t t = t0; t <= m + 15 * MIN; t += 15 * MIN) {
		if (t > t0 + 20 * HOUR && t < m + 15 * MIN)
			continue; /* silent 20:00 .. 00:15 */
		gw_batcher_advance(b, t, collect, &c);
		int64_t v = t <= t0 + 20 * HOUR ? 5000 + (t - t0) / MIN : 6200 + 10 * ((t - m) / MIN - 10);
		struct gw_reading r = rd("m1", "1.8.0", t, v, GW_UNIT_WH);
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
	/* day 1 sealed at 00:30, its end interpolated between 20:00 and 00:15 */
	gw_batcher_advance(b, m + 30 * MIN, collect, &c);
	const struct gw_day_register *r1 = find_day(latest(&c, d1), "m1", "1.8.0");
	assert_int_equal(r1->end_value, 6200 + 47); /* 50 Wh x 240 / 255 */
	/* the profile of the gap at 00:35: still at 6200 at 00:05 */
	struct gw_reading cyc[3] = {
		rd("m1", "1.8.0", m + 35 * MIN, 6450, GW_UNIT_WH),
		rd("m1", "1.8.0", m + 5 * MIN, 6200, GW_UNIT_WH),
		rd("m1", "1.8.0", m + 10 * MIN, 6200, GW_UNIT_WH),
	};
	cyc[1].status = cyc[2].status = GW_RS_PROFILE;
	assert_int_equal(gw_batcher_add(b, cyc, 3), 0);
	for (int64_t t = m + 45 * MIN; t <= m + 24 * HOUR + HOUR; t += 15 * MIN) {
		gw_batcher_advance(b, t, collect, &c);
		struct gw_reading r = rd("m1", "1.8.0", t, 6200 + 10 * ((t - m) / MIN - 10),
					 GW_UNIT_WH);
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
	const struct gw_day_register *r2 = find_day(latest(&c, d1 + 1), "m1", "1.8.0");
	assert_non_null(r2);
	assert_int_equal(r2->start_value, r1->end_value);
	assert_int_equal(r2->consumption, r2->end_value - r2->start_value);
	assert_int_equal(r2->end_value, 6200 + 10 * (1440 - 10));
	assert_int_equal(r2->quality, GW_Q_ESTIMATED);
	assert_null(find_event(&c, GW_EV_COUNTER_RESET, "m1"));
	free_collected(&c);
	gw_batcher_free(b);
}

static int64_t rollover_own(void *ctx, const char *meter, const char *obis)
{
	(void)ctx;
	(void)obis;
	return 100000 + atoi(meter + 1);
}

/* Meters "r<N>" with a rollover of their own, far above their values
 * (none wraps); others none. */
static int64_t rollover_far(void *ctx, const char *meter, const char *obis)
{
	(void)ctx;
	(void)obis;
	return meter[0] == 'r' ? 1000000000 + atoi(meter + 1) : 0;
}

/* frozen_estimate_overshoot for the meters m[0..n) at once: each day 2
 * held at its frozen edge value (the track's edge value read back at the
 * edge midnight and for each point after it), and the same days for
 * every meter. Meters "p<N>" have a bad value on day 1 (their ext made
 * after their edge value's slot); meters "u<N>" read in V once, three
 * hours before, then in Wh (an energy track since its second reading). */
static void overshoot_each(const char *const *m, int n)
{
	struct gw_batcher *b = new_batcher_roll(250000, 0, rollover_far);
	struct collected c = {0};
	int32_t d1 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d1), mid = t0 + 24 * HOUR;
	struct gw_reading r;

	for (int i = 0; i < n; i++) {
		if (m[i][0] != 'u')
			continue;
		r = rd(m[i], "1.8.0", t0 - 3 * HOUR, 2300, GW_UNIT_V);
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
	for (int64_t t = t0; t <= mid + 24 * HOUR + HOUR; t += 15 * MIN) {
		gw_batcher_advance(b, t, collect, &c);
		for (int i = 0; i < n; i++) {
			if (t > t0 + 20 * HOUR && t < mid + 15 * MIN)
				continue; /* silent 20:00 .. 00:15 */
			int64_t v = t <= t0 + 20 * HOUR ? 5000 + (t - t0) / MIN
							: 6200 + 10 * ((t - mid) / MIN - 10);
			r = rd(m[i], "1.8.0", t, v, GW_UNIT_WH);
			assert_int_equal(gw_batcher_add(b, &r, 1), 0);
			if (t == t0 + HOUR && m[i][0] == 'p') {
				r = rd(m[i], "1.8.0", t + MIN, -5, GW_UNIT_WH);
				assert_int_equal(gw_batcher_add(b, &r, 1), 0);
			}
			if (t == mid + 45 * MIN) {
				/* after day 1's seal, the profile of the gap:
				 * still at 00:05 and 00:10 */
				for (int k = 1; k <= 2; k++) {
					r = rd(m[i], "1.8.0", mid + 5 * k * MIN, 6200,
					       GW_UNIT_WH);
					r.status = GW_RS_PROFILE;
					assert_int_equal(gw_batcher_add(b, &r, 1), 0);
				}
			}
		}
	}
	for (int i = 0; i < n; i++) {
		const struct gw_day_register *r1 = find_day(latest(&c, d1), m[i], "1.8.0");
		const struct gw_day_register *r2 = find_day(latest(&c, d1 + 1), m[i], "1.8.0");
		assert_non_null(r1);
		assert_non_null(r2);
		assert_int_equal(r1->end_value, 6200 + 47);
		assert_int_equal(r2->start_value, r1->end_value);
		assert_int_equal(r2->consumption, r2->end_value - r2->start_value);
		assert_int_equal(r2->end_value, 6200 + 10 * (1440 - 10));
		assert_int_equal(r2->quality, GW_Q_ESTIMATED);
		assert_null(find_event(&c, GW_EV_COUNTER_RESET, m[i]));
	}
	free_collected(&c);
	gw_batcher_free(b);
}

/* What a track keeps beside it when its own fields cannot hold it: 300
 * registers each with a rollover of its own (more than the batcher's
 * table of distinct rollovers holds), each wrapping at 10:40, count
 * their day exactly across the wrap; a register silent for 60 days (a
 * time step wider than 32 bits of ms) and back counts its days after
 * the silence exactly, from points encoded on from the one before, as
 * do registers whose last point is too far from the batcher's base or
 * whose values leave 32 bits (the last point in the ext); the
 * edge value of a register with an ext (a rollover beyond the table, or
 * a bad value after its edge value's slot was taken) is its own, as of
 * one without. */
static void track_ext_fields(void **state)
{
	enum { N = 300 };
	static struct gw_reading r[N];
	struct collected c = {0};
	char name[16];

	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int32_t d0 = day_of("2026-03-01");
	int64_t t0 = gw_tz_day_start(d0);
	struct gw_batcher *b = new_batcher_roll(0, 0, rollover_own);
	for (int64_t t = t0; t <= t0 + 24 * HOUR; t += 15 * MIN) {
		int64_t min = (t - t0) / MIN;
		for (int i = 0; i < N; i++) {
			int64_t roll = 100000 + i;
			snprintf(name, sizeof(name), "w%d", i);
			r[i] = rd(name, "1.8.0", t, (roll - 640 + min) % roll, GW_UNIT_WH);
		}
		assert_int_equal(gw_batcher_add(b, r, N), 0);
	}
	assert_int_equal(gw_batcher_advance(b, t0 + 25 * HOUR, collect, &c), 1);
	for (int i = 0; i < N; i++) {
		int64_t roll = 100000 + i;
		snprintf(name, sizeof(name), "w%d", i);
		const struct gw_day_register *dr = find_day(c.b[0], name, "1.8.0");
		assert_non_null(dr);
		assert_int_equal(dr->consumption, 1440);
		assert_int_equal(dr->quality, GW_Q_MEASURED);
		assert_int_equal(dr->end_value, (roll - 640 + 1440) % roll);
	}
	assert_int_equal(count_events(c.b[0], GW_EV_COUNTER_WRAP), N);
	free_collected(&c);
	gw_batcher_free(b);

	/* 1 Wh a minute; read 00:00-02:00 on day 0, then from 12:00 on day
	 * 60 to the end of day 62: "far" read at 12:00 before the days
	 * between are sealed (its last point more than 24 days from the
	 * base of the last points' times, into its ext as it comes),
	 * "dark" from 12:15 on, after they are (its last point left behind
	 * by the base as it moved with the open day, into its ext then);
	 * and registers whose values leave 32 bits on day 61 at 12:00,
	 * upwards ("high") and downwards ("low", instantaneous), or run at
	 * the ends of the range ("top", "bottom") */
	static const struct {
		const char *meter, *obis;
		enum gw_unit unit;
		int64_t from, step;
	} far[] = {
		{"far", "1.8.0", GW_UNIT_WH, 0, 1},
		{"dark", "1.8.0", GW_UNIT_WH, 0, 1},
		{"high", "1.8.0", GW_UNIT_WH, INT32_MAX - (61 * 1440 + 720), 1},
		{"top", "1.8.0", GW_UNIT_WH, GW_ENERGY_MAX - 63 * 1440, 1},
		{"low", "32.7.0", GW_UNIT_V, INT32_MIN + (61 * 1440 + 720), -1},
		{"bottom", "32.7.0", GW_UNIT_V, INT64_MIN + 63 * 1440, -1},
	};
	enum { NF = sizeof(far) / sizeof(far[0]) };
	b = new_batcher();
	int64_t back = t0 + 60 * 24 * HOUR + 12 * HOUR;
	for (int64_t t = t0; t <= t0 + 62 * 24 * HOUR + 24 * HOUR; t += 15 * MIN) {
		if (t > t0 + 2 * HOUR && t < back)
			continue;
		for (int i = 0; i < NF; i++) {
			if (!strcmp(far[i].meter, "dark") && t == back)
				continue;
			struct gw_reading x = rd(far[i].meter, far[i].obis, t,
						 far[i].from + far[i].step * ((t - t0) / MIN),
						 far[i].unit);
			assert_int_equal(gw_batcher_add(b, &x, 1), 0);
		}
		if (t == t0 + 2 * HOUR || t == back) {
			assert_true(gw_batcher_advance(b, t, collect, &c) >= 0);
			free_collected(&c);
		}
		if (t == back) {
			/* "dark"'s and "far"'s last points in their exts */
			for (int i = 0; i < 2; i++) {
				struct gw_reading x = rd(far[i].meter, far[i].obis, t, 0,
							 far[i].unit);
				const struct track *tr = batch_find_track(b, &x, 0);
				assert_non_null(tr);
				assert_int_equal(tr->t1_dt, T1_EXT);
			}
		}
	}
	assert_true(gw_batcher_advance(b, t0 + 63 * 24 * HOUR + HOUR, collect, &c) >= 2);
	const struct gw_batch *d61 = latest(&c, d0 + 61), *d62 = latest(&c, d0 + 62);
	assert_non_null(d61);
	assert_non_null(d62);
	for (int k = 0; k < 2; k++) {
		const struct gw_batch *x = k ? d62 : d61;
		assert_int_equal(x->n_series, NF);
		for (int i = 0; i < NF; i++) {
			int64_t f = far[i].from, st = far[i].step;
			if (far[i].unit == GW_UNIT_WH) {
				const struct gw_day_register *dr =
					find_day(x, far[i].meter, far[i].obis);
				assert_non_null(dr);
				assert_int_equal(dr->consumption, 1440);
				assert_int_equal(dr->quality, GW_Q_MEASURED);
				assert_int_equal(dr->start_value, f + (61 + k) * 1440);
			}
			const struct gw_series *sr = NULL;
			for (size_t j = 0; j < x->n_series; j++)
				if (!strcmp(x->series[j].meter_id, far[i].meter))
					sr = &x->series[j];
			assert_non_null(sr);
			assert_int_equal(sr->n, 96);
			for (size_t j = 0; j < sr->n; j++) {
				assert_int_equal(sr->ts_ms[j], gw_tz_day_start(d0 + 61 + k) +
								(int64_t)j * 15 * MIN);
				assert_int_equal(sr->value[j],
						 f + st * ((sr->ts_ms[j] - t0) / MIN));
			}
		}
	}
	free_collected(&c);
	gw_batcher_free(b);

	/* r1 .. r6 fill the table of rollovers, r7 .. r9 have exts */
	static const char *const edged[] = {"m1", "r1", "r2", "r3", "r4", "r5", "r6",
					    "r7", "r8", "r9", "p1", "p2", "u1", "m2"};
	overshoot_each(edged, (int)(sizeof(edged) / sizeof(edged[0])));
}

/* The base of the tracks' last points' times moved (batch_tails_rebase)
 * past a track's last point when its ext cannot be made (the exts'
 * numbers used up): the tracks walked before it are put back, the base
 * stays, every last point is where it was; with exts again, that track's
 * last point goes to its ext and the others follow the base. */
static void tails_rebase(void **state)
{
	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	int64_t t0 = gw_tz_day_start(day_of("2026-03-01"));
	struct gw_batcher *b = new_batcher();
	struct gw_reading r[3] = {
		rd("a", "1.8.0", t0, 5000, GW_UNIT_WH),
		rd("b", "1.8.0", t0 - 10 * 24 * HOUR, 7000, GW_UNIT_WH),
		rd("c", "32.7.0", t0 + 5 * HOUR, -230, GW_UNIT_V),
	};
	struct track *t[3];

	assert_int_equal(gw_batcher_add(b, r, 3), 0);
	for (int i = 0; i < 3; i++) {
		t[i] = batch_find_track(b, &r[i], 0);
		assert_non_null(t[i]);
		assert_int_not_equal(t[i]->t1_dt, T1_EXT);
	}
	assert_int_equal(b->side->t_base, t0); /* the first point's */
	int64_t base = t0 + 20 * 24 * HOUR; /* 30 days after b's last point */
	for (int k = 0; k < 2; k++) {
		size_t n_ext = b->side->n_ext;
		if (k == 0) {
			b->side->n_ext = X_EXT - 1; /* no ext can be made */
			assert_int_equal(batch_tails_rebase(b, base), GW_ENOMEM);
			b->side->n_ext = n_ext;
		} else {
			assert_int_equal(batch_tails_rebase(b, base), 0);
			assert_int_equal(b->side->n_ext, n_ext + 1);
		}
		assert_int_equal(b->side->t_base, k ? base : t0);
		for (int i = 0; i < 3; i++) {
			struct point p = track_tail1(b, t[i]);
			assert_int_equal(p.ts, r[i].ts_ms);
			assert_int_equal(p.v, r[i].value);
			assert_int_equal(t[i]->t1_dt == T1_EXT, k && i == 1);
		}
	}
	gw_batcher_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(measured_days),
		cmocka_unit_test(interpolated_and_tolerance),
		cmocka_unit_test(estimated_gap),
		cmocka_unit_test(dst_days),
		cmocka_unit_test(instantaneous_and_export),
		cmocka_unit_test(reset_wrap_jump),
		cmocka_unit_test(drops_across_midnight),
		cmocka_unit_test(known_replacement),
		cmocka_unit_test(late_readings_revise),
		cmocka_unit_test(property_late_arrival),
		cmocka_unit_test(property_split_and_order),
		cmocka_unit_test(events_follow_days),
		cmocka_unit_test(dark_day_revised),
		cmocka_unit_test(long_gap_event),
		cmocka_unit_test(silent_gateway_seals_events),
		cmocka_unit_test(extreme_values),
		cmocka_unit_test(profile_backfill),
		cmocka_unit_test(frozen_edge),
		cmocka_unit_test(restart_long_gap),
		cmocka_unit_test(backfill_after_long_gap),
		cmocka_unit_test(frozen_estimate_overshoot),
		cmocka_unit_test(track_ext_fields),
		cmocka_unit_test(tails_rebase),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
