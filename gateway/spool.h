/* SPDX-License-Identifier: MIT */
/*
 * spool.h - the local, crash-safe store of sealed batches, and the batch
 * file format (docs/spool-format.md describes it byte by byte).
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

#define GW_BATCH_MAGIC "GWB1"
#define GW_BATCH_VERSION 1

/* Encodes a batch into a new buffer (*buf, *len; free with free()).
 * Returns 0 or GW_ENOMEM / GW_EINVAL. */
int gw_batch_encode(const struct gw_batch *b, uint8_t **buf, size_t *len);
/* Decodes and verifies a batch file image. Returns 0, GW_ECORRUPT
 * (truncated, bad CRC, bad structure), GW_EVERSION or GW_ENOMEM; *out is
 * NULL on error. *crc (may be NULL) gets the file's CRC-32. */
int gw_batch_decode(const uint8_t *buf, size_t len, struct gw_batch **out,
		    uint32_t *crc);
/* Reads and decodes a batch file. */
int gw_batch_read_file(const char *path, struct gw_batch **out, uint32_t *crc);

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

/* The revision a newly sealed batch of (gateway, day) must carry: one more
 * than any such batch in ready/, done/ or quarantine/, 0 if none. Returns it
 * or a negative GW_E* code. */
int gw_spool_next_revision(const char *dir, const char *gateway_id, int32_t day);

/* CRC-32 (zlib's polynomial) of a buffer. */
uint32_t gw_crc32(const uint8_t *buf, size_t len);

/* Durable file helpers also used by other modules. gw_fsync_dir fsyncs a
 * directory; gw_write_file_durable writes `path` through "<path>.tmp" with
 * write + fsync + rename + directory fsync. Both return 0 or GW_EIO. */
int gw_fsync_dir(const char *dir);
int gw_write_file_durable(const char *tmp_path, const char *path,
			  const uint8_t *buf, size_t len);

#endif
