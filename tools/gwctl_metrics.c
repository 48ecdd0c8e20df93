/* SPDX-License-Identifier: MIT */
/*
 * gwctl_metrics.c - `gwctl metrics (-c CONFIG | SPOOL_DIR)`: the gateway's
 * metrics in the Prometheus text format on standard output, rendered from
 * <spool>/status and <spool>/health by the renderer gatewayd writes its
 * [metrics] textfile with (gateway/metrics.c): the same text, for a
 * machine without node_exporter, a script, or a look by hand.
 *
 * Exit status: 0, 1 if the status cannot be read (none yet, torn, an I/O
 * error) or standard output cannot be written, 2 on a usage error.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "gw.h"
#include "gwctl.h"
#include "gwctl_spool.h"
#include "metrics.h"
#include "spool.h"

/* Reads <dir>/<name> whole and checked; a read that meets a rewrite in
 * place half done (on a full disk) is made again, for up to a second (as
 * gwctl status does). Returns 0 or a GW_E* code; *text: free(). */
static int read_checked(const char *dir, const char *name, char **text)
{
	struct timespec pause = {0, 50 * 1000000L};
	int rc = GW_EIO;

	for (int tries = 0; tries < 20; tries++) {
		rc = gw_spool_status_read(dir, name, text);
		if (rc != GW_ECORRUPT)
			break;
		nanosleep(&pause, NULL);
	}
	return rc;
}

int gwctl_metrics(int argc, char **argv)
{
	char dir[GW_PATH_MAX], *st = NULL, *h = NULL;
	int i = 1;

	if (gwctl_spool_dir_arg(argc, argv, &i, dir, sizeof(dir)) || i != argc) {
		fprintf(stderr, "usage: gwctl metrics (-c CONFIG | SPOOL_DIR)\n");
		return 2;
	}
	int rc = read_checked(dir, "status", &st);
	if (rc) {
		fprintf(stderr, "gwctl metrics: %s/status: %s\n", dir,
			rc == GW_ENOTFOUND ? "no status yet (has gatewayd run on this spool?)"
					   : gw_strerror(rc));
		return 1;
	}
	/* without a health file (not written yet): no meter families */
	if (read_checked(dir, "health", &h))
		h = NULL;
	rc = gw_metrics_render(stdout, st, h);
	free(st);
	free(h);
	if (rc || fflush(stdout) != 0) {
		perror("gwctl metrics: standard output");
		return 1;
	}
	return 0;
}
