/* SPDX-License-Identifier: MIT */
/* gwctl_spool.h - `gwctl spool ls|verify|dump`: inspect the local spool. */
#ifndef GWCTL_SPOOL_H
#define GWCTL_SPOOL_H

/* argv[0] is "spool". Returns the process exit code. */
int gwctl_spool(int argc, char **argv);

#endif
