#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/portal.sh - portald against a real PostgreSQL with the
# schema migrations applied and days loaded by a gateway role: every kind
# of refused token gives the same 401; each customer sees exactly its own
# days (following the account history) and nothing of another's, on every
# endpoint and in both forms; the service's own query asked for another
# account's rows under one account's session returns nothing (row-level
# security is the last line); kWh are the database's Wh / 1000 exactly;
# the bounds on requests; the login role and configuration checks.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
portald=$GW_BUILD/portald
tok() { /usr/bin/python3 "$GW_TOP/tests/integration/portal_token.py" "$@"; }
start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/roles.out" 2>&1 <<'EOF2' || not_ok "create the test roles"
CREATE ROLE gw_a LOGIN IN ROLE gw_uploader;
CREATE ROLE portal_web LOGIN IN ROLE customer_portal;
CREATE ROLE portal_wide LOGIN IN ROLE customer_portal, analyst;
SELECT gw_register_gateway('gw-a', 'gw_a', 'Asia/Ho_Chi_Minh');
SELECT gw_assign_meter('A-00000' || i, 'gw-a') FROM generate_series(1, 3) i;
EOF2
"$gen" --gateway gw-a --prefix A- --meters 3 --day 2026-02-20 --days 20 "$GW_TMP/sa" >/dev/null
check_cmd "gw_a loads 20 days of three meters" "$gwctl" upload --conninfo "host=$PGHOST port=$PGPORT dbname=meters user=gw_a" "$GW_TMP/sa"
# The account history: A-000001 changes hands on 2026-03-01 (C-1 then
# C-2); A-000002 is C-1's, A-000003 is C-2's. A few days made uneven:
# 12345 Wh, an export register missing, an estimated day.
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/acct.out" 2>&1 <<'EOF2' || not_ok "set up meter_accounts"
INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account) VALUES
	('A-000001', '-infinity', '2026-03-01', 'C-1'),
	('A-000001', '2026-03-01', NULL, 'C-2'),
	('A-000002', '-infinity', NULL, 'C-1'),
	('A-000003', '-infinity', NULL, 'C-2');
UPDATE daily_registers SET consumption = 12345 WHERE meter_id = 'A-000002' AND day = '2026-02-25' AND obis = '1.8.0';
UPDATE daily_registers SET consumption = 7 WHERE meter_id = 'A-000002' AND day = '2026-02-26' AND obis = '1.8.0';
DELETE FROM daily_registers WHERE meter_id = 'A-000002' AND day = '2026-02-27' AND obis = '2.8.0';
UPDATE daily_registers SET quality = 'estimated', minutes_missing = 90 WHERE meter_id = 'A-000003' AND day = '2026-03-03';
-- Power outages: ended by the meter's next online event, or not yet.
INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id) VALUES
	('A-000002', '2026-02-22 10:00:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000002', '2026-02-22 11:30:00+00', 'online', '', NULL, 'gw-a'),
	('A-000001', '2026-02-25 03:00:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000001', '2026-02-25 03:20:30+00', 'online', '', NULL, 'gw-a'),
	('A-000001', '2026-03-05 08:00:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000003', '2026-03-06 09:00:00+00', 'power_outage', '', 'all 3 meters of bus b offline at once', 'gw-a'),
	('A-000003', '2026-03-06 09:45:00+00', 'offline', '', NULL, 'gw-a');
EOF2
check_eq "$(q "SELECT import_wh || '/' || coalesce(export_wh::text, 'null') FROM meter_days WHERE meter_id = 'A-000002' AND day IN ('2026-02-25', '2026-02-27') ORDER BY day" | tr '\n' ' ')" \
	"12345/$(q "SELECT export_wh FROM meter_days WHERE meter_id = 'A-000002' AND day = '2026-02-25'") $(q "SELECT import_wh FROM meter_days WHERE meter_id = 'A-000002' AND day = '2026-02-27'")/null " \
	"meter_days holds the uneven days (12345 Wh; no export register)"

# --- the service -------------------------------------------------------------
key=$GW_TMP/portal.key
head -c 48 /dev/urandom | base64 >"$key"
chmod 600 "$key"
head -c 48 /dev/urandom | base64 >"$GW_TMP/other.key"
port=$(free_port)
# portal_ini USER [EXTRA-PORTAL-LINES]
portal_ini() {
	cat <<INI
[portal]
listen = 127.0.0.1
port = $port
threads = 2
key_file = $key
rate_per_minute = 1
rate_burst = 40
max_days = 400
${2:-}

[database]
conninfo = host=$PGHOST port=$PGPORT dbname=meters user=$1
INI
}
portal_ini portal_web >"$GW_TMP/portal.ini"
check_eq "$("$portald" -c "$GW_TMP/portal.ini" --check 2>&1)" "$GW_TMP/portal.ini: ok" "portald --check accepts the configuration"
"$portald" -c "$GW_TMP/portal.ini" 2>"$GW_TMP/portald.log" &
track_pid $!
base=http://127.0.0.1:$port
if wait_for 20 curl -sf "$base/v1/health"; then
	ok "portald serves on 127.0.0.1"
else
	not_ok "portald serves on 127.0.0.1 ($(tail -5 "$GW_TMP/portald.log"))"
	exit 1
fi

# get URL [TOKEN] [CURL-ARGS...]: the status in $code, the body in $GW_TMP/body
get() {
	local url=$1 t=${2:-}
	shift 2 || shift $#
	if [ -n "$t" ]; then
		code=$(curl -s -m 30 -o "$GW_TMP/body" -D "$GW_TMP/headers" -w '%{http_code}' -H "Authorization: Bearer $t" "$@" "$base$url")
	else
		code=$(curl -s -m 30 -o "$GW_TMP/body" -D "$GW_TMP/headers" -w '%{http_code}' "$@" "$base$url")
	fi
}
t1=$(tok "$key" C-1)
t2=$(tok "$key" C-2)
daily="daily?from=2026-02-20&to=2026-03-11"
monthly="monthly?from=2026-02&to=2026-03"

# --- every refusal: 401, the same body --------------------------------------------
get "/v1/accounts/C-1/$daily" "$t1"
check_eq "$code" 200 "a good token for C-1 is served"
want_401='{"error":"unauthorized"}'
refusal() { # DESC TOKEN [URL] [CURL-ARGS...]
	local desc=$1 t=$2 url=${3:-/v1/accounts/C-1/$daily}
	shift 3 2>/dev/null || shift $#
	get "$url" "$t" "$@"
	if [ "$code" = 401 ] && [ "$(cat "$GW_TMP/body")" = "$want_401" ] &&
		grep -qi '^WWW-Authenticate: Bearer' "$GW_TMP/headers"; then
		ok "refused with the one 401: $desc"
	else
		not_ok "refused with the one 401: $desc (got $code: $(head -c 200 "$GW_TMP/body"))"
	fi
}
refusal "no Authorization header" ""
code=$(curl -s -m 30 -o "$GW_TMP/body" -w '%{http_code}' -H "Authorization: Basic QzoxOmE=" "$base/v1/accounts/C-1/$daily")
check_eq "$code/$(cat "$GW_TMP/body")" "401/$want_401" "refused with the one 401: Basic instead of Bearer"
refusal "signed with another key" "$(tok "$key" C-1 key="$GW_TMP/other.key")"
refusal "alg none, no signature" "$(tok "$key" C-1 alg=none sig=)"
refusal "alg none, signed anyway" "$(tok "$key" C-1 alg=none)"
refusal "alg missing" "$(tok "$key" C-1 alg=-)"
refusal "alg HS512 (signed with HMAC-SHA512)" "$(tok "$key" C-1 alg=HS512 hs512=1)"
refusal "alg RS256" "$(tok "$key" C-1 alg=RS256)"
refusal "expired" "$(tok "$key" C-1 exp=-120)"
refusal "no exp" "$(tok "$key" C-1 exp=-)"
refusal "not yet valid (nbf in an hour)" "$(tok "$key" C-1 nbf=+3600)"
refusal "wrong audience" "$(tok "$key" C-1 aud='"another-service"')"
refusal "no audience" "$(tok "$key" C-1 aud=-)"
refusal "malformed base64 in the claims" "$(tok "$key" C-1 | sed 's/\.[^.]*\./.e30!!.?/')"
refusal "claims that are not JSON (well signed)" "$(tok "$key" C-1 claims='{"sub":"C-1",')"
refusal "header that is not JSON (well signed)" "$(tok "$key" C-1 header='alg=HS256')"
refusal "two parts only" "$(tok "$key" C-1 | cut -d. -f1,2)"
refusal "a token of 8000 characters" "$(head -c 6000 /dev/zero | tr '\0' A).$(tok "$key" C-1)"
refusal "an account the token does not name (C-1's token, C-2's URL)" "$t1" "/v1/accounts/C-2/$daily"
refusal "an account the token does not name (monthly)" "$t1" "/v1/accounts/C-2/$monthly"
refusal "an account that is no account name" "$t1" "/v1/accounts/C-1%27%20OR%201=1/$daily"
refusal "a sub that is no account name" "$(tok "$key" "C-1' OR '1'='1")"
for r in "bad signature" "algorithm not HS256" "expired" "not yet valid" "wrong audience" \
	"not three base64url parts" "token too long" "asked for another account"; do
	grep -q "refused: .*$r" "$GW_TMP/portald.log" || not_ok "the log names the reason '$r'"
done
ok "the log names each reason of a refusal"
# A path with an encoded line break: the log shows it on one line.
get "/v1/accounts/C-1%0A2026-01-01T00:00:00.000Z%20info:%20forged/daily" "$t1"
if [ "$code" = 401 ] && ! grep -q '^2026-01-01T00:00:00.000Z info: forged' "$GW_TMP/portald.log" &&
	grep -q 'C-1?2026-01-01T00:00:00.000Z info: forged' "$GW_TMP/portald.log"; then
	ok "a line break in the path cannot forge a log line"
else
	not_ok "a line break in the path cannot forge a log line ($code; $(grep -n forged "$GW_TMP/portald.log" | head -3))"
fi
if grep -qF "$t1" "$GW_TMP/portald.log" || grep -qF "$(cut -d. -f3 <<<"$t1")" "$GW_TMP/portald.log"; then
	not_ok "no token or signature is written to the log"
else
	ok "no token or signature is written to the log"
fi

# --- each customer sees exactly its own days, exactly -------------------------------
# What each account holds, written out here (not the service's query):
# C-1 has A-000002 and A-000001 before 2026-03-01; C-2 has A-000003 and
# A-000001 from 2026-03-01. kWh as the database's numeric (Wh / 1000).
own_C1="(meter_id = 'A-000002' OR (meter_id = 'A-000001' AND day < '2026-03-01'))"
own_C2="(meter_id = 'A-000003' OR (meter_id = 'A-000001' AND day >= '2026-03-01'))"
expect_daily() { # ACCOUNT FROM TO
	local own=own_${1//-/}
	psql -XqA --csv -c "SELECT day, meter_id AS meter, import_kwh, export_kwh, quality, minutes_missing
		FROM daily_usage WHERE ${!own} AND day BETWEEN '$2' AND '$3' ORDER BY day, meter_id"
}
expect_monthly() { # ACCOUNT FROM-DAY TO-DAY
	local own=own_${1//-/}
	psql -XqA --csv -c "SELECT to_char(day, 'YYYY-MM') AS month, meter_id AS meter, count(*) AS days,
		sum(import_kwh) AS import_kwh, sum(export_kwh) AS export_kwh,
		count(*) FILTER (WHERE quality <> 'measured') AS days_not_measured,
		sum(minutes_missing) AS minutes_missing,
		(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'], quality))] AS quality
		FROM daily_usage WHERE ${!own} AND day BETWEEN '$2' AND '$3'
		GROUP BY 1, 2 ORDER BY 1, 2"
}
# json_as_csv: the JSON answer's rows as CSV lines, numbers as the exact
# decimals they are written as (Decimal, never float), null as empty.
json_as_csv() {
	/usr/bin/python3 -c '
import decimal, json, sys
d = json.load(sys.stdin, parse_float=decimal.Decimal)
rows = d.get("days", d.get("months"))
print(",".join(rows[0].keys()) if rows else "-")
for r in rows:
    print(",".join("" if v is None else str(v) for v in r.values()))
print("#", d["account"], d["from"], d["to"], d["unit"])' <"$GW_TMP/body"
}
for acct in C-1 C-2; do
	t=$t1
	[ "$acct" = C-2 ] && t=$t2
	want=$(expect_daily $acct 2026-02-20 2026-03-11)
	get "/v1/accounts/$acct/$daily&format=csv" "$t"
	check_eq "$code/$(tr -d '\r' <"$GW_TMP/body")" "200/$want" "$acct daily CSV: exactly its days, kWh exactly the database's"
	grep -qi '^Content-Type: text/csv' "$GW_TMP/headers" || not_ok "$acct daily CSV is text/csv"
	get "/v1/accounts/$acct/$daily" "$t"
	check_eq "$code/$(json_as_csv)" "200/$want
# $acct 2026-02-20 2026-03-11 kWh" "$acct daily JSON: the same rows, exact decimals"
	want=$(expect_monthly $acct 2026-02-01 2026-03-31)
	get "/v1/accounts/$acct/$monthly&format=csv" "$t"
	check_eq "$code/$(tr -d '\r' <"$GW_TMP/body")" "200/$want" "$acct monthly CSV: its months, sums exactly the database's"
	get "/v1/accounts/$acct/$monthly" "$t"
	check_eq "$code/$(json_as_csv)" "200/$want
# $acct 2026-02 2026-03 kWh" "$acct monthly JSON: the same rows"
done
check_eq "$(wc -l < <(expect_daily C-1 2026-02-20 2026-03-11))/$(wc -l < <(expect_daily C-2 2026-02-20 2026-03-11))" \
	"$((1 + 9 * 2 + 11))/$((1 + 20 + 11))" "the expectations cover both meters of each account (C-1: 29 days, C-2: 31)"
get "/v1/accounts/C-1/$daily" "$t1"
grep -q '"day":"2026-02-25","meter":"A-000002","import_kwh":12.345,' "$GW_TMP/body" &&
	grep -q '"day":"2026-02-26","meter":"A-000002","import_kwh":0.007,' "$GW_TMP/body" &&
	grep -qE '"day":"2026-02-27","meter":"A-000002","import_kwh":[0-9]+\.[0-9]{3},"export_kwh":null,' "$GW_TMP/body" &&
	ok "12345 Wh is 12.345, 7 Wh is 0.007, a missing register is null" ||
	not_ok "12345 Wh is 12.345, 7 Wh is 0.007, a missing register is null ($(grep -o '"day":"2026-02-2[5-7]","meter":"A-000002"[^}]*' "$GW_TMP/body"))"
get "/v1/accounts/C-2/$daily" "$t2"
if grep -q '"meter":"A-000002"' "$GW_TMP/body" || grep -qE '"day":"2026-02-[0-9]+","meter":"A-000001"' "$GW_TMP/body"; then
	not_ok "C-2 sees nothing of C-1's meter, nor A-000001 before it took it over"
else
	ok "C-2 sees nothing of C-1's meter, nor A-000001 before it took it over"
fi
get "/v1/accounts/C-1/daily?from=2026-03-01&to=2026-03-11" "$t1"
check_eq "$(grep -c '"meter":"A-000001"' "$GW_TMP/body")/$(grep -o '"meter":"A-000002"' "$GW_TMP/body" | wc -l)" "0/11" \
	"C-1 no longer sees A-000001 once C-2 took it over"
t3=$(tok "$key" C-3)
get "/v1/accounts/C-3/$daily" "$t3"
check_eq "$code/$(tr -d '\n' <"$GW_TMP/body")" '200/{"account":"C-3","from":"2026-02-20","to":"2026-03-11","unit":"kWh","days":[]}' \
	"an account with no meters gets an empty list"

# Requests at once from both accounts: each answer is its own account's.
want1=$(expect_daily C-1 2026-02-20 2026-03-11)
want2=$(expect_daily C-2 2026-02-20 2026-03-11)
pids=()
for i in $(seq 1 8); do
	curl -s -m 30 -H "Authorization: Bearer $t1" "$base/v1/accounts/C-1/$daily&format=csv" >"$GW_TMP/par1.$i" &
	pids+=($!)
	curl -s -m 30 -H "Authorization: Bearer $t2" "$base/v1/accounts/C-2/$daily&format=csv" >"$GW_TMP/par2.$i" &
	pids+=($!)
done
wait "${pids[@]}"
bad=0
for i in $(seq 1 8); do
	[ "$(tr -d '\r' <"$GW_TMP/par1.$i")" = "$want1" ] || bad=$((bad + 1))
	[ "$(tr -d '\r' <"$GW_TMP/par2.$i")" = "$want2" ] || bad=$((bad + 1))
done
check_eq "$bad" 0 "16 requests at once from two accounts: each answer is exactly its own account's"

# Outages: the account's own power outages, each ended by the meter's next
# online event (or not yet); A-000001's first is C-1's, its second C-2's.
get "/v1/accounts/C-1/outages?from=2026-02-20&to=2026-03-11&format=csv" "$t1"
check_eq "$code/$(tr -d '\r' <"$GW_TMP/body")" "200/start,end,minutes,meter
2026-02-22T10:00:00Z,2026-02-22T11:30:00Z,90,A-000002
2026-02-25T03:00:00Z,2026-02-25T03:20:30Z,20,A-000001" "C-1's outages: its two, with their ends and minutes"
get "/v1/accounts/C-2/outages?from=2026-02-20&to=2026-03-11&format=csv" "$t2"
check_eq "$code/$(tr -d '\r' <"$GW_TMP/body")" "200/start,end,minutes,meter
2026-03-05T08:00:00Z,,,A-000001
2026-03-06T09:00:00Z,,,A-000003" "C-2's outages: its two, not ended yet (an offline event ends none)"
get "/v1/accounts/C-2/outages?from=2026-03-06&to=2026-03-06" "$t2"
check_eq "$code/$(tr -d '\n' <"$GW_TMP/body")" \
	'200/{"account":"C-2","from":"2026-03-06","to":"2026-03-06","outages":[{"start":"2026-03-06T09:00:00Z","end":null,"minutes":null,"meter":"A-000003"}]}' \
	"outages in JSON, for one day; the gateway's detail (bus names) is not shown"
refusal "an account the token does not name (outages)" "$t1" "/v1/accounts/C-2/outages?from=2026-02-20&to=2026-03-11"

# --- row-level security is the last line ------------------------------------------
# portald --query runs the service's own query and rendering; with --for
# it asks for C-2's rows in a transaction whose account is C-1.
pq() { "$portald" -c "$GW_TMP/portal.ini" --query "$@" --format csv 2>"$GW_TMP/pq.err" | tr -d '\r'; }
check_eq "$(pq daily --as C-2 --for C-2 --from 2026-02-20 --to 2026-03-11)" "$want2" \
	"the service's daily query for C-2 under C-2's session gives C-2's days"
check_eq "$(pq daily --as C-1 --for C-2 --from 2026-02-20 --to 2026-03-11)" "day,meter,import_kwh,export_kwh,quality,minutes_missing" \
	"the service's daily query for C-2's rows under C-1's session gives nothing"
check_eq "$(pq monthly --as C-1 --for C-2 --from 2026-02 --to 2026-03)" "month,meter,days,import_kwh,export_kwh,days_not_measured,minutes_missing,quality" \
	"the service's monthly query for C-2's rows under C-1's session gives nothing"
check_eq "$(pq outages --as C-1 --for C-2 --from 2026-02-20 --to 2026-03-11)" "start,end,minutes,meter" \
	"the service's outages query for C-2's rows under C-1's session gives nothing"
check_eq "$(psql -XqAt -U portal_web -c "BEGIN; SET LOCAL gw.customer_account = 'C-1'; SELECT count(*) FROM meter_days WHERE meter_id = 'A-000003'; SELECT count(*) FROM meter_days; COMMIT;" 2>&1 | tr '\n' ' ')" \
	"0 $(($(wc -l <<<"$(expect_daily C-1 2000-01-01 2100-01-01)") - 1)) " \
	"the portal's role under C-1 reads none of A-000003 in meter_days, and only C-1's days in all"

# --- bounds and bad requests --------------------------------------------------------
bad_request() { # DESC URL [CURL-ARGS...]: a 400 with a detail
	get "$2" "$t1" "${@:3}"
	if [ "$code" = 400 ] && grep -q '"detail":' "$GW_TMP/body"; then ok "400: $1"; else not_ok "400: $1 (got $code $(head -c 200 "$GW_TMP/body"))"; fi
}
bad_request "no to" "/v1/accounts/C-1/daily?from=2026-02-20"
bad_request "30 February" "/v1/accounts/C-1/daily?from=2026-02-20&to=2026-02-30"
bad_request "a month for a daily range" "/v1/accounts/C-1/daily?from=2026-02&to=2026-03"
bad_request "from after to" "/v1/accounts/C-1/daily?from=2026-03-02&to=2026-03-01"
bad_request "more days than max_days (400)" "/v1/accounts/C-1/daily?from=2025-01-01&to=2026-03-01"
bad_request "a month 13" "/v1/accounts/C-1/monthly?from=2026-01&to=2026-13"
bad_request "more months than max_months (36)" "/v1/accounts/C-1/monthly?from=2020-01&to=2026-03"
bad_request "an unknown argument" "/v1/accounts/C-1/$daily&limit=5"
bad_request "an argument given twice" "/v1/accounts/C-1/$daily&from=2026-01-01"
bad_request "format xml" "/v1/accounts/C-1/$daily&format=xml"
get "/v1/accounts/C-1/$daily" "$t1" -X POST
check_eq "$code" 405 "POST is not allowed"
get "/v1/accounts/C-1/$daily" "$t1" -X GET --data-binary 'x=1'
check_eq "$code" 413 "a request with a body is refused"
# Keep-alive: one connection serves request after request (a reverse
# proxy's upstream keepalive); the one whose request announced a body is
# closed after its 413, its body never read.
curl -sv -m 30 -o /dev/null -o /dev/null -o /dev/null -H "Authorization: Bearer $t2" \
	"$base/v1/health" "$base/v1/accounts/C-2/$daily" "$base/v1/health" 2>"$GW_TMP/keep.log"
check_eq "$(grep -c '^< HTTP/1.1 200' "$GW_TMP/keep.log")/$(grep -c 'Re-using existing connection' "$GW_TMP/keep.log")/$(grep -ci '^< Connection: close' "$GW_TMP/keep.log")" \
	"3/2/0" "three requests, a query among them, on one connection (HTTP keep-alive)"
curl -sv -m 30 -o /dev/null -o /dev/null -X GET --data-binary 'x=1' "$base/v1/health" "$base/v1/health" 2>"$GW_TMP/keep.log"
check_eq "$(grep -c '^< HTTP/1.1 413' "$GW_TMP/keep.log")/$(grep -ci '^< Connection: close' "$GW_TMP/keep.log")" \
	"2/2" "a request with a body is answered 413 and its connection closed"
get "/v1/accounts/C-1/hourly" "$t1"
check_eq "$code" 404 "an unknown resource of an account is 404 (after the token)"
get "/v2/anything" ""
check_eq "$code" 404 "an unknown path is 404"
get "/v1/accounts/C-1/$daily&$(head -c 1100 /dev/zero | tr '\0' x)=1" "$t1"
check_eq "$code" 414 "a URL longer than max_url is refused"
get "/v1/accounts/C-1/$daily" "$t1" -H "X-Big: $(head -c 20000 /dev/zero | tr '\0' y)"
case "$code" in 4[0-9][0-9]) ok "headers past memory_limit are refused ($code)" ;; *) not_ok "headers past memory_limit are refused (got $code)" ;; esac
code=$(curl -s -m 30 -o /dev/null -w '%{http_code}' -I -H "Authorization: Bearer $t1" "$base/v1/accounts/C-1/$daily")
check_eq "$code" 200 "HEAD is answered"
# Rate limit: 40 at once (rate_burst), then 429 with Retry-After; another
# account is not affected.
t4=$(tok "$key" C-4)
n200=0 n429=0
for i in $(seq 1 43); do
	get "/v1/accounts/C-4/$daily" "$t4"
	case "$code" in 200) n200=$((n200 + 1)) ;; 429) n429=$((n429 + 1)) ;; esac
done
check_eq "$n200/$n429" "40/3" "an account's 41st request at once is refused with 429"
grep -qi '^Retry-After: [1-9]' "$GW_TMP/headers" && ok "a 429 says when to retry" || not_ok "a 429 says when to retry"
get "/v1/accounts/C-2/$daily" "$t2"
check_eq "$code" 200 "another account is not limited by C-4's requests"

# --- the login role and the configuration -------------------------------------------
# start_refused DESC PATTERN INI: portald exits non-zero at start and says why
start_refused() {
	if timeout 20 "$portald" -c "$3" >"$GW_TMP/start.out" 2>&1; then
		not_ok "$1 (it started)"
	elif grep -qE "$2" "$GW_TMP/start.out"; then
		ok "$1"
	else
		not_ok "$1 ($(head -c 300 "$GW_TMP/start.out"))"
	fi
}
port=$(free_port)
portal_ini "$PGUSER" >"$GW_TMP/super.ini"
start_refused "portald refuses to serve as a superuser (row-level security would not apply)" "superuser or BYPASSRLS" "$GW_TMP/super.ini"
portal_ini portal_wide >"$GW_TMP/wide.ini"
start_refused "portald refuses a role that is also an analyst" "also a member of analyst" "$GW_TMP/wide.ini"
portal_ini gw_a >"$GW_TMP/gw.ini"
start_refused "portald refuses a role that is not in customer_portal" "not a member of customer_portal" "$GW_TMP/gw.ini"

# config_error DESC PATTERN INI-TEXT: --check fails, naming file:line
config_error() {
	printf '%s\n' "$3" >"$GW_TMP/bad.ini"
	if "$portald" -c "$GW_TMP/bad.ini" --check >"$GW_TMP/check.out" 2>&1; then
		not_ok "$1 (accepted)"
	elif grep -qE "$2" "$GW_TMP/check.out"; then
		ok "$1"
	else
		not_ok "$1 ($(head -c 300 "$GW_TMP/check.out"))"
	fi
}
good_ini=$(portal_ini portal_web)
config_error "an unknown key is named with file:line" "bad.ini:3: prot: unknown key" "$(sed 's/^port =/prot =/' <<<"$good_ini")"
config_error "a port out of range is named with file:line" "bad.ini:3: port: .* from 1 to 65535" "$(sed 's/^port = .*/port = 70000/' <<<"$good_ini")"
config_error "a listen value that is no address" "bad.ini:2: listen: not an IPv4 or IPv6" "$(sed 's/^listen = .*/listen = localhost/' <<<"$good_ini")"
config_error "an unknown section" "bad.ini:[0-9]+: web: unknown section" "$good_ini
[web]"
config_error "key_file missing" "key_file is missing" "$(grep -v '^key_file' <<<"$good_ini")"
config_error "conninfo missing" "conninfo is missing" "$(grep -v '^conninfo' <<<"$good_ini")"
printf 'short-key\n' >"$GW_TMP/short.key"
chmod 600 "$GW_TMP/short.key"
config_error "a key shorter than 32 bytes" "at least 32 are needed" "$(sed "s|^key_file = .*|key_file = $GW_TMP/short.key|" <<<"$good_ini")"
cp "$key" "$GW_TMP/open.key"
chmod 644 "$GW_TMP/open.key"
config_error "a key file others may read" "may be read by others" "$(sed "s|^key_file = .*|key_file = $GW_TMP/open.key|" <<<"$good_ini")"
config_error "a key file that is not there" "cannot open the key file" "$(sed "s|^key_file = .*|key_file = $GW_TMP/none.key|" <<<"$good_ini")"

# A statement of the transaction fails (here the portal's role has lost
# its grant on meter_days): 500, the transaction rolled back, and the
# pool's connections serve the next requests in full.
q "REVOKE SELECT ON meter_days FROM customer_portal" >/dev/null
get "/v1/accounts/C-2/$daily&format=csv" "$t2"
failed=$code
q "GRANT SELECT ON meter_days TO customer_portal" >/dev/null
for i in 1 2 3; do
	get "/v1/accounts/C-2/$daily&format=csv" "$t2"
	failed="$failed/$code:$([ "$(tr -d '\r' <"$GW_TMP/body")" = "$want2" ] && echo same || echo differs)"
done
check_eq "$failed" "500/200:same/200:same/200:same" "a failed query is 500; the connections serve the next requests in full"
grep -q "query for C-2: ERROR:  permission denied" "$GW_TMP/portald.log" && ok "the log names the failed query" ||
	not_ok "the log names the failed query"

# The database goes away: 503 with Retry-After; it comes back: served
# again at once (the pool's broken connections are made anew).
get "/v1/accounts/C-2/$daily" "$t2"
check_eq "$code" 200 "portald still serves after every refusal"
"$GW_TOP/tools/pgtmp.sh" stop "$GW_TMP/pg" >/dev/null 2>&1
get "/v1/accounts/C-2/$daily&format=csv" "$t2"
check_eq "$code/$(grep -i '^Retry-After:' "$GW_TMP/headers" | tr -d '\r')" "503/Retry-After: 5" \
	"without its database portald answers 503 with Retry-After"
if "$GW_TOP/tools/pgtmp.sh" start "$GW_TMP/pg" >"$GW_TMP/restart.log" 2>&1; then
	get "/v1/accounts/C-2/$daily&format=csv" "$t2"
	check_eq "$code/$(tr -d '\r' <"$GW_TMP/body")" "200/$want2" "the database back, the next request is served in full"
else
	not_ok "PostgreSQL restarts ($(tail -3 "$GW_TMP/restart.log"))"
fi
grep -q "cannot connect to the database" "$GW_TMP/portald.log" && ok "the log says the database could not be reached" ||
	not_ok "the log says the database could not be reached"
finish
