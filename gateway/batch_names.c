/* SPDX-License-Identifier: MIT */
/*
 * batch_names.c - the meter ids and OBIS codes of the batching core's
 * tracks, each kept once. 10,000 meters with 26 registers are 260,000
 * tracks but only 10,000 meter ids and 26 codes: a track points at its
 * two names instead of holding 72 bytes of them. The names are packed
 * into 4 kB blocks (no allocation per name) and found again through an
 * open-addressing hash table; they live as long as the batcher, as its
 * tracks do.
 */
#include <stdlib.h>
#include <string.h>

#include "batch_int.h"

#define NAME_BLOCK 4096

/* A block of names, each NUL-terminated, packed one after another. */
struct name_block {
	struct name_block *next;
	size_t used;
	char s[NAME_BLOCK];
};

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static int names_grow(struct batch_names *nm)
{
	size_t n = nm->n_slots ? nm->n_slots * 2 : 64;
	const char **slots = calloc(n, sizeof(*slots));

	if (!slots)
		return GW_ENOMEM;
	for (size_t i = 0; i < nm->n_slots; i++) {
		const char *s = nm->slots[i];
		if (!s)
			continue;
		size_t j = name_hash(s) & (n - 1);
		while (slots[j])
			j = (j + 1) & (n - 1);
		slots[j] = s;
	}
	free(nm->slots);
	nm->slots = slots;
	nm->n_slots = n;
	return 0;
}

/* A copy of s in the current block, or in a new one. */
static const char *names_store(struct batch_names *nm, const char *s, size_t len)
{
	struct name_block *k = nm->blocks;

	if (!k || NAME_BLOCK - k->used < len + 1) {
		k = malloc(sizeof(*k));
		if (!k)
			return NULL;
		k->next = nm->blocks;
		k->used = 0;
		nm->blocks = k;
	}
	char *d = k->s + k->used;
	memcpy(d, s, len + 1);
	k->used += len + 1;
	return d;
}

/* The one copy of s, a field of cap bytes (at most cap - 1 characters
 * kept, as gw_strlcpy into the field would), made on first use; cap is
 * at most GW_ID_MAX. NULL when out of memory. Freed with the batcher
 * (batch_names_free). */
const char *batch_name(struct gw_batcher *b, const char *s, size_t cap)
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
	if ((nm->n + 1) * 10 > nm->n_slots * 7 && names_grow(nm))
		return NULL;
	size_t j = name_hash(s) & (nm->n_slots - 1);
	while (nm->slots[j]) {
		if (strcmp(nm->slots[j], s) == 0)
			return nm->slots[j];
		j = (j + 1) & (nm->n_slots - 1);
	}
	const char *d = names_store(nm, s, len);
	if (!d)
		return NULL;
	nm->slots[j] = d;
	nm->n++;
	return d;
}

void batch_names_free(struct gw_batcher *b)
{
	struct name_block *k = b->names.blocks;

	while (k) {
		struct name_block *next = k->next;
		free(k);
		k = next;
	}
	free(b->names.slots);
	memset(&b->names, 0, sizeof(b->names));
}
