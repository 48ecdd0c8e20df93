/* SPDX-License-Identifier: MIT */
/*
 * edges.c - the batching core's books at the revision window's edge, on
 * disk; see edges.h. The text is the core's (gw_batcher_edges_emit, a
 * line at a time); this file streams it into the file with a CRC line,
 * durably, and checks it on the way back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "edges.h"
#include "spool.h"

#define EDGES_MAX (256u << 20) /* a larger file is not ours */

struct edges_out {
	const struct gw_batcher *b;
};

/* Each line into the file as the core makes it; stops at the first
 * failure of the file. */
static int out_sink(void *ctx, const char *s, size_t len)
{
	struct gw_status_out *o = ctx;

	gw_status_out_write(o, s, len);
	return gw_status_out_failed(o) ? GW_EIO : 0;
}

static void edges_make(void *ctx, struct gw_status_out *o)
{
	struct edges_out *e = ctx;
	int rc = gw_batcher_edges_emit(e->b, out_sink, o);

	if (gw_status_out_failed(o))
		return; /* the file's failure, kept in o */
	if (rc) {
		gw_status_out_fail(o, rc);
		return;
	}
	gw_status_out_printf(o, "end crc32=%08x\n", (unsigned)gw_status_out_crc(o));
}

/* Takes the first line and stops: is there a text at all? */
static int first_line(void *ctx, const char *s, size_t len)
{
	(void)ctx;
	(void)s;
	(void)len;
	return 1;
}

int gw_edges_write(const char *spool_dir, const struct gw_batcher *b)
{
	char path[GW_PATH_MAX + 16], tmp[GW_PATH_MAX + 32];
	struct edges_out e = {b};
	int rc = gw_batcher_edges_emit(b, first_line, NULL);

	/* before any file is made: nothing sealed yet, or books unreadable */
	if (rc == GW_ENOTFOUND)
		return 0;
	if (rc != 1)
		return rc ? rc : GW_EIO;
	snprintf(path, sizeof(path), "%s/edges", spool_dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp/edges", spool_dir);
	/* The text goes to the file a buffer at a time, its CRC counted on
	 * the way: never the whole of it in memory (about 60 bytes a
	 * register, at the daily seal's peak). */
	return gw_write_file_durable_make(tmp, path, edges_make, &e);
}

/* Moves a damaged edges file to quarantine/edges, durably. */
static void set_aside(const char *spool_dir, const char *path, const char *why)
{
	char q[GW_PATH_MAX + 32], qdir[GW_PATH_MAX + 16];

	snprintf(q, sizeof(q), "%s/quarantine/edges", spool_dir);
	snprintf(qdir, sizeof(qdir), "%s/quarantine", spool_dir);
	gw_err("%s: %s; moved to quarantine/edges, the books are taken up from "
	       "the journal (a meter silent for longer than it keeps may lose "
	       "its long_gap event)", path, why);
	if (rename(path, q) != 0)
		gw_err("%s: cannot move to quarantine: %s", path, strerror(errno));
	else if (gw_fsync_dir(qdir) || gw_fsync_dir(spool_dir))
		gw_err("%s: cannot sync the move to quarantine", path);
}

int gw_edges_read(const char *spool_dir, struct gw_batcher *b)
{
	char path[GW_PATH_MAX + 16], why[128];
	FILE *f;
	long n;

	snprintf(path, sizeof(path), "%s/edges", spool_dir);
	f = fopen(path, "re");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		gw_err("%s: cannot open: %s", path, strerror(errno));
		return GW_EIO;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET) != 0) {
		fclose(f);
		gw_err("%s: cannot read: %s", path, strerror(errno));
		return GW_EIO;
	}
	if ((unsigned long)n > EDGES_MAX) {
		fclose(f);
		set_aside(spool_dir, path, "larger than any edges file");
		return GW_ECORRUPT;
	}
	char *buf = malloc((size_t)n + 1);
	if (!buf) {
		fclose(f);
		return GW_ENOMEM;
	}
	size_t got = fread(buf, 1, (size_t)n, f);
	int rerr = ferror(f);
	fclose(f);
	if (rerr || got != (size_t)n) {
		free(buf);
		gw_err("%s: cannot read", path);
		return GW_EIO;
	}
	buf[got] = '\0';
	/* the last line: "end crc32=XXXXXXXX" over everything before it */
	size_t body = got;
	unsigned crc = 0;
	if (got >= 19 && buf[got - 1] == '\n') {
		char *nl = got >= 20 ? memrchr(buf, '\n', got - 1) : NULL;
		body = nl ? (size_t)(nl - buf) + 1 : 0;
	}
	if (body == got || sscanf(buf + body, "end crc32=%8x\n", &crc) != 1 ||
	    strlen(buf + body) != 19) {
		free(buf);
		set_aside(spool_dir, path, "truncated (no end line)");
		return GW_ECORRUPT;
	}
	if (crc != gw_crc32((const uint8_t *)buf, body)) {
		free(buf);
		set_aside(spool_dir, path, "bad CRC");
		return GW_ECORRUPT;
	}
	int rc = gw_batcher_edges_load(b, buf, body, why, sizeof(why));
	free(buf);
	if (rc == GW_EINVAL) {
		gw_info("%s: %s; the books are taken up from the journal", path, why);
		return 0;
	}
	if (rc == GW_ECORRUPT) {
		set_aside(spool_dir, path, why);
		return rc;
	}
	return rc ? rc : 1;
}
