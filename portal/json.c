/* SPDX-License-Identifier: MIT */
/*
 * json.c - text buffer, JSON string escaping, CSV fields and exact kWh
 * decimals for the portal's answers; see json.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "json.h"

#define BUF_DEFAULT_LIMIT ((size_t)64 << 20)

void gw_buf_init(struct gw_buf *b, size_t limit)
{
	memset(b, 0, sizeof(*b));
	b->limit = limit ? limit : BUF_DEFAULT_LIMIT;
}

void gw_buf_free(struct gw_buf *b)
{
	size_t limit = b->limit;

	free(b->data);
	gw_buf_init(b, limit);
}

/* Makes room for n more bytes and the NUL. */
static int reserve(struct gw_buf *b, size_t n)
{
	size_t need, cap;
	char *p;

	if (b->failed)
		return GW_ENOMEM;
	if (n > b->limit || b->len > b->limit - n) {
		b->failed = 1;
		return GW_EFULL;
	}
	need = b->len + n + 1;
	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 256;
	while (cap < need)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p) {
		b->failed = 1;
		return GW_ENOMEM;
	}
	b->data = p;
	b->cap = cap;
	return 0;
}

int gw_buf_reserve(struct gw_buf *b, size_t n)
{
	return reserve(b, n);
}

int gw_buf_add(struct gw_buf *b, const char *s, size_t n)
{
	int rc = reserve(b, n);

	if (rc < 0)
		return rc;
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

int gw_buf_puts(struct gw_buf *b, const char *s)
{
	return gw_buf_add(b, s, strlen(s));
}

int gw_buf_printf(struct gw_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = 1;
		return GW_EINVAL;
	}
	rc = reserve(b, (size_t)n);
	if (rc < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if the bytes there
 * are not one (overlong forms, surrogates and code points past U+10FFFF
 * are not valid). *cp gets the code point. */
static int utf8_seq(const unsigned char *s, unsigned *cp)
{
	unsigned c = s[0];
	int n, i;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
		c &= 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		c &= 0x0f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		c &= 0x07;
	} else {
		return 0;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* Bytes that go into a JSON string as they are: printable ASCII but for
 * '"', '\\' and the three that matter inside HTML. Everything else (the
 * control characters, DEL, '<', '>', '&', and every byte >= 0x80, whose
 * UTF-8 sequence is checked) is looked at one by one. */
static const unsigned char plain[256] = {
	['\x20'] = 1, ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['\''] = 1, ['('] = 1,
	[')'] = 1, ['*'] = 1, ['+'] = 1, [','] = 1, ['-'] = 1, ['.'] = 1, ['/'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1,
	['7'] = 1, ['8'] = 1, ['9'] = 1, [':'] = 1, [';'] = 1, ['='] = 1, ['?'] = 1,
	['@'] = 1, ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
	['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1,
	['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1,
	['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1, ['['] = 1,
	[']'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['a'] = 1, ['b'] = 1, ['c'] = 1,
	['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1,
	['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1,
	['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
	['y'] = 1, ['z'] = 1, ['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1,
};

/* Appends the character at p (not a plain byte) escaped or as it is.
 * Returns the number of input bytes it took. */
static int special(struct gw_buf *b, const unsigned char *p)
{
	char esc[8];
	unsigned cp;
	int n = utf8_seq(p, &cp);

	if (n == 0) {
		gw_buf_add(b, "\\ufffd", 6);
		return 1;
	}
	switch (cp) {
	case '"': gw_buf_add(b, "\\\"", 2); break;
	case '\\': gw_buf_add(b, "\\\\", 2); break;
	case '\n': gw_buf_add(b, "\\n", 2); break;
	case '\r': gw_buf_add(b, "\\r", 2); break;
	case '\t': gw_buf_add(b, "\\t", 2); break;
	case '\b': gw_buf_add(b, "\\b", 2); break;
	case '\f': gw_buf_add(b, "\\f", 2); break;
	default:
		if (cp < 0x20 || cp == 0x7f || cp == '<' || cp == '>' || cp == '&' ||
		    cp == 0x2028 || cp == 0x2029) {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			gw_buf_add(b, esc, 6);
		} else {
			gw_buf_add(b, (const char *)p, (size_t)n);
		}
	}
	return n;
}

int gw_json_string(struct gw_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s, *run;
	size_t n;

	/* Runs of plain bytes are copied whole: a date, a meter id or a
	 * quality is one run, the whole string in one append. */
	for (run = p; plain[*p]; p++)
		;
	n = (size_t)(p - run);
	if (!*p && reserve(b, n + 2) == 0) {
		b->data[b->len] = '"';
		memcpy(b->data + b->len + 1, run, n);
		b->data[b->len + 1 + n] = '"';
		b->len += n + 2;
		b->data[b->len] = '\0';
		return 0;
	}
	gw_buf_add(b, "\"", 1);
	for (;;) {
		if (p > run)
			gw_buf_add(b, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		p += special(b, p);
		for (run = p; plain[*p]; p++)
			;
	}
	return gw_buf_add(b, "\"", 1);
}

int gw_csv_field(struct gw_buf *b, const char *s)
{
	const char *p, *q;

	if (!strpbrk(s, ",\"\r\n"))
		return gw_buf_puts(b, s);
	gw_buf_add(b, "\"", 1);
	for (p = s; (q = strchr(p, '"')) != NULL; p = q + 1) {
		gw_buf_add(b, p, (size_t)(q - p) + 1); /* up to the quote, then it again */
		gw_buf_add(b, "\"", 1);
	}
	gw_buf_puts(b, p);
	return gw_buf_add(b, "\"", 1);
}

/* Writes the decimal digits of v backwards ending at end; returns where
 * they start. */
static char *digits_back(uint64_t v, char *end)
{
	do {
		*--end = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	return end;
}

/* The text of wh / 1000 (three decimals) ending at end; returns its start. */
static char *kwh_back(int64_t wh, char *end)
{
	/* The magnitude as unsigned: -INT64_MIN does not fit an int64. */
	uint64_t mag = wh < 0 ? (uint64_t)0 - (uint64_t)wh : (uint64_t)wh;
	unsigned frac = (unsigned)(mag % 1000);
	char *p = end;

	*--p = (char)('0' + frac % 10);
	*--p = (char)('0' + frac / 10 % 10);
	*--p = (char)('0' + frac / 100);
	*--p = '.';
	p = digits_back(mag / 1000, p);
	if (wh < 0)
		*--p = '-';
	return p;
}

int gw_wh_to_kwh(int64_t wh, char *out, size_t cap)
{
	char tmp[GW_KWH_MAX];
	char *p = kwh_back(wh, tmp + sizeof(tmp));
	size_t n = (size_t)(tmp + sizeof(tmp) - p);

	/* as snprintf: cut to cap - 1 bytes, the full length returned */
	if (cap) {
		size_t k = n < cap ? n : cap - 1;
		memcpy(out, p, k);
		out[k] = '\0';
	}
	return (int)n;
}

int gw_buf_kwh(struct gw_buf *b, int64_t wh)
{
	char tmp[GW_KWH_MAX];
	char *p = kwh_back(wh, tmp + sizeof(tmp));

	return gw_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}

int gw_buf_int(struct gw_buf *b, int64_t v)
{
	char tmp[24];
	uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	char *p = digits_back(mag, tmp + sizeof(tmp));

	if (v < 0)
		*--p = '-';
	return gw_buf_add(b, p, (size_t)(tmp + sizeof(tmp) - p));
}
