/* SPDX-License-Identifier: MIT */
/*
 * config.h - the gateway's configuration: one INI file (gatewayd -c FILE),
 * optionally a meter list as CSV next to it.
 *
 * Every key is range-checked. An unknown key, a bad value or a missing
 * required key is reported as "FILE:LINE: message" and start-up stops.
 * docs/configuration.md is the reference for every key.
 */
#ifndef GW_CONFIG_H
#define GW_CONFIG_H

#include <stdint.h>

#include "clock.h"
#include "gw.h"
#include "profile.h"

enum gw_bus_type {
	GW_BUS_MODBUS_TCP,
	GW_BUS_MODBUS_RTU,
	GW_BUS_IEC62056, /* IEC 62056-21 (optical head or RS-485) */
};

/* How an iec62056-21 bus talks to its meters. */
enum gw_iec_mode {
	GW_IEC_MODE_C = 0, /* sign-on at `baud`, switch to the meter's baud
			    * (at most max_baud), readout */
	GW_IEC_MODE_FIXED, /* sign-on and readout at `baud`, no switch */
	GW_IEC_MODE_D,     /* the meter pushes telegrams; only listen */
};

/* An IEC 62056-21 device address: up to 32 characters. */
#define GW_METER_ADDR_MAX 33

struct gw_bus_config {
	char name[GW_ID_MAX];
	enum gw_bus_type type;
	/* modbus-tcp */
	char host[256];
	int port;
	/* modbus-rtu */
	char device[GW_PATH_MAX];
	int baud;
	char parity; /* 'N', 'E', 'O' */
	int data_bits;
	int stop_bits;
	/* all */
	int timeout_ms;      /* response timeout */
	int byte_timeout_ms; /* gap allowed between bytes of one reply */
	/* meter health; 0: the [gateway] value */
	int offline_after;     /* failed cycles in a row before "offline" */
	int retry_backoff_max; /* most cycles an offline meter is skipped;
				* -1: "0" given (no backoff on this bus) */
	/* iec62056-21 (device, baud as the initial baud, timeouts above) */
	int iec_mode;          /* enum gw_iec_mode */
	int max_baud;          /* highest baud the bus switches to */
	int iec_8n1;           /* 1: 8N1 port, parity bit made and stripped
				* in software; 0: 7E1 */
	int iec_billing;       /* 1: also store billing-period values */
	int max_clock_drift_s; /* a meter clock further off is an event */
	int iec_backfill_after_s; /* a meter back after a gap longer than this
				   * is asked for its load profile; 0: never */
	int iec_profile_window_s; /* load-profile entries older than this
				   * (or in the future) are refused */
	int line;            /* where the section starts */
};

struct gw_meter_config {
	char id[GW_ID_MAX];
	int bus;     /* index into gw_config.buses */
	int unit_id; /* Modbus unit id 1..247 */
	char address[GW_METER_ADDR_MAX]; /* iec62056-21: "" = no address */
	const struct gw_profile *profile; /* borrowed from gw_config.profiles */
	char source[GW_PATH_MAX]; /* file the meter was defined in */
	int line;
};

struct gw_config {
	char path[GW_PATH_MAX];
	/* [gateway] */
	char gateway_id[GW_ID_MAX];
	char timezone[64];
	char spool_dir[GW_PATH_MAX];
	char profiles_dir[GW_PATH_MAX];
	char meters_csv[GW_PATH_MAX];
	int poll_interval_s;      /* simulated seconds between poll cycles */
	int midnight_tolerance_s; /* a reading this close to midnight is "measured" */
	int max_gap_s;            /* longer gaps around midnight are "estimated" */
	int seal_delay_s;         /* wait after midnight before sealing a day */
	int64_t max_power_w;      /* plausibility bound for increases, W; 0 none */
	int revision_window_days; /* sealed days that late readings still revise */
	uint64_t spool_max_bytes;     /* spool size bound; 0: none */
	int spool_full_policy;        /* enum gw_spool_policy (spool.h) */
	int allow_delete_unuploaded;  /* 1: the bound may delete ready batches */
	enum gw_log_level log_level;
	int offline_after;     /* failed cycles in a row before "offline" */
	int retry_backoff_max; /* most cycles an offline meter is skipped (0: none) */
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
	/* [bus NAME] and [meter ID] sections and the CSV meter list */
	int n_buses;
	struct gw_bus_config *buses;
	int n_meters;
	struct gw_meter_config *meters;
	int n_profiles;
	struct gw_profile **profiles;
};

/* Reads and validates the file. On error reports "FILE:LINE: message" on
 * stderr and returns GW_ECONFIG (or GW_EIO, GW_ENOMEM) with *out NULL.
 * Free with gw_config_free(). */
int gw_config_load(const char *path, struct gw_config **out);
void gw_config_free(struct gw_config *cfg);

/* The meter with this id, or NULL. */
const struct gw_meter_config *gw_config_find_meter(const struct gw_config *cfg,
						   const char *id);

#endif
