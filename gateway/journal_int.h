/* SPDX-License-Identifier: MIT */
/*
 * journal_int.h - what journal.c (writing, replay, pruning) and
 * journal_read.c (reading segments) share and nothing else may use: the
 * journal's state and the segment reader's verdict. Callers use
 * journal.h.
 */
#ifndef GW_JOURNAL_INT_H
#define GW_JOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "journal.h"

/* What the reader hands records to, and what it counted. */
struct gw_jscan {
	gw_journal_cycle_fn cycle;
	gw_journal_event_fn event;
	void *ctx;
	struct gw_reading *rbuf; /* the reader's buffer; free with free() */
	size_t rcap;
	unsigned long cycles, readings, events, skipped;
};

/* What replay must do with a segment that is not whole. */
enum gw_jfix {
	GW_JFIX_NONE,     /* whole */
	GW_JFIX_CUT,      /* cut at good_len (removed if good_len < the
			   * header): what a crash or power loss leaves */
	GW_JFIX_SET_ASIDE /* not a segment of ours (bad magic) or of a newer
			   * version: moved to quarantine/, not replayed */
};

struct gw_jverdict {
	const char *why;   /* "" when whole */
	uint64_t good_len; /* bytes up to the end of the last good record */
	enum gw_jfix fix;
};

/* Opens path and reads it, handing each good record to sc's callbacks.
 * Returns 0 if whole, GW_ECORRUPT or GW_EVERSION (v says why and what to
 * do), GW_ENOTFOUND if it does not exist, GW_EIO, GW_ENOMEM, or 0 with
 * *cbrc set when a callback stopped it. */
int gw_journal_scan_file(const char *path, struct gw_jscan *sc,
			 struct gw_jverdict *v, int *cbrc);

#endif
