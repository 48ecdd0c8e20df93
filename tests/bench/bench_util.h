/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - what the benchmark programs share: a small xorshift
 * generator (seed `rng` for a repeatable day), a monotonic clock in
 * seconds, min / median / max, the health line of a meter and whether
 * two files are the same bytes. Header-only: each program in
 * tests/bench/ is built on its own.
 */
#ifndef GW_BENCH_UTIL_H
#define GW_BENCH_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static inline uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

/* uniform in [0, 1) */
static inline double urand(void) { return (rnd() & 0xffffff) / 16777216.0; }

static inline double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline int bench_cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* "min median max" of v[0..n-1] (n >= 1; sorted in place) into out. */
static inline void bench_mmm(double *v, int n, double out[3])
{
	qsort(v, (size_t)n, sizeof(*v), bench_cmp_d);
	out[0] = v[0];
	out[1] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	out[2] = v[n - 1];
}

/* Meter m's line of the health file of a large gateway, as gatewayd
 * writes it (every counter non-zero, every meter read; per_bus meters a
 * bus), into buf; returns its length (as snprintf). */
static inline int bench_health_line(char *buf, size_t cap, int m, int per_bus)
{
	return snprintf(buf, cap,
			"%012d\tbus-%d\tonline\t0\t672\t%u\t%u\t%u\t%u\t%u\t%u\t%u\t-\t%u\t%u\t2026-03-09T10:%02d:%02d.%03dZ\n",
			100000000 + m, m / per_bus, 600 + rnd() % 72, rnd() % 72,
			rnd() % 9, rnd() % 200, rnd() % 20, rnd() % 20, rnd() % 20,
			rnd() % 5, rnd() % 3, (int)(rnd() % 15), (int)(rnd() % 60),
			(int)(rnd() % 1000));
}

/* Whether files a and b of dir hold the same bytes (1 or 0); both are
 * removed. */
static inline int bench_same_file(const char *dir, const char *a, const char *b)
{
	char pa[256], pb[256];
	int same = 1, ca, cb;

	snprintf(pa, sizeof(pa), "%s/%s", dir, a);
	snprintf(pb, sizeof(pb), "%s/%s", dir, b);
	FILE *fa = fopen(pa, "rb"), *fb = fopen(pb, "rb");
	if (!fa || !fb)
		same = 0;
	while (same) {
		ca = getc(fa);
		cb = getc(fb);
		same = ca == cb;
		if (ca == EOF)
			break;
	}
	if (fa)
		fclose(fa);
	if (fb)
		fclose(fb);
	unlink(pa);
	unlink(pb);
	return same;
}

#endif
