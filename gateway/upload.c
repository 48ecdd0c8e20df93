/* SPDX-License-Identifier: MIT */
/*
 * upload.c - loads sealed batches into PostgreSQL with libpq, exactly once.
 *
 * One transaction per batch:
 *
 *     BEGIN
 *     INSERT INTO gateways ... ON CONFLICT DO UPDATE (last_seen)
 *     INSERT INTO batch_ledger ... ON CONFLICT DO NOTHING RETURNING
 *         no row: the batch was applied before -> ROLLBACK, return 0
 *     COPY gw_stage_daily, COPY gw_stage_interval   (text COPY, escaped)
 *     INSERT INTO meters     SELECT the staged meter ids ... ON CONFLICT
 *     INSERT INTO daily_registers SELECT ... ON CONFLICT DO UPDATE
 *         only where the stored revision is older than this batch's
 *     INSERT INTO interval_readings SELECT ... ON CONFLICT DO NOTHING
 *     COMMIT
 *
 * The ledger row comes first: a second uploader applying the same batch at
 * the same time waits on its key and then finds it taken. The staging
 * tables are temporary (per connection, ON COMMIT DELETE ROWS) so that
 * COPY can feed rows that may already exist: a later revision replaces a
 * day's registers, and interval readings are raw measurements, so a
 * reading already stored (same meter, register and time) is kept.
 *
 * Values travel only as parameters or COPY data; the SQL text is constant.
 * If the connection is lost, the server rolls back what it had; if it is
 * lost during COMMIT, the ledger decides on the next attempt.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "batch.h"
#include "gw.h"
#include "reading.h"
#include "spool.h"
#include "tz.h"
#include "upload.h"

struct gw_uploader {
	char *conninfo;
	PGconn *conn;
	unsigned failed_connects; /* consecutive, for quiet retry logging */
};

/* Growing buffer of COPY text, sent in chunks of about COPY_CHUNK bytes. */
struct copybuf {
	char *p;
	size_t len, cap;
	int oom;
};

#define COPY_CHUNK (64 * 1024)

static const char SQL_STAGE[] =
	"CREATE TEMP TABLE IF NOT EXISTS gw_stage_daily ("
	" meter_id text, day date, obis text, unit text,"
	" start_value bigint, end_value bigint, consumption bigint,"
	" quality text, readings bigint, minutes_missing bigint,"
	" revision bigint, gateway_id text) ON COMMIT DELETE ROWS;"
	"CREATE TEMP TABLE IF NOT EXISTS gw_stage_interval ("
	" meter_id text, obis text, ts timestamptz, value bigint,"
	" scale smallint, unit text) ON COMMIT DELETE ROWS";

static const char SQL_GATEWAY[] =
	"INSERT INTO gateways (gateway_id, timezone) VALUES ($1, $2) "
	"ON CONFLICT (gateway_id) DO UPDATE SET last_seen = now(), "
	"timezone = COALESCE(EXCLUDED.timezone, gateways.timezone)";

static const char SQL_LEDGER[] =
	"INSERT INTO batch_ledger (gateway_id, day, revision, crc, timezone,"
	" created_at, daily_rows, interval_rows) "
	"VALUES ($1, $2::date, $3::int, $4::bigint, $5,"
	" to_timestamp($6::bigint / 1000.0), $7::int, $8::int) "
	"ON CONFLICT DO NOTHING RETURNING 1";

static const char SQL_LEDGER_CRC[] =
	"SELECT crc FROM batch_ledger "
	"WHERE gateway_id = $1 AND day = $2::date AND revision = $3::int";

static const char SQL_COPY_DAILY[] =
	"COPY gw_stage_daily (meter_id, day, obis, unit, start_value,"
	" end_value, consumption, quality, readings, minutes_missing,"
	" revision, gateway_id) FROM STDIN";

static const char SQL_COPY_INTERVAL[] =
	"COPY gw_stage_interval (meter_id, obis, ts, value, scale, unit) "
	"FROM STDIN";

/* Sorted, so that two batches touching the same meters lock them in the
 * same order and cannot deadlock. A meter moved to another gateway follows
 * the batch with the latest day. */
static const char SQL_METERS[] =
	"INSERT INTO meters (meter_id, gateway_id, first_day, last_day) "
	"SELECT m, $1, $2::date, $2::date FROM ("
	" SELECT meter_id FROM gw_stage_daily"
	" UNION SELECT meter_id FROM gw_stage_interval) s(m) ORDER BY m "
	"ON CONFLICT (meter_id) DO UPDATE SET last_seen = now(),"
	" first_day = LEAST(meters.first_day, EXCLUDED.first_day),"
	" last_day = GREATEST(meters.last_day, EXCLUDED.last_day),"
	" gateway_id = CASE WHEN meters.last_day IS NULL"
	"  OR EXCLUDED.last_day >= meters.last_day"
	"  THEN EXCLUDED.gateway_id ELSE meters.gateway_id END";

static const char SQL_DAILY[] =
	"INSERT INTO daily_registers (meter_id, day, obis, unit, start_value,"
	" end_value, consumption, quality, readings, minutes_missing,"
	" revision, gateway_id) "
	"SELECT meter_id, day, obis, unit, start_value, end_value, consumption,"
	" quality, readings, minutes_missing, revision, gateway_id "
	"FROM gw_stage_daily "
	"ON CONFLICT (meter_id, day, obis) DO UPDATE SET"
	" unit = EXCLUDED.unit, start_value = EXCLUDED.start_value,"
	" end_value = EXCLUDED.end_value, consumption = EXCLUDED.consumption,"
	" quality = EXCLUDED.quality, readings = EXCLUDED.readings,"
	" minutes_missing = EXCLUDED.minutes_missing,"
	" revision = EXCLUDED.revision, gateway_id = EXCLUDED.gateway_id,"
	" loaded_at = now() "
	"WHERE daily_registers.revision < EXCLUDED.revision";

static const char SQL_INTERVAL[] =
	"INSERT INTO interval_readings (meter_id, obis, ts, value, scale, unit) "
	"SELECT meter_id, obis, ts, value, scale, unit FROM gw_stage_interval "
	"ON CONFLICT (meter_id, obis, ts) DO NOTHING";

struct gw_uploader *gw_uploader_new(const char *conninfo)
{
	struct gw_uploader *u = calloc(1, sizeof(*u));

	if (!u)
		return NULL;
	u->conninfo = strdup(conninfo ? conninfo : "");
	if (!u->conninfo) {
		free(u);
		return NULL;
	}
	return u;
}

void gw_uploader_free(struct gw_uploader *u)
{
	if (!u)
		return;
	PQfinish(u->conn);
	free(u->conninfo);
	free(u);
}

/* Copies a libpq message into buf without its trailing newline (gw_log
 * ends the line itself); returns buf. */
static const char *pq_msg(const char *msg, char *buf, size_t cap)
{
	size_t n;

	gw_strlcpy(buf, msg ? msg : "", cap);
	n = strlen(buf);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return buf;
}

/* Server notices (e.g. "relation already exists, skipping") go to debug. */
static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	gw_debug("database: %s", message);
}

static void disconnect(struct gw_uploader *u)
{
	PQfinish(u->conn);
	u->conn = NULL;
}

/* Connects if there is no usable connection. The first failure of a series
 * is logged as an error, the rest at debug level, and the recovery once.
 * Returns 0 or GW_ECONN. */
static int ensure_connected(struct gw_uploader *u)
{
	/* Defaults come before "dbname" so that the conninfo overrides them;
	 * keepalives notice a dead uplink instead of waiting for TCP's hours. */
	static const char *const keys[] = {
		"fallback_application_name", "connect_timeout", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "dbname", NULL,
	};
	const char *vals[] = { "gw-uploader", "15", "30", "10", "3", NULL, NULL };
	char buf[1024];
	PGresult *res;

	if (u->conn && PQstatus(u->conn) == CONNECTION_OK)
		return 0;
	disconnect(u);
	vals[5] = u->conninfo;
	u->conn = PQconnectdbParams(keys, vals, 1);
	if (!u->conn || PQstatus(u->conn) != CONNECTION_OK) {
		if (u->failed_connects++ == 0)
			gw_err("database: cannot connect: %s",
			       pq_msg(u->conn ? PQerrorMessage(u->conn) :
				      "out of memory", buf, sizeof(buf)));
		else
			gw_debug("database: still cannot connect (%u attempts): %s",
				 u->failed_connects,
				 pq_msg(u->conn ? PQerrorMessage(u->conn) :
					"out of memory", buf, sizeof(buf)));
		disconnect(u);
		return GW_ECONN;
	}
	if (u->failed_connects > 0)
		gw_info("database: connected again after %u failed attempts",
			u->failed_connects);
	u->failed_connects = 0;
	PQsetNoticeProcessor(u->conn, quiet_notice, NULL);

	res = PQexec(u->conn, SQL_STAGE);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		gw_err("database: cannot create staging tables: %s",
		       pq_msg(PQresultErrorMessage(res), buf, sizeof(buf)));
		PQclear(res);
		disconnect(u);
		return GW_EDB;
	}
	PQclear(res);
	return 0;
}

/* Classifies a failure on the connection: GW_ECONN (and disconnects) when
 * the connection is gone, GW_EDB otherwise. Logs the message once. */
static int fail(struct gw_uploader *u, const char *what, const PGresult *res)
{
	const char *msg = res ? PQresultErrorMessage(res) : "";
	char buf[1024];

	if (!msg || !*msg)
		msg = PQerrorMessage(u->conn);
	pq_msg(msg, buf, sizeof(buf));
	if (PQstatus(u->conn) != CONNECTION_OK) {
		gw_err("database: connection lost during %s: %s", what, buf);
		disconnect(u);
		return GW_ECONN;
	}
	gw_err("database: %s failed: %s", what, buf);
	return GW_EDB;
}

/* Runs a statement with text parameters; returns 0 or a GW_E* code. If
 * tuples is non-NULL the statement must return rows and *tuples gets their
 * count. */
static int exec_params(struct gw_uploader *u, const char *what,
		       const char *sql, int n, const char *const *params,
		       int *tuples)
{
	PGresult *res = PQexecParams(u->conn, sql, n, NULL, params, NULL, NULL, 0);
	ExecStatusType want = tuples ? PGRES_TUPLES_OK : PGRES_COMMAND_OK;
	int rc = 0;

	if (PQresultStatus(res) != want)
		rc = fail(u, what, res);
	else if (tuples)
		*tuples = PQntuples(res);
	PQclear(res);
	return rc;
}

static int exec_simple(struct gw_uploader *u, const char *what,
		       const char *sql)
{
	return exec_params(u, what, sql, 0, NULL, NULL);
}

/* Ends a failed transaction. A failure here means the connection is bad;
 * the server rolls back by itself then. */
static void rollback(struct gw_uploader *u)
{
	PGresult *res;

	if (!u->conn)
		return;
	res = PQexec(u->conn, "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		disconnect(u);
	PQclear(res);
}

static void cb_reserve(struct copybuf *cb, size_t more)
{
	size_t cap;
	char *p;

	if (cb->oom || cb->len + more <= cb->cap)
		return;
	cap = cb->cap ? cb->cap : 4096;
	while (cap < cb->len + more)
		cap *= 2;
	p = realloc(cb->p, cap);
	if (!p) {
		cb->oom = 1;
		return;
	}
	cb->p = p;
	cb->cap = cap;
}

static void cb_raw(struct copybuf *cb, const char *s, size_t n)
{
	cb_reserve(cb, n);
	if (cb->oom)
		return;
	memcpy(cb->p + cb->len, s, n);
	cb->len += n;
}

/* Appends s as one COPY text field: backslash, tab, newline and carriage
 * return are escaped, so that no data can end a field or a row or spell
 * the NULL marker \N. */
static void cb_text(struct copybuf *cb, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '\\': cb_raw(cb, "\\\\", 2); break;
		case '\t': cb_raw(cb, "\\t", 2); break;
		case '\n': cb_raw(cb, "\\n", 2); break;
		case '\r': cb_raw(cb, "\\r", 2); break;
		default: cb_raw(cb, s, 1); break;
		}
	}
}

/* A field holding text that may be empty: empty becomes NULL. */
static void cb_text_or_null(struct copybuf *cb, const char *s)
{
	if (!s || !*s)
		cb_raw(cb, "\\N", 2);
	else
		cb_text(cb, s);
}

static void cb_i64(struct copybuf *cb, int64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRId64, v);

	cb_raw(cb, num, (size_t)n);
}

static void cb_sep(struct copybuf *cb, char c)
{
	cb_raw(cb, &c, 1);
}

/* Sends what the buffer holds. Returns 0 or a GW_E* code. */
static int cb_flush(struct gw_uploader *u, struct copybuf *cb)
{
	if (cb->oom)
		return GW_ENOMEM;
	if (cb->len == 0)
		return 0;
	if (PQputCopyData(u->conn, cb->p, (int)cb->len) != 1)
		return GW_EIO;
	cb->len = 0;
	return 0;
}

static int copy_begin(struct gw_uploader *u, const char *what, const char *sql)
{
	PGresult *res = PQexec(u->conn, sql);
	int rc = 0;

	if (PQresultStatus(res) != PGRES_COPY_IN)
		rc = fail(u, what, res);
	PQclear(res);
	return rc;
}

/* Ends a COPY. With err != 0 (GW_ENOMEM building the data, GW_EIO from
 * PQputCopyData) the COPY is aborted, which fails the transaction. Returns
 * 0 or a GW_E* code; the message is logged once. */
static int copy_end(struct gw_uploader *u, const char *what, int err)
{
	PGresult *res;
	int rc = 0;

	if (err == GW_ENOMEM)
		gw_err("database: out of memory building the %s", what);
	if (PQputCopyEnd(u->conn, err ? "client aborted the COPY" : NULL) != 1)
		return fail(u, what, NULL);
	while (u->conn && (res = PQgetResult(u->conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && rc == 0)
			rc = err == GW_ENOMEM ? GW_ENOMEM : fail(u, what, res);
		PQclear(res);
	}
	if (rc == 0 && err)
		rc = err == GW_ENOMEM ? GW_ENOMEM : fail(u, what, NULL);
	return rc;
}

static int copy_daily(struct gw_uploader *u, const struct gw_batch *b,
		      const char *day)
{
	struct copybuf cb = { 0 };
	int rc = copy_begin(u, "COPY of daily registers", SQL_COPY_DAILY);

	if (rc)
		return rc;
	for (size_t i = 0; i < b->n_days && rc == 0; i++) {
		const struct gw_day_register *d = &b->days[i];
		const char *q = gw_quality_name((enum gw_quality)d->quality);

		cb_text(&cb, d->meter_id);
		cb_sep(&cb, '\t');
		cb_text(&cb, day);
		cb_sep(&cb, '\t');
		cb_text(&cb, d->obis);
		cb_sep(&cb, '\t');
		cb_text_or_null(&cb, gw_unit_name((enum gw_unit)d->unit));
		cb_sep(&cb, '\t');
		cb_i64(&cb, d->start_value);
		cb_sep(&cb, '\t');
		cb_i64(&cb, d->end_value);
		cb_sep(&cb, '\t');
		cb_i64(&cb, d->consumption);
		cb_sep(&cb, '\t');
		/* An unknown code goes to the server as NULL, which it refuses:
		 * the batch fails as a whole, with the server's message. */
		cb_text_or_null(&cb, q);
		cb_sep(&cb, '\t');
		cb_i64(&cb, d->readings);
		cb_sep(&cb, '\t');
		cb_i64(&cb, d->minutes_missing);
		cb_sep(&cb, '\t');
		cb_i64(&cb, b->revision);
		cb_sep(&cb, '\t');
		cb_text(&cb, b->gateway_id);
		cb_sep(&cb, '\n');
		if (cb.len >= COPY_CHUNK)
			rc = cb_flush(u, &cb);
	}
	if (rc == 0)
		rc = cb_flush(u, &cb);
	free(cb.p);
	return copy_end(u, "COPY of daily registers", rc);
}

static int copy_interval(struct gw_uploader *u, const struct gw_batch *b)
{
	struct copybuf cb = { 0 };
	char ts[40];
	int rc = copy_begin(u, "COPY of interval readings", SQL_COPY_INTERVAL);

	if (rc)
		return rc;
	for (size_t i = 0; i < b->n_series && rc == 0; i++) {
		const struct gw_series *s = &b->series[i];

		for (uint32_t k = 0; k < s->n && rc == 0; k++) {
			cb_text(&cb, s->meter_id);
			cb_sep(&cb, '\t');
			cb_text(&cb, s->obis);
			cb_sep(&cb, '\t');
			/* "YYYY-MM-DDTHH:MM:SS.mmmZ": ISO 8601 in UTC. */
			cb_text(&cb, gw_format_utc(s->ts_ms[k], ts, sizeof(ts)));
			cb_sep(&cb, '\t');
			cb_i64(&cb, s->value[k]);
			cb_sep(&cb, '\t');
			cb_i64(&cb, s->scale);
			cb_sep(&cb, '\t');
			cb_text_or_null(&cb, gw_unit_name((enum gw_unit)s->unit));
			cb_sep(&cb, '\n');
			if (cb.len >= COPY_CHUNK)
				rc = cb_flush(u, &cb);
		}
	}
	if (rc == 0)
		rc = cb_flush(u, &cb);
	free(cb.p);
	return copy_end(u, "COPY of interval readings", rc);
}

/* Checks, for a batch found in the ledger, that it is the same file. */
static void check_ledger_crc(struct gw_uploader *u, const char *const *key,
			     uint32_t crc, const char *day,
			     const struct gw_batch *b)
{
	PGresult *res = PQexecParams(u->conn, SQL_LEDGER_CRC, 3, NULL, key,
				     NULL, NULL, 0);

	if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1) {
		uint32_t stored = (uint32_t)strtoull(PQgetvalue(res, 0, 0), NULL, 10);

		if (stored != crc)
			gw_warn("database: batch %s %s r%" PRIu32 " was applied "
				"with CRC %08" PRIx32 ", this file has %08" PRIx32
				"; keeping the applied one",
				b->gateway_id, day, b->revision, stored, crc);
	}
	PQclear(res);
}

int gw_upload_batch(struct gw_uploader *u, const struct gw_batch *b,
		    uint32_t crc)
{
	char day[16], rev[16], crcs[16], created[24], nd[24], ni[24];
	const char *params[8];
	uint64_t n_interval = 0;
	int rc, applied = 0;

	if (!u || !b)
		return GW_EINVAL;
	for (size_t i = 0; i < b->n_series; i++)
		n_interval += b->series[i].n;
	rc = ensure_connected(u);
	if (rc)
		return rc;

	gw_day_format(b->day, day, sizeof(day));
	snprintf(rev, sizeof(rev), "%" PRIu32, b->revision);
	snprintf(crcs, sizeof(crcs), "%" PRIu32, crc);
	snprintf(created, sizeof(created), "%" PRId64, b->created_ms);
	snprintf(nd, sizeof(nd), "%zu", b->n_days);
	snprintf(ni, sizeof(ni), "%" PRIu64, n_interval);

	if (PQtransactionStatus(u->conn) != PQTRANS_IDLE)
		rollback(u); /* left over from an interrupted call */
	if (!u->conn)
		return GW_ECONN;
	rc = exec_simple(u, "BEGIN", "BEGIN");
	if (rc)
		return rc;

	params[0] = b->gateway_id;
	params[1] = b->timezone[0] ? b->timezone : NULL;
	rc = exec_params(u, "insert of the gateway", SQL_GATEWAY, 2, params, NULL);
	if (rc)
		goto out;

	params[0] = b->gateway_id;
	params[1] = day;
	params[2] = rev;
	params[3] = crcs;
	params[4] = b->timezone[0] ? b->timezone : NULL;
	params[5] = created;
	params[6] = nd;
	params[7] = ni;
	rc = exec_params(u, "insert into batch_ledger", SQL_LEDGER, 8, params,
			 &applied);
	if (rc)
		goto out;
	if (applied == 0) {
		check_ledger_crc(u, params, crc, day, b);
		gw_info("database: batch %s %s r%" PRIu32 " was applied before",
			b->gateway_id, day, b->revision);
		rollback(u);
		return 0;
	}

	rc = copy_daily(u, b, day);
	if (rc == 0)
		rc = copy_interval(u, b);
	if (rc)
		goto out;
	params[0] = b->gateway_id;
	params[1] = day;
	rc = exec_params(u, "insert of meters", SQL_METERS, 2, params, NULL);
	if (rc == 0)
		rc = exec_simple(u, "insert into daily_registers", SQL_DAILY);
	if (rc == 0)
		rc = exec_simple(u, "insert into interval_readings",
				 SQL_INTERVAL);
	if (rc == 0)
		rc = exec_simple(u, "COMMIT", "COMMIT");
	if (rc == 0) {
		gw_debug("database: applied batch %s %s r%" PRIu32
			 " (%zu daily, %" PRIu64 " interval rows)",
			 b->gateway_id, day, b->revision, b->n_days, n_interval);
		return 1;
	}
out:
	rollback(u);
	return rc;
}

/* Reads one batch file and uploads it. Returns 1 or 0 as gw_upload_batch,
 * or a negative code; *decode_err tells a file that could not be read or
 * decoded, which the caller logs (database errors are logged already). */
static int upload_file(struct gw_uploader *u, const char *path,
		       int *decode_err)
{
	struct gw_batch *b = NULL;
	uint32_t crc = 0;
	int rc = gw_batch_read_file(path, &b, &crc);

	*decode_err = 0;
	if (rc < 0) {
		*decode_err = rc == GW_ECORRUPT || rc == GW_EVERSION;
		return rc;
	}
	rc = gw_upload_batch(u, b, crc);
	gw_batch_free(b);
	return rc;
}

int gw_upload_spool(struct gw_uploader *u, const char *spool_dir)
{
	char path[GW_PATH_MAX];
	char **names = NULL;
	int n, moved = 0, rc = 0, decode_err;

	if (!u || !spool_dir)
		return GW_EINVAL;
	/* A spool copied off a gateway may hold only ready/. */
	rc = gw_spool_open(spool_dir);
	if (rc < 0)
		return rc;
	n = gw_spool_list(spool_dir, "ready", &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/ready/%s", spool_dir,
			     names[i]) >= (int)sizeof(path)) {
			rc = GW_EINVAL;
			gw_err("upload: path too long: %s/ready/%s", spool_dir,
			       names[i]);
			break;
		}
		rc = upload_file(u, path, &decode_err);
		if (rc < 0 && decode_err) {
			/* Retrying cannot help a file that does not decode. */
			gw_warn("upload: %s: %s; moving it to quarantine/",
				names[i], gw_strerror(rc));
			rc = gw_spool_quarantine(spool_dir, names[i]);
			if (rc < 0)
				break;
			continue;
		}
		if (rc < 0) {
			if (rc != GW_EDB && rc != GW_ECONN)
				gw_err("upload: %s: %s", path, gw_strerror(rc));
			break;
		}
		rc = gw_spool_mark_done(spool_dir, names[i]);
		if (rc < 0)
			break;
		moved++;
	}
	gw_spool_list_free(names, n);
	if (rc < 0 && moved == 0)
		return rc;
	return moved;
}

int gw_upload_files(struct gw_uploader *u, char *const *paths, int n)
{
	int count = 0, decode_err;

	if (!u || (n > 0 && !paths))
		return GW_EINVAL;
	for (int i = 0; i < n; i++) {
		int rc = upload_file(u, paths[i], &decode_err);

		if (rc < 0) {
			if (rc != GW_EDB && rc != GW_ECONN)
				gw_err("upload: %s: %s", paths[i], gw_strerror(rc));
			return rc;
		}
		count++;
	}
	return count;
}
