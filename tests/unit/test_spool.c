/* SPDX-License-Identifier: MIT */
/*
 * test_spool.c - batch files: exact round trip, every kind of damage
 * detected, durable writes into the spool's folders, listing order and
 * revisions.
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

#include "spool.h"
#include "tz.h"

static struct gw_batch *sample_batch(unsigned seed, size_t meters)
{
	struct gw_batch *b = calloc(1, sizeof(*b));
	srand(seed);
	snprintf(b->gateway_id, sizeof(b->gateway_id), "sub-042_feeder.3");
	snprintf(b->timezone, sizeof(b->timezone), "Asia/Ho_Chi_Minh");
	gw_day_parse("2026-03-01", &b->day);
	b->revision = 2;
	b->created_ms = 1772400000123LL;
	b->n_days = meters * 2;
	b->days = calloc(b->n_days, sizeof(*b->days));
	b->n_series = meters * 3;
	b->series = calloc(b->n_series, sizeof(*b->series));
	for (size_t m = 0; m < meters; m++) {
		for (int k = 0; k < 2; k++) {
			struct gw_day_register *d = &b->days[m * 2 + (size_t)k];
			snprintf(d->meter_id, sizeof(d->meter_id), "PE%08zu", m);
			snprintf(d->obis, sizeof(d->obis), k ? "2.8.0" : "1.8.0");
			d->unit = GW_UNIT_WH;
			d->quality = (uint8_t)(rand() % 4);
			d->start_value = (int64_t)rand() * 1000 + (k ? 0 : INT64_C(1) << 40);
			d->consumption = rand() % 100000;
			d->end_value = d->start_value + d->consumption -
				       (m % 5 == 0 ? d->start_value : 0); /* a reset */
			d->readings = 96;
			d->minutes_missing = (uint32_t)(rand() % 30);
		}
		for (int k = 0; k < 3; k++) {
			struct gw_series *s = &b->series[m * 3 + (size_t)k];
			snprintf(s->meter_id, sizeof(s->meter_id), "PE%08zu", m);
			snprintf(s->obis, sizeof(s->obis), "%s",
				 k == 0 ? "1.8.0" : k == 1 ? "2.8.0" : "32.7.0");
			s->unit = k == 2 ? GW_UNIT_V : GW_UNIT_WH;
			s->scale = k == 2 ? -1 : 0;
			s->n = 96;
			s->ts_ms = malloc(96 * sizeof(int64_t));
			s->value = malloc(96 * sizeof(int64_t));
			int64_t ts = 1772298000000LL + rand() % 1000, v = rand();
			for (int i = 0; i < 96; i++) {
				s->ts_ms[i] = ts;
				s->value[i] = k == 2 ? 2300 + rand() % 40 - 20 : v;
				ts += 900000 + rand() % 3000 - 1500;
				v += rand() % 300;
			}
		}
	}
	b->n_events = meters;
	b->events = calloc(meters + 1, sizeof(*b->events));
	for (size_t m = 0; m < meters; m++) {
		struct gw_event *e = &b->events[m];
		snprintf(e->meter_id, sizeof(e->meter_id), "PE%08zu", m);
		snprintf(e->obis, sizeof(e->obis), m % 2 ? "1.8.0" : "");
		e->ts_ms = 1772298000000LL + (int64_t)m * 1000;
		e->kind = (uint8_t)(1 + m % GW_EV_KIND_MAX_);
		snprintf(e->detail, sizeof(e->detail), "after %zu failed cycles", m);
	}
	return b;
}

static void assert_batches_equal(const struct gw_batch *a, const struct gw_batch *b)
{
	assert_string_equal(a->gateway_id, b->gateway_id);
	assert_string_equal(a->timezone, b->timezone);
	assert_int_equal(a->day, b->day);
	assert_int_equal(a->revision, b->revision);
	assert_int_equal(a->created_ms, b->created_ms);
	assert_int_equal(a->n_days, b->n_days);
	assert_int_equal(a->n_series, b->n_series);
	for (size_t i = 0; i < a->n_days; i++)
		assert_memory_equal(&a->days[i], &b->days[i], sizeof(a->days[i]));
	assert_int_equal(a->n_events, b->n_events);
	for (size_t i = 0; i < a->n_events; i++) {
		assert_string_equal(a->events[i].meter_id, b->events[i].meter_id);
		assert_string_equal(a->events[i].obis, b->events[i].obis);
		assert_string_equal(a->events[i].detail, b->events[i].detail);
		assert_int_equal(a->events[i].ts_ms, b->events[i].ts_ms);
		assert_int_equal(a->events[i].kind, b->events[i].kind);
	}
	for (size_t i = 0; i < a->n_series; i++) {
		const struct gw_series *x = &a->series[i], *y = &b->series[i];
		assert_string_equal(x->meter_id, y->meter_id);
		assert_string_equal(x->obis, y->obis);
		assert_int_equal(x->unit, y->unit);
		assert_int_equal(x->scale, y->scale);
		assert_int_equal(x->n, y->n);
		assert_memory_equal(x->ts_ms, y->ts_ms, x->n * sizeof(int64_t));
		assert_memory_equal(x->value, y->value, x->n * sizeof(int64_t));
	}
}

static void round_trip(void **state)
{
	(void)state;
	for (unsigned seed = 1; seed < 6; seed++) {
		struct gw_batch *b = sample_batch(seed, seed * 7), *back;
		uint8_t *buf;
		size_t len;
		uint32_t crc = 0;
		assert_int_equal(gw_batch_encode(b, &buf, &len), 0);
		assert_int_equal(gw_batch_decode(buf, len, &back, &crc), 0);
		assert_int_equal(crc, gw_crc32(buf, len - 4));
		assert_batches_equal(b, back);
		gw_batch_free(back);
		free(buf);
		gw_batch_free(b);
	}
	/* the registers of one meter read in one request share their times:
	 * stored once (the batch of a real gateway looks like this) */
	{
		struct gw_batch *b = sample_batch(11, 9), *back;
		uint8_t *buf;
		size_t len;
		for (size_t i = 0; i < b->n_series; i++)
			if (i % 3)
				memcpy(b->series[i].ts_ms, b->series[i - i % 3].ts_ms,
				       b->series[i].n * sizeof(int64_t));
		b->series[4].n = 50; /* a shorter series breaks the run */
		assert_int_equal(gw_batch_encode(b, &buf, &len), 0);
		assert_int_equal(gw_batch_decode(buf, len, &back, NULL), 0);
		assert_batches_equal(b, back);
		gw_batch_free(back);
		free(buf);
		gw_batch_free(b);
	}
	/* extreme values and times (a file that lies, read and written
	 * again): the deltas wrap, they do not overflow */
	{
		struct gw_batch *b = sample_batch(13, 2), *back;
		uint8_t *buf;
		size_t len;
		struct gw_series *x = &b->series[0];
		x->ts_ms[0] = INT64_MIN;
		x->ts_ms[1] = INT64_MAX;
		x->value[0] = INT64_MAX;
		x->value[1] = INT64_MIN;
		b->days[0].start_value = INT64_MIN;
		b->days[0].end_value = INT64_MAX;
		b->days[0].consumption = INT64_MIN;
		assert_int_equal(gw_batch_encode(b, &buf, &len), 0);
		assert_int_equal(gw_batch_decode(buf, len, &back, NULL), 0);
		assert_batches_equal(b, back);
		gw_batch_free(back);
		free(buf);
		gw_batch_free(b);
	}
	/* an empty day is a valid batch too */
	struct gw_batch empty = {.gateway_id = "g", .timezone = "UTC", .day = 1};
	uint8_t *buf;
	size_t len;
	struct gw_batch *back;
	assert_int_equal(gw_batch_encode(&empty, &buf, &len), 0);
	assert_int_equal(gw_batch_decode(buf, len, &back, NULL), 0);
	assert_int_equal(back->n_days, 0);
	gw_batch_free(back);
	free(buf);
}

static void damage_detected(void **state)
{
	struct gw_batch *b = sample_batch(9, 20), *out;
	uint8_t *buf;
	size_t len;

	(void)state;
	assert_int_equal(gw_batch_encode(b, &buf, &len), 0);
	/* every single flipped bit anywhere in the file is caught: all
	 * 8 * len of them (header, payload and CRC), each on its own */
	size_t flipped = 0;
	for (size_t i = 0; i < len; i++) {
		for (int bit = 0; bit < 8; bit++) {
			buf[i] ^= (uint8_t)(1u << bit);
			int rc = gw_batch_decode(buf, len, &out, NULL);
			if (rc != GW_ECORRUPT && rc != GW_EVERSION)
				fail_msg("bit %d of byte %zu of %zu flipped: decode "
					 "returned %d", bit, i, len, rc);
			assert_null(out);
			buf[i] ^= (uint8_t)(1u << bit);
			flipped++;
		}
	}
	assert_int_equal(flipped, 8 * len);
	/* every truncation is caught: each length from 0 to len - 1 */
	for (size_t n = 0; n < len; n++)
		assert_int_equal(gw_batch_decode(buf, n, &out, NULL), GW_ECORRUPT);
	/* a header that lies, with a CRC that matches the lie */
	for (size_t off = 6; off < 48; off++) {
		uint8_t saved = buf[off];
		for (int v = 0; v < 256; v += 37) {
			buf[off] = (uint8_t)v;
			uint32_t c = gw_crc32(buf, len - 4);
			uint8_t crcsave[4];
			memcpy(crcsave, buf + len - 4, 4);
			for (int k = 0; k < 4; k++)
				buf[len - 4 + (size_t)k] = (uint8_t)(c >> (8 * k));
			int rc = gw_batch_decode(buf, len, &out, NULL);
			if (rc == 0) /* fields that are free to vary */
				gw_batch_free(out);
			else
				assert_null(out);
			memcpy(buf + len - 4, crcsave, 4);
		}
		buf[off] = saved;
	}
	/* a newer format version is named as such, not as corruption */
	buf[4] = 2;
	assert_int_equal(gw_batch_decode(buf, len, &out, NULL), GW_EVERSION);
	buf[4] = 1;
	assert_int_equal(gw_batch_decode(buf, len, &out, NULL), 0);
	gw_batch_free(out);
	free(buf);
	gw_batch_free(b);
}

static char spool[256];

static int count_files(const char *sub)
{
	char path[512];
	int n = 0;
	struct dirent *e;

	snprintf(path, sizeof(path), "%s/%s", spool, sub);
	DIR *d = opendir(path);
	assert_non_null(d);
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void spool_write_list_move(void **state)
{
	char path[600];
	(void)state;

	snprintf(spool, sizeof(spool), "/tmp/gwspool.XXXXXX");
	assert_non_null(mkdtemp(spool));
	strcat(spool, "/spool");
	assert_int_equal(gw_spool_open(spool), 0);
	assert_int_equal(gw_spool_open(spool), 0); /* twice is fine */

	struct gw_batch *b = sample_batch(3, 5);
	int32_t d = b->day;
	assert_int_equal(gw_spool_next_revision(spool, b->gateway_id, d), 0);
	/* three days written out of order, two revisions of one day */
	b->revision = 0;
	b->day = d + 2;
	assert_int_equal(gw_spool_write(spool, b), 0);
	b->day = d;
	assert_int_equal(gw_spool_write(spool, b), 0);
	b->revision = 1;
	assert_int_equal(gw_spool_write(spool, b), 0);
	b->revision = 0;
	b->day = d + 10;
	assert_int_equal(gw_spool_write(spool, b), 0);
	assert_int_equal(count_files("tmp"), 0);
	assert_int_equal(count_files("ready"), 4);

	char **names;
	int n = gw_spool_list(spool, "ready", &names);
	assert_int_equal(n, 4);
	assert_string_equal(names[0], "sub-042_feeder.3_2026-03-01_r0.gwb");
	assert_string_equal(names[1], "sub-042_feeder.3_2026-03-01_r1.gwb");
	assert_string_equal(names[2], "sub-042_feeder.3_2026-03-03_r0.gwb");
	assert_string_equal(names[3], "sub-042_feeder.3_2026-03-11_r0.gwb");
	assert_int_equal(gw_spool_next_revision(spool, b->gateway_id, d), 2);
	assert_int_equal(gw_spool_next_revision(spool, b->gateway_id, d + 1), 0);

	struct gw_batch *back;
	snprintf(path, sizeof(path), "%s/ready/%s", spool, names[1]);
	assert_int_equal(gw_batch_read_file(path, &back, NULL), 0);
	assert_int_equal(back->revision, 1);
	gw_batch_free(back);

	assert_int_equal(gw_spool_mark_done(spool, names[0]), 0);
	assert_int_equal(gw_spool_quarantine(spool, names[1]), 0);
	assert_int_equal(count_files("ready"), 2);
	assert_int_equal(count_files("done"), 1);
	assert_int_equal(count_files("quarantine"), 1);
	/* revisions count what was uploaded and set aside too */
	assert_int_equal(gw_spool_next_revision(spool, b->gateway_id, d), 2);
	assert_int_equal(gw_spool_mark_done(spool, "no-such-file.gwb"), GW_EIO);
	gw_spool_list_free(names, n);
	gw_batch_free(b);

	snprintf(path, sizeof(path), "%s/ready/x.gwb", spool);
	assert_int_equal(gw_batch_read_file(path, &back, NULL), GW_ENOTFOUND);
	char cmd[700];
	snprintf(cmd, sizeof(cmd), "rm -rf '%.*s'", (int)(strlen(spool) - 6), spool);
	assert_int_equal(system(cmd), 0);
}

static void spool_unwritable(void **state)
{
	(void)state;
	if (geteuid() == 0) {
		/* root writes anywhere: use a path under a regular file */
		assert_int_equal(gw_spool_open("/proc/version/spool"), GW_EIO);
	} else {
		assert_int_equal(gw_spool_open("/proc/spool"), GW_EIO);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(damage_detected),
		cmocka_unit_test(spool_write_list_move),
		cmocka_unit_test(spool_unwritable),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
