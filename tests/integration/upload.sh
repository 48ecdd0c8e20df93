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
