/* SPDX-License-Identifier: MIT */
/*
 * durable.h - file I/O that survives a crash or a power loss: the write of
 * a whole file (tmp + fsync + rename + fsync of the directory), the status
 * files that must still be rewritten when the disk is full, and the loops
 * and error translations the spool, the journal and the edges file share.
 *
 * Every return is checked; a failed fsync is an error and is never retried
 * as if nothing had happened (the kernel may have dropped the dirty pages,
 * so a second fsync could report success without the data).
 */
#ifndef GW_DURABLE_H
#define GW_DURABLE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* GW_ENOSPC for a full file system (ENOSPC, or EDQUOT: the quota),
 * GW_EIO for any other errno of a failed write. */
int gw_errno_rc(int err);

/* Writes all of buf to fd, again after EINTR. Returns 0 or -1 with errno
 * (EIO if write() wrote nothing). */
int gw_write_all(int fd, const uint8_t *buf, size_t len);
/* Reads up to len bytes from fd, again after EINTR, until the end of the
 * file or an error. Returns the number read (len unless the file was
 * shorter or a read failed). */
size_t gw_read_all(int fd, uint8_t *buf, size_t len);

/* gw_fsync_dir fsyncs a directory; gw_write_file_durable writes `path`
 * through tmp_path with write + fsync + rename + directory fsync, and
 * removes tmp_path again if that fails. Both log a failure and return 0,
 * GW_ENOSPC (no space left: ENOSPC or EDQUOT) or GW_EIO, with errno set
 * to the failure's. */
int gw_fsync_dir(const char *dir);
/* A durable write of path failed at step `what` ("write failed") with
 * errno err: logged on the 1st, 2nd, 4th ... failure in a row of every
 * durable write of the process, with the count (a full disk retried for
 * hours). gw_durable_done: one succeeded, the run ends (logged once). */
void gw_durable_failed(const char *path, const char *what, int err);
void gw_durable_done(void);
int gw_write_file_durable(const char *tmp_path, const char *path,
			  const uint8_t *buf, size_t len);

/* The spool's status files (named gw_spool_ as they live in the spool
 * directory; they are here because they are durable I/O and nothing
 * else):
 *
 * Replaces <dir>/<name> ("status": "key=value" lines; "health": a TSV of
 * the meters' health) with a text, durably, even on a full disk. The file
 * is the text, a trailer line "#end len=N crc=XXXXXXXX" (the text's length
 * in bytes and CRC-32, hex) and a padding line up to a whole number of 4
 * KiB blocks. It is written as a new file and renamed into place; if that
 * fails (a full disk), it is rewritten in place within the blocks it has
 * (docs/spool-format.md, "Status files").
 *
 * gw_spool_status_make writes the text as `make` makes it: make(ctx, out)
 * appends it with gw_status_out_write / gw_status_out_printf, and it goes
 * into the new file through a buffer of 64 KiB, never held whole. make is
 * called once more, to make the text again, for a rewrite in place, which
 * keeps that text (at most the file's size) until it knows it fits. A last
 * line break is added to a text without one. gw_spool_status_write writes
 * a text made already.
 *
 * Both return 0 (replaced), 1 (rewritten in place; errno says why the
 * replacement failed), GW_ENOSPC, GW_EIO or GW_ENOMEM. */
struct gw_status_out;
typedef void (*gw_status_make_fn)(void *ctx, struct gw_status_out *out);
int gw_spool_status_make(const char *dir, const char *name,
			 gw_status_make_fn make, void *ctx);
int gw_spool_status_write(const char *dir, const char *name, const char *text);
/* Append len bytes of s, or a printf-formatted text, to a status file's
 * text (from a gw_status_make_fn). A failure (the disk, memory) is kept
 * in out and fails the write; what follows it is not taken. */
void gw_status_out_write(struct gw_status_out *out, const char *s, size_t len);
void gw_status_out_printf(struct gw_status_out *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* A make that cannot go on (its own data failed it) gives up with a GW_E
 * code: nothing more is taken, the write fails and returns rc. */
void gw_status_out_fail(struct gw_status_out *out, int rc);
/* 1 once out has failed (nothing more is taken: a make may stop). */
int gw_status_out_failed(const struct gw_status_out *out);
/* The CRC-32 (gw_crc32) of the bytes appended so far. */
uint32_t gw_status_out_crc(const struct gw_status_out *out);

/* gw_write_file_durable with the file's bytes made by make(ctx, out) as
 * they are written (gw_status_out_write, through a buffer of 64 KiB),
 * never held whole; no trailer or padding is added. Returns as
 * gw_write_file_durable, or GW_ENOMEM, or the code make gave up with
 * (gw_status_out_fail; not logged here); tmp_path is removed on any
 * failure and path is left as it was. */
int gw_write_file_durable_make(const char *tmp_path, const char *path,
			       gw_status_make_fn make, void *ctx);

/* Reads <dir>/<name> as written by gw_spool_status_write: *text (free with
 * free()) is the text before the trailer. Returns 0, GW_ENOTFOUND,
 * GW_ECORRUPT when the trailer does not match (a rewrite in place is under
 * way, or was cut by a power loss: read again a little later), GW_EIO or
 * GW_ENOMEM. A file without a trailer (an older gatewayd's) is read whole. */
int gw_spool_status_read(const char *dir, const char *name, char **text);

#endif
