/* SPDX-License-Identifier: MIT */
/*
 * meter_ident.c - meters' serial numbers, replacements and clock drift,
 * and the file <spool_dir>/serials; see meter_ident.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter_ident.h"
#include "spool.h"

/* A meter's identity, made when it first says something of itself (a
 * serial number, a clock that drifts): most Modbus meters never do (no
 * profile shipped has a serial-number register), so the table is a
 * pointer a meter, 8 bytes, instead of 56 in place (0.56 MB at 10,000
 * meters); its serial number takes its own length. */
struct ident {
	int64_t replaced_ms; /* its first read, if it replaced another */
	int drifting;        /* from a clock_drift event until in range */
	char serial[];       /* "" if unknown; shorter than GW_SERIAL_MAX */
};

struct gw_meter_ident {
	const struct gw_config *cfg;
	pthread_mutex_t lock;      /* the table */
	pthread_mutex_t file_lock; /* one writer of <spool>/serials */
	struct ident **m;          /* per configured meter; NULL: nothing known */
	int unsaved;               /* a first serial not in the file yet */
};

/* Meter m's serial number, "" if unknown (under mi->lock). */
static const char *serial_of(const struct gw_meter_ident *mi, int m)
{
	return mi->m[m] ? mi->m[m]->serial : "";
}

/* Meter m's identity with serial (at most GW_SERIAL_MAX - 1 bytes) as
 * its serial number, made or made again; the rest of it kept (under
 * mi->lock). Returns it, or NULL when out of memory (the old one kept). */
static struct ident *ident_set(struct gw_meter_ident *mi, int m,
			       const char *serial)
{
	struct ident *o = mi->m[m];
	size_t len = strlen(serial);

	if (o && strcmp(o->serial, serial) == 0)
		return o;
	struct ident *n = malloc(sizeof(*n) + len + 1);
	if (!n)
		return NULL;
	n->replaced_ms = o ? o->replaced_ms : 0;
	n->drifting = o ? o->drifting : 0;
	memcpy(n->serial, serial, len + 1);
	free(o);
	mi->m[m] = n;
	return n;
}

/* One line of serials into meter, serial and when; 0, or -1 if it does
 * not parse. */
static int parse_line(char *line, char **serial, int64_t *when)
{
	char *tab = strchr(line, '\t');
	char *tab2 = tab ? strchr(tab + 1, '\t') : NULL;
	char *end = NULL;

	*when = 0;
	if (tab2)
		*when = strtoll(tab2 + 1, &end, 10);
	if (!tab || tab == line || tab[1] == '\0' || tab[1] == '\t' ||
	    (tab2 && (end == tab2 + 1 || *end != '\0' || *when < 0)))
		return -1;
	*tab = '\0';
	if (tab2)
		*tab2 = '\0';
	*serial = tab + 1;
	return 0;
}

/* Reads <spool>/serials. Missing: none known (the first read of each
 * meter then records its serial without an event). A line that does not
 * parse is skipped: that meter's next serial is taken as its first. */
static void load(struct gw_meter_ident *mi)
{
	char path[GW_PATH_MAX + 16], line[GW_ID_MAX + GW_SERIAL_MAX + 32];
	int ln = 0;

	snprintf(path, sizeof(path), "%s/serials", mi->cfg->spool_dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		ln++;
		size_t len = strcspn(line, "\r\n");
		int whole = line[len] != '\0' || feof(f);
		char *serial;
		int64_t when;
		line[len] = '\0';
		if (!whole || parse_line(line, &serial, &when)) {
			gw_warn("%s:%d: not \"meter_id<TAB>serial<TAB>ms\"; line skipped",
				path, ln);
			while (!whole && fgets(line, sizeof(line), f))
				whole = strchr(line, '\n') != NULL;
			continue;
		}
		char known[GW_SERIAL_MAX];
		gw_strlcpy(known, serial, sizeof(known));
		/* found by its id (a configuration's ids are unique), not
		 * compared with every meter: 10,000 lines in 10,000 steps */
		const struct gw_meter_config *mc = gw_config_find_meter(mi->cfg, line);
		if (!mc)
			continue; /* a meter no longer configured */
		struct ident *id = ident_set(mi, (int)(mc - mi->cfg->meters), known);
		if (id)
			id->replaced_ms = when;
		else /* its next serial is then taken as its first */
			gw_err("%s:%d: out of memory; meter %s's serial number not known",
			       path, ln, line);
	}
	fclose(f);
}

/* Writes every known serial to <spool>/serials, durably; a write that
 * fails leaves the file as it was and the serials unsaved (tried again at
 * the next flush). */
static void save(struct gw_meter_ident *mi)
{
	const struct gw_config *cfg = mi->cfg;
	char path[GW_PATH_MAX + 16], tmp[GW_PATH_MAX + 24];
	size_t cap = (size_t)cfg->n_meters * (GW_ID_MAX + GW_SERIAL_MAX + 24) + 1;
	char *text = malloc(cap);
	size_t len = 0;

	if (!text) {
		gw_err("meter serial numbers: out of memory; not saved");
		return;
	}
	text[0] = '\0';
	pthread_mutex_lock(&mi->file_lock);
	pthread_mutex_lock(&mi->lock);
	mi->unsaved = 0; /* every serial known now is in this text */
	for (int m = 0; m < cfg->n_meters; m++)
		if (serial_of(mi, m)[0])
			len += (size_t)snprintf(text + len, cap - len, "%s\t%s\t%lld\n",
						cfg->meters[m].id, mi->m[m]->serial,
						(long long)mi->m[m]->replaced_ms);
	pthread_mutex_unlock(&mi->lock);
	snprintf(path, sizeof(path), "%s/serials", cfg->spool_dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp/serials", cfg->spool_dir);
	if (gw_write_file_durable(tmp, path, (const uint8_t *)text, len)) {
		gw_err("meter serial numbers: cannot write %s", path);
		pthread_mutex_lock(&mi->lock);
		mi->unsaved = 1;
		pthread_mutex_unlock(&mi->lock);
	}
	pthread_mutex_unlock(&mi->file_lock);
	free(text);
}

struct gw_meter_ident *gw_meter_ident_new(const struct gw_config *cfg)
{
	struct gw_meter_ident *mi = calloc(1, sizeof(*mi));

	if (!mi)
		return NULL;
	mi->cfg = cfg;
	mi->m = calloc((size_t)cfg->n_meters + 1, sizeof(*mi->m));
	if (!mi->m) {
		free(mi);
		return NULL;
	}
	pthread_mutex_init(&mi->lock, NULL);
	pthread_mutex_init(&mi->file_lock, NULL);
	load(mi);
	return mi;
}

void gw_meter_ident_flush(struct gw_meter_ident *mi)
{
	pthread_mutex_lock(&mi->lock);
	int unsaved = mi->unsaved;
	pthread_mutex_unlock(&mi->lock);
	if (unsaved)
		save(mi);
}

void gw_meter_ident_free(struct gw_meter_ident *mi)
{
	if (!mi)
		return;
	pthread_mutex_destroy(&mi->lock);
	pthread_mutex_destroy(&mi->file_lock);
	for (int m = 0; m < mi->cfg->n_meters; m++)
		free(mi->m[m]);
	free(mi->m);
	free(mi);
}

int gw_meter_ident_serial(struct gw_meter_ident *mi, int m, const char *serial,
			  int64_t now_ms, struct gw_event *ev)
{
	const char *id = mi->cfg->meters[m].id;
	char old[GW_SERIAL_MAX], now[GW_SERIAL_MAX];
	struct ident *known = NULL;

	gw_strlcpy(now, serial, sizeof(now)); /* what the table keeps of it */
	serial = now;
	if (!serial[0])
		return 0;
	pthread_mutex_lock(&mi->lock);
	gw_strlcpy(old, serial_of(mi, m), sizeof(old));
	int same = strcmp(old, serial) == 0;
	if (!same && (known = ident_set(mi, m, serial)) != NULL) {
		/* saved with the serial, so that the batching core learns of
		 * the swap at the next start even if its event is lost */
		known->replaced_ms = old[0] ? now_ms : 0;
		/* a meter's first serial waits for the flush at its bus's
		 * cycle's end: one write a cycle, not one a meter (a fleet's
		 * first cycle would write the file once for every meter) */
		if (!old[0])
			mi->unsaved = 1;
	}
	pthread_mutex_unlock(&mi->lock);
	if (same)
		return 0;
	if (!known) { /* told again at its next read */
		gw_err("meter %s: out of memory; serial number %s not recorded",
		       id, serial);
		return 0;
	}
	if (old[0])
		save(mi); /* a replacement: durable before its event */
	if (!old[0]) {
		gw_info("meter %s: serial number %s", id, serial);
		return 0;
	}
	memset(ev, 0, sizeof(*ev));
	gw_strlcpy(ev->meter_id, id, sizeof(ev->meter_id));
	ev->ts_ms = now_ms;
	ev->kind = GW_EV_METER_REPLACED;
	snprintf(ev->detail, sizeof(ev->detail), "serial %s -> %s", old, serial);
	gw_warn("meter %s: replaced (%s)", id, ev->detail);
	return 1;
}

int gw_meter_ident_seen(struct gw_meter_ident *mi, int m,
			const struct gw_meter_seen *seen,
			const struct gw_reading *r, size_t n, int64_t now_ms,
			struct gw_event *ev)
{
	char serial[GW_SERIAL_MAX] = "";

	if (seen)
		gw_strlcpy(serial, seen->serial, sizeof(serial));
	for (size_t i = 0; i < n && !serial[0]; i++)
		if (strcmp(r[i].obis, "96.1.0") == 0 || strcmp(r[i].obis, "C.1.0") == 0)
			snprintf(serial, sizeof(serial), "%lld", (long long)r[i].value);
	return gw_meter_ident_serial(mi, m, serial, now_ms, ev);
}

int gw_meter_clock_drifts(int was, int64_t offset_ms, int64_t max_ms)
{
	int64_t ad = offset_ms < 0 ? -offset_ms : offset_ms;

	/* Hysteresis: a drifting clock counts as back in range only within
	 * half the allowance, so that a clock near the limit (or a reading
	 * whose answer took a while) does not raise an event every time it
	 * crosses it. */
	return was ? ad > max_ms / 2 : ad > max_ms;
}

int gw_meter_ident_clock(struct gw_meter_ident *mi, int m, int64_t offset_ms,
			 int64_t now_ms, struct gw_event *ev)
{
	const struct gw_meter_config *mc = &mi->cfg->meters[m];
	const struct gw_bus_config *bus = &mi->cfg->buses[mc->bus];
	int64_t max = (int64_t)bus->max_clock_drift_s * 1000;

	if (max <= 0)
		return 0;
	pthread_mutex_lock(&mi->lock);
	struct ident *known = mi->m[m];
	int was = known ? known->drifting : 0;
	int drifting = gw_meter_clock_drifts(was, offset_ms, max);
	if (drifting && !known) /* out of memory: judged again at its next read */
		known = ident_set(mi, m, "");
	if (known)
		known->drifting = drifting;
	else
		drifting = 0;
	pthread_mutex_unlock(&mi->lock);
	if (was && !drifting)
		gw_info("meter %s: clock back within %lld s of the gateway's", mc->id,
			(long long)((offset_ms < 0 ? -offset_ms : offset_ms) / 1000));
	if (!drifting || was)
		return 0;
	memset(ev, 0, sizeof(*ev));
	gw_strlcpy(ev->meter_id, mc->id, sizeof(ev->meter_id));
	gw_strlcpy(ev->obis, "0.9.1", sizeof(ev->obis));
	ev->ts_ms = now_ms;
	ev->kind = GW_EV_CLOCK_DRIFT;
	snprintf(ev->detail, sizeof(ev->detail),
		 "meter clock %+lld s off the gateway's (allowed %d s)",
		 (long long)(offset_ms / 1000), bus->max_clock_drift_s);
	gw_warn("meter %s: %s", mc->id, ev->detail);
	return 1;
}

int gw_meter_ident_feed(const struct gw_meter_ident *mi, struct gw_batcher *b)
{
	for (int m = 0; m < mi->cfg->n_meters; m++)
		if (mi->m[m] && mi->m[m]->replaced_ms &&
		    gw_batcher_add_replacement(b, mi->cfg->meters[m].id,
					       mi->m[m]->replaced_ms))
			return GW_ENOMEM;
	return 0;
}
