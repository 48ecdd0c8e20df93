/* SPDX-License-Identifier: MIT */
/*
 * fuzz_ini.c - libFuzzer target for the INI reader (gateway/common/ini.c), which
 * reads the gateway's configuration and every meter profile. Any bytes
 * must be read or refused without a crash, a leak or undefined behaviour,
 * and what the callback is given must hold together:
 *
 *   - the result is 0 or GW_ECONFIG (or the callback's own value);
 *   - line numbers never go backwards, and stay within the lines of the
 *     input;
 *   - a section name is not empty and has neither ']' nor a newline, nor
 *     blanks at either end or two in a row;
 *   - a key is not empty and has no '=', newline, or blank at either end;
 *     a value has no newline;
 *   - a callback that stops the parse stops it at once, with its value.
 *
 * `make fuzz` runs it for FUZZ_TIME seconds; tests/integration/ini_fuzz.sh
 * briefly in `make check`. Seeds: the shipped profiles and the test
 * configurations' INI files (tests/fuzz/seeds/ini).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "ini.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct seen {
	int last_line, max_line, calls, stop_at;
};

static int blank(char c)
{
	return c == ' ' || c == '\t';
}

static int cb(void *ctx, const char *section, const char *key,
	      const char *value, int line)
{
	struct seen *s = ctx;
	size_t n;

	if (line < s->last_line || line < 1 || line > s->max_line)
		abort();
	s->last_line = line;
	n = strlen(section);
	if (!key) {
		if (value || n == 0 || strchr(section, ']') ||
		    strchr(section, '\n') || blank(section[0]) ||
		    blank(section[n - 1]) || strstr(section, "  "))
			abort();
	} else {
		size_t k = strlen(key);
		if (!value || k == 0 || strchr(key, '=') || strchr(key, '\n') ||
		    blank(key[0]) || blank(key[k - 1]) || strchr(value, '\n'))
			abort();
	}
	if (++s->calls == s->stop_at)
		return 12345;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct seen s;
	int lines = 1;

	for (size_t i = 0; i < size; i++)
		lines += data[i] == '\n';
	for (int pass = 0; pass < 2; pass++) {
		memset(&s, 0, sizeof(s));
		s.max_line = lines;
		/* the second pass stops at the third callback */
		s.stop_at = pass ? 3 : -1;
		int rc = gw_ini_parse_buffer("fuzz.ini", (const char *)data, size, cb,
					     &s);
		if (rc != 0 && rc != GW_ECONFIG && rc != 12345)
			abort();
		if (rc == 12345 && s.calls != 3)
			abort();
		if (pass && s.calls > 3)
			abort();
	}
	return 0;
}
