#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/portal_page.sh - the customer page of portald against a
# real PostgreSQL: days of three meters loaded by a gateway role over the
# last 40 days (two meters of account C-1, one of C-2), some of them
# estimated, interpolated, incomplete, zero or missing, and outages.
#   - the handoff /session?token= sets the cookie (HttpOnly, SameSite=Lax,
#     Path=/, Max-Age to the token's exp; Secure and the __Host- name by
#     default) and answers 303 to / without the token; a bad token is one
#     401 page; the token is never in the log or the answer's body;
#   - / without a cookie, or with a bad one, is one 401 page; sign-out;
#   - the security headers; the style's hash in the CSP; no script;
#   - Vietnamese by default, English by Accept-Language, numbers and dates
#     in each language's form; nothing of the request echoed unescaped;
#   - every bar's <title> (day, exact kWh, mark) equals the database's
#     rows, in curl's HTML and in the DOM headless Chromium rendered
#     through the handoff URL; nothing of C-2 on C-1's page;
#   - screenshots at 360x800 and 1280x900 (kept under
#     $GW_BUILD/test-output/portal_page/, printed at the end) and no
#     horizontal overflow at 360 px;
#   - the rate limit; /v1/health with its database (up, down, hung).
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
portald=$GW_BUILD/portald
pp() { /usr/bin/python3 "$GW_TOP/tests/integration/portal_page.py" "$@"; }
tok() { /usr/bin/python3 "$GW_TOP/tests/integration/portal_token.py" "$@"; }
out_dir=$GW_TOP/$GW_BUILD/test-output/portal_page
case "$GW_BUILD" in /*) out_dir=$GW_BUILD/test-output/portal_page ;; esac
rm -rf "$out_dir"
mkdir -p "$out_dir"
start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
# check_lines GOT WANT DESC: as check_eq, a failure shows the difference
check_lines() {
	if [ "$1" = "$2" ]; then
		ok "$3"
	else
		not_ok "$3"
		diff <(printf '%s\n' "$2") <(printf '%s\n' "$1") | sed 's/^/#   /' | head -20
	fi
}

# The days, relative to today in the portal's zone.
zone=Asia/Ho_Chi_Minh
today=$(TZ=$zone date +%F)
day() { date -d "$today $1 days" +%F; } # day -3: three days ago
first=$(day -40)
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/roles.out" 2>&1 <<EOF2 || not_ok "create the test roles ($(tail -3 "$GW_TMP/roles.out"))"
CREATE ROLE gw_a LOGIN IN ROLE gw_uploader;
CREATE ROLE portal_web LOGIN IN ROLE customer_portal;
SELECT gw_register_gateway('gw-a', 'gw_a', '$zone');
SELECT gw_assign_meter('A-00000' || i, 'gw-a') FROM generate_series(1, 3) i;
EOF2
"$gen" --gateway gw-a --prefix A- --meters 3 --day "$first" --days 40 "$GW_TMP/sa" >/dev/null
check_cmd "gw_a loads 40 days of three meters ($first to $(day -1))" "$gwctl" upload --conninfo "host=$PGHOST port=$PGPORT dbname=meters user=gw_a" "$GW_TMP/sa"
d_exact=$(day -2) d_est=$(day -3) d_interp=$(day -4) d_inc=$(day -6) d_zero=$(day -8) d_gap=$(day -10)
# C-1 holds A-000001 and A-000002 (its page sums them), C-2 A-000003.
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/acct.out" 2>&1 <<EOF2 || not_ok "set up the accounts and days ($(tail -3 "$GW_TMP/acct.out"))"
INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account) VALUES
	('A-000001', '-infinity', NULL, 'C-1'),
	('A-000002', '-infinity', NULL, 'C-1'),
	('A-000003', '-infinity', NULL, 'C-2');
UPDATE daily_registers SET consumption = 12345 WHERE meter_id = 'A-000001' AND day = '$d_exact' AND obis = '1.8.0';
UPDATE daily_registers SET consumption = 0 WHERE meter_id = 'A-000002' AND day = '$d_exact' AND obis = '1.8.0';
UPDATE daily_registers SET quality = 'estimated', minutes_missing = 90 WHERE meter_id = 'A-000001' AND day = '$d_est';
UPDATE daily_registers SET quality = 'interpolated', minutes_missing = 30 WHERE meter_id = 'A-000002' AND day = '$d_interp';
UPDATE daily_registers SET quality = 'incomplete', minutes_missing = 600 WHERE meter_id = 'A-000001' AND day = '$d_inc';
UPDATE daily_registers SET consumption = 0 WHERE meter_id IN ('A-000001', 'A-000002') AND day = '$d_zero' AND obis = '1.8.0';
DELETE FROM daily_registers WHERE meter_id IN ('A-000001', 'A-000002') AND day = '$d_gap';
-- C-2's days: a number that must never be on C-1's page
UPDATE daily_registers SET consumption = 987654321 WHERE meter_id = 'A-000003' AND obis = '1.8.0';
INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id) VALUES
	('A-000001', '$(day -5) 03:00:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000002', '$(day -5) 03:00:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000001', '$(day -5) 04:35:00+00', 'online', '', NULL, 'gw-a'),
	('A-000002', '$(day -5) 04:35:00+00', 'online', '', NULL, 'gw-a'),
	('A-000002', '$(day -1) 10:00:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000003', '$(day -7) 05:17:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000003', '$(day -7) 09:41:00+00', 'online', '', NULL, 'gw-a');
EOF2
check_eq "$(q "SELECT count(*) FILTER (WHERE import_wh = 12345) || '/' || count(*) FILTER (WHERE quality <> 'measured') FROM meter_days WHERE meter_id = 'A-000001'")" \
	"1/2" "meter_days holds the uneven days"

# --- the service -------------------------------------------------------------
key=$GW_TMP/portal.key
head -c 48 /dev/urandom | base64 >"$key"
chmod 600 "$key"
head -c 48 /dev/urandom | base64 >"$GW_TMP/other.key"
port=$(free_port)
# portal_ini PORT [EXTRA-PORTAL-LINES]
portal_ini() {
	cat <<INI
[portal]
listen = 127.0.0.1
port = $1
threads = 2
key_file = $key
rate_per_minute = 1
rate_burst = 30
health_timeout_ms = 500
${2:-}

[database]
conninfo = host=$PGHOST port=$PGPORT dbname=meters user=portal_web
INI
}
portal_ini "$port" "cookie_secure = off" >"$GW_TMP/portal.ini"
"$portald" -c "$GW_TMP/portal.ini" 2>"$GW_TMP/portald.log" &
track_pid $!
base=http://127.0.0.1:$port
if wait_for 20 curl -sf "$base/v1/health"; then
	ok "portald serves on 127.0.0.1"
else
	not_ok "portald serves on 127.0.0.1 ($(tail -5 "$GW_TMP/portald.log"))"
	exit 1
fi
check_eq "$(curl -s -m 10 "$base/v1/health")" '{"status":"ok","database":"ok"}' "/v1/health: ok, and the database answers"

# get URL [CURL-ARGS...]: the status in $code, body and headers in $GW_TMP
get() {
	local url=$1
	shift
	code=$(curl -s -m 30 -o "$GW_TMP/body" -D "$GW_TMP/headers" -w '%{http_code}' "$@" "$base$url")
	tr -d '\r' <"$GW_TMP/headers" >"$GW_TMP/h"
}
header() { grep -i "^$1:" "$GW_TMP/h" | head -1 | cut -d: -f2- | sed 's/^ //'; }
t1=$(tok "$key" C-1)
t2=$(tok "$key" C-2)

# --- the handoff ------------------------------------------------------------------
get "/session?token=$t1"
now=$(date +%s) # the handoff's time, before anything slow (python below)
sc=$(header Set-Cookie)
check_eq "$code $(header Location)" "303 /" "the handoff answers 303 to / (no token in the Location)"
if [[ "$sc" == "portal_session=$t1~"* ]] && [[ "$sc" == *"; HttpOnly;"* ]] && [[ "$sc" == *"SameSite=Lax"* ]] &&
	[[ "$sc" == *"; Path=/;"* ]] && [[ "$sc" != *Secure* ]]; then
	ok "the handoff sets the cookie: the token sealed, HttpOnly, SameSite=Lax, Path=/ (Secure off as configured)"
else
	not_ok "the handoff sets the cookie: the token sealed, HttpOnly, SameSite=Lax, Path=/ (got: $sc)"
fi
exp=$(/usr/bin/python3 -c 'import base64,json,sys; p=sys.argv[1].split(".")[1]; print(json.loads(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)))["exp"])' "$t1")
max_age=$(sed -n 's/.*Max-Age=\([0-9]*\).*/\1/p' <<<"$sc")
if [ -n "$max_age" ] && [ "$max_age" -le $((exp - now + 2)) ] && [ "$max_age" -ge $((exp - now - 30)) ]; then
	ok "the cookie's Max-Age ends with the token ($max_age s, exp in $((exp - now)) s)"
else
	not_ok "the cookie's Max-Age ends with the token (Max-Age '$max_age', exp in $((exp - now)) s)"
fi
if grep -qF "$t1" "$GW_TMP/body" || grep -v '^Set-Cookie:' "$GW_TMP/h" | grep -qF "$(cut -d. -f3 <<<"$t1")"; then
	not_ok "the handoff's answer echoes the token only in Set-Cookie"
else
	ok "the handoff's answer echoes the token only in Set-Cookie"
fi
c1=$(sed -n 's/^portal_session=\([^;]*\);.*/\1/p' <<<"$sc")
# session_of ACCOUNT [CLAIMS...]: the cookie of a fresh token's handoff
session_of() {
	curl -s -m 30 -D - -o /dev/null "$base/session?token=$(tok "$key" "$@")" | tr -d '\r' |
		sed -n 's/^Set-Cookie: portal_session=\([^;]*\);.*/\1/p'
}
c2=$(session_of C-2)
# page_401 DESC TITLE-WORDS: the last answer is a 401 page with no detail
page_401() {
	if [ "$code" = 401 ] && grep -qF "$2" "$GW_TMP/body" &&
		! grep -qiE 'signature|expired|audience|algorithm|base64|account|token' "$GW_TMP/body" &&
		[ -z "$(header Location)" ]; then
		ok "401 page, no detail: $1"
	else
		not_ok "401 page, no detail: $1 (got $code: $(head -c 300 "$GW_TMP/body"))"
	fi
}
link_bad='Liên kết không dùng được'
get "/session?token=$(tok "$key" C-1 key="$GW_TMP/other.key")"
page_401 "a handoff token signed with another key" "$link_bad"
check_eq "$(header Set-Cookie)" "" "a refused handoff sets no cookie"
cp "$GW_TMP/body" "$GW_TMP/401-signature"
get "/session?token=$(tok "$key" C-1 exp=-120)"
page_401 "an expired handoff token" "$link_bad"
cmp -s "$GW_TMP/body" "$GW_TMP/401-signature" && ok "an expired token and a bad signature get the very same page" ||
	not_ok "an expired token and a bad signature get the very same page"
get "/session?token=$(tok "$key" C-1 aud='"another"')"
page_401 "a handoff token for another audience" "$link_bad"
get "/session?token=$(tok "$key" C-1 alg=none sig=)"
page_401 "a handoff token with alg none" "$link_bad"
get "/session"
page_401 "a handoff without a token" "$link_bad"
get "/session?token=$t1&token=$t2"
page_401 "a handoff with two tokens" "$link_bad"
get "/session?token=$(tok "$key" C-1)" -H 'Accept-Language: en'
check_eq "$code" 303 "a good token after refused ones is taken"
get "/session?token=$t1"
page_401 "a handoff token used a second time" "$link_bad"
check_eq "$(header Set-Cookie)" "" "a handoff token used again sets no cookie"
get "/session?token=$(tok "$key" C-1 jti=-)"
page_401 "a handoff token without a jti" "$link_bad"

# --- the page: refusals --------------------------------------------------------------
get "/"
page_401 "/ without a cookie (Vietnamese by default)" "Hãy mở từ ứng dụng"
get "/" -H 'Accept-Language: en-GB,en;q=0.8'
page_401 "/ without a cookie, in English" "Open this page from the app"
get "/" -H "Cookie: portal_session=$(tok "$key" C-1 exp=-120)"
page_401 "/ with an expired token in the cookie" "Hãy mở từ ứng dụng"
[[ "$(header Set-Cookie)" == "portal_session=; Max-Age=0; Path=/;"* ]] && ok "a cookie that is no good is cleared" ||
	not_ok "a cookie that is no good is cleared (got $(header Set-Cookie))"
get "/" -H "Cookie: portal_session=$(tok "$key" C-1 key="$GW_TMP/other.key")"
page_401 "/ with a cookie signed with another key" "Hãy mở từ ứng dụng"
get "/" -H "Cookie: portal_session=$t1"
page_401 "/ with a good token made into a cookie by hand (not sealed by the handoff)" "Hãy mở từ ứng dụng"
[[ "$(header Set-Cookie)" == "portal_session=; Max-Age=0;"* ]] && ok "... and that cookie is cleared" ||
	not_ok "... and that cookie is cleared (got $(header Set-Cookie))"
get "/" -H "Cookie: portal_session=${c1%~*}~$(tok "$key" C-1 | cut -d. -f3 | cut -c1-43)"
page_401 "/ with the token under a seal of its own making" "Hãy mở từ ứng dụng"
get "/" -H "Cookie: portal_session=$(tok "$key" C-1)~${c1##*~}"
page_401 "/ with another token under the handoff's seal" "Hãy mở từ ứng dụng"
# A sealed cookie lives no longer than its token: handed off 20 s after
# its exp (within the leeway of 30 s), it is refused from exp + 30 s on.
c5=$(session_of C-5 exp=-20)
get "/" -H "Cookie: portal_session=$c5"
check_eq "$code" 200 "a sealed cookie of a token within its leeway shows the page"
for i in $(seq 1 30); do
	get "/" -H "Cookie: portal_session=$c5"
	[ "$code" = 401 ] && break
	sleep 1
done
page_401 "/ with a sealed cookie whose token has expired" "Hãy mở từ ứng dụng"
grep -q "GET / from 127.0.0.1: refused: expired" "$GW_TMP/portald.log" && ok "... refused as expired (the log)" ||
	not_ok "... refused as expired (the log)"
get "/" -H "Authorization: Bearer $t1"
page_401 "/ with a bearer header but no cookie (the page reads only its cookie)" "Hãy mở từ ứng dụng"
get "/" -H "Cookie: __Host-portal_session=$c1"
page_401 "/ with the cookie under the name of the other setting" "Hãy mở từ ứng dụng"

# --- the page ------------------------------------------------------------------------
get "/" -H "Cookie: other=1; portal_session=$c1; more=2"
check_eq "$code" 200 "/ with the handoff's cookie shows the page"
cp "$GW_TMP/body" "$out_dir/page-vi.html"
csp=$(header Content-Security-Policy)
style_hash=$(pp style "$GW_TMP/body" | openssl dgst -sha256 -binary | base64)
if [[ "$csp" == *"default-src 'none'"* ]] && [[ "$csp" == *"frame-ancestors 'none'"* ]] &&
	[[ "$csp" == *"style-src 'sha256-$style_hash'"* ]] && [[ "$csp" != *script* ]] && [[ "$csp" != *unsafe* ]]; then
	ok "Content-Security-Policy: nothing by default, no script, frames none, the style by its hash"
else
	not_ok "Content-Security-Policy: nothing by default, no script, frames none, the style by its hash (got '$csp', style sha256-$style_hash)"
fi
check_eq "$(header X-Content-Type-Options)|$(header Referrer-Policy)|$(header Cache-Control)|$(header X-Frame-Options)|$(header Content-Type)" \
	"nosniff|no-referrer|private, no-store|DENY|text/html; charset=utf-8" "the page's security headers"
if grep -qiE '<script|javascript:|[[:space:]]on[a-z]+=' "$GW_TMP/body"; then not_ok "the page has no script"; else ok "the page has no script"; fi
grep -q '<html lang="vi">' "$GW_TMP/body" && grep -q 'Điện năng tiêu thụ' "$GW_TMP/body" &&
	ok "Vietnamese without Accept-Language" || not_ok "Vietnamese without Accept-Language"

# What C-1's charts must show, from the database (its two meters summed
# per day; the worst quality; kWh as numeric): "CHART DAY KWH MARK MARK".
expect_bars() {
	psql -XqAt -F' ' -v ON_ERROR_STOP=1 -c "
	WITH b AS (SELECT date_trunc('month', '$today'::date::timestamp)::date AS m, '$today'::date - 29 AS l),
	days AS (SELECT g::date AS day FROM b, generate_series(least(b.m, b.l), '$today'::date, interval '1 day') g),
	d AS (SELECT day, sum(import_wh) AS wh, max(array_position(ARRAY['measured','interpolated','estimated','incomplete'], quality::text)) AS w
	      FROM meter_days WHERE meter_id IN ('A-000001', 'A-000002') GROUP BY day),
	rows AS (SELECT days.day, coalesce((d.wh / 1000.0)::numeric(30, 3)::text, '-') AS kwh,
	         CASE WHEN d.w IS NULL THEN 'none' WHEN d.w = 1 THEN 'm' WHEN d.w IN (2, 3) THEN 'est' ELSE 'inc' END AS mark
	         FROM days LEFT JOIN d USING (day))
	SELECT 'month', day, kwh, mark, mark FROM rows, b WHERE day >= b.m
	UNION ALL SELECT 'last30', day, kwh, mark, mark FROM rows, b WHERE day >= b.l
	ORDER BY 1 DESC, 2"
}
want_bars=$(expect_bars)
check_eq "$(grep -c '' <<<"$want_bars")" "$(( $(date -d "$today" +%-d) + 30 ))" "the expectation has a row for each day of both charts"
grep -q " est est$" <<<"$want_bars" && grep -q " inc inc$" <<<"$want_bars" && grep -q "^last30 $d_gap - none none$" <<<"$want_bars" &&
	grep -q "^last30 $d_zero 0.000 m m$" <<<"$want_bars" && grep -q "^last30 $d_exact 12.345 m m$" <<<"$want_bars" &&
	ok "the expectation holds estimated, incomplete, missing, zero and 12.345 kWh days" ||
	not_ok "the expectation holds estimated, incomplete, missing, zero and 12.345 kWh days"
check_lines "$(pp bars "$GW_TMP/body")" "$want_bars" "curl, vi: every bar's title is its day and exact kWh; marks are the days not measured"
vi_exact="$(date -d "$d_exact" +%d/%m/%Y): 12,345 kWh"
grep -qF "<title>$vi_exact</title>" "$GW_TMP/body" && ok "vi: a title reads '$vi_exact'" || not_ok "vi: a title reads '$vi_exact'"
grep -qF "<title>$(date -d "$d_est" +%d/%m/%Y): " "$GW_TMP/body" && grep -qF ' (Ước tính)</title>' "$GW_TMP/body" &&
	ok "vi: an estimated day's title says Ước tính" || not_ok "vi: an estimated day's title says Ước tính"
month_wh=$(q "SELECT coalesce(sum(import_wh), 0) FROM meter_days WHERE meter_id IN ('A-000001', 'A-000002') AND day >= date_trunc('month', '$today'::date::timestamp)::date AND day <= '$today'")
fmt_vi=$(/usr/bin/python3 -c 'import sys; w=int(sys.argv[1]); print(f"{w//1000:,}".replace(",", ".") + "," + f"{w%1000:03d}")' "$month_wh")
fmt_en=$(/usr/bin/python3 -c 'import sys; w=int(sys.argv[1]); print(f"{w//1000:,}" + "." + f"{w%1000:03d}")' "$month_wh")
check_eq "$(pp text "$GW_TMP/body" mtd-kwh)" "$fmt_vi kWh" "vi: the month so far is the database's sum ($month_wh Wh)"
# the month-to-date bill: gw_bill_estimate (schema 010) through yesterday
# (today on the first of a month), its total in each language's form
through=$(q "SELECT greatest('$today'::date - 1, date_trunc('month', '$today'::date::timestamp)::date)")
bill=$(q "SELECT total || ' ' || currency FROM gw_bill_estimate('C-1', '$through')")
money() { # LANG TOTAL: VND as the page writes it
	/usr/bin/python3 -c 'import sys; l, t = sys.argv[1], int(sys.argv[2]); g = f"{t:,}"
print(g.replace(",", ".") + " ₫" if l == "vi" else "VND " + g)' "$1" "$2"; }
if [ "${bill#* }" = VND ] && [ -n "${bill% *}" ]; then
	check_eq "$(pp text "$GW_TMP/body" bill-total)" "$(money vi "${bill% *}")" "vi: the bill estimate is gw_bill_estimate's total ($bill through $through)"
else
	not_ok "gw_bill_estimate gives C-1 a bill in VND (got '$bill')"
fi
grep -qF "đến hết ngày $(date -d "$through" +%d/%m/%Y)" "$GW_TMP/body" && ok "vi: the bill says through which day" ||
	not_ok "vi: the bill says through which day"
# outages in local time (UTC+7), the latest first; C-2's is not shown
vi_d() { date -d "$1" +%d/%m/%Y; }
check_eq "$(pp outages "$GW_TMP/body")" "17:00 $(vi_d "$(day -1)") | chưa có điện lại | –
10:00 $(vi_d "$(day -5)") | 11:35 $(vi_d "$(day -5)") | 1 giờ 35 phút" \
	"vi: the outages, latest first, local time: one not restored, one of 1 h 35 min (two meters, one row)"

# English, by Accept-Language and its q-values
get "/" -H "Cookie: portal_session=$c1" -H 'Accept-Language: en-US,en;q=0.9,vi;q=0.5'
cp "$GW_TMP/body" "$out_dir/page-en.html"
grep -q '<html lang="en">' "$GW_TMP/body" && grep -q 'Your electricity use' "$GW_TMP/body" &&
	ok "English for Accept-Language: en-US,en;q=0.9,vi;q=0.5" || not_ok "English for Accept-Language: en-US,en;q=0.9,vi;q=0.5"
check_lines "$(pp bars "$GW_TMP/body")" "$want_bars" "curl, en: every bar's title is its day and exact kWh; the same marks"
grep -qF "<title>$d_exact: 12.345 kWh</title>" "$GW_TMP/body" && ok "en: a title reads '$d_exact: 12.345 kWh'" ||
	not_ok "en: a title reads '$d_exact: 12.345 kWh'"
check_eq "$(pp text "$GW_TMP/body" mtd-kwh)" "$fmt_en kWh" "en: the month so far, English number form"
check_eq "$(pp text "$GW_TMP/body" bill-total)" "$(money en "${bill% *}")" "en: the bill estimate, English form"
check_eq "$(pp outages "$GW_TMP/body")" "$(day -1) 17:00 | not yet restored | –
$(day -5) 10:00 | $(day -5) 11:35 | 1 h 35 min" "en: the outages"
lang_of() { curl -s -m 30 -H "Cookie: portal_session=$c1" -H "Accept-Language: $1" "$base/" | grep -o '<html lang="[a-z]*">'; }
check_eq "$(lang_of 'fr-FR, en;q=0.5')" '<html lang="en">' "fr, en;q=0.5: English"
check_eq "$(lang_of 'en;q=0.5, vi')" '<html lang="vi">' "en;q=0.5, vi: Vietnamese"
check_eq "$(lang_of 'en;q=0')" '<html lang="vi">' "en;q=0 refuses English: Vietnamese"
check_eq "$(lang_of 'de, fr')" '<html lang="vi">' "neither language: Vietnamese"

# nothing of the request comes back, and nothing of C-2
get "/?q=%3Cscript%3Ealert(1)%3C/script%3E" -H "Cookie: portal_session=$c1" -H 'Accept-Language: <script>alert(2)</script>'
if [ "$code" = 200 ] && ! grep -qiE 'alert|<script' "$GW_TMP/body"; then ok "a query argument and a hostile Accept-Language are not echoed"; else
	not_ok "a query argument and a hostile Accept-Language are not echoed ($code)"; fi
get "/" -H "Cookie: portal_session=$c1"
if grep -qE 'C-2|A-00000|987[.,]654|05:17|12:17' "$GW_TMP/body"; then
	not_ok "C-1's page has nothing of C-2 (account, meters, its 987,654.321 kWh days, its outage)"
else
	ok "C-1's page has nothing of C-2 (account, meters, its 987,654.321 kWh days, its outage)"
fi
get "/" -H "Cookie: portal_session=$c2" -H 'Accept-Language: en'
c2_days=$(pp bars "$GW_TMP/body" | awk '$3 != "-"' | awk '{ print $3 }' | sort -u | tr '\n' ' ')
check_eq "$code/$(pp text "$GW_TMP/body" account)/$c2_days" "200/C-2/987654.321 " \
	"C-2's page: its account, only its own days (987,654.321 kWh each)"
check_eq "$(pp outages "$GW_TMP/body")" "$(day -7) 12:17 | $(day -7) 16:41 | 4 h 24 min" "C-2's page: its one outage"

# A bill estimate that fails (here: the portal may not run it) leaves the
# rest of the page as it is, and says there is no estimate.
q "REVOKE EXECUTE ON FUNCTION gw_bill_estimate(text, date) FROM customer_portal" >/dev/null
get "/" -H "Cookie: portal_session=$c1"
q "GRANT EXECUTE ON FUNCTION gw_bill_estimate(text, date) TO customer_portal" >/dev/null
check_eq "$code/$(pp text "$GW_TMP/body" bill-total)/$(pp bars "$GW_TMP/body" | grep -c '')" "200//$(grep -c '' <<<"$want_bars")" \
	"a failing bill estimate: the page without it, its charts whole"
grep -q 'Chưa có tiền điện tạm tính' "$GW_TMP/body" && ok "... and it says no estimate is available" ||
	not_ok "... and it says no estimate is available"
get "/" -H "Cookie: portal_session=$c1"
check_eq "$(pp text "$GW_TMP/body" bill-total)" "$(money vi "${bill% *}")" "the bill is back on the next request"

# sign-out
get "/signout" -H "Cookie: portal_session=$c1"
check_eq "$code|$(header Set-Cookie)" "200|portal_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Lax" "sign-out clears the cookie"
grep -q 'Đã đăng xuất' "$GW_TMP/body" && ok "sign-out says so" || not_ok "sign-out says so"

# --- headless Chromium: the page as a browser renders it --------------------------
chrome() { # ARGS...: headless Chromium with a profile of its own; it may take long on a loaded machine
	local rc=0
	timeout 300 chromium --headless --no-sandbox --disable-gpu --no-first-run --hide-scrollbars \
		--user-data-dir="$GW_TMP/chrome.$RANDOM" "$@" 2>>"$GW_TMP/chrome.log" || rc=$?
	[ "$rc" = 0 ] || echo "# chromium $* exited with status $rc"
	return $rc
}
if ! command -v chromium >/dev/null; then
	if [ "${CI:-}" = true ]; then
		not_ok "headless Chromium is installed (tools/deps.sh installs chromium)"
	else
		echo "# chromium is not installed: the rendering checks did not run (tools/deps.sh installs it)"
	fi
else
	# a fresh token for each browser: a handoff token is good once
	chrome --window-size=1280,900 --dump-dom "$base/session?token=$(tok "$key" C-1)" >"$out_dir/dom-1280.html"
	if grep -q '<b id="account">C-1</b>' "$out_dir/dom-1280.html"; then
		ok "Chromium follows the handoff URL to the page (cookie set, 303 followed)"
	else
		not_ok "Chromium follows the handoff URL to the page ($(head -c 300 "$out_dir/dom-1280.html"); $(tail -3 "$GW_TMP/chrome.log"))"
	fi
	check_lines "$(pp bars "$out_dir/dom-1280.html")" "$want_bars" \
		"Chromium's DOM: every bar's title is the database's day and exact kWh; the marked bars are the days not measured"
	# the phone in Vietnamese, the desktop in English
	for w in 360x800 1280x900; do
		lang=vi
		[ "$w" = 1280x900 ] && lang=en-US
		chrome --window-size="${w/x/,}" --accept-lang="$lang" --screenshot="$out_dir/page-$w.png" "$base/session?token=$(tok "$key" C-1)" >/dev/null
		png_w=$(od -An -tu1 -j16 -N4 "$out_dir/page-$w.png" 2>/dev/null | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
		png_h=$(od -An -tu1 -j20 -N4 "$out_dir/page-$w.png" 2>/dev/null | awk '{ print $1 * 16777216 + $2 * 65536 + $3 * 256 + $4 }')
		check_eq "${png_w}x$png_h" "$w" "a screenshot at $w: $out_dir/page-$w.png"
	done
	# No horizontal scrolling at 360 px. The page runs no script, so its
	# rendered DOM (markup and inline style exactly as served) is measured
	# in a frame 360 px wide (headless Chromium's window is at least 500
	# px) of a page that runs one: the frame document's scrollWidth
	# against its clientWidth. A copy with a 500 px wide block must show
	# overflow, or the measurement proves nothing.
	overflow_of() { # DOM-FILE EXTRA-BODY-HTML: prints scrollWidth/clientWidth at 360 px
		/usr/bin/python3 - "$1" "$2" >"$GW_TMP/measure.html" <<'PY'
import html, sys
page = open(sys.argv[1], encoding="utf-8").read().replace("</body>", sys.argv[2] + "</body>")
print('<!DOCTYPE html><html><body style="margin:0"><iframe id="f" width="360" height="800"'
      ' style="border:0" srcdoc="' + html.escape(page, quote=True) + '"></iframe><script>'
      'var f = document.getElementById("f"), measure = function () {'
      ' var e = f.contentDocument.documentElement;'
      ' document.body.setAttribute("data-overflow", e.scrollWidth + "/" + e.clientWidth); };'
      'if (f.contentDocument && f.contentDocument.readyState === "complete" && f.contentDocument.body'
      ' && f.contentDocument.body.firstChild) measure(); else f.addEventListener("load", measure);'
      '</script></body></html>')
PY
		chrome --window-size=800,900 --dump-dom "file://$GW_TMP/measure.html" | grep -o 'data-overflow="[0-9]*/[0-9]*"' | cut -d'"' -f2
	}
	chrome --window-size=360,800 --dump-dom "$base/session?token=$(tok "$key" C-1)" >"$out_dir/dom-360.html"
	check_lines "$(pp bars "$out_dir/dom-360.html")" "$want_bars" "Chromium's DOM at 360 px: the same bars"
	ov=$(overflow_of "$out_dir/dom-360.html" "")
	if [ -n "$ov" ] && [ "${ov%/*}" -le "${ov#*/}" ] && [ "${ov#*/}" = 360 ]; then
		ok "no horizontal overflow at 360 px (scrollWidth/clientWidth $ov)"
	else
		not_ok "no horizontal overflow at 360 px (scrollWidth/clientWidth '$ov')"
	fi
	ov=$(overflow_of "$out_dir/dom-360.html" '<div style="width:500px;height:1px"></div>')
	if [ -n "$ov" ] && [ "${ov%/*}" -gt "${ov#*/}" ]; then
		ok "the overflow measurement sees a 500 px block ($ov)"
	else
		not_ok "the overflow measurement sees a 500 px block ('$ov')"
	fi
	echo "# screenshots and rendered pages: $out_dir"
fi

# --- the rate limit: the page and the handoff share the API's bucket ------------------
# (the handoff that made the cookie is the account's first request)
t4=$(tok "$key" C-4)
c4=$(session_of C-4)
n200=1 n429=0
for i in $(seq 1 32); do
	get "/" -H "Cookie: portal_session=$c4"
	case "$code" in 200) n200=$((n200 + 1)) ;; 429) n429=$((n429 + 1)) ;; esac
done
check_eq "$n200/$n429" "30/3" "an account's 31st request at once (its handoff and 30 pages) is refused with 429 (rate_burst 30)"
[ -n "$(header Retry-After)" ] && grep -q 'Vui lòng thử lại sau' "$GW_TMP/body" && [ -n "$(header Content-Security-Policy)" ] &&
	ok "the 429 is a page with Retry-After" || not_ok "the 429 is a page with Retry-After"
get "/session?token=$t4"
check_eq "$code" 429 "the handoff of a limited account is refused too"
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $t4" "$base/v1/accounts/C-4/daily?from=$first&to=$today")
check_eq "$code" 429 "the API of an account limited by its page requests is limited too"

# --- the log --------------------------------------------------------------------------
if grep -qF "$(cut -d. -f3 <<<"$t1")" "$GW_TMP/portald.log" || grep -qF "$(cut -d. -f3 <<<"$t4")" "$GW_TMP/portald.log" ||
	grep -q 'token=' "$GW_TMP/portald.log"; then
	not_ok "no token, signature or query string is in the log"
else
	ok "no token, signature or query string is in the log"
fi
grep -q 'GET /session 303 ' "$GW_TMP/portald.log" && grep -q 'GET /session from 127.0.0.1: refused: bad signature' "$GW_TMP/portald.log" &&
	ok "the log shows the handoffs, and why one was refused" || not_ok "the log shows the handoffs, and why one was refused"
grep -q 'GET /session from 127.0.0.1: refused: handoff token of account C-1 used again' "$GW_TMP/portald.log" &&
	ok "the log says a handoff token came again" || not_ok "the log says a handoff token came again"

# --- Secure by default ------------------------------------------------------------------
port2=$(free_port)
portal_ini "$port2" >"$GW_TMP/secure.ini"
"$portald" -c "$GW_TMP/secure.ini" 2>"$GW_TMP/secure.log" &
track_pid $!
wait_for 20 curl -sf "http://127.0.0.1:$port2/v1/health" || not_ok "a second portald starts"
sc=$(curl -s -m 30 -D - -o /dev/null "http://127.0.0.1:$port2/session?token=$t1" | tr -d '\r' | grep -i '^Set-Cookie:' | cut -d' ' -f2-)
[[ "$sc" == "__Host-portal_session=$t1~"* ]] && [[ "$sc" == *"; Secure;"* ]] && [[ "$sc" == *"HttpOnly"* ]] &&
	ok "by default the cookie is Secure and named __Host-portal_session" ||
	not_ok "by default the cookie is Secure and named __Host-portal_session (got $sc)"
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -H "Cookie: ${sc%%;*}" "http://127.0.0.1:$port2/")
check_eq "$code" 200 "the page reads the __Host- cookie"
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -H "Cookie: __Host-portal_session=$c1" "http://127.0.0.1:$port2/")
check_eq "$code" 401 "a cookie sealed by another portald instance is refused (docs/portal.md: sticky sessions)"
sed 's/^listen = .*/listen = 0.0.0.0/' "$GW_TMP/portal.ini" >"$GW_TMP/open.ini"
if "$portald" -c "$GW_TMP/open.ini" --check >"$GW_TMP/check.out" 2>&1; then
	not_ok "cookie_secure = off is refused off loopback (accepted)"
else
	grep -q "open.ini:[0-9]*: cookie_secure: off is only allowed with listen on a loopback" "$GW_TMP/check.out" &&
		ok "cookie_secure = off is refused off loopback, with file:line" ||
		not_ok "cookie_secure = off is refused off loopback, with file:line ($(cat "$GW_TMP/check.out"))"
fi
sed 's|^threads = 2|threads = 2\ntimezone = Mars/Olympus|' "$GW_TMP/portal.ini" >"$GW_TMP/tz.ini"
"$portald" -c "$GW_TMP/tz.ini" --check >"$GW_TMP/check.out" 2>&1
grep -q "tz.ini:5: timezone: no such zone in the zone database" "$GW_TMP/check.out" && ok "an unknown timezone is named with file:line" ||
	not_ok "an unknown timezone is named with file:line ($(cat "$GW_TMP/check.out"))"

# --- /v1/health and the database ------------------------------------------------------------
health() { curl -s -m 10 -w ' %{http_code}' "$base/v1/health" | tr -d '\n'; }
# A database that does not answer: the portal's backends stopped (SIGSTOP).
# The health check answers 503 within its timeout (500 ms; curl allows 10 s).
pids=$(q "SELECT string_agg(pid::text, ' ') FROM pg_stat_activity WHERE usename = 'portal_web' AND application_name = 'portald'")
if [ -n "$pids" ]; then
	# shellcheck disable=SC2086
	kill -STOP $pids
	hc=$(health)
	# shellcheck disable=SC2086
	kill -CONT $pids
	check_eq "$hc" '{"status":"unavailable","database":"unavailable"} 503' "/v1/health: 503 when the database does not answer SELECT 1"
	grep -q 'health check: the database did not answer SELECT 1 in time' "$GW_TMP/portald.log" &&
		ok "the log says the database did not answer in time" || not_ok "the log says the database did not answer in time"
else
	not_ok "find the portal's database connections"
fi
check_eq "$(health)" '{"status":"ok","database":"ok"} 200' "/v1/health: ok again once the database answers"
"$GW_TOP/tools/pgtmp.sh" stop "$GW_TMP/pg" >/dev/null 2>&1
check_eq "$(health)" '{"status":"unavailable","database":"unavailable"} 503' "/v1/health: 503 without the database"
get "/" -H "Cookie: portal_session=$c1"
check_eq "$code/$(header Retry-After)" "503/5" "the page without its database: 503, Retry-After"
grep -q 'Tạm thời không xem được' "$GW_TMP/body" && ok "the 503 is a page that says so" || not_ok "the 503 is a page that says so"
if "$GW_TOP/tools/pgtmp.sh" start "$GW_TMP/pg" >"$GW_TMP/restart.log" 2>&1; then
	check_eq "$(health)" '{"status":"ok","database":"ok"} 200' "/v1/health: ok once the database is back"
else
	not_ok "PostgreSQL restarts ($(tail -3 "$GW_TMP/restart.log"))"
fi
finish
