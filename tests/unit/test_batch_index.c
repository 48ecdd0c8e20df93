/* SPDX-License-Identifier: MIT */
/*
 * test_batch_index.c - how the batching core finds a track by its meter
 * and code (batch_find_track: a hash table whose slots hold a track's
 * number and bits of its hash, filled to 9/10) and walks its tracks in
 * the order of their names (batch_order, kept as the differences of the
 * numbers): every track found again, the same one, across the table's
 * growth; two tracks whose names have the same hash told apart; absent
 * tracks not found and not made; the walk sorted and whole after tracks
 * were added, in the order of their numbers while the order is not made
 * again.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "batch.h"
#include "batch_int.h"
#include "tz.h"

#define METERS 1000
#define CODES 14
#define TRACKS (METERS * CODES)

static const char *const codes[CODES] = {
	"1.8.0", "2.8.0", "1.8.1", "1.8.2", "2.8.1", "2.8.2", "3.8.0",
	"4.8.0", "32.7.0", "52.7.0", "72.7.0", "31.7.0", "1-0:1.8.0*255",
	"1-0:1.8.0*25",
};

static struct gw_batcher *batcher(void)
{
	struct gw_batcher_params p = {
		.gateway_id = "gw-index",
		.poll_interval_ms = 900000,
		.midnight_tolerance_ms = 60000,
		.max_gap_ms = 7200000,
		.seal_delay_ms = 1800000,
	};
	struct gw_batcher *b = gw_batcher_new(&p);

	assert_non_null(b);
	gw_tz_set("Europe/Berlin");
	return b;
}

static struct gw_reading reading(const char *meter, const char *obis)
{
	struct gw_reading r = {.unit = GW_UNIT_WH};

	gw_strlcpy(r.meter_id, meter, sizeof(r.meter_id));
	gw_strlcpy(r.obis, obis, sizeof(r.obis));
	return r;
}

/* The track of (meter, obis): made when `create`, NULL when absent. */
static struct track *find(struct gw_batcher *b, const char *meter,
			  const char *obis, int create)
{
	struct gw_reading r = reading(meter, obis);

	return batch_find_track(b, &r, create);
}

/* Meter i's id: "m" and i, so that "m1" is a prefix of "m10".."m19". */
static void meter_name(int i, char out[GW_ID_MAX])
{
	snprintf(out, GW_ID_MAX, "m%d", i);
}

/* Every one of the first `made` tracks (in the order made: meter
 * (k * 7) % METERS, code (k * 5) % CODES of the k-th meter) found again,
 * the same track with its own names. */
static void check_found(struct gw_batcher *b, struct track **made, int n)
{
	char id[GW_ID_MAX];

	for (int i = 0; i < n; i++) {
		int m = (i / CODES) * 7 % METERS, c = (i % CODES) * 5 % CODES;
		meter_name(m, id);
		struct track *t = find(b, id, codes[c], 0);
		assert_ptr_equal(t, made[i]);
		assert_string_equal(track_meter(b, t), id);
		assert_string_equal(track_obis(b, t), codes[c]);
	}
}

/* 14,000 tracks made in an order that is not their names' (the table
 * growing from 64 slots to 16,384), each found again after every growth
 * and at the end; tracks that are not there (a code no meter has, a
 * meter not made, one a prefix of another's id) not found and not made
 * by a lookup; 16,384 slots at the end (9/10: 14,000 tracks at 7/10
 * would take 32,768). */
static void many_tracks(void **state)
{
	struct gw_batcher *b = batcher();
	struct track **made = calloc(TRACKS, sizeof(*made));
	char id[GW_ID_MAX];
	size_t slots = b->n_slots;
	int grew = 0;

	(void)state;
	assert_non_null(made);
	for (int i = 0; i < TRACKS; i++) {
		int m = (i / CODES) * 7 % METERS, c = (i % CODES) * 5 % CODES;
		meter_name(m, id);
		assert_null(find(b, id, codes[c], 0));
		made[i] = find(b, id, codes[c], 1);
		assert_non_null(made[i]);
		assert_int_equal(b->n_tracks, (size_t)i + 1);
		assert_ptr_equal(find(b, id, codes[c], 1), made[i]);
		assert_int_equal(b->n_tracks, (size_t)i + 1);
		if (b->n_slots != slots) {
			slots = b->n_slots;
			grew++;
			check_found(b, made, i + 1);
		}
	}
	assert_int_equal(grew, 8); /* 64 -> 16,384 */
	assert_int_equal(b->n_slots, 16384);
	check_found(b, made, TRACKS);
	for (int m = 0; m < METERS; m++) {
		meter_name(m, id);
		assert_null(find(b, id, "1.8.3", 0));
		assert_null(find(b, id, "1-0:1.8.0*2", 0));
		meter_name(m + METERS, id);
		assert_null(find(b, id, codes[m % CODES], 0));
	}
	assert_null(find(b, "m", "1.8.0", 0));
	assert_null(find(b, "", "", 0));
	assert_int_equal(b->n_tracks, TRACKS);
	gw_batcher_free(b);
	free(made);
}

struct named_hash {
	uint32_t h, i;
};

static int cmp_named_hash(const void *a, const void *c)
{
	const struct named_hash *x = a, *y = c;

	if (x->h != y->h)
		return x->h < y->h ? -1 : 1;
	return x->i < y->i ? -1 : x->i > y->i;
}

/* Two meters whose tracks of code 1.8.0 have the same hash (found among
 * 400,000 ids in hex, of 20 pairs, as m24b8 and m34f12; ids in decimal
 * have none among as many): the same first slot and the same bits beside
 * the number, so only their names tell them apart. */
static void same_hash(void **state)
{
	enum { IDS = 400000 };
	struct named_hash *nh = malloc(IDS * sizeof(*nh));
	char a[GW_ID_MAX] = "", c[GW_ID_MAX] = "", id[GW_ID_MAX];

	(void)state;
	assert_non_null(nh);
	for (uint32_t i = 0; i < IDS; i++) {
		snprintf(id, sizeof(id), "m%x", i);
		nh[i] = (struct named_hash){batch_key_hash(id, "1.8.0"), i};
	}
	qsort(nh, IDS, sizeof(*nh), cmp_named_hash);
	for (size_t i = 1; i < IDS && !a[0]; i++) {
		if (nh[i].h == nh[i - 1].h) {
			snprintf(a, sizeof(a), "m%x", nh[i - 1].i);
			snprintf(c, sizeof(c), "m%x", nh[i].i);
		}
	}
	free(nh);
	assert_true(a[0] && c[0]);
	assert_int_equal(batch_key_hash(a, "1.8.0"), batch_key_hash(c, "1.8.0"));

	struct gw_batcher *b = batcher();
	struct track *ta = find(b, a, "1.8.0", 1);
	assert_non_null(ta);
	assert_null(find(b, c, "1.8.0", 0));
	struct track *tc = find(b, c, "1.8.0", 1);
	assert_non_null(tc);
	assert_ptr_not_equal(ta, tc);
	assert_int_equal(b->n_tracks, 2);
	/* and still apart after the table grew around them */
	for (int i = 0; i < 3000; i++) {
		snprintf(id, sizeof(id), "other-%d", i);
		assert_non_null(find(b, id, "1.8.0", 1));
	}
	assert_true(b->n_slots >= 4096);
	assert_ptr_equal(find(b, a, "1.8.0", 0), ta);
	assert_ptr_equal(find(b, c, "1.8.0", 0), tc);
	assert_string_equal(track_meter(b, ta), a);
	assert_string_equal(track_meter(b, tc), c);
	assert_null(find(b, a, "2.8.0", 0));
	gw_batcher_free(b);
}

/* A walk over b's tracks: each of its n_tracks tracks once; when
 * `sorted`, in the order of their names (meter, then code), or with
 * `sorted` 2 by code, then meter (WALK_CODES); else by number. */
static void check_walk(struct gw_batcher *b, const struct track_walk *from,
		       int sorted)
{
	struct track_walk w = *from;
	unsigned char *seen = calloc(b->n_tracks + 1, 1);
	const struct track *prev = NULL, *t;
	size_t n = 0;

	assert_non_null(seen);
	while ((t = batch_walk_next(&w)) != NULL) {
		assert_true(w.no >= 1 && w.no <= b->n_tracks);
		assert_ptr_equal(track_at(b, w.no), t);
		assert_false(seen[w.no]);
		seen[w.no] = 1;
		n++;
		if (!sorted)
			assert_int_equal(w.no, n);
		if (sorted && prev) {
			int rm = strcmp(track_meter(b, prev), track_meter(b, t));
			int rc = strcmp(track_obis(b, prev), track_obis(b, t));
			assert_true(sorted == 2 ? rc < 0 || (!rc && rm < 0)
						: rm < 0 || (!rm && rc < 0));
		}
		prev = t;
	}
	assert_int_equal(n, b->n_tracks);
	free(seen);
}

/* The order of the names, made when a walk wants it: 6,000 tracks made
 * meter by meter in a scattered order (the differences between one
 * number and the next in the order up to thousands: several bytes),
 * then meters and codes added (some sorting before every track there
 * was): a walk that does not make the order again goes by number, one
 * that does is sorted and whole again. */
static void order_after_additions(void **state)
{
	struct gw_batcher *b = batcher();
	struct track_walk w;
	char id[GW_ID_MAX];

	(void)state;
	assert_int_equal(batch_walk_begin(b, &w), 0);
	check_walk(b, &w, 1); /* no tracks */
	for (int i = 0; i < 500; i++) {
		meter_name((i * 337) % 1000 * 2 + 1, id); /* odd: m1 .. m1999 */
		for (int c = CODES - 1; c >= 2; c--)
			assert_non_null(find(b, id, codes[c], 1));
	}
	assert_int_equal(batch_walk_begin(b, &w), 0);
	check_walk(b, &w, 1);
	assert_int_equal(b->order[WALK_NAMES].n, 6000);
	assert_true(b->order[WALK_NAMES].len > 6000); /* the jumps between meters */
	assert_true(b->order[WALK_NAMES].len < 6000 * 2);
	assert_null(b->order[WALK_CODES].p); /* made when a walk wants it */
	assert_int_equal(batch_walk_begin_by(b, &w, WALK_CODES), 0);
	check_walk(b, &w, 2);
	assert_int_equal(b->order[WALK_CODES].n, 6000);
	assert_true(b->order[WALK_CODES].len < 6000 * 3);

	for (int i = 0; i < 40; i++) {
		meter_name(i * 50, id); /* even, m0 first */
		assert_non_null(find(b, id, codes[i % CODES], 1));
		meter_name((i * 337) % 1000 * 2 + 1, id);
		assert_non_null(find(b, id, codes[i % 2], 1)); /* 1.8.0, 2.8.0 */
	}
	assert_non_null(find(b, "", "0.0.0", 1));
	batch_walk_made(b, &w);
	check_walk(b, &w, 0);
	assert_int_equal(batch_walk_begin(b, &w), 0);
	assert_int_equal(b->order[WALK_NAMES].n, 6081);
	check_walk(b, &w, 1);
	/* made once: the same bytes walked again */
	const uint8_t *order = b->order[WALK_NAMES].p;
	assert_int_equal(batch_walk_begin(b, &w), 0);
	assert_ptr_equal(b->order[WALK_NAMES].p, order);
	check_walk(b, &w, 1);
	/* the other order made again for the tracks added */
	assert_int_equal(b->order[WALK_CODES].n, 6000);
	assert_int_equal(batch_walk_begin_by(b, &w, WALK_CODES), 0);
	assert_int_equal(b->order[WALK_CODES].n, 6081);
	check_walk(b, &w, 2);
	gw_batcher_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_tracks),
		cmocka_unit_test(same_hash),
		cmocka_unit_test(order_after_additions),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
