/* SPDX-License-Identifier: MIT */
/*
 * iec_conf.c - the keys of iec62056-21 buses and of their meters, and how
 * they depend on each other (the mode decides the sign-on speed and the
 * timeouts; a pushing meter cannot be asked for its load profile).
 * docs/iec62056-21.md explains the protocol behind them.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "iec62056.h"
#include "iec_bus.h"

#define BUS(f) offsetof(struct gw_iec_bus_opts, f), \
	sizeof(((struct gw_iec_bus_opts *)0)->f)

static const struct gw_opt_choice modes[] = {
	{ "c", GW_IEC_MODE_C, 0 }, { "C", GW_IEC_MODE_C, 1 },
	{ "fixed", GW_IEC_MODE_FIXED, 0 },
	{ "d", GW_IEC_MODE_D, 0 }, { "D", GW_IEC_MODE_D, 1 }, { NULL, 0, 0 },
};

/* Every standard rate is accepted, so that a rate above the protocol's
 * fastest is named as such (bus_configure). */
static const struct gw_opt_choice bauds[] = {
	{ "300", 300, 0 }, { "600", 600, 0 }, { "1200", 1200, 0 },
	{ "2400", 2400, 0 }, { "4800", 4800, 0 }, { "9600", 9600, 0 },
	{ "19200", 19200, 0 }, { "38400", 38400, 0 }, { "57600", 57600, 0 },
	{ "115200", 115200, 0 }, { NULL, 0, 0 },
};

static const struct gw_opt_choice max_bauds[] = {
	{ "300", 300, 0 }, { "600", 600, 0 }, { "1200", 1200, 0 },
	{ "2400", 2400, 0 }, { "4800", 4800, 0 }, { "9600", 9600, 0 },
	{ "19200", 19200, 0 }, { NULL, 0, 0 },
};

static const struct gw_opt_choice framings[] = {
	{ "7E1", 0, 0 }, { "7e1", 0, 1 }, { "8N1", 1, 0 }, { "8n1", 1, 1 },
	{ NULL, 0, 0 },
};

enum { K_DEVICE, K_MODE, K_BAUD, K_MAX_BAUD, K_FRAMING, K_BILLING,
       K_MAX_CLOCK_DRIFT, K_BACKFILL_AFTER, K_PROFILE_WINDOW, K_TIMEOUT,
       K_BYTE_TIMEOUT };

/* In the order of the enum above. */
static const struct gw_opt bus_keys[] = {
	[K_DEVICE] = { .name = "device", .type = GW_OPT_STRING, BUS(device),
	  .flags = GW_OPT_REQUIRED,
	  .help = "the optical head's or RS-485 converter's port" },
	[K_MODE] = { .name = "mode", .type = GW_OPT_CHOICE, BUS(iec_mode),
	  .choices = modes, .def = "c",
	  .help = "`c`: sign-on at `baud`, then switch to the meter's speed (at "
		  "most `max_baud`); `fixed`: sign-on and readout at `baud`; `d`: "
		  "the meter pushes telegrams, the bus only listens" },
	[K_BAUD] = { .name = "baud", .type = GW_OPT_CHOICE, BUS(baud),
	  .choices = bauds, .doc_default = "300 (`c`), 9600 (`fixed`, `d`)",
	  .doc_range = "300 .. 19200",
	  .help = "sign-on speed (`c`), line speed (`fixed`, `d`)" },
	[K_MAX_BAUD] = { .name = "max_baud", .type = GW_OPT_CHOICE, BUS(max_baud),
	  .choices = max_bauds, .def = "19200",
	  .doc_range = "300, 600, 1200, 2400, 4800, 9600, 19200; at least `baud`",
	  .help = "the fastest speed mode `c` switches to" },
	[K_FRAMING] = { .name = "framing", .type = GW_OPT_CHOICE, BUS(iec_8n1),
	  .choices = framings, .def = "7E1",
	  .help = "`8N1`: for converters that only do 8N1; the parity bit is made "
		  "and stripped in software" },
	[K_BILLING] = { .name = "billing", .type = GW_OPT_BOOL, BUS(iec_billing),
	  .def = "no", .help = "also store billing-period values (`1.8.0*96`)" },
	[K_MAX_CLOCK_DRIFT] = { .name = "max_clock_drift", .type = GW_OPT_DURATION,
	  BUS(max_clock_drift_s), .min = 0, .max = 86400, .def = "2m",
	  .help = "a meter clock (0.9.1/0.9.2) further off than this is reported "
		  "as drifted (one `clock_drift` event; it counts as back in range "
		  "once within half of this); also how far after the gateway's time "
		  "a load-profile entry may lie (at least 1 minute)" },
	[K_BACKFILL_AFTER] = { .name = "backfill_after", .type = GW_OPT_DURATION,
	  BUS(iec_backfill_after_s), .min = 60, .max = 7 * 86400,
	  .flags = GW_OPT_OFF, .def = "off",
	  .doc_range = "`off`, `0`, 1m..7d; longer than `poll_interval`; not with "
		       "`mode = d`",
	  .help = "a meter that answers again after more than this without a good "
		  "read is asked for its load profile over the gap (programming "
		  "mode, `R5 P.01(start;end)`), which fills the gap's days "
		  "([iec62056-21.md](iec62056-21.md#filling-a-gap-from-the-meters-memory-backfill_after))" },
	[K_PROFILE_WINDOW] = { .name = "profile_window", .type = GW_OPT_DURATION,
	  BUS(iec_profile_window_s), .min = 3600, .max = 31 * 86400, .def = "7d",
	  .help = "load-profile entries older than this (after moving them by "
		  "the meter's clock offset) are refused and counted as "
		  "`dropped_bad_time`; also the longest gap asked for" },
	[K_TIMEOUT] = { .name = "timeout_ms", .type = GW_OPT_INT, BUS(timeout_ms),
	  .min = 10, .max = 60000,
	  .doc_default = "2000 (`c`, `fixed`), 10000 (`d`)",
	  .help = "first byte of an answer (the standard's tr is at most "
		  "1500 ms); `d`: the next push telegram" },
	[K_BYTE_TIMEOUT] = { .name = "byte_timeout_ms", .type = GW_OPT_INT,
	  BUS(byte_timeout_ms), .min = 1, .max = 10000, .def = "1500",
	  .help = "longest pause between characters (the standard's ta)" },
	{ 0 },
};

/* Checks and defaults that depend on several keys. */
static int iec_bus_configure(struct gw_bus_config *bus, const int *lines,
			     const struct gw_conf_ctx *ctx)
{
	struct gw_iec_bus_opts *o = bus->opts;
	const char *f = ctx->path;

	/* The standard's sign-on speed is 300 baud; fixed-speed and push
	 * lines mostly run at 9600. */
	if (!lines[K_BAUD])
		o->baud = o->iec_mode == GW_IEC_MODE_C ? 300 : 9600;
	if (o->baud > 19200)
		return gw_opt_error(f, bus->line,
				    "[bus %s]: baud %d is above 19200, the fastest IEC 62056-21 rate",
				    bus->name, o->baud);
	if (o->iec_mode == GW_IEC_MODE_C && o->max_baud < o->baud)
		return gw_opt_error(f, bus->line,
				    "[bus %s]: max_baud %d is below baud %d",
				    bus->name, o->max_baud, o->baud);
	/* A meter answers within 1500 ms (tr) and may pause 1500 ms between
	 * characters (ta); a push meter sends every few seconds. */
	if (!lines[K_TIMEOUT])
		o->timeout_ms = o->iec_mode == GW_IEC_MODE_D ? 10000 : 2000;
	if (o->iec_backfill_after_s &&
	    o->iec_backfill_after_s <= ctx->poll_interval_s)
		return gw_opt_error(f, bus->line,
				    "[bus %s]: backfill_after %d s is not longer than poll_interval %d s",
				    bus->name, o->iec_backfill_after_s,
				    ctx->poll_interval_s);
	/* A pushing meter cannot be asked for anything. */
	if (o->iec_mode == GW_IEC_MODE_D && o->iec_backfill_after_s)
		return gw_opt_error(f, bus->line,
				    "[bus %s]: backfill_after needs mode c or fixed (a mode d meter only pushes)",
				    bus->name);
	bus->max_clock_drift_s = o->max_clock_drift_s;
	return 0;
}

/* The meter options while the file is read: the raw address (key
 * `address`, or `unit` in the CSV list) and profile ("-"), checked by
 * iec_meter_configure. */
struct meter_keys {
	struct gw_iec_meter m;
	char raw[72];
	char profile[72];
};

enum { K_ADDRESS, K_UNIT, K_PROFILE };

/* Any text, also empty; checked once the meter is complete. */
static int parse_raw(const char *v, void *field, char *why, size_t cap)
{
	if (gw_strlcpy(field, v, 72)) {
		snprintf(why, cap, "'%.40s...' is too long", v);
		return GW_EINVAL;
	}
	return 0;
}

static const struct gw_opt meter_keys[] = {
	[K_ADDRESS] = { .name = "address", .type = GW_OPT_CUSTOM,
	  offsetof(struct meter_keys, raw), 72, .parse = parse_raw,
	  .doc_range = "up to 32 letters, digits, blanks; `-` for none",
	  .help = "the IEC 62056-21 device address (sign-on `/?ADDRESS!`; none: "
		  "`/?!`); unique per bus" },
	[K_UNIT] = { .name = "unit", .type = GW_OPT_CUSTOM,
	  offsetof(struct meter_keys, raw), 72, .parse = parse_raw,
	  .doc_range = "as `address`",
	  .help = "the same as `address` (the CSV list's `unit` column)" },
	[K_PROFILE] = { .name = "profile", .type = GW_OPT_CUSTOM,
	  offsetof(struct meter_keys, profile), 72, .parse = parse_raw,
	  .doc_range = "`-`", .help = "none: the meter says what it has" },
	{ 0 },
};

/* An address: 1..32 of 0-9 A-Z a-z and blanks; "" for none. */
static int valid_address(const char *s)
{
	size_t n = strlen(s);

	if (n > GW_IEC_ADDR_MAX - 1)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != ' ')
			return 0;
	return 1;
}

static int iec_meter_configure(struct gw_meter_config *m,
			       const struct gw_bus_config *bus, const int *lines,
			       const struct gw_conf_ctx *ctx)
{
	struct meter_keys *k = m->opts;
	const char *mf = m->source;
	int line = lines[K_ADDRESS] ? lines[K_ADDRESS] : lines[K_UNIT];
	const char *a = strcmp(k->raw, "-") == 0 ? "" : k->raw;
	(void)bus;

	if (!valid_address(a))
		return gw_opt_error(mf, line,
				    "meter %s: address '%s' is not up to 32 letters, digits or blanks ('-' for none)",
				    m->id, k->raw);
	gw_strlcpy(k->m.address, a, sizeof(k->m.address));
	if (lines[K_PROFILE] && strcmp(k->profile, "-") != 0)
		return gw_opt_error(mf, lines[K_PROFILE],
				    "meter %s: profile: a meter on an iec62056-21 bus has none ('-')",
				    m->id);
	*ctx->where_line = line;
	return 0;
}

static const char *iec_meter_where(const struct gw_meter_config *m,
				   const struct gw_bus_config *bus, char *buf,
				   size_t cap)
{
	const struct meter_keys *k = m->opts;

	if (k->m.address[0]) {
		_Static_assert(sizeof("address ''") - 1 + GW_IEC_ADDR_MAX <=
				       GW_WHERE_MAX,
			       "the longest address fits GW_WHERE_MAX");
		snprintf(buf, cap, "address '%s'", k->m.address);
	} else {
		/* No address: the sign-on is "/?!", which any one meter on
		 * the line answers; a push meter is not asked at all. */
		const struct gw_iec_bus_opts *b = bus ? bus->opts : NULL;

		gw_strlcpy(buf, b && b->iec_mode == GW_IEC_MODE_D
			   ? "no address (push, mode D)"
			   : "no address (mode C broadcast /?!)", cap);
	}
	return buf;
}

const struct gw_driver_ops gw_iec62056_driver = {
	.name = "iec62056-21",
	.bus_keys = bus_keys,
	.bus_opts_size = sizeof(struct gw_iec_bus_opts),
	.bus_configure = iec_bus_configure,
	.meter_keys = meter_keys,
	.meter_opts_size = sizeof(struct meter_keys),
	.meter_configure = iec_meter_configure,
	.where = iec_meter_where,
	.open = gw_iec_open,
	.read = gw_iec_read,
	.close = gw_iec_close,
	.max_readings = GW_IEC_MAX_READINGS,
};
