/* SPDX-License-Identifier: MIT */
/*
 * gwctl_clock.c - `gwctl clock`: what the operator does when the gateway's
 * clock jumped (docs/troubleshooting.md, "The clock jumped").
 *
 *   gwctl clock trust  (-c CONFIG | SPOOL)
 *       the gateway's clock is right (it was off for a while, or the
 *       witnesses are wrong): the running gatewayd, or the next one to
 *       start within 10 minutes, releases its hold.
 *   gwctl clock rewind -c CONFIG [--to DAY] [--now TIME] [--dry-run]
 *       a wrong clock sealed days: with gatewayd stopped, sets the spool
 *       back so that the real days are sealed again with every reading,
 *       and sets aside what the wrong clock sealed and stamped (rewind.h).
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "durable.h"
#include "gwctl_clock.h"
#include "gwctl_spool.h"
#include "rewind.h"
#include "spool.h"
#include "status_keys.h"
#include "tz.h"

#define DEFAULT_MAX_JUMP_MS (7200 * INT64_C(1000))

/* The value of key k in <spool>/status (status_keys.h) into buf, or ""
 * if the status or the key is not there. */
static const char *status_key(const char *dir, enum gw_status_key k,
			      char *buf, size_t cap)
{
	char *st = NULL;
	const char *v;

	buf[0] = '\0';
	if (gw_spool_status_read(dir, "status", &st))
		return buf;
	v = gw_status_get(st, k, buf, cap);
	if (v != buf)
		buf[0] = '\0'; /* "?": no such key */
	free(st);
	return buf;
}

/* The files gwctl writes into the spool must be gatewayd's to read and
 * replace: it refuses to run as another user than the spool's owner
 * (root writing there would leave files the service cannot read). */
static int as_owner(const char *dir, const char *what)
{
	struct stat st;

	if (stat(dir, &st) != 0) {
		fprintf(stderr, "gwctl clock %s: %s: no such spool\n", what, dir);
		return 0;
	}
	if (st.st_uid == geteuid())
		return 1;
	struct passwd *pw = getpwuid(st.st_uid);
	fprintf(stderr, "gwctl clock %s: %s belongs to %s: run it as that user "
		"(sudo -u %s gwctl clock %s ...)\n", what, dir,
		pw ? pw->pw_name : "another user", pw ? pw->pw_name : "USER", what);
	return 0;
}

/* 1 if gatewayd holds the spool's lock (*pid its process id, if known). */
static int gatewayd_runs(const char *dir, long *pid)
{
	int fd;
	int rc = gw_spool_lock(dir, &fd, pid);

	if (rc == 0)
		close(fd);
	return rc == 1;
}

static int clock_trust(int argc, char **argv)
{
	char dir[GW_PATH_MAX], path[GW_PATH_MAX + 32], tmp[GW_PATH_MAX + 32];
	char text[64], v[1024];
	int i = 0;
	long pid;

	if (gwctl_spool_dir_arg(argc, argv, &i, dir, sizeof(dir)) || i != argc) {
		fprintf(stderr, "usage: gwctl clock trust (-c CONFIG | SPOOL_DIR)\n");
		return 2;
	}
	if (!as_owner(dir, "trust"))
		return 1;
	snprintf(path, sizeof(path), "%s/clock_trust", dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp/clock_trust", dir);
	int n = snprintf(text, sizeof(text), "real_us=%lld\n",
			 (long long)gw_real_now_us());
	if (gw_write_file_durable(tmp, path, (const uint8_t *)text, (size_t)n)) {
		fprintf(stderr, "gwctl clock trust: cannot write %s\n", path);
		return 1;
	}
	if (!gatewayd_runs(dir, &pid)) {
		printf("gatewayd is not running on %s: the clock is trusted when it "
		       "starts within 10 minutes\n", dir);
		return 0;
	}
	/* gatewayd looks about once a second; then its status follows */
	struct stat st;
	for (int k = 0; k < 150 && stat(path, &st) == 0; k++)
		nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
	if (stat(path, &st) == 0) {
		fprintf(stderr, "gwctl clock trust: gatewayd (process %ld) did not take "
			"the request within 15 s; it stays for 10 minutes\n", pid);
		return 1;
	}
	nanosleep(&(struct timespec){.tv_nsec = 300000000}, NULL);
	status_key(dir, GW_SK_CLOCK, v, sizeof(v));
	int trusted = strcmp(v, "trusted") == 0;
	status_key(dir, GW_SK_CLOCK_DETAIL, v, sizeof(v));
	printf("clock: %s\n", v);
	return trusted ? 0 : 1;
}

struct plan_batch {
	char name[GW_PATH_MAX];
	const char *sub;
	int32_t day;
	int64_t created; /* 0: unknown (emptied) */
};

/* The gateway's batches in ready/ and done/ with their creation times. */
static int list_batches(const char *dir, const char *gateway, struct plan_batch **out)
{
	static const char *const subs[] = {"ready", "done"};
	struct plan_batch *v = NULL;
	int n = 0;
	size_t gl = strlen(gateway);

	for (int s = 0; s < 2; s++) {
		char **names;
		int k = gw_spool_list(dir, subs[s], &names);
		if (k < 0) {
			free(v);
			return k;
		}
		for (int i = 0; i < k; i++) {
			int32_t d;
			char day[11], path[GW_PATH_MAX * 2];
			if (strncmp(names[i], gateway, gl) != 0 || names[i][gl] != '_' ||
			    strlen(names[i]) < gl + 11)
				continue;
			memcpy(day, names[i] + gl + 1, 10);
			day[10] = '\0';
			if (gw_day_parse(day, &d))
				continue;
			struct plan_batch *nv = realloc(v, (size_t)(n + 1) * sizeof(*nv));
			if (!nv)
				break;
			v = nv;
			snprintf(v[n].name, sizeof(v[n].name), "%s", names[i]);
			v[n].sub = subs[s];
			v[n].day = d;
			v[n].created = 0;
			struct gw_batch *b;
			snprintf(path, sizeof(path), "%s/%s/%s", dir, subs[s], names[i]);
			if (gw_batch_read_file(path, &b, NULL) == 0) {
				v[n].created = b->created_ms;
				gw_batch_free(b);
			}
			n++;
		}
		gw_spool_list_free(names, k);
	}
	*out = v;
	return n;
}

static int clock_rewind(int argc, char **argv)
{
	const char *cfg_path = NULL, *to = NULL, *now_s = NULL;
	int dry = 0, bad_arg = 0;

	for (int i = 0; i < argc && !bad_arg; i++) {
		if (strcmp(argv[i], "-c") == 0 && i + 1 < argc)
			cfg_path = argv[++i];
		else if (strcmp(argv[i], "--to") == 0 && i + 1 < argc)
			to = argv[++i];
		else if (strcmp(argv[i], "--now") == 0 && i + 1 < argc)
			now_s = argv[++i];
		else if (strcmp(argv[i], "--dry-run") == 0)
			dry = 1;
		else
			bad_arg = 1;
	}
	if (!cfg_path || bad_arg) {
		fprintf(stderr, "usage: gwctl clock rewind -c CONFIG [--to YYYY-MM-DD] "
			"[--now UTC-TIME] [--dry-run]\n");
		return 2;
	}
	struct gw_config *cfg;
	if (gw_config_load(cfg_path, &cfg))
		return 2;
	int rc = 1;
	struct plan_batch *bs = NULL;
	int lock = -1, nb = 0;
	long pid;
	char t[40], t2[40], d1[16], d2[16];
	int64_t now = gw_real_now_us() / 1000;
	int32_t to_day = INT32_MIN;
	const char *dir = cfg->spool_dir;

	if (gw_tz_set(cfg->timezone)) {
		fprintf(stderr, "gwctl clock rewind: unknown time zone %s\n", cfg->timezone);
		goto out;
	}
	if (!as_owner(dir, "rewind"))
		goto out;
	if (now_s && gw_parse_utc(now_s, &now)) {
		fprintf(stderr, "gwctl clock rewind: --now: '%s' is not a UTC time like "
			"2026-03-01T12:00:00Z\n", now_s);
		rc = 2;
		goto out;
	}
	if (to && gw_day_parse(to, &to_day)) {
		fprintf(stderr, "gwctl clock rewind: --to: '%s' is not a day like 2026-03-01\n",
			to);
		rc = 2;
		goto out;
	}
	int r = gw_spool_lock(dir, &lock, &pid);
	if (r == 1) {
		fprintf(stderr, "gwctl clock rewind: gatewayd (process %ld) runs on %s: "
			"stop it first (systemctl stop gatewayd)\n", pid, dir);
		goto out;
	}
	if (r) {
		fprintf(stderr, "gwctl clock rewind: cannot lock %s\n", dir);
		goto out;
	}
	r = gw_rewind_recover(dir);
	if (r == 1)
		printf("an interrupted rewind was rolled back (nothing had changed)\n");
	else if (r == 2)
		printf("an interrupted rewind was finished\n");
	else if (r < 0)
		goto out;
	int64_t max_jump = cfg->clock_max_jump_s ? cfg->clock_max_jump_s * 1000
						  : DEFAULT_MAX_JUMP_MS;
	int64_t cut = now + max_jump;
	int32_t today = gw_tz_day_of(now), next;
	if (gw_spool_next_day(dir, cfg->gateway_id, &next))
		goto out;
	nb = list_batches(dir, cfg->gateway_id, &bs);
	if (nb < 0)
		goto out;
	/* The first day to seal again: the oldest real day a clock that was
	 * ahead sealed (its batch was made after the cut), else the day after
	 * the newest real day sealed by a believable clock, else today. */
	if (to_day == INT32_MIN) {
		int32_t good = INT32_MIN, early = INT32_MAX;
		for (int i = 0; i < nb; i++) {
			if (bs[i].day > today)
				continue;
			if (bs[i].created > cut && bs[i].day < early)
				early = bs[i].day;
			else if (bs[i].created <= cut && bs[i].day > good)
				good = bs[i].day;
		}
		to_day = good != INT32_MIN ? good + 1 : today;
		if (early < to_day)
			to_day = early;
		if (to_day > today)
			to_day = today;
	} else if (to_day > today) {
		fprintf(stderr, "gwctl clock rewind: --to %s is after today (%s)\n", to,
			gw_day_format(today, d1, sizeof(d1)));
		rc = 2;
		goto out;
	}
	printf("spool %s, gateway %s, zone %s; the time now: %s%s\n", dir,
	       cfg->gateway_id, cfg->timezone, gw_format_utc(now, t, sizeof(t)),
	       now_s ? " (--now)" : " (this machine's clock)");
	if (next == INT32_MIN || to_day >= next) {
		printf("sealed: %s; nothing sealed from %s on: batches and state stay\n",
		       next == INT32_MIN ? "nothing"
					 : gw_day_format(next - 1, d1, sizeof(d1)),
		       gw_day_format(to_day, d2, sizeof(d2)));
		to_day = INT32_MIN;
	} else {
		int back = 0, fals = 0, up = 0;
		for (int i = 0; i < nb; i++) {
			if (bs[i].day < to_day)
				continue;
			if (bs[i].day <= today) {
				back++;
			} else {
				fals++;
				up += strcmp(bs[i].sub, "done") == 0;
			}
		}
		printf("sealed up to %s: %s days after today\n",
		       gw_day_format(next - 1, d1, sizeof(d1)),
		       next - 1 > today ? "including" : "not");
		printf("days sealed again from %s: %d batch%s of %s .. %s set aside, their "
		       "readings and events put back into the journal\n",
		       gw_day_format(to_day, d1, sizeof(d1)), back, back == 1 ? "" : "es",
		       d1, gw_day_format(today, d2, sizeof(d2)));
		if (fals)
			printf("days that had not come: %d batch%s set aside, never to be "
			       "loaded%s\n", fals, fals == 1 ? "" : "es",
			       up ? "" : " (none was loaded into the database)");
		for (int i = 0; i < nb; i++)
			if (bs[i].day > today && strcmp(bs[i].sub, "done") == 0)
				printf("  in the database already: %s (day %s): remove it there "
				       "(docs/troubleshooting.md)\n", bs[i].name,
				       gw_day_format(bs[i].day, d1, sizeof(d1)));
	}
	printf("journal: readings and events stamped after %s (the time now + "
	       "max_jump) are set aside in quarantine/\n",
	       gw_format_utc(cut, t2, sizeof(t2)));
	if (dry) {
		printf("dry run: nothing changed\n");
		rc = 0;
		goto out;
	}
	struct gw_rewind rw = {.gateway_id = cfg->gateway_id, .now_ms = now,
			       .cut_ms = cut, .to_day = to_day, .last_day = today};
	struct gw_rewind_result res;
	char bad[GW_PATH_MAX + 128];
	r = gw_rewind_run(dir, &rw, &res, bad, sizeof(bad));
	if (r == GW_ECORRUPT && bad[0]) {
		fprintf(stderr, "gwctl clock rewind: %s\n  its day cannot be sealed again "
			"without losing readings; give --to a later day\n", bad);
		goto out;
	}
	if (r) {
		fprintf(stderr, "gwctl clock rewind: failed: %s (gatewayd finishes or "
			"rolls back what was begun at its next start)\n", gw_strerror(r));
		goto out;
	}
	printf("done: %lu readings and %lu events put back from %u batch%s; %u batch%s "
	       "of days that had not come set aside (%lu readings, %u in the "
	       "database); journal: %lu readings and %lu events kept, %lu and %lu "
	       "stamped after the cut set aside, %u segments rewritten\n",
	       res.readings_back, res.events_back, res.batches_back,
	       res.batches_back == 1 ? "" : "es", res.batches_false,
	       res.batches_false == 1 ? "" : "es", res.readings_false,
	       res.uploaded_false, res.readings, res.events, res.readings_aside,
	       res.events_aside, res.segments);
	if (to_day != INT32_MIN)
		printf("state: next_day=%s; start gatewayd: it seals those days again\n",
		       gw_day_format(to_day, d1, sizeof(d1)));
	rc = 0;
out:
	if (lock >= 0)
		close(lock);
	free(bs);
	gw_config_free(cfg);
	return rc;
}

int gwctl_clock(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "trust") == 0)
		return clock_trust(argc - 2, argv + 2);
	if (argc >= 2 && strcmp(argv[1], "rewind") == 0)
		return clock_rewind(argc - 2, argv + 2);
	fprintf(stderr, "usage: gwctl clock trust|rewind ... (gwctl --help)\n");
	return 2;
}
