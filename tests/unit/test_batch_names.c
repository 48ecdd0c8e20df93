/* SPDX-License-Identifier: MIT */
/*
 * test_batch_names.c - the batching core keeps each meter id and OBIS
 * code once (batch_names.c): ids of every length up to the field's, more
 * of them than one block of names holds, come out of a sealed day exactly
 * as they went in, each on its own register's figures, with the rest of
 * the fixed-size fields zeroed.
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
#include "tz.h"

#define MIN 60000LL
#define HOUR 3600000LL
#define METERS 300
#define CODES 3

static const char *const codes[CODES] = {
	"1.8.0", "1-0:2.8.0*255", "1-0:1.8.1*255.abcdefghi", /* 23: the most */
};

/* Meter i's id: 4 to 47 characters (GW_ID_MAX - 1, the most), the long
 * ones differing only in their last characters. */
static void meter_id(int i, char *out)
{
	int len = 4 + i % (GW_ID_MAX - 4);

	memset(out, 'm', (size_t)len - 4);
	snprintf(out + len - 4, 5, "%04d", i);
}

/* The register of meter ids[i / CODES] and codes[i % CODES], -1 if none. */
static int which(char ids[][GW_ID_MAX], const char *meter, const char *obis)
{
	for (int i = 0; i < METERS * CODES; i++)
		if (!strcmp(meter, ids[i / CODES]) && !strcmp(obis, codes[i % CODES]))
			return i;
	return -1;
}

struct got {
	struct gw_batch *b[4];
	int n;
};

static int keep(void *ctx, struct gw_batch *b)
{
	struct got *g = ctx;

	assert_true(g->n < 4);
	g->b[g->n++] = b;
	return 0;
}

/* A field of cap bytes that holds s and zeros after it. */
static void assert_field(const char *field, size_t cap, const char *s)
{
	char want[GW_ID_MAX];

	memset(want, 0, sizeof(want));
	memcpy(want, s, strlen(s));
	assert_memory_equal(field, want, cap);
}

static void ids_round_trip(void **state)
{
	struct gw_batcher_params p = {
		.gateway_id = "gw-names",
		.poll_interval_ms = 15 * MIN,
		.midnight_tolerance_ms = 1 * MIN,
		.max_gap_ms = 2 * HOUR,
		.seal_delay_ms = 30 * MIN,
	};
	struct gw_batcher *b = gw_batcher_new(&p);
	struct got g = {0};
	char ids[METERS][GW_ID_MAX];

	(void)state;
	assert_non_null(b);
	gw_tz_set("Europe/Berlin");
	int32_t d0 = 0;
	assert_int_equal(gw_day_parse("2026-03-02", &d0), 0);
	int64_t t0 = gw_tz_day_start(d0);
	for (int i = 0; i < METERS; i++) {
		meter_id(i, ids[i]);
		for (int k = 0; k < i; k++)
			assert_string_not_equal(ids[i], ids[k]);
	}
	struct gw_reading *r = calloc(METERS * CODES, sizeof(*r));
	assert_non_null(r);
	for (int64_t t = t0; t <= t0 + 24 * HOUR; t += 15 * MIN) {
		memset(r, 0, METERS * CODES * sizeof(*r));
		for (int i = 0; i < METERS * CODES; i++) {
			memcpy(r[i].meter_id, ids[i / CODES], GW_ID_MAX);
			snprintf(r[i].obis, sizeof(r[i].obis), "%s", codes[i % CODES]);
			r[i].ts_ms = t;
			/* register i counts i + 1 Wh a minute */
			r[i].value = 1000000 + (i + 1) * ((t - t0) / MIN);
			r[i].unit = GW_UNIT_WH;
		}
		assert_int_equal(gw_batcher_add(b, r, METERS * CODES), 0);
	}
	free(r);
	assert_int_equal(gw_batcher_advance(b, t0 + 24 * HOUR + 30 * MIN, keep, &g), 1);
	const struct gw_batch *x = g.b[0];
	assert_int_equal(x->n_days, METERS * CODES);
	assert_int_equal(x->n_series, METERS * CODES);
	int seen[METERS * CODES] = {0}, seen_s[METERS * CODES] = {0};
	for (size_t j = 0; j < x->n_days; j++) {
		const struct gw_day_register *dr = &x->days[j];
		int i = which(ids, dr->meter_id, dr->obis);
		assert_true(i >= 0);
		assert_int_equal(seen[i]++, 0);
		assert_field(dr->meter_id, sizeof(dr->meter_id), ids[i / CODES]);
		assert_field(dr->obis, sizeof(dr->obis), codes[i % CODES]);
		assert_int_equal(dr->consumption, (int64_t)(i + 1) * 1440);
		assert_int_equal(dr->quality, GW_Q_MEASURED);
	}
	for (size_t j = 0; j < x->n_series; j++) {
		const struct gw_series *s = &x->series[j];
		int i = which(ids, s->meter_id, s->obis);
		assert_true(i >= 0);
		assert_int_equal(seen_s[i]++, 0);
		assert_field(s->meter_id, sizeof(s->meter_id), ids[i / CODES]);
		assert_field(s->obis, sizeof(s->obis), codes[i % CODES]);
		assert_int_equal(s->n, 96);
		assert_int_equal(s->value[95] - s->value[0], (int64_t)(i + 1) * 1425);
	}
	gw_batch_free(g.b[0]);
	gw_batcher_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(ids_round_trip),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
