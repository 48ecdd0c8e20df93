#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole path, every part real: two metersim endpoints (Modbus TCP on
# loopback, 5 meters) -> gatewayd (libmodbus driver, one worker per bus,
# batching core, zlib spool) -> PostgreSQL (private cluster) -> daily_usage.
# Gateway and simulators share one accelerated clock anchored to one real
# instant; the run crosses three local midnights in Asia/Ho_Chi_Minh in
# about half a minute (longer where the machine cannot keep up: paced_speed
# in tests/lib.sh). The simulated meters are "shops": they draw
# P = 200 + 50*u W from 06:00 to 22:00 local time, nothing at night, so
# each whole day imports exactly 16*P Wh; meters with u % 3 == 0 also
# export 500*u W from 10:00 to 14:00 (4*500*u Wh a day).
. "$(dirname "$0")/../lib.sh"

start_pg pg
paced_speed 5760 cycles
start=2026-03-01T15:00:00Z   # 22:00 local
stop=2026-03-03T18:00:00Z    # 01:00 local on 2026-03-04
# the clocks stand at 22:00 local until the meters have been polled once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")

port1=$(free_port)
port2=$(free_port)
sim=(--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz Asia/Ho_Chi_Minh "${clock[@]}")
if start_metersim sim1 --tcp "127.0.0.1:$port1" --meters 3 --first-unit 1 "${sim[@]}" &&
	start_metersim sim2 --tcp "127.0.0.1:$port2" --meters 2 --first-unit 4 "${sim[@]}"; then
	ok "two metersim endpoints listening"
else
	not_ok "metersim did not start"; finish
fi

cat >"$GW_TMP/meters.csv" <<CSV
meter_id,bus,unit,profile
PE0001,cabinet-a,1,abb_b23
PE0002,cabinet-a,2,abb_b23
PE0003,cabinet-a,3,abb_b23
PE0004,cabinet-b,4,abb_b23
PE0005,cabinet-b,5,abb_b23
CSV
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-042
timezone = Asia/Ho_Chi_Minh
spool_dir = spool
profiles_dir = $GW_TOP/profiles
meters = meters.csv
poll_interval = 15m
midnight_tolerance = 10m
seal_delay = 30m

[database]
conninfo = $GW_PG_CONNINFO
upload_interval = 1

[bus cabinet-a]
type = modbus-tcp
host = 127.0.0.1
port = $port1
timeout_ms = 500

[bus cabinet-b]
type = modbus-tcp
host = 127.0.0.1
port = $port2
timeout_ms = 500
INI

gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" \
	PE0001 PE0002 PE0003 PE0004 PE0005 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at "$stop" ||
	{ not_ok "the meters are polled"; finish; }
gw=$gw_pid
if wait_pid_exit "$(paced_s 120)" $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to the stop time and exited 0"
else
	not_ok "gatewayd did not stop within $(paced_s 120) s"
fi
grep -E "error|warn" "$GW_TMP/gatewayd.log" | head -5 | sed 's/^/# /'

q() { psql "$GW_PG_CONNINFO" -XAt -F ' ' -c "$1"; }

# The spool: three sealed days (2026-03-01 partial, 03-02, 03-03), all
# uploaded and moved to done/, each with a good CRC.
check_eq "$(ls "$GW_TMP/spool/ready" | wc -l)" 0 "spool ready/ is empty after upload"
check_eq "$(ls "$GW_TMP/spool/done" | tr '\n' ' ')" \
	"sub-042_2026-03-01_r0.gwb sub-042_2026-03-02_r0.gwb sub-042_2026-03-03_r0.gwb " \
	"one batch per local day in done/"
check_cmd "gwctl spool verify passes" "$GW_BUILD/gwctl" spool verify "$GW_TMP/spool"

# Exact Wh per meter per day, from the simulator's known register values.
expected=""
for u in 1 2 3 4 5; do
	p=$((200 + 50 * u))
	exp=0
	[ $((u % 3)) -eq 0 ] && exp=$((4 * 500 * u))
	for d in 2026-03-02 2026-03-03; do
		expected+="PE000$u $d $((16 * p)) $exp"$'\n'
	done
done
actual=$(q "select i.meter_id, i.day, i.consumption, e.consumption
	from daily_registers i join daily_registers e using (meter_id, day)
	where i.obis = '1.8.0' and e.obis = '2.8.0' and i.day >= '2026-03-02'
	order by 1, 2")
check_eq "$actual"$'\n' "$expected" "daily import and export Wh exact for every meter and whole day"

check_eq "$(q "select count(*) from daily_usage where day between '2026-03-02' and '2026-03-03'
	and quality in ('measured', 'interpolated')")" 10 "whole days are measured or interpolated"
check_eq "$(q "select import_kwh, export_kwh from daily_usage where meter_id = 'PE0003' and day = '2026-03-02'")" \
	"5.600 6.000" "daily_usage shows kWh with three decimals"
check_eq "$(q "select count(*) from daily_usage where day = '2026-03-01' and quality = 'incomplete'")" \
	5 "the first, partial day is flagged incomplete"
check_eq "$(q "select count(*) from batch_ledger")" 3 "three batches in the ledger"
n_intervals=$(q "select count(*) from interval_readings where meter_id = 'PE0001' and obis = '1.8.0'
	and ts >= '2026-03-01T17:00:00Z' and ts < '2026-03-02T17:00:00Z'")
# 96 polls a day: every poll time had its cycle (paced_speed); the checks of
# a try with poll times skipped were set aside.
if [ "$n_intervals" -ge 88 ] && [ "$n_intervals" -le 97 ]; then
	ok "interval readings stored every 15 minutes ($n_intervals on a whole day)"
else
	not_ok "interval readings on a whole day: $n_intervals, expected about 96"
fi

# Loading the same batches again changes nothing (the ledger knows them).
before=$(q "select count(*) from interval_readings")
check_cmd "gwctl upload of already-loaded batches succeeds" \
	"$GW_BUILD/gwctl" upload --conninfo "$GW_PG_CONNINFO" "$GW_TMP"/spool/done/*.gwb
check_eq "$(q "select count(*) from interval_readings")" "$before" "re-upload adds no rows"
check_eq "$(q "select count(*) from batch_ledger")" 3 "re-upload adds no ledger rows"
finish
