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

# The database comes back.
start_pg pg
upload_only_ini sub-9 "$spool" "$GW_PG_CONNINFO" "retry_max = 1" >"$GW_TMP/gw.ini"
run_gatewayd "$GW_TMP/gw.ini" "$GW_TMP/gatewayd.log" 2026-03-10T02:00:00Z 2026-03-10T02:03:00Z
check_eq "$(ls "$spool/ready" | wc -l)/$(ls "$spool/done" | wc -l)/$(psql -XAtc 'SELECT count(*) FROM batch_ledger')" \
	"0/2/2" "once the database is back, both batches load"
check_eq "$(grep '^alarm=' "$spool/status")/$(grep '^upload_failures=' "$spool/status")/$(grep -c '^upload_last_ok=2026-03-10T02:0' "$spool/status")" \
	"alarm=none/upload_failures=0/1" "the alarm is over and the last load is recorded"
finish
