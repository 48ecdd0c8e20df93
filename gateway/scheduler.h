/* SPDX-License-Identifier: MIT */
/*
 * scheduler.h - polls the meters: one worker thread per bus, so that an
 * RS-485 line carries one transaction at a time while separate lines and
 * TCP endpoints run in parallel.
 *
 * Each worker wakes at every poll boundary of the (possibly simulated)
 * clock, reads each meter of its bus in turn, stamps the readings with the
 * time the meter answered and hands them to the core through a queue.
 */
#ifndef GW_SCHEDULER_H
#define GW_SCHEDULER_H

#include <stddef.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "reading.h"

struct gw_sched;

/* Per-meter counters, for logs and status. */
struct gw_meter_health {
	unsigned long cycles, ok, failed;
	unsigned long timeouts, crc_errors, exceptions, malformed;
	int consecutive_failures;
};

/* A scheduler for cfg's buses and meters on clock clk (both borrowed; they
 * must outlive it). Returns NULL when out of memory. */
struct gw_sched *gw_sched_new(const struct gw_config *cfg,
			      const struct gw_clock *clk);
/* Called by a bus worker with all readings of one poll cycle of bus `bus`
 * (index into cfg->buses) before they are queued for the core; it makes
 * them durable (the journal). Returns 0 or a GW_E* code, which is logged;
 * the readings are queued either way. Called from several threads. */
typedef int (*gw_cycle_sink_fn)(void *ctx, int bus, const struct gw_reading *r,
				size_t n);
/* Sets the sink before gw_sched_start. */
void gw_sched_set_sink(struct gw_sched *s, gw_cycle_sink_fn fn, void *ctx);

/* Starts one worker per bus that has meters. Returns 0 or GW_ENOMEM. */
int gw_sched_start(struct gw_sched *s);
/* Moves queued readings into *buf (grown as needed; *cap is its capacity;
 * the caller frees *buf). Waits up to wait_ms for the first one. Returns the
 * number moved. */
size_t gw_sched_take(struct gw_sched *s, struct gw_reading **buf, size_t *cap,
		     int wait_ms);
/* Queues an event for the core (from a worker). Returns 0 or GW_ENOMEM. */
int gw_sched_event(struct gw_sched *s, const struct gw_event *ev);
/* Moves queued events into *buf like gw_sched_take; never waits. */
size_t gw_sched_take_events(struct gw_sched *s, struct gw_event **buf,
			    size_t *cap);
/* Number of poll cycles every worker has completed at least. */
unsigned long gw_sched_min_cycles(struct gw_sched *s);
/* Copies a meter's counters (index into cfg->meters). */
void gw_sched_health(struct gw_sched *s, int meter, struct gw_meter_health *out);
/* Stops the workers (a read in progress finishes) and joins them. */
void gw_sched_stop(struct gw_sched *s);
void gw_sched_free(struct gw_sched *s);

#endif
