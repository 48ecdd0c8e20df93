/* SPDX-License-Identifier: MIT */
/*
 * heapcount.c - live heap bytes (mallinfo2: uordblks + hblkhd) of
 * per-meter structures: a configuration loaded from GW.INI, its scheduler
 * before the workers start, and the clock check's marks of its first N
 * meters x REGS registers (the ABB B23 profile's codes, REGS 1..23,
 * default 3) numbered by that configuration, as gatewayd's journal sink
 * keeps them. A count, not a benchmark (docs/benchmarks.md, "gatewayd's
 * heap by site"). Build against a tree's library:
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Igateway -Igateway/common -Idrivers \
 *      $(pkg-config --cflags libmodbus libpq) -o heapcount \
 *      tests/bench/heap/heapcount.c build/libgw.a \
 *      $(pkg-config --libs libmodbus libserialport libpq zlib) -lpthread -lm
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "b23_codes.h"
#include "clockmarks.h"
#include "config.h"
#include "scheduler.h"

static size_t live(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

int main(int argc, char **argv)
{
	struct gw_config *cfg = NULL;

	if (argc != 3 && argc != 4) {
		fprintf(stderr, "usage: heapcount N GW.INI [REGS]\n");
		return 2;
	}
	int n = atoi(argv[1]), regs = argc == 4 ? atoi(argv[3]) : 3;
	if (regs < 1 || regs > B23_CODES)
		return 2;
	size_t a = live();
	if (gw_config_load(argv[2], &cfg))
		return 1;
	printf("config %d meters: %zu bytes\n", cfg->n_meters, live() - a);
	/* the scheduler's per-meter state before its workers start (the
	 * meters' health, identities, last reads, troubles): its spool_dir's
	 * serials file, if any, is read */
	a = live();
	struct gw_sched *s = gw_sched_new(cfg, &cfg->clock);
	if (!s)
		return 1;
	printf("scheduler %d meters: %zu bytes\n", cfg->n_meters, live() - a);
	gw_sched_free(s);
	if (n > cfg->n_meters)
		n = cfg->n_meters;
	a = live();
	struct gw_clock_marks *m = gw_clock_marks_new();
	if (!m || gw_clock_marks_use(m, cfg))
		return 1;
	for (int i = 0; i < n; i++)
		for (int c = 0; c < regs; c++)
			if (gw_clock_marks_check(m, cfg->meters[i].id, b23_codes[c],
						 1000 + i, 3600000, 0) < 0)
				return 1;
	printf("marks %d x %d: %zu bytes\n", n, regs, live() - a);
	/* a cycle later, register by register; then each meter's first
	 * register left behind two cycles (an escape each); then, the worst,
	 * the other way: only the first read two cycles on */
	for (int i = 0; i < n; i++)
		for (int c = 0; c < regs; c++)
			if (gw_clock_marks_check(m, cfg->meters[i].id, b23_codes[c],
						 1000 + 900000 + i, 3600000, 0) < 0)
				return 1;
	printf("marks %d x %d, a cycle later: %zu bytes\n", n, regs, live() - a);
	for (int k = 2; k <= 3; k++)
		for (int i = 0; i < n; i++)
			for (int c = 1; c < regs; c++)
				if (gw_clock_marks_check(m, cfg->meters[i].id, b23_codes[c],
							 1000 + k * 900000 + i, 3600000, 0) < 0)
					return 1;
	printf("marks %d x %d, one register behind: %zu bytes\n", n, regs, live() - a);
	for (int k = 4; k <= 5; k++)
		for (int i = 0; i < n; i++)
			if (gw_clock_marks_check(m, cfg->meters[i].id, b23_codes[0],
						 1000 + k * 900000 + i, 3600000, 0) < 0)
				return 1;
	printf("marks %d x %d, one register ahead: %zu bytes\n", n, regs, live() - a);
	gw_clock_marks_free(m);
	gw_config_free(cfg);
	return 0;
}
