/* SPDX-License-Identifier: MIT */
/*
 * clockmarks.c - the newest reading time of each register; see
 * clockmarks.h.
 *
 * A meter of the configuration in use keeps its registers' times in one
 * array of its own, found by its index: its newest time and the one
 * before it once, then per register the code's number (2 bytes) and a
 * byte saying its time as a few milliseconds before either, or, for a
 * register whose time is apart from both (left behind, read at a time
 * of its own), that its time is in an escape of 10 bytes at the end;
 * grown by one register when a new one is read; 8 bytes a meter for the
 * pointer. A code's number comes from a table of the codes seen, a few
 * dozen in a fleet, which only grows (at most CODES_MAX).
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
 * With one time a cycle the arrays are 32 bytes a meter at 3 registers,
 * 96 at 23 (malloc's header and rounding included), against 32 bytes a
 * register and 4-byte slots for records by name.
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
	/* per meter of cfg: NULL, or its registers' array (below) */
	unsigned char **meter;
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

/* ---- a configured meter's array ----
 *
 * Bytes, read and written with memcpy (no alignment): the meter's newest
 * time (base, int64: no register's is later), base minus the time before
 * it (the base its last reading cycle replaced; uint32, PREV_NONE for none
 * or one too far back), the count of registers n (uint16), then n codes'
 * numbers (uint16), n tags (a byte each) and an escape {code's number
 * uint16, time int64} for each tag TAG_ESC, in no order: 14 bytes and 3
 * a register, 23 bytes at 3 registers in malloc's 32-byte chunk. A register's tag says its
 * newest time: base - tag for 0..TAG_NEAR-1, the previous base - (tag -
 * TAG_NEAR) for TAG_NEAR..TAG_ESC-1, else (TAG_ESC) its escape's time.
 * A meter's registers read with one time are all at the base, those the
 * cycle has not reached yet at the previous one; a register read a few
 * milliseconds apart from the rest is near one of them.
 */
#define M_BASE 0
#define M_PREV 8
#define M_N 12
#define M_HEAD 14
#define TAG_NEAR 128
#define TAG_ESC 255
#define ESC_BYTES 10
#define PREV_NONE UINT32_MAX

static int64_t get64(const unsigned char *p)
{
	int64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put64(unsigned char *p, int64_t v)
{
	memcpy(p, &v, sizeof(v));
}

static unsigned get16(const unsigned char *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void put16(unsigned char *p, unsigned v)
{
	uint16_t w = (uint16_t)v;

	memcpy(p, &w, sizeof(w));
}

static uint32_t get_prev(const unsigned char *a)
{
	uint32_t v;

	memcpy(&v, a + M_PREV, sizeof(v));
	return v;
}

static void put_prev(unsigned char *a, uint32_t v)
{
	memcpy(a + M_PREV, &v, sizeof(v));
}

static size_t m_n(const unsigned char *a)
{
	return get16(a + M_N);
}

static unsigned char *m_tags(unsigned char *a)
{
	return a + M_HEAD + 2 * m_n(a);
}

/* The count of escapes (of tags TAG_ESC). */
static size_t m_e(unsigned char *a)
{
	const unsigned char *tags = m_tags(a);
	size_t e = 0;

	for (size_t i = 0; i < m_n(a); i++)
		e += tags[i] == TAG_ESC;
	return e;
}

static unsigned char *m_esc(unsigned char *a)
{
	return a + M_HEAD + 3 * m_n(a);
}

static size_t m_bytes(size_t n, size_t e)
{
	return M_HEAD + 3 * n + ESC_BYTES * e;
}

/* The escape of register code among the first e, or NULL. */
static unsigned char *esc_find(unsigned char *a, size_t e, unsigned code)
{
	unsigned char *x = m_esc(a);

	for (size_t k = 0; k < e; k++, x += ESC_BYTES)
		if (get16(x) == code)
			return x;
	return NULL;
}

/* The newest time of the register at position i (e: the escapes). */
static int64_t reg_ts(unsigned char *a, size_t i, size_t e)
{
	unsigned tag = m_tags(a)[i];
	int64_t base = get64(a + M_BASE);

	if (tag < TAG_NEAR)
		return base - tag;
	if (tag < TAG_ESC)
		return base - (int64_t)get_prev(a) - (tag - TAG_NEAR);
	return get64(esc_find(a, e, get16(a + M_HEAD + 2 * i)) + 2);
}

/* The newest time of the register at position i. */
static int64_t reg_newest(unsigned char *a, size_t i)
{
	return reg_ts(a, i, m_tags(a)[i] == TAG_ESC ? m_e(a) : 0);
}

/* The tag of time ts (at most base) by base and prev (base minus the
 * previous base, or PREV_NONE). */
static unsigned tag_of(int64_t ts, int64_t base, uint32_t prev)
{
	uint64_t d = (uint64_t)base - (uint64_t)ts; /* ts <= base: exact */

	if (d < TAG_NEAR)
		return (unsigned)d;
	if (prev != PREV_NONE && d >= prev && d - prev < TAG_ESC - TAG_NEAR)
		return TAG_NEAR + (unsigned)(d - prev);
	return TAG_ESC;
}

/* Makes ts, later than the base, the meter's base, the register at
 * position at newest at it, the base before it the previous one, and the
 * other registers' tags and escapes say the same times as before.
 * Everything is allocated before anything changes: 0, or GW_ENOMEM with
 * the array as it was. */
static int rebase(unsigned char **slot, size_t at, int64_t ts)
{
	unsigned char *a = *slot;
	size_t n = m_n(a), e = m_e(a), ne = 0;
	int64_t base = get64(a + M_BASE);
	uint64_t d = (uint64_t)ts - (uint64_t)base;
	uint32_t prev = d < PREV_NONE ? (uint32_t)d : PREV_NONE;

	unsigned char *tags = m_tags(a);
	/* the usual: every register near the base, which becomes the one
	 * before it, at least TAG_NEAR ms back */
	size_t near = 0;
	while (near < n && tags[near] < TAG_ESC - TAG_NEAR)
		near++;
	if (near == n && prev >= TAG_NEAR && prev != PREV_NONE) {
		for (size_t i = 0; i < n; i++)
			tags[i] = (unsigned char)(tags[i] + TAG_NEAR);
		tags[at] = 0;
		put64(a + M_BASE, ts);
		put_prev(a, prev);
		return 0;
	}
	for (size_t i = 0; i < n; i++)
		ne += i != at && tag_of(reg_ts(a, i, e), ts, prev) == TAG_ESC;
	if (ne) {
		/* the new escapes go after the old ones, then move down */
		a = realloc(a, m_bytes(n, e + ne));
		if (!a)
			return GW_ENOMEM;
		*slot = a;
	}
	unsigned char *x = m_esc(a) + ESC_BYTES * e;
	tags = m_tags(a);
	for (size_t i = 0; i < n; i++) {
		int64_t t = i == at ? ts : reg_ts(a, i, e);
		unsigned tag = tag_of(t, ts, prev);
		if (tag == TAG_ESC) {
			put16(x, get16(a + M_HEAD + 2 * i));
			put64(x + 2, t);
			x += ESC_BYTES;
		}
		tags[i] = (unsigned char)tag;
	}
	memmove(m_esc(a), m_esc(a) + ESC_BYTES * e, ESC_BYTES * ne);
	put64(a + M_BASE, ts);
	put_prev(a, prev);
	if (e) { /* the room of the old escapes, given back */
		unsigned char *s = realloc(a, m_bytes(n, ne));
		if (s) /* a smaller block not had is no harm */
			*slot = s;
	}
	return 0;
}

/* Makes ts the newest time of the register at position i. 0, or
 * GW_ENOMEM with the array as it was. */
static int reg_set(unsigned char **slot, size_t i, int64_t ts)
{
	unsigned char *a = *slot;

	if (ts > get64(a + M_BASE))
		return rebase(slot, i, ts);
	unsigned old = m_tags(a)[i];
	unsigned tag = tag_of(ts, get64(a + M_BASE), get_prev(a));
	unsigned code = get16(a + M_HEAD + 2 * i);
	if (tag != TAG_ESC && old != TAG_ESC) {
		m_tags(a)[i] = (unsigned char)tag;
		return 0;
	}
	size_t n = m_n(a), e = m_e(a);
	if (tag == TAG_ESC && old == TAG_ESC) {
		put64(esc_find(a, e, code) + 2, ts);
		return 0;
	}
	if (tag == TAG_ESC) {
		a = realloc(a, m_bytes(n, e + 1));
		if (!a)
			return GW_ENOMEM;
		*slot = a;
		unsigned char *x = m_esc(a) + ESC_BYTES * e;
		put16(x, code);
		put64(x + 2, ts);
	} else if (old == TAG_ESC) {
		/* the last escape takes its place */
		unsigned char *x = esc_find(a, e, code);
		memmove(x, m_esc(a) + ESC_BYTES * (e - 1), ESC_BYTES);
		unsigned char *s = realloc(a, m_bytes(n, e - 1));
		if (s)
			*slot = a = s;
	}
	m_tags(a)[i] = (unsigned char)tag;
	return 0;
}

/* Adds register code at ts to the meter's array *slot (NULL: none yet).
 * 0, or GW_ENOMEM with the array as it was. */
static int meter_add(unsigned char **slot, long code, int64_t ts)
{
	size_t n = *slot ? m_n(*slot) : 0, e = *slot ? m_e(*slot) : 0;

	if (n == CODES_MAX)
		return GW_ENOMEM; /* not reached: one register a code */
	unsigned char *a = realloc(*slot, m_bytes(n + 1, e));
	if (!a)
		return GW_ENOMEM;
	if (!n) {
		put64(a + M_BASE, ts);
		put_prev(a, PREV_NONE);
	}
	/* the escapes move up by a tag, the tags by a code */
	memmove(a + m_bytes(n + 1, 0), a + m_bytes(n, 0), ESC_BYTES * e);
	memmove(a + M_HEAD + 2 * (n + 1), a + M_HEAD + 2 * n, n);
	put16(a + M_HEAD + 2 * n, (unsigned)code);
	put16(a + M_N, (unsigned)n + 1);
	/* at the base for now; then at ts */
	m_tags(a)[n] = 0;
	*slot = a;
	if (!n || !reg_set(slot, n, ts))
		return 0;
	/* undo: the array as it was, in a block one register larger */
	a = *slot;
	put16(a + M_N, (unsigned)n);
	memmove(a + M_HEAD + 2 * n, a + M_HEAD + 2 * (n + 1), n);
	memmove(a + m_bytes(n, 0), a + m_bytes(n + 1, 0), ESC_BYTES * e);
	return GW_ENOMEM;
}

/* The position of register code in the meter's array, or -1. */
static long meter_find(const unsigned char *a, long code)
{
	size_t n = a ? m_n(a) : 0;

	for (size_t i = 0; i < n; i++)
		if (get16(a + M_HEAD + 2 * i) == (unsigned)code)
			return (long)i;
	return -1;
}

int gw_clock_marks_check_at(struct gw_clock_marks *m, int meter, long code,
			    int64_t ts, int64_t window_ms, int64_t guard_ms)
{
	if (meter < 0 || (size_t)meter >= m->n_meter || code < 0 ||
	    (size_t)code >= m->n_codes)
		return GW_EINVAL;
	long i = meter_find(m->meter[meter], code);
	if (i < 0)
		return meter_add(&m->meter[meter], code, ts);
	int64_t newest = reg_newest(m->meter[meter], (size_t)i), was = newest;
	int set_aside = judge(&newest, ts, window_ms, guard_ms);
	if (newest != was && reg_set(&m->meter[meter], (size_t)i, newest))
		return GW_ENOMEM;
	return set_aside;
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
			unsigned char **nm, unsigned char *made, struct named *nt)
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
			size_t bytes = m_bytes(m_n(nm[at]), m_e(nm[at]));
			unsigned char *copy = malloc(bytes);
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
	unsigned char **nm = calloc(nn + 1, sizeof(*nm));
	unsigned char *made = calloc(nn + 1, 1);
	const char **name = code_names(m);
	struct named nt = {0};
	int rc = nm && made && name ? 0 : GW_ENOMEM;

	/* a meter's array follows its id, or goes by name */
	for (size_t i = 0; !rc && i < m->n_meter; i++) {
		unsigned char *a = m->meter[i];
		if (!a)
			continue;
		const char *id = old->meters[i].id;
		int at = meter_index(cfg, id);
		if (at >= 0) {
			nm[at] = a;
			continue;
		}
		for (size_t k = 0; !rc && k < m_n(a); k++)
			rc = named_add(&nt, id, name[get16(a + M_HEAD + 2 * k)],
				       reg_newest(a, k));
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
