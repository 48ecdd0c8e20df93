/* SPDX-License-Identifier: MIT */
/*
 * drops.h - the process-wide tally of readings the gateway did not keep,
 * by reason, so that nothing is ever dropped silently.
 *
 * Whatever module drops a reading (the batching core, a driver, the
 * scheduler, the daemon) counts it here with gw_drops_add(); the daemon
 * writes the counts into <spool_dir>/status as "dropped_<reason>=N" lines
 * and raises the readings_dropped alarm while any is non-zero since start;
 * `gwctl status` shows them. Counters are atomic: any thread may add.
 * They count since the process started.
 */
#ifndef GW_DROPS_H
#define GW_DROPS_H

#include <stdint.h>

enum gw_drop_reason {
	GW_DROP_LATE = 0,  /* older than the revision window: its day is final */
	GW_DROP_BAD_VALUE, /* a value that cannot be true (Inf, beyond range) */
	GW_DROP_BAD_TIME,  /* a timestamp far from the gateway's time (e.g. a
			    * load-profile entry from a meter clock that is
			    * years off) */
	GW_DROP_NOMEM,     /* out of memory on the way to the batching core */
	GW_DROP_CLOCK_BACK, /* stamped at or before a reading of its register
			     * already taken: the clock stepped back (NTP);
			     * journaled, set aside (GW_RS_CLOCK_BACK) */
	GW_DROP_REASON_COUNT_ /* number of reasons, not a reason */
};

/* "late", "bad_value", "bad_time", "nomem", "clock_back" (NULL for an
 * unknown one). The
 * status file's key is "dropped_" followed by this name. */
const char *gw_drop_reason_name(enum gw_drop_reason r);

/* Counts n readings dropped for reason r (thread-safe). */
void gw_drops_add(enum gw_drop_reason r, uint64_t n);

/* The count for reason r since start (or the last reset). */
uint64_t gw_drops_get(enum gw_drop_reason r);

/* The sum over every reason. */
uint64_t gw_drops_total(void);

/* Sets every counter to 0 (tests). */
void gw_drops_reset(void);

#endif
