/* SPDX-License-Identifier: MIT */
/*
 * test_heartbeat.c - the threads' progress heartbeats (gateway/common/
 * heartbeat.c): the freshness rule the watchdog goes by, the registry's
 * check naming the stale thread, a thread's own heartbeat beaten from
 * below (gw_heartbeat_tick); and the log's rate limit for repeating
 * failures (gw_logrl, util.c): the 1st, 2nd, 4th, 8th ... in a row with
 * the count not logged in between, the end of the run once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "gw.h"
#include "heartbeat.h"

static void freshness_rule(void **state)
{
	(void)state;
	/* within the bound, and at the bound exactly: fresh */
	assert_int_equal(gw_heartbeat_stale(1000, 1000, 500), 0);
	assert_int_equal(gw_heartbeat_stale(1500, 1000, 500), 0);
	/* one microsecond beyond: stale */
	assert_int_equal(gw_heartbeat_stale(1501, 1000, 500), 1);
	assert_int_equal(gw_heartbeat_stale(INT64_MAX / 2, 0, 600000000), 1);
	/* a beat stored after the watcher read its clock: fresh */
	assert_int_equal(gw_heartbeat_stale(1000, 1200, 0), 0);
}

static void check_names_the_stale_one(void **state)
{
	(void)state;
	char name[64];
	int64_t silent;
	int n0 = gw_heartbeat_count();
	struct gw_heartbeat *a = gw_heartbeat_add("bus rs485-1", 2000000);
	struct gw_heartbeat *b = gw_heartbeat_add("upload", 10000000);
	int64_t now = gw_heartbeat_now_us();

	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(gw_heartbeat_count(), n0 + 2);
	assert_int_equal(gw_heartbeat_check(now, name, sizeof(name), &silent), 0);
	assert_string_equal(name, "");
	/* 5 s later: the bus (2 s) is stale, the uploader (10 s) is not */
	assert_int_equal(gw_heartbeat_check(now + 5000000, name, sizeof(name), &silent), 1);
	assert_string_equal(name, "bus rs485-1");
	assert_true(silent >= 5000000 && silent < 6000000);
	/* 11 s later both are */
	assert_int_equal(gw_heartbeat_check(now + 11000000, name, sizeof(name), NULL), 2);
	/* a beat makes the bus fresh again */
	gw_heartbeat_beat(a);
	assert_int_equal(gw_heartbeat_check(gw_heartbeat_now_us() + 1000000, name,
					    sizeof(name), NULL), 0);
	/* a removed heartbeat (a thread that ended) is never stale */
	gw_heartbeat_remove(a);
	gw_heartbeat_remove(b);
	gw_heartbeat_remove(NULL);
	gw_heartbeat_beat(NULL);
	assert_int_equal(gw_heartbeat_count(), n0);
	assert_int_equal(gw_heartbeat_check(now + 100000000, name, sizeof(name), NULL), 0);
}

/* A thread that starts its own heartbeat and beats it from below. */
static void *ticker(void *arg)
{
	int64_t *beat_seen = arg;
	struct gw_heartbeat *hb = gw_heartbeat_start("bus", "b", 1000);
	int64_t t0 = gw_heartbeat_now_us();
	char name[64];

	/* stale 1 s later ... */
	beat_seen[0] = gw_heartbeat_check(t0 + 1000000, name, sizeof(name), NULL);
	beat_seen[2] = strcmp(name, "bus b") == 0;
	while (gw_heartbeat_now_us() < t0 + 2000)
		;
	/* ... fresh after a tick, which beats this thread's own */
	gw_heartbeat_tick();
	beat_seen[1] = gw_heartbeat_check(gw_heartbeat_now_us(), name, sizeof(name), NULL);
	gw_heartbeat_remove(hb);
	gw_heartbeat_tick(); /* unbound: nothing */
	return NULL;
}

static void tick_beats_the_threads_own(void **state)
{
	(void)state;
	pthread_t t;
	int64_t seen[3] = {-1, -1, -1};

	gw_heartbeat_tick(); /* this thread has none: nothing happens */
	assert_int_equal(pthread_create(&t, NULL, ticker, seen), 0);
	pthread_join(t, NULL);
	assert_int_equal(seen[0], 1);
	assert_int_equal(seen[1], 0);
	assert_int_equal(seen[2], 1);
	assert_int_equal(gw_heartbeat_count(), 0);
}

static void logrl_growing_intervals(void **state)
{
	(void)state;
	struct gw_logrl rl = {0};
	unsigned long quiet = 99;
	char logged[40] = "";

	/* failures 1..20: logged at 1, 2, 4, 8, 16 */
	for (int i = 1; i <= 20; i++) {
		if (gw_logrl_fail(&rl, &quiet)) {
			size_t n = strlen(logged);
			snprintf(logged + n, sizeof(logged) - n, "%d:%lu ", i, quiet);
		}
	}
	assert_string_equal(logged, "1:0 2:0 4:1 8:3 16:7 ");
	assert_int_equal(gw_logrl_count(&rl), 20);
	assert_int_equal(gw_logrl_ok(&rl), 20);
	/* a success without failures before it: nothing to say */
	assert_int_equal(gw_logrl_ok(&rl), 0);
	/* a new run starts at 1 */
	assert_int_equal(gw_logrl_fail(&rl, NULL), 1);
	assert_int_equal(gw_logrl_fail(&rl, NULL), 1);
	assert_int_equal(gw_logrl_fail(&rl, NULL), 0);
	assert_int_equal(gw_logrl_count(&rl), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(freshness_rule),
		cmocka_unit_test(check_names_the_stale_one),
		cmocka_unit_test(tick_beats_the_threads_own),
		cmocka_unit_test(logrl_growing_intervals),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
