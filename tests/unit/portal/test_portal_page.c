/* SPDX-License-Identifier: MIT */
/*
 * test_portal_page.c - the customer page's pure parts: the bar chart's
 * scale and heights (a zero month, a day of 0 kWh, huge values, days
 * without data), the bars' titles, numbers, dates, durations and money in
 * Vietnamese and English, Accept-Language, HTML escaping, the page as a
 * whole and its Content-Security-Policy against its own style sheet.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>

#include "i18n.h"
#include "page.h"
#include "svg.h"

static int count(const char *hay, const char *needle)
{
	int n = 0;

	for (const char *p = hay; (p = strstr(p, needle)); p += strlen(needle))
		n++;
	return n;
}

static void axis_top(void **state)
{
	(void)state;
	assert_int_equal(gw_svg_axis_top(0), 1000);
	assert_int_equal(gw_svg_axis_top(-5), 1000);
	assert_int_equal(gw_svg_axis_top(1000), 1000);
	assert_int_equal(gw_svg_axis_top(1001), 2000);
	assert_int_equal(gw_svg_axis_top(12345), 20000);
	assert_int_equal(gw_svg_axis_top(20001), 50000);
	assert_int_equal(gw_svg_axis_top(50001), 100000);
	assert_int_equal(gw_svg_axis_top(5000000000000000000LL), 5000000000000000000LL);
	assert_int_equal(gw_svg_axis_top(5000000000000000001LL), INT64_MAX);
	assert_int_equal(gw_svg_axis_top(INT64_MAX), INT64_MAX);
}

static void bar_heights(void **state)
{
	(void)state;
	assert_int_equal(gw_svg_bar_height(0, 1000), 0);
	assert_int_equal(gw_svg_bar_height(-7, 1000), 0);
	assert_int_equal(gw_svg_bar_height(1, 1000), 1); /* a little is never nothing */
	assert_int_equal(gw_svg_bar_height(500, 1000), GW_SVG_PLOT_H / 2);
	assert_int_equal(gw_svg_bar_height(1000, 1000), GW_SVG_PLOT_H);
	assert_int_equal(gw_svg_bar_height(2000, 1000), GW_SVG_PLOT_H);
	assert_int_equal(gw_svg_bar_height(12345, 20000), 93); /* 92.59 rounded */
	assert_int_equal(gw_svg_bar_height(INT64_MAX, INT64_MAX), GW_SVG_PLOT_H);
	assert_int_equal(gw_svg_bar_height(INT64_MAX / 2, INT64_MAX), GW_SVG_PLOT_H / 2);
	/* heights scale: twice the energy, twice the bar */
	assert_int_equal(gw_svg_bar_height(4000, 10000) * 2, gw_svg_bar_height(8000, 10000));
}

static struct gw_chart_day mk(const char *day, int64_t wh, enum gw_day_mark m)
{
	struct gw_chart_day d;

	memset(&d, 0, sizeof(d));
	snprintf(d.day, sizeof(d.day), "%s", day);
	d.wh = wh;
	d.mark = m;
	return d;
}

static void chart_titles(void **state)
{
	struct gw_chart_day days[5];
	struct gw_buf b;

	(void)state;
	days[0] = mk("2026-11-01", 12345, GW_DAY_MEASURED);
	days[1] = mk("2026-11-02", 0, GW_DAY_MEASURED);
	days[2] = mk("2026-11-03", 9870, GW_DAY_ESTIMATED);
	days[3] = mk("2026-11-04", 0, GW_DAY_NONE);
	days[4] = mk("2026-11-05", 1234567, GW_DAY_INCOMPLETE);
	gw_buf_init(&b, 0);
	assert_int_equal(gw_svg_chart(&b, days, 5, 30, GW_LANG_EN, "A <chart> & more"), 0);
	assert_non_null(strstr(b.data, "<title>2026-11-01: 12.345 kWh</title>"));
	assert_non_null(strstr(b.data, "<title>2026-11-02: 0.000 kWh</title>"));
	assert_non_null(strstr(b.data, "<title>2026-11-03: 9.870 kWh (Estimated)</title>"));
	assert_non_null(strstr(b.data, "<title>2026-11-04: No data</title>"));
	assert_non_null(strstr(b.data, "<title>2026-11-05: 1,234.567 kWh (Incomplete)</title>"));
	assert_int_equal(count(b.data, "<g class=\"bar "), 5);
	assert_int_equal(count(b.data, "<g class=\"bar est\">"), 1);
	assert_int_equal(count(b.data, "<g class=\"bar inc\">"), 1);
	assert_int_equal(count(b.data, "<g class=\"bar none\">"), 1);
	assert_int_equal(count(b.data, "url(#gw-est)"), 1);
	assert_int_equal(count(b.data, "url(#gw-inc)"), 1);
	assert_non_null(strstr(b.data, "aria-label=\"A &lt;chart&gt; &amp; more\""));
	/* 30 slots wide, the largest day (1,234.567 kWh) on an axis to 2,000 */
	assert_non_null(strstr(b.data, "viewBox=\"0 0 412 182\""));
	assert_non_null(strstr(b.data, ">2,000</text>"));
	assert_non_null(strstr(b.data, ">1,000</text>"));
	/* a day of 0 kWh is a bar of height 0; the full day 1,234.567 of 2,000: 93 */
	assert_non_null(strstr(b.data, "height=\"0\" fill=\"#2b6cb0\""));
	assert_non_null(strstr(b.data, "height=\"93\" fill=\"url(#gw-inc)\""));
	gw_buf_free(&b);

	gw_buf_init(&b, 0);
	assert_int_equal(gw_svg_chart(&b, days, 5, 0, GW_LANG_VI, "x"), 0);
	assert_non_null(strstr(b.data, "<title>01/11/2026: 12,345 kWh</title>"));
	assert_non_null(strstr(b.data, "<title>03/11/2026: 9,870 kWh (Ước tính)</title>"));
	assert_non_null(strstr(b.data, "<title>04/11/2026: Chưa có số liệu</title>"));
	assert_non_null(strstr(b.data, "<title>05/11/2026: 1.234,567 kWh (Chưa đủ số liệu)</title>"));
	assert_non_null(strstr(b.data, ">2.000</text>"));
	assert_non_null(strstr(b.data, "viewBox=\"0 0 112 182\"")); /* slots < n: n */
	gw_buf_free(&b);
}

static void chart_zero_month(void **state)
{
	struct gw_chart_day days[31];
	struct gw_buf b;
	int i;

	(void)state;
	for (i = 0; i < 31; i++) {
		char day[11];
		snprintf(day, sizeof(day), "2026-12-%02d", i + 1);
		days[i] = mk(day, 0, GW_DAY_MEASURED);
	}
	gw_buf_init(&b, 0);
	assert_int_equal(gw_svg_chart(&b, days, 31, 31, GW_LANG_EN, "zero"), 0);
	assert_int_equal(count(b.data, " kWh</title>"), 31);
	assert_int_equal(count(b.data, ": 0.000 kWh</title>"), 31);
	assert_int_equal(count(b.data, "height=\"0\" fill="), 31);
	/* the axis of an empty month: 0 to 1 kWh, nothing divided by zero */
	assert_non_null(strstr(b.data, ">1</text>"));
	assert_non_null(strstr(b.data, ">0.5</text>"));
	assert_null(strstr(b.data, "nan"));
	assert_null(strstr(b.data, "inf"));
	gw_buf_free(&b);

	gw_buf_init(&b, 0);
	assert_int_equal(gw_svg_chart(&b, days, 0, 0, GW_LANG_EN, "none"), 0);
	assert_int_equal(count(b.data, "<g class=\"bar"), 0);
	assert_non_null(strstr(b.data, "</svg>"));
	gw_buf_free(&b);
}

static void chart_huge(void **state)
{
	struct gw_chart_day days[3];
	struct gw_buf b;

	(void)state;
	days[0] = mk("2026-12-01", INT64_MAX, GW_DAY_MEASURED);
	days[1] = mk("2026-12-02", 1, GW_DAY_MEASURED);
	days[2] = mk("2026-12-03", INT64_MAX / 2, GW_DAY_ESTIMATED);
	gw_buf_init(&b, 0);
	assert_int_equal(gw_svg_chart(&b, days, 3, 3, GW_LANG_EN, "huge"), 0);
	assert_non_null(strstr(b.data, "<title>2026-12-01: 9,223,372,036,854,775.807 kWh</title>"));
	assert_non_null(strstr(b.data, "height=\"150\" fill=\"#2b6cb0\""));
	assert_non_null(strstr(b.data, "height=\"1\" fill=\"#2b6cb0\""));
	assert_non_null(strstr(b.data, "height=\"75\" fill=\"url(#gw-est)\""));
	gw_buf_free(&b);
	gw_buf_init(&b, 0);
	assert_int_equal(gw_svg_chart(&b, days, 1, 1, GW_LANG_VI, "huge"), 0);
	assert_non_null(strstr(b.data, "<title>01/12/2026: 9.223.372.036.854.775,807 kWh</title>"));
	gw_buf_free(&b);
}

static void numbers(void **state)
{
	char s[GW_FMT_KWH_MAX];

	(void)state;
	assert_int_equal(gw_fmt_kwh(GW_LANG_EN, 12345, s, sizeof(s)), 6);
	assert_string_equal(s, "12.345");
	gw_fmt_kwh(GW_LANG_VI, 12345, s, sizeof(s));
	assert_string_equal(s, "12,345");
	gw_fmt_kwh(GW_LANG_EN, 1234567, s, sizeof(s));
	assert_string_equal(s, "1,234.567");
	gw_fmt_kwh(GW_LANG_VI, 1234567, s, sizeof(s));
	assert_string_equal(s, "1.234,567");
	gw_fmt_kwh(GW_LANG_VI, 0, s, sizeof(s));
	assert_string_equal(s, "0,000");
	gw_fmt_kwh(GW_LANG_EN, 7, s, sizeof(s));
	assert_string_equal(s, "0.007");
	gw_fmt_kwh(GW_LANG_EN, -1500, s, sizeof(s));
	assert_string_equal(s, "-1.500");
	gw_fmt_kwh(GW_LANG_VI, 999999, s, sizeof(s));
	assert_string_equal(s, "999,999");
	gw_fmt_kwh(GW_LANG_VI, 1000000000, s, sizeof(s));
	assert_string_equal(s, "1.000.000,000");
	gw_fmt_kwh(GW_LANG_EN, INT64_MIN, s, sizeof(s));
	assert_string_equal(s, "-9,223,372,036,854,775.808");
	/* not a decimal, or no room: -1 and an empty text */
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, "1.2.3", s, sizeof(s)), -1);
	assert_string_equal(s, "");
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, "", s, sizeof(s)), -1);
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, ".5", s, sizeof(s)), -1);
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, "5.", s, sizeof(s)), -1);
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, "1e5", s, sizeof(s)), -1);
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, "-", s, sizeof(s)), -1);
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, "1234567", s, 9), -1); /* "1,234,567" + NUL */
	assert_int_equal(gw_fmt_decimal(GW_LANG_EN, "1234567", s, 10), 9);
	assert_string_equal(s, "1,234,567");
	assert_int_equal(gw_fmt_decimal(GW_LANG_VI, "-100", s, sizeof(s)), 4);
	assert_string_equal(s, "-100");
}

static void dates_and_durations(void **state)
{
	char s[64];

	(void)state;
	gw_fmt_date(GW_LANG_VI, "2026-11-03", s, sizeof(s));
	assert_string_equal(s, "03/11/2026");
	gw_fmt_date(GW_LANG_EN, "2026-11-03", s, sizeof(s));
	assert_string_equal(s, "2026-11-03");
	gw_fmt_date(GW_LANG_VI, "2026-11-03 14:05", s, sizeof(s));
	assert_string_equal(s, "14:05 03/11/2026");
	gw_fmt_date(GW_LANG_EN, "2026-11-03 14:05", s, sizeof(s));
	assert_string_equal(s, "2026-11-03 14:05");
	gw_fmt_date(GW_LANG_VI, "not a date", s, sizeof(s));
	assert_string_equal(s, "not a date");
	assert_int_equal(gw_fmt_date(GW_LANG_VI, "2026-11-03", s, 10), -1);
	gw_fmt_minutes(GW_LANG_EN, 45, s, sizeof(s));
	assert_string_equal(s, "45 min");
	gw_fmt_minutes(GW_LANG_EN, 95, s, sizeof(s));
	assert_string_equal(s, "1 h 35 min");
	gw_fmt_minutes(GW_LANG_VI, 95, s, sizeof(s));
	assert_string_equal(s, "1 giờ 35 phút");
	gw_fmt_minutes(GW_LANG_EN, 1500, s, sizeof(s));
	assert_string_equal(s, "1 d 1 h 0 min");
	gw_fmt_minutes(GW_LANG_VI, 1500, s, sizeof(s));
	assert_string_equal(s, "1 ngày 1 giờ 0 phút");
	gw_fmt_minutes(GW_LANG_EN, -3, s, sizeof(s));
	assert_string_equal(s, "0 min");
	gw_fmt_money(GW_LANG_VI, "1234567", "VND", s, sizeof(s));
	assert_string_equal(s, "1.234.567 ₫");
	gw_fmt_money(GW_LANG_EN, "1234567", "VND", s, sizeof(s));
	assert_string_equal(s, "VND 1,234,567");
	gw_fmt_money(GW_LANG_EN, "1234.50", "EUR", s, sizeof(s));
	assert_string_equal(s, "1,234.50 EUR");
	gw_fmt_money(GW_LANG_VI, "1234.50", "EUR", s, sizeof(s));
	assert_string_equal(s, "1.234,50 EUR");
	assert_int_equal(gw_fmt_money(GW_LANG_VI, "12x", "VND", s, sizeof(s)), -1);
}

static void languages(void **state)
{
	(void)state;
	assert_int_equal(gw_lang_pick(NULL), GW_LANG_VI);
	assert_int_equal(gw_lang_pick(""), GW_LANG_VI);
	assert_int_equal(gw_lang_pick("en"), GW_LANG_EN);
	assert_int_equal(gw_lang_pick("EN-gb"), GW_LANG_EN);
	assert_int_equal(gw_lang_pick("vi-VN,vi;q=0.9,en;q=0.8"), GW_LANG_VI);
	assert_int_equal(gw_lang_pick("en-US,en;q=0.9,vi;q=0.5"), GW_LANG_EN);
	assert_int_equal(gw_lang_pick("vi;q=0.5, en;q=0.8"), GW_LANG_EN);
	assert_int_equal(gw_lang_pick("en;q=0.5, vi"), GW_LANG_VI);
	assert_int_equal(gw_lang_pick("en;q=0.8, vi;q=0.8"), GW_LANG_EN); /* a tie: the first */
	assert_int_equal(gw_lang_pick("en;q=0"), GW_LANG_VI);
	assert_int_equal(gw_lang_pick("fr-FR, de;q=0.9"), GW_LANG_VI);
	assert_int_equal(gw_lang_pick("fr, en;q=0.1"), GW_LANG_EN);
	assert_int_equal(gw_lang_pick("english"), GW_LANG_VI);
	assert_int_equal(gw_lang_pick("*"), GW_LANG_VI);
	assert_int_equal(gw_lang_pick("en;q=abc"), GW_LANG_VI);
	assert_int_equal(gw_lang_pick(",,;;, en ;q=1.0 ,"), GW_LANG_EN);
	assert_string_equal(gw_lang_code(GW_LANG_EN), "en");
	assert_string_equal(gw_lang_code(GW_LANG_VI), "vi");
	for (int m = 0; m < GW_MSG_COUNT; m++) {
		assert_true(gw_msg(GW_LANG_VI, (enum gw_msg)m)[0] != '\0');
		assert_true(gw_msg(GW_LANG_EN, (enum gw_msg)m)[0] != '\0');
	}
}

static void html_escape(void **state)
{
	struct gw_buf b;

	(void)state;
	gw_buf_init(&b, 0);
	gw_html(&b, "<script>alert('x')</script> & \"q\"");
	assert_string_equal(b.data, "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;");
	gw_buf_free(&b);
	gw_html(&b, "Điện\x01\x7f a\tb\nc");
	assert_string_equal(b.data, "Điện a\tb\nc");
	gw_buf_free(&b);
	gw_html(&b, "bad \xff\xc3( \xed\xa0\x80 end"); /* not UTF-8, a surrogate */
	assert_string_equal(b.data, "bad \xef\xbf\xbd\xef\xbf\xbd( \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd end");
	gw_buf_free(&b);
}

static struct gw_page_data *sample(void)
{
	struct gw_page_data *d = calloc(1, sizeof(*d));
	int i;

	assert_non_null(d);
	/* 2026-11-06 .. 2026-12-05: 30 days, December's 5 of them */
	for (i = 0; i < 30; i++) {
		char day[11];
		if (i < 25)
			snprintf(day, sizeof(day), "2026-11-%02d", i + 6);
		else
			snprintf(day, sizeof(day), "2026-12-%02d", i - 24);
		d->days[i] = mk(day, 1000 * i + 5, i == 26 ? GW_DAY_ESTIMATED : GW_DAY_MEASURED);
	}
	d->days[29].mark = GW_DAY_NONE;
	d->ndays = 30;
	d->last_from = 0;
	d->month_from = 25;
	snprintf(d->outages[0].start, sizeof(d->outages[0].start), "2026-12-04 17:00");
	snprintf(d->outages[1].start, sizeof(d->outages[1].start), "2026-11-30 10:00");
	snprintf(d->outages[1].end, sizeof(d->outages[1].end), "2026-11-30 11:35");
	d->outages[1].minutes = 95;
	d->noutages = 2;
	return d;
}

static void page_whole(void **state)
{
	struct gw_page_data *d = sample();
	struct gw_buf b;

	(void)state;
	gw_buf_init(&b, 0);
	assert_int_equal(gw_page_render(&b, GW_LANG_EN, "C-1.x:y_z", d), 0);
	assert_non_null(strstr(b.data, "<html lang=\"en\">"));
	assert_null(strstr(b.data, "<script"));
	/* month so far: days 25..28 of the 30 (the 29th has no data):
	 * 25005 + 26005 + 27005 + 28005 Wh */
	assert_non_null(strstr(b.data, "<dd id=\"mtd-kwh\">106.020 kWh</dd>"));
	assert_non_null(strstr(b.data, "1 day estimated or incomplete; 1 day without data"));
	assert_non_null(strstr(b.data, "No bill estimate is available yet."));
	assert_int_equal(count(b.data, "<g class=\"bar "), 30 + 5);
	/* the month's chart is 31 days wide, the last 30 days' 30 */
	assert_non_null(strstr(b.data, "viewBox=\"0 0 424 182\""));
	assert_non_null(strstr(b.data, "viewBox=\"0 0 412 182\""));
	assert_non_null(strstr(b.data, "<td>2026-12-04 17:00</td><td>not yet restored</td><td>&#8211;</td>"));
	assert_non_null(strstr(b.data, "<td>2026-11-30 10:00</td><td>2026-11-30 11:35</td><td>1 h 35 min</td>"));
	assert_non_null(strstr(b.data, "<b id=\"account\">C-1.x:y_z</b>"));
	gw_buf_free(&b);

	d->bill.have = 1;
	snprintf(d->bill.through, sizeof(d->bill.through), "2026-12-04");
	snprintf(d->bill.total, sizeof(d->bill.total), "275000");
	snprintf(d->bill.amount, sizeof(d->bill.amount), "250000");
	snprintf(d->bill.vat, sizeof(d->bill.vat), "25000");
	snprintf(d->bill.currency, sizeof(d->bill.currency), "VND");
	assert_int_equal(gw_page_render(&b, GW_LANG_VI, "C-1", d), 0);
	assert_non_null(strstr(b.data, "<span id=\"bill-total\">275.000 ₫</span><small>đến hết ngày 04/12/2026"));
	assert_non_null(strstr(b.data, "Chưa thuế 250.000 ₫"));
	assert_non_null(strstr(b.data, "<td>17:00 04/12/2026</td><td>chưa có điện lại</td>"));
	gw_buf_free(&b);
	free(d);
}

struct hdrs {
	char csp[512];
	int n;
};

static int collect(void *ctx, const char *name, const char *value)
{
	struct hdrs *h = ctx;

	h->n++;
	if (strcmp(name, "Content-Security-Policy") == 0)
		snprintf(h->csp, sizeof(h->csp), "%s", value);
	return 0;
}

/* The CSP allows exactly the page's own <style>, by its SHA-256. */
static void csp_hash(void **state)
{
	struct gw_page_data *d = sample();
	unsigned char md[EVP_MAX_MD_SIZE], b64[128];
	unsigned n = 0;
	struct hdrs h = { "", 0 };
	struct gw_buf b;
	const char *s, *e;
	char want[160];

	(void)state;
	gw_buf_init(&b, 0);
	assert_int_equal(gw_page_render(&b, GW_LANG_VI, "C-1", d), 0);
	s = strstr(b.data, "<style>") + 7;
	e = strstr(s, "</style>");
	assert_true(EVP_Digest(s, (size_t)(e - s), md, &n, EVP_sha256(), NULL));
	EVP_EncodeBlock(b64, md, (int)n);
	snprintf(want, sizeof(want), "style-src 'sha256-%s'", (const char *)b64);
	assert_int_equal(gw_page_headers(collect, &h), 0);
	assert_non_null(strstr(h.csp, want));
	assert_non_null(strstr(h.csp, "default-src 'none'"));
	assert_non_null(strstr(h.csp, "frame-ancestors 'none'"));
	assert_null(strstr(h.csp, "script"));
	assert_null(strstr(h.csp, "unsafe"));
	assert_true(h.n >= 4);
	gw_buf_free(&b);
	assert_int_equal(gw_page_message(&b, GW_LANG_EN, GW_MSG_OPEN_FROM_APP_TITLE, GW_MSG_OPEN_FROM_APP), 0);
	assert_non_null(strstr(b.data, "<h1>Open this page from the app</h1>"));
	assert_non_null(strstr(b.data, "the utility&#39;s app"));
	gw_buf_free(&b);
	free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(axis_top),
		cmocka_unit_test(bar_heights),
		cmocka_unit_test(chart_titles),
		cmocka_unit_test(chart_zero_month),
		cmocka_unit_test(chart_huge),
		cmocka_unit_test(numbers),
		cmocka_unit_test(dates_and_durations),
		cmocka_unit_test(languages),
		cmocka_unit_test(html_escape),
		cmocka_unit_test(page_whole),
		cmocka_unit_test(csp_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
