#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload.sh - the database slice against a real, private
# PostgreSQL: tools/pgtmp.sh, the schema, build/tests/it_upload (uploader
# checks in C), `gwctl db migrate` and `gwctl upload`, and that nothing is
# left running afterwards.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
migrations=$(ls "$GW_TOP"/schema/[0-9]*_*.sql | wc -l)

# --- the private cluster ------------------------------------------------
start_pg pg
pgdir=$GW_TMP/pg
check_eq "$(psql -XAtc 'SELECT current_database()' 2>&1)" meters \
	"pgtmp.sh start: database meters reachable through DIR/env"
check_eq "$(psql -XAtc 'SELECT count(*) FROM schema_migrations' 2>&1)" "$migrations" \
	"pgtmp.sh start applied all $migrations migration(s)"
case "$GW_PG_CONNINFO" in
"host=$pgdir/sock port=$PGPORT dbname=meters user=postgres") ok "DIR/env sets GW_PG_CONNINFO" ;;
*) not_ok "DIR/env sets GW_PG_CONNINFO (got '$GW_PG_CONNINFO')" ;;
esac
check_cmd "pgtmp.sh env prints the env file" \
	bash -c "diff <('$GW_TOP/tools/pgtmp.sh' env '$pgdir') '$pgdir/env'"
check_eq "$(psql -XAtc 'SHOW listen_addresses' 2>&1)" "" "no TCP listener"

# --- the uploader, from C ----------------------------------------------
out=$GW_TMP/it_upload.out
# The uploads log in as a back-office loader, not as a superuser, so that
# every check of the schema applies to them.
psql -Xq -c "CREATE ROLE it_loader LOGIN IN ROLE gw_loader_any" || not_ok "create the loader role"
GW_IT_LOADER_CONNINFO="$GW_PG_CONNINFO user=it_loader" \
CMOCKA_MESSAGE_OUTPUT=TAP GW_IT_SPOOL=$GW_TMP/spool "$GW_BUILD/tests/it_upload" >"$out" 2>&1
rc=$?
grep -E '^(ok|not ok)' "$out"
if [ "$rc" -ne 0 ]; then
	grep -q '^not ok' "$out" || not_ok "it_upload exited with status $rc"
	_gw_failed=1
	sed 's/^/#   /' "$out" | grep -vE '^#   (ok|not ok)' | tail -30
fi

# --- gwctl db migrate ------------------------------------------------------
applied_before=$(psql -XAtc "SELECT string_agg(version || '@' || applied_at, ',') FROM schema_migrations")
check_cmd "gwctl db migrate (schema already current)" "$gwctl" db migrate
if grep -q "up to date" "$GW_TMP/last.out"; then
	ok "gwctl db migrate says the schema is up to date"
else
	not_ok "gwctl db migrate says the schema is up to date ($(head -1 "$GW_TMP/last.out"))"
fi
check_cmd "gwctl db migrate a second time" "$gwctl" db migrate --conninfo "$GW_PG_CONNINFO"
check_eq "$(psql -XAtc 'SELECT count(*) FROM schema_migrations')" "$migrations" \
	"schema_migrations has one row per migration file"
check_eq "$(psql -XAtc "SELECT string_agg(version || '@' || applied_at, ',') FROM schema_migrations")" \
	"$applied_before" "migrate twice is a no-op (rows unchanged)"
check_cmd "gwctl db status: nothing pending" "$gwctl" db status

# migrate on an empty database applies everything, then nothing
psql -Xqc "CREATE DATABASE fresh" >/dev/null 2>&1
fresh="host=$PGHOST port=$PGPORT dbname=fresh user=postgres"
check_cmd "gwctl db migrate on an empty database" "$gwctl" db migrate --conninfo "$fresh" \
	--schema-dir "$GW_TOP/schema"
check_eq "$(grep -c '^applied ' "$GW_TMP/last.out")" "$migrations" "each migration applied once"
check_cmd "gwctl db migrate again on it" "$gwctl" db migrate --conninfo "$fresh" \
	--schema-dir "$GW_TOP/schema"
check_eq "$(grep -c '^applied ' "$GW_TMP/last.out")" 0 "the second run applies nothing"

# a failing migration is rolled back and not recorded
bad=$GW_TMP/schema-bad
mkdir -p "$bad"
cp "$GW_TOP"/schema/*.sql "$bad/"
printf 'CREATE TABLE half_done (a int);\nSELECT 1 / 0;\n' >"$bad/999_broken.sql"
if "$gwctl" db migrate --conninfo "$fresh" --schema-dir "$bad" >"$GW_TMP/last.out" 2>&1; then
	not_ok "gwctl db migrate fails on a broken migration"
else
	ok "gwctl db migrate fails on a broken migration"
fi
check_eq "$(psql -XAtc "SELECT count(*) FROM schema_migrations WHERE version = 999" fresh)/$(psql -XAtc "SELECT to_regclass('half_done') IS NULL" fresh)" \
	"0/t" "the broken migration left no row and no table"

# An upgrade: a database at schema version 3 holding data, a gateway of
# this release (refused, with what to do), then the migration.
psql -Xqc "CREATE DATABASE older" >/dev/null 2>&1
older="host=$PGHOST port=$PGPORT dbname=older user=postgres"
v3=$GW_TMP/schema-v3
mkdir -p "$v3"
cp "$GW_TOP"/schema/00[123]_*.sql "$v3/"
check_cmd "a database at schema version 3" "$gwctl" db migrate --conninfo "$older" --schema-dir "$v3"
"$GW_BUILD/bench/pg_gen" --gateway up-gw --meters 20 --days 2 "$GW_TMP/up1" >/dev/null
"$GW_BUILD/bench/pg_gen" --gateway up-gw --meters 20 --day 2026-03-03 "$GW_TMP/up2" >/dev/null
psql -Xq older <<'EOF2' >/dev/null 2>&1
INSERT INTO gateways (gateway_id) VALUES ('up-gw');
SELECT gw_create_interval_partitions('2026-02-01', 2);
EOF2
# What a gateway of the previous release sent: both COPYs, then one call.
# old_release_load DAY V1 V2 DESCRIPTION: meter U-1's readings at 00:00
# and 00:15 UTC of DAY.
old_release_load() {
	psql -Xq -v ON_ERROR_STOP=1 older >"$GW_TMP/old.out" 2>&1 <<-EOF2
		BEGIN;
		SELECT gw_stage_open();
		INSERT INTO pg_temp.gw_stage (k, meter_id, obis, day, ts, ts2, v1, v2, v3, n1, n2, n3) VALUES
			('b', 'up-gw', 'Asia/Ho_Chi_Minh', '$1', '$1 00:00Z', '$1 00:15Z', 0, $2, 0, 0, 2, 0),
			('m', 'U-1', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL);
		INSERT INTO pg_temp.gw_stage_interval VALUES ('U-1', '1.8.0', '$1 00:00Z', $2, 0, 'Wh'), ('U-1', '1.8.0', '$1 00:15Z', $3, 0, 'Wh');
		SELECT * FROM gw_apply_staged();
		COMMIT;
	EOF2
	if [ $? -eq 0 ]; then ok "$4"; else not_ok "$4 ($(tail -2 "$GW_TMP/old.out"))"; fi
}
old_release_load 2026-02-20 5 6 "the previous release's one-call load (gw_apply_staged) works on version 3"
if "$gwctl" upload --conninfo "$older" "$GW_TMP/up1" >"$GW_TMP/last.out" 2>&1; then
	not_ok "this release refuses to load into schema version 3"
elif grep -q "schema is older than this gateway: run gwctl db migrate" "$GW_TMP/last.out"; then
	ok "this release refuses to load into schema version 3, saying: run gwctl db migrate"
else
	not_ok "this release refuses to load into schema version 3, saying: run gwctl db migrate ($(tail -2 "$GW_TMP/last.out"))"
fi
check_cmd "gwctl db migrate brings it to the current version" "$gwctl" db migrate --conninfo "$older" \
	--schema-dir "$GW_TOP/schema"
check_cmd "this release loads after the migration" "$gwctl" upload --conninfo "$older" "$GW_TMP/up1"
old_release_load 2026-02-21 7 8 "the previous release's one-call load still works after it"
check_cmd "and loads the next day" "$gwctl" upload --conninfo "$older" "$GW_TMP/up2"
check_eq "$(psql -XAtc "SELECT count(*) || '/' || sum(value) FROM interval_readings WHERE meter_id = 'U-1'" older)/$(psql -XAtc "SELECT count(*) FROM interval_readings WHERE meter_id LIKE 'M-up-gw-%'" older)/$(psql -XAtc "SELECT count(*) FROM batch_ledger" older)" \
	"4/26/17280/5" "every row of both releases is there once (4 + 3 days x 20 meters x 3 x 96 readings, 5 ledger rows)"

# --- gwctl upload ----------------------------------------------------------
# it_upload's spool test left two loaded batches in spool/done; loading them
# again through gwctl must change nothing.
rows_before=$(psql -XAtc "SELECT count(*) FROM daily_registers")
ledger_before=$(psql -XAtc "SELECT count(*) FROM batch_ledger")
spool2=$GW_TMP/spool2
mkdir -p "$spool2/ready"
cp "$GW_TMP"/spool/done/*.gwb "$spool2/ready/" 2>/dev/null
check_eq "$(ls "$spool2/ready" | wc -l)" 2 "two batch files to load again"
check_cmd "gwctl upload SPOOL-DIR" "$gwctl" upload "$spool2"
check_eq "$(ls "$spool2/ready" | wc -l)/$(ls "$spool2/done" 2>/dev/null | wc -l)" "0/2" \
	"gwctl upload moved the files from ready/ to done/"
check_cmd "gwctl upload FILE..." "$gwctl" upload --conninfo "$GW_PG_CONNINFO" "$spool2"/done/*.gwb
check_eq "$(psql -XAtc "SELECT count(*) FROM daily_registers")/$(psql -XAtc "SELECT count(*) FROM batch_ledger")" \
	"$rows_before/$ledger_before" "batches loaded again add no rows and no ledger entries"
if "$gwctl" upload --conninfo "host=$GW_TMP/nowhere port=1" "$spool2"/done/*.gwb >"$GW_TMP/last.out" 2>&1; then
	not_ok "gwctl upload fails when the database is unreachable"
else
	ok "gwctl upload fails when the database is unreachable"
fi

# --- two clusters at once, and stopping ------------------------------------
pid1=$(head -n 1 "$pgdir/data/postmaster.pid")
start_pg pg2
check_eq "$(psql -XAtc 'SELECT 1' 2>&1)" 1 "a second cluster runs beside the first"
. "$pgdir/env"
check_eq "$(psql -XAtc 'SELECT 1' 2>&1)" 1 "the first cluster still answers"
pid2=$(head -n 1 "$GW_TMP/pg2/data/postmaster.pid")
check_cmd "pgtmp.sh stop" "$GW_TOP/tools/pgtmp.sh" stop "$pgdir"
if kill -0 "$pid1" 2>/dev/null; then
	not_ok "postmaster $pid1 is gone after pgtmp.sh stop"
else
	ok "postmaster $pid1 is gone after pgtmp.sh stop"
fi
check_cmd "pgtmp.sh stop when already stopped" "$GW_TOP/tools/pgtmp.sh" stop "$pgdir"
check_cmd "pgtmp.sh stop of the second cluster" "$GW_TOP/tools/pgtmp.sh" stop "$GW_TMP/pg2"
if kill -0 "$pid2" 2>/dev/null; then
	not_ok "postmaster $pid2 is gone"
else
	ok "postmaster $pid2 is gone"
fi
finish
