/* SPDX-License-Identifier: MIT */
/*
 * iec_bus.h - inside the IEC 62056-21 driver: what its files share. Not
 * for use outside drivers/iec*.c.
 */
#ifndef GW_IEC_BUS_H
#define GW_IEC_BUS_H

#include "driver.h"

/* The driver's operations (iec62056.c); the driver table is in
 * iec_conf.c, next to its keys. */
int gw_iec_open(const struct gw_bus_config *bus, void **handle);
int gw_iec_read(void *handle, const struct gw_meter_config *meter,
		struct gw_reading *out, size_t cap, struct gw_read_stats *stats);
void gw_iec_close(void *handle);

#endif
