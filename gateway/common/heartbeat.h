/* SPDX-License-Identifier: MIT */
/*
 * heartbeat.h - each long-running thread of the gateway (a bus's poll
 * worker, the main loop, the uploader) shows that it makes progress: it
 * beats at every turn of its loop, the idle turns of a wait included, and
 * whoever watches (the main loop, for systemd's watchdog: notify.h,
 * daemon_watch.c) finds a thread that has not beaten within its bound.
 *
 * A heartbeat is one atomic CLOCK_MONOTONIC timestamp: a beat is a store,
 * never a lock, so a thread may beat as often as it likes. The registry of
 * heartbeats is global (one gateway per process) and under a mutex, taken
 * only to add, remove and check.
 *
 * A thread may bind its heartbeat to itself (gw_heartbeat_bind); code
 * below it that waits or makes progress in small steps (the poll grid's
 * sleep in clock.c, each batch of an upload pass) then beats it with
 * gw_heartbeat_tick() without knowing whose it is.
 *
 * For tests only: when the environment variable GATEWAYD_TEST_STALL names
 * a heartbeat ("bus NAME", "main", "upload"), the thread that owns it stops
 * for good at its first beat after its first 3 seconds, as a thread hung
 * in a system call or a library would (nothing real makes a thread hang on
 * demand: every read and query the gateway makes has a timeout).
 */
#ifndef GW_HEARTBEAT_H
#define GW_HEARTBEAT_H

#include <stddef.h>
#include <stdint.h>

struct gw_heartbeat;

/* Adds a heartbeat named `name` (copied; "bus M1", "main", "upload") that
 * is stale after bound_us microseconds without a beat; it counts as beaten
 * now. Returns NULL when out of memory (the thread is then not watched).
 * Free with gw_heartbeat_remove. */
struct gw_heartbeat *gw_heartbeat_add(const char *name, int64_t bound_us);
/* gw_heartbeat_add for the calling thread, named "WHAT NAME" (or "WHAT"
 * when name is NULL), and bound to it (gw_heartbeat_bind). */
struct gw_heartbeat *gw_heartbeat_start(const char *what, const char *name,
					int64_t bound_us);
/* Removes and frees hb (NULL is fine); a thread removes its own when it
 * ends, so that a stopped thread is not taken for a stuck one. Unbinds it
 * if the calling thread had it bound. */
void gw_heartbeat_remove(struct gw_heartbeat *hb);
/* Beats hb now (NULL is fine). Thread-safe, lock-free. */
void gw_heartbeat_beat(struct gw_heartbeat *hb);
/* Makes hb the calling thread's own (NULL: none), for gw_heartbeat_tick. */
void gw_heartbeat_bind(struct gw_heartbeat *hb);
/* Beats the calling thread's own heartbeat, if it has one. */
void gw_heartbeat_tick(void);

/* The freshness rule: 1 if a heartbeat last beaten at beat_us is stale at
 * now_us with bound bound_us (all CLOCK_MONOTONIC microseconds), i.e. more
 * than bound_us have passed; 0 if fresh. A beat in the future (another
 * thread's store seen after our clock read) is fresh. */
int gw_heartbeat_stale(int64_t now_us, int64_t beat_us, int64_t bound_us);

/* Checks every heartbeat at now_us (CLOCK_MONOTONIC, microseconds).
 * Returns how many are stale; the first stale one's name goes into name
 * (capacity cap; "" if none) and how long it has not beaten into
 * *silent_us (may be NULL). */
int gw_heartbeat_check(int64_t now_us, char *name, size_t cap,
		       int64_t *silent_us);
/* The number of heartbeats registered. */
int gw_heartbeat_count(void);

/* CLOCK_MONOTONIC in microseconds. */
int64_t gw_heartbeat_now_us(void);

#endif
