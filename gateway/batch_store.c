/* SPDX-License-Identifier: MIT */
/*
 * batch_store.c - the batching core's storage: one track per (meter,
 * register) in an open-addressing hash table, each a series of points
 * sorted by time with small sorted sets of derived times and flagged
 * days; inserting a reading, and pruning what no day that can still be
 * sealed needs; with a store, each track's older points spilled to a
 * record at the prune after a seal (spill_track) and read back when the
 * track is opened. See batch_int.h.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "bitw.h"
#include "drops.h"

/* the size memory is counted in (docs/architecture.md, "Memory"; its
 * bound in batch_int.h) */
_Static_assert(_Alignof(struct track) <= 4 && sizeof(struct track) % 4 == 0,
	       "a track of 4-byte fields and smaller, no padding in its slabs");

/* The hash of a track's two names (the spilled records' and, mixed,
 * the hash table's). */
uint32_t batch_key_hash(const char *meter, const char *obis)
{
	/* 0xff between them: no byte of a name */
	return gw_hash_str(gw_hash_str(gw_hash_str(GW_HASH_INIT, meter), "\xff"),
			   obis);
}

int batch_iset_add(struct iset *s, int64_t x)
{
	size_t i = iset_lb(s, x);

	if (i < s->n && s->v[i] == x)
		return 0;
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 8;
		int64_t *nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv)
			return GW_ENOMEM;
		s->v = nv;
		s->cap = ncap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = x;
	s->n++;
	return 0;
}

void batch_iset_del(struct iset *s, int64_t x)
{
	size_t i = iset_lb(s, x);

	if (i < s->n && s->v[i] == x) {
		memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
		s->n--;
	}
}

static void iset_drop_before(struct iset *s, int64_t x)
{
	size_t k = iset_lb(s, x);

	if (k == 0)
		return;
	memmove(s->v, s->v + k, (s->n - k) * sizeof(*s->v));
	s->n -= k;
}

/* Every track, with its sets (their points' blocks go with the pool). */
void batch_tracks_free(struct gw_batcher *b)
{
	struct track_side *sd = b->side;

	for (size_t k = 0; k < sd->n_ext; k++) {
		struct track_ext *e = &sd->xs[k / EXT_SLAB][k % EXT_SLAB];
		free(e->sets[SET_DERIVED].v);
		free(e->sets[SET_BAD].v);
	}
	for (size_t i = 0; i * EXT_SLAB < sd->n_ext; i++)
		free(sd->xs[i]);
	for (size_t i = 0; i * EV_SLAB < sd->n_ev; i++)
		free(sd->evs[i]);
	free(sd->xs);
	free(sd->evs);
	*sd = (struct track_side){0};
	for (size_t i = 0; i < b->n_slabs; i++)
		free(b->slabs[i]);
	free(b->slabs);
	b->slabs = NULL;
	b->n_slabs = 0;
	b->n_tracks = 0;
	for (int by = WALK_NAMES; by <= WALK_CODES; by++) {
		free(b->order[by].p);
		b->order[by] = (struct track_order){0};
	}
}

static int cmp_meter(const struct gw_batcher *b, const struct track *x,
		     const struct track *y)
{
	return x->meter_id == y->meter_id ? 0 :
		strcmp(track_meter(b, x), track_meter(b, y));
}

static int cmp_code(const struct gw_batcher *b, const struct track *x,
		    const struct track *y)
{
	return x->obis == y->obis ? 0 : strcmp(track_obis(b, x), track_obis(b, y));
}

/* By meter, then code (WALK_NAMES). */
static int cmp_names(const void *a, const void *c, void *ctx)
{
	const struct gw_batcher *b = ctx;
	const struct track *x = track_at(b, *(const uint32_t *)a);
	const struct track *y = track_at(b, *(const uint32_t *)c);
	int r = cmp_meter(b, x, y);

	return r ? r : cmp_code(b, x, y);
}

/* By code, then meter (WALK_CODES). */
static int cmp_codes(const void *a, const void *c, void *ctx)
{
	const struct gw_batcher *b = ctx;
	const struct track *x = track_at(b, *(const uint32_t *)a);
	const struct track *y = track_at(b, *(const uint32_t *)c);
	int r = cmp_code(b, x, y);

	return r ? r : cmp_meter(b, x, y);
}

/* One difference of the order (batch_order): d zigzagged (wrapping: any
 * two numbers), 7 bits a byte from the lowest, the top bit set in every
 * byte but the last; 1 to 5 bytes. Into out when it is not NULL;
 * returns how many bytes. */
static size_t order_put(uint8_t *out, uint32_t d)
{
	uint32_t z = (d << 1) ^ (0u - (d >> 31));
	size_t n = 0;

	do {
		uint8_t c = (uint8_t)(z & 0x7f);
		z >>= 7;
		if (out)
			out[n] = (uint8_t)(c | (z ? 0x80 : 0));
		n++;
	} while (z);
	return n;
}

/* The tracks in the order `by` (struct gw_batcher's order): by their
 * names (meter, then code), the order of the walks that read (the
 * seal's day and its series, the edge's books, the edges' text); by
 * code, then meter, the order of the walks that write records (the open
 * day's passes, the seal's prune), so that the records lie in the file
 * in the order the batch's value column reads them (its largest read: a
 * window ahead of it reads the file once) and each pass reads the
 * records the walk before it wrote in the order they lie; the walks by
 * names read them through a window a code (batch_spill_core.c, struct
 * spill_ra). Made again when tracks were added since (new tracks are rare
 * after the first cycle): the numbers sorted, 4 bytes a track while it
 * is made, then kept as their differences (order_put), about a byte a
 * track, written over the sorted numbers when they fit behind them (the
 * common case: no second buffer). Returns 0, or GW_ENOMEM (the order is
 * then none: the walks take the tracks by number). */
int batch_order(struct gw_batcher *b, enum walk_by by)
{
	struct track_order *to = &b->order[by];
	size_t n = b->n_tracks, len = 0;
	uint32_t prev = 0;
	int fit = 1;

	if (to->n == n && (to->p || !n))
		return 0;
	free(to->p);
	*to = (struct track_order){0};
	uint32_t *o = malloc(n * sizeof(*o) + 1);
	if (!o)
		return GW_ENOMEM;
	for (size_t i = 0; i < n; i++)
		o[i] = (uint32_t)(i + 1);
	qsort_r(o, n, sizeof(*o), by == WALK_CODES ? cmp_codes : cmp_names, b);
	/* in place when no number's bytes reach past its own 4 */
	for (size_t i = 0; i < n; prev = o[i++]) {
		len += order_put(NULL, o[i] - prev);
		fit &= len <= (i + 1) * sizeof(*o);
	}
	uint8_t *s = fit ? (uint8_t *)o : malloc(len + 1);
	if (!s) {
		free(o);
		return GW_ENOMEM;
	}
	size_t at = 0;
	prev = 0;
	for (size_t i = 0; i < n; i++) {
		uint32_t no = o[i]; /* read before its bytes are written over */
		at += order_put(s + at, no - prev);
		prev = no;
	}
	if (fit) {
		uint8_t *shrunk = realloc(s, len + 1);
		s = shrunk ? shrunk : s;
	} else {
		free(o);
	}
	*to = (struct track_order){s, len, n};
	return 0;
}

static void walk_made(const struct gw_batcher *b, struct track_walk *w,
		      enum walk_by by)
{
	const struct track_order *to = &b->order[by];

	*w = (struct track_walk){.b = b};
	if (to->n == b->n_tracks && to->p) {
		w->p = to->p;
		w->end = to->p + to->len;
	}
}

/* Starts walk w over every track: in the order of their names when it
 * is made (batch_order since the last track was added), else by
 * number. */
void batch_walk_made(const struct gw_batcher *b, struct track_walk *w)
{
	walk_made(b, w, WALK_NAMES);
}

/* Starts walk w over every track in the order `by`, made first when
 * tracks were added since (batch_order). Returns 0, or GW_ENOMEM when
 * it could not be made: w walks by number then. */
int batch_walk_begin_by(struct gw_batcher *b, struct track_walk *w,
			enum walk_by by)
{
	int rc = batch_order(b, by);

	walk_made(b, w, by);
	return rc;
}

/* The same in the order of their names. */
int batch_walk_begin(struct gw_batcher *b, struct track_walk *w)
{
	return batch_walk_begin_by(b, w, WALK_NAMES);
}

/* The walk's next track, NULL after the last. */
struct track *batch_walk_next(struct track_walk *w)
{
	if (!w->p) {
		if (w->no >= w->b->n_tracks)
			return NULL;
		return track_at(w->b, ++w->no);
	}
	if (w->p == w->end)
		return NULL;
	uint32_t z = 0;
	unsigned sh = 0;
	uint8_t c;
	do {
		c = *w->p++;
		z |= (uint32_t)(c & 0x7f) << sh;
		sh += 7;
	} while (c & 0x80);
	w->no += (z >> 1) ^ (0u - (z & 1));
	return track_at(w->b, w->no);
}

/* A walk by code over tracks that lie by meter in memory (the passes,
 * the prune) finds each track, its blocks of points and its meter's
 * name far from the last one's: two more walks fetch them into the
 * cache before they are used, the tracks and names 2 x WALK_AHEAD
 * tracks on, their first block WALK_AHEAD on (its number read from a
 * track fetched by then). */
#define WALK_AHEAD 8

void batch_walk_ahead_begin(struct gw_batcher *b, struct track_walk *w,
			    struct track_walk ahead[2], enum walk_by by)
{
	struct track *t;

	batch_walk_begin_by(b, w, by);
	ahead[0] = ahead[1] = *w;
	for (int i = 0; i < 2 * WALK_AHEAD && (t = batch_walk_next(&ahead[1])); i++)
		__builtin_prefetch(t);
	for (int i = 0; i < WALK_AHEAD; i++)
		batch_walk_next(&ahead[0]);
}

struct track *batch_walk_ahead_next(struct track_walk *w, struct track_walk ahead[2])
{
	const struct gw_batcher *b = w->b;
	struct track *t = batch_walk_next(w);
	const struct track *a;

	if (!t)
		return NULL;
	if ((a = batch_walk_next(&ahead[1])) != NULL) {
		__builtin_prefetch(a);
		__builtin_prefetch(name_at(b, a->meter_id));
	}
	if ((a = batch_walk_next(&ahead[0])) != NULL && a->c_head)
		__builtin_prefetch(blk_d(b->pool, a->c_head));
	return t;
}

/* Tracks the first n slabs hold. */
static size_t slabs_cap(size_t n)
{
	if (n <= TRACK_SMALL_N)
		return TRACK_SLAB0 * (((size_t)1 << n) - 1);
	return TRACK_SMALL + (n - TRACK_SMALL_N) * TRACK_SLAB;
}

/* A zeroed track from the slabs (each twice the one before, up to 4096
 * tracks, 448 kB: no malloc header a track, and no slab much larger than
 * the tracks in it), the next number, b->n_tracks + 1, which the caller
 * counts. NULL when out of memory or out of numbers. */
static struct track *track_new(struct gw_batcher *b)
{
	size_t k = b->n_tracks;

	if (k >= UINT32_MAX - 1)
		return NULL;
	if (k == slabs_cap(b->n_slabs)) {
		size_t n = b->n_slabs;
		size_t cap = n < TRACK_SMALL_N ? (size_t)TRACK_SLAB0 << n : TRACK_SLAB;
		struct track **dir = realloc(b->slabs, (n + 1) * sizeof(*dir));
		if (!dir)
			return NULL;
		b->slabs = dir;
		dir[n] = calloc(cap, sizeof(**dir));
		if (!dir[n])
			return NULL;
		b->n_slabs = n + 1;
	}
	return track_at(b, (uint32_t)(k + 1));
}

/* The next of n taken in slabs of `per` items of `size` bytes whose
 * directory is *dir: its number, 1 + its place (zeroed); 0 when out of
 * memory or of numbers. Slabs never move; the directory does. */
static uint32_t side_take(void ***dir, size_t *n, size_t per, size_t size)
{
	size_t k = *n;

	if (k >= X_EXT - 1)
		return 0;
	if (k % per == 0) {
		size_t nb = k / per; /* the slabs so far */
		if (gw_block_add((char ***)dir, &nb, per * size))
			return 0;
		memset((*dir)[nb - 1], 0, per * size);
	}
	*n = k + 1;
	return (uint32_t)(k + 1);
}

/* t's ext, made when first needed (freed with the tracks); it takes
 * over t's edge value's slot. NULL when out of memory. */
struct track_ext *batch_track_ext(const struct gw_batcher *b, struct track *t)
{
	struct track_side *sd = b->side;

	if (!(t->x & X_EXT)) {
		uint32_t no = side_take((void ***)&sd->xs, &sd->n_ext, EXT_SLAB,
					sizeof(struct track_ext));
		if (!no)
			return NULL;
		struct track_ext *e = &sd->xs[(no - 1) / EXT_SLAB][(no - 1) % EXT_SLAB];
		e->bad_event_day = INT32_MIN;
		e->ev = t->x;
		t->x = X_EXT | no;
	}
	return track_ext(b, t);
}

/* A slot for t's edge value (track_edge_v), which an energy track's
 * books at the edge midnight need, made when it is not there: taken
 * when the track becomes one, so that the edge's walks never fail for
 * it. Returns 0 or GW_ENOMEM. */
int batch_track_energy(const struct gw_batcher *b, struct track *t)
{
	struct track_side *sd = b->side;
	struct track_ext *e = track_ext(b, t);

	if (e ? e->ev : t->x)
		return 0;
	uint32_t no = side_take((void ***)&sd->evs, &sd->n_ev, EV_SLAB,
				sizeof(int64_t));
	if (!no)
		return GW_ENOMEM;
	if (e)
		e->ev = no;
	else
		t->x = no;
	return 0;
}

/* The hash of t's two names, as the hash table has it: 4 bytes a track
 * are not kept for it; the table's probes compare the names instead. */
uint32_t batch_track_hash(const struct gw_batcher *b, const struct track *t)
{
	return batch_key_hash(track_meter(b, t), track_obis(b, t));
}

/* Adds x to t's set `which`, made when it is the first. Returns 0 or
 * GW_ENOMEM. */
int batch_track_flag(const struct gw_batcher *b, struct track *t,
		     enum track_set which, int64_t x)
{
	struct track_ext *e = batch_track_ext(b, t);

	if (!e)
		return GW_ENOMEM;
	return batch_iset_add(&e->sets[which], x);
}

void batch_track_unflag(const struct gw_batcher *b, struct track *t,
			enum track_set which, int64_t x)
{
	struct track_ext *e = track_ext(b, t);

	if (e)
		batch_iset_del(&e->sets[which], x);
}

/* Whether point p0 before p1 fits in the track's 8 bytes (t0_dts,
 * t0_dv). */
static int tail0_fits(const struct point *p0, const struct point *p1)
{
	int64_t dv = (int64_t)((uint64_t)p1->v - (uint64_t)p0->v);

	return p1->ts - p0->ts <= UINT32_MAX && dv >= INT32_MIN && dv <= INT32_MAX;
}

/* Whether last point p fits in the track's 8 bytes (t1_dt, t1_v) with
 * the base at `base`; its time there in *dt. */
static int tail1_fits(int64_t base, const struct point *p, int32_t *dt)
{
	int64_t d;

	if (__builtin_sub_overflow(p->ts, base, &d) || d <= T1_EXT ||
	    d > INT32_MAX || p->v < INT32_MIN || p->v > INT32_MAX)
		return 0;
	*dt = (int32_t)d;
	return 1;
}

/* Room for t's last two points to become p0 (NULL: t has one) and p1:
 * its ext made when p1 or p0 does not fit the track's own fields. The
 * first point ever set sets the base. Returns 0 or GW_ENOMEM (t
 * unchanged). */
static int tail_room(const struct gw_batcher *b, struct track *t,
		     const struct point *p0, const struct point *p1)
{
	struct track_side *sd = b->side;
	int32_t dt;

	if (!sd->based) {
		sd->t_base = p1->ts;
		sd->based = 1;
	}
	if ((!p0 || tail0_fits(p0, p1)) && tail1_fits(sd->t_base, p1, &dt))
		return 0;
	return batch_track_ext(b, t) ? 0 : GW_ENOMEM;
}

/* t's last two points p0 (NULL: t has one) and p1 (room made by
 * tail_room). */
static void tail_set(const struct gw_batcher *b, struct track *t,
		     const struct point *p0, const struct point *p1)
{
	int32_t dt;

	if (p0 && tail0_fits(p0, p1)) {
		t->t0_dts = (uint32_t)(p1->ts - p0->ts);
		t->t0_dv = (int32_t)(int64_t)((uint64_t)p1->v - (uint64_t)p0->v);
	} else if (p0) {
		t->t0_dts = 0;
		track_ext(b, t)->tail0 = *p0;
	}
	if (tail1_fits(b->side->t_base, p1, &dt)) {
		t->t1_dt = dt;
		t->t1_v = (int32_t)p1->v;
	} else {
		t->t1_dt = T1_EXT;
		track_ext(b, t)->tail1 = *p1;
	}
}

/* Moves the base of the tracks' last points' times to `base`: each
 * track's t1_dt follows, and a track whose last point is too far from
 * the new base (a meter dark for weeks) moves it to its ext. Called as
 * the open day changes (batch_set_open), so that the readings of the
 * open day fit. Returns 0, or GW_ENOMEM with the base where it was (a
 * track moved to its ext stays there: every last point is where
 * track_tail1 finds it either way; one that does not fit the old base
 * when set goes to its ext then, as tail_room makes room for it). */
int batch_tails_rebase(const struct gw_batcher *b, int64_t base)
{
	struct track_side *sd = b->side;
	int64_t old = sd->t_base;

	if (!sd->based || base == old) {
		sd->t_base = base;
		sd->based = 1;
		return 0;
	}
	for (size_t i = 1; i <= b->n_tracks; i++) {
		struct track *t = track_at(b, (uint32_t)i);
		if (!t->n || t->t1_dt == T1_EXT)
			continue;
		struct point p = {old + t->t1_dt, t->t1_v};
		int32_t dt;
		if (tail1_fits(base, &p, &dt)) {
			t->t1_dt = dt;
			continue;
		}
		struct track_ext *e = batch_track_ext(b, t);
		if (!e) {
			/* back to the old base: the tracks before t */
			for (size_t j = 1; j < i; j++) {
				struct track *u = track_at(b, (uint32_t)j);
				if (u->n && u->t1_dt != T1_EXT)
					u->t1_dt = (int32_t)(base + u->t1_dt - old);
			}
			return GW_ENOMEM;
		}
		e->tail1 = p;
		t->t1_dt = T1_EXT;
	}
	sd->t_base = base;
	return 0;
}

/* ---- the points, encoded ----
 *
 * Point k is two numbers: its time step minus the step before (the first
 * step counts from 0, the second from a step of 0), and its value minus
 * the value before (from 0; wrapping, so any int64 fits), each zigzagged
 * (small of either sign small) and written as a Rice code: q = u >> r
 * ones and a zero, then the low r bits of u; r follows the mean of the
 * numbers before it in the same field (kept 16-fold, each
 * new number weighing 1/8 and counted at most 4 times the mean, so that
 * a gap or a jump moves it only a little; rice_adapt, batch_int.h). The
 * means are rounded to 12 significant bits after every number, by the
 * encoder and the decoder alike, and the track keeps them in 16 bits
 * each (mt and mv, mean_pack): exact below 4,096 (a mean of 256), so a
 * regular cadence and a slowly rising register are coded as with 32
 * bits. The first RICE_WARM numbers
 * of a field set the mean instead: the mean of them so far (the c-th,
 * from 0, weighing 1/(c + 1), so that the 1/8 follows on), each counted
 * at most 64 times the mean before it. With the 1/8 from the first, the
 * mean grew at most 1.375-fold a number: a time field whose steps
 * change by a second or two (a clock run fast multiplies a few ms of
 * jitter) took about 13 points, 3 hours at 15 minutes, to come up from
 * RICE_M0's 16, most of them escaped, and a track a few hours old (the
 * first day after a start, whose points after midnight go on from a
 * record of a few) took two blocks where the same points later take
 * one. The decoder counts c as the encoder does: from the track's
 * first point kept, across its records and its chain.
 *
 * A number with q >= 16 is written as 16 ones, its bit length - 1 in 6
 * bits and its bits (the
 * first point's time and value, the first step, a long gap). A regular
 * cadence with a few ms of jitter costs 6-8 bits for the time, a slowly
 * rising register 4-10 for the value: about 1.9 bytes a point where
 * byte varints took 2.4. Bits are kept from the lowest bit of each byte
 * up. */

#define RICE_QMAX 16

static inline uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static inline int64_t unzz(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static inline unsigned rice_r(uint32_t m)
{
	/* the mean's (m / 16's) top bit, 0 for a mean of 0 as of 1 */
	return ((unsigned)__builtin_clz(m | 16) ^ 31u) - 4;
}

/* One field into the bit writer (bitw.h): q < 16 ones, the zero and the
 * r <= 31 low bits in one put (at most 48 bits), else the escape. */
static inline void put_rice(struct gw_bitw *w, uint64_t u, unsigned r)
{
	uint64_t q = u >> r;

	if (q < RICE_QMAX) {
		uint64_t low = r ? u & (((uint64_t)1 << r) - 1) : 0;
		gw_bitw_put(w, ((1ull << q) - 1) | low << (q + 1),
			    (unsigned)q + 1 + r);
		return;
	}
	unsigned len = 64u - (unsigned)__builtin_clzll(u);
	gw_bitw_put(w, ((1u << RICE_QMAX) - 1) | (uint64_t)(len - 1) << RICE_QMAX,
		    RICE_QMAX + 6);
	gw_bitw_put(w, u, len);
}

/* Reads a chain's bits, or a spilled record's (flat: its bytes in
 * memory, then 8 zeros), from bit pos of bytes d: a window of the 57 to
 * 64 bits from there is one 8-byte load at byte pos / 8, shifted by pos
 * % 8, while pos / 8 <= lim. Most points' two fields lie in one window
 * (decode: a load a point, and no bit kept across points to wait on). A
 * chain's blocks (44 bytes, then 12) are copied into stage a few at a
 * time (stage_more: the bytes not taken yet moved to its front, then
 * blocks until BR_FILL bytes are there, the next block fetched while
 * these are decoded), so that a window is the same load in a record
 * and in a chain: a read across a block's end, most of them in a block
 * of 12, took two copies of a few bytes each. After the last byte (a
 * record's end, a chain's last block, the rest of which is never used)
 * come 8 zeros (done): lim is then the last byte's end, and the bits
 * past it are zeros. */
#define BR_FILL 64
#define BR_STAGE (BR_FILL - 1 + BLK_DATA + 8)
_Static_assert(BR_FILL >= 16 && BR_FILL <= BR_STAGE - 8,
	       "7 bytes kept, blocks until BR_FILL bytes, then 8 zeros");

struct bit_rd {
	const uint8_t *d; /* a record's bytes, or stage */
	size_t pos;       /* the next bit, from d's first */
	size_t lim;       /* the last byte a window may start at */
	int done;            /* nothing more to stage: bits past lim + 8
			      * read as zeros (a record's 8 after lim are) */
	struct chain_rd r;   /* the chain's next block to stage */
	const uint8_t *tail; /* the chain's last block's bytes */
	uint8_t stage[BR_STAGE];
};

/* Moves the bytes not taken yet (those from pos / 8 to lim + 8, fewer
 * than 8) to stage's front and stages the chain's blocks after them,
 * until BR_FILL bytes are there or its last block is (then the 8
 * zeros). */
static void stage_more(struct bit_rd *br)
{
	size_t at = br->pos >> 3;
	uint8_t *e = br->stage + (br->lim + 8 - at);

	/* 8 bytes (the stage has them after lim + 8): a load, then a store */
	gw_bitw_store64(br->stage, gw_bitw_load64(br->stage + at));
	while (!br->done && e - br->stage < BR_FILL) {
		/* the two sizes apart: copies of a known length */
		if (br->r.len == BLK_SDATA)
			memcpy(e, br->r.d, BLK_SDATA);
		else
			memcpy(e, br->r.d, BLK_DATA);
		e += br->r.len;
		if (br->r.d == br->tail) {
			br->done = 1;
			break;
		}
		chain_rd_next(&br->r, chain_rd_peek(&br->r));
		/* a track's blocks lie apart (taken as its readings came):
		 * the next one is fetched while these are decoded */
		__builtin_prefetch(br->r.d);
	}
	br->pos &= 7;
	if (br->done) {
		memset(e, 0, 8);
		br->lim = (size_t)(e - br->stage);
	} else {
		br->lim = (size_t)(e - br->stage) - 8;
	}
}

static void bit_rd_init(struct bit_rd *br, const struct blk_pool *p,
			const struct chain *c)
{
	chain_rd_init(&br->r, p, c);
	br->tail = c->head ? blk_d(p, c->tail) : NULL;
	br->done = !c->head;
	/* nothing staged: no byte from pos / 8 to lim + 8 (the 8 bytes
	 * stage_more moves are stage's own, none of them kept) */
	br->d = br->stage;
	br->pos = 64;
	br->lim = 0;
	stage_more(br);
}

static void bit_rd_flat(struct bit_rd *br, const uint8_t *bytes, size_t len)
{
	br->d = bytes;
	br->pos = 0;
	br->lim = len;
	br->done = 1;
}

/* The bits from br's pos on (57 at least), the next blocks staged first
 * when needed; past the last byte zeros. */
static uint64_t window_at(struct bit_rd *br)
{
	if (br->pos >> 3 > br->lim) {
		if (br->done)
			return 0;
		stage_more(br);
	}
	return gw_bitw_load64(br->d + (br->pos >> 3)) >> (br->pos & 7);
}

/* cnt <= 32 bits */
static uint64_t get_bits32(struct bit_rd *br, unsigned cnt)
{
	uint64_t v = window_at(br) & (((uint64_t)1 << cnt) - 1);

	br->pos += cnt;
	return v;
}

/* q << r | the r low bits of a (those above put out by an xor with
 * themselves: no mask to make). */
static inline uint64_t rice_join(uint64_t a, unsigned q, unsigned r)
{
	return (((a >> r) ^ q) << r) ^ a;
}

/* One field by itself: q < 16 ones, a zero and r bits; else 16 ones, a
 * bit length - 1 in 6 bits and the bits (the escape). */
static __attribute__((noinline)) uint64_t get_rice(struct bit_rd *br,
						    unsigned r)
{
	uint64_t w = window_at(br);
	unsigned q = (unsigned)__builtin_ctzll(~w | (1ull << RICE_QMAX));

	if (q < RICE_QMAX) {
		br->pos += q + 1 + r;
		return rice_join(w >> (q + 1), q, r);
	}
	br->pos += RICE_QMAX;
	unsigned len = (unsigned)get_bits32(br, 6) + 1;
	if (len <= 32)
		return get_bits32(br, len);
	uint64_t lo = get_bits32(br, 32);
	return lo | get_bits32(br, len - 32) << 32;
}

/* A point's two fields, with means giving r1 and r2: from one window
 * when both lie in it, neither escaped; else one at a time (get_rice).
 * d, pos, lim are br's, kept apart (in registers) while a loop
 * decodes. */
static inline __attribute__((always_inline)) void
get_point(struct bit_rd *br, const uint8_t **d, size_t *pos, size_t *lim,
	  unsigned r1, unsigned r2, uint64_t *u1, uint64_t *u2)
{
	size_t at = *pos >> 3;

	if (__builtin_expect(at > *lim && !br->done, 0)) {
		br->pos = *pos;
		stage_more(br);
		*d = br->d;
		*pos = br->pos;
		*lim = br->lim;
		at = 0;
	}
	if (__builtin_expect(at <= *lim, 1)) {
		unsigned sh = (unsigned)*pos & 7;
		uint64_t w = gw_bitw_load64(*d + at) >> sh; /* 64 - sh bits */
		unsigned q1 = (unsigned)__builtin_ctzll(~w | (1ull << RICE_QMAX));
		unsigned n1 = q1 + 1 + r1; /* at most 16 + 1 + 26 */
		uint64_t w2 = w >> n1;
		unsigned q2 = (unsigned)__builtin_ctzll(~w2 | (1ull << RICE_QMAX));
		unsigned n2 = q2 + 1 + r2;
		if (__builtin_expect(((q1 | q2) & RICE_QMAX) == 0 &&
				     sh + n1 + n2 <= 64, 1)) {
			*u1 = rice_join(w >> (q1 + 1), q1, r1);
			*u2 = rice_join(w2 >> (q2 + 1), q2, r2);
			*pos += n1 + n2;
			return;
		}
	}
	br->pos = *pos;
	*u1 = get_rice(br, r1);
	*u2 = get_rice(br, r2);
	*d = br->d;
	*pos = br->pos;
	*lim = br->lim;
}

struct enc_state {
	int64_t ts, step, v;
	size_t k;
	uint32_t mt, mv;
};

/* A point's two fields into w, with means giving rt and rv. */
static inline __attribute__((always_inline)) void
put_fields(struct gw_bitw *w, uint64_t ut, uint64_t uv, unsigned rt,
	   unsigned rv)
{
	uint64_t qt = ut >> rt, qv = uv >> rv;

	if (__builtin_expect(qt < RICE_QMAX && qv < RICE_QMAX, 1)) {
		/* both fields in one put when they fit in 64 bits (at most
		 * 2 x (15 + 1 + 26)) */
		unsigned nt = (unsigned)qt + 1 + rt, nv = (unsigned)qv + 1 + rv;
		/* the low bits: u without q's (no mask to make) */
		uint64_t ct = ((1ull << qt) - 1) | (ut ^ qt << rt) << (qt + 1);
		uint64_t cv = ((1ull << qv) - 1) | (uv ^ qv << rv) << (qv + 1);
		if (nt + nv <= 64) {
			gw_bitw_put_fit(w, ct | cv << nt, nt + nv);
		} else {
			gw_bitw_put_fit(w, ct, nt);
			gw_bitw_put_fit(w, cv, nv);
		}
	} else {
		put_rice(w, ut, rt);
		put_rice(w, uv, rv);
	}
}

/* Encodes one point after state s into w (at most 2 x (16 + 6 + 64)
 * bits, 22 bytes): an append, enc_points' first loop for one point. */
static void enc_point(struct enc_state *s, int64_t ts, int64_t v,
		      struct gw_bitw *w)
{
	int64_t step = ts - s->ts;
	uint64_t ut = zz(step - s->step);
	uint64_t uv = zz((int64_t)((uint64_t)v - (uint64_t)s->v));

	put_fields(w, ut, uv, rice_r(s->mt), rice_r(s->mv));
	/* the first point's time and value and the first step say nothing
	 * about the numbers to come */
	if (s->k >= 2)
		s->mt = rice_adapt(s->mt, ut, s->k - 2);
	if (s->k >= 1)
		s->mv = rice_adapt(s->mv, uv, s->k - 1);
	s->step = s->k == 0 ? 0 : step;
	s->ts = ts;
	s->v = v;
	s->k++;
}

/* Encodes pts[0..n) after state s into w, as enc_point each: the first
 * points of a track (the first step, the means' warm-up) one way, the
 * rest with none of their tests, as decode reads them; the state and
 * the writer in locals while it loops. */
static void enc_points(struct enc_state *s, const struct point *pts, size_t n,
		       struct gw_bitw *w)
{
	struct gw_bitw bw = *w;
	int64_t ts = s->ts, step = s->step, v = s->v;
	uint32_t mt = s->mt, mv = s->mv;
	size_t k = s->k, i = 0;

	for (; i < n && k < RICE_WARM + 2; i++, k++) {
		int64_t st = pts[i].ts - ts;
		uint64_t ut = zz(st - step);
		uint64_t uv = zz((int64_t)((uint64_t)pts[i].v - (uint64_t)v));
		put_fields(&bw, ut, uv, rice_r(mt), rice_r(mv));
		if (k >= 2)
			mt = rice_adapt(mt, ut, k - 2);
		if (k >= 1)
			mv = rice_adapt(mv, uv, k - 1);
		step = k == 0 ? 0 : st;
		ts = pts[i].ts;
		v = pts[i].v;
	}
	k += n - i;
	for (; i < n; i++) {
		int64_t st = pts[i].ts - ts;
		uint64_t ut = zz(st - step);
		uint64_t uv = zz((int64_t)((uint64_t)pts[i].v - (uint64_t)v));
		put_fields(&bw, ut, uv, rice_r(mt), rice_r(mv));
		mt = rice_adapt(mt, ut, RICE_WARM);
		mv = rice_adapt(mv, uv, RICE_WARM);
		step = st;
		ts = pts[i].ts;
		v = pts[i].v;
	}
	*w = bw;
	*s = (struct enc_state){.ts = ts, .step = step, .v = v, .k = k,
				.mt = mt, .mv = mv};
}

/* The encoder's state after t's last point (from its tail). */
static void tail_state(const struct gw_batcher *b, const struct track *t,
		       struct enc_state *s)
{
	struct point p1 = t->n ? track_tail1(b, t) : (struct point){0, 0};

	s->k = t->n;
	s->ts = p1.ts;
	s->v = p1.v;
	s->step = t->n >= 2 ? p1.ts - track_tail0(b, t).ts : 0;
	s->mt = t->n ? mean_unpack(t->mt) : RICE_M0;
	s->mv = t->n ? mean_unpack(t->mv) : RICE_M0;
}

/* Appends point (ts, v) to chain c after state s. Returns 0 or
 * GW_ENOMEM (c and s unchanged). */
static int put_point(struct blk_pool *p, struct chain *c, struct enc_state *s,
		     int64_t ts, int64_t v)
{
	/* the chain's last byte, when partly used, then the point's bits */
	uint8_t buf[24];
	struct gw_bitw w;
	struct enc_state ns = *s;

	gw_bitw_init(&w, buf, c->bit ? blk_d(p, c->tail)[c->tail_len - 1] : 0,
		     c->bit);
	enc_point(&ns, ts, v, &w);
	size_t nbits = gw_bitw_bits(&w, buf);
	gw_bitw_flush(&w);
	if (batch_chain_room(p, c, (nbits + 7) / 8))
		return GW_ENOMEM;
	batch_chain_put_bits(p, c, buf, nbits);
	*s = ns;
	return 0;
}

/* Room in the scratch for n points. */
static int scratch_room(const struct gw_batcher *b, size_t n)
{
	struct scratch *sc = b->sc;

	if (n <= sc->cap)
		return 0;
	size_t ncap = sc->cap ? sc->cap : 256;
	while (ncap < n)
		ncap *= 2;
	struct point *np = realloc(sc->pts, ncap * sizeof(*np));
	if (!np)
		return GW_ENOMEM;
	sc->pts = np; /* an open track's points moved with it */
	sc->cap = ncap;
	return 0;
}

/* The decoder's state between points. */
struct dec_state {
	int64_t ts, step, v;
	uint32_t mt, mv;
	size_t k;
};

/* Decodes n points after state d from br into out: the first points
 * of a track (the first step, the means' warm-up) one way, the rest
 * with none of their tests. */
static void decode(struct bit_rd *br, struct dec_state *d,
		   struct point *restrict out, size_t n)
{
	const uint8_t *bytes = br->d;
	size_t pos = br->pos, lim = br->lim;
	int64_t ts = d->ts, step = d->step, v = d->v;
	uint32_t mt = d->mt, mv = d->mv;
	size_t k = d->k, i = 0;
	uint64_t ut, uv;

	for (; i < n && k < RICE_WARM + 2; i++, k++) {
		get_point(br, &bytes, &pos, &lim, rice_r(mt), rice_r(mv), &ut, &uv);
		if (k >= 2)
			mt = rice_adapt(mt, ut, k - 2);
		if (k >= 1)
			mv = rice_adapt(mv, uv, k - 1);
		int64_t st = step + unzz(ut);
		ts += st;
		v = (int64_t)((uint64_t)v + (uint64_t)unzz(uv));
		step = k == 0 ? 0 : st;
		out[i].ts = ts;
		out[i].v = v;
	}
	for (struct point *o = out + i; o < out + n; o++) {
		get_point(br, &bytes, &pos, &lim, rice_r(mt), rice_r(mv), &ut, &uv);
		mt = rice_adapt(mt, ut, RICE_WARM);
		mv = rice_adapt(mv, uv, RICE_WARM);
		step += unzz(ut);
		ts += step;
		v = (int64_t)((uint64_t)v + (uint64_t)unzz(uv));
		o->ts = ts;
		o->v = v;
	}
	k += n - i;
	br->pos = pos;
	*d = (struct dec_state){ts, step, v, mt, mv, k};
}

/* The decoder's state a record's header keeps (before its first point). */
static struct dec_state state_dec(const struct spill_state *s)
{
	return (struct dec_state){s->ts, s->step, s->v, s->mt, s->mv, s->k};
}

static struct spill_state state_spill(const struct enc_state *e)
{
	return (struct spill_state){e->ts, e->step, e->v, e->mt, e->mv, (uint32_t)e->k};
}

static struct spill_state dec_spill(const struct dec_state *d)
{
	return (struct spill_state){d->ts, d->step, d->v, d->mt, d->mv, (uint32_t)d->k};
}

static struct enc_state state_enc(const struct spill_state *s)
{
	return (struct enc_state){.ts = s->ts, .step = s->step, .v = s->v,
				  .k = s->k, .mt = s->mt, .mv = s->mv};
}

void batch_track_open(const struct gw_batcher *b, struct track *t)
{
	struct scratch *sc = b->sc;
	struct dec_state d = {.mt = RICE_M0, .mv = RICE_M0};
	struct bit_rd r;
	size_t at = 0;

	if (sc->owner == t)
		return;
	sc->owner = t;
	/* the scratch has room: every insert made sure of it */
	if (t->sp) {
		const uint8_t *base;
		int depth = batch_spill_load(b, t, &base);
		if (depth < 0) {
			/* never used: the batcher seals nothing more */
			memset(sc->pts, 0, t->n * sizeof(*sc->pts));
			return;
		}
		/* from the first record's state; each record goes on from
		 * the state after the one before */
		d = state_dec(&b->spl->segs[0].h.start);
		for (int i = 0; i < depth; i++) {
			const struct spill_seg *g = &b->spl->segs[i];
			bit_rd_flat(&r, base + g->at, g->h.len);
			decode(&r, &d, sc->pts + at, g->h.count);
			at += g->h.count;
		}
	}
	struct chain c = track_chain(t);
	bit_rd_init(&r, b->pool, &c);
	decode(&r, &d, sc->pts + at, t->n - at);
}

/* Decodes points after state d from r into out, one at a time, up to n
 * of them, until *want of them have been at or after x (*want counts
 * down). Returns the points decoded. */
static size_t decode_until(struct bit_rd *r, struct dec_state *d,
			   struct point *out, size_t n, int64_t x, size_t *want)
{
	size_t i = 0;

	while (i < n && *want > 0) {
		decode(r, d, out + i, 1);
		*want -= out[i++].ts >= x;
	}
	return i;
}

/* batch_track_view, and batch_track_around when `around` is set: the
 * records from the one load_from(s) gives, read with their bytes (all
 * of them, or that one alone: batch_spill_load_one), the two points
 * before it from its header, then the points decoded, all of them and
 * checked, or only up to the second at or after s (that record's, and
 * the chain in memory's when it is the last). */
static int track_view(const struct gw_batcher *b, struct track *t, int64_t s,
		      int around, struct tpts *v)
{
	struct scratch *sc = b->sc;
	const uint8_t *base;
	struct bit_rd r;
	int first;

	if (!t->sp || !b->spl)
		return 0;
	int depth = around ? batch_spill_load_one(b, t, s, &base, &first)
			   : batch_spill_load_from(b, t, s, &base, &first);
	if (depth < 0)
		return 0;
	/* the scratch is the view's now, no track's (it has room for
	 * t->n points: every insert made sure of it) */
	sc->owner = NULL;
	/* the two points before the first record, from its header (the
	 * state before it: the last; pre_v and the step: the one before),
	 * when the chain still holds them */
	const struct spill_hdr *h = &b->spl->segs[first].h;
	size_t before = h->total - h->count, npre = 0;
	if (before >= 1 && h->start.k >= 1)
		npre = before >= 2 && h->start.k >= 2 && h->pre ? 2 : 1;
	if (npre == 2)
		sc->pts[0] = (struct point){h->start.ts - h->start.step, h->pre_v};
	if (npre >= 1)
		sc->pts[npre - 1] = (struct point){h->start.ts, h->start.v};
	struct dec_state d = state_dec(&h->start);
	size_t off = before - npre, n = t->n - off, at = npre;
	struct chain c = track_chain(t);
	if (around) {
		/* the points before s and two from s on; the record's own
		 * first, then the chain in memory after the last record */
		const struct spill_seg *g = &b->spl->segs[first];
		size_t want = 2;
		bit_rd_flat(&r, base + g->at, g->h.len);
		at += decode_until(&r, &d, sc->pts + at, g->h.count, s, &want);
		if (want && first == depth - 1) {
			bit_rd_init(&r, b->pool, &c);
			at += decode_until(&r, &d, sc->pts + at, n - at, s, &want);
		}
		if (want && at < n)
			return 0; /* the next record's points are needed */
		*v = (struct tpts){sc->pts, at, off, 0};
		return 1;
	}
	for (int i = first; i < depth; i++) {
		const struct spill_seg *g = &b->spl->segs[i];
		bit_rd_flat(&r, base + g->at, g->h.len);
		decode(&r, &d, sc->pts + at, g->h.count);
		at += g->h.count;
	}
	bit_rd_init(&r, b->pool, &c);
	decode(&r, &d, sc->pts + at, n - at);
	/* what a wrong state would not give: t's last point and the
	 * coder's means after it */
	struct point last = track_tail1(b, t);
	if (n == 0 || sc->pts[n - 1].ts != last.ts || sc->pts[n - 1].v != last.v ||
	    d.mt != mean_unpack(t->mt) || d.mv != mean_unpack(t->mv))
		return 0;
	*v = (struct tpts){sc->pts, n, off, 0};
	return 1;
}

int batch_track_view(const struct gw_batcher *b, struct track *t, int64_t s,
		     struct tpts *v)
{
	return track_view(b, t, s, 0, v);
}

int batch_track_around(const struct gw_batcher *b, struct track *t, int64_t s,
		       struct tpts *v)
{
	return track_view(b, t, s, 1, v);
}

void batch_tail_state(const struct gw_batcher *b, const struct track *t,
		      struct spill_state *s)
{
	struct enc_state e;

	tail_state(b, t, &e);
	*s = (struct spill_state){e.ts, e.step, e.v, e.mt, e.mv, (uint32_t)e.k};
}

long batch_track_points(const struct gw_batcher *b, const struct track *t,
			struct point *out)
{
	struct dec_state d = {.mt = RICE_M0, .mv = RICE_M0};
	struct bit_rd r;
	size_t at = 0;

	if (t->sp) {
		const uint8_t *base;
		int depth = batch_spill_load(b, t, &base);
		if (depth < 0)
			return -1;
		d = state_dec(&b->spl->segs[0].h.start);
		for (int i = 0; i < depth; i++) {
			const struct spill_seg *g = &b->spl->segs[i];
			bit_rd_flat(&r, base + g->at, g->h.len);
			decode(&r, &d, out + at, g->h.count);
			at += g->h.count;
		}
	}
	struct chain c = track_chain(t);
	bit_rd_init(&r, b->pool, &c);
	decode(&r, &d, out + at, t->n - at);
	return (long)at;
}

/* Decodes up to *left points after state d from r, one at a time, while
 * they are at or before ts, the last of them into *last (*found set).
 * Returns 1 once a point after ts was met. */
static int decode_upto(struct bit_rd *r, struct dec_state *d, size_t *left,
		       int64_t ts, struct point *last, int *found)
{
	struct point p;

	for (; *left > 0; (*left)--) {
		decode(r, d, &p, 1);
		if (p.ts > ts)
			return 1;
		*last = p;
		*found = 1;
	}
	return 0;
}

int batch_track_last_at(const struct gw_batcher *b, const struct track *t,
			int64_t ts, struct point *last)
{
	struct dec_state d = {.mt = RICE_M0, .mv = RICE_M0};
	size_t left = t->n;
	struct bit_rd r;
	int found = 0;

	if (b->sc->owner == t) {
		size_t k = lower_bound(b, t, ts + 1);
		if (k > 0)
			*last = b->sc->pts[k - 1];
		return k > 0;
	}
	if (t->sp) {
		/* The record whose point before it (its header's state) is
		 * the last at or before ts or earlier, its bytes alone: every
		 * later record's point before it is after ts, the first of
		 * them this record's last point, so the one sought is that
		 * point, or this record's, or (the last record) the chain's
		 * in memory. After the edge's prune, ts at the edge
		 * midnight: the first record, its first point. */
		const uint8_t *base;
		int first;
		int depth = batch_spill_load_one(b, t, ts < INT64_MAX ? ts + 1 : ts,
						 &base, &first);
		if (depth < 0)
			return 0;
		const struct spill_seg *g = &b->spl->segs[first];
		size_t n = g->h.count, before = g->h.total - n;
		if (before >= 1 && g->h.start.k >= 1 && g->h.start.ts <= ts) {
			*last = (struct point){g->h.start.ts, g->h.start.v};
			found = 1;
		}
		d = state_dec(&g->h.start);
		bit_rd_flat(&r, base + g->at, g->h.len);
		left -= before + n;
		if (decode_upto(&r, &d, &n, ts, last, &found) || first < depth - 1)
			return found;
	}
	struct chain c = track_chain(t);
	bit_rd_init(&r, b->pool, &c);
	decode_upto(&r, &d, &left, ts, last, &found);
	return found;
}

int64_t batch_track_first_ts(const struct gw_batcher *b, const struct track *t)
{
	struct bit_rd r;

	if (!t->n)
		return INT64_MAX;
	if (t->sp) {
		int64_t ts;
		return batch_spill_first(b, t, &ts) ? 0 : ts;
	}
	/* from the first block's bytes alone, nothing staged: the first
	 * field is 86 bits at most, and windows from its first 36 bytes
	 * read none past its 44 */
	_Static_assert(BLK_DATA - 8 >= (RICE_QMAX + 6 + 32) / 8 + 1,
		       "the escape's last window in the first block");
	bit_rd_flat(&r, blk_d(b->pool, t->c_head), BLK_DATA - 8);
	return unzz(get_rice(&r, rice_r(RICE_M0)));
}

/* Encodes pts[0..n) as t's points, into blocks of their own; t's old
 * blocks go back to the pool. Returns 0 or GW_ENOMEM (t unchanged). */
static int reencode(const struct gw_batcher *b, struct track *t,
		    const struct point *pts, size_t n)
{
	struct chain c = {0};
	struct enc_state s = {.mt = RICE_M0, .mv = RICE_M0};

	if (n && tail_room(b, t, n > 1 ? &pts[n - 2] : NULL, &pts[n - 1]))
		return GW_ENOMEM;
	for (size_t k = 0; k < n; k++) {
		if (put_point(b->pool, &c, &s, pts[k].ts, pts[k].v)) {
			batch_chain_free(b->pool, &c);
			return GW_ENOMEM;
		}
	}
	track_chain_free(b, t);
	track_chain_keep(t, &c);
	batch_spill_set(b, t, 0); /* every point in enc now */
	t->n = (uint32_t)n;
	t->mt = mean_pack(s.mt);
	t->mv = mean_pack(s.mv);
	if (n)
		tail_set(b, t, n > 1 ? &pts[n - 2] : NULL, &pts[n - 1]);
	return 0;
}

/* ---- the hash table ----
 *
 * Open addressing with linear probing in 2^k slots, grown x2 when one
 * track more would fill more than 9/10 of them (TRACK_LOAD_NUM /
 * TRACK_LOAD_DEN). A track's first slot is the low k bits of its hash
 * (batch_key_hash, mixed: track_mix); its slot holds its number in
 * those k bits (a number is at most the tracks there are, fewer than
 * the slots) and the hash's bits above them in the rest, 0 when empty.
 * A probe compares those bits first and goes into the track and its
 * names only when they are the same: a slot not the track's sends it
 * into a track in 1 of 2^(32-k) (1 in 16,384 at 262,144 slots). So the
 * table is filled to 9/10 (230,000 tracks in 262,144 slots, 1 MB; in
 * 524,288, 2 MB, at 7/10 before): a lookup passes over more slots (about
 * 4.6 at 0.88 full, mostly in one 64-byte line, against 1.4 at 0.44),
 * but goes into one track and its meter's name, where each slot passed
 * over cost those two misses before. The hash is not kept: the table
 * grows by computing it again from the names (batch_track_hash), as the
 * spilled records are checked. */
#define TRACK_LOAD_NUM 9
#define TRACK_LOAD_DEN 10

/* Hash h mixed (murmur3's finaliser: each bit of it depends on every
 * bit of h), so that the bits that place a track and those kept beside
 * its number are each spread alike. */
static uint32_t track_mix(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* Whether one track more fits the table as it is. */
static int table_room(const struct gw_batcher *b)
{
	return (b->n_tracks + 1) * TRACK_LOAD_DEN <= b->n_slots * TRACK_LOAD_NUM;
}

static int rehash(struct gw_batcher *b)
{
	size_t n = b->n_slots * 2, old = b->n_slots - 1, mask = n - 1;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return GW_ENOMEM;
	for (size_t i = 0; i < b->n_slots; i++) {
		uint32_t no = b->slots[i] & (uint32_t)old;
		if (!b->slots[i])
			continue;
		uint32_t h = track_mix(batch_track_hash(b, track_at(b, no)));
		size_t j = h & mask;
		while (slots[j])
			j = (j + 1) & mask;
		slots[j] = (h & (uint32_t)~mask) | no;
	}
	free(b->slots);
	b->slots = slots;
	b->n_slots = n;
	return 0;
}

/* t's rollover: 0, or its place in the batcher's table of them, or
 * beyond the table's ROLL_MAX its ext. Returns 0 or GW_ENOMEM. */
static int set_rollover(struct gw_batcher *b, struct track *t, int64_t roll)
{
	int i = 0;

	if (roll == 0)
		return 0;
	while (i < b->n_rolls && b->rolls[i] != roll)
		i++;
	if (i == b->n_rolls && i < ROLL_MAX)
		b->rolls[b->n_rolls++] = roll;
	if (i < ROLL_MAX) {
		t->roll = (uint8_t)(i + 1);
		return 0;
	}
	if (!batch_track_ext(b, t))
		return GW_ENOMEM;
	track_ext(b, t)->rollover = roll;
	t->roll = ROLL_EXT;
	return 0;
}

struct track *batch_find_track(struct gw_batcher *b, const struct gw_reading *r,
			       int create)
{
	uint32_t h = track_mix(batch_key_hash(r->meter_id, r->obis)), s;
	size_t mask = b->n_slots - 1, j = h & mask;
	uint32_t high = h & (uint32_t)~mask; /* the hash's bits in a slot */

	while ((s = b->slots[j]) != 0) {
		if ((s & (uint32_t)~mask) == high) {
			struct track *t = track_at(b, s & (uint32_t)mask);
			if (strcmp(track_meter(b, t), r->meter_id) == 0 &&
			    strcmp(track_obis(b, t), r->obis) == 0)
				return t;
		}
		j = (j + 1) & mask;
	}
	if (!create)
		return NULL;
	if (!table_room(b)) {
		if (rehash(b))
			return NULL;
		return batch_find_track(b, r, create);
	}
	uint32_t meter, obis;
	if (batch_name(b, r->meter_id, sizeof(r->meter_id), &meter) ||
	    batch_name(b, r->obis, sizeof(r->obis), &obis))
		return NULL;
	struct track *t = track_new(b);
	if (!t)
		return NULL;
	t->meter_id = meter;
	t->obis = obis;
	t->unit = r->unit;
	t->scale = r->scale;
	if (gw_unit_is_energy(r->unit) &&
	    (batch_track_energy(b, t) ||
	     (b->p.rollover &&
	      set_rollover(b, t, b->p.rollover(b->p.rollover_ctx, r->meter_id, r->obis)))))
		return NULL;
	b->n_tracks++;
	b->slots[j] = high | (uint32_t)b->n_tracks;
	return t;
}

/* Appends a point after t's last one. */
static int append(const struct gw_batcher *b, struct track *t, int64_t ts,
		  int64_t v)
{
	struct enc_state s;
	struct point p = {ts, v};
	struct chain c = track_chain(t);

	tail_state(b, t, &s);
	struct point last = {s.ts, s.v};
	if (scratch_room(b, t->n + 2) || tail_room(b, t, t->n ? &last : NULL, &p) ||
	    put_point(b->pool, &c, &s, ts, v))
		return GW_ENOMEM;
	track_chain_keep(t, &c);
	t->mt = mean_pack(s.mt);
	t->mv = mean_pack(s.mv);
	tail_set(b, t, t->n ? &last : NULL, &p);
	t->n++;
	if (b->sc->owner == t) {
		/* the decoded points lack it now */
		b->sc->owner = NULL;
	}
	return 0;
}

/* Inserts a point keeping the series sorted; a second reading with the
 * same timestamp replaces the first. *view gets the points around it (on
 * an append its last points, copied into win; else the decoded track).
 * Returns 1 if a point was added, 2 if one changed its value, 0 if the
 * same point was there already, or GW_ENOMEM. */
int batch_track_insert(const struct gw_batcher *b, struct track *t, int64_t ts,
		       int64_t v, struct point win[3], struct pview *view)
{
	struct point p1 = t->n ? track_tail1(b, t) : (struct point){0, 0};

	if (t->n == 0 || p1.ts < ts) {
		size_t k = 0;
		if (t->n >= 2)
			win[k++] = track_tail0(b, t);
		if (t->n >= 1)
			win[k++] = p1;
		if (append(b, t, ts, v))
			return GW_ENOMEM;
		win[k].ts = ts;
		win[k].v = v;
		*view = (struct pview){win, k + 1, k};
		return 1;
	}
	if (scratch_room(b, t->n + 2))
		return GW_ENOMEM;
	batch_track_open(b, t);
	struct point *p = track_pts(b, t);
	size_t lo = lower_bound(b, t, ts), n = t->n;
	int rc = 1;
	if (lo < n && p[lo].ts == ts) {
		*view = (struct pview){p, n, lo};
		if (p[lo].v == v)
			return 0;
		p[lo].v = v;
		rc = 2;
	} else {
		memmove(p + lo + 1, p + lo, (n - lo) * sizeof(*p));
		p[lo].ts = ts;
		p[lo].v = v;
		n++;
	}
	if (reencode(b, t, p, n)) {
		/* undo: the track keeps its points */
		if (rc == 1)
			memmove(p + lo, p + lo + 1, (n - lo - 1) * sizeof(*p));
		b->sc->owner = NULL;
		return GW_ENOMEM;
	}
	*view = (struct pview){p, n, lo};
	return rc;
}

/* t's first point's time, from its decoded points when it is open. */
static int64_t first_ts(const struct gw_batcher *b, struct track *t)
{
	if (t->n && b->sc->owner == t)
		return b->sc->pts[0].ts;
	if (t->sp) {
		batch_track_open(b, t);
		return b->sc->pts[0].ts;
	}
	return batch_track_first_ts(b, t);
}

/* Flat: encodes pts[0..n) after state s into out (zeroed, room for
 * SPILL_MAX(n) bytes); returns the bytes used, *bits those of the last
 * (0: all eight). */
#define SPILL_MAX(n) ((n) * 22 + 8)

static size_t encode_flat(struct enc_state *s, const struct point *pts, size_t n,
			  uint8_t *out, unsigned *bits)
{
	struct gw_bitw w;

	gw_bitw_init(&w, out, 0, 0);
	enc_points(s, pts, n, &w);
	size_t bit = gw_bitw_bits(&w, out);
	gw_bitw_flush(&w);
	*bits = (unsigned)(bit % 8);
	return (bit + 7) / 8;
}

/* True while a spill pass writes records: the pass encodes every track
 * it meets anew (spill_track), so a prune before it need not. */
static int spill_writes(const struct gw_batcher *b)
{
	const struct spill_core *sc = b->spl;

	return sc && sc->writing && !sc->skip && !sc->broken;
}

/* Encodes t's points, open in the scratch, into memory again, when they
 * are not written to the store: a prune left to the pass (was, t's count
 * before it; 0: none) always, else a track whose record is in the
 * generation before (move). Out of memory, t keeps its points as they
 * were (all of them after a prune left to the pass). */
static void keep_in_memory(const struct gw_batcher *b, struct track *t,
			   uint32_t was)
{
	const struct spill_core *sc = b->spl;

	if (!was && !(sc && t->sp && (t->sp & 1) == (unsigned)sc->gen))
		return;
	if (reencode(b, t, track_pts(b, t), t->n) == 0)
		return;
	if (was)
		t->n = was;
	b->sc->owner = NULL;
}

/* The midnights the seal's pass cuts records at (struct spill_core's
 * mid), for the open day now. */
static const int64_t *pass_midnights(const struct gw_batcher *b, int *n)
{
	struct spill_core *sc = b->spl;

	if (sc->n_mid == 0 || sc->mid_day != b->next_day) {
		int w = window(b);
		sc->n_mid = 0;
		for (int32_t d = w > 0 ? b->next_day - w + 1 : b->next_day;
		     d <= b->next_day; d++)
			sc->mid[sc->n_mid++] = d == b->next_day ? b->open_start :
							    gw_tz_day_start(d);
		sc->mid_day = b->next_day;
	}
	*n = sc->n_mid;
	return sc->mid;
}

/* During a spill pass (batch_spill_begin): t's points go to the store
 * as a record a day, cut at the last point at or before each midnight
 * of the window after the edge day's (pass_midnights; a record that
 * would be empty is not written), the last the open day's, from the
 * last point at or before its start (its header keeps the two points
 * before it, for the next seal's view: batch_track_view). A track
 * without two points at or before the open day's start keeps them in
 * memory (the open day's passes write them). When a record cannot be
 * written the track keeps its points in memory, encoded anew. A track
 * whose record is in the generation before is moved (or, when its points
 * cannot be written, taken back into memory), so that the file of that
 * generation can go at the end of the pass. was: t's count before a
 * prune that left its points pruned in the scratch only
 * (batch_prune_track), else 0; its encoding then holds the points
 * before the prune, and is replaced here either way. */
static void spill_track(const struct gw_batcher *b, struct track *t,
			uint32_t was)
{
	struct spill_core *sc = b->spl;

	if (!sc || !sc->writing || (t->n < 2 && !t->sp)) {
		if (was)
			keep_in_memory(b, t, was);
		return;
	}
	batch_track_open(b, t);
	if (sc->broken) {
		if (was)
			keep_in_memory(b, t, was);
		return;
	}
	size_t n = t->n, k = lower_bound(b, t, b->open_start + 1);
	if (k < 2 || sc->skip) {
		keep_in_memory(b, t, was);
		return;
	}
	/* the cuts: the last point at or before each midnight, the open
	 * day's (k - 1) last */
	int n_mid;
	const int64_t *mid = pass_midnights(b, &n_mid);
	size_t cut[SPILL_DEPTH_MAX + 1];
	int nc = 0;
	cut[nc++] = 0;
	for (int i = 0; i < n_mid; i++) {
		size_t c = i == n_mid - 1 ? k : lower_bound(b, t, mid[i] + 1);
		if (c >= 1 && c - 1 > cut[nc - 1])
			cut[nc++] = c - 1;
	}
	cut[nc] = n;
	const struct point *p = track_pts(b, t);
	struct enc_state s = {.mt = RICE_M0, .mv = RICE_M0};
	uint32_t sp = 0, total = 0, total_len = 0;
	uint32_t hash = batch_track_hash(b, t);
	for (int i = 0; i < nc; i++) {
		size_t a = cut[i], e = cut[i + 1];
		if (batch_spill_buf(b, SPILL_MAX(e - a)))
			goto in_memory;
		struct spill_hdr h = {
			.hash = hash, .count = (uint32_t)(e - a), .prev = sp,
			.depth = (uint16_t)(i + 1), .first_ts = p[0].ts,
			.start = state_spill(&s), .open = i == nc - 1,
			.pre = a >= 2, .pre_v = a >= 2 ? p[a - 2].v : 0,
		};
		unsigned bits;
		size_t len = encode_flat(&s, p + a, e - a, sc->buf + SPILL_HDR, &bits);
		h.len = (uint32_t)len;
		h.bits = (uint8_t)bits;
		h.end = state_spill(&s);
		h.total = total += h.count;
		h.total_len = total_len += h.len;
		if (batch_spill_put(b, !sc->gen, &h, &sp))
			goto in_memory;
	}
	track_chain_free(b, t);
	track_chain_keep(t, &(struct chain){0});
	t->mt = mean_pack(s.mt);
	t->mv = mean_pack(s.mv);
	batch_spill_set(b, t, sp);
	sc->encoded++;
	return;
in_memory:
	/* what was written of it stays unread in the new generation */
	if (was || t->sp) {
		if (reencode(b, t, track_pts(b, t), n) != 0) {
			if (was)
				t->n = was;
			b->sc->owner = NULL;
		}
	}
}

/* Decodes the first n points of record g (its bytes at `bytes`) into
 * out; *d the state after them, *pos the bit after them. */
static void seg_decode(const struct spill_seg *g, const uint8_t *bytes,
		       struct point *out, size_t n, struct dec_state *d,
		       size_t *pos)
{
	struct bit_rd r;

	*d = state_dec(&g->h.start);
	bit_rd_flat(&r, bytes, g->h.len);
	decode(&r, d, out, n);
	if (pos)
		*pos = r.pos;
}

/* Record g (its bytes at `bytes`, its first two points at or before s)
 * decoded into out, and where it is cut at the last point at or before
 * s: *j its index, *dj the coder's state before it, *pos the bit. The
 * points after s are the last few (those in memory at the day-end
 * pass): all but the last SPLIT_TAIL are decoded at once, the rest one
 * at a time (one pass); when the cut is before them, the record is
 * decoded again up to it. */
#define SPLIT_TAIL 8

static void split_at(const struct spill_seg *g, const uint8_t *bytes, int64_t s,
		     struct point *out, size_t *j, struct dec_state *dj, size_t *pos)
{
	size_t n = g->h.count, bulk = n > SPLIT_TAIL + 1 ? n - SPLIT_TAIL : 1;
	struct dec_state st = state_dec(&g->h.start), s0;
	struct bit_rd r;

	bit_rd_flat(&r, bytes, g->h.len);
	decode(&r, &st, out, bulk);
	size_t i = bulk;
	if (out[bulk - 1].ts <= s) {
		/* the state before each point after them, while at or before s */
		for (; i < n; i++) {
			s0 = st;
			size_t p0 = r.pos;
			decode(&r, &st, out + i, 1);
			if (out[i].ts > s)
				break;
			*j = i;
			*dj = s0;
			*pos = p0;
		}
		if (i > bulk) {
			if (i < n)
				decode(&r, &st, out + i + 1, n - i - 1);
			return;
		}
	}
	/* the cut among the points decoded at once */
	seg_decode(g, bytes, out, n, &st, NULL);
	size_t c = 0;
	while (c < n && out[c].ts <= s)
		c++;
	*j = c - 1;
	seg_decode(g, bytes, out, c - 1, dj, pos);
}

/* The seal's pass over a track whose chain is a record a day (as
 * spill_track writes it): the prune to `from` and the move to the new
 * generation without decoding the chain. The records before the one
 * that starts with the last point at or before `from` go; the others
 * are written again as they are, but the last, the open day's before,
 * cut in two at the last point at or before the new open day's start:
 * the points before it as they were coded (its first bits), those from
 * it on encoded again from the coder's state there (a few: those the
 * day-end pass found after the midnight). Returns 1 with *first (t's first point's time
 * now), or 0 when the track is not so (its prune falls inside a record,
 * points in memory, a cut in an older record, a short track that would
 * lose its first points' coding) or a record could not be written: t is
 * then as it was, for spill_track. */
static int spill_carry(const struct gw_batcher *b, struct track *t, int64_t from,
		       int64_t *first)
{
	struct spill_core *sc = b->spl;
	const uint8_t *base;

	if (!spill_writes(b) || sc->no_carry || !t->sp ||
	    (t->sp & 1) != (uint32_t)sc->gen || t->c_head)
		return 0;
	int depth = batch_spill_load(b, t, &base);
	if (depth < 1)
		return 0;
	const struct spill_seg *g = sc->segs;
	int last = depth - 1;
	if (g[last].h.total != t->n)
		return 0;
	/* the records' bytes, kept apart from the buffer the writes use */
	size_t all = (size_t)g[last].h.total_len + 8 * (size_t)depth;
	if (all > sc->ccap) {
		uint8_t *nb = realloc(sc->cbuf, all);
		if (!nb)
			return 0;
		sc->cbuf = nb;
		sc->ccap = all;
	}
	memcpy(sc->cbuf, base, all);
	base = sc->cbuf;
	/* the record that starts with the last point at or before from:
	 * the last one whose first point is, when its second is not */
	struct dec_state d;
	struct point two[2];
	int keep = 0, exact = 1;
	int64_t t0 = 0; /* the first point of the record kept first */
	for (int i = 0; i < depth; i++) {
		size_t m = g[i].h.count < 2 ? g[i].h.count : 2;
		seg_decode(&g[i], base + g[i].at, two, m, &d, NULL);
		if (i == 0)
			t0 = two[0].ts;
		if (two[0].ts > from)
			break;
		keep = i;
		t0 = two[0].ts;
		exact = m == 1 || two[1].ts > from;
	}
	if (!exact)
		return 0;
	uint32_t drop = g[keep].h.total - g[keep].h.count;
	if (drop && t->n - drop < RICE_WARM + 2)
		return 0; /* the coder's first points: counted from the track's first */
	/* where the new open day's record starts: in the last record (the
	 * open day's before), decoded; its first point when its second is
	 * after the day's start (a track silent since) */
	const struct spill_seg *L = &g[last];
	struct point *p = b->sc->pts;
	size_t j = 0, pos = 0;
	struct dec_state dj = {0};
	b->sc->owner = NULL;
	seg_decode(L, base + L->at, p, L->h.count < 2 ? L->h.count : 2, &d, NULL);
	if (p[0].ts > b->open_start)
		return 0; /* the cut in an older record */
	if (L->h.count >= 2 && p[1].ts <= b->open_start) {
		split_at(L, base + L->at, b->open_start, p, &j, &dj, &pos);
		sc->split++;
	}

	uint32_t sp = 0, total = 0, total_len = 0;
	uint16_t dep = 0;
	for (int i = keep; i <= last; i++) {
		struct spill_hdr h = g[i].h;
		size_t len = h.len;
		int cut = i == last && j > 0;
		if (cut) {
			len = (pos + 7) / 8;
			h.count = (uint32_t)j;
			h.bits = (uint8_t)(pos % 8);
			h.end = dec_spill(&dj);
		}
		if (batch_spill_buf(b, len))
			return 0;
		memcpy(sc->buf + SPILL_HDR, base + g[i].at, len);
		if (cut && h.bits)
			sc->buf[SPILL_HDR + len - 1] &= (uint8_t)((1u << h.bits) - 1);
		h.len = (uint32_t)len;
		h.prev = sp;
		h.depth = ++dep;
		h.total = total += h.count;
		h.total_len = total_len += h.len;
		h.first_ts = t0;
		h.open = i == last && j == 0;
		if (batch_spill_put(b, !sc->gen, &h, &sp))
			return 0;
	}
	if (j > 0) {
		/* the new open day's record: from the point at j on */
		size_t m = L->h.count - j;
		if (batch_spill_buf(b, SPILL_MAX(m)))
			return 0;
		struct spill_state at = dec_spill(&dj);
		struct enc_state es = state_enc(&at);
		unsigned bits;
		size_t len = encode_flat(&es, p + j, m, sc->buf + SPILL_HDR, &bits);
		struct spill_hdr h = {
			.hash = L->h.hash, .count = (uint32_t)m, .len = (uint32_t)len,
			.prev = sp, .depth = ++dep, .bits = (uint8_t)bits, .open = 1,
			.first_ts = t0, .start = at, .end = state_spill(&es),
		};
		/* the point two before j: in the record, or before it */
		if (j >= 2) {
			h.pre = 1;
			h.pre_v = p[j - 2].v;
		} else {
			h.pre = L->h.start.k >= 1;
			h.pre_v = L->h.start.v;
		}
		h.total = total += h.count;
		h.total_len = total_len += h.len;
		if (batch_spill_put(b, !sc->gen, &h, &sp))
			return 0;
	}
	t->n -= drop;
	batch_spill_set(b, t, sp);
	sc->carried++;
	*first = t0;
	return 1;
}

/* Drops a track's points no longer needed: before `from` (the edge
 * midnight), keeping the last point at or before it (the minutes missing
 * at the start of the edge day, and the reading a silent track waits
 * with). Out of memory, the track keeps them (nothing that follows looks
 * at them). In a spill pass that writes, the points kept are encoded
 * once, by the pass (spill_track), not here first as well. */
void batch_prune_track(const struct gw_batcher *b, struct track *t, int64_t from,
		       int32_t edge_day)
{
	uint32_t was = 0;
	int64_t first = 0;
	int carried = spill_carry(b, t, from, &first);

	if (!carried && t->n > 1 && first_ts(b, t) <= from) {
		batch_track_open(b, t);
		size_t k = lower_bound(b, t, from + 1);
		if (k > 1) {
			k--; /* keep the last point at or before `from` */
			struct point *p = track_pts(b, t);
			if (spill_writes(b)) {
				was = t->n;
				t->n -= (uint32_t)k;
				memmove(p, p + k, t->n * sizeof(*p));
			} else if (reencode(b, t, p + k, t->n - k) == 0) {
				memmove(p, p + k, t->n * sizeof(*p));
			} else {
				b->sc->owner = NULL;
			}
		}
	}
	struct track_ext *e = track_ext(b, t);
	if (e) {
		if (e->sets[SET_DERIVED].n && t->n)
			iset_drop_before(&e->sets[SET_DERIVED],
					 carried ? first : first_ts(b, t));
		if (e->sets[SET_BAD].n)
			iset_drop_before(&e->sets[SET_BAD], edge_day);
	}
	if (!carried)
		spill_track(b, t, was);
}

/* Every track pruned to `from` (batch_prune_track), in the order of
 * their codes (WALK_CODES): the records that stay are written in the
 * order the open day's passes read them. */
void batch_prune_to(struct gw_batcher *b, int64_t from, int32_t edge_day)
{
	struct track_walk w, ahead[2];
	struct track *t;

	batch_walk_ahead_begin(b, &w, ahead, WALK_CODES);
	while ((t = batch_walk_ahead_next(&w, ahead)) != NULL)
		batch_prune_track(b, t, from, edge_day);
}

void batch_prune(struct gw_batcher *b)
{
	int64_t from = keep_from(b);

	batch_prune_to(b, from, b->edge_day);
	/* a replacement matters to the steps after the kept points */
	size_t k = 0;
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts >= from - b->p.max_gap_ms - 86400000)
			b->repl[k++] = b->repl[i];
	b->n_repl = k;
}
