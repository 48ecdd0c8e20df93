/* SPDX-License-Identifier: MIT */
/*
 * config.c - reads and validates the gateway's INI file: the sections the
 * core owns ([gateway], [clock], [database]), by their key tables.
 *
 * Every error names file and line ("gateway.ini:12: poll_interval: '0' is
 * not a duration in 1s..1d") and stops start-up; the caller exits
 * non-zero. Keys are checked as they are read; references between
 * sections (a meter's bus) and required keys are checked once the file is
 * read, naming the line of the key or of the section that lacks it. [bus]
 * and [meter] sections and the CSV meter list are config_bus.c's: the core
 * reads the keys every bus and meter has and hands the others to the
 * bus's driver.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "batchfile.h"
#include "config_parse.h"
#include "dbtls.h"
#include "ini.h"
#include "tz.h"

#define GW(f) offsetof(struct gw_config, f), sizeof(((struct gw_config *)0)->f)
#define CLK(f) offsetof(struct clock_keys, f), \
	sizeof(((struct clock_keys *)0)->f)

static int parse_timezone(const char *v, void *field, char *why, size_t cap)
{
	(void)why;
	(void)cap;
	if (gw_tz_set(v) != 0)
		return GW_EINVAL;
	return gw_strlcpy(field, v, sizeof(((struct gw_config *)0)->timezone))
		       ? GW_EINVAL : 0;
}

static int parse_log_level(const char *v, void *field, char *why, size_t cap)
{
	enum gw_log_level l;

	(void)why;
	(void)cap;
	if (gw_log_parse_level(v, &l))
		return GW_EINVAL;
	memcpy(field, &l, sizeof(l));
	return 0;
}

static const struct gw_opt_choice spool_policies[] = {
	{ "drop-intervals", 0, 0 }, { "keep", 1, 0 }, { NULL, 0, 0 },
};

/* enum gw_batch_deflate (batchfile.h) */
static const struct gw_opt_choice spool_compressions[] = {
	{ "zlib-6", GW_DEFLATE_6, 0 }, { "zlib-1", GW_DEFLATE_1, 0 },
	{ "zlib-rle", GW_DEFLATE_RLE, 0 }, { NULL, 0, 0 },
};

#define HELP_SPOOL_MAX                                                          \
	"the spool's size bound, counting `ready/`, `done/`, `quarantine/`, "     \
	"`journal/` and `tmp/` (apparent file sizes). `spool_max_bytes` is the "  \
	"same key. Keep it well below the free space of the spool's file system: " \
	"a full disk is not the bound, and nothing not yet uploaded is dropped "  \
	"for it ([spool-format.md](spool-format.md#a-full-disk)). The default "  \
	"holds a month offline of 10,000 meters with 3 registers read every 15 " \
	"minutes (about 3 MB of batches a day, and 5 MB of journal a day kept " \
	"for `revision_window` + 2 days: 113 MB) with room to spare; with the " \
	"23 registers of an ABB B23 such a fleet needs `1GB` "                   \
	"([spool-format.md](spool-format.md#sizing-spool_max))"

/* The order of the required keys is the order their absence is reported
 * in. */
const struct gw_opt gw_config_gateway_keys[] = {
	{ .name = "id", .type = GW_OPT_ID, GW(gateway_id), .flags = GW_OPT_REQUIRED,
	  .help = "the gateway's id in the database and in batch file names" },
	{ .name = "timezone", .type = GW_OPT_CUSTOM, GW(timezone),
	  .parse = parse_timezone, .flags = GW_OPT_REQUIRED,
	  .expect = "an installed IANA time zone",
	  .doc_range = "an installed IANA zone",
	  .help = "days are calendar days in this zone (`Asia/Ho_Chi_Minh`)" },
	{ .name = "spool_dir", .type = GW_OPT_PATH, GW(spool_dir),
	  .flags = GW_OPT_REQUIRED,
	  .help = "where sealed batches wait for upload (see architecture.md)" },
	{ .name = "profiles_dir", .type = GW_OPT_PATH, GW(profiles_dir),
	  .flags = GW_OPT_LIST,
	  .def = "profiles", .doc_default = "`profiles` next to the file",
	  .doc_range = "directories separated by `:`",
	  .help = "where meter profiles (`NAME.prof`) are, searched in order: the "
		  "first directory that has the file wins (the package's example: "
		  "`/etc/gatewayd/profiles:/usr/share/gatewayd/profiles`, a "
		  "site's own or changed profiles before the packaged ones)" },
	{ .name = "meters", .type = GW_OPT_PATH, GW(meters_csv),
	  .help = "CSV meter list, see below" },
	{ .name = "poll_interval", .type = GW_OPT_DURATION, GW(poll_interval_s),
	  .min = 1, .max = 86400, .def = "15m",
	  .help = "time between poll cycles; cycles start on multiples of it (UTC). "
		  "Each bus is also read once at start and after a reload "
		  "(`systemctl reload`), so that meter health and `gwctl status` "
		  "are current at once: a day with a start or reload can hold "
		  "one reading more per meter than it has intervals" },
	{ .name = "midnight_tolerance", .type = GW_OPT_DURATION,
	  GW(midnight_tolerance_s), .min = 0, .max = 3600, .def = "1m",
	  .help = "a reading this close to a local midnight is the midnight value "
		  "(`measured`)" },
	{ .name = "max_gap", .type = GW_OPT_DURATION, GW(max_gap_s), .min = 60,
	  .max = 7 * 86400, .def = "2h",
	  .doc_range = "1m..7d, at least twice `midnight_tolerance`",
	  .help = "readings around midnight further apart than this give "
		  "`estimated` instead of `interpolated`" },
	{ .name = "max_power", .type = GW_OPT_INT, GW(max_power_w), .min = 0,
	  .max = 100000000, .def = "250000",
	  .expect = "a power in W in 0..100000000",
	  .doc_range = "0..100000000 (W)",
	  .help = "the largest power a meter can draw: an increase beyond it "
		  "between two readings is a jump (left out of the day, flagged, "
		  "event `jump`), and it bounds what a counter restarted from zero "
		  "can have counted since (counted if below). 0: no configured "
		  "bound (a restarted counter's first value is not counted; an "
		  "increase beyond 10 GW is still a jump). Whatever it is, a "
		  "cumulative register's value below 0 or above 10^15 is refused "
		  "(`bad_value`) and one reading out of line with both its "
		  "neighbours is left out (`jump`)" },
	{ .name = "revision_window", .type = GW_OPT_DAYS, GW(revision_window_days),
	  .min = 0, .max = 31 * 86400, .def = "2d",
	  .help = "how long sealed days are kept to be sealed again as a new "
		  "revision when readings change them (a meter back after a gap: "
		  "the day before it, each dark day and the day it came back on; a "
		  "load profile read later); older readings are dropped and counted "
		  "(`dropped_late`). A meter silent for longer gives a `long_gap` "
		  "event with the energy not placed on days "
		  "([database.md](database.md#conservation-the-days-add-up)). The "
		  "journal keeps this many days more of readings (about 0.5 kB per "
		  "meter and day for three registers every 15 minutes; it counts "
		  "towards `spool_max`; [spool-format.md](spool-format.md#removal))" },
	{ .name = "seal_delay", .type = GW_OPT_DURATION, GW(seal_delay_s),
	  .min = 0, .max = 86400, .def = "30m",
	  .help = "how long after local midnight a day waits for late readings "
		  "before it is sealed" },
	{ .name = "log_level", .type = GW_OPT_CUSTOM, GW(log_level),
	  .parse = parse_log_level, .def = "info",
	  .expect = "one of error, warn, info, debug",
	  .doc_range = "error, warn, info, debug" },
	{ .name = "offline_after", .type = GW_OPT_INT, GW(offline_after),
	  .min = 1, .max = 1000, .def = "3", .doc_range = "1..1000 (poll cycles)",
	  .help = "a meter whose reads failed in this many cycles in a row is "
		  "marked offline (event `offline`, with the reason); its first good "
		  "read marks it online again (event `online`). Both events go into "
		  "the day's batch and the `meter_events` table. Per bus too, below" },
	{ .name = "retry_backoff_max", .type = GW_OPT_INT, GW(retry_backoff_max),
	  .min = 0, .max = 1000, .def = "8", .doc_range = "0..1000 (poll cycles)",
	  .help = "an offline meter is retried after 1, 2, 4 ... skipped cycles, "
		  "at most this many, so that dead meters cost their line little; "
		  "0: tried every cycle. Per bus too" },
	{ .name = "spool_max", .type = GW_OPT_SIZE, GW(spool_max_bytes),
	  .def = "512MB",
	  .doc_range = "a size: bytes, or with `kB`/`KB`, `MB`, `GB` (powers of "
		       "1024); `0`: no bound",
	  .help = HELP_SPOOL_MAX },
	{ .name = "spool_max_bytes", .type = GW_OPT_SIZE, GW(spool_max_bytes),
	  .doc_range = "as `spool_max`", .help = "the same as `spool_max`" },
	{ .name = "spool_full_policy", .type = GW_OPT_CHOICE,
	  GW(spool_full_policy), .choices = spool_policies,
	  .def = "drop-intervals",
	  .help = "what happens when the bound is reached, after uploaded batches "
		  "in `done/` have been emptied: `drop-intervals` rewrites the oldest "
		  "batches not yet uploaded without their interval readings (daily "
		  "totals and events are kept); `keep` drops nothing. Either way an "
		  "alarm is raised ([spool-format.md](spool-format.md#size-bound))" },
	{ .name = "spool_compression", .type = GW_OPT_CHOICE,
	  GW(spool_compression), .choices = spool_compressions, .def = "zlib-6",
	  .help = "how a sealed day's batch file is compressed: `zlib-6` (zlib "
		  "level 6) gives the smallest files; `zlib-1` about 2-3 % larger "
		  "ones in about half the compression time, `zlib-rle` (runs "
		  "only) 8-12 % larger ones in a quarter of it, for a gateway "
		  "whose seal of a day takes too long (a day of 10,000 meters of "
		  "26 registers is about 50 MB before compression; "
		  "[spool-format.md](spool-format.md#compression)). Every reader "
		  "reads all three. The default stays `zlib-6`: on two cores the "
		  "seal takes as long as the longer of the encoder's thread and "
		  "deflate's, about equal at zlib-6, so the faster two save CPU "
		  "more than time" },
	{ .name = "allow_delete_unuploaded", .type = GW_OPT_BOOL,
	  GW(allow_delete_unuploaded), .def = "no",
	  .help = "last resort when still over the bound: delete the oldest "
		  "batches not yet uploaded. Off by default: a sealed day is never "
		  "deleted before upload unless the operator says so" },
	{ .name = "stall_after", .type = GW_OPT_DURATION, GW(stall_after_s),
	  .min = 1, .max = 86400, .def = "10m",
	  .help = "a poll worker busy with one meter read, or the main loop with "
		  "one turn, for this long (real time) is stuck: the gateway stops "
		  "feeding systemd's watchdog, which restarts it "
		  "([deployment.md](deployment.md#the-watchdog)). Longer than any "
		  "one read can take (a slow IEC 62056-21 readout)" },
	{ 0 },
};

static int parse_anchor(const char *v, void *field, char *why, size_t cap)
{
	(void)why;
	(void)cap;
	return gw_clock_parse_anchor(v, field) ? GW_EINVAL : 0;
}

static int parse_start(const char *v, void *field, char *why, size_t cap)
{
	(void)why;
	(void)cap;
	return gw_parse_utc(v, field) ? GW_EINVAL : 0;
}

const struct gw_opt gw_config_clock_keys[] = {
	{ .name = "max_jump", .type = GW_OPT_DURATION, CLK(max_jump_s), .min = 60,
	  .max = 365LL * 86400,
	  .doc_default = "`2h` (a simulated clock: at least 60 real seconds at its "
			 "speed)",
	  .help = "a clock further than this from its witnesses is *held*: alarm "
		  "`clock_jump`, no day sealed beyond what the witnesses allow, "
		  "readings journaled but kept out of days until the hold ends. A "
		  "step of the clock within it (an NTP correction) is taken as it "
		  "comes" },
	{ .name = "speed", .type = GW_OPT_INT, CLK(speed), .min = 1,
	  .max = GW_CLOCK_SPEED_MAX, .def = "1",
	  .help = "simulated seconds per real second" },
	{ .name = "start", .type = GW_OPT_CUSTOM, CLK(start_ms),
	  .parse = parse_start, .expect = "a UTC time like 2026-03-01T00:00:00Z",
	  .doc_range = "UTC time `2026-03-01T00:00:00Z`",
	  .help = "the simulated time at the anchor; required when speed > 1" },
	{ .name = "anchor", .type = GW_OPT_CUSTOM, CLK(anchor_us),
	  .parse = parse_anchor,
	  .expect = "'now', real UTC seconds since 1970 or @FILE",
	  .doc_default = "the moment the gateway starts",
	  .doc_range = "`now`, real UTC seconds (`1767225600.25`) or `@FILE` (the seconds FILE will hold; the clock stands at `start` until it is there)",
	  .help = "the real instant at which the simulated clock reads `start`" },
	{ 0 },
};

static int parse_conninfo(const char *v, void *field, char *why, size_t cap)
{
	if (gw_strlcpy(field, v, sizeof(((struct gw_config *)0)->db_conninfo))) {
		snprintf(why, cap, "too long");
		return GW_EINVAL;
	}
	/* TCP without sslmode is verify-full, which needs the CA. */
	if (gw_db_tls_check(v, why, cap) == GW_TLS_REFUSE)
		return GW_EINVAL;
	return 0;
}

const struct gw_opt gw_config_database_keys[] = {
	{ .name = "conninfo", .type = GW_OPT_CUSTOM, GW(db_conninfo),
	  .parse = parse_conninfo, .doc_range = "libpq connection string or URI",
	  .help = "`host=db1,db2 dbname=meters user=gw_sub042 "
		  "target_session_attrs=read-write sslmode=verify-full "
		  "sslrootcert=... sslcert=... sslkey=...`: every server, the "
		  "writable one is taken (failover); no `password=` here (a warning "
		  "is logged): use a client certificate or a password file "
		  "(`passfile=`, `PGPASSFILE`). **TLS**: a TCP connection without "
		  "`sslmode` uses `verify-full`, which needs the server's CA "
		  "(`sslrootcert=`, else `~/.postgresql/root.crt`): without one, "
		  "`gatewayd` refuses to start (`FILE:LINE: conninfo: TCP connection "
		  "without sslmode: ...`). `sslmode=prefer`, `require`, `verify-ca` "
		  "and the like work only when written, with a warning at every "
		  "start. A Unix socket (`host=/path`) needs no TLS. See "
		  "[deployment-database.md](deployment-database.md)" },
	{ .name = "upload_interval", .type = GW_OPT_DURATION, GW(upload_interval_s),
	  .min = 1, .max = 86400, .def = "60",
	  .help = "how often the spool is checked for batches to load (a sealed "
		  "day is loaded at once)" },
	{ .name = "retry_max", .type = GW_OPT_DURATION, GW(upload_retry_max_s),
	  .min = 1, .max = 3600, .def = "5m",
	  .help = "the longest wait between attempts while the database is "
		  "unreachable (backoff doubles from 1 s, with jitter)" },
	{ .name = "statement_timeout", .type = GW_OPT_DURATION,
	  GW(db_statement_timeout_s), .min = 1, .max = 86400, .def = "5m",
	  .help = "the upload session's `statement_timeout`: a statement that runs "
		  "longer is cancelled and the batch retried later" },
	{ .name = "lock_timeout", .type = GW_OPT_DURATION, GW(db_lock_timeout_s),
	  .min = 1, .max = 3600, .def = "30s",
	  .help = "the upload session's `lock_timeout`: a lock wait longer than "
		  "this fails the batch (retried later) rather than queueing other "
		  "sessions behind it" },
	{ .name = "idle_in_transaction_timeout", .type = GW_OPT_DURATION,
	  GW(db_idle_timeout_s), .min = 1, .max = 3600, .def = "60s",
	  .help = "the upload session's `idle_in_transaction_session_timeout`: a "
		  "batch's transaction left idle (a link that died mid-batch) is "
		  "ended by the server" },
	{ .name = "stall_after", .type = GW_OPT_DURATION, GW(db_stall_after_s),
	  .min = 1, .max = 86400, .def = "15m",
	  .help = "an upload pass that has neither begun nor finished a batch for "
		  "this long raises the `upload_stalled` alarm in `spool/status` "
		  "(`upload_stalled_s=` says for how long)" },
	{ 0 },
};

const struct gw_opt gw_config_metrics_keys[] = {
	{ .name = "textfile", .type = GW_OPT_PATH, GW(metrics_textfile),
	  .doc_default = "none (no metrics file)",
	  .help = "a file gatewayd rewrites after every poll cycle (at most once "
		  "a second) with its metrics in the Prometheus text format, for "
		  "node_exporter's textfile collector "
		  "(`/var/lib/prometheus/node-exporter/gatewayd.prom`: it reads "
		  "only names ending in `.prom`): written beside it as `NAME.tmp` "
		  "and renamed into place, mode 0644. `gwctl metrics` prints the "
		  "same text from the spool ([metrics.md](metrics.md))" },
	{ 0 },
};

/* A key of [gateway], [clock], [database] or [metrics]: by the section's
 * table. */
static int key_core(struct parse_state *st, const struct gw_opt *tab,
		    void *obj, int *lines, const char *section,
		    const char *key, const char *value, int line)
{
	int i = gw_opt_find(tab, key);

	if (i < 0)
		return gw_opt_error(st->file, line, "unknown key '%s' in [%s]", key,
				    section);
	lines[i] = line;
	return gw_opt_set(&tab[i], obj, value, st->cfg->path, st->file, line);
}

/* A section header: which section the keys below belong to. */
static int on_section(struct parse_state *st, const char *section, int line)
{
	char kind[32], name[256];
	int n = sscanf(section, "%31s %255s", kind, name);
	int rc = gw_config_section_end(st);

	if (rc)
		return rc;
	st->n_seen = 0;
	st->sect_line = line;
	if (n == 1 && strcmp(kind, "gateway") == 0) {
		if (st->gw_line)
			return gw_opt_error(st->file, line,
					    "[gateway] appears twice (first at line %d)",
					    st->gw_line);
		st->sect = S_GATEWAY;
		st->gw_line = line;
	} else if (n == 1 && strcmp(kind, "clock") == 0) {
		if (st->clock_line)
			return gw_opt_error(st->file, line,
					    "[clock] appears twice (first at line %d)",
					    st->clock_line);
		st->sect = S_CLOCK;
		st->clock_line = line;
	} else if (n == 1 && strcmp(kind, "database") == 0) {
		st->sect = S_DATABASE;
	} else if (n == 1 && strcmp(kind, "metrics") == 0) {
		st->sect = S_METRICS;
	} else if (n == 2 && strcmp(kind, "bus") == 0) {
		if (!gw_opt_valid_id(name, GW_ID_MAX) || strchr(section + 4, ' '))
			return gw_opt_error(st->file, line,
					    "bus name '%s' is not valid", name);
		st->sect = S_BUS;
		return gw_config_add_bus(st, name, line);
	} else if (n == 2 && strcmp(kind, "meter") == 0) {
		if (!gw_opt_valid_id(name, GW_ID_MAX) || strchr(section + 6, ' '))
			return gw_opt_error(st->file, line,
					    "meter id '%s' is not valid", name);
		st->sect = S_METER;
		return gw_config_add_meter(st, name, st->file, line);
	} else {
		return gw_opt_error(st->file, line,
				    "unknown section [%s] (expected gateway, clock, database, metrics, bus NAME, meter ID)",
				    section);
	}
	return 0;
}

static int on_ini(void *ctx, const char *section, const char *key,
		  const char *value, int line)
{
	struct parse_state *st = ctx;

	if (!key)
		return on_section(st, section, line);
	if (st->sect == S_NONE)
		return gw_opt_error(st->file, line, "key '%s' before any section", key);
	for (int i = 0; i < st->n_seen; i++)
		if (strcmp(st->seen[i], key) == 0)
			return gw_opt_error(st->file, line,
					    "key '%s' appears twice in [%s]", key,
					    section);
	if (st->n_seen < 32)
		gw_strlcpy(st->seen[st->n_seen++], key, sizeof(st->seen[0]));
	switch (st->sect) {
	case S_GATEWAY:
		return key_core(st, gw_config_gateway_keys, st->cfg, st->gw_lines,
				"gateway", key, value, line);
	case S_CLOCK:
		return key_core(st, gw_config_clock_keys, &st->clock, st->clock_lines,
				"clock", key, value, line);
	case S_DATABASE:
		return key_core(st, gw_config_database_keys, st->cfg, st->db_lines,
				"database", key, value, line);
	case S_METRICS:
		return key_core(st, gw_config_metrics_keys, st->cfg, st->metrics_lines,
				"metrics", key, value, line);
	case S_BUS: return gw_config_key_bus(st, key, value, line);
	case S_METER: return gw_config_key_meter(st, key, value, line);
	default: return GW_ECONFIG;
	}
}

/* [gateway] and [clock] once the file is read. */
static int finish_core(struct parse_state *st)
{
	struct gw_config *c = st->cfg;
	const char *f = c->path;
	const struct gw_opt *o;

	if (!st->gw_line)
		return gw_opt_error(f, 0, "missing section [gateway]");
	o = gw_opt_missing(gw_config_gateway_keys, st->gw_lines);
	if (o)
		return gw_opt_error(f, st->gw_line,
				    "[gateway]: missing required key '%s'", o->name);
	if (c->midnight_tolerance_s * 2 > c->max_gap_s)
		return gw_opt_error(f, st->gw_line,
				    "[gateway]: max_gap (%ds) must be at least twice midnight_tolerance (%ds)",
				    c->max_gap_s, c->midnight_tolerance_s);
	c->clock_max_jump_s = st->clock.max_jump_s;
	if (st->clock_line) {
		int has_start = st->clock_lines[gw_opt_find(gw_config_clock_keys, "start")];
		int has_anchor = st->clock_lines[gw_opt_find(gw_config_clock_keys, "anchor")];
		if (!has_start && st->clock.speed > 1)
			return gw_opt_error(f, st->clock_line,
					    "[clock]: speed > 1 needs 'start' (the simulated time at the anchor)");
		if (has_start || has_anchor || st->clock.speed > 1)
			gw_clock_init_sim(&c->clock,
					  has_anchor ? st->clock.anchor_us : 0,
					  has_start ? st->clock.start_ms
						    : gw_real_now_us() / 1000,
					  st->clock.speed);
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
	gw_strlcpy(c->path, path, sizeof(c->path));
	gw_clock_init_real(&c->clock);
	rc = gw_opt_defaults(gw_config_gateway_keys, c, path);
	if (rc == 0)
		rc = gw_opt_defaults(gw_config_clock_keys, &st.clock, path);
	if (rc == 0)
		rc = gw_opt_defaults(gw_config_database_keys, c, path);
	if (rc == 0)
		rc = gw_ini_parse(path, on_ini, &st);
	if (rc == 0)
		rc = gw_config_section_end(&st);
	if (rc == 0)
		rc = finish_core(&st);
	if (rc == 0)
		rc = gw_config_finish_buses(&st);
	gw_config_parse_free(&st);
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
		if (c->profiles[i].free)
			c->profiles[i].free(c->profiles[i].obj);
	free(c->profiles);
	for (int i = 0; i < c->n_buses; i++)
		free(c->buses[i].opts);
	free(c->buses);
	for (int i = 0; i < c->n_meters; i++)
		if (!c->meters[i].opts_shared)
			free(c->meters[i].opts);
	free(c->meters);
	free(c->meter_slots);
	for (int i = 0; i < c->n_sources; i++)
		free(c->sources[i]);
	free(c->sources);
	for (size_t i = 0; i < c->n_id_blocks; i++)
		free(c->id_blocks[i]);
	free(c->id_blocks);
	free(c);
}

int64_t gw_config_rollover(const struct gw_config *c, const char *meter_id,
			   const char *obis)
{
	const struct gw_meter_config *m = gw_config_find_meter(c, meter_id);

	if (!m || m->bus < 0 || m->bus >= c->n_buses)
		return 0;
	const struct gw_driver_ops *d = c->buses[m->bus].driver;
	return d && d->rollover ? d->rollover(m, obis) : 0;
}

/* The [bus] table with `type`'s range: the drivers there are. */
static void bus_keys_markdown(FILE *f)
{
	struct gw_opt tab[8];
	char range[256];
	size_t n = 0;
	int k = 0;

	range[0] = '\0';
	for (int i = 0; gw_drivers[i]; i++)
		n += (size_t)snprintf(range + n, n < sizeof(range) ? sizeof(range) - n : 0,
				      "%s`%s`", i ? ", " : "", gw_drivers[i]->name);
	for (; gw_config_bus_keys[k].name && k < 7; k++) {
		tab[k] = gw_config_bus_keys[k];
		if (strcmp(tab[k].name, "type") == 0)
			tab[k].doc_range = range;
	}
	memset(&tab[k], 0, sizeof(tab[k]));
	gw_opt_markdown(f, tab);
}

int gw_config_keys_markdown(FILE *f, const char *section)
{
	static const struct {
		const char *name;
		const struct gw_opt *tab;
	} core[] = {
		{ "gateway", gw_config_gateway_keys },
		{ "clock", gw_config_clock_keys },
		{ "database", gw_config_database_keys },
		{ "metrics", gw_config_metrics_keys },
		{ "meter", gw_config_meter_keys },
	};

	if (strcmp(section, "bus") == 0) {
		bus_keys_markdown(f);
		return 0;
	}
	for (size_t i = 0; i < sizeof(core) / sizeof(core[0]); i++) {
		if (strcmp(section, core[i].name) == 0) {
			gw_opt_markdown(f, core[i].tab);
			return 0;
		}
	}
	int meter = strncmp(section, "meter ", 6) == 0;
	const struct gw_driver_ops *d = gw_driver_find(section + (meter ? 6 : 0));
	if (!d)
		return GW_ENOTFOUND;
	gw_opt_markdown(f, meter ? d->meter_keys : d->bus_keys);
	return 0;
}
