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
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

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
	unsigned refused;         /* batches set aside (GW_EREFUSED) */
	char last_msg[1024];      /* the server's message of the last refusal */
	int tls_default;          /* TCP without sslmode: verify-full added */
	struct gw_upload_limits lim;
	/* Meters the server held in the batch being loaded, and in the last
	 * batch applied (what the alarm names). */
	char held_now[GW_UNASSIGNED_MAX];
	char held_last[GW_UNASSIGNED_MAX];
	/* Shared with the thread that may cancel (gw_uploader_cancel): */
	pthread_mutex_t cancel_lock;
	PGcancel *cancel;         /* of the current connection */
	int sock;                 /* its socket; -1 when none */
	int cancel_sent;          /* a cancel request went to the server */
	int cancelled;            /* no new query, no new file */
	int64_t progress_us;      /* real time of the last batch done or begun */
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
	"SET temp_buffers = '256MB';"
	"SET statement_timeout = %d; SET lock_timeout = %d;"
	"SET idle_in_transaction_session_timeout = %d;"
	"SELECT gw_stage_open()";

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

#define STAGE_FIELDS 15
#define INTERVAL_FIELDS 6

void gw_upload_limits_default(struct gw_upload_limits *l)
{
	l->statement_timeout_ms = 300000;
	l->lock_timeout_ms = 30000;
	l->idle_timeout_ms = 60000;
}

void gw_uploader_set_limits(struct gw_uploader *u,
			    const struct gw_upload_limits *l)
{
	if (u && l)
		u->lim = *l;
}

struct gw_uploader *gw_uploader_new(const char *conninfo)
{
	struct gw_uploader *u = calloc(1, sizeof(*u));
	PQconninfoOption *opts;
	char why[512];
	int tls;

	if (!u)
		return NULL;
	u->conninfo = strdup(conninfo ? conninfo : "");
	if (!u->conninfo) {
		free(u);
		return NULL;
	}
	pthread_mutex_init(&u->cancel_lock, NULL);
	u->sock = -1;
	gw_upload_limits_default(&u->lim);
	tls = gw_db_tls_check(u->conninfo, why, sizeof(why));
	if (tls == GW_TLS_WEAK)
		gw_warn("database: %s", why);
	else if (tls == GW_TLS_REFUSE)
		gw_err("database: %s", why);
	/* Without a CA libpq then refuses to connect, with its reason: never
	 * a connection that is not verified unless asked for in writing. */
	u->tls_default = tls == GW_TLS_DEFAULT || tls == GW_TLS_REFUSE;
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

/* The cancel handle and socket of the current connection (NULL, -1:
 * none), swapped under the lock so that gw_uploader_cancel never uses a
 * closed one. */
static void set_cancel(struct gw_uploader *u, PGcancel *c, int sock)
{
	PGcancel *old;

	pthread_mutex_lock(&u->cancel_lock);
	old = u->cancel;
	u->cancel = c;
	u->sock = sock;
	pthread_mutex_unlock(&u->cancel_lock);
	PQfreeCancel(old);
}

void gw_uploader_free(struct gw_uploader *u)
{
	if (!u)
		return;
	set_cancel(u, NULL, -1);
	PQfinish(u->conn);
	pthread_mutex_destroy(&u->cancel_lock);
	free(u->conninfo);
	free(u);
}

/* Sends a cancel request and frees the handle; in a thread of its own,
 * because PQcancel connects to the server and a dead link would hold the
 * caller for as long as TCP tries. */
static void *cancel_main(void *arg)
{
	PGcancel *c = arg;
	char err[256];

	PQcancel(c, err, sizeof(err));
	PQfreeCancel(c);
	return NULL;
}

int gw_uploader_cancel(struct gw_uploader *u)
{
	pthread_attr_t attr;
	pthread_t t;
	int sent = 0;

	if (!u)
		return 0;
	pthread_mutex_lock(&u->cancel_lock);
	__atomic_store_n(&u->cancelled, 1, __ATOMIC_SEQ_CST);
	if (u->cancel && !u->cancel_sent) {
		/* First the server is asked to cancel the running query, which
		 * then fails in the upload thread and is rolled back. The
		 * request takes the handle with it. */
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		if (pthread_create(&t, &attr, cancel_main, u->cancel) == 0) {
			u->cancel = NULL;
			u->cancel_sent = 1;
			sent = 1;
		}
		pthread_attr_destroy(&attr);
	} else if (u->sock >= 0) {
		/* Asked before and still waiting: the link may be dead, or the
		 * server not answering. Shutting the socket ends the upload
		 * thread's wait at once; the server rolls back what it had (a
		 * COMMIT it had received already stands, and the ledger
		 * tells on the next attempt). */
		shutdown(u->sock, SHUT_RDWR);
	}
	pthread_mutex_unlock(&u->cancel_lock);
	return sent;
}

static int is_cancelled(struct gw_uploader *u)
{
	return __atomic_load_n(&u->cancelled, __ATOMIC_SEQ_CST);
}

static void note_progress(struct gw_uploader *u)
{
	__atomic_store_n(&u->progress_us, gw_real_now_us(), __ATOMIC_SEQ_CST);
}

int64_t gw_uploader_progress_us(struct gw_uploader *u)
{
	return u ? __atomic_load_n(&u->progress_us, __ATOMIC_SEQ_CST) : 0;
}

const char *gw_uploader_unassigned(const struct gw_uploader *u)
{
	return u ? u->held_last : "";
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

/* Server notices go to debug, except the warning that a meter is not
 * assigned to this gateway (SQLSTATE 01G01, the meter id in DETAIL): the
 * meter is noted for the meter_unassigned alarm and logged. */
static void notice(void *arg, const PGresult *res)
{
	struct gw_uploader *u = arg;
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	const char *meter = PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL);
	char buf[512];

	pq_msg(PQresultErrorMessage(res), buf, sizeof(buf));
	if (!st || strcmp(st, "01G01") != 0) {
		gw_debug("database: %s", buf);
		return;
	}
	gw_warn("database: %s", buf);
	if (!meter || !*meter)
		meter = "...";
	size_t len = strlen(u->held_now), n = strlen(meter);
	if (len + n + 2 < sizeof(u->held_now)) {
		if (len)
			u->held_now[len++] = ',';
		memcpy(u->held_now + len, meter, n + 1);
	}
}

static void disconnect(struct gw_uploader *u)
{
	set_cancel(u, NULL, -1);
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
	const char *keys[] = {
		"fallback_application_name", "connect_timeout", "keepalives_idle",
		"keepalives_interval", "keepalives_count", "dbname", NULL, NULL,
	};
	const char *vals[] = { "gw-uploader", "10", "30", "10", "3", NULL, NULL, NULL };
	char buf[1024], sql[sizeof(SQL_STAGE_OPEN) + 64];
	PGresult *res;

	if (u->conn && PQstatus(u->conn) == CONNECTION_OK)
		return 0;
	disconnect(u);
	if (is_cancelled(u))
		return GW_ECONN;
	/* A TCP connection without sslmode verifies the server fully (the
	 * conninfo, given last, overrides none of this then). */
	if (u->tls_default) {
		keys[5] = "sslmode";
		vals[5] = "verify-full";
		keys[6] = "dbname";
		vals[6] = u->conninfo;
	} else {
		vals[5] = u->conninfo;
	}
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
	PQsetNoticeReceiver(u->conn, notice, u);
	set_cancel(u, PQgetCancel(u->conn), PQsocket(u->conn));

	/* The session's limits: no statement, lock wait or idle transaction
	 * of this gateway holds others up for long (the database sets them
	 * for gateway roles too: schema 006). */
	snprintf(sql, sizeof(sql), SQL_STAGE_OPEN, u->lim.statement_timeout_ms,
		 u->lim.lock_timeout_ms, u->lim.idle_timeout_ms);
	res = PQexec(u->conn, sql);
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

/* Where the server wants a batch's interval readings: a table and the
 * range of ts (Unix ms, from <= ts < to) that goes there. */
struct target {
	char table[128];
	int64_t from, to;
	int has_from, has_to;
};

#define MAX_TARGETS 64

/* Streams the interval readings that fall into t's range; adds their
 * number to *sent. Returns 0 or a GW_E* code. */
static int send_interval(struct gw_uploader *u, struct copybuf *cb,
			 const struct gw_batch *b, const struct target *t,
			 size_t *sent)
{
	int rc = 0;

	cb_header(cb);
	for (size_t i = 0; i < b->n_series && rc == 0; i++) {
		const struct gw_series *s = &b->series[i];
		const char *unit = gw_unit_name((enum gw_unit)s->unit);

		for (uint32_t k = 0; k < s->n && rc == 0; k++) {
			if ((t->has_from && s->ts_ms[k] < t->from) ||
			    (t->has_to && s->ts_ms[k] >= t->to))
				continue;
			cb_tuple(cb, INTERVAL_FIELDS);
			f_text(cb, s->meter_id);
			f_text(cb, s->obis);
			f_ts(cb, s->ts_ms[k]);
			f_i64(cb, s->value[k]);
			f_i16(cb, s->scale);
			f_text_or_null(cb, unit);
			(*sent)++;
			rc = cb_maybe_flush(u, cb);
		}
	}
	cb_trailer(cb);
	return rc ? rc : cb_flush(u, cb);
}

/* What came back from a batch's two query strings. */
struct outcome {
	int copies;          /* COPY streams sent in the current string */
	int committed;       /* "COMMIT" completed */
	int applied;         /* 1 applied, 0 duplicate, -1 no answer */
	int lost;            /* the session cannot go on */
	int err;             /* first GW_E* of ours (building, sending) */
	uint32_t stored_crc; /* for a duplicate */
	struct target tg[MAX_TARGETS];
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
		pq_msg(m, o->msg, sizeof(o->msg));
		gw_strlcpy(o->sqlstate, st ? st : "", sizeof(o->sqlstate));
	}
	if (session_lost(u->conn, res))
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

	if (PQnfields(res) != 5 || n < 1 || n > MAX_TARGETS) {
		if (!o->err)
			o->err = GW_EPROTO;
		return;
	}
	o->applied = strcmp(PQgetvalue(res, 0, 0), "applied") == 0;
	if (!PQgetisnull(res, 0, 1))
		o->stored_crc = (uint32_t)strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	for (int r = 0; r < n && o->applied == 1; r++) {
		struct target *t = &o->tg[o->n_tg];

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

/* Sends a query string and serves its COPYs: the first with the staged
 * batch (stage = 1), or the interval readings, one target each. Collects
 * the answers into *o. */
static void run_query(struct gw_uploader *u, const char *sql,
		      const struct gw_batch *b, uint32_t crc, int stage,
		      size_t n_interval, struct outcome *o)
{
	struct copybuf cb = { 0 };
	PGresult *res;

	o->copies = 0;
	if (is_cancelled(u)) {
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
		case PGRES_COPY_IN: {
			int rc = o->err;
			const char *why = "client could not send the batch";

			if (rc == 0 && stage && o->copies == 0)
				rc = send_stage(u, &cb, b, crc);
			else if (rc == 0 && !stage && o->copies < o->n_tg)
				rc = send_interval(u, &cb, b, &o->tg[o->copies],
						   &o->sent);
			else if (rc == 0)
				rc = GW_EPROTO;
			/* After the last target every reading must have gone
			 * to one of them. */
			if (rc == 0 && !stage && o->copies == o->n_tg - 1 &&
			    o->sent != n_interval) {
				rc = GW_EPROTO;
				why = "the server's ranges do not cover the batch's readings";
			}
			cb.len = 0;
			if (rc && !o->err)
				o->err = rc;
			if (rc == GW_EIO)
				o->lost = 1; /* PQputCopyData failed */
			o->copies++;
			/* An error of ours aborts the COPY, which fails the
			 * transaction; the server skips the rest. */
			if (PQputCopyEnd(u->conn, rc ? why : NULL) != 1) {
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

static void be_put(char *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (char)(unsigned char)(v >> (8 * (bytes - 1 - i)));
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
	char day[4], from[8], to[8];
	const char *vals[3] = { day, NULL, NULL };
	int64_t lo = 0, hi = 0;
	const char *st;
	PGresult *res;

	be_put(day, (uint32_t)(b->day - PG_EPOCH_DAY), 4);
	if (batch_ts_range(b, &lo, &hi)) {
		be_put(from, (uint64_t)((lo - PG_EPOCH_MS) * 1000), 8);
		be_put(to, (uint64_t)((hi - PG_EPOCH_MS) * 1000), 8);
		vals[1] = from;
		vals[2] = to;
	}
	if (is_cancelled(u)) {
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
	char sql[sizeof(SQL_COPY_INTERVAL) * MAX_TARGETS + 256];
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

int gw_upload_batch(struct gw_uploader *u, const struct gw_batch *b,
		    uint32_t crc)
{
	struct outcome o;
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

	u->held_now[0] = '\0';
	note_progress(u);
	memset(&o, 0, sizeof(o));
	o.applied = -1;
	prepare_batch(u, b, &o);
	if (!o.msg[0] && !o.lost)
		run_batch(u, b, crc, 1, n_interval, &o);
	if (!o.committed && !o.lost && strcmp(o.sqlstate, "23505") == 0) {
		/* Some of the readings are stored already (a meter that moved
		 * between gateways, a load profile read twice): load the batch
		 * again through the staging table, keeping the stored ones. */
		gw_info("database: batch %s %s r%" PRIu32 " meets stored readings; "
			"loading it again keeping them", b->gateway_id, day,
			b->revision);
		rollback(u);
		if (!u->conn)
			return GW_ECONN;
		memset(&o, 0, sizeof(o));
		o.applied = -1;
		run_batch(u, b, crc, 0, n_interval, &o);
	}

	note_progress(u);
	if (o.committed && o.applied == 1 && !o.err && !o.msg[0]) {
		gw_strlcpy(u->held_last, u->held_now, sizeof(u->held_last));
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
	gw_strlcpy(u->last_msg, o.msg, sizeof(u->last_msg));
	if (is_cancelled(u)) {
		gw_info("database: batch %s %s r%" PRIu32 " cancelled, the gateway "
			"is stopping: nothing of it is committed, it stays in ready/",
			b->gateway_id, day, b->revision);
		rollback(u);
		return GW_ECONN;
	}
	if (o.msg[0] && strcmp(o.sqlstate, "42883") == 0)
		gw_err("database: batch %s %s r%" PRIu32 " refused: %s (the "
		       "database's schema is older than this gateway: run "
		       "gwctl db migrate)", b->gateway_id, day, b->revision, o.msg);
	else if (o.msg[0])
		gw_err("database: batch %s %s r%" PRIu32 " refused: %s",
		       b->gateway_id, day, b->revision, o.msg);
	else if (o.err == GW_EPROTO || !o.err)
		gw_err("database: batch %s %s r%" PRIu32 ": unexpected answer "
		       "(is the schema migrated?)", b->gateway_id, day, b->revision);
	rollback(u);
	if (o.err == GW_ENOMEM)
		return GW_ENOMEM;
	return refused_for_good(o.sqlstate) ? GW_EREFUSED : GW_EDB;
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
		if (is_cancelled(u)) {
			rc = GW_ECONN;
			break;
		}
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
		if (rc == GW_EREFUSED) {
			/* Retrying cannot help either; the days after it must
			 * not wait for it. */
			gw_err("upload: %s refused by the database; moving it to "
			       "quarantine/ (the reason is in quarantine/%s.refused)",
			       names[i], names[i]);
			rc = gw_spool_refuse(spool_dir, names[i], u->last_msg);
			if (rc < 0)
				break;
			u->refused++;
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

unsigned gw_uploader_refused(const struct gw_uploader *u)
{
	return u ? u->refused : 0;
}

/* A file in SPOOL/quarantine/ that the database once refused and has now
 * taken (or had taken): it goes to SPOOL/done/ and loses its note. */
static void unrefuse(const char *path)
{
	char dir[GW_PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return;
	len = (size_t)(slash - path);
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (strcmp(dir, "quarantine") == 0) /* run from inside the spool */
		strcpy(dir, ".");
	else if (len >= 11 && strcmp(dir + len - 11, "/quarantine") == 0)
		dir[len - 11] = '\0';
	else
		return;
	if (gw_spool_unrefuse(dir, slash + 1) == 0)
		gw_info("upload: %s was refused before and is loaded now; moved "
			"to done/", slash + 1);
}

int gw_upload_files(struct gw_uploader *u, char *const *paths, int n)
{
	int count = 0, decode_err;

	if (!u || (n > 0 && !paths))
		return GW_EINVAL;
	for (int i = 0; i < n; i++) {
		int rc = upload_file(u, paths[i], &decode_err);

		if (rc < 0) {
			if (rc != GW_EDB && rc != GW_ECONN && rc != GW_EREFUSED)
				gw_err("upload: %s: %s", paths[i], gw_strerror(rc));
			return rc;
		}
		unrefuse(paths[i]);
		count++;
	}
	return count;
}

int gw_uploader_server_time(struct gw_uploader *u, int64_t *ms)
{
	/* clock_timestamp(), not now(), which is the transaction's start. */
	static const char sql[] =
		"SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8";
	int rc = ensure_connected(u);

	if (rc)
		return rc;
	PGresult *res = PQexec(u->conn, sql);
	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1 ||
	    PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return PQstatus(u->conn) == CONNECTION_OK ? GW_EDB : GW_ECONN;
	}
	*ms = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}
