/* SPDX-License-Identifier: MIT */
/*
 * page_html.c - the HTML of the customer page and of its short message
 * pages, and the headers every one of them is sent with; see page.h.
 *
 * One inline style sheet, allowed by its SHA-256 in the Content-Security-
 * Policy (no 'unsafe-inline'); no script at all; the charts are inline SVG
 * (svg.h). Mobile first: one column on a phone (360 px), the two charts
 * side by side from 48rem; nothing is wider than the screen (the charts
 * scale to their box, long words may break).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "page.h"

static const char css[] =
	"*{box-sizing:border-box}"
	"html{-webkit-text-size-adjust:100%;text-size-adjust:100%}"
	"body{margin:0;font:16px/1.45 system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",Arial,sans-serif;"
	"color:#1f2328;background:#f6f8fa;overflow-wrap:anywhere}"
	"header{background:#0b5394;color:#fff;padding:.75rem 1rem;display:flex;flex-wrap:wrap;"
	"align-items:baseline;gap:.25rem 1rem}"
	"header h1{font-size:1.25rem;margin:0;flex:1 1 auto}"
	"header p{margin:0}header a{color:#fff}"
	"main{max-width:64rem;margin:0 auto;padding:.5rem}"
	"section{background:#fff;border:1px solid #d0d7de;border-radius:6px;padding:.75rem;margin:.5rem 0;min-width:0}"
	"h2{font-size:1.05rem;margin:0 0 .5rem}"
	".figures{display:flex;flex-wrap:wrap;gap:.5rem 2rem;margin:0}"
	".figures dt{font-size:.85rem;color:#57606a}"
	".figures dd{margin:0;font-size:1.5rem;font-weight:600}"
	".figures dd small{display:block;font-size:.8rem;font-weight:400;color:#57606a}"
	".chart{display:block;width:100%;height:auto}"
	".defs{position:absolute;width:0;height:0;overflow:hidden}"
	".legend{list-style:none;display:flex;flex-wrap:wrap;gap:.25rem 1rem;padding:0;margin:.5rem 0 0;font-size:.85rem}"
	".legend li{display:flex;align-items:center;gap:.35rem}"
	"table{width:100%;border-collapse:collapse;font-size:.9rem}"
	"th,td{text-align:left;padding:.3rem .4rem;border-bottom:1px solid #d0d7de;vertical-align:top}"
	".note{font-size:.85rem;color:#57606a;margin:.4rem 0 0}"
	"footer{max-width:64rem;margin:0 auto;padding:0 1rem 1rem;font-size:.8rem;color:#57606a}"
	".msg{max-width:32rem;margin:2rem auto;padding:0 1rem}"
	"@media (min-width:48rem){main{padding:1rem}.charts{display:grid;grid-template-columns:1fr 1fr;gap:0 1rem}}";

static pthread_once_t csp_once = PTHREAD_ONCE_INIT;
static char csp[256];

static void csp_make(void)
{
	unsigned char md[EVP_MAX_MD_SIZE], b64[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
	unsigned n = 0;

	if (!EVP_Digest(css, sizeof(css) - 1, md, &n, EVP_sha256(), NULL))
		return; /* csp stays empty: gw_page_headers refuses to send the page */
	EVP_EncodeBlock(b64, md, (int)n);
	snprintf(csp, sizeof(csp),
		 "default-src 'none'; style-src 'sha256-%s'; img-src 'none'; base-uri 'none';"
		 " form-action 'none'; frame-ancestors 'none'", (const char *)b64);
}

int gw_page_headers(int (*add)(void *ctx, const char *name, const char *value), void *ctx)
{
	pthread_once(&csp_once, csp_make);
	if (!csp[0])
		return -1;
	if (add(ctx, "Content-Security-Policy", csp) < 0 || add(ctx, "X-Frame-Options", "DENY") < 0 ||
	    add(ctx, "Referrer-Policy", "no-referrer") < 0 ||
	    add(ctx, "Cross-Origin-Opener-Policy", "same-origin") < 0 ||
	    add(ctx, "Cross-Origin-Resource-Policy", "same-origin") < 0 ||
	    add(ctx, "Permissions-Policy", "camera=(), microphone=(), geolocation=(), interest-cohort=()") < 0)
		return -1;
	return 0;
}

static void head(struct gw_buf *b, enum gw_lang l, const char *title)
{
	gw_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
		      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		      "<meta name=\"referrer\" content=\"no-referrer\"><title>", gw_lang_code(l));
	gw_html(b, title);
	gw_buf_puts(b, "</title><style>");
	gw_buf_puts(b, css);
	gw_buf_puts(b, "</style></head>\n");
}

int gw_page_message(struct gw_buf *b, enum gw_lang l, enum gw_msg title, enum gw_msg text)
{
	head(b, l, gw_msg(l, title));
	gw_buf_puts(b, "<body><div class=\"msg\"><h1>");
	gw_html(b, gw_msg(l, title));
	gw_buf_puts(b, "</h1><p>");
	gw_html(b, gw_msg(l, text));
	gw_buf_puts(b, "</p></div></body></html>\n");
	return b->failed ? GW_ENOMEM : 0;
}

/* f with its first `mark` ("%d", "%s") replaced by value, into out. */
static void subst(char *out, size_t cap, const char *f, const char *mark, const char *value)
{
	const char *at = strstr(f, mark);

	if (!at)
		snprintf(out, cap, "%s", f);
	else
		snprintf(out, cap, "%.*s%s%s", (int)(at - f), f, value, at + strlen(mark));
}

/* A message with one %d (i18n.h) and its number, escaped. */
static void counted(struct gw_buf *b, enum gw_lang l, enum gw_msg m, int n)
{
	char text[160], num[16];

	snprintf(num, sizeof(num), "%d", n);
	subst(text, sizeof(text), gw_msg(l, m), "%d", num);
	gw_html(b, text);
}

static void kwh_text(struct gw_buf *b, enum gw_lang l, int64_t wh)
{
	char kwh[GW_FMT_KWH_MAX];

	gw_fmt_kwh(l, wh, kwh, sizeof(kwh));
	gw_html(b, kwh);
	gw_buf_puts(b, " kWh");
}

static void bill(struct gw_buf *b, enum gw_lang l, const struct gw_page_bill *bl)
{
	char money[96], date[32], through[128];

	gw_buf_puts(b, "<div><dt>");
	gw_html(b, gw_msg(l, GW_MSG_BILL));
	gw_buf_puts(b, "</dt><dd>");
	if (!bl->have || gw_fmt_money(l, bl->total, bl->currency, money, sizeof(money)) < 0) {
		gw_buf_puts(b, "&#8211;<small>");
		gw_html(b, gw_msg(l, GW_MSG_NO_BILL));
		gw_buf_puts(b, "</small></dd></div>");
		return;
	}
	gw_buf_puts(b, "<span id=\"bill-total\">");
	gw_html(b, money);
	gw_buf_puts(b, "</span>");
	gw_fmt_date(l, bl->through, date, sizeof(date));
	subst(through, sizeof(through), gw_msg(l, GW_MSG_THROUGH), "%s", date);
	gw_buf_puts(b, "<small>");
	gw_html(b, through);
	if (gw_fmt_money(l, bl->amount, bl->currency, money, sizeof(money)) >= 0) {
		gw_buf_puts(b, " &#183; ");
		gw_html(b, gw_msg(l, GW_MSG_AMOUNT));
		gw_buf_puts(b, " ");
		gw_html(b, money);
	}
	if (gw_fmt_money(l, bl->vat, bl->currency, money, sizeof(money)) >= 0) {
		gw_buf_puts(b, " &#183; ");
		gw_html(b, gw_msg(l, GW_MSG_VAT));
		gw_buf_puts(b, " ");
		gw_html(b, money);
	}
	gw_buf_puts(b, "</small></dd></div>");
}

/* The month so far: kWh, the bill estimate, the days not measured. */
static void month_to_date(struct gw_buf *b, enum gw_lang l, const struct gw_page_data *d)
{
	int64_t wh = 0;
	int est = 0, missing = 0;
	size_t i;

	for (i = d->month_from; i < d->ndays; i++) {
		if (d->days[i].mark == GW_DAY_NONE)
			missing++;
		else
			wh += d->days[i].wh;
		if (d->days[i].mark == GW_DAY_ESTIMATED || d->days[i].mark == GW_DAY_INCOMPLETE)
			est++;
	}
	gw_buf_puts(b, "<section class=\"mtd\"><h2>");
	gw_html(b, gw_msg(l, GW_MSG_MONTH_TO_DATE));
	gw_buf_puts(b, "</h2><dl class=\"figures\"><div><dt>");
	gw_html(b, gw_msg(l, GW_MSG_USED));
	gw_buf_puts(b, "</dt><dd id=\"mtd-kwh\">");
	kwh_text(b, l, wh);
	gw_buf_puts(b, "</dd></div>");
	bill(b, l, &d->bill);
	gw_buf_puts(b, "</dl>");
	if (est || missing) {
		gw_buf_puts(b, "<p class=\"note\">");
		if (est)
			counted(b, l, est == 1 ? GW_MSG_DAY_ESTIMATED : GW_MSG_DAYS_ESTIMATED, est);
		if (est && missing)
			gw_buf_puts(b, "; ");
		if (missing)
			counted(b, l, missing == 1 ? GW_MSG_DAY_MISSING : GW_MSG_DAYS_MISSING, missing);
		gw_buf_puts(b, "</p>");
	}
	if (d->bill.have) {
		gw_buf_puts(b, "<p class=\"note\">");
		gw_html(b, gw_msg(l, GW_MSG_BILL_NOTE));
		gw_buf_puts(b, "</p>");
	}
	gw_buf_puts(b, "</section>");
}

static void legend(struct gw_buf *b, enum gw_lang l)
{
	static const struct { enum gw_day_mark m; enum gw_msg t; } items[] = {
		{ GW_DAY_MEASURED, GW_MSG_MEASURED }, { GW_DAY_ESTIMATED, GW_MSG_ESTIMATED },
		{ GW_DAY_INCOMPLETE, GW_MSG_INCOMPLETE }, { GW_DAY_NONE, GW_MSG_NO_DATA },
	};
	size_t i;

	gw_buf_puts(b, "<ul class=\"legend\">");
	for (i = 0; i < sizeof(items) / sizeof(items[0]); i++) {
		gw_buf_puts(b, "<li>");
		gw_svg_swatch(b, items[i].m);
		gw_html(b, gw_msg(l, items[i].t));
		gw_buf_puts(b, "</li>");
	}
	gw_buf_puts(b, "</ul>");
}

/* The days of the month of day (YYYY-MM-DD...); 31 for a text that is no date. */
static size_t month_days(const char *day)
{
	static const unsigned char mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	int y = atoi(day), m = strlen(day) >= 7 ? atoi(day + 5) : 0;

	if (m < 1 || m > 12)
		return 31;
	return mdays[m - 1] + (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

static void chart(struct gw_buf *b, enum gw_lang l, const char *id, enum gw_msg heading,
		  const struct gw_chart_day *days, size_t n, size_t slots)
{
	gw_buf_printf(b, "<section id=\"%s\"><h2>", id);
	gw_html(b, gw_msg(l, heading));
	gw_buf_puts(b, " (kWh)</h2>");
	gw_svg_chart(b, days, n, slots, l, gw_msg(l, heading));
	legend(b, l);
	gw_buf_puts(b, "</section>");
}

static void outages(struct gw_buf *b, enum gw_lang l, const struct gw_page_data *d)
{
	char text[64];
	size_t i;

	gw_buf_puts(b, "<section id=\"outages\"><h2>");
	gw_html(b, gw_msg(l, GW_MSG_OUTAGES));
	gw_buf_puts(b, "</h2>");
	if (!d->noutages) {
		gw_buf_puts(b, "<p>");
		gw_html(b, gw_msg(l, GW_MSG_NO_OUTAGES));
		gw_buf_puts(b, "</p></section>");
		return;
	}
	gw_buf_puts(b, "<table><thead><tr><th>");
	gw_html(b, gw_msg(l, GW_MSG_START));
	gw_buf_puts(b, "</th><th>");
	gw_html(b, gw_msg(l, GW_MSG_END));
	gw_buf_puts(b, "</th><th>");
	gw_html(b, gw_msg(l, GW_MSG_DURATION));
	gw_buf_puts(b, "</th></tr></thead><tbody>");
	for (i = 0; i < d->noutages; i++) {
		const struct gw_page_outage *o = &d->outages[i];
		gw_buf_puts(b, "<tr><td>");
		gw_fmt_date(l, o->start, text, sizeof(text));
		gw_html(b, text);
		gw_buf_puts(b, "</td><td>");
		if (o->end[0]) {
			gw_fmt_date(l, o->end, text, sizeof(text));
			gw_html(b, text);
			gw_buf_puts(b, "</td><td>");
			gw_fmt_minutes(l, o->minutes, text, sizeof(text));
			gw_html(b, text);
		} else {
			gw_html(b, gw_msg(l, GW_MSG_ONGOING));
			gw_buf_puts(b, "</td><td>&#8211;");
		}
		gw_buf_puts(b, "</td></tr>");
	}
	gw_buf_puts(b, "</tbody></table></section>");
}

int gw_page_render(struct gw_buf *b, enum gw_lang l, const char *account, const struct gw_page_data *d)
{
	head(b, l, gw_msg(l, GW_MSG_TITLE));
	gw_buf_puts(b, "<body><header><h1>");
	gw_html(b, gw_msg(l, GW_MSG_TITLE));
	gw_buf_puts(b, "</h1><p>");
	gw_html(b, gw_msg(l, GW_MSG_ACCOUNT));
	gw_buf_puts(b, ": <b id=\"account\">");
	gw_html(b, account);
	gw_buf_puts(b, "</b></p><p><a href=\"/signout\">");
	gw_html(b, gw_msg(l, GW_MSG_SIGN_OUT));
	gw_buf_puts(b, "</a></p></header>\n<main>");
	month_to_date(b, l, d);
	gw_svg_defs(b);
	gw_buf_puts(b, "<div class=\"charts\">");
	/* the month's chart is as wide as the month: its days to come are empty */
	chart(b, l, "month", GW_MSG_THIS_MONTH, d->days + d->month_from, d->ndays - d->month_from,
	      d->ndays ? month_days(d->days[d->ndays - 1].day) : 0);
	chart(b, l, "last30", GW_MSG_LAST_30, d->days + d->last_from, d->ndays - d->last_from,
	      d->ndays - d->last_from);
	gw_buf_puts(b, "</div>");
	outages(b, l, d);
	gw_buf_puts(b, "</main>\n<footer><p>");
	gw_html(b, gw_msg(l, GW_MSG_TIMES_LOCAL));
	gw_buf_puts(b, "</p></footer></body></html>\n");
	return b->failed ? GW_ENOMEM : 0;
}
