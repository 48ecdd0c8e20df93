/* SPDX-License-Identifier: MIT */
/*
 * daemon.c - the gateway's main loop and its upload thread; see daemon.h.
 *
 * Threads: one poll worker per bus (scheduler.c), this loop (batching core
 * and spool writes: the batcher is touched by this thread only), and one
 * upload thread that loads ready batches oldest first. A failed upload is
 * retried with exponential backoff and jitter up to [database] retry_max,
 * so a database that is down costs time, never data, and never a busy loop.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "daemon.h"
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
};

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

static void take_events(struct gw_sched *sched, struct gw_batcher *bat,
			struct gw_event **buf, size_t *cap)
{
	size_t n = gw_sched_take_events(sched, buf, cap);

	for (size_t i = 0; i < n; i++)
		if (gw_batcher_add_event(bat, &(*buf)[i]))
			gw_err("batching: out of memory; event lost");
}

/* The value at which a meter's register rolls over, from its profile: an
 * unsigned integer register of 16 or 32 bits counting in steps of
 * 10^exp10 / divisor of its unit. 0 when unknown, never (64 bits, floats)
 * or not a whole number of Wh. */
static int64_t register_rollover(void *ctx, const char *meter_id,
				 const char *obis)
{
	const struct gw_config *cfg = ctx;
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

int gw_daemon_run(const struct gw_config *cfg, const struct gw_daemon_opts *opts,
		  volatile sig_atomic_t *stop)
{
	struct gw_batcher_params bp = {
		.gateway_id = cfg->gateway_id,
		.poll_interval_ms = (int64_t)cfg->poll_interval_s * 1000,
		.midnight_tolerance_ms = (int64_t)cfg->midnight_tolerance_s * 1000,
		.max_gap_ms = (int64_t)cfg->max_gap_s * 1000,
		.seal_delay_ms = (int64_t)cfg->seal_delay_s * 1000,
		.max_power_w = cfg->max_power_w,
		.revision_window_days = cfg->revision_window_days,
		.rollover = register_rollover,
		.rollover_ctx = (void *)cfg,
	};
	struct uploader_thread up = {.cfg = cfg};
	struct seal_ctx sc = {.cfg = cfg, .up = &up};
	struct gw_reading *buf = NULL;
	size_t cap = 0;
	struct gw_event *evbuf = NULL;
	size_t evcap = 0;
	unsigned seal_failures = 0;
	int rc;

	rc = gw_tz_set(cfg->timezone);
	if (rc) {
		gw_err("time zone %s: %s", cfg->timezone, gw_strerror(rc));
		return rc;
	}
	rc = gw_spool_open(cfg->spool_dir);
	if (rc)
		return rc;
	struct gw_batcher *bat = gw_batcher_new(&bp);
	struct gw_sched *sched = gw_sched_new(cfg, &cfg->clock);
	if (!bat || !sched) {
		gw_batcher_free(bat);
		gw_sched_free(sched);
		return GW_ENOMEM;
	}
	pthread_mutex_init(&up.lock, NULL);
	pthread_cond_init(&up.cond, NULL);
	if (cfg->db_conninfo[0]) {
		if (pthread_create(&up.thread, NULL, uploader_main, &up) == 0)
			up.started = 1;
		else
			gw_err("upload: cannot start thread; batches stay in the spool");
	} else {
		gw_info("no [database] conninfo: batches stay in the spool");
	}
	rc = gw_sched_start(sched);
	char t[40];
	gw_info("gateway %s: %d meters on %d buses, zone %s, clock %s%s",
		cfg->gateway_id, cfg->n_meters, cfg->n_buses, cfg->timezone,
		gw_format_utc(gw_clock_now_ms(&cfg->clock), t, sizeof(t)),
		cfg->clock.simulated ? " (simulated)" : "");

	while (rc == 0 && !*stop) {
		size_t n = gw_sched_take(sched, &buf, &cap, 100);
		if (n && gw_batcher_add(bat, buf, n))
			gw_err("batching: out of memory; %zu readings lost", n);
		take_events(sched, bat, &evbuf, &evcap);
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
		if (opts && opts->stop_at_ms && now >= opts->stop_at_ms) {
			gw_info("clock reached the stop time");
			break;
		}
	}
	gw_sched_stop(sched);
	size_t n = gw_sched_take(sched, &buf, &cap, 0);
	if (n)
		gw_batcher_add(bat, buf, n);
	take_events(sched, bat, &evbuf, &evcap);
	gw_batcher_advance(bat, gw_clock_now_ms(&cfg->clock), on_sealed, &sc);
	if (up.started) {
		pthread_mutex_lock(&up.lock);
		up.stop = 1;
		pthread_cond_signal(&up.cond);
		pthread_mutex_unlock(&up.lock);
		pthread_join(up.thread, NULL);
	}
	pthread_mutex_destroy(&up.lock);
	pthread_cond_destroy(&up.cond);
	gw_sched_free(sched);
	gw_batcher_free(bat);
	free(buf);
	free(evbuf);
	gw_info("gateway %s stopped", cfg->gateway_id);
	return rc;
}
