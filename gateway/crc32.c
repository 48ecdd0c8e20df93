/* SPDX-License-Identifier: MIT */
/*
 * crc32.c - zlib's CRC-32, faster on the buffers of a few hundred bytes
 * the points records are (batch_spill_core.c checks every record it
 * reads): zlib 1.2's crc32 costs about 50-70 ns a call before its first
 * byte and does some 2 GB/s at 300 bytes; folding 16 bytes at a time
 * with carry-less multiplication (PCLMULQDQ) does the same CRC in a
 * fifth to an eighth of the time there.
 *
 * The method: V. Gopal et al., "Fast CRC Computation for Generic
 * Polynomials Using PCLMULQDQ Instruction" (Intel, 2009), for a
 * reflected CRC: four 128-bit lanes folded 64 bytes at a time, then one
 * lane, then 128 bits to 64 and a Barrett reduction to 32. Its constants
 * for P(x) = 0x104C11DB7, bit-reflected (') and shifted left by one:
 *   K1 = (x^(4*128+32) mod P << 32)' << 1   K2 = (x^(4*128-32) mod P << 32)' << 1
 *   K3 = (x^(128+32) mod P << 32)' << 1     K4 = (x^(128-32) mod P << 32)' << 1
 *   K5 = (x^64 mod P << 32)' << 1
 *   P' = 0x1DB710641, MU' = (x^64 div P)' = 0x1F7011641
 * tests/unit/test_crc32.c compares every length from 0 to 3,000 bytes at
 * 16 alignments, going on from random CRCs, with zlib's crc32.
 */
#include <zlib.h>

#include "crc32.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define GW_CRC_FOLD 1
#include <immintrin.h>

static const uint64_t __attribute__((aligned(16))) k12[2] = {0x154442bd4, 0x1c6e41596};
static const uint64_t __attribute__((aligned(16))) k34[2] = {0x1751997d0, 0x0ccaa009e};
static const uint64_t __attribute__((aligned(16))) k5[2] = {0x163cd6124, 0};
static const uint64_t __attribute__((aligned(16))) pmu[2] = {0x1db710641, 0x1f7011641};

/* a * k's low half xor a * k's high half (a's halves by k's): a lane
 * moved on by the distance k stands for */
__attribute__((target("pclmul,sse4.1")))
static inline __m128i fold(__m128i a, __m128i k)
{
	return _mm_xor_si128(_mm_clmulepi64_si128(a, k, 0x00),
			     _mm_clmulepi64_si128(a, k, 0x11));
}

static inline __m128i load(const uint8_t *p)
{
	return _mm_loadu_si128((const __m128i *)(const void *)p);
}

/* The CRC register (not inverted) after n bytes at p, n >= 64 and a
 * multiple of 16, from register c. */
__attribute__((target("pclmul,sse4.1")))
static uint32_t fold_crc(const uint8_t *p, size_t n, uint32_t c)
{
	__m128i k = _mm_load_si128((const __m128i *)(const void *)k12);
	__m128i l0 = _mm_xor_si128(load(p), _mm_cvtsi32_si128((int)c));
	__m128i l1 = load(p + 16), l2 = load(p + 32), l3 = load(p + 48);

	for (p += 64, n -= 64; n >= 64; p += 64, n -= 64) {
		l0 = _mm_xor_si128(fold(l0, k), load(p));
		l1 = _mm_xor_si128(fold(l1, k), load(p + 16));
		l2 = _mm_xor_si128(fold(l2, k), load(p + 32));
		l3 = _mm_xor_si128(fold(l3, k), load(p + 48));
	}
	/* four lanes into one, then the 16-byte blocks left */
	k = _mm_load_si128((const __m128i *)(const void *)k34);
	l0 = _mm_xor_si128(fold(l0, k), l1);
	l0 = _mm_xor_si128(fold(l0, k), l2);
	l0 = _mm_xor_si128(fold(l0, k), l3);
	for (; n >= 16; p += 16, n -= 16)
		l0 = _mm_xor_si128(fold(l0, k), load(p));
	/* 128 bits to 64, then 64 to 32 (Barrett) */
	const __m128i lo32 = _mm_setr_epi32(-1, 0, -1, 0);
	__m128i x = _mm_xor_si128(_mm_srli_si128(l0, 8), _mm_clmulepi64_si128(l0, k, 0x10));
	k = _mm_loadl_epi64((const __m128i *)(const void *)k5);
	x = _mm_xor_si128(_mm_srli_si128(x, 4),
			  _mm_clmulepi64_si128(_mm_and_si128(x, lo32), k, 0x00));
	k = _mm_load_si128((const __m128i *)(const void *)pmu);
	__m128i t = _mm_and_si128(_mm_clmulepi64_si128(_mm_and_si128(x, lo32), k, 0x10), lo32);
	x = _mm_xor_si128(x, _mm_clmulepi64_si128(t, k, 0x00));
	return (uint32_t)_mm_extract_epi32(x, 1);
}

int gw_crc32_folds(void)
{
	return __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
}
#else
int gw_crc32_folds(void)
{
	return 0;
}
#endif

uint32_t gw_crc32_up(uint32_t crc, const void *buf, size_t len)
{
	const uint8_t *p = buf;

#ifdef GW_CRC_FOLD
	if (len >= 64 && gw_crc32_folds()) {
		size_t n = len & ~(size_t)15;
		const z_crc_t *tab = get_crc_table();
		uint32_t c = fold_crc(p, n, ~crc);
		/* the last 0-15 bytes a byte at a time (zlib's table) */
		for (p += n, len -= n; len > 0; len--)
			c = (uint32_t)tab[(c ^ *p++) & 0xff] ^ (c >> 8);
		return ~c;
	}
#endif
	return (uint32_t)crc32_z(crc, p, len);
}
