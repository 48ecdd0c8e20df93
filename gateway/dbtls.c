/* SPDX-License-Identifier: MIT */
/*
 * dbtls.c - the TLS verdict on a connection string; see dbtls.h.
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dbtls.h"
#include "gw.h"

/* Whether a libpq host list entry is a Unix socket: a path, an abstract
 * socket, or empty (libpq's default socket directory). */
static int host_is_socket(const char *h, size_t n)
{
	return n == 0 || h[0] == '/' || h[0] == '@';
}

/* Whether any of the comma-separated hosts is reached over TCP. */
static int hosts_tcp(const char *hosts)
{
	const char *p = hosts;

	for (;;) {
		const char *comma = strchr(p, ',');
		size_t n = comma ? (size_t)(comma - p) : strlen(p);

		if (!host_is_socket(p, n))
			return 1;
		if (!comma)
			return 0;
		p = comma + 1;
	}
}

int gw_db_tls_check(const char *conninfo, char *msg, size_t cap)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo ? conninfo : "", NULL);
	const char *host = NULL, *hostaddr = NULL, *mode = NULL, *root = NULL;
	int tcp, rc = GW_TLS_OK;
	char home_root[GW_PATH_MAX];
	FILE *f;

	msg[0] = '\0';
	if (!opts) {
		snprintf(msg, cap, "the connection string does not parse");
		return GW_TLS_REFUSE;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val || !*o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0)
			host = o->val;
		else if (strcmp(o->keyword, "hostaddr") == 0)
			hostaddr = o->val;
		else if (strcmp(o->keyword, "sslmode") == 0)
			mode = o->val;
		else if (strcmp(o->keyword, "sslrootcert") == 0)
			root = o->val;
	}
	/* What libpq would take from the environment otherwise. */
	if (!host)
		host = getenv("PGHOST");
	if (!hostaddr)
		hostaddr = getenv("PGHOSTADDR");
	if (!mode)
		mode = getenv("PGSSLMODE");
	if (!root)
		root = getenv("PGSSLROOTCERT");
	tcp = (hostaddr && *hostaddr) || hosts_tcp(host ? host : "");
	if (!tcp) {
		rc = GW_TLS_OK;
	} else if (mode && *mode) {
		if (strcmp(mode, "verify-full") != 0) {
			snprintf(msg, cap, "sslmode=%s: the database server's identity "
				 "is not verified%s; use sslmode=verify-full", mode,
				 strcmp(mode, "verify-ca") == 0 ? " (its name is not checked)" : "");
			rc = GW_TLS_WEAK;
		}
	} else {
		/* verify-full by default: it needs the CA of the server's
		 * certificate. */
		if (!root || !*root) {
			const char *home = getenv("HOME");

			snprintf(home_root, sizeof(home_root), "%s/.postgresql/root.crt",
				 home ? home : "");
			root = home_root;
		}
		f = fopen(root, "r");
		if (f) {
			fclose(f);
			rc = GW_TLS_DEFAULT;
		} else {
			snprintf(msg, cap, "TCP connection without sslmode: verify-full "
				 "is the default and needs the server's CA (sslrootcert=FILE; "
				 "%s is not readable); or write sslmode= explicitly", root);
			rc = GW_TLS_REFUSE;
		}
	}
	PQconninfoFree(opts);
	return rc;
}
