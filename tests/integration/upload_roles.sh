#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload_roles.sh - least privilege against a real
# PostgreSQL: per-gateway uploader roles, analyst, customer_portal with
# row-level security (and the account history), TLS with verify-full and
# client certificates, passwords from a password file only, and the
# checks behind "ready for Citus" (docs/deployment-database.md).
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
GW_PG_TCP=1 start_pg pg
pgdir=$GW_TMP/pg
tls=$pgdir/tls

# as_role ROLE SQL: runs SQL as ROLE over the Unix socket; output in $GW_TMP/as.out
as_role() {
	psql -XqAt -v ON_ERROR_STOP=1 -U "$1" -c "$2" >"$GW_TMP/as.out" 2>&1
}
# refused DESC ROLE SQL PATTERN: ok if the server refuses SQL for ROLE
# with a message matching PATTERN.
refused() {
	if as_role "$2" "$3"; then
		not_ok "$1 (it was allowed: $(head -c 200 "$GW_TMP/as.out"))"
	elif grep -qE "$4" "$GW_TMP/as.out"; then
		ok "$1"
	else
		not_ok "$1 (failed for another reason: $(head -c 300 "$GW_TMP/as.out"))"
	fi
}
# denied DESC ROLE SQL: ok if the server refuses SQL for ROLE for want of a right.
denied() {
	refused "$1" "$2" "$3" 'permission denied|may not|belongs to another|violates row-level'
}
# sees DESC ROLE SQL EXPECTED
sees() {
	if as_role "$2" "$3"; then
		check_eq "$(cat "$GW_TMP/as.out")" "$4" "$1"
	else
		not_ok "$1 ($(head -c 300 "$GW_TMP/as.out"))"
	fi
}

psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/roles.out" 2>&1 <<'EOF' || not_ok "create the test roles"
CREATE ROLE gw_a LOGIN IN ROLE gw_uploader;
CREATE ROLE gw_b LOGIN IN ROLE gw_uploader;
CREATE ROLE loader1 LOGIN PASSWORD 'Loader-Secret-81' IN ROLE gw_loader_any;
CREATE ROLE ana LOGIN PASSWORD 'Analyst-Secret-42' IN ROLE analyst;
CREATE ROLE portal LOGIN IN ROLE customer_portal;
SELECT gw_register_gateway('gw-a', 'gw_a', 'Asia/Ho_Chi_Minh');
SELECT gw_register_gateway('gw-b', 'gw_b', 'Asia/Ho_Chi_Minh');
-- The operator assigns the meters to their gateways.
SELECT gw_assign_meter('A-00000' || i, 'gw-a') FROM generate_series(1, 3) i;
SELECT gw_assign_meter('B-00000' || i, 'gw-b') FROM generate_series(1, 2) i;
EOF

# --- uploaders -------------------------------------------------------------
"$gen" --gateway gw-a --prefix A- --meters 3 --days 3 --events "$GW_TMP/sa" >/dev/null
"$gen" --gateway gw-b --prefix B- --meters 2 --days 1 "$GW_TMP/sb" >/dev/null
"$gen" --gateway gw-b --prefix B- --meters 2 --day 2026-03-02 "$GW_TMP/sb_as_a" >/dev/null
"$gen" --gateway gw-a --prefix B- --meters 1 --day 2026-03-05 "$GW_TMP/sa_foreign" >/dev/null
local_ci="host=$PGHOST port=$PGPORT dbname=meters"
check_cmd "gw_a loads gw-a's batches" "$gwctl" upload --conninfo "$local_ci user=gw_a" "$GW_TMP/sa"
check_cmd "gw_b loads gw-b's batch" "$gwctl" upload --conninfo "$local_ci user=gw_b" "$GW_TMP/sb"
check_eq "$(psql -XAtc "SELECT count(*) FROM daily_registers WHERE gateway_id = 'gw-a'")/$(psql -XAtc "SELECT count(*) FROM meter_events WHERE gateway_id = 'gw-a'")" \
	"27/6" "gw-a's daily registers and events are in (3 meters x 3 registers x 3 days)"
if "$gwctl" upload --conninfo "$local_ci user=gw_a" "$GW_TMP"/sb_as_a/ready/*.gwb >"$GW_TMP/last.out" 2>&1; then
	not_ok "gw_a may not load a batch of gw-b"
else
	grep -q "may not load batches of gateway gw-b" "$GW_TMP/last.out" &&
		ok "gw_a may not load a batch of gw-b" ||
		not_ok "gw_a may not load a batch of gw-b ($(tail -2 "$GW_TMP/last.out"))"
fi
# A meter of another gateway in gw-a's batch: the batch loads, the meter's
# data is held for an operator and named, nothing of it reaches gw-b's
# meter's history, and the batch is not refused (later days do not wait).
if "$gwctl" upload --conninfo "$local_ci user=gw_a" "$GW_TMP"/sa_foreign/ready/*.gwb >"$GW_TMP/last.out" 2>&1 &&
	grep -q "meter B-000001 is not assigned to gateway gw-a for 2026-03-05: its data is held" "$GW_TMP/last.out"; then
	ok "gw_a's readings of gw-b's meter are held, with a warning naming the meter"
else
	not_ok "gw_a's readings of gw-b's meter are held, with a warning naming the meter ($(tail -2 "$GW_TMP/last.out"))"
fi
check_eq "$(psql -XAtc "SELECT count(*) FROM batch_ledger WHERE (gateway_id, day) = ('gw-b', '2026-03-02')")/$(psql -XAtc "SELECT count(*) FROM daily_registers WHERE meter_id LIKE 'B-%' AND day <> '2026-03-01'")/$(psql -XAtc "SELECT count(*) FROM held_daily_registers WHERE meter_id = 'B-000001' AND gateway_id = 'gw-a'")/$(psql -XAtc "SELECT gateway_id FROM meters WHERE meter_id = 'B-000001'")" \
	"0/0/3/gw-b" "the refused batch left nothing; the held data stays apart and B-000001 stays gw-b's"

denied "uploader: no SELECT on other (or its own) gateways' rows" gw_a "SELECT count(*) FROM daily_registers"
denied "uploader: no SELECT on interval_readings" gw_a "SELECT count(*) FROM interval_readings"
denied "uploader: no SELECT on the ledger" gw_a "SELECT count(*) FROM batch_ledger"
denied "uploader: no SELECT on daily_usage" gw_a "SELECT count(*) FROM daily_usage"
denied "uploader: no UPDATE of history" gw_a "UPDATE daily_registers SET consumption = 0"
denied "uploader: no DELETE of history" gw_a "DELETE FROM interval_readings"
denied "uploader: no DELETE from the ledger" gw_a "DELETE FROM batch_ledger"
denied "uploader: no INSERT outside the loader" gw_a \
	"INSERT INTO meter_events (meter_id, ts, kind) VALUES ('A-000001', now(), 'offline')"
denied "uploader: no COPY into a table" gw_a "COPY interval_readings FROM STDIN"
denied "uploader: no TEMP tables of its own" gw_a "CREATE TEMP TABLE x (a int)"
denied "uploader: cannot bind itself to another gateway" gw_a "SELECT gw_register_gateway('gw-b', 'gw_a')"
denied "uploader: cannot make partitions" gw_a "SELECT gw_ensure_interval_partition(now())"
denied "uploader: cannot assign itself a meter" gw_a "SELECT gw_assign_meter('B-000001', 'gw-a')"
denied "uploader: cannot set its gateway's zone" gw_a "SELECT gw_set_gateway_timezone('gw-a', 'UTC')"
denied "uploader: cannot change the limits" gw_a "UPDATE gw_limits SET history_days = 36500"
denied "uploader: cannot read the limits" gw_a "SELECT * FROM gw_limits"
denied "uploader: cannot read the held data" gw_a "SELECT count(*) FROM held_interval_readings"
denied "uploader: cannot read or write the assignments" gw_a \
	"INSERT INTO meter_gateways (meter_id, gateway_id) VALUES ('B-000001', 'gw-a')"
denied "uploader: cannot make partitions for all months" gw_a "SELECT gw_maintain()"
denied "analyst: cannot assign meters" ana "SELECT gw_assign_meter('B-000001', 'gw-a')"
denied "analyst: cannot change the limits" ana "UPDATE gw_limits SET max_revision = 5"
denied "uploader: cannot touch the staging tables but by COPY/INSERT" gw_a \
	"SELECT gw_stage_open(); DELETE FROM pg_temp.gw_stage"
denied "uploader: a hand-made batch for gw-b is refused" gw_a \
	"SELECT gw_stage_open(); INSERT INTO pg_temp.gw_stage (k, meter_id, day, v1, v2, v3, n1, n2, n3) VALUES ('b', 'gw-b', '2026-04-01', 0, 0, 0, 0, 0, 0); SELECT * FROM gw_apply_staged()"

# The month partitions: a gateway's role may INSERT (COPY) there, but only
# inside a batch it began, only rows of that batch's meters and times.
# A hand-made batch of gw-a for 2026-03-20: one meter, one reading promised.
begin_a="BEGIN; SELECT gw_stage_open();
INSERT INTO pg_temp.gw_stage (k, meter_id, obis, day, ts, ts2, v1, v2, v3, n1, n2, n3) VALUES
	('b', 'gw-a', 'Asia/Ho_Chi_Minh', '2026-03-20', '2026-03-20 00:00Z', '2026-03-20 01:00Z', 0, 7, 0, 0, 1, 0),
	('m', 'A-000001', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
SELECT * FROM gw_begin_batch(true);"
part=interval_readings_2026_03
row_a="INSERT INTO $part (meter_id, obis, ts, value) VALUES ('A-000001', '1.8.0', '2026-03-20 00:15Z', 1);"
if as_role gw_a "$begin_a $row_a SELECT gw_end_batch(); ROLLBACK" &&
	grep -q "^applied|||*public.$part|" "$GW_TMP/as.out"; then
	ok "uploader: inside its batch, a reading of its meter goes into the month partition"
else
	not_ok "uploader: inside its batch, a reading of its meter goes into the month partition ($(head -c 300 "$GW_TMP/as.out"))"
fi
refused "uploader: no INSERT into a month partition outside a batch" gw_a "$row_a" "may not insert into $part outside a batch"
refused "uploader: its batch may not carry another gateway's meter" gw_a \
	"$begin_a INSERT INTO $part (meter_id, obis, ts, value) VALUES ('B-000001', '1.8.0', '2026-03-20 00:15Z', 1)" \
	"meter B-000001 is not one of the meters of batch gw-a"
refused "uploader: a meter staged after the batch began is not one of its meters" gw_a \
	"$begin_a INSERT INTO pg_temp.gw_stage (k, meter_id) VALUES ('m', 'B-000001'); INSERT INTO $part (meter_id, obis, ts, value) VALUES ('B-000001', '1.8.0', '2026-03-20 00:15Z', 1)" \
	"meter B-000001 is not one of the meters of batch gw-a"
refused "uploader: readings outside the batch's time range are refused" gw_a \
	"$begin_a INSERT INTO $part (meter_id, obis, ts, value) VALUES ('A-000001', '1.8.0', '2026-03-01 00:15Z', 1)" \
	"lie outside batch gw-a"
refused "uploader: no INSERT once the batch has ended" gw_a \
	"$begin_a $row_a SELECT gw_end_batch(); ${row_a/00:15Z/00:30Z}" "may not insert into $part outside a batch"
refused "uploader: a batch that sent fewer readings than promised does not end" gw_a \
	"$begin_a SELECT gw_end_batch()" "has 0 interval rows of its meters, its header says 1"
refused "uploader: gw_end_batch without a batch" gw_a "SELECT gw_end_batch()" "no batch was begun"
denied "uploader: no SELECT on a month partition" gw_a "SELECT count(*) FROM $part"
denied "uploader: no UPDATE of a month partition" gw_a "UPDATE $part SET value = 0"
denied "uploader: no DELETE from a month partition" gw_a "DELETE FROM $part"
denied "uploader: no TRUNCATE of a month partition" gw_a "TRUNCATE $part"
denied "analyst: no INSERT into a month partition" ana "$row_a"
check_eq "$(psql -XAtc "SELECT count(*) FROM batch_ledger WHERE day = '2026-03-20'")/$(psql -XAtc "SELECT count(*) FROM interval_readings WHERE ts >= '2026-03-20' AND ts < '2026-03-21'")" \
	"0/0" "the hand-made batches left nothing"
check_eq "$(psql -XAtc "SELECT count(*) FROM pg_inherits i LEFT JOIN pg_trigger t ON t.tgrelid = i.inhrelid AND t.tgname = 'gw_batch_check' WHERE i.inhparent = 'interval_readings'::regclass AND t.oid IS NULL")" \
	0 "every month partition has the batch check"

# --- analyst ---------------------------------------------------------------
sees "analyst reads every gateway's days" ana "SELECT count(*) FROM daily_usage" "11"
sees "analyst reads the ledger" ana "SELECT count(*) FROM batch_ledger" "5"
sees "analyst reads the load curves" ana "SELECT count(*) FROM interval_readings" "3168"
sees "analyst reads monthly_usage" ana "SELECT count(*) FROM monthly_usage" "5"
denied "analyst: no UPDATE" ana "UPDATE meters SET tariff_class = 'x'"
denied "analyst: no DELETE" ana "DELETE FROM daily_registers"
denied "analyst: no INSERT" ana "INSERT INTO gateways (gateway_id) VALUES ('x')"
denied "analyst: cannot load" ana "SELECT * FROM gw_apply_staged()"

# --- customer portal: row-level security over the account history --------
psql -Xq -v ON_ERROR_STOP=1 >"$GW_TMP/acct.out" 2>&1 <<'EOF' || not_ok "set up meter_accounts"
INSERT INTO meter_accounts (meter_id, valid_from, valid_to, customer_account) VALUES
	('A-000001', '-infinity', '2026-03-02', 'C-1'),
	('A-000001', '2026-03-02', NULL, 'C-2'),
	('A-000002', '-infinity', NULL, 'C-1'),
	('A-000003', '-infinity', NULL, 'C-3');
EOF
check_eq "$(psql -XAtc "SELECT string_agg(meter_id || '=' || coalesce(customer_account, '-'), ',' ORDER BY meter_id) FROM meters WHERE meter_id LIKE 'A-%'")" \
	"A-000001=C-2,A-000002=C-1,A-000003=C-3" "meters.customer_account follows the current meter_accounts row"
sees "portal without an account sees nothing" portal "SELECT count(*) FROM daily_usage" "0"
sees "portal without an account sees no meters" portal "SELECT count(*) FROM meters" "0"
c1="SET gw.customer_account = 'C-1';"
c2="SET gw.customer_account = 'C-2';"
sees "C-1 sees its days only (A-000001 until the move, A-000002)" portal \
	"$c1 SELECT string_agg(meter_id || '@' || day, ',' ORDER BY meter_id, day) FROM daily_usage" \
	"A-000001@2026-03-01,A-000002@2026-03-01,A-000002@2026-03-02,A-000002@2026-03-03"
sees "C-2 sees A-000001 from the day it moved in" portal \
	"$c2 SELECT string_agg(meter_id || '@' || day, ',' ORDER BY day) FROM daily_usage" \
	"A-000001@2026-03-02,A-000001@2026-03-03"
sees "C-2's load curve: its two days of A-000001" portal \
	"$c2 SELECT count(*) || '/' || min(ts AT TIME ZONE 'Asia/Ho_Chi_Minh') FROM interval_readings" \
	"576/2026-03-02 00:00:07.919"
sees "C-1's load curve" portal "$c1 SELECT count(*) FROM interval_readings" "1152"
sees "C-1 sees the meter it holds now, not the one it gave up" portal \
	"$c1 SELECT string_agg(meter_id, ',') FROM meters" "A-000002"
sees "a former holder does not see who holds the meter now" portal \
	"$c1 SELECT count(*) FROM meters WHERE customer_account = 'C-2' OR meter_id = 'A-000001'" "0"
sees "the new holder sees its meter" portal \
	"$c2 SELECT string_agg(meter_id || '=' || customer_account, ',') FROM meters" "A-000001=C-2"
sees "a former holder sees no account rows but its own" portal \
	"$c1 SELECT string_agg(DISTINCT customer_account, ',') FROM meter_accounts" "C-1"
sees "customer_daily_usage of another account returns nothing" portal \
	"$c1 SELECT count(*) FROM customer_daily_usage('C-2', '2026-01-01', '2027-01-01')" "0"
sees "customer_daily_usage of its own account" portal \
	"$c2 SELECT count(*) FROM customer_daily_usage('C-2', '2026-01-01', '2027-01-01')" "2"
sees "my_daily_usage" portal "$c1 SELECT count(*) FROM my_daily_usage" "4"
sees "monthly_usage for C-1" portal "$c1 SELECT count(*) FROM monthly_usage" "2"
sees "a superuser who SETs ROLE customer_portal is held to its policies" postgres \
	"SET ROLE customer_portal; $c2 SELECT count(*) FROM daily_usage" "2"
denied "portal: no gateways" portal "$c1 SELECT count(*) FROM gateways"
denied "portal: no ledger" portal "$c1 SELECT count(*) FROM batch_ledger"
denied "portal: no UPDATE" portal "$c1 UPDATE daily_registers SET consumption = 0"
denied "portal: cannot give itself a meter" portal \
	"$c1 INSERT INTO meter_accounts (meter_id, customer_account) VALUES ('A-000003', 'C-1')"
check_eq "$(psql -XAtc "SELECT count(*) FROM pg_class WHERE relname IN ('gateways', 'meters', 'batch_ledger', 'daily_registers', 'interval_readings', 'meter_events', 'meter_serials', 'meter_accounts', 'meter_gateways', 'meter_claims', 'held_daily_registers', 'held_interval_readings', 'held_meter_events', 'gw_limits') AND relrowsecurity AND relforcerowsecurity")" \
	14 "row-level security is enabled and forced on all fourteen tables"
denied "portal: no assignments, claims, held data or limits" portal \
	"$c1 SELECT (SELECT count(*) FROM meter_gateways) + (SELECT count(*) FROM meter_claims) + (SELECT count(*) FROM held_daily_registers) + (SELECT count(*) FROM gw_limits)"
check_eq "$(psql -XAtc "SELECT count(*) FROM pg_class WHERE relkind = 'v' AND relnamespace = 'public'::regnamespace AND NOT coalesce('security_invoker=true' = ANY (reloptions), false)")" \
	0 "every view is security_invoker"

# --- ready for Citus: large tables keyed by meter_id ------------------------
large="'meters', 'daily_registers', 'interval_readings', 'meter_events', 'meter_serials', 'meter_accounts', 'meter_gateways', 'meter_claims', 'held_daily_registers', 'held_interval_readings', 'held_meter_events'"
check_eq "$(psql -XAtc "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = i.indkey[0] WHERE i.indisunique AND c.relname IN ($large) AND a.attname <> 'meter_id'")/$(psql -XAtc "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid WHERE i.indisunique AND c.relname IN ($large)")" \
	"0/11" "every unique key of a large table leads with meter_id"
check_eq "$(psql -XAtc "SELECT count(*) FROM pg_constraint f JOIN pg_class c ON c.oid = f.conrelid JOIN pg_class r ON r.oid = f.confrelid WHERE f.contype = 'f' AND c.relname IN ($large) AND r.relname IN ($large) AND NOT (SELECT attnum FROM pg_attribute WHERE attrelid = c.oid AND attname = 'meter_id') = ANY (f.conkey)")" \
	0 "foreign keys between large tables include meter_id"

# --- TLS, client certificates, password file --------------------------------
cert=$("$GW_TOP/tools/pgtmp.sh" cert "$pgdir" gw_a)
"$gen" --gateway gw-a --prefix A- --meters 3 --day 2026-03-04 "$GW_TMP/sa_tls" >/dev/null
check_cmd "gw_a loads over TLS (verify-full) with its client certificate" \
	"$gwctl" upload --conninfo "$GW_PG_TLS_CONNINFO user=gw_a $cert" "$GW_TMP/sa_tls"
check_eq "$(psql -XAtc "SELECT count(*) FROM batch_ledger WHERE gateway_id = 'gw-a' AND day = '2026-03-04'")" \
	1 "the TLS upload is in the ledger"
if "$gwctl" upload --conninfo "$GW_PG_TLS_CONNINFO user=gw_a" "$GW_TMP"/sa_tls/done/*.gwb >"$GW_TMP/last.out" 2>&1 ||
	! grep -q "certificate" "$GW_TMP/last.out"; then
	not_ok "without a client certificate gw_a is refused ($(tail -1 "$GW_TMP/last.out"))"
else
	ok "without a client certificate gw_a is refused"
fi
wrongca="host=127.0.0.1 port=$PGPORT dbname=meters sslmode=verify-full sslrootcert=/etc/ssl/certs/ca-certificates.crt user=gw_a $cert"
if "$gwctl" upload --conninfo "$wrongca" "$GW_TMP"/sa_tls/done/*.gwb >"$GW_TMP/last.out" 2>&1; then
	not_ok "a server certificate from an unknown CA is refused"
else
	ok "a server certificate from an unknown CA is refused"
fi
if psql "host=wrong-name.example hostaddr=127.0.0.1 port=$PGPORT dbname=meters sslmode=verify-full sslrootcert=$tls/ca.crt user=gw_a $cert" \
	-XAtc "SELECT 1" >"$GW_TMP/last.out" 2>&1 || ! grep -q "does not match host name" "$GW_TMP/last.out"; then
	not_ok "verify-full refuses a server whose name does not match ($(tail -1 "$GW_TMP/last.out"))"
else
	ok "verify-full refuses a server whose name does not match"
fi
if psql "host=127.0.0.1 port=$PGPORT dbname=meters sslmode=disable user=gw_a" -XAtc "SELECT 1" >/dev/null 2>&1; then
	not_ok "plain TCP without TLS is refused"
else
	ok "plain TCP without TLS is refused"
fi
umask 077
printf '127.0.0.1:%s:meters:loader1:Loader-Secret-81\n127.0.0.1:%s:meters:ana:Analyst-Secret-42\n' "$PGPORT" "$PGPORT" >"$GW_TMP/pgpass"
umask 022
"$gen" --gateway gw-c --prefix C- --meters 2 --day 2026-03-01 "$GW_TMP/sc" >/dev/null
check_cmd "a back-office loader logs in with a password from PGPASSFILE (TLS)" \
	env PGPASSFILE="$GW_TMP/pgpass" "$gwctl" upload --conninfo "$GW_PG_TLS_CONNINFO user=loader1" "$GW_TMP/sc"
cp "$GW_TMP/last.out" "$GW_TMP/loader.out"
check_eq "$(PGPASSFILE="$GW_TMP/pgpass" psql "$GW_PG_TLS_CONNINFO user=ana" -XAtc "SELECT count(*) FROM batch_ledger WHERE gateway_id = 'gw-c'" 2>&1)" \
	1 "the analyst reads over TLS with a password from PGPASSFILE"
if PGPASSFILE=/dev/null psql "$GW_PG_TLS_CONNINFO user=ana" -XAtc "SELECT 1" >/dev/null 2>&1; then
	not_ok "no password file, no login"
else
	ok "no password file, no login"
fi
"$gen" --gateway gw-c --prefix C- --meters 2 --day 2026-03-02 "$GW_TMP/sc2" >/dev/null
"$gwctl" upload --conninfo "$GW_PG_TLS_CONNINFO user=loader1 password=Loader-Secret-81" "$GW_TMP/sc2" >"$GW_TMP/pw.out" 2>&1
if grep -q "holds a password" "$GW_TMP/pw.out"; then
	ok "a password in the connection string is warned about"
else
	not_ok "a password in the connection string is warned about ($(head -2 "$GW_TMP/pw.out"))"
fi
if grep -rqE 'Loader-Secret|Analyst-Secret' "$GW_TMP/loader.out" "$GW_TMP/pw.out" "$pgdir/postgres.log"; then
	not_ok "no password in the loader's output or the server log"
else
	ok "no password in the loader's output or the server log"
fi
finish
