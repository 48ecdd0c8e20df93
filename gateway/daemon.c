/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - the gateway's main loop and its upload thread; see daemon.h.
 *
 * Threads: one poll worker per bus (scheduler.c), this loop (batching core
 * and spool writes: the batcher is touched by this thread only), and one
 * upload thread that loads ready batches oldest first. A failed upload is
 * retried with exponential backoff and jitter up to [database] retry_max,
 * so a database that is down costs time, never data, and never a busy loop.
 *
 * Durability (docs/spool-format.md): every poll cycle is appended to the
 * journal and fsync'ed by its bus worker before it reaches the batcher
 * (the scheduler's cycle sink). At start the spool is checked (interrupted
 * writes removed, undecodable batches quarantined), the batcher learns
 * which days are sealed already and the journal is replayed into it. After
 * each sealed day the sealed-through state is recorded, journal segments
 * that are no longer needed are removed, and the spool's size bound is
 * enforced; <spool_dir>/status says how full it is and any alarm.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "daemon.h"
#include "edges.h"
#include "journal.h"
#include "scheduler.h"
#include "spool.h"
#include "tz.h"
#include "upload.h"

struct uploader_thread {
	const struct gw_config *cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int kick, stop, started;
	/* For the status file, under lock: */
	unsigned failures;  /* upload passes failed in a row */
	int last_rc;        /* the last failure's GW_E* code */
	int64_t last_ok_ms; /* gateway clock of the last batch loaded; 0 none */
};

/* Passes failed in a row that raise the upload_failing alarm: with the
 * backoff (1, 2, 4, 8 s ... at most retry_max) a database away for a few
 * seconds, a restart or a failover, does not raise it. */
#define UPLOAD_ALARM_FAILURES 5

static void timed_wait(struct uploader_thread *u, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!u->kick && !u->stop) {
		if (pthread_cond_timedwait(&u->cond, &u->lock, &ts) != 0)
			break;
	}
}

static void *uploader_main(void *arg)
{
	struct uploader_thread *u = arg;
	const struct gw_config *cfg = u->cfg;
	struct gw_uploader *up = gw_uploader_new(cfg->db_conninfo);
	int64_t backoff = 0; /* ms; 0 while uploads succeed */
	unsigned failures = 0;
	unsigned seed = (unsigned)gw_real_now_us();

	if (!up) {
		gw_err("upload: out of memory");
		return NULL;
	}
	for (;;) {
		pthread_mutex_lock(&u->lock);
		int64_t wait = backoff ? backoff
				       : (int64_t)cfg->upload_interval_s * 1000;
		if (!u->stop && !(u->kick && !backoff))
			timed_wait(u, wait);
		int stopping = u->stop;
		u->kick = 0;
		pthread_mutex_unlock(&u->lock);

		int rc = gw_upload_spool(up, cfg->spool_dir);
		pthread_mutex_lock(&u->lock);
		if (rc >= 0) {
			u->failures = 0;
			if (rc > 0)
				u->last_ok_ms = gw_clock_now_ms(&cfg->clock);
		} else {
			u->failures = failures + 1;
			u->last_rc = rc;
		}
		pthread_mutex_unlock(&u->lock);
		if (rc >= 0) {
			if (failures)
				gw_info("upload: database reachable again after %u failed attempt%s",
					failures, failures == 1 ? "" : "s");
			failures = 0;
			backoff = 0;
		} else {
			failures++;
			/* 1 s, 2 s, 4 s ... up to retry_max, each with up to
			 * 50% random jitter so that many gateways that lost the
			 * same database do not come back in lockstep. */
			int64_t max = (int64_t)cfg->upload_retry_max_s * 1000;
			int64_t base = backoff ? backoff * 2 : 1000;
			if (base > max)
				base = max;
			backoff = base / 2 + (int64_t)(rand_r(&seed) % (base / 2 + 1));
			if ((failures & (failures - 1)) == 0)
				gw_warn("upload: %s, attempt %u; next try in %lld ms",
					gw_strerror(rc), failures, (long long)backoff);
		}
		if (stopping)
			break;
	}
	gw_uploader_free(up);
	return NULL;
}

static void uploader_kick(struct uploader_thread *u)
{
	if (!u->started)
		return;
	pthread_mutex_lock(&u->lock);
	u->kick = 1;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

struct seal_ctx {
	const struct gw_config *cfg;
	struct uploader_thread *up;
	unsigned failures;
};

static int on_sealed(void *arg, struct gw_batch *b)
{
	struct seal_ctx *c = arg;
	char day[16], name[GW_PATH_MAX];
	size_t readings = 0;

	int rev = gw_spool_next_revision(c->cfg->spool_dir, b->gateway_id, b->day);
	if (rev < 0) {
		gw_batch_free(b);
		return rev;
	}
	b->revision = (uint32_t)rev;
	for (size_t i = 0; i < b->n_series; i++)
		readings += b->series[i].n;
	int rc = gw_spool_write(c->cfg->spool_dir, b);
	gw_batch_filename(b, name, sizeof(name));
	if (rc == 0)
		gw_info("sealed %s: %zu daily registers, %zu readings -> %s",
			gw_day_format(b->day, day, sizeof(day)), b->n_days,
			readings, name);
	gw_batch_free(b);
	if (rc == 0)
		uploader_kick(c->up);
	return rc;
}

/* Journal state shared with the bus workers through the cycle sink. */
struct durable {
	struct gw_journal *journal;
	const struct gw_config *cfg;
	struct gw_spool_bound bound;
	struct gw_spool_recovery recovery;
	struct gw_journal_stats replay;
	unsigned long intervals_dropped, deleted_unuploaded, done_pruned;
	int full;               /* the bound was reached at the last check */
	unsigned long failures; /* journal failures written to the status */
	int32_t next_day;       /* sealed-through state written to the spool */
	struct uploader_thread *up; /* its state goes into the status */
};

/* The scheduler's cycle sink: one append + one fsync per cycle per bus.
 * A debug line per durable cycle lets tests (crash.sh) check that every
 * acknowledged reading survives. */
static int journal_sink(void *arg, int bus, const struct gw_reading *r, size_t n)
{
	struct durable *du = arg;
	int rc = gw_journal_append_cycle(du->journal, bus, r, n);

	if (rc == 0 && n)
		gw_debug("journal: durable bus=%d n=%zu ts=%lld..%lld", bus, n,
			 (long long)r[0].ts_ms, (long long)r[n - 1].ts_ms);
	return rc;
}

struct replay_ctx {
	struct gw_batcher *bat;
	int32_t next_day;
	unsigned long skipped_events;
};

static int replay_event(void *arg, const struct gw_event *ev, int32_t day)
{
	struct replay_ctx *rc = arg;

	/* The event went into the batch of `day`; if that day is sealed it
	 * is in the spool already and must not be counted again. */
	if (rc->next_day != INT32_MIN && day < rc->next_day) {
		rc->skipped_events++;
		return 0;
	}
	return gw_batcher_add_event(rc->bat, ev);
}

/* Replays one journaled cycle (gw_batcher_replay tells late readings from
 * readings that were in their day when it was sealed). */
static int replay_cycle_ctx(void *arg, int bus, const struct gw_reading *r,
			    size_t n)
{
	struct replay_ctx *rc = arg;

	(void)bus;
	return gw_batcher_replay(rc->bat, r, n);
}

static void write_status(struct durable *du, struct gw_batcher *bat)
{
	const struct gw_config *cfg = du->cfg;
	struct gw_spool_usage u;
	char text[2048], t[40], day[16], alarm[256] = "";
	unsigned long jf = gw_journal_failures(du->journal);
	int32_t next = gw_batcher_oldest_open_day(bat);

	unsigned up_failures = 0;
	int up_rc = 0;
	int64_t up_ok = 0;
	char ok_t[40] = "-";
	struct gw_long_gaps gaps;
	char gaps_text[256];

	if (du->up) {
		pthread_mutex_lock(&du->up->lock);
		up_failures = du->up->failures;
		up_rc = du->up->last_rc;
		up_ok = du->up->last_ok_ms;
		pthread_mutex_unlock(&du->up->lock);
	}
	if (up_ok)
		gw_format_utc(up_ok, ok_t, sizeof(ok_t));
	gw_batcher_long_gaps(bat, &gaps);
	if (gaps.count)
		snprintf(gaps_text, sizeof(gaps_text),
			 "%llu, %lld Wh not placed on days%s; last: %s",
			 (unsigned long long)gaps.count, (long long)gaps.wh,
			 gaps.unknown ? " (and some unknown)" : "", gaps.last);
	else
		snprintf(gaps_text, sizeof(gaps_text), "0");
	gw_spool_usage(cfg->spool_dir, &u);
	if (du->full)
		strcat(alarm, ",spool_full");
	if (du->intervals_dropped)
		strcat(alarm, ",intervals_dropped");
	if (du->deleted_unuploaded)
		strcat(alarm, ",deleted_unuploaded");
	if (jf)
		strcat(alarm, ",journal_write_failed");
	if (du->recovery.quarantined || du->replay.quarantined)
		strcat(alarm, ",quarantined_at_start");
	if (u.n_refused)
		strcat(alarm, ",batch_refused");
	if (up_failures >= UPLOAD_ALARM_FAILURES)
		strcat(alarm, ",upload_failing");
	snprintf(text, sizeof(text),
		 "gateway=%s\nupdated=%s\nalarm=%s\nspool_bytes=%llu\n"
		 "spool_max_bytes=%llu\nspool_full_policy=%s\n"
		 "allow_delete_unuploaded=%s\nready_batches=%u\nready_bytes=%llu\n"
		 "done_bytes=%llu\njournal_bytes=%llu\nnext_day=%s\n"
		 "quarantined_at_start=%u\njournal_torn_at_start=%u\n"
		 "journal_write_failures=%lu\nintervals_dropped=%lu\n"
		 "deleted_unuploaded=%lu\ndone_emptied=%lu\nrefused_batches=%u\n"
		 "upload_last_ok=%s\nupload_failures=%u\nupload_last_error=%s\n"
		 "long_gaps=%s\n",
		 cfg->gateway_id,
		 gw_format_utc(gw_clock_now_ms(&cfg->clock), t, sizeof(t)),
		 alarm[0] ? alarm + 1 : "none", (unsigned long long)u.total,
		 (unsigned long long)du->bound.max_bytes,
		 du->bound.policy == GW_SPOOL_KEEP ? "keep" : "drop-intervals",
		 du->bound.allow_delete_unuploaded ? "yes" : "no", u.n_ready,
		 (unsigned long long)u.ready, (unsigned long long)u.done,
		 (unsigned long long)u.journal,
		 next == INT32_MIN ? "-" : gw_day_format(next, day, sizeof(day)),
		 du->recovery.quarantined + du->replay.quarantined,
		 du->replay.torn, jf, du->intervals_dropped,
		 du->deleted_unuploaded, du->done_pruned, u.n_refused, ok_t,
		 up_failures, up_failures ? gw_strerror(up_rc) : "-", gaps_text);
	if (gw_spool_status_write(cfg->spool_dir, "status", text))
		gw_warn("spool: cannot write the status file");
	du->failures = jf;
}

/* Writes <spool>/health: one line per meter with its state and fault
 * counters, read by `gwctl status`. */
static void write_health(const struct gw_config *cfg, struct gw_sched *sched)
{
	size_t cap = 256 + (size_t)cfg->n_meters * 192, len = 0;
	char *text = malloc(cap), t[40];

	if (!text)
		return;
	len += (size_t)snprintf(text, cap,
				"# updated %s\nmeter_id\tbus\tstate\tfailed_in_a_row\t"
				"cycles\tok\tfailed\tskipped\ttimeouts\tcrc_errors\t"
				"exceptions\tmalformed\tlast_error\n",
				gw_format_utc(gw_clock_now_ms(&cfg->clock), t, sizeof(t)));
	for (int m = 0; m < cfg->n_meters && len < cap; m++) {
		struct gw_meter_health h;
		gw_sched_health(sched, m, &h);
		const char *state = h.offline ? "offline"
				    : h.consecutive_failures ? "failing"
				    : h.cycles ? "online" : "unread";
		len += (size_t)snprintf(text + len, cap - len,
					"%s\t%s\t%s\t%d\t%lu\t%lu\t%lu\t%lu\t%lu\t%lu\t%lu\t%lu\t%s\n",
					cfg->meters[m].id,
					cfg->buses[cfg->meters[m].bus].name, state,
					h.consecutive_failures, h.cycles, h.ok, h.failed,
					h.skipped, h.timeouts, h.crc_errors, h.exceptions,
					h.malformed,
					h.last_error ? gw_strerror(h.last_error) : "-");
	}
	if (gw_spool_status_write(cfg->spool_dir, "health", text))
		gw_warn("spool: cannot write the health file");
	free(text);
}

static void enforce_bound(struct durable *du)
{
	struct gw_spool_enforce res;

	if (gw_spool_enforce(du->cfg->spool_dir, &du->bound, &res))
		gw_err("spool: enforcing the size bound failed");
	du->full = res.before > du->bound.max_bytes && du->bound.max_bytes;
	du->intervals_dropped += res.intervals_dropped;
	du->deleted_unuploaded += res.deleted_unuploaded;
	du->done_pruned += res.done_pruned;
}

/* After days were sealed: record the sealed-through day durably, then
 * the books at the revision window's edge (edges.h), then remove the
 * journal segments no longer needed: a segment of day X goes once
 * X+1+revision_window is sealed, so that a day sealed again after a
 * restart has all its readings and those of the final day before it. */
static void after_seal(struct durable *du, struct gw_batcher *bat)
{
	int32_t next = gw_batcher_oldest_open_day(bat);

	if (next == INT32_MIN || next == du->next_day)
		return;
	if (gw_spool_state_write(du->cfg->spool_dir, next)) {
		gw_err("spool: cannot record the sealed days; journal kept");
		return;
	}
	du->next_day = next;
	if (gw_edges_write(du->cfg->spool_dir, bat))
		gw_err("spool: cannot record the books at the revision window's edge");
	int n = gw_journal_prune(du->journal, next - 1 - du->cfg->revision_window_days);
	if (n < 0)
		gw_err("journal: cannot remove segments of sealed days");
	enforce_bound(du);
	write_status(du, bat);
}

/* Moves the workers' events into the journal and the batcher; returns how
 * many there were. */
static size_t take_events(struct gw_sched *sched, struct gw_batcher *bat,
			  struct durable *du, struct gw_event **buf, size_t *cap)
{
	size_t n = gw_sched_take_events(sched, buf, cap);
	int32_t open = gw_batcher_oldest_open_day(bat);

	if (n == 0)
		return 0;
	/* The day each event is bound for: its own, or the oldest open day if
	 * that is later (gw_batcher_add_event). One fsync for all of them. */
	int32_t day = gw_tz_day_of((*buf)[0].ts_ms);
	for (size_t i = 1; i < n; i++)
		if (gw_tz_day_of((*buf)[i].ts_ms) > day)
			day = gw_tz_day_of((*buf)[i].ts_ms);
	if (open != INT32_MIN && open > day)
		day = open;
	if (gw_journal_append_events(du->journal, *buf, n, day))
		gw_err("journal: %zu events not durable; kept in memory", n);
	for (size_t i = 0; i < n; i++)
		if (gw_batcher_add_event(bat, &(*buf)[i]))
			gw_err("batching: out of memory; event lost");
	return n;
}

/* Start-up: check the spool, tell the batcher which days are sealed, and
 * replay the journal into it. */
static int recover(struct durable *du, struct gw_batcher *bat)
{
	const struct gw_config *cfg = du->cfg;
	struct replay_ctx rc = {.bat = bat};
	char day[16];
	int r;

	r = gw_spool_recover(cfg->spool_dir, &du->recovery);
	if (r)
		return r;
	if (du->recovery.tmp_removed)
		gw_info("spool: removed %u interrupted write%s from tmp/",
			du->recovery.tmp_removed,
			du->recovery.tmp_removed == 1 ? "" : "s");
	if (du->recovery.quarantined)
		gw_err("spool: %u batch%s failed verification and went to quarantine/",
		       du->recovery.quarantined,
		       du->recovery.quarantined == 1 ? "" : "es");
	r = gw_spool_next_day(cfg->spool_dir, cfg->gateway_id, &rc.next_day);
	if (r)
		return r;
	if (rc.next_day != INT32_MIN) {
		gw_batcher_restore(bat, rc.next_day);
		if (gw_edges_read(cfg->spool_dir, bat) == GW_ENOMEM)
			return GW_ENOMEM;
	}
	du->next_day = rc.next_day;
	r = gw_journal_replay(du->journal, replay_cycle_ctx, replay_event, &rc,
			      &du->replay);
	if (r)
		return r;
	gw_info("journal: replayed %lu cycles (%lu readings, %lu events) from %u "
		"segment%s; days before %s were sealed already%s",
		du->replay.cycles, du->replay.readings, du->replay.events,
		du->replay.segments, du->replay.segments == 1 ? "" : "s",
		rc.next_day == INT32_MIN ? "-"
					 : gw_day_format(rc.next_day, day, sizeof(day)),
		du->replay.torn ? "; a torn tail was cut" : "");
	return 0;
}

/* The value at which a meter's register rolls over, from its profile: an
 * unsigned integer register of 16 or 32 bits counting in steps of
 * 10^exp10 / divisor of its unit. 0 when unknown, never (64 bits, floats)
 * or not a whole number of Wh. */
static int64_t register_rollover(void *ctx, const char *meter_id,
				 const char *obis)
{
	/* ctx is the daemon's pointer to the current configuration, which a
	 * reload replaces. */
	const struct gw_config *cfg = *(struct gw_config *const *)ctx;
	const struct gw_meter_config *m = gw_config_find_meter(cfg, meter_id);

	if (!m || !m->profile)
		return 0;
	for (int i = 0; i < m->profile->n_regs; i++) {
		const struct gw_profile_reg *r = &m->profile->regs[i];
		if (strcmp(r->obis, obis) != 0)
			continue;
		int bits = r->type == GW_T_UINT16 ? 16 : r->type == GW_T_UINT32 ? 32 : 0;
		int e = r->exp10 + r->unit_exp10;
		if (!bits || e < 0 || e > 9)
			return 0;
		int64_t steps = (int64_t)1 << bits, f = 1;
		while (e-- > 0)
			f *= 10;
		if (f % r->divisor)
			return 0;
		return steps * (f / r->divisor);
	}
	return 0;
}

static struct gw_batcher_params batcher_params(struct gw_config **cfgp)
{
	const struct gw_config *cfg = *cfgp;
	struct gw_batcher_params bp = {
		.gateway_id = cfg->gateway_id,
		.poll_interval_ms = (int64_t)cfg->poll_interval_s * 1000,
		.midnight_tolerance_ms = (int64_t)cfg->midnight_tolerance_s * 1000,
		.max_gap_ms = (int64_t)cfg->max_gap_s * 1000,
		.seal_delay_ms = (int64_t)cfg->seal_delay_s * 1000,
		.max_power_w = cfg->max_power_w,
		.revision_window_days = cfg->revision_window_days,
		.rollover = register_rollover,
		.rollover_ctx = (void *)cfgp,
	};
	return bp;
}

static void uploader_start(struct uploader_thread *up)
{
	up->stop = 0;
	up->kick = 0;
	if (!up->cfg->db_conninfo[0]) {
		gw_info("no [database] conninfo: batches stay in the spool");
		return;
	}
	if (pthread_create(&up->thread, NULL, uploader_main, up) == 0)
		up->started = 1;
	else
		gw_err("upload: cannot start thread; batches stay in the spool");
}

/* Stops the upload thread after its last pass. */
static void uploader_stop(struct uploader_thread *up)
{
	if (!up->started)
		return;
	pthread_mutex_lock(&up->lock);
	up->stop = 1;
	pthread_cond_signal(&up->cond);
	pthread_mutex_unlock(&up->lock);
	pthread_join(up->thread, NULL);
	up->started = 0;
}

/* Everything the main loop owns that a reload swaps. */
struct running {
	struct gw_config **cfgp;
	struct gw_sched *sched;
	struct gw_batcher *bat;
	struct durable *du;
	struct uploader_thread *up;
	struct seal_ctx *sc;
	struct gw_reading **buf;
	size_t *cap;
	struct gw_event **evbuf;
	size_t *evcap;
};

/* SIGHUP: re-reads the configuration file. Meters, buses, profiles, the
 * database connection and the accounting keys take effect; the gateway id,
 * time zone and spool directory need a restart (the open days and the
 * spool belong to them). Poll workers are stopped after their cycle (their
 * readings are journaled and handed to the core first) and started again
 * with the new configuration; meter health counters start afresh. */
static void reload(struct running *r)
{
	struct gw_config *old = *r->cfgp, *ncfg;
	struct gw_journal *nj;

	gw_info("reload: reading %s", old->path);
	if (gw_config_load(old->path, &ncfg)) {
		gw_err("reload: %s has errors (reported above); keeping the running configuration",
		       old->path);
		return;
	}
	if (strcmp(ncfg->gateway_id, old->gateway_id) ||
	    strcmp(ncfg->timezone, old->timezone) ||
	    strcmp(ncfg->spool_dir, old->spool_dir)) {
		gw_err("reload: id, timezone and spool_dir change only with a restart; keeping the running configuration");
		gw_config_free(ncfg);
		return;
	}
	ncfg->clock = old->clock; /* the command line's clock stays */
	if (gw_journal_open(ncfg->spool_dir, ncfg->n_buses, &nj)) {
		gw_err("reload: cannot open the journal; keeping the running configuration");
		gw_config_free(ncfg);
		return;
	}
	struct gw_sched *ns = gw_sched_new(ncfg, &ncfg->clock);
	if (!ns) {
		gw_err("reload: out of memory; keeping the running configuration");
		gw_journal_close(nj);
		gw_config_free(ncfg);
		return;
	}
	gw_sched_stop(r->sched);
	size_t n = gw_sched_take(r->sched, r->buf, r->cap, 0);
	if (n && gw_batcher_add(r->bat, *r->buf, n))
		gw_err("batching: out of memory; %zu readings lost", n);
	take_events(r->sched, r->bat, r->du, r->evbuf, r->evcap);
	gw_sched_free(r->sched);
	uploader_stop(r->up);
	gw_journal_close(r->du->journal);

	*r->cfgp = ncfg;
	r->du->journal = nj;
	r->du->cfg = ncfg;
	r->du->bound.max_bytes = ncfg->spool_max_bytes;
	r->du->bound.policy = ncfg->spool_full_policy;
	r->du->bound.allow_delete_unuploaded = ncfg->allow_delete_unuploaded;
	r->up->cfg = ncfg;
	r->sc->cfg = ncfg;
	struct gw_batcher_params bp = batcher_params(r->cfgp);
	gw_batcher_set_params(r->bat, &bp);
	gw_config_free(old);

	r->sched = ns;
	gw_sched_set_sink(ns, journal_sink, r->du);
	uploader_start(r->up);
	if (gw_sched_start(ns))
		gw_err("reload: cannot start the poll workers");
	gw_info("reload: %d meters on %d buses", ncfg->n_meters, ncfg->n_buses);
}

int gw_daemon_run(struct gw_config **cfgp, const struct gw_daemon_opts *opts,
		  volatile sig_atomic_t *stop)
{
	const struct gw_config *cfg = *cfgp;
	struct gw_batcher_params bp = batcher_params(cfgp);
	struct uploader_thread up = {.cfg = cfg};
	struct seal_ctx sc = {.cfg = cfg, .up = &up};
	struct gw_reading *buf = NULL;
	size_t cap = 0;
	struct gw_event *evbuf = NULL;
	size_t evcap = 0;
	unsigned seal_failures = 0;
	unsigned long loops = 0;
	int rc;

	rc = gw_tz_set(cfg->timezone);
	if (rc) {
		gw_err("time zone %s: %s", cfg->timezone, gw_strerror(rc));
		return rc;
	}
	rc = gw_spool_open(cfg->spool_dir);
	if (rc)
		return rc;
	struct durable du = {
		.cfg = cfg,
		.bound = {.max_bytes = cfg->spool_max_bytes,
			  .policy = cfg->spool_full_policy,
			  .allow_delete_unuploaded = cfg->allow_delete_unuploaded},
		.next_day = INT32_MIN,
	};
	rc = gw_journal_open(cfg->spool_dir, cfg->n_buses, &du.journal);
	if (rc)
		return rc;
	struct gw_batcher *bat = gw_batcher_new(&bp);
	struct gw_sched *sched = gw_sched_new(cfg, &cfg->clock);
	if (!bat || !sched) {
		gw_batcher_free(bat);
		gw_sched_free(sched);
		gw_journal_close(du.journal);
		return GW_ENOMEM;
	}
	/* Replacements known from before this start (their events may have
	 * gone out with their day, or been lost in a crash). */
	if (gw_sched_feed_replacements(sched, bat))
		gw_err("out of memory: meter replacements before this start not known");
	rc = recover(&du, bat);
	if (rc) {
		gw_err("spool %s: cannot recover (%s)", cfg->spool_dir,
		       gw_strerror(rc));
		gw_batcher_free(bat);
		gw_sched_free(sched);
		gw_journal_close(du.journal);
		return rc;
	}
	enforce_bound(&du);
	write_status(&du, bat);
	gw_sched_set_sink(sched, journal_sink, &du);
	pthread_mutex_init(&up.lock, NULL);
	pthread_cond_init(&up.cond, NULL);
	du.up = &up;
	uploader_start(&up);
	rc = gw_sched_start(sched);
	struct running run = {
		.cfgp = cfgp, .sched = sched, .bat = bat, .du = &du, .up = &up,
		.sc = &sc, .buf = &buf, .cap = &cap, .evbuf = &evbuf, .evcap = &evcap,
	};
	char t[40];
	gw_info("gateway %s: %d meters on %d buses, zone %s, clock %s%s",
		cfg->gateway_id, cfg->n_meters, cfg->n_buses, cfg->timezone,
		gw_format_utc(gw_clock_now_ms(&cfg->clock), t, sizeof(t)),
		cfg->clock.simulated ? " (simulated)" : "");

	while (rc == 0 && !*stop) {
		if (opts && opts->reload && *opts->reload) {
			*opts->reload = 0;
			reload(&run);
			cfg = *cfgp;
			sched = run.sched;
		}
		size_t n = gw_sched_take(sched, &buf, &cap, 100);
		if (n && gw_batcher_add(bat, buf, n))
			gw_err("batching: out of memory; %zu readings lost", n);
		/* A meter going offline or online is an event: the health
		 * file follows it at once, and every 10 s or so otherwise. */
		int changed = take_events(sched, bat, &du, &evbuf, &evcap) > 0;
		int64_t now = gw_clock_now_ms(&cfg->clock);
		int s = gw_batcher_advance(bat, now, on_sealed, &sc);
		if (s < 0) {
			/* The day stays open and is sealed on a later pass. */
			seal_failures++;
			if ((seal_failures & (seal_failures - 1)) == 0)
				gw_err("cannot seal a day into the spool (%s), attempt %u",
				       gw_strerror(s), seal_failures);
		} else if (s > 0) {
			seal_failures = 0;
		}
		after_seal(&du, bat);
		if (++loops % 600 == 0) /* about once a minute */
			enforce_bound(&du);
		if (gw_journal_failures(du.journal) != du.failures ||
		    loops % 600 == 0)
			write_status(&du, bat);
		if (changed || loops % 100 == 0)
			write_health(cfg, sched);
		if (opts && opts->stop_at_ms && now >= opts->stop_at_ms) {
			gw_info("clock reached the stop time");
			break;
		}
	}
	gw_sched_stop(sched);
	write_health(cfg, sched);
	size_t n = gw_sched_take(sched, &buf, &cap, 0);
	if (n)
		gw_batcher_add(bat, buf, n);
	take_events(sched, bat, &du, &evbuf, &evcap);
	gw_batcher_advance(bat, gw_clock_now_ms(&cfg->clock), on_sealed, &sc);
	after_seal(&du, bat);
	uploader_stop(&up);
	write_status(&du, bat); /* after the last upload pass */
	pthread_mutex_destroy(&up.lock);
	pthread_cond_destroy(&up.cond);
	gw_sched_free(sched);
	gw_batcher_free(bat);
	gw_journal_close(du.journal);
	free(buf);
	free(evbuf);
	gw_info("gateway %s stopped", cfg->gateway_id);
	return rc;
}
