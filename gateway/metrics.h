/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the gateway's metrics in the Prometheus text format
 * (version 0.0.4), as node_exporter's textfile collector and promtool
 * read it. docs/metrics.md lists every family.
 *
 * The metrics are rendered from the two files gatewayd keeps in its spool,
 * <spool>/status and <spool>/health (status_keys.h), and from nothing
 * else: gatewayd renders them into [metrics] textfile after it rewrote
 * either file, and `gwctl metrics` renders them from the same files, so
 * that the two cannot differ. A key the status does not have (a status
 * written by an older gatewayd) leaves its family out.
 *
 * The rendering streams: it writes to a FILE as it walks the texts, and
 * holds no buffer that grows with the number of meters or buses. Every
 * family has its HELP and TYPE lines and its samples together; label
 * values are escaped (backslash, double quote, newline); the text ends
 * with a newline.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdio.h>

/* Renders the metrics of a status text and a health text (health may be
 * NULL or "": no meter families) to f. Returns 0, or GW_EIO if writing to
 * f failed (errno kept). Both texts are borrowed and not changed. */
int gw_metrics_render(FILE *f, const char *status, const char *health);

/* Writes the metrics of status and health (as gw_metrics_render) into
 * the file path for node_exporter: first into "<path>.tmp" in the same
 * directory (which node_exporter passes over: it reads only names ending
 * in .prom), mode 0644 whatever the umask, then renamed over path, so
 * that a reader sees the old file or the new one, never a part. Not
 * fsynced: a power loss may leave the old file, and the next cycle
 * writes it again. Returns 0 or GW_EIO (errno kept; the tmp file is
 * removed). */
int gw_metrics_write_file(const char *path, const char *status,
			  const char *health);

/* Escapes a label value for the text format into f: backslash, double
 * quote and newline become \\, \" and \n. Returns 0 or -1 (as fputs). */
int gw_metrics_escape(FILE *f, const char *s, size_t len);

#endif
