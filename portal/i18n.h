/* SPDX-License-Identifier: MIT */
/*
 * i18n.h - the customer page's two languages, Vietnamese and English:
 * which one a browser asks for (Accept-Language), the page's texts, and
 * numbers, dates, times, durations and money written the way each
 * language writes them.
 *
 *   vi: 1.234,567 kWh   03/11/2026   14:05 03/11/2026   1 giờ 30 phút   1.234.567 ₫
 *   en: 1,234.567 kWh   2026-11-03   2026-11-03 14:05   1 h 30 min      VND 1,234,567
 *
 * Vietnamese is the default: the utility's customers are Vietnamese, and
 * a browser that names neither language (or none at all) gets it.
 * Every function here is pure and thread-safe.
 */
#ifndef GW_PORTAL_I18N_H
#define GW_PORTAL_I18N_H

#include <stddef.h>
#include <stdint.h>

enum gw_lang { GW_LANG_VI = 0, GW_LANG_EN = 1 };

/* The language for an Accept-Language header (NULL: none): of "vi" and
 * "en" (any region, e.g. en-GB), the one with the higher q-value, the
 * earlier one on a tie; q=0 refuses a language. Neither: GW_LANG_VI. */
enum gw_lang gw_lang_pick(const char *accept_language);

/* "vi" or "en", for <html lang>. */
const char *gw_lang_code(enum gw_lang l);

enum gw_msg {
	GW_MSG_TITLE,          /* the page's title */
	GW_MSG_ACCOUNT,        /* "Account" */
	GW_MSG_SIGN_OUT,
	GW_MSG_MONTH_TO_DATE,  /* heading of the month-to-date section */
	GW_MSG_USED,           /* "Used" (kWh so far this month) */
	GW_MSG_BILL,           /* "Estimated bill" */
	GW_MSG_BILL_NOTE,      /* the bill is an estimate ... */
	GW_MSG_NO_BILL,        /* no estimate available */
	GW_MSG_THIS_MONTH,     /* chart heading */
	GW_MSG_LAST_30,        /* chart heading */
	GW_MSG_OUTAGES,        /* heading */
	GW_MSG_NO_OUTAGES,
	GW_MSG_START, GW_MSG_END, GW_MSG_DURATION,
	GW_MSG_ONGOING,        /* an outage not ended yet */
	GW_MSG_MEASURED, GW_MSG_ESTIMATED, GW_MSG_INCOMPLETE, GW_MSG_NO_DATA, /* legend */
	GW_MSG_DAYS_ESTIMATED, /* "%d days estimated or incomplete" (printf) */
	GW_MSG_DAYS_MISSING,   /* "%d days without data" (printf) */
	GW_MSG_TIMES_LOCAL,    /* "Times are Vietnam time (UTC+7)." */
	GW_MSG_CHART_DESC,     /* what a chart shows, for screen readers */
	GW_MSG_SIGNED_OUT_TITLE, GW_MSG_SIGNED_OUT,
	GW_MSG_OPEN_FROM_APP_TITLE, GW_MSG_OPEN_FROM_APP,
	GW_MSG_LINK_BAD_TITLE, GW_MSG_LINK_BAD,
	GW_MSG_BUSY_TITLE, GW_MSG_BUSY,
	GW_MSG_UNAVAILABLE_TITLE, GW_MSG_UNAVAILABLE,
	GW_MSG_THROUGH,        /* "through %s" (printf, a date) */
	GW_MSG_VAT,            /* "VAT" */
	GW_MSG_AMOUNT,         /* "before VAT" */
	GW_MSG_TOTAL,
	GW_MSG_DAY_ESTIMATED,  /* GW_MSG_DAYS_ESTIMATED for one day */
	GW_MSG_DAY_MISSING,    /* GW_MSG_DAYS_MISSING for one day */
	GW_MSG_COUNT
};

/* The text of m in l (UTF-8, not yet HTML-escaped; static). */
const char *gw_msg(enum gw_lang l, enum gw_msg m);

/* A decimal number's text ("-1234567.125", digits with at most one '.')
 * written with l's group and decimal separators ("-1,234,567.125" /
 * "-1.234.567,125"). Returns the length, or -1 if dec is not such a
 * number or out (cap bytes) is too small (out is then ""). */
int gw_fmt_decimal(enum gw_lang l, const char *dec, char *out, size_t cap);

/* Wh as exact kWh with three decimals in l's form ("12.345" / "12,345",
 * "1,234.000" / "1.234,000"). Every int64 exactly. Returns the length or -1. */
#define GW_FMT_KWH_MAX 40
int gw_fmt_kwh(enum gw_lang l, int64_t wh, char *out, size_t cap);

/* A date "YYYY-MM-DD" as l writes it: "2026-11-03" / "03/11/2026".
 * "YYYY-MM-DD HH:MI" (a local time): "2026-11-03 14:05" / "14:05 03/11/2026".
 * Anything else is copied as it is. Returns the length or -1. */
int gw_fmt_date(enum gw_lang l, const char *iso, char *out, size_t cap);

/* Whole minutes as l says them: "45 min", "1 h 30 min", "2 d 3 h 0 min" /
 * "45 phút", "1 giờ 30 phút", "2 ngày 3 giờ 0 phút". Returns the length or -1. */
int gw_fmt_minutes(enum gw_lang l, int64_t minutes, char *out, size_t cap);

/* Money: dec (a decimal text) in currency cur ("VND": "1.234.567 ₫" /
 * "VND 1,234,567"; another code: "1,234.50 EUR" in both). Returns the
 * length or -1. */
int gw_fmt_money(enum gw_lang l, const char *dec, const char *cur, char *out, size_t cap);

#endif
