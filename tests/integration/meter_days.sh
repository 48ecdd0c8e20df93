#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/meter_days.sh - schema 007 against a real PostgreSQL:
# meter_days (one row per meter and local day) follows daily_registers in
# the loader's own transaction, through first loads, revisions, late older
# revisions, failed batches, held data released by an operator, repairs,
# and two writers of the same meter's day at once; migration 007 back-fills
# it on a database loaded under 006 and is applied once; daily_usage,
# monthly_usage, customer_daily_usage and my_daily_usage keep their
# columns; row-level security covers meter_days and every path to it.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
start_pg pg
q() { psql -XqAt -v ON_ERROR_STOP=1 -c "$1" 2>&1; }

# What 006's daily_usage computed, in Wh, from daily_registers: meter_days
# must hold exactly this, always.
ref="SELECT meter_id, day,
	max(consumption) FILTER (WHERE obis = '1.8.0'), max(consumption) FILTER (WHERE obis = '2.8.0'),
	max(consumption) FILTER (WHERE obis = '1.8.1'), max(consumption) FILTER (WHERE obis = '1.8.2'),
	max(consumption) FILTER (WHERE obis = '1.8.3'),
	(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'])[max(array_position(ARRAY['measured', 'interpolated', 'estimated', 'incomplete'], quality::text))],
	max(minutes_missing), count(*)::smallint, max(revision)
	FROM daily_registers GROUP BY meter_id, day"
mine="SELECT meter_id, day, import_wh, export_wh, import_t1_wh, import_t2_wh, import_t3_wh,
	quality::text, minutes_missing, registers, revision FROM meter_days"
# days_match DB DESC: meter_days equals the registers' aggregate, row for row
days_match() {
	local diff n
	diff=$(psql -d "$1" -XqAt -c "SELECT count(*) FROM (($ref EXCEPT $mine) UNION ALL ($mine EXCEPT $ref)) x" 2>&1)
	n=$(psql -d "$1" -XqAt -c "SELECT count(*) FROM meter_days" 2>&1)
	if [ "$diff" = 0 ] && [ "$n" -gt 0 ] 2>/dev/null; then
		ok "$2 ($n days)"
	else
		not_ok "$2 (rows differing: $diff, meter days: $n)"
	fi
}

# --- migration 007 on a database loaded under 006 ---------------------------
psql -XqAt -d postgres -c "CREATE DATABASE m6" >/dev/null
mkdir -p "$GW_TMP/schema006"
for f in "$GW_TOP"/schema/00[1-6]_*.sql; do ln -s "$f" "$GW_TMP/schema006/"; done
ci6="host=$PGHOST port=$PGPORT dbname=m6 user=$PGUSER"
check_cmd "a database migrated to 006" "$gwctl" db migrate --conninfo "$ci6" --schema-dir "$GW_TMP/schema006"
psql -d m6 -XqAt -c "UPDATE gw_limits SET history_days = current_date - date '2025-01-01'" >/dev/null
"$gen" --gateway gw-old --prefix O- --meters 4 --days 5 "$GW_TMP/s6" >/dev/null
check_cmd "a 006 database loads five days of four meters" "$gwctl" upload --conninfo "$ci6" "$GW_TMP/s6"
psql -d m6 -XqAt -c "UPDATE daily_registers SET quality = 'estimated', minutes_missing = 90 WHERE meter_id = 'O-000002' AND day = '2026-03-03' AND obis = '2.8.0'" >/dev/null
psql -d m6 -XqAt -c "CREATE TABLE usage_006 AS SELECT * FROM daily_usage; CREATE TABLE monthly_006 AS SELECT * FROM monthly_usage" >/dev/null
check_cmd "migration 007 applies to it" "$gwctl" db migrate --conninfo "$ci6" --schema-dir "$GW_TOP/schema"
days_match m6 "007 back-fills meter_days from the registers loaded under 006"
check_eq "$(psql -d m6 -XqAt -c "SELECT count(*) FROM ((SELECT * FROM daily_usage EXCEPT SELECT * FROM usage_006) UNION ALL (SELECT * FROM usage_006 EXCEPT SELECT * FROM daily_usage)) x")/$(psql -d m6 -XqAt -c "SELECT count(*) FROM usage_006")" \
	"0/20" "daily_usage shows after 007 exactly what it showed before (20 meter days)"
check_eq "$(psql -d m6 -XqAt -c "SELECT count(*) FROM ((SELECT * FROM monthly_usage EXCEPT SELECT * FROM monthly_006) UNION ALL (SELECT * FROM monthly_006 EXCEPT SELECT * FROM monthly_usage)) x")" \
	0 "monthly_usage shows after 007 exactly what it showed before"
check_eq "$(psql -d m6 -XqAt -c "SELECT quality || '/' || minutes_missing FROM daily_usage WHERE meter_id = 'O-000002' AND day = '2026-03-03'")" \
	"estimated/90" "the worst register's quality and minutes make the day's"
"$gwctl" db migrate --conninfo "$ci6" --schema-dir "$GW_TOP/schema" >"$GW_TMP/again.out" 2>&1
check_eq "$?/$(psql -d m6 -XqAt -c "SELECT count(*) FROM schema_migrations WHERE version = 7")/$(psql -d m6 -XqAt -c "SELECT count(*) FROM meter_days")" \
	"0/1/20" "migrating again applies nothing and changes nothing"

# --- the loader keeps meter_days in its transaction -----------------------------
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/roles.out" 2>&1 <<'EOF' || not_ok "create the test roles"
CREATE ROLE gw_a LOGIN IN ROLE gw_uploader;
CREATE ROLE ana LOGIN IN ROLE analyst;
CREATE ROLE portal LOGIN IN ROLE customer_portal;
CREATE ROLE op1 LOGIN IN ROLE gw_operator;
SELECT gw_register_gateway('gw-a', 'gw_a', 'Asia/Ho_Chi_Minh');
SELECT gw_assign_meter('A-00000' || i, 'gw-a') FROM generate_series(1, 3) i;
EOF
ci_a="host=$PGHOST port=$PGPORT dbname=meters user=gw_a"
"$gen" --gateway gw-a --prefix A- --meters 3 --days 3 --events "$GW_TMP/sa" >/dev/null
check_cmd "gw_a loads three days of its three meters" "$gwctl" upload --conninfo "$ci_a" "$GW_TMP/sa"
check_eq "$(q "SELECT count(*) || '/' || sum(registers) || '/' || count(*) FILTER (WHERE quality = 'measured' AND import_wh > 0 AND export_wh > 0 AND import_t1_wh > 0 AND import_t2_wh IS NULL) FROM meter_days")" \
	"9/27/9" "each meter day is one row of its three registers (1.8.0, 2.8.0, 1.8.1; no 1.8.2)"
days_match meters "meter_days equals the registers after the first loads"

# stage_sql DAY REVISION ROWS...: a hand-made batch of gw-a (daily rows only)
# as the gateway's role, begun and ended; each ROW is
# "meter|obis|start|end|consumption|quality|minutes".
stage_sql() {
	local day=$1 rev=$2 r m o s e c ql mm vals=""
	shift 2
	for r in "$@"; do
		IFS='|' read -r m o s e c ql mm <<<"$r"
		vals="$vals, ('d', '$m', '$o', 'Wh', NULL::date, $s, $e, $c, '$ql', 96, $mm, NULL::bigint)"
	done
	cat <<EOF
BEGIN;
SELECT gw_stage_open();
INSERT INTO pg_temp.gw_stage (k, meter_id, obis, unit, day, v1, v2, v3, quality, n1, n2, n3) VALUES
	('b', 'gw-a', 'Asia/Ho_Chi_Minh', NULL, '$day', $rev, 7, 0, NULL, $#, 0, 0),
	('m', 'A-000001', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)$vals;
SELECT status FROM gw_begin_batch(false);
SELECT gw_end_batch();
EOF
}
as_a() { psql "$ci_a" -XqAt -v ON_ERROR_STOP=1 -c "$1" >"$GW_TMP/as.out" 2>&1; }
day_of() { q "SELECT coalesce(import_wh, -1) || '/' || coalesce(export_wh, -1) || '/' || coalesce(import_t2_wh, -1) || '/' || quality || '/' || minutes_missing || '/' || registers || '/' || revision FROM meter_days WHERE meter_id = '$1' AND day = '$2'"; }

before=$(day_of A-000001 2026-03-02)
if as_a "$(stage_sql 2026-03-02 1 'A-000001|1.8.0|100|1100|1000|interpolated|0' 'A-000001|1.8.2|5|45|40|measured|0') ROLLBACK"; then
	check_eq "$(day_of A-000001 2026-03-02)" "$before" "a revision rolled back leaves the day's row as it was"
else
	not_ok "a revision rolled back leaves the day's row as it was ($(head -c 300 "$GW_TMP/as.out"))"
fi
check_eq "$(as_a "$(stage_sql 2026-03-02 1 'A-000001|1.8.0|100|1100|1000|interpolated|0' 'A-000001|1.8.2|5|45|40|measured|0' 'A-000001|3.8.0|0|7|7|incomplete|30') COMMIT" && grep -xE 'applied|duplicate' "$GW_TMP/as.out")/$(day_of A-000001 2026-03-02)" \
	"applied/1000/$(cut -d/ -f2 <<<"$before")/40/incomplete/30/5/1" \
	"revision 1 replaces its registers in the day's row; a register it adds (1.8.2) appears; the worst quality (3.8.0 incomplete) is the day's"
# A later revision wins; an older one arriving late changes nothing.
as_a "$(stage_sql 2026-03-02 3 'A-000001|1.8.0|100|1300|1200|measured|0' 'A-000001|3.8.0|0|7|7|measured|0') COMMIT" ||
	not_ok "revision 3 loads ($(head -c 300 "$GW_TMP/as.out"))"
as_a "$(stage_sql 2026-03-02 2 'A-000001|1.8.0|100|9100|9000|estimated|60') COMMIT" ||
	not_ok "revision 2 loads late ($(head -c 300 "$GW_TMP/as.out"))"
check_eq "$(day_of A-000001 2026-03-02)" "1200/$(cut -d/ -f2 <<<"$before")/40/measured/0/5/3" \
	"revision 3 replaces the day; revision 2 arriving after it changes nothing"
days_match meters "meter_days equals the registers after the revisions"
# A batch whose transaction fails leaves no day row behind.
if as_a "$(stage_sql 2026-03-10 0 'A-000001|1.8.0|0|10|10|measured|0') SELECT 1/0; COMMIT"; then
	not_ok "a failed batch is rolled back"
else
	check_eq "$(q "SELECT count(*) FROM meter_days WHERE day = '2026-03-10'")/$(q "SELECT count(*) FROM batch_ledger WHERE day = '2026-03-10'")" \
		"0/0" "a batch whose transaction fails leaves neither its ledger row nor its day rows"
fi
# The same batch again: loaded exactly once, its day row with it.
as_a "$(stage_sql 2026-03-10 0 'A-000001|1.8.0|0|10|10|measured|0') COMMIT" || not_ok "the batch loads ($(head -c 300 "$GW_TMP/as.out"))"
as_a "$(stage_sql 2026-03-10 0 'A-000001|1.8.0|0|10|10|measured|0') COMMIT"
check_eq "$(grep -xE 'applied|duplicate' "$GW_TMP/as.out")/$(day_of A-000001 2026-03-10)" "duplicate/10/-1/-1/measured/0/1/0" \
	"a batch loaded twice is a duplicate; its day row is there once"

# --- held data released by an operator ------------------------------------------
"$gen" --gateway gw-a --prefix H- --meters 1 --day 2026-03-05 "$GW_TMP/sh" >/dev/null
"$gwctl" upload --conninfo "$ci_a" "$GW_TMP/sh" >"$GW_TMP/held.out" 2>&1
check_eq "$(q "SELECT count(*) FROM held_daily_registers WHERE meter_id = 'H-000001'")/$(q "SELECT count(*) FROM meter_days WHERE meter_id = 'H-000001'")" \
	"3/0" "the registers of a meter not assigned to the gateway are held, with no day row"
q "SELECT gw_assign_meter('H-000001', 'gw-a')" >/dev/null
check_eq "$(day_of H-000001 2026-03-05 | cut -d/ -f4-7)" "measured/0/3/0" "assigning the meter releases its held day into meter_days"

# --- repairs by the owner: delete, move, truncate -------------------------------
q "DELETE FROM daily_registers WHERE meter_id = 'A-000002' AND day = '2026-03-03'" >/dev/null
q "DELETE FROM daily_registers WHERE meter_id = 'A-000003' AND day = '2026-03-03' AND obis = '2.8.0'" >/dev/null
check_eq "$(q "SELECT count(*) FROM meter_days WHERE meter_id = 'A-000002' AND day = '2026-03-03'")/$(day_of A-000003 2026-03-03 | cut -d/ -f2,6)" \
	"0/-1/2" "deleting a day's registers deletes its row; deleting one register updates it"
q "UPDATE daily_registers SET day = '2026-03-09' WHERE meter_id = 'A-000003' AND day = '2026-03-03'" >/dev/null
check_eq "$(q "SELECT count(*) FROM meter_days WHERE meter_id = 'A-000003' AND day = '2026-03-03'")/$(day_of A-000003 2026-03-09 | cut -d/ -f6)" \
	"0/2" "moving a day's registers to another day moves its row"
days_match meters "meter_days equals the registers after the repairs"

# --- two writers of one meter's day at once -------------------------------------
# The first holds its transaction open after writing 1.8.0; the second
# writes 1.8.2 of the same day and must wait for it, then see it.
mkfifo "$GW_TMP/t1"
psql -XqAt -v ON_ERROR_STOP=1 <"$GW_TMP/t1" >"$GW_TMP/t1.out" 2>&1 &
t1=$!
track_pid $t1
exec 3>"$GW_TMP/t1"
echo "BEGIN; INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value, consumption, quality, readings, minutes_missing, revision, gateway_id) VALUES ('A-000002', '2026-03-20', '1.8.0', 'Wh', 0, 500, 500, 'measured', 96, 0, 0, 'gw-a'); SELECT 'T1 wrote';" >&3
wait_for 20 grep -q "T1 wrote" "$GW_TMP/t1.out" || not_ok "the first writer wrote"
psql -XqAt -v ON_ERROR_STOP=1 -c "INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value, consumption, quality, readings, minutes_missing, revision, gateway_id) VALUES ('A-000002', '2026-03-20', '1.8.2', 'Wh', 0, 70, 70, 'estimated', 96, 0, 0, 'gw-a')" >"$GW_TMP/t2.out" 2>&1 &
t2=$!
track_pid $t2
t2_waits() { [ "$(q "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO daily_registers%'")" = 1 ]; }
if wait_for 20 t2_waits; then
	ok "the second writer of the meter's day waits for the first"
else
	not_ok "the second writer of the meter's day waits for the first"
fi
echo "COMMIT;" >&3
exec 3>&-
wait $t1
wait $t2 || not_ok "the second writer committed ($(cat "$GW_TMP/t2.out"))"
check_eq "$(day_of A-000002 2026-03-20)" "500/-1/70/estimated/0/2/0" "the day's row holds both writers' registers"

# --- the views keep their columns -----------------------------------------------
cols() { q "SELECT string_agg(column_name || ' ' || data_type, ', ' ORDER BY ordinal_position) FROM information_schema.columns WHERE table_name = '$1'"; }
check_eq "$(cols daily_usage)" \
	"meter_id text, day date, import_kwh numeric, export_kwh numeric, quality text, import_t1_kwh numeric, import_t2_kwh numeric, import_t3_kwh numeric, minutes_missing integer" \
	"daily_usage has 006's columns in 006's order"
check_eq "$(cols monthly_usage)" \
	"meter_id text, month date, days integer, import_kwh numeric, export_kwh numeric, import_t1_kwh numeric, import_t2_kwh numeric, import_t3_kwh numeric, days_not_measured integer, quality text" \
	"monthly_usage has 006's columns in 006's order"
check_eq "$(cols my_daily_usage)" \
	"meter_id text, day date, import_kwh numeric, export_kwh numeric, import_t1_kwh numeric, import_t2_kwh numeric, import_t3_kwh numeric, quality text" \
	"my_daily_usage has 006's columns in 006's order"
check_eq "$(q "SELECT import_kwh || '/' || import_t2_kwh || '/' || quality FROM daily_usage WHERE meter_id = 'A-000001' AND day = '2026-03-02'")" \
	"1.200/0.040/measured" "daily_usage shows the day in kWh with three decimals"
check_eq "$(q "SELECT days || '/' || import_t2_kwh || '/' || days_not_measured FROM monthly_usage WHERE meter_id = 'A-000001' AND month = '2026-03-01'")" \
	"4/0.040/0" "monthly_usage sums the days of the month"

# --- row-level security over meter_days and every view on it --------------------
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/acct.out" 2>&1 <<'EOF' || not_ok "set up meter_accounts"
INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account) VALUES
	('A-000001', '-infinity', '2026-03-02', 'C-1'),
	('A-000001', '2026-03-02', NULL, 'C-2'),
	('A-000002', '-infinity', NULL, 'C-1'),
	('A-000003', '-infinity', NULL, 'C-3');
EOF
# portal ACCOUNT SQL: the query as the portal for ACCOUNT ('' for none)
portal() {
	local set=""
	[ -n "$1" ] && set="SET gw.customer_account = '$1';"
	psql -XqAt -v ON_ERROR_STOP=1 -U portal -c "$set $2" 2>&1
}
c1_days="A-000001@2026-03-01,A-000002@2026-03-01,A-000002@2026-03-02,A-000002@2026-03-20"
c2_days="A-000001@2026-03-02,A-000001@2026-03-03,A-000001@2026-03-10"
list="string_agg(meter_id || '@' || day, ',' ORDER BY meter_id, day)"
check_eq "$(portal "" "SELECT count(*) FROM meter_days")/$(portal "" "SELECT count(*) FROM daily_usage")/$(portal "" "SELECT count(*) FROM my_daily_usage")" \
	"0/0/0" "the portal without an account sees no meter days"
check_eq "$(portal C-1 "SELECT $list FROM meter_days")" "$c1_days" \
	"C-1 reads in meter_days its days only (A-000001 until it moved, A-000002)"
check_eq "$(portal C-2 "SELECT $list FROM meter_days")" "$c2_days" \
	"C-2 reads in meter_days A-000001 from the day it moved in"
check_eq "$(portal C-1 "SELECT $list FROM daily_usage")" "$c1_days" "C-1 through daily_usage: the same days"
check_eq "$(portal C-1 "SELECT $list FROM my_daily_usage")" "$c1_days" "C-1 through my_daily_usage: the same days"
check_eq "$(portal C-1 "SELECT $list FROM customer_daily_usage('C-1', '2026-01-01', '2027-01-01')")" "$c1_days" \
	"C-1 through customer_daily_usage of its own account: the same days"
check_eq "$(portal C-1 "SELECT count(*) FROM customer_daily_usage('C-2', '2026-01-01', '2027-01-01')")/$(portal C-1 "SELECT count(*) FROM customer_daily_usage('C-3', '2026-01-01', '2027-01-01')")" \
	"0/0" "C-1 asking customer_daily_usage for other accounts gets nothing"
check_eq "$(portal C-1 "SELECT string_agg(meter_id || '@' || month || '=' || days, ',' ORDER BY meter_id) FROM monthly_usage")" \
	"A-000001@2026-03-01=1,A-000002@2026-03-01=3" "C-1 through monthly_usage: its days of the month only"
check_eq "$(portal C-3 "SELECT count(*) FROM meter_days WHERE meter_id <> 'A-000003'")/$(portal C-3 "SELECT count(*) FROM meter_days WHERE meter_id = 'A-000001'")" \
	"0/0" "asking meter_days for another account's meter by name returns nothing"
check_eq "$(psql -XqAt -U postgres -c "SET ROLE customer_portal; SET gw.customer_account = 'C-2'; SELECT $list FROM meter_days" 2>&1)" "$c2_days" \
	"a superuser who SETs ROLE customer_portal is held to the policy"
# denied ROLE DESC SQL
denied() {
	local out
	if out=$(psql -XqAt -v ON_ERROR_STOP=1 -U "$1" -c "$3" 2>&1); then
		not_ok "$2 (it was allowed: ${out:0:200})"
	elif grep -qE 'permission denied|violates row-level' <<<"$out"; then
		ok "$2"
	else
		not_ok "$2 (failed for another reason: ${out:0:300})"
	fi
}
c1="SET gw.customer_account = 'C-1';"
denied portal "the portal cannot INSERT into meter_days" "$c1 INSERT INTO meter_days (meter_id, day, quality, minutes_missing, registers, revision) VALUES ('A-000002', '2026-04-01', 'measured', 0, 1, 0)"
denied portal "the portal cannot UPDATE meter_days" "$c1 UPDATE meter_days SET import_wh = 0"
denied portal "the portal cannot DELETE from meter_days" "$c1 DELETE FROM meter_days"
denied portal "the portal cannot TRUNCATE meter_days" "$c1 TRUNCATE meter_days"
denied portal "the portal cannot recompute days" "$c1 SELECT gw_meter_days_sync(ARRAY['A-000003'], ARRAY['2026-03-01'::date], true)"
denied ana "the analyst cannot write meter_days" "UPDATE meter_days SET import_wh = 0"
denied ana "the analyst cannot recompute days" "SELECT gw_meter_days_sync(ARRAY['A-000003'], ARRAY['2026-03-01'::date], true)"
denied gw_a "the uploader cannot read meter_days" "SELECT count(*) FROM meter_days"
denied gw_a "the uploader cannot write meter_days but through its batch" "DELETE FROM meter_days"
denied op1 "the operator cannot write meter_days" "DELETE FROM meter_days"
check_eq "$(psql -XqAt -U ana -c "SELECT count(*) FROM meter_days" 2>&1)/$(psql -XqAt -U op1 -c "SELECT count(*) FROM meter_days" 2>&1)" \
	"$(q "SELECT count(*) FROM meter_days")/$(q "SELECT count(*) FROM meter_days")" "analysts and operators read every meter day"
check_eq "$(q "SELECT relrowsecurity AND relforcerowsecurity FROM pg_class WHERE relname = 'meter_days'")/$(q "SELECT count(*) FROM pg_class WHERE relkind = 'v' AND relnamespace = 'public'::regnamespace AND NOT coalesce('security_invoker=true' = ANY (reloptions), false)")" \
	"t/0" "row-level security is enabled and forced on meter_days; every view is security_invoker"
check_eq "$(q "SELECT a.attname FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] WHERE i.indrelid = 'meter_days'::regclass AND i.indisunique")" \
	meter_id "the key of meter_days leads with meter_id (ready for Citus)"

# --- the queries are index ranges ------------------------------------------------
# At a size where the plan matters (300 meters x 60 days, two meters an
# account); the bench shows the plans at 10,000 x 365.
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/plan.out" 2>&1 <<'EOF' || not_ok "load 300 meters x 60 days"
INSERT INTO meters (meter_id) SELECT 'P-' || lpad(i::text, 6, '0') FROM generate_series(1, 300) i;
INSERT INTO meter_accounts (meter_id, customer_account)
SELECT 'P-' || lpad(i::text, 6, '0'), 'CP-' || ((i + 1) / 2) FROM generate_series(1, 300) i;
INSERT INTO daily_registers (meter_id, day, obis, unit, start_value, end_value, consumption,
			     quality, readings, minutes_missing, revision, gateway_id)
SELECT 'P-' || lpad(i::text, 6, '0'), date '2026-02-01' + d, o, 'Wh', 0, 100, 100, 'measured', 96, 0, 0, 'gw-a'
FROM generate_series(1, 300) i, generate_series(0, 59) d, unnest(ARRAY['1.8.0', '2.8.0']) o;
ANALYZE;
EOF
check_eq "$(q "SELECT count(*) FROM meter_days WHERE meter_id LIKE 'P-%'")" 18000 "one statement of 36,000 registers makes its 18,000 meter days"
plan() { psql -XqAt -U "$1" -c "${3:-} EXPLAIN $2" 2>&1; }
p=$(plan ana "SELECT * FROM customer_daily_usage('CP-7', '2026-01-01', '2027-01-01')")
if ! grep -q "Function Scan" <<<"$p" && grep -q "Index Scan using meter_days_pkey" <<<"$p"; then
	ok "customer_daily_usage is inlined and reads meter_days by its key"
else
	not_ok "customer_daily_usage is inlined and reads meter_days by its key ($p)"
fi
p=$(plan ana "SELECT * FROM monthly_usage WHERE month = '2026-03-01'" "SET enable_seqscan = off;")
if grep -q "meter_days_month_idx" <<<"$p"; then
	ok "monthly_usage WHERE month = ... can read the month's index range"
else
	not_ok "monthly_usage WHERE month = ... can read the month's index range ($p)"
fi
cp7="SET gw.customer_account = 'CP-7';"
p=$(plan portal "SELECT * FROM my_daily_usage WHERE day >= '2026-03-01'" "$cp7")
if ! grep -q "Function Scan" <<<"$p" && grep -q "Index Cond:.*meter_id = ANY" <<<"$p"; then
	ok "the portal's my_daily_usage reads its account's meters by key"
else
	not_ok "the portal's my_daily_usage reads its account's meters by key ($p)"
fi
p=$(plan portal "SELECT * FROM monthly_usage WHERE month = '2026-03-01'" "$cp7")
if grep -q "Index Cond:.*meter_id = ANY" <<<"$p"; then
	ok "the portal's monthly_usage reads its account's meters by key, not the whole month"
else
	not_ok "the portal's monthly_usage reads its account's meters by key, not the whole month ($p)"
fi
check_eq "$(psql -XqAt -U portal -c "$cp7 SELECT string_agg(DISTINCT meter_id, ',') || '/' || count(*) FROM my_daily_usage" 2>&1)" \
	"P-000013,P-000014/120" "and sees its two meters' 60 days"

# --- truncate --------------------------------------------------------------------
q "TRUNCATE daily_registers" >/dev/null
check_eq "$(q "SELECT count(*) FROM meter_days")" 0 "TRUNCATE daily_registers empties meter_days"
finish
