/* SPDX-License-Identifier: MIT */
/*
 * journal.h - the write-ahead journal of poll cycles: every cycle's
 * readings are appended and fsync'ed (one fsync per cycle per bus) before
 * the cycle counts as done, so that the open days can be rebuilt after a
 * crash or power loss (docs/spool-format.md, "Journal").
 *
 * The journal lives in <spool_dir>/journal/ as segment files
 *     <YYYY-MM-DD>_b<bus>_<seq>.gwj   (one bus's cycles)
 *     <YYYY-MM-DD>_ev_<seq>.gwj       (meter events)
 * A segment named after day X holds records of days up to X. It is removed
 * (gw_journal_prune) once day X+1 is sealed durably into the spool: the
 * readings of day X are then in a batch, and so is the midnight between X
 * and X+1 that they helped to derive.
 *
 * Each bus worker appends to its own segment, so buses never wait for one
 * another's fsync. A bus's slot must be used by one thread at a time.
 */
#ifndef GW_JOURNAL_H
#define GW_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "reading.h"

#define GW_JOURNAL_MAGIC "GWJ1"
#define GW_JOURNAL_VERSION 2 /* packed cycles; version 1 is still read */
#define GW_JOURNAL_HDR 8        /* magic, version u16, reserved u16 */
#define GW_JOURNAL_REC_MAX (64u << 20) /* larger records are corruption */

/* Record types (first payload byte). Readers skip types they do not know. */
enum gw_journal_rec {
	GW_JREC_CYCLE = 1, /* one bus's poll cycle: its readings */
	GW_JREC_EVENT = 2, /* one meter event and the day it is bound for */
};

struct gw_journal;

/* What a replay found; counts over all segments. */
struct gw_journal_stats {
	unsigned segments;   /* segment files read */
	unsigned long cycles;
	unsigned long readings;
	unsigned long events;
	unsigned long skipped; /* good records of unknown type */
	unsigned torn;         /* segments cut at their last good record */
	unsigned long torn_bytes; /* bytes cut off */
	unsigned quarantined;  /* segments set aside (bad magic, newer version) */
};

/* Opens (creating) <spool_dir>/journal for n_buses bus slots plus one event
 * slot. Nothing is written until the first append. Returns 0 or GW_EIO /
 * GW_ENOMEM with *out NULL. Free with gw_journal_close(). */
int gw_journal_open(const char *spool_dir, int n_buses, struct gw_journal **out);
/* Closes the open segments (no fsync needed: every append was synced).
 * Accepts NULL. */
void gw_journal_close(struct gw_journal *j);

/* Replay callbacks: cycle gets one cycle's readings (borrowed for the call);
 * event gets an event and the day it was bound for when it was journaled.
 * A non-zero return stops the replay and is returned. */
typedef int (*gw_journal_cycle_fn)(void *ctx, int bus,
				   const struct gw_reading *r, size_t n);
typedef int (*gw_journal_event_fn)(void *ctx, const struct gw_event *ev,
				   int32_t day);

/* Reads every segment oldest day first and hands its records to the
 * callbacks (either may be NULL). A segment whose tail is torn (a record
 * cut short, failing its CRC, or the zeros a power loss leaves where data
 * was never synced) is truncated durably at its last good record; a
 * segment with less than a header, or nothing but zeros, is removed (none
 * of it was acknowledged); each cut is logged and counted in `torn`. A
 * segment with a bad magic or a newer version is moved to
 * <spool_dir>/quarantine/. Call before the first append. Returns 0, a
 * callback's return, or GW_EIO / GW_ENOMEM. */
int gw_journal_replay(struct gw_journal *j, gw_journal_cycle_fn cycle,
		      gw_journal_event_fn event, void *ctx,
		      struct gw_journal_stats *st);

/* Appends one poll cycle of bus `bus` (0 <= bus < n_buses) with one write
 * and one fsync, packed against the cycles before it in the bus's open
 * segment (segment version 2). Returns 0 once the cycle is on disk, else
 * GW_ENOSPC (the disk is full), GW_EIO, GW_EINVAL (a bus out of range,
 * more than 1,048,576 readings, a reading with an unterminated string or
 * an unknown unit) or GW_ENOMEM. A failed append leaves
 * nothing behind: a segment it created is removed again, a failed write
 * is cut back off the open segment, and after a failed fsync the open
 * segment is abandoned (the kernel may have dropped its dirty pages, so a
 * later fsync could wrongly report success) and the next cycle starts a
 * new one. Failures are counted and logged at growing intervals (1, 2, 4
 * ... in a row), the first success after them once. */
int gw_journal_append_cycle(struct gw_journal *j, int bus,
			    const struct gw_reading *r, size_t n);

/* A poll cycle's n readings, handed over a chunk at a time: read puts
 * readings from, from + 1 ... (at most max) into out and returns how many
 * (fewer than asked only past the end). It may be called more than once
 * for the same readings and must give the same ones. */
struct gw_reading_src {
	size_t n;
	size_t (*read)(void *ctx, size_t from, struct gw_reading *out, size_t max);
	void *ctx;
};
/* gw_journal_append_cycle of the readings of src, which it reads twice,
 * GW_JOURNAL_CHUNK at a time (never all at once): the same record, the
 * same bytes on disk, one write and one fsync. */
int gw_journal_append_src(struct gw_journal *j, int bus,
			  const struct gw_reading_src *src);
/* How many readings the journal asks a source for at once. */
#define GW_JOURNAL_CHUNK 32

/* Appends n events bound for day `day` (the batch they will go into) with
 * one fsync, from the thread that owns the batcher. Same returns. */
int gw_journal_append_events(struct gw_journal *j, const struct gw_event *ev,
			     size_t n, int32_t day);

/* Removes every segment whose day is before `before_day`, then fsyncs the
 * journal directory. Returns the number removed or GW_EIO. */
int gw_journal_prune(struct gw_journal *j, int32_t before_day);

/* How long the fsync of each append took since open (the metrics'
 * gatewayd_journal_fsync_seconds): a histogram over the bounds of
 * gw_journal_fsync_bounds_us (microseconds, ascending), longer ones in
 * the last bucket. */
#define GW_JOURNAL_FSYNC_BUCKETS 8
extern const uint64_t gw_journal_fsync_bounds_us[GW_JOURNAL_FSYNC_BUCKETS];
struct gw_journal_fsync {
	unsigned long count;
	uint64_t sum_us, max_us;
	unsigned long bucket[GW_JOURNAL_FSYNC_BUCKETS + 1];
};
/* Copies the histogram into *out (thread-safe; zeros for a NULL j). */
void gw_journal_fsync_stats(struct gw_journal *j, struct gw_journal_fsync *out);

/* Failed appends since open (for status). */
unsigned long gw_journal_failures(struct gw_journal *j);
/* The errno of the last failed append (ENOSPC when the disk is full), 0
 * once an append has succeeded since. */
int gw_journal_last_errno(struct gw_journal *j);
/* The newest day (of the records' timestamps) of any failed append since
 * open, INT32_MIN if none: until that day is sealed, readings of a cycle
 * that could not be made durable are in memory only. */
int32_t gw_journal_failed_day(struct gw_journal *j);

/* Bytes in the journal directory now (for the spool bound). */
uint64_t gw_journal_bytes(const char *spool_dir);

/* Checks one segment file without changing it: returns 0 if it is whole,
 * GW_ECORRUPT with *why set (static string) if its header is bad or its
 * tail is torn (*good_len: bytes up to the last good record), GW_EVERSION
 * for a newer version, GW_EIO. The reasons: "truncated header", "bad
 * magic", "zero-filled segment", "unsupported version", "torn record
 * header", "empty record", "record length out of range", "torn record",
 * "bad record CRC", "record does not decode", "zero-filled tail" (the
 * bytes from the first bad record to the end are all zeros), "read error".
 * Used by tests and gwctl. */
int gw_journal_check_file(const char *path, const char **why, uint64_t *good_len);

/* Decodes a file's records for `gwctl spool journal`: like replay over one
 * file, read only. Returns 0 or as gw_journal_check_file. */
int gw_journal_read_file(const char *path, gw_journal_cycle_fn cycle,
			 gw_journal_event_fn event, void *ctx);

/* The same over a segment image in memory (buf, len; buf may be NULL when
 * len is 0), for tests and the fuzzer: hands each good record to the
 * callbacks and returns as gw_journal_check_file, with *why and *good_len
 * set likewise; or a callback's non-zero return. Any bytes are safe. */
int gw_journal_read_buf(const uint8_t *buf, size_t len,
			gw_journal_cycle_fn cycle, gw_journal_event_fn event,
			void *ctx, const char **why, uint64_t *good_len);

#endif
