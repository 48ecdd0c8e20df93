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

static uint8_t buf[65536];
static struct gw_iec_telegram tg;
static struct gw_reading rd[4096];

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
		{"1.5", 18374, -2, W, "2022-08-23T14:15:00.000Z"},
		{"2.5", 78, -2, W, "2022-08-23T14:15:00.000Z"},
		{"5.5", 0, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"6.5", 6, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"7.5", 87, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"8.5", 2431, -2, VAR, "2022-08-23T14:15:00.000Z"},
		{"1.5", 16832, -2, W, "2022-08-23T14:30:00.000Z"},
		{"2.5", 0, -2, W, "2022-08-23T14:30:00.000Z"},
		{"5.5", 0, -2, VAR, "2022-08-23T14:30:00.000Z"},
		{"6.5", 0, -2, VAR, "2022-08-23T14:30:00.000Z"},
		{"7.5", 0, -2, VAR, "2022-08-23T14:30:00.000Z"},
		{"8.5", 2686, -2, VAR, "2022-08-23T14:30:00.000Z"},
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
		{"1.5.0", 0, -2, W, "2022-08-23T13:00:00.000Z"},
		{"2.5.0", 12683, -2, W, "2022-08-23T13:00:00.000Z"},
		{"5.5.0", 0, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"6.5.0", 11411, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"7.5.0", 0, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"8.5.0", 0, -2, VAR, "2022-08-23T13:00:00.000Z"},
		{"1.5.0", 28, -2, W, "2022-08-23T13:15:00.000Z"},
		{"2.5.0", 6188, -2, W, "2022-08-23T13:15:00.000Z"},
		{"5.5.0", 59, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"6.5.0", 7409, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"7.5.0", 0, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"8.5.0", 0, -2, VAR, "2022-08-23T13:15:00.000Z"},
		{"1.5.0", 0, -2, W, "2022-08-23T13:30:00.000Z"},
		{"2.5.0", 11250, -2, W, "2022-08-23T13:30:00.000Z"},
		{"5.5.0", 0, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"6.5.0", 11677, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"7.5.0", 0, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"8.5.0", 0, -2, VAR, "2022-08-23T13:30:00.000Z"},
		{"1.5.0", 6, -2, W, "2022-08-23T13:45:00.000Z"},
		{"2.5.0", 4656, -2, W, "2022-08-23T13:45:00.000Z"},
		{"5.5.0", 82, -2, VAR, "2022-08-23T13:45:00.000Z"},
		{"6.5.0", 9270, -2, VAR, "2022-08-23T13:45:00.000Z"},
		{"7.5.0", 0, -2, VAR, "2022-08-23T13:45:00.000Z"},
		{"8.5.0", 0, -2, VAR, "2022-08-23T13:45:00.000Z"},
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
	static uint8_t big[GW_IEC_MAX_SETS * 8 + 16];
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
	struct gw_event ev;
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
	assert_int_equal(gw_iec_clock_drift("m1", 1000000, 1000000 + 120000, 120000, &ev), 0);
	assert_int_equal(gw_iec_clock_drift("m1", 1000000, 1000000 + 121000, 120000, &ev), 1);
	assert_int_equal(ev.kind, GW_EV_CLOCK_DRIFT);
	assert_string_equal(ev.meter_id, "m1");
	assert_string_equal(ev.obis, "0.9.1");
	assert_non_null(strstr(ev.detail, "-121 s"));
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
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
