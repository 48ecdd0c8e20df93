/* SPDX-License-Identifier: MIT */
/*
 * durable.c - whole files written so that a crash leaves the old one or
 * the new one, never a mix (tmp + fsync + rename + directory fsync), and
 * the status files rewritten in place when the disk is full; see
 * durable.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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

/* gw_write_file_durable; `quiet` leaves a failure to the caller to log
 * (the status files, whose first way fails on every write while the disk
 * is full). */
static int write_durable(const char *tmp_path, const char *path,
			 const uint8_t *buf, size_t len, int quiet)
{
	char dir[GW_PATH_MAX];
	int fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	int err = 0;

	if (fd < 0) {
		err = errno;
		if (!quiet)
			gw_durable_failed(tmp_path, "cannot create", err);
		errno = err;
		return gw_errno_rc(err);
	}
	if (gw_write_all(fd, buf, len) != 0) {
		err = errno;
		if (!quiet)
			gw_durable_failed(tmp_path, "write failed", err);
		goto fail;
	}
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
	return write_durable(tmp_path, path, buf, len, 0);
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
 */
#define STATUS_BLOCK 4096
#define STATUS_TRAILER "#end len="
#define STATUS_PAD "# room for this file to be rewritten in place when the disk is full"

/* The file image of text (tlen bytes, without its trailer): at least
 * `size` bytes and at least half a block more than the text needs (room
 * for the lines a full disk adds: alarms, errno texts, counters), rounded
 * up to whole blocks. Returns a malloc'ed buffer of *len bytes, or NULL. */
static uint8_t *status_image(const char *text, size_t tlen, size_t size,
			     size_t *len)
{
	char trailer[64];
	size_t nl = tlen > 0 && text[tlen - 1] != '\n'; /* a last \n added */
	uint32_t crc = gw_crc32((const uint8_t *)text, tlen);
	if (nl)
		crc = (uint32_t)crc32(crc, (const Bytef *)"\n", 1);
	int tn = snprintf(trailer, sizeof(trailer), STATUS_TRAILER "%zu crc=%08x\n",
			  tlen + nl, (unsigned)crc);
	size_t used = tlen + nl + (size_t)tn + 1; /* + the padding's \n */
	size_t n = used + STATUS_BLOCK / 2;
	if (n < size)
		n = size;
	n = (n + STATUS_BLOCK - 1) / STATUS_BLOCK * STATUS_BLOCK;
	uint8_t *img = malloc(n);
	if (!img)
		return NULL;
	memcpy(img, text, tlen);
	if (nl)
		img[tlen] = '\n';
	memcpy(img + tlen + nl, trailer, (size_t)tn);
	size_t at = tlen + nl + (size_t)tn, pad = n - at;
	memset(img + at, ' ', pad);
	if (pad > sizeof(STATUS_PAD))
		memcpy(img + at, STATUS_PAD, sizeof(STATUS_PAD) - 1);
	img[n - 1] = '\n';
	*len = n;
	return img;
}

/* Rewrites path in place with text, within the file's present size.
 * Returns 0, or GW_ENOSPC / GW_EIO (failed_errno's kind if the file is
 * missing or too small). */
static int status_in_place(const char *path, const char *text, int failed_errno)
{
	struct stat st;
	size_t len = 0, done = 0;
	int fd = open(path, O_WRONLY | O_CLOEXEC), err;

	if (fd < 0)
		return gw_errno_rc(failed_errno);
	if (fstat(fd, &st) != 0) {
		err = errno;
		close(fd);
		return gw_errno_rc(err);
	}
	uint8_t *img = status_image(text, strlen(text), (size_t)st.st_size, &len);
	if (!img) {
		close(fd);
		return GW_ENOMEM;
	}
	if ((off_t)len != st.st_size) {
		/* the text outgrew the room: growing needs free blocks */
		free(img);
		close(fd);
		return gw_errno_rc(failed_errno);
	}
	while (done < len) {
		ssize_t n = pwrite(fd, img + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			err = n < 0 ? errno : EIO;
			goto fail;
		}
		done += (size_t)n;
	}
	if (fdatasync(fd) != 0) {
		err = errno;
		goto fail;
	}
	free(img);
	close(fd);
	return 0;
fail:
	gw_durable_failed(path, "rewriting in place failed", err);
	free(img);
	close(fd);
	return gw_errno_rc(err);
}

int gw_spool_status_write(const char *dir, const char *name, const char *text)
{
	char path[GW_PATH_MAX + 64], tmp[GW_PATH_MAX + 80];
	struct stat st;
	size_t len;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	/* never smaller than now: the room stays for the next rewrite */
	uint8_t *img = status_image(text, strlen(text),
				    stat(path, &st) == 0 ? (size_t)st.st_size : 0,
				    &len);
	if (!img)
		return GW_ENOMEM;
	int rc = write_durable(tmp, path, img, len, 1);
	int err = errno;
	free(img);
	if (rc == 0)
		return 0;
	if (status_in_place(path, text, err) != 0) {
		errno = err;
		return rc;
	}
	errno = err;
	return 1;
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
