/* SPDX-License-Identifier: MIT */
/*
 * json.h - the portal's output: a growing text buffer, JSON strings with
 * correct escaping, CSV fields, and Wh rendered as exact kWh decimals.
 *
 * No JSON library: the portal writes a handful of flat objects, and the
 * one thing that must be right (string escaping, including invalid UTF-8
 * from the database) is small enough to own and test here.
 */
#ifndef GW_PORTAL_JSON_H
#define GW_PORTAL_JSON_H

#include <stddef.h>
#include <stdint.h>

/* A text buffer. `failed` is set once an allocation failed or the buffer
 * would pass `limit` bytes; every later append does nothing. The text is
 * always NUL-terminated once anything was added. */
struct gw_buf {
	char *data;
	size_t len;
	size_t cap;
	size_t limit;
	int failed;
};

/* An empty buffer that may grow to `limit` bytes (0: 64 MiB). */
void gw_buf_init(struct gw_buf *b, size_t limit);
/* Frees the text; the buffer is empty (and usable) again. */
void gw_buf_free(struct gw_buf *b);
/* Appends n bytes / a string / printf output. Return 0 or GW_ENOMEM
 * (also GW_EFULL past the limit); b->failed stays set after a failure. */
int gw_buf_add(struct gw_buf *b, const char *s, size_t n);
int gw_buf_puts(struct gw_buf *b, const char *s);
int gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Appends s as a quoted JSON string. Escaped: '"', '\\', every control
 * character (U+0000-U+001F, U+007F), '<', '>', '&' (so that the text is
 * safe inside HTML) and U+2028/U+2029 (line breaks to JavaScript). Bytes
 * that are not valid UTF-8 are replaced by U+FFFD. */
int gw_json_string(struct gw_buf *b, const char *s);

/* Appends s as one CSV field (RFC 4180): quoted, with inner quotes
 * doubled, when it holds a comma, quote, CR or LF; as it is otherwise. */
int gw_csv_field(struct gw_buf *b, const char *s);

/* Writes wh / 1000 as an exact decimal with three places ("12.345",
 * "0.007", "-1.500") into out (at least GW_KWH_MAX bytes). Returns the
 * length. Every int64 is rendered exactly, INT64_MIN too. */
#define GW_KWH_MAX 32
int gw_wh_to_kwh(int64_t wh, char *out, size_t cap);

/* Appends wh as gw_wh_to_kwh writes it / v in decimal ("%lld"). Return
 * as gw_buf_add. */
int gw_buf_kwh(struct gw_buf *b, int64_t wh);
int gw_buf_int(struct gw_buf *b, int64_t v);

/* Makes room for n more bytes at once (the buffer grows to fit them and
 * then does not move until they are added). Return as gw_buf_add. */
int gw_buf_reserve(struct gw_buf *b, size_t n);

#endif
