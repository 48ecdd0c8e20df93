/* SPDX-License-Identifier: MIT */
/*
 * batch_store.c - the batching core's storage: one track per (meter,
 * register) in an open-addressing hash table, each a series of points
 * sorted by time with small sorted sets of derived times and flagged
 * days; inserting a reading, and pruning what no day that can still be
 * sealed needs. See batch_int.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "drops.h"

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

int batch_iset_add(struct iset *s, int64_t x)
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

void batch_iset_del(struct iset *s, int64_t x)
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

void batch_track_free(struct track *t)
{
	free(t->pts);
	free(t->derived.v);
	free(t->bad.v);
	free(t);
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

struct track *batch_find_track(struct gw_batcher *b, const struct gw_reading *r,
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
		return batch_find_track(b, r, create);
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
int batch_track_insert(struct track *t, int64_t ts, int64_t v, size_t *at)
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

/* Drops a track's points no longer needed: before `from` (the edge
 * midnight), keeping the last point at or before it (the minutes missing
 * at the start of the edge day, and the reading a silent track waits
 * with). */
void batch_prune_track(struct track *t, int64_t from, int32_t edge_day)
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

void batch_prune(struct gw_batcher *b)
{
	int64_t from = keep_from(b);

	for (size_t i = 0; i < b->n_slots; i++)
		if (b->slots[i])
			batch_prune_track(b->slots[i], from, b->edge_day);
	/* a replacement matters to the steps after the kept points */
	size_t k = 0;
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts >= from - b->p.max_gap_ms - 86400000)
			b->repl[k++] = b->repl[i];
	b->n_repl = k;
}
