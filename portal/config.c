/* SPDX-License-Identifier: MIT */
/*
 * config.c - portal.ini: sections [portal] and [database]; unknown keys,
 * bad numbers and missing required keys are named with file:line.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "ini.h"
#include "jwt.h"

struct load_ctx {
	const char *path;
	struct gw_portal_config *c;
	int have_key_file, have_conninfo;
	int cookie_off_line; /* where cookie_secure = off was, or 0 */
};

void gw_portal_config_init(struct gw_portal_config *c)
{
	memset(c, 0, sizeof(*c));
	strcpy(c->listen, "127.0.0.1");
	c->port = 8470;
	c->threads = 8;
	strcpy(c->audience, "gatewayd-portal");
	c->leeway_s = 30;
	c->rate_per_minute = 60;
	c->rate_burst = 20;
	c->rate_table = 4096;
	c->cookie_secure = 1;
	c->health_timeout_ms = 1000;
	c->handoff_table = 65536;
	c->connection_timeout_s = 10;
	c->query_timeout_ms = 2000;
	c->max_connections = 256;
	c->memory_limit = 16384;
	c->max_url = 1024;
	c->max_days = 731;
	c->max_months = 36;
	c->log_level = GW_LOG_INFO;
	strcpy(c->timezone, "Asia/Ho_Chi_Minh");
}

static int bad(const struct load_ctx *x, int line, const char *key, const char *why)
{
	fprintf(stderr, "%s:%d: %s: %s\n", x->path, line, key, why);
	return GW_ECONFIG;
}

/* An unsigned number in [lo, hi]. */
static int number(const struct load_ctx *x, int line, const char *key, const char *v,
		  unsigned lo, unsigned hi, unsigned *out)
{
	char *end, msg[96];
	unsigned long n;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || v[0] == '-' || n < lo || n > hi) {
		snprintf(msg, sizeof(msg), "'%s' is not a whole number from %u to %u", v, lo, hi);
		return bad(x, line, key, msg);
	}
	*out = (unsigned)n;
	return 0;
}

static int text(const struct load_ctx *x, int line, const char *key, const char *v,
		char *out, size_t cap)
{
	if (*v == '\0')
		return bad(x, line, key, "is empty");
	if (gw_strlcpy(out, v, cap) < 0)
		return bad(x, line, key, "is too long");
	return 0;
}

static int listen_address(const struct load_ctx *x, int line, const char *v)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, v, a) != 1 && inet_pton(AF_INET6, v, a) != 1)
		return bad(x, line, "listen", "not an IPv4 or IPv6 address (e.g. 127.0.0.1 or ::1)");
	return text(x, line, "listen", v, x->c->listen, sizeof(x->c->listen));
}

/* An IANA zone name that the zone database of this machine has (the
 * database server resolves it with its own; both come from tzdata). */
static int zone_name(const struct load_ctx *x, int line, const char *v)
{
	const char *dir = getenv("TZDIR");
	char path[GW_PATH_MAX];
	struct stat st;
	size_t i;

	for (i = 0; v[i]; i++)
		if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= 'a' && v[i] <= 'z') ||
		      (v[i] >= '0' && v[i] <= '9') || strchr("/_+-", v[i])))
			break;
	if (v[i] || v[0] == '/' || strstr(v, "..") || i >= sizeof(x->c->timezone))
		return bad(x, line, "timezone", "not an IANA zone name (e.g. Asia/Ho_Chi_Minh)");
	snprintf(path, sizeof(path), "%s/%s", dir ? dir : "/usr/share/zoneinfo", v);
	if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
		return bad(x, line, "timezone", "no such zone in the zone database (tzdata)");
	return text(x, line, "timezone", v, x->c->timezone, sizeof(x->c->timezone));
}

/* The numeric keys of [portal]: name, field, bounds. */
struct num_key {
	const char *name;
	size_t off;
	unsigned lo, hi;
};
#define NK(n, f, lo, hi) { n, offsetof(struct gw_portal_config, f), lo, hi }
static const struct num_key num_keys[] = {
	NK("port", port, 1, 65535),
	NK("threads", threads, 1, 64),
	NK("leeway", leeway_s, 0, 600),
	NK("rate_per_minute", rate_per_minute, 1, 100000),
	NK("rate_burst", rate_burst, 1, 100000),
	NK("rate_table", rate_table, 16, 1u << 24),
	NK("connection_timeout", connection_timeout_s, 1, 3600),
	NK("query_timeout_ms", query_timeout_ms, 10, 600000),
	NK("max_connections", max_connections, 1, 100000),
	NK("memory_limit", memory_limit, 4096, 1u << 20),
	NK("max_url", max_url, 64, 8192),
	NK("max_days", max_days, 1, 36600),
	NK("max_months", max_months, 1, 1200),
	NK("health_timeout_ms", health_timeout_ms, 10, 60000),
	NK("handoff_table", handoff_table, 64, 1u << 24),
};

/* cookie_secure = on|off. Off is for plain HTTP on loopback only (tests,
 * a developer's machine): checked against listen once the file is read. */
static int page_key_cookie_secure(struct load_ctx *x, int line, const char *v)
{
	if (strcmp(v, "on") == 0 || strcmp(v, "yes") == 0 || strcmp(v, "true") == 0) {
		x->c->cookie_secure = 1;
	} else if (strcmp(v, "off") == 0 || strcmp(v, "no") == 0 || strcmp(v, "false") == 0) {
		x->c->cookie_secure = 0;
		x->cookie_off_line = line;
	} else {
		return bad(x, line, "cookie_secure", "not on or off");
	}
	return 0;
}

/* Whether the listen address is a loopback one (127.0.0.0/8, ::1). */
static int listen_loopback(const char *listen)
{
	unsigned char a[16];

	if (inet_pton(AF_INET, listen, a) == 1)
		return a[0] == 127;
	return strcmp(listen, "::1") == 0;
}

static int portal_key(struct load_ctx *x, const char *key, const char *v, int line)
{
	struct gw_portal_config *c = x->c;
	size_t i;

	for (i = 0; i < sizeof(num_keys) / sizeof(num_keys[0]); i++)
		if (strcmp(key, num_keys[i].name) == 0)
			return number(x, line, key, v, num_keys[i].lo, num_keys[i].hi,
				      (unsigned *)(void *)((char *)c + num_keys[i].off));
	if (strcmp(key, "cookie_secure") == 0)
		return page_key_cookie_secure(x, line, v);
	if (strcmp(key, "listen") == 0)
		return listen_address(x, line, v);
	if (strcmp(key, "key_file") == 0) {
		x->have_key_file = 1;
		return text(x, line, key, v, c->key_file, sizeof(c->key_file));
	}
	if (strcmp(key, "public_key_file") == 0) {
		x->have_key_file = 1;
		return text(x, line, key, v, c->public_key_file, sizeof(c->public_key_file));
	}
	if (strcmp(key, "audience") == 0)
		return text(x, line, key, v, c->audience, sizeof(c->audience));
	if (strcmp(key, "timezone") == 0)
		return zone_name(x, line, v);
	if (strcmp(key, "log_level") == 0) {
		if (gw_log_parse_level(v, &c->log_level) < 0)
			return bad(x, line, key, "not one of error, warn, info, debug");
		return 0;
	}
	return bad(x, line, key, "unknown key in [portal]");
}

static int on_key(void *ctx, const char *section, const char *key, const char *value, int line)
{
	struct load_ctx *x = ctx;

	if (!key) {
		if (strcmp(section, "portal") != 0 && strcmp(section, "database") != 0)
			return bad(x, line, section, "unknown section (portal or database)");
		return 0;
	}
	if (strcmp(section, "portal") == 0)
		return portal_key(x, key, value, line);
	if (strcmp(section, "database") == 0 && strcmp(key, "conninfo") == 0) {
		x->have_conninfo = 1;
		return text(x, line, key, value, x->c->conninfo, sizeof(x->c->conninfo));
	}
	if (strcmp(section, "database") == 0)
		return bad(x, line, key, "unknown key in [database]");
	return bad(x, line, key, "key outside [portal] or [database]");
}

/* public_key_file: an ES256 public key (others may read it: it is public). */
static int public_key_load(struct gw_portal_config *c)
{
	char pem[GW_PORTAL_KEY_MAX * 4];
	const char *why;
	struct stat st;
	ssize_t n;
	int fd;

	fd = open(c->public_key_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot open the public key file: %s\n", c->public_key_file, strerror(errno));
		return GW_ECONFIG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: the public key file is not a regular file\n", c->public_key_file);
		close(fd);
		return GW_ECONFIG;
	}
	n = read(fd, pem, sizeof(pem));
	close(fd);
	if (n < 0 || (size_t)n >= sizeof(pem)) {
		fprintf(stderr, "%s: cannot read the public key (or it is longer than %zu bytes)\n",
			c->public_key_file, sizeof(pem) - 1);
		return GW_ECONFIG;
	}
	why = gw_jwt_es256_key(pem, (size_t)n, &c->es256);
	if (why) {
		fprintf(stderr, "%s: %s\n", c->public_key_file, why);
		return GW_ECONFIG;
	}
	return 0;
}

int gw_portal_key_load(struct gw_portal_config *c)
{
	struct stat st;
	ssize_t n;
	int fd;

	c->key_len = 0;
	if (c->public_key_file[0] && public_key_load(c) < 0)
		return GW_ECONFIG;
	if (!c->key_file[0])
		return 0;
	fd = open(c->key_file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		fprintf(stderr, "%s: cannot open the key file: %s\n", c->key_file, strerror(errno));
		return GW_ECONFIG;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		fprintf(stderr, "%s: the key file is not a regular file\n", c->key_file);
		close(fd);
		return GW_ECONFIG;
	}
	if (st.st_mode & S_IROTH) {
		fprintf(stderr, "%s: the key file may be read by others (chmod o-r, 0640 root:portald)\n",
			c->key_file);
		close(fd);
		return GW_ECONFIG;
	}
	n = read(fd, c->key, sizeof(c->key));
	close(fd);
	if (n < 0 || (size_t)n >= sizeof(c->key)) {
		fprintf(stderr, "%s: cannot read the key (or it is longer than %d bytes)\n", c->key_file,
			GW_PORTAL_KEY_MAX - 1);
		return GW_ECONFIG;
	}
	if (n > 0 && c->key[n - 1] == '\n')
		n--;
	if (n > 0 && c->key[n - 1] == '\r')
		n--;
	if (n >= 10 && memcmp(c->key, "-----BEGIN", 10) == 0) {
		/* Used as an HMAC secret, a public key's text would let anyone
		 * who has it sign tokens. */
		fprintf(stderr, "%s: the HS256 key file holds a PEM key; an ES256 public key goes into"
			" public_key_file\n", c->key_file);
		return GW_ECONFIG;
	}
	if (n < GW_PORTAL_KEY_MIN) {
		fprintf(stderr, "%s: the key has %zd bytes, at least %d are needed\n", c->key_file, n,
			GW_PORTAL_KEY_MIN);
		return GW_ECONFIG;
	}
	c->key_len = (size_t)n;
	return 0;
}

int gw_portal_config_load(const char *path, struct gw_portal_config *c)
{
	struct load_ctx x = { path, c, 0, 0, 0 };
	int rc;

	gw_portal_config_init(c);
	rc = gw_ini_parse(path, on_key, &x);
	if (rc == GW_EIO)
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
	if (rc)
		return rc < 0 ? rc : GW_ECONFIG;
	if (!x.have_key_file) {
		fprintf(stderr, "%s: [portal] key_file is missing (the HS256 key; or public_key_file, an ES256 public key)\n", path);
		return GW_ECONFIG;
	}
	if (!x.have_conninfo) {
		fprintf(stderr, "%s: [database] conninfo is missing\n", path);
		return GW_ECONFIG;
	}
	if (!c->cookie_secure && !listen_loopback(c->listen)) {
		fprintf(stderr, "%s:%d: cookie_secure: off is only allowed with listen on a loopback"
			" address (a session cookie without Secure may cross the network in clear)\n",
			path, x.cookie_off_line);
		return GW_ECONFIG;
	}
	return gw_portal_key_load(c);
}
