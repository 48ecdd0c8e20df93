/* SPDX-License-Identifier: MIT */
/*
 * i18n.c - Vietnamese and English for the customer page; see i18n.h.
 *
 * Numbers are formatted from their decimal text, never through a double:
 * a kWh on the page is the database's Wh / 1000 exactly, as in the API.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "i18n.h"
#include "json.h"

static const char *const texts[GW_MSG_COUNT][2] = {
	[GW_MSG_TITLE] = { "Điện năng tiêu thụ", "Your electricity use" },
	[GW_MSG_ACCOUNT] = { "Mã khách hàng", "Account" },
	[GW_MSG_SIGN_OUT] = { "Đăng xuất", "Sign out" },
	[GW_MSG_MONTH_TO_DATE] = { "Tháng này đến nay", "This month so far" },
	[GW_MSG_USED] = { "Đã dùng", "Used" },
	[GW_MSG_BILL] = { "Tiền điện tạm tính", "Estimated bill" },
	[GW_MSG_BILL_NOTE] = { "Số tiền tạm tính theo số liệu đến nay, không phải hóa đơn.",
			       "An estimate from the readings so far, not a bill." },
	[GW_MSG_NO_BILL] = { "Chưa có tiền điện tạm tính.", "No bill estimate is available yet." },
	[GW_MSG_THIS_MONTH] = { "Từng ngày trong tháng này", "Each day this month" },
	[GW_MSG_LAST_30] = { "30 ngày qua", "The last 30 days" },
	[GW_MSG_OUTAGES] = { "Mất điện gần đây", "Recent power outages" },
	[GW_MSG_NO_OUTAGES] = { "Không có lần mất điện nào được ghi nhận.", "No power outages recorded." },
	[GW_MSG_START] = { "Bắt đầu", "Start" },
	[GW_MSG_END] = { "Kết thúc", "End" },
	[GW_MSG_DURATION] = { "Thời gian", "Duration" },
	[GW_MSG_ONGOING] = { "chưa có điện lại", "not yet restored" },
	[GW_MSG_MEASURED] = { "Đo được", "Measured" },
	[GW_MSG_ESTIMATED] = { "Ước tính", "Estimated" },
	[GW_MSG_INCOMPLETE] = { "Chưa đủ số liệu", "Incomplete" },
	[GW_MSG_NO_DATA] = { "Chưa có số liệu", "No data" },
	[GW_MSG_DAYS_ESTIMATED] = { "%d ngày ước tính hoặc chưa đủ số liệu",
				    "%d days estimated or incomplete" },
	[GW_MSG_DAYS_MISSING] = { "%d ngày chưa có số liệu", "%d days without data" },
	[GW_MSG_TIMES_LOCAL] = { "Giờ Việt Nam.", "Times are local time." },
	[GW_MSG_CHART_DESC] = { "Biểu đồ cột: điện năng (kWh) mỗi ngày; cột gạch chéo là ngày ước tính,"
				" cột chấm là ngày chưa đủ số liệu.",
				"Bar chart of the energy used (kWh) each day; hatched bars are estimated days,"
				" dotted bars incomplete days." },
	[GW_MSG_SIGNED_OUT_TITLE] = { "Đã đăng xuất", "Signed out" },
	[GW_MSG_SIGNED_OUT] = { "Bạn đã đăng xuất. Để xem lại, hãy mở trang này từ ứng dụng.",
				"You have signed out. To see your use again, open this page from the app." },
	[GW_MSG_OPEN_FROM_APP_TITLE] = { "Hãy mở từ ứng dụng", "Open this page from the app" },
	[GW_MSG_OPEN_FROM_APP] = { "Trang này chỉ mở được từ ứng dụng của công ty điện lực."
				   " Hãy đăng nhập vào ứng dụng và chọn xem điện năng tiêu thụ.",
				   "This page opens from the utility's app only. Sign in to the app"
				   " and choose to see your electricity use." },
	[GW_MSG_LINK_BAD_TITLE] = { "Liên kết không dùng được", "This link cannot be used" },
	[GW_MSG_LINK_BAD] = { "Liên kết không hợp lệ hoặc đã hết hạn. Hãy mở lại trang này từ ứng dụng.",
			      "The link is not valid or has expired. Open this page again from the app." },
	[GW_MSG_BUSY_TITLE] = { "Vui lòng thử lại sau", "Please try again later" },
	[GW_MSG_BUSY] = { "Có quá nhiều yêu cầu. Vui lòng thử lại sau ít phút.",
			  "Too many requests. Please try again in a few minutes." },
	[GW_MSG_UNAVAILABLE_TITLE] = { "Tạm thời không xem được", "Temporarily unavailable" },
	[GW_MSG_UNAVAILABLE] = { "Số liệu tạm thời không xem được. Vui lòng thử lại sau.",
				 "Your data cannot be shown just now. Please try again later." },
	[GW_MSG_THROUGH] = { "đến hết ngày %s", "through %s" },
	[GW_MSG_VAT] = { "Thuế GTGT", "VAT" },
	[GW_MSG_AMOUNT] = { "Chưa thuế", "Before VAT" },
	[GW_MSG_TOTAL] = { "Tổng cộng", "Total" },
	[GW_MSG_DAY_ESTIMATED] = { "1 ngày ước tính hoặc chưa đủ số liệu", "1 day estimated or incomplete" },
	[GW_MSG_DAY_MISSING] = { "1 ngày chưa có số liệu", "1 day without data" },
};

const char *gw_msg(enum gw_lang l, enum gw_msg m)
{
	if ((unsigned)m >= GW_MSG_COUNT || (l != GW_LANG_VI && l != GW_LANG_EN))
		return "";
	return texts[m][l];
}

const char *gw_lang_code(enum gw_lang l)
{
	return l == GW_LANG_EN ? "en" : "vi";
}

/* The q-value of one Accept-Language item's parameters (";q=0.5"), in
 * thousandths; 1000 when absent, -1 when malformed. */
static int qvalue(const char *p, const char *end)
{
	int q = 1000, scale = 100;

	while (p < end && (*p == ' ' || *p == ';'))
		p++;
	if (p >= end)
		return 1000;
	if (end - p < 3 || (p[0] != 'q' && p[0] != 'Q') || p[1] != '=')
		return 1000; /* another parameter: ignored */
	p += 2;
	if (*p != '0' && *p != '1')
		return -1;
	q = (*p - '0') * 1000;
	p++;
	if (p < end && *p == '.')
		for (p++; p < end && *p >= '0' && *p <= '9' && scale; p++, scale /= 10)
			q += (*p - '0') * scale;
	return q > 1000 ? 1000 : q;
}

enum gw_lang gw_lang_pick(const char *h)
{
	int best_q = 0;
	enum gw_lang best = GW_LANG_VI;

	while (h && *h) {
		const char *item = h, *end = strchr(h, ','), *semi;
		size_t taglen;
		int q;

		if (!end)
			end = h + strlen(h);
		while (item < end && *item == ' ')
			item++;
		semi = memchr(item, ';', (size_t)(end - item));
		taglen = (size_t)((semi ? semi : end) - item);
		while (taglen && item[taglen - 1] == ' ')
			taglen--;
		q = qvalue(semi ? semi : end, end);
		if (taglen >= 2 && (taglen == 2 || item[2] == '-') && q > best_q) {
			if (strncasecmp(item, "vi", 2) == 0) {
				best = GW_LANG_VI;
				best_q = q;
			} else if (strncasecmp(item, "en", 2) == 0) {
				best = GW_LANG_EN;
				best_q = q;
			}
		}
		h = *end ? end + 1 : end;
	}
	return best;
}

int gw_fmt_decimal(enum gw_lang l, const char *dec, char *out, size_t cap)
{
	char group = l == GW_LANG_EN ? ',' : '.', point = l == GW_LANG_EN ? '.' : ',';
	const char *s = dec, *dot;
	size_t n = 0, intlen, i;

	if (cap)
		out[0] = '\0';
	if (!dec || !cap)
		return -1;
	if (*s == '-')
		s++;
	intlen = strspn(s, "0123456789");
	dot = s + intlen;
	if (intlen == 0 || (*dot && (*dot != '.' || !dot[1] || strspn(dot + 1, "0123456789") != strlen(dot + 1))))
		return -1;
	/* the length: sign, digits, groups, the point and the decimals */
	if ((size_t)(s - dec) + intlen + (intlen - 1) / 3 + strlen(dot) + 1 > cap)
		return -1;
	if (s != dec)
		out[n++] = '-';
	for (i = 0; i < intlen; i++) {
		if (i && (intlen - i) % 3 == 0)
			out[n++] = group;
		out[n++] = s[i];
	}
	if (*dot) {
		out[n++] = point;
		for (s = dot + 1; *s; s++)
			out[n++] = *s;
	}
	out[n] = '\0';
	return (int)n;
}

int gw_fmt_kwh(enum gw_lang l, int64_t wh, char *out, size_t cap)
{
	char kwh[GW_KWH_MAX];

	gw_wh_to_kwh(wh, kwh, sizeof(kwh));
	return gw_fmt_decimal(l, kwh, out, cap);
}

static int is_digits(const char *s, size_t n)
{
	return strspn(s, "0123456789") >= n;
}

int gw_fmt_date(enum gw_lang l, const char *iso, char *out, size_t cap)
{
	size_t len = iso ? strlen(iso) : 0;
	int n;

	if (!iso || !cap)
		return -1;
	if (l == GW_LANG_VI && len >= 10 && is_digits(iso, 4) && iso[4] == '-' && is_digits(iso + 5, 2) &&
	    iso[7] == '-' && is_digits(iso + 8, 2)) {
		if (len == 16 && iso[10] == ' ' && iso[13] == ':')
			n = snprintf(out, cap, "%.5s %.2s/%.2s/%.4s", iso + 11, iso + 8, iso + 5, iso);
		else if (len == 10)
			n = snprintf(out, cap, "%.2s/%.2s/%.4s", iso + 8, iso + 5, iso);
		else
			n = snprintf(out, cap, "%s", iso);
	} else {
		n = snprintf(out, cap, "%s", iso);
	}
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return -1;
	}
	return n;
}

int gw_fmt_minutes(enum gw_lang l, int64_t minutes, char *out, size_t cap)
{
	const char *d = l == GW_LANG_EN ? "d" : "ngày", *h = l == GW_LANG_EN ? "h" : "giờ",
		   *m = l == GW_LANG_EN ? "min" : "phút";
	long long v = minutes < 0 ? 0 : (long long)minutes;
	int n;

	if (!cap)
		return -1;
	if (v >= 1440)
		n = snprintf(out, cap, "%lld %s %lld %s %lld %s", v / 1440, d, v / 60 % 24, h, v % 60, m);
	else if (v >= 60)
		n = snprintf(out, cap, "%lld %s %lld %s", v / 60, h, v % 60, m);
	else
		n = snprintf(out, cap, "%lld %s", v, m);
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return -1;
	}
	return n;
}

int gw_fmt_money(enum gw_lang l, const char *dec, const char *cur, char *out, size_t cap)
{
	char num[64];
	int n;

	if (gw_fmt_decimal(l, dec, num, sizeof(num)) < 0 || !cur) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	if (strcmp(cur, "VND") == 0)
		n = l == GW_LANG_VI ? snprintf(out, cap, "%s ₫", num) : snprintf(out, cap, "VND %s", num);
	else
		n = snprintf(out, cap, "%s %s", num, cur);
	if (n < 0 || (size_t)n >= cap) {
		if (cap)
			out[0] = '\0';
		return -1;
	}
	return n;
}
