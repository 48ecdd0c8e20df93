/* SPDX-License-Identifier: MIT */
/*
 * jcodec_bench.c - what the journal's packed-cycle writer keeps in memory
 * and what coding a day costs it (tests/bench/heap/jcodec_pair.sh runs it for
 * two builds side by side):
 *
 *   jcodec_bench METERS REGISTERS [METERS_PER_BUS] [CYCLES]
 *
 * REGISTERS is 3 (1.8.0, 2.8.0, 32.7.0) or 23 (the registers of
 * profiles/abb_b23.prof). Each bus of METERS_PER_BUS (default 200)
 * meters has its own codec state, as each journal slot of gatewayd has;
 * CYCLES (default 96: a day of 15-minute polls) cycles of every bus are
 * coded with gw_jcodec_encode into records, each freed once coded (what
 * gatewayd appends). Meters answer in their order with a few ms of jitter,
 * 2% of them miss a cycle (the next reading names its series by a jump),
 * energy rises, voltages move.
 *
 * Prints one line: the heap live for the codecs' state after the day
 * (mallinfo2, uordblks + hblkhd, above what was live before the codecs;
 * the records and the readings are freed or static; the writers' shared
 * deflate streams, made by the first record, are in it), the codecs'
 * own (what freeing them gives back: the state without the streams),
 * the CPU seconds of
 * the coding alone (the cycles are made outside the clock), the bytes
 * coded and their CRC-32 (two builds that code the same bytes print the
 * same), and readings coded. GW_BENCH_JLEVEL6=1 deflates at level 6
 * without Z_RLE, as builds before 2026-12-07 did, to compare with one.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "bench_util.h"
#include "journal_int.h"

static const char *const regs23[] = {
	"1.8.0",  "2.8.0",  "21.8.0", "41.8.0", "61.8.0", "22.8.0",
	"42.8.0", "62.8.0", "32.7.0", "52.7.0", "72.7.0", "31.7.0",
	"51.7.0", "71.7.0", "16.7.0", "36.7.0", "56.7.0", "76.7.0",
	"14.7.0", "13.7.0", "33.7.0", "53.7.0", "73.7.0",
};
static const char *const regs3[] = {"1.8.0", "2.8.0", "32.7.0"};

static size_t live(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: jcodec_bench METERS 3|23 [METERS_PER_BUS] [CYCLES]\n");
		return 2;
	}
	if (getenv("GW_BENCH_JLEVEL6"))
		gw_jcodec_set_deflate(6, Z_DEFAULT_STRATEGY);
	int meters = atoi(argv[1]), nregs = atoi(argv[2]);
	int per_bus = argc > 3 ? atoi(argv[3]) : 200;
	int cycles = argc > 4 ? atoi(argv[4]) : 96;
	const char *const *regs = nregs == 23 ? regs23 : regs3;
	if (meters < 1 || per_bus < 1 || cycles < 1 || (nregs != 3 && nregs != 23)) {
		fprintf(stderr, "jcodec_bench: bad arguments\n");
		return 2;
	}
	int buses = (meters + per_bus - 1) / per_bus;
	size_t nr = (size_t)meters * (size_t)nregs;
	int64_t *value = calloc(nr, sizeof(*value));
	struct gw_reading *r = calloc((size_t)per_bus * (size_t)nregs, sizeof(*r));
	if (!value || !r)
		return 1;
	for (size_t i = 0; i < nr; i++)
		value[i] = i % (size_t)nregs < 8 ? (int64_t)(rnd() % 5000000)
						  : 23000 + (int64_t)(rnd() % 100);
	size_t before = live();
	struct gw_jcodec *c = calloc((size_t)buses, sizeof(*c));
	if (!c)
		return 1;
	for (int b = 0; b < buses; b++)
		c[b].fresh = 1;
	double cpu = 0;
	uint32_t crc = (uint32_t)crc32(0, Z_NULL, 0);
	unsigned long long bytes = 0, readings = 0;
	const int64_t t0 = 1772298000000LL; /* 2026-03-01 00:00 +07 */
	for (int cy = 0; cy < cycles; cy++) {
		for (int b = 0; b < buses; b++) {
			size_t n = 0;
			for (int k = b * per_bus; k < meters && k < (b + 1) * per_bus; k++) {
				if (rnd() % 50 == 0)
					continue; /* did not answer */
				int64_t ts = t0 + cy * 900000LL + (k % per_bus) * 120 + rnd() % 9;
				for (int g = 0; g < nregs; g++) {
					struct gw_reading *x = &r[n++];
					int64_t *v = &value[(size_t)k * (size_t)nregs + (size_t)g];
					memset(x, 0, sizeof(*x));
					snprintf(x->meter_id, sizeof(x->meter_id), "M%d-%d",
						 b + 1, k % per_bus + 1);
					snprintf(x->obis, sizeof(x->obis), "%s", regs[g]);
					if (g < 8) {
						*v += rnd() % 40;
						x->unit = GW_UNIT_WH;
						x->scale = 1;
					} else {
						*v += (int64_t)(rnd() % 21) - 10;
						x->unit = GW_UNIT_V;
						x->scale = -2;
					}
					x->value = *v;
					x->ts_ms = ts;
				}
			}
			struct gw_wbuf out = {0};
			double c0 = cpu_s();
			int rc = gw_jcodec_encode(&c[b], b, r, n, &out);
			cpu += cpu_s() - c0;
			if (rc || out.oom) {
				fprintf(stderr, "jcodec_bench: encode: %d\n", rc);
				return 1;
			}
			crc = (uint32_t)crc32(crc, out.p, (uInt)out.n);
			bytes += out.n;
			readings += n;
			free(out.p);
		}
	}
	size_t state = live() - before, held = live();
	for (int b = 0; b < buses; b++)
		gw_jcodec_free(&c[b]);
	free(c);
	printf("meters %d registers %d buses %d cycles %d: state %zu bytes, "
	       "codecs %zu bytes, encode cpu %.4f s, %llu bytes, crc %08x, "
	       "%llu readings\n", meters, nregs, buses, cycles, state,
	       held - live(), cpu, bytes, crc, readings);
	free(r);
	free(value);
	return 0;
}
