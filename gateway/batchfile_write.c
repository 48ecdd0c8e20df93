/* SPDX-License-Identifier: MIT */
/*
 * batchfile_write.c - a sealed batch as a batch file image: the header,
 * the payload laid out column by column, compressed, and the CRC; see
 * batchfile.h and docs/spool-format.md. batchfile_read.c reads it back.
 */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "batchfile.h"


/* Grouped by OBIS code, so that each register's deltas sit together (all
 * 1.8.0, then all 2.8.0, then all 32.7.0 ...) and zlib's Huffman tables
 * fit one distribution at a time. */
size_t *gw_batch_series_order(const struct gw_series *s, size_t n)
{
	size_t *ix = malloc((n + 1) * sizeof(*ix));

	if (!ix)
		return NULL;
	for (size_t i = 0; i < n; i++)
		ix[i] = i;
	/* a stable bottom-up merge sort (qsort is not stable and would need
	 * a global for the strings) */
	size_t *tmp = malloc((n + 1) * sizeof(*tmp));
	if (!tmp) {
		free(ix);
		return NULL;
	}
	for (size_t w = 1; w < n; w *= 2) {
		for (size_t lo = 0; lo < n; lo += 2 * w) {
			size_t mid = lo + w < n ? lo + w : n;
			size_t hi = lo + 2 * w < n ? lo + 2 * w : n;
			size_t a = lo, b = mid, k = lo;
			while (a < mid && b < hi) {
				int c = strcmp(s[ix[a]].obis, s[ix[b]].obis);
				tmp[k++] = c <= 0 ? ix[a++] : ix[b++];
			}
			while (a < mid)
				tmp[k++] = ix[a++];
			while (b < hi)
				tmp[k++] = ix[b++];
		}
		memcpy(ix, tmp, n * sizeof(*ix));
	}
	free(tmp);
	return ix;
}

/* ---- the streaming encoder ----
 *
 * The payload is written into deflate as it is laid out, a column at a
 * time, from a source of series (struct gw_batch_src) that hands out one
 * series at a time: neither the payload nor the batch's series need to be
 * in memory at once. deflate with Z_NO_FLUSH gives the same bytes however
 * its input is cut, so this is byte for byte what compress2 made of the
 * whole payload. deflate runs on a thread of its own while the encoder
 * lays out the next 64 kB (batchfile_deflate.c). */

struct enc {
	struct gw_deflater *d;
	gw_batch_put_fn put;
	void *pctx;
	struct gw_wbuf rec; /* one record's bytes */
	uint8_t *in; /* the piece being filled (the deflater's) */
	size_t in_n, in_cap;
	uint64_t raw_n, comp_n;
	uint32_t crc; /* of the compressed bytes */
	int err;
};

/* Hands the filled piece to deflate and takes the next one. */
static void enc_deflate(struct enc *e)
{
	if (!e->err) {
		int rc = gw_deflater_push(e->d, e->in_n);
		if (rc)
			e->err = rc;
	}
	e->in = gw_deflater_buf(e->d, &e->in_cap);
	e->in_n = 0;
}

static void enc_bytes(struct enc *e, const uint8_t *p, size_t n)
{
	e->raw_n += n;
	while (n > 0 && !e->err) {
		size_t k = e->in_cap - e->in_n;
		if (k > n)
			k = n;
		memcpy(e->in + e->in_n, p, k);
		e->in_n += k;
		p += k;
		n -= k;
		if (e->in_n == e->in_cap)
			enc_deflate(e);
	}
}

/* Feeds the record built in e->rec and empties it. */
static void enc_rec(struct enc *e)
{
	if (e->rec.oom)
		e->err = GW_ENOMEM;
	else
		enc_bytes(e, e->rec.p, e->rec.n);
	e->rec.n = 0;
}

void gw_batch_day_put(struct gw_wbuf *out, const struct gw_day_register *d)
{
	gw_wbuf_str(out, d->meter_id);
	gw_wbuf_str(out, d->obis);
	gw_wbuf_u8(out, d->unit);
	gw_wbuf_u8(out, d->quality);
	gw_wbuf_varint(out, gw_zigzag(d->start_value));
	gw_wbuf_varint(out, gw_zigzag(d->consumption));
	/* end - start differs from the consumption only on days with a
	 * counter wrap, reset or replacement: usually one zero byte. */
	int64_t off = gw_wrap_sub(gw_wrap_sub(d->end_value, d->start_value),
				  d->consumption);
	gw_wbuf_varint(out, gw_zigzag(off));
	gw_wbuf_varint(out, d->readings);
	gw_wbuf_varint(out, d->minutes_missing);
}

/* The daily records: one per (meter, register); laid out already by the
 * source (src->days: freed once written), or here, a record at a time. */
static void encode_days(struct gw_batch_src *src, struct enc *e)
{
	const struct gw_batch *b = src->batch;

	if (src->days) {
		enc_bytes(e, src->days->p, src->days->n);
		free(src->days->p);
		memset(src->days, 0, sizeof(*src->days));
		src->days = NULL;
		return;
	}
	for (size_t i = 0; i < b->n_days && !e->err; i++) {
		gw_batch_day_put(&e->rec, &b->days[i]);
		enc_rec(e);
	}
}

/* Every series' header: whose, which register, how many readings. */
static void encode_heads(const struct gw_batch_src *src, struct enc *e)
{
	struct gw_series s;

	for (size_t i = 0; i < src->n_series && !e->err; i++) {
		int rc = src->series(src->ctx, i, 0, &s);
		if (rc) {
			e->err = rc;
			return;
		}
		gw_wbuf_str(&e->rec, s.meter_id);
		gw_wbuf_str(&e->rec, s.obis);
		gw_wbuf_u8(&e->rec, s.unit);
		gw_wbuf_u8(&e->rec, (uint8_t)s.scale);
		gw_wbuf_varint(&e->rec, s.n);
		enc_rec(e);
	}
}

int gw_batch_times_same(struct gw_batch_times *c, const int64_t *ts, size_t n)
{
	if (n == 0) {
		c->prev_n = 0; /* the next one is compared with this one */
		return 0;
	}
	if (c->prev_n == n && memcmp(c->prev, ts, n * sizeof(int64_t)) == 0)
		return 1;
	if (n > c->prev_cap) {
		int64_t *np = realloc(c->prev, n * sizeof(*np));
		if (!np)
			return GW_ENOMEM;
		c->prev = np;
		c->prev_cap = n;
	}
	memcpy(c->prev, ts, n * sizeof(int64_t));
	c->prev_n = n;
	return 0;
}

/* Timestamps: first one relative to the previous series' first one, then
 * the first interval, then each interval minus the first one (a regular
 * cadence is a run of zeros; jitter stays jitter-sized). A series with
 * the same times as the one before (one request of one meter gives all
 * its registers the same time) is a single 0. */
int gw_batch_times_add(struct gw_batch_times *c, const int64_t *ts, size_t n)
{
	struct gw_wbuf *out = &c->out;
	int same = gw_batch_times_same(c, ts, n);

	if (same < 0 || n == 0)
		return same < 0 ? same : 0;
	/* 0: the same times as the previous series; 1: times follow */
	gw_wbuf_u8(out, same ? 0 : 1);
	if (!same) {
		gw_wbuf_varint(out, gw_zigzag(gw_wrap_sub(ts[0], c->prev0)));
		c->prev0 = ts[0];
	}
	if (!same && n >= 2) {
		int64_t cadence = gw_wrap_sub(ts[1], ts[0]);
		gw_wbuf_varint(out, gw_zigzag(cadence));
		for (size_t k = 2; k < n; k++) {
			int64_t step = gw_wrap_sub(ts[k], ts[k - 1]);
			gw_wbuf_varint(out, gw_zigzag(gw_wrap_sub(step, cadence)));
		}
	}
	return out->oom ? GW_ENOMEM : 0;
}

void gw_batch_times_free(struct gw_batch_times *c)
{
	free(c->out.p);
	free(c->prev);
	memset(c, 0, sizeof(*c));
}

/* The times column, a series at a time into deflate. A series the source
 * marks as having the times of the one before (src->same, as
 * gw_batch_times_same found it) is its single 0, not read again; the
 * others are read and laid out (the column's state, the series before
 * and its first time, is only changed by those). */
static void encode_times(struct gw_batch_src *src, struct enc *e)
{
	static const uint8_t zero;
	struct gw_batch_times c = {0};
	struct gw_series s;

	for (size_t i = 0; i < src->n_series && !e->err; i++) {
		if (src->same && (src->same[i / 8] >> (i % 8) & 1)) {
			enc_bytes(e, &zero, 1);
			continue;
		}
		int rc = src->series(src->ctx, i, 1, &s);
		if (!rc)
			rc = gw_batch_times_add(&c, s.ts_ms, s.n);
		if (rc) {
			e->err = rc;
			break;
		}
		/* a record at a time into deflate, as before */
		enc_bytes(e, c.out.p, c.out.n);
		c.out.n = 0;
	}
	gw_batch_times_free(&c);
}

/* The order of the value column: series grouped by OBIS code, by
 * position within a code (what a stable sort by code gives). The codes
 * are few (a profile's registers): each series' code is found among the
 * distinct ones (the one after the last found first: series come sorted
 * by meter, then code), the codes sorted, the series counted into place.
 * Returns a malloc'ed array or NULL (*err set). */
static uint32_t *value_order(const struct gw_batch_src *src, int *err)
{
	size_t n = src->n_series, nc = 0, capc = 0, last = 0;
	uint32_t *ord = malloc((n + 1) * sizeof(*ord));
	uint32_t *code = malloc((n + 1) * sizeof(*code));
	char (*codes)[GW_OBIS_MAX] = NULL;
	size_t *start = NULL;
	struct gw_series s;

	*err = ord && code ? 0 : GW_ENOMEM;
	for (size_t i = 0; i < n && !*err; i++) {
		if ((*err = src->series(src->ctx, i, 0, &s)) != 0)
			break;
		size_t c = last + 1 < nc ? last + 1 : 0;
		if (c >= nc || strcmp(codes[c], s.obis) != 0)
			for (c = 0; c < nc && strcmp(codes[c], s.obis) != 0; c++)
				;
		if (c == nc) {
			if (nc == capc) {
				void *nw = realloc(codes, (capc = capc ? capc * 2 : 32) * sizeof(*codes));
				if (!nw) {
					*err = GW_ENOMEM;
					break;
				}
				codes = nw;
			}
			memcpy(codes[nc++], s.obis, sizeof(s.obis));
		}
		code[i] = (uint32_t)c;
		last = c;
	}
	if (!*err && !(start = calloc(nc + 1, sizeof(*start))))
		*err = GW_ENOMEM;
	if (!*err) {
		/* rank of each code; then where each rank's series begin */
		for (size_t c = 0; c < nc; c++)
			for (size_t d = 0; d < nc; d++)
				start[c + 1] += strcmp(codes[d], codes[c]) < 0;
		for (size_t i = 0; i < n; i++)
			code[i] = (uint32_t)start[code[i] + 1];
		memset(start, 0, (nc + 1) * sizeof(*start));
		for (size_t i = 0; i < n; i++)
			start[code[i] + 1]++;
		for (size_t c = 0; c < nc; c++)
			start[c + 1] += start[c];
		for (size_t i = 0; i < n; i++)
			ord[start[code[i]]++] = (uint32_t)i;
	}
	free(start);
	free(codes);
	free(code);
	if (*err) {
		free(ord);
		return NULL;
	}
	return ord;
}

/* A byte of the first plane straight into deflate's input. */
static inline void enc_u8(struct enc *e, uint8_t c)
{
	if (e->in_n == e->in_cap)
		enc_deflate(e);
	e->in[e->in_n++] = c;
	e->raw_n++;
}

static inline uint64_t value_delta(const struct gw_series *s, uint32_t k)
{
	int64_t d = k ? (int64_t)((uint64_t)s->value[k] - (uint64_t)s->value[k - 1])
		      : s->value[0];
	return ((uint64_t)d << 1) ^ (uint64_t)(d >> 63); /* gw_zigzag */
}

/* The bytes after the first of v's varint (v > 0x7f) into hi. */
static inline void hi_bytes(struct gw_wbuf *hi, uint64_t v)
{
	gw_wbuf_need(hi, 10);
	if (hi->oom)
		return;
	v >>= 7;
	do {
		hi->p[hi->n++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
		v >>= 7;
	} while (v);
}

/* Whole series' second planes kept for the first plane's pass, at most
 * this many bytes (8 MB; gw_batch_set_hi_keep): beyond, the rest of the
 * series are read again. */
static size_t hi_keep = (size_t)8 << 20;

size_t gw_batch_set_hi_keep(size_t bytes)
{
	size_t old = hi_keep;

	hi_keep = bytes;
	return old;
}

/* The first plane of every series in order ord, and the second plane of
 * those read before *hi_end (hi holds it) grew to hi_keep bytes. */
static void encode_lo(const struct gw_batch_src *src, const uint32_t *ord,
		      struct gw_wbuf *hi, size_t *hi_end, struct enc *e)
{
	struct gw_series s;

	*hi_end = 0;
	for (size_t j = 0; j < src->n_series && !e->err; j++) {
		int rc = src->series(src->ctx, ord[j], 1, &s);
		if (rc) {
			e->err = rc;
			return;
		}
		int keep = *hi_end == j && hi->n < hi_keep;
		for (uint32_t k = 0; k < s.n; k++) {
			uint64_t v = value_delta(&s, k);
			enc_u8(e, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
			if (keep && v > 0x7f)
				hi_bytes(hi, v);
		}
		if (keep)
			*hi_end = j + 1;
	}
	if (hi->oom)
		e->err = GW_ENOMEM;
}

/* The second plane of the series from ord[from] on, read again. */
static void encode_hi(const struct gw_batch_src *src, const uint32_t *ord,
		      size_t from, struct gw_wbuf *hi, struct enc *e)
{
	struct gw_series s;

	for (size_t j = from; j < src->n_series && !e->err; j++) {
		int rc = src->series(src->ctx, ord[j], 1, &s);
		if (rc) {
			e->err = rc;
			return;
		}
		hi->n = 0;
		for (uint32_t k = 0; k < s.n; k++) {
			uint64_t v = value_delta(&s, k);
			if (v > 0x7f)
				hi_bytes(hi, v);
		}
		if (hi->oom)
			e->err = GW_ENOMEM;
		else
			enc_bytes(e, hi->p, hi->n);
	}
}

/* Values: the first one, then deltas; series grouped by OBIS code (see
 * gw_batch_series_order).
 *
 * Each value's varint is split: its first byte goes into the first plane,
 * any further bytes into the second. The first plane is one byte per
 * reading and holds the small deltas whole; the second holds the high
 * bits of the larger ones. Kept apart, each plane gets its own Huffman
 * statistics instead of a mix of low and high bytes. Both planes are
 * made in one reading of the series while the second stays under
 * hi_keep bytes (a seal reads each series from its track's encoded
 * points). */
static void encode_values(const struct gw_batch_src *src, struct enc *e)
{
	struct gw_wbuf hi = {0};
	size_t hi_end = 0;
	uint32_t *ord = value_order(src, &e->err);

	if (!ord)
		return;
	gw_wbuf_varint(&e->rec, src->n_readings); /* the first plane's length */
	enc_rec(e);
	encode_lo(src, ord, &hi, &hi_end, e);
	if (!e->err)
		enc_bytes(e, hi.p, hi.n);
	encode_hi(src, ord, hi_end, &hi, e);
	free(hi.p);
	free(ord);
}

static void encode_events(const struct gw_batch *b, struct enc *e)
{
	for (size_t i = 0; i < b->n_events && !e->err; i++) {
		const struct gw_event *ev = &b->events[i];
		gw_wbuf_str(&e->rec, ev->meter_id);
		gw_wbuf_str(&e->rec, ev->obis);
		gw_wbuf_varint(&e->rec, gw_zigzag(ev->ts_ms));
		gw_wbuf_u8(&e->rec, ev->kind);
		gw_wbuf_str(&e->rec, ev->detail);
		enc_rec(e);
	}
}

/* The header for a payload of raw bytes compressed to clen. */
static size_t header(const struct gw_batch_src *src, uint64_t raw, uint64_t clen,
		     uint8_t *hdr)
{
	const struct gw_batch *b = src->batch;
	size_t gl = strlen(b->gateway_id), zl = strlen(b->timezone);
	size_t hlen = GW_BATCH_HDR_FIXED + 2 + gl + zl;
	uint8_t *p = hdr;

	memcpy(p, GW_BATCH_MAGIC, 4);
	gw_le_put(p + 4, GW_BATCH_VERSION, 2);
	gw_le_put(p + 6, hlen, 2);
	gw_le_put(p + 8, (uint32_t)b->day, 4);
	gw_le_put(p + 12, b->revision, 4);
	gw_le_put(p + 16, (uint64_t)b->created_ms, 8);
	gw_le_put(p + 24, b->n_days, 4);
	gw_le_put(p + 28, src->n_series, 4);
	gw_le_put(p + 32, src->n_readings, 4);
	gw_le_put(p + 36, raw, 4);
	gw_le_put(p + 40, clen, 4);
	gw_le_put(p + 44, b->n_events, 4);
	p[48] = (uint8_t)gl;
	memcpy(p + 49, b->gateway_id, gl);
	p[49 + gl] = (uint8_t)zl;
	memcpy(p + 50 + gl, b->timezone, zl);
	return hlen;
}

/* The payload is laid out column-wise: the daily records, then every
 * series' header, then every series' timestamps, then every series' values,
 * then the events. Like numbers sit next to like numbers, so zlib's Huffman
 * tables fit each column (timestamps are nearly all zeros, energy deltas
 * small and positive) instead of averaging over an interleaved mix. */
int gw_batch_encode_src(struct gw_batch_src *src, gw_batch_put_fn put,
			void *ctx, uint8_t *hdr, size_t *hlen)
{
	const struct gw_batch *b = src->batch;
	uint8_t crcb[4];

	*hlen = 0;
	if (strlen(b->gateway_id) > 255 || strlen(b->timezone) > 255 ||
	    src->deflate < GW_DEFLATE_6 || src->deflate > GW_DEFLATE_RLE ||
	    b->n_days > UINT32_MAX || src->n_series > UINT32_MAX ||
	    b->n_events > UINT32_MAX || src->n_readings > UINT32_MAX ||
	    (b->n_days && !b->days && !src->days))
		return GW_EINVAL;
	struct enc *e = calloc(1, sizeof(*e));
	if (!e)
		return GW_ENOMEM;
	e->put = put;
	e->pctx = ctx;
	if (gw_deflater_new(&e->d, src->deflate == GW_DEFLATE_1 ? 1 : 6,
			    src->deflate == GW_DEFLATE_RLE ? Z_RLE : Z_DEFAULT_STRATEGY,
			    put, ctx)) {
		free(e);
		return GW_ENOMEM;
	}
	e->in = gw_deflater_buf(e->d, &e->in_cap);
	/* the header's place; the caller writes it there at the end */
	size_t hl = header(src, 0, 0, hdr);
	e->err = put(ctx, hdr, hl);
	if (!e->err) {
		encode_days(src, e);
		encode_heads(src, e);
		encode_times(src, e);
		encode_values(src, e);
		encode_events(b, e);
	}
	if (!e->err && e->raw_n > GW_BATCH_MAX_RAW)
		e->err = GW_EINVAL;
	if (!e->err)
		e->err = gw_deflater_finish(e->d, e->in_n, &e->comp_n, &e->crc);
	int rc = e->err;
	if (!rc) {
		hl = header(src, e->raw_n, e->comp_n, hdr);
		uint32_t crc = (uint32_t)crc32_combine(crc32(0L, hdr, (uInt)hl), e->crc,
						       (z_off_t)e->comp_n);
		gw_le_put(crcb, crc, 4);
		rc = put(ctx, crcb, 4);
		*hlen = hl;
	}
	gw_deflater_free(e->d);
	free(e->rec.p);
	free(e);
	return rc;
}

/* ---- a batch in memory ---- */

static int mem_series(void *ctx, size_t i, int points, struct gw_series *out)
{
	const struct gw_batch *b = ctx;

	(void)points;
	*out = b->series[i];
	return 0;
}

static int mem_put(void *ctx, const uint8_t *p, size_t n)
{
	struct gw_wbuf *w = ctx;

	gw_wbuf_put(w, p, n);
	return w->oom ? GW_ENOMEM : 0;
}

int gw_batch_encode(const struct gw_batch *b, uint8_t **bufp, size_t *lenp)
{
	struct gw_batch_src src = {
		.batch = (struct gw_batch *)b, .n_series = b->n_series,
		.series = mem_series, .ctx = (void *)b,
	};
	struct gw_wbuf out = {0};
	uint8_t hdr[GW_BATCH_HDR_MAX];
	size_t hlen;

	*bufp = NULL;
	*lenp = 0;
	for (size_t i = 0; i < b->n_series; i++)
		src.n_readings += b->series[i].n;
	int rc = gw_batch_encode_src(&src, mem_put, &out, hdr, &hlen);
	if (rc) {
		free(out.p);
		return rc;
	}
	memcpy(out.p, hdr, hlen);
	*bufp = out.p;
	*lenp = out.n;
	return 0;
}
