/* SPDX-License-Identifier: MIT */
/*
 * reading.c - units of readings and exact decimal formatting.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "reading.h"

static const char *const unit_names[GW_UNIT_COUNT_] = {
	[GW_UNIT_NONE] = "",   [GW_UNIT_WH] = "Wh", [GW_UNIT_VARH] = "varh",
	[GW_UNIT_VAH] = "VAh", [GW_UNIT_W] = "W",   [GW_UNIT_VAR] = "var",
	[GW_UNIT_VA] = "VA",   [GW_UNIT_V] = "V",   [GW_UNIT_A] = "A",
	[GW_UNIT_HZ] = "Hz",
};

const char *gw_unit_name(enum gw_unit u)
{
	if ((unsigned)u >= GW_UNIT_COUNT_)
		return "?";
	return unit_names[u];
}

bool gw_unit_is_energy(enum gw_unit u)
{
	return u == GW_UNIT_WH || u == GW_UNIT_VARH || u == GW_UNIT_VAH;
}

int gw_unit_parse(const char *s, enum gw_unit *unit, int *exp10)
{
	int e = 0;

	if (strcmp(s, "-") == 0 || *s == '\0') {
		*unit = GW_UNIT_NONE;
		*exp10 = 0;
		return 0;
	}
	/* Exact match first: "VAh" must not be read as a prefix. */
	for (int u = 1; u < GW_UNIT_COUNT_; u++) {
		if (strcasecmp(s, unit_names[u]) == 0) {
			*unit = (enum gw_unit)u;
			*exp10 = 0;
			return 0;
		}
	}
	switch (s[0]) {
	case 'k': e = 3; break;
	case 'M': e = 6; break;
	case 'm': e = -3; break;
	default: return GW_EINVAL;
	}
	for (int u = 1; u < GW_UNIT_COUNT_; u++) {
		if (strcasecmp(s + 1, unit_names[u]) == 0) {
			*unit = (enum gw_unit)u;
			*exp10 = e;
			return 0;
		}
	}
	return GW_EINVAL;
}

char *gw_format_decimal(int64_t value, int scale, char *buf, size_t cap)
{
	char digits[32];
	uint64_t mag = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
	int n, pos = 0;

	if (scale >= 0) {
		n = snprintf(buf, cap, "%s%llu", value < 0 ? "-" : "",
			     (unsigned long long)mag);
		for (int i = 0; i < scale && n > 0 && (size_t)n + 1 < cap; i++)
			buf[n++] = '0';
		if (n >= 0 && (size_t)n < cap)
			buf[n] = '\0';
		return buf;
	}
	n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)mag);
	int frac = -scale;
	char out[192]; /* sign, "0.", up to 128 zeros, 20 digits */
	if (value < 0)
		out[pos++] = '-';
	if (n <= frac) {
		out[pos++] = '0';
		out[pos++] = '.';
		for (int i = 0; i < frac - n; i++)
			out[pos++] = '0';
		memcpy(out + pos, digits, (size_t)n);
		pos += n;
	} else {
		memcpy(out + pos, digits, (size_t)(n - frac));
		pos += n - frac;
		out[pos++] = '.';
		memcpy(out + pos, digits + n - frac, (size_t)frac);
		pos += frac;
	}
	out[pos] = '\0';
	snprintf(buf, cap, "%s", out);
	return buf;
}
