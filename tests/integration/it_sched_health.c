/* SPDX-License-Identifier: MIT */
/*
 * it_sched_health.c - runs the gateway's scheduler (one worker per bus, the
 * real Modbus driver) against metersim for tests/integration/modbus_health.sh
 * and switches one meter's fault through metersim's control FIFO:
 *
 *     it_sched_health CONFIG FIFO UNIT ON_CYCLE OFF_CYCLE CYCLES [KIND [AGAIN]]
 *
 * At the end of bus cycle ON_CYCLE it writes "UNIT:KIND" (default
 * noanswer) into FIFO, at the end of OFF_CYCLE "UNIT:none", at the end of
 * cycle AGAIN (if given) "UNIT:KIND" once more, and stops after CYCLES
 * cycles of the first bus. Prints
 *
 *     cycles N
 *     readings METER_ID N        cycles in which the meter had readings
 *     with_1.8.0 METER_ID N      cycles in which it had a 1.8.0 reading
 *     event KIND METER_ID CYCLE [register=OBIS] DETAIL
 *     health METER_ID cycles=.. ok=.. failed=.. skipped=.. timeouts=..
 *            exceptions=.. malformed=.. wrong_unit=.. crc=.. offline=..
 *            unknown_exc=.. stale=.. bad=..
 *     maxmiss METER_ID N         longest run of cycles without readings
 *     drops bad_value N          the process's tally of bad values
 *
 * Exits 0, or 1 if the scheduler could not run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "drops.h"
#include "scheduler.h"
#include "tz.h"

#define MAXM 64

static struct gw_config *cfg;
static const char *fifo;
static int unit, on_cycle, off_cycle, max_cycles, again_cycle = -1;
static const char *kind = "noanswer";
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int cycles;                 /* sink calls of bus 0 */
static int with_readings[MAXM];    /* cycles with readings, per meter */
static int with_import[MAXM];      /* cycles with a 1.8.0 reading */
static int miss_run[MAXM], max_miss[MAXM];

static void fifo_write(const char *line)
{
	int fd = open(fifo, O_WRONLY | O_NONBLOCK);
	if (fd < 0) {
		fprintf(stderr, "it_sched_health: %s: %s\n", fifo, strerror(errno));
		return;
	}
	if (write(fd, line, strlen(line)) < 0)
		fprintf(stderr, "it_sched_health: write: %s\n", strerror(errno));
	close(fd);
}

static int sink(void *ctx, int bus, struct gw_fcycle *cyc)
{
	int seen[MAXM] = {0}, imp[MAXM] = {0};
	char line[64];
	struct gw_reading r[16];
	size_t k;

	(void)ctx;
	if (bus != 0)
		return 0;
	for (size_t from = 0; (k = gw_fcycle_read(cyc, from, r, 16)); from += k)
		for (size_t i = 0; i < k; i++)
			for (int m = 0; m < cfg->n_meters && m < MAXM; m++)
				if (strcmp(r[i].meter_id, cfg->meters[m].id) == 0) {
					seen[m] = 1;
					imp[m] |= strcmp(r[i].obis, "1.8.0") == 0;
				}
	pthread_mutex_lock(&lock);
	cycles++;
	for (int m = 0; m < cfg->n_meters && m < MAXM; m++) {
		with_import[m] += imp[m];
		if (seen[m]) {
			with_readings[m]++;
			miss_run[m] = 0;
		} else if (++miss_run[m] > max_miss[m]) {
			max_miss[m] = miss_run[m];
		}
	}
	int c = cycles;
	pthread_mutex_unlock(&lock);
	if (c == on_cycle || c == again_cycle) {
		snprintf(line, sizeof(line), "%d:%s\n", unit, kind);
		fifo_write(line);
	} else if (c == off_cycle) {
		snprintf(line, sizeof(line), "%d:none\n", unit);
		fifo_write(line);
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 7) {
		fprintf(stderr, "usage: %s CONFIG FIFO UNIT ON_CYCLE OFF_CYCLE CYCLES [KIND]\n",
			argv[0]);
		return 2;
	}
	fifo = argv[2];
	unit = atoi(argv[3]);
	on_cycle = atoi(argv[4]);
	off_cycle = atoi(argv[5]);
	max_cycles = atoi(argv[6]);
	if (argc > 7)
		kind = argv[7];
	if (argc > 8)
		again_cycle = atoi(argv[8]);
	gw_log_set_level(GW_LOG_WARN);
	if (gw_config_load(argv[1], &cfg) || gw_tz_set(cfg->timezone))
		return 1;
	if (cfg->n_meters > MAXM)
		return 1;
	struct gw_sched *s = gw_sched_new(cfg, &cfg->clock);
	if (!s)
		return 1;
	gw_sched_set_sink(s, sink, NULL);
	if (gw_sched_start(s)) {
		gw_sched_free(s);
		return 1;
	}
	struct gw_reading *buf = NULL;
	size_t cap = 0;
	struct gw_event *ev = NULL;
	size_t evcap = 0;
	/* events with the cycle they were seen in */
	struct { struct gw_event e; int cycle; } seen[64];
	int nseen = 0;
	for (int waited = 0; waited < 600; waited++) {
		if (waited == 100 && cycles == 0)
			break; /* not polling at all: give up early */
		gw_sched_take(s, &buf, &cap, 100);
		size_t n = gw_sched_take_events(s, &ev, &evcap);
		pthread_mutex_lock(&lock);
		int c = cycles;
		pthread_mutex_unlock(&lock);
		for (size_t i = 0; i < n && nseen < 64; i++) {
			seen[nseen].e = ev[i];
			seen[nseen++].cycle = c;
		}
		if (c >= max_cycles)
			break;
	}
	gw_sched_stop(s);
	size_t n = gw_sched_take_events(s, &ev, &evcap);
	for (size_t i = 0; i < n && nseen < 64; i++) {
		seen[nseen].e = ev[i];
		seen[nseen++].cycle = cycles;
	}
	printf("cycles %d\n", cycles);
	for (int m = 0; m < cfg->n_meters; m++) {
		printf("readings %s %d\n", cfg->meters[m].id, with_readings[m]);
		printf("with_1.8.0 %s %d\n", cfg->meters[m].id, with_import[m]);
	}
	for (int i = 0; i < nseen; i++)
		printf("event %s %s %d %s%s%s%s\n",
		       gw_event_name((enum gw_event_kind)seen[i].e.kind),
		       seen[i].e.meter_id, seen[i].cycle,
		       seen[i].e.obis[0] ? "register=" : "", seen[i].e.obis,
		       seen[i].e.obis[0] ? " " : "", seen[i].e.detail);
	for (int m = 0; m < cfg->n_meters; m++) {
		struct gw_meter_health h;
		gw_sched_health(s, m, &h);
		printf("health %s cycles=%u ok=%u failed=%u skipped=%u timeouts=%u "
		       "exceptions=%u malformed=%u wrong_unit=%u crc=%u offline=%d "
		       "unknown_exc=%u stale=%u bad=%u\n",
		       cfg->meters[m].id, h.cycles, h.ok, h.failed, h.skipped,
		       h.timeouts, h.exceptions, h.malformed, h.wrong_unit,
		       h.crc_errors, h.offline, h.exc_unknown, h.stale_replies,
		       h.bad_values);
		printf("maxmiss %s %d\n", cfg->meters[m].id, max_miss[m]);
	}
	printf("drops bad_value %llu\n",
	       (unsigned long long)gw_drops_get(GW_DROP_BAD_VALUE));
	gw_sched_free(s);
	gw_config_free(cfg);
	free(buf);
	free(ev);
	return 0;
}
