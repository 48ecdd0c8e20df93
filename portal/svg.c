/* SPDX-License-Identifier: MIT */
/*
 * svg.c - the daily bar chart and HTML escaping; see svg.h.
 *
 * Pixel heights are computed in double (a pixel needs no more), every
 * number a person reads (titles, axis labels) from the integer Wh.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "gw.h"
#include "svg.h"

#define LEFT 46  /* room for the axis labels */
#define RIGHT 6
#define TOP 10
#define BOTTOM 22
#define BAR_W 8
#define COLOR_MEASURED "#2b6cb0"
#define COLOR_INCOMPLETE "#b7791f"

enum gw_day_mark gw_day_mark_of(const char *q)
{
	if (!q)
		return GW_DAY_NONE;
	if (strcmp(q, "measured") == 0)
		return GW_DAY_MEASURED;
	if (strcmp(q, "estimated") == 0 || strcmp(q, "interpolated") == 0)
		return GW_DAY_ESTIMATED;
	return GW_DAY_INCOMPLETE;
}

int64_t gw_svg_axis_top(int64_t max_wh)
{
	static const int64_t steps[] = { 1, 2, 5 };
	int64_t p = 1000;
	int i;

	if (max_wh <= 1000)
		return 1000;
	for (;;) {
		for (i = 0; i < 3; i++)
			if (steps[i] * p >= max_wh)
				return steps[i] * p;
		if (p > INT64_MAX / 10 / 5)
			return INT64_MAX;
		p *= 10;
	}
}

int gw_svg_bar_height(int64_t wh, int64_t top)
{
	double h;

	if (wh <= 0 || top <= 0)
		return 0;
	if (wh >= top)
		return GW_SVG_PLOT_H;
	h = (double)wh / (double)top * GW_SVG_PLOT_H + 0.5;
	if (h < 1)
		return 1;
	return h > GW_SVG_PLOT_H ? GW_SVG_PLOT_H : (int)h;
}

/* The length of a valid UTF-8 sequence at s (1-4), or 0. */
static size_t utf8_len(const unsigned char *s)
{
	unsigned c = s[0], cp;
	size_t n, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

int gw_html(struct gw_buf *b, const char *s)
{
	const unsigned char *p = (const unsigned char *)(s ? s : "");
	size_t n;

	while (*p) {
		switch (*p) {
		case '&': gw_buf_puts(b, "&amp;"); p++; continue;
		case '<': gw_buf_puts(b, "&lt;"); p++; continue;
		case '>': gw_buf_puts(b, "&gt;"); p++; continue;
		case '"': gw_buf_puts(b, "&quot;"); p++; continue;
		case '\'': gw_buf_puts(b, "&#39;"); p++; continue;
		default: break;
		}
		if ((*p < 0x20 && *p != '\t' && *p != '\n') || *p == 0x7f) {
			p++;
			continue;
		}
		n = utf8_len(p);
		if (n == 0) {
			gw_buf_puts(b, "\xef\xbf\xbd");
			p++;
			continue;
		}
		gw_buf_add(b, (const char *)p, n);
		p += n;
	}
	return b->failed ? GW_ENOMEM : 0;
}

/* An axis label: kWh of wh, trailing zeros of the decimals dropped. */
static void axis_label(enum gw_lang l, int64_t wh, char *out, size_t cap)
{
	char kwh[GW_KWH_MAX];
	size_t n;

	gw_wh_to_kwh(wh, kwh, sizeof(kwh));
	n = strlen(kwh);
	while (n && kwh[n - 1] == '0')
		kwh[--n] = '\0';
	if (n && kwh[n - 1] == '.')
		kwh[--n] = '\0';
	if (gw_fmt_decimal(l, kwh, out, cap) < 0)
		snprintf(out, cap, "%s", kwh);
}

/* The title of a day: its date, exact kWh and mark, in l. */
static void bar_title(struct gw_buf *b, const struct gw_chart_day *d, enum gw_lang l)
{
	char date[32], kwh[GW_FMT_KWH_MAX];

	gw_fmt_date(l, d->day, date, sizeof(date));
	gw_buf_puts(b, "<title>");
	gw_html(b, date);
	gw_buf_puts(b, ": ");
	if (d->mark == GW_DAY_NONE) {
		gw_html(b, gw_msg(l, GW_MSG_NO_DATA));
	} else {
		gw_fmt_kwh(l, d->wh, kwh, sizeof(kwh));
		gw_html(b, kwh);
		gw_buf_puts(b, " kWh");
		if (d->mark != GW_DAY_MEASURED) {
			gw_buf_puts(b, " (");
			gw_html(b, gw_msg(l, d->mark == GW_DAY_ESTIMATED ? GW_MSG_ESTIMATED : GW_MSG_INCOMPLETE));
			gw_buf_puts(b, ")");
		}
	}
	gw_buf_puts(b, "</title>");
}

static void bar(struct gw_buf *b, const struct gw_chart_day *d, size_t i, int64_t top, enum gw_lang l)
{
	static const char *const cls[] = { "none", "m", "est", "inc" };
	int x = LEFT + (int)i * GW_SVG_PITCH + (GW_SVG_PITCH - BAR_W) / 2, h;

	gw_buf_printf(b, "<g class=\"bar %s\">", cls[d->mark]);
	bar_title(b, d, l);
	if (d->mark == GW_DAY_NONE) {
		/* no bar: a small cross on the axis, and an area for the title */
		gw_buf_printf(b, "<path d=\"M%d %dl%d %dM%d %dl%d %d\" stroke=\"#888\" stroke-width=\"1.2\"/>",
			      x + 1, TOP + GW_SVG_PLOT_H - 7, BAR_W - 2, 6, x + BAR_W - 1, TOP + GW_SVG_PLOT_H - 7,
			      -(BAR_W - 2), 6);
		gw_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"transparent\"/>", x,
			      TOP, BAR_W, GW_SVG_PLOT_H);
	} else {
		h = gw_svg_bar_height(d->wh, top);
		gw_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\"%s/>", x,
			      TOP + GW_SVG_PLOT_H - h, BAR_W, h,
			      d->mark == GW_DAY_MEASURED ? COLOR_MEASURED
			      : d->mark == GW_DAY_ESTIMATED ? "url(#gw-est)"
							     : "url(#gw-inc)",
			      d->mark == GW_DAY_INCOMPLETE
				      ? " stroke=\"" COLOR_INCOMPLETE "\" stroke-width=\"1\" stroke-dasharray=\"2 1\""
				      : "");
	}
	gw_buf_puts(b, "</g>");
}

/* Gridlines and their labels at 0, half and the top of the axis. */
static void grid(struct gw_buf *b, int width, int64_t top, enum gw_lang l)
{
	char label[GW_FMT_KWH_MAX];
	int k;

	for (k = 0; k <= 2; k++) {
		int y = TOP + GW_SVG_PLOT_H - GW_SVG_PLOT_H * k / 2;
		axis_label(l, k == 0 ? 0 : k == 1 ? top / 2 : top, label, sizeof(label));
		gw_buf_printf(b, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"%s\" stroke-width=\"1\"/>",
			      LEFT, y, width - RIGHT, y, k ? "#d0d7de" : "#57606a");
		gw_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\" font-size=\"13\" fill=\"#444\">",
			      LEFT - 4, y + 4);
		gw_html(b, label);
		gw_buf_puts(b, "</text>");
	}
}

/* Day-of-month labels under the bars: the first day, every 1st, and
 * every 5th day that is at least three bars from the label before. */
static void day_labels(struct gw_buf *b, const struct gw_chart_day *days, size_t n)
{
	long last = -100;
	size_t i;

	for (i = 0; i < n; i++) {
		int dom = (days[i].day[8] - '0') * 10 + (days[i].day[9] - '0');
		if (!(i == 0 || dom == 1 || (dom % 5 == 0 && (long)i - last >= 3)) || (long)i - last < 2)
			continue;
		gw_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\" fill=\"#444\">%d</text>",
			      LEFT + (int)i * GW_SVG_PITCH + GW_SVG_PITCH / 2, TOP + GW_SVG_PLOT_H + 17, dom);
		last = (long)i;
	}
}

int gw_svg_chart(struct gw_buf *b, const struct gw_chart_day *days, size_t n, size_t slots,
		 enum gw_lang l, const char *label)
{
	int64_t max = 0, top;
	int width, height = TOP + GW_SVG_PLOT_H + BOTTOM;
	size_t i;

	if (slots < n)
		slots = n;
	width = LEFT + (int)(slots ? slots : 1) * GW_SVG_PITCH + RIGHT;

	for (i = 0; i < n; i++)
		if (days[i].mark != GW_DAY_NONE && days[i].wh > max)
			max = days[i].wh;
	top = gw_svg_axis_top(max);
	gw_buf_printf(b, "<svg class=\"chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" role=\"img\" aria-label=\"",
		      width, height, width, height);
	gw_html(b, label);
	gw_buf_puts(b, "\" xmlns=\"http://www.w3.org/2000/svg\"><desc>");
	gw_html(b, gw_msg(l, GW_MSG_CHART_DESC));
	gw_buf_puts(b, "</desc>");
	grid(b, width, top, l);
	for (i = 0; i < n; i++)
		bar(b, &days[i], i, top, l);
	day_labels(b, days, n);
	gw_buf_puts(b, "</svg>");
	return b->failed ? GW_ENOMEM : 0;
}

int gw_svg_defs(struct gw_buf *b)
{
	gw_buf_puts(b, "<svg class=\"defs\" width=\"0\" height=\"0\" aria-hidden=\"true\" focusable=\"false\""
		       " xmlns=\"http://www.w3.org/2000/svg\"><defs>"
		       "<pattern id=\"gw-est\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\""
		       " patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#c3d8ef\"/>"
		       "<rect width=\"3\" height=\"6\" fill=\"" COLOR_MEASURED "\"/></pattern>"
		       "<pattern id=\"gw-inc\" width=\"5\" height=\"5\" patternUnits=\"userSpaceOnUse\">"
		       "<rect width=\"5\" height=\"5\" fill=\"#fdebd0\"/>"
		       "<circle cx=\"2.5\" cy=\"2.5\" r=\"1.4\" fill=\"" COLOR_INCOMPLETE "\"/></pattern>"
		       "</defs></svg>");
	return b->failed ? GW_ENOMEM : 0;
}

int gw_svg_swatch(struct gw_buf *b, enum gw_day_mark m)
{
	gw_buf_puts(b, "<svg class=\"sw\" width=\"16\" height=\"16\" viewBox=\"0 0 16 16\" aria-hidden=\"true\""
		       " focusable=\"false\" xmlns=\"http://www.w3.org/2000/svg\">");
	switch (m) {
	case GW_DAY_MEASURED:
		gw_buf_puts(b, "<rect width=\"16\" height=\"16\" fill=\"" COLOR_MEASURED "\"/>");
		break;
	case GW_DAY_ESTIMATED:
		gw_buf_puts(b, "<rect width=\"16\" height=\"16\" fill=\"url(#gw-est)\"/>");
		break;
	case GW_DAY_INCOMPLETE:
		gw_buf_puts(b, "<rect x=\"0.5\" y=\"0.5\" width=\"15\" height=\"15\" fill=\"url(#gw-inc)\""
			       " stroke=\"" COLOR_INCOMPLETE "\" stroke-dasharray=\"2 1\"/>");
		break;
	default:
		gw_buf_puts(b, "<path d=\"M4 4l8 8M12 4l-8 8\" stroke=\"#888\" stroke-width=\"1.5\"/>");
		break;
	}
	gw_buf_puts(b, "</svg>");
	return b->failed ? GW_ENOMEM : 0;
}
