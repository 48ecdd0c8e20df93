/* SPDX-License-Identifier: MIT */
/*
 * cycle_health.h - whether a bus's poll cycles keep their poll interval:
 * per bus, the cycles that started late or overran (did not finish before
 * the next one was due), the poll times skipped because of them, the
 * cycles' durations, the log lines at growing intervals and the
 * poll_overrun alarm.
 *
 * Pure functions over times its bus worker measures, all on the gateway
 * clock's scale (simulated milliseconds when the clock is simulated) and
 * on a monotonic clock, so that a step of the wall clock is neither a late
 * cycle nor an overrun (the clock's witnesses report steps). The poll
 * worker calls gw_cycle_account once per whole cycle and gw_cycle_log
 * with what it returned; tests/unit/test_cycle_health.c tests both.
 *
 * A cycle is *late* when it starts more than the tolerance after its poll
 * time (gw_cycle_tolerance_ms: a tenth of the interval, at least 250 ms of
 * real time), and *overruns* when it ends at or after the next poll time:
 * the worker then waits for the first poll time after its end, and each
 * poll time it passed over is *skipped* (no cycle, no readings at it). A
 * cycle late or overrunning is *behind*. Behind cycles are logged as a
 * warning on the 1st, 2nd, 4th, 8th ... of a run in a row, and the first
 * cycle in time after a run once.
 *
 * The alarm poll_overrun of a bus is raised when GW_CYCLE_ALARM_IN_ROW
 * cycles in a row were behind, or GW_CYCLE_ALARM_IN_WINDOW of its last
 * GW_CYCLE_WINDOW (a bus that falls behind every few cycles), and cleared
 * when GW_CYCLE_CLEAR_IN_ROW cycles in a row were in time. One slow cycle
 * (a meter's timeout, a busy moment of the machine) raises nothing.
 */
#ifndef GW_CYCLE_HEALTH_H
#define GW_CYCLE_HEALTH_H

#include <stdint.h>

#include "status_keys.h"

#define GW_CYCLE_ALARM_IN_ROW 3    /* behind in a row: raised */
#define GW_CYCLE_WINDOW 20         /* the last cycles the share is taken of */
#define GW_CYCLE_ALARM_IN_WINDOW 5 /* behind of the last GW_CYCLE_WINDOW: raised */
#define GW_CYCLE_CLEAR_IN_ROW 5    /* in time in a row: cleared */
#define GW_CYCLE_LATE_MIN_REAL_MS 250 /* a start later than this (real ms)
				       * may be the machine's scheduling */
/* What an operator can do about a bus whose cycles do not fit. */
#define GW_CYCLE_WHAT_TO_DO "fewer meters on this bus, a longer poll_interval, " \
	"a faster line or a lower timeout_ms, or more buses"

/* The upper bounds of the buckets of cycle durations (ms, ascending). */
#define GW_CYCLE_DUR_BUCKETS 11
extern const int64_t gw_cycle_dur_bounds_ms[GW_CYCLE_DUR_BUCKETS];

/* A bus's poll cycles since its worker (re)started. */
struct gw_cycle_health {
	unsigned long cycles;  /* whole cycles run (one cut short by a stop
				* or a reload is not counted) */
	unsigned long late;    /* of them, started later than the tolerance */
	unsigned long overrun; /* of them, not finished before the next poll time */
	unsigned long skipped; /* poll times passed over because of those */
	int64_t last_ms;       /* the last cycle's duration */
	int64_t max_ms;        /* the longest cycle's */
	int64_t last_late_ms;  /* how late the last cycle started */
	int behind_in_row;     /* cycles behind in a row, 0 after one in time */
	int in_time_in_row;    /* cycles in time in a row */
	int last_run;          /* the last run of behind cycles (for its end's line) */
	uint32_t window;       /* the last GW_CYCLE_WINDOW cycles, newest in
				* bit 0: 1 behind */
	int alarm;             /* poll_overrun raised for this bus */
	/* the durations as a histogram (metrics.h): cycles of each bucket of
	 * gw_cycle_dur_bounds_ms and longer ones in the last, their sum */
	unsigned long dur_bucket[GW_CYCLE_DUR_BUCKETS + 1];
	int64_t dur_sum_ms;
};

/* One cycle's times, in the clock's milliseconds. */
struct gw_cycle_times {
	int64_t late_ms;      /* its start minus its poll time (< 0 counts as 0) */
	int64_t dur_ms;       /* its start to its end */
	int64_t interval_ms;  /* poll_interval (> 0) */
	int64_t tolerance_ms; /* gw_cycle_tolerance_ms */
};

/* What a cycle's log line says. */
enum gw_cycle_log {
	GW_CYCLE_LOG_NONE = 0,
	GW_CYCLE_LOG_BEHIND,  /* the 1st, 2nd, 4th, 8th ... behind in a row */
	GW_CYCLE_LOG_IN_TIME, /* the first in time after a run of behind ones */
};

/* What gw_cycle_account made of one cycle. */
struct gw_cycle_verdict {
	int late, overrun;     /* 1 if it was */
	unsigned long skipped; /* poll times passed over */
	int longest;           /* 1 if it was the longest so far */
	enum gw_cycle_log log;
	int alarm;             /* +1 raised by this cycle, -1 cleared, 0 neither */
};

/* The lateness beyond which a start is late: a tenth of interval_ms, but
 * at least GW_CYCLE_LATE_MIN_REAL_MS of real time, which is speed times
 * as many of the clock's milliseconds on a simulated clock running speed
 * times real time (speed 1 for a real clock): a loaded machine may wake a
 * thread that late, and a simulated clock multiplies the delay. */
int64_t gw_cycle_tolerance_ms(int64_t interval_ms, int64_t speed);

/* Accounts one whole cycle of times t in h and fills *v (may be NULL). */
void gw_cycle_account(struct gw_cycle_health *h, const struct gw_cycle_times *t,
		      struct gw_cycle_verdict *v);

/* Logs what v says of a cycle of bus `bus` with n_meters meters: a
 * warning for a behind cycle logged (naming the interval, the duration,
 * how late it started, the poll times skipped and what to do), a note for
 * the first cycle in time after a run, an error when the alarm is raised
 * and a note when it is cleared. */
void gw_cycle_log(const char *bus, int n_meters, const struct gw_cycle_health *h,
		  const struct gw_cycle_times *t, const struct gw_cycle_verdict *v);

/* A duration for people: "840 ms", "14.2 s", "15 min", "2 min 5 s" (the
 * tenths of a second cut, not rounded). Returns buf. */
const char *gw_cycle_format_ms(int64_t ms, char *buf, size_t cap);

/* Appends the per-bus status lines of bus `bus` (poll_cycles.BUS ...
 * poll_max_ms.BUS; status_keys.h) to t. */
void gw_cycle_status_put(struct gw_status_text *t, const char *bus,
			 const struct gw_cycle_health *h);

#endif
