/* SPDX-License-Identifier: MIT */
/*
 * iec_profile.h - what the gateway does with a meter's load profile
 * (IEC 62056-21 P.01), which it does not trust: pure functions over
 * readings, no I/O, no clock.
 *
 * gw_iec_profile_place() moves the meter's interval time stamps onto the
 * gateway's clock by the meter's clock offset measured in the same
 * readout, and refuses entries outside a window around the gateway's time.
 * gw_iec_backfill() turns the profile over a gap in a meter's readings
 * into cumulative register points for that gap: the meter's own register
 * values where the profile records the register (GW_RS_PROFILE), else
 * interval demand or energy scaled so that the gap adds up exactly to the
 * register's real change (GW_RS_DERIVED). docs/iec62056-21.md describes
 * both.
 */
#ifndef GW_IEC_PROFILE_H
#define GW_IEC_PROFILE_H

#include <stddef.h>
#include <stdint.h>

#include "reading.h"

/* Moves every load-profile reading of r[0..n) (ts_ms != 0) from the
 * meter's clock onto the gateway's (ts_ms - offset_ms, offset_ms being the
 * meter's clock minus the gateway's) and keeps it only when it then lies
 * in [now_ms - window_ms, now_ms + ahead_ms]: a meter's interval cannot
 * end after the gateway's now, nor be older than the window. Register
 * readings (ts_ms 0) are kept as they are. The array is compacted in
 * order. Returns the number kept; n minus that were refused (the caller
 * counts them as GW_DROP_BAD_TIME). */
size_t gw_iec_profile_place(struct gw_reading *r, size_t n, int64_t offset_ms,
			    int64_t now_ms, int64_t window_ms, int64_t ahead_ms);

/* A gap in one cumulative register's readings: its last reading before
 * (from) and its first after (to), both on the gateway's clock. */
struct gw_iec_gap {
	char obis[GW_OBIS_MAX]; /* the register, "1.8.0" */
	int64_t from_ms, from_value;
	int64_t to_ms, to_value;
};

/* Fills gap g of meter_id from the profile entries p[0..n) (from
 * gw_iec_profile, already placed with gw_iec_profile_place), whose
 * interval is step_ms:
 *
 * - where the profile has the register itself (channel g->obis in an
 *   energy unit), its values at the interval ends strictly inside the gap,
 *   status GW_RS_PROFILE; each must lie between g->from_value and
 *   g->to_value and none below the one before;
 * - else, for a register C.8.E, from its energy per interval (C.29.E) or
 *   its average demand (C.5.E): the register's change across the gap,
 *   shared out over the intervals in proportion to their energy (a part
 *   interval at either end in proportion to its overlap); when the change
 *   is at least their energy, each keeps its own and the meter's current
 *   interval, not yet in its profile, gets the rest (else it counts as its
 *   last recorded one); with largest-remainder rounding, so that the
 *   points are whole Wh and
 *   add up exactly to g->to_value; status GW_RS_DERIVED. The profile must
 *   cover the gap's start and reach within one interval of its end, and
 *   its energy must match the register's change within 10 % (plus the
 *   guessed current interval and 2 Wh); else it is refused.
 *
 * Points are written to out[0..cap) oldest first, strictly between
 * g->from_ms and g->to_ms, so that the register never runs backwards.
 * Returns their number (0: the profile has no channel for this register,
 * or no interval end falls inside the gap), GW_EPROTO when the profile
 * contradicts the register (nothing written; why[] says how), GW_EFULL or
 * GW_ENOMEM. */
int gw_iec_backfill(const struct gw_reading *p, size_t n, int64_t step_ms,
		    const struct gw_iec_gap *g, const char *meter_id,
		    struct gw_reading *out, size_t cap, char *why, size_t why_cap);

#endif
