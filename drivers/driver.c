/* SPDX-License-Identifier: MIT */
/*
 * driver.c - maps a bus type to the driver that speaks its protocol.
 */
#include <stddef.h>

#include "driver.h"

const struct gw_driver_ops *gw_driver_for(enum gw_bus_type type)
{
	switch (type) {
	case GW_BUS_MODBUS_TCP:
	case GW_BUS_MODBUS_RTU:
		return &gw_modbus_driver;
	case GW_BUS_IEC62056:
		return &gw_iec62056_driver;
	}
	return NULL;
}
