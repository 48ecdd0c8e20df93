/* SPDX-License-Identifier: MIT */
/*
 * batch_harness.h - what the batching core's seal tests share: a sink
 * that keeps each sealed day as its encoded bytes (the header first),
 * one day after another, in a struct gw_wbuf, so that two runs of a core
 * can be compared byte for byte. Header-only (static functions): each
 * test program includes it once, after "batchfile.h" and "bytes.h".
 */
#ifndef GW_TEST_BATCH_HARNESS_H
#define GW_TEST_BATCH_HARNESS_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static int put_mem(void *ctx, const uint8_t *p, size_t n)
{
	gw_wbuf_put(ctx, p, n);
	return 0;
}

/* Each sealed day, encoded, after the ones before (its header first). */
static int sealed(void *ctx, struct gw_batch_src *src)
{
	struct gw_wbuf w = {0};
	uint8_t hdr[GW_BATCH_HDR_MAX];
	size_t hlen;
	int rc = gw_batch_encode_src(src, put_mem, &w, hdr, &hlen);

	if (rc == 0) {
		memcpy(w.p, hdr, hlen);
		gw_wbuf_put(ctx, w.p, w.n);
	}
	free(w.p);
	return rc;
}

#endif
