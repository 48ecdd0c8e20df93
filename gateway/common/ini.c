/* SPDX-License-Identifier: MIT */
/*
 * ini.c - a small INI reader that reports the line of every key; see ini.h.
 *
 * Why not Debian's libinih: its handler is not told the line number unless
 * the library is built with INI_HANDLER_LINENO, which Debian's build is not,
 * and every range check, unknown key and missing key here must name its
 * file and line. This reader is about a hundred lines and has its own tests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "ini.h"

#define INI_LINE_MAX 4096

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' ||
			 e[-1] == '\n'))
		*--e = '\0';
	return s;
}

static int syntax_error(const char *name, int line, const char *msg)
{
	fprintf(stderr, "%s:%d: %s\n", name, line, msg);
	return GW_ECONFIG;
}

/* Handles one line (NUL-terminated, without its newline). */
static int parse_line(const char *name, char *raw, int line, char *section,
		      size_t section_cap, gw_ini_fn fn, void *ctx)
{
	char *s = trim(raw);
	char *eq, *key, *value;
	size_t n;

	if (*s == '\0' || *s == '#' || *s == ';')
		return 0;
	if (*s == '[') {
		char *close = strchr(s, ']');
		if (!close)
			return syntax_error(name, line, "section header without ']'");
		if (*trim(close + 1) != '\0' && *trim(close + 1) != '#' &&
		    *trim(close + 1) != ';')
			return syntax_error(name, line, "text after section header");
		*close = '\0';
		s = trim(s + 1);
		if (*s == '\0')
			return syntax_error(name, line, "empty section name");
		/* Collapse inner runs of blanks so "[bus   a]" == "[bus a]". */
		n = 0;
		for (char *p = s; *p && n + 1 < section_cap; p++) {
			if ((*p == ' ' || *p == '\t') && n > 0 &&
			    section[n - 1] == ' ')
				continue;
			section[n++] = (*p == '\t') ? ' ' : *p;
		}
		section[n] = '\0';
		if (strlen(s) >= section_cap)
			return syntax_error(name, line, "section name too long");
		return fn(ctx, section, NULL, NULL, line);
	}
	eq = strchr(s, '=');
	if (!eq)
		return syntax_error(name, line, "expected 'key = value'");
	*eq = '\0';
	key = trim(s);
	value = trim(eq + 1);
	if (*key == '\0')
		return syntax_error(name, line, "missing key before '='");
	if (*value == '"') {
		char *endq = strrchr(value + 1, '"');
		if (!endq)
			return syntax_error(name, line, "unterminated quoted value");
		char *after = trim(endq + 1);
		if (*after != '\0' && *after != '#' && *after != ';')
			return syntax_error(name, line, "text after quoted value");
		*endq = '\0';
		value++;
	} else {
		/* An inline comment needs a blank before it: "a = b # c". */
		for (char *p = value; *p; p++) {
			if ((*p == '#' || *p == ';') &&
			    (p[-1] == ' ' || p[-1] == '\t')) {
				*p = '\0';
				value = trim(value);
				break;
			}
		}
	}
	return fn(ctx, section, key, value, line);
}

int gw_ini_parse_buffer(const char *name, const char *buf, size_t len,
			gw_ini_fn fn, void *ctx)
{
	char section[256] = "";
	char line_buf[INI_LINE_MAX];
	size_t pos = 0;
	int line = 0;

	while (pos < len) {
		size_t start = pos, n;
		while (pos < len && buf[pos] != '\n')
			pos++;
		n = pos - start;
		line++;
		if (pos < len)
			pos++; /* the newline */
		if (n >= sizeof(line_buf))
			return syntax_error(name, line, "line too long");
		memcpy(line_buf, buf + start, n);
		line_buf[n] = '\0';
		if (memchr(line_buf, '\0', n))
			return syntax_error(name, line, "NUL byte in line");
		/* Skip a UTF-8 byte order mark on the first line. */
		char *l = line_buf;
		if (line == 1 && (unsigned char)l[0] == 0xEF &&
		    (unsigned char)l[1] == 0xBB && (unsigned char)l[2] == 0xBF)
			l += 3;
		int rc = parse_line(name, l, line, section, sizeof(section), fn, ctx);
		if (rc != 0)
			return rc;
	}
	return 0;
}

int gw_ini_parse(const char *path, gw_ini_fn fn, void *ctx)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int rc;

	if (!f) {
		fprintf(stderr, "%s: cannot open: %s\n", path, strerror(errno));
		return GW_EIO;
	}
	for (;;) {
		if (len + 4096 > cap) {
			size_t ncap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, ncap);
			if (!nb) {
				free(buf);
				fclose(f);
				return GW_ENOMEM;
			}
			buf = nb;
			cap = ncap;
		}
		size_t got = fread(buf + len, 1, cap - len, f);
		len += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "%s: read error\n", path);
		free(buf);
		fclose(f);
		return GW_EIO;
	}
	fclose(f);
	rc = gw_ini_parse_buffer(path, buf ? buf : "", len, fn, ctx);
	free(buf);
	return rc;
}
