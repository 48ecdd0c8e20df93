/* SPDX-License-Identifier: MIT */
/*
 * batch.h - the batching core: turns readings into each meter's local days
 * and seals each day into a batch.
 *
 * For every meter and cumulative register it derives the register value at
 * each local midnight (measured if a reading lies within the tolerance of
 * midnight, else interpolated linearly between the readings around it, or
 * estimated when that gap is longer than max_gap) and the day's consumption
 * as end minus start. Instantaneous values (voltage, power) are kept as
 * interval data only. This module is pure code over readings and time: no
 * I/O, no clock, no threads.
 */
#ifndef GW_BATCH_H
#define GW_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "gw.h"
#include "reading.h"

/* How a day's value was derived; ordered from best to worst. */
enum gw_quality {
	GW_Q_MEASURED = 0,     /* both midnights read within the tolerance */
	GW_Q_INTERPOLATED = 1, /* a midnight interpolated over a short gap */
	GW_Q_ESTIMATED = 2,    /* a midnight interpolated over a long gap */
	GW_Q_INCOMPLETE = 3,   /* a midnight has no reading after or before it */
};

const char *gw_quality_name(enum gw_quality q);
int gw_quality_parse(const char *s, enum gw_quality *q);

/* One meter's register over one local day. Values are in the register's
 * unit at scale 0 (Wh, varh, VAh). For GW_Q_INCOMPLETE the missing boundary
 * is replaced by the first or last reading of the day. */
struct gw_day_register {
	char meter_id[GW_ID_MAX];
	char obis[GW_OBIS_MAX];
	uint8_t unit;    /* enum gw_unit */
	uint8_t quality; /* enum gw_quality */
	int64_t start_value;
	int64_t end_value;
	int64_t consumption; /* end_value - start_value */
	uint32_t readings;   /* readings inside the day */
	uint32_t minutes_missing;
};

/* Interval readings of one meter register inside one day, oldest first. */
struct gw_series {
	char meter_id[GW_ID_MAX];
	char obis[GW_OBIS_MAX];
	uint8_t unit;
	int8_t scale;
	uint32_t n;
	int64_t *ts_ms;
	int64_t *value;
};

/* Something that happened to a meter, bound for the meter_events table. */
enum gw_event_kind {
	GW_EV_OFFLINE = 1,       /* stopped answering for the configured cycles */
	GW_EV_ONLINE = 2,        /* answers again */
	GW_EV_COUNTER_RESET = 3, /* a register went backwards */
	GW_EV_METER_REPLACED = 4,/* a new serial number, or a reset to ~0 */
	GW_EV_CLOCK_DRIFT = 5,   /* the meter's clock is off by more than allowed */
	GW_EV_POWER_OUTAGE = 6,  /* every meter of a bus or feeder went dark */
	GW_EV_COUNTER_WRAP = 7,  /* a register rolled over its width */
	GW_EV_JUMP = 8,          /* an increase beyond the configured maximum power */
	GW_EV_BAD_VALUE = 9,     /* a value that cannot be true (Inf, beyond the
				  * register's range or the int64 limits) */
	GW_EV_LONG_GAP = 10,     /* a gap longer than the revision window: the
				  * energy in it could not be placed on days */
	GW_EV_KIND_MAX_ = 10
};

/* "offline", "online", "counter_reset", ... (NULL for an unknown kind). */
const char *gw_event_name(enum gw_event_kind k);

struct gw_event {
	char meter_id[GW_ID_MAX];
	char obis[GW_OBIS_MAX]; /* "" when not about one register */
	int64_t ts_ms;          /* UTC */
	uint8_t kind;           /* enum gw_event_kind */
	char detail[96];        /* human-readable, may be "" */
};

/* A sealed day of one gateway: what a spool batch file holds. */
struct gw_batch {
	char gateway_id[GW_ID_MAX];
	char timezone[64];
	int32_t day; /* civil day number, see tz.h */
	uint32_t revision;
	int64_t created_ms;
	size_t n_days;
	struct gw_day_register *days;
	size_t n_series;
	struct gw_series *series;
	size_t n_events; /* events up to the end of the day not sealed before */
	struct gw_event *events;
};

/* Frees a batch and everything it owns; accepts NULL. */
void gw_batch_free(struct gw_batch *b);

struct gw_batcher_params {
	const char *gateway_id;
	int64_t poll_interval_ms;      /* expected cadence, for minutes missing */
	int64_t midnight_tolerance_ms; /* |reading - midnight| <= this: measured */
	int64_t max_gap_ms;            /* longer gaps around midnight: estimated */
	int64_t seal_delay_ms;         /* how long after midnight a day waits */
	/* The largest power a meter can draw, W: an increase beyond it over
	 * the time between two readings is a jump (flagged, not summed), and
	 * it bounds what a counter that restarted from zero can have counted.
	 * 0: no bound (jumps are summed, a restarted counter's first value is
	 * not counted). */
	int64_t max_power_w;
	/* Sealed days kept to be sealed again, as a new revision, when
	 * readings for them arrive late (0..31). */
	int revision_window_days;
	/* The value at which a register rolls over to 0 (in its unit, e.g.
	 * 2^32 * 10 Wh for a uint32 register counting 10 Wh), or 0 if unknown
	 * or never. NULL: no register wraps. */
	int64_t (*rollover)(void *ctx, const char *meter_id, const char *obis);
	void *rollover_ctx;
};

struct gw_batcher;

/* Returns a new batcher or NULL when out of memory. The time zone must be
 * set (gw_tz_set) before use. Free with gw_batcher_free(). */
struct gw_batcher *gw_batcher_new(const struct gw_batcher_params *p);
void gw_batcher_free(struct gw_batcher *b);

/* Replaces the parameters (after a configuration reload); the gateway id
 * stays. */
void gw_batcher_set_params(struct gw_batcher *b, const struct gw_batcher_params *p);

/* Adds n readings, in any order. Returns 0 or GW_ENOMEM. */
int gw_batcher_add(struct gw_batcher *b, const struct gw_reading *r, size_t n);

/* Queues an event; it goes into the first batch sealed after its time (the
 * batch of its own day, or of the oldest open day if that is later).
 * Returns 0 or GW_ENOMEM. */
int gw_batcher_add_event(struct gw_batcher *b, const struct gw_event *ev);

/* Tells the batcher that meter's meter was replaced at ts_ms (its first
 * read of the new meter), as a meter_replaced event does, without queueing
 * an event: for replacements known from before a restart, whose events
 * went out with their day. Returns 0 or GW_ENOMEM. */
int gw_batcher_add_replacement(struct gw_batcher *b, const char *meter_id,
			       int64_t ts_ms);

/* Seals every day that ended at least seal_delay before now_ms: each such
 * day becomes one batch handed to `sealed` (which takes ownership and must
 * free it with gw_batch_free, also on error). Sealed days that received
 * late readings since are sealed again first (a new revision: `sealed`
 * gives it its revision number). Stops at the first non-zero return of
 * `sealed` and returns it; the day stays open (or due) then. Returns the
 * number of batches sealed otherwise.
 *
 * On days where a register went backwards the consumption is the sum of
 * the increases between consecutive values: a wrap of a register with a
 * known rollover is unwrapped (exact, event counter_wrap); any other drop
 * is a reset or replacement (event counter_reset): the day is split into
 * consumption before and after it, the new counter's first value counted
 * when it could have been reached from zero at max_power, and the day is
 * at least "estimated". An increase beyond max_power is left out (event
 * jump) and the day is at least "estimated". */
typedef int (*gw_sealed_fn)(void *ctx, struct gw_batch *batch);
int gw_batcher_advance(struct gw_batcher *b, int64_t now_ms,
		       gw_sealed_fn sealed, void *ctx);

/* After a restart: days before next_day are already sealed (their batches
 * are in the spool); call before replaying the journal. */
void gw_batcher_restore(struct gw_batcher *b, int32_t next_day);

/* Adds one poll cycle's readings replayed from the journal after a restart.
 * The cycle's newest reading tells when it was read. A reading of a sealed
 * day whose seal time (end + seal_delay) had passed by then arrived late
 * and is added as late data: its day is sealed again as a new revision,
 * since the crash may have come before that revision reached the spool
 * (if it had, the new revision carries the same values). Every other
 * reading of a sealed day was in it when it was sealed and causes no
 * revision. */
int gw_batcher_replay(struct gw_batcher *b, const struct gw_reading *r,
		      size_t n);

/* Readings dropped because they were older than the revision window. */
uint64_t gw_batcher_dropped(const struct gw_batcher *b);

/* The oldest day still open, or INT32_MIN if nothing is open. */
int32_t gw_batcher_oldest_open_day(const struct gw_batcher *b);

#endif
