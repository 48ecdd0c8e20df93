/* SPDX-License-Identifier: MIT */
/*
 * clock.h - the gateway's notion of "now": real UTC time, or a simulated
 * clock running faster than real time so that tests and the demo cross
 * local midnights in seconds.
 *
 * A simulated clock is anchored to one real instant that every process is
 * given on its command line:
 *
 *     sim_now = start + (real_now - anchor) * speed
 *
 * Two processes (gatewayd and metersim) given the same anchor, start and
 * speed agree on sim_now to within their scheduling latency, however far
 * apart they were started. Starting each with its own "now" as anchor would
 * make them drift apart by their start-up difference times the speed-up.
 */
#ifndef GW_CLOCK_H
#define GW_CLOCK_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define GW_CLOCK_SPEED_MAX 100000

struct gw_clock {
	bool simulated;
	int64_t anchor_us; /* real UTC time of the anchor, microseconds */
	int64_t start_ms;  /* simulated UTC time at the anchor, milliseconds */
	int64_t speed;     /* simulated seconds per real second, 1..100000 */
};

/* A clock that is real time. */
void gw_clock_init_real(struct gw_clock *c);
/* A simulated clock; anchor_us = 0 means "the real now". Returns 0 or
 * GW_EINVAL if speed is out of range. */
int gw_clock_init_sim(struct gw_clock *c, int64_t anchor_us, int64_t start_ms,
		      int64_t speed);

/* Parses an anchor given as "now" or as real UTC seconds since the epoch
 * with up to six decimals ("1700000000.25"), or as "@FILE": the anchor is
 * what FILE will hold (real UTC seconds; write it elsewhere and rename it
 * into place), and until FILE is there the clock stands at its start and
 * its monotonic scale stands with it. Processes given the same @FILE
 * start together when it appears, however long each took to get ready:
 * tests start gatewayd and metersim, wait until both are polling, then
 * write the file. One @FILE per process. *anchor_us is then
 * GW_CLOCK_ANCHOR_LATER. Returns 0 or GW_EINVAL. */
#define GW_CLOCK_ANCHOR_LATER (-1)
int gw_clock_parse_anchor(const char *s, int64_t *anchor_us);

/* Builds a simulated clock from command-line options: anchor ("now" or
 * real UTC seconds; NULL: now), start (simulated UTC time at the anchor;
 * required) and speed (1..GW_CLOCK_SPEED_MAX; NULL: 1). On a bad or
 * missing value prints "PROG: --clock-OPTION: ..." on stderr and returns
 * GW_EINVAL. */
int gw_clock_from_options(struct gw_clock *c, const char *prog,
			  const char *anchor, const char *start,
			  const char *speed);

/* The clock's current UTC time in milliseconds. */
int64_t gw_clock_now_ms(const struct gw_clock *c);

/* Sleeps until the clock reads at least until_ms, or until *stop becomes
 * non-zero (another thread's flag, read atomically at least every 100 ms
 * of real time; stop may be NULL),
 * or until the wall clock steps back (waiting would wait out the step as
 * well). Returns true if the time was reached or the clock stepped back,
 * false if stopped. */
bool gw_clock_sleep_until(const struct gw_clock *c, int64_t until_ms,
			  atomic_int *stop);

/* Real microseconds that `sim_ms` simulated milliseconds last. */
int64_t gw_clock_real_us(const struct gw_clock *c, int64_t sim_ms);

/* A monotonic clock on this clock's scale, in milliseconds from an
 * arbitrary origin: CLOCK_MONOTONIC times the speed. Only elapsed time
 * moves it, never a step of the wall clock (NTP, date -s, an RTC read at
 * boot). */
int64_t gw_clock_mono_ms(const struct gw_clock *c);

/* Watches the wall clock for steps: the last pair of readings of
 * CLOCK_REALTIME and CLOCK_MONOTONIC (real microseconds). */
struct gw_clock_watch {
	int64_t real_us, mono_us;
};
/* How far the wall clock stepped since the last call (or since w was
 * zeroed: 0), in this clock's milliseconds (a real step times the speed):
 * the wall clock's advance minus the monotonic clock's. Differences under
 * GW_CLOCK_STEP_MIN_US of real time are the jitter of reading two clocks
 * (or a slew) and count as 0. */
#define GW_CLOCK_STEP_MIN_US 100000
int64_t gw_clock_step_ms(const struct gw_clock *c, struct gw_clock_watch *w);
/* The clock's time and its monotonic time (gw_clock_now_ms,
 * gw_clock_mono_ms) as the last gw_clock_step_ms on w read them: the
 * times that step was measured at. A time read before that call may lie
 * on the other side of the step it measured. */
void gw_clock_watch_times(const struct gw_clock *c, const struct gw_clock_watch *w,
			  int64_t *now_ms, int64_t *mono_ms);

#endif
