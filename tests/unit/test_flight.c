/* SPDX-License-Identifier: MIT */
/*
 * test_flight.c - the queue of compact readings between the poll workers
 * and the batching core (gateway/flight.c): a reading comes out as it went
 * in (the longest meter id and OBIS code, the extreme values, every unit
 * and status), in the order queued; a reading that does not fit a record
 * (a meter id not its meter's, a unit beyond four bits, a code when the
 * table is full) goes whole, in its place, and is counted; the table's
 * bound is GW_FLIGHT_CODES_MAX codes; pushes and takes interleaved keep
 * the order through the queue's moves and growth.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "flight.h"
#include "gw.h"

#define LONG_ID "M2345678901234567890123456789012345678901234567" /* 47 */
#define LONG_CODE "1-0:1.8.0*255.123456789"                      /* 23 */

static struct gw_meter_config meters[3];
static struct gw_config cfg = {.n_meters = 3, .meters = meters};

static int setup(void **state)
{
	(void)state;
	memset(meters, 0, sizeof(meters));
	assert_int_equal(strlen(LONG_ID), GW_ID_MAX - 1);
	assert_int_equal(strlen(LONG_CODE), GW_OBIS_MAX - 1);
	strcpy(meters[0].id, "m0");
	strcpy(meters[1].id, LONG_ID);
	strcpy(meters[2].id, "m2");
	return 0;
}

static struct gw_reading reading(const char *id, const char *obis, int64_t ts,
				 int64_t v, int scale, int unit, int status)
{
	struct gw_reading r;

	memset(&r, 0, sizeof(r));
	strcpy(r.meter_id, id);
	strcpy(r.obis, obis);
	r.ts_ms = ts;
	r.value = v;
	r.scale = (int8_t)scale;
	r.unit = (uint8_t)unit;
	r.status = (uint8_t)status;
	return r;
}

static void assert_same(const struct gw_reading *a, const struct gw_reading *b)
{
	assert_memory_equal(a->meter_id, b->meter_id, sizeof(a->meter_id));
	assert_memory_equal(a->obis, b->obis, sizeof(a->obis));
	assert_true(a->ts_ms == b->ts_ms);
	assert_true(a->value == b->value);
	assert_int_equal(a->scale, b->scale);
	assert_int_equal(a->unit, b->unit);
	assert_int_equal(a->status, b->status);
}

static void round_trip(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_reading in[4 * GW_UNIT_COUNT_ + 4], out[sizeof(in) / sizeof(in[0])];
	size_t n = 0;

	assert_non_null(q);
	assert_int_equal(sizeof(struct gw_flight), 24);
	for (int u = 0; u < GW_UNIT_COUNT_; u++)
		for (int st = GW_RS_OK; st <= GW_RS_CLOCK_BACK; st++)
			in[n++] = reading(LONG_ID, u & 1 ? LONG_CODE : "1.8.0",
					  1700000000000LL + u * 1000 + st, u * 7 - 20,
					  -u, u, st);
	in[n++] = reading(LONG_ID, LONG_CODE, INT64_MAX, INT64_MAX, 127, 0, 0);
	in[n++] = reading(LONG_ID, LONG_CODE, INT64_MIN, INT64_MIN, -128, 0, 0);
	in[n++] = reading(LONG_ID, "", 0, 0, 0, 0, 0); /* an empty code */
	in[n++] = reading(LONG_ID, "32.7.0", -1, -1, -1, GW_UNIT_V, 0);
	assert_int_equal(gw_flightq_push(q, 1, in, n), 0);
	assert_int_equal(gw_flightq_len(q), n);

	/* in two takes: the first stops at max */
	assert_int_equal(gw_flightq_take(q, out, 5), 5);
	assert_int_equal(gw_flightq_take(q, out + 5, n), n - 5);
	assert_int_equal(gw_flightq_take(q, out, n), 0);
	for (size_t i = 0; i < n; i++)
		assert_same(&out[i], &in[i]);

	struct gw_flight_counts c;
	gw_flightq_counts(q, &c);
	assert_int_equal(c.whole, 0); /* every one went compact */
	assert_int_equal(c.codes, 4);
	gw_flightq_free(q);
	gw_flightq_free(NULL);
}

/* What does not fit a record goes whole, in its place, counted. */
static void whole_in_place(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_reading in[6], out[6];

	in[0] = reading("m0", "1.8.0", 1, 10, 0, GW_UNIT_WH, 0);
	in[1] = reading("not-m0", "1.8.0", 2, 11, 0, GW_UNIT_WH, 0);
	in[2] = reading("m0", "2.8.0", 3, 12, 0, 200, 0); /* unit beyond 4 bits */
	in[3] = reading("m0", "2.8.0", 4, 13, 0, GW_UNIT_WH, 99);
	in[4] = reading("m0", "1.8.0", 5, 14, 0, GW_UNIT_WH, 0);
	assert_int_equal(gw_flightq_push(q, 0, in, 5), 0);
	/* a meter number beyond the configuration */
	in[5] = reading("m0", "1.8.0", 6, 15, 0, GW_UNIT_WH, 0);
	assert_int_equal(gw_flightq_push(q, 3, &in[5], 1), 0);
	assert_int_equal(gw_flightq_take(q, out, 6), 6);
	for (int i = 0; i < 6; i++)
		assert_same(&out[i], &in[i]);

	struct gw_flight_counts c;
	gw_flightq_counts(q, &c);
	assert_int_equal(c.whole, 4);
	assert_int_equal(c.other_id, 2);
	assert_int_equal(c.codes_full, 0);
	gw_flightq_free(q);
}

/* A table of 2 codes: a third code goes whole, counted, and the codes in
 * the table still go compact. */
static void codes_full(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 2);
	const char *codes[] = {"1.8.0", "2.8.0", "3.8.0", "1.8.0", "4.8.0", "2.8.0"};
	struct gw_reading in[6], out[6];
	struct gw_flight_counts c;

	for (int i = 0; i < 6; i++)
		in[i] = reading("m2", codes[i], i, i * 100, 0, GW_UNIT_WH, 0);
	assert_int_equal(gw_flightq_push(q, 2, in, 6), 0);
	gw_flightq_counts(q, &c);
	assert_int_equal(c.codes, 2);
	assert_int_equal(c.codes_full, 2);
	assert_int_equal(c.whole, 2);
	assert_int_equal(gw_flightq_take(q, out, 6), 6);
	for (int i = 0; i < 6; i++)
		assert_same(&out[i], &in[i]);
	gw_flightq_free(q);
}

/* The real bound: GW_FLIGHT_CODES_MAX codes compact (a record's code is
 * 16 bits), the next one whole. */
static void codes_bound(void **state)
{
	(void)state;
	size_t n = GW_FLIGHT_CODES_MAX + 2;
	struct gw_flightq *q = gw_flightq_new(&cfg, 10 * GW_FLIGHT_CODES_MAX);
	struct gw_reading *in = calloc(n, sizeof(*in)), out[4096];
	struct gw_flight_counts c;

	assert_non_null(in);
	for (size_t i = 0; i < n; i++) {
		char code[GW_OBIS_MAX];
		/* the last one is the first code again: still in the table */
		snprintf(code, sizeof(code), "0.%zu.0", i <= GW_FLIGHT_CODES_MAX ? i : 0);
		in[i] = reading("m0", code, (int64_t)i, (int64_t)i, 0, GW_UNIT_WH, 0);
	}
	assert_int_equal(gw_flightq_push(q, 0, in, n), 0);
	gw_flightq_counts(q, &c);
	assert_int_equal(c.codes, GW_FLIGHT_CODES_MAX);
	assert_int_equal(c.codes_full, 1);
	assert_int_equal(c.whole, 1);
	for (size_t got = 0, k; (k = gw_flightq_take(q, out, 4096)) > 0; got += k) {
		assert_true(got + k <= n);
		for (size_t i = 0; i < k; i++)
			assert_same(&out[i], &in[got + i]);
		if (got + k == n)
			assert_int_equal(gw_flightq_len(q), 0);
	}
	free(in);
	gw_flightq_free(q);
}

/* Pushes and takes of many sizes interleaved, a share of the readings
 * whole: the order holds while both FIFOs move and grow. */
static void interleaved(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	size_t cap = 200000, pushed = 0, taken = 0;
	struct gw_reading *ref = calloc(cap, sizeof(*ref)), batch[700], out[700];
	uint32_t x = 12345;

	assert_non_null(ref);
	while (pushed + 700 < cap) {
		x = x * 1103515245u + 12345u;
		size_t k = (x >> 8) % 700;
		int m = (int)((x >> 4) % 3);
		for (size_t i = 0; i < k; i++) {
			char code[GW_OBIS_MAX];
			snprintf(code, sizeof(code), "1.8.%zu", (pushed + i) % 23);
			/* every 50th from another meter id: whole */
			batch[i] = reading((pushed + i) % 50 ? meters[m].id : "x", code,
					   (int64_t)(pushed + i), (int64_t)x, 0,
					   GW_UNIT_WH, 0);
		}
		assert_int_equal(gw_flightq_push(q, m, batch, k), 0);
		memcpy(ref + pushed, batch, k * sizeof(*batch));
		pushed += k;
		size_t t = gw_flightq_take(q, out, (x >> 20) % 700);
		for (size_t i = 0; i < t; i++)
			assert_same(&out[i], &ref[taken + i]);
		taken += t;
		assert_int_equal(gw_flightq_len(q), pushed - taken);
	}
	for (size_t t; (t = gw_flightq_take(q, out, 700)) > 0; taken += t)
		for (size_t i = 0; i < t; i++)
			assert_same(&out[i], &ref[taken + i]);
	assert_int_equal(taken, pushed);
	free(ref);
	gw_flightq_free(q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(round_trip, setup),
		cmocka_unit_test_setup(whole_in_place, setup),
		cmocka_unit_test_setup(codes_full, setup),
		cmocka_unit_test_setup(codes_bound, setup),
		cmocka_unit_test_setup(interleaved, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
