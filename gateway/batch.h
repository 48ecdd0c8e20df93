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
 *
 * Conservation: for every meter and cumulative register, over any run of
 * consecutive days without a counter reset, wrap or meter replacement, the
 * days' consumptions add up exactly (to the Wh) to the register at the last
 * midnight minus the register at the first, whatever the gaps between the
 * readings: a day's end value is the next day's start value, also across
 * revisions, and the register at the midnight before the oldest day that
 * can still be sealed again is frozen as it was sealed. A gap that reaches
 * back beyond that midnight (longer than the revision window) cannot be
 * placed on its days: a long_gap event carries its energy, so that the
 * books still balance (docs/architecture.md, "Batching core").
 */
#ifndef GW_BATCH_H
#define GW_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "event.h"
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

/* A sealed day whose interval series are handed out one at a time, as
 * they are written (batchfile.h, gw_batch_encode_src), instead of being
 * copied into the batch: `batch` holds the header, the daily records (or
 * their count, the records laid out in `days`) and the events (its
 * n_series is 0); series(ctx, i, points, out) fills *out
 * with series i's head (meter, register, unit, scale, n) and, when points
 * is non-zero, its ts_ms and value arrays, valid until the next call.
 * Returns 0 or GW_ENOMEM. */
struct gw_batch_src {
	struct gw_batch *batch;
	size_t n_series;
	uint64_t n_readings; /* the series' n summed */
	int (*series)(void *ctx, size_t i, int points, struct gw_series *out);
	void *ctx;
	/* A bit a series (series i: bit i % 8 of same[i / 8]), set when
	 * the series has the times of the one before it as
	 * gw_batch_times_same (batchfile.h) finds them in the order of the
	 * series, or NULL: the encoder writes such a series' times as the
	 * column's single 0 without reading it, and reads the others. */
	const uint8_t *same;
	/* How the payload is deflated (enum gw_batch_deflate, batchfile.h):
	 * 0, the default, is zlib level 6. */
	int deflate;
	/* The daily records laid out already (batch->n_days of them, each
	 * as gw_batch_day_put lays it out: the column's bytes, about 25 a
	 * record instead of a struct gw_day_register's 112), batch->days
	 * then NULL; or NULL: the encoder lays out batch->days. */
	struct gw_wbuf *days;
	/* days is the encoder's to free: it frees it once written
	 * (free(days->p)) and sets it to NULL, so that it is not held while
	 * the value column is laid out. Such a source is encoded once
	 * (again, it has no daily records: GW_EINVAL). */
};

/* Frees a batch and everything it owns; accepts NULL. */
void gw_batch_free(struct gw_batch *b);

/* The largest value a cumulative energy register (Wh, varh, VAh) can hold:
 * 10^15, a thousand times what a 9-digit kWh register shows. A negative or
 * larger value cannot be true: the reading is not kept (counted as a
 * bad_value drop, gateway/drops.h) and its day is flagged. The bound keeps
 * every sum and interpolation of register values far from the int64
 * limits. */
#define GW_ENERGY_MAX 1000000000000000LL

/* The largest power any meter can draw, W (10 GW): an increase beyond it
 * is a jump even when max_power_w is 0 ("no configured bound"), so that a
 * garbage value can never add energy. */
#define GW_POWER_MAX_W 10000000000LL

struct gw_batcher_params {
	const char *gateway_id;
	int64_t poll_interval_ms;      /* expected cadence, for minutes missing */
	int64_t midnight_tolerance_ms; /* |reading - midnight| <= this: measured */
	int64_t max_gap_ms;            /* longer gaps around midnight: estimated */
	int64_t seal_delay_ms;         /* how long after midnight a day waits */
	/* The largest power a meter can draw, W: an increase beyond it over
	 * the time between two readings is a jump (flagged, not summed), and
	 * it bounds what a counter that restarted from zero can have counted.
	 * 0: no configured bound (a restarted counter's first value is not
	 * counted; jumps are summed up to GW_POWER_MAX_W). */
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

/* Adds n readings, in any order. Returns 0 or GW_ENOMEM.
 *
 * A reading is not kept, and is counted in gateway/drops.h, when it is
 * older than the revision window (its day is final: GW_DROP_LATE), when
 * its time is before 1970 or after 9999 (GW_DROP_BAD_TIME), or when a
 * cumulative energy register's value is negative or above GW_ENERGY_MAX
 * (GW_DROP_BAD_VALUE; a bad_value event, one per register and day, and
 * the day is at least "estimated").
 *
 * Status (reading.h): GW_RS_PROFILE counts like a reading; a midnight
 * taken from a GW_RS_DERIVED value is at best "interpolated", never
 * "measured".
 *
 * Any reading that changes a sealed day inside the revision window marks
 * that day to be sealed again: a late reading's own day, and every day
 * between the readings before and after it, so that a meter coming back
 * after a gap revises the day before the gap (its end), each dark day of
 * the gap (an "estimated" row) and the day it came back on. */
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
 * at least "estimated". An increase beyond max_power (GW_POWER_MAX_W when
 * it is 0) is left out (event jump), and so is a reading out of line with
 * both its neighbours (the register goes down at it or right after it
 * while the neighbours agree: a garbage value; event jump, it stays in the
 * series); the day is at least "estimated".
 *
 * When a day leaves the revision window, each register's value at its end
 * midnight is frozen (the books at the edge, gw_batcher_edges_save): the
 * next day starts there, and a later reading below it but not below the
 * reading before that midnight (the frozen value was an estimate too high)
 * is held at it until the register passes it. A register silent at that
 * midnight waits; when it answers again the midnight is derived from the
 * readings around it until the next day is final too, and then the
 * energy before that midnight goes into a long_gap event queued for the
 * next day sealed (gw_batcher_long_gaps counts them). */
typedef int (*gw_sealed_fn)(void *ctx, struct gw_batch *batch);
int gw_batcher_advance(struct gw_batcher *b, int64_t now_ms,
		       gw_sealed_fn sealed, void *ctx);

/* The same, each day handed to `sealed` as a source whose series are
 * read from the batcher's own points as they are written (gw_batch_src,
 * batchfile.h gw_batch_encode_src): a day is never copied whole into
 * memory. The source, and its batch, stay the batcher's: valid during the
 * call only; `sealed` may set src->batch->revision. Same batches, byte for
 * byte, as gw_batcher_advance gives; same returns. */
#define GW_BATCHER_ADVANCE_SRC 1
typedef int (*gw_sealed_src_fn)(void *ctx, struct gw_batch_src *src);
int gw_batcher_advance_src(struct gw_batcher *b, int64_t now_ms,
			   gw_sealed_src_fn sealed, void *ctx);

/* After a restart: days before next_day are already sealed (their batches
 * are in the spool); call before gw_batcher_edges_load and the journal
 * replay. The first live gw_batcher_add (or advance) ends the replay. */
void gw_batcher_restore(struct gw_batcher *b, int32_t next_day);

/* Adds one poll cycle's readings replayed from the journal after a restart
 * (after gw_batcher_restore and gw_batcher_edges_load). A reading read now
 * (GW_RS_OK) was read when it is stamped; a load-profile value when the
 * cycle's newest reading read now was. The revisions a reading caused were
 * sealed at once, before the day it was read on could be sealed: one read on a
 * day that is sealed now causes none again. One read on the day still
 * open may have caused revisions the crash lost: the days it changed that
 * were sealed when it was read are sealed again (if that revision had
 * reached the spool, the new one carries the same values). Nothing
 * replayed is counted as dropped again. */
int gw_batcher_replay(struct gw_batcher *b, const struct gw_reading *r,
		      size_t n);

/* Readings dropped because they were older than the revision window. */
uint64_t gw_batcher_dropped(const struct gw_batcher *b);

/* The oldest day still open, or INT32_MIN if nothing is open. */
int32_t gw_batcher_oldest_open_day(const struct gw_batcher *b);

/* Gaps longer than the revision window since the batcher was made: a
 * meter came back after a silence that reached into days that can no
 * longer be sealed again, so the energy it counted before the oldest
 * revisable midnight is on no day (a long_gap event carries it). Counted
 * when the day after that midnight is final. */
struct gw_long_gaps {
	uint64_t count;
	int64_t wh;      /* energy not placed, summed over Wh registers */
	uint64_t unknown; /* gaps whose energy is not known (counter reset or
			   * meter replaced in the gap) */
	char last[160];  /* the latest: "METER OBIS N UNIT from .. to .." */
};
void gw_batcher_long_gaps(const struct gw_batcher *b, struct gw_long_gaps *out);

/* Where each register's books stand at the start of the oldest day that
 * can still be sealed again (its frozen midnight value, or the last
 * reading before a silence that is still going on), as text: what a
 * restart needs to continue them exactly, since the journal does not
 * keep the readings of final days. *text is malloc'ed (free it). Returns
 * 0, GW_ENOMEM, or GW_ENOTFOUND when no day was sealed yet. */
int gw_batcher_edges_save(const struct gw_batcher *b, char **text, size_t *len);
/* The same text, never held whole: handed to sink(ctx, s, len) a line at
 * a time (s borrowed for the call), in order. A sink that returns non-zero
 * stops it, and that is returned. Returns 0, GW_ENOTFOUND, GW_EIO (a
 * record unread, gw_batcher_set_spill), GW_ENOMEM or the sink's code. */
typedef int (*gw_edges_sink_fn)(void *ctx, const char *s, size_t len);
int gw_batcher_edges_emit(const struct gw_batcher *b, gw_edges_sink_fn sink,
			  void *ctx);

/* After gw_batcher_restore and before the journal replay: loads what
 * gw_batcher_edges_save wrote, for the restored next_day or an earlier one
 * (a crash between sealing a day and saving the edges again: the first
 * advance moves the books on from the replayed readings). Text for a
 * later day is refused (GW_EINVAL, *why says so); a damaged text is
 * GW_ECORRUPT with *why naming the line (a line longer than any written,
 * a NUL byte in one), and changes nothing. The text is read a line at a
 * time, never copied whole. Without edges the books are taken up from the
 * replayed readings alone (the journal keeps the last final day for
 * that), which is exact except for a meter silent since before that day. Returns 0, GW_EINVAL, GW_ECORRUPT
 * or GW_ENOMEM. */
int gw_batcher_edges_load(struct gw_batcher *b, const char *text, size_t len,
			  char *why, size_t cap);

/* Points on disk (batch_spill.h). Gives the batcher a store, which it
 * owns from then on (gw_batcher_free closes it; NULL: none, the points
 * stay in memory). Each day sealed, once its batch is written, every
 * register's points at or before that day's end go to the
 * store, and are read back when a day is sealed again, a reading comes
 * out of order or the books are frozen at the edge. A write that fails
 * keeps the points in memory (the store logs it). A record that cannot be
 * read back whole makes the batcher broken: gw_batcher_advance then
 * returns GW_EIO and seals nothing, gw_batcher_edges_save returns
 * GW_EIO, and the caller has to build a new batcher from the journal
 * (gatewayd starts over). Never sealed from a damaged record. */
#define GW_BATCHER_SPILL 1 /* these functions are here */
struct gw_spill;
struct gw_spill_stats;
void gw_batcher_set_spill(struct gw_batcher *b, struct gw_spill *store);
/* 1 when a record could not be read back (see above). */
int gw_batcher_spill_broken(const struct gw_batcher *b);
/* After a replay: the sealed days' points to the store at once, not at
 * the next day's seal. Returns 0 or GW_EIO (broken). */
int gw_batcher_spill_now(struct gw_batcher *b);
void gw_batcher_spill_stats(const struct gw_batcher *b, struct gw_spill_stats *st);
/* The seal of the open day reads a register's day from its last record
 * and its points in memory only (a view) where that gives what the
 * whole chain gives, else the whole chain. on 0 reads the whole chain
 * always (for the tests: the two must seal the same batches). */
#define GW_BATCHER_VIEW 1 /* these two functions are here */
void gw_batcher_set_view(struct gw_batcher *b, int on);
/* Registers the seals of the open day read as views (*views) and whole
 * (*full) since the batcher was made. */
void gw_batcher_view_stats(const struct gw_batcher *b, uint64_t *views,
			   uint64_t *full);
/* The energy registers whose books the edge's walks took at the new
 * edge midnight from their records around it (*views) and, having
 * records, from all their points (*full: a point the records around it
 * lack, a register back from a silence) since the batcher was made.
 * gw_batcher_set_view(b, 0) has them read all their points too. */
#define GW_BATCHER_EDGE_VIEW 1
void gw_batcher_edge_stats(const struct gw_batcher *b, uint64_t *views,
			   uint64_t *full);
/* Registers the seals' passes took to the store's next file since the
 * batcher was made: their records as they were (*carried: a record a
 * day, the oldest dropped), of them those whose open day's record they
 * decoded to cut it at the new day's midnight (*split), or decoded and
 * encoded again (*encoded). */
#define GW_BATCHER_CARRY 1
void gw_batcher_carry_stats(const struct gw_batcher *b, uint64_t *carried,
			    uint64_t *split, uint64_t *encoded);
/* For the tests and benchmarks (the batches are the same either way):
 * carry 0 has the seals' passes decode and encode every track again. A
 * store must be set first. */
void gw_batcher_set_carry(struct gw_batcher *b, int carry);

#endif
