/* SPDX-License-Identifier: MIT */
/*
 * metersim_iec.h - the IEC 62056-21 half of metersim: `metersim --iec
 * DEVICE ...` hands its whole command line to metersim_iec_main().
 */
#ifndef GW_METERSIM_IEC_H
#define GW_METERSIM_IEC_H

#include <stdint.h>

#include "clock.h"

/* What both halves of metersim share: selects the zone of the meters'
 * local days, builds the clock from the --clock-* options (real time when
 * none is given) and sets T_ref, the instant the energy registers count
 * from: the clock start, or 2026-01-01T00:00:00Z on a real clock
 * (docs/metersim.md). Returns 0, or 2 (the exit status) after a message. */
int metersim_time_setup(const char *tz, const char *anchor, const char *start,
			const char *speed, struct gw_clock *clock, int64_t *t_ref);

/* Runs the IEC 62056-21 simulator; returns the process exit status. */
int metersim_iec_main(int argc, char **argv);

#endif
