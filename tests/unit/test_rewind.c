/* SPDX-License-Identifier: MIT */
/*
 * test_rewind.c - setting a spool back after a wrong clock (rewind.h): the
 * readings and events of the days sealed again go back into the journal
 * (and those of the day before them), false days are set aside with notes,
 * what the wrong clock stamped leaves the journal, the state is rewritten;
 * a batch that lost its readings is refused before anything changes; and
 * a rewind a crash interrupted is rolled back before its new journal is
 * complete and finished after.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"
#include "rewind.h"
#include "spool.h"
#include "tz.h"

#define MIN (60 * INT64_C(1000))
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

static char top[256], spool[300];
static int32_t d0;  /* the last day sealed by a right clock */
static int64_t now; /* the true time: 10:00 local on d0 + 1 */

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/gwrewind.XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(spool, sizeof(spool), "%s/spool", top);
	assert_int_equal(gw_tz_set("Asia/Ho_Chi_Minh"), 0);
	assert_int_equal(gw_day_parse("2026-03-02", &d0), 0);
	now = gw_tz_day_start(d0 + 1) + 10 * HOUR;
	return 0;
}

static int teardown(void **state)
{
	char cmd[400];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd);
}

static int exists(const char *sub, const char *name)
{
	char path[700];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s/%s", spool, sub, name);
	return stat(path, &st) == 0;
}

static int count(const char *sub, const char *suffix)
{
	char path[400];
	struct dirent *e;
	int n = 0;

	snprintf(path, sizeof(path), "%s/%s", spool, sub);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL) {
		size_t l = strlen(e->d_name), sl = strlen(suffix);
		n += e->d_name[0] != '.' && l > sl && strcmp(e->d_name + l - sl, suffix) == 0;
	}
	closedir(d);
	return n;
}

/* A day's batch of meter PE1: 1.8.0 every 15 minutes (value = minutes
 * since d0), one event; `created` is the clock that sealed it; without
 * `series`, its interval readings were dropped (the size bound). */
static void write_batch_ex(int32_t day, int64_t created, uint32_t rev, int readings,
			   int series)
{
	struct gw_batch *b = calloc(1, sizeof(*b));
	snprintf(b->gateway_id, sizeof(b->gateway_id), "gw-1");
	snprintf(b->timezone, sizeof(b->timezone), "Asia/Ho_Chi_Minh");
	b->day = day;
	b->revision = rev;
	b->created_ms = created;
	b->n_days = 1;
	b->days = calloc(1, sizeof(*b->days));
	snprintf(b->days[0].meter_id, GW_ID_MAX, "PE1");
	snprintf(b->days[0].obis, GW_OBIS_MAX, "1.8.0");
	b->days[0].unit = GW_UNIT_WH;
	b->days[0].readings = (uint32_t)readings;
	if (readings && series) {
		b->n_series = 1;
		b->series = calloc(1, sizeof(*b->series));
		struct gw_series *s = &b->series[0];
		snprintf(s->meter_id, GW_ID_MAX, "PE1");
		snprintf(s->obis, GW_OBIS_MAX, "1.8.0");
		s->unit = GW_UNIT_WH;
		s->n = (uint32_t)readings;
		s->ts_ms = malloc((size_t)readings * sizeof(int64_t));
		s->value = malloc((size_t)readings * sizeof(int64_t));
		for (int k = 0; k < readings; k++) {
			s->ts_ms[k] = gw_tz_day_start(day) + k * 15 * MIN;
			s->value[k] = (s->ts_ms[k] - gw_tz_day_start(d0)) / MIN;
		}
	}
	b->n_events = 1;
	b->events = calloc(1, sizeof(*b->events));
	snprintf(b->events[0].meter_id, GW_ID_MAX, "PE1");
	b->events[0].ts_ms = gw_tz_day_start(day) + HOUR;
	b->events[0].kind = GW_EV_ONLINE;
	assert_int_equal(gw_spool_write(spool, b), 0);
	gw_batch_free(b);
}

static void write_batch(int32_t day, int64_t created, uint32_t rev, int readings)
{
	write_batch_ex(day, created, rev, readings, 1);
}

static struct gw_reading rd(int64_t ts, int64_t v)
{
	struct gw_reading r;
	memset(&r, 0, sizeof(r));
	snprintf(r.meter_id, sizeof(r.meter_id), "PE1");
	snprintf(r.obis, sizeof(r.obis), "1.8.0");
	r.ts_ms = ts;
	r.value = v;
	r.unit = GW_UNIT_WH;
	return r;
}

/* What the old behaviour leaves: d0 sealed by a right clock; the clock
 * jumped 300 days ahead at 06:00 on d0 + 1 and sealed d0 + 1 early, the
 * days up to the false date, and the false day (one of them uploaded);
 * then it came back, and the journal holds the false readings and the
 * real ones since (dropped as late by the old gateway). */
static void damaged_spool(void)
{
	char cmd[400];
	struct gw_journal *j;
	int64_t jump = 300 * DAY, t;

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", spool);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(gw_spool_open(spool), 0);
	write_batch(d0, gw_tz_day_start(d0 + 1) + 30 * MIN, 0, 96);
	write_batch(d0 + 1, gw_tz_day_start(d0 + 1) + 6 * HOUR + jump, 0, 25);
	write_batch(d0 + 2, gw_tz_day_start(d0 + 1) + 6 * HOUR + jump, 0, 0);
	write_batch(d0 + 300, gw_tz_day_start(d0 + 301) + 30 * MIN, 0, 96);
	write_batch(d0 + 301, gw_tz_day_start(d0 + 302) + 30 * MIN, 0, 8);
	char from[700], to[700];
	snprintf(from, sizeof(from), "%s/ready/gw-1_2026-12-27_r0.gwb", spool);
	snprintf(to, sizeof(to), "%s/done/gw-1_2026-12-27_r0.gwb", spool);
	assert_int_equal(rename(from, to), 0);
	assert_int_equal(gw_spool_state_write(spool, d0 + 302), 0);

	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	/* the wrong clock's readings, then the right clock's after 08:00 */
	for (t = gw_tz_day_start(d0 + 301) + 6 * HOUR; t < gw_tz_day_start(d0 + 301) + 8 * HOUR;
	     t += 15 * MIN) {
		struct gw_reading r = rd(t, 1);
		assert_int_equal(gw_journal_append_cycle(j, 0, &r, 1), 0);
	}
	struct gw_event ev = {.meter_id = "PE1", .kind = GW_EV_OFFLINE};
	ev.ts_ms = gw_tz_day_start(d0 + 301) + 7 * HOUR;
	assert_int_equal(gw_journal_append_events(j, &ev, 1, d0 + 301), 0);
	for (t = gw_tz_day_start(d0 + 1) + 8 * HOUR; t <= now; t += 15 * MIN) {
		struct gw_reading r = rd(t, (t - gw_tz_day_start(d0)) / MIN);
		assert_int_equal(gw_journal_append_cycle(j, 0, &r, 1), 0);
	}
	ev.kind = GW_EV_ONLINE;
	ev.ts_ms = gw_tz_day_start(d0 + 1) + 9 * HOUR;
	assert_int_equal(gw_journal_append_events(j, &ev, 1, d0 + 302), 0);
	gw_journal_close(j);
}

struct seen {
	int readings, late_false, events, dup_events;
	int64_t ev_ts[16];
	int32_t ev_day[16];
	int64_t min_ts, max_ts;
};

static int on_cycle(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct seen *s = ctx;
	(void)bus;
	for (size_t i = 0; i < n; i++) {
		s->readings++;
		if (r[i].ts_ms > now + DAY)
			s->late_false++;
		if (r[i].ts_ms < s->min_ts)
			s->min_ts = r[i].ts_ms;
		if (r[i].ts_ms > s->max_ts)
			s->max_ts = r[i].ts_ms;
	}
	return 0;
}

static int on_event(void *ctx, const struct gw_event *ev, int32_t day)
{
	struct seen *s = ctx;
	for (int i = 0; i < s->events; i++)
		s->dup_events += s->ev_ts[i] == ev->ts_ms;
	if (s->events < 16) {
		s->ev_ts[s->events] = ev->ts_ms;
		s->ev_day[s->events] = day;
	}
	s->events++;
	return 0;
}

static struct seen journal_now(void)
{
	struct gw_journal *j;
	struct seen s = {.min_ts = INT64_MAX, .max_ts = INT64_MIN};
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, on_cycle, on_event, &s, NULL), 0);
	gw_journal_close(j);
	return s;
}

static struct gw_rewind plan(int32_t to)
{
	struct gw_rewind rw = {.gateway_id = "gw-1", .now_ms = now, .cut_ms = now + DAY,
			       .to_day = to, .last_day = gw_tz_day_of(now)};
	return rw;
}

static void rewind_seals_the_real_days_again(void **state)
{
	(void)state;
	struct gw_rewind_result res;
	struct gw_spool_state st;
	char bad[600];

	damaged_spool();
	struct gw_rewind rw = plan(d0 + 1);
	assert_int_equal(gw_rewind_run(spool, &rw, &res, bad, sizeof(bad)), 0);
	/* d0 + 1 sealed again: its 25 readings and d0's 96 back (d0's event
	 * stays in its batch) */
	assert_int_equal(res.readings_back, 96 + 25);
	assert_int_equal(res.events_back, 1);
	assert_int_equal(res.batches_back, 1);
	/* d0 + 2 (in the gap, no readings) lies after the day of now too: the
	 * false days are d0 + 2, d0 + 300 and d0 + 301, one in done/ */
	assert_int_equal(res.batches_false, 3);
	assert_int_equal(res.uploaded_false, 1);
	assert_int_equal(res.readings_false, 96 + 8);
	assert_int_equal(res.readings_aside, 8);
	assert_int_equal(res.events_aside, 1);
	assert_int_equal(gw_spool_state_read(spool, &st), 0);
	assert_int_equal(st.next_day, d0 + 1);
	assert_int_equal(st.seen_ms, now);
	assert_true(exists("ready", "gw-1_2026-03-02_r0.gwb"));
	assert_false(exists("ready", "gw-1_2026-03-03_r0.gwb"));
	assert_true(exists("quarantine", "gw-1_2026-03-03_r0.gwb"));
	assert_true(exists("quarantine", "gw-1_2026-03-03_r0.gwb.rewound"));
	assert_true(exists("quarantine", "gw-1_2026-12-27_r0.gwb.rewound"));
	assert_int_equal(count("ready", ".gwb") + count("done", ".gwb"), 1);
	assert_int_equal(count("quarantine", ".rewound"), 4);
	assert_false(exists("", "rewind"));
	/* a new revision of d0 + 1 counts the one set aside */
	assert_int_equal(gw_spool_next_revision(spool, "gw-1", d0 + 1), 1);
	assert_int_equal(gw_spool_next_day(spool, "gw-1", &st.next_day), 0);
	assert_int_equal(st.next_day, d0 + 1);
	/* the journal: what the right clock stamped, each event once */
	struct seen s = journal_now();
	assert_int_equal(s.late_false, 0);
	assert_int_equal(s.readings, 96 + 25 + (int)((now - gw_tz_day_start(d0 + 1) - 8 * HOUR) / (15 * MIN)) + 1);
	assert_int_equal(s.min_ts, gw_tz_day_start(d0));
	assert_int_equal(s.max_ts, now);
	assert_int_equal(s.dup_events, 0);
	assert_int_equal(s.events, 2); /* d0+1's ONLINE at 01:00 and at 09:00 */
	for (int i = 0; i < 2; i++)
		assert_int_equal(s.ev_day[i], d0 + 1);
	assert_true(count("quarantine", ".gwj") >= 1);
	/* again, on the journal (gwctl finds nothing sealed from d0 + 1 on):
	 * nothing more set aside, nothing lost */
	rw = plan(INT32_MIN);
	assert_int_equal(gw_rewind_run(spool, &rw, &res, bad, sizeof(bad)), 0);
	assert_int_equal(res.batches_back + res.batches_false, 0);
	struct seen s2 = journal_now();
	assert_int_equal(s2.readings, s.readings);
	assert_int_equal(s2.events, s.events);
}

static void a_batch_without_its_readings_is_refused(void **state)
{
	(void)state;
	struct gw_rewind_result res;
	char bad[600], path[700];

	damaged_spool();
	/* d0 + 1 was uploaded and emptied by the size bound */
	snprintf(path, sizeof(path), "%s/ready/gw-1_2026-03-03_r0.gwb", spool);
	assert_int_equal(truncate(path, 0), 0);
	struct gw_rewind rw = plan(d0 + 1);
	assert_int_equal(gw_rewind_run(spool, &rw, &res, bad, sizeof(bad)), GW_ECORRUPT);
	assert_non_null(strstr(bad, "gw-1_2026-03-03_r0.gwb: emptied"));
	assert_false(exists("", "rewind"));
	assert_int_equal(count("quarantine", ".rewound"), 0);
	assert_true(exists("ready", "gw-1_2026-12-28_r0.gwb"));
	/* the newest revision counted readings its interval series no longer
	 * hold (dropped by the size bound): refused */
	damaged_spool();
	write_batch_ex(d0 + 1, now, 1, 25, 0);
	assert_int_equal(gw_rewind_run(spool, &rw, &res, bad, sizeof(bad)), GW_ECORRUPT);
	assert_non_null(strstr(bad, "gw-1_2026-03-03_r1.gwb: its interval readings were dropped"));
	/* a day in a long gap has daily values and no reading: it is whole */
	damaged_spool();
	write_batch(d0 + 1, now, 1, 0);
	assert_int_equal(gw_rewind_run(spool, &rw, &res, bad, sizeof(bad)), 0);
	assert_int_equal(res.batches_back, 2);
}

static void journal_only_rewind_keeps_batches(void **state)
{
	(void)state;
	struct gw_rewind_result res;
	struct gw_spool_state st;

	damaged_spool();
	struct gw_rewind rw = plan(INT32_MIN);
	assert_int_equal(gw_rewind_run(spool, &rw, &res, NULL, 0), 0);
	assert_int_equal(res.readings_aside, 8);
	assert_int_equal(res.batches_back + res.batches_false, 0);
	assert_int_equal(gw_spool_state_read(spool, &st), 0);
	assert_int_equal(st.next_day, d0 + 302);
	assert_int_equal(count("ready", ".gwb"), 4);
	struct seen s = journal_now();
	assert_int_equal(s.late_false, 0);
	assert_int_equal(s.events, 1); /* the false one is set aside */
}

static void write_plan(const char *phase, unsigned long first_seq)
{
	char path[700], t1[40], t2[40];
	snprintf(path, sizeof(path), "%s/rewind", spool);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f, "phase=%s\ngateway=gw-1\nfirst_seq=%lu\nnow=%s\ncut=%s\nto=2026-03-03\nlast=2026-03-03\n",
		phase, first_seq, gw_format_utc(now, t1, sizeof(t1)),
		gw_format_utc(now + DAY, t2, sizeof(t2)));
	fclose(f);
}

static void interrupted_rewind_is_rolled_back_or_finished(void **state)
{
	(void)state;
	struct gw_spool_state st;
	struct gw_journal *j;

	/* cut short while writing the new journal: rolled back */
	damaged_spool();
	int before = count("journal", ".gwj");
	write_plan("writing", 100);
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	struct gw_reading r = rd(now, 5);
	assert_int_equal(gw_journal_append_cycle(j, 0, &r, 1), 0); /* seq >= 100? */
	gw_journal_close(j);
	/* journal_open numbers it above the old ones; make it seq 100 */
	char cmd[900];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s/journal' && f=$(ls -t | head -1) && mv \"$f\" \"${f%%_*_*}_b0_100.gwj\"",
		 spool);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(count("journal", ".gwj"), before + 1);
	assert_int_equal(gw_rewind_recover(spool), 1);
	assert_int_equal(count("journal", ".gwj"), before);
	assert_false(exists("", "rewind"));
	assert_int_equal(gw_spool_state_read(spool, &st), 0);
	assert_int_equal(st.next_day, d0 + 302);
	assert_int_equal(count("quarantine", ".rewound"), 0);
	assert_int_equal(gw_rewind_recover(spool), 0);

	/* cut short after the new journal was complete: finished */
	damaged_spool();
	write_plan("moving", 100);
	assert_int_equal(gw_rewind_recover(spool), 2);
	assert_false(exists("", "rewind"));
	assert_int_equal(gw_spool_state_read(spool, &st), 0);
	assert_int_equal(st.next_day, d0 + 1);
	assert_int_equal(st.seen_ms, now);
	assert_int_equal(count("ready", ".gwb") + count("done", ".gwb"), 1);
	assert_int_equal(count("journal", ".gwj"), 0); /* all below seq 100 */
	/* a plan that is not understood is left for the operator */
	damaged_spool();
	char path[700];
	snprintf(path, sizeof(path), "%s/rewind", spool);
	FILE *f = fopen(path, "w");
	fputs("phase=moving\n", f);
	fclose(f);
	assert_int_equal(gw_rewind_recover(spool), GW_ECORRUPT);
	assert_true(exists("", "rewind"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rewind_seals_the_real_days_again),
		cmocka_unit_test(a_batch_without_its_readings_is_refused),
		cmocka_unit_test(journal_only_rewind_keeps_batches),
		cmocka_unit_test(interrupted_rewind_is_rolled_back_or_finished),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
