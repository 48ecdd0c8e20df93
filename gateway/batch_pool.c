/* SPDX-License-Identifier: MIT */
/*
 * batch_pool.c - the blocks the tracks' encoded points are kept in, of
 * two sizes: a chain's first block 48 bytes (44 of points, the number of
 * the next block), its later ones 16 (12 of points), each size taken
 * from pages of its own (4096 blocks, 192 kB; 16,384, 256 kB) and given
 * back to a free list of its own. A track's points are a chain of blocks,
 * full but for the last; a chain given back goes onto the free lists
 * whole. Every block of a size is the size of every other, so a block
 * given back by one track is the next one of its size any track takes:
 * the pages stay full however the tracks grow and shrink, where buffers
 * realloc'd to each track's size left holes between them that no later
 * buffer fitted. Most tracks gather less than 44 bytes between two passes
 * of the open day; those that gather more take 16 bytes at a time, not
 * another 48. See batch_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"

struct blk_pool *batch_pool_new(void)
{
	return calloc(1, sizeof(struct blk_pool));
}

/* Frees the pages of both sizes (p's counts left as they were). */
static void pages_free(struct blk_pool *p)
{
	for (int s = 0; s < 2; s++) {
		for (size_t i = 0; i < p->sub[s].n_pages; i++)
			free(p->sub[s].pages[i]);
		free(p->sub[s].pages);
	}
}

void batch_pool_free(struct blk_pool *p)
{
	if (!p)
		return;
	pages_free(p);
	free(p);
}

/* Gives every page back when no block is in a chain (after a pass of
 * the open day spilled every track's points): what the pool grew to
 * during the day is then free for the seal's buffers. */
void batch_pool_trim(struct blk_pool *p)
{
	if (p->n_used != 0)
		return;
	pages_free(p);
	memset(p, 0, sizeof(*p));
}

/* A block of size s (0: a first block, 1: a later one) never taken, from
 * a page not used up yet (a new page's blocks are not touched before
 * they are taken, so its memory is not resident before it is needed),
 * not counted as used. 0 when out of memory. */
static uint32_t blk_new(struct blk_pool *p, int s)
{
	struct blk_sub *u = &p->sub[s];
	size_t size = (s ? BLK_SDATA : BLK_DATA) + 4;
	uint32_t per = s ? BLK_SPAGE : BLK_PAGE;

	if (u->fresh == 0 || u->fresh % per == 0) {
		if (u->n_pages >= (BLK_SMALL - 1) / per)
			return 0;
		uint8_t **np = realloc(u->pages, (u->n_pages + 1) * sizeof(*np));
		if (!np)
			return 0;
		u->pages = np;
		/* zeroed: a chain's reader may look a few bytes past its end */
		u->pages[u->n_pages] = calloc(per, size);
		if (!u->pages[u->n_pages])
			return 0;
		u->fresh = (uint32_t)(u->n_pages * per);
		u->n_pages++;
		if (u->fresh == 0 && s == 0)
			u->fresh = 1; /* block 0 is "none" */
	}
	return u->fresh++ | (s ? BLK_SMALL : 0);
}

/* A block of size s, from its free list or new, counted as used, its
 * next block none. 0 when out of memory. */
static uint32_t blk_get(struct blk_pool *p, int s)
{
	struct blk_sub *u = &p->sub[s];
	uint32_t id = u->free;

	if (id)
		u->free = blk_next(p, id);
	else if (!(id = blk_new(p, s)))
		return 0;
	u->n_used++;
	p->n_used++;
	blk_set_next(p, id, 0);
	return id;
}

/* Puts block id, whose bytes are d, onto its size's free list. */
static void blk_put(struct blk_pool *p, uint32_t id, uint8_t *d)
{
	struct blk_sub *u = &p->sub[id >> 31];

	memcpy(d + blk_len(id), &u->free, sizeof(u->free));
	u->free = id;
}

/* Gives chain c back to the pool (all its blocks, at once). */
void batch_chain_free(struct blk_pool *p, struct chain *c)
{
	for (uint32_t id = c->head; id;) {
		uint8_t *d = blk_d(p, id);
		uint32_t next = id == c->tail ? 0 : blk_next_at(d, blk_len(id));
		blk_put(p, id, d);
		p->sub[id >> 31].n_used--;
		p->n_used--;
		id = next;
	}
	memset(c, 0, sizeof(*c));
}

/* The bytes of points in c. */
size_t batch_chain_len(const struct blk_pool *p, const struct chain *c)
{
	size_t n = 0;

	if (!c->head)
		return 0;
	for (uint32_t id = c->head; id != c->tail; id = blk_next(p, id))
		n += blk_len(id);
	return n + c->tail_len;
}

/* At least k blocks of size s on its free list. */
static int blk_stock(struct blk_pool *p, int s, unsigned k)
{
	unsigned have = 0;

	for (uint32_t id = p->sub[s].free; id && have < k; id = blk_next(p, id))
		have++;
	for (; have < k; have++) {
		uint32_t id = blk_new(p, s);
		if (!id)
			return GW_ENOMEM;
		blk_put(p, id, blk_d(p, id));
	}
	return 0;
}

/* Room at the end of c for n bytes: the blocks it takes more (a first
 * block when c is empty, then later ones, as many as n needs) made sure
 * of now (on the free lists), so that the bytes can then be put without
 * failing. Returns 0 or GW_ENOMEM. */
int batch_chain_room(struct blk_pool *p, const struct chain *c, size_t n)
{
	size_t room = c->head ? blk_len(c->tail) - c->tail_len : 0;
	unsigned first = 0, later = 0;

	if (n <= room)
		return 0;
	if (!c->head) {
		first = 1;
		room += BLK_DATA;
	}
	for (; n > room; room += BLK_SDATA)
		later++;
	if (blk_stock(p, 0, first) || blk_stock(p, 1, later))
		return GW_ENOMEM;
	return 0;
}

/* Appends n bytes to c (room made by batch_chain_room). */
void batch_chain_put(struct blk_pool *p, struct chain *c, const uint8_t *s,
		     size_t n)
{
	while (n > 0) {
		if (!c->head || c->tail_len == blk_len(c->tail)) {
			uint32_t id = blk_get(p, c->head != 0);
			if (!c->head)
				c->head = id;
			else
				blk_set_next(p, c->tail, id);
			c->tail = id;
			c->tail_len = 0;
		}
		size_t k = blk_len(c->tail) - c->tail_len;
		if (k > n)
			k = n;
		memcpy(blk_d(p, c->tail) + c->tail_len, s, k);
		c->tail_len = (uint8_t)(c->tail_len + k);
		s += k;
		n -= k;
	}
}

/* Appends bits to c: s holds c's last byte as it is when that is partly
 * used (c->bit of its bits; it replaces it), then the new bits, nbits in
 * all from the lowest bit of s[0] up, the bits after them zero (room
 * made by batch_chain_room for the bytes that adds). */
void batch_chain_put_bits(struct blk_pool *p, struct chain *c, const uint8_t *s,
			  size_t nbits)
{
	size_t nb = (nbits + 7) / 8;

	if (c->bit) {
		blk_d(p, c->tail)[c->tail_len - 1] = s[0];
		s++;
		nb--;
	}
	batch_chain_put(p, c, s, nb);
	c->bit = (uint8_t)(nbits % 8);
}
