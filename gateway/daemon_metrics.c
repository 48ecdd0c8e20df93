/* SPDX-License-Identifier: MIT */
/*
 * daemon_metrics.c - the metrics file for node_exporter ([metrics]
 * textfile; metrics.h), and the status lines only the metrics need (the
 * spool's files by state, the uploads and the journal's fsyncs since
 * start).
 *
 * The metrics file is rendered from <spool>/status and <spool>/health as
 * written, read back from the spool, the way `gwctl metrics` reads them:
 * the two outputs cannot differ. It is rewritten after either file is,
 * and after every poll cycle of a bus (at most once a second of real
 * time: a simulated clock may run cycles many times faster), when the
 * status and health are rewritten first so that every cycle's counts are
 * in it.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_ctx.h"
#include "metrics.h"
#include "status_keys.h"

/* The least real time between two rewrites for poll cycles. */
#define METRICS_PERIOD_US 1000000LL

void gw_daemon_metrics_status_lines(struct gw_daemon *d,
				    const struct gw_spool_usage *u,
				    struct gw_status_text *t)
{
	struct uploader_thread *up = &d->up;
	unsigned long long batches, rows, failed;
	struct gw_journal_fsync fs;
	char le[GW_JOURNAL_FSYNC_BUCKETS * 21 + 1];
	size_t len = 0;
	unsigned long sum = 0;

	pthread_mutex_lock(&up->lock);
	batches = up->batches_total;
	rows = up->rows_total;
	failed = up->failed_total;
	pthread_mutex_unlock(&up->lock);
	gw_status_put(t, GW_SK_DONE_BATCHES, "%u", u->n_done);
	gw_status_put(t, GW_SK_QUARANTINE_BATCHES, "%u", u->n_quarantine);
	gw_status_put(t, GW_SK_QUARANTINE_BYTES, "%llu",
		      (unsigned long long)u->quarantine);
	gw_status_put(t, GW_SK_UPLOAD_BATCHES_TOTAL, "%llu", batches);
	gw_status_put(t, GW_SK_UPLOAD_ROWS_TOTAL, "%llu", rows);
	gw_status_put(t, GW_SK_UPLOAD_FAILURES_TOTAL, "%llu", failed);
	gw_journal_fsync_stats(d->du.journal, &fs);
	for (int b = 0; b < GW_JOURNAL_FSYNC_BUCKETS; b++) {
		sum += fs.bucket[b];
		len += (size_t)snprintf(le + len, sizeof(le) - len, "%s%lu",
					b ? "," : "", sum);
	}
	gw_status_put(t, GW_SK_JOURNAL_FSYNC_COUNT, "%lu", fs.count);
	gw_status_put(t, GW_SK_JOURNAL_FSYNC_SUM_US, "%llu",
		      (unsigned long long)fs.sum_us);
	gw_status_put(t, GW_SK_JOURNAL_FSYNC_MAX_US, "%llu",
		      (unsigned long long)fs.max_us);
	gw_status_put(t, GW_SK_JOURNAL_FSYNC_LE, "%s", le);
}

void gw_daemon_write_metrics(struct gw_daemon *d)
{
	const struct gw_config *cfg = d->cfg;
	char *st = NULL, *h = NULL;

	if (!cfg->metrics_textfile[0] || d->metrics_hold)
		return;
	/* Written by this thread: never met half rewritten. A health file
	 * that cannot be read leaves the meters out, not the rest. */
	int rc = gw_spool_status_read(cfg->spool_dir, "status", &st);
	if (rc == 0) {
		if (gw_spool_status_read(cfg->spool_dir, "health", &h))
			h = NULL;
		rc = gw_metrics_write_file(cfg->metrics_textfile, st, h);
	}
	int err = rc ? (errno ? errno : EIO) : 0;
	if (rc && err != d->metrics_err)
		gw_warn("metrics: cannot write %s (%s); it is out of date",
			cfg->metrics_textfile,
			rc == GW_EIO ? strerror(err) : gw_strerror(rc));
	else if (!rc && d->metrics_err)
		gw_info("metrics: %s written again", cfg->metrics_textfile);
	d->metrics_err = rc ? err : 0;
	free(st);
	free(h);
}

/* Whole poll cycles of every bus so far. */
static unsigned long cycles_now(struct gw_daemon *d)
{
	unsigned long n = 0;

	for (int b = 0; b < d->cfg->n_buses; b++) {
		struct gw_cycle_health h;
		gw_sched_cycle_health(d->sched, b, &h);
		n += h.cycles;
	}
	return n;
}

void gw_daemon_metrics_turn(struct gw_daemon *d, int64_t real_us)
{
	if (!d->cfg->metrics_textfile[0] || !d->sched ||
	    real_us < d->metrics_next_us)
		return;
	unsigned long n = cycles_now(d);
	if (n == d->metrics_cycles)
		return;
	d->metrics_cycles = n;
	d->metrics_next_us = real_us + METRICS_PERIOD_US;
	d->metrics_hold = 1;
	gw_daemon_write_status(d);
	gw_daemon_write_health(d);
	d->metrics_hold = 0;
	gw_daemon_write_metrics(d);
}
