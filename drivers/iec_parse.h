/* SPDX-License-Identifier: MIT */
/*
 * iec_parse.h - the IEC 62056-21 (IEC 1107) telegram parser: pure functions
 * over bytes, no I/O, no allocation, no global state (apart from the
 * process time zone that gw_iec_local_to_utc() reads through mktime).
 *
 * gw_iec_parse() splits what a meter sent (garbage, a sign-on echo, the
 * identification line, an STX..ETX block with its BCC, or bare push data)
 * into data sets "address(value*unit)(value)...". gw_iec_readings() turns
 * those into struct gw_reading: OBIS names normalised, energy in exact
 * integer Wh/varh/VAh, load profiles (P.01) into interval readings.
 * docs/iec62056-21.md describes the naming rules.
 */
#ifndef GW_IEC_PARSE_H
#define GW_IEC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event.h"
#include "reading.h"

#define GW_IEC_SOH 0x01
#define GW_IEC_STX 0x02
#define GW_IEC_ETX 0x03
#define GW_IEC_ACK 0x06
#define GW_IEC_NAK 0x15

#define GW_IEC_ADDR_MAX 33   /* device address: up to 32 characters + NUL */
#define GW_IEC_TEXT_MAX 48   /* one value's text (longer is truncated) */
#define GW_IEC_UNIT_MAX 16

/* How big a readout the gateway takes, in one place: the driver's receive
 * buffer, the parser's tables, the readings one read may return (the
 * driver's .max_readings, which gatewayd, gwctl read and the tests size
 * their buffers by) all follow from these. Sized for a readout a real
 * meter sends: a week of 15-minute load profile (672 rows) of 12 channels
 * (8064 values) plus a register list with a long billing history (up to
 * 1500 data sets of 2 values), with room to spare. A readout beyond them
 * is refused whole (GW_EFULL, counted as malformed), never cut and stored
 * in part. docs/iec62056-21.md ("How much a readout may hold"). */
#define GW_IEC_MAX_BYTES (512 * 1024) /* bytes of one telegram */
#define GW_IEC_MAX_SETS 12288        /* data lines (data sets and profile rows) */
#define GW_IEC_MAX_VALUES 16384      /* "(...)" groups per telegram */
#define GW_IEC_MAX_READINGS GW_IEC_MAX_VALUES /* readings of one read */

/* Why a telegram was rejected (gw_iec_telegram.reason). */
enum gw_iec_reason {
	GW_IEC_OK = 0,
	GW_IEC_NO_DATA,   /* nothing but garbage */
	GW_IEC_BAD_IDENT, /* a '/' line that is not "/XXXZ...CR LF" */
	GW_IEC_NO_STX,    /* a BCC-protected block was required */
	GW_IEC_NO_ETX,    /* STX but no ETX: the block was cut short */
	GW_IEC_NO_BCC,    /* ETX is the last byte: the BCC is missing */
	GW_IEC_BAD_BCC,   /* the BCC does not match the block */
	GW_IEC_NO_END,    /* push data without its '!' end line */
	GW_IEC_SYNTAX,    /* a data line is not address(value)...: see .error_at */
	GW_IEC_TOO_MANY,  /* more data sets or values than the limits above */
};

/* A static name for a reason ("bad BCC", ...). */
const char *gw_iec_reason_name(enum gw_iec_reason r);

/* The identification line "/XXXZ\W...Ident". */
struct gw_iec_ident {
	char manufacturer[4]; /* "LGZ", "ISk" */
	char baud_char;       /* Z as sent */
	char mode;            /* 'C' (Z is 0..9), 'B' (A..I) or 'A' (other) */
	int baud;             /* baud rate Z stands for; 0 if reserved/mode A */
	char enhanced[8];     /* the W of each "\W" sequence, in order */
	char model[40];       /* the rest; bytes outside 0x20..0x7e shown as '?' */
	bool fast;            /* lowercase third letter: 20 ms reaction time */
};

/* One "(...)" group: "value*unit" split at the first '*'. */
struct gw_iec_value {
	char text[GW_IEC_TEXT_MAX]; /* trimmed of blanks */
	char unit[GW_IEC_UNIT_MAX]; /* "" when there is no '*' or no unit */
	bool truncated;             /* longer than text[]: never a number */
};

struct gw_iec_dataset {
	char address[32];        /* as sent ("1-0:1.8.0*255"); "" for a
				  * load-profile row */
	char name[GW_OBIS_MAX];  /* normalised (gw_iec_name) */
	uint16_t first_value;    /* index into gw_iec_telegram.values */
	uint16_t n_values;
	int16_t billing;         /* billing period F, -1 for current values */
};

/* The meter's own clock, as data sets 0.9.1 (time) and 0.9.2 (date). */
struct gw_iec_clock {
	bool has_date, has_time;
	int year, month, day, hour, min, sec;
};

/* The result of gw_iec_parse(). Large (about 2 MB): allocate it. */
struct gw_iec_telegram {
	enum gw_iec_reason reason;
	size_t error_at;    /* byte offset of the problem, for messages */
	bool echo;          /* a sign-on echo "/?...!" was skipped */
	bool has_ident;
	struct gw_iec_ident ident;
	bool has_stx, has_etx, has_end; /* has_end: the '!' end line */
	bool bcc_checked;   /* STX..ETX BCC present and correct */
	uint8_t bcc_sent, bcc_calc;
	size_t garbage;     /* bytes skipped before the telegram */
	size_t used;        /* bytes consumed (through the BCC or '!') */
	struct gw_iec_clock clock;
	size_t n_sets, n_values;
	struct gw_iec_dataset sets[GW_IEC_MAX_SETS];
	struct gw_iec_value values[GW_IEC_MAX_VALUES];
};

/* Flags of gw_iec_parse(). */
#define GW_IEC_NEED_BCC 0x1 /* mode C readout: STX..ETX BCC required */
#define GW_IEC_NEED_END 0x2 /* push (mode D): the '!' end line required */

/* Parses buf[0..n) (the bytes as received, 7-bit or with bit 7 already
 * stripped) into *t, which it overwrites. Returns 0, GW_ECRC for a wrong
 * BCC (reason GW_IEC_BAD_BCC), GW_EFULL for GW_IEC_TOO_MANY or GW_EPROTO
 * for every other reason. On error t->n_sets is 0: a rejected block never
 * yields data sets. */
int gw_iec_parse(const uint8_t *buf, size_t n, unsigned flags,
		 struct gw_iec_telegram *t);

/* Parses an identification line without the leading '/' (s[0..n), without
 * CR LF). Returns 0 or GW_EPROTO. */
int gw_iec_parse_ident(const uint8_t *s, size_t n, struct gw_iec_ident *id);

/* The baud rate of a mode C baud character '0'..'6', or 0. */
int gw_iec_baud_of(char c);
/* The mode C baud character of a baud rate, or 0 if none. */
char gw_iec_baud_char(int baud);

/* XOR of p[0..n). */
uint8_t gw_iec_bcc(const uint8_t *p, size_t n);

/* Normalises a data-set address into name (cap >= GW_OBIS_MAX):
 * "1-0:1.8.0*255" and "1-1:1.8.0" -> "1.8.0" (medium 1, channel 0 or 1 is
 * the meter itself); "1-2:1.8.0" keeps its prefix; a billing-period
 * suffix "*NN" or "&NN" other than 255 becomes "*N" ("1.8.0*96",
 * "1.6.0*1") and *billing is N (else -1). Returns 0 or GW_EINVAL. */
int gw_iec_name(const char *address, char *name, size_t cap, int *billing);

/* Reads n two-digit numbers from s into out[0..n): "hhmmss" or
 * "hh:mm:ss", "YYMMDD" or "YY-MM-DD" (':' and '-' are skipped). Returns 0
 * or GW_EINVAL. */
int gw_iec_digits(const char *s, int *out, int n);

/* Parses a decimal "[blanks][+|-]digits[.digits][blanks]" into
 * *mantissa and *decimals (digits after the point). Returns 0 or
 * GW_EINVAL (also for more than 18 digits). */
int gw_iec_number(const char *s, int64_t *mantissa, int *decimals);

/* The meter's serial number, from the first current-value data set of
 * C.1.0 (manufacturer's serial), 96.1.0 (device id) or 0.0.0 (device
 * address), also with a "0-0:" prefix, in that order of preference, with
 * a non-empty value of at most cap - 1 printable characters. Returns 1
 * and fills buf, or 0. */
int gw_iec_serial(const struct gw_iec_telegram *t, char *buf, size_t cap);

/* Flags of gw_iec_readings(). */
#define GW_IEC_BILLING 0x1 /* also billing-period values ("1.8.0*96") */
#define GW_IEC_PROFILE 0x2 /* also load-profile (P.01) interval readings */

/* The prefix of a load-profile channel's series name: channel 1.5.0 of a
 * P.01 profile is the series "P.01:1.5.0", never the register "1.5.0"
 * that the same readout may carry. */
#define GW_IEC_PROFILE_PREFIX "P.01:"

/* Converts a parsed telegram into readings for meter_id: every data set
 * whose value is a number with a known unit, or without a unit where the
 * unit is known otherwise (the same register's current value, or an
 * energy register X.8.Y, whose unit is then kWh/kvarh/kVAh), or without a
 * unit on an electrical register (C 1..199 but 96..99, unit none).
 * Register readings have ts_ms 0. With GW_IEC_PROFILE a load profile's
 * channels of other units than energy (demand in W, var, VA; V, A...)
 * become readings "P.01:<channel>" with status GW_RS_PROFILE and the UTC
 * time of the end of their interval on the meter's clock (gw_iec_profile);
 * energy channels (cumulative C.8.E or per interval C.29.E) are not
 * readings: the batching core takes every energy series for a cumulative
 * register, and the register is read itself (they fill gaps instead,
 * iec_profile.h). A register name that occurs twice keeps its first value.
 * Returns the number of readings (at most cap) or GW_EFULL. */
int gw_iec_readings(const struct gw_iec_telegram *t, const char *meter_id,
		    unsigned flags, struct gw_reading *out, size_t cap);

/* Every load-profile (P.01) entry of the telegram, whatever its unit: one
 * reading per row and channel, obis the channel's normalised name without
 * prefix ("1.5.0"; the short form "1.5" of some meters becomes "1.5.0"),
 * ts_ms the end of its interval on the meter's clock as UTC (rows are
 * stamped header time + k * interval; the header time is "SYYMMDDhhmmss",
 * S the season: 0 winter, 1 summer time, local; 2 UTC), status
 * GW_RS_PROFILE. A telegram may hold several P.01 headers (a meter starts
 * a new one when its status or clock changes). *interval_ms gets the
 * interval of the last header (0 if none). Returns the number of entries
 * (at most cap) or GW_EFULL. */
int gw_iec_profile(const struct gw_iec_telegram *t, const char *meter_id,
		   struct gw_reading *out, size_t cap, int64_t *interval_ms);

/* The meter's local time (t->clock, or a load-profile time stamp) as UTC
 * milliseconds, through the process time zone; isdst -1 when unknown.
 * Returns 0 or GW_EINVAL. */
int gw_iec_local_to_utc(int year, int month, int day, int hour, int min,
			int sec, int isdst, int64_t *ms);


#endif
