#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/start_line.sh - gatewayd's start-up line on the
# journal says which days were sealed before it started in words, also
# for a new spool that has sealed none ("no day sealed yet", never "-").
. "$(dirname "$0")/../lib.sh"

gen=$GW_BUILD/bench/pg_gen
# No database: the upload side only retries, which is not looked at here.
dead="host=$GW_TMP/nosock dbname=meters connect_timeout=1"

upload_only_ini sub-5 "$GW_TMP/new" "$dead" >"$GW_TMP/new.ini"
run_gatewayd "$GW_TMP/new.ini" "$GW_TMP/new.log" 2026-03-10T01:00:00Z 2026-03-10T01:02:00Z
check_eq "$?" 0 "gatewayd ran on a new spool and stopped"
line=$(grep 'journal: replayed' "$GW_TMP/new.log")
case $line in
*"segment"*"; no day sealed yet"*) ok "a new spool: no day sealed yet" ;;
*) not_ok "a new spool: no day sealed yet (got '$line')" ;;
esac
case $line in
*" - "*|*"before -"*) not_ok "no '-' stands for a missing day ($line)" ;;
*) ok "no '-' stands for a missing day" ;;
esac

"$gen" --gateway sub-5 --prefix S- --meters 2 --days 2 "$GW_TMP/old" >/dev/null
upload_only_ini sub-5 "$GW_TMP/old" "$dead" >"$GW_TMP/old.ini"
run_gatewayd "$GW_TMP/old.ini" "$GW_TMP/old.log" 2026-03-10T01:00:00Z 2026-03-10T01:02:00Z
check_eq "$?" 0 "gatewayd ran on a spool with two sealed days and stopped"
line=$(grep 'journal: replayed' "$GW_TMP/old.log")
case $line in
*"; days before 2026-03-03 were sealed already"*) ok "sealed days: the first day not sealed is named" ;;
*) not_ok "sealed days: the first day not sealed is named (got '$line')" ;;
esac
finish
