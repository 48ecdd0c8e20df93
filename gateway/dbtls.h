/* SPDX-License-Identifier: MIT */
/*
 * dbtls.h - what a database connection string says about TLS: checked
 * when the configuration is read (a file:line error) and when the
 * uploader connects. Needs only libpq's connection-string parser.
 */
#ifndef GW_DBTLS_H
#define GW_DBTLS_H

#include <stddef.h>

/* What gw_db_tls_check says about a connection string. */
enum gw_tls_verdict {
	GW_TLS_OK = 0,      /* Unix socket, or sslmode=verify-full */
	GW_TLS_DEFAULT = 1, /* TCP without sslmode: verify-full is added */
	GW_TLS_WEAK = 2,    /* TCP with a weaker sslmode written explicitly */
	GW_TLS_REFUSE = 3,  /* TCP without sslmode and no CA to verify with */
};

/* Checks the TLS of conninfo (and of libpq's PGHOST, PGSSLMODE ...
 * variables where conninfo is silent): a TCP connection without an
 * explicit sslmode uses verify-full, which needs the server's CA
 * (sslrootcert, else ~/.postgresql/root.crt). For GW_TLS_WEAK and
 * GW_TLS_REFUSE, msg gets one line that says why. */
int gw_db_tls_check(const char *conninfo, char *msg, size_t cap);

#endif
