#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/iec_big.sh - a readout of thousands of data lines (a
# day of 15-minute load profile on four channels, padded with service
# data sets to 200 kB) is read whole by `gwctl read` and by gatewayd, both
# bounded by the one limit of iec_parse.h (GW_IEC_MAX_*); one beyond
# that limit is refused whole (tests/unit/test_iec_parse.c: too_many).
. "$(dirname "$0")/../lib.sh"

if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi
socat pty,raw,echo=0,link="$GW_TMP/sim" pty,raw,echo=0,link="$GW_TMP/gw" \
	2>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/gw"

speed=600
start=2026-03-01T16:00:00Z # 23:00 local
stop=2026-03-01T18:00:00Z  # 01:00 local on the 2nd
# the clocks stand at 23:00 local through the reads by gwctl and until
# gatewayd has read the meter once (a 200 kB readout takes real time)
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")
sim() {
	start_metersim "$1" --iec "$GW_TMP/sim" --addresses 1001 --mode fixed --baud 19200 \
		--reaction-ms 20 --manufacturer GWs --tz Asia/Ho_Chi_Minh --load-profile \
		--profile-hours 24 --profile-registers --block-bytes "$2" "${clock[@]}"
}
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-big
timezone = Asia/Ho_Chi_Minh
spool_dir = spool
poll_interval = 15m
seal_delay = 30m

[clock]
anchor = @$GW_TMP/anchor
start = $start
speed = $speed

[bus rs485]
type = iec62056-21
device = $GW_TMP/gw
mode = fixed
baud = 19200
timeout_ms = 2000
byte_timeout_ms = 500
max_clock_drift = 10m

[meter EL0001]
bus = rs485
address = 1001
INI

# Beyond the limit: 400 kB of short service lines are some 18000 data
# sets, more than GW_IEC_MAX_SETS: refused whole, with a reason.
if sim huge 400000; then
	ok "metersim sends 400 kB readouts of 18000 data lines"
else
	not_ok "metersim serves a meter"; finish
fi
"$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" EL0001 --trace "$GW_TMP/trace0" >"$GW_TMP/r0.out" 2>&1
check_eq "$?/$(cat "$GW_TMP/r0.out")" "1/gwctl read: meter EL0001 (address '1001' on bus rs485): bound reached" \
	"gwctl read refuses a readout beyond the limit whole, and says so"
check_eq "$(grep -c 'rejected: too many data sets' "$GW_TMP/trace0")" 1 "the trace names the reason"
kill "${_gw_pids[-1]}"
wait_pid_exit 10 "${_gw_pids[-1]}"

# Within it: 200 kB, a day of profile on four channels and 9000 lines.
if sim big 200000; then
	ok "metersim sends 200 kB readouts with a day of load profile"
else
	not_ok "metersim serves a meter"; finish
fi
"$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" EL0001 --tsv --trace "$GW_TMP/trace" >"$GW_TMP/r.out" 2>&1
check_eq "$?" 0 "gwctl read of a 200 kB readout exits 0"
check_eq "$(grep -c '^P\.01:1\.5\.0	' "$GW_TMP/r.out")/$(grep -c '^P\.01:2\.5\.0	' "$GW_TMP/r.out")" "96/96" \
	"gwctl read: a day of quarter hours on each demand channel"
if grep -q 'accepted: [0-9]\{4,\} data sets' "$GW_TMP/trace"; then
	ok "the whole readout is accepted: $(grep -o 'accepted: [0-9]* data sets' "$GW_TMP/trace")"
else
	not_ok "the whole readout accepted"; grep '#' "$GW_TMP/trace" | tail -3 | sed 's/^/#   /'
fi

gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" EL0001 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --stop-at "$stop" ||
	{ not_ok "gatewayd reads the meter: $(cat "$GW_TMP/spool/health" 2>&1)"; finish; }
gw=$gw_pid
if wait_pid_exit 120 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to the stop time and exited 0"
else
	not_ok "gatewayd did not stop within 120 s"
fi
check_eq "$(grep -c 'read failed\|too many\|out of memory' "$GW_TMP/gatewayd.log")" 0 \
	"gatewayd reads the 200 kB readouts without a failure"
batch=$(ls "$GW_TMP"/spool/ready/*2026-03-01*.gwb 2>/dev/null | head -1)
if [ -n "$batch" ]; then
	"$GW_BUILD/gwctl" spool dump --intervals "$batch" >"$GW_TMP/i.csv" 2>&1
	n=$(grep -c '^EL0001,P\.01:1\.5\.0,' "$GW_TMP/i.csv")
	if [ "$n" -ge 96 ]; then
		ok "gatewayd keeps the day's profile from one readout: $n quarter hours of P.01:1.5.0"
	else
		not_ok "gatewayd keeps the day's profile (got $n quarter hours)"
	fi
else
	not_ok "the day 2026-03-01 is sealed"; ls -R "$GW_TMP/spool" | sed 's/^/# /'
fi

finish
