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
 * whole payload. */

#define ENC_CHUNK 65536

struct enc {
	z_stream z;
	gw_batch_put_fn put;
	void *pctx;
	struct gw_wbuf rec; /* one record's bytes */
	uint8_t in[ENC_CHUNK], out[ENC_CHUNK];
	size_t in_n;
	uint64_t raw_n, comp_n;
	uint32_t crc; /* of the compressed bytes */
	int err;
};

/* Runs deflate over the staged input (and finishes the stream). */
static void enc_deflate(struct enc *e, int flush)
{
	e->z.next_in = e->in;
	e->z.avail_in = (uInt)e->in_n;
	do {
		e->z.next_out = e->out;
		e->z.avail_out = sizeof(e->out);
		int zrc = deflate(&e->z, flush);
		if (zrc == Z_STREAM_ERROR) {
			e->err = GW_EINVAL;
			return;
		}
		size_t got = sizeof(e->out) - e->z.avail_out;
		if (got && !e->err) {
			e->crc = (uint32_t)crc32(e->crc, e->out, (uInt)got);
			e->comp_n += got;
			int rc = e->put(e->pctx, e->out, got);
			if (rc)
				e->err = rc;
		}
		if (flush == Z_FINISH && zrc == Z_STREAM_END)
			break;
	} while (e->z.avail_out == 0 || (flush == Z_FINISH && !e->err));
	e->in_n = 0;
}

static void enc_bytes(struct enc *e, const uint8_t *p, size_t n)
{
	e->raw_n += n;
	while (n > 0 && !e->err) {
		size_t k = sizeof(e->in) - e->in_n;
		if (k > n)
			k = n;
		memcpy(e->in + e->in_n, p, k);
		e->in_n += k;
		p += k;
		n -= k;
		if (e->in_n == sizeof(e->in))
			enc_deflate(e, Z_NO_FLUSH);
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

/* The daily records: one per (meter, register). */
static void encode_days(const struct gw_batch *b, struct enc *e)
{
	struct gw_wbuf *out = &e->rec;

	for (size_t i = 0; i < b->n_days && !e->err; i++) {
		const struct gw_day_register *d = &b->days[i];
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

/* Timestamps: first one relative to the previous series' first one, then
 * the first interval, then each interval minus the first one (a regular
 * cadence is a run of zeros; jitter stays jitter-sized). A series with
 * the same times as the one before (one request of one meter gives all
 * its registers the same time) is a single 0. */
static void encode_times(const struct gw_batch_src *src, struct enc *e)
{
	int64_t prev0 = 0, *prev = NULL;
	size_t prev_n = 0, prev_cap = 0;
	struct gw_series s;

	for (size_t i = 0; i < src->n_series && !e->err; i++) {
		int rc = src->series(src->ctx, i, 1, &s);
		if (rc) {
			e->err = rc;
			break;
		}
		if (s.n == 0) {
			prev_n = 0; /* the next one is compared with this one */
			continue;
		}
		struct gw_wbuf *out = &e->rec;
		/* 0: the same times as the previous series; 1: times follow */
		if (i > 0 && prev_n == s.n &&
		    memcmp(prev, s.ts_ms, s.n * sizeof(int64_t)) == 0) {
			gw_wbuf_u8(out, 0);
			enc_rec(e);
			continue;
		}
		gw_wbuf_u8(out, 1);
		gw_wbuf_varint(out, gw_zigzag(gw_wrap_sub(s.ts_ms[0], prev0)));
		prev0 = s.ts_ms[0];
		if (s.n >= 2) {
			int64_t cadence = gw_wrap_sub(s.ts_ms[1], s.ts_ms[0]);
			gw_wbuf_varint(out, gw_zigzag(cadence));
			for (uint32_t k = 2; k < s.n; k++) {
				int64_t step = gw_wrap_sub(s.ts_ms[k], s.ts_ms[k - 1]);
				gw_wbuf_varint(out, gw_zigzag(gw_wrap_sub(step, cadence)));
			}
		}
		enc_rec(e);
		if (s.n > prev_cap) {
			int64_t *np = realloc(prev, s.n * sizeof(*np));
			if (!np) {
				e->err = GW_ENOMEM;
				break;
			}
			prev = np;
			prev_cap = s.n;
		}
		memcpy(prev, s.ts_ms, s.n * sizeof(int64_t));
		prev_n = s.n;
	}
	free(prev);
}

struct order_ctx {
	const struct gw_batch_src *src;
	int err;
};

static int cmp_obis(const void *a, const void *b, void *arg)
{
	struct order_ctx *o = arg;
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	struct gw_series sx, sy;

	if (o->src->series(o->src->ctx, x, 0, &sx) ||
	    o->src->series(o->src->ctx, y, 0, &sy)) {
		o->err = GW_ENOMEM;
		return x < y ? -1 : x > y;
	}
	int c = strcmp(sx.obis, sy.obis);
	return c ? c : x < y ? -1 : x > y;
}

/* One plane of the value column (lo: the first byte of each value's
 * varint; hi: the bytes after it), series in order ord. */
static void encode_plane(const struct gw_batch_src *src, const uint32_t *ord,
			 int hi, struct enc *e)
{
	struct gw_series s;

	for (size_t j = 0; j < src->n_series && !e->err; j++) {
		int rc = src->series(src->ctx, ord[j], 1, &s);
		if (rc) {
			e->err = rc;
			return;
		}
		for (uint32_t k = 0; k < s.n; k++) {
			uint64_t v = gw_zigzag(k ? gw_wrap_sub(s.value[k], s.value[k - 1])
						 : s.value[0]);
			if (!hi)
				gw_wbuf_u8(&e->rec, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
			else if (v > 0x7f)
				gw_wbuf_varint(&e->rec, v >> 7);
			if (e->rec.n >= 4096)
				enc_rec(e);
		}
		enc_rec(e);
	}
}

/* Values: the first one, then deltas; series grouped by OBIS code (see
 * gw_batch_series_order).
 *
 * Each value's varint is split: its first byte goes into the first plane,
 * any further bytes into the second. The first plane is one byte per
 * reading and holds the small deltas whole; the second holds the high
 * bits of the larger ones. Kept apart, each plane gets its own Huffman
 * statistics instead of a mix of low and high bytes. */
static void encode_values(const struct gw_batch_src *src, struct enc *e)
{
	uint32_t *ord = malloc((src->n_series + 1) * sizeof(*ord));
	struct order_ctx o = {src, 0};

	if (!ord) {
		e->err = GW_ENOMEM;
		return;
	}
	for (size_t i = 0; i < src->n_series; i++)
		ord[i] = (uint32_t)i;
	/* by code, then by position: what a stable sort by code gives */
	qsort_r(ord, src->n_series, sizeof(*ord), cmp_obis, &o);
	if (o.err)
		e->err = o.err;
	gw_wbuf_varint(&e->rec, src->n_readings); /* the first plane's length */
	enc_rec(e);
	encode_plane(src, ord, 0, e);
	encode_plane(src, ord, 1, e);
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
int gw_batch_encode_src(const struct gw_batch_src *src, gw_batch_put_fn put,
			void *ctx, uint8_t *hdr, size_t *hlen)
{
	const struct gw_batch *b = src->batch;
	uint8_t crcb[4];

	*hlen = 0;
	if (strlen(b->gateway_id) > 255 || strlen(b->timezone) > 255 ||
	    b->n_days > UINT32_MAX || src->n_series > UINT32_MAX ||
	    b->n_events > UINT32_MAX || src->n_readings > UINT32_MAX)
		return GW_EINVAL;
	struct enc *e = calloc(1, sizeof(*e));
	if (!e)
		return GW_ENOMEM;
	e->put = put;
	e->pctx = ctx;
	if (deflateInit(&e->z, 6) != Z_OK) {
		free(e);
		return GW_ENOMEM;
	}
	/* the header's place; the caller writes it there at the end */
	size_t hl = header(src, 0, 0, hdr);
	e->err = put(ctx, hdr, hl);
	if (!e->err) {
		encode_days(b, e);
		encode_heads(src, e);
		encode_times(src, e);
		encode_values(src, e);
		encode_events(b, e);
	}
	if (!e->err && e->raw_n > GW_BATCH_MAX_RAW)
		e->err = GW_EINVAL;
	if (!e->err)
		enc_deflate(e, Z_FINISH);
	int rc = e->err;
	if (!rc) {
		hl = header(src, e->raw_n, e->comp_n, hdr);
		uint32_t crc = (uint32_t)crc32_combine(crc32(0L, hdr, (uInt)hl), e->crc,
						       (z_off_t)e->comp_n);
		gw_le_put(crcb, crc, 4);
		rc = put(ctx, crcb, 4);
		*hlen = hl;
	}
	deflateEnd(&e->z);
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
