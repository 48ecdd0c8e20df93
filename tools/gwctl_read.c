/* SPDX-License-Identifier: MIT */
/*
 * gwctl_read.c - `gwctl read`: what a field engineer runs before leaving a
 * site. Loads the gateway's configuration, opens the meter's bus with its
 * driver, reads every register of the meter's profile once and prints the
 * values exactly as the gateway would store them.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "driver.h"
#include "gw.h"
#include "gwctl.h"
#include "reading.h"

static void read_usage(FILE *f)
{
	fputs("usage: gwctl read -c CONFIG METER_ID [--tsv]\n"
	      "  Reads meter METER_ID once and prints 'OBIS value unit' per\n"
	      "  register (--tsv: obis<TAB>value<TAB>unit, no header).\n",
	      f);
}

int gwctl_read(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "tsv", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL;
	int tsv = 0, c;

	optind = 0; /* glibc: start over, whatever parsed argv before */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 't': tsv = 1; break;
		case 'h': read_usage(stdout); return 0;
		default: read_usage(stderr); return 2;
		}
	}
	/* Accept --tsv after the meter id too. */
	const char *id = NULL;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--tsv") == 0) {
			tsv = 1;
		} else if (!id) {
			id = argv[i];
		} else {
			read_usage(stderr);
			return 2;
		}
	}
	if (!config || !id) {
		read_usage(stderr);
		return 2;
	}

	/* The driver logs a failing meter; here the one-line message below
	 * says it all. */
	gw_log_set_level(GW_LOG_ERROR);
	struct gw_config *cfg = NULL;
	if (gw_config_load(config, &cfg) != 0)
		return 1; /* reported as FILE:LINE */
	const struct gw_meter_config *m = gw_config_find_meter(cfg, id);
	if (!m) {
		fprintf(stderr, "gwctl read: no meter '%s' in %s\n", id, config);
		gw_config_free(cfg);
		return 1;
	}
	const struct gw_bus_config *bus = &cfg->buses[m->bus];
	const struct gw_driver_ops *drv = gw_driver_for(bus->type);
	void *h = NULL;
	int rc = drv ? drv->open(bus, &h) : GW_EINVAL;
	if (rc) {
		fprintf(stderr, "gwctl read: meter %s: cannot open bus %s: %s\n", id,
			bus->name, gw_strerror(rc));
		gw_config_free(cfg);
		return 1;
	}
	size_t cap = (size_t)m->profile->n_regs;
	struct gw_reading *rd = calloc(cap, sizeof(*rd));
	struct gw_read_stats st;
	memset(&st, 0, sizeof(st));
	rc = rd ? drv->read(h, m, rd, cap, &st) : GW_ENOMEM;
	drv->close(h);
	if (rc < 0) {
		fprintf(stderr, "gwctl read: meter %s (unit %d on bus %s): %s\n", id,
			m->unit_id, bus->name, gw_strerror(rc));
		free(rd);
		gw_config_free(cfg);
		return 1;
	}
	if (!tsv)
		printf("%-12s %20s  %s\n", "OBIS", "value", "unit");
	for (int i = 0; i < rc; i++) {
		char val[48];
		gw_format_decimal(rd[i].value, rd[i].scale, val, sizeof(val));
		const char *unit = gw_unit_name((enum gw_unit)rd[i].unit);
		if (tsv)
			printf("%s\t%s\t%s\n", rd[i].obis, val, unit);
		else
			printf("%-12s %20s  %s\n", rd[i].obis, val, unit);
	}
	if (!tsv && (st.timeouts || st.crc_errors || st.exceptions || st.malformed))
		printf("# %u requests: %u timeouts, %u CRC errors, %u exceptions, %u malformed\n",
		       st.requests, st.timeouts, st.crc_errors, st.exceptions,
		       st.malformed);
	free(rd);
	gw_config_free(cfg);
	return 0;
}
