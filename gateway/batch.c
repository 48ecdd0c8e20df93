/* SPDX-License-Identifier: MIT */
/*
 * batch.c - the batching core: per-meter local days from readings; see
 * batch.h. This file holds the batcher's life and what comes in
 * (readings, replayed cycles, events, meter replacements); batch_int.h
 * names the files that do the rest.
 *
 * Readings are kept per (meter, register) as a series sorted by time, in a
 * hash table. A day D is sealed once the clock has passed the end of D by
 * seal_delay: for each energy register the values at D's two midnights are
 * derived (measured / interpolated / estimated / incomplete), the day's
 * consumption is the sum of the register's increases between them, and
 * every register's readings inside D become its interval series.
 *
 * Sealed days stay revisable for revision_window days: next_day is the
 * first day not sealed, edge_day the oldest day that can still be sealed
 * again (next_day - window; it never moves back). A reading inserted
 * between two others changes every midnight between them, so every sealed
 * day from the day of the reading before it to the day of the reading
 * after it is marked dirty and sealed again.
 *
 * The books at the edge: when a day becomes final (leaves the window), the
 * register at its end midnight is frozen per track (edge FROZEN): the next
 * day's start boundary is that value from then on, whatever readings come
 * later, so a final day's end is always the next day's start. If no
 * reading followed the midnight yet (the meter is silent), the track
 * waits (edge PENDING) with its last reading before it. When the meter
 * comes back (edge BACK) the midnight is interpolated from the readings
 * around it, as any other, for as long as the edge day can be sealed
 * again (a load profile of the gap may still come and improve it); when
 * the edge day becomes final, the energy between that last reading (where
 * the final days' books end) and the edge day's start as last sealed,
 * which belongs to final days, goes into a long_gap event.
 * Readings before the edge midnight can change nothing any more and are
 * dropped as late. A series keeps its last reading at or before the edge
 * midnight (for the minutes missing at the start of the edge day) and
 * everything later.
 *
 * Arithmetic: energy values are checked to lie in [0, GW_ENERGY_MAX] on
 * the way in, times in [1970, 9999], and every increase counted is bounded
 * by a power (max_power_w, at most GW_POWER_MAX_W) times the time it took,
 * so no difference, interpolation or sum can overflow.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "drops.h"

static const char *const quality_names[] = {
	"measured", "interpolated", "estimated", "incomplete"};

const char *gw_quality_name(enum gw_quality q)
{
	if ((unsigned)q > GW_Q_INCOMPLETE)
		return "?";
	return quality_names[q];
}

int gw_quality_parse(const char *s, enum gw_quality *q)
{
	for (int i = 0; i <= GW_Q_INCOMPLETE; i++) {
		if (strcmp(s, quality_names[i]) == 0) {
			*q = (enum gw_quality)i;
			return 0;
		}
	}
	return GW_EINVAL;
}

void gw_batch_free(struct gw_batch *b)
{
	if (!b)
		return;
	free(b->events);
	/* A batch that failed to decode may have counts without arrays. */
	for (size_t i = 0; b->series && i < b->n_series; i++) {
		free(b->series[i].ts_ms);
		free(b->series[i].value);
	}
	free(b->series);
	free(b->days);
	free(b);
}

void batch_set_open(struct gw_batcher *b, int32_t day)
{
	b->next_day = day;
	b->open_start = gw_tz_day_start(day);
	b->open_end = gw_tz_day_start(day + 1);
	/* Out of memory the base stays where it was: every track's last
	 * point is still exact, and the open day's that do not fit it go to
	 * their exts as they come (or are refused as out of memory). */
	(void)batch_tails_rebase(b, b->open_start);
}

void batch_set_edge(struct gw_batcher *b, int32_t day)
{
	b->edge_day = day;
	b->edge_start = gw_tz_day_start(day);
}

struct gw_batcher *gw_batcher_new(const struct gw_batcher_params *p)
{
	struct gw_batcher *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->p = *p;
	gw_strlcpy(b->gateway_id, p->gateway_id ? p->gateway_id : "",
		   sizeof(b->gateway_id));
	b->p.gateway_id = b->gateway_id;
	b->n_slots = 64;
	b->slots = calloc(b->n_slots, sizeof(*b->slots));
	b->sc = calloc(1, sizeof(*b->sc));
	b->pool = batch_pool_new();
	b->side = calloc(1, sizeof(*b->side));
	if (!b->slots || !b->sc || !b->pool || !b->side) {
		free(b->slots);
		free(b->sc);
		free(b->side);
		batch_pool_free(b->pool);
		free(b);
		return NULL;
	}
	b->next_day = INT32_MIN;
	b->edge_day = INT32_MIN;
	b->open_start = INT64_MIN;
	b->edge_start = INT64_MIN;
	b->edges_known = 1;
	return b;
}

void gw_batcher_set_params(struct gw_batcher *b, const struct gw_batcher_params *p)
{
	b->p = *p;
	b->p.gateway_id = b->gateway_id;
}

void gw_batcher_free(struct gw_batcher *b)
{
	if (!b)
		return;
	batch_tracks_free(b);
	free(b->side);
	free(b->slots);
	batch_names_free(b);
	free(b->events);
	free(b->repl);
	free(b->sc->pts);
	free(b->sc);
	batch_pool_free(b->pool);
	batch_spill_free(b);
	free(b);
}

int gw_batcher_add_replacement(struct gw_batcher *b, const char *meter_id,
			       int64_t ts_ms)
{
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts == ts_ms && strcmp(b->repl[i].meter_id, meter_id) == 0)
			return 0; /* known already (the event replayed too) */
	if (b->n_repl == b->cap_repl) {
		size_t ncap = b->cap_repl ? b->cap_repl * 2 : 8;
		struct replacement *nr = realloc(b->repl, ncap * sizeof(*nr));
		if (!nr)
			return GW_ENOMEM;
		b->repl = nr;
		b->cap_repl = ncap;
	}
	gw_strlcpy(b->repl[b->n_repl].meter_id, meter_id, GW_ID_MAX);
	b->repl[b->n_repl].ts = ts_ms;
	b->n_repl++;
	return 0;
}

/* Whether meter's meter was replaced after `from` and by `to` (from < ts
 * <= to): the readings at from and at to are of different meters. */
int batch_replaced_between(const struct gw_batcher *b, const char *meter,
			   int64_t from, int64_t to)
{
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts > from && b->repl[i].ts <= to &&
		    strcmp(b->repl[i].meter_id, meter) == 0)
			return 1;
	return 0;
}

int gw_batcher_add_event(struct gw_batcher *b, const struct gw_event *ev)
{
	if (ev->kind == GW_EV_METER_REPLACED &&
	    gw_batcher_add_replacement(b, ev->meter_id, ev->ts_ms))
		return GW_ENOMEM;
	if (b->n_events == b->cap_events) {
		size_t ncap = b->cap_events ? b->cap_events * 2 : 16;
		struct gw_event *ne = realloc(b->events, ncap * sizeof(*ne));
		if (!ne)
			return GW_ENOMEM;
		b->events = ne;
		b->cap_events = ncap;
	}
	b->events[b->n_events++] = *ev;
	return 0;
}

/* Queues an event the core raises itself (bad_value, long_gap): it goes
 * into the next day sealed, like the scheduler's events. */
int batch_queue_event(struct gw_batcher *b, const char *meter, const char *obis,
		      int64_t ts, enum gw_event_kind kind, const char *detail)
{
	struct gw_event ev;

	memset(&ev, 0, sizeof(ev));
	gw_strlcpy(ev.meter_id, meter, sizeof(ev.meter_id));
	gw_strlcpy(ev.obis, obis, sizeof(ev.obis));
	gw_strlcpy(ev.detail, detail, sizeof(ev.detail));
	ev.ts_ms = ts;
	ev.kind = (uint8_t)kind;
	return gw_batcher_add_event(b, &ev);
}

/* Copies the queued events before `end` into the batch; they leave the
 * queue only once the batch is sealed (drop_events). */
int batch_copy_events(const struct gw_batcher *b, struct gw_batch *batch,
		      int64_t end)
{
	size_t n = 0;

	for (size_t i = 0; i < b->n_events; i++)
		n += b->events[i].ts_ms < end;
	if (n == 0)
		return 0;
	batch->events = malloc(n * sizeof(*batch->events));
	if (!batch->events)
		return GW_ENOMEM;
	for (size_t i = 0; i < b->n_events; i++)
		if (b->events[i].ts_ms < end)
			batch->events[batch->n_events++] = b->events[i];
	return 0;
}

void batch_drop_events(struct gw_batcher *b, int64_t end)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n_events; i++)
		if (b->events[i].ts_ms >= end)
			b->events[k++] = b->events[i];
	b->n_events = k;
}

/* UTC time "YYYY-MM-DDTHH:MM:SSZ" (seconds) for event details. */
char *batch_fmt_time(int64_t ms, char *buf, size_t cap)
{
	gw_format_utc(ms, buf, cap);
	char *dot = strchr(buf, '.');
	if (dot) {
		dot[0] = 'Z';
		dot[1] = '\0';
	}
	return buf;
}

/* A reading that cannot be true: not kept; counted; one bad_value event
 * per register and day; its day is flagged. */
static int bad_value(struct gw_batcher *b, const struct gw_reading *r,
		     const struct add_mode *m)
{
	struct track *t = batch_find_track(b, r, 1);
	char detail[96];
	int32_t d = gw_tz_day_of(r->ts_ms);

	if (!t)
		return GW_ENOMEM;
	if (!m->replay)
		gw_drops_add(GW_DROP_BAD_VALUE, 1);
	if (batch_track_flag(b, t, SET_BAD, d))
		return GW_ENOMEM;
	if (b->next_day != INT32_MIN && d < b->next_day)
		batch_mark_range(b, r->ts_ms, r->ts_ms, m);
	/* the flag made t's ext */
	struct track_ext *e = track_ext(b, t);
	if ((m->replay && !m->fresh) || e->bad_event_day == d)
		return 0;
	e->bad_event_day = d;
	snprintf(detail, sizeof(detail), "%lld %s: not a register value (0 .. %lld); not kept",
		 (long long)r->value, gw_unit_name((enum gw_unit)r->unit),
		 (long long)GW_ENERGY_MAX);
	return batch_queue_event(b, r->meter_id, r->obis, r->ts_ms, GW_EV_BAD_VALUE, detail);
}

/* Reading x went into track t (rc: 1 a new or changed point, 2 see
 * batch_track_insert; v: the points around it): every midnight between
 * the readings before and after it has changed, and with it the days
 * around them; one reading further on a side where a neighbour's being
 * out of line (out_of_line) has changed with it. Marks those days. */
static void mark_changed(struct gw_batcher *b, const struct track *t,
			 const struct gw_reading *x, const struct pview *v, int rc,
			 const struct add_mode *m)
{
	const struct point *p = v->p;
	size_t at = v->at, n = v->n;
	int64_t prev = at > 0 ? p[at - 1].ts : x->ts_ms;
	int64_t next = at + 1 < n ? p[at + 1].ts : x->ts_ms;

	if (at >= 2 && (rc == 2 || batch_ool3(b, t, &p[at - 2], &p[at - 1], &p[at]) !=
					   (at + 1 < n &&
					    batch_ool3(b, t, &p[at - 2], &p[at - 1], &p[at + 1]))))
		prev = p[at - 2].ts;
	if (at + 2 < n && (rc == 2 || batch_ool3(b, t, &p[at], &p[at + 1], &p[at + 2]) !=
					     (at > 0 &&
					      batch_ool3(b, t, &p[at - 1], &p[at + 1], &p[at + 2]))))
		next = p[at + 2].ts;
	batch_mark_range(b, prev, next, m);
}

/* Takes in one reading whose time and value have been checked. Returns
 * 0 or GW_ENOMEM. */
static int add_one(struct gw_batcher *b, const struct gw_reading *x,
		   const struct add_mode *m)
{
	struct track *t = batch_find_track(b, x, 1);
	if (!t)
		return GW_ENOMEM;
	if (t->scale != x->scale || t->unit != x->unit) {
		/* Same register, another scale: keep the series in one
		 * scale. Energy is always scale 0; this only concerns
		 * instantaneous values of a re-configured meter. */
		if (gw_unit_is_energy(x->unit) && batch_track_energy(b, t))
			return GW_ENOMEM;
		t->unit = x->unit;
		t->scale = x->scale;
	}
	struct point win[3];
	struct pview v;
	int rc = batch_track_insert(b, t, x->ts_ms, x->value, win, &v);
	if (rc < 0)
		return rc;
	int derived = x->status == GW_RS_DERIVED;
	if (derived != iset_has(track_set(b, t, SET_DERIVED), x->ts_ms)) {
		if (derived) {
			if (batch_track_flag(b, t, SET_DERIVED, x->ts_ms))
				return GW_ENOMEM;
		} else {
			batch_track_unflag(b, t, SET_DERIVED, x->ts_ms);
		}
		rc = 1;
	}
	if (rc == 0 || b->next_day == INT32_MIN)
		return 0;
	/* a silent track is back */
	if (t->edge == EDGE_PENDING && x->ts_ms >= b->edge_start)
		t->edge = EDGE_BACK;
	mark_changed(b, t, x, &v, rc, m);
	return 0;
}

static int add(struct gw_batcher *b, const struct gw_reading *r, size_t n,
	       const struct add_mode *mode)
{
	for (size_t i = 0; i < n; i++) {
		const struct gw_reading *x = &r[i];
		struct add_mode one = *mode;
		const struct add_mode *m = &one;
		if (mode->replay && x->status == GW_RS_OK && b->next_day != INT32_MIN) {
			/* A reading read now was read when it is stamped: it
			 * changed the days sealed by then (a cycle rebuilt from
			 * a batch, by gwctl clock rewind, is not all read at
			 * its newest reading's time). */
			one.sealed_by = x->ts_ms;
			one.fresh = x->ts_ms >= b->open_start;
		}
		if (x->ts_ms < 0 || x->ts_ms > TS_MAX) {
			if (!m->replay)
				gw_drops_add(GW_DROP_BAD_TIME, 1);
			continue;
		}
		/* gw_unit_is_energy, without a call per reading */
		if (x->unit >= GW_UNIT_WH && x->unit <= GW_UNIT_VAH &&
		    (x->value < 0 || x->value > GW_ENERGY_MAX)) {
			if (bad_value(b, x, m))
				return GW_ENOMEM;
			continue;
		}
		if (b->next_day != INT32_MIN && x->ts_ms < keep_from(b)) {
			/* Its day is final. A replayed one was dropped, or was
			 * in its day, before the restart. */
			if (!m->replay) {
				b->dropped_late++;
				gw_drops_add(GW_DROP_LATE, 1);
			}
			continue;
		}
		int rc = add_one(b, x, m);
		if (rc)
			return rc;
	}
	return 0;
}

int gw_batcher_add(struct gw_batcher *b, const struct gw_reading *r, size_t n)
{
	struct add_mode m = {.replay = 0, .fresh = 1, .sealed_by = INT64_MAX};

	/* After a restart the replay is over once live readings come: the
	 * books must stand where the sealed days put them before these are
	 * taken in (a meter coming back now is taken up against them). */
	if (b->next_day != INT32_MIN &&
	    (!b->edges_known || b->edge_day < b->next_day - window(b)) && batch_move_edge(b))
		return GW_ENOMEM;
	return add(b, r, n, &m);
}

void gw_batcher_restore(struct gw_batcher *b, int32_t next_day)
{
	batch_set_open(b, next_day);
	batch_set_edge(b, next_day - window(b));
	b->edges_known = 0;
}

int gw_batcher_replay(struct gw_batcher *b, const struct gw_reading *r,
		      size_t n)
{
	struct add_mode m = {.replay = 1, .fresh = 1, .sealed_by = INT64_MIN};

	/* when the cycle was read: its newest reading read now, else (a
	 * cycle of load-profile values alone) its newest reading */
	for (int pass = 0; pass < 2 && m.sealed_by == INT64_MIN; pass++)
		for (size_t i = 0; i < n; i++)
			if (r[i].ts_ms > m.sealed_by && r[i].ts_ms <= TS_MAX &&
			    (pass == 1 || r[i].status == GW_RS_OK))
				m.sealed_by = r[i].ts_ms;
	/* The revisions a cycle caused were sealed at once, before the day it
	 * was read on could be sealed: only a cycle read on a day still open
	 * may have been lost with them. */
	if (b->next_day != INT32_MIN && m.sealed_by != INT64_MIN)
		m.fresh = m.sealed_by >= b->open_start;
	/* Edges saved before the last days were sealed (a crash in between):
	 * move them on as the gateway did, to where they stood when this
	 * cycle was read, so that a meter that came back then is taken up as
	 * it was then. */
	if (b->next_day != INT32_MIN && b->edges_known && m.sealed_by != INT64_MIN &&
	    b->edge_day < b->next_day - window(b)) {
		int32_t then = gw_tz_day_of(m.sealed_by - b->p.seal_delay_ms);
		if (then > b->next_day)
			then = b->next_day;
		if (b->edge_day < then - window(b) && batch_move_edge_to(b, then - window(b)))
			return GW_ENOMEM;
	}
	int rc = add(b, r, n, &m);
	if (rc == 0 && m.sealed_by != INT64_MIN)
		batch_spill_replayed(b, m.sealed_by);
	return rc;
}

uint64_t gw_batcher_dropped(const struct gw_batcher *b)
{
	return b->dropped_late;
}

void gw_batcher_long_gaps(const struct gw_batcher *b, struct gw_long_gaps *out)
{
	*out = b->gaps;
}
