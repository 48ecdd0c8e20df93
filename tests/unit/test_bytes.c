/* SPDX-License-Identifier: MIT */
/*
 * test_bytes.c - the byte encoders of gateway/bytes.c that a reader of
 * our own does not check on its way back: the big-endian fields of the
 * uploader's binary COPY (PostgreSQL reads them), beside their
 * little-endian counterparts, at every width and at the extremes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bytes.h"

static void be_put_widths(void **state)
{
	static const uint8_t want8[8] = { 0x01, 0x02, 0x03, 0x04,
					  0x05, 0x06, 0x07, 0x08 };
	uint8_t p[8];

	(void)state;
	gw_be_put(p, UINT64_C(0x0102030405060708), 8);
	assert_memory_equal(p, want8, 8);
	memset(p, 0xAA, sizeof(p));
	gw_be_put(p, 0x0102, 2);
	assert_int_equal(p[0], 0x01);
	assert_int_equal(p[1], 0x02);
	assert_int_equal(p[2], 0xAA); /* nothing beyond the width */
	/* the high bits beyond the width are dropped, as in a cast */
	gw_be_put(p, 0xFFFFFFFF00000001u, 4);
	assert_int_equal(p[0], 0x00);
	assert_int_equal(p[3], 0x01);
	/* -1 as int64 and as a NULL field's length (int32 -1) */
	gw_be_put(p, (uint64_t)INT64_C(-1), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(p[i], 0xFF);
	/* the reverse of the little-endian order */
	uint8_t le[8];
	gw_le_put(le, UINT64_C(0x0102030405060708), 8);
	for (int i = 0; i < 8; i++)
		assert_int_equal(le[i], want8[7 - i]);
}

static void wbuf_be_appends(void **state)
{
	static const uint8_t want[] = { 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x08,
					0x80, 0, 0, 0, 0, 0, 0, 0x01 };
	struct gw_wbuf b = { 0 };

	(void)state;
	gw_wbuf_be(&b, 0xFFFF, 2); /* the COPY trailer */
	gw_wbuf_be(&b, 8, 4);
	gw_wbuf_be(&b, UINT64_C(0x8000000000000001), 8);
	assert_false(b.oom);
	assert_int_equal(b.n, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	free(b.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(be_put_widths),
		cmocka_unit_test(wbuf_be_appends),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
