/* SPDX-License-Identifier: MIT */
/*
 * test_bitw.c - the bit writer of gateway/bitw.h (the batching core's
 * encoded points) against a writer that sets one bit at a time: random
 * sequences of fields of every length 0..64, after a first byte partly
 * used (0..7 bits), the bytes and the bit count compared (gw_bitw_put,
 * and gw_bitw_put_fit given the same bits, none above a field's), and nothing
 * written past the last byte holding a bit (guard bytes after it, and a
 * buffer of exactly that size for the sanitizer build).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bitw.h"

static uint64_t rng = 0x9E3779B97F4A7C15u;

static uint64_t rnd64(void)
{
	/* xorshift64* */
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717u;
}

/* The reference: bit i of the output is bit i of the fields in order,
 * each field's bits from its lowest up. */
struct ref {
	uint8_t *p;
	size_t n;
};

static void ref_put(struct ref *r, uint64_t v, unsigned cnt)
{
	for (unsigned i = 0; i < cnt; i++, r->n++) {
		if ((v >> i) & 1)
			r->p[r->n / 8] |= (uint8_t)(1u << (r->n % 8));
	}
}

#define MAXF 200
#define GUARD 16

/* One sequence of nf fields after nfirst bits of `first`: compared with
 * the reference. */
static void one_sequence(unsigned nfirst, uint8_t first, size_t nf,
			 const unsigned *len, const uint64_t *val)
{
	size_t bits = nfirst;

	for (size_t i = 0; i < nf; i++)
		bits += len[i];
	size_t nbytes = (bits + 7) / 8;
	uint8_t *want = calloc(nbytes + 1, 1);
	uint8_t *got = malloc(nbytes + GUARD);
	assert_non_null(want);
	assert_non_null(got);
	memset(got, 0xA5, nbytes + GUARD);
	struct ref r = {want, 0};
	ref_put(&r, first, nfirst);
	/* the byte the writer starts on holds the first bits, and garbage
	 * above them (it writes the byte again) */
	if (nbytes)
		got[0] = first;
	struct gw_bitw w;
	gw_bitw_init(&w, got, first, nfirst);
	for (size_t i = 0; i < nf; i++) {
		ref_put(&r, val[i], len[i]);
		gw_bitw_put(&w, val[i], len[i]);
		assert_int_equal(gw_bitw_bits(&w, got), r.n);
	}
	uint8_t *end = gw_bitw_flush(&w);
	assert_int_equal(r.n, bits);
	assert_ptr_equal(end, got + nbytes);
	assert_memory_equal(got, want, nbytes);
	for (size_t i = nbytes; i < nbytes + GUARD; i++)
		assert_int_equal(got[i], 0xA5); /* nothing past the last bit */
	/* the same into a buffer of exactly nbytes (ASan sees an overrun) */
	if (nbytes) {
		uint8_t *exact = malloc(nbytes);
		assert_non_null(exact);
		exact[0] = first;
		gw_bitw_init(&w, exact, first, nfirst);
		for (size_t i = 0; i < nf; i++)
			gw_bitw_put(&w, val[i], len[i]);
		assert_ptr_equal(gw_bitw_flush(&w), exact + nbytes);
		assert_memory_equal(exact, want, nbytes);
		/* gw_bitw_put_fit: the same bits, given without any above */
		exact[0] = first;
		gw_bitw_init(&w, exact, first, nfirst);
		for (size_t i = 0; i < nf; i++) {
			uint64_t fit = len[i] < 64 ? val[i] & ((1ull << len[i]) - 1)
						   : val[i];
			gw_bitw_put_fit(&w, fit, len[i]);
		}
		assert_ptr_equal(gw_bitw_flush(&w), exact + nbytes);
		assert_memory_equal(exact, want, nbytes);
		free(exact);
	}
	free(want);
	free(got);
}

/* Every length 0..64 alone, and after every partial first byte, with
 * values whose bits above the length are set (they must be ignored). */
static void each_length(void **state)
{
	(void)state;
	for (unsigned nfirst = 0; nfirst < 8; nfirst++) {
		for (unsigned l = 0; l <= 64; l++) {
			unsigned len[3] = {l, 64 - l, l};
			uint64_t val[3] = {~(uint64_t)0, rnd64(), rnd64() | 1u << 31};
			one_sequence(nfirst, (uint8_t)rnd64(), 3, len, val);
			one_sequence(nfirst, 0xFF, 1, len, val);
		}
	}
}

/* Random sequences: lengths 0..64 at random, and runs chosen to cross
 * the 64-bit word's end at every offset (buffer boundaries). */
static void random_sequences(void **state)
{
	unsigned len[MAXF];
	uint64_t val[MAXF];

	(void)state;
	for (int round = 0; round < 20000; round++) {
		size_t nf = (size_t)(rnd64() % MAXF);
		unsigned nfirst = (unsigned)(rnd64() % 8);
		int mode = round % 3;
		for (size_t i = 0; i < nf; i++) {
			if (mode == 0)
				len[i] = (unsigned)(rnd64() % 65);
			else if (mode == 1)
				len[i] = (unsigned)(rnd64() % 9) * 8; /* whole bytes */
			else
				len[i] = 56 + (unsigned)(rnd64() % 9); /* 56..64 */
			val[i] = rnd64();
		}
		one_sequence(nfirst, (uint8_t)rnd64(), nf, len, val);
	}
}

/* An empty writer writes nothing; one with only its first bits writes
 * that byte back. */
static void empty(void **state)
{
	uint8_t b[4] = {0xA5, 0xA5, 0xA5, 0xA5};
	struct gw_bitw w;

	(void)state;
	gw_bitw_init(&w, b, 0, 0);
	gw_bitw_put(&w, ~(uint64_t)0, 0);
	assert_ptr_equal(gw_bitw_flush(&w), b);
	assert_int_equal(b[0], 0xA5);
	gw_bitw_init(&w, b, 0xFF, 3);
	assert_int_equal(gw_bitw_bits(&w, b), 3);
	assert_ptr_equal(gw_bitw_flush(&w), b + 1);
	assert_int_equal(b[0], 0x07);
	assert_int_equal(b[1], 0xA5);
}

static void load64_order(void **state)
{
	const uint8_t p[8] = {1, 2, 3, 4, 5, 6, 7, 8};

	(void)state;
	assert_true(gw_bitw_load64(p) == UINT64_C(0x0807060504030201));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(empty),
		cmocka_unit_test(load64_order),
		cmocka_unit_test(each_length),
		cmocka_unit_test(random_sequences),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
