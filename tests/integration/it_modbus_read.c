/* SPDX-License-Identifier: MIT */
/*
 * it_modbus_read.c - reads meters through the Modbus driver without a
 * gateway configuration, for tests/integration/modbus_tcp.sh:
 *
 *     it_modbus_read HOST PORT PROFILE_FILE UNIT [UNIT...]
 *     it_modbus_read rtu:DEVICE BAUD PROFILE_FILE UNIT [UNIT...]   (8N1)
 *     it_modbus_read rtutcp:HOST PORT PROFILE_FILE UNIT [UNIT...]
 *                                     (RTU frames on TCP, modbus-rtu-tcp)
 *
 * Prints one "UNIT<TAB>OBIS<TAB>VALUE<TAB>UNIT" line per reading, then
 * "UNIT<TAB>stats<TAB>requests=N timeouts=N exceptions=N" and
 * "UNIT<TAB>faults<TAB>crc=N malformed=N wrong_unit=N illegal_address=N
 * busy=N" and "UNIT<TAB>matching<TAB>stale=N unknown_exc=N bad=N" per
 * meter, and "UNIT<TAB>bad<TAB>OBIS<TAB>WHAT" per register whose value
 * cannot be true; a meter that cannot be read prints
 * "UNIT<TAB>error<TAB>MESSAGE" and logs the failure as a warning, with
 * what the driver knew of it (gw_read_failure). A unit given twice is read twice, in the
 * order given, on one connection. Exits 0 if every meter was read, 1
 * otherwise. Logs errors on stderr, or down to IT_LOG_LEVEL (warn, info,
 * debug) when set.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "driver.h"
#include "gw.h"
#include "modbus_bus.h"
#include "profile.h"

int main(int argc, char **argv)
{
	struct gw_bus_config bus;
	struct gw_modbus_tcp_opts tcp;
	struct gw_modbus_rtu_opts rtu;
	struct gw_profile *p = NULL;
	void *h = NULL;
	int status = 0;

	if (argc < 5) {
		fprintf(stderr, "usage: %s HOST PORT | rtu:DEVICE BAUD  PROFILE_FILE UNIT...\n", argv[0]);
		return 2;
	}
	/* Errors only, unless IT_LOG_LEVEL says otherwise (warn, info,
	 * debug): a test that checks the driver's messages sets it. */
	enum gw_log_level lv = GW_LOG_ERROR;
	if (getenv("IT_LOG_LEVEL") &&
	    gw_log_parse_level(getenv("IT_LOG_LEVEL"), &lv) != 0)
		return 2;
	gw_log_set_level(lv);
	if (gw_profile_load(argv[3], &p))
		return 2;
	memset(&bus, 0, sizeof(bus));
	memset(&tcp, 0, sizeof(tcp));
	memset(&rtu, 0, sizeof(rtu));
	gw_strlcpy(bus.name, "it", sizeof(bus.name));
	if (strncmp(argv[1], "rtu:", 4) == 0) {
		bus.driver = &gw_modbus_rtu_driver;
		bus.opts = &rtu;
		gw_strlcpy(rtu.device, argv[1] + 4, sizeof(rtu.device));
		rtu.baud = atoi(argv[2]);
		rtu.parity = 'N';
		rtu.data_bits = 8;
		rtu.stop_bits = 1;
		rtu.timeout_ms = 1000;
		rtu.byte_timeout_ms = 500;
	} else {
		int rtutcp = strncmp(argv[1], "rtutcp:", 7) == 0;
		bus.driver = rtutcp ? &gw_modbus_rtutcp_driver : &gw_modbus_tcp_driver;
		bus.opts = &tcp;
		gw_strlcpy(tcp.host, argv[1] + (rtutcp ? 7 : 0), sizeof(tcp.host));
		tcp.port = atoi(argv[2]);
		tcp.timeout_ms = 1000;
		tcp.byte_timeout_ms = 500;
	}

	const struct gw_driver_ops *drv = bus.driver;
	int rc = drv->open(&bus, &h);
	if (rc) {
		printf("*\terror\t%s\n", gw_strerror(rc));
		gw_profile_free(p);
		return 1;
	}
	struct gw_reading *rd = calloc((size_t)p->n_regs, sizeof(*rd));
	for (int a = 4; a < argc && rd; a++) {
		struct gw_meter_config m;
		struct gw_modbus_meter mm;
		struct gw_read_result res;
		char id[GW_ID_MAX];
		memset(&m, 0, sizeof(m));
		memset(&mm, 0, sizeof(mm));
		m.opts = &mm;
		m.id = id;
		gw_read_result_init(&res, rd, (size_t)p->n_regs);
		const struct gw_read_faults *st = &res.faults;
		snprintf(id, sizeof(id), "m%s", argv[a]);
		mm.unit_id = atoi(argv[a]);
		mm.profile = p;
		rc = drv->read(h, &m, NULL, &res);
		if (rc < 0) {
			printf("%d\terror\t%s\n", mm.unit_id, gw_strerror(rc));
			/* The driver logs no failure: its caller does, in the
			 * words the scheduler's warning gives it. */
			char why[sizeof(st->detail) + 64];
			gw_warn("meter %s (unit %d on bus %s): read failed: %s", m.id,
				mm.unit_id, bus.name,
				gw_read_failure(rc, st, why, sizeof(why)));
			status = 1;
		}
		if ((rc < 0 ? 0 : (size_t)rc) != res.n)
			status = 1;
		for (int i = 0; i < rc; i++) {
			char val[48];
			if (strcmp(rd[i].meter_id, m.id) != 0 || rd[i].ts_ms != 0)
				status = 1;
			gw_format_decimal(rd[i].value, rd[i].scale, val, sizeof(val));
			printf("%d\t%s\t%s\t%s\n", mm.unit_id, rd[i].obis, val,
			       gw_unit_name((enum gw_unit)rd[i].unit));
		}
		printf("%d\tstats\trequests=%u timeouts=%u exceptions=%u\n",
		       mm.unit_id, st->requests, st->timeouts, st->exceptions);
		printf("%d\tfaults\tcrc=%u malformed=%u wrong_unit=%u illegal_address=%u busy=%u\n",
		       mm.unit_id, st->crc_errors, st->malformed, st->wrong_unit,
		       st->exc_illegal_address, st->exc_busy);
		printf("%d\tmatching\tstale=%u unknown_exc=%u bad=%u\n", mm.unit_id,
		       st->stale_replies, st->exc_unknown, st->bad_values);
		for (unsigned i = 0; i < st->n_bad && i < GW_READ_BAD_MAX; i++)
			printf("%d\tbad\t%s\t%s\n", mm.unit_id, st->bad[i].obis,
			       st->bad[i].detail);
	}
	drv->close(h);
	free(rd);
	gw_profile_free(p);
	return status;
}
