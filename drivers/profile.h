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
 *     min = 0                  ; physical range in `unit` (optional; defaults
 *     max = 1e9                ; per unit, "none" for no bound)
 *
 * Decoding (gw_profile_decode) turns registers into exact readings: energy
 * to integer Wh/varh/VAh, other quantities to an exact decimal. A value that
 * cannot be true (a float infinity, beyond the register's range or the
 * int64 limits) is refused, so that the caller reports it as a bad value.
 */
#ifndef GW_PROFILE_H
#define GW_PROFILE_H

#include <stddef.h>
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
	/* The register's physical range, in the reading's base unit (Wh, W,
	 * V ...; a file's "max = 5 kV" is 5000 here), bounds included; +-inf
	 * for "none". Only where has_min / has_max is set: otherwise the
	 * unit's default applies (gw_profile_range). */
	uint8_t has_min, has_max;
	double min, max;
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
/* The profile search path: directories separated by ':', searched in
 * order ("/etc/gatewayd/profiles:/usr/share/gatewayd/profiles"); NULL or
 * "" is the current directory. */
/* Loads "<dir>/<name>.prof" from the first directory of the search path
 * `dir` that has it; GW_ENOTFOUND if none has, GW_EINVAL for a name with
 * a '/'. */
int gw_profile_load_named(const char *dir, const char *name,
			  struct gw_profile **out);
/* The path of the (skip+1)-th "<dir>/<name>.prof" that exists along the
 * search path, into out: skip 0 is the one gw_profile_load_named loads,
 * skip 1 the one it hides, if any. 0, GW_ENOTFOUND, GW_EINVAL, or GW_EIO
 * (logged) for a directory it may not look into: a profile there would
 * hide the later ones, so none is taken. */
int gw_profile_locate(const char *path, const char *name, int skip,
		      char *out, size_t cap);
/* Calls fn(dir, arg) for each directory of the search path, in order,
 * until fn returns non-zero (returned). */
int gw_profile_dirs(const char *path, int (*fn)(const char *dir, void *arg),
		    void *arg);
/* Loads a profile from len bytes of buf (not NUL-terminated); `name` is
 * the file name used in messages and for the default profile name.
 * Otherwise as gw_profile_load. */
int gw_profile_parse_buffer(const char *name, const char *buf, size_t len,
			    struct gw_profile **out);
void gw_profile_free(struct gw_profile *p);

/* Decodes one register's raw 16-bit words (as they came off the wire, in
 * wire order) into out (meter_id and ts_ms are left to the caller).
 * Returns 0, GW_ENOTAVAIL for the "not available" sentinel or a NaN, or
 * GW_EINVAL for a value that does not fit an int64. */
int gw_profile_decode(const struct gw_profile_reg *r, const uint16_t *words,
		      struct gw_reading *out);
/* As gw_profile_decode; a value that cannot be true (a float infinity, a
 * value that does not fit an int64 after scaling, or one outside the
 * register's range) also returns GW_EINVAL, and then why (cap bytes, may
 * be NULL) says what was read, in the file's unit: "float32 +inf",
 * "1.5e+13 kWh, above max 1e+12 kWh". */
int gw_profile_decode_why(const struct gw_profile_reg *r, const uint16_t *words,
			  struct gw_reading *out, char *why, size_t cap);

/* " kWh": the register's unit as the file gives it, with a blank before
 * it, into buf; "" for a register without a unit. Returns buf. */
char *gw_profile_unit_text(const struct gw_profile_reg *r, char *buf, size_t cap);

/* The register's physical range in its base unit: min/max from the file,
 * else the unit's default (docs/profiles.md): energy +-1e15 Wh (varh, VAh),
 * power +-1e10 W (var, VA), voltage +-1e6 V, current +-1e6 A, frequency
 * 0..1000 Hz, none for a register without a unit. Unbounded ends are
 * -HUGE_VAL / +HUGE_VAL. */
void gw_profile_range(const struct gw_profile_reg *r, double *min, double *max);

/* The inverse, used by the simulator: encodes the quantity value *
 * 10^scale (in the reading's base unit) into the register's words. Returns
 * 0 or GW_EINVAL if it does not fit the type. */
int gw_profile_encode(const struct gw_profile_reg *r, int64_t value, int scale,
		      uint16_t *words);

#endif
