/* SPDX-License-Identifier: MIT */
/*
 * event.c - the names of meter event kinds, as the spool, the uploader
 * and the meter_events table spell them.
 */
#include <stddef.h>

#include "event.h"

static const char *const event_names[] = {
	[GW_EV_OFFLINE] = "offline",
	[GW_EV_ONLINE] = "online",
	[GW_EV_COUNTER_RESET] = "counter_reset",
	[GW_EV_METER_REPLACED] = "meter_replaced",
	[GW_EV_CLOCK_DRIFT] = "clock_drift",
	[GW_EV_POWER_OUTAGE] = "power_outage",
	[GW_EV_COUNTER_WRAP] = "counter_wrap",
	[GW_EV_JUMP] = "jump",
	[GW_EV_BAD_VALUE] = "bad_value",
	[GW_EV_LONG_GAP] = "long_gap",
};

const char *gw_event_name(enum gw_event_kind k)
{
	if ((unsigned)k < 1 || (unsigned)k > GW_EV_KIND_MAX_)
		return NULL;
	return event_names[k];
}
