/* SPDX-License-Identifier: MIT */
/*
 * render.c - the JSON and CSV forms of the portal's answers (api.h).
 *
 * Energy leaves the database as integer Wh and is written as kWh with
 * three decimals by integer arithmetic (gw_wh_to_kwh): 12345 Wh is
 * "12.345", never a binary floating-point neighbour of it. A register a
 * meter does not have is null in JSON and an empty field in CSV.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "gw.h"

/* A column of the answer: its name and how its text is written. */
enum col_kind { COL_TEXT, COL_INT, COL_WH, COL_JSON };

struct col {
	const char *name;
	enum col_kind kind;
};

static const struct col daily_cols[] = {
	{ "day", COL_TEXT }, { "meter", COL_TEXT }, { "import_kwh", COL_WH },
	{ "export_kwh", COL_WH }, { "quality", COL_TEXT }, { "minutes_missing", COL_INT },
};
static const struct col monthly_cols[] = {
	{ "month", COL_TEXT }, { "meter", COL_TEXT }, { "days", COL_INT },
	{ "import_kwh", COL_WH }, { "export_kwh", COL_WH }, { "days_not_measured", COL_INT },
	{ "minutes_missing", COL_INT }, { "quality", COL_TEXT },
};

/* The text of an integer value, checked: an optional '-' and 1 to 19
 * digits, within int64 (PostgreSQL's text of a bigint, nothing else). */
static int integer_text(const char *s, int64_t *out)
{
	const char *p = s + (*s == '-');
	uint64_t v = 0, max = *s == '-' ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
	int n;

	for (n = 0; p[n] >= '0' && p[n] <= '9'; n++) {
		if (v > (max - (uint64_t)(p[n] - '0')) / 10)
			return GW_EDB;
		v = v * 10 + (uint64_t)(p[n] - '0');
	}
	if (n == 0 || p[n])
		return GW_EDB;
	*out = *s == '-' ? (int64_t)((uint64_t)0 - v) : (int64_t)v;
	return 0;
}

/* One value: out gets its JSON or CSV text (NULL: "null" / empty). */
static int value(const PGresult *r, int row, int i, const struct col *c, int csv,
		 struct gw_buf *b)
{
	const char *v = PQgetvalue(r, row, i);
	int64_t n;

	if (PQgetisnull(r, row, i))
		return csv ? 0 : gw_buf_add(b, "null", 4);
	if (c->kind == COL_TEXT || (c->kind == COL_JSON && csv))
		return csv ? gw_csv_field(b, v) : gw_json_string(b, v);
	if (c->kind == COL_JSON) /* jsonb's own text: JSON already */
		return gw_buf_puts(b, v);
	if (integer_text(v, &n) < 0) {
		gw_err("portal: column %s: '%s' is not an integer", c->name, v);
		return GW_EDB;
	}
	return c->kind == COL_INT ? gw_buf_int(b, n) : gw_buf_kwh(b, n);
}

/* A column's key in a JSON object, '"name":'. */
#define KEY_MAX 40

static int rows(const PGresult *r, const struct col *cols, int ncols, int csv, struct gw_buf *b)
{
	char key[16][KEY_MAX];
	size_t klen[16];
	int row, i, n = PQntuples(r);

	if (ncols > 16)
		return GW_EDB;
	for (i = 0; i < ncols; i++) {
		klen[i] = (size_t)snprintf(key[i], KEY_MAX, "%s\"%s\":", i ? "," : "", cols[i].name);
		if (klen[i] >= KEY_MAX)
			return GW_EDB;
	}
	/* about the size of the rows (a daily row is about 120 bytes of
	 * JSON): the buffer grows once, not by doubling along */
	if ((size_t)n < (b->limit - b->len) / 256)
		gw_buf_reserve(b, (size_t)n * (csv ? 64 : 128));
	for (row = 0; row < n; row++) {
		if (!csv)
			gw_buf_add(b, row ? ",\n{" : "\n{", row ? 3 : 2);
		for (i = 0; i < ncols; i++) {
			if (csv && i)
				gw_buf_add(b, ",", 1);
			else if (!csv)
				gw_buf_add(b, key[i], klen[i]);
			if (value(r, row, i, &cols[i], csv, b) < 0)
				return GW_EDB;
		}
		gw_buf_add(b, csv ? "\r\n" : "}", csv ? 2 : 1);
	}
	return 0;
}

static const struct col outage_cols[] = {
	{ "start", COL_TEXT }, { "end", COL_TEXT }, { "minutes", COL_INT }, { "meter", COL_TEXT },
};
static const struct col notice_cols[] = {
	{ "id", COL_INT }, { "day", COL_TEXT }, { "kind", COL_TEXT }, { "created", COL_TEXT },
	{ "subject_vi", COL_TEXT }, { "body_vi", COL_TEXT }, { "subject_en", COL_TEXT },
	{ "body_en", COL_TEXT }, { "figures", COL_JSON },
};

int gw_api_render(enum gw_pdb_query q, int csv, const char *account, const char *from,
		  const char *to, const PGresult *r, struct gw_buf *b)
{
	static const char *const list[] = { [GW_PQ_DAILY] = "days", [GW_PQ_MONTHLY] = "months",
					    [GW_PQ_OUTAGES] = "outages" };
	const struct col *cols = q == GW_PQ_DAILY ? daily_cols : q == GW_PQ_MONTHLY ? monthly_cols : outage_cols;
	int ncols = q == GW_PQ_DAILY ? (int)(sizeof(daily_cols) / sizeof(daily_cols[0]))
		  : q == GW_PQ_MONTHLY ? (int)(sizeof(monthly_cols) / sizeof(monthly_cols[0]))
				       : (int)(sizeof(outage_cols) / sizeof(outage_cols[0]));
	int i;

	if (q == GW_PQ_NOTICES) {
		cols = notice_cols;
		ncols = (int)(sizeof(notice_cols) / sizeof(notice_cols[0]));
	}
	if (PQnfields(r) != ncols) {
		gw_err("portal: the query gave %d columns, %d expected", PQnfields(r), ncols);
		return GW_EDB;
	}
	if (csv) {
		for (i = 0; i < ncols; i++)
			gw_buf_printf(b, "%s%s", i ? "," : "", cols[i].name);
		gw_buf_puts(b, "\r\n");
	} else if (q == GW_PQ_NOTICES) {
		gw_buf_puts(b, "{\"account\":");
		gw_json_string(b, account);
		gw_buf_puts(b, ",\"notices\":[");
	} else {
		gw_buf_puts(b, "{\"account\":");
		gw_json_string(b, account);
		gw_buf_puts(b, ",\"from\":");
		gw_json_string(b, from);
		gw_buf_puts(b, ",\"to\":");
		gw_json_string(b, to);
		if (q != GW_PQ_OUTAGES)
			gw_buf_puts(b, ",\"unit\":\"kWh\"");
		gw_buf_printf(b, ",\"%s\":[", list[q]);
	}
	if (rows(r, cols, ncols, csv, b) < 0)
		return GW_EDB;
	if (!csv)
		gw_buf_puts(b, "\n]}\n");
	return b->failed ? GW_ENOMEM : 0;
}
