/* SPDX-License-Identifier: MIT */
/*
 * page.c - the customer page's routes: the handoff that turns a token into
 * a cookie, the page itself, sign-out; see page.h.
 *
 * The token: the app backend signs it exactly as for the API (jwt.h) and
 * sends the customer's browser to /session?token=... . portald checks it
 * as the API does, and only once (its jti, handoff.h), then keeps it,
 * sealed by this process (handoff.h), in a cookie, HttpOnly (no script can
 * read it; the page has none anyway), Secure (cookie_secure, off only on
 * loopback), SameSite=Lax (sent when the app opens the page, not with a
 * request another site's page makes), Path=/ and a Max-Age that ends
 * with the token. The token's own expiry is checked again on every
 * request: the cookie adds no lifetime. The answer is 303 to /, so the
 * token leaves the address bar and the browser history at once; the
 * request log never shows a query string. A URL with a token may still
 * be logged by a proxy in front: keep tokens short-lived (minutes), and
 * see docs/portal.md.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "page.h"

static const char *cookie_name(const struct gw_portal *p)
{
	return p->cfg->cookie_secure ? GW_PAGE_COOKIE_SECURE : GW_PAGE_COOKIE_PLAIN;
}

/* The attributes every cookie of the page has. */
static void cookie(const struct gw_portal *p, struct gw_reply *rp, const char *value, int64_t max_age)
{
	snprintf(rp->cookie_buf, sizeof(rp->cookie_buf), "%s=%s; Max-Age=%lld; Path=/; HttpOnly;%s SameSite=Lax",
		 cookie_name(p), value, (long long)max_age, p->cfg->cookie_secure ? " Secure;" : "");
	rp->set_cookie = rp->cookie_buf;
}

static void message(struct gw_reply *rp, unsigned status, enum gw_lang l, enum gw_msg title, enum gw_msg text)
{
	rp->status = status;
	rp->html = 1;
	rp->content_type = "text/html; charset=utf-8";
	gw_page_message(&rp->body, l, title, text);
}

static void refused_log(const struct gw_request *rq, const char *why)
{
	gw_info("portal: %s %s from %s: refused: %s", rq->method, rq->shown_path ? rq->shown_path : rq->path,
		rq->peer ? rq->peer : "?", why);
}

/* The value of cookie `name` in a Cookie header, copied into out (cap
 * bytes). Returns 0, or -1 if there is none (or it does not fit). */
static int cookie_value(const char *h, const char *name, char *out, size_t cap)
{
	size_t nl = strlen(name), vl;

	while (h && *h) {
		while (*h == ' ' || *h == ';')
			h++;
		vl = strcspn(h, ";");
		if (vl > nl && strncmp(h, name, nl) == 0 && h[nl] == '=') {
			if (vl - nl - 1 >= cap)
				return -1;
			memcpy(out, h + nl + 1, vl - nl - 1);
			out[vl - nl - 1] = '\0';
			return 0;
		}
		h += vl;
	}
	return -1;
}

/* Checks a token as the API does. Returns 0 (claims filled) or -1 (logged). */
static int verify(const struct gw_portal *p, const struct gw_request *rq, const char *token, int64_t now_s,
		  struct gw_jwt_claims *claims)
{
	struct gw_jwt_keys keys = { p->cfg->key_len ? p->cfg->key : NULL, p->cfg->key_len, p->cfg->es256 };
	int rc = gw_jwt_verify_keys(token, strlen(token), &keys, p->cfg->audience, now_s, p->cfg->leeway_s,
				    claims);

	if (rc != GW_JWT_OK) {
		refused_log(rq, gw_jwt_strerror(rc));
		return -1;
	}
	return 0;
}

/* The account's rate limit (the API's bucket). Returns 0, or -1 after a 429. */
static int rate(struct gw_portal *p, const struct gw_request *rq, const char *account, int64_t mono_us,
		enum gw_lang l, struct gw_reply *rp)
{
	unsigned retry = 0;

	if (!gw_rate_take(p->rate, account, mono_us, &retry))
		return 0;
	gw_info("portal: account %s: rate limit, %s refused", account, rq->shown_path ? rq->shown_path : rq->path);
	rp->retry_after = retry;
	message(rp, 429, l, GW_MSG_BUSY_TITLE, GW_MSG_BUSY);
	return -1;
}

/* A handoff token is good once: its (account, jti) is remembered until
 * the token expires (handoff.h). Returns 0, or -1 after the answer: 401
 * for a token used before or without a jti, 503 when the table is full
 * (the token is not taken: the same URL works once there is room). */
static int once(struct gw_portal *p, const struct gw_request *rq, const struct gw_jwt_claims *claims,
		int64_t now_s, enum gw_lang l, struct gw_reply *rp)
{
	char why[160];

	if (!claims->jti[0]) {
		refused_log(rq, "a handoff token needs a jti (a string of 1-128 bytes)");
		message(rp, 401, l, GW_MSG_LINK_BAD_TITLE, GW_MSG_LINK_BAD);
		return -1;
	}
	switch (gw_handoff_take(p->handoff, claims->account, claims->jti, claims->exp + p->cfg->leeway_s, now_s)) {
	case GW_HANDOFF_FIRST:
		return 0;
	case GW_HANDOFF_USED:
		snprintf(why, sizeof(why), "handoff token of account %s used again", claims->account);
		gw_warn("portal: %s %s from %s: refused: %s", rq->method, rq->shown_path ? rq->shown_path : rq->path,
			rq->peer ? rq->peer : "?", why);
		message(rp, 401, l, GW_MSG_LINK_BAD_TITLE, GW_MSG_LINK_BAD);
		return -1;
	default:
		gw_err("portal: handoff of account %s refused: the table of used handoff tokens is full"
		       " (handoff_table = %u, docs/portal.md)", claims->account, p->cfg->handoff_table);
		rp->retry_after = 5;
		message(rp, 503, l, GW_MSG_UNAVAILABLE_TITLE, GW_MSG_UNAVAILABLE);
		return -1;
	}
}

/* GET /session?token=JWT: the handoff. */
static void session(struct gw_portal *p, const struct gw_request *rq, int64_t now_s, int64_t mono_us,
		    enum gw_lang l, struct gw_reply *rp)
{
	char sealed[GW_JWT_MAX + GW_HANDOFF_SEAL + 1];
	struct gw_jwt_claims claims;

	if (!rq->token || (rq->bad_arg && strcmp(rq->bad_arg, "token") == 0)) {
		refused_log(rq, rq->token ? "token given twice" : "no token in the handoff URL");
		message(rp, 401, l, GW_MSG_LINK_BAD_TITLE, GW_MSG_LINK_BAD);
		return;
	}
	if (verify(p, rq, rq->token, now_s, &claims) < 0) {
		message(rp, 401, l, GW_MSG_LINK_BAD_TITLE, GW_MSG_LINK_BAD);
		return;
	}
	if (rate(p, rq, claims.account, mono_us, l, rp) < 0)
		return;
	if (gw_handoff_seal(p->handoff, rq->token, sealed, sizeof(sealed)) < 0) {
		refused_log(rq, "token too long for a cookie");
		message(rp, 401, l, GW_MSG_LINK_BAD_TITLE, GW_MSG_LINK_BAD);
		return;
	}
	if (once(p, rq, &claims, now_s, l, rp) < 0)
		return;
	cookie(p, rp, sealed, claims.exp > now_s ? claims.exp - now_s : 1);
	rp->status = 303;
	rp->location = "/";
	rp->html = 1;
	rp->content_type = "text/html; charset=utf-8";
	gw_buf_puts(&rp->body, "<!DOCTYPE html>\n<title>303</title><a href=\"/\">/</a>\n");
	gw_info("portal: account %s: session started, cookie for %lld s", claims.account,
		(long long)(claims.exp - now_s));
}

/* Copies the row's text of column i into out, "" for NULL. */
static void cell(const PGresult *r, int row, int i, char *out, size_t cap)
{
	snprintf(out, cap, "%s", PQgetisnull(r, row, i) ? "" : PQgetvalue(r, row, i));
}

static int days_from(const PGresult *r, struct gw_page_data *d)
{
	int row, n = PQntuples(r);

	if (PQnfields(r) != 5 || n > GW_PAGE_DAYS_MAX) {
		gw_err("portal: the page's days query gave %d rows of %d columns", n, PQnfields(r));
		return GW_EDB;
	}
	d->ndays = (size_t)n;
	d->last_from = d->month_from = (size_t)n;
	for (row = n - 1; row >= 0; row--) {
		struct gw_chart_day *day = &d->days[row];
		char *end;

		cell(r, row, 0, day->day, sizeof(day->day));
		day->mark = PQgetisnull(r, row, 1) ? GW_DAY_NONE : gw_day_mark_of(PQgetvalue(r, row, 2));
		day->wh = day->mark == GW_DAY_NONE ? 0 : strtoll(PQgetvalue(r, row, 1), &end, 10);
		if (day->mark != GW_DAY_NONE && *end) {
			gw_err("portal: the page's days query: '%s' is not a whole Wh", PQgetvalue(r, row, 1));
			return GW_EDB;
		}
		if (strcmp(PQgetvalue(r, row, 3), "t") == 0)
			d->last_from = (size_t)row;
		if (strcmp(PQgetvalue(r, row, 4), "t") == 0)
			d->month_from = (size_t)row;
	}
	return 0;
}

static int outages_from(const PGresult *r, struct gw_page_data *d)
{
	int row, n = PQntuples(r);

	if (PQnfields(r) != 3 || n > GW_PAGE_OUTAGES_MAX)
		return GW_EDB;
	for (row = 0; row < n; row++) {
		struct gw_page_outage *o = &d->outages[row];
		cell(r, row, 0, o->start, sizeof(o->start));
		cell(r, row, 1, o->end, sizeof(o->end));
		o->minutes = PQgetisnull(r, row, 2) ? 0 : strtoll(PQgetvalue(r, row, 2), NULL, 10);
	}
	d->noutages = (size_t)n;
	return 0;
}

/* The bill estimate's row, if there is one (no tariff, no meter: none). */
static int bill_from(const PGresult *r, struct gw_page_bill *b)
{
	if (!r || PQntuples(r) == 0)
		return 0;
	if (PQnfields(r) != 11) {
		gw_err("portal: the bill estimate gave %d columns, 11 expected", PQnfields(r));
		return 0;
	}
	cell(r, 0, 0, b->period_start, sizeof(b->period_start));
	cell(r, 0, 1, b->period_end, sizeof(b->period_end));
	cell(r, 0, 2, b->through, sizeof(b->through));
	b->import_wh = strtoll(PQgetvalue(r, 0, 3), NULL, 10);
	cell(r, 0, 4, b->amount, sizeof(b->amount));
	cell(r, 0, 5, b->vat, sizeof(b->vat));
	cell(r, 0, 6, b->total, sizeof(b->total));
	cell(r, 0, 7, b->currency, sizeof(b->currency));
	cell(r, 0, 8, b->tariff, sizeof(b->tariff));
	b->days_estimated = atoi(PQgetvalue(r, 0, 9));
	b->days_missing = atoi(PQgetvalue(r, 0, 10));
	b->have = !PQgetisnull(r, 0, 6) && !PQgetisnull(r, 0, 7);
	return 0;
}

/* Reads what the page shows, in one transaction (one snapshot). The bill
 * is optional: a database whose bill estimate fails still shows the rest.
 * Returns 0, GW_ECONN or GW_EDB. */
static int load(struct gw_portal *p, const char *account, struct gw_page_data *d)
{
	char nout[8];
	struct gw_pdb_stmt s[3] = {
		{ GW_PQ_PAGE_DAYS, 3, { account, p->cfg->timezone, "30" }, NULL, 0 },
		{ GW_PQ_PAGE_OUTAGES, 3, { account, p->cfg->timezone, nout }, NULL, 0 },
		{ GW_PQ_PAGE_BILL, 2, { account, p->cfg->timezone }, NULL, 1 },
	};
	int rc;
	size_t i;

	snprintf(nout, sizeof(nout), "%d", GW_PAGE_OUTAGES_MAX);
	memset(d, 0, sizeof(*d));
	rc = gw_pdb_run(p->db, account, s, 3);
	if (rc < 0)
		return rc;
	rc = days_from(s[0].result, d);
	if (rc == 0)
		rc = outages_from(s[1].result, d);
	if (rc == 0)
		rc = bill_from(s[2].result, &d->bill);
	for (i = 0; i < 3; i++)
		PQclear(s[i].result);
	return rc;
}

/* GET /: the page of the cookie's account. */
static void page(struct gw_portal *p, const struct gw_request *rq, int64_t now_s, int64_t mono_us,
		 enum gw_lang l, struct gw_reply *rp)
{
	char token[GW_JWT_MAX + GW_HANDOFF_SEAL + 1];
	struct gw_jwt_claims claims;
	struct gw_page_data *d;
	int rc;

	if (cookie_value(rq->cookie, cookie_name(p), token, sizeof(token)) < 0) {
		refused_log(rq, "no session cookie");
		message(rp, 401, l, GW_MSG_OPEN_FROM_APP_TITLE, GW_MSG_OPEN_FROM_APP);
		return;
	}
	if (gw_handoff_open(p->handoff, token) < 0) {
		refused_log(rq, "a session cookie this portald did not make (made by hand, another instance,"
				" or before a restart)");
		cookie(p, rp, "", 0);
		message(rp, 401, l, GW_MSG_OPEN_FROM_APP_TITLE, GW_MSG_OPEN_FROM_APP);
		return;
	}
	if (verify(p, rq, token, now_s, &claims) < 0) {
		cookie(p, rp, "", 0); /* the browser forgets a cookie that is no good */
		message(rp, 401, l, GW_MSG_OPEN_FROM_APP_TITLE, GW_MSG_OPEN_FROM_APP);
		return;
	}
	if (rate(p, rq, claims.account, mono_us, l, rp) < 0)
		return;
	d = malloc(sizeof(*d));
	rc = d ? load(p, claims.account, d) : GW_ENOMEM;
	if (rc == GW_ECONN) {
		rp->retry_after = 5;
		message(rp, 503, l, GW_MSG_UNAVAILABLE_TITLE, GW_MSG_UNAVAILABLE);
	} else if (rc < 0) {
		message(rp, 500, l, GW_MSG_UNAVAILABLE_TITLE, GW_MSG_UNAVAILABLE);
	} else {
		rp->status = 200;
		rp->html = 1;
		rp->content_type = "text/html; charset=utf-8";
		gw_page_render(&rp->body, l, claims.account, d);
	}
	free(d);
}

int gw_page_route(struct gw_portal *p, const struct gw_request *rq, int64_t now_s, int64_t mono_us,
		  struct gw_reply *rp)
{
	enum gw_lang l = gw_lang_pick(rq->accept_language);

	if (strcmp(rq->path, "/") == 0) {
		page(p, rq, now_s, mono_us, l, rp);
	} else if (strcmp(rq->path, "/session") == 0) {
		session(p, rq, now_s, mono_us, l, rp);
	} else if (strcmp(rq->path, "/signout") == 0) {
		cookie(p, rp, "", 0);
		message(rp, 200, l, GW_MSG_SIGNED_OUT_TITLE, GW_MSG_SIGNED_OUT);
	} else {
		return 0;
	}
	return 1;
}
