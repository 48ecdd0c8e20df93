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
 *
 * And a model, the code unchanged: a time stream a meter. Before each
 * pass every track's points are decoded (batch_track_points), records'
 * and chain's, and coded again from its first point kept with the
 * coder's rules (rice_adapt; the means go on across the passes as the
 * encoder's do, which codes a track's points from its first kept at the
 * seal's pass and on from there): as today (time field and value field;
 * the chain's points' bits rounded up to bytes are its chain's bytes,
 * checked: `recoded_off` counts the tracks where not), and as the model
 * has them, a track's point its skip count (the meter's times since its
 * point before that it has no point at, Rice-coded from RICE_M0, adapted
 * from the second point on as the value field) and its value change, the
 * meter's distinct times one stream coded as a time field is today:
 *
 *   meterstream pass D P tracks N points K bits_time T bits_value V
 *     bits_skip S skips_nonzero Z model_mean_bytes M model_max_bytes X
 *     meters NM stream_times NT bits_stream B stream_mean_bytes SM
 *     stream_max_bytes SX recoded_off E
 *                      (bits a point of the chains' points: today's time
 *                      field, the value field, the model's skip field; of
 *                      a meter's time in its stream)
 *   meterstream model A S bytes_per_track K mb_at_230000 Z day1 K1 Z1
 *     with_streams W WZ day1 W1 WZ1
 *                      (as `model`, of the tracks' chains in the model;
 *                      with the streams at their best sizes: the
 *                      streams' largest pass's bytes a track added)
 *   meterstream streams A S bytes_per_meter K day1 K1  (the best sizes)
 *   meterstream best today A S K Z day1 K1 Z1 model A S K Z day1 K1 Z1
 *     with_streams WZ WZ1
 *                      (the sizes of the fewest bytes of days >= 2, ties
 *                      by day 1's)
 *
 * POOL_COUNT_MISS=PERMILLE drops each register's reading with that
 * chance (a register that failed in a meter's read: skip counts above 0);
 * its own generator, so that the readings kept are the same.
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

/* A register's reading dropped: POOL_COUNT_MISS in 1,000, from a
 * generator of its own. */
static unsigned miss_permille;
static uint32_t miss_state = 2463534242u;

static int missed(void)
{
	if (!miss_permille)
		return 0;
	miss_state ^= miss_state << 13;
	miss_state ^= miss_state >> 17;
	miss_state ^= miss_state << 5;
	return miss_state % 1000 < miss_permille;
}

/* One bus's cycle: meters [m0, m1) read at t. Returns the readings. */
static size_t fill(struct gw_reading *out, int m0, int m1, int regs, int64_t t,
		   int jitter, int64_t *energy)
{
	size_t k = 0;

	for (int m = m0; m < m1; m++) {
		int64_t ts = t + (int64_t)(m % GROUP) * 400 +
			     (int64_t)(rnd() % (uint32_t)jitter);
		for (int i = 0; i < regs; i++) {
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
			k += !missed();
		}
	}
	return k;
}

/* ---- the model: a time stream a meter ---- */

/* Bits of number u Rice-coded with mean m (batch_store.c's put_rice,
 * rice_r). */
static unsigned rice_bits(uint64_t u, uint32_t m)
{
	uint32_t mean = m >> 4;
	unsigned r = mean ? 31u - (unsigned)__builtin_clz(mean) : 0;
	uint64_t q = u >> r;

	if (q < 16)
		return (unsigned)q + 1 + r;
	return 16 + 6 + (64u - (unsigned)__builtin_clzll(u));
}

static uint64_t zz(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

/* A time field over times ts[0..n) from the first (enc_point's): the
 * bits of each of those flagged in count (NULL: all), summed. */
static uint64_t time_bits(const int64_t *ts, size_t n, const uint8_t *count)
{
	int64_t prev = 0, step = 0;
	uint32_t m = RICE_M0;
	uint64_t bits = 0;

	for (size_t k = 0; k < n; k++) {
		int64_t s = ts[k] - prev;
		uint64_t u = zz(s - step);
		if (!count || count[k])
			bits += rice_bits(u, m);
		if (k >= 2)
			m = rice_adapt(m, u, k - 2);
		step = k == 0 ? 0 : s;
		prev = ts[k];
	}
	return bits;
}

struct model_sums {
	size_t points, nonzero, meters, times, off;
	uint64_t b_time, b_value, b_skip, b_stream;
};

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* The index of time x in the meter's sorted times tm[0..n). */
static size_t time_at(const int64_t *tm, size_t n, int64_t x)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (tm[mid] < x)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Meter m's tracks nos[0..regs) (0: none): each one's chain's points
 * in the model into mlen[no] (bytes), today's coding checked against
 * len[no], the meter's stream's bytes since the last pass returned. */
static size_t model_meter(struct gw_batcher *b, const uint32_t *nos, int regs,
			  const size_t *len, size_t *mlen, struct model_sums *z)
{
	static struct point *pts[26];
	static size_t cap[26], from[26];
	static int64_t *tm, *ts1;
	static uint8_t *fresh;
	static size_t tcap;
	size_t nt = 0;

	for (int i = 0; i < regs; i++) {
		struct track *t = nos[i] ? track_at(b, nos[i]) : NULL;
		if (!t || !t->n)
			continue;
		if (t->n > cap[i]) {
			cap[i] = t->n * 2;
			pts[i] = realloc(pts[i], cap[i] * sizeof(*pts[i]));
			if (!pts[i])
				exit(1);
		}
		long r = batch_track_points(b, t, pts[i]);
		if (r < 0)
			exit(1);
		from[i] = (size_t)r;
		nt += t->n;
	}
	if (nt > tcap) {
		tcap = nt * 2;
		tm = realloc(tm, tcap * sizeof(*tm));
		ts1 = realloc(ts1, tcap * sizeof(*ts1));
		fresh = realloc(fresh, tcap);
		if (!tm || !ts1 || !fresh)
			exit(1);
	}
	/* the meter's distinct times */
	size_t n = 0;
	for (int i = 0; i < regs; i++)
		for (size_t k = 0; nos[i] && k < track_at(b, nos[i])->n; k++)
			tm[n++] = pts[i][k].ts;
	qsort(tm, n, sizeof(*tm), cmp_i64);
	size_t u = 0;
	for (size_t k = 0; k < n; k++)
		if (u == 0 || tm[k] != tm[u - 1])
			tm[u++] = tm[k];
	n = u;
	memset(fresh, 0, n);
	for (int i = 0; i < regs; i++) {
		struct track *t = nos[i] ? track_at(b, nos[i]) : NULL;
		if (!t || !t->n)
			continue;
		const struct point *p = pts[i];
		/* today: the time field and the value field */
		for (size_t k = 0; k < t->n; k++)
			ts1[k] = p[k].ts;
		uint64_t bt, bv = 0, bs = 0;
		static uint8_t *cnt;
		static size_t ccap;
		if (t->n > ccap) {
			ccap = t->n * 2;
			cnt = realloc(cnt, ccap);
			if (!cnt)
				exit(1);
		}
		for (size_t k = 0; k < t->n; k++)
			cnt[k] = k >= from[i];
		bt = time_bits(ts1, t->n, cnt);
		uint32_t mv = RICE_M0, ms = RICE_M0;
		int64_t v = 0;
		size_t prev_at = 0;
		for (size_t k = 0; k < t->n; k++) {
			uint64_t uv = zz((int64_t)((uint64_t)p[k].v - (uint64_t)v));
			size_t at = time_at(tm, n, p[k].ts);
			uint64_t us = k == 0 ? at : at - prev_at - 1;
			if (k >= from[i]) {
				bv += rice_bits(uv, mv);
				bs += rice_bits(us, ms);
				fresh[at] = 1;
				z->points++;
				z->nonzero += us != 0;
			}
			if (k >= 1) {
				mv = rice_adapt(mv, uv, k - 1);
				ms = rice_adapt(ms, us, k - 1);
			}
			v = p[k].v;
			prev_at = at;
		}
		z->b_time += bt;
		z->b_value += bv;
		z->b_skip += bs;
		z->off += (bt + bv + 7) / 8 != len[nos[i]];
		mlen[nos[i]] = (size_t)((bs + bv + 7) / 8);
	}
	uint64_t bm = time_bits(tm, n, fresh);
	size_t nf = 0;
	for (size_t k = 0; k < n; k++)
		nf += fresh[k];
	if (!nf)
		return 0;
	z->meters++;
	z->times += nf;
	z->b_stream += bm;
	return (size_t)((bm + 7) / 8);
}

static int obis_at(const char *code)
{
	for (int i = 0; i < 26; i++)
		if (strcmp(obis[i], code) == 0)
			return i;
	return -1;
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
	/* the model's: the tracks' chains, the meters' streams ([1]: day 1) */
	static size_t mworst[2][N_MODEL], mworst_n[2][N_MODEL],
		sworst[2][N_MODEL], sworst_n[2][N_MODEL], sworst_m[2][N_MODEL];
	size_t *mlen = calloc(n_all + 1, sizeof(*mlen));
	size_t *slen = calloc((size_t)meters, sizeof(*slen));
	uint32_t *nos = calloc(n_all, sizeof(*nos));
	size_t unforeseen = 0;
	const char *miss = getenv("POOL_COUNT_MISS");
	miss_permille = miss ? (unsigned)atoi(miss) : 0;
	if (!b || !energy || !buf || !len || !mlen || !slen || !nos ||
	    miss_permille > 1000 || gw_spill_open(pdir, &store))
		return 1;
	gw_batcher_set_spill(b, store);
	for (size_t i = 0; i < n_all; i++)
		energy[i] = 1000000 + (int64_t)(rnd() % 100000);
	printf("# %d meters x %d registers, %d days, jitter %d ms; blocks of %d "
	       "and %d bytes of points\n", meters, regs, days, jitter, BLK_DATA,
	       BLK_SDATA);
	if (miss_permille)
		printf("# a register's reading missed %u times in 1,000\n",
		       miss_permille);
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
		/* the model, before a pass */
		int due = batch_spill_pass_due(b, t, NULL) != 0;
		struct model_sums z = {0};
		if (due) {
			memset(nos, 0, n_all * sizeof(*nos));
			for (uint32_t no = 1; no <= b->n_tracks; no++) {
				struct track *tr = track_at(b, no);
				int m = atoi(track_meter(b, tr) + 1);
				int i = obis_at(track_obis(b, tr));
				mlen[no] = 0;
				if (m >= 0 && m < meters && i >= 0 && i < regs)
					nos[(size_t)m * (size_t)regs + (size_t)i] = no;
			}
			for (int m = 0; m < meters; m++)
				slen[m] = model_meter(b, &nos[(size_t)m * (size_t)regs],
						      regs, len, mlen, &z);
		}
		if (gw_batcher_advance(b, t, sealed, NULL) < 0)
			return 1;
		/* (a pass that gave no block back, as the day-end pass at a
		 * small jitter, is not counted here, nor modelled) */
		if (b->pool->n_used >= pre)
			continue;
		unforeseen += !due;
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
		if (!due)
			continue;
		size_t msum = 0, mmx = 0, ssum = 0, smx = 0;
		size_t mcost[N_MODEL] = {0}, scost[N_MODEL] = {0};
		for (uint32_t no = 1; no <= b->n_tracks; no++) {
			if (!len[no])
				continue;
			msum += mlen[no];
			mmx = mlen[no] > mmx ? mlen[no] : mmx;
			for (size_t i = 0; i < N_MODEL; i++)
				mcost[i] += model_cost(mlen[no], MODEL_A(i), MODEL_S(i));
		}
		for (int m = 0; m < meters; m++) {
			ssum += slen[m];
			smx = slen[m] > smx ? slen[m] : smx;
			for (size_t i = 0; i < N_MODEL; i++)
				scost[i] += model_cost(slen[m], MODEL_A(i), MODEL_S(i));
		}
		double pts = z.points ? (double)z.points : 1.0;
		printf("meterstream pass %d %d tracks %zu points %zu bits_time %.2f "
		       "bits_value %.2f bits_skip %.2f skips_nonzero %zu "
		       "model_mean_bytes %.1f model_max_bytes %zu meters %zu "
		       "stream_times %zu bits_stream %.2f stream_mean_bytes %.1f "
		       "stream_max_bytes %zu recoded_off %zu\n",
		       open - day0 + 1, pass, n, z.points, (double)z.b_time / pts,
		       (double)z.b_value / pts, (double)z.b_skip / pts, z.nonzero,
		       n ? (double)msum / (double)n : 0.0, mmx, z.meters, z.times,
		       z.times ? (double)z.b_stream / (double)z.times : 0.0,
		       z.meters ? (double)ssum / (double)z.meters : 0.0, smx, z.off);
		int d1 = open == day0;
		for (size_t i = 0; i < N_MODEL && n; i++) {
			if (mcost[i] > mworst[d1][i]) {
				mworst[d1][i] = mcost[i];
				mworst_n[d1][i] = n;
			}
			if (scost[i] > sworst[d1][i]) {
				sworst[d1][i] = scost[i];
				sworst_n[d1][i] = n;
				sworst_m[d1][i] = z.meters;
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
	/* the model's: the streams' best sizes, then the tracks' with them */
	size_t sb = 0, tb = 0, mb = 0;
	for (size_t i = 0; i < N_MODEL; i++) {
		if (sworst[0][i] < sworst[0][sb] ||
		    (sworst[0][i] == sworst[0][sb] && sworst[1][i] < sworst[1][sb]))
			sb = i;
		if (worst_n[i] && worst1_n[i] && worst_n[tb] && worst1_n[tb] &&
		    (worst[i] * worst_n[tb] < worst[tb] * worst_n[i] ||
		     (worst[i] * worst_n[tb] == worst[tb] * worst_n[i] &&
		      worst1[i] * worst1_n[tb] < worst1[tb] * worst1_n[i])))
			tb = i;
		if (mworst[0][i] < mworst[0][mb] ||
		    (mworst[0][i] == mworst[0][mb] && mworst[1][i] < mworst[1][mb]))
			mb = i;
	}
	double sper[2] = {0, 0}, sperm[2] = {0, 0};
	for (int d = 0; d < 2; d++) {
		if (sworst_n[d][sb])
			sper[d] = (double)sworst[d][sb] / (double)sworst_n[d][sb];
		if (sworst_m[d][sb])
			sperm[d] = (double)sworst[d][sb] / (double)sworst_m[d][sb];
	}
	double mper[N_MODEL][2];
	for (size_t i = 0; i < N_MODEL; i++) {
		for (int d = 0; d < 2; d++)
			mper[i][d] = mworst_n[d][i] ?
				(double)mworst[d][i] / (double)mworst_n[d][i] : 0.0;
		if (!mworst_n[0][i] || !mworst_n[1][i])
			continue;
		printf("meterstream model %u %u bytes_per_track %.2f mb_at_230000 %.2f "
		       "day1 %.2f %.2f with_streams %.2f %.2f day1 %.2f %.2f\n",
		       MODEL_A(i), MODEL_S(i), mper[i][0], mper[i][0] * 230000 / 1048576,
		       mper[i][1], mper[i][1] * 230000 / 1048576, mper[i][0] + sper[0],
		       (mper[i][0] + sper[0]) * 230000 / 1048576, mper[i][1] + sper[1],
		       (mper[i][1] + sper[1]) * 230000 / 1048576);
	}
	if (mworst_n[0][mb] && mworst_n[1][mb] && worst_n[tb] && worst1_n[tb]) {
		double per = (double)worst[tb] / (double)worst_n[tb];
		double per1 = (double)worst1[tb] / (double)worst1_n[tb];
		printf("meterstream streams %u %u bytes_per_meter %.2f day1 %.2f\n",
		       MODEL_A(sb), MODEL_S(sb), sperm[0], sperm[1]);
		printf("meterstream best today %u %u %.2f %.2f day1 %.2f %.2f model %u "
		       "%u %.2f %.2f day1 %.2f %.2f with_streams %.2f %.2f\n",
		       MODEL_A(tb), MODEL_S(tb), per, per * 230000 / 1048576, per1,
		       per1 * 230000 / 1048576, MODEL_A(mb), MODEL_S(mb), mper[mb][0],
		       mper[mb][0] * 230000 / 1048576, mper[mb][1],
		       mper[mb][1] * 230000 / 1048576,
		       (mper[mb][0] + sper[0]) * 230000 / 1048576,
		       (mper[mb][1] + sper[1]) * 230000 / 1048576);
	}
	if (unforeseen)
		fprintf(stderr, "pool_count: %zu passes not foreseen by the model\n",
			unforeseen);
	gw_batcher_free(b);
	free(energy);
	free(buf);
	free(len);
	free(mlen);
	free(slen);
	free(nos);
	char cmd[64];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) != 0;
}
