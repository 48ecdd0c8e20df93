/* SPDX-License-Identifier: MIT */
/*
 * batch_midnight.c - a register's value at a midnight and how good it is:
 * measured (a reading at it), interpolated (readings on both sides close
 * enough), estimated or incomplete; the bounds on an increase (max_power_w,
 * counter wraps) that say whether a reading is out of line; the minutes
 * of a day without readings. See batch_int.h and batch.h for the rules.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "drops.h"
#include "wide.h"

/* a + (b - a) * num / den, rounded to nearest, without overflow
 * (wide.h: no 128-bit type on 32-bit ARM). */
static int64_t interp(int64_t a, int64_t b, int64_t num, int64_t den)
{
	return gw_interp64(a, b, num, den);
}

/* The largest increase counted in dt ms: the configured bound, or the
 * physical one (GW_POWER_MAX_W) when none is configured. */
static int64_t jump_bound(const struct gw_batcher *b, int64_t dt)
{
	int64_t c = max_energy(b, dt);

	return c >= 0 ? c : energy_in(GW_POWER_MAX_W, dt);
}

/* The increase from a to b, dt ms apart, if b < a is a wrap of a register
 * rolling over at r; -1 otherwise. */
int64_t batch_wrap_increase(const struct gw_batcher *b, int64_t r, int64_t a,
			    int64_t bv, int64_t dt)
{
	if (r <= 0 || bv >= a || a >= r)
		return -1;
	/* bv < a < r: bv + r - a lies in (bv, r), within int64; summed
	 * in uint64 (no 128-bit type on 32-bit ARM), read back exactly */
	int64_t inc = (int64_t)((uint64_t)bv + (uint64_t)r - (uint64_t)a);
	int64_t bound = max_energy(b, dt);
	if (bound >= 0 ? inc > bound : inc > r / 2)
		return -1;
	if (inc > jump_bound(b, dt))
		return -1;
	return (int64_t)inc;
}

/* Whether point k is out of line with both its neighbours: the register
 * goes down at it or right after it, while the neighbours agree with each
 * other (the one after is not below the one before, and not further above
 * it than a meter can count in the time between them, and no meter was
 * replaced between them). Such a reading, a garbage value once, up or
 * down, is left out of every midnight and every sum (its day is flagged,
 * event jump); it stays in the interval series as read. */
int batch_ool3(const struct gw_batcher *b, const struct track *t,
	       const struct point *a, const struct point *x, const struct point *c)
{
	if (x->v >= a->v && x->v <= c->v)
		return 0;
	/* (the difference in 64 unsigned bits: an instantaneous register,
	 * unlike an energy one, may hold any int64) */
	if (c->v < a->v ||
	    (uint64_t)c->v - (uint64_t)a->v > (uint64_t)jump_bound(b, c->ts - a->ts))
		return 0;
	return !batch_replaced_between(b, track_meter(b, t), a->ts, c->ts);
}

/* Point k of run v (its own index). A view's first point (off > 0) has
 * a point before it that the view lacks (lacks set; the seal takes a
 * view only with two points before the day's start, batch_seal.c). */
int batch_out_of_line(const struct gw_batcher *b, const struct track *t,
		      struct tpts *v, size_t k)
{
	if (k + v->off == 0 || k + 1 >= v->n)
		return 0;
	if (k == 0) {
		v->lacks = 1;
		return 0;
	}
	const struct point *p = v->p;

	return batch_ool3(b, t, &p[k - 1], &p[k], &p[k + 1]);
}

/* The register value at midnight m; returns its quality. The start of the
 * edge day is the frozen value once it is known. *broken (may be NULL) is
 * set when the readings around m are of two counters (a reset or another
 * meter between them): the value is then the old counter's last one. */
static enum gw_quality boundary_raw(const struct gw_batcher *b, const struct track *t,
				    struct tpts *v, int64_t m, int64_t *value,
				    int *broken)
{
	if (t->edge == EDGE_FROZEN && m == b->edge_start) {
		*value = track_edge_v(b, t);
		return (enum gw_quality)t->edge_q;
	}
	size_t i = tpts_lb(v, m), ia = i, ib = i;
	if (v->off && i < 2) {
		v->lacks = 1; /* the points before m are not all there */
		return GW_Q_INCOMPLETE;
	}
	/* a reading out of line on either side does not count */
	if (ia < v->n && batch_out_of_line(b, t, v, ia))
		ia++;
	if (ib > 0 && batch_out_of_line(b, t, v, ib - 1))
		ib--;
	const struct point *after = ia < v->n ? &v->p[ia] : NULL;
	const struct point *before = NULL;

	if (after && after->ts == m) {
		*value = after->v;
		return is_derived(b, t, after) ? GW_Q_INTERPOLATED : GW_Q_MEASURED;
	}
	if (ib > 0)
		before = &v->p[ib - 1];
	int64_t tol = b->p.midnight_tolerance_ms;
	int64_t db = before ? m - before->ts : INT64_MAX;
	int64_t da = after ? after->ts - m : INT64_MAX;
	if (db <= tol || da <= tol) {
		const struct point *p = db <= da ? before : after;
		*value = p->v;
		return is_derived(b, t, p) ? GW_Q_INTERPOLATED : GW_Q_MEASURED;
	}
	if (!before || !after)
		return GW_Q_INCOMPLETE;
	enum gw_quality q = after->ts - before->ts <= b->p.max_gap_ms
				    ? GW_Q_INTERPOLATED
				    : GW_Q_ESTIMATED;
	if (batch_replaced_between(b, track_meter(b, t), before->ts, after->ts)) {
		/* Two meters: nothing to interpolate. The old meter's last
		 * value stands for midnight; the energy between it and the
		 * new meter's first reading is not known. */
		*value = before->v;
		if (broken)
			*broken = 1;
		return GW_Q_ESTIMATED;
	}
	int64_t av = after->v;
	if (av < before->v) {
		int64_t inc = batch_wrap_increase(b, batch_rollover(b, t),
						  before->v, av,
						  after->ts - before->ts);
		if (inc < 0) {
			/* A reset between the two readings: nothing to
			 * interpolate; the old counter's last value stands for
			 * midnight and the new counter counts from the next
			 * day's start. */
			*value = before->v;
			if (broken)
				*broken = 1;
			return GW_Q_ESTIMATED;
		}
		av = before->v + inc; /* unwrapped */
	}
	*value = interp(before->v, av, m - before->ts, after->ts - before->ts);
	int64_t roll = batch_rollover(b, t);
	if (roll > 0 && *value >= roll)
		*value -= roll;
	return q;
}

/* The register as the books have it after a frozen edge. The frozen value
 * may be an estimate (a midnight interpolated over a gap) that readings
 * arriving later, a load profile of the gap, show to have been high: a
 * value after the edge midnight below it, but not below the last reading
 * before that midnight, is that overshoot (the final day before counted
 * it), not a drop of the register; the books hold it at the frozen value
 * until the register passes it, so that the days still chain and add up.
 * *clamped is set when that happened. */
int64_t batch_booked(const struct gw_batcher *b, const struct track *t,
		     struct tpts *v, int64_t ts, int64_t val, int *clamped)
{
	if (t->edge != EDGE_FROZEN || ts <= b->edge_start)
		return val;
	int64_t ev = track_edge_v(b, t);
	if (val >= ev)
		return val;
	size_t k = tpts_lb(v, b->edge_start + 1);
	if (k == 0 && v->off) {
		/* the last reading before the edge midnight is not in the
		 * view (the same one when the view has one) */
		v->lacks = 1;
		return val;
	}
	if (k == 0 || val < v->p[k - 1].v)
		return val; /* below the last reading before: a real drop */
	*clamped = 1;
	return ev;
}

/* The register value at midnight m (boundary_raw), as the books have it
 * (booked; a day with a value held at the frozen edge is estimated). */
enum gw_quality batch_boundary(const struct gw_batcher *b, const struct track *t,
			       struct tpts *v, int64_t m, int64_t *value,
			       int *broken)
{
	enum gw_quality q = boundary_raw(b, t, v, m, value, broken);
	int clamped = 0;

	if (q != GW_Q_INCOMPLETE && m != b->edge_start) {
		*value = batch_booked(b, t, v, m, *value, &clamped);
		if (clamped && q < GW_Q_ESTIMATED)
			q = GW_Q_ESTIMATED;
	}
	return q;
}

/* Minutes of [s, e) not covered by readings. A reading stands for half a
 * poll interval on either side of it: between two consecutive readings
 * more than 1.5 poll intervals apart, the time from half an interval after
 * the first to half an interval before the second is missing. Each day
 * counts its own part of a gap, so a day inside a gap misses all of its
 * minutes and the parts add up to the gap less one poll interval. With no
 * reading beyond an edge of the day, the edge stands in for one. */
uint32_t batch_missing_minutes(const struct gw_batcher *b, const struct tpts *v,
			       size_t first, size_t end, int64_t s, int64_t e)
{
	const struct point *p = v->p;
	int64_t poll = b->p.poll_interval_ms, half = poll / 2, miss = 0;
	/* (a view has points before first: the seal takes one so) */
	int64_t prev = first > 0 ? p[first - 1].ts : s;

	for (size_t i = first; i <= end; i++) {
		int64_t ts;
		if (i < end)
			ts = p[i].ts;
		else
			ts = end < v->n ? p[end].ts : e;
		int64_t gap = ts - prev;
		if (gap > 0 && gap * 2 > poll * 3) {
			int64_t from = prev + half, to = ts - (poll - half);
			if (from < s)
				from = s;
			if (to > e)
				to = e;
			if (to > from)
				miss += to - from;
		}
		prev = ts;
	}
	return (uint32_t)(miss / 60000);
}
