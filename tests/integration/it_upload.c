/* SPDX-License-Identifier: MIT */
/*
 * it_upload.c - the uploader against a real PostgreSQL (cmocka).
 *
 * Run by tests/integration/upload.sh, which starts a private cluster with
 * tools/pgtmp.sh and exports GW_PG_CONNINFO; without it this program
 * fails (it does not skip). Batches are built in memory, uploaded with
 * gw_upload_batch / gw_upload_spool, and checked with plain SQL on a
 * second connection. The uploads log in as a back-office loader
 * (GW_IT_LOADER_CONNINFO: a role in gw_loader_any, not a superuser, so the
 * schema's checks all apply); the checks use GW_PG_CONNINFO. Each test
 * uses its own gateway and meter ids, so the
 * tests do not see each other's rows. GW_IT_SPOOL names a directory for
 * the spool test (default: a new directory under $TMPDIR or /tmp).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "batch.h"
#include "gw.h"
#include "reading.h"
#include "spool.h"
#include "tz.h"
#include "upload.h"

static const char *conninfo; /* the checks' (a superuser) */
static const char *loader;   /* the uploads' (gw_loader_any) */
static PGconn *db; /* the tests' own connection, TimeZone UTC */

/* Returns the first column of the first row as a new string ("NULL" for
 * NULL, "NONE" for no row); fails the test on an SQL error. */
static char *query1(const char *sql, int n, const char *const *params)
{
	PGresult *res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
	char *out;

	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		print_error("query failed: %s\n%s\n", sql, PQerrorMessage(db));
		PQclear(res);
		fail();
	}
	if (PQntuples(res) == 0)
		out = strdup("NONE");
	else if (PQgetisnull(res, 0, 0))
		out = strdup("NULL");
	else
		out = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	assert_non_null(out);
	return out;
}

/* Asserts that a one-parameter query returns `want`. */
static void expect1(const char *want, const char *sql, const char *param)
{
	const char *params[1] = { param };
	char *got = query1(sql, param ? 1 : 0, params);

	if (strcmp(got, want) != 0)
		print_error("%s [%s]: got '%s', expected '%s'\n", sql,
			    param ? param : "", got, want);
	assert_string_equal(got, want);
	free(got);
}

static struct gw_day_register reg(const char *meter, const char *obis,
				  enum gw_quality q, int64_t start, int64_t end)
{
	struct gw_day_register d;

	memset(&d, 0, sizeof(d));
	gw_strlcpy(d.meter_id, meter, sizeof(d.meter_id));
	gw_strlcpy(d.obis, obis, sizeof(d.obis));
	d.unit = obis[0] == '3' || obis[0] == '4' ? GW_UNIT_VARH : GW_UNIT_WH;
	d.quality = (uint8_t)q;
	d.start_value = start;
	d.end_value = end;
	d.consumption = end - start;
	d.readings = 96;
	d.minutes_missing = 0;
	return d;
}

static void init_batch(struct gw_batch *b, const char *gw, const char *day,
		       uint32_t revision, struct gw_day_register *days,
		       size_t n_days, struct gw_series *series, size_t n_series)
{
	memset(b, 0, sizeof(*b));
	gw_strlcpy(b->gateway_id, gw, sizeof(b->gateway_id));
	gw_strlcpy(b->timezone, "Asia/Ho_Chi_Minh", sizeof(b->timezone));
	assert_int_equal(gw_day_parse(day, &b->day), 0);
	b->revision = revision;
	b->created_ms = 1772384400000; /* 2026-03-01T17:00:00Z */
	b->days = days;
	b->n_days = n_days;
	b->series = series;
	b->n_series = n_series;
}

/* A 1.8.0 series of meter with n readings (ts and v are borrowed). */
static struct gw_series series(const char *meter, int64_t *ts, int64_t *v,
			       uint32_t n)
{
	struct gw_series s;

	memset(&s, 0, sizeof(s));
	gw_strlcpy(s.meter_id, meter, sizeof(s.meter_id));
	gw_strlcpy(s.obis, "1.8.0", sizeof(s.obis));
	s.unit = GW_UNIT_WH;
	s.n = n;
	s.ts_ms = ts;
	s.value = v;
	return s;
}

static int upload_one(const struct gw_batch *b, uint32_t crc)
{
	struct gw_uploader *u = gw_uploader_new(loader);
	int rc;

	assert_non_null(u);
	rc = gw_upload_batch(u, b, crc);
	gw_uploader_free(u);
	return rc;
}

/* 2026-03-01 00:00, 00:15, 00:30, 00:45 UTC */
static int64_t ts4[4] = { 1772323200000, 1772324100000, 1772325000000,
			  1772325900000 };
static int64_t val4[4] = { 9007199254740993, 9007199254741000,
			   9007199254741100, 9007199254741200 };

static void test_rows_land_exactly(void **state)
{
	struct gw_day_register days[3];
	struct gw_series s;
	struct gw_batch b;
	struct gw_uploader *u = gw_uploader_new(loader);

	(void)state;
	/* 2^53 + 1: a double would round it. */
	days[0] = reg("it-a1", "1.8.0", GW_Q_MEASURED, 9007199254740993,
		      9007199254753338);
	days[1] = reg("it-a1", "2.8.0", GW_Q_MEASURED, 500, 500);
	days[2] = reg("it-a2", "1.8.0", GW_Q_INTERPOLATED, 7, 8);
	days[2].readings = 90;
	days[2].minutes_missing = 45;
	s = series("it-a1", ts4, val4, 4);
	init_batch(&b, "it-gw-a", "2026-03-01", 0, days, 3, &s, 1);

	assert_non_null(u);
	assert_int_equal(gw_upload_batch(u, &b, 0xDEADBEEF), 1);
	gw_uploader_free(u);

	expect1("9007199254740993", "SELECT start_value FROM daily_registers "
		"WHERE meter_id = $1 AND obis = '1.8.0'", "it-a1");
	expect1("9007199254753338", "SELECT end_value FROM daily_registers "
		"WHERE meter_id = $1 AND obis = '1.8.0'", "it-a1");
	expect1("12345", "SELECT consumption FROM daily_registers "
		"WHERE meter_id = $1 AND obis = '1.8.0'", "it-a1");
	expect1("2026-03-01|Wh|measured|96|0|0|it-gw-a",
		"SELECT concat_ws('|', day, unit, quality, readings, "
		"minutes_missing, revision, gateway_id) FROM daily_registers "
		"WHERE meter_id = $1 AND obis = '1.8.0'", "it-a1");
	expect1("0", "SELECT consumption FROM daily_registers "
		"WHERE meter_id = $1 AND obis = '2.8.0'", "it-a1");
	expect1("interpolated|90|45", "SELECT concat_ws('|', quality, readings,"
		" minutes_missing) FROM daily_registers WHERE meter_id = $1",
		"it-a2");
	expect1("4", "SELECT count(*) FROM interval_readings WHERE meter_id = $1",
		"it-a1");
	expect1("2026-03-01 00:15:00+00|9007199254741000|0|Wh",
		"SELECT concat_ws('|', ts, value, scale, unit) FROM "
		"interval_readings WHERE meter_id = $1 ORDER BY ts OFFSET 1 LIMIT 1",
		"it-a1");
	expect1("3735928559|3|4|Asia/Ho_Chi_Minh|2026-03-01 17:00:00+00",
		"SELECT concat_ws('|', crc, daily_rows, interval_rows, timezone,"
		" created_at) FROM batch_ledger WHERE gateway_id = $1", "it-gw-a");
	expect1("it-gw-a|2026-03-01|2026-03-01", "SELECT concat_ws('|', "
		"gateway_id, first_day, last_day) FROM meters WHERE meter_id = $1",
		"it-a2");
	expect1("Asia/Ho_Chi_Minh", "SELECT timezone FROM gateways "
		"WHERE gateway_id = $1", "it-gw-a");
}

static void test_same_batch_twice_applies_once(void **state)
{
	struct gw_day_register days[2];
	struct gw_series s;
	struct gw_batch b;
	struct gw_uploader *u = gw_uploader_new(loader);

	(void)state;
	days[0] = reg("it-t1", "1.8.0", GW_Q_MEASURED, 1000, 3000);
	days[1] = reg("it-t2", "1.8.0", GW_Q_MEASURED, 10, 20);
	s = series("it-t1", ts4, val4, 4);
	init_batch(&b, "it-gw-t", "2026-03-01", 0, days, 2, &s, 1);

	assert_non_null(u);
	assert_int_equal(gw_upload_batch(u, &b, 42), 1);
	assert_int_equal(gw_upload_batch(u, &b, 42), 0);
	gw_uploader_free(u);
	/* A new connection, as after a restart, finds it in the ledger too. */
	assert_int_equal(upload_one(&b, 42), 0);

	expect1("2", "SELECT count(*) FROM daily_registers WHERE gateway_id = $1",
		"it-gw-t");
	expect1("4", "SELECT count(*) FROM interval_readings WHERE meter_id = $1",
		"it-t1");
	expect1("1", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1",
		"it-gw-t");
}

static void test_later_revision_replaces_day(void **state)
{
	struct gw_day_register d0[1], d1[2];
	struct gw_series s;
	struct gw_batch b0, b1;

	(void)state;
	s = series("it-r1", ts4, val4, 4);

	/* revision 0, then revision 1 of the same day */
	d0[0] = reg("it-r1", "1.8.0", GW_Q_ESTIMATED, 5000, 6000);
	d1[0] = reg("it-r1", "1.8.0", GW_Q_INTERPOLATED, 5000, 6500);
	d1[1] = reg("it-r1", "2.8.0", GW_Q_MEASURED, 0, 3);
	init_batch(&b0, "it-gw-r", "2026-03-02", 0, d0, 1, &s, 1);
	init_batch(&b1, "it-gw-r", "2026-03-02", 1, d1, 2, &s, 1);
	assert_int_equal(upload_one(&b0, 1), 1);
	expect1("1000|estimated|0", "SELECT concat_ws('|', consumption, quality,"
		" revision) FROM daily_registers WHERE meter_id = $1 AND "
		"day = '2026-03-02' AND obis = '1.8.0'", "it-r1");
	/* The interval readings of revision 1 overlap revision 0's. */
	assert_int_equal(upload_one(&b1, 2), 1);
	expect1("1500|interpolated|1", "SELECT concat_ws('|', consumption, quality,"
		" revision) FROM daily_registers WHERE meter_id = $1 AND "
		"day = '2026-03-02' AND obis = '1.8.0'", "it-r1");
	expect1("2", "SELECT count(*) FROM daily_registers WHERE meter_id = $1 "
		"AND day = '2026-03-02'", "it-r1");
	expect1("4", "SELECT count(*) FROM interval_readings WHERE meter_id = $1",
		"it-r1");
	assert_int_equal(upload_one(&b0, 1), 0);

	/* Revisions arriving out of order: the older one does not win. */
	b1.day = b0.day = b0.day + 1;
	assert_int_equal(upload_one(&b1, 3), 1);
	assert_int_equal(upload_one(&b0, 4), 1);
	expect1("1500|1", "SELECT concat_ws('|', consumption, revision) FROM "
		"daily_registers WHERE meter_id = $1 AND day = '2026-03-03' AND "
		"obis = '1.8.0'", "it-r1");
	expect1("2", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1 "
		"AND day = '2026-03-03'", "it-gw-r");
}

static void test_daily_usage_view(void **state)
{
	struct gw_day_register d[6];
	struct gw_batch b;

	(void)state;
	d[0] = reg("it-u1", "1.8.0", GW_Q_MEASURED, 1000000, 1012345);
	d[1] = reg("it-u1", "2.8.0", GW_Q_ESTIMATED, 200, 267);
	d[2] = reg("it-u1", "3.8.0", GW_Q_INTERPOLATED, 0, 10);
	d[3] = reg("it-u2", "1.8.0", GW_Q_MEASURED, 0, 1000);
	d[4] = reg("it-u3", "1.8.0", GW_Q_INCOMPLETE, 0, 1);
	d[5] = reg("it-u3", "2.8.0", GW_Q_MEASURED, 5, 5);
	init_batch(&b, "it-gw-u", "2026-03-04", 0, d, 6, NULL, 0);
	assert_int_equal(upload_one(&b, 7), 1);

	expect1("2026-03-04|12.345|0.067|estimated",
		"SELECT concat_ws('|', day, import_kwh, export_kwh, quality) "
		"FROM daily_usage WHERE meter_id = $1", "it-u1");
	expect1("1", "SELECT count(*) FROM daily_usage WHERE meter_id = $1",
		"it-u1");
	/* No 2.8.0 register: export is NULL, not zero. */
	expect1("1.000|NULL|measured",
		"SELECT concat_ws('|', import_kwh, coalesce(export_kwh::text, "
		"'NULL'), quality) FROM daily_usage WHERE meter_id = $1", "it-u2");
	expect1("0.001|0.000|incomplete",
		"SELECT concat_ws('|', import_kwh, export_kwh, quality) "
		"FROM daily_usage WHERE meter_id = $1", "it-u3");
	expect1("numeric", "SELECT pg_typeof(import_kwh)::text FROM daily_usage "
		"WHERE meter_id = $1", "it-u1");
}

/* A batch the server refuses half-way leaves nothing behind. */
static void check_nothing_of(const char *gw, const char *meter)
{
	expect1("0", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1", gw);
	expect1("0", "SELECT count(*) FROM gateways WHERE gateway_id = $1", gw);
	expect1("0", "SELECT count(*) FROM meters WHERE meter_id = $1", meter);
	expect1("0", "SELECT count(*) FROM daily_registers WHERE meter_id = $1",
		meter);
	expect1("0", "SELECT count(*) FROM interval_readings WHERE meter_id = $1",
		meter);
}

static void test_refused_batch_is_all_or_nothing(void **state)
{
	struct gw_day_register d[2];
	struct gw_series s;
	struct gw_batch b;
	struct gw_uploader *u = gw_uploader_new(loader);

	(void)state;
	assert_non_null(u);
	s = series("it-bad1", ts4, val4, 4);

	/* a quality code the check constraint refuses */
	d[0] = reg("it-bad1", "1.8.0", GW_Q_MEASURED, 0, 100);
	d[1] = reg("it-bad2", "1.8.0", GW_Q_MEASURED, 0, 100);
	d[1].quality = 9;
	init_batch(&b, "it-gw-bad", "2026-03-05", 0, d, 2, &s, 1);
	assert_int_equal(gw_upload_batch(u, &b, 5), GW_EREFUSED);
	check_nothing_of("it-gw-bad", "it-bad1");
	check_nothing_of("it-gw-bad", "it-bad2");

	/* more missing minutes than the longest (25 h) day has */
	d[1].quality = GW_Q_ESTIMATED;
	d[1].minutes_missing = 5000;
	assert_int_equal(gw_upload_batch(u, &b, 5), GW_EREFUSED);
	check_nothing_of("it-gw-bad", "it-bad1");

	/* a reading count that does not fit the column */
	d[1].minutes_missing = 0;
	d[1].readings = UINT32_MAX;
	assert_int_equal(gw_upload_batch(u, &b, 5), GW_EREFUSED);
	check_nothing_of("it-gw-bad", "it-bad1");

	/* The same uploader goes on with the corrected batch. */
	d[1].readings = 96;
	assert_int_equal(gw_upload_batch(u, &b, 5), 1);
	expect1("2", "SELECT count(*) FROM daily_registers WHERE gateway_id = $1",
		"it-gw-bad");
	gw_uploader_free(u);
}

/* Meter ids with COPY's special characters arrive unchanged. */
static void test_copy_escaping(void **state)
{
	static const char *const ids[] = {
		"it-esc\ttab", "it-esc\\N", "it-esc\nnewline\r",
		"it-esc'quote\"", "it-esc\\.", "it-esc-ü-điện",
	};
	enum { N = sizeof(ids) / sizeof(ids[0]) };
	struct gw_day_register d[N];
	struct gw_series s[N];
	struct gw_batch b;

	(void)state;
	for (size_t i = 0; i < N; i++) {
		d[i] = reg(ids[i], "1.8.0", GW_Q_MEASURED, 0, (int64_t)i + 1);
		memset(&s[i], 0, sizeof(s[i]));
		gw_strlcpy(s[i].meter_id, ids[i], sizeof(s[i].meter_id));
		gw_strlcpy(s[i].obis, "1.8.0", sizeof(s[i].obis));
		s[i].n = 4;
		s[i].ts_ms = ts4;
		s[i].value = val4;
	}
	init_batch(&b, "it-gw-esc\t\\", "2026-03-01", 0, d, N, s, N);
	assert_int_equal(upload_one(&b, 9), 1);
	for (size_t i = 0; i < N; i++) {
		char want[8];

		snprintf(want, sizeof(want), "%zu", i + 1);
		expect1(want, "SELECT consumption FROM daily_registers "
			"WHERE meter_id = $1", ids[i]);
		expect1("4", "SELECT count(*) FROM interval_readings "
			"WHERE meter_id = $1 AND unit IS NULL", ids[i]);
		expect1("it-gw-esc\t\\", "SELECT gateway_id FROM meters "
			"WHERE meter_id = $1", ids[i]);
	}
}

static void test_unreachable_database(void **state)
{
	struct gw_day_register d[1];
	struct gw_batch b;
	struct gw_uploader *u;

	(void)state;
	d[0] = reg("it-x1", "1.8.0", GW_Q_MEASURED, 0, 1);
	init_batch(&b, "it-gw-x", "2026-03-01", 0, d, 1, NULL, 0);
	u = gw_uploader_new("host=/nonexistent/gw-it port=5999 connect_timeout=2");
	assert_non_null(u);
	assert_int_equal(gw_upload_batch(u, &b, 1), GW_ECONN);
	assert_int_equal(gw_upload_batch(u, &b, 1), GW_ECONN);
	gw_uploader_free(u);
}

/* The server ends the uploader's session between two batches: the next
 * call reports GW_ECONN with nothing committed, the one after reconnects. */
static void test_lost_connection_reconnects(void **state)
{
	struct gw_day_register d1[1], d2[1];
	struct gw_batch b1, b2;
	struct gw_uploader *u;
	char *ci, *n;
	size_t len = strlen(loader) + 64;

	(void)state;
	ci = malloc(len);
	assert_non_null(ci);
	/* Works for the key=value form that pgtmp.sh writes. */
	snprintf(ci, len, "%s application_name=it-lost", loader);
	d1[0] = reg("it-l1", "1.8.0", GW_Q_MEASURED, 0, 1);
	d2[0] = reg("it-l1", "1.8.0", GW_Q_MEASURED, 1, 3);
	init_batch(&b1, "it-gw-l", "2026-03-01", 0, d1, 1, NULL, 0);
	init_batch(&b2, "it-gw-l", "2026-03-02", 0, d2, 1, NULL, 0);
	u = gw_uploader_new(ci);
	assert_non_null(u);
	assert_int_equal(gw_upload_batch(u, &b1, 1), 1);

	n = query1("SELECT count(pg_terminate_backend(pid, 10000)) FROM "
		   "pg_stat_activity WHERE application_name = 'it-lost'", 0, NULL);
	assert_string_equal(n, "1");
	free(n);

	assert_int_equal(gw_upload_batch(u, &b2, 2), GW_ECONN);
	expect1("0", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1 "
		"AND day = '2026-03-02'", "it-gw-l");
	assert_int_equal(gw_upload_batch(u, &b2, 2), 1);
	expect1("2", "SELECT consumption FROM daily_registers WHERE meter_id = $1 "
		"AND day = '2026-03-02'", "it-l1");
	gw_uploader_free(u);
	free(ci);
}

/* Enough rows that the COPY data goes out in many chunks. */
static void test_large_batch(void **state)
{
	enum { METERS = 500, POINTS = 96 };
	struct gw_day_register *d = calloc(METERS, sizeof(*d));
	struct gw_series *s = calloc(METERS, sizeof(*s));
	int64_t *ts = calloc(POINTS, sizeof(*ts));
	int64_t *val = calloc(POINTS, sizeof(*val));
	struct gw_batch b;
	char id[GW_ID_MAX];

	(void)state;
	assert_true(d && s && ts && val);
	for (int k = 0; k < POINTS; k++) {
		ts[k] = 1772323200000 + (int64_t)k * 900000;
		val[k] = 1000000 + (int64_t)k * 250;
	}
	for (int i = 0; i < METERS; i++) {
		snprintf(id, sizeof(id), "it-big-%04d", i);
		d[i] = reg(id, "1.8.0", GW_Q_MEASURED, 1000000, 1000000 + 24000 + i);
		gw_strlcpy(s[i].meter_id, id, sizeof(s[i].meter_id));
		gw_strlcpy(s[i].obis, "1.8.0", sizeof(s[i].obis));
		s[i].unit = GW_UNIT_WH;
		s[i].n = POINTS;
		s[i].ts_ms = ts;
		s[i].value = val;
	}
	init_batch(&b, "it-gw-big", "2026-03-01", 0, d, METERS, s, METERS);
	assert_int_equal(upload_one(&b, 11), 1);
	expect1("500|12124750", "SELECT concat_ws('|', count(*), sum(consumption))"
		" FROM daily_registers WHERE gateway_id = $1", "it-gw-big");
	expect1("48000", "SELECT count(*) FROM interval_readings "
		"WHERE meter_id LIKE $1", "it-big-%");
	expect1("500|48000", "SELECT concat_ws('|', daily_rows, interval_rows) "
		"FROM batch_ledger WHERE gateway_id = $1", "it-gw-big");
	free(d);
	free(s);
	free(ts);
	free(val);
}

static int count_dir(const char *dir, const char *sub)
{
	char cmd[GW_PATH_MAX + 64];
	FILE *p;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s/%s' | wc -l", dir, sub);
	p = popen(cmd, "r");
	if (!p)
		return -1;
	if (fscanf(p, "%d", &n) != 1)
		n = -1;
	pclose(p);
	return n;
}

/* gw_upload_spool: ready/ oldest first into done/, a broken file into
 * quarantine/, and a second run finds nothing to do. */
static void test_upload_spool(void **state)
{
	struct gw_day_register d1[1], d2[1], dbad[1];
	struct gw_batch b1, b2, bad;
	struct gw_uploader *u;
	char dir[GW_PATH_MAX], path[GW_PATH_MAX + 64];
	const char *env = getenv("GW_IT_SPOOL");
	char reason[512];
	struct gw_spool_usage use;
	FILE *f;

	(void)state;
	if (env && *env) {
		gw_strlcpy(dir, env, sizeof(dir));
	} else {
		const char *tmp = getenv("TMPDIR");

		snprintf(dir, sizeof(dir), "%s/it_upload.XXXXXX",
			 tmp && *tmp ? tmp : "/tmp");
		assert_non_null(mkdtemp(dir));
	}
	assert_int_equal(gw_spool_open(dir), 0);
	d1[0] = reg("it-s1", "1.8.0", GW_Q_MEASURED, 100, 200);
	d2[0] = reg("it-s1", "1.8.0", GW_Q_MEASURED, 200, 350);
	init_batch(&b1, "it-gw-s", "2026-03-06", 0, d1, 1, NULL, 0);
	init_batch(&b2, "it-gw-s", "2026-03-08", 0, d2, 1, NULL, 0);
	/* A day between them that the database refuses (more minutes
	 * missing than a day has): it is set aside, the next day loads. */
	dbad[0] = reg("it-s1", "1.8.0", GW_Q_ESTIMATED, 200, 200);
	dbad[0].minutes_missing = 5000;
	init_batch(&bad, "it-gw-s", "2026-03-07", 0, dbad, 1, NULL, 0);
	assert_int_equal(gw_spool_write(dir, &bad), 0);
	assert_int_equal(gw_spool_write(dir, &b2), 0);
	assert_int_equal(gw_spool_write(dir, &b1), 0);
	snprintf(path, sizeof(path), "%s/ready/it-gw-s_2026-03-05_r0.gwb", dir);
	f = fopen(path, "wb");
	assert_non_null(f);
	fputs("GWB1 this is not a batch", f);
	assert_int_equal(fclose(f), 0);

	u = gw_uploader_new(loader);
	assert_non_null(u);
	assert_int_equal(gw_upload_spool(u, dir), 2);
	assert_int_equal(gw_uploader_refused(u), 1);
	assert_int_equal(count_dir(dir, "ready"), 0);
	assert_int_equal(count_dir(dir, "done"), 2);
	/* the undecodable file, the refused batch and its reason */
	assert_int_equal(count_dir(dir, "quarantine"), 3);
	assert_int_equal(gw_spool_refused_reason(dir, "it-gw-s_2026-03-07_r0.gwb",
						 reason, sizeof(reason)), 1);
	if (!strstr(reason, "minutes_missing"))
		print_error("reason: %s\n", reason);
	assert_non_null(strstr(reason, "minutes_missing"));
	assert_int_equal(gw_spool_refused_reason(dir, "it-gw-s_2026-03-06_r0.gwb",
						 reason, sizeof(reason)), 0);
	assert_int_equal(gw_spool_usage(dir, &use), 0);
	assert_int_equal(use.n_quarantine, 2);
	assert_int_equal(use.n_refused, 1);
	assert_int_equal(gw_upload_spool(u, dir), 0);
	assert_int_equal(gw_uploader_refused(u), 1);
	gw_uploader_free(u);

	expect1("100,150", "SELECT string_agg(consumption::text, ',' ORDER BY day)"
		" FROM daily_registers WHERE meter_id = $1", "it-s1");
	expect1("0", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1 "
		"AND day = '2026-03-07'", "it-gw-s");
	expect1("2026-03-08", "SELECT last_day::text FROM meters "
		"WHERE meter_id = $1", "it-s1");
}

/* Events land in meter_events; a meter that only an event mentions is
 * added to meters; the same event twice (a replayed revision) is kept once. */
static void test_events(void **state)
{
	struct gw_day_register d[1];
	struct gw_event ev[3];
	struct gw_batch b;

	(void)state;
	d[0] = reg("it-e1", "1.8.0", GW_Q_MEASURED, 0, 10);
	memset(ev, 0, sizeof(ev));
	gw_strlcpy(ev[0].meter_id, "it-e1", sizeof(ev[0].meter_id));
	ev[0].ts_ms = ts4[1];
	ev[0].kind = GW_EV_OFFLINE;
	gw_strlcpy(ev[0].detail, "no answer for 3 cycles", sizeof(ev[0].detail));
	gw_strlcpy(ev[1].meter_id, "it-e2-only-event", sizeof(ev[1].meter_id));
	gw_strlcpy(ev[1].obis, "1.8.0", sizeof(ev[1].obis));
	ev[1].ts_ms = ts4[2];
	ev[1].kind = GW_EV_COUNTER_RESET;
	gw_strlcpy(ev[2].meter_id, "it-e2-only-event", sizeof(ev[2].meter_id));
	gw_strlcpy(ev[2].obis, "2.8.0", sizeof(ev[2].obis));
	ev[2].ts_ms = ts4[2];
	ev[2].kind = GW_EV_COUNTER_RESET;
	init_batch(&b, "it-gw-e", "2026-03-01", 0, d, 1, NULL, 0);
	b.events = ev;
	b.n_events = 3;
	assert_int_equal(upload_one(&b, 21), 1);
	expect1("offline|no answer for 3 cycles||it-gw-e", "SELECT concat_ws('|', kind,"
		" detail, obis, gateway_id) FROM meter_events WHERE meter_id = $1", "it-e1");
	expect1("it-gw-e", "SELECT gateway_id FROM meters WHERE meter_id = $1",
		"it-e2-only-event");
	expect1("1.8.0,2.8.0", "SELECT string_agg(obis, ',' ORDER BY obis) FROM "
		"meter_events WHERE meter_id = $1 AND kind = 'counter_reset'",
		"it-e2-only-event");
	/* revision 1 of the day carries the same events again */
	b.revision = 1;
	assert_int_equal(upload_one(&b, 22), 1);
	expect1("3", "SELECT count(*) FROM meter_events WHERE gateway_id = $1",
		"it-gw-e");
	/* an unknown kind is refused with the whole batch */
	b.revision = 2;
	ev[0].kind = 99;
	assert_int_equal(upload_one(&b, 23), GW_EREFUSED);
	expect1("2", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1",
		"it-gw-e");
}

/* Readings of a month without a partition make it, in the same batch. */
static void test_partition_on_demand(void **state)
{
	static int64_t ts_may[2] = { 1780272000000, 1780272900000 }; /* 2026-06-01 00:00Z */
	static int64_t v_may[2] = { 1, 2 };
	struct gw_series s;
	struct gw_batch b;

	(void)state;
	s = series("it-p1", ts_may, v_may, 2);
	expect1("NULL", "SELECT to_regclass($1)::text", "interval_readings_2026_06");
	init_batch(&b, "it-gw-p", "2026-06-01", 0, NULL, 0, &s, 1);
	assert_int_equal(upload_one(&b, 31), 1);
	expect1("interval_readings_2026_06", "SELECT to_regclass($1)::text",
		"interval_readings_2026_06");
	expect1("2", "SELECT count(*) FROM interval_readings_2026_06 WHERE meter_id = $1",
		"it-p1");
}

/* A local day of Asia/Ho_Chi_Minh (UTC+7) starts in the UTC month before:
 * its readings go to two month partitions, each by its own COPY. */
static void test_day_across_two_months(void **state)
{
	/* 2026-02-28 17:00Z, 23:45Z, 2026-03-01 00:00Z, 16:45Z */
	static int64_t ts[4] = { 1772298000000, 1772322300000, 1772323200000,
				 1772383500000 };
	static int64_t v[4] = { 10, 20, 30, 40 };
	struct gw_series s;
	struct gw_batch b;

	(void)state;
	s = series("it-2m", ts, v, 4);
	init_batch(&b, "it-gw-2m", "2026-03-01", 0, NULL, 0, &s, 1);
	assert_int_equal(upload_one(&b, 41), 1);
	expect1("30", "SELECT sum(value) FROM interval_readings_2026_02 WHERE meter_id = $1",
		"it-2m");
	expect1("70", "SELECT sum(value) FROM interval_readings_2026_03 WHERE meter_id = $1",
		"it-2m");
	expect1("4", "SELECT interval_rows FROM batch_ledger WHERE gateway_id = $1",
		"it-gw-2m");
}

/* A first revision some of whose readings are stored already (the meter
 * moved to another gateway, which read its load profile again): the
 * stored readings stay, the new ones are added, the batch is applied
 * once. */
static void test_first_revision_meets_stored_readings(void **state)
{
	/* 2026-03-07 00:00Z, 00:15Z, 00:30Z, 00:45Z and 01:00Z, 01:15Z */
	static int64_t t1[4] = { 1772841600000, 1772842500000, 1772843400000,
				 1772844300000 };
	static int64_t t2[4] = { 1772843400000, 1772844300000, 1772845200000,
				 1772846100000 };
	static int64_t v1[4] = { 100, 200, 300, 400 };
	static int64_t v2[4] = { 9300, 9400, 500, 600 };
	struct gw_series s1, s2;
	struct gw_batch b1, b2;

	(void)state;
	/* The same gateway's next day reads the load profile again (its first
	 * revision meets stored readings: the stored ones are kept). */
	s1 = series("it-mv1", t1, v1, 4);
	s2 = series("it-mv1", t2, v2, 4);
	init_batch(&b1, "it-gw-s1", "2026-03-07", 0, NULL, 0, &s1, 1);
	init_batch(&b2, "it-gw-s1", "2026-03-08", 0, NULL, 0, &s2, 1);
	assert_int_equal(upload_one(&b1, 51), 1);
	assert_int_equal(upload_one(&b2, 52), 1);
	expect1("100,200,300,400,500,600", "SELECT string_agg(value::text, ',' "
		"ORDER BY ts) FROM interval_readings WHERE meter_id = $1", "it-mv1");
	expect1("2", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1",
		"it-gw-s1");
	assert_int_equal(upload_one(&b2, 52), 0);
	expect1("6", "SELECT count(*) FROM interval_readings WHERE meter_id = $1",
		"it-mv1");
}

/* A meter reported by a gateway it is not assigned to: the batch loads,
 * the meter's data is held (not refused, so later days do not wait) and
 * named to the gateway; once an operator assigns the meter, the held data
 * joins the history, keeping readings already stored. */
static void test_moved_meter_held_until_assigned(void **state)
{
	static int64_t t1[4] = { 1772841600000, 1772842500000, 1772843400000,
				 1772844300000 };
	static int64_t t2[4] = { 1772843400000, 1772844300000, 1772845200000,
				 1772846100000 };
	static int64_t v1[4] = { 100, 200, 300, 400 };
	static int64_t v2[4] = { 9300, 9400, 500, 600 };
	struct gw_series s1, s2, s3;
	struct gw_batch b1, b2;
	struct gw_uploader *u;

	(void)state;
	s1 = series("it-mv2", t1, v1, 4);
	s2 = series("it-mv2", t2, v2, 4);
	s3 = series("it-mv3", t2, v2, 4);
	struct gw_series both[2] = { s2, s3 };
	init_batch(&b1, "it-gw-m1", "2026-03-07", 0, NULL, 0, &s1, 1);
	init_batch(&b2, "it-gw-m2", "2026-03-07", 0, NULL, 0, both, 2);
	assert_int_equal(upload_one(&b1, 71), 1);
	u = gw_uploader_new(loader);
	assert_non_null(u);
	assert_int_equal(gw_upload_batch(u, &b2, 72), 1);
	assert_string_equal(gw_uploader_unassigned(u), "it-mv2");
	gw_uploader_free(u);
	expect1("100,200,300,400", "SELECT string_agg(value::text, ',' "
		"ORDER BY ts) FROM interval_readings WHERE meter_id = $1", "it-mv2");
	expect1("4", "SELECT count(*) FROM interval_readings WHERE meter_id = $1",
		"it-mv3");
	expect1("it-gw-m2 2026-03-07 4", "SELECT c.gateway_id || ' ' || c.first_day || ' ' "
		"|| (SELECT count(*) FROM held_interval_readings h WHERE h.meter_id = c.meter_id) "
		"FROM meter_claims c WHERE c.meter_id = $1", "it-mv2");
	expect1("it-gw-m1", "SELECT gateway_id FROM meters WHERE meter_id = $1", "it-mv2");
	/* The operator moves the meter from that day on. */
	expect1("2", "SELECT gw_assign_meter($1, 'it-gw-m2', '2026-03-07')", "it-mv2");
	expect1("100,200,300,400,500,600", "SELECT string_agg(value::text, ',' "
		"ORDER BY ts) FROM interval_readings WHERE meter_id = $1", "it-mv2");
	expect1("it-gw-m2/0/0", "SELECT (SELECT gateway_id FROM meters WHERE meter_id = $1) "
		"|| '/' || (SELECT count(*) FROM held_interval_readings WHERE meter_id = $1) "
		"|| '/' || (SELECT count(*) FROM meter_claims WHERE meter_id = $1)", "it-mv2");
	expect1("it-gw-m1:-infinity:2026-03-07,it-gw-m2:2026-03-07:", "SELECT string_agg("
		"gateway_id || ':' || valid_from || ':' || coalesce(valid_to::text, ''), ',' "
		"ORDER BY valid_from) FROM meter_gateways WHERE meter_id = $1", "it-mv2");
	/* Loading the batch again changes nothing. */
	assert_int_equal(upload_one(&b2, 72), 0);
	expect1("6", "SELECT count(*) FROM interval_readings WHERE meter_id = $1",
		"it-mv2");
}

/* Saves an environment variable and unsets it; restore_env puts it back. */
struct saved_env {
	const char *name;
	char *value;
};

static void save_env(struct saved_env *e, const char *name)
{
	const char *v = getenv(name);

	e->name = name;
	e->value = v ? strdup(v) : NULL;
	unsetenv(name);
}

static void restore_env(struct saved_env *e)
{
	if (e->value)
		setenv(e->name, e->value, 1);
	else
		unsetenv(e->name);
	free(e->value);
}

/* What the uploader makes of a connection string's TLS: a TCP connection
 * without sslmode is verify-full (and needs a CA file), a weaker sslmode
 * must be written and is warned about, Unix sockets need nothing. */
static void test_tls_check(void **state)
{
	struct saved_env env[6];
	static const char *const names[6] = { "HOME", "PGHOST", "PGHOSTADDR",
					       "PGSSLMODE", "PGSSLROOTCERT", "PGSERVICE" };
	char msg[512], ca[GW_PATH_MAX], home[GW_PATH_MAX], ci[GW_PATH_MAX + 64];
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	FILE *f;

	(void)state;
	for (int i = 0; i < 6; i++)
		save_env(&env[i], names[i]);
	snprintf(home, sizeof(home), "%s/it_upload_home_%d", tmp, (int)getpid());
	snprintf(ca, sizeof(ca), "%s/it_upload_ca_%d.crt", tmp, (int)getpid());
	setenv("HOME", home, 1);
	f = fopen(ca, "w");
	assert_non_null(f);
	fputs("not checked here\n", f);
	fclose(f);

	assert_int_equal(gw_db_tls_check("host=/run/postgresql dbname=meters", msg, sizeof(msg)), GW_TLS_OK);
	assert_int_equal(gw_db_tls_check("dbname=meters", msg, sizeof(msg)), GW_TLS_OK);
	assert_int_equal(gw_db_tls_check("host=db1 sslmode=verify-full", msg, sizeof(msg)), GW_TLS_OK);
	assert_int_equal(gw_db_tls_check("host=db1 dbname=meters", msg, sizeof(msg)), GW_TLS_REFUSE);
	assert_non_null(strstr(msg, "TCP connection without sslmode: verify-full is the default"));
	assert_int_equal(gw_db_tls_check("host=/tmp,db2 dbname=meters", msg, sizeof(msg)), GW_TLS_REFUSE);
	assert_int_equal(gw_db_tls_check("hostaddr=10.0.0.1 dbname=meters", msg, sizeof(msg)), GW_TLS_REFUSE);
	snprintf(ci, sizeof(ci), "host=db1 sslrootcert=%s", ca);
	assert_int_equal(gw_db_tls_check(ci, msg, sizeof(msg)), GW_TLS_DEFAULT);
	setenv("PGSSLROOTCERT", ca, 1);
	assert_int_equal(gw_db_tls_check("host=db1", msg, sizeof(msg)), GW_TLS_DEFAULT);
	assert_int_equal(gw_db_tls_check("postgresql://db1/meters", msg, sizeof(msg)), GW_TLS_DEFAULT);
	assert_int_equal(gw_db_tls_check("host=db1 sslmode=prefer", msg, sizeof(msg)), GW_TLS_WEAK);
	assert_string_equal(msg, "sslmode=prefer: the database server's identity is not "
			    "verified; use sslmode=verify-full");
	assert_int_equal(gw_db_tls_check("host=db1 sslmode=verify-ca", msg, sizeof(msg)), GW_TLS_WEAK);
	assert_non_null(strstr(msg, "its name is not checked"));
	setenv("PGSSLMODE", "disable", 1);
	assert_int_equal(gw_db_tls_check("host=db1", msg, sizeof(msg)), GW_TLS_WEAK);
	setenv("PGHOST", "db9", 1);
	assert_int_equal(gw_db_tls_check("dbname=meters", msg, sizeof(msg)), GW_TLS_WEAK);
	assert_int_equal(gw_db_tls_check("host=/tmp", msg, sizeof(msg)), GW_TLS_OK);
	unlink(ca);
	for (int i = 0; i < 6; i++)
		restore_env(&env[i]);
}

/* Readings weeks away from the batch's day (a meter clock gone wrong) are
 * refused for good, and no partition is made for their month. */
static void test_readings_far_from_their_day(void **state)
{
	/* 2026-01-20 00:00Z: 40 days before the batch's day */
	static int64_t ts[2] = { 1768867200000, 1772323200000 };
	static int64_t v[2] = { 1, 2 };
	struct gw_series s;
	struct gw_batch b;

	(void)state;
	s = series("it-far1", ts, v, 2);
	init_batch(&b, "it-gw-far", "2026-03-01", 0, NULL, 0, &s, 1);
	expect1("NULL", "SELECT to_regclass($1)::text", "interval_readings_2026_01");
	assert_int_equal(upload_one(&b, 61), GW_EREFUSED);
	expect1("NULL", "SELECT to_regclass($1)::text", "interval_readings_2026_01");
	expect1("0", "SELECT count(*) FROM batch_ledger WHERE gateway_id = $1",
		"it-gw-far");
}

/* A meter the gateway saw replaced (a meter_replaced event, "serial OLD ->
 * NEW"): the serial number history follows, once however often the day is
 * loaded again. */
static void test_meter_replaced_serial_history(void **state)
{
	struct gw_day_register d[1];
	struct gw_event ev[1];
	struct gw_batch b;

	(void)state;
	d[0] = reg("it-rp1", "1.8.0", GW_Q_ESTIMATED, 900000, 12345);
	d[0].consumption = 1425;
	memset(ev, 0, sizeof(ev));
	gw_strlcpy(ev[0].meter_id, "it-rp1", sizeof(ev[0].meter_id));
	ev[0].ts_ms = 1773118800000; /* 2026-03-10 05:00Z, noon local */
	ev[0].kind = GW_EV_METER_REPLACED;
	gw_strlcpy(ev[0].detail, "serial A1 -> B2", sizeof(ev[0].detail));
	init_batch(&b, "it-gw-rp", "2026-03-10", 0, d, 1, NULL, 0);
	b.events = ev;
	b.n_events = 1;
	assert_int_equal(upload_one(&b, 71), 1);
	b.revision = 1; /* the day sealed again carries the event again */
	assert_int_equal(upload_one(&b, 72), 1);
	const char *hist = "SELECT string_agg(concat_ws('|', valid_from, valid_to, "
			   "serial_number), ',' ORDER BY valid_from) FROM meter_serials "
			   "WHERE meter_id = $1";
	expect1("-infinity|2026-03-10|A1,2026-03-10|B2", hist, "it-rp1");
	expect1("B2", "SELECT serial_number FROM meters WHERE meter_id = $1", "it-rp1");
	/* replaced again five days later */
	ev[0].ts_ms += 5 * 86400000LL;
	gw_strlcpy(ev[0].detail, "serial B2 -> C3", sizeof(ev[0].detail));
	init_batch(&b, "it-gw-rp", "2026-03-15", 0, d, 1, NULL, 0);
	b.events = ev;
	b.n_events = 1;
	assert_int_equal(upload_one(&b, 73), 1);
	expect1("-infinity|2026-03-10|A1,2026-03-10|2026-03-15|B2,2026-03-15|C3", hist,
		"it-rp1");
	expect1("C3", "SELECT serial_number FROM meters WHERE meter_id = $1", "it-rp1");
}

static int setup(void **state)
{
	PGresult *res;

	(void)state;
	db = PQconnectdb(conninfo);
	if (PQstatus(db) != CONNECTION_OK) {
		print_error("cannot connect to %s: %s", conninfo,
			    PQerrorMessage(db));
		return -1;
	}
	res = PQexec(db, "SET TimeZone = 'UTC'");
	PQclear(res);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	PQfinish(db);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_rows_land_exactly),
		cmocka_unit_test(test_same_batch_twice_applies_once),
		cmocka_unit_test(test_later_revision_replaces_day),
		cmocka_unit_test(test_daily_usage_view),
		cmocka_unit_test(test_refused_batch_is_all_or_nothing),
		cmocka_unit_test(test_copy_escaping),
		cmocka_unit_test(test_unreachable_database),
		cmocka_unit_test(test_lost_connection_reconnects),
		cmocka_unit_test(test_large_batch),
		cmocka_unit_test(test_upload_spool),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_partition_on_demand),
		cmocka_unit_test(test_day_across_two_months),
		cmocka_unit_test(test_first_revision_meets_stored_readings),
		cmocka_unit_test(test_moved_meter_held_until_assigned),
		cmocka_unit_test(test_tls_check),
		cmocka_unit_test(test_readings_far_from_their_day),
		cmocka_unit_test(test_meter_replaced_serial_history),
	};

	conninfo = getenv("GW_PG_CONNINFO");
	loader = getenv("GW_IT_LOADER_CONNINFO");
	if (!conninfo || !*conninfo || !loader || !*loader) {
		printf("not ok - it_upload: GW_PG_CONNINFO or GW_IT_LOADER_CONNINFO "
		       "is not set (run tests/integration/upload.sh)\n");
		return 1;
	}
	gw_log_set_level(GW_LOG_WARN);
	return cmocka_run_group_tests_name("it_upload", tests, setup, teardown);
}
