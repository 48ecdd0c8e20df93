/* SPDX-License-Identifier: MIT */
/*
 * test_golden.c - golden files of broken spool data (tests/golden/), one
 * file per failure: each is rejected by its reader with the right reason,
 * and start-up sets it aside (batches to quarantine/) or cuts it back to its
 * last good record (journal segments). The good files guard the format:
 * a later version of the reader must still read them.
 *
 * The files are made by this program: GW_GOLDEN_WRITE=tests/golden
 * build/tests/test_golden writes them (then review and commit the diff).
 * The version-1 journal files are the exception: today's writer makes
 * version 2, so journal_good.gwj (written by a version-1 gateway) is kept
 * as it is and the broken version-1 files are made from it.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "journal.h"
#include "spool.h"
#include "tz.h"

#define T0 1772319600000LL /* 2026-03-01 06:00 local */

struct golden {
	const char *name;
	int rc;          /* what the reader returns */
	const char *why; /* and the reason it gives */
};

static const struct golden batches[] = {
	{"batch_good.gwb", 0, ""},
	{"batch_truncated_header.gwb", GW_ECORRUPT, "truncated header"},
	{"batch_bad_magic.gwb", GW_ECORRUPT, "bad magic"},
	{"batch_unknown_version.gwb", GW_EVERSION, "unsupported version"},
	{"batch_bad_crc.gwb", GW_ECORRUPT, "bad CRC"},
	{"batch_truncated_tail.gwb", GW_ECORRUPT, "bad CRC"},
	{"batch_bad_header_length.gwb", GW_ECORRUPT, "bad header length"},
	{"batch_length_mismatch.gwb", GW_ECORRUPT, "lengths do not add up to the file size"},
	{"batch_payload_not_zlib.gwb", GW_ECORRUPT, "payload does not inflate"},
	{"batch_payload_length.gwb", GW_ECORRUPT, "payload length differs from the header"},
	{"batch_payload_short.gwb", GW_ECORRUPT, "payload does not decode"},
};

static const struct golden journals[] = {
	{"journal_good.gwj", 0, ""},
	{"journal_truncated_header.gwj", GW_ECORRUPT, "truncated header"},
	{"journal_bad_magic.gwj", GW_ECORRUPT, "bad magic"},
	{"journal_unknown_version.gwj", GW_EVERSION, "unsupported version"},
	{"journal_torn_record.gwj", GW_ECORRUPT, "torn record"},
	{"journal_torn_record_header.gwj", GW_ECORRUPT, "torn record header"},
	{"journal_bad_crc.gwj", GW_ECORRUPT, "bad record CRC"},
	{"journal_zero_tail.gwj", GW_ECORRUPT, "zero-filled tail"},
	{"journal_zeroed_record.gwj", GW_ECORRUPT, "zero-filled tail"},
	{"journal_zero_filled.gwj", GW_ECORRUPT, "zero-filled segment"},
	{"journal_empty_record.gwj", GW_ECORRUPT, "empty record"},
	{"journal_record_too_long.gwj", GW_ECORRUPT, "record length out of range"},
	/* version 2: packed cycles */
	{"journal2_good.gwj", 0, ""},
	{"journal2_torn_record.gwj", GW_ECORRUPT, "torn record"},
	{"journal2_bad_crc.gwj", GW_ECORRUPT, "bad record CRC"},
	{"journal2_zero_tail.gwj", GW_ECORRUPT, "zero-filled tail"},
	{"journal2_bad_flags.gwj", GW_ECORRUPT, "record does not decode"},
	{"journal2_bad_series.gwj", GW_ECORRUPT, "record does not decode"},
	{"journal2_not_fresh.gwj", GW_ECORRUPT, "record does not decode"},
	{"journal2_bad_deflate.gwj", GW_ECORRUPT, "record does not decode"},
};

/* What journal_good.gwj (version 1) holds: 2 cycles of 3 readings. */
static void v1_cycle(struct gw_reading *r, int c)
{
	memset(r, 0, 3 * sizeof(*r));
	for (int i = 0; i < 3; i++) {
		snprintf(r[i].meter_id, GW_ID_MAX, "PE000%d", i + 1);
		snprintf(r[i].obis, GW_OBIS_MAX, "1.8.0");
		r[i].ts_ms = T0 + c * 900000LL + i * 40;
		r[i].value = 1000000 * (i + 1) + c * 50;
		r[i].unit = GW_UNIT_WH;
	}
}

/* What journal2_good.gwj holds: 4 cycles of one bus, each kind of packed
 * reading in it. Cycle 0 spells out 3 meters x 3 registers (deflated);
 * cycle 1 is the same meters, later; in cycle 2 the second meter does not
 * answer (a jump) and the first one's voltage reads as derived (its
 * status changes); cycle 3 has a fourth meter, new, and one value the
 * same as before. Returns the number of readings of cycle c. */
#define V2_CYCLES 4
static int v2_cycle(struct gw_reading *r, int c)
{
	static const char *obis[3] = {"1.8.0", "2.8.0", "32.7.0"};
	int n = 0;

	memset(r, 0, 12 * sizeof(*r));
	for (int m = 0; m < (c == 3 ? 4 : 3); m++) {
		if (c == 2 && m == 1)
			continue;
		for (int k = 0; k < 3; k++, n++) {
			struct gw_reading *x = &r[n];
			snprintf(x->meter_id, GW_ID_MAX, "PE00%02d", m + 1);
			snprintf(x->obis, GW_OBIS_MAX, "%s", obis[k]);
			x->ts_ms = T0 + c * 900000LL + (c == 1) * 1234 + m * 180 +
				   (m * c) % 7;
			x->value = k == 2 ? 2300 + (m + c) % 5 - 2
				 : k == 1 ? 4000 * m + (c == 3 ? 0 : c * 3)
				 : 1000000 * (m + 1) + c * 127 + m * c * 31;
			x->scale = k == 2 ? -1 : 0;
			x->unit = k == 2 ? GW_UNIT_V : GW_UNIT_WH;
			x->status = c == 2 && m == 0 && k == 2 ? GW_RS_DERIVED : GW_RS_OK;
		}
	}
	return n;
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static char golden_dir[512];

/* ---- making the files ---- */

static struct gw_batch *good_batch(void)
{
	struct gw_batch *b = calloc(1, sizeof(*b));
	snprintf(b->gateway_id, sizeof(b->gateway_id), "sub-042");
	snprintf(b->timezone, sizeof(b->timezone), "Asia/Ho_Chi_Minh");
	gw_day_parse("2026-03-01", &b->day);
	b->created_ms = 1772400000123LL;
	b->n_days = 2;
	b->days = calloc(2, sizeof(*b->days));
	b->n_series = 2;
	b->series = calloc(2, sizeof(*b->series));
	for (int m = 0; m < 2; m++) {
		struct gw_day_register *d = &b->days[m];
		snprintf(d->meter_id, GW_ID_MAX, "PE000%d", m + 1);
		snprintf(d->obis, GW_OBIS_MAX, "1.8.0");
		d->unit = GW_UNIT_WH;
		d->start_value = 1000000 * (m + 1);
		d->consumption = 4000 + 800 * m;
		d->end_value = d->start_value + d->consumption;
		d->readings = 4;
		struct gw_series *s = &b->series[m];
		snprintf(s->meter_id, GW_ID_MAX, "PE000%d", m + 1);
		snprintf(s->obis, GW_OBIS_MAX, "1.8.0");
		s->unit = GW_UNIT_WH;
		s->n = 4;
		s->ts_ms = malloc(4 * sizeof(int64_t));
		s->value = malloc(4 * sizeof(int64_t));
		for (int k = 0; k < 4; k++) {
			s->ts_ms[k] = T0 + k * 900000LL + m * 40;
			s->value[k] = d->start_value + k * 50;
		}
	}
	b->n_events = 1;
	b->events = calloc(1, sizeof(*b->events));
	snprintf(b->events[0].meter_id, GW_ID_MAX, "PE0002");
	b->events[0].ts_ms = T0 + 1;
	b->events[0].kind = GW_EV_OFFLINE;
	snprintf(b->events[0].detail, sizeof(b->events[0].detail), "3 failed cycles");
	return b;
}

static void fix_crc(uint8_t *p, size_t len)
{
	uint32_t c = gw_crc32(p, len - 4);
	for (int i = 0; i < 4; i++)
		p[len - 4 + (size_t)i] = (uint8_t)(c >> (8 * i));
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static void write_file(const char *name, const uint8_t *p, size_t len)
{
	char path[700];
	snprintf(path, sizeof(path), "%s/%s", golden_dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void make_batches(void)
{
	struct gw_batch *b = good_batch();
	uint8_t *g, *x;
	size_t len;
	assert_int_equal(gw_batch_encode(b, &g, &len), 0);
	gw_batch_free(b);
	size_t hlen = (size_t)(g[6] | g[7] << 8);
	x = malloc(len + 16);

	write_file("batch_good.gwb", g, len);
	write_file("batch_truncated_header.gwb", g, 20);
	memcpy(x, g, len);
	x[3] = 'X';
	write_file("batch_bad_magic.gwb", x, len);
	memcpy(x, g, len);
	x[4] = 9;
	fix_crc(x, len);
	write_file("batch_unknown_version.gwb", x, len);
	memcpy(x, g, len);
	x[hlen + 5] ^= 0x40;
	write_file("batch_bad_crc.gwb", x, len);
	write_file("batch_truncated_tail.gwb", g, len - 10);
	memcpy(x, g, len);
	x[6]++;
	fix_crc(x, len);
	write_file("batch_bad_header_length.gwb", x, len);
	memcpy(x, g, len - 10); /* truncated, with a CRC that fits */
	fix_crc(x, len - 10);
	write_file("batch_length_mismatch.gwb", x, len - 10);
	memcpy(x, g, len);
	for (size_t i = hlen; i < len - 4; i++)
		x[i] = (uint8_t)(0xA5 ^ i);
	fix_crc(x, len);
	write_file("batch_payload_not_zlib.gwb", x, len);
	memcpy(x, g, len);
	put32(x + 36, get32(x + 36) + 1);
	fix_crc(x, len);
	write_file("batch_payload_length.gwb", x, len);
	memcpy(x, g, len);
	put32(x + 44, get32(x + 44) + 1); /* one event more than there is */
	fix_crc(x, len);
	write_file("batch_payload_short.gwb", x, len);
	free(x);
	free(g);
}

static uint8_t *slurp(const char *path, size_t *len)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	uint8_t *p = malloc((size_t)st.st_size + 1);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	*len = fread(p, 1, (size_t)st.st_size, f);
	fclose(f);
	return p;
}

/* The broken version-1 files, from journal_good.gwj. */
static void make_journals_v1(void)
{
	char path[700];
	size_t len;

	snprintf(path, sizeof(path), "%s/journal_good.gwj", golden_dir);
	uint8_t *g = slurp(path, &len), *x = malloc(len + 16);
	size_t rec = (len - GW_JOURNAL_HDR) / 2; /* two records, one size */

	write_file("journal_truncated_header.gwj", g, 5);
	memcpy(x, g, len);
	x[0] = 'X';
	write_file("journal_bad_magic.gwj", x, len);
	memcpy(x, g, len);
	x[4] = 9; /* version 2 is the packed format now */
	write_file("journal_unknown_version.gwj", x, len);
	/* the torn ones: the first record whole, the second cut or damaged */
	write_file("journal_torn_record.gwj", g, len - rec / 2);
	write_file("journal_torn_record_header.gwj", g, GW_JOURNAL_HDR + rec + 5);
	memcpy(x, g, len);
	x[len - 7] ^= 0x08;
	write_file("journal_bad_crc.gwj", x, len);
	/* what a power loss leaves: the file's size on disk, not its data */
	uint8_t *z = calloc(1, 8192);
	memcpy(z, g, len); /* both records, then zeros to the 4 KiB block */
	write_file("journal_zero_tail.gwj", z, 4096);
	memset(z + GW_JOURNAL_HDR + rec, 0, rec); /* the second record zeroed */
	write_file("journal_zeroed_record.gwj", z, len);
	memset(z, 0, 8192);
	write_file("journal_zero_filled.gwj", z, 4096);
	/* a zero length before data: never written, a page lost in between */
	memcpy(x, g, len);
	memset(x + GW_JOURNAL_HDR + rec, 0, 4);
	write_file("journal_empty_record.gwj", x, len);
	memcpy(x, g, len);
	put32(x + GW_JOURNAL_HDR + rec, GW_JOURNAL_REC_MAX + 1);
	write_file("journal_record_too_long.gwj", x, len);
	free(z);
	free(x);
	free(g);
}

/* Record i of a segment image: *at its framing, *len its payload's size. */
static void record_at(const uint8_t *g, size_t glen, int i, size_t *at, size_t *len)
{
	size_t p = GW_JOURNAL_HDR;

	for (;;) {
		assert_true(p + 8 <= glen);
		*len = get32(g + p);
		if (i-- == 0)
			break;
		p += 8 + *len;
	}
	*at = p;
}

/* A record's payload changed in place: its CRC made to fit again. */
static void fix_record(uint8_t *x, size_t at, size_t len)
{
	put32(x + at + 4, gw_crc32(x + at + 8, len));
}

/* The version-2 files, from what the writer makes of v2_cycle(). */
static void make_journals_v2(void)
{
	char tmp[] = "/tmp/gwgolden.XXXXXX", cmd[200];
	struct gw_journal *j;
	struct gw_reading r[12];

	assert_non_null(mkdtemp(tmp));
	assert_int_equal(gw_spool_open(tmp), 0);
	assert_int_equal(gw_journal_open(tmp, 1, &j), 0);
	for (int c = 0; c < V2_CYCLES; c++) {
		int n = v2_cycle(r, c);
		assert_int_equal(gw_journal_append_cycle(j, 0, r, (size_t)n), 0);
	}
	gw_journal_close(j);
	DIR *d;
	struct dirent *e;
	char path[700] = "";
	snprintf(cmd, sizeof(cmd), "%s/journal", tmp);
	d = opendir(cmd);
	while ((e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			snprintf(path, sizeof(path), "%s/%s", cmd, e->d_name);
	closedir(d);
	size_t len, at0, len0, at3, len3;
	uint8_t *g = slurp(path, &len), *x = malloc(len + 16);
	record_at(g, len, 0, &at0, &len0);
	record_at(g, len, 3, &at3, &len3);
	assert_int_equal(at3 + 8 + len3, len);
	assert_true(g[at0 + 9] & 2); /* the first cycle went deflated */

	write_file("journal2_good.gwj", g, len);
	write_file("journal2_torn_record.gwj", g, len - len3 / 2);
	memcpy(x, g, len);
	x[len - 2] ^= 0x10;
	write_file("journal2_bad_crc.gwj", x, len);
	uint8_t *z = calloc(1, 8192);
	memcpy(z, g, len);
	write_file("journal2_zero_tail.gwj", z, 4096);
	free(z);
	/* good CRCs, payloads that do not decode: a flag this version does
	 * not know; a jump to a series the segment does not have; the
	 * segment's first record missing, so the next one names series
	 * never spelt out; a deflated body that does not inflate */
	memcpy(x, g, len);
	x[at3 + 9] |= 0x80;
	fix_record(x, at3, len3);
	write_file("journal2_bad_flags.gwj", x, len);
	size_t at2, len2;
	record_at(g, len, 2, &at2, &len2); /* cycle 2 starts with a NEXT */
	assert_int_equal(g[at2 + 9] & 3, 0);
	memcpy(x, g, len);
	assert_int_equal(x[at2 + 12] & 3, 0); /* its first tag: the next series */
	x[at2 + 12] |= 1; /* a jump ... */
	memmove(x + at2 + 14, x + at2 + 13, len - at2 - 13);
	x[at2 + 13] = 100; /* ... of 50 series */
	put32(x + at2, (uint32_t)len2 + 1);
	fix_record(x, at2, len2 + 1);
	write_file("journal2_bad_series.gwj", x, len + 1);
	memcpy(x, g, GW_JOURNAL_HDR);
	memcpy(x + GW_JOURNAL_HDR, g + at0 + 8 + len0, len - (at0 + 8 + len0));
	write_file("journal2_not_fresh.gwj", x, len - 8 - len0);
	memcpy(x, g, len);
	x[at0 + 8 + len0 - 6] ^= 0x55; /* inside the zlib stream */
	fix_record(x, at0, len0);
	write_file("journal2_bad_deflate.gwj", x, len);
	free(x);
	free(g);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	assert_int_equal(system(cmd), 0);
}

/* ---- the tests ---- */

static int setup(void **state)
{
	const char *w = getenv("GW_GOLDEN_WRITE");
	(void)state;
	gw_tz_set("Asia/Ho_Chi_Minh");
	if (w && *w) {
		snprintf(golden_dir, sizeof(golden_dir), "%s", w);
		mkdir(golden_dir, 0755);
		make_batches();
		make_journals_v1();
		make_journals_v2();
		return 0;
	}
	const char *top = getenv("GW_TOP");
	snprintf(golden_dir, sizeof(golden_dir), "%s/tests/golden", top ? top : ".");
	return 0;
}

static void batches_rejected_with_reason(void **state)
{
	char path[700];
	(void)state;
	for (size_t i = 0; i < N(batches); i++) {
		struct gw_batch *b;
		const char *why;
		snprintf(path, sizeof(path), "%s/%s", golden_dir, batches[i].name);
		int rc = gw_batch_read_file_ex(path, &b, NULL, &why);
		print_message("# %s: %s (%s)\n", batches[i].name, gw_strerror(rc), why);
		assert_int_equal(rc, batches[i].rc);
		assert_string_equal(why, batches[i].why);
		if (rc == 0) {
			assert_int_equal(b->n_days, 2);
			assert_int_equal(b->days[1].consumption, 4800);
			assert_int_equal(b->series[1].value[3], 2000150);
			assert_string_equal(b->events[0].detail, "3 failed cycles");
			gw_batch_free(b);
		} else {
			assert_null(b);
		}
	}
}

static void journals_rejected_with_reason(void **state)
{
	char path[700];
	(void)state;
	for (size_t i = 0; i < N(journals); i++) {
		const char *why;
		uint64_t good;
		snprintf(path, sizeof(path), "%s/%s", golden_dir, journals[i].name);
		int rc = gw_journal_check_file(path, &why, &good);
		print_message("# %s: %s (%s)\n", journals[i].name, gw_strerror(rc), why);
		assert_int_equal(rc, journals[i].rc);
		assert_string_equal(why, journals[i].why);
	}
}

/* Collects what a good segment holds. */
struct held {
	struct gw_reading r[64];
	size_t n, cycles;
};

static int hold(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct held *h = ctx;
	assert_int_equal(bus, 0);
	assert_true(h->n + n <= 64);
	memcpy(h->r + h->n, r, n * sizeof(*r));
	h->n += n;
	h->cycles++;
	return 0;
}

/* Both good files read back reading for reading: the version-1 one as a
 * version-1 gateway wrote it, the version-2 one as this writer does. */
static void good_journals_read_exactly(void **state)
{
	char path[700];
	struct gw_reading want[12];
	static struct held h;
	(void)state;

	memset(&h, 0, sizeof(h));
	snprintf(path, sizeof(path), "%s/journal_good.gwj", golden_dir);
	assert_int_equal(gw_journal_read_file(path, hold, NULL, &h), 0);
	assert_int_equal(h.cycles, 2);
	assert_int_equal(h.n, 6);
	for (int c = 0; c < 2; c++) {
		v1_cycle(want, c);
		assert_memory_equal(h.r + 3 * c, want, 3 * sizeof(*want));
	}
	memset(&h, 0, sizeof(h));
	snprintf(path, sizeof(path), "%s/journal2_good.gwj", golden_dir);
	assert_int_equal(gw_journal_read_file(path, hold, NULL, &h), 0);
	assert_int_equal(h.cycles, V2_CYCLES);
	size_t at = 0;
	for (int c = 0; c < V2_CYCLES; c++) {
		int n = v2_cycle(want, c);
		assert_memory_equal(h.r + at, want, (size_t)n * sizeof(*want));
		at += (size_t)n;
	}
	assert_int_equal(h.n, at);
}

static int copy(const char *from, const char *to)
{
	char cmd[1600];
	snprintf(cmd, sizeof(cmd), "cp '%s' '%s'", from, to);
	return system(cmd);
}

static int count_in(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static int count_cycles(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	(void)bus;
	(void)r;
	*(size_t *)ctx += n;
	return 0;
}

static void startup_sets_them_aside(void **state)
{
	char tmp[] = "/tmp/gwgolden.XXXXXX", from[700], to[800], dir[200];
	struct gw_spool_recovery rec;
	(void)state;

	assert_non_null(mkdtemp(tmp));
	assert_int_equal(gw_spool_open(tmp), 0);
	for (size_t i = 0; i < N(batches); i++) {
		snprintf(from, sizeof(from), "%s/%s", golden_dir, batches[i].name);
		snprintf(to, sizeof(to), "%s/ready/sub-042_2026-03-01_r%zu.gwb", tmp, i);
		assert_int_equal(copy(from, to), 0);
	}
	assert_int_equal(gw_spool_recover(tmp, &rec), 0);
	assert_int_equal(rec.ready_ok, 1);
	assert_int_equal(rec.quarantined, N(batches) - 1);
	snprintf(dir, sizeof(dir), "%s/quarantine", tmp);
	assert_int_equal(count_in(dir), (int)N(batches) - 1);

	/* journal segments: torn ones cut back, foreign ones quarantined,
	 * a header cut short removed; every whole record is replayed */
	snprintf(dir, sizeof(dir), "%s/journal", tmp);
	mkdir(dir, 0750);
	for (size_t i = 0; i < N(journals); i++) {
		snprintf(from, sizeof(from), "%s/%s", golden_dir, journals[i].name);
		snprintf(to, sizeof(to), "%s/2026-03-01_b0_%zu.gwj", dir, i + 1);
		assert_int_equal(copy(from, to), 0);
	}
	struct gw_journal *j;
	struct gw_journal_stats st;
	size_t readings = 0;
	assert_int_equal(gw_journal_open(tmp, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, count_cycles, NULL, &readings, &st), 0);
	gw_journal_close(j);
	/* cut, version 1: three torn tails, a header cut short, a
	 * zero-filled tail after two records and one after one, a
	 * zero-filled segment, an empty record, a record too long;
	 * version 2: a torn tail, a bad CRC, a zero-filled tail, four
	 * records that do not decode */
	assert_int_equal(st.torn, 9 + 7);
	assert_int_equal(st.quarantined, 2); /* bad magic, newer version */
	/* version 1: the good file, the zero-tailed one's two records, the
	 * first records; version 2 (9 + 9 + 6 + 12 readings in its four
	 * cycles): the good file and the zero-tailed one whole, three
	 * records of the torn, bad-CRC and bad-flags ones, two of the one
	 * with a jump too far, none where the first record is missing or
	 * does not inflate */
	assert_int_equal(readings, 6 + 6 + 6 * 3 + 36 * 2 + 24 * 3 + 18);
	/* short header, zeros removed; the two with no good record kept
	 * as a bare header */
	assert_int_equal(count_in(dir), 8 + 8);
	snprintf(dir, sizeof(dir), "%s/quarantine", tmp);
	assert_int_equal(count_in(dir), (int)N(batches) - 1 + 2);
	/* a second start finds everything whole */
	assert_int_equal(gw_journal_open(tmp, 1, &j), 0);
	assert_int_equal(gw_journal_replay(j, NULL, NULL, NULL, &st), 0);
	gw_journal_close(j);
	assert_int_equal(st.torn, 0);
	assert_int_equal(st.quarantined, 0);
	snprintf(from, sizeof(from), "rm -rf '%s'", tmp);
	assert_int_equal(system(from), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(batches_rejected_with_reason),
		cmocka_unit_test(journals_rejected_with_reason),
		cmocka_unit_test(good_journals_read_exactly),
		cmocka_unit_test(startup_sets_them_aside),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
