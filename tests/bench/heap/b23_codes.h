/* SPDX-License-Identifier: MIT */
/* b23_codes.h - the ABB B23 profile's OBIS codes, as gatewayd reads them
 * (profiles/abb_b23.prof), for heapcount.c and markcpu.c. */
#ifndef GW_BENCH_B23_CODES_H
#define GW_BENCH_B23_CODES_H

static const char *const b23_codes[] = {
	"1.8.0",  "2.8.0",  "21.8.0", "41.8.0", "61.8.0", "22.8.0",
	"42.8.0", "62.8.0", "32.7.0", "52.7.0", "72.7.0", "31.7.0",
	"51.7.0", "71.7.0", "16.7.0", "36.7.0", "56.7.0", "76.7.0",
	"14.7.0", "13.7.0", "33.7.0", "53.7.0", "73.7.0"};
#define B23_CODES ((int)(sizeof(b23_codes) / sizeof(b23_codes[0])))

#endif
