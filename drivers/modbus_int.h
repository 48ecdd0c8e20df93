/* SPDX-License-Identifier: MIT */
/*
 * modbus_int.h - the state of an open Modbus bus, shared by the driver's
 * files (modbus.c reads meters, modbus_frame.c frames RTU on a TCP
 * connection and writes the byte trace). Not for use outside drivers/.
 */
#ifndef GW_MODBUS_INT_H
#define GW_MODBUS_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "modbus_bus.h"

/* How the bus reaches its meters. */
enum mb_kind {
	MB_RTU,    /* RTU frames on a serial line (libmodbus) */
	MB_TCP,    /* Modbus TCP (MBAP header, transaction ids) */
	MB_RTUTCP, /* RTU frames with their CRC on a TCP connection */
};

/* A TCP request sent, to know whom a late reply was meant for. */
struct mb_sent {
	uint16_t tid;
	uint8_t unit;
	uint8_t used;
};

struct mb_bus {
	char name[GW_ID_MAX];
	enum mb_kind kind;
	bool tcp;              /* Modbus TCP (MBAP framing) */
	modbus_t *ctx;         /* RTU-over-TCP: used to connect, flush, close */
	char where[288];       /* "tcp HOST:PORT", "DEVICE N baud" */
	char device[GW_PATH_MAX]; /* RTU: the serial device */
	bool connected;
	bool conn_failed;      /* the last connect failed (logged once) */
	int last_errno;        /* libmodbus errno of the last failed request */
	int last_exc;          /* code of the last exception reply, -1 unknown */
	int timeout_ms;        /* the response timeout of the meter read now */
	int bus_timeout_ms;    /* the bus's response timeout */
	int byte_timeout_ms;   /* longest silence inside one reply */
	int request_pause_ms;  /* silence between two requests */
	int connect_pause_ms;  /* silence after connecting */
	bool close_after_cycle;
	int64_t next_ok_ms;    /* CLOCK_MONOTONIC: no request before this */
	int64_t connected_ms;  /* CLOCK_MONOTONIC: the last connect */
	uint16_t tid;          /* TCP: the last transaction id sent */
	struct mb_sent sent[256]; /* TCP: by transaction id & 0xFF */
	unsigned stale[256];   /* stale replies per unit id, not yet handed
				* to that meter's read faults */
	bool stale_warned[256];/* per unit id: logged once */
	FILE *trace;           /* gw_modbus_set_trace, or NULL */
	int64_t trace_t0;
};

/* CLOCK_MONOTONIC in ms. */
int64_t gw_mb_mono_ms(void);

/* The errno for an exception reply with code c. */
int gw_mb_exc_errno(int c);

/* CRC-16/MODBUS of n bytes (an RTU frame without its CRC). */
uint16_t gw_mb_crc16(const uint8_t *p, size_t n);

/* One read request (function fc, n registers from addr) to unit as an RTU
 * frame on b's TCP connection (or serial line), its reply framed by its function code
 * (exception: 5 bytes; else 5 + its byte count) and checked in the order
 * a serial master checks it: CRC, unit id, exception, byte count. The
 * reply's first byte is awaited b->timeout_ms, each next one
 * b->byte_timeout_ms. Returns n with the registers in buf, or -1 with
 * errno (ETIMEDOUT, EMBBADCRC, EMBBADSLAVE, EMBMDATA, EMBBADDATA, an
 * exception's errno with b->last_exc set, ECONNRESET or the socket's). */
int gw_mb_rtu_read(struct mb_bus *b, int unit, int fc, int addr, int n,
		      uint16_t *buf);

/* Writes n bytes sent (dir '>') or received ('<') to b's trace, if any, as
 * "   12.3 > 01 03 00 00 00 02 C4 0B". */
void gw_mb_trace(struct mb_bus *b, char dir, const uint8_t *p, size_t n);
/* A note in b's trace ("   12.3 # text"), if any. */
void gw_mb_trace_note(struct mb_bus *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
