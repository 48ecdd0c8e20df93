/* SPDX-License-Identifier: MIT */
/*
 * edges.h - <spool_dir>/edges: where each meter register's books stand at
 * the oldest day the gateway can still seal again (batch.h,
 * gw_batcher_edges_save), kept durably so that the days sealed after a
 * restart continue them exactly, also for a meter that has been silent for
 * longer than the journal keeps readings (docs/spool-format.md, "Edges").
 *
 * The daemon writes it after each day sealed, before journal segments are
 * removed, and reads it at start between gw_batcher_restore and the
 * journal replay.
 */
#ifndef GW_EDGES_H
#define GW_EDGES_H

#include "batch.h"

/* Writes the batcher's edges to <spool_dir>/edges (through tmp/, with
 * fsync and rename), followed by a line "end crc32=XXXXXXXX" over what
 * precedes it; the text is streamed into the file as it is made, never
 * held whole. Nothing is written before the first day is sealed. On any
 * failure the old file stays as it was. Returns 0, GW_ENOSPC, GW_EIO or
 * GW_ENOMEM. */
int gw_edges_write(const char *spool_dir, const struct gw_batcher *b);

/* Loads <spool_dir>/edges into a restored batcher. Returns 1 if loaded, 0
 * if there is none or it was written for a later day than the restored
 * one (the books are then taken up from the journal), or a negative code:
 * GW_ECORRUPT (damaged: moved to quarantine/edges, logged), GW_EIO,
 * GW_ENOMEM. */
int gw_edges_read(const char *spool_dir, struct gw_batcher *b);

#endif
