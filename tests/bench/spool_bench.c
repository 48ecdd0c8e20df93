/* SPDX-License-Identifier: MIT */
/*
 * spool_bench.c - benchmarks of the batch format, each against a baseline
 * measured side by side in the same run (tests/bench/spool_*.sh run it):
 *
 *   spool_bench size [METERS] [DAYS]
 *       a month (DAYS, default 30) of 15-minute data of METERS (default
 *       10000) meters, registers 1.8.0, 2.8.0 and 32.7.0, sealed into one
 *       batch a day: bytes per reading of the batch files against gzip -6
 *       of the same readings as CSV (gwctl spool dump --intervals), and
 *       against the order-0 entropy of the interval deltas.
 *   spool_bench seal [METERS]
 *       sealing one day of METERS x 96 intervals x 3 registers (batching
 *       core + encode + durable write into a spool) against plain zlib
 *       (compress2, level 6) of the same number of raw reading bytes
 *       (16 per reading: time and value).
 *
 * The load shapes are synthetic but shaped like a distribution feeder's:
 * homes with night lows, a morning bump and an evening peak, random noise;
 * 5% of meters draw nothing (vacant); 15% have rooftop solar and export at
 * midday. Meters answer at a fixed offset into each poll (their place on
 * the bus) with a few milliseconds of jitter.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "batch.h"
#include "spool.h"
#include "tz.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static double urand(void) { return (rnd() & 0xffffff) / 16777216.0; }

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct meter {
	int kind; /* 0 home, 1 vacant, 2 solar */
	double scale, solar_kw;
	int64_t imp, exp; /* registers, Wh */
	double v_phase;
};

/* Average household draw in W at local hour h (fractional). */
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

/* Fills one local day into b: 3 series and 2 daily registers per meter. */
static void make_day(struct gw_batch *b, struct meter *m, int n, int32_t day)
{
	int64_t start = gw_tz_day_start(day);

	b->day = day;
	for (int i = 0; i < n; i++) {
		struct meter *x = &m[i];
		struct gw_series *s = &b->series[3 * i];
		struct gw_day_register *d = &b->days[2 * i];
		int64_t off = (i % 32) * 150; /* place on its bus, ms */
		double cloud = 0.4 + 0.6 * urand();
		d[0].start_value = x->imp;
		d[1].start_value = x->exp;
		for (int k = 0; k < 96; k++) {
			double h = k / 4.0;
			double w = 0;
			if (x->kind != 1)
				w = home_w(h) * x->scale * (0.7 + 0.6 * urand());
			double pv = 0;
			if (x->kind == 2 && h > 6.5 && h < 17.5)
				pv = x->solar_kw * 1000 * sin((h - 6.5) / 11 * M_PI) * cloud *
				     (0.85 + 0.3 * urand());
			double net = (w - pv) * 0.25;
			if (net > 0)
				x->imp += (int64_t)(net + 0.5);
			else
				x->exp += (int64_t)(-net + 0.5);
			int64_t ts = start + k * 900000LL + off + (int64_t)(rnd() % 10);
			for (int r = 0; r < 3; r++) {
				s[r].ts_ms[k] = ts;
			}
			s[0].value[k] = x->imp;
			s[1].value[k] = x->exp;
			s[2].value[k] = 2300 + (int64_t)(15 * sin(x->v_phase + h / 24 * 2 * M_PI)) +
					(int64_t)(rnd() % 9) - 4;
		}
		for (int r = 0; r < 2; r++) {
			d[r].end_value = r ? x->exp : x->imp;
			d[r].consumption = d[r].end_value - d[r].start_value;
			d[r].quality = GW_Q_MEASURED;
			d[r].readings = 96;
		}
	}
}

static struct gw_batch *new_batch(struct meter *m, int n)
{
	struct gw_batch *b = calloc(1, sizeof(*b));
	snprintf(b->gateway_id, sizeof(b->gateway_id), "sub-042");
	snprintf(b->timezone, sizeof(b->timezone), "Asia/Ho_Chi_Minh");
	b->n_days = 2 * (size_t)n;
	b->days = calloc(b->n_days, sizeof(*b->days));
	b->n_series = 3 * (size_t)n;
	b->series = calloc(b->n_series, sizeof(*b->series));
	for (int i = 0; i < n; i++) {
		for (int r = 0; r < 3; r++) {
			struct gw_series *s = &b->series[3 * i + r];
			snprintf(s->meter_id, GW_ID_MAX, "PE%07d", i + 1);
			snprintf(s->obis, GW_OBIS_MAX, "%s", r == 0 ? "1.8.0" : r == 1 ? "2.8.0" : "32.7.0");
			s->unit = r == 2 ? GW_UNIT_V : GW_UNIT_WH;
			s->scale = r == 2 ? -1 : 0;
			s->n = 96;
			s->ts_ms = malloc(96 * sizeof(int64_t));
			s->value = malloc(96 * sizeof(int64_t));
		}
		for (int r = 0; r < 2; r++) {
			struct gw_day_register *d = &b->days[2 * i + r];
			snprintf(d->meter_id, GW_ID_MAX, "PE%07d", i + 1);
			snprintf(d->obis, GW_OBIS_MAX, r ? "2.8.0" : "1.8.0");
			d->unit = GW_UNIT_WH;
		}
	}
	(void)m;
	return b;
}

static struct meter *new_meters(int n)
{
	struct meter *m = calloc((size_t)n, sizeof(*m));
	for (int i = 0; i < n; i++) {
		uint32_t r = rnd() % 100;
		m[i].kind = r < 5 ? 1 : r < 20 ? 2 : 0;
		m[i].scale = 0.4 + 1.6 * urand();
		m[i].solar_kw = 2 + 4 * urand();
		m[i].imp = (int64_t)(rnd() % 50000000);
		m[i].exp = m[i].kind == 2 ? (int64_t)(rnd() % 5000000) : 0;
		m[i].v_phase = urand() * 6.28;
	}
	return m;
}

/* ---- order-0 entropy of the deltas ---- */

#define HBITS 22
struct hist {
	uint32_t *c; /* deltas in [-2^21, 2^21); others counted in big */
	uint64_t n, big;
};

static void hist_add(struct hist *h, int64_t v)
{
	h->n++;
	if (v < -(1 << (HBITS - 1)) || v >= (1 << (HBITS - 1)))
		h->big++;
	else
		h->c[v + (1 << (HBITS - 1))]++;
}

/* Bits of the order-0 entropy code for all symbols of h. */
static double hist_bits(const struct hist *h)
{
	double bits = 0;
	for (size_t i = 0; i < (size_t)1 << HBITS; i++)
		if (h->c[i])
			bits -= h->c[i] * log2((double)h->c[i] / (double)h->n);
	bits += h->big * 64.0; /* never happens with this data */
	return bits;
}

/* ---- CSV as gwctl spool dump --intervals prints it ---- */

static char *fmt_utc(int64_t ms, char *p)
{
	static int64_t cached_day = -1;
	static char prefix[16];
	int64_t day = ms / 86400000;
	if (day != cached_day) {
		time_t t = (time_t)(day * 86400);
		struct tm tm;
		gmtime_r(&t, &tm);
		strftime(prefix, sizeof(prefix), "%Y-%m-%dT", &tm);
		cached_day = day;
	}
	memcpy(p, prefix, 11);
	p += 11;
	int64_t r = ms % 86400000;
	int hh = (int)(r / 3600000), mm = (int)(r / 60000 % 60), ss = (int)(r / 1000 % 60),
	    mss = (int)(r % 1000);
	p += sprintf(p, "%02d:%02d:%02d.%03dZ", hh, mm, ss, mss);
	return p;
}

static void csv_batch(const struct gw_batch *b, z_stream *z, uint8_t *out,
		      size_t outcap, uint64_t *zbytes, uint64_t *csvbytes)
{
	static char line[1 << 20];
	size_t n = 0;
	char v[48];

	for (size_t i = 0; i < b->n_series; i++) {
		const struct gw_series *s = &b->series[i];
		for (uint32_t k = 0; k < s->n; k++) {
			char *p = line + n;
			p += sprintf(p, "%s,%s,", s->meter_id, s->obis);
			p = fmt_utc(s->ts_ms[k], p);
			p += sprintf(p, ",%s,%s\n",
				     gw_format_decimal(s->value[k], s->scale, v, sizeof(v)),
				     gw_unit_name(s->unit));
			n = (size_t)(p - line);
			if (n > sizeof(line) - 256 || (i + 1 == b->n_series && k + 1 == s->n)) {
				z->next_in = (Bytef *)line;
				z->avail_in = (uInt)n;
				while (z->avail_in) {
					z->next_out = out;
					z->avail_out = (uInt)outcap;
					deflate(z, Z_NO_FLUSH);
					*zbytes += outcap - z->avail_out;
				}
				*csvbytes += n;
				n = 0;
			}
		}
	}
}

static void report(const char *name, double value, const char *unit,
		   double baseline, const char *bunit, double ratio,
		   const char *target, int met)
{
	printf("bench: %s: %.3f%s (baseline %.3f%s, ratio %.3f, target %s): %s\n",
	       name, value, unit, baseline, bunit, ratio, target,
	       met ? "met" : "missed");
}

static int bench_size(int n, int days)
{
	struct meter *m = new_meters(n);
	struct gw_batch *b = new_batch(m, n);
	struct hist hv[3], hts;
	uint64_t ours = 0, readings = 0, zcsv = 0, csv = 0, raw = 0;
	static uint8_t zout[1 << 20];
	z_stream z;
	int32_t day0;

	gw_day_parse("2026-03-01", &day0);
	memset(&z, 0, sizeof(z));
	deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY); /* gzip -6 */
	for (int r = 0; r < 3; r++)
		hv[r].c = calloc((size_t)1 << HBITS, sizeof(uint32_t)), hv[r].n = hv[r].big = 0;
	hts.c = calloc((size_t)1 << HBITS, sizeof(uint32_t));
	hts.n = hts.big = 0;
	for (int d = 0; d < days; d++) {
		make_day(b, m, n, day0 + d);
		uint8_t *buf;
		size_t len;
		if (gw_batch_encode(b, &buf, &len))
			return 1;
		ours += len;
		raw += (uint64_t)(buf[36] | buf[37] << 8 | buf[38] << 16 | (uint64_t)buf[39] << 24);
		free(buf);
		csv_batch(b, &z, zout, sizeof(zout), &zcsv, &csv);
		for (size_t i = 0; i < b->n_series; i++) {
			const struct gw_series *s = &b->series[i];
			readings += s->n;
			for (uint32_t k = 1; k < s->n; k++) {
				hist_add(&hv[i % 3], s->value[k] - s->value[k - 1]);
				if (i % 3 == 0) /* one time stream per meter */
					hist_add(&hts, s->ts_ms[k] - s->ts_ms[k - 1] - 900000);
			}
		}
	}
	for (;;) {
		z.next_out = zout;
		z.avail_out = sizeof(zout);
		int rc = deflate(&z, Z_FINISH);
		zcsv += sizeof(zout) - z.avail_out;
		if (rc == Z_STREAM_END)
			break;
	}
	deflateEnd(&z);
	/* The bound: order-0 entropy of each register's value deltas, plus
	 * that of the time deltas (the three registers of a meter are read
	 * in one request and share their time). */
	double bits = hist_bits(&hts);
	for (int r = 0; r < 3; r++)
		bits += hist_bits(&hv[r]);
	double bound = bits / 8;
	double bpr = (double)ours / (double)readings;
	printf("# %d meters x %d days x 96 intervals x 3 registers = %llu readings\n",
	       n, days, (unsigned long long)readings);
	printf("# batch files %llu bytes (payload before zlib %llu); CSV %llu bytes, gzip -6 %llu bytes\n",
	       (unsigned long long)ours, (unsigned long long)raw,
	       (unsigned long long)csv, (unsigned long long)zcsv);
	printf("# entropy: time deltas %.3f bits, 1.8.0 %.3f, 2.8.0 %.3f, 32.7.0 %.3f bits per delta\n",
	       hist_bits(&hts) / (double)hts.n, hist_bits(&hv[0]) / (double)hv[0].n,
	       hist_bits(&hv[1]) / (double)hv[1].n, hist_bits(&hv[2]) / (double)hv[2].n);
	double r1 = (double)zcsv / (double)ours;
	report("bytes_per_reading_vs_gzip_csv", bpr, " B", (double)zcsv / (double)readings,
	       " B gzip csv", r1, ">= 5x smaller", r1 >= 5);
	double r2 = (double)ours / bound;
	report("bytes_per_reading_vs_entropy", bpr, " B", bound / (double)readings,
	       " B order-0 entropy", r2, "<= 1.20", r2 <= 1.20);
	return 0;
}

struct seal_ctx {
	const char *dir;
	double t;
	int rc;
};

static int on_sealed(void *arg, struct gw_batch *b)
{
	struct seal_ctx *c = arg;
	c->rc = gw_spool_write(c->dir, b);
	gw_batch_free(b);
	return c->rc;
}

static int bench_seal(int n)
{
	struct meter *m = new_meters(n);
	struct gw_batch *b = new_batch(m, n);
	int32_t day;
	char dir[] = "/tmp/gwbench.XXXXXX";

	gw_day_parse("2026-03-02", &day);
	make_day(b, m, n, day);
	if (!mkdtemp(dir) || gw_spool_open(dir))
		return 1;
	/* readings as the scheduler delivers them: one cycle at a time */
	size_t total = (size_t)n * 96 * 3;
	struct gw_reading *r = calloc(total, sizeof(*r));
	size_t k = 0;
	for (int i = 0; i < 96; i++)
		for (size_t s = 0; s < b->n_series; s++, k++) {
			struct gw_series *x = &b->series[s];
			snprintf(r[k].meter_id, GW_ID_MAX, "%s", x->meter_id);
			snprintf(r[k].obis, GW_OBIS_MAX, "%s", x->obis);
			r[k].ts_ms = x->ts_ms[i];
			r[k].value = x->value[i];
			r[k].scale = x->scale;
			r[k].unit = x->unit;
		}
	struct gw_batcher_params p = {
		.gateway_id = "sub-042", .poll_interval_ms = 900000,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 0,
	};
	struct gw_batcher *bat = gw_batcher_new(&p);
	gw_batcher_add(bat, r, total);
	/* the first readings of the next day close the last midnight */
	for (size_t s = 0; s < b->n_series; s++)
		r[s].ts_ms += 86400000;
	gw_batcher_add(bat, r, b->n_series);
	struct seal_ctx c = {.dir = dir};
	double t0 = now_s();
	int sealed = gw_batcher_advance(bat, gw_tz_day_start(day + 1) + 1, on_sealed, &c);
	double t_seal = now_s() - t0;
	gw_batcher_free(bat);

	/* encode + durable write alone, on the generated batch */
	t0 = now_s();
	b->revision = 7;
	gw_spool_write(dir, b);
	double t_write = now_s() - t0;

	/* baseline: plain zlib of as many raw bytes (16 per reading) */
	size_t rawlen = total * 16;
	uint8_t *raw = malloc(rawlen), *out;
	k = 0;
	for (size_t s = 0; s < b->n_series; s++)
		for (int i = 0; i < 96; i++) {
			memcpy(raw + k, &b->series[s].ts_ms[i], 8);
			memcpy(raw + k + 8, &b->series[s].value[i], 8);
			k += 16;
		}
	uLongf outlen = compressBound((uLong)rawlen);
	out = malloc(outlen);
	t0 = now_s();
	compress2(out, &outlen, raw, (uLong)rawlen, 6);
	double t_zlib = now_s() - t0;
	printf("# one day: %d meters x 96 x 3 = %zu readings; sealed %d day(s) "
	       "(batching core + encode + write + fsync) in %.3f s; encode + write "
	       "of the same batch %.3f s; zlib of %zu raw bytes %.3f s (to %lu bytes)\n",
	       n, total, sealed, t_seal, t_write, rawlen, t_zlib, (unsigned long)outlen);
	report("seal_one_day", t_seal, " s", t_zlib, " s plain zlib", t_seal / t_zlib,
	       "< 1 s", t_seal < 1.0 && sealed == 1 && c.rc == 0);
	report("encode_write_one_day", t_write, " s", t_zlib, " s plain zlib",
	       t_write / t_zlib, "< 1 s", t_write < 1.0);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		return 1;
	free(raw);
	free(out);
	free(r);
	gw_batch_free(b);
	free(m);
	return 0;
}

int main(int argc, char **argv)
{
	gw_log_set_level(GW_LOG_WARN);
	if (gw_tz_set("Asia/Ho_Chi_Minh"))
		return 1;
	if (argc >= 2 && strcmp(argv[1], "size") == 0)
		return bench_size(argc > 2 ? atoi(argv[2]) : 10000,
				  argc > 3 ? atoi(argv[3]) : 30);
	if (argc >= 2 && strcmp(argv[1], "seal") == 0)
		return bench_seal(argc > 2 ? atoi(argv[2]) : 10000);
	fprintf(stderr, "usage: spool_bench size [METERS] [DAYS] | seal [METERS]\n");
	return 2;
}
