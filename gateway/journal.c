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
	int fd;       /* open segment, -1 if none */
	int32_t day;  /* its day */
	uint64_t len; /* its bytes written and synced */
};

struct gw_journal {
	char dir[GW_PATH_MAX];
	char spool[GW_PATH_MAX];
	int n_slots; /* n_buses + 1; the last one is for events */
	struct slot *slots;
	pthread_mutex_t seq_lock;
	unsigned long next_seq;
	unsigned long failures; /* failed appends since open */
	unsigned long fail_run; /* failed appends in a row */
	int last_errno;         /* of the last failed append; 0 once one succeeds */
	int32_t failed_day;     /* the newest day of a failed append */
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

int32_t gw_journal_failed_day(struct gw_journal *j)
{
	int32_t d;

	pthread_mutex_lock(&j->seq_lock);
	d = j->failures ? j->failed_day : INT32_MIN;
	pthread_mutex_unlock(&j->seq_lock);
	return d;
}

int gw_journal_last_errno(struct gw_journal *j)
{
	int e;

	pthread_mutex_lock(&j->seq_lock);
	e = j->last_errno;
	pthread_mutex_unlock(&j->seq_lock);
	return e;
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

/* Counts one append's outcome; logs the first failure of a run, then at
 * 2, 4, 8 ... failures in a row, and the first success after a run (a
 * full disk fails every cycle of every bus: one line each would bury the
 * rest of the log). Takes seq_lock. */
static void note_append(struct gw_journal *j, int err, int32_t day,
			const char *what, const char *step)
{
	pthread_mutex_lock(&j->seq_lock);
	if (err) {
		if (j->failures == 0 || day > j->failed_day)
			j->failed_day = day;
		j->failures++;
		j->fail_run++;
		j->last_errno = err;
		if ((j->fail_run & (j->fail_run - 1)) == 0)
			gw_err("journal: %s: %s: %s; not durable, kept in memory only "
			       "(%lu failed append%s in a row)", what, step,
			       strerror(err), j->fail_run, j->fail_run == 1 ? "" : "s");
	} else if (j->fail_run) {
		gw_info("journal: appends durable again after %lu failed in a row",
			j->fail_run);
		j->fail_run = 0;
		j->last_errno = 0;
	}
	pthread_mutex_unlock(&j->seq_lock);
}

/* Removes a segment this append created and that holds nothing
 * acknowledged, so that a disk that keeps failing does not collect one
 * empty or half-written segment per cycle. */
static void drop_fresh(struct gw_journal *j, const char *path)
{
	if (unlink(path) != 0 && errno != ENOENT)
		gw_warn("journal %s: cannot remove: %s", path, strerror(errno));
	else
		(void)gw_fsync_dir(j->dir); /* best effort; replay copes */
}

static int gw_errno_rc(int err)
{
	return err == ENOSPC || err == EDQUOT ? GW_ENOSPC : GW_EIO;
}

/* Appends framed records (buf, len: one or more "u32 length, u32 CRC,
 * payload") to slot idx for `day` with one write and one fsync, opening a
 * new segment when the day moves on. Called with the slot locked.
 *
 * On failure nothing is acknowledged and no litter is left: a segment
 * created by this call is removed again; a write that failed on an open
 * segment is cut back off it (ftruncate to the last synced length) and the
 * segment stays open; after a failed fsync the open segment is abandoned
 * (never synced again: the kernel may have dropped the dirty pages and a
 * second fsync could report success without the data) and the next cycle
 * starts a new one. */
static int append_locked(struct gw_journal *j, int idx, int32_t day,
			 const uint8_t *buf, size_t len, const char *what)
{
	struct slot *s = &j->slots[idx];
	char path[GW_PATH_MAX + 64], daybuf[16], tag[16];
	int fresh = 0, err = 0;

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
			err = errno;
			note_append(j, err, day, what, "cannot create a segment");
			return gw_errno_rc(err);
		}
		s->day = day;
		s->len = 0;
		fresh = 1;
	}
	if (fresh) {
		uint8_t hdr[GW_JOURNAL_HDR];
		memcpy(hdr, GW_JOURNAL_MAGIC, 4);
		le_put(hdr + 4, GW_JOURNAL_VERSION, 2);
		le_put(hdr + 6, 0, 2);
		if (write_all(s->fd, hdr, sizeof(hdr)))
			err = errno;
		else
			s->len = sizeof(hdr);
	}
	if (!err && write_all(s->fd, buf, len))
		err = errno;
	if (err) {
		note_append(j, err, day, what, "write failed");
		if (fresh || ftruncate(s->fd, (off_t)s->len) != 0) {
			close(s->fd);
			s->fd = -1;
			if (fresh)
				drop_fresh(j, path);
		}
		return gw_errno_rc(err);
	}
	if (fsync(s->fd) != 0) {
		err = errno;
		note_append(j, err, day, what, "fsync failed");
		close(s->fd);
		s->fd = -1;
		if (fresh)
			drop_fresh(j, path);
		return gw_errno_rc(err);
	}
	if (fresh && gw_fsync_dir(j->dir)) {
		/* the new file's name may not survive a power loss */
		err = errno ? errno : EIO;
		note_append(j, err, day, what, "fsync of journal/ failed");
		close(s->fd);
		s->fd = -1;
		drop_fresh(j, path);
		return gw_errno_rc(err);
	}
	s->len += len;
	note_append(j, 0, day, what, NULL);
	return 0;
}

/* Frames one record in place: rec has 8 bytes of room, then the payload. */
static void frame(uint8_t *rec, size_t payload_len)
{
	le_put(rec, payload_len, 4);
	le_put(rec + 4, gw_crc32(rec + 8, payload_len), 4);
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
	frame(rec, len);
	pthread_mutex_lock(&j->slots[bus].lock);
	int rc = append_locked(j, bus, day, rec, 8 + len, "cycle");
	pthread_mutex_unlock(&j->slots[bus].lock);
	free(rec);
	return rc;
}

int gw_journal_append_events(struct gw_journal *j, const struct gw_event *ev,
			     size_t n, int32_t day)
{
	if (!j)
		return GW_EINVAL;
	if (n == 0)
		return 0;
	/* One record per event, all written with one write and one fsync.
	 * Events are rare (a meter going offline or coming back). */
	size_t len = 0;
	for (size_t i = 0; i < n; i++) {
		if (strlen(ev[i].meter_id) > 255 || strlen(ev[i].obis) > 255 ||
		    strlen(ev[i].detail) > 255)
			return GW_EINVAL;
		len += 8 + 1 + 4 + 1 + 8 + 3 + strlen(ev[i].meter_id) +
		       strlen(ev[i].obis) + strlen(ev[i].detail);
	}
	uint8_t *all = malloc(len), *p = all;
	if (!all)
		return GW_ENOMEM;
	int32_t segday = day;
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
		frame(rec, (size_t)(q - rec) - 8);
		p = q;
		int32_t d = gw_tz_day_of(ev[i].ts_ms);
		if (d > segday)
			segday = d;
	}
	struct slot *s = &j->slots[j->n_slots - 1];
	pthread_mutex_lock(&s->lock);
	int rc = append_locked(j, j->n_slots - 1, segday, all, len, "events");
	pthread_mutex_unlock(&s->lock);
	free(all);
	return rc;
}

/* ---- reading segments ----
 *
 * The reader takes any bytes: a segment cut by a power loss (a record cut
 * short, or the end of the file that was never synced read back as zeros),
 * flash gone bad, a fuzzer's input. Every length is checked against what
 * is left of the segment before it is used or allocated for, fields are
 * decoded with unsigned arithmetic and explicit conversions, and a record
 * of length 0 (which the writer never makes: a payload has at least its
 * type byte) is refused before anything else is done with it. So no input
 * makes the reader overflow, read out of bounds or convert out of range;
 * tests/fuzz/fuzz_journal.c checks this under ASan and UBSan.
 */

/* Signed values from their two's complement bits, without the
 * implementation-defined conversion of an out-of-range unsigned value. */
static int64_t to_i64(uint64_t v)
{
	return v <= INT64_MAX ? (int64_t)v : -(int64_t)(UINT64_MAX - v) - 1;
}

static int32_t to_i32(uint64_t v)
{
	v &= 0xffffffffu;
	return v <= INT32_MAX ? (int32_t)v : -(int32_t)(0xffffffffu - v) - 1;
}

static int8_t to_i8(uint8_t v)
{
	return v <= INT8_MAX ? (int8_t)v : (int8_t)(-(int)(0xffu - v) - 1);
}

/* A segment's bytes: a file (f) or an image in memory (mem). */
struct src {
	FILE *f;
	const uint8_t *mem;
	uint64_t size; /* bytes in the segment when reading began */
	uint64_t pos;
	int err;       /* errno of a read error, else 0 */
};

/* Reads up to n bytes at pos; returns how many (fewer at the end of the
 * segment, or on a read error, which sets s->err). */
static size_t src_read(struct src *s, uint8_t *dst, size_t n)
{
	size_t got;

	if (s->pos >= s->size || n == 0)
		return 0;
	if (n > s->size - s->pos)
		n = (size_t)(s->size - s->pos);
	if (s->mem) {
		memcpy(dst, s->mem + s->pos, n);
		got = n;
	} else {
		got = fread(dst, 1, n, s->f);
		if (got < n && ferror(s->f))
			s->err = errno ? errno : EIO;
	}
	s->pos += got;
	return got;
}

/* 1 if every byte from `from` to the end of the segment is zero (also when
 * there is none), 0 if not, -1 on a read error. Moves pos to the end. */
static int src_zero_from(struct src *s, uint64_t from)
{
	uint8_t chunk[4096];
	size_t got;

	if (!s->mem && fseeko(s->f, (off_t)from, SEEK_SET) != 0) {
		s->err = errno ? errno : EIO;
		return -1;
	}
	s->pos = from;
	while ((got = src_read(s, chunk, sizeof(chunk))) > 0)
		for (size_t i = 0; i < got; i++)
			if (chunk[i])
				return 0;
	return s->err ? -1 : 1;
}

/* Bounded reading of one record's payload. */
struct rd {
	const uint8_t *p;
	size_t n, pos;
	int bad;
};

static uint64_t rd_le(struct rd *r, int width)
{
	if (r->bad || r->n - r->pos < (size_t)width) {
		r->bad = 1;
		return 0;
	}
	uint64_t v = le_get(r->p + r->pos, width);
	r->pos += (size_t)width;
	return v;
}

/* A u8 length and that many bytes into dst (cap bytes with the NUL);
 * an embedded NUL or a string too long for dst is bad. */
static void rd_str8(struct rd *r, char *dst, size_t cap)
{
	size_t n = (size_t)rd_le(r, 1);

	dst[0] = '\0';
	if (r->bad || n >= cap || r->n - r->pos < n) {
		r->bad = 1;
		return;
	}
	memcpy(dst, r->p + r->pos, n);
	dst[n] = '\0';
	if (memchr(dst, '\0', n))
		r->bad = 1;
	r->pos += n;
}

struct scan {
	gw_journal_cycle_fn cycle;
	gw_journal_event_fn event;
	void *ctx;
	struct gw_reading *rbuf;
	size_t rcap;
	unsigned long cycles, readings, events, skipped;
};

/* The smallest encoded reading: two empty strings' lengths, then
 * ts, value, scale, unit, status. */
#define READING_MIN (1 + 1 + 8 + 8 + 3)

/* Decodes one record's payload (len >= 1) and hands it to the callback.
 * Returns 0, -1 if it does not decode (with a good CRC: a writer's bug or
 * damage, treated like a torn record), -2 when out of memory. *cbrc gets
 * the callback's return. */
static int decode_record(struct scan *sc, const uint8_t *p, size_t len, int *cbrc)
{
	struct rd r = {.p = p, .n = len};

	*cbrc = 0;
	uint64_t type = rd_le(&r, 1);
	if (r.bad)
		return -1;
	if (type == GW_JREC_CYCLE) {
		int bus = (int)rd_le(&r, 2);
		uint64_t n = rd_le(&r, 4);
		if (r.bad || n > (len - r.pos) / READING_MIN)
			return -1;
		if (n > sc->rcap) {
			struct gw_reading *nb = realloc(sc->rbuf, (size_t)n * sizeof(*nb));
			if (!nb)
				return -2;
			sc->rbuf = nb;
			sc->rcap = (size_t)n;
		}
		for (uint64_t i = 0; i < n; i++) {
			struct gw_reading *rd = &sc->rbuf[i];
			memset(rd, 0, sizeof(*rd));
			rd_str8(&r, rd->meter_id, sizeof(rd->meter_id));
			rd_str8(&r, rd->obis, sizeof(rd->obis));
			rd->ts_ms = to_i64(rd_le(&r, 8));
			rd->value = to_i64(rd_le(&r, 8));
			rd->scale = to_i8((uint8_t)rd_le(&r, 1));
			rd->unit = (uint8_t)rd_le(&r, 1);
			rd->status = (uint8_t)rd_le(&r, 1);
			if (r.bad || rd->unit >= GW_UNIT_COUNT_)
				return -1;
		}
		if (r.pos != r.n)
			return -1;
		sc->cycles++;
		sc->readings += (unsigned long)n;
		if (sc->cycle && n > 0)
			*cbrc = sc->cycle(sc->ctx, bus, sc->rbuf, (size_t)n);
		return 0;
	}
	if (type == GW_JREC_EVENT) {
		struct gw_event ev;
		memset(&ev, 0, sizeof(ev));
		int32_t day = to_i32(rd_le(&r, 4));
		ev.kind = (uint8_t)rd_le(&r, 1);
		ev.ts_ms = to_i64(rd_le(&r, 8));
		rd_str8(&r, ev.meter_id, sizeof(ev.meter_id));
		rd_str8(&r, ev.obis, sizeof(ev.obis));
		rd_str8(&r, ev.detail, sizeof(ev.detail));
		if (r.bad || r.pos != r.n)
			return -1;
		sc->events++;
		if (sc->event)
			*cbrc = sc->event(sc->ctx, &ev, day);
		return 0;
	}
	sc->skipped++; /* a record type of a later version: skip it */
	return 0;
}

/* What a scan found wrong, and what start-up does about it. */
enum fix {
	FIX_NONE,     /* whole */
	FIX_CUT,      /* cut at good_len (removed if good_len < the header):
		       * what a crash or power loss leaves */
	FIX_SET_ASIDE /* not a segment of ours (bad magic) or of a newer
		       * version: moved to quarantine/, not replayed */
};

struct verdict {
	const char *why; /* "" when whole */
	uint64_t good_len; /* bytes up to the end of the last good record */
	enum fix fix;
};

/* Reads a segment, calling back for each good record. Returns 0 if whole,
 * GW_ECORRUPT or GW_EVERSION (v says why and what to do), GW_EIO,
 * GW_ENOMEM, or 0 with *cbrc set when a callback stopped it. */
static int scan_src(struct src *s, struct scan *sc, struct verdict *v, int *cbrc)
{
	uint8_t hdr[GW_JOURNAL_HDR], rh[8], *buf = NULL;
	size_t cap = 0;
	int rc = 0;

	v->why = "";
	v->good_len = 0;
	v->fix = FIX_NONE;
	*cbrc = 0;
	size_t got = src_read(s, hdr, sizeof(hdr));
	if (s->err) {
		v->why = "read error";
		return GW_EIO;
	}
	if (got < sizeof(hdr)) {
		/* a segment is created, then its header written: a crash
		 * between the two leaves less than a header, and nothing of it
		 * was ever acknowledged */
		v->why = "truncated header";
		v->fix = FIX_CUT;
		return GW_ECORRUPT;
	}
	if (memcmp(hdr, GW_JOURNAL_MAGIC, 4) != 0 ||
	    le_get(hdr + 4, 2) != GW_JOURNAL_VERSION) {
		/* The header this writer makes, as far as it matches, then
		 * nothing but zeros: the file's size reached the disk, its data
		 * did not (a power loss before the first fsync). Nothing in it
		 * was acknowledged. */
		static const uint8_t ours[GW_JOURNAL_HDR] = {
			'G', 'W', 'J', '1', GW_JOURNAL_VERSION, 0, 0, 0};
		size_t k = 0;
		while (k < sizeof(ours) && hdr[k] == ours[k])
			k++;
		int z = src_zero_from(s, k);
		if (z < 0) {
			v->why = "read error";
			return GW_EIO;
		}
		if (z) {
			v->why = k ? "truncated header" : "zero-filled segment";
			v->fix = FIX_CUT;
			return GW_ECORRUPT;
		}
		/* not ours, or of a later version: set aside, never cut */
		v->fix = FIX_SET_ASIDE;
		if (memcmp(hdr, GW_JOURNAL_MAGIC, 4) != 0) {
			v->why = "bad magic";
			return GW_ECORRUPT;
		}
		v->why = "unsupported version";
		return GW_EVERSION;
	}
	v->good_len = sizeof(hdr);
	for (;;) {
		uint64_t at = v->good_len, left = s->size - at;
		const char *bad = NULL;
		if (left == 0)
			break;
		memset(rh, 0, sizeof(rh));
		got = src_read(s, rh, sizeof(rh));
		if (s->err)
			break;
		uint64_t len = le_get(rh, 4);
		if (got < sizeof(rh))
			bad = "torn record header";
		else if (len == 0)
			bad = "empty record";
		else if (len > GW_JOURNAL_REC_MAX)
			bad = "record length out of range";
		else if (len > left - sizeof(rh))
			bad = "torn record";
		if (!bad) {
			if (len > cap) {
				uint8_t *nb = realloc(buf, (size_t)len);
				if (!nb) {
					rc = GW_ENOMEM;
					break;
				}
				buf = nb;
				cap = (size_t)len;
			}
			if (src_read(s, buf, (size_t)len) != len) {
				if (s->err)
					break;
				bad = "torn record"; /* the file shrank meanwhile */
			} else if (gw_crc32(buf, (size_t)len) != (uint32_t)le_get(rh + 4, 4)) {
				bad = "bad record CRC";
			} else {
				int d = decode_record(sc, buf, (size_t)len, cbrc);
				if (d == -2) {
					rc = GW_ENOMEM;
					break;
				}
				if (d < 0)
					bad = "record does not decode";
			}
		}
		if (bad) {
			/* What a power loss leaves after the last synced record
			 * reads as zeros: name it as such. */
			int z = src_zero_from(s, at);
			if (z < 0)
				break;
			v->why = z ? "zero-filled tail" : bad;
			v->fix = FIX_CUT;
			rc = GW_ECORRUPT;
			break;
		}
		v->good_len = at + sizeof(rh) + len;
		if (*cbrc)
			break;
	}
	if (s->err) {
		v->why = "read error";
		v->fix = FIX_NONE;
		rc = GW_EIO;
	}
	free(buf);
	return rc;
}

/* Opens path and scans it. GW_ENOTFOUND if it does not exist. */
static int scan_file(const char *path, struct scan *sc, struct verdict *v,
		     int *cbrc)
{
	struct stat sb;
	FILE *f = fopen(path, "rbe");
	int rc;

	v->why = "";
	v->good_len = 0;
	v->fix = FIX_NONE;
	*cbrc = 0;
	if (!f)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	if (fstat(fileno(f), &sb) != 0) {
		fclose(f);
		return GW_EIO;
	}
	struct src s = {.f = f, .size = (uint64_t)sb.st_size};
	rc = scan_src(&s, sc, v, cbrc);
	fclose(f);
	return rc;
}

int gw_journal_check_file(const char *path, const char **why, uint64_t *good_len)
{
	struct scan sc = {0};
	struct verdict v;
	int cbrc;
	int rc = scan_file(path, &sc, &v, &cbrc);

	free(sc.rbuf);
	*why = v.why;
	*good_len = v.good_len;
	return rc;
}

int gw_journal_read_file(const char *path, gw_journal_cycle_fn cycle,
			 gw_journal_event_fn event, void *ctx)
{
	struct scan sc = {.cycle = cycle, .event = event, .ctx = ctx};
	struct verdict v;
	int cbrc;
	int rc = scan_file(path, &sc, &v, &cbrc);

	free(sc.rbuf);
	return rc ? rc : cbrc;
}

int gw_journal_read_buf(const uint8_t *buf, size_t len,
			gw_journal_cycle_fn cycle, gw_journal_event_fn event,
			void *ctx, const char **why, uint64_t *good_len)
{
	struct scan sc = {.cycle = cycle, .event = event, .ctx = ctx};
	struct src s = {.mem = buf ? buf : (const uint8_t *)"", .size = buf ? len : 0};
	struct verdict v;
	int cbrc;
	int rc = scan_src(&s, &sc, &v, &cbrc);

	free(sc.rbuf);
	*why = v.why;
	*good_len = v.good_len;
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
		struct verdict v;
		int cbrc;
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%s", j->dir, segs[i].name);
		if (stat(path, &sb) != 0)
			continue;
		st->segments++;
		int src = scan_file(path, &sc, &v, &cbrc);
		if (cbrc) {
			rc = cbrc;
			break;
		}
		uint64_t size = (uint64_t)sb.st_size;
		uint64_t cut = size > v.good_len ? size - v.good_len : 0;
		if (v.fix == FIX_CUT && v.good_len < GW_JOURNAL_HDR) {
			gw_warn("journal %s: %s; removed (%llu byte%s, nothing in it "
				"was acknowledged)", segs[i].name, v.why,
				(unsigned long long)size, size == 1 ? "" : "s");
			st->torn++;
			st->torn_bytes += (unsigned long)cut;
			rc = cut_segment(j->dir, path, 0);
		} else if (v.fix == FIX_CUT) {
			gw_warn("journal %s: %s at byte %llu; cut %llu torn byte%s "
				"(the last cycle before the crash was not acknowledged)",
				segs[i].name, v.why, (unsigned long long)v.good_len,
				(unsigned long long)cut, cut == 1 ? "" : "s");
			st->torn++;
			st->torn_bytes += (unsigned long)cut;
			rc = cut_segment(j->dir, path, v.good_len);
		} else if (v.fix == FIX_SET_ASIDE) {
			snprintf(qpath, sizeof(qpath), "%s/quarantine/%s", j->spool,
				 segs[i].name);
			gw_err("journal %s: %s; moved to quarantine/, not replayed",
			       segs[i].name, v.why);
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
			if (src == GW_EIO)
				gw_err("journal %s: cannot read: %s", segs[i].name,
				       v.why[0] ? v.why : "input/output error");
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
