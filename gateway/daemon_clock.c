/* SPDX-License-Identifier: MIT */
/*
 * daemon_clock.c - the gateway's trust in its clock (clockcheck.h holds
 * the rules as pure functions; this file feeds them).
 *
 * Days are sealed by the time the clock's witnesses allow, never on the
 * word of a clock that disagrees wildly with them: what the gateway
 * recorded of its past (<spool>/state), the monotonic clock (a step of the
 * wall clock is not time passing), the meters' clocks (from the
 * scheduler's health), the database server's (from the upload thread) and
 * the operator (`gwctl clock trust`). While the clock is held, readings
 * and events it stamps far from the witnesses' time are journaled but kept
 * out of days; when the hold ends the main loop starts over from the
 * journal (ct.restart).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "daemon_ctx.h"
#include "tz.h"

/* The time days may be sealed by: what the clock's witnesses allow, and,
 * while readings are withheld ahead, not into the day of the first one
 * (a gateway that was off for a while, whose clock may be right: its day
 * waits for them). */
int64_t gw_daemon_seal_time(const struct gw_daemon *d)
{
	const struct clocktrust *ct = &d->ct;
	const struct gw_clock *clk = &d->cfg->clock;
	int64_t t = gw_clockcheck_seal_ms(&ct->cc, gw_clock_now_ms(clk),
					  gw_clock_mono_ms(clk));

	return ct->first_withheld < t ? ct->first_withheld : t;
}

/* Acts on a change of the clock's trust: logs it, tells the journal sink
 * and, when a hold ends with readings or events withheld, asks the main
 * loop to start over from the journal. */
static void clock_changed(struct gw_daemon *d, enum gw_clock_change ch)
{
	struct clocktrust *ct = &d->ct;
	const struct gw_clock *clk = &d->cfg->clock;
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
		if (gw_daemon_save_state(d, d->du.next_day))
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

/* The meters' clock samples (ct->mc, one per configured meter) exist
 * only while the meters can move the clock's trust, and only once a
 * meter's clock has been read: NULL stands for every meter's sample
 * empty (no read, none since the reset). A fleet of Modbus meters, which
 * tell no time, never has them; once they can no longer matter they are
 * freed (24 bytes a meter: 240 kB at 10,000). */

/* Room for the samples: made empty. 0 or GW_ENOMEM. */
static int meters_room(struct clocktrust *ct)
{
	if (!ct->mc)
		ct->mc = calloc((size_t)ct->n_mc + 1, sizeof(*ct->mc));
	return ct->mc ? 0 : GW_ENOMEM;
}

/* Resets the meters' clock samples (at start, when a hold begins and on
 * a new configuration): only reads after it count. */
static void meters_reset(struct clocktrust *ct, const struct gw_config *cfg,
			 struct gw_sched *sched)
{
	free(ct->mc);
	ct->mc = NULL;
	ct->n_mc = cfg->n_meters;
	ct->mc_holds = ct->cc.holds;
	for (int m = 0; m < ct->n_mc; m++) {
		struct gw_meter_health h;
		gw_sched_health(sched, m, &h);
		if (!h.clock_read_ms)
			continue;
		if (meters_room(ct)) {
			ct->n_mc = 0; /* out of memory: reset again next time */
			return;
		}
		ct->mc[m].read_ms = h.clock_read_ms;
	}
}

/* The meters' clocks read since the samples were reset, when any is new. */
static enum gw_clock_change meters_witness(struct clocktrust *ct,
					   const struct gw_config *cfg,
					   struct gw_sched *sched, int64_t now,
					   int64_t mono)
{
	int news = 0, n = 0;

	if (ct->cc.trust == GW_CLOCK_TRUSTED && (!ct->cc.fresh || ct->cc.confirmed)) {
		/* The meters can no longer move the clock's trust, till a
		 * hold begins (a gateway's past and a confirmation stay):
		 * that resets the samples, so none is kept meanwhile. */
		free(ct->mc);
		ct->mc = NULL;
		ct->n_mc = 0;
		return GW_CLOCK_SAME;
	}
	if (ct->mc_holds != ct->cc.holds || ct->n_mc != cfg->n_meters)
		meters_reset(ct, cfg, sched);
	for (int m = 0; m < ct->n_mc; m++) {
		struct gw_meter_health h;
		gw_sched_health(sched, m, &h);
		if (!h.clock_read_ms ||
		    (ct->mc && h.clock_read_ms == ct->mc[m].read_ms))
			continue;
		if (meters_room(ct))
			return GW_CLOCK_SAME;
		ct->mc[m].read_ms = h.clock_read_ms;
		ct->mc[m].offset = h.clock_offset_ms;
		ct->mc[m].have = 1;
		news++;
	}
	if (!news)
		return GW_CLOCK_SAME;
	int64_t *off = malloc(((size_t)ct->n_mc + 1) * sizeof(*off));
	if (!off) /* the samples are kept: the next new one decides */
		return GW_CLOCK_SAME;
	for (int m = 0; m < ct->n_mc; m++)
		if (ct->mc[m].have)
			off[n++] = ct->mc[m].offset;
	enum gw_clock_change ch = gw_clockcheck_meters(&ct->cc, now, mono, off, n);
	free(off);
	return ch;
}

/* A step of the wall clock: a step within max_jump is taken as it comes
 * (and logged); after a step back, the time lived twice is guarded. The
 * tick is given the clock as the step's measure read it, not a time read
 * before: a step landing between the two would otherwise be judged
 * against a time from before it, the hold's witness time put a whole
 * step off (it never came back within max_jump). */
static enum gw_clock_change clock_step(struct gw_daemon *d)
{
	struct clocktrust *ct = &d->ct;
	int64_t now, mono;
	int64_t step = gw_clock_step_ms(&d->cfg->clock, &ct->watch);

	gw_clock_watch_times(&d->cfg->clock, &ct->watch, &now, &mono);
	enum gw_clock_change ch = gw_clockcheck_tick(&ct->cc, now, mono, step);

	if (step && ch == GW_CLOCK_SAME && ct->cc.trust == GW_CLOCK_TRUSTED) {
		char t[32];
		gw_warn("clock: stepped %s (within max_jump: taken as it comes)",
			gw_clock_duration(step, 1, t, sizeof(t)));
	}
	if (step < 0) {
		/* the time lived twice ends when the clock passes where it
		 * was before the step */
		pthread_mutex_lock(&ct->lock);
		ct->guard_ms = (int64_t)d->cfg->poll_interval_s * 500;
		if (now - step + ct->guard_ms > ct->back_until)
			ct->back_until = now - step + ct->guard_ms;
		pthread_mutex_unlock(&ct->lock);
	}
	return ch;
}

/* The database server's clock, when the uploader took a new sample; and
 * whether the main loop wants one. */
static enum gw_clock_change database_witness(struct gw_daemon *d, int64_t now,
					     int64_t mono)
{
	struct clocktrust *ct = &d->ct;
	struct uploader_thread *up = &d->up;
	int got = 0;
	int64_t off = 0;

	if (!up->started)
		return GW_CLOCK_SAME;
	pthread_mutex_lock(&up->lock);
	up->want_clock = ct->cc.trust != GW_CLOCK_TRUSTED ||
			 (ct->cc.fresh && !ct->cc.confirmed);
	if (up->db_samples != ct->db_seen) {
		ct->db_seen = up->db_samples;
		off = up->db_offset_ms;
		got = 1;
	}
	pthread_mutex_unlock(&up->lock);
	return got ? gw_clockcheck_database(&ct->cc, now, mono, off) : GW_CLOCK_SAME;
}

/* Every turn of the main loop: a step of the wall clock; every second (of
 * the monotonic clock) the meters' clocks, the database's and the
 * operator. Returns 1 if the clock's trust changed (the status follows at
 * once). */
int gw_daemon_clock_turn(struct gw_daemon *d)
{
	struct clocktrust *ct = &d->ct;
	const struct gw_config *cfg = d->cfg;
	int64_t now = gw_clock_now_ms(&cfg->clock), mono = gw_clock_mono_ms(&cfg->clock);
	int64_t real = gw_daemon_mono_us();
	enum gw_clock_change ch = clock_step(d);
	int changed = ch != GW_CLOCK_SAME;

	clock_changed(d, ch);
	if (real < d->timers.witnesses || ct->restart)
		return changed;
	d->timers.witnesses = real + 1000000;
	ch = meters_witness(ct, cfg, d->sched, now, mono);
	clock_changed(d, ch);
	changed |= ch != GW_CLOCK_SAME;
	ch = database_witness(d, now, mono);
	clock_changed(d, ch);
	changed |= ch != GW_CLOCK_SAME;
	if (trust_requested(cfg->spool_dir)) {
		ch = gw_clockcheck_confirm(&ct->cc, now, mono);
		if (ch == GW_CLOCK_HELD)
			gw_err("clock: gwctl clock trust refused: %s", ct->detail);
		else if (ch == GW_CLOCK_SAME)
			gw_info("clock: gwctl clock trust: the clock was trusted already");
		else
			clock_changed(d, ch);
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
void gw_daemon_clock_start(struct gw_daemon *d)
{
	struct clocktrust *ct = &d->ct;
	const struct gw_config *cfg = d->cfg;
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

/* [clock] max_jump, or its default: 2 hours (more than the hour of a
 * daylight-saving meter clock, and of an NTP step back), and with a
 * simulated clock at least a minute of real time, so that restarting a
 * gateway in a test is not taken for a jump. */
int64_t gw_daemon_max_jump_ms(const struct gw_config *cfg)
{
	int64_t ms = 7200 * 1000;

	if (cfg->clock_max_jump_s)
		return cfg->clock_max_jump_s * 1000;
	if (cfg->clock.simulated && cfg->clock.speed * 60 * 1000 > ms)
		ms = cfg->clock.speed * 60 * 1000;
	return ms;
}
