/* SPDX-License-Identifier: MIT */
/*
 * driver.h - the one small interface every meter protocol hides behind:
 * its configuration keys, open a bus, read a meter, close the bus.
 *
 * Each protocol fills one const table of operations (modelled on libmodbus's
 * backends) and keeps its private state behind a void pointer. A bus worker
 * owns its bus handle; a handle is used by one thread at a time.
 *
 * Configuration (the chrony way): the configuration core reads the keys
 * every bus and meter has (a bus's name, `type`, offline_after,
 * retry_backoff_max; a meter's id and bus) and hands every other key of a
 * [bus] or [meter] section to the driver that `type` names, through the
 * driver's key tables (common/opt.h) and its configure operations. The core
 * knows no protocol; a driver knows nothing of the core above it: this
 * header includes the common layer only.
 */
#ifndef GW_DRIVER_H
#define GW_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "clock.h"
#include "gw.h"
#include "opt.h"
#include "reading.h"

struct gw_driver_ops;

/* One [bus NAME] section. */
struct gw_bus_config {
	char name[GW_ID_MAX];
	const struct gw_driver_ops *driver; /* the bus's `type` */
	/* The driver's own options (driver->bus_opts_size bytes, read by
	 * driver->bus_keys); owned by the configuration. */
	void *opts;
	/* Keys every bus has, read by the configuration core. 0: the
	 * [gateway] value. */
	int offline_after;     /* failed cycles in a row before "offline" */
	int retry_backoff_max; /* most cycles an offline meter is skipped;
				* -1: "0" given (no backoff on this bus) */
	/* Set by the driver's bus_configure: a meter clock (a read's
	 * ident.clock_ms) further off the gateway's than this is a
	 * clock_drift event; 0: none is raised. */
	int max_clock_drift_s;
	int line; /* where the section starts */
};

/* The most bytes, with the NUL, that a driver's .where writes: the
 * longest is an IEC 62056-21 address, "address '" + 32 characters + "'". */
#define GW_WHERE_MAX 48

/* One meter: a [meter ID] section or a line of the CSV meter list. Kept
 * for every configured meter for the daemon's life (10,000 of them at a
 * large substation), so it holds only what is needed and no text that
 * can be made again: 40 bytes on LP64, at most 64 (checked in
 * driver.c). Where the meter is on its bus is made when asked (the
 * driver's .where, gw_meter_where). */
struct gw_meter_config {
	/* The meter's id, at most GW_ID_MAX - 1 characters: one copy,
	 * owned by the configuration (gw_config.ids). */
	const char *id;
	/* The driver's own options (driver->meter_opts_size bytes, read by
	 * driver->meter_keys); owned by the configuration. Once
	 * meter_configure has returned they are read-only: meters whose
	 * options are the same bytes share one block (opts_shared). */
	void *opts;
	/* The file the meter was defined in: one string per file, owned by
	 * the configuration (10,000 meters share one or two). */
	const char *source;
	int line; /* of the meter's section or CSV row in source: a file
		   * may have more than 65,535 lines */
	int bus;  /* index into the configuration's buses; -1 until known */
	/* Set by the driver's meter_configure: the most readings one .read
	 * of the meter returns (0: the driver's max_readings). A Modbus
	 * profile's registers (an int count, < 2^31), so 32 bits. */
	uint32_t max_readings;
	/* 1: opts are another meter's (the same driver, the same bytes),
	 * freed with that one; set by the configuration, not the driver. */
	uint8_t opts_shared;
};

/* Objects the meters of one configuration share (a Modbus register map,
 * loaded once for every meter of its model), owned by the configuration,
 * freed with it by .free. */
struct gw_shared {
	char name[GW_PATH_MAX];
	void *obj;
	void (*free)(void *obj);
};

/* What the configuration core lends a driver while it configures a bus
 * or a meter. Borrowed for the call. */
struct gw_conf_ctx {
	const char *path;         /* the configuration file (relative paths) */
	const char *profiles_dir; /* [gateway] profiles_dir */
	int poll_interval_s;      /* [gateway] poll_interval */
	/* The shared objects of this configuration: a driver looks one up
	 * by name and adds what it loaded (gw_shared_find, gw_shared_add). */
	struct gw_shared **shared;
	int *n_shared;
	/* meter_configure sets *where_line to the line of the key that says
	 * where the meter is on its bus (0: the meter's own line), for the
	 * message that refuses a meter in another's place. */
	int *where_line;
};

/* The object named name in ctx's shared objects, or NULL. */
void *gw_shared_find(const struct gw_conf_ctx *ctx, const char *name);
/* Adds obj under name; it is freed by free_fn with the configuration.
 * Returns 0 or GW_ENOMEM (obj is then not taken). */
int gw_shared_add(const struct gw_conf_ctx *ctx, const char *name, void *obj,
		  void (*free_fn)(void *obj));

/* Registers of one read whose value cannot be true (gw_read_faults.bad). */
#define GW_READ_BAD_MAX 32
struct gw_read_bad {
	char obis[GW_OBIS_MAX];
	char detail[64]; /* what was read, e.g. "float32 +inf" */
};

/* What went wrong in one read, request by request: the fault counts a
 * driver reports back to the scheduler. A request counts in at most one
 * of timeouts, crc_errors, exceptions, malformed; exc_* and wrong_unit
 * break those down further. */
struct gw_read_faults {
	unsigned requests;
	unsigned timeouts;
	unsigned crc_errors;
	unsigned exceptions;
	unsigned malformed;           /* short, malformed or mismatched reply */
	unsigned exc_illegal_address; /* exception 2, in exceptions */
	unsigned exc_busy;            /* exception 6 (device busy), in exceptions */
	unsigned wrong_unit;          /* reply from another unit id, in malformed */
	/* Exceptions with a code Modbus does not define (0, 9, 12 and up),
	 * in exceptions. The read of that meter stops for this cycle. */
	unsigned exc_unknown;
	/* Replies discarded because they answer another request (Modbus
	 * TCP: another transaction id): a duplicate, or the late answer to
	 * a request that had timed out. Counted for the meter the discarded
	 * reply was meant for, at its next read. Not in malformed: the
	 * request's own reply was still awaited. */
	unsigned stale_replies;
	/* Registers whose value cannot be true (a float infinity, beyond the
	 * register's range or the int64 limits): left out of the readings.
	 * bad_values counts them all; bad[] names the first GW_READ_BAD_MAX
	 * (n_bad of them). */
	unsigned bad_values;
	unsigned n_bad;
	struct gw_read_bad bad[GW_READ_BAD_MAX];
	/* A failed read: what the driver knows beyond its GW_E* code (Modbus:
	 * "exception 0x0B (gateway target failed to respond)"), else "". The
	 * driver logs no failure of its own: the caller reports it, once
	 * (gw_read_failure). */
	char detail[64];
};

/* What the meter said of itself in one read. The driver only reports it;
 * the caller judges it (gateway/meter_ident.h). */
struct gw_meter_seen {
	/* The meter's serial number when its reply carried one (iec62056-21:
	 * data set C.1.0, 96.1.0 or 0.0.0), else "". The caller notices a
	 * new one: the meter behind the id was replaced. */
	char serial[GW_SERIAL_MAX];
	/* iec62056-21: the meter's own clock (0.9.2 date + 0.9.1 time) as UTC
	 * ms when its telegram carried one, else 0. */
	int64_t clock_ms;
};

/* The one result of a read: its readings, its faults and what the meter
 * said of itself, three parts that go to three places (the core, the
 * meter's health, its identity). The caller sets readings and cap
 * (gw_read_result_init); the driver fills the rest. */
struct gw_read_result {
	struct gw_reading *readings; /* borrowed from the caller */
	size_t n;                    /* readings filled */
	size_t cap;                  /* room in readings */
	struct gw_read_faults faults;
	struct gw_meter_seen ident;
};

/* What the caller lends one read. Borrowed for the read. */
struct gw_read_ctx {
	/* The gateway's clock, on which a driver places time stamps of its
	 * own (iec62056-21: load-profile entries, moved by the meter's clock
	 * offset). NULL: the system clock. */
	const struct gw_clock *clock;
	/* The time the caller stamped this meter's last good read with (0:
	 * none known). iec62056-21: a meter that answers again after a gap
	 * has the gap filled from its load profile (backfill_after),
	 * starting there. */
	int64_t last_good_ms;
};

/* An empty result that reads into buf (room for cap readings). */
void gw_read_result_init(struct gw_read_result *res, struct gw_reading *buf,
			 size_t cap);
/* Clears everything of res but readings and cap (a driver, as a read
 * begins). */
void gw_read_result_clear(struct gw_read_result *res);
/* "device answered with an exception: exception 0x0B (gateway target
 * failed to respond)": a failed read's code rc and what the driver knew
 * of it (f->detail, may be NULL), for the one message that reports it. */
const char *gw_read_failure(int rc, const struct gw_read_faults *f, char *buf,
			    size_t cap);

struct gw_driver_ops {
	/* The bus `type` that selects this driver ("modbus-tcp"). */
	const char *name;

	/* Configuration. bus_keys: the keys of its [bus] sections besides
	 * those every bus has, into bus_opts_size bytes of options (the
	 * table's defaults first). bus_configure (may be NULL) then checks
	 * what depends on several keys and fills in defaults that depend on
	 * others; lines[i] is the line of bus_keys[i] (0: not given). It
	 * reports "FILE:LINE: message" (gw_opt_error) and returns
	 * GW_ECONFIG, or 0. */
	const struct gw_opt *bus_keys;
	size_t bus_opts_size;
	int (*bus_configure)(struct gw_bus_config *bus, const int *lines,
			     const struct gw_conf_ctx *ctx);
	/* The same for a meter on such a bus: meter_keys are the keys of its
	 * [meter] section besides `bus` (in the CSV list, the columns unit
	 * and profile); meter_configure (required) checks them, fills in
	 * m->max_readings and *ctx->where_line. m->source is the file the
	 * meter was defined in. */
	const struct gw_opt *meter_keys;
	size_t meter_opts_size;
	int (*meter_configure)(struct gw_meter_config *m,
			       const struct gw_bus_config *bus, const int *lines,
			       const struct gw_conf_ctx *ctx);
	/* Where meter m (configured) is on bus: how it is told apart there
	 * ("unit 3", "address '87654321'"), unique per bus, for messages;
	 * written into buf (cap bytes; GW_WHERE_MAX is enough), made from
	 * the meter's options each time rather than kept with every meter.
	 * Returns buf. Required; callers go through gw_meter_where. */
	const char *(*where)(const struct gw_meter_config *m,
			     const struct gw_bus_config *bus, char *buf,
			     size_t cap);

	/* Opens the bus; on success *handle is the driver's state, which
	 * keeps a copy of what it needs of bus. Returns 0 or GW_ECONN /
	 * GW_EINVAL. Close with .close. */
	int (*open)(const struct gw_bus_config *bus, void **handle);
	/* Reads every register of one meter into res (gw_read_result_init;
	 * cleared first): at most res->cap readings (meter_id, obis, value,
	 * scale, unit; ts_ms is 0 and set by the caller) in res->readings,
	 * their number in res->n, the read's faults and what the meter said
	 * of itself. Returns res->n, or a negative GW_E* code when no
	 * register could be read (res->n is then 0). A register the meter
	 * reports as not available is left out. The driver logs no failed
	 * read: the caller reports it (gw_read_failure). ctx may be NULL. */
	int (*read)(void *handle, const struct gw_meter_config *meter,
		    const struct gw_read_ctx *ctx, struct gw_read_result *res);
	/* Closes the bus and frees the handle; accepts NULL. */
	void (*close)(void *handle);
	/* Called after each poll cycle's reads of the bus (may be NULL):
	 * modbus-tcp with close_after_cycle disconnects here. */
	void (*cycle_end)(void *handle);
	/* The most readings one .read can return (the cap to offer it), or
	 * 0: the meter says (gw_meter_config.max_readings). iec62056-21:
	 * GW_IEC_MAX_READINGS, the one limit of a readout's size. */
	size_t max_readings;
	/* The value at which the meter's register obis rolls over to 0 (a
	 * 16- or 32-bit counter), in the reading's unit; 0 when unknown or
	 * never. NULL: never. The batching core asks, through the daemon,
	 * to unwrap a counter exactly. */
	int64_t (*rollover)(const struct gw_meter_config *meter,
			    const char *obis);
};

/* Modbus TCP and Modbus RTU (drivers/modbus.c, drivers/modbus_conf.c). */
extern const struct gw_driver_ops gw_modbus_tcp_driver;
extern const struct gw_driver_ops gw_modbus_rtu_driver;
/* Modbus RTU frames over TCP, through a serial device server. */
extern const struct gw_driver_ops gw_modbus_rtutcp_driver;
/* IEC 62056-21 (drivers/iec62056.c). Its .read may also return load-profile
 * interval readings: those carry their own ts_ms (non-zero), which the
 * caller keeps. */
extern const struct gw_driver_ops gw_iec62056_driver;

/* Every driver, in the order `type` lists them, ending with NULL. */
extern const struct gw_driver_ops *const gw_drivers[];

/* The driver whose name is type, or NULL. */
const struct gw_driver_ops *gw_driver_find(const char *type);

/* Where meter m is on bus (its driver's .where): "unit 3" into buf (cap
 * bytes; GW_WHERE_MAX is enough). Returns buf. */
const char *gw_meter_where(const struct gw_meter_config *m,
			   const struct gw_bus_config *bus, char *buf,
			   size_t cap);

#endif
