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

#include "cycle_health.h"
#include "gw.h"
#include "gwctl_spool.h"
#include "spool.h"
#include "status_keys.h"

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
	const char *trust = gw_status_get(st, GW_SK_CLOCK, tb, sizeof(tb));

	if (strcmp(trust, "?") == 0)
		return; /* a status written before these keys existed */
	const char *detail = gw_status_get(st, GW_SK_CLOCK_DETAIL, db, sizeof(db));
	if (strcmp(trust, "trusted") == 0) {
		printf("clock: %s\n", detail);
		return;
	}
	printf("clock: HELD, %s (witness: %s): %s\n", trust,
	       gw_status_get(st, GW_SK_CLOCK_WITNESS, by, sizeof(by)), detail);
	printf("  days are sealed up to %s; %s readings and events were journaled "
	       "and kept out of days meanwhile\n",
	       gw_status_get(st, GW_SK_CLOCK_SEAL_TIME, by, sizeof(by)),
	       gw_status_get(st, GW_SK_CLOCK_WITHHELD, n, sizeof(n)));
}

/* Readings not kept, by reason (drops.h), with what each means. */
static void print_drops(char *st)
{
	static const char *const meaning[GW_DROP_REASON_COUNT_] = {
		[GW_DROP_LATE] = "older than revision_window: their day was final",
		[GW_DROP_BAD_VALUE] = "values that cannot be true (events bad_value say which)",
		[GW_DROP_BAD_TIME] = ("stamped far from the gateway's time: a meter clock "
				      "years off, or the gateway's own clock while it was "
				      "wrong (set aside in quarantine/)"),
		[GW_DROP_NOMEM] = "out of memory on the way to the batching core",
		[GW_DROP_CLOCK_BACK] = ("read after the clock stepped back, stamped at or "
					"before readings already taken (journaled, set aside)"),
	};
	char vb[32], line[512] = "";
	size_t len = 0;
	int any = 0, known = 0;

	for (int r = 0; r < GW_DROP_REASON_COUNT_; r++) {
		const char *v = gw_status_get_drop(st, (enum gw_drop_reason)r, vb, sizeof(vb));
		if (strcmp(v, "?") == 0)
			continue;
		known = 1;
		len += (size_t)snprintf(line + len, sizeof(line) - len, "%s%s %s",
					len ? ", " : "",
					gw_drop_reason_name((enum gw_drop_reason)r), v);
		any |= strcmp(v, "0") != 0;
	}
	if (!known)
		return;
	printf("dropped readings since start: %s\n", any ? line : "none");
	for (int r = 0; any && r < GW_DROP_REASON_COUNT_; r++) {
		const char *v = gw_status_get_drop(st, (enum gw_drop_reason)r, vb, sizeof(vb));
		if (strcmp(v, "?") != 0 && strcmp(v, "0") != 0)
			printf("  %s: %s\n", gw_drop_reason_name((enum gw_drop_reason)r),
			       meaning[r]);
	}
}

/* A millisecond value of the status as a duration, or "?" as it is. */
static const char *ms_text(const char *v, char *buf, size_t cap)
{
	char *end;
	long long ms = strtoll(v, &end, 10);

	if (end == v || *end)
		return v;
	return gw_cycle_format_ms(ms, buf, cap);
}

/* The sealed days' readings in points/: a cache of the journal, outside
 * spool_max; its failures cost memory (writes) or a start over (reads). */
static void print_points(char *st)
{
	char b[32], w[32], wf[32], rf[32];

	if (strcmp(gw_status_get(st, GW_SK_POINTS_BYTES, b, sizeof(b)), "?") == 0)
		return; /* a gatewayd from before points/ was reported */
	gw_status_get(st, GW_SK_POINTS_WRITTEN_BYTES, w, sizeof(w));
	gw_status_get(st, GW_SK_POINTS_WRITE_FAILURES, wf, sizeof(wf));
	gw_status_get(st, GW_SK_POINTS_READ_FAILURES, rf, sizeof(rf));
	printf("points: %s bytes of sealed days' readings on disk (not in spool_max), "
	       "%s bytes written since start", b, w);
	if (strcmp(wf, "0") != 0 || strcmp(rf, "0") != 0)
		printf("; %s writes failed (kept in memory), %s records not read back "
		       "(started over from the journal)", wf, rf);
	printf("\n");
}

/* The poll cycles of each bus: how many started late or overran the poll
 * interval, the poll times skipped, the last and longest durations, and
 * what to do about a bus that raises poll_overrun. */
static void print_polls(const char *st)
{
	size_t cap = strlen(st) + 1; /* the list of buses fits in the text */
	char *buses = malloc(cap), iv[32], tol[32], tb[64], tt[64], v[8][64];
	const char *list = buses ? gw_status_get(st, GW_SK_POLL_BUSES, buses, cap) : "?";

	if (strcmp(list, "?") == 0 || strcmp(list, "-") == 0) {
		/* "?": a status written before these keys existed */
		if (strcmp(list, "-") == 0)
			printf("poll cycles: no bus polled\n");
		free(buses);
		return;
	}
	const char *s = gw_status_get(st, GW_SK_POLL_INTERVAL_S, tb, sizeof(tb));
	printf("poll cycles (poll_interval %s; late: started more than %s after the poll time):\n",
	       gw_cycle_format_ms(strtoll(s, NULL, 10) * 1000, iv, sizeof(iv)),
	       ms_text(gw_status_get(st, GW_SK_POLL_LATE_TOLERANCE_MS, tt, sizeof(tt)),
		       tol, sizeof(tol)));
	printf("  %-16s %7s %6s %7s %7s %9s %9s %8s\n", "bus", "cycles", "late",
	       "overrun", "skipped", "last", "longest", "in_row");
	int alarms = 0;
	for (char *save = NULL, *b = strtok_r(buses, ",", &save); b;
	     b = strtok_r(NULL, ",", &save)) {
		static const enum gw_status_key k[] = {
			GW_SK_POLL_CYCLES, GW_SK_POLL_LATE, GW_SK_POLL_OVERRUN,
			GW_SK_POLL_SKIPPED, GW_SK_POLL_LAST_MS, GW_SK_POLL_MAX_MS,
			GW_SK_POLL_BEHIND_IN_ROW, GW_SK_POLL_ALARM,
		};
		for (int i = 0; i < 8; i++)
			gw_status_get_bus(st, k[i], b, v[i], sizeof(v[i]));
		char last[32], max[32];
		int alarm = strcmp(v[7], "yes") == 0;
		alarms += alarm;
		printf("  %-16s %7s %6s %7s %7s %9s %9s %8s%s\n", b, v[0], v[1], v[2],
		       v[3], ms_text(v[4], last, sizeof(last)), ms_text(v[5], max, sizeof(max)),
		       v[6], alarm ? "  ALARM poll_overrun" : "");
	}
	if (alarms)
		printf("  a bus with ALARM does not keep its poll_interval (readings are "
		       "missing at the poll times skipped): %s\n", GW_CYCLE_WHAT_TO_DO);
	free(buses);
}

/* The health file's meters: counts first, then a line per meter.
 * Returns how many are offline. */
static int print_meters(const char *h)
{
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
			/* stale_replies and bad_values came later: a health
			 * file without them shows "-". */
			char *f[GW_HC_COUNT_] = {NULL};
			int k = 0;
			for (char *p = line; k < GW_HC_COUNT_; k++) {
				f[k] = p;
				p = strchr(p, '\t');
				if (!p)
					break;
				*p++ = '\0';
			}
			int header = strcmp(f[GW_HC_METER_ID],
					    gw_health_cols[GW_HC_METER_ID].name) == 0;
			if (k < GW_HC_LAST_ERROR || header) {
				if (pass == 2 && header)
					printf("%-16s %-12s %-8s %6s %7s %7s %8s %5s %5s %5s %5s %5s  %s\n",
					       "meter", "bus", "state", "in_row", "cycles",
					       "failed", "timeouts", "crc", "exc", "malf",
					       "stale", "bad", "last error");
				continue;
			}
			int s = 0;
			while (s < 3 && strcmp(f[GW_HC_STATE], states[s]) != 0)
				s++;
			if (pass == 0) {
				n[s]++;
				continue;
			}
			if (pass == 2)
				printf("%-16s %-12s %-8s %6s %7s %7s %8s %5s %5s %5s %5s %5s  %s\n",
				       f[GW_HC_METER_ID], f[GW_HC_BUS], f[GW_HC_STATE],
				       f[GW_HC_FAILED_IN_A_ROW], f[GW_HC_CYCLES],
				       f[GW_HC_FAILED], f[GW_HC_TIMEOUTS],
				       f[GW_HC_CRC_ERRORS], f[GW_HC_EXCEPTIONS],
				       f[GW_HC_MALFORMED],
				       k >= GW_HC_BAD_VALUES ? f[GW_HC_STALE_REPLIES] : "-",
				       k >= GW_HC_BAD_VALUES ? f[GW_HC_BAD_VALUES] : "-",
				       f[GW_HC_LAST_ERROR]);
		}
		free(copy);
	}
	return n[2];
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
	const char *alarm = gw_status_get(st, GW_SK_ALARM, v[0], sizeof(v[0]));
	printf("gateway %s, status of %s\n", gw_status_get(st, GW_SK_GATEWAY, v[1], sizeof(v[1])),
	       gw_status_get(st, GW_SK_UPDATED, v[2], sizeof(v[2])));
	printf("alarm: %s\n", alarm);
	printf("spool: %s batches waiting for upload (%s bytes), %s of %s bytes used\n",
	       gw_status_get(st, GW_SK_READY_BATCHES, v[3], sizeof(v[3])),
	       gw_status_get(st, GW_SK_READY_BYTES, v[4], sizeof(v[4])),
	       gw_status_get(st, GW_SK_SPOOL_BYTES, v[5], sizeof(v[5])),
	       gw_status_get(st, GW_SK_SPOOL_MAX_BYTES, v[1], sizeof(v[1])));
	print_points(st);
	printf("oldest open day: %s\n", gw_status_get(st, GW_SK_NEXT_DAY, v[2], sizeof(v[2])));
	char gbuf[320];
	const char *gaps = gw_status_get(st, GW_SK_LONG_GAPS, gbuf, sizeof(gbuf));
	if (strcmp(gaps, "0") != 0 && strcmp(gaps, "?") != 0)
		printf("meters silent longer than the revision window: %s\n", gaps);
	/* Statuses written before these keys existed have none of them. */
	const char *fails = gw_status_get(st, GW_SK_UPLOAD_FAILURES, v[3], sizeof(v[3]));
	if (strcmp(fails, "0") == 0)
		printf("upload: last batch loaded %s\n",
		       gw_status_get(st, GW_SK_UPLOAD_LAST_OK, v[4], sizeof(v[4])));
	else if (strcmp(fails, "?") != 0)
		printf("upload: %s failed attempts in a row (%s), last batch loaded %s\n",
		       fails, gw_status_get(st, GW_SK_UPLOAD_LAST_ERROR, v[5], sizeof(v[5])),
		       gw_status_get(st, GW_SK_UPLOAD_LAST_OK, v[4], sizeof(v[4])));
	/* Statuses written before the disk keys existed have none of them. */
	const char *derr = gw_status_get(st, GW_SK_DISK_ERROR, v[3], sizeof(v[3]));
	const char *sfail = gw_status_get(st, GW_SK_SEAL_FAILURES, v[4], sizeof(v[4]));
	if (strstr(alarm, "disk_full"))
		printf("disk: FULL (%s), %s bytes free; readings of the open days are "
		       "kept in memory and written once space is freed\n", derr,
		       gw_status_get(st, GW_SK_DISK_FREE_BYTES, v[5], sizeof(v[5])));
	else if (strcmp(derr, "?") != 0 && strcmp(derr, "-") != 0)
		printf("disk: write error (%s)\n", derr);
	if (strcmp(sfail, "?") != 0 && strcmp(sfail, "0") != 0)
		printf("sealing: %s failed attempts in a row, next try in %s s\n", sfail,
		       gw_status_get(st, GW_SK_SEAL_NEXT_TRY_S, v[5], sizeof(v[5])));
	print_clock(st);
	print_drops(st);
	print_polls(st);
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
	bad |= print_meters(h) > 0;
	free(h);
	return bad ? 1 : 0;
}
