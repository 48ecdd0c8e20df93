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
 *
 * Clock trust (clockcheck.h): days are sealed by the time the clock's
 * witnesses allow, never on the word of a clock that disagrees wildly
 * with them. While the clock is held, readings and events it stamps far
 * from the witnesses' time are journaled but kept out of days; when the
 * hold ends the gateway starts over from the journal (as after a restart):
 * confirmed, they go into their days; corrected, they are set aside and
 * counted (bad_time). Readings stamped at or before a reading of their
 * register already taken (the clock stepped back) are set aside by the
 * journal sink (GW_RS_CLOCK_BACK) and counted (clock_back).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "batch.h"
#include "clockcheck.h"
#include "daemon.h"
#include "drops.h"
#include "edges.h"
#include "journal.h"
#include "rewind.h"
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
	int64_t pass_start_us;      /* real time a pass began; 0: not in one */
	struct gw_uploader *client; /* for the cancel and the progress */
	char unassigned[GW_UNASSIGNED_MAX]; /* meters held in the last batch */
	/* The database server's clock minus the gateway's (real clocks only),
	 * taken after a pass that loaded batches, and after every pass while
	 * the main loop wants it (want_clock: the clock is held, or has no
	 * past and no confirmation yet); db_samples counts. */
	int64_t db_offset_ms;
	unsigned long db_samples;
	int want_clock;
};

/* Passes failed in a row that raise the upload_failing alarm: with the
 * backoff (1, 2, 4, 8 s ... at most retry_max) a database away for a few
 * seconds, a restart or a failover, does not raise it. */
#define UPLOAD_ALARM_FAILURES 5

/* On the monotonic clock (pthread_cond_clockwait): a step of the wall
 * clock neither shortens nor stretches the wait. */
static void timed_wait(struct uploader_thread *u, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	while (!u->kick && !u->stop) {
		if (pthread_cond_clockwait(&u->cond, &u->lock, CLOCK_MONOTONIC, &ts) != 0)
			break;
	}
}

/* Asks the database server for its clock, a witness of the gateway's own
 * (clockcheck.h): a simulated clock has no such witness. The offset is
 * taken against the middle of the round trip. */
static void database_clock(struct uploader_thread *u, struct gw_uploader *up)
{
	int64_t t0 = gw_clock_now_ms(&u->cfg->clock), db;

	if (gw_uploader_server_time(up, &db))
		return;
	int64_t t1 = gw_clock_now_ms(&u->cfg->clock);
	pthread_mutex_lock(&u->lock);
	u->db_offset_ms = db - (t0 + (t1 - t0) / 2);
	u->db_samples++;
	pthread_mutex_unlock(&u->lock);
}

static void *uploader_main(void *arg)
{
	struct uploader_thread *u = arg;
	const struct gw_config *cfg = u->cfg;
	struct gw_uploader *up = gw_uploader_new(cfg->db_conninfo);
	int64_t backoff = 0; /* ms; 0 while uploads succeed */
	unsigned failures = 0;
	unsigned seed = (unsigned)gw_real_now_us();
	struct gw_upload_limits lim = {
		.statement_timeout_ms = cfg->db_statement_timeout_s * 1000,
		.lock_timeout_ms = cfg->db_lock_timeout_s * 1000,
		.idle_timeout_ms = cfg->db_idle_timeout_s * 1000,
	};

	if (!up) {
		gw_err("upload: out of memory");
		return NULL;
	}
	gw_uploader_set_limits(up, &lim);
	pthread_mutex_lock(&u->lock);
	u->client = up;
	if (u->stop) /* stopped before it began */
		gw_uploader_cancel(up);
	pthread_mutex_unlock(&u->lock);
	for (;;) {
		pthread_mutex_lock(&u->lock);
		int64_t wait = backoff ? backoff
				       : (int64_t)cfg->upload_interval_s * 1000;
		if (!u->stop && !(u->kick && !backoff))
			timed_wait(u, wait);
		int stopping = u->stop;
		u->kick = 0;
		u->pass_start_us = gw_real_now_us();
		pthread_mutex_unlock(&u->lock);

		int rc = gw_upload_spool(up, cfg->spool_dir);
		pthread_mutex_lock(&u->lock);
		u->pass_start_us = 0;
		gw_strlcpy(u->unassigned, gw_uploader_unassigned(up),
			   sizeof(u->unassigned));
		if (rc >= 0) {
			u->failures = 0;
			if (rc > 0)
				u->last_ok_ms = gw_clock_now_ms(&cfg->clock);
		} else {
			u->failures = failures + 1;
			u->last_rc = rc;
		}
		pthread_mutex_unlock(&u->lock);
		pthread_mutex_lock(&u->lock);
		int want = u->want_clock;
		pthread_mutex_unlock(&u->lock);
		if (!cfg->clock.simulated && (rc > 0 || (rc == 0 && want)))
			database_clock(u, up);
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
	pthread_mutex_lock(&u->lock);
	u->client = NULL;
	pthread_mutex_unlock(&u->lock);
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
	int err; /* errno of the last batch that could not be written */
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
	c->err = rc == GW_ENOSPC || rc == GW_EIO ? errno : 0;
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

/* Sealing after a write failed (docs/spool-format.md, "A full disk"). */
struct seal_retry {
	int64_t next_us;      /* monotonic time of the next try */
	int64_t backoff_us;   /* 1 s, 2 s, 4 s ... SEAL_RETRY_MAX_US; 0: none */
	unsigned failures;    /* attempts failed in a row */
	unsigned long failed; /* attempts failed since start */
	int err;              /* errno of the last failure, 0 after a success */
	int journal_err;      /* the journal's errno at that failure */
};

/* The gateway's trust in its clock and what follows from it. The main
 * loop owns it, except the fields under `lock`, which the bus workers'
 * journal sink uses. */
struct meter_clock {
	int64_t read_ms; /* the gateway's time of its last clock read seen */
	int64_t offset;  /* meter clock minus gateway clock then */
	int have;        /* read since the samples were reset */
};
struct clocktrust {
	struct gw_clockcheck cc;
	struct gw_clock_watch watch;
	int64_t max_jump_ms;
	char detail[512];        /* gw_clockcheck_describe, for the log and status */
	unsigned long withheld;  /* readings kept out of days in this hold */
	unsigned long withheld_events;
	int64_t first_withheld;  /* earliest reading withheld ahead; INT64_MAX none */
	int restart;             /* the hold ended: start again from the journal */
	int64_t seen_saved;      /* "seen" last written to the state */
	unsigned long turns;
	struct meter_clock *mc;  /* per configured meter */
	int n_mc;
	unsigned mc_holds;       /* cc.holds when mc was last reset */
	unsigned long db_seen;   /* uploader db_samples last taken */
	int seen_known;          /* the state recorded "seen" */
	/* the journal sink's, under lock */
	pthread_mutex_t lock;
	struct gw_clock_marks *marks;
	int no_window;           /* clock behind: any reading at or before the
				  * newest of its register is set aside */
	int64_t back_until;      /* after a step back: until the clock passes
				  * this, a reading just after the newest of its
				  * register is set aside too (guard) */
	int64_t guard_ms;        /* half a poll interval */
	unsigned long back;      /* readings set aside as clock_back, this run */
	int64_t back_logged;     /* the time of the last one logged */
};

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
	struct seal_retry retry;    /* sealing after a failed write */
	int status_err; /* errno that stopped the last status replacement */
	struct clocktrust *ct;
};

/* Sets aside (GW_RS_CLOCK_BACK) every reading stamped at or before the
 * newest reading of its register: after the clock stepped back (by at most
 * max_jump, an NTP correction; by any amount while it is held behind),
 * such readings would fall between readings already taken and make a
 * register go up and down. They are journaled with their mark, never put
 * into days, and counted (clock_back). Load-profile and derived values
 * carry the meter's own times and are not looked at. */
static void mark_clock_back(struct clocktrust *ct, struct gw_reading *r, size_t n)
{
	unsigned long back = 0, total;
	int64_t ts = 0;
	int log;

	pthread_mutex_lock(&ct->lock);
	int64_t window = ct->no_window ? -1 : ct->max_jump_ms;
	for (size_t i = 0; i < n; i++) {
		if (r[i].status != GW_RS_OK)
			continue;
		int64_t guard = r[i].ts_ms <= ct->back_until ? ct->guard_ms : 0;
		if (gw_clock_marks_check(ct->marks, r[i].meter_id, r[i].obis,
					 r[i].ts_ms, window, guard) == 1) {
			r[i].status = GW_RS_CLOCK_BACK;
			ts = r[i].ts_ms;
			back++;
		}
	}
	ct->back += back;
	total = ct->back;
	/* logged at the first of an episode, then at 2, 4, 8 ... */
	log = back && (total - back == 0 || ts - ct->back_logged > ct->max_jump_ms ||
		       ct->back_logged - ts > ct->max_jump_ms);
	for (unsigned long p = 1; back && p && p <= total; p <<= 1)
		log |= p > total - back;
	if (log)
		ct->back_logged = ts;
	pthread_mutex_unlock(&ct->lock);
	if (!back)
		return;
	gw_drops_add(GW_DROP_CLOCK_BACK, back);
	if (log)
		gw_warn("clock: %lu reading%s stamped at or before readings already "
			"taken (the clock stepped back): set aside, not put into days "
			"(%lu since start)", back, back == 1 ? "" : "s", total);
}

/* The scheduler's cycle sink: one append + one fsync per cycle per bus.
 * A debug line per durable cycle lets tests (crash.sh) check that every
 * acknowledged reading survives. */
static int journal_sink(void *arg, int bus, struct gw_reading *r, size_t n)
{
	struct durable *du = arg;

	mark_clock_back(du->ct, r, n);
	int rc = gw_journal_append_cycle(du->journal, bus, r, n);

	if (rc == 0 && n)
		gw_debug("journal: durable bus=%d n=%zu ts=%lld..%lld", bus, n,
			 (long long)r[0].ts_ms, (long long)r[n - 1].ts_ms);
	/* A write that failed (a full disk: every cycle of every bus) is
	 * counted and logged by the journal at growing intervals, and in the
	 * status; the scheduler would log each one again. */
	if (rc == GW_ENOSPC || rc == GW_EIO)
		return 0;
	return rc;
}

struct replay_ctx {
	struct gw_batcher *bat;
	int32_t next_day;
	unsigned long skipped_events;
	/* the clock: what is kept out of days */
	struct clocktrust *ct;
	int64_t now, mono;
	int64_t cut;   /* stamped after it: by a clock that was wrong */
	int64_t newest; /* the newest reading replayed */
	unsigned long false_readings, false_events, clock_back;
	struct gw_reading *buf;
	size_t cap;
};

static int replay_event(void *arg, const struct gw_event *ev, int32_t day)
{
	struct replay_ctx *rc = arg;

	if (ev->ts_ms > rc->cut) {
		rc->false_events++;
		return 0;
	}
	if (gw_clockcheck_withhold(&rc->ct->cc, rc->now, rc->mono, ev->ts_ms)) {
		rc->ct->withheld_events++;
		return 0;
	}

	/* The event went into the batch of `day`; if that day is sealed it
	 * is in the spool already and must not be counted again. */
	if (rc->next_day != INT32_MIN && day < rc->next_day) {
		rc->skipped_events++;
		return 0;
	}
	return gw_batcher_add_event(rc->bat, ev);
}

/* Replays one journaled cycle (gw_batcher_replay tells late readings from
 * readings that were in their day when it was sealed). Readings set aside
 * when they were read (clock_back), stamped after the cut (by a clock that
 * was wrong) or withheld by the clock's hold stay out of days; the rest
 * tell the journal sink the newest reading of each register. */
static int replay_cycle_ctx(void *arg, int bus, const struct gw_reading *r,
			    size_t n)
{
	struct replay_ctx *rc = arg;
	struct clocktrust *ct = rc->ct;
	size_t k = 0;

	(void)bus;
	if (n > rc->cap) {
		struct gw_reading *nb = realloc(rc->buf, n * sizeof(*nb));
		if (!nb)
			return GW_ENOMEM;
		rc->buf = nb;
		rc->cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		if (r[i].status == GW_RS_CLOCK_BACK) {
			rc->clock_back++;
			continue;
		}
		if (r[i].ts_ms > rc->cut) {
			rc->false_readings++;
			continue;
		}
		if (r[i].status == GW_RS_OK && r[i].ts_ms > rc->newest)
			rc->newest = r[i].ts_ms;
		if (r[i].status == GW_RS_OK &&
		    gw_clock_marks_check(ct->marks, r[i].meter_id, r[i].obis,
					 r[i].ts_ms, 0, 0) < 0)
			return GW_ENOMEM;
		if (gw_clockcheck_withhold(&ct->cc, rc->now, rc->mono, r[i].ts_ms)) {
			if (r[i].ts_ms < ct->first_withheld &&
			    ct->cc.trust == GW_CLOCK_AHEAD)
				ct->first_withheld = r[i].ts_ms;
			ct->withheld++;
			continue;
		}
		rc->buf[k++] = r[i];
	}
	return k ? gw_batcher_replay(rc->bat, rc->buf, k) : 0;
}

/* The status lines of the clock's trust and of the readings not kept
 * (appended to buf; returns how many bytes). */
static size_t clock_status(const struct clocktrust *ct, const struct gw_clock *clk,
			   char *buf, size_t cap)
{
	int64_t now = gw_clock_now_ms(clk), mono = gw_clock_mono_ms(clk);
	char seal[40], d[512];
	size_t len = 0;

	gw_clockcheck_describe(&ct->cc, now, mono, d, sizeof(d));
	len += (size_t)snprintf(buf + len, cap - len,
				"clock=%s\nclock_witness=%s\nclock_detail=%s\n"
				"clock_seal_time=%s\nclock_withheld=%lu\n"
				"clock_holds=%u\n", gw_clock_trust_name(ct->cc.trust),
				gw_clock_witness_name(ct->cc.by), d,
				gw_format_utc(gw_clockcheck_seal_ms(&ct->cc, now, mono),
					      seal, sizeof(seal)),
				ct->withheld + ct->withheld_events, ct->cc.holds);
	for (int r = 0; r < GW_DROP_REASON_COUNT_ && len < cap; r++)
		len += (size_t)snprintf(buf + len, cap - len, "dropped_%s=%llu\n",
					gw_drop_reason_name((enum gw_drop_reason)r),
					(unsigned long long)gw_drops_get((enum gw_drop_reason)r));
	return len < cap ? len : cap - 1;
}

/* ---- a full disk ----
 *
 * A day whose batch cannot be written (the disk is full, the flash fails)
 * stays open, in memory, and is tried again after 1 s, 2 s, 4 s ... at
 * most SEAL_RETRY_MAX_US, by the real monotonic clock: not on every pass
 * of the loop (ten a second), and not by the gateway's clock, which runs
 * fast in tests and may jump. When the journal, which failed for want of
 * space too, writes again, space is back: the day is tried at once. The
 * status says "disk_full" (with the errno's text) while any spool write
 * fails for want of space or nothing is free; everything resumes by itself
 * once space is freed.
 */
#define SEAL_RETRY_MAX_US (60 * 1000000LL)
/* Free bytes a full disk is given back, from uploaded batches, when a
 * seal fails for want of space: a day's batch and journal with room. */
#define SEAL_ROOM (16u << 20)

static void write_status(struct durable *du, struct gw_batcher *bat);

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static int is_nospace(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

/* True when the main loop should try to seal now. */
static int seal_due(struct durable *du)
{
	struct seal_retry *r = &du->retry;

	if (r->failures == 0 || mono_us() >= r->next_us)
		return 1;
	if (r->journal_err && gw_journal_last_errno(du->journal) == 0) {
		gw_info("spool: the journal writes again; sealing now");
		r->journal_err = 0;
		return 1;
	}
	return 0;
}

/* After a try: s is gw_batcher_advance's return; a sealed-through state
 * that could not be recorded (after_seal) counts as a failure too. */
static void seal_tried(struct durable *du, const struct seal_ctx *sc,
		       struct gw_batcher *bat, int s)
{
	struct seal_retry *r = &du->retry;
	int32_t open = gw_batcher_oldest_open_day(bat);
	int state_failed = open != INT32_MIN && open != du->next_day;

	if (s >= 0 && !state_failed) {
		if (r->failures) {
			gw_info("spool: sealing works again after %u failed attempt%s",
				r->failures, r->failures == 1 ? "" : "s");
			r->failures = 0;
			r->backoff_us = 0;
			r->err = 0;
			write_status(du, bat);
		}
		return;
	}
	if (s < 0)
		r->err = sc->err;
	if (is_nospace(r->err)) {
		/* what is in the database already makes room first */
		unsigned emptied;
		gw_spool_free_done(du->cfg->spool_dir, SEAL_ROOM, &emptied);
		du->done_pruned += emptied;
	}
	r->failures++;
	r->failed++;
	r->journal_err = gw_journal_last_errno(du->journal);
	r->backoff_us = r->backoff_us ? 2 * r->backoff_us : 1000000;
	if (r->backoff_us > SEAL_RETRY_MAX_US)
		r->backoff_us = SEAL_RETRY_MAX_US;
	r->next_us = mono_us() + r->backoff_us;
	if ((r->failures & (r->failures - 1)) == 0)
		gw_err("cannot seal a day into the spool (%s%s), attempt %u; "
		       "the day stays open in memory, next try in %lld s",
		       s < 0 ? "" : "the sealed days not recorded: ",
		       r->err ? strerror(r->err) : gw_strerror(s < 0 ? s : GW_EIO),
		       r->failures,
		       (long long)(r->backoff_us / 1000000));
	write_status(du, bat);
}

/* The errno saying the spool's disk is full, or 0: a write that failed
 * for want of space (a batch, the journal, the status file), or no free
 * block left. *free_bytes gets the bytes free (for an unprivileged user). */
static int disk_full_errno(struct durable *du, unsigned long long *free_bytes)
{
	uint64_t f = gw_spool_disk_free(du->cfg->spool_dir);
	int e;

	*free_bytes = f == UINT64_MAX ? 0 : (unsigned long long)f;
	if (is_nospace(du->retry.err))
		return du->retry.err;
	if (is_nospace(e = gw_journal_last_errno(du->journal)))
		return e;
	if (is_nospace(du->status_err))
		return du->status_err;
	return f == 0 ? ENOSPC : 0;
}

/* The alarms of this part: disk_full, seal_failed. */
static void disk_alarms(struct durable *du, char *alarm, size_t cap)
{
	unsigned long long free_bytes;

	if (disk_full_errno(du, &free_bytes) && strlen(alarm) + 11 < cap)
		strcat(alarm, ",disk_full");
	if (du->retry.failures && strlen(alarm) + 13 < cap)
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

/* At a stop: cycles the journal could not write (a full disk) of days
 * still open are in memory only, and lost now; say so. */
static void warn_not_durable(struct durable *du, struct gw_batcher *bat)
{
	int32_t open = gw_batcher_oldest_open_day(bat);
	int32_t d = gw_journal_failed_day(du->journal);
	char day[16];

	if (d != INT32_MIN && open != INT32_MIN && d >= open)
		gw_err("stopping with readings the journal could not write (%lu "
		       "failed appends since start, the last for %s): they are "
		       "lost; their days are sealed from what the journal holds",
		       gw_journal_failures(du->journal),
		       gw_day_format(d, day, sizeof(day)));
}

/* Appends this part's status lines to text (capacity cap). */
static void disk_status_lines(struct durable *du, char *text, size_t cap)
{
	unsigned long long free_bytes;
	int full = disk_full_errno(du, &free_bytes);
	int err = full ? full : du->retry.err;
	size_t n = strlen(text);
	int64_t wait = du->retry.failures ? du->retry.next_us - mono_us() : 0;

	if (n >= cap)
		return;
	snprintf(text + n, cap - n,
		 "disk_free_bytes=%llu\ndisk_error=%s\nseal_failures=%u\n"
		 "seal_failures_total=%lu\nseal_next_try_s=%lld\n",
		 free_bytes, err ? strerror(err) : "-", du->retry.failures,
		 du->retry.failed, (long long)(wait > 0 ? (wait + 999999) / 1000000 : 0));
}

/* Notes how a status write went (gw_spool_status_write's return). */
static void status_written(struct durable *du, int rc, const char *what)
{
	int err = errno;

	if (rc == 0) {
		du->status_err = 0;
		return;
	}
	if (rc < 0)
		gw_warn("spool: cannot write the %s file (%s); it is out of date",
			what, strerror(err));
	else if (!du->status_err)
		gw_warn("spool: cannot replace the %s file (%s); rewriting it in "
			"place until space is freed", what, strerror(err));
	du->status_err = err ? err : EIO;
}

static void write_status(struct durable *du, struct gw_batcher *bat)
{
	const struct gw_config *cfg = du->cfg;
	struct gw_spool_usage u;
	char text[4096], t[40], day[16], alarm[512] = "";
	unsigned long jf = gw_journal_failures(du->journal);
	int32_t next = gw_batcher_oldest_open_day(bat);

	unsigned up_failures = 0;
	int up_rc = 0;
	int64_t up_ok = 0;
	char ok_t[40] = "-";
	int64_t stalled_s = 0;
	char unassigned[GW_UNASSIGNED_MAX] = "";
	struct gw_long_gaps gaps;
	char gaps_text[256];

	if (du->up) {
		pthread_mutex_lock(&du->up->lock);
		up_failures = du->up->failures;
		up_rc = du->up->last_rc;
		up_ok = du->up->last_ok_ms;
		/* A pass that has neither begun nor finished a batch for
		 * [database] stall_after is stalled (a lock, a dead link that
		 * TCP has not noticed, a server that does not answer). */
		if (du->up->pass_start_us) {
			int64_t since = du->up->pass_start_us;
			int64_t p = du->up->client ? gw_uploader_progress_us(du->up->client) : 0;
			if (p > since)
				since = p;
			stalled_s = (gw_real_now_us() - since) / 1000000;
			if (stalled_s < cfg->db_stall_after_s)
				stalled_s = 0;
		}
		gw_strlcpy(unassigned, du->up->unassigned, sizeof(unassigned));
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
	if (journal_alarm(du, next))
		strcat(alarm, ",journal_write_failed");
	disk_alarms(du, alarm, sizeof(alarm));
	if (du->recovery.quarantined || du->replay.quarantined)
		strcat(alarm, ",quarantined_at_start");
	if (u.n_refused)
		strcat(alarm, ",batch_refused");
	if (up_failures >= UPLOAD_ALARM_FAILURES)
		strcat(alarm, ",upload_failing");
	if (stalled_s)
		strcat(alarm, ",upload_stalled");
	if (unassigned[0])
		strcat(alarm, ",meter_unassigned");
	if (du->ct->cc.trust != GW_CLOCK_TRUSTED)
		strcat(alarm, ",clock_jump");
	if (gw_drops_total())
		strcat(alarm, ",readings_dropped");
	int len = snprintf(text, sizeof(text),
		 "gateway=%s\nupdated=%s\nalarm=%s\nspool_bytes=%llu\n"
		 "spool_max_bytes=%llu\nspool_full_policy=%s\n"
		 "allow_delete_unuploaded=%s\nready_batches=%u\nready_bytes=%llu\n"
		 "done_bytes=%llu\njournal_bytes=%llu\nnext_day=%s\n"
		 "quarantined_at_start=%u\njournal_torn_at_start=%u\n"
		 "journal_write_failures=%lu\nintervals_dropped=%lu\n"
		 "deleted_unuploaded=%lu\ndone_emptied=%lu\nrefused_batches=%u\n"
		 "upload_last_ok=%s\nupload_failures=%u\nupload_last_error=%s\n"
		 "upload_stalled_s=%lld\nmeters_unassigned=%s\nlong_gaps=%s\n",
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
		 up_failures, up_failures ? gw_strerror(up_rc) : "-",
		 (long long)stalled_s, unassigned[0] ? unassigned : "-", gaps_text);
	if (len > 0 && (size_t)len < sizeof(text))
		clock_status(du->ct, &cfg->clock, text + len, sizeof(text) - (size_t)len);
	disk_status_lines(du, text, sizeof(text));
	status_written(du, gw_spool_status_write(cfg->spool_dir, "status", text),
		       "status");
	du->failures = jf;
}

/* Writes <spool>/health: one line per meter with its state and fault
 * counters, read by `gwctl status`. */
static void write_health(const struct gw_config *cfg, struct gw_sched *sched)
{
	size_t cap = 256 + (size_t)cfg->n_meters * 256, len = 0;
	char *text = malloc(cap), t[40];

	if (!text)
		return;
	len += (size_t)snprintf(text, cap,
				"# updated %s\nmeter_id\tbus\tstate\tfailed_in_a_row\t"
				"cycles\tok\tfailed\tskipped\ttimeouts\tcrc_errors\t"
				"exceptions\tmalformed\tlast_error\t"
				"stale_replies\tbad_values\n",
				gw_format_utc(gw_clock_now_ms(&cfg->clock), t, sizeof(t)));
	for (int m = 0; m < cfg->n_meters && len < cap; m++) {
		struct gw_meter_health h;
		gw_sched_health(sched, m, &h);
		const char *state = h.offline ? "offline"
				    : h.consecutive_failures ? "failing"
				    : h.cycles ? "online" : "unread";
		len += (size_t)snprintf(text + len, cap - len,
					"%s\t%s\t%s\t%d\t%lu\t%lu\t%lu\t%lu\t%lu\t%lu\t%lu\t%lu\t%s\t%lu\t%lu\n",
					cfg->meters[m].id,
					cfg->buses[cfg->meters[m].bus].name, state,
					h.consecutive_failures, h.cycles, h.ok, h.failed,
					h.skipped, h.timeouts, h.crc_errors, h.exceptions,
					h.malformed,
					h.last_error ? gw_strerror(h.last_error) : "-",
					h.stale_replies, h.bad_values);
	}
	if (gw_spool_status_write(cfg->spool_dir, "health", text) < 0)
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

/* Records durably the sealed-through day and the time the gateway last
 * believed: the clock while trusted, the witnesses' time while it is held
 * (never a time read from a held clock), for the next start to compare its
 * clock with. Returns 0 or GW_EIO. */
static int save_state(struct durable *du, int32_t next)
{
	const struct gw_clock *clk = &du->cfg->clock;
	struct gw_spool_state st = {
		.next_day = next,
		.seen_ms = gw_clockcheck_ref(&du->ct->cc, gw_clock_now_ms(clk),
					     gw_clock_mono_ms(clk)),
	};
	int rc = gw_spool_state_save(du->cfg->spool_dir, &st);

	if (rc == 0)
		du->ct->seen_saved = st.seen_ms;
	return rc;
}

/* Keeps "seen" within a quarter of max_jump of the time: a gateway that
 * restarts at once is then never taken for one whose clock jumped, and
 * the state is rewritten only that often (flash wears). */
static void keep_seen(struct durable *du)
{
	const struct gw_clock *clk = &du->cfg->clock;
	int64_t seen = gw_clockcheck_ref(&du->ct->cc, gw_clock_now_ms(clk),
					 gw_clock_mono_ms(clk));
	int64_t d = seen - du->ct->seen_saved;

	if ((d < 0 ? -d : d) < du->ct->max_jump_ms / 4)
		return;
	if (save_state(du, du->next_day))
		gw_warn("spool: cannot record the time seen in the state");
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
	if (save_state(du, next)) {
		du->retry.err = errno;
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
	const struct gw_clock *clk = &du->cfg->clock;
	int64_t now = gw_clock_now_ms(clk), mono = gw_clock_mono_ms(clk);
	for (size_t i = 0; i < n; i++) {
		/* stamped by a held clock: journaled, kept out of days */
		if (gw_clockcheck_withhold(&du->ct->cc, now, mono, (*buf)[i].ts_ms)) {
			du->ct->withheld_events++;
			continue;
		}
		if (gw_batcher_add_event(bat, &(*buf)[i]))
			gw_err("batching: out of memory; event lost");
	}
	return n;
}

/* Adds readings taken off the scheduler's queue to the batcher: those the
 * journal sink set aside (clock_back, counted there) and those a held
 * clock stamped far from its witnesses' time (journaled; they go into
 * days when the hold ends, if the clock was right) stay out. Out of memory
 * part way, the readings that did not go in are counted (nomem). */
static void add_readings(struct clocktrust *ct, const struct gw_clock *clk,
			 struct gw_batcher *bat, struct gw_reading *r, size_t n)
{
	int64_t now = gw_clock_now_ms(clk), mono = gw_clock_mono_ms(clk);
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (r[i].status == GW_RS_CLOCK_BACK)
			continue;
		if (gw_clockcheck_withhold(&ct->cc, now, mono, r[i].ts_ms)) {
			if (ct->withheld++ == 0)
				gw_warn("clock: held; readings stamped by it are journaled "
					"and kept out of days until the hold ends");
			if (r[i].ts_ms < ct->first_withheld &&
			    ct->cc.trust == GW_CLOCK_AHEAD)
				ct->first_withheld = r[i].ts_ms;
			continue;
		}
		r[k++] = r[i];
	}
	if (!k || gw_batcher_add(bat, r, k) == 0)
		return;
	/* What went in is there (adding it again changes nothing). */
	uint64_t lost = 0;
	for (size_t i = 0; i < k; i++)
		lost += gw_batcher_add(bat, &r[i], 1) != 0;
	gw_drops_add(GW_DROP_NOMEM, lost);
	gw_err("batching: out of memory; %llu readings lost", (unsigned long long)lost);
}

/* The time days may be sealed by: what the clock's witnesses allow, and,
 * while readings are withheld ahead, not into the day of the first one
 * (a gateway that was off for a while, whose clock may be right: its day
 * waits for them). */
static int64_t seal_time(const struct clocktrust *ct, const struct gw_clock *clk)
{
	int64_t t = gw_clockcheck_seal_ms(&ct->cc, gw_clock_now_ms(clk),
					  gw_clock_mono_ms(clk));

	return ct->first_withheld < t ? ct->first_withheld : t;
}

/* Acts on a change of the clock's trust: logs it, tells the journal sink
 * and, when a hold ends with readings or events withheld, asks the main
 * loop to start over from the journal. */
static void clock_changed(struct durable *du, enum gw_clock_change ch)
{
	struct clocktrust *ct = du->ct;
	const struct gw_clock *clk = &du->cfg->clock;
	int64_t now = gw_clock_now_ms(clk), mono = gw_clock_mono_ms(clk);
	unsigned long w = ct->withheld + ct->withheld_events;

	if (ch == GW_CLOCK_SAME)
		return;
	gw_clockcheck_describe(&ct->cc, now, mono, ct->detail, sizeof(ct->detail));
	pthread_mutex_lock(&ct->lock);
	ct->no_window = ct->cc.trust == GW_CLOCK_BEHIND &&
			!gw_clockcheck_needs_rewind(&ct->cc, now);
	pthread_mutex_unlock(&ct->lock);
	switch (ch) {
	case GW_CLOCK_HELD:
		gw_err("clock: held (alarm clock_jump): %s", ct->detail);
		break;
	case GW_CLOCK_RELEASED:
		gw_warn("clock: %s; %lu readings and events withheld go into their "
			"days", ct->detail, w);
		break;
	case GW_CLOCK_CORRECTED:
		gw_warn("clock: back within %lld s of its witnesses' time; %lu "
			"readings and events it stamped while held are set aside "
			"(bad_time)", (long long)(ct->max_jump_ms / 1000), w);
		break;
	default:
		break;
	}
	if (ch == GW_CLOCK_RELEASED || ch == GW_CLOCK_CORRECTED) {
		ct->first_withheld = INT64_MAX;
		if (save_state(du, du->next_day))
			gw_err("spool: cannot record the time seen in the state");
		if (w)
			ct->restart = 1;
	}
}

/* A request of `gwctl clock trust`: <spool>/clock_trust with the real time
 * it was made ("real_us=N"). Taken once (the file is removed) and only if
 * made within the last 10 minutes of real time, so that an old request
 * never confirms a later jump. Returns 1 if there was a valid one. */
#define TRUST_REQUEST_MAX_US (600LL * 1000000)
static int trust_requested(const char *spool)
{
	char path[GW_PATH_MAX + 16], line[64];
	long long real = 0;

	snprintf(path, sizeof(path), "%s/clock_trust", spool);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	if (fgets(line, sizeof(line), f))
		sscanf(line, "real_us=%lld", &real);
	fclose(f);
	if (unlink(path) != 0 || gw_fsync_dir(spool))
		gw_warn("clock: cannot remove %s", path);
	long long age = gw_real_now_us() - real;
	if (real <= 0 || age > TRUST_REQUEST_MAX_US || age < -TRUST_REQUEST_MAX_US) {
		gw_warn("clock: %s is not a request of the last 10 minutes; ignored",
			path);
		return 0;
	}
	return 1;
}

/* Resets the meters' clock samples (at start and when a hold begins): only
 * reads after it count. */
static void meters_reset(struct clocktrust *ct, const struct gw_config *cfg,
			 struct gw_sched *sched)
{
	if (ct->n_mc != cfg->n_meters) {
		free(ct->mc);
		ct->mc = calloc((size_t)cfg->n_meters + 1, sizeof(*ct->mc));
		ct->n_mc = ct->mc ? cfg->n_meters : 0;
	}
	for (int m = 0; m < ct->n_mc; m++) {
		struct gw_meter_health h;
		gw_sched_health(sched, m, &h);
		ct->mc[m].read_ms = h.clock_read_ms;
		ct->mc[m].have = 0;
	}
	ct->mc_holds = ct->cc.holds;
}

/* The meters' clocks read since the samples were reset, when any is new. */
static enum gw_clock_change meters_witness(struct clocktrust *ct,
					   const struct gw_config *cfg,
					   struct gw_sched *sched, int64_t now,
					   int64_t mono)
{
	int news = 0, n = 0;

	if (ct->cc.trust == GW_CLOCK_TRUSTED && (!ct->cc.fresh || ct->cc.confirmed))
		return GW_CLOCK_SAME;
	if (ct->mc_holds != ct->cc.holds || ct->n_mc != cfg->n_meters)
		meters_reset(ct, cfg, sched);
	int64_t *off = malloc(((size_t)ct->n_mc + 1) * sizeof(*off));
	if (!off)
		return GW_CLOCK_SAME;
	for (int m = 0; m < ct->n_mc; m++) {
		struct gw_meter_health h;
		gw_sched_health(sched, m, &h);
		if (h.clock_read_ms && h.clock_read_ms != ct->mc[m].read_ms) {
			ct->mc[m].read_ms = h.clock_read_ms;
			ct->mc[m].offset = h.clock_offset_ms;
			ct->mc[m].have = 1;
			news++;
		}
		if (ct->mc[m].have)
			off[n++] = ct->mc[m].offset;
	}
	enum gw_clock_change ch = news ? gw_clockcheck_meters(&ct->cc, now, mono, off, n)
				       : GW_CLOCK_SAME;
	free(off);
	return ch;
}

/* Every turn of the main loop: a step of the wall clock; about once a
 * second the meters' clocks, the database's and the operator. Returns 1 if
 * the clock's trust changed (the status follows at once). */
static int clock_turn(struct durable *du, struct gw_sched *sched)
{
	struct clocktrust *ct = du->ct;
	const struct gw_config *cfg = du->cfg;
	int64_t now = gw_clock_now_ms(&cfg->clock), mono = gw_clock_mono_ms(&cfg->clock);
	int64_t step = gw_clock_step_ms(&cfg->clock, &ct->watch);
	int changed = 0;
	enum gw_clock_change ch = gw_clockcheck_tick(&ct->cc, now, mono, step);

	if (step && ch == GW_CLOCK_SAME && ct->cc.trust == GW_CLOCK_TRUSTED) {
		char d[32];
		gw_warn("clock: stepped %s (within max_jump: taken as it comes)",
			gw_clock_duration(step, 1, d, sizeof(d)));
	}
	if (step < 0) {
		/* the time lived twice ends when the clock passes where it
		 * was before the step */
		pthread_mutex_lock(&ct->lock);
		ct->guard_ms = (int64_t)cfg->poll_interval_s * 500;
		if (now - step + ct->guard_ms > ct->back_until)
			ct->back_until = now - step + ct->guard_ms;
		pthread_mutex_unlock(&ct->lock);
	}
	clock_changed(du, ch);
	changed |= ch != GW_CLOCK_SAME;
	if (++ct->turns % 10 != 0 || ct->restart)
		return changed;
	ch = meters_witness(ct, cfg, sched, now, mono);
	clock_changed(du, ch);
	changed |= ch != GW_CLOCK_SAME;
	if (du->up && du->up->started) {
		int got = 0;
		int64_t off = 0;
		pthread_mutex_lock(&du->up->lock);
		du->up->want_clock = ct->cc.trust != GW_CLOCK_TRUSTED ||
				     (ct->cc.fresh && !ct->cc.confirmed);
		if (du->up->db_samples != ct->db_seen) {
			ct->db_seen = du->up->db_samples;
			off = du->up->db_offset_ms;
			got = 1;
		}
		pthread_mutex_unlock(&du->up->lock);
		if (got) {
			ch = gw_clockcheck_database(&ct->cc, now, mono, off);
			clock_changed(du, ch);
			changed |= ch != GW_CLOCK_SAME;
		}
	}
	if (trust_requested(cfg->spool_dir)) {
		ch = gw_clockcheck_confirm(&ct->cc, now, mono);
		if (ch == GW_CLOCK_HELD)
			gw_err("clock: gwctl clock trust refused: %s", ct->detail);
		else if (ch == GW_CLOCK_SAME)
			gw_info("clock: gwctl clock trust: the clock was trusted already");
		else
			clock_changed(du, ch);
		changed = 1;
	}
	return changed;
}

/* At start, before the journal is replayed: the clock against what the
 * gateway recorded of its past in <spool>/state (clockcheck.h), and a
 * `gwctl clock trust` made while gatewayd was stopped. Batch files alone
 * (a spool copied or made for loading, without a state) are no witness:
 * such a gateway starts as a new one, which the meters' and the database's
 * clocks still check. */
static void clock_start(struct durable *du)
{
	struct clocktrust *ct = du->ct;
	const struct gw_config *cfg = du->cfg;
	int64_t now = gw_clock_now_ms(&cfg->clock), mono = gw_clock_mono_ms(&cfg->clock);
	struct gw_spool_state st;
	struct gw_clock_past past = {0};

	if (gw_spool_state_read(cfg->spool_dir, &st) == 0) {
		past.seen_ms = st.seen_ms;
		ct->seen_known = st.seen_ms != 0;
		if (st.next_day != INT32_MIN) {
			int64_t delay = (int64_t)cfg->seal_delay_s * 1000;
			past.sealed_lo_ms = gw_tz_day_start(st.next_day) + delay;
			past.sealed_hi_ms = gw_tz_day_start(st.next_day + 1) + delay;
		}
	}
	enum gw_clock_change ch = gw_clockcheck_start(&ct->cc, now, mono, &past);
	gw_clockcheck_describe(&ct->cc, now, mono, ct->detail, sizeof(ct->detail));
	if (ch == GW_CLOCK_HELD)
		gw_err("clock: held at start (alarm clock_jump): %s", ct->detail);
	if (trust_requested(cfg->spool_dir)) {
		ch = gw_clockcheck_confirm(&ct->cc, now, mono);
		gw_clockcheck_describe(&ct->cc, now, mono, ct->detail, sizeof(ct->detail));
		if (ch == GW_CLOCK_HELD)
			gw_err("clock: gwctl clock trust refused: %s", ct->detail);
		else if (ch == GW_CLOCK_RELEASED)
			gw_warn("clock: %s", ct->detail);
	}
	pthread_mutex_lock(&ct->lock);
	ct->no_window = ct->cc.trust == GW_CLOCK_BEHIND &&
			!gw_clockcheck_needs_rewind(&ct->cc, now);
	pthread_mutex_unlock(&ct->lock);
}

/* The journal holds readings or events stamped after cut by a clock that
 * was wrong (it jumped ahead and came back): they stay out of days, are
 * counted (bad_time), and are moved out of the journal (its segments are
 * rewritten without them, the old ones set aside in quarantine/), so that
 * they are neither replayed at every start nor put into their false day
 * once it comes. */
static int set_aside_false(struct durable *du, int64_t cut, unsigned long readings,
			   unsigned long events)
{
	const struct gw_config *cfg = du->cfg;
	struct gw_rewind rw = {
		.gateway_id = cfg->gateway_id,
		.now_ms = gw_clock_now_ms(&cfg->clock),
		.cut_ms = cut,
		.to_day = INT32_MIN,
		.last_day = gw_tz_day_of(cut),
	};
	struct gw_rewind_result res;
	char t[40];

	gw_drops_add(GW_DROP_BAD_TIME, readings);
	gw_err("journal: %lu readings and %lu events stamped after %s, by a clock "
	       "that was ahead, are set aside (dropped_bad_time)", readings, events,
	       gw_format_utc(cut, t, sizeof(t)));
	gw_journal_close(du->journal);
	du->journal = NULL;
	int rc = gw_rewind_run(cfg->spool_dir, &rw, &res, NULL, 0);
	if (rc)
		gw_err("journal: cannot set them aside (%s); they stay, out of days",
		       gw_strerror(rc));
	else
		gw_info("journal: %u segments rewritten without them; the old ones "
			"are in quarantine/", res.segments);
	return gw_journal_open(cfg->spool_dir, cfg->n_buses, &du->journal);
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
	clock_start(du);
	rc.ct = du->ct;
	rc.now = gw_clock_now_ms(&cfg->clock);
	rc.mono = gw_clock_mono_ms(&cfg->clock);
	/* A clock trusted by "seen" agrees with the last time the gateway
	 * believed: what the journal holds from further ahead was stamped by
	 * a clock that was wrong. Without "seen" (a spool of the version
	 * before) the journal itself is the witness: its newest reading. */
	rc.newest = INT64_MIN;
	rc.cut = du->ct->cc.trust == GW_CLOCK_TRUSTED && du->ct->seen_known
			 ? rc.now + du->ct->max_jump_ms
			 : INT64_MAX;
	r = gw_journal_replay(du->journal, replay_cycle_ctx, replay_event, &rc,
			      &du->replay);
	free(rc.buf);
	if (r)
		return r;
	if (!du->ct->seen_known &&
	    gw_clockcheck_journal(&du->ct->cc, rc.now, rc.mono, rc.newest) == GW_CLOCK_HELD) {
		/* what was replayed agrees with the witness; the clock's own
		 * readings from now on are withheld */
		gw_clockcheck_describe(&du->ct->cc, rc.now, rc.mono, du->ct->detail,
				       sizeof(du->ct->detail));
		gw_err("clock: held at start (alarm clock_jump): the journal holds "
		       "readings up to %lld s after the clock: %s",
		       (long long)((rc.newest - rc.now) / 1000), du->ct->detail);
		pthread_mutex_lock(&du->ct->lock);
		du->ct->no_window = 1;
		pthread_mutex_unlock(&du->ct->lock);
	}
	if (rc.false_readings || rc.false_events) {
		r = set_aside_false(du, rc.cut, rc.false_readings, rc.false_events);
		if (r)
			return r;
	}
	if (rc.clock_back)
		gw_info("journal: %lu readings set aside when they were read (the "
			"clock had stepped back) stay out of days", rc.clock_back);
	if (du->ct->withheld || du->ct->withheld_events)
		gw_warn("journal: %lu readings and %lu events stamped by the held "
			"clock are kept out of days until the hold ends",
			du->ct->withheld, du->ct->withheld_events);
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
	if (gw_thread_start(&up->thread, uploader_main, up) == 0)
		up->started = 1;
	else
		gw_err("upload: cannot start thread; batches stay in the spool");
}

/* Stops the upload thread after its last pass. A pass still running after
 * UPLOAD_STOP_GRACE_MS (a large batch, or a database that holds the load
 * on a lock) has its query cancelled, again every half second until the
 * thread ends: the batch's transaction is rolled back and the file stays
 * in ready/ for the next start (gw_uploader_cancel). */
#define UPLOAD_STOP_GRACE_MS 2000

static int join_within(pthread_t t, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	return pthread_timedjoin_np(t, NULL, &ts) == 0;
}

static void uploader_stop(struct uploader_thread *up)
{
	if (!up->started)
		return;
	pthread_mutex_lock(&up->lock);
	up->stop = 1;
	pthread_cond_signal(&up->cond);
	pthread_mutex_unlock(&up->lock);
	if (!join_within(up->thread, UPLOAD_STOP_GRACE_MS)) {
		gw_info("upload: stopping; cancelling the upload in progress");
		do {
			pthread_mutex_lock(&up->lock);
			if (up->client)
				gw_uploader_cancel(up->client);
			pthread_mutex_unlock(&up->lock);
		} while (!join_within(up->thread, 500));
	}
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
	add_readings(r->du->ct, &old->clock, r->bat, *r->buf, n);
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

/* [clock] max_jump, or its default: 2 hours (more than the hour of a
 * daylight-saving meter clock, and of an NTP step back), and with a
 * simulated clock at least a minute of real time, so that restarting a
 * gateway in a test is not taken for a jump. */
static int64_t max_jump_ms(const struct gw_config *cfg)
{
	int64_t ms = 7200 * 1000;

	if (cfg->clock_max_jump_s)
		return cfg->clock_max_jump_s * 1000;
	if (cfg->clock.simulated && cfg->clock.speed * 60 * 1000 > ms)
		ms = cfg->clock.speed * 60 * 1000;
	return ms;
}

/* One run of the gateway, from the spool's recovery to its stop; *again is
 * set when it stopped to start over from the journal (a clock hold ended
 * with readings withheld). */
static int serve(struct gw_config **cfgp, const struct gw_daemon_opts *opts,
		 atomic_int *stop, int *again)
{
	const struct gw_config *cfg = *cfgp;
	struct gw_batcher_params bp = batcher_params(cfgp);
	struct uploader_thread up = {.cfg = cfg};
	struct seal_ctx sc = {.cfg = cfg, .up = &up};
	struct gw_reading *buf = NULL;
	size_t cap = 0;
	struct gw_event *evbuf = NULL;
	size_t evcap = 0;
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
	struct clocktrust ct = {
		.max_jump_ms = max_jump_ms(cfg),
		.first_withheld = INT64_MAX,
		.mc_holds = (unsigned)-1,
		.back_until = INT64_MIN,
	};
	gw_clockcheck_init(&ct.cc, ct.max_jump_ms);
	pthread_mutex_init(&ct.lock, NULL);
	ct.marks = gw_clock_marks_new();
	struct durable du = {
		.cfg = cfg,
		.bound = {.max_bytes = cfg->spool_max_bytes,
			  .policy = cfg->spool_full_policy,
			  .allow_delete_unuploaded = cfg->allow_delete_unuploaded},
		.next_day = INT32_MIN,
		.ct = &ct,
	};
	rc = ct.marks ? gw_journal_open(cfg->spool_dir, cfg->n_buses, &du.journal)
		      : GW_ENOMEM;
	if (rc) {
		gw_clock_marks_free(ct.marks);
		pthread_mutex_destroy(&ct.lock);
		return rc;
	}
	struct gw_batcher *bat = gw_batcher_new(&bp);
	struct gw_sched *sched = gw_sched_new(cfg, &cfg->clock);
	if (!bat || !sched) {
		gw_batcher_free(bat);
		gw_sched_free(sched);
		gw_journal_close(du.journal);
		gw_clock_marks_free(ct.marks);
		pthread_mutex_destroy(&ct.lock);
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
		gw_clock_marks_free(ct.marks);
		pthread_mutex_destroy(&ct.lock);
		return rc;
	}
	enforce_bound(&du);
	write_status(&du, bat);
	write_health(cfg, sched); /* both files exist, with room, from the start */
	gw_sched_set_sink(sched, journal_sink, &du);
	pthread_mutex_init(&up.lock, NULL);
	pthread_cond_init(&up.cond, NULL);
	du.up = &up;
	up.want_clock = ct.cc.trust != GW_CLOCK_TRUSTED || (ct.cc.fresh && !ct.cc.confirmed);
	uploader_start(&up);
	rc = gw_sched_start(sched);
	struct running run = {
		.cfgp = cfgp, .sched = sched, .bat = bat, .du = &du, .up = &up,
		.sc = &sc, .buf = &buf, .cap = &cap, .evbuf = &evbuf, .evcap = &evcap,
	};
	char t[40];
	gw_info("gateway %s: %d meters on %d buses, zone %s, clock %s%s (%s)",
		cfg->gateway_id, cfg->n_meters, cfg->n_buses, cfg->timezone,
		gw_format_utc(gw_clock_now_ms(&cfg->clock), t, sizeof(t)),
		cfg->clock.simulated ? " (simulated)" : "",
		gw_clock_trust_name(ct.cc.trust));

	while (rc == 0 && !atomic_load(stop)) {
		if (opts && opts->reload && atomic_exchange(opts->reload, 0)) {
			reload(&run);
			cfg = *cfgp;
			sched = run.sched;
		}
		size_t n = gw_sched_take(sched, &buf, &cap, 100);
		/* The clock first: readings it stamped after a jump are then
		 * judged by what that jump made of it. */
		int clock = clock_turn(&du, sched);
		if (ct.restart) {
			/* Nothing more is sealed before the readings withheld
			 * are back in the batcher (or set aside). */
			gw_info("clock: starting over from the journal");
			break;
		}
		add_readings(&ct, &cfg->clock, bat, buf, n);
		/* A meter going offline or online is an event: the health
		 * file follows it at once, and every 10 s or so otherwise. */
		int changed = take_events(sched, bat, &du, &evbuf, &evcap) > 0;
		int64_t now = gw_clock_now_ms(&cfg->clock);
		if (seal_due(&du)) {
			/* a day that cannot be written stays open and is
			 * tried again with backoff (seal_tried) */
			int s = gw_batcher_advance(bat, seal_time(&ct, &cfg->clock),
						   on_sealed, &sc);
			after_seal(&du, bat);
			seal_tried(&du, &sc, bat, s);
		}
		keep_seen(&du);
		if (++loops % 600 == 0) /* about once a minute */
			enforce_bound(&du);
		/* while the clock is held, every second or so: the operator
		 * watches what is withheld */
		if (gw_journal_failures(du.journal) != du.failures ||
		    loops % 600 == 0 || clock ||
		    (ct.cc.trust != GW_CLOCK_TRUSTED && loops % 10 == 0))
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
	if (!ct.restart) {
		add_readings(&ct, &cfg->clock, bat, buf, n);
		take_events(sched, bat, &du, &evbuf, &evcap);
		gw_batcher_advance(bat, seal_time(&ct, &cfg->clock), on_sealed, &sc);
		after_seal(&du, bat);
	} else {
		/* journaled: the next run replays them */
		take_events(sched, bat, &du, &evbuf, &evcap);
	}
	warn_not_durable(&du, bat);
	if (save_state(&du, du.next_day))
		gw_err("spool: cannot record the time seen in the state");
	uploader_stop(&up);
	write_status(&du, bat); /* after the last upload pass */
	pthread_mutex_destroy(&up.lock);
	pthread_cond_destroy(&up.cond);
	gw_sched_free(sched);
	gw_batcher_free(bat);
	gw_journal_close(du.journal);
	free(buf);
	free(evbuf);
	*again = ct.restart;
	gw_clock_marks_free(ct.marks);
	pthread_mutex_destroy(&ct.lock);
	free(ct.mc);
	if (!*again)
		gw_info("gateway %s stopped", cfg->gateway_id);
	return rc;
}

int gw_daemon_run(struct gw_config **cfgp, const struct gw_daemon_opts *opts,
		  atomic_int *stop)
{
	const char *dir = (*cfgp)->spool_dir;
	long holder;
	int lock, again, rc = gw_spool_open(dir);

	if (rc)
		return rc;
	/* One gatewayd per spool; gwctl clock rewind waits for none. */
	rc = gw_spool_lock(dir, &lock, &holder);
	if (rc == 1) {
		gw_err("spool %s is in use by process %ld (another gatewayd, or gwctl "
		       "clock rewind)", dir, holder);
		return GW_EIO;
	}
	if (rc)
		return rc;
	rc = gw_rewind_recover(dir);
	do {
		again = 0;
		if (rc >= 0)
			rc = serve(cfgp, opts, stop, &again);
	} while (rc == 0 && again && !atomic_load(stop));
	close(lock);
	return rc < 0 ? rc : 0;
}
