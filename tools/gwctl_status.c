/* SPDX-License-Identifier: MIT */
/*
 * gwctl_status.c - `gwctl status`: what a field engineer or a monitoring
 * script wants to know about a running gateway, from the files gatewayd
 * keeps in its spool: <spool>/status (spool usage, size bound, alarms) and
 * <spool>/health (each meter's state and fault counters).
 *
 * Both files are read through gw_spool_status_read, which checks their
 * trailer: on a full disk gatewayd rewrites them in place, and a read that
 * meets a rewrite half done is made again.
 *
 * Exit status: 0 when there is no alarm and no meter is offline, 1
 * otherwise, 2 on a usage error or when gatewayd has not written its
 * status yet (or it cannot be read whole).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "gwctl_spool.h"
#include "spool.h"

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

/* Reads <dir>/<name> (status or health) whole and checked. On a full
 * disk gatewayd rewrites these files in place, and a read may meet a
 * rewrite half done (the trailer's CRC does not match): it is read again,
 * for up to a second. Returns the text (free with free()) or NULL with
 * *rc set: GW_ENOTFOUND, GW_ECORRUPT (still torn: a rewrite was cut by a
 * power loss; gatewayd writes it again), GW_EIO. */
static char *read_checked(const char *dir, const char *name, int *rc)
{
	char *text = NULL;
	struct timespec pause = {0, 50 * 1000000L};

	for (int tries = 0; tries < 20; tries++) {
		*rc = gw_spool_status_read(dir, name, &text);
		if (*rc != GW_ECORRUPT)
			break;
		nanosleep(&pause, NULL);
	}
	return *rc ? NULL : text;
}

/* The clock's trust, and what to do while it is held. */
static void print_clock(char *st)
{
	char tb[32], by[32], db[640], n[32];
	const char *trust = status_value(st, "clock", tb, sizeof(tb));

	if (strcmp(trust, "?") == 0)
		return; /* a status written before these keys existed */
	const char *detail = status_value(st, "clock_detail", db, sizeof(db));
	if (strcmp(trust, "trusted") == 0) {
		printf("clock: %s\n", detail);
		return;
	}
	printf("clock: HELD, %s (witness: %s): %s\n", trust,
	       status_value(st, "clock_witness", by, sizeof(by)), detail);
	printf("  days are sealed up to %s; %s readings and events were journaled "
	       "and kept out of days meanwhile\n",
	       status_value(st, "clock_seal_time", by, sizeof(by)),
	       status_value(st, "clock_withheld", n, sizeof(n)));
}

/* Readings not kept, by reason (drops.h), with what each means. */
static void print_drops(char *st)
{
	static const struct {
		const char *reason, *meaning;
	} why[] = {
		{"late", "older than revision_window: their day was final"},
		{"bad_value", "values that cannot be true (events bad_value say which)"},
		{"bad_time", "stamped far from the gateway's time: a meter clock "
			     "years off, or the gateway's own clock while it was "
			     "wrong (set aside in quarantine/)"},
		{"nomem", "out of memory on the way to the batching core"},
		{"clock_back", "read after the clock stepped back, stamped at or "
			       "before readings already taken (journaled, set aside)"},
	};
	char key[48], vb[32], line[512] = "";
	size_t len = 0;
	int any = 0, known = 0;

	for (size_t i = 0; i < sizeof(why) / sizeof(why[0]); i++) {
		snprintf(key, sizeof(key), "dropped_%s", why[i].reason);
		const char *v = status_value(st, key, vb, sizeof(vb));
		if (strcmp(v, "?") == 0)
			continue;
		known = 1;
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %s",
					len ? ", " : "", why[i].reason, v);
		any |= strcmp(v, "0") != 0;
	}
	if (!known)
		return;
	printf("dropped readings since start: %s\n", any ? line : "none");
	for (size_t i = 0; any && i < sizeof(why) / sizeof(why[0]); i++) {
		snprintf(key, sizeof(key), "dropped_%s", why[i].reason);
		const char *v = status_value(st, key, vb, sizeof(vb));
		if (strcmp(v, "?") != 0 && strcmp(v, "0") != 0)
			printf("  %s: %s\n", why[i].reason, why[i].meaning);
	}
}

int gwctl_status(int argc, char **argv)
{
	char dir[GW_PATH_MAX], path[GW_PATH_MAX + 16];
	char v[6][128];
	int i = 1, bad = 0, rc;

	if (gwctl_spool_dir_arg(argc, argv, &i, dir, sizeof(dir)) || i != argc) {
		fprintf(stderr, "usage: gwctl status (-c CONFIG | SPOOL_DIR)\n");
		return 2;
	}
	snprintf(path, sizeof(path), "%s/status", dir);
	char *st = read_checked(dir, "status", &rc);
	if (!st) {
		if (rc == GW_ENOTFOUND)
			fprintf(stderr, "gwctl status: %s: no status yet (has gatewayd run on this spool?)\n",
				path);
		else if (rc == GW_ECORRUPT)
			fprintf(stderr, "gwctl status: %s: torn (a rewrite in place on a full disk "
				"was cut short); gatewayd writes it again within a minute\n", path);
		else
			fprintf(stderr, "gwctl status: %s: cannot read: %s\n", path,
				gw_strerror(rc));
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
	/* Statuses written before the disk keys existed have none of them. */
	const char *derr = status_value(st, "disk_error", v[3], sizeof(v[3]));
	const char *sfail = status_value(st, "seal_failures", v[4], sizeof(v[4]));
	if (strstr(alarm, "disk_full"))
		printf("disk: FULL (%s), %s bytes free; readings of the open days are "
		       "kept in memory and written once space is freed\n", derr,
		       status_value(st, "disk_free_bytes", v[5], sizeof(v[5])));
	else if (strcmp(derr, "?") != 0 && strcmp(derr, "-") != 0)
		printf("disk: write error (%s)\n", derr);
	if (strcmp(sfail, "?") != 0 && strcmp(sfail, "0") != 0)
		printf("sealing: %s failed attempts in a row, next try in %s s\n", sfail,
		       status_value(st, "seal_next_try_s", v[5], sizeof(v[5])));
	print_clock(st);
	print_drops(st);
	bad |= strcmp(alarm, "none") != 0;
	free(st);

	char *h = read_checked(dir, "health", &rc);
	if (!h) {
		if (rc == GW_ECORRUPT)
			printf("meters: the health file is torn (a rewrite in place was cut "
			       "short); gatewayd writes it again\n");
		else
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
			/* stale_replies and bad_values (f[13], f[14]) came
			 * later: a health file without them shows "-". */
			char *f[15] = {NULL};
			int k = 0;
			for (char *p = line; k < 15; k++) {
				f[k] = p;
				p = strchr(p, '\t');
				if (!p)
					break;
				*p++ = '\0';
			}
			if (k < 12 || strcmp(f[0], "meter_id") == 0) {
				if (pass == 2 && strcmp(f[0], "meter_id") == 0)
					printf("%-16s %-12s %-8s %6s %7s %7s %8s %5s %5s %5s %5s %5s  %s\n",
					       "meter", "bus", "state", "in_row", "cycles",
					       "failed", "timeouts", "crc", "exc", "malf",
					       "stale", "bad", "last error");
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
				printf("%-16s %-12s %-8s %6s %7s %7s %8s %5s %5s %5s %5s %5s  %s\n",
				       f[0], f[1], f[2], f[3], f[4], f[6], f[8], f[9],
				       f[10], f[11], k >= 14 ? f[13] : "-",
				       k >= 14 ? f[14] : "-", f[12]);
		}
		free(copy);
	}
	free(h);
	bad |= n[2] > 0;
	return bad ? 1 : 0;
}
