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

/* True if series s has the same timestamps as series p (one request of
 * one meter gives all its registers the same time). */
static int same_times(const struct gw_series *s, const struct gw_series *p)
{
	return s->n == p->n && s->n > 0 &&
	       memcmp(s->ts_ms, p->ts_ms, s->n * sizeof(int64_t)) == 0;
}

/* The daily records: one per (meter, register). */
static void encode_days(const struct gw_batch *b, struct gw_wbuf *out)
{
	for (size_t i = 0; i < b->n_days; i++) {
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
	}
}

/* Every series' header: whose, which register, how many readings. */
static void encode_heads(const struct gw_batch *b, struct gw_wbuf *out)
{
	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];
		gw_wbuf_str(out, s->meter_id);
		gw_wbuf_str(out, s->obis);
		gw_wbuf_u8(out, s->unit);
		gw_wbuf_u8(out, (uint8_t)s->scale);
		gw_wbuf_varint(out, s->n);
	}
}

/* Timestamps: first one relative to the previous series' first one, then
 * the first interval, then each interval minus the first one (a regular
 * cadence is a run of zeros; jitter stays jitter-sized). */
static void encode_times(const struct gw_batch *b, struct gw_wbuf *out)
{
	int64_t prev0 = 0;

	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];
		if (s->n == 0)
			continue;
		/* 0: the same times as the previous series; 1: times follow */
		if (i > 0 && same_times(s, &b->series[i - 1])) {
			gw_wbuf_u8(out, 0);
			continue;
		}
		gw_wbuf_u8(out, 1);
		gw_wbuf_varint(out, gw_zigzag(gw_wrap_sub(s->ts_ms[0], prev0)));
		prev0 = s->ts_ms[0];
		if (s->n < 2)
			continue;
		int64_t cadence = gw_wrap_sub(s->ts_ms[1], s->ts_ms[0]);
		gw_wbuf_varint(out, gw_zigzag(cadence));
		for (uint32_t k = 2; k < s->n; k++) {
			int64_t step = gw_wrap_sub(s->ts_ms[k], s->ts_ms[k - 1]);
			gw_wbuf_varint(out, gw_zigzag(gw_wrap_sub(step, cadence)));
		}
	}
}

/* Values: the first one, then deltas; series grouped by OBIS code.
 *
 * Each value's varint is split: its first byte goes into the first plane,
 * any further bytes into the second. The first plane is one byte per
 * reading and holds the small deltas whole; the second holds the high
 * bits of the larger ones. Kept apart, each plane gets its own Huffman
 * statistics instead of a mix of low and high bytes. */
static void encode_values(const struct gw_batch *b, struct gw_wbuf *out)
{
	size_t *ord = gw_batch_series_order(b->series, b->n_series);
	if (!ord) {
		out->oom = 1;
		return;
	}
	struct gw_wbuf lo = {0}, hi = {0};
	for (size_t j = 0; j < b->n_series; j++) {
		const struct gw_series *s = &b->series[ord[j]];
		for (uint32_t k = 0; k < s->n; k++) {
			uint64_t v = gw_zigzag(k ? gw_wrap_sub(s->value[k], s->value[k - 1])
						 : s->value[0]);
			gw_wbuf_u8(&lo, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
			if (v > 0x7f)
				gw_wbuf_varint(&hi, v >> 7);
		}
	}
	free(ord);
	if (lo.oom || hi.oom)
		out->oom = 1;
	gw_wbuf_varint(out, lo.n);
	gw_wbuf_put(out, lo.p ? lo.p : (uint8_t *)"", lo.n);
	gw_wbuf_put(out, hi.p ? hi.p : (uint8_t *)"", hi.n);
	free(lo.p);
	free(hi.p);
}

static void encode_events(const struct gw_batch *b, struct gw_wbuf *out)
{
	for (size_t i = 0; i < b->n_events; i++) {
		const struct gw_event *e = &b->events[i];
		gw_wbuf_str(out, e->meter_id);
		gw_wbuf_str(out, e->obis);
		gw_wbuf_varint(out, gw_zigzag(e->ts_ms));
		gw_wbuf_u8(out, e->kind);
		gw_wbuf_str(out, e->detail);
	}
}

/* The payload is laid out column-wise: the daily records, then every
 * series' header, then every series' timestamps, then every series' values,
 * then the events. Like numbers sit next to like numbers, so zlib's Huffman
 * tables fit each column (timestamps are nearly all zeros, energy deltas
 * small and positive) instead of averaging over an interleaved mix. */
static void encode_payload(const struct gw_batch *b, struct gw_wbuf *out)
{
	encode_days(b, out);
	encode_heads(b, out);
	encode_times(b, out);
	encode_values(b, out);
	encode_events(b, out);
}

int gw_batch_encode(const struct gw_batch *b, uint8_t **bufp, size_t *lenp)
{
	struct gw_wbuf raw = {0}, out = {0};
	uint64_t n_readings = 0;
	size_t gl = strlen(b->gateway_id), zl = strlen(b->timezone);

	*bufp = NULL;
	*lenp = 0;
	if (gl > 255 || zl > 255 || b->n_days > UINT32_MAX ||
	    b->n_series > UINT32_MAX || b->n_events > UINT32_MAX)
		return GW_EINVAL;
	for (size_t i = 0; i < b->n_series; i++)
		n_readings += b->series[i].n;
	if (n_readings > UINT32_MAX)
		return GW_EINVAL;
	encode_payload(b, &raw);
	if (raw.oom || raw.n > GW_BATCH_MAX_RAW) {
		free(raw.p);
		return raw.oom ? GW_ENOMEM : GW_EINVAL;
	}
	uLongf clen = compressBound((uLong)raw.n);
	size_t hlen = GW_BATCH_HDR_FIXED + 2 + gl + zl;
	gw_wbuf_need(&out, hlen + clen + 4);
	if (out.oom) {
		free(raw.p);
		return GW_ENOMEM;
	}
	gw_wbuf_put(&out, GW_BATCH_MAGIC, 4);
	gw_wbuf_le(&out, GW_BATCH_VERSION, 2);
	gw_wbuf_le(&out, hlen, 2);
	gw_wbuf_le(&out, (uint32_t)b->day, 4);
	gw_wbuf_le(&out, b->revision, 4);
	gw_wbuf_le(&out, (uint64_t)b->created_ms, 8);
	gw_wbuf_le(&out, b->n_days, 4);
	gw_wbuf_le(&out, b->n_series, 4);
	gw_wbuf_le(&out, n_readings, 4);
	gw_wbuf_le(&out, raw.n, 4);
	size_t clen_at = out.n;
	gw_wbuf_le(&out, 0, 4); /* compressed length, filled below */
	gw_wbuf_le(&out, b->n_events, 4);
	gw_wbuf_u8(&out, (uint8_t)gl);
	gw_wbuf_put(&out, b->gateway_id, gl);
	gw_wbuf_u8(&out, (uint8_t)zl);
	gw_wbuf_put(&out, b->timezone, zl);
	int zrc = compress2(out.p + out.n, &clen, raw.p ? raw.p : (const Bytef *)"",
			    (uLong)raw.n, 6);
	free(raw.p);
	if (zrc != Z_OK) {
		free(out.p);
		return zrc == Z_MEM_ERROR ? GW_ENOMEM : GW_EINVAL;
	}
	out.n += clen;
	gw_le_put(out.p + clen_at, clen, 4);
	gw_wbuf_le(&out, gw_crc32(out.p, out.n), 4);
	*bufp = out.p;
	*lenp = out.n;
	return 0;
}

