/* SPDX-License-Identifier: MIT */
/* gwctl_clock.h - `gwctl clock trust|rewind`: after the gateway's clock jumped. */
#ifndef GWCTL_CLOCK_H
#define GWCTL_CLOCK_H

/* argv[0] is "clock". Returns the process exit code: 0 done, 1 failed or
 * (trust) the clock is still held, 2 usage. */
int gwctl_clock(int argc, char **argv);

#endif
