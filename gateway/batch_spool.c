/* SPDX-License-Identifier: MIT */
/*
 * batch_spool.c - a sealed day streamed into the spool: the batch file is
 * encoded straight into <spool>/tmp/<name> as gw_batch_encode_src hands
 * it out, its header written over the placeholder at the end, then fsync,
 * rename into ready/ and fsync of the directory, as gw_spool_write does
 * for a batch in memory (and with the same errors: a failure removes the
 * file from tmp/ and leaves errno set to its cause).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "batchfile.h"
#include "durable.h"
#include "spool.h"

struct fd_sink {
	int fd;
	int err; /* errno of the first failed write */
};

static int fd_put(void *ctx, const uint8_t *p, size_t n)
{
	struct fd_sink *s = ctx;

	if (gw_write_all(s->fd, p, n) != 0) {
		s->err = errno ? errno : EIO;
		return gw_errno_rc(s->err);
	}
	return 0;
}

/* Writes the file into tmp (open fd): the image, then its header. */
static int stream_into(int fd, struct gw_batch_src *src, const char *tmp)
{
	struct fd_sink s = {fd, 0};
	uint8_t hdr[GW_BATCH_HDR_MAX];
	size_t hlen;
	int rc = gw_batch_encode_src(src, fd_put, &s, hdr, &hlen);

	if (rc == 0 && pwrite(fd, hdr, hlen, 0) != (ssize_t)hlen) {
		s.err = errno ? errno : EIO;
		rc = gw_errno_rc(s.err);
	}
	if (rc && s.err) {
		gw_durable_failed(tmp, "write failed", s.err);
		errno = s.err;
	} else if (rc) {
		errno = 0;
	}
	return rc;
}

int gw_spool_write_src(const char *dir, struct gw_batch_src *src)
{
	char name[GW_PATH_MAX], tmp[GW_PATH_MAX * 2], dst[GW_PATH_MAX * 2];
	char ready[GW_PATH_MAX + 8];
	int err;

	if (gw_batch_filename(src->batch, name, sizeof(name)))
		return GW_EINVAL;
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	snprintf(dst, sizeof(dst), "%s/ready/%s", dir, name);
	snprintf(ready, sizeof(ready), "%s/ready", dir);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		err = errno;
		gw_durable_failed(tmp, "cannot create", err);
		errno = err;
		return gw_errno_rc(err);
	}
	int rc = stream_into(fd, src, tmp);
	err = errno;
	/* A failed fsync means the data may not be on disk: the file is
	 * abandoned, never renamed into place as if it were. */
	if (rc == 0 && fsync(fd) != 0) {
		err = errno;
		gw_durable_failed(tmp, "fsync failed", err);
		rc = gw_errno_rc(err);
	}
	if (close(fd) != 0 && rc == 0) {
		err = errno;
		gw_durable_failed(tmp, "close failed", err);
		rc = gw_errno_rc(err);
	}
	if (rc == 0 && rename(tmp, dst) != 0) {
		err = errno;
		gw_durable_failed(dst, "rename into place failed", err);
		rc = gw_errno_rc(err);
	}
	if (rc == 0 && (rc = gw_fsync_dir(ready)) == 0)
		gw_durable_done();
	if (rc == 0)
		return 0;
	/* Nothing is left in tmp/: a full disk must not fill up with the
	 * halves of files that could not be written. */
	unlink(tmp);
	errno = err;
	return rc;
}
