/* SPDX-License-Identifier: MIT */
/*
 * batch_names.c - the meter ids and OBIS codes of the batching core's
 * tracks, each kept once. 10,000 meters with 26 registers are 260,000
 * tracks but only 10,000 meter ids and 26 codes: a track holds the
 * numbers of its two names (4 bytes each) instead of 72 bytes of them.
 * The names are packed into 4 kB blocks (no allocation per name), a
 * name's number saying where (name_at), and found again through an
 * open-addressing hash table; they live as long as the batcher, as its
 * tracks do.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"

static uint32_t name_hash(const char *s)
{
	return gw_hash_str(GW_HASH_INIT, s);
}

static int names_grow(struct gw_batcher *b)
{
	struct batch_names *nm = &b->names;
	size_t n = nm->n_slots ? nm->n_slots * 2 : 64;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return GW_ENOMEM;
	for (size_t i = 0; i < nm->n_slots; i++) {
		if (!nm->slots[i])
			continue;
		size_t j = name_hash(name_at(b, nm->slots[i] - 1)) & (n - 1);
		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = nm->slots[i];
	}
	free(nm->slots);
	nm->slots = slots;
	nm->n_slots = n;
	return 0;
}

/* A copy of s (len bytes and its NUL) in the last block, or in a new
 * one; *id gets its number. Returns 0 or GW_ENOMEM. */
static int names_store(struct batch_names *nm, const char *s, size_t len,
		       uint32_t *id)
{
	if (!nm->n_blocks || NAME_BLOCK - nm->used < len + 1) {
		if (gw_block_add(&nm->blocks, &nm->n_blocks, NAME_BLOCK))
			return GW_ENOMEM;
		nm->used = 0;
	}
	memcpy(nm->blocks[nm->n_blocks - 1] + nm->used, s, len + 1);
	*id = (uint32_t)((nm->n_blocks - 1) * NAME_BLOCK + nm->used);
	nm->used += len + 1;
	return 0;
}

/* The number of the one copy of s (name_at), a field of cap bytes (at
 * most cap - 1 characters kept, as gw_strlcpy into the field would),
 * made on first use, into *id; cap is at most GW_ID_MAX. Returns 0 or
 * GW_ENOMEM. Freed with the batcher (batch_names_free). */
int batch_name(struct gw_batcher *b, const char *s, size_t cap, uint32_t *id)
{
	struct batch_names *nm = &b->names;
	char cut[GW_ID_MAX];
	size_t len = strnlen(s, cap);

	if (len == cap) {
		len = cap - 1;
		memcpy(cut, s, len);
		cut[len] = '\0';
		s = cut;
	}
	if ((nm->n + 1) * 10 > nm->n_slots * 7 && names_grow(b))
		return GW_ENOMEM;
	size_t j = name_hash(s) & (nm->n_slots - 1);
	while (nm->slots[j]) {
		if (strcmp(name_at(b, nm->slots[j] - 1), s) == 0) {
			*id = nm->slots[j] - 1;
			return 0;
		}
		j = (j + 1) & (nm->n_slots - 1);
	}
	if (names_store(nm, s, len, id))
		return GW_ENOMEM;
	nm->slots[j] = *id + 1;
	nm->n++;
	return 0;
}

void batch_names_free(struct gw_batcher *b)
{
	for (size_t i = 0; i < b->names.n_blocks; i++)
		free(b->names.blocks[i]);
	free(b->names.blocks);
	free(b->names.slots);
	memset(&b->names, 0, sizeof(b->names));
}
