/* SPDX-License-Identifier: MIT */
/*
 * flightcount.c - live heap bytes (mallinfo2: uordblks + hblkhd) of the
 * bus workers' cycle buffers and the scheduler's queue (flight.c) at a
 * seal: BUSES buses of METERS meters each, REGS registers a meter (the
 * ABB B23 profile's codes, 1..23), each cycle reserved for its bus's
 * readings, packed, read back as the journal sink does and pushed, as
 * gatewayd's workers do. A count, not a benchmark (docs/benchmarks.md).
 *
 * The worker's loop is the same for every tree: a cycle without memory
 * is reserved for its bus (a tree whose queue copies the records keeps
 * its cycle's memory and reserves once; one whose queue takes the
 * memory over reserves every cycle), packed, read, pushed, emptied. It
 * prints the live bytes of buffers + queue (and the code table, a few kB,
 * the same in every tree):
 *
 *   between  cycle 0 taken by the core (between seals)
 *   seal     cycle 1 pushed and not taken (the core sealing), the workers
 *            between cycles: gatewayd's peak
 *   seal+1   cycle 2 packed on top while the seal lasts, not yet pushed
 *   seal+1q  cycle 2 pushed too (a seal longer than a poll cycle)
 *
 * With ROUNDS, it then times ROUNDS more cycles of every bus, by the
 * process's CPU clock: packing each and reading it back as the sink does
 * (pack), and taking them all from the queue 512 at a time as the core
 * does (take), in ns a reading, with a CRC-32 of every reading taken (the
 * same in every tree that takes out what was put in):
 *
 *   time pack NS take NS crc HEX
 *
 * Build against a tree's library (main.c's fixed mmap threshold is set
 * here too):
 *
 *   cc -O2 -std=c11 -D_GNU_SOURCE -Igateway -Igateway/common -Idrivers \
 *      -o flightcount tests/bench/heap/flightcount.c build/libgw.a \
 *      $(pkg-config --libs zlib) -lpthread -lm
 *   ./flightcount 50 200 3 [ROUNDS]
 * tests/bench/heap/flight_pair.sh runs it for two trees side by side.
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "b23_codes.h"
#include "flight.h"

static double cpu_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
	return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

static size_t live(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Bus b's cycle number k, as its worker makes it: reserved if it holds
 * no memory, packed meter by meter, read back a chunk at a time. */
static int fill(struct gw_flightq *q, struct gw_fcycle *c, const struct gw_config *cfg,
		int b, int per, int regs, int k)
{
	struct gw_reading r[B23_CODES], back[64];

	if (!c->cap && gw_fcycle_reserve(c, (size_t)per * (size_t)regs))
		return -1;
	for (int m = b * per; m < (b + 1) * per; m++) {
		for (int i = 0; i < regs; i++) {
			memset(&r[i], 0, sizeof(r[i]));
			strcpy(r[i].meter_id, cfg->meters[m].id);
			strcpy(r[i].obis, b23_codes[i]);
			r[i].ts_ms = INT64_C(1772323200000) + k * INT64_C(900000) + m;
			r[i].value = k + i * 1000 + m;
			r[i].unit = GW_UNIT_WH;
		}
		if (gw_flightq_pack(q, c, m, r, (size_t)regs))
			return -1;
	}
	for (size_t from = 0, n; (n = gw_fcycle_read(c, from, back, 64)); from += n)
		;
	return 0;
}

static int push_all(struct gw_flightq *q, struct gw_fcycle *c, int buses)
{
	for (int b = 0; b < buses; b++) {
		if (gw_flightq_push_cycle(q, &c[b]))
			return -1;
		gw_fcycle_clear(&c[b]);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: flightcount BUSES METERS REGS [ROUNDS]\n");
		return 2;
	}
	int buses = atoi(argv[1]), per = atoi(argv[2]), regs = atoi(argv[3]);
	int rounds = argc == 5 ? atoi(argv[4]) : 0;
	if (buses < 1 || per < 1 || regs < 1 || regs > B23_CODES)
		return 2;
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	static struct gw_config cfg;
	cfg.n_meters = buses * per;
	cfg.meters = calloc((size_t)cfg.n_meters, sizeof(*cfg.meters));
	struct gw_fcycle *c = calloc((size_t)buses, sizeof(*c));
	size_t chunk = 512, got;
	struct gw_reading *out = malloc(chunk * sizeof(*out));
	if (!cfg.meters || !c || !out)
		return 1;
	char (*ids)[16] = calloc((size_t)cfg.n_meters, sizeof(*ids));
	if (!ids)
		return 1;
	for (int m = 0; m < cfg.n_meters; m++) {
		snprintf(ids[m], sizeof(ids[m]), "m%06d", m);
		cfg.meters[m].id = ids[m];
		cfg.meters[m].bus = m / per;
	}
	size_t a = live();
	struct gw_flightq *q = gw_flightq_new(&cfg, 0);
	if (!q)
		return 1;
	/* cycle 0, taken by the core as it comes */
	for (int b = 0; b < buses; b++)
		if (fill(q, &c[b], &cfg, b, per, regs, 0))
			return 1;
	if (push_all(q, c, buses))
		return 1;
	while ((got = gw_flightq_take(q, out, chunk)) > 0)
		;
	printf("between %zu\n", live() - a);
	/* cycle 1, the seal begun: queued, not taken */
	for (int b = 0; b < buses; b++)
		if (fill(q, &c[b], &cfg, b, per, regs, 1))
			return 1;
	if (push_all(q, c, buses))
		return 1;
	printf("seal %zu\n", live() - a);
	/* cycle 2 read while the seal lasts */
	for (int b = 0; b < buses; b++)
		if (fill(q, &c[b], &cfg, b, per, regs, 2))
			return 1;
	printf("seal+1 %zu\n", live() - a);
	if (push_all(q, c, buses))
		return 1;
	printf("seal+1q %zu\n", live() - a);
	while ((got = gw_flightq_take(q, out, chunk)) > 0)
		;
	double pack = 0, take = 0;
	uLong crc = crc32(0, NULL, 0);
	for (int k = 3; k < 3 + rounds; k++) {
		double t0 = cpu_ns();
		for (int b = 0; b < buses; b++)
			if (fill(q, &c[b], &cfg, b, per, regs, k))
				return 1;
		if (push_all(q, c, buses))
			return 1;
		double t1 = cpu_ns();
		while ((got = gw_flightq_take(q, out, chunk)) > 0)
			crc = crc32(crc, (const Bytef *)out, (uInt)(got * sizeof(*out)));
		pack += t1 - t0;
		take += cpu_ns() - t1;
	}
	if (rounds) {
		double n = (double)rounds * buses * per * regs;
		printf("time pack %.2f take %.2f crc %08lx\n", pack / n, take / n, crc);
	}
	for (int b = 0; b < buses; b++)
		gw_fcycle_free(&c[b]);
	gw_flightq_free(q);
	free(c);
	free(cfg.meters);
	free(ids);
	free(out);
	return 0;
}
