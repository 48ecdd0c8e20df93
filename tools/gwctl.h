/* SPDX-License-Identifier: MIT */
/*
 * gwctl.h - subcommands of the operator's tool gwctl that live in their own
 * files; tools/gwctl.c dispatches to them.
 */
#ifndef GW_GWCTL_H
#define GW_GWCTL_H

/* `gwctl read -c CONFIG METER_ID [--tsv]`: reads one meter once through its
 * bus's driver and prints every register as "OBIS value unit" (exact
 * decimals), or with --tsv one "obis<TAB>value<TAB>unit" line each.
 * argv[0] is the subcommand name ("read"). Returns the exit status: 0 on
 * success, 1 if the configuration cannot be loaded or the meter cannot be
 * read (one line on stderr names the meter and the error), 2 on a usage
 * error. */
int gwctl_read(int argc, char **argv);

/* `gwctl scan (-c CONFIG BUS | --tcp HOST[:PORT] | --rtu DEVICE ...)
 * [--from U] [--to U] [--timeout-ms MS]`: lists the Modbus unit ids that
 * answer on a line, one "UNIT<TAB>answers" line each. argv[0] is "scan".
 * Returns 0 if some unit answered, 1 if none (or the line cannot be
 * opened), 2 on a usage error. */
int gwctl_scan(int argc, char **argv);

/* `gwctl config keys [SECTION]`: prints a section's configuration keys as
 * a Markdown table (docs/configuration.md), or the list of sections.
 * argv[0] is "config". Returns 0, or 2 on a usage error or an unknown
 * section. */
int gwctl_config(int argc, char **argv);

/* `gwctl metrics (-c CONFIG | SPOOL_DIR)`: the gateway's metrics in the
 * Prometheus text format, as gatewayd writes them into [metrics]
 * textfile (docs/metrics.md). argv[0] is "metrics". Returns 0, 1 if the
 * status cannot be read, 2 on a usage error. */
int gwctl_metrics(int argc, char **argv);

struct gw_config;
/* Whether a running gatewayd holds the spool of this configuration (its
 * <spool>/lock), so that it has the serial lines open: 1 and *pid (0 if
 * unknown), or 0. The lock file is only looked at, never made. */
int gwctl_gatewayd_runs(const struct gw_config *cfg, long *pid);

#endif
