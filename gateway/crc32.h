/* SPDX-License-Identifier: MIT */
/*
 * crc32.h - the CRC-32 zlib computes (the IEEE 802.3 polynomial,
 * reflected, the same values as zlib's crc32), faster on buffers of a few
 * hundred bytes: on x86-64 with PCLMULQDQ (checked at run time) 16 bytes
 * at a time by carry-less multiplication; elsewhere, or below 64 bytes,
 * zlib's own.
 */
#ifndef GW_CRC32_H
#define GW_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* The CRC-32 of len bytes at p going on from crc (0 to start): what
 * zlib's crc32_z(crc, p, len) returns. */
uint32_t gw_crc32_up(uint32_t crc, const void *p, size_t len);

/* 1 when gw_crc32_up folds with PCLMULQDQ here (for tests, benchmarks). */
int gw_crc32_folds(void);

#endif
