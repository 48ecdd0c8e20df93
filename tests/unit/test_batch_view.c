/* SPDX-License-Identifier: MIT */
/*
 * test_batch_view.c - the seal of the open day read from a register's
 * last record and its points in memory only (a view, batch_seal.c), with
 * the points on disk (batch_spill_core.c): 40 meters read every 15
 * minutes for 7 days (0 .. 6) in Europe/Berlin (the clocks go forward on
 * day 2), each sealed day (0 .. 5) encoded as gatewayd writes it, three
 * ways: views
 * allowed, views turned off (gw_batcher_set_view), and every point in
 * memory (no store). The three give the same bytes, and the runs with a
 * store count how the open days' registers were read:
 *
 *   - the meters read as usual (ten of them, a few ms of jitter) are read
 *     as views on every open day sealed after the first (days 1 .. 5:
 *     views >= 14 registers x 5), and so are most others; with views
 *     off, none is;
 *   - meters whose days are hard: readings exactly at midnight, a
 *     reading out of line just before and one just after midnight, a
 *     counter that wraps at its rollover across midnight, one reset to
 *     zero (its values below the books' frozen edge for two days: the
 *     view lacks the reading before the edge midnight, and that day is
 *     read whole), one whose values are held at the frozen edge (below
 *     it, above the reading before the edge midnight: the same), a meter
 *     replaced just after midnight, a gap across
 *     midnight longer than max_gap, one silent for longer than the
 *     revision window (pending at the edge), a meter read once a day (fewer than
 *     three points before any midnight), one that comes two days late
 *     (sealed days sealed again), one whose readings come out of order
 *     within the open day, and one new on day 5 - the same bytes, and
 *     some of them read whole (full > 0).
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
#include "batchfile.h"
#include "bytes.h"
#include "tz.h"

#include "batch_harness.h"

#define METERS 40
#define NORMAL 10 /* meters 0 .. 9 read as usual */
#define CYCLE 900000LL
#define DAYS 7
#define ROLL 1000000000LL /* meter 13's rollover */

static char dir[64], pdir[128];
static int32_t day0;

static int64_t rollover(void *ctx, const char *meter, const char *obis)
{
	(void)ctx;
	(void)obis;
	return strcmp(meter, "m013") == 0 ? ROLL : 0;
}

static const struct gw_batcher_params params = {
	.gateway_id = "sub-042", .poll_interval_ms = CYCLE,
	.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
	.seal_delay_ms = 1800000, .max_power_w = 250000,
	.revision_window_days = 2, .rollover = rollover,
};

static void reading(struct gw_reading *r, int m, const char *obis,
		    enum gw_unit unit, int64_t ts, int64_t v)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->meter_id, sizeof(r->meter_id), "m%03d", m);
	snprintf(r->obis, sizeof(r->obis), "%s", obis);
	r->ts_ms = ts;
	r->value = v;
	r->unit = (uint8_t)unit;
}

/* The first cycle of day d (day 2 has 92). */
static int D(int d)
{
	return d * 96 - (d > 2 ? 4 : 0);
}

/* Meter m's register 1.8.0 at cycle c (its reading's time *ts), or -1
 * when it has no reading then. c counts cycles from day 0's midnight; a
 * day has 96 (92 on day 2, when the clocks go forward: its midnights
 * are taken from the time zone, not from c). */
static int64_t value(int m, int c, int64_t t0, int64_t *ts)
{
	int64_t at = t0 + c * CYCLE;
	int64_t mid = gw_tz_day_start(gw_tz_day_of(at)); /* its day's start */
	int64_t into = at - mid; /* since that midnight */
	int64_t v = 5000000 + m * 10000 + (int64_t)c * (m % 7 + 3);

	*ts = at + m * 1000 + (c * 7 + m) % 5; /* a few ms of jitter */
	switch (m) {
	case 10: /* exactly at the cycle: at midnight too */
		*ts = at;
		break;
	case 11: /* out of line at the last reading before midnight */
		if (into == 86400000 - CYCLE || (into + CYCLE) % 86400000 == 0)
			v += 900000;
		break;
	case 12: /* out of line at the first reading after midnight */
		if (into == 0)
			v -= 700000;
		break;
	case 13: /* wraps at its rollover across day 3's midnight (no
		  * reading at it: interpolated over the wrap) */
		if (c == D(3))
			return -1;
		v = ROLL + (int64_t)(c - D(3)) * 40 + 20;
		if (v >= ROLL)
			v -= ROLL;
		break;
	case 14: /* reset to zero at 23:00 of day 1, then counts on */
		if (c >= D(2) - 4)
			v = (int64_t)(c - D(2) + 4) * 5;
		break;
	case 15: /* replaced at 00:07 of day 3: a new counter */
		if (c >= D(3))
			v = 100 + (int64_t)(c - D(3)) * 7;
		if (c == D(3))
			*ts = at + 7 * 60000;
		break;
	case 16: /* silent 21:00 .. 01:00 across day 1's and day 3's end */
		if ((c >= D(2) - 12 && c < D(2) + 4) ||
		    (c >= D(4) - 12 && c < D(4) + 4))
			return -1;
		break;
	case 17: /* once a day, at noon */
		if (into != 12 * 3600000LL)
			return -1;
		break;
	case 21: /* flat until day 2's midnight, 600 up at it, and down by
		  * 500 at 06:00: its values after are below the books' edge
		  * frozen at that midnight, and above the reading before it,
		  * so held at the edge (batch_booked) on day 4 */
		if (c < D(2))
			v = 1000;
		else if (c < D(2) + 24)
			v = 1600 + (c - D(2));
		else
			v = 1100 + (c - D(2) - 24) / 8;
		break;
	case 22: /* silent from 20:00 of day 1 to 03:00 of day 4, longer
		  * than the revision window: pending at day 2's edge
		  * midnight, back, its long gap counted at day 3's, and the
		  * records around day 4's start from the last reading
		  * before the silence */
		if (c >= D(2) - 16 && c < D(4) + 12)
			return -1;
		break;
	case 19: /* new on day 5 */
		if (c < D(5) + 50)
			return -1;
		break;
	default:
		break;
	}
	return v;
}

/* How a run read and moved the registers (gw_batcher_view_stats,
 * gw_batcher_carry_stats). */
struct counts {
	uint64_t views, full, carried, split, encoded, edge_views, edge_full;
};

/* Runs the days through a batcher: with a store when spill is set, views
 * allowed when view is, the seals' passes carrying records as they are
 * when carry is (gw_batcher_set_carry). Meter 18's readings of day 1 come
 * two days late (at cycle 3 * 96, sealed days sealed again); meter 20's
 * reading of each cycle 40 of a day comes with cycle 44 (out of order in
 * the open day). Returns the sealed bytes; *cnt the counts. */
static struct gw_wbuf run_beside(int spill, int view, int carry,
				 struct counts *cnt, struct gw_batcher *beside);

/* A batcher with params, with a store when spill is set, carrying its
 * records when carry is. */
static struct gw_batcher *new_batcher(int spill, int carry)
{
	struct gw_batcher *b = gw_batcher_new(&params);

	assert_non_null(b);
	if (spill) {
		struct gw_spill *s;
		assert_int_equal(gw_spill_open(pdir, &s), 0);
		gw_batcher_set_spill(b, s);
		gw_batcher_set_carry(b, carry);
	}
	return b;
}

static int cmp_line(const void *x, const void *y)
{
	return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The lines of an edges text (cut in place), sorted: the tracks' lines
 * come in the order of their records when the batcher made one (the
 * two batchers compared need not have the same). */
static size_t sorted_lines(char *text, size_t len, char **lines, size_t cap)
{
	size_t n = 0;

	for (char *p = text; p < text + len && n < cap;) {
		char *nl = memchr(p, '\n', (size_t)(text + len - p));
		assert_non_null(nl);
		*nl = '\0';
		lines[n++] = p;
		p = nl + 1;
	}
	assert_true(n < cap);
	qsort(lines, n, sizeof(*lines), cmp_line);
	return n;
}

/* Every track of a (points on disk) and of m (in memory) the same after
 * the same calls: its points, its view of the open day (the points
 * from the view's first on), and its books at the edge midnight (the
 * edges text, line by line: a's frozen there from the records around
 * it, and its last reading at or before it from its first record; m's
 * from its whole track). */
static void same_points(struct gw_batcher *a, struct gw_batcher *m)
{
	char *ea, *em, *la[4 * METERS], *lm[4 * METERS];
	size_t na, nm;
	int ra = gw_batcher_edges_save(a, &ea, &na);

	assert_int_equal(ra, gw_batcher_edges_save(m, &em, &nm));
	if (ra == 0) {
		na = sorted_lines(ea, na, la, 4 * METERS);
		nm = sorted_lines(em, nm, lm, 4 * METERS);
		assert_int_equal(na, nm);
		for (size_t i = 0; i < na; i++)
			assert_string_equal(la[i], lm[i]);
	}
	free(ea);
	free(em);
	assert_int_equal(a->n_tracks, m->n_tracks);
	for (uint32_t no = 1; no <= a->n_tracks; no++) {
		struct track *ta = track_at(a, no), *tm = track_at(m, no);
		assert_int_equal(ta->n, tm->n);
		struct point *pa = calloc(ta->n + 1, sizeof(*pa));
		struct point *pm = calloc(tm->n + 1, sizeof(*pm));
		assert_non_null(pa);
		assert_non_null(pm);
		assert_true(batch_track_points(a, ta, pa) >= 0);
		assert_true(batch_track_points(m, tm, pm) >= 0);
		assert_memory_equal(pa, pm, ta->n * sizeof(*pa));
		struct tpts v;
		if (batch_track_view(a, ta, a->open_start, &v)) {
			assert_int_equal(v.off + v.n, ta->n);
			assert_memory_equal(v.p, pa + v.off, v.n * sizeof(*pa));
		}
		free(pa);
		free(pm);
	}
}

/* batch_track_last_at of every track of a with records, read from
 * them (no track open), at each point's time, a millisecond before it
 * and after the last: the point its whole track gives. */
static void last_at_all(struct gw_batcher *a)
{
	for (uint32_t no = 1; no <= a->n_tracks; no++) {
		struct track *t = track_at(a, no);
		if (!t->sp)
			continue;
		struct point *p = calloc(t->n + 1, sizeof(*p)), got;
		assert_non_null(p);
		assert_true(batch_track_points(a, t, p) >= 0);
		a->sc->owner = NULL;
		for (size_t i = 0; i <= t->n; i++) {
			int64_t x = i < t->n ? p[i].ts : p[t->n - 1].ts + 1;
			for (int64_t at = x - 1; at <= x; at++) {
				size_t k = 0; /* points at or before `at` */
				while (k < t->n && p[k].ts <= at)
					k++;
				assert_int_equal(batch_track_last_at(a, t, at, &got), k > 0);
				if (k > 0) {
					assert_int_equal(got.ts, p[k - 1].ts);
					assert_int_equal(got.v, p[k - 1].v);
				}
			}
		}
		free(p);
	}
}

static struct gw_wbuf run_with(int spill, int view, int carry,
			       struct counts *cnt)
{
	return run_beside(spill, view, carry, cnt, NULL);
}

/* run_with, and with `beside` (a batcher without a store) given the
 * same readings and calls, every track of both compared after each
 * (same_points). */
static struct gw_wbuf run_beside(int spill, int view, int carry,
				 struct counts *cnt, struct gw_batcher *beside)
{
	struct gw_batcher *b = new_batcher(spill, carry);
	struct gw_wbuf out = {0};
	struct gw_reading buf[2 * METERS + 200];
	int64_t t0 = gw_tz_day_start(day0);

	gw_batcher_set_view(b, view);
	/* the cycles of DAYS days (day 2 an hour short) */
	int cycles = D(DAYS);
	for (int c = 0; c < cycles; c++) {
		size_t n = 0;
		for (int m = 0; m < METERS; m++) {
			int64_t ts, v = value(m, c, t0, &ts);
			if (v < 0)
				continue;
			if (m == 18 && c >= D(1) && c < D(2))
				continue; /* held back */
			if (m == 20 && c % 96 == 40)
				continue; /* comes later */
			reading(&buf[n++], m, "1.8.0", GW_UNIT_WH, ts, v);
			if (m < 4 || m == 11 || m == 14)
				reading(&buf[n++], m, "32.7.0", GW_UNIT_V, ts,
					2300 + (c + m) % 11);
		}
		if (c % 96 == 44) {
			int64_t ts, v = value(20, c - 4, t0, &ts);
			reading(&buf[n++], 20, "1.8.0", GW_UNIT_WH, ts, v);
		}
		if (c == D(3))
			assert_int_equal(gw_batcher_add_replacement(
						 b, "m015", t0 + c * CYCLE + 7 * 60000),
					 0);
		if (c == D(3) && beside)
			assert_int_equal(gw_batcher_add_replacement(
						 beside, "m015", t0 + c * CYCLE + 7 * 60000),
					 0);
		if (c == D(3)) {
			/* meter 18's day 1, two days late: sealed again */
			for (int k = D(1); k < D(2); k++) {
				int64_t ts, v = value(18, k, t0, &ts);
				reading(&buf[n++], 18, "1.8.0", GW_UNIT_WH, ts, v);
			}
		}
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out) >= 0);
		if (beside) {
			struct gw_wbuf none = {0};
			assert_int_equal(gw_batcher_add(beside, buf, n), 0);
			assert_true(gw_batcher_advance_src(beside, t0 + (c + 1) * CYCLE,
							   sealed, &none) >= 0);
			free(none.p);
			same_points(b, beside);
			if (c % 96 == 4) /* after a seal */
				last_at_all(b);
		}
	}
	assert_int_equal(gw_batcher_spill_broken(b), 0);
	gw_batcher_view_stats(b, &cnt->views, &cnt->full);
	gw_batcher_carry_stats(b, &cnt->carried, &cnt->split, &cnt->encoded);
	gw_batcher_edge_stats(b, &cnt->edge_views, &cnt->edge_full);
	gw_batcher_free(b);
	return out;
}

static struct gw_wbuf run(int spill, int view, uint64_t *views, uint64_t *full)
{
	struct counts k;
	struct gw_wbuf out = run_with(spill, view, 1, &k);

	*views = k.views;
	*full = k.full;
	return out;
}

static int setup(void **state)
{
	(void)state;
	gw_log_set_level(GW_LOG_ERROR);
	if (gw_tz_set("Europe/Berlin") || gw_day_parse("2026-03-27", &day0))
		return -1; /* the clocks go forward on day 2 (from 0) */
	snprintf(dir, sizeof(dir), "/tmp/gwview.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(pdir, sizeof(pdir), "%s/points", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rmdir(pdir);
	rmdir(dir);
	return 0;
}

/* Views, views off and no store: the same bytes; views taken for the
 * meters read as usual, and days read whole where the view is not
 * enough. */
static void views_same_bytes(void **state)
{
	uint64_t v1, f1, v0, f0, vm, fm;

	(void)state;
	struct gw_wbuf with = run(1, 1, &v1, &f1);
	struct gw_wbuf without = run(1, 0, &v0, &f0);
	struct gw_wbuf mem = run(0, 1, &vm, &fm);

	assert_true(with.n > 10000);
	assert_int_equal(with.n, without.n);
	assert_memory_equal(with.p, without.p, with.n);
	assert_int_equal(with.n, mem.n);
	assert_memory_equal(with.p, mem.p, with.n);
	/* days 1 .. 5 sealed as open days after a seal's pass: every
	 * register of the ten meters read as usual (two registers each for
	 * four of them) */
	fprintf(stderr, "# views %llu, whole %llu\n", (unsigned long long)v1,
		(unsigned long long)f1);
	assert_true(v1 >= (uint64_t)(NORMAL + 4) * 5);
	assert_true(f1 > 0);
	assert_int_equal(v0, 0);
	assert_int_equal(v0 + f0, v1 + f1);
	assert_int_equal(vm, 0); /* no store: no records, whole */
	assert_int_equal(vm + fm, v1 + f1);
	free(with.p);
	free(without.p);
	free(mem.p);
}

/* The seals' passes with the records carried from one to the next (a
 * record a day, the oldest dropped, the open day's cut at the new day's
 * midnight) and with every track decoded and encoded again, on the same
 * hard days: the same bytes as with every point in memory. Carried: most
 * registers at every seal; encoded again: the ones whose records are not
 * a day's each (a meter read once a day: too few points left to drop
 * its first records' coding; a day sealed again: its track read into
 * memory). */
static void carry_same_bytes(void **state)
{
	struct counts k[2], km;

	(void)state;
	struct gw_wbuf mem = run_with(0, 1, 1, &km);
	assert_true(mem.n > 10000);
	for (int i = 0; i < 2; i++) {
		struct gw_wbuf w = run_with(1, 1, !i, &k[i]);
		fprintf(stderr, "# carry %d: views %llu whole %llu carried %llu "
			"split %llu encoded %llu\n", !i,
			(unsigned long long)k[i].views, (unsigned long long)k[i].full,
			(unsigned long long)k[i].carried, (unsigned long long)k[i].split,
			(unsigned long long)k[i].encoded);
		assert_int_equal(w.n, mem.n);
		assert_memory_equal(w.p, mem.p, mem.n);
		free(w.p);
	}
	/* six seals' passes (days 0 .. 5) over about 46 registers, each
	 * cutting the open day's record it carries */
	assert_true(k[0].carried > 200);
	assert_true(k[0].split > k[0].carried / 2);
	assert_true(k[0].encoded > 0);
	assert_int_equal(k[1].carried, 0);
	/* the tracks carried are encoded again without the carry */
	assert_true(k[1].encoded >= k[0].carried);
	/* the same registers read as views either way */
	assert_int_equal(k[1].views, k[0].views);
	assert_int_equal(k[1].full, k[0].full);
	free(mem.p);
}

/* The tracks themselves, cycle by cycle, with the carry on and off: the
 * same points as a batcher's without a store (the prune at each edge
 * exact, no point lost or kept beyond it), and every view of the open
 * day the track's own points (the two before its first record, from the
 * header, included). */
static void carry_same_points(void **state)
{
	(void)state;
	for (int carry = 1; carry >= 0; carry--) {
		struct gw_batcher *m = gw_batcher_new(&params);
		struct counts k;
		assert_non_null(m);
		struct gw_wbuf w = run_beside(1, 1, carry, &k, m);
		fprintf(stderr, "# carry %d: edge's books from the records around "
			"its midnight %llu, from all the points %llu\n", carry,
			(unsigned long long)k.edge_views,
			(unsigned long long)k.edge_full);
		assert_true(w.n > 10000);
		assert_true(carry ? k.carried > 200 : k.encoded > 200);
		gw_batcher_free(m);
		free(w.p);
	}
}

/* A sink that fails while fail_left counts down (a full disk): the day
 * stays open and its seal is tried again at the next call. */
static int fail_left;

static int sealed_flaky(void *ctx, struct gw_batch_src *src)
{
	if (fail_left > 0) {
		fail_left--;
		return GW_EIO;
	}
	return sealed(ctx, src);
}

/* Meters read exactly at the cycle, midnights too, and one a little
 * after, for five days; with `fail`, day 1's seal fails four times first
 * (the day-end pass runs again at each try, with the points after the
 * midnight that came since). */
static struct gw_wbuf on_the_cycle(int spill, int fail, struct counts *cnt)
{
	struct gw_batcher *b = new_batcher(spill, 1);
	struct gw_wbuf out = {0};
	struct gw_reading buf[8];
	int64_t t0 = gw_tz_day_start(day0);

	fail_left = 0;
	for (int c = 0; c < D(5); c++) {
		for (int m = 0; m < 4; m++)
			reading(&buf[m], m, "1.8.0", GW_UNIT_WH,
				t0 + c * CYCLE + (m == 3 ? 500 : 0),
				1000000 + m * 1000 + (int64_t)c * (m + 2));
		assert_int_equal(gw_batcher_add(b, buf, 4), 0);
		if (fail && c == D(2))
			fail_left = 4;
		int failing = fail_left > 0;
		int rc = gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed_flaky, &out);
		/* a seal fails only while the sink is told to fail */
		assert_true(rc >= 0 || (failing && rc == GW_EIO));
	}
	assert_int_equal(fail_left, 0);
	assert_int_equal(gw_batcher_spill_broken(b), 0);
	gw_batcher_carry_stats(b, &cnt->carried, &cnt->split, &cnt->encoded);
	gw_batcher_free(b);
	return out;
}

/* The open day's record cut exactly at a reading at midnight (the last
 * at or before it), and a seal that fails four times first, its day-end
 * pass run again at each try: the same bytes with a store as without,
 * every register carried and its open day's record cut. */
static void on_the_cycle_same_bytes(void **state)
{
	(void)state;
	for (int fail = 0; fail < 2; fail++) {
		struct counts k, km;
		struct gw_wbuf mem = on_the_cycle(0, fail, &km);
		struct gw_wbuf w = on_the_cycle(1, fail, &k);
		fprintf(stderr, "# seal failing %d: carried %llu, cut %llu, encoded "
			"%llu\n", fail, (unsigned long long)k.carried,
			(unsigned long long)k.split, (unsigned long long)k.encoded);
		assert_true(mem.n > 500); /* four days' batches */
		assert_int_equal(w.n, mem.n);
		assert_memory_equal(w.p, mem.p, mem.n);
		/* four meters, sealed on days 0 .. 3; carried from day 1's
		 * seal on */
		assert_true(k.carried >= 4 * 3);
		assert_int_equal(k.split, k.carried);
		free(mem.p);
		free(w.p);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(views_same_bytes),
		cmocka_unit_test(carry_same_bytes),
		cmocka_unit_test(carry_same_points),
		cmocka_unit_test(on_the_cycle_same_bytes),
	};

	cmocka_set_message_output(CM_OUTPUT_TAP);
	return cmocka_run_group_tests(tests, setup, teardown);
}
