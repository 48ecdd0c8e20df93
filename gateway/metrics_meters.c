/* SPDX-License-Identifier: MIT */
/*
 * metrics_meters.c - the meters' families of the metrics (metrics.h),
 * from spool/health: a family at a time, each walking the health text's
 * lines in place (10,000 meters: 7 walks of a 0.8 MB text), each sample
 * composed in one buffer and written at once.
 */
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "metrics.h"
#include "metrics_int.h"
#include "status_keys.h"

/* One line of the health file, its fields in place. */
struct row {
	struct val c[GW_HC_COUNT_];
	int n;
};

/* The next meter's line of the health text at *p into r; 0 at its end. */
static int next_row(const char **p, struct row *r)
{
	while (**p) {
		const char *line = *p, *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		*p = nl ? nl + 1 : end;
		if (line[0] == '#' || end == line)
			continue;
		r->n = 0;
		for (const char *s = line; r->n < GW_HC_COUNT_;) {
			const char *t = memchr(s, '\t', (size_t)(end - s));
			r->c[r->n].s = s;
			r->c[r->n++].len = t ? (size_t)(t - s) : (size_t)(end - s);
			if (!t)
				break;
			s = t + 1;
		}
		size_t hl = strlen(gw_health_cols[GW_HC_METER_ID].name);
		if (r->n > GW_HC_STATE && !(r->c[0].len == hl &&
		    memcmp(r->c[0].s, gw_health_cols[GW_HC_METER_ID].name, hl) == 0))
			return 1; /* a meter, not the header line */
	}
	return 0;
}

/* Appends s (len) to the line buf at *n, escaped when esc is set (a
 * label value); a line that would not fit is cut (never: a sample's
 * parts are bounded far below the line's size). */
static void put(char *buf, size_t *n, size_t cap, const char *s, size_t len,
		int esc)
{
	for (size_t i = 0; i < len && *n + 2 < cap; i++) {
		char c = s[i];
		if (esc && (c == '\\' || c == '"' || c == '\n')) {
			buf[(*n)++] = '\\';
			c = c == '\n' ? 'n' : c;
		}
		buf[(*n)++] = c;
	}
}

/* A meter's sample: name{meter="..",bus=".."[,kind=".."]} v, composed in
 * one buffer and written at once (this is the loop of 10,000 meters). */
static void meter_sample(FILE *f, const char *name, const struct row *r,
			 const char *kind, const char *v)
{
	char line[4 * GW_ID_MAX + 512];
	size_t n = 0;

	put(line, &n, sizeof(line), name, strlen(name), 0);
	put(line, &n, sizeof(line), "{meter=\"", 8, 0);
	put(line, &n, sizeof(line), r->c[GW_HC_METER_ID].s, r->c[GW_HC_METER_ID].len, 1);
	put(line, &n, sizeof(line), "\",bus=\"", 7, 0);
	put(line, &n, sizeof(line), r->c[GW_HC_BUS].s, r->c[GW_HC_BUS].len, 1);
	if (kind) {
		put(line, &n, sizeof(line), "\",kind=\"", 8, 0);
		put(line, &n, sizeof(line), kind, strlen(kind), 0);
	}
	put(line, &n, sizeof(line), "\"} ", 3, 0);
	put(line, &n, sizeof(line), v, strlen(v), 0);
	line[n++] = '\n';
	fwrite(line, 1, n, f);
}

/* What a meter family samples. */
enum meter_what {
	MW_READS,  /* ok + failed */
	MW_COLUMN, /* a column, by conv */
	MW_UP,     /* state online: 1, else 0 */
	MW_FAULTS, /* one sample per kind of fault */
};

static const struct per_meter {
	const char *name, *type;
	enum meter_what what;
	enum gw_health_col col;
	enum conv conv;
	const char *help;
} meter_families[] = {
	{"gatewayd_meter_up", "gauge", MW_UP, GW_HC_STATE, CV_COUNT,
	 "1 while the meter's last read succeeded (state online), 0 while it "
	 "fails, is offline or was not read yet."},
	{"gatewayd_meter_reads_total", "counter", MW_READS, GW_HC_OK, CV_COUNT,
	 "Reads of the meter tried (good and failed) since the workers (re)started."},
	{"gatewayd_meter_read_failures_total", "counter", MW_COLUMN, GW_HC_FAILED,
	 CV_COUNT, "Reads of the meter that failed."},
	{"gatewayd_meter_faults_total", "counter", MW_FAULTS, GW_HC_TIMEOUTS,
	 CV_COUNT, "Faults of the meter's requests by kind (a failed read may "
	 "have several, a good read some after a retry)."},
	{"gatewayd_meter_skipped_total", "counter", MW_COLUMN, GW_HC_SKIPPED,
	 CV_COUNT, "Poll cycles the meter was skipped in while offline (backoff)."},
	{"gatewayd_meter_consecutive_failures", "gauge", MW_COLUMN,
	 GW_HC_FAILED_IN_A_ROW, CV_COUNT, "Failed reads of the meter in a row."},
	{"gatewayd_meter_last_success_timestamp_seconds", "gauge", MW_COLUMN,
	 GW_HC_LAST_OK, CV_TIME,
	 "Gateway time of the meter's last good read; absent before the first."},
};

/* The kinds of fault and their health columns. */
static const struct {
	const char *kind;
	enum gw_health_col col;
} fault_kinds[] = {
	{"timeout", GW_HC_TIMEOUTS},
	{"crc_error", GW_HC_CRC_ERRORS},
	{"exception", GW_HC_EXCEPTIONS},
	{"malformed", GW_HC_MALFORMED},
	{"stale_reply", GW_HC_STALE_REPLIES},
	{"bad_value", GW_HC_BAD_VALUES},
};

/* The samples of family m for one meter's row r. */
static int meter_row(FILE *f, const struct per_meter *m, const struct row *r,
		     int any)
{
	char v[48];

	if (m->what == MW_FAULTS) {
		for (size_t k = 0; k < sizeof(fault_kinds) / sizeof(fault_kinds[0]); k++) {
			enum gw_health_col c = fault_kinds[k].col;
			if ((int)c >= r->n || gw_metrics_convert(r->c[c], CV_COUNT, v, sizeof(v)))
				continue;
			if (!any++)
				gw_metrics_family(f, m->name, m->type, m->help);
			meter_sample(f, m->name, r, fault_kinds[k].kind, v);
		}
		return any;
	}
	if ((int)m->col >= r->n)
		return any;
	if (m->what == MW_UP) {
		struct val s = r->c[GW_HC_STATE];
		snprintf(v, sizeof(v), "%d", s.len == 6 && memcmp(s.s, "online", 6) == 0);
	} else if (m->what == MW_READS) {
		if (!gw_metrics_digits(r->c[GW_HC_OK]) || !gw_metrics_digits(r->c[GW_HC_FAILED]))
			return any;
		snprintf(v, sizeof(v), "%llu",
			 gw_metrics_number(r->c[GW_HC_OK]) + gw_metrics_number(r->c[GW_HC_FAILED]));
	} else if (gw_metrics_convert(r->c[m->col], m->conv, v, sizeof(v))) {
		return any;
	}
	if (!any++)
		gw_metrics_family(f, m->name, m->type, m->help);
	meter_sample(f, m->name, r, NULL, v);
	return any;
}

static void meter_families_render(FILE *f, const char *health)
{
	for (size_t i = 0; i < sizeof(meter_families) / sizeof(meter_families[0]); i++) {
		const char *p = health;
		struct row r;
		int any = 0;
		while (next_row(&p, &r))
			any = meter_row(f, &meter_families[i], &r, any);
	}
}

/* gatewayd_health_timestamp_seconds: the "# updated TIME" line. */
static void health_time(FILE *f, const char *health)
{
	const char *pre = "# updated ";
	char v[48];

	if (strncmp(health, pre, strlen(pre)) != 0)
		return;
	const char *t = health + strlen(pre), *nl = strchr(t, '\n');
	struct val tv = {t, nl ? (size_t)(nl - t) : strlen(t)};
	if (gw_metrics_convert(tv, CV_TIME, v, sizeof(v)))
		return;
	gw_metrics_family(f, "gatewayd_health_timestamp_seconds", "gauge",
	       "Gateway time the meters' health these metrics come from was written.");
	fprintf(f, "gatewayd_health_timestamp_seconds %s\n", v);
}

void gw_metrics_render_meters(FILE *f, const char *health)
{
	health_time(f, health);
	meter_families_render(f, health);
}
