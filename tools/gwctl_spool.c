/* SPDX-License-Identifier: MIT */
/*
 * gwctl_spool.c - `gwctl spool`: list, verify and dump the batches of a
 * spool, on the concentrator or on files copied off it.
 *
 *   gwctl spool ls      (-c CONFIG | DIR)
 *   gwctl spool verify  (-c CONFIG | DIR | FILE...)
 *   gwctl spool dump    [--intervals | --events] FILE
 *   gwctl spool journal [--check] (-c CONFIG | DIR | FILE...)
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config.h"
#include "durable.h"
#include "gwctl_spool.h"
#include "journal.h"
#include "spool.h"
#include "status_keys.h"
#include "tz.h"

static const char *const subs[] = {"ready", "done", "quarantine"};

int gwctl_spool_dir_arg(int argc, char **argv, int *i, char *out, size_t cap)
{
	if (*i < argc && strcmp(argv[*i], "-c") == 0) {
		struct gw_config *cfg;
		if (*i + 1 >= argc) {
			fprintf(stderr, "gwctl: -c needs a file\n");
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
	fprintf(stderr, "gwctl: give the spool directory or -c CONFIG\n");
	return -1;
}

static long file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

/* Prints the usage and, from the gateway's status file, the alarm and
 * when gatewayd wrote it (`gwctl status` shows the rest). */
static void print_status(const char *dir)
{
	struct gw_spool_usage u;
	char ub[256], ab[256];
	const char *updated, *alarm;
	char *st = NULL;

	gw_spool_usage(dir, &u);
	printf("# spool: %llu bytes (ready %llu in %u batches, done %llu, "
	       "quarantine %llu in %u files (%u refused), journal %llu)\n",
	       (unsigned long long)u.total, (unsigned long long)u.ready, u.n_ready,
	       (unsigned long long)u.done, (unsigned long long)u.quarantine,
	       u.n_quarantine, u.n_refused, (unsigned long long)u.journal);
	if (gw_spool_status_read(dir, "status", &st) == GW_ENOTFOUND) {
		printf("# status: none (gatewayd has not run on this spool)\n");
		return;
	}
	/* An unreadable or torn status gives "?" for both. */
	alarm = gw_status_get(st ? st : "", GW_SK_ALARM, ab, sizeof(ab));
	updated = gw_status_get(st ? st : "", GW_SK_UPDATED, ub, sizeof(ub));
	free(st);
	if (strcmp(alarm, "none") != 0)
		printf("# ALARM: %s\n", alarm);
	printf("# status of %s: alarm %s (gwctl status %s shows more)\n", updated,
	       alarm, dir);
}

/* The note `gwctl clock rewind` left beside a batch it set aside
 * (quarantine/NAME.rewound), into buf; 1 if there is one. */
static int rewound_note(const char *dir, const char *name, char *buf, size_t cap)
{
	char path[GW_PATH_MAX * 2], line[400];
	const char *p = line;

	snprintf(path, sizeof(path), "%s/quarantine/%s.rewound", dir, name);
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	if (!fgets(line, sizeof(line), f))
		line[0] = '\0';
	fclose(f);
	line[strcspn(line, "\n")] = '\0';
	/* "set aside by gwctl clock rewind at TIME: WHY" -> "rewound: WHY" */
	if (strstr(line, ": "))
		p = strstr(line, ": ") + 2;
	snprintf(buf, cap, "rewound: %s", p);
	return 1;
}

static int spool_ls(int argc, char **argv)
{
	char dir[GW_PATH_MAX], path[GW_PATH_MAX * 2], day[16];
	int i = 0, bad = 0;

	if (gwctl_spool_dir_arg(argc, argv, &i, dir, sizeof(dir)))
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
			const char *why;
			snprintf(path, sizeof(path), "%s/%s/%s", dir, subs[s], names[k]);
			if (s == 1 && file_size(path) == 0) {
				/* emptied by the size bound after upload */
				printf("%-10s %-40s %-10s %4s %7s %9s %9ld  %s\n", subs[s],
				       names[k], "-", "-", "-", "-", 0L,
				       "emptied (uploaded)");
				continue;
			}
			int rc = gw_batch_read_file_ex(path, &b, NULL, &why);
			if (rc) {
				printf("%-10s %-40s %-10s %4s %7s %9s %9ld  %s: %s\n",
				       subs[s], names[k], "?", "?", "?", "?",
				       file_size(path), gw_strerror(rc), why);
				bad += s != 2; /* quarantine is known bad */
				continue;
			}
			for (size_t j = 0; j < b->n_series; j++)
				readings += b->series[j].n;
			for (size_t j = 0; j < b->n_days; j++)
				meters += j == 0 || strcmp(b->days[j].meter_id,
							   b->days[j - 1].meter_id);
			char reason[512] = "refused: ";
			int refused = s == 2 && gw_spool_refused_reason(
				dir, names[k], reason + 9, sizeof(reason) - 9);
			if (s == 2 && !refused)
				refused = rewound_note(dir, names[k], reason, sizeof(reason));
			printf("%-10s %-40s %-10s %4u %7zu %9zu %9ld  %s\n", subs[s],
			       names[k], gw_day_format(b->day, day, sizeof(day)),
			       b->revision, meters, readings, file_size(path),
			       refused ? reason : "ok");
			gw_batch_free(b);
		}
		gw_spool_list_free(names, n);
	}
	print_status(dir);
	return bad ? 1 : 0;
}

static int verify_file(const char *path, const char *label)
{
	struct gw_batch *b;
	uint32_t crc;
	const char *why;
	char problem[512];
	int rc = gw_batch_read_file_ex(path, &b, &crc, &why);

	if (rc) {
		printf("BAD  %s: %s\n", label,
		       gw_batch_read_problem(rc, why, problem, sizeof(problem)));
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
		if (gwctl_spool_dir_arg(argc, argv, &i, dir, sizeof(dir)))
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
				if (s == 1 && file_size(path) == 0) {
					printf("ok   %s: emptied after upload\n", label);
					continue;
				}
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
	int intervals = 0, events = 0;
	const char *file = NULL;
	char day[16], v[48], t[40];

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--intervals") == 0)
			intervals = 1;
		else if (strcmp(argv[i], "--events") == 0)
			events = 1;
		else if (!file)
			file = argv[i];
		else {
			fprintf(stderr, "gwctl spool dump: one file at a time\n");
			return 2;
		}
	}
	if (!file) {
		fprintf(stderr, "usage: gwctl spool dump [--intervals | --events] FILE\n");
		return 2;
	}
	struct gw_batch *b;
	const char *why;
	int rc = gw_batch_read_file_ex(file, &b, NULL, &why);
	if (rc) {
		fprintf(stderr, "gwctl spool dump: %s: %s (%s)\n", file,
			gw_strerror(rc), why);
		return 1;
	}
	gw_day_format(b->day, day, sizeof(day));
	if (events) {
		printf("gateway_id,day,revision,meter_id,obis,time,kind,detail\n");
		for (size_t i = 0; i < b->n_events; i++) {
			const struct gw_event *e = &b->events[i];
			const char *kind = gw_event_name(e->kind);
			printf("%s,%s,%u,%s,%s,%s,%s,\"", b->gateway_id, day,
			       b->revision, e->meter_id, e->obis,
			       gw_format_utc(e->ts_ms, t, sizeof(t)),
			       kind ? kind : "?");
			for (const char *c = e->detail; *c; c++)
				printf(*c == '"' ? "\"\"" : "%c", *c);
			printf("\"\n");
		}
	} else if (!intervals) {
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

static const char *status_name(uint8_t st)
{
	static const char *const names[] = {
		[GW_RS_OK] = "ok", [GW_RS_PROFILE] = "profile",
		[GW_RS_DERIVED] = "derived", [GW_RS_CLOCK_BACK] = "clock_back",
	};
	return st < sizeof(names) / sizeof(names[0]) && names[st] ? names[st] : "?";
}

static int journal_print_cycle(void *ctx, int bus, const struct gw_reading *r,
			       size_t n)
{
	char v[48];

	(void)ctx;
	for (size_t i = 0; i < n; i++)
		printf("reading,%d,%s,%s,%lld,%s,%s,%s\n", bus, r[i].meter_id,
		       r[i].obis, (long long)r[i].ts_ms,
		       gw_format_decimal(r[i].value, r[i].scale, v, sizeof(v)),
		       gw_unit_name(r[i].unit), status_name(r[i].status));
	return 0;
}

static int journal_print_event(void *ctx, const struct gw_event *ev, int32_t day)
{
	char d[16];
	const char *kind = gw_event_name(ev->kind);

	(void)ctx;
	printf("event,%s,%s,%s,%lld,%s,\"%s\"\n", gw_day_format(day, d, sizeof(d)),
	       ev->meter_id, ev->obis, (long long)ev->ts_ms, kind ? kind : "?",
	       ev->detail);
	return 0;
}

static int journal_one(const char *path, const char *label, int check)
{
	const char *why;
	uint64_t good;
	int rc = gw_journal_check_file(path, &why, &good);

	if (check) {
		if (rc)
			printf("BAD  %s: %s (%s; %llu good bytes)\n", label,
			       gw_strerror(rc), why, (unsigned long long)good);
		else
			printf("ok   %s\n", label);
		return rc ? 1 : 0;
	}
	if (rc)
		fprintf(stderr, "gwctl spool journal: %s: %s (%s); records before "
			"byte %llu shown\n", label, gw_strerror(rc), why,
			(unsigned long long)good);
	gw_journal_read_file(path, journal_print_cycle, journal_print_event, NULL);
	return rc ? 1 : 0;
}

/* `gwctl spool journal`: prints every journal record as CSV
 * (reading,BUS,METER,OBIS,TS_MS,VALUE,UNIT,STATUS or
 * event,DAY,METER,OBIS,TS_MS,KIND,"DETAIL"), or checks the segments. */
static int spool_journal(int argc, char **argv)
{
	char dir[GW_PATH_MAX], jdir[GW_PATH_MAX + 16], path[GW_PATH_MAX * 2];
	int i = 0, check = 0, bad = 0;
	struct stat st;

	if (i < argc && strcmp(argv[i], "--check") == 0) {
		check = 1;
		i++;
	}
	if (i < argc && strcmp(argv[i], "-c") != 0 && stat(argv[i], &st) == 0 &&
	    S_ISREG(st.st_mode)) {
		for (; i < argc; i++)
			bad += journal_one(argv[i], argv[i], check);
		return bad ? 1 : 0;
	}
	if (gwctl_spool_dir_arg(argc, argv, &i, dir, sizeof(dir)))
		return 2;
	snprintf(jdir, sizeof(jdir), "%s/journal", dir);
	DIR *d = opendir(jdir);
	if (!d) {
		fprintf(stderr, "gwctl spool journal: %s: no journal\n", jdir);
		return 1;
	}
	struct dirent *e;
	char **names = NULL;
	size_t n = 0;
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".gwj") != 0)
			continue;
		char **nn = realloc(names, (n + 1) * sizeof(*nn));
		if (!nn)
			break;
		names = nn;
		names[n++] = strdup(e->d_name);
	}
	closedir(d);
	if (check)
		printf("# %zu journal segment%s\n", n, n == 1 ? "" : "s");
	else
		printf("record,bus_or_day,meter_id,obis,ts_ms,value_or_kind,unit_or_detail,status\n");
	for (size_t k = 0; k < n; k++) {
		if (names[k]) {
			snprintf(path, sizeof(path), "%s/%s", jdir, names[k]);
			bad += journal_one(path, names[k], check);
		}
		free(names[k]);
	}
	free(names);
	return bad ? 1 : 0;
}

int gwctl_spool(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "journal") == 0)
		return spool_journal(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "ls") == 0)
		return spool_ls(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return spool_verify(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "dump") == 0)
		return spool_dump(argc - 2, argv + 2);
	fprintf(stderr, "usage: gwctl spool ls|verify|dump|journal ... (gwctl --help)\n");
	return 2;
}
