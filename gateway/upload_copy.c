/* SPDX-License-Identifier: MIT */
/*
 * upload_copy.c - a batch in PostgreSQL's binary COPY format, streamed to
 * the server in chunks of about COPY_CHUNK bytes: the rows of the staging
 * table pg_temp.gw_stage (the batch's header, its meters, daily registers
 * and events, told apart by the column k) and the interval readings of
 * one partition the server named. upload.c says when each is sent.
 *
 * Binary COPY carries integers and times as they are and text without any
 * escaping, so no value of a batch is ever part of an SQL text. Fields
 * are big-endian (gw_wbuf_be, bytes.c); a field is its length (-1: NULL)
 * and its bytes; a row starts with its number of fields.
 */
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "batch.h"
#include "bytes.h"
#include "gw.h"
#include "reading.h"
#include "upload_int.h"

#define COPY_CHUNK (256 * 1024)

/* Columns of pg_temp.gw_stage (k, meter_id, obis, day, ts, ts2, v1, v2,
 * v3, n1, n2, n3, unit, quality, detail) and of the interval readings
 * (meter_id, obis, ts, value, scale, unit), as upload.c's COPY names them. */
#define STAGE_FIELDS 15
#define INTERVAL_FIELDS 6

static void cb_header(struct gw_wbuf *cb)
{
	static const unsigned char sig[11] = "PGCOPY\n\377\r\n";

	gw_wbuf_put(cb, sig, sizeof(sig)); /* includes the final '\0' */
	gw_wbuf_be(cb, 0, 4);              /* flags: no OIDs */
	gw_wbuf_be(cb, 0, 4);              /* no header extension */
}

static void cb_trailer(struct gw_wbuf *cb)
{
	gw_wbuf_be(cb, 0xFFFF, 2);
}

static void cb_tuple(struct gw_wbuf *cb, int fields)
{
	gw_wbuf_be(cb, (uint64_t)fields, 2);
}

static void f_null(struct gw_wbuf *cb)
{
	gw_wbuf_be(cb, 0xFFFFFFFFu, 4);
}

/* Text as it is (the server checks that it is valid UTF-8). */
static void f_text(struct gw_wbuf *cb, const char *s)
{
	size_t n = strlen(s);

	gw_wbuf_be(cb, n, 4);
	gw_wbuf_put(cb, s, n);
}

/* Text that may be empty or absent: NULL then. */
static void f_text_or_null(struct gw_wbuf *cb, const char *s)
{
	if (!s || !*s)
		f_null(cb);
	else
		f_text(cb, s);
}

static void f_i64(struct gw_wbuf *cb, int64_t v)
{
	gw_wbuf_be(cb, 8, 4);
	gw_wbuf_be(cb, (uint64_t)v, 8);
}

static void f_i16(struct gw_wbuf *cb, int16_t v)
{
	gw_wbuf_be(cb, 2, 4);
	gw_wbuf_be(cb, (uint64_t)(uint16_t)v, 2);
}

static void f_char(struct gw_wbuf *cb, char c)
{
	gw_wbuf_be(cb, 1, 4);
	gw_wbuf_put(cb, &c, 1);
}

/* A civil day number (days since 1970-01-01) as a date. */
static void f_date(struct gw_wbuf *cb, int32_t day)
{
	gw_wbuf_be(cb, 4, 4);
	gw_wbuf_be(cb, (uint64_t)(uint32_t)(day - PG_EPOCH_DAY), 4);
}

/* Unix milliseconds as a timestamptz (microseconds since 2000-01-01). */
static void f_ts(struct gw_wbuf *cb, int64_t ms)
{
	gw_wbuf_be(cb, 8, 4);
	gw_wbuf_be(cb, (uint64_t)((ms - PG_EPOCH_MS) * 1000), 8);
}

static void f_nulls(struct gw_wbuf *cb, int n)
{
	while (n-- > 0)
		f_null(cb);
}

/* Sends what the buffer holds. Returns 0 or a GW_E* code. */
static int cb_flush(PGconn *conn, struct gw_wbuf *cb)
{
	if (cb->oom)
		return GW_ENOMEM;
	if (cb->n == 0)
		return 0;
	if (PQputCopyData(conn, (const char *)cb->p, (int)cb->n) != 1)
		return GW_EIO;
	cb->n = 0;
	return 0;
}

static int cb_maybe_flush(PGconn *conn, struct gw_wbuf *cb)
{
	return cb->n >= COPY_CHUNK || cb->oom ? cb_flush(conn, cb) : 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 'b': the batch's header row, with the range of its readings and its
 * counts, which gw_end_batch() checks against what arrived. */
static void stage_header(struct gw_wbuf *cb, const struct gw_batch *b,
			 uint32_t crc)
{
	int64_t first = 0, last = 0;
	size_t n_interval = 0;
	int have_ts = 0;

	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];

		n_interval += s->n;
		for (uint32_t j = 0; j < s->n; j++) {
			if (!have_ts || s->ts_ms[j] < first)
				first = s->ts_ms[j];
			if (!have_ts || s->ts_ms[j] > last)
				last = s->ts_ms[j];
			have_ts = 1;
		}
	}
	cb_tuple(cb, STAGE_FIELDS);
	f_char(cb, 'b');
	f_text(cb, b->gateway_id);
	f_text_or_null(cb, b->timezone);
	f_date(cb, b->day);
	if (have_ts) {
		f_ts(cb, first);
		f_ts(cb, last);
	} else {
		f_nulls(cb, 2);
	}
	f_i64(cb, b->revision);
	f_i64(cb, crc);
	f_i64(cb, b->created_ms);
	f_i64(cb, (int64_t)b->n_days);
	f_i64(cb, (int64_t)n_interval);
	f_i64(cb, (int64_t)b->n_events);
	f_nulls(cb, 3);
}

/* 'm': each meter the batch names, once. Returns 0 or a GW_E* code. */
static int stage_meters(PGconn *conn, struct gw_wbuf *cb,
			const struct gw_batch *b)
{
	size_t n_ids = b->n_days + b->n_series + b->n_events, k = 0;
	const char **ids = malloc((n_ids ? n_ids : 1) * sizeof(*ids));
	int rc = 0;

	if (!ids)
		return GW_ENOMEM;
	for (size_t i = 0; i < b->n_days; i++)
		ids[k++] = b->days[i].meter_id;
	for (size_t i = 0; i < b->n_series; i++)
		ids[k++] = b->series[i].meter_id;
	for (size_t i = 0; i < b->n_events; i++)
		ids[k++] = b->events[i].meter_id;
	qsort(ids, n_ids, sizeof(*ids), cmp_str);
	for (size_t i = 0; i < n_ids && rc == 0; i++) {
		if (i > 0 && strcmp(ids[i], ids[i - 1]) == 0)
			continue;
		cb_tuple(cb, STAGE_FIELDS);
		f_char(cb, 'm');
		f_text(cb, ids[i]);
		f_nulls(cb, STAGE_FIELDS - 2);
		rc = cb_maybe_flush(conn, cb);
	}
	free(ids);
	return rc;
}

/* 'd': the daily registers. Returns 0 or a GW_E* code. */
static int stage_days(PGconn *conn, struct gw_wbuf *cb,
		      const struct gw_batch *b)
{
	int rc = 0;

	for (size_t i = 0; i < b->n_days && rc == 0; i++) {
		const struct gw_day_register *d = &b->days[i];

		cb_tuple(cb, STAGE_FIELDS);
		f_char(cb, 'd');
		f_text(cb, d->meter_id);
		f_text(cb, d->obis);
		f_nulls(cb, 3); /* day (the batch's), ts, ts2 */
		f_i64(cb, d->start_value);
		f_i64(cb, d->end_value);
		f_i64(cb, d->consumption);
		f_i64(cb, d->readings);
		f_i64(cb, d->minutes_missing);
		f_null(cb);
		f_text_or_null(cb, gw_unit_name((enum gw_unit)d->unit));
		/* An unknown code goes as NULL, which the server refuses:
		 * the batch fails as a whole, with the server's message. */
		f_text_or_null(cb, gw_quality_name((enum gw_quality)d->quality));
		f_null(cb);
		rc = cb_maybe_flush(conn, cb);
	}
	return rc;
}

/* 'e': the events. Returns 0 or a GW_E* code. */
static int stage_events(PGconn *conn, struct gw_wbuf *cb,
			const struct gw_batch *b)
{
	int rc = 0;

	for (size_t i = 0; i < b->n_events && rc == 0; i++) {
		const struct gw_event *e = &b->events[i];

		cb_tuple(cb, STAGE_FIELDS);
		f_char(cb, 'e');
		f_text(cb, e->meter_id);
		f_text(cb, e->obis);
		f_null(cb);
		f_ts(cb, e->ts_ms);
		f_nulls(cb, 8);
		f_text_or_null(cb, gw_event_name((enum gw_event_kind)e->kind));
		f_text(cb, e->detail);
		rc = cb_maybe_flush(conn, cb);
	}
	return rc;
}

int gw_upload_copy_stage(PGconn *conn, struct gw_wbuf *cb,
			 const struct gw_batch *b, uint32_t crc)
{
	int rc;

	cb_header(cb);
	stage_header(cb, b, crc);
	rc = stage_meters(conn, cb, b);
	if (rc == 0)
		rc = stage_days(conn, cb, b);
	if (rc == 0)
		rc = stage_events(conn, cb, b);
	cb_trailer(cb);
	return rc ? rc : cb_flush(conn, cb);
}

int gw_upload_copy_interval(PGconn *conn, struct gw_wbuf *cb,
			    const struct gw_batch *b,
			    const struct gw_upload_target *t, size_t *sent)
{
	int rc = 0;

	cb_header(cb);
	for (size_t i = 0; i < b->n_series && rc == 0; i++) {
		const struct gw_series *s = &b->series[i];
		const char *unit = gw_unit_name((enum gw_unit)s->unit);

		for (uint32_t k = 0; k < s->n && rc == 0; k++) {
			if ((t->has_from && s->ts_ms[k] < t->from) ||
			    (t->has_to && s->ts_ms[k] >= t->to))
				continue;
			cb_tuple(cb, INTERVAL_FIELDS);
			f_text(cb, s->meter_id);
			f_text(cb, s->obis);
			f_ts(cb, s->ts_ms[k]);
			f_i64(cb, s->value[k]);
			f_i16(cb, s->scale);
			f_text_or_null(cb, unit);
			(*sent)++;
			rc = cb_maybe_flush(conn, cb);
		}
	}
	cb_trailer(cb);
	return rc ? rc : cb_flush(conn, cb);
}
