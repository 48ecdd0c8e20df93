/* SPDX-License-Identifier: MIT */
/*
 * driver.h - the one small interface every meter protocol hides behind:
 * open a bus, read a meter, close the bus.
 *
 * Each protocol fills one const table of operations (modelled on libmodbus's
 * backends) and keeps its private state behind a void pointer. A bus worker
 * owns its bus handle; a handle is used by one thread at a time.
 */
#ifndef GW_DRIVER_H
#define GW_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#include "../gateway/config.h"
#include "../gateway/reading.h"

/* Registers of one read whose value cannot be true (gw_read_stats.bad). */
#define GW_READ_BAD_MAX 32
struct gw_read_bad {
	char obis[GW_OBIS_MAX];
	char detail[64]; /* what was read, e.g. "float32 +inf" */
};

/* Per-read fault counts a driver reports back to the scheduler. A request
 * counts in at most one of timeouts, crc_errors, exceptions, malformed;
 * exc_* and wrong_unit break those down further. */
struct gw_read_stats {
	unsigned requests;
	unsigned timeouts;
	unsigned crc_errors;
	unsigned exceptions;
	unsigned malformed;           /* short, malformed or mismatched reply */
	unsigned exc_illegal_address; /* exception 2, in exceptions */
	unsigned exc_busy;            /* exception 6 (device busy), in exceptions */
	unsigned wrong_unit;          /* reply from another unit id, in malformed */
	/* iec62056-21: the meter's own clock (0.9.2 date + 0.9.1 time) as UTC
	 * ms when its telegram carried one, else 0. The driver only reports
	 * it; the caller judges its drift (meter_ident.h). */
	int64_t meter_clock_ms;
	/* The meter's serial number when its reply carried one (iec62056-21:
	 * data set C.1.0, 96.1.0 or 0.0.0), else "". The caller notices a
	 * new one: the meter behind the id was replaced. */
	char meter_serial[GW_SERIAL_MAX];
	/* Set by the caller before .read (an input, unlike the rest): the
	 * gateway's clock, on which a driver places time stamps of its own
	 * (iec62056-21: load-profile entries, moved by the meter's clock
	 * offset). NULL: the system clock. Borrowed for the read. */
	const struct gw_clock *clock;
	/* Set by the caller before .read: the time it stamped this meter's
	 * last good read with (0: none known). iec62056-21: a meter that
	 * answers again after a gap has the gap filled from its load
	 * profile (backfill_after), starting there. */
	int64_t last_good_ms;
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
};

struct gw_driver_ops {
	const char *name;
	/* Opens the bus; on success *handle is the driver's state. Returns 0
	 * or GW_ECONN / GW_EINVAL. Close with .close. */
	int (*open)(const struct gw_bus_config *bus, void **handle);
	/* Reads every register of one meter's profile. Fills at most cap
	 * readings (meter_id, obis, value, scale, unit; ts_ms is 0 and set by
	 * the caller) and returns their number, or a negative GW_E* code when
	 * no register could be read. A register the meter reports as not
	 * available is left out. `stats` (may be NULL) is added to. */
	int (*read)(void *handle, const struct gw_meter_config *meter,
		    struct gw_reading *out, size_t cap,
		    struct gw_read_stats *stats);
	/* Closes the bus and frees the handle; accepts NULL. */
	void (*close)(void *handle);
	/* The most readings one .read can return (the cap to offer it), or
	 * 0: the meter's profile says (n_regs). iec62056-21:
	 * GW_IEC_MAX_READINGS, the one limit of a readout's size. */
	size_t max_readings;
};

extern const struct gw_driver_ops gw_modbus_driver;
/* IEC 62056-21 (drivers/iec62056.c). Its .read may also return load-profile
 * interval readings: those carry their own ts_ms (non-zero), which the
 * caller keeps. */
extern const struct gw_driver_ops gw_iec62056_driver;

/* The driver for a bus type. */
const struct gw_driver_ops *gw_driver_for(enum gw_bus_type type);

#endif
