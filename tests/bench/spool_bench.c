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
 *   spool_bench seal METERS REPS PROFILE...
 *       sealing one day of METERS meters x 96 cycles of every register of
 *       each profile file (profiles/eastron_sdm630.prof, abb_b23.prof:
 *       realistic values through the register's own encoding and
 *       decoding), by the batching core with gatewayd's defaults and its
 *       durable write into a spool, paired with zlib (compress2, level 6,
 *       as the batch writer) of that batch's own uncompressed payload;
 *       REPS pairs, min / median / max. Target: the seal < 1 s.
 *   spool_bench zlib BATCHFILE
 *       prints the milliseconds of zlib -6 of the file's payload (best
 *       of 3): the seal's baseline for tests/bench/scale.sh.
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

#include <sys/stat.h>

#include "bench_util.h"
#include "batch.h"
#include "batchfile.h"
#include "profile.h"
#include "spool.h"
#include "tz.h"


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

/* ---- zlib of a batch file's own payload ---- */

/* Inflates the payload of the batch file at path into *raw (*rawlen
 * bytes). Returns 0, or -1 with a message. */
static int batch_payload(const char *path, uint8_t **raw, size_t *rawlen)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long len;

	if (!f || fseek(f, 0, SEEK_END) || (len = ftell(f)) < 48 || fseek(f, 0, SEEK_SET) ||
	    !(buf = malloc((size_t)len)) || fread(buf, 1, (size_t)len, f) != (size_t)len) {
		fprintf(stderr, "spool_bench: cannot read %s\n", path);
		if (f)
			fclose(f);
		free(buf);
		return -1;
	}
	fclose(f);
	size_t hlen = (size_t)(buf[6] | buf[7] << 8);
	uLongf n = (uLongf)(buf[36] | buf[37] << 8 | buf[38] << 16 | (uint32_t)buf[39] << 24);
	size_t clen = (size_t)(buf[40] | buf[41] << 8 | buf[42] << 16 | (uint32_t)buf[43] << 24);
	*raw = malloc(n ? n : 1);
	if (hlen + clen > (size_t)len || !*raw ||
	    uncompress(*raw, &n, buf + hlen, (uLong)clen) != Z_OK) {
		fprintf(stderr, "spool_bench: %s: the payload does not inflate\n", path);
		free(buf);
		return -1;
	}
	*rawlen = n;
	free(buf);
	return 0;
}

/* Milliseconds of compress2 at level 6 (as the batch writer) of raw, the
 * best of reps. */
static double zlib_ms(const uint8_t *raw, size_t rawlen, int reps, size_t *zlen)
{
	uLongf cap = compressBound((uLong)rawlen);
	uint8_t *out = malloc(cap);
	double best = 1e30;

	for (int i = 0; i < reps; i++) {
		uLongf outlen = cap;
		double t0 = now_s();
		compress2(out, &outlen, raw, (uLong)rawlen, 6);
		double t = (now_s() - t0) * 1000;
		best = t < best ? t : best;
		*zlen = outlen;
	}
	free(out);
	return best;
}

/* spool_bench zlib FILE: prints the ms of zlib -6 of the file's payload. */
static int bench_zlib(const char *path)
{
	uint8_t *raw;
	size_t rawlen, zlen;

	if (batch_payload(path, &raw, &rawlen))
		return 1;
	printf("%.3f\n", zlib_ms(raw, rawlen, 3, &zlen));
	free(raw);
	return 0;
}

/* ---- sealing a day of a shipped profile's registers ---- */

/* One meter's state for the profile generator: its load, solar and the
 * per-phase totals. */
struct pmeter {
	int kind; /* 0 home, 1 vacant, 2 solar */
	double scale, solar_kw, ph[3];
	double imp[3], exp[3]; /* Wh per phase */
	double v_phase;
};

/* The register's physical value in its base unit (Wh, W, V, A, Hz, var,
 * VA, or none for a power factor) for meter x at local hour h with net
 * power p (W, per phase in pp[]), from its OBIS code. */
static double phys_value(const char *obis, const struct pmeter *x, double h,
			 const double *pp)
{
	int c = atoi(obis), d = atoi(strchr(obis, '.') + 1);
	double imp = x->imp[0] + x->imp[1] + x->imp[2];
	double exp = x->exp[0] + x->exp[1] + x->exp[2];
	double p = pp[0] + pp[1] + pp[2];
	int ph = c / 20 - 1; /* 21.., 41.., 61.. -> phase 0, 1, 2 */
	double v = 230 + 2.5 * sin(x->v_phase + h / 24 * 2 * M_PI) + ((int)(rnd() % 9) - 4) * 0.1;
	double pf = 0.92 + 0.07 * urand();

	if (d == 8) {
		if (c == 1)
			return imp;
		if (c == 2)
			return exp;
		if (c == 15)
			return imp + exp;
		if (ph >= 0 && ph < 3)
			return c % 20 == 1 ? x->imp[ph] : x->exp[ph];
		return imp;
	}
	if (d != 7)
		return 0;
	switch (c) {
	case 32: case 52: case 72: return v + (c - 32) / 20 * 0.7;
	case 31: case 51: case 71: return fabs(pp[(c - 31) / 20]) / v / pf;
	case 36: case 56: case 76: return pp[(c - 36) / 20];
	case 16: return p;
	case 9: return fabs(p) / pf;
	case 3: return fabs(p) * sqrt(1 / (pf * pf) - 1);
	case 13: case 33: case 53: case 73: return pf;
	case 14: return 50 + ((int)(rnd() % 11) - 5) * 0.01;
	default: return 0;
	}
}

/* One cycle (k: quarter hours since the day's start; 96 is the next
 * day's first) of n meters of profile pr into r, as the driver would
 * deliver them: each value encoded into the register and decoded again.
 * Returns the number of readings. */
static size_t profile_cycle(const struct gw_profile *pr, struct pmeter *m, int n,
			    int64_t start, int k, struct gw_reading *r)
{
	double h = (k % 96) / 4.0;
	size_t out = 0;

	for (int i = 0; i < n; i++) {
		struct pmeter *x = &m[i];
		double w = x->kind == 1 ? 0 : home_w(h) * x->scale * (0.7 + 0.6 * urand());
		double pv = 0, pp[3];
		if (x->kind == 2 && h > 6.5 && h < 17.5)
			pv = x->solar_kw * 1000 * sin((h - 6.5) / 11 * M_PI) * (0.85 + 0.3 * urand());
		int64_t ts = start + k * 900000LL + (i % 32) * 150 + (int64_t)(rnd() % 10);
		for (int f = 0; f < 3; f++) {
			pp[f] = (w - pv) * x->ph[f];
			if (k > 0 && pp[f] > 0)
				x->imp[f] += pp[f] * 0.25;
			else if (k > 0)
				x->exp[f] -= pp[f] * 0.25;
		}
		for (int j = 0; j < pr->n_regs; j++) {
			const struct gw_profile_reg *g = &pr->regs[j];
			double v = phys_value(g->obis, x, h, pp);
			int energy = g->unit == GW_UNIT_WH || g->unit == GW_UNIT_VARH ||
				     g->unit == GW_UNIT_VAH;
			uint16_t words[4];
			struct gw_reading *o = &r[out];
			if (gw_profile_encode(g, energy ? (int64_t)v : llround(v * 1000),
					      energy ? 0 : -3, words) ||
			    gw_profile_decode(g, words, o))
				continue; /* never with these values */
			snprintf(o->meter_id, GW_ID_MAX, "PE%07d", i + 1);
			o->ts_ms = ts;
			out++;
		}
	}
	return out;
}

/* The process's CPU seconds (this program is one thread). */
static double cpu_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The payload raw deflated at each of zlib's levels 1 to 6 and at 6 with
 * Z_RLE, each as one zlib stream like the batch writer's: the CPU seconds
 * (the best of reps) and the bytes, against level 6, the writer's. */
static void zlib_levels(const char *name, const uint8_t *raw, size_t rawlen, int reps)
{
	uLong cap = compressBound((uLong)rawlen);
	uint8_t *out = malloc(cap);
	double t[8];
	size_t got[8];

	for (int lv = 1; lv <= 7 && out; lv++) {
		t[lv] = 1e30;
		for (int k = 0; k < reps; k++) {
			z_stream z = {0};
			double c0 = cpu_s();
			if (deflateInit2(&z, lv == 7 ? 6 : lv, Z_DEFLATED, 15, 8,
					 lv == 7 ? Z_RLE : Z_DEFAULT_STRATEGY) != Z_OK)
				break;
			z.next_in = (Bytef *)raw;
			z.avail_in = (uInt)rawlen;
			z.next_out = out;
			z.avail_out = (uInt)cap;
			deflate(&z, Z_FINISH);
			got[lv] = z.total_out;
			deflateEnd(&z);
			double c = cpu_s() - c0;
			t[lv] = c < t[lv] ? c : t[lv];
		}
	}
	for (int lv = 1; lv <= 7 && out; lv++)
		printf("# %s: payload %zu bytes at zlib %s%d: %.3f s CPU (%.2f x level 6), "
		       "%zu bytes (%.3f x level 6)\n", name, rawlen, lv == 7 ? "Z_RLE -" : "-",
		       lv == 7 ? 6 : lv, t[lv], t[lv] / t[6], got[lv],
		       (double)got[lv] / (double)got[6]);
	free(out);
}

/* This thread's CPU seconds (the seal's encoder; deflate runs on a
 * thread of its own). */
static double thread_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* GW_BENCH_DEFLATE: zlib-6 (default), zlib-1 or zlib-rle, as the
 * `spool_compression` key. */
static int bench_deflate(void)
{
	const char *v = getenv("GW_BENCH_DEFLATE");

	if (v && strcmp(v, "zlib-1") == 0)
		return GW_DEFLATE_1;
	if (v && strcmp(v, "zlib-rle") == 0)
		return GW_DEFLATE_RLE;
	return GW_DEFLATE_6;
}

static struct pmeter *new_pmeters(int n)
{
	struct pmeter *m = calloc((size_t)n, sizeof(*m));
	for (int i = 0; i < n; i++) {
		uint32_t r = rnd() % 100;
		m[i].kind = r < 5 ? 1 : r < 20 ? 2 : 0;
		m[i].scale = 0.4 + 1.6 * urand();
		m[i].solar_kw = 2 + 4 * urand();
		double a = 0.25 + 0.15 * urand(), b = 0.25 + 0.15 * urand();
		m[i].ph[0] = a, m[i].ph[1] = b, m[i].ph[2] = 1 - a - b;
		for (int f = 0; f < 3; f++) {
			m[i].imp[f] = (double)(rnd() % 20000000);
			m[i].exp[f] = m[i].kind == 2 ? (double)(rnd() % 2000000) : 0;
		}
		m[i].v_phase = urand() * 6.28;
	}
	return m;
}

struct seal_ctx {
	const char *dir;
	int deflate; /* enum gw_batch_deflate */
	char file[2 * GW_PATH_MAX + 16];
	size_t readings;
	int rc;
};

/* As gatewayd's sink (daemon_durable.c): the day streamed durably into
 * the spool, its series read from the batcher's tracks as it is written. */
static int on_sealed(void *arg, struct gw_batch_src *src)
{
	struct seal_ctx *c = arg;
	char name[GW_PATH_MAX];

	c->readings += src->n_readings;
	src->deflate = c->deflate;
	c->rc = gw_spool_write_src(c->dir, src);
	gw_batch_filename(src->batch, name, sizeof(name));
	snprintf(c->file, sizeof(c->file), "%s/ready/%s", c->dir, name);
	return c->rc;
}

/* One day of n meters of the profile, sealed by the batching core as
 * gatewayd does it (its default parameters; the batch written durably into
 * a spool), paired with zlib -6 of that batch's own payload, reps times.
 * Prints the figures and the bench line. */
static int bench_seal_profile(int n, const char *path, int reps)
{
	struct gw_profile *pr;
	int32_t day;
	char dir[] = "/tmp/gwbench.XXXXXX";
	double ts[64], tm[64], tz[64], rt[64], tw[64], zw[64], rw[64], s3[3], z3[3], r3[3];
	size_t readings = 0, rawlen = 0, zlen = 0, flen = 0;

	if (gw_profile_load(path, &pr))
		return 1;
	if (reps > 64)
		reps = 64;
	gw_day_parse("2026-03-02", &day);
	int64_t start = gw_tz_day_start(day);
	struct gw_reading *r = calloc((size_t)n * (size_t)pr->n_regs, sizeof(*r));
	if (!r || !mkdtemp(dir) || gw_spool_open(dir))
		return 1;
	for (int k = 0; k < reps; k++) {
		struct gw_batcher_params p = {
			.gateway_id = "sub-042", .poll_interval_ms = 900000,
			.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
			.seal_delay_ms = 1800000, .max_power_w = 250000,
			.revision_window_days = 2,
		};
		struct gw_batcher *bat = gw_batcher_new(&p);
		rng = 0x9E3779B97F4A7C15ULL; /* the same day in every repetition */
		struct pmeter *m = new_pmeters(n);
		for (int c = 0; c <= 96; c++) /* 96: the next day's first cycle */
			if (gw_batcher_add(bat, r, profile_cycle(pr, m, n, start, c, r)))
				return 1;
		struct seal_ctx sc = {.dir = dir, .deflate = bench_deflate()};
		double t0 = now_s(), c0 = cpu_s(), m0 = thread_s();
		int sealed = gw_batcher_advance_src(bat, start + 86400000LL + 1800000,
						    on_sealed, &sc);
		ts[k] = cpu_s() - c0;
		tm[k] = thread_s() - m0;
		tw[k] = now_s() - t0;
		gw_batcher_free(bat);
		free(m);
		if (sealed != 1 || sc.rc) {
			fprintf(stderr, "spool_bench: sealed %d day(s), rc %d\n", sealed, sc.rc);
			return 1;
		}
		uint8_t *raw;
		if (batch_payload(sc.file, &raw, &rawlen))
			return 1;
		t0 = now_s();
		c0 = cpu_s();
		zlib_ms(raw, rawlen, 1, &zlen);
		tz[k] = cpu_s() - c0;
		zw[k] = now_s() - t0;
		if (k == 0 && getenv("GW_BENCH_LEVELS"))
			zlib_levels(pr->name, raw, rawlen, 2);
		free(raw);
		struct stat st;
		flen = stat(sc.file, &st) == 0 ? (size_t)st.st_size : 0;
		/* GW_BENCH_KEEP=DIR: the last batch kept there (to compare the
		 * bytes of two builds) */
		if (getenv("GW_BENCH_KEEP") && k == reps - 1) {
			char keep[2 * GW_PATH_MAX + 32];
			snprintf(keep, sizeof(keep), "%s/%s.gwb", getenv("GW_BENCH_KEEP"), pr->name);
			if (rename(sc.file, keep) != 0)
				perror(keep);
		}
		unlink(sc.file);
		readings = sc.readings;
		rt[k] = ts[k] / tz[k];
		rw[k] = tw[k] / zw[k];
		printf("# %s run %d: seal %.3f s CPU (encoder thread %.3f s, deflate thread "
		       "%.3f s; %.3f s wall), zlib -6 of its payload %.3f s CPU (%.3f s wall), "
		       "ratio %.2f\n", pr->name, k + 1, ts[k], tm[k], ts[k] - tm[k], tw[k],
		       tz[k], zw[k], rt[k]);
	}
	char name[64];
	if (n % 1000 == 0)
		snprintf(name, sizeof(name), "seal_%dk_%s", n / 1000, pr->name);
	else
		snprintf(name, sizeof(name), "seal_%d_%s", n, pr->name);
	/* cpu: both threads' CPU; twocore: the busier thread's, what the
	 * seal takes when it has two cores to itself; wall: on this machine
	 * as loaded as it is */
	double tc[64], rc[64];
	for (int k = 0; k < reps; k++) {
		tc[k] = tm[k] > ts[k] - tm[k] ? tm[k] : ts[k] - tm[k];
		rc[k] = tc[k] / tz[k];
	}
	static const char *const what[3] = {"cpu", "twocore", "wall"};
	for (int w = 0; w < 3; w++) {
		bench_mmm(w == 2 ? tw : w ? tc : ts, reps, s3);
		bench_mmm(w == 2 ? zw : tz, reps, z3);
		bench_mmm(w == 2 ? rw : w ? rc : rt, reps, r3);
		printf("bench: %s_%s: median %.3f s (min %.3f, max %.3f; %d runs) "
		       "(baseline zlib -6 of the batch's payload: median %.3f s (min %.3f, max %.3f), "
		       "ratio median %.2f (min %.2f, max %.2f), target < 1 s): %s\n",
		       name, what[w], s3[1], s3[0], s3[2], reps, z3[1], z3[0], z3[2],
		       r3[1], r3[0], r3[2], s3[1] < 1.0 ? "met" : "missed");
	}
	static const char *const mode[3] = {"zlib-6", "zlib-1", "zlib-rle"};
	printf("# %s: spool_compression %s\n", pr->name, mode[bench_deflate()]);
	printf("# %s: %d meters x %d registers x 96 cycles: %zu readings in the batch; "
	       "payload %zu bytes, zlib -6 %zu bytes, file %zu bytes (%.3f B per reading)\n",
	       pr->name, n, pr->n_regs, readings, rawlen, zlen, flen,
	       (double)flen / (double)(readings ? readings : 1));
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	free(r);
	gw_profile_free(pr);
	return system(cmd) != 0;
}

int main(int argc, char **argv)
{
	gw_log_set_level(GW_LOG_WARN);
	if (gw_tz_set("Asia/Ho_Chi_Minh"))
		return 1;
	if (argc >= 2 && strcmp(argv[1], "size") == 0)
		return bench_size(argc > 2 ? atoi(argv[2]) : 10000,
				  argc > 3 ? atoi(argv[3]) : 30);
	if (argc >= 5 && strcmp(argv[1], "seal") == 0) {
		int rc = 0;
		for (int i = 4; i < argc; i++)
			rc |= bench_seal_profile(atoi(argv[2]), argv[i], atoi(argv[3]));
		return rc;
	}
	if (argc == 3 && strcmp(argv[1], "zlib") == 0)
		return bench_zlib(argv[2]);
	fprintf(stderr, "usage: spool_bench size [METERS] [DAYS] | seal METERS REPS PROFILE... | zlib BATCHFILE\n");
	return 2;
}
