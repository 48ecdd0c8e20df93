#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/iec_gateway.sh - end to end over IEC 62056-21: gatewayd
# polls three addressed metersim IEC meters on one RS-485 line (a socat pty
# pair, fixed 9600 baud, mode C readout with BCC) on an accelerated clock
# across a local midnight, and seals each meter's day into the spool. The
# simulated meters are "shops" (P_u = 200 + 50 u W from 06:00 to 22:00
# local, meters with u % 3 == 0 export 500 u W 10:00-14:00), so a whole day
# imports exactly 16 P_u Wh and exports 4 * 500 u Wh; no power flows around
# midnight, so the day's registers are exact however the polls fall.
# Meter 1002 is replaced in the night of the 2nd (another serial number,
# registers starting afresh): its day is still exact, counted on both
# meters, with a meter_replaced event and no counter reset.
. "$(dirname "$0")/../lib.sh"

if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi
socat pty,raw,echo=0,link="$GW_TMP/sim" pty,raw,echo=0,link="$GW_TMP/gw" \
	2>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/gw"

speed=2880
start=2026-03-01T15:00:00Z # 22:00 local
stop=2026-03-02T21:00:00Z  # 04:00 local on 2026-03-03
# the clocks stand at 22:00 local until the meters have been read once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")

: >"$GW_TMP/faults"
if start_metersim sim --iec "$GW_TMP/sim" --addresses 1001,1002,1003 --mode fixed \
	--baud 9600 --reaction-ms 20 --manufacturer GWs --tz Asia/Ho_Chi_Minh \
	--clock-offset 3000 --faults "$GW_TMP/faults" "${clock[@]}"; then
	ok "metersim serves three IEC meters on a pty"
else
	not_ok "metersim serves three IEC meters on a pty"; finish
fi

cat >"$GW_TMP/meters.csv" <<CSV
meter_id,bus,unit,profile
EL0001,rs485,1001,-
EL0002,rs485,1002,-
EL0003,rs485,1003,-
CSV
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-iec
timezone = Asia/Ho_Chi_Minh
spool_dir = spool
meters = meters.csv
poll_interval = 15m
midnight_tolerance = 10m
# a readout cycle of the three meters takes about 1 s real (48 simulated
# minutes at 2880x), more under load: the day is sealed once every meter
# can have been read after its end
seal_delay = 3h

[bus rs485]
type = iec62056-21
device = $GW_TMP/gw
mode = fixed
baud = 9600
timeout_ms = 1000
byte_timeout_ms = 300
max_clock_drift = 20m
INI
check_cmd "gatewayd --check accepts an iec62056-21 bus" \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --check

# Meter 1002 is swapped at about 02:24 local on the 2nd (5.5 s after the
# release at 2880x; anywhere from 00:00 to 06:00, 2.5 s to 10 s, would do):
# no power flows then, so no energy falls between the two meters. The old
# meter must have been read first (its serial number known): the clocks
# stand until every meter has been read once (a readout takes real time).
gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" EL0001 EL0002 EL0003 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at "$stop" ||
	{ not_ok "the meters are read: $(cat "$GW_TMP/spool/health" 2>&1)"; finish; }
gw=$gw_pid
sleep_until "$anchor" 5.5
echo "1002 replaced" >"$GW_TMP/faults"
if wait_pid_exit 120 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to the stop time and exited 0"
else
	not_ok "gatewayd did not stop within 120 s"
fi
grep -E "error|warn" "$GW_TMP/gatewayd.log" | head -5 | sed 's/^/# /'

batch=$(ls "$GW_TMP"/spool/ready/*2026-03-02*.gwb 2>/dev/null | head -1)
if [ -n "$batch" ]; then
	ok "the day 2026-03-02 is sealed into the spool"
else
	not_ok "no sealed batch for 2026-03-02"; ls -R "$GW_TMP/spool" | sed 's/^/# /'
	finish
fi
check_cmd "gwctl spool verify passes" "$GW_BUILD/gwctl" spool verify "$GW_TMP/spool"
"$GW_BUILD/gwctl" spool dump "$batch" >"$GW_TMP/dump.csv" 2>&1
for u in 1 2 3; do
	p=$((200 + 50 * u))
	exp=0
	[ $((u % 3)) -eq 0 ] && exp=$((4 * 500 * u))
	imp=$(awk -F, -v m="EL000$u" '$0 ~ m && $0 ~ /,1\.8\.0,/' "$GW_TMP/dump.csv")
	ex=$(awk -F, -v m="EL000$u" '$0 ~ m && $0 ~ /,2\.8\.0,/' "$GW_TMP/dump.csv")
	case "$imp" in
	*",$((16 * p)),"*) ok "EL000$u: 1.8.0 day consumption is 16 P_u = $((16 * p)) Wh" ;;
	*) not_ok "EL000$u 1.8.0 consumption, want $((16 * p)): '$imp'" ;;
	esac
	case "$ex" in
	*",$exp,"*) ok "EL000$u: 2.8.0 day consumption is $exp Wh" ;;
	*) not_ok "EL000$u 2.8.0 consumption, want $exp: '$ex'" ;;
	esac
done

# The meters' clocks run 50 minutes ahead (beyond max_clock_drift, 20
# minutes): one clock_drift event per meter (not one per poll), in the
# first day's batch. A clock counts as back in range only within half the
# allowance (10 minutes), so the offset must seem to shrink by 40 minutes
# for a second event: far more than a loaded machine's delay between the
# meter's answer and its time stamp (at 2880x, 0.1 s real is 5 minutes),
# which with an offset of 5 minutes and an allowance of 2 once made one.
"$GW_BUILD/gwctl" spool dump --events "$GW_TMP"/spool/ready/*2026-03-01*.gwb \
	>"$GW_TMP/events.csv" 2>&1
check_eq "$(grep -c clock_drift "$GW_TMP/events.csv")" 3 \
	"one clock_drift event per meter whose clock is 3000 s ahead"
"$GW_BUILD/gwctl" spool dump --events "$batch" >"$GW_TMP/events2.csv" 2>&1
check_eq "$(grep -c clock_drift "$GW_TMP/events2.csv")" 0 "no repeated drift events the next day"

# The replacement.
check_eq "$(grep ',EL0002,1\.8\.0,' "$GW_TMP/dump.csv" | cut -d, -f6-8,10)" "2000000,17145,4800,estimated" \
	"EL0002 on the 2nd: from the old meter's 2000000 Wh to the new one's 12345 + 4800 Wh, 4800 Wh consumed, estimated"
check_eq "$(grep -c ',EL0002,,.*,meter_replaced,"serial SIM-1002 -> SIM-1002-R"' "$GW_TMP/events2.csv")/$(grep -c 'counter_reset\|jump' "$GW_TMP/events2.csv")" \
	"1/0" "one meter_replaced event with both serial numbers, no counter_reset or jump"
check_eq "$(sort "$GW_TMP/spool/serials" | cut -f1,2 | tr '\t\n' ': ')" "EL0001:SIM-1001 EL0002:SIM-1002-R EL0003:SIM-1003 " \
	"spool/serials keeps each meter's serial number"
# and when the new meter was first read: 00:00 to 06:00 local on the 2nd
swap=$(awk -F'\t' '$1 == "EL0002" { print $3 }' "$GW_TMP/spool/serials")
if [ -n "$swap" ] && [ "$swap" -ge 1772384400000 ] && [ "$swap" -lt 1772406000000 ]; then
	ok "spool/serials keeps when EL0002 was replaced ($swap)"
else
	not_ok "spool/serials keeps when EL0002 was replaced (got '$swap')"
fi
# The other meters' days are not touched by the swap: their quality is the
# one the rule gives their own reading times (midnight_quality: at 2880x a
# poll that a loaded machine delays by 0.2 s real is past the 10 minutes of
# midnight_tolerance, and interpolated is then right).
want="EL0001:$(midnight_quality "$GW_TMP/spool" EL0001 1.8.0 Asia/Ho_Chi_Minh 2026-03-02 600)"
want="$want EL0003:$(midnight_quality "$GW_TMP/spool" EL0003 1.8.0 Asia/Ho_Chi_Minh 2026-03-02 600)"
got=$(grep ',EL000[13],1\.8\.0,' "$GW_TMP/dump.csv" | cut -d, -f4,10 | tr ',\n' ': ' | sed 's/ $//')
check_eq "$got" "$want" "the other meters' days have the quality their own readings give"
# After a restart the known serials raise nothing; a damaged line is named
# and skipped.
printf 'EL0009\tSIM-9\tnot-a-time\nno tab here\n' >>"$GW_TMP/spool/serials"
anchor=$(date +%s.%N)
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --clock-anchor "$anchor" --clock-start 2026-03-02T21:05:00Z \
	--clock-speed "$speed" --stop-at 2026-03-02T22:00:00Z 2>"$GW_TMP/gatewayd2.log" &
gw=$!
track_pid $gw
wait_pid_exit 60 $gw || not_ok "gatewayd did not stop within 60 s"
check_eq "$(grep -c 'replaced\|serial number' "$GW_TMP/gatewayd2.log")/$(grep -c 'EL0002' "$GW_TMP/spool/serials")" "0/1" \
	"after a restart the same meters raise no meter_replaced event"
check_eq "$(grep -cE "spool/serials:(4|5): not \"meter_id<TAB>serial<TAB>ms\"; line skipped" "$GW_TMP/gatewayd2.log")" 2 \
	"the two damaged lines of spool/serials are named with file:line"
finish
