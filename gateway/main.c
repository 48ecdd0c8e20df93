/* SPDX-License-Identifier: MIT */
/*
 * main.c - gatewayd: reads the configuration, installs signal handlers and
 * runs the gateway (daemon.c).
 *
 *   gatewayd -c FILE [--check] [--clock-anchor A --clock-start T
 *            --clock-speed N] [--stop-at T]
 *   gatewayd --version
 */
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "daemon.h"
#include "notify.h"
#include "version.h"

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
		"                         which the simulated clock reads --clock-start;\n"
		"                         @FILE: the seconds FILE will hold, the clock\n"
		"                         standing at --clock-start until it is there\n"
		"      --clock-start T    simulated UTC time at the anchor (2026-03-01T00:00:00Z)\n"
		"      --clock-speed N    simulated seconds per real second (1..100000)\n"
		"      --stop-at T        stop when the clock reaches UTC time T\n"
		"  -V, --version          print the version and exit\n"
		"  -h, --help             this text\n"
		"The clock options override [clock] in FILE (docs/simulated-time.md).\n"
		"Signals: SIGTERM/SIGINT seal what is due and exit; SIGHUP re-reads FILE\n"
		"(meters, buses, database; a broken file is reported and ignored).\n");
}

/* The command line, as given. */
struct cmdline {
	const char *path, *anchor, *start, *speed;
	int check;
};

/* Reads the command line into *cl and opts->stop_at_ms. Returns -1 to go
 * on, or the exit status (0 after --help, 2 on a bad line). */
static int parse_args(int argc, char **argv, struct cmdline *cl,
		      struct gw_daemon_opts *opts)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"check", no_argument, NULL, 'k'},
		{"clock-anchor", required_argument, NULL, 'a'},
		{"clock-start", required_argument, NULL, 's'},
		{"clock-speed", required_argument, NULL, 'x'},
		{"stop-at", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:hV", longopts, NULL)) != -1) {
		switch (c) {
		case 'c': cl->path = optarg; break;
		case 'k': cl->check = 1; break;
		case 'a': cl->anchor = optarg; break;
		case 's': cl->start = optarg; break;
		case 'x': cl->speed = optarg; break;
		case 't':
			if (gw_parse_utc(optarg, &opts->stop_at_ms)) {
				fprintf(stderr, "gatewayd: --stop-at: '%s' is not a UTC time\n",
					optarg);
				return 2;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': gw_version_print(stdout, "gatewayd"); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!cl->path || optind != argc) {
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The --clock-* options over [clock] of the file: a simulated clock.
 * Returns 0, or -1 with the reason on stderr. */
static int apply_clock_options(struct gw_config *cfg, const struct cmdline *cl)
{
	int64_t a = 0, st = cfg->clock.simulated ? cfg->clock.start_ms : 0;
	long long sp = cfg->clock.speed;
	char *end;

	if (!cl->anchor && !cl->start && !cl->speed)
		return 0;
	if (cl->anchor && gw_clock_parse_anchor(cl->anchor, &a)) {
		fprintf(stderr, "gatewayd: --clock-anchor: '%s' is not 'now', UTC seconds or @FILE\n",
			cl->anchor);
		return -1;
	}
	if (!cl->anchor && cfg->clock.simulated)
		a = cfg->clock.anchor_us;
	if (cl->start && gw_parse_utc(cl->start, &st)) {
		fprintf(stderr, "gatewayd: --clock-start: '%s' is not a UTC time\n",
			cl->start);
		return -1;
	}
	if (cl->speed) {
		sp = strtoll(cl->speed, &end, 10);
		if (*end || sp < 1 || sp > GW_CLOCK_SPEED_MAX) {
			fprintf(stderr, "gatewayd: --clock-speed: '%s' is not in 1..%d\n",
				cl->speed, GW_CLOCK_SPEED_MAX);
			return -1;
		}
	}
	if (!cl->start && !cfg->clock.simulated) {
		fprintf(stderr, "gatewayd: a simulated clock needs --clock-start\n");
		return -1;
	}
	gw_clock_init_sim(&cfg->clock, a, st, sp);
	return 0;
}

/* SIGTERM and SIGINT stop, SIGHUP reloads (opts->reload); a closed
 * socket is an error return, not a signal. */
static void install_signals(struct gw_daemon_opts *opts)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	opts->reload = &reload_flag;
	signal(SIGPIPE, SIG_IGN);
}

/* Two malloc arenas, not eight a core: every bus has a worker thread
 * (50 at 10,000 meters), and each arena keeps what its threads freed (a
 * journal record's deflate state, about 270 kB, once a cycle) as its
 * own; with one arena a thread, that was about 14 MB at 50 buses. The
 * workers allocate about once a cycle; the cost of sharing was not
 * measured apart (scale.sh, 10,000 x 3: gatewayd's CPU per 1,000 reads
 * 1.0 x metersim's). MALLOC_ARENA_MAX in the environment still wins. */
static void fewer_arenas(void)
{
#ifdef M_ARENA_MAX
	if (!getenv("MALLOC_ARENA_MAX"))
		mallopt(M_ARENA_MAX, 2);
#endif
}

/* A fixed mmap threshold, glibc's first one (128 kB): glibc raises it to
 * the size of each mmapped block freed (up to 32 MB) and the trim
 * threshold to twice that, so that after the first seal its buffers came
 * from the heap and their pages stayed there, free, between seals (1.9
 * MB of free top chunk at 2,000 meters: tests/bench/heap/heap_sites.sh).
 * Fixed, a block of 128 kB or more is mapped and handed back when freed,
 * and the heap's free top above 128 kB is returned. Side by side with
 * the dynamic threshold (tests/bench/heap/scale_pair.sh, 1,000 x 3, the
 * threshold set through GLIBC_TUNABLES, with the 64 kB of said[] cut in
 * scheduler.c): peak RSS at the seals 0.4-1.0 MB lower (ratio 0.951,
 * 0.923-0.966), CPU per 1,000 reads the same within the runs' spread
 * (benchmarks.md). MALLOC_MMAP_THRESHOLD_ in the environment still wins. */
static void fixed_mmap_threshold(void)
{
	if (!getenv("MALLOC_MMAP_THRESHOLD_"))
		mallopt(M_MMAP_THRESHOLD, 128 * 1024);
}

int main(int argc, char **argv)
{
	struct cmdline cl = {0};
	struct gw_daemon_opts opts = {0};
	struct gw_config *cfg;

	fewer_arenas();
	fixed_mmap_threshold();
	int rc = parse_args(argc, argv, &cl, &opts);

	if (rc >= 0)
		return rc;
	if (gw_config_load(cl.path, &cfg))
		return 2;
	if (apply_clock_options(cfg, &cl)) {
		gw_config_free(cfg);
		return 2;
	}
	if (cl.check) {
		printf("%s: ok: gateway %s, %d buses, %d meters, %d profiles\n",
		       cl.path, cfg->gateway_id, cfg->n_buses, cfg->n_meters,
		       cfg->n_profiles);
		gw_config_free(cfg);
		return 0;
	}
	gw_log_set_level(cfg->log_level);
	gw_info("gatewayd %s starting, configuration %s", gw_version(), cl.path);
	install_signals(&opts);
	gw_notify_open(); /* systemd's socket, if it started us (notify.h) */
	rc = gw_daemon_run(&cfg, &opts, &stop_flag);
	gw_notify_close();
	gw_config_free(cfg);
	return rc ? 1 : 0;
}
