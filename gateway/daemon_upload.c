/* SPDX-License-Identifier: MIT */
/*
 * daemon_upload.c - gatewayd's upload thread: loads ready batches oldest
 * first (upload.c), woken when a day is sealed and every upload_interval.
 * A failed pass is retried with exponential backoff and jitter up to
 * [database] retry_max, so a database that is down costs time, never data,
 * and never a busy loop. After a pass that loaded batches (or any pass
 * while the main loop wants a witness of its clock) it asks the server
 * for its clock. On a stop, a pass still running after a grace time has
 * its query cancelled.
 *
 * The thread runs on the configuration generation it was started with
 * (up.cfg); a reload stops it and starts it again on the next one
 * (daemon_ctx.h).
 */
#include <stdlib.h>
#include <time.h>

#include "daemon_ctx.h"
#include "heartbeat.h"

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Waits up to ms for a kick or a stop, with the lock held on entry and on
 * return. On the monotonic clock (pthread_cond_clockwait): a step of the
 * wall clock neither shortens nor stretches the wait. In turns of at most
 * a second, each a heartbeat (daemon_watch.c) taken without the lock: the
 * main loop reads the fields under it for the status. */
static void timed_wait(struct uploader_thread *u, int64_t ms)
{
	int64_t end = mono_us() + ms * 1000;

	while (!u->kick && !u->stop) {
		int64_t now = mono_us();
		if (now >= end)
			break;
		int64_t until = now + 1000000 < end ? now + 1000000 : end;
		struct timespec ts = {.tv_sec = (time_t)(until / 1000000),
				      .tv_nsec = (long)(until % 1000000) * 1000};
		pthread_cond_clockwait(&u->cond, &u->lock, CLOCK_MONOTONIC, &ts);
		pthread_mutex_unlock(&u->lock);
		gw_heartbeat_tick();
		pthread_mutex_lock(&u->lock);
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

/* Notes a pass's outcome for the status file (under the lock). */
static void pass_done(struct uploader_thread *u, struct gw_uploader *up, int rc,
		      unsigned failures)
{
	pthread_mutex_lock(&u->lock);
	u->pass_start_us = 0;
	gw_strlcpy(u->unassigned, gw_uploader_unassigned(up),
		   sizeof(u->unassigned));
	u->rows_total += gw_uploader_take_rows(up);
	if (rc >= 0) {
		u->failures = 0;
		u->batches_total += (unsigned)rc;
		if (rc > 0)
			u->last_ok_ms = gw_clock_now_ms(&u->cfg->clock);
	} else {
		u->failures = failures + 1;
		u->failed_total++;
		u->last_rc = rc;
	}
	pthread_mutex_unlock(&u->lock);
}

/* The wait before the next pass after one that returned rc: 0 while
 * uploads succeed; after a failure 1 s, 2 s, 4 s ... up to retry_max, each
 * with up to 50% random jitter so that many gateways that lost the same
 * database do not come back in lockstep. */
static int64_t next_backoff(const struct gw_config *cfg, int rc, int64_t backoff,
			    struct gw_logrl *rl, unsigned *seed)
{
	unsigned long n, quiet = 0;

	if (rc >= 0) {
		if ((n = gw_logrl_ok(rl)))
			gw_info("upload: database reachable again after %lu failed attempt%s",
				n, n == 1 ? "" : "s");
		return 0;
	}
	int say = gw_logrl_fail(rl, &quiet); /* the 1st, 2nd, 4th ... */
	int64_t max = (int64_t)cfg->upload_retry_max_s * 1000;
	int64_t base = backoff ? backoff * 2 : 1000;
	if (base > max)
		base = max;
	backoff = base / 2 + (int64_t)(rand_r(seed) % (base / 2 + 1));
	if (say)
		gw_warn("upload: %s, attempt %lu; next try in %lld ms (%lu not "
			"logged since the last)", gw_strerror(rc),
			gw_logrl_count(rl), (long long)backoff, quiet);
	return backoff;
}

static void *uploader_main(void *arg)
{
	struct uploader_thread *u = arg;
	const struct gw_config *cfg = u->cfg;
	struct gw_uploader *up = gw_uploader_new(cfg->db_conninfo);
	int64_t backoff = 0; /* ms; 0 while uploads succeed */
	struct gw_logrl failures = {0}; /* passes failed in a row */
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
	/* a pass beats at each batch begun or done (upload_conn.c) */
	struct gw_heartbeat *hb = gw_heartbeat_start(
		"upload", NULL,
		((int64_t)cfg->db_stall_after_s + cfg->stall_after_s) * 1000000);
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
		pass_done(u, up, rc, (unsigned)gw_logrl_count(&failures));
		pthread_mutex_lock(&u->lock);
		int want = u->want_clock;
		pthread_mutex_unlock(&u->lock);
		if (!cfg->clock.simulated && (rc > 0 || (rc == 0 && want)))
			database_clock(u, up);
		backoff = next_backoff(cfg, rc, backoff, &failures, &seed);
		if (stopping)
			break;
	}
	pthread_mutex_lock(&u->lock);
	u->client = NULL;
	pthread_mutex_unlock(&u->lock);
	gw_heartbeat_remove(hb);
	gw_uploader_free(up);
	return NULL;
}

void gw_daemon_uploader_kick(struct gw_daemon *d)
{
	struct uploader_thread *u = &d->up;

	if (!u->started)
		return;
	pthread_mutex_lock(&u->lock);
	u->kick = 1;
	pthread_cond_signal(&u->cond);
	pthread_mutex_unlock(&u->lock);
}

void gw_daemon_uploader_start(struct gw_daemon *d)
{
	struct uploader_thread *up = &d->up;

	up->cfg = d->cfg; /* before the thread starts: its generation */
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

void gw_daemon_uploader_stop(struct gw_daemon *d)
{
	struct uploader_thread *up = &d->up;

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

