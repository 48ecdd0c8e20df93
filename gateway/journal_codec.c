/* SPDX-License-Identifier: MIT */
/*
 * journal_codec.c - the journal's packed cycle records (segment version 2;
 * docs/spool-format.md, "Journal"): a poll cycle coded against what the
 * same segment held before it, so that a reading costs a few bytes on
 * flash instead of the 35 of a version-1 record.
 *
 * Both sides keep the same state for a segment: the series seen in it (a
 * meter id and an OBIS code, with the last time, value, scale, unit and
 * status written for it), numbered in the order they first appeared. A
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

_Static_assert(sizeof(struct gw_jseries) == 32, "a series is 32 bytes");

static uint32_t hash_str(const char *s)
{
	return gw_hash_str(GW_HASH_INIT, s);
}

void gw_jcodec_reset(struct gw_jcodec *c)
{
	c->ns = 0;
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
	free(c->s);
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

/* The series of meter m and OBIS code o, or -1: along m's chain, which
 * is as long as the meter has registers in the segment. */
static int64_t find_series(const struct gw_jcodec *c, uint32_t m, uint32_t o)
{
	for (uint32_t k = c->meter[m].last; k; k = c->s[k - 1].prev)
		if (c->s[k - 1].obis == o)
			return k - 1;
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

static int64_t add_series(struct gw_jcodec *c, uint32_t m, uint32_t o)
{
	if (c->ns >= GW_JOURNAL_SERIES_MAX ||
	    grow(&c->s, &c->scap, c->ns + 1, sizeof(*c->s)))
		return -1;
	c->s[c->ns] = (struct gw_jseries){.meter = m, .obis = o,
					  .prev = c->meter[m].last};
	c->meter[m].last = ++c->ns;
	return c->ns - 1;
}

/* The writer's arrays trimmed to what they hold: a bus keeps its series'
 * size between records, not the growth's slack. */
static void fit_all(struct gw_jcodec *c)
{
	fit(&c->s, &c->scap, c->ns, sizeof(*c->s));
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

/* Names reading r's series in the body: NEXT, JUMP or NEW. Returns the
 * series' index, or -1 when out of memory. */
static int64_t put_key(struct gw_jcodec *c, struct gw_wbuf *b, uint8_t *tag,
		       int64_t cand, const struct gw_reading *r)
{
	if (cand < c->ns) {
		const struct gw_jseries *s = &c->s[cand];
		if (strcmp(c->arena + c->meter[s->meter].off, r->meter_id) == 0 &&
		    strcmp(c->arena + c->obis[s->obis].off, r->obis) == 0) {
			*tag = TAG_NEXT;
			return cand;
		}
	}
	int64_t m = find_name(c, c->mhash, c->mhcap, c->meter, r->meter_id);
	int64_t o = find_name(c, c->ohash, c->ohcap, c->obis, r->obis);
	int64_t idx = m >= 0 && o >= 0 ? find_series(c, (uint32_t)m, (uint32_t)o) : -1;
	if (idx >= 0) {
		*tag = TAG_JUMP;
		gw_wbuf_varint(b, gw_zigzag(idx - cand));
		return idx;
	}
	*tag = TAG_NEW;
	gw_wbuf_varint(b, m >= 0 ? (uint64_t)m + 1 : 0);
	if (m < 0) {
		put_str8(b, r->meter_id);
		m = add_name(c, &c->meter, &c->nm, &c->mcap, r->meter_id,
			     strlen(r->meter_id), &c->mhash, &c->mhcap);
	}
	gw_wbuf_varint(b, o >= 0 ? (uint64_t)o + 1 : 0);
	if (o < 0) {
		put_str8(b, r->obis);
		o = add_name(c, &c->obis, &c->no, &c->ocap, r->obis,
			     strlen(r->obis), &c->ohash, &c->ohcap);
	}
	if (m < 0 || o < 0)
		return -1;
	return add_series(c, (uint32_t)m, (uint32_t)o);
}

/* Where the body's coding stands between two chunks of readings. */
struct body_at {
	int64_t last, shift, last_ts;
};

/* The body: one tagged reading after another, the n readings r after
 * those coded from *at before. The tag goes first into its place, the
 * fields after it. Returns 0 or GW_ENOMEM. */
static int put_body(struct gw_jcodec *c, struct body_at *pos,
		    const struct gw_reading *r, size_t n, struct gw_wbuf *b)
{
	int64_t last = pos->last, shift = pos->shift, last_ts = pos->last_ts;

	for (size_t i = 0; i < n; i++) {
		size_t at = b->n;
		uint8_t tag = 0;
		gw_wbuf_u8(b, 0);
		int64_t idx = put_key(c, b, &tag, last + 1, &r[i]);
		if (idx < 0 || b->oom)
			return GW_ENOMEM;
		struct gw_jseries *s = &c->s[idx];
		int isnew = (tag & TAG_KEY_MASK) == TAG_NEW;
		if (r[i].scale != s->scale || r[i].unit != s->unit ||
		    r[i].status != s->status) {
			tag |= TAG_ATTR;
			gw_wbuf_u8(b, (uint8_t)r[i].scale);
			gw_wbuf_u8(b, r[i].unit);
			gw_wbuf_u8(b, r[i].status);
		}
		int64_t pred = isnew ? last_ts : gw_wrap_add(s->ts, shift);
		int64_t dts = gw_wrap_sub(r[i].ts_ms, pred);
		if (dts) {
			tag |= TAG_TS;
			gw_wbuf_varint(b, gw_zigzag(dts));
		}
		int64_t dv = gw_wrap_sub(r[i].value, s->value);
		if (dv) {
			tag |= TAG_VAL;
			gw_wbuf_varint(b, gw_zigzag(dv));
		}
		if (b->oom)
			return GW_ENOMEM;
		b->p[at] = tag;
		if (!isnew)
			shift = gw_wrap_sub(r[i].ts_ms, s->ts);
		s->ts = r[i].ts_ms;
		s->value = r[i].value;
		s->scale = r[i].scale;
		s->unit = r[i].unit;
		s->status = r[i].status;
		last = idx;
		last_ts = r[i].ts_ms;
	}
	*pos = (struct body_at){.last = last, .shift = shift, .last_ts = last_ts};
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
	struct body_at at = {.last = -1};
	long k;

	for (size_t from = 0; (k = gw_reading_src_chunk(src, from, chunk)) > 0;
	     from += (size_t)k) {
		int rc = put_body(c, &at, chunk, (size_t)k, b);
		if (rc)
			return rc;
	}
	return k < 0 ? GW_EINVAL : 0;
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
	if (rc) {
		free(body.p);
		gw_jcodec_reset(c);
		return rc;
	}
	/* Deflate when it pays: a cycle of a few meters is not worth a zlib
	 * header; a bus of hundreds is. */
	uLongf clen = compressBound((uLong)body.n);
	uint8_t *z = body.n >= 64 ? malloc(clen) : NULL;
	if (z && compress2(z, &clen, body.p, (uLong)body.n, 6) == Z_OK &&
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
		idx = add_series(c, (uint32_t)m, (uint32_t)o);
		if (idx < 0)
			return -2;
		break;
	}
	default:
		return -1;
	}
	if (b->bad || idx < 0 || idx >= c->ns)
		return -1;
	struct gw_jseries *s = &c->s[idx];
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
