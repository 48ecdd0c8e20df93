/* SPDX-License-Identifier: MIT */
/*
 * event.h - something that happened to a meter (it went offline, its
 * register wrapped, its clock drifted ...), bound for the meter_events
 * table. Drivers raise some (a meter's clock), the scheduler and the
 * batching core the others; the spool and the uploader carry them. Schema
 * 005 lists the kinds the database accepts: a new kind needs a migration.
 */
#ifndef GW_EVENT_H
#define GW_EVENT_H

#include <stdint.h>

#include "gw.h"

enum gw_event_kind {
	GW_EV_OFFLINE = 1,       /* stopped answering for the configured cycles */
	GW_EV_ONLINE = 2,        /* answers again */
	GW_EV_COUNTER_RESET = 3, /* a register went backwards */
	GW_EV_METER_REPLACED = 4,/* a new serial number, or a reset to ~0 */
	GW_EV_CLOCK_DRIFT = 5,   /* the meter's clock is off by more than allowed */
	GW_EV_POWER_OUTAGE = 6,  /* every meter of a bus or feeder went dark */
	GW_EV_COUNTER_WRAP = 7,  /* a register rolled over its width */
	GW_EV_JUMP = 8,          /* an increase beyond the configured maximum power */
	GW_EV_BAD_VALUE = 9,     /* a value that cannot be true (Inf, beyond the
				  * register's range or the int64 limits) */
	GW_EV_LONG_GAP = 10,     /* a gap longer than the revision window: the
				  * energy in it could not be placed on days */
	GW_EV_KIND_MAX_ = 10
};

/* "offline", "online", "counter_reset", ... (NULL for an unknown kind). */
const char *gw_event_name(enum gw_event_kind k);

struct gw_event {
	char meter_id[GW_ID_MAX];
	char obis[GW_OBIS_MAX]; /* "" when not about one register */
	int64_t ts_ms;          /* UTC */
	uint8_t kind;           /* enum gw_event_kind */
	char detail[96];        /* human-readable, may be "" */
};

#endif
