/* SPDX-License-Identifier: MIT */
/*
 * main.c - gatewayd: reads the configuration, installs signal handlers and
 * runs the gateway (daemon.c).
 *
 *   gatewayd -c FILE [--check] [--clock-anchor A --clock-start T
 *            --clock-speed N] [--stop-at T]
 */
#include <getopt.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"

/* Lock-free atomics (async-signal-safe in C11), read by the main loop;
 * every other thread runs with these signals blocked (gw_thread_start). */
static atomic_int stop_flag, reload_flag;

/* Handlers only set flags; the main loop acts on them. */
static void on_signal(int sig)
{
	if (sig == SIGHUP)
		atomic_store(&reload_flag, 1);
	else
		atomic_store(&stop_flag, 1);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gatewayd -c FILE [options]\n"
		"Polls the meters listed in FILE, keeps each meter's daily consumption\n"
		"in a crash-safe spool and loads it into PostgreSQL.\n\n"
		"  -c, --config FILE      configuration (INI; see docs/configuration.md)\n"
		"      --check            validate the configuration and exit\n"
		"      --clock-anchor A   simulated clock: real UTC seconds (or 'now') at\n"
		"                         which the simulated clock reads --clock-start\n"
		"      --clock-start T    simulated UTC time at the anchor (2026-03-01T00:00:00Z)\n"
		"      --clock-speed N    simulated seconds per real second (1..100000)\n"
		"      --stop-at T        stop when the clock reaches UTC time T\n"
		"  -h, --help             this text\n"
		"The clock options override [clock] in FILE (docs/simulated-time.md).\n"
		"Signals: SIGTERM/SIGINT seal what is due and exit; SIGHUP re-reads FILE\n"
		"(meters, buses, database; a broken file is reported and ignored).\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"clock-anchor", required_argument, NULL, 'a'},
		{"clock-start", required_argument, NULL, 's'},
		{"clock-speed", required_argument, NULL, 'x'},
		{"stop-at", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *path = NULL, *anchor = NULL, *start = NULL, *speed = NULL;
	struct gw_daemon_opts opts = {0};
	int check = 0, c;

	while ((c = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': path = optarg; break;
		case 'k': check = 1; break;
		case 'a': anchor = optarg; break;
		case 's': start = optarg; break;
		case 'x': speed = optarg; break;
		case 't':
			if (gw_parse_utc(optarg, &opts.stop_at_ms)) {
				fprintf(stderr, "gatewayd: --stop-at: '%s' is not a UTC time\n",
					optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!path || optind != argc) {
		usage(stderr);
		return 2;
	}
	struct gw_config *cfg;
	if (gw_config_load(path, &cfg))
		return 2;
	if (anchor || start || speed) {
		int64_t a = 0, st = cfg->clock.simulated ? cfg->clock.start_ms : 0;
		char *end;
		long long sp = cfg->clock.speed;
		if (anchor && gw_clock_parse_anchor(anchor, &a)) {
			fprintf(stderr, "gatewayd: --clock-anchor: '%s' is not 'now' or UTC seconds\n",
				anchor);
			goto bad;
		}
		if (!anchor && cfg->clock.simulated)
			a = cfg->clock.anchor_us;
		if (start && gw_parse_utc(start, &st)) {
			fprintf(stderr, "gatewayd: --clock-start: '%s' is not a UTC time\n",
				start);
			goto bad;
		}
		if (speed) {
			sp = strtoll(speed, &end, 10);
			if (*end || sp < 1 || sp > GW_CLOCK_SPEED_MAX) {
				fprintf(stderr, "gatewayd: --clock-speed: '%s' is not in 1..%d\n",
					speed, GW_CLOCK_SPEED_MAX);
				goto bad;
			}
		}
		if (!start && !cfg->clock.simulated) {
			fprintf(stderr, "gatewayd: a simulated clock needs --clock-start\n");
			goto bad;
		}
		gw_clock_init_sim(&cfg->clock, a, st, sp);
	}
	if (check) {
		printf("%s: ok: gateway %s, %d buses, %d meters, %d profiles\n", path,
		       cfg->gateway_id, cfg->n_buses, cfg->n_meters, cfg->n_profiles);
		gw_config_free(cfg);
		return 0;
	}
	gw_log_set_level(cfg->log_level);

	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	opts.reload = &reload_flag;
	signal(SIGPIPE, SIG_IGN);

	int rc = gw_daemon_run(&cfg, &opts, &stop_flag);
	gw_config_free(cfg);
	return rc ? 1 : 0;
bad:
	gw_config_free(cfg);
	return 2;
}
