/* SPDX-License-Identifier: MIT */
/*
 * fuzz_profile.c - libFuzzer target for meter profiles (drivers/profile.c):
 * the loader, which a field engineer feeds with hand-written files, and the
 * decoder, which every Modbus reply goes through. The input is a profile
 * file. Whatever it holds, loading must succeed or fail cleanly (no crash,
 * leak or undefined behaviour, *out NULL on failure), and a profile that
 * loads must hold together:
 *
 *   - 1..125 registers per request, at least one register, each of
 *     function 3 or 4, a known type and word order, within the address
 *     space, sorted by function and address, none overlapping another;
 *   - a range whose min is below its max.
 *
 * Then each register decodes a set of raw words (zeros, all ones, sign
 * bits, float infinities and NaNs, the largest values, and words taken
 * from the input itself): the result is a reading, "not available" or a
 * refused value with a reason; a reading of energy is whole Wh (scale 0)
 * and lies within the register's range. Encoding (the simulator's way
 * back) runs on the decoded value too.
 *
 * `make fuzz` runs it for FUZZ_TIME seconds;
 * tests/integration/profile_fuzz.sh briefly in `make check`. Seeds: the
 * shipped profiles and the test profiles of tests/unit/files/profiles.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint16_t patterns[][4] = {
	{ 0x0000, 0x0000, 0x0000, 0x0000 },
	{ 0xFFFF, 0xFFFF, 0xFFFF, 0xFFFF },
	{ 0x8000, 0x0000, 0x0000, 0x0000 },
	{ 0x7FFF, 0xFFFF, 0xFFFF, 0xFFFF },
	{ 0x7F80, 0x0000, 0x0000, 0x0000 }, /* float32 +inf, float64 big */
	{ 0xFF80, 0x0000, 0x0000, 0x0000 },
	{ 0x7FC0, 0x0000, 0x0000, 0x0001 }, /* float32 NaN */
	{ 0x7FF0, 0x0000, 0x0000, 0x0000 }, /* float64 +inf */
	{ 0x7FF8, 0x0000, 0x0000, 0x0001 }, /* float64 NaN */
	{ 0x0000, 0x0080, 0x0000, 0x807F }, /* byte-swapped infinities */
	{ 0x4366, 0x8000, 0x0000, 0x0000 }, /* 230.5 */
	{ 0x0000, 0x0001, 0x0000, 0x0000 },
};

static void check_reg(const struct gw_profile_reg *r, const uint16_t *w)
{
	struct gw_reading rd;
	char why[64];
	double lo, hi;

	memset(&rd, 0, sizeof(rd));
	memset(why, 'x', sizeof(why));
	int rc = gw_profile_decode_why(r, w, &rd, why, sizeof(why));
	if (!memchr(why, '\0', sizeof(why)))
		abort();
	if (rc == GW_ENOTAVAIL)
		return;
	if (rc == GW_EINVAL) {
		if (why[0] == '\0')
			abort(); /* a refused value always says why */
		return;
	}
	if (rc != 0)
		abort();
	if (gw_unit_is_energy((enum gw_unit)rd.unit) && rd.scale != 0)
		abort();
	gw_profile_range(r, &lo, &hi);
	double q = (double)rd.value * pow(10.0, rd.scale);
	if (q < lo || q > hi)
		abort();
	uint16_t back[4];
	(void)gw_profile_encode(r, rd.value, rd.scale, back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gw_profile *p = (struct gw_profile *)1;
	int rc = gw_profile_parse_buffer("fuzz.prof", (const char *)data, size, &p);

	if (rc) {
		if (p)
			abort();
		return 0;
	}
	if (!p || p->n_regs < 1 || p->max_registers < 1 || p->max_registers > 125)
		abort();
	for (int i = 0; i < p->n_regs; i++) {
		const struct gw_profile_reg *r = &p->regs[i];
		int words = gw_reg_type_words((enum gw_reg_type)r->type);
		double lo, hi;
		if ((r->function != 3 && r->function != 4) || words < 1 ||
		    r->order > GW_ORDER_DCBA || r->address + words - 1 > 0xFFFF ||
		    words > p->max_registers)
			abort();
		gw_profile_range(r, &lo, &hi);
		if (!(lo < hi))
			abort();
		if (i > 0) {
			const struct gw_profile_reg *a = &p->regs[i - 1];
			if (a->function > r->function ||
			    (a->function == r->function &&
			     a->address + gw_reg_type_words((enum gw_reg_type)a->type) >
				     r->address))
				abort();
		}
		for (size_t k = 0; k < sizeof(patterns) / sizeof(patterns[0]); k++)
			check_reg(r, patterns[k]);
		/* words from the input, at an offset of this register's */
		uint16_t w[4] = { 0, 0, 0, 0 };
		for (int k = 0; k < 4 && size >= 2; k++) {
			size_t o = ((size_t)i * 8 + (size_t)k * 2) % (size - 1);
			w[k] = (uint16_t)(data[o] << 8 | data[o + 1]);
		}
		check_reg(r, w);
	}
	gw_profile_free(p);
	return 0;
}
