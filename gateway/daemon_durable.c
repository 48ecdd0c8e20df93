/* SPDX-License-Identifier: MIT */
/*
 * daemon_durable.c - what gatewayd makes durable, and when.
 *
 * Every poll cycle is appended to the journal and fsync'ed by its bus
 * worker before it reaches the batcher (the scheduler's cycle sink, here).
 * Readings stamped at or before a reading of their register already taken
 * (the clock stepped back) are set aside by that sink (GW_RS_CLOCK_BACK)
 * and counted (clock_back). The main loop then takes the readings and
 * events into the batching core and seals the days that are over: each
 * sealed day is written into ready/, the sealed-through state recorded,
 * the books at the revision window's edge written, journal segments no
 * longer needed removed and the spool's size bound enforced. A day whose
 * batch cannot be written stays open and is tried again with backoff.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "batchfile.h"
#include "daemon_ctx.h"
#include "drops.h"
#include "edges.h"
#include "tz.h"

/* Marks the end of a step of the seal running (seal_took). */
static void seal_step(struct durable *du, enum seal_step k)
{
	struct timespec ts;

	du->seal_at[k] = gw_daemon_mono_us();
	du->seal_cpu[k] = clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts) ? 0 :
			  (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The batcher's sink for a sealed day (gw_batcher_advance_src): its next
 * revision written into ready/, the uploader woken. The day's series are
 * written into the file as they are read from the batcher's tracks, never
 * copied into memory whole. */
static int on_sealed_src(void *arg, struct gw_batch_src *src)
{
	struct gw_daemon *d = arg;
	struct gw_batch *b = src->batch;
	char day[16], name[GW_PATH_MAX];

	if (!d->du.seal_at[SEAL_BUILT])
		seal_step(&d->du, SEAL_BUILT);
	int rev = gw_spool_next_revision(d->cfg->spool_dir, b->gateway_id, b->day);
	if (rev < 0)
		return rev;
	b->revision = (uint32_t)rev;
	src->deflate = d->cfg->spool_compression;
	int rc = gw_spool_write_src(d->cfg->spool_dir, src);
	d->du.seal_err = rc == GW_ENOSPC || rc == GW_EIO ? errno : 0;
	gw_batch_filename(b, name, sizeof(name));
	if (rc == 0) {
		gw_info("sealed %s: %zu daily registers, %llu readings -> %s",
			gw_day_format(b->day, day, sizeof(day)), b->n_days,
			(unsigned long long)src->n_readings, name);
		gw_daemon_uploader_kick(d);
	}
	seal_step(&d->du, SEAL_WRITTEN);
	return rc;
}

/* The marks' number of the code numbered code in the flight table of
 * cyc's records (ct->lock held): >= 0, GW_EFULL or GW_ENOMEM. The flight
 * table's numbers stand for one scheduler; ct->mark_codes is emptied when
 * another starts (daemon_reload.c). */
static long mark_code(struct clocktrust *ct, const struct gw_fcycle *cyc,
		      unsigned code)
{
	char name[GW_OBIS_MAX];

	if (code < ct->n_mark_codes && ct->mark_codes[code])
		return (long)ct->mark_codes[code] - 1;
	if (code >= ct->n_mark_codes) {
		size_t n = ct->n_mark_codes ? ct->n_mark_codes : 64;
		while (n <= code)
			n *= 2;
		uint16_t *nc = realloc(ct->mark_codes, n * sizeof(*nc));
		if (!nc)
			return GW_ENOMEM;
		memset(nc + ct->n_mark_codes, 0, (n - ct->n_mark_codes) * sizeof(*nc));
		ct->mark_codes = nc;
		ct->n_mark_codes = n;
	}
	if (gw_fcycle_code_name(cyc, code, name))
		return GW_EINVAL;
	long mc = gw_clock_marks_code(ct->marks, name);
	if (mc >= 0)
		ct->mark_codes[code] = (uint16_t)(mc + 1);
	return mc;
}

/* Sets aside (GW_RS_CLOCK_BACK) every reading stamped at or before the
 * newest reading of its register: after the clock stepped back (by at most
 * max_jump, an NTP correction; by any amount while it is held behind),
 * such readings would fall between readings already taken and make a
 * register go up and down. They are journaled with their mark, never put
 * into days, and counted (clock_back). Load-profile and derived values
 * carry the meter's own times and are not looked at. A record is looked
 * up by its numbers (its meter's index, its code's), a reading kept whole
 * or a code the marks cannot number by its names. */
static void mark_clock_back(struct clocktrust *ct, struct gw_fcycle *cyc)
{
	unsigned long back = 0, total;
	int64_t ts = 0;
	int log;

	pthread_mutex_lock(&ct->lock);
	int64_t window = ct->no_window ? -1 : ct->max_jump_ms;
	for (size_t i = 0, n = gw_fcycle_len(cyc); i < n; i++) {
		struct gw_fkey k;
		struct gw_reading r;
		long code = GW_EFULL;
		int byname = 1, rc;
		if (gw_fcycle_key(cyc, i, &k)) {
			if (k.status != GW_RS_OK)
				continue;
			code = mark_code(ct, cyc, k.code);
			byname = code < 0;
		}
		if (byname) {
			gw_fcycle_read(cyc, i, &r, 1);
			if (r.status != GW_RS_OK)
				continue;
			k.ts_ms = r.ts_ms;
		}
		int64_t guard = k.ts_ms <= ct->back_until ? ct->guard_ms : 0;
		rc = byname ? gw_clock_marks_check(ct->marks, r.meter_id, r.obis,
						   k.ts_ms, window, guard)
			    : gw_clock_marks_check_at(ct->marks, k.meter, code,
						      k.ts_ms, window, guard);
		if (rc != 1)
			continue;
		/* four bits of a record: it stays one */
		(void)gw_fcycle_set_status(cyc, i, GW_RS_CLOCK_BACK);
		ts = k.ts_ms;
		back++;
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
static size_t read_cycle(void *ctx, size_t from, struct gw_reading *out,
			 size_t max)
{
	return gw_fcycle_read(ctx, from, out, max);
}

int gw_daemon_journal_sink(void *ctx, int bus, struct gw_fcycle *cyc)
{
	struct gw_daemon *d = ctx;
	size_t n = gw_fcycle_len(cyc);
	struct gw_reading_src src = {.n = n, .read = read_cycle, .ctx = cyc};
	struct gw_reading first, last;

	mark_clock_back(&d->ct, cyc);
	int rc = gw_journal_append_src(d->du.journal, bus, &src);

	if (rc == 0 && n && gw_fcycle_read(cyc, 0, &first, 1) &&
	    gw_fcycle_read(cyc, n - 1, &last, 1))
		gw_debug("journal: durable bus=%d n=%zu ts=%lld..%lld", bus, n,
			 (long long)first.ts_ms, (long long)last.ts_ms);
	/* A write that failed (a full disk: every cycle of every bus) is
	 * counted and logged by the journal at growing intervals, and in the
	 * status; the scheduler would log each one again. */
	if (rc == GW_ENOSPC || rc == GW_EIO)
		return 0;
	return rc;
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

/* True when the main loop should try to seal now. */
static int seal_due(struct durable *du)
{
	struct seal_retry *r = &du->retry;

	if (r->failures == 0 || gw_daemon_mono_us() >= r->next_us)
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
static void seal_tried(struct gw_daemon *d, int s)
{
	struct durable *du = &d->du;
	struct seal_retry *r = &du->retry;
	int32_t open = gw_batcher_oldest_open_day(d->bat);
	int state_failed = open != INT32_MIN && open != du->next_day;

	if (s >= 0 && !state_failed) {
		if (r->failures) {
			gw_info("spool: sealing works again after %u failed attempt%s",
				r->failures, r->failures == 1 ? "" : "s");
			r->failures = 0;
			r->backoff_us = 0;
			r->err = 0;
			gw_daemon_write_status(d);
		}
		return;
	}
	if (s < 0)
		r->err = du->seal_err;
	if (gw_daemon_nospace(r->err)) {
		/* what is in the database already makes room first */
		unsigned emptied;
		gw_spool_free_done(d->cfg->spool_dir, SEAL_ROOM, &emptied);
		du->done_pruned += emptied;
	}
	r->failures++;
	r->failed++;
	r->journal_err = gw_journal_last_errno(du->journal);
	r->backoff_us = r->backoff_us ? 2 * r->backoff_us : 1000000;
	if (r->backoff_us > SEAL_RETRY_MAX_US)
		r->backoff_us = SEAL_RETRY_MAX_US;
	r->next_us = gw_daemon_mono_us() + r->backoff_us;
	if ((r->failures & (r->failures - 1)) == 0)
		gw_err("cannot seal a day into the spool (%s%s), attempt %u; "
		       "the day stays open in memory, next try in %lld s",
		       s < 0 ? "" : "the sealed days not recorded: ",
		       r->err ? strerror(r->err) : gw_strerror(s < 0 ? s : GW_EIO),
		       r->failures,
		       (long long)(r->backoff_us / 1000000));
	gw_daemon_write_status(d);
}

/* At a stop: cycles the journal could not write (a full disk) of days
 * still open are in memory only, and lost now; say so. */
void gw_daemon_warn_not_durable(struct gw_daemon *dm)
{
	struct durable *du = &dm->du;
	int32_t open = gw_batcher_oldest_open_day(dm->bat);
	int32_t d = gw_journal_failed_day(du->journal);
	char day[16];

	if (d != INT32_MIN && open != INT32_MIN && d >= open)
		gw_err("stopping with readings the journal could not write (%lu "
		       "failed appends since start, the last for %s): they are "
		       "lost; their days are sealed from what the journal holds",
		       gw_journal_failures(du->journal),
		       gw_day_format(d, day, sizeof(day)));
}


void gw_daemon_enforce_bound(struct gw_daemon *d)
{
	struct durable *du = &d->du;
	struct gw_spool_enforce res;

	if (gw_spool_enforce(d->cfg->spool_dir, &du->bound, &res))
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
int gw_daemon_save_state(struct gw_daemon *d, int32_t next)
{
	const struct gw_clock *clk = &d->cfg->clock;
	struct gw_spool_state st = {
		.next_day = next,
		.seen_ms = gw_clockcheck_ref(&d->ct.cc, gw_clock_now_ms(clk),
					     gw_clock_mono_ms(clk)),
	};
	int rc = gw_spool_state_save(d->cfg->spool_dir, &st);

	if (rc == 0)
		d->ct.seen_saved = st.seen_ms;
	return rc;
}

/* Keeps "seen" within a quarter of max_jump of the time: a gateway that
 * restarts at once is then never taken for one whose clock jumped, and
 * the state is rewritten only that often (flash wears). */
void gw_daemon_keep_seen(struct gw_daemon *dm)
{
	const struct gw_clock *clk = &dm->cfg->clock;
	int64_t seen = gw_clockcheck_ref(&dm->ct.cc, gw_clock_now_ms(clk),
					 gw_clock_mono_ms(clk));
	int64_t d = seen - dm->ct.seen_saved;

	if ((d < 0 ? -d : d) < dm->ct.max_jump_ms / 4)
		return;
	/* A failed write (a full disk) is tried again after 1 s, 2 s, 4 s ...
	 * at most SEAL_RETRY_MAX_US, and said on the 1st, 2nd, 4th ...
	 * failure in a row and once when it works again: not on every pass
	 * of the loop. */
	struct clocktrust *ct = &dm->ct;
	int64_t now_us = gw_daemon_mono_us();
	if (ct->seen_failures && now_us < ct->seen_next_us)
		return;
	if (gw_daemon_save_state(dm, dm->du.next_day) == 0) {
		if (ct->seen_failures)
			gw_info("spool: the time seen is recorded in the state again "
				"after %u failed writes", ct->seen_failures);
		ct->seen_failures = 0;
		return;
	}
	ct->seen_failures++;
	int64_t wait = 1000000LL << (ct->seen_failures < 7 ? ct->seen_failures - 1 : 6);
	if (wait > SEAL_RETRY_MAX_US)
		wait = SEAL_RETRY_MAX_US;
	ct->seen_next_us = now_us + wait;
	if ((ct->seen_failures & (ct->seen_failures - 1)) == 0)
		gw_warn("spool: cannot record the time seen in the state (%u failed "
			"writes in a row); next try in %lld s", ct->seen_failures,
			(long long)(wait / 1000000));
}

/* After days were sealed: record the sealed-through day durably, then
 * the books at the revision window's edge (edges.h), then remove the
 * journal segments no longer needed: a segment of day X goes once
 * X+1+revision_window is sealed, so that a day sealed again after a
 * restart has all its readings and those of the final day before it. */
static void after_seal(struct gw_daemon *d)
{
	struct durable *du = &d->du;
	int32_t next = gw_batcher_oldest_open_day(d->bat);

	if (next == INT32_MIN || next == du->next_day)
		return;
	if (gw_daemon_save_state(d, next)) {
		du->retry.err = errno;
		gw_err("spool: cannot record the sealed days; journal kept");
		return;
	}
	du->next_day = next;
	seal_step(du, SEAL_STATE);
	if (gw_edges_write(d->cfg->spool_dir, d->bat))
		gw_err("spool: cannot record the books at the revision window's edge");
	seal_step(du, SEAL_EDGES);
	int n = gw_journal_prune(du->journal, next - 1 - d->cfg->revision_window_days);
	if (n < 0)
		gw_err("journal: cannot remove segments of sealed days");
	seal_step(du, SEAL_PRUNE);
	gw_daemon_enforce_bound(d);
	seal_step(du, SEAL_BOUND);
	gw_daemon_write_status(d);
	seal_step(du, SEAL_STATUS);
}

/* Moves the workers' events into the journal and the batcher; returns how
 * many there were. */
size_t gw_daemon_take_events(struct gw_daemon *d)
{
	return gw_daemon_put_events(d, gw_sched_take_events(d->sched, &d->evbuf,
							 &d->evcap));
}

size_t gw_daemon_put_events(struct gw_daemon *d, size_t n)
{
	struct gw_event **buf = &d->evbuf;
	int32_t open = gw_batcher_oldest_open_day(d->bat);

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
	if (gw_journal_append_events(d->du.journal, *buf, n, day))
		gw_err("journal: %zu events not durable; kept in memory", n);
	const struct gw_clock *clk = &d->cfg->clock;
	int64_t now = gw_clock_now_ms(clk), mono = gw_clock_mono_ms(clk);
	for (size_t i = 0; i < n; i++) {
		/* stamped by a held clock: journaled, kept out of days */
		if (gw_clockcheck_withhold(&d->ct.cc, now, mono, (*buf)[i].ts_ms)) {
			d->ct.withheld_events++;
			continue;
		}
		if (gw_batcher_add_event(d->bat, &(*buf)[i]))
			gw_err("batching: out of memory; event lost");
	}
	return n;
}

/* Adds readings taken off the scheduler's queue to the batcher: those the
 * journal sink set aside (clock_back, counted there) and those a held
 * clock stamped far from its witnesses' time (journaled; they go into
 * days when the hold ends, if the clock was right) stay out. Out of memory
 * part way, the readings that did not go in are counted (nomem). */
void gw_daemon_add_readings(struct gw_daemon *d, size_t n)
{
	struct clocktrust *ct = &d->ct;
	const struct gw_clock *clk = &d->cfg->clock;
	struct gw_batcher *bat = d->bat;
	struct gw_reading *r = d->buf;
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

/* The main thread's page faults, waits (voluntary context switches: I/O,
 * a lock, the deflate thread) and preemptions (involuntary ones: another
 * thread or process took the core). */
static void thread_use(long u[3])
{
	struct rusage ru;

	memset(u, 0, 3 * sizeof(*u));
	if (getrusage(RUSAGE_THREAD, &ru) != 0)
		return;
	u[0] = ru.ru_minflt + ru.ru_majflt;
	u[1] = ru.ru_nvcsw;
	u[2] = ru.ru_nivcsw;
}

/* How long a seal took, from the batching core to the recorded state and
 * the spool's bound (wall time on the monotonic clock), and each of its
 * steps (enum seal_step; a step not taken counts 0) in wall time and the
 * main thread's CPU: one line for operators and `make bench`
 * (tests/bench/scale.sh). use0 is thread_use's at the start. */
static void seal_took(struct durable *du, int sealed, const long use0[3])
{
	static const char *const names[SEAL_STEPS_] = {
		"", "to the batch", "written", "core after it", "state", "edges",
		"journal", "bound", "status"};
	int64_t *at = du->seal_at, *cpu = du->seal_cpu;
	char steps[512];
	size_t n = 0;
	long use[3];

	if (sealed <= 0)
		return;
	thread_use(use);
	steps[0] = '\0';
	for (int k = SEAL_START + 1; k < SEAL_STEPS_; k++) {
		if (!at[k]) {
			at[k] = at[k - 1];
			cpu[k] = cpu[k - 1];
		}
		n += (size_t)snprintf(steps + n, sizeof(steps) - n, "%s%s %.1f/%.1f",
				      k > 1 ? ", " : "", names[k],
				      (double)(at[k] - at[k - 1]) / 1000.0,
				      (double)(cpu[k] - cpu[k - 1]) / 1000.0);
		if (n >= sizeof(steps))
			break;
	}
	gw_info("spool: seal of %d batch%s took %.1f ms (wall/CPU ms of the main "
		"thread: %s; %ld page faults, %ld waits, %ld preemptions)", sealed,
		sealed == 1 ? "" : "es",
		(double)(at[SEAL_STATUS] - at[SEAL_START]) / 1000.0, steps,
		use[0] - use0[0], use[1] - use0[1], use[2] - use0[2]);
}

void gw_daemon_seal(struct gw_daemon *d)
{
	struct durable *du = &d->du;
	long use0[3];

	if (!seal_due(du))
		return;
	/* a day that cannot be written stays open and is tried again with
	 * backoff (seal_tried) */
	memset(du->seal_at, 0, sizeof(du->seal_at));
	seal_step(du, SEAL_START);
	thread_use(use0);
	int s = gw_batcher_advance_src(d->bat, gw_daemon_seal_time(d), on_sealed_src, d);
	seal_step(du, SEAL_CORE);
	if (gw_batcher_spill_broken(d->bat)) {
		/* Never sealed from points that did not read back: the next
		 * run takes them from the journal again. */
		gw_err("points: spilled points could not be read back from "
		       "%s/points; starting over from the journal",
		       d->cfg->spool_dir);
		d->ct.restart = 1;
		return;
	}
	after_seal(d);
	seal_took(du, s, use0);
	seal_tried(d, s);
}

void gw_daemon_seal_last(struct gw_daemon *d)
{
	gw_batcher_advance_src(d->bat, gw_daemon_seal_time(d), on_sealed_src, d);
	after_seal(d);
}
