/* SPDX-License-Identifier: MIT */
/*
 * batch_seal.c - sealing a local day into a batch: for each track the
 * day's start and end values and their quality, the sum of its increases
 * (with the events for drops, wraps and jumps), the interval series of
 * the day's readings (handed out one at a time, gw_batcher_advance_src,
 * or copied into the batch, gw_batcher_advance); which days are due, in order,
 * dirty ones again. See batch_int.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "batchfile.h"
#include "drops.h"

static int add_event(const struct gw_batcher *b, struct gw_batch *batch,
		     size_t *cap, const struct track *t, int64_t ts,
		     enum gw_event_kind kind, int64_t from, int64_t to)
{
	if (batch->n_events == *cap) {
		size_t ncap = *cap ? *cap * 2 : 8;
		struct gw_event *ne = realloc(batch->events, ncap * sizeof(*ne));
		if (!ne)
			return GW_ENOMEM;
		batch->events = ne;
		*cap = ncap;
	}
	struct gw_event *e = &batch->events[batch->n_events++];
	memset(e, 0, sizeof(*e));
	name_copy(e->meter_id, sizeof(e->meter_id), track_meter(b, t));
	name_copy(e->obis, sizeof(e->obis), track_obis(b, t));
	e->ts_ms = ts;
	e->kind = (uint8_t)kind;
	snprintf(e->detail, sizeof(e->detail), "%lld -> %lld %s", (long long)from,
		 (long long)to, gw_unit_name((enum gw_unit)t->unit));
	return 0;
}

/* Sums the increases along start value, readings inside [s, e), end value;
 * see gw_batcher_advance for how drops and jumps count. Raises *q and
 * records events as it goes. Every increase counted is bounded by a power
 * times its time, so the sum cannot overflow. */
static int sum_increases(const struct gw_batcher *b, const struct track *t,
			 struct tpts *pv, size_t first, size_t end, int64_t s,
			 int64_t sv, int64_t e, int64_t ev, struct gw_batch *batch,
			 size_t *ecap, enum gw_quality *q, int64_t *total)
{
	const struct point *p = pv->p;
	int64_t prev = sv, pts = s, sum = 0;

	for (size_t i = first; i <= end; i++) {
		/* (the register going down at or after a reading, tested here
		 * first: out_of_line is rare) */
		if (i < end && i > 0 && i + 1 < pv->n &&
		    (p[i].v < p[i - 1].v || p[i].v > p[i + 1].v) &&
		    batch_out_of_line(b, t, pv, i)) {
			/* left out: neither adds energy (through a "reset" back)
			 * nor takes any away */
			if (add_event(b, batch, ecap, t, p[i].ts, GW_EV_JUMP, prev,
				      p[i].v))
				return GW_ENOMEM;
			struct gw_event *x = &batch->events[batch->n_events - 1];
			snprintf(x->detail, sizeof(x->detail),
				 "%lld -> %lld -> %lld %.6s: one reading out of line, left out",
				 (long long)prev, (long long)p[i].v,
				 (long long)p[i + 1].v, gw_unit_name((enum gw_unit)t->unit));
			if (*q < GW_Q_ESTIMATED)
				*q = GW_Q_ESTIMATED;
			continue; /* the step goes from prev to the next reading */
		}
		int clamped = 0;
		int64_t v = i < end ? batch_booked(b, t, pv, p[i].ts, p[i].v, &clamped) : ev;
		int64_t ts = i < end ? p[i].ts : e;
		if (clamped && *q < GW_Q_ESTIMATED)
			*q = GW_Q_ESTIMATED;
		/* the event's time: the reading that showed the change */
		int64_t ets = i < end ? ts : (end < pv->n ? p[end].ts : e);
		/* the reading the step starts from (the start value stands for
		 * the last reading before the day) */
		int64_t from = i == first && first > 0 ? p[first - 1].ts : pts;
		/* The bounds hold over the readings the step's values come from:
		 * a midnight value taken from a reading within the tolerance
		 * beyond it spans that reading's time too. */
		int64_t dt = ets - (from < pts ? from : pts);
		int64_t inc = v - prev, bound = max_energy(b, dt);
		enum gw_event_kind kind = 0;
		if (batch_replaced_between(b, track_meter(b, t), from, ets)) {
			/* The old meter's register, then the new one's: the
			 * step between them is not consumption (the meter_replaced
			 * event says so), and the energy in it is not known. */
			inc = 0;
			if (*q < GW_Q_ESTIMATED)
				*q = GW_Q_ESTIMATED;
		} else if (inc < 0) {
			int64_t w = batch_wrap_increase(b, batch_rollover(b, t), prev, v, dt);
			if (w >= 0) {
				inc = w;
				kind = GW_EV_COUNTER_WRAP;
			} else {
				/* Reset or replaced: count the new counter from
				 * zero if it could have got there since. */
				inc = (bound >= 0 && v <= bound) ? v : 0;
				kind = GW_EV_COUNTER_RESET;
				if (*q < GW_Q_ESTIMATED)
					*q = GW_Q_ESTIMATED;
			}
		} else if (inc > (bound >= 0 ? bound : energy_in(GW_POWER_MAX_W, dt))) {
			kind = GW_EV_JUMP;
			inc = 0;
			if (*q < GW_Q_ESTIMATED)
				*q = GW_Q_ESTIMATED;
		}
		if (kind && add_event(b, batch, ecap, t, ets, kind, prev, v))
			return GW_ENOMEM;
		sum += inc;
		prev = v;
		pts = ts;
	}
	*total = sum;
	return 0;
}

/* The tracks with data in [s, e) or readings on both sides of it,
 * sorted by meter and register (batch_order), into list (their numbers;
 * room for every track). Returns how many, or GW_ENOMEM. */
static int day_tracks(struct gw_batcher *b, int64_t s, int64_t e, uint32_t *list)
{
	struct track_walk w;
	struct track *t;
	int n = 0;

	if (batch_walk_begin(b, &w) || b->n_tracks > INT_MAX)
		return GW_ENOMEM;
	/* Without decoding the tracks: one with its last point before s has
	 * nothing; else its first point before s spans the day, and one at
	 * or after s lies inside it if it comes before e. The first point
	 * is at or before the one before the last (kept decoded): the
	 * records' first time is read only when that one is at or after e
	 * (not for a track that read on through the day). */
	while ((t = batch_walk_next(&w)) != NULL)
		if (t->n > 0 && track_tail1(b, t).ts >= s &&
		    ((t->n >= 2 && track_tail0(b, t).ts < e) ||
		     batch_track_first_ts(b, t) < e))
			list[n++] = w.no;
	return n;
}

/* The daily record of energy track t for day d ([s, e); its points
 * [first, end)) into *dr, the events its increases raise appended to the
 * batch. Returns 1 (a record), 0 (nothing to say about this day) or
 * GW_ENOMEM. */
static int day_record(const struct gw_batcher *b, const struct track *t,
		      struct tpts *v, int32_t d, int64_t s, int64_t e,
		      size_t first, size_t end, struct gw_batch *batch,
		      size_t *ecap, struct gw_day_register *dr)
{
	const struct point *p = v->p;
	int64_t sv = 0, ev = 0;
	enum gw_quality qs = batch_boundary(b, t, v, s, &sv, NULL);
	enum gw_quality qe = batch_boundary(b, t, v, e, &ev, NULL);

	if (qs == GW_Q_INCOMPLETE || qe == GW_Q_INCOMPLETE) {
		if (end == first)
			return 0; /* nothing to say about this day */
		int clamped = 0;
		if (qs == GW_Q_INCOMPLETE)
			sv = batch_booked(b, t, v, p[first].ts, p[first].v, &clamped);
		if (qe == GW_Q_INCOMPLETE)
			ev = batch_booked(b, t, v, p[end - 1].ts, p[end - 1].v, &clamped);
	}
	enum gw_quality q = qs > qe ? qs : qe;
	/* a value refused as bad that day */
	if (iset_has(track_set(b, t, SET_BAD), d) && q < GW_Q_ESTIMATED)
		q = GW_Q_ESTIMATED;
	int64_t total;
	/* A point exactly at s is the start value itself. */
	size_t from = first < end && p[first].ts == s ? first + 1 : first;
	if (sum_increases(b, t, v, from, end, s, sv, e, ev, batch, ecap, &q, &total))
		return GW_ENOMEM;
	memset(dr, 0, sizeof(*dr));
	name_copy(dr->meter_id, sizeof(dr->meter_id), track_meter(b, t));
	name_copy(dr->obis, sizeof(dr->obis), track_obis(b, t));
	dr->unit = t->unit;
	dr->quality = (uint8_t)q;
	dr->start_value = sv;
	dr->end_value = ev;
	dr->consumption = total;
	dr->readings = (uint32_t)(end - first);
	dr->minutes_missing = batch_missing_minutes(b, v, first, end, s, e);
	return 1;
}

/* The interval series of a day being sealed: track t's points [first,
 * first + n) (the track's indices, not a view's). They are read from the
 * tracks as the batch is written (a struct gw_batch_src), not copied
 * into it. */
struct day_series {
	uint32_t t; /* its number (track_at) */
	uint32_t first, n;
};

struct seal_src {
	const struct gw_batcher *b;
	struct day_series *ser;
	int64_t *ts, *val; /* the series handed out last */
	size_t cap;
	uint8_t *same; /* src->same: a bit a series, found as the day is built */
	struct gw_wbuf days; /* the daily records' column, made likewise */
	int view; /* the open day: its tracks read as views where exact */
	int64_t s; /* the day's start */
};

/* A view (struct tpts: the track's last record and its points in
 * memory, batch_track_view) of track t for day [s, .) when the day is
 * the open one: the rules of a day read the day's points, the one after
 * them, and two before s at most (a midnight's reading out of line is
 * tested against its neighbours: boundary_raw), and batch_booked the
 * last before the edge midnight (lacks is set when that is not in the
 * view: the day is read again from the whole track). The view is taken
 * when it holds two points before s; the seal's pass writes the last
 * three points at or before the open day's start to the open day's
 * record (spill_track), so most tracks have them (not a track's first
 * day, whose chain the passes made: its open day's record starts in the
 * day). Returns 1 with *v, or 0 (the whole track is to be read). */
static int seal_view(const struct seal_src *c, struct track *t, int64_t s,
		     struct tpts *v)
{
	return c->view && batch_track_view(c->b, t, s, v) && tpts_lb(v, s) >= 2;
}

/* Room in c->ts and c->val for n points. Returns 0 or GW_ENOMEM. */
static int series_room(struct seal_src *c, uint32_t n)
{
	if (n > c->cap) {
		int64_t *nt = realloc(c->ts, n * sizeof(*nt));
		if (nt)
			c->ts = nt;
		int64_t *nv = realloc(c->val, n * sizeof(*nv));
		if (nv)
			c->val = nv;
		if (!nt || !nv)
			return GW_ENOMEM;
		c->cap = n;
	}
	return 0;
}

static int src_series(void *ctx, size_t i, int points, struct gw_series *out)
{
	struct seal_src *c = ctx;
	const struct day_series *x = &c->ser[i];
	struct track *t = track_at(c->b, x->t);

	name_copy(out->meter_id, sizeof(out->meter_id), track_meter(c->b, t));
	name_copy(out->obis, sizeof(out->obis), track_obis(c->b, t));
	out->unit = t->unit;
	out->scale = t->scale;
	out->n = x->n;
	out->ts_ms = out->value = NULL;
	if (!points)
		return 0;
	if (series_room(c, x->n))
		return GW_ENOMEM;
	/* the day's points: from the view when it has them (its points
	 * are the track's from v.off on), else from the whole track */
	struct tpts v;
	const struct point *p;
	if (c->view && batch_track_view(c->b, t, c->s, &v) && v.off <= x->first) {
		p = v.p + (x->first - v.off);
	} else {
		batch_track_open(c->b, t);
		p = track_pts(c->b, t) + x->first;
	}
	if (batch_spill_broken(c->b))
		return GW_EIO;
	for (uint32_t k = 0; k < x->n; k++) {
		c->ts[k] = p[k].ts;
		c->val[k] = p[k].v;
	}
	out->ts_ms = c->ts;
	out->value = c->val;
	return 0;
}

static void src_free(struct gw_batch_src *src)
{
	struct seal_src *c = src->ctx;

	gw_batch_free(src->batch);
	if (c) {
		free(c->ser);
		free(c->ts);
		free(c->val);
		free(c->same);
		free(c->days.p);
		free(c);
	}
	memset(src, 0, sizeof(*src));
}

/* Whether series i, track t's points [first, end) (it is open), has the
 * times of the series before it (tm: the times column's state, as the
 * encoder keeps it): its bit in c->same. The encoder writes such a
 * series' times as a single 0 and reads only the others again. */
static int day_same(struct seal_src *c, struct gw_batch_times *tm, size_t i,
		    const struct tpts *v, size_t first, size_t end)
{
	uint32_t n = (uint32_t)(end - first);

	if (series_room(c, n))
		return GW_ENOMEM;
	const struct point *p = v->p + first;
	for (uint32_t k = 0; k < n; k++)
		c->ts[k] = p[k].ts;
	int same = gw_batch_times_same(tm, c->ts, n);
	if (same < 0)
		return same;
	c->same[i / 8] |= (uint8_t)(same << (i % 8));
	return 0;
}

/* Track t's daily record for day d (see day_record) into the batch: laid
 * out into c->days when the day is streamed, else into batch->days.
 * Returns 0, GW_ENOMEM, or 1 when v is a view that lacks a point the
 * record needs (v->lacks: nothing added, the events it raised taken
 * back; the record is to be made from the whole track). */
static int add_day(struct seal_src *c, const struct track *t, struct tpts *v,
		   int32_t d, int64_t s, int64_t e, size_t first, size_t end,
		   struct gw_batch *batch, size_t *ecap, int streamed)
{
	struct gw_day_register one;
	struct gw_day_register *dr = streamed ? &one : &batch->days[batch->n_days];
	size_t n_events = batch->n_events;
	int rc = day_record(c->b, t, v, d, s, e, first, end, batch, ecap, dr);

	if (rc >= 0 && v->lacks) {
		batch->n_events = n_events;
		return 1;
	}
	if (rc <= 0)
		return rc;
	if (streamed) {
		gw_batch_day_put(&c->days, dr);
		if (c->days.oom)
			return GW_ENOMEM;
	}
	batch->n_days++;
	return 0;
}

/* Builds day d from every track with data in it: the events its daily
 * records raise into src->batch, its series as a source. Streamed (for
 * gw_batch_encode_src), the daily records are laid out as their column
 * there and then (src->days: about 25 bytes a record, where a struct
 * gw_day_register is 112), and each series marked when it has the times
 * of the one before (src->same: a bit a series); else the records go
 * into batch->days. Returns 0 or GW_ENOMEM (src freed). */
static int build_day(struct gw_batcher *b, int32_t d, int64_t now,
		     int streamed, struct gw_batch_src *src)
{
	int64_t s = gw_tz_day_start(d), e = gw_tz_day_start(d + 1);
	uint32_t *list = malloc(b->n_tracks * sizeof(*list) + 1);
	struct seal_src *c = calloc(1, sizeof(*c));
	struct gw_batch *batch = calloc(1, sizeof(*batch));
	struct gw_batch_times tm = {0}; /* the times column's state */
	size_t n_energy = 0, ecap = 0;
	int n;

	memset(src, 0, sizeof(*src));
	src->batch = batch;
	src->ctx = c;
	src->series = src_series;
	if (!list || !batch || !c)
		goto oom;
	c->b = b;
	n = day_tracks(b, s, e, list);
	if (n < 0)
		goto oom;
	if (!streamed) {
		for (int k = 0; k < n; k++)
			n_energy += gw_unit_is_energy(
				(enum gw_unit)track_at(b, list[k])->unit);
		batch->days = calloc(n_energy + 1, sizeof(*batch->days));
		if (!batch->days)
			goto oom;
	}
	c->ser = malloc(((size_t)n + 1) * sizeof(*c->ser));
	c->same = streamed ? calloc((size_t)n / 8 + 1, 1) : NULL;
	if (!c->ser || (streamed && !c->same))
		goto oom;
	gw_strlcpy(batch->gateway_id, b->gateway_id, sizeof(batch->gateway_id));
	gw_strlcpy(batch->timezone, gw_tz_name(), sizeof(batch->timezone));
	batch->day = d;
	batch->created_ms = now;
	int open_day = d == b->next_day;
	c->view = !b->no_view && open_day;
	c->s = s;
	for (int k = 0; k < n; k++) {
		struct track *t = track_at(b, list[k]);
		struct tpts v;
		int viewed = seal_view(c, t, s, &v);
		if (!viewed) {
			batch_track_open(b, t);
			v = track_all(b, t);
		}
		size_t first = tpts_lb(&v, s), end = tpts_lb(&v, e);
		if (end > first) {
			if (streamed && day_same(c, &tm, src->n_series, &v, first, end))
				goto oom;
			c->ser[src->n_series++] = (struct day_series){
				list[k], (uint32_t)(v.off + first), (uint32_t)(end - first)};
			src->n_readings += end - first;
		}
		int rc = 0;
		if (gw_unit_is_energy((enum gw_unit)t->unit))
			rc = add_day(c, t, &v, d, s, e, first, end, batch, &ecap,
				     streamed);
		if (rc == 1) {
			/* the view lacks a point the record needs: the whole
			 * track (the same points at v.off on) */
			viewed = 0;
			batch_track_open(b, t);
			v = track_all(b, t);
			first = tpts_lb(&v, s);
			end = tpts_lb(&v, e);
			rc = add_day(c, t, &v, d, s, e, first, end, batch, &ecap,
				     streamed);
		}
		if (rc)
			goto oom;
		if (open_day) {
			b->views += (uint64_t)viewed;
			b->view_full += (uint64_t)!viewed;
		}
	}
	if (batch_spill_broken(b))
		goto oom; /* a spilled record unread: never seal wrong numbers */
	src->same = c->same;
	src->days = streamed ? &c->days : NULL;
	gw_batch_times_free(&tm);
	free(list);
	return 0;
oom:
	gw_batch_times_free(&tm);
	free(list);
	src_free(src);
	return GW_ENOMEM;
}

/* The series of src copied into its batch (for a sealed_fn, which takes
 * the batch whole). Returns 0 or GW_ENOMEM. */
static int materialize(struct gw_batch_src *src)
{
	struct gw_batch *batch = src->batch;

	batch->series = calloc(src->n_series + 1, sizeof(*batch->series));
	if (!batch->series)
		return GW_ENOMEM;
	for (size_t i = 0; i < src->n_series; i++) {
		struct gw_series *se = &batch->series[i];
		if (src_series(src->ctx, i, 1, se))
			return GW_ENOMEM;
		int64_t *ts = malloc(se->n * sizeof(int64_t));
		int64_t *v = malloc(se->n * sizeof(int64_t));
		if (ts) {
			memcpy(ts, se->ts_ms, se->n * sizeof(int64_t));
		}
		if (v) {
			memcpy(v, se->value, se->n * sizeof(int64_t));
		}
		se->ts_ms = ts;
		se->value = v;
		batch->n_series++;
		if (!ts || !v)
			return GW_ENOMEM;
	}
	return 0;
}

/* The day of the oldest reading or queued event. */
static int32_t oldest_day(const struct gw_batcher *b)
{
	int64_t oldest = INT64_MAX;

	for (size_t no = 1; no <= b->n_tracks; no++) {
		const struct track *t = track_at(b, (uint32_t)no);
		if (t->n == 0)
			continue;
		if (batch_track_first_ts(b, t) < oldest)
			oldest = batch_track_first_ts(b, t);
	}
	for (size_t i = 0; i < b->n_events; i++)
		if (b->events[i].ts_ms < oldest && b->events[i].ts_ms >= 0 &&
		    b->events[i].ts_ms <= TS_MAX)
			oldest = b->events[i].ts_ms;
	return oldest == INT64_MAX ? INT32_MIN : gw_tz_day_of(oldest);
}

int32_t gw_batcher_oldest_open_day(const struct gw_batcher *b)
{
	return b->next_day != INT32_MIN ? b->next_day : oldest_day(b);
}

/* Where sealed days go: a sealed_fn takes each batch whole, a
 * sealed_src_fn reads its series from the tracks as it writes them. */
struct sink {
	gw_sealed_fn whole;
	gw_sealed_src_fn src;
	void *ctx;
};

/* The queued events due by `end` appended to the batch's own. */
static int with_events(struct gw_batcher *b, struct gw_batch *batch, int64_t end)
{
	size_t own = batch->n_events;
	struct gw_batch tmp = {0};

	if (batch_copy_events(b, &tmp, end))
		return GW_ENOMEM;
	if (tmp.n_events) {
		struct gw_event *ne = realloc(batch->events,
					      (own + tmp.n_events) * sizeof(*ne));
		if (!ne) {
			free(tmp.events);
			return GW_ENOMEM;
		}
		memcpy(ne + own, tmp.events, tmp.n_events * sizeof(*ne));
		batch->events = ne;
		batch->n_events = own + tmp.n_events;
	}
	free(tmp.events);
	return 0;
}

/* Builds day d and hands it to the sink with the events due by its end. */
static int seal_day(struct gw_batcher *b, int32_t d, int64_t now_ms,
		    const struct sink *sk, int with_queue)
{
	struct gw_batch_src src;
	int64_t end = gw_tz_day_start(d + 1);
	int rc;

	if (build_day(b, d, now_ms, sk->src != NULL, &src))
		return batch_spill_broken(b) ? GW_EIO : GW_ENOMEM;
	/* queued events (offline, online ...) go with the day */
	if (with_queue && with_events(b, src.batch, end)) {
		src_free(&src);
		return GW_ENOMEM;
	}
	if (!src.batch->n_days && !src.n_series && !src.batch->n_events) {
		src_free(&src); /* a day without any data */
		return 0;
	}
	if (sk->src) {
		rc = sk->src(sk->ctx, &src);
	} else if (materialize(&src)) {
		rc = GW_ENOMEM;
	} else {
		rc = sk->whole(sk->ctx, src.batch);
		src.batch = NULL; /* the sink's now */
	}
	src_free(&src);
	if (rc)
		return rc; /* the day and its events stay for a retry */
	if (with_queue)
		batch_drop_events(b, end);
	return 1;
}

static int cmp_day(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

static int advance(struct gw_batcher *b, int64_t now_ms, const struct sink *sk)
{
	int count = 0, rc;

	if (batch_spill_broken(b))
		return GW_EIO;
	if (b->next_day == INT32_MIN) {
		/* The first day with a reading, or with an event: a gateway
		 * whose meters never answered still seals its offline and
		 * outage events. Nothing before it was ever sealed. */
		int32_t d = oldest_day(b);
		if (d == INT32_MIN)
			return 0;
		batch_set_open(b, d);
		batch_set_edge(b, d - window(b));
		b->edges_known = 1;
	}
	if ((!b->edges_known || b->edge_day < b->next_day - window(b)) && batch_move_edge(b))
		return GW_ENOMEM;
	/* Sealed days with late readings first, oldest first: a new
	 * revision of each. */
	qsort(b->dirty, (size_t)b->n_dirty, sizeof(b->dirty[0]), cmp_day);
	while (b->n_dirty > 0) {
		rc = seal_day(b, b->dirty[0], now_ms, sk, 0);
		if (rc < 0)
			return rc;
		count += rc;
		memmove(b->dirty, b->dirty + 1,
			(size_t)(b->n_dirty - 1) * sizeof(b->dirty[0]));
		b->n_dirty--;
	}
	/* the open day's points to the store before it is sealed */
	batch_spill_day_end(b, now_ms);
	while (b->open_end + b->p.seal_delay_ms <= now_ms) {
		rc = seal_day(b, b->next_day, now_ms, sk, 1);
		if (rc < 0)
			return rc;
		count += rc;
		batch_set_open(b, b->next_day + 1);
		/* the day is written: its points go to the store as the
		 * tracks are pruned (batch_spill_core.c) */
		batch_spill_begin(b, b->next_day - 1);
		rc = batch_move_edge(b);
		batch_spill_end(b);
		if (rc)
			return GW_ENOMEM;
	}
	/* the open day's points so far, every few hours */
	batch_spill_hours(b, now_ms);
	return count;
}

/* advance() with the records read ahead (batch_spill_ra_begin): its
 * walks over the tracks read them in the order they lie in the file. */
static int advance_ra(struct gw_batcher *b, int64_t now_ms, const struct sink *sk)
{
	batch_spill_ra_begin(b);
	int rc = advance(b, now_ms, sk);
	batch_spill_ra_end(b);
	return rc;
}

int gw_batcher_advance(struct gw_batcher *b, int64_t now_ms,
		       gw_sealed_fn sealed, void *ctx)
{
	struct sink sk = {.whole = sealed, .ctx = ctx};

	return advance_ra(b, now_ms, &sk);
}

int gw_batcher_advance_src(struct gw_batcher *b, int64_t now_ms,
			   gw_sealed_src_fn sealed, void *ctx)
{
	struct sink sk = {.src = sealed, .ctx = ctx};

	return advance_ra(b, now_ms, &sk);
}
