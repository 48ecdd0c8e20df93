/* SPDX-License-Identifier: MIT */
/*
 * main.c - the seal benchmark (tests/bench/seal_ratio.sh): one local day
 * of METERS meters x 96 quarter-hour cycles x 3 registers (1.8.0, 2.8.0,
 * 32.7.0), added cycle by cycle as gatewayd adds them to a batcher that
 * has sealed the day before (the steady state), then the day sealed
 * (gw_batcher_advance: midnights, consumption, series, the batch built),
 * by this tree's batching core and by the baseline's, alternately on the
 * same readings, REPS times each. Prints per run the CPU seconds of each, and
 * the ratio this tree / baseline as min, median and max over the pairs,
 * for the seal and for the adds.
 *
 *   seal_bench METERS REPS
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "journal.h"
#include "spool.h"
#include "tz.h"

void *new_seal_new(void);
int new_seal_add(void *b, const struct gw_reading *r, size_t n);
int new_seal_advance(void *b, int64_t now_ms, size_t *rows);
void new_seal_free(void *b);
void *base_seal_new(void);
int base_seal_add(void *b, const struct gw_reading *r, size_t n);
int base_seal_advance(void *b, int64_t now_ms, size_t *rows);
void base_seal_free(void *b);

struct core {
	const char *name;
	void *(*make)(void);
	int (*add)(void *, const struct gw_reading *, size_t);
	int (*advance)(void *, int64_t, size_t *);
	void (*destroy)(void *);
};

static const struct core cores[2] = {
	{"this tree", new_seal_new, new_seal_add, new_seal_advance, new_seal_free},
	{"baseline", base_seal_new, base_seal_add, base_seal_advance, base_seal_free},
};

/* The thread's CPU time: on a machine shared with other work, the time
 * this program was not on a CPU is left out (cache and memory contention
 * are not), which steadies the ratio. */
static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rng;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* One cycle's readings (k = 0..96; 96 is the next day's first) into r;
 * the registers advance with a household-like load. */
static void cycle(int n, int k, int64_t start, int64_t *imp, int64_t *exp,
		  struct gw_reading *r)
{
	for (int i = 0; i < n; i++) {
		double h = (k % 96) / 4.0;
		double w = (h < 6 ? 200 : h < 17 ? 350 : h < 22 ? 1200 : 400) *
			   (0.5 + (rnd() % 1000) / 1000.0);
		imp[i] += (int64_t)(w / 4 + 0.5);
		if (i % 7 == 0 && h > 9 && h < 16)
			exp[i] += (int64_t)(rnd() % 800);
		int64_t ts = start + k * 900000LL + (i % 32) * 150 + rnd() % 10;
		for (int j = 0; j < 3; j++) {
			struct gw_reading *x = &r[3 * i + j]; /* ids: see main */
			x->ts_ms = ts;
			x->value = j == 0 ? imp[i] : j == 1 ? exp[i] : 2300 + (int64_t)(rnd() % 30);
			x->scale = j == 2 ? -1 : 0;
			x->unit = j == 2 ? GW_UNIT_V : GW_UNIT_WH;
			x->status = GW_RS_OK;
		}
	}
}

struct result {
	double add, seal;
	size_t rows;
};

static struct result run(const struct core *c, int n, int32_t day,
			 struct gw_reading *buf, int64_t *imp, int64_t *exp)
{
	struct result res = {0, 0, 0};
	int64_t start = gw_tz_day_start(day);
	void *b = c->make();

	rng = 0x9E3779B97F4A7C15ULL;
	for (int i = 0; i < n; i++) {
		imp[i] = (int64_t)(rnd() % 50000000);
		exp[i] = 0;
	}
	/* the day before, sealed already (not timed): the steady state of a
	 * running gateway, with the day to measure open */
	int64_t prev = gw_tz_day_start(day - 1);
	for (int k = 92; k < 99; k++) { /* 23:00 .. 00:30 */
		cycle(n, k, prev, imp, exp, buf);
		c->add(b, buf, 3 * (size_t)n);
	}
	size_t before = 0;
	c->advance(b, start + 1800000, &before);
	for (int k = 3; k <= 96; k++) {
		cycle(n, k, start, imp, exp, buf);
		double t0 = now_s();
		if (c->add(b, buf, 3 * (size_t)n)) {
			fprintf(stderr, "%s: add failed\n", c->name);
			exit(1);
		}
		res.add += now_s() - t0;
	}
	double t0 = now_s();
	int sealed = c->advance(b, gw_tz_day_start(day + 1) + 1800000, &res.rows);
	if (before != (size_t)n * 2) {
		fprintf(stderr, "%s: the day before sealed %zu rows\n", c->name, before);
		exit(1);
	}
	res.seal = now_s() - t0;
	if (sealed != 1) {
		fprintf(stderr, "%s: sealed %d days\n", c->name, sealed);
		exit(1);
	}
	c->destroy(b);
	return res;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void stats(const char *what, double *r, int n, double *med)
{
	qsort(r, (size_t)n, sizeof(*r), cmp_d);
	*med = n % 2 ? r[n / 2] : (r[n / 2 - 1] + r[n / 2]) / 2;
	printf("# %s ratio this tree / baseline over %d pairs: min %.3f, median %.3f, max %.3f\n",
	       what, n, r[0], *med, r[n - 1]);
}

/* The journal's bytes for one day of these readings (one bus, one cycle
 * of every meter each quarter hour): gatewayd keeps revision_window more
 * days of it than before, so that a day sealed again after a restart has
 * its readings (daemon.c, after_seal). */
static double journal_day(int n, int32_t day, struct gw_reading *buf, int64_t *imp,
			  int64_t *exp)
{
	char dir[] = "/tmp/gwjbench.XXXXXX", spool[64], cmd[96];
	struct gw_journal *j;
	uint64_t bytes = 0;

	if (!mkdtemp(dir))
		return -1;
	snprintf(spool, sizeof(spool), "%s/spool", dir);
	if (gw_spool_open(spool) == 0 && gw_journal_open(spool, 1, &j) == 0) {
		rng = 0x9E3779B97F4A7C15ULL;
		for (int k = 0; k < 96; k++) {
			cycle(n, k, gw_tz_day_start(day), imp, exp, buf);
			if (gw_journal_append_cycle(j, 0, buf, 3 * (size_t)n))
				break;
		}
		gw_journal_close(j);
		bytes = gw_journal_bytes(spool);
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	return (double)bytes;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10000, reps = argc > 2 ? atoi(argv[2]) : 9;
	int32_t day;

	gw_log_set_level(GW_LOG_WARN);
	if (n < 1 || reps < 3 || gw_tz_set("Asia/Ho_Chi_Minh") || gw_day_parse("2026-03-02", &day)) {
		fprintf(stderr, "usage: seal_bench METERS REPS (REPS >= 3)\n");
		return 2;
	}
	struct gw_reading *buf = calloc(3 * (size_t)n, sizeof(*buf));
	int64_t *imp = calloc((size_t)n, sizeof(*imp)), *exp = calloc((size_t)n, sizeof(*exp));
	double *rs = calloc((size_t)reps, sizeof(double)), *ra = calloc((size_t)reps, sizeof(double));
	double sum[2][2] = {{0, 0}, {0, 0}};
	if (!buf || !imp || !exp || !rs || !ra)
		return 1;
	for (int i = 0; i < n; i++)
		for (int j = 0; j < 3; j++) {
			snprintf(buf[3 * i + j].meter_id, GW_ID_MAX, "PE%07d", i + 1);
			snprintf(buf[3 * i + j].obis, GW_OBIS_MAX, "%s",
				 j == 0 ? "1.8.0" : j == 1 ? "2.8.0" : "32.7.0");
		}
	printf("# one day of %d meters x 96 cycles x 3 registers (%d readings), %d pairs, "
	       "alternating which core runs first\n", n, n * 3 * 97, reps);
	/* one run of each first, not counted: the allocator's first touch of
	 * a few hundred MB would go to whichever core ran first */
	for (int c = 0; c < 2; c++)
		run(&cores[c], n, day, buf, imp, exp);
	for (int i = 0; i < reps; i++) {
		struct result res[2];
		for (int j = 0; j < 2; j++) {
			int c = (i + j) % 2;
			res[c] = run(&cores[c], n, day, buf, imp, exp);
		}
		if (res[0].rows != res[1].rows) {
			fprintf(stderr, "the cores sealed %zu and %zu daily rows\n", res[0].rows,
				res[1].rows);
			return 1;
		}
		printf("# pair %d: seal %.3f s / %.3f s, adds %.3f s / %.3f s (this tree / baseline), "
		       "%zu daily rows\n", i + 1, res[0].seal, res[1].seal, res[0].add, res[1].add,
		       res[0].rows);
		rs[i] = res[0].seal / res[1].seal;
		ra[i] = res[0].add / res[1].add;
		for (int c = 0; c < 2; c++) {
			sum[c][0] += res[c].seal;
			sum[c][1] += res[c].add;
		}
	}
	double ms, ma;
	stats("seal", rs, reps, &ms);
	stats("adds", ra, reps, &ma);
	printf("bench: seal_day_%d_meters: %.3f s (baseline %.3f s, ratio %.3f, target <= 1.20): %s\n",
	       n, sum[0][0] / reps, sum[1][0] / reps, ms, ms <= 1.20 ? "met" : "missed");
	printf("bench: add_day_%d_meters: %.3f s (baseline %.3f s, ratio %.3f, target <= 1.20): %s\n",
	       n, sum[0][1] / reps, sum[1][1] / reps, ma, ma <= 1.20 ? "met" : "missed");
	double jb = journal_day(n, day, buf, imp, exp);
	printf("# journal: %.1f MB for one day of %d meters x 3 registers every 15 minutes "
	       "(%.0f bytes per reading); the default revision window (2 days) keeps "
	       "%.1f MB more of it on disk than before\n",
	       jb / 1e6, n, jb / (n * 3.0 * 96), 2 * jb / 1e6);
	free(buf);
	free(imp);
	free(exp);
	free(rs);
	free(ra);
	return 0;
}
