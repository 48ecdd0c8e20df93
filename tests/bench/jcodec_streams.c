/* SPDX-License-Identifier: MIT */
/*
 * jcodec_streams.c - the journal's packed cycle records of streams made to
 * try every path of the writer's state, written to stdout one after
 * another, so that two builds can be compared byte for byte (`cmp`): the
 * records on flash must not change when the writer's state does.
 *
 *   jcodec_streams [STREAM] > records     (all of them by default)
 *
 * The streams (each its own codec, a new segment now and then):
 *   b23      200 meters x 23 registers, 15-minute polls for 3 days, a
 *            meter that misses a cycle, meters and registers added
 *            during the day, a segment each day
 *   periods  polls every hour, 2 hours, 3 hours and a day
 *   spread   each register stamped with its own time, up to hours apart
 *            from its meter's others, one register hours behind
 *   hostile  times anywhere in int64, meters interleaved (A1 B1 A2 B2),
 *            series repeated in a cycle, shuffled order, clocks back
 *   wide     more than 65,536 OBIS codes in one segment
 *   layouts  meters of three profiles (their registers' scales and
 *            units), values crossing 32 bits and anywhere in int64, a
 *            register's unit or scale changed for a while, a meter's
 *            profile changed, the last meter given a register, meters
 *            added, a segment every 96 cycles
 *
 * Prints to stderr the records, bytes and CPU seconds of each stream.
 * GW_BENCH_JLEVEL6=1 deflates at level 6 without Z_RLE, as builds before
 * 2026-12-07 did, to compare with one of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "bench_util.h"
#include "journal_int.h"

static struct gw_reading *rbuf;
static size_t rcap;
static unsigned long long records, bytes;

static struct gw_reading *at(size_t n)
{
	if (n >= rcap) {
		rcap = rcap ? rcap * 2 : 4096;
		while (rcap <= n)
			rcap *= 2;
		rbuf = realloc(rbuf, rcap * sizeof(*rbuf));
		if (!rbuf) {
			fprintf(stderr, "jcodec_streams: out of memory\n");
			exit(1);
		}
	}
	return &rbuf[n];
}

static void set(size_t n, const char *meter, const char *obis, int64_t ts,
		int64_t value, int8_t scale, uint8_t unit, uint8_t status)
{
	struct gw_reading *x = at(n);

	memset(x, 0, sizeof(*x));
	memcpy(x->meter_id, meter, strnlen(meter, sizeof(x->meter_id) - 1));
	memcpy(x->obis, obis, strnlen(obis, sizeof(x->obis) - 1));
	x->ts_ms = ts;
	x->value = value;
	x->scale = scale;
	x->unit = unit;
	x->status = status;
}

/* Codes the n readings of rbuf with c and writes the record out. */
static void code(struct gw_jcodec *c, int bus, size_t n)
{
	struct gw_wbuf out = {0};

	if (gw_jcodec_encode(c, bus, rbuf, n, &out) || out.oom) {
		fprintf(stderr, "jcodec_streams: encode failed\n");
		exit(1);
	}
	if (fwrite(out.p, 1, out.n, stdout) != out.n)
		exit(1);
	records++;
	bytes += out.n;
	free(out.p);
}

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *name)
{
	static double t0;
	double t = cpu_s();

	fprintf(stderr, "%-8s %llu records, %llu bytes, %.3f s\n", name, records,
		bytes, t - t0);
	records = bytes = 0;
	t0 = cpu_s();
}

#define T0 1772298000000LL /* 2026-03-01 00:00 +07 */

static void b23(void)
{
	struct gw_jcodec c = {.fresh = 1};
	char m[40], o[40];
	static int64_t v[260][30];

	for (int cy = 0; cy < 288; cy++) {
		if (cy % 96 == 0)
			gw_jcodec_reset(&c); /* a new segment each day */
		int meters = cy < 40 ? 200 : 260, regs;
		size_t n = 0;
		for (int k = 0; k < meters; k++) {
			if (rnd() % 50 == 0 || (k == 7 && cy % 5 == 0))
				continue;
			regs = cy > 60 && k % 3 == 0 ? 24 : 23;
			int64_t ts = T0 + cy * 900000LL + k * 120 + rnd() % 9;
			snprintf(m, sizeof(m), "ABB%08d", 1000 + k);
			for (int g = 0; g < regs; g++) {
				snprintf(o, sizeof(o), "%d.%d.0", g + 1, g < 8 ? 8 : 7);
				v[k][g] += g < 8 ? rnd() % 40 : (int64_t)(rnd() % 21) - 10;
				set(n++, m, o, ts, v[k][g], g < 8 ? 0 : -2,
				    g < 8 ? GW_UNIT_WH : GW_UNIT_V, rnd() % 500 == 0);
			}
		}
		code(&c, 3, n);
	}
	gw_jcodec_free(&c);
	report("b23");
}

static void periods(void)
{
	static const int64_t period[] = {3600000LL, 7200000LL, 10800000LL,
					 86400000LL};
	char m[40], o[40];

	for (size_t p = 0; p < sizeof(period) / sizeof(period[0]); p++) {
		struct gw_jcodec c = {.fresh = 1};
		for (int cy = 0; cy < 60; cy++) {
			size_t n = 0;
			for (int k = 0; k < 50; k++) {
				if (rnd() % 10 == 0)
					continue;
				int64_t ts = T0 + cy * period[p] + k * 300 + rnd() % 50;
				snprintf(m, sizeof(m), "M%d", k);
				for (int g = 0; g < 23; g++) {
					snprintf(o, sizeof(o), "%d.8.0", g);
					set(n++, m, o, ts + (g == 22 ? 5000 : 0),
					    cy * 10 + g, 0, GW_UNIT_WH, 0);
				}
			}
			code(&c, (int)p, n);
		}
		gw_jcodec_free(&c);
	}
	report("periods");
}

static void spread(void)
{
	struct gw_jcodec c = {.fresh = 1};
	char m[40], o[40];

	for (int cy = 0; cy < 200; cy++) {
		size_t n = 0;
		for (int k = 0; k < 40; k++) {
			snprintf(m, sizeof(m), "S%d", k);
			int64_t ts = T0 + cy * 900000LL;
			for (int g = 0; g < 23; g++) {
				int64_t t = ts;
				if (k % 4 == 1)
					t += (int64_t)(rnd() % 14400000) - 7200000;
				else if (g == 0)
					t -= 7200000 + (int64_t)(rnd() % 86400000);
				else if (k % 4 == 2 && rnd() % 7 == 0)
					t += 4194303 + (int64_t)(rnd() % 3);
				snprintf(o, sizeof(o), "%d.7.0", g);
				set(n++, m, o, t, (int64_t)rnd(), -1, GW_UNIT_A,
				    g == 0 ? GW_RS_PROFILE : 0);
			}
		}
		code(&c, 1, n);
	}
	gw_jcodec_free(&c);
	report("spread");
}

static void hostile(void)
{
	struct gw_jcodec c = {.fresh = 1};
	char m[40], o[40];
	int64_t clock = T0;

	for (int cy = 0; cy < 300; cy++) {
		size_t n = 0;
		int kind = cy % 5;
		if (cy % 37 == 0)
			clock -= 3 * 3600000LL; /* the clock stepped back */
		clock += 60000;
		for (int g = 0; g < 12; g++)
			for (int k = 0; k < 30; k++) {
				snprintf(m, sizeof(m), "H%d", kind == 0 ? k : (k + g) % 30);
				snprintf(o, sizeof(o), "%d.8.%d", g, kind == 1 ? cy % 3 : 0);
				/* one rnd() a statement: the same stream from
				 * every compiler */
				uint64_t hi = rnd(), lo = rnd();
				int64_t t = clock;
				if (kind == 2)
					t = (int64_t)(hi << 32 | lo);
				else if (kind == 3)
					t += (int64_t)(lo % 9000000) - 4500000;
				int64_t v = (int64_t)rnd() - (1LL << 31);
				int8_t scale = (int8_t)((int)(rnd() % 7) - 3);
				uint8_t unit = (uint8_t)(rnd() % GW_UNIT_COUNT_);
				set(n++, m, o, t, v, scale, unit, (uint8_t)(rnd() % 4));
				if (rnd() % 20 == 0) /* the same series again */
					set(n++, m, o, t + 1000, 5, 0, GW_UNIT_WH, 0);
			}
		for (size_t i = n; kind == 4 && i > 1; i--) { /* shuffled */
			size_t j = rnd() % i;
			struct gw_reading x = rbuf[i - 1];
			rbuf[i - 1] = rbuf[j];
			rbuf[j] = x;
		}
		code(&c, 2, n);
	}
	gw_jcodec_free(&c);
	report("hostile");
}

static void wide(void)
{
	struct gw_jcodec c = {.fresh = 1};
	char m[40], o[40];

	for (int cy = 0; cy < 6; cy++) {
		size_t n = 0;
		for (int k = 0; k < 4; k++) {
			snprintf(m, sizeof(m), "W%d", k);
			for (int g = 0; g < 20000 + cy * 3000; g++) {
				snprintf(o, sizeof(o), "%d.%d.%d", k, g, cy % 2);
				set(n++, m, o, T0 + cy * 900000LL + (g % 7 ? 0 : 9000000),
				    g, 0, GW_UNIT_WH, 0);
			}
		}
		code(&c, 4, n);
	}
	gw_jcodec_free(&c);
	report("wide");
}

static void layouts(void)
{
	struct gw_jcodec c = {.fresh = 1};
	char m[40], o[40];
	static int64_t v[140][13];
	static uint8_t odd[140][13]; /* its unit or scale changed for now */

	for (int cy = 0; cy < 200; cy++) {
		if (cy % 96 == 95)
			gw_jcodec_reset(&c); /* a new segment */
		int meters = cy < 30 ? 120 : 140;
		size_t n = 0;
		for (int k = 0; k < meters; k++) {
			uint32_t miss = rnd();
			if (miss % 40 == 0)
				continue;
			int prof = k % 3, regs = 12;
			if (k == meters - 1 && cy >= 50)
				regs = 13; /* the last meter given a register */
			if (k == 17 && cy >= 70 && cy < 90)
				prof = (prof + 1) % 3; /* its profile changed */
			int64_t ts = T0 + cy * 900000LL + k * 200 + rnd() % 9;
			snprintf(m, sizeof(m), "L%d", k);
			for (int g = 0; g < regs; g++) {
				uint32_t x = rnd();
				if (x % 300 == 0)
					odd[k][g] ^= 1;
				if (cy == 0)
					v[k][g] = g < 6 ? (int64_t)INT32_MAX - 40000 + k * 997
							: (int64_t)(x % 2000) - 1000;
				if (g < 6)
					v[k][g] += 300 + x % 200; /* crosses 2^31 */
				else
					v[k][g] += (int64_t)(x % 21) - 10;
				int64_t val = v[k][g];
				uint32_t hi = rnd(), lo = rnd();
				if (g == 11 && hi % 25 == 0)
					val = (int64_t)((uint64_t)hi << 32 | lo);
				int8_t scale = (int8_t)(g < 6 ? prof - 1 : -2);
				uint8_t unit = g < 6 ? (prof == 2 ? GW_UNIT_VARH : GW_UNIT_WH)
						     : GW_UNIT_V;
				if (odd[k][g] && g % 2)
					unit = GW_UNIT_A;
				else if (odd[k][g])
					scale = (int8_t)(scale + 1);
				snprintf(o, sizeof(o), "%d.%d.0", g + 1, g < 6 ? 8 : 7);
				set(n++, m, o, ts, val, scale, unit, lo % 400 == 0);
			}
		}
		code(&c, 5, n);
	}
	gw_jcodec_free(&c);
	report("layouts");
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*run)(void);
	} streams[] = {{"b23", b23}, {"periods", periods}, {"spread", spread},
		       {"hostile", hostile}, {"wide", wide},
		       {"layouts", layouts}};

	if (getenv("GW_BENCH_JLEVEL6"))
		gw_jcodec_set_deflate(6, Z_DEFAULT_STRATEGY);
	report("start");
	for (size_t i = 0; i < sizeof(streams) / sizeof(streams[0]); i++)
		if (argc < 2 || strcmp(argv[1], streams[i].name) == 0)
			streams[i].run();
	free(rbuf);
	return fflush(stdout) ? 1 : 0;
}
