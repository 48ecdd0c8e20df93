/* SPDX-License-Identifier: MIT */
/*
 * config.c - reads and validates the gateway's INI file and CSV meter list.
 *
 * Every error names file and line ("gateway.ini:12: poll_interval: 0 is out
 * of range 1..86400") and stops start-up; the caller exits non-zero. Keys
 * are checked as they are read; references between sections (a meter's bus
 * and profile) and required keys are checked once the file is read, naming
 * the line of the key or of the section that lacks it.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ini.h"
#include "tz.h"
#include "dbtls.h"

enum sect { S_NONE, S_GATEWAY, S_CLOCK, S_DATABASE, S_BUS, S_METER };

/* Lines of keys needed after parsing, per meter. */
struct meter_refs {
	char bus[GW_ID_MAX];
	char profile[GW_ID_MAX];
	int bus_line, unit_line, profile_line;
	/* iec62056-21: the address (key `address`, or `unit` in the CSV
	 * list), checked once the bus's type is known */
	char unit[72];
	int unit_deferred, address_line;
};

/* iec62056-21 keys given in a [bus] section (parse_state.bus_iec). */
#define IEC_SET_BAUD 0x1
#define IEC_SET_TIMEOUT 0x2
#define IEC_SET_BYTE_TIMEOUT 0x4
#define IEC_SET_IEC_KEY 0x8 /* mode, max_baud, framing, billing, ... */

struct parse_state {
	struct gw_config *cfg;
	const char *file; /* the file being read, for messages */
	enum sect sect;
	int sect_line;
	/* keys seen in the current section, to reject duplicates */
	char seen[32][32];
	int n_seen;
	/* lines of [gateway] keys, 0 if absent */
	int gw_line, id_line, tz_line, spool_line, meters_line, clock_line;
	int clock_start_line, clock_anchor_line, clock_speed_line;
	int64_t clock_anchor_us, clock_start_ms, clock_speed;
	int has_anchor, has_start;
	int cap_buses, cap_meters;
	struct meter_refs *refs;
	/* per-bus lines of required keys */
	int *bus_type_line, *bus_host_line, *bus_device_line;
	int *bus_iec; /* IEC_SET_* bits per bus */
};

static int errorf(const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int errorf(const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	if (line > 0)
		fprintf(stderr, "%s:%d: ", file, line);
	else
		fprintf(stderr, "%s: ", file);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return GW_ECONFIG;
}

static int parse_int(const char *v, long long lo, long long hi, long long *out)
{
	char *end;
	long long x;

	errno = 0;
	if (*v == '\0')
		return GW_EINVAL;
	/* strtoll with base 0 reads "010" as octal 8: a unit id "010" in a
	 * meter list would read meter 8. Nobody means that: refused. */
	const char *d = v + (*v == '+' || *v == '-');
	if (d[0] == '0' && d[1] >= '0' && d[1] <= '9')
		return GW_EINVAL;
	x = strtoll(v, &end, 0);
	if (errno || *end != '\0' || x < lo || x > hi)
		return GW_EINVAL;
	*out = x;
	return 0;
}

/* Seconds, with an optional unit suffix: 90, 90s, 15m, 2h, 1d. */
/* Parses a size: a number of bytes with an optional unit B, kB, KB, MB,
 * GB (powers of 1024; KiB, MiB, GiB also accepted). 0 means "no bound". */
static int parse_size(const char *v, uint64_t *out)
{
	static const struct { const char *u; uint64_t mult; } units[] = {
		{"", 1}, {"B", 1}, {"kB", 1024}, {"KB", 1024}, {"KiB", 1024},
		{"MB", 1 << 20}, {"MiB", 1 << 20},
		{"GB", 1 << 30}, {"GiB", 1 << 30},
	};
	char *end;
	unsigned long long x;

	if (*v < '0' || *v > '9')
		return GW_EINVAL;
	errno = 0;
	x = strtoull(v, &end, 10);
	if (errno)
		return GW_EINVAL;
	while (*end == ' ')
		end++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(end, units[i].u) == 0) {
			if (x > UINT64_MAX / units[i].mult)
				return GW_EINVAL;
			*out = (uint64_t)x * units[i].mult;
			return 0;
		}
	}
	return GW_EINVAL;
}

static int parse_duration(const char *v, long long lo, long long hi,
			  long long *out)
{
	char buf[32], *end;
	long long x, mult = 1;
	size_t n = strlen(v);

	if (n == 0 || n >= sizeof(buf))
		return GW_EINVAL;
	memcpy(buf, v, n + 1);
	switch (buf[n - 1]) {
	case 's': mult = 1; buf[n - 1] = '\0'; break;
	case 'm': mult = 60; buf[n - 1] = '\0'; break;
	case 'h': mult = 3600; buf[n - 1] = '\0'; break;
	case 'd': mult = 86400; buf[n - 1] = '\0'; break;
	default: break;
	}
	errno = 0;
	x = strtoll(buf, &end, 10);
	if (errno || *end != '\0' || end == buf || x < 0 ||
	    x > LLONG_MAX / mult)
		return GW_EINVAL;
	x *= mult;
	if (x < lo || x > hi)
		return GW_EINVAL;
	*out = x;
	return 0;
}

/* Identifiers: letters, digits, '.', '_', '-'; 1..GW_ID_MAX-1 long. */
static int valid_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n >= GW_ID_MAX)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' &&
		    *s != '-')
			return 0;
	return 1;
}

/* Resolves a path relative to the directory of the config file. */
static void resolve_path(const char *cfg_path, const char *v, char *out,
			 size_t cap)
{
	const char *slash = strrchr(cfg_path, '/');

	if (v[0] == '/' || !slash)
		snprintf(out, cap, "%s", v);
	else
		snprintf(out, cap, "%.*s/%s", (int)(slash - cfg_path), cfg_path,
			 v);
}

#define BAD_RANGE(key, lo, hi)                                                 \
	errorf(st->file, line, "%s: '%s' is not %s in %lld..%lld", key, value,  \
	       "a number", (long long)(lo), (long long)(hi))

static int key_gateway(struct parse_state *st, const char *key,
		       const char *value, int line)
{
	struct gw_config *c = st->cfg;
	long long x;

	if (strcmp(key, "id") == 0) {
		if (!valid_id(value))
			return errorf(st->file, line,
				      "id: '%s' is not a valid id (letters, digits, '.', '_', '-', at most %d)",
				      value, GW_ID_MAX - 1);
		gw_strlcpy(c->gateway_id, value, sizeof(c->gateway_id));
		st->id_line = line;
	} else if (strcmp(key, "timezone") == 0) {
		int rc = gw_tz_set(value);
		if (rc != 0)
			return errorf(st->file, line,
				      "timezone: '%s' is not an installed IANA time zone",
				      value);
		gw_strlcpy(c->timezone, value, sizeof(c->timezone));
		st->tz_line = line;
	} else if (strcmp(key, "spool_dir") == 0) {
		if (!*value)
			return errorf(st->file, line, "spool_dir: empty");
		resolve_path(c->path, value, c->spool_dir, sizeof(c->spool_dir));
		st->spool_line = line;
	} else if (strcmp(key, "profiles_dir") == 0) {
		if (!*value)
			return errorf(st->file, line, "profiles_dir: empty");
		resolve_path(c->path, value, c->profiles_dir,
			     sizeof(c->profiles_dir));
	} else if (strcmp(key, "meters") == 0) {
		if (!*value)
			return errorf(st->file, line, "meters: empty");
		resolve_path(c->path, value, c->meters_csv,
			     sizeof(c->meters_csv));
		st->meters_line = line;
	} else if (strcmp(key, "poll_interval") == 0) {
		if (parse_duration(value, 1, 86400, &x))
			return errorf(st->file, line,
				      "poll_interval: '%s' is not a duration in 1s..1d",
				      value);
		c->poll_interval_s = (int)x;
	} else if (strcmp(key, "midnight_tolerance") == 0) {
		if (parse_duration(value, 0, 3600, &x))
			return errorf(st->file, line,
				      "midnight_tolerance: '%s' is not a duration in 0s..1h",
				      value);
		c->midnight_tolerance_s = (int)x;
	} else if (strcmp(key, "max_gap") == 0) {
		if (parse_duration(value, 60, 7 * 86400, &x))
			return errorf(st->file, line,
				      "max_gap: '%s' is not a duration in 1m..7d",
				      value);
		c->max_gap_s = (int)x;
	} else if (strcmp(key, "max_power") == 0) {
		if (parse_int(value, 0, 100000000, &x))
			return errorf(st->file, line,
				      "max_power: '%s' is not a power in W in 0..100000000",
				      value);
		c->max_power_w = x;
	} else if (strcmp(key, "revision_window") == 0) {
		if (parse_duration(value, 0, 31 * 86400, &x) || x % 86400)
			return errorf(st->file, line,
				      "revision_window: '%s' is not a whole number of days in 0d..31d",
				      value);
		c->revision_window_days = (int)(x / 86400);
	} else if (strcmp(key, "seal_delay") == 0) {
		if (parse_duration(value, 0, 86400, &x))
			return errorf(st->file, line,
				      "seal_delay: '%s' is not a duration in 0s..1d",
				      value);
		c->seal_delay_s = (int)x;
	} else if (strcmp(key, "offline_after") == 0) {
		if (parse_int(value, 1, 1000, &x))
			return BAD_RANGE("offline_after", 1, 1000);
		c->offline_after = (int)x;
	} else if (strcmp(key, "retry_backoff_max") == 0) {
		if (parse_int(value, 0, 1000, &x))
			return BAD_RANGE("retry_backoff_max", 0, 1000);
		c->retry_backoff_max = (int)x;
	} else if (strcmp(key, "spool_max") == 0 ||
		   strcmp(key, "spool_max_bytes") == 0) {
		if (parse_size(value, &c->spool_max_bytes))
			return errorf(st->file, line,
				      "%s: '%s' is not a size like 512MB, 2GB or 0 (no bound)",
				      key, value);
	} else if (strcmp(key, "spool_full_policy") == 0) {
		if (strcmp(value, "drop-intervals") == 0)
			c->spool_full_policy = 0;
		else if (strcmp(value, "keep") == 0)
			c->spool_full_policy = 1;
		else
			return errorf(st->file, line,
				      "spool_full_policy: '%s' is not one of drop-intervals, keep",
				      value);
	} else if (strcmp(key, "allow_delete_unuploaded") == 0) {
		if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0)
			c->allow_delete_unuploaded = 1;
		else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0)
			c->allow_delete_unuploaded = 0;
		else
			return errorf(st->file, line,
				      "allow_delete_unuploaded: '%s' is not yes or no",
				      value);
	} else if (strcmp(key, "log_level") == 0) {
		if (gw_log_parse_level(value, &c->log_level))
			return errorf(st->file, line,
				      "log_level: '%s' is not one of error, warn, info, debug",
				      value);
	} else {
		return errorf(st->file, line, "unknown key '%s' in [gateway]", key);
	}
	return 0;
}

static int key_clock(struct parse_state *st, const char *key,
		     const char *value, int line)
{
	long long x;

	if (strcmp(key, "speed") == 0) {
		if (parse_int(value, 1, GW_CLOCK_SPEED_MAX, &x))
			return BAD_RANGE("speed", 1, GW_CLOCK_SPEED_MAX);
		st->clock_speed = x;
		st->clock_speed_line = line;
	} else if (strcmp(key, "anchor") == 0) {
		if (gw_clock_parse_anchor(value, &st->clock_anchor_us))
			return errorf(st->file, line,
				      "anchor: '%s' is not 'now' or real UTC seconds since 1970",
				      value);
		st->has_anchor = 1;
		st->clock_anchor_line = line;
	} else if (strcmp(key, "start") == 0) {
		if (gw_parse_utc(value, &st->clock_start_ms))
			return errorf(st->file, line,
				      "start: '%s' is not a UTC time like 2026-03-01T00:00:00Z",
				      value);
		st->has_start = 1;
		st->clock_start_line = line;
	} else if (strcmp(key, "max_jump") == 0) {
		if (parse_duration(value, 60, 365LL * 86400, &x))
			return errorf(st->file, line,
				      "max_jump: '%s' is not a duration in 1m..365d",
				      value);
		st->cfg->clock_max_jump_s = x;
	} else {
		return errorf(st->file, line, "unknown key '%s' in [clock]", key);
	}
	return 0;
}

static int key_database(struct parse_state *st, const char *key,
			const char *value, int line)
{
	struct gw_config *c = st->cfg;
	long long x;

	if (strcmp(key, "conninfo") == 0) {
		char why[512];

		if (gw_strlcpy(c->db_conninfo, value, sizeof(c->db_conninfo)))
			return errorf(st->file, line, "conninfo: too long");
		/* TCP without sslmode is verify-full, which needs the CA. */
		if (gw_db_tls_check(value, why, sizeof(why)) == GW_TLS_REFUSE)
			return errorf(st->file, line, "conninfo: %s", why);
	} else if (strcmp(key, "upload_interval") == 0) {
		if (parse_duration(value, 1, 86400, &x))
			return errorf(st->file, line,
				      "upload_interval: '%s' is not a duration in 1s..1d",
				      value);
		c->upload_interval_s = (int)x;
	} else if (strcmp(key, "retry_max") == 0) {
		if (parse_duration(value, 1, 3600, &x))
			return errorf(st->file, line,
				      "retry_max: '%s' is not a duration in 1s..1h",
				      value);
		c->upload_retry_max_s = (int)x;
	} else if (strcmp(key, "statement_timeout") == 0) {
		if (parse_duration(value, 1, 86400, &x))
			return errorf(st->file, line,
				      "statement_timeout: '%s' is not a duration in 1s..1d",
				      value);
		c->db_statement_timeout_s = (int)x;
	} else if (strcmp(key, "lock_timeout") == 0) {
		if (parse_duration(value, 1, 3600, &x))
			return errorf(st->file, line,
				      "lock_timeout: '%s' is not a duration in 1s..1h",
				      value);
		c->db_lock_timeout_s = (int)x;
	} else if (strcmp(key, "idle_in_transaction_timeout") == 0) {
		if (parse_duration(value, 1, 3600, &x))
			return errorf(st->file, line,
				      "idle_in_transaction_timeout: '%s' is not a duration in 1s..1h",
				      value);
		c->db_idle_timeout_s = (int)x;
	} else if (strcmp(key, "stall_after") == 0) {
		if (parse_duration(value, 1, 86400, &x))
			return errorf(st->file, line,
				      "stall_after: '%s' is not a duration in 1s..1d",
				      value);
		c->db_stall_after_s = (int)x;
	} else {
		return errorf(st->file, line, "unknown key '%s' in [database]",
			      key);
	}
	return 0;
}

static int key_bus(struct parse_state *st, const char *key, const char *value,
		   int line)
{
	struct gw_config *c = st->cfg;
	int i = c->n_buses - 1;
	struct gw_bus_config *b = &c->buses[i];
	long long x;

	if (strcmp(key, "type") == 0) {
		if (strcmp(value, "modbus-tcp") == 0)
			b->type = GW_BUS_MODBUS_TCP;
		else if (strcmp(value, "modbus-rtu") == 0)
			b->type = GW_BUS_MODBUS_RTU;
		else if (strcmp(value, "iec62056-21") == 0)
			b->type = GW_BUS_IEC62056;
		else
			return errorf(st->file, line,
				      "type: '%s' is not one of modbus-tcp, modbus-rtu, iec62056-21",
				      value);
		st->bus_type_line[i] = line;
	} else if (strcmp(key, "host") == 0) {
		if (!*value || gw_strlcpy(b->host, value, sizeof(b->host)))
			return errorf(st->file, line, "host: empty or too long");
		st->bus_host_line[i] = line;
	} else if (strcmp(key, "port") == 0) {
		if (parse_int(value, 1, 65535, &x))
			return BAD_RANGE("port", 1, 65535);
		b->port = (int)x;
	} else if (strcmp(key, "device") == 0) {
		if (!*value || gw_strlcpy(b->device, value, sizeof(b->device)))
			return errorf(st->file, line, "device: empty or too long");
		st->bus_device_line[i] = line;
	} else if (strcmp(key, "baud") == 0) {
		static const long bauds[] = {300, 600, 1200, 2400, 4800, 9600,
					     19200, 38400, 57600, 115200};
		int okb = 0;
		if (parse_int(value, 1, 1000000, &x) == 0)
			for (size_t k = 0; k < sizeof(bauds) / sizeof(bauds[0]); k++)
				okb |= bauds[k] == x;
		if (!okb)
			return errorf(st->file, line,
				      "baud: '%s' is not one of 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200",
				      value);
		b->baud = (int)x;
		st->bus_iec[i] |= IEC_SET_BAUD;
	} else if (strcmp(key, "parity") == 0) {
		if (strcmp(value, "none") == 0)
			b->parity = 'N';
		else if (strcmp(value, "even") == 0)
			b->parity = 'E';
		else if (strcmp(value, "odd") == 0)
			b->parity = 'O';
		else
			return errorf(st->file, line,
				      "parity: '%s' is not one of none, even, odd",
				      value);
	} else if (strcmp(key, "data_bits") == 0) {
		if (parse_int(value, 7, 8, &x))
			return BAD_RANGE("data_bits", 7, 8);
		b->data_bits = (int)x;
	} else if (strcmp(key, "stop_bits") == 0) {
		if (parse_int(value, 1, 2, &x))
			return BAD_RANGE("stop_bits", 1, 2);
		b->stop_bits = (int)x;
	} else if (strcmp(key, "timeout_ms") == 0) {
		if (parse_int(value, 10, 60000, &x))
			return BAD_RANGE("timeout_ms", 10, 60000);
		b->timeout_ms = (int)x;
		st->bus_iec[i] |= IEC_SET_TIMEOUT;
	} else if (strcmp(key, "byte_timeout_ms") == 0) {
		if (parse_int(value, 1, 10000, &x))
			return BAD_RANGE("byte_timeout_ms", 1, 10000);
		b->byte_timeout_ms = (int)x;
		st->bus_iec[i] |= IEC_SET_BYTE_TIMEOUT;
	} else if (strcmp(key, "offline_after") == 0) {
		if (parse_int(value, 1, 1000, &x))
			return BAD_RANGE("offline_after", 1, 1000);
		b->offline_after = (int)x;
	} else if (strcmp(key, "retry_backoff_max") == 0) {
		/* -1 in the struct: "0 given", as 0 means "inherit" */
		if (parse_int(value, 0, 1000, &x))
			return BAD_RANGE("retry_backoff_max", 0, 1000);
		b->retry_backoff_max = x ? (int)x : -1;
	} else if (strcmp(key, "mode") == 0) { /* iec62056-21 */
		if (strcmp(value, "c") == 0 || strcmp(value, "C") == 0)
			b->iec_mode = GW_IEC_MODE_C;
		else if (strcmp(value, "fixed") == 0)
			b->iec_mode = GW_IEC_MODE_FIXED;
		else if (strcmp(value, "d") == 0 || strcmp(value, "D") == 0)
			b->iec_mode = GW_IEC_MODE_D;
		else
			return errorf(st->file, line,
				      "mode: '%s' is not one of c, fixed, d", value);
		st->bus_iec[i] |= IEC_SET_IEC_KEY;
	} else if (strcmp(key, "max_baud") == 0) {
		if (parse_int(value, 300, 19200, &x) ||
		    (x != 300 && x != 600 && x != 1200 && x != 2400 && x != 4800 &&
		     x != 9600 && x != 19200))
			return errorf(st->file, line,
				      "max_baud: '%s' is not one of 300, 600, 1200, 2400, 4800, 9600, 19200",
				      value);
		b->max_baud = (int)x;
		st->bus_iec[i] |= IEC_SET_IEC_KEY;
	} else if (strcmp(key, "framing") == 0) {
		if (strcmp(value, "7E1") == 0 || strcmp(value, "7e1") == 0)
			b->iec_8n1 = 0;
		else if (strcmp(value, "8N1") == 0 || strcmp(value, "8n1") == 0)
			b->iec_8n1 = 1;
		else
			return errorf(st->file, line,
				      "framing: '%s' is not one of 7E1, 8N1", value);
		st->bus_iec[i] |= IEC_SET_IEC_KEY;
	} else if (strcmp(key, "billing") == 0) {
		if (strcmp(value, "yes") == 0)
			b->iec_billing = 1;
		else if (strcmp(value, "no") == 0)
			b->iec_billing = 0;
		else
			return errorf(st->file, line, "billing: '%s' is not yes or no",
				      value);
		st->bus_iec[i] |= IEC_SET_IEC_KEY;
	} else if (strcmp(key, "max_clock_drift") == 0) {
		if (parse_duration(value, 0, 86400, &x))
			return errorf(st->file, line,
				      "max_clock_drift: '%s' is not a duration in 0s..1d",
				      value);
		b->max_clock_drift_s = (int)x;
		st->bus_iec[i] |= IEC_SET_IEC_KEY;
	} else if (strcmp(key, "backfill_after") == 0) {
		if (strcmp(value, "off") == 0)
			x = 0;
		else if (parse_duration(value, 0, 7 * 86400, &x) ||
			 (x > 0 && x < 60))
			return errorf(st->file, line,
				      "backfill_after: '%s' is not off, 0 or a duration in 1m..7d",
				      value);
		b->iec_backfill_after_s = (int)x;
		st->bus_iec[i] |= IEC_SET_IEC_KEY;
	} else if (strcmp(key, "profile_window") == 0) {
		if (parse_duration(value, 3600, 31 * 86400, &x))
			return errorf(st->file, line,
				      "profile_window: '%s' is not a duration in 1h..31d",
				      value);
		b->iec_profile_window_s = (int)x;
		st->bus_iec[i] |= IEC_SET_IEC_KEY;
	} else {
		return errorf(st->file, line, "unknown key '%s' in [bus %s]", key,
			      b->name);
	}
	return 0;
}

static int key_meter(struct parse_state *st, const char *key,
		     const char *value, int line)
{
	struct gw_config *c = st->cfg;
	struct gw_meter_config *m = &c->meters[c->n_meters - 1];
	struct meter_refs *r = &st->refs[c->n_meters - 1];
	long long x;

	if (strcmp(key, "bus") == 0) {
		if (!valid_id(value))
			return errorf(st->file, line, "bus: '%s' is not a valid bus name",
				      value);
		gw_strlcpy(r->bus, value, sizeof(r->bus));
		r->bus_line = line;
	} else if (strcmp(key, "unit") == 0) {
		/* On an iec62056-21 bus (the CSV list's unit column) this is
		 * the meter's address; when the bus is not known yet, a value
		 * that is no unit id is checked once it is. */
		int bi = -1;
		for (int k = 0; k < c->n_buses; k++)
			if (strcmp(c->buses[k].name, r->bus) == 0 &&
			    st->bus_type_line[k])
				bi = k;
		gw_strlcpy(r->unit, value, sizeof(r->unit));
		r->unit_line = line;
		if (bi >= 0 && c->buses[bi].type == GW_BUS_IEC62056)
			r->unit_deferred = 1;
		else if (parse_int(value, 1, 247, &x) == 0)
			m->unit_id = (int)x;
		else if (bi >= 0)
			return BAD_RANGE("unit", 1, 247);
		else
			r->unit_deferred = 1;
	} else if (strcmp(key, "address") == 0) { /* iec62056-21 */
		gw_strlcpy(r->unit, value, sizeof(r->unit));
		r->address_line = line;
	} else if (strcmp(key, "profile") == 0) {
		if (!valid_id(value))
			return errorf(st->file, line,
				      "profile: '%s' is not a valid profile name", value);
		gw_strlcpy(r->profile, value, sizeof(r->profile));
		r->profile_line = line;
	} else {
		return errorf(st->file, line, "unknown key '%s' in [meter %s]", key,
			      m->id);
	}
	return 0;
}

/* Resizes an array of `old` elements to `ncap`, zeroing the new part. */
static int resize(void **arr, size_t elem, int old, int ncap)
{
	void *na = realloc(*arr, (size_t)ncap * elem);

	if (!na)
		return GW_ENOMEM;
	memset((char *)na + (size_t)old * elem, 0, (size_t)(ncap - old) * elem);
	*arr = na;
	return 0;
}

static int add_bus(struct parse_state *st, const char *name, int line)
{
	struct gw_config *c = st->cfg;
	int cap = st->cap_buses;

	for (int i = 0; i < c->n_buses; i++)
		if (strcmp(c->buses[i].name, name) == 0)
			return errorf(st->file, line,
				      "bus '%s' is defined twice (first at line %d)",
				      name, c->buses[i].line);
	if (c->n_buses == st->cap_buses) {
		int ncap = cap ? cap * 2 : 16;
		if (resize((void **)&c->buses, sizeof(*c->buses), cap, ncap) ||
		    resize((void **)&st->bus_type_line, sizeof(int), cap, ncap) ||
		    resize((void **)&st->bus_host_line, sizeof(int), cap, ncap) ||
		    resize((void **)&st->bus_device_line, sizeof(int), cap, ncap) ||
		    resize((void **)&st->bus_iec, sizeof(int), cap, ncap))
			return GW_ENOMEM;
		st->cap_buses = ncap;
	}
	struct gw_bus_config *b = &c->buses[c->n_buses++];
	memset(b, 0, sizeof(*b));
	gw_strlcpy(b->name, name, sizeof(b->name));
	b->type = -1;
	b->port = 502;
	b->baud = 9600;
	b->parity = 'E';
	b->data_bits = 8;
	b->stop_bits = 1;
	b->timeout_ms = 1000;
	b->byte_timeout_ms = 100;
	b->max_baud = 19200;
	b->max_clock_drift_s = 120;
	b->iec_profile_window_s = 7 * 86400;
	b->line = line;
	return 0;
}

static int add_meter(struct parse_state *st, const char *id, const char *file,
		     int line)
{
	struct gw_config *c = st->cfg;
	int cap = st->cap_meters;

	for (int i = 0; i < c->n_meters; i++)
		if (strcmp(c->meters[i].id, id) == 0)
			return errorf(file, line,
				      "meter '%s' is defined twice (first at %s:%d)",
				      id, c->meters[i].source, c->meters[i].line);
	if (c->n_meters == st->cap_meters) {
		int ncap = cap ? cap * 2 : 16;
		if (resize((void **)&c->meters, sizeof(*c->meters), cap, ncap) ||
		    resize((void **)&st->refs, sizeof(*st->refs), cap, ncap))
			return GW_ENOMEM;
		st->cap_meters = ncap;
	}
	struct gw_meter_config *m = &c->meters[c->n_meters];
	memset(m, 0, sizeof(*m));
	memset(&st->refs[c->n_meters], 0, sizeof(st->refs[0]));
	gw_strlcpy(m->id, id, sizeof(m->id));
	gw_strlcpy(m->source, file, sizeof(m->source));
	m->bus = -1;
	m->line = line;
	c->n_meters++;
	return 0;
}

static int on_ini(void *ctx, const char *section, const char *key,
		  const char *value, int line)
{
	struct parse_state *st = ctx;

	if (!key) { /* section header */
		char kind[32], name[256];
		int n = sscanf(section, "%31s %255s", kind, name);
		st->n_seen = 0;
		st->sect_line = line;
		if (n == 1 && strcmp(kind, "gateway") == 0) {
			if (st->gw_line)
				return errorf(st->file, line,
					      "[gateway] appears twice (first at line %d)",
					      st->gw_line);
			st->sect = S_GATEWAY;
			st->gw_line = line;
		} else if (n == 1 && strcmp(kind, "clock") == 0) {
			if (st->clock_line)
				return errorf(st->file, line,
					      "[clock] appears twice (first at line %d)",
					      st->clock_line);
			st->sect = S_CLOCK;
			st->clock_line = line;
		} else if (n == 1 && strcmp(kind, "database") == 0) {
			st->sect = S_DATABASE;
		} else if (n == 2 && strcmp(kind, "bus") == 0) {
			if (!valid_id(name) || strchr(section + 4, ' '))
				return errorf(st->file, line,
					      "bus name '%s' is not valid", name);
			st->sect = S_BUS;
			return add_bus(st, name, line);
		} else if (n == 2 && strcmp(kind, "meter") == 0) {
			if (!valid_id(name) || strchr(section + 6, ' '))
				return errorf(st->file, line,
					      "meter id '%s' is not valid", name);
			st->sect = S_METER;
			return add_meter(st, name, st->file, line);
		} else {
			return errorf(st->file, line,
				      "unknown section [%s] (expected gateway, clock, database, bus NAME, meter ID)",
				      section);
		}
		return 0;
	}
	if (st->sect == S_NONE)
		return errorf(st->file, line, "key '%s' before any section", key);
	for (int i = 0; i < st->n_seen; i++)
		if (strcmp(st->seen[i], key) == 0)
			return errorf(st->file, line,
				      "key '%s' appears twice in [%s]", key, section);
	if (st->n_seen < 32)
		gw_strlcpy(st->seen[st->n_seen++], key, sizeof(st->seen[0]));
	switch (st->sect) {
	case S_GATEWAY: return key_gateway(st, key, value, line);
	case S_CLOCK: return key_clock(st, key, value, line);
	case S_DATABASE: return key_database(st, key, value, line);
	case S_BUS: return key_bus(st, key, value, line);
	case S_METER: return key_meter(st, key, value, line);
	default: return GW_ECONFIG;
	}
}

/* Splits a CSV line on commas in place (no quoting: ids never contain
 * commas). Returns the number of fields. */
static int csv_split(char *s, char **f, int max)
{
	int n = 0;

	for (;;) {
		char *comma = strchr(s, ',');
		if (n < max) {
			if (comma)
				*comma = '\0';
			char *b = s, *e;
			while (*b == ' ' || *b == '\t')
				b++;
			e = b + strlen(b);
			while (e > b && (e[-1] == ' ' || e[-1] == '\t' ||
					 e[-1] == '\r'))
				*--e = '\0';
			f[n] = b;
		}
		n++;
		if (!comma)
			return n;
		s = comma + 1;
	}
}

/* Reads the meter list: a header "meter_id,bus,unit,profile" then one
 * meter per line; '#' comments and blank lines are skipped. A UTF-8 byte
 * order mark (spreadsheets write one with "CSV UTF-8") is skipped; a NUL
 * byte (a UTF-16 file) is an error naming its line. */
static int load_meters_csv(struct parse_state *st, const char *path)
{
	FILE *f = fopen(path, "r");
	char *line_buf = NULL;
	size_t line_cap = 0;
	ssize_t len;
	int line = 0, rc = 0, header = 0;

	if (!f)
		return errorf(st->file, st->meters_line, "meters: cannot open '%s': %s",
			      path, strerror(errno));
	while ((len = getline(&line_buf, &line_cap, f)) >= 0) {
		char *fields[8];
		line++;
		if (memchr(line_buf, '\0', (size_t)len)) {
			rc = errorf(path, line,
				    "NUL byte in line (a UTF-16 file? save the list as CSV, UTF-8 or ASCII)");
			break;
		}
		if (len >= 1024) {
			rc = errorf(path, line, "line too long");
			break;
		}
		line_buf[strcspn(line_buf, "\n")] = '\0';
		char *p = line_buf;
		if (line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
			p += 3;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#' || *p == '\r')
			continue;
		int n = csv_split(p, fields, 8);
		if (!header) {
			if (n != 4 || strcmp(fields[0], "meter_id") ||
			    strcmp(fields[1], "bus") || strcmp(fields[2], "unit") ||
			    strcmp(fields[3], "profile")) {
				rc = errorf(path, line,
					    "expected the header 'meter_id,bus,unit,profile'");
				break;
			}
			header = 1;
			continue;
		}
		if (n != 4) {
			rc = errorf(path, line, "expected 4 fields, found %d", n);
			break;
		}
		if (!valid_id(fields[0])) {
			rc = errorf(path, line, "meter_id: '%s' is not a valid id",
				    fields[0]);
			break;
		}
		const char *saved = st->file;
		st->file = path;
		rc = add_meter(st, fields[0], path, line);
		if (rc == 0)
			rc = key_meter(st, "bus", fields[1], line);
		if (rc == 0)
			rc = key_meter(st, "unit", fields[2], line);
		if (rc == 0)
			rc = key_meter(st, "profile", fields[3], line);
		st->file = saved;
		if (rc)
			break;
	}
	if (rc == 0 && ferror(f))
		rc = errorf(path, 0, "read error");
	if (rc == 0 && !header)
		rc = errorf(path, 0, "empty meter list (no header line)");
	free(line_buf);
	fclose(f);
	return rc;
}

static int find_profile(struct gw_config *c, const char *name,
			const struct gw_profile **out)
{
	for (int i = 0; i < c->n_profiles; i++) {
		if (strcmp(c->profiles[i]->name, name) == 0) {
			*out = c->profiles[i];
			return 0;
		}
	}
	struct gw_profile *p = NULL;
	struct gw_profile **np =
		realloc(c->profiles, sizeof(*np) * (size_t)(c->n_profiles + 1));
	if (!np)
		return GW_ENOMEM;
	c->profiles = np;
	int rc = gw_profile_load_named(c->profiles_dir, name, &p);
	if (rc)
		return rc;
	/* The profile's own name may differ from its file name; the file
	 * name is what meters refer to. */
	gw_strlcpy(p->name, name, sizeof(p->name));
	c->profiles[c->n_profiles++] = p;
	*out = p;
	return 0;
}

/* iec62056-21 bus: required keys, defaults that differ from Modbus, and
 * its keys given on another bus type. */
static int finish_iec_bus(struct parse_state *st, int i)
{
	struct gw_config *c = st->cfg;
	struct gw_bus_config *b = &c->buses[i];
	const char *f = c->path;
	int set = st->bus_iec[i];

	if (b->type != GW_BUS_IEC62056) {
		if (set & IEC_SET_IEC_KEY)
			return errorf(f, b->line,
				      "[bus %s]: mode, max_baud, framing, billing, max_clock_drift, backfill_after and profile_window are keys of iec62056-21 buses",
				      b->name);
		return 0;
	}
	if (!st->bus_device_line[i])
		return errorf(f, b->line,
			      "[bus %s]: missing required key 'device' for iec62056-21",
			      b->name);
	/* The standard's sign-on speed is 300 baud; fixed-speed and push
	 * lines mostly run at 9600. */
	if (!(set & IEC_SET_BAUD))
		b->baud = b->iec_mode == GW_IEC_MODE_C ? 300 : 9600;
	if (b->baud > 19200)
		return errorf(f, b->line,
			      "[bus %s]: baud %d is above 19200, the fastest IEC 62056-21 rate",
			      b->name, b->baud);
	if (b->iec_mode == GW_IEC_MODE_C && b->max_baud < b->baud)
		return errorf(f, b->line,
			      "[bus %s]: max_baud %d is below baud %d", b->name,
			      b->max_baud, b->baud);
	/* A meter answers within 1500 ms (tr) and may pause 1500 ms between
	 * characters (ta); a push meter sends every few seconds. */
	if (!(set & IEC_SET_TIMEOUT))
		b->timeout_ms = b->iec_mode == GW_IEC_MODE_D ? 10000 : 2000;
	if (!(set & IEC_SET_BYTE_TIMEOUT))
		b->byte_timeout_ms = 1500;
	if (b->iec_backfill_after_s && b->iec_backfill_after_s <= c->poll_interval_s)
		return errorf(f, b->line,
			      "[bus %s]: backfill_after %d s is not longer than poll_interval %d s",
			      b->name, b->iec_backfill_after_s, c->poll_interval_s);
	/* A pushing meter cannot be asked for anything. */
	if (b->iec_mode == GW_IEC_MODE_D && b->iec_backfill_after_s)
		return errorf(f, b->line,
			      "[bus %s]: backfill_after needs mode c or fixed (a mode d meter only pushes)",
			      b->name);
	b->data_bits = b->iec_8n1 ? 8 : 7;
	b->parity = b->iec_8n1 ? 'N' : 'E';
	b->stop_bits = 1;
	return 0;
}

/* An address: 1..32 of 0-9 A-Z a-z and blanks; "-" or "" for none. */
static int valid_address(const char *s)
{
	size_t n = strlen(s);

	if (n > GW_METER_ADDR_MAX - 1)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != ' ')
			return 0;
	return 1;
}

static int finish_iec_meter(struct parse_state *st, int i)
{
	struct gw_config *c = st->cfg;
	struct gw_meter_config *m = &c->meters[i];
	struct meter_refs *r = &st->refs[i];
	const char *mf = m->source;
	int line = r->address_line ? r->address_line : r->unit_line;
	const char *a = strcmp(r->unit, "-") == 0 ? "" : r->unit;

	if (!valid_address(a))
		return errorf(mf, line,
			      "meter %s: address '%s' is not up to 32 letters, digits or blanks ('-' for none)",
			      m->id, r->unit);
	gw_strlcpy(m->address, a, sizeof(m->address));
	m->unit_id = 0;
	if (r->profile_line && strcmp(r->profile, "-") != 0)
		return errorf(mf, r->profile_line,
			      "meter %s: profile: a meter on an iec62056-21 bus has none ('-')",
			      m->id);
	for (int j = 0; j < i; j++)
		if (c->meters[j].bus == m->bus &&
		    strcmp(c->meters[j].address, m->address) == 0)
			return errorf(mf, line,
				      "meter %s: address '%s' on bus %s is already meter %s (%s:%d)",
				      m->id, m->address, r->bus, c->meters[j].id,
				      c->meters[j].source, c->meters[j].line);
	return 0;
}

/* Checks what can only be checked once everything is read. */
static int finish(struct parse_state *st)
{
	struct gw_config *c = st->cfg;
	const char *f = c->path;

	if (!st->gw_line)
		return errorf(f, 0, "missing section [gateway]");
	if (!st->id_line)
		return errorf(f, st->gw_line, "[gateway]: missing required key 'id'");
	if (!st->tz_line)
		return errorf(f, st->gw_line,
			      "[gateway]: missing required key 'timezone'");
	if (!st->spool_line)
		return errorf(f, st->gw_line,
			      "[gateway]: missing required key 'spool_dir'");
	if (c->midnight_tolerance_s * 2 > c->max_gap_s)
		return errorf(f, st->gw_line,
			      "[gateway]: max_gap (%ds) must be at least twice midnight_tolerance (%ds)",
			      c->max_gap_s, c->midnight_tolerance_s);
	if (st->clock_line) {
		if (!st->has_start && st->clock_speed > 1)
			return errorf(f, st->clock_line,
				      "[clock]: speed > 1 needs 'start' (the simulated time at the anchor)");
		if (st->has_start || st->has_anchor || st->clock_speed > 1)
			gw_clock_init_sim(&c->clock,
					  st->has_anchor ? st->clock_anchor_us : 0,
					  st->has_start ? st->clock_start_ms
							: gw_real_now_us() / 1000,
					  st->clock_speed);
	}
	for (int i = 0; i < c->n_buses; i++) {
		struct gw_bus_config *b = &c->buses[i];
		if (!st->bus_type_line[i])
			return errorf(f, b->line, "[bus %s]: missing required key 'type'",
				      b->name);
		if (b->type == GW_BUS_MODBUS_TCP && !st->bus_host_line[i])
			return errorf(f, b->line,
				      "[bus %s]: missing required key 'host' for modbus-tcp",
				      b->name);
		if (b->type == GW_BUS_MODBUS_RTU && !st->bus_device_line[i])
			return errorf(f, b->line,
				      "[bus %s]: missing required key 'device' for modbus-rtu",
				      b->name);
		int rc = finish_iec_bus(st, i);
		if (rc)
			return rc;
	}
	if (st->meters_line) {
		int rc = load_meters_csv(st, c->meters_csv);
		if (rc)
			return rc;
	}
	for (int i = 0; i < c->n_meters; i++) {
		struct gw_meter_config *m = &c->meters[i];
		struct meter_refs *r = &st->refs[i];
		const char *mf = m->source;
		if (!r->bus_line)
			return errorf(mf, m->line, "meter %s: missing required key 'bus'",
				      m->id);
		for (int b = 0; b < c->n_buses; b++)
			if (strcmp(c->buses[b].name, r->bus) == 0)
				m->bus = b;
		if (m->bus >= 0 && c->buses[m->bus].type == GW_BUS_IEC62056) {
			int rc = finish_iec_meter(st, i);
			if (rc)
				return rc;
			continue;
		}
		if (r->address_line)
			return errorf(mf, r->address_line,
				      "meter %s: address: only meters on an iec62056-21 bus have one",
				      m->id);
		if (!r->unit_line)
			return errorf(mf, m->line, "meter %s: missing required key 'unit'",
				      m->id);
		if (!r->profile_line)
			return errorf(mf, m->line,
				      "meter %s: missing required key 'profile'", m->id);
		if (m->bus < 0)
			return errorf(mf, r->bus_line, "meter %s: no bus named '%s'",
				      m->id, r->bus);
		if (r->unit_deferred) {
			long long x;
			if (parse_int(r->unit, 1, 247, &x))
				return errorf(mf, r->unit_line,
					      "unit: '%s' is not a number in 1..247",
					      r->unit);
			m->unit_id = (int)x;
		}
		for (int j = 0; j < i; j++)
			if (c->meters[j].bus == m->bus &&
			    c->meters[j].unit_id == m->unit_id)
				return errorf(mf, r->unit_line,
					      "meter %s: unit %d on bus %s is already meter %s (%s:%d)",
					      m->id, m->unit_id, r->bus, c->meters[j].id,
					      c->meters[j].source, c->meters[j].line);
		int rc = find_profile(c, r->profile, &m->profile);
		if (rc == GW_ENOTFOUND || rc == GW_EIO)
			return errorf(mf, r->profile_line,
				      "meter %s: cannot load profile '%s' from %s",
				      m->id, r->profile, c->profiles_dir);
		if (rc)
			return errorf(mf, r->profile_line,
				      "meter %s: profile '%s' is not valid (see above)",
				      m->id, r->profile);
	}
	return 0;
}

int gw_config_load(const char *path, struct gw_config **out)
{
	struct parse_state st;
	struct gw_config *c;
	int rc;

	*out = NULL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return GW_ENOMEM;
	memset(&st, 0, sizeof(st));
	st.cfg = c;
	st.file = path;
	st.clock_speed = 1;
	gw_strlcpy(c->path, path, sizeof(c->path));
	resolve_path(path, "profiles", c->profiles_dir, sizeof(c->profiles_dir));
	c->poll_interval_s = 900;
	c->midnight_tolerance_s = 60;
	c->max_gap_s = 7200;
	c->seal_delay_s = 1800;
	c->max_power_w = 250000;
	c->revision_window_days = 2;
	c->log_level = GW_LOG_INFO;
	c->spool_max_bytes = UINT64_C(512) << 20;
	c->offline_after = 3;
	c->retry_backoff_max = 8;
	c->upload_interval_s = 60;
	c->upload_retry_max_s = 300;
	c->db_statement_timeout_s = 300;
	c->db_lock_timeout_s = 30;
	c->db_idle_timeout_s = 60;
	c->db_stall_after_s = 900;
	gw_clock_init_real(&c->clock);

	rc = gw_ini_parse(path, on_ini, &st);
	if (rc == 0)
		rc = finish(&st);
	free(st.refs);
	free(st.bus_type_line);
	free(st.bus_host_line);
	free(st.bus_device_line);
	free(st.bus_iec);
	if (rc) {
		gw_config_free(c);
		return rc == GW_EIO || rc == GW_ENOMEM ? rc : GW_ECONFIG;
	}
	*out = c;
	return 0;
}

void gw_config_free(struct gw_config *c)
{
	if (!c)
		return;
	for (int i = 0; i < c->n_profiles; i++)
		gw_profile_free(c->profiles[i]);
	free(c->profiles);
	free(c->buses);
	free(c->meters);
	free(c);
}

const struct gw_meter_config *gw_config_find_meter(const struct gw_config *c,
						   const char *id)
{
	for (int i = 0; i < c->n_meters; i++)
		if (strcmp(c->meters[i].id, id) == 0)
			return &c->meters[i];
	return NULL;
}
