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
#include <poll.h>
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
	/* The bill estimate and its lines; docs/portal.md "The bill
	 * estimate". Row-level security lets the functions see the session
	 * account only. */
	[GW_PQ_BILL] =
		"SELECT e.period_start::text, e.period_end::text, e.through::text, e.import_wh,"
		" e.amount, e.vat, e.total, e.currency, e.tariff, e.days_estimated, e.days_missing,"
		" trim_scale(e.vat_rate), e.days_with_data, e.tier_limits,"
		" l.price_list::text, l.sub_from::text, l.sub_to::text, l.tier, l.from_wh, l.upto_wh,"
		" l.wh, trim_scale(l.price), l.amount"
		" FROM public.gw_bill_estimate($1, least(coalesce(nullif($2, '')::date,"
		"      (now() AT TIME ZONE $3)::date - 1), (now() AT TIME ZONE $3)::date - 1)) e"
		" JOIN public.gw_bill_lines($1, e.through) l ON true"
		" ORDER BY l.sub_from, l.tier",
	/* The customer page's days: every local day of the range, those
	 * without rows too (NULL), the account's meters summed per day. */
	[GW_PQ_PAGE_DAYS] =
		"WITH r AS (SELECT t.today, least(t.today - ($3::int - 1),"
		"   date_trunc('month', t.today::timestamp)::date) AS first"
		"  FROM (SELECT (now() AT TIME ZONE $2::text)::date AS today) t),"
		" d AS (SELECT d.day, sum(d.import_wh) AS wh,"
		"   max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],"
		"   d.quality::text)) AS worst"
		"  FROM r, public.meter_accounts a"
		"  JOIN public.meter_days d ON d.meter_id = a.meter_id"
		"   AND d.day >= a.valid_from AND (a.valid_to IS NULL OR d.day < a.valid_to)"
		"  WHERE a.customer_account = $1 AND d.day >= r.first AND d.day <= r.today"
		"  GROUP BY d.day)"
		" SELECT g.day::text, d.wh,"
		"  (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[d.worst],"
		"  g.day > r.today - $3::int, g.day >= date_trunc('month', r.today::timestamp)::date"
		" FROM r CROSS JOIN LATERAL (SELECT s::date AS day"
		"  FROM generate_series(r.first::timestamp, r.today::timestamp, interval '1 day') s) g"
		" LEFT JOIN d ON d.day = g.day ORDER BY g.day",
	[GW_PQ_PAGE_OUTAGES] =
		"SELECT DISTINCT ON (e.ts) to_char(e.ts AT TIME ZONE $2::text, 'YYYY-MM-DD HH24:MI'),"
		" to_char(x.ended AT TIME ZONE $2::text, 'YYYY-MM-DD HH24:MI'),"
		" floor(extract(epoch FROM x.ended - e.ts) / 60)::bigint"
		" FROM (SELECT DISTINCT a.meter_id FROM public.meter_accounts a"
		"       WHERE a.customer_account = $1) a"
		" JOIN public.meter_events e ON e.meter_id = a.meter_id"
		" CROSS JOIN LATERAL (SELECT min(o.ts) AS ended FROM public.meter_events o"
		"  WHERE o.meter_id = e.meter_id AND o.kind = 'online' AND o.ts > e.ts) x"
		" WHERE e.kind = 'power_outage' AND e.ts >= now() - interval '1 year'"
		" ORDER BY e.ts DESC, x.ended DESC NULLS FIRST LIMIT $3::int",
	[GW_PQ_PAGE_BILL] =
		"SELECT b.period_start::text, b.period_end::text, b.through::text, b.import_wh,"
		" b.amount::text, b.vat::text, b.total::text, b.currency, b.tariff, b.days_estimated,"
		" b.days_missing"
		" FROM (SELECT (now() AT TIME ZONE $2::text)::date AS today) t,"
		" public.gw_bill_estimate($1, greatest(t.today - 1,"
		"  date_trunc('month', t.today::timestamp)::date)) b",
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

/* A request thread waiting for a connection: the queue is served in
 * order, a released connection handed to the first waiter directly (a
 * thread arriving meanwhile cannot take it first), so that under load
 * every request waits about as long as the others, not some for seconds. */
struct waiter {
	pthread_cond_t handed;
	struct pconn *got;
	struct waiter *next;
};

struct gw_pdb {
	pthread_mutex_t lock;
	pthread_condattr_t monotonic;
	struct waiter *head, *tail;
	struct pconn *c;
	unsigned n;
	unsigned timeout_ms;
	char *conninfo;
};

struct gw_pdb *gw_pdb_new(const char *conninfo, unsigned n, unsigned query_timeout_ms)
{
	struct gw_pdb *db = calloc(1, sizeof(*db));

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
	pthread_condattr_init(&db->monotonic);
	pthread_condattr_setclock(&db->monotonic, CLOCK_MONOTONIC);
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
	pthread_condattr_destroy(&db->monotonic);
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

/* Takes w out of the queue (it gave up waiting). */
static void unqueue(struct gw_pdb *db, struct waiter *w)
{
	struct waiter **pp, *prev = NULL;

	for (pp = &db->head; *pp && *pp != w; pp = &(*pp)->next)
		prev = *pp;
	if (!*pp)
		return;
	*pp = w->next;
	if (db->tail == w)
		db->tail = prev;
}

/* A free slot of the pool, waiting in turn (in order of arrival) up to ms
 * milliseconds. NULL if none. */
static struct pconn *acquire_ms(struct gw_pdb *db, unsigned ms)
{
	struct timespec until;
	struct waiter w = { .got = NULL, .next = NULL };
	struct pconn *p = NULL;
	unsigned i;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&db->lock);
	for (i = 0; i < db->n && !p && !db->head; i++)
		if (!db->c[i].busy)
			p = &db->c[i];
	if (p) {
		p->busy = 1;
	} else {
		pthread_cond_init(&w.handed, &db->monotonic);
		if (db->tail)
			db->tail->next = &w;
		else
			db->head = &w;
		db->tail = &w;
		while (!w.got && pthread_cond_timedwait(&w.handed, &db->lock, &until) != ETIMEDOUT)
			;
		if (!w.got)
			unqueue(db, &w);
		p = w.got; /* handed over busy */
		pthread_cond_destroy(&w.handed);
	}
	pthread_mutex_unlock(&db->lock);
	return p;
}

/* p's connection, made anew when the server closed it (a restart, a
 * failover); NULL when it cannot be made. */
static PGconn *live_conn(struct gw_pdb *db, struct pconn *p)
{
	if (p->conn && PQstatus(p->conn) != CONNECTION_OK) {
		PQfinish(p->conn);
		p->conn = NULL;
	}
	if (!p->conn)
		p->conn = connect_db(db);
	return p->conn;
}

/* A free slot of the pool, waiting up to the query timeout. NULL if none. */
static struct pconn *acquire(struct gw_pdb *db)
{
	return acquire_ms(db, db->timeout_ms);
}

/* Hands the connection to the first waiter, or marks it free. */
static void release(struct gw_pdb *db, struct pconn *p)
{
	struct waiter *w;

	pthread_mutex_lock(&db->lock);
	w = db->head;
	if (w) {
		db->head = w->next;
		if (!db->head)
			db->tail = NULL;
		w->got = p;
		pthread_cond_signal(&w->handed);
	} else {
		p->busy = 0;
	}
	pthread_mutex_unlock(&db->lock);
}

static const char sql_begin[] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
static const char sql_session[] = "SELECT set_config('gw.customer_account', $1, true),"
				  " set_config('statement_timeout', $2, true)";

/* The results of the four statements of run()'s pipeline (the query's
 * rows into *out) and its sync. Returns 0 if all four succeeded. */
static int collect(PGconn *c, const char *account, PGresult **out)
{
	static const char *const what[4] = { "BEGIN", "set_config", "query", "COMMIT" };
	ExecStatusType st;
	PGresult *r;
	int i, rc = 0;

	for (i = 0; i < 4; i++) {
		r = PQgetResult(c);
		if (!r) /* the connection is gone */
			return GW_EDB;
		st = PQresultStatus(r);
		if (i == 2 && st == PGRES_TUPLES_OK) {
			*out = r;
			r = NULL;
		} else if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
			/* after an error the rest are only "aborted" */
			if (st != PGRES_PIPELINE_ABORTED)
				gw_err("portal: %s for %s: %s", what[i], account, PQresultErrorMessage(r));
			rc = GW_EDB;
		}
		PQclear(r);
		while ((r = PQgetResult(c)) != NULL) /* up to the statement's end */
			PQclear(r);
	}
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
		rc = GW_EDB;
	PQclear(r);
	return rc;
}

/* The transaction of one query on connection c: BEGIN, the session's
 * account and statement timeout (SET LOCAL), the query and COMMIT sent
 * at once (libpq's pipeline mode) and their results read after: one
 * round trip to the server instead of four. On a loaded machine each
 * round trip waits for the backend and then the thread to be scheduled
 * again. A failed statement makes the server skip the rest up to the
 * sync, and its transaction is rolled back. A connection left in
 * pipeline mode (results not all read: it broke) is closed by the caller. */
static int run(struct gw_pdb *db, PGconn *c, enum gw_pdb_query q, const char *session_account,
	       const char *where_account, const char *from, const char *to, PGresult **out)
{
	char timeout[16];
	const char *set[2] = { session_account, timeout };
	const char *args[3] = { where_account, from, to };
	int rc;

	snprintf(timeout, sizeof(timeout), "%u", db->timeout_ms);
	*out = NULL;
	if (PQenterPipelineMode(c) != 1)
		return GW_EDB;
	if (PQsendQueryParams(c, sql_begin, 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(c, sql_session, 2, NULL, set, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(c, sql_text[q], 3, NULL, args, NULL, NULL, 0) != 1 ||
	    PQsendQueryParams(c, "COMMIT", 0, NULL, NULL, NULL, NULL, 0) != 1 ||
	    PQpipelineSync(c) != 1) {
		gw_err("portal: query for %s: %s", where_account, PQerrorMessage(c));
		rc = GW_EDB;
	} else {
		rc = collect(c, where_account, out);
	}
	if (rc < 0 && *out) {
		PQclear(*out);
		*out = NULL;
	}
	if (PQexitPipelineMode(c) == 1 && rc < 0 && PQtransactionStatus(c) != PQTRANS_IDLE)
		PQclear(PQexec(c, "ROLLBACK"));
	return rc;
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
		if (!live_conn(db, p)) {
			rc = GW_ECONN;
			break;
		}
		rc = run(db, p->conn, q, session_account, where_account, from, to, out);
		if (PQpipelineStatus(p->conn) != PQ_PIPELINE_OFF) {
			PQfinish(p->conn);
			p->conn = NULL;
			continue;
		}
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

/* The transaction of gw_pdb_run's statements on connection c. */
static int run_many(struct gw_pdb *db, PGconn *c, const char *session_account,
		    struct gw_pdb_stmt *s, size_t n)
{
	char timeout[16];
	const char *set[2] = { session_account, timeout };
	size_t i;

	snprintf(timeout, sizeof(timeout), "%u", db->timeout_ms);
	if (command(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", 0, NULL) < 0)
		return GW_EDB;
	if (command(c, "SELECT set_config('gw.customer_account', $1, true),"
		       " set_config('statement_timeout', $2, true)", 2, set) < 0)
		goto fail;
	for (i = 0; i < n; i++) {
		if (s[i].optional && command(c, "SAVEPOINT optional", 0, NULL) < 0)
			goto fail;
		s[i].result = PQexecParams(c, sql_text[s[i].q], s[i].nargs, NULL, s[i].args, NULL, NULL, 0);
		if (PQresultStatus(s[i].result) == PGRES_TUPLES_OK)
			continue;
		gw_err("portal: page query %u for %s: %s", (unsigned)s[i].q, session_account,
		       PQresultErrorMessage(s[i].result));
		if (!s[i].optional || PQstatus(c) != CONNECTION_OK ||
		    command(c, "ROLLBACK TO SAVEPOINT optional", 0, NULL) < 0)
			goto fail;
		PQclear(s[i].result);
		s[i].result = NULL;
	}
	if (command(c, "COMMIT", 0, NULL) < 0)
		goto fail_closed;
	return 0;
fail:
	PQclear(PQexec(c, "ROLLBACK"));
fail_closed:
	for (i = 0; i < n; i++) {
		PQclear(s[i].result);
		s[i].result = NULL;
	}
	return GW_EDB;
}

int gw_pdb_run(struct gw_pdb *db, const char *session_account, struct gw_pdb_stmt *s, size_t n)
{
	struct pconn *p = acquire(db);
	int rc = GW_ECONN, attempt;
	size_t i;

	for (i = 0; i < n; i++)
		s[i].result = NULL;
	if (!p) {
		gw_warn("portal: no database connection free within %u ms", db->timeout_ms);
		return GW_ECONN;
	}
	/* as gw_pdb_query: a connection the server closed is made anew */
	for (attempt = 0; attempt < 2; attempt++) {
		if (!live_conn(db, p)) {
			rc = GW_ECONN;
			break;
		}
		rc = run_many(db, p->conn, session_account, s, n);
		if (rc == 0 || PQstatus(p->conn) == CONNECTION_OK)
			break;
	}
	release(db, p);
	return rc;
}

static int64_t ms_left(const struct timespec *until)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(until->tv_sec - now.tv_sec) * 1000 + (until->tv_nsec - now.tv_nsec) / 1000000;
}

/* Waits until c's socket is readable (or writable), at most until
 * `until`. Returns 1 ready, 0 timed out, -1 an error. */
static int wait_socket(PGconn *c, int writable, const struct timespec *until)
{
	struct pollfd pf = { PQsocket(c), writable ? POLLOUT : POLLIN, 0 };
	int64_t left = ms_left(until);
	int r;

	if (pf.fd < 0)
		return -1;
	if (left <= 0)
		return 0;
	do
		r = poll(&pf, 1, (int)left);
	while (r < 0 && errno == EINTR && (left = ms_left(until)) > 0);
	return r < 0 ? -1 : r;
}

/* Connects without blocking past `until`. */
static PGconn *connect_until(const struct gw_pdb *db, const struct timespec *until)
{
	const char *keys[] = { "dbname", "fallback_application_name", NULL };
	const char *vals[] = { db->conninfo, "portald", NULL };
	PGconn *c = PQconnectStartParams(keys, vals, 1);
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;

	if (!c || PQstatus(c) == CONNECTION_BAD) {
		PQfinish(c);
		return NULL;
	}
	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		if (wait_socket(c, st == PGRES_POLLING_WRITING, until) <= 0) {
			PQfinish(c);
			return NULL;
		}
		st = PQconnectPoll(c);
	}
	if (st == PGRES_POLLING_FAILED) {
		PQfinish(c);
		return NULL;
	}
	return c;
}

/* SELECT 1 on c, answered by `until`. Returns 0, GW_EDB or GW_ETIMEDOUT. */
static int select_one(PGconn *c, const struct timespec *until)
{
	PGresult *r;
	int rc = GW_EDB, got = 0;

	if (!PQsendQuery(c, "SELECT 1"))
		return GW_EDB;
	for (;;) {
		while (PQisBusy(c)) {
			int w = wait_socket(c, 0, until);
			if (w == 0)
				return GW_ETIMEDOUT;
			if (w < 0 || !PQconsumeInput(c))
				return GW_EDB;
		}
		r = PQgetResult(c);
		if (!r)
			break;
		if (!got && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
		    strcmp(PQgetvalue(r, 0, 0), "1") == 0)
			rc = 0;
		got = 1;
		PQclear(r);
	}
	return rc;
}

int gw_pdb_ping(struct gw_pdb *db, unsigned timeout_ms)
{
	struct timespec until;
	struct pconn *p;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	p = acquire_ms(db, timeout_ms);
	if (!p)
		return GW_ETIMEDOUT;
	if (p->conn && PQstatus(p->conn) != CONNECTION_OK) {
		PQfinish(p->conn);
		p->conn = NULL;
	}
	if (!p->conn)
		p->conn = connect_until(db, &until);
	if (!p->conn) {
		release(db, p);
		return ms_left(&until) > 0 ? GW_ECONN : GW_ETIMEDOUT;
	}
	rc = select_one(p->conn, &until);
	if (rc < 0) {
		/* A server that did not answer (or answered wrongly): the
		 * connection is closed (no cancel request: that would be one
		 * more blocking connection to a server that does not answer),
		 * and the next user of the slot connects anew rather than wait
		 * behind a query that may never end. */
		PQfinish(p->conn);
		p->conn = NULL;
		gw_warn("portal: health check: the database %s", rc == GW_ETIMEDOUT
			? "did not answer SELECT 1 in time" : "failed SELECT 1");
	}
	release(db, p);
	return rc;
}
