/* SPDX-License-Identifier: MIT */
/*
 * batch_spill.c - the files the batching core keeps the points of sealed
 * days in (see batch_spill.h): the core's only file I/O, kept here so that
 * the core stays code over readings and time.
 *
 * Policy: these files are a cache. Nothing is fsynced (after a crash the
 * journal's replay rebuilds the points, and a start removes whatever is
 * here), and a write that fails (a full disk, an unwritable directory)
 * is counted and logged at growing intervals: the core then keeps the
 * points in memory, so no reading is lost for it. A read that fails or
 * comes back short is logged every time: the core stops sealing and
 * gatewayd starts over from the journal (batch.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "batch_spill.h"
#include "durable.h"
#include "gw.h"
#include "tz.h"

#define HDR_LEN 16

struct gw_spill {
	char dir[GW_PATH_MAX];
	struct gen {
		int fd;          /* -1: none */
		uint64_t end;    /* bytes written */
		char name[16];   /* YYYY-MM-DD */
	} g[2];
	struct gw_logrl wrl; /* write failures in a row */
	struct gw_spill_stats st;
};

/* Removes every file in dir (not its subdirectories, there are none). */
static void empty_dir(const char *dir)
{
	char path[GW_PATH_MAX * 2];
	DIR *d = opendir(dir);
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		unlink(path);
	}
	closedir(d);
}

int gw_spill_open(const char *dir, struct gw_spill **out)
{
	struct gw_spill *s;
	struct stat sb;
	int err = 0;

	*out = NULL;
	if (mkdir(dir, 0750) != 0 && errno != EEXIST)
		err = errno;
	else if (stat(dir, &sb) != 0)
		err = errno;
	else if (!S_ISDIR(sb.st_mode))
		err = ENOTDIR;
	if (err) {
		gw_err("%s: cannot keep points there: %s", dir, strerror(err));
		errno = err;
		return GW_EIO;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return GW_ENOMEM;
	if (gw_strlcpy(s->dir, dir, sizeof(s->dir) - 16)) {
		free(s);
		return GW_EINVAL;
	}
	s->g[0].fd = s->g[1].fd = -1;
	empty_dir(dir);
	*out = s;
	return 0;
}

static void gen_path(const struct gw_spill *s, const struct gen *g, char *buf,
		     size_t cap)
{
	snprintf(buf, cap, "%s/%s", s->dir, g->name);
}

void gw_spill_drop(struct gw_spill *s, int gen)
{
	struct gen *g = &s->g[gen & 1], *other = &s->g[!(gen & 1)];
	char path[GW_PATH_MAX + 32];

	if (g->fd < 0)
		return;
	close(g->fd);
	g->fd = -1;
	/* the other generation may be a file of the same name made since
	 * (begin unlinks before it creates): it stays */
	if (other->fd < 0 || strcmp(other->name, g->name) != 0) {
		gen_path(s, g, path, sizeof(path));
		unlink(path);
	}
	g->name[0] = 0;
}

void gw_spill_close(struct gw_spill *s)
{
	if (!s)
		return;
	gw_spill_drop(s, 0);
	gw_spill_drop(s, 1);
	free(s);
}

/* A write that failed: counted, logged at growing intervals. */
static int write_failed(struct gw_spill *s, const char *what, int err)
{
	unsigned long quiet;

	s->st.write_failed++;
	if (gw_logrl_fail(&s->wrl, &quiet)) {
		if (quiet)
			gw_err("points: %s in %s failed (%s); the points stay in "
			       "memory (%lu such failures not logged since the last)",
			       what, s->dir, strerror(err), quiet);
		else
			gw_err("points: %s in %s failed (%s); the points stay in memory",
			       what, s->dir, strerror(err));
	}
	errno = err;
	return gw_errno_rc(err);
}

static int begin(struct gw_spill *s, int gen, int32_t day, int open_day)
{
	struct gen *g = &s->g[gen & 1];
	char path[GW_PATH_MAX + 32];
	uint8_t hdr[HDR_LEN] = "GWPOINTS";

	gw_spill_drop(s, gen);
	gw_day_format(day, g->name, sizeof(g->name));
	gen_path(s, g, path, sizeof(path));
	unlink(path); /* the other generation may hold it open: never truncated */
	g->fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
	if (g->fd < 0) {
		g->name[0] = 0;
		return write_failed(s, "a new file", errno ? errno : EIO);
	}
	hdr[8] = 6; /* version: records in chains, means warmed up, the CRC
		     * first (3: last in the header), a record a day with the
		     * coder's state before and after it and the point two
		     * before it (5: one state, the open day's record holding
		     * three points before its day; 4: none) */
	hdr[12] = (uint8_t)day;
	hdr[13] = (uint8_t)((uint32_t)day >> 8);
	hdr[14] = (uint8_t)((uint32_t)day >> 16);
	hdr[15] = (uint8_t)((uint32_t)day >> 24);
	if (gw_write_all(g->fd, hdr, HDR_LEN) != 0) {
		int err = errno ? errno : EIO;
		gw_spill_drop(s, gen);
		return write_failed(s, "a new file's header", err);
	}
	g->end = HDR_LEN;
	s->st.files++;
	if (open_day)
		gw_debug("points: %s holds the open day's points", path);
	else
		gw_debug("points: %s holds the points up to the end of %s", path, g->name);
	return 0;
}

int gw_spill_begin(struct gw_spill *s, int gen, int32_t day)
{
	return begin(s, gen, day, 0);
}

int gw_spill_begin_open(struct gw_spill *s, int gen, int32_t day)
{
	return begin(s, gen, day, 1);
}

int gw_spill_write(struct gw_spill *s, int gen, const void *p, size_t n,
		   uint64_t *off)
{
	struct gen *g = &s->g[gen & 1];
	const uint8_t *q = p;
	size_t done = 0;

	if (g->fd < 0)
		return write_failed(s, "a write", EBADF);
	while (done < n) {
		ssize_t w = pwrite(g->fd, q + done, n - done, (off_t)(g->end + done));
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return write_failed(s, "a write", w < 0 ? errno : ENOSPC);
		done += (size_t)w;
	}
	*off = g->end;
	g->end += n;
	s->st.writes++;
	s->st.bytes += n;
	if (gw_logrl_ok(&s->wrl))
		gw_info("points: writing to %s works again", s->dir);
	return 0;
}

int gw_spill_read(struct gw_spill *s, int gen, uint64_t off, void *p, size_t n)
{
	const struct gen *g = &s->g[gen & 1];
	uint8_t *q = p;
	size_t done = 0;
	int err = g->fd >= 0 ? 0 : EBADF;

	s->st.reads++;
	while (!err && done < n) {
		ssize_t r = pread(g->fd, q + done, n - done, (off_t)(off + done));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			err = r < 0 ? errno : 0;
			break;
		}
		done += (size_t)r;
		s->st.bytes_read += (uint64_t)r;
	}
	if (done == n && off + n <= g->end)
		return 0;
	s->st.read_failed++;
	gw_err("points: %s/%s: cannot read %zu bytes at %llu (%s)", s->dir,
	       g->fd >= 0 ? g->name : "-", n, (unsigned long long)off,
	       err ? strerror(err) : done < n ? "the file is shorter" : "beyond its end");
	return GW_EIO;
}

uint64_t gw_spill_size(const struct gw_spill *s, int gen)
{
	const struct gen *g = &s->g[gen & 1];

	return g->fd >= 0 ? g->end : 0;
}

int gw_spill_check(struct gw_spill *s, int gen)
{
	const struct gen *g = &s->g[gen & 1];
	struct stat sb;

	if (g->fd >= 0 && fstat(g->fd, &sb) == 0 && (uint64_t)sb.st_size >= g->end)
		return 0;
	s->st.read_failed++;
	gw_err("points: %s/%s: cannot read the %llu bytes written to it (the file "
	       "is shorter)", s->dir, g->fd >= 0 ? g->name : "-",
	       (unsigned long long)g->end);
	return GW_EIO;
}

int gw_spill_read_upto(struct gw_spill *s, int gen, uint64_t off, void *p,
		       size_t n)
{
	const struct gen *g = &s->g[gen & 1];

	if (g->fd >= 0 && off < g->end) {
		if (n > g->end - off)
			n = (size_t)(g->end - off);
		return gw_spill_read(s, gen, off, p, n) ? GW_EIO : (int)n;
	}
	return gw_spill_read(s, gen, off, p, n ? n : 1);
}

void gw_spill_stats(const struct gw_spill *s, struct gw_spill_stats *out)
{
	if (s)
		*out = s->st;
	else
		memset(out, 0, sizeof(*out));
}
