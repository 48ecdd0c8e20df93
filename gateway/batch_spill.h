/* SPDX-License-Identifier: MIT */
/*
 * batch_spill.h - where the batching core keeps its points off the heap
 * (the sealed days', and the open day's but the last two a register): files in one directory (gatewayd's <spool_dir>/points),
 * written and read back by offset. The files are a cache of what the
 * journal holds, never the record: nothing in them is fsynced, a start
 * empties the directory, and the core rebuilds them from the journal's
 * replay. The core is given a store (gw_batcher_set_spill); without one
 * its points stay in memory.
 *
 * A store has two files at most, generations 0 and 1: the one the
 * tracks' records are in (the open day's passes add to it), and the one
 * the next day's are written to.
 * Each file is named for the sealed day it was made after (YYYY-MM-DD)
 * and begins with a 16-byte header ("GWPOINTS", version, day). The
 * files never outlive the process (a start removes them), so the
 * format of their records (batch_int.h) may change from one build to
 * the next; the version says which wrote a file.
 */
#ifndef GW_BATCH_SPILL_H
#define GW_BATCH_SPILL_H

#include <stddef.h>
#include <stdint.h>

struct gw_spill;

/* What a store did since it was opened. */
struct gw_spill_stats {
	uint64_t files;        /* files made */
	uint64_t writes;       /* writes: a pass's records gathered, many
				* at once (one alone when larger than
				* the pass's buffer) */
	uint64_t bytes;        /* their bytes */
	uint64_t write_failed; /* writes that failed (a full disk ...) */
	uint64_t read_failed;  /* reads that failed or came back short */
	uint64_t reads;        /* reads (a window of records read ahead, or
				* a record alone) */
	uint64_t bytes_read;   /* their bytes */
};

/* Opens the store in dir (made if missing, mode 0750) and removes every
 * file in it (what a run before left is stale). Returns 0 and *out (free
 * with gw_spill_close), or GW_EIO (errno kept, logged). */
int gw_spill_open(const char *dir, struct gw_spill **out);

/* Closes the store and removes its files. Accepts NULL. */
void gw_spill_close(struct gw_spill *s);

/* Starts generation gen (0 or 1) anew as the file of `day`: whatever gen
 * held before is closed and removed. Returns 0, or GW_EIO/GW_ENOSPC
 * (logged at growing intervals; gen is then empty). */
int gw_spill_begin(struct gw_spill *s, int gen, int32_t day);

/* The same for the open day's passes before any record of a sealed day
 * is in the store (it is named for `day`, the day before the open one;
 * only the debug line differs). */
int gw_spill_begin_open(struct gw_spill *s, int gen, int32_t day);

/* Appends n bytes to gen's file; *off gets where they start. Returns 0,
 * or GW_EIO/GW_ENOSPC (nothing is counted as written; a partial write is
 * never read). */
int gw_spill_write(struct gw_spill *s, int gen, const void *p, size_t n,
		   uint64_t *off);

/* Reads n bytes of gen's file at off. Returns 0 or GW_EIO (short, or no
 * such file; logged). */
int gw_spill_read(struct gw_spill *s, int gen, uint64_t off, void *p, size_t n);

/* Reads up to n bytes of gen's file at off, fewer at its end. Returns
 * how many (at least 1), or GW_EIO (none, or no such file; logged). */
int gw_spill_read_upto(struct gw_spill *s, int gen, uint64_t off, void *p,
		       size_t n);

/* The bytes written to gen's file (0: none). */
uint64_t gw_spill_size(const struct gw_spill *s, int gen);

/* Checks that gen's file is at least as long as what was written to it
 * (a file cut short under the store would be filled with zeros by the
 * next write, hiding the cut; a write that failed part way may have left
 * more, never read). Returns 0 or GW_EIO (counted as a failed read,
 * logged). */
int gw_spill_check(struct gw_spill *s, int gen);

/* Closes and removes gen's file. */
void gw_spill_drop(struct gw_spill *s, int gen);

void gw_spill_stats(const struct gw_spill *s, struct gw_spill_stats *out);

#endif
