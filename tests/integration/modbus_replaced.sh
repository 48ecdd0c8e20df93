#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/modbus_replaced.sh - a Modbus meter replaced in the
# night, told by its serial-number register (a profile with 96.1.0): the
# day is counted on the old meter and then on the new one (which starts
# from 0), exactly, with one meter_replaced event and no counter reset.
# metersim's "shop" meters (P_u = 200 + 50 u W, 06:00-22:00 local) draw no
# power at night, so the day's 16 P_u Wh are exact wherever the polls fall.
. "$(dirname "$0")/../lib.sh"

prof=$GW_TMP/profiles
mkdir -p "$prof"
cp "$GW_TOP"/profiles/*.prof "$prof/"
cat >>"$prof/abb_b23.prof" <<'PROF'

# the serial number, as some meters have it (for this test)
[register 96.1.0]
function = 3
address = 0x8900
type = uint32
unit = -
PROF

speed=2880
start=2026-03-01T15:00:00Z # 22:00 local
stop=2026-03-02T18:00:00Z  # 01:00 local on 2026-03-03
# the clocks stand at 22:00 local until the meters have been polled once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")
port=$(free_port)
start_metersim sim --tcp "127.0.0.1:$port" --meters 3 --first-unit 1 --load shop \
	--profile abb_b23 --profiles-dir "$prof" --tz Asia/Ho_Chi_Minh \
	--control "$GW_TMP/sim.ctl" "${clock[@]}" || { not_ok "metersim did not start"; finish; }

cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-mb
timezone = Asia/Ho_Chi_Minh
spool_dir = $GW_TMP/spool
profiles_dir = $prof
poll_interval = 15m
midnight_tolerance = 10m
seal_delay = 30m

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 500

[meter PE0001]
bus = b
unit = 1
profile = abb_b23

[meter PE0002]
bus = b
unit = 2
profile = abb_b23

[meter PE0003]
bus = b
unit = 3
profile = abb_b23
INI
gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" PE0001 PE0002 PE0003 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at "$stop" ||
	{ not_ok "the meters are polled"; finish; }
gw=$gw_pid
# Meter 2 is swapped at about 02:24 local on the 2nd (5.5 s after the
# release; anywhere from 00:00 to 06:00, 2.5 s to 10 s, would do).
sleep_until "$anchor" 5.5
echo "2:replaced" >"$GW_TMP/sim.ctl"
if wait_pid_exit 120 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to the stop time and exited 0"
else
	not_ok "gatewayd did not stop within 120 s"
fi
batch=$(ls "$GW_TMP"/spool/ready/*2026-03-02*.gwb 2>/dev/null | head -1)
[ -n "$batch" ] || { not_ok "no sealed batch for 2026-03-02"; finish; }
"$GW_BUILD/gwctl" spool dump "$batch" >"$GW_TMP/dump.csv" 2>&1
"$GW_BUILD/gwctl" spool dump --events "$batch" >"$GW_TMP/events.csv" 2>&1
for u in 1 3; do
	check_eq "$(grep ",PE000$u,1\.8\.0," "$GW_TMP/dump.csv" | cut -d, -f8,10)" "$((16 * (200 + 50 * u))),measured" \
		"PE000$u: 16 P_u Wh, measured"
done
# 1.8.0 = 1000000 u Wh at the clock start, nothing drawn before midnight
check_eq "$(grep ',PE0002,1\.8\.0,' "$GW_TMP/dump.csv" | cut -d, -f6-8,10)" "2000000,4800,4800,estimated" \
	"PE0002 on the 2nd: from the old meter's 2000000 Wh to the new one's 4800 Wh (from 0), 4800 Wh consumed, estimated"
check_eq "$(grep -c ',PE0002,,.*,meter_replaced,"serial 21000002 -> 21001002"' "$GW_TMP/events.csv")/$(grep -c 'counter_reset\|jump' "$GW_TMP/events.csv")" \
	"1/0" "one meter_replaced event from the serial-number register, no counter_reset or jump"
check_eq "$(sort "$GW_TMP/spool/serials" | cut -f1,2 | tr '\t\n' ': ')" "PE0001:21000001 PE0002:21001002 PE0003:21000003 " \
	"spool/serials keeps each meter's serial number"
finish
