/* SPDX-License-Identifier: MIT */
/*
 * bytes.h - the byte encoders of the gateway's own files: little-endian
 * fields, LEB128 varints, zigzag for signed numbers, length-prefixed
 * strings and CRC-32, written into a growable buffer or read from a
 * bounded one. The batch file format (batchfile_read.c, batchfile_write.c)
 * and the journal (journal.c, journal_read.c) both use them, so that the
 * two formats cannot come to disagree on what a field is. The uploader's
 * binary COPY and query parameters (upload_copy.c, upload.c) use the
 * big-endian ones, which is PostgreSQL's order.
 *
 * Writing never fails midway: an allocation failure sets `oom` and every
 * later put does nothing, so a caller checks once at the end. Reading
 * never reads past `n`: a field that does not fit sets `bad`, returns 0
 * (or an empty string) and every later get does the same, so a caller
 * checks once after a group of fields.
 */
#ifndef GW_BYTES_H
#define GW_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* A growable buffer: start it as {0}; p is malloc'ed (free with free()). */
struct gw_wbuf {
	uint8_t *p;
	size_t n, cap;
	int oom; /* an allocation failed: p holds what came before it */
};

/* Makes room for `more` bytes (sets oom if it cannot). */
void gw_wbuf_need(struct gw_wbuf *b, size_t more);
void gw_wbuf_put(struct gw_wbuf *b, const void *src, size_t n);
void gw_wbuf_u8(struct gw_wbuf *b, uint8_t v);
/* v as `width` (1..8) little-endian bytes. */
void gw_wbuf_le(struct gw_wbuf *b, uint64_t v, int width);
/* v as `width` (1..8) big-endian bytes. */
void gw_wbuf_be(struct gw_wbuf *b, uint64_t v, int width);
/* v as an unsigned LEB128 varint (1..10 bytes). */
void gw_wbuf_varint(struct gw_wbuf *b, uint64_t v);
/* A string as a varint length and its bytes (no NUL). */
void gw_wbuf_str(struct gw_wbuf *b, const char *s);

/* A bounded reader over n bytes at p (borrowed). */
struct gw_rbuf {
	const uint8_t *p;
	size_t n, pos;
	int bad; /* a field did not fit or did not decode */
};

/* `width` (1..8) little-endian bytes. */
uint64_t gw_rbuf_le(struct gw_rbuf *r, int width);
/* A LEB128 varint; more than 64 bits is bad. */
uint64_t gw_rbuf_varint(struct gw_rbuf *r);
/* A string with a varint length (gw_wbuf_str) into dst (cap bytes with
 * the NUL); one too long for dst or with an embedded NUL is bad. */
void gw_rbuf_str(struct gw_rbuf *r, char *dst, size_t cap);
/* The same with a one-byte length (the journal's strings). */
void gw_rbuf_str8(struct gw_rbuf *r, char *dst, size_t cap);

/* Little-endian fields in memory the caller has checked the size of. */
void gw_le_put(uint8_t *p, uint64_t v, int width);
uint64_t gw_le_get(const uint8_t *p, int width);
/* Big-endian fields, likewise. */
void gw_be_put(uint8_t *p, uint64_t v, int width);

/* Zigzag: signed numbers as unsigned ones that small magnitudes keep
 * small (0, -1, 1, -2 ... as 0, 1, 2, 3 ...). */
uint64_t gw_zigzag(int64_t v);
int64_t gw_unzigzag(uint64_t v);

/* a - b and a + b modulo 2^64 (two's complement wrap-around). Deltas in a
 * file are defined for any two values, extreme ones too, and a reader
 * adds them back with the same arithmetic: a file that lies (with a CRC
 * that matches the lie) must not make the reader, or the writer of what
 * it read, overflow a signed int. */
int64_t gw_wrap_sub(int64_t a, int64_t b);
int64_t gw_wrap_add(int64_t a, int64_t b);

/* Signed values from their two's complement bits, without the
 * implementation-defined conversion of an out-of-range unsigned value. */
int64_t gw_to_i64(uint64_t v);
int32_t gw_to_i32(uint64_t v); /* of the low 32 bits */
int8_t gw_to_i8(uint8_t v);

/* CRC-32 (zlib's polynomial) of a buffer, of any length. */
uint32_t gw_crc32(const uint8_t *buf, size_t len);

#endif
