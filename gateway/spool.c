/* SPDX-License-Identifier: MIT */
/*
 * spool.c - the spool directory: batch files written into ready/, listed
 * oldest first, moved to done/ or quarantine/, recovered at start, and
 * the state, lock and revision numbers kept beside them; see spool.h and
 * docs/spool-format.md.
 *
 * The format of a batch file is batchfile_read.c and batchfile_write.c;
 * the durable writes are durable.c; the size bound is spool_bound.c.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "spool.h"
#include "tz.h"

int gw_batch_filename(const struct gw_batch *b, char *buf, size_t cap)
{
	char day[16];
	int n = snprintf(buf, cap, "%s_%s_r%u.gwb", b->gateway_id,
			 gw_day_format(b->day, day, sizeof(day)), b->revision);

	return n < 0 || (size_t)n >= cap ? GW_EINVAL : 0;
}

/* ---- spool directory ---- */

static const char *const subdirs[] = {"ready", "done", "quarantine", "tmp"};

int gw_spool_open(const char *dir)
{
	char path[GW_PATH_MAX];

	if (mkdir(dir, 0750) != 0 && errno != EEXIST) {
		gw_err("spool %s: cannot create: %s", dir, strerror(errno));
		return GW_EIO;
	}
	for (size_t i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, subdirs[i]);
		if (mkdir(path, 0750) != 0 && errno != EEXIST) {
			gw_err("spool %s: cannot create: %s", path, strerror(errno));
			return GW_EIO;
		}
	}
	return gw_fsync_dir(dir);
}

int gw_spool_write(const char *dir, const struct gw_batch *b)
{
	char name[GW_PATH_MAX], tmp[GW_PATH_MAX * 2], dst[GW_PATH_MAX * 2];
	uint8_t *buf;
	size_t len;
	int rc;

	if (gw_batch_filename(b, name, sizeof(name)))
		return GW_EINVAL;
	rc = gw_batch_encode(b, &buf, &len);
	if (rc)
		return rc;
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s", dir, name);
	snprintf(dst, sizeof(dst), "%s/ready/%s", dir, name);
	rc = gw_write_file_durable(tmp, dst, buf, len);
	free(buf);
	return rc;
}

/* Splits "<gw>_<YYYY-MM-DD>_r<rev>.gwb" into day and revision. */
static int parse_name(const char *name, int32_t *day, unsigned long *rev)
{
	size_t n = strlen(name);
	char daybuf[11];

	if (n < 4 || strcmp(name + n - 4, ".gwb") != 0)
		return -1;
	const char *r = NULL;
	for (const char *p = name; (p = strstr(p, "_r")) != NULL; p++)
		r = p;
	if (!r || r - name < 11 || r[-11] != '_')
		return -1;
	char *end;
	*rev = strtoul(r + 2, &end, 10);
	if (end != name + n - 4)
		return -1;
	memcpy(daybuf, r - 10, 10);
	daybuf[10] = '\0';
	return gw_day_parse(daybuf, day) == 0 ? 0 : -1;
}

static int cmp_names(const void *a, const void *b)
{
	const char *x = *(const char *const *)a, *y = *(const char *const *)b;
	int32_t dx = 0, dy = 0;
	unsigned long rx = 0, ry = 0;
	int px = parse_name(x, &dx, &rx), py = parse_name(y, &dy, &ry);

	if (px == 0 && py == 0) {
		if (dx != dy)
			return dx < dy ? -1 : 1;
		if (rx != ry)
			return rx < ry ? -1 : 1;
	}
	return strcmp(x, y);
}

int gw_spool_list(const char *dir, const char *sub, char ***names)
{
	char path[GW_PATH_MAX];
	DIR *d;
	struct dirent *e;
	char **v = NULL;
	int n = 0, cap = 0;

	*names = NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, sub ? sub : "ready");
	d = opendir(path);
	if (!d) {
		gw_err("%s: cannot list: %s", path, strerror(errno));
		return GW_EIO;
	}
	while ((e = readdir(d)) != NULL) {
		size_t len = strlen(e->d_name);
		if (len < 5 || strcmp(e->d_name + len - 4, ".gwb") != 0)
			continue;
		if (n == cap) {
			cap = cap ? cap * 2 : 32;
			char **nv = realloc(v, (size_t)cap * sizeof(*nv));
			if (!nv)
				goto oom;
			v = nv;
		}
		v[n] = strdup(e->d_name);
		if (!v[n])
			goto oom;
		n++;
	}
	closedir(d);
	if (n > 1)
		qsort(v, (size_t)n, sizeof(*v), cmp_names);
	*names = v;
	return n;
oom:
	closedir(d);
	gw_spool_list_free(v, n);
	return GW_ENOMEM;
}

void gw_spool_list_free(char **names, int n)
{
	if (!names)
		return;
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int move_to(const char *dir, const char *name, const char *sub)
{
	char from[GW_PATH_MAX * 2], to[GW_PATH_MAX * 2], todir[GW_PATH_MAX * 2];

	snprintf(from, sizeof(from), "%s/ready/%s", dir, name);
	snprintf(to, sizeof(to), "%s/%s/%s", dir, sub, name);
	snprintf(todir, sizeof(todir), "%s/%s", dir, sub);
	if (rename(from, to) != 0) {
		gw_err("%s: cannot move to %s: %s", from, todir, strerror(errno));
		return GW_EIO;
	}
	int rc = gw_fsync_dir(todir);
	if (rc == 0) {
		snprintf(todir, sizeof(todir), "%s/ready", dir);
		rc = gw_fsync_dir(todir);
	}
	return rc;
}

int gw_spool_mark_done(const char *dir, const char *name)
{
	return move_to(dir, name, "done");
}

int gw_spool_quarantine(const char *dir, const char *name)
{
	return move_to(dir, name, "quarantine");
}

int gw_spool_refuse(const char *dir, const char *name, const char *why)
{
	char path[GW_PATH_MAX * 2], tmp[GW_PATH_MAX * 2], text[1100];
	int n;

	snprintf(path, sizeof(path), "%s/quarantine/%s.refused", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/tmp/%s.refused", dir, name);
	/* One line: the message with its line breaks made spaces. */
	n = snprintf(text, sizeof(text) - 1, "%s", why ? why : "");
	if (n < 0)
		n = 0;
	if ((size_t)n > sizeof(text) - 2)
		n = (int)sizeof(text) - 2;
	for (int i = 0; i < n; i++)
		if (text[i] == '\n' || text[i] == '\r' || text[i] == '\t')
			text[i] = ' ';
	text[n++] = '\n';
	int rc = gw_write_file_durable(tmp, path, (const uint8_t *)text, (size_t)n);
	if (rc)
		return rc;
	return move_to(dir, name, "quarantine");
}

int gw_spool_unrefuse(const char *dir, const char *name)
{
	char from[GW_PATH_MAX * 2], to[GW_PATH_MAX * 2], note[GW_PATH_MAX * 2];

	snprintf(note, sizeof(note), "%s/quarantine/%s.refused", dir, name);
	if (access(note, F_OK) != 0)
		return GW_ENOTFOUND;
	snprintf(from, sizeof(from), "%s/quarantine/%s", dir, name);
	snprintf(to, sizeof(to), "%s/done/%s", dir, name);
	if (rename(from, to) != 0) {
		gw_err("%s: cannot move to done/: %s", from, strerror(errno));
		return GW_EIO;
	}
	if (unlink(note) != 0 && errno != ENOENT) {
		gw_err("%s: cannot remove: %s", note, strerror(errno));
		return GW_EIO;
	}
	snprintf(to, sizeof(to), "%s/done", dir);
	int rc = gw_fsync_dir(to);
	if (rc == 0) {
		snprintf(to, sizeof(to), "%s/quarantine", dir);
		rc = gw_fsync_dir(to);
	}
	return rc;
}

int gw_spool_refused_reason(const char *dir, const char *name, char *buf,
			    size_t cap)
{
	char path[GW_PATH_MAX * 2];
	FILE *f;

	snprintf(path, sizeof(path), "%s/quarantine/%s.refused", dir, name);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (cap > 0) {
		if (!fgets(buf, (int)cap, f))
			buf[0] = '\0';
		buf[strcspn(buf, "\n")] = '\0';
	}
	fclose(f);
	return 1;
}

int gw_spool_next_revision(const char *dir, const char *gateway_id, int32_t day)
{
	char prefix[GW_ID_MAX + 16], daybuf[16];
	int next = 0;

	snprintf(prefix, sizeof(prefix), "%s_%s_r", gateway_id,
		 gw_day_format(day, daybuf, sizeof(daybuf)));
	for (size_t s = 0; s < 3; s++) {
		char **names;
		int n = gw_spool_list(dir, subdirs[s], &names);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			int32_t d;
			unsigned long rev;
			if (strncmp(names[i], prefix, strlen(prefix)) == 0 &&
			    parse_name(names[i], &d, &rev) == 0 && d == day &&
			    (int)rev >= next)
				next = (int)rev + 1;
		}
		gw_spool_list_free(names, n);
	}
	return next;
}

/* ---- recovery at start ---- */

int gw_spool_recover(const char *dir, struct gw_spool_recovery *rec)
{
	char path[GW_PATH_MAX * 2];
	DIR *d;
	struct dirent *e;

	memset(rec, 0, sizeof(*rec));
	/* tmp/ holds only files that were never renamed into place: a write
	 * interrupted by the crash. Their day is still open (or in the
	 * journal), so they are simply removed. */
	snprintf(path, sizeof(path), "%s/tmp", dir);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)) != NULL) {
			if (e->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/tmp/%s", dir, e->d_name);
			if (unlink(path) == 0)
				rec->tmp_removed++;
		}
		closedir(d);
		snprintf(path, sizeof(path), "%s/tmp", dir);
		if (rec->tmp_removed && gw_fsync_dir(path))
			return GW_EIO;
	}
	char **names;
	int n = gw_spool_list(dir, "ready", &names);
	if (n < 0)
		return n;
	int rc = 0;
	for (int i = 0; i < n && rc == 0; i++) {
		struct gw_batch *b;
		const char *why;
		snprintf(path, sizeof(path), "%s/ready/%s", dir, names[i]);
		int r = gw_batch_read_file_ex(path, &b, NULL, &why);
		if (r == 0) {
			gw_batch_free(b);
			rec->ready_ok++;
		} else if (r == GW_ECORRUPT || r == GW_EVERSION) {
			gw_err("spool: ready/%s: %s (%s); moved to quarantine/",
			       names[i], gw_strerror(r), why);
			rc = gw_spool_quarantine(dir, names[i]);
			rec->quarantined++;
		} else if (r == GW_ENOMEM) {
			rc = r;
		} else {
			gw_err("spool: ready/%s: %s", names[i], gw_strerror(r));
		}
	}
	gw_spool_list_free(names, n);
	return rc;
}

/* ---- which days are sealed, and what the clock read ---- */

/* <dir>/state: "key=value" lines; unknown keys are skipped, so that a
 * later version may add some. A gateway of the version before "seen"
 * wrote the first line only. */
int gw_spool_state_read(const char *dir, struct gw_spool_state *st)
{
	char path[GW_PATH_MAX + 16], line[128];
	int ln = 0, bad = 0;

	st->next_day = INT32_MIN;
	st->seen_ms = 0;
	snprintf(path, sizeof(path), "%s/state", dir);
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? GW_ENOTFOUND : GW_EIO;
	while (fgets(line, sizeof(line), f)) {
		ln++;
		line[strcspn(line, "\r\n")] = '\0';
		int32_t d;
		int64_t ms;
		if (strncmp(line, "next_day=", 9) == 0) {
			if (gw_day_parse(line + 9, &d) == 0 && strlen(line + 9) == 10)
				st->next_day = d;
			else if (!bad)
				bad = ln;
		} else if (strncmp(line, "seen=", 5) == 0) {
			if (gw_parse_utc(line + 5, &ms) == 0 && ms > 0)
				st->seen_ms = ms;
			else if (!bad)
				bad = ln;
		} else if (line[0] && !strchr(line, '=') && !bad) {
			bad = ln;
		}
	}
	fclose(f);
	if (bad) {
		gw_warn("%s:%d: not understood", path, bad);
		return GW_ECORRUPT;
	}
	return 0;
}

int gw_spool_state_save(const char *dir, const struct gw_spool_state *st)
{
	char path[GW_PATH_MAX + 16], tmp[GW_PATH_MAX + 32], day[16], t[40];
	char text[128];
	int n = 0;

	if (st->next_day != INT32_MIN)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "next_day=%s\n",
			      gw_day_format(st->next_day, day, sizeof(day)));
	if (st->seen_ms > 0)
		n += snprintf(text + n, sizeof(text) - (size_t)n, "seen=%s\n",
			      gw_format_utc(st->seen_ms, t, sizeof(t)));
	snprintf(path, sizeof(path), "%s/state", dir);
	snprintf(tmp, sizeof(tmp), "%s/tmp/state", dir);
	return gw_write_file_durable(tmp, path, (const uint8_t *)text, (size_t)n);
}

int gw_spool_state_write(const char *dir, int32_t next_day)
{
	struct gw_spool_state st;

	if (gw_spool_state_read(dir, &st) == GW_EIO)
		return GW_EIO;
	st.next_day = next_day;
	return gw_spool_state_save(dir, &st);
}

int gw_spool_next_day(const char *dir, const char *gateway_id, int32_t *next_day)
{
	char prefix[GW_ID_MAX + 2];
	struct gw_spool_state st;
	int32_t best = INT32_MIN;

	int r = gw_spool_state_read(dir, &st);
	if (r == 0)
		best = st.next_day;
	else if (r == GW_ECORRUPT)
		gw_warn("spool %s/state: using the batch files", dir);
	else if (r == GW_EIO)
		return r;
	/* A batch in ready/ or done/ proves its day sealed even if the state
	 * file was not rewritten before a crash. */
	snprintf(prefix, sizeof(prefix), "%s_", gateway_id);
	for (int s = 0; s < 2; s++) {
		char **names;
		int n = gw_spool_list(dir, s ? "done" : "ready", &names);
		if (n < 0)
			return n;
		for (int i = 0; i < n; i++) {
			int32_t d;
			unsigned long rev;
			size_t pl = strlen(prefix);
			if (strncmp(names[i], prefix, pl) == 0 &&
			    strlen(names[i]) > pl + 12 &&
			    strncmp(names[i] + pl + 10, "_r", 2) == 0 &&
			    parse_name(names[i], &d, &rev) == 0 && d + 1 > best)
				best = d + 1;
		}
		gw_spool_list_free(names, n);
	}
	*next_day = best;
	return 0;
}

int gw_spool_lock(const char *dir, int *fd, long *holder)
{
	char path[GW_PATH_MAX + 16], text[32];

	*fd = -1;
	if (holder)
		*holder = 0;
	snprintf(path, sizeof(path), "%s/lock", dir);
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
	if (f < 0) {
		gw_err("%s: cannot open: %s", path, strerror(errno));
		return GW_EIO;
	}
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int busy = errno == EWOULDBLOCK;
		if (busy && holder) {
			ssize_t n = pread(f, text, sizeof(text) - 1, 0);
			text[n > 0 ? n : 0] = '\0';
			*holder = strtol(text, NULL, 10);
		}
		if (!busy)
			gw_err("%s: cannot lock: %s", path, strerror(errno));
		close(f);
		return busy ? 1 : GW_EIO;
	}
	/* Who holds it, for the message of whoever finds it taken; not
	 * needed for the lock itself, so a failure here is not one. */
	int n = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
	if (ftruncate(f, 0) != 0 || pwrite(f, text, (size_t)n, 0) != n)
		gw_debug("%s: cannot record the pid", path);
	*fd = f;
	return 0;
}

