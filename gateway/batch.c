/* SPDX-License-Identifier: MIT */
/*
 * batch.c - the batching core: per-meter local days from readings; see
 * batch.h.
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

#include "batch.h"
#include "drops.h"
#include "tz.h"

/* 9999-12-31T23:59:59.999Z: readings beyond it (or before 1970) are bad
 * times. */
#define TS_MAX 253402300799999LL

struct point {
	int64_t ts;
	int64_t v;
};

/* A small sorted set of int64 (derived points' times, flagged days). */
struct iset {
	int64_t *v;
	size_t n, cap;
};

enum edge_kind {
	EDGE_NONE = 0, /* no reading at or before the edge midnight */
	EDGE_FROZEN,   /* edge_v is the register at the edge midnight */
	EDGE_PENDING,  /* silent since its last reading before the midnight */
	EDGE_BACK,     /* was pending, and readings after the midnight came:
			* the midnight is derived from the readings until the
			* edge day is final, and then the long gap is counted */
};

struct track {
	char meter_id[GW_ID_MAX];
	char obis[GW_OBIS_MAX];
	uint8_t unit;
	int8_t scale;
	uint8_t edge;   /* enum edge_kind, at the start of b->edge_day */
	uint8_t edge_q; /* enum gw_quality of edge_v */
	uint32_t hash;
	int64_t rollover; /* 0: unknown or never */
	int64_t edge_v;
	int32_t bad_event_day; /* day of the last bad_value event */
	size_t n, cap;
	struct point *pts;
	struct iset derived; /* times of GW_RS_DERIVED points */
	struct iset bad;     /* days with a value refused as bad */
};

struct gw_batcher {
	struct gw_batcher_params p;
	char gateway_id[GW_ID_MAX];
	struct track **slots; /* open addressing, NULL = empty */
	size_t n_slots, n_tracks;
	int32_t next_day; /* first day not sealed; INT32_MIN: none yet */
	int32_t edge_day; /* oldest day that can be sealed again */
	int64_t open_start; /* gw_tz_day_start(next_day) */
	int64_t open_end;   /* gw_tz_day_start(next_day + 1) */
	int64_t edge_start; /* gw_tz_day_start(edge_day) */
	int edges_known;    /* 0 after a restore until edges are loaded or
			     * derived from the replayed readings */
	uint64_t dropped_late;
	struct gw_long_gaps gaps;
	struct gw_event *events; /* queued, in arrival order */
	size_t n_events, cap_events;
	/* Meter replacements (meter_replaced events), kept as long as a day
	 * they fall in can be sealed again: a track's counter before one and
	 * after one belong to different meters. */
	struct replacement {
		char meter_id[GW_ID_MAX];
		int64_t ts; /* the first read of the new meter */
	} *repl;
	size_t n_repl, cap_repl;
	int32_t dirty[32]; /* sealed days with late readings, to seal again */
	int n_dirty;
};

/* How add() may mark sealed days. Live readings change every sealed day
 * they touch. A replayed cycle was read at `sealed_by`: it changed only the
 * days sealed by then, and only if the day it was read on is still open
 * (`fresh`; otherwise the revisions it caused were written before that day
 * was sealed, see gw_batcher_replay). */
struct add_mode {
	int replay;
	int fresh;
	int64_t sealed_by;
};

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

static uint32_t key_hash(const char *meter, const char *obis)
{
	uint32_t h = 2166136261u;

	for (; *meter; meter++)
		h = (h ^ (uint8_t)*meter) * 16777619u;
	h = (h ^ 0xff) * 16777619u;
	for (; *obis; obis++)
		h = (h ^ (uint8_t)*obis) * 16777619u;
	return h;
}

/* ---- small sorted sets ---- */

static size_t iset_lb(const struct iset *s, int64_t x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static int iset_has(const struct iset *s, int64_t x)
{
	if (s->n == 0)
		return 0;
	size_t i = iset_lb(s, x);
	return i < s->n && s->v[i] == x;
}

static int iset_add(struct iset *s, int64_t x)
{
	size_t i = iset_lb(s, x);

	if (i < s->n && s->v[i] == x)
		return 0;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 8;
		int64_t *nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv)
			return GW_ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = x;
	s->n++;
	return 0;
}

static void iset_del(struct iset *s, int64_t x)
{
	size_t i = iset_lb(s, x);

	if (i < s->n && s->v[i] == x) {
		memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
		s->n--;
	}
}

static void iset_drop_before(struct iset *s, int64_t x)
{
	size_t k = iset_lb(s, x);

	if (k == 0)
		return;
	memmove(s->v, s->v + k, (s->n - k) * sizeof(*s->v));
	s->n -= k;
}

static void track_free(struct track *t)
{
	free(t->pts);
	free(t->derived.v);
	free(t->bad.v);
	free(t);
}

static int is_derived(const struct track *t, const struct point *p)
{
	return iset_has(&t->derived, p->ts);
}

/* ---- the batcher ---- */

static int window(const struct gw_batcher *b)
{
	int w = b->p.revision_window_days;

	return w < 0 ? 0 : w > 31 ? 31 : w;
}

static void set_open(struct gw_batcher *b, int32_t day)
{
	b->next_day = day;
	b->open_start = gw_tz_day_start(day);
	b->open_end = gw_tz_day_start(day + 1);
}

static void set_edge(struct gw_batcher *b, int32_t day)
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
	if (!b->slots) {
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
	for (size_t i = 0; i < b->n_slots; i++)
		if (b->slots[i])
			track_free(b->slots[i]);
	free(b->slots);
	free(b->events);
	free(b->repl);
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
static int replaced_between(const struct gw_batcher *b, const char *meter,
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
static int queue_event(struct gw_batcher *b, const char *meter, const char *obis,
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
static int copy_events(const struct gw_batcher *b, struct gw_batch *batch,
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

static void drop_events(struct gw_batcher *b, int64_t end)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n_events; i++)
		if (b->events[i].ts_ms >= end)
			b->events[k++] = b->events[i];
	b->n_events = k;
}

static int rehash(struct gw_batcher *b)
{
	size_t n = b->n_slots * 2;
	struct track **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return GW_ENOMEM;
	for (size_t i = 0; i < b->n_slots; i++) {
		struct track *t = b->slots[i];
		if (!t)
			continue;
		size_t j = t->hash & (n - 1);
		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = t;
	}
	free(b->slots);
	b->slots = slots;
	b->n_slots = n;
	return 0;
}

static struct track *find_track(struct gw_batcher *b, const struct gw_reading *r,
				int create)
{
	uint32_t h = key_hash(r->meter_id, r->obis);
	size_t j = h & (b->n_slots - 1);

	while (b->slots[j]) {
		struct track *t = b->slots[j];
		if (t->hash == h && strcmp(t->meter_id, r->meter_id) == 0 &&
		    strcmp(t->obis, r->obis) == 0)
			return t;
		j = (j + 1) & (b->n_slots - 1);
	}
	if (!create)
		return NULL;
	if ((b->n_tracks + 1) * 10 > b->n_slots * 7) {
		if (rehash(b))
			return NULL;
		return find_track(b, r, create);
	}
	struct track *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	gw_strlcpy(t->meter_id, r->meter_id, sizeof(t->meter_id));
	gw_strlcpy(t->obis, r->obis, sizeof(t->obis));
	t->unit = r->unit;
	t->scale = r->scale;
	t->hash = h;
	t->bad_event_day = INT32_MIN;
	if (b->p.rollover && gw_unit_is_energy(r->unit))
		t->rollover = b->p.rollover(b->p.rollover_ctx, r->meter_id, r->obis);
	b->slots[j] = t;
	b->n_tracks++;
	return t;
}

/* Inserts a point keeping the series sorted; a second reading with the
 * same timestamp replaces the first. *at gets its index. Returns 1 if a
 * point was added, 2 if one changed its value, 0 if the same point was
 * there already, or GW_ENOMEM. */
static int track_insert(struct track *t, int64_t ts, int64_t v, size_t *at)
{
	size_t lo = 0, hi = t->n;

	if (t->n == 0 || t->pts[t->n - 1].ts < ts) {
		lo = t->n;
	} else {
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (t->pts[mid].ts < ts)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < t->n && t->pts[lo].ts == ts) {
			*at = lo;
			if (t->pts[lo].v == v)
				return 0;
			t->pts[lo].v = v;
			return 2;
		}
	}
	if (t->n == t->cap) {
		size_t ncap = t->cap ? t->cap * 2 : 128;
		struct point *np = realloc(t->pts, ncap * sizeof(*np));
		if (!np)
			return GW_ENOMEM;
		t->pts = np;
		t->cap = ncap;
	}
	memmove(t->pts + lo + 1, t->pts + lo, (t->n - lo) * sizeof(*t->pts));
	t->pts[lo].ts = ts;
	t->pts[lo].v = v;
	t->n++;
	*at = lo;
	return 1;
}

static void mark_dirty(struct gw_batcher *b, int32_t d)
{
	if (b->next_day == INT32_MIN || d >= b->next_day || d < b->edge_day)
		return;
	for (int i = 0; i < b->n_dirty; i++)
		if (b->dirty[i] == d)
			return;
	if (b->n_dirty < (int)(sizeof(b->dirty) / sizeof(b->dirty[0])))
		b->dirty[b->n_dirty++] = d;
}

/* Marks every sealed, revisable day from the day of `from` to the day of
 * `to` (the readings on either side of a new one: every midnight between
 * them has changed). */
static void mark_range(struct gw_batcher *b, int64_t from, int64_t to,
		       const struct add_mode *m)
{
	if (from >= b->open_start || to < b->edge_start)
		return; /* only open days, or only final ones */
	if (m->replay && !m->fresh)
		return;
	int32_t lo = from < b->edge_start ? b->edge_day : gw_tz_day_of(from);
	int32_t hi = to >= b->open_start ? b->next_day - 1 : gw_tz_day_of(to);
	for (int32_t d = lo; d <= hi; d++) {
		/* A replayed cycle changed the days sealed when it was read,
		 * which are the oldest ones of the range. */
		if (m->replay &&
		    gw_tz_day_start(d + 1) + b->p.seal_delay_ms > m->sealed_by)
			break;
		mark_dirty(b, d);
	}
}

/* The earliest reading still useful: the start of the oldest day that can
 * be sealed again, whose start value is frozen. After a restart, until the
 * books at that midnight are known, the day before it too. */
static int64_t keep_from(const struct gw_batcher *b)
{
	if (!b->edges_known)
		return gw_tz_day_start(b->edge_day - 1);
	return b->edge_start;
}

/* UTC time "YYYY-MM-DDTHH:MM:SSZ" (seconds) for event details. */
static char *fmt_time(int64_t ms, char *buf, size_t cap)
{
	gw_format_utc(ms, buf, cap);
	char *dot = strchr(buf, '.');
	if (dot) {
		dot[0] = 'Z';
		dot[1] = '\0';
	}
	return buf;
}

static enum gw_quality boundary(const struct gw_batcher *b, const struct track *t,
				int64_t m, int64_t *value, int *broken);
static int move_edge_to(struct gw_batcher *b, int32_t want);
static int move_edge(struct gw_batcher *b);
static size_t lower_bound(const struct track *t, int64_t x);
static int ool3(const struct gw_batcher *b, const struct track *t,
		const struct point *a, const struct point *x, const struct point *c);

/* A reading that cannot be true: not kept; counted; one bad_value event
 * per register and day; its day is flagged. */
static int bad_value(struct gw_batcher *b, const struct gw_reading *r,
		     const struct add_mode *m)
{
	struct track *t = find_track(b, r, 1);
	char detail[96];
	int32_t d = gw_tz_day_of(r->ts_ms);

	if (!t)
		return GW_ENOMEM;
	if (!m->replay)
		gw_drops_add(GW_DROP_BAD_VALUE, 1);
	if (iset_add(&t->bad, d))
		return GW_ENOMEM;
	if (b->next_day != INT32_MIN && d < b->next_day)
		mark_range(b, r->ts_ms, r->ts_ms, m);
	if ((m->replay && !m->fresh) || t->bad_event_day == d)
		return 0;
	t->bad_event_day = d;
	snprintf(detail, sizeof(detail), "%lld %s: not a register value (0 .. %lld); not kept",
		 (long long)r->value, gw_unit_name((enum gw_unit)r->unit),
		 (long long)GW_ENERGY_MAX);
	return queue_event(b, r->meter_id, r->obis, r->ts_ms, GW_EV_BAD_VALUE, detail);
}

/* The edge day of a track that came back after a silence (edge BACK) is
 * final now: its start value as last sealed is what the readings around
 * the edge midnight give, and the energy between the last reading before
 * the silence (where the final days' books end) and it is on no day; a
 * long_gap event, queued for the next day sealed, says how much. (After a
 * restart the edges file carries it until then.) */
static int long_gap(struct gw_batcher *b, struct track *t)
{
	int64_t v = 0;
	int broken = 0;
	char detail[96], since[32], back[32], day[16];

	enum gw_quality q = boundary(b, t, b->edge_start, &v, &broken);
	size_t i = lower_bound(t, b->edge_start);
	if (q == GW_Q_INCOMPLETE || i == 0 || i == t->n)
		return 0; /* cannot be: readings on both sides */
	const struct point *last = &t->pts[i - 1], *after = &t->pts[i];
	int64_t unplaced = v - last->v;
	const char *unit = gw_unit_name((enum gw_unit)t->unit);
	gw_day_format(b->edge_day, day, sizeof(day));
	fmt_time(last->ts, since, sizeof(since));
	fmt_time(after->ts, back, sizeof(back));
	b->gaps.count++;
	if (broken || unplaced < 0) {
		b->gaps.unknown++;
		snprintf(detail, sizeof(detail),
			 "unknown %.6s not placed on days before %.10s (silent from %.20s)",
			 unit, day, since);
		snprintf(b->gaps.last, sizeof(b->gaps.last),
			 "%.47s %.23s unknown %.6s, silent %.20s .. %.20s", t->meter_id,
			 t->obis, unit, since, back);
	} else {
		if (t->unit == GW_UNIT_WH)
			b->gaps.wh += unplaced;
		char num[24];
		snprintf(num, sizeof(num), "%lld", (long long)unplaced);
		snprintf(detail, sizeof(detail),
			 "%.16s %.6s not placed on days before %.10s (silent from %.20s)",
			 num, unit, day, since);
		snprintf(b->gaps.last, sizeof(b->gaps.last),
			 "%.47s %.23s %lld %.6s, silent %.20s .. %.20s", t->meter_id,
			 t->obis, (long long)unplaced, unit, since, back);
	}
	gw_warn("batching: %s %s was silent from %s to %s, longer than the revision "
		"window: %s", t->meter_id, t->obis, since, back, detail);
	return queue_event(b, t->meter_id, t->obis, last->ts, GW_EV_LONG_GAP, detail);
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
		struct track *t = find_track(b, x, 1);
		if (!t)
			return GW_ENOMEM;
		if (t->scale != x->scale || t->unit != x->unit) {
			/* Same register, another scale: keep the series in one
			 * scale. Energy is always scale 0; this only concerns
			 * instantaneous values of a re-configured meter. */
			t->unit = x->unit;
			t->scale = x->scale;
		}
		size_t at = 0;
		int rc = track_insert(t, x->ts_ms, x->value, &at);
		if (rc < 0)
			return rc;
		int derived = x->status == GW_RS_DERIVED;
		if (derived != iset_has(&t->derived, x->ts_ms)) {
			if (derived) {
				if (iset_add(&t->derived, x->ts_ms))
					return GW_ENOMEM;
			} else {
				iset_del(&t->derived, x->ts_ms);
			}
			rc = 1;
		}
		if (rc == 0 || b->next_day == INT32_MIN)
			continue;
		/* a silent track is back */
		if (t->edge == EDGE_PENDING && x->ts_ms >= b->edge_start)
			t->edge = EDGE_BACK;
		/* Every midnight between the readings before and after this
		 * one has changed, and with it the days around them; one
		 * reading further on a side where a neighbour's being out of
		 * line (out_of_line) has changed with it. */
		const struct point *p = t->pts;
		int64_t prev = at > 0 ? p[at - 1].ts : x->ts_ms;
		int64_t next = at + 1 < t->n ? p[at + 1].ts : x->ts_ms;
		if (at >= 2 && (rc == 2 || ool3(b, t, &p[at - 2], &p[at - 1], &p[at]) !=
						   (at + 1 < t->n &&
						    ool3(b, t, &p[at - 2], &p[at - 1], &p[at + 1]))))
			prev = p[at - 2].ts;
		if (at + 2 < t->n && (rc == 2 || ool3(b, t, &p[at], &p[at + 1], &p[at + 2]) !=
						       (at > 0 &&
							ool3(b, t, &p[at - 1], &p[at + 1], &p[at + 2]))))
			next = p[at + 2].ts;
		mark_range(b, prev, next, m);
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
	    (!b->edges_known || b->edge_day < b->next_day - window(b)) && move_edge(b))
		return GW_ENOMEM;
	return add(b, r, n, &m);
}

void gw_batcher_restore(struct gw_batcher *b, int32_t next_day)
{
	set_open(b, next_day);
	set_edge(b, next_day - window(b));
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
		if (b->edge_day < then - window(b) && move_edge_to(b, then - window(b)))
			return GW_ENOMEM;
	}
	return add(b, r, n, &m);
}

uint64_t gw_batcher_dropped(const struct gw_batcher *b)
{
	return b->dropped_late;
}

void gw_batcher_long_gaps(const struct gw_batcher *b, struct gw_long_gaps *out)
{
	*out = b->gaps;
}

/* Index of the first point with ts >= x (t->n if none). */
static size_t lower_bound(const struct track *t, int64_t x)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (t->pts[mid].ts < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* a + (b - a) * num / den, rounded to nearest, without overflow. */
static int64_t interp(int64_t a, int64_t b, int64_t num, int64_t den)
{
	__int128 d = ((__int128)b - a) * num;
	__int128 q = d / den, r = d % den;

	if (2 * (r < 0 ? -r : r) >= den)
		q += (d < 0) ? -1 : 1;
	return (int64_t)(a + q);
}

/* Most energy (register units) a meter drawing power_w can count in dt
 * ms: W * ms / 3.6e6 = Wh, +1 for the register's rounding. Times are
 * checked on the way in, so this stays far below the int64 limit. */
static int64_t energy_in(int64_t power_w, int64_t dt)
{
	if (dt < 0)
		dt = 0;
	/* power_w <= GW_POWER_MAX_W: in 64 bits for gaps up to ten days,
	 * the common case, without a 128-bit division per reading */
	if (dt <= INT64_MAX / GW_POWER_MAX_W)
		return power_w * dt / 3600000 + 1;
	return (int64_t)((__int128)power_w * dt / 3600000) + 1;
}

/* The configured bound for dt ms, or -1 when max_power_w is 0. */
static int64_t max_energy(const struct gw_batcher *b, int64_t dt)
{
	if (b->p.max_power_w <= 0)
		return -1;
	return energy_in(b->p.max_power_w < GW_POWER_MAX_W ? b->p.max_power_w
							   : GW_POWER_MAX_W, dt);
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
static int64_t wrap_increase(const struct gw_batcher *b, int64_t r, int64_t a,
			     int64_t bv, int64_t dt)
{
	if (r <= 0 || bv >= a || a >= r)
		return -1;
	__int128 inc = (__int128)bv + r - a;
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
static int ool3(const struct gw_batcher *b, const struct track *t,
		const struct point *a, const struct point *x, const struct point *c)
{
	if (x->v >= a->v && x->v <= c->v)
		return 0;
	if (c->v < a->v || c->v - a->v > jump_bound(b, c->ts - a->ts))
		return 0;
	return !replaced_between(b, t->meter_id, a->ts, c->ts);
}

static int out_of_line(const struct gw_batcher *b, const struct track *t, size_t k)
{
	if (k == 0 || k + 1 >= t->n)
		return 0;
	return ool3(b, t, &t->pts[k - 1], &t->pts[k], &t->pts[k + 1]);
}

/* The register value at midnight m; returns its quality. The start of the
 * edge day is the frozen value once it is known. *broken (may be NULL) is
 * set when the readings around m are of two counters (a reset or another
 * meter between them): the value is then the old counter's last one. */
static enum gw_quality boundary_raw(const struct gw_batcher *b, const struct track *t,
				    int64_t m, int64_t *value, int *broken)
{
	if (t->edge == EDGE_FROZEN && m == b->edge_start) {
		*value = t->edge_v;
		return (enum gw_quality)t->edge_q;
	}
	size_t i = lower_bound(t, m), ia = i, ib = i;
	/* a reading out of line on either side does not count */
	if (ia < t->n && out_of_line(b, t, ia))
		ia++;
	if (ib > 0 && out_of_line(b, t, ib - 1))
		ib--;
	const struct point *after = ia < t->n ? &t->pts[ia] : NULL;
	const struct point *before = NULL;

	if (after && after->ts == m) {
		*value = after->v;
		return is_derived(t, after) ? GW_Q_INTERPOLATED : GW_Q_MEASURED;
	}
	if (ib > 0)
		before = &t->pts[ib - 1];
	int64_t tol = b->p.midnight_tolerance_ms;
	int64_t db = before ? m - before->ts : INT64_MAX;
	int64_t da = after ? after->ts - m : INT64_MAX;
	if (db <= tol || da <= tol) {
		const struct point *p = db <= da ? before : after;
		*value = p->v;
		return is_derived(t, p) ? GW_Q_INTERPOLATED : GW_Q_MEASURED;
	}
	if (!before || !after)
		return GW_Q_INCOMPLETE;
	enum gw_quality q = after->ts - before->ts <= b->p.max_gap_ms
				    ? GW_Q_INTERPOLATED
				    : GW_Q_ESTIMATED;
	if (replaced_between(b, t->meter_id, before->ts, after->ts)) {
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
		int64_t inc = wrap_increase(b, t->rollover, before->v, av,
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
	if (t->rollover > 0 && *value >= t->rollover)
		*value -= t->rollover;
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
static int64_t booked(const struct gw_batcher *b, const struct track *t, int64_t ts,
		      int64_t v, int *clamped)
{
	if (t->edge != EDGE_FROZEN || v >= t->edge_v || ts <= b->edge_start)
		return v;
	size_t k = lower_bound(t, b->edge_start + 1);
	if (k == 0 || v < t->pts[k - 1].v)
		return v; /* below the last reading before: a real drop */
	*clamped = 1;
	return t->edge_v;
}

/* The register value at midnight m (boundary_raw), as the books have it
 * (booked; a day with a value held at the frozen edge is estimated). */
static enum gw_quality boundary(const struct gw_batcher *b, const struct track *t,
				int64_t m, int64_t *value, int *broken)
{
	enum gw_quality q = boundary_raw(b, t, m, value, broken);
	int clamped = 0;

	if (q != GW_Q_INCOMPLETE && m != b->edge_start) {
		*value = booked(b, t, m, *value, &clamped);
		if (clamped && q < GW_Q_ESTIMATED)
			q = GW_Q_ESTIMATED;
	}
	return q;
}

static int cmp_track(const void *a, const void *b)
{
	const struct track *x = *(const struct track *const *)a;
	const struct track *y = *(const struct track *const *)b;
	int c = strcmp(x->meter_id, y->meter_id);

	return c ? c : strcmp(x->obis, y->obis);
}

/* Minutes of [s, e) not covered by readings. A reading stands for half a
 * poll interval on either side of it: between two consecutive readings
 * more than 1.5 poll intervals apart, the time from half an interval after
 * the first to half an interval before the second is missing. Each day
 * counts its own part of a gap, so a day inside a gap misses all of its
 * minutes and the parts add up to the gap less one poll interval. With no
 * reading beyond an edge of the day, the edge stands in for one. */
static uint32_t missing_minutes(const struct gw_batcher *b, const struct track *t,
				size_t first, size_t end, int64_t s, int64_t e)
{
	int64_t poll = b->p.poll_interval_ms, half = poll / 2, miss = 0;
	int64_t prev = first > 0 ? t->pts[first - 1].ts : s;

	for (size_t i = first; i <= end; i++) {
		int64_t ts;
		if (i < end)
			ts = t->pts[i].ts;
		else
			ts = end < t->n ? t->pts[end].ts : e;
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

static int add_event(struct gw_batch *batch, size_t *cap,
		     const struct track *t, int64_t ts, enum gw_event_kind kind,
		     int64_t from, int64_t to)
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
	memcpy(e->meter_id, t->meter_id, sizeof(e->meter_id));
	memcpy(e->obis, t->obis, sizeof(e->obis));
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
			 size_t first, size_t end, int64_t s, int64_t sv,
			 int64_t e, int64_t ev, struct gw_batch *batch,
			 size_t *ecap, enum gw_quality *q, int64_t *total)
{
	int64_t prev = sv, pts = s, sum = 0;

	for (size_t i = first; i <= end; i++) {
		/* (the register going down at or after a reading, tested here
		 * first: out_of_line is rare) */
		if (i < end && i > 0 && i + 1 < t->n &&
		    (t->pts[i].v < t->pts[i - 1].v || t->pts[i].v > t->pts[i + 1].v) &&
		    out_of_line(b, t, i)) {
			/* left out: neither adds energy (through a "reset" back)
			 * nor takes any away */
			if (add_event(batch, ecap, t, t->pts[i].ts, GW_EV_JUMP, prev,
				      t->pts[i].v))
				return GW_ENOMEM;
			struct gw_event *x = &batch->events[batch->n_events - 1];
			snprintf(x->detail, sizeof(x->detail),
				 "%lld -> %lld -> %lld %.6s: one reading out of line, left out",
				 (long long)prev, (long long)t->pts[i].v,
				 (long long)t->pts[i + 1].v, gw_unit_name((enum gw_unit)t->unit));
			if (*q < GW_Q_ESTIMATED)
				*q = GW_Q_ESTIMATED;
			continue; /* the step goes from prev to the next reading */
		}
		int clamped = 0;
		int64_t v = i < end ? booked(b, t, t->pts[i].ts, t->pts[i].v, &clamped) : ev;
		int64_t ts = i < end ? t->pts[i].ts : e;
		if (clamped && *q < GW_Q_ESTIMATED)
			*q = GW_Q_ESTIMATED;
		/* the event's time: the reading that showed the change */
		int64_t ets = i < end ? ts : (end < t->n ? t->pts[end].ts : e);
		/* the reading the step starts from (the start value stands for
		 * the last reading before the day) */
		int64_t from = i == first && first > 0 ? t->pts[first - 1].ts : pts;
		/* The bounds hold over the readings the step's values come from:
		 * a midnight value taken from a reading within the tolerance
		 * beyond it spans that reading's time too. */
		int64_t dt = ets - (from < pts ? from : pts);
		int64_t inc = v - prev, bound = max_energy(b, dt);
		enum gw_event_kind kind = 0;
		if (replaced_between(b, t->meter_id, from, ets)) {
			/* The old meter's register, then the new one's: the
			 * step between them is not consumption (the meter_replaced
			 * event says so), and the energy in it is not known. */
			inc = 0;
			if (*q < GW_Q_ESTIMATED)
				*q = GW_Q_ESTIMATED;
		} else if (inc < 0) {
			int64_t w = wrap_increase(b, t->rollover, prev, v, dt);
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
		if (kind && add_event(batch, ecap, t, ets, kind, prev, v))
			return GW_ENOMEM;
		sum += inc;
		prev = v;
		pts = ts;
	}
	*total = sum;
	return 0;
}

/* Builds the batch of day d from every track with data in it. */
static struct gw_batch *build_day(struct gw_batcher *b, int32_t d, int64_t now)
{
	int64_t s = gw_tz_day_start(d), e = gw_tz_day_start(d + 1);
	struct track **list = malloc(b->n_tracks * sizeof(*list) + 1);
	struct gw_batch *batch = calloc(1, sizeof(*batch));
	size_t n = 0, ecap = 0;

	if (!list || !batch)
		goto oom;
	for (size_t i = 0; i < b->n_slots; i++) {
		struct track *t = b->slots[i];
		if (!t || t->n == 0)
			continue;
		size_t first = lower_bound(t, s);
		int inside = first < t->n && t->pts[first].ts < e;
		int spans = first > 0 && first < t->n;
		if (inside || spans)
			list[n++] = t;
	}
	qsort(list, n, sizeof(*list), cmp_track);
	batch->days = calloc(n + 1, sizeof(*batch->days));
	batch->series = calloc(n + 1, sizeof(*batch->series));
	if (!batch->days || !batch->series)
		goto oom;
	gw_strlcpy(batch->gateway_id, b->gateway_id, sizeof(batch->gateway_id));
	gw_strlcpy(batch->timezone, gw_tz_name(), sizeof(batch->timezone));
	batch->day = d;
	batch->created_ms = now;
	for (size_t k = 0; k < n; k++) {
		struct track *t = list[k];
		size_t first = lower_bound(t, s), end = lower_bound(t, e);
		if (end > first) {
			struct gw_series *se = &batch->series[batch->n_series];
			size_t cnt = end - first;
			se->ts_ms = malloc(cnt * sizeof(int64_t));
			se->value = malloc(cnt * sizeof(int64_t));
			if (!se->ts_ms || !se->value) {
				free(se->ts_ms);
				free(se->value);
				goto oom;
			}
			memcpy(se->meter_id, t->meter_id, sizeof(se->meter_id));
			memcpy(se->obis, t->obis, sizeof(se->obis));
			se->unit = t->unit;
			se->scale = t->scale;
			se->n = (uint32_t)cnt;
			for (size_t i = 0; i < cnt; i++) {
				se->ts_ms[i] = t->pts[first + i].ts;
				se->value[i] = t->pts[first + i].v;
			}
			batch->n_series++;
		}
		if (!gw_unit_is_energy((enum gw_unit)t->unit))
			continue;
		struct gw_day_register *dr = &batch->days[batch->n_days];
		int64_t sv = 0, ev = 0;
		enum gw_quality qs = boundary(b, t, s, &sv, NULL);
		enum gw_quality qe = boundary(b, t, e, &ev, NULL);
		if (qs == GW_Q_INCOMPLETE || qe == GW_Q_INCOMPLETE) {
			if (end == first)
				continue; /* nothing to say about this day */
			int clamped = 0;
			if (qs == GW_Q_INCOMPLETE)
				sv = booked(b, t, t->pts[first].ts, t->pts[first].v, &clamped);
			if (qe == GW_Q_INCOMPLETE)
				ev = booked(b, t, t->pts[end - 1].ts, t->pts[end - 1].v, &clamped);
		}
		enum gw_quality q = qs > qe ? qs : qe;
		/* a value refused as bad that day */
		if (t->bad.n && iset_has(&t->bad, d) && q < GW_Q_ESTIMATED)
			q = GW_Q_ESTIMATED;
		int64_t total;
		/* A point exactly at s is the start value itself. */
		size_t from = first < end && t->pts[first].ts == s ? first + 1 : first;
		if (sum_increases(b, t, from, end, s, sv, e, ev, batch, &ecap, &q,
				  &total))
			goto oom;
		memcpy(dr->meter_id, t->meter_id, sizeof(dr->meter_id));
		memcpy(dr->obis, t->obis, sizeof(dr->obis));
		dr->unit = t->unit;
		dr->quality = (uint8_t)q;
		dr->start_value = sv;
		dr->end_value = ev;
		dr->consumption = total;
		dr->readings = (uint32_t)(end - first);
		dr->minutes_missing = missing_minutes(b, t, first, end, s, e);
		batch->n_days++;
	}
	free(list);
	return batch;
oom:
	free(list);
	gw_batch_free(batch);
	return NULL;
}

/* Drops a track's points no longer needed: before `from` (the edge
 * midnight), keeping the last point at or before it (the minutes missing
 * at the start of the edge day, and the reading a silent track waits
 * with). */
static void prune_track(struct track *t, int64_t from, int32_t edge_day)
{
	size_t k = lower_bound(t, from + 1);

	if (k > 1) {
		k--; /* keep the last point at or before `from` */
		memmove(t->pts, t->pts + k, (t->n - k) * sizeof(*t->pts));
		t->n -= k;
	}
	if (t->derived.n && t->n)
		iset_drop_before(&t->derived, t->pts[0].ts);
	if (t->bad.n)
		iset_drop_before(&t->bad, edge_day);
}

static void prune(struct gw_batcher *b)
{
	int64_t from = keep_from(b);

	for (size_t i = 0; i < b->n_slots; i++)
		if (b->slots[i])
			prune_track(b->slots[i], from, b->edge_day);
	/* a replacement matters to the steps after the kept points */
	size_t k = 0;
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts >= from - b->p.max_gap_ms - 86400000)
			b->repl[k++] = b->repl[i];
	b->n_repl = k;
}

/* Freezes every energy track's books at midnight m, the start of the day
 * that is about to be the edge day: the register there as the day before
 * was (last) sealed with it, or "pending" on the last reading before it
 * when none follows yet. A track back from a silence at the old edge
 * midnight has its long gap counted first. With `then_prune`, each track
 * is pruned to m in the same pass (one walk over the tracks a day, not
 * two). Returns 0 or GW_ENOMEM (an event could not be queued). */
static int freeze_at(struct gw_batcher *b, int64_t m, int then_prune,
		     int32_t new_edge)
{
	int rc = 0;

	for (size_t i = 0; i < b->n_slots; i++) {
		struct track *t = b->slots[i];
		if (!t)
			continue;
		if (t->unit >= GW_UNIT_WH && t->unit <= GW_UNIT_VAH) {
			/* back from a silence: the edge day is final now */
			if (t->edge == EDGE_BACK && m > b->edge_start && long_gap(b, t))
				rc = GW_ENOMEM;
			int64_t v = 0;
			enum gw_quality q = boundary(b, t, m, &v, NULL);
			if (q != GW_Q_INCOMPLETE) {
				t->edge = EDGE_FROZEN;
				t->edge_v = v;
				t->edge_q = (uint8_t)q;
			} else {
				size_t k = lower_bound(t, m);
				t->edge = k > 0 && k == t->n ? EDGE_PENDING : EDGE_NONE;
			}
		}
		if (then_prune)
			prune_track(t, m, new_edge);
	}
	return rc;
}

/* Moves the edge day up to `want`, one day at a time, freezing the books
 * at each midnight it passes; drops what is no longer needed. */
static int move_edge_to(struct gw_batcher *b, int32_t want)
{
	int moved = 0, rc = 0;

	if (!b->edges_known) {
		/* After a restart without saved edges: take the books up
		 * from the replayed readings. */
		for (size_t i = 0; i < b->n_slots; i++)
			if (b->slots[i])
				b->slots[i]->edge = EDGE_NONE;
		freeze_at(b, b->edge_start, 0, b->edge_day);
		b->edges_known = 1;
	}
	while (b->edge_day < want) {
		int32_t e = b->edge_day + 1;
		if (freeze_at(b, gw_tz_day_start(e), e == want, e))
			rc = GW_ENOMEM;
		set_edge(b, e);
		moved = e == want;
	}
	/* days that left the revision window can no longer be dirty */
	int k = 0;
	for (int i = 0; i < b->n_dirty; i++)
		if (b->dirty[i] >= b->edge_day)
			b->dirty[k++] = b->dirty[i];
	b->n_dirty = k;
	if (!moved) {
		prune(b);
		return rc;
	}
	size_t r = 0;
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts >= b->edge_start - b->p.max_gap_ms - 86400000)
			b->repl[r++] = b->repl[i];
	b->n_repl = r;
	return rc;
}

static int move_edge(struct gw_batcher *b)
{
	return move_edge_to(b, b->next_day - window(b));
}

/* The day of the oldest reading or queued event. */
static int32_t oldest_day(const struct gw_batcher *b)
{
	int64_t oldest = INT64_MAX;

	for (size_t i = 0; i < b->n_slots; i++) {
		const struct track *t = b->slots[i];
		if (!t || t->n == 0)
			continue;
		if (t->pts[0].ts < oldest)
			oldest = t->pts[0].ts;
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

/* Builds day d and hands it to `sealed` with the events due by its end. */
static int seal_day(struct gw_batcher *b, int32_t d, int64_t now_ms,
		    gw_sealed_fn sealed, void *ctx, int with_queue)
{
	struct gw_batch *batch = build_day(b, d, now_ms);
	int64_t end = gw_tz_day_start(d + 1);

	if (!batch)
		return GW_ENOMEM;
	if (with_queue) {
		/* queued events (offline, online ...) go with the day */
		size_t own = batch->n_events;
		struct gw_batch tmp = {0};
		if (copy_events(b, &tmp, end)) {
			gw_batch_free(batch);
			return GW_ENOMEM;
		}
		if (tmp.n_events) {
			struct gw_event *ne = realloc(batch->events,
						      (own + tmp.n_events) * sizeof(*ne));
			if (!ne) {
				free(tmp.events);
				gw_batch_free(batch);
				return GW_ENOMEM;
			}
			memcpy(ne + own, tmp.events, tmp.n_events * sizeof(*ne));
			batch->events = ne;
			batch->n_events = own + tmp.n_events;
		}
		free(tmp.events);
	}
	if (!batch->n_days && !batch->n_series && !batch->n_events) {
		gw_batch_free(batch); /* a day without any data */
		return 0;
	}
	int rc = sealed(ctx, batch);
	if (rc)
		return rc; /* the day and its events stay for a retry */
	if (with_queue)
		drop_events(b, end);
	return 1;
}

static int cmp_day(const void *a, const void *b)
{
	int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

	return x < y ? -1 : x > y;
}

int gw_batcher_advance(struct gw_batcher *b, int64_t now_ms,
		       gw_sealed_fn sealed, void *ctx)
{
	int count = 0, rc;

	if (b->next_day == INT32_MIN) {
		/* The first day with a reading, or with an event: a gateway
		 * whose meters never answered still seals its offline and
		 * outage events. Nothing before it was ever sealed. */
		int32_t d = oldest_day(b);
		if (d == INT32_MIN)
			return 0;
		set_open(b, d);
		set_edge(b, d - window(b));
		b->edges_known = 1;
	}
	if ((!b->edges_known || b->edge_day < b->next_day - window(b)) && move_edge(b))
		return GW_ENOMEM;
	/* Sealed days with late readings first, oldest first: a new
	 * revision of each. */
	qsort(b->dirty, (size_t)b->n_dirty, sizeof(b->dirty[0]), cmp_day);
	while (b->n_dirty > 0) {
		rc = seal_day(b, b->dirty[0], now_ms, sealed, ctx, 0);
		if (rc < 0)
			return rc;
		count += rc;
		memmove(b->dirty, b->dirty + 1,
			(size_t)(b->n_dirty - 1) * sizeof(b->dirty[0]));
		b->n_dirty--;
	}
	while (b->open_end + b->p.seal_delay_ms <= now_ms) {
		rc = seal_day(b, b->next_day, now_ms, sealed, ctx, 1);
		if (rc < 0)
			return rc;
		count += rc;
		set_open(b, b->next_day + 1);
		if (move_edge(b))
			return GW_ENOMEM;
	}
	return count;
}

/* ---- the books at the edge, across a restart ---- */

/* One line per energy track with something to say:
 *   METER \t OBIS \t UNIT \t EDGE \t VALUE \t QUALITY \t LAST_TS \t LAST_V \t DERIVED
 * EDGE is "frozen" (VALUE, QUALITY: the register at the edge midnight),
 * "pending" (silent since LAST), "back" (was silent since LAST, and
 * answers again: its long gap is counted when the edge day is final) or
 * "none"; LAST is the track's last reading
 * at or before the edge midnight ("-" for none), DERIVED 1 if that reading
 * is GW_RS_DERIVED. The first line names the days it is for. Then one line
 * per event the core raised that is not sealed yet:
 *   event \t KIND \t METER \t OBIS \t TS \t DETAIL   ("-" for empty) */
static const char *const edge_names[] = {"none", "frozen", "pending", "back"};

int gw_batcher_edges_save(const struct gw_batcher *b, char **text, size_t *len)
{
	size_t cap = 128 + b->n_tracks * (GW_ID_MAX + GW_OBIS_MAX + 96), n = 0;
	char *out, d1[16], d2[16];

	*text = NULL;
	*len = 0;
	if (b->next_day == INT32_MIN || !b->edges_known)
		return GW_ENOTFOUND;
	out = malloc(cap);
	if (!out)
		return GW_ENOMEM;
	n += (size_t)snprintf(out, cap, "next_day=%s edge_day=%s\n",
			      gw_day_format(b->next_day, d1, sizeof(d1)),
			      gw_day_format(b->edge_day, d2, sizeof(d2)));
	for (size_t i = 0; i < b->n_slots; i++) {
		const struct track *t = b->slots[i];
		if (!t || !gw_unit_is_energy((enum gw_unit)t->unit) ||
		    strpbrk(t->meter_id, "\t\n") || strpbrk(t->obis, "\t\n"))
			continue;
		size_t k = lower_bound(t, b->edge_start + 1);
		const struct point *last = k > 0 ? &t->pts[k - 1] : NULL;
		if (t->edge == EDGE_NONE && !last)
			continue;
		char lts[24] = "-", lv[24] = "-";
		if (last) {
			snprintf(lts, sizeof(lts), "%lld", (long long)last->ts);
			snprintf(lv, sizeof(lv), "%lld", (long long)last->v);
		}
		n += (size_t)snprintf(out + n, cap - n, "%s\t%s\t%s\t%s\t%lld\t%s\t%s\t%s\t%d\n",
				      t->meter_id, t->obis,
				      gw_unit_name((enum gw_unit)t->unit),
				      edge_names[t->edge],
				      (long long)(t->edge == EDGE_FROZEN ? t->edge_v : 0),
				      gw_quality_name((enum gw_quality)(t->edge == EDGE_FROZEN ? t->edge_q : 0)),
				      lts, lv, last ? is_derived(t, last) : 0);
		if (n >= cap) { /* cannot happen: every line is bounded */
			free(out);
			return GW_ENOMEM;
		}
	}
	/* The core's own events not sealed yet: a restart after this text is
	 * written would not raise them again. */
	for (size_t i = 0; i < b->n_events; i++) {
		const struct gw_event *e = &b->events[i];
		if (e->kind != GW_EV_LONG_GAP && e->kind != GW_EV_BAD_VALUE)
			continue;
		if (strpbrk(e->meter_id, "\t\n") || strpbrk(e->obis, "\t\n") ||
		    strpbrk(e->detail, "\t\n") || !e->meter_id[0])
			continue;
		if (n + 256 >= cap) {
			char *more = realloc(out, cap * 2);
			if (!more) {
				free(out);
				return GW_ENOMEM;
			}
			out = more;
			cap *= 2;
		}
		n += (size_t)snprintf(out + n, cap - n, "event\t%s\t%s\t%s\t%lld\t%s\n",
				      gw_event_name((enum gw_event_kind)e->kind), e->meter_id,
				      e->obis[0] ? e->obis : "-", (long long)e->ts_ms,
				      e->detail[0] ? e->detail : "-");
	}
	*text = out;
	*len = n;
	return 0;
}

/* Parses a decimal int64 field; 0 or -1. */
static int parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x;

	if (!*s)
		return -1;
	x = strtoll(s, &end, 10);
	if (*end)
		return -1;
	*v = x;
	return 0;
}

static int edges_fail(char *why, size_t cap, int line, const char *what)
{
	if (why)
		snprintf(why, cap, "line %d: %s", line, what);
	return GW_ECORRUPT;
}

int gw_batcher_edges_load(struct gw_batcher *b, const char *text, size_t len,
			  char *why, size_t cap)
{
	char *copy = malloc(len + 1), *save = NULL, d1[16], d2[16];
	int32_t next, edge;
	int line = 0, rc = 0;

	if (why && cap)
		why[0] = '\0';
	if (!copy)
		return GW_ENOMEM;
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (len == 0 || copy[len - 1] != '\n') {
		free(copy);
		return edges_fail(why, cap, 0, "does not end with a whole line");
	}
	char *l = strtok_r(copy, "\n", &save);
	line = 1;
	if (!l || sscanf(l, "next_day=%15s edge_day=%15s", d1, d2) != 2 ||
	    gw_day_parse(d1, &next) || gw_day_parse(d2, &edge) || edge > next) {
		free(copy);
		return edges_fail(why, cap, 1, "not a next_day= edge_day= line");
	}
	/* Written for the restored day, or for an earlier one (a crash
	 * after a day was sealed and before this text was written again):
	 * the journal still holds every reading from its edge day on, and
	 * the first advance moves the books on from there. */
	if (next > b->next_day || edge > b->next_day) {
		free(copy);
		if (why)
			snprintf(why, cap, "written for a later day (%s)", d1);
		return GW_EINVAL;
	}
	/* Two passes: check every line, then apply, so a damaged text
	 * changes nothing. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		if (pass == 1) {
			memcpy(copy, text, len);
			copy[len] = '\0';
			strtok_r(copy, "\n", &save);
			line = 1;
			/* the books are at the file's edge midnight; the
			 * first advance moves them on if the window shrank */
			set_edge(b, edge);
		}
		while ((l = strtok_r(NULL, "\n", &save)) != NULL) {
			char *f[9];
			int k = 0;
			line++;
			for (char *p = l; k < 9; k++) {
				f[k] = p;
				p = strchr(p, '\t');
				if (!p)
					break;
				*p++ = '\0';
			}
			if (k == 5 && strcmp(f[0], "event") == 0) {
				/* an event the core raised, not sealed yet */
				int64_t ts;
				int kind = 0;
				for (int j = 1; j <= GW_EV_KIND_MAX_; j++)
					if (strcmp(f[1], gw_event_name((enum gw_event_kind)j)) == 0)
						kind = j;
				if ((kind != GW_EV_LONG_GAP && kind != GW_EV_BAD_VALUE) ||
				    !f[2][0] || strlen(f[2]) >= GW_ID_MAX ||
				    strlen(f[3]) >= GW_OBIS_MAX || strlen(f[5]) >= 96 ||
				    parse_i64(f[4], &ts) || ts < 0 || ts > TS_MAX) {
					rc = edges_fail(why, cap, line, "not an event line");
					break;
				}
				if (pass == 0)
					continue;
				int known = 0;
				for (size_t j = 0; j < b->n_events; j++)
					known |= b->events[j].kind == kind && b->events[j].ts_ms == ts &&
						 strcmp(b->events[j].meter_id, f[2]) == 0;
				if (!known &&
				    queue_event(b, f[2], strcmp(f[3], "-") ? f[3] : "", ts,
						(enum gw_event_kind)kind, strcmp(f[5], "-") ? f[5] : "")) {
					rc = GW_ENOMEM;
					break;
				}
				continue;
			}
			if (k != 8) {
				rc = edges_fail(why, cap, line, "not 9 fields");
				break;
			}
			enum gw_unit unit;
			int e10, ek = -1;
			enum gw_quality q;
			int64_t ev, lts = 0, lv = 0;
			for (int j = 0; j < 4; j++)
				if (strcmp(f[3], edge_names[j]) == 0)
					ek = j;
			int nolast = strcmp(f[6], "-") == 0 && strcmp(f[7], "-") == 0;
			if (!f[0][0] || strlen(f[0]) >= GW_ID_MAX || !f[1][0] ||
			    strlen(f[1]) >= GW_OBIS_MAX ||
			    gw_unit_parse(f[2], &unit, &e10) || e10 != 0 ||
			    !gw_unit_is_energy(unit) || ek < 0 ||
			    parse_i64(f[4], &ev) || ev < 0 || ev > GW_ENERGY_MAX ||
			    gw_quality_parse(f[5], &q) || q == GW_Q_INCOMPLETE ||
			    (!nolast && (parse_i64(f[6], &lts) || parse_i64(f[7], &lv) ||
					 lts < 0 || lts > TS_MAX || lv < 0 ||
					 lv > GW_ENERGY_MAX)) ||
			    (strcmp(f[8], "0") != 0 && strcmp(f[8], "1") != 0) ||
			    ((ek == EDGE_PENDING || ek == EDGE_BACK) && nolast)) {
				rc = edges_fail(why, cap, line, "a field is out of range");
				break;
			}
			if (pass == 0)
				continue;
			struct gw_reading r;
			memset(&r, 0, sizeof(r));
			gw_strlcpy(r.meter_id, f[0], sizeof(r.meter_id));
			gw_strlcpy(r.obis, f[1], sizeof(r.obis));
			r.unit = (uint8_t)unit;
			struct track *t = find_track(b, &r, 1);
			if (!t) {
				rc = GW_ENOMEM;
				break;
			}
			t->unit = (uint8_t)unit;
			t->scale = 0;
			t->edge = (uint8_t)ek;
			t->edge_v = ek == EDGE_FROZEN ? ev : 0;
			t->edge_q = (uint8_t)(ek == EDGE_FROZEN ? q : 0);
			if (!nolast) {
				size_t at;
				if (track_insert(t, lts, lv, &at) < 0 ||
				    (f[8][0] == '1' && iset_add(&t->derived, lts))) {
					rc = GW_ENOMEM;
					break;
				}
			}
		}
	}
	free(copy);
	if (rc == 0)
		b->edges_known = 1;
	return rc;
}
