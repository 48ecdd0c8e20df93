/* SPDX-License-Identifier: MIT */
/*
 * daemon_reload.c - SIGHUP: the configuration file read again and, when
 * valid, made the running generation.
 *
 * Meters, buses, profiles, the database connection and the accounting
 * keys take effect; the gateway id, time zone and spool directory need a
 * restart (the open days and the spool belong to them). The swap is one
 * step on the main thread: every thread that borrowed the old generation
 * is stopped first (the poll workers after their cycle, whose readings
 * are journaled and handed to the core; the uploader after its pass),
 * the new generation replaces the old one, and the threads start again on
 * it. Meter health counters start afresh.
 */
#include <string.h>

#include "daemon_ctx.h"

/* The new file, loaded and checked against the running one; NULL (the
 * reason logged) when it cannot replace it. */
static struct gw_config *load_next(const struct gw_config *old)
{
	struct gw_config *ncfg;

	gw_info("reload: reading %s", old->path);
	if (gw_config_load(old->path, &ncfg)) {
		gw_err("reload: %s has errors (reported above); keeping the running configuration",
		       old->path);
		return NULL;
	}
	if (strcmp(ncfg->gateway_id, old->gateway_id) ||
	    strcmp(ncfg->timezone, old->timezone) ||
	    strcmp(ncfg->spool_dir, old->spool_dir)) {
		gw_err("reload: id, timezone and spool_dir change only with a restart; keeping the running configuration");
		gw_config_free(ncfg);
		return NULL;
	}
	ncfg->clock = old->clock; /* the command line's clock stays */
	return ncfg;
}

/* Stops the threads of the running generation; what the workers read
 * before they stopped goes into the core. The journal stays open (no
 * thread appends to it now). */
static void stop_generation(struct gw_daemon *d)
{
	gw_sched_stop(d->sched);
	for (size_t n; (n = gw_sched_take(d->sched, &d->buf, &d->cap, 0)) > 0;)
		gw_daemon_add_readings(d, n);
	gw_daemon_take_events(d);
	gw_sched_free(d->sched);
	d->sched = NULL;
	gw_daemon_uploader_stop(d);
}

/* Starts the poll workers and the uploader on d->cfg with scheduler s. */
static void start_generation(struct gw_daemon *d, struct gw_sched *s)
{
	d->sched = s;
	d->polled = 0;
	/* a new flight table: its codes will be numbered afresh */
	if (d->ct.n_mark_codes)
		memset(d->ct.mark_codes, 0,
		       d->ct.n_mark_codes * sizeof(*d->ct.mark_codes));
	gw_sched_set_sink(s, gw_daemon_journal_sink, d);
	gw_daemon_uploader_start(d);
	if (gw_sched_start(s))
		gw_err("reload: cannot start the poll workers");
}

/* The journal for n_buses: reopened only once no worker of the old
 * generation appends to the old handle (two handles would number new
 * segments alike, and a cycle's append would fail on the name taken). */
static int reopen_journal(struct gw_daemon *d, const struct gw_config *cfg)
{
	gw_journal_close(d->du.journal);
	d->du.journal = NULL;
	return gw_journal_open(cfg->spool_dir, cfg->n_buses, &d->du.journal);
}

void gw_daemon_reload(struct gw_daemon *d)
{
	struct gw_config *old = d->cfg, *ncfg = load_next(old);

	if (!ncfg)
		return;
	struct gw_sched *ns = gw_sched_new(ncfg, &ncfg->clock);
	struct gw_sched *os = gw_sched_new(old, &old->clock); /* to go back */
	if (!ns || !os) {
		gw_err("reload: out of memory; keeping the running configuration");
		gw_sched_free(ns);
		gw_sched_free(os);
		gw_config_free(ncfg);
		return;
	}
	stop_generation(d);
	int rc = reopen_journal(d, ncfg);
	if (rc)
		gw_err("reload: cannot open the journal; keeping the running configuration");
	else if ((rc = gw_clock_marks_use(d->ct.marks, ncfg)))
		gw_err("reload: out of memory; keeping the running configuration");
	if (rc) {
		gw_sched_free(ns);
		gw_config_free(ncfg);
		if (reopen_journal(d, old)) {
			gw_err("reload: cannot open the journal again; stopping");
			gw_sched_free(os);
			atomic_store(d->stop, 1);
			return;
		}
		start_generation(d, os);
		return;
	}
	gw_sched_free(os);

	/* No other thread runs now: the swap. */
	d->cfg = ncfg;
	d->generation++;
	d->du.bound.max_bytes = ncfg->spool_max_bytes;
	d->du.bound.policy = ncfg->spool_full_policy;
	d->du.bound.allow_delete_unuploaded = ncfg->allow_delete_unuploaded;
	struct gw_batcher_params bp = gw_daemon_batcher_params(d);
	gw_batcher_set_params(d->bat, &bp);
	gw_config_free(old);
	start_generation(d, ns);
	gw_info("reload: %d meters on %d buses (configuration %lu)", ncfg->n_meters,
		ncfg->n_buses, d->generation);
	/* at once: the operator looks for the new generation, and the poll
	 * cycles' counts and alarms start afresh with the new workers */
	gw_daemon_write_status(d);
}
