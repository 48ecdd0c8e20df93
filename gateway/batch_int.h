/* SPDX-License-Identifier: MIT */
/*
 * batch_int.h - the batching core's own state and the functions its files
 * share; nothing outside gateway/batch*.c may include it (callers use
 * batch.h). The core is eight files:
 *     batch.c          the batcher's life, readings and events coming in
 *     batch_store.c    the tracks (one per meter register) and their
 *                      points, delta-encoded, in a hash table; a track
 *                      decoded when its points are needed; pruning
 *     batch_midnight.c a register's value at a midnight (measured,
 *                      interpolated, estimated) and its quality; increases
 *                      bounded by power; minutes missing
 *     batch_edge.c     the revision window: days marked for sealing
 *                      again, the books frozen at the edge, long gaps, and
 *                      the edges across a restart (gw_batcher_edges_*)
 *     batch_seal.c     a day sealed into a batch, or handed out as a
 *                      source of series read from the tracks as they are
 *                      written; gw_batcher_advance(_src)
 *     batch_names.c    the tracks' meter ids and OBIS codes, each kept once
 *     batch_pool.c     the blocks the tracks' encoded points are kept in
 *     batch_spill_core.c the points spilled to a store (batch_spill.c,
 *                      the files) and read back
 * The functions small and hot enough to be wanted inline in every one of
 * them are defined here as static inline.
 */
#ifndef GW_BATCH_INT_H
#define GW_BATCH_INT_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "batch.h"
#include "batch_spill.h"
#include "tz.h"
#include "wide.h"

/* 9999-12-31T23:59:59.999Z: readings beyond it (or before 1970) are bad
 * times. */
#define TS_MAX 253402300799999LL

struct point {
	int64_t ts;
	int64_t v;
};

/* A small sorted set of int64 (derived points' times, flagged days). */
struct iset {
	int64_t *v;
	size_t n, cap;
};

/* The blocks the tracks' encoded points are kept in (batch_pool.c), of
 * two sizes: a chain's first block holds BLK_DATA bytes of points and its
 * later ones BLK_SDATA, each followed by the number of the next block (4
 * bytes), from pools of their own; a block's number says which (BLK_SMALL
 * set: a later block). A pass of the open day (SPILL_OPEN_PASSES a day)
 * leaves a track's chain empty, and it gathers 24-37 bytes by the next
 * with a few ms of jitter in the times, up to 51 with 2 s (a clock run
 * fast): one block of 48 holds most tracks, and what a track gathers
 * beyond 44 bytes takes blocks of 16, not a second block of 48 (counted:
 * tests/bench/pool_count.c; docs/architecture.md, "Blocks of two
 * sizes"). Each at least 8 (the bit reader's refill takes 8 bytes from
 * two blocks at most); a point may take more than one later block
 * (batch_chain_room). Block 0 stands for none. */
#define BLK_DATA 44  /* a chain's first block's bytes of points */
#define BLK_SDATA 12 /* a later block's */
#define BLK_SMALL 0x80000000u
/* Blocks a page: 4096 first blocks (192 kB), 16,384 later ones (256 kB),
 * each above gatewayd's mmap threshold (128 kB, main.c), so that a page
 * is mapped apart, resident only as far as its blocks are taken, and
 * unmapped when given back (batch_pool_trim). */
#define BLK_PAGE_BITS 12
#define BLK_SPAGE_BITS 14
#define BLK_PAGE (1u << BLK_PAGE_BITS)
#define BLK_SPAGE (1u << BLK_SPAGE_BITS)

_Static_assert(BLK_DATA >= 8 && BLK_SDATA >= 8 && BLK_DATA % 4 == 0 &&
	       BLK_SDATA % 4 == 0, "a refill from two blocks; next aligned");

/* The blocks of one size: pages of BLK_PAGE or BLK_SPAGE, each block
 * its bytes of points and then the next block's number. */
struct blk_sub {
	uint8_t **pages;
	size_t n_pages;
	uint32_t free;  /* first free block (its whole number), 0: none */
	uint32_t fresh; /* next block of the last page never taken (its
			 * place in this size's pages) */
	size_t n_used;  /* blocks in chains */
};

struct blk_pool {
	struct blk_sub sub[2]; /* [0] first blocks, [1] later ones */
	size_t n_used;         /* blocks in chains, both sizes */
};

/* The bytes of the blocks in chains. */
static inline size_t blk_pool_bytes(const struct blk_pool *p)
{
	return p->sub[0].n_used * (BLK_DATA + 4) +
	       p->sub[1].n_used * (BLK_SDATA + 4);
}

/* A track's encoded points: blocks head .. tail, each full but the tail,
 * which holds tail_len bytes, of whose last byte `bit` bits are used (0:
 * all eight). head is a first block, the rest later ones. */
struct chain {
	uint32_t head, tail; /* 0: no points */
	uint8_t tail_len;
	uint8_t bit;
};

/* Block id's bytes of points. */
static inline unsigned blk_len(uint32_t id)
{
	return id & BLK_SMALL ? BLK_SDATA : BLK_DATA;
}

/* Block id's bytes (its points, then the next block's number). */
static inline uint8_t *blk_d(const struct blk_pool *p, uint32_t id)
{
	uint32_t k = id & ~BLK_SMALL;
	unsigned bits = id & BLK_SMALL ? BLK_SPAGE_BITS : BLK_PAGE_BITS;

	return p->sub[id >> 31].pages[k >> bits] +
	       (size_t)(k & ((1u << bits) - 1)) * (blk_len(id) + 4);
}

/* The next block after a block whose bytes are d, len of them points. */
static inline uint32_t blk_next_at(const uint8_t *d, unsigned len)
{
	uint32_t x;

	memcpy(&x, d + len, sizeof(x));
	return x;
}

static inline uint32_t blk_next(const struct blk_pool *p, uint32_t id)
{
	return blk_next_at(blk_d(p, id), blk_len(id));
}

static inline void blk_set_next(const struct blk_pool *p, uint32_t id,
				uint32_t next)
{
	memcpy(blk_d(p, id) + blk_len(id), &next, sizeof(next));
}

/* Reads a chain's blocks in order: the bytes d of a block, pos of its
 * len bytes of points read. */
struct chain_rd {
	const struct blk_pool *p;
	const uint8_t *d;
	uint32_t pos, len;
};

static inline void chain_rd_init(struct chain_rd *r, const struct blk_pool *p,
				 const struct chain *c)
{
	r->p = p;
	r->d = c->head ? blk_d(p, c->head) : NULL;
	r->pos = 0;
	r->len = blk_len(c->head);
}

/* The block after r's (block 0, zeros, after the last: a chain's first
 * block's pages are there while any chain is). */
static inline const uint8_t *chain_rd_peek(const struct chain_rd *r)
{
	return blk_d(r->p, blk_next_at(r->d, r->len));
}

/* On to the next block, whose bytes are nd (chain_rd_peek). */
static inline void chain_rd_next(struct chain_rd *r, const uint8_t *nd)
{
	r->len = blk_len(blk_next_at(r->d, r->len));
	r->d = nd;
	r->pos = 0;
}

enum edge_kind {
	EDGE_NONE = 0, /* no reading at or before the edge midnight */
	EDGE_FROZEN,   /* edge_v is the register at the edge midnight */
	EDGE_PENDING,  /* silent since its last reading before the midnight */
	EDGE_BACK,     /* was pending, and readings after the midnight came:
			* the midnight is derived from the readings until the
			* edge day is final, and then the long gap is counted */
};

/* The two small sets a track may have (batch_track_set), rarely. */
enum track_set {
	SET_DERIVED, /* times of GW_RS_DERIVED points */
	SET_BAD,     /* days with a value refused as bad */
};

/* What few tracks need, behind one number made when first needed
 * (batch_track_ext): their sets, the day of their last bad_value event,
 * a rollover beyond the batcher's table, the last point when its time is
 * too far from the batcher's base or its value beyond 32 bits, the point
 * before the last when it is too far from the last for the track's 8
 * bytes, and the track's edge value's slot (struct track's x holds the
 * ext's number then). */
struct track_ext {
	struct iset sets[2]; /* [SET_DERIVED], [SET_BAD] */
	int64_t rollover;    /* when the track's roll is ROLL_EXT */
	struct point tail1;  /* when the track's t1_dt is T1_EXT */
	struct point tail0;  /* when the track's t0_dts is 0 */
	int32_t bad_event_day; /* day of the last bad_value event */
	uint32_t ev;         /* the edge value's slot, 0: none */
};

/* A track's rollover (batch_rollover): 0 none, 1 .. ROLL_MAX the batcher's
 * table of the distinct values (rolls[roll - 1]: a fleet has a few),
 * ROLL_EXT in the track's ext. */
#define ROLL_MAX 6
#define ROLL_EXT 7

/* A track's x: 0 nothing beside it; X_EXT | n its ext, number n in the
 * batcher's ext slabs; otherwise the number of its edge value's slot in
 * the batcher's edge slabs (an energy track without an ext). Slabs of
 * both never move, and are kept as long as the batcher. */
#define X_EXT 0x80000000u
#define EXT_SLAB 64   /* exts a slab */
#define EV_SLAB 4096  /* edge values a slab */

/* The tracks' exts and edge values (struct track's x): n_ext and n_ev
 * taken, in slabs of EXT_SLAB and EV_SLAB (batch_store.c); and the base
 * of the tracks' last points' times (struct track's t1_dt): set by the
 * first point, then moved to the start of the open day each time it
 * changes (batch_tails_rebase). */
struct track_side {
	struct track_ext **xs;
	int64_t **evs;
	size_t n_ext, n_ev;
	int64_t t_base;
	int based; /* t_base set */
};

/* A track's t1_dt when its last point is in its ext. */
#define T1_EXT INT32_MIN

/* The Rice coder's means (batch_store.c, "the points, encoded"), kept
 * 16-fold: 0 .. RICE_MMAX, RICE_M0 at a field's start. rice_adapt
 * rounds each to 12 significant bits after every number, on the
 * encoder's side and the decoder's alike, so a track keeps its two in
 * 16 bits each (mean_pack) and the encoder resumes from exactly the
 * means the decoder computes from the points. Below 4,096 (a mean below
 * 256: a regular cadence with up to about 200 ms of jitter, a slowly
 * rising register) a mean is exact; above, it is rounded to the nearest
 * of the 2,048 between two powers of two (off by 1/4,096 of it at
 * most; a Rice parameter follows the mean's power of two). */
#define RICE_M0 256 /* a mean of 16 */
#define RICE_MMAX (1u << 30)
#define RICE_WARM 7 /* the numbers of a field that warm its mean up */
#define MEAN_EXACT 4096u /* the means below it kept exactly */

/* m rounded to the nearest mean a track keeps (12 significant bits;
 * ties up), m <= RICE_MMAX (a power of two, kept: so is the result). */
static inline uint32_t mean_round(uint32_t m)
{
	if (m < MEAN_EXACT)
		return m;
	/* the value of its 12th bit from the top */
	uint32_t unit = 1u << (20u - (unsigned)__builtin_clz(m));

	/* a carry out of the top leaves a power of two, its low bits 0 */
	return (m + (unit >> 1)) & (0u - unit);
}

/* A rounded mean in 16 bits: e (5 bits) and s (11): e 0, s itself
 * (0 .. 2,047); else (2,048 + s) << (e - 1) (e 20 at RICE_MMAX). */
static inline uint16_t mean_pack(uint32_t m)
{
	if (m < 2048)
		return (uint16_t)m;
	unsigned e = 21u - (unsigned)__builtin_clz(m); /* 2,048 .. 4,095: 1 */
	return (uint16_t)(e << 11 | ((m >> (e - 1)) - 2048));
}

static inline uint32_t mean_unpack(uint16_t f)
{
	unsigned e = f >> 11;

	return e ? (2048u + (f & 2047u)) << (e - 1) : f;
}

/* The mean m after number u, the c-th (from 0) of its field: the first
 * RICE_WARM numbers the running mean of those so far, each counted at
 * most 64 times the mean before it; later ones weigh 1/8, each counted
 * at most 4 times the mean. Not rounded: rice_adapt rounds it. */
static inline uint32_t rice_adapt_exact(uint32_t m, uint64_t u, size_t c)
{
	if (__builtin_expect(c < RICE_WARM, 0)) {
		uint64_t cap = (uint64_t)(m >> 4) * 64 + 16;
		uint64_t x = 16 * (u < cap ? u : cap);
		uint64_t nm = x >= m ? m + (x - m) / (c + 1) : m - (m - x) / (c + 1);
		return nm > RICE_MMAX ? RICE_MMAX : (uint32_t)nm;
	}
	/* in 32 bits: the cap at most 2^28 + 16, the sum below 2^31 */
	uint32_t cap = (m >> 4) * 4 + 16;
	uint32_t nm = m - (m >> 3) + 2 * (u < cap ? (uint32_t)u : cap);
	return nm > RICE_MMAX ? RICE_MMAX : nm;
}

/* The mean a track keeps after number u (rice_adapt_exact, rounded). */
static inline uint32_t rice_adapt(uint32_t m, uint64_t u, size_t c)
{
	return mean_round(rice_adapt_exact(m, u, c));
}

/* One per meter register, 52 bytes (a gateway of 10,000 meters x 26
 * registers has 260,000), taken from slabs (batch_store.c). The add path
 * reads and writes n, mt, mv, the chain, t1_* and t0_*; the passes and
 * the seal's walks the names, n, sp, the chain, unit, edge and t1_dt;
 * the edge value (energy tracks, read at the edge midnight) and the ext
 * are one number away, in slabs of their own. */
struct track {
	/* Interned (batch_names.c), their numbers (track_meter, track_obis):
	 * shared by every track of the meter, and of the code, for the
	 * batcher's life. The hash table finds a track by the hash of the
	 * two names (batch_track_hash), computed again when needed. */
	uint32_t meter_id;
	uint32_t obis;
	/* The points, sorted by time, kept encoded (batch_store.c): per
	 * point the change of the time step and the change of the value,
	 * zigzagged Rice codes, about 1.9 bytes a point instead of 16, in blocks
	 * of the pool (batch_pool.c), decoded into the scratch by
	 * batch_track_open (track_pts); the last point (track_tail1) and
	 * the one before it (track_tail0) kept decoded always. */
	uint32_t n;
	/* The encoder's means after the last point, time and value
	 * (mean_pack; unused while n is 0: RICE_M0 then). */
	uint16_t mt, mv;
	/* Where its older points are, spilled (batch_spill_core.c): the
	 * offset of the last record of its chain in the spill file of
	 * generation sp & 1; 0: none (every point in enc). The points in
	 * the records come first, and enc goes on from the encoder's state
	 * after them (empty after a pass of the open day). */
	uint32_t sp;
	/* Its encoded points' chain (struct chain, packed: track_chain,
	 * track_chain_keep): head, tail, tail_len and bit. */
	uint32_t c_head, c_tail;
	uint32_t x; /* its ext or its edge value's slot (X_EXT) */
	unsigned c_len : 6;  /* the chain's tail_len, <= BLK_DATA, BLK_SDATA */
	unsigned c_bit : 3;  /* the chain's bit */
	unsigned edge : 2;   /* enum edge_kind, at the start of b->edge_day */
	unsigned edge_q : 2; /* enum gw_quality of the edge value */
	unsigned roll : 3;   /* its rollover (batch_rollover) */
	uint8_t unit;
	int8_t scale;
	/* The last point (n >= 1, track_tail1): its time minus the
	 * batcher's base (struct track_side's t_base), its value; t1_dt
	 * T1_EXT when either does not fit (ext->tail1): a value beyond 32
	 * bits, a time 2^31 ms (24.8 days) or more from the base (a meter
	 * dark for weeks, a clock far off). */
	int32_t t1_dt;
	int32_t t1_v;
	/* The point before the last (n >= 2): the last's time minus t0_dts
	 * and value minus t0_dv; t0_dts 0 when they do not fit (ext->tail0). */
	uint32_t t0_dts;
	int32_t t0_dv;
};
_Static_assert(sizeof(struct track) <= 52, "a track in 52 bytes");
_Static_assert(BLK_DATA < 64 && BLK_SDATA < 64,
	       "a chain's tail_len in the track's 6 bits");

/* The tracks' slabs (batch_store.c): tracks live as long as the batcher
 * and never move. A track is known by its number, 1 + its place in the
 * slabs in the order they were made (0: none): slab i holds TRACK_SLAB0 << i
 * tracks up to TRACK_SLAB (the first TRACK_SMALL tracks in TRACK_SMALL_N
 * slabs), then TRACK_SLAB each, so the hash table holds 4-byte numbers
 * (with bits of the hash beside them), not 8-byte pointers. */
#define TRACK_SLAB0 8
#define TRACK_SLAB 4096
#define TRACK_SMALL_N 10
#define TRACK_SMALL (2 * TRACK_SLAB - TRACK_SLAB0)

/* The names of the tracks (batch_names.c), packed NUL-terminated into
 * blocks of NAME_BLOCK bytes; a name's number is its block's place times
 * NAME_BLOCK plus its place in the block. */
#define NAME_BLOCK 4096

struct batch_names {
	uint32_t *slots; /* open addressing, a name's number + 1, 0 = empty */
	size_t n_slots, n;
	char **blocks;
	size_t n_blocks, used; /* used: bytes of the last block taken */
};

struct gw_batcher {
	struct gw_batcher_params p;
	char gateway_id[GW_ID_MAX];
	/* The tracks' hash table (batch_store.c, "the hash table"):
	 * n_slots, a power of two; a slot a track's number and bits of its
	 * hash, 0 empty. */
	uint32_t *slots;
	size_t n_slots, n_tracks;
	/* The tracks in two orders (batch_order): [WALK_NAMES] by meter,
	 * then code; [WALK_CODES] by code, then meter (the order the value
	 * column of a batch reads the registers in: the open day's passes
	 * write their records so). From one track's number to the next's,
	 * the difference, zigzagged, 7 bits a byte (about a byte a track
	 * either way: a meter's registers are made one after the other,
	 * and the same code of the next meter is a register count on);
	 * len bytes for n tracks, made again when tracks were added since. */
	struct track_order {
		uint8_t *p;
		size_t len, n;
	} order[2];
	struct track **slabs; /* where the tracks are (n_slabs) */
	size_t n_slabs;
	struct track_side *side; /* the tracks' exts and edge values */
	struct batch_names names;
	int64_t rolls[ROLL_MAX]; /* the distinct rollovers (struct track) */
	int n_rolls;
	int32_t next_day; /* first day not sealed; INT32_MIN: none yet */
	int32_t edge_day; /* oldest day that can be sealed again */
	int64_t open_start; /* gw_tz_day_start(next_day) */
	int64_t open_end;   /* gw_tz_day_start(next_day + 1) */
	int64_t edge_start; /* gw_tz_day_start(edge_day) */
	int edges_known;    /* 0 after a restore until edges are loaded or
			     * derived from the replayed readings */
	uint64_t dropped_late;
	struct gw_long_gaps gaps;
	struct gw_event *events; /* queued, in arrival order */
	size_t n_events, cap_events;
	/* Meter replacements (meter_replaced events), kept as long as a day
	 * they fall in can be sealed again: a track's counter before one and
	 * after one belong to different meters. */
	struct replacement {
		char meter_id[GW_ID_MAX];
		int64_t ts; /* the first read of the new meter */
	} *repl;
	size_t n_repl, cap_repl;
	int32_t dirty[32]; /* sealed days with late readings, to seal again */
	int n_dirty;
	/* The one track's points decoded at a time (batch_track_open). */
	struct scratch {
		struct track *owner;
		struct point *pts;
		size_t cap;
	} *sc;
	struct blk_pool *pool; /* the blocks of every track's points */
	struct spill_core *spl; /* NULL: every point in memory */
	/* The seal of the open day reads a track's last record and its
	 * points in memory only, when that is exact (batch_seal.c, "a
	 * view"): no_view turns that off (gw_batcher_set_view, for the
	 * tests); views and full the tracks read each way since the
	 * batcher was made (gw_batcher_view_stats). */
	int no_view;
	uint64_t views, view_full;
	/* The edge's walk takes an energy track's books at the new edge
	 * midnight from its records around it (batch_edge.c, freeze_at;
	 * no_view turns that off too): edge_views the tracks read so,
	 * edge_full those with records read whole (gw_batcher_edge_stats). */
	uint64_t edge_views, edge_full;
};

/* The points spilled to a store (batch_spill_core.c). A record is a
 * header of SPILL_HDR bytes, then its bytes (points encoded as in enc,
 * from the coder's state its header keeps), zeros up to a multiple of
 * 4. The header: a CRC-32 of the rest of the record (the header after
 * it and the bytes: one call checks a record that lies whole in a
 * window), the track's hash, the record's points and bytes, the record
 * before it (0: none; the same generation, an earlier offset), the
 * points and bytes of the chain up to and including it, its place in
 * the chain (1: the first), the track's first point's time, the
 * coder's state before its first point and after its last (struct
 * spill_state, with k0, the points the coder had counted before it:
 * every record decodes alone), whether it is the open day's record
 * (open: the open day's passes write it again with their points after
 * its own) and the value of the point two before its first (pre_v,
 * when `pre`: with the state before it, the two points before the
 * record, which a view of the open day needs: batch_track_view).
 * (The store is a cache, emptied at each start: this layout may change
 * from one build to the next; the file's version byte says which.)
 *
 * A chain is a record a day: the seal's pass cuts each track's points
 * at the last point at or before each midnight of the revision window
 * and of the open day, so that the record of the oldest day starts
 * with the point the edge keeps (batch_prune_track); the next seal's
 * pass then drops the records before the new edge's and copies the
 * others to its generation as they are (batch_store.c, spill_carry), and cuts
 * the open day's record in two at the new open day's midnight: no
 * point but the open day's record's is decoded, and none encoded but
 * the few after that midnight. Passes of the open day
 * (SPILL_OPEN_PASSES) write the open day's record again with the
 * points the track gathered in memory since after its own, or add one
 * after the chain's last. */
#define SPILL_HDR 112
#define SPILL_FIRST (512 - SPILL_HDR) /* bytes of points read with the header */
#define SPILL_DEPTH_MAX 40  /* records in a chain a reader takes (a day
			     * each: the window, 31 days at most, + 2) */
#define SPILL_EVERY_MS (4 * 3600000LL) /* a replay's passes */
#define SPILL_OPEN_PASSES 5 /* an open day's passes before its day-end pass */
/* An open day's pass comes when the tracks hold the most points in
 * memory (just before it lets them go), so its buffers are a quarter of
 * the seal's: gatewayd's peak at 10,000 meters x 23 registers is there. */
#define SPILL_IO (64 * 1024) /* a pass's writes, gathered: bytes */
#define SPILL_RA (32 * 1024) /* a window of records read ahead: bytes */
#define SPILL_RA_WIN 64 /* windows at most (a register code each, and more) */

/* The coder's state between two points (batch_store.c, "the points,
 * encoded"): the point before (its time and value), the time step to it
 * (0 before the second point), the two Rice means, and k, the points
 * the coder counted before (its means warm up over the first RICE_WARM
 * + 2; kept up to 15): what the decoder needs to go on from there
 * alone. */
struct spill_state {
	int64_t ts, step, v;
	uint32_t mt, mv;
	uint32_t k;
};

/* k as a header keeps it (any k from RICE_WARM + 2 on codes alike) */
#define SPILL_K_MAX 15u
_Static_assert(RICE_WARM + 2 <= SPILL_K_MAX, "k kept in 4 bits");

struct spill_hdr {
	uint32_t hash, count, len, prev, total, total_len;
	uint16_t depth;
	uint8_t bits; /* of the last byte, used: 1-7, 0 all eight */
	uint8_t open; /* the open day's record */
	uint8_t pre;  /* pre_v is known */
	int64_t first_ts;
	struct spill_state start, end; /* before its first point, after its last */
	int64_t pre_v; /* the value of the point before start's */
};

/* A record of a chain read back: its header, its points at `at` in the
 * buffer. */
struct spill_seg {
	struct spill_hdr h;
	size_t at; /* its h.len bytes, 8 zeros after them */
};

struct spill_core {
	struct gw_spill *store;
	int gen;       /* the generation records are read from (and, while
			* `writing`, written to) */
	int writing;   /* a pass is under way (batch_spill_begin .. end) */
	int skip;      /* a write failed in this pass: the rest stay */
	int broken;    /* a record could not be read: see batch.h */
	size_t refs[2]; /* tracks with a record in each generation */
	uint8_t *buf;  /* a record read or written; a chain read */
	size_t cap;
	uint8_t head[SPILL_HDR + SPILL_FIRST]; /* a record's first read */
	struct spill_seg segs[SPILL_DEPTH_MAX];
	int32_t pass_day; /* the open day of the last pass in it, */
	int64_t pass_slot; /* and which (1 .. SPILL_OPEN_PASSES) */
	/* The midnights the seal's pass cuts the tracks' records at, for
	 * the open day mid_day: the window's days after the edge day's and
	 * the open day's (n_mid of them, the open day's last). */
	int32_t mid_day;
	int n_mid;
	int64_t mid[SPILL_DEPTH_MAX];
	/* a chain read back, kept while its records are written anew
	 * (batch_store.c, spill_carry) */
	uint8_t *cbuf;
	size_t ccap;
	uint64_t carried, encoded; /* gw_batcher_carry_stats, and split */
	/* gw_batcher_set_carry (for the tests and benchmarks): the seal's
	 * pass encodes every track again */
	int no_carry;
	uint64_t split; /* open days' records the seal's pass cut (decoded) */
	int64_t replay_due; /* the replay's next pass, at cycles read then */
	/* A pass's records gathered in wb (wn bytes, at w_off in the file)
	 * and written at once (SPILL_IO). An open day's pass: the tracks
	 * they are of waiting in pend (they let their points go once the
	 * write succeeded). The seal's pass: its tracks let their points go
	 * at once (the records not written yet are read from wb). */
	uint8_t *wb;
	size_t wn;
	uint64_t w_off;
	struct spill_pend {
		struct track *t;
		uint32_t sp, count;
	} *pend;
	size_t n_pend;
	/* Records of the seal's pass whose gathered write failed (a full
	 * disk): kept in memory, n bytes that stand for gen's file at off,
	 * read from here until that file goes (nothing more is written to
	 * it meanwhile: the open day's passes leave their points in memory). */
	struct spill_held {
		uint8_t *p; /* NULL: none */
		uint64_t off;
		size_t n;
	} held[2];
	/* The records read ahead, SPILL_RA bytes a read, while a walk over
	 * the tracks is under way (batch_spill_ra_begin .. end: a seal, a
	 * pass): windows, each following a run of records the walk reads
	 * in the order they lie in the file, refilled where the record that
	 * is in none begins when that lies just past its end. A walk in the
	 * order the records were written uses one or two (a chain's older
	 * records, the open day's); one by meter over records a pass wrote
	 * by code (WALK_CODES) one a code. A window is taken when a run
	 * needs it, up to SPILL_RA_WIN (then the one used less lately). */
	struct spill_ra {
		uint8_t *p[SPILL_RA_WIN]; /* [0, n_win) taken */
		int gen[SPILL_RA_WIN];
		uint64_t off[SPILL_RA_WIN];
		size_t n[SPILL_RA_WIN];   /* bytes in the window; 0: none */
		uint32_t used[SPILL_RA_WIN]; /* when last used (tick) */
		uint32_t tick;
		int n_win;     /* windows taken */
		int last;      /* the window used last */
		int none;      /* a window could not be taken: read alone */
		int depth;     /* begins not ended */
	} ra;
	uint64_t tracks_spilled, points_spilled; /* the last pass */
};

/* Points around one just inserted: p[at] is it, p[0..n) its neighbours
 * (the whole decoded track, or just its last points on an append). */
struct pview {
	const struct point *p;
	size_t n, at;
};

/* A run of a track's points the rules of a day read (batch_midnight.c,
 * batch_seal.c): p[0 .. n) are the track's points off .. off + n, its
 * last among them. The whole track (track_all: off 0, the scratch), or
 * a view (batch_track_view: its last record and its points in memory,
 * decoded apart; off > 0). Indices into p are the run's own, never the
 * track's: p[i] is the track's point off + i. A rule that needs a point
 * before p[0] of a view (off > 0) sets `lacks` and the caller reads the
 * whole track instead. */
struct tpts {
	const struct point *p;
	size_t n, off;
	int lacks;
};

/* How add() may mark sealed days. Live readings change every sealed day
 * they touch. A replayed cycle was read at `sealed_by`: it changed only the
 * days sealed by then, and only if the day it was read on is still open
 * (`fresh`; otherwise the revisions it caused were written before that day
 * was sealed, see gw_batcher_replay). */
struct add_mode {
	int replay;
	int fresh;
	int64_t sealed_by;
};

/* batch.c */
void batch_set_open(struct gw_batcher *b, int32_t day);
void batch_set_edge(struct gw_batcher *b, int32_t day);
int batch_replaced_between(const struct gw_batcher *b, const char *meter,
			   int64_t from, int64_t to);
int batch_queue_event(struct gw_batcher *b, const char *meter, const char *obis,
		      int64_t ts, enum gw_event_kind kind, const char *detail);
int batch_copy_events(const struct gw_batcher *b, struct gw_batch *batch,
		      int64_t end);
void batch_drop_events(struct gw_batcher *b, int64_t end);
char *batch_fmt_time(int64_t ms, char *buf, size_t cap);

/* batch_store.c */
int batch_iset_add(struct iset *s, int64_t x);
void batch_iset_del(struct iset *s, int64_t x);
void batch_tracks_free(struct gw_batcher *b);
enum walk_by { WALK_NAMES, WALK_CODES };
int batch_order(struct gw_batcher *b, enum walk_by by);
/* A walk over every track (batch_walk_begin, then batch_walk_next until
 * it gives NULL): no, the number of the track it gave last. */
struct track_walk {
	const struct gw_batcher *b;
	const uint8_t *p, *end; /* the order's bytes; NULL: by number */
	uint32_t no;
};
int batch_walk_begin(struct gw_batcher *b, struct track_walk *w);
int batch_walk_begin_by(struct gw_batcher *b, struct track_walk *w,
			enum walk_by by);
void batch_walk_made(const struct gw_batcher *b, struct track_walk *w);
void batch_walk_ahead_begin(struct gw_batcher *b, struct track_walk *w,
			    struct track_walk ahead[2], enum walk_by by);
struct track *batch_walk_ahead_next(struct track_walk *w, struct track_walk ahead[2]);
struct track *batch_walk_next(struct track_walk *w);
struct track_ext *batch_track_ext(const struct gw_batcher *b, struct track *t);
int batch_track_energy(const struct gw_batcher *b, struct track *t);
uint32_t batch_key_hash(const char *meter, const char *obis);
uint32_t batch_track_hash(const struct gw_batcher *b, const struct track *t);
int batch_track_flag(const struct gw_batcher *b, struct track *t,
		     enum track_set which, int64_t x);
int batch_tails_rebase(const struct gw_batcher *b, int64_t base);
void batch_track_unflag(const struct gw_batcher *b, struct track *t,
			enum track_set which, int64_t x);
struct track *batch_find_track(struct gw_batcher *b, const struct gw_reading *r,
			       int create);
int batch_track_insert(const struct gw_batcher *b, struct track *t, int64_t ts,
		       int64_t v, struct point win[3], struct pview *view);
void batch_track_open(const struct gw_batcher *b, struct track *t);
/* t's last records, back to the one whose point before it (its
 * header's state) is before s, with the two points before that record
 * (its header's) and its points in memory, decoded alone into the
 * scratch (which then holds no track: track_pts is NULL for every one),
 * as *v (off: the points before them). Returns 1, or 0 when there is no
 * such view: t has no record, or its records do not read back
 * (broken), or what they decode to does not end in t's last point and
 * the coder's means t keeps. */
int batch_track_view(const struct gw_batcher *b, struct track *t, int64_t s,
		     struct tpts *v);
/* t's points around s, from its records: the one batch_track_view
 * starts at (its point before it, the last of t's before s, or an
 * earlier one) decoded alone, with the two points before it from its
 * header, only as far as the second point at or after s (into the
 * chain in memory after the last record; all of t's when fewer), as *v
 * in the scratch as batch_track_view leaves it. What the midnight s's
 * value reads (batch_boundary: the readings on either side and their
 * neighbours), without decoding the rest. Returns 1, or 0 when there
 * is no such view: t has no record, or its records do not read back
 * (broken), or that record holds one point at or after s and the next
 * is in the next record. Unlike batch_track_view's, what it decodes is
 * not checked against t's last point. */
int batch_track_around(const struct gw_batcher *b, struct track *t, int64_t s,
		       struct tpts *v);
/* The coder's state after t's last point. */
void batch_tail_state(const struct gw_batcher *b, const struct track *t,
		      struct spill_state *s);
int64_t batch_track_first_ts(const struct gw_batcher *b, const struct track *t);
/* The last of t's points at or before ts into *last: 1, or 0 if none
 * (or its record does not read back: the batcher is then broken). Reads
 * the bytes of one record only, the one batch_spill_load_one(ts + 1)
 * gives (the later ones' headers), and decodes it only as far as ts
 * (after the edge's prune, ts at the edge midnight: the first record,
 * one or two points), then the chain in memory when it is the last; the
 * scratch is left as it was. */
int batch_track_last_at(const struct gw_batcher *b, const struct track *t,
			int64_t ts, struct point *last);
/* For the benchmarks (tests/bench/pool_count.c), not the core's own
 * use: t's points decoded, its records' and then its chain's, into out
 * (room for t->n points); returns how many are its records' (the rest
 * are in its chain, in memory), or -1 when a record does not read back.
 * The scratch is left as it was. */
long batch_track_points(const struct gw_batcher *b, const struct track *t,
			struct point *out);
void batch_prune_track(const struct gw_batcher *b, struct track *t, int64_t from,
		       int32_t edge_day);
void batch_prune_to(struct gw_batcher *b, int64_t from, int32_t edge_day);
void batch_prune(struct gw_batcher *b);

/* batch_spill_core.c */
void batch_spill_free(struct gw_batcher *b);
int batch_spill_begin(struct gw_batcher *b, int32_t day);
void batch_spill_end(struct gw_batcher *b);
int batch_spill_broken(const struct gw_batcher *b);
void batch_spill_set(const struct gw_batcher *b, struct track *t, uint32_t sp);
int batch_spill_buf(const struct gw_batcher *b, size_t n);
int batch_spill_put(const struct gw_batcher *b, int gen, struct spill_hdr *h,
		    uint32_t *sp);
int batch_spill_load(const struct gw_batcher *b, const struct track *t,
		     const uint8_t **base);
/* The same from t's last record back to the first whose state before
 * it is before s (at least the last): sc->segs[*first .. depth). */
int batch_spill_load_from(const struct gw_batcher *b, const struct track *t,
			  int64_t s, const uint8_t **base, int *first);
/* The same with the bytes of that first record alone (sc->segs[*first]:
 * the records after it have their headers, read and checked, and no
 * bytes), for a reader that needs the points around s only. */
int batch_spill_load_one(const struct gw_batcher *b, const struct track *t,
			 int64_t s, const uint8_t **base, int *first);
int batch_spill_first(const struct gw_batcher *b, const struct track *t,
		      int64_t *ts);
/* Which pass gw_batcher_advance(b, now_ms) runs: 0 none, 1 the
 * day-end pass (batch_spill_day_end), 2 an open day's pass
 * (batch_spill_hours; its slot, 1 .. SPILL_OPEN_PASSES, in *slot when
 * slot is not NULL). */
int batch_spill_pass_due(const struct gw_batcher *b, int64_t now_ms, int64_t *slot);
void batch_spill_hours(struct gw_batcher *b, int64_t now_ms);
void batch_spill_day_end(struct gw_batcher *b, int64_t now_ms);
void batch_spill_replayed(struct gw_batcher *b, int64_t read_ms);
void batch_spill_ra_begin(const struct gw_batcher *b);
void batch_spill_ra_end(const struct gw_batcher *b);

/* batch_pool.c */
struct blk_pool *batch_pool_new(void);
void batch_pool_free(struct blk_pool *p);
void batch_pool_trim(struct blk_pool *p);
void batch_chain_free(struct blk_pool *p, struct chain *c);
size_t batch_chain_len(const struct blk_pool *p, const struct chain *c);
int batch_chain_room(struct blk_pool *p, const struct chain *c, size_t n);
void batch_chain_put(struct blk_pool *p, struct chain *c, const uint8_t *s,
		     size_t n);
void batch_chain_put_bits(struct blk_pool *p, struct chain *c, const uint8_t *s,
			  size_t nbits);

/* batch_names.c */
int batch_name(struct gw_batcher *b, const char *s, size_t cap, uint32_t *id);
void batch_names_free(struct gw_batcher *b);

/* batch_midnight.c */
int64_t batch_wrap_increase(const struct gw_batcher *b, int64_t r, int64_t a,
			    int64_t bv, int64_t dt);
int batch_ool3(const struct gw_batcher *b, const struct track *t,
	       const struct point *a, const struct point *x, const struct point *c);
int batch_out_of_line(const struct gw_batcher *b, const struct track *t,
		      struct tpts *v, size_t k);
int64_t batch_booked(const struct gw_batcher *b, const struct track *t,
		     struct tpts *v, int64_t ts, int64_t val, int *clamped);
enum gw_quality batch_boundary(const struct gw_batcher *b, const struct track *t,
			       struct tpts *v, int64_t m, int64_t *value,
			       int *broken);
uint32_t batch_missing_minutes(const struct gw_batcher *b, const struct tpts *v,
			       size_t first, size_t end, int64_t s, int64_t e);

/* batch_edge.c */
void batch_mark_range(struct gw_batcher *b, int64_t from, int64_t to,
		      const struct add_mode *m);
int batch_move_edge_to(struct gw_batcher *b, int32_t want);
int batch_move_edge(struct gw_batcher *b);

/* ---- the tracks ---- */

/* Name number id (batch_name). */
static inline const char *name_at(const struct gw_batcher *b, uint32_t id)
{
	return b->names.blocks[id / NAME_BLOCK] + id % NAME_BLOCK;
}

static inline const char *track_meter(const struct gw_batcher *b,
				      const struct track *t)
{
	return name_at(b, t->meter_id);
}

static inline const char *track_obis(const struct gw_batcher *b,
				     const struct track *t)
{
	return name_at(b, t->obis);
}

/* Track number no (1 .. n_tracks). */
static inline struct track *track_at(const struct gw_batcher *b, uint32_t no)
{
	size_t k = no - 1, i;

	if (k < TRACK_SMALL) {
		i = 63u - (unsigned)__builtin_clzll(k / TRACK_SLAB0 + 1);
		k -= TRACK_SLAB0 * (((size_t)1 << i) - 1);
	} else {
		i = TRACK_SMALL_N + (k - TRACK_SMALL) / TRACK_SLAB;
		k = (k - TRACK_SMALL) % TRACK_SLAB;
	}
	return &b->slabs[i][k];
}

/* ---- small sorted sets ---- */

static inline size_t iset_lb(const struct iset *s, int64_t x)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (s->v[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static inline int iset_has(const struct iset *s, int64_t x)
{
	if (s->n == 0)
		return 0;
	size_t i = iset_lb(s, x);
	return i < s->n && s->v[i] == x;
}

static const struct iset iset_empty;

/* t's ext, NULL when it has none. */
static inline struct track_ext *track_ext(const struct gw_batcher *b,
					  const struct track *t)
{
	if (!(t->x & X_EXT))
		return NULL;
	uint32_t k = (t->x & ~X_EXT) - 1;
	return &b->side->xs[k / EXT_SLAB][k % EXT_SLAB];
}

/* A track's set `which` (empty if it has none). */
static inline const struct iset *track_set(const struct gw_batcher *b,
					   const struct track *t,
					   enum track_set which)
{
	const struct track_ext *e = track_ext(b, t);

	return e ? &e->sets[which] : &iset_empty;
}

static inline int is_derived(const struct gw_batcher *b, const struct track *t,
			     const struct point *p)
{
	const struct track_ext *e = track_ext(b, t);

	return e && iset_has(&e->sets[SET_DERIVED], p->ts);
}

/* The register at the edge midnight, of a track whose edge is
 * EDGE_FROZEN (an energy track: batch_track_energy gave it the slot). */
static inline int64_t track_edge_v(const struct gw_batcher *b,
				   const struct track *t)
{
	const struct track_ext *e = track_ext(b, t);
	uint32_t k = (e ? e->ev : t->x) - 1;

	return b->side->evs[k / EV_SLAB][k % EV_SLAB];
}

static inline void track_edge_v_set(const struct gw_batcher *b,
				    const struct track *t, int64_t v)
{
	const struct track_ext *e = track_ext(b, t);
	uint32_t k = (e ? e->ev : t->x) - 1;

	b->side->evs[k / EV_SLAB][k % EV_SLAB] = v;
}

/* A track's chain of encoded points, and back (struct track keeps it
 * packed). */
static inline struct chain track_chain(const struct track *t)
{
	return (struct chain){t->c_head, t->c_tail, (uint8_t)t->c_len,
			      (uint8_t)t->c_bit};
}

static inline void track_chain_keep(struct track *t, const struct chain *c)
{
	t->c_head = c->head;
	t->c_tail = c->tail;
	t->c_len = c->tail_len;
	t->c_bit = c->bit;
}

/* Gives t's chain back to the pool: t has no points in memory. */
static inline void track_chain_free(const struct gw_batcher *b, struct track *t)
{
	struct chain c = track_chain(t);

	batch_chain_free(b->pool, &c);
	track_chain_keep(t, &c);
}

/* A track's last point (n >= 1). */
static inline struct point track_tail1(const struct gw_batcher *b,
				       const struct track *t)
{
	if (t->t1_dt == T1_EXT)
		return track_ext(b, t)->tail1;
	return (struct point){b->side->t_base + t->t1_dt, t->t1_v};
}

/* The point before a track's last (n >= 2). */
static inline struct point track_tail0(const struct gw_batcher *b,
				       const struct track *t)
{
	if (!t->t0_dts)
		return track_ext(b, t)->tail0;
	struct point p1 = track_tail1(b, t);
	return (struct point){
		p1.ts - t->t0_dts,
		(int64_t)((uint64_t)p1.v - (uint64_t)(int64_t)t->t0_dv)};
}

/* A track's counter rollover; 0: unknown or never. */
static inline int64_t batch_rollover(const struct gw_batcher *b,
				     const struct track *t)
{
	if (t->roll == 0)
		return 0;
	return t->roll == ROLL_EXT ? track_ext(b, t)->rollover : b->rolls[t->roll - 1];
}

/* A track's name into a fixed-size field of cap bytes, the rest zeros (as
 * the fields of a zeroed track were copied whole before names were
 * interned). */
static inline void name_copy(char *dst, size_t cap, const char *name)
{
	size_t len = strnlen(name, cap - 1);

	memcpy(dst, name, len);
	memset(dst + len, 0, cap - len);
}

/* ---- the batcher ---- */

static inline int window(const struct gw_batcher *b)
{
	int w = b->p.revision_window_days;

	return w < 0 ? 0 : w > 31 ? 31 : w;
}

/* The earliest reading still useful: the start of the oldest day that can
 * be sealed again, whose start value is frozen. After a restart, until the
 * books at that midnight are known, the day before it too. */
static inline int64_t keep_from(const struct gw_batcher *b)
{
	if (!b->edges_known)
		return gw_tz_day_start(b->edge_day - 1);
	return b->edge_start;
}

/* Track t's points, decoded: valid only after batch_track_open(b, t),
 * until another track is opened or this one changes; NULL otherwise. */
static inline struct point *track_pts(const struct gw_batcher *b,
				      const struct track *t)
{
	return b->sc->owner == t ? b->sc->pts : NULL;
}

/* Open track t's points, whole, as a run (struct tpts). */
static inline struct tpts track_all(const struct gw_batcher *b,
				    const struct track *t)
{
	return (struct tpts){track_pts(b, t), t->n, 0, 0};
}

/* Index in run v of its first point with ts >= x (v->n if none). */
static inline size_t tpts_lb(const struct tpts *v, int64_t x)
{
	size_t lo = 0, hi = v->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (v->p[mid].ts < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Index of the first point of open track t with ts >= x (t->n if none). */
static inline size_t lower_bound(const struct gw_batcher *b, const struct track *t,
				 int64_t x)
{
	const struct point *p = track_pts(b, t);
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p[mid].ts < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Most energy (register units) a meter drawing power_w can count in dt
 * ms: W * ms / 3.6e6 = Wh, +1 for the register's rounding. Times are
 * checked on the way in, so this stays far below the int64 limit. */
static inline int64_t energy_in(int64_t power_w, int64_t dt)
{
	if (dt < 0)
		dt = 0;
	/* power_w <= GW_POWER_MAX_W: in 64 bits for gaps up to ten days,
	 * the common case, without a 128-bit division per reading */
	if (dt <= INT64_MAX / GW_POWER_MAX_W)
		return power_w * dt / 3600000 + 1;
	return gw_muldiv64(power_w, dt, 3600000) + 1;
}

/* The configured bound for dt ms, or -1 when max_power_w is 0. */
static inline int64_t max_energy(const struct gw_batcher *b, int64_t dt)
{
	if (b->p.max_power_w <= 0)
		return -1;
	return energy_in(b->p.max_power_w < GW_POWER_MAX_W ? b->p.max_power_w
							   : GW_POWER_MAX_W, dt);
}

#endif
