#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload_failover.sh - a real primary and a streaming
# standby (pg_basebackup -R) on this machine; the uploader's multi-host
# conninfo with target_session_attrs=read-write writes to the primary,
# waits while the primary is gone and the standby is still read-only, and
# goes on on the standby once it is promoted. No batch lost, none twice.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
start_pg pgA
a_host=$PGHOST a_port=$PGPORT
_gw_pgdirs+=("$GW_TMP/pgB")
if "$GW_TOP/tools/pgtmp.sh" standby "$GW_TMP/pgA" "$GW_TMP/pgB" >"$GW_TMP/standby.out" 2>&1; then
	ok "pgtmp.sh standby: a streaming standby runs"
else
	not_ok "pgtmp.sh standby: a streaming standby runs"
	sed 's/^/#   /' "$GW_TMP/standby.out" | tail -10
	finish
fi
b_host=$GW_TMP/pgB/sock
b_port=$(sed -n 4p "$GW_TMP/pgB/data/postmaster.pid")
b() { psql -XAt -h "$b_host" -p "$b_port" -U postgres -d meters -c "$1" 2>&1; }
check_eq "$(b 'SELECT pg_is_in_recovery()')" t "the standby is in recovery"

multi="host=$a_host,$b_host port=$a_port,$b_port dbname=meters user=postgres target_session_attrs=read-write connect_timeout=3"
spool=$GW_TMP/spool
"$gen" --gateway fo-gw --meters 50 --days 10 "$spool" >/dev/null
mkdir -p "$GW_TMP/first"
for f in $(ls "$spool/ready" | head -4); do mv "$spool/ready/$f" "$GW_TMP/first/"; done
check_cmd "4 batches loaded through the multi-host conninfo" "$gwctl" upload --conninfo "$multi" "$GW_TMP"/first/*.gwb
if wait_for 30 bash -c "[ \"\$(psql -XAt -h '$b_host' -p '$b_port' -U postgres -d meters -c \"SELECT count(*) FROM batch_ledger\")\" = 4 ]"; then
	ok "the standby replays them"
else
	not_ok "the standby replays them ($(b 'SELECT count(*) FROM batch_ledger'))"
fi
if "$gwctl" upload --conninfo "host=$b_host port=$b_port dbname=meters user=postgres target_session_attrs=read-write" \
	"$GW_TMP"/first/*.gwb >"$GW_TMP/last.out" 2>&1; then
	not_ok "a read-only standby is not taken for writing"
else
	ok "a read-only standby is not taken for writing"
fi

"$GW_TOP/tools/pgtmp.sh" stop "$GW_TMP/pgA" >/dev/null
"$gwctl" upload --conninfo "$multi" --retry-for 90 "$spool" >"$GW_TMP/fo.out" 2>&1 &
upid=$!
track_pid "$upid"
wait_for 20 grep -q "cannot connect" "$GW_TMP/fo.out"
if pid_alive "$upid" && grep -q "cannot connect" "$GW_TMP/fo.out"; then
	ok "with the primary gone the uploader waits and retries"
else
	not_ok "with the primary gone the uploader waits and retries ($(tail -2 "$GW_TMP/fo.out"))"
fi
check_cmd "pgtmp.sh promote" "$GW_TOP/tools/pgtmp.sh" promote "$GW_TMP/pgB"
if wait_pid_exit 90 "$upid"; then
	wait "$upid"
	check_eq "$?" 0 "the uploader goes on on the promoted standby"
else
	not_ok "the uploader goes on on the promoted standby (still running)"
fi
check_eq "$(b "SELECT count(*) || '/' || count(DISTINCT day) FROM batch_ledger WHERE gateway_id = 'fo-gw'")/$(b "SELECT count(*) FROM daily_registers")/$(b "SELECT count(*) FROM interval_readings")" \
	"10/10/$((10 * 50 * 3))/$((10 * 50 * 3 * 96))" "the new primary has all 10 batches exactly once"
check_eq "$(ls "$spool/ready" | wc -l)" 0 "nothing left in ready/"
finish
