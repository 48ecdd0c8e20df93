/* SPDX-License-Identifier: MIT */
/*
 * flight.h - the readings in flight between the poll workers and the
 * batching core, kept small: a reading is an 8-byte record (struct
 * gw_flight: value, code, scale, unit and status) instead of the 96-byte
 * struct gw_reading, and the meter and time it shares with the readings
 * beside it are said once, in a run (struct gw_frun, 16 bytes: a meter's
 * readings of one time, its registers of one read). At 23 registers a
 * meter that is 8.7 bytes a reading.
 *
 * A run names its meter by its number in the configuration, a record its
 * OBIS code by its number in a table of the codes seen (append-only, so
 * that a number stays valid while the queue lives). A value beyond 32 bits
 * is kept beside the records (struct gw_fwide, by the reading's number in
 * the cycle) and its record says so (GW_FLIGHT_WIDE). A reading that does
 * not fit a record is queued whole, in its place in the order, and counted:
 * a meter id that is not its meter's in the configuration (no driver makes
 * one today, a future one might), a unit or status beyond four bits, a code
 * when the table is full (GW_FLIGHT_CODES_MAX codes; a meter that sends a
 * new code in every readout could fill it). Nothing is dropped or renamed:
 * what is taken out is the reading that was put in, byte for byte in its
 * strings and fields (the bytes after a string's terminator are zero).
 *
 * A bus worker packs a poll cycle's readings into such records as it reads
 * them (struct gw_fcycle, gw_flightq_pack), so that no whole cycle of
 * 96-byte readings is ever held; the journal sink reads the cycle back a
 * chunk at a time (gw_fcycle_read), and the cycle is then handed to the
 * queue (gw_flightq_push_cycle): its memory becomes the queue's, not
 * copied, so that a cycle's records exist once; the queue frees each
 * cycle when it has all been taken, and holds nothing between cycles
 * but the cycles not yet taken. The worker packs its next cycle into
 * fresh memory (gw_fcycle_reserve again).
 *
 * The code table has a lock of its own: packing and reading a cycle take
 * only that one, so a worker never holds its owner's lock for them. The
 * queue itself has no lock: its owner (the scheduler) holds one around
 * gw_flightq_push_cycle, gw_flightq_take, gw_flightq_len
 * and gw_flightq_counts.
 */
#ifndef GW_FLIGHT_H
#define GW_FLIGHT_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "reading.h"

/* One queued reading: its value, or GW_FLIGHT_WIDE for one kept wide
 * (or, in a run of whole readings, its reading's number in the cycle's w). */
struct gw_flight {
	int32_t value;
	uint16_t code; /* index into the code table */
	int8_t scale;
	uint8_t kind; /* unit in the low four bits, status in the high four */
};

/* The records from first on, up to the next run's first (or the cycle's
 * end): readings of one meter with one time, or readings queued whole. */
struct gw_frun {
	int64_t ts_ms;
	uint32_t first;
	uint32_t meter; /* index into cfg->meters, or GW_FLIGHT_WHOLE */
};

/* A value that does not fit a record's 32 bits: reading i's. */
struct gw_fwide {
	int64_t value;
	size_t i;
};

/* A run whose records stand for readings queued whole. */
#define GW_FLIGHT_WHOLE UINT32_MAX
/* A record whose value is kept wide (so is a value that is this one). */
#define GW_FLIGHT_WIDE INT32_MIN
/* The code table's bound: a record's code is 16 bits. */
#define GW_FLIGHT_CODES_MAX 65536u

struct gw_flightq;

/* An empty queue for the meters of cfg (borrowed: it must outlive the
 * queue), with a code table of at most max_codes codes (at most
 * GW_FLIGHT_CODES_MAX; 0 means that). Returns NULL when out of memory.
 * Free with gw_flightq_free. */
struct gw_flightq *gw_flightq_new(const struct gw_config *cfg, size_t max_codes);
void gw_flightq_free(struct gw_flightq *q);

/* Moves the oldest queued readings, max at most, into out (room for max),
 * in the order they were queued, as whole readings; frees each cycle
 * all taken. Returns the number moved; 0 when the queue is empty. */
size_t gw_flightq_take(struct gw_flightq *q, struct gw_reading *out, size_t max);
/* The number of readings queued. */
size_t gw_flightq_len(const struct gw_flightq *q);

/* One poll cycle of one bus, as records in the order read, in runs (a
 * run whose meter is GW_FLIGHT_WHOLE stands for readings kept whole: its
 * records' values are their numbers in w), filled by its bus worker
 * alone. Start it as {0}; free with gw_fcycle_free. */
struct gw_fcycle {
	struct gw_flightq *q; /* whose code table names the records' codes */
	struct gw_flight *r;
	size_t n, cap;
	struct gw_frun *run; /* by their first record, ascending */
	size_t nrun, runcap;
	struct gw_fwide *wide; /* by their reading's number, ascending */
	size_t nwide, widecap;
	struct gw_reading *w; /* the readings that did not fit a record */
	size_t wn, wcap;
	unsigned long full, other; /* of them: the table full, another id */
};

/* Packs the n readings r of meter m (index into cfg->meters) onto the end
 * of cycle c (the code table's lock only). Returns 0, or GW_ENOMEM with
 * none of them added. */
int gw_flightq_pack(struct gw_flightq *q, struct gw_fcycle *c, int m,
		    const struct gw_reading *r, size_t n);
/* Makes room in c for n records in all, at once (a bus worker that knows
 * its cycle's size: the records then never grow past it unless more
 * come; its runs, a meter's read each, grow as they come). Returns 0,
 * or GW_ENOMEM (c unchanged). A cycle handed to the queue leaves c
 * without memory: reserve again for the next one. */
int gw_fcycle_reserve(struct gw_fcycle *c, size_t n);
/* Unpacks readings from, from + 1 ... of c into out, at most max. Returns
 * the number unpacked (0 past the end). */
size_t gw_fcycle_read(const struct gw_fcycle *c, size_t from,
		      struct gw_reading *out, size_t max);
/* Sets reading i's status (a record keeps four bits; a status beyond
 * them makes the reading whole). Returns 0 or GW_ENOMEM (unchanged). */
int gw_fcycle_set_status(struct gw_fcycle *c, size_t i, uint8_t status);
/* The number of readings in c. */
size_t gw_fcycle_len(const struct gw_fcycle *c);
/* A reading of a cycle by its numbers, for a reader that keys by them. */
struct gw_fkey {
	int64_t ts_ms;
	int meter;     /* index into cfg->meters */
	unsigned code; /* its number in the code table (gw_fcycle_code_name) */
	uint8_t status;
};
/* Reading i (< gw_fcycle_len) of c by its numbers into out: 1, or 0 for a
 * reading kept whole, which has none (read it with gw_fcycle_read). */
int gw_fcycle_key(const struct gw_fcycle *c, size_t i, struct gw_fkey *out);
/* The code numbered code in the table of c's records into out
 * (GW_OBIS_MAX bytes; the table's lock only). Returns 0, or GW_EINVAL
 * for a number the table has not given. */
int gw_fcycle_code_name(const struct gw_fcycle *c, unsigned code, char *out);
/* Empties c, keeping its memory. */
void gw_fcycle_clear(struct gw_fcycle *c);
void gw_fcycle_free(struct gw_fcycle *c);
/* Hands the readings of c to the queue, after every reading queued
 * before, and counts its whole ones: the queue takes over c's memory
 * (records and runs not filled, and values kept wide, handed back) and
 * frees it once they are all taken; c is then empty and holds no memory
 * (an empty c is left as it is). Returns 0, or GW_ENOMEM with none of
 * them queued (c unchanged). */
int gw_flightq_push_cycle(struct gw_flightq *q, struct gw_fcycle *c);

/* What the queue counted since it was made. */
struct gw_flight_counts {
	unsigned long whole;      /* readings queued whole, all reasons */
	unsigned long codes_full; /* of them: their code found the table full */
	unsigned long other_id;   /* of them: a meter id not their meter's */
	size_t codes;             /* codes in the table */
	size_t cycles;            /* cycles held, not all taken yet */
};
void gw_flightq_counts(struct gw_flightq *q, struct gw_flight_counts *out);

#endif
