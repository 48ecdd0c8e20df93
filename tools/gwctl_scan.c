/* SPDX-License-Identifier: MIT */
/*
 * gwctl_scan.c - `gwctl scan`: which unit ids answer on a Modbus line (an
 * RS-485 device or a TCP endpoint / TCP-to-RTU bridge), as mbmd's scan
 * does. What a field engineer runs after wiring a line and before writing
 * the meter list.
 *
 * Each unit id of the range is asked for one register (holding register 0
 * by default). A unit answers if it sends any well-formed reply, also an
 * exception (illegal address, illegal function, busy: the device is there);
 * "gateway target failed to respond" (0x0B) and "gateway path unavailable"
 * (0x0A) from a bridge, a timeout and garbage count as no answer.
 */
#include <errno.h>
#include <getopt.h>
#include <modbus.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "gw.h"
#include "gwctl.h"
#include "modbus_bus.h"

static void scan_usage(FILE *f)
{
	fputs("usage: gwctl scan (-c CONFIG BUS | --tcp HOST[:PORT] |\n"
	      "                   --rtu DEVICE [--baud N] [--parity N|E|O] [--stop-bits N])\n"
	      "                  [--from U] [--to U] [--timeout-ms MS]\n"
	      "                  [--register ADDR] [--function 3|4]\n"
	      "  Asks every unit id from U (default 1) to U (default 247) for one\n"
	      "  register and prints 'UNIT<TAB>answers' for each that replies (an\n"
	      "  exception reply counts: the device is there), then a summary line.\n"
	      "  --timeout-ms: wait per unit (default 200; with -c the bus's\n"
	      "  timeout_ms). Exit 0 if some unit answered, 1 if none, 2 on bad usage.\n",
	      f);
}

static int parse_int(const char *s, long lo, long hi, int *out)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 0);
	if (errno || *end || end == s || v < lo || v > hi)
		return -1;
	*out = (int)v;
	return 0;
}

int gwctl_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "tcp", required_argument, NULL, 't' },
		{ "rtu", required_argument, NULL, 'r' },
		{ "baud", required_argument, NULL, 'b' },
		{ "parity", required_argument, NULL, 'P' },
		{ "stop-bits", required_argument, NULL, 'S' },
		{ "from", required_argument, NULL, 'f' },
		{ "to", required_argument, NULL, 'T' },
		{ "timeout-ms", required_argument, NULL, 'o' },
		{ "register", required_argument, NULL, 'a' },
		{ "function", required_argument, NULL, 'F' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *config = NULL, *tcp = NULL, *rtu = NULL;
	int baud = 9600, stop_bits = 1, from = 1, to = GW_MODBUS_UNIT_MAX, timeout_ms = -1;
	int reg = 0, fc = 3, c;
	char parity = 'N';

	optind = 0; /* options may follow the bus name */
	while ((c = getopt_long(argc, argv, "c:h", opts, NULL)) != -1) {
		const char *bad = NULL;
		switch (c) {
		case 'c': config = optarg; break;
		case 't': tcp = optarg; break;
		case 'r': rtu = optarg; break;
		case 'b': if (parse_int(optarg, 50, 4000000, &baud)) bad = "--baud"; break;
		case 'P':
			if (strlen(optarg) != 1 || !strchr("NEO", optarg[0]))
				bad = "--parity";
			else
				parity = optarg[0];
			break;
		case 'S': if (parse_int(optarg, 1, 2, &stop_bits)) bad = "--stop-bits"; break;
		case 'f': if (parse_int(optarg, 0, GW_MODBUS_UNIT_MAX, &from)) bad = "--from"; break;
		case 'T': if (parse_int(optarg, 0, GW_MODBUS_UNIT_MAX, &to)) bad = "--to"; break;
		case 'o': if (parse_int(optarg, 1, 60000, &timeout_ms)) bad = "--timeout-ms"; break;
		case 'a': if (parse_int(optarg, 0, 65535, &reg)) bad = "--register"; break;
		case 'F':
			if (parse_int(optarg, 3, 4, &fc))
				bad = "--function";
			break;
		case 'h': scan_usage(stdout); return 0;
		default: scan_usage(stderr); return 2;
		}
		if (bad) {
			fprintf(stderr, "gwctl scan: %s: bad value '%s'\n", bad, optarg);
			return 2;
		}
	}
	int sources = !!config + !!tcp + !!rtu;
	if (sources != 1 || (config && optind != argc - 1) ||
	    (!config && optind != argc) || from > to) {
		scan_usage(stderr);
		return 2;
	}

	modbus_t *ctx = NULL;
	char where[300];
	int byte_timeout_ms = 100;
	if (config) {
		struct gw_config *cfg = NULL;
		gw_log_set_level(GW_LOG_ERROR);
		if (gw_config_load(config, &cfg) != 0)
			return 1;
		const struct gw_bus_config *bus = NULL;
		for (int i = 0; i < cfg->n_buses; i++)
			if (strcmp(cfg->buses[i].name, argv[optind]) == 0)
				bus = &cfg->buses[i];
		if (bus && gw_modbus_is_rtutcp(bus)) {
			fprintf(stderr, "gwctl scan: bus '%s' is modbus-rtu-tcp, which "
				"scan cannot read yet; gwctl read reads its meters\n",
				argv[optind]);
			gw_config_free(cfg);
			return 1;
		}
		if (!bus || !(gw_modbus_is_tcp(bus) || gw_modbus_is_rtu(bus))) {
			fprintf(stderr, "gwctl scan: no Modbus bus '%s' in %s\n",
				argv[optind], config);
			gw_config_free(cfg);
			return 1;
		}
		long holder;
		if (gw_modbus_is_rtu(bus) && gwctl_gatewayd_runs(cfg, &holder)) {
			fprintf(stderr, "gwctl scan: bus %s is a serial line that gatewayd "
				"(pid %ld, %s/lock) has open; stop it first (systemctl stop "
				"gatewayd), or see its meters in gwctl status\n",
				bus->name, holder, cfg->spool_dir);
			gw_config_free(cfg);
			return 1;
		}
		char how[260];
		int bus_timeout_ms = 0;
		ctx = gw_modbus_new_ctx(bus, &bus_timeout_ms, &byte_timeout_ms, how,
					sizeof(how));
		if (timeout_ms < 0)
			timeout_ms = bus_timeout_ms;
		snprintf(where, sizeof(where), "bus %s (%.240s)", bus->name, how);
		gw_config_free(cfg);
	} else if (tcp) {
		char host[256];
		const char *port = "502";
		const char *colon = strrchr(tcp, ':');
		size_t hl = colon ? (size_t)(colon - tcp) : strlen(tcp);
		if (hl == 0 || hl >= sizeof(host) || (colon && !colon[1])) {
			fprintf(stderr, "gwctl scan: --tcp wants HOST[:PORT]\n");
			return 2;
		}
		memcpy(host, tcp, hl);
		host[hl] = '\0';
		if (colon)
			port = colon + 1;
		ctx = modbus_new_tcp_pi(host, port);
		snprintf(where, sizeof(where), "tcp %s:%s", host, port);
	} else {
		ctx = modbus_new_rtu(rtu, baud, parity, 8, stop_bits);
		snprintf(where, sizeof(where), "%.200s %d baud 8%c%d", rtu, baud,
			 parity, stop_bits);
	}
	if (timeout_ms < 0)
		timeout_ms = 200;
	if (!ctx) {
		fprintf(stderr, "gwctl scan: %s: %s\n", where, modbus_strerror(errno));
		return 1;
	}
	modbus_set_response_timeout(ctx, (uint32_t)(timeout_ms / 1000),
				    (uint32_t)(timeout_ms % 1000) * 1000);
	modbus_set_byte_timeout(ctx, (uint32_t)(byte_timeout_ms / 1000),
				(uint32_t)(byte_timeout_ms % 1000) * 1000);
	if (modbus_connect(ctx) == -1) {
		fprintf(stderr, "gwctl scan: %s: cannot connect: %s\n", where,
			modbus_strerror(errno));
		modbus_free(ctx);
		return 1;
	}
	printf("# scanning units %d..%d on %s, FC %d register %d, timeout %d ms\n",
	       from, to, where, fc, reg, timeout_ms);
	fflush(stdout);
	int found = 0;
	for (int u = from; u <= to; u++) {
		uint16_t v;
		int rc;
		modbus_set_slave(ctx, u);
		if (fc == 4)
			rc = modbus_read_input_registers(ctx, reg, 1, &v);
		else
			rc = modbus_read_registers(ctx, reg, 1, &v);
		int e = errno;
		if (rc == 1) {
			printf("%d\tanswers\n", u);
		} else if (e > MODBUS_ENOBASE && e < EMBXGPATH) {
			printf("%d\tanswers (exception: %s)\n", u, modbus_strerror(e));
		} else {
			if (e != ETIMEDOUT && e != EMBXGPATH && e != EMBXGTAR &&
			    e != EMBBADCRC && e != EMBBADDATA && e != EMBBADSLAVE) {
				/* connection lost: try to go on */
				modbus_close(ctx);
				if (modbus_connect(ctx) == -1) {
					fprintf(stderr, "gwctl scan: %s: connection lost at unit %d: %s\n",
						where, u, modbus_strerror(e));
					modbus_free(ctx);
					return 1;
				}
			}
			modbus_flush(ctx);
			continue;
		}
		found++;
		fflush(stdout);
	}
	printf("# %d of %d unit ids answer\n", found, to - from + 1);
	modbus_close(ctx);
	modbus_free(ctx);
	return found ? 0 : 1;
}
