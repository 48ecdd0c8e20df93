/* SPDX-License-Identifier: MIT */
/*
 * heapcount.c - live heap bytes (glibc's mallinfo2) of per-meter
 * structures: the clock check's marks of N meters x 3 registers, a
 * configuration loaded from GW.INI, and its scheduler before the
 * workers start. A count, not a benchmark (docs/benchmarks.md). Build
 * against a tree's library:
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Igateway -Igateway/common -Idrivers \
 *      $(pkg-config --cflags libmodbus libpq) -o heapcount \
 *      tests/bench/heap/heapcount.c build/libgw.a \
 *      $(pkg-config --libs libmodbus libserialport libpq zlib) -lpthread -lm
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "clockcheck.h"
#include "config.h"
#include "scheduler.h"

static size_t live(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

int main(int argc, char **argv)
{
	static const char *const codes[] = {"1-0:1.8.0*255", "1-0:2.8.0*255",
					    "1-0:1.7.0*255"};
	struct gw_config *cfg = NULL;
	char id[64];

	if (argc != 3) {
		fprintf(stderr, "usage: heapcount N GW.INI\n");
		return 2;
	}
	int n = atoi(argv[1]);
	size_t a = live();
	struct gw_clock_marks *m = gw_clock_marks_new();
	if (!m)
		return 1;
	for (int i = 0; i < n; i++) {
		snprintf(id, sizeof(id), "M%d-%d", i / 200 + 1, i % 200 + 1);
		for (int c = 0; c < 3; c++)
			if (gw_clock_marks_check(m, id, codes[c], 1000 + i, 3600000, 0) < 0)
				return 1;
	}
	printf("marks %d x 3: %zu bytes\n", n, live() - a);
	gw_clock_marks_free(m);
	a = live();
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
	gw_config_free(cfg);
	return 0;
}
