/* SPDX-License-Identifier: MIT */
/*
 * batch_pool.c - the blocks the tracks' encoded points are kept in: 48
 * bytes each (44 of points, the number of the next block), taken from
 * pages of 4096 (192 kB) and given back to one free list. A track's
 * points are a chain of blocks, full but for the last; a chain given
 * back is spliced onto the free list whole. Every block is the size of
 * every other, so a block given back by one track is the next one any
 * track takes: the pages stay full however the tracks grow and shrink,
 * where buffers realloc'd to each track's size left holes between them
 * that no later buffer fitted. See batch_int.h.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"

struct blk_pool *batch_pool_new(void)
{
	return calloc(1, sizeof(struct blk_pool));
}

void batch_pool_free(struct blk_pool *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_pages; i++)
		free(p->pages[i]);
	free(p->pages);
	free(p);
}

/* Gives every page back when no block is in a chain (after a pass of
 * the open day spilled every track's points): what the pool grew to
 * during the day is then free for the seal's buffers. */
void batch_pool_trim(struct blk_pool *p)
{
	if (p->n_used != 0)
		return;
	for (size_t i = 0; i < p->n_pages; i++)
		free(p->pages[i]);
	free(p->pages);
	memset(p, 0, sizeof(*p));
}

/* A block, from the free list or a page not used up yet (a new page's
 * blocks are not touched before they are taken, so its memory is not
 * resident before it is needed). 0 when out of memory. */
static uint32_t blk_get(struct blk_pool *p)
{
	uint32_t id = p->free;

	if (id) {
		p->free = blk_at(p, id)->next;
		p->n_used++;
		return id;
	}
	if (p->fresh == 0 || p->fresh % BLK_PAGE == 0) {
		if (p->n_pages >= UINT32_MAX / BLK_PAGE)
			return 0;
		struct blk **np = realloc(p->pages, (p->n_pages + 1) * sizeof(*np));
		if (!np)
			return 0;
		p->pages = np;
		/* zeroed: a chain's reader may look a few bytes past its end */
		p->pages[p->n_pages] = calloc(BLK_PAGE, sizeof(struct blk));
		if (!p->pages[p->n_pages])
			return 0;
		p->fresh = (uint32_t)(p->n_pages * BLK_PAGE);
		p->n_pages++;
		if (p->fresh == 0)
			p->fresh = 1; /* block 0 is "none" */
	}
	p->n_used++;
	return p->fresh++;
}

/* Gives chain c back to the pool (all its blocks, at once). */
void batch_chain_free(struct blk_pool *p, struct chain *c)
{
	if (c->head) {
		blk_at(p, c->tail)->next = p->free;
		p->free = c->head;
		for (uint32_t id = c->head;; id = blk_at(p, id)->next) {
			p->n_used--;
			if (id == c->tail)
				break;
		}
	}
	memset(c, 0, sizeof(*c));
}

/* Room at the end of c for n bytes (n <= BLK_DATA): at most one block
 * more, made sure of now (on the free list), so that the bytes can then
 * be put without failing. Returns 0 or GW_ENOMEM. */
int batch_chain_room(struct blk_pool *p, const struct chain *c, size_t n)
{
	if ((c->head && c->tail_len + n <= BLK_DATA) || p->free)
		return 0;
	uint32_t id = blk_get(p);
	if (!id)
		return GW_ENOMEM;
	blk_at(p, id)->next = 0;
	p->free = id;
	p->n_used--;
	return 0;
}

/* Appends n bytes to c (room made by batch_chain_room). */
void batch_chain_put(struct blk_pool *p, struct chain *c, const uint8_t *s,
		     size_t n)
{
	while (n > 0) {
		if (!c->head || c->tail_len == BLK_DATA) {
			uint32_t id = blk_get(p);
			blk_at(p, id)->next = 0;
			if (!c->head)
				c->head = id;
			else
				blk_at(p, c->tail)->next = id;
			c->tail = id;
			c->tail_len = 0;
		}
		size_t k = BLK_DATA - c->tail_len;
		if (k > n)
			k = n;
		memcpy(blk_at(p, c->tail)->d + c->tail_len, s, k);
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
		blk_at(p, c->tail)->d[c->tail_len - 1] = s[0];
		s++;
		nb--;
	}
	batch_chain_put(p, c, s, nb);
	c->bit = (uint8_t)(nbits % 8);
}
