/* SPDX-License-Identifier: MIT */
/*
 * journal_int.h - what journal.c (writing, replay, pruning) and
 * journal_read.c (reading segments) share and nothing else may use: the
 * journal's state and the segment reader's verdict. Callers use
 * journal.h.
 */
#ifndef GW_JOURNAL_INT_H
#define GW_JOURNAL_INT_H

#include <stddef.h>
#include <stdint.h>

#include "bytes.h"
#include "journal.h"

/* Segment versions: 1 wrote a cycle's readings out in full (GW_JREC_CYCLE,
 * about 35 bytes a reading); 2 packs them against the segment's earlier
 * cycles (GW_JREC_PACKED, journal_codec.c). The reader takes both. */
#define GW_JOURNAL_V1 1
#define GW_JREC_PACKED 3
/* The most readings one cycle record may hold (a bus of 10,000 meters
 * with 26 registers is 260,000): the reader allocates for no more. */
#define GW_JOURNAL_CYCLE_MAX (1u << 20)
/* The most series a segment's state may hold (the writer starts afresh
 * before it would pass it), so that no segment makes a reader hold more. */
#define GW_JOURNAL_SERIES_MAX (1u << 22)

/* One series of a segment (a meter's register) as the writer last wrote
 * it: what coding the next reading of it needs, and no more (8 bytes; the
 * writer keeps one per series of every bus, all day). Its meter is its
 * run's, its OBIS index, scale and unit its entry in its run's layout.
 * Its time is a word `tw` of 24 bits (little-endian): bit 0 clear, bits
 * 1-23 the time's difference to its run's base in ms (signed, within
 * about 70 minutes) and `value` its value; bit 0 set, bits 1-23 the index
 * of its escape slot, which holds its time, value, scale and unit (a
 * series whose time is far from its meter's others, whose value does not
 * fit 32 bits, or whose scale or unit is no longer its layout's). */
struct gw_jseries {
	int32_t value; /* in the slot when escaped */
	uint8_t tw[3];
	uint8_t status;
};

/* An entry of a layout: a series' OBIS index, scale and unit. */
struct gw_jlent {
	uint32_t obis;
	int8_t scale;
	uint8_t unit;
};

/* A layout: the entries of a run's series, in order. A run's meter has
 * the same registers with the same scales and units from one cycle to
 * the next, and every meter of one profile the same as the others, so a
 * bus's runs share a few layouts: the writer interns them (a hash of
 * their entries) and never changes one that is interned; the last run,
 * when it grows, takes a copy of its own (copy on write; the layout
 * itself when no other run has it), and a series whose scale or unit
 * changes goes to an escape slot. A layout lives as long as the
 * segment's state (gw_jcodec_reset and gw_jcodec_free free them all). */
struct gw_jlayout {
	uint32_t refs;  /* runs that use it */
	uint32_t n, cap; /* entries, room */
	uint32_t hash;  /* of its entries */
	uint32_t hnext; /* the next layout of its hash bucket, index + 1 */
	struct gw_jlent e[];
};

/* A layout's place in the codec's table: the layout, or when free the
 * next free place + 1. */
union gw_jlslot {
	struct gw_jlayout *l;
	uint32_t next;
};
/* A run's layout that is not interned yet: the codec's `open` one. */
#define GW_JLAY_OPEN UINT32_MAX

/* A run of the writer's series: consecutive ones of one meter (a meter's
 * registers are added together, in its first cycle), from `first` to the
 * next run's first. A meter's series are found along its runs' chain. */
struct gw_jrun {
	int64_t base;   /* the time its series' words count from */
	uint32_t first; /* its first series */
	uint32_t meter;
	uint32_t prev;  /* the same meter's run before it, + 1 (0: none) */
	uint32_t nfar;  /* its series whose time is too far from the base
			 * for a word (they are in escape slots) */
	uint32_t credit; /* its readings coded since its base moved (at most
			  * its length): a move costs its length */
	uint32_t layout; /* index into the codec's layouts, GW_JLAY_OPEN */
};

/* An escape slot: a series' full time, value, scale and unit; a free slot
 * holds the next free one + 1 in `next`. */
struct gw_jesc {
	int64_t ts, value;
	int8_t scale;
	uint8_t unit;
	uint32_t next;
};

/* One series as the reader keeps it while it reads a segment: all of it
 * spelt out (the reader looks nothing up and lives for one segment). */
struct gw_jrseries {
	int64_t value, ts;
	uint32_t meter, obis; /* indexes into the codec's name tables */
	int8_t scale;
	uint8_t unit, status;
};

/* A name of the codec's tables: its offset in the arena and, for a
 * meter, the writer's run added last (index + 1, 0: none). */
struct gw_jname {
	uint32_t off, last;
};

/* The packed-cycle codec's state for one segment: its series (the
 * writer's `s` or the reader's `rs`: a codec is only ever one of them),
 * their meter ids and OBIS codes (NUL-terminated in one arena, by
 * offset), and for the writer the runs, their layouts, the escape slots
 * and hash tables to find the names (index + 1, 0: empty; a series is
 * then found along its meter's runs) and the layouts. The writer trims
 * its arrays to what they hold after each record, so that a bus keeps
 * the size of its series, not of the growth that got there. Start it as
 * {.fresh = 1}; free with gw_jcodec_free(). */
struct gw_jcodec {
	struct gw_jseries *s;
	struct gw_jrseries *rs;
	uint32_t ns, scap;
	struct gw_jrun *run;
	uint32_t nr, rcap;
	struct gw_jesc *esc;
	uint32_t nesc, ecap, efree, elive; /* slots used, room, free list + 1,
					    * slots held */
	union gw_jlslot *lay; /* the interned layouts */
	uint32_t nlay, lcap, lfree, llive; /* places used, room, free list + 1,
					    * layouts held */
	uint32_t *lhash, lhcap; /* buckets: first layout + 1 */
	struct gw_jlayout *open; /* the last run's, not interned while the
				  * record that added to it is coded */
	char *arena;
	uint32_t alen, acap;
	struct gw_jname *meter;
	uint32_t nm, mcap;
	struct gw_jname *obis;
	uint32_t no, ocap;
	uint32_t *mhash, mhcap, *ohash, ohcap;
	uint8_t *raw; /* the reader's inflated body */
	size_t rawcap;
	void *zin;    /* the reader's inflate stream (z_stream) */
	int writer;
	int fresh; /* the next record starts the segment's state afresh */
};

/* What the reader hands records to, and what it counted. */
struct gw_jscan {
	gw_journal_cycle_fn cycle;
	gw_journal_event_fn event;
	void *ctx;
	struct gw_reading *rbuf; /* the reader's buffer; free with free() */
	size_t rcap;
	unsigned long cycles, readings, events, skipped;
	int version;            /* of the segment being read */
	struct gw_jcodec codec; /* its packed cycles' state (per segment) */
};

/* Forgets the segment's series: the next record written is a fresh one
 * (a new segment, or after a failed append, whose record the reader never
 * saw). */
void gw_jcodec_reset(struct gw_jcodec *c);
/* Frees what the codec holds; it is then as new ({.fresh = 1}). */
void gw_jcodec_free(struct gw_jcodec *c);
/* Appends the payload of a packed cycle record of n readings of `bus` to
 * out and updates the state. Returns 0, GW_EINVAL (more than
 * GW_JOURNAL_CYCLE_MAX readings) or GW_ENOMEM; after a failure the state
 * is fresh again. */
int gw_jcodec_encode(struct gw_jcodec *c, int bus, const struct gw_reading *r,
		     size_t n, struct gw_wbuf *out);
/* The same of the readings of src, read GW_JOURNAL_CHUNK at a time. */
int gw_jcodec_encode_src(struct gw_jcodec *c, int bus,
			 const struct gw_reading_src *src, struct gw_wbuf *out);
/* The zlib level and strategy of a record's deflated body: level 6 with
 * Z_RLE (runs only, what spool_compression = zlib-rle gives a batch
 * file). Against level 6 alone it takes 0.55-0.68 of the journal's CPU
 * per reading in buses of 200 meters, for 1.04-1.18 times the bytes
 * (0.54-1.42 bytes a reading; 1.84 at most in buses of 32;
 * docs/benchmarks.md, "The journal's deflate level").
 * Any level reads back: the reader inflates what it finds, and journals
 * written at level 6 read as before. */
#define GW_JOURNAL_ZLEVEL 6
#define GW_JOURNAL_ZSTRATEGY Z_RLE /* zlib.h's */

/* Sets the deflate level (1-9) and strategy (a zlib Z_* strategy) of the
 * records every writer codes from now on; GW_JOURNAL_ZLEVEL and
 * GW_JOURNAL_ZSTRATEGY until it is called. For benches and tests that set
 * levels side by side; gatewayd never calls it. Returns 0, or GW_EINVAL
 * for a level or strategy zlib does not have. */
int gw_jcodec_set_deflate(int level, int strategy);
/* A source over an array (ctx: a struct gw_reading_array). */
struct gw_reading_array {
	const struct gw_reading *r;
};
size_t gw_reading_array_read(void *ctx, size_t from, struct gw_reading *out,
			     size_t max);
/* The next chunk of src from `from` into chunk (room for GW_JOURNAL_CHUNK):
 * how many, 0 at the end, or -1 when src gave fewer than it said. */
long gw_reading_src_chunk(const struct gw_reading_src *src, size_t from,
			  struct gw_reading *chunk);
/* Decodes a packed cycle record's payload (p, len) into sc->rbuf (grown
 * as needed): *bus and *n. Returns 0, -1 if it does not decode, -2 when
 * out of memory. */
int gw_jcodec_decode(struct gw_jcodec *c, const uint8_t *p, size_t len,
		     struct gw_jscan *sc, int *bus, size_t *n);
/* Appends the payload of a version-1 cycle record (what gateways before
 * segment version 2 wrote; for tests and benches). 0, GW_EINVAL or
 * GW_ENOMEM. */
int gw_journal_v1_cycle(int bus, const struct gw_reading *r, size_t n,
			struct gw_wbuf *out);

/* What replay must do with a segment that is not whole. */
enum gw_jfix {
	GW_JFIX_NONE,     /* whole */
	GW_JFIX_CUT,      /* cut at good_len (removed if good_len < the
			   * header): what a crash or power loss leaves */
	GW_JFIX_SET_ASIDE /* not a segment of ours (bad magic) or of a newer
			   * version: moved to quarantine/, not replayed */
};

struct gw_jverdict {
	const char *why;   /* "" when whole */
	uint64_t good_len; /* bytes up to the end of the last good record */
	enum gw_jfix fix;
};

/* Opens path and reads it, handing each good record to sc's callbacks.
 * Returns 0 if whole, GW_ECORRUPT or GW_EVERSION (v says why and what to
 * do), GW_ENOTFOUND if it does not exist, GW_EIO, GW_ENOMEM, or 0 with
 * *cbrc set when a callback stopped it. */
int gw_journal_scan_file(const char *path, struct gw_jscan *sc,
			 struct gw_jverdict *v, int *cbrc);

#endif
