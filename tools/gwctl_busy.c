/* SPDX-License-Identifier: MIT */
/*
 * gwctl_busy.c - whether a running gatewayd has this configuration's
 * serial lines open, for the subcommands that would talk on them (read,
 * scan): two programs on one RS-485 line or optical head take each
 * other's replies.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/file.h>
#include <unistd.h>

#include "config.h"
#include "gwctl.h"

int gwctl_gatewayd_runs(const struct gw_config *cfg, long *pid)
{
	char path[GW_PATH_MAX + 16], text[32];
	int f, held;

	*pid = 0;
	snprintf(path, sizeof(path), "%s/lock", cfg->spool_dir);
	f = open(path, O_RDONLY | O_CLOEXEC);
	if (f < 0)
		return 0;
	held = flock(f, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK;
	if (held) {
		ssize_t n = pread(f, text, sizeof(text) - 1, 0);
		text[n > 0 ? n : 0] = '\0';
		*pid = strtol(text, NULL, 10);
	}
	close(f); /* drops a shared lock taken */
	return held;
}
