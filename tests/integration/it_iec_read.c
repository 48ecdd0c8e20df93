/* SPDX-License-Identifier: MIT */
/*
 * it_iec_read.c - keeps one IEC 62056-21 bus open and reads a meter each
 * time a line "METER_ID" arrives on standard input, for
 * tests/integration/iec_serial.sh (a port that vanishes and comes back
 * under an open bus, a wedged line):
 *
 *     it_iec_read CONFIG BUS
 *
 * Prints per request one line "ID<TAB>ok<TAB>N readings<TAB>1.8.0=VALUE"
 * or "ID<TAB>error<TAB>MESSAGE", then "ID<TAB>stats<TAB>requests=N
 * timeouts=N crc=N malformed=N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "driver.h"
#include "gw.h"
#include "iec_parse.h"

int main(int argc, char **argv)
{
	struct gw_config *cfg = NULL;
	char line[128];
	static struct gw_reading rd[GW_IEC_MAX_READINGS];

	if (argc != 3) {
		fprintf(stderr, "usage: %s CONFIG BUS\n", argv[0]);
		return 2;
	}
	gw_log_set_level(GW_LOG_ERROR);
	if (gw_config_load(argv[1], &cfg))
		return 2;
	int bus = -1;
	for (int i = 0; i < cfg->n_buses; i++)
		if (strcmp(cfg->buses[i].name, argv[2]) == 0)
			bus = i;
	if (bus < 0)
		return 2;
	const struct gw_driver_ops *drv = cfg->buses[bus].driver;
	void *h = NULL;
	int rc = drv->open(&cfg->buses[bus], &h);
	printf("open\t%s\n", rc ? gw_strerror(rc) : "ok");
	fflush(stdout);
	if (rc) {
		gw_config_free(cfg);
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		line[strcspn(line, "\r\n")] = '\0';
		const struct gw_meter_config *m = gw_config_find_meter(cfg, line);
		if (!m) {
			printf("%s\terror\tno such meter\n", line);
			fflush(stdout);
			continue;
		}
		struct gw_read_result res;
		/* profile times on the configured clock */
		struct gw_read_ctx ctx = {.clock = &cfg->clock};
		gw_read_result_init(&res, rd, drv->max_readings);
		rc = drv->read(h, m, &ctx, &res);
		const struct gw_read_faults *st = &res.faults;
		if (rc < 0) {
			printf("%s\terror\t%s\n", m->id, gw_strerror(rc));
		} else {
			long long v = -1;
			for (int i = 0; i < rc; i++)
				if (strcmp(rd[i].obis, "1.8.0") == 0 && rd[i].ts_ms == 0)
					v = (long long)rd[i].value;
			printf("%s\tok\t%d readings\t1.8.0=%lld\n", m->id, rc, v);
		}
		printf("%s\tstats\trequests=%u timeouts=%u crc=%u malformed=%u\n", m->id,
		       st->requests, st->timeouts, st->crc_errors, st->malformed);
		fflush(stdout);
	}
	drv->close(h);
	gw_config_free(cfg);
	return 0;
}
