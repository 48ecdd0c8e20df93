/* SPDX-License-Identifier: MIT */
/*
 * upload.c - loads sealed batches into PostgreSQL with libpq, exactly once.
 *
 * One transaction per batch, sent as two query strings:
 *
 *     BEGIN;
 *     COPY pg_temp.gw_stage FROM STDIN (FORMAT binary);
 *     SELECT status, stored_crc, target, ts_from, ts_to FROM gw_begin_batch(true)
 *
 * and, once the server has said where the interval readings go:
 *
 *     COPY public.interval_readings_2026_02 (...) FROM STDIN (FORMAT binary);
 *     COPY public.interval_readings_2026_03 (...) FROM STDIN (FORMAT binary);
 *     SELECT gw_end_batch();
 *     COMMIT
 *
 * so a batch costs a handful of round trips however large it is. The
 * staging table is a temporary table of the session, made by
 * gw_stage_open() on connect. gw_begin_batch() (schema/004_*.sql) runs as
 * the schema's owner: it checks that the session's role may load this
 * gateway and its meters, inserts the ledger row (gateway, day, revision,
 * CRC) first and then the meters, daily registers and events, and answers
 * with one row per UTC month of the readings: the month's partition of
 * interval_readings and its bounds. The readings go there by COPY, which
 * writes whole pages at a time (an INSERT ... SELECT from staging costs
 * half as much again); a trigger on each partition refuses rows of meters
 * that are not the batch's. gw_end_batch() checks that every reading the
 * header promised arrived.
 *
 * If the ledger row existed already the batch was applied before (the
 * process died between COMMIT and moving the file to done/): the server
 * says "duplicate", nothing is changed and no reading is sent. A later
 * revision of a day, or a first revision some of whose readings are
 * stored already (the COPY fails on the primary key and the batch is
 * loaded again), goes through pg_temp.gw_stage_interval instead, and
 * gw_end_batch() moves the rows, keeping the stored ones. A later revision
 * replaces the daily registers of earlier revisions in the same
 * transaction, so readers see the old day or the new one, never a mix.
 *
 * COPY is binary: integers and times go as they are, text without any
 * escaping, and no SQL text contains a value (the only names in SQL text
 * are table names the server chose). If the connection is lost, the server
 * rolls back what it had; if it is lost during COMMIT, the ledger decides
 * on the next attempt.
 *
 * This file is the batch's transaction and what its answers mean. The
 * uploader's other files: upload_conn.c (the connection, its session,
 * TLS and the cancel), upload_copy.c (a batch as COPY data) and
 * upload_spool.c (the passes over ready/ and over named files);
 * upload_int.h is what they share.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "batch.h"
#include "bytes.h"
#include "gw.h"
#include "tz.h"
#include "upload.h"
#include "upload_int.h"

/* Before a batch's transaction, in one of its own: the partitions of the
 * batch's months (schema 006; a no-op where they are made ahead). */
static const char SQL_PREPARE[] =
	"SELECT gw_prepare_batch($1::date, $2::timestamptz, $3::timestamptz)";

/* The first query string of a batch; "%s" is true (readings straight into
 * the month partitions) or false (through the staging table). */
static const char SQL_BEGIN[] =
	"BEGIN;"
	"COPY pg_temp.gw_stage (k, meter_id, obis, day, ts, ts2, v1, v2, v3,"
	" n1, n2, n3, unit, quality, detail) FROM STDIN (FORMAT binary);"
	"SELECT status, stored_crc, target, ts_from, ts_to FROM gw_begin_batch(%s)";

/* The second: one COPY per target the server named, then the end. */
static const char SQL_COPY_INTERVAL[] =
	"COPY %s (meter_id, obis, ts, value, scale, unit) FROM STDIN (FORMAT binary);";
static const char SQL_END[] = "SELECT gw_end_batch();COMMIT";

/* What came back from a batch's two query strings. */
struct outcome {
	int copies;          /* COPY streams sent in the current string */
	int committed;       /* "COMMIT" completed */
	int applied;         /* 1 applied, 0 duplicate, -1 no answer */
	int lost;            /* the session cannot go on */
	int err;             /* first GW_E* of ours (building, sending) */
	uint32_t stored_crc; /* for a duplicate */
	struct gw_upload_target tg[GW_UPLOAD_MAX_TARGETS];
	int n_tg;            /* targets of the readings (0: none to send) */
	size_t sent;         /* interval rows sent */
	char sqlstate[6];    /* of the first server error */
	char msg[1024];      /* first server error */
};

static void note_error(struct gw_uploader *u, struct outcome *o,
		       const PGresult *res)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (!m || !*m)
		m = PQerrorMessage(u->conn);
	if (!o->msg[0]) {
		gw_upload_pq_msg(m, o->msg, sizeof(o->msg));
		gw_strlcpy(o->sqlstate, st ? st : "", sizeof(o->sqlstate));
	}
	if (gw_upload_session_lost(u->conn, res))
		o->lost = 1;
}

/* A table name as the server wrote it (format('%I.%I')): letters, digits,
 * '_', '.' and quotes only, so that it cannot end the statement. */
static int table_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '"'))
			return 0;
	}
	return 1;
}

/* Reads gw_begin_batch()'s answer into *o. */
static void read_begin(const PGresult *res, struct outcome *o)
{
	int n = PQntuples(res);

	if (PQnfields(res) != 5 || n < 1 || n > GW_UPLOAD_MAX_TARGETS) {
		if (!o->err)
			o->err = GW_EPROTO;
		return;
	}
	o->applied = strcmp(PQgetvalue(res, 0, 0), "applied") == 0;
	if (!PQgetisnull(res, 0, 1))
		o->stored_crc = (uint32_t)strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	for (int r = 0; r < n && o->applied == 1; r++) {
		struct gw_upload_target *t = &o->tg[o->n_tg];

		if (PQgetisnull(res, r, 2))
			continue; /* no readings */
		if (strlen(PQgetvalue(res, r, 2)) >= sizeof(t->table) ||
		    !table_name_ok(PQgetvalue(res, r, 2))) {
			if (!o->err)
				o->err = GW_EPROTO;
			return;
		}
		gw_strlcpy(t->table, PQgetvalue(res, r, 2), sizeof(t->table));
		t->has_from = !PQgetisnull(res, r, 3);
		t->has_to = !PQgetisnull(res, r, 4);
		t->from = t->has_from ? strtoll(PQgetvalue(res, r, 3), NULL, 10) : 0;
		t->to = t->has_to ? strtoll(PQgetvalue(res, r, 4), NULL, 10) : 0;
		o->n_tg++;
	}
}

/* Serves the COPY the server waits for: the staged batch (the first COPY
 * of stage = 1) or the interval readings of the next target. An error of
 * ours goes into *o and aborts the COPY, which fails the transaction. */
static void serve_copy(struct gw_uploader *u, struct gw_wbuf *cb,
		       const struct gw_batch *b, uint32_t crc, int stage,
		       size_t n_interval, struct outcome *o)
{
	int rc = o->err;
	const char *why = "client could not send the batch";

	if (rc == 0 && stage && o->copies == 0)
		rc = gw_upload_copy_stage(u->conn, cb, b, crc);
	else if (rc == 0 && !stage && o->copies < o->n_tg)
		rc = gw_upload_copy_interval(u->conn, cb, b, &o->tg[o->copies],
					     &o->sent);
	else if (rc == 0)
		rc = GW_EPROTO;
	/* After the last target every reading must have gone to one of
	 * them. */
	if (rc == 0 && !stage && o->copies == o->n_tg - 1 &&
	    o->sent != n_interval) {
		rc = GW_EPROTO;
		why = "the server's ranges do not cover the batch's readings";
	}
	cb->n = 0;
	if (rc && !o->err)
		o->err = rc;
	if (rc == GW_EIO)
		o->lost = 1; /* PQputCopyData failed */
	o->copies++;
	/* The server skips the rest of the string after a failed COPY. */
	if (PQputCopyEnd(u->conn, rc ? why : NULL) != 1) {
		note_error(u, o, NULL);
		o->lost = 1;
	}
}

/* Sends a query string and serves its COPYs: the first with the staged
 * batch (stage = 1), or the interval readings, one target each. Collects
 * the answers into *o. */
static void run_query(struct gw_uploader *u, const char *sql,
		      const struct gw_batch *b, uint32_t crc, int stage,
		      size_t n_interval, struct outcome *o)
{
	struct gw_wbuf cb = { 0 };
	PGresult *res;

	o->copies = 0;
	if (gw_upload_cancelled(u)) {
		/* gatewayd is stopping: no new query. */
		if (!o->msg[0]) {
			gw_strlcpy(o->msg, "cancelled: the gateway is stopping", sizeof(o->msg));
			gw_strlcpy(o->sqlstate, "57014", sizeof(o->sqlstate));
		}
		return;
	}
	if (!PQsendQuery(u->conn, sql)) {
		note_error(u, o, NULL);
		o->lost = 1;
		return;
	}
	while ((res = PQgetResult(u->conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_COPY_IN:
			serve_copy(u, &cb, b, crc, stage, n_interval, o);
			break;
		case PGRES_COMMAND_OK:
			if (strcmp(PQcmdStatus(res), "COMMIT") == 0)
				o->committed = 1;
			break;
		case PGRES_TUPLES_OK:
			if (stage)
				read_begin(res, o);
			break; /* gw_end_batch() returns one empty row */
		default:
			note_error(u, o, res);
			break;
		}
		PQclear(res);
		if (o->lost && PQstatus(u->conn) != CONNECTION_OK)
			break;
	}
	free(cb.p);
	if (PQstatus(u->conn) != CONNECTION_OK)
		o->lost = 1;
}

/* Whether the server's error says that the batch's data can never be
 * loaded as it is: a data exception (class 22: a value out of range, an
 * inconsistent batch, a day outside what the database accepts, a time
 * zone other than the gateway's) or an integrity constraint (class 23: a
 * check failed), other than a unique key, which a concurrent loader can
 * cause.
 * A refused privilege, a missing function (an old schema), a lost
 * connection or a deadlock are for the database's people to mend, or
 * pass: the batch waits for them. */
static int refused_for_good(const char *sqlstate)
{
	if (strncmp(sqlstate, "22", 2) == 0)
		return 1;
	/* Larger than the limits of this gateway's role (batch size, temp
	 * files): the same batch is as large next time. */
	if (strcmp(sqlstate, "54000") == 0 || strcmp(sqlstate, "53400") == 0)
		return 1;
	return strncmp(sqlstate, "23", 2) == 0 && strcmp(sqlstate, "23505") != 0;
}

/* The first and last reading of the batch (Unix ms); 0 if it has none. */
static int batch_ts_range(const struct gw_batch *b, int64_t *lo, int64_t *hi)
{
	int have = 0;

	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];

		for (uint32_t k = 0; k < s->n; k++) {
			if (!have || s->ts_ms[k] < *lo)
				*lo = s->ts_ms[k];
			if (!have || s->ts_ms[k] > *hi)
				*hi = s->ts_ms[k];
			have = 1;
		}
	}
	return have;
}

/* Before the batch's transaction, in a short one of its own: the
 * partitions of the months of the batch's readings (gw_prepare_batch,
 * schema 006), which also checks the batch's day. Values go binary, so
 * that a day far in the past or future reaches the server as it is and
 * is refused with the server's reason. A database without the function
 * (a schema before 006) makes partitions inside gw_begin_batch. */
static void prepare_batch(struct gw_uploader *u, const struct gw_batch *b,
			  struct outcome *o)
{
	static const Oid types[3] = { 1082, 1184, 1184 }; /* date, timestamptz x2 */
	static const int formats[3] = { 1, 1, 1 }, lengths[3] = { 4, 8, 8 };
	uint8_t day[4], from[8], to[8];
	const char *vals[3] = { (const char *)day, NULL, NULL };
	int64_t lo = 0, hi = 0;
	const char *st;
	PGresult *res;

	gw_be_put(day, (uint32_t)(b->day - PG_EPOCH_DAY), 4);
	if (batch_ts_range(b, &lo, &hi)) {
		gw_be_put(from, (uint64_t)((lo - PG_EPOCH_MS) * 1000), 8);
		gw_be_put(to, (uint64_t)((hi - PG_EPOCH_MS) * 1000), 8);
		vals[1] = (const char *)from;
		vals[2] = (const char *)to;
	}
	if (gw_upload_cancelled(u)) {
		run_query(u, "", b, 0, 0, 0, o); /* notes the cancel */
		return;
	}
	res = PQexecParams(u->conn, SQL_PREPARE, 3, types, vals, lengths, formats, 0);
	st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (PQresultStatus(res) != PGRES_TUPLES_OK && !(st && strcmp(st, "42883") == 0))
		note_error(u, o, res);
	PQclear(res);
}

/* Loads the batch in one transaction (see the top of the file); direct
 * says whether its readings may go straight into the partitions. */
static void run_batch(struct gw_uploader *u, const struct gw_batch *b,
		      uint32_t crc, int direct, size_t n_interval,
		      struct outcome *o)
{
	char sql[sizeof(SQL_COPY_INTERVAL) * GW_UPLOAD_MAX_TARGETS + 256];
	size_t len = 0;

	snprintf(sql, sizeof(sql), SQL_BEGIN, direct ? "true" : "false");
	run_query(u, sql, b, crc, 1, n_interval, o);
	if (o->lost || o->err || o->msg[0] || o->applied < 0)
		return;
	if (o->applied == 0) {
		/* A duplicate: only gateways.last_seen changed. */
		run_query(u, "COMMIT", b, crc, 0, n_interval, o);
		return;
	}
	if (o->n_tg == 0 && n_interval > 0) {
		o->err = GW_EPROTO;
		return;
	}
	for (int i = 0; i < o->n_tg; i++)
		len += (size_t)snprintf(sql + len, sizeof(sql) - len,
					SQL_COPY_INTERVAL, o->tg[i].table);
	snprintf(sql + len, sizeof(sql) - len, "%s", SQL_END);
	run_query(u, sql, b, crc, 0, n_interval, o);
}

/* Loads the batch: partitions first, then its transaction with the
 * readings straight into the partitions, and once more through the
 * staging table if some of them are stored already. Returns 0 with the
 * answers in *o, or GW_ECONN if the connection went on the way. */
static int load_batch(struct gw_uploader *u, const struct gw_batch *b,
		      uint32_t crc, const char *day, size_t n_interval,
		      struct outcome *o)
{
	memset(o, 0, sizeof(*o));
	o->applied = -1;
	prepare_batch(u, b, o);
	if (!o->msg[0] && !o->lost)
		run_batch(u, b, crc, 1, n_interval, o);
	if (!o->committed && !o->lost && strcmp(o->sqlstate, "23505") == 0) {
		/* Some of the readings are stored already (a meter that moved
		 * between gateways, a load profile read twice): load the batch
		 * again through the staging table, keeping the stored ones. */
		gw_info("database: batch %s %s r%" PRIu32 " meets stored readings; "
			"loading it again keeping them", b->gateway_id, day,
			b->revision);
		gw_upload_rollback(u);
		if (!u->conn)
			return GW_ECONN;
		memset(o, 0, sizeof(*o));
		o->applied = -1;
		run_batch(u, b, crc, 0, n_interval, o);
	}
	return 0;
}

/* A batch that did not commit: logs why, rolls back, and returns what
 * gw_upload_batch returns then (GW_ECONN, GW_ENOMEM, GW_EREFUSED or
 * GW_EDB). */
static int batch_failed(struct gw_uploader *u, const struct gw_batch *b,
			const char *day, const struct outcome *o)
{
	/* A failure the next pass meets again (a lost connection, a server
	 * error) is said on the 1st, 2nd, 4th ... in a row; a batch refused
	 * for good (set aside) always. */
	unsigned long quiet = 0;
	int again = !gw_upload_cancelled(u) &&
		    (o->lost || o->err == GW_ENOMEM || !refused_for_good(o->sqlstate));
	if (again && !gw_logrl_fail(&u->load_rl, &quiet)) {
		gw_debug("database: batch %s %s r%" PRIu32 " failed again (%lu in a row)",
			 b->gateway_id, day, b->revision, gw_logrl_count(&u->load_rl));
		gw_strlcpy(u->last_msg, o->msg, sizeof(u->last_msg));
		if (o->lost) {
			gw_upload_disconnect(u);
			return GW_ECONN;
		}
		gw_upload_rollback(u);
		if (o->err == GW_ENOMEM)
			return GW_ENOMEM;
		return GW_EDB;
	}
	if (again && gw_logrl_count(&u->load_rl) > 1)
		gw_warn("database: batch loads failed %lu times in a row (%lu not "
			"logged since the last)", gw_logrl_count(&u->load_rl), quiet);
	if (o->err == GW_ENOMEM)
		gw_err("database: out of memory building batch %s %s r%" PRIu32,
		       b->gateway_id, day, b->revision);
	if (o->lost) {
		gw_err("database: connection lost loading batch %s %s r%" PRIu32
		       ": %s", b->gateway_id, day, b->revision,
		       o->msg[0] ? o->msg : "no answer");
		gw_upload_disconnect(u);
		return GW_ECONN;
	}
	gw_strlcpy(u->last_msg, o->msg, sizeof(u->last_msg));
	if (gw_upload_cancelled(u)) {
		gw_info("database: batch %s %s r%" PRIu32 " cancelled, the gateway "
			"is stopping: nothing of it is committed, it stays in ready/",
			b->gateway_id, day, b->revision);
		gw_upload_rollback(u);
		return GW_ECONN;
	}
	if (o->msg[0] && strcmp(o->sqlstate, "42883") == 0)
		gw_err("database: batch %s %s r%" PRIu32 " refused: %s (the "
		       "database's schema is older than this gateway: run "
		       "gwctl db migrate)", b->gateway_id, day, b->revision, o->msg);
	else if (o->msg[0])
		gw_err("database: batch %s %s r%" PRIu32 " refused: %s",
		       b->gateway_id, day, b->revision, o->msg);
	else if (o->err == GW_EPROTO || !o->err)
		gw_err("database: batch %s %s r%" PRIu32 ": unexpected answer "
		       "(is the schema migrated?)", b->gateway_id, day, b->revision);
	gw_upload_rollback(u);
	if (o->err == GW_ENOMEM)
		return GW_ENOMEM;
	return refused_for_good(o->sqlstate) ? GW_EREFUSED : GW_EDB;
}

int gw_upload_batch(struct gw_uploader *u, const struct gw_batch *b,
		    uint32_t crc)
{
	struct outcome o;
	char day[16];
	size_t n_interval = 0;
	int rc;

	if (!u || !b)
		return GW_EINVAL;
	rc = gw_upload_connect(u);
	if (rc)
		return rc;
	gw_upload_rollback(u); /* left over from an interrupted call */
	if (!u->conn)
		return GW_ECONN;
	gw_day_format(b->day, day, sizeof(day));
	for (size_t i = 0; i < b->n_series; i++)
		n_interval += b->series[i].n;

	u->held_now[0] = '\0';
	gw_upload_note_progress(u);
	rc = load_batch(u, b, crc, day, n_interval, &o);
	if (rc)
		return rc;

	gw_upload_note_progress(u);
	if (o.committed && !o.err && !o.msg[0] && (o.applied == 0 || o.applied == 1)) {
		unsigned long n = gw_logrl_ok(&u->load_rl);
		if (n)
			gw_info("database: batches load again after %lu failed attempt%s",
				n, n == 1 ? "" : "s");
	}
	if (o.committed && o.applied == 1 && !o.err && !o.msg[0]) {
		gw_strlcpy(u->held_last, u->held_now, sizeof(u->held_last));
		u->rows += b->n_days + n_interval + b->n_events;
		gw_debug("database: applied batch %s %s r%" PRIu32
			 " (%zu daily, %zu interval rows, %zu events)",
			 b->gateway_id, day, b->revision, b->n_days, n_interval,
			 b->n_events);
		return 1;
	}
	if (o.committed && o.applied == 0 && !o.err && !o.msg[0]) {
		if (o.stored_crc != crc)
			gw_warn("database: batch %s %s r%" PRIu32 " was applied "
				"with CRC %08" PRIx32 ", this file has %08" PRIx32
				"; keeping the applied one",
				b->gateway_id, day, b->revision, o.stored_crc, crc);
		gw_info("database: batch %s %s r%" PRIu32 " was applied before",
			b->gateway_id, day, b->revision);
		return 0;
	}
	return batch_failed(u, b, day, &o);
}
