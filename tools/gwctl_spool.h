/* SPDX-License-Identifier: MIT */
/* gwctl_spool.h - `gwctl spool ls|verify|dump`: inspect the local spool. */
#ifndef GWCTL_SPOOL_H
#define GWCTL_SPOOL_H

/* argv[0] is "spool". Returns the process exit code. */
int gwctl_spool(int argc, char **argv);

/* Finds the spool directory from "-c CONFIG" or a plain DIR argument at
 * argv[*i] and advances *i past it. Returns 0, or -1 after a message. */
int gwctl_spool_dir_arg(int argc, char **argv, int *i, char *out, size_t cap);

/* `gwctl status (-c CONFIG | SPOOL_DIR)`; argv[0] is "status". Exit 0: no
 * alarm and no meter offline; 1: an alarm or offline meters; 2: usage, or
 * no status yet. */
int gwctl_status(int argc, char **argv);

#endif
