/* SPDX-License-Identifier: MIT */
/*
 * test_cycle_health.c - a bus's poll cycles against its interval
 * (gateway/cycle_health.c): what is late, an overrun and a skipped poll
 * time; the durations kept; the log lines on the 1st, 2nd, 4th, 8th ...
 * cycle behind in a row and once when the bus keeps up again; the alarm
 * poll_overrun raised by 3 in a row or 5 of the last 20 and cleared by 5
 * in time in a row; and the status lines per bus.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "cycle_health.h"
#include "gw.h"

#define IV 10000  /* a poll interval of 10 s */
#define TOL 1000  /* its tolerance */

/* One cycle of kind c: 'o' in time (2 s), 'L' late (started 3 s late,
 * took 2 s), 'O' overran (took 14 s), 'S' overran by far (took 35 s). */
static struct gw_cycle_times times_of(char c)
{
	struct gw_cycle_times t = {.interval_ms = IV, .tolerance_ms = TOL};

	t.late_ms = c == 'L' ? 3000 : 0;
	t.dur_ms = c == 'O' ? 14000 : c == 'S' ? 35000 : 2000;
	return t;
}

/* Runs the cycles of `pattern` on h; for each, what its log says ('-'
 * none, 'b' behind, 'k' keeps up again) into logs and how the alarm
 * changed ('-', 'R' raised, 'C' cleared) into alarms. */
static void run(struct gw_cycle_health *h, const char *pattern, char *logs,
		char *alarms)
{
	size_t n = strlen(pattern);

	for (size_t i = 0; i < n; i++) {
		struct gw_cycle_times t = times_of(pattern[i]);
		struct gw_cycle_verdict v;
		gw_cycle_account(h, &t, &v);
		logs[i] = v.log == GW_CYCLE_LOG_BEHIND ? 'b'
			  : v.log == GW_CYCLE_LOG_IN_TIME ? 'k' : '-';
		alarms[i] = v.alarm > 0 ? 'R' : v.alarm < 0 ? 'C' : '-';
	}
	logs[n] = alarms[n] = '\0';
}

static void late_overrun_skipped(void **state)
{
	struct gw_cycle_health h;
	struct gw_cycle_verdict v;
	struct gw_cycle_times t = {.interval_ms = IV, .tolerance_ms = TOL};

	(void)state;
	memset(&h, 0, sizeof(h));
	/* started exactly at the tolerance: not late */
	t.late_ms = TOL;
	t.dur_ms = 500;
	gw_cycle_account(&h, &t, &v);
	assert_int_equal(v.late, 0);
	assert_int_equal(v.overrun, 0);
	assert_int_equal(v.skipped, 0);
	assert_int_equal(v.longest, 1); /* the first is the longest so far */
	/* a millisecond later: late, not an overrun, not longer */
	t.late_ms = TOL + 1;
	gw_cycle_account(&h, &t, &v);
	assert_int_equal(v.late, 1);
	assert_int_equal(v.overrun, 0);
	assert_int_equal(v.longest, 0);
	/* ends a millisecond before the next poll time: in time */
	t.late_ms = 0;
	t.dur_ms = IV - 1;
	gw_cycle_account(&h, &t, &v);
	assert_int_equal(v.late + v.overrun, 0);
	/* ends at the next poll time: that one is passed over */
	t.dur_ms = IV;
	gw_cycle_account(&h, &t, &v);
	assert_int_equal(v.overrun, 1);
	assert_int_equal(v.skipped, 1);
	/* started 0.5 s late (within the tolerance) and took 3 intervals:
	 * it ends 3.05 intervals after its poll time, 3 passed over */
	t.late_ms = 500;
	t.dur_ms = 30000;
	gw_cycle_account(&h, &t, &v);
	assert_int_equal(v.late, 0);
	assert_int_equal(v.overrun, 1);
	assert_int_equal(v.skipped, 3);
	/* started more than an interval late: late, and an overrun */
	t.late_ms = 12000;
	t.dur_ms = 100;
	gw_cycle_account(&h, &t, &v);
	assert_int_equal(v.late, 1);
	assert_int_equal(v.overrun, 1);
	assert_int_equal(v.skipped, 1);
	/* a start "early" (the wall clock stepped forward during the
	 * sleep) counts as on time */
	t.late_ms = -5000;
	t.dur_ms = 700;
	gw_cycle_account(&h, &t, &v);
	assert_int_equal(v.late + v.overrun, 0);
	assert_int_equal(h.last_late_ms, 0);

	assert_int_equal(h.cycles, 7);
	assert_int_equal(h.late, 2);
	assert_int_equal(h.overrun, 3);
	assert_int_equal(h.skipped, 5);
	assert_int_equal(h.last_ms, 700);
	assert_int_equal(h.max_ms, 30000);
	assert_int_equal(h.behind_in_row, 0);
}

static void logged_at_growing_intervals(void **state)
{
	struct gw_cycle_health h;
	char logs[64], alarms[64];

	(void)state;
	memset(&h, 0, sizeof(h));
	/* 20 behind in a row (late and overrunning mixed), then in time */
	run(&h, "oLOOLOOOOSOOOOOOOOOOOoooooo", logs, alarms);
	assert_string_equal(logs, "-bb-b---b-------b----k-----");
	assert_int_equal(h.last_run, 20);
	assert_int_equal(h.in_time_in_row, 6);
	/* a new run counts from 1 again */
	run(&h, "OOoO", logs, alarms);
	assert_string_equal(logs, "bbkb");
	assert_int_equal(h.behind_in_row, 1);
}

static void alarm_in_a_row(void **state)
{
	struct gw_cycle_health h;
	char logs[64], alarms[64];

	(void)state;
	memset(&h, 0, sizeof(h));
	/* two behind and the bus keeps up: nothing raised */
	run(&h, "OOoooooo", logs, alarms);
	assert_string_equal(alarms, "--------");
	/* three in a row raise it; four in time do not clear it, five do */
	run(&h, "OLOOooooo", logs, alarms);
	assert_string_equal(alarms, "--R-----C");
	assert_int_equal(h.alarm, 0);
	/* cleared: the share starts afresh, so one behind cycle does not
	 * raise it again (with the run before, 6 of the last 20 were) */
	run(&h, "O", logs, alarms);
	assert_string_equal(alarms, "-");
	assert_int_equal(h.alarm, 0);
	/* a late start every cycle raises it too */
	run(&h, "oLLL", logs, alarms);
	assert_string_equal(alarms, "---R");
	assert_int_equal(h.alarm, 1);
}

static void alarm_share_of_the_window(void **state)
{
	struct gw_cycle_health h;
	char logs[64], alarms[64];

	(void)state;
	/* behind one cycle in five: 4 of the last 20, never raised */
	memset(&h, 0, sizeof(h));
	run(&h, "Ooooo" "Ooooo" "Ooooo" "Ooooo" "Ooooo" "Ooooo" "Ooooo" "Ooooo", logs, alarms);
	assert_null(strchr(alarms, 'R'));
	assert_int_equal(h.alarm, 0);
	/* behind one cycle in four: the 5th within 20 cycles raises it, and
	 * it stays raised as long as the bus never keeps up 5 in a row */
	memset(&h, 0, sizeof(h));
	run(&h, "Oooo" "Oooo" "Oooo" "Oooo" "Oooo" "Oooo" "Oooo" "Oooo", logs, alarms);
	assert_string_equal(alarms, "----" "----" "----" "----" "R---" "----" "----" "----");
	assert_int_equal(h.alarm, 1);
	/* the last block ended with 3 in time: 2 more clear it */
	run(&h, "ooooo", logs, alarms);
	assert_string_equal(alarms, "-C---");
}

/* What gw_cycle_log writes, captured from stderr. */
static char *logged(const char *bus, int n_meters, const char *pattern,
		    struct gw_cycle_health *h)
{
	char path[] = "/tmp/test_cycle_health.XXXXXX";
	int fd = mkstemp(path), saved = dup(2);
	static char out[16384];

	assert_true(fd >= 0 && saved >= 0);
	fflush(stderr);
	dup2(fd, 2);
	for (const char *c = pattern; *c; c++) {
		struct gw_cycle_times t = times_of(*c);
		struct gw_cycle_verdict v;
		gw_cycle_account(h, &t, &v);
		gw_cycle_log(bus, n_meters, h, &t, &v);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, out, sizeof(out) - 1, 0);
	close(fd);
	unlink(path);
	out[n > 0 ? n : 0] = '\0';
	return out;
}

static int count(const char *text, const char *what)
{
	int n = 0;

	for (const char *p = text; (p = strstr(p, what)) != NULL; p++)
		n++;
	return n;
}

static void log_lines(void **state)
{
	struct gw_cycle_health h;

	(void)state;
	memset(&h, 0, sizeof(h));
	char *out = logged("feeder-7", 12, "oOOOOo", &h);
	/* behind: the 1st, 2nd and 4th, each naming the bus, the duration,
	 * the interval, what was skipped and what to do */
	assert_int_equal(count(out, "bus feeder-7: poll cycle overran: it took 14 s for 12 "
				    "meters against a poll_interval of 10 s, 1 poll time skipped"), 3);
	assert_int_equal(count(out, "1 cycle in a row behind; fewer meters on this bus, a "
				    "longer poll_interval, a faster line or a lower "
				    "timeout_ms, or more buses"), 1);
	assert_int_equal(count(out, "2 cycles in a row behind"), 1);
	assert_int_equal(count(out, "3 cycles in a row behind"), 0);
	assert_int_equal(count(out, "4 cycles in a row behind"), 1);
	/* raised at the 3rd, with the share and the longest cycle */
	assert_int_equal(count(out, "bus feeder-7: alarm poll_overrun: 3 cycles in a row and 3 "
				    "of the last 20 behind, longest 14 s against a "
				    "poll_interval of 10 s"), 1);
	/* the first cycle in time, once */
	assert_int_equal(count(out, "bus feeder-7: poll cycles keep up again after 4 behind "
				    "in a row: the last took 2 s against a poll_interval of 10 s"), 1);
	assert_int_equal(count(out, "keep up again"), 1);
	assert_int_equal(count(out, "cleared"), 0);

	out = logged("feeder-7", 12, "ooooL", &h);
	assert_int_equal(count(out, "bus feeder-7: alarm poll_overrun cleared: 5 cycles in a "
				    "row in time"), 1);
	/* a late start names the lateness and the tolerance */
	assert_int_equal(count(out, "bus feeder-7: poll cycle started 3 s late (tolerance 1 s, "
				    "poll_interval 10 s) and took 2 s for 12 meters; 1 cycle in "
				    "a row behind; the machine did not wake"), 1);
	assert_int_equal(count(out, "\n"), 2);

	memset(&h, 0, sizeof(h));
	out = logged("b", 1, "o", &h);
	assert_string_equal(out, ""); /* a cycle in time says nothing */
}

static void tolerance_and_durations(void **state)
{
	char buf[32];

	(void)state;
	/* a tenth of the interval, at least 250 ms of real time */
	assert_int_equal(gw_cycle_tolerance_ms(900000, 1), 90000);
	assert_int_equal(gw_cycle_tolerance_ms(1000, 1), 250);
	assert_int_equal(gw_cycle_tolerance_ms(5000, 0), 500);
	/* on a clock 4 or 8640 times real time, 250 ms real are 1 s or 36 min */
	assert_int_equal(gw_cycle_tolerance_ms(5000, 4), 1000);
	assert_int_equal(gw_cycle_tolerance_ms(900000, 8640), 2160000);
	assert_string_equal(gw_cycle_format_ms(840, buf, sizeof(buf)), "840 ms");
	assert_string_equal(gw_cycle_format_ms(-3, buf, sizeof(buf)), "0 ms");
	assert_string_equal(gw_cycle_format_ms(14250, buf, sizeof(buf)), "14.2 s");
	assert_string_equal(gw_cycle_format_ms(10000, buf, sizeof(buf)), "10 s");
	assert_string_equal(gw_cycle_format_ms(10050, buf, sizeof(buf)), "10 s");
	assert_string_equal(gw_cycle_format_ms(900000, buf, sizeof(buf)), "15 min");
	assert_string_equal(gw_cycle_format_ms(125000, buf, sizeof(buf)), "2 min 5 s");
}

static void status_lines(void **state)
{
	struct gw_cycle_health h;
	char text[2048], buf[64];
	struct gw_status_text t = {.buf = text, .cap = sizeof(text)};
	char logs[64], alarms[64];

	(void)state;
	memset(&h, 0, sizeof(h));
	run(&h, "oOSOL", logs, alarms);
	text[0] = '\0';
	gw_cycle_status_put(&t, "rs485-1", &h);
	assert_string_equal(text,
			    "poll_cycles.rs485-1=5\n"
			    "poll_late.rs485-1=1\n"
			    "poll_overrun.rs485-1=3\n"
			    "poll_skipped.rs485-1=5\n"
			    "poll_behind_in_row.rs485-1=4\n"
			    "poll_last_ms.rs485-1=2000\n"
			    "poll_max_ms.rs485-1=35000\n"
			    "poll_alarm.rs485-1=yes\n"
			    /* 2 + 14 + 35 + 14 + 2 s; two of 2 s (<= 2.5 s), two of
			     * 14 s (<= 30 s), one of 35 s (<= 60 s) */
			    "poll_duration_sum_ms.rs485-1=67000\n"
			    "poll_duration_le.rs485-1=0,0,2,2,2,4,5,5,5,5,5\n");
	assert_string_equal(gw_status_get_bus(text, GW_SK_POLL_SKIPPED, "rs485-1", buf,
					      sizeof(buf)), "5");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(late_overrun_skipped),
		cmocka_unit_test(logged_at_growing_intervals),
		cmocka_unit_test(alarm_in_a_row),
		cmocka_unit_test(alarm_share_of_the_window),
		cmocka_unit_test(log_lines),
		cmocka_unit_test(tolerance_and_durations),
		cmocka_unit_test(status_lines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
