/* SPDX-License-Identifier: MIT */
/*
 * upload.c - loads sealed batches into PostgreSQL with libpq, exactly once.
 *
 * One transaction per batch, sent as one query string:
 *
 *     BEGIN;
 *     COPY pg_temp.gw_stage FROM STDIN (FORMAT binary);
 *     COPY pg_temp.gw_stage_interval FROM STDIN (FORMAT binary);
 *     SELECT status, stored_crc FROM gw_apply_staged();
 *     COMMIT
 *
 * so that a batch costs about three round trips however large it is (the
 * wait for each COPY to start, and the results at the end). The staging
 * tables are temporary tables of the session, made by gw_stage_open() on
 * connect; gw_apply_staged() (schema/003_roles_rls_loader.sql) runs as the
 * schema's owner, checks that the session's role may load this gateway
 * and its meters, inserts the ledger row (gateway, day, revision, CRC)
 * first and then the meters, daily registers, interval readings and
 * events. If the ledger row existed already the batch was applied before
 * (the process died between COMMIT and moving the file to done/): the
 * function changes nothing and says "duplicate". A later revision of a day
 * replaces the daily registers of earlier revisions in the same
 * transaction, so readers see the old day or the new one, never a mix.
 * The gateway's role needs no privilege on any table.
 *
 * COPY is binary: integers and times go as they are, text without any
 * escaping, and no SQL text contains a value. If the connection is lost,
 * the server rolls back what it had; if it is lost during COMMIT, the
 * ledger decides on the next attempt.
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

/* Growing buffer of COPY data, sent in chunks of about COPY_CHUNK bytes. */
struct copybuf {
	unsigned char *p;
	size_t len, cap;
	int oom;
};

#define COPY_CHUNK (256 * 1024)

/* PostgreSQL's epoch (2000-01-01) in Unix milliseconds and civil days. */
#define PG_EPOCH_MS INT64_C(946684800000)
#define PG_EPOCH_DAY 10957

/* temp_buffers must be set before the session first touches a temporary
 * table: the staging tables of a large batch then stay in memory instead
 * of being written out and read back (the default is 8 MB). */
static const char SQL_STAGE_OPEN[] =
	"SET temp_buffers = '256MB'; SELECT gw_stage_open()";

static const char SQL_BATCH[] =
	"BEGIN;"
	"COPY pg_temp.gw_stage (k, meter_id, obis, day, ts, ts2, v1, v2, v3,"
	" n1, n2, n3, unit, quality, detail) FROM STDIN (FORMAT binary);"
	"COPY pg_temp.gw_stage_interval (meter_id, obis, ts, value, scale, unit)"
	" FROM STDIN (FORMAT binary);"
	"SELECT status, stored_crc FROM gw_apply_staged();"
	"COMMIT";

#define STAGE_FIELDS 15
#define INTERVAL_FIELDS 6

struct gw_uploader *gw_uploader_new(const char *conninfo)
{
	struct gw_uploader *u = calloc(1, sizeof(*u));
	PQconninfoOption *opts;

	if (!u)
		return NULL;
	u->conninfo = strdup(conninfo ? conninfo : "");
	if (!u->conninfo) {
		free(u);
		return NULL;
	}
	/* A password written into the connection string ends up in config
	 * files, process listings and shell histories. */
	opts = PQconninfoParse(u->conninfo, NULL);
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (strcmp(o->keyword, "password") == 0 && o->val && *o->val)
			gw_warn("database: the connection string holds a password; "
				"use a password file (passfile=, PGPASSFILE) or a "
				"client certificate instead");
	}
	PQconninfoFree(opts);
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

/* Server notices go to debug. */
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
 * With several hosts and target_session_attrs=read-write in the conninfo,
 * libpq tries them in turn and takes the one that accepts writes, which is
 * how a promoted standby is found after a failover. Returns 0, GW_ECONN,
 * or GW_EDB (connected, but the staging tables cannot be made: the role
 * lacks EXECUTE on gw_stage_open, or the schema is too old). */
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

	res = PQexec(u->conn, SQL_STAGE_OPEN);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		int gone = PQstatus(u->conn) != CONNECTION_OK;

		gw_err("database: cannot make the staging tables: %s",
		       pq_msg(PQresultErrorMessage(res), buf, sizeof(buf)));
		PQclear(res);
		disconnect(u);
		return gone ? GW_ECONN : GW_EDB;
	}
	PQclear(res);
	return 0;
}

/* Whether an error means "this server, this session, cannot go on" rather
 * than "this batch was refused": the connection is gone, the server shuts
 * down or is starting, or it is (now) a read-only standby. The caller
 * disconnects and the next attempt connects afresh, possibly elsewhere. */
static int session_lost(PGconn *conn, const PGresult *res)
{
	const char *st = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

	if (PQstatus(conn) != CONNECTION_OK)
		return 1;
	if (!st)
		return 0;
	return strncmp(st, "08", 2) == 0 ||   /* connection exception */
	       strncmp(st, "57P", 3) == 0 ||  /* admin shutdown, crash, starting */
	       strcmp(st, "25006") == 0;      /* read-only transaction */
}

/* Ends a failed transaction. A failure here means the connection is bad;
 * the server rolls back by itself then. */
static void rollback(struct gw_uploader *u)
{
	PGresult *res;

	if (!u->conn)
		return;
	if (PQtransactionStatus(u->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(u->conn, "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		disconnect(u);
	PQclear(res);
}

/* --- binary COPY ---------------------------------------------------- */

static void cb_reserve(struct copybuf *cb, size_t more)
{
	size_t cap;
	unsigned char *p;

	if (cb->oom || cb->len + more <= cb->cap)
		return;
	cap = cb->cap ? cb->cap : COPY_CHUNK + 4096;
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

static void cb_raw(struct copybuf *cb, const void *s, size_t n)
{
	cb_reserve(cb, n);
	if (cb->oom)
		return;
	memcpy(cb->p + cb->len, s, n);
	cb->len += n;
}

/* Big-endian integers, as the binary COPY format wants them. */
static void cb_be(struct copybuf *cb, uint64_t v, int bytes)
{
	unsigned char b[8];

	for (int i = 0; i < bytes; i++)
		b[i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
	cb_raw(cb, b, (size_t)bytes);
}

static void cb_header(struct copybuf *cb)
{
	static const unsigned char sig[11] = "PGCOPY\n\377\r\n";

	cb_raw(cb, sig, sizeof(sig)); /* includes the final '\0' */
	cb_be(cb, 0, 4);              /* flags: no OIDs */
	cb_be(cb, 0, 4);              /* no header extension */
}

static void cb_trailer(struct copybuf *cb)
{
	cb_be(cb, 0xFFFF, 2);
}

static void cb_tuple(struct copybuf *cb, int fields)
{
	cb_be(cb, (uint64_t)fields, 2);
}

static void f_null(struct copybuf *cb)
{
	cb_be(cb, 0xFFFFFFFFu, 4);
}

/* Text as it is (the server checks that it is valid UTF-8). */
static void f_text(struct copybuf *cb, const char *s)
{
	size_t n = strlen(s);

	cb_be(cb, n, 4);
	cb_raw(cb, s, n);
}

/* Text that may be empty or absent: NULL then. */
static void f_text_or_null(struct copybuf *cb, const char *s)
{
	if (!s || !*s)
		f_null(cb);
	else
		f_text(cb, s);
}

static void f_i64(struct copybuf *cb, int64_t v)
{
	cb_be(cb, 8, 4);
	cb_be(cb, (uint64_t)v, 8);
}

static void f_i16(struct copybuf *cb, int16_t v)
{
	cb_be(cb, 2, 4);
	cb_be(cb, (uint64_t)(uint16_t)v, 2);
}

static void f_char(struct copybuf *cb, char c)
{
	cb_be(cb, 1, 4);
	cb_raw(cb, &c, 1);
}

/* A civil day number (days since 1970-01-01) as a date. */
static void f_date(struct copybuf *cb, int32_t day)
{
	cb_be(cb, 4, 4);
	cb_be(cb, (uint64_t)(uint32_t)(day - PG_EPOCH_DAY), 4);
}

/* Unix milliseconds as a timestamptz (microseconds since 2000-01-01). */
static void f_ts(struct copybuf *cb, int64_t ms)
{
	cb_be(cb, 8, 4);
	cb_be(cb, (uint64_t)((ms - PG_EPOCH_MS) * 1000), 8);
}

static void f_nulls(struct copybuf *cb, int n)
{
	while (n-- > 0)
		f_null(cb);
}

/* Sends what the buffer holds. Returns 0 or a GW_E* code. */
static int cb_flush(struct gw_uploader *u, struct copybuf *cb)
{
	if (cb->oom)
		return GW_ENOMEM;
	if (cb->len == 0)
		return 0;
	if (PQputCopyData(u->conn, (const char *)cb->p, (int)cb->len) != 1)
		return GW_EIO;
	cb->len = 0;
	return 0;
}

static int cb_maybe_flush(struct gw_uploader *u, struct copybuf *cb)
{
	return cb->len >= COPY_CHUNK || cb->oom ? cb_flush(u, cb) : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Streams the gw_stage rows: the header, each distinct meter, the daily
 * registers and the events. Returns 0 or a GW_E* code. */
static int send_stage(struct gw_uploader *u, struct copybuf *cb,
		      const struct gw_batch *b, uint32_t crc)
{
	size_t n_ids = b->n_days + b->n_series + b->n_events, n_interval = 0;
	const char **ids = malloc((n_ids ? n_ids : 1) * sizeof(*ids));
	int64_t first = 0, last = 0;
	int have_ts = 0, rc = 0;
	size_t k = 0;

	if (!ids)
		return GW_ENOMEM;
	for (size_t i = 0; i < b->n_days; i++)
		ids[k++] = b->days[i].meter_id;
	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];

		ids[k++] = s->meter_id;
		n_interval += s->n;
		for (uint32_t j = 0; j < s->n; j++) {
			if (!have_ts || s->ts_ms[j] < first)
				first = s->ts_ms[j];
			if (!have_ts || s->ts_ms[j] > last)
				last = s->ts_ms[j];
			have_ts = 1;
		}
	}
	for (size_t i = 0; i < b->n_events; i++)
		ids[k++] = b->events[i].meter_id;
	qsort(ids, n_ids, sizeof(*ids), cmp_str);

	cb_header(cb);
	/* 'b': the batch */
	cb_tuple(cb, STAGE_FIELDS);
	f_char(cb, 'b');
	f_text(cb, b->gateway_id);
	f_text_or_null(cb, b->timezone);
	f_date(cb, b->day);
	if (have_ts) {
		f_ts(cb, first);
		f_ts(cb, last);
	} else {
		f_nulls(cb, 2);
	}
	f_i64(cb, b->revision);
	f_i64(cb, crc);
	f_i64(cb, b->created_ms);
	f_i64(cb, (int64_t)b->n_days);
	f_i64(cb, (int64_t)n_interval);
	f_i64(cb, (int64_t)b->n_events);
	f_nulls(cb, 3);
	/* 'm': each meter once */
	for (size_t i = 0; i < n_ids && rc == 0; i++) {
		if (i > 0 && strcmp(ids[i], ids[i - 1]) == 0)
			continue;
		cb_tuple(cb, STAGE_FIELDS);
		f_char(cb, 'm');
		f_text(cb, ids[i]);
		f_nulls(cb, STAGE_FIELDS - 2);
		rc = cb_maybe_flush(u, cb);
	}
	free(ids);
	/* 'd': daily registers */
	for (size_t i = 0; i < b->n_days && rc == 0; i++) {
		const struct gw_day_register *d = &b->days[i];

		cb_tuple(cb, STAGE_FIELDS);
		f_char(cb, 'd');
		f_text(cb, d->meter_id);
		f_text(cb, d->obis);
		f_nulls(cb, 3); /* day (the batch's), ts, ts2 */
		f_i64(cb, d->start_value);
		f_i64(cb, d->end_value);
		f_i64(cb, d->consumption);
		f_i64(cb, d->readings);
		f_i64(cb, d->minutes_missing);
		f_null(cb);
		f_text_or_null(cb, gw_unit_name((enum gw_unit)d->unit));
		/* An unknown code goes as NULL, which the server refuses:
		 * the batch fails as a whole, with the server's message. */
		f_text_or_null(cb, gw_quality_name((enum gw_quality)d->quality));
		f_null(cb);
		rc = cb_maybe_flush(u, cb);
	}
	/* 'e': events */
	for (size_t i = 0; i < b->n_events && rc == 0; i++) {
		const struct gw_event *e = &b->events[i];

		cb_tuple(cb, STAGE_FIELDS);
		f_char(cb, 'e');
		f_text(cb, e->meter_id);
		f_text(cb, e->obis);
		f_null(cb);
		f_ts(cb, e->ts_ms);
		f_nulls(cb, 8);
		f_text_or_null(cb, gw_event_name((enum gw_event_kind)e->kind));
		f_text(cb, e->detail);
		rc = cb_maybe_flush(u, cb);
	}
	cb_trailer(cb);
	return rc ? rc : cb_flush(u, cb);
}

/* Streams the interval readings. Returns 0 or a GW_E* code. */
static int send_interval(struct gw_uploader *u, struct copybuf *cb,
			 const struct gw_batch *b)
{
	int rc = 0;

	cb_header(cb);
	for (size_t i = 0; i < b->n_series && rc == 0; i++) {
		const struct gw_series *s = &b->series[i];
		const char *unit = gw_unit_name((enum gw_unit)s->unit);

		for (uint32_t k = 0; k < s->n && rc == 0; k++) {
			cb_tuple(cb, INTERVAL_FIELDS);
			f_text(cb, s->meter_id);
			f_text(cb, s->obis);
			f_ts(cb, s->ts_ms[k]);
			f_i64(cb, s->value[k]);
			f_i16(cb, s->scale);
			f_text_or_null(cb, unit);
			rc = cb_maybe_flush(u, cb);
		}
	}
	cb_trailer(cb);
	return rc ? rc : cb_flush(u, cb);
}

/* What came back from the batch's query string. */
struct outcome {
	int copies;          /* COPY streams sent */
	int committed;       /* "COMMIT" completed */
	int applied;         /* 1 applied, 0 duplicate, -1 no answer */
	int lost;            /* the session cannot go on */
	int err;             /* first GW_E* of ours (building, sending) */
	uint32_t stored_crc; /* for a duplicate */
	char msg[1024];      /* first server error */
};

static void note_error(struct gw_uploader *u, struct outcome *o,
		       const PGresult *res)
{
	const char *m = res ? PQresultErrorMessage(res) : NULL;

	if (!m || !*m)
		m = PQerrorMessage(u->conn);
	if (!o->msg[0])
		pq_msg(m, o->msg, sizeof(o->msg));
	if (session_lost(u->conn, res))
		o->lost = 1;
}

/* Sends the batch's query string and feeds its COPYs; collects what the
 * server answered into *o. */
static void run_batch(struct gw_uploader *u, const struct gw_batch *b,
		      uint32_t crc, struct outcome *o)
{
	struct copybuf cb = { 0 };
	PGresult *res;

	if (!PQsendQuery(u->conn, SQL_BATCH)) {
		note_error(u, o, NULL);
		o->lost = 1;
		return;
	}
	while ((res = PQgetResult(u->conn)) != NULL) {
		switch (PQresultStatus(res)) {
		case PGRES_COPY_IN: {
			int rc = o->err;

			if (rc == 0)
				rc = o->copies == 0 ? send_stage(u, &cb, b, crc)
						    : send_interval(u, &cb, b);
			cb.len = 0;
			if (rc && !o->err)
				o->err = rc;
			if (rc == GW_EIO)
				o->lost = 1; /* PQputCopyData failed */
			o->copies++;
			/* An error of ours aborts the COPY, which fails the
			 * transaction; the server skips the rest. */
			if (PQputCopyEnd(u->conn, rc ? "client could not send the batch"
						       : NULL) != 1) {
				note_error(u, o, NULL);
				o->lost = 1;
			}
			break;
		}
		case PGRES_COMMAND_OK:
			if (strcmp(PQcmdStatus(res), "COMMIT") == 0)
				o->committed = 1;
			break;
		case PGRES_TUPLES_OK:
			if (PQntuples(res) == 1 && PQnfields(res) == 2) {
				o->applied = strcmp(PQgetvalue(res, 0, 0), "applied") == 0;
				if (!PQgetisnull(res, 0, 1))
					o->stored_crc = (uint32_t)strtoull(
						PQgetvalue(res, 0, 1), NULL, 10);
			}
			break;
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

int gw_upload_batch(struct gw_uploader *u, const struct gw_batch *b,
		    uint32_t crc)
{
	struct outcome o = { .applied = -1 };
	char day[16];
	size_t n_interval = 0;
	int rc;

	if (!u || !b)
		return GW_EINVAL;
	rc = ensure_connected(u);
	if (rc)
		return rc;
	rollback(u); /* left over from an interrupted call */
	if (!u->conn)
		return GW_ECONN;
	gw_day_format(b->day, day, sizeof(day));
	for (size_t i = 0; i < b->n_series; i++)
		n_interval += b->series[i].n;

	run_batch(u, b, crc, &o);

	if (o.committed && o.applied == 1 && !o.err && !o.msg[0]) {
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
	if (o.err == GW_ENOMEM)
		gw_err("database: out of memory building batch %s %s r%" PRIu32,
		       b->gateway_id, day, b->revision);
	if (o.lost) {
		gw_err("database: connection lost loading batch %s %s r%" PRIu32
		       ": %s", b->gateway_id, day, b->revision,
		       o.msg[0] ? o.msg : "no answer");
		disconnect(u);
		return GW_ECONN;
	}
	if (o.msg[0])
		gw_err("database: batch %s %s r%" PRIu32 " refused: %s",
		       b->gateway_id, day, b->revision, o.msg);
	else if (!o.err)
		gw_err("database: batch %s %s r%" PRIu32 ": unexpected answer "
		       "(is the schema migrated?)", b->gateway_id, day, b->revision);
	rollback(u);
	return o.err == GW_ENOMEM ? GW_ENOMEM : GW_EDB;
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
