/* SPDX-License-Identifier: MIT */
/*
 * gwctl.c - the operator's command line: dispatches subcommands.
 */
#include <stdio.h>
#include <string.h>

#include "gwctl.h"
#include "gwctl_clock.h"
#include "gwctl_db.h"
#include "gwctl_spool.h"
#include "version.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gwctl COMMAND [ARGS]\n"
		"The meter gateway's operator tool.\n\n"
		"Meters:\n"
		"  read -c CONFIG METER [--tsv] [--trace FILE]\n"
		"                                 read one meter once and print its registers\n"
		"                                 (--tsv: obis<TAB>value<TAB>unit per line;\n"
		"                                 Modbus and IEC 62056-21 meters alike;\n"
		"                                 --trace: IEC bytes or Modbus frames, with times)\n"
		"  scan (-c CONFIG BUS | --tcp HOST[:PORT] | --rtu DEVICE [--baud N])\n"
		"       [--from U] [--to U] [--timeout-ms MS]\n"
		"                                 list the Modbus unit ids that answer on a line\n"
		"Configuration:\n"
		"  config keys [SECTION]          a section's keys (type, range, default,\n"
		"                                 meaning) as docs/configuration.md has them\n"
		"Status:\n"
		"  status (-c CONFIG | SPOOL_DIR)  alarms, spool usage, the clock, readings\n"
		"                                 dropped by reason, each bus's poll cycles\n"
		"                                 (late, overrun, skipped, durations), each\n"
		"                                 meter's state and fault counters (exit 1 if\n"
		"                                 an alarm is raised or a meter is offline)\n"
		"  metrics (-c CONFIG | SPOOL_DIR) the same in the Prometheus text format,\n"
		"                                 as gatewayd writes [metrics] textfile\n"
		"Clock (alarm clock_jump: the gateway does not believe its clock):\n"
		"  clock trust (-c CONFIG | SPOOL_DIR)\n"
		"                                 the clock is right (the gateway was off for a\n"
		"                                 while): gatewayd seals by it again and puts\n"
		"                                 the readings it kept out into their days\n"
		"  clock rewind -c CONFIG [--to YYYY-MM-DD] [--now UTC-TIME] [--dry-run]\n"
		"                                 a wrong clock sealed days (the spool's state is\n"
		"                                 ahead of the right clock): with gatewayd\n"
		"                                 stopped, set the spool back so that the real\n"
		"                                 days are sealed again with every reading; what\n"
		"                                 the wrong clock sealed or stamped goes to\n"
		"                                 quarantine/ (--to: the first day to seal again;\n"
		"                                 --now: the true time if this machine's clock\n"
		"                                 is not right yet)\n"
		"Spool:\n"
		"  spool ls (-c CONFIG | DIR)     list batches: ready, done, quarantined,\n"
		"                                 then usage and any alarm (with the\n"
		"                                 reason a refused batch was set aside)\n"
		"  spool verify (-c CONFIG | DIR | FILE...)\n"
		"                                 check every batch's CRC and structure\n"
		"  spool dump [--intervals | --events] FILE\n"
		"                                 print a batch as CSV (daily registers,\n"
		"                                 every reading, or its meter events)\n"
		"  spool journal [--check] (-c CONFIG | DIR | FILE...)\n"
		"                                 print the journal of open days as CSV,\n"
		"                                 or check its segments\n"
		"Database:\n"
		"  db migrate [--conninfo S] [--schema-dir DIR]\n"
		"                                 apply schema migrations not yet applied\n"
		"  db status [--conninfo S] [--schema-dir DIR]\n"
		"                                 list migrations, applied or pending\n"
		"                                 (exit 1 if any is pending)\n"
		"  db maintain [--from DAY]       make interval_readings partitions ahead\n"
		"  db gateway ID [--role R] [--timezone Z]\n"
		"                                 bind a gateway to its login role, set its zone\n"
		"  db assign METER GATEWAY [--from DAY]\n"
		"                                 assign a meter to a gateway; held data loads\n"
		"  db account METER ACCOUNT --from DAY\n"
		"                                 a customer account holds a meter from DAY\n"
		"  db claims                      meters reported by gateways not assigned them\n"
		"  upload [--conninfo S] [--retry-for SECONDS] FILE...|SPOOL_DIR\n"
		"                                 load batch files into PostgreSQL, exactly once;\n"
		"                                 a batch whose data the database refuses goes\n"
		"                                 to SPOOL_DIR/quarantine/ with its reason\n"
		"                                 (exit 1); loading it from there once mended\n"
		"                                 moves it to done/\n"
		"  --version                      print the version and exit\n\n"
		"Connection strings default to $GW_PG_CONNINFO, then libpq's PG* variables.\n");
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	const char *cmd = argv[1];
	if (strcmp(cmd, "-h") == 0 || strcmp(cmd, "--help") == 0 ||
	    strcmp(cmd, "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0 ||
	    strcmp(cmd, "version") == 0) {
		gw_version_print(stdout, "gwctl");
		return 0;
	}
	if (strcmp(cmd, "read") == 0)
		return gwctl_read(argc - 1, argv + 1);
	if (strcmp(cmd, "scan") == 0)
		return gwctl_scan(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return gwctl_config(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return gwctl_status(argc - 1, argv + 1);
	if (strcmp(cmd, "metrics") == 0)
		return gwctl_metrics(argc - 1, argv + 1);
	if (strcmp(cmd, "spool") == 0)
		return gwctl_spool(argc - 1, argv + 1);
	if (strcmp(cmd, "clock") == 0)
		return gwctl_clock(argc - 1, argv + 1);
	if (strcmp(cmd, "db") == 0)
		return gwctl_db(argc - 1, argv + 1);
	if (strcmp(cmd, "upload") == 0)
		return gwctl_upload(argc - 1, argv + 1);
	fprintf(stderr, "gwctl: unknown command '%s' (gwctl --help)\n", cmd);
	return 2;
}
