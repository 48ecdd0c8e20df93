/* SPDX-License-Identifier: MIT */
/*
 * test_iec_parse.c - the IEC 62056-21 parser against every telegram
 * captured from real meters (tests/unit/files/iec62056-21/, copied from
 * realdata/iec62056-21 with their source line): a correct telegram parses
 * to exactly the registers written out by hand below; a broken one is
 * rejected with the right reason and yields nothing. Then the pieces:
 * names, numbers, energy rounding, framing errors, clock, load profiles.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "iec_parse.h"
#include "iec_profile.h"
#include "tz.h"

#define DIR_FILES "tests/unit/files/iec62056-21"
#define DIR_REAL "../shared/realdata/iec62056-21"

struct want {
	const char *obis;
	int64_t value;
	int scale;
	enum gw_unit unit;
	const char *ts; /* UTC time of a load-profile reading, or NULL */
};

static uint8_t buf[GW_IEC_MAX_BYTES];
static struct gw_iec_telegram tg;
static struct gw_reading rd[GW_IEC_MAX_READINGS];

/* Reads a file and strips its first line ("# source: ..."). */
static size_t load(const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", DIR_FILES, name);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	uint8_t *lf = memchr(buf, '\n', n);
	assert_non_null(lf);
	size_t skip = (size_t)(lf - buf) + 1;
	memmove(buf, buf + skip, n - skip);
	return n - skip;
}

static void expect_readings(const struct want *w, size_t nw, unsigned flags)
{
	int n = gw_iec_readings(&tg, "m1", flags, rd, 4096);
	for (int i = 0; i < n && i < (int)nw; i++) {
		if (strcmp(rd[i].obis, w[i].obis) != 0 || rd[i].value != w[i].value ||
		    rd[i].scale != w[i].scale || rd[i].unit != w[i].unit) {
			print_error("reading %d: got %s %lld e%d %s, want %s %lld e%d %s\n", i,
				    rd[i].obis, (long long)rd[i].value, rd[i].scale,
				    gw_unit_name(rd[i].unit), w[i].obis, (long long)w[i].value,
				    w[i].scale, gw_unit_name(w[i].unit));
			fail();
		}
		assert_string_equal(rd[i].meter_id, "m1");
		if (w[i].ts) {
			char t[40];
			assert_string_equal(gw_format_utc(rd[i].ts_ms, t, sizeof(t)), w[i].ts);
		} else {
			assert_int_equal(rd[i].ts_ms, 0);
		}
	}
	assert_int_equal(n, (int)nw);
}

#define WH GW_UNIT_WH
#define VARH GW_UNIT_VARH
#define W GW_UNIT_W
#define VAR GW_UNIT_VAR
#define V GW_UNIT_V
#define A GW_UNIT_A
#define HZ GW_UNIT_HZ
#define NONE GW_UNIT_NONE
#define ALL (GW_IEC_BILLING | GW_IEC_PROFILE)
#define N(a) (sizeof(a) / sizeof(a[0]))

/* ------------------------------------------------------------------ */
/* One test per captured telegram                                     */

static void iskra_mt174(void **state)
{
	(void)state;
	size_t n = load("iskra_mt174.txt");
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_BCC, &tg), 0);
	assert_true(tg.has_ident);
	assert_string_equal(tg.ident.manufacturer, "ISk");
	assert_true(tg.ident.fast); /* lowercase k: 20 ms reaction time */
	assert_int_equal(tg.ident.baud, 9600);
	assert_string_equal(tg.ident.model, "MT174-0002");
	assert_true(tg.bcc_checked);
	assert_int_equal(tg.bcc_sent, 0x19);
	assert_true(tg.has_end);
	assert_int_equal(tg.n_sets, 4);
	assert_true(tg.clock.has_date && tg.clock.has_time);
	assert_int_equal(tg.clock.year, 2022);
	assert_int_equal(tg.clock.month, 1);
	assert_int_equal(tg.clock.day, 27);
	assert_int_equal(tg.clock.hour, 10);
	assert_int_equal(tg.clock.min, 56);
	assert_int_equal(tg.clock.sec, 44);
	static const struct want w[] = {
		{"1.8.0", 502853, 0, WH, NULL},   /* 0000502.853 kWh */
		{"2.8.0", 98697318, 0, WH, NULL}, /* 0098697.318 kWh */
	};
	expect_readings(w, N(w), ALL);
}

static void landisgyr_lgz_frame(void **state)
{
	(void)state;
	size_t n = load("landisgyr_lgz_1-1_frame.txt");
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_BCC, &tg), 0);
	assert_true(tg.bcc_checked);
	assert_int_equal(tg.bcc_sent, 0x0A); /* a BCC that is LF */
	assert_int_equal(tg.n_sets, 173);
	assert_string_equal(tg.sets[0].address, "1-1:F.F");
	assert_string_equal(tg.sets[0].name, "F.F");
	assert_int_equal(tg.clock.year, 2021);
	assert_int_equal(tg.clock.hour, 18);
	/* Billing values "*01" are named "*1"; the fifteen empty "*00"
	 * slots of each register give one reading "*0" (the first). */
	static const struct want w[] = {
		{"1.5.0", 30, 0, W, NULL},        {"1.6.0", 10102, 0, W, NULL},
		{"1.6.0*1", 6130, 0, W, NULL},    {"1.6.0*0", 0, 0, W, NULL},
		{"1.8.0", 94500, 0, WH, NULL},    {"1.8.0*1", 10200, 0, WH, NULL},
		{"1.8.0*0", 0, 0, WH, NULL},      {"2.5.0", 0, 0, W, NULL},
		{"2.6.0", 9293, 0, W, NULL},      {"2.6.0*1", 9301, 0, W, NULL},
		{"2.6.0*0", 0, 0, W, NULL},       {"2.8.0", 293900, 0, WH, NULL},
		{"2.8.0*1", 106800, 0, WH, NULL}, {"2.8.0*0", 0, 0, WH, NULL},
		{"5.8.0", 1100, 0, VARH, NULL},   {"5.8.0*1", 1100, 0, VARH, NULL},
		{"5.8.0*0", 0, 0, VARH, NULL},    {"6.8.0", 300, 0, VARH, NULL},
		{"6.8.0*1", 300, 0, VARH, NULL},  {"6.8.0*0", 0, 0, VARH, NULL},
		{"7.8.0", 36800, 0, VARH, NULL},  {"7.8.0*1", 8800, 0, VARH, NULL},
		{"7.8.0*0", 0, 0, VARH, NULL},    {"8.8.0", 158800, 0, VARH, NULL},
		{"8.8.0*1", 29500, 0, VARH, NULL}, {"8.8.0*0", 0, 0, VARH, NULL},
		{"32.7.0", 2352, -1, V, NULL},    {"52.7.0", 2350, -1, V, NULL},
		{"72.7.0", 2376, -1, V, NULL},    {"31.7.0", 354, -2, A, NULL},
		{"51.7.0", 763, -2, A, NULL},     {"71.7.0", 381, -2, A, NULL},
		{"36.7.0", -820, 0, W, NULL},     {"56.7.0", 1670, 0, W, NULL},
		{"76.7.0", -810, 0, W, NULL},     {"16.7.0", 30, 0, W, NULL},
		{"151.7.0", -50, 0, VAR, NULL},   {"171.7.0", -510, 0, VAR, NULL},
		{"191.7.0", -370, 0, VAR, NULL},  {"131.7.0", -950, 0, VAR, NULL},
		{"0.5.1.2", 80000, 0, W, NULL},
	};
	expect_readings(w, N(w), ALL);
	/* Without GW_IEC_BILLING: current values only. */
	assert_int_equal(gw_iec_readings(&tg, "m1", 0, rd, 4096), 41 - 16);
}

static void logarex_lk13(void **state)
{
	(void)state;
	size_t n = load("logarex_lk13.txt");
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_BCC, &tg), 0);
	assert_int_equal(tg.bcc_sent, 0x67);
	assert_int_equal(tg.n_sets, 24);
	static const struct want w[] = {
		{"1.8.0", 15882693, 0, WH, NULL}, /* 015882.6927 kWh, rounded */
		{"2.8.0", 219488, 0, WH, NULL},   /* 000219.4882 kWh */
		{"16.7.0", 28, 0, W, NULL},       {"32.7.0", 2352, -1, V, NULL},
		{"52.7.0", 2358, -1, V, NULL},    {"72.7.0", 2371, -1, V, NULL},
		{"31.7.0", 90, -2, A, NULL},      {"51.7.0", 228, -2, A, NULL},
		{"71.7.0", 185, -2, A, NULL},     {"14.7.0", 499, -1, HZ, NULL},
		{"1.8.0*96", 19300, 0, WH, NULL}, {"1.8.0*97", 158700, 0, WH, NULL},
		{"1.8.0*98", 1074700, 0, WH, NULL}, {"1.8.0*99", 9027400, 0, WH, NULL},
		{"1.8.0*100", 15882600, 0, WH, NULL},
	};
	expect_readings(w, N(w), ALL);
}

static void actaris_bad_bcc(void **state)
{
	(void)state;
	size_t n = load("actaris_ace3000_260.txt");
	assert_int_equal(gw_iec_parse(buf, n, 0, &tg), GW_ECRC);
	assert_int_equal(tg.reason, GW_IEC_BAD_BCC);
	assert_int_equal(tg.bcc_sent, 0x46);
	assert_int_equal(tg.bcc_calc, 0x4D);
	assert_true(tg.echo);            /* "/?!" echoed after 0x7f garbage */
	assert_int_equal(tg.garbage, 5);
	assert_string_equal(tg.ident.manufacturer, "ACE");
	assert_int_equal(tg.ident.baud, 300);
	assert_string_equal(tg.ident.enhanced, "3");
	assert_string_equal(tg.ident.model, "k260V01.19");
	assert_int_equal(tg.n_sets, 0); /* never half-stored */
	assert_int_equal(gw_iec_readings(&tg, "m1", ALL, rd, 4096), 0);
}

static void itron_no_etx(void **state)
{
	(void)state;
	size_t n = load("itron_em214.txt");
	assert_int_equal(gw_iec_parse(buf, n, 0, &tg), GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_NO_ETX);
	assert_true(tg.echo);
	assert_string_equal(tg.ident.manufacturer, "ITR");
	assert_int_equal(tg.n_sets, 0);
	/* The same data as push data (mode D, no STX) would be read; with
	 * the STX it promised a BCC it did not send. */
	uint8_t *stx = memchr(buf, GW_IEC_STX, n);
	assert_non_null(stx);
	*stx = '\n';
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_END, &tg), 0);
	static const struct want w[] = {
		{"1.7.0", 490, 0, W, NULL},         {"2.7.0", 0, 0, W, NULL},
		{"1.8.1", 22108700, 0, WH, NULL},   {"1.8.2", 0, 0, WH, NULL},
		{"2.8.1", 10452000, 0, WH, NULL},   {"2.8.2", 0, 0, WH, NULL},
		{"31.7.0", 8, -1, A, NULL},         {"51.7.0", 7, -1, A, NULL},
		{"71.7.0", 12, -1, A, NULL},
		{"C.6.3", 378, -2, V, NULL}, /* battery voltage: a known unit */
	};
	expect_readings(w, N(w), ALL);
}

static void landisgyr_zmd120ap(void **state)
{
	(void)state;
	size_t n = load("landisgyr_zmd120ap.txt");
	/* push style: no STX, ends with "!" and nothing after it */
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_END, &tg), 0);
	assert_true(tg.echo);
	assert_string_equal(tg.ident.manufacturer, "LGZ");
	assert_int_equal(tg.ident.baud, 9600);
	assert_string_equal(tg.ident.model, "2ZMD120APt.G03");
	assert_int_equal(tg.n_sets, 8);
	static const struct want w[] = {
		{"1.8.1", 1846000, 0, WH, NULL}, {"1.8.2", 0, 0, WH, NULL},
		{"2.8.1", 4329600, 0, WH, NULL}, {"2.8.2", 0, 0, WH, NULL},
		{"1.8.0", 1846000, 0, WH, NULL}, {"2.8.0", 4329600, 0, WH, NULL},
	};
	expect_readings(w, N(w), ALL);
	/* A mode C readout needs the BCC-protected block. */
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_BCC, &tg), GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_NO_STX);
}

static void hager_push(void **state)
{
	(void)state;
	size_t n = load("hager_ehz010c.txt");
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_END, &tg), 0);
	assert_string_equal(tg.ident.manufacturer, "HAG");
	assert_string_equal(tg.ident.model, "eHZ010C_EHZ1vA02");
	assert_true(tg.has_end); /* "!" LF */
	/* no unit sent: electrical registers, unit none */
	static const struct want w[] = {
		{"1.7.0", 12964, -4, NONE, NULL},
		{"1.9.0", 12965, -4, NONE, NULL},
	};
	expect_readings(w, N(w), ALL);
}

static void emh_p98_logbook(void **state)
{
	(void)state;
	size_t n = load("emh_lzqj_p98.txt");
	assert_int_equal(gw_iec_parse(buf, n, 0, &tg), 0);
	assert_string_equal(tg.ident.manufacturer, "EMH");
	assert_string_equal(tg.ident.enhanced, "@");
	assert_string_equal(tg.ident.model, "?LZQJL0013F"); /* byte 0x81 */
	assert_int_equal(tg.n_sets, 5);
	assert_string_equal(tg.sets[1].name, "P.98");
	assert_int_equal(tg.sets[1].n_values, 4);
	assert_string_equal(tg.values[tg.sets[1].first_value + 1].text, "00002000");
	/* a logbook and a serial number: no readings */
	expect_readings(NULL, 0, ALL);
	/* a fragment without "!" is no complete push telegram */
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_END, &tg), GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_NO_END);
}

static void emh_p01_profile(void **state)
{
	(void)state;
	size_t n = load("emh_p01_loadprofile.txt");
	assert_int_equal(gw_iec_parse(buf, n, 0, &tg), 0);
	assert_int_equal(tg.n_sets, 3);
	/* 1220823161500: season 1 (summer), 2022-08-23 16:15:00 local; in
	 * Europe/Berlin that is 14:15 UTC; one row per 15 minutes */
	static const struct want w[] = {
		{"P.01:1.5.0", 18374, -2, W, "2022-08-23T14:15:00.000Z"},
		{"P.01:2.5.0", 78, -2, W, "2022-08-23T14:15:00.000Z"},
		{"P.01:5.5.0", 0, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"P.01:6.5.0", 6, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"P.01:7.5.0", 87, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"P.01:8.5.0", 2431, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"P.01:1.5.0", 16832, -2, W, "2022-08-23T14:30:00.000Z"},
		{"P.01:2.5.0", 0, -2, W, "2022-08-23T14:30:00.000Z"},
		{"P.01:5.5.0", 0, -2, VAR, "2022-08-23T14:30:00.000Z"},
		{"P.01:6.5.0", 0, -2, VAR, "2022-08-23T14:30:00.000Z"},
		{"P.01:7.5.0", 0, -2, VAR, "2022-08-23T14:30:00.000Z"},
		{"P.01:8.5.0", 2686, -2, VAR, "2022-08-23T14:30:00.000Z"},
	};
	expect_readings(w, N(w), ALL);
	/* without GW_IEC_PROFILE: nothing */
	assert_int_equal(gw_iec_readings(&tg, "m1", 0, rd, 4096), 0);
}

static void metcom_p01_profile(void **state)
{
	(void)state;
	size_t n = load("metcom_p01_loadprofile.txt");
	assert_int_equal(gw_iec_parse(buf, n, 0, &tg), 0);
	assert_int_equal(tg.n_sets, 5);
	static const struct want w[] = {
		{"P.01:1.5.0", 0, -2, W, "2022-08-23T13:00:00.000Z"},
		{"P.01:2.5.0", 12683, -2, W, "2022-08-23T13:00:00.000Z"},
		{"P.01:5.5.0", 0, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"P.01:6.5.0", 11411, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"P.01:7.5.0", 0, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"P.01:8.5.0", 0, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"P.01:1.5.0", 28, -2, W, "2022-08-23T13:15:00.000Z"},
		{"P.01:2.5.0", 6188, -2, W, "2022-08-23T13:15:00.000Z"},
		{"P.01:5.5.0", 59, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"P.01:6.5.0", 7409, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"P.01:7.5.0", 0, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"P.01:8.5.0", 0, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"P.01:1.5.0", 0, -2, W, "2022-08-23T13:30:00.000Z"},
		{"P.01:2.5.0", 11250, -2, W, "2022-08-23T13:30:00.000Z"},
		{"P.01:5.5.0", 0, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"P.01:6.5.0", 11677, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"P.01:7.5.0", 0, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"P.01:8.5.0", 0, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"P.01:1.5.0", 6, -2, W, "2022-08-23T13:45:00.000Z"},
		{"P.01:2.5.0", 4656, -2, W, "2022-08-23T13:45:00.000Z"},
		{"P.01:5.5.0", 82, -2, VAR, "2022-08-23T13:45:00.000Z"},
		{"P.01:6.5.0", 9270, -2, VAR, "2022-08-23T13:45:00.000Z"},
		{"P.01:7.5.0", 0, -2, VAR, "2022-08-23T13:45:00.000Z"},
		{"P.01:8.5.0", 0, -2, VAR, "2022-08-23T13:45:00.000Z"},
	};
	expect_readings(w, N(w), ALL);
}

static void metcom_table1(void **state)
{
	(void)state;
	size_t n = load("metcom_mcs_table1.txt");
	assert_int_equal(gw_iec_parse(buf, n, 0, &tg), 0);
	assert_int_equal(tg.n_sets, 19);
	assert_true(tg.clock.has_date && tg.clock.has_time);
	assert_int_equal(tg.clock.year, 2022);
	assert_int_equal(tg.clock.month, 11);
	assert_int_equal(tg.clock.day, 13);
	assert_int_equal(tg.clock.hour, 20);
	assert_int_equal(tg.clock.min, 24);
	assert_int_equal(tg.clock.sec, 5);
	/* value and time stamp on one line: the value is the reading */
	assert_string_equal(tg.values[tg.sets[10].first_value + 1].text, "2211120730");
	static const struct want w[] = {
		{"1.6.1", 50262, -2, W, NULL},    {"1.6.1*12", 39912, -2, W, NULL},
		{"1.6.1*11", 74906, -2, W, NULL}, {"1.6.1*10", 49578, -2, W, NULL},
		{"2.6.1", 0, -2, W, NULL},        {"2.6.1*12", 0, -2, W, NULL},
		{"2.6.1*11", 0, -2, W, NULL},     {"2.6.1*10", 0, -2, W, NULL},
		{"1.8.0", 1281660, 0, WH, NULL},  /* 01281.6601 kWh, rounded */
	};
	expect_readings(w, N(w), ALL);
}

static void siemens_heat(void **state)
{
	(void)state;
	size_t n = load("siemens_2wr5_heatmeter.txt");
	assert_int_equal(gw_iec_parse(buf, n, GW_IEC_NEED_END, &tg), 0);
	assert_string_equal(tg.ident.manufacturer, "SIE");
	assert_int_equal(tg.ident.baud, 2400);
	assert_int_equal(tg.n_sets, 50); /* many data sets per line */
	assert_string_equal(tg.sets[49].address, "0.0");
	/* m3, h, C, "&" sub-values: data sets, not readings */
	static const struct want w[] = {
		{"6.8", 29055000, 0, WH, NULL},   /* 0029.055 MWh */
		{"6.8*1", 28086000, 0, WH, NULL},
		{"6.6", 17200, 0, W, NULL},       {"6.6*1", 17200, 0, W, NULL},
	};
	expect_readings(w, N(w), ALL);
}

/* Every captured file has a test above, also files added later. */
/* The meter's serial number, from the captured telegrams that carry one
 * (and none from those that do not). */
static void serial_numbers(void **state)
{
	static const struct {
		const char *file, *serial;
	} cases[] = {
		{"landisgyr_lgz_1-1_frame.txt", "001LGZ0056859504"}, /* 1-1:0.0.0 */
		{"logarex_lk13.txt", "001LOG0065282495"},            /* 1-0:96.1.0*255 */
		{"metcom_mcs_table1.txt", "10067967"},                /* 0.0.0 */
		{"landisgyr_zmd120ap.txt", "20000"},                  /* "( 20000)" */
		{"emh_lzqj_p98.txt", "23456321"},
		{"iskra_mt174.txt", NULL},
		{"hager_ehz010c.txt", NULL},
	};
	char serial[GW_SERIAL_MAX];

	(void)state;
	for (size_t i = 0; i < N(cases); i++) {
		size_t n = load(cases[i].file);
		assert_int_equal(gw_iec_parse(buf, n, 0, &tg), 0);
		int got = gw_iec_serial(&tg, serial, sizeof(serial));
		if (got != (cases[i].serial != NULL))
			print_error("%s: gw_iec_serial returned %d\n", cases[i].file, got);
		assert_int_equal(got, cases[i].serial != NULL);
		if (cases[i].serial)
			assert_string_equal(serial, cases[i].serial);
	}
	/* C.1.0 wins over 0.0.0; a billing-period value never counts; a
	 * serial longer than the buffer is not cut to fit */
	static const char t1[] = "0.0.0(111)\r\nC.1.0(AB-222)\r\n!\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)t1, sizeof(t1) - 1, 0, &tg), 0);
	assert_int_equal(gw_iec_serial(&tg, serial, sizeof(serial)), 1);
	assert_string_equal(serial, "AB-222");
	static const char t2[] = "C.1.0*01(OLD)\r\n0.0.0(12345678901)\r\n!\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)t2, sizeof(t2) - 1, 0, &tg), 0);
	assert_int_equal(gw_iec_serial(&tg, serial, 8), 0);
	assert_int_equal(gw_iec_serial(&tg, serial, sizeof(serial)), 1);
	assert_string_equal(serial, "12345678901");
	/* the abstract-medium form of the device id */
	static const char t3[] = "0-0:96.1.0*255(1ESY1160123456)\r\n1-0:1.8.0*255(000001.0*kWh)\r\n!\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)t3, sizeof(t3) - 1, 0, &tg), 0);
	assert_int_equal(gw_iec_serial(&tg, serial, sizeof(serial)), 1);
	assert_string_equal(serial, "1ESY1160123456");
}

static void every_file_covered(void **state)
{
	static const char *const covered[] = {
		"actaris_ace3000_260.txt", "emh_lzqj_p98.txt", "emh_p01_loadprofile.txt",
		"hager_ehz010c.txt", "iskra_mt174.txt", "itron_em214.txt",
		"landisgyr_lgz_1-1_frame.txt", "landisgyr_zmd120ap.txt",
		"logarex_lk13.txt", "metcom_mcs_table1.txt",
		"metcom_p01_loadprofile.txt", "siemens_2wr5_heatmeter.txt",
	};
	const char *dirs[] = {DIR_FILES, DIR_REAL};
	(void)state;
	for (int d = 0; d < 2; d++) {
		DIR *dir = opendir(dirs[d]);
		struct dirent *e;
		if (!dir) {
			assert_int_equal(d, 1); /* realdata may be absent */
			continue;
		}
		while ((e = readdir(dir))) {
			if (e->d_name[0] == '.')
				continue;
			int found = 0;
			for (size_t i = 0; i < N(covered); i++)
				found |= strcmp(covered[i], e->d_name) == 0;
			if (!found) {
				print_error("%s/%s has no test\n", dirs[d], e->d_name);
				fail();
			}
		}
		closedir(dir);
	}
}

/* ------------------------------------------------------------------ */
/* The pieces                                                         */

static void names(void **state)
{
	char nm[GW_OBIS_MAX];
	int f;
	(void)state;
	static const struct {
		const char *in, *out;
		int billing;
	} c[] = {
		{"1.8.0", "1.8.0", -1},         {"1-0:1.8.0*255", "1.8.0", -1},
		{"1-1:1.8.0", "1.8.0", -1},     {"1-2:1.8.0", "1-2:1.8.0", -1},
		{"0-0:96.1.0*255", "0-0:96.1.0", -1}, {"1-0:1.8.0*96", "1.8.0*96", 96},
		{"1.8.0*01", "1.8.0*1", 1},     {"1.8.0&02", "1.8.0*2", 2},
		{"C.13.21", "C.13.21", -1},     {"F.F", "F.F", -1},
		{"P.01", "P.01", -1},           {"6.8*01", "6.8*1", 1},
	};
	for (size_t i = 0; i < N(c); i++) {
		assert_int_equal(gw_iec_name(c[i].in, nm, sizeof(nm), &f), 0);
		assert_string_equal(nm, c[i].out);
		assert_int_equal(f, c[i].billing);
	}
	assert_int_equal(gw_iec_name("", nm, sizeof(nm), &f), GW_EINVAL);
	assert_int_equal(gw_iec_name("1.8.0*256", nm, sizeof(nm), &f), GW_EINVAL);
	assert_int_equal(gw_iec_name("x-0:1.8.0", nm, sizeof(nm), &f), GW_EINVAL);
	assert_int_equal(gw_iec_name("1.8.0*", nm, sizeof(nm), &f), GW_EINVAL);
}

static void numbers_and_energy(void **state)
{
	int64_t m;
	int d;
	(void)state;
	assert_int_equal(gw_iec_number(" 001.67", &m, &d), 0);
	assert_int_equal(m, 167);
	assert_int_equal(d, 2);
	assert_int_equal(gw_iec_number("-000.82", &m, &d), 0);
	assert_int_equal(m, -82);
	assert_int_equal(gw_iec_number("+12", &m, &d), 0);
	assert_int_equal(m, 12);
	assert_int_equal(d, 0);
	assert_int_equal(gw_iec_number("", &m, &d), GW_EINVAL);
	assert_int_equal(gw_iec_number("1.2.3", &m, &d), GW_EINVAL);
	assert_int_equal(gw_iec_number("12a", &m, &d), GW_EINVAL);
	assert_int_equal(gw_iec_number("1234567890123456789", &m, &d), GW_EINVAL);
	/* energy: kWh with decimals, MWh, Wh, rounding half away from 0,
	 * a unitless 1.8.0 in kWh (EDIS), an unknown unit ignored */
	const char *t = "1.8.0(0000.0005*kWh)\r\n2.8.0(-0.0005*kWh)\r\n"
			"1.8.1(1.5*MWh)\r\n1.8.2(123*Wh)\r\n3.8.0(12.5)\r\n"
			"1.8.3(12*m3)\r\n1.8.4(99999999999999999*MWh)\r\n!\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)t, strlen(t), GW_IEC_NEED_END,
				      &tg), 0);
	static const struct want w[] = {
		{"1.8.0", 1, 0, WH, NULL},       {"2.8.0", -1, 0, WH, NULL},
		{"1.8.1", 1500000, 0, WH, NULL}, {"1.8.2", 123, 0, WH, NULL},
		{"3.8.0", 12500, 0, VARH, NULL},
	};
	expect_readings(w, N(w), ALL);
}

static void framing(void **state)
{
	uint8_t f[128];
	(void)state;
	const char *body = "1.8.0(1*kWh)\r\n!\r\n";
	size_t n = 0;
	f[n++] = GW_IEC_STX;
	memcpy(f + n, body, strlen(body));
	n += strlen(body);
	f[n++] = GW_IEC_ETX;
	uint8_t bcc = gw_iec_bcc(f + 1, n - 1);
	f[n++] = bcc;
	assert_int_equal(gw_iec_parse(f, n, GW_IEC_NEED_BCC, &tg), 0);
	assert_int_equal(tg.n_sets, 1);
	assert_int_equal(tg.used, n);
	/* an echoed ACK before the STX of a readout is not data */
	f[n - 1] ^= 1;
	assert_int_equal(gw_iec_parse(f, n, GW_IEC_NEED_BCC, &tg), GW_ECRC);
	assert_int_equal(tg.reason, GW_IEC_BAD_BCC);
	assert_int_equal(tg.n_sets, 0);
	f[n - 1] ^= 1;
	/* cut short anywhere: never accepted */
	for (size_t k = 0; k < n; k++) {
		int rc = gw_iec_parse(f, k, GW_IEC_NEED_BCC, &tg);
		assert_true(rc < 0);
		assert_int_equal(tg.n_sets, 0);
	}
	assert_int_equal(gw_iec_parse(f, n - 1, GW_IEC_NEED_BCC, &tg), GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_NO_BCC);
	assert_int_equal(gw_iec_parse(f, n - 2, GW_IEC_NEED_BCC, &tg), GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_NO_ETX);
	/* garbage only; a data line without '(' */
	const uint8_t junk[] = {0xff, 0x80, 0x7f, 0x00};
	assert_int_equal(gw_iec_parse(junk, sizeof(junk), 0, &tg), GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_NO_DATA);
	const char *bad = "1.8.0 12\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)bad, strlen(bad), 0, &tg),
			 GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_SYNTAX);
	const char *badid = "/X1\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)badid, strlen(badid), 0, &tg),
			 GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_BAD_IDENT);
	/* an ident only (a mode C sign-on answer) with echo before it */
	const char *id = "/?12345678!\r\n/ABC6\\2\\@XY Z\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)id, strlen(id), 0, &tg), 0);
	assert_true(tg.echo);
	assert_int_equal(tg.ident.baud, 19200);
	assert_string_equal(tg.ident.enhanced, "2@");
	assert_string_equal(tg.ident.model, "XY Z");
	assert_int_equal(gw_iec_baud_of('0'), 300);
	assert_int_equal(gw_iec_baud_of('7'), 0);
	assert_int_equal(gw_iec_baud_char(4800), '4');
	assert_int_equal(gw_iec_baud_char(115200), 0);
	/* mode B and mode A identifications */
	assert_int_equal(gw_iec_parse_ident((const uint8_t *)"ABCE1", 5, &tg.ident), 0);
	assert_int_equal(tg.ident.mode, 'B');
	assert_int_equal(tg.ident.baud, 9600);
	assert_int_equal(gw_iec_parse_ident((const uint8_t *)"ABC:1", 5, &tg.ident), 0);
	assert_int_equal(tg.ident.mode, 'A');
}

static void too_many(void **state)
{
	static uint8_t big[GW_IEC_MAX_SETS * 12 + 16];
	size_t n = 0;
	(void)state;
	for (int i = 0; i <= GW_IEC_MAX_SETS; i++)
		n += (size_t)sprintf((char *)big + n, "1.8(%d)\n", i % 10);
	assert_int_equal(gw_iec_parse(big, n, 0, &tg), GW_EFULL);
	assert_int_equal(tg.reason, GW_IEC_TOO_MANY);
	assert_int_equal(tg.n_sets, 0);
	/* the reading buffer's capacity is respected */
	const char *t = "1.8.1(1*kWh)\n1.8.2(2*kWh)\n!\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)t, strlen(t), 0, &tg), 0);
	assert_int_equal(gw_iec_readings(&tg, "m", 0, rd, 1), GW_EFULL);
}

static void clock_drift(void **state)
{
	int64_t ms;
	(void)state;
	assert_int_equal(gw_tz_set("Europe/Berlin"), 0);
	/* 2026-03-29 02:30 does not exist in Berlin; 2026-10-25 02:30 twice */
	assert_int_equal(gw_iec_local_to_utc(2026, 1, 15, 12, 0, 0, -1, &ms), 0);
	assert_int_equal(ms, 1768474800000LL); /* 11:00 UTC */
	assert_int_equal(gw_iec_local_to_utc(2026, 10, 25, 2, 30, 0, 1, &ms), 0);
	assert_int_equal(ms, 1792888200000LL); /* 00:30 UTC, summer time */
	assert_int_equal(gw_iec_local_to_utc(2026, 10, 25, 2, 30, 0, 0, &ms), 0);
	assert_int_equal(ms, 1792891800000LL); /* 01:30 UTC, winter time */
	assert_int_equal(gw_iec_local_to_utc(2026, 13, 1, 0, 0, 0, -1, &ms), GW_EINVAL);
	/* (the drift of a meter's clock is judged by meter_ident.c,
	 * tests/unit/test_meter_ident.c) */
	/* time "hh:mm:ss" and date "YYMMDD" forms */
	const char *t = "0.9.1(23:59:58)\r\n0.9.2(260301)\r\n!\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)t, strlen(t), 0, &tg), 0);
	assert_true(tg.clock.has_time && tg.clock.has_date);
	assert_int_equal(tg.clock.hour, 23);
	assert_int_equal(tg.clock.sec, 58);
	assert_int_equal(tg.clock.year, 2026);
	assert_int_equal(tg.clock.month, 3);
	assert_int_equal(gw_tz_set("UTC"), 0);
}


/* ---- load profiles: untrusted, placed, used to fill gaps ------------- */
/* (these run in UTC: clock_drift leaves the zone there) */

#define MIN_MS 60000LL
#define Q_MS (15 * MIN_MS)

/* Every P.01 entry under its channel's plain name, status PROFILE. */
static void profile_entries(void **state)
{
	int64_t step = 0;
	(void)state;
	size_t n = load("emh_p01_loadprofile.txt");
	assert_int_equal(gw_iec_parse(buf, n, 0, &tg), 0);
	int k = gw_iec_profile(&tg, "m1", rd, GW_IEC_MAX_READINGS, &step);
	assert_int_equal(k, 12);
	assert_int_equal(step, Q_MS);
	assert_string_equal(rd[0].obis, "1.5.0"); /* EMH's "1.5" */
	assert_int_equal(rd[0].status, GW_RS_PROFILE);
	assert_string_equal(rd[11].obis, "8.5.0");
	assert_int_equal(rd[11].ts_ms - rd[0].ts_ms, Q_MS);
	assert_int_equal(gw_iec_profile(&tg, "m1", rd, 5, &step), GW_EFULL);
}

/* A register and a profile channel of the same OBIS code stay apart;
 * energy channels are no series of their own. */
static void profile_names_apart(void **state)
{
	(void)state;
	const char *t = "1.5.0(2.000*kW)\r\n1.8.0(100.000*kWh)\r\n"
			"P.01(0260301100000)(00)(15)(3)(1.5.0)(kW)(1.8.0)(kWh)(32.5.0)(V)\r\n"
			"(0.400)(100.100)(230.1)\r\n(0.800)(100.300)(229.9)\r\n!\r\n";
	assert_int_equal(gw_iec_parse((const uint8_t *)t, strlen(t), 0, &tg), 0);
	static const struct want w[] = {
		{"1.5.0", 2000, 0, W, NULL},
		{"1.8.0", 100000, 0, WH, NULL},
		{"P.01:1.5.0", 400, 0, W, "2026-03-01T10:00:00.000Z"},
		{"P.01:32.5.0", 2301, -1, GW_UNIT_V, "2026-03-01T10:00:00.000Z"},
		{"P.01:1.5.0", 800, 0, W, "2026-03-01T10:15:00.000Z"},
		{"P.01:32.5.0", 2299, -1, GW_UNIT_V, "2026-03-01T10:15:00.000Z"},
	};
	expect_readings(w, N(w), GW_IEC_PROFILE);
	for (size_t i = 2; i < N(w); i++)
		assert_int_equal(rd[i].status, GW_RS_PROFILE);
	assert_int_equal(rd[0].status, GW_RS_OK);
	/* the cumulative channel is there for gaps, under its own name */
	int64_t step;
	int k = gw_iec_profile(&tg, "m1", rd, GW_IEC_MAX_READINGS, &step);
	assert_int_equal(k, 6);
	assert_string_equal(rd[1].obis, "1.8.0");
	assert_int_equal(rd[1].value, 100100);
	assert_int_equal(rd[1].ts_ms, 1772359200000LL); /* 10:00 in UTC */
}

/* A meter 5 minutes slow: its interval ends move 5 minutes on; entries
 * outside the window (a clock years off, the future) are refused. */
static void profile_placed(void **state)
{
	struct gw_reading r[6];
	int64_t now = 1772359200000LL; /* 2026-03-01T10:00:00Z */
	(void)state;
	memset(r, 0, sizeof(r));
	for (int i = 0; i < 6; i++) {
		snprintf(r[i].obis, sizeof(r[i].obis), "P.01:1.5.0");
		r[i].value = i;
	}
	r[0].ts_ms = now - 5 * MIN_MS - 2 * Q_MS; /* meter's 9:25 */
	r[1].ts_ms = now - 5 * MIN_MS - Q_MS;     /* meter's 9:40 */
	r[2].ts_ms = 0;                           /* a register */
	r[3].ts_ms = now - 20LL * 365 * 86400000; /* 2006: clock lost */
	r[4].ts_ms = now - 5 * MIN_MS + Q_MS;     /* the future */
	r[5].ts_ms = now - 5 * MIN_MS;            /* meter's 9:55, ended now */
	size_t k = gw_iec_profile_place(r, 6, -5 * MIN_MS, now, 7 * 86400000LL, MIN_MS);
	assert_int_equal(k, 4);
	assert_int_equal(r[0].ts_ms, now - 2 * Q_MS);
	assert_int_equal(r[1].ts_ms, now - Q_MS);
	assert_int_equal(r[2].ts_ms, 0);
	assert_int_equal(r[3].ts_ms, now);
	assert_int_equal(r[3].value, 5);
	/* without the offset the same entries land 5 minutes early */
	r[0].ts_ms = now - 5 * MIN_MS;
	assert_int_equal(gw_iec_profile_place(r, 1, 0, now, 86400000LL, 0), 1);
	assert_int_equal(r[0].ts_ms, now - 5 * MIN_MS);
}

/* A profile of demand d[i] W for quarter hours ending at t0 + (i+1)*15m,
 * channel name. */
static size_t demand(struct gw_reading *p, const char *name, int64_t t0,
		     const int64_t *d, size_t n, int scale)
{
	for (size_t i = 0; i < n; i++) {
		memset(&p[i], 0, sizeof(p[i]));
		snprintf(p[i].obis, sizeof(p[i].obis), "%s", name);
		p[i].ts_ms = t0 + (int64_t)(i + 1) * Q_MS;
		p[i].value = d[i];
		p[i].scale = (int8_t)scale;
		p[i].unit = GW_UNIT_W;
		p[i].status = GW_RS_PROFILE;
	}
	return n;
}

/* Demand scaled to the register's real change: whole Wh, largest
 * remainder, exactly the change, strictly inside the gap, DERIVED. */
static void backfill_derived(void **state)
{
	struct gw_reading p[16], out[32];
	char why[128];
	int64_t t0 = 1772323200000LL; /* 00:00Z */
	/* 2 h of quarter hours: 400 W, 0, 1000 W, ... (sum 100 Wh + ...) */
	static const int64_t d[8] = {400, 0, 1000, 1000, 2000, 333, 333, 334};
	(void)state;
	size_t n = demand(p, "1.5.0", t0, d, 8, 0);
	/* the gap: last read at 00:05, next at 02:05 (the meter's current
	 * interval 02:00..02:05 not yet in its profile) */
	struct gw_iec_gap g = {"1.8.0", t0 + 5 * MIN_MS, 1000000, t0 + 125 * MIN_MS, 0};
	/* the profile says: 400*10/60 + 0 + 250 + 250 + 500 + 83.25 + 83.25 +
	 * 83.5 + tail 334*5/60 = 1344.4 Wh; the register changed 1345 */
	g.to_value = g.from_value + 1345;
	int k = gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why));
	assert_int_equal(k, 8);
	int64_t last = g.from_value;
	for (int i = 0; i < k; i++) {
		assert_string_equal(out[i].obis, "1.8.0");
		assert_string_equal(out[i].meter_id, "m1");
		assert_int_equal(out[i].status, GW_RS_DERIVED);
		assert_int_equal(out[i].unit, GW_UNIT_WH);
		assert_int_equal(out[i].scale, 0);
		assert_int_equal(out[i].ts_ms, t0 + (i + 1) * Q_MS);
		assert_true(out[i].ts_ms > g.from_ms && out[i].ts_ms < g.to_ms);
		assert_true(out[i].value >= last && out[i].value <= g.to_value);
		last = out[i].value;
	}
	/* each share within 1 Wh of its exact part 1345 * e_i / 1344.4 */
	static const double e[8] = {66.667, 0, 250, 250, 500, 83.25, 83.25, 83.5};
	double cum = 0;
	for (int i = 0; i < k; i++) {
		cum += e[i] * 1345.0 / (1344.4167);
		double got = (double)(out[i].value - g.from_value);
		assert_true(got > cum - 1.0 && got < cum + 1.0);
	}
	/* the tail (the current interval) gets the rest: exactly 1345 */
	assert_int_equal(g.to_value - out[7].value, 1345 - (out[7].value - g.from_value));
	/* a register that did not move over a profile without energy: flat */
	static const int64_t zero[8] = {0};
	n = demand(p, "1.5.0", t0, zero, 8, 0);
	g.to_value = g.from_value;
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why)), 8);
	assert_int_equal(out[3].value, g.from_value);
	/* the capacity is kept */
	n = demand(p, "1.5.0", t0, d, 8, 0);
	g.to_value = g.from_value + 1345;
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 3, why, sizeof(why)), GW_EFULL);
}

/* A load switched on after the last recorded interval: its energy is the
 * meter's current interval's, never shared out over the recorded ones
 * (onto an earlier day when the gap crosses a midnight). */
static void backfill_tail_load(void **state)
{
	struct gw_reading p[16], out[32];
	char why[128];
	int64_t t0 = 1772323200000LL; /* 00:00Z */
	/* 1200 W until 00:30, then nothing; recorded to 02:00 */
	static const int64_t d[8] = {1200, 1200, 0, 0, 0, 0, 0, 0};
	(void)state;
	size_t n = demand(p, "1.5.0", t0, d, 8, 0);
	/* last read at 00:05; the next at 02:03, after 3 min of 1000 W in
	 * the meter's current interval: 500 + 50 Wh */
	struct gw_iec_gap g = {"1.8.0", t0 + 5 * MIN_MS, 1000000, t0 + 123 * MIN_MS,
			       1000550};
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why)), 8);
	assert_int_equal(out[0].value, 1000200); /* 00:15: 1200 W x 10 min */
	assert_int_equal(out[1].value, 1000500); /* 00:30 */
	assert_int_equal(out[7].value, 1000500); /* 02:00: the 50 Wh come after */
}

/* Demand at another resolution (EMH: 0.01 W) and energy per interval
 * (C.29.E) give the same points. */
static void backfill_resolution(void **state)
{
	struct gw_reading p[16], out[32], out2[32];
	char why[128];
	int64_t t0 = 1772323200000LL;
	static const int64_t d[4] = {40000, 80000, 120000, 160000}; /* 400..1600 W */
	(void)state;
	size_t n = demand(p, "1.5.0", t0, d, 4, -2);
	struct gw_iec_gap g = {"1.8.0", t0, 500, t0 + 4 * Q_MS, 500 + 1000};
	int k = gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why));
	assert_int_equal(k, 3);
	assert_int_equal(out[0].value, 600);
	assert_int_equal(out[1].value, 800);
	assert_int_equal(out[2].value, 1100);
	/* the same as Wh per interval */
	for (size_t i = 0; i < n; i++) {
		snprintf(p[i].obis, sizeof(p[i].obis), "1.29.0");
		p[i].value = d[i] / 400;
		p[i].scale = 0;
		p[i].unit = GW_UNIT_WH;
	}
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out2, 32, why, sizeof(why)), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(out2[i].value, out[i].value);
	/* no channel for 2.8.0: nothing, no error */
	struct gw_iec_gap g2 = g;
	snprintf(g2.obis, sizeof(g2.obis), "2.8.0");
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g2, "m1", out, 32, why, sizeof(why)), 0);
}

/* The profile's own register values (Metcom: 1.8.0 in the profile) as
 * PROFILE points; one that does not fit the register refuses it all. */
static void backfill_direct(void **state)
{
	struct gw_reading p[8], out[8];
	char why[128];
	int64_t t0 = 1772323200000LL;
	(void)state;
	memset(p, 0, sizeof(p));
	for (int i = 0; i < 4; i++) {
		snprintf(p[i].obis, sizeof(p[i].obis), "1.8.0");
		p[i].ts_ms = t0 + (i + 1) * Q_MS;
		p[i].value = 1000 + 100 * i;
		p[i].unit = GW_UNIT_WH;
	}
	struct gw_iec_gap g = {"1.8.0", t0 + MIN_MS, 990, t0 + 4 * Q_MS + MIN_MS, 1310};
	int k = gw_iec_backfill(p, 4, Q_MS, &g, "m1", out, 8, why, sizeof(why));
	assert_int_equal(k, 4);
	assert_int_equal(out[0].status, GW_RS_PROFILE);
	assert_int_equal(out[3].value, 1300);
	/* a value above the register's after the gap: refused, nothing out */
	g.to_value = 1250;
	out[0].value = -1;
	assert_int_equal(gw_iec_backfill(p, 4, Q_MS, &g, "m1", out, 8, why, sizeof(why)),
			 GW_EPROTO);
	assert_non_null(strstr(why, "1.8.0 1300 is not between"));
	/* running backwards inside the profile: refused */
	g.to_value = 1310;
	p[2].value = 1050;
	assert_int_equal(gw_iec_backfill(p, 4, Q_MS, &g, "m1", out, 8, why, sizeof(why)),
			 GW_EPROTO);
}

/* A profile that contradicts the register, or does not cover the gap,
 * is refused: never a wrong point. */
static void backfill_refused(void **state)
{
	struct gw_reading p[16], out[32];
	char why[128];
	int64_t t0 = 1772323200000LL;
	static const int64_t d[8] = {1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000};
	(void)state;
	size_t n = demand(p, "1.5.0", t0, d, 8, 0);
	/* 2 h at 1 kW is 2000 Wh; the register says 3000 */
	struct gw_iec_gap g = {"1.8.0", t0, 0, t0 + 8 * Q_MS, 3000};
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why)),
			 GW_EPROTO);
	assert_non_null(strstr(why, "adds up to 2000 Wh, the register changed by 3000 Wh"));
	/* 2000 is right */
	g.to_value = 2000;
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why)), 7);
	assert_int_equal(out[3].value, 1000);
	/* the profile starts an hour after the gap */
	g.from_ms = t0 - 4 * Q_MS;
	g.to_value = 3000;
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why)),
			 GW_EPROTO);
	assert_non_null(strstr(why, "covers only part"));
	/* the register went backwards (a reset or a swap): no fill */
	g.from_ms = t0;
	g.from_value = 5000;
	g.to_value = 10;
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why)),
			 GW_EPROTO);
	/* energy in the profile but none on the register */
	g.from_value = g.to_value = 10;
	assert_int_equal(gw_iec_backfill(p, n, Q_MS, &g, "m1", out, 32, why, sizeof(why)),
			 GW_EPROTO);
}

/* The answer to a range read (R5 P.01(start;end)): an STX block of
 * several P.01 headers, BCC checked; a wrong BCC or a cut answer yields
 * nothing. */
static void range_read_answer(void **state)
{
	uint8_t a[512];
	size_t n = 0;
	int64_t step;
	(void)state;
	a[n++] = GW_IEC_STX;
	n += (size_t)sprintf((char *)a + n,
			     "P.01(0260301000000)(00)(15)(1)(1.5.0)(kW)\r\n(0.400)\r\n(0.800)\r\n"
			     "P.01(0260301010000)(08)(15)(1)(1.5.0)(kW)\r\n(1.200)\r\n");
	a[n++] = GW_IEC_ETX;
	a[n] = gw_iec_bcc(a + 1, n);
	n++;
	assert_int_equal(gw_iec_parse(a, n, GW_IEC_NEED_BCC, &tg), 0);
	int k = gw_iec_profile(&tg, "m1", rd, GW_IEC_MAX_READINGS, &step);
	assert_int_equal(k, 3);
	char t[40];
	assert_string_equal(gw_format_utc(rd[2].ts_ms, t, sizeof(t)), "2026-03-01T01:00:00.000Z");
	assert_int_equal(rd[2].value, 1200);
	a[n - 1] ^= 1;
	assert_int_equal(gw_iec_parse(a, n, GW_IEC_NEED_BCC, &tg), GW_ECRC);
	assert_int_equal(gw_iec_profile(&tg, "m1", rd, GW_IEC_MAX_READINGS, &step), 0);
	assert_int_equal(gw_iec_parse(a, n / 2, GW_IEC_NEED_BCC, &tg), GW_EPROTO);
	assert_int_equal(tg.reason, GW_IEC_NO_ETX);
	assert_int_equal(gw_iec_profile(&tg, "m1", rd, GW_IEC_MAX_READINGS, &step), 0);
}

/* The one limit: a week of 15-minute profile on 12 channels and a long
 * register list fit; one more value than the limit is refused whole. */
static void big_readout(void **state)
{
	static uint8_t big[GW_IEC_MAX_BYTES];
	size_t n = 0;
	(void)state;
	big[n++] = GW_IEC_STX;
	for (int i = 0; i < 1500; i++)
		n += (size_t)sprintf((char *)big + n, "1.8.%d(%07d.123*kWh)\r\n", i, i);
	n += (size_t)sprintf((char *)big + n, "P.01(0260301000000)(00)(15)(12)");
	for (int c = 1; c <= 12; c++)
		n += (size_t)sprintf((char *)big + n, "(%d.5.0)(kW)", c);
	n += (size_t)sprintf((char *)big + n, "\r\n");
	for (int r = 0; r < 672; r++) {
		for (int c = 0; c < 12; c++)
			n += (size_t)sprintf((char *)big + n, "(%d.%03d)", r % 10, c);
		n += (size_t)sprintf((char *)big + n, "\r\n");
	}
	n += (size_t)sprintf((char *)big + n, "!\r\n");
	big[n++] = GW_IEC_ETX;
	big[n] = gw_iec_bcc(big + 1, n);
	n++;
	assert_true(n < GW_IEC_MAX_BYTES);
	assert_int_equal(gw_iec_parse(big, n, GW_IEC_NEED_BCC, &tg), 0);
	int k = gw_iec_readings(&tg, "m1", GW_IEC_PROFILE, rd, GW_IEC_MAX_READINGS);
	assert_int_equal(k, 1500 + 672 * 12);
}

static int setup(void **state)
{
	(void)state;
	/* load-profile times are the meter's local time: a zone with DST */
	return gw_tz_set("Europe/Berlin");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(iskra_mt174),
		cmocka_unit_test(landisgyr_lgz_frame),
		cmocka_unit_test(logarex_lk13),
		cmocka_unit_test(actaris_bad_bcc),
		cmocka_unit_test(itron_no_etx),
		cmocka_unit_test(landisgyr_zmd120ap),
		cmocka_unit_test(hager_push),
		cmocka_unit_test(emh_p98_logbook),
		cmocka_unit_test(emh_p01_profile),
		cmocka_unit_test(metcom_p01_profile),
		cmocka_unit_test(metcom_table1),
		cmocka_unit_test(siemens_heat),
		cmocka_unit_test(every_file_covered),
		cmocka_unit_test(serial_numbers),
		cmocka_unit_test(names),
		cmocka_unit_test(numbers_and_energy),
		cmocka_unit_test(framing),
		cmocka_unit_test(too_many),
		cmocka_unit_test_setup(clock_drift, NULL),
		cmocka_unit_test(profile_entries),
		cmocka_unit_test(profile_names_apart),
		cmocka_unit_test(profile_placed),
		cmocka_unit_test(backfill_derived),
		cmocka_unit_test(backfill_tail_load),
		cmocka_unit_test(backfill_resolution),
		cmocka_unit_test(backfill_direct),
		cmocka_unit_test(backfill_refused),
		cmocka_unit_test(range_read_answer),
		cmocka_unit_test(big_readout),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
