/* SPDX-License-Identifier: MIT */
/*
 * cycle_health.c - whether a bus's poll cycles keep their interval: the
 * counting, the log lines at growing intervals and the poll_overrun
 * alarm; see cycle_health.h.
 *
 * A cycle that overruns costs the readings of every poll time it passes
 * over: the worker does not run cycles back to back to catch up (that
 * would keep the line busy for good and put the readings off the poll
 * grid, which midnights are measured on), it waits for the next poll time
 * after its end. So what an operator must learn is that it happens, on
 * which bus, how long the cycles take against the interval, and what to
 * change; a busy moment that passes raises no alarm.
 */
#include <limits.h>
#include <stdio.h>

#include "cycle_health.h"
#include "gw.h"

int64_t gw_cycle_tolerance_ms(int64_t interval_ms, int64_t speed)
{
	int64_t tol = interval_ms / 10;
	int64_t floor_ms = GW_CYCLE_LATE_MIN_REAL_MS * (speed > 1 ? speed : 1);

	return tol > floor_ms ? tol : floor_ms;
}

static int is_power_of_two(int x)
{
	return x > 0 && !(x & (x - 1));
}

/* The behind cycles among the last GW_CYCLE_WINDOW. */
static int window_count(uint32_t w)
{
	int n = 0;

	for (; w; w &= w - 1)
		n++;
	return n;
}

/* From a busy Modbus TCP bus (a second) to a long RS-485 line near its
 * poll interval (15 min). */
const int64_t gw_cycle_dur_bounds_ms[GW_CYCLE_DUR_BUCKETS] = {
	500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000, 600000, 900000,
};

void gw_cycle_account(struct gw_cycle_health *h, const struct gw_cycle_times *t,
		      struct gw_cycle_verdict *v)
{
	struct gw_cycle_verdict r = {0};
	int64_t late = t->late_ms > 0 ? t->late_ms : 0;
	int64_t dur = t->dur_ms > 0 ? t->dur_ms : 0;
	int64_t interval = t->interval_ms > 0 ? t->interval_ms : 1;
	const uint32_t mask = GW_CYCLE_WINDOW >= 32 ? UINT32_MAX
				 : (UINT32_C(1) << GW_CYCLE_WINDOW) - 1;

	/* Its end minus its poll time: the next poll time came during it
	 * (or before it began) if that is a whole interval or more, and the
	 * worker waits for the first one after its end. */
	int64_t since_due = late + dur;
	r.late = late > t->tolerance_ms;
	if (since_due >= interval) {
		r.overrun = 1;
		r.skipped = (unsigned long)(since_due / interval);
	}
	int behind = r.late || r.overrun;

	h->cycles++;
	h->late += (unsigned long)r.late;
	h->overrun += (unsigned long)r.overrun;
	h->skipped += r.skipped;
	h->last_ms = dur;
	int b = 0;
	while (b < GW_CYCLE_DUR_BUCKETS && dur > gw_cycle_dur_bounds_ms[b])
		b++;
	h->dur_bucket[b]++;
	h->dur_sum_ms += dur;
	if (dur > h->max_ms) {
		h->max_ms = dur;
		r.longest = 1;
	}
	h->last_late_ms = late;
	h->window = ((h->window << 1) | (uint32_t)behind) & mask;
	if (behind) {
		h->in_time_in_row = 0;
		if (h->behind_in_row < INT_MAX)
			h->behind_in_row++;
		h->last_run = h->behind_in_row;
		if (is_power_of_two(h->behind_in_row))
			r.log = GW_CYCLE_LOG_BEHIND;
		if (!h->alarm && (h->behind_in_row >= GW_CYCLE_ALARM_IN_ROW ||
				  window_count(h->window) >= GW_CYCLE_ALARM_IN_WINDOW)) {
			h->alarm = 1;
			r.alarm = 1;
		}
	} else {
		if (h->behind_in_row)
			r.log = GW_CYCLE_LOG_IN_TIME;
		h->behind_in_row = 0;
		if (h->in_time_in_row < INT_MAX)
			h->in_time_in_row++;
		if (h->alarm && h->in_time_in_row >= GW_CYCLE_CLEAR_IN_ROW) {
			/* The bus keeps up again: the share starts afresh, so
			 * that one late cycle next does not raise it again on
			 * the strength of the run that is over. */
			h->alarm = 0;
			h->window = 0;
			r.alarm = -1;
		}
	}
	if (v)
		*v = r;
}

const char *gw_cycle_format_ms(int64_t ms, char *buf, size_t cap)
{
	long long v = ms > 0 ? (long long)ms : 0;

	if (v < 1000)
		snprintf(buf, cap, "%lld ms", v);
	else if (v < 60000 && v % 1000 >= 100)
		snprintf(buf, cap, "%lld.%lld s", v / 1000, v % 1000 / 100);
	else if (v < 60000)
		snprintf(buf, cap, "%lld s", v / 1000);
	else if (v / 1000 % 60)
		snprintf(buf, cap, "%lld min %lld s", v / 60000, v / 1000 % 60);
	else
		snprintf(buf, cap, "%lld min", v / 60000);
	return buf;
}

static void log_behind(const char *bus, int n_meters, const struct gw_cycle_health *h,
		       const struct gw_cycle_times *t, const struct gw_cycle_verdict *v)
{
	char dur[32], iv[32], late[32], tol[32];
	int n = h->behind_in_row;

	gw_cycle_format_ms(t->dur_ms, dur, sizeof(dur));
	gw_cycle_format_ms(t->interval_ms, iv, sizeof(iv));
	gw_cycle_format_ms(t->late_ms, late, sizeof(late));
	if (v->overrun) {
		gw_warn("bus %s: poll cycle overran: it took %s for %d meter%s against a "
			"poll_interval of %s%s%s%s, %lu poll time%s skipped; %d cycle%s in a "
			"row behind; " GW_CYCLE_WHAT_TO_DO,
			bus, dur, n_meters, n_meters == 1 ? "" : "s", iv,
			v->late ? " (it started " : "", v->late ? late : "",
			v->late ? " late)" : "", v->skipped, v->skipped == 1 ? "" : "s",
			n, n == 1 ? "" : "s");
		return;
	}
	gw_warn("bus %s: poll cycle started %s late (tolerance %s, poll_interval %s) "
		"and took %s for %d meter%s; %d cycle%s in a row behind; the machine "
		"did not wake the bus's worker in time: look at its load, or " GW_CYCLE_WHAT_TO_DO,
		bus, late, gw_cycle_format_ms(t->tolerance_ms, tol, sizeof(tol)), iv, dur, n_meters,
		n_meters == 1 ? "" : "s", n, n == 1 ? "" : "s");
}

void gw_cycle_log(const char *bus, int n_meters, const struct gw_cycle_health *h,
		  const struct gw_cycle_times *t, const struct gw_cycle_verdict *v)
{
	char dur[32], iv[32];

	if (v->log == GW_CYCLE_LOG_BEHIND)
		log_behind(bus, n_meters, h, t, v);
	else if (v->log == GW_CYCLE_LOG_IN_TIME)
		gw_info("bus %s: poll cycles keep up again after %d behind in a row: "
			"the last took %s against a poll_interval of %s",
			bus, h->last_run, gw_cycle_format_ms(t->dur_ms, dur, sizeof(dur)),
			gw_cycle_format_ms(t->interval_ms, iv, sizeof(iv)));
	if (v->alarm > 0)
		gw_err("bus %s: alarm poll_overrun: %d cycles in a row and %d of the last "
		       "%d behind, longest %s against a poll_interval of %s; readings "
		       "are missing at the poll times skipped (%lu since start); " GW_CYCLE_WHAT_TO_DO,
		       bus, h->behind_in_row, window_count(h->window), GW_CYCLE_WINDOW,
		       gw_cycle_format_ms(h->max_ms, dur, sizeof(dur)),
		       gw_cycle_format_ms(t->interval_ms, iv, sizeof(iv)), h->skipped);
	else if (v->alarm < 0)
		gw_info("bus %s: alarm poll_overrun cleared: %d cycles in a row in time",
			bus, h->in_time_in_row);
}

void gw_cycle_status_put(struct gw_status_text *t, const char *bus,
			 const struct gw_cycle_health *h)
{
	gw_status_put_bus(t, GW_SK_POLL_CYCLES, bus, "%lu", h->cycles);
	gw_status_put_bus(t, GW_SK_POLL_LATE, bus, "%lu", h->late);
	gw_status_put_bus(t, GW_SK_POLL_OVERRUN, bus, "%lu", h->overrun);
	gw_status_put_bus(t, GW_SK_POLL_SKIPPED, bus, "%lu", h->skipped);
	gw_status_put_bus(t, GW_SK_POLL_BEHIND_IN_ROW, bus, "%d", h->behind_in_row);
	gw_status_put_bus(t, GW_SK_POLL_LAST_MS, bus, "%lld", (long long)h->last_ms);
	gw_status_put_bus(t, GW_SK_POLL_MAX_MS, bus, "%lld", (long long)h->max_ms);
	gw_status_put_bus(t, GW_SK_POLL_ALARM, bus, "%s", h->alarm ? "yes" : "no");
	gw_status_put_bus(t, GW_SK_POLL_DURATION_SUM_MS, bus, "%lld",
			  (long long)h->dur_sum_ms);
	char le[GW_CYCLE_DUR_BUCKETS * 21 + 1];
	size_t len = 0;
	unsigned long sum = 0;
	for (int b = 0; b < GW_CYCLE_DUR_BUCKETS; b++) {
		sum += h->dur_bucket[b];
		len += (size_t)snprintf(le + len, sizeof(le) - len, "%s%lu",
					b ? "," : "", sum);
	}
	gw_status_put_bus(t, GW_SK_POLL_DURATION_LE, bus, "%s", le);
}
