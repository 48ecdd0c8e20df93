/* SPDX-License-Identifier: MIT */
/*
 * handoff.h - the customer page's handoff tokens are good once: the
 * table of the (account, jti) pairs already handed off, each kept until
 * its token could no longer be accepted anyway (exp + leeway).
 *
 * The table has a fixed number of slots (handoff_table): memory does not
 * grow with the number of customers. A pair lives in one of a window of
 * GW_HANDOFF_PROBES slots from its hash; a slot whose pair has expired is
 * free again. When the window has no free slot the new handoff is
 * refused (GW_HANDOFF_FULL): an unexpired pair is never forgotten, since
 * forgetting it would let its token be used again. With the table sized
 * for the handoffs of a token's lifetime (docs/portal.md) that is far
 * off; it is logged when it happens.
 *
 * The session cookie is the token sealed by this process: "TOKEN~MAC",
 * MAC the base64url HMAC-SHA256 of the token under a key drawn at start
 * (never written anywhere). A token copied from a URL (a proxy's log)
 * after its handoff cannot be made into a cookie by hand, and a cookie
 * outlives neither its token nor the process.
 *
 * Both are one process's memory: several portald instances behind one
 * proxy need sticky sessions (or one instance), or a token is good once
 * per instance and a cookie only at the instance that made it.
 */
#ifndef GW_PORTAL_HANDOFF_H
#define GW_PORTAL_HANDOFF_H

#include <stddef.h>
#include <stdint.h>

#define GW_HANDOFF_PROBES 64
#define GW_HANDOFF_SEAL 44 /* "~" and 43 base64url characters */

enum gw_handoff_result {
	GW_HANDOFF_FIRST = 0, /* not seen before: taken, remembered */
	GW_HANDOFF_USED = 1,  /* handed off before, and not yet expired */
	GW_HANDOFF_FULL = 2,  /* no free slot: refused, nothing forgotten */
};

struct gw_handoff;

/* A table of `slots` pairs (at least GW_HANDOFF_PROBES), or NULL. */
struct gw_handoff *gw_handoff_new(unsigned slots);
void gw_handoff_free(struct gw_handoff *h);

/* Takes the handoff of (account, jti) at now (seconds since 1970),
 * remembered until `until` (seconds since 1970; the token's exp plus the
 * leeway). Thread-safe. */
enum gw_handoff_result gw_handoff_take(struct gw_handoff *h, const char *account, const char *jti,
				       int64_t until, int64_t now);

/* Writes "token~MAC" into out (cap bytes). Returns 0, or -1 if it does
 * not fit. */
int gw_handoff_seal(struct gw_handoff *h, const char *token, char *out, size_t cap);

/* Checks a cookie's "token~MAC" in place: returns 0 and cuts the cookie
 * at its "~" (the token is left), or -1 if it is not sealed by this
 * process (another instance, a restart, or made by hand). */
int gw_handoff_open(struct gw_handoff *h, char *cookie);

/* The pairs remembered and not expired at now (for the log and tests). */
size_t gw_handoff_count(struct gw_handoff *h, int64_t now);

#endif
