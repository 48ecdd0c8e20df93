/* SPDX-License-Identifier: MIT */
/*
 * test_meter_ident.c - the meter identities (gateway/meter_ident.c): the
 * clock-drift rule with its hysteresis, one clock_drift event per episode,
 * serial numbers kept in <spool>/serials across a restart, a replacement
 * raising one meter_replaced event with both serials, a damaged line of
 * the file skipped, the replacements told to the batching core, and a
 * meter's first serial saved at the flush (one write a cycle).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "batch.h"
#include "config.h"
#include "meter_ident.h"
#include "spool.h"

static void drift_rule(void **state)
{
	(void)state;
	/* beyond the allowance drifts; at it does not */
	assert_false(gw_meter_clock_drifts(0, 120000, 120000));
	assert_true(gw_meter_clock_drifts(0, -121000, 120000));
	/* once drifting, back only within half of it */
	assert_true(gw_meter_clock_drifts(1, 61000, 120000));
	assert_false(gw_meter_clock_drifts(1, -60000, 120000));
}

/* A configuration of two meters on a bus allowing 120 s, its spool in a
 * new directory. */
static struct gw_config *two_meters(char *dir, size_t cap)
{
	char path[600];
	struct gw_config *cfg;

	snprintf(dir, cap, "/tmp/gw-ident-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/gw.ini", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "[gateway]\nid = g\ntimezone = UTC\nspool_dir = %s/spool\n"
		   "[bus b]\ntype = iec62056-21\ndevice = /dev/null\nmax_clock_drift = 2m\n"
		   "[meter M1]\nbus = b\nunit = 1\n[meter M2]\nbus = b\nunit = 2\n", dir);
	fclose(f);
	assert_int_equal(gw_config_load(path, &cfg), 0);
	snprintf(path, sizeof(path), "%s/spool", dir);
	assert_int_equal(gw_spool_open(path), 0);
	return cfg;
}

static void one_drift_event(void **state)
{
	char dir[64];
	struct gw_config *cfg = two_meters(dir, sizeof(dir));
	struct gw_meter_ident *mi = gw_meter_ident_new(cfg);
	struct gw_event ev;

	(void)state;
	assert_non_null(mi);
	assert_int_equal(gw_meter_ident_clock(mi, 0, 100000, 5000, &ev), 0);
	assert_int_equal(gw_meter_ident_clock(mi, 0, -121000, 6000, &ev), 1);
	assert_int_equal(ev.kind, GW_EV_CLOCK_DRIFT);
	assert_string_equal(ev.meter_id, "M1");
	assert_string_equal(ev.obis, "0.9.1");
	assert_int_equal(ev.ts_ms, 6000);
	assert_non_null(strstr(ev.detail, "-121 s"));
	/* near the limit: no event at every crossing */
	assert_int_equal(gw_meter_ident_clock(mi, 0, -119000, 7000, &ev), 0);
	assert_int_equal(gw_meter_ident_clock(mi, 0, -125000, 8000, &ev), 0);
	/* back within half, then beyond again: one more */
	assert_int_equal(gw_meter_ident_clock(mi, 0, 30000, 9000, &ev), 0);
	assert_int_equal(gw_meter_ident_clock(mi, 0, 130000, 10000, &ev), 1);
	/* the other meter has its own state */
	assert_int_equal(gw_meter_ident_clock(mi, 1, 130000, 10000, &ev), 1);
	gw_meter_ident_free(mi);
	gw_config_free(cfg);
}

/* Reads <dir>/spool/serials into text ("" if there is none). */
static void read_serials(const char *dir, char *text, size_t cap)
{
	char path[600];

	snprintf(path, sizeof(path), "%s/spool/serials", dir);
	text[0] = '\0';
	FILE *f = fopen(path, "r");
	if (!f)
		return;
	size_t n = fread(text, 1, cap - 1, f);
	text[n] = '\0';
	fclose(f);
}

/* First serials wait for the flush (one write a cycle, not one a meter);
 * a replacement is in the file before its event is returned, with every
 * first serial recorded before it; a flush with nothing new writes
 * nothing (the file removed stays removed). */
static void first_serials_saved_at_flush(void **state)
{
	char dir[64], text[256], path[600];
	struct gw_config *cfg = two_meters(dir, sizeof(dir));
	struct gw_meter_ident *mi = gw_meter_ident_new(cfg);
	struct gw_event ev;

	(void)state;
	assert_non_null(mi);
	assert_int_equal(gw_meter_ident_serial(mi, 0, "A-1", 1000, &ev), 0);
	read_serials(dir, text, sizeof(text));
	assert_string_equal(text, "");
	assert_int_equal(gw_meter_ident_serial(mi, 1, "B-1", 1000, &ev), 0);
	gw_meter_ident_flush(mi);
	read_serials(dir, text, sizeof(text));
	assert_string_equal(text, "M1\tA-1\t0\nM2\tB-1\t0\n");
	/* nothing new: the flush writes nothing */
	snprintf(path, sizeof(path), "%s/spool/serials", dir);
	assert_int_equal(unlink(path), 0);
	gw_meter_ident_flush(mi);
	read_serials(dir, text, sizeof(text));
	assert_string_equal(text, "");
	/* a replacement is written at once */
	assert_int_equal(gw_meter_ident_serial(mi, 0, "A-2", 2000, &ev), 1);
	read_serials(dir, text, sizeof(text));
	assert_string_equal(text, "M1\tA-2\t2000\nM2\tB-1\t0\n");
	gw_meter_ident_free(mi);
	gw_config_free(cfg);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

static void serials_and_replacement(void **state)
{
	char dir[64], path[600], text[256];
	struct gw_config *cfg = two_meters(dir, sizeof(dir));
	struct gw_meter_ident *mi = gw_meter_ident_new(cfg);
	struct gw_event ev;

	(void)state;
	assert_non_null(mi);
	/* first serials: recorded, no event; none reported: nothing */
	assert_int_equal(gw_meter_ident_serial(mi, 0, "A-1", 1000, &ev), 0);
	assert_int_equal(gw_meter_ident_serial(mi, 1, "B-1", 1000, &ev), 0);
	assert_int_equal(gw_meter_ident_serial(mi, 1, "", 1500, &ev), 0);
	assert_int_equal(gw_meter_ident_serial(mi, 0, "A-1", 2000, &ev), 0);
	/* M2 swapped */
	assert_int_equal(gw_meter_ident_serial(mi, 1, "B-2", 3000, &ev), 1);
	assert_int_equal(ev.kind, GW_EV_METER_REPLACED);
	assert_string_equal(ev.meter_id, "M2");
	assert_int_equal(ev.ts_ms, 3000);
	assert_string_equal(ev.detail, "serial B-1 -> B-2");
	gw_meter_ident_free(mi);
	read_serials(dir, text, sizeof(text));
	assert_string_equal(text, "M1\tA-1\t0\nM2\tB-2\t3000\n");
	snprintf(path, sizeof(path), "%s/spool/serials", dir);

	/* a restart: the same serials raise nothing; a damaged line is
	 * skipped; the replacement is told to the batcher */
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("no tab here\n", f);
	fclose(f);
	mi = gw_meter_ident_new(cfg);
	assert_non_null(mi);
	assert_int_equal(gw_meter_ident_serial(mi, 0, "A-1", 4000, &ev), 0);
	assert_int_equal(gw_meter_ident_serial(mi, 1, "B-2", 4000, &ev), 0);
	struct gw_batcher_params bp = {
		.gateway_id = "g",
		.poll_interval_ms = 900000,
		.midnight_tolerance_ms = 600000,
		.max_gap_ms = 7200000,
		.seal_delay_ms = 1800000,
		.revision_window_days = 3,
	};
	struct gw_batcher *b = gw_batcher_new(&bp);
	assert_non_null(b);
	assert_int_equal(gw_meter_ident_feed(mi, b), 0);
	gw_batcher_free(b);
	gw_meter_ident_free(mi);
	gw_config_free(cfg);
	snprintf(path, sizeof(path), "rm -rf '%s'", dir);
	assert_int_equal(system(path), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(drift_rule),
		cmocka_unit_test(one_drift_event),
		cmocka_unit_test(serials_and_replacement),
		cmocka_unit_test(first_serials_saved_at_flush),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
