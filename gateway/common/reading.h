/* SPDX-License-Identifier: MIT */
/*
 * reading.h - one value read from one meter register, whatever protocol it
 * came from, and the units it can carry.
 *
 * A reading is (meter id, OBIS code, UTC timestamp, exact integer value,
 * decimal scale, unit, status). The real quantity is value * 10^scale unit.
 * Energy is always normalised by the driver to scale 0 in Wh, varh or VAh, so
 * that energy is an exact integer from meter to database.
 */
#ifndef GW_READING_H
#define GW_READING_H

#include <stdbool.h>
#include <stdint.h>

#include "gw.h"

enum gw_unit {
	GW_UNIT_NONE = 0,
	GW_UNIT_WH,   /* active energy (cumulative) */
	GW_UNIT_VARH, /* reactive energy (cumulative) */
	GW_UNIT_VAH,  /* apparent energy (cumulative) */
	GW_UNIT_W,
	GW_UNIT_VAR,
	GW_UNIT_VA,
	GW_UNIT_V,
	GW_UNIT_A,
	GW_UNIT_HZ,
	GW_UNIT_COUNT_ /* number of units, not a unit */
};

enum gw_reading_status {
	GW_RS_OK = 0,       /* read from the meter's register now */
	/* From the meter's own load profile (IEC 62056-21 P.01): a value the
	 * meter recorded at the end of one of its intervals, its time moved
	 * onto the gateway's clock. As good as a reading at that time. */
	GW_RS_PROFILE = 1,
	/* Derived, not read: a cumulative value the gateway built for a gap
	 * from the meter's load profile (interval demand scaled so that the
	 * gap adds up to the register's real change). The batching core never
	 * calls a midnight derived from it "measured". */
	GW_RS_DERIVED = 2,
	/* Set aside by the gateway, never put into days: read after the
	 * gateway's clock stepped back, stamped at or before a reading of the
	 * same register already taken (the time was lived through twice).
	 * Journaled for the record and counted (drops.h, clock_back). */
	GW_RS_CLOCK_BACK = 3,
};

struct gw_reading {
	char meter_id[GW_ID_MAX];
	char obis[GW_OBIS_MAX]; /* normalised "A.B.C" form, e.g. "1.8.0" */
	int64_t ts_ms;          /* UTC, milliseconds since the epoch */
	int64_t value;          /* quantity = value * 10^scale unit */
	int8_t scale;
	uint8_t unit;   /* enum gw_unit */
	uint8_t status; /* enum gw_reading_status */
};

/* Returns the unit's symbol ("Wh", "V", ...; "" for GW_UNIT_NONE). */
const char *gw_unit_name(enum gw_unit u);
/* Parses a unit symbol, also the scaled forms "kWh", "MWh", "kvarh", "kW",
 * "kV"...: *unit gets the base unit and *exp10 its power of ten (kWh -> Wh,
 * 3). Returns 0 or GW_EINVAL. */
int gw_unit_parse(const char *s, enum gw_unit *unit, int *exp10);
/* True for cumulative energy units (Wh, varh, VAh). */
bool gw_unit_is_energy(enum gw_unit u);

/* Formats value * 10^scale as an exact decimal ("1234.5", "-0.001") into
 * buf; returns buf. */
char *gw_format_decimal(int64_t value, int scale, char *buf, size_t cap);

#endif
