#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/notices_upkeep.sh - schema 013 against a real
# PostgreSQL: the one bill rule (the portal's gw_bill_estimates and the
# notices' gw_notice_bills give the same bill for 240 accounts on every
# day of a month with a price change, on the default tariff and on one
# with cents and 1 Wh shares; and a notice run's bills); the notices'
# retention (gw_notices_prune: notices and deliveries of old days deleted,
# the rest kept, keep_days, a keep under 31 days refused, who may run it);
# and the shipped gatewayd-notices.service/.timer: systemd-analyze verify
# and security, and its ExecStart run as written against the database.
. "$(dirname "$0")/../lib.sh"

start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/setup.out" 2>&1 <<'EOF' || not_ok "set up roles, meters, days and tariffs ($(tail -3 "$GW_TMP/setup.out"))"
CREATE ROLE op LOGIN IN ROLE gw_operator;
CREATE ROLE ana LOGIN IN ROLE analyst;
CREATE ROLE portal_web LOGIN IN ROLE customer_portal;
INSERT INTO gateways (gateway_id, timezone) VALUES ('gw-u', 'Asia/Ho_Chi_Minh');
-- 240 accounts, one meter each and a second for every tenth, October
-- 2024 (EVN-RES's price change on the 11th) and the last days of
-- September; Wh a day uneven per meter and day.
INSERT INTO meters (meter_id, gateway_id, first_day)
SELECT 'M-' || i, 'gw-u', '2024-09-25'::date FROM generate_series(1, 240) i
UNION ALL SELECT 'M2-' || i, 'gw-u', '2024-09-25'::date FROM generate_series(10, 240, 10) i;
INSERT INTO meter_accounts (meter_id, customer_account)
SELECT 'M-' || i, 'U-' || i FROM generate_series(1, 240) i
UNION ALL SELECT 'M2-' || i, 'U-' || i FROM generate_series(10, 240, 10) i;
INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value, consumption,
			     quality, readings, minutes_missing, revision, gateway_id)
SELECT m.meter_id, d::date, '1.8.0', 'Wh', 0, w, w, 'measured', 96, 0, 1, 'gw-u'
FROM meters m, generate_series('2024-09-25'::date, '2024-10-31'::date, interval '1 day') d,
     LATERAL (SELECT (hashtext(m.meter_id || d::date) & 32767)::bigint + 200 + length(m.meter_id) * 3000 AS w) x
WHERE m.gateway_id = 'gw-u'
  -- every 17th account has no days from the 8th on (a silent meter)
  AND NOT (m.meter_id ~ '^M-[0-9]+$' AND substr(m.meter_id, 3)::int % 17 = 0 AND d >= '2024-10-08');
-- A tariff with cents, 1 Wh shares and a price change of its own on the
-- 20th; every third account is on it (one transaction: a price list is
-- checked whole at commit).
BEGIN;
INSERT INTO tariffs (tariff, name, currency, amount_decimals, share_round_wh, split)
VALUES ('TEST-C', 'two tiers, cents', 'USD', 2, 1, 'days');
INSERT INTO tariff_prices (tariff, valid_from, source) VALUES ('TEST-C', '2024-01-01', 'test'), ('TEST-C', '2024-10-20', 'test');
INSERT INTO tariff_tiers (tariff, valid_from, tier, upto_kwh, price) VALUES
	('TEST-C', '2024-01-01', 1, 100, 0.1234), ('TEST-C', '2024-01-01', 2, NULL, 0.2345),
	('TEST-C', '2024-10-20', 1, 120, 0.1357), ('TEST-C', '2024-10-20', 2, NULL, 0.2468);
INSERT INTO tariff_vat (tariff, valid_from, rate, source) VALUES ('TEST-C', '2024-01-01', 0.0725, 'test');
INSERT INTO account_tariffs (customer_account, tariff) SELECT 'U-' || i, 'TEST-C' FROM generate_series(3, 240, 3) i;
COMMIT;
EOF

# --- one bill rule: the portal's path and the notices' path --------------------------
# For each day of October 2024: gw_notice_bills over a gw_nt of the 240
# accounts (their month to date summed here from meter_days) against
# gw_bill_estimates of the same accounts. "day rows equal differ".
compare() {
	psql -XqAt -v ON_ERROR_STOP=1 -F' ' 2>&1 <<EOF
BEGIN;
CREATE TEMP TABLE gw_nt ON COMMIT DROP AS
SELECT a.customer_account AS acct, coalesce(sum(d.import_wh), 0)::numeric AS mtd_wh,
       true AS new_daily, NULL::text AS tariff
FROM meter_accounts a
LEFT JOIN meter_days d ON d.meter_id = a.meter_id AND d.day >= date_trunc('month', '$1'::date::timestamp)::date
     AND d.day <= '$1'
GROUP BY a.customer_account;
GRANT ALL ON pg_temp.gw_nt TO gw_owner; -- gw_notice_bills runs as its owner
WITH n AS (SELECT * FROM gw_notice_bills('$1')),
     e AS (SELECT * FROM gw_bill_estimates((SELECT array_agg(acct) FROM pg_temp.gw_nt), '$1'))
SELECT '$1', count(*), count(*) FILTER (WHERE n.total = e.total AND n.currency = e.currency),
       count(*) FILTER (WHERE n.total IS DISTINCT FROM e.total)
FROM e FULL JOIN n ON n.acct = e.account;
COMMIT;
EOF
}
: >"$GW_TMP/compare.out"
for d in $(seq -w 1 31); do compare "2024-10-$d" >>"$GW_TMP/compare.out"; done
bad=$(awk '$2 != 240 || $3 != 240 || $4 != 0' "$GW_TMP/compare.out")
check_eq "$(grep -c '' "$GW_TMP/compare.out")/$bad" "31/" \
	"gw_notice_bills and gw_bill_estimates: the same total for all 240 accounts on each of the 31 days of October 2024"
[ -n "$bad" ] && sed 's/^/#   /' <<<"$bad" | head -5
# the comparison has something to compare: the bills differ between
# accounts, both tariffs and both price lists of each are in them, and a
# bill after the change is not priced at the old list
check_eq "$(q "SELECT count(DISTINCT total) > 200, count(DISTINCT currency), max(price_lists)
	       FROM gw_bill_estimates((SELECT array_agg('U-' || i) FROM generate_series(1, 240) i), '2024-10-25')")" \
	"t|2|2" "the bills of the 25th: over 200 different totals, two currencies, two price lists in the month"
check_eq "$(q "SELECT string_agg(DISTINCT price_list::text, ' ') FROM gw_bill_lines('U-1', '2024-10-25') WHERE wh > 0")" \
	"2023-11-09 2024-10-11" "U-1's energy on the 25th is priced at both lists of the month"
# the rule by hand for one account: 31 days, EVN-RES, through the 31st;
# sub-periods 1-10 (10 days) and 11-31 (21 days); 1000 Wh shares.
wh=$(q "SELECT sum(import_wh) FROM meter_days WHERE meter_id = 'M-1' AND day BETWEEN '2024-10-01' AND '2024-10-31'")
want=$(/usr/bin/python3 - "$wh" <<'PY'
import sys
from decimal import Decimal, ROUND_HALF_UP
def r(x, u=1000):  # round half away from zero to a multiple of u
    return int((Decimal(x) / u).quantize(Decimal(1), ROUND_HALF_UP)) * u
a = int(sys.argv[1])
old = [1806, 1866, 2167, 2729, 3050, 3151]
new = [1893, 1956, 2271, 2860, 3197, 3302]
lims = [50000, 100000, 200000, 300000, 400000, None]
amount = 0
for c0, c1, prices in ((0, 10, old), (10, 31, new)):
    share = lambda v: (v if c1 == 31 else r(Decimal(v) * c1 / 31)) - (0 if c0 == 0 else r(Decimal(v) * c0 / 31))
    s = share(a)
    prev = 0
    for lim, p in zip(lims, prices):
        lo = share(prev) if prev else 0
        hi = share(lim) if lim else None
        e = max(0, (s if hi is None else min(s, hi)) - lo)
        amount += int((Decimal(e) * p / 1000).quantize(Decimal(1), ROUND_HALF_UP))
        prev = lim if lim else prev
vat = int((Decimal(amount) * Decimal("0.08")).quantize(Decimal(1), ROUND_HALF_UP))
print(f"{amount}/{amount + vat}")
PY
)
if [ -n "$wh" ] && [ -n "$want" ]; then
	check_eq "$(q "SELECT amount || '/' || total FROM gw_bill_estimate('U-1', '2024-10-31')")" "$want" \
		"U-1's bill of October 2024 ($wh Wh) worked out by hand: amount/total $want"
else
	not_ok "U-1's bill of October 2024 worked out by hand (no energy '$wh' or no figure '$want')"
fi

# A notice run prices its accounts the same way (gw_notices_make of the
# 31st, the daily notices' bill_total against gw_bill_estimate).
q "SELECT * FROM gw_notices_make('2024-10-31')" >"$GW_TMP/make.out"
check_eq "$(q "SELECT count(*), count(*) FILTER (WHERE (c.figures->>'bill_total')::numeric = e.total)
	       FROM customer_notices c, LATERAL gw_bill_estimate(c.customer_account, c.day) e
	       WHERE c.kind = 'daily' AND c.day = '2024-10-31'" | tr '|' ' ')" \
	"$(( 240 - 14 )) $(( 240 - 14 ))" \
	"a notice run of the 31st: 226 daily notices (14 accounts wait for a silent meter), each bill gw_bill_estimate's"

# --- retention: gw_notices_prune ------------------------------------------------------
q "TRUNCATE customer_notices" >/dev/null # (the run's notices of 2024 are older than any keep)
# Notices of three days (today - 500, today - 401, today - 399, in the
# notices' zone) for two accounts, made as the owner.
today=$(q "SELECT (now() AT TIME ZONE timezone)::date FROM notice_settings")
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/old.out" 2>&1 <<EOF || not_ok "insert old notices ($(tail -3 "$GW_TMP/old.out"))"
INSERT INTO customer_notices (customer_account, day, kind, ref, figures, subject_vi, body_vi, subject_en, body_en)
SELECT a, '$today'::date - n, 'daily', '', '{}', 's', 'b', 's', 'b'
FROM unnest(ARRAY['P-1', 'P-2']) a, unnest(ARRAY[500, 401, 400, 399]) n;
UPDATE notice_deliveries SET state = 'sent', sent_at = now()
WHERE notice_id IN (SELECT notice_id FROM customer_notices WHERE customer_account = 'P-1');
EOF
n_all=$(q "SELECT count(*) FROM customer_notices")
d_all=$(q "SELECT count(*) FROM notice_deliveries")
check_eq "$(q "SELECT count(*) FROM notice_deliveries d JOIN customer_notices c USING (notice_id) WHERE c.customer_account LIKE 'P-%'")" 24 \
	"8 old notices, 3 channels each: 24 deliveries (sent and pending)"
# who may prune: the operator's role, not an analyst nor the portal
PGUSER=ana psql -XqAt -c "SELECT * FROM gw_notices_prune()" >"$GW_TMP/ana.out" 2>&1 &&
	not_ok "an analyst may not prune notices (it could)" ||
	{ grep -q "permission denied for function gw_notices_prune" "$GW_TMP/ana.out" && ok "an analyst may not prune notices" ||
		not_ok "an analyst may not prune notices ($(cat "$GW_TMP/ana.out"))"; }
PGUSER=portal_web psql -XqAt -c "SELECT * FROM gw_notices_prune()" >"$GW_TMP/portal.out" 2>&1 &&
	not_ok "the portal's role may not prune notices (it could)" ||
	ok "the portal's role may not prune notices"
check_eq "$(PGUSER=op psql -XqAt -c "SELECT * FROM gw_notices_prune('10 days')" 2>&1 | grep -o 'keep 10 days is less than 31 days')" \
	"keep 10 days is less than 31 days" "a keep under 31 days is refused, with the reason"
check_eq "$(q "SELECT count(*) FROM customer_notices")" "$n_all" "... and nothing was deleted"
# the default keep (400 days): the days -500 and -401 go, -400 and -399 stay
check_eq "$(PGUSER=op psql -XqAt -c "SELECT * FROM gw_notices_prune()" 2>&1)" "$(q "SELECT '$today'::date - 400")|4|12" \
	"gw_notices_prune() as the operator: notices before today - 400 days deleted (4 notices, 12 deliveries)"
check_eq "$(q "SELECT string_agg(DISTINCT ('$today'::date - day)::text, ' ') FROM customer_notices WHERE customer_account LIKE 'P-%'")" \
	"399 400" "the notices of 400 and 399 days ago are kept"
check_eq "$(q "SELECT count(*) FROM customer_notices")/$(q "SELECT count(*) FROM notice_deliveries")" \
	"$((n_all - 4))/$((d_all - 12))" "nothing else was deleted; the deleted notices' deliveries went with them"
check_eq "$(q "SELECT count(*) FROM notice_deliveries d WHERE NOT EXISTS (SELECT FROM customer_notices c WHERE c.notice_id = d.notice_id)")" 0 \
	"no delivery is left without its notice"
check_eq "$(PGUSER=op psql -XqAt -c "SELECT notices, deliveries FROM gw_notices_prune()" 2>&1)" "0|0" "a second prune deletes nothing"
# notice_settings.keep_days: an operator's UPDATE, checked
q "UPDATE notice_settings SET keep_days = 400" >/dev/null
check_eq "$(PGUSER=op psql -XqAt -c "UPDATE notice_settings SET keep_days = 399" -c "SELECT notices FROM gw_notices_prune()" 2>&1)" "2" \
	"keep_days = 399 (an operator's UPDATE): the next prune deletes the day 400 days ago"
check_eq "$(PGUSER=op psql -XqAt -c "UPDATE notice_settings SET keep_days = 7" 2>&1 | grep -c 'violates check constraint')" 1 \
	"keep_days under 31 is refused"

# --- the shipped units ---------------------------------------------------------------
svc=$GW_TMP/gatewayd-notices.service
sed 's|@PREFIX@|/usr|g' "$GW_TOP/tools/gatewayd-notices.service" >"$svc"
cp "$GW_TOP/tools/gatewayd-notices.timer" "$GW_TMP/"
if command -v systemd-analyze >/dev/null; then
	systemd-analyze verify "$svc" "$GW_TMP/gatewayd-notices.timer" >"$GW_TMP/verify.out" 2>&1
	check_eq "$?:$(grep -v 'notices.md\|Documentation' "$GW_TMP/verify.out")" "0:" \
		"systemd-analyze verify finds nothing wrong with gatewayd-notices.service and .timer"
	s=$(systemd-analyze security --offline=yes "$svc" 2>/dev/null | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	if [ -n "$s" ] && awk -v s="$s" 'BEGIN { exit !(s <= 2.0) }'; then
		ok "systemd-analyze security rates gatewayd-notices.service $s (at most 2.0)"
	else
		not_ok "systemd-analyze security rates gatewayd-notices.service '$s' (at most 2.0)"
	fi
else
	not_ok "systemd-analyze is installed (apt-get install systemd)"
fi
check_eq "$(grep -E '^(OnCalendar|Persistent|WantedBy)=' "$GW_TMP/gatewayd-notices.timer" | tr '\n' ';')" \
	"OnCalendar=hourly;Persistent=true;WantedBy=timers.target;" "the timer: hourly, runs a missed run at boot, wanted by timers.target"
# Its ExecStart as written (the environment file's GW_PG_CONNINFO, the
# password file as the credential), run as the operator's role.
cmd=$(sed -n 's/^ExecStart=//p' "$svc")
creds=$GW_TMP/creds
mkdir -p "$creds"
: >"$creds/pgpass"
chmod 600 "$creds/pgpass"
q "UPDATE notice_settings SET keep_days = 400" >/dev/null
q "INSERT INTO customer_notices (customer_account, day, kind, ref, figures, subject_vi, body_vi, subject_en, body_en)
   VALUES ('P-3', '$today'::date - 450, 'daily', '', '{}', 's', 'b', 's', 'b')" >/dev/null
run_unit() {
	env -i PATH=/usr/bin:/bin GW_PG_CONNINFO="host=$PGHOST port=$PGPORT dbname=meters user=op" \
		PGPASSFILE="$creds/pgpass" PGAPPNAME=gatewayd-notices \
		bash -c "${cmd//\$\{GW_PG_CONNINFO\}/\"\$GW_PG_CONNINFO\"}"
}
out=$(run_unit 2>&1)
rc=$?
if [ "$rc" = 0 ] && grep -q "^$(q "SELECT '$today'::date - 400")|1|3$" <<<"$out" &&
	[ "$(grep -c '^20[0-9-]*|[0-9]*|[0-9]*|[0-9]*|[0-9]*|[0-9]*|[0-9]*$' <<<"$out")" = 3 ]; then
	ok "the unit's ExecStart runs gw_notices_run() (three days) and gw_notices_prune() (1 notice, 3 deliveries)"
else
	not_ok "the unit's ExecStart runs gw_notices_run() and gw_notices_prune() (status $rc: $out)"
fi
q "REVOKE EXECUTE ON FUNCTION gw_notices_run(date) FROM gw_operator" >/dev/null
out=$(run_unit 2>&1)
rc=$?
q "GRANT EXECUTE ON FUNCTION gw_notices_run(date) TO gw_operator" >/dev/null
[ "$rc" != 0 ] && grep -q "permission denied for function gw_notices_run" <<<"$out" &&
	ok "a failing run fails the unit (exit $rc) with the server's message" ||
	not_ok "a failing run fails the unit (exit $rc: $out)"
finish
