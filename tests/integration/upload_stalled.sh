#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload_stalled.sh - a gateway whose database cannot be
# reached keeps its batches, retries with backoff, and says so: after
# several failed passes in a row spool/status raises upload_failing and
# gwctl status shows the failures; once the database is back, the batches
# load and the alarm ends.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
spool=$GW_TMP/spool
"$GW_BUILD/bench/pg_gen" --gateway sub-9 --prefix N- --meters 2 --days 2 "$spool" >/dev/null
upload_only_ini sub-9 "$spool" "host=$GW_TMP/no-such-dir port=5 dbname=meters connect_timeout=2" "retry_max = 1" >"$GW_TMP/gw.ini"
run_gatewayd "$GW_TMP/gw.ini" "$GW_TMP/gatewayd.log" 2026-03-10T01:00:00Z 2026-03-10T01:10:00Z
check_eq "$(ls "$spool/ready" | wc -l)" 2 "the batches stay in ready/"
fails=$(sed -n 's/^upload_failures=//p' "$spool/status")
if [ "${fails:-0}" -ge 5 ]; then
	ok "spool/status counts the failed passes ($fails)"
else
	not_ok "spool/status counts the failed passes (got '$fails', expected at least 5)"
fi
check_eq "$(grep '^alarm=' "$spool/status")/$(grep '^upload_last_error=' "$spool/status")/$(grep '^upload_last_ok=' "$spool/status")" \
	"alarm=upload_failing/upload_last_error=cannot connect/upload_last_ok=-" "the upload_failing alarm is raised"
"$gwctl" status "$spool" >"$GW_TMP/st.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "^alarm: upload_failing" "$GW_TMP/st.out" &&
	grep -q "^upload: $fails failed attempts in a row (cannot connect), last batch loaded -" "$GW_TMP/st.out"; then
	ok "gwctl status shows the failing upload and exits 1"
else
	not_ok "gwctl status shows the failing upload and exits 1 (exit $rc: $(cat "$GW_TMP/st.out" | head -6))"
fi
backoffs=$(grep -c "upload: cannot connect, attempt" "$GW_TMP/gatewayd.log")
pow=0 # the attempts that are powers of two: 1, 2, 4 ... <= fails
for ((a = 1; a <= ${fails:-0}; a *= 2)); do pow=$((pow + 1)); done
if [ "$backoffs" -ge 1 ] && [ "$backoffs" -eq "$pow" ]; then
	ok "failures are logged at growing intervals, not each one ($backoffs lines for $fails failures)"
else
	not_ok "failures are logged at growing intervals, not each one ($backoffs lines for $fails failures)"
fi

# The database comes back, but a lock holds the load (lock_timeout 1 s):
# each pass fails on the server, and the same failure is logged on the
# 1st, 2nd, 4th ... pass in a row, not on each one.
start_pg pg
psql -XqAt -c "BEGIN; LOCK TABLE batch_ledger IN SHARE MODE; SELECT 'blocking', pg_sleep(300); ROLLBACK" >"$GW_TMP/block.out" 2>&1 &
block=$!
track_pid $block
wait_for 15 bash -c "psql -XAtc \"SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' AND state = 'active' AND pid <> pg_backend_pid()\" | grep -q 1" ||
	not_ok "the blocking session runs"
upload_only_ini sub-9 "$spool" "$GW_PG_CONNINFO" "retry_max = 1
lock_timeout = 1s" >"$GW_TMP/gw.ini"
run_gatewayd "$GW_TMP/gw.ini" "$GW_TMP/locked.log" 2026-03-10T01:30:00Z 2026-03-10T01:45:00Z
lfails=$(sed -n 's/^upload_failures=//p' "$spool/status")
llines=$(grep -c 'canceling statement due to lock timeout' "$GW_TMP/locked.log")
# the last pass may have been cancelled at the stop instead (not a failure
# of the load, not counted with them)
lpow=0 lpow1=0
for ((a = 1; a <= ${lfails:-0}; a *= 2)); do lpow=$((lpow + 1)); done
for ((a = 1; a <= ${lfails:-0} - 1; a *= 2)); do lpow1=$((lpow1 + 1)); done
grep -q 'cancelled, the gateway is stopping' "$GW_TMP/locked.log" && lpow=$lpow1
if [ "${lfails:-0}" -ge 4 ] && [ "$llines" -eq "$lpow" ]; then
	ok "a load the server keeps failing is logged at growing intervals ($llines lines for $lfails passes)"
else
	not_ok "a load the server keeps failing: $llines lines for '${lfails}' passes (expected $lpow)"
fi
grep -q "database: batch loads failed $((1 << (lpow - 1))) times in a row ($(((1 << (lpow - 1)) / 2 - 1)) not logged since the last)" "$GW_TMP/locked.log" &&
	ok "the last such line says how many were not logged" ||
	not_ok "no count of the lines not logged: $(grep 'batch loads failed' "$GW_TMP/locked.log" | tail -1)"
psql -XqAtc "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%pg_sleep(300)%' AND pid <> pg_backend_pid()" >/dev/null
wait $block 2>/dev/null
upload_only_ini sub-9 "$spool" "$GW_PG_CONNINFO" "retry_max = 1" >"$GW_TMP/gw.ini"
run_gatewayd "$GW_TMP/gw.ini" "$GW_TMP/gatewayd.log" 2026-03-10T02:00:00Z 2026-03-10T02:03:00Z
check_eq "$(ls "$spool/ready" | wc -l)/$(ls "$spool/done" | wc -l)/$(psql -XAtc 'SELECT count(*) FROM batch_ledger')" \
	"0/2/2" "once the database is back, both batches load"
check_eq "$(grep '^alarm=' "$spool/status")/$(grep '^upload_failures=' "$spool/status")/$(grep -c '^upload_last_ok=2026-03-10T02:0' "$spool/status")" \
	"alarm=none/upload_failures=0/1" "the alarm is over and the last load is recorded"
finish
