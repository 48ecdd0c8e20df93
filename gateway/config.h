/* SPDX-License-Identifier: MIT */
/*
 * config.h - the gateway's configuration: one INI file (gatewayd -c FILE),
 * optionally a meter list as CSV next to it.
 *
 * Every key is range-checked. An unknown key, a bad value or a missing
 * required key is reported as "FILE:LINE: message" and start-up stops.
 * docs/configuration.md is the reference for every key; its tables are
 * printed from the key tables (gw_config_keys_markdown).
 *
 * The configuration core knows the sections [gateway], [clock] and
 * [database] and the keys every bus and meter has; every other key of a
 * [bus] or [meter] section belongs to the driver its bus's `type` names
 * (drivers/driver.h), which keeps it in gw_bus_config.opts and
 * gw_meter_config.opts.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdint.h>
#include <stdio.h>

#include "clock.h"
#include "driver.h"
#include "gw.h"

/* The size of a block of meter ids (gw_config.id_blocks). */
#define GW_CONFIG_ID_BLOCK 16384

struct gw_config {
	char path[GW_PATH_MAX];
	/* [gateway] */
	char gateway_id[GW_ID_MAX];
	char timezone[64];
	char spool_dir[GW_PATH_MAX];
	char profiles_dir[GW_PATH_MAX * 2]; /* directories, ':' between */
	char meters_csv[GW_PATH_MAX];
	int poll_interval_s;      /* simulated seconds between poll cycles */
	int midnight_tolerance_s; /* a reading this close to midnight is "measured" */
	int max_gap_s;            /* longer gaps around midnight are "estimated" */
	int seal_delay_s;         /* wait after midnight before sealing a day */
	int64_t max_power_w;      /* plausibility bound for increases, W; 0 none */
	int revision_window_days; /* sealed days that late readings still revise */
	uint64_t spool_max_bytes;     /* spool size bound; 0: none */
	int spool_full_policy;        /* enum gw_spool_policy (spool.h) */
	int spool_compression;        /* enum gw_batch_deflate (batchfile.h) */
	int allow_delete_unuploaded;  /* 1: the bound may delete ready batches */
	enum gw_log_level log_level;
	int offline_after;     /* failed cycles in a row before "offline" */
	int retry_backoff_max; /* most cycles an offline meter is skipped (0: none) */
	int stall_after_s;     /* real seconds a thread may go without progress
				* before the watchdog stops (daemon_watch.c) */
	/* [clock] */
	struct gw_clock clock;
	/* how far the clock may be from its witnesses before the gateway stops
	 * sealing on its word (s); 0: not given, the default (gatewayd) */
	int64_t clock_max_jump_s;
	/* [database] */
	char db_conninfo[1024];
	int upload_interval_s; /* real seconds between upload passes */
	int upload_retry_max_s;
	int db_statement_timeout_s;  /* the upload session's limits */
	int db_lock_timeout_s;
	int db_idle_timeout_s;       /* idle_in_transaction_session_timeout */
	int db_stall_after_s;        /* a pass without progress: upload_stalled */
	/* [metrics] */
	char metrics_textfile[GW_PATH_MAX]; /* Prometheus text file; "" none */
	/* [bus NAME] and [meter ID] sections and the CSV meter list */
	int n_buses;
	struct gw_bus_config *buses;
	int n_meters;
	struct gw_meter_config *meters;
	/* the meters by id (gw_config_find_meter): an open-addressed table
	 * of meter index + 1 (0: empty), n_meter_slots a power of two, at
	 * least twice n_meters */
	int n_meter_slots;
	int *meter_slots;
	/* the files meters were defined in (gw_meter_config.source) */
	int n_sources;
	char **sources;
	/* the meters' ids (gw_meter_config.id), one after another with
	 * their NULs in blocks of GW_CONFIG_ID_BLOCK bytes that never move;
	 * ids_used: bytes taken in the last block */
	size_t n_id_blocks;
	char **id_blocks;
	size_t ids_used;
	/* what the drivers share between meters: the meter profiles (Modbus
	 * register maps) loaded, one per model */
	int n_profiles;
	struct gw_shared *profiles;
};

/* Reads and validates the file. On error reports "FILE:LINE: message" on
 * stderr and returns GW_ECONFIG (or GW_EIO, GW_ENOMEM) with *out NULL.
 * Free with gw_config_free(). */
int gw_config_load(const char *path, struct gw_config **out);
void gw_config_free(struct gw_config *cfg);

/* The meter with this id, or NULL. */
const struct gw_meter_config *gw_config_find_meter(const struct gw_config *cfg,
						   const char *id);

/* Where meter m of cfg is: "unit 3 on bus b1", "address '42' on bus
 * line2" (its driver's gw_meter_where and its bus's name), into buf (cap
 * bytes; GW_CONFIG_PLACE_MAX is enough). For messages. Returns buf. */
#define GW_CONFIG_PLACE_MAX (GW_WHERE_MAX + sizeof(" on bus ") + GW_ID_MAX)
const char *gw_config_meter_place(const struct gw_config *cfg,
				  const struct gw_meter_config *m, char *buf,
				  size_t cap);

/* The value at which register obis of meter meter_id rolls over, as its
 * driver tells (gw_driver_ops.rollover); 0 when unknown or never. */
int64_t gw_config_rollover(const struct gw_config *cfg, const char *meter_id,
			   const char *obis);

/* Prints the Markdown table of a section's keys, as docs/configuration.md
 * holds it: "gateway", "clock", "database", "metrics", "bus" (the keys every bus
 * has), "meter" (every meter), or a driver's name ("modbus-tcp": its bus
 * keys; "meter modbus-tcp": its meter keys). Returns 0 or GW_ENOTFOUND. */
int gw_config_keys_markdown(FILE *f, const char *section);

#endif
