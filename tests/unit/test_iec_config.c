/* SPDX-License-Identifier: MIT */
/*
 * test_iec_config.c - the configuration of iec62056-21 buses and their
 * meters: keys, defaults, the CSV list's unit column as the address, and
 * every error naming file and line.
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
#include "iec62056.h"

#include "config_harness.h"


static char *with_base(const char *rest)
{
	static char text[8192];
	snprintf(text, sizeof(text),
		 "[gateway]\n"                   /* 1 */
		 "id = sub-042\n"                /* 2 */
		 "timezone = Asia/Ho_Chi_Minh\n" /* 3 */
		 "spool_dir = spool\n"           /* 4 */
		 "%s",
		 rest);
	return text;
}

static int setup(void **state)
{
	(void)state;
	harness_mkdir("/tmp/gwiec.XXXXXX");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	return harness_rmdir();
}

static void good(void **state)
{
	struct gw_config *cfg;
	(void)state;
	write_file("meters.csv", "meter_id,bus,unit,profile\n"
				 "EL0001,rs485,12345678,-\n"
				 "EL0002,rs485,87654321,-\n"
				 "EL0003,optical,-,-\n");
	int rc = load(with_base("meters = meters.csv\n"
				"[bus rs485]\n"
				"type = iec62056-21\n"
				"device = /dev/ttyUSB1\n"
				"max_baud = 9600\n"
				"framing = 8N1\n"
				"billing = yes\n"
				"max_clock_drift = 5m\n"
				"backfill_after = 1h\n"
				"profile_window = 2d\n"
				"[bus optical]\n"
				"type = iec62056-21\n"
				"device = /dev/ttyUSB0\n"
				"[bus push]\n"
				"type = iec62056-21\n"
				"device = /dev/ttyAMA0\n"
				"mode = d\n"
				"[bus fixed]\n"
				"type = iec62056-21\n"
				"device = /dev/ttyS1\n"
				"mode = fixed\n"
				"baud = 2400\n"
				"timeout_ms = 3000\n"
				"[meter EL0004]\n"
				"bus = push\n"
				"[meter EL0005]\n"
				"bus = fixed\n"
				"address = 42\n"
				"profile = -\n"),
		      &cfg);
	if (rc)
		print_error("%s", errbuf);
	assert_int_equal(rc, 0);
	assert_ptr_equal(cfg->buses[0].driver, &gw_iec62056_driver);
	/* the driver's own options; the framing (7E1 or 8N1 in software) is
	 * all there is of data bits and parity on these buses */
	const struct gw_iec_bus_opts *b = cfg->buses[0].opts;
	assert_int_equal(b->iec_mode, GW_IEC_MODE_C);
	assert_int_equal(b->baud, 300); /* the sign-on speed */
	assert_int_equal(b->max_baud, 9600);
	assert_int_equal(b->iec_8n1, 1);
	assert_int_equal(b->iec_billing, 1);
	assert_int_equal(b->max_clock_drift_s, 300);
	assert_int_equal(cfg->buses[0].max_clock_drift_s, 300); /* for the scheduler */
	assert_int_equal(b->iec_backfill_after_s, 3600);
	assert_int_equal(b->iec_profile_window_s, 2 * 86400);
	assert_int_equal(b->timeout_ms, 2000);
	assert_int_equal(b->byte_timeout_ms, 1500);
	b = cfg->buses[1].opts;
	assert_int_equal(b->max_baud, 19200);
	assert_int_equal(b->iec_8n1, 0);
	assert_int_equal(b->max_clock_drift_s, 120);
	assert_int_equal(cfg->buses[1].max_clock_drift_s, 120);
	assert_int_equal(b->iec_backfill_after_s, 0); /* off unless asked for */
	assert_int_equal(b->iec_profile_window_s, 7 * 86400);
	b = cfg->buses[2].opts;
	assert_int_equal(b->iec_mode, GW_IEC_MODE_D);
	assert_int_equal(b->baud, 9600);
	assert_int_equal(b->timeout_ms, 10000);
	b = cfg->buses[3].opts;
	assert_int_equal(b->iec_mode, GW_IEC_MODE_FIXED);
	assert_int_equal(b->baud, 2400);
	assert_int_equal(b->timeout_ms, 3000);
	const struct gw_meter_config *m = gw_config_find_meter(cfg, "EL0002");
	assert_non_null(m);
	assert_string_equal(((const struct gw_iec_meter *)m->opts)->address, "87654321");
	char where[GW_WHERE_MAX];
#define WHERE(m) gw_meter_where(m, &cfg->buses[(m)->bus], where, sizeof(where))
	assert_string_equal(WHERE(m), "address '87654321'");
	assert_int_equal(m->max_readings, 0); /* no profile: the readout says */
	static const char *const addr[][2] = {
		{ "EL0003", "" }, { "EL0004", "" }, { "EL0005", "42" },
	};
	for (size_t k = 0; k < sizeof(addr) / sizeof(addr[0]); k++) {
		m = gw_config_find_meter(cfg, addr[k][0]);
		assert_non_null(m);
		assert_string_equal(((const struct gw_iec_meter *)m->opts)->address,
				    addr[k][1]);
	}
	/* a meter without an address is named for what that means, never
	 * as "address ''" */
	assert_string_equal(WHERE(gw_config_find_meter(cfg, "EL0003")),
			    "no address (mode C broadcast /?!)");
	assert_string_equal(WHERE(gw_config_find_meter(cfg, "EL0004")),
			    "no address (push, mode D)");
	assert_string_equal(WHERE(gw_config_find_meter(cfg, "EL0005")), "address '42'");
#undef WHERE
	gw_config_free(cfg);
}

static void bad(void **state)
{
	(void)state;
	const char *bus = "[bus o]\ntype = iec62056-21\ndevice = /dev/x\n"; /* 5-7 */
	char t[1024];
	expect_error(with_base("[bus o]\ntype = iec62056\n"),
		     "gw.ini:6: type: 'iec62056' is not one of modbus-tcp, modbus-rtu, modbus-rtu-tcp, iec62056-21");
	expect_error(with_base("[bus o]\ntype = iec62056-21\n"),
		     "gw.ini:5: [bus o]: missing required key 'device' for iec62056-21");
	snprintf(t, sizeof(t), "%smode = e\n", bus);
	expect_error(with_base(t), "gw.ini:8: mode: 'e' is not one of c, fixed, d");
	snprintf(t, sizeof(t), "%smax_baud = 38400\n", bus);
	expect_error(with_base(t), "gw.ini:8: max_baud: '38400' is not one of");
	snprintf(t, sizeof(t), "%sframing = 7N2\n", bus);
	expect_error(with_base(t), "gw.ini:8: framing: '7N2' is not one of 7E1, 8N1");
	snprintf(t, sizeof(t), "%sbilling = maybe\n", bus);
	expect_error(with_base(t), "gw.ini:8: billing: 'maybe' is not yes or no");
	snprintf(t, sizeof(t), "%smax_clock_drift = 2d\n", bus);
	expect_error(with_base(t), "gw.ini:8: max_clock_drift: '2d' is not a duration");
	snprintf(t, sizeof(t), "%sbackfill_after = 30s\n", bus);
	expect_error(with_base(t), "gw.ini:8: backfill_after: '30s' is not off, 0 or a duration in 1m..7d");
	snprintf(t, sizeof(t), "%sbackfill_after = 8d\n", bus);
	expect_error(with_base(t), "gw.ini:8: backfill_after: '8d' is not off");
	snprintf(t, sizeof(t), "%sprofile_window = 10m\n", bus);
	expect_error(with_base(t), "gw.ini:8: profile_window: '10m' is not a duration in 1h..31d");
	snprintf(t, sizeof(t), "%sbackfill_after = 5m\n", bus);
	expect_error(with_base(t), "gw.ini:5: [bus o]: backfill_after 300 s is not longer than poll_interval 900 s");
	snprintf(t, sizeof(t), "%smode = d\nbackfill_after = 1h\n", bus);
	expect_error(with_base(t), "gw.ini:5: [bus o]: backfill_after needs mode c or fixed");
	snprintf(t, sizeof(t), "%sbaud = 38400\n", bus);
	expect_error(with_base(t), "gw.ini:5: [bus o]: baud 38400 is above 19200");
	snprintf(t, sizeof(t), "%sbaud = 9600\nmax_baud = 4800\n", bus);
	expect_error(with_base(t), "gw.ini:5: [bus o]: max_baud 4800 is below baud 9600");
	expect_error(with_base("[bus m]\ntype = modbus-tcp\nhost = h\nmode = c\n"),
		     "gw.ini:8: [bus m]: mode: a key of iec62056-21 buses, not of modbus-tcp buses");
	/* a key of several other drivers; keys given before `type` */
	expect_error(with_base("[bus r]\nhost = h\ntype = modbus-rtu\ndevice = /dev/x\n"),
		     "gw.ini:6: [bus r]: host: a key of modbus-tcp, modbus-rtu-tcp buses, not of modbus-rtu buses");
	expect_error(with_base("[bus o]\ntype = iec62056-21\ndevice = /dev/x\nparity = none\n"),
		     "gw.ini:8: [bus o]: parity: a key of modbus-rtu buses, not of iec62056-21 buses");
	snprintf(t, sizeof(t), "%s[meter e1]\nbus = o\naddress = 12/34\n", bus);
	expect_error(with_base(t), "gw.ini:10: meter e1: address '12/34' is not up to 32");
	snprintf(t, sizeof(t), "%s[meter e1]\nbus = o\naddress = 123456789012345678901234567890123\n", bus);
	expect_error(with_base(t), "gw.ini:10: meter e1: address '1234567890");
	snprintf(t, sizeof(t), "%s[meter e1]\nbus = o\nprofile = abb_b23\n", bus);
	expect_error(with_base(t), "gw.ini:10: meter e1: profile: a meter on an iec62056-21 bus has none");
	snprintf(t, sizeof(t), "%s[meter e1]\nbus = o\naddress = 7\n[meter e2]\nbus = o\naddress = 7\n", bus);
	expect_error(with_base(t), "gw.ini:13: meter e2: address '7' on bus o is already meter e1");
	expect_error(with_base("[bus m]\ntype = modbus-tcp\nhost = h\n"
			       "[meter e1]\nbus = m\naddress = 7\nunit = 1\nprofile = x\n"),
		     "gw.ini:10: meter e1: address: only meters on an iec62056-21 bus have one");
	/* a [meter] before its bus: the unit is checked once the type is known */
	expect_error(with_base("[meter e1]\nbus = m\nunit = abc\nprofile = abb_b23\n"
			       "[bus m]\ntype = modbus-tcp\nhost = h\n"),
		     "gw.ini:7: unit: 'abc' is not a number in 1..247");
	/* the CSV list: unit column = address */
	write_file("m.csv", "meter_id,bus,unit,profile\nE1,o,1,-\nE2,o,bad!,-\n");
	snprintf(t, sizeof(t), "meters = m.csv\n%s", bus);
	expect_error(with_base(t), "m.csv:3: meter E2: address 'bad!' is not up to 32");
	write_file("m.csv", "meter_id,bus,unit,profile\nE1,o,-,-\nE2,o,-,-\n");
	expect_error(with_base(t), "m.csv:3: meter E2: no address (mode C broadcast /?!) on bus o is already meter E1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(good),
		cmocka_unit_test(bad),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
