/* SPDX-License-Identifier: MIT */
/*
 * batch_mem.c - the batching core's memory at scale (tests/bench/
 * batch_mem.sh runs it, for this tree and for a baseline commit): METERS
 * synthetic meters x REGS registers read every 15 minutes for DAYS local
 * days, each cycle appended to a real journal (unless "nojournal") and
 * added to a batcher with gatewayd's defaults (revision window 2 days,
 * seal delay 30 minutes), each day sealed into a real spool as gatewayd
 * does (gw_batcher_advance_src into gw_spool_write_src; a baseline
 * without them: gw_batcher_advance into gw_spool_write), the journal
 * pruned after it. Prints the peak RSS
 * of each day (from the end of the seal before to the end of its seal:
 * the kernel's high-water mark VmHWM, reset through /proc/self/clear_refs;
 * getrusage's ru_maxrss follows that reset too) and of the whole run:
 *
 * A core that spills the points of sealed days (GW_BATCHER_SPILL) is
 * given <spool>/points as gatewayd gives it, unless GW_MEM_SPILL=0.
 * GW_MEM_KEEP=1 keeps the spool (its batch files) and prints
 * "# spool DIR" last, for batch_mem.sh's zlib baseline. A core that
 * reads the open day's registers as views (GW_BATCHER_VIEW) prints how
 * many it read so and how many whole; one that carries its records
 * from one seal to the next (GW_BATCHER_CARRY) how many it carried, and
 * GW_MEM_CARRY=0 turns the carry off (as before it, to compare in one
 * build; the batches are the same); one whose edge takes the books
 * from the records around its midnight (GW_BATCHER_EDGE_VIEW) how many
 * energy registers it read so and how many from all their points. GW_MEM_JITTER=J:
 * up to J ms of jitter in a meter's time (default 40; a gateway's clock
 * run fast multiplies a few ms of it).
 *
 *   batch_mem METERS REGS DAYS [nojournal]
 *   day N peak_rss_kb K cpu_ms C seal_cpu_ms S other_advance_cpu_ms A
 *   run peak_rss_kb K
 *
 * C: the process's CPU time for the day (both threads); S: in the
 * gw_batcher_advance that sealed it (the seal, the batch written, the
 * pass after it); A: in the day's other calls (the open day's passes).
 *
 * REGS 3: 1.8.0, 2.8.0 (Wh), 32.7.0 (V). REGS 26: eight energy registers
 * and eighteen instantaneous ones, as the ABB B23 profile reads. Meters
 * answer in groups of 250 (one bus's cycle each), at their place on the
 * bus with a few milliseconds of jitter (GW_MEM_JITTER).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#ifdef GW_BATCHER_SPILL
#include "batch_spill.h"
#endif
#include "bench_util.h"
#include "journal.h"
#include "spool.h"
#include "tz.h"

#define GROUP 250
#define CYCLE_MS 900000LL

struct reg {
	char obis[GW_OBIS_MAX];
	uint8_t unit;
	int64_t base; /* instantaneous: the level; energy: Wh per cycle */
};

static struct reg regs[26];
static int n_regs;
static uint32_t jitter = 40; /* ms */

static void set_regs(int want)
{
	static const char *const energy[8] = {"1.8.0", "2.8.0", "21.8.0", "41.8.0",
					      "61.8.0", "22.8.0", "42.8.0", "62.8.0"};
	static const char *const inst[18] = {
		"32.7.0", "52.7.0", "72.7.0", "31.7.0", "51.7.0", "71.7.0",
		"16.7.0", "36.7.0", "56.7.0", "76.7.0", "14.7.0", "13.7.0",
		"33.7.0", "53.7.0", "73.7.0", "9.7.0", "29.7.0", "49.7.0"};

	if (want == 3) {
		regs[0] = (struct reg){"1.8.0", GW_UNIT_WH, 120};
		regs[1] = (struct reg){"2.8.0", GW_UNIT_WH, 10};
		regs[2] = (struct reg){"32.7.0", GW_UNIT_V, 2300};
		n_regs = 3;
		return;
	}
	n_regs = 0;
	for (int i = 0; i < 8 && n_regs < want; i++)
		regs[n_regs++] = (struct reg){"", GW_UNIT_WH, 40 + 10 * i};
	for (int i = 0; i < 18 && n_regs < want; i++)
		regs[n_regs++] = (struct reg){"", i < 3 ? GW_UNIT_V : i < 6 ? GW_UNIT_A
								    : GW_UNIT_W,
					      i < 3 ? 2300 : i < 6 ? 50 : 1500};
	for (int i = 0; i < n_regs; i++)
		snprintf(regs[i].obis, sizeof(regs[i].obis), "%s",
			 i < 8 ? energy[i] : inst[i - 8]);
}

/* The peak RSS since the last reset, kB (VmHWM), and a reset. */
static long hwm_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmHWM: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* The process's CPU time, ms. */
static double cpu_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void hwm_reset(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "we");

	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

struct run {
	const char *dir;
	struct gw_journal *j;
	int window;
	int sealed, failed;
};

#ifdef GW_BATCHER_ADVANCE_SRC
/* as gatewayd seals: streamed from the tracks into the spool */
#include "batchfile.h"

static int on_sealed_src(void *arg, struct gw_batch_src *src)
{
	struct run *r = arg;
	int rc = gw_spool_write_src(r->dir, src);

	if (rc)
		r->failed++;
	else
		r->sealed++;
	return rc;
}
#define ADVANCE(b, t, r) gw_batcher_advance_src(b, t, on_sealed_src, r)
#else
#define ADVANCE(b, t, r) gw_batcher_advance(b, t, on_sealed, r)

/* as gatewayd sealed before it streamed: the batch built in memory */
static int on_sealed(void *arg, struct gw_batch *b)
{
	struct run *r = arg;
	int rc = gw_spool_write(r->dir, b);

	gw_batch_free(b);
	if (rc)
		r->failed++;
	else
		r->sealed++;
	return rc;
}
#endif

/* One bus's cycle: meters [m0, m1) read at t. */
static size_t fill(struct gw_reading *out, int m0, int m1, int64_t t,
		   int64_t *energy)
{
	size_t k = 0;

	for (int m = m0; m < m1; m++) {
		int64_t ts = t + (int64_t)(m % GROUP) * 400 + rnd() % jitter;
		for (int i = 0; i < n_regs; i++, k++) {
			struct gw_reading *x = &out[k];
			snprintf(x->meter_id, sizeof(x->meter_id), "m%06d", m);
			memcpy(x->obis, regs[i].obis, sizeof(x->obis));
			x->unit = regs[i].unit;
			x->scale = 0;
			x->status = GW_RS_OK;
			x->ts_ms = ts;
			if (regs[i].unit == GW_UNIT_WH) {
				int64_t *e = &energy[(size_t)m * (size_t)n_regs + (size_t)i];
				*e += regs[i].base / 2 + rnd() % (uint32_t)(regs[i].base + 1);
				x->value = *e;
			} else {
				x->value = regs[i].base + (int64_t)(rnd() % 41) - 20;
			}
		}
	}
	return k;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: batch_mem METERS REGS DAYS [nojournal]\n");
		return 2;
	}
	int meters = atoi(argv[1]), want = atoi(argv[2]), days = atoi(argv[3]);
	int journal = !(argc > 4 && strcmp(argv[4], "nojournal") == 0);
	char dir[] = "/tmp/gwmem.XXXXXX";
	const char *tmpdir = getenv("TMPDIR");
	char path[512];
	int32_t day0;

	gw_log_set_level(GW_LOG_WARN);
	if (meters < 1 || (want != 3 && want != 26) || days < 1 ||
	    gw_tz_set("Europe/Berlin") || gw_day_parse("2026-03-02", &day0))
		return 2;
	set_regs(want);
	const char *j_env = getenv("GW_MEM_JITTER");
	if (j_env && atoi(j_env) > 0)
		jitter = (uint32_t)atoi(j_env);
	snprintf(path, sizeof(path), "%s/gwmem.XXXXXX", tmpdir ? tmpdir : "/tmp");
	char *d = mkdtemp(tmpdir ? path : dir);
	struct run run = {.dir = d, .window = 2};
	if (!d || gw_spool_open(d))
		return 1;
	if (journal && gw_journal_open(d, 1, &run.j))
		return 1;
	struct gw_batcher_params p = {
		.gateway_id = "sub-042", .poll_interval_ms = CYCLE_MS,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 1800000, .max_power_w = 250000,
		.revision_window_days = run.window,
	};
	struct gw_batcher *bat = gw_batcher_new(&p);
	int64_t *energy = calloc((size_t)meters * (size_t)n_regs, sizeof(*energy));
	struct gw_reading *buf = calloc((size_t)GROUP * (size_t)n_regs, sizeof(*buf));
	if (!bat || !energy || !buf)
		return 1;
	const char *spill = "off";
#ifdef GW_BATCHER_SPILL
	const char *sp_env = getenv("GW_MEM_SPILL");
	if (!sp_env || strcmp(sp_env, "0") != 0) {
		struct gw_spill *store;
		char pdir[600];
		snprintf(pdir, sizeof(pdir), "%s/points", d);
		if (gw_spill_open(pdir, &store))
			return 1;
		gw_batcher_set_spill(bat, store);
		spill = "on";
#ifdef GW_BATCHER_CARRY
		const char *carry = getenv("GW_MEM_CARRY");
		if (carry) {
			gw_batcher_set_carry(bat, strcmp(carry, "0") != 0);
			printf("# GW_MEM_CARRY %s\n", carry);
		}
#endif
	}
#endif
	for (size_t i = 0; i < (size_t)meters * (size_t)n_regs; i++)
		energy[i] = 1000000 + (int64_t)(rnd() % 100000);
	printf("# %d meters x %d registers, %d days, journal %s, points spilled %s\n",
	       meters, n_regs, days, journal ? "on" : "off", spill);
	hwm_reset();
	int64_t t = gw_tz_day_start(day0);
	int32_t sealed_through = day0 - 1;
	long run_peak = 0;
	double day_t0 = cpu_ms(), other = 0;
	while (sealed_through < day0 + days - 1) {
		for (int m0 = 0; m0 < meters; m0 += GROUP) {
			int m1 = m0 + GROUP < meters ? m0 + GROUP : meters;
			size_t n = fill(buf, m0, m1, t, energy);
			if (run.j && gw_journal_append_cycle(run.j, 0, buf, n))
				return 1;
			if (gw_batcher_add(bat, buf, n))
				return 1;
		}
		t += CYCLE_MS;
		double a0 = cpu_ms();
		int s = ADVANCE(bat, t, &run);
		double a1 = cpu_ms();
		if (s < 0)
			return 1;
		if (s == 0) {
			other += a1 - a0;
			continue;
		}
		int32_t next = gw_batcher_oldest_open_day(bat);
		if (run.j && gw_journal_prune(run.j, next - 1 - run.window) < 0)
			return 1;
		long kb = hwm_kb();
		if (kb > run_peak)
			run_peak = kb;
		for (int32_t x = sealed_through + 1; x < next; x++)
			printf("day %d peak_rss_kb %ld cpu_ms %.0f seal_cpu_ms %.0f "
			       "other_advance_cpu_ms %.0f\n", x - day0 + 1, kb,
			       a1 - day_t0, a1 - a0, other);
		fflush(stdout);
		sealed_through = next - 1;
		hwm_reset();
		day_t0 = cpu_ms();
		other = 0;
	}
	printf("run peak_rss_kb %ld sealed %d failed %d\n", run_peak, run.sealed,
	       run.failed);
#ifdef GW_BATCHER_VIEW
	uint64_t views, whole;
	gw_batcher_view_stats(bat, &views, &whole);
	printf("# open days' registers read as views %llu, whole %llu\n",
	       (unsigned long long)views, (unsigned long long)whole);
#endif
#ifdef GW_BATCHER_EDGE_VIEW
	uint64_t e_views, e_full;
	gw_batcher_edge_stats(bat, &e_views, &e_full);
	printf("# energy registers whose books the edge took from the records around "
	       "its midnight %llu, from all their points %llu\n",
	       (unsigned long long)e_views, (unsigned long long)e_full);
#endif
#ifdef GW_BATCHER_CARRY
	uint64_t carried, split, encoded;
	gw_batcher_carry_stats(bat, &carried, &split, &encoded);
	printf("# registers the seals' passes carried %llu (their open day's record "
	       "cut there %llu), encoded again %llu\n",
	       (unsigned long long)carried, (unsigned long long)split,
	       (unsigned long long)encoded);
#endif
	gw_batcher_free(bat);
	gw_journal_close(run.j);
	free(energy);
	free(buf);
	const char *keep = getenv("GW_MEM_KEEP");
	if (keep && strcmp(keep, "1") == 0) {
		printf("# spool %s\n", d);
		return run.failed != 0;
	}
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
	return system(cmd) != 0 || run.failed;
}
