/* SPDX-License-Identifier: MIT */
/*
 * status_keys.h - the keys of <spool>/status and the columns of
 * <spool>/health, defined once: gatewayd writes them (daemon_status.c),
 * gwctl reads them (tools/gwctl_status.c), and a unit test checks the
 * list in docs/spool-format.md against this table.
 *
 * status is "key=value" lines; health is a TSV table with a header line
 * of the column names. A reader finds a key by its enum, never by a
 * string of its own, and gets "?" for a key the file does not have (a
 * status written by an older gatewayd).
 */
#ifndef GW_STATUS_KEYS_H
#define GW_STATUS_KEYS_H

#include <stddef.h>

#include "drops.h"

/* What a value is (the "type" column of docs/spool-format.md). */
enum gw_status_type {
	GW_ST_TEXT,    /* free text on one line */
	GW_ST_COUNT,   /* a decimal count */
	GW_ST_BYTES,   /* a decimal number of bytes */
	GW_ST_SECONDS, /* a decimal number of seconds */
	GW_ST_TIME,    /* a UTC time (YYYY-MM-DDTHH:MM:SS.mmmZ), or "-" */
	GW_ST_DAY,     /* a local day (YYYY-MM-DD), or "-" */
	GW_ST_FLAG,    /* "yes" or "no" */
	GW_ST_LIST,    /* comma-separated names, or "none" / "-" */
	GW_ST_MS,      /* a decimal number of milliseconds */
	GW_ST_US,      /* a decimal number of microseconds */
	GW_ST_TYPE_COUNT_
};

/* The status file's keys, in the order gatewayd writes them. */
enum gw_status_key {
	GW_SK_GATEWAY,
	GW_SK_UPDATED,
	GW_SK_ALARM,
	GW_SK_CONFIG_GENERATION,
	GW_SK_SPOOL_BYTES,
	GW_SK_SPOOL_MAX_BYTES,
	GW_SK_SPOOL_FULL_POLICY,
	GW_SK_ALLOW_DELETE_UNUPLOADED,
	GW_SK_READY_BATCHES,
	GW_SK_READY_BYTES,
	GW_SK_DONE_BYTES,
	GW_SK_JOURNAL_BYTES,
	GW_SK_NEXT_DAY,
	GW_SK_QUARANTINED_AT_START,
	GW_SK_JOURNAL_TORN_AT_START,
	GW_SK_JOURNAL_WRITE_FAILURES,
	GW_SK_INTERVALS_DROPPED,
	GW_SK_DELETED_UNUPLOADED,
	GW_SK_DONE_EMPTIED,
	GW_SK_REFUSED_BATCHES,
	GW_SK_UPLOAD_LAST_OK,
	GW_SK_UPLOAD_FAILURES,
	GW_SK_UPLOAD_LAST_ERROR,
	GW_SK_UPLOAD_STALLED_S,
	GW_SK_METERS_UNASSIGNED,
	GW_SK_LONG_GAPS,
	GW_SK_CLOCK,
	GW_SK_CLOCK_WITNESS,
	GW_SK_CLOCK_DETAIL,
	GW_SK_CLOCK_SEAL_TIME,
	GW_SK_CLOCK_WITHHELD,
	GW_SK_CLOCK_HOLDS,
	GW_SK_DROPPED, /* one key per reason: "dropped_" + gw_drop_reason_name */
	GW_SK_DISK_FREE_BYTES,
	GW_SK_DISK_ERROR,
	GW_SK_SEAL_FAILURES,
	GW_SK_SEAL_FAILURES_TOTAL,
	GW_SK_SEAL_NEXT_TRY_S,
	GW_SK_POLL_INTERVAL_S,
	GW_SK_POLL_LATE_TOLERANCE_MS,
	GW_SK_POLL_BUSES,
	/* per bus: one key each, "<name><bus>" (gw_status_key_per_bus) */
	GW_SK_POLL_CYCLES,
	GW_SK_POLL_LATE,
	GW_SK_POLL_OVERRUN,
	GW_SK_POLL_SKIPPED,
	GW_SK_POLL_BEHIND_IN_ROW,
	GW_SK_POLL_LAST_MS,
	GW_SK_POLL_MAX_MS,
	GW_SK_POLL_ALARM,
	GW_SK_POLL_DURATION_SUM_MS,
	GW_SK_POLL_DURATION_LE,
	/* (end of the keys per bus) */
	GW_SK_DONE_BATCHES,
	GW_SK_QUARANTINE_BATCHES,
	GW_SK_QUARANTINE_BYTES,
	GW_SK_UPLOAD_BATCHES_TOTAL,
	GW_SK_UPLOAD_ROWS_TOTAL,
	GW_SK_UPLOAD_FAILURES_TOTAL,
	GW_SK_JOURNAL_FSYNC_COUNT,
	GW_SK_JOURNAL_FSYNC_SUM_US,
	GW_SK_JOURNAL_FSYNC_MAX_US,
	GW_SK_JOURNAL_FSYNC_LE,
	GW_SK_POINTS_BYTES,
	GW_SK_POINTS_WRITTEN_BYTES,
	GW_SK_POINTS_WRITE_FAILURES,
	GW_SK_POINTS_READ_FAILURES,
	GW_SK_COUNT_ /* number of keys, not a key */
};

/* The health file's columns, in order. */
enum gw_health_col {
	GW_HC_METER_ID,
	GW_HC_BUS,
	GW_HC_STATE, /* online, failing, offline, unread */
	GW_HC_FAILED_IN_A_ROW,
	GW_HC_CYCLES,
	GW_HC_OK,
	GW_HC_FAILED,
	GW_HC_SKIPPED,
	GW_HC_TIMEOUTS,
	GW_HC_CRC_ERRORS,
	GW_HC_EXCEPTIONS,
	GW_HC_MALFORMED,
	GW_HC_LAST_ERROR,
	GW_HC_STALE_REPLIES,
	GW_HC_BAD_VALUES,
	GW_HC_LAST_OK,
	GW_HC_COUNT_ /* number of columns, not a column */
};

struct gw_status_key_def {
	const char *name; /* GW_SK_DROPPED: the prefix "dropped_"; a key
			   * per bus: the prefix "poll_cycles." ... */
	enum gw_status_type type;
	const char *meaning;
};

/* The tables, indexed by the enums above. */
extern const struct gw_status_key_def gw_status_keys[GW_SK_COUNT_];
extern const struct gw_status_key_def gw_health_cols[GW_HC_COUNT_];

/* "text", "count", ... (the docs' names of the types). */
const char *gw_status_type_name(enum gw_status_type t);

/* A status text being built: buf of capacity cap (borrowed), len used. */
struct gw_status_text {
	char *buf;
	size_t cap, len;
};
/* Appends "key=value\n" (value printf-formatted); a text that is full
 * stays as it is (len < cap always). */
void gw_status_put(struct gw_status_text *t, enum gw_status_key k,
		   const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Appends "dropped_<reason>=n\n". */
void gw_status_put_drop(struct gw_status_text *t, enum gw_drop_reason r,
			unsigned long long n);

/* The value of key k in a status text, copied into buf (cap), or "?" if
 * the text has no such key. Returns buf or the static "?". */
const char *gw_status_get(const char *text, enum gw_status_key k, char *buf,
			  size_t cap);
/* The same for "dropped_<reason>". */
const char *gw_status_get_drop(const char *text, enum gw_drop_reason r,
			       char *buf, size_t cap);

/* Where the value of key k (followed by sfx: a bus's name for a key per
 * bus, a reason for GW_SK_DROPPED, else "") is in text: a pointer into
 * text (borrowed) and *len its length up to the end of the line, or NULL
 * if text has no such key. Copies nothing. */
const char *gw_status_value(const char *text, enum gw_status_key k,
			    const char *sfx, size_t *len);

/* 1 if k is a key per bus ("poll_cycles." followed by the bus's name),
 * written and read by the two functions below, else 0. */
int gw_status_key_per_bus(enum gw_status_key k);
/* Appends "<key><bus>=value\n" for a key per bus k. */
void gw_status_put_bus(struct gw_status_text *t, enum gw_status_key k,
		       const char *bus, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The value of "<key><bus>" into buf, or "?" (as gw_status_get). */
const char *gw_status_get_bus(const char *text, enum gw_status_key k,
			      const char *bus, char *buf, size_t cap);

/* Writes the health file's header line (the column names, tab-separated,
 * with a newline) into buf; returns its length (as snprintf). */
int gw_health_header(char *buf, size_t cap);

#endif
