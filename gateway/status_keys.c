/* SPDX-License-Identifier: MIT */
/*
 * status_keys.c - the table of <spool>/status keys and <spool>/health
 * columns, with the writer's and the reader's functions; see
 * status_keys.h. docs/spool-format.md lists the same keys with the same
 * types (tests/unit/test_status_keys.c compares them).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status_keys.h"

const struct gw_status_key_def gw_status_keys[GW_SK_COUNT_] = {
	[GW_SK_GATEWAY] = {"gateway", GW_ST_TEXT, "the gateway's id"},
	[GW_SK_UPDATED] = {"updated", GW_ST_TIME, "gateway time the file was written"},
	[GW_SK_ALARM] = {"alarm", GW_ST_LIST, "alarms raised now, or none"},
	[GW_SK_CONFIG_GENERATION] = {"config_generation", GW_ST_COUNT,
		"the running configuration: 1 at start, one more per SIGHUP applied"},
	[GW_SK_SPOOL_BYTES] = {"spool_bytes", GW_ST_BYTES,
		"bytes under the spool that spool_max bounds (all but points/)"},
	[GW_SK_SPOOL_MAX_BYTES] = {"spool_max_bytes", GW_ST_BYTES, "the size bound, 0 none"},
	[GW_SK_SPOOL_FULL_POLICY] = {"spool_full_policy", GW_ST_TEXT,
		"keep or drop-intervals"},
	[GW_SK_ALLOW_DELETE_UNUPLOADED] = {"allow_delete_unuploaded", GW_ST_FLAG,
		"whether the bound may delete batches not uploaded"},
	[GW_SK_READY_BATCHES] = {"ready_batches", GW_ST_COUNT, "batches waiting for upload"},
	[GW_SK_READY_BYTES] = {"ready_bytes", GW_ST_BYTES, "their bytes"},
	[GW_SK_DONE_BYTES] = {"done_bytes", GW_ST_BYTES, "bytes of uploaded batches"},
	[GW_SK_JOURNAL_BYTES] = {"journal_bytes", GW_ST_BYTES, "bytes of the journal"},
	[GW_SK_NEXT_DAY] = {"next_day", GW_ST_DAY, "the oldest open day"},
	[GW_SK_QUARANTINED_AT_START] = {"quarantined_at_start", GW_ST_COUNT,
		"files set aside at start"},
	[GW_SK_JOURNAL_TORN_AT_START] = {"journal_torn_at_start", GW_ST_COUNT,
		"journal segments with a torn tail at start"},
	[GW_SK_JOURNAL_WRITE_FAILURES] = {"journal_write_failures", GW_ST_COUNT,
		"journal appends failed since start"},
	[GW_SK_INTERVALS_DROPPED] = {"intervals_dropped", GW_ST_COUNT,
		"batches rewritten without intervals by the bound"},
	[GW_SK_DELETED_UNUPLOADED] = {"deleted_unuploaded", GW_ST_COUNT,
		"batches deleted before upload by the bound"},
	[GW_SK_DONE_EMPTIED] = {"done_emptied", GW_ST_COUNT, "uploaded batches emptied"},
	[GW_SK_REFUSED_BATCHES] = {"refused_batches", GW_ST_COUNT,
		"batches the database refused, in quarantine/"},
	[GW_SK_UPLOAD_LAST_OK] = {"upload_last_ok", GW_ST_TIME,
		"gateway time of the last batch loaded"},
	[GW_SK_UPLOAD_FAILURES] = {"upload_failures", GW_ST_COUNT,
		"upload passes failed in a row"},
	[GW_SK_UPLOAD_LAST_ERROR] = {"upload_last_error", GW_ST_TEXT,
		"the last failure's kind, or -"},
	[GW_SK_UPLOAD_STALLED_S] = {"upload_stalled_s", GW_ST_SECONDS,
		"seconds the upload pass made no progress past stall_after"},
	[GW_SK_METERS_UNASSIGNED] = {"meters_unassigned", GW_ST_LIST,
		"meters the database held in the last batch"},
	[GW_SK_LONG_GAPS] = {"long_gaps", GW_ST_TEXT,
		"registers back from a silence beyond the revision window"},
	[GW_SK_CLOCK] = {"clock", GW_ST_TEXT, "trusted, ahead or behind"},
	[GW_SK_CLOCK_WITNESS] = {"clock_witness", GW_ST_TEXT,
		"who holds the clock or confirmed it last"},
	[GW_SK_CLOCK_DETAIL] = {"clock_detail", GW_ST_TEXT, "what the clock and witness say"},
	[GW_SK_CLOCK_SEAL_TIME] = {"clock_seal_time", GW_ST_TIME, "days are sealed up to it"},
	[GW_SK_CLOCK_WITHHELD] = {"clock_withheld", GW_ST_COUNT,
		"readings and events kept out of days in this hold"},
	[GW_SK_CLOCK_HOLDS] = {"clock_holds", GW_ST_COUNT, "holds since start"},
	[GW_SK_DROPPED] = {"dropped_", GW_ST_COUNT,
		"readings not kept since start, one key per reason (drops.h)"},
	[GW_SK_DISK_FREE_BYTES] = {"disk_free_bytes", GW_ST_BYTES,
		"free bytes of the spool's file system"},
	[GW_SK_DISK_ERROR] = {"disk_error", GW_ST_TEXT, "the errno's text of a write failure, or -"},
	[GW_SK_SEAL_FAILURES] = {"seal_failures", GW_ST_COUNT, "seals failed in a row"},
	[GW_SK_SEAL_FAILURES_TOTAL] = {"seal_failures_total", GW_ST_COUNT,
		"seals failed since start"},
	[GW_SK_SEAL_NEXT_TRY_S] = {"seal_next_try_s", GW_ST_SECONDS,
		"seconds to the next try to seal"},
	[GW_SK_POLL_INTERVAL_S] = {"poll_interval_s", GW_ST_SECONDS,
		"the running poll_interval"},
	[GW_SK_POLL_LATE_TOLERANCE_MS] = {"poll_late_tolerance_ms", GW_ST_MS,
		"a cycle starting later than this after its poll time is late"},
	[GW_SK_POLL_BUSES] = {"poll_buses", GW_ST_LIST, "the buses polled, or -"},
	[GW_SK_POLL_CYCLES] = {"poll_cycles.", GW_ST_COUNT, "the bus's whole poll cycles"},
	[GW_SK_POLL_LATE] = {"poll_late.", GW_ST_COUNT,
		"of them, started later than poll_late_tolerance_ms"},
	[GW_SK_POLL_OVERRUN] = {"poll_overrun.", GW_ST_COUNT,
		"of them, not finished before the next poll time"},
	[GW_SK_POLL_SKIPPED] = {"poll_skipped.", GW_ST_COUNT,
		"poll times passed over because of those"},
	[GW_SK_POLL_BEHIND_IN_ROW] = {"poll_behind_in_row.", GW_ST_COUNT,
		"cycles late or overrunning in a row"},
	[GW_SK_POLL_LAST_MS] = {"poll_last_ms.", GW_ST_MS, "the last cycle's duration"},
	[GW_SK_POLL_MAX_MS] = {"poll_max_ms.", GW_ST_MS, "the longest cycle's duration"},
	[GW_SK_POLL_ALARM] = {"poll_alarm.", GW_ST_FLAG,
		"whether the bus raises the alarm poll_overrun"},
	[GW_SK_POLL_DURATION_SUM_MS] = {"poll_duration_sum_ms.", GW_ST_MS,
		"the durations of its whole cycles added up"},
	[GW_SK_POLL_DURATION_LE] = {"poll_duration_le.", GW_ST_LIST,
		"cycles no longer than each bound of gw_cycle_dur_bounds_ms"},
	[GW_SK_DONE_BATCHES] = {"done_batches", GW_ST_COUNT, "uploaded batches in done/"},
	[GW_SK_QUARANTINE_BATCHES] = {"quarantine_batches", GW_ST_COUNT,
		"files in quarantine/"},
	[GW_SK_QUARANTINE_BYTES] = {"quarantine_bytes", GW_ST_BYTES, "their bytes"},
	[GW_SK_UPLOAD_BATCHES_TOTAL] = {"upload_batches_total", GW_ST_COUNT,
		"batches loaded (or found loaded) since start"},
	[GW_SK_UPLOAD_ROWS_TOTAL] = {"upload_rows_total", GW_ST_COUNT,
		"rows of the batches loaded since start"},
	[GW_SK_UPLOAD_FAILURES_TOTAL] = {"upload_failures_total", GW_ST_COUNT,
		"upload passes failed since start"},
	[GW_SK_JOURNAL_FSYNC_COUNT] = {"journal_fsync_count", GW_ST_COUNT,
		"journal fsyncs since start"},
	[GW_SK_JOURNAL_FSYNC_SUM_US] = {"journal_fsync_sum_us", GW_ST_US,
		"their durations added up"},
	[GW_SK_JOURNAL_FSYNC_MAX_US] = {"journal_fsync_max_us", GW_ST_US,
		"the longest"},
	[GW_SK_JOURNAL_FSYNC_LE] = {"journal_fsync_le", GW_ST_LIST,
		"fsyncs no longer than each bound of gw_journal_fsync_bounds_us"},
	[GW_SK_POINTS_BYTES] = {"points_bytes", GW_ST_BYTES,
		"bytes in points/ (a cache of the journal, not bounded by spool_max)"},
	[GW_SK_POINTS_WRITTEN_BYTES] = {"points_written_bytes", GW_ST_BYTES,
		"bytes written to points/ since start"},
	[GW_SK_POINTS_WRITE_FAILURES] = {"points_write_failures", GW_ST_COUNT,
		"writes to points/ failed since start (those points stayed in memory)"},
	[GW_SK_POINTS_READ_FAILURES] = {"points_read_failures", GW_ST_COUNT,
		"records of points/ not read back since start (gatewayd started over from the journal)"},
};

const struct gw_status_key_def gw_health_cols[GW_HC_COUNT_] = {
	[GW_HC_METER_ID] = {"meter_id", GW_ST_TEXT, "the meter"},
	[GW_HC_BUS] = {"bus", GW_ST_TEXT, "its bus"},
	[GW_HC_STATE] = {"state", GW_ST_TEXT, "online, failing, offline or unread"},
	[GW_HC_FAILED_IN_A_ROW] = {"failed_in_a_row", GW_ST_COUNT, "failed reads in a row"},
	[GW_HC_CYCLES] = {"cycles", GW_ST_COUNT, "poll cycles of its bus"},
	[GW_HC_OK] = {"ok", GW_ST_COUNT, "good reads"},
	[GW_HC_FAILED] = {"failed", GW_ST_COUNT, "failed reads"},
	[GW_HC_SKIPPED] = {"skipped", GW_ST_COUNT, "cycles skipped in backoff"},
	[GW_HC_TIMEOUTS] = {"timeouts", GW_ST_COUNT, "requests timed out"},
	[GW_HC_CRC_ERRORS] = {"crc_errors", GW_ST_COUNT, "replies with a bad CRC"},
	[GW_HC_EXCEPTIONS] = {"exceptions", GW_ST_COUNT, "exception replies"},
	[GW_HC_MALFORMED] = {"malformed", GW_ST_COUNT, "short or mismatched replies"},
	[GW_HC_LAST_ERROR] = {"last_error", GW_ST_TEXT, "the last failed read's error, or -"},
	[GW_HC_STALE_REPLIES] = {"stale_replies", GW_ST_COUNT,
		"replies discarded as answers to another request"},
	[GW_HC_BAD_VALUES] = {"bad_values", GW_ST_COUNT, "values that cannot be true"},
	[GW_HC_LAST_OK] = {"last_ok", GW_ST_TIME, "gateway time of its last good read, or -"},
};

const char *gw_status_type_name(enum gw_status_type t)
{
	static const char *const names[GW_ST_TYPE_COUNT_] = {
		"text", "count", "bytes", "seconds", "time", "day", "flag", "list",
		"milliseconds", "microseconds",
	};

	return (unsigned)t < GW_ST_TYPE_COUNT_ ? names[t] : "?";
}

static void put_line(struct gw_status_text *t, const char *key, const char *sfx,
		     const char *fmt, va_list ap) __attribute__((format(printf, 4, 0)));
static void put_line(struct gw_status_text *t, const char *key, const char *sfx,
		     const char *fmt, va_list ap)
{
	if (t->len + 1 >= t->cap)
		return;
	size_t len = t->len;
	int n = snprintf(t->buf + len, t->cap - len, "%s%s=", key, sfx);
	if (n < 0 || (size_t)n >= t->cap - len)
		goto full;
	len += (size_t)n;
	n = vsnprintf(t->buf + len, t->cap - len, fmt, ap);
	if (n < 0 || (size_t)n + 1 >= t->cap - len)
		goto full;
	len += (size_t)n;
	t->buf[len++] = '\n';
	t->buf[len] = '\0';
	t->len = len;
	return;
full: /* a line cut short is not written at all */
	t->buf[t->len] = '\0';
}

void gw_status_put(struct gw_status_text *t, enum gw_status_key k,
		   const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(t, gw_status_keys[k].name, "", fmt, ap);
	va_end(ap);
}

static void put_drop(struct gw_status_text *t, const char *name, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void put_drop(struct gw_status_text *t, const char *name, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(t, gw_status_keys[GW_SK_DROPPED].name, name, fmt, ap);
	va_end(ap);
}

void gw_status_put_drop(struct gw_status_text *t, enum gw_drop_reason r,
			unsigned long long n)
{
	put_drop(t, gw_drop_reason_name(r), "%llu", n);
}

/* The value of the line "<key><sfx>=..." in text, in place, or NULL. */
static const char *find(const char *text, const char *key, const char *sfx,
			size_t *vlen)
{
	size_t kl = strlen(key), sl = strlen(sfx);

	for (const char *line = text; line && *line;) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		if (len > kl + sl && strncmp(line, key, kl) == 0 &&
		    strncmp(line + kl, sfx, sl) == 0 && line[kl + sl] == '=') {
			*vlen = len - kl - sl - 1;
			return line + kl + sl + 1;
		}
		line = nl ? nl + 1 : NULL;
	}
	return NULL;
}

/* The value of the line "<key><sfx>=..." into buf, or "?". */
static const char *get(const char *text, const char *key, const char *sfx,
		       char *buf, size_t cap)
{
	size_t len;
	const char *v = find(text, key, sfx, &len);

	if (!v)
		return "?";
	snprintf(buf, cap, "%.*s", (int)len, v);
	return buf;
}

const char *gw_status_value(const char *text, enum gw_status_key k,
			    const char *sfx, size_t *len)
{
	if (!text || (unsigned)k >= GW_SK_COUNT_)
		return NULL;
	return find(text, gw_status_keys[k].name, sfx ? sfx : "", len);
}

const char *gw_status_get(const char *text, enum gw_status_key k, char *buf,
			  size_t cap)
{
	return get(text, gw_status_keys[k].name, "", buf, cap);
}

const char *gw_status_get_drop(const char *text, enum gw_drop_reason r,
			       char *buf, size_t cap)
{
	const char *name = gw_drop_reason_name(r);

	return name ? get(text, gw_status_keys[GW_SK_DROPPED].name, name, buf, cap)
		    : "?";
}

int gw_status_key_per_bus(enum gw_status_key k)
{
	return k >= GW_SK_POLL_CYCLES && k <= GW_SK_POLL_DURATION_LE;
}

void gw_status_put_bus(struct gw_status_text *t, enum gw_status_key k,
		       const char *bus, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	put_line(t, gw_status_keys[k].name, bus, fmt, ap);
	va_end(ap);
}

const char *gw_status_get_bus(const char *text, enum gw_status_key k,
			      const char *bus, char *buf, size_t cap)
{
	return get(text, gw_status_keys[k].name, bus, buf, cap);
}

int gw_health_header(char *buf, size_t cap)
{
	size_t len = 0;

	for (int c = 0; c < GW_HC_COUNT_; c++) {
		int n = snprintf(buf + len, cap > len ? cap - len : 0, "%s%s",
				 gw_health_cols[c].name,
				 c + 1 < GW_HC_COUNT_ ? "\t" : "\n");
		if (n < 0)
			return n;
		len += (size_t)n;
	}
	return (int)len;
}
