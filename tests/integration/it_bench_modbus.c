/* SPDX-License-Identifier: MIT */
/*
 * it_bench_modbus.c - the measuring half of tests/bench/modbus_*.sh (built
 * with the integration helpers; never run by tests/run.sh).
 *
 *   it_bench_modbus tcp SECONDS PROFILE HOST:PORT:FIRST:COUNT...
 *       Reads every meter of every endpoint in turn, through the gateway's
 *       Modbus driver (decoding included) and through a bare libmodbus loop
 *       sending the same requests (no decoding), alternating in four slices
 *       of SECONDS/4, and prints "driver R" and "bare R" (meter reads/s).
 *   it_bench_modbus rtu SECONDS PROFILE DEVICE BAUD FIRST COUNT [PARITY]
 *       Reads the meters of an 8N1 line (8E1, 8O1 with PARITY E, O) through
 *       the driver for SECONDS and prints "driver R", "requests N" (per
 *       meter read) and "limit L": the line's meter reads/s from frame
 *       sizes, with 3.5 characters of silence before each frame (request 8
 *       bytes, reply 5 + 2n bytes) at 10 bits a character (11 with parity).
 *
 * The request groups are the driver's (registers of one function code,
 * gaps of at most 16 registers, at most max_registers per request); the
 * "requests" line checks that the driver really sent that many.
 */
#include <errno.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "driver.h"
#include "gw.h"
#include "modbus_bus.h"
#include "profile.h"

struct group { int fc, addr, n; };

static int groups_of(const struct gw_profile *p, struct group *g, int cap)
{
	int ng = 0, max = p->max_registers;

	if (max < 1 || max > MODBUS_MAX_READ_REGISTERS)
		max = MODBUS_MAX_READ_REGISTERS;
	for (int i = 0; i < p->n_regs && ng < cap;) {
		int j = i;
		while (j + 1 < p->n_regs) {
			const struct gw_profile_reg *a = &p->regs[j], *c = &p->regs[j + 1];
			int end = a->address + gw_reg_type_words((enum gw_reg_type)a->type);
			int cend = c->address + gw_reg_type_words((enum gw_reg_type)c->type);
			if (c->function != a->function || c->address - end > 16 ||
			    cend - p->regs[i].address > max)
				break;
			j++;
		}
		const struct gw_profile_reg *rn = &p->regs[j];
		g[ng].fc = p->regs[i].function;
		g[ng].addr = p->regs[i].address;
		g[ng].n = rn->address + gw_reg_type_words((enum gw_reg_type)rn->type) -
			  g[ng].addr;
		ng++;
		i = j + 1;
	}
	return ng;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct endpoint {
	struct gw_bus_config bus;
	struct gw_modbus_tcp_opts tcp;
	struct gw_modbus_rtu_opts rtu;
	int first, count;
	void *drv;     /* driver handle */
	modbus_t *ctx; /* bare libmodbus */
};

/* Reads meters for `secs` seconds; returns meter reads done and errors. */
static long run_driver(struct endpoint *ep, int nep, const struct gw_profile *p,
		       double secs, long *errors, unsigned *requests)
{
	struct gw_reading rd[256];
	struct gw_meter_config m;
	struct gw_modbus_meter mm;
	char id[GW_ID_MAX];
	long reads = 0;
	double end = now_s() + secs;

	memset(&m, 0, sizeof(m));
	memset(&mm, 0, sizeof(mm));
	m.opts = &mm;
	m.id = id;
	mm.profile = p;
	while (now_s() < end) {
		for (int e = 0; e < nep; e++) {
			for (int u = ep[e].first; u < ep[e].first + ep[e].count; u++) {
				struct gw_read_result res;
				gw_read_result_init(&res, rd, 256);
				snprintf(id, sizeof(id), "u%d", u);
				mm.unit_id = u;
				if (ep[e].bus.driver->read(ep[e].drv, &m, NULL, &res) < 0)
					(*errors)++;
				*requests = res.faults.requests;
				reads++;
			}
		}
	}
	return reads;
}

static long run_bare(struct endpoint *ep, int nep, const struct group *g, int ng,
		     double secs, long *errors)
{
	uint16_t buf[MODBUS_MAX_READ_REGISTERS];
	long reads = 0;
	double end = now_s() + secs;

	while (now_s() < end) {
		for (int e = 0; e < nep; e++) {
			for (int u = ep[e].first; u < ep[e].first + ep[e].count; u++) {
				modbus_set_slave(ep[e].ctx, u);
				for (int k = 0; k < ng; k++) {
					int rc = g[k].fc == 4
						? modbus_read_input_registers(ep[e].ctx, g[k].addr, g[k].n, buf)
						: modbus_read_registers(ep[e].ctx, g[k].addr, g[k].n, buf);
					if (rc != g[k].n)
						(*errors)++;
				}
				reads++;
			}
		}
	}
	return reads;
}

int main(int argc, char **argv)
{
	struct gw_profile *p = NULL;
	struct group g[64];
	struct endpoint ep[16];
	int nep = 0;

	if (argc < 5)
		return 2;
	gw_log_set_level(GW_LOG_ERROR);
	double secs = atof(argv[2]);
	if (gw_profile_load(argv[3], &p))
		return 2;
	int ng = groups_of(p, g, 64);
	memset(ep, 0, sizeof(ep));

	if (strcmp(argv[1], "tcp") == 0) {
		for (int a = 4; a < argc && nep < 16; a++, nep++) {
			struct endpoint *e = &ep[nep];
			char host[64];
			int port;
			if (sscanf(argv[a], "%63[^:]:%d:%d:%d", host, &port, &e->first,
				   &e->count) != 4)
				return 2;
			e->bus.driver = &gw_modbus_tcp_driver;
			e->bus.opts = &e->tcp;
			snprintf(e->bus.name, sizeof(e->bus.name), "ep%d", nep);
			gw_strlcpy(e->tcp.host, host, sizeof(e->tcp.host));
			e->tcp.port = port;
			e->tcp.timeout_ms = 1000;
			e->tcp.byte_timeout_ms = 100;
			if (e->bus.driver->open(&e->bus, &e->drv))
				return 1;
			char ps[16];
			snprintf(ps, sizeof(ps), "%d", port);
			e->ctx = modbus_new_tcp_pi(host, ps);
			if (!e->ctx || modbus_connect(e->ctx) == -1)
				return 1;
			modbus_set_response_timeout(e->ctx, 1, 0);
		}
		long dr = 0, br = 0, derr = 0, berr = 0;
		double dt = 0, bt = 0;
		unsigned req = 0;
		for (int round = 0; round < 2; round++) {
			double t0 = now_s();
			dr += run_driver(ep, nep, p, secs / 4, &derr, &req);
			dt += now_s() - t0;
			t0 = now_s();
			br += run_bare(ep, nep, g, ng, secs / 4, &berr);
			bt += now_s() - t0;
		}
		printf("driver %.0f\nbare %.0f\nerrors %ld %ld\nrequests %u %d\n",
		       dr / dt, br / bt, derr, berr, req, ng);
		for (int e = 0; e < nep; e++) {
			ep[e].bus.driver->close(ep[e].drv);
			modbus_close(ep[e].ctx);
			modbus_free(ep[e].ctx);
		}
	} else if (strcmp(argv[1], "rtu") == 0 && (argc == 8 || argc == 9)) {
		char parity = argc == 9 ? argv[8][0] : 'N';
		if (parity != 'N' && parity != 'E' && parity != 'O')
			return 2;
		struct endpoint *e = &ep[0];
		int baud = atoi(argv[5]);
		e->bus.driver = &gw_modbus_rtu_driver;
		e->bus.opts = &e->rtu;
		gw_strlcpy(e->bus.name, "rtu", sizeof(e->bus.name));
		gw_strlcpy(e->rtu.device, argv[4], sizeof(e->rtu.device));
		e->rtu.baud = baud;
		e->rtu.parity = parity;
		e->rtu.data_bits = 8;
		e->rtu.stop_bits = 1;
		e->rtu.timeout_ms = 1000;
		e->rtu.byte_timeout_ms = 100;
		e->first = atoi(argv[6]);
		e->count = atoi(argv[7]);
		if (e->bus.driver->open(&e->bus, &e->drv))
			return 1;
		long err = 0;
		unsigned req = 0;
		double t0 = now_s();
		long r = run_driver(ep, 1, p, secs, &err, &req);
		double dt = now_s() - t0;
		e->bus.driver->close(e->drv);
		/* the line: 10 bits per character (8N1), 11 with a parity bit;
		 * per request 8 + 3.5 characters out, 5 + 2n + 3.5 back */
		double chars = 0;
		for (int k = 0; k < ng; k++)
			chars += 8 + 3.5 + 5 + 2.0 * g[k].n + 3.5;
		double limit = baud / ((parity == 'N' ? 10.0 : 11.0) * chars);
		printf("driver %.2f\nlimit %.2f\nerrors %ld\nrequests %u %d\n", r / dt,
		       limit, err, req, ng);
	} else {
		return 2;
	}
	gw_profile_free(p);
	return 0;
}
