/* SPDX-License-Identifier: MIT */
/*
 * tz.h - local calendar days in the gateway's IANA time zone.
 *
 * A day is a calendar day in the configured zone; days with a daylight-saving
 * change last 23 or 25 hours. Days are numbered as days since 1970-01-01 of
 * the proleptic Gregorian calendar (a civil day number, independent of zone).
 * The zone is process-wide (TZ and tzset()); set it once at start-up.
 */
#ifndef GW_TZ_H
#define GW_TZ_H

#include <stddef.h>
#include <stdint.h>

/* Selects the IANA zone `name` ("Asia/Ho_Chi_Minh", "UTC"). Fails with
 * GW_ENOTFOUND if the zone is not installed: glibc would silently fall back
 * to UTC. */
int gw_tz_set(const char *name);
/* The zone set last (borrowed). */
const char *gw_tz_name(void);

/* The local civil day containing UTC time ts_ms. */
int32_t gw_tz_day_of(int64_t ts_ms);
/* UTC milliseconds of the first instant of local day `day`. */
int64_t gw_tz_day_start(int32_t day);

/* Civil day number <-> year, month (1-12), day (1-31). */
int32_t gw_day_from_ymd(int y, int m, int d);
void gw_day_to_ymd(int32_t day, int *y, int *m, int *d);
/* Formats "YYYY-MM-DD" into buf (>= 11 bytes); returns buf. */
char *gw_day_format(int32_t day, char *buf, size_t cap);
/* Parses "YYYY-MM-DD"; returns 0 or GW_EINVAL. */
int gw_day_parse(const char *s, int32_t *day);

#endif
