/* SPDX-License-Identifier: MIT */
/*
 * bytes.c - little-endian fields, varints, zigzag, strings and CRC-32 for
 * the batch files and the journal, big-endian fields for the uploader;
 * see bytes.h.
 */
#include <stdlib.h>
#include <string.h>

#include "bytes.h"
#include "crc32.h"

/* ---- writing ---- */

void gw_wbuf_need(struct gw_wbuf *b, size_t more)
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

void gw_wbuf_put(struct gw_wbuf *b, const void *src, size_t n)
{
	gw_wbuf_need(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->n, src, n);
	b->n += n;
}

void gw_wbuf_u8(struct gw_wbuf *b, uint8_t v)
{
	gw_wbuf_put(b, &v, 1);
}

void gw_wbuf_le(struct gw_wbuf *b, uint64_t v, int width)
{
	uint8_t t[8];

	gw_le_put(t, v, width);
	gw_wbuf_put(b, t, (size_t)width);
}

void gw_wbuf_be(struct gw_wbuf *b, uint64_t v, int width)
{
	uint8_t t[8];

	gw_be_put(t, v, width);
	gw_wbuf_put(b, t, (size_t)width);
}

void gw_wbuf_varint(struct gw_wbuf *b, uint64_t v)
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
	gw_wbuf_put(b, t, (size_t)n);
}

void gw_wbuf_str(struct gw_wbuf *b, const char *s)
{
	size_t n = strlen(s);

	gw_wbuf_varint(b, n);
	gw_wbuf_put(b, s, n);
}

/* ---- reading ---- */

uint64_t gw_rbuf_le(struct gw_rbuf *r, int width)
{
	if (r->bad || r->n - r->pos < (size_t)width) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = gw_le_get(r->p + r->pos, width);
	r->pos += (size_t)width;
	return v;
}

uint64_t gw_rbuf_varint(struct gw_rbuf *r)
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

/* n bytes of string (its length already read) into dst. */
static void take_str(struct gw_rbuf *r, uint64_t n, char *dst, size_t cap)
{
	dst[0] = '\0';
	if (r->bad || n >= cap || r->n - r->pos < n) {
		r->bad = 1;
		return;
	}
	memcpy(dst, r->p + r->pos, (size_t)n);
	dst[n] = '\0';
	if (memchr(dst, '\0', (size_t)n))
		r->bad = 1;
	r->pos += (size_t)n;
}

void gw_rbuf_str(struct gw_rbuf *r, char *dst, size_t cap)
{
	take_str(r, gw_rbuf_varint(r), dst, cap);
}

void gw_rbuf_str8(struct gw_rbuf *r, char *dst, size_t cap)
{
	take_str(r, gw_rbuf_le(r, 1), dst, cap);
}

/* ---- fields in memory ---- */

void gw_le_put(uint8_t *p, uint64_t v, int width)
{
	for (int i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void gw_be_put(uint8_t *p, uint64_t v, int width)
{
	for (int i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

uint64_t gw_le_get(const uint8_t *p, int width)
{
	uint64_t v = 0;

	for (int i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- signed numbers ---- */

uint64_t gw_zigzag(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

int64_t gw_unzigzag(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

int64_t gw_wrap_sub(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

int64_t gw_wrap_add(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

int64_t gw_to_i64(uint64_t v)
{
	return v <= INT64_MAX ? (int64_t)v : -(int64_t)(UINT64_MAX - v) - 1;
}

int32_t gw_to_i32(uint64_t v)
{
	v &= 0xffffffffu;
	return v <= INT32_MAX ? (int32_t)v : -(int32_t)(0xffffffffu - v) - 1;
}

int8_t gw_to_i8(uint8_t v)
{
	return v <= INT8_MAX ? (int8_t)v : (int8_t)(-(int)(0xffu - v) - 1);
}

/* ---- CRC ---- */

/* zlib's CRC-32, by gw_crc32_up (crc32.c: the same values, folded 16
 * bytes at a time where the CPU can): the journal's records, the
 * batch files and the other files checked with it. */
uint32_t gw_crc32(const uint8_t *buf, size_t len)
{
	return gw_crc32_up(0, buf, len);
}
