/* SPDX-License-Identifier: MIT */
/*
 * page.h - the customer page: portald's one HTML page, for a customer who
 * opens "my electricity use" in the utility's app (docs/portal.md, "The
 * customer page").
 *
 *   GET /session?token=JWT   the handoff: the app backend sends the
 *                            customer's browser here with a fresh token;
 *                            checked exactly as the API checks a bearer
 *                            token, it becomes an HttpOnly cookie and the
 *                            answer is 303 to / (without the token)
 *   GET /                    the page: daily use as SVG bar charts (this
 *                            month, the last 30 days), the month so far
 *                            in kWh, the latest outages; no script
 *   GET /signout             clears the cookie
 *
 * Any refusal is one plain page (401) that says to open the page from the
 * app, never why; the reason goes to the log as for the API. The account's
 * rate limit is the API's. Every HTML answer carries a Content-Security-
 * Policy that allows no script, no frame and only the page's own inline
 * style (by its hash), and Cache-Control: private, no-store.
 */
#ifndef GW_PORTAL_PAGE_H
#define GW_PORTAL_PAGE_H

#include <stdint.h>

#include "api.h"
#include "i18n.h"
#include "svg.h"

/* The cookie's name: "__Host-portal_session" with cookie_secure (the
 * browser then insists on Secure, Path=/ and no Domain), else
 * "portal_session". */
#define GW_PAGE_COOKIE_SECURE "__Host-portal_session"
#define GW_PAGE_COOKIE_PLAIN "portal_session"

/* If rq is one of the page's paths, answers it into rp (already
 * initialised by gw_api_handle) and returns 1; else returns 0. */
int gw_page_route(struct gw_portal *p, const struct gw_request *rq, int64_t now_s, int64_t mono_us,
		  struct gw_reply *rp);

/* Adds the security headers of an HTML answer through add(ctx, name,
 * value) (0 or -1). Returns 0 or -1. */
int gw_page_headers(int (*add)(void *ctx, const char *name, const char *value), void *ctx);

/* What the page shows, from the database (gw_page_load) or a test. */
#define GW_PAGE_DAYS_MAX 40 /* 31 days at most: this month, or 30 days */
#define GW_PAGE_OUTAGES_MAX 5

struct gw_page_outage {
	char start[24], end[24]; /* local "YYYY-MM-DD HH:MI"; end "" while not restored */
	int64_t minutes;
};

struct gw_page_bill {
	int have;
	char period_start[11], period_end[11], through[11];
	int64_t import_wh;
	char amount[48], vat[48], total[48], currency[8], tariff[64];
	int days_estimated, days_missing;
};

struct gw_page_data {
	struct gw_chart_day days[GW_PAGE_DAYS_MAX];
	size_t ndays;
	size_t last_from, month_from; /* the first day of each chart in days[] */
	struct gw_page_outage outages[GW_PAGE_OUTAGES_MAX];
	size_t noutages;
	struct gw_page_bill bill;
};

/* Renders the page of `account` into b (HTML, all text escaped). Returns
 * 0 or GW_ENOMEM. */
int gw_page_render(struct gw_buf *b, enum gw_lang l, const char *account, const struct gw_page_data *d);

/* A small page with a title and one message (the 401 and the like). */
int gw_page_message(struct gw_buf *b, enum gw_lang l, enum gw_msg title, enum gw_msg text);

#endif
