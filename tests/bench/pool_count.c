/* SPDX-License-Identifier: MIT */
/*
 * pool_count.c - what the tracks' chains of encoded points hold just
 * before each pass of the open day (batch_pool.c, batch_spill_core.c),
 * counted, not measured by RSS: METERS synthetic meters x REGS registers
 * (1-26: the first REGS of batch_mem.c's 26, eight energy registers
 * first) read every 15 minutes for DAYS local days, each meter at its
 * place on the bus with up to JITTER ms of jitter (a gateway's clock run
 * fast multiplies a few ms of it), added to a batcher with gatewayd's
 * defaults that spills to a temporary points/, each day sealed and
 * dropped. After each cycle's readings are added, every track's chain
 * bytes are taken; when the advance after them gave blocks back (a pass),
 * those are the bytes before the pass. Deterministic (bench_util.h's
 * xorshift).
 *
 *   pool_count METERS REGS DAYS JITTER
 *   pass D P tracks N mean_bytes M max_bytes X big B small S pool_bytes Y
 *   hist LO-HI N       (chain bytes before the passes of days >= 2)
 *   model A S bytes_per_track K mb_at_230000 Z day1 K1 Z1   (the largest
 *                      pass of days >= 2, and of day 1 (a start), with a
 *                      first block of A bytes of points and later ones of
 *                      S, each 4 bytes more)
 *
 * `pool_bytes` is the pool's blocks in chains, as built (first blocks of
 * BLK_DATA + 4 bytes, later ones of BLK_SDATA + 4).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch.h"
#include "batch_int.h"
#include "batch_spill.h"
#include "bench_util.h"
#include "tz.h"

#define GROUP 250
#define CYCLE_MS 900000LL
#define MAXB 512 /* chain bytes counted one by one; more in the last */

static const char *const obis[26] = {
	"1.8.0",  "2.8.0",  "21.8.0", "41.8.0", "61.8.0", "22.8.0", "42.8.0",
	"62.8.0", "32.7.0", "52.7.0", "72.7.0", "31.7.0", "51.7.0", "71.7.0",
	"16.7.0", "36.7.0", "56.7.0", "76.7.0", "14.7.0", "13.7.0", "33.7.0",
	"53.7.0", "73.7.0", "9.7.0",  "29.7.0", "49.7.0"};

/* The designs modelled: bytes of points of a chain's first block (24,
 * 28 .. 60), of its later ones (8, 12 .. 20, or the first's: one size). */
#define N_A 10
#define N_S 5
#define N_MODEL (N_A * N_S)
#define MODEL_A(i) (24 + 4 * ((unsigned)(i) / N_S))
#define MODEL_S(i)                                                      \
	((unsigned)(i) % N_S == N_S - 1 ? MODEL_A(i) : 8 + 4 * ((unsigned)(i) % N_S))

static size_t model_cost(size_t len, unsigned a, unsigned s)
{
	if (len == 0)
		return 0;
	size_t over = len > a ? (len - a + s - 1) / s : 0;
	return a + 4 + over * (s + 4);
}

/* One bus's cycle: meters [m0, m1) read at t. Returns the readings. */
static size_t fill(struct gw_reading *out, int m0, int m1, int regs, int64_t t,
		   int jitter, int64_t *energy)
{
	size_t k = 0;

	for (int m = m0; m < m1; m++) {
		int64_t ts = t + (int64_t)(m % GROUP) * 400 +
			     (int64_t)(rnd() % (uint32_t)jitter);
		for (int i = 0; i < regs; i++, k++) {
			struct gw_reading *x = &out[k];
			snprintf(x->meter_id, sizeof(x->meter_id), "m%06d", m);
			snprintf(x->obis, sizeof(x->obis), "%s", obis[i]);
			x->unit = i < 8    ? GW_UNIT_WH
				  : i < 11 ? GW_UNIT_V
				  : i < 14 ? GW_UNIT_A
					   : GW_UNIT_W;
			x->scale = 0;
			x->status = GW_RS_OK;
			x->ts_ms = ts;
			if (i < 8) {
				int64_t base = 40 + 10 * i;
				int64_t *e = &energy[(size_t)m * (size_t)regs + (size_t)i];
				*e += base / 2 + rnd() % (uint32_t)(base + 1);
				x->value = *e;
			} else {
				int64_t lv = i < 11 ? 2300 : i < 14 ? 50 : 1500;
				x->value = lv + (int64_t)(rnd() % 41) - 20;
			}
		}
	}
	return k;
}

static int sealed(void *ctx, struct gw_batch *batch)
{
	(void)ctx;
	gw_batch_free(batch);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: pool_count METERS REGS DAYS JITTER\n");
		return 2;
	}
	int meters = atoi(argv[1]), regs = atoi(argv[2]), days = atoi(argv[3]);
	int jitter = atoi(argv[4]);
	int32_t day0;
	char dir[] = "/tmp/gwpool.XXXXXX", pdir[64];

	gw_log_set_level(GW_LOG_WARN);
	if (meters < 1 || regs < 1 || regs > 26 || days < 2 || jitter < 1 ||
	    gw_tz_set("Europe/Berlin") || gw_day_parse("2026-03-02", &day0) ||
	    !mkdtemp(dir))
		return 2;
	snprintf(pdir, sizeof(pdir), "%s/points", dir);
	struct gw_batcher_params p = {
		.gateway_id = "sub-042", .poll_interval_ms = CYCLE_MS,
		.midnight_tolerance_ms = 60000, .max_gap_ms = 7200000,
		.seal_delay_ms = 1800000, .max_power_w = 250000,
		.revision_window_days = 2,
	};
	struct gw_batcher *b = gw_batcher_new(&p);
	struct gw_spill *store;
	size_t n_all = (size_t)meters * (size_t)regs;
	int64_t *energy = calloc(n_all, sizeof(*energy));
	struct gw_reading *buf = calloc((size_t)GROUP * (size_t)regs, sizeof(*buf));
	size_t *len = calloc(n_all + 1, sizeof(*len));
	static size_t hist[MAXB + 1];
	static size_t worst[N_MODEL], worst_n[N_MODEL], worst1[N_MODEL],
		worst1_n[N_MODEL];
	if (!b || !energy || !buf || !len || gw_spill_open(pdir, &store))
		return 1;
	gw_batcher_set_spill(b, store);
	for (size_t i = 0; i < n_all; i++)
		energy[i] = 1000000 + (int64_t)(rnd() % 100000);
	printf("# %d meters x %d registers, %d days, jitter %d ms; blocks of %d "
	       "and %d bytes of points\n", meters, regs, days, jitter, BLK_DATA,
	       BLK_SDATA);
	int64_t t = gw_tz_day_start(day0);
	int32_t end = day0 + days;
	int pass = 0;
	while (gw_batcher_oldest_open_day(b) < end) {
		for (int m0 = 0; m0 < meters; m0 += GROUP) {
			int m1 = m0 + GROUP < meters ? m0 + GROUP : meters;
			size_t k = fill(buf, m0, m1, regs, t, jitter, energy);
			if (gw_batcher_add(b, buf, k))
				return 1;
		}
		/* every track's chain bytes, and the pool, before the advance */
		size_t pre = b->pool->n_used, big = b->pool->sub[0].n_used,
		       small = b->pool->sub[1].n_used;
		size_t pre_bytes = blk_pool_bytes(b->pool);
		for (uint32_t no = 1; no <= b->n_tracks; no++) {
			struct chain c = track_chain(track_at(b, no));
			len[no] = batch_chain_len(b->pool, &c);
		}
		int32_t open = gw_batcher_oldest_open_day(b);
		t += CYCLE_MS;
		if (gw_batcher_advance(b, t, sealed, NULL) < 0)
			return 1;
		if (b->pool->n_used >= pre)
			continue;
		/* a pass: the bytes before it */
		static int32_t last_open = INT32_MIN;
		pass = open == last_open ? pass + 1 : 1;
		last_open = open;
		size_t n = 0, sum = 0, mx = 0, cost[N_MODEL] = {0};
		for (uint32_t no = 1; no <= b->n_tracks; no++) {
			if (!len[no])
				continue;
			n++;
			sum += len[no];
			mx = len[no] > mx ? len[no] : mx;
			for (size_t i = 0; i < N_MODEL; i++)
				cost[i] += model_cost(len[no], MODEL_A(i), MODEL_S(i));
			if (open > day0)
				hist[len[no] < MAXB ? len[no] : MAXB]++;
		}
		printf("pass %d %d tracks %zu mean_bytes %.1f max_bytes %zu big %zu "
		       "small %zu pool_bytes %zu\n", open - day0 + 1, pass, n,
		       n ? (double)sum / (double)n : 0.0, mx, big, small,
		       pre_bytes);
		for (size_t i = 0; i < N_MODEL && n; i++) {
			size_t *w = open > day0 ? &worst[i] : &worst1[i];
			if (cost[i] > *w) {
				*w = cost[i];
				(open > day0 ? worst_n : worst1_n)[i] = n;
			}
		}
	}
	for (size_t lo = 0; lo <= MAXB; lo += 4) {
		size_t c = 0;
		for (size_t x = lo; x < lo + 4 && x <= MAXB; x++)
			c += hist[x];
		if (c)
			printf("hist %zu-%zu %zu\n", lo, lo + 3, c);
	}
	for (size_t i = 0; i < N_MODEL && worst_n[i] && worst1_n[i]; i++) {
		double per = (double)worst[i] / (double)worst_n[i];
		double per1 = (double)worst1[i] / (double)worst1_n[i];
		printf("model %u %u bytes_per_track %.2f mb_at_230000 %.2f day1 %.2f "
		       "%.2f\n", MODEL_A(i), MODEL_S(i), per, per * 230000 / 1048576,
		       per1, per1 * 230000 / 1048576);
	}
	gw_batcher_free(b);
	free(energy);
	free(buf);
	free(len);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}
