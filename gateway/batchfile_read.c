/* SPDX-License-Identifier: MIT */
/*
 * batchfile_read.c - a batch file image back into a sealed batch, every
 * field verified; see batchfile.h and docs/spool-format.md.
 *
 * Any bytes are safe to hand in: lengths and counts are checked against
 * what the image can hold before anything is allocated for them, and a
 * file that does not decode is named as such (*why), never half read.
 * tests/fuzz/fuzz_batch.c checks this under ASan and UBSan.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "batchfile.h"
#include "durable.h"
#include "gw.h"

/* ---- the payload, column by column (as batchfile_write.c lays it out) ---- */

static void decode_days(struct gw_batch *b, struct gw_rbuf *r)
{
	for (size_t i = 0; i < b->n_days && !r->bad; i++) {
		struct gw_day_register *d = &b->days[i];
		gw_rbuf_str(r, d->meter_id, sizeof(d->meter_id));
		gw_rbuf_str(r, d->obis, sizeof(d->obis));
		d->unit = (uint8_t)gw_rbuf_le(r, 1);
		d->quality = (uint8_t)gw_rbuf_le(r, 1);
		d->start_value = gw_unzigzag(gw_rbuf_varint(r));
		d->consumption = gw_unzigzag(gw_rbuf_varint(r));
		d->end_value = (int64_t)((uint64_t)d->start_value +
					 (uint64_t)d->consumption +
					 (uint64_t)gw_unzigzag(gw_rbuf_varint(r)));
		uint64_t rd = gw_rbuf_varint(r), mm = gw_rbuf_varint(r);
		if (rd > UINT32_MAX || mm > UINT32_MAX ||
		    d->unit >= GW_UNIT_COUNT_ || d->quality > GW_Q_INCOMPLETE)
			r->bad = 1;
		d->readings = (uint32_t)rd;
		d->minutes_missing = (uint32_t)mm;
	}
}

/* The series' headers; allocates each series' arrays. Their counts must
 * add up to n_readings (from the file header), which every reading's
 * value byte bounds by n, the payload's size. Returns 0, GW_ECORRUPT or
 * GW_ENOMEM. */
static int decode_heads(struct gw_batch *b, struct gw_rbuf *r,
			uint32_t n_readings, size_t n)
{
	uint64_t total = 0;

	for (size_t i = 0; i < b->n_series && !r->bad; i++) {
		struct gw_series *s = &b->series[i];
		gw_rbuf_str(r, s->meter_id, sizeof(s->meter_id));
		gw_rbuf_str(r, s->obis, sizeof(s->obis));
		s->unit = (uint8_t)gw_rbuf_le(r, 1);
		s->scale = (int8_t)gw_rbuf_le(r, 1);
		uint64_t cnt = gw_rbuf_varint(r);
		/* every reading takes at least one byte (its value's first byte) */
		if (r->bad || s->unit >= GW_UNIT_COUNT_ || cnt > n_readings - total)
			return GW_ECORRUPT;
		total += cnt;
		s->n = (uint32_t)cnt;
		s->ts_ms = malloc((cnt + 1) * sizeof(int64_t));
		s->value = malloc((cnt + 1) * sizeof(int64_t));
		if (!s->ts_ms || !s->value)
			return GW_ENOMEM;
	}
	if (r->bad || total != n_readings || total > n)
		return GW_ECORRUPT;
	return 0;
}

static void decode_times(struct gw_batch *b, struct gw_rbuf *r)
{
	int64_t prev0 = 0;

	for (size_t i = 0; i < b->n_series && !r->bad; i++) {
		struct gw_series *s = &b->series[i];
		if (s->n == 0)
			continue;
		uint64_t own = gw_rbuf_le(r, 1);
		if (own == 0) {
			const struct gw_series *prev = i ? &b->series[i - 1] : NULL;
			if (!prev || prev->n != s->n) {
				r->bad = 1;
				break;
			}
			memcpy(s->ts_ms, prev->ts_ms, s->n * sizeof(int64_t));
			continue;
		}
		if (own != 1) {
			r->bad = 1;
			break;
		}
		s->ts_ms[0] = gw_wrap_add(prev0, gw_unzigzag(gw_rbuf_varint(r)));
		prev0 = s->ts_ms[0];
		if (s->n < 2)
			continue;
		int64_t cadence = gw_unzigzag(gw_rbuf_varint(r));
		s->ts_ms[1] = gw_wrap_add(s->ts_ms[0], cadence);
		for (uint32_t k = 2; k < s->n && !r->bad; k++)
			s->ts_ms[k] = gw_wrap_add(gw_wrap_add(s->ts_ms[k - 1], cadence),
						  gw_unzigzag(gw_rbuf_varint(r)));
	}
}

/* The two planes of the values (total readings in all). Returns 0,
 * GW_ECORRUPT or GW_ENOMEM. */
static int decode_values(struct gw_batch *b, struct gw_rbuf *r, uint64_t total)
{
	size_t *ord = gw_batch_series_order(b->series, b->n_series);
	if (!ord)
		return GW_ENOMEM;
	uint64_t lo_len = gw_rbuf_varint(r);
	if (r->bad || lo_len != total || lo_len > r->n - r->pos) {
		free(ord);
		return GW_ECORRUPT;
	}
	struct gw_rbuf lo = {.p = r->p + r->pos, .n = (size_t)lo_len};
	r->pos += (size_t)lo_len;
	for (size_t j = 0; j < b->n_series && !r->bad && !lo.bad; j++) {
		struct gw_series *s = &b->series[ord[j]];
		int64_t v = 0;
		for (uint32_t k = 0; k < s->n && !r->bad && !lo.bad; k++) {
			uint64_t c = gw_rbuf_le(&lo, 1), z = c & 0x7f;
			if (c & 0x80) {
				uint64_t rest = gw_rbuf_varint(r);
				if (rest == 0 || rest > (UINT64_MAX >> 7))
					r->bad = 1;
				z |= rest << 7;
			}
			v = k ? gw_wrap_add(v, gw_unzigzag(z)) : gw_unzigzag(z);
			s->value[k] = v;
		}
	}
	free(ord);
	if (lo.bad || lo.pos != lo.n)
		return GW_ECORRUPT;
	return 0;
}

static void decode_events(struct gw_batch *b, struct gw_rbuf *r)
{
	for (size_t i = 0; i < b->n_events && !r->bad; i++) {
		struct gw_event *e = &b->events[i];
		gw_rbuf_str(r, e->meter_id, sizeof(e->meter_id));
		gw_rbuf_str(r, e->obis, sizeof(e->obis));
		e->ts_ms = gw_unzigzag(gw_rbuf_varint(r));
		e->kind = (uint8_t)gw_rbuf_le(r, 1);
		gw_rbuf_str(r, e->detail, sizeof(e->detail));
		if (!gw_event_name(e->kind))
			r->bad = 1;
	}
}

static int decode_payload(struct gw_batch *b, const uint8_t *p, size_t n,
			  uint32_t n_readings)
{
	struct gw_rbuf r = {.p = p, .n = n};
	int rc;

	/* Each record takes at least a few bytes: refuse counts the payload
	 * cannot hold before allocating for them. */
	if (b->n_days > n / 8 + 1 || b->n_series > n / 5 + 1 ||
	    b->n_events > n / 5 + 1 || n_readings > n)
		return GW_ECORRUPT;
	b->days = calloc(b->n_days + 1, sizeof(*b->days));
	b->series = calloc(b->n_series + 1, sizeof(*b->series));
	b->events = calloc(b->n_events + 1, sizeof(*b->events));
	if (!b->days || !b->series || !b->events)
		return GW_ENOMEM;
	decode_days(b, &r);
	if ((rc = decode_heads(b, &r, n_readings, n)) != 0)
		return rc;
	decode_times(b, &r);
	if ((rc = decode_values(b, &r, n_readings)) != 0)
		return rc;
	decode_events(b, &r);
	if (r.bad || r.pos != r.n)
		return GW_ECORRUPT;
	return 0;
}

/* ---- the file: header, compressed payload, CRC ---- */

/* What the header says beyond the batch's own fields. */
struct hdr {
	size_t hlen;
	uint32_t n_readings, raw_len, clen;
};

/* The checks before anything is allocated: magic, version, the least
 * size, the CRC over all but the last four bytes (*crc). Returns 0,
 * GW_ECORRUPT or GW_EVERSION with *why set. */
static int check_image(const uint8_t *buf, size_t len, uint32_t *crc,
		       const char **why)
{
	if (len < 4) {
		*why = "truncated header";
		return GW_ECORRUPT;
	}
	if (memcmp(buf, GW_BATCH_MAGIC, 4) != 0) {
		*why = "bad magic";
		return GW_ECORRUPT;
	}
	if (len < 8) {
		*why = "truncated header";
		return GW_ECORRUPT;
	}
	unsigned version = (unsigned)gw_le_get(buf + 4, 2);
	/* Versions 1..GW_BATCH_VERSION are read; a later one is named as
	 * such (an older gwctl meeting a newer gateway's file), never as
	 * corruption. */
	if (version == 0 || version > GW_BATCH_VERSION) {
		*why = "unsupported version";
		return GW_EVERSION;
	}
	if (len < GW_BATCH_HDR_FIXED + 2 + 4) {
		*why = "truncated header";
		return GW_ECORRUPT;
	}
	uint32_t want = (uint32_t)gw_le_get(buf + len - 4, 4);
	*crc = gw_crc32(buf, len - 4);
	if (*crc != want) {
		*why = "bad CRC";
		return GW_ECORRUPT;
	}
	return 0;
}

/* A length-prefixed (u8) string of the header into dst (cap bytes). */
static void header_str(struct gw_rbuf *r, char *dst, size_t cap)
{
	size_t l = (size_t)gw_rbuf_le(r, 1);

	if (!r->bad && l < cap && r->n - r->pos >= l) {
		memcpy(dst, r->p + r->pos, l);
		r->pos += l;
	} else {
		r->bad = 1;
	}
}

/* The header's fields into b and h (after check_image). Returns 0 or
 * GW_ECORRUPT with *why set. */
static int read_header(const uint8_t *buf, size_t len, struct gw_batch *b,
		       struct hdr *h, const char **why)
{
	struct gw_rbuf r = {.p = buf, .n = len, .pos = 6};

	h->hlen = (size_t)gw_rbuf_le(&r, 2);
	b->day = (int32_t)(uint32_t)gw_rbuf_le(&r, 4);
	b->revision = (uint32_t)gw_rbuf_le(&r, 4);
	b->created_ms = (int64_t)gw_rbuf_le(&r, 8);
	b->n_days = (size_t)gw_rbuf_le(&r, 4);
	b->n_series = (size_t)gw_rbuf_le(&r, 4);
	h->n_readings = (uint32_t)gw_rbuf_le(&r, 4);
	h->raw_len = (uint32_t)gw_rbuf_le(&r, 4);
	h->clen = (uint32_t)gw_rbuf_le(&r, 4);
	b->n_events = (size_t)gw_rbuf_le(&r, 4);
	header_str(&r, b->gateway_id, sizeof(b->gateway_id));
	header_str(&r, b->timezone, sizeof(b->timezone));
	if (r.bad || r.pos != h->hlen) {
		*why = "bad header length";
		return GW_ECORRUPT;
	}
	if (h->raw_len > GW_BATCH_MAX_RAW ||
	    (uint64_t)h->hlen + h->clen + 4 != len) {
		*why = "lengths do not add up to the file size";
		return GW_ECORRUPT;
	}
	return 0;
}

/* Inflates the payload and decodes it into b. Returns 0, GW_ECORRUPT
 * (with *why set) or GW_ENOMEM. */
static int read_payload(const uint8_t *buf, const struct hdr *h,
			struct gw_batch *b, const char **why)
{
	uint8_t *raw = malloc(h->raw_len ? h->raw_len : 1);
	if (!raw)
		return GW_ENOMEM;
	uLongf got = h->raw_len;
	int zrc = uncompress(raw, &got, buf + h->hlen, h->clen);
	if (zrc != Z_OK || got != h->raw_len) {
		free(raw);
		*why = zrc == Z_OK || zrc == Z_BUF_ERROR
			       ? "payload length differs from the header"
			       : "payload does not inflate";
		return zrc == Z_MEM_ERROR ? GW_ENOMEM : GW_ECORRUPT;
	}
	int rc = decode_payload(b, raw, h->raw_len, h->n_readings);
	free(raw);
	if (rc == GW_ECORRUPT)
		*why = "payload does not decode";
	return rc;
}

int gw_batch_decode(const uint8_t *buf, size_t len, struct gw_batch **out,
		    uint32_t *crcp)
{
	const char *why;

	return gw_batch_decode_ex(buf, len, out, crcp, &why);
}

int gw_batch_decode_ex(const uint8_t *buf, size_t len, struct gw_batch **out,
		       uint32_t *crcp, const char **why)
{
	struct gw_batch *b;
	struct hdr h;
	uint32_t crc = 0;

	*out = NULL;
	*why = "";
	int rc = check_image(buf, len, &crc, why);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b)
		return GW_ENOMEM;
	rc = read_header(buf, len, b, &h, why);
	if (rc == 0)
		rc = read_payload(buf, &h, b, why);
	if (rc) {
		gw_batch_free(b);
		return rc;
	}
	if (crcp)
		*crcp = crc;
	*out = b;
	return 0;
}

const char *gw_batch_read_problem(int rc, const char *why, char *buf,
				  size_t cap)
{
	if (why && *why)
		snprintf(buf, cap, "%s (%s)", gw_strerror(rc), why);
	else
		snprintf(buf, cap, "%s", gw_strerror(rc));
	return buf;
}

int gw_batch_read_file(const char *path, struct gw_batch **out, uint32_t *crc)
{
	const char *why;

	return gw_batch_read_file_ex(path, out, crc, &why);
}

int gw_batch_read_file_ex(const char *path, struct gw_batch **out,
			  uint32_t *crc, const char **why)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	uint8_t *buf;

	*out = NULL;
	*why = "";
	if (fd < 0)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	if (fstat(fd, &st) != 0) {
		close(fd);
		return GW_EIO;
	}
	if (st.st_size > (off_t)GW_BATCH_MAX_RAW + 4096) {
		close(fd);
		*why = "file too large";
		return GW_ECORRUPT;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return GW_ENOMEM;
	}
	size_t got = gw_read_all(fd, buf, (size_t)st.st_size);
	close(fd);
	int rc = got == (size_t)st.st_size ? gw_batch_decode_ex(buf, got, out, crc, why)
					   : GW_EIO;
	free(buf);
	return rc;
}
