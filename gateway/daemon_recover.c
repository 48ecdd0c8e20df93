/* SPDX-License-Identifier: MIT */
/*
 * daemon_recover.c - gatewayd's start-up from its spool (docs/
 * spool-format.md): the spool is checked (interrupted writes removed,
 * undecodable batches quarantined), the batcher learns which days are
 * sealed already and the books at the revision window's edge, and the
 * journal is replayed into it, so a crash or power loss costs at most the
 * cycle that was being written. What a clock that was wrong stamped is
 * kept out of days: readings from beyond the last time the gateway
 * believed are set aside (bad_time) and moved out of the journal;
 * readings stamped while the clock is held are withheld until it is
 * confirmed or corrected.
 */
#include <stdlib.h>

#include "daemon_ctx.h"
#include "drops.h"
#include "edges.h"
#include "rewind.h"
#include "tz.h"

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

/* The journal holds readings or events stamped after cut by a clock that
 * was wrong (it jumped ahead and came back): they stay out of days, are
 * counted (bad_time), and are moved out of the journal (its segments are
 * rewritten without them, the old ones set aside in quarantine/), so that
 * they are neither replayed at every start nor put into their false day
 * once it comes. */
static int set_aside_false(struct gw_daemon *d, int64_t cut, unsigned long readings,
			   unsigned long events)
{
	const struct gw_config *cfg = d->cfg;
	struct durable *du = &d->du;
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

/* The spool checked: interrupted writes removed, undecodable batches
 * quarantined. */
static int check_spool(struct gw_daemon *d)
{
	struct durable *du = &d->du;
	int r = gw_spool_recover(d->cfg->spool_dir, &du->recovery);

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
	return 0;
}

/* After the replay: what it found about the clock, set aside and logged. */
static int after_replay(struct gw_daemon *d, const struct replay_ctx *rc)
{
	struct durable *du = &d->du;
	struct clocktrust *ct = &d->ct;
	char day[16];

	if (!ct->seen_known &&
	    gw_clockcheck_journal(&ct->cc, rc->now, rc->mono, rc->newest) == GW_CLOCK_HELD) {
		/* what was replayed agrees with the witness; the clock's own
		 * readings from now on are withheld */
		gw_clockcheck_describe(&ct->cc, rc->now, rc->mono, ct->detail,
				       sizeof(ct->detail));
		gw_err("clock: held at start (alarm clock_jump): the journal holds "
		       "readings up to %lld s after the clock: %s",
		       (long long)((rc->newest - rc->now) / 1000), ct->detail);
		pthread_mutex_lock(&ct->lock);
		ct->no_window = 1;
		pthread_mutex_unlock(&ct->lock);
	}
	if (rc->false_readings || rc->false_events) {
		int r = set_aside_false(d, rc->cut, rc->false_readings, rc->false_events);
		if (r)
			return r;
	}
	if (rc->clock_back)
		gw_info("journal: %lu readings set aside when they were read (the "
			"clock had stepped back) stay out of days", rc->clock_back);
	if (ct->withheld || ct->withheld_events)
		gw_warn("journal: %llu readings and %llu events stamped by the held "
			"clock are kept out of days until the hold ends",
			ct->withheld, ct->withheld_events);
	char sealed[64];
	if (rc->next_day == INT32_MIN)
		gw_strlcpy(sealed, "no day sealed yet", sizeof(sealed));
	else
		snprintf(sealed, sizeof(sealed), "days before %s were sealed already",
			 gw_day_format(rc->next_day, day, sizeof(day)));
	gw_info("journal: replayed %lu cycles (%lu readings, %lu events) from %u "
		"segment%s; %s%s",
		du->replay.cycles, du->replay.readings, du->replay.events,
		du->replay.segments, du->replay.segments == 1 ? "" : "s", sealed,
		du->replay.torn ? "; a torn tail was cut" : "");
	return 0;
}

/* Start-up: check the spool, tell the batcher which days are sealed, and
 * replay the journal into it. */
int gw_daemon_recover(struct gw_daemon *d)
{
	const struct gw_config *cfg = d->cfg;
	struct durable *du = &d->du;
	struct clocktrust *ct = &d->ct;
	struct replay_ctx rc = {.bat = d->bat};
	int r = check_spool(d);

	if (r)
		return r;
	r = gw_spool_next_day(cfg->spool_dir, cfg->gateway_id, &rc.next_day);
	if (r)
		return r;
	if (rc.next_day != INT32_MIN) {
		gw_batcher_restore(d->bat, rc.next_day);
		if (gw_edges_read(cfg->spool_dir, d->bat) == GW_ENOMEM)
			return GW_ENOMEM;
	}
	du->next_day = rc.next_day;
	gw_daemon_clock_start(d);
	rc.ct = ct;
	rc.now = gw_clock_now_ms(&cfg->clock);
	rc.mono = gw_clock_mono_ms(&cfg->clock);
	/* A clock trusted by "seen" agrees with the last time the gateway
	 * believed: what the journal holds from further ahead was stamped by
	 * a clock that was wrong. Without "seen" (a spool of the version
	 * before) the journal itself is the witness: its newest reading. */
	rc.newest = INT64_MIN;
	rc.cut = ct->cc.trust == GW_CLOCK_TRUSTED && ct->seen_known
			 ? rc.now + ct->max_jump_ms
			 : INT64_MAX;
	r = gw_journal_replay(du->journal, replay_cycle_ctx, replay_event, &rc,
			      &du->replay);
	free(rc.buf);
	if (r == 0)
		r = after_replay(d, &rc);
	/* the sealed days' replayed points to disk now, not at the next seal */
	if (r == 0 && gw_batcher_spill_now(d->bat))
		gw_err("points: the replayed points could not be spilled");
	return r;
}
