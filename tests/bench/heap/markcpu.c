/* SPDX-License-Identifier: MIT */
/*
 * markcpu.c - the CPU time of the journal sink's clock marks
 * (mark_clock_back in gateway/daemon_durable.c, included here as it is
 * in the tree being measured) per 1,000 readings: N meters of a
 * configuration (GW.INI) read in cycles of 200 meters x REGS registers
 * (the ABB B23 profile's codes), each cycle a poll interval later than
 * the last, so that every register is looked at and none set aside.
 * Prints "ns_per_1000 NS". markcpu.sh builds it against two trees and
 * runs them side by side.
 */
#include <time.h>

#include "b23_codes.h"

#include "../../../gateway/daemon_durable.c"

#define PER_CYCLE 200

static int64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	struct gw_config *cfg = NULL;
	static struct clocktrust ct;
	struct gw_reading r[B23_CODES];
	struct gw_fcycle cyc = {0};

	if (argc != 4) {
		fprintf(stderr, "usage: markcpu GW.INI REGS ROUNDS\n");
		return 2;
	}
	int regs = atoi(argv[2]), rounds = atoi(argv[3]);
	if (regs < 1 || regs > B23_CODES || rounds < 1 || gw_config_load(argv[1], &cfg))
		return 2;
	struct gw_flightq *q = gw_flightq_new(cfg, 0);
	ct.marks = gw_clock_marks_new();
	pthread_mutex_init(&ct.lock, NULL);
	ct.max_jump_ms = 2 * 3600 * 1000;
	ct.back_until = INT64_MIN;
	if (!q || !ct.marks)
		return 1;
#ifdef GW_CLOCKMARKS_H /* a tree with marks by number */
	if (gw_clock_marks_use(ct.marks, cfg))
		return 1;
#endif
	int64_t spent = 0, readings = 0;
	for (int round = 0; round < rounds; round++) {
		int64_t ts = INT64_C(1772323200000) + round * INT64_C(900000);
		for (int m0 = 0; m0 < cfg->n_meters; m0 += PER_CYCLE) {
			gw_fcycle_clear(&cyc);
			for (int m = m0; m < m0 + PER_CYCLE && m < cfg->n_meters; m++) {
				for (int c = 0; c < regs; c++) {
					memset(&r[c], 0, sizeof(r[c]));
					strcpy(r[c].meter_id, cfg->meters[m].id);
					strcpy(r[c].obis, b23_codes[c]);
					r[c].ts_ms = ts + m;
					r[c].value = round;
					r[c].unit = GW_UNIT_WH;
				}
				if (gw_flightq_pack(q, &cyc, m, r, (size_t)regs))
					return 1;
			}
			int64_t t0 = cpu_ns();
			mark_clock_back(&ct, &cyc);
			spent += cpu_ns() - t0;
			readings += (int64_t)gw_fcycle_len(&cyc);
		}
	}
	if (ct.back)
		return 1; /* nothing is stamped again: a bench that set aside is wrong */
	printf("ns_per_1000 %lld\n", (long long)(spent * 1000 / readings));
	gw_fcycle_free(&cyc);
	gw_flightq_free(q);
	gw_clock_marks_free(ct.marks);
	gw_config_free(cfg);
	return 0;
}
