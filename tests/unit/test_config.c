/* SPDX-License-Identifier: MIT */
/*
 * test_config.c - the INI reader and the configuration: a good file loads
 * with its defaults; every kind of bad line stops loading with a one-line
 * message naming file and line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "ini.h"
#include "modbus_bus.h"

#include "config_harness.h"

static char profiles[512];

/* The base of every test file: [gateway] with a profile dir that exists. */
static char *with_base(const char *rest)
{
	static char text[8192];
	snprintf(text, sizeof(text),
		 "[gateway]\n"               /* 1 */
		 "id = sub-042\n"            /* 2 */
		 "timezone = Asia/Ho_Chi_Minh\n" /* 3 */
		 "spool_dir = spool\n"       /* 4 */
		 "profiles_dir = %s\n"       /* 5 */
		 "%s",
		 profiles, rest);
	return text;
}

static int setup(void **state)
{
	(void)state;
	char cwd[256];
	harness_mkdir("/tmp/gwcfg.XXXXXX");
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	snprintf(profiles, sizeof(profiles), "%s/profiles", cwd);
	assert_int_equal(access(profiles, R_OK), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return harness_rmdir();
}

static void good_config(void **state)
{
	struct gw_config *cfg;
	(void)state;
	write_file("meters.csv",
		   "# the RS-485 line in cabinet 2\n"
		   "meter_id,bus,unit,profile\n"
		   "PE0003, line1, 3, abb_b23\n"
		   "\n"
		   "PE0004,tcp1,4,abb_b23\n");
	int rc = load(with_base("poll_interval = 15m\n"
				"meters = meters.csv\n"
				"log_level = debug\n"
				"[clock]\n"
				"speed = 1440\n"
				"start = 2026-03-01T00:00:00Z\n"
				"anchor = 1700000000.5\n"
				"[database]\n"
				"conninfo = \"host=/tmp port=5432 dbname=meters\"\n"
				"[bus line1]\n"
				"type = modbus-rtu\n"
				"device = /dev/ttyUSB0\n"
				"baud = 19200 # inline comment\n"
				"parity = none\n"
				"[bus tcp1]\n"
				"type = modbus-tcp\n"
				"host = 127.0.0.1\n"
				"port = 1502\n"
				"[meter PE0001]\n"
				"bus = tcp1\n"
				"unit = 1\n"
				"profile = abb_b23\n"),
		     &cfg);
	if (rc)
		print_error("%s", errbuf);
	assert_int_equal(rc, 0);
	assert_string_equal(cfg->gateway_id, "sub-042");
	assert_int_equal(cfg->poll_interval_s, 900);
	assert_int_equal(cfg->midnight_tolerance_s, 60); /* default */
	assert_int_equal(cfg->log_level, GW_LOG_DEBUG);
	assert_true(cfg->clock.simulated);
	assert_int_equal(cfg->clock.speed, 1440);
	assert_int_equal(cfg->clock.anchor_us, 1700000000500000LL);
	assert_string_equal(cfg->db_conninfo, "host=/tmp port=5432 dbname=meters");
	assert_int_equal(cfg->n_buses, 2);
	assert_ptr_equal(cfg->buses[0].driver, &gw_modbus_rtu_driver);
	const struct gw_modbus_rtu_opts *rtu = cfg->buses[0].opts;
	assert_int_equal(rtu->baud, 19200);
	assert_int_equal(rtu->parity, 'N');
	assert_int_equal(rtu->data_bits, 8); /* default */
	assert_ptr_equal(cfg->buses[1].driver, &gw_modbus_tcp_driver);
	const struct gw_modbus_tcp_opts *tcp = cfg->buses[1].opts;
	assert_int_equal(tcp->port, 1502);
	assert_int_equal(tcp->timeout_ms, 1000); /* default */
	assert_int_equal(cfg->n_meters, 3);
	const struct gw_meter_config *m = gw_config_find_meter(cfg, "PE0003");
	assert_non_null(m);
	const struct gw_modbus_meter *mm = m->opts;
	assert_int_equal(mm->unit_id, 3);
	assert_int_equal(m->bus, 0);
	assert_non_null(mm->profile);
	char where[GW_WHERE_MAX], place[GW_CONFIG_PLACE_MAX];
	assert_string_equal(gw_meter_where(m, &cfg->buses[m->bus], where,
					   sizeof(where)), "unit 3");
	assert_string_equal(gw_config_meter_place(cfg, m, place, sizeof(place)),
			    "unit 3 on bus line1");
	assert_int_equal(m->max_readings, mm->profile->n_regs);
	assert_int_equal(cfg->n_profiles, 1); /* loaded once, shared */
	char want[600];
	snprintf(want, sizeof(want), "%s/spool", dir);
	assert_string_equal(cfg->spool_dir, want); /* relative to the file */
	assert_null(gw_config_find_meter(cfg, "nobody"));
	gw_config_free(cfg);
}

static void bad_lines(void **state)
{
	(void)state;
	expect_error(with_base("colour = blue\n"), "gw.ini:6: unknown key 'colour'");
	expect_error(with_base("poll_interval = 0\n"), "gw.ini:6: poll_interval");
	expect_error(with_base("poll_interval = 2d\n"), "gw.ini:6: poll_interval");
	expect_error(with_base("poll_interval = ten\n"), "gw.ini:6: poll_interval");
	expect_error(with_base("poll_interval = 60\npoll_interval = 60\n"),
		     "gw.ini:7: key 'poll_interval' appears twice");
	expect_error(with_base("midnight_tolerance = 2h\n"), "gw.ini:6: midnight_tolerance");
	expect_error(with_base("log_level = loud\n"), "gw.ini:6: log_level");
	expect_error(with_base("[weather]\n"), "gw.ini:6: unknown section [weather]");
	expect_error(with_base("just words\n"), "gw.ini:6: expected 'key = value'");
	expect_error(with_base("[bus x\n"), "gw.ini:6: section header without ']'");
	expect_error(with_base("[clock]\nspeed = 0\n"), "gw.ini:7: speed");
	expect_error(with_base("[clock]\nspeed = 200000\n"), "gw.ini:7: speed");
	expect_error(with_base("[clock]\nstart = yesterday\n"), "gw.ini:7: start");
	expect_error(with_base("[clock]\nspeed = 60\n"), "gw.ini:6: [clock]: speed > 1 needs 'start'");
	expect_error(with_base("[database]\nretry_max = 0\n"), "gw.ini:7: retry_max");
	expect_error(with_base("[bus a]\ntype = zigbee\n"), "gw.ini:7: type");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nport = 70000\n"), "gw.ini:8: port");
	expect_error(with_base("[bus a]\ntype = modbus-rtu\ndevice = /dev/x\nbaud = 9601\n"),
		     "gw.ini:9: baud");
	expect_error(with_base("[bus a]\ntype = modbus-rtu\nparity = maybe\n"), "gw.ini:8: parity");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\ntimeout_ms = 5\n"), "gw.ini:8: timeout_ms");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\n"),
		     "gw.ini:6: [bus a]: missing required key 'host'");
	expect_error(with_base("[bus a]\nhost = h\n"),
		     "gw.ini:6: [bus a]: missing required key 'type'");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n[bus a]\n"),
		     "gw.ini:9: bus 'a' is defined twice");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "[meter m1]\nbus = a\nunit = 0\n"),
		     "gw.ini:11: unit");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "[meter m1]\nbus = b\nunit = 1\nprofile = abb_b23\n"),
		     "gw.ini:10: meter m1: no bus named 'b'");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "[meter m1]\nbus = a\nprofile = abb_b23\n"),
		     "gw.ini:9: meter m1: missing required key 'unit'");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "[meter m1]\nbus = a\nunit = 1\nprofile = nosuchmeter\n"),
		     "gw.ini:12: meter m1: cannot load profile 'nosuchmeter'");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "[meter m1]\nbus = a\nunit = 1\nprofile = abb_b23\n"
			       "[meter m2]\nbus = a\nunit = 1\nprofile = abb_b23\n"),
		     "gw.ini:15: meter m2: unit 1 on bus a is already meter m1");
	expect_error(with_base("[meter bad/id]\n"), "gw.ini:6: meter id 'bad/id' is not valid");
	/* missing required keys name the [gateway] line */
	expect_error("# comment\n[gateway]\nid = x\nspool_dir = s\n",
		     "gw.ini:2: [gateway]: missing required key 'timezone'");
	expect_error("[gateway]\ntimezone = UTC\nspool_dir = s\n",
		     "gw.ini:1: [gateway]: missing required key 'id'");
	expect_error("[gateway]\nid = x\ntimezone = Europe/Atlantis\n",
		     "gw.ini:3: timezone: 'Europe/Atlantis'");
	expect_error("id = x\n", "gw.ini:1: key 'id' before any section");
	expect_error("", "gw.ini: missing section [gateway]");
}

static void bad_meter_csv(void **state)
{
	(void)state;
	const char *bus = "meters = m.csv\n[bus a]\ntype = modbus-tcp\nhost = h\n";
	write_file("m.csv", "id,bus,unit\n");
	expect_error(with_base(bus), "m.csv:1: expected the header");
	write_file("m.csv", "meter_id,bus,unit,profile\nPE1,a,1,abb_b23\nPE2,a,300,abb_b23\n");
	expect_error(with_base(bus), "m.csv:3: unit");
	write_file("m.csv", "meter_id,bus,unit,profile\nPE1,a,1\n");
	expect_error(with_base(bus), "m.csv:2: expected 4 fields, found 3");
	write_file("m.csv", "meter_id,bus,unit,profile\n\nPE1,a,1,abb_b23\nPE1,a,2,abb_b23\n");
	expect_error(with_base(bus), "m.csv:4: meter 'PE1' is defined twice");
	write_file("m.csv", "meter_id,bus,unit,profile\nPE1,nowhere,1,abb_b23\n");
	expect_error(with_base(bus), "m.csv:2: meter PE1: no bus named 'nowhere'");
	expect_error(with_base("meters = absent.csv\n"), "gw.ini:6: meters: cannot open");
	/* "010" is not octal 8 (that would read another meter) */
	write_file("m.csv", "meter_id,bus,unit,profile\nPE1,a,010,abb_b23\n");
	expect_error(with_base(bus), "m.csv:2: unit: '010' is not a number in 1..247");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\nport = 0502\n"),
		     "gw.ini:9: port: '0502' is not a number in 1..65535");
}

/* A fleet's list: 5,000 meters on 25 buses. Each is found by its id,
 * an id not listed is not, and the checks that refuse a second meter
 * with the same id or in the same place still name both lines at the
 * end of a long list. */
static void many_meters(void **state)
{
	enum { BUSES = 25, PER_BUS = 200 };
	char *csv = malloc(BUSES * PER_BUS * 32 + 64), *ini = malloc(BUSES * 64 + 64);
	size_t n = 0, k = 0;
	struct gw_config *cfg;
	(void)state;

	assert_non_null(csv);
	assert_non_null(ini);
	k += (size_t)sprintf(ini + k, "meters = m.csv\n");
	for (int b = 1; b <= BUSES; b++)
		k += (size_t)sprintf(ini + k, "[bus b%d]\ntype = modbus-tcp\nhost = h\n", b);
	n += (size_t)sprintf(csv + n, "meter_id,bus,unit,profile\n");
	for (int b = 1; b <= BUSES; b++)
		for (int u = 1; u <= PER_BUS; u++)
			n += (size_t)sprintf(csv + n, "M%d-%d,b%d,%d,abb_b23\n", b, u, b, u);
	write_file("m.csv", csv);
	int rc = load(with_base(ini), &cfg);
	if (rc)
		print_error("%s", errbuf);
	assert_int_equal(rc, 0);
	assert_int_equal(cfg->n_meters, BUSES * PER_BUS);
	for (int b = 1; b <= BUSES; b++) {
		for (int u = 1; u <= PER_BUS; u++) {
			char id[32], bus[16], place[GW_CONFIG_PLACE_MAX], want[64];
			snprintf(id, sizeof(id), "M%d-%d", b, u);
			snprintf(bus, sizeof(bus), "b%d", b);
			const struct gw_meter_config *m = gw_config_find_meter(cfg, id);
			assert_non_null(m);
			/* the ids fill several blocks (gw_config.id_blocks) */
			assert_string_equal(m->id, id);
			assert_int_equal(m->line, 1 + (b - 1) * PER_BUS + u);
			assert_string_equal(cfg->buses[m->bus].name, bus);
			snprintf(want, sizeof(want), "unit %d on bus b%d", u, b);
			assert_string_equal(gw_config_meter_place(cfg, m, place,
								  sizeof(place)), want);
		}
	}
	assert_null(gw_config_find_meter(cfg, "M1-0"));
	assert_null(gw_config_find_meter(cfg, "M26-1"));
	assert_null(gw_config_find_meter(cfg, ""));
	assert_true(cfg->n_id_blocks > 1);
	gw_config_free(cfg);

	sprintf(csv + n, "M%d-%d,b1,%d,abb_b23\n", BUSES, PER_BUS, PER_BUS + 1);
	write_file("m.csv", csv);
	char want[600];
	snprintf(want, sizeof(want), "m.csv:%d: meter 'M%d-%d' is defined twice (first at %s/m.csv:%d)",
		 BUSES * PER_BUS + 2, BUSES, PER_BUS, dir, BUSES * PER_BUS + 1);
	expect_error(with_base(ini), want);
	sprintf(csv + n, "X1,b%d,%d,abb_b23\n", BUSES, PER_BUS);
	write_file("m.csv", csv);
	snprintf(want, sizeof(want), "m.csv:%d: meter X1: unit %d on bus b%d is already meter M%d-%d (%s/m.csv:%d)",
		 BUSES * PER_BUS + 2, PER_BUS, BUSES, BUSES, PER_BUS, dir, BUSES * PER_BUS + 1);
	expect_error(with_base(ini), want);
	free(csv);
	free(ini);
}

/* Meters whose driver options come out the same (the same unit and
 * profile on another bus of the same type) share one block, which is
 * freed once; any difference keeps a block of its own. */
static void meters_share_identical_options(void **state)
{
	struct gw_config *cfg;
	(void)state;
	const char *ini = "meters = s.csv\n"
			  "[bus a]\ntype = modbus-tcp\nhost = h\n"
			  "[bus b]\ntype = modbus-tcp\nhost = h\nport = 503\n"
			  "[bus r]\ntype = modbus-rtu-tcp\nhost = h\nport = 4001\n";
	write_file("s.csv", "meter_id,bus,unit,profile,timeout_ms\n"
			    "A1,a,1,abb_b23,\n"
			    "A2,a,2,abb_b23,\n"
			    "A3,a,3,abb_b23,500\n"
			    "B1,b,1,abb_b23,\n"
			    "B2,b,2,eastron_sdm630,\n"
			    "B3,b,3,abb_b23,\n"
			    "R1,r,1,abb_b23,\n"
			    "R3,r,3,abb_b23,500\n");
	int rc = load(with_base(ini), &cfg);
	if (rc)
		print_error("%s", errbuf);
	assert_int_equal(rc, 0);
#define OPTS(id) ((const struct gw_modbus_meter *)gw_config_find_meter(cfg, id)->opts)
	/* the same unit and profile on another bus: one block */
	assert_ptr_equal(OPTS("B1"), OPTS("A1"));
	assert_int_equal(gw_config_find_meter(cfg, "A1")->opts_shared, 0);
	assert_int_equal(gw_config_find_meter(cfg, "B1")->opts_shared, 1);
	/* another profile, another timeout, another driver: their own */
	assert_ptr_not_equal(OPTS("B2"), OPTS("A2"));
	assert_ptr_not_equal(OPTS("B3"), OPTS("A3"));
	assert_ptr_not_equal(OPTS("R1"), OPTS("A1"));
	assert_ptr_not_equal(OPTS("R3"), OPTS("A3"));
	assert_ptr_not_equal(OPTS("A1"), OPTS("A2"));
	/* and each says what its meter's keys said */
	static const struct { const char *id; int unit, timeout; const char *prof; } want[] = {
		{"A1", 1, 0, "abb_b23"}, {"A2", 2, 0, "abb_b23"},
		{"A3", 3, 500, "abb_b23"}, {"B1", 1, 0, "abb_b23"},
		{"B2", 2, 0, "eastron_sdm630"}, {"B3", 3, 0, "abb_b23"},
		{"R1", 1, 0, "abb_b23"}, {"R3", 3, 500, "abb_b23"},
	};
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		const struct gw_modbus_meter *mm = OPTS(want[i].id);
		assert_int_equal(mm->unit_id, want[i].unit);
		assert_int_equal(mm->timeout_ms, want[i].timeout);
		assert_string_equal(mm->profile->name, want[i].prof);
	}
#undef OPTS
	gw_config_free(cfg);
	/* a meter that fails after some were shared: freed as they are */
	write_file("s.csv", "meter_id,bus,unit,profile,timeout_ms\n"
			    "A1,a,1,abb_b23,\nB1,b,1,abb_b23,\nC1,b,1,abb_b23,\n");
	char want_err[400];
	snprintf(want_err, sizeof(want_err),
		 "s.csv:4: meter C1: unit 1 on bus b is already meter B1 (%s/s.csv:3)", dir);
	expect_error(with_base(ini), want_err);
}

/* What spreadsheets write: a UTF-8 byte order mark ("CSV UTF-8") is
 * skipped; a UTF-16 file ("Unicode text") has NUL bytes and is refused
 * naming its line, also on a last line without a newline. */
static void meter_csv_encodings(void **state)
{
	(void)state;
	const char *bus = "meters = m.csv\n[bus a]\ntype = modbus-tcp\nhost = h\n";
	struct gw_config *cfg;

	write_file("m.csv", "\xEF\xBB\xBFmeter_id,bus,unit,profile\r\nPE1,a,1,abb_b23\r\n");
	int rc = load(with_base(bus), &cfg);
	if (rc)
		print_error("%s", errbuf);
	assert_int_equal(rc, 0);
	assert_int_equal(cfg->n_meters, 1);
	assert_string_equal(cfg->meters[0].id, "PE1");
	gw_config_free(cfg);

	static const char utf16[] = "\xFF\xFEm\0e\0t\0e\0r\0_\0i\0d\0\n\0";
	static const char nul_last[] = "meter_id,bus,unit,profile\nPE1,a,1,abb\0_b23";
	static const struct {
		const char *bytes;
		size_t len;
		const char *want;
	} cases[] = {
		{ utf16, sizeof(utf16) - 1, "m.csv:1: NUL byte in line (a UTF-16 file?" },
		{ nul_last, sizeof(nul_last) - 1, "m.csv:2: NUL byte in line" },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char path[600];
		snprintf(path, sizeof(path), "%s/m.csv", dir);
		FILE *f = fopen(path, "wb");
		assert_non_null(f);
		assert_int_equal(fwrite(cases[i].bytes, 1, cases[i].len, f), cases[i].len);
		fclose(f);
		expect_error(with_base(bus), cases[i].want);
	}
}

/* The Modbus quirk keys: RTU over TCP, the pauses, close_after_cycle and a
 * meter's own timeout. */
static void modbus_quirk_keys(void **state)
{
	struct gw_config *cfg;
	(void)state;
	write_file("q.csv", "meter_id,bus,unit,profile,timeout_ms\n"
			    "C1,nport,2,abb_b23,3000\n"
			    "C2,nport,3,abb_b23,\n");
	int rc = load(with_base("meters = q.csv\n"
				"[bus nport]\n"
				"type = modbus-rtu-tcp\n"
				"host = 10.0.0.7\n"
				"port = 4001\n"
				"request_pause_ms = 50\n"
				"connect_pause_ms = 200\n"
				"close_after_cycle = yes\n"
				"[bus tcp1]\n"
				"type = modbus-tcp\n"
				"host = 127.0.0.1\n"
				"[bus line1]\n"
				"type = modbus-rtu\n"
				"device = /dev/ttyUSB0\n"
				"request_pause_ms = 20\n"
				"[meter slow]\n"
				"bus = nport\n"
				"unit = 1\n"
				"profile = abb_b23\n"
				"timeout_ms = 2500\n"
				"[meter plain]\n"
				"bus = tcp1\n"
				"unit = 1\n"
				"profile = abb_b23\n"),
		      &cfg);
	if (rc)
		print_error("%s", errbuf);
	assert_int_equal(rc, 0);
	assert_ptr_equal(cfg->buses[0].driver, &gw_modbus_rtutcp_driver);
	assert_true(gw_modbus_is_rtutcp(&cfg->buses[0]));
	assert_false(gw_modbus_is_tcp(&cfg->buses[0]));
	const struct gw_modbus_tcp_opts *rt = cfg->buses[0].opts;
	assert_string_equal(rt->host, "10.0.0.7");
	assert_int_equal(rt->port, 4001);
	assert_int_equal(rt->timeout_ms, 1000); /* default */
	assert_int_equal(rt->request_pause_ms, 50);
	assert_int_equal(rt->connect_pause_ms, 200);
	assert_int_equal(rt->close_after_cycle, 1);
	const struct gw_modbus_tcp_opts *tcp = cfg->buses[1].opts;
	assert_int_equal(tcp->request_pause_ms, 0);
	assert_int_equal(tcp->connect_pause_ms, 0);
	assert_int_equal(tcp->close_after_cycle, 0);
	const struct gw_modbus_rtu_opts *rtu = cfg->buses[2].opts;
	assert_int_equal(rtu->request_pause_ms, 20);
	const struct gw_modbus_meter *mm = gw_config_find_meter(cfg, "slow")->opts;
	assert_int_equal(mm->timeout_ms, 2500);
	mm = gw_config_find_meter(cfg, "plain")->opts;
	assert_int_equal(mm->timeout_ms, 0); /* the bus's */
	mm = gw_config_find_meter(cfg, "C1")->opts; /* the CSV column */
	assert_int_equal(mm->timeout_ms, 3000);
	mm = gw_config_find_meter(cfg, "C2")->opts; /* empty: the bus's */
	assert_int_equal(mm->timeout_ms, 0);
	gw_config_free(cfg);

	const char *csv_bus = "meters = q.csv\n[bus nport]\ntype = modbus-rtu-tcp\n"
			      "host = h\nport = 4001\n";
	write_file("q.csv", "meter_id,bus,unit,profile,timeout_ms\nC1,nport,2,abb_b23,5\n");
	expect_error(with_base(csv_bus), "q.csv:2: timeout_ms");
	write_file("q.csv", "meter_id,bus,unit,profile,timeout_ms\nC1,nport,2,abb_b23\n");
	expect_error(with_base(csv_bus), "q.csv:2: expected 5 fields, found 4");
	write_file("q.csv", "meter_id,bus,unit,profile,timeout\nC1,nport,2,abb_b23,9\n");
	expect_error(with_base(csv_bus), "q.csv:1: expected the header");

	expect_error(with_base("[bus a]\ntype = modbus-rtu-tcp\nhost = h\n"),
		     "gw.ini:6: [bus a]: missing required key 'port'");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "request_pause_ms = 10001\n"),
		     "gw.ini:9: request_pause_ms");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "close_after_cycle = maybe\n"),
		     "gw.ini:9: close_after_cycle");
	expect_error(with_base("[bus a]\ntype = modbus-rtu\ndevice = /dev/x\n"
			       "close_after_cycle = yes\n"),
		     "gw.ini:9: [bus a]: close_after_cycle: a key of modbus-tcp");
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "[meter m1]\nbus = a\nunit = 1\nprofile = abb_b23\n"
			       "timeout_ms = 5\n"),
		     "gw.ini:13: timeout_ms");
	char want[900];
	snprintf(want, sizeof(want),
		 "gw.ini:12: meter m1: cannot load profile 'abb-b23' from %s: "
		 "no file abb-b23.prof there; did you mean 'abb_b23'?", profiles);
	expect_error(with_base("[bus a]\ntype = modbus-tcp\nhost = h\n"
			       "[meter m1]\nbus = a\nunit = 1\nprofile = abb-b23\n"),
		     want);
}

static int count_keys(void *ctx, const char *section, const char *key,
		      const char *value, int line)
{
	int *n = ctx;
	(void)section;
	(void)line;
	if (key && strcmp(key, "v") == 0)
		assert_string_equal(value, "  spaced # kept ");
	*n += key != NULL;
	return 0;
}

static void ini_details(void **state)
{
	int n = 0;
	const char text[] = "\xEF\xBB\xBF; comment\n[s]\r\na=1\r\nv = \"  spaced # kept \"\n"
			    "  b   =   2   ; trailing\n";
	(void)state;
	assert_int_equal(gw_ini_parse_buffer("t", text, sizeof(text) - 1, count_keys, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(gw_ini_parse("/nonexistent/file.ini", count_keys, &n), GW_EIO);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good_config),
		cmocka_unit_test(bad_lines),
		cmocka_unit_test(bad_meter_csv),
		cmocka_unit_test(many_meters),
		cmocka_unit_test(meters_share_identical_options),
		cmocka_unit_test(meter_csv_encodings),
		cmocka_unit_test(ini_details),
		cmocka_unit_test(modbus_quirk_keys),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
