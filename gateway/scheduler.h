/* SPDX-License-Identifier: MIT */
/*
 * scheduler.h - polls the meters: one worker thread per bus, so that an
 * RS-485 line carries one transaction at a time while separate lines and
 * TCP endpoints run in parallel.
 *
 * Each worker wakes at every poll boundary of the (possibly simulated)
 * clock, reads each meter of its bus in turn, stamps the readings with the
 * time the meter answered and hands them to the core through a queue.
 * Per meter it keeps health counters, retries a failing meter with backoff
 * and queues GW_EV_OFFLINE / GW_EV_ONLINE events when a meter stops or
 * starts answering (see gw_health_account), and a GW_EV_BAD_VALUE event
 * the first time a register's value cannot be true (again only after that
 * register decoded in between).
 */
#ifndef GW_SCHEDULER_H
#define GW_SCHEDULER_H

#include <stddef.h>

#include "batch.h"
#include "clock.h"
#include "config.h"
#include "cycle_health.h"
#include "flight.h"
#include "reading.h"

struct gw_sched;

/* Per-meter counters and state, for logs and status. Every poll cycle of
 * its bus counts in cycles and in exactly one of ok, failed (read, but no
 * register could be read) or skipped (an offline meter waiting out its
 * backoff). The fault counters count requests (a read may send several).
 * This is the one place a meter's health is kept (the health file is made
 * from it line by line, gw_health_format): 96 bytes a meter, its counters
 * 32 bits (136 years of cycles at a poll a second). */
struct gw_meter_health {
	unsigned cycles, ok, failed, skipped;
	unsigned timeouts, crc_errors, exceptions, malformed;
	unsigned exc_illegal_address, exc_busy; /* part of exceptions */
	unsigned wrong_unit;                    /* part of malformed */
	unsigned exc_unknown;   /* part of exceptions: a code Modbus does
				 * not define */
	unsigned stale_replies; /* replies discarded: they answered another
				 * request (a duplicate, a late answer); not
				 * failures */
	unsigned bad_values;    /* register values that cannot be true, not
				 * stored (one bad_value event per register
				 * until it decodes again) */
	int consecutive_failures; /* failed reads in a row */
	int offline;              /* 1 from the offline event to the online one */
	int skip_left;            /* cycles still to skip before the next try */
	int last_error;           /* GW_E* code of the last failed read, or 0 */
	int64_t clock_offset_ms;  /* its clock minus the gateway's at clock_read_ms */
	int64_t clock_read_ms;    /* gateway time its clock was last read; 0 never */
	int64_t last_ok_ms;       /* gateway time of its last good read;
				   * 0 never (set by the bus worker) */
};

/* Meter id's line of the health file (bus: its bus's name): the columns
 * of gw_health_cols (status_keys.h), tab-separated, with a newline, into
 * buf. Returns its length (as snprintf). */
int gw_health_format(const struct gw_meter_health *h, const char *id,
		     const char *bus, char *buf, size_t cap);

struct gw_read_faults;

/* What a read did to a meter's state. */
enum gw_health_change {
	GW_HEALTH_SAME = 0,
	GW_HEALTH_OFFLINE, /* offline_after failed reads in a row */
	GW_HEALTH_ONLINE,  /* an offline meter answered */
};

/* Decides whether a meter is read this cycle: returns 1 if so, or 0 if it
 * is skipped (an offline meter in its backoff; counted in h->skipped and
 * h->cycles). */
int gw_health_due(struct gw_meter_health *h);
/* Accounts one read: rc is the driver's return (a count, or a negative
 * GW_E* code when no register could be read), f its fault counts (may be
 * NULL). A meter is read every cycle until offline_after (>= 1) reads in a
 * row failed; it is then offline and skipped for 1, 2, 4 ... cycles after
 * each further failed read, at most backoff_max (0: never skipped). Its
 * first good read makes it online again. Returns the change. */
enum gw_health_change gw_health_account(struct gw_meter_health *h, int rc,
					const struct gw_read_faults *f,
					int offline_after, int backoff_max);

/* A scheduler for cfg's buses and meters on clock clk (both borrowed; they
 * must outlive it). Returns NULL when out of memory. */
struct gw_sched *gw_sched_new(const struct gw_config *cfg,
			      const struct gw_clock *clk);
/* Called by a bus worker with all readings of one poll cycle of bus `bus`
 * (index into cfg->buses), packed as they were read (flight.h: read them
 * with gw_fcycle_read, a chunk at a time), before they are queued for the
 * core; it makes them durable (the journal) and may set a reading's status
 * to set it aside (gw_fcycle_set_status, GW_RS_CLOCK_BACK). Returns 0 or a
 * GW_E* code, which is logged; the readings are queued either way. Called
 * from several threads. */
typedef int (*gw_cycle_sink_fn)(void *ctx, int bus, struct gw_fcycle *cyc);
/* Sets the sink before gw_sched_start. */
void gw_sched_set_sink(struct gw_sched *s, gw_cycle_sink_fn fn, void *ctx);

/* Starts one worker per bus that has meters. Returns 0 or GW_ENOMEM. */
int gw_sched_start(struct gw_sched *s);
/* Moves the oldest queued readings, GW_SCHED_TAKE_MAX at most, into *buf
 * (grown as needed; *cap is its capacity; the caller frees *buf), in the
 * order they were queued. Waits up to wait_ms for the first one. Returns
 * the number moved; 0 once the queue is empty. The queue holds them as
 * 8-byte records in runs (flight.h), which name meters by their number in
 * this scheduler's configuration: they are taken out whole here, so a reload
 * takes every one before it frees the scheduler and its configuration.
 * (A bounded take keeps the caller's copy small: a cycle of 10,000
 * meters x 23 registers is 22 MB of whole readings, 2.0 MB of records;
 * 512 whole readings are 48 kB, and a cycle of 30,000 readings takes 59
 * turns of the daemon's loop.) */
#define GW_SCHED_TAKE_MAX 512
size_t gw_sched_take(struct gw_sched *s, struct gw_reading **buf, size_t *cap,
		     int wait_ms);
/* Queues an event for the core (from a worker). Returns 0 or GW_ENOMEM. */
int gw_sched_event(struct gw_sched *s, const struct gw_event *ev);
/* Moves queued events into *buf like gw_sched_take; never waits. */
size_t gw_sched_take_events(struct gw_sched *s, struct gw_event **buf,
			    size_t *cap);
/* Number of poll cycles every worker has completed at least. */
unsigned long gw_sched_min_cycles(struct gw_sched *s);
/* Copies the cycle health of bus `bus` (index into cfg->buses) into *out
 * (may be NULL): its late and overrunning poll cycles, their durations,
 * its alarm; *out is left as it is for a bus without a worker (no meters).
 * Returns a number that grows whenever a bus's cycle health changed in a
 * way its status shows: a cycle behind, the longest cycle so far, the
 * first in time after a run of behind ones, an alarm raised or cleared. */
unsigned long gw_sched_cycle_health(struct gw_sched *s, int bus,
				    struct gw_cycle_health *out);
/* Copies a meter's counters and state (index into cfg->meters). */
void gw_sched_health(struct gw_sched *s, int meter, struct gw_meter_health *out);
/* Stops the workers (a read in progress finishes) and joins them, then
 * logs the health of every meter that had a fault. */
void gw_sched_stop(struct gw_sched *s);
void gw_sched_free(struct gw_sched *s);

/* Tells the batcher of every meter replacement <spool_dir>/serials
 * records (the last one of each meter; meter_ident.h), so that days
 * sealed again after a restart still count the old and the new meter
 * apart. Returns 0 or GW_ENOMEM. */
struct gw_batcher;
int gw_sched_feed_replacements(const struct gw_sched *s, struct gw_batcher *b);

#endif
