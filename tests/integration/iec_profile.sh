#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/iec_profile.sh - IEC 62056-21 load profiles, untrusted
# and used to fill gaps, end to end: gatewayd polls four metersim IEC
# meters whose clocks run 5 minutes slow and which keep a load profile
# (1.5.0/2.5.0, average power per quarter hour), on an accelerated clock.
# The meters go dark (no answer) from 23:00 local on the 1st to 02:00 on
# the 3rd; when they answer again gatewayd asks each for its profile over
# the gap in programming mode (R5 P.01(start;end)).
#  - EL0001 answers: its gap days become measured/interpolated from its
#    own intervals, with exactly its real consumption (16 P_u Wh a day);
#  - EL0002 (wrong BCC), EL0003 (answer cut short), EL0004 (refuses
#    programming mode): a clear log line, a counted failure, and the plain
#    estimated fallback, never a wrong reading.
# No meter's 5-minute-slow clock makes a counter_reset or extra energy,
# and the profile's channels stay series of their own (P.01:1.5.0).
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
start=2026-03-01T15:00:00Z # 22:00 local on the 1st
stop=2026-03-03T01:00:00Z  # 08:00 local on the 3rd
# the clocks stand at 22:00 local until the meters have been read once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")

: >"$GW_TMP/faults"
if start_metersim sim --iec "$GW_TMP/sim" --addresses 1001,1002,1003,1004 --mode fixed \
	--baud 9600 --reaction-ms 20 --manufacturer GWs --tz Asia/Ho_Chi_Minh \
	--clock-offset -300 --load-profile --faults "$GW_TMP/faults" "${clock[@]}"; then
	ok "metersim serves four IEC meters with a load profile, clocks 5 minutes slow"
else
	not_ok "metersim serves four IEC meters"; finish
fi

cat >"$GW_TMP/meters.csv" <<CSV
meter_id,bus,unit,profile
EL0001,rs485,1001,-
EL0002,rs485,1002,-
EL0003,rs485,1003,-
EL0004,rs485,1004,-
CSV
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-lp
timezone = Asia/Ho_Chi_Minh
spool_dir = spool
meters = meters.csv
poll_interval = 15m
midnight_tolerance = 10m
seal_delay = 30m
revision_window = 3d
retry_backoff_max = 2

[bus rs485]
type = iec62056-21
device = $GW_TMP/gw
mode = fixed
baud = 9600
timeout_ms = 1000
byte_timeout_ms = 300
max_clock_drift = 10m
backfill_after = 2h
INI
check_cmd "gatewayd --check accepts backfill_after" \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --check

gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" \
	EL0001 EL0002 EL0003 EL0004 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at "$stop" ||
	{ not_ok "the meters are read: $(cat "$GW_TMP/spool/health" 2>&1)"; finish; }
gw=$gw_pid
# dark from 23:00 local on the 1st (1 h after the release: 1.25 s) ...
sleep_until "$anchor" 1.25
echo "* silent" >"$GW_TMP/faults"
# ... to 02:00 local on the 3rd (28 h: 35 s); then EL0002..4 misbehave
# in programming mode only
sleep_until "$anchor" 35
printf '1002 lp-bcc\n1003 lp-cut\n1004 lp-refuse\n' >"$GW_TMP/faults"
if wait_pid_exit 120 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to the stop time and exited 0"
else
	not_ok "gatewayd did not stop within 120 s"
fi
grep -E "error|warn|gap" "$GW_TMP/gatewayd.log" | head -20 | sed 's/^/# /'

# The newest revision of a day's batch.
latest() { ls "$GW_TMP"/spool/ready/*"_$1_r"*.gwb 2>/dev/null | sort -V | tail -1; }
b2=$(latest 2026-03-02)
b1=$(latest 2026-03-01)
if [ -n "$b2" ] && [ -n "$b1" ]; then
	ok "the days 2026-03-01 and 2026-03-02 are sealed ($(basename "$b2"))"
else
	not_ok "sealed batches of both days"; ls -R "$GW_TMP/spool" | sed 's/^/# /'
	finish
fi
check_cmd "gwctl spool verify passes" "$GW_BUILD/gwctl" spool verify "$GW_TMP/spool"
"$GW_BUILD/gwctl" spool dump "$b2" >"$GW_TMP/d2.csv" 2>&1
"$GW_BUILD/gwctl" spool dump "$b1" >"$GW_TMP/d1.csv" 2>&1
for f in "$GW_TMP"/spool/ready/*.gwb; do
	"$GW_BUILD/gwctl" spool dump --events "$f"
done >"$GW_TMP/events.csv" 2>&1

# EL0001: filled from its own profile.
gap1='gap 2026-03-01T1[56]:[0-9:.]*Z \.\.'
check_eq "$(grep -c "meter EL0001: $gap1 .* filled from its load profile: [1-9][0-9]* register points ([1-9][0-9]* derived" "$GW_TMP/gatewayd.log")" 1 \
	"EL0001: its gap is filled once from its load profile, with derived points"
p1=250
check_eq "$(grep ',EL0001,1\.8\.0,' "$GW_TMP/d2.csv" | cut -d, -f8)" "$((16 * p1))" \
	"EL0001 on the 2nd (dark all day): 1.8.0 consumption exactly 16 P_u = $((16 * p1)) Wh"
q=$(grep ',EL0001,1\.8\.0,' "$GW_TMP/d2.csv" | cut -d, -f10)
case "$q" in
measured | interpolated) ok "EL0001 on the 2nd is $q, not estimated" ;;
*) not_ok "EL0001 on the 2nd: quality measured or interpolated, got '$q'" ;;
esac
check_eq "$(grep ',EL0001,1\.8\.0,' "$GW_TMP/d2.csv" | cut -d, -f6,7)" "1000000,1004000" \
	"EL0001's midnights inside the gap are exact: 1000000 and 1004000 Wh"
check_eq "$(grep ',EL0001,1\.8\.0,' "$GW_TMP/d1.csv" | cut -d, -f7)" "1000000" \
	"EL0001's revised 1st ends on the filled midnight, 1000000 Wh"

# EL0002..4: every fault is logged, counted, and falls back to estimated.
# The gap of the test began with the last good read before 23:00 local on
# the 1st (16:00Z); a slow machine may add a short gap of its own later (a
# read that timed out), which is asked for and logged too: the counts are
# of the gap the meters were made dark for.
# A read that times out on a loaded machine after the meter answered
# again opens a gap of its own; if that happens before the third try, the
# gateway gives the test's gap up early and says why ("it went silent
# again"): then the tries before it are counted, each with its reason.
grep -E "meter EL000[0-9]: gap " "$GW_TMP/gatewayd.log" | grep -v "$gap1" | sed 's/^/# another gap: /'
tries() { # METER REASON: "tries/given up" of the test's gap
	local l=$GW_TMP/gatewayd.log again
	again=$(grep -c "meter $1: $gap1 .*not filled from its load profile: it went silent again before another try; given up" "$l")
	if [ "$again" = 1 ]; then
		echo "early:$(grep -c "meter $1: $gap1 .* not filled from its load profile: $2" "$l")"
	else
		echo "$(grep -c "meter $1: $gap1 .* not filled from its load profile: $2" "$l")/$(grep -c "meter $1: $gap1 .* not filled from its load profile: $2.*given up, its days stay estimated" "$l")"
	fi
}
for m in "EL0002:its answer has a wrong BCC:wrong BCC" "EL0003:its answer was cut short:answer cut short" \
	"EL0004:it refuses programming mode:refuses programming mode"; do
	IFS=: read -r id why what <<<"$m"
	t=$(tries "$id" "$why")
	case $t in
	early:[12]) ok "$id ($what): ${t#early:} tries each logged, then given up when the meter went silent again (a loaded machine)" ;;
	*) check_eq "$t" "3/1" "$id ($what): three tries, each logged, the third giving up" ;;
	esac
done
check_eq "$(grep -o 'meter EL0002 health: .* [1-9][0-9]* CRC errors' "$GW_TMP/gatewayd.log" | wc -l)/$(grep -o 'meter EL0003 health: .* [1-9][0-9]* malformed' "$GW_TMP/gatewayd.log" | wc -l)/$(grep -o 'meter EL0004 health: .* [1-9][0-9]* exceptions' "$GW_TMP/gatewayd.log" | wc -l)" \
	"1/1/1" "the failures are counted in each meter's health (CRC errors, malformed, exceptions)"
for u in 2 3 4; do
	check_eq "$(grep ",EL000$u,1\.8\.0," "$GW_TMP/d2.csv" | cut -d, -f10)" "estimated" \
		"EL000$u on the 2nd: the plain estimated fallback"
done

# A clock 5 minutes slow: no counter reset, no jump, no extra energy, and
# the profile stays a series of its own.
check_eq "$(grep -c 'counter_reset\|,jump,' "$GW_TMP/events.csv")" 0 \
	"no counter_reset or jump from the meters' 5-minute-slow clocks"
"$GW_BUILD/gwctl" spool dump --intervals "$b2" >"$GW_TMP/i2.csv" 2>&1
check_eq "$(grep -c '^EL0001,P\.01:1\.5\.0,' "$GW_TMP/i2.csv")/$(grep -c ',1\.5\.0,' "$GW_TMP/i2.csv")" "96/0" \
	"EL0001's profile 1.5.0 is the series P.01:1.5.0 (96 quarter hours on the 2nd), never the register 1.5.0"
# (at 2880x a millisecond of the machine's load is 3 s: the offset is
# measured to within a minute or two here, to the second on a real clock)
check_eq "$(grep '^EL0001,P\.01:1\.5\.0,' "$GW_TMP/i2.csv" | cut -d, -f3 |
	awk -F'[T:]' '{ s = ($3 % 15) * 60 + $4; if (s < 180 || s > 420) n++ } END { print n + 0 }')" 0 \
	"the 5-minute-slow meter's intervals land 5 minutes after its own quarter hours"
check_eq "$(grep -c 'P\.01:[0-9]*\.8\.' "$GW_TMP/i2.csv")" 0 \
	"no energy series of the profile besides the registers"
finish
