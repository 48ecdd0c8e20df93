/* SPDX-License-Identifier: MIT */
/*
 * fuzz_meters.c - libFuzzer target for the CSV meter list
 * (gateway/config.c, the `meters` key), the file a field engineer writes
 * for hundreds of meters. The input is the CSV file; the gateway
 * configuration around it is fixed (written once into a private directory
 * under $TMPDIR): a Modbus TCP bus `tcp`, a Modbus RTU bus `rtu`, an IEC
 * 62056-21 bus `iec`, and two profiles, `p` and `q`.
 *
 * Whatever the CSV holds, gw_config_load must succeed or fail cleanly (no
 * crash, leak or undefined behaviour, *out NULL on failure), and a
 * configuration that loads must hold together:
 *
 *   - meter ids valid and unique; each meter on one of the buses;
 *   - a Modbus meter has a profile and a unit id 1..247, unique on its bus;
 *   - an IEC meter has no profile and an address unique on its bus.
 *
 * `make fuzz` runs it for FUZZ_TIME seconds; tests/integration/
 * meters_fuzz.sh briefly in `make check`. Seeds: tests/fuzz/seeds/meters.
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "iec62056.h"
#include "modbus_bus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static char dir[256], ini[300], csv[300];

static void put(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	if (!f || fputs(text, f) == EOF || fclose(f) != 0)
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[400], text[1024];

	(void)argc;
	(void)argv;
	const char *tmp = getenv("TMPDIR");
	snprintf(dir, sizeof(dir), "%s/fuzz_meters.XXXXXX",
		 tmp && *tmp ? tmp : "/tmp");
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof(path), "%s/profiles", dir);
	if (mkdir(path, 0700) != 0)
		abort();
	snprintf(path, sizeof(path), "%s/profiles/p.prof", dir);
	put(path, "[profile]\n[register 1.8.0]\nfunction = 3\naddress = 0\n"
		  "type = uint32\nunit = Wh\n");
	snprintf(path, sizeof(path), "%s/profiles/q.prof", dir);
	put(path, "[profile]\n[register 1.8.0]\nfunction = 4\naddress = 0x48\n"
		  "type = float32\nunit = kWh\n");
	snprintf(ini, sizeof(ini), "%s/gateway.ini", dir);
	snprintf(csv, sizeof(csv), "%s/meters.csv", dir);
	snprintf(text, sizeof(text),
		 "[gateway]\nid = fuzz\ntimezone = UTC\nspool_dir = %s/spool\n"
		 "meters = meters.csv\n\n"
		 "[bus tcp]\ntype = modbus-tcp\nhost = 127.0.0.1\n\n"
		 "[bus rtu]\ntype = modbus-rtu\ndevice = /dev/null\n\n"
		 "[bus iec]\ntype = iec62056-21\ndevice = /dev/null\n",
		 dir);
	put(ini, text);
	/* The directory is left behind on purpose: libFuzzer ends with
	 * _exit, and a few small files in $TMPDIR are harmless; the test
	 * scripts point TMPDIR into their own temporary directory. */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A new file each time: truncating one makes ext4 write it out
	 * (auto_da_alloc), which slows the fuzzer down twentyfold. */
	unlink(csv);
	int fd = open(csv, O_WRONLY | O_CREAT | O_EXCL, 0600);
	if (fd < 0)
		abort();
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	close(fd);

	struct gw_config *c = (struct gw_config *)1;
	int rc = gw_config_load(ini, &c);
	if (rc) {
		if (c || (rc != GW_ECONFIG && rc != GW_ENOMEM && rc != GW_EIO))
			abort();
		return 0;
	}
	if (!c || c->n_buses != 3)
		abort();
	for (int i = 0; i < c->n_meters; i++) {
		const struct gw_meter_config *m = &c->meters[i];
		if (m->bus < 0 || m->bus >= c->n_buses || m->id[0] == '\0')
			abort();
		int iec = c->buses[m->bus].driver == &gw_iec62056_driver;
		const struct gw_modbus_meter *mm = m->opts;
		char where[GW_WHERE_MAX], owhere[GW_WHERE_MAX];
		if (!m->opts ||
		    !gw_meter_where(m, &c->buses[m->bus], where, sizeof(where))[0] ||
		    (!iec && (!mm->profile || mm->unit_id < 1 ||
			      mm->unit_id > GW_MODBUS_UNIT_MAX)))
			abort();
		for (int j = 0; j < i; j++) {
			const struct gw_meter_config *o = &c->meters[j];
			if (strcmp(o->id, m->id) == 0)
				abort();
			if (o->bus == m->bus &&
			    strcmp(gw_meter_where(o, &c->buses[o->bus], owhere,
						  sizeof(owhere)), where) == 0)
				abort();
		}
	}
	gw_config_free(c);
	return 0;
}
