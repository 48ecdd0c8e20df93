/* SPDX-License-Identifier: MIT */
/*
 * svg.h - the customer page's bar chart of daily energy, as inline SVG
 * that needs no script and no style sheet of its own, and the HTML
 * escaping every text of the page goes through.
 *
 * One bar per day, its height the day's Wh against a "nice" top of the
 * axis (1, 2 or 5 x 10^k Wh, at least 1 kWh). Each bar is a group
 *
 *   <g class="bar est"><title>2026-11-03: 12.345 kWh (Estimated)</title><rect .../></g>
 *
 * whose title names the day and the exact kWh (i18n.h forms). Days that
 * are not measured are marked by a fill pattern as well as by colour
 * (hatched: estimated or interpolated; dotted: incomplete); a day without
 * data has no bar but a small cross on the axis and its own title. The
 * patterns are defined once per page (gw_svg_defs) and referenced by id.
 */
#ifndef GW_PORTAL_SVG_H
#define GW_PORTAL_SVG_H

#include <stddef.h>
#include <stdint.h>

#include "i18n.h"
#include "json.h"

enum gw_day_mark {
	GW_DAY_NONE = 0,   /* no data for the day */
	GW_DAY_MEASURED,
	GW_DAY_ESTIMATED,  /* quality estimated or interpolated */
	GW_DAY_INCOMPLETE, /* quality incomplete */
};

struct gw_chart_day {
	char day[11]; /* YYYY-MM-DD */
	int64_t wh;   /* import Wh (ignored for GW_DAY_NONE) */
	enum gw_day_mark mark;
};

/* The mark of a day from its quality text (measured, interpolated,
 * estimated, incomplete; NULL: no data). An unknown text is incomplete. */
enum gw_day_mark gw_day_mark_of(const char *quality);

/* The chart's geometry, in SVG user units (for tests). */
#define GW_SVG_PLOT_H 150 /* the height of a bar at the top of the axis */
#define GW_SVG_PITCH 12   /* from one bar to the next */

/* The top of the axis for a largest day of max_wh: the smallest 1, 2 or
 * 5 x 10^k Wh not below it, at least 1000 Wh; INT64_MAX beyond 5 x 10^18. */
int64_t gw_svg_axis_top(int64_t max_wh);

/* A bar's height for wh on an axis of top Wh: wh / top x GW_SVG_PLOT_H,
 * rounded, at least 1 for wh > 0, 0 for wh <= 0, at most GW_SVG_PLOT_H. */
int gw_svg_bar_height(int64_t wh, int64_t top);

/* Appends the chart of n days (n >= 0) to b: an <svg role="img"> with
 * aria-label `label` (plain text, escaped here), `slots` bars wide (at
 * least n; the slots after the n days stay empty: a month's days yet to
 * come). Returns 0 or GW_ENOMEM. */
int gw_svg_chart(struct gw_buf *b, const struct gw_chart_day *days, size_t n, size_t slots,
		 enum gw_lang l, const char *label);

/* The patterns the charts and the legend use: a hidden <svg> with <defs>;
 * once per page, before the first chart. */
int gw_svg_defs(struct gw_buf *b);

/* A legend swatch of mark m: a small <svg> (aria-hidden). */
int gw_svg_swatch(struct gw_buf *b, enum gw_day_mark m);

/* Appends s HTML-escaped (& < > " ' as entities; control characters but
 * tab and line feed dropped; bytes that are not UTF-8 as U+FFFD): safe in
 * element text and in quoted attribute values. Returns 0 or GW_ENOMEM. */
int gw_html(struct gw_buf *b, const char *s);

#endif
