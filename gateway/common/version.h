/* SPDX-License-Identifier: MIT */
/*
 * version.h - the version the programs were built from: `git describe
 * --tags --always --dirty` at build time, or the VERSION file of a source
 * tarball, else "0.0.0-unknown" (the Makefile passes it as GW_VERSION).
 */
#ifndef GW_VERSION_H
#define GW_VERSION_H

#include <stdio.h>

/* The version string, e.g. "v1.2.0-14-g3fa2c1d" or "3fa2c1d-dirty". */
const char *gw_version(void);

/* Prints "PROG VERSION\n" to f (what --version prints). */
void gw_version_print(FILE *f, const char *prog);

#endif
