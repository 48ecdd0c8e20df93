/* SPDX-License-Identifier: MIT */
/*
 * core.c - a batching core driven the way gatewayd drives it, for the
 * seal benchmark (tests/bench/seal_ratio.sh). Compiled twice: against this
 * tree's gateway/batch.h and batch.c, and against the baseline commit's,
 * each time with its own prefix (-DPFX=new_ or -DPFX=base_), so that one
 * program runs both cores side by side on the same readings.
 */
#include "batch.h"

#define CAT2(a, b) a##b
#define CAT(a, b) CAT2(a, b)
#define FN(x) CAT(PFX, x)

void *FN(seal_new)(void);
int FN(seal_add)(void *b, const struct gw_reading *r, size_t n);
int FN(seal_advance)(void *b, int64_t now_ms, size_t *rows);
void FN(seal_free)(void *b);

/* gatewayd's defaults (docs/configuration.md) */
void *FN(seal_new)(void)
{
	struct gw_batcher_params p = {
		.gateway_id = "sub-042",
		.poll_interval_ms = 900000,
		.midnight_tolerance_ms = 60000,
		.max_gap_ms = 7200000,
		.seal_delay_ms = 1800000,
		.max_power_w = 250000,
		.revision_window_days = 2,
	};
	return gw_batcher_new(&p);
}

int FN(seal_add)(void *b, const struct gw_reading *r, size_t n)
{
	return gw_batcher_add(b, r, n);
}

/* The batches go where gatewayd's callback takes them; here they are
 * counted and freed, so that only the core is measured. */
static int count(void *ctx, struct gw_batch *batch)
{
	size_t *rows = ctx;

	*rows += batch->n_days;
	gw_batch_free(batch);
	return 0;
}

int FN(seal_advance)(void *b, int64_t now_ms, size_t *rows)
{
	return gw_batcher_advance(b, now_ms, count, rows);
}

void FN(seal_free)(void *b)
{
	gw_batcher_free(b);
}
