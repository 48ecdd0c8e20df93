/* SPDX-License-Identifier: MIT */
/*
 * journal_read.c - reading journal segments: every record checked (length,
 * CRC, decoding) and handed to the callbacks, and a verdict on what is
 * wrong with a segment that is not whole; see journal.h. journal.c writes
 * the segments and replays them at start through gw_journal_scan_file().
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
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bytes.h"
#include "journal_int.h"

/* A segment's bytes: a file (f) or an image in memory (mem). */
struct src {
	FILE *f;
	const uint8_t *mem;
	uint64_t size; /* bytes in the segment when reading began */
	uint64_t pos;
	int err;       /* errno of a read error, else 0 */
	int version;   /* the segment's, once its header is read */
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

/* The smallest encoded reading: two empty strings' lengths, then
 * ts, value, scale, unit, status. */
#define READING_MIN (1 + 1 + 8 + 8 + 3)

/* Decodes a version-1 cycle record (after its type byte) into sc->rbuf.
 * Returns 0 with *bus, *n set, -1 if it does not decode, -2 when out of
 * memory. */
static int decode_v1_cycle(struct gw_jscan *sc, struct gw_rbuf *r, size_t len,
			   int *bus, size_t *n_out)
{
	*bus = (int)gw_rbuf_le(r, 2);
	uint64_t n = gw_rbuf_le(r, 4);
	if (r->bad || n > (len - r->pos) / READING_MIN)
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
		gw_rbuf_str8(r, rd->meter_id, sizeof(rd->meter_id));
		gw_rbuf_str8(r, rd->obis, sizeof(rd->obis));
		rd->ts_ms = gw_to_i64(gw_rbuf_le(r, 8));
		rd->value = gw_to_i64(gw_rbuf_le(r, 8));
		rd->scale = gw_to_i8((uint8_t)gw_rbuf_le(r, 1));
		rd->unit = (uint8_t)gw_rbuf_le(r, 1);
		rd->status = (uint8_t)gw_rbuf_le(r, 1);
		if (r->bad || rd->unit >= GW_UNIT_COUNT_)
			return -1;
	}
	if (r->pos != r->n)
		return -1;
	*n_out = (size_t)n;
	return 0;
}

/* Decodes one record's payload (len >= 1) and hands it to the callback.
 * A cycle is written out in full (GW_JREC_CYCLE) in a version-1 segment
 * and packed (GW_JREC_PACKED) in a version-2 one; the other kind in a
 * segment is a type this version does not know, skipped as such. Returns
 * 0, -1 if it does not decode (with a good CRC: a writer's bug or damage,
 * treated like a torn record), -2 when out of memory. *cbrc gets the
 * callback's return. */
static int decode_record(struct gw_jscan *sc, const uint8_t *p, size_t len, int *cbrc)
{
	struct gw_rbuf r = {.p = p, .n = len};

	*cbrc = 0;
	uint64_t type = gw_rbuf_le(&r, 1);
	if (r.bad)
		return -1;
	int v1 = sc->version == GW_JOURNAL_V1;
	if ((type == GW_JREC_CYCLE && v1) || (type == GW_JREC_PACKED && !v1)) {
		int bus = 0, d;
		size_t n = 0;
		if (v1)
			d = decode_v1_cycle(sc, &r, len, &bus, &n);
		else
			d = gw_jcodec_decode(&sc->codec, p, len, sc, &bus, &n);
		if (d)
			return d;
		sc->cycles++;
		sc->readings += (unsigned long)n;
		if (sc->cycle && n > 0)
			*cbrc = sc->cycle(sc->ctx, bus, sc->rbuf, n);
		return 0;
	}
	if (type == GW_JREC_EVENT) {
		struct gw_event ev;
		memset(&ev, 0, sizeof(ev));
		int32_t day = gw_to_i32(gw_rbuf_le(&r, 4));
		ev.kind = (uint8_t)gw_rbuf_le(&r, 1);
		ev.ts_ms = gw_to_i64(gw_rbuf_le(&r, 8));
		gw_rbuf_str8(&r, ev.meter_id, sizeof(ev.meter_id));
		gw_rbuf_str8(&r, ev.obis, sizeof(ev.obis));
		gw_rbuf_str8(&r, ev.detail, sizeof(ev.detail));
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
/* Checks the segment header. Returns 0 if it is ours, else as scan_src
 * with v set. */
static int scan_header(struct src *s, struct gw_jverdict *v)
{
	uint8_t hdr[GW_JOURNAL_HDR];
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
		v->fix = GW_JFIX_CUT;
		return GW_ECORRUPT;
	}
	uint64_t ver = gw_le_get(hdr + 4, 2);
	if (memcmp(hdr, GW_JOURNAL_MAGIC, 4) == 0 &&
	    (ver == GW_JOURNAL_V1 || ver == GW_JOURNAL_VERSION)) {
		s->version = (int)ver;
		return 0;
	}
	/* A header this writer or the version-1 one makes, as far as it
	 * matches, then nothing but zeros: the file's size reached the disk,
	 * its data did not (a power loss before the first fsync). Nothing in
	 * it was acknowledged. */
	static const uint8_t ours[2][GW_JOURNAL_HDR] = {
		{'G', 'W', 'J', '1', GW_JOURNAL_VERSION, 0, 0, 0},
		{'G', 'W', 'J', '1', GW_JOURNAL_V1, 0, 0, 0}};
	size_t k = 0;
	for (int o = 0; o < 2; o++) {
		size_t m = 0;
		while (m < GW_JOURNAL_HDR && hdr[m] == ours[o][m])
			m++;
		if (m > k)
			k = m;
	}
	int z = src_zero_from(s, k);
	if (z < 0) {
		v->why = "read error";
		return GW_EIO;
	}
	if (z) {
		v->why = k ? "truncated header" : "zero-filled segment";
		v->fix = GW_JFIX_CUT;
		return GW_ECORRUPT;
	}
	/* not ours, or of a later version: set aside, never cut */
	v->fix = GW_JFIX_SET_ASIDE;
	if (memcmp(hdr, GW_JOURNAL_MAGIC, 4) != 0) {
		v->why = "bad magic";
		return GW_ECORRUPT;
	}
	v->why = "unsupported version";
	return GW_EVERSION;
}

/* A growable buffer for one record's payload. */
struct recbuf {
	uint8_t *p;
	size_t cap;
};

/* Reads the record at `at` (left bytes to the end of the segment) and
 * hands it on. Returns 0 with *len its payload length, a static string
 * naming what is wrong with it (then nothing was handed on), or NULL
 * with *rc set: GW_ENOMEM, or 0 after a read error (s->err). */
static const char *scan_record(struct src *s, struct gw_jscan *sc,
			       struct recbuf *rb, uint64_t left, uint64_t *len,
			       int *cbrc, int *rc)
{
	uint8_t rh[8] = {0};
	size_t got = src_read(s, rh, sizeof(rh));

	*rc = 0;
	if (s->err)
		return NULL;
	*len = gw_le_get(rh, 4);
	if (got < sizeof(rh))
		return "torn record header";
	if (*len == 0)
		return "empty record";
	if (*len > GW_JOURNAL_REC_MAX)
		return "record length out of range";
	if (*len > left - sizeof(rh))
		return "torn record";
	if (*len > rb->cap) {
		uint8_t *nb = realloc(rb->p, (size_t)*len);
		if (!nb) {
			*rc = GW_ENOMEM;
			return NULL;
		}
		rb->p = nb;
		rb->cap = (size_t)*len;
	}
	if (src_read(s, rb->p, (size_t)*len) != *len)
		return s->err ? NULL : "torn record"; /* the file shrank meanwhile */
	if (gw_crc32(rb->p, (size_t)*len) != (uint32_t)gw_le_get(rh + 4, 4))
		return "bad record CRC";
	int d = decode_record(sc, rb->p, (size_t)*len, cbrc);
	if (d == -2) {
		*rc = GW_ENOMEM;
		return NULL;
	}
	return d < 0 ? "record does not decode" : "";
}

/* Reads a segment, calling back for each good record. Returns 0 if whole,
 * GW_ECORRUPT or GW_EVERSION (v says why and what to do), GW_EIO,
 * GW_ENOMEM, or 0 with *cbrc set when a callback stopped it. */
static int scan_src(struct src *s, struct gw_jscan *sc, struct gw_jverdict *v,
		    int *cbrc)
{
	struct recbuf rb = {0};
	int rc;

	v->why = "";
	v->good_len = 0;
	v->fix = GW_JFIX_NONE;
	*cbrc = 0;
	if ((rc = scan_header(s, v)) != 0)
		return rc;
	v->good_len = GW_JOURNAL_HDR;
	/* a packed cycle is coded against this segment's earlier ones only */
	sc->version = s->version;
	gw_jcodec_free(&sc->codec);
	for (;;) {
		uint64_t at = v->good_len, left = s->size - at, len = 0;
		if (left == 0)
			break;
		const char *bad = scan_record(s, sc, &rb, left, &len, cbrc, &rc);
		if (!bad)
			break; /* out of memory, or a read error */
		if (bad[0]) {
			/* What a power loss leaves after the last synced record
			 * reads as zeros: name it as such. */
			int z = src_zero_from(s, at);
			if (z < 0)
				break;
			v->why = z ? "zero-filled tail" : bad;
			v->fix = GW_JFIX_CUT;
			rc = GW_ECORRUPT;
			break;
		}
		v->good_len = at + 8 + len;
		if (*cbrc)
			break;
	}
	if (s->err) {
		v->why = "read error";
		v->fix = GW_JFIX_NONE;
		rc = GW_EIO;
	}
	free(rb.p);
	gw_jcodec_free(&sc->codec);
	return rc;
}

int gw_journal_scan_file(const char *path, struct gw_jscan *sc,
			 struct gw_jverdict *v, int *cbrc)
{
	struct stat sb;
	FILE *f = fopen(path, "rbe");
	int rc;

	v->why = "";
	v->good_len = 0;
	v->fix = GW_JFIX_NONE;
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
	struct gw_jscan sc = {0};
	struct gw_jverdict v;
	int cbrc;
	int rc = gw_journal_scan_file(path, &sc, &v, &cbrc);

	free(sc.rbuf);
	*why = v.why;
	*good_len = v.good_len;
	return rc;
}

int gw_journal_read_file(const char *path, gw_journal_cycle_fn cycle,
			 gw_journal_event_fn event, void *ctx)
{
	struct gw_jscan sc = {.cycle = cycle, .event = event, .ctx = ctx};
	struct gw_jverdict v;
	int cbrc;
	int rc = gw_journal_scan_file(path, &sc, &v, &cbrc);

	free(sc.rbuf);
	return rc ? rc : cbrc;
}

int gw_journal_read_buf(const uint8_t *buf, size_t len,
			gw_journal_cycle_fn cycle, gw_journal_event_fn event,
			void *ctx, const char **why, uint64_t *good_len)
{
	struct gw_jscan sc = {.cycle = cycle, .event = event, .ctx = ctx};
	struct src s = {.mem = buf ? buf : (const uint8_t *)"", .size = buf ? len : 0};
	struct gw_jverdict v;
	int cbrc;
	int rc = scan_src(&s, &sc, &v, &cbrc);

	free(sc.rbuf);
	*why = v.why;
	*good_len = v.good_len;
	return rc ? rc : cbrc;
}
