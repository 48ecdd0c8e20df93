/* SPDX-License-Identifier: MIT */
/*
 * fuzz_journal.c - libFuzzer target for the journal segment reader
 * (gw_journal_read_buf in gateway/journal.c: the code that replays the
 * open days at every start, after a crash or a power loss). The first
 * input byte picks a mode:
 *
 *   even: the rest is a whole segment file, as is;
 *   odd:  the second byte is a count of zeros to put at the end (a power
 *         loss leaves the unsynced end of a file as zeros), the rest is a
 *         list of record payloads, each a u16 little-endian length and
 *         that many bytes, written here behind a valid header with their
 *         length and CRC-32 set right (so that mutations reach the record
 *         decoder).
 *
 * Whatever the bytes, reading must end cleanly (no crash, leak or
 * undefined behaviour) with a verdict that holds up:
 *   - the good length is within the segment, and the segment is whole
 *     exactly when the good length is all of it;
 *   - the good part alone reads whole, with the same records;
 *   - the good part followed by zeros reads as "zero-filled tail", cut at
 *     the same place, with the same records (what replay after a power
 *     loss relies on);
 *   - every reading and event handed out has terminated strings and a
 *     known unit.
 * `make fuzz` runs it for FUZZ_TIME seconds; tests/integration/
 * journal_fuzz.sh runs it briefly in `make check`.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "journal_int.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct tally {
	unsigned long cycles, readings, events;
	uint64_t sum; /* of the values and times seen, to compare two reads */
};

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void check_str(const char *s, size_t cap)
{
	if (memchr(s, '\0', cap) == NULL)
		abort();
}

static int on_cycle(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct tally *t = ctx;

	if (bus < 0 || bus > 65535 || n == 0 || r == NULL)
		abort();
	for (size_t i = 0; i < n; i++) {
		check_str(r[i].meter_id, sizeof(r[i].meter_id));
		check_str(r[i].obis, sizeof(r[i].obis));
		if (r[i].unit >= GW_UNIT_COUNT_)
			abort();
		t->sum += (uint64_t)r[i].value ^ (uint64_t)r[i].ts_ms ^
			  (uint64_t)(uint8_t)r[i].scale ^ r[i].status;
	}
	t->cycles++;
	t->readings += n;
	return 0;
}

static int on_event(void *ctx, const struct gw_event *ev, int32_t day)
{
	struct tally *t = ctx;

	check_str(ev->meter_id, sizeof(ev->meter_id));
	check_str(ev->obis, sizeof(ev->obis));
	check_str(ev->detail, sizeof(ev->detail));
	t->events++;
	t->sum += (uint64_t)ev->ts_ms ^ (uint32_t)day ^ ev->kind;
	return 0;
}

static int same(const struct tally *a, const struct tally *b)
{
	return a->cycles == b->cycles && a->readings == b->readings &&
	       a->events == b->events && a->sum == b->sum;
}

/* A segment of the framed records in data (see above), zeros at the end. */
static uint8_t *build(const uint8_t *data, size_t size, size_t *len, int version)
{
	size_t zeros = size > 0 ? (size_t)data[0] : 0, cap, n = GW_JOURNAL_HDR;
	uint8_t *seg;

	data += size > 0;
	size -= size > 0;
	cap = GW_JOURNAL_HDR + size * 5 + zeros + 1; /* a record per 2 bytes */
	seg = calloc(1, cap);
	if (!seg)
		return NULL;
	memcpy(seg, GW_JOURNAL_MAGIC, 4);
	put_le(seg + 4, (uint64_t)version, 2);
	while (size >= 2) {
		size_t l = (size_t)data[0] | (size_t)data[1] << 8;
		data += 2;
		size -= 2;
		if (l > size)
			l = size;
		put_le(seg + n, l, 4);
		put_le(seg + n + 4, gw_crc32(data, l), 4);
		if (l)
			memcpy(seg + n + 8, data, l);
		n += 8 + l;
		data += l;
		size -= l;
	}
	*len = n + zeros; /* calloc'ed: the tail is zeros */
	return seg;
}

/* ---- round trip ---- */

struct trip {
	const struct gw_reading *want; /* every reading written, in order */
	size_t n, at;
};

static int check_cycle(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct trip *t = ctx;

	if (bus != 3 || t->at + n > t->n ||
	    memcmp(r, t->want + t->at, n * sizeof(*r)) != 0)
		abort();
	t->at += n;
	return 0;
}

/* Takes one byte (0 when none are left). */
static uint8_t take(const uint8_t **p, size_t *left)
{
	if (*left == 0)
		return 0;
	(*left)--;
	return *(*p)++;
}

/* Cycles from the bytes: a cycle is a count byte (0..63 readings; a
 * count with bit 6 set makes the writer start afresh first, as after a
 * failed append), then per reading a byte choosing its meter (of 16) and
 * register (of 4) and what changes: its time and value by a delta of 1
 * to 8 bytes, sign-extended (extremes included), its scale, unit and
 * status. Every reading has zeroed padding, as the reader's have. */
static void round_trip(const uint8_t *p, size_t left)
{
	static struct gw_reading want[4096], cyc[64];
	static const char *obis[4] = {"1.8.0", "2.8.0", "32.7.0", ""};
	struct gw_jcodec c = {.fresh = 1};
	struct gw_wbuf seg = {0};
	int64_t ts[64] = {0}, val[64] = {0};
	size_t nw = 0;

	gw_wbuf_put(&seg, GW_JOURNAL_MAGIC, 4);
	gw_wbuf_le(&seg, GW_JOURNAL_VERSION, 2);
	gw_wbuf_le(&seg, 0, 2);
	while (left > 0 && nw < 4096 - 64) {
		uint8_t cnt = take(&p, &left);
		if (cnt & 0x40)
			gw_jcodec_reset(&c);
		size_t n = cnt & 0x3f;
		for (size_t i = 0; i < n; i++) {
			uint8_t k = take(&p, &left), sel = k & 0x3f;
			struct gw_reading *x = &cyc[i];
			memset(x, 0, sizeof(*x));
			snprintf(x->meter_id, sizeof(x->meter_id), "M%u", sel >> 2);
			snprintf(x->obis, sizeof(x->obis), "%s", obis[sel & 3]);
			uint8_t w = take(&p, &left);
			uint64_t d = 0;
			for (int b = 0; b <= (w & 7); b++)
				d = d << 8 | take(&p, &left);
			if (k & 0x40)
				ts[sel] = gw_wrap_add(ts[sel], gw_to_i64(d << (56 - 8 * (w & 7))) >> (56 - 8 * (w & 7)));
			else
				val[sel] = gw_wrap_add(val[sel], gw_to_i64(d << (56 - 8 * (w & 7))) >> (56 - 8 * (w & 7)));
			x->ts_ms = ts[sel];
			x->value = val[sel];
			if (k & 0x80) {
				uint8_t a = take(&p, &left);
				x->scale = gw_to_i8(take(&p, &left));
				x->unit = (uint8_t)(a % GW_UNIT_COUNT_);
				x->status = (uint8_t)(a >> 4);
			}
		}
		if (n == 0)
			continue;
		size_t at = seg.n;
		gw_wbuf_le(&seg, 0, 8);
		if (gw_jcodec_encode(&c, 3, cyc, n, &seg) != 0 || seg.oom)
			abort();
		put_le(seg.p + at, seg.n - at - 8, 4);
		put_le(seg.p + at + 4, gw_crc32(seg.p + at + 8, seg.n - at - 8), 4);
		memcpy(want + nw, cyc, n * sizeof(*cyc));
		nw += n;
	}
	struct trip t = {.want = want, .n = nw};
	const char *why;
	uint64_t good;
	if (gw_journal_read_buf(seg.p, seg.n, check_cycle, NULL, &t, &why, &good) != 0 ||
	    t.at != nw || good != seg.n)
		abort();
	free(seg.p);
	gw_jcodec_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tally t = {0}, t2 = {0}, t3 = {0};
	const char *why;
	uint64_t good;
	uint8_t *seg;
	size_t len = 0;

	if (size < 1 || size > (1u << 20))
		return 0;
	if (data[0] == 4) {
		round_trip(data + 1, size - 1);
		return 0;
	}
	if ((data[0] & 1) == 0) {
		len = size - 1;
		seg = malloc(len ? len : 1);
		if (!seg)
			return 0;
		if (len)
			memcpy(seg, data + 1, len);
	} else {
		seg = build(data + 1, size - 1, &len,
			    data[0] & 2 ? GW_JOURNAL_V1 : GW_JOURNAL_VERSION);
		if (!seg)
			return 0;
	}
	int rc = gw_journal_read_buf(seg, len, on_cycle, on_event, &t, &why, &good);
	if (why == NULL || good > len)
		abort();
	if (rc == 0 && (good != len || why[0] != '\0'))
		abort();
	if (rc != 0 && rc != GW_ECORRUPT && rc != GW_EVERSION)
		abort();
	if (rc != 0 && why[0] == '\0')
		abort();
	if (rc == GW_ECORRUPT && good >= GW_JOURNAL_HDR) {
		/* the part replay keeps reads whole, with the same records */
		const char *why2;
		uint64_t good2;
		if (gw_journal_read_buf(seg, (size_t)good, on_cycle, on_event, &t2,
					&why2, &good2) != 0 ||
		    good2 != good || !same(&t, &t2))
			abort();
	}
	if (rc != GW_EVERSION && good >= GW_JOURNAL_HDR) {
		/* and followed by zeros, it is cut at the same place */
		size_t z = 1 + (size_t)(data[size - 1] & 0x3f);
		uint8_t *zs = calloc(1, (size_t)good + z);
		const char *why3;
		uint64_t good3;
		if (!zs) {
			free(seg);
			return 0;
		}
		memcpy(zs, seg, (size_t)good);
		if (gw_journal_read_buf(zs, (size_t)good + z, on_cycle, on_event,
					&t3, &why3, &good3) != GW_ECORRUPT ||
		    good3 != good || strcmp(why3, "zero-filled tail") != 0 ||
		    !same(&t, &t3))
			abort();
		free(zs);
	}
	free(seg);
	return 0;
}
