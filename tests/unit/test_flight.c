/* SPDX-License-Identifier: MIT */
/*
 * test_flight.c - the queue of compact readings between the poll workers
 * and the batching core (gateway/flight.c): a reading comes out as it went
 * in (the longest meter id and OBIS code, the extreme values, every unit
 * and status), in the order queued; a reading that does not fit a record
 * (a meter id not its meter's, a unit beyond four bits, a code when the
 * table is full) goes whole, in its place, and is counted; the table's
 * bound is GW_FLIGHT_CODES_MAX codes; pushes and takes interleaved keep
 * the order through the queue's moves and growth. A bus worker's cycle
 * (struct gw_fcycle), packed meter by meter, reads back from any reading
 * on, takes a status (a record's four bits, or whole beyond them), codes
 * into the journal a chunk at a time with the same bytes as the readings
 * whole, and is handed to the queue in its order, its memory with it
 * (several buses' cycles queued, taken in parts, each freed once all
 * taken); reserved for its bus's readings, it holds them without
 * growing and grows for more; its
 * records give their numbers (meter, code) to a reader that keys by them.
 * A meter's readings of one time are one run (meter and time said once);
 * other times, whole readings and statuses beyond four bits start or
 * split runs, values beyond 32 bits are kept wide, and all of it reads
 * and takes back exact in any parts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "flight.h"
#include "gw.h"
#include "journal_int.h"

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
	meters[0].id = "m0";
	meters[1].id = LONG_ID;
	meters[2].id = "m2";
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

/* Queues the n readings r of meter m as one cycle (what a bus worker
 * does with a cycle of one meter). */
static int push(struct gw_flightq *q, int m, const struct gw_reading *r,
		size_t n)
{
	struct gw_fcycle c = {0};
	int rc = gw_flightq_pack(q, &c, m, r, n);

	if (rc == 0)
		rc = gw_flightq_push_cycle(q, &c);
	gw_fcycle_free(&c);
	return rc;
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
	assert_int_equal(sizeof(struct gw_flight), 8);
	assert_int_equal(sizeof(struct gw_frun), 16);
	for (int u = 0; u < GW_UNIT_COUNT_; u++)
		for (int st = GW_RS_OK; st <= GW_RS_CLOCK_BACK; st++)
			in[n++] = reading(LONG_ID, u & 1 ? LONG_CODE : "1.8.0",
					  1700000000000LL + u * 1000 + st, u * 7 - 20,
					  -u, u, st);
	in[n++] = reading(LONG_ID, LONG_CODE, INT64_MAX, INT64_MAX, 127, 0, 0);
	in[n++] = reading(LONG_ID, LONG_CODE, INT64_MIN, INT64_MIN, -128, 0, 0);
	in[n++] = reading(LONG_ID, "", 0, 0, 0, 0, 0); /* an empty code */
	in[n++] = reading(LONG_ID, "32.7.0", -1, -1, -1, GW_UNIT_V, 0);
	assert_int_equal(push(q, 1, in, n), 0);
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
	assert_int_equal(push(q, 0, in, 5), 0);
	/* a meter number beyond the configuration */
	in[5] = reading("m0", "1.8.0", 6, 15, 0, GW_UNIT_WH, 0);
	assert_int_equal(push(q, 3, &in[5], 1), 0);
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
	assert_int_equal(push(q, 2, in, 6), 0);
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
	assert_int_equal(push(q, 0, in, n), 0);
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
		assert_int_equal(push(q, m, batch, k), 0);
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

/* A cycle of three meters' reads, whole readings among them. */
static size_t fill_cycle(struct gw_flightq *q, struct gw_fcycle *c,
			 struct gw_reading *ref, size_t per)
{
	size_t n = 0;

	for (int m = 0; m < 3; m++) {
		struct gw_reading *r = ref + n;
		for (size_t i = 0; i < per; i++) {
			char code[GW_OBIS_MAX];
			snprintf(code, sizeof(code), "1.8.%zu", i); /* a series each */
			r[i] = reading(meters[m].id, code, 1700000000000LL + (int64_t)i,
				       (int64_t)(i * 1000 + (size_t)m), -1,
				       GW_UNIT_WH, GW_RS_OK);
		}
		r[7].meter_id[0] = 'x';          /* not the meter's id: whole */
		r[per - 1].unit = 16;            /* beyond four bits: whole */
		r[per - 2].status = 16;          /* beyond four bits: whole */
		assert_int_equal(gw_flightq_pack(q, c, m, r, per), 0);
		n += per;
		assert_int_equal(gw_fcycle_len(c), n);
	}
	return n;
}

/* From every offset and in every chunk size, a cycle reads back as the
 * readings that were packed; nothing of it is 96-byte but its whole ones. */
static void cycle_reads_back(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c = {0};
	enum { PER = 100 };
	struct gw_reading ref[3 * PER], out[3 * PER];

	assert_non_null(q);
	size_t n = fill_cycle(q, &c, ref, PER);
	assert_int_equal(c.wn, 9);
	assert_int_equal(c.other, 3);
	for (size_t chunk = 1; chunk <= n; chunk = chunk * 3 + 1) {
		for (size_t from = 0, k; (k = gw_fcycle_read(&c, from, out, chunk));
		     from += k) {
			assert_true(k <= chunk);
			for (size_t i = 0; i < k; i++)
				assert_same(&out[i], &ref[from + i]);
		}
	}
	assert_int_equal(gw_fcycle_read(&c, n, out, 1), 0);
	assert_int_equal(gw_fcycle_read(&c, n + 5, out, 1), 0);
	gw_fcycle_free(&c);
	gw_flightq_free(q);
}

/* A cycle's records by their numbers (the journal sink's clock marks):
 * the meter's index, the code's number whose name is the reading's code,
 * the time and status; a whole reading has none. */
static void cycle_keys(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c = {0};
	enum { PER = 40 };
	struct gw_reading ref[3 * PER];
	struct gw_fkey k;
	char name[GW_OBIS_MAX];
	size_t whole = 0;

	assert_non_null(q);
	size_t n = fill_cycle(q, &c, ref, PER);
	assert_int_equal(gw_fcycle_set_status(&c, 3, GW_RS_CLOCK_BACK), 0);
	ref[3].status = GW_RS_CLOCK_BACK;
	for (size_t i = 0; i < n; i++) {
		memset(&k, 0xa5, sizeof(k));
		if (!gw_fcycle_key(&c, i, &k)) {
			whole++;
			continue;
		}
		assert_true(k.meter >= 0 && k.meter < cfg.n_meters);
		assert_string_equal(meters[k.meter].id, ref[i].meter_id);
		assert_int_equal(gw_fcycle_code_name(&c, k.code, name), 0);
		assert_string_equal(name, ref[i].obis);
		assert_int_equal(k.ts_ms, ref[i].ts_ms);
		assert_int_equal(k.status, ref[i].status);
	}
	assert_int_equal(whole, c.wn);
	struct gw_flight_counts fc;
	gw_flightq_counts(q, &fc);
	assert_int_equal(gw_fcycle_code_name(&c, (unsigned)fc.codes, name), GW_EINVAL);
	gw_fcycle_free(&c);
	gw_flightq_free(q);
}

/* Statuses set in a cycle (the journal sink's clock_back) come out of
 * the queue with the readings, in the order read: a record keeps one of
 * four bits, a whole reading any; one beyond four bits makes its record
 * whole, after whole readings later in the cycle were added. */
static void cycle_status_and_push(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c = {0};
	enum { PER = 50 };
	struct gw_reading ref[3 * PER], out[3 * PER];
	struct gw_flight_counts k;

	assert_non_null(q);
	size_t n = fill_cycle(q, &c, ref, PER);
	assert_int_equal(gw_fcycle_set_status(&c, 3, GW_RS_CLOCK_BACK), 0);
	ref[3].status = GW_RS_CLOCK_BACK;
	assert_int_equal(gw_fcycle_set_status(&c, 7, GW_RS_CLOCK_BACK), 0);
	ref[7].status = GW_RS_CLOCK_BACK; /* a whole one */
	assert_int_equal(c.wn, 9);
	assert_int_equal(gw_fcycle_set_status(&c, 1, 200), 0);
	ref[1].status = 200;
	assert_int_equal(c.wn, 10);
	assert_int_equal(gw_fcycle_read(&c, 0, out, n), n);
	for (size_t i = 0; i < n; i++)
		assert_same(&out[i], &ref[i]);

	/* a reading queued before the cycle stays before it */
	assert_int_equal(push(q, 0, &ref[PER - 3], 1), 0);
	assert_int_equal(gw_flightq_push_cycle(q, &c), 0);
	assert_int_equal(gw_fcycle_len(&c), 0);
	assert_int_equal(c.wn, 0);
	assert_int_equal(gw_flightq_len(q), n + 1);
	assert_int_equal(gw_flightq_take(q, out, 1), 1);
	assert_same(&out[0], &ref[PER - 3]);
	assert_int_equal(gw_flightq_take(q, out, n), n);
	for (size_t i = 0; i < n; i++)
		assert_same(&out[i], &ref[i]);
	gw_flightq_counts(q, &k);
	assert_int_equal(k.whole, 10);
	assert_int_equal(k.other_id, 3);
	assert_int_equal(k.codes_full, 0);

	/* the cycle's memory went with it: the next one packs into its own */
	assert_null(c.r);
	assert_null(c.w);
	assert_int_equal(c.cap, 0);
	n = fill_cycle(q, &c, ref, PER);
	assert_int_equal(gw_flightq_push_cycle(q, &c), 0);
	assert_int_equal(gw_flightq_take(q, out, n), n);
	for (size_t i = 0; i < n; i++)
		assert_same(&out[i], &ref[i]);
	gw_fcycle_free(&c);
	gw_flightq_free(q);
}

/* A cycle reserved for what its bus reads (a bus worker that knows its
 * meters' bounds) holds that many records and no more: filled to it, it
 * does not grow; handed to the queue, its memory goes with it and the
 * next cycle is reserved afresh; a read past it (a bound that was not
 * one) still goes in, the cycle grown, nothing lost. A reservation never
 * shrinks a cycle. */
static void cycle_reserved(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c = {0};
	enum { PER = 20 };
	struct gw_reading ref[3 * PER + 1], out[3 * PER + 1];

	assert_non_null(q);
	for (int round = 0; round < 2; round++) {
		assert_int_equal(gw_fcycle_reserve(&c, 3 * PER), 0);
		assert_int_equal(c.cap, 3 * PER);
		assert_int_equal(gw_fcycle_reserve(&c, 0), 0);
		assert_int_equal(c.cap, 3 * PER);
		const struct gw_flight *r0 = c.r;
		size_t n = fill_cycle(q, &c, ref, PER);
		assert_int_equal(c.cap, 3 * PER);
		assert_ptr_equal(c.r, r0);
		assert_int_equal(gw_flightq_push_cycle(q, &c), 0);
		assert_null(c.r);
		assert_int_equal(c.cap, 0);
		assert_int_equal(gw_flightq_take(q, out, n), n);
		for (size_t i = 0; i < n; i++)
			assert_same(&out[i], &ref[i]);
	}
	assert_int_equal(gw_fcycle_reserve(&c, 3 * PER), 0);
	size_t n = fill_cycle(q, &c, ref, PER);
	ref[n] = reading("m0", "1.8.0", 1700000009999LL, 42, 0, GW_UNIT_WH, 0);
	assert_int_equal(gw_flightq_pack(q, &c, 0, &ref[n], 1), 0);
	n++;
	assert_true(c.cap > 3 * PER);
	assert_int_equal(gw_fcycle_read(&c, 0, out, n), n);
	for (size_t i = 0; i < n; i++)
		assert_same(&out[i], &ref[i]);
	size_t cap = c.cap;
	assert_int_equal(gw_fcycle_reserve(&c, 3 * PER), 0);
	assert_int_equal(c.cap, cap);
	assert_int_equal(gw_fcycle_len(&c), n);
	gw_fcycle_free(&c);
	gw_flightq_free(q);
}

/* Several buses' cycles handed to the queue in turn (as their workers
 * finish them), some with whole readings out of their records' order (a
 * status set after packing), and taken in parts that end inside a cycle
 * and span several: every reading comes out in the order its cycle was
 * pushed, byte for byte; each cycle is held until all of it is taken,
 * then freed (the count of cycles held falls as they are; the sanitizer
 * build sees the memory freed once, and the queue freed with cycles
 * still held frees them). An empty cycle queues nothing. */
static void cycle_handover(void **state)
{
	(void)state;
	enum { BUSES = 4, PER = 12, ROUNDS = 3 };
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c[BUSES];
	size_t cap = BUSES * ROUNDS * 3 * PER, pushed = 0, taken = 0, held = 0;
	struct gw_reading *ref = calloc(cap, sizeof(*ref));
	struct gw_reading *out = calloc(cap, sizeof(*out));
	struct gw_flight_counts k;

	assert_non_null(q);
	assert_non_null(ref);
	assert_non_null(out);
	memset(c, 0, sizeof(c));
	/* an empty cycle: nothing queued, nothing held */
	assert_int_equal(gw_flightq_push_cycle(q, &c[0]), 0);
	gw_flightq_counts(q, &k);
	assert_int_equal(k.cycles, 0);
	assert_int_equal(gw_flightq_len(q), 0);
	for (int round = 0; round < ROUNDS; round++) {
		/* each bus fills its cycle; they finish in a turning order */
		struct gw_reading cyc[BUSES][3 * PER];
		size_t n[BUSES];
		for (int b = 0; b < BUSES; b++) {
			assert_int_equal(gw_fcycle_reserve(&c[b], 3 * PER), 0);
			n[b] = fill_cycle(q, &c[b], cyc[b], PER);
			for (size_t i = 0; i < n[b]; i++) /* a bus's own times */
				cyc[b][i].ts_ms += (int64_t)(b * 1000000 + round * 1000);
			/* packed again with the bus's own times */
			gw_fcycle_clear(&c[b]);
			for (int m = 0; m < 3; m++)
				assert_int_equal(gw_flightq_pack(q, &c[b], m,
								 cyc[b] + m * PER, PER), 0);
			/* a whole reading made after the ones packed whole */
			assert_int_equal(gw_fcycle_set_status(&c[b], (size_t)b, 99), 0);
			cyc[b][b].status = 99;
		}
		for (int j = 0; j < BUSES; j++) {
			int b = (j + round) % BUSES;
			const struct gw_flight *r0 = c[b].r;
			assert_non_null(r0);
			assert_int_equal(gw_flightq_push_cycle(q, &c[b]), 0);
			assert_null(c[b].r); /* handed over, not copied */
			assert_null(c[b].w);
			assert_int_equal(gw_fcycle_len(&c[b]), 0);
			memcpy(ref + pushed, cyc[b], n[b] * sizeof(*ref));
			pushed += n[b];
			held++;
		}
		gw_flightq_counts(q, &k);
		assert_int_equal(k.cycles, held);
		assert_int_equal(gw_flightq_len(q), pushed - taken);
		/* a part: into the second cycle, then to inside a later one */
		size_t parts[] = {3 * PER + 5, 2 * 3 * PER + 1};
		for (size_t p = 0; p < 2; p++) {
			size_t t = gw_flightq_take(q, out + taken, parts[p]);
			assert_int_equal(t, parts[p]);
			taken += t;
			held = BUSES * (size_t)(round + 1) - taken / (3 * PER);
			gw_flightq_counts(q, &k);
			assert_int_equal(k.cycles, held);
			assert_int_equal(gw_flightq_len(q), pushed - taken);
		}
	}
	/* the rest, a little at a time; then the queue is empty */
	for (size_t t; (t = gw_flightq_take(q, out + taken, 7)) > 0; taken += t)
		;
	assert_int_equal(taken, pushed);
	for (size_t i = 0; i < pushed; i++)
		assert_same(&out[i], &ref[i]);
	gw_flightq_counts(q, &k);
	assert_int_equal(k.cycles, 0);
	assert_int_equal(k.whole, BUSES * ROUNDS * 10); /* 9 packed, 1 made */
	assert_int_equal(gw_flightq_take(q, out, 7), 0);

	/* the queue freed with cycles in it, one of them partly taken */
	for (int b = 0; b < 2; b++) {
		struct gw_reading r[3 * PER];
		fill_cycle(q, &c[b], r, PER);
		assert_int_equal(gw_flightq_push_cycle(q, &c[b]), 0);
	}
	assert_int_equal(gw_flightq_take(q, out, 5), 5);
	for (int b = 0; b < BUSES; b++)
		gw_fcycle_free(&c[b]);
	gw_flightq_free(q);
	free(out);
	free(ref);
}

static size_t read_fcycle(void *ctx, size_t from, struct gw_reading *out,
			  size_t max)
{
	return gw_fcycle_read(ctx, from, out, max);
}

/* c reads back as ref (n readings) from every reading on in every chunk
 * size, and keys as it: a record by its numbers, a whole reading none
 * (whole of them). */
static void assert_cycle(struct gw_fcycle *c, const struct gw_reading *ref,
			 size_t n, size_t whole)
{
	struct gw_reading out[64];
	struct gw_fkey k;
	char name[GW_OBIS_MAX];
	size_t none = 0;

	assert_true(n <= 64);
	assert_int_equal(gw_fcycle_len(c), n);
	for (size_t chunk = 1; chunk <= n; chunk++)
		for (size_t from = 0; from < n; from++) {
			size_t got = gw_fcycle_read(c, from, out, chunk);
			assert_int_equal(got, n - from < chunk ? n - from : chunk);
			for (size_t i = 0; i < got; i++)
				assert_same(&out[i], &ref[from + i]);
		}
	for (size_t i = 0; i < n; i++) {
		if (!gw_fcycle_key(c, i, &k)) {
			none++;
			continue;
		}
		assert_string_equal(meters[k.meter].id, ref[i].meter_id);
		assert_int_equal(gw_fcycle_code_name(c, k.code, name), 0);
		assert_string_equal(name, ref[i].obis);
		assert_true(k.ts_ms == ref[i].ts_ms);
		assert_int_equal(k.status, ref[i].status);
	}
	assert_int_equal(none, whole);
	assert_int_equal(c->wn, whole);
}

/* Sets reading i's status in c and in ref. */
static void set_status(struct gw_fcycle *c, struct gw_reading *ref, size_t i,
		       uint8_t status)
{
	assert_int_equal(gw_fcycle_set_status(c, i, status), 0);
	ref[i].status = status;
}

/* A meter's registers read at once share their meter and time, said once
 * (a run): a cycle of three meters' reads of one time each is three runs
 * however many registers. A reading of another time starts a run (the
 * meter's next, or one of the meter's times back again), a whole reading
 * one of its own; a meter's readings packed on past the cycle's reserve
 * go on in the same run. Values beyond 32 bits (the extremes, the
 * record's own mark INT32_MIN, a large step between registers) are kept
 * wide and read back exact. A status set in the middle of a run: four
 * bits stay in the record; beyond them the reading goes whole and the
 * run is split around it, at its first reading, its last and a wide
 * one's. Taken from the queue in parts that end inside runs, the
 * readings come out as packed, across two cycles. */
static void cycle_runs(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c = {0}, c2 = {0};
	const int64_t T = 1700000000000LL, T2 = 1700000000500LL;
	const int64_t v0[] = {INT64_MAX, 7, INT32_MAX, INT32_MIN + 1, INT32_MIN,
			      (int64_t)INT32_MAX + 1, -5, INT64_MIN, 3,
			      -((int64_t)1 << 40), ((int64_t)1 << 40) + 3, 0};
	struct gw_reading ref[64], out[64];
	size_t n = 0, wide = 0;

	assert_non_null(q);
	/* meter 0: twelve registers of one time, in two reads, past the
	 * reserve of 10 */
	assert_int_equal(gw_fcycle_reserve(&c, 10), 0);
	for (int i = 0; i < 12; i++) {
		char code[GW_OBIS_MAX];
		snprintf(code, sizeof(code), "1.8.%d", i);
		ref[n + (size_t)i] = reading("m0", code, T, v0[i], -2, GW_UNIT_WH, 0);
		wide += v0[i] <= INT32_MIN || v0[i] > INT32_MAX;
	}
	assert_int_equal(wide, 6);
	assert_int_equal(gw_flightq_pack(q, &c, 0, ref, 6), 0);
	assert_int_equal(c.cap, 10);
	assert_int_equal(gw_flightq_pack(q, &c, 0, ref + 6, 6), 0);
	assert_true(c.cap >= 12);
	n = 12;
	assert_int_equal(c.nrun, 1);
	assert_int_equal(c.nwide, wide);
	/* meter 1: times that differ, a whole reading among them */
	ref[n++] = reading(LONG_ID, "1.8.0", T, INT64_MIN, 0, GW_UNIT_WH, 0);
	ref[n++] = reading(LONG_ID, "1.8.1", T, 1, 0, GW_UNIT_WH, 0);
	ref[n++] = reading(LONG_ID, "1.8.2", T, 2, 0, 16, 0); /* whole */
	ref[n++] = reading(LONG_ID, "1.8.3", T, 3, 0, GW_UNIT_WH, 0);
	ref[n++] = reading(LONG_ID, "1.8.4", T + 1, 4, 0, GW_UNIT_WH, 0);
	ref[n++] = reading(LONG_ID, "1.8.5", T + 1, INT64_MAX, 0, GW_UNIT_WH, 0);
	ref[n++] = reading(LONG_ID, "1.8.6", T, 6, 0, GW_UNIT_WH, 0);
	wide += 2;
	assert_int_equal(gw_flightq_pack(q, &c, 1, ref + 12, 7), 0);
	assert_int_equal(c.nrun, 1 + 5); /* T, whole, T, T + 1, T */
	/* meter 2: one time; and meter 0 again, at another */
	for (int i = 0; i < 5; i++)
		ref[n + (size_t)i] = reading("m2", "2.8.0", T2, i * 1000, 0,
					     GW_UNIT_VARH, 0);
	assert_int_equal(gw_flightq_pack(q, &c, 2, ref + n, 5), 0);
	n += 5;
	ref[n] = reading("m0", "1.8.0", T2, -1, 0, GW_UNIT_WH, 0);
	assert_int_equal(gw_flightq_pack(q, &c, 0, ref + n, 1), 0);
	n++;
	assert_int_equal(c.nrun, 1 + 5 + 1 + 1);
	assert_int_equal(c.nwide, wide);
	assert_cycle(&c, ref, n, 1);

	/* statuses: four bits in the middle of a run stay in the record */
	set_status(&c, ref, 5, GW_RS_CLOCK_BACK);
	assert_int_equal(c.nrun, 8);
	assert_cycle(&c, ref, n, 1);
	/* beyond them: the middle of a run, at a wide value (two runs more) */
	set_status(&c, ref, 4, 200);
	assert_int_equal(c.nrun, 10);
	assert_int_equal(c.nwide, --wide);
	assert_cycle(&c, ref, n, 2);
	/* a run's first (meter 2's) and a run's last (meter 1's at T + 1) */
	set_status(&c, ref, 19, 201);
	set_status(&c, ref, 17, 202);
	assert_int_equal(c.nrun, 12);
	assert_int_equal(c.nwide, --wide);
	assert_cycle(&c, ref, n, 4);
	/* a whole one's status, and the cycle's last reading made whole */
	set_status(&c, ref, 4, 203);
	set_status(&c, ref, n - 1, 204);
	assert_int_equal(c.nrun, 12); /* meter 0's run of one is whole now */
	assert_cycle(&c, ref, n, 5);
	/* packed on after it: a run of its own again */
	ref[n] = reading("m0", "1.8.1", T2, INT64_MIN, 0, GW_UNIT_WH, 0);
	assert_int_equal(gw_flightq_pack(q, &c, 0, ref + n, 1), 0);
	n++;
	assert_int_equal(c.nrun, 13);
	assert_cycle(&c, ref, n, 5);

	/* a second cycle: three meters' reads of one time, a run each */
	size_t n2 = 0;
	for (int m = 0; m < 3; m++)
		for (int i = 0; i < 7; i++) {
			char code[GW_OBIS_MAX];
			snprintf(code, sizeof(code), "1.8.%d", i);
			ref[n + n2] = reading(meters[m].id, code, T2 + m,
					      i & 1 ? (int64_t)i << 35 : i, 0,
					      GW_UNIT_WH, 0);
			assert_int_equal(gw_flightq_pack(q, &c2, m, ref + n + n2, 1), 0);
			n2++;
		}
	assert_int_equal(c2.nrun, 3);
	assert_int_equal(c2.nwide, 9);
	assert_cycle(&c2, ref + n, n2, 0);

	/* taken in parts that end inside runs, across the two cycles */
	assert_int_equal(gw_flightq_push_cycle(q, &c), 0);
	assert_int_equal(gw_flightq_push_cycle(q, &c2), 0);
	size_t taken = 0, t;
	for (size_t part = 1; (t = gw_flightq_take(q, out + taken, part)) > 0;
	     part = part % 5 + 1) {
		assert_int_equal(t, part < n + n2 - taken ? part : n + n2 - taken);
		taken += t;
	}
	assert_int_equal(taken, n + n2);
	for (size_t i = 0; i < taken; i++)
		assert_same(&out[i], &ref[i]);
	struct gw_flight_counts k;
	gw_flightq_counts(q, &k);
	assert_int_equal(k.whole, 5);
	assert_int_equal(k.cycles, 0);
	gw_fcycle_free(&c);
	gw_fcycle_free(&c2);
	gw_flightq_free(q);
}

/* The journal's packed record of a cycle read a chunk at a time is the
 * record of the same readings whole, byte for byte, cycle after cycle (the
 * codec's state carried over chunks and records). */
static void cycle_journal_bytes(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c = {0};
	struct gw_jcodec a = {.fresh = 1}, b = {.fresh = 1};
	enum { PER = 2 * GW_JOURNAL_CHUNK + 5 };
	struct gw_reading ref[3 * PER];

	assert_non_null(q);
	for (int cycle = 0; cycle < 3; cycle++) {
		size_t n = fill_cycle(q, &c, ref, PER);
		for (size_t i = 0; i < n; i++) /* unit 16 cannot be journaled */
			ref[i].unit = ref[i].unit > 15 ? GW_UNIT_WH : ref[i].unit;
		gw_fcycle_clear(&c);
		for (int m = 0; m < 3; m++)
			assert_int_equal(gw_flightq_pack(q, &c, m, ref + m * PER, PER), 0);
		if (cycle == 2) { /* a meter that did not answer */
			memmove(ref + PER, ref + 2 * PER, PER * sizeof(*ref));
			gw_fcycle_clear(&c);
			assert_int_equal(gw_flightq_pack(q, &c, 0, ref, PER), 0);
			assert_int_equal(gw_flightq_pack(q, &c, 2, ref + PER, PER), 0);
			n = 2 * PER;
		}
		struct gw_reading_src src = {.n = n, .read = read_fcycle, .ctx = &c};
		struct gw_wbuf wa = {0}, wb = {0};
		assert_int_equal(gw_jcodec_encode(&a, 1, ref, n, &wa), 0);
		assert_int_equal(gw_jcodec_encode_src(&b, 1, &src, &wb), 0);
		assert_int_equal(wa.n, wb.n);
		assert_memory_equal(wa.p, wb.p, wa.n);
		free(wa.p);
		free(wb.p);
		gw_fcycle_clear(&c);
	}
	gw_jcodec_free(&a);
	gw_jcodec_free(&b);
	gw_fcycle_free(&c);
	gw_flightq_free(q);
}

/* A cycle the same as the one before, read a chunk at a time across
 * chunks' edges, names each series as "the next" and costs its tag byte
 * alone (docs/spool-format.md): a body of n zero bytes. */
static void cycle_journal_repeat(void **state)
{
	(void)state;
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	struct gw_fcycle c = {0};
	struct gw_jcodec j = {.fresh = 1};
	enum { PER = 2 * GW_JOURNAL_CHUNK + 5 };
	struct gw_reading ref[3 * PER];
	struct gw_wbuf w = {0};

	assert_non_null(q);
	size_t n = fill_cycle(q, &c, ref, PER);
	struct gw_reading_src src = {.n = n, .read = read_fcycle, .ctx = &c};
	assert_int_equal(gw_jcodec_encode_src(&j, 0, &src, &w), 0);
	w.n = 0;
	assert_int_equal(gw_jcodec_encode_src(&j, 0, &src, &w), 0);
	/* type, flags (deflated), bus 0, n and the raw body's length: 2 bytes
	 * each, as n < 16384 */
	assert_true(n >= 128 && n < 16384);
	assert_int_equal(w.p[1], 2);
	assert_int_equal(w.p[2], 0);
	size_t cnt = (size_t)(w.p[3] & 0x7f) | (size_t)w.p[4] << 7;
	size_t raw = (size_t)(w.p[5] & 0x7f) | (size_t)w.p[6] << 7;
	assert_int_equal(cnt, n);
	assert_int_equal(raw, n);
	uint8_t body[3 * PER + 1];
	uLongf blen = sizeof(body);
	assert_int_equal(uncompress(body, &blen, w.p + 7, (uLong)(w.n - 7)), Z_OK);
	assert_int_equal(blen, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(body[i], 0);
	free(w.p);
	gw_jcodec_free(&j);
	gw_fcycle_free(&c);
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
		cmocka_unit_test_setup(cycle_reads_back, setup),
		cmocka_unit_test_setup(cycle_keys, setup),
		cmocka_unit_test_setup(cycle_status_and_push, setup),
		cmocka_unit_test_setup(cycle_reserved, setup),
		cmocka_unit_test_setup(cycle_handover, setup),
		cmocka_unit_test_setup(cycle_runs, setup),
		cmocka_unit_test_setup(cycle_journal_bytes, setup),
		cmocka_unit_test_setup(cycle_journal_repeat, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
