/* SPDX-License-Identifier: MIT */
/*
 * rate.c - token buckets per account in a bounded table; see rate.h.
 *
 * Tokens are kept in millionths so that refills are exact integers. The
 * hash is seeded at start from the kernel's random numbers, so that
 * nobody can pick account names that all land in one probe window.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "jwt.h"
#include "rate.h"

#define PROBE 8
#define UNIT INT64_C(1000000) /* one request, in millionths */

struct slot {
	char key[GW_JWT_ACCOUNT_MAX];
	int64_t tokens; /* millionths of a request */
	int64_t last_us;
};

struct gw_rate {
	pthread_mutex_t lock;
	struct slot *slots;
	size_t mask;
	uint64_t seed;
	int64_t per_minute;
	int64_t burst;
};

struct gw_rate *gw_rate_new(size_t slots, unsigned per_minute, unsigned burst)
{
	struct gw_rate *r = calloc(1, sizeof(*r));
	size_t n = 16;

	if (!r)
		return NULL;
	while (n < slots && n < ((size_t)1 << 24))
		n <<= 1;
	r->slots = calloc(n, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return NULL;
	}
	if (getrandom(&r->seed, sizeof(r->seed), 0) != (ssize_t)sizeof(r->seed))
		r->seed = (uint64_t)(uintptr_t)r ^ UINT64_C(0x9e3779b97f4a7c15);
	r->mask = n - 1;
	r->per_minute = per_minute ? per_minute : 1;
	r->burst = burst ? burst : 1;
	pthread_mutex_init(&r->lock, NULL);
	return r;
}

void gw_rate_free(struct gw_rate *r)
{
	if (!r)
		return;
	pthread_mutex_destroy(&r->lock);
	free(r->slots);
	free(r);
}

/* FNV-1a over the key, then a final mix of the seeded value. */
static uint64_t hash(const struct gw_rate *r, const char *key)
{
	uint64_t h = UINT64_C(14695981039346656037) ^ r->seed;

	for (; *key; key++) {
		h ^= (unsigned char)*key;
		h *= UINT64_C(1099511628211);
	}
	h ^= h >> 33;
	h *= UINT64_C(0xff51afd7ed558ccd);
	h ^= h >> 33;
	return h;
}

/* The slot of key: its own, else an empty one, else the least recently
 * used in the probe window (reset to a full bucket). */
static struct slot *find(struct gw_rate *r, const char *key, int64_t now_us)
{
	size_t i = (size_t)hash(r, key) & r->mask, k;
	struct slot *empty = NULL, *oldest = NULL, *s;

	for (k = 0; k < PROBE; k++) {
		s = &r->slots[(i + k) & r->mask];
		if (s->key[0] == '\0') {
			if (!empty)
				empty = s;
		} else if (strcmp(s->key, key) == 0) {
			return s;
		} else if (!oldest || s->last_us < oldest->last_us) {
			oldest = s;
		}
	}
	s = empty ? empty : oldest;
	memset(s, 0, sizeof(*s));
	memcpy(s->key, key, strnlen(key, sizeof(s->key) - 1));
	s->tokens = r->burst * UNIT;
	s->last_us = now_us;
	return s;
}

int gw_rate_take(struct gw_rate *r, const char *key, int64_t now_us, unsigned *retry_s)
{
	struct slot *s;
	int64_t elapsed, refill, missing;
	int refused;

	pthread_mutex_lock(&r->lock);
	s = find(r, key, now_us);
	elapsed = now_us > s->last_us ? now_us - s->last_us : 0;
	/* per_minute requests in 60e6 us: tokens += elapsed * per_minute / 60 */
	refill = elapsed > INT64_C(3600000000) ? r->burst * UNIT : elapsed * r->per_minute / 60;
	s->tokens += refill;
	if (s->tokens > r->burst * UNIT)
		s->tokens = r->burst * UNIT;
	s->last_us = now_us;
	refused = s->tokens < UNIT;
	if (!refused) {
		s->tokens -= UNIT;
	} else if (retry_s) {
		missing = UNIT - s->tokens;
		/* seconds = missing / (per_minute / 60 * 1e6), rounded up */
		*retry_s = (unsigned)((missing * 60 + r->per_minute * UNIT - 1) / (r->per_minute * UNIT));
		if (*retry_s == 0)
			*retry_s = 1;
	}
	pthread_mutex_unlock(&r->lock);
	return refused;
}
