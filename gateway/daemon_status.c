/* SPDX-License-Identifier: MIT */
/*
 * daemon_status.c - the files a field engineer and gwctl status read:
 * <spool>/status (spool usage, the size bound, alarms, uploads, the
 * clock's trust, readings dropped, the disk) and <spool>/health (one line
 * per meter: its state and fault counters). Both are rewritten whole, in
 * place on a full disk: the status made first (its size goes with the
 * buses), the health streamed into its file line by line as it is made
 * (gw_spool_status_make; its size goes with the meters). Their keys and
 * columns are defined once, in status_keys.c, which gwctl reads them by.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon_ctx.h"
#include "drops.h"
#include "status_keys.h"
#include "tz.h"

/* A bus's poll cycles falling behind or catching up rewrite the status at
 * most this often (real time): on an accelerated clock a bus behind may
 * end a cycle many times a second. */
#define CYCLE_STATUS_PERIOD_US 1000000LL

/* Passes failed in a row that raise the upload_failing alarm: with the
 * backoff (1, 2, 4, 8 s ... at most retry_max) a database away for a few
 * seconds, a restart or a failover, does not raise it. */
#define UPLOAD_ALARM_FAILURES 5

/* The status lines of the clock's trust and of the readings not kept. */
static void clock_status(const struct clocktrust *ct, const struct gw_clock *clk,
			 struct gw_status_text *t)
{
	int64_t now = gw_clock_now_ms(clk), mono = gw_clock_mono_ms(clk);
	char seal[40], d[512];

	gw_clockcheck_describe(&ct->cc, now, mono, d, sizeof(d));
	gw_status_put(t, GW_SK_CLOCK, "%s", gw_clock_trust_name(ct->cc.trust));
	gw_status_put(t, GW_SK_CLOCK_WITNESS, "%s", gw_clock_witness_name(ct->cc.by));
	gw_status_put(t, GW_SK_CLOCK_DETAIL, "%s", d);
	gw_status_put(t, GW_SK_CLOCK_SEAL_TIME, "%s",
		      gw_format_utc(gw_clockcheck_seal_ms(&ct->cc, now, mono),
				    seal, sizeof(seal)));
	gw_status_put(t, GW_SK_CLOCK_WITHHELD, "%llu",
		      ct->withheld + ct->withheld_events);
	gw_status_put(t, GW_SK_CLOCK_HOLDS, "%u", ct->cc.holds);
	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++)
		gw_status_put_drop(t, (enum gw_drop_reason)r,
				   (unsigned long long)gw_drops_get((enum gw_drop_reason)r));
}

/* The errno saying the spool's disk is full, or 0: a write that failed
 * for want of space (a batch, the journal, the status file), or no free
 * block left. *free_bytes gets the bytes free (for an unprivileged user). */
static int disk_full_errno(struct gw_daemon *d, unsigned long long *free_bytes)
{
	struct durable *du = &d->du;
	uint64_t f = gw_spool_disk_free(d->cfg->spool_dir);
	int e;

	*free_bytes = f == UINT64_MAX ? 0 : (unsigned long long)f;
	if (gw_daemon_nospace(du->retry.err))
		return du->retry.err;
	if (gw_daemon_nospace(e = gw_journal_last_errno(du->journal)))
		return e;
	if (gw_daemon_nospace(du->status_err))
		return du->status_err;
	return f == 0 ? ENOSPC : 0;
}

/* The alarms of this part: disk_full, seal_failed. */
static void disk_alarms(struct gw_daemon *d, char *alarm, size_t cap)
{
	unsigned long long free_bytes;

	if (disk_full_errno(d, &free_bytes) && strlen(alarm) + 11 < cap)
		strcat(alarm, ",disk_full");
	if (d->du.retry.failures && strlen(alarm) + 13 < cap)
		strcat(alarm, ",seal_failed");
}

/* journal_write_failed: the journal fails now, or failed for a day not
 * sealed yet (those readings are in memory only until it is). */
static int journal_alarm(struct durable *du, int32_t oldest_open)
{
	int32_t d = gw_journal_failed_day(du->journal);

	return gw_journal_last_errno(du->journal) != 0 ||
	       (d != INT32_MIN && (oldest_open == INT32_MIN || d >= oldest_open));
}

/* The disk's status lines. */
static void disk_status_lines(struct gw_daemon *d, struct gw_status_text *t)
{
	struct durable *du = &d->du;
	unsigned long long free_bytes;
	int full = disk_full_errno(d, &free_bytes);
	int err = full ? full : du->retry.err;
	int64_t wait = du->retry.failures ? du->retry.next_us - gw_daemon_mono_us() : 0;

	gw_status_put(t, GW_SK_DISK_FREE_BYTES, "%llu", free_bytes);
	gw_status_put(t, GW_SK_DISK_ERROR, "%s", err ? strerror(err) : "-");
	gw_status_put(t, GW_SK_SEAL_FAILURES, "%u", du->retry.failures);
	gw_status_put(t, GW_SK_SEAL_FAILURES_TOTAL, "%lu", du->retry.failed);
	gw_status_put(t, GW_SK_SEAL_NEXT_TRY_S, "%lld",
		      (long long)(wait > 0 ? (wait + 999999) / 1000000 : 0));
}

/* A status file that cannot be written at all (rc < 0, errno set) is
 * said at growing intervals (rl: the status file's or the health file's),
 * the first write after once. */
static void file_written(int rc, const char *what, struct gw_logrl *rl)
{
	int err = errno;
	unsigned long quiet = 0, n;

	if (rc >= 0 && (n = gw_logrl_ok(rl)))
		gw_info("spool: the %s file is written again after %lu failure%s",
			what, n, n == 1 ? "" : "s");
	if (rc < 0 && gw_logrl_fail(rl, &quiet))
		gw_warn("spool: cannot write the %s file (%s); it is out of date "
			"(%lu failures in a row, %lu not logged since the last)",
			what, strerror(err), gw_logrl_count(rl), quiet);
	errno = err;
}

/* Notes how a status write went (gw_spool_status_write's return). */
static void status_written(struct durable *du, int rc, const char *what)
{
	int err = errno;

	file_written(rc, what, &du->status_rl);
	if (rc == 0) {
		du->status_err = 0;
		return;
	}
	if (rc > 0 && !du->status_err)
		gw_warn("spool: cannot replace the %s file (%s); rewriting it in "
			"place until space is freed", what, strerror(err));
	du->status_err = err ? err : EIO;
}


/* What the upload thread last told (under its lock). */
struct upload_view {
	unsigned failures;
	int last_rc;
	char ok_t[40];      /* the last batch loaded, or "-" */
	int64_t stalled_s;  /* 0 unless stalled beyond stall_after */
	char unassigned[GW_UNASSIGNED_MAX];
};

static void upload_view(struct gw_daemon *d, struct upload_view *v)
{
	struct uploader_thread *up = &d->up;
	int64_t ok_ms;

	memset(v, 0, sizeof(*v));
	pthread_mutex_lock(&up->lock);
	v->failures = up->failures;
	v->last_rc = up->last_rc;
	ok_ms = up->last_ok_ms;
	/* A pass that has neither begun nor finished a batch for [database]
	 * stall_after is stalled (a lock, a dead link that TCP has not
	 * noticed, a server that does not answer). */
	if (up->pass_start_us) {
		int64_t since = up->pass_start_us;
		int64_t p = up->client ? gw_uploader_progress_us(up->client) : 0;
		if (p > since)
			since = p;
		v->stalled_s = (gw_real_now_us() - since) / 1000000;
		if (v->stalled_s < d->cfg->db_stall_after_s)
			v->stalled_s = 0;
	}
	gw_strlcpy(v->unassigned, up->unassigned, sizeof(v->unassigned));
	pthread_mutex_unlock(&up->lock);
	if (ok_ms)
		gw_format_utc(ok_ms, v->ok_t, sizeof(v->ok_t));
	else
		gw_strlcpy(v->ok_t, "-", sizeof(v->ok_t));
}

/* Every bus's poll cycles now (cycle_health.h), one snapshot for the
 * alarm and the lines: NULL without a scheduler or memory. *meters gets
 * each bus's number of meters (a bus without any has no worker). Free
 * both with free(). */
static struct gw_cycle_health *poll_snapshot(struct gw_daemon *d, int **meters)
{
	const struct gw_config *cfg = d->cfg;
	struct gw_cycle_health *h = calloc((size_t)cfg->n_buses + 1, sizeof(*h));

	*meters = calloc((size_t)cfg->n_buses + 1, sizeof(**meters));
	if (!h || !*meters || !d->sched) {
		free(h);
		free(*meters);
		*meters = NULL;
		return NULL;
	}
	for (int m = 0; m < cfg->n_meters; m++)
		(*meters)[cfg->meters[m].bus]++;
	d->cycle_changes = gw_sched_cycle_health(d->sched, -1, NULL);
	for (int b = 0; b < cfg->n_buses; b++)
		gw_sched_cycle_health(d->sched, b, &h[b]);
	return h;
}

/* Whether any bus raises poll_overrun. */
static int poll_alarm(const struct gw_config *cfg, const struct gw_cycle_health *h)
{
	for (int b = 0; h && b < cfg->n_buses; b++)
		if (h[b].alarm)
			return 1;
	return 0;
}

/* The poll cycles' lines: the interval, the tolerance of a start, the
 * buses polled and, per bus, its cycles late and overrunning, the poll
 * times skipped, the durations and its alarm. */
static void poll_lines(struct gw_daemon *d, const struct gw_cycle_health *h,
		       const int *meters, struct gw_status_text *t)
{
	const struct gw_config *cfg = d->cfg;
	const struct gw_clock *clk = &cfg->clock;
	int64_t poll = (int64_t)cfg->poll_interval_s * 1000;
	size_t cap = (size_t)cfg->n_buses * GW_ID_MAX + 2, len = 0;
	char *list = malloc(cap);

	gw_status_put(t, GW_SK_POLL_INTERVAL_S, "%d", cfg->poll_interval_s);
	gw_status_put(t, GW_SK_POLL_LATE_TOLERANCE_MS, "%lld",
		      (long long)gw_cycle_tolerance_ms(poll, clk->simulated ? clk->speed : 1));
	if (!list || !h) {
		free(list);
		return;
	}
	list[0] = '\0';
	for (int b = 0; b < cfg->n_buses; b++)
		if (meters[b])
			len += (size_t)snprintf(list + len, cap - len, "%s%s",
						len ? "," : "", cfg->buses[b].name);
	gw_status_put(t, GW_SK_POLL_BUSES, "%s", len ? list : "-");
	for (int b = 0; b < cfg->n_buses; b++)
		if (meters[b])
			gw_cycle_status_put(t, cfg->buses[b].name, &h[b]);
	free(list);
}

int gw_daemon_cycles_changed(struct gw_daemon *d, int64_t real_us)
{
	if (!d->sched || real_us < d->timers.cycles ||
	    gw_sched_cycle_health(d->sched, -1, NULL) == d->cycle_changes)
		return 0;
	d->timers.cycles = real_us + CYCLE_STATUS_PERIOD_US;
	return 1;
}

/* The alarms raised now, comma-separated after a leading comma. */
static void status_alarms(struct gw_daemon *d, const struct gw_spool_usage *u,
			  const struct upload_view *v, const struct gw_cycle_health *ph,
			  char *alarm, size_t cap)
{
	struct durable *du = &d->du;

	if (du->full)
		strcat(alarm, ",spool_full");
	if (du->intervals_dropped)
		strcat(alarm, ",intervals_dropped");
	if (du->deleted_unuploaded)
		strcat(alarm, ",deleted_unuploaded");
	if (journal_alarm(du, gw_batcher_oldest_open_day(d->bat)))
		strcat(alarm, ",journal_write_failed");
	disk_alarms(d, alarm, cap);
	if (du->recovery.quarantined || du->replay.quarantined)
		strcat(alarm, ",quarantined_at_start");
	if (u->n_refused)
		strcat(alarm, ",batch_refused");
	if (v->failures >= UPLOAD_ALARM_FAILURES)
		strcat(alarm, ",upload_failing");
	if (v->stalled_s)
		strcat(alarm, ",upload_stalled");
	if (v->unassigned[0])
		strcat(alarm, ",meter_unassigned");
	if (d->ct.cc.trust != GW_CLOCK_TRUSTED)
		strcat(alarm, ",clock_jump");
	if (gw_drops_total())
		strcat(alarm, ",readings_dropped");
	if (poll_alarm(d->cfg, ph) && strlen(alarm) + 14 < cap)
		strcat(alarm, ",poll_overrun");
}

/* The registers back from a silence beyond the revision window. */
static void long_gaps_text(struct gw_daemon *d, char *buf, size_t cap)
{
	struct gw_long_gaps gaps;

	gw_batcher_long_gaps(d->bat, &gaps);
	if (gaps.count)
		snprintf(buf, cap, "%llu, %lld Wh not placed on days%s; last: %s",
			 (unsigned long long)gaps.count, (long long)gaps.wh,
			 gaps.unknown ? " (and some unknown)" : "", gaps.last);
	else
		snprintf(buf, cap, "0");
}

/* The spool's lines: usage, the bound, what start-up and the bound did. */
static void spool_lines(struct gw_daemon *d, const struct gw_spool_usage *u,
			struct gw_status_text *t)
{
	struct durable *du = &d->du;
	int32_t next = gw_batcher_oldest_open_day(d->bat);
	char day[16];

	gw_status_put(t, GW_SK_SPOOL_BYTES, "%llu", (unsigned long long)u->total);
	gw_status_put(t, GW_SK_SPOOL_MAX_BYTES, "%llu",
		      (unsigned long long)du->bound.max_bytes);
	gw_status_put(t, GW_SK_SPOOL_FULL_POLICY, "%s",
		      du->bound.policy == GW_SPOOL_KEEP ? "keep" : "drop-intervals");
	gw_status_put(t, GW_SK_ALLOW_DELETE_UNUPLOADED, "%s",
		      du->bound.allow_delete_unuploaded ? "yes" : "no");
	gw_status_put(t, GW_SK_READY_BATCHES, "%u", u->n_ready);
	gw_status_put(t, GW_SK_READY_BYTES, "%llu", (unsigned long long)u->ready);
	gw_status_put(t, GW_SK_DONE_BYTES, "%llu", (unsigned long long)u->done);
	gw_status_put(t, GW_SK_JOURNAL_BYTES, "%llu", (unsigned long long)u->journal);
	gw_status_put(t, GW_SK_NEXT_DAY, "%s",
		      next == INT32_MIN ? "-" : gw_day_format(next, day, sizeof(day)));
	gw_status_put(t, GW_SK_QUARANTINED_AT_START, "%u",
		      du->recovery.quarantined + du->replay.quarantined);
	gw_status_put(t, GW_SK_JOURNAL_TORN_AT_START, "%u", du->replay.torn);
	gw_status_put(t, GW_SK_JOURNAL_WRITE_FAILURES, "%lu",
		      gw_journal_failures(du->journal));
	gw_status_put(t, GW_SK_INTERVALS_DROPPED, "%llu", du->intervals_dropped);
	gw_status_put(t, GW_SK_DELETED_UNUPLOADED, "%llu", du->deleted_unuploaded);
	gw_status_put(t, GW_SK_DONE_EMPTIED, "%llu", du->done_pruned);
	gw_status_put(t, GW_SK_REFUSED_BATCHES, "%u", u->n_refused);
}

void gw_daemon_points_stats(const struct gw_daemon *d, struct gw_spill_stats *out)
{
	struct gw_spill_stats now = {0};

	if (d->bat)
		gw_batcher_spill_stats(d->bat, &now);
	out->files = d->points_before.files + now.files;
	out->writes = d->points_before.writes + now.writes;
	out->bytes = d->points_before.bytes + now.bytes;
	out->write_failed = d->points_before.write_failed + now.write_failed;
	out->read_failed = d->points_before.read_failed + now.read_failed;
	out->reads = d->points_before.reads + now.reads;
	out->bytes_read = d->points_before.bytes_read + now.bytes_read;
}

/* The sealed days' points on disk (gw_batcher_set_spill): their bytes now,
 * what was written and what failed since start. */
static void points_lines(const struct gw_daemon *d, const struct gw_spool_usage *u,
			 struct gw_status_text *t)
{
	struct gw_spill_stats st;

	gw_daemon_points_stats(d, &st);
	gw_status_put(t, GW_SK_POINTS_BYTES, "%llu", (unsigned long long)u->points);
	gw_status_put(t, GW_SK_POINTS_WRITTEN_BYTES, "%llu", (unsigned long long)st.bytes);
	gw_status_put(t, GW_SK_POINTS_WRITE_FAILURES, "%llu",
		      (unsigned long long)st.write_failed);
	gw_status_put(t, GW_SK_POINTS_READ_FAILURES, "%llu",
		      (unsigned long long)st.read_failed);
}

/* The upload thread's lines. */
static void upload_lines(const struct upload_view *v, struct gw_status_text *t)
{
	gw_status_put(t, GW_SK_UPLOAD_LAST_OK, "%s", v->ok_t);
	gw_status_put(t, GW_SK_UPLOAD_FAILURES, "%u", v->failures);
	gw_status_put(t, GW_SK_UPLOAD_LAST_ERROR, "%s",
		      v->failures ? gw_strerror(v->last_rc) : "-");
	gw_status_put(t, GW_SK_UPLOAD_STALLED_S, "%lld", (long long)v->stalled_s);
	gw_status_put(t, GW_SK_METERS_UNASSIGNED, "%s",
		      v->unassigned[0] ? v->unassigned : "-");
}

void gw_daemon_write_status(struct gw_daemon *d)
{
	const struct gw_config *cfg = d->cfg;
	struct durable *du = &d->du;
	struct gw_spool_usage u;
	struct upload_view v;
	char tm[40], alarm[512] = "", gaps_text[256];
	/* room for the lines of every bus (poll_lines) */
	size_t cap = 8192 + (size_t)cfg->n_buses * 10 * (GW_ID_MAX + 48) +
		     (size_t)cfg->n_buses * 2 * (GW_ID_MAX + 280);
	char *text = malloc(cap);
	struct gw_status_text t = {.buf = text, .cap = cap};
	unsigned long jf = gw_journal_failures(du->journal);
	int *meters;
	struct gw_cycle_health *ph = poll_snapshot(d, &meters);

	if (!text) {
		free(ph);
		free(meters);
		gw_err("spool: out of memory; the status file is out of date");
		return;
	}
	text[0] = '\0';
	upload_view(d, &v);
	long_gaps_text(d, gaps_text, sizeof(gaps_text));
	gw_spool_usage(cfg->spool_dir, &u);
	status_alarms(d, &u, &v, ph, alarm, sizeof(alarm));
	gw_status_put(&t, GW_SK_GATEWAY, "%s", cfg->gateway_id);
	gw_status_put(&t, GW_SK_UPDATED, "%s",
		      gw_format_utc(gw_clock_now_ms(&cfg->clock), tm, sizeof(tm)));
	gw_status_put(&t, GW_SK_ALARM, "%s", alarm[0] ? alarm + 1 : "none");
	gw_status_put(&t, GW_SK_CONFIG_GENERATION, "%lu", d->generation);
	spool_lines(d, &u, &t);
	points_lines(d, &u, &t);
	upload_lines(&v, &t);
	gw_status_put(&t, GW_SK_LONG_GAPS, "%s", gaps_text);
	clock_status(&d->ct, &cfg->clock, &t);
	disk_status_lines(d, &t);
	poll_lines(d, ph, meters, &t);
	gw_daemon_metrics_status_lines(d, &u, &t);
	status_written(du, gw_spool_status_write(cfg->spool_dir, "status", text),
		       "status");
	gw_daemon_watch_status(d, alarm[0] ? alarm + 1 : "none", u.n_ready);
	free(text);
	free(ph);
	free(meters);
	du->failures = jf;
	gw_daemon_write_metrics(d);
}

/* The health text: the time, the header line, then one line per meter
 * with its state and fault counters, each meter's taken when its line is
 * made (gw_spool_status_make). */
static void health_make(void *ctx, struct gw_status_out *o)
{
	struct gw_daemon *d = ctx;
	const struct gw_config *cfg = d->cfg;
	/* a line is at most two ids, 14 numbers of 10 digits, an error's
	 * name and a time: far below its buffer */
	char hdr[GW_HC_COUNT_ * 32], t[40], line[4 * GW_ID_MAX + 512];

	gw_status_out_printf(o, "# updated %s\n",
			     gw_format_utc(gw_clock_now_ms(&cfg->clock), t, sizeof(t)));
	int n = gw_health_header(hdr, sizeof(hdr));
	if (n > 0 && (size_t)n < sizeof(hdr))
		gw_status_out_write(o, hdr, (size_t)n);
	for (int m = 0; m < cfg->n_meters; m++) {
		struct gw_meter_health h;
		gw_sched_health(d->sched, m, &h);
		n = gw_health_format(&h, cfg->meters[m].id,
				     cfg->buses[cfg->meters[m].bus].name, line, sizeof(line));
		if (n > 0 && (size_t)n < sizeof(line))
			gw_status_out_write(o, line, (size_t)n);
	}
}

/* Writes <spool>/health, read by `gwctl status`: streamed into the file
 * as it is made, never held whole (about 85 bytes a meter). */
void gw_daemon_write_health(struct gw_daemon *d)
{
	file_written(gw_spool_status_make(d->cfg->spool_dir, "health", health_make, d),
		     "health", &d->du.health_rl);
	gw_daemon_write_metrics(d);
}
