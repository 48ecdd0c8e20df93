/* SPDX-License-Identifier: MIT */
/*
 * upload_int.h - what the uploader's files share and nothing else may use:
 * the uploader's state, its connection (upload_conn.c), the binary COPY of
 * a batch (upload_copy.c) and where the server wants a batch's interval
 * readings. upload.c runs one batch's transaction on them and
 * upload_spool.c the passes over batch files. Callers use upload.h.
 */
#ifndef GW_UPLOAD_INT_H
#define GW_UPLOAD_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "batch.h"
#include "bytes.h"
#include "upload.h"

struct gw_uploader {
	char *conninfo;
	PGconn *conn;
	unsigned failed_connects; /* consecutive, for quiet retry logging */
	unsigned refused;         /* batches set aside (GW_EREFUSED) */
	unsigned undecodable;     /* files set aside that do not decode */
	char last_bad[512];       /* why the last file did not decode */
	struct gw_logrl load_rl;  /* batch loads failed in a row that the next
				   * pass meets again (logged at growing
				   * intervals) */
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
	uint64_t rows;            /* rows of batches applied, not yet taken
				   * (gw_uploader_take_rows) */
};

/* PostgreSQL's epoch (2000-01-01) in Unix milliseconds and civil days. */
#define PG_EPOCH_MS INT64_C(946684800000)
#define PG_EPOCH_DAY 10957

/* Where the server wants a batch's interval readings: a table and the
 * range of ts (Unix ms, from <= ts < to) that goes there. */
struct gw_upload_target {
	char table[128];
	int64_t from, to;
	int has_from, has_to;
};

#define GW_UPLOAD_MAX_TARGETS 64

/* --- upload_conn.c: the connection and its session ------------------ */

/* Connects if there is no usable connection, and sets the session up
 * (limits, staging tables). Returns 0, GW_ECONN, or GW_EDB (connected,
 * but the staging tables cannot be made: the role lacks EXECUTE on
 * gw_stage_open, or the schema is too old). */
int gw_upload_connect(struct gw_uploader *u);
/* Closes the connection (u->conn NULL then). */
void gw_upload_disconnect(struct gw_uploader *u);
/* Ends a failed transaction; disconnects if even that fails. */
void gw_upload_rollback(struct gw_uploader *u);
/* Whether an error (res may be NULL) means that this server, this
 * session, cannot go on rather than that the batch was refused. */
int gw_upload_session_lost(PGconn *conn, const PGresult *res);
/* Whether gw_uploader_cancel was called: no new query, no new file. */
int gw_upload_cancelled(struct gw_uploader *u);
/* Notes now as the time of the last progress (gw_uploader_progress_us). */
void gw_upload_note_progress(struct gw_uploader *u);
/* Copies a libpq message into buf (cap) without its trailing newline
 * (gw_log ends the line itself); returns buf. */
const char *gw_upload_pq_msg(const char *msg, char *buf, size_t cap);

/* --- upload_copy.c: a batch as binary COPY data --------------------- */

/* Streams the rows of pg_temp.gw_stage to conn, which is in COPY IN: the
 * batch's header (with crc), each distinct meter, the daily registers and
 * the events. cb is the buffer to build them in (start it as {0}, reused
 * from one COPY to the next; free cb->p). Returns 0, GW_ENOMEM or GW_EIO
 * (PQputCopyData failed). */
int gw_upload_copy_stage(PGconn *conn, struct gw_wbuf *cb,
			 const struct gw_batch *b, uint32_t crc);
/* Streams the interval readings that fall into t's range, adds their
 * number to *sent. Returns as gw_upload_copy_stage. */
int gw_upload_copy_interval(PGconn *conn, struct gw_wbuf *cb,
			    const struct gw_batch *b,
			    const struct gw_upload_target *t, size_t *sent);

#endif
