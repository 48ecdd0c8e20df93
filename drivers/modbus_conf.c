/* SPDX-License-Identifier: MIT */
/*
 * modbus_conf.c - the keys of modbus-tcp, modbus-rtu and modbus-rtu-tcp
 * buses and of their meters (a unit id and a profile: the meter model's
 * register map, docs/profiles.md), the three driver tables, and the
 * rollover of a register, which only the profile knows.
 *
 * The three transports share the reading code (modbus.c); they differ in
 * how a bus is opened (gw_modbus_new_ctx), how a request is framed
 * (modbus_frame.c for RTU over TCP) and in their keys.
 */
#include <ctype.h>
#include <dirent.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "modbus_bus.h"

#define TCP(f) offsetof(struct gw_modbus_tcp_opts, f), \
	sizeof(((struct gw_modbus_tcp_opts *)0)->f)
#define RTU(f) offsetof(struct gw_modbus_rtu_opts, f), \
	sizeof(((struct gw_modbus_rtu_opts *)0)->f)
#define METER(f) offsetof(struct gw_modbus_meter, f), \
	sizeof(((struct gw_modbus_meter *)0)->f)

#define HELP_TIMEOUT "response timeout per request"
#define HELP_BYTE_TIMEOUT "longest silence inside one reply"
#define HELP_REQUEST_PAUSE "silence after a reply before the next request " \
	"(meters or converters that need more than Modbus's 3.5 characters)"
#define HELP_CONNECT_PAUSE "silence after connecting, before the first request " \
	"(converters that drop what comes at once)"
#define HELP_CLOSE "close the connection after each poll cycle, connect " \
	"again at the next (converters that serve one client at a time)"

/* The pauses and the per-cycle close of a TCP bus (both TCP types). */
#define TCP_PAUSE_KEYS \
	{ .name = "request_pause_ms", .type = GW_OPT_INT, TCP(request_pause_ms), \
	  .min = 0, .max = 10000, .def = "0", .help = HELP_REQUEST_PAUSE }, \
	{ .name = "connect_pause_ms", .type = GW_OPT_INT, TCP(connect_pause_ms), \
	  .min = 0, .max = 10000, .def = "0", .help = HELP_CONNECT_PAUSE }, \
	{ .name = "close_after_cycle", .type = GW_OPT_BOOL, \
	  TCP(close_after_cycle), .def = "no", .help = HELP_CLOSE }

static const struct gw_opt tcp_keys[] = {
	{ .name = "host", .type = GW_OPT_STRING, TCP(host),
	  .flags = GW_OPT_REQUIRED, .help = "meter, or TCP-to-RTU bridge" },
	{ .name = "port", .type = GW_OPT_INT, TCP(port), .min = 1, .max = 65535,
	  .def = "502" },
	{ .name = "timeout_ms", .type = GW_OPT_INT, TCP(timeout_ms), .min = 10,
	  .max = 60000, .def = "1000", .help = HELP_TIMEOUT },
	{ .name = "byte_timeout_ms", .type = GW_OPT_INT, TCP(byte_timeout_ms),
	  .min = 1, .max = 10000, .def = "100", .help = HELP_BYTE_TIMEOUT },
	TCP_PAUSE_KEYS,
	{ 0 },
};

/* RTU over TCP: a serial device server has no standard port (Moxa NPort
 * 4001, USR-TCP232 8899), so the port is required. */
static const struct gw_opt rtutcp_keys[] = {
	{ .name = "host", .type = GW_OPT_STRING, TCP(host),
	  .flags = GW_OPT_REQUIRED,
	  .help = "serial device server (RS-485 to Ethernet converter)" },
	{ .name = "port", .type = GW_OPT_INT, TCP(port), .min = 1, .max = 65535,
	  .flags = GW_OPT_REQUIRED,
	  .help = "its TCP port for the line (Moxa NPort: 4001, USR-TCP232: 8899)" },
	{ .name = "timeout_ms", .type = GW_OPT_INT, TCP(timeout_ms), .min = 10,
	  .max = 60000, .def = "1000", .help = HELP_TIMEOUT },
	{ .name = "byte_timeout_ms", .type = GW_OPT_INT, TCP(byte_timeout_ms),
	  .min = 1, .max = 10000, .def = "100", .help = HELP_BYTE_TIMEOUT },
	TCP_PAUSE_KEYS,
	{ 0 },
};

static const struct gw_opt_choice bauds[] = {
	{ "300", 300, 0 }, { "600", 600, 0 }, { "1200", 1200, 0 },
	{ "2400", 2400, 0 }, { "4800", 4800, 0 }, { "9600", 9600, 0 },
	{ "19200", 19200, 0 }, { "38400", 38400, 0 }, { "57600", 57600, 0 },
	{ "115200", 115200, 0 }, { NULL, 0, 0 },
};

static const struct gw_opt_choice parities[] = {
	{ "none", 'N', 0 }, { "even", 'E', 0 }, { "odd", 'O', 0 }, { NULL, 0, 0 },
};

static const struct gw_opt rtu_keys[] = {
	{ .name = "device", .type = GW_OPT_STRING, RTU(device),
	  .flags = GW_OPT_REQUIRED, .help = "`/dev/ttyUSB0`, `/dev/ttyS1`" },
	{ .name = "baud", .type = GW_OPT_CHOICE, RTU(baud), .choices = bauds,
	  .def = "9600" },
	{ .name = "parity", .type = GW_OPT_CHOICE, RTU(parity), .choices = parities,
	  .def = "even" },
	{ .name = "data_bits", .type = GW_OPT_INT, RTU(data_bits), .min = 7,
	  .max = 8, .def = "8" },
	{ .name = "stop_bits", .type = GW_OPT_INT, RTU(stop_bits), .min = 1,
	  .max = 2, .def = "1" },
	{ .name = "timeout_ms", .type = GW_OPT_INT, RTU(timeout_ms), .min = 10,
	  .max = 60000, .def = "1000", .help = HELP_TIMEOUT },
	{ .name = "byte_timeout_ms", .type = GW_OPT_INT, RTU(byte_timeout_ms),
	  .min = 1, .max = 10000, .def = "100", .help = HELP_BYTE_TIMEOUT },
	{ .name = "request_pause_ms", .type = GW_OPT_INT, RTU(request_pause_ms),
	  .min = 0, .max = 10000, .def = "0", .help = HELP_REQUEST_PAUSE },
	{ .name = "connect_pause_ms", .type = GW_OPT_INT, RTU(connect_pause_ms),
	  .min = 0, .max = 10000, .def = "0",
	  .help = "silence after opening the port, before the first request" },
	{ 0 },
};

/* A profile's name: what "<profiles_dir>/<name>.prof" is called. */
static int parse_profile_name(const char *v, void *field, char *why,
			      size_t cap)
{
	if (!gw_opt_valid_id(v, GW_ID_MAX)) {
		snprintf(why, cap, "'%s' is not a valid profile name", v);
		return GW_EINVAL;
	}
	gw_strlcpy(field, v, GW_ID_MAX);
	return 0;
}

/* The meter options while the file is read: the profile's name, until
 * meter_configure loads it. */
struct meter_keys {
	struct gw_modbus_meter m;
	char profile[GW_ID_MAX];
};

static const struct gw_opt meter_keys[] = {
	{ .name = "unit", .type = GW_OPT_INT,
	  offsetof(struct meter_keys, m.unit_id), sizeof(int),
	  .min = 1, .max = GW_MODBUS_UNIT_MAX, .flags = GW_OPT_REQUIRED,
	  .help = "Modbus unit id (slave address); unique per bus" },
	{ .name = "profile", .type = GW_OPT_CUSTOM,
	  offsetof(struct meter_keys, profile), GW_ID_MAX,
	  .parse = parse_profile_name, .flags = GW_OPT_REQUIRED,
	  .doc_range = "a file `PROFILE.prof` in `profiles_dir`",
	  .help = "the meter model's register map "
		  "([profiles.md](profiles.md))" },
	{ .name = "timeout_ms", .type = GW_OPT_INT,
	  offsetof(struct meter_keys, m.timeout_ms), sizeof(int),
	  .min = 10, .max = 60000, .doc_default = "the bus's",
	  .help = "this meter's response timeout (a meter slower than the "
		  "others of its bus)" },
	{ 0 },
};

/* The edit distance (insert, delete, replace one character) between a
 * and b, at most 64 characters each are compared. */
static int edit_distance(const char *a, const char *b)
{
	int la = (int)strnlen(a, 64), lb = (int)strnlen(b, 64);
	int row[65];

	for (int j = 0; j <= lb; j++)
		row[j] = j;
	for (int i = 1; i <= la; i++) {
		int diag = row[0];
		row[0] = i;
		for (int j = 1; j <= lb; j++) {
			int up = row[j];
			int best = diag + (tolower((unsigned char)a[i - 1]) !=
					   tolower((unsigned char)b[j - 1]));
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

/* What profile_hint gathers from the directories of the search path. */
struct hint_scan {
	const char *path, *name;
	struct { char n[GW_ID_MAX]; int d; } best[3];
	char all[256];
	int nb, total, limit;
};

/* Keeps name n among the three nearest, nearest first. */
static void hint_keep(struct hint_scan *h, const char *n, int dist)
{
	int at = h->nb < 3 ? h->nb++ : 3;

	while (at > 0 && h->best[at - 1].d > dist) {
		if (at < 3)
			h->best[at] = h->best[at - 1];
		at--;
	}
	if (at < 3) {
		gw_strlcpy(h->best[at].n, n, sizeof(h->best[at].n));
		h->best[at].d = dist;
	}
}

/* The profiles of one directory of the search path; a name an earlier
 * directory has too is counted there. */
static int hint_dir(const char *dir, void *arg)
{
	struct hint_scan *h = arg;
	char first[GW_PATH_MAX], here[GW_PATH_MAX];
	DIR *d = opendir(dir);

	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		if (len <= 5 || len - 5 >= GW_ID_MAX ||
		    strcmp(e->d_name + len - 5, ".prof") != 0)
			continue;
		char n[GW_ID_MAX];
		memcpy(n, e->d_name, len - 5);
		n[len - 5] = '\0';
		snprintf(here, sizeof(here), "%s/%s", dir, e->d_name);
		if (gw_profile_locate(h->path, n, 0, first, sizeof(first)) == 0 &&
		    strcmp(first, here) != 0)
			continue;
		h->total++;
		size_t used = strlen(h->all);
		if (used + len + 3 < sizeof(h->all))
			snprintf(h->all + used, sizeof(h->all) - used, "%s%s",
				 used ? ", " : "", n);
		int dist = edit_distance(h->name, n);
		if (dist <= h->limit)
			hint_keep(h, n, dist);
	}
	closedir(d);
	return 0;
}

/* "; did you mean 'abb_b23'?" for a profile name that is in no directory
 * of the search path: the names of the profiles there (NAME.prof) nearest
 * to name, if any is near (a typo, a '-' for a '_'), else the profiles
 * there are. */
static void profile_hint(const char *path, const char *name, char *buf,
			 size_t cap)
{
	struct hint_scan h = { .path = path, .name = name };

	h.limit = (int)strlen(name) / 3;
	if (h.limit < 2)
		h.limit = 2;
	gw_profile_dirs(path, hint_dir, &h);
	if (h.nb > 0) {
		size_t len = (size_t)snprintf(buf, cap, "; did you mean '%s'", h.best[0].n);
		for (int i = 1; i < h.nb && len < cap; i++)
			len += (size_t)snprintf(buf + len, cap - len, "%s'%s'",
						i == h.nb - 1 ? " or " : ", ", h.best[i].n);
		if (len < cap)
			snprintf(buf + len, cap - len, "?");
	} else if (h.total > 0) {
		snprintf(buf, cap, "; profiles there: %s", h.all);
	} else {
		snprintf(buf, cap, "; there is no profile (*.prof) there");
	}
}

static void profile_free(void *p)
{
	gw_profile_free(p);
}

/* The profile `name` of this configuration, loaded once and shared. */
static int find_profile(const struct gw_conf_ctx *ctx, const char *name,
			const struct gw_profile **out)
{
	char key[GW_ID_MAX + 8];
	struct gw_profile *p;

	snprintf(key, sizeof(key), "profile %s", name);
	*out = gw_shared_find(ctx, key);
	if (*out)
		return 0;
	int rc = gw_profile_load_named(ctx->profiles_dir, name, &p);
	if (rc)
		return rc;
	char used[GW_PATH_MAX], hidden[GW_PATH_MAX];
	if (gw_profile_locate(ctx->profiles_dir, name, 1, hidden, sizeof(hidden)) == 0 &&
	    gw_profile_locate(ctx->profiles_dir, name, 0, used, sizeof(used)) == 0)
		gw_info("profile %s: %s (it hides %s)", name, used, hidden);
	/* The profile's own name may differ from its file name; the file
	 * name is what meters refer to. */
	gw_strlcpy(p->name, name, sizeof(p->name));
	if (gw_shared_add(ctx, key, p, profile_free)) {
		gw_profile_free(p);
		return GW_ENOMEM;
	}
	*out = p;
	return 0;
}

static int mb_meter_configure(struct gw_meter_config *m,
			      const struct gw_bus_config *bus, const int *lines,
			      const struct gw_conf_ctx *ctx)
{
	struct meter_keys *k = m->opts;
	int profile_line = lines[1];
	(void)bus;

	*ctx->where_line = lines[0];
	int rc = find_profile(ctx, k->profile, &k->m.profile);
	if (rc == GW_ENOTFOUND) {
		char hint[320];
		profile_hint(ctx->profiles_dir, k->profile, hint, sizeof(hint));
		return gw_opt_error(m->source, profile_line,
				    "meter %s: cannot load profile '%s' from %s: "
				    "no file %s.prof %s%s", m->id, k->profile,
				    ctx->profiles_dir, k->profile,
				    strchr(ctx->profiles_dir, ':') ? "in any of them" : "there",
				    hint);
	}
	if (rc == GW_EIO)
		return gw_opt_error(m->source, profile_line,
				    "meter %s: cannot load profile '%s' from %s",
				    m->id, k->profile, ctx->profiles_dir);
	if (rc)
		return gw_opt_error(m->source, profile_line,
				    "meter %s: profile '%s' is not valid (see above)",
				    m->id, k->profile);
	m->max_readings = (uint32_t)k->m.profile->n_regs;
	return 0;
}

static const char *mb_meter_where(const struct gw_meter_config *m,
				  const struct gw_bus_config *bus, char *buf,
				  size_t cap)
{
	const struct meter_keys *k = m->opts;
	(void)bus;

	snprintf(buf, cap, "unit %d", k->m.unit_id);
	return buf;
}

/* The value at which a meter's register rolls over, from its profile: an
 * unsigned integer register of 16 or 32 bits counting in steps of
 * 10^exp10 / divisor of its unit. 0 when unknown, never (64 bits, floats)
 * or not a whole number of Wh. */
static int64_t mb_rollover(const struct gw_meter_config *meter,
			   const char *obis)
{
	const struct gw_modbus_meter *mm = meter->opts;

	if (!mm || !mm->profile)
		return 0;
	for (int i = 0; i < mm->profile->n_regs; i++) {
		const struct gw_profile_reg *r = &mm->profile->regs[i];
		if (strcmp(r->obis, obis) != 0)
			continue;
		int bits = r->type == GW_T_UINT16 ? 16 : r->type == GW_T_UINT32 ? 32 : 0;
		int e = r->exp10 + r->unit_exp10;
		if (!bits || e < 0 || e > 9)
			return 0;
		int64_t steps = (int64_t)1 << bits, f = 1;
		while (e-- > 0)
			f *= 10;
		if (f % r->divisor)
			return 0;
		return steps * (f / r->divisor);
	}
	return 0;
}

int gw_modbus_is_tcp(const struct gw_bus_config *bus)
{
	return bus && bus->driver == &gw_modbus_tcp_driver;
}

int gw_modbus_is_rtu(const struct gw_bus_config *bus)
{
	return bus && bus->driver == &gw_modbus_rtu_driver;
}

int gw_modbus_is_rtutcp(const struct gw_bus_config *bus)
{
	return bus && bus->driver == &gw_modbus_rtutcp_driver;
}

const struct gw_driver_ops gw_modbus_tcp_driver = {
	.name = "modbus-tcp",
	.bus_keys = tcp_keys,
	.bus_opts_size = sizeof(struct gw_modbus_tcp_opts),
	.meter_keys = meter_keys,
	.meter_opts_size = sizeof(struct meter_keys),
	.meter_configure = mb_meter_configure,
	.where = mb_meter_where,
	.open = gw_modbus_open,
	.read = gw_modbus_read,
	.close = gw_modbus_close,
	.cycle_end = gw_modbus_cycle_end,
	.rollover = mb_rollover,
};

const struct gw_driver_ops gw_modbus_rtu_driver = {
	.name = "modbus-rtu",
	.bus_keys = rtu_keys,
	.bus_opts_size = sizeof(struct gw_modbus_rtu_opts),
	.meter_keys = meter_keys,
	.meter_opts_size = sizeof(struct meter_keys),
	.meter_configure = mb_meter_configure,
	.where = mb_meter_where,
	.open = gw_modbus_open,
	.read = gw_modbus_read,
	.close = gw_modbus_close,
	.cycle_end = gw_modbus_cycle_end,
	.rollover = mb_rollover,
};

const struct gw_driver_ops gw_modbus_rtutcp_driver = {
	.name = "modbus-rtu-tcp",
	.bus_keys = rtutcp_keys,
	.bus_opts_size = sizeof(struct gw_modbus_tcp_opts),
	.meter_keys = meter_keys,
	.meter_opts_size = sizeof(struct meter_keys),
	.meter_configure = mb_meter_configure,
	.where = mb_meter_where,
	.open = gw_modbus_open,
	.read = gw_modbus_read,
	.close = gw_modbus_close,
	.cycle_end = gw_modbus_cycle_end,
	.rollover = mb_rollover,
};
