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
 * A cycle (struct gw_fcycle) is the two arrays: a whole record's value
 * is its reading's index in the cycle's w, so that the sink can read any
 * part of the cycle, and the queue a held cycle's whole readings by it.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "flight.h"

_Static_assert(sizeof(struct gw_flight) == 24, "a record is 24 bytes");
_Static_assert(GW_UNIT_COUNT_ <= 16, "a unit fits in four bits");

struct codes {
	pthread_mutex_t lock; /* over all of the table */
	char (*name)[GW_OBIS_MAX];
	size_t n, cap, max;
	uint32_t *hash; /* index + 1, 0 empty; hcap a power of two */
	size_t hcap;
};

/* A cycle handed to the queue: its records r[head .. n) not yet taken,
 * its whole readings w (by a whole record's value). */
struct held {
	struct held *next;
	struct gw_flight *r;
	size_t head, n;
	struct gw_reading *w;
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
	free(h->r);
	free(h->w);
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

/* Grows an array of *cap elements of size sz, whose live part
 * [*head, *n) is first moved to its start, to room for `need` more. */
static int make_room(void **p, size_t sz, size_t *head, size_t *n, size_t *cap,
		     size_t need)
{
	if (*head && *n + need > *cap) {
		memmove(*p, (char *)*p + *head * sz, (*n - *head) * sz);
		*n -= *head;
		*head = 0;
	}
	if (*n + need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 256;
	while (ncap < *n + need)
		ncap *= 2;
	void *np = realloc(*p, ncap * sz);
	if (!np)
		return GW_ENOMEM;
	*p = np;
	*cap = ncap;
	return 0;
}

/* Fills f from r of meter m (the code table's lock held); returns 1 if
 * it fits a record, 0 if it goes whole (counted in *full or *other),
 * GW_ENOMEM. */
static int pack(struct gw_flightq *q, int m, const struct gw_reading *r,
		struct gw_flight *f, unsigned long *full, unsigned long *other)
{
	if (!memchr(r->meter_id, '\0', sizeof(r->meter_id)) || m < 0 ||
	    m >= q->cfg->n_meters || strcmp(r->meter_id, q->cfg->meters[m].id)) {
		(*other)++;
		return 0;
	}
	if (!memchr(r->obis, '\0', sizeof(r->obis)) || r->unit > 15 ||
	    r->status > 15)
		return 0;
	long code = code_number(&q->codes, r->obis);
	if (code == GW_EFULL) {
		(*full)++;
		return 0;
	}
	if (code < 0)
		return (int)code;
	f->ts_ms = r->ts_ms;
	f->value = r->value;
	f->meter = (uint32_t)m;
	f->code = (uint16_t)code;
	f->scale = r->scale;
	f->kind = (uint8_t)(r->unit | r->status << 4);
	return 1;
}

/* Makes f stand for r, added whole to cycle c. 0 or GW_ENOMEM. */
static int add_whole(struct gw_fcycle *c, struct gw_flight *f,
		     const struct gw_reading *r)
{
	size_t head = 0;

	if (make_room((void **)&c->w, sizeof(*c->w), &head, &c->wn, &c->wcap, 1))
		return GW_ENOMEM;
	c->w[c->wn] = *r;
	memset(f, 0, sizeof(*f));
	f->meter = GW_FLIGHT_WHOLE;
	f->value = (int64_t)c->wn++;
	return 0;
}

int gw_flightq_pack(struct gw_flightq *q, struct gw_fcycle *c, int m,
		    const struct gw_reading *r, size_t n)
{
	unsigned long full = 0, other = 0;
	size_t head = 0, n0 = c->n, wn0 = c->wn;
	int rc = 0;

	c->q = q;
	if (make_room((void **)&c->r, sizeof(*c->r), &head, &c->n, &c->cap, n))
		return GW_ENOMEM;
	pthread_mutex_lock(&q->codes.lock);
	for (size_t i = 0; i < n && rc >= 0; i++) {
		struct gw_flight *f = &c->r[c->n];
		rc = pack(q, m, &r[i], f, &full, &other);
		if (rc == 0)
			rc = add_whole(c, f, &r[i]);
		c->n++;
	}
	pthread_mutex_unlock(&q->codes.lock);
	if (rc < 0) { /* none of them */
		c->n = n0;
		c->wn = wn0;
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
	 * cycle is taken (glibc shrinks a block in place; a failed shrink
	 * keeps the whole block, which is no error) */
	if (c->n < c->cap) {
		struct gw_flight *nr = realloc(c->r, c->n * sizeof(*nr));
		if (nr)
			c->r = nr;
	}
	*h = (struct held){.r = c->r, .n = c->n, .w = c->w};
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
	c->r = NULL;
	c->w = NULL;
	c->cap = c->wcap = 0;
	gw_fcycle_clear(c);
	return 0;
}

/* The reading record f (not a whole one) stands for, into out (the code
 * table's lock held). */
static void unpack(const struct gw_flightq *q, const struct gw_flight *f,
		   struct gw_reading *out)
{
	memset(out, 0, sizeof(*out));
	strcpy(out->meter_id, q->cfg->meters[f->meter].id);
	strcpy(out->obis, q->codes.name[f->code]);
	out->ts_ms = f->ts_ms;
	out->value = f->value;
	out->scale = f->scale;
	out->unit = f->kind & 15;
	out->status = f->kind >> 4;
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
		size_t k = h->n - h->head;
		if (k > max - n)
			k = max - n;
		for (size_t i = 0; i < k; i++, n++) {
			const struct gw_flight *f = &h->r[h->head + i];
			if (f->meter == GW_FLIGHT_WHOLE)
				out[n] = h->w[f->value];
			else
				unpack(q, f, &out[n]);
		}
		h->head += k;
		if (h->head < h->n)
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
	pthread_mutex_lock(&c->q->codes.lock);
	for (size_t i = 0; i < n; i++) {
		const struct gw_flight *f = &c->r[from + i];
		if (f->meter == GW_FLIGHT_WHOLE)
			out[i] = c->w[f->value];
		else
			unpack(c->q, f, &out[i]);
	}
	pthread_mutex_unlock(&c->q->codes.lock);
	return n;
}

int gw_fcycle_set_status(struct gw_fcycle *c, size_t i, uint8_t status)
{
	struct gw_flight *f = &c->r[i];
	struct gw_reading r;

	if (f->meter == GW_FLIGHT_WHOLE) {
		c->w[f->value].status = status;
		return 0;
	}
	if (status <= 15) {
		f->kind = (uint8_t)((f->kind & 15) | status << 4);
		return 0;
	}
	gw_fcycle_read(c, i, &r, 1);
	r.status = status;
	return add_whole(c, f, &r);
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
	c->n = c->wn = 0;
	c->full = c->other = 0;
}

void gw_fcycle_free(struct gw_fcycle *c)
{
	free(c->r);
	free(c->w);
	memset(c, 0, sizeof(*c));
}

int gw_fcycle_key(const struct gw_fcycle *c, size_t i, struct gw_fkey *out)
{
	const struct gw_flight *f = &c->r[i];

	if (f->meter == GW_FLIGHT_WHOLE)
		return 0;
	out->ts_ms = f->ts_ms;
	out->meter = (int)f->meter;
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
