#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/notices.sh - the customer notices of schema 011 against
# a real PostgreSQL, with days loaded by a gateway role: the figures of
# each notice against the data (the usual day's median, the edges of the
# unusual-use threshold, month to date, outage durations in the gateway's
# zone), the Vietnamese and English texts, when an account's day counts as
# loaded, idempotency and corrections, the templates as data; the
# senders' protocol: exactly once under concurrent senders of a channel
# (real sessions, 2,000 notices), a sender killed with claims open, the
# lease and the late acknowledgement, fail and release, what the sender
# role may do; the portal role and portald's notices endpoint see one
# account's notices only.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
portald=$GW_BUILD/portald
start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
# as ROLE SQL: one statement as a login role
as() { psql -XqAt -v ON_ERROR_STOP=1 -U "$1" -c "$2" 2>&1; }
sql() { psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/sql.out" 2>&1 || { not_ok "$1 ($(tail -3 "$GW_TMP/sql.out"))"; return 1; }; }

sql "create the roles and the gateway" <<'EOF'
CREATE ROLE gw_n LOGIN IN ROLE gw_uploader;
CREATE ROLE ops LOGIN IN ROLE gw_operator;
CREATE ROLE sender_a LOGIN IN ROLE notice_sender;
CREATE ROLE sender_b LOGIN IN ROLE notice_sender;
CREATE ROLE portal_web LOGIN IN ROLE customer_portal;
SELECT gw_register_gateway('gw-n', 'gw_n', 'Asia/Ho_Chi_Minh');
SELECT gw_assign_meter('N-' || lpad(i::text, 6, '0'), 'gw-n') FROM generate_series(1, 10) i;
EOF
"$gen" --gateway gw-n --prefix N- --meters 10 --day 2026-01-28 --days 36 "$GW_TMP/spool" >/dev/null
check_cmd "gw_n loads 36 days of ten meters (2026-01-28 .. 2026-03-04)" \
	"$gwctl" upload --conninfo "host=$PGHOST port=$PGPORT dbname=meters user=gw_n" "$GW_TMP/spool"

# The day of the notices, D = 2026-03-02; its usual day is the median of
# 2026-01-31 .. 2026-03-01 (30 days). Each account is made for one case.
#   C-MED    N-000001  the 30 days are 1000..3900 Wh in a shuffled order
#                      (median 2450), D 12345 Wh
#   C-EQ     N-000002  10000 Wh a day, D 20000: exactly 2 x, not unusual
#   C-UP     N-000003  10000 Wh a day, D 20001: unusual
#   C-SMALL  N-000004  100 Wh a day, D 300: 3 x, but 0.2 kWh more: not unusual
#   C-SMALLUP N-000005 100 Wh a day, D 2100: 2 kWh more (the minimum): unusual
#   C-TWO    N-000006 + N-000007: two meters, one day missing at first
#   C-FEW    N-000008 from D-3 on (C-OLD before): 3 days of history, no usual day
#   C-BIG    N-000009  D 1234567 Wh
#   C-OUT    N-000010  power outages
sql "set up the accounts and their days" <<'EOF'
INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account) VALUES
	('N-000001', '-infinity', NULL, 'C-MED'), ('N-000002', '-infinity', NULL, 'C-EQ'),
	('N-000003', '-infinity', NULL, 'C-UP'), ('N-000004', '-infinity', NULL, 'C-SMALL'),
	('N-000005', '-infinity', NULL, 'C-SMALLUP'), ('N-000006', '-infinity', NULL, 'C-TWO'),
	('N-000007', '-infinity', NULL, 'C-TWO'), ('N-000008', '-infinity', '2026-02-27', 'C-OLD'),
	('N-000008', '2026-02-27', NULL, 'C-FEW'), ('N-000009', '-infinity', NULL, 'C-BIG'),
	('N-000010', '-infinity', NULL, 'C-OUT');
UPDATE daily_registers SET consumption = 1000 + (('2026-03-02'::date - day) * 7 % 30) * 100
	WHERE meter_id = 'N-000001' AND obis = '1.8.0' AND day < '2026-03-02';
UPDATE daily_registers SET consumption = 10000 WHERE meter_id IN ('N-000002', 'N-000003') AND obis = '1.8.0';
UPDATE daily_registers SET consumption = 100 WHERE meter_id IN ('N-000004', 'N-000005') AND obis = '1.8.0';
UPDATE daily_registers SET consumption = v.wh FROM (VALUES ('N-000001', 12345), ('N-000002', 20000),
	('N-000003', 20001), ('N-000004', 300), ('N-000005', 2100), ('N-000008', 50000),
	('N-000009', 1234567)) v(meter, wh)
	WHERE meter_id = v.meter AND obis = '1.8.0' AND day = '2026-03-02';
-- Two tariffs with a price change on D (mid-month): C-EQ's splits the
-- month by days (as the default), C-UP's by the days' own energy.
BEGIN;
INSERT INTO tariffs (tariff, name, currency, amount_decimals, share_round_wh, split, is_default, source) VALUES
	('T-DAYS', 'test', 'VND', 0, 1000, 'days', false, 'test'), ('T-ACT', 'test', 'VND', 0, 1000, 'actual', false, 'test');
INSERT INTO tariff_prices (tariff, valid_from, source) VALUES ('T-DAYS', '2026-02-01', 't'), ('T-DAYS', '2026-03-02', 't'),
	('T-ACT', '2026-02-01', 't'), ('T-ACT', '2026-03-02', 't');
INSERT INTO tariff_tiers (tariff, valid_from, tier, upto_kwh, price)
SELECT t, v, k, CASE k WHEN 1 THEN 50 WHEN 2 THEN 100 END, 1000 + k * 500 + (v = '2026-03-02')::int * 137
FROM unnest(ARRAY['T-DAYS', 'T-ACT']) t, unnest(ARRAY['2026-02-01', '2026-03-02']::date[]) v, generate_series(1, 3) k;
INSERT INTO tariff_vat (tariff, valid_from, rate, source) VALUES ('T-DAYS', '2020-01-01', 0.08, 't'), ('T-ACT', '2020-01-01', 0.1, 't');
INSERT INTO account_tariffs (customer_account, valid_from, tariff) VALUES ('C-EQ', '-infinity', 'T-DAYS'), ('C-UP', '-infinity', 'T-ACT');
COMMIT;
CREATE TABLE held_back AS SELECT * FROM daily_registers WHERE meter_id = 'N-000007' AND day = '2026-03-02';
DELETE FROM daily_registers WHERE meter_id = 'N-000007' AND day = '2026-03-02';
-- Outages of N-000010 (Asia/Ho_Chi_Minh is UTC+7): 08:00-09:35 local;
-- 00:10-00:13 (3 min, too short; the UTC day before); 17:00-17:30; 23:50
-- with an offline event but no online yet (it comes at 00:40:30).
INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id) VALUES
	('N-000010', '2026-03-02 01:00:00+00', 'power_outage', '', 'bus b', 'gw-n'),
	('N-000010', '2026-03-02 02:35:00+00', 'online', '', NULL, 'gw-n'),
	('N-000010', '2026-03-01 17:10:00+00', 'power_outage', '', 'bus b', 'gw-n'),
	('N-000010', '2026-03-01 17:13:00+00', 'online', '', NULL, 'gw-n'),
	('N-000010', '2026-03-02 10:00:00+00', 'power_outage', '', 'bus b', 'gw-n'),
	('N-000010', '2026-03-02 10:30:00+00', 'online', '', NULL, 'gw-n'),
	('N-000010', '2026-03-02 16:50:00+00', 'power_outage', '', 'bus b', 'gw-n'),
	('N-000010', '2026-03-02 17:00:00+00', 'offline', '', NULL, 'gw-n');
EOF
check_eq "$(q "SELECT import_wh FROM meter_days WHERE meter_id = 'N-000001' AND day = '2026-03-02'")/$(q "SELECT count(*) FROM meter_days WHERE day = '2026-03-02'")" \
	"12345/9" "meter_days holds the days as set (N-000007's day D held back)"

# --- the first run -----------------------------------------------------------------
check_eq "$(as ops "SELECT * FROM gw_notices_make('2026-03-02')")" "2026-03-02|8|1|8|4|0|2" \
	"an operator makes D's notices: 8 accounts loaded, C-TWO waiting; 8 daily, 4 unusual, 2 outages"
fig() { q "SELECT coalesce(figures->>'$3', '-') FROM customer_notices WHERE customer_account = '$1' AND day = '2026-03-02' AND kind = '$2'"; }
has() { q "SELECT string_agg(kind, ',' ORDER BY kind) FROM customer_notices WHERE customer_account = '$1' AND day = '$2'"; }
# The usual day, independently: the mean of the 15th and 16th of the 30
# days sorted.
want_med=$(q "SELECT avg(wh) FROM (SELECT import_wh AS wh FROM meter_days WHERE meter_id = 'N-000001'
	AND day >= '2026-01-31' AND day < '2026-03-02' ORDER BY import_wh OFFSET 14 LIMIT 2) x")
check_eq "$(q "SELECT (figures->>'usual_wh')::numeric = $want_med FROM customer_notices WHERE customer_account = 'C-MED' AND kind = 'daily'")/$(fig C-MED daily usual_days)" "t/30" \
	"C-MED's usual day is the median of its 30 days before D ($want_med Wh)"
check_eq "$want_med" "2450.0000000000000000" "the 30 days 1000..3900 have the median 2450"
check_eq "$(fig C-MED daily mtd_wh)" "$(q "SELECT sum(import_wh) FROM meter_days WHERE meter_id = 'N-000001' AND day BETWEEN '2026-03-01' AND '2026-03-02'")" \
	"C-MED's month to date is its days of March through D"
# The month-to-date bill is 010's gw_bill_estimate (the default tariff).
bill() { q "SELECT total FROM gw_bill_estimate('$1', '$2')"; }
bill_en() { q "SELECT to_char(total, 'FM999,999,999,990') || ' VND' FROM gw_bill_estimate('$1', '$2')"; }
bill_vi() { q "SELECT translate(to_char(total, 'FM999,999,999,990'), ',', '.') || ' đ' FROM gw_bill_estimate('$1', '$2')"; }
check_eq "$(fig C-MED daily bill_total)/$(fig C-MED daily bill_currency)/$(fig C-MED daily bill_through)" "$(bill C-MED 2026-03-02)/VND/2026-03-02" \
	"C-MED's bill estimate is gw_bill_estimate's total through D ($(bill C-MED 2026-03-02) VND)"
check_eq "$(q "SELECT count(*) FROM customer_notices n WHERE kind = 'daily' AND day = '2026-03-02'
	AND (figures->>'bill_total')::numeric IS DISTINCT FROM (SELECT total FROM gw_bill_estimate(n.customer_account, n.day))")" 0 \
	"every daily notice's bill is gw_bill_estimate's total (the default tariff; a price change on D split by days, and by the days' energy)"
check_eq "$(q "SELECT count(*) FILTER (WHERE figures ? 'bill_total') || '/' || count(*) FROM customer_notices WHERE kind = 'daily' AND day = '2026-03-02'")" "8/8" \
	"every daily notice of D has a bill"
check_eq "$(q "SELECT body_vi FROM customer_notices WHERE customer_account = 'C-MED' AND kind = 'daily'")" \
	"Ngày 02/03/2026 quý khách đã dùng 12,345 kWh (+404% so với mức thường ngày 2,450 kWh). Từ đầu tháng 03/2026: 14,045 kWh, tiền điện tạm tính $(bill_vi C-MED 2026-03-02)." \
	"C-MED's daily text in Vietnamese: comma decimals, the change, month to date"
check_eq "$(q "SELECT subject_en || ' | ' || body_en FROM customer_notices WHERE customer_account = 'C-MED' AND kind = 'daily'")" \
	"Your electricity use on 2 Mar 2026 | On 2 Mar 2026 you used 12.345 kWh (+404% against your usual day of 2.450 kWh). Month to date (March 2026): 14.045 kWh, estimated bill $(bill_en C-MED 2026-03-02)." \
	"C-MED's daily text in English"
check_eq "$(q "SELECT body_vi || ' | ' || body_en FROM customer_notices WHERE customer_account = 'C-MED' AND kind = 'unusual'")" \
	"Ngày 02/03/2026 quý khách đã dùng 12,345 kWh, gấp 5,0 lần mức thường ngày (2,450 kWh). Xin kiểm tra các thiết bị điện trong nhà. | On 2 Mar 2026 you used 12.345 kWh, 5.0 times your usual day (2.450 kWh). You may want to check your appliances." \
	"C-MED's unusual-use notice in both languages"
check_eq "$(has C-EQ 2026-03-02)/$(fig C-EQ daily usual_wh)" "daily/10000" "C-EQ: exactly twice the usual day is not unusual"
check_eq "$(has C-UP 2026-03-02)" "daily,unusual" "C-UP: 1 Wh above twice the usual day is unusual"
check_eq "$(has C-SMALL 2026-03-02)" "daily" "C-SMALL: 0.3 kWh against 0.1 is three times, but below the minimum: not unusual"
check_eq "$(has C-SMALLUP 2026-03-02)" "daily,unusual" "C-SMALLUP: 2.1 kWh against 0.1 (2 kWh more, the minimum) is unusual"
check_eq "$(has C-TWO 2026-03-02)" "" "C-TWO: one of its two meters has no row of D yet: no notice"
check_eq "$(has C-FEW 2026-03-02)/$(fig C-FEW daily usual_wh)/$(fig C-FEW daily usual_days)" "daily/-/3" \
	"C-FEW took its meter over 3 days ago: no usual day (3 days), no unusual notice for 50 kWh"
check_eq "$(q "SELECT body_en FROM customer_notices WHERE customer_account = 'C-FEW' AND kind = 'daily'")" \
	"On 2 Mar 2026 you used 50.000 kWh. Month to date (March 2026): $(q "SELECT to_char(sum(import_wh) / 1000.0, 'FM990.000') FROM meter_days WHERE meter_id = 'N-000008' AND day BETWEEN '2026-03-01' AND '2026-03-02'") kWh, estimated bill $(bill_en C-FEW 2026-03-02)." \
	"without a usual day the comparison is left out of the text"
check_eq "$(has C-OLD 2026-03-02)" "" "C-OLD, the meter's previous holder, gets no notice of D"
check_eq "$(q "SELECT (v.vi->>'kwh') || ' ' || (v.en->>'kwh') FROM customer_notices, LATERAL (SELECT gw_notice_values(figures, 'vi') AS vi, gw_notice_values(figures, 'en') AS en) v WHERE customer_account = 'C-BIG' AND kind = 'daily'")" \
	"1.234,567 1,234.567" "C-BIG: 1234567 Wh is 1.234,567 kWh in Vietnamese and 1,234.567 in English"
check_eq "$(q "SELECT count(*) FROM customer_notices WHERE body_vi LIKE '%1.234,567 kWh%' AND body_en LIKE '%1,234.567 kWh%'")" 2 \
	"and so in C-BIG's daily and unusual texts"

# --- outages -------------------------------------------------------------------------
outages() { psql -XqA --csv -c "SELECT figures->>'start' AS start, figures->>'end' AS end, figures->>'minutes' AS minutes, body_en
	FROM customer_notices WHERE customer_account = 'C-OUT' AND kind = 'outage' ORDER BY figures->>'start'"; }
check_eq "$(outages)" "start,end,minutes,body_en
2026-03-02T01:00:00Z,2026-03-02T02:35:00Z,95,The power at meter N-000010 was out from 08:00 on 2 Mar 2026 to 09:35 (1 h 35 min).
2026-03-02T10:00:00Z,2026-03-02T10:30:00Z,30,The power at meter N-000010 was out from 17:00 on 2 Mar 2026 to 17:30 (30 min)." \
	"C-OUT's outages of D (local days of UTC+7): ended by the next online event, with durations; 3 minutes is too short; an open one waits"
check_eq "$(q "SELECT body_vi FROM customer_notices WHERE customer_account = 'C-OUT' AND kind = 'outage' ORDER BY notice_id LIMIT 1")" \
	"Công tơ N-000010 bị mất điện từ 08:00 ngày 02/03/2026 đến 09:35 (1 giờ 35 phút)." "an outage in Vietnamese"

# --- idempotency, a day that becomes loaded, a late outage end ------------------------------
before=$(q "SELECT count(*) || '/' || (SELECT count(*) FROM notice_deliveries) FROM customer_notices")
check_eq "$(as ops "SELECT * FROM gw_notices_make('2026-03-02')")" "2026-03-02|8|1|0|0|0|0" "a second run of D writes nothing"
check_eq "$(q "SELECT count(*) || '/' || (SELECT count(*) FROM notice_deliveries) FROM customer_notices")" "$before" \
	"the notices and their deliveries are as before ($before)"
check_eq "$(q "SELECT count(*) FROM notice_deliveries")" "$(($(q "SELECT count(*) FROM customer_notices") * 3))" \
	"each notice has one delivery per channel (app, zalo, email)"
sql "the held-back day of N-000007 is loaded; the open outage ends" <<'EOF'
INSERT INTO daily_registers SELECT * FROM held_back;
INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id) VALUES
	('N-000010', '2026-03-02 17:40:30+00', 'online', '', NULL, 'gw-n');
EOF
check_eq "$(as ops "SELECT * FROM gw_notices_make('2026-03-02')")" "2026-03-02|9|0|1|0|0|1" \
	"the next run writes C-TWO's daily notice and the outage that has ended now"
check_eq "$(fig C-TWO daily wh)/$(fig C-TWO daily meters)" \
	"$(q "SELECT sum(import_wh) FROM meter_days WHERE meter_id IN ('N-000006', 'N-000007') AND day = '2026-03-02'")/2" \
	"C-TWO's day is the sum of its two meters"
check_eq "$(q "SELECT figures->>'minutes' || ' ' || body_vi FROM customer_notices WHERE customer_account = 'C-OUT' AND kind = 'outage' AND figures->>'start' = '2026-03-02T16:50:00Z'")" \
	"50 Công tơ N-000010 bị mất điện từ 23:50 ngày 02/03/2026 đến 00:40 ngày 03/03/2026 (50 phút)." \
	"an outage from 23:50 until after midnight: 50 minutes, the end with its date"

# --- corrections -----------------------------------------------------------------------
corr() { q "UPDATE daily_registers SET consumption = $1 WHERE meter_id = 'N-000001' AND obis = '1.8.0' AND day = '2026-03-02'" >/dev/null; as ops "SELECT correction FROM gw_notices_make('2026-03-02')"; }
check_eq "$(corr 12400)" 0 "a day re-loaded 55 Wh higher (below correction_min_wh): no correction"
check_eq "$(corr 13000)" 1 "re-loaded 655 Wh higher than its notice said: a correction"
check_eq "$(as ops "SELECT correction FROM gw_notices_make('2026-03-02')")" 0 "the correction is written once"
check_eq "$(q "SELECT ref || ' ' || body_vi || ' | ' || body_en FROM customer_notices WHERE customer_account = 'C-MED' AND kind = 'correction'")" \
	"1 Số liệu ngày 02/03/2026 đã được cập nhật: 13,000 kWh (trước đây 12,345 kWh). | Your use on 2 Mar 2026 has been updated: 13.000 kWh (previously 12.345 kWh)." \
	"the correction names the new and the notified figure"
check_eq "$(corr 12000)" 1 "changed again: a second correction"
check_eq "$(q "SELECT string_agg(ref || ':' || (figures->>'previous_wh') || '>' || (figures->>'wh'), ' ' ORDER BY notice_id) FROM customer_notices WHERE customer_account = 'C-MED' AND kind = 'correction'")" \
	"1:12345>13000 2:13000>12000" "each correction against the latest figure notified"
check_eq "$(has C-MED 2026-03-02)" "correction,correction,daily,unusual" "the daily and unusual notices stay as they were"

# --- settings and templates are data ----------------------------------------------------
check_eq "$(as ops "UPDATE notice_settings SET unusual_ratio = 1.5, unusual_min_wh = 100")" "" "an operator changes the unusual-use threshold"
err=$(as ops "UPDATE notice_templates SET body = 'Ngày {day}: {kwh} kWh, {bogus}' WHERE kind = 'daily' AND lang = 'vi'")
case "$err" in *"notice template daily/vi: unknown placeholder(s) {bogus}"*) ok "a template with an unknown placeholder is refused, naming it" ;;
*) not_ok "a template with an unknown placeholder is refused, naming it ($err)" ;; esac
err=$(as ops "UPDATE notice_templates SET body = 'Ngày {day}: {kwh} kWh[[ ({change}' WHERE kind = 'daily' AND lang = 'vi'")
case "$err" in *"optional part must be"*) ok "a template with an unclosed [[ part is refused" ;; *) not_ok "a template with an unclosed [[ part is refused ($err)" ;; esac
err=$(as ops "UPDATE notice_templates SET body = 'Sự cố {meter}' WHERE kind = 'daily' AND lang = 'vi'")
case "$err" in *"unknown placeholder(s) {meter}"*) ok "a placeholder of another kind is refused" ;; *) not_ok "a placeholder of another kind is refused ($err)" ;; esac
check_eq "$(as ops "UPDATE notice_templates SET subject = 'Điện ngày {day}', body = 'Hôm qua {day}: {kwh} kWh[[ (thường ngày {usual_kwh})]][[; tạm tính {bill}]]' WHERE kind = 'daily' AND lang = 'vi'")" "" \
	"an operator edits the Vietnamese daily template"
q "UPDATE daily_registers SET consumption = v.wh FROM (VALUES ('N-000002', 15000), ('N-000003', 15001)) v(meter, wh)
	WHERE meter_id = v.meter AND obis = '1.8.0' AND day = '2026-03-03'" >/dev/null
# Without a default tariff there is no bill for D+1 (010: no row).
q "UPDATE tariffs SET is_default = false" >/dev/null
check_eq "$(as ops "SELECT daily FROM gw_notices_make('2026-03-03')")" "9" "the next day's notices: 9 daily"
q "UPDATE tariffs SET is_default = true WHERE tariff = 'EVN-RES'" >/dev/null
check_eq "$(has C-EQ 2026-03-03)/$(has C-UP 2026-03-03)" "daily/daily,unusual" \
	"the new threshold applies: 1.5 x the usual day is not unusual, 1 Wh more is"
check_eq "$(q "SELECT subject_vi || ' | ' || body_vi FROM customer_notices WHERE customer_account = 'C-SMALL' AND day = '2026-03-03' AND kind = 'daily'")" \
	"Điện ngày 03/03/2026 | Hôm qua 03/03/2026: 0,100 kWh (thường ngày 0,100)" \
	"the edited template is used; a part whose value is unknown (no bill) is left out"
check_eq "$(q "SELECT count(*) FROM customer_notices WHERE day = '2026-03-02' AND body_vi LIKE 'Hôm qua%'")" 0 \
	"notices written before keep their texts"
check_eq "$(q "SELECT updated_by FROM notice_templates WHERE kind = 'daily' AND lang = 'vi'")" ops "the template records who changed it"
err=$(as ops "DELETE FROM notice_templates WHERE kind = 'outage'")
case "$err" in *"permission denied"*) ok "an operator edits templates but cannot delete one" ;; *) not_ok "an operator edits templates but cannot delete one ($err)" ;; esac
err=$(q "DELETE FROM notice_templates WHERE kind = 'outage' AND lang = 'en'; SELECT * FROM gw_notices_make('2026-03-04')")
case "$err" in *"no notice template for outage/en"*) ok "a missing template stops the run with its name" ;; *) not_ok "a missing template stops the run with its name ($err)" ;; esac
q "INSERT INTO notice_templates (kind, lang, subject, body) VALUES ('outage', 'en', 'Power outage on {day}', 'The power at meter {meter} was out from {start} to {end} ({duration}).')" >/dev/null
err=$(as ops "UPDATE notice_settings SET timezone = 'Mars/Olympus'")
case "$err" in *"notice_settings_timezone_check"*) ok "a zone PostgreSQL does not know is refused" ;; *) not_ok "a zone PostgreSQL does not know is refused ($err)" ;; esac
# gw_notices_run: the lookback days up to a day, oldest first.
check_eq "$(as ops "SELECT string_agg(day || ':' || daily, ' ' ORDER BY day) FROM gw_notices_run('2026-03-04')")" \
	"2026-03-02:0 2026-03-03:0 2026-03-04:9" "gw_notices_run covers the last 3 days; only the new day writes notices"

# --- the senders' protocol: exactly once under concurrent senders -------------------------
# 2,000 notices of a day, each with its three deliveries.
sql "2,000 notices for the senders" <<'EOF'
INSERT INTO customer_notices (customer_account, day, kind, figures, subject_vi, body_vi, subject_en, body_en)
SELECT 'P-' || i, '2026-01-01', 'daily', jsonb_build_object('wh', i), 'tiêu đề', 'nội dung ' || i, 'subject', 'body ' || i
FROM generate_series(1, 2000) i;
EOF
open_before=$(q "SELECT count(*) FROM notice_deliveries WHERE state = 'pending' AND channel = 'app'")
# sender ROLE ID CHANNEL: claims 13 at a time (lease 60 s), commits, then
# acknowledges each (a little work between), until nothing is left; says
# "ack ID RESULT" per acknowledgement. Starts when the barrier (advisory
# lock 4242) is released.
sender() {
	psql -XqAt -v ON_ERROR_STOP=1 -U "$1" >"$GW_TMP/snd.$2.out" 2>"$GW_TMP/snd.$2.err" <<EOF
SELECT pg_advisory_lock_shared(4242);
SELECT pg_advisory_unlock_shared(4242);
DO \$\$
DECLARE
	ids bigint[];
	id bigint;
	res text;
BEGIN
	LOOP
		ids := ARRAY(SELECT c.notice_id FROM gw_notice_claim('$3', '$2', 13, '60 seconds') c);
		COMMIT;
		EXIT WHEN cardinality(ids) = 0;
		FOREACH id IN ARRAY ids LOOP
			PERFORM pg_sleep(0.001);
			res := gw_notice_ack(id, '$3', '$2');
			RAISE NOTICE 'ack % %', id, res;
			COMMIT;
		END LOOP;
	END LOOP;
END
\$\$;
EOF
}
psql -XqAt -c "SELECT pg_advisory_lock(4242); SELECT pg_sleep(30)" >/dev/null 2>&1 &
barrier=$!
track_pid $barrier
wait_for 20 bash -c "[ \"\$(psql -XqAt -c \"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted\")\" = 1 ]" ||
	not_ok "the barrier is held"
pids=()
sender sender_a app-1 app & pids+=($!)
sender sender_a app-2 app & pids+=($!)
sender sender_b app-3 app & pids+=($!)
sender sender_a zalo-1 zalo & pids+=($!)
sender sender_b zalo-2 zalo & pids+=($!)
wait_for 20 bash -c "[ \"\$(psql -XqAt -c \"SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND NOT granted\")\" = 5 ]" ||
	not_ok "five senders wait at the barrier"
q "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = 4242 AND granted AND mode = 'ExclusiveLock'" >/dev/null
t0=$(date +%s)
fails=0
for p in "${pids[@]}"; do wait "$p" || fails=$((fails + 1)); done
echo "# five senders done in $(($(date +%s) - t0)) s"
check_eq "$fails/$(cat "$GW_TMP"/snd.*.err | grep -vc '^NOTICE:  ack [0-9]* sent$')" "0/0" "the five senders ran to the end; every acknowledgement was 'sent'"
for ch in app zalo; do
	acked=$(cat "$GW_TMP"/snd.$ch-*.err | grep -c '^NOTICE:  ack [0-9]* sent$')
	twice=$(cat "$GW_TMP"/snd.$ch-*.err | sed -n 's/^NOTICE:  ack \([0-9]*\) sent$/\1/p' | sort | uniq -d | wc -l)
	check_eq "$acked/$twice" "$open_before/0" "$ch: $open_before deliveries acknowledged, none twice"
	check_eq "$(q "SELECT count(*) FILTER (WHERE state = 'sent') || '/' || count(*) FILTER (WHERE state <> 'sent') || '/' || count(*) FILTER (WHERE attempts <> 1) FROM notice_deliveries WHERE channel = '$ch'")" \
		"$open_before/0/0" "$ch: in the database every delivery is sent, none lost, each claimed once"
	per=$(for f in "$GW_TMP"/snd.$ch-*.err; do grep -c ' sent$' "$f"; done | tr '\n' ' ')
	echo "# $ch: acknowledged per sender: $per"
	check_eq "$(for f in "$GW_TMP"/snd.$ch-*.err; do grep -c ' sent$' "$f"; done | awk '$1 > 0' | wc -l)" \
		"$(ls "$GW_TMP"/snd.$ch-*.err | wc -l)" "$ch: every sender took its share (they ran at once)"
done
check_eq "$(q "SELECT count(*) FROM notice_deliveries d WHERE channel = 'app' AND claimed_by = 'app-3' AND claimed_role <> 'sender_b'")" 0 \
	"a delivery records the sender and its login role"

# --- a sender killed with claims open --------------------------------------------------------
# K claims 50 e-mail deliveries in a transaction and hangs; B's claim
# skips them at once (no wait); K's session is killed: its claims were
# never committed, B gets them next. K2 claims 50 with a 2 s lease,
# commits, and dies without acknowledging: nobody gets them until the
# lease ends, then B does; K2's late acknowledgement is refused.
claim_ids() { as "$1" "SELECT string_agg(notice_id::text, ' ' ORDER BY notice_id) FROM gw_notice_claim('email', '$2', $3, '$4')"; }
kfirst=$(q "SELECT min(notice_id) FROM notice_deliveries WHERE channel = 'email' AND state = 'pending'")
knext=$(q "SELECT notice_id FROM notice_deliveries WHERE channel = 'email' AND state = 'pending' ORDER BY notice_id OFFSET 50 LIMIT 1")
psql -XqAt -U sender_a -c "BEGIN" -c "SELECT count(*) FROM gw_notice_claim('email', 'k', 50, '1 hour')" -c "SELECT pg_sleep(120)" >/dev/null 2>&1 &
track_pid $!
wait_for 20 bash -c "[ \"\$(psql -XqAt -c \"SELECT count(*) FROM pg_stat_activity WHERE usename = 'sender_a' AND query LIKE '%pg_sleep(120)%'\")\" = 1 ]" ||
	not_ok "K holds its claim"
t0=$(date +%s%N)
b1=$(claim_ids sender_b b 50 '1 hour')
ms=$((($(date +%s%N) - t0) / 1000000))
check_eq "$(wc -w <<<"$b1")/$(cut -d' ' -f1 <<<"$b1")" "50/$knext" "B's claim skips the 50 K holds in its open transaction and takes the next 50 (${ms} ms)"
check_eq "$(as sender_b "SELECT count(*) FROM (SELECT gw_notice_release(n::bigint, 'email', 'b') r FROM unnest(string_to_array('$b1', ' ')) n) x WHERE r = 'released'")" 50 \
	"B gives its 50 back (release)"
q "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'sender_a' AND query LIKE '%pg_sleep(120)%'" >/dev/null
wait_for 20 bash -c "[ \"\$(psql -XqAt -c \"SELECT count(*) FROM pg_stat_activity WHERE usename = 'sender_a'\")\" = 0 ]"
b2=$(claim_ids sender_b b 50 '1 hour')
check_eq "$(cut -d' ' -f1 <<<"$b2")/$(wc -w <<<"$b2")/$(q "SELECT max(attempts) FROM notice_deliveries WHERE channel = 'email' AND notice_id < $knext")" "$kfirst/50/1" \
	"K killed: its 50 claims were never made; B gets them next, as their first attempt"
check_eq "$(as sender_b "SELECT count(*) FROM (SELECT gw_notice_ack(n::bigint, 'email', 'b') r FROM unnest(string_to_array('$b2', ' ')) n) x WHERE r = 'sent'")" 50 \
	"B acknowledges them"
k2=$(claim_ids sender_a k2 50 '2 seconds')
b3=$(claim_ids sender_b b 50 '1 hour')
check_eq "$(comm -12 <(tr ' ' '\n' <<<"$k2" | sort) <(tr ' ' '\n' <<<"$b3" | sort) | wc -l)/$(wc -w <<<"$b3")" "0/50" \
	"K2 claimed 50 (2 s lease) and died: B's claim within the lease gets none of them"
as sender_b "SELECT count(*) FROM (SELECT gw_notice_release(n::bigint, 'email', 'b') FROM unnest(string_to_array('$b3', ' ')) n) x" >/dev/null
sleep 2.5
b4=$(claim_ids sender_b b 50 '1 hour')
check_eq "$b4/$(q "SELECT min(attempts) || '-' || max(attempts) FROM notice_deliveries WHERE channel = 'email' AND notice_id IN ($(tr ' ' ',' <<<"$k2"))")" "$k2/2-2" \
	"after the lease B gets K2's 50, as their second attempt"
check_eq "$(as sender_a "SELECT gw_notice_ack($(cut -d' ' -f1 <<<"$k2"), 'email', 'k2')")" refused \
	"K2's late acknowledgement, after B claimed it, is refused"
check_eq "$(as sender_b "SELECT gw_notice_ack($(cut -d' ' -f1 <<<"$k2"), 'email', 'b')")/$(as sender_b "SELECT gw_notice_ack($(cut -d' ' -f1 <<<"$k2"), 'email', 'b')")" "sent/duplicate" \
	"B's acknowledgement is recorded; its repeat is a duplicate and changes nothing"
as sender_b "SELECT count(*) FROM (SELECT gw_notice_release(n::bigint, 'email', 'b') FROM unnest(string_to_array('$b4', ' ')) n) x" >/dev/null

# --- the lease, fail and release, one at a time ------------------------------------------------
one=$(claim_ids sender_a late 1 '1 second')
sleep 1.5
check_eq "$(as sender_a "SELECT gw_notice_ack($one, 'email', 'late')")" sent \
	"an acknowledgement after the lease, before anyone claimed it again, is recorded (nobody else sent it)"
check_eq "$(as sender_b "SELECT gw_notice_ack($one, 'email', 'late')")" refused \
	"another login role using the same sender id cannot acknowledge it"
one=$(claim_ids sender_a f 1 '1 hour')
check_eq "$(as sender_a "SELECT gw_notice_fail($one, 'email', 'f', 'SMTP 451', '1 hour')")" pending "a failed send goes back to pending"
check_eq "$(as sender_a "SELECT gw_notice_ack($one, 'email', 'f')")" refused "after fail the sender holds it no more"
check_eq "$(claim_ids sender_b b 1 '1 hour' | grep -cw "$one")" 0 "a failed delivery is not claimed again before its retry time"
check_eq "$(q "SELECT last_error FROM notice_deliveries WHERE notice_id = $one AND channel = 'email'")" "SMTP 451" "the failure's reason is kept"
q "UPDATE notice_deliveries SET state = 'pending', not_before = '-infinity', lease_until = NULL WHERE state = 'claimed' AND channel = 'email'" >/dev/null
q "UPDATE notice_settings SET max_attempts = 2" >/dev/null
q "UPDATE notice_deliveries SET not_before = '-infinity' WHERE notice_id = $one AND channel = 'email'" >/dev/null
check_eq "$(claim_ids sender_a f 1 '1 hour')" "$one" "due again, it is claimed again first (oldest first)"
check_eq "$(as sender_a "SELECT gw_notice_fail($one, 'email', 'f', 'SMTP 550', '0 seconds')")" failed \
	"failed at its second attempt (max_attempts 2): given up"
check_eq "$(claim_ids sender_a f 1 '1 hour' | grep -cw "$one")" 0 "a delivery given up is not claimed again"
one=$(claim_ids sender_a r 1 '1 hour')
att=$(q "SELECT attempts FROM notice_deliveries WHERE notice_id = $one AND channel = 'email'")
check_eq "$(as sender_a "SELECT gw_notice_release($one, 'email', 'r')")/$(claim_ids sender_b b 1 '1 hour')/$(q "SELECT attempts FROM notice_deliveries WHERE notice_id = $one AND channel = 'email'")" \
	"released/$one/$att" "a released delivery is claimed again at once, and the release did not count as an attempt"
err=$(as sender_a "SELECT * FROM gw_notice_claim('sms', 'x', 1, '1 minute')")
case "$err" in *"notice channel sms: not app, zalo or email"*) ok "an unknown channel is refused by name" ;; *) not_ok "an unknown channel is refused by name ($err)" ;; esac
err=$(as sender_a "SELECT * FROM gw_notice_claim('app', 'x', 1, '2 days')")
case "$err" in *"lease must be"*) ok "a lease beyond a day is refused" ;; *) not_ok "a lease beyond a day is refused ($err)" ;; esac

# --- what a sender may do --------------------------------------------------------------------
for stmt in "SELECT count(*) FROM customer_notices" "SELECT count(*) FROM notice_deliveries" \
	"UPDATE notice_deliveries SET state = 'sent'" "SELECT * FROM gw_notices_make('2026-03-02')" \
	"UPDATE notice_templates SET body = 'x'" "SELECT count(*) FROM meter_days"; do
	err=$(as sender_a "$stmt")
	case "$err" in *"permission denied"*) ok "a sender may not: $stmt" ;; *) not_ok "a sender may not: $stmt ($err)" ;; esac
done
check_eq "$(q "SELECT string_agg(p.proname, ' ' ORDER BY p.proname) FROM pg_proc p WHERE p.proname LIKE 'gw\_notice\_%' AND p.prosecdef
	AND has_function_privilege('notice_sender', p.oid, 'EXECUTE')
	AND array_to_string(p.proconfig, ',') = 'search_path=pg_catalog, public'")" "gw_notice_ack gw_notice_claim gw_notice_fail gw_notice_release" \
	"notice_sender executes four SECURITY DEFINER functions, their search_path pinned"

# --- the portal's role: its own account's notices only -------------------------------------------
pr() { psql -XqAt -U portal_web -c "BEGIN" -c "SELECT set_config('gw.customer_account', '$1', true)" -c "$2" -c "COMMIT" 2>&1 | sed -n 2p; }
check_eq "$(pr C-MED "SELECT count(*) || '/' || count(*) FILTER (WHERE customer_account = 'C-MED') FROM customer_notices")" \
	"$(q "SELECT count(*) || '/' || count(*) FROM customer_notices WHERE customer_account = 'C-MED'")" \
	"the portal's role under C-MED reads C-MED's notices and no other's"
check_eq "$(pr C-MED "SELECT count(*) FROM customer_notices WHERE customer_account = 'C-UP'")" 0 \
	"the portal's role under C-MED asking for C-UP's notices gets none"
check_eq "$(pr '' "SELECT count(*) FROM customer_notices")" 0 "the portal's role without an account reads no notice"
err=$(pr C-MED "SELECT count(*) FROM notice_deliveries")
case "$err" in *"permission denied"*) ok "the portal's role reads no deliveries" ;; *) not_ok "the portal's role reads no deliveries ($err)" ;; esac

# --- portald: GET /v1/accounts/{acct}/notices ------------------------------------------------
key=$GW_TMP/portal.key
head -c 48 /dev/urandom | base64 >"$key"
chmod 600 "$key"
port=$(free_port)
cat >"$GW_TMP/portal.ini" <<INI
[portal]
listen = 127.0.0.1
port = $port
threads = 2
key_file = $key
rate_per_minute = 1
rate_burst = 30

[database]
conninfo = host=$PGHOST port=$PGPORT dbname=meters user=portal_web
INI
"$portald" -c "$GW_TMP/portal.ini" 2>"$GW_TMP/portald.log" &
track_pid $!
base=http://127.0.0.1:$port
wait_for 20 curl -sf "$base/v1/health" || { not_ok "portald serves ($(tail -3 "$GW_TMP/portald.log"))"; finish; }
tok() { /usr/bin/python3 "$GW_TOP/tests/integration/portal_token.py" "$key" "$1"; }
get() { # URL TOKEN: status in $code, body in $GW_TMP/body
	code=$(curl -s -m 30 -o "$GW_TMP/body" -D "$GW_TMP/headers" -w '%{http_code}' -H "Authorization: Bearer $2" "$base$1")
}
tmed=$(tok C-MED)
expect_notices() { # ACCOUNT LIMIT [BEFORE]
	psql -XqA --csv -c "SELECT notice_id AS id, day, kind, to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') AS created,
		subject_vi, body_vi, subject_en, body_en, figures::text AS figures FROM customer_notices
		WHERE customer_account = '$1' ${3:+AND notice_id < $3} ORDER BY notice_id DESC LIMIT $2"
}
get "/v1/accounts/C-MED/notices?format=csv" "$tmed"
check_eq "$code/$(tr -d '\r' <"$GW_TMP/body")" "200/$(expect_notices C-MED 20)" "C-MED's notices as CSV: all of them, newest first, texts and figures as stored"
grep -qi '^Content-Disposition: attachment; filename="C-MED-notices.csv"' "$GW_TMP/headers" && ok "the CSV is named after the account" ||
	not_ok "the CSV is named after the account ($(grep -i disposition "$GW_TMP/headers"))"
get "/v1/accounts/C-MED/notices?limit=2" "$tmed"
json_rows() {
	/usr/bin/python3 -c '
import csv, decimal, io, json, sys
d = json.load(sys.stdin, parse_float=decimal.Decimal)
out = io.StringIO()
w = csv.writer(out, lineterminator="\n")
for n in d["notices"]:
    w.writerow([n["id"], n["day"], n["kind"], n["created"], n["subject_vi"], n["body_vi"], n["subject_en"], n["body_en"], json.dumps(n["figures"], sort_keys=True)])
print(d["account"], len(d["notices"]))
print(out.getvalue(), end="")' <"$GW_TMP/body"
}
want=$(psql -XqAt -c "SELECT notice_id FROM customer_notices WHERE customer_account = 'C-MED' ORDER BY notice_id DESC LIMIT 2" | tr '\n' ' ')
rows=$(json_rows)
check_eq "$code/$(sed -n 1p <<<"$rows")/$(sed 1d <<<"$rows" | cut -d, -f1 | tr '\n' ' ')" "200/C-MED 2/$want" "limit=2: the two newest, in JSON"
check_eq "$(sed -n 2p <<<"$rows" | cut -d, -f2,3)/$(/usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["notices"][0]["figures"]["wh"])' <"$GW_TMP/body")" \
	"$(q "SELECT day || ',' || kind || '/' || (figures->>'wh') FROM customer_notices WHERE customer_account = 'C-MED' ORDER BY notice_id DESC LIMIT 1")" \
	"the JSON carries the figures as an object"
before=$(cut -d' ' -f1 <<<"$want")
get "/v1/accounts/C-MED/notices?limit=100&before=$before&format=csv" "$tmed"
check_eq "$code/$(tr -d '\r' <"$GW_TMP/body")" "200/$(expect_notices C-MED 100 "$before")" "before=ID: the older ones"
get "/v1/accounts/C-UP/notices" "$tmed"
check_eq "$code/$(cat "$GW_TMP/body")" '401/{"error":"unauthorized"}' "C-MED's token for C-UP's notices: the one 401"
get "/v1/accounts/C-NONE/notices" "$(tok C-NONE)"
check_eq "$code/$(tr -d '\n' <"$GW_TMP/body")" '200/{"account":"C-NONE","notices":[]}' "an account without notices gets an empty list"
for bad in "limit=0" "limit=101" "limit=x" "limit=1&limit=2" "before=0" "before=-5" "from=2026-03-01" "format=xml"; do
	get "/v1/accounts/C-MED/notices?$bad" "$tmed"
	if [ "$code" = 400 ] && grep -q '"detail":' "$GW_TMP/body"; then ok "400 for notices?$bad"; else not_ok "400 for notices?$bad (got $code $(head -c 200 "$GW_TMP/body"))"; fi
done
get "/v1/accounts/C-MED/daily?from=2026-03-01&to=2026-03-02&limit=5" "$tmed"
check_eq "$code" 400 "limit is no argument of daily"
pq() { "$portald" -c "$GW_TMP/portal.ini" --query notices "$@" --format csv 2>"$GW_TMP/pq.err" | tr -d '\r'; }
check_eq "$(pq --as C-UP --limit 100)" "$(expect_notices C-UP 100)" "the service's notices query for C-UP under C-UP's session gives C-UP's notices"
check_eq "$(pq --as C-MED --for C-UP --limit 100)" "id,day,kind,created,subject_vi,body_vi,subject_en,body_en,figures" \
	"the service's notices query for C-UP's rows under C-MED's session gives nothing (row-level security)"
finish
