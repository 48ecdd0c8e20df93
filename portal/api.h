/* SPDX-License-Identifier: MIT */
/*
 * api.h - the portal's HTTP API without the HTTP server: a request (what
 * the server parsed) in, a reply (status, type, body) out.
 *
 *   GET /v1/health                  (200, or 503 when the database does not answer)
 *   GET /, /session?token=, /signout  the customer page (page.h)
 *   GET /v1/accounts/{account}/daily?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]
 *   GET /v1/accounts/{account}/monthly?from=YYYY-MM&to=YYYY-MM[&format=csv]
 *   GET /v1/accounts/{account}/outages?from=YYYY-MM-DD&to=YYYY-MM-DD[&format=csv]
 *   GET /v1/accounts/{account}/bill[?through=YYYY-MM-DD][&format=csv]
 *   GET /v1/accounts/{account}/notices[?limit=N][&before=ID][&format=csv]
 *
 * Every /v1/accounts/ request needs "Authorization: Bearer <token>" (jwt.h)
 * whose account is the URL's; every refusal of a token is the same 401
 * (GW_API_UNAUTHORIZED), its reason only in the log. docs/portal.md.
 */
#ifndef GW_PORTAL_API_H
#define GW_PORTAL_API_H

#include <stdint.h>

#include "config.h"
#include "db.h"
#include "handoff.h"
#include "json.h"
#include "rate.h"

/* The notices a request gets when it gives no limit, and the most it may ask for. */
#define GW_API_NOTICES_DEFAULT 20
#define GW_API_NOTICES_MAX 100

/* The body of every 401: one text whatever the reason. */
#define GW_API_UNAUTHORIZED "{\"error\":\"unauthorized\"}\n"

struct gw_portal {
	const struct gw_portal_config *cfg;
	struct gw_pdb *db;
	struct gw_rate *rate;
	struct gw_handoff *handoff; /* the handoff tokens used (handoff.h) */
};

struct gw_request {
	const char *method;
	const char *path;          /* decoded path, without the query */
	const char *shown_path;    /* the same for the log: control characters
				    * replaced, cut to length; NULL: path */
	const char *authorization; /* the header, or NULL */
	const char *from, *to, *format; /* query arguments, or NULL */
	const char *limit, *before; /* query arguments of notices, or NULL */
	const char *bad_arg;       /* an argument not known or given twice, or NULL */
	const char *peer;          /* the client's address, for the log */
	int has_body;              /* a body was announced (Content-Length > 0, chunked) */
	size_t url_len;            /* of the whole request URL */
	const char *through;       /* query argument of bill, or NULL */
	/* the customer page (page.h) */
	const char *cookie;          /* the Cookie header, or NULL */
	const char *accept_language; /* the header, or NULL */
	const char *token;           /* /session's token argument, or NULL */
};

struct gw_reply {
	unsigned status;
	const char *content_type;
	struct gw_buf body;
	unsigned retry_after; /* seconds, for 429 and 503; 0: no header */
	const char *filename; /* Content-Disposition for CSV, or NULL */
	int www_authenticate; /* a 401 */
	char filename_buf[96];
	/* the customer page (page.h) */
	int html;               /* an HTML page: its security headers are sent */
	const char *location;   /* a Location header, or NULL */
	const char *set_cookie; /* a Set-Cookie header, or NULL */
	char cookie_buf[4096 + 256]; /* a token (GW_JWT_MAX), its seal and the cookie's attributes */
};

/* Answers rq into rp (rp->body initialised here; the caller frees it with
 * gw_buf_free). now_s: real seconds since 1970 (token times); mono_us:
 * monotonic microseconds (rate limit). */
void gw_api_handle(struct gw_portal *p, const struct gw_request *rq, int64_t now_s,
		   int64_t mono_us, struct gw_reply *rp);

/* One query as the service runs it, without a token: rows of `acct`
 * under a transaction whose session account is session_acct (the same
 * in the service; portald --query may give another, to show that
 * row-level security returns nothing then). rq gives from, to, format.
 * Initialises rp (free rp->body). Returns 0 (the status is in rp) or
 * GW_ENOMEM. */
int gw_api_query(struct gw_portal *p, const struct gw_request *rq, enum gw_pdb_query q,
		 const char *session_acct, const char *acct, struct gw_reply *rp);

/* Renders a query's rows as JSON or CSV (csv non-zero) into b. Returns 0,
 * or GW_EDB if a value from the database is not what it must be (a Wh
 * that is not an integer), or GW_ENOMEM. */
int gw_api_render(enum gw_pdb_query q, int csv, const char *account, const char *from,
		  const char *to, const PGresult *r, struct gw_buf *b);

/* Renders the bill estimate (GW_PQ_BILL: at least one row) as JSON or
 * CSV into b (render_bill.c). Returns 0, GW_EDB (a value that is not what
 * it must be) or GW_ENOMEM. */
int gw_api_render_bill(int csv, const char *account, const PGresult *r, struct gw_buf *b);

#endif
