/* SPDX-License-Identifier: MIT */
/*
 * upload_spool.c - the uploader's passes over batch files: every file of
 * a spool's ready/, oldest first, each applied (or already applied) one
 * moved to done/, one that does not decode or that the database refuses
 * for good set aside in quarantine/ (the days after it must not wait for
 * it); and the files `gwctl upload` names, in the order given. The retry
 * of a pass that stopped on a database error, with its backoff, is
 * gatewayd's (daemon_upload.c).
 */
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "gw.h"
#include "spool.h"
#include "upload.h"
#include "upload_int.h"

/* Reads one batch file and uploads it. Returns 1 or 0 as gw_upload_batch,
 * or a negative code; *decode_err tells a file that could not be read or
 * decoded, which the caller logs with u->last_bad (database errors are
 * logged already). */
static int upload_file(struct gw_uploader *u, const char *path,
		       int *decode_err)
{
	struct gw_batch *b = NULL;
	uint32_t crc = 0;
	const char *why = "";
	int rc = gw_batch_read_file_ex(path, &b, &crc, &why);

	*decode_err = 0;
	u->last_bad[0] = '\0';
	if (rc < 0) {
		*decode_err = rc == GW_ECORRUPT || rc == GW_EVERSION;
		/* The words of `gwctl spool verify`, for the caller's log. */
		gw_batch_read_problem(rc, why, u->last_bad, sizeof(u->last_bad));
		return rc;
	}
	rc = gw_upload_batch(u, b, crc);
	gw_batch_free(b);
	return rc;
}

int gw_upload_spool(struct gw_uploader *u, const char *spool_dir)
{
	char path[GW_PATH_MAX];
	char **names = NULL;
	int n, moved = 0, rc = 0, decode_err;

	if (!u || !spool_dir)
		return GW_EINVAL;
	/* A spool copied off a gateway may hold only ready/. */
	rc = gw_spool_open(spool_dir);
	if (rc < 0)
		return rc;
	n = gw_spool_list(spool_dir, "ready", &names);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (gw_upload_cancelled(u)) {
			rc = GW_ECONN;
			break;
		}
		if (snprintf(path, sizeof(path), "%s/ready/%s", spool_dir,
			     names[i]) >= (int)sizeof(path)) {
			rc = GW_EINVAL;
			gw_err("upload: path too long: %s/ready/%s", spool_dir,
			       names[i]);
			break;
		}
		rc = upload_file(u, path, &decode_err);
		if (rc < 0 && decode_err) {
			/* Retrying cannot help a file that does not decode. */
			gw_warn("upload: %s: %s; moving it to quarantine/",
				names[i], u->last_bad);
			rc = gw_spool_quarantine(spool_dir, names[i]);
			if (rc < 0)
				break;
			u->undecodable++;
			continue;
		}
		if (rc == GW_EREFUSED) {
			/* Retrying cannot help either; the days after it must
			 * not wait for it. */
			gw_err("upload: %s refused by the database; moving it to "
			       "quarantine/ (the reason is in quarantine/%s.refused)",
			       names[i], names[i]);
			rc = gw_spool_refuse(spool_dir, names[i], u->last_msg);
			if (rc < 0)
				break;
			u->refused++;
			continue;
		}
		if (rc < 0) {
			if (rc != GW_EDB && rc != GW_ECONN)
				gw_err("upload: %s: %s", path, gw_strerror(rc));
			break;
		}
		rc = gw_spool_mark_done(spool_dir, names[i]);
		if (rc < 0)
			break;
		moved++;
	}
	gw_spool_list_free(names, n);
	if (rc < 0 && moved == 0)
		return rc;
	return moved;
}

uint64_t gw_uploader_take_rows(struct gw_uploader *u)
{
	uint64_t n = u ? u->rows : 0;

	if (u)
		u->rows = 0;
	return n;
}

unsigned gw_uploader_refused(const struct gw_uploader *u)
{
	return u ? u->refused : 0;
}

unsigned gw_uploader_undecodable(const struct gw_uploader *u)
{
	return u ? u->undecodable : 0;
}

/* A file in SPOOL/quarantine/ that the database once refused and has now
 * taken (or had taken): it goes to SPOOL/done/ and loses its note. */
static void unrefuse(const char *path)
{
	char dir[GW_PATH_MAX];
	const char *slash = strrchr(path, '/');
	size_t len;

	if (!slash || (size_t)(slash - path) >= sizeof(dir))
		return;
	len = (size_t)(slash - path);
	memcpy(dir, path, len);
	dir[len] = '\0';
	if (strcmp(dir, "quarantine") == 0) /* run from inside the spool */
		strcpy(dir, ".");
	else if (len >= 11 && strcmp(dir + len - 11, "/quarantine") == 0)
		dir[len - 11] = '\0';
	else
		return;
	if (gw_spool_unrefuse(dir, slash + 1) == 0)
		gw_info("upload: %s was refused before and is loaded now; moved "
			"to done/", slash + 1);
}

int gw_upload_files(struct gw_uploader *u, char *const *paths, int n)
{
	int count = 0, decode_err;

	if (!u || (n > 0 && !paths))
		return GW_EINVAL;
	for (int i = 0; i < n; i++) {
		int rc = upload_file(u, paths[i], &decode_err);

		if (rc < 0) {
			if (u->last_bad[0]) /* the file, not the database */
				gw_err("upload: %s: %s", paths[i], u->last_bad);
			else if (rc != GW_EDB && rc != GW_ECONN && rc != GW_EREFUSED)
				gw_err("upload: %s: %s", paths[i], gw_strerror(rc));
			return rc;
		}
		unrefuse(paths[i]);
		count++;
	}
	return count;
}

