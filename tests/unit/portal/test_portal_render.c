/* SPDX-License-Identifier: MIT */
/*
 * test_portal_render.c - the daily and monthly answers' JSON and CSV
 * (render.c) and the number and string writers under them (json.c):
 * integers and exact kWh written without printf, JSON strings copied in
 * runs between the characters that need escaping, CSV fields with
 * several quotes, and values from the database that are not integers
 * refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api.h"
#include "json.h"

/* A result as libpq gives the daily query's (db.c, GW_PQ_DAILY): text
 * columns, NULL where a value is NULL. */
#define DAILY_COLS 6
static PGresult *text_result(const char *const *cells, int ncols, int nrows)
{
	PGresAttDesc att[16];
	PGresult *r = PQmakeEmptyPGresult(NULL, PGRES_TUPLES_OK);
	int i, j;

	assert_non_null(r);
	assert_true(ncols <= 16);
	memset(att, 0, sizeof(att));
	for (i = 0; i < ncols; i++) {
		att[i].name = (char *)"c";
		att[i].typid = 25; /* text */
		att[i].typlen = -1;
		att[i].atttypmod = -1;
	}
	assert_true(PQsetResultAttrs(r, ncols, att));
	for (i = 0; i < nrows; i++)
		for (j = 0; j < ncols; j++) {
			const char *v = cells[i * ncols + j];
			assert_true(PQsetvalue(r, i, j, (char *)v, v ? (int)strlen(v) : -1));
		}
	return r;
}

static const char *const daily_rows[3 * DAILY_COLS] = {
	"2025-01-01", "M-0000001", "4012", NULL, "measured", "0",
	"2025-01-01", "M-00\"<2>", "-9223372036854775808", "9223372036854775807", "estimated", "45",
	"2025-01-02", "M-0000001", "7", "0", "interpolated", "-3",
};

static void daily_render(void **state)
{
	PGresult *r = text_result(daily_rows, DAILY_COLS, 3);
	struct gw_buf b;

	(void)state;
	gw_buf_init(&b, 0);
	assert_int_equal(gw_api_render(GW_PQ_DAILY, 0, "C-1", "2025-01-01", "2025-01-02", r, &b), 0);
	assert_string_equal(b.data,
		"{\"account\":\"C-1\",\"from\":\"2025-01-01\",\"to\":\"2025-01-02\",\"unit\":\"kWh\",\"days\":[\n"
		"{\"day\":\"2025-01-01\",\"meter\":\"M-0000001\",\"import_kwh\":4.012,\"export_kwh\":null,"
		"\"quality\":\"measured\",\"minutes_missing\":0},\n"
		"{\"day\":\"2025-01-01\",\"meter\":\"M-00\\\"\\u003c2\\u003e\","
		"\"import_kwh\":-9223372036854775.808,\"export_kwh\":9223372036854775.807,"
		"\"quality\":\"estimated\",\"minutes_missing\":45},\n"
		"{\"day\":\"2025-01-02\",\"meter\":\"M-0000001\",\"import_kwh\":0.007,\"export_kwh\":0.000,"
		"\"quality\":\"interpolated\",\"minutes_missing\":-3}\n]}\n");
	gw_buf_free(&b);
	assert_int_equal(gw_api_render(GW_PQ_DAILY, 1, "C-1", "2025-01-01", "2025-01-02", r, &b), 0);
	assert_string_equal(b.data,
		"day,meter,import_kwh,export_kwh,quality,minutes_missing\r\n"
		"2025-01-01,M-0000001,4.012,,measured,0\r\n"
		"2025-01-01,\"M-00\"\"<2>\",-9223372036854775.808,9223372036854775.807,estimated,45\r\n"
		"2025-01-02,M-0000001,0.007,0.000,interpolated,-3\r\n");
	gw_buf_free(&b);
	PQclear(r);
}

/* Values that are not a bigint's text: refused, in JSON and CSV. */
static void daily_render_refuses(void **state)
{
	static const char *const bad[] = {
		"", "-", "+5", " 5", "5 ", "1e3", "4.5", "0x10", "9223372036854775808",
		"-9223372036854775809", "99999999999999999999",
	};
	const char *cells[DAILY_COLS];
	struct gw_buf b;
	PGresult *r;
	size_t i;
	int csv, col;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		for (col = 2; col < DAILY_COLS; col += 3) /* import_wh, minutes_missing */
			for (csv = 0; csv < 2; csv++) {
				memcpy(cells, daily_rows, sizeof(cells));
				cells[col] = bad[i];
				r = text_result(cells, DAILY_COLS, 1);
				gw_buf_init(&b, 0);
				assert_int_equal(gw_api_render(GW_PQ_DAILY, csv, "C-1", "2025-01-01",
							       "2025-01-01", r, &b), GW_EDB);
				gw_buf_free(&b);
				PQclear(r);
			}
	/* another number of columns */
	r = text_result(daily_rows, DAILY_COLS - 1, 1);
	gw_buf_init(&b, 0);
	assert_int_equal(gw_api_render(GW_PQ_DAILY, 0, "C-1", "2025-01-01", "2025-01-01", r, &b), GW_EDB);
	gw_buf_free(&b);
	PQclear(r);
}

/* Rows render within a buffer limit exactly when they fit: the room
 * taken ahead for the rows (more than these short rows need) never fails
 * a buffer that the rows themselves fit. */
static void daily_render_limit(void **state)
{
	static const char *const short_row[DAILY_COLS] = { "d", "m", NULL, NULL, "q", "0" };
	const char *cells[200 * DAILY_COLS];
	struct gw_buf b;
	PGresult *r;
	size_t len;
	int i;

	(void)state;
	for (i = 0; i < 200; i++)
		memcpy(cells + i * DAILY_COLS, short_row, sizeof(short_row));
	r = text_result(cells, DAILY_COLS, 200);
	gw_buf_init(&b, 0);
	assert_int_equal(gw_api_render(GW_PQ_DAILY, 1, "C-1", "2025-01-01", "2025-01-01", r, &b), 0);
	len = b.len;
	gw_buf_free(&b);
	gw_buf_init(&b, len);
	assert_int_equal(gw_api_render(GW_PQ_DAILY, 1, "C-1", "2025-01-01", "2025-01-01", r, &b), 0);
	assert_int_equal(b.len, len);
	gw_buf_free(&b);
	gw_buf_init(&b, len - 1);
	assert_int_not_equal(gw_api_render(GW_PQ_DAILY, 1, "C-1", "2025-01-01", "2025-01-01", r, &b), 0);
	gw_buf_free(&b);
	PQclear(r);
}

static void numbers(void **state)
{
	char s[GW_KWH_MAX];
	struct gw_buf b;

	(void)state;
	gw_buf_init(&b, 0);
	gw_buf_int(&b, 0);
	gw_buf_add(&b, " ", 1);
	gw_buf_int(&b, -1);
	gw_buf_add(&b, " ", 1);
	gw_buf_int(&b, 1234567890123LL);
	gw_buf_add(&b, " ", 1);
	gw_buf_int(&b, INT64_MAX);
	gw_buf_add(&b, " ", 1);
	gw_buf_int(&b, INT64_MIN);
	assert_string_equal(b.data, "0 -1 1234567890123 9223372036854775807 -9223372036854775808");
	gw_buf_free(&b);
	gw_buf_kwh(&b, 0);
	gw_buf_add(&b, " ", 1);
	gw_buf_kwh(&b, -999);
	gw_buf_add(&b, " ", 1);
	gw_buf_kwh(&b, 1000);
	gw_buf_add(&b, " ", 1);
	gw_buf_kwh(&b, 10010);
	gw_buf_add(&b, " ", 1);
	gw_buf_kwh(&b, INT64_MIN);
	assert_string_equal(b.data, "0.000 -0.999 1.000 10.010 -9223372036854775.808");
	gw_buf_free(&b);
	/* gw_wh_to_kwh cut short as snprintf is: the full length returned */
	assert_int_equal(gw_wh_to_kwh(-12345, s, 4), 7);
	assert_string_equal(s, "-12");
	assert_int_equal(gw_wh_to_kwh(-12345, s, sizeof(s)), 7);
	assert_string_equal(s, "-12.345");
}

static char *json_of(const char *s)
{
	static struct gw_buf b;

	gw_buf_free(&b);
	gw_json_string(&b, s);
	return b.data;
}

/* Escapes between runs of plain characters, at the start and the end. */
static void json_runs(void **state)
{
	(void)state;
	assert_string_equal(json_of("\"abc"), "\"\\\"abc\"");
	assert_string_equal(json_of("abc\\"), "\"abc\\\\\"");
	assert_string_equal(json_of("a<b>c&d"), "\"a\\u003cb\\u003ec\\u0026d\"");
	assert_string_equal(json_of("x\xc3\xa9y\xffz\n"), "\"x\xc3\xa9y\\ufffdz\\n\"");
	assert_string_equal(json_of("\xe2\x80\xa8tail"), "\"\\u2028tail\"");
	assert_string_equal(json_of(" !#~"), "\" !#~\"");
}

static void csv_quotes(void **state)
{
	struct gw_buf b;

	(void)state;
	gw_buf_init(&b, 0);
	gw_csv_field(&b, "\"\"");
	gw_buf_add(&b, "|", 1);
	gw_csv_field(&b, "a\"b\"c,");
	gw_buf_add(&b, "|", 1);
	gw_csv_field(&b, "end\"");
	assert_string_equal(b.data, "\"\"\"\"\"\"|\"a\"\"b\"\"c,\"|\"end\"\"\"");
	gw_buf_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(daily_render),
		cmocka_unit_test(daily_render_refuses),
		cmocka_unit_test(daily_render_limit),
		cmocka_unit_test(numbers),
		cmocka_unit_test(json_runs),
		cmocka_unit_test(csv_quotes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
