/* SPDX-License-Identifier: MIT */
/*
 * durable.c - whole files written so that a crash leaves the old one or
 * the new one, never a mix (tmp + fsync + rename + directory fsync), and
 * the status files rewritten in place when the disk is full, and files
 * streamed into place as they are made; see durable.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "bytes.h"
#include "durable.h"
#include "gw.h"

int gw_errno_rc(int err)
{
	return err == ENOSPC || err == EDQUOT ? GW_ENOSPC : GW_EIO;
}

int gw_write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

size_t gw_read_all(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return got;
}

int gw_fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int err;

	if (fd < 0) {
		err = errno;
		gw_err("%s: cannot open directory: %s", dir, strerror(err));
		errno = err;
		return GW_EIO;
	}
	if (fsync(fd) != 0) {
		err = errno;
		gw_err("%s: fsync of directory failed: %s", dir, strerror(err));
		close(fd);
		errno = err;
		return gw_errno_rc(err);
	}
	close(fd);
	return 0;
}

/* A file that cannot be written over and over (a full disk: a seal, the
 * state, the status files retried for hours) is logged at growing
 * intervals (gw_logrl), whatever file it is: failures in a row of every
 * durable write here, under a lock (the main thread and the workers'
 * journal sink both write files). A write that succeeds ends the run. */
static pthread_mutex_t fail_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gw_logrl fail_rl;

void gw_durable_failed(const char *path, const char *what, int err)
{
	unsigned long quiet = 0, n;

	pthread_mutex_lock(&fail_lock);
	int say = gw_logrl_fail(&fail_rl, &quiet);
	n = gw_logrl_count(&fail_rl);
	pthread_mutex_unlock(&fail_lock);
	if (say)
		gw_err("%s: %s: %s (%lu failed file write%s in a row, %lu not logged "
		       "since the last)", path, what, strerror(err), n,
		       n == 1 ? "" : "s", quiet);
}

void gw_durable_done(void)
{
	pthread_mutex_lock(&fail_lock);
	unsigned long n = gw_logrl_ok(&fail_rl);
	pthread_mutex_unlock(&fail_lock);
	if (n)
		gw_info("spool: files are written again after %lu failed write%s",
			n, n == 1 ? "" : "s");
}

static void dirname_of(const char *path, char *out, size_t cap)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		snprintf(out, cap, ".");
	else if (slash == path)
		snprintf(out, cap, "/");
	else
		snprintf(out, cap, "%.*s", (int)(slash - path), path);
}

/* Creates (or empties) tmp_path for a durable write. Returns its fd, or
 * GW_ENOSPC / GW_EIO with errno set. `quiet` here and in durable_finish
 * leaves a failure to the caller to log (the status files, whose first
 * way fails on every write while the disk is full). */
static int durable_create(const char *tmp_path, int quiet)
{
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);

	if (fd < 0) {
		int err = errno;
		if (!quiet)
			gw_durable_failed(tmp_path, "cannot create", err);
		errno = err;
		return gw_errno_rc(err);
	}
	return fd;
}

/* Ends a durable write of tmp_path (fd, written whole) into path: fsync,
 * close, rename, fsync of the directory. Returns 0, or GW_ENOSPC / GW_EIO
 * with errno set, tmp_path removed. */
static int durable_finish(int fd, const char *tmp_path, const char *path,
			  int quiet)
{
	char dir[GW_PATH_MAX];
	int err;

	/* A failed fsync means the data may not be on disk: the file is
	 * abandoned, never renamed into place as if it were. */
	if (fsync(fd) != 0) {
		err = errno;
		if (!quiet)
			gw_durable_failed(tmp_path, "fsync failed", err);
		goto fail;
	}
	if (close(fd) != 0) {
		err = errno;
		fd = -1;
		gw_durable_failed(tmp_path, "close failed", err);
		goto fail;
	}
	fd = -1;
	if (rename(tmp_path, path) != 0) {
		err = errno;
		gw_durable_failed(path, "rename into place failed", err);
		goto fail;
	}
	dirname_of(path, dir, sizeof(dir));
	int rc = gw_fsync_dir(dir);
	if (rc == 0 && !quiet)
		gw_durable_done();
	return rc;
fail:
	/* Nothing is left in tmp/: a full disk must not fill up with the
	 * halves of files that could not be written. errno is the failure's. */
	if (fd >= 0)
		close(fd);
	unlink(tmp_path);
	errno = err;
	return gw_errno_rc(err);
}

int gw_write_file_durable(const char *tmp_path, const char *path,
			  const uint8_t *buf, size_t len)
{
	int fd = durable_create(tmp_path, 0);

	if (fd < 0)
		return fd;
	if (gw_write_all(fd, buf, len) != 0) {
		int err = errno;
		gw_durable_failed(tmp_path, "write failed", err);
		close(fd);
		unlink(tmp_path);
		errno = err;
		return gw_errno_rc(err);
	}
	return durable_finish(fd, tmp_path, path, 0);
}

/* ---- status files ----
 *
 * <spool>/status and <spool>/health must tell the truth when the disk is
 * full, which is exactly when writing a new file and renaming it over the
 * old one cannot work. So each is kept at a whole number of 4 KiB blocks
 * (its text, a trailer line, then a padding line), and written one of two
 * ways:
 *   - normally like every durable file: a new file in tmp/, fsync, rename,
 *     fsync of the spool directory; a reader sees the old file or the new;
 *   - when that fails (no room for the new file), in place: the new text
 *     over the old one within the blocks the file already has, which needs
 *     no free block (ext4, f2fs, tmpfs; not a copy-on-write file system such
 *     as btrfs), then fdatasync.
 * In place, a reader may catch a mix of the old text and the new, and a
 * power loss in the middle may leave one behind. The trailer tells: it
 * holds the length and CRC-32 of the text before it, and
 * gw_spool_status_read() checks them (and gwctl reads again).
 *
 * The new file is written as its text is made (gw_status_out): through a
 * buffer of STATUS_CHUNK bytes, the length and CRC counted on the way, the
 * trailer and the padding after it; the text is never held whole (the
 * health of 10,000 meters is about 0.84 MB). Only a rewrite in place
 * holds it whole, once, and at most the file's size: it must know the
 * text fits before it writes a byte over the old one, so that a text that
 * outgrew the room leaves the old file whole and readable.
 *
 * gw_write_file_durable_make writes any other file the same way, through
 * the same output, without the trailer and the padding (the edges file:
 * its own CRC line, from gw_status_out_crc).
 */
#define STATUS_BLOCK 4096
#define STATUS_CHUNK 65536
#define STATUS_TRAILER "#end len="
#define STATUS_PAD "# room for this file to be rewritten in place when the disk is full"

struct gw_status_out {
	int fd;        /* the new file the text goes to; -1: kept in buf */
	char *buf;     /* the text not written yet (or all of it, fd -1) */
	size_t n, cap; /* bytes in buf, its size */
	size_t limit;  /* fd -1: the most the text may take */
	size_t len;    /* the text's bytes so far */
	uint32_t crc;  /* their CRC-32 */
	char last;     /* the last of them */
	int err;       /* errno of the first failure; nothing more is taken */
	int rc;        /* the GW_E code make gave up with (err ECANCELED) */
};

/* Writes out what o's buffer holds into its file. */
static void out_flush(struct gw_status_out *o)
{
	if (o->fd < 0)
		return; /* kept whole */
	if (o->n && !o->err &&
	    gw_write_all(o->fd, (const uint8_t *)o->buf, o->n) != 0)
		o->err = errno;
	o->n = 0;
}

void gw_status_out_write(struct gw_status_out *o, const char *s, size_t len)
{
	if (o->err || len == 0)
		return;
	o->crc = (uint32_t)crc32(o->crc, (const Bytef *)s, (uInt)len);
	o->len += len;
	o->last = s[len - 1];
	if (o->fd < 0 && o->n + len > o->cap) {
		/* kept whole for a rewrite in place, up to the file's size */
		size_t cap = o->cap ? o->cap : STATUS_CHUNK;
		while (cap < o->n + len)
			cap *= 2;
		if (cap > o->limit)
			cap = o->limit;
		char *nb = o->n + len <= cap ? realloc(o->buf, cap) : NULL;
		if (!nb) {
			o->err = o->n + len <= cap ? ENOMEM : EFBIG;
			return;
		}
		o->buf = nb;
		o->cap = cap;
	}
	while (len > 0 && !o->err) {
		if (o->n == o->cap)
			out_flush(o);
		size_t k = o->cap - o->n < len ? o->cap - o->n : len;
		memcpy(o->buf + o->n, s, k);
		o->n += k;
		s += k;
		len -= k;
	}
}

void gw_status_out_fail(struct gw_status_out *o, int rc)
{
	if (o->err)
		return;
	o->err = ECANCELED;
	o->rc = rc;
}

int gw_status_out_failed(const struct gw_status_out *o)
{
	return o->err != 0;
}

uint32_t gw_status_out_crc(const struct gw_status_out *o)
{
	return o->crc;
}

void gw_status_out_printf(struct gw_status_out *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0) {
		o->err = o->err ? o->err : EINVAL;
		return;
	}
	if ((size_t)n < sizeof(line)) {
		gw_status_out_write(o, line, (size_t)n);
		return;
	}
	char *big = malloc((size_t)n + 1); /* a line longer than any of ours */
	if (!big) {
		o->err = o->err ? o->err : ENOMEM;
		return;
	}
	va_start(ap, fmt);
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	va_end(ap);
	gw_status_out_write(o, big, (size_t)n);
	free(big);
}

/* The file's size for a text of tlen bytes with a last \n added if nl: at
 * least `size` and at least half a block more than the text and its
 * trailer need (room for the lines a full disk adds: alarms, errno texts,
 * counters), rounded up to whole blocks. *trailer gets the trailer line
 * (cap 64) and *tn its length. */
static size_t status_size(size_t tlen, int nl, uint32_t crc, size_t size,
			  char *trailer, size_t *tn)
{
	if (nl)
		crc = (uint32_t)crc32(crc, (const Bytef *)"\n", 1);
	*tn = (size_t)snprintf(trailer, 64, STATUS_TRAILER "%zu crc=%08x\n",
			       tlen + (size_t)nl, (unsigned)crc);
	size_t used = tlen + (size_t)nl + *tn + 1; /* + the padding's \n */
	size_t n = used + STATUS_BLOCK / 2;
	if (n < size)
		n = size;
	return (n + STATUS_BLOCK - 1) / STATUS_BLOCK * STATUS_BLOCK;
}

/* Ends o's text in its file (fd: the file written from its start) with a
 * last \n if the text has none, the trailer and the padding line up to
 * the file's size (status_size of `size`). Returns 0 or -1 with errno. */
static int status_tail(const struct gw_status_out *o, int fd, size_t size)
{
	char trailer[64], pad[STATUS_BLOCK];
	int nl = o->len > 0 && o->last != '\n';
	size_t tn, n = status_size(o->len, nl, o->crc, size, trailer, &tn);
	size_t at = o->len + (size_t)nl + tn, padlen = n - at;

	if ((nl && gw_write_all(fd, (const uint8_t *)"\n", 1) != 0) ||
	    gw_write_all(fd, (const uint8_t *)trailer, tn) != 0)
		return -1;
	/* the padding: the comment (if it fits), spaces, a last \n */
	for (size_t off = 0; off < padlen;) {
		size_t k = padlen - off < sizeof(pad) ? padlen - off : sizeof(pad);
		memset(pad, ' ', k);
		if (off == 0 && padlen > sizeof(STATUS_PAD))
			memcpy(pad, STATUS_PAD, sizeof(STATUS_PAD) - 1);
		if (off + k == padlen)
			pad[k - 1] = '\n';
		if (gw_write_all(fd, (const uint8_t *)pad, k) != 0)
			return -1;
		off += k;
	}
	return 0;
}

/* A status file's text made into a new output: fd its file, or -1 to keep
 * it (at most limit bytes). */
static void status_make(struct gw_status_out *o, int fd, size_t limit,
			gw_status_make_fn make, void *ctx)
{
	memset(o, 0, sizeof(*o));
	o->fd = fd;
	o->limit = limit;
	o->crc = (uint32_t)crc32(0L, Z_NULL, 0);
	if (fd >= 0) {
		o->cap = STATUS_CHUNK;
		o->buf = malloc(o->cap);
		if (!o->buf)
			o->err = ENOMEM;
	}
	if (!o->err)
		make(ctx, o);
	out_flush(o);
}

/* Rewrites path in place with the text make makes, within the file's
 * present size. Returns 0, GW_ENOMEM, or GW_ENOSPC / GW_EIO
 * (failed_errno's kind if the file is missing or too small). */
static int status_in_place(const char *path, gw_status_make_fn make, void *ctx,
			   int failed_errno)
{
	struct gw_status_out o;
	struct stat st;
	char trailer[64];
	size_t tn;
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;

	if (fd < 0)
		return gw_errno_rc(failed_errno);
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return gw_errno_rc(err);
	}
	status_make(&o, -1, (size_t)st.st_size, make, ctx);
	if (o.err) {
		free(o.buf);
		close(fd);
		/* EFBIG: the text outgrew the room; growing needs free blocks */
		return o.err == ENOMEM ? GW_ENOMEM : gw_errno_rc(failed_errno);
	}
	if (status_size(o.len, o.len > 0 && o.last != '\n', o.crc,
			(size_t)st.st_size, trailer, &tn) != (size_t)st.st_size) {
		/* the text and its room outgrew the file */
		free(o.buf);
		close(fd);
		return gw_errno_rc(failed_errno);
	}
	/* over the old file from its first byte: the text, then its end */
	if (gw_write_all(fd, (const uint8_t *)o.buf, o.n) != 0 ||
	    status_tail(&o, fd, (size_t)st.st_size) != 0) {
		err = errno;
		goto fail;
	}
	if (fdatasync(fd) != 0) {
		err = errno;
		goto fail;
	}
	free(o.buf);
	close(fd);
	return 0;
fail:
	gw_durable_failed(path, "rewriting in place failed", err);
	free(o.buf);
	close(fd);
	return gw_errno_rc(err);
}

/* Writes the new file tmp with the text make makes and renames it over
 * path, as gw_write_file_durable. A status file (`status`) gets its
 * trailer and padding (path's present size: the new file is never
 * smaller), and its failures are left to the caller to log; any other
 * file's failures of the disk are logged here. Returns 0, GW_ENOMEM,
 * GW_ENOSPC, GW_EIO (errno set) or the code make gave up with. */
static int stream_replace(const char *tmp, const char *path, int status,
			  size_t size, gw_status_make_fn make, void *ctx)
{
	struct gw_status_out o;
	int fd = durable_create(tmp, status);

	if (fd < 0)
		return fd;
	status_make(&o, fd, 0, make, ctx);
	free(o.buf);
	int err = o.err;
	if (!err && status && status_tail(&o, fd, size) != 0)
		err = errno;
	if (err) {
		if (!status && !o.rc && err != ENOMEM)
			gw_durable_failed(tmp, "write failed", err);
		close(fd);
		unlink(tmp);
		errno = err;
		return o.rc ? o.rc : err == ENOMEM ? GW_ENOMEM : gw_errno_rc(err);
	}
	return durable_finish(fd, tmp, path, status);
}

int gw_write_file_durable_make(const char *tmp_path, const char *path,
			       gw_status_make_fn make, void *ctx)
{
	return stream_replace(tmp_path, path, 0, 0, make, ctx);
}

int gw_spool_status_make(const char *dir, const char *name,
			 gw_status_make_fn make, void *ctx)
{
	char path[GW_PATH_MAX + 64], tmp[GW_PATH_MAX + 80];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	/* never smaller than now: the room stays for the next rewrite */
	int rc = stream_replace(tmp, path, 1,
				stat(path, &st) == 0 ? (size_t)st.st_size : 0, make, ctx);
	int err = errno;
	if (rc == 0 || rc == GW_ENOMEM)
		return rc;
	if (status_in_place(path, make, ctx, err) != 0) {
		errno = err;
		return rc;
	}
	errno = err;
	return 1;
}

static void text_make(void *ctx, struct gw_status_out *o)
{
	gw_status_out_write(o, ctx, strlen(ctx));
}

int gw_spool_status_write(const char *dir, const char *name, const char *text)
{
	return gw_spool_status_make(dir, name, text_make, (void *)text);
}

int gw_spool_status_read(const char *dir, const char *name, char **text)
{
	char path[GW_PATH_MAX + 64];
	struct stat st;
	int fd;

	*text = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	if (fstat(fd, &st) != 0 || st.st_size > (16 << 20)) {
		close(fd);
		return GW_EIO;
	}
	char *buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		close(fd);
		return GW_ENOMEM;
	}
	size_t got = gw_read_all(fd, (uint8_t *)buf, (size_t)st.st_size);
	close(fd);
	buf[got] = '\0';
	/* The first trailer line ends the text. A file without one was
	 * written whole by a gatewayd before trailers (renamed into place). */
	char *t = NULL; /* where the trailer line starts */
	if (strncmp(buf, STATUS_TRAILER, strlen(STATUS_TRAILER)) == 0)
		t = buf; /* an empty text */
	else if ((t = strstr(buf, "\n" STATUS_TRAILER)) != NULL)
		t++;
	if (t) {
		char *p = t + strlen(STATUS_TRAILER), *end;
		unsigned long long l = strtoull(p, &end, 10);
		unsigned long c = 0;
		int ok = end != p && strncmp(end, " crc=", 5) == 0;
		if (ok) {
			p = end + 5;
			c = strtoul(p, &end, 16);
			ok = end == p + 8 && *end == '\n';
		}
		size_t tl = (size_t)(t - buf);
		if (!ok || l != tl ||
		    gw_crc32((const uint8_t *)buf, tl) != (uint32_t)c) {
			free(buf);
			return GW_ECORRUPT;
		}
		buf[tl] = '\0';
	} else if (memchr(buf, '\0', got)) {
		free(buf);
		return GW_ECORRUPT;
	}
	*text = buf;
	return 0;
}
