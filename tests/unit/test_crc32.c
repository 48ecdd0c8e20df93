/* SPDX-License-Identifier: MIT */
/*
 * test_crc32.c - gw_crc32_up (crc32.c) against zlib's crc32:
 *
 *   - every length from 0 to 3,000 bytes, at 16 alignments, going on
 *     from a random CRC and from 0: the same value (the folded path from
 *     64 bytes up where the CPU has PCLMULQDQ, its 0-15 bytes after the
 *     last 16-byte block, and zlib's below 64);
 *   - a CRC computed in two pieces equals the one of the whole;
 *   - a bit flipped anywhere in a record-sized buffer changes the CRC.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zlib.h>

#include "crc32.h"

#define MAXLEN 3000

static uint8_t buf[MAXLEN + 64];
static uint32_t seed = 12345;

static uint32_t rnd(void)
{
	seed = seed * 1103515245u + 12345u;
	return seed >> 1;
}

static int setup(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(rnd() >> 7);
	/* which path is under test on this machine */
	fprintf(stderr, "# gw_crc32_up folds with PCLMULQDQ: %s\n",
		gw_crc32_folds() ? "yes" : "no (zlib's only)");
	return 0;
}

static void same_as_zlib(void **state)
{
	(void)state;
	for (size_t len = 0; len <= MAXLEN; len++) {
		for (size_t a = 0; a < 16; a++) {
			uint32_t from = rnd();
			uint32_t want = (uint32_t)crc32_z(from, buf + a, len);
			uint32_t got = gw_crc32_up(from, buf + a, len);
			if (got != want)
				fail_msg("len %zu align %zu from %08x: %08x, zlib %08x",
					 len, a, from, got, want);
			assert_int_equal(gw_crc32_up(0, buf + a, len),
					 (uint32_t)crc32_z(0, buf + a, len));
		}
	}
}

static void pieces(void **state)
{
	(void)state;
	for (size_t len = 0; len <= 600; len += 7) {
		uint32_t whole = gw_crc32_up(0, buf, len);
		for (size_t cut = 0; cut <= len; cut += 13)
			assert_int_equal(gw_crc32_up(gw_crc32_up(0, buf, cut), buf + cut,
						     len - cut),
					 whole);
	}
}

static void every_bit(void **state)
{
	uint8_t rec[300];

	(void)state;
	memcpy(rec, buf, sizeof(rec));
	uint32_t good = gw_crc32_up(0, rec, sizeof(rec));
	for (size_t bit = 0; bit < 8 * sizeof(rec); bit++) {
		rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
		assert_int_not_equal(gw_crc32_up(0, rec, sizeof(rec)), good);
		rec[bit / 8] ^= (uint8_t)(1u << (bit % 8));
	}
	assert_int_equal(gw_crc32_up(0, rec, sizeof(rec)), good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(same_as_zlib),
		cmocka_unit_test(pieces),
		cmocka_unit_test(every_bit),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
