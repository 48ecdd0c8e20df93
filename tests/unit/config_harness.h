/* SPDX-License-Identifier: MIT */
/*
 * config_harness.h - what the configuration tests share: a temporary
 * directory, writing a file into it, loading a configuration with its
 * stderr captured, and expecting a one-line "FILE:LINE: message" error.
 * Header-only (static functions): each test program includes it once,
 * after <cmocka.h>.
 */
#ifndef GW_TEST_CONFIG_HARNESS_H
#define GW_TEST_CONFIG_HARNESS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"

static char dir[256];
static char errbuf[4096];

static void write_file(const char *name, const char *text)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

/* Loads dir/gw.ini written from text; captures stderr into errbuf. */
static int load(const char *text, struct gw_config **cfg)
{
	char path[600], errpath[600];
	write_file("gw.ini", text);
	snprintf(path, sizeof(path), "%s/gw.ini", dir);
	snprintf(errpath, sizeof(errpath), "%s/err.txt", dir);
	fflush(stderr);
	int saved = dup(2);
	FILE *ef = fopen(errpath, "w+");
	assert_non_null(ef);
	dup2(fileno(ef), 2);
	int rc = gw_config_load(path, cfg);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(ef);
	size_t n = fread(errbuf, 1, sizeof(errbuf) - 1, ef);
	errbuf[n] = '\0';
	fclose(ef);
	return rc;
}

/* Loading text fails with one line containing "DIR/needle". */
static void expect_error(const char *text, const char *needle)
{
	struct gw_config *cfg = (struct gw_config *)1;
	char want[700];

	assert_int_equal(load(text, &cfg), GW_ECONFIG);
	assert_null(cfg);
	snprintf(want, sizeof(want), "%s/%s", dir, needle);
	if (!strstr(errbuf, want)) {
		print_error("expected '%s' in: %s\n", want, errbuf);
		fail();
	}
	/* one line per error */
	assert_non_null(strchr(errbuf, '\n'));
	assert_null(strchr(strchr(errbuf, '\n') + 1, '\n'));
}

/* Makes dir from a mkdtemp template; removes it again. */
static void harness_mkdir(const char *tmpl)
{
	snprintf(dir, sizeof(dir), "%s", tmpl);
	assert_non_null(mkdtemp(dir));
}

static int harness_rmdir(void)
{
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd);
}

#endif
