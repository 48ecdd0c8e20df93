/* SPDX-License-Identifier: MIT */
/*
 * test_batch_code.c - the batching core's point coder (batch_store.c,
 * "the points, encoded") against a reference written from its
 * description, a bit at a time: the means as first written (the
 * rounding with a branch, the mean's update in 64 bits), each field a
 * Rice code or the escape, bits from the lowest bit of each byte up.
 *
 *   - random tracks (random cadences from a millisecond to weeks, no to
 *     full 64-bit jitter, values that stay, creep, or jump by up to
 *     2^63 and wrap, the int64 extremes; 1 to 600 points, so that their
 *     chains run over many blocks; now and then a point inserted out of
 *     order, the track encoded again): the bytes of each track's chain
 *     are the reference encoder's, bit for bit, and its kept means the
 *     reference's; the reference decoder reads those bytes back to the
 *     points added; and the core's decoder (batch_track_points, whole;
 *     batch_track_last_at, a point at a time; batch_track_first_ts)
 *     gives the same points.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "batch_int.h"
#include "tz.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* A random number of up to `bits` bits (a random width of them). */
static uint64_t wide(unsigned bits)
{
	unsigned w = (unsigned)(rnd() % (bits + 1));
	return w ? rnd() >> (64 - w) : 0;
}

/* ---- the reference ---- */

#define REF_QMAX 16

static uint32_t ref_round(uint32_t m)
{
	if (m < 4096)
		return m;
	unsigned sh = 20u - (unsigned)__builtin_clz(m);
	return (m + (1u << (sh - 1))) >> sh << sh;
}

static uint32_t ref_adapt(uint32_t m, uint64_t u, size_t c)
{
	uint64_t nm;

	if (c < 7) {
		uint64_t cap = (uint64_t)(m >> 4) * 64 + 16;
		uint64_t x = 16 * (u < cap ? u : cap);
		nm = x >= m ? m + (x - m) / (c + 1) : m - (m - x) / (c + 1);
	} else {
		uint64_t cap = (uint64_t)(m >> 4) * 4 + 16;
		nm = (uint64_t)m - (m >> 3) + 2 * (u < cap ? u : cap);
	}
	return ref_round(nm > (1u << 30) ? 1u << 30 : (uint32_t)nm);
}

static unsigned ref_r(uint32_t m)
{
	uint32_t mean = m >> 4;

	return mean ? 31u - (unsigned)__builtin_clz(mean) : 0;
}

struct ref_bits {
	uint8_t *b;
	size_t pos;
};

static void ref_put(struct ref_bits *w, uint64_t v, unsigned cnt)
{
	for (unsigned i = 0; i < cnt; i++, w->pos++)
		if (v >> i & 1)
			w->b[w->pos / 8] |= (uint8_t)(1u << (w->pos % 8));
}

static uint64_t ref_get(struct ref_bits *r, unsigned cnt)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < cnt; i++, r->pos++)
		v |= (uint64_t)(r->b[r->pos / 8] >> (r->pos % 8) & 1) << i;
	return v;
}

static void ref_rice_put(struct ref_bits *w, uint64_t u, unsigned r)
{
	uint64_t q = u >> r;

	if (q < REF_QMAX) {
		for (uint64_t i = 0; i < q; i++)
			ref_put(w, 1, 1);
		ref_put(w, 0, 1);
		ref_put(w, u, r);
		return;
	}
	unsigned len = 64;
	while (!(u >> (len - 1) & 1))
		len--;
	for (int i = 0; i < REF_QMAX; i++)
		ref_put(w, 1, 1);
	ref_put(w, len - 1, 6);
	ref_put(w, u, len);
}

static uint64_t ref_rice_get(struct ref_bits *rd, unsigned r)
{
	unsigned q = 0;

	while (q < REF_QMAX && ref_get(rd, 1))
		q++;
	if (q < REF_QMAX)
		return (uint64_t)q << r | ref_get(rd, r);
	return ref_get(rd, (unsigned)ref_get(rd, 6) + 1);
}

static uint64_t ref_zz(int64_t v)
{
	return (uint64_t)v << 1 ^ (v < 0 ? UINT64_MAX : 0);
}

static int64_t ref_unzz(uint64_t u)
{
	return (int64_t)(u >> 1 ^ (u & 1 ? UINT64_MAX : 0));
}

/* Encodes p[0..n) into out (zeroed); returns the bits; the means after
 * them in *mt, *mv. */
static size_t ref_encode(const struct point *p, size_t n, uint8_t *out,
			 uint32_t *mt, uint32_t *mv)
{
	struct ref_bits w = {out, 0};
	int64_t ts = 0, step = 0, v = 0;

	*mt = *mv = 256;
	for (size_t k = 0; k < n; k++) {
		int64_t s = (int64_t)((uint64_t)p[k].ts - (uint64_t)ts);
		uint64_t ut = ref_zz((int64_t)((uint64_t)s - (uint64_t)step));
		uint64_t uv = ref_zz((int64_t)((uint64_t)p[k].v - (uint64_t)v));
		ref_rice_put(&w, ut, ref_r(*mt));
		ref_rice_put(&w, uv, ref_r(*mv));
		if (k >= 2)
			*mt = ref_adapt(*mt, ut, k - 2);
		if (k >= 1)
			*mv = ref_adapt(*mv, uv, k - 1);
		step = k == 0 ? 0 : s;
		ts = p[k].ts;
		v = p[k].v;
	}
	return w.pos;
}

/* Decodes n points from bytes b into out. */
static void ref_decode(uint8_t *b, size_t n, struct point *out)
{
	struct ref_bits rd = {b, 0};
	int64_t ts = 0, step = 0, v = 0;
	uint32_t mt = 256, mv = 256;

	for (size_t k = 0; k < n; k++) {
		uint64_t ut = ref_rice_get(&rd, ref_r(mt));
		uint64_t uv = ref_rice_get(&rd, ref_r(mv));
		if (k >= 2)
			mt = ref_adapt(mt, ut, k - 2);
		if (k >= 1)
			mv = ref_adapt(mv, uv, k - 1);
		int64_t s = (int64_t)((uint64_t)step + (uint64_t)ref_unzz(ut));
		ts = (int64_t)((uint64_t)ts + (uint64_t)s);
		v = (int64_t)((uint64_t)v + (uint64_t)ref_unzz(uv));
		step = k == 0 ? 0 : s;
		out[k] = (struct point){ts, v};
	}
}

/* t's chain's bytes into out; returns how many. */
static size_t chain_bytes(const struct gw_batcher *b, const struct track *t,
			  uint8_t *out)
{
	struct chain c = track_chain(t);
	size_t n = 0;

	for (uint32_t id = c.head; id; id = blk_next(b->pool, id)) {
		unsigned len = id == c.tail ? c.tail_len : blk_len(id);
		memcpy(out + n, blk_d(b->pool, id), len);
		n += len;
		if (id == c.tail)
			break;
	}
	return n;
}

/* ---- random tracks ---- */

enum { TRACKS = 400, PTS_MAX = 600 };

/* Track i's points: a cadence, its jitter and its values' kind drawn
 * from i's own numbers. */
static size_t make_track(struct point *p)
{
	size_t n = 1 + (size_t)(rnd() % PTS_MAX);
	int64_t cad = (int64_t)(1 + wide(31)), ts = (int64_t)(rnd() >> 2) - ((int64_t)1 << 61);
	unsigned jit = (unsigned)(rnd() % 40), kind = (unsigned)(rnd() % 5);
	uint64_t v = rnd();

	if (rnd() % 8 == 0)
		ts = rnd() % 2 ? INT64_MIN / 2 : INT64_MAX / 4;
	for (size_t k = 0; k < n; k++) {
		switch (kind) {
		case 0: /* stays, or nearly */
			v += wide(2) - 1;
			break;
		case 1: /* creeps up */
			v += wide(8);
			break;
		case 2: /* jumps by up to 2^63, wrapping */
			v += wide(64);
			break;
		case 3: /* the int64 extremes */
			v = rnd() % 2 ? (uint64_t)INT64_MAX - wide(3) : (uint64_t)INT64_MIN + wide(3);
			break;
		default: /* now and then a jump among small changes */
			v += rnd() % 16 == 0 ? wide(48) : wide(4);
			break;
		}
		int64_t step = cad + (int64_t)wide(jit);
		if (rnd() % 50 == 0)
			step += (int64_t)(rnd() % (21 * 86400000LL)); /* a gap of up to weeks */
		ts += k ? step : 0;
		p[k] = (struct point){ts, (int64_t)v};
	}
	return n;
}

static void random_tracks(void **state)
{
	static const struct gw_batcher_params params = {
		.gateway_id = "sub-042", .poll_interval_ms = 900000,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 1800000, .revision_window_days = 2,
	};
	static struct point want[PTS_MAX], got[PTS_MAX], ref[PTS_MAX];
	static uint8_t enc[PTS_MAX * 22 + 8], have[PTS_MAX * 22 + 64];
	size_t reencoded = 0, big_means = 0, blocks_many = 0;

	(void)state;
	assert_int_equal(gw_tz_set("UTC"), 0);
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_non_null(b);
	for (int i = 0; i < TRACKS; i++) {
		struct gw_reading r = {.unit = GW_UNIT_W};
		snprintf(r.meter_id, sizeof(r.meter_id), "m%04d", i);
		snprintf(r.obis, sizeof(r.obis), "16.7.0");
		struct track *t = batch_find_track(b, &r, 1);
		assert_non_null(t);
		size_t n = make_track(want);
		for (size_t k = 0; k < n; k++) {
			struct point win[3];
			struct pview view;
			/* now and then out of order: the next point first, then
			 * this one before it, the track encoded again */
			if (k + 1 < n && rnd() % 64 == 0) {
				assert_int_equal(batch_track_insert(b, t, want[k + 1].ts,
								    want[k + 1].v, win, &view), 1);
				assert_int_equal(batch_track_insert(b, t, want[k].ts,
								    want[k].v, win, &view), 1);
				k++;
				reencoded++;
				continue;
			}
			assert_int_equal(batch_track_insert(b, t, want[k].ts, want[k].v,
							    win, &view), 1);
		}
		assert_int_equal(t->n, n);

		/* the encoder's bits are the reference's, and so are its means */
		memset(enc, 0, sizeof(enc));
		uint32_t mt, mv;
		size_t bits = ref_encode(want, n, enc, &mt, &mv);
		size_t len = chain_bytes(b, t, have);
		assert_int_equal(len, (bits + 7) / 8);
		assert_int_equal(t->c_bit, bits % 8);
		assert_memory_equal(have, enc, len);
		assert_int_equal(mean_unpack(t->mt), mt);
		assert_int_equal(mean_unpack(t->mv), mv);
		blocks_many += len > BLK_DATA + 4 * BLK_SDATA;
		big_means += mt > (1u << 24) || mv > (1u << 24);

		/* the reference reads them back to the points added */
		memset(have + len, 0, 8);
		ref_decode(have, n, ref);
		assert_memory_equal(ref, want, n * sizeof(*want));

		/* the core's decoder: whole, a point at a time, the first */
		b->sc->owner = NULL;
		assert_int_equal(batch_track_points(b, t, got), 0);
		assert_memory_equal(got, want, n * sizeof(*want));
		for (int j = 0; j < 4; j++) {
			size_t k = (size_t)(rnd() % n);
			struct point last;
			b->sc->owner = NULL;
			assert_int_equal(batch_track_last_at(b, t, want[k].ts, &last), 1);
			assert_int_equal(last.ts, want[k].ts);
			assert_int_equal(last.v, want[k].v);
		}
		assert_int_equal(batch_track_first_ts(b, t), want[0].ts);
	}
	/* the draw covered what it is for */
	assert_true(reencoded > 100);
	assert_true(blocks_many > TRACKS / 2);
	assert_true(big_means > 10);
	gw_batcher_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(random_tracks),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
