/* SPDX-License-Identifier: MIT */
/*
 * test_batch_mean.c - the Rice coder's means as a track keeps them
 * (batch_int.h: mean_round, mean_pack, rice_adapt): rounded to 12
 * significant bits after every number, on the encoder's side and the
 * decoder's, and kept in 16 bits each.
 *
 *   - the form: every 16-bit code of a mean up to RICE_MMAX unpacks to
 *     a mean that packs back to it, in order; every mean below 4,096 is
 *     kept exactly; above, rounded to the nearest kept one (within
 *     1/4,096 of it, never further than the next, the same when rounded
 *     again); rice_adapt's mean is one of them for every kept mean,
 *     every place in the warm-up and after, and numbers of every size:
 *     a value's jump by 2^40, the int64 extremes, a time gap of weeks;
 *   - tracks appended to directly (and now and then a point inserted
 *     out of order, the track encoded again; not into the slowly rising
 *     register's, kept regular): values jumping by up to
 *     2^42, values at the int64 extremes, time gaps of weeks, a regular
 *     cadence with 2 s of jitter, and a slowly rising register at a few
 *     ms of jitter: after every point the means the track keeps are the
 *     ones computed from its points (as the decoder does), rounding
 *     happened on the way (the means differ from unrounded ones), the
 *     slowly rising register's never did (exact, below 4,096), and the
 *     points decode to what was added;
 *   - a batcher with a store, three days of 15-minute cycles with 2 s
 *     of jitter, values jumping by up to 2^42: the open day's passes
 *     and the seals' write records, and the encoder goes on after them
 *     from means that were rounded; after every cycle every track's
 *     means are those of its points and its points those added (the
 *     last of them: the rest pruned).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "batch_int.h"
#include "batch_spill.h"
#include "tz.h"

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random number of up to `bits` bits (a random width of them). */
static int64_t wide(unsigned bits)
{
	unsigned w = (unsigned)(rnd() % (bits + 1));
	return w ? (int64_t)(rnd() >> (64 - w)) : 0;
}

static uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* The means after points p[0..n), as the decoder computes them from a
 * track's first point kept (batch_store.c, decode), with rice_adapt or
 * (exact) rice_adapt_exact. */
static void means_of(const struct point *p, size_t n, int exact, uint32_t *mt,
		     uint32_t *mv)
{
	int64_t ts = 0, step = 0, v = 0;

	*mt = *mv = RICE_M0;
	for (size_t k = 0; k < n; k++) {
		int64_t s = p[k].ts - ts;
		uint64_t ut = zz(s - step);
		uint64_t uv = zz((int64_t)((uint64_t)p[k].v - (uint64_t)v));
		if (k >= 2)
			*mt = exact ? rice_adapt_exact(*mt, ut, k - 2) : rice_adapt(*mt, ut, k - 2);
		if (k >= 1)
			*mv = exact ? rice_adapt_exact(*mv, uv, k - 1) : rice_adapt(*mv, uv, k - 1);
		step = k == 0 ? 0 : s;
		ts = p[k].ts;
		v = p[k].v;
	}
}

static int kept(uint32_t m)
{
	return m <= RICE_MMAX && mean_unpack(mean_pack(m)) == m;
}

static void mean_form(void **state)
{
	uint32_t prev = 0;
	size_t codes = 0;

	(void)state;
	/* every code up to RICE_MMAX's: a bijection, in order */
	for (uint32_t f = 0; f <= 0xffff; f++) {
		uint32_t m = mean_unpack((uint16_t)f);
		if (m > RICE_MMAX)
			break;
		assert_int_equal(mean_pack(m), f);
		assert_true(f == 0 || m > prev);
		assert_int_equal(mean_round(m), m);
		prev = m;
		codes++;
	}
	assert_int_equal(prev, RICE_MMAX);
	assert_int_equal(codes, 20 * 2048 + 1); /* e 0 .. 19, then 2^30 */
	/* exact below 4,096 */
	for (uint32_t m = 0; m < MEAN_EXACT; m++) {
		assert_int_equal(mean_round(m), m);
		assert_int_equal(mean_unpack(mean_pack(m)), m);
	}
	/* above, the nearest kept mean: every one to 2^22, then at random */
	uint32_t last = mean_round(MEAN_EXACT - 1);
	for (uint64_t i = MEAN_EXACT; i <= RICE_MMAX; i = i < (1u << 22) ? i + 1 : i + 1 + rnd() % 4096) {
		uint32_t m = (uint32_t)i, r = mean_round(m);
		assert_true(kept(r));
		assert_true((r > m ? r - m : m - r) <= m >> 12);
		assert_int_equal(mean_round(r), r);
		assert_true(r >= last); /* monotone: never past the next */
		last = r;
	}
	assert_int_equal(mean_round(RICE_MMAX), RICE_MMAX);
	assert_int_equal(mean_round(RICE_MMAX - 1), RICE_MMAX);

	/* rice_adapt's mean is a kept one, from every kept mean, for
	 * numbers of every size */
	const int64_t day = 86400000;
	const uint64_t us[] = {
		0, 1, 2, 15, 16, 255, 4095, 4096, 65535, 1u << 20,
		zz((int64_t)1 << 40), zz(-((int64_t)1 << 40)), /* a jump by 2^40 */
		zz(INT64_MIN), zz(INT64_MAX), UINT64_MAX - 2, /* int64 extremes */
		zz(21 * day), zz(-21 * day), zz(3 * 7 * day - 900000), /* weeks */
	};
	size_t moved = 0;
	for (uint32_t f = 0; f <= 0xffff; f++) {
		uint32_t m = mean_unpack((uint16_t)f);
		if (m > RICE_MMAX)
			break;
		for (size_t i = 0; i < sizeof(us) / sizeof(us[0]); i++) {
			for (size_t c = 0; c <= RICE_WARM + 1; c++) {
				uint32_t a = rice_adapt(m, us[i], c);
				uint32_t x = rice_adapt_exact(m, us[i], c);
				assert_true(kept(a));
				assert_int_equal(a, mean_round(x));
				moved += a != x;
			}
		}
	}
	assert_true(moved > 0);
}

/* The kinds of track appended to directly. */
enum kind {
	JUMP,    /* values jumping by up to 2^42, 2 s of jitter */
	EXTREME, /* values at the int64 extremes */
	WEEKS,   /* time gaps of weeks between days of points */
	JITTER,  /* 15 minutes with up to 2 s of jitter, a small value */
	SLOW,    /* a slowly rising register, a few ms of jitter */
	KINDS
};

enum { PTS = 1500 };

/* Point k of a track of kind `kind` after p (the one before, k >= 1). */
static struct point next_point(enum kind kind, size_t k, const struct point *p)
{
	static const int64_t extremes[] = {INT64_MIN, INT64_MAX, 0, -1, 1,
					   INT64_MIN + 1, INT64_MAX - 1};
	struct point x;
	int64_t step = 900000 + (int64_t)(rnd() % (kind == SLOW ? 40 : 2000));

	if (kind == WEEKS && k % 60 == 0)
		step = (7 + (int64_t)(rnd() % 21)) * 86400000; /* 1-4 weeks */
	x.ts = p->ts + step;
	switch (kind) {
	case JUMP:
		x.v = p->v + wide(42) * (rnd() % 2 ? 1 : -1);
		break;
	case EXTREME:
		x.v = rnd() % 4 ? extremes[rnd() % 7] : (int64_t)rnd();
		break;
	case WEEKS:
	case SLOW:
		x.v = p->v + (int64_t)(rnd() % 60);
		break;
	default:
		x.v = 2300 + (int64_t)(rnd() % 41) - 20;
		break;
	}
	return x;
}

/* t's means are those of its points, want[0..n): the ones the decoder
 * computes. Returns whether rounding moved them (against 32 bits). */
static int check_means(const struct track *t, const struct point *want, size_t n)
{
	uint32_t mt, mv, et, ev;

	assert_int_equal(t->n, n);
	means_of(want, n, 0, &mt, &mv);
	assert_int_equal(mean_unpack(t->mt), mt);
	assert_int_equal(mean_unpack(t->mv), mv);
	means_of(want, n, 1, &et, &ev);
	return et != mt || ev != mv;
}

/* t's points decode to want[0..n). */
static void check_points(const struct gw_batcher *b, struct track *t,
			 const struct point *want, size_t n)
{
	assert_int_equal(t->n, n);
	batch_track_open(b, t);
	const struct point *p = track_pts(b, t);
	for (size_t j = 0; j < n; j++) {
		assert_int_equal(p[j].ts, want[j].ts);
		assert_int_equal(p[j].v, want[j].v);
	}
	assert_int_equal(batch_track_first_ts(b, t), want[0].ts);
}

static void tracks_decode(void **state)
{
	static const struct gw_batcher_params params = {
		.gateway_id = "sub-042", .poll_interval_ms = 900000,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 1800000, .revision_window_days = 2,
	};
	static struct point want[KINDS][PTS];
	struct track *t[KINDS];
	size_t n[KINDS] = {0}, rounded[KINDS] = {0}, big_t = 0, big_v = 0;
	int32_t day0;

	(void)state;
	assert_int_equal(gw_tz_set("UTC"), 0);
	assert_int_equal(gw_day_parse("2026-03-02", &day0), 0);
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_non_null(b);
	for (int i = 0; i < KINDS; i++) {
		struct gw_reading r = {.unit = GW_UNIT_W};
		snprintf(r.meter_id, sizeof(r.meter_id), "m%03d", i);
		snprintf(r.obis, sizeof(r.obis), "16.7.0");
		t[i] = batch_find_track(b, &r, 1);
		assert_non_null(t[i]);
	}
	int64_t ts0 = gw_tz_day_start(day0);
	for (size_t k = 0; k < PTS; k++) {
		for (int i = 0; i < KINDS; i++) {
			struct point x = k ? next_point((enum kind)i, k, &want[i][n[i] - 1])
					   : (struct point){ts0 + i * 1000, 1000000};
			size_t at = n[i];
			if (i != SLOW && n[i] >= 2 && rnd() % 100 == 0 &&
			    want[i][n[i] - 1].ts - want[i][n[i] - 2].ts >= 2) {
				/* out of order: between the last two */
				at = n[i] - 1;
				x.ts = want[i][at - 1].ts + 1;
			}
			struct point win[3];
			struct pview view;
			assert_int_equal(batch_track_insert(b, t[i], x.ts, x.v, win, &view), 1);
			memmove(&want[i][at + 1], &want[i][at], (n[i] - at) * sizeof(want[i][0]));
			want[i][at] = x;
			n[i]++;
			/* what the encoder resumes from at the next point */
			rounded[i] += check_means(t[i], want[i], n[i]);
			big_t += mean_unpack(t[i]->mt) >= MEAN_EXACT;
			big_v += mean_unpack(t[i]->mv) >= MEAN_EXACT;
			if (k % 97 == 0)
				check_points(b, t[i], want[i], n[i]);
		}
	}
	for (int i = 0; i < KINDS; i++)
		check_points(b, t[i], want[i], n[i]);
	/* rounding happened where means are large, in both fields; the
	 * slowly rising register's means stayed exact, below 4,096 */
	assert_true(rounded[JUMP] > PTS / 2);
	assert_true(rounded[EXTREME] > PTS / 2);
	assert_true(rounded[WEEKS] > 0);
	assert_true(rounded[JITTER] > PTS / 2);
	assert_int_equal(rounded[SLOW], 0);
	assert_true(mean_unpack(t[SLOW]->mt) < MEAN_EXACT &&
		    mean_unpack(t[SLOW]->mv) < MEAN_EXACT);
	assert_true(big_t > PTS && big_v > PTS);
	gw_batcher_free(b);
}

/* ---- through the batcher, with a store ---- */

#define CYCLE 900000LL
enum { METERS = 30, DAYS = 3 };

static int drop(void *ctx, struct gw_batch_src *src)
{
	(void)src;
	(*(int *)ctx)++;
	return 0;
}

/* Meter m's register i (0: W, values jumping; 1: V, small). */
static void name_of(struct gw_reading *r, int m, int i)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->meter_id, sizeof(r->meter_id), "m%03d", m);
	snprintf(r->obis, sizeof(r->obis), "%s", i ? "32.7.0" : "16.7.0");
	r->unit = i ? GW_UNIT_V : GW_UNIT_W;
}

static void spilled_resume(void **state)
{
	static const struct gw_batcher_params params = {
		.gateway_id = "sub-042", .poll_interval_ms = CYCLE,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 1800000, .revision_window_days = 2,
	};
	enum { TR = METERS * 2, MAXP = DAYS * 96 };
	static struct point want[TR][MAXP];
	static struct gw_reading buf[TR];
	size_t n[TR] = {0};
	size_t resumed = 0, rounded = 0;
	char dir[64], pdir[128];
	struct gw_spill *s;
	int32_t day0;
	int seals = 0;

	(void)state;
	gw_log_set_level(GW_LOG_ERROR);
	assert_int_equal(gw_tz_set("UTC"), 0);
	assert_int_equal(gw_day_parse("2026-03-02", &day0), 0);
	snprintf(dir, sizeof(dir), "/tmp/gwmean.XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(pdir, sizeof(pdir), "%s/points", dir);
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_non_null(b);
	assert_int_equal(gw_spill_open(pdir, &s), 0);
	gw_batcher_set_spill(b, s);
	int64_t t0 = gw_tz_day_start(day0);
	for (int c = 0; c < DAYS * 96; c++) {
		for (int m = 0; m < METERS; m++) {
			int64_t ts = t0 + c * CYCLE + m * 400 + (int64_t)(rnd() % 2000);
			for (int i = 0; i < 2; i++) {
				int k = m * 2 + i;
				struct gw_reading *r = &buf[k];
				name_of(r, m, i);
				int64_t v = n[k] ? want[k][n[k] - 1].v : 1000000;
				r->ts_ms = ts;
				r->value = i ? 2300 + (int64_t)(rnd() % 41) - 20
					     : v + wide(42) * (rnd() % 2 ? 1 : -1);
				want[k][n[k]++] = (struct point){ts, r->value};
			}
		}
		assert_int_equal(gw_batcher_add(b, buf, TR), 0);
		assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, drop, &seals) >= 0);
		/* every track: its kept points (the last of those added, the
		 * rest pruned) and the means of them */
		for (int k = 0; k < TR; k++) {
			struct gw_reading r;
			name_of(&r, k / 2, k % 2);
			struct track *t = batch_find_track(b, &r, 0);
			assert_non_null(t);
			assert_true(t->n >= 1 && t->n <= n[k]);
			const struct point *w = want[k] + n[k] - t->n;
			int moved = check_means(t, w, t->n);
			if (t->sp) {
				/* the chain went on from the means after a
				 * record's points */
				resumed++;
				rounded += moved && k % 2 == 0;
			}
			check_points(b, t, w, t->n);
		}
	}
	struct gw_spill_stats st;
	gw_batcher_spill_stats(b, &st);
	gw_batcher_free(b);
	assert_int_equal(rmdir(pdir), 0);
	assert_int_equal(rmdir(dir), 0);
	assert_true(seals >= DAYS - 1);
	assert_true(st.writes > 0);
	assert_int_equal(st.read_failed, 0);
	assert_true(resumed > (size_t)TR * 96);
	assert_true(rounded > (size_t)METERS * 48);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(mean_form),
		cmocka_unit_test(tracks_decode),
		cmocka_unit_test(spilled_resume),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
