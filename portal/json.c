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

int gw_json_string(struct gw_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	char esc[8];
	unsigned cp;
	int n;

	gw_buf_add(b, "\"", 1);
	while (*p) {
		n = utf8_seq(p, &cp);
		if (n == 0) {
			gw_buf_add(b, "\\ufffd", 6);
			p++;
			continue;
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
		p += n;
	}
	return gw_buf_add(b, "\"", 1);
}

int gw_csv_field(struct gw_buf *b, const char *s)
{
	const char *p;

	if (!strpbrk(s, ",\"\r\n"))
		return gw_buf_puts(b, s);
	gw_buf_add(b, "\"", 1);
	for (p = s; *p; p++) {
		if (*p == '"')
			gw_buf_add(b, "\"\"", 2);
		else
			gw_buf_add(b, p, 1);
	}
	return gw_buf_add(b, "\"", 1);
}

int gw_wh_to_kwh(int64_t wh, char *out, size_t cap)
{
	/* The magnitude as unsigned: -INT64_MIN does not fit an int64. */
	uint64_t mag = wh < 0 ? (uint64_t)0 - (uint64_t)wh : (uint64_t)wh;
	int n;

	n = snprintf(out, cap, "%s%llu.%03u", wh < 0 ? "-" : "",
		     (unsigned long long)(mag / 1000), (unsigned)(mag % 1000));
	return n;
}
