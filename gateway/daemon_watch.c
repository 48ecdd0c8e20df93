/* SPDX-License-Identifier: MIT */
/*
 * daemon_watch.c - what gatewayd tells systemd (notify.h): READY=1 once
 * the configuration is loaded, the spool recovered and the threads
 * started; a one-line STATUS= when it changes; WATCHDOG=1 while every
 * thread makes progress; STOPPING=1 when it stops.
 *
 * The watchdog rule (docs/deployment.md, "The watchdog"): every bus's
 * poll worker, this main loop and the uploader beat a heartbeat
 * (heartbeat.h) at each turn of their loops, the idle turns of their
 * waits included (a worker's sleep to the next poll time beats every
 * 100 ms, the uploader's wait every second). A thread is stale when it
 * has not beaten for longer than its bound (real time):
 *
 *   bus workers, main loop  [gateway] stall_after (default 10 min): one
 *                           meter read, or one turn of the loop;
 *   uploader                [database] stall_after + [gateway] stall_after:
 *                           its pass beats at each batch begun or done, so
 *                           a pass without one raises upload_stalled
 *                           first, and is taken for stuck later.
 *
 * WATCHDOG=1 goes out every quarter of systemd's WatchdogSec, and only
 * while no heartbeat is stale; a stuck thread is logged once, by name, and
 * systemd restarts the gateway when WatchdogSec passes without a ping (the
 * journal and the spool make a restart lose nothing). A stuck main loop
 * sends nothing at all.
 */
#include <stdio.h>
#include <string.h>

#include "daemon_ctx.h"
#include "heartbeat.h"
#include "notify.h"

/* The heartbeats are checked this often (real time). */
#define CHECK_PERIOD_US 1000000LL
/* STATUS= is sent when its text changed, at most this often (the last
 * readings' time changes with every poll cycle). */
#define STATUS_PERIOD_US 5000000LL

static int ready_sent; /* READY=1 goes out once per process */

void gw_daemon_watch_start(struct gw_daemon *d)
{
	struct daemon_watch *w = &d->watch;
	int64_t now = gw_heartbeat_now_us();

	w->hb = gw_heartbeat_start("main", NULL, (int64_t)d->cfg->stall_after_s * 1000000);
	w->next_check_us = now;
	w->next_ping_us = now;
	if (!ready_sent) {
		gw_notify_send("READY=1");
		ready_sent = 1;
		int64_t wd = gw_notify_watchdog_us();
		if (wd)
			gw_info("systemd: watchdog every %lld ms; a thread without "
				"progress for %d s stops it",
				(long long)(wd / 1000), d->cfg->stall_after_s);
	}
}

/* Whether every thread is fresh now; logs a stale one once, and the end
 * of it once. */
static int all_fresh(struct daemon_watch *w, int64_t now)
{
	char name[GW_ID_MAX + 8];
	int64_t silent;
	int n = gw_heartbeat_check(now, name, sizeof(name), &silent);

	if (n && !w->stale)
		gw_err("watchdog: the %s thread has made no progress for %lld s%s; "
		       "systemd is no longer told the gateway is alive",
		       name, (long long)(silent / 1000000),
		       n > 1 ? " (and others)" : "");
	else if (!n && w->stale)
		gw_info("watchdog: every thread makes progress again");
	w->stale = n > 0;
	return n == 0;
}

/* The meters online (read well in their last cycle) and the buses polled
 * (those with meters: each has a worker). */
static void meters_online(struct gw_daemon *d, int *online, int *buses)
{
	const struct gw_config *cfg = d->cfg;

	*online = *buses = 0;
	for (int m = 0; m < cfg->n_meters && d->sched; m++) {
		struct gw_meter_health h;
		gw_sched_health(d->sched, m, &h);
		*online += !h.offline && !h.consecutive_failures && h.cycles;
	}
	for (int b = 0; b < cfg->n_buses; b++) {
		int m = 0;
		while (m < cfg->n_meters && cfg->meters[m].bus != b)
			m++;
		*buses += m < cfg->n_meters;
	}
}

/* STATUS= when its text changed and the last is STATUS_PERIOD_US old. */
static void send_status(struct gw_daemon *d, int64_t now)
{
	struct daemon_watch *w = &d->watch;
	char msg[sizeof(w->status)], t[40] = "-";
	int online, buses;

	if (!gw_notify_active() || now < w->status_next_us || !w->alarms[0])
		return; /* nobody to tell: not worth counting the meters */
	meters_online(d, &online, &buses);
	if (w->last_cycle_ms)
		gw_format_utc(w->last_cycle_ms, t, sizeof(t));
	snprintf(msg, sizeof(msg),
		 "STATUS=%d bus%s polling, %d/%d meters online, last readings %s, "
		 "spool backlog %u batch%s, alarms: %s",
		 buses, buses == 1 ? "" : "es", online, d->cfg->n_meters, t,
		 w->ready_batches, w->ready_batches == 1 ? "" : "es", w->alarms);
	if (strcmp(msg, w->status) == 0)
		return;
	gw_strlcpy(w->status, msg, sizeof(w->status));
	w->status_next_us = now + STATUS_PERIOD_US;
	gw_notify_send(msg);
}

void gw_daemon_watch_turn(struct gw_daemon *d, size_t readings)
{
	struct daemon_watch *w = &d->watch;
	int64_t now = gw_heartbeat_now_us(), wd = gw_notify_watchdog_us();

	gw_heartbeat_beat(w->hb);
	if (readings)
		w->last_cycle_ms = gw_clock_now_ms(&d->cfg->clock);
	if (now < w->next_check_us)
		return;
	send_status(d, now);
	/* at least as often as the pings are due */
	w->next_check_us = now + (wd && wd / 4 < CHECK_PERIOD_US ? wd / 4
								 : CHECK_PERIOD_US);
	if (!all_fresh(w, now) || !wd || now < w->next_ping_us)
		return;
	gw_notify_send("WATCHDOG=1");
	w->next_ping_us = now + wd / 4;
}

void gw_daemon_watch_status(struct gw_daemon *d, const char *alarms,
			    unsigned ready_batches)
{
	struct daemon_watch *w = &d->watch;
	int changed = strcmp(alarms, w->alarms) != 0;

	gw_strlcpy(w->alarms, alarms, sizeof(w->alarms));
	w->ready_batches = ready_batches;
	if (changed) /* an alarm raised or ended is told at once */
		w->status_next_us = 0;
	send_status(d, gw_heartbeat_now_us());
}

void gw_daemon_watch_stop(struct gw_daemon *d)
{
	if (!d->ct.restart)
		gw_notify_send("STOPPING=1");
	gw_heartbeat_remove(d->watch.hb);
	d->watch.hb = NULL;
}
