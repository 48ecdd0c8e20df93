/* SPDX-License-Identifier: MIT */
/*
 * test_journal.c - the write-ahead journal: exact replay of cycles and
 * events, a torn tail cut at every possible byte, a bad CRC, unknown record
 * types skipped, newer versions quarantined, segments per day and pruning;
 * what a power loss leaves (zero-filled tails and segments, at every byte),
 * appends that fail without leaving litter; and the spool's start-up
 * recovery, sealed-day state, size bound and status files on a full disk.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "journal_int.h"
#include "spool.h"
#include "tz.h"

static char top[256], spool[300], jdir[320];

static int setup(void **state)
{
	(void)state;
	snprintf(top, sizeof(top), "/tmp/gwjournal.XXXXXX");
	assert_non_null(mkdtemp(top));
	snprintf(spool, sizeof(spool), "%s/spool", top);
	snprintf(jdir, sizeof(jdir), "%s/journal", spool);
	assert_int_equal(gw_tz_set("Asia/Ho_Chi_Minh"), 0);
	return gw_spool_open(spool);
}

static int teardown(void **state)
{
	char cmd[400];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", top);
	return system(cmd);
}

static int count_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (!d)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

/* The only segment file in the journal (asserts there is exactly one). */
static void only_segment(char *path, size_t cap)
{
	DIR *d = opendir(jdir);
	struct dirent *e;
	int n = 0;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, cap, "%s/%s", jdir, e->d_name);
		n++;
	}
	closedir(d);
	assert_int_equal(n, 1);
}

static void make_cycle(struct gw_reading *r, int n, int64_t ts, int64_t base)
{
	memset(r, 0, sizeof(*r) * (size_t)n);
	for (int i = 0; i < n; i++) {
		snprintf(r[i].meter_id, sizeof(r[i].meter_id), "PE%04d", i / 2);
		snprintf(r[i].obis, sizeof(r[i].obis), i % 2 ? "32.7.0" : "1.8.0");
		r[i].ts_ms = ts + i * 37;
		r[i].value = i % 2 ? 2301 : base + i * 1000003LL;
		r[i].scale = i % 2 ? -1 : 0;
		r[i].unit = i % 2 ? GW_UNIT_V : GW_UNIT_WH;
	}
}

/* The ends of the records of a segment image (its framing read here, not
 * through the reader under test): *n of them into ends[]. Records of a
 * version-2 segment differ in size (the first of a segment spells its
 * series out, the later ones are coded against it). */
static void record_ends(const uint8_t *img, size_t len, size_t *ends, size_t *n,
			size_t max)
{
	size_t at = GW_JOURNAL_HDR;

	*n = 0;
	while (at + 8 <= len && *n < max) {
		size_t l = (size_t)img[at] | (size_t)img[at + 1] << 8 |
			   (size_t)img[at + 2] << 16 | (size_t)img[at + 3] << 24;
		if (l == 0 || at + 8 + l > len)
			break;
		at += 8 + l;
		ends[(*n)++] = at;
	}
}

/* The size of the last record of a whole segment image of k records. */
static size_t last_record(const uint8_t *img, size_t len, size_t k)
{
	size_t ends[64], n;

	record_ends(img, len, ends, &n, 64);
	assert_int_equal(n, k);
	assert_int_equal(ends[n - 1], len);
	return n > 1 ? ends[n - 1] - ends[n - 2] : len - GW_JOURNAL_HDR;
}

struct got {
	struct gw_reading r[4096];
	size_t n;
	unsigned long cycles;
	struct gw_event ev[16];
	int32_t evday[16];
	size_t nev;
};

static int got_cycle(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct got *g = ctx;
	(void)bus;
	assert_true(g->n + n <= 4096);
	memcpy(g->r + g->n, r, n * sizeof(*r));
	g->n += n;
	g->cycles++;
	return 0;
}

static int got_event(void *ctx, const struct gw_event *ev, int32_t day)
{
	struct got *g = ctx;
	assert_true(g->nev < 16);
	g->evday[g->nev] = day;
	g->ev[g->nev++] = *ev;
	return 0;
}

static void clear_journal(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -f '%s'/*", jdir);
	assert_int_equal(system(cmd), 0);
}

/* 2026-03-01 06:00 local (UTC+7) */
#define T0 1772319600000LL

static void replay_exact(void **state)
{
	struct gw_journal *j;
	struct gw_reading r[10];
	struct gw_journal_stats st;
	static struct got g;
	(void)state;

	clear_journal();
	assert_int_equal(gw_journal_open(spool, 2, &j), 0);
	for (int c = 0; c < 20; c++) {
		make_cycle(r, 10, T0 + c * 900000LL, INT64_C(1) << 40);
		r[0].value = -c; /* negative values survive */
		assert_int_equal(gw_journal_append_cycle(j, c % 2, r, 10), 0);
	}
	struct gw_event ev = {.meter_id = "PE0001", .ts_ms = T0 + 5,
			      .kind = GW_EV_OFFLINE, .detail = "after 3 \"failed\" cycles"};
	struct gw_event ev2 = {.meter_id = "PE0002", .obis = "1.8.0",
			       .ts_ms = T0 + 6, .kind = GW_EV_COUNTER_RESET};
	struct gw_event both[2] = {ev, ev2};
	assert_int_equal(gw_journal_append_events(j, both, 2, 20513), 0);
	assert_int_equal(gw_journal_append_cycle(j, 2, r, 10), GW_EINVAL);
	gw_journal_close(j);
	assert_int_equal(count_in(jdir), 3); /* b0, b1, ev */

	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 2, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, got_event, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(st.segments, 3);
	assert_int_equal(st.cycles, 20);
	assert_int_equal(st.readings, 200);
	assert_int_equal(st.torn, 0);
	assert_int_equal(g.n, 200);
	assert_int_equal(g.nev, 2);
	assert_string_equal(g.ev[0].detail, ev.detail);
	assert_int_equal(g.ev[0].ts_ms, ev.ts_ms);
	assert_int_equal(g.ev[0].kind, GW_EV_OFFLINE);
	assert_string_equal(g.ev[1].obis, "1.8.0");
	assert_int_equal(g.evday[1], 20513);
	/* every reading comes back exactly (each bus's cycles in order) */
	int seen = 0;
	for (int c = 0; c < 20; c++) {
		make_cycle(r, 10, T0 + c * 900000LL, INT64_C(1) << 40);
		r[0].value = -c;
		for (size_t k = 0; k < g.n; k += 10)
			if (memcmp(&g.r[k], r, sizeof(r)) == 0)
				seen++;
	}
	assert_int_equal(seen, 20);
}

static void torn_tail_every_byte(void **state)
{
	struct gw_journal *j;
	struct gw_reading r[6];
	char path[700];
	struct stat sb;
	(void)state;

	clear_journal();
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	for (int c = 0; c < 3; c++) {
		make_cycle(r, 6, T0 + c * 900000LL, 1000);
		assert_int_equal(gw_journal_append_cycle(j, 0, r, 6), 0);
	}
	gw_journal_close(j);
	only_segment(path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	FILE *f = fopen(path, "rb");
	size_t full = (size_t)sb.st_size;
	uint8_t *img = malloc(full);
	assert_int_equal(fread(img, 1, full, f), full);
	fclose(f);
	size_t rec = last_record(img, full, 3);

	/* cut anywhere inside the last record: the first two cycles stay,
	 * the file is cut back to them, and a second replay finds it whole */
	for (size_t cut = full - rec; cut < full; cut++) {
		static struct got g;
		struct gw_journal_stats st;
		f = fopen(path, "wb");
		assert_int_equal(fwrite(img, 1, cut, f), cut);
		fclose(f);
		memset(&g, 0, sizeof(g));
		assert_int_equal(gw_journal_open(spool, 1, &j), 0);
		assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
		gw_journal_close(j);
		assert_int_equal(g.cycles, 2);
		assert_int_equal(st.torn, cut == full - rec ? 0 : 1);
		assert_int_equal(stat(path, &sb), 0);
		assert_int_equal((size_t)sb.st_size, full - rec);
		const char *why;
		uint64_t good;
		assert_int_equal(gw_journal_check_file(path, &why, &good), 0);
	}
	/* a flipped bit in the last record: cut there too */
	img[full - 3] ^= 1;
	f = fopen(path, "wb");
	assert_int_equal(fwrite(img, 1, full, f), full);
	fclose(f);
	const char *why;
	uint64_t good;
	assert_int_equal(gw_journal_check_file(path, &why, &good), GW_ECORRUPT);
	assert_string_equal(why, "bad record CRC");
	assert_int_equal(good, full - rec);
	/* a header cut short holds nothing acknowledged: removed */
	f = fopen(path, "wb");
	assert_int_equal(fwrite(img, 1, 5, f), 5);
	fclose(f);
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, NULL, NULL, NULL, NULL), 0);
	gw_journal_close(j);
	assert_int_equal(count_in(jdir), 0);
	free(img);
}

static void unknown_records_and_versions(void **state)
{
	struct gw_journal *j;
	struct gw_reading r[2];
	char path[700], qdir[400];
	static struct got g;
	struct gw_journal_stats st;
	(void)state;

	clear_journal();
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	make_cycle(r, 2, T0, 5);
	assert_int_equal(gw_journal_append_cycle(j, 0, r, 2), 0);
	gw_journal_close(j);
	only_segment(path, sizeof(path));
	/* append a record of a type from the future, with a good CRC */
	uint8_t rec[8 + 5] = {5, 0, 0, 0, 0, 0, 0, 0, 99, 1, 2, 3, 4};
	uint32_t c = gw_crc32(rec + 8, 5);
	for (int i = 0; i < 4; i++)
		rec[4 + i] = (uint8_t)(c >> (8 * i));
	FILE *f = fopen(path, "ab");
	assert_int_equal(fwrite(rec, 1, sizeof(rec), f), sizeof(rec));
	fclose(f);
	/* then one more real cycle by hand-copying the first record */
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(st.skipped, 1);
	assert_int_equal(st.torn, 0);
	assert_int_equal(g.n, 2);
	/* a segment of a newer version is set aside, not cut or replayed */
	f = fopen(path, "r+b");
	fseek(f, 4, SEEK_SET);
	fputc(GW_JOURNAL_VERSION + 1, f);
	fclose(f);
	snprintf(qdir, sizeof(qdir), "%s/quarantine", spool);
	int before = count_in(qdir);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(st.quarantined, 1);
	assert_int_equal(g.n, 0);
	assert_int_equal(count_in(qdir), before + 1);
	assert_int_equal(count_in(jdir), 0);
}

static void segments_per_day_and_prune(void **state)
{
	struct gw_journal *j;
	struct gw_reading r[2];
	int32_t d0 = gw_tz_day_of(T0);
	(void)state;

	clear_journal();
	assert_int_equal(gw_journal_open(spool, 2, &j), 0);
	for (int day = 0; day < 4; day++) {
		make_cycle(r, 2, T0 + day * 86400000LL, 1);
		assert_int_equal(gw_journal_append_cycle(j, 0, r, 2), 0);
		assert_int_equal(gw_journal_append_cycle(j, 1, r, 2), 0);
	}
	/* late data of day 0 goes into the open (day 3) segment */
	make_cycle(r, 2, T0, 1);
	assert_int_equal(gw_journal_append_cycle(j, 0, r, 2), 0);
	assert_int_equal(count_in(jdir), 8);
	assert_true(gw_journal_bytes(spool) > 0);
	assert_int_equal(gw_journal_prune(j, d0 + 2), 4);
	assert_int_equal(count_in(jdir), 4);
	/* appending after a prune of the open segment's day opens a new one */
	assert_int_equal(gw_journal_prune(j, d0 + 10), 4);
	make_cycle(r, 2, T0 + 3 * 86400000LL, 1);
	assert_int_equal(gw_journal_append_cycle(j, 0, r, 2), 0);
	assert_int_equal(count_in(jdir), 1);
	gw_journal_close(j);
}

/* ---- what a power loss leaves ---- */

/* The bytes of path (asserts); *len gets their number. */
static uint8_t *read_all(const char *path, size_t *len)
{
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	uint8_t *p = malloc((size_t)sb.st_size + 1);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	*len = fread(p, 1, (size_t)sb.st_size, f);
	assert_int_equal(*len, (size_t)sb.st_size);
	fclose(f);
	return p;
}

static void write_all_to(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* Three cycles of bus 0 in one segment: its path and image. */
static uint8_t *three_cycles(char *path, size_t cap, size_t *full, size_t *rec)
{
	struct gw_journal *j;
	struct gw_reading r[6];

	clear_journal();
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	for (int c = 0; c < 3; c++) {
		make_cycle(r, 6, T0 + c * 900000LL, 1000);
		assert_int_equal(gw_journal_append_cycle(j, 0, r, 6), 0);
	}
	gw_journal_close(j);
	only_segment(path, cap);
	uint8_t *img = read_all(path, full);
	*rec = last_record(img, *full, 3);
	return img;
}

/* Writes img (len bytes) as the segment, replays, and checks that `cycles`
 * came back, the segment was cut to `cut_to` bytes and reads whole now. */
static void replay_cut(const char *path, const uint8_t *img, size_t len,
		       const char *why, unsigned long cycles, size_t cut_to)
{
	struct gw_journal *j;
	struct gw_journal_stats st;
	static struct got g;
	const char *w;
	uint64_t good;
	struct stat sb;

	write_all_to(path, img, len);
	assert_int_equal(gw_journal_check_file(path, &w, &good), GW_ECORRUPT);
	assert_string_equal(w, why);
	assert_int_equal(good, cut_to);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(g.cycles, cycles);
	assert_int_equal(st.torn, 1);
	assert_int_equal(st.quarantined, 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((size_t)sb.st_size, cut_to);
	assert_int_equal(gw_journal_check_file(path, &w, &good), 0);
}

static void zero_filled_tails(void **state)
{
	char path[700];
	size_t full, rec;
	(void)state;

	uint8_t *img = three_cycles(path, sizeof(path), &full, &rec);
	uint8_t *z = calloc(1, full + 8192);
	/* the file's size reached the disk to the end of its block, the
	 * zeros after the last record were never data */
	memcpy(z, img, full);
	replay_cut(path, z, (full + 4095) / 4096 * 4096, "zero-filled tail", 3, full);
	replay_cut(path, z, full + 8192, "zero-filled tail", 3, full);
	replay_cut(path, z, full + 1, "zero-filled tail", 3, full);
	/* the last record never reached the disk: zeros where it was */
	memset(z + full - rec, 0, rec);
	replay_cut(path, z, full, "zero-filled tail", 2, full - rec);
	/* half of it did (its header is whole): its CRC fails */
	memcpy(z, img, full);
	memset(z + full - rec / 2, 0, rec / 2);
	replay_cut(path, z, full, "bad record CRC", 2, full - rec);
	/* its header's page was lost, a later page of it was written */
	memcpy(z, img, full);
	memset(z + full - rec, 0, 8);
	replay_cut(path, z, full, "empty record", 2, full - rec);
	free(z);
	free(img);
}

static void zero_filled_segments(void **state)
{
	char path[700], zpath[400], epath[400], qdir[400];
	size_t full, rec;
	struct gw_journal *j;
	struct gw_journal_stats st;
	static struct got g;
	(void)state;

	uint8_t *img = three_cycles(path, sizeof(path), &full, &rec);
	free(img);
	/* a segment created, sized and never synced, and one never written */
	uint8_t zeros[4096] = {0};
	snprintf(zpath, sizeof(zpath), "%s/2026-03-01_b0_900.gwj", jdir);
	write_all_to(zpath, zeros, sizeof(zeros));
	snprintf(epath, sizeof(epath), "%s/2026-03-01_ev_901.gwj", jdir);
	write_all_to(epath, zeros, 0);
	const char *why;
	uint64_t good;
	assert_int_equal(gw_journal_check_file(zpath, &why, &good), GW_ECORRUPT);
	assert_string_equal(why, "zero-filled segment");
	assert_int_equal(good, 0);
	snprintf(qdir, sizeof(qdir), "%s/quarantine", spool);
	int before = count_in(qdir);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(g.cycles, 3);
	assert_int_equal(st.torn, 2); /* both removed, nothing set aside */
	assert_int_equal(st.quarantined, 0);
	assert_int_equal(count_in(qdir), before);
	assert_int_equal(count_in(jdir), 1);
	assert_int_equal(access(zpath, F_OK), -1);
	assert_int_equal(access(epath, F_OK), -1);
}

/* Every point where a power loss can cut a segment, followed by no zeros,
 * one, or zeros to the end of the 4 KiB block: the reader finds exactly
 * the records before the cut (run under ASan + UBSan by make check
 * SANITIZE=1: no byte pattern here is undefined behaviour). */
static void every_cut_with_zeros(void **state)
{
	char path[700];
	size_t full, rec;
	(void)state;

	uint8_t *img = three_cycles(path, sizeof(path), &full, &rec);
	uint8_t *buf = calloc(1, full + 4096);
	size_t ends[3], nrec;
	record_ends(img, full, ends, &nrec, 3);
	assert_int_equal(nrec, 3);
	for (size_t cut = 0; cut <= full; cut++) {
		size_t zs[3] = {0, 1, 4096 - cut % 4096};
		for (int k = 0; k < 3; k++) {
			static struct got g;
			const char *why;
			uint64_t good;
			size_t len = cut + zs[k];
			memset(buf, 0, full + 4096);
			memcpy(buf, img, cut);
			memset(&g, 0, sizeof(g));
			int rc = gw_journal_read_buf(buf, len, got_cycle, NULL, &g,
						     &why, &good);
			/* What is whole is what equals the segment up to a
			 * record's end: the header's last three bytes (and a
			 * record's last byte, when it is 0) are zeros, so a
			 * cut just before them is made whole by the zeros. */
			int hdr = len >= GW_JOURNAL_HDR &&
				  memcmp(buf, img, GW_JOURNAL_HDR) == 0;
			size_t whole = 0;
			while (hdr && whole < nrec && ends[whole] <= len &&
			       memcmp(buf, img, ends[whole]) == 0)
				whole++;
			size_t end = hdr ? (whole ? ends[whole - 1] : GW_JOURNAL_HDR) : 0;
			assert_int_equal(g.cycles, whole);
			assert_int_equal(good, end);
			if (hdr && len == end) {
				assert_int_equal(rc, 0);
				assert_string_equal(why, "");
			} else {
				assert_int_equal(rc, GW_ECORRUPT);
				assert_true(why[0] != '\0');
			}
			if (hdr && len > end && cut <= end)
				assert_string_equal(why, "zero-filled tail");
			if (!hdr)
				assert_string_equal(why, cut == 0 && len >= GW_JOURNAL_HDR
							 ? "zero-filled segment"
							 : "truncated header");
		}
	}
	/* and nothing at all */
	static struct got g;
	const char *why;
	uint64_t good;
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_read_buf(NULL, 0, got_cycle, NULL, &g, &why, &good),
			 GW_ECORRUPT);
	assert_string_equal(why, "truncated header");
	free(buf);
	free(img);
}

/* A write that fails (here: past RLIMIT_FSIZE, EFBIG; on a full disk
 * ENOSPC, tests/integration/disk_full.sh) leaves no segment behind when
 * the segment was new, and is cut back off an open segment, which stays
 * in use: no litter, however many cycles fail. */
static void failed_append_no_litter(void **state)
{
	struct gw_journal *j;
	struct gw_reading r[6];
	struct rlimit old, lim;
	char path[700];
	struct stat sb;
	(void)state;

	clear_journal();
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	make_cycle(r, 6, T0, 1000);
	lim.rlim_cur = 4; /* not even a header fits */
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 5; i++)
		assert_int_equal(gw_journal_append_cycle(j, 0, r, 6), GW_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(count_in(jdir), 0);
	assert_int_equal(gw_journal_failures(j), 5);
	assert_int_equal(gw_journal_last_errno(j), EFBIG);
	assert_int_equal(gw_journal_failed_day(j), gw_tz_day_of(T0));
	/* room again: the next cycle is durable */
	assert_int_equal(gw_journal_append_cycle(j, 0, r, 6), 0);
	assert_int_equal(gw_journal_last_errno(j), 0);
	assert_int_equal(count_in(jdir), 1);
	only_segment(path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	off_t one = sb.st_size;
	/* a write cut short on the open segment: cut back, segment kept */
	lim.rlim_cur = (rlim_t)one + 10;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	make_cycle(r, 6, T0 + 900000LL, 5000);
	assert_int_equal(gw_journal_append_cycle(j, 0, r, 6), GW_EIO);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, one);
	/* the next cycle is not coded against the one that failed (the
	 * reader never sees that one): it comes back exactly */
	struct gw_reading second[6];
	make_cycle(second, 6, T0 + 900000LL + 7, 1000);
	assert_int_equal(gw_journal_append_cycle(j, 0, second, 6), 0);
	assert_int_equal(count_in(jdir), 1);
	assert_int_equal(gw_journal_failures(j), 6);
	gw_journal_close(j);
	signal(SIGXFSZ, SIG_DFL);
	/* the two durable cycles come back, nothing torn */
	static struct got g;
	struct gw_journal_stats st;
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(g.cycles, 2);
	assert_int_equal(st.torn, 0);
	assert_memory_equal(g.r + 6, second, sizeof(second));
}

/* ---- packed cycles (segment version 2) ---- */

static uint64_t seed = 88172645463325252ULL;

static uint64_t next_rand(void)
{
	seed ^= seed << 13;
	seed ^= seed >> 7;
	seed ^= seed << 17;
	return seed;
}

/* A cycle of up to 60 readings drawn from 12 meters x 4 registers, in
 * the order of the last cycle or not, some missing, some twice, meters
 * coming and going, extreme values and times, attributes changing. */
static size_t random_cycle(struct gw_reading *r, int c, int64_t t)
{
	static const char *obis[4] = {"1.8.0", "2.8.0", "32.7.0", "1-0:99.97.0*255"};
	size_t n = 0;
	int shuffle = c % 7 == 3;

	for (int m = 0; m < 12; m++) {
		if (next_rand() % 10 == 0 || (m >= 10 && c < 20))
			continue; /* did not answer; two meters added later */
		for (int k = 0; k < 4 && n < 60; k++) {
			struct gw_reading *x = &r[n++];
			memset(x, 0, sizeof(*x));
			if (m == 11)
				memset(x->meter_id, 'M', GW_ID_MAX - 1); /* longest id */
			else
				snprintf(x->meter_id, GW_ID_MAX, "PE%04d", m * 7 + 1);
			snprintf(x->obis, GW_OBIS_MAX, "%s", obis[k]);
			x->ts_ms = t + m * 210 + (int64_t)(next_rand() % 13);
			x->value = (int64_t)(c * 1000 + m * 17 + k);
			x->unit = (uint8_t)(k == 2 ? GW_UNIT_V : GW_UNIT_WH);
			x->scale = (int8_t)(k == 2 ? -1 : 0);
			uint64_t e = next_rand() % 40;
			if (e == 0)
				x->value = INT64_MIN;
			else if (e == 1)
				x->value = INT64_MAX;
			else if (e == 2) /* a clock 35 years off (and back) */
				x->ts_ms = t - (INT64_C(1) << 40);
			else if (e == 3)
				x->status = GW_RS_PROFILE;
			else if (e == 4)
				x->scale = -128, x->unit = GW_UNIT_COUNT_ - 1;
			else if (e == 5 && n > 1)
				*x = x[-1]; /* the same register twice */
		}
	}
	if (shuffle)
		for (size_t i = n; i > 1; i--) {
			size_t k = (size_t)(next_rand() % i);
			struct gw_reading tmp = r[i - 1];
			r[i - 1] = r[k];
			r[k] = tmp;
		}
	return n;
}

/* Whatever the cycles hold, every reading comes back exactly, over a day
 * change (a new segment, started afresh) and across two buses. */
static void packed_round_trip(void **state)
{
	static struct got g;
	static struct gw_reading want[4096];
	struct gw_reading r[64];
	struct gw_journal *j;
	struct gw_journal_stats st;
	size_t nwant = 0;
	(void)state;

	clear_journal();
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	for (int c = 0; c < 60; c++) {
		/* a day's last hour, then the next day's first */
		int64_t t = T0 + 17 * 3600000LL + c * 120000LL;
		size_t n = random_cycle(r, c, t);
		if (n == 0)
			continue;
		assert_int_equal(gw_journal_append_cycle(j, 0, r, n), 0);
		assert_true(nwant + n <= 4096);
		memcpy(want + nwant, r, n * sizeof(*r));
		nwant += n;
	}
	gw_journal_close(j);
	assert_true(count_in(jdir) >= 2); /* the day changed */
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(st.torn, 0);
	assert_int_equal(g.n, nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_memory_equal(&g.r[i], &want[i], sizeof(want[i]));
}

/* A segment a version-1 gateway left behind is replayed with the new
 * ones: an upgraded gateway loses nothing of its open days. */
static void version1_segments_replay(void **state)
{
	struct gw_reading r[6];
	struct gw_wbuf b = {0};
	static struct got g;
	struct gw_journal *j;
	struct gw_journal_stats st;
	char path[400];
	(void)state;

	clear_journal();
	gw_wbuf_put(&b, GW_JOURNAL_MAGIC, 4);
	gw_wbuf_le(&b, GW_JOURNAL_V1, 2);
	gw_wbuf_le(&b, 0, 2);
	for (int c = 0; c < 2; c++) {
		size_t at = b.n;
		gw_wbuf_le(&b, 0, 8);
		make_cycle(r, 6, T0 + c * 900000LL, 1000);
		assert_int_equal(gw_journal_v1_cycle(0, r, 6, &b), 0);
		gw_le_put(b.p + at, b.n - at - 8, 4);
		gw_le_put(b.p + at + 4, gw_crc32(b.p + at + 8, b.n - at - 8), 4);
	}
	snprintf(path, sizeof(path), "%s/2026-03-01_b0_7.gwj", jdir);
	write_all_to(path, b.p, b.n);
	free(b.p);
	/* the upgraded gateway goes on in a segment of its own */
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, NULL, NULL, NULL, &st), 0);
	assert_int_equal(st.readings, 12);
	make_cycle(r, 6, T0 + 2 * 900000LL, 1000);
	assert_int_equal(gw_journal_append_cycle(j, 0, r, 6), 0);
	gw_journal_close(j);
	assert_int_equal(count_in(jdir), 2);
	memset(&g, 0, sizeof(g));
	assert_int_equal(gw_journal_open(spool, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, got_cycle, NULL, &g, &st), 0);
	gw_journal_close(j);
	assert_int_equal(st.torn, 0);
	assert_int_equal(g.cycles, 3);
	for (int c = 0; c < 3; c++) {
		make_cycle(r, 6, T0 + c * 900000LL, 1000);
		assert_memory_equal(g.r + 6 * c, r, sizeof(r));
	}
}

/* The cycles of packed_bytes_and_series: 200 meters (a bus), their
 * values distinct per series so that a reading coded against another
 * series' state could not come back right. Even meters have three
 * registers, odd ones two until cycle 10, when a third (32.7.0) comes
 * after them: a meter whose series are not next to each other. Every
 * fifth cycle the meters answer in reverse; some do not answer; meter 7's
 * id is an OBIS code the others have, meter 8's the prefix of meter 80's. */
static size_t series_cycle(struct gw_reading *r, int c, int64_t t)
{
	static const char *obis[3] = {"1.8.0", "2.8.0", "32.7.0"};
	size_t n = 0;

	for (int i = 0; i < 200; i++) {
		int m = c % 5 == 4 ? 199 - i : i;
		if ((c * 7 + m) % 23 == 0)
			continue; /* did not answer */
		int nk = m % 2 == 0 || c >= 10 ? 3 : 2;
		for (int k = 0; k < nk; k++) {
			struct gw_reading *x = &r[n++];
			memset(x, 0, sizeof(*x));
			if (m == 7)
				snprintf(x->meter_id, GW_ID_MAX, "1.8.0");
			else if (m == 8)
				snprintf(x->meter_id, GW_ID_MAX, "M0");
			else
				snprintf(x->meter_id, GW_ID_MAX, "M%d", m);
			snprintf(x->obis, GW_OBIS_MAX, "%s", obis[k]);
			x->ts_ms = t + m * 150 + (c * m) % 7;
			x->value = (int64_t)(m + 1) * 1000003 + k * 7919 +
				   (int64_t)c * (m + k + 1);
			x->unit = (uint8_t)(k == 2 ? GW_UNIT_V : GW_UNIT_WH);
			x->scale = (int8_t)(k == 2 ? -1 : 0);
			x->status = (uint8_t)(c == 17 && m == 3 ? GW_RS_PROFILE : 0);
		}
	}
	return n;
}

/* The 30 cycles of series_cycle, 15 minutes apart, the packed-bytes
 * tests code: cycle c into all[c], cyc[c] pointing at it, nall[c] its
 * readings. */
static void series_cycles(struct gw_reading all[30][800], struct gw_reading *cyc[30],
			  size_t nall[30])
{
	for (int c = 0; c < 30; c++) {
		nall[c] = series_cycle(all[c], c, T0 + c * 900000LL);
		cyc[c] = all[c];
	}
}

/* Codes the cycles cyc[0..ncyc) of bus 3 with one writer (a new segment
 * at cycle `reset`), reads them back with one reader and asserts that
 * every reading comes back as it went in; the records' length and CRC in
 * *len and *crc. */
static void code_and_read(struct gw_reading **cyc, const size_t *n, int ncyc,
			  int reset, size_t *len, uint32_t *crc)
{
	size_t *at = calloc((size_t)ncyc + 1, sizeof(*at));
	struct gw_jcodec w = {.fresh = 1}, rd = {.fresh = 1};
	struct gw_jscan sc = {0};
	struct gw_wbuf b = {0};

	assert_non_null(at);
	for (int c = 0; c < ncyc; c++) {
		if (c == reset)
			gw_jcodec_reset(&w); /* a new segment */
		at[c] = b.n;
		assert_int_equal(gw_jcodec_encode(&w, 3, cyc[c], n[c], &b), 0);
	}
	at[ncyc] = b.n;
	assert_false(b.oom);
	for (int c = 0; c < ncyc; c++) {
		int bus = -1;
		size_t got = 0;
		assert_int_equal(gw_jcodec_decode(&rd, b.p + at[c], at[c + 1] - at[c],
						  &sc, &bus, &got), 0);
		assert_int_equal(bus, 3);
		assert_int_equal(got, n[c]);
		for (size_t i = 0; i < got; i++)
			assert_memory_equal(&sc.rbuf[i], &cyc[c][i], sizeof(cyc[c][i]));
	}
	*len = b.n;
	*crc = gw_crc32(b.p, b.n);
	gw_jcodec_free(&w);
	gw_jcodec_free(&rd);
	free(sc.rbuf);
	free(b.p);
	free(at);
}

/* The tests that pin the records' bytes (length and CRC) pin those the
 * writer made when it deflated at level 6 (compress2's): they run with
 * the writers' streams set to level 6, the records' coding being what
 * they check; packed_bytes_default checks the level gatewayd writes. */
static int level6(void **state)
{
	(void)state;
	return gw_jcodec_set_deflate(6, Z_DEFAULT_STRATEGY);
}

static int level_default(void **state)
{
	(void)state;
	return gw_jcodec_set_deflate(GW_JOURNAL_ZLEVEL, GW_JOURNAL_ZSTRATEGY);
}

/* The packed records of a multi-cycle segment (and of a fresh one after
 * it) are the bytes this codec has always written: their length and CRC
 * are those of the records written at 2127eaa, before the writer's state
 * was made smaller. And every reading comes back as it went in: a writer
 * that took one series for another (the meter with an OBIS code for its
 * id, a register added later, meters out of order) would code it against
 * the other's value and time. */
static void packed_bytes_and_series(void **state)
{
	static struct gw_reading all[30][800];
	struct gw_reading *cyc[30];
	size_t nall[30], len;
	uint32_t crc;
	(void)state;

	series_cycles(all, cyc, nall);
	code_and_read(cyc, nall, 30, 20, &len, &crc);
	assert_int_equal(len, 39980);
	assert_int_equal(crc, 0x32751a6fu);
}

/* A writer of its own coding packed_bytes_and_series' cycles, on a thread
 * of its own: no cmocka assertion off the main thread, so it returns
 * the records' length and CRC (0 and 0 when a call failed). */
struct coder_run {
	struct gw_reading **cyc;
	const size_t *n;
	size_t len;
	uint32_t crc;
};

static void *coder_thread(void *arg)
{
	struct coder_run *r = arg;
	struct gw_jcodec w = {.fresh = 1};
	struct gw_wbuf b = {0};
	int ok = 1;

	for (int round = 0; round < 4 && ok; round++) {
		b.n = 0;
		gw_jcodec_reset(&w);
		w.fresh = 1;
		for (int c = 0; c < 30 && ok; c++) {
			if (c == 20)
				gw_jcodec_reset(&w);
			ok = gw_jcodec_encode(&w, 3, r->cyc[c], r->n[c], &b) == 0;
		}
	}
	r->len = ok && !b.oom ? b.n : 0;
	r->crc = ok && !b.oom ? gw_crc32(b.p, b.n) : 0;
	gw_jcodec_free(&w);
	free(b.p);
	return NULL;
}

/* What gatewayd writes: the deflated body of each record is what one
 * deflate of the whole body at GW_JOURNAL_ZLEVEL with Z_RLE makes (the
 * shared streams, used at level 6 by the tests before and set back, give
 * the bytes of a stream made for it), every reading reads back, and the
 * records are those of the first writer at Z_RLE (length and CRC). A
 * writer still at level 6 gives other bytes (39,980), and so does one
 * that took a refused level. */
static void packed_bytes_default(void **state)
{
	static struct gw_reading all[30][800];
	struct gw_reading *cyc[30];
	size_t nall[30], len;
	uint32_t crc;
	int deflated = 0;
	(void)state;

	/* what zlib does not have is refused, the level left as it is */
	assert_int_equal(gw_jcodec_set_deflate(0, Z_RLE), GW_EINVAL);
	assert_int_equal(gw_jcodec_set_deflate(10, Z_RLE), GW_EINVAL);
	assert_int_equal(gw_jcodec_set_deflate(6, 99), GW_EINVAL);
	series_cycles(all, cyc, nall);
	code_and_read(cyc, nall, 30, 20, &len, &crc);
	assert_int_equal(len, 49371);
	assert_int_equal(crc, 0x9d50c590u);

	struct gw_jcodec w = {.fresh = 1};
	for (int c = 0; c < 30; c++) {
		struct gw_wbuf b = {0};
		assert_int_equal(gw_jcodec_encode(&w, 3, cyc[c], nall[c], &b), 0);
		assert_false(b.oom);
		struct gw_rbuf r = {.p = b.p, .n = b.n};
		assert_int_equal(gw_rbuf_le(&r, 1), GW_JREC_PACKED);
		uint8_t flags = (uint8_t)gw_rbuf_le(&r, 1);
		gw_rbuf_varint(&r); /* bus */
		gw_rbuf_varint(&r); /* readings */
		if (flags & 2) {
			uLongf raw = (uLongf)gw_rbuf_varint(&r);
			assert_false(r.bad);
			const uint8_t *z = b.p + r.pos;
			size_t zn = b.n - r.pos;
			uint8_t *body = malloc(raw), *again = malloc(compressBound(raw));
			uLongf got = raw;
			assert_int_equal(uncompress(body, &got, z, (uLong)zn), Z_OK);
			assert_int_equal(got, raw);
			z_stream s = {0};
			assert_int_equal(deflateInit2(&s, GW_JOURNAL_ZLEVEL, Z_DEFLATED, 15, 8,
						      Z_RLE), Z_OK);
			s.next_in = body;
			s.avail_in = (uInt)raw;
			s.next_out = again;
			s.avail_out = (uInt)compressBound(raw);
			assert_int_equal(deflate(&s, Z_FINISH), Z_STREAM_END);
			assert_int_equal(s.total_out, zn);
			assert_memory_equal(again, z, zn);
			deflateEnd(&s);
			free(body);
			free(again);
			deflated++;
		}
		free(b.p);
	}
	gw_jcodec_free(&w);
	assert_true(deflated > 20);
}

/* The writers of many buses at once (a poll worker a bus) share a few
 * deflate streams: eight writers coding on eight threads, each four
 * times, write the very records one writer alone writes. A stream handed
 * to two writers at once, or not reset between records, gives other
 * bytes or fails. */
static void packed_bytes_many_writers(void **state)
{
	static struct gw_reading all[30][800];
	struct gw_reading *cyc[30];
	size_t nall[30];
	struct coder_run run[8];
	pthread_t th[8];
	(void)state;

	series_cycles(all, cyc, nall);
	for (int i = 0; i < 8; i++) {
		run[i] = (struct coder_run){.cyc = cyc, .n = nall};
		assert_int_equal(pthread_create(&th[i], NULL, coder_thread, &run[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(run[i].len, 39980);
		assert_int_equal(run[i].crc, 0x32751a6fu);
	}
}

/* Cycle c of far_cycle(): 30 meters of 10 registers polled every 15
 * minutes, then every 3 hours, then daily, the clock stepped back 4 hours
 * once; a register of some meters hours behind its meter's others (a load
 * profile's value), the registers of others each stamped minutes to hours
 * apart, one time anywhere in int64; then a meter of 70,000 registers
 * (more OBIS codes than 16 bits number), twice. */
#define FAR_CYCLES 14
#define FAR_WIDE 70000
static size_t far_cycle(struct gw_reading *r, int c)
{
	int64_t t = T0 + (c < 4 ? c * 900000LL
				: c < 8 ? 3 * 900000LL + (c - 3) * 10800000LL
					: 25 * 3600000LL + (c - 7) * 86400000LL);
	size_t n = 0;

	if (c >= 6)
		t -= 4 * 3600000LL;
	for (int m = 0; m < 30 && c < 12; m++)
		for (int k = 0; k < 10; k++) {
			struct gw_reading *x = &r[n++];
			int64_t ts = t + m * 200;
			memset(x, 0, sizeof(*x));
			snprintf(x->meter_id, GW_ID_MAX, "F%d", m);
			snprintf(x->obis, GW_OBIS_MAX, "%d.8.0", k + 1);
			if (m % 5 == 1 && k == 0)
				ts -= 5 * 3600000LL;
			else if (m % 5 == 2)
				ts += (int64_t)k * 1500000 * (c % 2 ? 1 : -1);
			else if (m % 5 == 3 && c == 9)
				ts = gw_to_i64((uint64_t)(m + k) * 0x9E3779B97F4A7C15ull);
			x->ts_ms = ts;
			x->value = (int64_t)m * 1000 + k + c * (k + 1);
			x->unit = GW_UNIT_WH;
		}
	for (int k = 0; k < FAR_WIDE && c >= 12; k++) {
		struct gw_reading *x = &r[n++];
		memset(x, 0, sizeof(*x));
		snprintf(x->meter_id, GW_ID_MAX, "W");
		snprintf(x->obis, GW_OBIS_MAX, "9.%d.%d", k / 1000, k % 1000);
		x->ts_ms = t + (k % 3 ? 0 : 9000000) + c;
		x->value = k;
		x->unit = GW_UNIT_V;
	}
	return n;
}

/* Times far apart and more OBIS codes than 16 bits number, which the
 * writer's state keeps out of its small series (in escape slots): the
 * same bytes as before it was made smaller (those written at cd20978),
 * every reading back as it went in. */
static void packed_far_times_and_wide(void **state)
{
	struct gw_reading *cyc[FAR_CYCLES];
	size_t n[FAR_CYCLES], len;
	uint32_t crc;
	(void)state;

	for (int c = 0; c < FAR_CYCLES; c++) {
		cyc[c] = malloc(FAR_WIDE * sizeof(**cyc));
		assert_non_null(cyc[c]);
		n[c] = far_cycle(cyc[c], c);
	}
	code_and_read(cyc, n, FAR_CYCLES, -1, &len, &crc);
	assert_int_equal(len, 256184);
	assert_int_equal(crc, 0x44a4b69cu);
	for (int c = 0; c < FAR_CYCLES; c++)
		free(cyc[c]);
}

/* ---- the writer's small state: values, layouts and escapes ---- */

/* A writer and a reader side by side: each record is read back as soon
 * as it is written and must give every reading as it went in; the
 * records are kept for their length and CRC. */
struct wpair {
	struct gw_jcodec w, rd;
	struct gw_jscan sc;
	struct gw_wbuf all;
};

static void put_reading(struct gw_reading *x, const char *meter,
			const char *obis, int64_t ts, int64_t value,
			int8_t scale, uint8_t unit, uint8_t status)
{
	memset(x, 0, sizeof(*x));
	snprintf(x->meter_id, GW_ID_MAX, "%s", meter);
	snprintf(x->obis, GW_OBIS_MAX, "%s", obis);
	x->ts_ms = ts;
	x->value = value;
	x->scale = scale;
	x->unit = unit;
	x->status = status;
}

static void wpair_code(struct wpair *p, const struct gw_reading *r, size_t n)
{
	struct gw_wbuf b = {0};
	int bus = -1;
	size_t got = 0;

	assert_int_equal(gw_jcodec_encode(&p->w, 3, r, n, &b), 0);
	assert_false(b.oom);
	assert_int_equal(gw_jcodec_decode(&p->rd, b.p, b.n, &p->sc, &bus, &got), 0);
	assert_int_equal(bus, 3);
	assert_int_equal(got, n);
	for (size_t i = 0; i < n; i++)
		assert_memory_equal(&p->sc.rbuf[i], &r[i], sizeof(r[i]));
	gw_wbuf_put(&p->all, b.p, b.n);
	free(b.p);
}

/* Frees the pair and asserts the records' length and CRC: those of the
 * records the writer wrote before its series were 8 bytes (6273bca). */
static void wpair_end(struct wpair *p, size_t len, uint32_t crc)
{
	size_t n = p->all.n;
	uint32_t got = gw_crc32(p->all.p, p->all.n);

	assert_false(p->all.oom);
	gw_jcodec_free(&p->w);
	gw_jcodec_free(&p->rd);
	free(p->sc.rbuf);
	free(p->all.p);
	assert_int_equal(n, len);
	assert_int_equal(got, crc);
}

/* Values beyond 32 bits, of both signs and at int64's ends, next to ones
 * that fit: the writer keeps 32 bits of a value and puts one that does
 * not fit in an escape slot (given back when the value fits again). A
 * writer that kept the low 32 bits would code the next reading against
 * another value, and the reader would read it wrong. */
static void packed_values_beyond_32_bits(void **state)
{
	static const int64_t v[][6] = {
		{INT64_MAX, INT32_MAX - 1LL, INT32_MIN + 1LL, -(1LL << 40), 5, 230},
		{INT64_MIN, INT32_MAX, INT32_MIN, -(1LL << 40) - 1, 5, 231},
		{INT64_MAX, INT32_MAX + 1LL, INT32_MIN - 1LL, 1000, 1LL << 50, 232},
		{INT64_MIN + 1, INT32_MAX + 1LL, INT32_MIN - 1LL, 1001, (1LL << 50) + 7, 233},
		{-1, INT32_MAX, INT32_MIN, 1002, 6, 234},
		{INT64_MIN, INT64_MAX, INT32_MIN, 1003, INT64_MIN, 235},
		{7, -7, 0, 1004, 8, 236},
	};
	static const unsigned wide[] = {2, 2, 4, 4, 0, 3, 0}; /* a meter's */
	struct wpair p = {.w = {.fresh = 1}, .rd = {.fresh = 1}};
	struct gw_reading r[24];
	char obis[16];
	(void)state;

	for (int c = 0; c < 7; c++) {
		size_t n = 0;
		for (int m = 0; m < 2; m++)
			for (int k = 0; k < 6; k++) {
				snprintf(obis, sizeof(obis), "%d.8.0", k + 1);
				/* the second meter's values negated (~: INT64_MIN too) */
				put_reading(&r[n++], m ? "V2" : "V1", obis,
					    T0 + c * 900000LL + m * 150,
					    m ? ~v[c][k] : v[c][k], 0, GW_UNIT_WH, 0);
			}
		wpair_code(&p, r, n);
		assert_int_equal(p.w.elive, 2 * wide[c]);
	}
	assert_null(p.w.esc); /* all given back, the array freed */
	wpair_end(&p, 393, 0x3341fc98u);
}

/* A series whose scale or unit changes in the middle of a segment (and
 * changes back, or stays): its layout is not changed (other series may
 * share it), the series goes to an escape slot while it differs. A
 * writer that took the new unit for the layout's, or forgot it, would
 * leave out the attributes of a later reading that changes them back. */
static void packed_scale_unit_change(void **state)
{
	struct wpair p = {.w = {.fresh = 1}, .rd = {.fresh = 1}};
	struct gw_reading r[8];
	static const unsigned esc[] = {0, 0, 1, 2, 2, 1, 1, 1};
	(void)state;

	for (int c = 0; c < 8; c++) {
		int64_t t = T0 + c * 900000LL;
		put_reading(&r[0], "A1", "1.8.0", t, 1000 + c, 0, GW_UNIT_WH, 0);
		/* its unit from cycle 2 to 4, back from 5 */
		put_reading(&r[1], "A1", "3.8.0", t, 2000 + c, 0,
			    c >= 2 && c < 5 ? GW_UNIT_VARH : GW_UNIT_WH, 0);
		/* its scale from cycle 3 on, to stay */
		put_reading(&r[2], "A1", "32.7.0", t, 23000 - c,
			    c >= 3 ? -1 : -2, GW_UNIT_V, 0);
		put_reading(&r[3], "A1", "31.7.0", t, 512, -2, GW_UNIT_A,
			    (uint8_t)(c % 3 == 1 ? GW_RS_PROFILE : 0));
		put_reading(&r[4], "A2", "1.8.0", t + 90, 7000 + c, 0, GW_UNIT_WH, 0);
		put_reading(&r[5], "A2", "3.8.0", t + 90, 8000 + c, 0, GW_UNIT_WH, 0);
		put_reading(&r[6], "A2", "32.7.0", t + 90, 23100, -2, GW_UNIT_V, 0);
		put_reading(&r[7], "A2", "31.7.0", t + 90, 513, -2, GW_UNIT_A, 0);
		wpair_code(&p, r, 8);
		assert_int_equal(p.w.elive, esc[c]);
		assert_int_equal(p.w.llive, 1); /* A1 and A2: one layout */
	}
	wpair_end(&p, 266, 0xaf92f2ddu);
}

/* The meters of one profile share one layout; one of them changing does
 * not change the others': a register's unit (P2's in cycle 2, when P3
 * does not answer, P1's to the same in cycle 3: a shared layout changed
 * by P2 would make the writer leave out P1's change), a register added
 * to the last meter (its layout copied first, the others keeping theirs;
 * P1's own, added later, in a run of its own), a meter of another
 * profile (a scale of its own) beside them; and a new segment, whose
 * layouts start afresh (none of the last segment's left). */
static void packed_shared_layouts(void **state)
{
	static const char *const obis[] = {"1.8.0", "2.8.0", "32.7.0", "31.7.0",
					   "14.7.0"};
	struct wpair p = {.w = {.fresh = 1}, .rd = {.fresh = 1}};
	struct gw_reading r[32];
	char id[8];
	(void)state;

	for (int c = 0; c < 10; c++) {
		size_t n = 0;
		int64_t t = T0 + c * 900000LL;
		int cc = c < 9 ? c : 8; /* cycle 9: cycle 8's meters again */
		if (c == 9) {
			/* a new segment: no layout of the last one left */
			gw_jcodec_reset(&p.w);
			assert_int_equal(p.w.llive, 0);
			assert_int_equal(p.w.nlay, 0);
			assert_null(p.w.open);
		}
		/* Q1 first, P1, P2, P3 of one profile; P3 last */
		for (int m = 0; m < 4; m++) {
			if (m == 3 && cc == 2)
				continue; /* did not answer */
			snprintf(id, sizeof(id), m ? "P%d" : "Q1", m);
			for (int k = 0; k < 5; k++) {
				uint8_t unit = k < 2 ? GW_UNIT_WH : k == 4 ? GW_UNIT_HZ
					       : k == 2 ? GW_UNIT_V : GW_UNIT_A;
				if (k == 3 && ((m == 2 && cc >= 2) || (m == 1 && cc >= 3)))
					unit = GW_UNIT_W;
				put_reading(&r[n++], id, obis[k], t + m * 120,
					    (int64_t)m * 100000 + k * 1000 + c,
					    (int8_t)(m == 0 && k == 2 ? -1 : k < 2 ? 0 : -2),
					    unit, 0);
			}
			if ((m == 3 && cc >= 5) || (m == 1 && cc >= 6))
				put_reading(&r[n++], id, "99.9.9", t + m * 120, 42 + c, 0,
					    GW_UNIT_NONE, 0);
		}
		wpair_code(&p, r, n);
		if (c == 0) {
			assert_int_equal(p.w.nr, 4);
			assert_int_equal(p.w.llive, 2); /* Q1's, the P's */
			assert_int_not_equal(p.w.run[0].layout, p.w.run[1].layout);
			assert_int_equal(p.w.run[1].layout, p.w.run[2].layout);
			assert_int_equal(p.w.run[2].layout, p.w.run[3].layout);
		}
		if (c == 5) { /* P3's grown layout of its own */
			assert_int_equal(p.w.llive, 3);
			assert_int_equal(p.w.run[1].layout, p.w.run[2].layout);
			assert_int_not_equal(p.w.run[2].layout, p.w.run[3].layout);
		}
		if (c == 6) /* P1's 99.9.9 in a run of its own */
			assert_int_equal(p.w.nr, 5);
		/* P2's changed unit from cycle 2, P1's from 3 */
		assert_int_equal(p.w.elive, c == 9 ? 0 : c >= 3 ? 2 : c >= 2 ? 1 : 0);
	}
	/* the new segment's: Q1's, P1's (a unit changed, 99.9.9), P2's (a
	 * unit changed), P3's (99.9.9); their units their layouts' */
	assert_int_equal(p.w.nr, 4);
	assert_int_equal(p.w.llive, 4);
	wpair_end(&p, 789, 0xf204b193u);
}

/* Many series in escape slots at once, for every reason (a value beyond
 * 32 bits, a unit not their layout's, a time hours from their meter's
 * others), taken and given back cycle after cycle: every reading back as
 * it went in, the slots held exactly those of the series that need one,
 * all given back when none does. */
#define ESC_METERS 150
#define ESC_REGS 8
static int esc_wide(int m, int k, int c)
{
	return c < 9 && (m * ESC_REGS + k + c) % 5 == 0;
}

static int esc_unit(int m, int k, int c)
{
	return c > 0 && c < 9 && (m + 3 * k + c) % 7 == 0;
}

static void packed_many_escapes(void **state)
{
	static struct gw_reading r[ESC_METERS * ESC_REGS];
	struct wpair p = {.w = {.fresh = 1}, .rd = {.fresh = 1}};
	char id[16], obis[16];
	(void)state;

	for (int c = 0; c < 10; c++) {
		size_t n = 0;
		unsigned want = 0;
		int64_t t = T0 + c * 900000LL;
		for (int m = 0; m < ESC_METERS; m++) {
			snprintf(id, sizeof(id), "E%d", m);
			for (int k = 0; k < ESC_REGS; k++) {
				int64_t v = (int64_t)m * 100 + k + c;
				if (esc_wide(m, k, c))
					v = (k % 2 ? -1 : 1) * ((1LL << 33) * (m + 1) + c);
				int64_t ts = t + m * 100;
				/* cycles 4-5: a register of every fourth
				 * meter hours behind its meter's others */
				if (c >= 4 && c < 6 && m % 4 == 0 && k == 7)
					ts -= 3 * 3600000LL;
				put_reading(&r[n++], id, (snprintf(obis, sizeof(obis),
								  "%d.8.0", k + 1), obis),
					    ts, v, 0,
					    esc_unit(m, k, c) ? GW_UNIT_VARH : GW_UNIT_WH, 0);
				want += esc_wide(m, k, c) || esc_unit(m, k, c);
			}
		}
		wpair_code(&p, r, n);
		if (c < 4 || c >= 6) /* no time far from its meter's others */
			assert_int_equal(p.w.elive, want);
		else
			assert_true(p.w.elive > want);
		assert_true(want > 0 || c == 9);
	}
	assert_int_equal(p.w.elive, 0);
	assert_null(p.w.esc);
	assert_int_equal(p.w.llive, 1);
	wpair_end(&p, 25755, 0xb39977e9u);
}

/* ---- spool: recovery, sealed-day state, size bound ---- */

static struct gw_batch *day_batch(int32_t day, int meters)
{
	struct gw_batch *b = calloc(1, sizeof(*b));
	snprintf(b->gateway_id, sizeof(b->gateway_id), "gw-1");
	snprintf(b->timezone, sizeof(b->timezone), "Asia/Ho_Chi_Minh");
	b->day = day;
	b->n_days = (size_t)meters;
	b->days = calloc((size_t)meters, sizeof(*b->days));
	b->n_series = (size_t)meters;
	b->series = calloc((size_t)meters, sizeof(*b->series));
	for (int m = 0; m < meters; m++) {
		snprintf(b->days[m].meter_id, GW_ID_MAX, "PE%04d", m);
		snprintf(b->days[m].obis, GW_OBIS_MAX, "1.8.0");
		b->days[m].unit = GW_UNIT_WH;
		b->days[m].consumption = 1000 + m;
		b->days[m].end_value = 1000 + m;
		struct gw_series *s = &b->series[m];
		snprintf(s->meter_id, GW_ID_MAX, "PE%04d", m);
		snprintf(s->obis, GW_OBIS_MAX, "32.7.0");
		s->unit = GW_UNIT_V;
		s->n = 96;
		s->ts_ms = malloc(96 * sizeof(int64_t));
		s->value = malloc(96 * sizeof(int64_t));
		for (int k = 0; k < 96; k++) {
			s->ts_ms[k] = gw_tz_day_start(day) + k * 900000LL + (k * 7919 % 1000);
			s->value[k] = 2200 + (k * 104729 + m * 31) % 200;
		}
	}
	return b;
}

static void clear_spool(void)
{
	char cmd[400];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'/*", spool);
	assert_int_equal(system(cmd), 0);
	assert_int_equal(gw_spool_open(spool), 0);
}

static void recover_and_state(void **state)
{
	char path[700];
	struct gw_spool_recovery rec;
	int32_t next;
	int32_t d0 = gw_tz_day_of(T0);
	(void)state;

	clear_spool();
	assert_int_equal(gw_spool_next_day(spool, "gw-1", &next), 0);
	assert_int_equal(next, INT32_MIN);
	for (int i = 0; i < 3; i++) {
		struct gw_batch *b = day_batch(d0 + i, 3);
		assert_int_equal(gw_spool_write(spool, b), 0);
		gw_batch_free(b);
	}
	assert_int_equal(gw_spool_next_day(spool, "gw-1", &next), 0);
	assert_int_equal(next, d0 + 3);
	/* another gateway's files do not count */
	assert_int_equal(gw_spool_next_day(spool, "gw", &next), 0);
	assert_int_equal(next, INT32_MIN);
	/* the state file counts, the larger one wins */
	assert_int_equal(gw_spool_state_write(spool, d0 + 5), 0);
	assert_int_equal(gw_spool_next_day(spool, "gw-1", &next), 0);
	assert_int_equal(next, d0 + 5);
	assert_int_equal(gw_spool_state_write(spool, d0 + 1), 0);
	assert_int_equal(gw_spool_next_day(spool, "gw-1", &next), 0);
	assert_int_equal(next, d0 + 3);

	/* damage one ready batch, leave a half-written file in tmp/ */
	char **names;
	int n = gw_spool_list(spool, "ready", &names);
	assert_int_equal(n, 3);
	snprintf(path, sizeof(path), "%s/ready/%s", spool, names[1]);
	assert_int_equal(truncate(path, 100), 0);
	gw_spool_list_free(names, n);
	snprintf(path, sizeof(path), "%s/tmp/gw-1_x.gwb", spool);
	FILE *f = fopen(path, "wb");
	fputs("half", f);
	fclose(f);
	assert_int_equal(gw_spool_recover(spool, &rec), 0);
	assert_int_equal(rec.tmp_removed, 1);
	assert_int_equal(rec.quarantined, 1);
	assert_int_equal(rec.ready_ok, 2);
	snprintf(path, sizeof(path), "%s/quarantine", spool);
	assert_int_equal(count_in(path), 1);
	snprintf(path, sizeof(path), "%s/tmp", spool);
	assert_int_equal(count_in(path), 0);
}

static void size_bound(void **state)
{
	struct gw_spool_usage u;
	struct gw_spool_enforce res;
	char path[700];
	int32_t d0 = gw_tz_day_of(T0);
	(void)state;

	clear_spool();
	for (int i = 0; i < 6; i++) {
		struct gw_batch *b = day_batch(d0 + i, 40);
		assert_int_equal(gw_spool_write(spool, b), 0);
		gw_batch_free(b);
	}
	char **names;
	int n = gw_spool_list(spool, "ready", &names);
	assert_int_equal(n, 6);
	assert_int_equal(gw_spool_mark_done(spool, names[0]), 0);
	assert_int_equal(gw_spool_mark_done(spool, names[1]), 0);
	gw_spool_usage(spool, &u);
	uint64_t one = u.total / 6;

	/* under the bound: nothing happens */
	struct gw_spool_bound bnd = {.max_bytes = u.total + 10};
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_int_equal(res.done_pruned + res.intervals_dropped, 0);

	/* a little over: uploaded batches are emptied first, names kept */
	bnd.max_bytes = u.total - one / 2;
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_true(res.done_pruned >= 1);
	assert_int_equal(res.intervals_dropped, 0);
	assert_false(res.over);
	snprintf(path, sizeof(path), "%s/done/%s", spool, names[0]);
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 0);
	assert_int_equal(gw_spool_next_revision(spool, "gw-1", d0), 1);

	/* far over: interval detail of the oldest ready batches goes, daily
	 * totals stay, nothing not uploaded is deleted */
	gw_spool_usage(spool, &u);
	bnd.max_bytes = u.total / 4 * 3;
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_true(res.intervals_dropped >= 1);
	assert_int_equal(res.deleted_unuploaded, 0);
	struct gw_batch *b;
	snprintf(path, sizeof(path), "%s/ready/%s", spool, names[2]);
	assert_int_equal(gw_batch_read_file(path, &b, NULL), 0);
	assert_int_equal(b->n_series, 0);
	assert_int_equal(b->n_days, 40);
	assert_int_equal(b->days[7].consumption, 1007);
	gw_batch_free(b);
	snprintf(path, sizeof(path), "%s/ready/%s", spool, names[5]);
	assert_int_equal(gw_batch_read_file(path, &b, NULL), 0);
	assert_int_equal(b->n_series, 40); /* the newest keeps its detail */
	gw_batch_free(b);

	/* impossible bound, keep policy: the alarm stays, nothing lost */
	bnd.max_bytes = 100;
	bnd.policy = GW_SPOOL_KEEP;
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_true(res.over);
	char **left;
	assert_int_equal(gw_spool_list(spool, "ready", &left), 4);
	gw_spool_list_free(left, 4);
	/* only when the operator allows it are batches not uploaded deleted */
	bnd.policy = GW_SPOOL_DROP_INTERVALS;
	bnd.allow_delete_unuploaded = 1;
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_int_equal(res.deleted_unuploaded, 4);
	assert_false(res.over);
	gw_spool_list_free(names, n);
}

/* ---- status files on a full disk ---- */

/* The journal counts towards the bound, but no step can free it: when it
 * alone is over the bound, the batches keep their interval readings
 * (dropping them would lose readings and not bring the spool under); when
 * it is not, the bound sheds as documented, uploaded batches first, then
 * the interval detail of the oldest batches, the newest kept. */
static void journal_over_bound_keeps_intervals(void **state)
{
	struct gw_spool_enforce res;
	struct gw_spool_usage u;
	char path[700];
	int32_t d0 = gw_tz_day_of(T0);
	(void)state;

	clear_spool();
	for (int i = 0; i < 4; i++) {
		struct gw_batch *b = day_batch(d0 + i, 40);
		assert_int_equal(gw_spool_write(spool, b), 0);
		gw_batch_free(b);
	}
	char **names;
	int n = gw_spool_list(spool, "ready", &names);
	assert_int_equal(n, 4);
	assert_int_equal(gw_spool_mark_done(spool, names[0]), 0);
	/* a journal of 4 kB (its apparent size is what counts) */
	mkdir(jdir, 0750);
	snprintf(path, sizeof(path), "%s/2026-03-04_b0_1.gwj", jdir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0640);
	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, 4 << 10), 0);
	close(fd);
	gw_spool_usage(spool, &u);
	assert_int_equal(u.journal, 4 << 10);

	struct gw_spool_bound bnd = {.max_bytes = u.journal - 1};
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_true(res.over);
	assert_int_equal(res.done_pruned, 1); /* already in the database */
	assert_int_equal(res.intervals_dropped, 0);
	bnd.allow_delete_unuploaded = 1;
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_int_equal(res.deleted_unuploaded, 0);
	for (int i = 1; i < 4; i++) {
		struct gw_batch *b;
		snprintf(path, sizeof(path), "%s/ready/%s", spool, names[i]);
		assert_int_equal(gw_batch_read_file(path, &b, NULL), 0);
		assert_int_equal(b->n_series, 40);
		gw_batch_free(b);
	}
	/* room for the journal but not for all the detail: the oldest
	 * batch's intervals go first, the newest keeps its own */
	gw_spool_usage(spool, &u);
	bnd.allow_delete_unuploaded = 0;
	bnd.max_bytes = u.total - 1;
	assert_int_equal(gw_spool_enforce(spool, &bnd, &res), 0);
	assert_false(res.over);
	assert_true(res.intervals_dropped >= 1 && res.intervals_dropped < 3);
	int stripped[4] = {0};
	for (int i = 1; i < 4; i++) {
		struct gw_batch *b;
		snprintf(path, sizeof(path), "%s/ready/%s", spool, names[i]);
		assert_int_equal(gw_batch_read_file(path, &b, NULL), 0);
		stripped[i] = b->n_series == 0;
		assert_int_equal(b->n_days, 40);
		gw_batch_free(b);
	}
	assert_true(stripped[1]);
	assert_false(stripped[3]);
	gw_spool_list_free(names, n);
}

static void status_survives_full_disk(void **state)
{
	char path[700], tdir[400], away[420], *text;
	struct stat sb;
	(void)state;

	clear_spool();
	snprintf(path, sizeof(path), "%s/status", spool);
	assert_int_equal(gw_spool_status_read(spool, "status", &text), GW_ENOTFOUND);
	const char *t1 = "gateway=gw-1\nalarm=none\n";
	assert_int_equal(gw_spool_status_write(spool, "status", t1), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 4096); /* room for a rewrite in place */
	assert_int_equal(gw_spool_status_read(spool, "status", &text), 0);
	assert_string_equal(text, t1);
	free(text);
	/* a plain reader (grep, a monitoring script) sees the lines */
	size_t len;
	uint8_t *img = read_all(path, &len);
	assert_memory_equal(img, t1, strlen(t1));
	assert_null(memchr(img, '\0', len));
	free(img);

	/* no new file can be made (here tmp/ is not a directory; on a full
	 * disk there is no block for it): rewritten in place */
	snprintf(tdir, sizeof(tdir), "%s/tmp", spool);
	snprintf(away, sizeof(away), "%s/tmp.away", spool);
	assert_int_equal(rename(tdir, away), 0);
	write_all_to(tdir, (const uint8_t *)"x", 1);
	const char *t2 = "gateway=gw-1\nalarm=disk_full\ndisk_error=No space left on device";
	assert_int_equal(gw_spool_status_write(spool, "status", t2), 1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 4096);
	assert_int_equal(gw_spool_status_read(spool, "status", &text), 0);
	assert_memory_equal(text, t2, strlen(t2));
	assert_string_equal(text + strlen(t2), "\n"); /* a last line break added */
	free(text);
	/* a text that outgrew the room cannot be written in place: the old
	 * one stays whole */
	char *big = malloc(6000);
	memset(big, 'a', 5999);
	memcpy(big, "k=", 2);
	big[5999] = '\0';
	assert_true(gw_spool_status_write(spool, "status", big) < 0);
	assert_int_equal(gw_spool_status_read(spool, "status", &text), 0);
	assert_memory_equal(text, t2, strlen(t2));
	free(text);
	/* a rewrite in place cut short (or met half done): detected */
	img = read_all(path, &len);
	memcpy(img + 15, "XXXX", 4);
	write_all_to(path, img, len);
	assert_int_equal(gw_spool_status_read(spool, "status", &text), GW_ECORRUPT);
	assert_null(text);
	free(img);
	/* a status of a gatewayd before trailers is read whole */
	write_all_to(path, (const uint8_t *)"gateway=old\nalarm=none\n", 23);
	assert_int_equal(gw_spool_status_read(spool, "status", &text), 0);
	assert_string_equal(text, "gateway=old\nalarm=none\n");
	free(text);
	/* space again: replaced as usual, growing to whole blocks */
	assert_int_equal(unlink(tdir), 0);
	assert_int_equal(rename(away, tdir), 0);
	assert_int_equal(gw_spool_status_write(spool, "status", big), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 8192);
	assert_int_equal(gw_spool_status_read(spool, "status", &text), 0);
	assert_int_equal(strlen(text), 6000);
	free(text);
	/* and never shrinks: the room stays for the next full disk */
	assert_int_equal(gw_spool_status_write(spool, "status", t1), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, 8192);
	assert_int_equal(gw_spool_status_read(spool, "status", &text), 0);
	assert_string_equal(text, t1);
	free(text);
	assert_int_equal(count_in(tdir), 0);
	free(big);
}

/* A health text of n meters, made line by line (gw_spool_status_make);
 * calls counts how often it was made. */
struct meters_text {
	int n, calls;
	const char *when;
};

static void meters_make(void *ctx, struct gw_status_out *o)
{
	struct meters_text *mt = ctx;

	mt->calls++;
	gw_status_out_printf(o, "# updated %s\n", mt->when);
	gw_status_out_write(o, "meter_id\tbus\tstate\n", 19);
	for (int m = 0; m < mt->n; m++)
		gw_status_out_printf(o, "M%05d\tbus-%d\t%s\t%d\t%lu\n", m, m / 200,
				     m % 7 ? "online" : "offline", m % 7, 96UL * (unsigned long)m);
}

/* The same text whole (free with free()). */
static char *meters_whole(const struct meters_text *mt)
{
	size_t cap = 64 + (size_t)mt->n * 64, len = 0;
	char *t = malloc(cap);

	assert_non_null(t);
	len += (size_t)snprintf(t, cap, "# updated %s\nmeter_id\tbus\tstate\n", mt->when);
	for (int m = 0; m < mt->n; m++)
		len += (size_t)snprintf(t + len, cap - len, "M%05d\tbus-%d\t%s\t%d\t%lu\n",
					m, m / 200, m % 7 ? "online" : "offline", m % 7,
					96UL * (unsigned long)m);
	return t;
}

/* What docs/spool-format.md says the file of text is, when it was `old`
 * bytes before: the text, "#end len=N crc=X", the padding comment, spaces
 * and a line break up to whole 4 KiB blocks, at least half a block more
 * than the text and trailer need, never smaller than before. */
static uint8_t *status_file_of(const char *text, size_t old, size_t *len)
{
	const char *pad = "# room for this file to be rewritten in place when the disk is full";
	size_t tl = strlen(text);
	char trailer[64];
	int tn = snprintf(trailer, sizeof(trailer), "#end len=%zu crc=%08x\n", tl,
			  (unsigned)gw_crc32((const uint8_t *)text, tl));
	size_t n = tl + (size_t)tn + 1 + 2048;
	if (n < old)
		n = old;
	n = (n + 4095) / 4096 * 4096;
	uint8_t *f = malloc(n);
	assert_non_null(f);
	memcpy(f, text, tl);
	memcpy(f + tl, trailer, (size_t)tn);
	memset(f + tl + (size_t)tn, ' ', n - tl - (size_t)tn);
	memcpy(f + tl + (size_t)tn, pad, strlen(pad));
	f[n - 1] = '\n';
	*len = n;
	return f;
}

/* A status file made in pieces (the health of 6,000 meters, past the 64
 * KiB buffer it goes through, never held whole): byte for byte what the
 * format says and what the whole text gives; made again and rewritten in
 * place when no new file can be made; a replacement that fails half way
 * leaves the old file whole and nothing in tmp/. */
static void status_made_in_pieces(void **state)
{
	char path[700], path2[700], tdir[400], away[420], *text;
	struct meters_text mt = {.n = 6000, .when = "2026-03-09T10:15:00.000Z"};
	size_t len, want_len, len2;
	struct rlimit old, lim;
	(void)state;

	clear_spool();
	snprintf(path, sizeof(path), "%s/health", spool);
	snprintf(path2, sizeof(path2), "%s/health2", spool);
	snprintf(tdir, sizeof(tdir), "%s/tmp", spool);
	snprintf(away, sizeof(away), "%s/tmp.away", spool);
	char *whole = meters_whole(&mt);
	assert_true(strlen(whole) > 2 * 65536);
	assert_int_equal(gw_spool_status_make(spool, "health", meters_make, &mt), 0);
	assert_int_equal(mt.calls, 1);
	uint8_t *img = read_all(path, &len);
	uint8_t *want = status_file_of(whole, 0, &want_len);
	assert_int_equal(len, want_len);
	assert_memory_equal(img, want, len);
	free(want);
	assert_int_equal(gw_spool_status_write(spool, "health2", whole), 0);
	uint8_t *img2 = read_all(path2, &len2);
	assert_int_equal(len2, len);
	assert_memory_equal(img2, img, len);
	free(img2);
	assert_int_equal(gw_spool_status_read(spool, "health", &text), 0);
	assert_string_equal(text, whole);
	free(text);
	free(whole);

	/* no new file can be made: made again, rewritten in place, the file
	 * as the format says for its size */
	assert_int_equal(rename(tdir, away), 0);
	write_all_to(tdir, (const uint8_t *)"x", 1);
	mt.when = "2026-03-09T10:15:10.000Z";
	mt.n = 5990;
	assert_int_equal(gw_spool_status_make(spool, "health", meters_make, &mt), 1);
	assert_int_equal(errno, ENOTDIR);
	assert_int_equal(mt.calls, 2); /* the replacement had no file to write */
	whole = meters_whole(&mt);
	free(img);
	img = read_all(path, &len2);
	want = status_file_of(whole, len, &want_len);
	assert_int_equal(len2, len);
	assert_int_equal(want_len, len);
	assert_memory_equal(img, want, len);
	free(want);
	free(img);
	/* a text that outgrew the room: the old one stays whole */
	mt.n = 8000;
	mt.when = "2026-03-09T10:15:20.000Z";
	assert_true(gw_spool_status_make(spool, "health", meters_make, &mt) < 0);
	assert_int_equal(gw_spool_status_read(spool, "health", &text), 0);
	assert_string_equal(text, whole);
	free(text);
	free(whole);
	assert_int_equal(unlink(tdir), 0);
	assert_int_equal(rename(away, tdir), 0);

	/* a replacement that fails after its first 64 KiB (here past
	 * RLIMIT_FSIZE; on a full disk ENOSPC) and cannot be written in
	 * place (a file of one block): the old file whole, tmp/ empty */
	assert_int_equal(gw_spool_status_write(spool, "small", "gateway=gw-1\n"), 0);
	signal(SIGXFSZ, SIG_IGN);
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	lim = old;
	lim.rlim_cur = 70000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	int rc = gw_spool_status_make(spool, "small", meters_make, &mt);
	int err = errno;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	assert_int_equal(rc, GW_EIO);
	assert_int_equal(err, EFBIG);
	assert_int_equal(count_in(tdir), 0);
	assert_int_equal(gw_spool_status_read(spool, "small", &text), 0);
	assert_string_equal(text, "gateway=gw-1\n");
	free(text);
}

/* A full disk gets room back from batches already in the database. */
static void full_disk_empties_done(void **state)
{
	char path[700], **names;
	unsigned n;
	int32_t d0 = gw_tz_day_of(T0);
	struct stat sb;
	(void)state;

	clear_spool();
	for (int i = 0; i < 3; i++) {
		struct gw_batch *b = day_batch(d0 + i, 4);
		assert_int_equal(gw_spool_write(spool, b), 0);
		gw_batch_free(b);
	}
	int k = gw_spool_list(spool, "ready", &names);
	assert_int_equal(k, 3);
	assert_int_equal(gw_spool_mark_done(spool, names[0]), 0);
	assert_int_equal(gw_spool_mark_done(spool, names[1]), 0);
	assert_true(gw_spool_disk_free(spool) > 0);
	/* room enough: nothing is touched */
	assert_int_equal(gw_spool_free_done(spool, 0, &n), 0);
	assert_int_equal(n, 0);
	/* not enough: every uploaded batch is emptied, oldest first, names
	 * kept; nothing not uploaded is touched */
	assert_int_equal(gw_spool_free_done(spool, UINT64_MAX, &n), 0);
	assert_int_equal(n, 2);
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/%s/%s", spool, i < 2 ? "done" : "ready",
			 names[i]);
		assert_int_equal(stat(path, &sb), 0);
		assert_true(i < 2 ? sb.st_size == 0 : sb.st_size > 0);
	}
	assert_int_equal(gw_spool_next_revision(spool, "gw-1", d0), 1);
	gw_spool_list_free(names, k);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(replay_exact),
		cmocka_unit_test(torn_tail_every_byte),
		cmocka_unit_test(unknown_records_and_versions),
		cmocka_unit_test(segments_per_day_and_prune),
		cmocka_unit_test(zero_filled_tails),
		cmocka_unit_test(zero_filled_segments),
		cmocka_unit_test(every_cut_with_zeros),
		cmocka_unit_test(failed_append_no_litter),
		cmocka_unit_test(packed_round_trip),
		cmocka_unit_test(version1_segments_replay),
		cmocka_unit_test_setup_teardown(packed_bytes_and_series, level6, level_default),
		cmocka_unit_test_setup_teardown(packed_bytes_many_writers, level6, level_default),
		cmocka_unit_test_setup_teardown(packed_far_times_and_wide, level6, level_default),
		cmocka_unit_test_setup_teardown(packed_values_beyond_32_bits, level6, level_default),
		cmocka_unit_test_setup_teardown(packed_scale_unit_change, level6, level_default),
		cmocka_unit_test_setup_teardown(packed_shared_layouts, level6, level_default),
		cmocka_unit_test_setup_teardown(packed_many_escapes, level6, level_default),
		cmocka_unit_test(packed_bytes_default),
		cmocka_unit_test(recover_and_state),
		cmocka_unit_test(size_bound),
		cmocka_unit_test(journal_over_bound_keeps_intervals),
		cmocka_unit_test(status_survives_full_disk),
		cmocka_unit_test(status_made_in_pieces),
		cmocka_unit_test(full_disk_empties_done),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
