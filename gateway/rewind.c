/* SPDX-License-Identifier: MIT */
/*
 * rewind.c - undoes what a wrong clock did to a spool; see rewind.h.
 *
 * Order of work, so that a crash at any point loses nothing: (1) the plan
 * is written to <spool>/rewind; (2) the new journal segments are written
 * through the journal's own append path (each record fsync'ed), numbered
 * above every existing segment; (3) the plan is marked "moving"; (4) the
 * batches of the days sealed again or falsely are moved to quarantine/,
 * each after its note; (5) the state is rewritten; (6) the old segments go
 * to quarantine/; (7) the plan is removed. Until (3) nothing but new files
 * exists, which a rollback deletes; from (3) on every step can be done
 * again, which finishing does.
 *
 * It reads and moves journal segments by their documented names
 * (docs/spool-format.md) because it works on a spool no gatewayd has
 * open, while journal.c serves a running one.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "rewind.h"
#include "spool.h"
#include "tz.h"

#define CHUNK 4096 /* readings per journal record put back from a batch */

struct plan {
	char gateway[GW_ID_MAX];
	int writing;            /* phase: 1 writing, 0 moving */
	unsigned long first_seq; /* new segments are numbered from here */
	int64_t now_ms, cut_ms;
	int32_t to_day, last_day;
};

/* ---- the plan file ---- */

static int plan_write(const char *spool, const struct plan *p)
{
	char path[GW_PATH_MAX + 16], tmp[GW_PATH_MAX + 32], text[512];
	char now[40], cut[40], to[16], last[16];

	snprintf(path, sizeof(path), "%s/rewind", spool);
	snprintf(tmp, sizeof(tmp), "%s/tmp/rewind", spool);
	int n = snprintf(text, sizeof(text),
			 "phase=%s\ngateway=%s\nfirst_seq=%lu\nnow=%s\ncut=%s\n"
			 "to=%s\nlast=%s\n", p->writing ? "writing" : "moving",
			 p->gateway, p->first_seq,
			 gw_format_utc(p->now_ms, now, sizeof(now)),
			 gw_format_utc(p->cut_ms, cut, sizeof(cut)),
			 p->to_day == INT32_MIN ? "-" : gw_day_format(p->to_day, to, sizeof(to)),
			 gw_day_format(p->last_day, last, sizeof(last)));
	return gw_write_file_durable(tmp, path, (const uint8_t *)text, (size_t)n);
}

/* Returns 1 if a plan was read, 0 if there is none, GW_ECORRUPT. */
static int plan_read(const char *spool, struct plan *p)
{
	char path[GW_PATH_MAX + 16], line[256];
	int got = 0;

	memset(p, 0, sizeof(*p));
	snprintf(path, sizeof(path), "%s/rewind", spool);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : GW_EIO;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		char *v = strchr(line, '=');
		if (!v)
			continue;
		*v++ = '\0';
		if (strcmp(line, "phase") == 0) {
			p->writing = strcmp(v, "writing") == 0;
			got |= 1;
		} else if (strcmp(line, "gateway") == 0) {
			gw_strlcpy(p->gateway, v, sizeof(p->gateway));
			got |= 2;
		} else if (strcmp(line, "first_seq") == 0) {
			p->first_seq = strtoul(v, NULL, 10);
			got |= 4;
		} else if (strcmp(line, "now") == 0 && gw_parse_utc(v, &p->now_ms) == 0) {
			got |= 8;
		} else if (strcmp(line, "cut") == 0 && gw_parse_utc(v, &p->cut_ms) == 0) {
			got |= 16;
		} else if (strcmp(line, "to") == 0) {
			p->to_day = INT32_MIN;
			if (strcmp(v, "-") == 0 || gw_day_parse(v, &p->to_day) == 0)
				got |= 32;
		} else if (strcmp(line, "last") == 0 && gw_day_parse(v, &p->last_day) == 0) {
			got |= 64;
		}
	}
	fclose(f);
	if (got != 127 || !p->first_seq) {
		gw_err("%s: not understood; the rewind it records cannot be finished "
		       "(move it away once the spool is checked)", path);
		return GW_ECORRUPT;
	}
	return 1;
}

static int plan_remove(const char *spool)
{
	char path[GW_PATH_MAX + 16];

	snprintf(path, sizeof(path), "%s/rewind", spool);
	if (unlink(path) != 0 && errno != ENOENT) {
		gw_err("%s: cannot remove: %s", path, strerror(errno));
		return GW_EIO;
	}
	return gw_fsync_dir(spool);
}

/* ---- journal segments by name ---- */

struct seg {
	char name[64];
	int32_t day;
	int bus; /* -1: events */
	unsigned long seq;
};

static int parse_segment(const char *name, struct seg *s)
{
	char daybuf[11], *end;
	size_t n = strlen(name);

	if (n < 19 || n >= sizeof(s->name) || strcmp(name + n - 4, ".gwj") != 0 ||
	    name[10] != '_')
		return -1;
	memcpy(daybuf, name, 10);
	daybuf[10] = '\0';
	if (gw_day_parse(daybuf, &s->day))
		return -1;
	const char *p = name + 11;
	if (strncmp(p, "ev_", 3) == 0) {
		s->bus = -1;
		p += 3;
	} else if (*p == 'b') {
		long b = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end != '_' || b < 0 || b > 65535)
			return -1;
		s->bus = (int)b;
		p = end + 1;
	} else {
		return -1;
	}
	s->seq = strtoul(p, &end, 10);
	if (end == p || strcmp(end, ".gwj") != 0)
		return -1;
	snprintf(s->name, sizeof(s->name), "%s", name);
	return 0;
}

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The segments of <spool>/journal, oldest day first. Returns n or GW_E*. */
static int list_segments(const char *spool, struct seg **out)
{
	char dir[GW_PATH_MAX + 16];
	struct seg *v = NULL, s;
	int n = 0, cap = 0;

	*out = NULL;
	snprintf(dir, sizeof(dir), "%s/journal", spool);
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : GW_EIO;
	struct dirent *e;
	while ((e = readdir(d)) != NULL) {
		if (parse_segment(e->d_name, &s))
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			struct seg *nv = realloc(v, (size_t)cap * sizeof(*nv));
			if (!nv) {
				free(v);
				closedir(d);
				return GW_ENOMEM;
			}
			v = nv;
		}
		v[n++] = s;
	}
	closedir(d);
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), cmp_seg);
	*out = v;
	return n;
}

/* A segment journal.c sets aside itself at start (bad magic, a newer
 * version) is left where it is. */
static int seg_foreign(const char *path)
{
	const char *why;
	uint64_t good;
	int rc = gw_journal_check_file(path, &why, &good);

	return rc == GW_EVERSION ||
	       (rc == GW_ECORRUPT && good == 0 && strcmp(why, "truncated header") != 0);
}

/* Moves <spool>/<sub>/<name> to quarantine/, durably. */
static int to_quarantine(const char *spool, const char *sub, const char *name)
{
	char from[GW_PATH_MAX * 2], to[GW_PATH_MAX * 2], d[GW_PATH_MAX + 32];

	snprintf(from, sizeof(from), "%s/%s/%s", spool, sub, name);
	snprintf(to, sizeof(to), "%s/quarantine/%s", spool, name);
	if (rename(from, to) != 0) {
		if (errno == ENOENT)
			return 0; /* moved already (a rewind being finished) */
		gw_err("%s: cannot move to quarantine/: %s", from, strerror(errno));
		return GW_EIO;
	}
	snprintf(d, sizeof(d), "%s/quarantine", spool);
	if (gw_fsync_dir(d))
		return GW_EIO;
	snprintf(d, sizeof(d), "%s/%s", spool, sub);
	return gw_fsync_dir(d);
}

/* ---- batches by name ---- */

/* Day and revision of "<gateway>_<YYYY-MM-DD>_r<rev>.gwb"; -1 if another
 * gateway's or not a batch name. */
static int batch_name(const char *name, const char *gateway, int32_t *day,
		      unsigned long *rev)
{
	size_t gl = strlen(gateway), n = strlen(name);
	char daybuf[11], *end;

	if (n < gl + 18 || strncmp(name, gateway, gl) != 0 || name[gl] != '_' ||
	    strcmp(name + n - 4, ".gwb") != 0 || strncmp(name + gl + 11, "_r", 2) != 0)
		return -1;
	memcpy(daybuf, name + gl + 1, 10);
	daybuf[10] = '\0';
	if (gw_day_parse(daybuf, day))
		return -1;
	*rev = strtoul(name + gl + 13, &end, 10);
	return end == name + gl + 13 || strcmp(end, ".gwb") != 0 ? -1 : 0;
}

/* The newest revision of `day` in ready/ or done/: its path into path;
 * 0 if found, 1 if none. */
static int newest_batch(const char *spool, const char *gateway, int32_t day,
			char *path, size_t cap)
{
	static const char *const subs[] = {"ready", "done"};
	long best = -1;

	for (int s = 0; s < 2; s++) {
		char **names;
		int n = gw_spool_list(spool, subs[s], &names);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			int32_t d;
			unsigned long rev;
			if (batch_name(names[i], gateway, &d, &rev) == 0 && d == day &&
			    (long)rev > best) {
				best = (long)rev;
				snprintf(path, cap, "%s/%s/%s", spool, subs[s], names[i]);
			}
		}
		gw_spool_list_free(names, n);
	}
	return best < 0 ? 1 : 0;
}

/* Whether a batch can give every reading of its day back: readable, and
 * with its interval readings if its daily values counted some (a day in a
 * long gap has daily values interpolated across it and no reading). */
static int batch_whole(const char *path, const char **why)
{
	struct stat st;
	struct gw_batch *b;

	if (stat(path, &st) == 0 && st.st_size == 0) {
		*why = "emptied after upload by the spool's size bound";
		return 0;
	}
	if (gw_batch_read_file_ex(path, &b, NULL, why))
		return 0;
	int whole = 1;
	for (size_t i = 0; !b->n_series && i < b->n_days; i++)
		whole &= b->days[i].readings == 0;
	if (!whole)
		*why = "its interval readings were dropped by the spool's size bound";
	gw_batch_free(b);
	return whole;
}

/* ---- writing the new journal ---- */

struct evrec {
	struct gw_event ev;
	int32_t day;
};

struct writer {
	const struct plan *p;
	struct gw_journal *j;
	int n_buses;
	struct gw_rewind_result *res;
	struct gw_reading *buf;
	size_t cap;
	struct evrec *ev;
	size_t n_ev, cap_ev;
};

static int keep_event(struct writer *w, const struct gw_event *ev, int32_t day)
{
	if (w->n_ev == w->cap_ev) {
		size_t nc = w->cap_ev ? w->cap_ev * 2 : 64;
		struct evrec *ne = realloc(w->ev, nc * sizeof(*ne));
		if (!ne)
			return GW_ENOMEM;
		w->ev = ne;
		w->cap_ev = nc;
	}
	w->ev[w->n_ev].ev = *ev;
	w->ev[w->n_ev].day = day;
	w->n_ev++;
	return 0;
}

static int on_cycle(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct writer *w = ctx;
	size_t k = 0;

	if (n > w->cap) {
		struct gw_reading *nb = realloc(w->buf, n * sizeof(*nb));
		if (!nb)
			return GW_ENOMEM;
		w->buf = nb;
		w->cap = n;
	}
	for (size_t i = 0; i < n; i++) {
		if (r[i].ts_ms > w->p->cut_ms) {
			w->res->readings_aside++;
			continue;
		}
		w->buf[k++] = r[i];
	}
	w->res->readings += k;
	return k ? gw_journal_append_cycle(w->j, bus < w->n_buses ? bus : 0, w->buf, k)
		 : 0;
}

static int on_event(void *ctx, const struct gw_event *ev, int32_t day)
{
	struct writer *w = ctx;

	if (ev->ts_ms > w->p->cut_ms) {
		w->res->events_aside++;
		return 0;
	}
	/* Bound for a day after the cut (the oldest open day of a clock that
	 * was ahead): its own day now, or the first day sealed again. */
	if (day > gw_tz_day_of(w->p->cut_ms)) {
		day = gw_tz_day_of(ev->ts_ms);
		if (w->p->to_day != INT32_MIN && day < w->p->to_day)
			day = w->p->to_day;
	}
	return keep_event(w, ev, day);
}

/* Puts the readings (and, if events, the events) of one batch file back. */
static int put_back(struct writer *w, const char *path, int events)
{
	struct gw_batch *b;
	int rc = gw_batch_read_file(path, &b, NULL);

	if (rc)
		return rc;
	size_t k = 0;
	for (size_t s = 0; s < b->n_series && rc == 0; s++) {
		const struct gw_series *se = &b->series[s];
		for (uint32_t i = 0; i < se->n && rc == 0; i++) {
			if (k == w->cap) {
				size_t nc = w->cap ? w->cap * 2 : CHUNK;
				struct gw_reading *nb = realloc(w->buf, nc * sizeof(*nb));
				if (!nb) {
					rc = GW_ENOMEM;
					break;
				}
				w->buf = nb;
				w->cap = nc;
			}
			struct gw_reading *r = &w->buf[k++];
			memset(r, 0, sizeof(*r));
			gw_strlcpy(r->meter_id, se->meter_id, sizeof(r->meter_id));
			gw_strlcpy(r->obis, se->obis, sizeof(r->obis));
			r->ts_ms = se->ts_ms[i];
			r->value = se->value[i];
			r->scale = se->scale;
			r->unit = se->unit;
			r->status = GW_RS_OK;
			if (k == CHUNK) {
				rc = gw_journal_append_cycle(w->j, 0, w->buf, k);
				w->res->readings_back += k;
				k = 0;
			}
		}
	}
	if (rc == 0 && k) {
		rc = gw_journal_append_cycle(w->j, 0, w->buf, k);
		w->res->readings_back += k;
	}
	for (size_t i = 0; events && rc == 0 && i < b->n_events; i++) {
		rc = keep_event(w, &b->events[i], b->day);
		w->res->events_back++;
	}
	gw_batch_free(b);
	return rc;
}

static int cmp_ev_key(const void *a, const void *b)
{
	const struct evrec *x = a, *y = b;
	int c;

	if (x->ev.ts_ms != y->ev.ts_ms)
		return x->ev.ts_ms < y->ev.ts_ms ? -1 : 1;
	if ((c = strcmp(x->ev.meter_id, y->ev.meter_id)) != 0)
		return c;
	if ((c = strcmp(x->ev.obis, y->ev.obis)) != 0)
		return c;
	if (x->ev.kind != y->ev.kind)
		return x->ev.kind < y->ev.kind ? -1 : 1;
	return x->day < y->day ? -1 : x->day > y->day;
}

static int cmp_ev_day(const void *a, const void *b)
{
	const struct evrec *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	return cmp_ev_key(a, b);
}

/* The events, each once (an event may be in a batch and in the journal),
 * one record group per day they are bound for. */
static int write_events(struct writer *w)
{
	size_t k = 0;
	int rc = 0;

	if (!w->n_ev)
		return 0;
	qsort(w->ev, w->n_ev, sizeof(*w->ev), cmp_ev_key);
	for (size_t i = 0; i < w->n_ev; i++) {
		const struct gw_event *a = &w->ev[i].ev;
		if (k) {
			const struct gw_event *b = &w->ev[k - 1].ev;
			if (a->ts_ms == b->ts_ms && a->kind == b->kind &&
			    !strcmp(a->meter_id, b->meter_id) && !strcmp(a->obis, b->obis))
				continue;
		}
		w->ev[k++] = w->ev[i];
	}
	qsort(w->ev, k, sizeof(*w->ev), cmp_ev_day);
	struct gw_event *one = malloc(k * sizeof(*one));
	if (!one)
		return GW_ENOMEM;
	for (size_t i = 0; i < k && rc == 0;) {
		size_t e = i;
		while (e < k && w->ev[e].day == w->ev[i].day) {
			one[e - i] = w->ev[e].ev;
			e++;
		}
		rc = gw_journal_append_events(w->j, one, e - i, w->ev[i].day);
		i = e;
	}
	w->res->events = k;
	free(one);
	return rc;
}

/* ---- moving, phase two ---- */

static int write_note(const char *spool, const char *name, const char *why,
		      int64_t now)
{
	char path[GW_PATH_MAX * 2], tmp[GW_PATH_MAX * 2], text[512], t[40];

	snprintf(path, sizeof(path), "%s/quarantine/%s.rewound", spool, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.rewound", spool, name);
	int n = snprintf(text, sizeof(text), "set aside by gwctl clock rewind at %s: %s\n",
			 gw_format_utc(now, t, sizeof(t)), why);
	return gw_write_file_durable(tmp, path, (const uint8_t *)text, (size_t)n);
}

static int finish(const char *spool, const struct plan *p,
		  struct gw_rewind_result *res)
{
	static const char *const subs[] = {"ready", "done"};
	char path[GW_PATH_MAX * 2];
	int rc = 0;

	if (p->to_day != INT32_MIN) {
		for (int s = 0; s < 2 && rc == 0; s++) {
			char **names;
			int n = gw_spool_list(spool, subs[s], &names);
			if (n < 0)
				return n;
			for (int i = 0; i < n && rc == 0; i++) {
				int32_t d;
				unsigned long rev;
				if (batch_name(names[i], p->gateway, &d, &rev) || d < p->to_day)
					continue;
				const char *why;
				if (d <= p->last_day) {
					why = "its day is sealed again from the journal, where its "
					      "readings were put back";
					res->batches_back++;
				} else {
					struct gw_batch *b;
					why = s ? "sealed by a clock that was ahead: its day had "
						  "not come; it is in the database: remove it there "
						  "(docs/troubleshooting.md)"
						: "sealed by a clock that was ahead: its day had "
						  "not come; never to be loaded";
					res->batches_false++;
					res->uploaded_false += s == 1;
					snprintf(path, sizeof(path), "%s/%s/%s", spool, subs[s],
						 names[i]);
					if (gw_batch_read_file(path, &b, NULL) == 0) {
						for (size_t k = 0; k < b->n_series; k++)
							res->readings_false += b->series[k].n;
						gw_batch_free(b);
					}
				}
				rc = write_note(spool, names[i], why, p->now_ms);
				if (rc == 0)
					rc = to_quarantine(spool, subs[s], names[i]);
			}
			gw_spool_list_free(names, n);
		}
		if (rc == 0) {
			struct gw_spool_state st = {.next_day = p->to_day,
						    .seen_ms = p->now_ms};
			rc = gw_spool_state_save(spool, &st);
		}
	}
	if (rc)
		return rc;
	struct seg *segs;
	int n = list_segments(spool, &segs);
	if (n < 0)
		return n;
	for (int i = 0; i < n && rc == 0; i++) {
		if (segs[i].seq >= p->first_seq)
			continue;
		snprintf(path, sizeof(path), "%s/journal/%s", spool, segs[i].name);
		if (seg_foreign(path))
			continue;
		rc = to_quarantine(spool, "journal", segs[i].name);
		if (rc == 0)
			res->segments++;
	}
	free(segs);
	return rc ? rc : plan_remove(spool);
}

/* Removes the segments a rolled back rewind had begun to write. */
static int roll_back(const char *spool, const struct plan *p)
{
	char path[GW_PATH_MAX * 2];
	struct seg *segs;
	int n = list_segments(spool, &segs), removed = 0;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (segs[i].seq < p->first_seq)
			continue;
		snprintf(path, sizeof(path), "%s/journal/%s", spool, segs[i].name);
		if (unlink(path) != 0 && errno != ENOENT) {
			gw_err("%s: cannot remove: %s", path, strerror(errno));
			free(segs);
			return GW_EIO;
		}
		removed++;
	}
	free(segs);
	snprintf(path, sizeof(path), "%s/journal", spool);
	if (removed && gw_fsync_dir(path))
		return GW_EIO;
	return plan_remove(spool);
}

int gw_rewind_recover(const char *spool)
{
	struct plan p;
	struct gw_rewind_result res;
	int rc = plan_read(spool, &p);

	if (rc <= 0)
		return rc;
	memset(&res, 0, sizeof(res));
	if (p.writing) {
		rc = roll_back(spool, &p);
		if (rc == 0)
			gw_warn("spool %s: an interrupted clock rewind was rolled back "
				"(nothing had changed); run it again", spool);
		return rc ? rc : 1;
	}
	rc = finish(spool, &p, &res);
	if (rc == 0)
		gw_warn("spool %s: an interrupted clock rewind was finished", spool);
	return rc ? rc : 2;
}

int gw_rewind_run(const char *spool, const struct gw_rewind *rw,
		  struct gw_rewind_result *res, char *bad, size_t badcap)
{
	char path[GW_PATH_MAX * 2];
	struct plan p = {.writing = 1, .now_ms = rw->now_ms, .cut_ms = rw->cut_ms,
			 .to_day = rw->to_day, .last_day = rw->last_day};
	struct writer w = {.p = &p, .res = res};
	struct seg *segs;
	int n_buses = 1, rc;

	memset(res, 0, sizeof(*res));
	if (bad && badcap)
		bad[0] = '\0';
	gw_strlcpy(p.gateway, rw->gateway_id, sizeof(p.gateway));
	rc = gw_rewind_recover(spool);
	if (rc < 0)
		return rc;
	/* Every batch whose day is sealed again must give its readings back;
	 * checked before anything changes. */
	for (int32_t d = rw->to_day; rw->to_day != INT32_MIN && d <= rw->last_day; d++) {
		const char *why;
		rc = newest_batch(spool, p.gateway, d, path, sizeof(path));
		if (rc < 0)
			return rc;
		if (rc == 0 && !batch_whole(path, &why)) {
			if (bad)
				snprintf(bad, badcap, "%s: %s", strrchr(path, '/') + 1, why);
			return GW_ECORRUPT;
		}
	}
	int n = list_segments(spool, &segs);
	if (n < 0)
		return n;
	p.first_seq = 1;
	for (int i = 0; i < n; i++) {
		if (segs[i].seq >= p.first_seq)
			p.first_seq = segs[i].seq + 1;
		if (segs[i].bus >= n_buses)
			n_buses = segs[i].bus + 1;
	}
	w.n_buses = n_buses;
	rc = plan_write(spool, &p);
	if (rc == 0)
		rc = gw_journal_open(spool, n_buses, &w.j);
	/* The day before the first one sealed again gives its last readings
	 * (the midnight between them); it stays sealed, its events with it. */
	for (int32_t d = rw->to_day == INT32_MIN ? 0 : rw->to_day - 1;
	     rc == 0 && rw->to_day != INT32_MIN && d <= rw->last_day; d++) {
		const char *why;
		int r = newest_batch(spool, p.gateway, d, path, sizeof(path));
		if (r < 0)
			rc = r;
		else if (r == 0 && batch_whole(path, &why))
			rc = put_back(&w, path, d >= rw->to_day);
	}
	for (int i = 0; i < n && rc == 0; i++) {
		snprintf(path, sizeof(path), "%s/journal/%s", spool, segs[i].name);
		if (seg_foreign(path))
			continue;
		rc = gw_journal_read_file(path, on_cycle, on_event, &w);
		if (rc == GW_ECORRUPT)
			rc = 0; /* a torn tail: the records before it were read */
	}
	if (rc == 0)
		rc = write_events(&w);
	gw_journal_close(w.j);
	free(w.buf);
	free(w.ev);
	free(segs);
	if (rc) {
		int r = roll_back(spool, &p);
		if (r)
			gw_err("spool %s: the rewind failed and cannot be rolled back (%s); "
			       "gatewayd rolls it back at start", spool, gw_strerror(r));
		return rc;
	}
	p.writing = 0;
	rc = plan_write(spool, &p);
	if (rc)
		return rc;
	res->segments = 0;
	return finish(spool, &p, res);
}
