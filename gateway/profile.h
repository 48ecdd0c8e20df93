/* SPDX-License-Identifier: MIT */
/*
 * profile.h - Modbus meter profiles: register maps as data files, one per
 * meter model, so that a field engineer adds a meter model without a
 * compiler.
 *
 * A profile file is INI (see docs/profiles.md):
 *
 *     [profile]
 *     name = abb_b23
 *     description = ABB B23/B24 three-phase meter
 *     max_registers = 100      ; most registers one request may read
 *
 *     [register 1.8.0]
 *     function = 3             ; 3 holding, 4 input
 *     address = 0x5000         ; 0-based wire address
 *     type = uint64            ; int16 uint16 int32 uint32 int64 uint64
 *                              ; float32 float64
 *     order = ABCD             ; word/byte order: ABCD CDAB BADC DCBA
 *     scale = /100             ; divisor "/N" or power of ten "e-2", "e3"
 *     unit = kWh               ; unit of raw * scale
 *     na = 0xFFFFFFFFFFFFFFFF  ; raw value meaning "not available" (optional)
 *
 * Decoding (gw_profile_decode) turns registers into exact readings: energy
 * to integer Wh/varh/VAh, other quantities to an exact decimal.
 */
#ifndef GW_PROFILE_H
#define GW_PROFILE_H

#include <stdint.h>

#include "gw.h"
#include "reading.h"

enum gw_reg_type {
	GW_T_INT16,
	GW_T_UINT16,
	GW_T_INT32,
	GW_T_UINT32,
	GW_T_INT64,
	GW_T_UINT64,
	GW_T_FLOAT32,
	GW_T_FLOAT64,
};

enum gw_word_order {
	GW_ORDER_ABCD, /* big-endian, high word first */
	GW_ORDER_CDAB, /* low word first, bytes big-endian in each word */
	GW_ORDER_BADC, /* high word first, bytes swapped in each word */
	GW_ORDER_DCBA, /* little-endian */
};

struct gw_profile_reg {
	char obis[GW_OBIS_MAX];
	uint8_t function; /* 3 or 4 */
	uint16_t address; /* 0-based wire address */
	uint8_t type;     /* enum gw_reg_type */
	uint8_t order;    /* enum gw_word_order */
	int8_t exp10;     /* power-of-ten scale, from "e-2" or "/100" */
	uint32_t divisor; /* non-power-of-ten divisor, 1 if none */
	uint8_t unit;     /* enum gw_unit, base unit after the unit's prefix */
	int8_t unit_exp10;/* prefix of the file's unit: kWh -> 3 */
	int has_na;
	uint64_t na;      /* raw bits meaning "not available" */
	int line;         /* line in the profile file */
};

struct gw_profile {
	char name[GW_ID_MAX];
	char description[128];
	char path[GW_PATH_MAX];
	int max_registers; /* per request, 1..125 */
	int n_regs;
	struct gw_profile_reg *regs; /* sorted by function, then address */
};

/* Number of 16-bit registers a value of type t occupies (1, 2 or 4). */
int gw_reg_type_words(enum gw_reg_type t);

/* Loads and validates a profile file. On error reports "path:line: ..."
 * on stderr, returns GW_ECONFIG (GW_EIO if unreadable) and sets *out to
 * NULL. Free the profile with gw_profile_free(). */
int gw_profile_load(const char *path, struct gw_profile **out);
/* Loads "<dir>/<name>.prof". */
int gw_profile_load_named(const char *dir, const char *name,
			  struct gw_profile **out);
void gw_profile_free(struct gw_profile *p);

/* Decodes one register's raw 16-bit words (as they came off the wire, in
 * wire order) into out (meter_id and ts_ms are left to the caller).
 * Returns 0, GW_ENOTAVAIL for the "not available" sentinel or a NaN, or
 * GW_EINVAL for a value that does not fit an int64. */
int gw_profile_decode(const struct gw_profile_reg *r, const uint16_t *words,
		      struct gw_reading *out);

/* The inverse, used by the simulator: encodes the quantity value *
 * 10^scale (in the reading's base unit) into the register's words. Returns
 * 0 or GW_EINVAL if it does not fit the type. */
int gw_profile_encode(const struct gw_profile_reg *r, int64_t value, int scale,
		      uint16_t *words);

#endif
