/* SPDX-License-Identifier: MIT */
/*
 * test_health.c - per-meter health in the scheduler (gw_health_due,
 * gw_health_account): counters, offline after offline_after failed reads,
 * backoff of 1, 2, 4 ... skipped cycles bounded by backoff_max, online at
 * the first good read; and the configuration keys that set them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "driver.h"
#include "scheduler.h"

/* Runs `cycles` poll cycles of one meter whose reads fail (rc) while
 * fail[c] is set; returns the cycles in which it was read, as a string of
 * 'r' (read, ok), 'x' (read, failed), '.' (skipped); changes go to ev. */
static void run(struct gw_meter_health *h, const char *pattern, int offline_after,
		int backoff_max, char *out, char *ev)
{
	size_t n = strlen(pattern), ne = 0;
	for (size_t c = 0; c < n; c++) {
		if (!gw_health_due(h)) {
			out[c] = '.';
			continue;
		}
		struct gw_read_faults st = {0};
		int rc = pattern[c] == 'x' ? GW_ETIMEDOUT : 7;
		if (rc < 0) {
			st.requests = 1;
			st.timeouts = 1;
		}
		enum gw_health_change ch =
			gw_health_account(h, rc, &st, offline_after, backoff_max);
		out[c] = rc < 0 ? 'x' : 'r';
		if (ch == GW_HEALTH_OFFLINE)
			ev[ne++] = 'F';
		else if (ch == GW_HEALTH_ONLINE)
			ev[ne++] = 'N';
	}
	out[n] = '\0';
	ev[ne] = '\0';
}

static void test_backoff_and_transitions(void **state)
{
	(void)state;
	struct gw_meter_health h;
	char out[64], ev[16];

	/* Dead for 20 cycles, then good: retried every cycle until offline
	 * (3 failures), then after 1, 2, 4, 4 skipped cycles. */
	memset(&h, 0, sizeof(h));
	run(&h, "rrxxxxxxxxxxxxxxxxxxxxrrrr", 3, 4, out, ev);
	assert_string_equal(out, "rrxxx.x..x....x....x....rr");
	assert_string_equal(ev, "FN");
	assert_int_equal(h.cycles, 26);
	assert_int_equal(h.ok + h.failed + h.skipped, h.cycles);
	assert_int_equal(h.timeouts, h.failed);
	assert_int_equal(h.offline, 0);
	assert_int_equal(h.consecutive_failures, 0);
	assert_int_equal(h.last_error, 0);
}

static void test_short_failure_no_event(void **state)
{
	(void)state;
	struct gw_meter_health h;
	char out[64], ev[16];

	/* Two failures in a row with offline_after 3: no event, no skip. */
	memset(&h, 0, sizeof(h));
	run(&h, "rxxrxxr", 3, 8, out, ev);
	assert_string_equal(out, "rxxrxxr");
	assert_string_equal(ev, "");
	assert_int_equal(h.failed, 4);
	assert_int_equal(h.skipped, 0);
}

static void test_no_backoff(void **state)
{
	(void)state;
	struct gw_meter_health h;
	char out[64], ev[16];

	/* backoff_max 0: an offline meter is still read every cycle; one
	 * event per change, not per failure. */
	memset(&h, 0, sizeof(h));
	run(&h, "xxxxxxr", 1, 0, out, ev);
	assert_string_equal(out, "xxxxxxr");
	assert_string_equal(ev, "FN");
	assert_int_equal(h.offline, 0);
}

static void test_counters(void **state)
{
	(void)state;
	struct gw_meter_health h;
	struct gw_read_faults st = {.requests = 5, .timeouts = 1, .crc_errors = 2,
				   .exceptions = 3, .malformed = 4,
				   .exc_illegal_address = 1, .exc_busy = 2,
				   .wrong_unit = 3};

	memset(&h, 0, sizeof(h));
	assert_int_equal(gw_health_account(&h, 3, &st, 3, 8), GW_HEALTH_SAME);
	assert_int_equal(gw_health_account(&h, GW_ECRC, &st, 3, 8), GW_HEALTH_SAME);
	assert_int_equal(gw_health_account(&h, GW_ECRC, NULL, 0, 8), GW_HEALTH_OFFLINE);
	assert_int_equal(h.timeouts, 2);
	assert_int_equal(h.crc_errors, 4);
	assert_int_equal(h.exceptions, 6);
	assert_int_equal(h.malformed, 8);
	assert_int_equal(h.exc_illegal_address, 2);
	assert_int_equal(h.exc_busy, 4);
	assert_int_equal(h.wrong_unit, 6);
	assert_int_equal(h.last_error, GW_ECRC);
	assert_int_equal(h.ok, 1);
	assert_int_equal(h.failed, 2);
}

/* ---- configuration keys ---------------------------------------------- */

static char dir[256];

static int load(const char *text, struct gw_config **cfg)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/gw.ini", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	fflush(stderr);
	int saved = dup(2);
	FILE *devnull = fopen("/dev/null", "w");
	dup2(fileno(devnull), 2);
	int rc = gw_config_load(path, cfg);
	dup2(saved, 2);
	close(saved);
	fclose(devnull);
	return rc;
}

static void test_config_keys(void **state)
{
	(void)state;
	static const char base[] =
		"[gateway]\nid = g\ntimezone = UTC\nspool_dir = spool\n%s\n"
		"[bus b]\ntype = modbus-tcp\nhost = 127.0.0.1\n%s\n";
	char text[1024];
	struct gw_config *cfg;

	snprintf(text, sizeof(text), base, "", "");
	assert_int_equal(load(text, &cfg), 0);
	assert_int_equal(cfg->offline_after, 3);
	assert_int_equal(cfg->retry_backoff_max, 8);
	assert_int_equal(cfg->buses[0].offline_after, 0);
	assert_int_equal(cfg->buses[0].retry_backoff_max, 0);
	gw_config_free(cfg);

	snprintf(text, sizeof(text), base, "offline_after = 5\nretry_backoff_max = 0",
		 "offline_after = 2\nretry_backoff_max = 0");
	assert_int_equal(load(text, &cfg), 0);
	assert_int_equal(cfg->offline_after, 5);
	assert_int_equal(cfg->retry_backoff_max, 0);
	assert_int_equal(cfg->buses[0].offline_after, 2);
	assert_int_equal(cfg->buses[0].retry_backoff_max, -1);
	gw_config_free(cfg);

	static const char *bad_gw[] = {"offline_after = 0", "offline_after = 1001",
				       "offline_after = x", "retry_backoff_max = -1",
				       "retry_backoff_max = 1001"};
	for (size_t i = 0; i < sizeof(bad_gw) / sizeof(bad_gw[0]); i++) {
		snprintf(text, sizeof(text), base, bad_gw[i], "");
		cfg = (struct gw_config *)1;
		assert_int_equal(load(text, &cfg), GW_ECONFIG);
		assert_null(cfg);
		snprintf(text, sizeof(text), base, "", bad_gw[i]);
		cfg = (struct gw_config *)1;
		assert_int_equal(load(text, &cfg), GW_ECONFIG);
		assert_null(cfg);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "%s/gwhealth.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[300];
	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_and_transitions),
		cmocka_unit_test(test_short_failure_no_event),
		cmocka_unit_test(test_no_backoff),
		cmocka_unit_test(test_counters),
		cmocka_unit_test(test_config_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
