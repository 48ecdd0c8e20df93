#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A daylight-saving day end to end: metersim and gatewayd on one accelerated
# clock in Europe/Berlin across 2026-03-29, which has 23 hours. The day is
# sealed with 92 quarter-hour readings per register and the exact Wh the
# simulator implies (shop load: 200 + 50*u W from 06:00 to 22:00 local,
# still 16 hours on a 23-hour day). No database: the spool is checked with
# gwctl spool dump.
. "$(dirname "$0")/../lib.sh"

zone=Europe/Berlin
paced_speed 2880 cycles
# the clocks stand at 21:00 local until the meters have been polled once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start 2026-03-28T20:00:00Z --clock-speed "$speed")
port=$(free_port)
start_metersim sim --tcp "127.0.0.1:$port" --meters 2 --first-unit 1 \
	--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone" "${clock[@]}" ||
	{ not_ok "metersim did not start"; finish; }

cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = berlin-1
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
poll_interval = 15m
midnight_tolerance = 10m
seal_delay = 30m

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $port

[meter M1]
bus = b
unit = 1
profile = abb_b23

[meter M2]
bus = b
unit = 2
profile = abb_b23
INI
gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" M1 M2 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-29T23:00:00Z ||
	{ not_ok "the meters are polled"; finish; }
gw=$gw_pid
if wait_pid_exit "$(paced_s 120)" $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd crossed the DST day and exited 0"
else
	not_ok "gatewayd did not stop within $(paced_s 120) s"
fi
f=$(ls "$GW_TMP"/spool/ready/berlin-1_2026-03-29_r*.gwb 2>/dev/null | head -1)
if [ -n "$f" ]; then ok "the 23-hour day was sealed"; else not_ok "no batch for 2026-03-29"; finish; fi
rows=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, '$5 == "1.8.0" { print $4, $8 }')
check_eq "$rows" "M1 4000
M2 4800" "exact Wh on 2026-03-29 (23 hours)"
# 23 hours hold 92 quarter-hour polls (a 24-hour day 96): every poll time
# had its cycle (paced_speed: a try with poll times skipped is set aside
# and run again on a slower clock).
n=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, '$5 == "1.8.0" && $4 == "M1" { print $11 }')
if [ "$n" -ge 88 ] && [ "$n" -le 92 ]; then
	ok "$n readings on the 23-hour day (at most 92)"
else
	not_ok "readings on the 23-hour day: $n, expected 88..92"
fi
q=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, '$5 == "1.8.0" { print $10 }' | sort -u | tr '\n' ' ')
case "$q" in
"measured "|"interpolated "|"interpolated measured "|"measured interpolated ") ok "both midnights found ($q)" ;;
*) not_ok "quality on the DST day: $q" ;;
esac
finish
