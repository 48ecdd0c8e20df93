#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# tests/integration/portal_page.py - reads the customer page's HTML (as
# curl fetched it, or the DOM headless Chromium rendered) for
# tests/integration/portal_page.sh:
#
#   portal_page.py bars FILE      one line per bar of each chart:
#                                 "CHART DAY KWH MARK TITLEMARK", KWH the
#                                 title's exact kWh as a plain decimal
#                                 ("12.345"; "-" for no data), DAY ISO,
#                                 MARK the bar's class (m, est, inc, none),
#                                 TITLEMARK what the title says (the same
#                                 words, from either language)
#   portal_page.py text FILE ID   the text of the element with id ID
#   portal_page.py outages FILE   the outage table's rows, cells by " | "
#   portal_page.py style FILE     the text of the <style> element
# The title is parsed by the page's language (<html lang>): en
# "2026-11-03: 1,234.567 kWh (Estimated)", vi "03/11/2026: 1.234,567 kWh
# (Ước tính)"; a title in any other form is an error.
import html.parser, re, sys

MARKS = {"Estimated": "est", "Incomplete": "inc", "Ước tính": "est", "Chưa đủ số liệu": "inc"}
NODATA = {"No data", "Chưa có số liệu"}


class Page(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.lang = None
        self.stack = []          # (tag, attrs)
        self.bars = []           # [chart, class, title]
        self.ids = {}
        self.rows = []
        self.style = ""
        self.text_into = []      # open captures: [id, text]
        self.cell = None

    def chart(self):
        for tag, a in reversed(self.stack):
            if tag == "section" and a.get("id") in ("month", "last30"):
                return a["id"]
        return None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.lang = a.get("lang")
        if tag == "g" and "bar" in a.get("class", "").split():
            self.bars.append([self.chart(), a["class"].split()[1], None])
        if tag == "title" and self.stack and self.stack[-1][0] == "g":
            self.bars[-1][2] = ""
        if "id" in a:
            self.text_into.append([a["id"], "", len(self.stack)])
        if tag == "tr" and any(t == "section" and x.get("id") == "outages" for t, x in self.stack):
            self.rows.append([])
        if tag == "td":
            self.cell = ""
        self.stack.append((tag, a))

    def handle_endtag(self, tag):
        while self.stack:
            t, _ = self.stack.pop()
            for cap in [c for c in self.text_into if c[2] == len(self.stack)]:
                self.ids[cap[0]] = cap[1]
                self.text_into.remove(cap)
            if t == "td" and self.cell is not None:
                self.rows[-1].append(self.cell.strip())
                self.cell = None
            if t == tag:
                break

    def handle_data(self, data):
        if self.stack and self.stack[-1][0] == "title" and len(self.stack) > 1 and self.stack[-2][0] == "g":
            self.bars[-1][2] += data
        if self.stack and self.stack[-1][0] == "style":
            self.style += data
        for cap in self.text_into:
            cap[1] += data
        if self.cell is not None:
            self.cell += data


def parse_title(lang, t):
    if lang == "en":
        m = re.fullmatch(r"(\d{4}-\d{2}-\d{2}): (.*)", t)
        day = m and m.group(1)
        group, point = ",", "."
    else:
        m = re.fullmatch(r"(\d{2})/(\d{2})/(\d{4}): (.*)", t)
        day = m and f"{m.group(3)}-{m.group(2)}-{m.group(1)}"
        group, point = ".", ","
    if not m:
        raise SystemExit(f"a title in an unknown form: {t!r} ({lang})")
    rest = m.groups()[-1]
    if rest in NODATA:
        return day, "-", "none"
    m = re.fullmatch(r"(-?[\d" + re.escape(group) + r"]+)" + re.escape(point) + r"(\d{3}) kWh(?: \((.*)\))?", rest)
    if not m:
        raise SystemExit(f"a title in an unknown form: {t!r} ({lang})")
    whole = m.group(1).replace(group, "")
    if m.group(3) is not None and m.group(3) not in MARKS:
        raise SystemExit(f"an unknown mark in {t!r}")
    return day, f"{int(whole)}.{m.group(2)}", MARKS.get(m.group(3), "m")


def main():
    what, path = sys.argv[1], sys.argv[2]
    p = Page()
    p.feed(open(path, encoding="utf-8").read())
    if what == "bars":
        for chart, cls, title in p.bars:
            day, kwh, mark = parse_title(p.lang, title or "")
            print(chart, day, kwh, cls, mark)
    elif what == "text":
        print(" ".join(p.ids.get(sys.argv[3], "").split()))
    elif what == "outages":
        for r in p.rows:
            if r:
                print(" | ".join(r))
    elif what == "style":
        sys.stdout.write(p.style)


main()
