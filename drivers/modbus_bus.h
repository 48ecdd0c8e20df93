/* SPDX-License-Identifier: MIT */
/*
 * modbus_bus.h - what the Modbus drivers (modbus-tcp, modbus-rtu,
 * modbus-rtu-tcp) offer
 * beyond struct gw_driver_ops: their options as the configuration reads
 * them (drivers/modbus_conf.c), the range of unit ids, and a libmodbus
 * context for a configured bus (gwctl scan).
 *
 * Named modbus_bus.h, not modbus.h: libmodbus's own header is <modbus.h>
 * and the include path holds both.
 */
#ifndef GW_MODBUS_BUS_H
#define GW_MODBUS_BUS_H

#include <modbus.h>
#include <stdio.h>

#include "driver.h"
#include "profile.h"

/* The highest Modbus unit id (slave address) a meter can have: 0 is the
 * broadcast address, 248..255 are reserved (Modbus over serial line,
 * 2.2). */
#define GW_MODBUS_UNIT_MAX 247

/* Options of a modbus-tcp or modbus-rtu-tcp bus. */
struct gw_modbus_tcp_opts {
	char host[256]; /* meter, or TCP-to-RTU bridge */
	int port;
	int timeout_ms;      /* response timeout */
	int byte_timeout_ms; /* gap allowed between bytes of one reply */
	int request_pause_ms; /* silence after a reply, before a request */
	int connect_pause_ms; /* silence after connecting */
	int close_after_cycle; /* 1: disconnect after each poll cycle */
};

/* Options of a modbus-rtu bus. */
struct gw_modbus_rtu_opts {
	char device[GW_PATH_MAX];
	int baud;
	char parity; /* 'N', 'E', 'O' */
	int data_bits;
	int stop_bits;
	int timeout_ms;
	int byte_timeout_ms;
	int request_pause_ms;
	int connect_pause_ms; /* after opening the port */
};

/* Options of a meter on either. */
struct gw_modbus_meter {
	int unit_id; /* 1..GW_MODBUS_UNIT_MAX */
	/* its register map, shared by the meters of its model (borrowed from
	 * the configuration) */
	const struct gw_profile *profile;
	int timeout_ms; /* response timeout; 0: the bus's */
};

/* A new libmodbus context for bus (modbus-tcp, modbus-rtu-tcp, whose
 * context only connects, or modbus-rtu) with the
 * bus's timeouts set, or NULL: another bus type (errno EINVAL) or
 * libmodbus refused (errno). where (cap bytes, may be NULL) gets "tcp
 * HOST:PORT" or "DEVICE N baud"; *timeout_ms (may be NULL) the response
 * timeout, *byte_timeout_ms (may be NULL) the byte timeout. Free with
 * modbus_free(). */
modbus_t *gw_modbus_new_ctx(const struct gw_bus_config *bus, int *timeout_ms,
			    int *byte_timeout_ms, char *where, size_t cap);

/* True for a bus of either Modbus driver. */
int gw_modbus_is_tcp(const struct gw_bus_config *bus);
int gw_modbus_is_rtu(const struct gw_bus_config *bus);
/* True for a modbus-rtu-tcp bus: RTU frames through a serial device
 * server (drivers/modbus_frame.c). */
int gw_modbus_is_rtutcp(const struct gw_bus_config *bus);

/* The operations both transports share (modbus.c); the driver tables are
 * in modbus_conf.c. */
int gw_modbus_open(const struct gw_bus_config *bus, void **handle);
int gw_modbus_read(void *handle, const struct gw_meter_config *meter,
		   const struct gw_read_ctx *ctx, struct gw_read_result *res);
void gw_modbus_close(void *handle);
/* After a poll cycle: a bus with close_after_cycle disconnects. */
void gw_modbus_cycle_end(void *handle);

/* Writes every frame the bus handle sends and receives to f (NULL: stop)
 * as lines "TIME_MS DIR HEX" (DIR '>' sent, '<' received; RTU frames with
 * their CRC, TCP frames with their MBAP header) and notes as
 * "TIME_MS # text"; times from this call. A serial bus is then read
 * through the driver's own RTU framing (the same checks as libmodbus's).
 * f is borrowed; it must outlive the handle or the next call. */
void gw_modbus_set_trace(void *handle, FILE *f);

#endif
