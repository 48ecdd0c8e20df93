/* SPDX-License-Identifier: MIT */
/*
 * jsonread.c - a strict reader of one flat JSON object; see jsonread.h.
 *
 * Strict because what it reads decides who a request is: no comments, no
 * trailing commas, no single quotes, no leading zeros, no bare control
 * characters in strings, no lone surrogates, nothing after the object.
 */
#include <stdint.h>
#include <string.h>

#include "jsonread.h"

struct rd {
	const char *p;
	const char *end;
	int depth;
};

static void ws(struct rd *r)
{
	while (r->p < r->end && (*r->p == ' ' || *r->p == '\t' || *r->p == '\n' || *r->p == '\r'))
		r->p++;
}

static int hex4(struct rd *r, unsigned *out)
{
	unsigned v = 0;
	int i;

	if (r->end - r->p < 4)
		return -1;
	for (i = 0; i < 4; i++) {
		char c = r->p[i];
		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return -1;
	}
	r->p += 4;
	*out = v;
	return 0;
}

/* Appends code point cp as UTF-8 to out[*n] (capacity cap, NUL kept). */
static int put_utf8(char *out, size_t *n, size_t cap, unsigned cp)
{
	unsigned char b[4];
	size_t k, i;

	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (unsigned char)(0xc0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (unsigned char)(0xe0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		b[0] = (unsigned char)(0xf0 | (cp >> 18));
		b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (unsigned char)(0x80 | (cp & 0x3f));
		k = 4;
	}
	if (*n + k >= cap)
		return -1;
	for (i = 0; i < k; i++)
		out[(*n)++] = (char)b[i];
	return 0;
}

/* One escape after the backslash. */
static int escape(struct rd *r, char *out, size_t *n, size_t cap)
{
	static const char from[] = "\"\\/bfnrt", to[] = "\"\\/\b\f\n\r\t";
	const char *k;
	unsigned cp, lo;

	if (r->p >= r->end)
		return -1;
	if (*r->p != 'u') {
		k = memchr(from, *r->p, sizeof(from) - 1);
		if (!k)
			return -1;
		r->p++;
		return put_utf8(out, n, cap, (unsigned char)to[k - from]);
	}
	r->p++;
	if (hex4(r, &cp) < 0 || cp == 0 || (cp >= 0xdc00 && cp <= 0xdfff))
		return -1;
	if (cp >= 0xd800 && cp <= 0xdbff) {
		if (r->end - r->p < 2 || r->p[0] != '\\' || r->p[1] != 'u')
			return -1;
		r->p += 2;
		if (hex4(r, &lo) < 0 || lo < 0xdc00 || lo > 0xdfff)
			return -1;
		cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
	}
	return put_utf8(out, n, cap, cp);
}

/* A string at r->p (the opening quote), decoded into out (cap bytes,
 * NUL-terminated); out NULL: only skipped. Raw bytes >= 0x80 are copied
 * as they are (the claims this portal reads are ASCII and checked). */
static int string(struct rd *r, char *out, size_t cap)
{
	char scratch[GW_JR_STR_MAX];
	size_t n = 0;

	if (!out) {
		out = scratch;
		cap = sizeof(scratch);
	}
	if (r->p >= r->end || *r->p != '"')
		return -1;
	r->p++;
	while (r->p < r->end && *r->p != '"') {
		unsigned char c = (unsigned char)*r->p;
		if (c < 0x20)
			return -1;
		if (c == '\\') {
			r->p++;
			if (escape(r, out, &n, cap) < 0)
				return -1;
			continue;
		}
		if (n + 1 >= cap)
			return -1;
		out[n++] = (char)c;
		r->p++;
	}
	if (r->p >= r->end)
		return -1;
	r->p++;
	out[n] = '\0';
	return 0;
}

static int digits(struct rd *r)
{
	const char *s = r->p;

	while (r->p < r->end && *r->p >= '0' && *r->p <= '9')
		r->p++;
	return r->p > s ? 0 : -1;
}

/* A number: its integer part in v->num (num_ok 0 if it has an exponent or
 * does not fit an int64); a fraction is dropped (truncated toward zero). */
static int number(struct rd *r, struct gw_jr_value *v)
{
	int neg = 0;
	uint64_t mag = 0;
	const char *s;

	v->type = GW_JR_NUMBER;
	v->num_ok = 1;
	if (r->p < r->end && *r->p == '-') {
		neg = 1;
		r->p++;
	}
	s = r->p;
	if (digits(r) < 0 || (*s == '0' && r->p - s > 1))
		return -1;
	for (; s < r->p; s++) {
		if (mag > (UINT64_C(1) << 62))
			v->num_ok = 0;
		else
			mag = mag * 10 + (uint64_t)(*s - '0');
	}
	if (mag > INT64_MAX)
		v->num_ok = 0;
	v->num = v->num_ok ? (neg ? -(int64_t)mag : (int64_t)mag) : 0;
	if (r->p < r->end && *r->p == '.') {
		r->p++;
		if (digits(r) < 0)
			return -1;
	}
	if (r->p < r->end && (*r->p == 'e' || *r->p == 'E')) {
		r->p++;
		if (r->p < r->end && (*r->p == '+' || *r->p == '-'))
			r->p++;
		if (digits(r) < 0)
			return -1;
		v->num_ok = 0;
	}
	return 0;
}

static int literal(struct rd *r, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0)
		return -1;
	r->p += n;
	return 0;
}

static int value(struct rd *r, struct gw_jr_value *v);

/* Skips an array or object (r->p at its opening bracket). */
static int skip_container(struct rd *r)
{
	char close = *r->p == '[' ? ']' : '}';
	struct gw_jr_value inner;
	int first = 1;

	if (++r->depth > GW_JR_DEPTH)
		return -1;
	r->p++;
	ws(r);
	while (r->p < r->end && *r->p != close) {
		if (!first) {
			if (*r->p != ',')
				return -1;
			r->p++;
			ws(r);
		}
		first = 0;
		if (close == '}') {
			if (string(r, NULL, 0) < 0)
				return -1;
			ws(r);
			if (r->p >= r->end || *r->p != ':')
				return -1;
			r->p++;
			ws(r);
		}
		if (value(r, &inner) < 0)
			return -1;
		ws(r);
	}
	if (r->p >= r->end)
		return -1;
	r->p++;
	r->depth--;
	return 0;
}

static int value(struct rd *r, struct gw_jr_value *v)
{
	const char *start = r->p;

	if (r->p >= r->end)
		return -1;
	v->raw = NULL;
	v->raw_len = 0;
	switch (*r->p) {
	case '"':
		v->type = GW_JR_STRING;
		return string(r, v->str, sizeof(v->str));
	case '[':
	case '{':
		v->type = *r->p == '[' ? GW_JR_ARRAY : GW_JR_OBJECT;
		if (skip_container(r) < 0)
			return -1;
		v->raw = start;
		v->raw_len = (size_t)(r->p - start);
		return 0;
	case 't':
		v->type = GW_JR_BOOL;
		v->num = 1;
		return literal(r, "true");
	case 'f':
		v->type = GW_JR_BOOL;
		v->num = 0;
		return literal(r, "false");
	case 'n':
		v->type = GW_JR_NULL;
		return literal(r, "null");
	default:
		return number(r, v);
	}
}

/* Members of an object or elements of an array (r->p at the bracket). */
static int members(struct rd *r, char close, gw_jr_member_fn fn, void *ctx)
{
	char key[GW_JR_STR_MAX];
	struct gw_jr_value v;
	int first = 1, rc;

	r->p++;
	ws(r);
	while (r->p < r->end && *r->p != close) {
		if (!first) {
			if (*r->p != ',')
				return -1;
			r->p++;
			ws(r);
		}
		first = 0;
		if (close == '}') {
			if (string(r, key, sizeof(key)) < 0)
				return -1;
			ws(r);
			if (r->p >= r->end || *r->p != ':')
				return -1;
			r->p++;
			ws(r);
		}
		r->depth = 1;
		if (value(r, &v) < 0)
			return -1;
		rc = fn(ctx, close == '}' ? key : NULL, &v);
		if (rc)
			return rc;
		ws(r);
	}
	if (r->p >= r->end)
		return -1;
	r->p++;
	ws(r);
	return r->p == r->end ? 0 : -1;
}

int gw_jr_object(const char *s, size_t n, gw_jr_member_fn fn, void *ctx)
{
	struct rd r = { s, s + n, 0 };

	ws(&r);
	if (r.p >= r.end || *r.p != '{')
		return -1;
	return members(&r, '}', fn, ctx);
}

int gw_jr_array(const char *s, size_t n, gw_jr_member_fn fn, void *ctx)
{
	struct rd r = { s, s + n, 0 };

	ws(&r);
	if (r.p >= r.end || *r.p != '[')
		return -1;
	return members(&r, ']', fn, ctx);
}
