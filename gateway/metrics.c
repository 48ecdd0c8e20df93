/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - renders <spool>/status and <spool>/health as Prometheus
 * metrics (metrics.h), and writes them for node_exporter's textfile
 * collector. The families of the gateway, the spool and the buses are
 * here, those of the meters in metrics_meters.c.
 *
 * Families are written one after the other, each with its HELP and TYPE
 * lines and then all its samples (the format wants a family's samples
 * together), so a family per meter walks the health text once per
 * family, in place: nothing is copied but one line's fields as pointers.
 * Values are copied from the texts as the digits they are, or converted
 * with integer arithmetic (milliseconds to seconds), so that a counter is
 * exactly the count gatewayd wrote. A value that is not a number (a key
 * an older gatewayd did not write, "-" for never) leaves its sample out,
 * and a family without samples is left out whole.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cycle_health.h"
#include "drops.h"
#include "gw.h"
#include "journal.h"
#include "metrics.h"
#include "metrics_int.h"
#include "status_keys.h"

int gw_metrics_escape(FILE *f, const char *s, size_t len)
{
	size_t run = 0;

	for (size_t i = 0; i < len; i++) {
		const char *esc = s[i] == '\\' ? "\\\\" : s[i] == '"' ? "\\\""
				  : s[i] == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		if (fwrite(s + run, 1, i - run, f) != i - run || fputs(esc, f) < 0)
			return -1;
		run = i + 1;
	}
	return fwrite(s + run, 1, len - run, f) == len - run ? 0 : -1;
}

int gw_metrics_digits(struct val v)
{
	if (!v.s || v.len == 0 || v.len > 20)
		return 0;
	for (size_t i = 0; i < v.len; i++)
		if (v.s[i] < '0' || v.s[i] > '9')
			return 0;
	return 1;
}

unsigned long long gw_metrics_number(struct val v)
{
	unsigned long long n = 0;

	for (size_t i = 0; i < v.len; i++)
		n = n * 10 + (unsigned long long)(v.s[i] - '0');
	return n;
}

int gw_metrics_convert(struct val v, enum conv c, char *buf, size_t cap)
{
	char t[48];
	int64_t ms;

	switch (c) {
	case CV_COUNT:
		if (!gw_metrics_digits(v))
			return -1;
		snprintf(buf, cap, "%.*s", (int)v.len, v.s);
		return 0;
	case CV_MS:
	case CV_US: {
		if (!gw_metrics_digits(v))
			return -1;
		unsigned long long n = gw_metrics_number(v), per = c == CV_MS ? 1000 : 1000000;
		snprintf(buf, cap, c == CV_MS ? "%llu.%03llu" : "%llu.%06llu",
			 n / per, n % per);
		return 0;
	}
	case CV_TIME:
		if (!v.s || v.len >= sizeof(t))
			return -1;
		memcpy(t, v.s, v.len);
		t[v.len] = '\0';
		if (gw_parse_utc(t, &ms) || ms < 0)
			return -1;
		snprintf(buf, cap, "%lld.%03lld", (long long)(ms / 1000),
			 (long long)(ms % 1000));
		return 0;
	case CV_FLAG:
		if (v.s && v.len == 3 && memcmp(v.s, "yes", 3) == 0)
			snprintf(buf, cap, "1");
		else if (v.s && v.len == 2 && memcmp(v.s, "no", 2) == 0)
			snprintf(buf, cap, "0");
		else
			return -1;
		return 0;
	}
	return -1;
}

void gw_metrics_family(FILE *f, const char *name, const char *type,
		       const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A sample: name{label="value"} v, with one label or none (label NULL). */
static void sample(FILE *f, const char *name, const char *label, struct val lv,
		   const char *value)
{
	fputs(name, f);
	if (label) {
		fprintf(f, "{%s=\"", label);
		gw_metrics_escape(f, lv.s, lv.len);
		fputs("\"}", f);
	}
	fprintf(f, " %s\n", value);
}

static struct val status_val(const char *st, enum gw_status_key k, const char *sfx)
{
	struct val v = {NULL, 0};

	v.s = gw_status_value(st, k, sfx, &v.len);
	return v;
}

static struct val cstr(const char *s)
{
	return (struct val){s, strlen(s)};
}

/* ---- the gateway's families (one sample each) ---- */

static const struct scalar {
	const char *name, *type;
	enum gw_status_key key;
	enum conv conv;
	const char *help;
} scalars[] = {
	{"gatewayd_config_generation", "gauge", GW_SK_CONFIG_GENERATION, CV_COUNT,
	 "The running configuration: 1 at start, one more per SIGHUP applied."},
	{"gatewayd_status_timestamp_seconds", "gauge", GW_SK_UPDATED, CV_TIME,
	 "Gateway time the status these metrics come from was written."},
	{"gatewayd_poll_interval_seconds", "gauge", GW_SK_POLL_INTERVAL_S, CV_COUNT,
	 "The running poll_interval."},
	{"gatewayd_spool_size_bytes", "gauge", GW_SK_SPOOL_BYTES, CV_COUNT,
	 "Bytes under the spool directory."},
	{"gatewayd_spool_max_bytes", "gauge", GW_SK_SPOOL_MAX_BYTES, CV_COUNT,
	 "The spool's size bound (spool_max); 0 for none."},
	{"gatewayd_spool_refused_batches", "gauge", GW_SK_REFUSED_BATCHES, CV_COUNT,
	 "Batches the database refused, in quarantine now."},
	{"gatewayd_disk_free_bytes", "gauge", GW_SK_DISK_FREE_BYTES, CV_COUNT,
	 "Free bytes of the spool's file system."},
	{"gatewayd_journal_write_failures_total", "counter",
	 GW_SK_JOURNAL_WRITE_FAILURES, CV_COUNT, "Journal appends that failed."},
	{"gatewayd_seal_failures_total", "counter", GW_SK_SEAL_FAILURES_TOTAL,
	 CV_COUNT, "Attempts to seal a day that failed."},
	{"gatewayd_spool_intervals_dropped_total", "counter",
	 GW_SK_INTERVALS_DROPPED, CV_COUNT,
	 "Batches the size bound rewrote without their interval readings."},
	{"gatewayd_spool_deleted_unuploaded_total", "counter",
	 GW_SK_DELETED_UNUPLOADED, CV_COUNT,
	 "Batches the size bound deleted before upload."},
	{"gatewayd_upload_batches_total", "counter", GW_SK_UPLOAD_BATCHES_TOTAL,
	 CV_COUNT, "Batches loaded into the database (or found loaded)."},
	{"gatewayd_upload_rows_total", "counter", GW_SK_UPLOAD_ROWS_TOTAL, CV_COUNT,
	 "Rows (daily registers, interval readings, events) of the batches loaded."},
	{"gatewayd_upload_failures_total", "counter", GW_SK_UPLOAD_FAILURES_TOTAL,
	 CV_COUNT, "Upload passes that failed."},
	{"gatewayd_upload_consecutive_failures", "gauge", GW_SK_UPLOAD_FAILURES,
	 CV_COUNT, "Upload passes failed in a row (5 raise upload_failing)."},
	{"gatewayd_upload_last_success_timestamp_seconds", "gauge",
	 GW_SK_UPLOAD_LAST_OK, CV_TIME,
	 "Gateway time of the last batch loaded; absent before the first."},
	{"gatewayd_upload_stalled_seconds", "gauge", GW_SK_UPLOAD_STALLED_S,
	 CV_COUNT, "Seconds the upload pass has made no progress past stall_after."},
	{"gatewayd_journal_fsync_max_seconds", "gauge", GW_SK_JOURNAL_FSYNC_MAX_US,
	 CV_US, "The longest fsync of a journal append."},
	{"gatewayd_points_written_bytes_total", "counter", GW_SK_POINTS_WRITTEN_BYTES,
	 CV_COUNT, "Bytes of sealed days' readings written to points/."},
	{"gatewayd_points_write_failures_total", "counter", GW_SK_POINTS_WRITE_FAILURES,
	 CV_COUNT, "Writes to points/ that failed (those readings stayed in memory)."},
	{"gatewayd_points_read_failures_total", "counter", GW_SK_POINTS_READ_FAILURES,
	 CV_COUNT, "Records of points/ not read back (gatewayd started over from the journal)."},
};

static void scalar_families(FILE *f, const char *st)
{
	char v[48];

	for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++) {
		const struct scalar *s = &scalars[i];
		if (gw_metrics_convert(status_val(st, s->key, ""), s->conv, v, sizeof(v)))
			continue;
		gw_metrics_family(f, s->name, s->type, s->help);
		sample(f, s->name, NULL, cstr(""), v);
	}
}

/* gatewayd_info and gatewayd_clock_trusted. */
static void info_families(FILE *f, const char *st)
{
	struct val id = status_val(st, GW_SK_GATEWAY, "");
	struct val clock = status_val(st, GW_SK_CLOCK, "");

	if (id.s) {
		gw_metrics_family(f, "gatewayd_info", "gauge",
		       "Always 1; the label gateway is the gateway's id.");
		sample(f, "gatewayd_info", "gateway", id, "1");
	}
	if (clock.s) {
		gw_metrics_family(f, "gatewayd_clock_trusted", "gauge",
		       "1 while the gateway trusts its clock, 0 while it is held (alarm clock_jump).");
		sample(f, "gatewayd_clock_trusted", NULL, cstr(""),
		       clock.len == 7 && memcmp(clock.s, "trusted", 7) == 0 ? "1" : "0");
	}
}

/* A family of samples with one label, from a list of (label value, key). */
struct labelled {
	const char *value;
	enum gw_status_key key;
};

static void labelled_family(FILE *f, const char *st, const char *name,
			    const char *help, const char *label,
			    const struct labelled *l, size_t n)
{
	char v[48];
	int any = 0;

	for (size_t i = 0; i < n; i++) {
		if (gw_metrics_convert(status_val(st, l[i].key, ""), CV_COUNT, v, sizeof(v)))
			continue;
		if (!any++)
			gw_metrics_family(f, name, "gauge", help);
		sample(f, name, label, cstr(l[i].value), v);
	}
}

/* The spool's bytes and batches by state. */
static void spool_families(FILE *f, const char *st)
{
	static const struct labelled bytes[] = {
		{"ready", GW_SK_READY_BYTES},
		{"done", GW_SK_DONE_BYTES},
		{"quarantine", GW_SK_QUARANTINE_BYTES},
		{"journal", GW_SK_JOURNAL_BYTES},
		{"points", GW_SK_POINTS_BYTES},
	};
	static const struct labelled batches[] = {
		{"ready", GW_SK_READY_BATCHES},
		{"done", GW_SK_DONE_BATCHES},
		{"quarantine", GW_SK_QUARANTINE_BATCHES},
	};

	labelled_family(f, st, "gatewayd_spool_state_bytes",
			"Bytes of the spool by state: ready (waiting for upload), "
			"done (uploaded), quarantine (set aside), journal (open days), "
			"points (sealed days' readings, a cache of the journal).",
			"state", bytes, sizeof(bytes) / sizeof(bytes[0]));
	labelled_family(f, st, "gatewayd_spool_batches",
			"Batch files of the spool by state: ready (waiting for upload), "
			"done (uploaded), quarantine (files set aside).",
			"state", batches, sizeof(batches) / sizeof(batches[0]));
}

/* Readings not kept, by reason (drops.h). */
static void drop_family(FILE *f, const char *st)
{
	const char *name = "gatewayd_readings_dropped_total";
	char v[48];
	int any = 0;

	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++) {
		const char *reason = gw_drop_reason_name((enum gw_drop_reason)r);
		if (!reason ||
		    gw_metrics_convert(status_val(st, GW_SK_DROPPED, reason), CV_COUNT, v, sizeof(v)))
			continue;
		if (!any++)
			gw_metrics_family(f, name, "counter",
			       "Readings the gateway did not keep, by reason.");
		sample(f, name, "reason", cstr(reason), v);
	}
}

/* Every alarm gatewayd knows, 0 or 1, and any other one it raised. */
static const char *const alarms[] = {
	"spool_full", "intervals_dropped", "deleted_unuploaded",
	"journal_write_failed", "disk_full", "seal_failed",
	"quarantined_at_start", "batch_refused", "upload_failing",
	"upload_stalled", "meter_unassigned", "clock_jump", "readings_dropped",
	"poll_overrun",
};
#define N_ALARMS (sizeof(alarms) / sizeof(alarms[0]))

/* Whether the alarm list (a,b,c) has name (len n). */
static int listed(struct val list, const char *name, size_t n)
{
	for (size_t i = 0; i < list.len;) {
		const char *c = memchr(list.s + i, ',', list.len - i);
		size_t end = c ? (size_t)(c - list.s) : list.len;
		if (end - i == n && memcmp(list.s + i, name, n) == 0)
			return 1;
		i = end + 1;
	}
	return 0;
}

static void alarm_family(FILE *f, const char *st)
{
	const char *name = "gatewayd_alarm";
	struct val list = status_val(st, GW_SK_ALARM, "");

	if (!list.s)
		return;
	if (list.len == 4 && memcmp(list.s, "none", 4) == 0)
		list.len = 0;
	gw_metrics_family(f, name, "gauge", "1 while the alarm is raised, else 0.");
	for (size_t i = 0; i < N_ALARMS; i++)
		sample(f, name, "alarm", cstr(alarms[i]),
		       listed(list, alarms[i], strlen(alarms[i])) ? "1" : "0");
	/* one this renderer does not know (a newer gatewayd's) */
	for (size_t i = 0; i < list.len;) {
		const char *c = memchr(list.s + i, ',', list.len - i);
		size_t end = c ? (size_t)(c - list.s) : list.len;
		struct val a = {list.s + i, end - i};
		int known = 0;
		for (size_t k = 0; k < N_ALARMS; k++)
			known |= a.len == strlen(alarms[k]) &&
				 memcmp(a.s, alarms[k], a.len) == 0;
		if (!known && a.len)
			sample(f, name, "alarm", a, "1");
		i = end + 1;
	}
}

/* A histogram from cumulative counts of finite buckets (a comma-separated
 * list, in the order of bounds, in the unit of conv), the sum and the
 * count. label/lv: one label on every sample, or none. Returns 0, or -1
 * if the values are not whole (nothing is written). */
struct histo {
	const char *name;
	const int64_t *bounds_ms;   /* one of these two */
	const uint64_t *bounds_us;
	int n;
	struct val le, sum, count;
	enum conv conv;             /* of sum: CV_MS or CV_US */
};

static int histo_ok(const struct histo *h)
{
	int n = 0;

	if (!h->le.s || !gw_metrics_digits(h->sum) || !gw_metrics_digits(h->count))
		return 0;
	for (size_t i = 0; i < h->le.len; i++)
		n += h->le.s[i] == ',';
	return n + 1 == h->n;
}

static void bound_text(const struct histo *h, int i, char *buf, size_t cap)
{
	unsigned long long b = h->bounds_ms ? (unsigned long long)h->bounds_ms[i]
					    : (unsigned long long)h->bounds_us[i];
	unsigned long long per = h->bounds_ms ? 1000 : 1000000;
	int w = h->bounds_ms ? 3 : 6;

	snprintf(buf, cap, "%llu.%0*llu", b / per, w, b % per);
	/* trailing zeros off: 0.5, 1, 2.5 */
	char *e = buf + strlen(buf) - 1;
	while (*e == '0')
		*e-- = '\0';
	if (*e == '.')
		*e = '\0';
}

static void histo_samples(FILE *f, const struct histo *h, const char *label,
			  struct val lv)
{
	char le[32], v[48];
	const char *p = h->le.s, *end = h->le.s + h->le.len;

	for (int i = 0; i < h->n; i++) {
		const char *c = memchr(p, ',', (size_t)(end - p));
		struct val cnt = {p, c ? (size_t)(c - p) : (size_t)(end - p)};
		bound_text(h, i, le, sizeof(le));
		fprintf(f, "%s_bucket{", h->name);
		if (label) {
			fprintf(f, "%s=\"", label);
			gw_metrics_escape(f, lv.s, lv.len);
			fputs("\",", f);
		}
		fprintf(f, "le=\"%s\"} %.*s\n", le, gw_metrics_digits(cnt) ? (int)cnt.len : 1,
			gw_metrics_digits(cnt) ? cnt.s : "0");
		p = c ? c + 1 : end;
	}
	fprintf(f, "%s_bucket{", h->name);
	if (label) {
		fprintf(f, "%s=\"", label);
		gw_metrics_escape(f, lv.s, lv.len);
		fputs("\",", f);
	}
	fprintf(f, "le=\"+Inf\"} %.*s\n", (int)h->count.len, h->count.s);
	gw_metrics_convert(h->sum, h->conv, v, sizeof(v));
	fprintf(f, "%s_sum", h->name);
	if (label) {
		fprintf(f, "{%s=\"", label);
		gw_metrics_escape(f, lv.s, lv.len);
		fputs("\"}", f);
	}
	fprintf(f, " %s\n%s_count", v, h->name);
	if (label) {
		fprintf(f, "{%s=\"", label);
		gw_metrics_escape(f, lv.s, lv.len);
		fputs("\"}", f);
	}
	fprintf(f, " %.*s\n", (int)h->count.len, h->count.s);
}

static void fsync_family(FILE *f, const char *st)
{
	struct histo h = {
		.name = "gatewayd_journal_fsync_seconds",
		.bounds_us = gw_journal_fsync_bounds_us,
		.n = GW_JOURNAL_FSYNC_BUCKETS,
		.le = status_val(st, GW_SK_JOURNAL_FSYNC_LE, ""),
		.sum = status_val(st, GW_SK_JOURNAL_FSYNC_SUM_US, ""),
		.count = status_val(st, GW_SK_JOURNAL_FSYNC_COUNT, ""),
		.conv = CV_US,
	};

	if (!histo_ok(&h))
		return;
	gw_metrics_family(f, h.name, "histogram",
	       "How long the fsync of a journal append took (each poll cycle's "
	       "readings are made durable by one).");
	histo_samples(f, &h, NULL, cstr(""));
}

/* ---- per bus ---- */

/* The next bus of the list poll_buses (a,b,c) into name; 0 at its end. */
static int next_bus(struct val *list, char *name, size_t cap)
{
	while (list->len && *list->s == ',') {
		list->s++;
		list->len--;
	}
	if (!list->len)
		return 0;
	const char *c = memchr(list->s, ',', list->len);
	size_t n = c ? (size_t)(c - list->s) : list->len;
	snprintf(name, cap, "%.*s", (int)n, list->s);
	list->s += n;
	list->len -= n;
	return 1;
}

static const struct per_bus {
	const char *name, *type;
	enum gw_status_key key;
	enum conv conv;
	const char *help;
} bus_families[] = {
	{"gatewayd_bus_cycles_total", "counter", GW_SK_POLL_CYCLES, CV_COUNT,
	 "Whole poll cycles of the bus since its worker (re)started."},
	{"gatewayd_bus_cycles_late_total", "counter", GW_SK_POLL_LATE, CV_COUNT,
	 "Poll cycles that started later than the tolerance after their poll time."},
	{"gatewayd_bus_cycle_overruns_total", "counter", GW_SK_POLL_OVERRUN, CV_COUNT,
	 "Poll cycles that did not end before the next poll time."},
	{"gatewayd_bus_polls_skipped_total", "counter", GW_SK_POLL_SKIPPED, CV_COUNT,
	 "Poll times passed over because a cycle was late or overran."},
	{"gatewayd_bus_behind_in_a_row", "gauge", GW_SK_POLL_BEHIND_IN_ROW, CV_COUNT,
	 "Poll cycles late or overrunning in a row, 0 after one in time."},
	{"gatewayd_bus_last_cycle_duration_seconds", "gauge", GW_SK_POLL_LAST_MS,
	 CV_MS, "The last poll cycle's duration."},
	{"gatewayd_bus_max_cycle_duration_seconds", "gauge", GW_SK_POLL_MAX_MS,
	 CV_MS, "The longest poll cycle's duration."},
	{"gatewayd_bus_poll_overrun", "gauge", GW_SK_POLL_ALARM, CV_FLAG,
	 "1 while the bus raises the alarm poll_overrun."},
};

static void bus_family(FILE *f, const char *st, const struct per_bus *b)
{
	struct val list = status_val(st, GW_SK_POLL_BUSES, "");
	char bus[GW_ID_MAX + 1], v[48];
	int any = 0;

	if (!list.s || (list.len == 1 && *list.s == '-'))
		return;
	while (next_bus(&list, bus, sizeof(bus))) {
		if (gw_metrics_convert(status_val(st, b->key, bus), b->conv, v, sizeof(v)))
			continue;
		if (!any++)
			gw_metrics_family(f, b->name, b->type, b->help);
		sample(f, b->name, "bus", cstr(bus), v);
	}
}

static void bus_histogram(FILE *f, const char *st)
{
	struct val list = status_val(st, GW_SK_POLL_BUSES, "");
	char bus[GW_ID_MAX + 1];
	int any = 0;

	if (!list.s || (list.len == 1 && *list.s == '-'))
		return;
	while (next_bus(&list, bus, sizeof(bus))) {
		struct histo h = {
			.name = "gatewayd_bus_cycle_duration_seconds",
			.bounds_ms = gw_cycle_dur_bounds_ms,
			.n = GW_CYCLE_DUR_BUCKETS,
			.le = status_val(st, GW_SK_POLL_DURATION_LE, bus),
			.sum = status_val(st, GW_SK_POLL_DURATION_SUM_MS, bus),
			.count = status_val(st, GW_SK_POLL_CYCLES, bus),
			.conv = CV_MS,
		};
		if (!histo_ok(&h))
			continue;
		if (!any++)
			gw_metrics_family(f, h.name, "histogram",
			       "Durations of the bus's whole poll cycles since its "
			       "worker (re)started.");
		histo_samples(f, &h, "bus", cstr(bus));
	}
}

int gw_metrics_render(FILE *f, const char *status, const char *health)
{
	const char *st = status ? status : "";

	info_families(f, st);
	scalar_families(f, st);
	spool_families(f, st);
	drop_family(f, st);
	alarm_family(f, st);
	fsync_family(f, st);
	for (size_t i = 0; i < sizeof(bus_families) / sizeof(bus_families[0]); i++)
		bus_family(f, st, &bus_families[i]);
	bus_histogram(f, st);
	if (health && *health)
		gw_metrics_render_meters(f, health);
	/* an empty text would not end in a newline */
	if (!*st && !(health && *health))
		fputs("# no status yet\n", f);
	if (ferror(f))
		return GW_EIO;
	return 0;
}

int gw_metrics_write_file(const char *path, const char *status,
			  const char *health)
{
	char tmp[GW_PATH_MAX + 8];
	int fd, err;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)) {
		errno = ENAMETOOLONG;
		return GW_EIO;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return GW_EIO;
	FILE *f = fdopen(fd, "w");
	/* 9 MB at 10,000 meters: in 64 KiB writes, not 4 KiB ones */
	if (f)
		setvbuf(f, NULL, _IOFBF, 1 << 16);
	if (!f || fchmod(fd, 0644) != 0) {
		err = errno;
		if (f)
			fclose(f);
		else
			close(fd);
		goto fail;
	}
	int rc = gw_metrics_render(f, status, health);
	err = errno;
	if (fclose(f) != 0 && rc == 0) {
		rc = GW_EIO;
		err = errno;
	}
	if (rc == 0 && rename(tmp, path) == 0)
		return 0;
	if (rc == 0)
		err = errno;
fail:
	unlink(tmp);
	errno = err;
	return GW_EIO;
}
