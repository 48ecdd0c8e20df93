/* SPDX-License-Identifier: MIT */
/*
 * fuzz_batch.c - libFuzzer target for the batch file decoder
 * (gw_batch_decode in gateway/spool.c), the code that reads every spool
 * file at start-up and before upload. The first input byte picks a mode:
 *
 *   even: the rest is a whole batch file, with its CRC-32 set right (so
 *         that mutations reach the checks after the CRC);
 *   odd:  the rest is 16 bytes of header counts (daily records, series,
 *         readings, events; little-endian) and an uncompressed payload,
 *         wrapped here into a valid header, compressed and CRC'd (so that
 *         mutations reach the payload decoder).
 *
 * Whatever the bytes, decoding must succeed or fail cleanly (no crash,
 * leak or undefined behaviour, *out NULL on failure); a batch that decodes
 * must encode again, and that file must decode to a batch that encodes to
 * the very same bytes. `make fuzz` runs it after the IEC target;
 * tests/integration/spool_fuzz.sh runs it briefly in `make check`.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "batch.h"
#include "spool.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

/* A file around the payload p (n bytes) with the given counts. */
static uint8_t *wrap(const uint8_t *counts, const uint8_t *p, size_t n,
		     size_t *len)
{
	static const char gw[] = "fz-gw", tzname[] = "Asia/Ho_Chi_Minh";
	size_t h = 49 + sizeof(gw) - 1 + 1 + sizeof(tzname) - 1;
	uLongf clen = compressBound((uLong)n);
	uint8_t *f = malloc(h + clen + 4);

	if (!f)
		return NULL;
	memset(f, 0, h);
	memcpy(f, "GWB1", 4);
	put_le(f + 4, 1, 2);
	put_le(f + 6, h, 2);
	put_le(f + 8, 20513, 4);  /* 2026-03-01 */
	put_le(f + 16, UINT64_C(1772384400000), 8);
	put_le(f + 24, get_le32(counts), 4);
	put_le(f + 28, get_le32(counts + 4), 4);
	put_le(f + 32, get_le32(counts + 8), 4);
	put_le(f + 36, n, 4);
	put_le(f + 44, get_le32(counts + 12), 4);
	f[48] = (uint8_t)(sizeof(gw) - 1);
	memcpy(f + 49, gw, sizeof(gw) - 1);
	f[49 + sizeof(gw) - 1] = (uint8_t)(sizeof(tzname) - 1);
	memcpy(f + 50 + sizeof(gw) - 1, tzname, sizeof(tzname) - 1);
	if (compress2(f + h, &clen, p, (uLong)n, 6) != Z_OK) {
		free(f);
		return NULL;
	}
	put_le(f + 40, clen, 4);
	put_le(f + h + clen, crc32(0, f, (uInt)(h + clen)), 4);
	*len = h + clen + 4;
	return f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_batch *b = NULL, *b2 = NULL;
	uint8_t *file, *e1 = NULL, *e2 = NULL;
	size_t len = 0, l1 = 0, l2 = 0;
	int rc;

	if (size < 1 || size > (1u << 20))
		return 0;
	if ((data[0] & 1) == 0) {
		len = size - 1;
		file = malloc(len ? len : 1);
		if (!file)
			return 0;
		memcpy(file, data + 1, len);
		if (len >= 4)
			put_le(file + len - 4, crc32(0, file, (uInt)(len - 4)), 4);
	} else {
		if (size < 17)
			return 0;
		file = wrap(data + 1, data + 17, size - 17, &len);
		if (!file)
			return 0;
	}
	rc = gw_batch_decode(file, len, &b, NULL);
	free(file);
	if (rc != 0) {
		if (b)
			abort(); /* *out must be NULL on failure */
		return 0;
	}
	/* What decodes must round-trip exactly. */
	if (gw_batch_encode(b, &e1, &l1) != 0)
		abort();
	if (gw_batch_decode(e1, l1, &b2, NULL) != 0)
		abort();
	if (gw_batch_encode(b2, &e2, &l2) != 0 || l1 != l2 || memcmp(e1, e2, l1) != 0)
		abort();
	gw_batch_free(b);
	gw_batch_free(b2);
	free(e1);
	free(e2);
	return 0;
}
