/* SPDX-License-Identifier: MIT */
/*
 * gwctl_read.c - `gwctl read`: what a field engineer runs before leaving a
 * site. Loads the gateway's configuration, opens the meter's bus with its
 * driver, reads every register of the meter's profile once and prints the
 * values exactly as the gateway would store them.
 *
 * --trace FILE writes every byte exchanged, with direction and time, for
 * troubleshooting a meter in the field: an IEC 62056-21 meter's bytes, a
 * Modbus meter's frames (RTU with their CRC, TCP with their MBAP header).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "config.h"
#include "driver.h"
#include "gw.h"
#include "gwctl.h"
#include "iec62056.h"
#include "iec_parse.h"
#include "meter_ident.h"
#include "modbus_bus.h"
#include "reading.h"

static void read_usage(FILE *f)
{
	fputs("usage: gwctl read -c CONFIG METER_ID [--tsv] [--trace FILE]\n"
	      "  Reads meter METER_ID once and prints 'OBIS value unit' per\n"
	      "  register (--tsv: obis<TAB>value<TAB>unit, no header). Load-profile\n"
	      "  readings of IEC 62056-21 meters add a fourth column, their UTC time.\n"
	      "  --trace FILE  write every byte exchanged to FILE, with direction and\n"
	      "                milliseconds ('-': standard error): IEC 62056-21 bytes,\n"
	      "                Modbus frames in hex (RTU with CRC, TCP with header)\n",
	      f);
}

int gwctl_read(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "tsv", no_argument, NULL, 't' },
		{ "trace", required_argument, NULL, 'T' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *trace = NULL;
	int tsv = 0, c;

	optind = 0; /* glibc: start over, whatever parsed argv before */
	while ((c = getopt_long(argc, argv, "+c:h", opts, NULL)) != -1) {
		switch (c) {
		case 'c': config = optarg; break;
		case 't': tsv = 1; break;
		case 'T': trace = optarg; break;
		case 'h': read_usage(stdout); return 0;
		default: read_usage(stderr); return 2;
		}
	}
	/* Accept --tsv after the meter id too. */
	const char *id = NULL;
	for (int i = optind; i < argc; i++) {
		if (strcmp(argv[i], "--tsv") == 0) {
			tsv = 1;
		} else if (strcmp(argv[i], "--trace") == 0 && i + 1 < argc) {
			trace = argv[++i];
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
	const struct gw_driver_ops *drv = bus->driver;
	bool iec = drv == &gw_iec62056_driver;
	char where[GW_CONFIG_PLACE_MAX];
	gw_config_meter_place(cfg, m, where, sizeof(where));
	FILE *tf = NULL;
	if (trace) {
		tf = strcmp(trace, "-") == 0 ? stderr : fopen(trace, "w");
		if (!tf) {
			fprintf(stderr, "gwctl read: cannot write %s\n", trace);
			gw_config_free(cfg);
			return 1;
		}
	}
	/* Two programs on one serial line take each other's replies: the
	 * running gateway would lose its reads as much as this one. */
	long holder;
	if ((iec || drv == &gw_modbus_rtu_driver) && gwctl_gatewayd_runs(cfg, &holder)) {
		fprintf(stderr, "gwctl read: meter %s: bus %s is a serial line that gatewayd "
			"(pid %ld, %s/lock) has open; stop it first (systemctl stop "
			"gatewayd), or see the meter in gwctl status\n", id, bus->name,
			holder, cfg->spool_dir);
		if (tf && tf != stderr)
			fclose(tf);
		gw_config_free(cfg);
		return 1;
	}
	void *h = NULL;
	/* A bus that cannot be opened: the driver says why (the port that
	 * is missing, the group to join, the host that refused). */
	gw_log_set_level(GW_LOG_WARN);
	int rc = drv ? drv->open(bus, &h) : GW_EINVAL;
	gw_log_set_level(GW_LOG_ERROR);
	if (rc) {
		fprintf(stderr, "gwctl read: meter %s: cannot open bus %s: %s\n", id,
			bus->name, gw_strerror(rc));
		if (tf && tf != stderr)
			fclose(tf);
		gw_config_free(cfg);
		return 1;
	}
	if (tf && iec)
		gw_iec_set_trace(h, tf);
	else if (tf)
		gw_modbus_set_trace(h, tf);
	/* An IEC meter says what it has: room for the largest readout the
	 * gateway takes (the driver's bound, the same as gatewayd's). */
	size_t cap = drv->max_readings ? drv->max_readings : m->max_readings;
	struct gw_reading *rd = calloc(cap, sizeof(*rd));
	struct gw_read_result res;
	struct gw_read_ctx rctx = {.clock = &cfg->clock};
	gw_read_result_init(&res, rd, cap);
	rc = rd ? drv->read(h, m, &rctx, &res) : GW_ENOMEM;
	const struct gw_read_faults *f = &res.faults;
	const struct gw_meter_seen *seen = &res.ident;
	drv->close(h);
	if (tf && tf != stderr)
		fclose(tf);
	if (rc < 0) {
		char why[sizeof(f->detail) + 64];
		fprintf(stderr, "gwctl read: meter %s (%s): %s\n", id, where,
			gw_read_failure(rc, f, why, sizeof(why)));
		free(rd);
		gw_config_free(cfg);
		return 1;
	}
	if (!tsv)
		printf("%-12s %20s  %s\n", "OBIS", "value", "unit");
	for (size_t i = 0; i < res.n; i++) {
		char val[48];
		gw_format_decimal(rd[i].value, rd[i].scale, val, sizeof(val));
		const char *unit = gw_unit_name((enum gw_unit)rd[i].unit);
		char when[40] = "";
		if (rd[i].ts_ms) /* a load-profile interval: its own time */
			gw_format_utc(rd[i].ts_ms, when, sizeof(when));
		if (tsv)
			printf("%s\t%s\t%s%s%s\n", rd[i].obis, val, unit,
			       *when ? "\t" : "", when);
		else
			printf("%-12s %20s  %s%s%s\n", rd[i].obis, val, unit,
			       *when ? "  " : "", when);
	}
	if (!tsv && seen->clock_ms) {
		char mt[40], gt[40];
		int64_t now = gw_clock_now_ms(&cfg->clock);
		int64_t max = (int64_t)bus->max_clock_drift_s * 1000;
		int off = max > 0 &&
			  gw_meter_clock_drifts(0, seen->clock_ms - now, max);
		printf("# meter clock %s, gateway %s: %+lld s%s\n",
		       gw_format_utc(seen->clock_ms, mt, sizeof(mt)),
		       gw_format_utc(now, gt, sizeof(gt)),
		       (long long)((seen->clock_ms - now) / 1000),
		       off ? " (drifted: more than max_clock_drift)" : "");
	}
	if (!tsv && (f->timeouts || f->crc_errors || f->exceptions || f->malformed))
		printf("# %u requests: %u timeouts, %u CRC errors, %u exceptions, %u malformed\n",
		       f->requests, f->timeouts, f->crc_errors, f->exceptions,
		       f->malformed);
	if (!tsv && f->stale_replies)
		printf("# %u replies discarded: they answered another request\n",
		       f->stale_replies);
	/* Values that cannot be true are not readings, but while a profile
	 * is being written they are what shows a wrong word order. */
	for (unsigned i = 0; i < f->n_bad && i < GW_READ_BAD_MAX; i++) {
		if (tsv)
			fprintf(stderr, "gwctl read: meter %s: register %s: bad value (%s)\n",
				id, f->bad[i].obis, f->bad[i].detail);
		else
			printf("# %s: bad value: %s\n", f->bad[i].obis,
			       f->bad[i].detail);
	}
	free(rd);
	gw_config_free(cfg);
	return 0;
}
