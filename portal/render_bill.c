/* SPDX-License-Identifier: MIT */
/*
 * render_bill.c - the JSON and CSV forms of the month-to-date bill
 * estimate (GW_PQ_BILL, api.h; docs/portal.md "The bill estimate").
 *
 * The query gives one row per line of the bill (price list in force and
 * tier), each carrying the bill's totals as well. JSON is one object: the
 * totals, then "periods", one per price list in force in the month, each
 * with its "tiers". CSV is one row per line, the totals repeated on each
 * (a flat table for a spreadsheet).
 *
 * Energy leaves the database as integer Wh and is written as exact kWh
 * (gw_wh_to_kwh); money and rates leave it as numeric text already
 * rounded as the tariff prescribes, and are written as they are after a
 * check that they are plain decimals (a JSON number, never a float).
 */
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "gw.h"

/* The query's columns (db.c, sql_text[GW_PQ_BILL]). */
enum {
	B_START, B_END, B_THROUGH, B_IMPORT_WH, B_AMOUNT, B_VAT, B_TOTAL, B_CURRENCY, B_TARIFF,
	B_DAYS_EST, B_DAYS_MISSING, B_VAT_RATE, B_DAYS_DATA, B_LIMITS,
	L_LIST, L_FROM, L_TO, L_TIER, L_FROM_WH, L_UPTO_WH, L_WH, L_PRICE, L_AMOUNT,
	B_NCOLS
};

enum kind { K_TEXT, K_INT, K_WH, K_DEC };

struct field {
	const char *name;
	int col;
	enum kind kind;
};

static const struct field bill_fields[] = {
	{ "period_start", B_START, K_TEXT },     { "period_end", B_END, K_TEXT },
	{ "through", B_THROUGH, K_TEXT },        { "tariff", B_TARIFF, K_TEXT },
	{ "currency", B_CURRENCY, K_TEXT },      { "tier_limits", B_LIMITS, K_TEXT },
	{ "import_kwh", B_IMPORT_WH, K_WH },     { "amount", B_AMOUNT, K_DEC },
	{ "vat_rate", B_VAT_RATE, K_DEC },       { "vat", B_VAT, K_DEC },
	{ "total", B_TOTAL, K_DEC },             { "days_estimated", B_DAYS_EST, K_INT },
	{ "days_missing", B_DAYS_MISSING, K_INT }, { "days_with_data", B_DAYS_DATA, K_INT },
};

static const struct field tier_fields[] = {
	{ "tier", L_TIER, K_INT },       { "from_kwh", L_FROM_WH, K_WH }, { "upto_kwh", L_UPTO_WH, K_WH },
	{ "kwh", L_WH, K_WH },           { "price", L_PRICE, K_DEC },     { "amount", L_AMOUNT, K_DEC },
};

/* The CSV columns: each line, then the bill's totals. */
static const struct field csv_fields[] = {
	{ "period_start", B_START, K_TEXT },  { "period_end", B_END, K_TEXT },
	{ "through", B_THROUGH, K_TEXT },     { "tariff", B_TARIFF, K_TEXT },
	{ "currency", B_CURRENCY, K_TEXT },   { "price_list", L_LIST, K_TEXT },
	{ "from", L_FROM, K_TEXT },           { "to", L_TO, K_TEXT },
	{ "tier", L_TIER, K_INT },            { "from_kwh", L_FROM_WH, K_WH },
	{ "upto_kwh", L_UPTO_WH, K_WH },      { "kwh", L_WH, K_WH },
	{ "price", L_PRICE, K_DEC },          { "amount", L_AMOUNT, K_DEC },
	{ "bill_import_kwh", B_IMPORT_WH, K_WH }, { "bill_amount", B_AMOUNT, K_DEC },
	{ "bill_vat_rate", B_VAT_RATE, K_DEC },   { "bill_vat", B_VAT, K_DEC },
	{ "bill_total", B_TOTAL, K_DEC },         { "days_estimated", B_DAYS_EST, K_INT },
	{ "days_missing", B_DAYS_MISSING, K_INT }, { "days_with_data", B_DAYS_DATA, K_INT },
	{ "tier_limits", B_LIMITS, K_TEXT },
};

#define NFIELDS(a) (sizeof(a) / sizeof((a)[0]))

/* A plain decimal: an optional '-', digits, at most one '.' followed by
 * digits. Integers (K_INT, K_WH) are plain decimals without the point. */
static int decimal_text(const char *s, int point_ok)
{
	int digits = 0, point = 0;

	if (*s == '-')
		s++;
	for (; *s; s++) {
		if (*s >= '0' && *s <= '9') {
			digits++;
		} else if (*s == '.' && point_ok && !point && digits) {
			point = 1;
			digits = 0;
		} else {
			return 0;
		}
	}
	return digits > 0;
}

/* One value of row `row` as JSON (csv 0) or a CSV field (csv 1). */
static int value(const PGresult *r, int row, const struct field *f, int csv, struct gw_buf *b)
{
	const char *v = PQgetvalue(r, row, f->col);
	char kwh[GW_KWH_MAX];

	if (PQgetisnull(r, row, f->col))
		return csv ? 0 : gw_buf_puts(b, "null");
	if (f->kind == K_TEXT)
		return csv ? gw_csv_field(b, v) : gw_json_string(b, v);
	if (!decimal_text(v, f->kind == K_DEC) || strlen(v) > 40) {
		gw_err("portal: bill column %s: '%s' is not a number", f->name, v);
		return GW_EDB;
	}
	if (f->kind != K_WH)
		return gw_buf_puts(b, v);
	gw_wh_to_kwh(strtoll(v, NULL, 10), kwh, sizeof(kwh));
	return gw_buf_puts(b, kwh);
}

/* "name":value,... of row `row` (JSON), or value,... (CSV). */
static int fields(const PGresult *r, int row, const struct field *fs, size_t n, int csv,
		  struct gw_buf *b)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (i)
			gw_buf_puts(b, ",");
		if (!csv) {
			gw_json_string(b, fs[i].name);
			gw_buf_puts(b, ":");
		}
		if (value(r, row, &fs[i], csv, b) < 0)
			return GW_EDB;
	}
	return 0;
}

static int bill_csv(const PGresult *r, struct gw_buf *b)
{
	size_t i;
	int row;

	for (i = 0; i < NFIELDS(csv_fields); i++)
		gw_buf_printf(b, "%s%s", i ? "," : "", csv_fields[i].name);
	gw_buf_puts(b, "\r\n");
	for (row = 0; row < PQntuples(r); row++) {
		if (fields(r, row, csv_fields, NFIELDS(csv_fields), 1, b) < 0)
			return GW_EDB;
		gw_buf_puts(b, "\r\n");
	}
	return 0;
}

/* One "periods" entry: the rows from *row on with the same price list. */
static int bill_period(const PGresult *r, int *row, struct gw_buf *b)
{
	const char *list = PQgetvalue(r, *row, L_LIST);
	int first = *row;

	gw_buf_puts(b, "{\"price_list\":");
	gw_json_string(b, list);
	gw_buf_puts(b, ",\"from\":");
	gw_json_string(b, PQgetvalue(r, *row, L_FROM));
	gw_buf_puts(b, ",\"to\":");
	gw_json_string(b, PQgetvalue(r, *row, L_TO));
	gw_buf_puts(b, ",\"tiers\":[");
	for (; *row < PQntuples(r) && strcmp(PQgetvalue(r, *row, L_LIST), list) == 0; (*row)++) {
		gw_buf_puts(b, *row > first ? ",\n{" : "\n{");
		if (fields(r, *row, tier_fields, NFIELDS(tier_fields), 0, b) < 0)
			return GW_EDB;
		gw_buf_puts(b, "}");
	}
	gw_buf_puts(b, "]}");
	return 0;
}

int gw_api_render_bill(int csv, const char *account, const PGresult *r, struct gw_buf *b)
{
	int row = 0;

	if (PQnfields(r) != B_NCOLS || PQntuples(r) < 1) {
		gw_err("portal: the bill query gave %d columns and %d rows, %d columns expected",
		       PQnfields(r), PQntuples(r), B_NCOLS);
		return GW_EDB;
	}
	if (csv) {
		if (bill_csv(r, b) < 0)
			return GW_EDB;
		return b->failed ? GW_ENOMEM : 0;
	}
	gw_buf_puts(b, "{\"account\":");
	gw_json_string(b, account);
	gw_buf_puts(b, ",");
	if (fields(r, 0, bill_fields, NFIELDS(bill_fields), 0, b) < 0)
		return GW_EDB;
	gw_buf_puts(b, ",\"periods\":[");
	while (row < PQntuples(r)) {
		if (row)
			gw_buf_puts(b, ",");
		if (bill_period(r, &row, b) < 0)
			return GW_EDB;
	}
	gw_buf_puts(b, "]}\n");
	return b->failed ? GW_ENOMEM : 0;
}
