/* SPDX-License-Identifier: MIT */
/*
 * db.h - portald's database side: a fixed pool of libpq connections, and
 * the two queries, each run in a transaction of its own whose customer
 * account is set with set_config('gw.customer_account', ..., true) (SET
 * LOCAL), so that row-level security (schema 003, 007) decides what the
 * query can see whatever its WHERE says.
 *
 * Contract: a query's rows are those of meter_days that the session
 * account's row-level security lets through AND that the WHERE account
 * names; portald always passes the same account for both. A query never
 * writes (READ ONLY transaction) and ends within query_timeout_ms
 * (statement_timeout, SET LOCAL).
 */
#ifndef GW_PORTAL_DB_H
#define GW_PORTAL_DB_H

#include <libpq-fe.h>

struct gw_pdb;

enum gw_pdb_query {
	/* day, meter_id, import_wh, export_wh, quality, minutes_missing;
	 * days from..to (both YYYY-MM-DD, inclusive) */
	GW_PQ_DAILY,
	/* month (YYYY-MM), meter_id, days, import_wh, export_wh,
	 * days_not_measured, minutes_missing, quality; days from (a first of
	 * a month) to before `to` (the first of the month after the last) */
	GW_PQ_MONTHLY,
	/* start, end (UTC, ISO 8601; end NULL while the meter has not
	 * answered again), minutes, meter_id: the power_outage events of the
	 * account's meters from the UTC day `from` to the UTC day `to`
	 * (inclusive), each ended by the meter's next online event */
	GW_PQ_OUTAGES,
	/* the month-to-date bill (gw_bill_estimate, gw_bill_lines; schema
	 * 010): one row per line (price list in force, tier), the bill's
	 * totals on each; `from` the day through (YYYY-MM-DD) or "" for
	 * yesterday in the zone `to` (an IANA name; a later day is taken as
	 * yesterday). No row: no bill */
	GW_PQ_BILL,
	/* the customer page (page.c), run with gw_pdb_run; $1 the account,
	 * $2 the portal's time zone, $3 a number. Days: day, import_wh (sum
	 * of the account's meters; NULL: no data), quality (the worst; NULL),
	 * in_last ($3 days to today: t/f), in_month (this month: t/f); every
	 * local day from the earlier of today - $3 + 1 and the first of the
	 * month to today, in order. */
	GW_PQ_PAGE_DAYS,
	/* start, end (local "YYYY-MM-DD HH:MI"; end NULL: not restored),
	 * minutes: the account's latest $3 power outages of the last year
	 * (one row per start, however many of its meters saw it) */
	GW_PQ_PAGE_OUTAGES,
	/* period_start, period_end, through, import_wh, amount, vat, total,
	 * currency, tariff, days_estimated, days_missing: the account's
	 * month-to-date bill (gw_bill_estimate, schema 010) through
	 * yesterday in the zone $2, or today on the first of a month; no
	 * row: no bill */
	GW_PQ_PAGE_BILL,
	/* notice_id, day, kind, created (UTC, ISO 8601), subject_vi, body_vi,
	 * subject_en, body_en, figures (jsonb text): the account's latest
	 * customer_notices (011), newest first; `from` is the limit (1-100),
	 * `to` NULL or a notice id (only older notices) */
	GW_PQ_NOTICES,
};

/* A pool of n connections to conninfo (made when first needed). NULL
 * when out of memory. Free with gw_pdb_free (closes them). */
struct gw_pdb *gw_pdb_new(const char *conninfo, unsigned n, unsigned query_timeout_ms);
void gw_pdb_free(struct gw_pdb *db);

/* Connects once and checks that the login role may serve the portal and
 * nothing more: not a superuser, not BYPASSRLS, a member of
 * customer_portal, and a member of none of gw_owner, analyst,
 * gw_operator, gw_uploader, gw_loader_any. Returns 0, GW_ECONN (cannot
 * connect) or GW_ECONFIG (the role is wrong); says why on the log. */
int gw_pdb_check_role(struct gw_pdb *db);

/* Runs query `q` for where_account under session_account. On success
 * returns 0 and *out (free with PQclear). Returns GW_ECONN (no
 * connection, or none free within the timeout) or GW_EDB (the query
 * failed: logged here). */
int gw_pdb_query(struct gw_pdb *db, enum gw_pdb_query q, const char *session_account,
		 const char *where_account, const char *from, const char *to, PGresult **out);

/* One statement of gw_pdb_run: a query of the enum and its arguments. */
struct gw_pdb_stmt {
	enum gw_pdb_query q;
	int nargs;
	const char *args[4];
	PGresult *result; /* set by gw_pdb_run on success: free with PQclear */
	int optional;     /* run under a savepoint: if it fails, result stays
			   * NULL (logged) and the others are kept */
};

/* Runs n statements in one READ ONLY transaction (one snapshot) whose
 * session account is session_account, with the same bounds as
 * gw_pdb_query. Returns 0 (every s[i].result set), GW_ECONN or GW_EDB
 * (no result kept; logged). */
int gw_pdb_run(struct gw_pdb *db, const char *session_account, struct gw_pdb_stmt *s, size_t n);

/* The health check: SELECT 1 on a connection of the pool, waiting at most
 * timeout_ms in all (for a free connection, to connect, for the answer;
 * a query that did not answer in time is cancelled and its connection
 * made anew next time). Returns 0, GW_ECONN or GW_ETIMEDOUT. */
int gw_pdb_ping(struct gw_pdb *db, unsigned timeout_ms);

#endif
