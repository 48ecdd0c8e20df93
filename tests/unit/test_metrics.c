/* SPDX-License-Identifier: MIT */
/*
 * test_metrics.c - the Prometheus text gatewayd and gwctl render from
 * spool/status and spool/health (gateway/metrics.c): label values escaped
 * (a meter id with a quote and a backslash), HELP and TYPE once before
 * each family's samples, samples of a family together, counters that
 * only grow from one render to the next as the scheduler's accounting
 * and the poll cycles' accounting go on, histograms whose buckets add up,
 * a status of an older gatewayd (families left out, still valid), and
 * the file for node_exporter (mode 0644 under any umask, no tmp file
 * left, an unwritable directory an error).
 */
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

#include "cycle_health.h"
#include "driver.h"
#include "gw.h"
#include "metrics.h"
#include "scheduler.h"
#include "status_keys.h"

/* The text rendered from status and health (free()). */
static char *render(const char *status, const char *health)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	assert_non_null(f);
	assert_int_equal(gw_metrics_render(f, status, health), 0);
	assert_int_equal(fclose(f), 0);
	return buf;
}

/* The value of the sample whose line starts with `series ` in text, or
 * -1 if there is none. */
static double value_of(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
		if (strncmp(l, series, n) == 0 && l[n] == ' ')
			return strtod(l + n + 1, NULL);
	return -1;
}

/* The world the texts come from: two meters (one with a quote and a
 * backslash in its id, one failing), one bus. */
struct world {
	struct gw_meter_health m[2];
	struct gw_cycle_health bus;
	int64_t now_ms;
	unsigned long uploads, rows, fsyncs;
};

static void step(struct world *w, int fail_second)
{
	struct gw_read_faults f = {.requests = 1, .timeouts = 1, .crc_errors = 1};
	struct gw_cycle_times t = {.late_ms = 10, .dur_ms = 1800, .interval_ms = 60000,
				   .tolerance_ms = 6000};

	w->now_ms += 60000;
	gw_health_account(&w->m[0], 3, NULL, 3, 8);
	w->m[0].last_ok_ms = w->now_ms;
	if (gw_health_due(&w->m[1])) {
		int rc = fail_second ? GW_ETIMEDOUT : 3;
		gw_health_account(&w->m[1], rc, fail_second ? &f : NULL, 3, 8);
		if (rc >= 0)
			w->m[1].last_ok_ms = w->now_ms;
	}
	gw_cycle_account(&w->bus, &t, NULL);
	w->uploads += 1;
	w->rows += 130;
	w->fsyncs += 2;
}

/* The status and health texts of w, as gatewayd writes them. */
static void texts(const struct world *w, char *st, size_t scap, char *he, size_t hcap)
{
	struct gw_status_text t = {.buf = st, .cap = scap};
	char tm[40];
	size_t len;

	st[0] = '\0';
	gw_status_put(&t, GW_SK_GATEWAY, "sub-042");
	gw_status_put(&t, GW_SK_UPDATED, "%s", gw_format_utc(w->now_ms, tm, sizeof(tm)));
	gw_status_put(&t, GW_SK_ALARM, "%s", w->m[1].offline ? "upload_failing,new_alarm" : "none");
	gw_status_put(&t, GW_SK_SPOOL_BYTES, "%lu", 1000 + w->rows);
	gw_status_put(&t, GW_SK_READY_BATCHES, "2");
	gw_status_put(&t, GW_SK_READY_BYTES, "700");
	gw_status_put(&t, GW_SK_DONE_BYTES, "%lu", w->rows);
	gw_status_put(&t, GW_SK_JOURNAL_BYTES, "300");
	gw_status_put(&t, GW_SK_UPLOAD_LAST_OK, "%s", w->uploads ? tm : "-");
	gw_status_put(&t, GW_SK_CLOCK, "trusted");
	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++)
		gw_status_put_drop(&t, (enum gw_drop_reason)r, (unsigned long long)r * w->uploads);
	gw_status_put(&t, GW_SK_POLL_INTERVAL_S, "60");
	gw_status_put(&t, GW_SK_POLL_BUSES, "feeder-7");
	gw_cycle_status_put(&t, "feeder-7", &w->bus);
	gw_status_put(&t, GW_SK_DONE_BATCHES, "%lu", w->uploads);
	gw_status_put(&t, GW_SK_QUARANTINE_BATCHES, "0");
	gw_status_put(&t, GW_SK_QUARANTINE_BYTES, "0");
	gw_status_put(&t, GW_SK_UPLOAD_BATCHES_TOTAL, "%lu", w->uploads);
	gw_status_put(&t, GW_SK_UPLOAD_ROWS_TOTAL, "%lu", w->rows);
	gw_status_put(&t, GW_SK_UPLOAD_FAILURES_TOTAL, "0");
	gw_status_put(&t, GW_SK_JOURNAL_FSYNC_COUNT, "%lu", w->fsyncs);
	gw_status_put(&t, GW_SK_JOURNAL_FSYNC_SUM_US, "%lu", w->fsyncs * 1500);
	gw_status_put(&t, GW_SK_JOURNAL_FSYNC_MAX_US, "2500");
	gw_status_put(&t, GW_SK_JOURNAL_FSYNC_LE, "0,%lu,%lu,%lu,%lu,%lu,%lu,%lu",
		      w->fsyncs, w->fsyncs, w->fsyncs, w->fsyncs, w->fsyncs,
		      w->fsyncs, w->fsyncs);
	assert_true(t.len + 1 < scap);

	len = (size_t)snprintf(he, hcap, "# updated %s\n", tm);
	len += (size_t)gw_health_header(he + len, hcap - len);
	len += (size_t)gw_health_format(&w->m[0], "we\"ird\\id", "feeder-7", he + len, hcap - len);
	len += (size_t)gw_health_format(&w->m[1], "m-2", "feeder-7", he + len, hcap - len);
	assert_true(len + 1 < hcap);
}

static void escapes_label_values(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	const char in[] = "a\\b\"c\nd";

	(void)state;
	assert_int_equal(gw_metrics_escape(f, in, strlen(in)), 0);
	fclose(f);
	assert_string_equal(buf, "a\\\\b\\\"c\\nd");
	free(buf);
}

/* Checks the format: comments are HELP or TYPE (or the note without a
 * status), each family has one HELP and one TYPE line before its first
 * sample and its samples together, every sample's name belongs to the
 * family just declared, the text ends with a newline. Returns the
 * number of samples. */
static int check_format(const char *text)
{
	char fam[128] = "", seen[64][128];
	int n_seen = 0, samples = 0, help = 0, type = 0;

	assert_true(strlen(text) > 0);
	assert_int_equal(text[strlen(text) - 1], '\n');
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		char line[512], name[128];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - l), l);
		l = nl + 1;
		if (sscanf(line, "# HELP %127s", name) == 1) {
			for (int i = 0; i < n_seen; i++)
				if (strcmp(seen[i], name) == 0)
					fail_msg("family %s declared twice", name);
			assert_true(n_seen < 64);
			strcpy(seen[n_seen++], name);
			strcpy(fam, name);
			help = 1;
			type = 0;
			continue;
		}
		if (sscanf(line, "# TYPE %127s", name) == 1) {
			assert_string_equal(name, fam);
			assert_true(help);
			type = 1;
			continue;
		}
		assert_int_not_equal(line[0], '#');
		assert_true(type);
		size_t k = strcspn(line, "{ ");
		snprintf(name, sizeof(name), "%.*s", (int)k, line);
		size_t fl = strlen(fam);
		if (strcmp(name, fam) != 0 &&
		    !(strncmp(name, fam, fl) == 0 &&
		      (strcmp(name + fl, "_bucket") == 0 || strcmp(name + fl, "_sum") == 0 ||
		       strcmp(name + fl, "_count") == 0)))
			fail_msg("sample %s under family %s", name, fam);
		samples++;
	}
	return samples;
}

static void renders_families_with_help_and_type(void **state)
{
	static char st[16384], he[4096];
	struct world w = {.now_ms = INT64_C(1772409600000)};

	(void)state;
	step(&w, 1);
	texts(&w, st, sizeof(st), he, sizeof(he));
	char *out = render(st, he);
	assert_true(check_format(out) > 40);
	/* the quote and the backslash escaped, the label order meter, bus */
	assert_non_null(strstr(out, "gatewayd_meter_reads_total{meter=\"we\\\"ird\\\\id\",bus=\"feeder-7\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_meter_up{meter=\"we\\\"ird\\\\id\",bus=\"feeder-7\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_meter_faults_total{meter=\"m-2\",bus=\"feeder-7\",kind=\"timeout\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_meter_faults_total{meter=\"m-2\",bus=\"feeder-7\",kind=\"crc_error\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_meter_read_failures_total{meter=\"m-2\",bus=\"feeder-7\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_meter_up{meter=\"m-2\",bus=\"feeder-7\"} 0\n"));
	/* a meter never read well has no last success */
	assert_null(strstr(out, "gatewayd_meter_last_success_timestamp_seconds{meter=\"m-2\""));
	assert_non_null(strstr(out, "gatewayd_meter_last_success_timestamp_seconds{meter=\"we\\\"ird\\\\id\",bus=\"feeder-7\"} 1772409660.000\n"));
	assert_non_null(strstr(out, "gatewayd_info{gateway=\"sub-042\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_spool_state_bytes{state=\"journal\"} 300\n"));
	assert_non_null(strstr(out, "gatewayd_spool_batches{state=\"done\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_readings_dropped_total{reason=\"bad_value\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_alarm{alarm=\"upload_failing\"} 0\n"));
	assert_non_null(strstr(out, "gatewayd_bus_last_cycle_duration_seconds{bus=\"feeder-7\"} 1.800\n"));
	assert_non_null(strstr(out, "gatewayd_bus_cycle_duration_seconds_bucket{bus=\"feeder-7\",le=\"1\"} 0\n"));
	assert_non_null(strstr(out, "gatewayd_bus_cycle_duration_seconds_bucket{bus=\"feeder-7\",le=\"2.5\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_bus_cycle_duration_seconds_sum{bus=\"feeder-7\"} 1.800\n"));
	assert_non_null(strstr(out, "gatewayd_journal_fsync_seconds_bucket{le=\"0.005\"} 2\n"));
	assert_non_null(strstr(out, "gatewayd_journal_fsync_seconds_sum 0.003000\n"));
	assert_non_null(strstr(out, "gatewayd_upload_rows_total 130\n"));
	free(out);

	/* offline: the alarm list with one this renderer does not know */
	step(&w, 1);
	step(&w, 1);
	texts(&w, st, sizeof(st), he, sizeof(he));
	out = render(st, he);
	check_format(out);
	assert_non_null(strstr(out, "gatewayd_alarm{alarm=\"upload_failing\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_alarm{alarm=\"new_alarm\"} 1\n"));
	assert_non_null(strstr(out, "gatewayd_alarm{alarm=\"spool_full\"} 0\n"));
	free(out);
}

/* Every sample of a counter family (and a histogram's) in a, and its
 * value in b: never smaller. Returns how many were compared. */
static int compare_counters(const char *a, const char *b)
{
	char fam[128] = "";
	int counter = 0, n = 0;

	for (const char *l = a; *l;) {
		const char *nl = strchr(l, '\n');
		char line[512], t[32];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - l), l);
		l = nl + 1;
		if (sscanf(line, "# TYPE %127s %31s", fam, t) == 2) {
			counter = strcmp(t, "counter") == 0 || strcmp(t, "histogram") == 0;
			continue;
		}
		if (line[0] == '#' || !counter)
			continue;
		char *sp = strrchr(line, ' ');
		*sp = '\0';
		double va = strtod(sp + 1, NULL), vb = value_of(b, line);
		if (vb < va)
			fail_msg("%s went from %g to %g", line, va, vb);
		n++;
	}
	return n;
}

static void counters_never_go_down(void **state)
{
	static char st[16384], he[4096];
	struct world w = {.now_ms = INT64_C(1772409600000)};
	char *prev = NULL;
	int compared = 0;

	(void)state;
	for (int c = 0; c < 40; c++) {
		/* the second meter fails for a while (offline, skipped in
		 * backoff), then answers again */
		step(&w, c >= 5 && c < 25);
		texts(&w, st, sizeof(st), he, sizeof(he));
		char *out = render(st, he);
		check_format(out);
		if (prev)
			compared += compare_counters(prev, out);
		free(prev);
		prev = out;
	}
	assert_true(w.m[1].skipped > 0);
	assert_non_null(strstr(prev, "gatewayd_meter_up{meter=\"m-2\",bus=\"feeder-7\"} 1\n"));
	assert_true(compared > 39 * 20);
	free(prev);
}

/* Cumulative buckets never decrease, and +Inf is the count. */
static void histogram_buckets_add_up(void **state)
{
	static char st[16384], he[4096];
	struct world w = {.now_ms = INT64_C(1772409600000)};

	(void)state;
	for (int c = 0; c < 7; c++)
		step(&w, 0);
	/* longer cycles too */
	struct gw_cycle_times t = {.dur_ms = 700000, .interval_ms = 900000,
				   .tolerance_ms = 90000};
	gw_cycle_account(&w.bus, &t, NULL);
	texts(&w, st, sizeof(st), he, sizeof(he));
	char *out = render(st, he);
	double last = 0;
	int n = 0;
	for (const char *l = strstr(out, "gatewayd_bus_cycle_duration_seconds_bucket");
	     l && strncmp(l, "gatewayd_bus_cycle_duration_seconds_bucket", 42) == 0;
	     l = strchr(l, '\n') + 1) {
		double v = strtod(strchr(strchr(l, '}'), ' ') + 1, NULL);
		assert_true(v >= last);
		last = v;
		n++;
	}
	assert_int_equal(n, GW_CYCLE_DUR_BUCKETS + 1);
	assert_true(last == value_of(out, "gatewayd_bus_cycle_duration_seconds_count{bus=\"feeder-7\"}"));
	assert_true(last == 8);
	assert_true(value_of(out, "gatewayd_bus_cycle_duration_seconds_bucket{bus=\"feeder-7\",le=\"600\"}") == 7);
	assert_true(value_of(out, "gatewayd_bus_cycle_duration_seconds_bucket{bus=\"feeder-7\",le=\"900\"}") == 8);
	free(out);
}

/* A status without the newer keys and no health: what is there, valid;
 * no status at all still ends in a newline. */
static void older_status_and_none(void **state)
{
	const char *old = "gateway=g1\nupdated=2026-03-02T00:00:00.000Z\nalarm=none\n"
			  "spool_bytes=12\nupload_last_ok=-\npoll_buses=-\n";

	(void)state;
	char *out = render(old, NULL);
	check_format(out);
	assert_non_null(strstr(out, "gatewayd_spool_size_bytes 12\n"));
	assert_null(strstr(out, "gatewayd_upload_last_success_timestamp_seconds"));
	assert_null(strstr(out, "gatewayd_upload_rows_total"));
	assert_null(strstr(out, "gatewayd_meter_"));
	assert_null(strstr(out, "gatewayd_bus_"));
	free(out);
	out = render("", "");
	assert_string_equal(out, "# no status yet\n");
	free(out);
}

static void writes_the_file_whole(void **state)
{
	static char st[16384], he[4096];
	struct world w = {.now_ms = INT64_C(1772409600000)};
	char dir[] = "/tmp/test_metrics.XXXXXX", path[128], tmp[140];
	struct stat sb;

	(void)state;
	step(&w, 0);
	texts(&w, st, sizeof(st), he, sizeof(he));
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/gatewayd.prom", dir);
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	mode_t old = umask(077);
	assert_int_equal(gw_metrics_write_file(path, st, he), 0);
	assert_int_equal(gw_metrics_write_file(path, st, he), 0); /* over it */
	umask(old);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0644);
	assert_int_not_equal(access(tmp, F_OK), 0);
	char *want = render(st, he);
	FILE *f = fopen(path, "r");
	char *got = calloc(1, (size_t)sb.st_size + 1);
	assert_int_equal(fread(got, 1, (size_t)sb.st_size, f), (size_t)sb.st_size);
	fclose(f);
	assert_string_equal(got, want);
	free(got);
	free(want);
	/* a directory that is not there: an error, nothing left behind */
	snprintf(path, sizeof(path), "%s/none/gatewayd.prom", dir);
	assert_int_equal(gw_metrics_write_file(path, st, he), GW_EIO);
	snprintf(path, sizeof(path), "%s/gatewayd.prom", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(escapes_label_values),
		cmocka_unit_test(renders_families_with_help_and_type),
		cmocka_unit_test(counters_never_go_down),
		cmocka_unit_test(histogram_buckets_add_up),
		cmocka_unit_test(older_status_and_none),
		cmocka_unit_test(writes_the_file_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
