/* SPDX-License-Identifier: MIT */
/*
 * test_conservation.c - the books add up: a property test of the batching
 * core over seeded random cases.
 *
 * Each case makes one to three meters with a monotonic register (random,
 * realistic power; a cadence around the poll interval with jitter), a
 * random outage pattern per meter (minutes, hours, a night, whole days,
 * several days, sometimes longer than the revision window, sometimes
 * across a daylight-saving change), sometimes a load-profile back-fill of
 * an outage delivered late when the meter comes back (GW_RS_PROFILE, some
 * of it GW_RS_DERIVED), in Asia/Ho_Chi_Minh, Europe/Berlin or
 * America/New_York. The readings go through a batcher in the order they
 * arrive, with gw_batcher_advance called as the clock moves (the way
 * gatewayd does), once straight and once with gateway restarts at random
 * moments: a new batcher, gw_batcher_restore, the edges as gatewayd last
 * saved them, and the replay of what the journal still holds under
 * gatewayd's pruning rule. Later revisions of a day replace earlier ones,
 * as in the database. Then, per meter:
 *
 *   - each day's consumption is its end value minus its start value;
 *   - consecutive days chain (a day's end is the next day's start), and
 *     where they do not, or days are missing, exactly one long_gap event
 *     carries the energy in between: the sum of the days and the long
 *     gaps is the register's change from the first midnight to the last,
 *     to the Wh, and so is the sum over any run of chained days;
 *   - a long_gap event is raised only for a silence that reached back
 *     beyond the revision window when the meter came back;
 *   - every row's readings are the readings the core kept for that day
 *     (late ones beyond the window are dropped), a day without readings
 *     misses all its minutes;
 *   - without back-fill, every row (values, quality, readings, minutes
 *     missing) is what the rules of docs/architecture.md give for the
 *     readings known when the day became final;
 *   - restarts change nothing: the final rows and events are the same.
 *
 * GW_PROPERTY_CASES (default 500) cases from GW_PROPERTY_SEED (default
 * 20260301); GW_PROPERTY_CASE=N runs case N alone. A failure prints the
 * seed and case to replay. `make soak` runs many more.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cmocka.h>

#include <unistd.h>

#include "batch.h"
#include "batch_spill.h"
#include "batchfile.h"
#include "bytes.h"
#include "drops.h"
#include "edges.h"
#include "journal.h"
#include "spool.h"
#include "tz.h"
#include "wide.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define DAY (24 * HOUR)
#define MAXM 3

/* ---- random numbers: one stream per case ---- */

static uint64_t rs;

static uint64_t rnd(void)
{
	rs ^= rs >> 12;
	rs ^= rs << 25;
	rs ^= rs >> 27;
	return rs * 2685821657736338717ULL;
}

static int64_t rr(int64_t lo, int64_t hi)
{
	return lo + (int64_t)(rnd() % (uint64_t)(hi - lo + 1));
}

static int chance(int pct)
{
	return (int)(rnd() % 100) < pct;
}

static uint64_t splitmix(uint64_t x)
{
	x += 0x9E3779B97F4A7C15ULL;
	x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
	x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
	return x ^ (x >> 31);
}

/* ---- a case ---- */

struct rdg {
	int64_t ts, v, arrive;
	int meter;
	uint8_t status;
};

struct cycle {
	int64_t arrive;
	size_t first, n; /* readings r[first .. first+n), sorted by ts */
	int32_t segday;  /* the journal segment it lands in */
};

struct kase {
	uint64_t seed;
	int idx;
	char desc[256];
	const char *zone;
	struct gw_batcher_params p;
	int nmeters;
	int backfill;      /* some outage was back-filled late */
	struct rdg *r;     /* delivered readings, by arrival (each cycle's
			    * current reading first, then by time) */
	size_t n, cap;
	struct cycle *cy;
	size_t ncy;
	int64_t t0, t_end;
	int32_t first_day; /* the batcher's first day */
};

static void push(struct kase *k, struct rdg x)
{
	if (k->n == k->cap) {
		k->cap = k->cap ? k->cap * 2 : 1024;
		k->r = realloc(k->r, k->cap * sizeof(*k->r));
		assert_non_null(k->r);
	}
	k->r[k->n++] = x;
}

static int cmp_rdg(const void *a, const void *b)
{
	const struct rdg *x = a, *y = b;

	if (x->arrive != y->arrive)
		return x->arrive < y->arrive ? -1 : 1;
	if (x->meter != y->meter)
		return x->meter - y->meter;
	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

static const char *meter_name(int m)
{
	static const char *const names[MAXM] = {"M1", "M2", "M3"};
	return names[m];
}

/* Day starts of the case's zone, memoised (the C library's zone
 * conversions would otherwise take most of the test's time). */
#define DS_N 1024
static int64_t ds_cache[DS_N];
static int32_t ds_lo = INT32_MIN;

static void ds_reset(int32_t lo)
{
	ds_lo = lo;
	for (int i = 0; i < DS_N; i++)
		ds_cache[i] = INT64_MIN;
}

static int64_t ds(int32_t d)
{
	if (ds_lo == INT32_MIN || d < ds_lo || d >= ds_lo + DS_N)
		return gw_tz_day_start(d);
	if (ds_cache[d - ds_lo] == INT64_MIN)
		ds_cache[d - ds_lo] = gw_tz_day_start(d);
	return ds_cache[d - ds_lo];
}

static int32_t dof(int64_t ts)
{
	int32_t lo = ds_lo + 1, hi = ds_lo + DS_N - 2;

	if (ds_lo == INT32_MIN || ts < ds(lo) || ts >= ds(hi))
		return gw_tz_day_of(ts);
	while (lo < hi) { /* the last day starting at or before ts */
		int32_t mid = lo + (hi - lo + 1) / 2;
		if (ds(mid) <= ts)
			lo = mid;
		else
			hi = mid - 1;
	}
	return lo;
}

/* The UTC instant of local hh:00 on day d (approximately, for outages). */
static int64_t local_hour(int32_t d, int hh)
{
	return ds(d) + (int64_t)hh * HOUR;
}

/* A DST change near day d in the case's zone, or 0. */
static int64_t dst_change(int32_t from, int32_t to)
{
	for (int32_t d = from; d < to; d++) {
		int64_t len = ds(d + 1) - ds(d);
		if (len != DAY)
			return ds(d) + 2 * HOUR;
	}
	return 0;
}

static void make_case(struct kase *k, uint64_t seed, int idx)
{
	static const char *const zones[] = {"Asia/Ho_Chi_Minh", "Europe/Berlin",
					    "America/New_York"};
	static const int64_t polls[] = {5 * MIN, 15 * MIN, 15 * MIN, 15 * MIN,
					30 * MIN, 60 * MIN};
	static const int64_t tols[] = {0, 1 * MIN, 1 * MIN, 5 * MIN, 10 * MIN};
	static const int64_t gaps[] = {1 * HOUR, 2 * HOUR, 2 * HOUR, 6 * HOUR, DAY};
	static const int64_t delays[] = {0, 30 * MIN, 30 * MIN, 2 * HOUR};
	static const int windows[] = {0, 1, 2, 2, 2, 3, 7};

	memset(k, 0, sizeof(*k));
	k->seed = seed;
	k->idx = idx;
	rs = splitmix(seed ^ splitmix((uint64_t)idx + 1)) | 1;
	k->zone = zones[rnd() % 3];
	assert_int_equal(gw_tz_set(k->zone), 0);
	int32_t d0;
	assert_int_equal(gw_day_parse("2026-01-05", &d0), 0);
	ds_reset(d0 - 100);
	/* often around a DST change (late March, late October / early
	 * November), otherwise anywhere in the year */
	int32_t near[] = {d0 + 80, d0 + 292, d0 + 300};
	if (chance(60))
		d0 = near[rnd() % 3] - (int32_t)rr(0, 6);
	else
		d0 += (int32_t)rr(0, 340);
	int ndays = (int)rr(3, 10);
	k->p.gateway_id = "gw-prop";
	k->p.poll_interval_ms = polls[rnd() % 6];
	k->p.midnight_tolerance_ms = tols[rnd() % 5];
	k->p.max_gap_ms = gaps[rnd() % 5];
	k->p.seal_delay_ms = delays[rnd() % 4];
	k->p.revision_window_days = windows[rnd() % 7];
	k->p.max_power_w = chance(70) ? 250000 : 0;
	k->nmeters = (int)rr(1, MAXM);
	int64_t poll = k->p.poll_interval_ms;
	int w = k->p.revision_window_days;
	k->t0 = ds(d0) + rr(0, 20) * HOUR;
	int64_t t1 = ds(d0 + ndays) + rr(0, 20) * HOUR;
	snprintf(k->desc, sizeof(k->desc),
		 "%s from %d, %d days, poll %lld min, tol %lld min, max_gap %lld min, "
		 "delay %lld min, window %d, max_power %lld, %d meters",
		 k->zone, d0, ndays, (long long)(poll / MIN),
		 (long long)(k->p.midnight_tolerance_ms / MIN),
		 (long long)(k->p.max_gap_ms / MIN),
		 (long long)(k->p.seal_delay_ms / MIN), w,
		 (long long)k->p.max_power_w, k->nmeters);

	for (int m = 0; m < k->nmeters; m++) {
		/* every reading the meter would give, then the outages */
		size_t nr = (size_t)((t1 - k->t0) / poll) + 2, cnt = 0;
		struct rdg *all = calloc(nr, sizeof(*all));
		assert_non_null(all);
		int64_t off = rr(0, 60) * 1000 + m * 3000;
		int64_t v = rr(0, 1000000000), frac = 0, base = rr(0, 4000);
		int64_t t = (k->t0 / poll) * poll + off;
		while (t < t1 && cnt < nr) {
			int64_t ts = t + rr(0, 20000);
			if (cnt > 0) {
				/* power: a level per reading, sometimes nothing for
				 * a while (the register stands still) */
				int64_t pw = chance(15) ? 0 : base * rr(20, 200) / 100;
				frac += pw * (ts - all[cnt - 1].ts);
				v += frac / 3600000;
				frac %= 3600000;
			}
			all[cnt].ts = ts;
			all[cnt].v = v;
			all[cnt].arrive = ts;
			all[cnt].meter = m;
			all[cnt].status = GW_RS_OK;
			cnt++;
			t += poll;
		}
		/* outages: [a, b) not answered */
		int no = (int)rr(0, 4);
		for (int o = 0; o < no; o++) {
			int32_t od = d0 + (int32_t)rr(0, ndays - 1);
			int64_t a = 0, b = 0;
			switch (rnd() % 7) {
			case 0: /* minutes */
				a = ds(od) + rr(0, 23 * 60) * MIN;
				b = a + rr(1, 3) * poll + MIN;
				break;
			case 1: /* hours */
				a = ds(od) + rr(0, 23 * 60) * MIN;
				b = a + rr(1, 6) * HOUR;
				break;
			case 2: /* a night */
				a = local_hour(od, (int)rr(19, 23));
				b = a + rr(8, 12) * HOUR;
				break;
			case 3: /* a whole local day or two */
				a = ds(od) + rr(0, 23 * 60) * MIN;
				b = ds(od + (int32_t)rr(2, 3)) + rr(0, 23 * 60) * MIN;
				break;
			case 4: /* longer than the revision window */
				a = ds(od) + rr(0, 23 * 60) * MIN;
				b = ds(od + w + (int32_t)rr(1, 4)) + rr(0, 23 * 60) * MIN;
				break;
			case 5: /* across a DST change, if there is one */
				a = dst_change(d0 - 1, d0 + ndays);
				if (!a)
					a = local_hour(od, 22);
				a -= rr(1, 5) * HOUR;
				b = a + rr(3, 30) * HOUR;
				break;
			default: /* silent to the end */
				if (!chance(30))
					continue;
				a = ds(od) + rr(0, 23 * 60) * MIN;
				b = INT64_MAX;
				break;
			}
			/* the reading that ends the outage, and whether the meter's
			 * load profile back-fills it (all or its newest part) */
			size_t back = cnt;
			for (size_t i = 0; i < cnt; i++)
				if (all[i].ts >= b && all[i].arrive == all[i].ts) {
					back = i;
					break;
				}
			int fill = back < cnt && chance(35);
			int derived = fill && chance(30);
			/* sometimes the back-fill comes a read later (the first
			 * try failed) */
			size_t with = back;
			if (fill && back + 1 < cnt && chance(30))
				with = back + 1;
			size_t missed = 0;
			for (size_t i = 0; i < cnt; i++)
				missed += all[i].ts >= a && all[i].ts < b;
			size_t skip = fill && chance(40) ? (size_t)rr(0, (int64_t)missed) : 0;
			for (size_t i = 0; i < cnt; i++) {
				if (all[i].ts < a || all[i].ts >= b)
					continue;
				if (fill && skip == 0 && all[back].arrive == all[back].ts) {
					all[i].arrive = all[with].ts;
					all[i].status = derived && chance(50) ? GW_RS_DERIVED
									   : GW_RS_PROFILE;
					k->backfill = 1;
				} else {
					if (skip)
						skip--;
					all[i].arrive = -1; /* never delivered */
				}
			}
		}
		/* a back-fill comes with the reading that ended its outage; if
		 * a later outage took that reading, the back-fill is lost too */
		for (size_t i = 0; i < cnt; i++) {
			if (all[i].arrive < 0 || all[i].arrive == all[i].ts)
				continue;
			int with = 0;
			for (size_t j = i + 1; j < cnt && !with; j++)
				with = all[j].ts == all[i].arrive && all[j].arrive == all[j].ts;
			if (!with)
				all[i].arrive = -1;
		}
		for (size_t i = 0; i < cnt; i++)
			if (all[i].arrive >= 0)
				push(k, all[i]);
		free(all);
	}
	if (k->n)
		qsort(k->r, k->n, sizeof(*k->r), cmp_rdg);
	/* cycles: one per meter and arrival */
	k->cy = calloc(k->n + 1, sizeof(*k->cy));
	assert_non_null(k->cy);
	for (size_t i = 0; i < k->n;) {
		size_t j = i;
		int32_t segday = INT32_MIN;
		while (j < k->n && k->r[j].arrive == k->r[i].arrive &&
		       k->r[j].meter == k->r[i].meter) {
			int32_t d = dof(k->r[j].ts);
			if (d > segday)
				segday = d;
			j++;
		}
		/* the current reading first, a back-fill after it (as the IEC
		 * driver hands them over) */
		if (j - i > 1) {
			struct rdg cur = k->r[j - 1];
			memmove(&k->r[i + 1], &k->r[i], (j - 1 - i) * sizeof(*k->r));
			k->r[i] = cur;
		}
		k->cy[k->ncy++] = (struct cycle){k->r[i].arrive, i, j - i, segday};
		i = j;
	}
	int64_t last = k->n ? k->r[k->n - 1].arrive : k->t0;
	k->t_end = ds(dof(last) + w + 3) + k->p.seal_delay_ms + HOUR;
	k->first_day = k->n ? dof(k->r[0].ts) : INT32_MIN;
	for (size_t c = 0; k->ncy && c < k->cy[0].n; c++)
		if (dof(k->r[c].ts) < k->first_day)
			k->first_day = dof(k->r[c].ts);
}

static void free_case(struct kase *k)
{
	free(k->r);
	free(k->cy);
}

static void report(const struct kase *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* ---- running a case through batchers ---- */

struct row {
	int have;
	struct gw_day_register d;
};

struct gap_ev {
	int meter;
	int64_t ts;
	char detail[96];
};

struct result {
	int32_t day_lo, ndays;  /* rows[m][d - day_lo] */
	struct row *rows[MAXM];
	struct gap_ev *gaps;
	size_t ngaps;
	int32_t max_batch_day;
	uint64_t dropped;
	int restarts;
	struct gw_wbuf bytes; /* every batch sealed, as encoded, in order */
};

struct run {
	struct kase *k;
	struct result *res;
	struct gw_batcher *b;
	int32_t state;        /* sealed-through state gatewayd last wrote */
	char *edges;          /* the edges it last saved */
	size_t edges_len;
	int32_t prune_before; /* journal segments of earlier days removed */
	int with_restarts;
	int garbage; /* jumps and bad values are expected */
};

static int meter_index(const char *id)
{
	for (int m = 0; m < MAXM; m++)
		if (strcmp(id, meter_name(m)) == 0)
			return m;
	return -1;
}

static int on_sealed(void *ctx, struct gw_batch *batch)
{
	struct run *r = ctx;
	struct result *res = r->res;

	if (batch->day > res->max_batch_day)
		res->max_batch_day = batch->day;
	for (size_t i = 0; i < batch->n_days; i++) {
		const struct gw_day_register *d = &batch->days[i];
		int m = meter_index(d->meter_id);
		int32_t di = batch->day - res->day_lo;
		assert_true(m >= 0 && di >= 0 && di < res->ndays);
		res->rows[m][di].have = 1;
		res->rows[m][di].d = *d;
	}
	/* a later revision of the day replaces every row of it: a row the
	 * new revision lacks keeps the older one, as in the database */
	for (size_t i = 0; i < batch->n_events; i++) {
		const struct gw_event *e = &batch->events[i];
		if (!r->garbage && (e->kind == GW_EV_JUMP || e->kind == GW_EV_COUNTER_RESET ||
				    e->kind == GW_EV_BAD_VALUE)) {
			char t1[40];
			report(r->k, "%s %s at %s: %s (a monotonic register within max_power)",
			       e->meter_id, gw_event_name((enum gw_event_kind)e->kind),
			       gw_format_utc(e->ts_ms, t1, sizeof(t1)), e->detail);
		}
		if (e->kind != GW_EV_LONG_GAP)
			continue;
		int m = meter_index(e->meter_id);
		assert_true(m >= 0);
		int dup = 0;
		for (size_t j = 0; j < res->ngaps; j++)
			dup |= res->gaps[j].meter == m && res->gaps[j].ts == e->ts_ms;
		if (dup)
			continue; /* the database keeps one (meter, ts, kind) */
		res->gaps = realloc(res->gaps, (res->ngaps + 1) * sizeof(*res->gaps));
		assert_non_null(res->gaps);
		res->gaps[res->ngaps].meter = m;
		res->gaps[res->ngaps].ts = e->ts_ms;
		memcpy(res->gaps[res->ngaps].detail, e->detail, sizeof(e->detail));
		res->ngaps++;
	}
	gw_batch_free(batch);
	return 0;
}

/* gatewayd's sink: the day streamed from the batcher (gw_batch_encode_src)
 * must be byte for byte the batch built whole and encoded (its series
 * copied out of the same source); the books are then checked on the file
 * read back. */
static int put_mem(void *ctx, const uint8_t *p, size_t n)
{
	struct gw_wbuf *w = ctx;

	gw_wbuf_put(w, p, n);
	return w->oom ? GW_ENOMEM : 0;
}

static int on_sealed_src(void *ctx, struct gw_batch_src *src)
{
	struct gw_wbuf w = {0};
	uint8_t hdr[GW_BATCH_HDR_MAX], *whole;
	size_t hlen, wlen;
	struct gw_batch copy = *src->batch, *back;

	assert_int_equal(gw_batch_encode_src(src, put_mem, &w, hdr, &hlen), 0);
	memcpy(w.p, hdr, hlen);
	assert_int_equal(gw_batch_decode(w.p, w.n, &back, NULL), 0);
	/* The seal lays its daily records out as the column's bytes
	 * (src->days, freed as written), not as structs: the whole batch
	 * takes them as read back (test_batch_stream compares them with
	 * gw_batcher_advance's) */
	assert_null(src->days);
	assert_null(copy.days);
	assert_int_equal(back->n_days, copy.n_days);
	copy.days = back->days;
	copy.n_series = src->n_series;
	copy.series = calloc(src->n_series + 1, sizeof(*copy.series));
	assert_non_null(copy.series);
	for (size_t i = 0; i < src->n_series; i++) {
		struct gw_series *se = &copy.series[i];
		assert_int_equal(src->series(src->ctx, i, 1, se), 0);
		int64_t *ts = malloc(se->n * sizeof(int64_t) + 1);
		int64_t *v = malloc(se->n * sizeof(int64_t) + 1);
		assert_true(ts && v);
		memcpy(ts, se->ts_ms, se->n * sizeof(int64_t));
		memcpy(v, se->value, se->n * sizeof(int64_t));
		se->ts_ms = ts;
		se->value = v;
	}
	assert_int_equal(gw_batch_encode(&copy, &whole, &wlen), 0);
	assert_int_equal(wlen, w.n);
	assert_memory_equal(whole, w.p, wlen);
	for (size_t i = 0; i < src->n_series; i++) {
		free(copy.series[i].ts_ms);
		free(copy.series[i].value);
	}
	free(copy.series);
	free(whole);
	gw_wbuf_put(&((struct run *)ctx)->res->bytes, w.p, w.n);
	free(w.p);
	return on_sealed(ctx, back);
}

/* One pass of gatewayd's main loop at time t: seal, then record the state,
 * the edges, and prune the journal. `crash_before_record`: the process
 * dies after sealing, before after_seal. */
static void step(struct run *r, int64_t t, int crash_before_record)
{
	int rc = gw_batcher_advance_src(r->b, t, on_sealed_src, r);

	assert_true(rc >= 0);
	if (crash_before_record)
		return;
	int32_t next = gw_batcher_oldest_open_day(r->b);
	if (next == INT32_MIN || next == r->state)
		return;
	r->state = next;
	free(r->edges);
	r->edges = NULL;
	if (gw_batcher_edges_save(r->b, &r->edges, &r->edges_len) != 0)
		r->edges = NULL;
	int32_t cut = next - 1 - r->k->p.revision_window_days;
	if (cut > r->prune_before)
		r->prune_before = cut;
}

static void add_cycle(struct run *r, const struct cycle *c)
{
	struct gw_reading buf[64];
	struct kase *k = r->k;

	assert_true(c->n <= 64 * 1024);
	for (size_t i = 0; i < c->n; i += 64) {
		size_t n = c->n - i < 64 ? c->n - i : 64;
		for (size_t j = 0; j < n; j++) {
			const struct rdg *x = &k->r[c->first + i + j];
			memset(&buf[j], 0, sizeof(buf[j]));
			snprintf(buf[j].meter_id, sizeof(buf[j].meter_id), "%s", meter_name(x->meter));
			snprintf(buf[j].obis, sizeof(buf[j].obis), "1.8.0");
			buf[j].ts_ms = x->ts;
			buf[j].value = x->v;
			buf[j].unit = GW_UNIT_WH;
			buf[j].status = x->status;
		}
		assert_int_equal(gw_batcher_add(r->b, buf, n), 0);
	}
}

/* Replays one journaled cycle (in one call, as gatewayd does). */
static void replay_cycle(struct run *r, const struct cycle *c)
{
	struct kase *k = r->k;
	struct gw_reading *buf = calloc(c->n, sizeof(*buf));

	assert_non_null(buf);
	for (size_t j = 0; j < c->n; j++) {
		const struct rdg *x = &k->r[c->first + j];
		snprintf(buf[j].meter_id, sizeof(buf[j].meter_id), "%s", meter_name(x->meter));
		snprintf(buf[j].obis, sizeof(buf[j].obis), "1.8.0");
		buf[j].ts_ms = x->ts;
		buf[j].value = x->v;
		buf[j].unit = GW_UNIT_WH;
		buf[j].status = x->status;
	}
	assert_int_equal(gw_batcher_replay(r->b, buf, c->n), 0);
	free(buf);
}

/* With a directory, the batcher spills its points there (the spill
 * mode of conservation_spill); spill_writes counts the records written. */
static const char *spill_dir;
static uint64_t spill_writes;

static struct gw_batcher *new_batcher(const struct gw_batcher_params *p)
{
	struct gw_batcher *b = gw_batcher_new(p);
	struct gw_spill *s;

	assert_non_null(b);
	if (spill_dir) {
		assert_int_equal(gw_spill_open(spill_dir, &s), 0);
		gw_batcher_set_spill(b, s);
	}
	return b;
}

static void free_batcher(struct gw_batcher *b)
{
	struct gw_spill_stats st;

	gw_batcher_spill_stats(b, &st);
	spill_writes += st.writes;
	assert_int_equal(st.read_failed, 0);
	assert_int_equal(gw_batcher_spill_broken(b), 0);
	gw_batcher_free(b);
}

/* A gateway restart after cycle `upto` was journaled (and maybe added):
 * what gw_spool_next_day gives, the saved edges, the journal replay. */
static void restart(struct run *r, size_t upto)
{
	struct kase *k = r->k;
	int32_t next = r->state;

	free_batcher(r->b);
	r->b = new_batcher(&k->p);
	if (r->res->max_batch_day != INT32_MIN && r->res->max_batch_day + 1 > next)
		next = r->res->max_batch_day + 1;
	if (next != INT32_MIN) {
		gw_batcher_restore(r->b, next);
		if (r->edges) {
			char why[128];
			int rc = gw_batcher_edges_load(r->b, r->edges, r->edges_len, why,
						       sizeof(why));
			if (rc)
				fail_msg("edges refused: %s", why);
		}
	}
	for (size_t c = 0; c <= upto; c++)
		if (k->cy[c].segday >= r->prune_before)
			replay_cycle(r, &k->cy[c]);
	if (spill_dir) /* as gatewayd does after its replay */
		assert_int_equal(gw_batcher_spill_now(r->b), 0);
	r->res->restarts++;
	if (getenv("GW_PROPERTY_DEBUG")) {
		char t1[40], d1[16], d2[16];
		print_message("# restart after the cycle of %s: next_day %s, edges %s, journal from %s\n",
			      gw_format_utc(k->cy[upto].arrive, t1, sizeof(t1)),
			      next == INT32_MIN ? "-" : gw_day_format(next, d1, sizeof(d1)),
			      r->edges ? "saved" : "none",
			      r->prune_before == INT32_MIN ? "-" : gw_day_format(r->prune_before, d2, sizeof(d2)));
	}
}

static void run_case(struct kase *k, struct result *res, int with_restarts)
{
	struct run r = {.k = k, .res = res, .state = INT32_MIN,
			.prune_before = INT32_MIN, .with_restarts = with_restarts};
	uint64_t keep = rs;

	memset(res, 0, sizeof(*res));
	res->day_lo = dof(k->t0) - 40;
	res->ndays = dof(k->t_end) - res->day_lo + 2;
	res->max_batch_day = INT32_MIN;
	for (int m = 0; m < k->nmeters; m++) {
		res->rows[m] = calloc((size_t)res->ndays, sizeof(struct row));
		assert_non_null(res->rows[m]);
	}
	r.b = new_batcher(&k->p);
	rs = splitmix(k->seed + (uint64_t)k->idx * 7919) | 1;
	int64_t tick = k->ncy ? k->cy[0].arrive : k->t0;
	for (size_t c = 0; c < k->ncy; c++) {
		/* the clock moves on while nothing arrives */
		for (; tick < k->cy[c].arrive; tick += 10 * MIN)
			step(&r, tick, 0);
		int crash = with_restarts && rnd() % 1000 < 8;
		step(&r, k->cy[c].arrive, crash && chance(30));
		if (crash && chance(30)) {
			restart(&r, c - (c > 0)); /* died before journaling it */
			crash = 0;
		}
		add_cycle(&r, &k->cy[c]);
		if (crash)
			restart(&r, c);
	}
	for (; tick <= k->t_end; tick += 10 * MIN)
		step(&r, tick, 0);
	res->dropped = gw_batcher_dropped(r.b);
	free_batcher(r.b);
	free(r.edges);
	rs = keep;
}

static void free_result(struct result *res)
{
	free(res->bytes.p);
	for (int m = 0; m < MAXM; m++)
		free(res->rows[m]);
	free(res->gaps);
}

/* ---- the rules, for the reference ---- */

struct known {
	const struct rdg **r; /* a meter's readings known, by time */
	size_t n;
};

static int cmp_ts(const void *a, const void *b)
{
	const struct rdg *x = *(const struct rdg *const *)a;
	const struct rdg *y = *(const struct rdg *const *)b;

	return x->ts < y->ts ? -1 : x->ts > y->ts;
}

/* The reference computes in __int128 where the compiler has it (amd64,
 * arm64), independently of the gateway's own wide.c; on 32-bit ARM, which
 * has no 128-bit type, it is wide.c's, checked on its own by test_wide. */
static int64_t ref_interp(int64_t a, int64_t b, int64_t num, int64_t den)
{
#ifdef __SIZEOF_INT128__
	__int128 d = ((__int128)b - a) * num;
	__int128 q = d / den, r = d % den;

	if (2 * (r < 0 ? -r : r) >= den)
		q += (d < 0) ? -1 : 1;
	return (int64_t)(a + q);
#else
	return gw_interp64(a, b, num, den);
#endif
}

static size_t ref_lb(const struct known *kn, int64_t x)
{
	size_t i = 0;

	while (i < kn->n && kn->r[i]->ts < x)
		i++;
	return i;
}

/* The register at midnight m from the known readings, as the rules say. */
static enum gw_quality ref_boundary(const struct kase *k, const struct known *kn,
				   int64_t m, int64_t *v)
{
	size_t i = ref_lb(kn, m);
	const struct rdg *after = i < kn->n ? kn->r[i] : NULL;
	const struct rdg *before = i > 0 ? kn->r[i - 1] : NULL;

	if (after && after->ts == m) {
		*v = after->v;
		return after->status == GW_RS_DERIVED ? GW_Q_INTERPOLATED : GW_Q_MEASURED;
	}
	int64_t tol = k->p.midnight_tolerance_ms;
	int64_t db = before ? m - before->ts : INT64_MAX;
	int64_t da = after ? after->ts - m : INT64_MAX;
	if (db <= tol || da <= tol) {
		const struct rdg *p = db <= da ? before : after;
		*v = p->v;
		return p->status == GW_RS_DERIVED ? GW_Q_INTERPOLATED : GW_Q_MEASURED;
	}
	if (!before || !after)
		return GW_Q_INCOMPLETE;
	*v = ref_interp(before->v, after->v, m - before->ts, after->ts - before->ts);
	return after->ts - before->ts <= k->p.max_gap_ms ? GW_Q_INTERPOLATED
							  : GW_Q_ESTIMATED;
}

/* A day's row from the known readings (0 if it has none). `sv_from`: the
 * readings its start value is derived from (the books frozen earlier). */
static int ref_row(const struct kase *k, const struct known *kn,
		   const struct known *sv_from, int32_t d, struct gw_day_register *out)
{
	int64_t s = ds(d), e = ds(d + 1);
	size_t first = ref_lb(kn, s), end = ref_lb(kn, e);
	int inside = end > first, spans = first > 0 && first < kn->n;
	int64_t sv = 0, ev = 0;

	if (!inside && !spans)
		return 0;
	enum gw_quality qs = ref_boundary(k, sv_from, s, &sv);
	enum gw_quality qe = ref_boundary(k, kn, e, &ev);
	if (qs == GW_Q_INCOMPLETE || qe == GW_Q_INCOMPLETE) {
		if (!inside)
			return 0;
		if (qs == GW_Q_INCOMPLETE)
			sv = kn->r[first]->v;
		if (qe == GW_Q_INCOMPLETE)
			ev = kn->r[end - 1]->v;
	}
	memset(out, 0, sizeof(*out));
	out->quality = (uint8_t)(qs > qe ? qs : qe);
	out->start_value = sv;
	out->end_value = ev;
	out->consumption = ev - sv;
	out->readings = (uint32_t)(end - first);
	/* minutes missing: half a poll interval either side of a reading */
	int64_t poll = k->p.poll_interval_ms, half = poll / 2, miss = 0;
	int64_t prev = first > 0 ? kn->r[first - 1]->ts : s;
	for (size_t i = first; i <= end; i++) {
		int64_t ts = i < end ? kn->r[i]->ts : (end < kn->n ? kn->r[end]->ts : e);
		int64_t gap = ts - prev;
		if (gap > 0 && gap * 2 > poll * 3) {
			int64_t a = prev + half, b = ts - (poll - half);
			if (a < s)
				a = s;
			if (b > e)
				b = e;
			if (b > a)
				miss += b - a;
		}
		prev = ts;
	}
	out->minutes_missing = (uint32_t)(miss / 60000);
	return 1;
}

/* The first day not sealed at time t (gatewayd advances as time goes). */
static int32_t next_day_at(const struct kase *k, int64_t t)
{
	int32_t d = k->first_day;

	while (ds(d + 1) + k->p.seal_delay_ms <= t)
		d++;
	return d;
}

/* Whether reading x is kept: its time is not before the edge midnight of
 * when it arrived (before the first day is sealed, everything is). */
static int kept(const struct kase *k, const struct rdg *x)
{
	if (k->ncy == 0 || x->arrive <= k->cy[0].arrive)
		return 1;
	int32_t edge = next_day_at(k, x->arrive) - k->p.revision_window_days;
	return x->ts >= ds(edge);
}

/* ---- the checks ---- */

static int failures;

static void report(const struct kase *k, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void report(const struct kase *k, const char *fmt, ...)
{
	va_list ap;
	char msg[512];

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (failures++ < 20)
		print_message("# case %d failed (replay: GW_PROPERTY_SEED=%llu GW_PROPERTY_CASE=%d): %s\n"
			      "#   %s\n",
			      k->idx, (unsigned long long)k->seed, k->idx, msg, k->desc);
}

static void failures_checked(void)
{
	int f = failures;

	failures = 0;
	assert_int_equal(f, 0);
}

static char *fmt_day(int32_t d, char *buf)
{
	return gw_day_format(d, buf, 16);
}

/* Parses a long_gap detail: its energy and the day it ends before. */
static int parse_gap(const char *detail, int64_t *wh, int32_t *before)
{
	long long n;
	char day[16];

	if (sscanf(detail, "%lld Wh not placed on days before %10s", &n, day) != 2 ||
	    gw_day_parse(day, before))
		return -1;
	*wh = n;
	return 0;
}

static void check_meter(const struct kase *k, const struct result *res, int m)
{
	char d1[16], d2[16];
	const struct row *rows = res->rows[m];
	int32_t prev = INT32_MIN, first = INT32_MIN, last = INT32_MIN;
	int64_t sum = 0, gap_sum = 0;
	size_t used = 0, mine = 0;
	int64_t poll = k->p.poll_interval_ms;

	for (size_t j = 0; j < res->ngaps; j++)
		mine += res->gaps[j].meter == m;
	/* the meter's readings the core kept, by time */
	struct known all = {calloc(k->n + 1, sizeof(void *)), 0};
	assert_non_null(all.r);
	for (size_t i = 0; i < k->n; i++)
		if (k->r[i].meter == m && kept(k, &k->r[i]))
			all.r[all.n++] = &k->r[i];
	qsort(all.r, all.n, sizeof(*all.r), cmp_ts);

	for (int32_t i = 0; i < res->ndays; i++) {
		if (!rows[i].have)
			continue;
		int32_t d = res->day_lo + i;
		const struct gw_day_register *r = &rows[i].d;
		if (r->consumption != r->end_value - r->start_value)
			report(k, "%s %s: consumption %lld, end - start %lld", meter_name(m),
			       fmt_day(d, d1), (long long)r->consumption,
			       (long long)(r->end_value - r->start_value));
		if (r->consumption < 0 || r->start_value < 0)
			report(k, "%s %s: negative", meter_name(m), fmt_day(d, d1));
		/* readings: those kept inside the day */
		int64_t s = ds(d), e = ds(d + 1);
		uint32_t inside = 0;
		for (size_t j = 0; j < all.n; j++)
			inside += all.r[j]->ts >= s && all.r[j]->ts < e;
		if (r->readings != inside)
			report(k, "%s %s: %u readings, %u kept", meter_name(m), fmt_day(d, d1),
			       r->readings, inside);
		/* a day without readings misses its minutes, but for the half
		 * poll interval a reading just beyond a midnight stands for */
		if (r->readings == 0 &&
		    (r->minutes_missing + poll / MIN < (uint32_t)((e - s) / MIN) ||
		     r->minutes_missing > (uint32_t)((e - s) / MIN) ||
		     r->quality == GW_Q_INCOMPLETE))
			report(k, "%s %s: a dark day with %u minutes missing, %s", meter_name(m),
			       fmt_day(d, d1), r->minutes_missing,
			       gw_quality_name((enum gw_quality)r->quality));
		if (first == INT32_MIN)
			first = d;
		if (prev != INT32_MIN) {
			const struct gw_day_register *pr = &rows[prev - res->day_lo].d;
			{
				/* a long_gap event before d fills the break, if any;
				 * without one, the days chain */
				int found = 0;
				for (size_t j = 0; j < res->ngaps; j++) {
					int64_t wh;
					int32_t before;
					if (res->gaps[j].meter != m)
						continue;
					if (parse_gap(res->gaps[j].detail, &wh, &before)) {
						report(k, "long_gap detail '%s'", res->gaps[j].detail);
						continue;
					}
					if (before != d)
						continue;
					found++;
					gap_sum += wh;
					if (pr->end_value + wh != r->start_value)
						report(k, "%s: %s ends at %lld, %s starts at %lld, long_gap %lld Wh",
						       meter_name(m), fmt_day(prev, d1),
						       (long long)pr->end_value, fmt_day(d, d2),
						       (long long)r->start_value, (long long)wh);
					/* its silence reached back beyond the window when
					 * the meter came back */
					const struct rdg *p = NULL, *q = NULL;
					for (size_t x = 0; x < all.n; x++)
						if (all.r[x]->ts == res->gaps[j].ts)
							p = all.r[x];
					for (size_t x = 0; x < k->n && p; x++)
						if (k->r[x].meter == m && k->r[x].ts > p->ts &&
						    kept(k, &k->r[x])) {
							q = &k->r[x];
							break;
						}
					if (!p || !q)
						report(k, "%s: long_gap at %lld names no reading", meter_name(m),
						       (long long)res->gaps[j].ts);
					else if (next_day_at(k, q->arrive) - k->p.revision_window_days != d ||
						 ds(d) - p->ts <= k->p.midnight_tolerance_ms)
						report(k, "%s: long_gap before %s: silent from %lld, back at %lld (day %s)",
						       meter_name(m), fmt_day(d, d1), (long long)p->ts,
						       (long long)q->arrive,
						       fmt_day(next_day_at(k, q->arrive) - k->p.revision_window_days, d2));
				}
				if (found > 1 || (found == 0 && (d != prev + 1 ||
								r->start_value != pr->end_value)))
					report(k, "%s: %s (end %lld) to %s (start %lld): %d long_gap events",
					       meter_name(m), fmt_day(prev, d1), (long long)pr->end_value,
					       fmt_day(d, d2), (long long)r->start_value, found);
				used += (size_t)found;
			}
		}
		sum += r->consumption;
		prev = last = d;
	}
	if (used != mine)
		report(k, "%s: %zu long_gap events, %zu fill breaks", meter_name(m), mine, used);
	if (first != INT32_MIN) {
		/* the books: days and long gaps add up to the register's change */
		int64_t change = rows[last - res->day_lo].d.end_value -
				 rows[first - res->day_lo].d.start_value;
		if (sum + gap_sum != change)
			report(k, "%s: days %lld + long gaps %lld != %lld (%s .. %s)", meter_name(m),
			       (long long)sum, (long long)gap_sum, (long long)change,
			       fmt_day(first, d1), fmt_day(last, d2));
		/* and any run of chained days on its own */
		for (int t = 0; t < 8; t++) {
			int32_t a = first + (int32_t)rr(0, last - first);
			int64_t s = 0;
			int32_t b = a;
			if (!rows[a - res->day_lo].have)
				continue;
			for (; b <= last && rows[b - res->day_lo].have; b++) {
				if (b > a && rows[b - res->day_lo].d.start_value !=
						     rows[b - 1 - res->day_lo].d.end_value)
					break;
				s += rows[b - res->day_lo].d.consumption;
				if (s != rows[b - res->day_lo].d.end_value -
					     rows[a - res->day_lo].d.start_value)
					report(k, "%s: %s .. %s sum %lld", meter_name(m), fmt_day(a, d1),
					       fmt_day(b, d2), (long long)s);
			}
		}
	}

	/* Without late back-fill: every row is what the rules give for the
	 * readings known when its day became final; the start of a day
	 * from the books frozen when the day before became final. */
	if (!k->backfill) {
		int w = k->p.revision_window_days;
		for (int32_t i = 0; i < res->ndays; i++) {
			int32_t d = res->day_lo + i;
			if (d < k->first_day)
				continue;
			/* known when d became final (next_day passed d + w) */
			int64_t fin = ds(d + w + 1) + k->p.seal_delay_ms;
			int64_t fin_prev = ds(d + w) + k->p.seal_delay_ms;
			struct known kd = {all.r, 0}, kp = {all.r, 0};
			while (kd.n < all.n && all.r[kd.n]->arrive < fin)
				kd.n++;
			while (kp.n < all.n && all.r[kp.n]->arrive < fin_prev)
				kp.n++;
			/* the start: frozen from what was known when d - 1 became
			 * final, unless nothing followed that midnight then */
			int64_t v;
			const struct known *svk = &kd;
			if (ref_boundary(k, &kp, ds(d), &v) != GW_Q_INCOMPLETE)
				svk = &kp;
			struct gw_day_register want;
			int has = ref_row(k, &kd, svk, d, &want);
			if (has != rows[i].have) {
				report(k, "%s %s: row %s, the rules say %s", meter_name(m),
				       fmt_day(d, d1), rows[i].have ? "sealed" : "missing",
				       has ? "one" : "none");
				continue;
			}
			if (!has)
				continue;
			const struct gw_day_register *got = &rows[i].d;
			if (got->start_value != want.start_value || got->end_value != want.end_value ||
			    got->quality != want.quality || got->readings != want.readings ||
			    got->minutes_missing != want.minutes_missing)
				report(k, "%s %s: got %lld..%lld %s %u readings %u min, the rules say "
				       "%lld..%lld %s %u readings %u min", meter_name(m), fmt_day(d, d1),
				       (long long)got->start_value, (long long)got->end_value,
				       gw_quality_name((enum gw_quality)got->quality), got->readings,
				       got->minutes_missing, (long long)want.start_value,
				       (long long)want.end_value,
				       gw_quality_name((enum gw_quality)want.quality), want.readings,
				       want.minutes_missing);
		}
	}
	free(all.r);
}

/* GW_PROPERTY_DEBUG=1: the rows, events and readings of a case. */
static void dump(const struct kase *k, const struct result *res)
{
	char d1[16], t1[40], t2[40];

	for (int m = 0; m < k->nmeters; m++) {
		for (int32_t i = 0; i < res->ndays; i++) {
			const struct gw_day_register *r = &res->rows[m][i].d;
			if (res->rows[m][i].have)
				print_message("# %s %s %lld..%lld (%lld) %s %u readings %u min\n",
					      meter_name(m), fmt_day(res->day_lo + i, d1),
					      (long long)r->start_value, (long long)r->end_value,
					      (long long)r->consumption,
					      gw_quality_name((enum gw_quality)r->quality),
					      r->readings, r->minutes_missing);
		}
	}
	for (size_t j = 0; j < res->ngaps; j++)
		print_message("# long_gap %s %s: %s\n", meter_name(res->gaps[j].meter),
			      gw_format_utc(res->gaps[j].ts, t1, sizeof(t1)), res->gaps[j].detail);
	for (size_t i = 1; i < k->n; i++) {
		const struct rdg *a = &k->r[i - 1], *b = &k->r[i];
		if (a->meter == b->meter && (b->ts - a->ts > 2 * k->p.poll_interval_ms ||
					     b->arrive != b->ts || a->arrive != a->ts))
			print_message("# %s %s -> %s (arrives %lld min late, status %d)\n",
				      meter_name(a->meter), gw_format_utc(a->ts, t1, sizeof(t1)),
				      gw_format_utc(b->ts, t2, sizeof(t2)),
				      (long long)((b->arrive - b->ts) / MIN), b->status);
	}
}

static void compare_runs(const struct kase *k, const struct result *a,
			 const struct result *b)
{
	char d1[16];

	for (int m = 0; m < k->nmeters; m++)
		for (int32_t i = 0; i < a->ndays; i++) {
			const struct row *x = &a->rows[m][i], *y = &b->rows[m][i];
			if (x->have != y->have ||
			    (x->have && (x->d.start_value != y->d.start_value ||
					 x->d.end_value != y->d.end_value ||
					 x->d.consumption != y->d.consumption ||
					 x->d.quality != y->d.quality ||
					 x->d.readings != y->d.readings ||
					 x->d.minutes_missing != y->d.minutes_missing)))
				report(k, "%s %s differs after %d restart(s): %lld..%lld %s / %lld..%lld %s",
				       meter_name(m), fmt_day(a->day_lo + i, d1), b->restarts,
				       (long long)x->d.start_value, (long long)x->d.end_value,
				       x->have ? "row" : "none", (long long)y->d.start_value,
				       (long long)y->d.end_value, y->have ? "row" : "none");
		}
	if (a->ngaps != b->ngaps)
		report(k, "%zu long_gap events, %zu after %d restart(s)", a->ngaps, b->ngaps,
		       b->restarts);
	for (size_t i = 0; i < a->ngaps; i++) {
		int found = 0;
		for (size_t j = 0; j < b->ngaps; j++)
			found |= a->gaps[i].meter == b->gaps[j].meter &&
				 a->gaps[i].ts == b->gaps[j].ts &&
				 strcmp(a->gaps[i].detail, b->gaps[j].detail) == 0;
		if (!found)
			report(k, "long_gap '%s' missing after restarts", a->gaps[i].detail);
	}
}

static uint64_t env_u64(const char *name, uint64_t dflt)
{
	const char *s = getenv(name);

	return s && *s ? strtoull(s, NULL, 10) : dflt;
}

static void conservation_property(void **state)
{
	uint64_t seed = env_u64("GW_PROPERTY_SEED", 20260301);
	int cases = (int)env_u64("GW_PROPERTY_CASES", 500);
	const char *one = getenv("GW_PROPERTY_CASE");
	int from = 0, to = cases;
	unsigned long readings = 0, gaps = 0, restarts = 0, backfilled = 0, dst = 0;

	(void)state;
	gw_log_set_level(GW_LOG_ERROR);
	if (one && *one) {
		from = atoi(one);
		to = from + 1;
	}
	for (int c = from; c < to && failures < 20; c++) {
		struct kase k;
		struct result plain, crashed;
		make_case(&k, seed, c);
		run_case(&k, &plain, 0);
		run_case(&k, &crashed, 1);
		for (int m = 0; m < k.nmeters; m++)
			check_meter(&k, &plain, m);
		if (getenv("GW_PROPERTY_DEBUG"))
			dump(&k, &plain);
		compare_runs(&k, &plain, &crashed);
		readings += k.n;
		gaps += plain.ngaps;
		restarts += (unsigned long)crashed.restarts;
		backfilled += (unsigned long)k.backfill;
		dst += strcmp(k.zone, "Asia/Ho_Chi_Minh") != 0 &&
		       dst_change(dof(k.t0), dof(k.t_end)) != 0;
		free_result(&plain);
		free_result(&crashed);
		free_case(&k);
	}
	print_message("# %d cases from seed %llu: %lu readings, %lu long gaps, %lu restarts, "
		      "%lu cases back-filled, %lu across a DST change\n",
		      to - from, (unsigned long long)seed, readings, gaps, restarts,
		      backfilled, dst);
	failures_checked();
}

/* The same cases with the points spilled to files in a temporary
 * directory (each sealed day's points written out, read back for
 * revisions, late readings and the edge, rebuilt after each restart):
 * byte for byte the batches of the core that keeps them in memory, with
 * and without restarts. GW_PROPERTY_SPILL_CASES (default 100) cases of
 * the same seed; `make soak` runs more. */
static void conservation_spill(void **state)
{
	uint64_t seed = env_u64("GW_PROPERTY_SEED", 20260301);
	int cases = (int)env_u64("GW_PROPERTY_SPILL_CASES", 100);
	char dir[] = "/tmp/gw_spill_XXXXXX";
	unsigned long batches = 0, bytes = 0;

	(void)state;
	gw_log_set_level(GW_LOG_ERROR);
	assert_non_null(mkdtemp(dir));
	spill_writes = 0;
	for (int c = 0; c < cases && failures < 20; c++) {
		struct kase k;
		struct result mem[2], disk[2];
		make_case(&k, seed, c);
		for (int w = 0; w < 2; w++) {
			spill_dir = NULL;
			run_case(&k, &mem[w], w);
			spill_dir = dir;
			run_case(&k, &disk[w], w);
			spill_dir = NULL;
			if (mem[w].bytes.n != disk[w].bytes.n ||
			    (mem[w].bytes.n &&
			     memcmp(mem[w].bytes.p, disk[w].bytes.p, mem[w].bytes.n) != 0))
				report(&k, "%s: the batches with the points spilled differ "
				       "(%zu bytes against %zu in memory)",
				       w ? "with restarts" : "plain", disk[w].bytes.n,
				       mem[w].bytes.n);
			bytes += (unsigned long)mem[w].bytes.n;
			free_result(&mem[w]);
			free_result(&disk[w]);
		}
		batches++;
		free_case(&k);
	}
	assert_int_equal(rmdir(dir), 0); /* the store removed its files */
	print_message("# %lu cases, %lu bytes of batches each way, %llu records "
		      "spilled and read back\n", batches, bytes,
		      (unsigned long long)spill_writes);
	assert_true(spill_writes > 0);
	failures_checked();
}

/* ---- nothing overflows anywhere ---- */

static const int64_t extremes[] = {
	INT64_MAX, INT64_MIN, INT64_MAX - 1, INT64_MIN + 1, 0, -1, 1,
	4611686018427387904LL, -4611686018427387904LL, GW_ENERGY_MAX,
	GW_ENERGY_MAX + 1, 9223372036854775000LL, -9223372036854775000LL,
};
#define N_EXT (sizeof(extremes) / sizeof(extremes[0]))

/* The batch encoder works modulo 2^64: a batch whose values and times
 * alternate between the int64 limits comes back exactly. */
static void encoder_extremes(void **state)
{
	struct gw_batch b;
	struct gw_day_register days[N_EXT];
	struct gw_series se[2];
	int64_t ts[2][N_EXT], val[2][N_EXT];
	struct gw_event ev[N_EXT];

	(void)state;
	memset(&b, 0, sizeof(b));
	memset(days, 0, sizeof(days));
	memset(se, 0, sizeof(se));
	memset(ev, 0, sizeof(ev));
	snprintf(b.gateway_id, sizeof(b.gateway_id), "gw-ext");
	snprintf(b.timezone, sizeof(b.timezone), "Asia/Ho_Chi_Minh");
	b.day = 20500;
	b.created_ms = INT64_MAX;
	for (size_t i = 0; i < N_EXT; i++) {
		snprintf(days[i].meter_id, sizeof(days[i].meter_id), "M%zu", i);
		snprintf(days[i].obis, sizeof(days[i].obis), "1.8.0");
		days[i].unit = GW_UNIT_WH;
		days[i].start_value = extremes[i];
		days[i].end_value = extremes[(i + 1) % N_EXT];
		days[i].consumption = extremes[(i + 5) % N_EXT];
		days[i].readings = UINT32_MAX;
		days[i].minutes_missing = UINT32_MAX;
		for (int k = 0; k < 2; k++) {
			/* alternating huge positive and negative values */
			ts[k][i] = i % 2 ? extremes[i] : extremes[(i + 3) % N_EXT];
			val[k][i] = k ? extremes[N_EXT - 1 - i] : (i % 2 ? INT64_MAX : INT64_MIN);
		}
		snprintf(ev[i].meter_id, sizeof(ev[i].meter_id), "M%zu", i);
		ev[i].ts_ms = extremes[i];
		ev[i].kind = GW_EV_BAD_VALUE;
	}
	for (int k = 0; k < 2; k++) {
		snprintf(se[k].meter_id, sizeof(se[k].meter_id), "M%d", k);
		snprintf(se[k].obis, sizeof(se[k].obis), k ? "32.7.0" : "1.8.0");
		se[k].unit = k ? GW_UNIT_V : GW_UNIT_WH;
		se[k].scale = k ? -1 : 0;
		se[k].n = N_EXT;
		se[k].ts_ms = ts[k];
		se[k].value = val[k];
	}
	b.days = days;
	b.n_days = N_EXT;
	b.series = se;
	b.n_series = 2;
	b.events = ev;
	b.n_events = N_EXT;
	uint8_t *buf;
	size_t len;
	assert_int_equal(gw_batch_encode(&b, &buf, &len), 0);
	struct gw_batch *d;
	assert_int_equal(gw_batch_decode(buf, len, &d, NULL), 0);
	assert_int_equal(d->n_days, N_EXT);
	assert_int_equal(d->created_ms, INT64_MAX);
	for (size_t i = 0; i < N_EXT; i++) {
		assert_int_equal(d->days[i].start_value, days[i].start_value);
		assert_int_equal(d->days[i].end_value, days[i].end_value);
		assert_int_equal(d->days[i].consumption, days[i].consumption);
		assert_int_equal(d->days[i].readings, UINT32_MAX);
		assert_int_equal(d->events[i].ts_ms, extremes[i]);
	}
	for (int k = 0; k < 2; k++) {
		const struct gw_series *x = NULL;
		for (size_t j = 0; j < d->n_series; j++)
			if (!strcmp(d->series[j].obis, se[k].obis))
				x = &d->series[j];
		assert_non_null(x);
		assert_int_equal(x->n, N_EXT);
		assert_memory_equal(x->ts_ms, ts[k], sizeof(ts[k]));
		assert_memory_equal(x->value, val[k], sizeof(val[k]));
	}
	gw_batch_free(d);
	free(buf);
}

static char tmpdir[256];

static void rm_tmp(void)
{
	char cmd[300];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	assert_int_equal(system(cmd), 0);
}

struct jcollect {
	size_t n;
	struct gw_reading r[64];
};

static int jcycle(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct jcollect *c = ctx;

	(void)bus;
	for (size_t i = 0; i < n && c->n < 64; i++)
		c->r[c->n++] = r[i];
	return 0;
}

/* The journal keeps any int64 value exactly, and replaying it into a
 * batcher crashes nothing: the impossible values are refused there. */
static void journal_extremes(void **state)
{
	struct gw_journal *j;
	struct gw_reading r[N_EXT];
	char spool[300];

	(void)state;
	assert_int_equal(gw_tz_set("Asia/Ho_Chi_Minh"), 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gwcons.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
	assert_int_equal(gw_spool_open(spool), 0);
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	int64_t t0 = gw_tz_day_start(20500);
	for (size_t i = 0; i < N_EXT; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		snprintf(r[i].meter_id, sizeof(r[i].meter_id), "M1");
		snprintf(r[i].obis, sizeof(r[i].obis), "1.8.0");
		r[i].ts_ms = t0 + (int64_t)i * 60000;
		r[i].value = extremes[i];
		r[i].unit = GW_UNIT_WH;
	}
	assert_int_equal(gw_journal_append_cycle(j, 0, r, N_EXT), 0);
	gw_journal_close(j);
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	struct jcollect c = {0};
	struct gw_journal_stats st;
	assert_int_equal(gw_journal_replay(j, jcycle, NULL, &c, &st), 0);
	gw_journal_close(j);
	assert_int_equal(c.n, N_EXT);
	for (size_t i = 0; i < N_EXT; i++)
		assert_int_equal(c.r[i].value, extremes[i]);
	/* into a restored batcher, as gatewayd replays it */
	struct gw_batcher_params p = {.gateway_id = "gw", .poll_interval_ms = 60000,
				      .midnight_tolerance_ms = 60000,
				      .max_gap_ms = 7200000, .revision_window_days = 2};
	struct gw_batcher *b = gw_batcher_new(&p);
	gw_batcher_restore(b, 20500);
	gw_drops_reset();
	assert_int_equal(gw_batcher_replay(b, c.r, c.n), 0);
	assert_int_equal(gw_drops_get(GW_DROP_BAD_VALUE), 0); /* counted when read */
	gw_batcher_free(b);
	rm_tmp();
}

/* The edges file: written with a CRC line, read back; a damaged one is set
 * aside in quarantine/ and the books are taken up from the journal; one
 * for a later day is left alone. */
static int keep_batch(void *ctx, struct gw_batch *b)
{
	(void)ctx;
	gw_batch_free(b);
	return 0;
}

/* The edges text of a batcher restored at day next and given spool's
 * edges file (which must load), *len its length; free it. */
static char *read_back(const char *spool, const struct gw_batcher_params *p,
		       int32_t next, size_t *len)
{
	struct gw_batcher *b = gw_batcher_new(p);
	char *text;

	assert_non_null(b);
	gw_batcher_restore(b, next);
	assert_int_equal(gw_edges_read(spool, b), 1);
	assert_int_equal(gw_batcher_edges_save(b, &text, len), 0);
	gw_batcher_free(b);
	return text;
}

static void edges_file(void **state)
{
	char spool[300], path[400], q[400];
	struct gw_batcher_params p = {.gateway_id = "gw", .poll_interval_ms = 900000,
				      .midnight_tolerance_ms = 60000,
				      .max_gap_ms = 7200000, .seal_delay_ms = 1800000,
				      .max_power_w = 250000, .revision_window_days = 2};

	(void)state;
	assert_int_equal(gw_tz_set("Asia/Ho_Chi_Minh"), 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gwcons.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
	snprintf(path, sizeof(path), "%s/edges", spool);
	snprintf(q, sizeof(q), "%s/quarantine/edges", spool);
	assert_int_equal(gw_spool_open(spool), 0);
	struct gw_batcher *b = gw_batcher_new(&p);
	assert_int_equal(gw_edges_write(spool, b), 0); /* nothing sealed yet */
	assert_int_not_equal(access(path, F_OK), 0);
	int64_t t0 = gw_tz_day_start(20500);
	for (int64_t t = t0; t < t0 + 5 * DAY; t += 15 * MIN) {
		struct gw_reading r;
		memset(&r, 0, sizeof(r));
		snprintf(r.obis, sizeof(r.obis), "1.8.0");
		r.unit = GW_UNIT_WH;
		r.ts_ms = t;
		r.value = (t - t0) / MIN;
		snprintf(r.meter_id, sizeof(r.meter_id), "A");
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
		if (t < t0 + DAY) { /* B goes silent after day 1 */
			snprintf(r.meter_id, sizeof(r.meter_id), "B");
			assert_int_equal(gw_batcher_add(b, &r, 1), 0);
		}
		assert_true(gw_batcher_advance(b, t, keep_batch, NULL) >= 0);
	}
	int32_t next = gw_batcher_oldest_open_day(b);
	assert_int_equal(gw_edges_write(spool, b), 0);
	char *want;
	size_t wlen;
	assert_int_equal(gw_batcher_edges_save(b, &want, &wlen), 0);
	gw_batcher_free(b);

	/* read back: the same books */
	size_t glen;
	char *got = read_back(spool, &p, next, &glen);
	assert_int_equal(glen, wlen);
	assert_memory_equal(got, want, wlen);
	free(got);

	/* written for a later day than the spool says: not used, kept */
	b = gw_batcher_new(&p);
	gw_batcher_restore(b, next - 3);
	assert_int_equal(gw_edges_read(spool, b), 0);
	assert_int_equal(access(path, F_OK), 0);
	gw_batcher_free(b);

	/* one flipped byte, a cut tail, no end line, a bad line with a good
	 * CRC: each is set aside and reported */
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char buf[8192];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	assert_true(n > 40 && n < sizeof(buf));
	for (int kind = 0; kind < 4; kind++) {
		char dam[8192];
		size_t dn = n;
		memcpy(dam, buf, n);
		if (kind == 0)
			dam[n / 2] ^= 0x20;
		else if (kind == 1)
			dn = n - 7;
		else if (kind == 2)
			dn = n - 20;
		else {
			char body[8192];
			size_t bl = (size_t)snprintf(body, sizeof(body),
						     "next_day=2026-02-01 edge_day=2026-01-30\n"
						     "A\t1.8.0\tWh\tfrozen\t-1\tmeasured\t-\t-\t0\n");
			dn = (size_t)snprintf(dam, sizeof(dam), "%s", body);
			dn += (size_t)snprintf(dam + dn, sizeof(dam) - dn, "end crc32=%08x\n",
					       (unsigned)gw_crc32((const uint8_t *)body, bl));
		}
		f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(dam, 1, dn, f), dn);
		fclose(f);
		unlink(q);
		b = gw_batcher_new(&p);
		gw_batcher_restore(b, next);
		assert_int_equal(gw_edges_read(spool, b), GW_ECORRUPT);
		assert_int_not_equal(access(path, F_OK), 0);
		assert_int_equal(access(q, F_OK), 0);
		/* and the batcher takes the books up from the readings */
		assert_int_equal(gw_edges_read(spool, b), 0);
		gw_batcher_free(b);
	}
	free(want);
	rm_tmp();
}

/* Reads path whole into *buf (free it); returns its length. */
static size_t slurp(const char *path, char **buf)
{
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	assert_int_equal(fseek(f, 0, SEEK_END), 0);
	long n = ftell(f);
	assert_true(n >= 0);
	rewind(f);
	*buf = malloc((size_t)n + 1);
	assert_non_null(*buf);
	assert_int_equal(fread(*buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return (size_t)n;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The lines of text (cut at its line breaks, in place), sorted, then a
 * NULL; free the array. */
static char **lines_sorted(char *text, size_t len)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < len; i++)
		n += text[i] == '\n';
	char **v = calloc(n + 1, sizeof(*v));
	assert_non_null(v);
	for (char *p = text; p < text + len; p = strchr(p, '\0') + 1) {
		v[k++] = p;
		*strchr(p, '\n') = '\0';
	}
	assert_int_equal(k, n);
	qsort(v, n, sizeof(*v), cmp_str);
	return v;
}

/* The edges file of a large gateway is streamed into the file (many
 * buffers' worth) and is byte for byte the whole text with its CRC line
 * as it was written before (gw_batcher_edges_save, then "end crc32=" over
 * it); a write that fails at its start (no tmp/) or in its middle (the
 * file size limit) leaves the old file as it was and nothing in tmp/. */
static void edges_streamed(void **state)
{
	char spool[300], path[400], tdir[400], tpath[400];
	struct gw_batcher_params p = {.gateway_id = "gw", .poll_interval_ms = 3600000,
				      .midnight_tolerance_ms = 60000,
				      .max_gap_ms = 7200000, .seal_delay_ms = 1800000,
				      .max_power_w = 250000, .revision_window_days = 2};
	enum { METERS = 1500 };

	(void)state;
	assert_int_equal(gw_tz_set("Europe/Berlin"), 0);
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gwcons.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(spool, sizeof(spool), "%s/spool", tmpdir);
	snprintf(path, sizeof(path), "%s/edges", spool);
	snprintf(tdir, sizeof(tdir), "%s/tmp", spool);
	snprintf(tpath, sizeof(tpath), "%s/tmp/edges", spool);
	assert_int_equal(gw_spool_open(spool), 0);
	struct gw_batcher *b = gw_batcher_new(&p);
	int64_t t0 = gw_tz_day_start(20500);
	for (int64_t t = t0; t < t0 + 5 * DAY; t += 60 * MIN) {
		for (int m = 0; m < METERS; m++) {
			/* every 7th meter silent from day 2 on: pending */
			if (m % 7 == 0 && t >= t0 + DAY)
				continue;
			struct gw_reading r;
			memset(&r, 0, sizeof(r));
			snprintf(r.meter_id, sizeof(r.meter_id), "%012d", 100000000 + m);
			r.unit = GW_UNIT_WH;
			r.ts_ms = t + m * 1000;
			snprintf(r.obis, sizeof(r.obis), "1.8.0");
			r.value = 1000000 + m * 17 + (t - t0) / MIN * (1 + m % 5);
			assert_int_equal(gw_batcher_add(b, &r, 1), 0);
			snprintf(r.obis, sizeof(r.obis), "2.8.0");
			r.value = m + (t - t0) / MIN / 7;
			assert_int_equal(gw_batcher_add(b, &r, 1), 0);
		}
		assert_true(gw_batcher_advance(b, t, keep_batch, NULL) >= 0);
	}
	char *text, *file, *want;
	size_t len, flen;
	assert_int_equal(gw_batcher_edges_save(b, &text, &len), 0);
	assert_true(len > 3 * 65536); /* more than one buffer's worth */
	want = malloc(len + 32);
	assert_non_null(want);
	memcpy(want, text, len);
	size_t wlen = len + (size_t)snprintf(want + len, 32, "end crc32=%08x\n",
					     (unsigned)gw_crc32((const uint8_t *)text, len));
	assert_int_equal(gw_edges_write(spool, b), 0);
	flen = slurp(path, &file);
	assert_int_equal(flen, wlen);
	assert_memory_equal(file, want, wlen);
	free(file);

	/* no tmp/: the write fails before a byte, the old file stays */
	assert_int_equal(rmdir(tdir), 0);
	assert_int_equal(gw_edges_write(spool, b), GW_EIO);
	flen = slurp(path, &file);
	assert_int_equal(flen, wlen);
	assert_memory_equal(file, want, wlen);
	free(file);
	assert_int_equal(mkdir(tdir, 0750), 0);

	/* a write that fails after some buffers went to the file: the file
	 * size limit (EFBIG; SIGXFSZ ignored) */
	struct rlimit was, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &was), 0);
	lim = was;
	lim.rlim_cur = 2 * 65536 + 100;
	void (*old_xfsz)(int) = signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = gw_edges_write(spool, b);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &was), 0);
	signal(SIGXFSZ, old_xfsz);
	assert_int_equal(rc, GW_EIO);
	assert_int_not_equal(access(tpath, F_OK), 0);
	flen = slurp(path, &file);
	assert_int_equal(flen, wlen);
	assert_memory_equal(file, want, wlen);
	free(file);

	/* and it reads back to the same books (the same lines; the tracks
	 * of a batcher read back are walked in another order) */
	int32_t next = gw_batcher_oldest_open_day(b);
	gw_batcher_free(b);
	size_t glen;
	char *got = read_back(spool, &p, next, &glen);
	assert_int_equal(glen, len);
	char **la = lines_sorted(text, len), **lb = lines_sorted(got, glen);
	for (size_t i = 0; la[i] || lb[i]; i++) {
		assert_non_null(la[i]);
		assert_non_null(lb[i]);
		assert_string_equal(la[i], lb[i]);
	}
	free(la);
	free(lb);
	free(got);
	free(text);
	free(want);
	rm_tmp();
}

/* Garbage among good readings, at random: huge, negative, near the int64
 * limits, inside the range as spikes up or down (one at a time between
 * good readings), with and without max_power. Nothing crashes or
 * overflows (the sanitizer build checks), and the days never count more
 * than the register really rose. */
static void garbage_property(void **state)
{
	uint64_t seed = env_u64("GW_PROPERTY_SEED", 20260301);
	int cases = (int)env_u64("GW_PROPERTY_CASES", 500) / 4;

	(void)state;
	gw_log_set_level(GW_LOG_ERROR);
	assert_int_equal(gw_tz_set("Europe/Berlin"), 0);
	const char *one = getenv("GW_PROPERTY_CASE");
	for (int c = one && *one ? atoi(one) : 0; c < cases; c++) {
		if (one && *one && c != atoi(one))
			break;
		rs = splitmix(seed ^ splitmix((uint64_t)c + 77)) | 1;
		struct gw_batcher_params p = {
			.gateway_id = "gw", .poll_interval_ms = 15 * MIN,
			.midnight_tolerance_ms = MIN, .max_gap_ms = 2 * HOUR,
			.seal_delay_ms = 30 * MIN, .max_power_w = chance(50) ? 250000 : 0,
			.revision_window_days = (int)rr(0, 3),
		};
		struct gw_batcher *b = gw_batcher_new(&p);
		int32_t d0 = 20500 + (int32_t)rr(0, 300);
		int64_t t0 = ds(d0), v = rr(0, GW_ENERGY_MAX / 2), v0 = v;
		struct result res;
		memset(&res, 0, sizeof(res));
		res.day_lo = d0 - 5;
		res.ndays = 20;
		res.max_batch_day = INT32_MIN;
		res.rows[0] = calloc(20, sizeof(struct row));
		struct kase k;
		memset(&k, 0, sizeof(k));
		k.seed = seed;
		k.idx = c;
		snprintf(k.desc, sizeof(k.desc), "garbage case, max_power %lld",
			 (long long)p.max_power_w);
		struct run r = {.k = &k, .res = &res, .b = b, .garbage = 1};
		int last_inside = 0;
		for (int64_t t = t0; t < t0 + 4 * DAY; t += 15 * MIN) {
			v += rr(0, 2000);
			struct gw_reading g[2];
			memset(g, 0, sizeof(g));
			for (int i = 0; i < 2; i++) {
				snprintf(g[i].meter_id, sizeof(g[i].meter_id), "M1");
				snprintf(g[i].obis, sizeof(g[i].obis), "1.8.0");
				g[i].unit = GW_UNIT_WH;
			}
			g[0].ts_ms = t;
			g[0].value = v;
			g[1].ts_ms = t + rr(1, 14) * MIN;
			switch (rnd() % 4) {
			case 0:
				g[1].value = extremes[rnd() % N_EXT];
				break;
			case 1:
				g[1].value = (int64_t)rnd();
				break;
			case 2:
				g[1].value = rr(0, GW_ENERGY_MAX);
				break;
			default:
				g[1].value = v + rr(-1000000, 1000000);
				break;
			}
			/* a value inside the range is garbage the core can tell
			 * only by good readings on both sides of it: one at a
			 * time (values outside it come as they like) */
			int ng = chance(10) ? 2 : 1;
			int inside = g[1].value >= 0 && g[1].value <= GW_ENERGY_MAX;
			if (ng == 2 && inside && last_inside)
				ng = 1;
			last_inside = ng == 2 && inside;
			if (getenv("GW_PROPERTY_DEBUG"))
				for (int i = 0; i < ng; i++)
					print_message("#   add %lld %lld\n", (long long)g[i].ts_ms,
						      (long long)g[i].value);
			assert_int_equal(gw_batcher_add(b, g, ng), 0);
			assert_true(gw_batcher_advance(b, t, on_sealed, &r) >= 0);
		}
		/* a good reading last: a garbage value is known as such by
		 * the readings on both sides of it */
		{
			struct gw_reading g;
			memset(&g, 0, sizeof(g));
			snprintf(g.meter_id, sizeof(g.meter_id), "M1");
			snprintf(g.obis, sizeof(g.obis), "1.8.0");
			g.unit = GW_UNIT_WH;
			g.ts_ms = t0 + 4 * DAY;
			g.value = v += rr(0, 2000);
			assert_int_equal(gw_batcher_add(b, &g, 1), 0);
		}
		assert_true(gw_batcher_advance(b, t0 + 6 * DAY, on_sealed, &r) >= 0);
		int64_t sum = 0;
		for (int i = 0; i < 20; i++)
			if (res.rows[0][i].have) {
				const struct gw_day_register *d = &res.rows[0][i].d;
				assert_true(d->start_value >= 0 && d->start_value <= GW_ENERGY_MAX);
				assert_true(d->end_value >= 0 && d->end_value <= GW_ENERGY_MAX);
				assert_true(d->consumption >= 0);
				sum += d->consumption;
			}
		if (sum > v - v0) {
			report(&k, "the days add up to %lld, the register rose by %lld",
			       (long long)sum, (long long)(v - v0));
			if (getenv("GW_PROPERTY_DEBUG"))
				for (int i = 0; i < 20; i++)
					if (res.rows[0][i].have)
						print_message("#   %lld..%lld %lld %s\n",
							      (long long)res.rows[0][i].d.start_value,
							      (long long)res.rows[0][i].d.end_value,
							      (long long)res.rows[0][i].d.consumption,
							      gw_quality_name(res.rows[0][i].d.quality));
		}
		gw_batcher_free(b);
		free_result(&res);
	}
	failures_checked();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(conservation_property),
		cmocka_unit_test(conservation_spill),
		cmocka_unit_test(encoder_extremes),
		cmocka_unit_test(journal_extremes),
		cmocka_unit_test(edges_file),
		cmocka_unit_test(edges_streamed),
		cmocka_unit_test(garbage_property),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
