/* SPDX-License-Identifier: MIT */
/*
 * clockcheck.h - whether the gateway may seal days on the word of its own
 * clock, and which readings it keeps out of days while it may not.
 *
 * A bad RTC at boot or a wrong NTP answer must not seal every day up to a
 * false date. The gateway therefore compares its clock with witnesses:
 *
 *   state     what it saw before: <spool>/state's "seen" (the last time it
 *             trusted, recorded durably) and the first day not yet sealed
 *             (the clock was at least that day's start + seal_delay when the
 *             day before it was sealed);
 *   step      the monotonic clock: a step of the wall clock that elapsed
 *             time did not make is a step, not time passing;
 *   meters    the meters' own clocks (IEC 62056-21 0.9.1/0.9.2);
 *   database  the database server's clock (real clocks only);
 *   operator  `gwctl clock trust`.
 *
 * Contract (what the daemon relies on):
 * - All times are the gateway clock's UTC milliseconds (simulated if the
 *   clock is); `mono` is a monotonic clock on the same scale
 *   (gw_clock_mono_ms), which only elapsed time moves.
 * - The clock is TRUSTED unless a witness puts it more than max_jump away:
 *   then it is HELD, AHEAD or BEHIND of the witnesses' time ("ref", which
 *   moves on with the monotonic clock). A step of at most max_jump is
 *   taken as it comes (an NTP correction).
 * - gw_clockcheck_seal_ms() is the time up to which days may be sealed:
 *   never later than ref, so that no day is sealed that the witnesses do
 *   not see as over. While trusted, ref is the clock at the last
 *   gw_clockcheck_tick moved on by the monotonic clock: a step of the wall
 *   clock between a tick and a seal (another thread's load can make that
 *   window long) seals nothing before the next tick judges it.
 * - While held, gw_clockcheck_withhold() is true for times more than
 *   max_jump from ref in the clock's direction: such readings and events
 *   are not put into days (they are in the journal).
 * - A hold ends RELEASED when a witness confirms the clock (it is right:
 *   what was withheld is good) or CORRECTED when the clock comes back to
 *   within max_jump of ref (what was stamped while it was held is wrong).
 *   A hold raised because the spool has sealed days the clock has not
 *   reached (gw_clockcheck_needs_rewind) is not released by a witness:
 *   the clock is right and the spool was moved forward by a wrong clock
 *   before; `gwctl clock rewind` repairs it.
 * - The meters' clocks raise a hold only on a gateway with no past (a new
 *   spool, nothing else to compare with) and only when most of the meters
 *   read agree on it; otherwise they can only confirm the clock. A
 *   database's or operator's confirmation is not overruled by meters.
 * - Pure functions: no I/O, no clock reads, no threads, no allocation
 *   but a copy of the meters' offsets to take their median. The newest
 *   reading of each register, which sets aside readings after a step
 *   back, is clockmarks.h.
 */
#ifndef GW_CLOCKCHECK_H
#define GW_CLOCKCHECK_H

#include <stddef.h>
#include <stdint.h>

enum gw_clock_trust {
	GW_CLOCK_TRUSTED = 0,
	GW_CLOCK_AHEAD,  /* the clock is far after the witnesses' time */
	GW_CLOCK_BEHIND, /* the clock is far before it */
};

enum gw_clock_witness {
	GW_WIT_NONE = 0,
	GW_WIT_STATE,    /* what the gateway saw before (<spool>/state) */
	GW_WIT_STEP,     /* a step of the clock the monotonic clock did not make */
	GW_WIT_METERS,   /* the meters' own clocks */
	GW_WIT_DATABASE, /* the database server's clock */
	GW_WIT_OPERATOR, /* gwctl clock trust */
};

/* What a call changed. */
enum gw_clock_change {
	GW_CLOCK_SAME = 0,
	GW_CLOCK_HELD,      /* a hold began (or another witness now holds it) */
	GW_CLOCK_RELEASED,  /* a witness confirmed the clock: what was withheld is good */
	GW_CLOCK_CORRECTED, /* the clock came back: what it stamped while held is wrong */
};

/* What the spool says about the gateway's past. */
struct gw_clock_past {
	int64_t seen_ms;   /* state "seen": the last time trusted; 0: unknown */
	/* From the first day not yet sealed (state or batches): when the day
	 * before it was sealed, the clock read at least sealed_lo_ms (its start
	 * + seal_delay), and a gateway that kept running would have sealed it
	 * by sealed_hi_ms (its end + seal_delay). 0, 0: nothing sealed yet. */
	int64_t sealed_lo_ms, sealed_hi_ms;
};

struct gw_clockcheck {
	int64_t max_jump_ms;
	enum gw_clock_trust trust;
	enum gw_clock_witness by;   /* the witness that holds it (or last confirmed) */
	int64_t ref_ms, ref_mono;   /* the witnesses' time was ref_ms at mono ref_mono */
	int64_t since_ms;           /* the clock when the hold began */
	int64_t lo_ms;              /* sealed_lo_ms of the past, INT64_MIN if none */
	int64_t step_ms;            /* the step that began a GW_WIT_STEP hold */
	int meters_n, meters_agree; /* the last meter sample behind a decision */
	int fresh;                  /* no past: the meters may raise a hold */
	int confirmed;              /* database or operator confirmed since start */
	unsigned holds;             /* holds begun since start */
};

/* A check allowing max_jump_ms (> 0) either way; trusted until told. */
void gw_clockcheck_init(struct gw_clockcheck *cc, int64_t max_jump_ms);

/* At start, with the clock (now, mono) and the spool's past: AHEAD when
 * now is more than max_jump after what the gateway saw last (seen, else
 * sealed_hi), BEHIND when it is more than max_jump before the later of
 * seen and sealed_lo. Returns GW_CLOCK_HELD or GW_CLOCK_SAME. */
enum gw_clock_change gw_clockcheck_start(struct gw_clockcheck *cc, int64_t now,
					 int64_t mono,
					 const struct gw_clock_past *past);

/* After the journal was replayed at start, for a spool whose state has no
 * "seen" (one of the version before it): newest_ms is the newest reading
 * it holds, which the gateway's clock reached once. A trusted clock more
 * than max_jump before it is held BEHIND with ref newest_ms (by the state's
 * witness). Returns GW_CLOCK_HELD or GW_CLOCK_SAME. */
enum gw_clock_change gw_clockcheck_journal(struct gw_clockcheck *cc, int64_t now,
					   int64_t mono, int64_t newest_ms);

/* Every turn of the main loop: step_ms is how far the wall clock stepped
 * since the last call beyond the monotonic clock (gw_clock_step_ms; 0 if
 * it did not). Trusted: a step beyond max_jump begins a hold whose ref is
 * the clock before the step. Held: CORRECTED once the clock is within
 * max_jump of ref again. */
enum gw_clock_change gw_clockcheck_tick(struct gw_clockcheck *cc, int64_t now,
					int64_t mono, int64_t step_ms);

/* The meters whose clocks were read (since the hold began, or lately):
 * offsets[i] is meter clock minus gateway clock at that read, n of them.
 * Held: RELEASED when more than half agree within max_jump (unless the
 * witness is the database, or the spool needs a rewind); otherwise, when
 * more than half disagree, ref becomes the meters' median time. Trusted:
 * on a gateway without past and not confirmed, 2 or more meters read and
 * more than half disagree begin a hold (GW_WIT_METERS). */
enum gw_clock_change gw_clockcheck_meters(struct gw_clockcheck *cc, int64_t now,
					  int64_t mono, const int64_t *offsets,
					  int n);

/* The database server's clock minus the gateway's, measured at now.
 * Within max_jump: confirms (RELEASED if held, unless the spool needs a
 * rewind). Beyond: a hold (or the hold's ref) by the database's time. */
enum gw_clock_change gw_clockcheck_database(struct gw_clockcheck *cc, int64_t now,
					    int64_t mono, int64_t offset_ms);

/* The operator confirms the clock (gwctl clock trust). Returns
 * GW_CLOCK_RELEASED if it was held, GW_CLOCK_SAME if it was trusted, or
 * GW_CLOCK_HELD (refused, still held) if the spool needs a rewind. */
enum gw_clock_change gw_clockcheck_confirm(struct gw_clockcheck *cc, int64_t now,
					   int64_t mono);

/* The witnesses' time now: while held, their time moved on by the
 * monotonic clock; while trusted, the clock as it read at the last check
 * (gw_clockcheck_tick, a start, a confirmation) moved on by it, so that a
 * step of the wall clock after that check, which no tick has judged yet,
 * is not taken for the witnesses' time. */
int64_t gw_clockcheck_ref(const struct gw_clockcheck *cc, int64_t now,
			  int64_t mono);
/* The time up to which days may be sealed: the earlier of now and ref. */
int64_t gw_clockcheck_seal_ms(const struct gw_clockcheck *cc, int64_t now,
			      int64_t mono);
/* 1 if a reading or event stamped ts is kept out of days now (held, and ts
 * lies more than max_jump beyond ref in the clock's direction), else 0. */
int gw_clockcheck_withhold(const struct gw_clockcheck *cc, int64_t now,
			   int64_t mono, int64_t ts);
/* 1 if the spool has sealed days that the clock, within max_jump, has not
 * reached: a clock that is right means the spool was moved forward by a
 * wrong one (gwctl clock rewind). */
int gw_clockcheck_needs_rewind(const struct gw_clockcheck *cc, int64_t now);

/* "trusted", "ahead", "behind". */
const char *gw_clock_trust_name(enum gw_clock_trust t);
/* "state", "step", "meters", "database", "operator" ("-" for none). */
const char *gw_clock_witness_name(enum gw_clock_witness w);
/* One line for the log and the status file: what the clock says, what the
 * witness says, and what the gateway does about it. Returns buf. */
char *gw_clockcheck_describe(const struct gw_clockcheck *cc, int64_t now,
			     int64_t mono, char *buf, size_t cap);
/* A duration as "3 days", "5 h 20 min", "40 min", "12 s" (signed with
 * +/- when sign is non-zero). Returns buf. */
char *gw_clock_duration(int64_t ms, int sign, char *buf, size_t cap);

#endif
