/* SPDX-License-Identifier: MIT */
/*
 * tz.c - local calendar days in the configured IANA zone; see tz.h.
 *
 * Conversions use the C library (localtime_r, mktime) with TZ set to the
 * zone, so that the zone database installed on the concentrator (tzdata)
 * decides offsets and daylight-saving changes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gw.h"
#include "tz.h"

static char zone_name[64] = "UTC";

int gw_tz_set(const char *name)
{
	char path[GW_PATH_MAX];
	const char *dir = getenv("TZDIR");
	struct stat st;

	if (!name || !*name || strlen(name) >= sizeof(zone_name) ||
	    name[0] == '/' || strstr(name, "..") || strchr(name, ','))
		return GW_EINVAL;
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo",
		 name);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return GW_ENOTFOUND;
	gw_strlcpy(zone_name, name, sizeof(zone_name));
	setenv("TZ", name, 1);
	tzset();
	return 0;
}

const char *gw_tz_name(void)
{
	return zone_name;
}

/* Howard Hinnant's days_from_civil / civil_from_days. */
int32_t gw_day_from_ymd(int y, int m, int d)
{
	y -= m <= 2;
	int era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (unsigned)((153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1);
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int32_t)doe - 719468;
}

void gw_day_to_ymd(int32_t z, int *y, int *m, int *d)
{
	z += 719468;
	int era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int yy = (int)yoe + era * 400;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yy + (*m <= 2);
}

char *gw_day_format(int32_t day, char *buf, size_t cap)
{
	int y, m, d;

	gw_day_to_ymd(day, &y, &m, &d);
	snprintf(buf, cap, "%04d-%02d-%02d", y, m, d);
	return buf;
}

int gw_day_parse(const char *s, int32_t *day)
{
	int y, m, d, n = 0;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
	    s[n] != '\0' || m < 1 || m > 12 || d < 1 || d > 31)
		return GW_EINVAL;
	*day = gw_day_from_ymd(y, m, d);
	int yy, mm, dd;
	gw_day_to_ymd(*day, &yy, &mm, &dd);
	if (yy != y || mm != m || dd != d) /* 2026-02-30 */
		return GW_EINVAL;
	return 0;
}

/* Local days are found through time_t: a 32-bit one ends in 2038. The
 * Makefile asks for 64 bits on 32-bit ARM (_TIME_BITS=64). */
_Static_assert(sizeof(time_t) >= 8, "time_t must be 64-bit (build with -D_TIME_BITS=64)");

int32_t gw_tz_day_of(int64_t ts_ms)
{
	int64_t secs = ts_ms / 1000 - (ts_ms % 1000 < 0 ? 1 : 0);
	time_t t = (time_t)secs;
	struct tm tm;

	localtime_r(&t, &tm);
	return gw_day_from_ymd(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
}

int64_t gw_tz_day_start(int32_t day)
{
	struct tm tm;
	int y, m, d;

	gw_day_to_ymd(day, &y, &m, &d);
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	tm.tm_isdst = -1;
	time_t t = mktime(&tm);
	/* Where midnight does not exist (a DST jump at 00:00), mktime moves
	 * forward to the first existing instant, which is the day's start.
	 * If it chose an instant of the previous day (ambiguous midnight
	 * resolved to the earlier offset), step forward until it is ours. */
	int64_t ms = (int64_t)t * 1000;
	while (gw_tz_day_of(ms) < day)
		ms += 15 * 60 * 1000;
	while (gw_tz_day_of(ms - 1) == day)
		ms -= 15 * 60 * 1000;
	return ms;
}
