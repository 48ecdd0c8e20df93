/* SPDX-License-Identifier: MIT */
/*
 * metrics_bench.c - the metrics file of a large gateway ([metrics]
 * textfile; gateway/metrics.c): its size and the time gatewayd spends on
 * it each time, against the status and health files it writes anyway.
 *
 *   metrics_bench [METERS [PER_BUS [REPS]]]   (10000, 200, 3)
 *
 * A status and a health text of METERS meters on buses of PER_BUS meters
 * (as gatewayd writes them: every counter non-zero, every meter read) are
 * built once. Each repetition then does, side by side in one process:
 *   baseline: gw_spool_status_write of status and health (the durable
 *             write gatewayd makes of both: tmp, fsync, rename, fsync);
 *   metrics:  what gw_daemon_write_metrics adds: both read back from the
 *             spool and rendered into the textfile (tmp, rename);
 *   render:   the rendering alone, into /dev/null.
 * It prints the file's size (bytes, bytes per meter, samples), and the
 * times as median (min, max) with the ratio metrics / baseline. Figures,
 * with no target: one run, never an assertion.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bench_util.h"
#include "cycle_health.h"
#include "gw.h"
#include "metrics.h"
#include "spool.h"
#include "status_keys.h"

/* The status text of n_buses buses. */
static char *status_text(int n_buses)
{
	size_t cap = 8192 + (size_t)n_buses * 800;
	char *buf = malloc(cap), list[64];
	struct gw_status_text t = {.buf = buf, .cap = cap};
	struct gw_cycle_health h;
	size_t len = 0;

	buf[0] = '\0';
	gw_status_put(&t, GW_SK_GATEWAY, "sub-042");
	gw_status_put(&t, GW_SK_UPDATED, "2026-03-09T10:15:00.000Z");
	gw_status_put(&t, GW_SK_ALARM, "none");
	gw_status_put(&t, GW_SK_SPOOL_BYTES, "%d", 123456789);
	gw_status_put(&t, GW_SK_READY_BATCHES, "3");
	gw_status_put(&t, GW_SK_UPLOAD_LAST_OK, "2026-03-09T10:14:00.000Z");
	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++)
		gw_status_put_drop(&t, (enum gw_drop_reason)r, 17);
	gw_status_put(&t, GW_SK_POLL_INTERVAL_S, "900");
	char *buses = malloc((size_t)n_buses * 16 + 1);
	buses[0] = '\0';
	for (int b = 0; b < n_buses; b++)
		len += (size_t)sprintf(buses + len, "%sbus-%d", b ? "," : "", b);
	gw_status_put(&t, GW_SK_POLL_BUSES, "%s", buses);
	for (int b = 0; b < n_buses; b++) {
		struct gw_cycle_times ct = {.dur_ms = 60000 + rnd() % 600000,
					    .interval_ms = 900000, .tolerance_ms = 90000};
		memset(&h, 0, sizeof(h));
		for (int c = 0; c < 96 * 7; c++)
			gw_cycle_account(&h, &ct, NULL);
		snprintf(list, sizeof(list), "bus-%d", b);
		gw_cycle_status_put(&t, list, &h);
	}
	gw_status_put(&t, GW_SK_JOURNAL_FSYNC_COUNT, "4032");
	gw_status_put(&t, GW_SK_JOURNAL_FSYNC_SUM_US, "12345678");
	gw_status_put(&t, GW_SK_JOURNAL_FSYNC_LE, "100,2000,3000,4000,4030,4031,4032,4032");
	free(buses);
	return buf;
}

/* The health text of n meters, per_bus to a bus. */
static char *health_text(int n, int per_bus)
{
	size_t cap = 256 + (size_t)n * 288, len = 0;
	char *buf = malloc(cap);

	len += (size_t)snprintf(buf, cap, "# updated 2026-03-09T10:15:00.000Z\n");
	len += (size_t)gw_health_header(buf + len, cap - len);
	for (int m = 0; m < n; m++)
		len += (size_t)bench_health_line(buf + len, cap - len, m, per_bus);
	return buf;
}

int main(int argc, char **argv)
{
	int meters = argc > 1 ? atoi(argv[1]) : 10000;
	int per_bus = argc > 2 ? atoi(argv[2]) : 200;
	int reps = argc > 3 ? atoi(argv[3]) : 3;
	char dir[] = "/tmp/metrics_bench.XXXXXX", sub[64], path[128];

	if (meters < 1 || per_bus < 1 || reps < 3)
		reps = reps < 3 ? 3 : reps;
	if (!mkdtemp(dir))
		return 1;
	snprintf(sub, sizeof(sub), "%s/tmp", dir);
	mkdir(sub, 0755);
	snprintf(path, sizeof(path), "%s/gatewayd.prom", dir);
	char *st = status_text((meters + per_bus - 1) / per_bus);
	char *he = health_text(meters, per_bus);
	double *base = calloc((size_t)reps, sizeof(double));
	double *met = calloc((size_t)reps, sizeof(double));
	double *ren = calloc((size_t)reps, sizeof(double));
	double *ratio = calloc((size_t)reps, sizeof(double));
	FILE *null = fopen("/dev/null", "w");

	for (int r = 0; r < reps; r++) {
		double t0 = now_s();
		if (gw_spool_status_write(dir, "status", st) ||
		    gw_spool_status_write(dir, "health", he))
			return fprintf(stderr, "metrics_bench: cannot write the status\n"), 1;
		double t1 = now_s();
		char *s2 = NULL, *h2 = NULL;
		if (gw_spool_status_read(dir, "status", &s2) ||
		    gw_spool_status_read(dir, "health", &h2) ||
		    gw_metrics_write_file(path, s2, h2))
			return fprintf(stderr, "metrics_bench: cannot write the metrics\n"), 1;
		double t2 = now_s();
		gw_metrics_render(null, s2, h2);
		fflush(null);
		double t3 = now_s();
		free(s2);
		free(h2);
		base[r] = t1 - t0;
		met[r] = t2 - t1;
		ren[r] = t3 - t2;
		ratio[r] = met[r] / base[r];
		printf("# rep %d: status+health %.1f ms, metrics %.1f ms, render alone %.1f ms\n",
		       r + 1, base[r] * 1e3, met[r] * 1e3, ren[r] * 1e3);
	}
	struct stat sb;
	stat(path, &sb);
	FILE *f = fopen(path, "r");
	char line[512];
	long samples = 0;
	while (f && fgets(line, sizeof(line), f))
		samples += line[0] != '#';
	if (f)
		fclose(f);
	double b3[3], m3[3], r3[3], q3[3];
	bench_mmm(base, reps, b3);
	bench_mmm(met, reps, m3);
	bench_mmm(ren, reps, r3);
	bench_mmm(ratio, reps, q3);
	printf("bench: metrics_size_%dk: %lld bytes, %.0f bytes/meter, %ld samples "
	       "(baseline health file %zu bytes, ratio %.2f): a size, one run\n",
	       meters / 1000, (long long)sb.st_size, (double)sb.st_size / meters, samples,
	       strlen(he), (double)sb.st_size / (double)strlen(he));
	printf("bench: metrics_write_%dk: median %.1f ms (min %.1f, max %.1f; render alone "
	       "median %.1f ms) (baseline status+health write median %.1f ms (min %.1f, max %.1f), "
	       "ratio median %.2f (min %.2f, max %.2f), no target): a figure\n",
	       meters / 1000, m3[1] * 1e3, m3[0] * 1e3, m3[2] * 1e3, r3[1] * 1e3,
	       b3[1] * 1e3, b3[0] * 1e3, b3[2] * 1e3, q3[1], q3[0], q3[2]);
	fclose(null);
	unlink(path);
	snprintf(path, sizeof(path), "%s/status", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/health", dir);
	unlink(path);
	rmdir(sub);
	rmdir(dir);
	free(st);
	free(he);
	free(base);
	free(met);
	free(ren);
	free(ratio);
	return 0;
}
