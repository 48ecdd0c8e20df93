/* SPDX-License-Identifier: MIT */
/*
 * rewind.h - undoes what a wrong clock did to a spool, without losing a
 * reading.
 *
 * A clock that jumped ahead leaves behind readings and events stamped with
 * false times in the journal, and, where days were sealed by it (a gateway
 * of the version before clockcheck.h, or an operator who confirmed a wrong
 * clock), a <spool>/state far ahead, batches of days that had not come,
 * and real days sealed before they were over.
 *
 * gw_rewind_run() rewrites the journal keeping every reading and event
 * stamped at or before `cut` (readings set aside as GW_RS_CLOCK_BACK keep
 * their mark) and, given a first day to seal again (`to_day`):
 *   - puts the readings and events of the batches of to_day .. last_day
 *     back into the journal, and the readings of the day before to_day
 *     (its end is the next day's start), so that gatewayd seals those days
 *     again, as new revisions, with every reading they had and every
 *     reading that came after;
 *   - moves every batch of a day >= to_day from ready/ and done/ to
 *     quarantine/, each with NAME.rewound saying why (days after last_day
 *     had not come: false days, never to be loaded; if one was in done/,
 *     the database holds it and the operator removes it there);
 *   - records next_day = to_day and seen = now in <spool>/state.
 * The journal segments read go to quarantine/ once the new ones are
 * durable. Records of a type this version does not know stay only there.
 *
 * Crash safety: <spool>/rewind records the plan and the phase. Before the
 * new segments are complete ("writing") a crash is rolled back (the new
 * segments removed, nothing else had changed); after ("moving") it is
 * finished. gw_rewind_recover() does either; gatewayd calls it at start,
 * gwctl clock rewind before it begins. Nobody may use the spool meanwhile
 * (gw_spool_lock).
 */
#ifndef GW_REWIND_H
#define GW_REWIND_H

#include <stddef.h>
#include <stdint.h>

struct gw_rewind {
	const char *gateway_id;
	int64_t now_ms;   /* the true time now: the notes' and the state's */
	int64_t cut_ms;   /* records stamped after it are set aside */
	int32_t to_day;   /* the first day to seal again; INT32_MIN: the
			   * journal only (no batch or state is touched) */
	int32_t last_day; /* the last day that can be real (the day of now) */
};

struct gw_rewind_result {
	unsigned segments;          /* journal segments rewritten and set aside */
	unsigned long readings;     /* readings kept in the journal */
	unsigned long events;       /* events kept */
	unsigned long readings_aside, events_aside; /* stamped after cut */
	unsigned long readings_back, events_back;   /* put back from batches */
	unsigned batches_back;      /* batches of days sealed again */
	unsigned batches_false;     /* batches of days after last_day */
	unsigned uploaded_false;    /* of them, in done/ (in the database) */
	unsigned long readings_false; /* readings in the false days' batches */
};

/* Does it (see above). The spool must not be in use. Refuses, before
 * changing anything, when a batch of a day it would seal again cannot give
 * its readings back (emptied after upload by the size bound, or rewritten
 * without its interval readings): GW_ECORRUPT, its name in bad (may be
 * NULL). Returns 0, GW_ECORRUPT, GW_EIO or GW_ENOMEM. */
int gw_rewind_run(const char *spool_dir, const struct gw_rewind *rw,
		  struct gw_rewind_result *res, char *bad, size_t badcap);

/* Finishes or rolls back a rewind a crash interrupted. Returns 0 if there
 * was none, 1 if one was rolled back (it did not happen: run it again), 2
 * if one was finished, or a negative GW_E* code. */
int gw_rewind_recover(const char *spool_dir);

#endif
