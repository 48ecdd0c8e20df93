/* SPDX-License-Identifier: MIT */
/*
 * jsonread.h - reads one flat JSON object (RFC 8259), strictly, for the
 * JWT header and claims: each member's key and value handed to a
 * callback; strings decoded (escapes, surrogate pairs) to UTF-8, numbers
 * as integers, arrays and nested objects as their raw text. Nesting is
 * bounded (GW_JR_DEPTH); text after the object is an error.
 */
#ifndef GW_PORTAL_JSONREAD_H
#define GW_PORTAL_JSONREAD_H

#include <stddef.h>
#include <stdint.h>

#define GW_JR_STR_MAX 1024 /* longest decoded string value or key, with NUL */
#define GW_JR_DEPTH 16

enum gw_jr_type { GW_JR_STRING, GW_JR_NUMBER, GW_JR_BOOL, GW_JR_NULL, GW_JR_ARRAY, GW_JR_OBJECT };

struct gw_jr_value {
	enum gw_jr_type type;
	char str[GW_JR_STR_MAX]; /* GW_JR_STRING */
	int64_t num;             /* GW_JR_NUMBER: the integer part; */
	int num_ok;              /* 0 if it had an exponent or does not fit */
	const char *raw;         /* GW_JR_ARRAY / GW_JR_OBJECT: its text */
	size_t raw_len;
};

/* Called per member; returns 0 to go on, non-zero to stop (returned). */
typedef int (*gw_jr_member_fn)(void *ctx, const char *key, const struct gw_jr_value *v);

/* Reads the object in s (n bytes). Returns 0, the callback's non-zero
 * return, or -1 if the text is not one JSON object (or a string is longer
 * than GW_JR_STR_MAX - 1 bytes, or holds U+0000). */
int gw_jr_object(const char *s, size_t n, gw_jr_member_fn fn, void *ctx);

/* Calls fn(ctx, NULL, v) for each element of the array text (a raw span
 * from gw_jr_object). Returns as gw_jr_object does. */
int gw_jr_array(const char *s, size_t n, gw_jr_member_fn fn, void *ctx);

#endif
