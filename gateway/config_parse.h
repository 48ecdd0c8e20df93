/* SPDX-License-Identifier: MIT */
/*
 * config_parse.h - inside the configuration reader: the state config.c
 * (the core's sections) and config_bus.c (buses, meters, the CSV list)
 * share while a file is read. Not for use outside gateway/config*.c.
 */
#ifndef GW_CONFIG_PARSE_H
#define GW_CONFIG_PARSE_H

#include "config.h"

enum sect { S_NONE, S_GATEWAY, S_CLOCK, S_DATABASE, S_BUS, S_METER, S_METRICS };

/* The most keys a core section's table has. */
#define CORE_KEYS_MAX 32

/* [clock] as read, until the clock is set up once the file is read. */
struct clock_keys {
	int64_t max_jump_s;
	int64_t speed;
	int64_t anchor_us;
	int64_t start_ms;
};

/* A key of a driver's, kept until its bus's driver is known. */
struct kv {
	char *key, *value;
	int line;
};

/* What a bus or meter section said, beyond the keys the core reads. */
struct pending {
	struct kv *kv;
	int n, cap;
	const char *file; /* where (the INI file or the CSV list) */
};

/* Per bus while reading. */
struct bus_state {
	int type_line;
	struct pending keys; /* its driver's keys */
	int *lines;          /* per key of the driver's table: its line */
	int flushed;         /* keys handed to the driver */
};

/* Per meter while reading. */
struct meter_state {
	char bus[GW_ID_MAX];
	int bus_line;
	struct pending keys;
};

struct parse_state {
	struct gw_config *cfg;
	const char *file; /* the file being read, for messages */
	enum sect sect;
	int sect_line;
	/* keys seen in the current section, to reject duplicates */
	char seen[32][32];
	int n_seen;
	int gw_line, clock_line; /* where the section starts, 0 if absent */
	int gw_lines[CORE_KEYS_MAX], clock_lines[CORE_KEYS_MAX];
	int db_lines[CORE_KEYS_MAX];
	int metrics_lines[CORE_KEYS_MAX];
	struct clock_keys clock;
	int cap_buses, cap_meters;
	struct bus_state *bus;
	struct meter_state *meter;
	/* the meters by (bus, where) while they are finished, to refuse two
	 * in one place: as cfg->meter_slots */
	int n_where_slots;
	int *where_slots;
	/* the meters whose options are kept (not shared), by their bytes:
	 * as where_slots (finish_meter) */
	int *opts_slots;
};

extern const struct gw_opt gw_config_gateway_keys[];
extern const struct gw_opt gw_config_clock_keys[];
extern const struct gw_opt gw_config_database_keys[];
extern const struct gw_opt gw_config_metrics_keys[];
extern const struct gw_opt gw_config_bus_keys[];
extern const struct gw_opt gw_config_meter_keys[];

/* config_bus.c: a [bus NAME] or [meter ID] header, a key in one, the end
 * of a section (a bus's keys go to its driver), and everything about
 * buses and meters once the file is read (the CSV list too). Each returns
 * 0 or GW_ECONFIG after reporting (GW_ENOMEM). */
int gw_config_add_bus(struct parse_state *st, const char *name, int line);
int gw_config_add_meter(struct parse_state *st, const char *id,
			const char *file, int line);
int gw_config_key_bus(struct parse_state *st, const char *key,
		      const char *value, int line);
int gw_config_key_meter(struct parse_state *st, const char *key,
			const char *value, int line);
int gw_config_section_end(struct parse_state *st);
int gw_config_finish_buses(struct parse_state *st);
/* Frees what st holds (not st->cfg). */
void gw_config_parse_free(struct parse_state *st);

#endif
