/* SPDX-License-Identifier: MIT */
/*
 * api.c - routes, the token check, arguments, and the JSON and CSV forms
 * of the answers; see api.h.
 *
 * Order of checks for /v1/accounts/...: the token (401), then the URL's
 * account against the token's (401, the same body), then the rate limit
 * (429), then the arguments (400), then the database (503 / 500). A
 * client without a valid token learns nothing else, not even whether its
 * arguments were right.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api.h"
#include "jwt.h"
#include "page.h"

static void reply_text(struct gw_reply *rp, unsigned status, const char *json)
{
	rp->status = status;
	rp->content_type = "application/json";
	gw_buf_puts(&rp->body, json);
}

/* A 400 that says what is wrong with the request (never about tokens). */
static void reply_bad(struct gw_reply *rp, const char *what)
{
	rp->status = 400;
	rp->content_type = "application/json";
	gw_buf_puts(&rp->body, "{\"error\":\"bad request\",\"detail\":");
	gw_json_string(&rp->body, what);
	gw_buf_puts(&rp->body, "}\n");
}

static const char *shown(const struct gw_request *rq)
{
	return rq->shown_path ? rq->shown_path : rq->path;
}

static void refuse(struct gw_reply *rp, const struct gw_request *rq, const char *why)
{
	gw_info("portal: %s %s from %s: refused: %s", rq->method, shown(rq),
		rq->peer ? rq->peer : "?", why);
	rp->www_authenticate = 1;
	reply_text(rp, 401, GW_API_UNAUTHORIZED);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int leap(unsigned y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* "YYYY-MM" (len 7) or "YYYY-MM-DD" (len 10), years 1000-9999, a real
 * calendar date. Returns 0 and the parts, or -1. */
static int parse_date(const char *s, size_t want_len, unsigned *y, unsigned *m, unsigned *d)
{
	static const unsigned mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	size_t i;

	if (!s || strlen(s) != want_len)
		return -1;
	for (i = 0; i < want_len; i++)
		if (i == 4 || i == 7 ? s[i] != '-' : (s[i] < '0' || s[i] > '9'))
			return -1;
	*y = (unsigned)atoi(s);
	*m = (unsigned)atoi(s + 5);
	*d = want_len == 10 ? (unsigned)atoi(s + 8) : 1;
	if (*y < 1000 || *m < 1 || *m > 12 || *d < 1 ||
	    *d > mdays[*m - 1] + (*m == 2 && leap(*y)))
		return -1;
	return 0;
}

/* Checks from/to of a daily or monthly request and writes the query's
 * bounds (YYYY-MM-DD) into qf/qt. Returns NULL or what is wrong. */
static const char *range(const struct gw_portal_config *c, enum gw_pdb_query q,
			 const struct gw_request *rq, char *qf, char *qt)
{
	unsigned y1, m1, d1, y2, m2, d2;
	int days = q != GW_PQ_MONTHLY;
	size_t len = days ? 10 : 7;

	if (!rq->from || !rq->to)
		return days ? "from and to are needed (YYYY-MM-DD)"
					: "from and to are needed (YYYY-MM)";
	if (parse_date(rq->from, len, &y1, &m1, &d1) < 0 || parse_date(rq->to, len, &y2, &m2, &d2) < 0)
		return days ? "from and to must be dates YYYY-MM-DD"
					: "from and to must be months YYYY-MM";
	if (days) {
		int64_t n = days_from_civil(y2, m2, d2) - days_from_civil(y1, m1, d1) + 1;
		if (n < 1)
			return "from is after to";
		if (n > c->max_days)
			return "the range has more days than this portal serves at once";
		snprintf(qf, 16, "%04u-%02u-%02u", y1, m1, d1);
		snprintf(qt, 16, "%04u-%02u-%02u", y2, m2, d2);
	} else {
		int64_t n = ((int64_t)y2 * 12 + m2) - ((int64_t)y1 * 12 + m1) + 1;
		if (n < 1)
			return "from is after to";
		if (n > c->max_months)
			return "the range has more months than this portal serves at once";
		snprintf(qf, 16, "%04u-%02u-01", y1, m1);
		if (m2 == 12)
			snprintf(qt, 16, "%04u-01-01", y2 + 1);
		else
			snprintf(qt, 16, "%04u-%02u-01", y2, m2 + 1);
	}
	return NULL;
}

/* The arguments of notices: limit 1 to GW_API_NOTICES_MAX (default
 * GW_API_NOTICES_DEFAULT) into lim, before (a notice id: only older
 * notices) into before ("" if none); no from or to. Returns NULL or what
 * is wrong. */
static const char *notice_args(const struct gw_request *rq, char *lim, char *before)
{
	size_t n;

	if (rq->from || rq->to)
		return "notices take limit and before, not from and to";
	snprintf(lim, 16, "%d", GW_API_NOTICES_DEFAULT);
	before[0] = '\0';
	if (rq->limit) {
		n = strlen(rq->limit);
		if (n < 1 || n > 3 || strspn(rq->limit, "0123456789") != n || atoi(rq->limit) < 1 ||
		    atoi(rq->limit) > GW_API_NOTICES_MAX)
			return "limit must be a number from 1 to 100";
		snprintf(lim, 16, "%d", atoi(rq->limit));
	}
	if (rq->before) {
		n = strlen(rq->before);
		if (n < 1 || n > 18 || strspn(rq->before, "0123456789") != n || rq->before[0] == '0')
			return "before must be a notice id";
		memcpy(before, rq->before, n + 1);
	}
	return NULL;
}

/* Splits "/v1/accounts/{acct}/{what}". Returns 0 and copies the account,
 * or -1 if the path is not of that form. */
static int account_path(const char *path, char *acct, const char **what)
{
	static const char prefix[] = "/v1/accounts/";
	const char *a, *slash;

	if (strncmp(path, prefix, sizeof(prefix) - 1) != 0)
		return -1;
	a = path + sizeof(prefix) - 1;
	slash = strchr(a, '/');
	if (!slash || slash == a || (size_t)(slash - a) >= GW_JWT_ACCOUNT_MAX)
		return -1;
	memcpy(acct, a, (size_t)(slash - a));
	acct[slash - a] = '\0';
	*what = slash + 1;
	return 0;
}

/* The token check. Returns 0 with the token's account in claims, or -1
 * after a 401 (the reason logged). */
static int authenticate(const struct gw_portal *p, const struct gw_request *rq, int64_t now_s,
			const char *url_account, struct gw_reply *rp, struct gw_jwt_claims *claims)
{
	struct gw_jwt_keys keys = { p->cfg->key_len ? p->cfg->key : NULL, p->cfg->key_len, p->cfg->es256 };
	const char *h = rq->authorization, *tok;
	char why[160];
	int rc;

	if (!h) {
		refuse(rp, rq, "no Authorization header");
		return -1;
	}
	if (strncasecmp(h, "Bearer ", 7) != 0) {
		refuse(rp, rq, "Authorization is not Bearer");
		return -1;
	}
	for (tok = h + 7; *tok == ' '; tok++)
		;
	rc = gw_jwt_verify_keys(tok, strlen(tok), &keys, p->cfg->audience,
			   now_s, p->cfg->leeway_s, claims);
	if (rc != GW_JWT_OK) {
		refuse(rp, rq, gw_jwt_strerror(rc));
		return -1;
	}
	if (strcmp(claims->account, url_account) != 0) {
		snprintf(why, sizeof(why), "token of account %s asked for another account", claims->account);
		refuse(rp, rq, why);
		return -1;
	}
	return 0;
}

/* Runs the query and renders its answer. */
static void answer(struct gw_portal *p, const struct gw_request *rq, enum gw_pdb_query q,
		   const char *session_acct, const char *acct, const char *qf, const char *qt,
		   struct gw_reply *rp)
{
	int csv = rq->format && strcmp(rq->format, "csv") == 0;
	PGresult *r = NULL;
	int rc;

	rc = gw_pdb_query(p->db, q, session_acct, acct, qf, qt, &r);
	if (rc == GW_ECONN) {
		rp->retry_after = 5;
		reply_text(rp, 503, "{\"error\":\"database unavailable\"}\n");
		return;
	}
	if (rc < 0) {
		reply_text(rp, 500, "{\"error\":\"query failed\"}\n");
		return;
	}
	rc = gw_api_render(q, csv, acct, rq->from, rq->to, r, &rp->body);
	PQclear(r);
	if (rc < 0) {
		gw_buf_free(&rp->body);
		reply_text(rp, 500, "{\"error\":\"query failed\"}\n");
		return;
	}
	rp->status = 200;
	rp->content_type = csv ? "text/csv; charset=utf-8" : "application/json";
	if (csv && q == GW_PQ_NOTICES) {
		snprintf(rp->filename_buf, sizeof(rp->filename_buf), "%s-notices.csv", acct);
		rp->filename = rp->filename_buf;
	} else if (csv) {
		snprintf(rp->filename_buf, sizeof(rp->filename_buf), "%s-%s-%s-%s.csv", acct,
			 q == GW_PQ_DAILY ? "daily" : q == GW_PQ_MONTHLY ? "monthly" : "outages",
			 rq->from, rq->to);
		rp->filename = rp->filename_buf;
	}
}

/* Runs the bill query (through: YYYY-MM-DD, or "" for yesterday in the
 * configured zone) and renders its answer; no row is a 404. */
static void bill_answer(struct gw_portal *p, const struct gw_request *rq, const char *session_acct,
			const char *acct, const char *through, struct gw_reply *rp)
{
	int csv = rq->format && strcmp(rq->format, "csv") == 0;
	PGresult *r = NULL;
	int rc;

	rc = gw_pdb_query(p->db, GW_PQ_BILL, session_acct, acct, through, p->cfg->timezone, &r);
	if (rc == GW_ECONN) {
		rp->retry_after = 5;
		reply_text(rp, 503, "{\"error\":\"database unavailable\"}\n");
		return;
	}
	if (rc < 0) {
		reply_text(rp, 500, "{\"error\":\"query failed\"}\n");
		return;
	}
	if (PQntuples(r) == 0) {
		PQclear(r);
		reply_text(rp, 404, "{\"error\":\"no bill\",\"detail\":\"the account has no meter,"
			   " or its tariff no price list for this month\"}\n");
		return;
	}
	snprintf(rp->filename_buf, sizeof(rp->filename_buf), "%s-bill-%.10s.csv", acct,
		 PQgetvalue(r, 0, 2));
	rc = gw_api_render_bill(csv, acct, r, &rp->body);
	PQclear(r);
	if (rc < 0) {
		gw_buf_free(&rp->body);
		reply_text(rp, 500, "{\"error\":\"query failed\"}\n");
		return;
	}
	rp->status = 200;
	rp->content_type = csv ? "text/csv; charset=utf-8" : "application/json";
	if (csv)
		rp->filename = rp->filename_buf;
}

/* GET .../bill[?through=YYYY-MM-DD]: the arguments checked, the bill
 * answered. */
static void bill_reply(struct gw_portal *p, const struct gw_request *rq, const char *session_acct,
		       const char *acct, struct gw_reply *rp)
{
	unsigned y, m, d;
	char through[16] = "";

	if (rq->from || rq->to) {
		reply_bad(rp, "bill takes through=YYYY-MM-DD, not from and to");
		return;
	}
	if (rq->through) {
		if (parse_date(rq->through, 10, &y, &m, &d) < 0) {
			reply_bad(rp, "through must be a date YYYY-MM-DD");
			return;
		}
		snprintf(through, sizeof(through), "%04u-%02u-%02u", y, m, d);
	}
	bill_answer(p, rq, session_acct, acct, through, rp);
}

/* The arguments checked, the query run, its answer rendered. */
static void query_reply(struct gw_portal *p, const struct gw_request *rq, enum gw_pdb_query q,
			const char *session_acct, const char *acct, struct gw_reply *rp)
{
	char qf[16], qt[24];
	const char *err;

	if (rq->format && strcmp(rq->format, "csv") != 0 && strcmp(rq->format, "json") != 0) {
		reply_bad(rp, "format must be json or csv");
		return;
	}
	if (q == GW_PQ_BILL) {
		if (rq->limit || rq->before)
			reply_bad(rp, "limit and before are arguments of notices only");
		else
			bill_reply(p, rq, session_acct, acct, rp);
		return;
	}
	if (rq->through) {
		reply_bad(rp, "through is an argument of bill only");
		return;
	}
	if (q == GW_PQ_NOTICES) {
		err = notice_args(rq, qf, qt);
		if (err)
			reply_bad(rp, err);
		else
			answer(p, rq, q, session_acct, acct, qf, qt[0] ? qt : NULL, rp);
		return;
	}
	if (rq->limit || rq->before) {
		reply_bad(rp, "unknown or repeated query argument");
		return;
	}
	err = range(p->cfg, q, rq, qf, qt);
	if (err) {
		reply_bad(rp, err);
		return;
	}
	answer(p, rq, q, session_acct, acct, qf, qt, rp);
}

int gw_api_query(struct gw_portal *p, const struct gw_request *rq, enum gw_pdb_query q,
		 const char *session_acct, const char *acct, struct gw_reply *rp)
{
	memset(rp, 0, sizeof(*rp));
	gw_buf_init(&rp->body, 0);
	query_reply(p, rq, q, session_acct, acct, rp);
	return rp->body.failed ? GW_ENOMEM : 0;
}

/* GET /v1/accounts/{acct}/{daily|monthly|outages|bill|notices}. */
static void accounts(struct gw_portal *p, const struct gw_request *rq, int64_t now_s,
		     int64_t mono_us, struct gw_reply *rp)
{
	char acct[GW_JWT_ACCOUNT_MAX];
	struct gw_jwt_claims claims;
	const char *what;
	enum gw_pdb_query q;
	unsigned retry = 0;

	if (account_path(rq->path, acct, &what) < 0 || !gw_account_valid(acct)) {
		/* Not an account this portal could serve: still no hint to a
		 * caller without a token that its token was not looked at. */
		refuse(rp, rq, "the URL names no valid account");
		return;
	}
	if (authenticate(p, rq, now_s, acct, rp, &claims) < 0)
		return;
	if (gw_rate_take(p->rate, claims.account, mono_us, &retry)) {
		gw_info("portal: account %s: rate limit, %s refused", acct, shown(rq));
		rp->retry_after = retry;
		reply_text(rp, 429, "{\"error\":\"too many requests\"}\n");
		return;
	}
	if (strcmp(what, "daily") == 0) {
		q = GW_PQ_DAILY;
	} else if (strcmp(what, "monthly") == 0) {
		q = GW_PQ_MONTHLY;
	} else if (strcmp(what, "outages") == 0) {
		q = GW_PQ_OUTAGES;
	} else if (strcmp(what, "bill") == 0) {
		q = GW_PQ_BILL;
	} else if (strcmp(what, "notices") == 0) {
		q = GW_PQ_NOTICES;
	} else {
		reply_text(rp, 404, "{\"error\":\"not found\"}\n");
		return;
	}
	if (rq->bad_arg) {
		reply_bad(rp, "unknown or repeated query argument");
		return;
	}
	query_reply(p, rq, q, acct, acct, rp);
}

/* GET /v1/health: the service and its database (SELECT 1 on a pooled
 * connection within health_timeout_ms). */
static void health(struct gw_portal *p, struct gw_reply *rp)
{
	if (gw_pdb_ping(p->db, p->cfg->health_timeout_ms) == 0) {
		reply_text(rp, 200, "{\"status\":\"ok\",\"database\":\"ok\"}\n");
		return;
	}
	rp->retry_after = 5;
	reply_text(rp, 503, "{\"status\":\"unavailable\",\"database\":\"unavailable\"}\n");
}

void gw_api_handle(struct gw_portal *p, const struct gw_request *rq, int64_t now_s,
		   int64_t mono_us, struct gw_reply *rp)
{
	memset(rp, 0, sizeof(*rp));
	gw_buf_init(&rp->body, 0);
	if (rq->url_len > p->cfg->max_url) {
		reply_text(rp, 414, "{\"error\":\"URL too long\"}\n");
		return;
	}
	if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
		reply_text(rp, 405, "{\"error\":\"method not allowed\"}\n");
		return;
	}
	if (rq->has_body) {
		reply_text(rp, 413, "{\"error\":\"no request body is accepted\"}\n");
		return;
	}
	if (strcmp(rq->path, "/v1/health") == 0) {
		health(p, rp);
		return;
	}
	if (gw_page_route(p, rq, now_s, mono_us, rp))
		return;
	if (strncmp(rq->path, "/v1/accounts/", 13) == 0) {
		accounts(p, rq, now_s, mono_us, rp);
		return;
	}
	reply_text(rp, 404, "{\"error\":\"not found\"}\n");
}
