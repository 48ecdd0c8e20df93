/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - the gateway's main loop; see daemon.h.
 *
 * Threads: one poll worker per bus (scheduler.c), this loop (batching core
 * and spool writes: the batcher is touched by this thread only), and one
 * upload thread (daemon_upload.c). The running gateway is one context,
 * struct gw_daemon (daemon_ctx.h, which says who owns what); its parts
 * are in the daemon_*.c files. This file starts a run, turns the loop and
 * stops it:
 *
 * - a run begins with the spool's recovery and the journal's replay
 *   (daemon_recover.c), then starts the poll workers and the uploader;
 * - each turn takes the workers' readings and events into the batching
 *   core (daemon_durable.c), asks the clock's witnesses
 *   (daemon_clock.c), seals what is over, and keeps the status and health
 *   files current (daemon_status.c), on timers of the monotonic clock;
 * - a SIGHUP swaps the configuration generation (daemon_reload.c);
 * - at a stop, the workers stop after their cycle, what is over is sealed
 *   and the uploader makes a last pass. When a hold of the clock ends with
 *   readings withheld, the run ends and another starts from the journal.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch_spill.h"
#include "daemon_ctx.h"
#include "rewind.h"
#include "tz.h"

/* The value at which a meter's register rolls over, as the meter's driver
 * tells (a Modbus profile's 16- or 32-bit counter); 0 when unknown. */
static int64_t register_rollover(void *ctx, const char *meter_id,
				 const char *obis)
{
	/* ctx is the daemon's pointer to the current configuration, which a
	 * reload replaces. */
	return gw_config_rollover(*(struct gw_config *const *)ctx, meter_id, obis);
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


struct gw_batcher_params gw_daemon_batcher_params(struct gw_daemon *d)
{
	return batcher_params(&d->cfg);
}

/* Periods of the main loop's work, in microseconds of CLOCK_MONOTONIC. */
#define WITNESS_PERIOD_US 1000000LL    /* the clock's witnesses */
#define HELD_STATUS_PERIOD_US 1000000LL /* the status while the clock is held */
#define HEALTH_PERIOD_US 10000000LL    /* <spool>/health */
#define MINUTE_US 60000000LL           /* the size bound and the status */

/* The context's own parts, before anything is opened. */
static void init_context(struct gw_daemon *d, struct gw_config *cfg,
			 const struct gw_daemon_opts *opts, atomic_int *stop)
{
	int64_t now = gw_daemon_mono_us();

	memset(d, 0, sizeof(*d));
	d->cfg = cfg;
	d->generation = 1;
	d->opts = opts;
	d->stop = stop;
	d->ct.max_jump_ms = gw_daemon_max_jump_ms(cfg);
	d->ct.first_withheld = INT64_MAX;
	d->ct.mc_holds = (unsigned)-1;
	d->ct.back_until = INT64_MIN;
	gw_clockcheck_init(&d->ct.cc, d->ct.max_jump_ms);
	pthread_mutex_init(&d->ct.lock, NULL);
	pthread_mutex_init(&d->up.lock, NULL);
	pthread_cond_init(&d->up.cond, NULL);
	d->du.bound.max_bytes = cfg->spool_max_bytes;
	d->du.bound.policy = cfg->spool_full_policy;
	d->du.bound.allow_delete_unuploaded = cfg->allow_delete_unuploaded;
	d->du.next_day = INT32_MIN;
	d->timers.witnesses = now;
	d->timers.held = now + HELD_STATUS_PERIOD_US;
	d->timers.health = now + HEALTH_PERIOD_US;
	d->timers.minute = now + MINUTE_US;
}

/* Frees what the context holds (each part accepts not being there). */
static void free_context(struct gw_daemon *d)
{
	gw_sched_free(d->sched);
	gw_batcher_free(d->bat);
	gw_journal_close(d->du.journal);
	gw_clock_marks_free(d->ct.marks);
	free(d->ct.mark_codes);
	pthread_mutex_destroy(&d->ct.lock);
	pthread_mutex_destroy(&d->up.lock);
	pthread_cond_destroy(&d->up.cond);
	free(d->ct.mc);
	free(d->buf);
	free(d->evbuf);
}

/* The sealed days' points go to <spool_dir>/points (a cache of the
 * journal, emptied here); without it they stay in memory. */
static void open_points(struct gw_daemon *d)
{
	char path[GW_PATH_MAX + 8];
	struct gw_spill *s;

	snprintf(path, sizeof(path), "%s/points", d->cfg->spool_dir);
	if (gw_spill_open(path, &s) == 0)
		gw_batcher_set_spill(d->bat, s);
	else
		gw_warn("points: %s cannot be used; the sealed days' points stay "
			"in memory", path);
}

/* Opens the spool, recovers it and starts the threads. Returns 0 or a
 * GW_E* code (the context is then freed by the caller). */
static int start(struct gw_daemon *d)
{
	const struct gw_config *cfg = d->cfg;
	struct gw_batcher_params bp = gw_daemon_batcher_params(d);
	int rc = gw_tz_set(cfg->timezone);

	if (rc) {
		gw_err("time zone %s: %s", cfg->timezone, gw_strerror(rc));
		return rc;
	}
	rc = gw_spool_open(cfg->spool_dir);
	if (rc)
		return rc;
	d->ct.marks = gw_clock_marks_new();
	rc = d->ct.marks && !gw_clock_marks_use(d->ct.marks, cfg)
		     ? gw_journal_open(cfg->spool_dir, cfg->n_buses, &d->du.journal)
		     : GW_ENOMEM;
	if (rc)
		return rc;
	d->bat = gw_batcher_new(&bp);
	d->sched = gw_sched_new(cfg, &cfg->clock);
	if (!d->bat || !d->sched)
		return GW_ENOMEM;
	open_points(d);
	/* Replacements known from before this start (their events may have
	 * gone out with their day, or been lost in a crash). */
	if (gw_sched_feed_replacements(d->sched, d->bat))
		gw_err("out of memory: meter replacements before this start not known");
	rc = gw_daemon_recover(d);
	if (rc) {
		gw_err("spool %s: cannot recover (%s)", cfg->spool_dir,
		       gw_strerror(rc));
		return rc;
	}
	gw_daemon_enforce_bound(d);
	gw_daemon_write_status(d);
	gw_daemon_write_health(d); /* both files exist, with room, from the start */
	gw_sched_set_sink(d->sched, gw_daemon_journal_sink, d);
	d->up.want_clock = d->ct.cc.trust != GW_CLOCK_TRUSTED ||
			   (d->ct.cc.fresh && !d->ct.cc.confirmed);
	d->running = 1;
	gw_daemon_uploader_start(d);
	rc = gw_sched_start(d->sched);
	if (rc == 0)
		gw_daemon_watch_start(d);
	return rc;
}

/* True (and the timer moved on) when the monotonic time `now` reached it. */
static int due(int64_t *timer, int64_t now, int64_t period)
{
	if (now < *timer)
		return 0;
	*timer = now + period;
	return 1;
}

/* One turn of the main loop. Returns 0 to go on, 1 to end the run (the
 * stop time reached, or a start over from the journal). */
static int turn(struct gw_daemon *d)
{
	if (d->opts && d->opts->reload && atomic_exchange(d->opts->reload, 0))
		gw_daemon_reload(d);
	size_t n = gw_sched_take(d->sched, &d->buf, &d->cap, 100);
	/* The workers' events taken before the clock's turn as well: what
	 * was stamped after a step of the clock was stamped before that turn
	 * reads the clock, so the turn has seen the step, and the readings
	 * and events are judged by what it made of the clock. (Taken after
	 * it, an event stamped by a clock that stepped in between went into
	 * its false day as if the clock were trusted.) */
	size_t ne = gw_sched_take_events(d->sched, &d->evbuf, &d->evcap);
	int clock = gw_daemon_clock_turn(d);
	if (d->ct.restart) {
		/* Nothing more is sealed before the readings withheld are back
		 * in the batcher (or set aside); the events taken are
		 * journaled (the next run replays them). */
		gw_daemon_put_events(d, ne);
		gw_info("clock: starting over from the journal");
		return 1;
	}
	gw_daemon_add_readings(d, n);
	gw_daemon_watch_turn(d, n);
	/* A meter going offline or online is an event: the health file
	 * follows it at once, as it follows the first poll cycle of every
	 * bus (after a start or a reload), and every 10 s otherwise. */
	int changed = gw_daemon_put_events(d, ne) > 0;
	if (!d->polled && gw_sched_min_cycles(d->sched) > 0)
		changed = d->polled = 1;
	int64_t now = gw_clock_now_ms(&d->cfg->clock), real = gw_daemon_mono_us();
	gw_daemon_seal(d);
	if (d->ct.restart)
		return 1; /* points unread: start over from the journal */
	gw_daemon_keep_seen(d);
	int minute = due(&d->timers.minute, real, MINUTE_US);
	if (minute)
		gw_daemon_enforce_bound(d);
	/* while the clock is held, every second: the operator watches what
	 * is withheld */
	int held = d->ct.cc.trust != GW_CLOCK_TRUSTED &&
		   due(&d->timers.held, real, HELD_STATUS_PERIOD_US);
	if (gw_journal_failures(d->du.journal) != d->du.failures || minute ||
	    clock || held || gw_daemon_cycles_changed(d, real))
		gw_daemon_write_status(d);
	if (due(&d->timers.health, real, HEALTH_PERIOD_US) || changed)
		gw_daemon_write_health(d);
	gw_daemon_metrics_turn(d, real);
	if (d->opts && d->opts->stop_at_ms && now >= d->opts->stop_at_ms) {
		gw_info("clock reached the stop time");
		return 1;
	}
	return 0;
}

/* The end of a run: the workers stopped after their cycle, what is over
 * sealed (unless the run starts over from the journal, which holds it),
 * the state recorded, the uploader's last pass, the status. */
static void finish(struct gw_daemon *d)
{
	gw_daemon_watch_stop(d);
	gw_sched_stop(d->sched);
	gw_daemon_write_health(d);
	for (size_t n; (n = gw_sched_take(d->sched, &d->buf, &d->cap, 0)) > 0;)
		if (!d->ct.restart)
			gw_daemon_add_readings(d, n);
	/* (after a start over, journaled: the next run replays them) */
	gw_daemon_take_events(d);
	if (!d->ct.restart)
		gw_daemon_seal_last(d);
	gw_daemon_warn_not_durable(d);
	if (gw_daemon_save_state(d, d->du.next_day))
		gw_err("spool: cannot record the time seen in the state");
	gw_daemon_uploader_stop(d);
	gw_daemon_write_status(d); /* after the last upload pass */
}

/* One run of the gateway, from the spool's recovery to its stop; *again is
 * set when it stopped to start over from the journal (a clock hold ended
 * with readings withheld). *cfgp is the running configuration, replaced
 * by a reload. */
static int serve(struct gw_config **cfgp, const struct gw_daemon_opts *opts,
		 atomic_int *stop, int *again, struct gw_spill_stats *points)
{
	struct gw_daemon d;
	char t[40];

	init_context(&d, *cfgp, opts, stop);
	d.points_before = *points;
	int rc = start(&d);
	if (rc == 0)
		gw_info("gateway %s: %d meters on %d buses, zone %s, clock %s%s (%s)",
			d.cfg->gateway_id, d.cfg->n_meters, d.cfg->n_buses,
			d.cfg->timezone,
			gw_format_utc(gw_clock_now_ms(&d.cfg->clock), t, sizeof(t)),
			d.cfg->clock.simulated ? " (simulated)" : "",
			gw_clock_trust_name(d.ct.cc.trust));
	while (rc == 0 && !atomic_load(stop) && !turn(&d))
		;
	if (d.running)
		finish(&d);
	*again = d.ct.restart;
	*cfgp = d.cfg;
	gw_daemon_points_stats(&d, points);
	if (rc == 0 && !*again)
		gw_info("gateway %s stopped", d.cfg->gateway_id);
	free_context(&d);
	return rc;
}

int gw_daemon_run(struct gw_config **cfgp, const struct gw_daemon_opts *opts,
		  atomic_int *stop)
{
	const char *dir = (*cfgp)->spool_dir;
	long holder;
	int lock, again, rc = gw_spool_open(dir);
	struct gw_spill_stats points = {0};

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
			rc = serve(cfgp, opts, stop, &again, &points);
	} while (rc == 0 && again && !atomic_load(stop));
	close(lock);
	return rc < 0 ? rc : 0;
}
