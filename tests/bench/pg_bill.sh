#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/pg_bill.sh - the month-to-date bill (schema 010) against the
# plain read of the same month's energy, side by side in one database of
# one private server.
#
#   1. GW_BENCH_ACCOUNTS accounts (default 100,000), one meter each, with
#      the days of a month that crosses a price change (October 2024, EVN's
#      change of the 11th) written straight into meter_days (the bench
#      measures reading them, not the trigger that keeps them).
#   2. All accounts at once, as the notices would: gw_bill_estimates() of
#      every account through the 20th, against the baseline, the same
#      accounts' energy to the 20th summed from meter_accounts and
#      meter_days (what monthly_usage would read). Paired, alternating
#      which goes first, GW_BENCH_ROUNDS times (default 3) after a warm-up.
#   3. One account at a time, as the portal would: GW_BENCH_SINGLE
#      (default 200) different accounts, each gw_bill_estimate() and
#      gw_bill_lines() (the portal's query), against customer_daily_usage()
#      of the same days, in one session each, paired the same way.
# Times are psql's \timing (planning, execution, rows to the client);
# min/median/max and the ratio of the medians are printed.
#
# Targets: all accounts <= 20 x the plain read; one account <= 10 x.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"
. "$(dirname "$0")/common.bash"

accounts=${GW_BENCH_ACCOUNTS:-100000}
rounds=${GW_BENCH_ROUNDS:-3}
single=${GW_BENCH_SINGLE:-200}

GW_PG_CONF=$'shared_buffers = 256MB\nmax_wal_size = 4GB\nwork_mem = 16MB' start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }

echo "# $accounts accounts x 31 days (October 2024, prices changed on the 11th)"
t0=$(now)
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/gen.out" 2>&1 <<EOF || { echo "bench: pg_bill: generating the month failed: $(tail -3 "$GW_TMP/gen.out")"; exit 1; }
SET session_replication_role = replica;
INSERT INTO gateways (gateway_id, timezone) VALUES ('bench-gw', 'Asia/Ho_Chi_Minh');
INSERT INTO meters (meter_id, gateway_id)
SELECT 'M-' || lpad(i::text, 6, '0'), 'bench-gw' FROM generate_series(1, $accounts) i;
INSERT INTO meter_accounts (meter_id, valid_from, customer_account)
SELECT 'M-' || lpad(i::text, 6, '0'), '-infinity', 'C-' || lpad(i::text, 6, '0')
FROM generate_series(1, $accounts) i;
INSERT INTO meter_days (meter_id, day, import_wh, quality, minutes_missing, registers, revision)
SELECT 'M-' || lpad(i::text, 6, '0'), d::date, 3000 + (i * 37 + extract(day FROM d)::int * 101) % 12000,
       'measured', 0, 1, 1
FROM generate_series(1, $accounts) i, generate_series(date '2024-10-01', date '2024-10-31', interval '1 day') d;
SET session_replication_role = origin;
VACUUM ANALYZE meter_accounts;
VACUUM ANALYZE meter_days;
EOF
echo "# generated in $(awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "%.0f", b - a }') s"

# timed NAME SQL-FILE: runs the file in one psql session with \timing and
# appends the sum of its statements' times (ms) to $GW_TMP/NAME.ms
timed() {
	{ echo '\timing on'; cat "$2"; } | psql -XqAt -v ON_ERROR_STOP=1 -o /dev/null 2>&1 |
		awk '/^Time: / { s += $2 } END { print s }' >>"$GW_TMP/$1.ms"
}
# pair BASE NEW: rounds of both, alternating which goes first, after a warm-up
pair() {
	local i
	timed warm "$GW_TMP/$1.sql"
	timed warm "$GW_TMP/$2.sql"
	for i in $(seq 1 "$rounds"); do
		if [ $((i % 2)) = 1 ]; then
			timed "$1" "$GW_TMP/$1.sql"
			timed "$2" "$GW_TMP/$2.sql"
		else
			timed "$2" "$GW_TMP/$2.sql"
			timed "$1" "$GW_TMP/$1.sql"
		fi
	done
}
# report NAME BASE NEW TARGET
report() {
	local b n r
	read -r _ b _ <<<"$(mmm "$GW_TMP/$2.ms")"
	read -r _ n _ <<<"$(mmm "$GW_TMP/$3.ms")"
	r=$(awk -v b="$b" -v n="$n" 'BEGIN { printf "%.2f", n / b }')
	echo "# $2 ms: $(mmm "$GW_TMP/$2.ms") (min median max); $3 ms: $(mmm "$GW_TMP/$3.ms")"
	echo "bench: pg_bill: $1: $n ms (baseline $b ms, ratio $r, target $4): $(awk -v r="$r" -v t="$4" 'BEGIN { print (r <= t ? "met" : "missed") }')"
}

cat >"$GW_TMP/all_base.sql" <<'EOF'
SELECT count(*), sum(s) FROM (SELECT a.customer_account, sum(d.import_wh) AS s
	FROM meter_accounts a JOIN meter_days d ON d.meter_id = a.meter_id
	 AND d.day >= greatest(a.valid_from, '2024-10-01') AND d.day <= '2024-10-20'
	 AND (a.valid_to IS NULL OR d.day < a.valid_to)
	GROUP BY a.customer_account) x;
EOF
cat >"$GW_TMP/all_bill.sql" <<'EOF'
SELECT count(*), sum(b.total) FROM (SELECT array_agg(DISTINCT customer_account) AS x FROM meter_accounts) a,
	gw_bill_estimates(a.x, '2024-10-20') b;
EOF
pair all_base all_bill
check_total=$(q "SELECT count(*) FROM (SELECT array_agg(DISTINCT customer_account) AS x FROM meter_accounts) a, gw_bill_estimates(a.x, '2024-10-20') b WHERE b.total > 0")
echo "# bills with a total: $check_total of $accounts"
report "all $accounts accounts' bills through the 20th" all_base all_bill 20

step=$((accounts / single))
[ "$step" -ge 1 ] || step=1
: >"$GW_TMP/one_base.sql"
: >"$GW_TMP/one_bill.sql"
for i in $(seq 1 "$step" "$accounts" | head -n "$single"); do
	a=C-$(printf '%06d' "$i")
	echo "SELECT * FROM customer_daily_usage('$a', '2024-10-01', '2024-10-21');" >>"$GW_TMP/one_base.sql"
	echo "SELECT * FROM gw_bill_estimate('$a', '2024-10-20'); SELECT * FROM gw_bill_lines('$a', '2024-10-20');" >>"$GW_TMP/one_bill.sql"
done
pair one_base one_bill
report "$single single accounts' bill and lines (the portal's query)" one_base one_bill 10
