/* SPDX-License-Identifier: MIT */
/*
 * driver.c - the list of drivers a bus `type` can name, and the objects
 * the meters of one configuration share. A new protocol or transport adds
 * its driver table to gw_drivers[] here. Also the result of a read: how
 * it is set up and how a failed one is put into words.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"

const struct gw_driver_ops *const gw_drivers[] = {
	&gw_modbus_tcp_driver,
	&gw_modbus_rtu_driver,
	&gw_modbus_rtutcp_driver,
	&gw_iec62056_driver,
	NULL,
};

/* Kept for every configured meter: the configuration's bulk at 10,000
 * meters (docs/architecture.md, "gatewayd as a whole"). */
_Static_assert(sizeof(struct gw_meter_config) <= 64,
	       "a meter's configuration stays within 64 bytes");

const char *gw_meter_where(const struct gw_meter_config *m,
			   const struct gw_bus_config *bus, char *buf,
			   size_t cap)
{
	return bus->driver->where(m, bus, buf, cap);
}

const struct gw_driver_ops *gw_driver_find(const char *type)
{
	for (int i = 0; gw_drivers[i]; i++)
		if (strcmp(gw_drivers[i]->name, type) == 0)
			return gw_drivers[i];
	return NULL;
}

void *gw_shared_find(const struct gw_conf_ctx *ctx, const char *name)
{
	for (int i = 0; i < *ctx->n_shared; i++)
		if (strcmp((*ctx->shared)[i].name, name) == 0)
			return (*ctx->shared)[i].obj;
	return NULL;
}

int gw_shared_add(const struct gw_conf_ctx *ctx, const char *name, void *obj,
		  void (*free_fn)(void *obj))
{
	int n = *ctx->n_shared;
	struct gw_shared *ns = realloc(*ctx->shared, sizeof(*ns) * (size_t)(n + 1));

	if (!ns)
		return GW_ENOMEM;
	*ctx->shared = ns;
	memset(&ns[n], 0, sizeof(ns[n]));
	gw_strlcpy(ns[n].name, name, sizeof(ns[n].name));
	ns[n].obj = obj;
	ns[n].free = free_fn;
	*ctx->n_shared = n + 1;
	return 0;
}

void gw_read_result_init(struct gw_read_result *res, struct gw_reading *buf,
			 size_t cap)
{
	memset(res, 0, sizeof(*res));
	res->readings = buf;
	res->cap = buf ? cap : 0;
}

void gw_read_result_clear(struct gw_read_result *res)
{
	res->n = 0;
	memset(&res->faults, 0, sizeof(res->faults));
	memset(&res->ident, 0, sizeof(res->ident));
}

const char *gw_read_failure(int rc, const struct gw_read_faults *f, char *buf,
			    size_t cap)
{
	if (f && f->detail[0])
		snprintf(buf, cap, "%s: %s", gw_strerror(rc), f->detail);
	else
		snprintf(buf, cap, "%s", gw_strerror(rc));
	return buf;
}
