/* SPDX-License-Identifier: MIT */
/*
 * fuzz_iec.c - libFuzzer target for the IEC 62056-21 parser
 * (drivers/iec_parse.c): any bytes, with every combination of flags, must
 * parse or be rejected without a crash, a leak or undefined behaviour, and
 * a rejected telegram must yield no data sets. `make fuzz` runs it for
 * FUZZ_TIME seconds; tests/integration/iec_fuzz.sh runs it briefly in
 * `make check`. Seeds: tests/unit/files/iec62056-21.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iec_parse.h"
#include "tz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct gw_iec_telegram tg;
static struct gw_reading rd[512];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	setenv("TZ", "Europe/Berlin", 1); /* a zone with DST for P.01 times */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (unsigned flags = 0; flags < 4; flags++) {
		int rc = gw_iec_parse(data, size, flags, &tg);
		if (rc < 0) {
			if (tg.n_sets != 0 || tg.reason == GW_IEC_OK)
				abort();
			continue;
		}
		if (tg.n_sets > GW_IEC_MAX_SETS || tg.n_values > GW_IEC_MAX_VALUES ||
		    tg.used > size)
			abort();
		int n = gw_iec_readings(&tg, "fuzz", GW_IEC_BILLING | GW_IEC_PROFILE,
					rd, sizeof(rd) / sizeof(rd[0]));
		for (int i = 0; i < n; i++)
			if (gw_unit_is_energy((enum gw_unit)rd[i].unit) && rd[i].scale != 0)
				abort(); /* energy is always whole Wh */
	}
	return 0;
}
