/* SPDX-License-Identifier: MIT */
/*
 * render.c - the JSON and CSV forms of the portal's answers (api.h).
 *
 * Energy leaves the database as integer Wh and is written as kWh with
 * three decimals by integer arithmetic (gw_wh_to_kwh): 12345 Wh is
 * "12.345", never a binary floating-point neighbour of it. A register a
 * meter does not have is null in JSON and an empty field in CSV.
 */
#include <errno.h>
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

/* The text of an integer value, checked (at most 19 digits, a sign). */
static int integer_text(const char *s, int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end)
		return GW_EDB;
	*out = v;
	return 0;
}

/* One value: out gets its JSON or CSV text (NULL: "null" / empty). */
static int value(const PGresult *r, int row, int i, const struct col *c, int csv,
		 struct gw_buf *b)
{
	const char *v = PQgetvalue(r, row, i);
	char kwh[GW_KWH_MAX];
	int64_t n;

	if (PQgetisnull(r, row, i))
		return csv ? 0 : gw_buf_puts(b, "null");
	if (c->kind == COL_TEXT || (c->kind == COL_JSON && csv))
		return csv ? gw_csv_field(b, v) : gw_json_string(b, v);
	if (c->kind == COL_JSON) /* jsonb's own text: JSON already */
		return gw_buf_puts(b, v);
	if (integer_text(v, &n) < 0) {
		gw_err("portal: column %s: '%s' is not an integer", c->name, v);
		return GW_EDB;
	}
	if (c->kind == COL_INT)
		return gw_buf_printf(b, "%lld", (long long)n);
	gw_wh_to_kwh(n, kwh, sizeof(kwh));
	return gw_buf_puts(b, kwh);
}

static int rows(const PGresult *r, const struct col *cols, int ncols, int csv, struct gw_buf *b)
{
	int row, i;

	for (row = 0; row < PQntuples(r); row++) {
		if (!csv)
			gw_buf_puts(b, row ? ",\n{" : "\n{");
		for (i = 0; i < ncols; i++) {
			if (i)
				gw_buf_puts(b, ",");
			if (!csv) {
				gw_json_string(b, cols[i].name);
				gw_buf_puts(b, ":");
			}
			if (value(r, row, i, &cols[i], csv, b) < 0)
				return GW_EDB;
		}
		gw_buf_puts(b, csv ? "\r\n" : "}");
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
