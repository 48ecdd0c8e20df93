/* SPDX-License-Identifier: MIT */
/*
 * trackcount.c - how the batching core finds its tracks and walks them
 * in order, counted: N meters x REGS registers (the ABB B23 profile's
 * codes; meters named as markcpu.sh names them, 200 a bus) read in one
 * cycle (every track made), then CYCLES cycles 15 minutes apart (every
 * reading appended to a track found by meter and code), then the day
 * sealed (a walk over the tracks in the order of their names, made for
 * it). Prints the live heap (mallinfo2: uordblks + hblkhd) above what it
 * was before the first cycle, after it and after the seal, and the CPU
 * ns per reading of the appending cycles (gw_batcher_add whole: the
 * lookup and the append):
 *
 *   made BYTES
 *   append_ns NS
 *   sealed BYTES
 *
 * trackcount.sh builds it against two trees and runs them side by side.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b23_codes.h"
#include "batch.h"
#include "tz.h"

#define CYCLE_MS 900000LL

static size_t live(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int drop(void *ctx, struct gw_batch *batch)
{
	(void)ctx;
	gw_batch_free(batch);
	return 0;
}

/* Meter i's readings of cycle c into r. */
static void cycle_of(int i, int regs, int c, int64_t t0, struct gw_reading *r)
{
	for (int k = 0; k < regs; k++) {
		memset(&r[k], 0, sizeof(r[k]));
		snprintf(r[k].meter_id, sizeof(r[k].meter_id), "M%d-%d", i / 200 + 1,
			 i % 200 + 1);
		snprintf(r[k].obis, sizeof(r[k].obis), "%s", b23_codes[k]);
		r[k].ts_ms = t0 + c * CYCLE_MS + i % 200 * 40 + k;
		if (strstr(b23_codes[k], ".8.")) {
			r[k].unit = GW_UNIT_WH;
			r[k].value = 1000000LL * (i + 1) + c * (50 + i % 7 + k);
		} else {
			r[k].unit = GW_UNIT_V;
			r[k].value = 2300 + (i * 7 + c * 3 + k) % 40;
		}
	}
}

int main(int argc, char **argv)
{
	struct gw_reading r[B23_CODES];

	if (argc != 4) {
		fprintf(stderr, "usage: trackcount N REGS CYCLES\n");
		return 2;
	}
	int n = atoi(argv[1]), regs = atoi(argv[2]), cycles = atoi(argv[3]);
	if (n < 1 || regs < 1 || regs > B23_CODES || cycles < 1 || cycles > 90)
		return 2;
	gw_tz_set("UTC");
	struct gw_batcher_params p = {
		.gateway_id = "gw-count",
		.poll_interval_ms = CYCLE_MS,
		.midnight_tolerance_ms = 60000,
		.max_gap_ms = 7200000,
		.seal_delay_ms = 1800000,
		.revision_window_days = 2,
	};
	int32_t d0 = 0;
	if (gw_day_parse("2026-03-02", &d0))
		return 1;
	int64_t t0 = gw_tz_day_start(d0) + CYCLE_MS;
	size_t a = live();
	struct gw_batcher *b = gw_batcher_new(&p);
	if (!b)
		return 1;
	for (int i = 0; i < n; i++) {
		cycle_of(i, regs, 0, t0, r);
		if (gw_batcher_add(b, r, (size_t)regs) < 0)
			return 1;
	}
	printf("made %zu\n", live() - a);
	int64_t ns = 0;
	for (int c = 1; c <= cycles; c++) {
		for (int i = 0; i < n; i++) {
			cycle_of(i, regs, c, t0, r);
			int64_t s = cpu_ns();
			int rc = gw_batcher_add(b, r, (size_t)regs);
			ns += cpu_ns() - s;
			if (rc < 0)
				return 1;
		}
	}
	printf("append_ns %.1f\n", (double)ns / ((double)n * regs * cycles));
	if (gw_batcher_advance(b, gw_tz_day_start(d0 + 1) + 31 * 60000, drop, NULL) != 1)
		return 1;
	printf("sealed %zu\n", live() - a);
	gw_batcher_free(b);
	return 0;
}
