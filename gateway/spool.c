/* SPDX-License-Identifier: MIT */
/*
 * spool.c - batch files (encode, decode, CRC) and the spool directory with
 * its durable writes; see spool.h and docs/spool-format.md.
 *
 * On-disk records use explicit little-endian fields, never a raw struct.
 * Numbers inside the compressed payload are LEB128 varints; signed ones are
 * zigzag-encoded; interval series are delta-encoded (timestamps as deltas of
 * deltas, values as deltas), which turns a regular 15-minute series of a
 * slowly rising register into runs of small numbers that zlib packs well.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include "spool.h"
#include "tz.h"

#define HDR_FIXED 48
#define MAX_RAW (1u << 30) /* refuse to inflate more than 1 GiB */

/* ---- growable byte buffer ---- */

struct buf {
	uint8_t *p;
	size_t n, cap;
	int oom;
};

static void buf_need(struct buf *b, size_t more)
{
	if (b->oom || b->n + more <= b->cap)
		return;
	size_t ncap = b->cap ? b->cap : 4096;
	while (ncap < b->n + more)
		ncap *= 2;
	uint8_t *np = realloc(b->p, ncap);
	if (!np) {
		b->oom = 1;
		return;
	}
	b->p = np;
	b->cap = ncap;
}

static void put_bytes(struct buf *b, const void *src, size_t n)
{
	buf_need(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

static void put_u8(struct buf *b, uint8_t v) { put_bytes(b, &v, 1); }

static void put_le(struct buf *b, uint64_t v, int width)
{
	uint8_t t[8];

	for (int i = 0; i < width; i++)
		t[i] = (uint8_t)(v >> (8 * i));
	put_bytes(b, t, (size_t)width);
}

static void put_varint(struct buf *b, uint64_t v)
{
	uint8_t t[10];
	int n = 0;

	do {
		t[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			t[n] |= 0x80;
		n++;
	} while (v);
	put_bytes(b, t, (size_t)n);
}

/* a - b and a + b modulo 2^64 (two's complement wrap-around). The
 * encoder's deltas are defined for any two values, a file's extreme ones
 * too, and the decoder adds them back with the same arithmetic: a file
 * that lies (with a CRC that matches the lie) must not make the reader,
 * or the writer of what it read, overflow a signed int. */
static int64_t wrap_sub(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

static int64_t wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

static uint64_t zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void put_str(struct buf *b, const char *s)
{
	size_t n = strlen(s);

	put_varint(b, n);
	put_bytes(b, s, n);
}

/* ---- bounded reader ---- */

struct rd {
	const uint8_t *p;
	size_t n, pos;
	int bad;
};

static uint64_t get_le(struct rd *r, int width)
{
	uint64_t v = 0;

	if (r->bad || r->n - r->pos < (size_t)width) {
		r->bad = 1;
		return 0;
	}
	for (int i = 0; i < width; i++)
		v |= (uint64_t)r->p[r->pos + (size_t)i] << (8 * i);
	r->pos += (size_t)width;
	return v;
}

static uint64_t get_varint(struct rd *r)
{
	uint64_t v = 0;

	for (int shift = 0; shift < 70; shift += 7) {
		if (r->bad || r->pos >= r->n) {
			r->bad = 1;
			return 0;
		}
		uint8_t c = r->p[r->pos++];
		if (shift == 63 && (c & 0x7e)) {
			r->bad = 1;
			return 0;
		}
		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	r->bad = 1;
	return 0;
}

static void get_str(struct rd *r, char *dst, size_t cap)
{
	uint64_t n = get_varint(r);

	if (r->bad || n >= cap || r->n - r->pos < n) {
		r->bad = 1;
		dst[0] = '\0';
		return;
	}
	memcpy(dst, r->p + r->pos, (size_t)n);
	dst[n] = '\0';
	if (memchr(dst, '\0', (size_t)n))
		r->bad = 1;
	r->pos += (size_t)n;
}

uint32_t gw_crc32(const uint8_t *buf, size_t len)
{
	uLong c = crc32(0L, Z_NULL, 0);

	while (len > 0) {
		uInt chunk = len > 0x40000000 ? 0x40000000 : (uInt)len;
		c = crc32(c, buf, chunk);
		buf += chunk;
		len -= chunk;
	}
	return (uint32_t)c;
}

/* ---- encode ---- */

/* The order in which the value column holds the series: grouped by OBIS
 * code (stable: by position within a code), so that each register's deltas
 * sit together (all 1.8.0, then all 2.8.0, then all 32.7.0 ...) and zlib's
 * Huffman tables fit one distribution at a time. Returns a malloc'ed array
 * of n indexes, or NULL when out of memory. */
static size_t *series_order(const struct gw_series *s, size_t n)
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

/* The payload is laid out column-wise: the daily records, then every
 * series' header, then every series' timestamps, then every series' values,
 * then the events. Like numbers sit next to like numbers, so zlib's Huffman
 * tables fit each column (timestamps are nearly all zeros, energy deltas
 * small and positive) instead of averaging over an interleaved mix. */
static void encode_payload(const struct gw_batch *b, struct buf *out)
{
	for (size_t i = 0; i < b->n_days; i++) {
		const struct gw_day_register *d = &b->days[i];
		put_str(out, d->meter_id);
		put_str(out, d->obis);
		put_u8(out, d->unit);
		put_u8(out, d->quality);
		put_varint(out, zigzag(d->start_value));
		put_varint(out, zigzag(d->consumption));
		/* end - start differs from the consumption only on days with a
		 * counter wrap, reset or replacement: usually one zero byte. */
		put_varint(out, zigzag(wrap_sub(wrap_sub(d->end_value,
							 d->start_value),
						d->consumption)));
		put_varint(out, d->readings);
		put_varint(out, d->minutes_missing);
	}
	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];
		put_str(out, s->meter_id);
		put_str(out, s->obis);
		put_u8(out, s->unit);
		put_u8(out, (uint8_t)s->scale);
		put_varint(out, s->n);
	}
	/* timestamps: first one relative to the previous series' first one,
	 * then the first interval, then each interval minus the first one
	 * (a regular cadence is a run of zeros; jitter stays jitter-sized) */
	int64_t prev0 = 0;
	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];
		if (s->n == 0)
			continue;
		/* 0: the same times as the previous series; 1: times follow */
		if (i > 0 && same_times(s, &b->series[i - 1])) {
			put_u8(out, 0);
			continue;
		}
		put_u8(out, 1);
		put_varint(out, zigzag(wrap_sub(s->ts_ms[0], prev0)));
		prev0 = s->ts_ms[0];
		if (s->n < 2)
			continue;
		int64_t cadence = wrap_sub(s->ts_ms[1], s->ts_ms[0]);
		put_varint(out, zigzag(cadence));
		for (uint32_t k = 2; k < s->n; k++)
			put_varint(out, zigzag(wrap_sub(wrap_sub(s->ts_ms[k],
								 s->ts_ms[k - 1]),
							cadence)));
	}
	/* values: the first one, then deltas; series grouped by OBIS code */
	size_t *ord = series_order(b->series, b->n_series);
	if (!ord) {
		out->oom = 1;
		return;
	}
	/* Each value's varint is split: its first byte goes into the first
	 * plane, any further bytes into the second. The first plane is one
	 * byte per reading and holds the small deltas whole; the second holds
	 * the high bits of the larger ones. Kept apart, each plane gets its
	 * own Huffman statistics instead of a mix of low and high bytes. */
	struct buf lo = {0}, hi = {0};
	for (size_t j = 0; j < b->n_series; j++) {
		const struct gw_series *s = &b->series[ord[j]];
		for (uint32_t k = 0; k < s->n; k++) {
			uint64_t v = zigzag(k ? wrap_sub(s->value[k], s->value[k - 1])
					      : s->value[0]);
			put_u8(&lo, (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0)));
			if (v > 0x7f)
				put_varint(&hi, v >> 7);
		}
	}
	free(ord);
	if (lo.oom || hi.oom)
		out->oom = 1;
	put_varint(out, lo.n);
	put_bytes(out, lo.p ? lo.p : (uint8_t *)"", lo.n);
	put_bytes(out, hi.p ? hi.p : (uint8_t *)"", hi.n);
	free(lo.p);
	free(hi.p);
	for (size_t i = 0; i < b->n_events; i++) {
		const struct gw_event *e = &b->events[i];
		put_str(out, e->meter_id);
		put_str(out, e->obis);
		put_varint(out, zigzag(e->ts_ms));
		put_u8(out, e->kind);
		put_str(out, e->detail);
	}
}

int gw_batch_encode(const struct gw_batch *b, uint8_t **bufp, size_t *lenp)
{
	struct buf raw = {0}, out = {0};
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
	if (raw.oom || raw.n > MAX_RAW) {
		free(raw.p);
		return raw.oom ? GW_ENOMEM : GW_EINVAL;
	}
	uLongf clen = compressBound((uLong)raw.n);
	size_t hlen = HDR_FIXED + 2 + gl + zl;
	buf_need(&out, hlen + clen + 4);
	if (out.oom) {
		free(raw.p);
		return GW_ENOMEM;
	}
	put_bytes(&out, GW_BATCH_MAGIC, 4);
	put_le(&out, GW_BATCH_VERSION, 2);
	put_le(&out, hlen, 2);
	put_le(&out, (uint32_t)b->day, 4);
	put_le(&out, b->revision, 4);
	put_le(&out, (uint64_t)b->created_ms, 8);
	put_le(&out, b->n_days, 4);
	put_le(&out, b->n_series, 4);
	put_le(&out, n_readings, 4);
	put_le(&out, raw.n, 4);
	size_t clen_at = out.n;
	put_le(&out, 0, 4); /* compressed length, filled below */
	put_le(&out, b->n_events, 4);
	put_u8(&out, (uint8_t)gl);
	put_bytes(&out, b->gateway_id, gl);
	put_u8(&out, (uint8_t)zl);
	put_bytes(&out, b->timezone, zl);
	int zrc = compress2(out.p + out.n, &clen, raw.p ? raw.p : (const Bytef *)"",
			    (uLong)raw.n, 6);
	free(raw.p);
	if (zrc != Z_OK) {
		free(out.p);
		return zrc == Z_MEM_ERROR ? GW_ENOMEM : GW_EINVAL;
	}
	out.n += clen;
	for (int i = 0; i < 4; i++)
		out.p[clen_at + (size_t)i] = (uint8_t)(clen >> (8 * i));
	put_le(&out, gw_crc32(out.p, out.n), 4);
	*bufp = out.p;
	*lenp = out.n;
	return 0;
}

/* ---- decode ---- */

static int decode_payload(struct gw_batch *b, const uint8_t *p, size_t n,
			  uint32_t n_readings)
{
	struct rd r = {.p = p, .n = n};
	uint64_t total = 0;

	/* Each record takes at least a few bytes: refuse counts the payload
	 * cannot hold before allocating for them. */
	if (b->n_days > n / 8 + 1 || b->n_series > n / 5 + 1 ||
	    b->n_events > n / 5 + 1 || n_readings > n)
		return GW_ECORRUPT;
	b->days = calloc(b->n_days + 1, sizeof(*b->days));
	b->series = calloc(b->n_series + 1, sizeof(*b->series));
	b->events = calloc(b->n_events + 1, sizeof(*b->events));
	if (!b->days || !b->series || !b->events)
		return GW_ENOMEM;
	for (size_t i = 0; i < b->n_days && !r.bad; i++) {
		struct gw_day_register *d = &b->days[i];
		get_str(&r, d->meter_id, sizeof(d->meter_id));
		get_str(&r, d->obis, sizeof(d->obis));
		d->unit = (uint8_t)get_le(&r, 1);
		d->quality = (uint8_t)get_le(&r, 1);
		d->start_value = unzigzag(get_varint(&r));
		d->consumption = unzigzag(get_varint(&r));
		d->end_value = (int64_t)((uint64_t)d->start_value +
					 (uint64_t)d->consumption +
					 (uint64_t)unzigzag(get_varint(&r)));
		uint64_t rd = get_varint(&r), mm = get_varint(&r);
		if (rd > UINT32_MAX || mm > UINT32_MAX ||
		    d->unit >= GW_UNIT_COUNT_ || d->quality > GW_Q_INCOMPLETE)
			r.bad = 1;
		d->readings = (uint32_t)rd;
		d->minutes_missing = (uint32_t)mm;
	}
	for (size_t i = 0; i < b->n_series && !r.bad; i++) {
		struct gw_series *s = &b->series[i];
		get_str(&r, s->meter_id, sizeof(s->meter_id));
		get_str(&r, s->obis, sizeof(s->obis));
		s->unit = (uint8_t)get_le(&r, 1);
		s->scale = (int8_t)get_le(&r, 1);
		uint64_t cnt = get_varint(&r);
		/* every reading takes at least one byte (its value's first byte) */
		if (r.bad || s->unit >= GW_UNIT_COUNT_ || cnt > n_readings - total)
			return GW_ECORRUPT;
		total += cnt;
		s->n = (uint32_t)cnt;
		s->ts_ms = malloc((cnt + 1) * sizeof(int64_t));
		s->value = malloc((cnt + 1) * sizeof(int64_t));
		if (!s->ts_ms || !s->value)
			return GW_ENOMEM;
	}
	if (r.bad || total != n_readings || total > n)
		return GW_ECORRUPT;
	int64_t prev0 = 0;
	for (size_t i = 0; i < b->n_series && !r.bad; i++) {
		struct gw_series *s = &b->series[i];
		if (s->n == 0)
			continue;
		uint64_t own = get_le(&r, 1);
		if (own == 0) {
			const struct gw_series *prev = i ? &b->series[i - 1] : NULL;
			if (!prev || prev->n != s->n) {
				r.bad = 1;
				break;
			}
			memcpy(s->ts_ms, prev->ts_ms, s->n * sizeof(int64_t));
			continue;
		}
		if (own != 1) {
			r.bad = 1;
			break;
		}
		s->ts_ms[0] = wrap_add(prev0, unzigzag(get_varint(&r)));
		prev0 = s->ts_ms[0];
		if (s->n < 2)
			continue;
		int64_t cadence = unzigzag(get_varint(&r));
		s->ts_ms[1] = wrap_add(s->ts_ms[0], cadence);
		for (uint32_t k = 2; k < s->n && !r.bad; k++)
			s->ts_ms[k] = wrap_add(wrap_add(s->ts_ms[k - 1], cadence),
					       unzigzag(get_varint(&r)));
	}
	size_t *ord = series_order(b->series, b->n_series);
	if (!ord)
		return GW_ENOMEM;
	uint64_t lo_len = get_varint(&r);
	if (r.bad || lo_len != total || lo_len > r.n - r.pos) {
		free(ord);
		return GW_ECORRUPT;
	}
	struct rd lo = {.p = r.p + r.pos, .n = (size_t)lo_len};
	r.pos += (size_t)lo_len;
	for (size_t j = 0; j < b->n_series && !r.bad && !lo.bad; j++) {
		struct gw_series *s = &b->series[ord[j]];
		int64_t v = 0;
		for (uint32_t k = 0; k < s->n && !r.bad && !lo.bad; k++) {
			uint64_t c = get_le(&lo, 1), z = c & 0x7f;
			if (c & 0x80) {
				uint64_t rest = get_varint(&r);
				if (rest == 0 || rest > (UINT64_MAX >> 7))
					r.bad = 1;
				z |= rest << 7;
			}
			v = k ? wrap_add(v, unzigzag(z)) : unzigzag(z);
			s->value[k] = v;
		}
	}
	free(ord);
	if (lo.bad || lo.pos != lo.n)
		return GW_ECORRUPT;
	for (size_t i = 0; i < b->n_events && !r.bad; i++) {
		struct gw_event *e = &b->events[i];
		get_str(&r, e->meter_id, sizeof(e->meter_id));
		get_str(&r, e->obis, sizeof(e->obis));
		e->ts_ms = unzigzag(get_varint(&r));
		e->kind = (uint8_t)get_le(&r, 1);
		get_str(&r, e->detail, sizeof(e->detail));
		if (!gw_event_name(e->kind))
			r.bad = 1;
	}
	if (r.bad || r.pos != r.n)
		return GW_ECORRUPT;
	return 0;
}

int gw_batch_decode(const uint8_t *buf, size_t len, struct gw_batch **out,
		    uint32_t *crcp)
{
	const char *why;

	return gw_batch_decode_ex(buf, len, out, crcp, &why);
}

int gw_batch_decode_ex(const uint8_t *buf, size_t len, struct gw_batch **out,
		       uint32_t *crcp, const char **why)
{
	struct rd r = {.p = buf, .n = len};
	struct gw_batch *b;

	*out = NULL;
	*why = "";
	if (len < 4) {
		*why = "truncated header";
		return GW_ECORRUPT;
	}
	if (memcmp(buf, GW_BATCH_MAGIC, 4) != 0) {
		*why = "bad magic";
		return GW_ECORRUPT;
	}
	if (len < 8) {
		*why = "truncated header";
		return GW_ECORRUPT;
	}
	r.pos = 4;
	unsigned version = (unsigned)get_le(&r, 2);
	/* Versions 1..GW_BATCH_VERSION are read; a later one is named as
	 * such (an older gwctl meeting a newer gateway's file), never as
	 * corruption. */
	if (version == 0 || version > GW_BATCH_VERSION) {
		*why = "unsupported version";
		return GW_EVERSION;
	}
	if (len < HDR_FIXED + 2 + 4) {
		*why = "truncated header";
		return GW_ECORRUPT;
	}
	uint32_t want = (uint32_t)buf[len - 4] | (uint32_t)buf[len - 3] << 8 |
			(uint32_t)buf[len - 2] << 16 | (uint32_t)buf[len - 1] << 24;
	uint32_t crc = gw_crc32(buf, len - 4);
	if (crc != want) {
		*why = "bad CRC";
		return GW_ECORRUPT;
	}
	b = calloc(1, sizeof(*b));
	if (!b)
		return GW_ENOMEM;
	size_t hlen = (size_t)get_le(&r, 2);
	b->day = (int32_t)(uint32_t)get_le(&r, 4);
	b->revision = (uint32_t)get_le(&r, 4);
	b->created_ms = (int64_t)get_le(&r, 8);
	b->n_days = (size_t)get_le(&r, 4);
	b->n_series = (size_t)get_le(&r, 4);
	uint32_t n_readings = (uint32_t)get_le(&r, 4);
	uint32_t raw_len = (uint32_t)get_le(&r, 4);
	uint32_t clen = (uint32_t)get_le(&r, 4);
	b->n_events = (size_t)get_le(&r, 4);
	size_t gl = (size_t)get_le(&r, 1);
	if (!r.bad && gl < sizeof(b->gateway_id) && r.n - r.pos >= gl) {
		memcpy(b->gateway_id, buf + r.pos, gl);
		r.pos += gl;
	} else {
		r.bad = 1;
	}
	size_t zl = (size_t)get_le(&r, 1);
	if (!r.bad && zl < sizeof(b->timezone) && r.n - r.pos >= zl) {
		memcpy(b->timezone, buf + r.pos, zl);
		r.pos += zl;
	} else {
		r.bad = 1;
	}
	int rc = GW_ECORRUPT;
	if (r.bad || r.pos != hlen) {
		*why = "bad header length";
		goto fail;
	}
	if (raw_len > MAX_RAW || (uint64_t)hlen + clen + 4 != len) {
		*why = "lengths do not add up to the file size";
		goto fail;
	}
	uint8_t *raw = malloc(raw_len ? raw_len : 1);
	if (!raw) {
		rc = GW_ENOMEM;
		goto fail;
	}
	uLongf got = raw_len;
	int zrc = uncompress(raw, &got, buf + hlen, clen);
	if (zrc != Z_OK || got != raw_len) {
		free(raw);
		*why = zrc == Z_OK || zrc == Z_BUF_ERROR
			       ? "payload length differs from the header"
			       : "payload does not inflate";
		rc = zrc == Z_MEM_ERROR ? GW_ENOMEM : GW_ECORRUPT;
		goto fail;
	}
	rc = decode_payload(b, raw, raw_len, n_readings);
	free(raw);
	if (rc) {
		if (rc == GW_ECORRUPT)
			*why = "payload does not decode";
		goto fail;
	}
	if (crcp)
		*crcp = crc;
	*out = b;
	return 0;
fail:
	gw_batch_free(b);
	return rc;
}

int gw_batch_read_file(const char *path, struct gw_batch **out, uint32_t *crc)
{
	const char *why;

	return gw_batch_read_file_ex(path, out, crc, &why);
}

int gw_batch_read_file_ex(const char *path, struct gw_batch **out,
			  uint32_t *crc, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;
	size_t got = 0;

	*out = NULL;
	*why = "";
	if (fd < 0)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return GW_EIO;
	}
	if (st.st_size > (off_t)MAX_RAW + 4096) {
		close(fd);
		*why = "file too large";
		return GW_ECORRUPT;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return GW_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	int rc = got == (size_t)st.st_size ? gw_batch_decode_ex(buf, got, out, crc, why)
					   : GW_EIO;
	free(buf);
	return rc;
}

int gw_batch_filename(const struct gw_batch *b, char *buf, size_t cap)
{
	char day[16];
	int n = snprintf(buf, cap, "%s_%s_r%u.gwb", b->gateway_id,
			 gw_day_format(b->day, day, sizeof(day)), b->revision);

	return n < 0 || (size_t)n >= cap ? GW_EINVAL : 0;
}

/* ---- spool directory ---- */

static const char *const subdirs[] = {"ready", "done", "quarantine", "tmp"};

int gw_spool_open(const char *dir)
{
	char path[GW_PATH_MAX];

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		gw_err("spool %s: cannot create: %s", dir, strerror(errno));
		return GW_EIO;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0750) != 0 && errno != EEXIST) {
			gw_err("spool %s: cannot create: %s", path, strerror(errno));
			return GW_EIO;
		}
	}
	return gw_fsync_dir(dir);
}

/* GW_ENOSPC for a full file system (or quota), GW_EIO for any other
 * errno of a failed write. */
static int errno_rc(int err)
{
	return err == ENOSPC || err == EDQUOT ? GW_ENOSPC : GW_EIO;
}

int gw_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	if (fd < 0) {
		err = errno;
		gw_err("%s: cannot open directory: %s", dir, strerror(err));
		errno = err;
		return GW_EIO;
	}
	if (fsync(fd) != 0) {
		err = errno;
		gw_err("%s: fsync of directory failed: %s", dir, strerror(err));
		close(fd);
		errno = err;
		return errno_rc(err);
	}
	close(fd);
	return 0;
}

static void dirname_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == path)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* gw_write_file_durable; `quiet` leaves a failure to the caller to log
 * (the status files, whose first way fails on every write while the disk
 * is full). */
static int write_durable(const char *tmp_path, const char *path,
			 const uint8_t *buf, size_t len, int quiet)
{
	char dir[GW_PATH_MAX];
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	size_t done = 0;
	int err = 0;

	if (fd < 0) {
		err = errno;
		if (!quiet)
			gw_err("%s: cannot create: %s", tmp_path, strerror(err));
		errno = err;
		return errno_rc(err);
	}
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			if (!quiet)
				gw_err("%s: write failed: %s", tmp_path,
				       n < 0 ? strerror(err) : "short write");
			goto fail;
		}
		done += (size_t)n;
	}
	/* A failed fsync means the data may not be on disk: the file is
	 * abandoned, never renamed into place as if it were. */
	if (fsync(fd) != 0) {
		err = errno;
		if (!quiet)
			gw_err("%s: fsync failed: %s", tmp_path, strerror(err));
		goto fail;
	}
	if (close(fd) != 0) {
		err = errno;
		fd = -1;
		gw_err("%s: close failed: %s", tmp_path, strerror(err));
		goto fail;
	}
	fd = -1;
	if (rename(tmp_path, path) != 0) {
		err = errno;
		gw_err("%s: rename to %s failed: %s", tmp_path, path,
		       strerror(err));
		goto fail;
	}
	dirname_of(path, dir, sizeof(dir));
	return gw_fsync_dir(dir);
fail:
	/* Nothing is left in tmp/: a full disk must not fill up with the
	 * halves of files that could not be written. errno is the failure's. */
	if (fd >= 0)
		close(fd);
	unlink(tmp_path);
	errno = err;
	return errno_rc(err);
}

int gw_write_file_durable(const char *tmp_path, const char *path,
			  const uint8_t *buf, size_t len)
{
	return write_durable(tmp_path, path, buf, len, 0);
}

int gw_spool_write(const char *dir, const struct gw_batch *b)
{
	char name[GW_PATH_MAX], tmp[GW_PATH_MAX * 2], dst[GW_PATH_MAX * 2];
	uint8_t *buf;
	size_t len;
	int rc;

	if (gw_batch_filename(b, name, sizeof(name)))
		return GW_EINVAL;
	rc = gw_batch_encode(b, &buf, &len);
	if (rc)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	snprintf(dst, sizeof(dst), "%s/ready/%s", dir, name);
	rc = gw_write_file_durable(tmp, dst, buf, len);
	free(buf);
	return rc;
}

/* Splits "<gw>_<YYYY-MM-DD>_r<rev>.gwb" into day and revision. */
static int parse_name(const char *name, int32_t *day, unsigned long *rev)
{
	size_t n = strlen(name);
	char daybuf[11];

	if (n < 4 || strcmp(name + n - 4, ".gwb") != 0)
		return -1;
	const char *r = NULL;
	for (const char *p = name; (p = strstr(p, "_r")) != NULL; p++)
		r = p;
	if (!r || r - name < 11 || r[-11] != '_')
		return -1;
	char *end;
	*rev = strtoul(r + 2, &end, 10);
	if (end != name + n - 4)
		return -1;
	memcpy(daybuf, r - 10, 10);
	daybuf[10] = '\0';
	return gw_day_parse(daybuf, day) == 0 ? 0 : -1;
}

static int cmp_names(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int32_t dx = 0, dy = 0;
	unsigned long rx = 0, ry = 0;
	int px = parse_name(x, &dx, &rx), py = parse_name(y, &dy, &ry);

	if (px == 0 && py == 0) {
		if (dx != dy)
			return dx < dy ? -1 : 1;
		if (rx != ry)
			return rx < ry ? -1 : 1;
	}
	return strcmp(x, y);
}

int gw_spool_list(const char *dir, const char *sub, char ***names)
{
	char path[GW_PATH_MAX];
	DIR *d;
	struct dirent *e;
	char **v = NULL;
	int n = 0, cap = 0;

	*names = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, sub ? sub : "ready");
	d = opendir(path);
	if (!d) {
		gw_err("%s: cannot list: %s", path, strerror(errno));
		return GW_EIO;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".gwb") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, (size_t)cap * sizeof(*nv));
			if (!nv)
				goto oom;
			v = nv;
		}
		v[n] = strdup(e->d_name);
		if (!v[n])
			goto oom;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), cmp_names);
	*names = v;
	return n;
oom:
	closedir(d);
	gw_spool_list_free(v, n);
	return GW_ENOMEM;
}

void gw_spool_list_free(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int move_to(const char *dir, const char *name, const char *sub)
{
	char from[GW_PATH_MAX * 2], to[GW_PATH_MAX * 2], todir[GW_PATH_MAX * 2];

	snprintf(from, sizeof(from), "%s/ready/%s", dir, name);
	snprintf(to, sizeof(to), "%s/%s/%s", dir, sub, name);
	snprintf(todir, sizeof(todir), "%s/%s", dir, sub);
	if (rename(from, to) != 0) {
		gw_err("%s: cannot move to %s: %s", from, todir, strerror(errno));
		return GW_EIO;
	}
	int rc = gw_fsync_dir(todir);
	if (rc == 0) {
		snprintf(todir, sizeof(todir), "%s/ready", dir);
		rc = gw_fsync_dir(todir);
	}
	return rc;
}

int gw_spool_mark_done(const char *dir, const char *name)
{
	return move_to(dir, name, "done");
}

int gw_spool_quarantine(const char *dir, const char *name)
{
	return move_to(dir, name, "quarantine");
}

int gw_spool_refuse(const char *dir, const char *name, const char *why)
{
	char path[GW_PATH_MAX * 2], tmp[GW_PATH_MAX * 2], text[1100];
	int n;

	snprintf(path, sizeof(path), "%s/quarantine/%s.refused", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.refused", dir, name);
	/* One line: the message with its line breaks made spaces. */
	n = snprintf(text, sizeof(text) - 1, "%s", why ? why : "");
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(text) - 2)
		n = (int)sizeof(text) - 2;
	for (int i = 0; i < n; i++)
		if (text[i] == '\n' || text[i] == '\r' || text[i] == '\t')
			text[i] = ' ';
	text[n++] = '\n';
	int rc = gw_write_file_durable(tmp, path, (const uint8_t *)text, (size_t)n);
	if (rc)
		return rc;
	return move_to(dir, name, "quarantine");
}

int gw_spool_unrefuse(const char *dir, const char *name)
{
	char from[GW_PATH_MAX * 2], to[GW_PATH_MAX * 2], note[GW_PATH_MAX * 2];

	snprintf(note, sizeof(note), "%s/quarantine/%s.refused", dir, name);
	if (access(note, F_OK) != 0)
		return GW_ENOTFOUND;
	snprintf(from, sizeof(from), "%s/quarantine/%s", dir, name);
	snprintf(to, sizeof(to), "%s/done/%s", dir, name);
	if (rename(from, to) != 0) {
		gw_err("%s: cannot move to done/: %s", from, strerror(errno));
		return GW_EIO;
	}
	if (unlink(note) != 0 && errno != ENOENT) {
		gw_err("%s: cannot remove: %s", note, strerror(errno));
		return GW_EIO;
	}
	snprintf(to, sizeof(to), "%s/done", dir);
	int rc = gw_fsync_dir(to);
	if (rc == 0) {
		snprintf(to, sizeof(to), "%s/quarantine", dir);
		rc = gw_fsync_dir(to);
	}
	return rc;
}

int gw_spool_refused_reason(const char *dir, const char *name, char *buf,
			    size_t cap)
{
	char path[GW_PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/quarantine/%s.refused", dir, name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (cap > 0) {
		if (!fgets(buf, (int)cap, f))
			buf[0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
	}
	fclose(f);
	return 1;
}

int gw_spool_next_revision(const char *dir, const char *gateway_id, int32_t day)
{
	char prefix[GW_ID_MAX + 16], daybuf[16];
	int next = 0;

	snprintf(prefix, sizeof(prefix), "%s_%s_r", gateway_id,
		 gw_day_format(day, daybuf, sizeof(daybuf)));
	for (size_t s = 0; s < 3; s++) {
		char **names;
		int n = gw_spool_list(dir, subdirs[s], &names);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			int32_t d;
			unsigned long rev;
			if (strncmp(names[i], prefix, strlen(prefix)) == 0 &&
			    parse_name(names[i], &d, &rev) == 0 && d == day &&
			    (int)rev >= next)
				next = (int)rev + 1;
		}
		gw_spool_list_free(names, n);
	}
	return next;
}

/* ---- recovery at start ---- */

int gw_spool_recover(const char *dir, struct gw_spool_recovery *rec)
{
	char path[GW_PATH_MAX * 2];
	DIR *d;
	struct dirent *e;

	memset(rec, 0, sizeof(*rec));
	/* tmp/ holds only files that were never renamed into place: a write
	 * interrupted by the crash. Their day is still open (or in the
	 * journal), so they are simply removed. */
	snprintf(path, sizeof(path), "%s/tmp", dir);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/tmp/%s", dir, e->d_name);
			if (unlink(path) == 0)
				rec->tmp_removed++;
		}
		closedir(d);
		snprintf(path, sizeof(path), "%s/tmp", dir);
		if (rec->tmp_removed && gw_fsync_dir(path))
			return GW_EIO;
	}
	char **names;
	int n = gw_spool_list(dir, "ready", &names);
	if (n < 0)
		return n;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct gw_batch *b;
		const char *why;
		snprintf(path, sizeof(path), "%s/ready/%s", dir, names[i]);
		int r = gw_batch_read_file_ex(path, &b, NULL, &why);
		if (r == 0) {
			gw_batch_free(b);
			rec->ready_ok++;
		} else if (r == GW_ECORRUPT || r == GW_EVERSION) {
			gw_err("spool: ready/%s: %s (%s); moved to quarantine/",
			       names[i], gw_strerror(r), why);
			rc = gw_spool_quarantine(dir, names[i]);
			rec->quarantined++;
		} else if (r == GW_ENOMEM) {
			rc = r;
		} else {
			gw_err("spool: ready/%s: %s", names[i], gw_strerror(r));
		}
	}
	gw_spool_list_free(names, n);
	return rc;
}

/* ---- which days are sealed, and what the clock read ---- */

/* <dir>/state: "key=value" lines; unknown keys are skipped, so that a
 * later version may add some. A gateway of the version before "seen"
 * wrote the first line only. */
int gw_spool_state_read(const char *dir, struct gw_spool_state *st)
{
	char path[GW_PATH_MAX + 16], line[128];
	int ln = 0, bad = 0;

	st->next_day = INT32_MIN;
	st->seen_ms = 0;
	snprintf(path, sizeof(path), "%s/state", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	while (fgets(line, sizeof(line), f)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		int32_t d;
		int64_t ms;
		if (strncmp(line, "next_day=", 9) == 0) {
			if (gw_day_parse(line + 9, &d) == 0 && strlen(line + 9) == 10)
				st->next_day = d;
			else if (!bad)
				bad = ln;
		} else if (strncmp(line, "seen=", 5) == 0) {
			if (gw_parse_utc(line + 5, &ms) == 0 && ms > 0)
				st->seen_ms = ms;
			else if (!bad)
				bad = ln;
		} else if (line[0] && !strchr(line, '=') && !bad) {
			bad = ln;
		}
	}
	fclose(f);
	if (bad) {
		gw_warn("%s:%d: not understood", path, bad);
		return GW_ECORRUPT;
	}
	return 0;
}

int gw_spool_state_save(const char *dir, const struct gw_spool_state *st)
{
	char path[GW_PATH_MAX + 16], tmp[GW_PATH_MAX + 32], day[16], t[40];
	char text[128];
	int n = 0;

	if (st->next_day != INT32_MIN)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "next_day=%s\n",
			      gw_day_format(st->next_day, day, sizeof(day)));
	if (st->seen_ms > 0)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "seen=%s\n",
			      gw_format_utc(st->seen_ms, t, sizeof(t)));
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp/state", dir);
	return gw_write_file_durable(tmp, path, (const uint8_t *)text, (size_t)n);
}

int gw_spool_state_write(const char *dir, int32_t next_day)
{
	struct gw_spool_state st;

	if (gw_spool_state_read(dir, &st) == GW_EIO)
		return GW_EIO;
	st.next_day = next_day;
	return gw_spool_state_save(dir, &st);
}

int gw_spool_next_day(const char *dir, const char *gateway_id, int32_t *next_day)
{
	char prefix[GW_ID_MAX + 2];
	struct gw_spool_state st;
	int32_t best = INT32_MIN;

	int r = gw_spool_state_read(dir, &st);
	if (r == 0)
		best = st.next_day;
	else if (r == GW_ECORRUPT)
		gw_warn("spool %s/state: using the batch files", dir);
	else if (r == GW_EIO)
		return r;
	/* A batch in ready/ or done/ proves its day sealed even if the state
	 * file was not rewritten before a crash. */
	snprintf(prefix, sizeof(prefix), "%s_", gateway_id);
	for (int s = 0; s < 2; s++) {
		char **names;
		int n = gw_spool_list(dir, s ? "done" : "ready", &names);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			int32_t d;
			unsigned long rev;
			size_t pl = strlen(prefix);
			if (strncmp(names[i], prefix, pl) == 0 &&
			    strlen(names[i]) > pl + 12 &&
			    strncmp(names[i] + pl + 10, "_r", 2) == 0 &&
			    parse_name(names[i], &d, &rev) == 0 && d + 1 > best)
				best = d + 1;
		}
		gw_spool_list_free(names, n);
	}
	*next_day = best;
	return 0;
}

int gw_spool_lock(const char *dir, int *fd, long *holder)
{
	char path[GW_PATH_MAX + 16], text[32];

	*fd = -1;
	if (holder)
		*holder = 0;
	snprintf(path, sizeof(path), "%s/lock", dir);
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (f < 0) {
		gw_err("%s: cannot open: %s", path, strerror(errno));
		return GW_EIO;
	}
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;
		if (busy && holder) {
			ssize_t n = pread(f, text, sizeof(text) - 1, 0);
			text[n > 0 ? n : 0] = '\0';
			*holder = strtol(text, NULL, 10);
		}
		if (!busy)
			gw_err("%s: cannot lock: %s", path, strerror(errno));
		close(f);
		return busy ? 1 : GW_EIO;
	}
	/* Who holds it, for the message of whoever finds it taken; not
	 * needed for the lock itself, so a failure here is not one. */
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, text, (size_t)n, 0) != n)
		gw_debug("%s: cannot record the pid", path);
	*fd = f;
	return 0;
}

/* ---- size bound ---- */

/* Bytes of the files in dir/sub; *count counts them, except the
 * ".refused" notes, which *refused counts (either may be NULL). */
static uint64_t dir_bytes(const char *dir, const char *sub, unsigned *count,
			  unsigned *refused)
{
	char path[GW_PATH_MAX * 2], f[GW_PATH_MAX * 3];
	uint64_t total = 0;
	struct dirent *e;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
			size_t len = strlen(e->d_name);

			total += (uint64_t)st.st_size;
			if (len > 8 && strcmp(e->d_name + len - 8, ".refused") == 0) {
				if (refused)
					(*refused)++;
			} else if (count) {
				(*count)++;
			}
		}
	}
	closedir(d);
	return total;
}

int gw_spool_usage(const char *dir, struct gw_spool_usage *u)
{
	memset(u, 0, sizeof(*u));
	u->ready = dir_bytes(dir, "ready", &u->n_ready, NULL);
	u->done = dir_bytes(dir, "done", &u->n_done, NULL);
	u->quarantine = dir_bytes(dir, "quarantine", &u->n_quarantine,
				  &u->n_refused);
	u->journal = dir_bytes(dir, "journal", NULL, NULL);
	u->tmp = dir_bytes(dir, "tmp", NULL, NULL);
	u->total = u->ready + u->done + u->quarantine + u->journal + u->tmp;
	return 0;
}

static uint64_t file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Rewrites ready/<name> without its interval series, atomically: the new
 * file is written durably to tmp/ and exchanged with the old one, so that
 * an upload that moved the old one to done/ meanwhile is not undone (the
 * exchange then fails and the new file is dropped). Returns bytes freed
 * (>= 0), or a negative GW_E* code. */
static int64_t drop_intervals(const char *dir, const char *name)
{
	char src[GW_PATH_MAX * 2], tmp[GW_PATH_MAX * 2], rdir[GW_PATH_MAX + 8];
	struct gw_batch *b;
	const char *why;
	uint8_t *buf;
	size_t len;

	snprintf(src, sizeof(src), "%s/ready/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	snprintf(rdir, sizeof(rdir), "%s/ready", dir);
	int rc = gw_batch_read_file_ex(src, &b, NULL, &why);
	if (rc)
		return rc == GW_ENOTFOUND ? 0 : rc;
	if (b->n_series == 0) {
		gw_batch_free(b);
		return 0;
	}
	uint64_t before = file_bytes(src);
	for (size_t i = 0; i < b->n_series; i++) {
		free(b->series[i].ts_ms);
		free(b->series[i].value);
	}
	b->n_series = 0;
	rc = gw_batch_encode(b, &buf, &len);
	gw_batch_free(b);
	if (rc)
		return rc;
	/* write + fsync to tmp/, then exchange: never a moment without a
	 * complete file under ready/<name> */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	size_t done = 0;
	if (fd < 0) {
		free(buf);
		return GW_EIO;
	}
	while (done < len) {
		ssize_t n = write(fd, buf + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	free(buf);
	if (done != len || fsync(fd) != 0) {
		gw_err("spool: %s: write or fsync failed: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		return GW_EIO;
	}
	close(fd);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, src, RENAME_EXCHANGE) != 0) {
		int err = errno;
		unlink(tmp);
		if (err == ENOENT)
			return 0; /* uploaded meanwhile */
		gw_err("spool: cannot replace %s: %s", src, strerror(err));
		return GW_EIO;
	}
	/* tmp now holds the old file */
	unlink(tmp);
	if (gw_fsync_dir(rdir))
		return GW_EIO;
	uint64_t after = file_bytes(src);
	return before > after ? (int64_t)(before - after) : 0;
}

int gw_spool_enforce(const char *dir, const struct gw_spool_bound *bnd,
		     struct gw_spool_enforce *res)
{
	struct gw_spool_usage u;
	char path[GW_PATH_MAX * 2];
	int rc = 0;

	memset(res, 0, sizeof(*res));
	gw_spool_usage(dir, &u);
	res->before = res->after = u.total;
	if (bnd->max_bytes == 0 || u.total <= bnd->max_bytes)
		return 0;
	/* Once over the bound, free down to 90% of it, so that the next
	 * sealed day does not start the same work again. */
	uint64_t target = bnd->max_bytes - bnd->max_bytes / 10;
	uint64_t total = u.total;

	/* 1. Uploaded batches: their content is in the database. The file
	 * is emptied, not removed, so that its name keeps the revision
	 * numbers of that day unique. */
	char **names;
	int n = gw_spool_list(dir, "done", &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n && total > target; i++) {
		snprintf(path, sizeof(path), "%s/done/%s", dir, names[i]);
		uint64_t sz = file_bytes(path);
		if (sz == 0)
			continue;
		int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0) {
			gw_err("spool: cannot empty %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = GW_EIO;
			break;
		}
		close(fd);
		total -= sz;
		res->done_pruned++;
	}
	gw_spool_list_free(names, n);
	if (res->done_pruned)
		gw_info("spool: over its bound; emptied %u uploaded batch%s in done/",
			res->done_pruned, res->done_pruned == 1 ? "" : "es");
	if (rc)
		goto out;
	/* 2. Interval detail of the oldest batches not yet uploaded goes
	 * before their daily totals (what customers are billed from). */
	if (total > bnd->max_bytes && bnd->policy == GW_SPOOL_DROP_INTERVALS) {
		n = gw_spool_list(dir, "ready", &names);
		if (n < 0)
			return n;
		for (int i = 0; i < n && total > target; i++) {
			int64_t freed = drop_intervals(dir, names[i]);
			if (freed < 0) {
				rc = (int)freed;
				break;
			}
			if (freed > 0) {
				gw_err("spool: over its bound of %llu bytes; dropped the "
				       "interval readings of %s (daily totals kept)",
				       (unsigned long long)bnd->max_bytes, names[i]);
				total -= (uint64_t)freed > total ? total : (uint64_t)freed;
				res->intervals_dropped++;
			}
		}
		gw_spool_list_free(names, n);
		if (rc)
			goto out;
	}
	/* 3. Whole batches not yet uploaded: only if the operator allowed it. */
	if (total > bnd->max_bytes && bnd->allow_delete_unuploaded) {
		n = gw_spool_list(dir, "ready", &names);
		if (n < 0)
			return n;
		for (int i = 0; i < n && total > target; i++) {
			snprintf(path, sizeof(path), "%s/ready/%s", dir, names[i]);
			uint64_t sz = file_bytes(path);
			if (unlink(path) != 0)
				continue;
			gw_err("spool: over its bound; DELETED %s before upload "
			       "(allow_delete_unuploaded = yes)", names[i]);
			total -= sz > total ? total : sz;
			res->deleted_unuploaded++;
		}
		gw_spool_list_free(names, n);
		snprintf(path, sizeof(path), "%s/ready", dir);
		if (res->deleted_unuploaded && gw_fsync_dir(path))
			rc = GW_EIO;
	}
out:
	gw_spool_usage(dir, &u);
	res->after = u.total;
	res->over = u.total > bnd->max_bytes;
	if (res->over)
		gw_err("spool: FULL: %llu bytes, bound %llu; nothing more may be "
		       "dropped by policy; sealed days are kept",
		       (unsigned long long)u.total, (unsigned long long)bnd->max_bytes);
	return rc;
}

uint64_t gw_spool_disk_free(const char *dir)
{
	struct statvfs vs;

	if (statvfs(dir, &vs) != 0)
		return UINT64_MAX;
	return (uint64_t)vs.f_bavail * vs.f_frsize;
}

int gw_spool_free_done(const char *dir, uint64_t want_free, unsigned *emptied)
{
	char path[GW_PATH_MAX * 2], **names;
	int rc = 0;

	*emptied = 0;
	int n = gw_spool_list(dir, "done", &names);
	if (n < 0)
		return n;
	/* Oldest first, as the size bound does; the empty file keeps the
	 * name, so later revisions of its day stay numbered above it.
	 * Truncating needs no free block. */
	for (int i = 0; i < n && gw_spool_disk_free(dir) < want_free; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/done/%s", dir, names[i]);
		if (stat(path, &st) != 0 || st.st_size == 0)
			continue;
		int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0) {
			gw_err("spool: cannot empty %s: %s", path, strerror(errno));
			if (fd >= 0)
				close(fd);
			rc = GW_EIO;
			break;
		}
		close(fd);
		(*emptied)++;
	}
	gw_spool_list_free(names, n);
	if (*emptied)
		gw_warn("spool: the disk is full; emptied %u uploaded batch%s in "
			"done/ (their data is in the database)", *emptied,
			*emptied == 1 ? "" : "es");
	return rc;
}

/* ---- status files ----
 *
 * <spool>/status and <spool>/health must tell the truth when the disk is
 * full, which is exactly when writing a new file and renaming it over the
 * old one cannot work. So each is kept at a whole number of 4 KiB blocks
 * (its text, a trailer line, then a padding line), and written one of two
 * ways:
 *   - normally like every durable file: a new file in tmp/, fsync, rename,
 *     fsync of the spool directory; a reader sees the old file or the new;
 *   - when that fails (no room for the new file), in place: the new text
 *     over the old one within the blocks the file already has, which needs
 *     no free block (ext4, f2fs, tmpfs; not a copy-on-write file system such
 *     as btrfs), then fdatasync.
 * In place, a reader may catch a mix of the old text and the new, and a
 * power loss in the middle may leave one behind. The trailer tells: it
 * holds the length and CRC-32 of the text before it, and
 * gw_spool_status_read() checks them (and gwctl reads again).
 */
#define STATUS_BLOCK 4096
#define STATUS_TRAILER "#end len="
#define STATUS_PAD "# room for this file to be rewritten in place when the disk is full"

/* The file image of text (tlen bytes, without its trailer): at least
 * `size` bytes, rounded up to whole blocks. Returns a malloc'ed buffer of
 * *len bytes, or NULL. */
static uint8_t *status_image(const char *text, size_t tlen, size_t size,
			     size_t *len)
{
	char trailer[64];
	size_t nl = tlen > 0 && text[tlen - 1] != '\n'; /* a last \n added */
	uint32_t crc = gw_crc32((const uint8_t *)text, tlen);
	if (nl)
		crc = (uint32_t)crc32(crc, (const Bytef *)"\n", 1);
	int tn = snprintf(trailer, sizeof(trailer), STATUS_TRAILER "%zu crc=%08x\n",
			  tlen + nl, (unsigned)crc);
	size_t used = tlen + nl + (size_t)tn + 1; /* + the padding's \n */
	size_t n = used > size ? used : size;
	n = (n + STATUS_BLOCK - 1) / STATUS_BLOCK * STATUS_BLOCK;
	uint8_t *img = malloc(n);
	if (!img)
		return NULL;
	memcpy(img, text, tlen);
	if (nl)
		img[tlen] = '\n';
	memcpy(img + tlen + nl, trailer, (size_t)tn);
	size_t at = tlen + nl + (size_t)tn, pad = n - at;
	memset(img + at, ' ', pad);
	if (pad > sizeof(STATUS_PAD))
		memcpy(img + at, STATUS_PAD, sizeof(STATUS_PAD) - 1);
	img[n - 1] = '\n';
	*len = n;
	return img;
}

/* Rewrites path in place with text, within the file's present size.
 * Returns 0, or GW_ENOSPC / GW_EIO (failed_errno's kind if the file is
 * missing or too small). */
static int status_in_place(const char *path, const char *text, int failed_errno)
{
	struct stat st;
	size_t len = 0, done = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;

	if (fd < 0)
		return errno_rc(failed_errno);
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return errno_rc(err);
	}
	uint8_t *img = status_image(text, strlen(text), (size_t)st.st_size, &len);
	if (!img) {
		close(fd);
		return GW_ENOMEM;
	}
	if ((off_t)len != st.st_size) {
		/* the text outgrew the room: growing needs free blocks */
		free(img);
		close(fd);
		return errno_rc(failed_errno);
	}
	while (done < len) {
		ssize_t n = pwrite(fd, img + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			goto fail;
		}
		done += (size_t)n;
	}
	if (fdatasync(fd) != 0) {
		err = errno;
		goto fail;
	}
	free(img);
	close(fd);
	return 0;
fail:
	gw_err("%s: rewriting in place failed: %s", path, strerror(err));
	free(img);
	close(fd);
	return errno_rc(err);
}

int gw_spool_status_write(const char *dir, const char *name, const char *text)
{
	char path[GW_PATH_MAX + 64], tmp[GW_PATH_MAX + 80];
	struct stat st;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	/* never smaller than now: the room stays for the next rewrite */
	uint8_t *img = status_image(text, strlen(text),
				    stat(path, &st) == 0 ? (size_t)st.st_size : 0,
				    &len);
	if (!img)
		return GW_ENOMEM;
	int rc = write_durable(tmp, path, img, len, 1);
	int err = errno;
	free(img);
	if (rc == 0)
		return 0;
	if (status_in_place(path, text, err) != 0) {
		errno = err;
		return rc;
	}
	errno = err;
	return 1;
}

int gw_spool_status_read(const char *dir, const char *name, char **text)
{
	char path[GW_PATH_MAX + 64];
	struct stat st;
	int fd;

	*text = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	if (fstat(fd, &st) != 0 || st.st_size > (16 << 20)) {
		close(fd);
		return GW_EIO;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	size_t got = 0;
	if (!buf) {
		close(fd);
		return GW_ENOMEM;
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	/* The first trailer line ends the text. A file without one was
	 * written whole by a gatewayd before trailers (renamed into place). */
	char *t = NULL; /* where the trailer line starts */
	if (strncmp(buf, STATUS_TRAILER, strlen(STATUS_TRAILER)) == 0)
		t = buf; /* an empty text */
	else if ((t = strstr(buf, "\n" STATUS_TRAILER)) != NULL)
		t++;
	if (t) {
		char *p = t + strlen(STATUS_TRAILER), *end;
		unsigned long long l = strtoull(p, &end, 10);
		unsigned long c = 0;
		int ok = end != p && strncmp(end, " crc=", 5) == 0;
		if (ok) {
			p = end + 5;
			c = strtoul(p, &end, 16);
			ok = end == p + 8 && *end == '\n';
		}
		size_t tl = (size_t)(t - buf);
		if (!ok || l != tl ||
		    gw_crc32((const uint8_t *)buf, tl) != (uint32_t)c) {
			free(buf);
			return GW_ECORRUPT;
		}
		buf[tl] = '\0';
	} else if (memchr(buf, '\0', got)) {
		free(buf);
		return GW_ECORRUPT;
	}
	*text = buf;
	return 0;
}
