#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/notices.sh - the customer notices of one day (schema 011,
# gw_notices_make) for GW_BENCH_ACCOUNTS accounts (default 100,000), one
# meter each, with GW_BENCH_DAYS days of meter_days (default 35) made
# directly in SQL in a private server: 100 gateways in Asia/Ho_Chi_Minh,
# about 1 % of the accounts with an unusual day, 1,000 ended outages on
# the day, the default tariff of 010 (so every daily notice has a bill).
#
#   baseline  what any maker of these notices must read: the accounts'
#             days of the usual-day window, summed per account and day
#             (CREATE TEMP TABLE ... AS, through meter_accounts), timed
#             before and after the runs
#   first     gw_notices_make(day): every notice and its three deliveries
#             written (auto_explain logs each statement of it that took
#             over 2 s, with its plan and rows; printed below)
#   second    the same day again: writes nothing (idempotent)
#
# Also: gw_bill_estimate() (010) called per account for GW_BENCH_BILLS
# accounts (default 2,000), the per-account form the set-based bill of
# 011 replaces, and a check that the notices' bills equal it.
# Target: the first run under 60 s at 100,000 accounts.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"

accounts=${GW_BENCH_ACCOUNTS:-100000}
days=${GW_BENCH_DAYS:-35}
bills=${GW_BENCH_BILLS:-2000}
day=2026-03-05
GW_PG_CONF=$'shared_buffers = 256MB\nmax_wal_size = 4GB\ncheckpoint_timeout = 30min\nwork_mem = 64MB\nsession_preload_libraries = \'auto_explain\'\nauto_explain.log_min_duration = 2000\nauto_explain.log_analyze = on\nauto_explain.log_timing = off\nauto_explain.log_nested_statements = on' \
	start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

t0=$(now)
psql -Xq -v ON_ERROR_STOP=1 <<EOF || { echo "bench: notices: the data could not be made"; exit 1; }
INSERT INTO gateways (gateway_id, timezone) SELECT 'gw-' || g, 'Asia/Ho_Chi_Minh' FROM generate_series(0, 99) g;
INSERT INTO meters (meter_id, gateway_id, first_day, last_day)
SELECT 'B-' || lpad(i::text, 6, '0'), 'gw-' || (i % 100), date '$day' - $days + 1, date '$day'
FROM generate_series(1, $accounts) i;
INSERT INTO meter_accounts (meter_id, customer_account)
SELECT 'B-' || lpad(i::text, 6, '0'), 'A-' || lpad(i::text, 6, '0') FROM generate_series(1, $accounts) i;
INSERT INTO meter_days (meter_id, day, import_wh, export_wh, quality, minutes_missing, registers, revision)
SELECT 'B-' || lpad(i::text, 6, '0'), d::date,
       (3000 + (i::bigint * 2654435761 + (d::date - date '2000-01-01') * 40503) % 9000)
         * CASE WHEN d::date = date '$day' AND i % 97 = 0 THEN 4 ELSE 1 END,
       0, 'measured', 0, 2, 0
FROM generate_series(1, $accounts) i, generate_series(date '$day' - $days + 1, date '$day', interval '1 day') d
ORDER BY 1, 2;
INSERT INTO meter_events (meter_id, ts, kind, obis, detail, gateway_id)
SELECT 'B-' || lpad((i * 89)::text, 6, '0'), ts, k, '', NULL, 'gw-' || ((i * 89) % 100)
FROM generate_series(1, least(1000, $accounts / 100)) i,
     LATERAL (VALUES (timestamptz '$day 03:00+00' + i * interval '1 second', 'power_outage'),
		     (timestamptz '$day 03:40+00' + i * interval '7 seconds', 'online')) e(ts, k);
VACUUM ANALYZE;
EOF
echo "# $accounts accounts x $days days made in $(secs "$t0" "$(now)") s ($(q "SELECT pg_size_pretty(pg_total_relation_size('meter_days'))") of meter_days)"

baseline() {
	local a b
	a=$(now)
	q "CREATE TEMP TABLE b AS SELECT a.customer_account, d.day, sum(d.import_wh) AS wh
		FROM meter_accounts a JOIN meter_days d ON d.meter_id = a.meter_id
		     AND d.day >= a.valid_from AND (a.valid_to IS NULL OR d.day < a.valid_to)
		WHERE d.day >= date '$day' - 30 AND d.day <= date '$day' GROUP BY 1, 2" >/dev/null
	b=$(now)
	secs "$a" "$b"
}
b1=$(baseline)
log=$GW_TMP/pg/postgres.log
mark=$(wc -l <"$log")
t1=$(now)
first=$(nice -n 10 psql -XqAt -v ON_ERROR_STOP=1 -c "SELECT * FROM gw_notices_make('$day')" 2>&1)
t2=$(now)
second=$(psql -XqAt -v ON_ERROR_STOP=1 -c "SELECT * FROM gw_notices_make('$day')" 2>&1)
t3=$(now)
b2=$(baseline)
run1=$(secs "$t1" "$t2")
run2=$(secs "$t2" "$t3")
echo "# first run:  $first (day|loaded|waiting|daily|unusual|correction|outage) in $run1 s"
echo "# second run: $second in $run2 s"
echo "# notices $(q "SELECT count(*) FROM customer_notices"), deliveries $(q "SELECT count(*) FROM notice_deliveries"); baseline $b1 s before, $b2 s after"
echo "# the statements of the runs that took over 2 s (auto_explain), then their plans (rows without timing):"
tail -n +"$((mark + 1))" "$log" | grep -A1 -E 'LOG:  duration: ' | grep -E 'duration: |Query Text: ' |
	sed 's/^.*LOG:  duration: \([0-9]*\)\.[0-9]* ms.*/\1 ms/; s/^[[:space:]]*Query Text: //' | paste -d' ' - - |
	cut -c1-110 | sed 's/^/#   /'
tail -n +"$((mark + 1))" "$log" | grep -E 'duration: |Query Text: |rows=' | grep -v 'Query Text: SELECT \* FROM gw_notices_make' |
	sed 's/^.*LOG:  duration/duration/; s/^/#   /' | cut -c1-160 | head -150

# The per-account bill of 010, and the notices' bills against it.
t4=$(now)
q "SELECT count(b.total) FROM generate_series(1, $bills) i, gw_bill_estimate('A-' || lpad(i::text, 6, '0'), '$day') b" >/dev/null
t5=$(now)
per=$(awk -v a="$t4" -v b="$t5" -v n="$bills" 'BEGIN { printf "%.3f", (b - a) * 1000 / n }')
echo "# gw_bill_estimate per account: $per ms ($bills calls; for $accounts accounts: $(awk -v p="$per" -v n="$accounts" 'BEGIN { printf "%.0f", p * n / 1000 }') s)"
diff=$(q "SELECT count(*) FROM customer_notices n WHERE n.kind = 'daily' AND n.notice_id % 50 = 0
	AND (n.figures->>'bill_total')::numeric IS DISTINCT FROM (SELECT total FROM gw_bill_estimate(n.customer_account, n.day))")
echo "# the notices' bills differing from gw_bill_estimate (every 50th daily notice): $diff"

mid=$(awk -v a="$b1" -v b="$b2" 'BEGIN { printf "%.2f", (a + b) / 2 }')
ratio=$(awk -v r="$run1" -v m="$mid" 'BEGIN { printf "%.1f", (m > 0 ? r / m : 0) }')
verdict=missed
awk -v r="$run1" -v a="$accounts" 'BEGIN { exit !(r < 60 && a >= 100000) }' && verdict=met
[ "$accounts" -lt 100000 ] && verdict="not judged (fewer than 100,000 accounts)"
echo "bench: notices_make: $run1 s for $accounts accounts (baseline read $mid s, ratio $ratio; second run $run2 s, target under 60 s): $verdict"
