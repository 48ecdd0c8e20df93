/* SPDX-License-Identifier: MIT */
/*
 * clock.c - real and simulated (accelerated, anchored) time; see clock.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "gw.h"
#include "heartbeat.h"

void gw_clock_init_real(struct gw_clock *c)
{
	memset(c, 0, sizeof(*c));
	c->speed = 1;
}

int gw_clock_init_sim(struct gw_clock *c, int64_t anchor_us, int64_t start_ms,
		      int64_t speed)
{
	if (speed < 1 || speed > GW_CLOCK_SPEED_MAX)
		return GW_EINVAL;
	c->simulated = true;
	c->anchor_us = anchor_us ? anchor_us : gw_real_now_us();
	c->start_ms = start_ms;
	c->speed = speed;
	return 0;
}

/* ---- an anchor written to a file later ----
 * One per process (a process runs one simulated clock): the file's path,
 * the monotonic time at which the clock started to stand, and, once the
 * file has been read, the anchor and how long the clock stood. */
static char late_path[1024];
static int64_t late_mono0_us;
static _Atomic int64_t late_anchor_us; /* 0: the file is not there yet */
static _Atomic int64_t late_held_us;   /* stored before late_anchor_us */
static pthread_mutex_t late_lock = PTHREAD_MUTEX_INITIALIZER;

static int64_t mono_us(void);

/* The anchor from the file, or 0 while it is not there (or not whole:
 * the writer is expected to rename it into place). */
static int64_t late_anchor(void)
{
	int64_t a = atomic_load_explicit(&late_anchor_us, memory_order_acquire);
	char buf[64];

	if (a)
		return a;
	pthread_mutex_lock(&late_lock);
	a = atomic_load_explicit(&late_anchor_us, memory_order_relaxed);
	FILE *f = a ? NULL : fopen(late_path, "r");
	if (f) {
		size_t n = fread(buf, 1, sizeof(buf) - 1, f);
		fclose(f);
		while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
			n--;
		buf[n] = '\0';
		if (buf[0] != '@' && gw_clock_parse_anchor(buf, &a) == 0 && a > 0) {
			/* The monotonic clock at the anchor: until then the
			 * clock stood, so the monotonic scale stood too and the
			 * two stay in step (clockcheck compares them). */
			int64_t at = mono_us() - (gw_real_now_us() - a);
			atomic_store_explicit(&late_held_us, at - late_mono0_us,
					      memory_order_relaxed);
			atomic_store_explicit(&late_anchor_us, a, memory_order_release);
		} else {
			a = 0;
		}
	}
	pthread_mutex_unlock(&late_lock);
	return a;
}

int gw_clock_parse_anchor(const char *s, int64_t *anchor_us)
{
	int64_t secs = 0, frac = 0;
	int digits = 0;
	const char *p = s;

	if (s[0] == '@') {
		if (s[1] == '\0' || strlen(s + 1) >= sizeof(late_path))
			return GW_EINVAL;
		/* parsed again on a reload: the clock keeps standing since the
		 * first time */
		if (strcmp(late_path, s + 1) != 0) {
			snprintf(late_path, sizeof(late_path), "%s", s + 1);
			late_mono0_us = mono_us();
		}
		*anchor_us = GW_CLOCK_ANCHOR_LATER;
		return 0;
	}
	if (strcmp(s, "now") == 0) {
		*anchor_us = gw_real_now_us();
		return 0;
	}
	if (*p < '0' || *p > '9')
		return GW_EINVAL;
	while (*p >= '0' && *p <= '9') {
		secs = secs * 10 + (*p++ - '0');
		if (secs > 100000000000LL)
			return GW_EINVAL;
	}
	if (*p == '.') {
		p++;
		while (*p >= '0' && *p <= '9') {
			if (digits < 6) {
				frac = frac * 10 + (*p - '0');
				digits++;
			}
			p++;
		}
		if (digits == 0)
			return GW_EINVAL;
	}
	if (*p != '\0')
		return GW_EINVAL;
	while (digits++ < 6)
		frac *= 10;
	*anchor_us = secs * 1000000 + frac;
	return 0;
}

int gw_clock_from_options(struct gw_clock *c, const char *prog,
			  const char *anchor, const char *start,
			  const char *speed)
{
	int64_t anchor_us = 0, start_ms, sp = 1;
	char *end;

	if (!start || gw_parse_utc(start, &start_ms)) {
		fprintf(stderr, "%s: --clock-start: '%s' is not a UTC time like 2026-03-01T00:00:00Z\n",
			prog, start ? start : "");
		return GW_EINVAL;
	}
	if (anchor && gw_clock_parse_anchor(anchor, &anchor_us)) {
		fprintf(stderr, "%s: --clock-anchor: '%s' is not 'now', real UTC seconds or @FILE\n",
			prog, anchor);
		return GW_EINVAL;
	}
	if (speed) {
		sp = strtoll(speed, &end, 10);
		if (*speed == '\0' || *end != '\0' || sp < 1 ||
		    sp > GW_CLOCK_SPEED_MAX) {
			fprintf(stderr, "%s: --clock-speed: '%s' is not in 1..%d\n",
				prog, speed, GW_CLOCK_SPEED_MAX);
			return GW_EINVAL;
		}
	}
	return gw_clock_init_sim(c, anchor_us, start_ms, sp);
}

/* The clock's time at the real (wall-clock) time `real`. */
static int64_t now_at(const struct gw_clock *c, int64_t real)
{
	int64_t anchor = c->anchor_us;

	if (!c->simulated)
		return real / 1000;
	if (anchor == GW_CLOCK_ANCHOR_LATER && (anchor = late_anchor()) == 0)
		return c->start_ms; /* standing until the anchor is written */
	/* speed <= 1e5 and a run of years keeps this far from overflow. */
	return c->start_ms + (real - anchor) * c->speed / 1000;
}

int64_t gw_clock_now_ms(const struct gw_clock *c)
{
	return now_at(c, gw_real_now_us());
}

int64_t gw_clock_real_us(const struct gw_clock *c, int64_t sim_ms)
{
	if (!c->simulated)
		return sim_ms * 1000;
	return sim_ms * 1000 / c->speed;
}

bool gw_clock_sleep_until(const struct gw_clock *c, int64_t until_ms,
			  atomic_int *stop)
{
	struct gw_clock_watch w = {0, 0};

	gw_clock_step_ms(c, &w);
	for (;;) {
		gw_heartbeat_tick(); /* an idle turn of the caller's loop */
		if (stop && atomic_load(stop))
			return false;
		int64_t now = gw_clock_now_ms(c);
		if (now >= until_ms)
			return true;
		/* The wall clock stepped back (NTP, an operator): waiting for
		 * the time again would wait out the step too. */
		if (gw_clock_step_ms(c, &w) < 0)
			return true;
		/* Wake at least every 100 ms of real time to notice *stop;
		 * +1 us so that rounding never wakes us just short. */
		int64_t us = gw_clock_real_us(c, until_ms - now) + 1;
		if (us > 100000)
			us = 100000;
		struct timespec ts = {.tv_sec = us / 1000000,
				      .tv_nsec = (long)(us % 1000000) * 1000};
		nanosleep(&ts, NULL);
	}
}

static int64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The monotonic clock on this clock's scale at monotonic time `m`. */
static int64_t mono_at(const struct gw_clock *c, int64_t m)
{
	if (!c->simulated)
		return m / 1000;
	if (c->anchor_us == GW_CLOCK_ANCHOR_LATER) {
		if (late_anchor() == 0)
			return late_mono0_us * c->speed / 1000;
		return (m - atomic_load_explicit(&late_held_us,
						 memory_order_relaxed)) *
		       c->speed / 1000;
	}
	return m * c->speed / 1000;
}

int64_t gw_clock_mono_ms(const struct gw_clock *c)
{
	return mono_at(c, mono_us());
}

void gw_clock_watch_times(const struct gw_clock *c, const struct gw_clock_watch *w,
			  int64_t *now_ms, int64_t *mono_ms)
{
	*now_ms = now_at(c, w->real_us);
	*mono_ms = mono_at(c, w->mono_us);
}

int64_t gw_clock_step_ms(const struct gw_clock *c, struct gw_clock_watch *w)
{
	int64_t real, mono, step = 0;

	/* The two clocks are read one after the other: a thread preempted
	 * between the reads would see a step that is not there. Bracketing the
	 * monotonic read by two wall-clock reads that lie close together
	 * rules that out (a few tries; a real step persists). */
	for (int tries = 0;; tries++) {
		int64_t r1 = gw_real_now_us();
		mono = mono_us();
		int64_t r2 = gw_real_now_us();
		real = r1 + (r2 - r1) / 2;
		if ((r2 - r1 >= 0 && r2 - r1 < 2000) || tries == 3)
			break;
	}

	if (w->mono_us) {
		step = (real - w->real_us) - (mono - w->mono_us);
		if (step > -GW_CLOCK_STEP_MIN_US && step < GW_CLOCK_STEP_MIN_US)
			step = 0;
	}
	w->real_us = real;
	w->mono_us = mono;
	return step * (c->simulated ? c->speed : 1) / 1000;
}
