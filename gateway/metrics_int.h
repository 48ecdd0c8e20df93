/* SPDX-License-Identifier: MIT */
/*
 * metrics_int.h - inside the metrics renderer: what metrics.c (the
 * gateway's and the buses' families, from spool/status) and
 * metrics_meters.c (the meters' families, from spool/health) share. Not
 * for use outside gateway/metrics*.c.
 */
#ifndef GW_METRICS_INT_H
#define GW_METRICS_INT_H

#include <stddef.h>
#include <stdio.h>

/* How a value of the texts becomes a sample's value. */
enum conv {
	CV_COUNT, /* a decimal count, as it is */
	CV_MS,    /* milliseconds, as seconds */
	CV_US,    /* microseconds, as seconds */
	CV_TIME,  /* a UTC time (or "-"), as Unix seconds */
	CV_FLAG,  /* yes or no, as 1 or 0 */
};

/* A value of the texts, in place: not NUL-terminated. */
struct val {
	const char *s;
	size_t len;
};

/* Whether v is a non-empty run of at most 20 decimal digits. */
int gw_metrics_digits(struct val v);
/* The number of such digits. */
unsigned long long gw_metrics_number(struct val v);
/* The sample value of v by c into buf (cap >= 32); 0, or -1 if v is not
 * a value of that kind (the sample is left out). */
int gw_metrics_convert(struct val v, enum conv c, char *buf, size_t cap);
/* A family's HELP and TYPE lines. */
void gw_metrics_family(FILE *f, const char *name, const char *type,
		       const char *help);
/* The families per meter of a health text, and its time (metrics_meters.c). */
void gw_metrics_render_meters(FILE *f, const char *health);

#endif
