/* SPDX-License-Identifier: MIT */
/*
 * bench_util.h - what the benchmark programs share: a small xorshift
 * generator (seed `rng` for a repeatable day) and a monotonic clock in
 * seconds. Header-only: each program in tests/bench/ is built on its own.
 */
#ifndef GW_BENCH_UTIL_H
#define GW_BENCH_UTIL_H

#include <stdint.h>
#include <time.h>

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

#endif
