/* SPDX-License-Identifier: MIT */
/*
 * ini.h - a small INI reader that keeps the line number of every key.
 *
 * Syntax: "[section]" or "[section name]" headers, "key = value" lines,
 * comments starting with '#' or ';' on their own line, blank lines. Values
 * are trimmed; a value may be wrapped in double quotes to keep leading or
 * trailing spaces or a '#'. Keys before any section belong to section "".
 *
 * The callback sees every key with its section and line so that the caller
 * can range-check values and reject unknown keys naming file and line.
 */
#ifndef GW_INI_H
#define GW_INI_H

#include <stddef.h>

/* Called for each section header (key == NULL, value == NULL) and for each
 * key. `section` is the whole header text ("bus rs485-1"). Returns 0 to go
 * on, anything else to stop parsing (that value is returned by
 * gw_ini_parse). */
typedef int (*gw_ini_fn)(void *ctx, const char *section, const char *key,
			 const char *value, int line);

/* Parses the file at path. Returns 0, the callback's non-zero return,
 * GW_EIO if the file cannot be read, or GW_ECONFIG after reporting a syntax
 * error as "path:line: message" on stderr. */
int gw_ini_parse(const char *path, gw_ini_fn fn, void *ctx);

/* Parses an in-memory buffer; `name` is used in messages. */
int gw_ini_parse_buffer(const char *name, const char *buf, size_t len,
			gw_ini_fn fn, void *ctx);

#endif
