/* SPDX-License-Identifier: MIT */
/*
 * batch_edge.c - the revision window and the books at its edge: sealed
 * days marked for sealing again when a reading lands in them, the edge
 * moved on as days become final (the register frozen at the edge
 * midnight, or a silent meter's track pending until it comes back, and
 * its long gap counted then), and the edges written to and read from text
 * across a restart (gw_batcher_edges_save, gw_batcher_edges_load). See
 * the header comment of batch.c for the whole story.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"
#include "drops.h"

static void mark_dirty(struct gw_batcher *b, int32_t d)
{
	if (b->next_day == INT32_MIN || d >= b->next_day || d < b->edge_day)
		return;
	for (int i = 0; i < b->n_dirty; i++)
		if (b->dirty[i] == d)
			return;
	if (b->n_dirty < (int)(sizeof(b->dirty) / sizeof(b->dirty[0])))
		b->dirty[b->n_dirty++] = d;
}

/* Marks every sealed, revisable day from the day of `from` to the day of
 * `to` (the readings on either side of a new one: every midnight between
 * them has changed). */
void batch_mark_range(struct gw_batcher *b, int64_t from, int64_t to,
		      const struct add_mode *m)
{
	if (from >= b->open_start || to < b->edge_start)
		return; /* only open days, or only final ones */
	if (m->replay && !m->fresh)
		return;
	int32_t lo = from < b->edge_start ? b->edge_day : gw_tz_day_of(from);
	int32_t hi = to >= b->open_start ? b->next_day - 1 : gw_tz_day_of(to);
	for (int32_t d = lo; d <= hi; d++) {
		/* A replayed cycle changed the days sealed when it was read,
		 * which are the oldest ones of the range. */
		if (m->replay &&
		    gw_tz_day_start(d + 1) + b->p.seal_delay_ms > m->sealed_by)
			break;
		mark_dirty(b, d);
	}
}

/* The edge day of a track that came back after a silence (edge BACK) is
 * final now: its start value as last sealed is what the readings around
 * the edge midnight give, and the energy between the last reading before
 * the silence (where the final days' books end) and it is on no day; a
 * long_gap event, queued for the next day sealed, says how much. (After a
 * restart the edges file carries it until then.) */
static int long_gap(struct gw_batcher *b, struct track *t)
{
	int64_t v = 0;
	int broken = 0;
	char detail[96], since[32], back[32], day[16];

	struct tpts all = track_all(b, t);
	enum gw_quality q = batch_boundary(b, t, &all, b->edge_start, &v, &broken);
	size_t i = lower_bound(b, t, b->edge_start);
	if (q == GW_Q_INCOMPLETE || i == 0 || i == t->n)
		return 0; /* cannot be: readings on both sides */
	const struct point *last = &track_pts(b, t)[i - 1], *after = &track_pts(b, t)[i];
	int64_t unplaced = v - last->v;
	const char *unit = gw_unit_name((enum gw_unit)t->unit);
	gw_day_format(b->edge_day, day, sizeof(day));
	batch_fmt_time(last->ts, since, sizeof(since));
	batch_fmt_time(after->ts, back, sizeof(back));
	b->gaps.count++;
	if (broken || unplaced < 0) {
		b->gaps.unknown++;
		snprintf(detail, sizeof(detail),
			 "unknown %.6s not placed on days before %.10s (silent from %.20s)",
			 unit, day, since);
		snprintf(b->gaps.last, sizeof(b->gaps.last),
			 "%.47s %.23s unknown %.6s, silent %.20s .. %.20s", track_meter(b, t),
			 track_obis(b, t), unit, since, back);
	} else {
		if (t->unit == GW_UNIT_WH)
			b->gaps.wh += unplaced;
		char num[24];
		snprintf(num, sizeof(num), "%lld", (long long)unplaced);
		snprintf(detail, sizeof(detail),
			 "%.16s %.6s not placed on days before %.10s (silent from %.20s)",
			 num, unit, day, since);
		snprintf(b->gaps.last, sizeof(b->gaps.last),
			 "%.47s %.23s %lld %.6s, silent %.20s .. %.20s", track_meter(b, t),
			 track_obis(b, t), (long long)unplaced, unit, since, back);
	}
	gw_warn("batching: %s %s was silent from %s to %s, longer than the revision "
		"window: %s", track_meter(b, t), track_obis(b, t), since, back, detail);
	return batch_queue_event(b, track_meter(b, t), track_obis(b, t), last->ts,
				 GW_EV_LONG_GAP, detail);
}

/* Energy track t's register at midnight m (batch_boundary: *value, the
 * quality). From its records around m alone (batch_track_around: the
 * record that starts at its last point at or before m, decoded up to
 * the second point from m on) when it has records, views are on and
 * `whole` is not set; from all its points when it has none (in memory:
 * as quick), or when the view lacks a point the books need (the last
 * reading before the old edge midnight, for a value held at the frozen
 * edge: batch_booked; one before the record) or holds too few after m
 * (counted in edge_full). */
static enum gw_quality books_at(struct gw_batcher *b, struct track *t,
				int64_t m, int whole, int64_t *value)
{
	struct tpts v;

	if (t->sp && !whole && !b->no_view && batch_track_around(b, t, m, &v)) {
		enum gw_quality q = batch_boundary(b, t, &v, m, value, NULL);
		if (!v.lacks) {
			b->edge_views++;
			return q;
		}
	}
	b->edge_full += t->sp != 0;
	batch_track_open(b, t);
	v = track_all(b, t);
	return batch_boundary(b, t, &v, m, value, NULL);
}

/* Freezes every energy track's books at midnight m, the start of the day
 * that is about to be the edge day: the register there as the day before
 * was (last) sealed with it, or "pending" on the last reading before it
 * when none follows yet. A track back from a silence at the old edge
 * midnight has its long gap counted first (the events so raised come in
 * the order of meter and code: a walk by names). With `then_prune`,
 * every track is pruned to m after (batch_prune_to: a walk by code,
 * which writes the records that stay in the order the open day's passes
 * and the seal's value column read them). Returns 0 or GW_ENOMEM (an
 * event could not be queued). */
static int freeze_at(struct gw_batcher *b, int64_t m, int then_prune,
		     int32_t new_edge)
{
	int rc = 0;
	struct track_walk w;
	struct track *t;

	batch_walk_begin(b, &w);
	while ((t = batch_walk_next(&w)) != NULL) {
		if (t->unit < GW_UNIT_WH || t->unit > GW_UNIT_VAH)
			continue;
		/* back from a silence: the edge day is final now (its gap
		 * and books read from the whole track: rare) */
		int back = t->edge == EDGE_BACK && m > b->edge_start;
		if (back) {
			batch_track_open(b, t);
			if (long_gap(b, t))
				rc = GW_ENOMEM;
		}
		int64_t v = 0;
		enum gw_quality q = books_at(b, t, m, back, &v);
		if (q != GW_Q_INCOMPLETE) {
			t->edge = EDGE_FROZEN;
			track_edge_v_set(b, t, v);
			t->edge_q = (uint8_t)q;
		} else {
			/* pending: readings, all of them before m */
			t->edge = t->n > 0 && track_tail1(b, t).ts < m ? EDGE_PENDING
								       : EDGE_NONE;
		}
	}
	if (then_prune)
		batch_prune_to(b, m, new_edge);
	return rc;
}

/* Moves the edge day up to `want`, one day at a time, freezing the books
 * at each midnight it passes; drops what is no longer needed. */
static int move_edge_to(struct gw_batcher *b, int32_t want)
{
	int moved = 0, rc = 0;

	if (!b->edges_known) {
		/* After a restart without saved edges: take the books up
		 * from the replayed readings. */
		for (size_t no = 1; no <= b->n_tracks; no++)
			track_at(b, (uint32_t)no)->edge = EDGE_NONE;
		freeze_at(b, b->edge_start, 0, b->edge_day);
		b->edges_known = 1;
	}
	while (b->edge_day < want) {
		int32_t e = b->edge_day + 1;
		if (freeze_at(b, gw_tz_day_start(e), e == want, e))
			rc = GW_ENOMEM;
		batch_set_edge(b, e);
		moved = e == want;
	}
	/* days that left the revision window can no longer be dirty */
	int k = 0;
	for (int i = 0; i < b->n_dirty; i++)
		if (b->dirty[i] >= b->edge_day)
			b->dirty[k++] = b->dirty[i];
	b->n_dirty = k;
	if (!moved) {
		batch_prune(b);
		return rc;
	}
	size_t r = 0;
	for (size_t i = 0; i < b->n_repl; i++)
		if (b->repl[i].ts >= b->edge_start - b->p.max_gap_ms - 86400000)
			b->repl[r++] = b->repl[i];
	b->n_repl = r;
	return rc;
}

/* (its walks over the tracks with the records read ahead) */
int batch_move_edge_to(struct gw_batcher *b, int32_t want)
{
	batch_spill_ra_begin(b);
	int rc = move_edge_to(b, want);
	batch_spill_ra_end(b);
	return rc;
}

int batch_move_edge(struct gw_batcher *b)
{
	return batch_move_edge_to(b, b->next_day - window(b));
}

/* ---- the books at the edge, across a restart ---- */

/* One line per energy track with something to say:
 *   METER \t OBIS \t UNIT \t EDGE \t VALUE \t QUALITY \t LAST_TS \t LAST_V \t DERIVED
 * EDGE is "frozen" (VALUE, QUALITY: the register at the edge midnight),
 * "pending" (silent since LAST), "back" (was silent since LAST, and
 * answers again: its long gap is counted when the edge day is final) or
 * "none"; LAST is the track's last reading
 * at or before the edge midnight ("-" for none), DERIVED 1 if that reading
 * is GW_RS_DERIVED. The first line names the days it is for. Then one line
 * per event the core raised that is not sealed yet:
 *   event \t KIND \t METER \t OBIS \t TS \t DETAIL   ("-" for empty) */
static const char *const edge_names[] = {"none", "frozen", "pending", "back"};

/* A line at most: a track's (meter, OBIS, the unit, edge and quality
 * names, four numbers, tabs) or an event's (its kind's name, meter, OBIS,
 * a time and a detail of less than 96 bytes). */
#define EDGE_LINE_MAX (GW_ID_MAX + GW_OBIS_MAX + sizeof(((struct gw_event *)0)->detail) + 160)

int gw_batcher_edges_emit(const struct gw_batcher *b, gw_edges_sink_fn sink,
			  void *ctx)
{
	char line[EDGE_LINE_MAX], d1[16], d2[16];
	int n, rc = 0;

	if (b->next_day == INT32_MIN || !b->edges_known)
		return GW_ENOTFOUND;
	if (batch_spill_broken(b))
		return GW_EIO; /* books from a record unread: never saved */
	n = snprintf(line, sizeof(line), "next_day=%s edge_day=%s\n",
		     gw_day_format(b->next_day, d1, sizeof(d1)),
		     gw_day_format(b->edge_day, d2, sizeof(d2)));
	if ((rc = sink(ctx, line, (size_t)n)) != 0)
		return rc;
	batch_spill_ra_begin(b);
	/* the tracks' order when it is made (a walk in the order their
	 * records lie in), else by number */
	struct track_walk w;
	struct track *t;
	batch_walk_made(b, &w);
	while (rc == 0 && (t = batch_walk_next(&w)) != NULL) {
		if (!gw_unit_is_energy((enum gw_unit)t->unit) ||
		    strpbrk(track_meter(b, t), "\t\n") || strpbrk(track_obis(b, t), "\t\n"))
			continue;
		/* only its points up to the edge midnight decoded */
		struct point lp;
		const struct point *last =
			batch_track_last_at(b, t, b->edge_start, &lp) ? &lp : NULL;
		if (t->edge == EDGE_NONE && !last)
			continue;
		char lts[24] = "-", lv[24] = "-";
		if (last) {
			snprintf(lts, sizeof(lts), "%lld", (long long)last->ts);
			snprintf(lv, sizeof(lv), "%lld", (long long)last->v);
		}
		n = snprintf(line, sizeof(line), "%s\t%s\t%s\t%s\t%lld\t%s\t%s\t%s\t%d\n",
			     track_meter(b, t), track_obis(b, t),
			     gw_unit_name((enum gw_unit)t->unit),
			     edge_names[t->edge],
			     (long long)(t->edge == EDGE_FROZEN ? track_edge_v(b, t) : 0),
			     gw_quality_name((enum gw_quality)(t->edge == EDGE_FROZEN ? t->edge_q : 0)),
			     lts, lv, last ? is_derived(b, t, last) : 0);
		if (n < 0 || (size_t)n >= sizeof(line))
			rc = GW_ENOMEM; /* cannot happen: every line is bounded */
		else
			rc = sink(ctx, line, (size_t)n);
	}
	batch_spill_ra_end(b);
	if (rc)
		return rc;
	if (batch_spill_broken(b))
		return GW_EIO;
	/* The core's own events not sealed yet: a restart after this text is
	 * written would not raise them again. */
	for (size_t i = 0; i < b->n_events && rc == 0; i++) {
		const struct gw_event *e = &b->events[i];
		if (e->kind != GW_EV_LONG_GAP && e->kind != GW_EV_BAD_VALUE)
			continue;
		if (strpbrk(e->meter_id, "\t\n") || strpbrk(e->obis, "\t\n") ||
		    strpbrk(e->detail, "\t\n") || !e->meter_id[0])
			continue;
		n = snprintf(line, sizeof(line), "event\t%s\t%s\t%s\t%lld\t%s\n",
			     gw_event_name((enum gw_event_kind)e->kind), e->meter_id,
			     e->obis[0] ? e->obis : "-", (long long)e->ts_ms,
			     e->detail[0] ? e->detail : "-");
		if (n < 0 || (size_t)n >= sizeof(line))
			rc = GW_ENOMEM; /* cannot happen, as above */
		else
			rc = sink(ctx, line, (size_t)n);
	}
	return rc;
}

/* gw_batcher_edges_save's sink: the text grown in memory. */
struct edges_text {
	char *buf;
	size_t n, cap;
};

static int text_sink(void *ctx, const char *s, size_t len)
{
	struct edges_text *t = ctx;

	if (t->n + len > t->cap) {
		size_t cap = t->cap ? t->cap : 4096;
		while (cap < t->n + len)
			cap *= 2;
		char *nb = realloc(t->buf, cap);
		if (!nb)
			return GW_ENOMEM;
		t->buf = nb;
		t->cap = cap;
	}
	memcpy(t->buf + t->n, s, len);
	t->n += len;
	return 0;
}

int gw_batcher_edges_save(const struct gw_batcher *b, char **text, size_t *len)
{
	struct edges_text t = {NULL, 0, 0};
	int rc = gw_batcher_edges_emit(b, text_sink, &t);

	*text = NULL;
	*len = 0;
	if (rc) {
		free(t.buf);
		return rc;
	}
	*text = t.buf;
	*len = t.n;
	return 0;
}

/* Parses a decimal int64 field; 0 or -1. */
static int parse_i64(const char *s, int64_t *v)
{
	char *end;
	long long x;

	if (!*s)
		return -1;
	x = strtoll(s, &end, 10);
	if (*end)
		return -1;
	*v = x;
	return 0;
}

static int edges_fail(char *why, size_t cap, int line, const char *what)
{
	if (why)
		snprintf(why, cap, "line %d: %s", line, what);
	return GW_ECORRUPT;
}

/* One line of the edges text, cut at its tabs (into at most 9 fields).
 * Returns the number of tabs found (8 for a track line, 5 for an event
 * line). */
static int split_fields(char *l, char **f)
{
	int k = 0;

	for (char *p = l; k < 9; k++) {
		f[k] = p;
		p = strchr(p, '\t');
		if (!p)
			break;
		*p++ = '\0';
	}
	return k;
}

/* An "event" line (f[0..5]): checked; on pass 1 queued unless the core
 * has it already. Returns 0, GW_ECORRUPT (why set) or GW_ENOMEM. */
static int load_event(struct gw_batcher *b, char **f, int pass, int line,
		      char *why, size_t cap)
{
	int64_t ts;
	int kind = 0;

	for (int j = 1; j <= GW_EV_KIND_MAX_; j++)
		if (strcmp(f[1], gw_event_name((enum gw_event_kind)j)) == 0)
			kind = j;
	if ((kind != GW_EV_LONG_GAP && kind != GW_EV_BAD_VALUE) ||
	    !f[2][0] || strlen(f[2]) >= GW_ID_MAX ||
	    strlen(f[3]) >= GW_OBIS_MAX || strlen(f[5]) >= 96 ||
	    parse_i64(f[4], &ts) || ts < 0 || ts > TS_MAX)
		return edges_fail(why, cap, line, "not an event line");
	if (pass == 0)
		return 0;
	int known = 0;
	for (size_t j = 0; j < b->n_events; j++)
		known |= b->events[j].kind == kind && b->events[j].ts_ms == ts &&
			 strcmp(b->events[j].meter_id, f[2]) == 0;
	if (!known &&
	    batch_queue_event(b, f[2], strcmp(f[3], "-") ? f[3] : "", ts,
			      (enum gw_event_kind)kind, strcmp(f[5], "-") ? f[5] : ""))
		return GW_ENOMEM;
	return 0;
}

/* A track line (f[0..8]): checked; on pass 1 its track is set to it.
 * Returns 0, GW_ECORRUPT (why set) or GW_ENOMEM. */
static int load_track(struct gw_batcher *b, char **f, int pass, int line,
		      char *why, size_t cap)
{
	enum gw_unit unit;
	int e10, ek = -1;
	enum gw_quality q;
	int64_t ev, lts = 0, lv = 0;

	for (int j = 0; j < 4; j++)
		if (strcmp(f[3], edge_names[j]) == 0)
			ek = j;
	int nolast = strcmp(f[6], "-") == 0 && strcmp(f[7], "-") == 0;
	if (!f[0][0] || strlen(f[0]) >= GW_ID_MAX || !f[1][0] ||
	    strlen(f[1]) >= GW_OBIS_MAX ||
	    gw_unit_parse(f[2], &unit, &e10) || e10 != 0 ||
	    !gw_unit_is_energy(unit) || ek < 0 ||
	    parse_i64(f[4], &ev) || ev < 0 || ev > GW_ENERGY_MAX ||
	    gw_quality_parse(f[5], &q) || q == GW_Q_INCOMPLETE ||
	    (!nolast && (parse_i64(f[6], &lts) || parse_i64(f[7], &lv) ||
			 lts < 0 || lts > TS_MAX || lv < 0 ||
			 lv > GW_ENERGY_MAX)) ||
	    (strcmp(f[8], "0") != 0 && strcmp(f[8], "1") != 0) ||
	    ((ek == EDGE_PENDING || ek == EDGE_BACK) && nolast))
		return edges_fail(why, cap, line, "a field is out of range");
	if (pass == 0)
		return 0;
	struct gw_reading r;
	memset(&r, 0, sizeof(r));
	gw_strlcpy(r.meter_id, f[0], sizeof(r.meter_id));
	gw_strlcpy(r.obis, f[1], sizeof(r.obis));
	r.unit = (uint8_t)unit;
	struct track *t = batch_find_track(b, &r, 1);
	if (!t)
		return GW_ENOMEM;
	if (batch_track_energy(b, t))
		return GW_ENOMEM;
	t->unit = (uint8_t)unit;
	t->scale = 0;
	t->edge = (uint8_t)ek;
	track_edge_v_set(b, t, ek == EDGE_FROZEN ? ev : 0);
	t->edge_q = (uint8_t)(ek == EDGE_FROZEN ? q : 0);
	if (!nolast) {
		struct point win[3];
		struct pview v;
		if (batch_track_insert(b, t, lts, lv, win, &v) < 0 ||
		    (f[8][0] == '1' && batch_track_flag(b, t, SET_DERIVED, lts)))
			return GW_ENOMEM;
	}
	return 0;
}

/* The first line: "next_day=D edge_day=E". Returns 0, GW_ECORRUPT or
 * GW_EINVAL (written for a later day), with why set. */
static int load_days(const struct gw_batcher *b, const char *l, int32_t *edge,
		     char *why, size_t cap)
{
	char d1[16], d2[16];
	int32_t next;

	if (!l || sscanf(l, "next_day=%15s edge_day=%15s", d1, d2) != 2 ||
	    gw_day_parse(d1, &next) || gw_day_parse(d2, edge) || *edge > next)
		return edges_fail(why, cap, 1, "not a next_day= edge_day= line");
	/* Written for the restored day, or for an earlier one (a crash
	 * after a day was sealed and before this text was written again):
	 * the journal still holds every reading from its edge day on, and
	 * the first advance moves the books on from there. */
	if (next > b->next_day || *edge > b->next_day) {
		if (why)
			snprintf(why, cap, "written for a later day (%s)", d1);
		return GW_EINVAL;
	}
	return 0;
}

/* The next line of text (from *p to end) into l (cap EDGE_LINE_MAX),
 * without its line break; empty lines are passed over. Returns 1, 0 at
 * the end, or -1 for a line longer than any the core writes. */
static int next_line(const char **p, const char *end, char *l)
{
	while (*p < end && **p == '\n')
		(*p)++;
	if (*p == end)
		return 0;
	const char *nl = memchr(*p, '\n', (size_t)(end - *p));
	size_t n = (size_t)((nl ? nl : end) - *p);
	if (n >= EDGE_LINE_MAX)
		return -1;
	memcpy(l, *p, n);
	l[n] = '\0';
	*p += n;
	return 1;
}

int gw_batcher_edges_load(struct gw_batcher *b, const char *text, size_t len,
			  char *why, size_t cap)
{
	char l[EDGE_LINE_MAX];
	const char *p = text, *end = text + len;
	int32_t edge;
	int line = 1, rc = 0, got;

	if (why && cap)
		why[0] = '\0';
	if (len == 0 || text[len - 1] != '\n')
		return edges_fail(why, cap, 0, "does not end with a whole line");
	/* a line at a time, copied out of the text (never the whole of it) */
	got = next_line(&p, end, l);
	rc = load_days(b, got == 1 ? l : NULL, &edge, why, cap);
	/* Two passes: check every line, then apply, so a damaged text
	 * changes nothing. */
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		if (pass == 1) {
			p = text;
			next_line(&p, end, l);
			line = 1;
			/* the books are at the file's edge midnight; the
			 * first advance moves them on if the window shrank */
			batch_set_edge(b, edge);
		}
		while (rc == 0 && (got = next_line(&p, end, l)) != 0) {
			char *f[9];
			line++;
			if (got < 0) {
				rc = edges_fail(why, cap, line, "a line too long");
				break;
			}
			int k = split_fields(l, f);
			if (k == 5 && strcmp(f[0], "event") == 0)
				rc = load_event(b, f, pass, line, why, cap);
			else if (k != 8)
				rc = edges_fail(why, cap, line, "not 9 fields");
			else
				rc = load_track(b, f, pass, line, why, cap);
		}
	}
	if (rc == 0)
		b->edges_known = 1;
	return rc;
}
