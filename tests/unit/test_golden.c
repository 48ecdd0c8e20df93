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
};

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

static void make_journals(void)
{
	char tmp[] = "/tmp/gwgolden.XXXXXX", cmd[200];
	struct gw_journal *j;
	struct gw_reading r[3];

	assert_non_null(mkdtemp(tmp));
	assert_int_equal(gw_spool_open(tmp), 0);
	assert_int_equal(gw_journal_open(tmp, 1, &j), 0);
	for (int c = 0; c < 2; c++) {
		memset(r, 0, sizeof(r));
		for (int i = 0; i < 3; i++) {
			snprintf(r[i].meter_id, GW_ID_MAX, "PE000%d", i + 1);
			snprintf(r[i].obis, GW_OBIS_MAX, "1.8.0");
			r[i].ts_ms = T0 + c * 900000LL + i * 40;
			r[i].value = 1000000 * (i + 1) + c * 50;
			r[i].unit = GW_UNIT_WH;
		}
		assert_int_equal(gw_journal_append_cycle(j, 0, r, 3), 0);
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
	size_t len;
	uint8_t *g = slurp(path, &len), *x = malloc(len + 16);
	size_t rec = (len - GW_JOURNAL_HDR) / 2;

	write_file("journal_good.gwj", g, len);
	write_file("journal_truncated_header.gwj", g, 5);
	memcpy(x, g, len);
	x[0] = 'X';
	write_file("journal_bad_magic.gwj", x, len);
	memcpy(x, g, len);
	x[4] = 2;
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
		make_journals();
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
	/* cut: three torn tails, a header cut short, a zero-filled tail
	 * after two records and one after one, a zero-filled segment, an
	 * empty record, a record too long */
	assert_int_equal(st.torn, 9);
	assert_int_equal(st.quarantined, 2); /* bad magic, newer version */
	/* good file, the zero-tailed one's two records, the first records */
	assert_int_equal(readings, 6 + 6 + 6 * 3);
	assert_int_equal(count_in(dir), 8); /* short header, zeros removed */
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
		cmocka_unit_test(startup_sets_them_aside),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
