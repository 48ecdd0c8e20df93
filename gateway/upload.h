/* SPDX-License-Identifier: MIT */
/*
 * upload.h - loads sealed batches into PostgreSQL with libpq, exactly once.
 *
 * One transaction per batch: the batch ledger row (gateway, day, revision,
 * CRC) and the COPY of the batch's rows commit together. A batch whose
 * ledger row already exists was applied before (for example the process
 * died between COMMIT and moving the file to done/) and is not applied
 * again. No SQL is assembled from strings that contain data: values travel
 * as parameters or COPY data.
 */
#ifndef GW_UPLOAD_H
#define GW_UPLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "dbtls.h"

struct gw_uploader;

/* The session limits the uploader sets on every connection ([database]
 * statement_timeout, lock_timeout, idle_in_transaction_timeout). */
struct gw_upload_limits {
	int statement_timeout_ms;
	int lock_timeout_ms;
	int idle_timeout_ms;
};

/* The defaults: 5 min, 30 s, 60 s. */
void gw_upload_limits_default(struct gw_upload_limits *l);


/* A new uploader for conninfo (libpq keyword/value or URI form). It
 * connects lazily. Returns NULL when out of memory. A weaker sslmode
 * than verify-full over TCP is warned about here, once. */
struct gw_uploader *gw_uploader_new(const char *conninfo);
void gw_uploader_free(struct gw_uploader *u);

/* Session limits for the next connections (default
 * gw_upload_limits_default). */
void gw_uploader_set_limits(struct gw_uploader *u,
			    const struct gw_upload_limits *l);

/* From another thread (gatewayd's main thread on SIGTERM): cancels the
 * query the uploader is waiting for, if any, and makes every later call
 * of u fail at once with GW_ECONN without connecting. The first call
 * sends a cancel request to the server (PQcancel, from a thread of its
 * own: it never blocks the caller); a later call, if the upload still
 * waits (a dead link), shuts the connection's socket. The batch's
 * transaction is rolled back by the server (a COMMIT that had already
 * gone through stays, and the ledger tells on the next start), so
 * nothing is lost or loaded twice. Returns 1 if a cancel request was
 * sent. */
int gw_uploader_cancel(struct gw_uploader *u);

/* Real time (gw_real_now_us) at which u last began or finished a batch;
 * 0 before the first. Safe to read from another thread. */
int64_t gw_uploader_progress_us(struct gw_uploader *u);

/* Meters the database held in the last batch applied because they are
 * not assigned to its gateway, comma-separated ("" when none). */
#define GW_UNASSIGNED_MAX 256
const char *gw_uploader_unassigned(const struct gw_uploader *u);

/* Applies one decoded batch with its file CRC. Returns 1 if applied, 0 if
 * the ledger shows it was applied before (nothing changed), GW_ECONN if the
 * database cannot be reached, GW_EREFUSED if it refused the batch's data
 * (a value out of range, a failed check: loading it again cannot help),
 * GW_EDB for any other refusal or failure (a privilege, an old schema: the
 * batch may load once that is mended). The message is logged. On any
 * error nothing of the batch is committed. */
int gw_upload_batch(struct gw_uploader *u, const struct gw_batch *b,
		    uint32_t crc);

/* Uploads every file in <spool>/ready oldest first and moves each applied
 * (or already applied) file to done/; a file that does not decode is
 * quarantined, and so is a batch the database refuses for good
 * (GW_EREFUSED; gw_spool_refuse() keeps the server's reason beside it).
 * Stops at the first other database error. Returns the number of files
 * moved to done/, or a negative GW_E* code if it stopped on an error
 * before any. */
int gw_upload_spool(struct gw_uploader *u, const char *spool_dir);

/* The rows (daily registers, interval readings, events) of the batches
 * u applied since the last call, for the metrics' rows loaded; resets
 * the count. Call from the thread that uploads. */
uint64_t gw_uploader_take_rows(struct gw_uploader *u);

/* The number of batches gw_upload_spool set aside as refused since u was
 * made. */
unsigned gw_uploader_refused(const struct gw_uploader *u);

/* The number of files gw_upload_spool set aside in quarantine/ because
 * they do not decode (a corrupt or truncated file, an unknown version)
 * since u was made; each is logged with its name and reason. */
unsigned gw_uploader_undecodable(const struct gw_uploader *u);

/* Uploads the given batch files (not necessarily in a spool), in the order
 * given; used by `gwctl upload`. A file of a spool's quarantine/ that the
 * database once refused (it has a .refused note) and now took moves to
 * the spool's done/. Returns the number applied or already applied, or a
 * negative code on the first error. */
int gw_upload_files(struct gw_uploader *u, char *const *paths, int n);

/* The database server's clock (UTC ms) in *ms, for the gateway to check its
 * own clock against; connects if need be. Returns 0, GW_ECONN or GW_EDB. */
int gw_uploader_server_time(struct gw_uploader *u, int64_t *ms);

#endif
