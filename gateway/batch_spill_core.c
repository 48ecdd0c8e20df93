/* SPDX-License-Identifier: MIT */
/*
 * batch_spill_core.c - the batching core's side of the points it spills
 * (batch_spill.h is the store, the files): a pass a day, started when the
 * open day is sealed, moves every track's points before that day's end
 * to a record in the store (batch_store.c, spill_track), and a track
 * opened again reads its record back. What is spilled is a cache of the
 * journal: a record that cannot be read back whole and with its CRC
 * right makes the batcher "broken" - it then seals nothing more, and
 * gatewayd starts over from the journal (batch.h).
 *
 * Two generations of records at most: the pass of a day writes to the
 * one not read from, moves each track there, and then drops the other.
 */
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "batch_int.h"

#define SPILL_FIRST 496 /* bytes of points read with the header */

void gw_batcher_set_spill(struct gw_batcher *b, struct gw_spill *store)
{
	if (!b->spl)
		b->spl = calloc(1, sizeof(*b->spl));
	if (!b->spl) {
		gw_spill_close(store);
		return;
	}
	gw_spill_close(b->spl->store);
	b->spl->store = store;
}

void batch_spill_free(struct gw_batcher *b)
{
	if (!b->spl)
		return;
	gw_spill_close(b->spl->store);
	free(b->spl->buf);
	free(b->spl);
	b->spl = NULL;
}

int gw_batcher_spill_broken(const struct gw_batcher *b)
{
	return batch_spill_broken(b);
}

int batch_spill_broken(const struct gw_batcher *b)
{
	return b->spl && b->spl->broken;
}

void gw_batcher_spill_stats(const struct gw_batcher *b, struct gw_spill_stats *st)
{
	gw_spill_stats(b->spl ? b->spl->store : NULL, st);
}

/* Room for want bytes in the buffer (what was in it is kept). */
static int grow(struct spill_core *sc, size_t want)
{
	if (want > sc->cap) {
		size_t ncap = sc->cap ? sc->cap : 4096;
		while (ncap < want)
			ncap *= 2;
		uint8_t *nb = realloc(sc->buf, ncap);
		if (!nb)
			return GW_ENOMEM;
		sc->buf = nb;
		sc->cap = ncap;
	}
	return 0;
}

/* Room for n bytes and SPILL_HDR + 8 more in the buffer, zeroed. */
int batch_spill_buf(const struct gw_batcher *b, size_t n)
{
	size_t want = n + SPILL_HDR + 8;

	if (grow(b->spl, want))
		return GW_ENOMEM;
	memset(b->spl->buf, 0, want);
	return 0;
}

void batch_spill_set(const struct gw_batcher *b, struct track *t, uint32_t sp)
{
	struct spill_core *sc = b->spl;

	if (t->sp && sc)
		sc->refs[t->sp & 1]--;
	t->sp = sp;
	if (sp && sc)
		sc->refs[sp & 1]++;
}

static void put32(uint8_t *p, uint32_t x)
{
	p[0] = (uint8_t)x;
	p[1] = (uint8_t)(x >> 8);
	p[2] = (uint8_t)(x >> 16);
	p[3] = (uint8_t)(x >> 24);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* The CRC-32 of a record: its first 12 header bytes, then its bytes. */
static uint32_t record_crc(const uint8_t *hdr, const uint8_t *bytes, size_t len)
{
	uLong c = crc32(0L, hdr, 12);

	return (uint32_t)crc32(c, bytes, (uInt)len);
}

/* Writes the record in the buffer (count points, len bytes after the
 * header) for t into the generation being written; *sp gets its place.
 * A failed write ends the pass's writes (the rest stay in memory).
 * Returns 0 or a GW_E* code. */
int batch_spill_put(const struct gw_batcher *b, const struct track *t,
		    uint32_t count, size_t len, uint32_t *sp)
{
	struct spill_core *sc = b->spl;
	int ng = !sc->gen;
	size_t total = (SPILL_HDR + len + 3) & ~(size_t)3;
	uint64_t off;

	put32(sc->buf, t->hash);
	put32(sc->buf + 4, count);
	put32(sc->buf + 8, (uint32_t)len);
	put32(sc->buf + 12, record_crc(sc->buf, sc->buf + SPILL_HDR, len));
	int rc = gw_spill_write(sc->store, ng, sc->buf, total, &off);
	if (rc == 0 && off + total > UINT32_MAX)
		rc = GW_EFULL; /* a file of 4 GB: the rest stay in memory */
	if (rc) {
		sc->skip = 1;
		return rc;
	}
	*sp = (uint32_t)off | (uint32_t)ng;
	sc->tracks_spilled++;
	sc->points_spilled += count;
	return 0;
}

/* Reads t's record into the buffer: *count points, encoded in *len
 * bytes at *bytes (zeros after them). Returns 0, or GW_EIO when it cannot
 * be read whole or is not t's (the batcher is broken then). */
int batch_spill_load(const struct gw_batcher *b, const struct track *t,
		     uint32_t *count, const uint8_t **bytes, size_t *len)
{
	struct spill_core *sc = b->spl;
	int gen = (int)(t->sp & 1), got;
	uint64_t off = t->sp & ~(uint32_t)1;

	/* one read for the header and most records (a few hundred bytes),
	 * a second for the rest of a longer one */
	if (!sc || grow(sc, SPILL_HDR + SPILL_FIRST + 8) ||
	    (got = gw_spill_read_upto(sc->store, gen, off, sc->buf,
				      SPILL_HDR + SPILL_FIRST)) < SPILL_HDR)
		goto broken;
	uint8_t *hdr = sc->buf;
	*count = get32(hdr + 4);
	*len = get32(hdr + 8);
	if (get32(hdr) != t->hash || *count >= t->n || *count == 0 ||
	    *len > (size_t)*count * 22 + 8)
		goto broken;
	size_t have = (size_t)got - SPILL_HDR;
	if (have < *len) {
		if (grow(sc, SPILL_HDR + *len + 8))
			goto broken;
		hdr = sc->buf; /* moved */
		if (gw_spill_read(sc->store, gen, off + SPILL_HDR + have,
				  sc->buf + SPILL_HDR + have, *len - have))
			goto broken;
	}
	if (record_crc(hdr, hdr + SPILL_HDR, *len) != get32(hdr + 12))
		goto broken;
	memset(hdr + SPILL_HDR + *len, 0, 8);
	*bytes = hdr + SPILL_HDR;
	return 0;
broken:
	if (sc && !sc->broken)
		gw_err("points: the record of %s %s is missing or damaged; nothing "
		       "more is sealed from memory, the journal has to be replayed",
		       t->meter_id, t->obis);
	if (sc)
		sc->broken = 1;
	return GW_EIO;
}

/* Starts the pass of a day (the day just sealed): 1 when records are to
 * be written, 0 when not (no store, the generation still in use, the
 * store cannot make its file: the points stay in memory). */
int batch_spill_begin(struct gw_batcher *b, int32_t day)
{
	struct spill_core *sc = b->spl;

	if (!sc || !sc->store || sc->broken || sc->refs[!sc->gen])
		return 0;
	if (gw_spill_begin(sc->store, !sc->gen, day))
		return 0;
	sc->writing = 1;
	sc->skip = 0;
	sc->tracks_spilled = sc->points_spilled = 0;
	return 1;
}

/* Ends the pass: its generation is the one read from now, and the one
 * before goes when no track's record is left in it. */
void batch_spill_end(struct gw_batcher *b)
{
	struct spill_core *sc = b->spl;

	if (!sc || !sc->writing)
		return;
	sc->writing = 0;
	int old = sc->gen;
	sc->gen = !old;
	if (sc->refs[old] == 0)
		gw_spill_drop(sc->store, old);
}

int gw_batcher_spill_now(struct gw_batcher *b)
{
	if (b->next_day == INT32_MIN || !batch_spill_begin(b, b->next_day - 1))
		return 0;
	batch_prune(b);
	batch_spill_end(b);
	return batch_spill_broken(b) ? GW_EIO : 0;
}
