/* SPDX-License-Identifier: MIT */
/*
 * journal.c - the write-ahead journal of poll cycles; see journal.h and
 * docs/spool-format.md ("Journal").
 *
 * A segment is an 8-byte header (magic "GWJ1", u16 version, u16 reserved)
 * followed by records: u32 payload length, u32 CRC-32 of the payload, the
 * payload. Every field is explicit little-endian, never a raw struct, so a
 * journal written on one machine replays on another. A record is appended
 * with one write() and made durable with one fsync(); a crash can leave at
 * most one torn record at the end of a segment, which replay cuts off.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "journal.h"
#include "spool.h"
#include "tz.h"

struct slot {
	pthread_mutex_t lock;
	int fd;      /* open segment, -1 if none */
	int32_t day; /* its day */
};

struct gw_journal {
	char dir[GW_PATH_MAX];
	char spool[GW_PATH_MAX];
	int n_slots; /* n_buses + 1; the last one is for events */
	struct slot *slots;
	pthread_mutex_t seq_lock;
	unsigned long next_seq;
	unsigned long failures;
};

/* ---- little-endian helpers ---- */

static void le_put(uint8_t *p, uint64_t v, int width)
{
	for (int i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_get(const uint8_t *p, int width)
{
	uint64_t v = 0;

	for (int i = 0; i < width; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* ---- segment names ---- */

/* Parses "<YYYY-MM-DD>_b<bus>_<seq>.gwj" or "<YYYY-MM-DD>_ev_<seq>.gwj";
 * *bus is -1 for events. Returns 0 or -1. */
static int parse_segment(const char *name, int32_t *day, int *bus,
			 unsigned long *seq)
{
	char daybuf[11];
	size_t n = strlen(name);
	char *end;

	if (n < 19 || strcmp(name + n - 4, ".gwj") != 0 || name[10] != '_')
		return -1;
	memcpy(daybuf, name, 10);
	daybuf[10] = '\0';
	if (gw_day_parse(daybuf, day))
		return -1;
	const char *p = name + 11;
	if (strncmp(p, "ev_", 3) == 0) {
		*bus = -1;
		p += 3;
	} else if (*p == 'b') {
		long b = strtol(p + 1, &end, 10);
		if (end == p + 1 || *end != '_' || b < 0 || b > 65535)
			return -1;
		*bus = (int)b;
		p = end + 1;
	} else {
		return -1;
	}
	*seq = strtoul(p, &end, 10);
	if (end == p || strcmp(end, ".gwj") != 0)
		return -1;
	return 0;
}

struct seg {
	char name[64];
	int32_t day;
	unsigned long seq;
};

static int cmp_seg(const void *a, const void *b)
{
	const struct seg *x = a, *y = b;

	if (x->day != y->day)
		return x->day < y->day ? -1 : 1;
	if (x->seq != y->seq)
		return x->seq < y->seq ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Lists the segments of dir sorted by day, then seq. Returns n or GW_E*. */
static int list_segments(const char *dir, struct seg **out)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct seg *v = NULL;
	int n = 0, cap = 0;

	*out = NULL;
	if (!d) {
		gw_err("%s: cannot list: %s", dir, strerror(errno));
		return GW_EIO;
	}
	while ((e = readdir(d)) != NULL) {
		struct seg s;
		int bus;
		if (strlen(e->d_name) >= sizeof(s.name) ||
		    parse_segment(e->d_name, &s.day, &bus, &s.seq))
			continue;
		snprintf(s.name, sizeof(s.name), "%s", e->d_name);
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

/* ---- open / close ---- */

int gw_journal_open(const char *spool_dir, int n_buses, struct gw_journal **out)
{
	struct gw_journal *j;
	struct seg *segs;

	*out = NULL;
	if (n_buses < 0 || n_buses > 65535)
		return GW_EINVAL;
	j = calloc(1, sizeof(*j));
	if (!j)
		return GW_ENOMEM;
	snprintf(j->spool, sizeof(j->spool), "%s", spool_dir);
	snprintf(j->dir, sizeof(j->dir), "%s/journal", spool_dir);
	if (mkdir(j->dir, 0750) != 0 && errno != EEXIST) {
		gw_err("%s: cannot create: %s", j->dir, strerror(errno));
		free(j);
		return GW_EIO;
	}
	j->n_slots = n_buses + 1;
	j->slots = calloc((size_t)j->n_slots, sizeof(*j->slots));
	if (!j->slots) {
		free(j);
		return GW_ENOMEM;
	}
	for (int i = 0; i < j->n_slots; i++) {
		pthread_mutex_init(&j->slots[i].lock, NULL);
		j->slots[i].fd = -1;
	}
	pthread_mutex_init(&j->seq_lock, NULL);
	/* This run writes new segments only (sequence numbers above every
	 * existing one): it never appends behind a tail it did not write. */
	int n = list_segments(j->dir, &segs);
	if (n < 0) {
		gw_journal_close(j);
		return n;
	}
	j->next_seq = 1;
	for (int i = 0; i < n; i++)
		if (segs[i].seq >= j->next_seq)
			j->next_seq = segs[i].seq + 1;
	free(segs);
	if (gw_fsync_dir(spool_dir)) {
		gw_journal_close(j);
		return GW_EIO;
	}
	*out = j;
	return 0;
}

void gw_journal_close(struct gw_journal *j)
{
	if (!j)
		return;
	for (int i = 0; i < j->n_slots; i++) {
		if (j->slots[i].fd >= 0)
			close(j->slots[i].fd);
		pthread_mutex_destroy(&j->slots[i].lock);
	}
	pthread_mutex_destroy(&j->seq_lock);
	free(j->slots);
	free(j);
}

unsigned long gw_journal_failures(struct gw_journal *j)
{
	unsigned long n;

	pthread_mutex_lock(&j->seq_lock);
	n = j->failures;
	pthread_mutex_unlock(&j->seq_lock);
	return n;
}

/* ---- append ---- */

/* Writes all of buf; returns 0 or -1 with errno. */
static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Appends one record (rec: 8 bytes of room, then the payload) to slot s
 * for `day`, opening a new segment when the day moves on. Called with the
 * slot locked. */
static int append_locked(struct gw_journal *j, int idx, int32_t day,
			 uint8_t *rec, size_t payload_len)
{
	struct slot *s = &j->slots[idx];
	char path[GW_PATH_MAX + 64], daybuf[16], tag[16];
	int fresh = 0;

	le_put(rec, payload_len, 4);
	le_put(rec + 4, gw_crc32(rec + 8, payload_len), 4);
	/* A segment named after day X holds days up to X: a cycle of an
	 * earlier day (late data) goes into the open segment. */
	if (s->fd >= 0 && day > s->day) {
		close(s->fd);
		s->fd = -1;
	}
	if (s->fd < 0) {
		pthread_mutex_lock(&j->seq_lock);
		unsigned long seq = j->next_seq++;
		pthread_mutex_unlock(&j->seq_lock);
		if (idx == j->n_slots - 1)
			snprintf(tag, sizeof(tag), "ev");
		else
			snprintf(tag, sizeof(tag), "b%d", idx);
		snprintf(path, sizeof(path), "%s/%s_%s_%lu.gwj", j->dir,
			 gw_day_format(day, daybuf, sizeof(daybuf)), tag, seq);
		s->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC,
			     0640);
		if (s->fd < 0) {
			gw_err("journal %s: cannot create: %s", path, strerror(errno));
			return GW_EIO;
		}
		s->day = day;
		fresh = 1;
	}
	int rc = 0;
	if (fresh) {
		uint8_t hdr[GW_JOURNAL_HDR];
		memcpy(hdr, GW_JOURNAL_MAGIC, 4);
		le_put(hdr + 4, GW_JOURNAL_VERSION, 2);
		le_put(hdr + 6, 0, 2);
		if (write_all(s->fd, hdr, sizeof(hdr)))
			rc = GW_EIO;
	}
	if (rc == 0 && write_all(s->fd, rec, 8 + payload_len))
		rc = GW_EIO;
	if (rc) {
		gw_err("journal: write failed: %s", strerror(errno));
	} else if (fsync(s->fd) != 0) {
		/* Never retried on the same file: after a failed fsync the
		 * kernel may have dropped the dirty pages and marked them
		 * clean, so a second fsync could succeed without the data. */
		gw_err("journal: fsync failed: %s; this cycle is not durable, "
		       "the next one starts a new segment", strerror(errno));
		rc = GW_EIO;
	} else if (fresh && gw_fsync_dir(j->dir)) {
		rc = GW_EIO; /* the new file's name may not survive a power loss */
	}
	if (rc) {
		close(s->fd);
		s->fd = -1;
		pthread_mutex_lock(&j->seq_lock);
		j->failures++;
		pthread_mutex_unlock(&j->seq_lock);
	}
	return rc;
}

static size_t reading_size(const struct gw_reading *r)
{
	return 1 + strlen(r->meter_id) + 1 + strlen(r->obis) + 8 + 8 + 3;
}

static uint8_t *put_str8(uint8_t *p, const char *s)
{
	size_t n = strlen(s);

	*p++ = (uint8_t)n;
	memcpy(p, s, n);
	return p + n;
}

int gw_journal_append_cycle(struct gw_journal *j, int bus,
			    const struct gw_reading *r, size_t n)
{
	size_t len = 1 + 2 + 4;
	int32_t day = INT32_MIN;

	if (!j || bus < 0 || bus >= j->n_slots - 1 || n > UINT32_MAX)
		return GW_EINVAL;
	if (n == 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (strlen(r[i].meter_id) > 255 || strlen(r[i].obis) > 255)
			return GW_EINVAL;
		len += reading_size(&r[i]);
		int32_t d = gw_tz_day_of(r[i].ts_ms);
		if (d > day)
			day = d;
	}
	if (len > GW_JOURNAL_REC_MAX)
		return GW_EINVAL;
	uint8_t *rec = malloc(8 + len), *p;
	if (!rec)
		return GW_ENOMEM;
	p = rec + 8;
	*p++ = GW_JREC_CYCLE;
	le_put(p, (uint64_t)bus, 2);
	le_put(p + 2, n, 4);
	p += 6;
	for (size_t i = 0; i < n; i++) {
		p = put_str8(p, r[i].meter_id);
		p = put_str8(p, r[i].obis);
		le_put(p, (uint64_t)r[i].ts_ms, 8);
		le_put(p + 8, (uint64_t)r[i].value, 8);
		p[16] = (uint8_t)r[i].scale;
		p[17] = r[i].unit;
		p[18] = r[i].status;
		p += 19;
	}
	pthread_mutex_lock(&j->slots[bus].lock);
	int rc = append_locked(j, bus, day, rec, len);
	pthread_mutex_unlock(&j->slots[bus].lock);
	free(rec);
	return rc;
}

int gw_journal_append_events(struct gw_journal *j, const struct gw_event *ev,
			     size_t n, int32_t day)
{
	int idx;
	int rc = 0;

	if (!j)
		return GW_EINVAL;
	idx = j->n_slots - 1;
	/* One record per event, one fsync for all of them. Events are rare
	 * (a meter going offline or coming back); simplicity wins here. */
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		len += 8 + 1 + 4 + 1 + 8 + 3 + strlen(ev[i].meter_id) +
		       strlen(ev[i].obis) + strlen(ev[i].detail);
	if (n == 0)
		return 0;
	uint8_t *all = malloc(len), *p = all;
	if (!all)
		return GW_ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint8_t *rec = p, *q = p + 8;
		*q++ = GW_JREC_EVENT;
		le_put(q, (uint32_t)day, 4);
		q[4] = ev[i].kind;
		le_put(q + 5, (uint64_t)ev[i].ts_ms, 8);
		q += 13;
		q = put_str8(q, ev[i].meter_id);
		q = put_str8(q, ev[i].obis);
		q = put_str8(q, ev[i].detail);
		size_t plen = (size_t)(q - rec) - 8;
		le_put(rec, plen, 4);
		le_put(rec + 4, gw_crc32(rec + 8, plen), 4);
		p = q;
	}
	/* append_locked frames one record; here the records are framed
	 * already, so write them as one "record" whose frame we skip. */
	struct slot *s = &j->slots[idx];
	pthread_mutex_lock(&s->lock);
	int32_t segday = gw_tz_day_of(ev[0].ts_ms);
	if (day > segday)
		segday = day;
	for (size_t i = 1; i < n; i++) {
		int32_t d = gw_tz_day_of(ev[i].ts_ms);
		if (d > segday)
			segday = d;
	}
	/* Write the first record through append_locked (which opens the
	 * segment and syncs), then the rest with one more write + fsync. */
	size_t first = (size_t)le_get(all, 4);
	rc = append_locked(j, idx, segday, all, first);
	if (rc == 0 && n > 1) {
		if (write_all(s->fd, all + 8 + first, len - 8 - first) ||
		    fsync(s->fd) != 0) {
			gw_err("journal: event write or fsync failed: %s",
			       strerror(errno));
			close(s->fd);
			s->fd = -1;
			rc = GW_EIO;
		}
	}
	pthread_mutex_unlock(&s->lock);
	free(all);
	return rc;
}

/* ---- reading segments ---- */

static int get_str8(const uint8_t **p, const uint8_t *end, char *dst, size_t cap)
{
	if (*p >= end)
		return -1;
	size_t n = **p;
	if (n >= cap || (size_t)(end - *p - 1) < n)
		return -1;
	memcpy(dst, *p + 1, n);
	dst[n] = '\0';
	if (memchr(dst, '\0', n))
		return -1;
	*p += 1 + n;
	return 0;
}

struct scan {
	gw_journal_cycle_fn cycle;
	gw_journal_event_fn event;
	void *ctx;
	struct gw_reading *rbuf;
	size_t rcap;
	unsigned long cycles, readings, events, skipped;
};

/* Decodes one record's payload; -1 if it does not decode (which, with a
 * good CRC, means a writer bug: treated like corruption), else the
 * callback's return (0 normally). */
static int decode_record(struct scan *sc, const uint8_t *p, size_t len, int *cbrc)
{
	const uint8_t *end = p + len;

	*cbrc = 0;
	if (len < 1)
		return -1;
	if (p[0] == GW_JREC_CYCLE) {
		if (len < 7)
			return -1;
		int bus = (int)le_get(p + 1, 2);
		uint64_t n = le_get(p + 3, 4);
		p += 7;
		if (n > len / 19)
			return -1;
		if (n > sc->rcap) {
			struct gw_reading *nb = realloc(sc->rbuf, n * sizeof(*nb));
			if (!nb)
				return -2;
			sc->rbuf = nb;
			sc->rcap = n;
		}
		for (uint64_t i = 0; i < n; i++) {
			struct gw_reading *r = &sc->rbuf[i];
			memset(r, 0, sizeof(*r));
			if (get_str8(&p, end, r->meter_id, sizeof(r->meter_id)) ||
			    get_str8(&p, end, r->obis, sizeof(r->obis)) ||
			    end - p < 19)
				return -1;
			r->ts_ms = (int64_t)le_get(p, 8);
			r->value = (int64_t)le_get(p + 8, 8);
			r->scale = (int8_t)p[16];
			r->unit = p[17];
			r->status = p[18];
			p += 19;
			if (r->unit >= GW_UNIT_COUNT_)
				return -1;
		}
		if (p != end)
			return -1;
		sc->cycles++;
		sc->readings += n;
		if (sc->cycle)
			*cbrc = sc->cycle(sc->ctx, bus, sc->rbuf, (size_t)n);
		return 0;
	}
	if (p[0] == GW_JREC_EVENT) {
		struct gw_event ev;
		memset(&ev, 0, sizeof(ev));
		if (len < 14)
			return -1;
		int32_t day = (int32_t)(uint32_t)le_get(p + 1, 4);
		ev.kind = p[5];
		ev.ts_ms = (int64_t)le_get(p + 6, 8);
		p += 14;
		if (get_str8(&p, end, ev.meter_id, sizeof(ev.meter_id)) ||
		    get_str8(&p, end, ev.obis, sizeof(ev.obis)) ||
		    get_str8(&p, end, ev.detail, sizeof(ev.detail)) || p != end)
			return -1;
		sc->events++;
		if (sc->event)
			*cbrc = sc->event(sc->ctx, &ev, day);
		return 0;
	}
	sc->skipped++; /* a record type of a later version: skip it */
	return 0;
}

/* Reads a segment, calling back for each good record. Returns 0 if whole,
 * GW_ECORRUPT (torn; *good_len set), GW_EVERSION, GW_EIO, GW_ENOMEM, or a
 * callback's non-zero return (via *cbrc, with 0 returned). */
static int scan_file(const char *path, struct scan *sc, const char **why,
		     uint64_t *good_len, int *cbrc)
{
	FILE *f = fopen(path, "rbe");
	uint8_t hdr[GW_JOURNAL_HDR], *buf = NULL;
	size_t cap = 0;
	int rc = 0;

	*why = "";
	*good_len = 0;
	*cbrc = 0;
	if (!f)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	size_t got = fread(hdr, 1, sizeof(hdr), f);
	if (got < sizeof(hdr)) {
		*why = "truncated header";
		rc = GW_ECORRUPT;
		goto out;
	}
	if (memcmp(hdr, GW_JOURNAL_MAGIC, 4) != 0) {
		*why = "bad magic";
		rc = GW_ECORRUPT;
		goto out;
	}
	if (le_get(hdr + 4, 2) != GW_JOURNAL_VERSION) {
		*why = "unsupported version";
		rc = GW_EVERSION;
		goto out;
	}
	*good_len = sizeof(hdr);
	for (;;) {
		uint8_t rh[8];
		got = fread(rh, 1, sizeof(rh), f);
		if (got == 0 && feof(f))
			break;
		if (got < sizeof(rh)) {
			*why = ferror(f) ? "read error" : "torn record header";
			rc = ferror(f) ? GW_EIO : GW_ECORRUPT;
			break;
		}
		size_t len = (size_t)le_get(rh, 4);
		uint32_t crc = (uint32_t)le_get(rh + 4, 4);
		if (len > GW_JOURNAL_REC_MAX) {
			*why = "record length out of range";
			rc = GW_ECORRUPT;
			break;
		}
		if (len > cap) {
			uint8_t *nb = realloc(buf, len);
			if (!nb) {
				rc = GW_ENOMEM;
				break;
			}
			buf = nb;
			cap = len;
		}
		if (fread(buf, 1, len, f) != len) {
			*why = ferror(f) ? "read error" : "torn record";
			rc = ferror(f) ? GW_EIO : GW_ECORRUPT;
			break;
		}
		if (gw_crc32(buf, len) != crc) {
			*why = "bad record CRC";
			rc = GW_ECORRUPT;
			break;
		}
		int d = decode_record(sc, buf, len, cbrc);
		if (d == -2) {
			rc = GW_ENOMEM;
			break;
		}
		if (d < 0) {
			*why = "record does not decode";
			rc = GW_ECORRUPT;
			break;
		}
		*good_len += 8 + len;
		if (*cbrc)
			break;
	}
out:
	free(buf);
	fclose(f);
	return rc;
}

int gw_journal_check_file(const char *path, const char **why, uint64_t *good_len)
{
	struct scan sc = {0};
	int cbrc;
	int rc = scan_file(path, &sc, why, good_len, &cbrc);

	free(sc.rbuf);
	return rc;
}

int gw_journal_read_file(const char *path, gw_journal_cycle_fn cycle,
			 gw_journal_event_fn event, void *ctx)
{
	struct scan sc = {.cycle = cycle, .event = event, .ctx = ctx};
	const char *why;
	uint64_t good;
	int cbrc;
	int rc = scan_file(path, &sc, &why, &good, &cbrc);

	free(sc.rbuf);
	return rc ? rc : cbrc;
}

/* Cuts a torn segment at good_len bytes, durably; a segment without a
 * whole header holds no acknowledged record and is removed. */
static int cut_segment(const char *dir, const char *path, uint64_t good_len)
{
	if (good_len < GW_JOURNAL_HDR) {
		if (unlink(path) != 0 && errno != ENOENT) {
			gw_err("journal %s: cannot remove: %s", path, strerror(errno));
			return GW_EIO;
		}
		return gw_fsync_dir(dir);
	}
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		gw_err("journal %s: cannot open: %s", path, strerror(errno));
		return GW_EIO;
	}
	if (ftruncate(fd, (off_t)good_len) != 0 || fsync(fd) != 0) {
		gw_err("journal %s: cannot cut the torn tail: %s", path,
		       strerror(errno));
		close(fd);
		return GW_EIO;
	}
	close(fd);
	return 0;
}

int gw_journal_replay(struct gw_journal *j, gw_journal_cycle_fn cycle,
		      gw_journal_event_fn event, void *ctx,
		      struct gw_journal_stats *st)
{
	struct scan sc = {.cycle = cycle, .event = event, .ctx = ctx};
	struct gw_journal_stats local;
	struct seg *segs;
	char path[GW_PATH_MAX + 80], qpath[GW_PATH_MAX + 96];
	int rc = 0;

	if (!st)
		st = &local;
	memset(st, 0, sizeof(*st));
	int n = list_segments(j->dir, &segs);
	if (n < 0)
		return n;
	for (int i = 0; i < n && rc == 0; i++) {
		const char *why;
		uint64_t good;
		int cbrc;
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%s", j->dir, segs[i].name);
		if (stat(path, &sb) != 0)
			continue;
		st->segments++;
		int src = scan_file(path, &sc, &why, &good, &cbrc);
		if (cbrc) {
			rc = cbrc;
			break;
		}
		if (src == GW_ECORRUPT && good == 0 &&
		    strcmp(why, "truncated header") != 0) {
			src = GW_EVERSION; /* bad magic: not ours to cut */
		}
		if (src == GW_ECORRUPT) {
			gw_warn("journal %s: %s at byte %llu; cut %llu torn byte%s "
				"(the last cycle before the crash was not acknowledged)",
				segs[i].name, why, (unsigned long long)good,
				(unsigned long long)((uint64_t)sb.st_size - good),
				(uint64_t)sb.st_size - good == 1 ? "" : "s");
			st->torn++;
			st->torn_bytes += (unsigned long)((uint64_t)sb.st_size - good);
			rc = cut_segment(j->dir, path, good);
		} else if (src == GW_EVERSION) {
			snprintf(qpath, sizeof(qpath), "%s/quarantine/%s", j->spool,
				 segs[i].name);
			gw_err("journal %s: %s; moved to quarantine/, not replayed",
			       segs[i].name, why);
			st->quarantined++;
			if (rename(path, qpath) != 0) {
				gw_err("journal %s: cannot move to quarantine: %s",
				       segs[i].name, strerror(errno));
				rc = GW_EIO;
			} else {
				char qdir[GW_PATH_MAX + 16];
				snprintf(qdir, sizeof(qdir), "%s/quarantine", j->spool);
				rc = gw_fsync_dir(qdir);
				if (rc == 0)
					rc = gw_fsync_dir(j->dir);
			}
		} else if (src) {
			rc = src;
		}
	}
	st->cycles = sc.cycles;
	st->readings = sc.readings;
	st->events = sc.events;
	st->skipped = sc.skipped;
	free(sc.rbuf);
	free(segs);
	return rc;
}

int gw_journal_prune(struct gw_journal *j, int32_t before_day)
{
	struct seg *segs;
	char path[GW_PATH_MAX + 80];
	int removed = 0;

	/* Close any open segment of a day being removed first. */
	for (int i = 0; i < j->n_slots; i++) {
		struct slot *s = &j->slots[i];
		pthread_mutex_lock(&s->lock);
		if (s->fd >= 0 && s->day < before_day) {
			close(s->fd);
			s->fd = -1;
		}
		pthread_mutex_unlock(&s->lock);
	}
	int n = list_segments(j->dir, &segs);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (segs[i].day >= before_day)
			continue;
		snprintf(path, sizeof(path), "%s/%s", j->dir, segs[i].name);
		if (unlink(path) != 0 && errno != ENOENT) {
			gw_err("journal %s: cannot remove: %s", path, strerror(errno));
			free(segs);
			return GW_EIO;
		}
		removed++;
	}
	free(segs);
	if (removed && gw_fsync_dir(j->dir))
		return GW_EIO;
	return removed;
}

uint64_t gw_journal_bytes(const char *spool_dir)
{
	char dir[GW_PATH_MAX + 16], path[GW_PATH_MAX + 300];
	uint64_t total = 0;
	struct dirent *e;
	struct stat st;

	snprintf(dir, sizeof(dir), "%s/journal", spool_dir);
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (stat(path, &st) == 0 && S_ISREG(st.st_mode))
			total += (uint64_t)st.st_size;
	}
	closedir(d);
	return total;
}
