#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/tariff.sh - schema 010 against a real PostgreSQL: the
# example tariff (EVN's six residential tiers and their price lists), the
# month-to-date bill estimate gw_bill_estimate() and its lines
# gw_bill_lines(): every tier edge in exact Wh, a month that crosses a
# price change (both splits), rounding of shares and amounts, an account
# without data, estimated and missing days, an account history, price
# lists checked when they are written, who may write and read, and that
# the portal role sees its own account's bill only. Every expected figure
# is worked out here by hand, not by the function.
. "$(dirname "$0")/../lib.sh"

start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1" 2>&1; }
# bill ACCOUNT THROUGH: import_wh/amount/vat/total/currency/tariff/days_estimated/days_missing
bill() {
	q "SELECT concat_ws('/', import_wh, amount, vat, total, currency, tariff, days_estimated, days_missing)
	   FROM gw_bill_estimate('$1', '$2')"
}
# lines ACCOUNT THROUGH: "sub_from:tier:from_wh-upto_wh:wh:amount" of the lines with energy
lines() {
	q "SELECT string_agg(concat(sub_from, ':', tier, ':', from_wh, '-', upto_wh, ':', wh, ':', amount), ' '
			     ORDER BY sub_from, tier)
	   FROM gw_bill_lines('$1', '$2') WHERE wh > 0"
}

psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/setup.out" 2>&1 <<'EOF' || not_ok "set up roles, gateway and meters ($(tail -3 "$GW_TMP/setup.out"))"
CREATE ROLE portal_web LOGIN IN ROLE customer_portal;
CREATE ROLE ana LOGIN IN ROLE analyst;
CREATE ROLE op LOGIN IN ROLE gw_operator;
INSERT INTO gateways (gateway_id, timezone) VALUES ('gw-t', 'Asia/Ho_Chi_Minh');
-- day_rows(meter, first day, last day, Wh a day, quality): the 1.8.0
-- register of those days, as a gateway would have loaded it.
CREATE FUNCTION day_rows(p_meter text, p_from date, p_to date, p_wh bigint, p_q text DEFAULT 'measured')
RETURNS void LANGUAGE sql AS $$
	INSERT INTO meters (meter_id, gateway_id) VALUES (p_meter, 'gw-t') ON CONFLICT DO NOTHING;
	INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value, consumption,
				     quality, readings, minutes_missing, revision, gateway_id)
	SELECT p_meter, d::date, '1.8.0', 'Wh', 0, p_wh, p_wh, p_q::gw_quality, 96,
	       CASE WHEN p_q = 'measured' THEN 0 ELSE 120 END, 1, 'gw-t'
	FROM generate_series(p_from, p_to, interval '1 day') d
	ON CONFLICT (meter_id, day, obis) DO UPDATE SET consumption = EXCLUDED.consumption,
		end_value = EXCLUDED.end_value, quality = EXCLUDED.quality;
$$;
EOF

# --- the example tariff -----------------------------------------------------
check_eq "$(q "SELECT tariff || '/' || currency || '/' || split || '/' || share_round_wh FROM tariffs WHERE is_default")" \
	"EVN-RES/VND/days/1000" "the default tariff is EVN's residential one, in VND, split by days, shares in whole kWh"
check_eq "$(q "SELECT string_agg(valid_from || '=' || n, ' ' ORDER BY valid_from) FROM (SELECT valid_from, count(*) n FROM tariff_tiers WHERE tariff = 'EVN-RES' GROUP BY 1) x")" \
	"2019-03-20=6 2023-05-04=6 2023-11-09=6 2024-10-11=6 2025-05-10=6" "five price lists of six tiers each"
check_eq "$(q "SELECT string_agg(coalesce(upto_kwh::text, '-') || ':' || price::int, ' ' ORDER BY tier) FROM tariff_tiers WHERE tariff = 'EVN-RES' AND valid_from = '2025-05-10'")" \
	"50:1984 100:2050 200:2380 300:2998 400:3350 -:3460" "the list of 10 May 2025 (Decision 1279/QĐ-BCT): tiers and prices"
check_eq "$(q "SELECT string_agg(price::int::text, ' ' ORDER BY tier) FROM tariff_tiers WHERE tariff = 'EVN-RES' AND valid_from = '2024-10-11'")" \
	"1893 1956 2271 2860 3197 3302" "the list of 11 October 2024 (Decision 2699/QĐ-BCT)"
check_eq "$(q "SELECT count(*) FROM tariff_prices WHERE source !~ 'Decision [0-9]+/QĐ-(BCT|EVN)'")" 0 \
	"every price list names its decision"

# --- tier edges, a month without a price change (June 2025, VAT 8 %) -------------
# Prices from 2025-05-10: 1984, 2050, 2380, 2998, 3350, 3460 VND/kWh.
# One meter per account, one day of data (2025-06-01), through 2025-06-01.
# edge ACCOUNT WH EXPECTED-AMOUNT: VAT = round(amount x 0.08), total = both
edge() {
	local acct=$1 wh=$2 amount=$3 vat100 vat
	q "SELECT day_rows('E-$acct', '2025-06-01', '2025-06-01', $wh);
	   INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('E-$acct', '$acct')" >/dev/null
	# VAT by hand: amount x 8 / 100, rounded half up, in integers
	vat100=$((amount * 8))
	vat=$(((vat100 + 50) / 100))
	check_eq "$(bill "$acct" 2025-06-01)" "$wh/$amount/$vat/$((amount + vat))/VND/EVN-RES/0/0" \
		"$wh Wh: amount $amount, VAT $vat, total $((amount + vat)) VND"
}
edge T0 0 0                         # nothing used: nothing to pay
edge T50 50000 99200                # 50 x 1984: all of tier 1
edge T50x 50001 99202               # 99200 + 1 Wh x 2050 / 1000 = 2.05 -> 2
edge T51 51000 101250               # 99200 + 1 x 2050
edge T100 100000 201700             # 99200 + 50 x 2050 (102500)
edge T400 400000 1074500            # 201700 + 100 x 2380 + 100 x 2998 + 100 x 3350
edge T401 401000 1077960            # 1074500 + 1 x 3460
check_eq "$(lines T50x 2025-06-01)" "2025-06-01:1:0-50000:50000:99200 2025-06-01:2:50000-100000:1:2" \
	"50.001 kWh: 50,000 Wh in tier 1, 1 Wh in tier 2 (tiers count in exact Wh)"
check_eq "$(lines T401 2025-06-01 | tr ' ' '\n' | cut -d: -f2,4 | tr '\n' ' ')" \
	"1:50000 2:50000 3:100000 4:100000 5:100000 6:1000 " "401 kWh: 50, 50, 100, 100, 100 and 1 kWh in tiers 1 to 6"
check_eq "$(q "SELECT count(*) || '/' || count(*) FILTER (WHERE wh = 0) || '/' || max(tier) FROM gw_bill_lines('T51', '2025-06-01')")" \
	"6/4/6" "the lines are every tier of the list, those without energy too"
# Two meters of one account add up: 30 + 21 kWh is 51 kWh, as T51.
q "SELECT day_rows('E-TWO-A', '2025-06-01', '2025-06-01', 30000), day_rows('E-TWO-B', '2025-06-01', '2025-06-01', 21000);
   INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('E-TWO-A', 'TWO'), ('E-TWO-B', 'TWO')" >/dev/null
check_eq "$(bill TWO 2025-06-01)" "51000/101250/8100/109350/VND/EVN-RES/0/0" "an account's two meters are billed together"

# --- a month that crosses a price change: October 2024 -------------------------
# Lists: 2023-11-09 (1806, 1866, 2167, 2729, 3050, 3151) to 10 October,
# 2024-10-11 (1893, 1956, 2271, 2860, 3197, 3302) from 11 October. The
# month has D = 31 days: sub-period 1 has 10 (1-10), sub-period 2 has 21.
# Tier limits of sub-period 1, L x 10 / 31 rounded to whole kWh:
#   50 -> 16.13 -> 16; 100 -> 32.26 -> 32; 200 -> 64.52 -> 65;
#   300 -> 96.77 -> 97; 400 -> 129.03 -> 129
# of sub-period 2, the rest of the month's limit:
#   50 - 16 = 34; 100 - 32 = 68; 200 - 65 = 135; 300 - 97 = 203; 400 - 129 = 271
# Account XD: nothing used on 1-10 October, 10 kWh a day on 11-31: 210 kWh.
q "SELECT day_rows('X-D', '2024-10-01', '2024-10-10', 0), day_rows('X-D', '2024-10-11', '2024-10-31', 10000);
   INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('X-D', 'XD')" >/dev/null
# Split by days (the bill's rule): 210 x 10 / 31 = 67.74 -> 68 kWh at the
# old prices, 210 - 68 = 142 kWh at the new ones, whatever the days held.
#   old: 16 x 1806 = 28896; 16 x 1866 = 29856; (65 - 32 = 33) x 2167 = 71511;
#        (68 - 65 = 3) x 2729 = 8187                       -> 138450
#   new: 34 x 1893 = 64362; 34 x 1956 = 66504; (135 - 68 = 67) x 2271 = 152157;
#        (142 - 135 = 7) x 2860 = 20020                    -> 303043
#   amount 441493; VAT 8 %: 35319.44 -> 35319; total 476812
check_eq "$(bill XD 2024-10-31)" "210000/441493/35319/476812/VND/EVN-RES/0/0" \
	"a month across the price change of 11 October 2024, split by days: 441,493 + 35,319 VAT"
check_eq "$(lines XD 2024-10-31)" "2024-10-01:1:0-16000:16000:28896 2024-10-01:2:16000-32000:16000:29856 2024-10-01:3:32000-65000:33000:71511 2024-10-01:4:65000-97000:3000:8187 2024-10-11:1:0-34000:34000:64362 2024-10-11:2:34000-68000:34000:66504 2024-10-11:3:68000-135000:67000:152157 2024-10-11:4:135000-203000:7000:20020" \
	"its lines: each sub-period's tier limits scaled by its days, its energy and amounts"
check_eq "$(q "SELECT price_lists || '/' || vat_rate || '/' || tier_limits || '/' || days_with_data FROM gw_bill_estimate('XD', '2024-10-31')")" \
	"2/0.0800/month/31" "the estimate says: two price lists, VAT 8 %, the month's tier limits, 31 days with data"
# Month to date, 20 October: 10 days x 10 kWh = 100 kWh, against the
# whole month's limits: 100 x 10 / 31 = 32.26 -> 32 kWh old, 68 new.
#   old: 16 x 1806 + 16 x 1866 = 58752; new: 34 x 1893 + 34 x 1956 = 130866
#   amount 189618; VAT 15169.44 -> 15169; total 204787
check_eq "$(bill XD 2024-10-20)" "100000/189618/15169/204787/VND/EVN-RES/0/0" \
	"month to date (20 October): the energy so far against the whole month's tier limits"
# Before the change (5 October), 10 kWh a day on 1-5: 50 kWh. The month's
# bill will still give 10/31 of it to the old prices: 16 kWh, and 34 kWh
# to the new (already known) ones.
#   16 x 1806 = 28896; 34 x 1893 = 64362; amount 93258; VAT 7460.64 -> 7461
q "SELECT day_rows('X-M', '2024-10-01', '2024-10-05', 10000);
   INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('X-M', 'XM')" >/dev/null
check_eq "$(bill XM 2024-10-05)" "50000/93258/7461/100719/VND/EVN-RES/0/0" \
	"month to date before the change: split as the month's bill will split it"
# The same days on a tariff that splits by the actual days (a utility that
# reads the meters at the change): 0 kWh old, 210 kWh new.
#   34 x 1893 = 64362; 34 x 1956 = 66504; 67 x 2271 = 152157;
#   (203 - 135 = 68) x 2860 = 194480; (210 - 203 = 7) x 3197 = 22379
#   amount 499882; VAT 39990.56 -> 39991; total 539873
psql -Xq -1 -v ON_ERROR_STOP=1 >"$GW_TMP/act.out" 2>&1 <<'SQL' || not_ok "a tariff split by actual days ($(tail -3 "$GW_TMP/act.out"))"
INSERT INTO tariffs (tariff, name, currency, split) VALUES ('TEST-ACT', 'EVN residential, read at the change', 'VND', 'actual');
INSERT INTO tariff_prices (tariff, valid_from, source) SELECT 'TEST-ACT', valid_from, source FROM tariff_prices WHERE tariff = 'EVN-RES';
INSERT INTO tariff_tiers (tariff, valid_from, tier, upto_kwh, price) SELECT 'TEST-ACT', valid_from, tier, upto_kwh, price FROM tariff_tiers WHERE tariff = 'EVN-RES';
INSERT INTO tariff_vat (tariff, valid_from, rate, source) VALUES ('TEST-ACT', '2024-01-01', 0.08, 'test');
SELECT day_rows('X-A', '2024-10-01', '2024-10-10', 0), day_rows('X-A', '2024-10-11', '2024-10-31', 10000);
INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('X-A', 'XA');
INSERT INTO account_tariffs (customer_account, tariff) VALUES ('XA', 'TEST-ACT');
SQL
check_eq "$(bill XA 2024-10-31)" "210000/499882/39991/539873/VND/TEST-ACT/0/0" \
	"split by actual days: the energy of 11-31 October all at the new prices"
check_eq "$(q "SELECT count(*) || '/' || count(*) FILTER (WHERE wh > 0) FROM gw_bill_lines('XA', '2024-10-31') WHERE sub_from = '2024-10-01'")" \
	"6/0" "the old list's six tiers are there, without energy"

# A utility's price change is an INSERT of a new list with its date. A list
# from 16 June 2025 (tier 1 at 2000): June has 30 days, 15 and 15. Account
# T50 used 50 kWh: 25 kWh in each half, tier 1 limit 25 in each.
#   25 x 1984 = 49600; 25 x 2000 = 50000; amount 99600; VAT 7968; total 107568
check_eq "$(psql -XqAt -v ON_ERROR_STOP=1 2>&1 <<'SQL'
BEGIN;
INSERT INTO tariff_prices (tariff, valid_from, source) VALUES ('EVN-RES', '2025-06-16', 'a test list');
INSERT INTO tariff_tiers (tariff, valid_from, tier, upto_kwh, price) VALUES
	('EVN-RES', '2025-06-16', 1, 50, 2000), ('EVN-RES', '2025-06-16', 2, 100, 2100),
	('EVN-RES', '2025-06-16', 3, 200, 2400), ('EVN-RES', '2025-06-16', 4, 300, 3000),
	('EVN-RES', '2025-06-16', 5, 400, 3400), ('EVN-RES', '2025-06-16', 6, NULL, 3500);
SET CONSTRAINTS ALL IMMEDIATE;
SELECT concat_ws('/', import_wh, amount, vat, total, price_lists) FROM gw_bill_estimate('T50', '2025-06-01');
ROLLBACK;
SQL
)" "50000/99600/7968/107568/2" "a new price list from the 16th (an INSERT) splits June in two halves"

# --- rounding ---------------------------------------------------------------
# A tariff of one tier at 1500 per kWh, VAT 10 %, whole units: 3 Wh cost
# 4.5 -> 5 (half away from zero), VAT 0.5 -> 1, total 6. With two decimals
# and 1234.5678 per kWh: 1 Wh costs 1.2345678 -> 1.23, VAT 0.123 -> 0.12.
psql -Xq -1 -v ON_ERROR_STOP=1 >"$GW_TMP/round.out" 2>&1 <<'SQL' || not_ok "rounding tariffs ($(tail -3 "$GW_TMP/round.out"))"
INSERT INTO tariffs (tariff, name, currency, amount_decimals) VALUES ('TEST-R', 'flat', 'VND', 0), ('TEST-R2', 'flat, cents', 'USD', 2);
INSERT INTO tariff_prices (tariff, valid_from, source) VALUES ('TEST-R', '2025-01-01', 'test'), ('TEST-R2', '2025-01-01', 'test');
INSERT INTO tariff_tiers (tariff, valid_from, tier, upto_kwh, price) VALUES ('TEST-R', '2025-01-01', 1, NULL, 1500), ('TEST-R2', '2025-01-01', 1, NULL, 1234.5678);
INSERT INTO tariff_vat (tariff, valid_from, rate, source) VALUES ('TEST-R', '2025-01-01', 0.10, 'test'), ('TEST-R2', '2025-01-01', 0.10, 'test');
SELECT day_rows('R-3', '2025-06-01', '2025-06-01', 3), day_rows('R-1', '2025-06-01', '2025-06-01', 1);
INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('R-3', 'R3'), ('R-1', 'R1');
INSERT INTO account_tariffs (customer_account, tariff) VALUES ('R3', 'TEST-R'), ('R1', 'TEST-R2');
SQL
check_eq "$(bill R3 2025-06-30)" "3/5/1/6/VND/TEST-R/0/29" "3 Wh at 1500/kWh: 4.5 -> 5, VAT 0.5 -> 1 (half away from zero)"
check_eq "$(bill R1 2025-06-30)" "1/1.23/0.12/1.35/USD/TEST-R2/0/29" "two decimals: 1.2345678 -> 1.23, VAT 0.123 -> 0.12"

# --- no data; estimated and missing days; the account history --------------
q "SELECT day_rows('N-1', '2025-05-01', '2025-05-31', 5000);
   INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('N-1', 'ND')" >/dev/null
check_eq "$(bill ND 2025-06-10)" "0/0/0/0/VND/EVN-RES/0/10" "an account without data this month: 0 to pay, 10 days missing"
check_eq "$(q "SELECT days_with_data FROM gw_bill_estimate('ND', '2025-06-10')")" 0 "and no day with data"
# 1 kWh a day on 1-10 June but the 4th and 7th; the 2nd estimated, the 3rd
# incomplete, the 5th interpolated (close to the truth: not counted).
#   8 kWh x 1984 = 15872; VAT 1269.76 -> 1270; total 17142
q "SELECT day_rows('Q-1', '2025-06-01', '2025-06-10', 1000);
   DELETE FROM daily_registers WHERE meter_id = 'Q-1' AND day IN ('2025-06-04', '2025-06-07');
   UPDATE daily_registers SET quality = 'estimated' WHERE meter_id = 'Q-1' AND day = '2025-06-02';
   UPDATE daily_registers SET quality = 'incomplete' WHERE meter_id = 'Q-1' AND day = '2025-06-03';
   UPDATE daily_registers SET quality = 'interpolated' WHERE meter_id = 'Q-1' AND day = '2025-06-05';
   INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('Q-1', 'QA')" >/dev/null
check_eq "$(bill QA 2025-06-10)" "8000/15872/1270/17142/VND/EVN-RES/2/2" "2 days estimated or incomplete and 2 days missing are counted"
check_eq "$(q "SELECT days_with_data FROM gw_bill_estimate('QA', '2025-06-10')")" 8 "8 days with data"
# Meter H-1 passes from HA to HB on 16 June; 2 kWh every day of June.
#   each: 15 days x 2 kWh = 30 kWh x 1984 = 59520; VAT 4761.6 -> 4762; total 64282
q "SELECT day_rows('H-1', '2025-06-01', '2025-06-30', 2000);
   INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account) VALUES
	('H-1', '-infinity', '2025-06-16', 'HA'), ('H-1', '2025-06-16', NULL, 'HB')" >/dev/null
check_eq "$(bill HA 2025-06-30)" "30000/59520/4762/64282/VND/EVN-RES/0/0" "the former holder: its 15 days only, none missing"
check_eq "$(bill HB 2025-06-30)" "30000/59520/4762/64282/VND/EVN-RES/0/0" "the new holder: its 15 days only, none missing"
check_eq "$(bill HB 2025-06-20)" "10000/19840/1587/21427/VND/EVN-RES/0/0" "the new holder to the 20th: 5 days, 10 kWh"
check_eq "$(q "SELECT count(*) FROM gw_bill_estimate('NOBODY', '2025-06-30')")" 0 "an account with no meter gives no row"

# --- price lists are checked when they are written ---------------------------------
bad_list() { # DESC PATTERN TIERS-VALUES
	local out
	out=$(psql -XqAt -v ON_ERROR_STOP=1 2>&1 <<SQL
BEGIN;
INSERT INTO tariff_prices (tariff, valid_from, source) VALUES ('EVN-RES', '2030-01-01', 'bad');
${3:+INSERT INTO tariff_tiers (tariff, valid_from, tier, upto_kwh, price) VALUES $3;}
COMMIT;
SQL
)
	if grep -q "price list of tariff EVN-RES from 2030-01-01: .*$2" <<<"$out"; then ok "refused: $1"; else not_ok "refused: $1 ($out)"; fi
}
bad_list "a gap between tiers" "tier 3 follows tier 1" "('EVN-RES', '2030-01-01', 1, 50, 1), ('EVN-RES', '2030-01-01', 3, NULL, 2)"
bad_list "a last tier with a limit" "the last tier 2 has an upper limit" "('EVN-RES', '2030-01-01', 1, 50, 1), ('EVN-RES', '2030-01-01', 2, 100, 2)"
bad_list "limits that do not rise" "tier 2 ends at 50 kWh, not above tier 1's 50 kWh" "('EVN-RES', '2030-01-01', 1, 50, 1), ('EVN-RES', '2030-01-01', 2, 50, 2), ('EVN-RES', '2030-01-01', 3, NULL, 3)"
bad_list "a list without tiers" "it has no tiers" ""
bad_list "an open tier before the last" "tier 1 has no upper limit but is not the last" "('EVN-RES', '2030-01-01', 1, NULL, 1), ('EVN-RES', '2030-01-01', 2, NULL, 2)"
check_eq "$(q "SELECT count(*) FROM tariff_prices WHERE valid_from = '2030-01-01'")" 0 "no refused list is left behind"

# --- who may write and who may read ---------------------------------------------
for r in portal_web ana op; do
	out=$(psql -XqAt -U $r -c "INSERT INTO tariff_vat (tariff, valid_from, rate, source) VALUES ('EVN-RES', '2031-01-01', 0, 'x')" 2>&1)
	grep -q "permission denied" <<<"$out" && ok "$r may not write tariffs" || not_ok "$r may not write tariffs ($out)"
done
out=$(psql -XqAt -U portal_web -c "BEGIN; SET LOCAL gw.customer_account = 'HA'; UPDATE account_tariffs SET tariff = 'TEST-R'; COMMIT" 2>&1)
grep -q "permission denied" <<<"$out" && ok "the portal may not change an account's tariff" || not_ok "the portal may not change an account's tariff ($out)"
check_eq "$(psql -XqAt -U ana -c "SELECT concat_ws('/', import_wh, amount, vat, total, currency, tariff, days_estimated, days_missing) FROM gw_bill_estimate('XD', '2024-10-31')" 2>&1)" \
	"210000/441493/35319/476812/VND/EVN-RES/0/0" "an analyst gets any account's estimate"

# --- the portal role: its own account's bill, nothing of another's -------------------
# as_portal ACCOUNT SQL: SQL run by the portal's role in a transaction whose
# customer account is ACCOUNT, as portald runs its queries
as_portal() {
	psql -XqAt -U portal_web -v ON_ERROR_STOP=1 2>&1 <<SQL
BEGIN READ ONLY;
SELECT set_config('gw.customer_account', '$1', true) \\g /dev/null
$2;
COMMIT;
SQL
}
check_eq "$(as_portal HA "SELECT concat_ws('/', import_wh, amount, vat, total, currency, tariff, days_estimated, days_missing) FROM gw_bill_estimate('HA', '2025-06-30')")" \
	"30000/59520/4762/64282/VND/EVN-RES/0/0" "the portal role gets its session account's estimate, the same as the owner's"
check_eq "$(as_portal HA "SELECT count(*) FROM gw_bill_estimate('HB', '2025-06-30')")" 0 \
	"the portal role under HA asking for HB's estimate gets no row"
check_eq "$(as_portal HA "SELECT count(*) FROM gw_bill_lines('HB', '2025-06-30')")" 0 \
	"the portal role under HA asking for HB's lines gets none"
check_eq "$(as_portal HB "SELECT count(*) FROM gw_bill_estimate('HA', '2025-06-30')")" 0 \
	"the portal role under HB asking for HA's (the meter's former holder) gets no row"
check_eq "$(as_portal XA "SELECT tariff FROM gw_bill_estimate('XA', '2024-10-31')")/$(as_portal HA "SELECT count(*) FROM account_tariffs")" \
	"TEST-ACT/0" "the portal sees its own account's tariff, and no other account's"
check_eq "$(psql -XqAt -U portal_web -c "SELECT count(*) FROM gw_bill_estimate('HA', '2025-06-30')" 2>&1)" 0 \
	"the portal role without a session account gets no row"
finish
