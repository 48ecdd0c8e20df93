/* SPDX-License-Identifier: MIT */
/*
 * deccpu.c - the CPU of the batching core's point coder alone: METERS x
 * REGS tracks (batch_store.c, straight through batch_find_track and
 * batch_track_insert, no batcher days, no passes) each given PTS points
 * 15 minutes apart with up to JITTER ms of jitter (a meter's registers
 * share its time), half of them a slowly rising register, half a value
 * wandering around a level (the appends timed whole, with the readings
 * made up); then every track decoded whole (batch_track_open) ROUNDS
 * times. Prints the CPU ns a point of each:
 *
 *   append_ns NS
 *   decode_ns NS
 *   check X     (a sum of the decoded points: the same in two trees)
 *   enc H       (a hash of every track's encoded bytes: the same in two
 *               trees whose encoders write the same bits)
 *
 * Built against a tree (its build/libgw.a) as trackcount.sh builds
 * trackcount.c:
 *   cc -std=c11 -O2 -D_GNU_SOURCE -I$T/gateway/common -I$T/drivers \
 *     -I$T/gateway tests/bench/heap/deccpu.c $T/build/libgw.a \
 *     $(pkg-config --libs libmodbus libserialport libpq zlib) -lpthread -lm
 *   deccpu METERS REGS PTS JITTER ROUNDS
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "batch.h"
#include "batch_int.h"
#include "tz.h"

static uint64_t rng = 0x9E3779B97F4A7C15ULL;

static uint32_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng >> 16);
}

static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* FNV-1a of h and t's encoded points: its chain's bytes, the tail's
 * first tail_len of them (the rest of its last byte zeros as written). */
static uint64_t chain_hash(const struct gw_batcher *b, const struct track *t,
			   uint64_t h)
{
	struct chain c = track_chain(t);

	for (uint32_t id = c.head; id; id = blk_next(b->pool, id)) {
		const uint8_t *d = blk_d(b->pool, id);
		unsigned len = id == c.tail ? c.tail_len : blk_len(id);
		for (unsigned i = 0; i < len; i++)
			h = (h ^ d[i]) * 0x100000001b3ULL;
		if (id == c.tail)
			break;
	}
	return h;
}

int main(int argc, char **argv)
{
	static const struct gw_batcher_params params = {
		.gateway_id = "sub-042", .poll_interval_ms = 900000,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 1800000, .revision_window_days = 2,
	};
	int32_t day0;

	if (argc != 6) {
		fprintf(stderr, "usage: deccpu METERS REGS PTS JITTER ROUNDS\n");
		return 2;
	}
	int meters = atoi(argv[1]), regs = atoi(argv[2]), pts = atoi(argv[3]);
	int jitter = atoi(argv[4]), rounds = atoi(argv[5]);
	size_t nt = (size_t)meters * (size_t)regs;
	if (gw_tz_set("UTC") || gw_day_parse("2026-03-02", &day0) || nt == 0 ||
	    pts < 1 || jitter < 1 || rounds < 1)
		return 2;
	struct gw_batcher *b = gw_batcher_new(&params);
	struct track **t = calloc(nt, sizeof(*t));
	int64_t *v = calloc(nt, sizeof(*v));
	if (!b || !t || !v)
		return 1;
	for (size_t i = 0; i < nt; i++) {
		struct gw_reading r = {.unit = GW_UNIT_W};
		snprintf(r.meter_id, sizeof(r.meter_id), "m%06zu", i / (size_t)regs);
		snprintf(r.obis, sizeof(r.obis), "%zu.7.0", i % (size_t)regs + 1);
		t[i] = batch_find_track(b, &r, 1);
		if (!t[i])
			return 1;
		v[i] = 1000000 + (int64_t)(rnd() % 100000);
	}
	int64_t t0 = gw_tz_day_start(day0), ns = cpu_ns();
	for (int c = 0; c < pts; c++) {
		for (int m = 0; m < meters; m++) {
			int64_t ts = t0 + c * 900000LL + (m % 250) * 400LL +
				     (int64_t)(rnd() % (uint32_t)jitter);
			for (int k = 0; k < regs; k++) {
				size_t i = (size_t)m * (size_t)regs + (size_t)k;
				int64_t x = k % 2 ? v[i] + (int64_t)(rnd() % 60)
						  : v[i] + (int64_t)(rnd() % 41) - 20;
				struct point win[3];
				struct pview view;
				if (batch_track_insert(b, t[i], ts, x, win, &view) != 1)
					return 1;
				if (k % 2)
					v[i] = x;
			}
		}
	}
	ns = cpu_ns() - ns;
	printf("append_ns %.1f\n", (double)ns / ((double)nt * pts));
	uint64_t check = 0;
	int64_t a = cpu_ns();
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < nt; i++) {
			b->sc->owner = NULL;
			batch_track_open(b, t[i]);
			const struct point *p = track_pts(b, t[i]);
			check += (uint64_t)p[t[i]->n - 1].ts ^ (uint64_t)p[t[i]->n / 2].v;
		}
	}
	ns = cpu_ns() - a;
	printf("decode_ns %.2f\n", (double)ns / ((double)nt * pts * rounds));
	printf("check %llu\n", (unsigned long long)check);
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < nt; i++)
		h = chain_hash(b, t[i], h);
	printf("enc %016llx\n", (unsigned long long)h);
	gw_batcher_free(b);
	free(t);
	free(v);
	return 0;
}
