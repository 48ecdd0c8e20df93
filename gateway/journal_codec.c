/* SPDX-License-Identifier: MIT */
/*
 * journal_codec.c - the journal's packed cycle records (segment version 2;
 * docs/spool-format.md, "Journal"): a poll cycle coded against what the
 * same segment held before it, so that a reading costs a few bytes on
 * flash instead of the 35 of a version-1 record.
 *
 * Both sides keep the same state for a segment: the series seen in it (a
 * meter id and an OBIS code, with the last time, value, scale, unit and
 * status written for it), numbered in the order they first appeared (the
 * writer, which keeps it all day for every bus, in 8 bytes a series: a
 * meter's series in runs that hold their meter, the base of their times
 * and a layout of their OBIS codes, scales and units that the runs of a
 * profile's meters share, what does not fit in escape slots,
 * journal_int.h; the reader spelt out, for one segment). A
 * reading then names its series as "the one after the last" (the cycle
 * has the same meters in the same order as the one before: nearly free),
 * by a jump in that numbering (a meter that did not answer), or as a new
 * series spelt out (the first cycle of a segment, a meter added). Its
 * value goes as the difference to the series' last value, its time as the
 * difference to the time the series' last time predicts (the previous
 * reading's shift from its own last time, so that a poll that started
 * late costs once per cycle, not once per reading). The body is deflated
 * when that makes it smaller.
 *
 * A record is decodable from the segment's start alone: the writer starts
 * the state afresh with each segment and after any failed append (the
 * next record carries the "fresh" flag, and the reader starts afresh
 * there too), so no acknowledged record ever depends on bytes that are
 * not in the segment before it. The reader checks every count and index
 * against what it has and refuses a record that does not fit (it is then
 * cut like a torn one).
 *
 * The version-1 cycle record (what gateways before version 2 wrote) is
 * here too, for the reader of old segments and for tests and benches.
 */
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "bytes.h"
#include "journal_int.h"

/* Tag byte of a packed reading: how its series is named (bits 0-1),
 * and which fields follow (bits 2-4). Bits 5-7 are 0. */
enum {
	TAG_NEXT = 0,   /* the series after the previous reading's */
	TAG_JUMP = 1,   /* zigzag varint: series - (previous + 1) */
	TAG_NEW = 2,    /* meter ref, OBIS ref: varint, 0 = spelt out (str8) */
	TAG_KEY_MASK = 3,
	TAG_ATTR = 1 << 2, /* scale, unit, status (3 bytes) differ */
	TAG_TS = 1 << 3,   /* zigzag varint: time - predicted time */
	TAG_VAL = 1 << 4,  /* zigzag varint: value - series' last value */
	TAG_SPARE = 0xe0,
};

/* Record flags (second payload byte). */
enum {
	PK_FRESH = 1,   /* the reader forgets the segment's series first */
	PK_DEFLATE = 2, /* varint raw length, then a zlib stream */
	PK_SPARE = 0xfc,
};

/* Deflate cannot make data smaller than 1/1032; a raw length claiming
 * more is a lie, refused before anything is allocated for it. */
#define INFLATE_RATIO 1040u

/* ---- state ---- */

_Static_assert(sizeof(struct gw_jseries) == 8, "a writer's series is 8 bytes");
/* a slot's index (below the series' count) fits a time word's 23 bits */
_Static_assert(GW_JOURNAL_SERIES_MAX <= 1u << 23, "slot indexes fit a word");
/* a layout's index (below the runs' count) is never GW_JLAY_OPEN */
_Static_assert(GW_JOURNAL_SERIES_MAX < GW_JLAY_OPEN, "layout indexes fit");

/* A time word's difference to its run's base is within +-TW_LIM ms. */
#define TW_LIM (INT64_C(1) << 22)

static uint32_t hash_str(const char *s)
{
	return gw_hash_str(GW_HASH_INIT, s);
}

/* Frees every layout: the interned ones (along the hash's chains: a
 * free place of the table holds no layout) and the open one. */
static void layouts_free(struct gw_jcodec *c)
{
	for (uint32_t h = 0; h < c->lhcap; h++) {
		for (uint32_t k = c->lhash[h]; k;) {
			struct gw_jlayout *l = c->lay[k - 1].l;
			k = l->hnext;
			free(l);
		}
		c->lhash[h] = 0;
	}
	free(c->open);
	c->open = NULL;
	c->nlay = 0;
	c->lfree = 0;
	c->llive = 0;
}

void gw_jcodec_reset(struct gw_jcodec *c)
{
	layouts_free(c);
	c->ns = 0;
	c->nr = 0;
	c->nesc = 0;
	c->efree = 0;
	c->elive = 0;
	c->nm = 0;
	c->no = 0;
	c->alen = 0;
	c->fresh = 1;
	if (c->mhash)
		memset(c->mhash, 0, c->mhcap * sizeof(*c->mhash));
	if (c->ohash)
		memset(c->ohash, 0, c->ohcap * sizeof(*c->ohash));
}

void gw_jcodec_free(struct gw_jcodec *c)
{
	if (!c)
		return;
	layouts_free(c);
	free(c->lay);
	free(c->lhash);
	free(c->s);
	free(c->rs);
	free(c->run);
	free(c->esc);
	free(c->arena);
	free(c->meter);
	free(c->obis);
	free(c->mhash);
	free(c->ohash);
	free(c->raw);
	if (c->zin) {
		inflateEnd(c->zin);
		free(c->zin);
	}
	memset(c, 0, sizeof(*c));
	c->fresh = 1;
}

/* Grows an array of elements of size `sz` to hold `need`: by half again,
 * not double (the writer trims it to fit after the record anyway; the
 * reader's lives for one segment). 0 or -1. */
static int grow(void *pp, uint32_t *cap, uint32_t need, size_t sz)
{
	void **p = pp;

	if (need <= *cap)
		return 0;
	uint64_t ncap = (uint64_t)*cap + *cap / 2;
	if (ncap < 16)
		ncap = 16;
	if (ncap < need)
		ncap = need;
	if (ncap > UINT32_MAX)
		ncap = UINT32_MAX;
	void *np = realloc(*p, (size_t)ncap * sz);
	if (!np)
		return -1;
	*p = np;
	*cap = (uint32_t)ncap;
	return 0;
}

/* Shrinks an array of `n` elements of size `sz` to hold n exactly. A
 * failed shrink keeps the larger array, which is still good. */
static void fit(void *pp, uint32_t *cap, uint32_t n, size_t sz)
{
	void **p = pp;

	if (n == 0 || n >= *cap)
		return;
	void *np = realloc(*p, (size_t)n * sz);
	if (np) {
		*p = np;
		*cap = n;
	}
}

/* Adds a NUL-terminated name of len bytes to the arena; its offset in
 * *off. 0 or -1. */
static int arena_add(struct gw_jcodec *c, const char *name, size_t len,
		     uint32_t *off)
{
	if ((uint64_t)c->alen + len + 1 > UINT32_MAX ||
	    grow(&c->arena, &c->acap, c->alen + (uint32_t)len + 1, 1))
		return -1;
	memcpy(c->arena + c->alen, name, len);
	c->arena[c->alen + len] = '\0';
	*off = c->alen;
	c->alen += (uint32_t)len + 1;
	return 0;
}

/* Puts entry i of names into a hash table that has room for it. */
static void hash_put(const struct gw_jcodec *c, uint32_t *tab, uint32_t cap,
		     const struct gw_jname *names, uint32_t i)
{
	uint32_t h = hash_str(c->arena + names[i].off) & (cap - 1);

	while (tab[h])
		h = (h + 1) & (cap - 1);
	tab[h] = i + 1;
}

/* The writer's hash tables of names hold index + 1 (0: empty), at most
 * half full. Puts the last of the n names into *tab, rebuilt larger
 * first when it would pass that. 0 or -1. */
static int hash_add(const struct gw_jcodec *c, uint32_t **tab, uint32_t *cap,
		    const struct gw_jname *names, uint32_t n)
{
	uint32_t ncap = *cap ? *cap : 16;

	while (ncap / 2 < n) {
		if (ncap > UINT32_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (ncap != *cap || !*tab) {
		uint32_t *nt = calloc(ncap, sizeof(*nt));
		if (!nt)
			return -1;
		free(*tab);
		*tab = nt;
		*cap = ncap;
		for (uint32_t k = 0; k + 1 < n; k++)
			hash_put(c, nt, ncap, names, k);
	}
	hash_put(c, *tab, *cap, names, n - 1);
	return 0;
}

/* Index of name among the names (through the hash), or -1. */
static int64_t find_name(const struct gw_jcodec *c, const uint32_t *tab,
			 uint32_t cap, const struct gw_jname *names,
			 const char *name)
{
	if (!tab)
		return -1;
	for (uint32_t h = hash_str(name) & (cap - 1); tab[h]; h = (h + 1) & (cap - 1))
		if (strcmp(c->arena + names[tab[h] - 1].off, name) == 0)
			return tab[h] - 1;
	return -1;
}

/* The time word of a writer's series (struct gw_jseries). */
static uint32_t tw_get(const struct gw_jseries *s)
{
	return s->tw[0] | (uint32_t)s->tw[1] << 8 | (uint32_t)s->tw[2] << 16;
}

static void tw_set(struct gw_jseries *s, uint32_t w)
{
	s->tw[0] = (uint8_t)w;
	s->tw[1] = (uint8_t)(w >> 8);
	s->tw[2] = (uint8_t)(w >> 16);
}

/* Whether a time d ms from its run's base fits a time word. */
static int tw_fits(int64_t d)
{
	return d >= -TW_LIM && d < TW_LIM;
}

/* Where run r ends: the next run's first series, or after the last. */
static uint32_t run_end(const struct gw_jcodec *c, uint32_t r)
{
	return r + 1 < c->nr ? c->run[r + 1].first : c->ns;
}

/* The run of series cand, the one after a series of run r (r is
 * UINT32_MAX before the first series): r, or the run after it. */
static uint32_t next_run(const struct gw_jcodec *c, uint32_t r, uint32_t cand)
{
	uint32_t n = r + 1;

	return n < c->nr && c->run[n].first <= cand ? n : r;
}

/* Run r's layout (borrowed). */
static const struct gw_jlayout *run_layout(const struct gw_jcodec *c, uint32_t r)
{
	uint32_t k = c->run[r].layout;

	return k == GW_JLAY_OPEN ? c->open : c->lay[k].l;
}

/* The layout entry (OBIS index, scale, unit) of series i of run r. */
static const struct gw_jlent *series_ent(const struct gw_jcodec *c, uint32_t r,
					 uint32_t i)
{
	return &run_layout(c, r)->e[i - c->run[r].first];
}

/* Takes an escape slot: its index, or -1 when out of memory. */
static int64_t esc_take(struct gw_jcodec *c)
{
	uint32_t k;

	if (c->efree) {
		k = c->efree - 1;
		c->efree = c->esc[k].next;
	} else {
		if (grow(&c->esc, &c->ecap, c->nesc + 1, sizeof(*c->esc)))
			return -1;
		k = c->nesc++;
	}
	c->elive++;
	return k;
}

static void esc_give(struct gw_jcodec *c, uint32_t k)
{
	c->esc[k].next = c->efree;
	c->efree = k + 1;
	if (--c->elive == 0)
		c->nesc = c->efree = 0; /* all free: the slots start over */
}

/* What the writer last wrote of a series: what the next reading of it
 * is coded against (all 0 for a new series). */
struct sstate {
	int64_t ts, value;
	int8_t scale;
	uint8_t unit, status;
};

/* Series i, its layout entry le, its run's base being `base`, into *st. */
static inline void get_state(const struct gw_jcodec *c, const struct gw_jlent *le,
			     int64_t base, uint32_t i, struct sstate *st)
{
	const struct gw_jseries *s = &c->s[i];
	uint32_t w = tw_get(s);

	st->status = s->status;
	if (w & 1) {
		const struct gw_jesc *e = &c->esc[w >> 1];
		st->ts = e->ts;
		st->value = e->value;
		st->scale = e->scale;
		st->unit = e->unit;
		return;
	}
	int64_t d = w >> 1;
	st->ts = gw_wrap_add(base, d >= TW_LIM ? d - 2 * TW_LIM : d);
	st->value = s->value;
	st->scale = le->scale;
	st->unit = le->unit;
}

/* Whether series i's time is too far from its run's base `base` for its
 * word (it is then in a slot; a series in a slot for its value, scale or
 * unit alone is not far). */
static int series_far(const struct gw_jcodec *c, int64_t base, uint32_t i)
{
	uint32_t w = tw_get(&c->s[i]);

	return (w & 1) && !tw_fits(gw_wrap_sub(c->esc[w >> 1].ts, base));
}

/* Puts *st as series i (its layout entry le), its time counted from
 * base: in the series when its time fits the word, its value 32 bits and
 * its scale and unit are its layout's, else in an escape slot (given
 * back when it fits again). 0 or -1 (out of memory). */
static int put_state(struct gw_jcodec *c, const struct gw_jlent *le,
		     int64_t base, uint32_t i, const struct sstate *st)
{
	struct gw_jseries *s = &c->s[i];
	uint32_t w = tw_get(s);
	int64_t d = gw_wrap_sub(st->ts, base);

	s->status = st->status;
	if (!tw_fits(d) || st->value < INT32_MIN || st->value > INT32_MAX ||
	    st->scale != le->scale || st->unit != le->unit) {
		int64_t k = w & 1 ? (int64_t)(w >> 1) : esc_take(c);
		if (k < 0)
			return -1;
		c->esc[k] = (struct gw_jesc){.ts = st->ts, .value = st->value,
					     .scale = st->scale, .unit = st->unit};
		tw_set(s, (uint32_t)k << 1 | 1);
		return 0;
	}
	if (w & 1)
		esc_give(c, w >> 1);
	s->value = (int32_t)st->value;
	tw_set(s, (uint32_t)(d & (2 * TW_LIM - 1)) << 1);
	return 0;
}

/* Sets series i (of run r, its layout entry le) to *st. A time far from
 * the run's base moves the base to it when the series was near it (its
 * meter's cycle moved on: the run's other series follow as they are
 * read) or when most of the run's times are in slots already; the run's
 * other series are then put against the new base. A move costs the
 * run's length, so it waits until half as many readings of the run were
 * coded since the last (what a meter's poll gives at once): a run moves
 * its base about once an hour of its meter's polls, never more than
 * twice a length of readings, and a series whose times stay far from its
 * meter's others keeps a slot. 0 or -1 (out of memory). */
static int set_state(struct gw_jcodec *c, uint32_t r, uint32_t i,
		     const struct gw_jlent *le, const struct sstate *st)
{
	struct gw_jrun *ru = &c->run[r];
	struct gw_jseries *s = &c->s[i];
	uint32_t len = run_end(c, r) - ru->first;
	int64_t d = gw_wrap_sub(st->ts, ru->base);

	if (ru->credit < len)
		ru->credit++;
	if (tw_fits(d) && !(s->tw[0] & 1) && st->value >= INT32_MIN &&
	    st->value <= INT32_MAX && st->scale == le->scale &&
	    st->unit == le->unit) {
		/* the usual reading: in its word before and after (what
		 * put_state would do, without its checks) */
		s->value = (int32_t)st->value;
		s->status = st->status;
		tw_set(s, (uint32_t)(d & (2 * TW_LIM - 1)) << 1);
		return 0;
	}
	int far = !tw_fits(d);
	int was = series_far(c, ru->base, i);
	if (far && 2 * (uint64_t)ru->credit >= len &&
	    (!was || 2 * (uint64_t)ru->nfar > len)) {
		int64_t old = ru->base;
		const struct gw_jlent *e = run_layout(c, r)->e;
		struct sstate o;
		ru->nfar = 0;
		for (uint32_t j = ru->first; j < ru->first + len; j++) {
			if (j == i)
				continue;
			get_state(c, &e[j - ru->first], old, j, &o);
			if (put_state(c, &e[j - ru->first], st->ts, j, &o))
				return -1;
			ru->nfar += !tw_fits(gw_wrap_sub(o.ts, st->ts));
		}
		ru->base = st->ts;
		ru->credit = 0;
		far = was = 0;
	}
	ru->nfar = (uint32_t)((int64_t)ru->nfar + far - was);
	return put_state(c, le, ru->base, i, st);
}

/* ---- layouts ---- */

static uint32_t hash_ents(const struct gw_jlent *e, uint32_t n)
{
	uint32_t h = GW_HASH_INIT;

	for (uint32_t k = 0; k < n; k++) {
		h = (h ^ e[k].obis) * 16777619u;
		h = (h ^ (uint8_t)e[k].scale ^ (uint32_t)e[k].unit << 8) * 16777619u;
	}
	return h;
}

static int ents_equal(const struct gw_jlent *a, const struct gw_jlent *b,
		      uint32_t n)
{
	for (uint32_t k = 0; k < n; k++)
		if (a[k].obis != b[k].obis || a[k].scale != b[k].scale ||
		    a[k].unit != b[k].unit)
			return 0;
	return 1;
}

/* Puts layout k at the head of its hash bucket. */
static void lay_link(struct gw_jcodec *c, uint32_t k)
{
	struct gw_jlayout *l = c->lay[k].l;
	uint32_t *head = &c->lhash[l->hash & (c->lhcap - 1)];

	l->hnext = *head;
	*head = k + 1;
}

/* Takes layout k out of its hash bucket. */
static void lay_unlink(struct gw_jcodec *c, uint32_t k)
{
	uint32_t *p = &c->lhash[c->lay[k].l->hash & (c->lhcap - 1)];

	while (*p != k + 1)
		p = &c->lay[*p - 1].l->hnext;
	*p = c->lay[k].l->hnext;
}

/* Makes the hash's buckets at least `need` (a power of two, at least
 * 16), moving the layouts over. 0 or -1. */
static int lay_rehash(struct gw_jcodec *c, uint32_t need)
{
	uint32_t ncap = c->lhcap ? c->lhcap : 16, ocap = c->lhcap;
	uint32_t *old = c->lhash;

	while (ncap < need) {
		if (ncap > UINT32_MAX / 2)
			return -1;
		ncap *= 2;
	}
	if (ncap == ocap)
		return 0;
	uint32_t *nt = calloc(ncap, sizeof(*nt));
	if (!nt)
		return -1;
	c->lhash = nt;
	c->lhcap = ncap;
	for (uint32_t h = 0; h < ocap; h++)
		for (uint32_t k = old[h]; k;) {
			uint32_t next = c->lay[k - 1].l->hnext;
			lay_link(c, k - 1);
			k = next;
		}
	free(old);
	return 0;
}

/* Interns run r's layout if it is the open one: an equal layout already
 * interned is shared (the open one freed), else the open one is trimmed
 * and entered. 0 or -1 (out of memory). */
static int lay_intern(struct gw_jcodec *c, uint32_t r)
{
	struct gw_jlayout *l = c->open;
	uint32_t k;

	if (c->run[r].layout != GW_JLAY_OPEN)
		return 0;
	uint32_t h = hash_ents(l->e, l->n);
	for (k = c->lhcap ? c->lhash[h & (c->lhcap - 1)] : 0; k;
	     k = c->lay[k - 1].l->hnext) {
		struct gw_jlayout *x = c->lay[k - 1].l;
		if (x->hash == h && x->n == l->n && ents_equal(x->e, l->e, l->n)) {
			x->refs++;
			free(l);
			c->open = NULL;
			c->run[r].layout = k - 1;
			return 0;
		}
	}
	if (lay_rehash(c, c->llive + 1))
		return -1;
	if (c->lfree) {
		k = c->lfree - 1;
		c->lfree = c->lay[k].next;
	} else {
		if (grow(&c->lay, &c->lcap, c->nlay + 1, sizeof(*c->lay)))
			return -1;
		k = c->nlay++;
	}
	struct gw_jlayout *fl = realloc(l, sizeof(*l) + (size_t)l->n * sizeof(l->e[0]));
	if (fl) {
		l = fl;
		l->cap = l->n;
	}
	l->refs = 1;
	l->hash = h;
	c->lay[k].l = l;
	lay_link(c, k);
	c->llive++;
	c->open = NULL;
	c->run[r].layout = k;
	return 0;
}

/* Makes run r's layout the open one, to add to: the interned one itself
 * (taken out of the hash) when no other run has it, else a copy. 0 or
 * -1. */
static int lay_open(struct gw_jcodec *c, uint32_t r)
{
	uint32_t k = c->run[r].layout;

	if (k == GW_JLAY_OPEN)
		return 0;
	struct gw_jlayout *l = c->lay[k].l;
	if (l->refs == 1) {
		lay_unlink(c, k);
		c->lay[k].next = c->lfree;
		c->lfree = k + 1;
		if (--c->llive == 0)
			c->nlay = c->lfree = 0; /* all free: the places start over */
	} else {
		size_t sz = sizeof(*l) + (size_t)l->n * sizeof(l->e[0]);
		struct gw_jlayout *cp = malloc(sz);
		if (!cp)
			return -1;
		memcpy(cp, l, sz);
		cp->refs = 1;
		cp->cap = cp->n;
		l->refs--;
		l = cp;
	}
	c->open = l;
	c->run[r].layout = GW_JLAY_OPEN;
	return 0;
}

/* Appends an entry to the open layout (made when there is none). 0 or
 * -1. */
static int lay_push(struct gw_jcodec *c, uint32_t o, int8_t scale, uint8_t unit)
{
	struct gw_jlayout *l = c->open;
	uint32_t n = l ? l->n : 0;

	if (!l || n == l->cap) {
		uint32_t cap = n + n / 2 < 8 ? 8 : n + n / 2;
		struct gw_jlayout *nl = realloc(l, sizeof(*nl) + (size_t)cap * sizeof(nl->e[0]));
		if (!nl)
			return -1;
		if (!l)
			*nl = (struct gw_jlayout){.refs = 1};
		nl->cap = cap;
		c->open = l = nl;
	}
	l->e[l->n++] = (struct gw_jlent){.obis = o, .scale = scale, .unit = unit};
	return 0;
}

/* The writer's series of meter m and OBIS code o, or -1, along m's runs
 * (as long as the meter has registers in the segment); *r its run. */
static int64_t find_series(const struct gw_jcodec *c, uint32_t m, uint32_t o,
			   uint32_t *r)
{
	for (uint32_t k = c->meter[m].last; k; k = c->run[k - 1].prev) {
		const struct gw_jlayout *l = run_layout(c, k - 1);
		for (uint32_t j = 0; j < l->n; j++)
			if (l->e[j].obis == o) {
				*r = k - 1;
				return c->run[k - 1].first + j;
			}
	}
	return -1;
}

/* Appends a name to a table (meters or OBIS codes): n names; the writer
 * also enters it in its hash. Returns its index or -1. */
static int64_t add_name(struct gw_jcodec *c, struct gw_jname **names,
			uint32_t *n, uint32_t *cap, const char *name, size_t len,
			uint32_t **tab, uint32_t *tcap)
{
	uint32_t off;

	if (grow(names, cap, *n + 1, sizeof(**names)) ||
	    arena_add(c, name, len, &off))
		return -1;
	(*names)[*n] = (struct gw_jname){.off = off};
	(*n)++;
	if (c->writer && hash_add(c, tab, tcap, *names, *n))
		return -1;
	return *n - 1;
}

/* Appends a writer's series of meter m and OBIS code o, reading rd its
 * first (its scale and unit go to the layout, its time is a new run's
 * base), to the last run when that is m's (its layout opened), else to a
 * new one (the last run's layout interned first); *r its run. Its index
 * or -1. */
static int64_t add_series(struct gw_jcodec *c, uint32_t m, uint32_t o,
			  const struct gw_reading *rd, uint32_t *r)
{
	if (c->ns >= GW_JOURNAL_SERIES_MAX ||
	    grow(&c->s, &c->scap, c->ns + 1, sizeof(*c->s)))
		return -1;
	if (!c->nr || c->run[c->nr - 1].meter != m) {
		if ((c->nr && lay_intern(c, c->nr - 1)) ||
		    grow(&c->run, &c->rcap, c->nr + 1, sizeof(*c->run)))
			return -1;
		c->run[c->nr] = (struct gw_jrun){.base = rd->ts_ms, .first = c->ns,
						 .meter = m, .prev = c->meter[m].last,
						 .layout = GW_JLAY_OPEN};
		c->meter[m].last = ++c->nr;
	} else if (lay_open(c, c->nr - 1)) {
		return -1;
	}
	if (lay_push(c, o, rd->scale, rd->unit))
		return -1;
	c->s[c->ns] = (struct gw_jseries){0};
	*r = c->nr - 1;
	return c->ns++;
}

/* Appends a reader's series. Its index or -1. */
static int64_t add_rseries(struct gw_jcodec *c, uint32_t m, uint32_t o)
{
	if (c->ns >= GW_JOURNAL_SERIES_MAX ||
	    grow(&c->rs, &c->scap, c->ns + 1, sizeof(*c->rs)))
		return -1;
	c->rs[c->ns] = (struct gw_jrseries){.meter = m, .obis = o};
	return c->ns++;
}

/* The writer's arrays trimmed to what they hold: a bus keeps its series'
 * size between records, not the growth's slack. */
static void fit_all(struct gw_jcodec *c)
{
	fit(&c->s, &c->scap, c->ns, sizeof(*c->s));
	fit(&c->run, &c->rcap, c->nr, sizeof(*c->run));
	if (c->nesc) {
		fit(&c->esc, &c->ecap, c->nesc, sizeof(*c->esc));
	} else {
		free(c->esc); /* the slots a cycle took are all given back */
		c->esc = NULL;
		c->ecap = 0;
	}
	fit(&c->lay, &c->lcap, c->nlay, sizeof(*c->lay));
	fit(&c->meter, &c->mcap, c->nm, sizeof(*c->meter));
	fit(&c->obis, &c->ocap, c->no, sizeof(*c->obis));
	fit(&c->arena, &c->acap, c->alen, 1);
}

/* ---- writing ---- */

static void put_str8(struct gw_wbuf *b, const char *s)
{
	size_t n = strlen(s);

	gw_wbuf_u8(b, (uint8_t)n);
	gw_wbuf_put(b, s, n);
}

/* Names reading rd's series in the body: NEXT (cand, the series after
 * the previous reading's, of run *r), JUMP or NEW. Returns the series'
 * index, its run in *r, or -1 when out of memory. */
static int64_t put_key(struct gw_jcodec *c, struct gw_wbuf *b, uint8_t *tag,
		       int64_t cand, uint32_t *r, const struct gw_reading *rd)
{
	if (cand < c->ns) {
		uint32_t cr = next_run(c, *r, (uint32_t)cand);
		if (strcmp(c->arena + c->meter[c->run[cr].meter].off, rd->meter_id) == 0 &&
		    strcmp(c->arena + c->obis[series_ent(c, cr, (uint32_t)cand)->obis].off,
			   rd->obis) == 0) {
			*tag = TAG_NEXT;
			*r = cr;
			return cand;
		}
	}
	int64_t m = find_name(c, c->mhash, c->mhcap, c->meter, rd->meter_id);
	int64_t o = find_name(c, c->ohash, c->ohcap, c->obis, rd->obis);
	int64_t idx = m >= 0 && o >= 0 ? find_series(c, (uint32_t)m, (uint32_t)o, r) : -1;
	if (idx >= 0) {
		*tag = TAG_JUMP;
		gw_wbuf_varint(b, gw_zigzag(idx - cand));
		return idx;
	}
	*tag = TAG_NEW;
	gw_wbuf_varint(b, m >= 0 ? (uint64_t)m + 1 : 0);
	if (m < 0) {
		put_str8(b, rd->meter_id);
		m = add_name(c, &c->meter, &c->nm, &c->mcap, rd->meter_id,
			     strlen(rd->meter_id), &c->mhash, &c->mhcap);
	}
	gw_wbuf_varint(b, o >= 0 ? (uint64_t)o + 1 : 0);
	if (o < 0) {
		put_str8(b, rd->obis);
		o = add_name(c, &c->obis, &c->no, &c->ocap, rd->obis,
			     strlen(rd->obis), &c->ohash, &c->ohcap);
	}
	if (m < 0 || o < 0)
		return -1;
	return add_series(c, (uint32_t)m, (uint32_t)o, rd, r);
}

/* Where the body's coding stands between two chunks of readings. */
struct body_at {
	int64_t last, shift, last_ts;
	uint32_t run; /* last's run (UINT32_MAX before the first reading) */
};

/* The body: one tagged reading after another, the n readings r after
 * those coded from *at before. The tag goes first into its place, the
 * fields after it. Returns 0 or GW_ENOMEM. */
static int put_body(struct gw_jcodec *c, struct body_at *pos,
		    const struct gw_reading *r, size_t n, struct gw_wbuf *b)
{
	int64_t last = pos->last, shift = pos->shift, last_ts = pos->last_ts;
	uint32_t run = pos->run;

	for (size_t i = 0; i < n; i++) {
		size_t at = b->n;
		uint8_t tag = 0;
		gw_wbuf_u8(b, 0);
		int64_t idx = put_key(c, b, &tag, last + 1, &run, &r[i]);
		if (idx < 0 || b->oom)
			return GW_ENOMEM;
		int isnew = (tag & TAG_KEY_MASK) == TAG_NEW;
		const struct gw_jlent *le = series_ent(c, run, (uint32_t)idx);
		struct sstate st = {0};
		if (!isnew)
			get_state(c, le, c->run[run].base, (uint32_t)idx, &st);
		if (r[i].scale != st.scale || r[i].unit != st.unit ||
		    r[i].status != st.status) {
			tag |= TAG_ATTR;
			gw_wbuf_u8(b, (uint8_t)r[i].scale);
			gw_wbuf_u8(b, r[i].unit);
			gw_wbuf_u8(b, r[i].status);
		}
		int64_t pred = isnew ? last_ts : gw_wrap_add(st.ts, shift);
		int64_t dts = gw_wrap_sub(r[i].ts_ms, pred);
		if (dts) {
			tag |= TAG_TS;
			gw_wbuf_varint(b, gw_zigzag(dts));
		}
		int64_t dv = gw_wrap_sub(r[i].value, st.value);
		if (dv) {
			tag |= TAG_VAL;
			gw_wbuf_varint(b, gw_zigzag(dv));
		}
		if (b->oom)
			return GW_ENOMEM;
		b->p[at] = tag;
		if (!isnew)
			shift = gw_wrap_sub(r[i].ts_ms, st.ts);
		st = (struct sstate){.ts = r[i].ts_ms, .value = r[i].value,
				     .scale = r[i].scale, .unit = r[i].unit,
				     .status = r[i].status};
		if (set_state(c, run, (uint32_t)idx, le, &st))
			return GW_ENOMEM;
		last = idx;
		last_ts = r[i].ts_ms;
	}
	*pos = (struct body_at){.last = last, .shift = shift, .last_ts = last_ts,
				.run = run};
	return 0;
}

size_t gw_reading_array_read(void *ctx, size_t from, struct gw_reading *out,
			     size_t max)
{
	const struct gw_reading_array *a = ctx;

	memcpy(out, a->r + from, max * sizeof(*out));
	return max;
}

int gw_jcodec_encode(struct gw_jcodec *c, int bus, const struct gw_reading *r,
		     size_t n, struct gw_wbuf *out)
{
	struct gw_reading_array a = {.r = r};
	struct gw_reading_src src = {.n = n, .read = gw_reading_array_read, .ctx = &a};

	return gw_jcodec_encode_src(c, bus, &src, out);
}

long gw_reading_src_chunk(const struct gw_reading_src *src, size_t from,
			  struct gw_reading *chunk)
{
	size_t want = from >= src->n ? 0 : src->n - from;

	if (want > GW_JOURNAL_CHUNK)
		want = GW_JOURNAL_CHUNK;
	if (want && src->read(src->ctx, from, chunk, want) != want)
		return -1;
	return (long)want;
}

/* The body of src's readings, a chunk at a time. 0, GW_EINVAL (src gave
 * fewer than it said) or GW_ENOMEM. */
static int put_body_src(struct gw_jcodec *c, const struct gw_reading_src *src,
			struct gw_wbuf *b)
{
	struct gw_reading chunk[GW_JOURNAL_CHUNK];
	struct body_at at = {.last = -1, .run = UINT32_MAX};
	long k;

	for (size_t from = 0; (k = gw_reading_src_chunk(src, from, chunk)) > 0;
	     from += (size_t)k) {
		int rc = put_body(c, &at, chunk, (size_t)k, b);
		if (rc)
			return rc;
	}
	return k < 0 ? GW_EINVAL : 0;
}

/* The deflate streams the writers share. A stream at level 6 holds
 * about 268 kB (its window, hash chains and pending buffer): compress2
 * took that and gave it back for every record, and with a poll worker a
 * bus, as many were live at once as workers were in the middle of one
 * (2.3 MB at 50 buses, 10,000 meters, counted by site), which the
 * allocator then kept as free memory of the workers' arenas. These
 * JZ_STREAMS streams, made when first needed, reset between records
 * (deflateReset, then one deflate with Z_FINISH: the bytes one deflate of
 * the whole body at the same level and strategy makes, as compress2 at
 * level 6 made them before Z_RLE) and kept for the process's life, are
 * all there are: a writer that finds none free waits for one (a bus's
 * record takes well under a millisecond to deflate; two cores run two at
 * once). */
#define JZ_STREAMS 2

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	unsigned busy; /* bit i: stream i taken */
	int level, strategy; /* what records are deflated with (by mu) */
	int made[JZ_STREAMS]; /* by the stream's holder only */
	int zl[JZ_STREAMS], zst[JZ_STREAMS]; /* the stream's level, strategy */
	z_stream zs[JZ_STREAMS];
} jz = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER,
	.level = GW_JOURNAL_ZLEVEL, .strategy = GW_JOURNAL_ZSTRATEGY};

int gw_jcodec_set_deflate(int level, int strategy)
{
	if (level < 1 || level > 9 ||
	    (strategy != Z_DEFAULT_STRATEGY && strategy != Z_FILTERED &&
	     strategy != Z_HUFFMAN_ONLY && strategy != Z_RLE && strategy != Z_FIXED))
		return GW_EINVAL;
	pthread_mutex_lock(&jz.mu);
	jz.level = level;
	jz.strategy = strategy;
	pthread_mutex_unlock(&jz.mu);
	return 0;
}

/* Deflates in (n bytes) into out (cap bytes, compressBound(n)) as one
 * deflate at the writers' level and strategy would. Returns its length, 0
 * when it could not (no memory for a stream: the caller then stores the
 * body as it is). */
static size_t jz_deflate(const uint8_t *in, size_t n, uint8_t *out, size_t cap)
{
	unsigned i = 0;

	if (n > UINT_MAX || cap > UINT_MAX)
		return 0;
	pthread_mutex_lock(&jz.mu);
	for (;;) {
		for (i = 0; i < JZ_STREAMS && (jz.busy >> i & 1u); i++)
			;
		if (i < JZ_STREAMS)
			break;
		pthread_cond_wait(&jz.cv, &jz.mu);
	}
	jz.busy |= 1u << i;
	int level = jz.level, strategy = jz.strategy;
	pthread_mutex_unlock(&jz.mu);

	z_stream *s = &jz.zs[i];
	size_t len = 0;

	if (jz.made[i] && deflateReset(s) != Z_OK) {
		deflateEnd(s);
		jz.made[i] = 0;
	}
	if (!jz.made[i]) {
		memset(s, 0, sizeof(*s));
		jz.made[i] = deflateInit2(s, level, Z_DEFLATED, 15, 8, strategy) == Z_OK;
		jz.zl[i] = level;
		jz.zst[i] = strategy;
	}
	/* Another level for a stream just reset (no input yet): only the
	 * parameters change, nothing is flushed or allocated. */
	if (jz.made[i] && (jz.zl[i] != level || jz.zst[i] != strategy)) {
		if (deflateParams(s, level, strategy) == Z_OK) {
			jz.zl[i] = level;
			jz.zst[i] = strategy;
		} else {
			deflateEnd(s);
			jz.made[i] = 0;
		}
	}
	if (jz.made[i]) {
		s->next_in = (Bytef *)(uintptr_t)in;
		s->avail_in = (uInt)n;
		s->next_out = out;
		s->avail_out = (uInt)cap;
		if (deflate(s, Z_FINISH) == Z_STREAM_END)
			len = (size_t)s->total_out;
	}

	pthread_mutex_lock(&jz.mu);
	jz.busy &= ~(1u << i);
	pthread_cond_signal(&jz.cv);
	pthread_mutex_unlock(&jz.mu);
	return len;
}

int gw_jcodec_encode_src(struct gw_jcodec *c, int bus,
			 const struct gw_reading_src *src, struct gw_wbuf *out)
{
	struct gw_wbuf body = {0};
	uint8_t flags = 0;
	size_t n = src->n;

	if (n > GW_JOURNAL_CYCLE_MAX || bus < 0 || bus > 65535)
		return GW_EINVAL;
	c->writer = 1;
	if (c->ns + n > GW_JOURNAL_SERIES_MAX)
		c->fresh = 1; /* every reading could be a new series */
	if (c->fresh) {
		gw_jcodec_reset(c);
		flags |= PK_FRESH;
		c->fresh = 0;
	}
	int rc = put_body_src(c, src, &body);
	if (!rc && c->nr && lay_intern(c, c->nr - 1))
		rc = GW_ENOMEM; /* the last run's layout, open until now */
	if (rc) {
		free(body.p);
		gw_jcodec_reset(c);
		return rc;
	}
	/* Deflate when it pays: a cycle of a few meters is not worth a zlib
	 * header; a bus of hundreds is. */
	size_t clen = compressBound((uLong)body.n);
	uint8_t *z = body.n >= 64 ? malloc(clen) : NULL;
	if (z && (clen = jz_deflate(body.p, body.n, z, clen)) > 0 &&
	    clen + 4 < body.n)
		flags |= PK_DEFLATE;
	gw_wbuf_u8(out, GW_JREC_PACKED);
	gw_wbuf_u8(out, flags);
	gw_wbuf_varint(out, (uint64_t)bus);
	gw_wbuf_varint(out, n);
	if (flags & PK_DEFLATE) {
		gw_wbuf_varint(out, body.n);
		gw_wbuf_put(out, z, clen);
	} else {
		gw_wbuf_put(out, body.p, body.n);
	}
	free(z);
	free(body.p);
	if (out->oom) {
		gw_jcodec_reset(c);
		return GW_ENOMEM;
	}
	fit_all(c);
	return 0;
}

int gw_journal_v1_cycle(int bus, const struct gw_reading *r, size_t n,
			struct gw_wbuf *out)
{
	if (bus < 0 || bus > 65535 || n > UINT32_MAX)
		return GW_EINVAL;
	gw_wbuf_u8(out, GW_JREC_CYCLE);
	gw_wbuf_le(out, (uint64_t)bus, 2);
	gw_wbuf_le(out, n, 4);
	for (size_t i = 0; i < n; i++) {
		if (strlen(r[i].meter_id) > 255 || strlen(r[i].obis) > 255)
			return GW_EINVAL;
		put_str8(out, r[i].meter_id);
		put_str8(out, r[i].obis);
		gw_wbuf_le(out, (uint64_t)r[i].ts_ms, 8);
		gw_wbuf_le(out, (uint64_t)r[i].value, 8);
		gw_wbuf_u8(out, (uint8_t)r[i].scale);
		gw_wbuf_u8(out, r[i].unit);
		gw_wbuf_u8(out, r[i].status);
	}
	return out->oom ? GW_ENOMEM : 0;
}

/* ---- reading ---- */

/* Reads a table reference (varint, 0 = spelt out as str8 next). Returns
 * the index, -1 if it does not decode, -2 when out of memory. */
static int64_t get_ref(struct gw_jcodec *c, struct gw_rbuf *b, int meters)
{
	uint32_t n = meters ? c->nm : c->no;
	uint64_t ref = gw_rbuf_varint(b);

	if (b->bad || ref > n)
		return -1;
	if (ref)
		return (int64_t)ref - 1;
	size_t cap = meters ? GW_ID_MAX : GW_OBIS_MAX;
	if (b->pos >= b->n)
		return -1;
	size_t len = b->p[b->pos];
	if (len >= cap || len > b->n - b->pos - 1 ||
	    memchr(b->p + b->pos + 1, '\0', len))
		return -1;
	const char *name = (const char *)b->p + b->pos + 1;
	b->pos += 1 + len;
	int64_t i = meters ? add_name(c, &c->meter, &c->nm, &c->mcap, name, len,
				      NULL, NULL)
			   : add_name(c, &c->obis, &c->no, &c->ocap, name, len,
				      NULL, NULL);
	return i < 0 ? -2 : i;
}

/* Decodes one tagged reading into *rd. Returns 0, -1, -2 (as get_ref). */
static int get_reading(struct gw_jcodec *c, struct gw_rbuf *b, int64_t *last,
		       int64_t *shift, int64_t *last_ts, struct gw_reading *rd)
{
	uint8_t tag = (uint8_t)gw_rbuf_le(b, 1);
	int64_t idx, cand = *last + 1;

	if (b->bad || (tag & TAG_SPARE))
		return -1;
	switch (tag & TAG_KEY_MASK) {
	case TAG_NEXT:
		idx = cand;
		break;
	case TAG_JUMP:
		idx = gw_wrap_add(cand, gw_unzigzag(gw_rbuf_varint(b)));
		break;
	case TAG_NEW: {
		int64_t m = get_ref(c, b, 1);
		int64_t o = m < 0 ? m : get_ref(c, b, 0);
		if (o < 0)
			return (int)o;
		if (c->ns >= GW_JOURNAL_SERIES_MAX)
			return -1;
		idx = add_rseries(c, (uint32_t)m, (uint32_t)o);
		if (idx < 0)
			return -2;
		break;
	}
	default:
		return -1;
	}
	if (b->bad || idx < 0 || idx >= c->ns)
		return -1;
	struct gw_jrseries *s = &c->rs[idx];
	int isnew = (tag & TAG_KEY_MASK) == TAG_NEW;
	if (tag & TAG_ATTR) {
		s->scale = gw_to_i8((uint8_t)gw_rbuf_le(b, 1));
		s->unit = (uint8_t)gw_rbuf_le(b, 1);
		s->status = (uint8_t)gw_rbuf_le(b, 1);
	}
	int64_t pred = isnew ? *last_ts : gw_wrap_add(s->ts, *shift);
	int64_t ts = tag & TAG_TS ? gw_wrap_add(pred, gw_unzigzag(gw_rbuf_varint(b)))
				  : pred;
	if (tag & TAG_VAL)
		s->value = gw_wrap_add(s->value, gw_unzigzag(gw_rbuf_varint(b)));
	if (b->bad || s->unit >= GW_UNIT_COUNT_)
		return -1;
	if (!isnew)
		*shift = gw_wrap_sub(ts, s->ts);
	s->ts = ts;
	*last = idx;
	*last_ts = ts;
	const char *mid = c->arena + c->meter[s->meter].off;
	const char *ob = c->arena + c->obis[s->obis].off;
	memset(rd, 0, sizeof(*rd)); /* padding too: callers compare readings */
	memcpy(rd->meter_id, mid, strlen(mid));
	memcpy(rd->obis, ob, strlen(ob));
	rd->ts_ms = ts;
	rd->value = s->value;
	rd->scale = s->scale;
	rd->unit = s->unit;
	rd->status = s->status;
	return 0;
}

/* The body of a packed record, raw or inflated into c->raw. Returns 0,
 * -1 or -2 with *b set over it. */
static int get_body(struct gw_jcodec *c, struct gw_rbuf *r, uint8_t flags,
		    struct gw_rbuf *b)
{
	memset(b, 0, sizeof(*b));
	if (!(flags & PK_DEFLATE)) {
		b->p = r->p + r->pos;
		b->n = r->n - r->pos;
		return 0;
	}
	uint64_t raw = gw_rbuf_varint(r);
	size_t zlen = r->n - r->pos;
	if (r->bad || raw == 0 || raw > GW_JOURNAL_REC_MAX ||
	    raw > (uint64_t)zlen * INFLATE_RATIO)
		return -1;
	if (raw > c->rawcap) {
		uint8_t *nr = realloc(c->raw, (size_t)raw);
		if (!nr)
			return -2;
		c->raw = nr;
		c->rawcap = (size_t)raw;
	}
	/* one inflate stream for the whole segment: setting one up per
	 * record would cost more than inflating a bus's cycle */
	z_stream *z = c->zin;
	if (!z) {
		z = calloc(1, sizeof(*z));
		if (!z || inflateInit(z) != Z_OK) {
			free(z);
			return -2;
		}
		c->zin = z;
	} else if (inflateReset(z) != Z_OK) {
		return -1;
	}
	z->next_in = (Bytef *)(uintptr_t)(r->p + r->pos);
	z->avail_in = (uInt)zlen;
	z->next_out = c->raw;
	z->avail_out = (uInt)raw;
	int zrc = inflate(z, Z_FINISH);
	if (zrc == Z_MEM_ERROR)
		return -2;
	/* the stream ends exactly where the record and the body do */
	if (zrc != Z_STREAM_END || z->avail_out != 0 || z->avail_in != 0)
		return -1;
	b->p = c->raw;
	b->n = (size_t)raw;
	return 0;
}

int gw_jcodec_decode(struct gw_jcodec *c, const uint8_t *p, size_t len,
		     struct gw_jscan *sc, int *bus, size_t *n)
{
	struct gw_rbuf r = {.p = p, .n = len}, b;

	*n = 0;
	c->writer = 0;
	uint64_t type = gw_rbuf_le(&r, 1);
	uint8_t flags = (uint8_t)gw_rbuf_le(&r, 1);
	uint64_t bu = gw_rbuf_varint(&r);
	uint64_t cnt = gw_rbuf_varint(&r);
	if (r.bad || type != GW_JREC_PACKED || (flags & PK_SPARE) || bu > 65535 ||
	    cnt > GW_JOURNAL_CYCLE_MAX)
		return -1;
	if (flags & PK_FRESH)
		gw_jcodec_reset(c);
	int rc = get_body(c, &r, flags, &b);
	if (rc)
		return rc;
	if (cnt > b.n) /* every reading has its tag byte */
		return -1;
	if (cnt > sc->rcap) {
		struct gw_reading *nb = realloc(sc->rbuf, (size_t)cnt * sizeof(*nb));
		if (!nb)
			return -2;
		sc->rbuf = nb;
		sc->rcap = (size_t)cnt;
	}
	int64_t last = -1, shift = 0, last_ts = 0;
	for (uint64_t i = 0; i < cnt; i++)
		if ((rc = get_reading(c, &b, &last, &shift, &last_ts, &sc->rbuf[i])))
			return rc;
	if (b.pos != b.n)
		return -1;
	*bus = (int)bu;
	*n = (size_t)cnt;
	return 0;
}
