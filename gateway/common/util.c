/* SPDX-License-Identifier: MIT */
/*
 * util.c - return codes, logging and small helpers shared by every module.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "gw.h"

const char *gw_strerror(int err)
{
	switch (err) {
	case GW_OK: return "success";
	case GW_EINVAL: return "invalid argument or value";
	case GW_ENOMEM: return "out of memory";
	case GW_EIO: return "input/output error";
	case GW_ETIMEDOUT: return "timed out";
	case GW_ECRC: return "checksum error";
	case GW_EPROTO: return "malformed or unexpected reply";
	case GW_EEXCEPT: return "device answered with an exception";
	case GW_ECONFIG: return "configuration error";
	case GW_ECORRUPT: return "corrupt or truncated file";
	case GW_EVERSION: return "unsupported format version";
	case GW_EDB: return "database error";
	case GW_ENOTFOUND: return "not found";
	case GW_ECONN: return "cannot connect";
	case GW_EFULL: return "bound reached";
	case GW_ENOTAVAIL: return "value not available";
	case GW_EREFUSED: return "refused by the database";
	case GW_ENOSPC: return "no space left on the device";
	default: return "unknown error";
	}
}

static volatile int log_level = GW_LOG_INFO;

void gw_log_set_level(enum gw_log_level level)
{
	log_level = (int)level;
}

int gw_log_parse_level(const char *s, enum gw_log_level *out)
{
	static const char *const names[] = {"error", "warn", "info", "debug"};

	for (int i = 0; i < 4; i++) {
		if (strcmp(s, names[i]) == 0) {
			*out = (enum gw_log_level)i;
			return 0;
		}
	}
	return GW_EINVAL;
}

static pthread_once_t journal_once = PTHREAD_ONCE_INIT;
static int journal_stream;

/* $JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected to
 * stdout and stderr (systemd.exec(5)); stderr is the journal only if fd 2
 * is still that file (a shell's redirection inherits the variable, not
 * the stream). */
static void journal_detect(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (!v || sscanf(v, "%llu:%llu%n", &dev, &ino, &n) != 2 || v[n] != '\0')
		return;
	if (fstat(2, &st) == 0 && (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino)
		journal_stream = 1;
}

int gw_log_to_journal(void)
{
	pthread_once(&journal_once, journal_detect);
	return journal_stream;
}

void gw_log(enum gw_log_level level, const char *fmt, ...)
{
	static const char *const tags[] = {"error", "warn", "info", "debug"};
	/* syslog priorities: LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG */
	static const char *const prio[] = {"<3>", "<4>", "<6>", "<7>"};
	char msg[1024], ts[40];
	va_list ap;

	if ((int)level > log_level)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* One fprintf per line: stdio locks the stream, so lines from bus
	 * workers do not interleave. */
	if (gw_log_to_journal()) {
		fprintf(stderr, "%s%s: %s\n", prio[level], tags[level], msg);
		return;
	}
	gw_format_utc(gw_real_now_us() / 1000, ts, sizeof(ts));
	fprintf(stderr, "%s %s: %s\n", ts, tags[level], msg);
}

int gw_logrl_fail(struct gw_logrl *rl, unsigned long *quiet)
{
	unsigned long n = ++rl->fails;

	if (n & (n - 1)) { /* not a power of two */
		rl->quiet++;
		return 0;
	}
	if (quiet)
		*quiet = rl->quiet;
	rl->quiet = 0;
	return 1;
}

unsigned long gw_logrl_count(const struct gw_logrl *rl)
{
	return rl->fails;
}

unsigned long gw_logrl_ok(struct gw_logrl *rl)
{
	unsigned long n = rl->fails;

	rl->fails = 0;
	rl->quiet = 0;
	return n;
}

uint32_t gw_hash_str(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

int gw_block_add(char ***blocks, size_t *n, size_t size)
{
	/* numbers below UINT32_MAX, + 1 in the tables' slots */
	if (*n >= UINT32_MAX / size - 1)
		return GW_ENOMEM;
	char **nb = realloc(*blocks, (*n + 1) * sizeof(*nb));
	if (!nb)
		return GW_ENOMEM;
	*blocks = nb;
	if (!(nb[*n] = malloc(size)))
		return GW_ENOMEM;
	(*n)++;
	return 0;
}

uint32_t gw_hash_mem(uint32_t h, const void *p, size_t n)
{
	for (const uint8_t *b = p; n; b++, n--)
		h = (h ^ *b) * 16777619u;
	return h;
}

int gw_strlcpy(char *dst, const char *src, size_t cap)
{
	size_t n = strlen(src);

	if (cap == 0)
		return GW_EINVAL;
	if (n >= cap) {
		memcpy(dst, src, cap - 1);
		dst[cap - 1] = '\0';
		return GW_EINVAL;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int gw_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int rc = pthread_create(thread, NULL, fn, arg); /* inherits the mask */
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

int64_t gw_real_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Floor division for negative times before 1970. */
static int64_t floordiv(int64_t a, int64_t b)
{
	int64_t q = a / b;

	if ((a % b != 0) && ((a < 0) != (b < 0)))
		q--;
	return q;
}

char *gw_format_utc(int64_t ms, char *buf, size_t cap)
{
	time_t secs = (time_t)floordiv(ms, 1000);
	int frac = (int)(ms - (int64_t)secs * 1000);
	struct tm tm;

	gmtime_r(&secs, &tm);
	snprintf(buf, cap, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
		 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
		 tm.tm_min, tm.tm_sec, frac);
	return buf;
}

int gw_parse_utc(const char *s, int64_t *ms)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, n = 0;
	long frac = 0;
	int frac_digits = 0;
	const char *p;
	struct tm tm;

	if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
		return GW_EINVAL;
	p = s + n;
	if (*p == 'T' || *p == ' ') {
		if (sscanf(p + 1, "%2d:%2d:%2d%n", &h, &mi, &sec, &n) != 3 ||
		    n != 8)
			return GW_EINVAL;
		p += 1 + n;
		if (*p == '.') {
			p++;
			while (*p >= '0' && *p <= '9') {
				if (frac_digits < 3) {
					frac = frac * 10 + (*p - '0');
					frac_digits++;
				}
				p++;
			}
			if (frac_digits == 0)
				return GW_EINVAL;
			while (frac_digits < 3) {
				frac *= 10;
				frac_digits++;
			}
		}
		if (strcmp(p, "Z") != 0 && strcmp(p, "+00") != 0 &&
		    strcmp(p, "+00:00") != 0)
			return GW_EINVAL;
	} else if (*p != '\0') {
		return GW_EINVAL;
	}
	if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
	    sec > 60 || y < 1970)
		return GW_EINVAL;
	memset(&tm, 0, sizeof(tm));
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec;
	*ms = (int64_t)timegm(&tm) * 1000 + frac;
	return 0;
}
