/* SPDX-License-Identifier: MIT */
/*
 * test_batch_pool.c - the blocks the tracks' encoded points are kept in
 * (batch_pool.c): a chain's first block of BLK_DATA bytes, its later ones
 * of BLK_SDATA, each size from pools of its own.
 *
 *   - chains filled side by side with random bytes, a few at a time as
 *     points are (their blocks interleaved in the pages, more than a page
 *     of each size), some given back
 *     and filled again: each reads back exactly, block by block at the
 *     sizes their numbers say; a first block first and later ones after
 *     it; the blocks counted in use are the chains' own; every put had
 *     its room made before and took no more;
 *   - tracks of random points (steps and values of random widths, up to
 *     the 22 bytes of a point, some inserted out of order) read back
 *     exactly by the bit reader across the blocks of both sizes: decoded
 *     whole, their first time, their last point at or before a time;
 *   - the pool gives every page back once no chain holds a block, and
 *     serves again after it.
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

static uint64_t rng = 0x2545F4914F6CDD1DULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Chain c's bytes, read block by block as the bit reader walks them. */
static size_t read_chain(const struct blk_pool *p, const struct chain *c,
			 uint8_t *out)
{
	struct chain_rd r;
	size_t n = 0;

	if (!c->head)
		return 0;
	chain_rd_init(&r, p, c);
	for (uint32_t id = c->head;; id = blk_next(p, id)) {
		/* a first block at the head, later ones after it */
		assert_int_equal(!!(id & BLK_SMALL), id != c->head);
		assert_int_equal(r.len, blk_len(id));
		assert_ptr_equal(r.d, blk_d(p, id));
		size_t k = id == c->tail ? c->tail_len : r.len;
		memcpy(out + n, r.d, k);
		n += k;
		if (id == c->tail)
			break;
		chain_rd_next(&r, chain_rd_peek(&r));
	}
	return n;
}

/* The blocks chain c holds, [0] first ones, [1] later ones. */
static void chain_blocks(const struct blk_pool *p, const struct chain *c,
			 size_t n[2])
{
	for (uint32_t id = c->head; id; id = id == c->tail ? 0 : blk_next(p, id))
		n[id >> 31]++;
}

/* more chains than a page of first blocks, more later blocks than a
 * page of them */
enum { CHAINS = BLK_PAGE + 400, MAXLEN = 1000, ROUNDS = 80000 };

static void chains_read_back(void **state)
{
	struct blk_pool *p = batch_pool_new();
	static uint8_t want[CHAINS][MAXLEN], got[MAXLEN];
	static struct chain c[CHAINS];
	static size_t len[CHAINS];

	(void)state;
	assert_non_null(p);
	for (int round = 0; round < ROUNDS; round++) {
		int i = (int)(rnd() % CHAINS);
		if (rnd() % 97 == 0) {
			batch_chain_free(p, &c[i]);
			len[i] = 0;
			continue;
		}
		size_t n = 1 + rnd() % 23;
		if (len[i] + n > MAXLEN)
			continue;
		uint8_t s[23];
		for (size_t k = 0; k < n; k++)
			s[k] = (uint8_t)rnd();
		size_t used0 = p->n_used;
		assert_int_equal(batch_chain_room(p, &c[i], n), 0);
		/* room is made on the free lists, not taken; the put takes
		 * from them, no block never taken */
		assert_int_equal(p->n_used, used0);
		uint32_t fresh[2] = {p->sub[0].fresh, p->sub[1].fresh};
		batch_chain_put(p, &c[i], s, n);
		assert_int_equal(p->sub[0].fresh, fresh[0]);
		assert_int_equal(p->sub[1].fresh, fresh[1]);
		memcpy(want[i] + len[i], s, n);
		len[i] += n;
	}
	size_t blocks[2] = {0};
	for (int i = 0; i < CHAINS; i++) {
		assert_int_equal(batch_chain_len(p, &c[i]), len[i]);
		assert_int_equal(read_chain(p, &c[i], got), len[i]);
		assert_memory_equal(got, want[i], len[i]);
		chain_blocks(p, &c[i], blocks);
		if (len[i]) {
			/* full but the last: as few blocks as the bytes need */
			size_t later = len[i] > BLK_DATA
					       ? (len[i] - BLK_DATA + BLK_SDATA - 1) / BLK_SDATA
					       : 0;
			size_t b2[2] = {0};
			chain_blocks(p, &c[i], b2);
			assert_int_equal(b2[0], 1);
			assert_int_equal(b2[1], later);
		}
	}
	assert_int_equal(p->sub[0].n_used, blocks[0]);
	assert_int_equal(p->sub[1].n_used, blocks[1]);
	assert_int_equal(p->n_used, blocks[0] + blocks[1]);
	assert_true(p->sub[0].n_pages >= 2 && p->sub[1].n_pages >= 2);
	for (int i = 0; i < CHAINS; i++)
		batch_chain_free(p, &c[i]);
	assert_int_equal(p->n_used, 0);
	batch_pool_trim(p);
	assert_int_equal(p->sub[0].n_pages + p->sub[1].n_pages, 0);
	/* and serves again */
	uint8_t s[20] = {1, 2, 3};
	assert_int_equal(batch_chain_room(p, &c[0], sizeof(s)), 0);
	batch_chain_put(p, &c[0], s, sizeof(s));
	assert_int_equal(read_chain(p, &c[0], got), sizeof(s));
	assert_memory_equal(got, s, sizeof(s));
	batch_chain_free(p, &c[0]);
	batch_pool_free(p);
}

/* A random number of up to `bits` bits (a random width of them). */
static int64_t wide(unsigned bits)
{
	unsigned w = (unsigned)(rnd() % (bits + 1));
	return w ? (int64_t)(rnd() >> (64 - w)) : 0;
}

enum { TRACKS = 6, PTS = 700 };

static void tracks_read_back(void **state)
{
	static const struct gw_batcher_params params = {
		.gateway_id = "sub-042", .poll_interval_ms = 900000,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 1800000, .revision_window_days = 2,
	};
	static struct point want[TRACKS][PTS];
	struct track *t[TRACKS];
	size_t n[TRACKS] = {0};
	int32_t day0;

	(void)state;
	assert_int_equal(gw_tz_set("UTC"), 0);
	assert_int_equal(gw_day_parse("2026-03-02", &day0), 0);
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_non_null(b);
	for (int i = 0; i < TRACKS; i++) {
		struct gw_reading r = {.unit = GW_UNIT_W};
		snprintf(r.meter_id, sizeof(r.meter_id), "m%03d", i);
		snprintf(r.obis, sizeof(r.obis), "16.7.0");
		t[i] = batch_find_track(b, &r, 1);
		assert_non_null(t[i]);
	}
	/* even times in order, interleaved across the tracks; now and then
	 * an odd time between two of a track's points (out of order) */
	int64_t ts0 = gw_tz_day_start(day0);
	for (int round = 0; round < TRACKS * PTS; round++) {
		int i = (int)(rnd() % TRACKS);
		struct point x;
		size_t at = n[i];
		if (n[i] == PTS)
			continue;
		if (n[i] >= 2 && rnd() % 50 == 0) {
			at = 1 + rnd() % (n[i] - 1);
			if (want[i][at].ts - want[i][at - 1].ts < 2)
				continue;
			x.ts = want[i][at - 1].ts + 1;
		} else {
			int64_t last = n[i] ? want[i][n[i] - 1].ts : ts0;
			x.ts = last + 2 * (1 + wide(rnd() % 4 ? 12 : 26));
		}
		x.v = wide(rnd() % 8 ? 16 : 62) * (rnd() % 2 ? 1 : -1);
		struct point win[3];
		struct pview view;
		assert_int_equal(batch_track_insert(b, t[i], x.ts, x.v, win, &view), 1);
		memmove(&want[i][at + 1], &want[i][at], (n[i] - at) * sizeof(want[i][0]));
		want[i][at] = x;
		n[i]++;
	}
	size_t later = 0;
	for (int i = 0; i < TRACKS; i++) {
		struct chain c = track_chain(t[i]);
		size_t bl[2] = {0};
		chain_blocks(b->pool, &c, bl);
		later += bl[1];
		assert_int_equal(t[i]->n, n[i]);
		assert_int_equal(batch_track_first_ts(b, t[i]), want[i][0].ts);
		/* the last point at or before a time, decoded from the chain
		 * (another track open) */
		batch_track_open(b, t[(i + 1) % TRACKS]);
		for (int k = 0; k < 20; k++) {
			size_t j = rnd() % n[i];
			struct point last;
			assert_int_equal(batch_track_last_at(b, t[i], want[i][j].ts, &last), 1);
			assert_int_equal(last.ts, want[i][j].ts);
			assert_int_equal(last.v, want[i][j].v);
		}
		batch_track_open(b, t[i]);
		const struct point *p = track_pts(b, t[i]);
		for (size_t j = 0; j < n[i]; j++) {
			assert_int_equal(p[j].ts, want[i][j].ts);
			assert_int_equal(p[j].v, want[i][j].v);
		}
	}
	/* the walks crossed later blocks */
	assert_true(later > TRACKS * 10);
	gw_batcher_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chains_read_back),
		cmocka_unit_test(tracks_read_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
