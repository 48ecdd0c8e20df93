/* SPDX-License-Identifier: MIT */
/*
 * batchfile_deflate.c - the batch writer's deflate on a thread of its own:
 * the encoder fills 64 kB pieces of the payload and hands each one over;
 * a thread runs deflate over them in order and hands the compressed bytes
 * to the writer's put. It is the same one zlib stream, the same deflate
 * calls on the same pieces in the same order: byte for byte what deflate
 * on the encoder's thread gave. On a gateway with two cores the encoder
 * lays out the next pieces while the last ones are compressed.
 *
 * The thread starts with the second piece (a payload of one piece is
 * compressed where it was made); if it cannot start, every piece is
 * compressed on the encoder's thread. put is called on one thread at a
 * time, never on both.
 */
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "batchfile.h"
#include "crc32.h"

#define PIECE 65536
#define SLOTS 4 /* pieces queued or being compressed, and the one filled */

struct slot {
	uint8_t in[PIECE];
	size_t n;
	int finish; /* the last piece: Z_FINISH */
};

struct gw_deflater {
	z_stream z;
	gw_batch_put_fn put;
	void *pctx;
	uint8_t out[PIECE];
	uint64_t comp_n;
	uint32_t crc; /* of the compressed bytes */
	struct slot slot[SLOTS];
	/* Under mu: slot[head] is the next piece to compress, queued counts
	 * the pieces handed over and not done yet (the one being compressed
	 * too); the encoder fills slot[(head + queued) % SLOTS]. zerr is the
	 * first failure (deflate's or put's). */
	pthread_mutex_t mu;
	pthread_cond_t cv;
	size_t head, queued;
	int zerr;
	int threaded; /* 1: the thread runs; -1: it could not start */
	pthread_t th;
};

/* deflate over one piece, its output handed to put. Returns 0 or the
 * failure. Runs on one thread at a time. */
static int compress_piece(struct gw_deflater *d, struct slot *s)
{
	int flush = s->finish ? Z_FINISH : Z_NO_FLUSH, rc = 0;

	d->z.next_in = s->in;
	d->z.avail_in = (uInt)s->n;
	for (;;) {
		d->z.next_out = d->out;
		d->z.avail_out = sizeof(d->out);
		int zrc = deflate(&d->z, flush);
		if (zrc == Z_STREAM_ERROR)
			return GW_EINVAL;
		size_t got = sizeof(d->out) - d->z.avail_out;
		if (got) {
			d->crc = gw_crc32_up(d->crc, d->out, got);
			d->comp_n += got;
			if ((rc = d->put(d->pctx, d->out, got)) != 0)
				return rc;
		}
		if (flush == Z_FINISH ? zrc == Z_STREAM_END : d->z.avail_out != 0)
			return 0;
	}
}

static void *deflate_thread(void *arg)
{
	struct gw_deflater *d = arg;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (d->queued == 0)
			pthread_cond_wait(&d->cv, &d->mu);
		struct slot *s = &d->slot[d->head];
		int err = d->zerr;
		pthread_mutex_unlock(&d->mu);
		/* after a failure the pieces are only taken off the queue */
		int rc = err ? 0 : compress_piece(d, s);
		int last = s->finish;
		pthread_mutex_lock(&d->mu);
		if (rc && !d->zerr)
			d->zerr = rc;
		d->head = (d->head + 1) % SLOTS;
		d->queued--;
		pthread_cond_broadcast(&d->cv);
		if (last)
			break;
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

int gw_deflater_new(struct gw_deflater **out, int level, int strategy,
		    gw_batch_put_fn put, void *ctx)
{
	struct gw_deflater *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (!d)
		return GW_ENOMEM;
	if (deflateInit2(&d->z, level, Z_DEFLATED, 15, 8, strategy) != Z_OK) {
		free(d);
		return GW_ENOMEM;
	}
	d->put = put;
	d->pctx = ctx;
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	*out = d;
	return 0;
}

uint8_t *gw_deflater_buf(struct gw_deflater *d, size_t *cap)
{
	*cap = PIECE;
	if (d->threaded <= 0)
		return d->slot[0].in;
	pthread_mutex_lock(&d->mu);
	uint8_t *p = d->slot[(d->head + d->queued) % SLOTS].in;
	pthread_mutex_unlock(&d->mu);
	return p;
}

/* The second piece is coming: the thread takes over from here, with
 * every signal blocked (gatewayd's handlers are for its main thread). */
static void start_thread(struct gw_deflater *d)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	d->threaded = pthread_create(&d->th, NULL, deflate_thread, d) == 0 ? 1 : -1;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* Hands the filled piece over (finish: the last one). */
static int hand_over(struct gw_deflater *d, size_t n, int finish)
{
	if (d->threaded == 0 && !finish)
		start_thread(d);
	if (d->threaded < 0 || (d->threaded == 0 && finish)) {
		d->slot[0].n = n;
		d->slot[0].finish = finish;
		if (!d->zerr)
			d->zerr = compress_piece(d, &d->slot[0]);
		return d->zerr;
	}
	pthread_mutex_lock(&d->mu);
	struct slot *s = &d->slot[(d->head + d->queued) % SLOTS];
	s->n = n;
	s->finish = finish;
	d->queued++;
	pthread_cond_broadcast(&d->cv);
	/* wait for room for the next piece (for all of them at the end) */
	while (finish ? d->queued > 0 : d->queued == SLOTS)
		pthread_cond_wait(&d->cv, &d->mu);
	int rc = d->zerr;
	pthread_mutex_unlock(&d->mu);
	if (finish) {
		pthread_join(d->th, NULL);
		d->threaded = 0;
	}
	return rc;
}

int gw_deflater_push(struct gw_deflater *d, size_t n)
{
	return hand_over(d, n, 0);
}

int gw_deflater_finish(struct gw_deflater *d, size_t n, uint64_t *comp_n,
		       uint32_t *crc)
{
	int rc = hand_over(d, n, 1);

	*comp_n = d->comp_n;
	*crc = d->crc;
	return rc;
}

void gw_deflater_free(struct gw_deflater *d)
{
	if (!d)
		return;
	if (d->threaded > 0) {
		/* stopped before the end (the encoder failed): nothing more is
		 * compressed, and an empty last piece ends the thread */
		pthread_mutex_lock(&d->mu);
		if (!d->zerr)
			d->zerr = GW_EINVAL;
		pthread_mutex_unlock(&d->mu);
		hand_over(d, 0, 1);
	}
	deflateEnd(&d->z);
	pthread_mutex_destroy(&d->mu);
	pthread_cond_destroy(&d->cv);
	free(d);
}
