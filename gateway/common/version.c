/* SPDX-License-Identifier: MIT */
/*
 * version.c - the built-in version (version.h). Only this file is rebuilt
 * when the version changes.
 */
#include "version.h"

#ifndef GW_VERSION
#define GW_VERSION "0.0.0-unknown"
#endif

const char *gw_version(void)
{
	return GW_VERSION;
}

void gw_version_print(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, GW_VERSION);
}
