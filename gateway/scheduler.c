/* SPDX-License-Identifier: MIT */
/*
 * scheduler.c - one poll worker per bus; see scheduler.h.
 *
 * A meter that fails is logged on its first failure and then at growing
 * intervals (1, 2, 4, 8 ... cycles), and its recovery once, so that a dead
 * meter does not flood the log (as collectd does for its plugins).
 *
 * Health: a meter is read every cycle until offline_after reads in a row
 * have failed, so that a short disturbance costs one reading and outage
 * detection takes a known number of cycles. It is then offline (an event
 * for the database) and retried after 1, 2, 4 ... skipped cycles, at most
 * retry_backoff_max, so that a line with dead meters keeps its cycle short;
 * the driver bounds a dead meter's cost to one timeout per read. Its first
 * good read makes it online (another event).
 *
 * Identity: a meter whose reply carries its serial number (IEC 62056-21
 * C.1.0, 96.1.0, 0.0.0; a Modbus profile's 96.1.0 register) or its clock
 * has them judged by the meter identities (meter_ident.h, the owner of
 * <spool_dir>/serials): a replaced meter or a drifting clock is an event
 * this worker queues for the core.
 *
 * A cycle that starts late or overruns its interval is counted, logged at
 * growing intervals and may raise poll_overrun (cycle_health.h).
 */
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cycle_health.h"
#include "driver.h"
#include "drops.h"
#include "flight.h"
#include "heartbeat.h"
#include "scheduler.h"
#include "meter_ident.h"

struct worker {
	struct gw_sched *s;
	int bus;
	pthread_t thread;
	int started;
	unsigned long cycles;
	int outage; /* every meter of the bus offline */
	int n_meters;
	struct gw_cycle_health ch; /* under the lock */
};

/* What is kept of a meter in trouble (touched by the meter's bus worker
 * only), made for a meter that fails or sends a bad value and freed once
 * it has neither: a pointer a meter, 8 bytes (the 16-byte list in place
 * and a pointer to the detail were 240 kB at 10,000 meters). */
struct trouble {
	/* the driver's detail of its last failure logged, NULL while it
	 * answers */
	char *said;
	/* registers whose bad_value event went out and that have not decoded
	 * since */
	char (*obis)[GW_OBIS_MAX];
	int n, cap;
};

struct gw_sched {
	const struct gw_config *cfg;
	const struct gw_clock *clk;
	atomic_int stop; /* set by gw_sched_stop, read by the workers */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gw_flightq *q; /* queued readings, compact (under lock; its
			       * code table has its own, for the workers' packing) */
	unsigned long whole_logged; /* q's whole readings last logged */
	struct gw_event *ev; /* queued events */
	size_t evn, evcap;
	struct gw_meter_health *health; /* per meter, under lock */
	struct gw_meter_ident *ident;   /* serials, replacements, clock drift */
	gw_cycle_sink_fn sink;
	void *sink_ctx;
	int n_workers;
	struct worker *workers;
	int64_t *last_good; /* per meter: when its last good read was stamped */
	unsigned long cycle_changes; /* under lock; gw_sched_cycle_health */
	struct trouble **trouble; /* per meter, NULL for most */
};

/* Meter m's trouble, made if it has none; NULL when out of memory. */
static struct trouble *trouble_get(struct gw_sched *s, int m)
{
	if (!s->trouble[m])
		s->trouble[m] = calloc(1, sizeof(*s->trouble[m]));
	return s->trouble[m];
}

/* Frees meter m's trouble when it holds nothing, or always (all). */
static void trouble_tidy(struct gw_sched *s, int m, int all)
{
	struct trouble *t = s->trouble[m];

	if (!t || (!all && (t->said || t->n)))
		return;
	free(t->said);
	free(t->obis);
	free(t);
	s->trouble[m] = NULL;
}

/* What the meter said of itself, to the meter identities: the driver's
 * serial number (IEC 62056-21), else a serial-number register of the
 * meter's profile (Modbus). A new one makes a meter_replaced event. */
static void check_meter_serial(struct gw_sched *s, int m,
			       const struct gw_meter_seen *seen,
			       const struct gw_reading *r, int n, int64_t now)
{
	struct gw_event ev;

	if (gw_meter_ident_seen(s->ident, m, seen, r, (size_t)n, now, &ev) &&
	    gw_sched_event(s, &ev))
		gw_err("meter %s: out of memory; meter_replaced event lost",
		       s->cfg->meters[m].id);
}

int gw_sched_feed_replacements(const struct gw_sched *s, struct gw_batcher *b)
{
	return gw_meter_ident_feed(s->ident, b);
}

struct gw_sched *gw_sched_new(const struct gw_config *cfg,
			      const struct gw_clock *clk)
{
	struct gw_sched *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->cfg = cfg;
	s->clk = clk;
	s->health = calloc((size_t)cfg->n_meters + 1, sizeof(*s->health));
	s->workers = calloc((size_t)cfg->n_buses + 1, sizeof(*s->workers));
	s->last_good = calloc((size_t)cfg->n_meters + 1, sizeof(*s->last_good));
	s->trouble = calloc((size_t)cfg->n_meters + 1, sizeof(*s->trouble));
	s->ident = gw_meter_ident_new(cfg);
	s->q = gw_flightq_new(cfg, 0);
	if (!s->health || !s->workers || !s->last_good || !s->trouble ||
	    !s->ident || !s->q) {
		gw_flightq_free(s->q);
		gw_meter_ident_free(s->ident);
		free(s->trouble);
		free(s->health);
		free(s->workers);
		free(s->last_good);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	return s;
}

/* Readings that did not fit a compact record go whole (flight.h): not
 * lost, but a sign (a code table full, a meter id that is not its
 * meter's) logged on the first and then at 2, 4, 8 ... (under lock). */
static void log_whole(struct gw_sched *s, const char *bus)
{
	struct gw_flight_counts c;

	gw_flightq_counts(s->q, &c);
	if (c.whole == s->whole_logged)
		return;
	int log = 0;
	for (unsigned long p = 1; p && p <= c.whole; p <<= 1)
		log |= p > s->whole_logged;
	s->whole_logged = c.whole;
	if (log)
		gw_err("bus %s: readings queued whole, not as compact records: "
		       "%lu since start on all buses (%lu: the table of %zu OBIS "
		       "codes is full; %lu: a meter id not the meter's own); all kept",
		       bus, c.whole, c.codes_full, c.codes, c.other_id);
}

int gw_sched_event(struct gw_sched *s, const struct gw_event *ev)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->evn == s->evcap) {
		size_t ncap = s->evcap ? s->evcap * 2 : 16;
		struct gw_event *ne = realloc(s->ev, ncap * sizeof(*ne));
		if (!ne) {
			rc = GW_ENOMEM;
			goto out;
		}
		s->ev = ne;
		s->evcap = ncap;
	}
	s->ev[s->evn++] = *ev;
	pthread_cond_signal(&s->cond);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

size_t gw_sched_take_events(struct gw_sched *s, struct gw_event **buf,
			    size_t *cap)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->evn;
	if (n > *cap) {
		struct gw_event *nb = realloc(*buf, n * sizeof(*nb));
		if (!nb) {
			pthread_mutex_unlock(&s->lock);
			return 0;
		}
		*buf = nb;
		*cap = n;
	}
	if (n)
		memcpy(*buf, s->ev, n * sizeof(**buf));
	s->evn = 0;
	pthread_mutex_unlock(&s->lock);
	return n;
}

static int is_power_of_two(unsigned long x)
{
	return x && !(x & (x - 1));
}

int gw_health_due(struct gw_meter_health *h)
{
	if (h->skip_left <= 0)
		return 1;
	h->skip_left--;
	h->skipped++;
	h->cycles++;
	return 0;
}

enum gw_health_change gw_health_account(struct gw_meter_health *h, int rc,
					const struct gw_read_faults *f,
					int offline_after, int backoff_max)
{
	h->cycles++;
	if (f) {
		h->timeouts += f->timeouts;
		h->crc_errors += f->crc_errors;
		h->exceptions += f->exceptions;
		h->malformed += f->malformed;
		h->exc_illegal_address += f->exc_illegal_address;
		h->exc_busy += f->exc_busy;
		h->wrong_unit += f->wrong_unit;
		h->exc_unknown += f->exc_unknown;
		h->stale_replies += f->stale_replies;
		h->bad_values += f->bad_values;
	}
	if (offline_after < 1)
		offline_after = 1;
	if (rc >= 0) {
		int was_offline = h->offline;
		h->ok++;
		h->consecutive_failures = 0;
		h->offline = 0;
		h->skip_left = 0;
		h->last_error = 0;
		return was_offline ? GW_HEALTH_ONLINE : GW_HEALTH_SAME;
	}
	h->failed++;
	h->last_error = rc;
	if (h->consecutive_failures < INT_MAX)
		h->consecutive_failures++;
	int beyond = h->consecutive_failures - offline_after;
	if (beyond < 0)
		return GW_HEALTH_SAME;
	/* 1, 2, 4 ... cycles, at most backoff_max */
	long skip = 1L << (beyond < 20 ? beyond : 20);
	h->skip_left = (int)(skip < backoff_max ? skip : (backoff_max > 0 ? backoff_max : 0));
	if (h->offline)
		return GW_HEALTH_SAME;
	h->offline = 1;
	return GW_HEALTH_OFFLINE;
}

int gw_health_format(const struct gw_meter_health *h, const char *id,
		     const char *bus, char *buf, size_t cap)
{
	char ok[40];
	const char *state = h->offline ? "offline"
			    : h->consecutive_failures ? "failing"
			    : h->cycles ? "online" : "unread";

	if (h->last_ok_ms)
		gw_format_utc(h->last_ok_ms, ok, sizeof(ok));
	else
		gw_strlcpy(ok, "-", sizeof(ok));
	return snprintf(buf, cap,
			"%s\t%s\t%s\t%d\t%u\t%u\t%u\t%u\t%u\t%u\t%u\t%u\t%s\t%u\t%u\t%s\n",
			id, bus, state, h->consecutive_failures, h->cycles, h->ok,
			h->failed, h->skipped, h->timeouts, h->crc_errors,
			h->exceptions, h->malformed,
			h->last_error ? gw_strerror(h->last_error) : "-",
			h->stale_replies, h->bad_values, ok);
}

/* "timed out: 3 timeouts, 1 CRC error" style summary of a read's faults. */
static void fault_detail(char *buf, size_t cap, int rc,
			 const struct gw_read_faults *f)
{
	snprintf(buf, cap, "%s (%u timeouts, %u CRC, %u exceptions, %u malformed)",
		 gw_strerror(rc), f->timeouts, f->crc_errors, f->exceptions,
		 f->malformed);
}

/* Accounts a read of meter m and logs what changed. A failed read is
 * logged here and nowhere else: on its first failure, then after 2, 4, 8
 * ... failed cycles in a row, and whenever the failure changes (another
 * code, another exception), with what the driver knew of it (f->detail). */
static void account(struct gw_sched *s, int m, int rc,
		    const struct gw_read_faults *f, int64_t ts_ms)
{
	const struct gw_meter_config *mc = &s->cfg->meters[m];
	const struct gw_bus_config *bus = &s->cfg->buses[mc->bus];
	struct gw_meter_health *h = &s->health[m];
	int offline_after = bus->offline_after ? bus->offline_after
					       : s->cfg->offline_after;
	int backoff_max = bus->retry_backoff_max < 0 ? 0
			  : bus->retry_backoff_max ? bus->retry_backoff_max
						   : s->cfg->retry_backoff_max;

	pthread_mutex_lock(&s->lock);
	int was_failing = h->consecutive_failures, was_error = h->last_error;
	enum gw_health_change ch =
		gw_health_account(h, rc, f, offline_after, backoff_max);
	if (rc >= 0)
		h->last_ok_ms = ts_ms;
	int fails = h->consecutive_failures, skip = h->skip_left;
	pthread_mutex_unlock(&s->lock);
	/* the driver's detail of the last failure logged (touched by this
	 * meter's bus worker only) */
	struct trouble *t = s->trouble[m];
	const char *said = t && t->said ? t->said : "";
	char place[GW_CONFIG_PLACE_MAX]; /* made only for a message */
	const char *detail = f ? f->detail : "";
	if (rc < 0 && (is_power_of_two((unsigned long)fails) || rc != was_error ||
		       strcmp(detail, said) != 0)) {
		char why[sizeof(f->detail) + 64];
		gw_warn("meter %s (%s): read failed: %s, %d cycle%s in a row%s",
			mc->id, gw_config_meter_place(s->cfg, mc, place, sizeof(place)),
			gw_read_failure(rc, f, why, sizeof(why)), fails,
			fails == 1 ? "" : "s", skip ? "; retried with backoff" : "");
		if (strcmp(detail, said) != 0 && (t = trouble_get(s, m))) {
			/* out of memory: none kept, the next failure logged
			 * again */
			free(t->said);
			t->said = *detail ? strdup(detail) : NULL;
			trouble_tidy(s, m, 0);
		}
	} else if (rc >= 0 && was_failing) {
		gw_info("meter %s (%s): answers again after %d failed cycle%s",
			mc->id, gw_config_meter_place(s->cfg, mc, place, sizeof(place)), was_failing,
			was_failing == 1 ? "" : "s");
		if (t) {
			free(t->said);
			t->said = NULL;
			trouble_tidy(s, m, 0);
		}
	}

	if (ch == GW_HEALTH_SAME)
		return;
	struct gw_event ev;
	memset(&ev, 0, sizeof(ev));
	gw_strlcpy(ev.meter_id, mc->id, sizeof(ev.meter_id));
	ev.ts_ms = ts_ms;
	if (ch == GW_HEALTH_OFFLINE) {
		char why[80];
		fault_detail(why, sizeof(why), rc, f);
		ev.kind = GW_EV_OFFLINE;
		snprintf(ev.detail, sizeof(ev.detail), "%d failed cycles: %.70s",
			 fails, why);
		gw_warn("meter %s (%s): offline after %d failed cycles",
			mc->id, gw_config_meter_place(s->cfg, mc, place, sizeof(place)), fails);
	} else {
		ev.kind = GW_EV_ONLINE;
		snprintf(ev.detail, sizeof(ev.detail),
			 "answers again after %d failed cycles", was_failing);
		gw_info("meter %s (%s): online again", mc->id,
			gw_config_meter_place(s->cfg, mc, place, sizeof(place)));
	}
	if (gw_sched_event(s, &ev))
		gw_err("meter %s: out of memory; %s event lost", mc->id,
		       gw_event_name((enum gw_event_kind)ev.kind));
}

/* A meter that reports its own clock (IEC 62056-21 0.9.1/0.9.2): its
 * offset is kept in its health (a witness of the gateway's clock), and the
 * meter identities judge its drift (one clock_drift event, with
 * hysteresis). */
static void check_meter_clock(struct gw_sched *s, int m,
			      const struct gw_meter_seen *seen, int64_t now)
{
	struct gw_event ev;

	if (!seen->clock_ms)
		return;
	int64_t d = seen->clock_ms - now;
	pthread_mutex_lock(&s->lock);
	s->health[m].clock_offset_ms = d;
	s->health[m].clock_read_ms = now;
	pthread_mutex_unlock(&s->lock);
	if (gw_meter_ident_clock(s->ident, m, d, now, &ev) && gw_sched_event(s, &ev))
		gw_err("meter %s: out of memory; clock_drift event lost",
		       s->cfg->meters[m].id);
}

/* Values that cannot be true (a float infinity, beyond the register's
 * range): each one is a dropped reading (drops.h). The first of a register
 * raises one bad_value event and a warning; that register raises no more
 * until it has decoded again (its recovery is logged once), so that a
 * meter stuck on Inf does not flood the log or the events table. */
static void check_bad_values(struct gw_sched *s, int m,
			     const struct gw_read_faults *f,
			     const struct gw_reading *r, int n, int64_t now)
{
	const struct gw_meter_config *mc = &s->cfg->meters[m];
	struct trouble *b = s->trouble[m];

	if (f->bad_values)
		gw_drops_add(GW_DROP_BAD_VALUE, f->bad_values);
	for (int k = 0; b && k < b->n; k++) {
		for (int i = 0; i < n; i++) {
			if (strcmp(r[i].obis, b->obis[k]) != 0)
				continue;
			gw_info("meter %s: register %s decodes again", mc->id,
				b->obis[k]);
			memmove(b->obis[k], b->obis[--b->n], sizeof(b->obis[k]));
			k--;
			break;
		}
	}
	for (unsigned i = 0; i < f->n_bad && i < GW_READ_BAD_MAX; i++) {
		const struct gw_read_bad *bv = &f->bad[i];
		int known = 0;
		for (int k = 0; b && k < b->n && !known; k++)
			known = strcmp(b->obis[k], bv->obis) == 0;
		if (known)
			continue;
		b = trouble_get(s, m);
		if (b && b->n == b->cap) {
			int ncap = b->cap ? b->cap * 2 : 8;
			char (*no)[GW_OBIS_MAX] =
				realloc(b->obis, (size_t)ncap * sizeof(*no));
			if (no) {
				b->obis = no;
				b->cap = ncap;
			}
		}
		/* Out of memory: the event goes out, and again next time. */
		if (b && b->n < b->cap)
			gw_strlcpy(b->obis[b->n++], bv->obis, sizeof(b->obis[0]));
		struct gw_event ev;
		memset(&ev, 0, sizeof(ev));
		gw_strlcpy(ev.meter_id, mc->id, sizeof(ev.meter_id));
		gw_strlcpy(ev.obis, bv->obis, sizeof(ev.obis));
		ev.ts_ms = now;
		ev.kind = GW_EV_BAD_VALUE;
		gw_strlcpy(ev.detail, bv->detail, sizeof(ev.detail));
		gw_warn("meter %s: register %s: bad value (%s), not stored; "
			"reported once until it decodes again",
			mc->id, bv->obis, bv->detail);
		if (gw_sched_event(s, &ev))
			gw_err("meter %s: out of memory; bad_value event lost", mc->id);
	}
	trouble_tidy(s, m, 0);
	if (f->bad_values > f->n_bad)
		gw_debug("meter %s: %u more bad values than named in one read",
			 mc->id, f->bad_values - f->n_bad);
}

/* Outage detection, once per cycle: when every meter of a bus with two or
 * more meters is offline at once, the line or the feeder behind it has most
 * likely gone dark (or the TCP endpoint is down); each of its meters gets a
 * power_outage event, once, and the end of the outage is logged when any
 * meter answers again (their online events follow as usual). */
static void check_outage(struct worker *w)
{
	struct gw_sched *s = w->s;
	const struct gw_config *cfg = s->cfg;
	int n = 0, off = 0;

	pthread_mutex_lock(&s->lock);
	for (int m = 0; m < cfg->n_meters; m++) {
		if (cfg->meters[m].bus != w->bus)
			continue;
		n++;
		off += s->health[m].offline != 0;
	}
	pthread_mutex_unlock(&s->lock);
	const char *bus = cfg->buses[w->bus].name;
	if (w->outage && off < n) {
		w->outage = 0;
		gw_info("bus %s: outage over, %d of %d meters answer", bus, n - off, n);
		return;
	}
	if (w->outage || n < 2 || off < n)
		return;
	w->outage = 1;
	gw_err("bus %s: all %d meters offline: line, feeder or endpoint down", bus, n);
	int64_t now = gw_clock_now_ms(s->clk);
	for (int m = 0; m < cfg->n_meters; m++) {
		if (cfg->meters[m].bus != w->bus)
			continue;
		struct gw_event ev;
		memset(&ev, 0, sizeof(ev));
		gw_strlcpy(ev.meter_id, cfg->meters[m].id, sizeof(ev.meter_id));
		ev.ts_ms = now;
		ev.kind = GW_EV_POWER_OUTAGE;
		snprintf(ev.detail, sizeof(ev.detail),
			 "all %d meters of bus %.40s offline at once", n, bus);
		if (gw_sched_event(s, &ev))
			gw_err("meter %s: out of memory; power_outage event lost",
			       cfg->meters[m].id);
	}
}

/* Counts a finished poll cycle (gw_sched_min_cycles reads it); a whole one
 * is judged by when it was due and began on the monotonic clock. */
static void cycle_done(struct worker *w, struct gw_cycle_times *t,
		       int64_t due_ms, int64_t start_ms)
{
	struct gw_sched *s = w->s;
	struct gw_cycle_verdict v = {0};
	struct gw_cycle_health h;

	t->late_ms = start_ms - due_ms;
	t->dur_ms = gw_clock_mono_ms(s->clk) - start_ms;
	check_outage(w);
	pthread_mutex_lock(&s->lock);
	w->cycles++;
	if (!atomic_load(&s->stop)) /* a cycle cut short is not judged */
		gw_cycle_account(&w->ch, t, &v);
	s->cycle_changes += v.late || v.overrun || v.longest || v.log || v.alarm;
	h = w->ch;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	gw_cycle_log(s->cfg->buses[w->bus].name, w->n_meters, &h, t, &v);
}

/* A bus worker's buffers: one read's readings (buf, cap: what one read
 * of its meters can return, bus_bufs_size) and the cycle's, packed as
 * they are read into the queue's 8-byte records (flight.h), so that a
 * cycle of a bus of hundreds of meters is never held as 96-byte
 * readings. The cycle's memory is handed to the queue with its
 * readings; the next cycle reserves its own (cyc_cap records) at its
 * first readings, so that a worker holds no records between cycles. */
struct bus_bufs {
	struct gw_reading *buf;
	size_t cap;
	struct gw_read_result res; /* one read's result, over buf */
	struct gw_fcycle cyc;
	size_t cyc_cap;  /* records to reserve for a cycle (0: grown as read) */
	int cyc_bounded; /* cyc_cap is the sum of the meters' bounds; else
			  * the last cycle's size */
};

/* The most readings one read of meter mc returns: the driver's bound (an
 * IEC readout with a load profile), else the meter's (a Modbus profile's
 * registers: the driver reads none past the room it is given), else
 * READ_CAP_UNKNOWN; *known says whether the meter's own bound it is. */
#define READ_CAP_UNKNOWN 256
static size_t read_bound(const struct gw_driver_ops *drv,
			 const struct gw_meter_config *mc, int *known)
{
	*known = !drv->max_readings && mc->max_readings;
	if (drv->max_readings)
		return drv->max_readings;
	return mc->max_readings ? mc->max_readings : READ_CAP_UNKNOWN;
}

/* Sizes bb for the meters of w's bus (its generation's configuration: a
 * reload starts new workers): one read's buffer, the largest read of
 * them; each cycle's records, when every meter bounds its reads, the sum
 * of their bounds (a cycle never needs more, and never grows), else the
 * last cycle's size, grown as read. Returns bb->buf (malloc'd), or NULL
 * when out of memory. */
static struct gw_reading *bus_bufs_size(struct worker *w,
					const struct gw_driver_ops *drv,
					struct bus_bufs *bb)
{
	const struct gw_config *cfg = w->s->cfg;
	size_t cap = 1, sum = 0;
	int all_known = 1;

	for (int m = 0; m < cfg->n_meters; m++) {
		if (cfg->meters[m].bus != w->bus)
			continue;
		int known;
		size_t k = read_bound(drv, &cfg->meters[m], &known);
		cap = k > cap ? k : cap;
		all_known &= known;
		sum += k;
	}
	bb->cyc_bounded = all_known;
	bb->cyc_cap = all_known ? sum : 0;
	bb->cap = cap;
	return malloc(cap * sizeof(*bb->buf));
}

/* The bus could not be opened: its meters were not read. A dead endpoint
 * makes them offline like a dead meter. */
static void open_failed(struct worker *w, int rc, int *open_failures)
{
	struct gw_sched *s = w->s;
	const struct gw_config *cfg = s->cfg;

	(*open_failures)++;
	if (is_power_of_two((unsigned long)*open_failures))
		gw_warn("bus %s: cannot open (%s), attempt %d",
			cfg->buses[w->bus].name, gw_strerror(rc), *open_failures);
	for (int m = 0; m < cfg->n_meters; m++) {
		struct gw_read_faults f0;
		memset(&f0, 0, sizeof(f0));
		if (cfg->meters[m].bus != w->bus)
			continue;
		pthread_mutex_lock(&s->lock);
		int due = gw_health_due(&s->health[m]);
		pthread_mutex_unlock(&s->lock);
		if (due)
			account(s, m, rc, &f0, gw_clock_now_ms(s->clk));
	}
}

/* Reads meter m if it is due, accounts the read and adds its readings to
 * the cycle's. */
static void read_meter(struct worker *w, const struct gw_driver_ops *drv,
		       void *h, int m, struct bus_bufs *bb)
{
	struct gw_sched *s = w->s;
	const struct gw_meter_config *mc = &s->cfg->meters[m];
	struct gw_read_result *res = &bb->res;

	gw_heartbeat_tick(); /* one read between beats (daemon_watch.c) */
	pthread_mutex_lock(&s->lock);
	int due = gw_health_due(&s->health[m]);
	pthread_mutex_unlock(&s->lock);
	if (!due)
		return;
	struct gw_read_ctx ctx = {
		.clock = s->clk,                /* profile times onto the gateway's clock */
		.last_good_ms = s->last_good[m], /* a gap to fill? */
	};
	gw_read_result_init(res, bb->buf, bb->cap);
	int n = drv->read(h, mc, &ctx, res);
	int64_t ts = gw_clock_now_ms(s->clk);
	if (n > 0)
		s->last_good[m] = ts;
	/* three parts, three places: the faults to the meter's health, what
	 * it said of itself to its identity, the readings to the core */
	account(s, m, n, &res->faults, ts);
	check_meter_clock(s, m, &res->ident, ts);
	check_bad_values(s, m, &res->faults, bb->buf, n > 0 ? n : 0, ts);
	if (n > 0)
		check_meter_serial(s, m, &res->ident, bb->buf, n, ts);
	if (n <= 0)
		return;
	/* A reading the driver stamped itself (a load profile interval) keeps
	 * its time; the rest were read now. */
	for (int i = 0; i < n; i++)
		if (bb->buf[i].ts_ms == 0)
			bb->buf[i].ts_ms = ts;
	/* A cycle's memory, at its first readings: the last cycle's went to
	 * the queue with it. Not reserved, the records grow as they are
	 * packed (and a failure then is reported below). */
	if (!bb->cyc.cap && bb->cyc_cap)
		(void)gw_fcycle_reserve(&bb->cyc, bb->cyc_cap);
	/* packed now, under the code table's lock alone */
	if (gw_flightq_pack(s->q, &bb->cyc, m, bb->buf, (size_t)n)) {
		gw_err("bus %s: out of memory; readings of meter %s lost",
		       s->cfg->buses[w->bus].name, mc->id);
		gw_drops_add(GW_DROP_NOMEM, (uint64_t)n);
	}
}

/* Queues the cycle's readings for the core: its records handed over in
 * one hold of the lock (the core takes them in the order read). */
static void push(struct worker *w, struct bus_bufs *bb)
{
	struct gw_sched *s = w->s;
	const char *bus = s->cfg->buses[w->bus].name;
	size_t n = gw_fcycle_len(&bb->cyc);

	pthread_mutex_lock(&s->lock);
	if (gw_flightq_push_cycle(s->q, &bb->cyc)) {
		gw_err("bus %s: out of memory queueing this cycle's %zu readings",
		       bus, n);
		gw_drops_add(GW_DROP_NOMEM, n);
	}
	log_whole(s, bus);
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* The cycle's readings are made durable (the journal) before they reach
 * the core: one sink call, so one fsync per cycle per bus. */
static void cycle_out(struct worker *w, struct bus_bufs *bb)
{
	struct gw_sched *s = w->s;
	const char *bus = s->cfg->buses[w->bus].name;
	size_t n = gw_fcycle_len(&bb->cyc);

	if (n && s->sink) {
		int rc = s->sink(s->sink_ctx, w->bus, &bb->cyc);
		if (rc)
			gw_err("bus %s: cannot store this cycle's %zu readings durably (%s)",
			       bus, n, gw_strerror(rc));
	}
	if (!bb->cyc_bounded && n) /* the next cycle reserved as this one */
		bb->cyc_cap = n;
	if (n)
		push(w, bb);
	/* handed over, the cycle holds no memory; not (none read, or no
	 * memory to queue it), it lets go of what it holds */
	gw_fcycle_free(&bb->cyc);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct gw_sched *s = w->s;
	const struct gw_config *cfg = s->cfg;
	const struct gw_bus_config *bus = &cfg->buses[w->bus];
	const struct gw_driver_ops *drv = bus->driver;
	int64_t poll = (int64_t)cfg->poll_interval_s * 1000;
	void *h = NULL;
	struct bus_bufs bb = {0};
	int open_failures = 0, first = 1;
	struct gw_cycle_times ct = {.interval_ms = poll, .tolerance_ms =
		gw_cycle_tolerance_ms(poll, s->clk->simulated ? s->clk->speed : 1)};

	bb.buf = drv ? bus_bufs_size(w, drv, &bb) : NULL;
	if (!bb.buf) {
		gw_err("bus %s: cannot start worker", bus->name);
		gw_fcycle_free(&bb.cyc);
		return NULL;
	}
	struct gw_heartbeat *hb = gw_heartbeat_start("bus", bus->name,
						     (int64_t)cfg->stall_after_s * 1000000);
	while (!atomic_load(&s->stop)) {
		/* Next boundary of the poll grid (UTC-aligned); read once
		 * right away at start. When it is due on the monotonic clock:
		 * a step of the wall clock makes no cycle late. */
		int64_t now = gw_clock_now_ms(s->clk);
		int64_t next = first ? now : (now / poll + 1) * poll;
		int64_t due = gw_clock_mono_ms(s->clk) + (next - now);
		first = 0;
		if (!gw_clock_sleep_until(s->clk, next, &s->stop))
			break;
		int64_t start = gw_clock_mono_ms(s->clk);
		if (!h) {
			int rc = drv->open(bus, &h);
			if (rc) {
				h = NULL;
				open_failed(w, rc, &open_failures);
				cycle_done(w, &ct, due, start);
				continue;
			}
			if (open_failures)
				gw_info("bus %s: open after %d failed attempts",
					bus->name, open_failures);
			open_failures = 0;
		}
		for (int m = 0; m < cfg->n_meters && !atomic_load(&s->stop); m++)
			if (cfg->meters[m].bus == w->bus)
				read_meter(w, drv, h, m, &bb);
		if (drv->cycle_end)
			drv->cycle_end(h);
		cycle_out(w, &bb);
		gw_meter_ident_flush(s->ident); /* the cycle's first serials */
		cycle_done(w, &ct, due, start);
	}
	drv->close(h);
	gw_heartbeat_remove(hb);
	free(bb.buf);
	gw_fcycle_free(&bb.cyc);
	return NULL;
}

void gw_sched_set_sink(struct gw_sched *s, gw_cycle_sink_fn fn, void *ctx)
{
	s->sink = fn;
	s->sink_ctx = ctx;
}

int gw_sched_start(struct gw_sched *s)
{
	for (int b = 0; b < s->cfg->n_buses; b++) {
		int used = 0;
		for (int m = 0; m < s->cfg->n_meters; m++)
			used += s->cfg->meters[m].bus == b;
		if (!used)
			continue;
		struct worker *w = &s->workers[s->n_workers];
		w->s = s;
		w->bus = b;
		w->n_meters = used;
		if (gw_thread_start(&w->thread, worker_main, w) != 0) {
			gw_err("bus %s: cannot start thread", s->cfg->buses[b].name);
			gw_sched_stop(s);
			return GW_ENOMEM;
		}
		w->started = 1;
		s->n_workers++;
	}
	return 0;
}

size_t gw_sched_take(struct gw_sched *s, struct gw_reading **buf, size_t *cap,
		     int wait_ms)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	if (!gw_flightq_len(s->q) && wait_ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		/* elapsed time, never a wall clock that may step */
		pthread_cond_clockwait(&s->cond, &s->lock, CLOCK_MONOTONIC, &ts);
	}
	n = gw_flightq_len(s->q);
	if (n > GW_SCHED_TAKE_MAX)
		n = GW_SCHED_TAKE_MAX;
	if (n > *cap) {
		struct gw_reading *nb = realloc(*buf, n * sizeof(*nb));
		if (!nb) {
			pthread_mutex_unlock(&s->lock);
			return 0; /* readings stay queued; try again later */
		}
		*buf = nb;
		*cap = n;
	}
	n = gw_flightq_take(s->q, *buf, n);
	pthread_mutex_unlock(&s->lock);
	return n;
}

unsigned long gw_sched_min_cycles(struct gw_sched *s)
{
	unsigned long min = (unsigned long)-1;

	pthread_mutex_lock(&s->lock);
	for (int i = 0; i < s->n_workers; i++)
		if (s->workers[i].cycles < min)
			min = s->workers[i].cycles;
	pthread_mutex_unlock(&s->lock);
	return s->n_workers ? min : 0;
}

unsigned long gw_sched_cycle_health(struct gw_sched *s, int bus,
				    struct gw_cycle_health *out)
{
	pthread_mutex_lock(&s->lock);
	unsigned long n = s->cycle_changes;
	for (int i = 0; out && i < s->n_workers; i++)
		if (s->workers[i].bus == bus)
			*out = s->workers[i].ch;
	pthread_mutex_unlock(&s->lock);
	return n;
}

void gw_sched_health(struct gw_sched *s, int meter, struct gw_meter_health *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->health[meter];
	pthread_mutex_unlock(&s->lock);
}

void gw_sched_stop(struct gw_sched *s)
{
	int joined = 0;

	atomic_store(&s->stop, 1);
	for (int i = 0; i < s->n_workers; i++) {
		if (s->workers[i].started) {
			pthread_join(s->workers[i].thread, NULL);
			s->workers[i].started = 0;
			joined++;
		}
	}
	if (!joined)
		return;
	/* Per-meter health, once, for the meters that had faults. */
	for (int m = 0; m < s->cfg->n_meters; m++) {
		const struct gw_meter_health *h = &s->health[m];
		if (!h->failed && !h->timeouts && !h->crc_errors &&
		    !h->exceptions && !h->malformed && !h->stale_replies &&
		    !h->bad_values)
			continue;
		gw_info("meter %s health: %u cycles, %u ok, %u failed, %u skipped; "
			"%u timeouts, %u CRC errors, %u exceptions "
			"(%u illegal address, %u busy, %u undefined code), "
			"%u malformed (%u wrong unit id); %u stale replies, "
			"%u bad values%s",
			s->cfg->meters[m].id, h->cycles, h->ok, h->failed,
			h->skipped, h->timeouts, h->crc_errors, h->exceptions,
			h->exc_illegal_address, h->exc_busy, h->exc_unknown,
			h->malformed, h->wrong_unit, h->stale_replies,
			h->bad_values, h->offline ? "; offline" : "");
	}
}

void gw_sched_free(struct gw_sched *s)
{
	if (!s)
		return;
	gw_sched_stop(s);
	pthread_mutex_destroy(&s->lock);
	gw_meter_ident_free(s->ident);
	pthread_cond_destroy(&s->cond);
	gw_flightq_free(s->q);
	free(s->ev);
	free(s->health);
	free(s->workers);
	free(s->last_good);
	for (int m = 0; m < s->cfg->n_meters; m++)
		trouble_tidy(s, m, 1);
	free(s->trouble);
	free(s);
}
