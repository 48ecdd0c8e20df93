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

#endif
