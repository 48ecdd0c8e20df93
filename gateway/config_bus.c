/* SPDX-License-Identifier: MIT */
/*
 * config_bus.c - [bus NAME] and [meter ID] sections and the CSV meter
 * list: the keys every bus and meter has, and the hand-off of every other
 * key to the driver the bus's `type` names (drivers/driver.h).
 *
 * A bus's keys may come before its `type`, and a meter may come before
 * its bus: a driver's keys are kept (with their lines) until the driver
 * is known, then read by its key table. A key no driver knows is refused
 * at once; one that only another driver knows is named as such ("mode: a
 * key of iec62056-21 buses, not of modbus-tcp buses").
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "config_parse.h"

static int parse_type(const char *v, void *field, char *why, size_t cap)
{
	const struct gw_driver_ops *d = gw_driver_find(v);
	size_t n;

	if (d) {
		memcpy(field, &d, sizeof(d));
		return 0;
	}
	n = (size_t)snprintf(why, cap, "'%s' is not one of ", v);
	for (int i = 0; gw_drivers[i] && n < cap; i++)
		n += (size_t)snprintf(why + n, cap - n, "%s%s", i ? ", " : "",
				      gw_drivers[i]->name);
	return GW_EINVAL;
}

/* 0 in the struct means "the [gateway] value": a given 0 is kept as -1. */
static int parse_backoff(const char *v, void *field, char *why, size_t cap)
{
	long long x;
	int val;

	(void)why;
	(void)cap;
	if (gw_opt_parse_int(v, 0, 1000, &x))
		return GW_EINVAL;
	val = x ? (int)x : -1;
	memcpy(field, &val, sizeof(val));
	return 0;
}

#define BUS(f) offsetof(struct gw_bus_config, f), \
	sizeof(((struct gw_bus_config *)0)->f)

const struct gw_opt gw_config_bus_keys[] = {
	{ .name = "type", .type = GW_OPT_CUSTOM, BUS(driver), .parse = parse_type,
	  .flags = GW_OPT_REQUIRED,
	  .help = "the bus's protocol: the driver that reads its meters; its keys "
		  "are in the tables below" },
	{ .name = "offline_after", .type = GW_OPT_INT, BUS(offline_after),
	  .min = 1, .max = 1000, .doc_default = "`[gateway]`'s",
	  .help = "as in `[gateway]`, for the meters of this bus" },
	{ .name = "retry_backoff_max", .type = GW_OPT_CUSTOM,
	  BUS(retry_backoff_max), .parse = parse_backoff,
	  .expect = "a number in 0..1000", .doc_default = "`[gateway]`'s",
	  .doc_range = "0..1000",
	  .help = "as in `[gateway]`, for the meters of this bus" },
	{ 0 },
};

static int parse_bus_name(const char *v, void *field, char *why, size_t cap)
{
	if (!gw_opt_valid_id(v, GW_ID_MAX)) {
		snprintf(why, cap, "'%s' is not a valid bus name", v);
		return GW_EINVAL;
	}
	gw_strlcpy(field, v, GW_ID_MAX);
	return 0;
}

const struct gw_opt gw_config_meter_keys[] = {
	{ .name = "bus", .type = GW_OPT_CUSTOM, offsetof(struct meter_state, bus),
	  GW_ID_MAX, .parse = parse_bus_name, .flags = GW_OPT_REQUIRED,
	  .doc_range = "a `[bus NAME]` of the file",
	  .help = "the bus the meter hangs on; its driver reads the other keys" },
	{ 0 },
};

/* The names of the drivers whose table (bus or meter keys) has key,
 * "a, b", into buf; returns how many. */
static int drivers_with(const char *key, int meter, char *buf, size_t cap)
{
	int found = 0;
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; gw_drivers[i]; i++) {
		const struct gw_driver_ops *d = gw_drivers[i];
		if (gw_opt_find(meter ? d->meter_keys : d->bus_keys, key) < 0)
			continue;
		if (n < cap)
			n += (size_t)snprintf(buf + n, cap - n, "%s%s",
					      found ? ", " : "", d->name);
		found++;
	}
	return found;
}

static int pending_add(struct pending *p, const char *key, const char *value,
		       int line)
{
	if (p->n == p->cap) {
		int ncap = p->cap ? p->cap * 2 : 8;
		struct kv *nk = realloc(p->kv, sizeof(*nk) * (size_t)ncap);
		if (!nk)
			return GW_ENOMEM;
		p->kv = nk;
		p->cap = ncap;
	}
	struct kv *e = &p->kv[p->n];
	e->key = strdup(key);
	e->value = strdup(value);
	e->line = line;
	if (!e->key || !e->value) {
		free(e->key);
		free(e->value);
		return GW_ENOMEM;
	}
	p->n++;
	return 0;
}

static void pending_free(struct pending *p)
{
	for (int i = 0; i < p->n; i++) {
		free(p->kv[i].key);
		free(p->kv[i].value);
	}
	free(p->kv);
}

/* Resizes an array of `old` elements to `ncap`, zeroing the new part. */
static int resize(void **arr, size_t elem, int old, int ncap)
{
	void *na = realloc(*arr, (size_t)ncap * elem);

	if (!na)
		return GW_ENOMEM;
	memset((char *)na + (size_t)old * elem, 0, (size_t)(ncap - old) * elem);
	*arr = na;
	return 0;
}

int gw_config_add_bus(struct parse_state *st, const char *name, int line)
{
	struct gw_config *c = st->cfg;
	int cap = st->cap_buses;

	for (int i = 0; i < c->n_buses; i++)
		if (strcmp(c->buses[i].name, name) == 0)
			return gw_opt_error(st->file, line,
					    "bus '%s' is defined twice (first at line %d)",
					    name, c->buses[i].line);
	if (c->n_buses == st->cap_buses) {
		int ncap = cap ? cap * 2 : 16;
		if (resize((void **)&c->buses, sizeof(*c->buses), cap, ncap) ||
		    resize((void **)&st->bus, sizeof(*st->bus), cap, ncap))
			return GW_ENOMEM;
		st->cap_buses = ncap;
	}
	struct gw_bus_config *b = &c->buses[c->n_buses++];
	memset(b, 0, sizeof(*b));
	gw_strlcpy(b->name, name, sizeof(b->name));
	b->line = line;
	return 0;
}

/* The configuration's own copy of file, made once per file. NULL: out
 * of memory. */
static const char *source_of(struct gw_config *c, const char *file)
{
	for (int i = c->n_sources - 1; i >= 0; i--)
		if (strcmp(c->sources[i], file) == 0)
			return c->sources[i];
	char **ns = realloc(c->sources, ((size_t)c->n_sources + 1) * sizeof(*ns));
	if (!ns)
		return NULL;
	c->sources = ns;
	ns[c->n_sources] = strdup(file);
	return ns[c->n_sources] ? ns[c->n_sources++] : NULL;
}

/* The configuration's copy of a meter's id (shorter than GW_ID_MAX), in
 * its blocks of ids. NULL: out of memory. */
static const char *id_copy(struct gw_config *c, const char *id)
{
	size_t n = strlen(id) + 1;

	if (!c->n_id_blocks || c->ids_used + n > GW_CONFIG_ID_BLOCK) {
		if (gw_block_add(&c->id_blocks, &c->n_id_blocks, GW_CONFIG_ID_BLOCK))
			return NULL;
		c->ids_used = 0;
	}
	char *at = c->id_blocks[c->n_id_blocks - 1] + c->ids_used;
	memcpy(at, id, n);
	c->ids_used += n;
	return at;
}

const char *gw_config_meter_place(const struct gw_config *c,
				  const struct gw_meter_config *m, char *buf,
				  size_t cap)
{
	const struct gw_bus_config *bus = &c->buses[m->bus];
	char where[GW_WHERE_MAX];

	snprintf(buf, cap, "%s on bus %s",
		 gw_meter_where(m, bus, where, sizeof(where)), bus->name);
	return buf;
}

/* The slot of the meter with this id in c->meter_slots, or the empty
 * slot where it would go. */
static int *meter_slot(const struct gw_config *c, const char *id)
{
	unsigned mask = (unsigned)c->n_meter_slots - 1;

	for (unsigned i = gw_hash_str(GW_HASH_INIT, id) & mask;; i = (i + 1) & mask) {
		int *slot = &c->meter_slots[i];
		if (!*slot || strcmp(c->meters[*slot - 1].id, id) == 0)
			return slot;
	}
}

const struct gw_meter_config *gw_config_find_meter(const struct gw_config *c,
						   const char *id)
{
	if (!c->n_meter_slots)
		return NULL;
	int at = *meter_slot(c, id);
	return at ? &c->meters[at - 1] : NULL;
}

/* Room in c->meter_slots for one meter more. */
static int meter_slots_room(struct gw_config *c)
{
	if ((c->n_meters + 1) * 2 <= c->n_meter_slots)
		return 0;
	int n = c->n_meter_slots ? c->n_meter_slots * 2 : 64;
	int *old = c->meter_slots;
	c->meter_slots = calloc((size_t)n, sizeof(*c->meter_slots));
	if (!c->meter_slots) {
		c->meter_slots = old;
		return GW_ENOMEM;
	}
	c->n_meter_slots = n;
	for (int i = 0; i < c->n_meters; i++)
		*meter_slot(c, c->meters[i].id) = i + 1;
	free(old);
	return 0;
}

int gw_config_add_meter(struct parse_state *st, const char *id,
			const char *file, int line)
{
	struct gw_config *c = st->cfg;
	int cap = st->cap_meters;

	if (meter_slots_room(c))
		return GW_ENOMEM;
	const struct gw_meter_config *first = gw_config_find_meter(c, id);
	if (first)
		return gw_opt_error(file, line,
				    "meter '%s' is defined twice (first at %s:%d)",
				    id, first->source, first->line);
	if (c->n_meters == st->cap_meters) {
		int ncap = cap ? cap * 2 : 16;
		if (resize((void **)&c->meters, sizeof(*c->meters), cap, ncap) ||
		    resize((void **)&st->meter, sizeof(*st->meter), cap, ncap))
			return GW_ENOMEM;
		st->cap_meters = ncap;
	}
	struct gw_meter_config *m = &c->meters[c->n_meters];
	memset(m, 0, sizeof(*m));
	memset(&st->meter[c->n_meters], 0, sizeof(st->meter[0]));
	_Static_assert(GW_ID_MAX <= GW_CONFIG_ID_BLOCK, "an id fits a block");
	m->id = id_copy(c, id);
	m->source = source_of(c, file);
	if (!m->id || !m->source)
		return GW_ENOMEM;
	m->bus = -1;
	m->line = line;
	c->n_meters++;
	*meter_slot(c, id) = c->n_meters;
	return 0;
}

int gw_config_key_bus(struct parse_state *st, const char *key,
		      const char *value, int line)
{
	struct gw_config *c = st->cfg;
	int i = c->n_buses - 1, k = gw_opt_find(gw_config_bus_keys, key);
	char who[256];

	if (k >= 0) {
		if (strcmp(key, "type") == 0)
			st->bus[i].type_line = line;
		return gw_opt_set(&gw_config_bus_keys[k], &c->buses[i], value,
				  c->path, st->file, line);
	}
	if (!drivers_with(key, 0, who, sizeof(who)))
		return gw_opt_error(st->file, line, "unknown key '%s' in [bus %s]",
				    key, c->buses[i].name);
	st->bus[i].keys.file = st->file;
	return pending_add(&st->bus[i].keys, key, value, line);
}

int gw_config_key_meter(struct parse_state *st, const char *key,
			const char *value, int line)
{
	struct gw_config *c = st->cfg;
	int i = c->n_meters - 1, k = gw_opt_find(gw_config_meter_keys, key);
	char who[256];

	if (k >= 0) {
		st->meter[i].bus_line = line;
		return gw_opt_set(&gw_config_meter_keys[k], &st->meter[i], value,
				  c->path, st->file, line);
	}
	if (!drivers_with(key, 1, who, sizeof(who)))
		return gw_opt_error(st->file, line, "unknown key '%s' in [meter %s]",
				    key, c->meters[i].id);
	return pending_add(&st->meter[i].keys, key, value, line);
}

/* Reads the keys kept in p by the driver's table tab into obj; lines[]
 * gets each key's line. what names the section in messages. */
static int hand_over(const struct pending *p, const struct gw_opt *tab,
		     void *obj, int *lines, const struct gw_driver_ops *d,
		     int meter, const char *what, const char *base)
{
	char who[256];

	for (int j = 0; j < p->n; j++) {
		const struct kv *e = &p->kv[j];
		int k = gw_opt_find(tab, e->key);
		if (k >= 0) {
			lines[k] = e->line;
			int rc = gw_opt_set(&tab[k], obj, e->value, base, p->file,
					    e->line);
			if (rc)
				return rc;
			continue;
		}
		drivers_with(e->key, meter, who, sizeof(who));
		if (meter)
			return gw_opt_error(p->file, e->line,
					    "%s: %s: only meters on %s %s bus have one",
					    what, e->key,
					    strchr("aeiou", who[0]) ? "an" : "a", who);
		return gw_opt_error(p->file, e->line,
				    "%s: %s: a key of %s buses, not of %s buses",
				    what, e->key, who, d->name);
	}
	return 0;
}

/* A new options struct of size bytes with tab's defaults, and a line per
 * key of tab. */
static int new_opts(const struct gw_opt *tab, size_t size, const char *base,
		    void **opts, int **lines)
{
	*opts = calloc(1, size ? size : 1);
	*lines = calloc((size_t)gw_opt_count(tab) + 1, sizeof(int));
	if (!*opts || !*lines)
		return GW_ENOMEM;
	return gw_opt_defaults(tab, *opts, base) ? GW_ECONFIG : 0;
}

/* The end of a [bus] section: its driver's keys go to the driver. */
int gw_config_section_end(struct parse_state *st)
{
	struct gw_config *c = st->cfg;
	char what[GW_ID_MAX + 8];

	if (st->sect != S_BUS)
		return 0;
	st->sect = S_NONE;
	int i = c->n_buses - 1;
	struct gw_bus_config *b = &c->buses[i];
	struct bus_state *bs = &st->bus[i];
	const struct gw_driver_ops *d = b->driver;
	if (!d) /* no type: reported once the file is read */
		return 0;
	int rc = new_opts(d->bus_keys, d->bus_opts_size, c->path, &b->opts,
			  &bs->lines);
	if (rc)
		return rc;
	snprintf(what, sizeof(what), "[bus %s]", b->name);
	bs->flushed = 1;
	return hand_over(&bs->keys, d->bus_keys, b->opts, bs->lines, d, 0, what,
			 c->path);
}

/* Splits a CSV line on commas in place (no quoting: ids never contain
 * commas). Returns the number of fields. */
static int csv_split(char *s, char **f, int max)
{
	int n = 0;

	for (;;) {
		char *comma = strchr(s, ',');
		if (n < max) {
			if (comma)
				*comma = '\0';
			char *b = s, *e;
			while (*b == ' ' || *b == '\t')
				b++;
			e = b + strlen(b);
			while (e > b && (e[-1] == ' ' || e[-1] == '\t' ||
					 e[-1] == '\r'))
				*--e = '\0';
			f[n] = b;
		}
		n++;
		if (!comma)
			return n;
		s = comma + 1;
	}
}

/* One meter of the CSV list: fields meter_id, bus, unit, profile and, if
 * the header has it, timeout_ms (empty: the bus's). The unit, profile and
 * timeout_ms columns are keys of the bus's driver. */
static int csv_meter(struct parse_state *st, const char *path, int line,
		     char **fields, int n)
{
	if (!gw_opt_valid_id(fields[0], GW_ID_MAX))
		return gw_opt_error(path, line, "meter_id: '%s' is not a valid id",
				    fields[0]);
	const char *saved = st->file;
	st->file = path;
	int rc = gw_config_add_meter(st, fields[0], path, line);
	if (rc == 0)
		rc = gw_config_key_meter(st, "bus", fields[1], line);
	if (rc == 0)
		rc = gw_config_key_meter(st, "unit", fields[2], line);
	if (rc == 0)
		rc = gw_config_key_meter(st, "profile", fields[3], line);
	if (rc == 0 && n > 4 && fields[4][0])
		rc = gw_config_key_meter(st, "timeout_ms", fields[4], line);
	st->meter[st->cfg->n_meters - 1].keys.file = path;
	st->file = saved;
	return rc;
}

/* Reads the meter list: a header "meter_id,bus,unit,profile" (or with a
 * fifth column "timeout_ms") then one meter per line; '#' comments and
 * blank lines are skipped. A UTF-8 byte
 * order mark (spreadsheets write one with "CSV UTF-8") is skipped; a NUL
 * byte (a UTF-16 file) is an error naming its line. */
static int load_meters_csv(struct parse_state *st, const char *path, int at)
{
	FILE *f = fopen(path, "r");
	char *line_buf = NULL;
	size_t line_cap = 0;
	ssize_t len;
	int line = 0, rc = 0, header = 0, cols = 4;

	if (!f)
		return gw_opt_error(st->file, at, "meters: cannot open '%s': %s",
				    path, strerror(errno));
	while ((len = getline(&line_buf, &line_cap, f)) >= 0) {
		char *fields[8];
		line++;
		if (memchr(line_buf, '\0', (size_t)len)) {
			rc = gw_opt_error(path, line,
					  "NUL byte in line (a UTF-16 file? save the list as CSV, UTF-8 or ASCII)");
			break;
		}
		if (len >= 1024) {
			rc = gw_opt_error(path, line, "line too long");
			break;
		}
		line_buf[strcspn(line_buf, "\n")] = '\0';
		char *p = line_buf;
		if (line == 1 && strncmp(p, "\xEF\xBB\xBF", 3) == 0)
			p += 3;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '\0' || *p == '#' || *p == '\r')
			continue;
		int n = csv_split(p, fields, 8);
		if (!header) {
			if ((n != 4 && n != 5) || strcmp(fields[0], "meter_id") ||
			    strcmp(fields[1], "bus") || strcmp(fields[2], "unit") ||
			    strcmp(fields[3], "profile") ||
			    (n == 5 && strcmp(fields[4], "timeout_ms"))) {
				rc = gw_opt_error(path, line,
						  "expected the header 'meter_id,bus,unit,profile' "
						  "(or with ',timeout_ms')");
				break;
			}
			header = 1;
			cols = n;
			continue;
		}
		if (n != cols) {
			rc = gw_opt_error(path, line, "expected %d fields, found %d",
					  cols, n);
			break;
		}
		rc = csv_meter(st, path, line, fields, n);
		if (rc)
			break;
	}
	if (rc == 0 && ferror(f))
		rc = gw_opt_error(path, 0, "read error");
	if (rc == 0 && !header)
		rc = gw_opt_error(path, 0, "empty meter list (no header line)");
	free(line_buf);
	fclose(f);
	return rc;
}

static struct gw_conf_ctx conf_ctx(struct parse_state *st)
{
	struct gw_config *c = st->cfg;
	struct gw_conf_ctx ctx = {
		.path = c->path,
		.profiles_dir = c->profiles_dir,
		.poll_interval_s = c->poll_interval_s,
		.shared = &c->profiles,
		.n_shared = &c->n_profiles,
	};
	return ctx;
}

/* A bus once the file is read: its type, its driver's required keys and
 * what the driver checks across keys. */
static int finish_bus(struct parse_state *st, int i)
{
	struct gw_config *c = st->cfg;
	struct gw_bus_config *b = &c->buses[i];
	struct bus_state *bs = &st->bus[i];
	struct gw_conf_ctx ctx = conf_ctx(st);

	if (!b->driver || !bs->flushed)
		return gw_opt_error(c->path, b->line,
				    "[bus %s]: missing required key 'type'", b->name);
	const struct gw_opt *o = gw_opt_missing(b->driver->bus_keys, bs->lines);
	if (o)
		return gw_opt_error(c->path, b->line,
				    "[bus %s]: missing required key '%s' for %s",
				    b->name, o->name, b->driver->name);
	if (b->driver->bus_configure)
		return b->driver->bus_configure(b, bs->lines, &ctx);
	return 0;
}

/* Meter i's options, once its driver has configured them, become those
 * of an earlier meter with the same driver and the same bytes, if there
 * is one (freed with that one): the same unit and profile on another
 * modbus-tcp bus, the same address on another iec62056-21 line. 10,000
 * meters on 50 buses of 200 units have 200 blocks, not 10,000. */
static void share_opts(struct parse_state *st, int i)
{
	struct gw_config *c = st->cfg;
	struct gw_meter_config *m = &c->meters[i];
	const struct gw_driver_ops *d = c->buses[m->bus].driver;
	size_t size = d->meter_opts_size;
	const void *p = m->opts;

	if (!size)
		return;
	unsigned mask = (unsigned)st->n_where_slots - 1;
	unsigned at = gw_hash_mem(GW_HASH_INIT, p, size) & mask;
	for (; st->opts_slots[at]; at = (at + 1) & mask) {
		struct gw_meter_config *o = &c->meters[st->opts_slots[at] - 1];
		if (c->buses[o->bus].driver == d && memcmp(o->opts, p, size) == 0) {
			free(m->opts);
			m->opts = o->opts;
			m->opts_shared = 1;
			return;
		}
	}
	st->opts_slots[at] = i + 1;
}

/* A meter once every bus is known: its driver reads its keys. */
static int finish_meter(struct parse_state *st, int i)
{
	struct gw_config *c = st->cfg;
	struct gw_meter_config *m = &c->meters[i];
	struct meter_state *ms = &st->meter[i];
	const char *mf = m->source;
	struct gw_conf_ctx ctx = conf_ctx(st);
	int *lines = NULL, where_line = 0;

	if (!ms->bus_line)
		return gw_opt_error(mf, m->line, "meter %s: missing required key 'bus'",
				    m->id);
	for (int b = 0; b < c->n_buses; b++)
		if (strcmp(c->buses[b].name, ms->bus) == 0)
			m->bus = b;
	if (m->bus < 0)
		return gw_opt_error(mf, ms->bus_line, "meter %s: no bus named '%s'",
				    m->id, ms->bus);
	const struct gw_bus_config *bus = &c->buses[m->bus];
	const struct gw_driver_ops *d = bus->driver;
	char what[GW_ID_MAX + 8];
	snprintf(what, sizeof(what), "meter %s", m->id);
	if (!ms->keys.file)
		ms->keys.file = mf;
	int rc = new_opts(d->meter_keys, d->meter_opts_size, c->path, &m->opts,
			  &lines);
	if (rc == 0)
		rc = hand_over(&ms->keys, d->meter_keys, m->opts, lines, d, 1, what,
			       c->path);
	const struct gw_opt *o = rc ? NULL : gw_opt_missing(d->meter_keys, lines);
	if (o)
		rc = gw_opt_error(mf, m->line, "meter %s: missing required key '%s'",
				  m->id, o->name);
	ctx.where_line = &where_line;
	if (rc == 0)
		rc = d->meter_configure(m, bus, lines, &ctx);
	free(lines);
	if (rc)
		return rc;
	/* Two meters in one place on a bus: one of them would never be
	 * read (or read for the other). */
	char where[GW_WHERE_MAX], where2[GW_WHERE_MAX];
	gw_meter_where(m, bus, where, sizeof(where));
	unsigned mask = (unsigned)st->n_where_slots - 1;
	unsigned at = gw_hash_str(gw_hash_str(GW_HASH_INIT, bus->name), where);
	for (at &= mask; st->where_slots[at]; at = (at + 1) & mask) {
		const struct gw_meter_config *o2 = &c->meters[st->where_slots[at] - 1];
		if (o2->bus == m->bus &&
		    strcmp(gw_meter_where(o2, bus, where2, sizeof(where2)), where) == 0)
			return gw_opt_error(mf, where_line ? where_line : m->line,
					    "meter %s: %s on bus %s is already meter %s (%s:%d)",
					    m->id, where, bus->name, o2->id,
					    o2->source, o2->line);
	}
	st->where_slots[at] = i + 1;
	share_opts(st, i);
	return 0;
}

int gw_config_finish_buses(struct parse_state *st)
{
	struct gw_config *c = st->cfg;
	int rc;

	for (int i = 0; i < c->n_buses; i++) {
		rc = finish_bus(st, i);
		if (rc)
			return rc;
	}
	int at = st->gw_lines[gw_opt_find(gw_config_gateway_keys, "meters")];
	if (at) {
		rc = load_meters_csv(st, c->meters_csv, at);
		if (rc)
			return rc;
	}
	st->n_where_slots = c->n_meter_slots;
	st->where_slots = calloc((size_t)st->n_where_slots + 1, sizeof(int));
	st->opts_slots = calloc((size_t)st->n_where_slots + 1, sizeof(int));
	if (!st->where_slots || !st->opts_slots)
		return GW_ENOMEM;
	for (int i = 0; i < c->n_meters; i++) {
		rc = finish_meter(st, i);
		if (rc)
			return rc;
	}
	/* the array's doubling left up to half of it unused: 1 MB at
	 * 10,000 meters, for the daemon's life */
	if (c->n_meters && c->n_meters < st->cap_meters) {
		struct gw_meter_config *fit =
			realloc(c->meters, (size_t)c->n_meters * sizeof(*fit));
		if (fit)
			c->meters = fit;
	}
	return 0;
}

void gw_config_parse_free(struct parse_state *st)
{
	for (int i = 0; i < st->cfg->n_buses && st->bus; i++) {
		pending_free(&st->bus[i].keys);
		free(st->bus[i].lines);
	}
	free(st->bus);
	for (int i = 0; i < st->cfg->n_meters && st->meter; i++)
		pending_free(&st->meter[i].keys);
	free(st->meter);
	free(st->where_slots);
	free(st->opts_slots);
}
