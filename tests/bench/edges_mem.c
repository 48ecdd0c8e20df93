/* SPDX-License-Identifier: MIT */
/*
 * edges_mem.c - the memory gatewayd takes to write <spool>/edges (the
 * books at the revision window's edge) after each day sealed, at the
 * daily seal's peak:
 *
 *   edges_mem [METERS [ENERGY [REGS [REPS]]]]   (10000, 2, 3, 3)
 *
 * A batcher of METERS meters x REGS registers, ENERGY of them energy
 * registers (the rest instantaneous: in the core's tracks, not in the
 * file), read every 6 hours over 4 local days (3 sealed, a revision
 * window of 2), with every 7th meter silent from day 2 on. Its edges are
 * written, side by side in one process, REPS times each way:
 *   baseline: as gatewayd wrote them before: the whole text made in one
 *             buffer reserved for every track (128 + tracks x (GW_ID_MAX
 *             + GW_OBIS_MAX + 96) bytes), grown by the CRC line, then
 *             gw_write_file_durable;
 *   streamed: gw_edges_write (the text into the file through a 64 KiB
 *             buffer as it is made, its CRC counted on the way).
 * The two files must be the same bytes (checked). Measured: the heap
 * bytes live at the peak of each write above those live before it (every
 * malloc counted by its usable size, bench_heap.h; the baseline's buffer
 * is mostly never touched, so its resident share is about the text's
 * length, printed too), and the time; median (min, max). A figure, never
 * an assertion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "bench_heap.h"
#include "bench_util.h"
#include "bytes.h"
#include "edges.h"
#include "spool.h"
#include "tz.h"

#define HOUR 3600000LL
#define DAY (24 * HOUR)

static const char *const energy_obis[8] = {"1.8.0", "2.8.0", "21.8.0", "41.8.0",
					   "61.8.0", "22.8.0", "42.8.0", "62.8.0"};

static int drop_batch(void *ctx, struct gw_batch *bt)
{
	(void)ctx;
	gw_batch_free(bt);
	return 0;
}

/* The batcher of the header comment; NULL if memory ran out. */
static struct gw_batcher *make_batcher(int meters, int energy, int regs)
{
	static const struct gw_batcher_params p = {
		.gateway_id = "gw", .poll_interval_ms = 6 * HOUR,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7 * HOUR,
		.seal_delay_ms = 1800000, .max_power_w = 250000,
		.revision_window_days = 2};
	struct gw_batcher *b = gw_batcher_new(&p);
	struct gw_reading *r = calloc((size_t)regs, sizeof(*r));

	if (!b || !r) {
		gw_batcher_free(b);
		free(r);
		return NULL;
	}
	int64_t t0 = gw_tz_day_start(20500);
	for (int64_t t = t0; t <= t0 + 4 * DAY; t += 6 * HOUR) {
		for (int m = 0; m < meters; m++) {
			if (m % 7 == 0 && t >= t0 + DAY)
				continue;
			for (int k = 0; k < regs; k++) {
				memset(&r[k], 0, sizeof(r[k]));
				snprintf(r[k].meter_id, sizeof(r[k].meter_id), "%012d",
					 100000000 + m);
				if (k < energy) {
					snprintf(r[k].obis, sizeof(r[k].obis), "%s",
						 energy_obis[k]);
					r[k].unit = GW_UNIT_WH;
					r[k].value = 1000000 + m * 17 + k * 3 +
						     (t - t0) / 60000 * (1 + (m + k) % 5);
				} else {
					snprintf(r[k].obis, sizeof(r[k].obis), "%d.7.0",
						 100 + k);
					r[k].unit = GW_UNIT_V;
					r[k].value = 2300 + (int64_t)(rnd() % 50);
				}
				r[k].ts_ms = t + (m % 250) * 3000;
			}
			if (gw_batcher_add(b, r, (size_t)regs) < 0)
				goto fail;
		}
		if (gw_batcher_advance(b, t + HOUR, drop_batch, NULL) < 0)
			goto fail;
	}
	free(r);
	return b;
fail:
	gw_batcher_free(b);
	free(r);
	return NULL;
}

/* The baseline's text, in one buffer of its reserved size. */
struct whole {
	char *buf;
	size_t n, cap;
};

static int whole_sink(void *ctx, const char *s, size_t len)
{
	struct whole *w = ctx;

	if (w->n + len >= w->cap)
		return GW_ENOMEM; /* as before: every line is bounded */
	memcpy(w->buf + w->n, s, len);
	w->n += len;
	return 0;
}

static size_t tracks; /* meters x registers: the baseline's reservation */

/* gw_edges_write as it was: the whole text, then its CRC line, then
 * gw_write_file_durable. */
static int baseline(const char *spool, const void *arg)
{
	const struct gw_batcher *b = arg;
	char path[512], tmp[512];
	struct whole w = {NULL, 0, 128 + tracks * (GW_ID_MAX + GW_OBIS_MAX + 96)};

	w.buf = malloc(w.cap);
	if (!w.buf)
		return GW_ENOMEM;
	int rc = gw_batcher_edges_emit(b, whole_sink, &w);
	if (rc) {
		free(w.buf);
		return rc;
	}
	char *all = realloc(w.buf, w.n + 32);
	if (!all) {
		free(w.buf);
		return GW_ENOMEM;
	}
	size_t len = w.n + (size_t)snprintf(all + w.n, 32, "end crc32=%08x\n",
					    (unsigned)gw_crc32((const uint8_t *)all, w.n));
	snprintf(path, sizeof(path), "%s/edges", spool);
	snprintf(tmp, sizeof(tmp), "%s/tmp/edges", spool);
	rc = gw_write_file_durable(tmp, path, (const uint8_t *)all, len);
	free(all);
	return rc;
}

/* gw_edges_write as heap_measure calls it. */
static int streamed(const char *spool, const void *b)
{
	return gw_edges_write(spool, b);
}

int main(int argc, char **argv)
{
	int meters = argc > 1 ? atoi(argv[1]) : 10000;
	int energy = argc > 2 ? atoi(argv[2]) : 2;
	int regs = argc > 3 ? atoi(argv[3]) : 3;
	int reps = argc > 4 ? atoi(argv[4]) : 3;
	char dir[] = "/tmp/edges_mem.XXXXXX", sa[64], sb[64], sub[80];
	double bb[64], bs[64], tb[64], ts[64], b3[3], s3[3], tb3[3], ts3[3];
	struct stat st;

	if (meters < 1 || energy < 1 || energy > 8 || regs < energy || regs > 64)
		return fprintf(stderr, "usage: edges_mem [METERS [ENERGY(1-8) "
				       "[REGS [REPS]]]]\n"), 2;
	reps = reps < 3 ? 3 : reps > 64 ? 64 : reps;
	tracks = (size_t)meters * (size_t)regs;
	if (gw_tz_set("Asia/Ho_Chi_Minh") || !mkdtemp(dir))
		return 1;
	snprintf(sa, sizeof(sa), "%s/a", dir);
	snprintf(sb, sizeof(sb), "%s/b", dir);
	if (gw_spool_open(sa) || gw_spool_open(sb))
		return fprintf(stderr, "edges_mem: cannot make the spools\n"), 1;
	double t0 = now_s();
	struct gw_batcher *b = make_batcher(meters, energy, regs);
	if (!b)
		return fprintf(stderr, "edges_mem: out of memory\n"), 1;
	printf("# %d meters x %d registers (%d energy): made in %.1f s\n", meters,
	       regs, energy, now_s() - t0);
	for (int r = 0; r < reps; r++) {
		/* paired, in turn first */
		int first = r % 2;
		for (int k = 0; k < 2; k++) {
			int rc = (k == first) ? heap_measure(baseline, sa, b, &bb[r], &tb[r])
					      : heap_measure(streamed, sb, b, &bs[r], &ts[r]);
			if (rc)
				return fprintf(stderr, "edges_mem: write failed (%d)\n", rc), 1;
		}
		snprintf(sub, sizeof(sub), "%s/edges", sa);
		if (stat(sub, &st) != 0)
			return 1;
		if (!bench_same_file(dir, "a/edges", "b/edges"))
			return fprintf(stderr, "edges_mem: the two files differ\n"), 1;
		printf("# rep %d: baseline %.0f bytes %.1f ms, streamed %.0f bytes "
		       "%.1f ms; the file %lld bytes\n", r + 1, bb[r], tb[r] * 1e3,
		       bs[r], ts[r] * 1e3, (long long)st.st_size);
	}
	bench_mmm(bb, reps, b3);
	bench_mmm(bs, reps, s3);
	bench_mmm(tb, reps, tb3);
	bench_mmm(ts, reps, ts3);
	printf("bench: edges_write_mem_%dk_x%d: median %.0f bytes (min %.0f, max %.0f) "
	       "(baseline whole text median %.0f bytes (min %.0f, max %.0f), of them "
	       "touched about the file's %lld), no target): a figure\n",
	       meters / 1000, regs, s3[1], s3[0], s3[2], b3[1], b3[0], b3[2],
	       (long long)st.st_size);
	printf("bench: edges_write_time_%dk_x%d: median %.1f ms (min %.1f, max %.1f) "
	       "(baseline median %.1f ms (min %.1f, max %.1f), no target): a figure\n",
	       meters / 1000, regs, ts3[1] * 1e3, ts3[0] * 1e3, ts3[2] * 1e3,
	       tb3[1] * 1e3, tb3[0] * 1e3, tb3[2] * 1e3);
	gw_batcher_free(b);
	snprintf(sub, sizeof(sub), "rm -rf '%s'", dir);
	return system(sub) == 0 ? 0 : 1;
}
