#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/clock_jump.sh - a gateway whose clock jumps does not
# seal days by it (clockcheck.h). Simulated Modbus meters keep the true
# time; gatewayd is given a clock that is wrong:
#   A. at boot, 300 days ahead of the last time it saw (a bad RTC): held
#      (alarm clock_jump), no false day sealed, readings collected and
#      journaled; restarted with the right clock, what the wrong clock
#      stamped is set aside and counted (dropped_bad_time), and the real
#      day is sealed with its exact consumption;
#   B. at boot, 3 days ahead because the gateway really was off: held
#      until `gwctl clock trust`, then it starts over from the journal and
#      the readings it kept out go into their days;
#   C. at run time, a step of the wall clock by 300 days and back
#      (libfaketime steps CLOCK_REALTIME, not CLOCK_MONOTONIC): held while
#      it lasts, corrected when it comes back;
#   D. a spool of the version before (its state has no "seen") whose RTC
#      comes back 4 hours behind the journal's newest reading: held behind
#      by the journal's word, nothing set aside.
# Every reading journaled is accounted for (clock_readings.py).
. "$(dirname "$0")/../lib.sh"

zone=Asia/Ho_Chi_Minh
speed=8640 # a day in 10 real seconds
sim_args=(--meters 2 --profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone")

gw_ini() { # ID PORT [MAX_JUMP]
	cat <<INI
[gateway]
id = $1
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
poll_interval = 15m

[clock]
max_jump = ${3:-1d}

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $2
timeout_ms = 300

[meter M1]
bus = b
unit = 1
profile = abb_b23

[meter M2]
bus = b
unit = 2
profile = abb_b23
INI
}
status() { sed -n "s/^$2=//p" "$1/status" 2>/dev/null; }
batches() { ls "$1/ready" "$1/done" 2>/dev/null | grep '\.gwb$' | sed -E 's/^.*_([0-9-]+)_r[0-9]+\.gwb$/\1/' | sort -u | tr '\n' ' '; }
ms() { date -d "$1" +%s000; }
withheld_gt() { [ "$(status "$1" clock_withheld)" -gt "$2" ] 2>/dev/null; } # SPOOL N
daily() { # SPOOL DAY METER: the day's 1.8.0 consumption
	local f
	f=$(ls "$1"/ready/*_"$2"_r*.gwb 2>/dev/null | tail -1)
	[ -n "$f" ] && "$GW_BUILD/gwctl" spool dump "$f" | awk -F, -v m="$3" '$4 == m && $5 == "1.8.0" { print $8 }'
}
expected() { # ANCHOR START DAY METER-UNIT
	"$GW_BUILD/metersim" "${sim_args[@]}" --clock-anchor "$1" --clock-start "$2" \
		--clock-speed "$speed" --print-expected "$3" | awk -v u="$4" '$1 == u { print $2 }'
}

# ---- A: a bad RTC at boot, then the right clock again ----
A=$GW_TMP/a
mkdir -p "$A"
start=2026-03-02T14:00:00Z # 21:00 local
clock=(--clock-anchor "@$A/anchor" --clock-start "$start" --clock-speed "$speed")
port=$(free_port)
start_metersim simA --tcp "127.0.0.1:$port" "${sim_args[@]}" "${clock[@]}" ||
	{ not_ok "metersim starts"; finish; }
gw_ini sub-a "$port" >"$A/gw.ini"
gatewayd_released "$A/anchor" "$A/spool" "$A/run1.log" M1 M2 -- \
	"$GW_BUILD/gatewayd" -c "$A/gw.ini" "${clock[@]}" --stop-at 2026-03-02T18:00:00Z ||
	{ not_ok "A: the meters are polled"; finish; }
clock=(--clock-anchor "$anchor" --clock-start "$start" --clock-speed "$speed")
wait $gw_pid
check_eq "$?/$(batches "$A/spool")" "0/2026-03-02 " "A: a first run seals 2026-03-02"
grep -q '^seen=2026-03-02T1[78]:' "$A/spool/state" &&
	ok "A: the state records the last time the gateway saw" ||
	not_ok "A: state: $(cat "$A/spool/state")"

# the same gateway boots with its clock 300 days ahead
"$GW_BUILD/gatewayd" -c "$A/gw.ini" --clock-anchor "$anchor" --clock-start 2026-12-27T14:00:00Z \
	--clock-speed "$speed" 2>"$A/run2.log" &
gw=$!
track_pid $gw
if wait_for 10 grep -q '^clock=ahead' "$A/spool/status"; then
	ok "A: the clock 300 days ahead of the last time seen is held at start"
else
	not_ok "A: clock held at start: $(status "$A/spool" clock)"
fi
# keep collecting for about 7 simulated hours, and until readings were
# taken by the held clock (a loaded machine polls late)
sleep 3
wait_for 30 withheld_gt "$A/spool" 0
check_eq "$(status "$A/spool" clock_witness)" "state" "A: the witness is the spool's state"
case ",$(status "$A/spool" alarm)," in
*,clock_jump,*) ok "A: alarm clock_jump while held" ;;
*) not_ok "A: alarm: $(status "$A/spool" alarm)" ;;
esac
out=$("$GW_BUILD/gwctl" status "$A/spool")
rc=$?
case "$out" in
*"clock: HELD, ahead"*"300 days after the last time"*"gwctl clock trust"*)
	ok "A: gwctl status explains the hold and what to run" ;;
*) not_ok "A: gwctl status: $out" ;;
esac
check_eq "$rc" 1 "A: gwctl status exits 1 while the clock is held"
withheld=$(status "$A/spool" clock_withheld)
[ "${withheld:-0}" -gt 0 ] && ok "A: collecting goes on: $withheld readings journaled, kept out of days" ||
	not_ok "A: readings withheld: '$withheld'"
check_eq "$(batches "$A/spool")" "2026-03-02 " "A: no day is sealed while the clock is held"
kill -TERM $gw
wait $gw
check_eq "$?" 0 "A: the held gateway stops cleanly"
withheld=$(status "$A/spool" clock_withheld)
check_eq "$(batches "$A/spool")" "2026-03-02 " "A: nothing sealed at the stop either"
seen=$(sed -n 's/^seen=//p' "$A/spool/state")
case "$seen" in
2026-03-0[23]T*) ok "A: the state never records the held clock's time (seen $seen)" ;;
*) not_ok "A: state seen=$seen" ;;
esac

# the clock is right again
"$GW_BUILD/gatewayd" -c "$A/gw.ini" "${clock[@]}" --stop-at 2026-03-03T18:00:00Z 2>"$A/run3.log"
check_eq "$?" 0 "A: with the right clock the gateway runs to its stop time"
check_eq "$(status "$A/spool" clock)" "trusted" "A: the clock is trusted again"
check_eq "$(status "$A/spool" dropped_bad_time)" "$withheld" \
	"A: the $withheld readings the wrong clock stamped are counted as dropped_bad_time"
case ",$(status "$A/spool" alarm)," in
*,readings_dropped,*) ok "A: alarm readings_dropped" ;;
*) not_ok "A: alarm: $(status "$A/spool" alarm)" ;;
esac
"$GW_BUILD/gwctl" status "$A/spool" | grep -q "^dropped readings since start: .*bad_time $withheld" &&
	ok "A: gwctl status shows the dropped readings by reason" ||
	not_ok "A: gwctl status: $("$GW_BUILD/gwctl" status "$A/spool" | grep dropped)"
ls "$A"/spool/quarantine/*.gwj >/dev/null 2>&1 &&
	ok "A: the journal segments holding them are set aside in quarantine/" ||
	not_ok "A: no journal segment in quarantine/"
check_eq "$(batches "$A/spool")" "2026-03-02 2026-03-03 " "A: only real days are sealed"
for u in 1 2; do
	check_eq "$(daily "$A/spool" 2026-03-03 M$u)" "$(expected "$anchor" "$start" 2026-03-03 $u)" \
		"A: M$u 2026-03-03 consumption exact"
done
python3 "$GW_TOP/tests/integration/clock_readings.py" "$GW_BUILD/gwctl" "$A/spool" "$zone" \
	"$(ms 2026-06-01)" A >"$A/check.out"
cat "$A/check.out"
check_eq "$(sed -n 's/.*ahead=\([0-9]*\).*/\1/p' "$A/check.out")" "$withheld" \
	"A: the readings set aside are the ones the wrong clock stamped"

# ---- B: off for three days, the clock is right: gwctl clock trust ----
B=$GW_TMP/b
mkdir -p "$B"
start=2026-03-02T14:00:00Z
clock=(--clock-anchor "@$B/anchor" --clock-start "$start" --clock-speed "$speed")
port=$(free_port)
start_metersim simB1 --tcp "127.0.0.1:$port" "${sim_args[@]}" "${clock[@]}" ||
	{ not_ok "metersim starts"; finish; }
gw_ini sub-b "$port" >"$B/gw.ini"
gatewayd_released "$B/anchor" "$B/spool" "$B/run1.log" M1 M2 -- \
	"$GW_BUILD/gatewayd" -c "$B/gw.ini" "${clock[@]}" --stop-at 2026-03-02T18:00:00Z ||
	{ not_ok "B: the meters are polled"; finish; }
wait $gw_pid
check_eq "$?" 0 "B: a first run"
# three days later by every clock: the gateway was switched off
later=(--clock-anchor "$anchor" --clock-start 2026-03-05T14:00:00Z --clock-speed "$speed")
port=$(free_port)
start_metersim simB2 --tcp "127.0.0.1:$port" "${sim_args[@]}" "${later[@]}" ||
	{ not_ok "metersim starts"; finish; }
gw_ini sub-b "$port" >"$B/gw.ini"
"$GW_BUILD/gatewayd" -c "$B/gw.ini" "${later[@]}" --stop-at 2026-03-06T18:00:00Z 2>"$B/run2.log" &
gw=$!
track_pid $gw
wait_for 10 grep -q '^clock=ahead' "$B/spool/status" &&
	ok "B: three days after the last time seen is held too (nothing tells a bad RTC from a long power cut)" ||
	not_ok "B: clock at start: $(status "$B/spool" clock)"
wait_for 10 sh -c "[ \"\$(sed -n 's/^clock_withheld=//p' '$B/spool/status')\" -gt 8 ]" ||
	not_ok "B: readings withheld"
"$GW_BUILD/gwctl" clock trust "$B/spool" >"$B/trust.out" 2>&1
rc=$?
check_eq "$rc/$(cat "$B/trust.out")" "0/clock: trusted" "B: gwctl clock trust releases the hold"
grep -q "clock: trusted (confirmed by the operator); [0-9]* readings and events withheld go into their days" \
	"$B/run2.log" && ok "B: the log says who confirmed the clock" || not_ok "B: release not logged"
grep -q "starting over from the journal" "$B/run2.log" &&
	ok "B: the gateway starts over from the journal" || not_ok "B: no restart in the log"
if wait_pid_exit 60 $gw; then
	wait $gw
	check_eq "$?" 0 "B: the gateway runs to its stop time"
else
	not_ok "B: gatewayd did not stop"
fi
check_eq "$(status "$B/spool" clock)/$(status "$B/spool" dropped_bad_time)" "trusted/0" \
	"B: trusted, nothing dropped"
check_eq "$(batches "$B/spool")" "2026-03-02 2026-03-03 2026-03-04 2026-03-05 2026-03-06 " \
	"B: the days of the power cut (estimated across the gap) and the day after it are sealed"
python3 "$GW_TOP/tests/integration/clock_readings.py" "$GW_BUILD/gwctl" "$B/spool" "$zone" \
	"$(ms 2027-01-01)" B

# ---- C: a step of the wall clock at run time, and back ----
faketime_lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
if [ -z "$faketime_lib" ]; then
	not_ok "libfaketime is installed (tools/deps.sh installs faketime)"
	finish
fi
C=$GW_TMP/c
mkdir -p "$C"
start=2026-03-02T14:00:00Z # 21:00 local
clock=(--clock-anchor "@$C/anchor" --clock-start "$start" --clock-speed "$speed")
port=$(free_port)
start_metersim simC --tcp "127.0.0.1:$port" "${sim_args[@]}" "${clock[@]}" ||
	{ not_ok "metersim starts"; finish; }
gw_ini sub-c "$port" >"$C/gw.ini"
echo "+0" >"$C/faketime"
# (no --stop-at: the stepped clock would reach it; stopped at 01:00 local on
# 2026-03-04 by the true clock, 11.7 s after the anchor)
gatewayd_released "$C/anchor" "$C/spool" "$C/run.log" M1 M2 -- \
	env FAKETIME_TIMESTAMP_FILE="$C/faketime" FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	LD_PRELOAD="$faketime_lib" "$GW_BUILD/gatewayd" -c "$C/gw.ini" "${clock[@]}" ||
	{ not_ok "C: the meters are polled"; finish; }
gw=$gw_pid
# at about 04:00 local on 2026-03-03, once its day before is sealed (a
# loaded machine seals late), the wall clock steps 3000 real seconds ahead:
# 300 simulated days
sleep_until "$anchor" 3
wait_for 30 test -e "$C/spool/ready/sub-c_2026-03-02_r0.gwb" || not_ok "C: 2026-03-02 was not sealed"
echo "+3000" >"$C/faketime"
if wait_for 10 grep -q '^clock_witness=step' "$C/spool/status"; then
	ok "C: a step of the wall clock the monotonic clock did not make is held"
else
	not_ok "C: clock after the step: $(status "$C/spool" clock)/$(status "$C/spool" clock_witness)"
fi
withheld=$(status "$C/spool" clock_withheld)
sleep 1.5
# until the held clock has stamped readings (a loaded machine polls late)
wait_for 30 withheld_gt "$C/spool" "${withheld:-0}"
check_eq "$(status "$C/spool" clock)" "ahead" "C: held ahead"
"$GW_BUILD/gwctl" status "$C/spool" | grep -q "clock stepped +300 days" &&
	ok "C: gwctl status says the clock stepped 300 days" ||
	not_ok "C: gwctl status: $("$GW_BUILD/gwctl" status "$C/spool" | grep clock)"
check_eq "$(batches "$C/spool")" "2026-03-02 " "C: no day sealed by the stepped clock"
echo "+0" >"$C/faketime"
wait_for 10 grep -q "starting over from the journal" "$C/run.log" &&
	ok "C: the clock stepped back: corrected, the gateway starts over from the journal" ||
	not_ok "C: no restart after the clock came back"
sleep_until "$anchor" 11.7
# and until 2026-03-03 is sealed (a loaded machine seals late)
wait_for 30 test -e "$C/spool/ready/sub-c_2026-03-03_r0.gwb"
kill -TERM $gw
if wait_pid_exit 60 $gw; then
	wait $gw
	check_eq "$?" 0 "C: the gateway stops cleanly"
else
	not_ok "C: gatewayd did not stop"
fi
check_eq "$(status "$C/spool" clock)" "trusted" "C: trusted again"
check_eq "$(batches "$C/spool")" "2026-03-02 2026-03-03 " "C: only real days sealed"
for u in 1 2; do
	check_eq "$(daily "$C/spool" 2026-03-03 M$u)" "$(expected "$anchor" "$start" 2026-03-03 $u)" \
		"C: M$u 2026-03-03 consumption exact"
done
python3 "$GW_TOP/tests/integration/clock_readings.py" "$GW_BUILD/gwctl" "$C/spool" "$zone" \
	"$(ms 2026-06-01)" C >"$C/check.out"
cat "$C/check.out"
ahead=$(sed -n 's/.*ahead=\([0-9]*\).*/\1/p' "$C/check.out")
[ "${ahead:-0}" -gt 0 ] && check_eq "$(status "$C/spool" dropped_bad_time)" "$ahead" \
	"C: the $ahead readings stamped while the clock was ahead are counted (dropped_bad_time)" ||
	not_ok "C: no reading was stamped while the clock was ahead"

# ---- D: an old spool, its RTC behind the journal ----
D=$GW_TMP/d
mkdir -p "$D"
start=2026-03-02T14:00:00Z
clock=(--clock-anchor "@$D/anchor" --clock-start "$start" --clock-speed "$speed")
port=$(free_port)
start_metersim simD --tcp "127.0.0.1:$port" "${sim_args[@]}" "${clock[@]}" ||
	{ not_ok "metersim starts"; finish; }
gw_ini sub-d "$port" 2h >"$D/gw.ini"
# until 05:00 local on 2026-03-03: 2026-03-02 sealed, the journal goes on
gatewayd_released "$D/anchor" "$D/spool" "$D/run1.log" M1 M2 -- \
	"$GW_BUILD/gatewayd" -c "$D/gw.ini" "${clock[@]}" --stop-at 2026-03-02T22:00:00Z ||
	{ not_ok "D: the meters are polled"; finish; }
wait $gw_pid
check_eq "$?/$(batches "$D/spool")" "0/2026-03-02 " "D: a first run"
sed -i '/^seen=/d' "$D/spool/state"
# the RTC says 01:00 local: within max_jump of the first open day's start,
# four hours before the newest reading the journal holds (a clock that
# stands there: the check at start must not depend on how long it takes)
"$GW_BUILD/gatewayd" -c "$D/gw.ini" --clock-anchor "@$D/never" \
	--clock-start 2026-03-02T18:00:00Z --clock-speed "$speed" 2>"$D/run2.log" &
gw=$!
track_pid $gw
wait_for 10 grep -q '^clock=behind' "$D/spool/status" &&
	ok "D: held behind: the journal holds readings hours after the clock" ||
	not_ok "D: clock $(status "$D/spool" clock)"
grep -q "the journal holds readings up to" "$D/run2.log" && ok "D: the log says why" ||
	not_ok "D: log: $(grep clock "$D/run2.log" | head -2)"
kill -TERM $gw
wait $gw
check_eq "$(status "$D/spool" dropped_bad_time)/$(ls "$D/spool/quarantine" | wc -l)" "0/0" \
	"D: the journal's readings are kept: nothing set aside"
finish
