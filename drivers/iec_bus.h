/* SPDX-License-Identifier: MIT */
/*
 * iec_bus.h - inside the IEC 62056-21 driver: what its files share. Not
 * for use outside drivers/iec*.c.
 */
#ifndef GW_IEC_BUS_H
#define GW_IEC_BUS_H

#include <libserialport.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "driver.h"
#include "iec62056.h"
#include "iec_parse.h"

#define RX_CAP GW_IEC_MAX_BYTES /* largest telegram kept (iec_parse.h) */
#define READOUT_MAX_MS 300000  /* a readout is abandoned after this, or
				* after twice the wire time of RX_CAP */
#define WEDGED_AFTER 3         /* reads in a row without a byte */
#define MAX_REGS 16            /* energy registers kept per meter for gaps */
#define BACKFILL_TRIES 3       /* reads that try to fill one gap */
#define OFFSET_KEEP_MS 60000   /* a clock offset measured within this of
				* the last one used keeps the last one */
#define GAP_MARGIN_MS 60000    /* filled points keep this far from the
				* readings at the gap's ends */

/* An energy register's value at a good read. */
struct reg_value {
	char obis[GW_OBIS_MAX];
	int64_t value;
};

/* What the driver remembers of a meter between reads (in memory: lost
 * when the bus is closed, at a restart or a reload). */
struct meter_state {
	char id[GW_ID_MAX];
	/* its last good readout, on the gateway's clock, and its energy
	 * registers then */
	int64_t last_ok_ms;
	char serial[GW_SERIAL_MAX];
	struct reg_value regs[MAX_REGS];
	int n_regs;
	/* its clock's offset (meter minus gateway) as used for its profile */
	bool has_offset;
	int64_t offset_ms;
	int64_t prof_last_ms;  /* newest profile entry passed on (gateway clock) */
	bool bad_time_logged;  /* refused entries logged, until some pass */
	/* a gap waiting to be filled from the meter's profile */
	int gap_tries;         /* 0: none */
	int64_t gap_from_ms, gap_to_ms;
	struct reg_value gap_from[MAX_REGS], gap_to[MAX_REGS];
	int n_gap;
};

struct iec_bus {
	char name[GW_ID_MAX];
	struct gw_iec_bus_opts cfg;
	struct sp_port *port;   /* NULL for a pseudo-terminal (see port_open) */
	int fd;                 /* -1 while closed */
	int baud;               /* current speed of the port */
	bool open_failed;       /* the last open failed (logged once) */
	int silent_reads;       /* reads in a row that got no byte */
	int64_t quiet_until;    /* monotonic ms: no sign-on before this */
	struct gw_iec_telegram *tg;
	uint8_t *rx;
	size_t rx_len;
	FILE *trace;
	int64_t trace_t0;
	const struct gw_clock *clock; /* the caller's, for this read; NULL: real */
	int64_t rx_first_ms;    /* gateway time of the answer's first byte */
	struct meter_state *ms;
	size_t n_ms, cap_ms;
};

/* What a reception waits for. */
enum rx_goal { RX_IDENT, RX_BLOCK, RX_PUSH, RX_REPLY };

/* The driver's operations (iec62056.c); the driver table is in
 * iec_conf.c, next to its keys. */
int gw_iec_open(const struct gw_bus_config *bus, void **handle);
int gw_iec_read(void *handle, const struct gw_meter_config *meter,
		const struct gw_read_ctx *ctx, struct gw_read_result *res);
void gw_iec_close(void *handle);

/* The serial side (iec_port.c): clocks, the byte trace, opening and
 * configuring the port, writing with the line's timing, and receiving
 * until a message is complete or a deadline passes. */
int64_t iec_mono_ms(void);
double iec_mono_ms_f(void);
int64_t iec_bus_now(const struct iec_bus *b);
void iec_sleep_until(double t_ms);
void iec_trace_note(struct iec_bus *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void iec_port_close(struct iec_bus *b, const char *why);
int iec_port_set_baud(struct iec_bus *b, int baud);
int iec_port_open(struct iec_bus *b);
int iec_port_write(struct iec_bus *b, const uint8_t *p, size_t n);
void iec_port_discard(struct iec_bus *b);
int iec_rx_until(struct iec_bus *b, enum rx_goal goal, int first_ms,
		    int gap_ms, const uint8_t *echo, size_t echo_len);

#endif
