/* SPDX-License-Identifier: MIT */
/*
 * gwctl_config.c - `gwctl config keys [SECTION]`: the configuration keys
 * as the key tables of the core and of every driver define them, as the
 * Markdown tables of docs/configuration.md (tools/config_docs.sh puts
 * them there; tests/integration/config_keys.sh checks they are).
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "gwctl.h"

static void config_usage(FILE *f)
{
	fprintf(f,
		"usage: gwctl config keys [SECTION]\n"
		"  Prints the keys of SECTION as a Markdown table: gateway, clock,\n"
		"  database, metrics, bus (every bus), meter (every meter), a bus type's own\n"
		"  keys (modbus-tcp, ...) or its meters' ('meter modbus-tcp').\n"
		"  Without SECTION: the list of sections (a meter table that two bus\n"
		"  types share is listed once).\n");
}

int gwctl_config(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "keys") != 0 || argc > 3) {
		config_usage(argc >= 2 && (strcmp(argv[1], "-h") == 0 ||
					   strcmp(argv[1], "--help") == 0)
				     ? stdout : stderr);
		return 2;
	}
	if (argc == 2) {
		printf("gateway\nclock\ndatabase\nmetrics\nbus\nmeter\n");
		for (int i = 0; gw_drivers[i]; i++) {
			printf("%s\n", gw_drivers[i]->name);
			/* drivers that share their meters' keys (the two
			 * Modbus transports) list them once */
			int shared = 0;
			for (int j = 0; j < i; j++)
				shared |= gw_drivers[j]->meter_keys ==
					  gw_drivers[i]->meter_keys;
			if (!shared)
				printf("meter %s\n", gw_drivers[i]->name);
		}
		return 0;
	}
	if (gw_config_keys_markdown(stdout, argv[2]) != 0) {
		fprintf(stderr, "gwctl config keys: no section '%s'\n", argv[2]);
		return 2;
	}
	return 0;
}
