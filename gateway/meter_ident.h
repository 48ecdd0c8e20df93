/* SPDX-License-Identifier: MIT */
/*
 * meter_ident.h - who each configured meter is: its serial number, when it
 * replaced another meter, and whether its clock drifts. The one owner of
 * <spool_dir>/serials.
 *
 * A read reports what the meter said of itself (drivers: its serial
 * number, its clock); this module compares that with what it knew. A
 * different serial number means the meter behind the id was replaced: a
 * meter_replaced event at that read, saved with the time of the swap so
 * that the batching core counts the old and the new register apart even
 * after a restart. A clock further off than the bus's max_clock_drift
 * raises one clock_drift event, and another only after it was back within
 * half the allowance (hysteresis): the one clock-drift check of the
 * gateway (gwctl read uses it too).
 */
#ifndef GW_METER_IDENT_H
#define GW_METER_IDENT_H

#include <stdint.h>

#include "batch.h"
#include "config.h"
#include "driver.h"

struct gw_meter_ident;

/* The identities of cfg's meters (borrowed; it must outlive the result),
 * with what <cfg->spool_dir>/serials records: "meter_id<TAB>serial<TAB>
 * replaced_ms" lines (replaced_ms 0, or missing, when the meter replaced
 * none). A line that does not parse is reported with its file:line and
 * skipped. Returns NULL when out of memory; free with gw_meter_ident_free. */
struct gw_meter_ident *gw_meter_ident_new(const struct gw_config *cfg);
void gw_meter_ident_free(struct gw_meter_ident *mi);

/* A read of meter m (index into cfg->meters) at now_ms reported serial
 * (may be "": none). Returns 1 with *ev filled (GW_EV_METER_REPLACED, old
 * and new serial in its detail; logged) when it differs from the one
 * known, else 0. A replacement is saved to <spool>/serials durably
 * before the return; a meter's first serial is saved by the next
 * gw_meter_ident_flush (not saved, it is taken as the meter's first again
 * at the next start: no event is lost). Thread-safe (several bus
 * workers). */
int gw_meter_ident_serial(struct gw_meter_ident *mi, int m, const char *serial,
			  int64_t now_ms, struct gw_event *ev);

/* Saves the first serials recorded since the last save, durably, in one
 * write of <spool>/serials (the bus workers call it at each cycle's end:
 * a fleet's first cycle writes the file once a bus, not once a meter);
 * nothing to do when none. A write that fails is logged and tried again
 * at the next flush. Thread-safe. */
void gw_meter_ident_flush(struct gw_meter_ident *mi);

/* What one read of meter m at now_ms said of the meter: seen (the
 * driver's report; may be NULL) and its readings r[0..n), whose serial
 * number register (OBIS 96.1.0 or C.1.0, a number: a Modbus profile)
 * stands in for a serial number the driver did not report. Judges that
 * serial number as gw_meter_ident_serial does (the same return and *ev). */
int gw_meter_ident_seen(struct gw_meter_ident *mi, int m,
			const struct gw_meter_seen *seen,
			const struct gw_reading *r, size_t n, int64_t now_ms,
			struct gw_event *ev);

/* Meter m's clock was offset_ms off the gateway's at now_ms. Returns 1
 * with *ev filled (GW_EV_CLOCK_DRIFT, logged) when it drifts beyond the
 * bus's max_clock_drift (0: never) and did not before; its return within
 * half the allowance is logged once. Thread-safe. */
int gw_meter_ident_clock(struct gw_meter_ident *mi, int m, int64_t offset_ms,
			 int64_t now_ms, struct gw_event *ev);

/* The drift rule as a pure function: whether a clock offset_ms off,
 * allowed max_ms (> 0), drifts, given whether it drifted before (was):
 * beyond max_ms if it did not, beyond max_ms / 2 if it did. */
int gw_meter_clock_drifts(int was, int64_t offset_ms, int64_t max_ms);

/* Tells the batcher of every replacement recorded (the last of each
 * meter). Returns 0 or GW_ENOMEM. */
int gw_meter_ident_feed(const struct gw_meter_ident *mi, struct gw_batcher *b);

#endif
