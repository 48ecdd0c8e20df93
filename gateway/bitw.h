/* SPDX-License-Identifier: MIT */
/*
 * bitw.h - a bit writer for the batching core's encoded points
 * (batch_store.c, batch_spill_core.c): fields of 0 to 64 bits, each from
 * the lowest bit of its value, laid out from the lowest bit of each byte
 * up (the order the core's bit reader takes them in). The bits are
 * gathered in a 64-bit word and stored 8 bytes at a time, where writing
 * each field a byte at a time cost a loop and a read-modify-write per
 * byte. It never writes a byte past the last one holding a bit (whole
 * words are stored only once all their 64 bits are known), so a buffer
 * of ceil(bits / 8) bytes is enough; nothing is read from the buffer.
 */
#ifndef GW_BITW_H
#define GW_BITW_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct gw_bitw {
	uint8_t *p;   /* where the next whole word goes */
	uint64_t acc; /* the n bits not stored yet, from the lowest up */
	unsigned n;   /* 0 .. 63 */
};

/* Starts a writer at p whose first byte already holds the nfirst (0..7)
 * lowest bits of `first` (the last byte of what came before, written
 * again with them): the next field goes after them. */
static inline void gw_bitw_init(struct gw_bitw *w, uint8_t *p, unsigned first,
				unsigned nfirst)
{
	w->p = p;
	w->acc = first & ((1u << nfirst) - 1);
	w->n = nfirst;
}

static inline void gw_bitw_store64(uint8_t *p, uint64_t x)
{
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	memcpy(p, &x, sizeof(x));
}

/* The little-endian word at p (bits being copied from a buffer written
 * this way, 64 at a time). */
static inline uint64_t gw_bitw_load64(const uint8_t *p)
{
	uint64_t x;

	memcpy(&x, p, sizeof(x));
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* Appends the cnt (0..64) lowest bits of v (the bits above them are
 * ignored). */
static inline void gw_bitw_put(struct gw_bitw *w, uint64_t v, unsigned cnt)
{
	if (cnt < 64)
		v &= ((uint64_t)1 << cnt) - 1;
	w->acc |= v << w->n;
	unsigned n = w->n + cnt;
	if (n >= 64) {
		gw_bitw_store64(w->p, w->acc);
		w->p += 8;
		/* the bits of v that did not fit (none when n was 0) */
		w->acc = w->n ? v >> (64 - w->n) : 0;
		n -= 64;
	}
	w->n = n;
}

/* Appends the cnt (0..64) bits of v, none above them set (v < 2^cnt):
 * gw_bitw_put without masking them. */
static inline void gw_bitw_put_fit(struct gw_bitw *w, uint64_t v, unsigned cnt)
{
	w->acc |= v << w->n;
	unsigned n = w->n + cnt;
	if (n >= 64) {
		gw_bitw_store64(w->p, w->acc);
		w->p += 8;
		/* the bits of v that did not fit (none when n was 0: two
		 * shifts, of 64 in all then) */
		w->acc = v >> 1 >> (63 - w->n);
		n -= 64;
	}
	w->n = n;
}

/* Stores the bits not stored yet (the rest of their last byte zero).
 * Returns one past the last byte holding a bit. The writer may go on
 * only after gw_bitw_init again. */
static inline uint8_t *gw_bitw_flush(struct gw_bitw *w)
{
	unsigned nb = (w->n + 7) / 8;

	for (unsigned i = 0; i < nb; i++)
		w->p[i] = (uint8_t)(w->acc >> (8 * i));
	return w->p + nb;
}

/* The bits written since the writer started at `start` (the nfirst
 * given to gw_bitw_init counted among them). */
static inline size_t gw_bitw_bits(const struct gw_bitw *w, const uint8_t *start)
{
	return (size_t)(w->p - start) * 8 + w->n;
}

#endif
