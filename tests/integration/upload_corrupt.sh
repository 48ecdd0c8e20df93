#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/upload_corrupt.sh - a batch file that does not decode
# is a day missing from the database, never a success: `gwctl upload
# SPOOL` sets it aside in quarantine/, loads the days around it, names the
# file and the reason and exits 1; `gwctl upload FILE` gives the same
# reason as `gwctl spool verify` (one function words both).
. "$(dirname "$0")/../lib.sh"

gwctl=$GW_BUILD/gwctl
gen=$GW_BUILD/bench/pg_gen
start_pg pg

spool=$GW_TMP/spool
"$gen" --gateway sub-9 --prefix C- --meters 3 --days 3 "$spool" >/dev/null
bad=sub-9_2026-03-02_r0.gwb
check_eq "$(ls "$spool/ready" | tr '\n' ' ')" \
	"sub-9_2026-03-01_r0.gwb $bad sub-9_2026-03-03_r0.gwb " "three days waiting in ready/"
# One byte of the payload changed: the CRC no longer matches.
size=$(stat -c %s "$spool/ready/$bad")
printf '\377' | dd of="$spool/ready/$bad" bs=1 seek=$((size - 5)) conv=notrunc status=none
mkdir -p "$GW_TMP/copy"
cp "$spool/ready/$bad" "$GW_TMP/copy/$bad"

"$gwctl" spool verify "$GW_TMP/copy/$bad" >"$GW_TMP/verify.out" 2>&1
check_eq "$?" 1 "gwctl spool verify finds the damaged file bad"
reason=$(sed -n "s|^BAD  $GW_TMP/copy/$bad: ||p" "$GW_TMP/verify.out")
check_eq "$reason" "corrupt or truncated file (bad CRC)" "gwctl spool verify names the reason"

"$gwctl" upload --conninfo "$GW_PG_CONNINFO" "$spool" >"$GW_TMP/up.out" 2>&1
rc=$?
check_eq "$rc" 1 "gwctl upload SPOOL exits 1 when a file was set aside"
check_eq "$(ls "$spool/ready" | wc -l)/$(ls "$spool/done" | wc -l)/$(ls "$spool/quarantine" | tr '\n' ' ')" \
	"0/2/$bad " "the damaged day is in quarantine/, the days around it are loaded"
if grep -q "$bad: $reason; moving it to quarantine/" "$GW_TMP/up.out"; then
	ok "the message names the file and the reason verify gives"
else
	not_ok "the message names the file and the reason verify gives ($(cat "$GW_TMP/up.out"))"
fi
if grep -q "1 batch file that does not decode .* set aside in $spool/quarantine/: its day is not in the database" "$GW_TMP/up.out"; then
	ok "gwctl says the day is not in the database"
else
	not_ok "gwctl says the day is not in the database ($(cat "$GW_TMP/up.out"))"
fi
check_eq "$(psql -XAtc "SELECT string_agg(day::text, ',' ORDER BY day) FROM batch_ledger")" \
	"2026-03-01,2026-03-03" "the ledger has the 1st and the 3rd"

# The same file named on the command line: the same reason.
"$gwctl" upload --conninfo "$GW_PG_CONNINFO" "$GW_TMP/copy/$bad" >"$GW_TMP/file.out" 2>&1
rc=$?
if [ $rc -ne 0 ] && grep -q "$GW_TMP/copy/$bad: $reason" "$GW_TMP/file.out"; then
	ok "gwctl upload FILE fails with the file's name and verify's reason"
else
	not_ok "gwctl upload FILE fails with the file's name and verify's reason (exit $rc: $(cat "$GW_TMP/file.out"))"
fi
# A clean spool still exits 0.
"$gen" --gateway sub-9 --prefix C- --meters 3 --day 2026-03-04 "$GW_TMP/clean" >/dev/null
check_cmd "a spool of good files uploads with exit 0" \
	"$gwctl" upload --conninfo "$GW_PG_CONNINFO" "$GW_TMP/clean"
finish
