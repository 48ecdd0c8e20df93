/* SPDX-License-Identifier: MIT */
/*
 * clockmarks.c - the newest reading time of each register; see
 * clockmarks.h.
 *
 * A meter of the configuration in use keeps its registers' times in one
 * array of its own, found by its index: a count, the times (8 bytes a
 * register) and the codes' numbers (2 bytes), grown by one register when
 * a new one is read; 8 bytes a meter for the pointer. A code's number
 * comes from a table of the codes seen, a few dozen in a fleet, which
 * only grows (at most CODES_MAX).
 *
 * Any other register (a meter id no meter of the configuration has: a
 * journal's reading of a meter since removed, a reading whose id is not
 * its meter's; a code beyond the table's bound) keeps a record by name:
 * its time, the meter id and the code each with its NUL, padded to 8
 * bytes, in blocks of NAMED_BLOCK bytes (nothing allocated per register,
 * a record never moved or freed alone), found through an open-addressing
 * hash of 4-byte record numbers + 1. The code table is such a store too,
 * with the code's number as the "time" and an empty meter id.
 *
 * A register is in exactly one of the two, which its meter id and code
 * decide by the configuration in use, so that it has one newest time;
 * a new configuration moves the marks between them (gw_clock_marks_use).
 * At 10,000 meters x 3 registers the arrays are about 56 bytes a meter
 * (malloc's header and rounding included), against 32 bytes a register
 * and 4-byte slots for records by name.
 */
#include <stdlib.h>
#include <string.h>

#include "clockmarks.h"
#include "gw.h"

#define NAMED_BLOCK 16384
/* a code's number + 1 fits 16 bits (the daemon's translation of the
 * flight table's numbers keeps it so) */
#define CODES_MAX 65535

/* Records by name. */
struct named {
	char **blocks;
	size_t n_blocks, used; /* used: bytes of the last block */
	uint32_t *slots;       /* n_slots, a power of two, or none yet */
	size_t n_slots, n;
};

struct gw_clock_marks {
	const struct gw_config *cfg;
	/* per meter of cfg: NULL, or {n, ts[n], then n uint16_t codes} */
	int64_t **meter;
	size_t n_meter;
	struct named named;  /* the registers not by number */
	struct named codes;  /* ("", code) with its number as the time */
	size_t n_codes;
};

/* ---- records by name ---- */

static int64_t *rec_ts(const struct named *t, uint32_t id)
{
	return (int64_t *)(void *)(t->blocks[id / NAMED_BLOCK] + id % NAMED_BLOCK);
}

static const char *rec_meter(const struct named *t, uint32_t id)
{
	return (const char *)(rec_ts(t, id) + 1);
}

static const char *rec_obis(const struct named *t, uint32_t id)
{
	const char *meter = rec_meter(t, id);

	return meter + strlen(meter) + 1;
}

static uint32_t hash_key(const char *meter, const char *obis)
{
	return gw_hash_str(gw_hash_str(gw_hash_str(GW_HASH_INIT, meter), "\t"),
			   obis);
}

/* The slot of (meter, obis), or the empty one where it would go (the
 * table has slots). */
static size_t named_slot(const struct named *t, const char *meter,
			 const char *obis)
{
	size_t mask = t->n_slots - 1, j = hash_key(meter, obis) & mask;

	for (; t->slots[j]; j = (j + 1) & mask) {
		uint32_t id = t->slots[j] - 1;
		if (strcmp(rec_meter(t, id), meter) == 0 &&
		    strcmp(rec_obis(t, id), obis) == 0)
			break;
	}
	return j;
}

/* The newest time of (meter, obis), or NULL if it has no record. */
static int64_t *named_find(const struct named *t, const char *meter,
			   const char *obis)
{
	if (!t->n_slots)
		return NULL;
	uint32_t s = t->slots[named_slot(t, meter, obis)];
	return s ? rec_ts(t, s - 1) : NULL;
}

/* Room in the slots for one record more (at most 70% full). */
static int named_room(struct named *t)
{
	if (t->n_slots && t->n * 10 < t->n_slots * 7)
		return 0;
	size_t nn = t->n_slots ? t->n_slots * 2 : 256;
	uint32_t *ns = calloc(nn, sizeof(*ns));

	if (!ns)
		return GW_ENOMEM;
	for (size_t i = 0; i < t->n_slots; i++) {
		uint32_t s = t->slots[i];
		if (!s)
			continue;
		size_t j = hash_key(rec_meter(t, s - 1), rec_obis(t, s - 1)) & (nn - 1);
		while (ns[j])
			j = (j + 1) & (nn - 1);
		ns[j] = s;
	}
	free(t->slots);
	t->slots = ns;
	t->n_slots = nn;
	return 0;
}

/* A new record of (meter, obis), which has none, at ts. Returns 0 or
 * GW_ENOMEM (also for a key longer than a block, which no reading has). */
static int named_add(struct named *t, const char *meter, const char *obis,
		     int64_t ts)
{
	size_t ml = strlen(meter) + 1, ol = strlen(obis) + 1;
	size_t len = (sizeof(int64_t) + ml + ol + 7) & ~(size_t)7;

	if (len > NAMED_BLOCK || named_room(t))
		return GW_ENOMEM;
	if (!t->n_blocks || NAMED_BLOCK - t->used < len) {
		if (gw_block_add(&t->blocks, &t->n_blocks, NAMED_BLOCK))
			return GW_ENOMEM;
		t->used = 0;
	}
	uint32_t at = (uint32_t)((t->n_blocks - 1) * NAMED_BLOCK + t->used);
	t->used += len;
	*rec_ts(t, at) = ts;
	char *k = (char *)(rec_ts(t, at) + 1);
	memcpy(k, meter, ml);
	memcpy(k + ml, obis, ol);
	t->slots[named_slot(t, meter, obis)] = at + 1;
	t->n++;
	return 0;
}

static void named_free(struct named *t)
{
	for (size_t i = 0; i < t->n_blocks; i++)
		free(t->blocks[i]);
	free(t->blocks);
	free(t->slots);
	memset(t, 0, sizeof(*t));
}

/* ---- the table ---- */

struct gw_clock_marks *gw_clock_marks_new(void)
{
	return calloc(1, sizeof(struct gw_clock_marks));
}

void gw_clock_marks_clear(struct gw_clock_marks *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_meter; i++) {
		free(m->meter[i]);
		m->meter[i] = NULL;
	}
	named_free(&m->named);
}

void gw_clock_marks_free(struct gw_clock_marks *m)
{
	if (!m)
		return;
	gw_clock_marks_clear(m);
	free(m->meter);
	named_free(&m->codes);
	free(m);
}

long gw_clock_marks_code(struct gw_clock_marks *m, const char *obis)
{
	int64_t *have = named_find(&m->codes, "", obis);

	if (have)
		return (long)*have;
	if (m->n_codes == CODES_MAX)
		return GW_EFULL;
	if (named_add(&m->codes, "", obis, (int64_t)m->n_codes))
		return GW_ENOMEM;
	return (long)m->n_codes++;
}

/* Sets the reading at ts aside (1) or not (0) by the newest time of its
 * register, which ts becomes if it is later. */
static int judge(int64_t *newest, int64_t ts, int64_t window_ms,
		 int64_t guard_ms)
{
	if (ts > *newest + guard_ms) {
		*newest = ts;
		return 0;
	}
	return window_ms < 0 || ts >= *newest - window_ms;
}

static uint16_t *meter_codes(int64_t *a)
{
	return (uint16_t *)(void *)(a + 1 + a[0]);
}

/* Adds register code at ts to the meter's array *slot. 0 or GW_ENOMEM. */
static int meter_add(int64_t **slot, long code, int64_t ts)
{
	size_t n = *slot ? (size_t)(*slot)[0] : 0;
	int64_t *a = realloc(*slot, (n + 2) * sizeof(*a) + (n + 1) * sizeof(uint16_t));

	if (!a)
		return GW_ENOMEM;
	if (!n)
		a[0] = 0;
	/* the codes move up by the new time */
	memmove(a + 2 + n, a + 1 + n, n * sizeof(uint16_t));
	a[1 + n] = ts;
	a[0] = (int64_t)n + 1;
	meter_codes(a)[n] = (uint16_t)code;
	*slot = a;
	return 0;
}

int gw_clock_marks_check_at(struct gw_clock_marks *m, int meter, long code,
			    int64_t ts, int64_t window_ms, int64_t guard_ms)
{
	if (meter < 0 || (size_t)meter >= m->n_meter || code < 0 ||
	    (size_t)code >= m->n_codes)
		return GW_EINVAL;
	int64_t *a = m->meter[meter];
	if (a) {
		const uint16_t *c = meter_codes(a);
		for (int64_t i = 0; i < a[0]; i++)
			if (c[i] == code)
				return judge(&a[1 + i], ts, window_ms, guard_ms);
	}
	return meter_add(&m->meter[meter], code, ts);
}

/* The meter's index in cfg, or -1. */
static int meter_index(const struct gw_config *cfg, const char *id)
{
	const struct gw_meter_config *mc = cfg ? gw_config_find_meter(cfg, id) : NULL;

	return mc ? (int)(mc - cfg->meters) : -1;
}

int gw_clock_marks_check(struct gw_clock_marks *m, const char *meter,
			 const char *obis, int64_t ts, int64_t window_ms,
			 int64_t guard_ms)
{
	int at = meter_index(m->cfg, meter);

	if (at >= 0) {
		long code = gw_clock_marks_code(m, obis);
		if (code >= 0)
			return gw_clock_marks_check_at(m, at, code, ts, window_ms,
						       guard_ms);
		if (code != GW_EFULL)
			return (int)code;
	}
	int64_t *newest = named_find(&m->named, meter, obis);
	if (!newest)
		return named_add(&m->named, meter, obis, ts);
	return judge(newest, ts, window_ms, guard_ms);
}

/* The marks by name of the table into nm (the arrays of cfg's meters,
 * made[i] set for those made here) or nt (by name). A meter's array
 * already in nm (moved from the previous configuration) is copied before
 * it grows, so that the previous one stays whole until the change is
 * made. 0 or GW_ENOMEM. */
static int rename_named(struct gw_clock_marks *m, const struct gw_config *cfg,
			int64_t **nm, unsigned char *made, struct named *nt)
{
	const struct named *t = &m->named;

	for (size_t s = 0; s < t->n_slots; s++) {
		if (!t->slots[s])
			continue;
		uint32_t id = t->slots[s] - 1;
		const char *meter = rec_meter(t, id), *obis = rec_obis(t, id);
		int64_t ts = *rec_ts(t, id);
		int at = meter_index(cfg, meter);
		long code = at >= 0 ? gw_clock_marks_code(m, obis) : GW_EFULL;
		if (code == GW_ENOMEM)
			return GW_ENOMEM;
		if (code < 0) {
			if (named_add(nt, meter, obis, ts))
				return GW_ENOMEM;
			continue;
		}
		if (nm[at] && !made[at]) {
			size_t bytes = (size_t)(nm[at][0] + 1) * sizeof(int64_t) +
				       (size_t)nm[at][0] * sizeof(uint16_t);
			int64_t *copy = malloc(bytes);
			if (!copy)
				return GW_ENOMEM;
			nm[at] = memcpy(copy, nm[at], bytes);
		}
		made[at] = 1;
		if (meter_add(&nm[at], code, ts))
			return GW_ENOMEM;
	}
	return 0;
}

/* The codes' names by number (n_codes of them, borrowed from the table;
 * free the array), or NULL when out of memory. */
static const char **code_names(const struct gw_clock_marks *m)
{
	const char **name = calloc(m->n_codes + 1, sizeof(*name));
	const struct named *t = &m->codes;

	for (size_t s = 0; name && s < t->n_slots; s++)
		if (t->slots[s])
			name[*rec_ts(t, t->slots[s] - 1)] = rec_obis(t, t->slots[s] - 1);
	return name;
}

int gw_clock_marks_use(struct gw_clock_marks *m, const struct gw_config *cfg)
{
	const struct gw_config *old = m->cfg;
	size_t nn = cfg ? (size_t)cfg->n_meters : 0;
	int64_t **nm = calloc(nn + 1, sizeof(*nm));
	unsigned char *made = calloc(nn + 1, 1);
	const char **name = code_names(m);
	struct named nt = {0};
	int rc = nm && made && name ? 0 : GW_ENOMEM;

	/* a meter's array follows its id, or goes by name */
	for (size_t i = 0; !rc && i < m->n_meter; i++) {
		int64_t *a = m->meter[i];
		if (!a)
			continue;
		const char *id = old->meters[i].id;
		int at = meter_index(cfg, id);
		if (at >= 0) {
			nm[at] = a;
			continue;
		}
		const uint16_t *c = meter_codes(a);
		for (int64_t k = 0; !rc && k < a[0]; k++)
			rc = named_add(&nt, id, name[c[k]], a[1 + k]);
	}
	free(name);
	if (!rc)
		rc = rename_named(m, cfg, nm, made, &nt);
	if (rc) {
		for (size_t j = 0; nm && made && j < nn; j++)
			if (made[j])
				free(nm[j]);
		free(nm);
		free(made);
		named_free(&nt);
		return GW_ENOMEM;
	}
	/* made: the arrays gone by name, and those copied before growing */
	for (size_t i = 0; i < m->n_meter; i++) {
		int at = m->meter[i] ? meter_index(cfg, old->meters[i].id) : -1;
		if (m->meter[i] && (at < 0 || made[at]))
			free(m->meter[i]);
	}
	free(made);
	free(m->meter);
	m->meter = nm;
	m->n_meter = nn;
	named_free(&m->named);
	m->named = nt;
	m->cfg = cfg;
	return 0;
}
