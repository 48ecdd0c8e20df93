#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/pg_query.sh - what customers and analysts read, at the size of
# a year of a 10,000-meter concentrator, before and after schema 007
# (meter_days), side by side in one database of one private server.
#
#   1. A database at schema 006 gets GW_BENCH_METERS meters (default
#      10,000), each with GW_BENCH_DAYS days (default 365, ending a few
#      days ago) of three daily registers (1.8.0, 1.8.1, 2.8.0; 10.95
#      million rows at the defaults), two meters per customer account and
#      one meter that changes hands half way. The views and the function of
#      006 are copied under other names (daily_usage_006, monthly_usage_006,
#      customer_daily_usage_006, my_daily_usage_006): the baseline.
#   2. Migration 007 is applied to it (the back-fill of meter_days is
#      timed).
#   3. Each query runs in the 006 form and in the 007 form, paired
#      (alternating which goes first), GW_BENCH_ROUNDS times (default 3)
#      after one untimed warm-up, as an analyst and as the customer portal
#      (row-level security): a customer's year through customer_daily_usage
#      and my_daily_usage, and monthly_usage WHERE month = ... . Times are
#      psql's \timing (planning, execution, the rows to the client) of one
#      session per role; min/median/max and the ratio of medians are
#      printed, and EXPLAIN (ANALYZE, BUFFERS) of each 007 query (and the
#      plain EXPLAIN of the 006 form). A 006-form query is cut off after
#      GW_BENCH_OLD_CAP seconds (default 30; the portal's took about 150 s
#      each): its time then counts as the cap, and the ratio is an upper
#      bound.
#   4. The uploader's load of one day batch of all meters (96 readings x 3
#      registers a meter, `gwctl upload` as the gateway's role), with the
#      meter_days trigger disabled (006's load path) and enabled (007's),
#      paired, GW_BENCH_ROUNDS times; the batch is removed between runs.
#
# Targets: a customer's year <= 20 ms, a month of all meters <= 1 s.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
meters=${GW_BENCH_METERS:-10000}
days=${GW_BENCH_DAYS:-365}
rounds=${GW_BENCH_ROUNDS:-3}
cap=${GW_BENCH_OLD_CAP:-30} # seconds a 006-form query may run (statement_timeout)
[ -x "$gen" ] && [ -x "$gwctl" ] || { echo "bench: pg_query: $gen or $gwctl not built (make bench)"; exit 1; }

GW_PG_CONF=$'shared_buffers = 256MB\nmax_wal_size = 4GB\ncheckpoint_timeout = 30min\nwork_mem = 16MB' start_pg pg
export PGDATABASE=q
psql -XqAt -d postgres -c "CREATE DATABASE q" || exit 1
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1"; }
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# --- 1. schema 006 and a year of data ------------------------------------------
mkdir -p "$GW_TMP/schema006"
for f in "$GW_TOP"/schema/00[1-6]_*.sql; do ln -s "$f" "$GW_TMP/schema006/"; done
"$gwctl" db migrate --conninfo "host=$PGHOST port=$PGPORT dbname=q user=$PGUSER" \
	--schema-dir "$GW_TMP/schema006" >"$GW_TMP/migrate006.out" 2>&1 ||
	{ echo "bench: pg_query: migrating to 006 failed: $(tail -2 "$GW_TMP/migrate006.out")"; exit 1; }

last=$(q "SELECT current_date - 4")
first=$(q "SELECT date '$last' - $days + 1")
month=$(q "SELECT (date_trunc('month', date '$last') - interval '1 month')::date")
batch_day=$(q "SELECT current_date - 2")
echo "# $meters meters x $days days ($first .. $last), 3 registers a day"

t0=$(now)
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/gen.out" 2>&1 <<EOF || { echo "bench: pg_query: generating the year failed: $(tail -3 "$GW_TMP/gen.out")"; exit 1; }
-- valid by construction: no foreign key checks for the bulk of it
SET session_replication_role = replica;
INSERT INTO gateways (gateway_id, timezone) VALUES ('bench-gw', 'Asia/Ho_Chi_Minh');
INSERT INTO meters (meter_id, gateway_id, first_day, last_day)
SELECT 'M-bench-gw-' || lpad(i::text, 6, '0'), 'bench-gw', '$first', '$last'
FROM generate_series(1, $meters) i;
INSERT INTO meter_gateways (meter_id, valid_from, gateway_id, assigned_by)
SELECT meter_id, '-infinity', 'bench-gw', 'bench' FROM meters;
-- two meters an account: C-000001 holds meters 1 and 2, ...; meter 3
-- passes from C-000002 to C-900000 half way through the year
INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account)
SELECT 'M-bench-gw-' || lpad(i::text, 6, '0'), '-infinity',
       CASE WHEN i = 3 THEN date '$first' + $days / 2 END,
       'C-' || lpad(((i + 1) / 2)::text, 6, '0')
FROM generate_series(1, $meters) i;
INSERT INTO meter_accounts (meter_id, valid_from, customer_account)
VALUES ('M-bench-gw-000003', date '$first' + $days / 2, 'C-900000');
UPDATE meters m SET customer_account = a.customer_account
FROM meter_accounts a WHERE a.meter_id = m.meter_id AND a.valid_to IS NULL;
-- the registers (in the order the planner makes them: near enough to day
-- by day, as batches write them); some days
-- interpolated or estimated, some minutes missing
INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value, consumption,
			     quality, readings, minutes_missing, revision, gateway_id)
SELECT 'M-bench-gw-' || lpad(i::text, 6, '0'), d, o.obis, 'Wh',
       v, v + c, c,
       CASE WHEN (i + dn) % 23 = 0 AND o.r = 1 THEN 'interpolated'
	    WHEN (i * 7 + dn) % 101 = 0 THEN 'estimated' ELSE 'measured' END,
       96, CASE WHEN (i * 7 + dn) % 101 = 0 THEN 45 ELSE 0 END, 0, 'bench-gw'
FROM generate_series(0, $days - 1) dn
CROSS JOIN LATERAL (SELECT date '$first' + dn AS d) dd
CROSS JOIN generate_series(1, $meters) i
CROSS JOIN (VALUES (0, '1.8.0'), (1, '1.8.1'), (2, '2.8.0')) o(r, obis)
CROSS JOIN LATERAL (SELECT (i::bigint * 1000003 + o.r * 7919 + dn::bigint * (2400 + o.r * 960 + i % 7 * 96))::bigint AS v,
			   (2400 + o.r * 960 + i % 7 * 96 + (i + dn) % 500)::bigint AS c) x;
EOF
t1=$(now)
n_reg=$(q "SELECT count(*) FROM daily_registers")
echo "# generated $n_reg daily register rows in $(secs "$t0" "$t1") s"

# The baseline: 006's views and function under other names, reading
# daily_registers as 006 does (same row-level security, same grants).
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/old.out" 2>&1 <<'EOF' || { echo "bench: pg_query: the 006 copies failed: $(tail -3 "$GW_TMP/old.out")"; exit 1; }
CREATE VIEW daily_usage_006 WITH (security_invoker = true) AS
SELECT d.meter_id,
       d.day,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.0')::numeric / 1000)::numeric(19, 3) AS import_kwh,
       (max(d.consumption) FILTER (WHERE d.obis = '2.8.0')::numeric / 1000)::numeric(19, 3) AS export_kwh,
       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
           max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
                              d.quality::text))]::text AS quality,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.1')::numeric / 1000)::numeric(19, 3) AS import_t1_kwh,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.2')::numeric / 1000)::numeric(19, 3) AS import_t2_kwh,
       (max(d.consumption) FILTER (WHERE d.obis = '1.8.3')::numeric / 1000)::numeric(19, 3) AS import_t3_kwh,
       max(d.minutes_missing) AS minutes_missing
FROM daily_registers d
GROUP BY d.meter_id, d.day;
CREATE VIEW monthly_usage_006 WITH (security_invoker = true) AS
SELECT u.meter_id,
       date_trunc('month', u.day)::date AS month,
       count(*)::int AS days,
       sum(u.import_kwh)::numeric(19, 3) AS import_kwh,
       sum(u.export_kwh)::numeric(19, 3) AS export_kwh,
       sum(u.import_t1_kwh)::numeric(19, 3) AS import_t1_kwh,
       sum(u.import_t2_kwh)::numeric(19, 3) AS import_t2_kwh,
       sum(u.import_t3_kwh)::numeric(19, 3) AS import_t3_kwh,
       count(*) FILTER (WHERE u.quality <> 'measured')::int AS days_not_measured,
       (ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[
           max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'],
                              u.quality))]::text AS quality
FROM daily_usage_006 u
GROUP BY u.meter_id, date_trunc('month', u.day);
CREATE FUNCTION customer_daily_usage_006(p_account text, p_from date, p_to date)
RETURNS TABLE (meter_id text, day date, import_kwh numeric, export_kwh numeric,
	       import_t1_kwh numeric, import_t2_kwh numeric, import_t3_kwh numeric,
	       quality text)
LANGUAGE sql STABLE SECURITY INVOKER
SET search_path = pg_catalog, public
AS $$
	SELECT u.meter_id, u.day, u.import_kwh, u.export_kwh,
	       u.import_t1_kwh, u.import_t2_kwh, u.import_t3_kwh, u.quality
	FROM meter_accounts a
	JOIN daily_usage_006 u ON u.meter_id = a.meter_id
	     AND u.day >= a.valid_from AND (a.valid_to IS NULL OR u.day < a.valid_to)
	WHERE a.customer_account = p_account
	  AND u.day >= p_from AND u.day < p_to
	ORDER BY u.day, u.meter_id
$$;
CREATE VIEW my_daily_usage_006 WITH (security_invoker = true) AS
SELECT u.* FROM customer_daily_usage_006(gw_session_account(), '-infinity', 'infinity') u;
ALTER VIEW daily_usage_006 OWNER TO gw_owner;
ALTER VIEW monthly_usage_006 OWNER TO gw_owner;
ALTER VIEW my_daily_usage_006 OWNER TO gw_owner;
ALTER FUNCTION customer_daily_usage_006(text, date, date) OWNER TO gw_owner;
GRANT SELECT ON daily_usage_006, monthly_usage_006, my_daily_usage_006 TO analyst, customer_portal;
GRANT EXECUTE ON FUNCTION customer_daily_usage_006(text, date, date) TO analyst, customer_portal;
CREATE ROLE bench_ana LOGIN IN ROLE analyst;
CREATE ROLE bench_portal LOGIN IN ROLE customer_portal;
CREATE ROLE bench_gw LOGIN IN ROLE gw_uploader;
SELECT gw_register_gateway('bench-gw', 'bench_gw', 'Asia/Ho_Chi_Minh');
EOF

# --- 2. migration 007 and its back-fill -------------------------------------
q "VACUUM ANALYZE" >/dev/null
q "CHECKPOINT" >/dev/null
t0=$(now)
"$gwctl" db migrate --conninfo "host=$PGHOST port=$PGPORT dbname=q user=$PGUSER" \
	--schema-dir "$GW_TOP/schema" >"$GW_TMP/migrate007.out" 2>&1 ||
	{ echo "bench: pg_query: migration 007 failed: $(tail -2 "$GW_TMP/migrate007.out")"; exit 1; }
t1=$(now)
n_days=$(q "SELECT count(*) FROM meter_days")
echo "bench: pg_query_migrate_007_s: $(secs "$t0" "$t1") (back-fill of $n_days meter days from $n_reg register rows; baseline none, target none): met"
q "VACUUM ANALYZE meter_days" >/dev/null
same=$(q "SELECT count(*) FROM (SELECT * FROM daily_usage EXCEPT SELECT * FROM daily_usage_006) x")
echo "bench: pg_query_backfill_equal: $same rows of daily_usage differ from 006's (baseline 0, target 0): $([ "$same" = 0 ] && echo met || echo missed)"
echo "# sizes: daily_registers $(q "SELECT pg_size_pretty(pg_total_relation_size('daily_registers'))"), meter_days $(q "SELECT pg_size_pretty(pg_total_relation_size('meter_days'))") (with its indexes)"

# --- 3. the queries, paired --------------------------------------------------
acct=C-000002 # meters 3 (until half way) and 4
year="'$first', date '$last' + 1"
# The body of customer_daily_usage_006 (a function with SET search_path,
# so never inlined: EXPLAIN of a call shows only "Function Scan"), for
# the plan of the 006 form.
body="SELECT u.meter_id, u.day, u.import_kwh, u.export_kwh, u.import_t1_kwh, u.import_t2_kwh, u.import_t3_kwh, u.quality FROM meter_accounts a JOIN daily_usage_006 u ON u.meter_id = a.meter_id AND u.day >= a.valid_from AND (a.valid_to IS NULL OR u.day < a.valid_to)"
body_acct="$body WHERE a.customer_account = '$acct' AND u.day >= '$first' AND u.day < date '$last' + 1 ORDER BY u.day, u.meter_id"
body_my="$body WHERE a.customer_account = gw_session_account() AND u.day >= '-infinity' AND u.day < 'infinity' ORDER BY u.day, u.meter_id"
# name|role|setup|006 form|007 form|target ms|what EXPLAIN shows of the 006 form
cat >"$GW_TMP/queries" <<EOF
customer_year_analyst|bench_ana||SELECT * FROM customer_daily_usage_006('$acct', $year)|SELECT * FROM customer_daily_usage('$acct', $year)|20|$body_acct
customer_year_portal|bench_portal|SET gw.customer_account = '$acct';|SELECT * FROM customer_daily_usage_006('$acct', $year)|SELECT * FROM customer_daily_usage('$acct', $year)|20|$body_acct
my_year_portal|bench_portal|SET gw.customer_account = '$acct';|SELECT * FROM my_daily_usage_006 WHERE day >= '$first' AND day <= '$last'|SELECT * FROM my_daily_usage WHERE day >= '$first' AND day <= '$last'|20|$body_my
month_all_analyst|bench_ana||SELECT * FROM monthly_usage_006 WHERE month = '$month'|SELECT * FROM monthly_usage WHERE month = '$month'|1000|SELECT * FROM monthly_usage_006 WHERE month = '$month'
month_portal|bench_portal|SET gw.customer_account = '$acct';|SELECT * FROM monthly_usage_006 WHERE month = '$month'|SELECT * FROM monthly_usage WHERE month = '$month'|1000|SELECT * FROM monthly_usage_006 WHERE month = '$month'
EOF

# stats FILE: "min median max" of the numbers in FILE
stats() { sort -g "$1" | awk '{ v[NR] = $1 } END { printf "%.2f %.2f %.2f", v[1], (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2), v[NR] }'; }

while IFS='|' read -r name role setup old new target old_plan; do
	# The rows must be the same in both forms.
	a=$(psql -XqAt -U "$role" -c "SET statement_timeout = '${cap}s'; $setup SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ($old) x" 2>&1)
	b=$(psql -XqAt -U "$role" -c "$setup SELECT md5(string_agg(x::text, ',' ORDER BY x::text)) FROM ($new) x" 2>&1 | tail -1)
	n=$(psql -XqAt -U "$role" -c "$setup SELECT count(*) FROM ($new) x" 2>&1 | tail -1)
	case "$a" in
	*"canceling statement due to statement timeout"*) echo "# $name: rows not compared (the 006 form did not finish within $cap s)" ;;
	"$b") echo "# $name: the 006 and 007 forms return the same $n rows" ;;
	*) echo "bench: pg_query_${name}_same_rows: the 006 and 007 forms differ ($a / $b) (baseline 006, target equal): missed" ;;
	esac
	# One session: a warm-up of the 007 form (the 006 form, seconds long,
	# was just run for the check above), then the rounds, alternating.
	{
		echo "SET statement_timeout = '${cap}s';"
		echo "$setup"
		echo "\\o /dev/null"
		echo "$new;"
		echo "\\timing on"
		for r in $(seq 1 "$rounds"); do
			if [ $((r % 2)) = 1 ]; then echo "$old;"; echo "$new;"; else echo "$new;"; echo "$old;"; fi
		done
	} >"$GW_TMP/$name.sql"
	psql -Xq -U "$role" -f "$GW_TMP/$name.sql" >"$GW_TMP/$name.out" 2>&1
	grep -o '^Time: [0-9.]*' "$GW_TMP/$name.out" | awk '{ print $2 }' >"$GW_TMP/$name.t"
	cut=$(grep -c "canceling statement due to statement timeout" "$GW_TMP/$name.out")
	other=$(grep "ERROR" "$GW_TMP/$name.out" | grep -vc "statement timeout")
	if [ "$other" != 0 ] || [ "$(wc -l <"$GW_TMP/$name.t")" != $((2 * rounds)) ]; then
		echo "bench: pg_query_$name: did not run: $(grep ERROR "$GW_TMP/$name.out" | head -2)"
		continue
	fi
	# odd rounds: old, new; even rounds: new, old
	awk '{ r = int((NR + 1) / 2); first = (NR % 2 == 1); old = (r % 2 == 1) ? first : !first; print > (old ? "'"$GW_TMP/$name.old"'" : "'"$GW_TMP/$name.new"'") }' "$GW_TMP/$name.t"
	read -r omin omed omax <<<"$(stats "$GW_TMP/$name.old")"
	read -r nmin nmed nmax <<<"$(stats "$GW_TMP/$name.new")"
	ratio=$(awk -v a="$nmed" -v b="$omed" 'BEGIN { printf "%.5f", a / b }')
	verdict=$(awk -v a="$nmed" -v t="$target" 'BEGIN { print (a <= t ? "met" : "missed") }')
	if [ "$cut" != 0 ]; then
		echo "# $name ($role, $n rows): 006 min/median/max >= $omin/$omed/$omax ms ($cut of $rounds runs cut off at $cap s); 007 $nmin/$nmed/$nmax ms"
		echo "bench: pg_query_${name}_ms: $nmed (baseline 006 form >= $omed ms, cut off, ratio < $ratio, target <= $target ms): $verdict"
	else
		echo "# $name ($role, $n rows): 006 min/median/max $omin/$omed/$omax ms; 007 $nmin/$nmed/$nmax ms"
		echo "bench: pg_query_${name}_ms: $nmed (baseline 006 form $omed ms, ratio $ratio, target <= $target ms): $verdict"
	fi
	echo "# EXPLAIN (ANALYZE, BUFFERS) of the 007 form:"
	psql -XqAt -U "$role" -c "$setup EXPLAIN (ANALYZE, BUFFERS) $new" 2>&1 | sed 's/^/#   /'
	echo "# EXPLAIN of the 006 form ($old_plan):"
	psql -XqAt -U "$role" -c "$setup EXPLAIN $old_plan" 2>&1 | sed 's/^/#   /'
done <"$GW_TMP/queries"

# --- 4. the uploader's day batch, without and with the trigger ----------------
"$gen" --gateway bench-gw --meters "$meters" --day "$batch_day" "$GW_TMP/spool" >/dev/null || exit 1
triggers="meter_days_ins meter_days_upd meter_days_del meter_days_trunc"
set_triggers() { for t in $triggers; do q "ALTER TABLE daily_registers $1 TRIGGER $t"; done; }
unload() {
	set_triggers ENABLE
	q "DELETE FROM daily_registers WHERE day = '$batch_day' AND meter_id IN (SELECT 'M-bench-gw-' || lpad(i::text, 6, '0') FROM generate_series(1, $meters) i); DELETE FROM meter_events WHERE gateway_id = 'bench-gw' AND ts >= '$batch_day'::date - 1; DELETE FROM batch_ledger WHERE day = '$batch_day'; TRUNCATE interval_readings; CHECKPOINT" >/dev/null
}
: >"$GW_TMP/up.old"
: >"$GW_TMP/up.new"
upload_once() { # FORM
	unload
	[ "$1" = old ] && set_triggers DISABLE
	mv "$GW_TMP"/spool/done/*.gwb "$GW_TMP/spool/ready/" 2>/dev/null
	q "CHECKPOINT" >/dev/null
	local t0 t1
	t0=$(now)
	"$gwctl" upload --conninfo "host=$PGHOST port=$PGPORT dbname=q user=bench_gw" "$GW_TMP/spool" >"$GW_TMP/upl.out" 2>&1 ||
		{ echo "bench: pg_query: gwctl upload failed: $(tail -2 "$GW_TMP/upl.out")"; exit 1; }
	t1=$(now)
	local got
	got=$(q "SELECT count(*) FROM daily_registers WHERE day = '$batch_day'")/$(q "SELECT count(*) FROM meter_days WHERE day = '$batch_day'")
	echo "# upload ($1): $(secs "$t0" "$t1") s, $got daily register rows / meter days"
	awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) * 1000 }' >>"$GW_TMP/up.$1"
}
for r in $(seq 1 "$rounds"); do
	if [ $((r % 2)) = 1 ]; then upload_once old; upload_once new; else upload_once new; upload_once old; fi
done
set_triggers ENABLE
read -r omin omed omax <<<"$(stats "$GW_TMP/up.old")"
read -r nmin nmed nmax <<<"$(stats "$GW_TMP/up.new")"
echo "# upload of a day of $meters meters: without the trigger min/median/max $omin/$omed/$omax ms; with it $nmin/$nmed/$nmax ms"
ratio=$(awk -v a="$nmed" -v b="$omed" 'BEGIN { printf "%.3f", a / b }')
echo "bench: pg_query_upload_day_ms: $nmed (baseline without meter_days $omed ms, ratio $ratio, target <= 1.10): $(awk -v r="$ratio" 'BEGIN { print (r <= 1.10 ? "met" : "missed") }')"
