/* SPDX-License-Identifier: MIT */
/*
 * gw.h - what every module of the meter gateway shares: return codes,
 * logging, limits of identifiers and a few small helpers.
 *
 * Functions return 0 (or a count) on success and a negative GW_E* code on
 * failure; gw_strerror() names the code. A library's own error (libmodbus,
 * libserialport, libpq, zlib) is translated at the boundary where it is
 * handled, and logged there once.
 */
#ifndef GW_H
#define GW_H

#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum gw_err {
	GW_OK = 0,
	GW_EINVAL = -1,     /* bad argument or value */
	GW_ENOMEM = -2,     /* out of memory */
	GW_EIO = -3,        /* read, write, fsync or rename failed (errno kept) */
	GW_ETIMEDOUT = -4,  /* a device did not answer in time */
	GW_ECRC = -5,       /* checksum (Modbus CRC, BCC, file CRC-32) wrong */
	GW_EPROTO = -6,     /* short, malformed or unexpected reply */
	GW_EEXCEPT = -7,    /* device answered with an exception */
	GW_ECONFIG = -8,    /* configuration error (already reported) */
	GW_ECORRUPT = -9,   /* a file is truncated or does not decode */
	GW_EVERSION = -10,  /* a file has a format version we cannot read */
	GW_EDB = -11,       /* the database refused or failed a request */
	GW_ENOTFOUND = -12, /* no such meter, profile, file or register */
	GW_ECONN = -13,     /* cannot connect (bus, endpoint or database) */
	GW_EFULL = -14,     /* a bound (spool size, buffer capacity) reached */
	GW_ENOTAVAIL = -15, /* the device reports "value not available" */
	GW_EREFUSED = -16,  /* the database refused the data itself (retrying
			     * the same batch cannot help) */
	GW_ENOSPC = -17,    /* no space left on the spool's file system (ENOSPC,
			     * or EDQUOT: the user's quota); errno kept */
};

/* Returns a static string naming a GW_E* code (or "success"). */
const char *gw_strerror(int err);

/* Identifier limits, including the terminating NUL. */
#define GW_ID_MAX 48    /* meter, gateway and bus ids */
#define GW_OBIS_MAX 24  /* "1-0:1.8.0*255" and shorter */
#define GW_PATH_MAX 512
#define GW_SERIAL_MAX 40 /* a meter's serial number */

/* Logging: one line per call on stderr: "UTC-time level message". */
enum gw_log_level { GW_LOG_ERROR, GW_LOG_WARN, GW_LOG_INFO, GW_LOG_DEBUG };

void gw_log_set_level(enum gw_log_level level);
/* Parses "error", "warn", "info", "debug"; returns 0 or GW_EINVAL. */
int gw_log_parse_level(const char *s, enum gw_log_level *out);
void gw_log(enum gw_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* 1 when stderr is the systemd journal ($JOURNAL_STREAM names its device
 * and inode): each line then begins with its syslog priority, "<3>" error,
 * "<4>" warn, "<6>" info, "<7>" debug, which journald takes off and keeps
 * as the line's priority (`journalctl -p warning`), and carries no time
 * (journald stamps each line itself). Otherwise lines begin with the UTC
 * time. Decided at the first line logged. */
int gw_log_to_journal(void);

#define gw_err(...) gw_log(GW_LOG_ERROR, __VA_ARGS__)
#define gw_warn(...) gw_log(GW_LOG_WARN, __VA_ARGS__)
#define gw_info(...) gw_log(GW_LOG_INFO, __VA_ARGS__)
#define gw_debug(...) gw_log(GW_LOG_DEBUG, __VA_ARGS__)

/* A failure that may repeat for hours (a database away, a full disk, a
 * socket that refuses) is logged at growing intervals: its 1st, 2nd, 4th,
 * 8th ... in a row, each such line saying how many were not logged since
 * the last one, and the end of the run once (as collectd does for its
 * plugins). One per repeating failure, zeroed to start; not thread-safe
 * (each belongs to the one thread that meets its failure). */
struct gw_logrl {
	unsigned long fails; /* failures in a row */
	unsigned long quiet; /* of them, not logged since the last logged */
};
/* Counts a failure. Returns 1 if it is to be logged, *quiet (may be NULL)
 * then set to the failures not logged since the last one that was. */
int gw_logrl_fail(struct gw_logrl *rl, unsigned long *quiet);
/* The failures in a row so far. */
unsigned long gw_logrl_count(const struct gw_logrl *rl);
/* A success: returns how many failures in a row it ends (0: none, nothing
 * to log) and starts counting again. */
unsigned long gw_logrl_ok(struct gw_logrl *rl);

/* Copies src into dst of capacity cap; returns GW_EINVAL if it did not fit
 * (dst then holds a truncated, NUL-terminated copy). */
int gw_strlcpy(char *dst, const char *src, size_t cap);

/* FNV-1a of the string s, continuing from h (GW_HASH_INIT to start): for
 * the tables that find meters, codes and names by their text. */
#define GW_HASH_INIT 2166136261u
uint32_t gw_hash_str(uint32_t h, const char *s);
/* The same of n bytes at p. */
uint32_t gw_hash_mem(uint32_t h, const void *p, size_t n);
/* One more block of size bytes at the end of *blocks (*n of them), for
 * the stores that pack small records into blocks and number them by
 * block * size + place (batch_names.c, the clock marks): at most
 * UINT32_MAX / size - 1 blocks, so that a number + 1 fits in 32 bits.
 * Returns 0 or GW_ENOMEM (*n unchanged). */
int gw_block_add(char ***blocks, size_t *n, size_t size);

/* Starts a thread running fn(arg) with every signal blocked in it, so that
 * a signal (SIGHUP, SIGTERM) is handled by the thread that installed the
 * handlers and reads their flags. Returns 0 or pthread_create's error. */
int gw_thread_start(pthread_t *thread, void *(*fn)(void *), void *arg);

/* Real (wall-clock) UTC time in microseconds since the epoch. */
int64_t gw_real_now_us(void);

/* Formats UTC milliseconds as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (>= 32). */
char *gw_format_utc(int64_t ms, char *buf, size_t cap);
/* Parses "YYYY-MM-DDTHH:MM:SS[.fff]Z" or "YYYY-MM-DD HH:MM:SS[.fff]+00"
 * style UTC times and plain "YYYY-MM-DD" (midnight UTC). Returns 0 or
 * GW_EINVAL. */
int gw_parse_utc(const char *s, int64_t *ms);

#endif
