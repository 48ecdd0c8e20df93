/* SPDX-License-Identifier: MIT */
/*
 * batchfile.h - the batch file format: a sealed batch as bytes and back
 * (docs/spool-format.md describes it byte by byte). batchfile_write.c
 * encodes, batchfile_read.c decodes and verifies; spool.c keeps the files.
 *
 * On-disk records use explicit little-endian fields, never a raw struct.
 * Numbers inside the compressed payload are LEB128 varints; signed ones are
 * zigzag-encoded; interval series are delta-encoded (timestamps as deltas of
 * deltas, values as deltas), which turns a regular 15-minute series of a
 * slowly rising register into runs of small numbers that zlib packs well.
 */
#ifndef GW_BATCHFILE_H
#define GW_BATCHFILE_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "bytes.h"

#define GW_BATCH_MAGIC "GWB1"
#define GW_BATCH_VERSION 1

/* Encodes a batch into a new buffer (*buf, *len; free with free()).
 * Returns 0 or GW_ENOMEM / GW_EINVAL. */
int gw_batch_encode(const struct gw_batch *b, uint8_t **buf, size_t *len);
/* The same, streamed: the file is handed to put (ctx) in pieces as it is
 * encoded, the series read from src one at a time. The header goes first
 * with its lengths not known yet: when this returns 0, hdr (room for
 * GW_BATCH_HDR_MAX bytes) holds the real one, *hlen bytes, to be written
 * over the first *hlen bytes put (the CRC at the end is over the real
 * one). Returns 0, put's non-zero return, src's, GW_ENOMEM or GW_EINVAL. */
typedef int (*gw_batch_put_fn)(void *ctx, const uint8_t *p, size_t n);
int gw_batch_encode_src(struct gw_batch_src *src, gw_batch_put_fn put,
			void *ctx, uint8_t *hdr, size_t *hlen);
/* Lays out daily record d as the payload's daily records column holds it
 * (gw_batch_src.days). Sets out->oom when out of memory. */
void gw_batch_day_put(struct gw_wbuf *out, const struct gw_day_register *d);
/* How a batch file's payload is deflated (gw_batch_src.deflate; the
 * `spool_compression` key): any of them is one zlib stream that every
 * reader inflates; only the size and the writer's time differ
 * (docs/spool-format.md). */
enum gw_batch_deflate {
	GW_DEFLATE_6 = 0, /* zlib level 6: the smallest files of the three */
	GW_DEFLATE_1,     /* zlib level 1 */
	GW_DEFLATE_RLE,   /* zlib level 6 with Z_RLE: runs only, the fastest */
};

/* The times column of a batch file, laid out a series at a time in the
 * order of the series (a series of n = 0 included): start it as {0},
 * free it with gw_batch_times_free. out holds the column's bytes.
 * gw_batch_times_add returns 0 or GW_ENOMEM. gw_batch_times_same tells,
 * without laying out anything, what gw_batch_times_add would write for
 * the series: 1 when it has the times of the series before it (the
 * column's single 0), else 0 (n = 0 included), or GW_ENOMEM; it keeps
 * the series before as gw_batch_times_add does, so the two answer alike
 * for the same series in the same order. */
struct gw_batch_times {
	struct gw_wbuf out;
	int64_t prev0, *prev; /* the last first time; the last series' times */
	size_t prev_n, prev_cap;
};
int gw_batch_times_add(struct gw_batch_times *c, const int64_t *ts, size_t n);
int gw_batch_times_same(struct gw_batch_times *c, const int64_t *ts, size_t n);
void gw_batch_times_free(struct gw_batch_times *c);
/* The encoder keeps the value column's second plane in memory while it
 * lays out the first, up to `bytes` (default 8 MB), and reads the series
 * after that again. Returns the bound before; for tests (a small bound
 * takes the path a large day takes). */
size_t gw_batch_set_hi_keep(size_t bytes);
/* Streams src into the spool at dir (batch_spool.c): tmp/<name>, then
 * ready/<name>, durably, named by src->batch (its revision set). Returns
 * as gw_spool_write: 0, GW_ENOSPC or GW_EIO (errno set to the failure's;
 * nothing left in tmp/), GW_ENOMEM, GW_EINVAL. */
int gw_spool_write_src(const char *dir, struct gw_batch_src *src);
/* Decodes and verifies a batch file image. Returns 0, GW_ECORRUPT
 * (truncated, bad CRC, bad structure), GW_EVERSION or GW_ENOMEM; *out is
 * NULL on error. *crc (may be NULL) gets the file's CRC-32. */
int gw_batch_decode(const uint8_t *buf, size_t len, struct gw_batch **out,
		    uint32_t *crc);
/* The same, and *why (never NULL afterwards; a static string, "" on
 * success) names what is wrong: "truncated header", "bad magic",
 * "unsupported version", "bad CRC", "bad header length", "lengths do not
 * add up to the file size", "payload does not inflate", "payload length
 * differs from the header", "payload does not decode". */
int gw_batch_decode_ex(const uint8_t *buf, size_t len, struct gw_batch **out,
		       uint32_t *crc, const char **why);
/* Reads and decodes a batch file. Returns as gw_batch_decode, or
 * GW_ENOTFOUND / GW_EIO. */
int gw_batch_read_file(const char *path, struct gw_batch **out, uint32_t *crc);
int gw_batch_read_file_ex(const char *path, struct gw_batch **out,
			  uint32_t *crc, const char **why);
/* What is wrong with a batch file that gw_batch_read_file_ex refused
 * with rc and why, in the words `gwctl spool verify` and the uploader
 * both print: "corrupt or truncated file (bad CRC)". Writes into buf
 * (cap bytes) and returns buf. */
const char *gw_batch_read_problem(int rc, const char *why, char *buf,
				  size_t cap);

/* For the reader and the writer of the format only: */

/* Bytes of the header before the gateway id and the time zone. */
#define GW_BATCH_HDR_FIXED 48
/* The longest header: both strings 255 bytes. */
#define GW_BATCH_HDR_MAX (GW_BATCH_HDR_FIXED + 2 + 255 + 255)
/* The largest payload before compression (a reader refuses to inflate
 * more: a damaged length must not ask for more memory than that). */
#define GW_BATCH_MAX_RAW (1u << 30)

/* The payload's deflate (batchfile_deflate.c), on a thread of its own
 * from the second 64 kB piece on: gw_deflater_buf gives the piece to fill
 * (*cap bytes), gw_deflater_push hands n bytes of it over, and
 * gw_deflater_finish the last n and ends the stream (*comp_n bytes of it
 * put, *crc their CRC-32). The bytes are those of deflate over the same
 * pieces on the caller's thread. Each returns 0 or the first failure
 * (put's, GW_EINVAL, GW_ENOMEM); free with gw_deflater_free (accepts
 * NULL; also after a failure part way). */
struct gw_deflater;
int gw_deflater_new(struct gw_deflater **out, int level, int strategy,
		    gw_batch_put_fn put, void *ctx);
uint8_t *gw_deflater_buf(struct gw_deflater *d, size_t *cap);
int gw_deflater_push(struct gw_deflater *d, size_t n);
int gw_deflater_finish(struct gw_deflater *d, size_t n, uint64_t *comp_n,
		       uint32_t *crc);
void gw_deflater_free(struct gw_deflater *d);

/* The order in which the value column holds the series: grouped by OBIS
 * code (stable: by position within a code). Returns a malloc'ed array of
 * n indexes (free with free()), or NULL when out of memory. */
size_t *gw_batch_series_order(const struct gw_series *s, size_t n);

#endif
