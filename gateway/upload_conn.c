/* SPDX-License-Identifier: MIT */
/*
 * upload_conn.c - the uploader's connection to PostgreSQL and what goes
 * with it: the uploader made and freed, the TLS and password checks of its
 * connection string, connecting (libpq's defaults, keepalives, several
 * hosts for a failover), the session's limits and staging tables set on
 * every new connection, the server's notices (meters it held back), the
 * cancel from another thread when gatewayd stops, and the server's clock.
 *
 * A failed connection is logged once as an error, the rest of a series at
 * debug level, and the recovery once (the collectd way), so that a
 * database that is down for a day does not fill the log.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libpq-fe.h>

#include "gw.h"
#include "heartbeat.h"
#include "upload.h"
#include "upload_int.h"

/* temp_buffers must be set before the session first touches a temporary
 * table: the staging tables of a large batch then stay in memory instead
 * of being written out and read back (the default is 8 MB). */
static const char SQL_STAGE_OPEN[] =
	"SET temp_buffers = '256MB';"
	"SET statement_timeout = %d; SET lock_timeout = %d;"
	"SET idle_in_transaction_session_timeout = %d;"
	"SELECT gw_stage_open()";

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

int gw_upload_cancelled(struct gw_uploader *u)
{
	return __atomic_load_n(&u->cancelled, __ATOMIC_SEQ_CST);
}

void gw_upload_note_progress(struct gw_uploader *u)
{
	__atomic_store_n(&u->progress_us, gw_real_now_us(), __ATOMIC_SEQ_CST);
	gw_heartbeat_tick(); /* the upload thread's (daemon_watch.c) */
}

int64_t gw_uploader_progress_us(struct gw_uploader *u)
{
	return u ? __atomic_load_n(&u->progress_us, __ATOMIC_SEQ_CST) : 0;
}

const char *gw_uploader_unassigned(const struct gw_uploader *u)
{
	return u ? u->held_last : "";
}

const char *gw_upload_pq_msg(const char *msg, char *buf, size_t cap)
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

	gw_upload_pq_msg(PQresultErrorMessage(res), buf, sizeof(buf));
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

void gw_upload_disconnect(struct gw_uploader *u)
{
	set_cancel(u, NULL, -1);
	PQfinish(u->conn);
	u->conn = NULL;
}

/* Connects if there is no usable connection (see upload_int.h). The first
 * failure of a series is logged as an error, the rest at debug level, and
 * the recovery once. With several hosts and target_session_attrs=read-write
 * in the conninfo, libpq tries them in turn and takes the one that accepts
 * writes, which is how a promoted standby is found after a failover. */
int gw_upload_connect(struct gw_uploader *u)
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
	gw_upload_disconnect(u);
	if (gw_upload_cancelled(u))
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
		gw_upload_pq_msg(u->conn ? PQerrorMessage(u->conn) :
				 "out of memory", buf, sizeof(buf));
		if (u->failed_connects++ == 0)
			gw_err("database: cannot connect: %s", buf);
		else
			gw_debug("database: still cannot connect (%u attempts): %s",
				 u->failed_connects, buf);
		gw_upload_disconnect(u);
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

		gw_upload_pq_msg(PQresultErrorMessage(res), buf, sizeof(buf));
		gw_err("database: cannot make the staging tables: %s", buf);
		PQclear(res);
		gw_upload_disconnect(u);
		return gone ? GW_ECONN : GW_EDB;
	}
	PQclear(res);
	return 0;
}

/* Whether an error means "this server, this session, cannot go on" rather
 * than "this batch was refused": the connection is gone, the server shuts
 * down or is starting, or it is (now) a read-only standby. The caller
 * disconnects and the next attempt connects afresh, possibly elsewhere. */
int gw_upload_session_lost(PGconn *conn, const PGresult *res)
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
void gw_upload_rollback(struct gw_uploader *u)
{
	PGresult *res;

	if (!u->conn)
		return;
	if (PQtransactionStatus(u->conn) == PQTRANS_IDLE)
		return;
	res = PQexec(u->conn, "ROLLBACK");
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		gw_upload_disconnect(u);
	PQclear(res);
}

int gw_uploader_server_time(struct gw_uploader *u, int64_t *ms)
{
	/* clock_timestamp(), not now(), which is the transaction's start. */
	static const char sql[] =
		"SELECT (extract(epoch FROM clock_timestamp()) * 1000)::int8";
	int rc = gw_upload_connect(u);

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
