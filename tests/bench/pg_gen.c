/* SPDX-License-Identifier: MIT */
/*
 * pg_gen.c - writes synthetic sealed days into a spool, for the database
 * benchmarks (tests/bench/pg_load.sh) and the exactly-once tests
 * (tests/integration/upload_*.sh), built as $(BUILD)/bench/pg_gen.
 *
 *   pg_gen [options] SPOOL-DIR
 *     --gateway ID     gateway id (default bench-gw)
 *     --meters N       meters (default 10000)
 *     --prefix P       meter ids are P000001 ... (default M-<gateway>-)
 *     --day YYYY-MM-DD first day (default 2026-03-01)
 *     --days N         consecutive days, one batch each (default 1)
 *     --per-batch N    meters per batch file (default all): a day of many
 *                      meters as several batches (revisions 0, 1, ...
 *                      of the day are not used; the gateway ids get a
 *                      suffix -b1, -b2 ...)
 *     --events         an "offline" and an "online" event of meters 1, 101, 201 ...
 *     --tsv DIR        also write DIR/daily.tsv and DIR/interval.tsv: the
 *                      same rows in COPY text format, for psql \copy into
 *                      daily_registers and interval_readings
 *
 * Every meter has three energy registers (1.8.0, 1.8.1, 2.8.0) read every
 * 15 minutes (96 readings a day, Asia/Ho_Chi_Minh) and one daily register
 * row each. The values follow a closed form of (meter, register, time), so
 * any day of any meter can be checked.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "gw.h"
#include "reading.h"
#include "spool.h"
#include "tz.h"

#define POINTS 96
#define STEP_MS (15 * 60 * 1000)

static const char *const obis[3] = { "1.8.0", "1.8.1", "2.8.0" };

/* The register of meter m, register r at UTC ms t (Wh). */
static int64_t value_at(int m, int r, int64_t t)
{
	int64_t q = t / STEP_MS; /* quarter hours since 1970 */

	return (int64_t)m * 1000003 + (int64_t)r * 7919 + q * (25 + r * 10 + m % 7);
}

static void usage(void)
{
	fprintf(stderr, "usage: pg_gen [--gateway ID] [--meters N] [--prefix P] "
		"[--day YYYY-MM-DD] [--days N] [--per-batch N] [--events] "
		"[--tsv DIR] SPOOL-DIR\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *gateway = "bench-gw", *prefix = NULL, *spool = NULL,
		   *tsv = NULL, *day_s = "2026-03-01";
	int meters = 10000, days = 1, per_batch = 0, events = 0;
	char pbuf[GW_ID_MAX];
	FILE *fd = NULL, *fi = NULL;
	int32_t day0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (!strcmp(a, "--events"))
			events = 1;
		else if (i + 1 >= argc && a[0] == '-')
			usage();
		else if (!strcmp(a, "--gateway"))
			gateway = argv[++i];
		else if (!strcmp(a, "--meters"))
			meters = atoi(argv[++i]);
		else if (!strcmp(a, "--prefix"))
			prefix = argv[++i];
		else if (!strcmp(a, "--day"))
			day_s = argv[++i];
		else if (!strcmp(a, "--days"))
			days = atoi(argv[++i]);
		else if (!strcmp(a, "--per-batch"))
			per_batch = atoi(argv[++i]);
		else if (!strcmp(a, "--tsv"))
			tsv = argv[++i];
		else if (a[0] == '-' || spool)
			usage();
		else
			spool = a;
	}
	if (!spool || meters < 1 || days < 1 || gw_day_parse(day_s, &day0))
		usage();
	if (per_batch <= 0 || per_batch > meters)
		per_batch = meters;
	if (!prefix) {
		snprintf(pbuf, sizeof(pbuf), "M-%s-", gateway);
		prefix = pbuf;
	}
	if (gw_tz_set("Asia/Ho_Chi_Minh") || gw_spool_open(spool)) {
		fprintf(stderr, "pg_gen: cannot set the zone or open %s\n", spool);
		return 1;
	}
	if (tsv) {
		char p[GW_PATH_MAX];

		snprintf(p, sizeof(p), "%s/daily.tsv", tsv);
		fd = fopen(p, "w");
		snprintf(p, sizeof(p), "%s/interval.tsv", tsv);
		fi = fopen(p, "w");
		if (!fd || !fi) {
			fprintf(stderr, "pg_gen: cannot write into %s\n", tsv);
			return 1;
		}
	}

	for (int dd = 0; dd < days; dd++) {
		int32_t day = day0 + dd;
		int64_t start = gw_tz_day_start(day), end = gw_tz_day_start(day + 1);
		char dstr[16];

		gw_day_format(day, dstr, sizeof(dstr));
		for (int m0 = 0, part = 0; m0 < meters; m0 += per_batch, part++) {
			int n = meters - m0 < per_batch ? meters - m0 : per_batch;
			struct gw_batch b;
			struct gw_day_register *d = calloc((size_t)n * 3, sizeof(*d));
			struct gw_series *s = calloc((size_t)n * 3, sizeof(*s));
			struct gw_event *ev = calloc((size_t)n / 50 + 2, sizeof(*ev));
			int64_t *ts = calloc(POINTS, sizeof(*ts));
			int64_t *vals = calloc((size_t)n * 3 * POINTS, sizeof(*vals));
			size_t n_ev = 0;

			if (!d || !s || !ev || !ts || !vals) {
				fprintf(stderr, "pg_gen: out of memory\n");
				return 1;
			}
			memset(&b, 0, sizeof(b));
			if (per_batch == meters)
				gw_strlcpy(b.gateway_id, gateway, sizeof(b.gateway_id));
			else
				snprintf(b.gateway_id, sizeof(b.gateway_id), "%s-b%d",
					 gateway, part + 1);
			gw_strlcpy(b.timezone, "Asia/Ho_Chi_Minh", sizeof(b.timezone));
			b.day = day;
			b.created_ms = end + 300000;
			for (int k = 0; k < POINTS; k++)
				ts[k] = start + (int64_t)k * STEP_MS;
			for (int i = 0; i < n; i++) {
				int m = m0 + i + 1;
				char id[80];

				snprintf(id, sizeof(id), "%.32s%06d", prefix, m);
				for (int r = 0; r < 3; r++) {
					struct gw_day_register *x = &d[i * 3 + r];
					struct gw_series *y = &s[i * 3 + r];
					int64_t *v = vals + ((size_t)i * 3 + (size_t)r) * POINTS;

					gw_strlcpy(x->meter_id, id, sizeof(x->meter_id));
					gw_strlcpy(x->obis, obis[r], sizeof(x->obis));
					x->unit = GW_UNIT_WH;
					x->quality = GW_Q_MEASURED;
					x->start_value = value_at(m, r, start);
					x->end_value = value_at(m, r, end);
					x->consumption = x->end_value - x->start_value;
					x->readings = POINTS;
					gw_strlcpy(y->meter_id, id, sizeof(y->meter_id));
					gw_strlcpy(y->obis, obis[r], sizeof(y->obis));
					y->unit = GW_UNIT_WH;
					y->n = POINTS;
					y->ts_ms = malloc(POINTS * sizeof(int64_t));
					y->value = v;
					if (!y->ts_ms) {
						fprintf(stderr, "pg_gen: out of memory\n");
						return 1;
					}
					/* Each meter register answers a few seconds
					 * into the quarter hour, like real polls. */
					for (int k = 0; k < POINTS; k++) {
						y->ts_ms[k] = ts[k] + ((int64_t)m * 7919 + r * 1049) % 50000;
						v[k] = value_at(m, r, y->ts_ms[k]);
					}
					if (fd)
						fprintf(fd, "%s\t%s\t%s\tWh\t%lld\t%lld\t%lld\tmeasured\t%d\t0\t0\t%s\n",
							id, dstr, obis[r], (long long)x->start_value,
							(long long)x->end_value,
							(long long)x->consumption, POINTS,
							b.gateway_id);
					if (fi) {
						for (int k = 0; k < POINTS; k++) {
							char t[40];

							fprintf(fi, "%s\t%s\t%s\t%lld\t0\tWh\n", id,
								obis[r],
								gw_format_utc(y->ts_ms[k], t, sizeof(t)),
								(long long)v[k]);
						}
					}
				}
				if (events && m % 100 == 1) {
					struct gw_event *e = &ev[n_ev++];

					gw_strlcpy(e->meter_id, id, sizeof(e->meter_id));
					e->ts_ms = start + 3600000;
					e->kind = GW_EV_OFFLINE;
					gw_strlcpy(e->detail, "no answer for 3 cycles",
						   sizeof(e->detail));
					e = &ev[n_ev++];
					gw_strlcpy(e->meter_id, id, sizeof(e->meter_id));
					e->ts_ms = start + 7200000;
					e->kind = GW_EV_ONLINE;
				}
			}
			b.days = d;
			b.n_days = (size_t)n * 3;
			b.series = s;
			b.n_series = (size_t)n * 3;
			b.events = ev;
			b.n_events = n_ev;
			if (gw_spool_write(spool, &b)) {
				fprintf(stderr, "pg_gen: cannot write a batch into %s\n", spool);
				return 1;
			}
			for (size_t i = 0; i < b.n_series; i++)
				free(s[i].ts_ms);
			free(d);
			free(s);
			free(ev);
			free(ts);
			free(vals);
		}
	}
	if ((fd && fclose(fd)) || (fi && fclose(fi))) {
		fprintf(stderr, "pg_gen: cannot write the TSV files\n");
		return 1;
	}
	return 0;
}
