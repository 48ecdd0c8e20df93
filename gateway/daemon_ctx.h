/* SPDX-License-Identifier: MIT */
/*
 * daemon_ctx.h - the running gateway as one context, shared by the files
 * of gatewayd's main loop (not a public interface; daemon.h is):
 *
 *   daemon.c          start, the main loop, stop; gw_daemon_run
 *   daemon_durable.c  the journal sink, sealing and its retry, the state
 *   daemon_recover.c  start-up: the spool checked, the journal replayed
 *   daemon_clock.c    the gateway's trust in its clock, its witnesses
 *   daemon_status.c   <spool>/status and <spool>/health
 *   daemon_upload.c   the upload thread
 *   daemon_reload.c   SIGHUP: a new configuration generation
 *   daemon_watch.c    systemd: ready, status, stopping, the watchdog
 *
 * Ownership of the shared state, thread by thread:
 *
 * - The configuration: `cfg` is the running generation (`generation`
 *   counts them from 1). Only the main thread reads d->cfg, and only
 *   reload replaces it, on the main thread, after stopping every thread
 *   that borrowed the old one (the poll workers through their scheduler,
 *   the uploader through up.cfg; the clock marks, ct.marks, which number
 *   the meters by it) and before starting them on the new one;
 *   a thread's start (pthread_create) and its join order the handover, so
 *   no thread ever sees a configuration change under it.
 * - The batcher, the durable state (du) and the clock trust (ct) are the
 *   main thread's, except ct's fields under ct.lock, which the bus
 *   workers' journal sink uses, and du.journal, which the workers append
 *   to (journal.h: appends are thread-safe) while the main thread keeps
 *   the handle.
 * - The uploader's fields marked "under lock" are shared with the upload
 *   thread through up.lock.
 * - Stop and reload requests are C11 atomics set by signal handlers.
 */
#ifndef GW_DAEMON_CTX_H
#define GW_DAEMON_CTX_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <time.h>

#include "batch.h"
#include "batch_spill.h"
#include "clockcheck.h"
#include "clockmarks.h"
#include "config.h"
#include "daemon.h"
#include "journal.h"
#include "scheduler.h"
#include "spool.h"
#include "status_keys.h"
#include "upload.h"

/* The upload thread (daemon_upload.c). */
struct uploader_thread {
	/* The configuration generation it runs on: set before it starts,
	 * read by it only, replaced only while it is stopped. */
	const struct gw_config *cfg;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int kick, stop, started; /* kick and stop under lock */
	/* For the status file, under lock: */
	unsigned failures;  /* upload passes failed in a row */
	int last_rc;        /* the last failure's GW_E* code */
	int64_t last_ok_ms; /* gateway clock of the last batch loaded; 0 none */
	int64_t pass_start_us;      /* real time a pass began; 0: not in one */
	struct gw_uploader *client; /* for the cancel and the progress */
	char unassigned[GW_UNASSIGNED_MAX]; /* meters held in the last batch */
	/* since gatewayd started (across reloads), for the metrics: */
	unsigned long long batches_total; /* batches moved to done/ */
	unsigned long long rows_total;    /* their rows applied */
	unsigned long long failed_total;  /* passes failed */
	/* The database server's clock minus the gateway's (real clocks only),
	 * taken after a pass that loaded batches, and after every pass while
	 * the main loop wants it (want_clock: the clock is held, or has no
	 * past and no confirmation yet); db_samples counts. */
	int64_t db_offset_ms;
	unsigned long db_samples;
	int want_clock;
};

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
	unsigned long long withheld; /* readings kept out of days in this hold */
	unsigned long long withheld_events;
	int64_t first_withheld;  /* earliest reading withheld ahead; INT64_MAX none */
	int restart;             /* the hold ended: start again from the journal */
	int64_t seen_saved;      /* "seen" last written to the state */
	unsigned seen_failures;  /* writes of "seen" failed in a row */
	int64_t seen_next_us;    /* monotonic time of the next try after one */
	/* per configured meter (n_mc), made once a meter's clock is read
	 * while the meters are witnesses (daemon_clock.c); NULL: none */
	struct meter_clock *mc;
	int n_mc;
	unsigned mc_holds;       /* cc.holds when mc was last reset */
	unsigned long db_seen;   /* uploader db_samples last taken */
	int seen_known;          /* the state recorded "seen" */
	/* the journal sink's, under lock */
	pthread_mutex_t lock;
	struct gw_clock_marks *marks;
	/* the marks' number of each code of the scheduler's flight table, + 1
	 * (0: not asked yet); for one scheduler, emptied when another starts */
	uint16_t *mark_codes;
	size_t n_mark_codes;
	int no_window;           /* clock behind: any reading at or before the
				  * newest of its register is set aside */
	int64_t back_until;      /* after a step back: until the clock passes
				  * this, a reading just after the newest of its
				  * register is set aside too (guard) */
	int64_t guard_ms;        /* half a poll interval */
	unsigned long long back; /* readings set aside as clock_back, this run */
	int64_t back_logged;     /* the time of the last one logged */
};

/* The steps of a seal, for its log line (daemon_durable.c, seal_took):
 * the monotonic time (us) each ended at, 0 for a step not taken. */
enum seal_step {
	SEAL_START,   /* gw_daemon_seal called */
	SEAL_BUILT,   /* the first batch handed to the spool (the day built,
		       * the open day's points written out before it) */
	SEAL_WRITTEN, /* the last batch written, fsync'ed and renamed */
	SEAL_CORE,    /* the batching core done (the edge moved, the tracks
		       * pruned, the sealed days' points written out) */
	SEAL_STATE,   /* the sealed-through state recorded */
	SEAL_EDGES,   /* the books at the revision window's edge written */
	SEAL_PRUNE,   /* the journal's segments of final days removed */
	SEAL_BOUND,   /* the spool's size bound checked */
	SEAL_STATUS,  /* the status file written */
	SEAL_STEPS_
};

/* The journal and the spool's durable state. */
struct durable {
	struct gw_journal *journal;
	struct gw_spool_bound bound;
	struct gw_spool_recovery recovery;
	struct gw_journal_stats replay;
	/* 64 bits on 32-bit ARM too: readings a month of a full spool can count */
	unsigned long long intervals_dropped, deleted_unuploaded, done_pruned;
	int full;               /* the bound was reached at the last check */
	unsigned long failures; /* journal failures written to the status */
	int32_t next_day;       /* sealed-through state written to the spool */
	struct seal_retry retry;    /* sealing after a failed write */
	int seal_err;   /* errno of the last batch that could not be written */
	int status_err; /* errno that stopped the last status replacement */
	struct gw_logrl status_rl, health_rl; /* their failed writes, logged */
	/* the seal running or last run: each step's end, monotonic and the
	 * main thread's CPU time (us) */
	int64_t seal_at[SEAL_STEPS_], seal_cpu[SEAL_STEPS_];
};

/* Periodic work of the main loop, by the monotonic clock (real time, which
 * neither a step of the wall clock nor a simulated clock's speed moves):
 * the next time each is due, in microseconds of CLOCK_MONOTONIC. */
struct daemon_timers {
	int64_t witnesses; /* the meters', the database's and the operator's
			    * word on the clock: every second */
	int64_t held;      /* the status while the clock is held: every second */
	int64_t health;    /* <spool>/health: every 10 s (and on each event) */
	int64_t minute;    /* the size bound and the status: every minute */
	int64_t cycles;    /* the status after a bus's poll cycles fell
			    * behind or caught up: at most every second */
};

/* What systemd is told, and the watchdog (daemon_watch.c). */
struct gw_heartbeat;
struct daemon_watch {
	struct gw_heartbeat *hb; /* the main loop's */
	int64_t next_check_us;   /* heartbeats checked (monotonic) */
	int64_t next_ping_us;    /* WATCHDOG=1 due (monotonic) */
	int stale;               /* a stale thread was logged */
	int64_t last_cycle_ms;   /* gateway clock when readings last came */
	int64_t status_next_us;  /* STATUS= not before (monotonic) */
	char status[640];        /* the last STATUS= sent */
	char alarms[512];        /* the status file's alarms, last written */
	unsigned ready_batches;  /* and its upload backlog */
};

/* The running gateway. */
struct gw_daemon {
	struct gw_config *cfg;    /* the running configuration generation */
	unsigned long generation; /* 1 at start, one more per reload applied */
	const struct gw_daemon_opts *opts; /* may be NULL */
	atomic_int *stop;
	struct gw_sched *sched;
	struct gw_batcher *bat;
	/* What points/ did in the runs of this process before this one (a
	 * run that starts over from the journal ends, and the next begins
	 * with a new store). */
	struct gw_spill_stats points_before;
	struct durable du;
	struct clocktrust ct;
	struct uploader_thread up;
	struct daemon_timers timers;
	struct daemon_watch watch;
	int running; /* the threads were started: the run ends with a stop */
	int polled;  /* the health file shows every bus's first cycle */
	unsigned long cycle_changes; /* gw_sched_cycle_health's count the
				      * status shows */
	/* the metrics file (daemon_metrics.c) */
	unsigned long metrics_cycles; /* poll cycles of every bus it shows */
	int64_t metrics_next_us;      /* monotonic time of the next rewrite
				       * for a poll cycle */
	int metrics_hold;             /* status and health being rewritten
				       * for it: not after each */
	int metrics_err;              /* errno of the last failed write */
	/* the main loop's buffers, grown as needed */
	struct gw_reading *buf;
	size_t cap;
	struct gw_event *evbuf;
	size_t evcap;
};

/* CLOCK_MONOTONIC in microseconds. */
static inline int64_t gw_daemon_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* True for the errno of a write that failed for want of space. */
static inline int gw_daemon_nospace(int err)
{
	return err == ENOSPC || err == EDQUOT;
}

/* ---- daemon.c ---- */
/* The batching core's parameters from the running configuration. */
struct gw_batcher_params gw_daemon_batcher_params(struct gw_daemon *d);

/* ---- daemon_durable.c ---- */
/* The scheduler's cycle sink (gw_cycle_sink_fn; ctx is the daemon). */
int gw_daemon_journal_sink(void *ctx, int bus, struct gw_fcycle *cyc);
/* Moves the workers' events into the journal and the batcher; returns how
 * many there were. */
size_t gw_daemon_take_events(struct gw_daemon *d);
/* The n events gw_sched_take_events put in d->evbuf, into the journal and
 * the batcher (those a held clock stamped kept out of days); returns n. */
size_t gw_daemon_put_events(struct gw_daemon *d, size_t n);
/* Adds n readings of d->buf (taken off the queue) to the batcher, but
 * those set aside or withheld (see there). */
void gw_daemon_add_readings(struct gw_daemon *d, size_t n);
/* Seals the days that are over, if a try is due (a failed write is
 * retried with backoff), records them and enforces the bound. */
void gw_daemon_seal(struct gw_daemon *d);
/* At a stop: seals what is over, whatever a failed write's backoff. */
void gw_daemon_seal_last(struct gw_daemon *d);
/* The size bound, now. */
void gw_daemon_enforce_bound(struct gw_daemon *d);
/* Records the sealed-through day `next` and the time seen; 0 or GW_EIO. */
int gw_daemon_save_state(struct gw_daemon *d, int32_t next);
/* Keeps "seen" within a quarter of max_jump of the time. */
void gw_daemon_keep_seen(struct gw_daemon *d);
/* At a stop: warns of journal writes lost with the open days. */
void gw_daemon_warn_not_durable(struct gw_daemon *d);

/* ---- daemon_recover.c ---- */
/* Start-up: the spool checked, the sealed days told to the batcher, the
 * journal replayed into it. Returns 0 or a GW_E* code. */
int gw_daemon_recover(struct gw_daemon *d);

/* ---- daemon_clock.c ---- */
/* Every turn of the main loop; returns 1 if the clock's trust changed. */
int gw_daemon_clock_turn(struct gw_daemon *d);
/* At start, before the journal is replayed. */
void gw_daemon_clock_start(struct gw_daemon *d);
/* The time days may be sealed by. */
int64_t gw_daemon_seal_time(const struct gw_daemon *d);
/* [clock] max_jump or its default. */
int64_t gw_daemon_max_jump_ms(const struct gw_config *cfg);

/* ---- daemon_status.c ---- */
/* Rewrites <spool>/status and <spool>/health (daemon_status.c). */
void gw_daemon_write_status(struct gw_daemon *d);
/* *out: what points/ did since gatewayd started, this run's store added
 * to the runs' before it. */
void gw_daemon_points_stats(const struct gw_daemon *d, struct gw_spill_stats *out);
void gw_daemon_write_health(struct gw_daemon *d);
/* 1 when a bus's poll cycles changed since the status was written (one
 * fell behind, caught up or was the longest so far; an alarm poll_overrun
 * was raised or cleared) and the last such write is a second old (real_us:
 * gw_daemon_mono_us). */
int gw_daemon_cycles_changed(struct gw_daemon *d, int64_t real_us);

/* ---- daemon_metrics.c ---- */
/* The status lines of the spool's files by state, the uploads and the
 * journal's fsyncs since start (u: the spool's usage now). */
void gw_daemon_metrics_status_lines(struct gw_daemon *d,
				    const struct gw_spool_usage *u,
				    struct gw_status_text *t);
/* Rewrites [metrics] textfile from <spool>/status and <spool>/health, if
 * it is set; a failure is logged once, until it is written again. */
void gw_daemon_write_metrics(struct gw_daemon *d);
/* Every turn of the main loop (real_us: gw_daemon_mono_us): when a bus
 * finished a poll cycle since the last time and a second has passed,
 * rewrites the status, the health and the metrics. */
void gw_daemon_metrics_turn(struct gw_daemon *d, int64_t real_us);

/* ---- daemon_upload.c ---- */
/* Starts the upload thread on d->cfg (none without a conninfo). */
void gw_daemon_uploader_start(struct gw_daemon *d);
/* Wakes it for a pass (a day was sealed). */
void gw_daemon_uploader_kick(struct gw_daemon *d);
/* Stops it after its last pass (a pass that hangs is cancelled). */
void gw_daemon_uploader_stop(struct gw_daemon *d);

/* ---- daemon_watch.c ---- */
/* After the threads started: READY=1 (once per process), the main loop's
 * heartbeat. */
void gw_daemon_watch_start(struct gw_daemon *d);
/* Every turn (readings: how many it took): the main loop's heartbeat,
 * the threads' checked, WATCHDOG=1 while all are fresh. */
void gw_daemon_watch_turn(struct gw_daemon *d, size_t readings);
/* With each status write: STATUS= when it changed (alarms: the status
 * file's, "none" without; ready_batches: the upload backlog). */
void gw_daemon_watch_status(struct gw_daemon *d, const char *alarms,
			    unsigned ready_batches);
/* At the end of a run: STOPPING=1 unless the run starts over. */
void gw_daemon_watch_stop(struct gw_daemon *d);

/* ---- daemon_reload.c ---- */
/* SIGHUP: re-reads the configuration; a valid one becomes the next
 * generation. */
void gw_daemon_reload(struct gw_daemon *d);

#endif
