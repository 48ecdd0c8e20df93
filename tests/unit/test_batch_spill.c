/* SPDX-License-Identifier: MIT */
/*
 * test_batch_spill.c - the batching core with its sealed days' points on
 * disk (batch_spill.c, batch_spill_core.c): 40 meters read every 15
 * minutes for 6 days in Europe/Berlin, a reading that comes a day late
 * (the day sealed again from the spilled points) and a meter silent for a
 * day; each sealed day encoded as gatewayd writes it.
 *
 *   - the same bytes with the points spilled as with them in memory; the
 *     points directory holds the one file of the last sealed day, and
 *     nothing once the batcher is freed;
 *   - a pass writes its records at once (the seal's pass too), not one a
 *     track;
 *   - a write that fails part way (the file size limit, EFBIG, as a full
 *     disk does; every seal's pass then keeps its records gathered in
 *     memory and reads them from there) and a points directory gone:
 *     the points stay in memory, the failures are counted, the same
 *     bytes; a seal's pass of 500 meters whose first gathered write
 *     goes through and whose second fails: the same bytes;
 *   - a record damaged or cut short on disk: nothing more is sealed
 *     (GW_EIO), the books are not saved, the batcher says it is broken;
 *     the same for a record of the open day's passes (a chain's later
 *     record): its bytes damaged, a header field only its CRC covers or
 *     the CRC itself damaged, linked to another track's record (its
 *     CRC made right again), the file cut inside it;
 *   - a restart: the journal's readings replayed into a new batcher with
 *     a new store (spilled as they are replayed) give the same batches
 *     again;
 *   - a track read four times a second, whose open day's record is
 *     larger than a pass's buffers: the same batches;
 *   - young tracks: the first day after a start (a lead day of four
 *     points sealed) takes no more of the pool's bytes before its passes
 *     than the days after it;
 *   - a track's points as the benchmarks read them (batch_track_points):
 *     those batch_track_open decodes, the records' first, and how many
 *     are the records' (all of them just after a pass: the chain empty;
 *     none before the first pass);
 *   - the seal's pass over 700 tracks: its records gathered into a few
 *     writes, every track moved; a later write of it failing (a file
 *     size limit), in its walk or at its end, after one was done: every
 *     track in the new generation (the records of the failed write kept
 *     in memory) or in memory, none left in the generation before, none
 *     broken, the same bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "batch.h"
#include "batch_int.h" /* the pool's blocks in chains (young_tracks) */
#include "batch_spill.h"
#include "batchfile.h"
#include "bytes.h"
#include "tz.h"

#include "batch_harness.h"

#define METERS 40
#define CYCLE 900000LL
#define DAYS 6

static char dir[64];   /* the temporary directory */
static char pdir[128]; /* its points/ */
static int32_t day0;

static const struct gw_batcher_params params = {
	.gateway_id = "sub-042", .poll_interval_ms = CYCLE,
	.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
	.seal_delay_ms = 1800000, .max_power_w = 250000,
	.revision_window_days = 2,
};

static void reading(struct gw_reading *r, int m, int64_t ts, int64_t v)
{
	memset(r, 0, sizeof(*r));
	snprintf(r->meter_id, sizeof(r->meter_id), "m%03d", m);
	snprintf(r->obis, sizeof(r->obis), "1.8.0");
	r->ts_ms = ts;
	r->value = v;
	r->unit = GW_UNIT_WH;
}

/* The readings of cycle c (meter 7 silent on day 2; meter 3's reading of
 * cycle 200 held back until cycle 300, a day late). */
static size_t cycle(struct gw_reading *buf, int c)
{
	int64_t t0 = gw_tz_day_start(day0);
	size_t n = 0;

	for (int m = 0; m < METERS; m++) {
		int64_t ts = t0 + c * CYCLE + m * 1000 + (c * 7 + m) % 5;
		if ((m == 7 && c >= 96 && c < 192) || (m == 3 && c == 200))
			continue;
		reading(&buf[n++], m, ts, 1000000 + m * 1000 + c * (m % 9 + 1));
	}
	if (c == 300)
		reading(&buf[n++], 3, t0 + 200 * CYCLE + 3000 + (200 * 7 + 3) % 5,
			1000000 + 3 * 1000 + 200 * 4);
	return n;
}

/* Runs the days through a batcher (with a store when spill is set; for
 * `damage`, the store's file is damaged after day 3 is sealed). Returns
 * the sealed bytes; *st the store's counts. */
enum damage { NONE, FLIP, CUT, GONE, LINK_FLIP, LINK_BAD, LINK_CUT, LINK_HDR,
	      LINK_CRC, LINK_STATE };

/* The records of the file at fd (the layout of batch_int.h: a 16-byte
 * file header, then records of a SPILL_HDR-byte header - CRC, hash,
 * count, len, prev, total, total_len, depth (16 bits), bits, flags,
 * first time (8), the coder's state before the record (28, its time
 * first) and after it ...; the CRC over the bytes after it and the len
 * bytes - and len bytes, padded to 4): the offset of the last one with
 * depth >= 2 whose record before it is not the file's first record.
 * Fails the test when there is none. */
#define REC_HDR SPILL_HDR

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static off_t last_chained(int fd, off_t size)
{
	off_t off = 16, found = 0;
	uint8_t h[REC_HDR];

	while (off + REC_HDR <= size) {
		assert_int_equal(pread(fd, h, REC_HDR, off), REC_HDR);
		if ((le32(h + 28) & 0xffff) >= 2 && le32(h + 16) != 16)
			found = off;
		off += (REC_HDR + le32(h + 12) + 3) & ~(off_t)3;
	}
	assert_true(found > 0);
	return found;
}

/* Damages the file at path as `damage` says. */
static void damage_file(const char *path, enum damage damage)
{
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	struct stat sb;
	assert_int_equal(fstat(fd, &sb), 0);
	assert_true(sb.st_size > 1000);
	if (damage == FLIP || damage == CUT) {
		if (damage == FLIP) {
			uint8_t x;
			assert_int_equal(pread(fd, &x, 1, sb.st_size / 2), 1);
			x ^= 0x10;
			assert_int_equal(pwrite(fd, &x, 1, sb.st_size / 2), 1);
		} else {
			assert_int_equal(ftruncate(fd, sb.st_size / 2), 0);
		}
		close(fd);
		return;
	}
	off_t at = last_chained(fd, sb.st_size);
	uint8_t h[REC_HDR];
	assert_int_equal(pread(fd, h, REC_HDR, at), REC_HDR);
	uint32_t len = le32(h + 12);
	if (damage == LINK_CUT) {
		assert_int_equal(ftruncate(fd, at + REC_HDR + len / 2), 0);
	} else if (damage == LINK_FLIP || damage == LINK_HDR || damage == LINK_CRC) {
		/* a bit of its last byte; of its header's bits field (1-7 or
		 * 0 either way: only the CRC sees it); of its CRC */
		off_t where = damage == LINK_FLIP ? at + REC_HDR + len - 1 :
			      damage == LINK_HDR ? at + 30 : at + 2;
		uint8_t x;
		assert_true(len > 0);
		assert_int_equal(pread(fd, &x, 1, where), 1);
		x ^= 0x01;
		assert_int_equal(pwrite(fd, &x, 1, where), 1);
	} else {
		/* linked to the file's first record, another track's, or
		 * (LINK_STATE) the coder's state before it a millisecond off,
		 * so that it no longer goes on from the record before it:
		 * with a CRC that matches */
		uint8_t *rec = malloc(REC_HDR + len);
		assert_non_null(rec);
		assert_int_equal(pread(fd, rec, REC_HDR + len, at), (ssize_t)(REC_HDR + len));
		if (damage == LINK_STATE) {
			rec[40] ^= 0x01;
		} else {
			rec[16] = 16;
			rec[17] = rec[18] = rec[19] = 0;
		}
		uint32_t c = (uint32_t)crc32(0L, rec + 4, REC_HDR - 4 + len);
		for (int i = 0; i < 4; i++)
			rec[i] = (uint8_t)(c >> (8 * i));
		assert_int_equal(pwrite(fd, rec, REC_HDR, at), REC_HDR);
		free(rec);
	}
	close(fd);
}

static struct gw_wbuf run(int spill, enum damage damage, struct gw_spill_stats *st,
			  int *broken_at)
{
	struct gw_batcher *b = gw_batcher_new(&params);
	struct gw_wbuf out = {0};
	struct gw_reading buf[METERS + 1];
	int64_t t0 = gw_tz_day_start(day0);

	assert_non_null(b);
	if (spill) {
		struct gw_spill *s;
		assert_int_equal(gw_spill_open(pdir, &s), 0);
		gw_batcher_set_spill(b, s);
		if (damage == GONE)
			assert_int_equal(rmdir(pdir), 0);
	}
	*broken_at = -1;
	for (int c = 0; c < DAYS * 96; c++) {
		size_t n = cycle(buf, c);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		int rc = gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out);
		if (rc == GW_EIO && *broken_at < 0)
			*broken_at = c;
		int damaged = damage != NONE && damage != GONE;
		if (damaged) {
			if (rc != GW_EIO)
				assert_true(rc >= 0);
		} else {
			assert_true(rc >= 0);
		}
		/* day 3 sealed (at 00:30 of day 4), its points on disk; at
		 * 08:15, the open day's passes of 04:00 and 08:00 added to
		 * its file */
		if (damaged && c == 3 * 96 + (damage <= CUT ? 4 : 33)) {
			char path[256], name[16];
			snprintf(path, sizeof(path), "%s/%s", pdir,
				 gw_day_format(day0 + 3 - 1, name, sizeof(name)));
			damage_file(path, damage);
		}
	}
	gw_batcher_spill_stats(b, st);
	if (damage != NONE && damage != GONE) {
		char *text;
		size_t len;
		assert_int_equal(gw_batcher_spill_broken(b), 1);
		assert_int_equal(gw_batcher_edges_save(b, &text, &len), GW_EIO);
	} else {
		assert_int_equal(gw_batcher_spill_broken(b), 0);
	}
	gw_batcher_free(b);
	return out;
}

static int files_in(const char *d)
{
	DIR *dh = opendir(d);
	struct dirent *e;
	int n = 0;

	if (!dh)
		return -1;
	while ((e = readdir(dh)) != NULL)
		n += e->d_name[0] != '.';
	closedir(dh);
	return n;
}

static struct gw_wbuf in_memory;

static int setup(void **state)
{
	struct gw_spill_stats st;
	int broken;

	(void)state;
	gw_log_set_level(GW_LOG_ERROR);
	if (gw_tz_set("Europe/Berlin") || gw_day_parse("2026-03-27", &day0))
		return -1; /* DST begins on day 3 */
	snprintf(dir, sizeof(dir), "/tmp/gwspill.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(pdir, sizeof(pdir), "%s/points", dir);
	in_memory = run(0, NONE, &st, &broken);
	return in_memory.n > 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	rmdir(pdir);
	rmdir(dir);
	free(in_memory.p);
	return 0;
}

static void same(const struct gw_wbuf *w)
{
	assert_int_equal(w->n, in_memory.n);
	assert_memory_equal(w->p, in_memory.p, w->n);
}

/* The same bytes; one file, of the last sealed day, while it runs. */
static void spilled_same_bytes(void **state)
{
	struct gw_spill_stats st;
	int broken;
	struct gw_wbuf w;

	(void)state;
	w = run(1, NONE, &st, &broken);
	same(&w);
	free(w.p);
	/* every pass, the seal's too, gathers its records (they fit in
	 * SPILL_IO) and writes them at once: a write a pass, seven a day
	 * (not one a track, at least (DAYS - 1) * METERS) */
	assert_true(st.writes >= DAYS - 1);
	assert_true(st.writes <= (DAYS + 1) * (SPILL_OPEN_PASSES + 2));
	assert_true(st.bytes > (DAYS - 1) * METERS * 96);
	/* a file for each sealed day's pass, and one for the passes of the
	 * first day, before any was sealed */
	assert_int_equal(st.files, DAYS + 1);
	assert_int_equal(st.write_failed, 0);
	assert_int_equal(st.read_failed, 0);
	assert_int_equal(files_in(pdir), 0); /* the store removed its files */

	/* while it runs: the file of the day last sealed, nothing else */
	struct gw_batcher *b = gw_batcher_new(&params);
	struct gw_spill *s;
	struct gw_reading buf[METERS + 1];
	struct gw_wbuf out = {0};
	assert_int_equal(gw_spill_open(pdir, &s), 0);
	gw_batcher_set_spill(b, s);
	for (int c = 0; c < 3 * 96 + 8; c++) {
		size_t n = cycle(buf, c);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		assert_true(gw_batcher_advance_src(b, gw_tz_day_start(day0) + (c + 1) * CYCLE,
						   sealed, &out) >= 0);
	}
	char path[256], name[16];
	snprintf(path, sizeof(path), "%s/%s", pdir, gw_day_format(day0 + 2, name, sizeof(name)));
	assert_int_equal(files_in(pdir), 1);
	assert_int_equal(access(path, R_OK), 0);
	gw_batcher_free(b);
	free(out.p);
	assert_int_equal(files_in(pdir), 0);
}

/* A track read four times a second beside meters read every 15 minutes:
 * the open day's pass finds a record of it larger than the pass's write
 * buffer (SPILL_IO) and its read-ahead windows (SPILL_RA_PASS), written
 * and read back alone; the seals are those of a batcher without a store,
 * byte for byte. */
#define DENSE_MS 250LL

static struct gw_wbuf run_dense(int spill, struct gw_spill_stats *st)
{
	struct gw_batcher *b = gw_batcher_new(&params);
	struct gw_wbuf out = {0};
	struct gw_reading *buf = calloc(CYCLE / DENSE_MS + METERS, sizeof(*buf));
	int64_t t0 = gw_tz_day_start(day0);

	assert_non_null(b);
	assert_non_null(buf);
	memset(st, 0, sizeof(*st));
	if (spill) {
		struct gw_spill *s;
		assert_int_equal(gw_spill_open(pdir, &s), 0);
		gw_batcher_set_spill(b, s);
	}
	for (int c = 0; c < 2 * 96 + 8; c++) {
		size_t n = 0;
		for (int m = 1; m < 4; m++)
			reading(&buf[n++], m, t0 + c * CYCLE + m * 1000, 5000 + m * c);
		/* the dense one's first day only, so the pass of 04:00 of day
		 * 1 holds four hours of it */
		for (int64_t k = 0; c < 96 && k < CYCLE / DENSE_MS; k++)
			reading(&buf[n++], 0, t0 + c * CYCLE + k * DENSE_MS,
				1000000 + (c * (CYCLE / DENSE_MS) + k) * 3 +
					(k * 7919) % 11);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out) >= 0);
	}
	if (spill) {
		gw_batcher_spill_stats(b, st);
		assert_int_equal(gw_batcher_spill_broken(b), 0);
	}
	gw_batcher_free(b);
	free(buf);
	return out;
}

static void dense_track(void **state)
{
	struct gw_spill_stats st, none;
	(void)state;
	struct gw_wbuf mem = run_dense(0, &none);
	struct gw_wbuf disk = run_dense(1, &st);

	assert_true(mem.n > 0);
	assert_int_equal(disk.n, mem.n);
	assert_memory_equal(disk.p, mem.p, mem.n);
	/* the open day's record, written again at each pass, passes
	 * SPILL_IO by the second (345,600 points a day, about a byte
	 * each): written alone (a wrong offset there fails this test) */
	assert_true(st.bytes > 4 * SPILL_IO);
	assert_int_equal(st.write_failed, 0);
	assert_int_equal(st.read_failed, 0);
	free(mem.p);
	free(disk.p);
}

/* Writes that fail part way (an 8 kB file size limit: EFBIG after the
 * first records, as ENOSPC would): counted, the rest in memory, the same
 * bytes. Each seal's pass gathers more than 8 kB: its write fails, and
 * its tracks, which let their points go when their records were
 * gathered, read them from the records kept in memory (the next seal and
 * the open day's passes: a record read wrong there changes the bytes). */
static void write_fails(void **state)
{
	struct gw_spill_stats st;
	struct rlimit old, lim;
	int broken;

	(void)state;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_IGN);
	lim = old;
	lim.rlim_cur = 8000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	struct gw_wbuf w = run(1, NONE, &st, &broken);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, SIG_DFL);
	same(&w);
	free(w.p);
	assert_true(st.write_failed > 0);
	assert_true(st.writes > 0);
	assert_int_equal(st.read_failed, 0);
}

/* A batcher for a run under a file size limit (RLIMIT_FSIZE, as a full
 * disk; 0: none), with a store in pdir if spill; *old gets the limit to
 * put back (limited_end). */
static struct gw_batcher *limited_new(int spill, rlim_t limit,
				      struct gw_spill_stats *st, struct rlimit *old)
{
	struct gw_batcher *b = gw_batcher_new(&params);
	struct rlimit lim;

	assert_non_null(b);
	memset(st, 0, sizeof(*st));
	if (spill) {
		struct gw_spill *s;
		assert_int_equal(gw_spill_open(pdir, &s), 0);
		gw_batcher_set_spill(b, s);
	}
	assert_int_equal(getrlimit(RLIMIT_FSIZE, old), 0);
	lim = *old;
	if (limit) {
		signal(SIGXFSZ, SIG_IGN);
		lim.rlim_cur = limit;
	}
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	return b;
}

/* The limit put back; the store's counts into *st, none broken. */
static void limited_end(struct gw_batcher *b, int spill, struct gw_spill_stats *st,
			const struct rlimit *old)
{
	assert_int_equal(setrlimit(RLIMIT_FSIZE, old), 0);
	signal(SIGXFSZ, SIG_DFL);
	if (spill) {
		gw_batcher_spill_stats(b, st);
		assert_int_equal(gw_batcher_spill_broken(b), 0);
	}
	gw_batcher_free(b);
}

/* A seal's pass that gathers more than one write's worth (500 meters,
 * about 64 kB of records and more), under a file size limit that lets
 * its first gathered write through and stops its second: the records
 * of the first are read from the file, those of the second from memory
 * (kept when their write failed), the tracks after them keep their
 * points in memory; the same bytes as a batcher without a store. */
#define WIDE 500

static struct gw_wbuf run_wide(int spill, rlim_t limit, struct gw_spill_stats *st)
{
	struct gw_wbuf out = {0};
	static struct gw_reading buf[WIDE];
	int64_t t0 = gw_tz_day_start(day0);
	struct rlimit old;
	struct gw_batcher *b = limited_new(spill, limit, st, &old);

	for (int c = 0; c < 3 * 96 + 8; c++) {
		for (int m = 0; m < WIDE; m++) {
			reading(&buf[m], m, t0 + c * CYCLE + m * 100 + (c * 7 + m) % 5,
				1000000 + m * 1000 + c * (m % 9 + 1) + (c * 13 + m) % 7);
			snprintf(buf[m].meter_id, sizeof(buf[m].meter_id), "w%04d", m);
		}
		assert_int_equal(gw_batcher_add(b, buf, WIDE), 0);
		assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out) >= 0);
	}
	limited_end(b, spill, st, &old);
	return out;
}

static void seal_write_fails_midway(void **state)
{
	struct gw_spill_stats none, all, cut;

	(void)state;
	struct gw_wbuf mem = run_wide(0, 0, &none);
	struct gw_wbuf disk = run_wide(1, 0, &all);
	/* a limit past the first gathered write (SPILL_IO after the file's
	 * 16 bytes), short of the second */
	struct gw_wbuf held = run_wide(1, SPILL_IO + 4096, &cut);

	assert_true(mem.n > 0);
	assert_int_equal(disk.n, mem.n);
	assert_memory_equal(disk.p, mem.p, mem.n);
	assert_int_equal(held.n, mem.n);
	assert_memory_equal(held.p, mem.p, mem.n);
	/* more than one write's worth a seal's pass, written whole ... */
	assert_int_equal(all.write_failed, 0);
	assert_true(all.bytes > 3 * SPILL_IO);
	/* ... and under the limit, some writes through, some failed */
	assert_true(cut.write_failed > 0);
	assert_true(cut.writes > 0);
	assert_int_equal(cut.read_failed, 0);
	free(mem.p);
	free(disk.p);
	free(held.p);
}

/* The points directory gone (unwritable): no file is made, every point
 * stays in memory, the same bytes. */
static void dir_gone(void **state)
{
	struct gw_spill_stats st;
	int broken;

	(void)state;
	struct gw_wbuf w = run(1, GONE, &st, &broken);
	same(&w);
	free(w.p);
	assert_int_equal(st.files, 0);
	assert_int_equal(st.writes, 0);
	assert_true(st.write_failed >= DAYS - 1);

	/* a plain file where the directory should be: refused at once */
	struct gw_spill *s = (struct gw_spill *)&st;
	FILE *f = fopen(pdir, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(gw_spill_open(pdir, &s), GW_EIO);
	assert_null(s);
	assert_int_equal(unlink(pdir), 0);
}

/* A record damaged on disk (one bit) or cut short: the next read of it
 * (the late reading of day 3, or the edge frozen when day 4 is sealed)
 * stops the sealing, and what was sealed before is what the core in
 * memory sealed. */
static void damaged(void **state)
{
	for (int d = FLIP; d <= CUT; d++) {
		struct gw_spill_stats st;
		int broken;
		(void)state;
		struct gw_wbuf w = run(1, (enum damage)d, &st, &broken);
		assert_true(broken > 3 * 96 + 4);
		assert_true(w.n < in_memory.n);
		/* every batch it sealed is the one the core in memory sealed */
		assert_memory_equal(w.p, in_memory.p, w.n);
		assert_true(st.read_failed > 0 || d == FLIP);
		free(w.p);
	}
}

/* A later record of a chain (the open day's passes) damaged (a bit of
 * its points, of a header field only its CRC covers, of the CRC
 * itself), linked to another track's record, or cut short: the batcher
 * turns broken at the next read of it, and every batch sealed before is
 * the one the core in memory sealed. */
static void chain_damaged(void **state)
{
	(void)state;
	for (int d = LINK_FLIP; d <= LINK_STATE; d++) {
		struct gw_spill_stats st;
		int broken;
		struct gw_wbuf w = run(1, (enum damage)d, &st, &broken);
		assert_true(broken > 3 * 96 + 33);
		assert_true(w.n < in_memory.n);
		assert_memory_equal(w.p, in_memory.p, w.n);
		/* the cut is seen before a pass writes after it */
		assert_true(st.read_failed > 0 || d != LINK_CUT);
		free(w.p);
	}
}

/* A restart on day 5: a new batcher and a new store, the journal's
 * readings (here: every cycle of the revision window and the open day)
 * replayed, the points spilled at once; the days sealed after it are the
 * ones the run without a restart sealed. */
static void restart(void **state)
{
	struct gw_reading buf[METERS + 1];
	struct gw_wbuf out = {0};
	struct gw_spill *s;
	int64_t t0 = gw_tz_day_start(day0);
	int cut = 4 * 96 + 40; /* 10:00 on day 5 */

	(void)state;
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_int_equal(gw_spill_open(pdir, &s), 0);
	gw_batcher_set_spill(b, s);
	for (int c = 0; c < cut; c++) {
		size_t n = cycle(buf, c);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out) >= 0);
	}
	char *edges;
	size_t elen;
	assert_int_equal(gw_batcher_edges_save(b, &edges, &elen), 0);
	int32_t next = gw_batcher_oldest_open_day(b);
	size_t before = out.n;
	gw_batcher_free(b);

	b = gw_batcher_new(&params);
	assert_int_equal(gw_spill_open(pdir, &s), 0);
	gw_batcher_set_spill(b, s);
	gw_batcher_restore(b, next);
	char why[128];
	assert_int_equal(gw_batcher_edges_load(b, edges, elen, why, sizeof(why)), 0);
	free(edges);
	/* the journal keeps the segments from next - 1 - window */
	int64_t keep = gw_tz_day_start(next - 1 - params.revision_window_days);
	for (int c = 0; c < cut; c++) {
		size_t n = cycle(buf, c), k = 0;
		for (size_t i = 0; i < n; i++)
			if (buf[i].ts_ms >= keep)
				buf[k++] = buf[i];
		if (k)
			assert_int_equal(gw_batcher_replay(b, buf, k), 0);
	}
	/* the replay spilled as it went, every 4 hours of its cycles */
	struct gw_spill_stats rst;
	gw_batcher_spill_stats(b, &rst);
	assert_true(rst.writes > 0);
	assert_true(rst.bytes >= 3 * METERS * 40); /* records of 40 bytes and more */
	assert_int_equal(gw_batcher_spill_now(b), 0);
	assert_int_equal(files_in(pdir), 1);
	for (int c = cut; c < DAYS * 96; c++) {
		size_t n = cycle(buf, c);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out) >= 0);
	}
	struct gw_spill_stats st;
	gw_batcher_spill_stats(b, &st);
	assert_true(st.writes > 0);
	assert_int_equal(st.read_failed, 0);
	gw_batcher_free(b);
	assert_true(out.n > before);
	same(&out);
	free(out.p);
}

/* A track's first hours after a start take no more of the pool's bytes
 * than its later days: 250 meters x 3 registers (two energy registers,
 * a voltage) read every 15 minutes at their place on the bus with up to
 * 2 s of jitter (a clock run fast multiplies a few ms of it), started
 * at 23:03, so that a lead day of four points is sealed at 00:30 and
 * the next day's points go on from its record. The bytes of the blocks
 * in chains before each pass of the open day: the largest of the day after the
 * lead's seal against the largest of the two days after it (the
 * encoder's means warmed up by a field's first numbers; with means that
 * moved by 1/8 from 16, two blocks of 48 a track). */
static void young_tracks(void **state)
{
	enum { M = 250, R = 3 };
	static struct gw_reading buf[M * R];
	static int64_t energy[M * 2];
	struct gw_spill *s;
	struct gw_wbuf out = {0};
	uint64_t rng = 0x9E3779B97F4A7C15ULL;
	size_t peak[4] = {0};
	int seals = 0;

	(void)state;
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_non_null(b);
	assert_int_equal(gw_spill_open(pdir, &s), 0);
	gw_batcher_set_spill(b, s);
	for (int64_t t = gw_tz_day_start(day0) - 57 * 60000LL; seals < 4; t += CYCLE) {
		size_t n = 0;
		for (int m = 0; m < M; m++) {
			rng ^= rng << 13;
			rng ^= rng >> 7;
			rng ^= rng << 17;
			int64_t ts = t + m * 400 + (int64_t)(rng >> 40) % 2000;
			for (int i = 0; i < R; i++, n++) {
				reading(&buf[n], m, ts, 0);
				if (i < 2) {
					energy[m * 2 + i] += (int64_t)(rng >> (8 + 8 * i)) % 120 + 10;
					buf[n].value = 1000000 + energy[m * 2 + i];
					snprintf(buf[n].obis, sizeof(buf[n].obis), i ? "2.8.0" : "1.8.0");
				} else {
					buf[n].value = 2300 + (int64_t)(rng >> 24) % 41 - 20;
					snprintf(buf[n].obis, sizeof(buf[n].obis), "32.7.0");
					buf[n].unit = GW_UNIT_V;
				}
			}
		}
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		size_t pre = blk_pool_bytes(b->pool);
		int rc = gw_batcher_advance_src(b, t + CYCLE, sealed, &out);
		assert_true(rc >= 0);
		if (blk_pool_bytes(b->pool) < pre && pre > peak[seals])
			peak[seals] = pre;
		seals += rc > 0;
	}
	gw_batcher_free(b);
	free(out.p);
	size_t tracks = M * R, steady = peak[2] > peak[3] ? peak[2] : peak[3];
	size_t first = tracks * (BLK_DATA + 4); /* a first block a track */
	assert_true(peak[1] >= first && steady >= first);
	assert_true(peak[1] <= steady + first / 50);
}

/* The seal's pass over many tracks (700 meters, records of two days'
 * points: four writes of SPILL_IO bytes at most), its records gathered
 * into a few writes. With a file size limit (RLIMIT_FSIZE, as a full
 * disk) that the pass's first write passes and a later one does not (in
 * its walk, or its last write at its end): the records of the write that
 * failed are kept in memory and read from there, no track is left
 * pointing at the generation before, none is broken, and the batches are
 * those of a batcher without a store, byte for byte. */
#define MANY 700

static size_t many_cycle(struct gw_reading *buf, int c)
{
	int64_t t0 = gw_tz_day_start(day0);

	for (int m = 0; m < MANY; m++)
		reading(&buf[m], m, t0 + c * CYCLE + m * 400 + (c * 7 + m) % 13,
			1000000 + m * 1000 + c * (m % 9 + 1) + (c * m) % 3);
	return MANY;
}

struct many_seen {
	int seals, partial; /* seals; those whose pass moved some tracks, not all */
	size_t moved;       /* tracks moved to their record, at every seal */
	uint64_t max_writes; /* the most writes of an advance that sealed */
};

static struct gw_wbuf run_many(int spill, rlim_t limit, struct gw_spill_stats *st,
			       struct many_seen *seen)
{
	static struct gw_reading buf[MANY];
	struct gw_wbuf out = {0};
	struct rlimit old;
	int64_t t0 = gw_tz_day_start(day0);
	struct gw_batcher *b = limited_new(spill, limit, st, &old);

	memset(seen, 0, sizeof(*seen));
	for (int c = 0; c < 4 * 96; c++) {
		struct gw_spill_stats before, after;
		size_t n = many_cycle(buf, c);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		gw_batcher_spill_stats(b, &before);
		int rc = gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out);
		assert_true(rc >= 0);
		if (!spill || rc == 0)
			continue;
		gw_batcher_spill_stats(b, &after);
		if (after.writes - before.writes > seen->max_writes)
			seen->max_writes = after.writes - before.writes;
		/* each track in the generation just written, or in memory */
		size_t moved = 0, kept = 0;
		for (uint32_t no = 1; no <= b->n_tracks; no++) {
			const struct track *t = track_at(b, no);
			if (t->sp && (t->sp & 1) == (uint32_t)b->spl->gen)
				moved++;
			else if (!t->sp)
				kept++;
		}
		assert_int_equal(moved + kept, b->n_tracks);
		seen->seals++;
		seen->moved += moved;
		seen->partial += moved > 0 && kept > 0;
	}
	limited_end(b, spill, st, &old);
	return out;
}

static void seal_pass_gathered(void **state)
{
	struct gw_spill_stats st, none;
	struct many_seen seen;

	(void)state;
	struct gw_wbuf mem = run_many(0, 0, &none, &seen);
	struct gw_wbuf disk = run_many(1, 0, &st, &seen);
	assert_true(mem.n > 0);
	assert_int_equal(disk.n, mem.n);
	assert_memory_equal(disk.p, mem.p, mem.n);
	/* every track moved at every seal, in a few writes (one a record
	 * made 1,400 and more: the day-end pass's and the seal's) */
	assert_int_equal(seen.seals, 4);
	assert_int_equal(seen.moved, 4 * MANY);
	assert_int_equal(seen.partial, 0);
	assert_true(seen.max_writes >= 3 && seen.max_writes <= 12);
	assert_int_equal(st.write_failed, 0);
	assert_int_equal(st.read_failed, 0);

	/* a write of a seal's pass fails after one was done: one in the
	 * middle of its walk (the tracks after it not gathered), and its
	 * last one, at its end */
	static const rlim_t limits[] = {100000, 200000};
	for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
		struct gw_wbuf cut = run_many(1, limits[i], &st, &seen);
		assert_int_equal(cut.n, mem.n);
		assert_memory_equal(cut.p, mem.p, mem.n);
		/* (the records of the write that failed stay in memory,
		 * read from there: every track still in the new generation
		 * or in memory, none broken) */
		assert_true(st.write_failed > 0);
		assert_int_equal(st.read_failed, 0);
		free(cut.p);
	}
	free(mem.p);
	free(disk.p);
}

/* batch_track_points against batch_track_open, every track after every
 * cycle for a day and a half: the same points, the records' count that of
 * the points not in the chain (the chain's bytes none exactly when every
 * point is the records'), the scratch's owner left as it was. */
static void track_points(void **state)
{
	static struct gw_reading buf[METERS + 1];
	static struct point out[4096];
	struct gw_spill *s;
	struct gw_wbuf sealed_out = {0};
	int64_t t0 = gw_tz_day_start(day0);
	size_t none = 0, part = 0, all = 0;

	(void)state;
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_non_null(b);
	assert_int_equal(gw_spill_open(pdir, &s), 0);
	gw_batcher_set_spill(b, s);
	for (int c = 0; c < 144; c++) {
		size_t n = cycle(buf, c);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed,
						   &sealed_out) >= 0);
		for (uint32_t no = 1; no <= b->n_tracks; no++) {
			struct track *t = track_at(b, no);
			struct chain ch = track_chain(t);
			const struct track *owner = b->sc->owner;
			assert_true(t->n <= 4096);
			long r = batch_track_points(b, t, out);
			assert_ptr_equal(b->sc->owner, owner);
			assert_true(r >= 0 && (size_t)r <= t->n);
			assert_int_equal((size_t)r == t->n,
					 batch_chain_len(b->pool, &ch) == 0);
			none += r == 0;
			part += r > 0 && (size_t)r < t->n;
			all += (size_t)r == t->n;
			batch_track_open(b, t);
			assert_memory_equal(out, track_pts(b, t), t->n * sizeof(*out));
		}
	}
	assert_true(none > 0 && part > 0 && all > 0);
	gw_batcher_free(b);
	free(sealed_out.p);
}

/* The same damage found by a read outside the walks (batch_track_points
 * between two calls: no windows, each record's header and bytes read
 * and checked apart) and by one inside a walk (the windows: a record
 * checked where it lies in one, in one CRC call): exactly the damaged
 * track's chain fails, and the batcher turns broken; before the damage,
 * every track reads back either way. */
static void damaged_read_alone(void **state)
{
	static struct gw_reading buf[METERS + 1];
	static struct point out[4096];
	int64_t t0 = gw_tz_day_start(day0);

	(void)state;
	for (int d = LINK_FLIP; d <= LINK_STATE; d++) {
		if (d == LINK_BAD || d == LINK_CUT)
			continue;
		for (int windows = 0; windows < 2; windows++) {
			struct gw_batcher *b = gw_batcher_new(&params);
			struct gw_wbuf sealed_out = {0};
			struct gw_spill *s;
			assert_non_null(b);
			assert_int_equal(gw_spill_open(pdir, &s), 0);
			gw_batcher_set_spill(b, s);
			for (int c = 0; c <= 3 * 96 + 33; c++) {
				size_t n = cycle(buf, c);
				assert_int_equal(gw_batcher_add(b, buf, n), 0);
				assert_true(gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE,
								   sealed, &sealed_out) >= 0);
			}
			for (int pass = 0; pass < 2; pass++) {
				if (pass == 1) {
					char path[256], name[16];
					snprintf(path, sizeof(path), "%s/%s", pdir,
						 gw_day_format(day0 + 2, name, sizeof(name)));
					damage_file(path, (enum damage)d);
				}
				int failed = 0;
				if (windows)
					batch_spill_ra_begin(b);
				for (uint32_t no = 1; no <= b->n_tracks; no++) {
					struct track *t = track_at(b, no);
					assert_true(t->n <= 4096);
					failed += batch_track_points(b, t, out) < 0;
				}
				if (windows)
					batch_spill_ra_end(b);
				assert_int_equal(failed, pass);
				assert_int_equal(gw_batcher_spill_broken(b), pass);
			}
			gw_batcher_free(b);
			free(sealed_out.p);
		}
	}
}

/* The order the records lie in: 300 meters x 12 registers (3 energy),
 * where the seal's value column reads the registers by code, then
 * meter, and the day is built by meter, then code. The open day's
 * passes and the seal's pass write the records by code, then meter
 * (WALK_CODES): along that walk, each track's last record lies after
 * the one before it, after a pass and after a seal. The sealing call
 * (the day-end pass, the day built and written, the edge's books and
 * the carry) reads the points file through its windows less than 2.5
 * times over (1.5 here): a walk by meter over records by code keeps a
 * window a code. With the records by meter, then code (as they were),
 * the value column reads a window for every few records, about 12
 * times the open day's records: 3.9 times the file in all. */
#define ORD_METERS 300
#define ORD_CODES 12

static size_t ord_cycle(struct gw_reading *buf, int c)
{
	static const char *const codes[ORD_CODES] = {
		"1.8.0", "2.8.0", "15.8.0", "32.7.0", "52.7.0", "72.7.0",
		"31.7.0", "51.7.0", "71.7.0", "14.7.0", "13.7.0", "16.7.0"};
	int64_t t0 = gw_tz_day_start(day0);
	size_t n = 0;

	for (int m = 0; m < ORD_METERS; m++)
		for (int k = 0; k < ORD_CODES; k++) {
			struct gw_reading *r = &buf[n++];
			reading(r, m, t0 + c * CYCLE + m * 100 + (c * 7 + m) % 13,
				k < 3 ? 1000000 + m * 1000 + c * (m % 9 + 1 + k)
				      : 2300 + (c * 31 + m * 7 + k) % 50);
			snprintf(r->obis, sizeof(r->obis), "%s", codes[k]);
			r->unit = k < 3 ? GW_UNIT_WH : GW_UNIT_V;
		}
	return n;
}

/* Whether every track's last record lies after the one before it along
 * the walk by code (a track without a record in generation gen skipped). */
static int records_by_code(struct gw_batcher *b, int gen)
{
	struct track_walk w;
	struct track *t;
	uint32_t last = 0;
	int n = 0;

	assert_int_equal(batch_walk_begin_by(b, &w, WALK_CODES), 0);
	while ((t = batch_walk_next(&w)) != NULL) {
		if (!t->sp || (t->sp & 1) != (uint32_t)gen)
			continue;
		if (t->sp <= last)
			return 0;
		last = t->sp;
		n++;
	}
	return n == ORD_METERS * ORD_CODES;
}

static void read_in_order(void **state)
{
	static struct gw_reading buf[ORD_METERS * ORD_CODES];
	struct gw_wbuf out = {0};
	int64_t t0 = gw_tz_day_start(day0);
	struct gw_spill *s;
	int seals = 0, passes = 0;

	(void)state;
	struct gw_batcher *b = gw_batcher_new(&params);
	assert_non_null(b);
	assert_int_equal(gw_spill_open(pdir, &s), 0);
	gw_batcher_set_spill(b, s);
	for (int c = 0; c < 4 * 96; c++) {
		struct gw_spill_stats before, after;
		size_t n = ord_cycle(buf, c);
		assert_int_equal(gw_batcher_add(b, buf, n), 0);
		uint64_t size = gw_spill_size(s, b->spl->gen);
		gw_batcher_spill_stats(b, &before);
		int rc = gw_batcher_advance_src(b, t0 + (c + 1) * CYCLE, sealed, &out);
		assert_true(rc >= 0);
		gw_batcher_spill_stats(b, &after);
		if (rc == 1 && c > 96 + 2) {
			/* a seal with a day's records before it (not the
			 * first, whose tracks were all in memory) */
			assert_true(records_by_code(b, b->spl->gen));
			double times = (double)(after.bytes_read - before.bytes_read) /
				       (double)size;
			printf("# seal of cycle %d: read %.2f times the file of %llu "
			       "bytes, %llu reads\n", c, times, (unsigned long long)size,
			       (unsigned long long)(after.reads - before.reads));
			assert_true(times < 2.5);
			seals++;
		} else if (after.writes > before.writes && rc == 0) {
			assert_true(records_by_code(b, b->spl->gen));
			passes++;
		}
	}
	assert_int_equal(seals, 3);
	assert_true(passes >= 10);
	assert_int_equal(gw_batcher_spill_broken(b), 0);
	gw_batcher_free(b);
	free(out.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(spilled_same_bytes),
		cmocka_unit_test(write_fails),
		cmocka_unit_test(seal_write_fails_midway),
		cmocka_unit_test(dir_gone),
		cmocka_unit_test(damaged),
		cmocka_unit_test(chain_damaged),
		cmocka_unit_test(damaged_read_alone),
		cmocka_unit_test(restart),
		cmocka_unit_test(young_tracks),
		cmocka_unit_test(dense_track),
		cmocka_unit_test(track_points),
		cmocka_unit_test(seal_pass_gathered),
		cmocka_unit_test(read_in_order),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
