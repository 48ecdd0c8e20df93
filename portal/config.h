/* SPDX-License-Identifier: MIT */
/*
 * config.h - portald's configuration file, portal.ini (docs/portal.md has
 * every key). Errors name file:line (gateway/common/ini.c).
 */
#ifndef GW_PORTAL_CONFIG_H
#define GW_PORTAL_CONFIG_H

#include <stddef.h>

#include <openssl/evp.h>

#include "gw.h"

#define GW_PORTAL_KEY_MIN 32   /* bytes: HS256 wants a key of the hash's size */
#define GW_PORTAL_KEY_MAX 1024

struct gw_portal_config {
	char listen[64];          /* an IPv4 or IPv6 address; default 127.0.0.1 */
	unsigned port;            /* default 8470 */
	unsigned threads;         /* database connections (queries at once); 8 */
	char key_file[GW_PATH_MAX];
	char audience[128];       /* the "aud" tokens must name; default gatewayd-portal */
	unsigned leeway_s;        /* clock difference allowed on exp/nbf; 30 */
	int cookie_secure;        /* the customer page's cookie is Secure; on */
	unsigned health_timeout_ms; /* /v1/health's SELECT 1; 1000 */
	unsigned rate_per_minute; /* per account; 60 */
	unsigned rate_burst;      /* 20 */
	unsigned rate_table;      /* accounts tracked at once; 4096 */
	unsigned connection_timeout_s; /* idle or slow client; 10 */
	unsigned query_timeout_ms;     /* statement_timeout of each request; 2000 */
	unsigned max_connections;      /* open HTTP connections; 256 */
	unsigned memory_limit;         /* bytes per connection (headers, URL); 16384 */
	unsigned max_url;              /* longest request URL; 1024 */
	unsigned max_days;             /* longest daily range; 731 */
	unsigned max_months;           /* longest monthly range; 36 */
	char conninfo[1024];           /* [database] conninfo */
	char timezone[64];             /* the customers' IANA zone: the bill's "yesterday"; Asia/Ho_Chi_Minh */
	enum gw_log_level log_level;
	/* the key, read from key_file by gw_portal_config_load */
	unsigned char key[GW_PORTAL_KEY_MAX];
	size_t key_len;                /* 0: no key_file, no HS256 */
	char public_key_file[GW_PATH_MAX]; /* ES256: an EC P-256 public key in PEM; "" none */
	EVP_PKEY *es256;               /* read from public_key_file; NULL: no ES256 */
	unsigned handoff_table;        /* handoff tokens remembered until they expire; 65536 */
};

/* Sets the defaults. */
void gw_portal_config_init(struct gw_portal_config *c);

/* Reads path into c (defaults first), then the key file. Returns 0, or
 * GW_ECONFIG after printing "file:line: message" (or "key file: ...")
 * on stderr, or GW_EIO if the file cannot be read. */
int gw_portal_config_load(const char *path, struct gw_portal_config *c);

/* Reads the key files: key_file's bytes (HS256), one trailing newline
 * dropped, at least GW_PORTAL_KEY_MIN bytes, refused when others may read
 * it or when it holds a PEM key; public_key_file's EC P-256 public key
 * (ES256). Returns 0 or GW_ECONFIG (reported). */
int gw_portal_key_load(struct gw_portal_config *c);

#endif
