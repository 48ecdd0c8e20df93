/* SPDX-License-Identifier: MIT */
/*
 * db.c - the connection pool and the portal's two queries; see db.h.
 *
 * The queries read meter_days (007) through meter_accounts, the account
 * history: a customer sees a meter's days from the day the account took
 * it over until the day it gave it up, which is also what the row-level
 * security policy of meter_days allows. Both are index ranges: the
 * account's meters by meter_accounts_account_idx, their days by the
 * primary key (meter_id, day) of meter_days.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db.h"
#include "gw.h"

static const char *const sql_text[] = {
	[GW_PQ_DAILY] =
		"SELECT d.day::text, d.meter_id, d.import_wh, d.export_wh, d.quality::text,"
		" d.minutes_missing"
		" FROM public.meter_accounts a"
		" JOIN public.meter_days d ON d.meter_id = a.meter_id"
		"  AND d.day >= a.valid_from AND (a.valid_to IS NULL OR d.day < a.valid_to)"
		" WHERE a.customer_account = $1 AND d.day >= $2::date AND d.day <= $3::date"
		" ORDER BY d.day, d.meter_id",
	[GW_PQ_MONTHLY] =
		"SELECT to_char(d.month, 'YYYY-MM'), d.meter_id, count(*), sum(d.import_wh),"
		" sum(d.export_wh), count(*) FILTER (WHERE d.quality <> 'measured'),"
		" sum(d.minutes_missing),"
		" (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])["
		"  max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],"
		"  d.quality::text))]"
		" FROM public.meter_accounts a"
		" JOIN public.meter_days d ON d.meter_id = a.meter_id"
		"  AND d.day >= a.valid_from AND (a.valid_to IS NULL OR d.day < a.valid_to)"
		" WHERE a.customer_account = $1 AND d.day >= $2::date AND d.day < $3::date"
		" GROUP BY d.month, d.meter_id"
		" ORDER BY d.month, d.meter_id",
	/* The account's power outages. The account history's days are
	 * local days, which row-level security on meter_events applies
	 * exactly (gw_portal_may_see: the zone of the meter's gateway, which
	 * the portal may not read itself). */
	[GW_PQ_OUTAGES] =
		"SELECT to_char(e.ts AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" to_char(x.ended AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" floor(extract(epoch FROM x.ended - e.ts) / 60)::bigint, e.meter_id"
		" FROM (SELECT DISTINCT a.meter_id FROM public.meter_accounts a"
		"       WHERE a.customer_account = $1) a"
		" JOIN public.meter_events e ON e.meter_id = a.meter_id"
		" CROSS JOIN LATERAL (SELECT min(o.ts) AS ended FROM public.meter_events o"
		"  WHERE o.meter_id = e.meter_id AND o.kind = 'online' AND o.ts > e.ts) x"
		" WHERE e.kind = 'power_outage'"
		"  AND e.ts >= $2::date::timestamp AT TIME ZONE 'UTC'"
		"  AND e.ts < ($3::date + 1)::timestamp AT TIME ZONE 'UTC'"
		" ORDER BY e.ts, e.meter_id",
	/* The account's latest notices (011); row-level security lets the
	 * session read only its own account's. */
	[GW_PQ_NOTICES] =
		"SELECT n.notice_id, n.day::text, n.kind,"
		" to_char(n.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'),"
		" n.subject_vi, n.body_vi, n.subject_en, n.body_en, n.figures::text"
		" FROM public.customer_notices n"
		" WHERE n.customer_account = $1 AND ($3::bigint IS NULL OR n.notice_id < $3::bigint)"
		" ORDER BY n.notice_id DESC LIMIT $2::int",
};

struct pconn {
	PGconn *conn;
	int busy;
};

struct gw_pdb {
	pthread_mutex_t lock;
	pthread_cond_t freed;
	struct pconn *c;
	unsigned n;
	unsigned timeout_ms;
	char *conninfo;
};

struct gw_pdb *gw_pdb_new(const char *conninfo, unsigned n, unsigned query_timeout_ms)
{
	struct gw_pdb *db = calloc(1, sizeof(*db));
	pthread_condattr_t ca;

	if (!db)
		return NULL;
	db->c = calloc(n ? n : 1, sizeof(*db->c));
	db->conninfo = strdup(conninfo);
	if (!db->c || !db->conninfo) {
		free(db->c);
		free(db->conninfo);
		free(db);
		return NULL;
	}
	db->n = n ? n : 1;
	db->timeout_ms = query_timeout_ms;
	pthread_mutex_init(&db->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&db->freed, &ca);
	pthread_condattr_destroy(&ca);
	return db;
}

void gw_pdb_free(struct gw_pdb *db)
{
	unsigned i;

	if (!db)
		return;
	for (i = 0; i < db->n; i++)
		if (db->c[i].conn)
			PQfinish(db->c[i].conn);
	pthread_cond_destroy(&db->freed);
	pthread_mutex_destroy(&db->lock);
	free(db->c);
	free(db->conninfo);
	free(db);
}

static PGconn *connect_db(const struct gw_pdb *db)
{
	const char *keys[] = { "dbname", "fallback_application_name", NULL };
	const char *vals[] = { db->conninfo, "portald", NULL };
	PGconn *c = PQconnectdbParams(keys, vals, 1);
	char msg[256];

	if (c && PQstatus(c) == CONNECTION_OK)
		return c;
	gw_strlcpy(msg, c ? PQerrorMessage(c) : "out of memory", sizeof(msg));
	msg[strcspn(msg, "\n")] = '\0';
	gw_err("portal: cannot connect to the database: %s", msg);
	PQfinish(c);
	return NULL;
}

/* A free slot of the pool, waiting up to the query timeout. NULL if none. */
static struct pconn *acquire(struct gw_pdb *db)
{
	struct timespec until;
	struct pconn *p = NULL;
	unsigned i;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += db->timeout_ms / 1000;
	until.tv_nsec += (long)(db->timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&db->lock);
	for (;;) {
		for (i = 0; i < db->n && !p; i++)
			if (!db->c[i].busy)
				p = &db->c[i];
		if (p || pthread_cond_timedwait(&db->freed, &db->lock, &until) == ETIMEDOUT)
			break;
	}
	if (p)
		p->busy = 1;
	pthread_mutex_unlock(&db->lock);
	return p;
}

static void release(struct gw_pdb *db, struct pconn *p)
{
	pthread_mutex_lock(&db->lock);
	p->busy = 0;
	pthread_cond_signal(&db->freed);
	pthread_mutex_unlock(&db->lock);
}

/* Runs a command that returns no rows (or one row of set_config). */
static int command(PGconn *c, const char *sql, int n, const char *const *params)
{
	PGresult *r = PQexecParams(c, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType st = PQresultStatus(r);
	int ok = st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;

	if (!ok)
		gw_err("portal: %s: %s", sql, PQresultErrorMessage(r));
	PQclear(r);
	return ok ? 0 : GW_EDB;
}

/* The transaction of one query on connection c. */
static int run(struct gw_pdb *db, PGconn *c, enum gw_pdb_query q, const char *session_account,
	       const char *where_account, const char *from, const char *to, PGresult **out)
{
	char timeout[16];
	const char *set[2] = { session_account, timeout };
	const char *args[3] = { where_account, from, to };
	PGresult *r;

	snprintf(timeout, sizeof(timeout), "%u", db->timeout_ms);
	if (command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) < 0)
		return GW_EDB;
	if (command(c, "SELECT set_config('gw.customer_account', $1, true),"
		       " set_config('statement_timeout', $2, true)", 2, set) < 0)
		goto fail;
	r = PQexecParams(c, sql_text[q], 3, NULL, args, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		gw_err("portal: query for %s: %s", where_account, PQresultErrorMessage(r));
		PQclear(r);
		goto fail;
	}
	if (command(c, "COMMIT", 0, NULL) < 0) {
		PQclear(r);
		return GW_EDB;
	}
	*out = r;
	return 0;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
	return GW_EDB;
}

int gw_pdb_query(struct gw_pdb *db, enum gw_pdb_query q, const char *session_account,
		 const char *where_account, const char *from, const char *to, PGresult **out)
{
	struct pconn *p = acquire(db);
	int rc = GW_ECONN, attempt;

	*out = NULL;
	if (!p) {
		gw_warn("portal: no database connection free within %u ms", db->timeout_ms);
		return GW_ECONN;
	}
	/* A connection the server closed (a restart, a failover) is made
	 * anew and the query tried once more. */
	for (attempt = 0; attempt < 2; attempt++) {
		if (p->conn && PQstatus(p->conn) != CONNECTION_OK) {
			PQfinish(p->conn);
			p->conn = NULL;
		}
		if (!p->conn)
			p->conn = connect_db(db);
		if (!p->conn) {
			rc = GW_ECONN;
			break;
		}
		rc = run(db, p->conn, q, session_account, where_account, from, to, out);
		if (rc == 0 || PQstatus(p->conn) == CONNECTION_OK)
			break;
	}
	release(db, p);
	return rc;
}

int gw_pdb_check_role(struct gw_pdb *db)
{
	static const char sql[] =
		"SELECT current_user, r.rolsuper, r.rolbypassrls,"
		" pg_has_role(current_user, 'customer_portal', 'MEMBER'),"
		" (SELECT string_agg(g.rolname, ', ' ORDER BY g.rolname) FROM pg_roles g"
		"  WHERE g.rolname IN ('gw_owner', 'analyst', 'gw_operator', 'gw_uploader', 'gw_loader_any')"
		"  AND pg_has_role(current_user, g.oid, 'MEMBER'))"
		" FROM pg_roles r WHERE r.rolname = current_user";
	PGconn *c = connect_db(db);
	PGresult *r;
	int rc = GW_ECONFIG;

	if (!c)
		return GW_ECONN;
	r = PQexec(c, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQntuples(r) != 1) {
		gw_err("portal: cannot read the login role: %s", PQresultErrorMessage(r));
	} else if (strcmp(PQgetvalue(r, 0, 1), "t") == 0 || strcmp(PQgetvalue(r, 0, 2), "t") == 0) {
		gw_err("portal: role %s is a superuser or BYPASSRLS: row-level security would not apply;"
		       " log in as a role that is only IN ROLE customer_portal", PQgetvalue(r, 0, 0));
	} else if (strcmp(PQgetvalue(r, 0, 3), "t") != 0) {
		gw_err("portal: role %s is not a member of customer_portal", PQgetvalue(r, 0, 0));
	} else if (!PQgetisnull(r, 0, 4)) {
		gw_err("portal: role %s is also a member of %s: it could see more than one customer's rows",
		       PQgetvalue(r, 0, 0), PQgetvalue(r, 0, 4));
	} else {
		rc = 0;
	}
	PQclear(r);
	pthread_mutex_lock(&db->lock);
	if (rc == 0 && !db->c[0].conn && !db->c[0].busy)
		db->c[0].conn = c;
	else
		PQfinish(c);
	pthread_mutex_unlock(&db->lock);
	return rc;
}
