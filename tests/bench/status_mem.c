/* SPDX-License-Identifier: MIT */
/*
 * status_mem.c - the memory gatewayd takes to write <spool>/health of a
 * large gateway (every 10 s, and after poll cycles with [metrics]):
 *
 *   status_mem [METERS [PER_BUS [REPS]]]   (10000, 200, 3)
 *
 * Side by side in one process, REPS times, each way the same text of
 * METERS meters (as gatewayd writes it: every counter non-zero, every
 * meter read; the generator seeded alike for both):
 *   baseline: the text made whole first, as gatewayd made it (256 + 288
 *             bytes a meter reserved), then gw_spool_status_write;
 *   streamed: gw_spool_status_make, each meter's line made as the file
 *             is written (gateway/daemon_status.c).
 * The two files must be the same bytes (checked). Measured: the heap
 * bytes live at the peak of each write above those live before it (every
 * malloc of the process counted by its usable size, through the
 * functions below), and the time; printed as median (min, max) and the
 * ratio streamed / baseline. A figure, never an assertion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_heap.h"
#include "bench_util.h"
#include "gw.h"
#include "spool.h"
#include "status_keys.h"

/* ---- the two ways ---- */

#define SEED 0x9E3779B97F4A7C15ULL
#define UPDATED "# updated 2026-03-09T10:15:00.000Z\n"

struct gen {
	int meters, per_bus;
};

static int baseline(const char *dir, const void *arg)
{
	const struct gen *g = arg;
	size_t cap = 256 + (size_t)g->meters * 288, len = 0;
	char *text = malloc(cap);

	if (!text)
		return -1;
	rng = SEED;
	len += (size_t)snprintf(text, cap, UPDATED);
	len += (size_t)gw_health_header(text + len, cap - len);
	for (int m = 0; m < g->meters && len < cap; m++)
		len += (size_t)bench_health_line(text + len, cap - len, m, g->per_bus);
	int rc = gw_spool_status_write(dir, "health.whole", text);
	free(text);
	return rc;
}

static void lines_make(void *ctx, struct gw_status_out *o)
{
	const struct gen *g = ctx;
	char hdr[1024], line[512];

	rng = SEED;
	gw_status_out_write(o, UPDATED, strlen(UPDATED));
	int n = gw_health_header(hdr, sizeof(hdr));
	gw_status_out_write(o, hdr, (size_t)n);
	for (int m = 0; m < g->meters; m++) {
		n = bench_health_line(line, sizeof(line), m, g->per_bus);
		gw_status_out_write(o, line, (size_t)n);
	}
}

static int streamed(const char *dir, const void *g)
{
	return gw_spool_status_make(dir, "health.streamed", lines_make, (void *)g);
}

int main(int argc, char **argv)
{
	struct gen g = {argc > 1 ? atoi(argv[1]) : 10000, argc > 2 ? atoi(argv[2]) : 200};
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	char dir[] = "/tmp/status_mem.XXXXXX", sub[64];
	double bb[64], bs[64], sb[64], ss[64], rb[64], b3[3], s3[3], r3[3], tb3[3], ts3[3];

	if (g.meters < 1 || g.per_bus < 1)
		return fprintf(stderr, "usage: status_mem [METERS [PER_BUS [REPS]]]\n"), 2;
	reps = reps < 3 ? 3 : reps > 64 ? 64 : reps;
	if (!mkdtemp(dir))
		return 1;
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	mkdir(sub, 0755);
	for (int r = 0; r < reps; r++) {
		/* paired, in turn first: what one leaves in the heap is not
		 * counted to the other (only what is live above the start) */
		int first = r % 2;
		for (int k = 0; k < 2; k++) {
			int rc = (k == first)
				 ? heap_measure(baseline, dir, &g, &bb[r], &sb[r])
				 : heap_measure(streamed, dir, &g, &bs[r], &ss[r]);
			if (rc)
				return fprintf(stderr, "status_mem: write failed (%d)\n", rc), 1;
		}
		if (!bench_same_file(dir, "health.whole", "health.streamed"))
			return fprintf(stderr, "status_mem: the two files differ\n"), 1;
		rb[r] = bs[r] / bb[r];
		printf("# rep %d: baseline %.0f bytes %.1f ms, streamed %.0f bytes %.1f ms\n",
		       r + 1, bb[r], sb[r] * 1e3, bs[r], ss[r] * 1e3);
	}
	bench_mmm(bb, reps, b3);
	bench_mmm(bs, reps, s3);
	bench_mmm(rb, reps, r3);
	bench_mmm(sb, reps, tb3);
	bench_mmm(ss, reps, ts3);
	printf("bench: health_write_mem_%dk: median %.0f bytes (min %.0f, max %.0f) "
	       "(baseline text made whole median %.0f bytes (min %.0f, max %.0f), ratio "
	       "median %.3f (min %.3f, max %.3f), no target): a figure\n",
	       g.meters / 1000, s3[1], s3[0], s3[2], b3[1], b3[0], b3[2], r3[1], r3[0], r3[2]);
	printf("bench: health_write_time_%dk: median %.1f ms (min %.1f, max %.1f) "
	       "(baseline median %.1f ms (min %.1f, max %.1f), no target): a figure\n",
	       g.meters / 1000, ts3[1] * 1e3, ts3[0] * 1e3, ts3[2] * 1e3,
	       tb3[1] * 1e3, tb3[0] * 1e3, tb3[2] * 1e3);
	rmdir(sub);
	rmdir(dir);
	return 0;
}
