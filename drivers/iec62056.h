/* SPDX-License-Identifier: MIT */
/*
 * iec62056.h - what the IEC 62056-21 driver offers beyond struct
 * gw_driver_ops: its options as the configuration reads them
 * (drivers/iec_conf.c), a byte trace for troubleshooting a meter in the
 * field and the protocol's timing constants, which the simulator and the
 * benchmark share.
 */
#ifndef GW_IEC62056_H
#define GW_IEC62056_H

#include <stdio.h>

#include "driver.h"
#include "iec_parse.h"

/* How an iec62056-21 bus talks to its meters. */
enum gw_iec_mode {
	GW_IEC_MODE_C = 0, /* sign-on at `baud`, switch to the meter's baud
			    * (at most max_baud), readout */
	GW_IEC_MODE_FIXED, /* sign-on and readout at `baud`, no switch */
	GW_IEC_MODE_D,     /* the meter pushes telegrams; only listen */
};

/* Options of an iec62056-21 bus (gw_bus_config.opts). */
struct gw_iec_bus_opts {
	char device[GW_PATH_MAX];
	int baud;              /* the initial baud */
	int timeout_ms;        /* first byte of an answer */
	int byte_timeout_ms;   /* gap allowed between bytes of one answer */
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
};

/* Options of a meter on it (gw_meter_config.opts). */
struct gw_iec_meter {
	char address[GW_IEC_ADDR_MAX]; /* "" = no address: "/?!" */
};

/* Reaction time tr: the least time between receiving a message and
 * answering it (IEC 62056-21: 200 ms, or 20 ms when the manufacturer's
 * third letter is lowercase), for both sides. */
#define GW_IEC_TR_MS 200
#define GW_IEC_TR_FAST_MS 20

/* Writes every byte exchanged on the bus of `handle` (from .open of
 * gw_iec62056_driver) to f, one line per chunk: milliseconds since the
 * trace started, direction ("> " sent, "< " received), the bytes in hex and
 * as text; baud changes and port events as "# " lines. f is borrowed and
 * must stay open until the handle is closed; NULL stops tracing. */
void gw_iec_set_trace(void *handle, FILE *f);

/* Milliseconds that n characters take on the wire at baud (10 bits each:
 * start, 7 data, parity, stop, or start, 8 data, stop). */
double gw_iec_wire_ms(size_t n, int baud);

#endif
