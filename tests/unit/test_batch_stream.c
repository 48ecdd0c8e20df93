/* SPDX-License-Identifier: MIT */
/*
 * test_batch_stream.c - the sealed day streamed (gw_batch_encode_src,
 * gw_batcher_advance_src, gw_spool_write_src) and the batching core's
 * encoded points: the same bytes as before and as the batch built whole.
 *
 *   - the encoder gives, for a fixed batch with every kind of column
 *     content, the very bytes (length and CRC-32) the encoder before
 *     streaming gave (measured with it, commit eeba97d), whether it keeps
 *     the value column's second plane whole, in part or not at all;
 *   - the other compressions (spool_compression) read back as the same
 *     batch;
 *   - a day streamed into the spool is the same file as the batch built
 *     whole and encoded (the seal's source frees its daily records and
 *     times as they are written: encoded again it is refused); a write
 *     that fails part way leaves nothing in tmp/ and says why;
 *   - registers with values at the int64 limits, readings out of order,
 *     a reading replaced at the same time and points pruned at the edge
 *     come out of the encoded store exactly as they went in.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch.h"
#include "batchfile.h"
#include "bytes.h"
#include "spool.h"
#include "tz.h"

static uint64_t rs = 0x2545F4914F6CDD1DULL;

static uint32_t rnd(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (uint32_t)(rs >> 16);
}

/* A batch with every kind of content: series with the same times as the
 * one before and with their own, an empty series between them, values
 * with deltas of one byte and of many (and the int64 limits), OBIS codes
 * out of order, daily records of every quality, events. */
static struct gw_batch *fixed_batch(void)
{
	static const char *const obis[5] = {"32.7.0", "1.8.0", "2.8.0", "1.8.0", "14.7.0"};
	struct gw_batch *b = calloc(1, sizeof(*b));
	size_t ns = 3000;

	rs = 0x2545F4914F6CDD1DULL;
	snprintf(b->gateway_id, sizeof(b->gateway_id), "sub-042");
	snprintf(b->timezone, sizeof(b->timezone), "Europe/Berlin");
	b->day = 20514;
	b->revision = 3;
	b->created_ms = 1772500000123LL;
	b->series = calloc(ns, sizeof(*b->series));
	b->n_series = ns;
	for (size_t i = 0; i < ns; i++) {
		struct gw_series *s = &b->series[i];
		snprintf(s->meter_id, sizeof(s->meter_id), "m%04zu", i / 5);
		snprintf(s->obis, sizeof(s->obis), "%s", obis[i % 5]);
		s->unit = (uint8_t)(i % 5 == 0 ? GW_UNIT_V : GW_UNIT_WH);
		s->scale = (int8_t)(i % 7 == 0 ? -1 : 0);
		s->n = i % 23 == 7 ? 0 : 1 + rnd() % 150;
		s->ts_ms = calloc(s->n + 1, sizeof(int64_t));
		s->value = calloc(s->n + 1, sizeof(int64_t));
		int own = i % 5 == 0 || i % 11 == 3;
		for (uint32_t k = 0; k < s->n; k++) {
			if (!own && i > 0 && b->series[i - 1].n == s->n)
				s->ts_ms[k] = b->series[i - 1].ts_ms[k];
			else
				s->ts_ms[k] = 1772406000000LL + (int64_t)k * 900000 + rnd() % 300;
			int64_t step = rnd() % 16 == 0 ? (int64_t)rnd() * 1000 : rnd() % 200;
			s->value[k] = k ? s->value[k - 1] + step : (int64_t)(rnd() % 1000000);
		}
		if (i == 42 && s->n >= 2) {
			s->value[0] = INT64_MIN;
			s->value[1] = INT64_MAX;
		}
	}
	b->n_days = 60;
	b->days = calloc(b->n_days, sizeof(*b->days));
	for (size_t i = 0; i < b->n_days; i++) {
		struct gw_day_register *d = &b->days[i];
		snprintf(d->meter_id, sizeof(d->meter_id), "m%04zu", i / 2);
		snprintf(d->obis, sizeof(d->obis), i % 2 ? "2.8.0" : "1.8.0");
		d->unit = GW_UNIT_WH;
		d->quality = (uint8_t)(i % 4);
		d->start_value = 1000000 + (int64_t)rnd();
		d->consumption = rnd() % 20000;
		d->end_value = d->start_value + d->consumption + (i % 9 == 0 ? 77 : 0);
		d->readings = 96 - i % 3;
		d->minutes_missing = (uint32_t)(i % 5) * 15;
	}
	b->n_events = 7;
	b->events = calloc(b->n_events, sizeof(*b->events));
	for (size_t i = 0; i < b->n_events; i++) {
		struct gw_event *e = &b->events[i];
		snprintf(e->meter_id, sizeof(e->meter_id), "m%04zu", i);
		snprintf(e->obis, sizeof(e->obis), i % 2 ? "1.8.0" : "");
		e->ts_ms = 1772406000000LL + (int64_t)i * 3600000;
		e->kind = (uint8_t)(1 + i % 5);
		snprintf(e->detail, sizeof(e->detail), "%zu -> %zu Wh", i * 10, i * 5);
	}
	return b;
}

/* The length and CRC-32 the encoder before streaming (compress2 over the
 * whole payload) gave for fixed_batch(). */
#define FIXED_LEN 644393
#define FIXED_CRC 0x06f22427u

static void encoder_same_bytes_as_before(void **state)
{
	(void)state;
	struct gw_batch *b = fixed_batch();
	uint8_t *buf;
	size_t len;

	assert_int_equal(gw_batch_encode(b, &buf, &len), 0);
	uint32_t crc = gw_crc32(buf, len - 4); /* (over the CRC too: a constant) */
	if (getenv("GW_PRINT_FIXED"))
		print_message("len %zu crc 0x%08x\n", len, (unsigned)crc);
	assert_int_equal(len, FIXED_LEN);
	assert_int_equal(crc, FIXED_CRC);
	/* and it reads back */
	struct gw_batch *back;
	assert_int_equal(gw_batch_decode(buf, len, &back, NULL), 0);
	assert_int_equal(back->n_series, b->n_series);
	assert_int_equal(back->series[42].value[0], INT64_MIN);
	assert_int_equal(back->series[42].value[1], INT64_MAX);
	gw_batch_free(back);
	free(buf);
	gw_batch_free(b);
}

/* The value column's second plane kept whole while the first is laid
 * out, kept in part (the series after the bound read again) or not at
 * all: the same bytes. */
static void second_plane_bound_same_bytes(void **state)
{
	(void)state;
	static const size_t keep[] = {0, 1, 5000, 100000};
	struct gw_batch *b = fixed_batch();

	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++) {
		uint8_t *buf;
		size_t len, old = gw_batch_set_hi_keep(keep[i]);
		int rc = gw_batch_encode(b, &buf, &len);
		gw_batch_set_hi_keep(old);
		assert_int_equal(rc, 0);
		assert_int_equal(len, FIXED_LEN);
		assert_int_equal(gw_crc32(buf, len - 4), FIXED_CRC);
		free(buf);
	}
	gw_batch_free(b);
}

/* ---- a batcher sealing into a list of file images ---- */

struct images {
	uint8_t *img[64];
	size_t len[64];
	int n;
	uint32_t rev[64]; /* next revision per day slot (day % 64) */
	const char *spool; /* also streamed into this spool */
};

static void store_image(struct images *im, uint8_t *buf, size_t len)
{
	assert_true(im->n < 64);
	im->img[im->n] = buf;
	im->len[im->n] = len;
	im->n++;
}

static int whole_sealed(void *ctx, struct gw_batch *b)
{
	struct images *im = ctx;
	uint8_t *buf;
	size_t len;

	b->revision = im->rev[b->day % 64]++;
	assert_int_equal(gw_batch_encode(b, &buf, &len), 0);
	store_image(im, buf, len);
	gw_batch_free(b);
	return 0;
}

static int mem_put(void *ctx, const uint8_t *p, size_t n)
{
	struct gw_wbuf *w = ctx;

	gw_wbuf_put(w, p, n);
	return w->oom ? GW_ENOMEM : 0;
}

static int src_sealed(void *ctx, struct gw_batch_src *src)
{
	struct images *im = ctx;
	struct gw_wbuf w = {0};
	uint8_t hdr[GW_BATCH_HDR_MAX];
	size_t hlen;

	src->batch->revision = im->rev[src->batch->day % 64]++;
	if (im->spool) {
		/* the day streamed into a spool: the file is the image (a
		 * seal's source is encoded once: it frees its columns as it
		 * writes them) */
		char name[256], path[600];
		assert_int_equal(gw_spool_write_src(im->spool, src), 0);
		assert_null(src->days);
		assert_int_equal(gw_batch_filename(src->batch, name, sizeof(name)), 0);
		snprintf(path, sizeof(path), "%s/ready/%s", im->spool, name);
		FILE *f = fopen(path, "rb");
		assert_non_null(f);
		uint8_t buf[65536];
		size_t k;
		while ((k = fread(buf, 1, sizeof(buf), f)) > 0)
			gw_wbuf_put(&w, buf, k);
		fclose(f);
		assert_false(w.oom);
		/* encoded again, it has no daily records left to write */
		if (src->batch->n_days) {
			struct gw_wbuf again = {0};
			assert_int_equal(gw_batch_encode_src(src, mem_put, &again, hdr, &hlen),
					 GW_EINVAL);
			free(again.p);
		}
	} else {
		assert_int_equal(gw_batch_encode_src(src, mem_put, &w, hdr, &hlen), 0);
		memcpy(w.p, hdr, hlen);
	}
	store_image(im, w.p, w.n);
	return 0;
}

static void free_images(struct images *im)
{
	for (int i = 0; i < im->n; i++)
		free(im->img[i]);
}

static const struct gw_batcher_params params = {
	.gateway_id = "sub-042", .poll_interval_ms = 900000,
	.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
	.seal_delay_ms = 1800000, .max_power_w = 50000,
	.revision_window_days = 2,
};

/* Random readings of 4 meters (1.8.0 in Wh, 32.7.0 in V with values up
 * to the int64 limits) for 6 days: gaps, readings late and out of order,
 * readings read twice with another value, a counter reset. Meter m1 is
 * read at m0's times, and a voltage reading now and then is missing:
 * series with the times of the series before them (m1's after m0's),
 * and series with all but the last of them, or one fewer (the times
 * column's single 0, and the times that follow when n differs). */
static size_t make_readings(struct gw_reading **out, int64_t t0)
{
	size_t cap = 4 * 2 * 6 * 96 + 64, n = 0;
	struct gw_reading *r = calloc(cap, sizeof(*r));
	int64_t energy[4] = {1000, 5000000, 77, 0};

	assert_non_null(r);
	for (int c = 0; c < 6 * 96; c++) {
		for (int m = 0; m < 4; m++) {
			if (m == 2 && c > 150 && c < 260)
				continue; /* a gap of more than a day */
			int64_t ts = t0 + (int64_t)c * 900000 + m * 1000 + rnd() % 500;
			if (m == 1)
				ts = r[n - 1].ts_ms; /* m0's time */
			energy[m] += rnd() % 300;
			if (m == 3 && c == 300)
				energy[m] = 5; /* reset */
			int skip = rnd() % 60 == 0; /* no voltage this time */
			for (int k = 0; k < 2 - skip; k++, n++) {
				struct gw_reading *x = &r[n];
				snprintf(x->meter_id, sizeof(x->meter_id), "m%d", m);
				snprintf(x->obis, sizeof(x->obis), k ? "32.7.0" : "1.8.0");
				x->unit = (uint8_t)(k ? GW_UNIT_V : GW_UNIT_WH);
				x->ts_ms = ts;
				uint32_t z = rnd() % 50;
				x->value = !k ? energy[m]
				       : z == 0 ? INT64_MIN : z == 1 ? INT64_MAX
				       : (int64_t)(rnd() % 5000) - 2500;
			}
		}
	}
	/* shuffle within a few cycles: late and out of order */
	for (size_t i = 0; i + 40 < n; i++) {
		if (rnd() % 30)
			continue;
		size_t j = i + rnd() % 40;
		struct gw_reading t = r[i];
		r[i] = r[j];
		r[j] = t;
	}
	/* read twice, another value the second time */
	for (int k = 0; k < 30; k++) {
		r[n] = r[rnd() % (n - 1)];
		if (r[n].unit == GW_UNIT_WH)
			r[n].value += 1;
		else
			r[n].value ^= 7; /* (also at the int64 limits) */
		n++;
	}
	*out = r;
	return n;
}

/* Feeds the readings a cycle at a time, sealing as the clock moves. */
static void feed(struct gw_batcher *b, const struct gw_reading *r, size_t n,
		 int64_t t_end, int stream, struct images *im)
{
	for (size_t i = 0; i < n; i += 8) {
		size_t k = n - i < 8 ? n - i : 8;
		assert_int_equal(gw_batcher_add(b, &r[i], k), 0);
		int64_t now = r[i].ts_ms + 60000;
		int rc = stream ? gw_batcher_advance_src(b, now, src_sealed, im)
				: gw_batcher_advance(b, now, whole_sealed, im);
		assert_true(rc >= 0);
	}
	int rc = stream ? gw_batcher_advance_src(b, t_end, src_sealed, im)
			: gw_batcher_advance(b, t_end, whole_sealed, im);
	assert_true(rc >= 0);
}

static void streamed_day_is_the_batch_built_whole(void **state)
{
	(void)state;
	int32_t day0;
	char dir[] = "/tmp/gwstream.XXXXXX";

	assert_int_equal(gw_day_parse("2026-03-28", &day0), 0); /* DST */
	assert_non_null(mkdtemp(dir));
	assert_int_equal(gw_spool_open(dir), 0);
	for (int round = 0; round < 20; round++) {
		int64_t t0 = gw_tz_day_start(day0) + (int64_t)(rnd() % 7200000);
		struct gw_reading *r;
		size_t n = make_readings(&r, t0);
		int64_t t_end = gw_tz_day_start(day0 + 8);
		struct images whole = {0}, stream = {.spool = round < 2 ? dir : NULL};
		struct gw_batcher *a = gw_batcher_new(&params);
		struct gw_batcher *b = gw_batcher_new(&params);

		feed(a, r, n, t_end, 0, &whole);
		feed(b, r, n, t_end, 1, &stream);
		assert_true(whole.n >= 6);
		assert_int_equal(whole.n, stream.n);
		for (int i = 0; i < whole.n; i++) {
			assert_int_equal(whole.len[i], stream.len[i]);
			assert_memory_equal(whole.img[i], stream.img[i], whole.len[i]);
		}
		free_images(&whole);
		free_images(&stream);
		gw_batcher_free(a);
		gw_batcher_free(b);
		free(r);
		if (round == 1) {
			char cmd[64];
			snprintf(cmd, sizeof(cmd), "rm -rf '%s'/ready/*", dir);
			assert_int_equal(system(cmd), 0);
		}
	}
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

/* ---- the encoded store gives back what went in ---- */

static int keep_batch(void *ctx, struct gw_batch *b)
{
	struct gw_batch **out = ctx;

	assert_null(*out);
	*out = b;
	return 0;
}

static void store_keeps_points_exactly(void **state)
{
	(void)state;
	int32_t day;
	enum { N = 400 };
	int64_t ts[N], val[N];

	assert_int_equal(gw_day_parse("2026-06-10", &day), 0);
	int64_t s = gw_tz_day_start(day);
	struct gw_batcher *b = gw_batcher_new(&params);
	/* distinct times in the day (steps of 1 ms to 20 minutes), values
	 * anywhere in int64, added in random order, some twice */
	int64_t t = s;
	for (int i = 0; i < N; i++) {
		t += 1 + (rnd() % 4 == 0 ? (int64_t)(rnd() % 1200000) : rnd() % 3000);
		ts[i] = t;
	}
	assert_true(t < s + 86400000);
	for (int i = 0; i < N; i++) {
		uint32_t z = rnd() % 6;
		val[i] = z == 0 ? INT64_MIN + (int64_t)(rnd() % 3) : z == 1 ? INT64_MAX - (int64_t)(rnd() % 3)
		       : z == 2 ? 0 : (int64_t)((uint64_t)rnd() << 32 | rnd());
	}
	int order[N];
	for (int i = 0; i < N; i++)
		order[i] = i;
	for (int i = N - 1; i > 0; i--) {
		int j = (int)(rnd() % (uint32_t)(i + 1)), x = order[i];
		order[i] = order[j];
		order[j] = x;
	}
	for (int k = 0; k < N + 50; k++) {
		int i = k < N ? order[k] : order[rnd() % N];
		struct gw_reading r = {.ts_ms = ts[i], .unit = GW_UNIT_V};
		snprintf(r.meter_id, sizeof(r.meter_id), "m1");
		snprintf(r.obis, sizeof(r.obis), "32.7.0");
		if (k >= N)
			val[i] ^= 0x5a5a; /* read again: the new value counts */
		r.value = val[i];
		assert_int_equal(gw_batcher_add(b, &r, 1), 0);
	}
	struct gw_batch *got = NULL;
	assert_int_equal(gw_batcher_advance(b, s + 86400000 + params.seal_delay_ms, keep_batch,
					    &got), 1);
	assert_non_null(got);
	assert_int_equal(got->n_series, 1);
	assert_int_equal(got->series[0].n, N);
	for (int i = 0; i < N; i++) {
		assert_int_equal(got->series[0].ts_ms[i], ts[i]);
		assert_int_equal(got->series[0].value[i], val[i]);
	}
	gw_batch_free(got);
	gw_batcher_free(b);
}

/* ---- failures ---- */

static int failing_put(void *ctx, const uint8_t *p, size_t n)
{
	size_t *left = ctx;

	(void)p;
	if (n > *left)
		return GW_ENOSPC;
	*left -= n;
	return 0;
}

static int batch_series(void *ctx, size_t i, int points, struct gw_series *out)
{
	const struct gw_batch *b = ctx;

	(void)points;
	*out = b->series[i];
	return 0;
}

static void stream_failure_leaves_nothing(void **state)
{
	(void)state;
	struct gw_batch *b = fixed_batch();
	struct gw_batch head = *b;
	struct gw_batch_src src = {.batch = &head, .n_series = b->n_series,
				   .series = batch_series, .ctx = b};
	uint8_t hdr[GW_BATCH_HDR_MAX];
	size_t hlen, left = SIZE_MAX;
	char dir[] = "/tmp/gwstream.XXXXXX", sub[64], cmd[64];

	head.series = NULL;
	head.n_series = 0;
	for (size_t i = 0; i < b->n_series; i++)
		src.n_readings += b->series[i].n;
	assert_int_equal(gw_batch_encode_src(&src, failing_put, &left, hdr, &hlen), 0);
	assert_int_equal(SIZE_MAX - left, FIXED_LEN);
	/* a put that fails part way (a full disk): its error comes back */
	left = 100000;
	assert_int_equal(gw_batch_encode_src(&src, failing_put, &left, hdr, &hlen),
			 GW_ENOSPC);
	/* a spool without tmp/: an error, nothing in ready/ */
	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/ready", dir);
	assert_int_equal(mkdir(sub, 0750), 0);
	assert_int_equal(gw_spool_write_src(dir, &src), GW_EIO);
	DIR *d = opendir(sub);
	assert_non_null(d);
	struct dirent *de;
	int files = 0;
	while ((de = readdir(d)) != NULL)
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	gw_batch_free(b);
}

/* spool_compression zlib-1 and zlib-rle: other bytes (one zlib stream
 * still) that read back as the very batch: encoded again at level 6 it
 * is the fixed batch's file. A value out of the enum is refused. */
static void other_compressions_read_back(void **state)
{
	(void)state;
	struct gw_batch *b = fixed_batch();
	struct gw_batch head = *b;
	struct gw_batch_src src = {.batch = &head, .n_series = b->n_series,
				   .series = batch_series, .ctx = b};
	uint8_t hdr[GW_BATCH_HDR_MAX];
	size_t hlen;

	head.series = NULL;
	head.n_series = 0;
	for (size_t i = 0; i < b->n_series; i++)
		src.n_readings += b->series[i].n;
	for (int m = GW_DEFLATE_1; m <= GW_DEFLATE_RLE; m++) {
		struct gw_wbuf w = {0};
		struct gw_batch *back;
		uint8_t *again;
		size_t len;
		src.deflate = m;
		assert_int_equal(gw_batch_encode_src(&src, mem_put, &w, hdr, &hlen), 0);
		memcpy(w.p, hdr, hlen);
		assert_true(w.n != FIXED_LEN); /* not level 6's bytes */
		assert_int_equal(gw_batch_decode(w.p, w.n, &back, NULL), 0);
		assert_int_equal(gw_batch_encode(back, &again, &len), 0);
		assert_int_equal(len, FIXED_LEN);
		assert_int_equal(gw_crc32(again, len - 4), FIXED_CRC);
		free(again);
		gw_batch_free(back);
		free(w.p);
	}
	struct gw_wbuf w = {0};
	src.deflate = GW_DEFLATE_RLE + 1;
	assert_int_equal(gw_batch_encode_src(&src, mem_put, &w, hdr, &hlen), GW_EINVAL);
	free(w.p);
	gw_batch_free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(encoder_same_bytes_as_before),
		cmocka_unit_test(second_plane_bound_same_bytes),
		cmocka_unit_test(streamed_day_is_the_batch_built_whole),
		cmocka_unit_test(store_keeps_points_exactly),
		cmocka_unit_test(stream_failure_leaves_nothing),
		cmocka_unit_test(other_compressions_read_back),
	};
	gw_log_set_level(GW_LOG_ERROR);
	if (gw_tz_set("Europe/Berlin"))
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
