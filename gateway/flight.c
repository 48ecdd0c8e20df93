/* SPDX-License-Identifier: MIT */
/*
 * flight.c - the queue of compact readings between the poll workers and
 * the batching core; see flight.h.
 *
 * The queue is a list of the cycles handed to it (struct held), oldest
 * first: a cycle's records and its whole readings are the arrays its bus
 * worker packed them into, taken over as they are, never copied; the
 * worker starts its next cycle in fresh memory. A take walks the list
 * from its head and frees each cycle once all of it is taken, so that
 * the queue holds no more than the cycles not yet taken (no array that
 * keeps its largest size).
 *
 * The code table is an array of fixed-width names (its number is the
 * index) with an open-addressing hash of indexes beside it; it only grows.
 * Its lock is taken once per call that packs or unpacks, never per
 * reading, and nothing else is taken while it is held.
 *
 * A cycle (struct gw_fcycle) is four arrays: the records; the runs, a
 * meter's readings of one time each, by their first record (a meter's
 * registers read at once are one run; a reading of another time, or a
 * whole one, starts the next); the values kept wide, by their reading's
 * number; the whole readings, by a whole record's value. A reading
 * found by its number (gw_fcycle_read, _key, _set_status) is looked up
 * in the runs and the wide values by halving; a read of many, and a
 * take, walk them on from there (a held cycle keeps where its take
 * stopped), so that the sink can read any part of the cycle and the
 * queue takes a cycle in any parts. A status beyond a record's four bits
 * makes its reading whole: its run is split around it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "flight.h"

_Static_assert(sizeof(struct gw_flight) == 8, "a record is 8 bytes");
_Static_assert(sizeof(struct gw_frun) == 16, "a run is 16 bytes");
_Static_assert(GW_UNIT_COUNT_ <= 16, "a unit fits in four bits");
_Static_assert(sizeof(((struct gw_reading *)0)->obis) == GW_OBIS_MAX,
	       "a code is copied whole from the table");

struct codes {
	pthread_mutex_t lock; /* over all of the table */
	char (*name)[GW_OBIS_MAX];
	size_t n, cap, max;
	uint32_t *hash; /* index + 1, 0 empty; hcap a power of two */
	size_t hcap;
};

/* A cycle handed to the queue: its readings head .. c.n - 1 not yet
 * taken; run and wide where the take goes on (struct walk). */
struct held {
	struct held *next;
	struct gw_fcycle c;
	size_t head, run, wide;
};

struct gw_flightq {
	const struct gw_config *cfg;
	struct codes codes;
	struct held *head, *tail; /* oldest first */
	size_t len;               /* records held, not yet taken */
	size_t cycles;            /* in the list */
	struct gw_flight_counts counts;
};

struct gw_flightq *gw_flightq_new(const struct gw_config *cfg, size_t max_codes)
{
	struct gw_flightq *q = calloc(1, sizeof(*q));

	if (!q)
		return NULL;
	q->cfg = cfg;
	q->codes.max = max_codes && max_codes < GW_FLIGHT_CODES_MAX
			       ? max_codes : GW_FLIGHT_CODES_MAX;
	pthread_mutex_init(&q->codes.lock, NULL);
	return q;
}

static void held_free(struct held *h)
{
	gw_fcycle_free(&h->c);
	free(h);
}

void gw_flightq_free(struct gw_flightq *q)
{
	if (!q)
		return;
	pthread_mutex_destroy(&q->codes.lock);
	free(q->codes.name);
	free(q->codes.hash);
	for (struct held *h = q->head, *next; h; h = next) {
		next = h->next;
		held_free(h);
	}
	free(q);
}

static uint32_t hash_name(const char *s)
{
	return gw_hash_str(GW_HASH_INIT, s);
}

/* Puts index i into the hash (which has room). */
static void hash_put(struct codes *c, size_t i)
{
	size_t mask = c->hcap - 1, k = hash_name(c->name[i]) & mask;

	while (c->hash[k])
		k = (k + 1) & mask;
	c->hash[k] = (uint32_t)i + 1;
}

/* The code's number: found, or added. Returns it, GW_EFULL when the table
 * holds c->max codes and this is not one of them, or GW_ENOMEM. The
 * caller has checked that the code ends within GW_OBIS_MAX. */
static long code_number(struct codes *c, const char *code)
{
	if (c->hcap) {
		size_t mask = c->hcap - 1;
		for (size_t k = hash_name(code) & mask; c->hash[k]; k = (k + 1) & mask)
			if (strcmp(c->name[c->hash[k] - 1], code) == 0)
				return (long)c->hash[k] - 1;
	}
	if (c->n == c->max)
		return GW_EFULL;
	if (c->n == c->cap) {
		size_t ncap = c->cap ? c->cap * 2 : 64;
		char (*nn)[GW_OBIS_MAX] = realloc(c->name, ncap * sizeof(*nn));
		if (!nn)
			return GW_ENOMEM;
		c->name = nn;
		c->cap = ncap;
	}
	if ((c->n + 1) * 2 > c->hcap) { /* at most half full */
		size_t ncap = c->hcap ? c->hcap * 2 : 128;
		uint32_t *nh = calloc(ncap, sizeof(*nh));
		if (!nh)
			return GW_ENOMEM;
		free(c->hash);
		c->hash = nh;
		c->hcap = ncap;
		for (size_t i = 0; i < c->n; i++)
			hash_put(c, i);
	}
	memset(c->name[c->n], 0, sizeof(c->name[0]));
	strcpy(c->name[c->n], code);
	hash_put(c, c->n);
	return (long)c->n++;
}

/* Grows an array of *cap elements of size sz, n of them live, to room
 * for `need` more (doubling, from 16). 0 or GW_ENOMEM (unchanged). */
static int make_room(void **p, size_t sz, size_t n, size_t *cap, size_t need)
{
	if (n + need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < n + need)
		ncap *= 2;
	void *np = realloc(*p, ncap * sz);
	if (!np)
		return GW_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Hands back what an array holds past its n elements of size sz (glibc
 * shrinks a block in place; a failed shrink keeps the whole block, which
 * is no error). */
static void shrink(void **p, size_t sz, size_t n, size_t *cap)
{
	if (n && n < *cap) {
		void *np = realloc(*p, n * sz);
		if (np) {
			*p = np;
			*cap = n;
		}
	}
}

/* Where a walk over a cycle's readings is: a run at or before the
 * reading it is at, and a wide value at or before the first one at or
 * after that reading (walk_run and walk_value move them on). */
struct walk {
	size_t run, wide;
};

/* The run of reading i of c (the last whose first is at or before it). */
static size_t run_of(const struct gw_fcycle *c, size_t i)
{
	size_t lo = 0, hi = c->nrun;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->run[mid].first <= i)
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/* The first wide value of c at or after reading i. */
static size_t wide_of(const struct gw_fcycle *c, size_t i)
{
	size_t lo = 0, hi = c->nwide;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (c->wide[mid].i < i)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The run of reading i, the walk moved on to it (at reading i or
 * before it). */
static const struct gw_frun *walk_run(const struct gw_fcycle *c,
				      struct walk *at, size_t i)
{
	while (at->run + 1 < c->nrun && c->run[at->run + 1].first <= i)
		at->run++;
	return &c->run[at->run];
}

/* Record f's value, reading i's (the walk at reading i or before it). */
static int64_t walk_value(const struct gw_fcycle *c, struct walk *at,
			  const struct gw_flight *f, size_t i)
{
	if (f->value != GW_FLIGHT_WIDE)
		return f->value;
	while (c->wide[at->wide].i < i)
		at->wide++;
	return c->wide[at->wide].value;
}

/* Unpacks readings from .. from + n - 1 of c into out, the walk at
 * reading from or before it (the code table's lock held): run by run,
 * a run's meter and time set once. */
static void unpack(const struct gw_fcycle *c, struct walk *at, size_t from,
		   struct gw_reading *out, size_t n)
{
	const struct gw_config *cfg = c->q->cfg;
	const struct codes *t = &c->q->codes;
	struct gw_reading one;

	for (size_t i = from, end = from + n; i < end;) {
		const struct gw_frun *run = walk_run(c, at, i);
		size_t stop = at->run + 1 < c->nrun ? run[1].first : c->n;
		if (stop > end)
			stop = end;
		if (run->meter == GW_FLIGHT_WHOLE) {
			for (; i < stop; i++)
				*out++ = c->w[c->r[i].value];
			continue;
		}
		memset(&one, 0, sizeof(one));
		strcpy(one.meter_id, cfg->meters[run->meter].id);
		one.ts_ms = run->ts_ms;
		for (; i < stop; i++, out++) {
			const struct gw_flight *f = &c->r[i];
			*out = one;
			/* the table's names are zero to their end */
			memcpy(out->obis, t->name[f->code], sizeof(out->obis));
			out->value = walk_value(c, at, f, i);
			out->scale = f->scale;
			out->unit = f->kind & 15;
			out->status = f->kind >> 4;
		}
	}
}

/* The code number of r of meter m (the code table's lock held): >= 0 if
 * it fits a record, GW_EFULL if it goes whole (counted in *full or
 * *other), GW_ENOMEM. */
static long fits(struct gw_flightq *q, int m, const struct gw_reading *r,
		 unsigned long *full, unsigned long *other)
{
	if (!memchr(r->meter_id, '\0', sizeof(r->meter_id)) || m < 0 ||
	    m >= q->cfg->n_meters || strcmp(r->meter_id, q->cfg->meters[m].id)) {
		(*other)++;
		return GW_EFULL;
	}
	if (!memchr(r->obis, '\0', sizeof(r->obis)) || r->unit > 15 ||
	    r->status > 15)
		return GW_EFULL;
	long code = code_number(&q->codes, r->obis);
	if (code == GW_EFULL)
		(*full)++;
	return code;
}

/* Makes the next record of c (c->n) one of a run of meter's readings of
 * time ts (GW_FLIGHT_WHOLE: of whole readings), the last run or a new
 * one. 0 or GW_ENOMEM. */
static int run_for(struct gw_fcycle *c, uint32_t meter, int64_t ts)
{
	const struct gw_frun *last = c->nrun ? &c->run[c->nrun - 1] : NULL;

	if (last && last->meter == meter &&
	    (meter == GW_FLIGHT_WHOLE || last->ts_ms == ts))
		return 0;
	if (make_room((void **)&c->run, sizeof(*c->run), c->nrun, &c->runcap, 1))
		return GW_ENOMEM;
	c->run[c->nrun++] = (struct gw_frun){.ts_ms = ts, .first = (uint32_t)c->n,
					     .meter = meter};
	return 0;
}

/* Keeps r whole in c's w, for record f. 0 or GW_ENOMEM. */
static int keep_whole(struct gw_fcycle *c, struct gw_flight *f,
		      const struct gw_reading *r)
{
	if (make_room((void **)&c->w, sizeof(*c->w), c->wn, &c->wcap, 1))
		return GW_ENOMEM;
	c->w[c->wn] = *r;
	memset(f, 0, sizeof(*f));
	f->value = (int32_t)c->wn++;
	return 0;
}

/* Adds r of meter m, its code numbered code (< 0: whole), as c's next
 * record (room made for it). 0 or GW_ENOMEM. */
static int add(struct gw_fcycle *c, int m, long code, const struct gw_reading *r)
{
	struct gw_flight *f = &c->r[c->n];

	if (code < 0)
		return run_for(c, GW_FLIGHT_WHOLE, 0) ? GW_ENOMEM
						      : keep_whole(c, f, r);
	if (run_for(c, (uint32_t)m, r->ts_ms))
		return GW_ENOMEM;
	if (r->value >= INT32_MIN + 1 && r->value <= INT32_MAX) {
		f->value = (int32_t)r->value;
	} else {
		if (make_room((void **)&c->wide, sizeof(*c->wide), c->nwide,
			      &c->widecap, 1))
			return GW_ENOMEM;
		c->wide[c->nwide++] = (struct gw_fwide){.value = r->value, .i = c->n};
		f->value = GW_FLIGHT_WIDE;
	}
	f->code = (uint16_t)code;
	f->scale = r->scale;
	f->kind = (uint8_t)(r->unit | r->status << 4);
	return 0;
}

int gw_flightq_pack(struct gw_flightq *q, struct gw_fcycle *c, int m,
		    const struct gw_reading *r, size_t n)
{
	unsigned long full = 0, other = 0;
	size_t n0 = c->n, wn0 = c->wn, nrun0 = c->nrun, nwide0 = c->nwide;
	int rc = 0;

	c->q = q;
	if (n > UINT32_MAX - c->n || /* a run's first is 32 bits */
	    make_room((void **)&c->r, sizeof(*c->r), c->n, &c->cap, n))
		return GW_ENOMEM;
	pthread_mutex_lock(&q->codes.lock);
	for (size_t i = 0; i < n && rc == 0; i++) {
		long code = fits(q, m, &r[i], &full, &other);
		rc = code == GW_ENOMEM ? GW_ENOMEM : add(c, m, code, &r[i]);
		c->n++;
	}
	pthread_mutex_unlock(&q->codes.lock);
	if (rc) { /* none of them */
		c->n = n0;
		c->wn = wn0;
		c->nrun = nrun0;
		c->nwide = nwide0;
		return GW_ENOMEM;
	}
	c->full += full;
	c->other += other;
	return 0;
}

int gw_flightq_push_cycle(struct gw_flightq *q, struct gw_fcycle *c)
{
	if (!c->n) /* nothing to hand over: c keeps its memory */
		return 0;
	struct held *h = malloc(sizeof(*h));
	if (!h)
		return GW_ENOMEM;
	/* what was reserved and not filled is handed back now, not when the
	 * cycle is taken */
	shrink((void **)&c->r, sizeof(*c->r), c->n, &c->cap);
	shrink((void **)&c->run, sizeof(*c->run), c->nrun, &c->runcap);
	shrink((void **)&c->wide, sizeof(*c->wide), c->nwide, &c->widecap);
	*h = (struct held){.c = *c};
	if (q->tail)
		q->tail->next = h;
	else
		q->head = h;
	q->tail = h;
	q->len += c->n;
	q->cycles++;
	q->counts.whole += c->wn;
	q->counts.codes_full += c->full;
	q->counts.other_id += c->other;
	*c = (struct gw_fcycle){.q = c->q};
	return 0;
}

size_t gw_flightq_take(struct gw_flightq *q, struct gw_reading *out, size_t max)
{
	struct held *done = NULL, **done_end = &done;
	size_t n = 0;

	if (!max || !q->head)
		return 0;
	pthread_mutex_lock(&q->codes.lock);
	while (n < max && q->head) {
		struct held *h = q->head;
		struct walk at = {h->run, h->wide};
		size_t k = h->c.n - h->head;
		if (k > max - n)
			k = max - n;
		unpack(&h->c, &at, h->head, out + n, k);
		n += k;
		h->head += k;
		h->run = at.run;
		h->wide = at.wide;
		if (h->head < h->c.n)
			break;
		q->head = h->next; /* all of it taken: freed below */
		q->cycles--;
		h->next = NULL;
		*done_end = h;
		done_end = &h->next;
	}
	pthread_mutex_unlock(&q->codes.lock);
	if (!q->head)
		q->tail = NULL;
	q->len -= n;
	for (struct held *next; done; done = next) {
		next = done->next;
		held_free(done);
	}
	return n;
}

size_t gw_flightq_len(const struct gw_flightq *q)
{
	return q->len;
}

void gw_flightq_counts(struct gw_flightq *q, struct gw_flight_counts *out)
{
	*out = q->counts;
	out->cycles = q->cycles;
	pthread_mutex_lock(&q->codes.lock);
	out->codes = q->codes.n;
	pthread_mutex_unlock(&q->codes.lock);
}

size_t gw_fcycle_read(const struct gw_fcycle *c, size_t from,
		      struct gw_reading *out, size_t max)
{
	size_t n = from < c->n ? c->n - from : 0;

	if (n > max)
		n = max;
	if (!n)
		return 0;
	struct walk at = {run_of(c, from), wide_of(c, from)};
	pthread_mutex_lock(&c->q->codes.lock);
	unpack(c, &at, from, out, n);
	pthread_mutex_unlock(&c->q->codes.lock);
	return n;
}

/* Makes reading i of c (a record of run k) whole, as r: its run split
 * around it. 0 or GW_ENOMEM (unchanged). */
static int make_whole(struct gw_fcycle *c, size_t k, size_t i,
		      const struct gw_reading *r)
{
	struct gw_frun run = c->run[k];
	size_t end = k + 1 < c->nrun ? c->run[k + 1].first : c->n;
	int before = i > run.first, after = i + 1 < end;
	size_t add = (size_t)before + (size_t)after;

	if (make_room((void **)&c->run, sizeof(*c->run), c->nrun, &c->runcap, add) ||
	    make_room((void **)&c->w, sizeof(*c->w), c->wn, &c->wcap, 1))
		return GW_ENOMEM;
	if (c->r[i].value == GW_FLIGHT_WIDE) { /* its wide value goes */
		size_t j = wide_of(c, i);
		memmove(&c->wide[j], &c->wide[j + 1],
			(c->nwide - j - 1) * sizeof(*c->wide));
		c->nwide--;
	}
	memmove(&c->run[k + 1 + add], &c->run[k + 1],
		(c->nrun - k - 1) * sizeof(*c->run));
	c->nrun += add;
	k += (size_t)before; /* the run before it stays as it was */
	c->run[k] = (struct gw_frun){.first = (uint32_t)i, .meter = GW_FLIGHT_WHOLE};
	if (after)
		c->run[k + 1] = (struct gw_frun){.ts_ms = run.ts_ms,
						 .first = (uint32_t)i + 1,
						 .meter = run.meter};
	return keep_whole(c, &c->r[i], r);
}

int gw_fcycle_set_status(struct gw_fcycle *c, size_t i, uint8_t status)
{
	size_t k = run_of(c, i);
	struct gw_flight *f = &c->r[i];
	struct gw_reading r;

	if (c->run[k].meter == GW_FLIGHT_WHOLE) {
		c->w[f->value].status = status;
		return 0;
	}
	if (status <= 15) {
		f->kind = (uint8_t)((f->kind & 15) | status << 4);
		return 0;
	}
	gw_fcycle_read(c, i, &r, 1);
	r.status = status;
	return make_whole(c, k, i, &r);
}

int gw_fcycle_reserve(struct gw_fcycle *c, size_t n)
{
	if (n <= c->cap)
		return 0;
	struct gw_flight *nr = realloc(c->r, n * sizeof(*nr));
	if (!nr)
		return GW_ENOMEM;
	c->r = nr;
	c->cap = n;
	return 0;
}

size_t gw_fcycle_len(const struct gw_fcycle *c)
{
	return c->n;
}

void gw_fcycle_clear(struct gw_fcycle *c)
{
	c->n = c->wn = c->nrun = c->nwide = 0;
	c->full = c->other = 0;
}

void gw_fcycle_free(struct gw_fcycle *c)
{
	free(c->r);
	free(c->run);
	free(c->wide);
	free(c->w);
	memset(c, 0, sizeof(*c));
}

int gw_fcycle_key(const struct gw_fcycle *c, size_t i, struct gw_fkey *out)
{
	const struct gw_frun *run = &c->run[run_of(c, i)];
	const struct gw_flight *f = &c->r[i];

	if (run->meter == GW_FLIGHT_WHOLE)
		return 0;
	out->ts_ms = run->ts_ms;
	out->meter = (int)run->meter;
	out->code = f->code;
	out->status = f->kind >> 4;
	return 1;
}

int gw_fcycle_code_name(const struct gw_fcycle *c, unsigned code, char *out)
{
	struct codes *t = &c->q->codes;
	int rc = GW_EINVAL;

	pthread_mutex_lock(&t->lock);
	if (code < t->n) {
		memcpy(out, t->name[code], sizeof(t->name[code]));
		rc = 0;
	}
	pthread_mutex_unlock(&t->lock);
	return rc;
}
