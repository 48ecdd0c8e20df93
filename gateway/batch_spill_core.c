/* SPDX-License-Identifier: MIT */
/*
 * batch_spill_core.c - the batching core's side of the points it spills
 * (batch_spill.h is the store, the files): a pass a day, started when the
 * open day is sealed, moves every track's points before that day's end
 * to a record in the store (batch_store.c, spill_track); a pass
 * SPILL_OPEN_PASSES times in the open day (evenly from its start to its
 * seal) and every SPILL_EVERY_MS of a restart's replay moves the
 * points each track gathered in memory since to a second record after
 * that one, written again with them at each pass (spill_open_track); a
 * track opened again reads its records back. What is spilled is a cache of the
 * journal: a record that cannot be read back whole and with its CRC
 * right makes the batcher "broken" - it then seals nothing more, and
 * gatewayd starts over from the journal (batch.h).
 *
 * Two generations of records at most: the pass of a day writes to the
 * one not read from, moves each track there, and then drops the other;
 * the open day's passes add to the one read from.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "bitw.h"
#include "crc32.h"

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
	for (int i = 0; i < b->spl->ra.n_win; i++)
		free(b->spl->ra.p[i]);
	free(b->spl->held[0].p);
	free(b->spl->held[1].p);
	free(b->spl->wb);
	free(b->spl->buf);
	free(b->spl->cbuf);
	free(b->spl);
	b->spl = NULL;
}

void gw_batcher_set_view(struct gw_batcher *b, int on)
{
	b->no_view = !on;
}

void gw_batcher_view_stats(const struct gw_batcher *b, uint64_t *views,
			   uint64_t *full)
{
	*views = b->views;
	*full = b->view_full;
}

void gw_batcher_edge_stats(const struct gw_batcher *b, uint64_t *views,
			   uint64_t *full)
{
	*views = b->edge_views;
	*full = b->edge_full;
}

void gw_batcher_carry_stats(const struct gw_batcher *b, uint64_t *carried,
			    uint64_t *split, uint64_t *encoded)
{
	*carried = b->spl ? b->spl->carried : 0;
	*split = b->spl ? b->spl->split : 0;
	*encoded = b->spl ? b->spl->encoded : 0;
}

void gw_batcher_set_carry(struct gw_batcher *b, int carry)
{
	if (b->spl)
		b->spl->no_carry = !carry;
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

/* A record's CRC-32 (its first 4 bytes) covers what follows them, the
 * rest of its header and its bytes: one call over the record as it lies
 * in a buffer (rec: its header, its len bytes right after it). zlib's
 * CRC-32, computed by gw_crc32_up (crc32.c: folded 16 bytes at a time
 * where the CPU can). */
static uint32_t record_crc(const uint8_t *rec, size_t len)
{
	return gw_crc32_up(0, rec + 4, SPILL_HDR - 4 + len);
}

/* The same CRC over a header and bytes kept apart. */
static uint32_t record_crc_apart(const uint8_t *hdr, const uint8_t *bytes,
				 size_t len)
{
	return gw_crc32_up(gw_crc32_up(0, hdr + 4, SPILL_HDR - 4), bytes, len);
}

static void put64(uint8_t *p, int64_t x)
{
	put32(p, (uint32_t)(uint64_t)x);
	put32(p + 4, (uint32_t)((uint64_t)x >> 32));
}

static int64_t get64(const uint8_t *p)
{
	return (int64_t)((uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32);
}

/* A coder's state in 28 bytes: the time, the step and the value, then
 * the two means packed (mean_pack: exact, the coder keeps them so); its
 * k goes with the header's flags. */
static void put_state(uint8_t *p, const struct spill_state *s)
{
	put64(p, s->ts);
	put64(p + 8, s->step);
	put64(p + 16, s->v);
	put32(p + 24, (uint32_t)mean_pack(s->mt) | (uint32_t)mean_pack(s->mv) << 16);
}

static void get_state(const uint8_t *p, struct spill_state *s)
{
	uint32_t m = get32(p + 24);

	s->ts = get64(p);
	s->step = get64(p + 8);
	s->v = get64(p + 16);
	s->mt = mean_unpack((uint16_t)m);
	s->mv = mean_unpack((uint16_t)(m >> 16));
}

static uint32_t k_kept(uint32_t k)
{
	return k < SPILL_K_MAX ? k : SPILL_K_MAX;
}

/* The layout: 0 CRC, 4 hash, 8 count, 12 len, 16 prev, 20 total, 24
 * total_len, 28 depth (16 bits), 30 bits (8), 31 flags (bit 0 open, bit
 * 1 pre, bits 4-7 k before it), 32 first_ts, 40 the state before it,
 * 68 after it (k after it in byte 96), 97-103 zeros, 104 pre_v. */
static void hdr_put(uint8_t *p, const struct spill_hdr *h)
{
	put32(p + 4, h->hash);
	put32(p + 8, h->count);
	put32(p + 12, h->len);
	put32(p + 16, h->prev);
	put32(p + 20, h->total);
	put32(p + 24, h->total_len);
	uint32_t flags = (h->open ? 1u : 0u) | (h->pre ? 2u : 0u) |
			 k_kept(h->start.k) << 4;
	put32(p + 28, (uint32_t)h->depth | (uint32_t)h->bits << 16 | flags << 24);
	put64(p + 32, h->first_ts);
	put_state(p + 40, &h->start);
	put_state(p + 68, &h->end);
	put32(p + 96, k_kept(h->end.k));
	put32(p + 100, 0);
	put64(p + 104, h->pre_v);
}

static void hdr_get(const uint8_t *p, struct spill_hdr *h)
{
	h->hash = get32(p + 4);
	h->count = get32(p + 8);
	h->len = get32(p + 12);
	h->prev = get32(p + 16);
	h->total = get32(p + 20);
	h->total_len = get32(p + 24);
	uint32_t d = get32(p + 28);
	h->depth = (uint16_t)d;
	h->bits = (uint8_t)(d >> 16);
	h->open = (uint8_t)(d >> 24 & 1);
	h->pre = (uint8_t)(d >> 25 & 1);
	h->first_ts = get64(p + 32);
	get_state(p + 40, &h->start);
	h->start.k = d >> 28;
	get_state(p + 68, &h->end);
	h->end.k = get32(p + 96);
	h->pre_v = get64(p + 104);
}

/* The header of h and its CRC into the buffer, before its bytes;
 * returns the record's size in the file. */
static size_t rec_seal(struct spill_core *sc, const struct spill_hdr *h)
{
	hdr_put(sc->buf, h);
	put32(sc->buf, record_crc(sc->buf, h->len));
	return (SPILL_HDR + h->len + 3) & ~(size_t)3;
}

/* Writes the seal's pass's gathered records (wb) to its generation. A
 * write that fails leaves them in memory (held: their tracks let their
 * points go when they were gathered, and read them from there) and ends
 * the pass's writes (its other tracks keep their points in memory).
 * Returns 0 or a GW_E* code. */
static int seal_flush(struct spill_core *sc)
{
	int gen = !sc->gen;
	uint64_t off;

	if (!sc->wn)
		return 0;
	int rc = gw_spill_write(sc->store, gen, sc->wb, sc->wn, &off);
	if (rc == 0 && off == sc->w_off) {
		sc->w_off += sc->wn;
		sc->wn = 0;
		return 0;
	}
	/* (off != w_off never: the store writes at its end) */
	sc->held[gen] = (struct spill_held){sc->wb, sc->w_off, sc->wn};
	sc->wb = NULL;
	sc->wn = 0;
	sc->skip = 1;
	return rc ? rc : GW_EIO;
}

/* Writes the record in the buffer (h, with h->len bytes after the
 * header) to generation gen; *sp gets its place. In the seal's pass the
 * records are gathered and written SPILL_IO bytes at a time (one larger
 * alone, after those gathered before it); a record gathered counts as
 * written (it is read from the gathered ones until they are written,
 * and kept in memory when their write fails). A failed write ends the
 * pass's writes (the rest stay in memory). Returns 0 or a GW_E* code. */
int batch_spill_put(const struct gw_batcher *b, int gen, struct spill_hdr *h,
		    uint32_t *sp)
{
	struct spill_core *sc = b->spl;
	size_t total = rec_seal(sc, h);
	uint64_t off;
	int rc;

	if (sc->held[gen & 1].p) {
		/* its file takes no more (its end is where the held ones
		 * stand): never reached, the pass stopped at the failure */
		sc->skip = 1;
		return GW_EIO;
	}
	if (sc->writing && sc->wb && gen == !sc->gen && total <= SPILL_IO) {
		if (sc->wn + total > SPILL_IO && (rc = seal_flush(sc)) != 0)
			return rc;
		if (sc->w_off + sc->wn + total > UINT32_MAX) {
			sc->skip = 1; /* a file of 4 GB: the rest stay in memory */
			return GW_EFULL;
		}
		memcpy(sc->wb + sc->wn, sc->buf, total);
		*sp = (uint32_t)(sc->w_off + sc->wn) | (uint32_t)gen;
		sc->wn += total;
		sc->tracks_spilled++;
		sc->points_spilled += h->count;
		return 0;
	}
	if (sc->writing && sc->wb && gen == !sc->gen && (rc = seal_flush(sc)) != 0)
		return rc;
	rc = gw_spill_write(sc->store, gen, sc->buf, total, &off);
	if (rc == 0 && off + total > UINT32_MAX)
		rc = GW_EFULL; /* a file of 4 GB: the rest stay in memory */
	if (rc) {
		sc->skip = 1;
		return rc;
	}
	if (sc->writing && sc->wb && gen == !sc->gen)
		sc->w_off = off + total;
	*sp = (uint32_t)off | (uint32_t)gen;
	sc->tracks_spilled++;
	sc->points_spilled += h->count;
	return 0;
}

/* A record that cannot be trusted: the batcher is broken from now on. */
static int broken(const struct gw_batcher *b, const struct track *t)
{
	struct spill_core *sc = b->spl;

	if (sc && !sc->broken)
		gw_err("points: the record of %s %s is missing or damaged; nothing "
		       "more is sealed from memory, the journal has to be replayed",
		       track_meter(b, t), track_obis(b, t));
	if (sc)
		sc->broken = 1;
	return GW_EIO;
}

/* What a header may not hold: bits above 7, flags' bits 2 and 3, a k
 * after it above SPILL_K_MAX, bytes 97-103 not zero. */
static int hdr_odd(const uint8_t *hdr)
{
	return (hdr[30] & ~7u) || (hdr[31] & 0x0cu) || get32(hdr + 96) > SPILL_K_MAX ||
	       get32(hdr + 100) != 0;
}

/* Starts reading records ahead (see struct spill_ra): the windows are
 * taken at the first record read (a call that reads none takes none)
 * and given back by the batch_spill_ra_end that ends the outermost
 * begin, so the data they hold never outlives the walk (a file damaged
 * or cut between two walks is read anew). Out of memory, the records
 * are read one at a time, as without. */
void batch_spill_ra_begin(const struct gw_batcher *b)
{
	struct spill_core *sc = b->spl;

	if (sc)
		sc->ra.depth++;
}

/* A window for a run of records a walk starts reading: one more while
 * fewer than SPILL_RA_WIN are taken (the first sets their size), else
 * the one used less lately. Returns it, or -1 (none: read alone). */
static int ra_new(struct spill_ra *ra)
{
	if (ra->n_win < SPILL_RA_WIN && !ra->none) {
		uint8_t *p = malloc(SPILL_RA);
		if (p) {
			ra->p[ra->n_win] = p;
			ra->n[ra->n_win] = 0;
			return ra->n_win++;
		}
		ra->none = 1; /* out of memory: the ones taken serve */
	}
	if (ra->n_win == 0)
		return -1;
	int w = 0;
	for (int i = 1; i < ra->n_win; i++)
		if ((int32_t)(ra->used[i] - ra->used[w]) < 0)
			w = i;
	return w;
}

/* The j-th window to look in: from the one used last on, round. */
static inline int ra_nth(const struct spill_ra *ra, int j)
{
	int i = ra->last + j;

	return i < ra->n_win ? i : i - ra->n_win;
}

/* Frees the windows (the next read takes them anew). */
static void ra_give_back(struct spill_ra *ra)
{
	for (int i = 0; i < ra->n_win; i++) {
		free(ra->p[i]);
		ra->p[i] = NULL;
		ra->n[i] = 0;
	}
	ra->n_win = 0;
	ra->none = 0;
	ra->last = 0;
}

void batch_spill_ra_end(const struct gw_batcher *b)
{
	struct spill_core *sc = b->spl;

	if (!sc || sc->ra.depth == 0 || --sc->ra.depth > 0)
		return;
	ra_give_back(&sc->ra);
}

/* Forgets what the windows and the held records hold of generation gen
 * (its file made anew or dropped). */
static void gen_forget(struct spill_core *sc, int gen)
{
	for (int i = 0; i < sc->ra.n_win; i++)
		if (sc->ra.gen[i] == gen)
			sc->ra.n[i] = 0;
	free(sc->held[gen].p);
	sc->held[gen] = (struct spill_held){0};
}

/* Where the bytes of gen's file at off are when they are in memory and
 * not in the file (the seal's pass's records gathered and not written
 * yet, or held after their write failed): *avail of them from there;
 * else NULL. */
static const uint8_t *in_memory(const struct spill_core *sc, int gen,
				uint64_t off, size_t *avail)
{
	const struct spill_held *h = &sc->held[gen & 1];

	if (sc->writing && sc->wb && gen == !sc->gen && off >= sc->w_off &&
	    off < sc->w_off + sc->wn) {
		*avail = (size_t)(sc->w_off + sc->wn - off);
		return sc->wb + (off - sc->w_off);
	}
	if (h->p && off >= h->off && off < h->off + h->n) {
		*avail = (size_t)(h->off + h->n - off);
		return h->p + (off - h->off);
	}
	return NULL;
}

/* A read on its own (not ahead of a window): enough for a record's
 * head and the rest of most records. */
#define RA_ALONE 4096
/* A window taken anew or refilled begins this much before the record
 * asked for: a chain is read from its last record back, and the records
 * of a track the seal's pass wrote (the window's days) lie one after
 * the other, so the ones before it are in the same window (a run of
 * them read by code goes on a track at a time, each read back). */
#define RA_BACK 4096
_Static_assert(RA_ALONE + RA_BACK <= SPILL_RA, "an alone read in a window");

/* Up to n bytes of gen's file at off into dst: from memory when they
 * are there (in_memory; never from the file then); at least `need` of them
 * (need <= n) from a window when off is in one with them (during a
 * walk: batch_spill_ra_begin .. end; the one used last is looked at
 * first, then the ones after it: a walk by meter over records written
 * by code goes from one code's window to the next). Else, with
 * `fill`: when off lies ahead of a window, within a window's size of
 * its end (a run of records read in the order they lie in the file),
 * that window is refilled at off with as many bytes; when not (a run
 * starts), a window taken for it (ra_new) with RA_ALONE bytes, so that
 * a walk in another order does not read a window a record. Without
 * windows, without `fill`,
 * or when the refill fails (a file cut short under the store may still
 * hold this record whole), read from the file directly as
 * gw_spill_read_upto does, so that a record that does not read back is
 * found as it was without windows. Returns the bytes (at least 1) or
 * GW_EIO (logged). */
static int ra_read(struct spill_core *sc, int gen, uint64_t off, void *dst,
		   size_t n, size_t need, int fill)
{
	struct spill_ra *ra = &sc->ra;
	int w = -1, ahead = -1;
	uint64_t ahead_end = 0;
	size_t avail;
	const uint8_t *mem = in_memory(sc, gen, off, &avail);

	if (mem) {
		/* a record is whole there: fewer bytes only past the last */
		n = avail < n ? avail : n;
		memcpy(dst, mem, n);
		return (int)n;
	}
	if (ra->depth == 0 || n > SPILL_RA)
		return gw_spill_read_upto(sc->store, gen, off, dst, n);
	for (int j = 0; j < ra->n_win; j++) {
		int i = ra_nth(ra, j);
		if (!ra->n[i] || ra->gen[i] != gen || off < ra->off[i])
			continue;
		uint64_t end = ra->off[i] + ra->n[i];
		if (off + need <= end) {
			w = i;
			break;
		}
		if (off < end + SPILL_RA && (ahead < 0 || end > ahead_end)) {
			ahead = i;
			ahead_end = end;
		}
	}
	if (w < 0 && !fill)
		return gw_spill_read_upto(sc->store, gen, off, dst, n);
	if (w < 0) {
		w = ahead >= 0 ? ahead : ra_new(ra);
		if (w < 0)
			return gw_spill_read_upto(sc->store, gen, off, dst, n);
		size_t back = off < RA_BACK ? (size_t)off : RA_BACK;
		size_t want = ahead >= 0 ? SPILL_RA : (n > RA_ALONE ? n : RA_ALONE) + back;
		if (want > SPILL_RA)
			want = SPILL_RA;
		int got = gw_spill_read_upto(sc->store, gen, off - back, ra->p[w], want);
		ra->n[w] = got > 0 ? (size_t)got : 0;
		ra->off[w] = off - back;
		ra->gen[w] = gen;
		if (got < (int)(back + need))
			return gw_spill_read_upto(sc->store, gen, off, dst, n);
	}
	ra->last = w;
	ra->used[w] = ++ra->tick;
	size_t got = (size_t)(ra->off[w] + ra->n[w] - off);
	if (got > n)
		got = n;
	memcpy(dst, ra->p[w] + (off - ra->off[w]), got);
	return (int)got;
}

/* Reads the header of t's record at sp, and what follows it up to
 * SPILL_FIRST bytes, into sc->head; *h gets the header, checked on its
 * own (t's: `hash` batch_track_hash's, its counts within bounds, its
 * chain going back in the same file). Returns the bytes of points read
 * with it, or GW_EIO (broken). */
static int rec_head(const struct gw_batcher *b, const struct track *t,
		    uint32_t sp, uint32_t hash, struct spill_hdr *h)
{
	struct spill_core *sc = b->spl;
	int gen = (int)(sp & 1);
	uint64_t off = sp & ~(uint32_t)1;
	int got = ra_read(sc, gen, off, sc->head, sizeof(sc->head), SPILL_HDR, 1);

	if (got < SPILL_HDR)
		return broken(b, t);
	hdr_get(sc->head, h);
	if (h->hash != hash || h->count == 0 || h->count > h->total ||
	    h->total > t->n || h->len > (size_t)h->count * 22 + 8 ||
	    h->len > h->total_len ||
	    h->total_len > (uint64_t)h->total * 22 + 8 * (uint64_t)h->depth ||
	    h->depth == 0 || h->depth > SPILL_DEPTH_MAX || hdr_odd(sc->head) ||
	    (h->depth == 1) != (h->prev == 0) ||
	    (h->depth == 1 && (h->total != h->count || h->total_len != h->len)) ||
	    (h->prev && ((h->prev & 1) != (sp & 1) ||
			 (h->prev & ~(uint32_t)1) >= (sp & ~(uint32_t)1))))
		return broken(b, t);
	return got - SPILL_HDR;
}

/* The n bytes of gen's file at off when one window holds them all (no
 * read), or memory does (in_memory): where they are, else NULL. */
static const uint8_t *ra_in(const struct spill_core *sc, int gen, uint64_t off,
			    size_t n)
{
	const struct spill_ra *ra = &sc->ra;
	size_t avail;
	const uint8_t *mem = in_memory(sc, gen, off, &avail);

	if (mem)
		return avail >= n ? mem : NULL;
	for (int j = 0; j < ra->n_win; j++) {
		int i = ra_nth(ra, j);
		if (ra->n[i] && ra->gen[i] == gen && off >= ra->off[i] &&
		    off + n <= ra->off[i] + ra->n[i])
			return ra->p[i] + (off - ra->off[i]);
	}
	return NULL;
}

/* The rest of the record whose head was read (have bytes of it): its
 * h->len bytes to dst, the CRC checked. A record that lies whole in a
 * window with the header read is checked there, one CRC call over it,
 * and its bytes copied from what was checked; else its bytes are read
 * and the header and they checked apart. Returns 0 or GW_EIO (broken). */
static int rec_body(const struct gw_batcher *b, const struct track *t,
		    uint32_t sp, const struct spill_hdr *h, size_t have,
		    uint8_t *dst)
{
	struct spill_core *sc = b->spl;
	int gen = (int)(sp & 1);
	uint64_t off = sp & ~(uint32_t)1;
	const uint8_t *rec = ra_in(sc, gen, off, SPILL_HDR + (size_t)h->len);

	if (rec && memcmp(rec, sc->head, SPILL_HDR) == 0) {
		if (record_crc(rec, h->len) != get32(rec))
			return broken(b, t);
		memcpy(dst, rec + SPILL_HDR, h->len);
		return 0;
	}
	if (have > h->len)
		have = h->len;
	memcpy(dst, sc->head + SPILL_HDR, have);
	if (have < h->len) {
		/* the rest: from a window when it is in one (or after a
		 * refill), else read exactly (a short read is logged) */
		uint64_t at = off + SPILL_HDR + have;
		size_t rest = h->len - have;
		int got = ra_read(sc, gen, at, dst + have, rest, rest, 0);
		if (got < 0 || ((size_t)got < rest &&
				gw_spill_read(sc->store, gen, at, dst + have, rest)))
			return broken(b, t);
	}
	if (record_crc_apart(sc->head, dst, h->len) != get32(sc->head))
		return broken(b, t);
	return 0;
}

/* Whether a record's state after it is the next one's before it (k
 * as the headers keep it). */
static int same_state(const struct spill_state *x, const struct spill_state *y)
{
	return x->ts == y->ts && x->step == y->step && x->v == y->v &&
	       x->mt == y->mt && x->mv == y->mv && k_kept(x->k) == k_kept(y->k);
}

/* Reads t's chain of records into the buffer, each record's bytes
 * followed by 8 zeros, from the first: sc->segs[0 .. depth) say where
 * (at, from *base), with their headers; returns depth, or GW_EIO when a
 * record cannot be read whole, is not t's, or does not follow on from
 * the one before it (the batcher is broken then). */
int batch_spill_load(const struct gw_batcher *b, const struct track *t,
		     const uint8_t **base)
{
	return batch_spill_load_from(b, t, INT64_MIN, base, NULL);
}

/* batch_spill_load_from; with `one`, the bytes of the record it stops
 * at alone (the later ones' headers read and checked, their bytes
 * neither read nor checked: zeros in the buffer). */
static int load_from(const struct gw_batcher *b, const struct track *t,
		     int64_t s, int one, const uint8_t **base, int *first)
{
	struct spill_core *sc = b->spl;
	struct spill_hdr h, last = {0};
	uint32_t sp = t->sp;
	int depth = 0;

	if (!sc)
		return broken(b, t);
	uint32_t hash = batch_track_hash(b, t);
	for (int i = 0; sp; i++) {
		int have = rec_head(b, t, sp, hash, &h);
		if (have < 0)
			return GW_EIO;
		if (i == 0) {
			depth = (int)h.depth;
			size_t room = (size_t)h.total_len + 8 * (size_t)h.depth;
			if (grow(sc, room))
				return broken(b, t);
			memset(sc->buf, 0, room);
		} else if (h.depth != last.depth - 1 ||
			   h.total != last.total - last.count ||
			   h.total_len != last.total_len - last.len ||
			   h.first_ts != last.first_ts || h.open ||
			   !same_state(&h.end, &last.start)) {
			return broken(b, t);
		}
		size_t at = (size_t)(h.total_len - h.len) + 8 * (size_t)(h.depth - 1);
		int stop = h.start.ts < s || h.depth == 1;
		if ((!one || stop) && rec_body(b, t, sp, &h, (size_t)have, sc->buf + at))
			return GW_EIO;
		sc->segs[h.depth - 1] = (struct spill_seg){h, at};
		last = h;
		sp = h.prev;
		if (first)
			*first = h.depth - 1;
		if (stop)
			break;
	}
	*base = sc->buf;
	return depth;
}

int batch_spill_load_from(const struct gw_batcher *b, const struct track *t,
			  int64_t s, const uint8_t **base, int *first)
{
	return load_from(b, t, s, 0, base, first);
}

int batch_spill_load_one(const struct gw_batcher *b, const struct track *t,
			 int64_t s, const uint8_t **base, int *first)
{
	return load_from(b, t, s, 1, base, first);
}

/* t's first point's time, from its newest record. Returns 0 or GW_EIO
 * (broken). */
int batch_spill_first(const struct gw_batcher *b, const struct track *t,
		      int64_t *ts)
{
	struct spill_core *sc = b->spl;
	struct spill_hdr h;
	int have;

	if (!sc)
		return broken(b, t);
	if ((have = rec_head(b, t, t->sp, batch_track_hash(b, t), &h)) < 0 ||
	    grow(sc, h.len + 8) ||
	    rec_body(b, t, t->sp, &h, (size_t)have, sc->buf))
		return broken(b, t);
	*ts = h.first_ts;
	return 0;
}

/* Writes the pass's buffer (one write for many records): the tracks
 * whose records it holds let their points in memory go. A write that
 * fails ends the pass, and those tracks keep them. Returns 0 or a GW_E*
 * code. */
static int pass_flush(const struct gw_batcher *b)
{
	struct spill_core *sc = b->spl;
	uint64_t off;
	int rc = 0;

	if (sc->wn) {
		rc = gw_spill_write(sc->store, sc->gen, sc->wb, sc->wn, &off);
		if (rc == 0 && off != sc->w_off)
			rc = GW_EIO; /* never: the store writes at its end */
	}
	for (size_t i = 0; rc == 0 && i < sc->n_pend; i++) {
		struct track *t = sc->pend[i].t;
		track_chain_free(b, t);
		batch_spill_set(b, t, sc->pend[i].sp);
		sc->tracks_spilled++;
		sc->points_spilled += sc->pend[i].count;
	}
	if (rc)
		sc->skip = 1;
	sc->w_off += sc->wn;
	sc->wn = 0;
	sc->n_pend = 0;
	return rc;
}

/* The bits of the record in sc->buf (len bytes, `bits` of the last
 * used) with enc's after them; returns the bytes, *bits of the last. */
static size_t put_enc(const struct gw_batcher *b, const struct chain *enc,
		      size_t len, unsigned *bits)
{
	uint8_t *d = b->spl->buf + SPILL_HDR;
	unsigned sh = len ? *bits % 8 : 0; /* free bits in d[len - 1]: 8 - sh */

	if (sh == 0) {
		for (uint32_t id = enc->head;;) {
			const uint8_t *x = blk_d(b->pool, id);
			size_t k = id == enc->tail ? enc->tail_len : blk_len(id);
			memcpy(d + len, x, k);
			len += k;
			if (id == enc->tail)
				break;
			id = blk_next_at(x, blk_len(id));
		}
		*bits = enc->bit;
		return len;
	}
	/* enc's bytes moved sh bits up, after the record's last bit: the
	 * record's last byte written again with them, a word at a time */
	uint8_t *start = d + len - 1;
	struct gw_bitw w;
	gw_bitw_init(&w, start, *start, sh);
	for (uint32_t id = enc->head;;) {
		size_t k = id == enc->tail ? enc->tail_len : blk_len(id), i = 0;
		const uint8_t *x = blk_d(b->pool, id);
		for (; i + 8 <= k; i += 8)
			gw_bitw_put(&w, gw_bitw_load64(x + i), 64);
		for (; i < k; i++)
			gw_bitw_put(&w, x[i], 8);
		if (id == enc->tail)
			break;
		id = blk_next_at(x, blk_len(id));
	}
	/* enc's last byte held enc->bit bits (0: eight), zeros above them */
	size_t nbits = gw_bitw_bits(&w, start) - (enc->bit ? 8u - enc->bit : 0);
	gw_bitw_flush(&w);
	*bits = (unsigned)(nbits % 8);
	return len - 1 + (nbits + 7) / 8;
}

/* A pass of the open day over track t: its points in memory (every one
 * in enc) go to the store, and only its last two points, decoded, and
 * the encoder's state stay. When its chain ends in the open day's
 * record, that record is written again with them after its own points
 * (read back and checked first); else a record with them is added
 * after its last record, or made the first, as the open day's. A
 * track whose record is in the other generation keeps them (until the
 * seal's pass). */
static void spill_open_track(struct gw_batcher *b, struct track *t)
{
	struct spill_core *sc = b->spl;
	struct spill_hdr h = {.hash = batch_track_hash(b, t), .depth = 1};
	size_t len = 0, enc_len;
	unsigned bits = 0;
	uint32_t sp;
	const struct chain enc = track_chain(t);

	if (!enc.head || sc->skip || sc->broken)
		return;
	enc_len = batch_chain_len(b->pool, &enc);
	if (t->sp) {
		struct spill_hdr p;
		int have;
		if ((t->sp & 1) != (uint32_t)sc->gen ||
		    (have = rec_head(b, t, t->sp, h.hash, &p)) < 0)
			return;
		if (p.open) {
			/* the open day's record: its points, then enc's */
			if (grow(sc, SPILL_HDR + p.len + enc_len + 16))
				return;
			memset(sc->buf, 0, SPILL_HDR + p.len + enc_len + 16);
			if (rec_body(b, t, t->sp, &p, (size_t)have, sc->buf + SPILL_HDR))
				return;
			h = p;
			h.total -= p.count;
			h.total_len -= p.len;
			len = p.len;
			bits = p.bits;
		} else {
			if (batch_spill_buf(b, enc_len))
				return;
			h.prev = t->sp;
			h.depth = (uint16_t)(p.depth + 1);
			h.total = p.total;
			h.total_len = p.total_len;
			h.first_ts = p.first_ts;
			h.start = p.end; /* on from the coder after it */
			h.open = 1;
		}
	} else {
		if (batch_spill_buf(b, enc_len))
			return;
		h.first_ts = batch_track_first_ts(b, t);
		h.start = (struct spill_state){0, 0, 0, RICE_M0, RICE_M0, 0};
		h.open = 1;
	}
	batch_tail_state(b, t, &h.end); /* its last point is t's */
	if (h.total >= t->n)
		return;
	h.count = t->n - h.total;
	len = put_enc(b, &enc, len, &bits);
	h.len = (uint32_t)len;
	h.bits = (uint8_t)bits;
	h.total += h.count;
	h.total_len += h.len;
	/* into the pass's write buffer; the track lets its points go when
	 * the buffer is written (pass_flush) */
	size_t total = rec_seal(sc, &h);
	if (sc->wn + total > SPILL_IO && pass_flush(b))
		return;
	if (total > SPILL_IO) {
		/* larger than the buffer (a track of many points): alone */
		if (batch_spill_put(b, sc->gen, &h, &sp))
			return;
		sc->w_off = gw_spill_size(sc->store, sc->gen);
		track_chain_free(b, t);
		batch_spill_set(b, t, sp);
		return;
	}
	if (sc->w_off + sc->wn + total > UINT32_MAX) {
		sc->skip = 1; /* a file of 4 GB: the rest stay in memory */
		return;
	}
	sp = (uint32_t)(sc->w_off + sc->wn) | (uint32_t)sc->gen;
	memcpy(sc->wb + sc->wn, sc->buf, total);
	sc->wn += total;
	sc->pend[sc->n_pend++] = (struct spill_pend){t, sp, h.count};
}

static void pass_buffers_free(struct spill_core *sc)
{
	free(sc->wb);
	free(sc->pend);
	sc->wb = NULL;
	sc->pend = NULL;
}

/* A pass over every track (spill_open_track), into the generation read
 * from (made when no track has a record there). A write that fails ends
 * the pass; the tracks not written keep their points in memory. */
static void open_pass(struct gw_batcher *b)
{
	struct spill_core *sc = b->spl;

	if (sc->refs[sc->gen] == 0) {
		gen_forget(sc, sc->gen);
		if (gw_spill_begin_open(sc->store, sc->gen, b->next_day - 1))
			return;
	} else if (gw_spill_check(sc->store, sc->gen)) {
		gw_err("points: nothing more is sealed from memory, the journal "
		       "has to be replayed");
		sc->broken = 1;
		return;
	} else if (sc->held[sc->gen].p) {
		return; /* its file takes no more records: points stay in memory */
	}
	/* the buffers for the pass only (0.3 MB: not held at the seal) */
	sc->wb = malloc(SPILL_IO);
	/* a record of SPILL_HDR + 4 bytes at least */
	sc->pend = malloc(SPILL_IO / SPILL_HDR * sizeof(*sc->pend));
	if (!sc->wb || !sc->pend) {
		pass_buffers_free(sc);
		return;
	}
	sc->skip = 0;
	sc->tracks_spilled = sc->points_spilled = 0;
	sc->w_off = gw_spill_size(sc->store, sc->gen);
	sc->wn = sc->n_pend = 0;
	batch_spill_ra_begin(b);
	/* windows this pass takes are given back after it (a seal after it
	 * in the same advance takes its own) */
	int own = sc->ra.n_win == 0;
	struct track_walk w, ahead[2];
	struct track *t;
	batch_walk_ahead_begin(b, &w, ahead, WALK_CODES);
	while ((t = batch_walk_ahead_next(&w, ahead)) != NULL)
		spill_open_track(b, t);
	pass_flush(b);
	if (own)
		ra_give_back(&sc->ra);
	batch_spill_ra_end(b);
	sc->skip = 0;
	pass_buffers_free(sc);
	batch_pool_trim(b->pool);
}

static int can_pass(const struct gw_batcher *b)
{
	const struct spill_core *sc = b->spl;

	return sc && sc->store && !sc->broken && !sc->writing &&
	       b->next_day != INT32_MIN;
}

/* Runs the open day's pass when one is due, `now_ms` the time
 * gw_batcher_advance is given: SPILL_OPEN_PASSES of them, spread evenly
 * from one poll interval before the day's start to its end and
 * seal_delay, where the day-end pass (batch_spill_day_end) comes. The
 * points in memory from one seal's pass to the next day-end pass are a
 * day's and the one or two after midnight the seal's pass keeps, 98 at
 * 15 minutes: every pass then finds 16 or 17 (4 h 7.5 min apart with a
 * delay of 30 minutes), where passes every 4 hours from the day's start
 * left the day-end pass 18, the interval in which most tracks took a
 * second block. Starting one poll interval early puts 16, not 17, in the
 * first interval: the one in which a track started the day before (a
 * start's lead day) still pays for its first points (counted:
 * docs/architecture.md, "Young tracks"). */
int batch_spill_pass_due(const struct gw_batcher *b, int64_t now_ms, int64_t *slot)
{
	const struct spill_core *sc = b->spl;

	if (!can_pass(b))
		return 0;
	if (b->open_end + b->p.seal_delay_ms <= now_ms)
		return 1;
	int64_t lead = b->p.poll_interval_ms > 0 && b->p.poll_interval_ms < 3600000 ?
			       b->p.poll_interval_ms : 0;
	int64_t from = b->open_start - lead;
	int64_t span = b->open_end + b->p.seal_delay_ms - from;
	if (now_ms < from)
		return 0;
	int64_t k = (now_ms - from) * (SPILL_OPEN_PASSES + 1) / span;
	if (k < 1 || (sc->pass_day == b->next_day && sc->pass_slot >= k))
		return 0;
	if (slot)
		*slot = k;
	return 2;
}

void batch_spill_hours(struct gw_batcher *b, int64_t now_ms)
{
	struct spill_core *sc = b->spl;
	int64_t slot;

	/* past the day's end and seal_delay the day-end pass comes next */
	if (batch_spill_pass_due(b, now_ms, &slot) != 2)
		return;
	sc->pass_day = b->next_day;
	sc->pass_slot = slot;
	open_pass(b);
}

/* One pass more when the open day is about to be sealed (`now_ms` past
 * its end and seal_delay): the seal then opens every track from its
 * records, and the blocks the day's points were in are given back
 * (batch_pool_trim) before the seal's own buffers are taken. */
void batch_spill_day_end(struct gw_batcher *b, int64_t now_ms)
{
	if (batch_spill_pass_due(b, now_ms, NULL) == 1)
		open_pass(b);
}

/* The same during a restart's replay, every SPILL_EVERY_MS of the
 * replayed cycles' times (`read_ms`, when the cycle was read), so that
 * the replay does not hold every point of the revision window in memory
 * until gw_batcher_spill_now. */
void batch_spill_replayed(struct gw_batcher *b, int64_t read_ms)
{
	struct spill_core *sc = b->spl;

	if (!can_pass(b))
		return;
	if (sc->replay_due == 0 || read_ms < sc->replay_due - SPILL_EVERY_MS) {
		sc->replay_due = read_ms + SPILL_EVERY_MS;
		return;
	}
	if (read_ms < sc->replay_due)
		return;
	sc->replay_due = read_ms + SPILL_EVERY_MS;
	open_pass(b);
}

/* Starts the pass of a day (the day just sealed): 1 when records are to
 * be written, 0 when not (no store, the generation still in use, the
 * store cannot make its file: the points stay in memory). */
int batch_spill_begin(struct gw_batcher *b, int32_t day)
{
	struct spill_core *sc = b->spl;

	if (!sc || !sc->store || sc->broken || sc->refs[!sc->gen])
		return 0;
	gen_forget(sc, !sc->gen);
	if (gw_spill_begin(sc->store, !sc->gen, day))
		return 0;
	sc->writing = 1;
	sc->skip = 0;
	sc->tracks_spilled = sc->points_spilled = 0;
	/* its records gathered (without the buffer: written one at a time) */
	sc->wb = malloc(SPILL_IO);
	sc->wn = 0;
	sc->w_off = gw_spill_size(sc->store, !sc->gen);
	return 1;
}

/* Ends the pass: its generation is the one read from now, and the one
 * before goes when no track's record is left in it. */
void batch_spill_end(struct gw_batcher *b)
{
	struct spill_core *sc = b->spl;

	if (!sc || !sc->writing)
		return;
	if (sc->wb)
		seal_flush(sc);
	free(sc->wb);
	sc->wb = NULL;
	sc->wn = 0;
	sc->writing = 0;
	int old = sc->gen;
	sc->gen = !old;
	if (sc->refs[old] == 0) {
		gen_forget(sc, old);
		gw_spill_drop(sc->store, old);
	}
}

int gw_batcher_spill_now(struct gw_batcher *b)
{
	if (b->next_day == INT32_MIN || !batch_spill_begin(b, b->next_day - 1))
		return 0;
	batch_spill_ra_begin(b);
	batch_prune(b);
	batch_spill_ra_end(b);
	batch_spill_end(b);
	return batch_spill_broken(b) ? GW_EIO : 0;
}
