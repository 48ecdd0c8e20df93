/* SPDX-License-Identifier: MIT */
/*
 * journal_bench.c - the journal's size on flash and its decoding speed,
 * the packed cycles of segment version 2 against the full records of
 * version 1, side by side on the same readings in the same run
 * (tests/bench/journal_size.sh runs it):
 *
 *   journal_bench METERS REGISTERS [REPEATS] [METERS_PER_BUS]
 *
 * REGISTERS is "3" (1.8.0, 2.8.0 and 32.7.0, as the batch bench) or a
 * meter profile (profiles/abb_b23.prof: every register it has). One day
 * of 15-minute polls: each bus of METERS_PER_BUS (default 32) meters is
 * one segment, its cycle one record coded exactly as gatewayd codes it
 * (the same functions; checked against a real gw_journal_append_cycle of
 * bus 0 once). Each repeat draws new meters and a new day (new seed):
 * homes with a night low and an evening peak, 5% vacant, 15% with solar
 * exporting at midday; counters rise by what was drawn, in the meter's
 * own steps (0.01 kWh); voltages, currents, power, frequency and power
 * factor move as such; a bus starts its poll up to 2 s late, a meter
 * answers at its place on the bus with a few ms of jitter.
 *
 * With GW_BENCH_LEVELS set (e.g. "1,2,3,4,6,rle": zlib levels, "rle" is
 * level 6 with Z_RLE), it instead codes the same day once per level,
 * cycle by cycle side by side (the levels' order turned each cycle), and
 * prints per level the CPU per reading of the appends (coding, deflate,
 * framing and CRC: thread CPU time around each), bytes per reading, bytes
 * appended and 4 KiB blocks fsync'ed per day, each against level 6.
 *
 * Prints per repeat and as min/median/max: bytes per reading (records,
 * framing and segment headers), bytes appended per day, 4 KiB blocks
 * each append's fsync writes (the data blocks it touches; the file
 * system's own metadata comes on top, the same for both), and decoding
 * (gw_journal_read_buf over every segment of the day) in readings/s.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "bench_util.h"
#include "batchfile.h"
#include "journal_int.h"
#include "spool.h"
#include "tz.h"


/* ---- the registers ---- */

enum kind { K_IMP, K_EXP, K_V, K_A, K_W, K_HZ, K_PF, K_OTHER };

struct reg {
	char obis[GW_OBIS_MAX];
	enum kind kind;
	int phase;     /* 0 total, 1..3 */
	int8_t scale;  /* of the value as journaled */
	uint8_t unit;
	int64_t step;  /* an energy register's step in Wh */
};

static struct reg regs[64];
static int nregs;

static void add_reg(const char *obis, const char *unit, int div)
{
	struct reg *r = &regs[nregs++];
	int c = 0, e = 0;

	snprintf(r->obis, sizeof(r->obis), "%s", obis);
	sscanf(obis, "%d", &c);
	int p10 = 0;
	for (int d = div; d > 1; d /= 10)
		p10++;
	r->phase = c >= 20 ? (c - 1) / 20 : 0;
	e = c % 20;
	r->scale = (int8_t)-p10;
	if (strcmp(unit, "kWh") == 0) {
		r->unit = GW_UNIT_WH;
		r->scale = 0;
		r->step = 1000 / (div ? div : 1);
		r->kind = e == 1 ? K_IMP : K_EXP;
	} else if (strcmp(unit, "V") == 0) {
		r->unit = GW_UNIT_V, r->kind = K_V;
	} else if (strcmp(unit, "A") == 0) {
		r->unit = GW_UNIT_A, r->kind = K_A;
	} else if (strcmp(unit, "W") == 0) {
		r->unit = GW_UNIT_W, r->kind = K_W;
	} else if (strcmp(unit, "Hz") == 0) {
		r->unit = GW_UNIT_HZ, r->kind = K_HZ;
	} else {
		r->unit = GW_UNIT_NONE, r->kind = e == 13 ? K_PF : K_OTHER;
	}
	if (r->kind == K_A || r->kind == K_V || r->kind == K_W)
		r->phase = c >= 20 ? (c - 1) / 20 : 0;
}

/* Reads the [register] sections of a profile: OBIS, unit, "/N" scale. */
static int load_profile(const char *path)
{
	FILE *f = fopen(path, "r");
	char line[256], obis[GW_OBIS_MAX] = "", unit[16] = "";
	int div = 1, have = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char v[16];
		if (sscanf(line, "[register %15[^]]]", v) == 1) {
			if (have)
				add_reg(obis, unit, div);
			snprintf(obis, sizeof(obis), "%s", v);
			snprintf(unit, sizeof(unit), "-");
			div = 1;
			have = 1;
		} else if (sscanf(line, " scale = /%d", &div) == 1) {
		} else if (sscanf(line, " unit = %15s", v) == 1) {
			snprintf(unit, sizeof(unit), "%s", v);
		}
	}
	if (have)
		add_reg(obis, unit, div);
	fclose(f);
	return nregs ? 0 : -1;
}

/* ---- the meters ---- */

struct meter {
	int kind; /* 0 home, 1 vacant, 2 solar */
	double scale, solar_kw, v_phase, share[4];
	double imp[4], exp[4]; /* Wh, exact; registers show them in steps */
};

static double home_w(double h)
{
	if (h < 5.5)
		return 180;
	if (h < 8.5)
		return 450;
	if (h < 17)
		return 320;
	if (h < 22)
		return 900 + 500 * sin((h - 17) / 5 * M_PI);
	return 350;
}

static void new_meters(struct meter *m, int n)
{
	for (int i = 0; i < n; i++) {
		struct meter *x = &m[i];
		memset(x, 0, sizeof(*x));
		double u = urand();
		x->kind = u < 0.05 ? 1 : u < 0.20 ? 2 : 0;
		x->scale = 0.5 + urand() * 1.5;
		x->solar_kw = 3 + urand() * 5;
		x->v_phase = urand() * 6.28;
		double a = 0.2 + 0.25 * urand(), b = 0.2 + 0.25 * urand();
		x->share[1] = a, x->share[2] = b, x->share[3] = 1 - a - b;
		x->imp[0] = urand() * 4e7;
		x->exp[0] = x->kind == 2 ? urand() * 1e7 : 0;
		for (int p = 1; p <= 3; p++) {
			x->imp[p] = x->imp[0] * x->share[p];
			x->exp[p] = x->exp[0] * x->share[p];
		}
	}
}

/* Moves meter x on by a quarter hour ending at local hour h; *w gets its
 * net draw in W (negative: export). */
static void step_meter(struct meter *x, double h, double cloud, double *w)
{
	double draw = x->kind == 1 ? 3 : home_w(h) * x->scale * (0.7 + 0.6 * urand());
	double pv = 0;
	if (x->kind == 2 && h > 6.5 && h < 17.5)
		pv = x->solar_kw * 1000 * sin((h - 6.5) / 11 * M_PI) * cloud *
		     (0.85 + 0.3 * urand());
	*w = draw - pv;
	double wh = *w * 0.25;
	for (int p = 0; p <= 3; p++) {
		double part = p ? wh * x->share[p] : wh;
		if (part > 0)
			x->imp[p] += part;
		else
			x->exp[p] -= part;
	}
}

static int64_t reg_value(const struct reg *r, const struct meter *x, double w, double h)
{
	double pw = r->phase ? w * x->share[r->phase] : w;
	double k = pow(10, -r->scale);
	switch (r->kind) {
	case K_IMP:
	case K_EXP: {
		double e = r->kind == K_IMP ? x->imp[r->phase] : x->exp[r->phase];
		return (int64_t)(e / (double)r->step) * r->step;
	}
	case K_V:
		return (int64_t)((230 + 1.5 * sin(x->v_phase + r->phase + h / 24 * 6.28) +
				  0.4 * (urand() - 0.5)) * k);
	case K_A:
		return (int64_t)(fabs(pw) / 230 * (r->phase ? 1 : 1.0 / 3) * k);
	case K_W:
		return (int64_t)(pw * (0.97 + 0.06 * urand()) * k);
	case K_HZ:
		return (int64_t)((50 + 0.04 * (urand() - 0.5)) * k);
	case K_PF:
		return (int64_t)((x->kind == 1 ? 1.0 : 0.88 + 0.1 * urand()) * k);
	default:
		return (int64_t)(urand() * 100);
	}
}

/* ---- one day ---- */

struct seg {
	struct gw_wbuf v1, v2; /* the segment images (of the first buses) */
	struct gw_jcodec codec;
	uint64_t len1, len2;       /* the segments' sizes */
	uint64_t blocks1, blocks2; /* 4 KiB blocks the appends touch */
	int keep;                  /* keep the images, to decode them */
};

/* Buses whose day is kept in memory and decoded (the rest are coded and
 * counted only: a day of 10,000 meters in version 1 is ~800 MB). */
#define KEEP_BUSES 16

static uint64_t blocks_of(uint64_t from, uint64_t to)
{
	return to > from ? (to - 1) / 4096 - from / 4096 + 1 : 0;
}

static void put_header(struct gw_wbuf *b, int version)
{
	gw_wbuf_put(b, GW_JOURNAL_MAGIC, 4);
	gw_wbuf_le(b, (uint64_t)version, 2);
	gw_wbuf_le(b, 0, 2);
}

/* Frames the payload that starts at b->p + at (8 bytes left before it). */
static void frame_at(struct gw_wbuf *b, size_t at)
{
	gw_le_put(b->p + at, b->n - at - 8, 4);
	gw_le_put(b->p + at + 4, gw_crc32(b->p + at + 8, b->n - at - 8), 4);
}

static void append(struct gw_wbuf *b, uint64_t *len, uint64_t *blocks, int keep,
		   int version, struct gw_jcodec *c, int bus,
		   const struct gw_reading *r, size_t n)
{
	uint64_t from = *len;
	if (!keep)
		b->n = 0;
	if (*len == 0)
		put_header(b, version);
	size_t at = b->n;
	gw_wbuf_le(b, 0, 8);
	int rc = version == GW_JOURNAL_V1 ? gw_journal_v1_cycle(bus, r, n, b)
					   : gw_jcodec_encode(c, bus, r, n, b);
	if (rc) {
		fprintf(stderr, "journal_bench: encode: %s\n", gw_strerror(rc));
		exit(1);
	}
	frame_at(b, at);
	*len += b->n - (keep ? from : 0);
	*blocks += blocks_of(from, *len);
}

/* The readings of bus `bus` in cycle k of day `day`. */
static size_t bus_cycle(struct meter *m, int first, int nm, int32_t day, int k,
			int64_t late, struct gw_reading *r)
{
	int64_t t0 = gw_tz_day_start(day) + k * 900000LL + late;
	double h = k / 4.0 + 0.25, cloud = 0.5 + 0.5 * urand();
	int64_t per = 25 + 9 * nregs; /* ms a meter takes on the bus */
	size_t n = 0;

	for (int i = 0; i < nm; i++) {
		struct meter *x = &m[first + i];
		double w;
		step_meter(x, h, cloud, &w);
		int64_t ts = t0 + i * per + (int64_t)(rnd() % 7);
		for (int q = 0; q < nregs; q++, n++) {
			struct gw_reading *y = &r[n];
			memset(y, 0, sizeof(*y));
			snprintf(y->meter_id, sizeof(y->meter_id), "PE%07d", first + i + 1);
			memcpy(y->obis, regs[q].obis, sizeof(y->obis));
			y->ts_ms = ts;
			y->value = reg_value(&regs[q], x, w, h);
			y->scale = regs[q].scale;
			y->unit = regs[q].unit;
		}
	}
	return n;
}

struct tally {
	uint64_t n, sum; /* readings, and a sum over what they say */
};

static int count_cb(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct tally *t = ctx;
	t->n += n;
	for (size_t i = 0; i < n; i++)
		t->sum = t->sum * 31 + (uint64_t)r[i].value + (uint64_t)r[i].ts_ms +
			 (uint64_t)bus + (uint8_t)r[i].meter_id[9] + (uint8_t)r[i].obis[0] +
			 (uint64_t)(uint8_t)r[i].scale + r[i].unit;
	return 0;
}

/* Decodes every kept segment of one format; returns seconds, *t what
 * was read. */
static double decode_all(struct seg *s, int nbus, int v1, struct tally *sum)
{
	double t = now_s();
	memset(sum, 0, sizeof(*sum));
	for (int b = 0; b < nbus && s[b].keep; b++) {
		struct gw_wbuf *w = v1 ? &s[b].v1 : &s[b].v2;
		const char *why;
		uint64_t good;
		if (gw_journal_read_buf(w->p, w->n, count_cb, NULL, sum, &why, &good) != 0) {
			fprintf(stderr, "journal_bench: segment %d does not read: %s\n", b, why);
			exit(1);
		}
	}
	return now_s() - t;
}

/* ---- the sealed batch of the same day, for the spool's arithmetic ---- */

struct sealer {
	struct gw_batch *b;
	int first; /* meter number of series 0 */
};

static int seal_cb(void *ctx, int bus, const struct gw_reading *r, size_t n)
{
	struct sealer *z = ctx;
	(void)bus;
	for (size_t i = 0; i < n; i++) {
		int m = atoi(r[i].meter_id + 2) - 1 - z->first, q = 0;
		while (q < nregs && strcmp(regs[q].obis, r[i].obis) != 0)
			q++;
		struct gw_series *s = &z->b->series[(size_t)m * (size_t)nregs + (size_t)q];
		if (s->n < 96) {
			s->ts_ms[s->n] = r[i].ts_ms;
			s->value[s->n++] = r[i].value;
		}
	}
	return 0;
}

/* Bytes of the batch that seals the day of the kept buses' meters (their
 * interval series, and a day register per energy register), read back
 * from their version-2 segments; *nm gets the number of meters. */
static size_t sealed_bytes(struct seg *sg, int nbus, int per_bus, int meters,
			   int32_t day, int *nm)
{
	struct gw_batch *b = calloc(1, sizeof(*b));
	int kept = 0;
	for (int x = 0; x < nbus && sg[x].keep; x++)
		kept += meters - x * per_bus < per_bus ? meters - x * per_bus : per_bus;
	snprintf(b->gateway_id, sizeof(b->gateway_id), "sub-042");
	snprintf(b->timezone, sizeof(b->timezone), "Europe/Berlin");
	b->day = day;
	b->n_series = (size_t)kept * (size_t)nregs;
	b->series = calloc(b->n_series, sizeof(*b->series));
	b->days = calloc(b->n_series, sizeof(*b->days));
	for (int m = 0; m < kept; m++)
		for (int q = 0; q < nregs; q++) {
			struct gw_series *s = &b->series[(size_t)m * (size_t)nregs + (size_t)q];
			snprintf(s->meter_id, GW_ID_MAX, "PE%07d", m + 1);
			memcpy(s->obis, regs[q].obis, sizeof(s->obis));
			s->unit = regs[q].unit;
			s->scale = regs[q].scale;
			s->ts_ms = malloc(96 * sizeof(int64_t));
			s->value = malloc(96 * sizeof(int64_t));
		}
	struct sealer z = {.b = b, .first = 0};
	for (int x = 0; x < nbus && sg[x].keep; x++) {
		const char *why;
		uint64_t good;
		gw_journal_read_buf(sg[x].v2.p, sg[x].v2.n, seal_cb, NULL, &z, &why, &good);
	}
	for (size_t i = 0; i < b->n_series; i++) {
		struct gw_series *s = &b->series[i];
		if (!gw_unit_is_energy((enum gw_unit)s->unit) || s->n == 0)
			continue;
		struct gw_day_register *d = &b->days[b->n_days++];
		memcpy(d->meter_id, s->meter_id, sizeof(d->meter_id));
		memcpy(d->obis, s->obis, sizeof(d->obis));
		d->unit = s->unit;
		d->quality = GW_Q_MEASURED;
		d->start_value = s->value[0];
		d->end_value = s->value[s->n - 1];
		d->consumption = d->end_value - d->start_value;
		d->readings = s->n;
	}
	uint8_t *buf;
	size_t len = 0;
	if (gw_batch_encode(b, &buf, &len) == 0)
		free(buf);
	gw_batch_free(b);
	*nm = kept;
	return len;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void stat3(const char *what, double *v, int n, const char *unit)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_d);
	printf("%-34s min %12.3f  median %12.3f  max %12.3f %s\n", what, v[0],
	       v[n / 2], v[n - 1], unit);
}

/* Bus 0's day (its 96 cycles: n[k] readings at r + k * per) through the
 * real writer, gatewayd's path: it must make the bytes coded here.
 * Returns 0 if it does. */
static int check_real_writer(const struct gw_reading *r, const size_t *n,
			     size_t per, size_t expect)
{
	char dir[] = "/tmp/gwjbench.XXXXXX", cmd[128];
	struct gw_journal *j;

	if (!mkdtemp(dir) || gw_spool_open(dir) || gw_journal_open(dir, 1, &j))
		return -1;
	for (int k = 0; k < 96; k++)
		if (gw_journal_append_cycle(j, 0, r + (size_t)k * per, n[k]))
			return -1;
	gw_journal_close(j);
	uint64_t got = gw_journal_bytes(dir);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return -1;
	return got == expect ? 0 : -1;
}

/* ---- levels side by side (GW_BENCH_LEVELS) ---- */

#define LV_MAX 8

static double thread_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Parses "1,2,6,rle" into levels and strategies; the count, or -1. */
static int parse_levels(const char *spec, int *lv, int *st, char name[][8])
{
	int n = 0;
	char buf[128];

	snprintf(buf, sizeof(buf), "%s", spec);
	for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
		if (n == LV_MAX)
			return -1;
		if (strcmp(t, "rle") == 0) {
			lv[n] = 6, st[n] = Z_RLE;
		} else {
			lv[n] = atoi(t), st[n] = Z_DEFAULT_STRATEGY;
			if (lv[n] < 1 || lv[n] > 9)
				return -1;
		}
		snprintf(name[n], 8, "%s", t);
		n++;
	}
	return n;
}

static int levels_main(const char *spec, int meters, int repeats, int per_bus)
{
	int lv[LV_MAX], st[LV_MAX], nv, ref = -1;
	char name[LV_MAX][8];

	nv = parse_levels(spec, lv, st, name);
	for (int v = 0; v < nv; v++)
		if (lv[v] == 6 && st[v] == Z_DEFAULT_STRATEGY)
			ref = v;
	if (nv < 1 || ref < 0) {
		fprintf(stderr, "journal_bench: GW_BENCH_LEVELS: levels 1-9 or rle, 6 among them\n");
		return 2;
	}
	int nbus = (meters + per_bus - 1) / per_bus;
	size_t per = (size_t)per_bus * (size_t)nregs;
	struct meter *m = calloc((size_t)meters, sizeof(*m));
	struct gw_reading *r = calloc(per, sizeof(*r));
	double cpu[LV_MAX][64], bpr[LV_MAX][64], day[LV_MAX][64], blk[LV_MAX][64];
	double cpur[LV_MAX][64], bytr[LV_MAX][64], blkr[LV_MAX][64];
	int32_t d;

	if (repeats > 64)
		repeats = 64;
	gw_day_parse("2026-03-10", &d);
	printf("# journal levels: %d meters x %d registers, %d buses of %d, 96 polls a day, %d repeats\n",
	       meters, nregs, nbus, per_bus, repeats);
	printf("# %-6s %-5s %10s %10s %10s %10s %12s %10s\n", "repeat", "level", "ns/rdg",
	       "cpu/l6", "B/rdg", "B/l6", "B/day", "blk/l6");
	for (int rep = 0; rep < repeats; rep++) {
		rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(rep + 1) * 0xD1B54A32D192ED03ULL);
		new_meters(m, meters);
		struct seg *s = calloc((size_t)nbus * (size_t)nv, sizeof(*s));
		double t[LV_MAX] = {0};
		uint64_t readings = 0;
		for (int i = 0; i < nbus * nv; i++) {
			s[i].codec.fresh = 1;
			s[i].keep = i / nv < KEEP_BUSES;
		}
		for (int k = 0; k < 96; k++)
			for (int b = 0; b < nbus; b++) {
				int first = b * per_bus;
				int nm = meters - first < per_bus ? meters - first : per_bus;
				int64_t late = (int64_t)(rnd() % 2000);
				size_t n = bus_cycle(m, first, nm, d, k, late, r);
				readings += n;
				for (int j = 0; j < nv; j++) {
					int v = (j + k + b) % nv;
					struct seg *x = &s[(size_t)b * (size_t)nv + (size_t)v];
					gw_jcodec_set_deflate(lv[v], st[v]);
					double t0 = thread_s();
					append(&x->v2, &x->len2, &x->blocks2, x->keep,
					       GW_JOURNAL_VERSION, &x->codec, b, r, n);
					t[v] += thread_s() - t0;
				}
			}
		uint64_t by[LV_MAX] = {0}, bl[LV_MAX] = {0};
		struct tally sum[LV_MAX];
		for (int v = 0; v < nv; v++) {
			memset(&sum[v], 0, sizeof(sum[v]));
			for (int b = 0; b < nbus; b++) {
				struct seg *x = &s[(size_t)b * (size_t)nv + (size_t)v];
				by[v] += x->len2, bl[v] += x->blocks2;
				const char *why;
				uint64_t good;
				if (x->keep &&
				    gw_journal_read_buf(x->v2.p, x->v2.n, count_cb, NULL, &sum[v],
							&why, &good) != 0) {
					fprintf(stderr, "journal_bench: level %s: bus %d does not read: %s\n",
						name[v], b, why);
					return 1;
				}
			}
		}
		for (int v = 0; v < nv; v++)
			if (sum[v].n != sum[ref].n || sum[v].sum != sum[ref].sum) {
				fprintf(stderr, "journal_bench: level %s reads back otherwise\n", name[v]);
				return 1;
			}
		for (int v = 0; v < nv; v++) {
			cpu[v][rep] = t[v] / (double)readings * 1e9;
			bpr[v][rep] = (double)by[v] / (double)readings;
			day[v][rep] = (double)by[v] / 1e6;
			blk[v][rep] = (double)bl[v] * 4096 / 1e6;
			cpur[v][rep] = t[v] / t[ref];
			bytr[v][rep] = (double)by[v] / (double)by[ref];
			blkr[v][rep] = (double)bl[v] / (double)bl[ref];
			printf("  %-6d %-5s %10.1f %10.3f %10.3f %10.3f %12llu %10.3f\n", rep + 1,
			       name[v], cpu[v][rep], cpur[v][rep], bpr[v][rep], bytr[v][rep],
			       (unsigned long long)by[v], blkr[v][rep]);
		}
		for (int i = 0; i < nbus * nv; i++) {
			free(s[i].v2.p);
			gw_jcodec_free(&s[i].codec);
		}
		free(s);
	}
	for (int v = 0; v < nv; v++) {
		char what[64];
		printf("# level %s\n", name[v]);
		snprintf(what, sizeof(what), "  CPU per reading");
		stat3(what, cpu[v], repeats, "ns");
		stat3("  CPU against level 6", cpur[v], repeats, "x");
		stat3("  bytes per reading", bpr[v], repeats, "B");
		stat3("  bytes against level 6", bytr[v], repeats, "x");
		stat3("  appended per day", day[v], repeats, "MB");
		stat3("  blocks fsync'ed per day", blk[v], repeats, "MB");
		stat3("  blocks against level 6", blkr[v], repeats, "x");
	}
	gw_jcodec_set_deflate(GW_JOURNAL_ZLEVEL, GW_JOURNAL_ZSTRATEGY);
	free(m);
	free(r);
	return 0;
}

int main(int argc, char **argv)
{
	int meters = argc > 1 ? atoi(argv[1]) : 10000;
	const char *regarg = argc > 2 ? argv[2] : "3";
	int repeats = argc > 3 ? atoi(argv[3]) : 3;
	int per_bus = argc > 4 ? atoi(argv[4]) : 32;

	/* levels: up to 256 meters a bus (gatewayd's scale bench has 200) */
	if (meters < 1 || repeats < 1 || per_bus < 1 ||
	    per_bus > (getenv("GW_BENCH_LEVELS") ? 256 : 64)) {
		fprintf(stderr, "usage: journal_bench METERS 3|PROFILE [REPEATS] [METERS_PER_BUS<=64, 256 with GW_BENCH_LEVELS]\n");
		return 2;
	}
	gw_log_set_level(GW_LOG_WARN);
	gw_tz_set("Europe/Berlin");
	if (strcmp(regarg, "3") == 0) {
		add_reg("1.8.0", "kWh", 100);
		add_reg("2.8.0", "kWh", 100);
		add_reg("32.7.0", "V", 10);
	} else if (load_profile(regarg)) {
		fprintf(stderr, "journal_bench: %s: no registers\n", regarg);
		return 2;
	}
	if (getenv("GW_BENCH_LEVELS"))
		return levels_main(getenv("GW_BENCH_LEVELS"), meters, repeats, per_bus);
	int nbus = (meters + per_bus - 1) / per_bus;
	struct meter *m = calloc((size_t)meters, sizeof(*m));
	struct gw_reading *r = calloc((size_t)per_bus * (size_t)nregs, sizeof(*r));
	double *bpr1 = calloc((size_t)repeats, sizeof(double)), *bpr2 = calloc((size_t)repeats, sizeof(double));
	double *ratio = calloc((size_t)repeats, sizeof(double)), *blk = calloc((size_t)repeats, sizeof(double));
	double *day1 = calloc((size_t)repeats, sizeof(double)), *day2 = calloc((size_t)repeats, sizeof(double));
	double *blk1 = calloc((size_t)repeats, sizeof(double)), *blk2 = calloc((size_t)repeats, sizeof(double));
	double *dec1 = calloc((size_t)repeats, sizeof(double)), *dec2 = calloc((size_t)repeats, sizeof(double));
	double *decr = calloc((size_t)repeats, sizeof(double));
	double *sealpm = calloc((size_t)repeats, sizeof(double));
	double *jpm = calloc((size_t)repeats, sizeof(double));
	int32_t day;
	gw_day_parse("2026-03-10", &day);

	printf("# journal: %d meters x %d registers (%s), %d buses of %d, 96 polls a day, %d repeats\n",
	       meters, nregs, regarg, nbus, per_bus, repeats);
	printf("# %-6s %10s %10s %8s %14s %14s %10s %12s %12s\n", "repeat", "v1 B/rdg",
	       "v2 B/rdg", "v1/v2", "v1 B/day", "v2 B/day", "blk v1/v2", "v1 dec/s", "v2 dec/s");
	int checked = 0;
	for (int rep = 0; rep < repeats; rep++) {
		rng = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)(rep + 1) * 0xD1B54A32D192ED03ULL);
		new_meters(m, meters);
		struct seg *s = calloc((size_t)nbus, sizeof(*s));
		uint64_t readings = 0;
		size_t per = (size_t)per_bus * (size_t)nregs, n0[96];
		struct gw_reading *keep0 = checked ? NULL : calloc(96 * per, sizeof(*keep0));
		uint64_t kept = 0;
		for (int b = 0; b < nbus; b++) {
			s[b].codec.fresh = 1;
			s[b].keep = b < KEEP_BUSES;
		}
		for (int k = 0; k < 96; k++) {
			for (int b = 0; b < nbus; b++) {
				int first = b * per_bus;
				int nm = meters - first < per_bus ? meters - first : per_bus;
				int64_t late = (int64_t)(rnd() % 2000);
				size_t n = bus_cycle(m, first, nm, day, k, late, r);
				readings += n;
				kept += s[b].keep ? n : 0;
				if (b == 0 && keep0) {
					memcpy(keep0 + (size_t)k * per, r, n * sizeof(*r));
					n0[k] = n;
				}
				append(&s[b].v1, &s[b].len1, &s[b].blocks1, s[b].keep,
				       GW_JOURNAL_V1, NULL, b, r, n);
				append(&s[b].v2, &s[b].len2, &s[b].blocks2, s[b].keep,
				       GW_JOURNAL_VERSION, &s[b].codec, b, r, n);
			}
		}
		uint64_t by1 = 0, by2 = 0, bl1 = 0, bl2 = 0;
		for (int b = 0; b < nbus; b++) {
			by1 += s[b].len1, by2 += s[b].len2;
			bl1 += s[b].blocks1, bl2 += s[b].blocks2;
		}
		/* decoding, paired: old and new alternately, best of 3 each */
		double t1 = 1e9, t2 = 1e9;
		struct tally n1, n2;
		for (int i = 0; i < 3; i++) {
			double a = decode_all(s, nbus, 1, &n1), b2 = decode_all(s, nbus, 0, &n2);
			t1 = a < t1 ? a : t1;
			t2 = b2 < t2 ? b2 : t2;
		}
		if (n1.n != kept || n2.n != kept || n1.sum != n2.sum) {
			fprintf(stderr, "journal_bench: the formats decode differently\n");
			return 1;
		}
		bpr1[rep] = (double)by1 / (double)readings;
		bpr2[rep] = (double)by2 / (double)readings;
		ratio[rep] = (double)by1 / (double)by2;
		day1[rep] = (double)by1 / 1e6, day2[rep] = (double)by2 / 1e6;
		blk1[rep] = (double)bl1 * 4096 / 1e6, blk2[rep] = (double)bl2 * 4096 / 1e6;
		blk[rep] = (double)bl1 / (double)bl2;
		dec1[rep] = (double)kept / t1 / 1e6;
		dec2[rep] = (double)kept / t2 / 1e6;
		decr[rep] = dec2[rep] / dec1[rep];
		int nm_sealed;
		size_t sb = sealed_bytes(s, nbus, per_bus, meters, day, &nm_sealed);
		sealpm[rep] = (double)sb / nm_sealed;
		jpm[rep] = (double)by2 / meters;
		printf("  %-6d %10.3f %10.3f %8.2f %14llu %14llu %10.2f %11.2fM %11.2fM\n", rep + 1,
		       bpr1[rep], bpr2[rep], ratio[rep], (unsigned long long)by1,
		       (unsigned long long)by2, blk[rep], dec1[rep], dec2[rep]);
		if (!checked) {
			/* bus 0's day once more, through gatewayd's own writer */
			int ok = check_real_writer(keep0, n0, per, s[0].v2.n) == 0;
			printf("# %s - bus 0's day through gw_journal_append_cycle: %zu bytes, as coded here\n",
			       ok ? "ok" : "NOT OK", s[0].v2.n);
			free(keep0);
			checked = 1;
			if (!ok)
				return 1;
		}
		for (int b = 0; b < nbus; b++) {
			free(s[b].v1.p);
			free(s[b].v2.p);
			gw_jcodec_free(&s[b].codec);
		}
		free(s);
	}
	stat3("v1 bytes per reading", bpr1, repeats, "B");
	stat3("v2 bytes per reading", bpr2, repeats, "B");
	stat3("size ratio v1/v2", ratio, repeats, "x");
	stat3("v1 appended per day", day1, repeats, "MB");
	stat3("v2 appended per day", day2, repeats, "MB");
	stat3("v1 blocks fsync'ed per day", blk1, repeats, "MB");
	stat3("v2 blocks fsync'ed per day", blk2, repeats, "MB");
	stat3("block ratio v1/v2", blk, repeats, "x");
	stat3("v1 decoding", dec1, repeats, "M readings/s");
	stat3("v2 decoding", dec2, repeats, "M readings/s");
	stat3("decoding speed v2/v1", decr, repeats, "x");
	stat3("sealed batch per meter-day", sealpm, repeats, "B");
	stat3("v2 journal per meter-day", jpm, repeats, "B");
	qsort(bpr2, (size_t)repeats, sizeof(double), cmp_d);
	printf("bench: journal_size_%dreg: %.2f bytes/reading (baseline v1 %.2f, ratio %.1fx smaller, target <= 4): %s\n",
	       nregs, bpr2[repeats / 2], bpr1[repeats / 2], ratio[repeats / 2],
	       bpr2[repeats - 1] <= 4.0 ? "met" : "missed");
	free(m);
	free(r);
	return 0;
}
