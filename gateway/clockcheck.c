/* SPDX-License-Identifier: MIT */
/*
 * clockcheck.c - whether the gateway may believe its clock; see
 * clockcheck.h for the contract.
 *
 * Why "max_jump" both ways and one number: a wrong clock is harmful in
 * both directions (ahead it seals days that are not over; behind it puts
 * readings between those already taken), and the witnesses are about as
 * precise either way. Why the state is a lower bound only when the clock
 * is ahead: a gateway that was switched off for a week is legitimately far
 * ahead of its last state, and nothing it has on disk can tell that from a
 * bad RTC. It seals by that lower bound, which can only be late, never
 * early, until another witness settles it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clockcheck.h"
#include "gw.h"

void gw_clockcheck_init(struct gw_clockcheck *cc, int64_t max_jump_ms)
{
	memset(cc, 0, sizeof(*cc));
	cc->max_jump_ms = max_jump_ms > 0 ? max_jump_ms : 1;
	cc->trust = GW_CLOCK_TRUSTED;
	cc->lo_ms = INT64_MIN;
}

static int64_t abs64(int64_t x)
{
	return x < 0 ? -x : x;
}

static void hold(struct gw_clockcheck *cc, enum gw_clock_trust t,
		 enum gw_clock_witness by, int64_t ref, int64_t now, int64_t mono)
{
	if (cc->trust == GW_CLOCK_TRUSTED) {
		cc->since_ms = now;
		cc->holds++;
	}
	cc->trust = t;
	cc->by = by;
	cc->ref_ms = ref;
	cc->ref_mono = mono;
}

static void trust(struct gw_clockcheck *cc, enum gw_clock_witness by,
		  int64_t now, int64_t mono)
{
	cc->trust = GW_CLOCK_TRUSTED;
	cc->by = by;
	cc->ref_ms = now;
	cc->ref_mono = mono;
	cc->since_ms = 0;
}

enum gw_clock_change gw_clockcheck_start(struct gw_clockcheck *cc, int64_t now,
					 int64_t mono,
					 const struct gw_clock_past *past)
{
	int64_t back = INT64_MIN, hi = INT64_MIN;

	trust(cc, GW_WIT_NONE, now, mono);
	cc->fresh = !past || (!past->seen_ms && !past->sealed_lo_ms);
	if (cc->fresh)
		return GW_CLOCK_SAME;
	if (past->sealed_lo_ms) {
		cc->lo_ms = past->sealed_lo_ms;
		back = past->sealed_lo_ms;
		hi = past->sealed_hi_ms;
	}
	if (past->seen_ms) {
		if (past->seen_ms > back)
			back = past->seen_ms;
		hi = past->seen_ms;
	}
	if (now < back - cc->max_jump_ms) {
		hold(cc, GW_CLOCK_BEHIND, GW_WIT_STATE, back, now, mono);
		return GW_CLOCK_HELD;
	}
	if (now > hi + cc->max_jump_ms) {
		/* A lower bound: the gateway may have been off since. */
		hold(cc, GW_CLOCK_AHEAD, GW_WIT_STATE, back, now, mono);
		return GW_CLOCK_HELD;
	}
	return GW_CLOCK_SAME;
}

enum gw_clock_change gw_clockcheck_journal(struct gw_clockcheck *cc, int64_t now,
					   int64_t mono, int64_t newest_ms)
{
	if (cc->trust != GW_CLOCK_TRUSTED || newest_ms == INT64_MIN ||
	    now >= newest_ms - cc->max_jump_ms)
		return GW_CLOCK_SAME;
	cc->fresh = 0;
	hold(cc, GW_CLOCK_BEHIND, GW_WIT_STATE, newest_ms, now, mono);
	return GW_CLOCK_HELD;
}

int64_t gw_clockcheck_ref(const struct gw_clockcheck *cc, int64_t now,
			  int64_t mono)
{
	(void)now;
	/* Trusted or held alike: the time last vouched for, moved on by the
	 * time elapsed since. Trusted, that is the clock at the last check
	 * (a tick, a start, a confirmation): a step made since, which no
	 * tick has judged yet, moves `now` but not this. */
	return cc->ref_ms + (mono - cc->ref_mono);
}

enum gw_clock_change gw_clockcheck_tick(struct gw_clockcheck *cc, int64_t now,
					int64_t mono, int64_t step_ms)
{
	if (cc->trust == GW_CLOCK_TRUSTED) {
		if (abs64(step_ms) <= cc->max_jump_ms) {
			cc->ref_ms = now;
			cc->ref_mono = mono;
			return GW_CLOCK_SAME;
		}
		cc->step_ms = step_ms;
		hold(cc, step_ms > 0 ? GW_CLOCK_AHEAD : GW_CLOCK_BEHIND, GW_WIT_STEP,
		     now - step_ms, now, mono);
		return GW_CLOCK_HELD;
	}
	if (abs64(now - gw_clockcheck_ref(cc, now, mono)) <= cc->max_jump_ms) {
		trust(cc, GW_WIT_NONE, now, mono);
		return GW_CLOCK_CORRECTED;
	}
	return GW_CLOCK_SAME;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* The median of n offsets (the lower middle one for even n); 0 if the
 * copy cannot be made (then no decision is taken on it). */
static int median(const int64_t *v, int n, int64_t *out)
{
	int64_t *c = malloc((size_t)n * sizeof(*c));

	if (!c)
		return -1;
	memcpy(c, v, (size_t)n * sizeof(*c));
	qsort(c, (size_t)n, sizeof(*c), cmp_i64);
	*out = c[(n - 1) / 2];
	free(c);
	return 0;
}

enum gw_clock_change gw_clockcheck_meters(struct gw_clockcheck *cc, int64_t now,
					  int64_t mono, const int64_t *offsets,
					  int n)
{
	int agree = 0;
	int64_t med;

	if (n <= 0)
		return GW_CLOCK_SAME;
	for (int i = 0; i < n; i++)
		agree += abs64(offsets[i]) <= cc->max_jump_ms;
	cc->meters_n = n;
	cc->meters_agree = agree;
	if (cc->trust != GW_CLOCK_TRUSTED) {
		if (cc->by == GW_WIT_DATABASE)
			return GW_CLOCK_SAME; /* the stronger witness stands */
		if (agree * 2 > n) {
			if (gw_clockcheck_needs_rewind(cc, now))
				return GW_CLOCK_SAME;
			trust(cc, GW_WIT_METERS, now, mono);
			return GW_CLOCK_RELEASED;
		}
		if ((n - agree) * 2 <= n || median(offsets, n, &med))
			return GW_CLOCK_SAME;
		enum gw_clock_trust t = med < 0 ? GW_CLOCK_AHEAD : GW_CLOCK_BEHIND;
		int changed = cc->by != GW_WIT_METERS || cc->trust != t;
		hold(cc, t, GW_WIT_METERS, now + med, now, mono);
		return changed ? GW_CLOCK_HELD : GW_CLOCK_SAME;
	}
	if (!cc->fresh || cc->confirmed || n < 2 || (n - agree) * 2 <= n ||
	    median(offsets, n, &med))
		return GW_CLOCK_SAME;
	hold(cc, med < 0 ? GW_CLOCK_AHEAD : GW_CLOCK_BEHIND, GW_WIT_METERS,
	     now + med, now, mono);
	return GW_CLOCK_HELD;
}

enum gw_clock_change gw_clockcheck_database(struct gw_clockcheck *cc, int64_t now,
					    int64_t mono, int64_t offset_ms)
{
	if (abs64(offset_ms) <= cc->max_jump_ms) {
		cc->confirmed = 1;
		if (cc->trust == GW_CLOCK_TRUSTED || gw_clockcheck_needs_rewind(cc, now))
			return GW_CLOCK_SAME;
		trust(cc, GW_WIT_DATABASE, now, mono);
		return GW_CLOCK_RELEASED;
	}
	enum gw_clock_trust t = offset_ms < 0 ? GW_CLOCK_AHEAD : GW_CLOCK_BEHIND;
	int changed = cc->by != GW_WIT_DATABASE || cc->trust != t;
	cc->confirmed = 0;
	hold(cc, t, GW_WIT_DATABASE, now + offset_ms, now, mono);
	return changed ? GW_CLOCK_HELD : GW_CLOCK_SAME;
}

enum gw_clock_change gw_clockcheck_confirm(struct gw_clockcheck *cc, int64_t now,
					   int64_t mono)
{
	if (gw_clockcheck_needs_rewind(cc, now))
		return cc->trust == GW_CLOCK_TRUSTED ? GW_CLOCK_SAME : GW_CLOCK_HELD;
	cc->confirmed = 1;
	if (cc->trust == GW_CLOCK_TRUSTED)
		return GW_CLOCK_SAME;
	trust(cc, GW_WIT_OPERATOR, now, mono);
	return GW_CLOCK_RELEASED;
}

int64_t gw_clockcheck_seal_ms(const struct gw_clockcheck *cc, int64_t now,
			      int64_t mono)
{
	int64_t ref = gw_clockcheck_ref(cc, now, mono);

	return ref < now ? ref : now;
}

int gw_clockcheck_withhold(const struct gw_clockcheck *cc, int64_t now,
			   int64_t mono, int64_t ts)
{
	int64_t ref = gw_clockcheck_ref(cc, now, mono);

	if (cc->trust == GW_CLOCK_AHEAD)
		return ts > ref + cc->max_jump_ms;
	if (cc->trust == GW_CLOCK_BEHIND)
		return ts < ref - cc->max_jump_ms;
	return 0;
}

int gw_clockcheck_needs_rewind(const struct gw_clockcheck *cc, int64_t now)
{
	return cc->lo_ms != INT64_MIN && now < cc->lo_ms - cc->max_jump_ms;
}

const char *gw_clock_trust_name(enum gw_clock_trust t)
{
	switch (t) {
	case GW_CLOCK_TRUSTED: return "trusted";
	case GW_CLOCK_AHEAD: return "ahead";
	case GW_CLOCK_BEHIND: return "behind";
	}
	return "?";
}

const char *gw_clock_witness_name(enum gw_clock_witness w)
{
	switch (w) {
	case GW_WIT_NONE: return "-";
	case GW_WIT_STATE: return "state";
	case GW_WIT_STEP: return "step";
	case GW_WIT_METERS: return "meters";
	case GW_WIT_DATABASE: return "database";
	case GW_WIT_OPERATOR: return "operator";
	}
	return "?";
}

char *gw_clock_duration(int64_t ms, int sign, char *buf, size_t cap)
{
	const char *s = !sign ? "" : ms < 0 ? "-" : "+";
	int64_t a = abs64(ms) / 1000;

	if (a >= 2 * 86400)
		snprintf(buf, cap, "%s%lld days", s, (long long)((a + 43200) / 86400));
	else if (a >= 3600)
		snprintf(buf, cap, "%s%lld h %lld min", s, (long long)(a / 3600),
			 (long long)(a % 3600 / 60));
	else if (a >= 60)
		snprintf(buf, cap, "%s%lld min", s, (long long)(a / 60));
	else
		snprintf(buf, cap, "%s%lld s", s, (long long)a);
	return buf;
}

char *gw_clockcheck_describe(const struct gw_clockcheck *cc, int64_t now,
			     int64_t mono, char *buf, size_t cap)
{
	char tn[40], tr[40], d[32];
	int64_t ref = gw_clockcheck_ref(cc, now, mono);
	const char *dir = cc->trust == GW_CLOCK_AHEAD ? "after" : "before";

	gw_format_utc(now, tn, sizeof(tn));
	gw_format_utc(ref, tr, sizeof(tr));
	gw_clock_duration(now - ref, 0, d, sizeof(d));
	if (cc->trust == GW_CLOCK_TRUSTED) {
		static const char *const what[] = {
			[GW_WIT_METERS] = " (confirmed by the meters' clocks)",
			[GW_WIT_DATABASE] = " (confirmed by the database's clock)",
			[GW_WIT_OPERATOR] = " (confirmed by the operator)",
		};
		const char *w = (unsigned)cc->by < sizeof(what) / sizeof(what[0]) &&
					what[cc->by] ? what[cc->by] : "";
		snprintf(buf, cap, "trusted%s", w);
		return buf;
	}
	switch (cc->by) {
	case GW_WIT_STATE:
		if (cc->trust == GW_CLOCK_BEHIND && gw_clockcheck_needs_rewind(cc, now)) {
			snprintf(buf, cap,
				 "the clock reads %s, %s before days this spool has sealed "
				 "already (sealed at %s or later): if the clock is right, a "
				 "wrong clock moved the spool forward: stop gatewayd and run "
				 "gwctl clock rewind; if it is wrong, set it right",
				 tn, d, tr);
		} else if (cc->trust == GW_CLOCK_BEHIND) {
			snprintf(buf, cap,
				 "the clock reads %s, %s before the last time this gateway "
				 "saw (now %s): readings stamped that far back are kept out "
				 "of days until the clock is set right, or confirmed "
				 "(gwctl clock trust)", tn, d, tr);
		} else {
			snprintf(buf, cap,
				 "the clock reads %s, %s after the last time this gateway "
				 "saw: days are sealed only up to that time plus the time run "
				 "since (%s) until the meters' or the database's clock "
				 "confirms the clock, or gwctl clock trust, or it is set right",
				 tn, d, tr);
		}
		break;
	case GW_WIT_STEP: {
		char st[32];
		gw_clock_duration(cc->step_ms, 1, st, sizeof(st));
		snprintf(buf, cap,
			 "the clock stepped %s (the monotonic clock did not) and reads "
			 "%s: days are sealed by the clock as it was before the step "
			 "(%s) until a witness confirms the new time (meters, database, "
			 "gwctl clock trust) or the clock steps back", st, tn, tr);
		break;
	}
	case GW_WIT_METERS:
		snprintf(buf, cap,
			 "%d of %d meters' clocks say the time is %s, %s %s the "
			 "gateway's clock (%s): days are sealed by the meters' time",
			 cc->meters_n - cc->meters_agree, cc->meters_n, tr, d,
			 cc->trust == GW_CLOCK_AHEAD ? "before" : "after", tn);
		break;
	case GW_WIT_DATABASE:
		snprintf(buf, cap,
			 "the database's clock says the time is %s, %s %s the "
			 "gateway's clock (%s): days are sealed by the database's time",
			 tr, d, cc->trust == GW_CLOCK_AHEAD ? "before" : "after", tn);
		break;
	default:
		snprintf(buf, cap, "the clock reads %s, %s %s the witnesses' time %s",
			 tn, d, dir, tr);
		break;
	}
	return buf;
}
