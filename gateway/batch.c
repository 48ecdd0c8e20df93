/* SPDX-License-Identifier: MIT */
/*
 * batch.c - the batching core: per-meter local days from readings; see
 * batch.h.
 *
 * Readings are kept per (meter, register) as a series sorted by time, in a
 * hash table. A day D is sealed once the clock has passed the end of D by
 * seal_delay: for each energy register the values at D's two midnights are
 * derived (measured / interpolated / estimated / incomplete), the day's
 * consumption is their difference, and every register's readings inside D
 * become its interval series. After sealing, a series keeps only its last
 * reading at or before D's end (the next day's start needs it) and later
 * ones.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "drops.h"
#include "tz.h"

struct point {
	int64_t ts;
	int64_t v;
};

struct track {
	char meter_id[GW_ID_MAX];
	char obis[GW_OBIS_MAX];
	uint8_t unit;
	int8_t scale;
	uint32_t hash;
	int64_t rollover; /* 0: unknown or never */
	size_t n, cap;
	struct point *pts;
};

struct gw_batcher {
	struct gw_batcher_params p;
	char gateway_id[GW_ID_MAX];
	struct track **slots; /* open addressing, NULL = empty */
	size_t n_slots, n_tracks;
	int32_t next_day; /* first day not sealed; INT32_MIN: none yet */
	uint64_t dropped_late;
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

static const char *const event_names[] = {
	[GW_EV_OFFLINE] = "offline",
	[GW_EV_ONLINE] = "online",
	[GW_EV_COUNTER_RESET] = "counter_reset",
	[GW_EV_METER_REPLACED] = "meter_replaced",
	[GW_EV_CLOCK_DRIFT] = "clock_drift",
	[GW_EV_POWER_OUTAGE] = "power_outage",
	[GW_EV_COUNTER_WRAP] = "counter_wrap",
	[GW_EV_JUMP] = "jump",
	[GW_EV_BAD_VALUE] = "bad_value",
	[GW_EV_LONG_GAP] = "long_gap",
};

const char *gw_event_name(enum gw_event_kind k)
{
	if ((unsigned)k < 1 || (unsigned)k > GW_EV_KIND_MAX_)
		return NULL;
	return event_names[k];
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
	for (size_t i = 0; i < b->n_slots; i++) {
		if (b->slots[i]) {
			free(b->slots[i]->pts);
			free(b->slots[i]);
		}
	}
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
	if (b->p.rollover && gw_unit_is_energy(r->unit))
		t->rollover = b->p.rollover(b->p.rollover_ctx, r->meter_id, r->obis);
	b->slots[j] = t;
	b->n_tracks++;
	return t;
}

/* Inserts a point keeping the series sorted; a second reading with the
 * same timestamp replaces the first. Returns 1 if the series changed, 0 if
 * the same point was there already, or GW_ENOMEM. */
static int track_insert(struct track *t, int64_t ts, int64_t v)
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
			if (t->pts[lo].v == v)
				return 0;
			t->pts[lo].v = v;
			return 1;
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
	return 1;
}

static void mark_dirty(struct gw_batcher *b, int32_t d)
{
	if (b->next_day == INT32_MIN || d >= b->next_day ||
	    d < b->next_day - b->p.revision_window_days)
		return;
	for (int i = 0; i < b->n_dirty; i++)
		if (b->dirty[i] == d)
			return;
	if (b->n_dirty < (int)(sizeof(b->dirty) / sizeof(b->dirty[0])))
		b->dirty[b->n_dirty++] = d;
}

/* The earliest reading still useful: the start of the oldest day that can
 * be sealed again, less max_gap for that day's start boundary. */
static int64_t keep_from(const struct gw_batcher *b)
{
	return gw_tz_day_start(b->next_day - b->p.revision_window_days) -
	       b->p.max_gap_ms;
}

static int add(struct gw_batcher *b, const struct gw_reading *r, size_t n,
	       int replay)
{
	for (size_t i = 0; i < n; i++) {
		int late = b->next_day != INT32_MIN &&
			   r[i].ts_ms < gw_tz_day_start(b->next_day);
		if (late && r[i].ts_ms < keep_from(b)) {
			gw_drops_add(GW_DROP_LATE, 1);
			continue;
		}
		struct track *t = find_track(b, &r[i], 1);
		if (!t)
			return GW_ENOMEM;
		if (t->scale != r[i].scale || t->unit != r[i].unit) {
			/* Same register, another scale: keep the series in one
			 * scale. Energy is always scale 0; this only concerns
			 * instantaneous values of a re-configured meter. */
			t->unit = r[i].unit;
			t->scale = r[i].scale;
		}
		int rc = track_insert(t, r[i].ts_ms, r[i].value);
		if (rc < 0)
			return rc;
		if (rc == 1 && late && !replay) {
			/* A late reading can change its own day, and the
			 * neighbouring day whose midnight it lies next to. */
			int32_t d = gw_tz_day_of(r[i].ts_ms);
			mark_dirty(b, d);
			if (r[i].ts_ms - gw_tz_day_start(d) <= b->p.max_gap_ms)
				mark_dirty(b, d - 1);
			if (gw_tz_day_start(d + 1) - r[i].ts_ms <= b->p.max_gap_ms)
				mark_dirty(b, d + 1);
		}
	}
	return 0;
}

int gw_batcher_add(struct gw_batcher *b, const struct gw_reading *r, size_t n)
{
	return add(b, r, n, 0);
}

void gw_batcher_restore(struct gw_batcher *b, int32_t next_day)
{
	b->next_day = next_day;
}

int gw_batcher_replay(struct gw_batcher *b, const struct gw_reading *r,
		      size_t n)
{
	int64_t read_at = INT64_MIN;

	for (size_t i = 0; i < n; i++)
		if (r[i].ts_ms > read_at)
			read_at = r[i].ts_ms;
	for (size_t i = 0; i < n; i++) {
		int late = 0;
		if (b->next_day != INT32_MIN &&
		    r[i].ts_ms < gw_tz_day_start(b->next_day)) {
			int32_t d = gw_tz_day_of(r[i].ts_ms);
			late = read_at >= gw_tz_day_start(d + 1) + b->p.seal_delay_ms;
		}
		int rc = add(b, &r[i], 1, !late);
		if (rc)
			return rc;
	}
	return 0;
}

uint64_t gw_batcher_dropped(const struct gw_batcher *b)
{
	return b->dropped_late;
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
	__int128 d = (__int128)(b - a) * num;
	__int128 q = d / den, r = d % den;

	if (2 * (r < 0 ? -r : r) >= den)
		q += (d < 0) ? -1 : 1;
	return a + (int64_t)q;
}

/* Most energy (register units) a meter can count in dt ms at max_power,
 * or -1 when there is no bound. */
static int64_t max_energy(const struct gw_batcher *b, int64_t dt)
{
	if (b->p.max_power_w <= 0)
		return -1;
	if (dt < 0)
		dt = 0;
	/* W * ms / 3.6e6 = Wh; +1 for the register's rounding. */
	return (int64_t)((__int128)b->p.max_power_w * dt / 3600000) + 1;
}

/* The increase from a to b, dt ms apart, if b < a is a wrap of a register
 * rolling over at r; -1 otherwise. */
static int64_t wrap_increase(const struct gw_batcher *b, int64_t r, int64_t a,
			     int64_t bv, int64_t dt)
{
	if (r <= 0 || bv >= a || a >= r)
		return -1;
	int64_t inc = bv + (r - a);
	int64_t bound = max_energy(b, dt);
	if (bound >= 0 ? inc > bound : inc > r / 2)
		return -1;
	return inc;
}

/* The register value at midnight m; returns its quality. */
static enum gw_quality boundary(const struct gw_batcher *b, const struct track *t,
				int64_t m, int64_t *value)
{
	size_t i = lower_bound(t, m);
	const struct point *after = i < t->n ? &t->pts[i] : NULL;
	const struct point *before = NULL;

	if (after && after->ts == m) {
		*value = after->v;
		return GW_Q_MEASURED;
	}
	if (i > 0)
		before = &t->pts[i - 1];
	int64_t tol = b->p.midnight_tolerance_ms;
	int64_t db = before ? m - before->ts : INT64_MAX;
	int64_t da = after ? after->ts - m : INT64_MAX;
	if (db <= tol || da <= tol) {
		*value = db <= da ? before->v : after->v;
		return GW_Q_MEASURED;
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
			return GW_Q_ESTIMATED;
		}
		av = before->v + inc; /* unwrapped */
	}
	*value = interp(before->v, av, m - before->ts, after->ts - before->ts);
	if (t->rollover > 0 && *value >= t->rollover)
		*value -= t->rollover;
	return q;
}

static int cmp_track(const void *a, const void *b)
{
	const struct track *x = *(const struct track *const *)a;
	const struct track *y = *(const struct track *const *)b;
	int c = strcmp(x->meter_id, y->meter_id);

	return c ? c : strcmp(x->obis, y->obis);
}

/* Minutes of [s, e) not covered by readings. A gap between consecutive
 * readings longer than 1.5 poll intervals is missing beyond one poll
 * interval; a gap that crosses midnight counts in proportion to its part
 * inside the day, so that a gap's minutes are split between the days it
 * spans and add up to the whole. With no reading beyond an edge of the
 * day, the edge itself bounds the gap. */
static uint32_t missing_minutes(const struct gw_batcher *b, const struct track *t,
				size_t first, size_t end, int64_t s, int64_t e)
{
	int64_t poll = b->p.poll_interval_ms, miss = 0;
	int64_t prev = first > 0 ? t->pts[first - 1].ts : s;

	for (size_t i = first; i <= end; i++) {
		int64_t ts;
		if (i < end)
			ts = t->pts[i].ts;
		else
			ts = end < t->n ? t->pts[end].ts : e;
		int64_t gap = ts - prev;
		if (gap > 0 && gap * 2 > poll * 3) {
			int64_t in = (ts < e ? ts : e) - (prev > s ? prev : s);
			if (in > 0)
				miss += (int64_t)((__int128)in * (gap - poll) / gap);
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
 * records events as it goes. */
static int sum_increases(const struct gw_batcher *b, const struct track *t,
			 size_t first, size_t end, int64_t s, int64_t sv,
			 int64_t e, int64_t ev, struct gw_batch *batch,
			 size_t *ecap, enum gw_quality *q, int64_t *total)
{
	int64_t prev = sv, pts = s, sum = 0;

	for (size_t i = first; i <= end; i++) {
		int64_t v = i < end ? t->pts[i].v : ev;
		int64_t ts = i < end ? t->pts[i].ts : e;
		/* the event's time: the reading that showed the change */
		int64_t ets = i < end ? ts : (end < t->n ? t->pts[end].ts : e);
		/* the reading the step starts from (the start value stands for
		 * the last reading before the day) */
		int64_t from = i == first && first > 0 ? t->pts[first - 1].ts : pts;
		int64_t inc = v - prev, bound = max_energy(b, ts - pts);
		enum gw_event_kind kind = 0;
		if (replaced_between(b, t->meter_id, from, ets)) {
			/* The old meter's register, then the new one's: the
			 * step between them is not consumption (the meter_replaced
			 * event says so), and the energy in it is not known. */
			inc = 0;
			if (*q < GW_Q_ESTIMATED)
				*q = GW_Q_ESTIMATED;
		} else if (inc < 0) {
			int64_t w = wrap_increase(b, t->rollover, prev, v, ts - pts);
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
		} else if (bound >= 0 && inc > bound) {
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
		if (!gw_unit_is_energy(t->unit))
			continue;
		struct gw_day_register *dr = &batch->days[batch->n_days];
		int64_t sv = 0, ev = 0;
		enum gw_quality qs = boundary(b, t, s, &sv);
		enum gw_quality qe = boundary(b, t, e, &ev);
		if (qs == GW_Q_INCOMPLETE || qe == GW_Q_INCOMPLETE) {
			if (end == first)
				continue; /* nothing to say about this day */
			if (qs == GW_Q_INCOMPLETE)
				sv = t->pts[first].v;
			if (qe == GW_Q_INCOMPLETE)
				ev = t->pts[end - 1].v;
		}
		enum gw_quality q = qs > qe ? qs : qe;
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

/* Drops points no longer needed: before the oldest day that can still be
 * sealed again, keeping the last point before it (its start boundary). */
static void prune(struct gw_batcher *b)
{
	int64_t from = gw_tz_day_start(b->next_day - b->p.revision_window_days);

	for (size_t i = 0; i < b->n_slots; i++) {
		struct track *t = b->slots[i];
		if (!t)
			continue;
		size_t k = lower_bound(t, from + 1);
		if (k <= 1)
			continue;
		k--; /* keep the last point at or before `from` */
		memmove(t->pts, t->pts + k, (t->n - k) * sizeof(*t->pts));
		t->n -= k;
	}
	/* a replacement matters to the steps after the kept points */
	size_t k = 0;
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts >= from - b->p.max_gap_ms - 86400000)
			b->repl[k++] = b->repl[i];
	b->n_repl = k;
}

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
		b->next_day = oldest_day(b);
		if (b->next_day == INT32_MIN)
			return 0;
	}
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
	while (gw_tz_day_start(b->next_day + 1) + b->p.seal_delay_ms <= now_ms) {
		rc = seal_day(b, b->next_day, now_ms, sealed, ctx, 1);
		if (rc < 0)
			return rc;
		count += rc;
		b->next_day++;
		/* days that left the revision window can no longer be dirty */
		int k = 0;
		for (int i = 0; i < b->n_dirty; i++)
			if (b->dirty[i] >= b->next_day - b->p.revision_window_days)
				b->dirty[k++] = b->dirty[i];
		b->n_dirty = k;
		prune(b);
	}
	return count;
}
