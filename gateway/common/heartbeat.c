/* SPDX-License-Identifier: MIT */
/*
 * heartbeat.c - the threads' progress heartbeats; see heartbeat.h.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gw.h"
#include "heartbeat.h"

struct gw_heartbeat {
	struct gw_heartbeat *next; /* the registry, under reg_lock */
	_Atomic int64_t beat_us;   /* CLOCK_MONOTONIC of the last beat */
	int64_t bound_us;
	int64_t born_us;
	int stall;                 /* GATEWAYD_TEST_STALL names it */
	char name[GW_ID_MAX + 8];
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_heartbeat *reg;
static _Thread_local struct gw_heartbeat *own;

/* After its start, how long a heartbeat named by GATEWAYD_TEST_STALL
 * beats before its thread stops: long enough for the gateway to be up
 * (READY=1, the first watchdog pings) before the thread hangs. */
#define TEST_STALL_AFTER_US 3000000LL

int64_t gw_heartbeat_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

struct gw_heartbeat *gw_heartbeat_add(const char *name, int64_t bound_us)
{
	struct gw_heartbeat *hb = calloc(1, sizeof(*hb));
	const char *stall = getenv("GATEWAYD_TEST_STALL");

	if (!hb)
		return NULL;
	gw_strlcpy(hb->name, name, sizeof(hb->name));
	hb->bound_us = bound_us;
	hb->born_us = gw_heartbeat_now_us();
	atomic_store(&hb->beat_us, hb->born_us);
	hb->stall = stall && strcmp(stall, hb->name) == 0;
	pthread_mutex_lock(&reg_lock);
	hb->next = reg;
	reg = hb;
	pthread_mutex_unlock(&reg_lock);
	return hb;
}

struct gw_heartbeat *gw_heartbeat_start(const char *what, const char *name,
					int64_t bound_us)
{
	char full[GW_ID_MAX + 8];

	snprintf(full, sizeof(full), "%s%s%s", what, name ? " " : "",
		 name ? name : "");
	own = gw_heartbeat_add(full, bound_us);
	return own;
}

void gw_heartbeat_remove(struct gw_heartbeat *hb)
{
	if (!hb)
		return;
	pthread_mutex_lock(&reg_lock);
	for (struct gw_heartbeat **p = &reg; *p; p = &(*p)->next) {
		if (*p == hb) {
			*p = hb->next;
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	if (own == hb)
		own = NULL;
	free(hb);
}

/* GATEWAYD_TEST_STALL: the thread hangs here for good (heartbeat.h). */
static void test_stall(struct gw_heartbeat *hb, int64_t now)
{
	if (now - hb->born_us < TEST_STALL_AFTER_US)
		return;
	gw_warn("GATEWAYD_TEST_STALL: the %s thread stops here (a test)", hb->name);
	for (;;) {
		struct timespec ts = {.tv_sec = 3600};
		nanosleep(&ts, NULL);
	}
}

void gw_heartbeat_beat(struct gw_heartbeat *hb)
{
	if (!hb)
		return;
	int64_t now = gw_heartbeat_now_us();
	if (hb->stall)
		test_stall(hb, now);
	atomic_store_explicit(&hb->beat_us, now, memory_order_release);
}

void gw_heartbeat_bind(struct gw_heartbeat *hb)
{
	own = hb;
}

void gw_heartbeat_tick(void)
{
	gw_heartbeat_beat(own);
}

int gw_heartbeat_stale(int64_t now_us, int64_t beat_us, int64_t bound_us)
{
	return now_us > beat_us && now_us - beat_us > bound_us;
}

int gw_heartbeat_check(int64_t now_us, char *name, size_t cap,
		       int64_t *silent_us)
{
	int n = 0;

	if (cap)
		name[0] = '\0';
	if (silent_us)
		*silent_us = 0;
	pthread_mutex_lock(&reg_lock);
	for (struct gw_heartbeat *hb = reg; hb; hb = hb->next) {
		int64_t beat = atomic_load_explicit(&hb->beat_us, memory_order_acquire);
		if (!gw_heartbeat_stale(now_us, beat, hb->bound_us))
			continue;
		if (n++ == 0) {
			if (cap)
				gw_strlcpy(name, hb->name, cap);
			if (silent_us)
				*silent_us = now_us - beat;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return n;
}

int gw_heartbeat_count(void)
{
	int n = 0;

	pthread_mutex_lock(&reg_lock);
	for (struct gw_heartbeat *hb = reg; hb; hb = hb->next)
		n++;
	pthread_mutex_unlock(&reg_lock);
	return n;
}
