/* SPDX-License-Identifier: MIT */
/*
 * gwctl_spool.c - `gwctl spool`: list, verify and dump the batches of a
 * spool, on the concentrator or on files copied off it.
 *
 *   gwctl spool ls     (-c CONFIG | DIR)
 *   gwctl spool verify (-c CONFIG | DIR | FILE...)
 *   gwctl spool dump   [--intervals] FILE
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "gwctl_spool.h"
#include "spool.h"
#include "tz.h"

static const char *const subs[] = {"ready", "done", "quarantine"};

/* Finds the spool directory from "-c CONFIG" or a plain DIR argument. */
static int spool_dir_arg(int argc, char **argv, int *i, char *out, size_t cap)
{
	if (*i < argc && strcmp(argv[*i], "-c") == 0) {
		struct gw_config *cfg;
		if (*i + 1 >= argc) {
			fprintf(stderr, "gwctl spool: -c needs a file\n");
			return -1;
		}
		if (gw_config_load(argv[*i + 1], &cfg))
			return -1;
		snprintf(out, cap, "%s", cfg->spool_dir);
		gw_config_free(cfg);
		*i += 2;
		return 0;
	}
	if (*i < argc) {
		snprintf(out, cap, "%s", argv[*i]);
		(*i)++;
		return 0;
	}
	fprintf(stderr, "gwctl spool: give the spool directory or -c CONFIG\n");
	return -1;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static int spool_ls(int argc, char **argv)
{
	char dir[GW_PATH_MAX], path[GW_PATH_MAX * 2], day[16];
	int i = 0, bad = 0;

	if (spool_dir_arg(argc, argv, &i, dir, sizeof(dir)))
		return 2;
	printf("%-10s %-40s %-10s %4s %7s %9s %9s  %s\n", "state", "file", "day",
	       "rev", "meters", "readings", "bytes", "check");
	for (size_t s = 0; s < sizeof(subs) / sizeof(subs[0]); s++) {
		char **names;
		int n = gw_spool_list(dir, subs[s], &names);
		if (n < 0)
			return 1;
		for (int k = 0; k < n; k++) {
			struct gw_batch *b;
			size_t readings = 0, meters = 0;
			snprintf(path, sizeof(path), "%s/%s/%s", dir, subs[s], names[k]);
			int rc = gw_batch_read_file(path, &b, NULL);
			if (rc) {
				printf("%-10s %-40s %-10s %4s %7s %9s %9ld  %s\n", subs[s],
				       names[k], "?", "?", "?", "?", file_size(path),
				       gw_strerror(rc));
				bad++;
				continue;
			}
			for (size_t j = 0; j < b->n_series; j++)
				readings += b->series[j].n;
			for (size_t j = 0; j < b->n_days; j++)
				meters += j == 0 || strcmp(b->days[j].meter_id,
							   b->days[j - 1].meter_id);
			printf("%-10s %-40s %-10s %4u %7zu %9zu %9ld  ok\n", subs[s],
			       names[k], gw_day_format(b->day, day, sizeof(day)),
			       b->revision, meters, readings, file_size(path));
			gw_batch_free(b);
		}
		gw_spool_list_free(names, n);
	}
	return bad ? 1 : 0;
}

static int verify_file(const char *path, const char *label)
{
	struct gw_batch *b;
	uint32_t crc;
	int rc = gw_batch_read_file(path, &b, &crc);

	if (rc) {
		printf("BAD  %s: %s\n", label, gw_strerror(rc));
		return 1;
	}
	printf("ok   %s: crc %08x\n", label, crc);
	gw_batch_free(b);
	return 0;
}

static int spool_verify(int argc, char **argv)
{
	char dir[GW_PATH_MAX], path[GW_PATH_MAX * 2], label[GW_PATH_MAX];
	struct stat st;
	int i = 0, bad = 0, total = 0;

	if (argc >= 1 && strcmp(argv[0], "-c") != 0 && stat(argv[0], &st) == 0 &&
	    S_ISREG(st.st_mode)) {
		for (i = 0; i < argc; i++, total++)
			bad += verify_file(argv[i], argv[i]);
	} else {
		if (spool_dir_arg(argc, argv, &i, dir, sizeof(dir)))
			return 2;
		for (size_t s = 0; s < 2; s++) { /* quarantine is known bad */
			char **names;
			int n = gw_spool_list(dir, subs[s], &names);
			if (n < 0)
				return 1;
			for (int k = 0; k < n; k++, total++) {
				snprintf(path, sizeof(path), "%s/%s/%s", dir, subs[s],
					 names[k]);
				snprintf(label, sizeof(label), "%s/%s", subs[s], names[k]);
				bad += verify_file(path, label);
			}
			gw_spool_list_free(names, n);
		}
	}
	printf("%d files, %d bad\n", total, bad);
	return bad ? 1 : 0;
}

static int spool_dump(int argc, char **argv)
{
	int intervals = 0;
	const char *file = NULL;
	char day[16], v[48], t[40];

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--intervals") == 0)
			intervals = 1;
		else if (!file)
			file = argv[i];
		else {
			fprintf(stderr, "gwctl spool dump: one file at a time\n");
			return 2;
		}
	}
	if (!file) {
		fprintf(stderr, "usage: gwctl spool dump [--intervals] FILE\n");
		return 2;
	}
	struct gw_batch *b;
	int rc = gw_batch_read_file(file, &b, NULL);
	if (rc) {
		fprintf(stderr, "gwctl spool dump: %s: %s\n", file, gw_strerror(rc));
		return 1;
	}
	gw_day_format(b->day, day, sizeof(day));
	if (!intervals) {
		printf("gateway_id,day,revision,meter_id,obis,start,end,consumption,unit,quality,readings,minutes_missing\n");
		for (size_t i = 0; i < b->n_days; i++) {
			const struct gw_day_register *d = &b->days[i];
			printf("%s,%s,%u,%s,%s,%lld,%lld,%lld,%s,%s,%u,%u\n",
			       b->gateway_id, day, b->revision, d->meter_id, d->obis,
			       (long long)d->start_value, (long long)d->end_value,
			       (long long)d->consumption, gw_unit_name(d->unit),
			       gw_quality_name(d->quality), d->readings,
			       d->minutes_missing);
		}
	} else {
		printf("meter_id,obis,time,value,unit\n");
		for (size_t i = 0; i < b->n_series; i++) {
			const struct gw_series *s = &b->series[i];
			for (uint32_t k = 0; k < s->n; k++)
				printf("%s,%s,%s,%s,%s\n", s->meter_id, s->obis,
				       gw_format_utc(s->ts_ms[k], t, sizeof(t)),
				       gw_format_decimal(s->value[k], s->scale, v,
							 sizeof(v)),
				       gw_unit_name(s->unit));
		}
	}
	gw_batch_free(b);
	return 0;
}

int gwctl_spool(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "ls") == 0)
		return spool_ls(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return spool_verify(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "dump") == 0)
		return spool_dump(argc - 2, argv + 2);
	fprintf(stderr, "usage: gwctl spool ls|verify|dump ... (gwctl --help)\n");
	return 2;
}
