/* SPDX-License-Identifier: MIT */
/*
 * journal.c - the write-ahead journal of poll cycles: segments opened,
 * appended to and synced, replayed at start (cut where a crash tore them)
 * and pruned once their days are sealed; see journal.h and
 * docs/spool-format.md ("Journal"). Reading a segment's records is
 * journal_read.c.
 *
 * A segment is an 8-byte header (magic "GWJ1", u16 version, u16 reserved)
 * followed by records: u32 payload length, u32 CRC-32 of the payload, the
 * payload. A cycle's payload is packed against the segment's earlier
 * cycles of the same bus (journal_codec.c): each slot keeps the codec's
 * state of its open segment, started afresh with every new segment and
 * after every failed append. Every field is explicit little-endian, never a raw struct, so a
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
#include <time.h>
#include <unistd.h>

#include "bytes.h"
#include "durable.h"
#include "journal_int.h"
#include "spool.h"
#include "tz.h"

struct slot {
	pthread_mutex_t lock;
	int fd;       /* open segment, -1 if none */
	int32_t day;  /* its day */
	uint64_t len; /* its bytes written and synced */
	struct gw_jcodec codec; /* what the open segment's cycles hold */
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
	pthread_mutex_t fsync_lock;
	struct gw_journal_fsync fsync; /* under fsync_lock */
};

/* From a flash card that keeps up (a millisecond) to one that stalls. */
const uint64_t gw_journal_fsync_bounds_us[GW_JOURNAL_FSYNC_BUCKETS] = {
	1000, 5000, 10000, 50000, 100000, 500000, 1000000, 5000000,
};

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Accounts one fsync of an append that took us microseconds. */
static void note_fsync(struct gw_journal *j, int64_t us)
{
	uint64_t u = us > 0 ? (uint64_t)us : 0;
	int b = 0;

	while (b < GW_JOURNAL_FSYNC_BUCKETS && u > gw_journal_fsync_bounds_us[b])
		b++;
	pthread_mutex_lock(&j->fsync_lock);
	j->fsync.count++;
	j->fsync.sum_us += u;
	if (u > j->fsync.max_us)
		j->fsync.max_us = u;
	j->fsync.bucket[b]++;
	pthread_mutex_unlock(&j->fsync_lock);
}

void gw_journal_fsync_stats(struct gw_journal *j, struct gw_journal_fsync *out)
{
	memset(out, 0, sizeof(*out));
	if (!j)
		return;
	pthread_mutex_lock(&j->fsync_lock);
	*out = j->fsync;
	pthread_mutex_unlock(&j->fsync_lock);
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
		j->slots[i].codec.fresh = 1;
	}
	pthread_mutex_init(&j->seq_lock, NULL);
	pthread_mutex_init(&j->fsync_lock, NULL);
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
		gw_jcodec_free(&j->slots[i].codec);
		pthread_mutex_destroy(&j->slots[i].lock);
	}
	pthread_mutex_destroy(&j->seq_lock);
	pthread_mutex_destroy(&j->fsync_lock);
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
		gw_le_put(hdr + 4, GW_JOURNAL_VERSION, 2);
		gw_le_put(hdr + 6, 0, 2);
		if (gw_write_all(s->fd, hdr, sizeof(hdr)))
			err = errno;
		else
			s->len = sizeof(hdr);
	}
	if (!err && gw_write_all(s->fd, buf, len))
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
	int64_t t0 = mono_us();
	int synced = fsync(s->fd), fsync_err = errno;
	note_fsync(j, mono_us() - t0);
	if (synced != 0) {
		err = fsync_err;
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
	gw_le_put(rec, payload_len, 4);
	gw_le_put(rec + 4, gw_crc32(rec + 8, payload_len), 4);
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
	struct gw_reading_array a = {.r = r};
	struct gw_reading_src src = {.n = n, .read = gw_reading_array_read, .ctx = &a};

	return gw_journal_append_src(j, bus, &src);
}

/* Checks src's readings (terminated strings, a known unit) and finds the
 * day of the newest, a chunk at a time. 0 or GW_EINVAL. */
static int check_cycle(const struct gw_reading_src *src, int32_t *day)
{
	struct gw_reading r[GW_JOURNAL_CHUNK];
	long k;

	*day = INT32_MIN;
	for (size_t from = 0; (k = gw_reading_src_chunk(src, from, r)) > 0;
	     from += (size_t)k) {
		for (size_t i = 0; i < (size_t)k; i++) {
			if (!memchr(r[i].meter_id, '\0', sizeof(r[i].meter_id)) ||
			    !memchr(r[i].obis, '\0', sizeof(r[i].obis)) ||
			    r[i].unit >= GW_UNIT_COUNT_)
				return GW_EINVAL;
			int32_t d = gw_tz_day_of(r[i].ts_ms);
			if (d > *day)
				*day = d;
		}
	}
	return k < 0 ? GW_EINVAL : 0;
}

int gw_journal_append_src(struct gw_journal *j, int bus,
			  const struct gw_reading_src *src)
{
	struct gw_wbuf rec = {0};
	int32_t day;
	size_t n = src->n;

	if (!j || bus < 0 || bus >= j->n_slots - 1 || n > GW_JOURNAL_CYCLE_MAX)
		return GW_EINVAL;
	if (n == 0)
		return 0;
	if (check_cycle(src, &day))
		return GW_EINVAL;
	struct slot *s = &j->slots[bus];
	pthread_mutex_lock(&s->lock);
	/* a cycle that opens a new segment starts its state afresh */
	if (s->fd < 0 || day > s->day)
		gw_jcodec_reset(&s->codec);
	gw_wbuf_need(&rec, 8);
	rec.n = rec.oom ? 0 : 8;
	int rc = gw_jcodec_encode_src(&s->codec, bus, src, &rec);
	if (rc == 0 && rec.n - 8 > GW_JOURNAL_REC_MAX)
		rc = GW_EINVAL;
	if (rc == 0) {
		frame(rec.p, rec.n - 8);
		rc = append_locked(j, bus, day, rec.p, rec.n, "cycle");
	}
	/* The reader never sees a record that was not appended: the next
	 * one must not be coded against it. */
	if (rc)
		gw_jcodec_reset(&s->codec);
	pthread_mutex_unlock(&s->lock);
	free(rec.p);
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
		gw_le_put(q, (uint32_t)day, 4);
		q[4] = ev[i].kind;
		gw_le_put(q + 5, (uint64_t)ev[i].ts_ms, 8);
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

/* ---- replay at start ---- */

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
	struct gw_jscan sc = {.cycle = cycle, .event = event, .ctx = ctx};
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
		struct gw_jverdict v;
		int cbrc;
		struct stat sb;
		snprintf(path, sizeof(path), "%s/%s", j->dir, segs[i].name);
		if (stat(path, &sb) != 0)
			continue;
		st->segments++;
		int src = gw_journal_scan_file(path, &sc, &v, &cbrc);
		if (cbrc) {
			rc = cbrc;
			break;
		}
		uint64_t size = (uint64_t)sb.st_size;
		uint64_t cut = size > v.good_len ? size - v.good_len : 0;
		if (v.fix == GW_JFIX_CUT && v.good_len < GW_JOURNAL_HDR) {
			gw_warn("journal %s: %s; removed (%llu byte%s, nothing in it "
				"was acknowledged)", segs[i].name, v.why,
				(unsigned long long)size, size == 1 ? "" : "s");
			st->torn++;
			st->torn_bytes += (unsigned long)cut;
			rc = cut_segment(j->dir, path, 0);
		} else if (v.fix == GW_JFIX_CUT) {
			gw_warn("journal %s: %s at byte %llu; cut %llu torn byte%s "
				"(the last cycle before the crash was not acknowledged)",
				segs[i].name, v.why, (unsigned long long)v.good_len,
				(unsigned long long)cut, cut == 1 ? "" : "s");
			st->torn++;
			st->torn_bytes += (unsigned long)cut;
			rc = cut_segment(j->dir, path, v.good_len);
		} else if (v.fix == GW_JFIX_SET_ASIDE) {
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
	return gw_spool_dir_bytes(spool_dir, "journal", NULL, NULL);
}
