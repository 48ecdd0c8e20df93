#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload_refused.sh - a batch the database refuses for
# good (here: a constraint an administrator added) does not hold up the
# days after it: gatewayd and gwctl upload set it aside in quarantine/
# with the server's reason, raise the batch_refused alarm, load the rest,
# and load it too once the cause is mended.
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
start_pg pg
# The database refuses the 2nd of March, as a too strict check would.
psql -Xqc "ALTER TABLE daily_registers ADD CONSTRAINT no_second_of_march CHECK (day <> '2026-03-02')" ||
	not_ok "add the constraint"

# --- gatewayd --------------------------------------------------------------
spool=$GW_TMP/spool
"$gen" --gateway sub-7 --prefix S- --meters 4 --days 3 "$spool" >/dev/null
check_eq "$(ls "$spool/ready" | wc -l)" 3 "three days waiting in ready/"
upload_only_ini sub-7 "$spool" "$GW_PG_CONNINFO" >"$GW_TMP/gw.ini"
run_gatewayd "$GW_TMP/gw.ini" "$GW_TMP/gatewayd.log" 2026-03-10T01:00:00Z 2026-03-10T01:04:00Z
check_eq "$?" 0 "gatewayd ran and stopped"
check_eq "$(ls "$spool/ready" | wc -l)/$(ls "$spool/done" | wc -l)/$(ls "$spool/quarantine" | sort | tr '\n' ' ')" \
	"0/2/sub-7_2026-03-02_r0.gwb sub-7_2026-03-02_r0.gwb.refused " \
	"the refused day is in quarantine/ with its reason; the days before and after it are loaded"
check_eq "$(psql -XAtc "SELECT string_agg(day::text, ',' ORDER BY day) FROM batch_ledger WHERE gateway_id = 'sub-7'")" \
	"2026-03-01,2026-03-03" "the ledger has the 1st and the 3rd"
if grep -q 'no_second_of_march' "$spool/quarantine/sub-7_2026-03-02_r0.gwb.refused"; then
	ok "the reason file holds the server's message"
else
	not_ok "the reason file holds the server's message ($(cat "$spool/quarantine/sub-7_2026-03-02_r0.gwb.refused"))"
fi
grep -q "sub-7_2026-03-02_r0.gwb refused by the database; moving it to quarantine/" "$GW_TMP/gatewayd.log" &&
	ok "the log names the refused batch" || not_ok "the log names the refused batch"
check_eq "$(grep -c 'refused by the database' "$GW_TMP/gatewayd.log")" 1 "it was refused once, not retried"
check_eq "$(grep '^alarm=' "$spool/status")/$(grep '^refused_batches=' "$spool/status")" \
	"alarm=batch_refused/refused_batches=1" "spool/status raises batch_refused"
"$gwctl" status "$spool" >"$GW_TMP/st.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "alarm: batch_refused" "$GW_TMP/st.out"; then
	ok "gwctl status shows the alarm and exits 1"
else
	not_ok "gwctl status shows the alarm and exits 1 (exit $rc: $(head -3 "$GW_TMP/st.out"))"
fi
"$gwctl" spool ls "$spool" >"$GW_TMP/ls.out" 2>&1
if grep -E '^quarantine +sub-7_2026-03-02_r0.gwb .*refused: .*no_second_of_march' "$GW_TMP/ls.out" >/dev/null; then
	ok "gwctl spool ls shows why the batch was refused"
else
	not_ok "gwctl spool ls shows why the batch was refused ($(grep quarantine "$GW_TMP/ls.out"))"
fi
check_eq "$(grep -c '^# ALARM: batch_refused$' "$GW_TMP/ls.out")/$(grep -c '(1 refused)' "$GW_TMP/ls.out")" "1/1" \
	"gwctl spool ls shows the alarm and counts the refused batch"

# --- gwctl upload (a back-office load of a spool copied off a gateway) -----
copy=$GW_TMP/copy
"$gen" --gateway sub-8 --prefix T- --meters 4 --days 3 "$copy" >/dev/null
"$gwctl" upload --conninfo "$GW_PG_CONNINFO" "$copy" >"$GW_TMP/up.out" 2>&1
rc=$?
if [ $rc -eq 1 ] && grep -q "1 batch file refused by the database, set aside in $copy/quarantine/" "$GW_TMP/up.out" &&
	grep -q "2 batch files loaded" "$GW_TMP/up.out"; then
	ok "gwctl upload loads the rest, says what it set aside and exits 1"
else
	not_ok "gwctl upload loads the rest, says what it set aside and exits 1 (exit $rc: $(tail -3 "$GW_TMP/up.out"))"
fi
if "$gwctl" upload --retry-for 30 --conninfo "$GW_PG_CONNINFO" "$copy"/quarantine/*.gwb >"$GW_TMP/up.out" 2>&1; then
	not_ok "loading the refused file again while the cause stands fails"
else
	check_eq "$(grep -c 'refused: ERROR' "$GW_TMP/up.out")/$(grep -c 'failed: refused by the database' "$GW_TMP/up.out")" \
		"1/1" "loading the refused file again fails at once (one attempt, no retries)"
fi

# --- the cause mended ------------------------------------------------------
psql -Xqc "ALTER TABLE daily_registers DROP CONSTRAINT no_second_of_march"
# one spool's file named from inside that spool, the other's by full path
check_cmd "once the constraint is gone, gwctl upload loads the set-aside batches" \
	env -C "$spool" "$gwctl" upload --conninfo "$GW_PG_CONNINFO" quarantine/sub-7_2026-03-02_r0.gwb \
	"$copy"/quarantine/sub-8_2026-03-02_r0.gwb
check_eq "$(psql -XAtc "SELECT gateway_id || ':' || count(*) FROM batch_ledger GROUP BY gateway_id ORDER BY gateway_id" | tr '\n' ' ')" \
	"sub-7:3 sub-8:3 " "every day of both gateways is in the ledger once"
check_eq "$(psql -XAtc "SELECT count(*) FROM daily_registers WHERE day = '2026-03-02'")/$(psql -XAtc "SELECT count(*) FROM interval_readings")" \
	"24/6912" "the 2nd of March is complete (2 gateways x 4 meters x 3 registers; 6 days x 4 meters x 288 readings)"
check_eq "$(ls "$spool/quarantine" | wc -l)/$(ls "$spool/done" | wc -l)/$(ls "$copy/quarantine" | wc -l)" "0/3/0" \
	"the loaded batches moved from quarantine/ to done/, their notes removed"
# gatewayd's next status says the alarm is over.
run_gatewayd "$GW_TMP/gw.ini" "$GW_TMP/gatewayd2.log" 2026-03-10T02:00:00Z 2026-03-10T02:02:00Z
check_eq "$(grep '^alarm=' "$spool/status")/$(grep '^refused_batches=' "$spool/status")" \
	"alarm=none/refused_batches=0" "the alarm is cleared"
finish
