/* SPDX-License-Identifier: MIT */
/*
 * gwctl_status.c - `gwctl status`: what a field engineer or a monitoring
 * script wants to know about a running gateway, from the files gatewayd
 * keeps in its spool: <spool>/status (spool usage, size bound, alarms) and
 * <spool>/health (each meter's state and fault counters).
 *
 * Exit status: 0 when there is no alarm and no meter is offline, 1
 * otherwise, 2 on a usage error or when gatewayd has not written its
 * status yet.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gwctl_spool.h"

/* The value of "key=" in the status text, or "?" (borrowed from text). */
static const char *status_value(char *text, const char *key, char *buf,
				size_t cap)
{
	size_t kl = strlen(key);

	for (char *line = text; line && *line;) {
		char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > kl && strncmp(line, key, kl) == 0 && line[kl] == '=') {
			snprintf(buf, cap, "%.*s", (int)(len - kl - 1), line + kl + 1);
			return buf;
		}
		line = nl ? nl + 1 : NULL;
	}
	return "?";
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0 || !(buf = malloc((size_t)n + 1))) {
		fclose(f);
		return NULL;
	}
	size_t got = fread(buf, 1, (size_t)n, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

int gwctl_status(int argc, char **argv)
{
	char dir[GW_PATH_MAX], path[GW_PATH_MAX + 16];
	char v[6][128];
	int i = 1, bad = 0;

	if (gwctl_spool_dir_arg(argc, argv, &i, dir, sizeof(dir)) || i != argc) {
		fprintf(stderr, "usage: gwctl status (-c CONFIG | SPOOL_DIR)\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/status", dir);
	char *st = slurp(path);
	if (!st) {
		fprintf(stderr, "gwctl status: %s: no status yet (has gatewayd run on this spool?)\n",
			path);
		return 2;
	}
	const char *alarm = status_value(st, "alarm", v[0], sizeof(v[0]));
	printf("gateway %s, status of %s\n", status_value(st, "gateway", v[1], sizeof(v[1])),
	       status_value(st, "updated", v[2], sizeof(v[2])));
	printf("alarm: %s\n", alarm);
	printf("spool: %s batches waiting for upload (%s bytes), %s of %s bytes used\n",
	       status_value(st, "ready_batches", v[3], sizeof(v[3])),
	       status_value(st, "ready_bytes", v[4], sizeof(v[4])),
	       status_value(st, "spool_bytes", v[5], sizeof(v[5])),
	       status_value(st, "spool_max_bytes", v[1], sizeof(v[1])));
	printf("oldest open day: %s\n", status_value(st, "next_day", v[2], sizeof(v[2])));
	char gbuf[320];
	const char *gaps = status_value(st, "long_gaps", gbuf, sizeof(gbuf));
	if (strcmp(gaps, "0") != 0 && strcmp(gaps, "?") != 0)
		printf("meters silent longer than the revision window: %s\n", gaps);
	/* Statuses written before these keys existed have none of them. */
	const char *fails = status_value(st, "upload_failures", v[3], sizeof(v[3]));
	if (strcmp(fails, "0") == 0)
		printf("upload: last batch loaded %s\n",
		       status_value(st, "upload_last_ok", v[4], sizeof(v[4])));
	else if (strcmp(fails, "?") != 0)
		printf("upload: %s failed attempts in a row (%s), last batch loaded %s\n",
		       fails, status_value(st, "upload_last_error", v[5], sizeof(v[5])),
		       status_value(st, "upload_last_ok", v[4], sizeof(v[4])));
	bad |= strcmp(alarm, "none") != 0;
	free(st);

	snprintf(path, sizeof(path), "%s/health", dir);
	char *h = slurp(path);
	if (!h) {
		printf("meters: no health file yet\n");
		return bad ? 1 : 0;
	}
	/* Counts first, then the meters that need attention, then the rest. */
	int n[4] = {0, 0, 0, 0}; /* online, failing, offline, unread */
	static const char *const states[] = {"online", "failing", "offline", "unread"};
	for (int pass = 0; pass < 3; pass++) {
		if (pass == 1)
			printf("meters: %d online, %d failing, %d offline, %d not read yet\n",
			       n[0], n[1], n[2], n[3]);
		char *copy = strdup(h), *save = NULL;
		if (!copy)
			break;
		for (char *line = strtok_r(copy, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save)) {
			if (line[0] == '#')
				continue;
			char *f[13];
			int k = 0;
			for (char *p = line; k < 13; k++) {
				f[k] = p;
				p = strchr(p, '\t');
				if (!p)
					break;
				*p++ = '\0';
			}
			if (k < 12 || strcmp(f[0], "meter_id") == 0) {
				if (pass == 2 && strcmp(f[0], "meter_id") == 0)
					printf("%-16s %-12s %-8s %6s %7s %7s %8s %5s %5s %5s  %s\n",
					       "meter", "bus", "state", "in_row", "cycles",
					       "failed", "timeouts", "crc", "exc", "malf",
					       "last error");
				continue;
			}
			int s = 0;
			while (s < 3 && strcmp(f[2], states[s]) != 0)
				s++;
			if (pass == 0) {
				n[s]++;
				continue;
			}
			if (pass == 2)
				printf("%-16s %-12s %-8s %6s %7s %7s %8s %5s %5s %5s  %s\n",
				       f[0], f[1], f[2], f[3], f[4], f[6], f[8], f[9],
				       f[10], f[11], f[12]);
		}
		free(copy);
	}
	free(h);
	bad |= n[2] > 0;
	return bad ? 1 : 0;
}
