/* SPDX-License-Identifier: MIT */
/*
 * daemon.h - the gateway's main loop: poll workers feed the batching core,
 * sealed days go to the spool, an upload thread loads the spool into
 * PostgreSQL. gatewayd's main() only parses its command line and calls
 * gw_daemon_run(), so the loop is testable without the binary.
 */
#ifndef GW_DAEMON_H
#define GW_DAEMON_H

#include <stdatomic.h>
#include <stdint.h>

#include "config.h"

struct gw_daemon_opts {
	int64_t stop_at_ms; /* stop when the clock reaches this; 0: never */
	/* Set (by a SIGHUP handler) to re-read the configuration file; may be
	 * NULL. Lock-free atomics, so a handler may set them. */
	atomic_int *reload;
};

/* Runs until *stop is set (by a signal handler) or the clock reaches
 * opts->stop_at_ms. On the way out it seals what can be sealed and makes one
 * last upload pass. When *opts->reload is set it re-reads (*cfg)->path: a
 * valid file with the same gateway id, time zone and spool replaces *cfg
 * (the old one is freed; the caller frees the last one); anything else is
 * logged and the running configuration stays. When a hold of the clock
 * ends with readings withheld (clockcheck.h) it stops and starts again
 * from the journal within the call. Returns 0, or a negative GW_E* code if
 * the gateway could not start (spool not writable or in use by another
 * gatewayd, out of memory). */
int gw_daemon_run(struct gw_config **cfg, const struct gw_daemon_opts *opts,
		  atomic_int *stop);

#endif
