/* SPDX-License-Identifier: MIT */
/*
 * spool.h - the local, crash-safe store of sealed batches
 * (docs/spool-format.md describes its files byte by byte). The batch file
 * format is batchfile.h, the durable writes and the status files are
 * durable.h; both are included here for the spool's users.
 *
 * Layout under the spool directory:
 *     ready/       sealed batches waiting for upload, one file each
 *     done/        batches the database has acknowledged
 *     quarantine/  files whose CRC or structure is wrong, set aside
 *     tmp/         files being written; never read
 *
 * A batch file is written to tmp/, fsync'ed, renamed into ready/, and then
 * the directory is fsync'ed, so that after a crash or power loss a file in
 * ready/ is either complete or absent.
 */
#ifndef GW_SPOOL_H
#define GW_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "batchfile.h"
#include "durable.h"

/* The file name of a batch: "<gateway>_<YYYY-MM-DD>_r<revision>.gwb". */
int gw_batch_filename(const struct gw_batch *b, char *buf, size_t cap);

/* Creates the spool's folders if missing. Returns 0 or GW_EIO. */
int gw_spool_open(const char *dir);

/* Durably writes a batch into ready/ (write, fsync, rename, fsync of the
 * directory). Returns 0 or GW_EIO/GW_ENOMEM; a failed fsync is an error and
 * the file is not renamed into place. */
int gw_spool_write(const char *dir, const struct gw_batch *b);

/* Lists ready/ oldest first (by day, then revision, then name): *names is
 * an array of n malloc'ed file names (not paths); free with
 * gw_spool_list_free(). Returns n >= 0 or GW_EIO. */
int gw_spool_list(const char *dir, const char *sub, char ***names);
void gw_spool_list_free(char **names, int n);

/* Moves ready/<name> to done/<name> (or quarantine/<name>), durably. */
int gw_spool_mark_done(const char *dir, const char *name);
int gw_spool_quarantine(const char *dir, const char *name);

/* Sets aside ready/<name>, which the database refused: writes why (one
 * line, the server's message) to quarantine/<name>.refused, then moves the
 * batch to quarantine/, both durably. `gwctl upload quarantine/<name>`
 * loads it once the cause is mended. Returns 0 or GW_EIO. */
int gw_spool_refuse(const char *dir, const char *name, const char *why);

/* After a refused batch was loaded after all (gwctl upload of
 * quarantine/<name>): moves it to done/ and removes its .refused note,
 * durably. Returns 0, GW_ENOTFOUND if it has no note (not a refused
 * batch: left where it is), or GW_EIO. */
int gw_spool_unrefuse(const char *dir, const char *name);

/* Reads quarantine/<name>.refused into buf (cap bytes, first line only).
 * Returns 1 if the batch was refused, 0 if not (no such file). */
int gw_spool_refused_reason(const char *dir, const char *name, char *buf,
			    size_t cap);

/* The revision a newly sealed batch of (gateway, day) must carry: one more
 * than any such batch in ready/, done/ or quarantine/, 0 if none. Returns it
 * or a negative GW_E* code. */
int gw_spool_next_revision(const char *dir, const char *gateway_id, int32_t day);

/* At start: removes what a crash left in tmp/, and moves every ready/
 * batch that does not decode (bad CRC, truncated, newer version) to
 * quarantine/, logging each. Returns 0 or a GW_E* code. */
struct gw_spool_recovery {
	unsigned tmp_removed; /* interrupted writes */
	unsigned ready_ok;    /* batches kept for upload */
	unsigned quarantined; /* set aside */
};
int gw_spool_recover(const char *dir, struct gw_spool_recovery *rec);

/* <dir>/state: what the gateway knows of its own past. */
struct gw_spool_state {
	int32_t next_day; /* every day before it is sealed; INT32_MIN: none */
	/* The latest time the gateway believed its clock (or its witnesses'
	 * time while it did not), UTC ms; 0: not recorded (a spool of an
	 * earlier version). Never a time read from a clock that was held. */
	int64_t seen_ms;
};
/* Reads <dir>/state. Returns 0, GW_ENOTFOUND (no state: *st says nothing
 * known), GW_ECORRUPT (a line not understood: logged with file:line; *st
 * holds what was understood) or GW_EIO. */
int gw_spool_state_read(const char *dir, struct gw_spool_state *st);
/* Durably replaces <dir>/state (write, fsync, rename, directory fsync).
 * Returns 0 or GW_EIO. */
int gw_spool_state_save(const char *dir, const struct gw_spool_state *st);

/* The first day of gateway_id not yet sealed: the larger of the state file
 * (gw_spool_state_write) and one after the newest batch of the gateway in
 * ready/ or done/; INT32_MIN if neither exists (a fresh gateway). Returns 0
 * or a GW_E* code. */
int gw_spool_next_day(const char *dir, const char *gateway_id, int32_t *next_day);
/* Durably records that every day before next_day is sealed (<dir>/state),
 * keeping what else the state holds. */
int gw_spool_state_write(const char *dir, int32_t next_day);

/* Takes <dir>/lock (flock, exclusive, without waiting): one gatewayd per
 * spool, and gwctl commands that rewrite the spool refuse while it runs.
 * The lock lasts until *fd is closed or the process ends (also by
 * SIGKILL). Returns 0 with *fd set, 1 if another process holds it (*holder
 * gets its pid if known, else 0), or GW_EIO. */
int gw_spool_lock(const char *dir, int *fd, long *holder);

/* Bytes and files under the spool, per folder (apparent file sizes). */
struct gw_spool_usage {
	uint64_t ready, done, quarantine, journal, tmp, total;
	uint64_t points; /* points/, a cache of the journal: not in total */
	unsigned n_ready, n_done, n_quarantine;
	unsigned n_refused; /* quarantine/ batches the database refused */
};
int gw_spool_usage(const char *dir, struct gw_spool_usage *u);
/* Bytes of the regular files in dir/sub (apparent sizes, dot files left
 * out); *count counts them, except the ".refused" notes, which *refused
 * counts (either may be NULL). 0 if dir/sub cannot be read. */
uint64_t gw_spool_dir_bytes(const char *dir, const char *sub, unsigned *count,
			    unsigned *refused);

/* The size bound and what happens when it is reached. */
enum gw_spool_policy {
	GW_SPOOL_DROP_INTERVALS = 0, /* drop interval series of the oldest
				      * ready batches, keep daily totals */
	GW_SPOOL_KEEP = 1,           /* drop nothing not yet uploaded */
};
struct gw_spool_bound {
	uint64_t max_bytes; /* 0: unbounded */
	int policy;         /* enum gw_spool_policy */
	int allow_delete_unuploaded; /* last resort: delete oldest ready */
};
struct gw_spool_enforce {
	uint64_t before, after; /* bytes */
	unsigned done_pruned;       /* uploaded batches emptied (name kept) */
	unsigned intervals_dropped; /* ready batches rewritten without series */
	unsigned deleted_unuploaded;
	int over; /* still over the bound afterwards */
};
/* If the spool is over its bound, frees space down to 90% of it in this
 * order: (1) empty the oldest done/ batches (already in the database; the
 * empty file keeps the name so revision numbers stay unique); (2) with
 * GW_SPOOL_DROP_INTERVALS, rewrite the oldest ready/ batches without their
 * interval series; (3) with allow_delete_unuploaded, delete the oldest
 * ready/ batches. Each step is logged. Returns 0 or a GW_E* code; *res says
 * what was done (an alarm is due if intervals_dropped, deleted_unuploaded
 * or over is non-zero). */
int gw_spool_enforce(const char *dir, const struct gw_spool_bound *bnd,
		     struct gw_spool_enforce *res);

/* Bytes free for an unprivileged user on dir's file system (statvfs
 * f_bavail), UINT64_MAX if unknown. */
uint64_t gw_spool_disk_free(const char *dir);

/* A full disk: empties the oldest uploaded batches in done/ (their data is
 * in the database; the empty file keeps its name, as the size bound's
 * first step does) until want_free bytes are free or none is left.
 * *emptied counts them; logged. Returns 0 or GW_EIO. */
int gw_spool_free_done(const char *dir, uint64_t want_free, unsigned *emptied);

#endif
