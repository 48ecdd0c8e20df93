/* SPDX-License-Identifier: MIT */
/*
 * drops.c - counts of readings not kept, by reason; see drops.h.
 */
#include <stdatomic.h>
#include <stddef.h>

#include "drops.h"

static _Atomic uint64_t counts[GW_DROP_REASON_COUNT_];

static const char *const names[GW_DROP_REASON_COUNT_] = {
	[GW_DROP_LATE] = "late",
	[GW_DROP_BAD_VALUE] = "bad_value",
	[GW_DROP_BAD_TIME] = "bad_time",
	[GW_DROP_NOMEM] = "nomem",
	[GW_DROP_CLOCK_BACK] = "clock_back",
};

const char *gw_drop_reason_name(enum gw_drop_reason r)
{
	if ((unsigned)r >= GW_DROP_REASON_COUNT_)
		return NULL;
	return names[r];
}

void gw_drops_add(enum gw_drop_reason r, uint64_t n)
{
	if ((unsigned)r < GW_DROP_REASON_COUNT_ && n)
		atomic_fetch_add_explicit(&counts[r], n, memory_order_relaxed);
}

uint64_t gw_drops_get(enum gw_drop_reason r)
{
	if ((unsigned)r >= GW_DROP_REASON_COUNT_)
		return 0;
	return atomic_load_explicit(&counts[r], memory_order_relaxed);
}

uint64_t gw_drops_total(void)
{
	uint64_t t = 0;

	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++)
		t += gw_drops_get((enum gw_drop_reason)r);
	return t;
}

void gw_drops_reset(void)
{
	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++)
		atomic_store_explicit(&counts[r], 0, memory_order_relaxed);
}
