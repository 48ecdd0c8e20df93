/* SPDX-License-Identifier: MIT */
/*
 * rate.h - per-account token buckets for the portal, in a table of fixed
 * size: memory does not grow with the number of customers calling.
 *
 * Each account may make `burst` requests at once and `per_minute` a
 * minute on average. An account not in the table starts with a full
 * bucket; when the table has no room in the account's probe window, the
 * entry there that was used longest ago is taken over (that account then
 * also starts full again: a bound on memory, at the price of letting a
 * flood of distinct valid tokens through, which only the token issuer
 * can make). Thread-safe (one mutex).
 */
#ifndef GW_PORTAL_RATE_H
#define GW_PORTAL_RATE_H

#include <stddef.h>
#include <stdint.h>

struct gw_rate;

/* A table of `slots` entries (rounded up to a power of two, at least 16).
 * Returns NULL when out of memory. Free with gw_rate_free. */
struct gw_rate *gw_rate_new(size_t slots, unsigned per_minute, unsigned burst);
void gw_rate_free(struct gw_rate *r);

/* Takes one request for key at now_us (monotonic microseconds). Returns
 * 0 if allowed, 1 if refused (then *retry_s, if not NULL, is the whole
 * number of seconds until a request will be allowed again, at least 1). */
int gw_rate_take(struct gw_rate *r, const char *key, int64_t now_us, unsigned *retry_s);

#endif
