/* SPDX-License-Identifier: MIT */
/*
 * scheduler.c - one poll worker per bus; see scheduler.h.
 *
 * A meter that fails is logged on its first failure and then at growing
 * intervals (1, 2, 4, 8 ... cycles), and its recovery once, so that a dead
 * meter does not flood the log (as collectd does for its plugins).
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "scheduler.h"

struct worker {
	struct gw_sched *s;
	int bus;
	pthread_t thread;
	int started;
	unsigned long cycles;
};

struct gw_sched {
	const struct gw_config *cfg;
	const struct gw_clock *clk;
	volatile sig_atomic_t stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gw_reading *q; /* queued readings */
	size_t qn, qcap;
	struct gw_event *ev; /* queued events */
	size_t evn, evcap;
	struct gw_meter_health *health; /* per meter, under lock */
	gw_cycle_sink_fn sink;
	void *sink_ctx;
	int n_workers;
	struct worker *workers;
};

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
	if (!s->health || !s->workers) {
		free(s->health);
		free(s->workers);
		free(s);
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	return s;
}

static int push(struct gw_sched *s, const struct gw_reading *r, size_t n)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->qn + n > s->qcap) {
		size_t ncap = s->qcap ? s->qcap : 256;
		while (ncap < s->qn + n)
			ncap *= 2;
		struct gw_reading *nq = realloc(s->q, ncap * sizeof(*nq));
		if (!nq) {
			rc = GW_ENOMEM;
			goto out;
		}
		s->q = nq;
		s->qcap = ncap;
	}
	memcpy(s->q + s->qn, r, n * sizeof(*r));
	s->qn += n;
	pthread_cond_signal(&s->cond);
out:
	pthread_mutex_unlock(&s->lock);
	return rc;
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

static void account(struct gw_sched *s, int m, int rc,
		    const struct gw_read_stats *st)
{
	const struct gw_meter_config *mc = &s->cfg->meters[m];
	struct gw_meter_health *h = &s->health[m];
	int was_failing;

	pthread_mutex_lock(&s->lock);
	h->cycles++;
	h->timeouts += st->timeouts;
	h->crc_errors += st->crc_errors;
	h->exceptions += st->exceptions;
	h->malformed += st->malformed;
	was_failing = h->consecutive_failures;
	if (rc < 0) {
		h->failed++;
		h->consecutive_failures++;
	} else {
		h->ok++;
		h->consecutive_failures = 0;
	}
	int fails = h->consecutive_failures;
	pthread_mutex_unlock(&s->lock);
	if (rc < 0 && is_power_of_two((unsigned long)fails))
		gw_warn("meter %s: read failed (%s), %d cycle%s in a row", mc->id,
			gw_strerror(rc), fails, fails == 1 ? "" : "s");
	else if (rc >= 0 && was_failing)
		gw_info("meter %s: answers again after %d failed cycle%s", mc->id,
			was_failing, was_failing == 1 ? "" : "s");
}

/* Counts a finished poll cycle; gw_sched_min_cycles reads it. */
static void cycle_done(struct worker *w)
{
	pthread_mutex_lock(&w->s->lock);
	w->cycles++;
	pthread_cond_broadcast(&w->s->cond);
	pthread_mutex_unlock(&w->s->lock);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct gw_sched *s = w->s;
	const struct gw_config *cfg = s->cfg;
	const struct gw_bus_config *bus = &cfg->buses[w->bus];
	const struct gw_driver_ops *drv = gw_driver_for(bus->type);
	int64_t poll = (int64_t)cfg->poll_interval_s * 1000;
	void *h = NULL;
	size_t cap = 256;
	struct gw_reading *buf = malloc(cap * sizeof(*buf));
	int open_failures = 0, first = 1;
	struct gw_reading *cyc = NULL;
	size_t ccap = 0;

	if (!buf || !drv) {
		gw_err("bus %s: cannot start worker", bus->name);
		free(buf);
		return NULL;
	}
	while (!s->stop) {
		/* Next boundary of the poll grid (UTC-aligned). */
		int64_t now = gw_clock_now_ms(s->clk);
		int64_t next = (now / poll + 1) * poll;
		if (first) {
			next = now; /* read once right away at start */
			first = 0;
		}
		if (!gw_clock_sleep_until(s->clk, next, &s->stop))
			break;
		if (!h) {
			int rc = drv->open(bus, &h);
			if (rc) {
				h = NULL;
				open_failures++;
				if (is_power_of_two((unsigned long)open_failures))
					gw_warn("bus %s: cannot open (%s), attempt %d",
						bus->name, gw_strerror(rc),
						open_failures);
				cycle_done(w);
				continue;
			}
			if (open_failures)
				gw_info("bus %s: open after %d failed attempts",
					bus->name, open_failures);
			open_failures = 0;
		}
		size_t cn = 0; /* readings of this cycle, in cyc */
		for (int m = 0; m < cfg->n_meters && !s->stop; m++) {
			const struct gw_meter_config *mc = &cfg->meters[m];
			struct gw_read_stats st = {0};
			if (mc->bus != w->bus)
				continue;
			int n = drv->read(h, mc, buf, cap, &st);
			int64_t ts = gw_clock_now_ms(s->clk);
			account(s, m, n, &st);
			if (n <= 0)
				continue;
			for (int i = 0; i < n; i++)
				buf[i].ts_ms = ts;
			if (cn + (size_t)n > ccap) {
				size_t ncap = ccap ? ccap * 2 : 1024;
				while (ncap < cn + (size_t)n)
					ncap *= 2;
				struct gw_reading *nc = realloc(cyc, ncap * sizeof(*nc));
				if (!nc) {
					gw_err("bus %s: out of memory; readings of meter %s lost",
					       bus->name, mc->id);
					continue;
				}
				cyc = nc;
				ccap = ncap;
			}
			memcpy(cyc + cn, buf, (size_t)n * sizeof(*buf));
			cn += (size_t)n;
		}
		/* The cycle's readings are made durable (the journal) before
		 * they reach the core: one sink call, so one fsync per cycle
		 * per bus. */
		if (cn && s->sink) {
			int rc = s->sink(s->sink_ctx, w->bus, cyc, cn);
			if (rc)
				gw_err("bus %s: cannot store this cycle's %zu readings durably (%s)",
				       bus->name, cn, gw_strerror(rc));
		}
		if (cn && push(s, cyc, cn))
			gw_err("bus %s: out of memory queueing readings", bus->name);
		cycle_done(w);
	}
	drv->close(h);
	free(buf);
	free(cyc);
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
			used |= s->cfg->meters[m].bus == b;
		if (!used)
			continue;
		struct worker *w = &s->workers[s->n_workers];
		w->s = s;
		w->bus = b;
		if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
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
	if (s->qn == 0 && wait_ms > 0) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += wait_ms / 1000;
		ts.tv_nsec += (long)(wait_ms % 1000) * 1000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&s->cond, &s->lock, &ts);
	}
	n = s->qn;
	if (n > *cap) {
		struct gw_reading *nb = realloc(*buf, n * sizeof(*nb));
		if (!nb) {
			pthread_mutex_unlock(&s->lock);
			return 0; /* readings stay queued; try again later */
		}
		*buf = nb;
		*cap = n;
	}
	if (n)
		memcpy(*buf, s->q, n * sizeof(**buf));
	s->qn = 0;
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

void gw_sched_health(struct gw_sched *s, int meter, struct gw_meter_health *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->health[meter];
	pthread_mutex_unlock(&s->lock);
}

void gw_sched_stop(struct gw_sched *s)
{
	s->stop = 1;
	for (int i = 0; i < s->n_workers; i++) {
		if (s->workers[i].started) {
			pthread_join(s->workers[i].thread, NULL);
			s->workers[i].started = 0;
		}
	}
}

void gw_sched_free(struct gw_sched *s)
{
	if (!s)
		return;
	gw_sched_stop(s);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->q);
	free(s->ev);
	free(s->health);
	free(s->workers);
	free(s);
}
