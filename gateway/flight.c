/* SPDX-License-Identifier: MIT */
/*
 * flight.c - the queue of compact readings between the poll workers and
 * the batching core; see flight.h.
 *
 * Two FIFOs: the records (every reading has one, in order) and the whole
 * readings that did not fit a record (each stands behind a record whose
 * meter is GW_FLIGHT_WHOLE, in the same order). Both keep their memory
 * for the queue's life, like the queue of whole readings they replace:
 * the part already taken is moved out of the way before either grows.
 *
 * The code table is an array of fixed-width names (its number is the
 * index) with an open-addressing hash of indexes beside it; it only grows.
 */
#include <stdlib.h>
#include <string.h>

#include "flight.h"

_Static_assert(sizeof(struct gw_flight) == 24, "a record is 24 bytes");
_Static_assert(GW_UNIT_COUNT_ <= 16, "a unit fits in four bits");

struct codes {
	char (*name)[GW_OBIS_MAX];
	size_t n, cap, max;
	uint32_t *hash; /* index + 1, 0 empty; hcap a power of two */
	size_t hcap;
};

struct gw_flightq {
	const struct gw_config *cfg;
	struct codes codes;
	struct gw_flight *q; /* q[qhead .. qn) */
	size_t qhead, qn, qcap;
	struct gw_reading *w; /* whole readings: w[whead .. wn) */
	size_t whead, wn, wcap;
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
	return q;
}

void gw_flightq_free(struct gw_flightq *q)
{
	if (!q)
		return;
	free(q->codes.name);
	free(q->codes.hash);
	free(q->q);
	free(q->w);
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

/* Fills f from r of meter m; returns 1 if it fits a record, 0 if it goes
 * whole (counted in *full or *other), GW_ENOMEM. */
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

int gw_flightq_push(struct gw_flightq *q, int m, const struct gw_reading *r,
		    size_t n)
{
	unsigned long full = 0, other = 0;
	size_t qn0, whole = 0;

	if (make_room((void **)&q->q, sizeof(*q->q), &q->qhead, &q->qn, &q->qcap, n))
		return GW_ENOMEM;
	qn0 = q->qn;
	for (size_t i = 0; i < n; i++) {
		struct gw_flight *f = &q->q[q->qn];
		int rc = pack(q, m, &r[i], f, &full, &other);
		if (rc == 0) {
			rc = make_room((void **)&q->w, sizeof(*q->w), &q->whead,
				       &q->wn, &q->wcap, 1);
			if (rc == 0) {
				q->w[q->wn++] = r[i];
				whole++;
				memset(f, 0, sizeof(*f));
				f->meter = GW_FLIGHT_WHOLE;
			}
		}
		if (rc < 0) {
			/* none of them (the whole FIFO may have moved to its
			 * start since: its tail is what this call added) */
			q->qn = qn0;
			q->wn -= whole;
			return GW_ENOMEM;
		}
		q->qn++;
	}
	q->counts.whole += whole;
	q->counts.codes_full += full;
	q->counts.other_id += other;
	return 0;
}

/* The reading record f stands for, into out. */
static void unpack(struct gw_flightq *q, const struct gw_flight *f,
		   struct gw_reading *out)
{
	if (f->meter == GW_FLIGHT_WHOLE) {
		*out = q->w[q->whead++];
		if (q->whead == q->wn)
			q->whead = q->wn = 0;
		return;
	}
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
	size_t n = q->qn - q->qhead;

	if (n > max)
		n = max;
	for (size_t i = 0; i < n; i++)
		unpack(q, &q->q[q->qhead + i], &out[i]);
	q->qhead += n;
	if (q->qhead == q->qn)
		q->qhead = q->qn = 0;
	return n;
}

size_t gw_flightq_len(const struct gw_flightq *q)
{
	return q->qn - q->qhead;
}

void gw_flightq_counts(const struct gw_flightq *q, struct gw_flight_counts *out)
{
	*out = q->counts;
	out->codes = q->codes.n;
}
