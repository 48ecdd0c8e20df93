/* SPDX-License-Identifier: MIT */
/*
 * clockmarks.h - the newest reading time of each (meter, register), to
 * notice readings stamped in time already lived through after the clock
 * stepped back: a register's readings never go back in time, so a reading
 * at or before the newest one of its register is set aside
 * (GW_RS_CLOCK_BACK) instead of being put into days between the readings
 * already taken.
 *
 * Contract:
 * - A register is known by its meter id and OBIS code. The meters of the
 *   configuration in use (gw_clock_marks_use) are also known by their
 *   index in it and a code by its number here (gw_clock_marks_code):
 *   gw_clock_marks_check_at by numbers and gw_clock_marks_check by names
 *   look at the same mark.
 * - A new configuration (a reload) keeps every mark: a meter's marks
 *   follow its id to its new index, and those of a meter no longer
 *   configured stay, by name, until it comes back.
 * - Not thread-safe: the caller locks. Nothing else is locked or
 *   written; of the rest, only the configuration lent is read.
 */
#ifndef GW_CLOCKMARKS_H
#define GW_CLOCKMARKS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct gw_clock_marks;

/* A new, empty table (NULL when out of memory), of no configuration yet;
 * free with gw_clock_marks_free (accepts NULL). */
struct gw_clock_marks *gw_clock_marks_new(void);
void gw_clock_marks_free(struct gw_clock_marks *m);

/* Numbers the meters by cfg (borrowed: it must outlive its use here, and
 * its meters' ids stay as they are), moving the marks of the previous
 * configuration's meters to their index in cfg or, for a meter cfg does
 * not have, to its name. Returns 0, or GW_ENOMEM with the table as it
 * was. */
int gw_clock_marks_use(struct gw_clock_marks *m, const struct gw_config *cfg);

/* The number of OBIS code obis (found, or added): >= 0, GW_EFULL when
 * 65,535 codes are known already (its readings are then marked by name),
 * or GW_ENOMEM. Numbers stay for the table's life. */
long gw_clock_marks_code(struct gw_clock_marks *m, const char *obis);

/* Looks at a reading of (meter, obis) stamped ts: returns 1 if ts is no
 * more than window_ms before the newest one seen and no more than guard_ms
 * after it (set the reading aside), else 0, and ts becomes the newest if
 * it is later. window_ms < 0: no limit. guard_ms: 0, or, just after the
 * clock stepped back, about half a poll interval: the first reading after
 * the time lived twice lands on the grid point of the last one before it,
 * a few milliseconds apart, and would squeeze the energy of the step into
 * them. Returns GW_ENOMEM when out of memory (the reading is kept, and
 * its register's mark may stay as it was). */
int gw_clock_marks_check(struct gw_clock_marks *m, const char *meter,
			 const char *obis, int64_t ts, int64_t window_ms,
			 int64_t guard_ms);
/* The same for the meter at index meter of the configuration in use and
 * the code numbered code (gw_clock_marks_code); GW_EINVAL for a number
 * out of range. */
int gw_clock_marks_check_at(struct gw_clock_marks *m, int meter, long code,
			    int64_t ts, int64_t window_ms, int64_t guard_ms);

/* Forgets every mark (the codes' numbers stay). */
void gw_clock_marks_clear(struct gw_clock_marks *m);

#endif
