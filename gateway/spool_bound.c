/* SPDX-License-Identifier: MIT */
/*
 * spool_bound.c - the spool's size bound and a full disk: what the spool
 * takes per folder, and what is given up first when it must shrink
 * (uploaded batches, then interval series, then, only if allowed, whole
 * batches not yet uploaded); see spool.h.
 *
 * The journal, quarantine/ and tmp/ count towards the bound but none of
 * the steps can free them. When they alone are over it, giving up sealed
 * data cannot bring the spool under the bound: the interval readings and
 * the batches not yet uploaded are then kept (the alarm says the spool is
 * full, the log says what fills it), instead of being lost for nothing.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "durable.h"
#include "spool.h"

uint64_t gw_spool_dir_bytes(const char *dir, const char *sub, unsigned *count,
			  unsigned *refused)
{
	char path[GW_PATH_MAX * 2], f[GW_PATH_MAX * 3];
	uint64_t total = 0;
	struct dirent *e;
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	DIR *d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(f, sizeof(f), "%s/%s", path, e->d_name);
		if (stat(f, &st) == 0 && S_ISREG(st.st_mode)) {
			size_t len = strlen(e->d_name);

			total += (uint64_t)st.st_size;
			if (len > 8 && strcmp(e->d_name + len - 8, ".refused") == 0) {
				if (refused)
					(*refused)++;
			} else if (count) {
				(*count)++;
			}
		}
	}
	closedir(d);
	return total;
}

int gw_spool_usage(const char *dir, struct gw_spool_usage *u)
{
	memset(u, 0, sizeof(*u));
	u->ready = gw_spool_dir_bytes(dir, "ready", &u->n_ready, NULL);
	u->done = gw_spool_dir_bytes(dir, "done", &u->n_done, NULL);
	u->quarantine = gw_spool_dir_bytes(dir, "quarantine", &u->n_quarantine,
				  &u->n_refused);
	u->journal = gw_spool_dir_bytes(dir, "journal", NULL, NULL);
	u->tmp = gw_spool_dir_bytes(dir, "tmp", NULL, NULL);
	u->total = u->ready + u->done + u->quarantine + u->journal + u->tmp;
	u->points = gw_spool_dir_bytes(dir, "points", NULL, NULL);
	return 0;
}

static uint64_t file_bytes(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Rewrites ready/<name> without its interval series, atomically: the new
 * file is written durably to tmp/ and exchanged with the old one, so that
 * an upload that moved the old one to done/ meanwhile is not undone (the
 * exchange then fails and the new file is dropped). Returns bytes freed
 * (>= 0), or a negative GW_E* code. */
static int64_t drop_intervals(const char *dir, const char *name)
{
	char src[GW_PATH_MAX * 2], tmp[GW_PATH_MAX * 2], rdir[GW_PATH_MAX + 8];
	struct gw_batch *b;
	const char *why;
	uint8_t *buf;
	size_t len;

	snprintf(src, sizeof(src), "%s/ready/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	snprintf(rdir, sizeof(rdir), "%s/ready", dir);
	int rc = gw_batch_read_file_ex(src, &b, NULL, &why);
	if (rc)
		return rc == GW_ENOTFOUND ? 0 : rc;
	if (b->n_series == 0) {
		gw_batch_free(b);
		return 0;
	}
	uint64_t before = file_bytes(src);
	for (size_t i = 0; i < b->n_series; i++) {
		free(b->series[i].ts_ms);
		free(b->series[i].value);
	}
	b->n_series = 0;
	rc = gw_batch_encode(b, &buf, &len);
	gw_batch_free(b);
	if (rc)
		return rc;
	/* write + fsync to tmp/, then exchange: never a moment without a
	 * complete file under ready/<name> */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640);
	if (fd < 0) {
		free(buf);
		return GW_EIO;
	}
	int wrc = gw_write_all(fd, buf, len);
	free(buf);
	if (wrc != 0 || fsync(fd) != 0) {
		gw_durable_failed(tmp, "write or fsync failed", errno);
		close(fd);
		unlink(tmp);
		return GW_EIO;
	}
	close(fd);
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, src, RENAME_EXCHANGE) != 0) {
		int err = errno;
		unlink(tmp);
		if (err == ENOENT)
			return 0; /* uploaded meanwhile */
		gw_err("spool: cannot replace %s: %s", src, strerror(err));
		return GW_EIO;
	}
	/* tmp now holds the old file */
	unlink(tmp);
	if (gw_fsync_dir(rdir))
		return GW_EIO;
	uint64_t after = file_bytes(src);
	return before > after ? (int64_t)(before - after) : 0;
}

/* Empties the file at path (truncate + fsync; no free block needed).
 * Returns 0 or GW_EIO, logged. */
static int empty_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	if (fd < 0 || fsync(fd) != 0) {
		gw_err("spool: cannot empty %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return GW_EIO;
	}
	close(fd);
	return 0;
}

/* One enforcement of the bound, step by step. */
struct bound_run {
	const char *dir;
	const struct gw_spool_bound *bnd;
	uint64_t target; /* bytes to come down to */
	uint64_t total;  /* bytes now, as counted down by the steps */
	struct gw_spool_enforce *res;
	int unlisted;    /* a step could not list its folder: stop at once */
};

/* Lists dir/sub for a step; sets run->unlisted if that fails. */
static int bound_list(struct bound_run *run, const char *sub, char ***names)
{
	int n = gw_spool_list(run->dir, sub, names);

	if (n < 0)
		run->unlisted = 1;
	return n;
}

/* Step 1 of the bound: uploaded batches; their content is in the
 * database. The file is emptied, not removed, so that its name keeps the
 * revision numbers of that day unique. Returns 0 or a GW_E* code. */
static int bound_done(struct bound_run *run)
{
	char path[GW_PATH_MAX * 2], **names;
	const char *dir = run->dir;
	struct gw_spool_enforce *res = run->res;
	int rc = 0;

	int n = bound_list(run, "done", &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n && run->total > run->target; i++) {
		snprintf(path, sizeof(path), "%s/done/%s", dir, names[i]);
		uint64_t sz = file_bytes(path);
		if (sz == 0)
			continue;
		if ((rc = empty_file(path)) != 0)
			break;
		run->total -= sz;
		res->done_pruned++;
	}
	gw_spool_list_free(names, n);
	if (res->done_pruned)
		gw_info("spool: over its bound; emptied %u uploaded batch%s in done/",
			res->done_pruned, res->done_pruned == 1 ? "" : "es");
	return rc;
}

/* Step 2: the interval detail of the oldest batches not yet uploaded goes
 * before their daily totals (what customers are billed from). */
static int bound_intervals(struct bound_run *run)
{
	char **names;
	const char *dir = run->dir;
	int rc = 0;

	int n = bound_list(run, "ready", &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n && run->total > run->target; i++) {
		int64_t freed = drop_intervals(dir, names[i]);
		if (freed < 0) {
			rc = (int)freed;
			break;
		}
		if (freed > 0) {
			gw_err("spool: over its bound of %llu bytes; dropped the "
			       "interval readings of %s (daily totals kept)",
			       (unsigned long long)run->bnd->max_bytes, names[i]);
			run->total -= (uint64_t)freed > run->total ? run->total
								   : (uint64_t)freed;
			run->res->intervals_dropped++;
		}
	}
	gw_spool_list_free(names, n);
	return rc;
}

/* Step 3: whole batches not yet uploaded; only if the operator allowed
 * it. */
static int bound_delete(struct bound_run *run)
{
	char path[GW_PATH_MAX * 2], **names;
	const char *dir = run->dir;
	struct gw_spool_enforce *res = run->res;

	int n = bound_list(run, "ready", &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n && run->total > run->target; i++) {
		snprintf(path, sizeof(path), "%s/ready/%s", dir, names[i]);
		uint64_t sz = file_bytes(path);
		if (unlink(path) != 0)
			continue;
		gw_err("spool: over its bound; DELETED %s before upload "
		       "(allow_delete_unuploaded = yes)", names[i]);
		run->total -= sz > run->total ? run->total : sz;
		res->deleted_unuploaded++;
	}
	gw_spool_list_free(names, n);
	snprintf(path, sizeof(path), "%s/ready", dir);
	if (res->deleted_unuploaded && gw_fsync_dir(path))
		return GW_EIO;
	return 0;
}

/* A spool that stays over its bound (the database away for a week) is
 * checked every minute: said at growing intervals (gw_logrl), its end
 * once. One gateway per spool and process; the main thread enforces. */
static struct gw_logrl over_rl, futile_rl;

int gw_spool_enforce(const char *dir, const struct gw_spool_bound *bnd,
		     struct gw_spool_enforce *res)
{
	struct gw_spool_usage u;
	int rc;

	memset(res, 0, sizeof(*res));
	gw_spool_usage(dir, &u);
	res->before = res->after = u.total;
	if (bnd->max_bytes == 0 || u.total <= bnd->max_bytes)
		return 0;
	/* Once over the bound, free down to 90% of it, so that the next
	 * sealed day does not start the same work again. */
	struct bound_run run = {.dir = dir, .bnd = bnd, .res = res, .total = u.total,
				.target = bnd->max_bytes - bnd->max_bytes / 10};

	rc = bound_done(&run);
	uint64_t fixed = u.journal + u.quarantine + u.tmp;
	int futile = fixed >= bnd->max_bytes;
	unsigned long quiet = 0;
	if (!(rc == 0 && run.total > bnd->max_bytes && futile))
		gw_logrl_ok(&futile_rl);
	else if (gw_logrl_fail(&futile_rl, &quiet))
		gw_err("spool: journal/ (%llu bytes), quarantine/ and tmp/ (%llu "
		       "bytes) alone are over the bound of %llu bytes: no sealed "
		       "data is dropped for them (raise spool_max, shorten "
		       "revision_window, or clear quarantine/); %lu checks in a "
		       "row, %lu not logged since the last",
		       (unsigned long long)u.journal,
		       (unsigned long long)(u.quarantine + u.tmp),
		       (unsigned long long)bnd->max_bytes,
		       gw_logrl_count(&futile_rl), quiet);
	if (rc == 0 && run.total > bnd->max_bytes && !futile &&
	    bnd->policy == GW_SPOOL_DROP_INTERVALS)
		rc = bound_intervals(&run);
	if (rc == 0 && run.total > bnd->max_bytes && !futile &&
	    bnd->allow_delete_unuploaded)
		rc = bound_delete(&run);
	if (run.unlisted)
		return rc;
	gw_spool_usage(dir, &u);
	res->after = u.total;
	res->over = u.total > bnd->max_bytes;
	if (!res->over && gw_logrl_ok(&over_rl))
		gw_info("spool: within its bound again (%llu bytes)",
			(unsigned long long)u.total);
	if (res->over && gw_logrl_fail(&over_rl, &quiet))
		gw_err("spool: FULL: %llu bytes, bound %llu; nothing more may be "
		       "dropped by policy; sealed days are kept (%lu checks in a "
		       "row, %lu not logged since the last)",
		       (unsigned long long)u.total, (unsigned long long)bnd->max_bytes,
		       gw_logrl_count(&over_rl), quiet);
	return rc;
}

uint64_t gw_spool_disk_free(const char *dir)
{
	struct statvfs vs;

	if (statvfs(dir, &vs) != 0)
		return UINT64_MAX;
	return (uint64_t)vs.f_bavail * vs.f_frsize;
}

int gw_spool_free_done(const char *dir, uint64_t want_free, unsigned *emptied)
{
	char path[GW_PATH_MAX * 2], **names;
	int rc = 0;

	*emptied = 0;
	int n = gw_spool_list(dir, "done", &names);
	if (n < 0)
		return n;
	/* Oldest first, as the size bound does; the empty file keeps the
	 * name, so later revisions of its day stay numbered above it.
	 * Truncating needs no free block. */
	for (int i = 0; i < n && gw_spool_disk_free(dir) < want_free; i++) {
		struct stat st;
		snprintf(path, sizeof(path), "%s/done/%s", dir, names[i]);
		if (stat(path, &st) != 0 || st.st_size == 0)
			continue;
		if ((rc = empty_file(path)) != 0)
			break;
		(*emptied)++;
	}
	gw_spool_list_free(names, n);
	if (*emptied)
		gw_warn("spool: the disk is full; emptied %u uploaded batch%s in "
			"done/ (their data is in the database)", *emptied,
			*emptied == 1 ? "" : "es");
	return rc;
}
