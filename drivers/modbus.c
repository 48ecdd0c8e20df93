/* SPDX-License-Identifier: MIT */
/*
 * modbus.c - the Modbus driver (RTU on a serial line, TCP to an endpoint),
 * built on libmodbus 3.1.6.
 *
 * A read walks the meter's profile (registers sorted by function code and
 * address) and groups registers into as few requests as it can: same
 * function code, at most profile->max_registers registers, gaps between
 * registers of at most MB_MAX_HOLE unused registers. A meter that refuses a
 * request spanning a gap (illegal data address) is asked again register by
 * register. Each register is then decoded with gw_profile_decode().
 *
 * libmodbus reports errors through errno; they are translated to GW_E*
 * codes here, once, and counted into struct gw_read_stats. A broken
 * connection (TCP reset, serial port gone) closes the context; the next read
 * reconnects.
 */
#include <errno.h>
#include <modbus.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "profile.h"

/* Registers a request may read in between two wanted registers. Reading a
 * few unused words costs 2 bytes each; a separate request costs a round
 * trip (tens of milliseconds on RS-485). */
#define MB_MAX_HOLE 16

struct mb_bus {
	struct gw_bus_config cfg;
	modbus_t *ctx;
	bool connected;
	bool conn_failed;      /* the last connect failed (logged once) */
	int last_errno;        /* libmodbus errno of the last failed request */
	int8_t last_err[248];  /* per unit id: the last read's GW_E* code, so
				* that a failing meter is logged once */
};

/* Translates libmodbus's errno after a failed call. */
static int mb_error(int e)
{
	switch (e) {
	case ETIMEDOUT:
		return GW_ETIMEDOUT;
	case EMBBADCRC:
		return GW_ECRC;
	case EMBXILFUN:
	case EMBXILADD:
	case EMBXILVAL:
	case EMBXSFAIL:
	case EMBXACK:
	case EMBXSBUSY:
	case EMBXNACK:
	case EMBXMEMPAR:
	case EMBXGPATH:
	case EMBXGTAR:
	case EMBUNKEXC:
		return GW_EEXCEPT;
	case EMBBADDATA:
	case EMBBADEXC:
	case EMBMDATA:
	case EMBBADSLAVE:
	case EINVAL: /* libmodbus: reply does not match the request */
		return GW_EPROTO;
	default:
		/* ECONNRESET, EPIPE, EBADF, ECONNREFUSED, EIO ... */
		return GW_ECONN;
	}
}

static void mb_count(struct gw_read_stats *stats, int err, int e)
{
	if (!stats)
		return;
	switch (err) {
	case GW_ETIMEDOUT: stats->timeouts++; break;
	case GW_ECRC: stats->crc_errors++; break;
	case GW_EEXCEPT:
		stats->exceptions++;
		if (e == EMBXILADD)
			stats->exc_illegal_address++;
		else if (e == EMBXSBUSY)
			stats->exc_busy++;
		break;
	case GW_EPROTO:
		stats->malformed++;
		if (e == EMBBADSLAVE)
			stats->wrong_unit++;
		break;
	default: break;
	}
}

static int mb_connect(struct mb_bus *b)
{
	if (b->connected)
		return 0;
	if (modbus_connect(b->ctx) == -1) {
		int e = errno;
		if (!b->conn_failed)
			gw_warn("bus %s: cannot connect: %s", b->cfg.name,
				modbus_strerror(e));
		b->conn_failed = true;
		return GW_ECONN;
	}
	if (b->conn_failed)
		gw_info("bus %s: connected again", b->cfg.name);
	b->conn_failed = false;
	b->connected = true;
	return 0;
}

static void mb_disconnect(struct mb_bus *b)
{
	if (b->connected) {
		modbus_close(b->ctx);
		b->connected = false;
	}
}

static void set_timeout(modbus_t *ctx, int ms, bool byte)
{
	uint32_t sec = (uint32_t)(ms / 1000);
	uint32_t usec = (uint32_t)(ms % 1000) * 1000;

	if (byte)
		modbus_set_byte_timeout(ctx, sec, usec);
	else
		modbus_set_response_timeout(ctx, sec, usec);
}

static int mb_open(const struct gw_bus_config *bus, void **handle)
{
	struct mb_bus *b;
	char port[16];

	*handle = NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return GW_ENOMEM;
	b->cfg = *bus;
	switch (bus->type) {
	case GW_BUS_MODBUS_TCP:
		/* modbus_new_tcp_pi also accepts host names and IPv6. */
		snprintf(port, sizeof(port), "%d", bus->port);
		b->ctx = modbus_new_tcp_pi(bus->host, port);
		break;
	case GW_BUS_MODBUS_RTU:
		b->ctx = modbus_new_rtu(bus->device, bus->baud,
					bus->parity ? bus->parity : 'N',
					bus->data_bits ? bus->data_bits : 8,
					bus->stop_bits ? bus->stop_bits : 1);
		break;
	default: /* not a Modbus bus: no context, refused below */
		break;
	}
	if (!b->ctx) {
		gw_err("bus %s: %s", bus->name, modbus_strerror(errno));
		free(b);
		return GW_EINVAL;
	}
	if (bus->timeout_ms > 0)
		set_timeout(b->ctx, bus->timeout_ms, false);
	if (bus->byte_timeout_ms > 0)
		set_timeout(b->ctx, bus->byte_timeout_ms, true);
	/* A failed open is logged by the caller, which retries it. */
	if (modbus_connect(b->ctx) == -1) {
		int e = errno;
		gw_debug("bus %s: cannot connect: %s", bus->name, modbus_strerror(e));
		modbus_free(b->ctx);
		free(b);
		return GW_ECONN;
	}
	b->connected = true;
	*handle = b;
	return 0;
}

static void mb_close(void *handle)
{
	struct mb_bus *b = handle;

	if (!b)
		return;
	mb_disconnect(b);
	modbus_free(b->ctx);
	free(b);
}

/* One read request over TCP, checked here: libmodbus 3.1.6 does not
 * compare a TCP reply's unit id (or protocol id) with the request's, and a
 * TCP-to-RTU bridge that mixes up its meters must not have one meter's
 * registers stored under another's id. Returns like modbus_read_registers
 * (count or -1 with errno). */
static int mb_tcp_read(modbus_t *ctx, int unit, int fc, int addr, int n,
		       uint16_t *buf)
{
	uint8_t req[6] = {(uint8_t)unit, (uint8_t)fc, (uint8_t)(addr >> 8),
			  (uint8_t)addr, (uint8_t)(n >> 8), (uint8_t)n};
	uint8_t rsp[MODBUS_TCP_MAX_ADU_LENGTH];

	if (modbus_send_raw_request(ctx, req, 6) == -1)
		return -1;
	int len = modbus_receive_confirmation(ctx, rsp);
	if (len == -1)
		return -1;
	if (len < 9 || rsp[2] != 0 || rsp[3] != 0) {
		errno = EMBBADDATA;
		return -1;
	}
	if (rsp[6] != unit) {
		errno = EMBBADSLAVE;
		return -1;
	}
	if (rsp[7] == (fc | 0x80)) {
		errno = MODBUS_ENOBASE + rsp[8];
		return -1;
	}
	if (rsp[7] != fc || rsp[8] != 2 * n || len != 9 + 2 * n) {
		errno = EMBBADDATA;
		return -1;
	}
	for (int i = 0; i < n; i++)
		buf[i] = (uint16_t)((rsp[9 + 2 * i] << 8) | rsp[10 + 2 * i]);
	return n;
}

/* One request: registers [first, last] of the profile. */
static int mb_request(struct mb_bus *b, const struct gw_profile *p, int first,
		      int last, int unit, uint16_t *buf,
		      struct gw_read_stats *stats)
{
	const struct gw_profile_reg *r0 = &p->regs[first], *rn = &p->regs[last];
	int addr = r0->address;
	int n = rn->address + gw_reg_type_words((enum gw_reg_type)rn->type) - addr;
	int got;

	int err = 0;
	/* A reply that does not match the request (another unit id, an old
	 * transaction id, a short frame) is often the late answer to an
	 * earlier request that timed out; it has been consumed now, so the
	 * request is sent once more. A meter that keeps answering wrongly
	 * costs two fast requests, not a timeout. */
	for (int attempt = 0; attempt < 2; attempt++) {
		if (stats)
			stats->requests++;
		if (b->cfg.type == GW_BUS_MODBUS_TCP)
			got = mb_tcp_read(b->ctx, unit, r0->function, addr, n, buf);
		else if (r0->function == 4)
			got = modbus_read_input_registers(b->ctx, addr, n, buf);
		else
			got = modbus_read_registers(b->ctx, addr, n, buf);
		if (got == n)
			return 0;
		b->last_errno = got < 0 ? errno : EMBMDATA;
		err = mb_error(b->last_errno);
		mb_count(stats, err, b->last_errno);
		if (err == GW_ECONN || err == GW_ETIMEDOUT || err == GW_ECRC ||
		    err == GW_EPROTO) {
			/* After a timeout or garbage a late reply may still
			 * arrive and be taken for the next answer: drop what
			 * is pending. */
			modbus_flush(b->ctx);
		}
		if (err == GW_ECONN)
			mb_disconnect(b);
		if (err != GW_EPROTO)
			break;
	}
	return err;
}

/* Decodes registers [first, last] from buf (which starts at the first
 * register's address) into out. Returns the number of readings added. */
static size_t mb_decode(const struct gw_profile *p, int first, int last,
			const uint16_t *buf, const char *meter_id,
			struct gw_reading *out, size_t cap)
{
	size_t n = 0;

	for (int i = first; i <= last && n < cap; i++) {
		const struct gw_profile_reg *r = &p->regs[i];
		struct gw_reading *rd = &out[n];
		memset(rd, 0, sizeof(*rd));
		int rc = gw_profile_decode(r, buf + (r->address - p->regs[first].address),
					   rd);
		if (rc == GW_ENOTAVAIL)
			continue;
		if (rc) {
			gw_debug("meter %s: register %s does not decode: %s",
				 meter_id, r->obis, gw_strerror(rc));
			continue;
		}
		gw_strlcpy(rd->meter_id, meter_id, sizeof(rd->meter_id));
		rd->ts_ms = 0;
		n++;
	}
	return n;
}

/* Reads every register group of one meter; returns the number of readings
 * or, when no request succeeded, the first request's error. */
static int mb_read_groups(struct mb_bus *b, const struct gw_meter_config *meter,
			  struct gw_reading *out, size_t cap,
			  struct gw_read_stats *stats)
{
	const struct gw_profile *p = meter->profile;
	uint16_t buf[MODBUS_MAX_READ_REGISTERS];
	size_t n = 0;
	int ok_requests = 0, first_err = 0;

	int rc = mb_connect(b);
	if (rc)
		return rc;
	if (modbus_set_slave(b->ctx, meter->unit_id) == -1)
		return GW_EINVAL;

	int max = p->max_registers;
	if (max < 1 || max > MODBUS_MAX_READ_REGISTERS)
		max = MODBUS_MAX_READ_REGISTERS;
	for (int i = 0; i < p->n_regs && n < cap;) {
		/* Extend the group while the next register fits. */
		int j = i;
		while (j + 1 < p->n_regs) {
			const struct gw_profile_reg *a = &p->regs[j], *c = &p->regs[j + 1];
			int end = a->address + gw_reg_type_words((enum gw_reg_type)a->type);
			int cend = c->address + gw_reg_type_words((enum gw_reg_type)c->type);
			if (c->function != a->function || c->address - end > MB_MAX_HOLE ||
			    cend - p->regs[i].address > max)
				break;
			j++;
		}
		rc = mb_request(b, p, i, j, meter->unit_id, buf, stats);
		if (rc == GW_EEXCEPT && j > i && b->last_errno == EMBXILADD) {
			/* The meter may refuse the unused registers in a
			 * gap: ask for each register on its own. */
			for (int k = i; k <= j && n < cap; k++) {
				int rk = mb_request(b, p, k, k, meter->unit_id, buf,
						    stats);
				if (rk == 0) {
					ok_requests++;
					n += mb_decode(p, k, k, buf, meter->id, out + n,
						       cap - n);
				} else if (!first_err) {
					first_err = rk;
				}
				if (rk == GW_ECONN || rk == GW_ETIMEDOUT) {
					rc = rk;
					break;
				}
			}
		} else if (rc == 0) {
			ok_requests++;
			n += mb_decode(p, i, j, buf, meter->id, out + n, cap - n);
		} else if (!first_err) {
			first_err = rc;
		}
		if (rc == GW_ECONN || (!b->connected))
			break;
		/* A meter that does not answer (or that a TCP gateway cannot
		 * reach) will not answer the next request either: a read
		 * waits out at most one timeout, so that a dead meter costs
		 * its line one timeout per cycle and the other meters of the
		 * line are still read in time. Registers already read are
		 * kept. */
		if (rc == GW_ETIMEDOUT ||
		    (ok_requests == 0 && rc == GW_EEXCEPT &&
		     (b->last_errno == EMBXGTAR || b->last_errno == EMBXGPATH)))
			break;
		i = j + 1;
	}

	if (ok_requests == 0 && first_err)
		return first_err;
	return (int)n;
}

static int mb_read(void *handle, const struct gw_meter_config *meter,
		   struct gw_reading *out, size_t cap,
		   struct gw_read_stats *stats)
{
	struct mb_bus *b = handle;

	if (!b || !meter || !meter->profile || meter->profile->n_regs == 0 ||
	    meter->unit_id < 0 || meter->unit_id > 247)
		return GW_EINVAL;
	int rc = mb_read_groups(b, meter, out, cap, stats);
	int8_t *last = &b->last_err[meter->unit_id];
	/* Logged once per change; growing intervals belong to the scheduler,
	 * which knows how long the meter has been failing. */
	if (rc < 0 && *last != rc)
		gw_warn("meter %s (unit %d on bus %s): read failed: %s", meter->id,
			meter->unit_id, b->cfg.name, gw_strerror(rc));
	else if (rc >= 0 && *last)
		gw_info("meter %s (unit %d on bus %s): answers again", meter->id,
			meter->unit_id, b->cfg.name);
	*last = (int8_t)(rc < 0 ? rc : 0);
	return rc;
}

const struct gw_driver_ops gw_modbus_driver = {
	.name = "modbus",
	.open = mb_open,
	.read = mb_read,
	.close = mb_close,
};
