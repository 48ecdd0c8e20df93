/* SPDX-License-Identifier: MIT */
/*
 * iec62056.h - what the IEC 62056-21 driver offers beyond struct
 * gw_driver_ops: a byte trace for troubleshooting a meter in the field and
 * the protocol's timing constants, which the simulator and the benchmark
 * share.
 */
#ifndef GW_IEC62056_H
#define GW_IEC62056_H

#include <stdio.h>

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
