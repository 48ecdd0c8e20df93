#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/clock_ntp.sh - NTP steps the gateway's clock back by an
# hour, across midnight, right after the day was sealed: the gateway's
# clock ran an hour fast (libfaketime, +1 simulated hour) and is set right
# (+0) the moment the day's batch is written. The step is within max_jump:
# the clock stays trusted (no alarm clock_jump). The readings taken in the
# hour lived twice are stamped at or before readings already taken: they
# are journaled with their mark and set aside (dropped_clock_back, alarm
# readings_dropped), never put between the readings already taken; the
# sealed day gets no second revision, the next day starts where it ended,
# and its consumption is exact. Two "home" meters draw power at night: the
# first reading after the hour lived twice, on the grid point of the last
# one before it, is set aside too, else it would put an hour's energy a
# few milliseconds after that one (a "jump" beyond max_power).
# The step comes after every register was read by the fast clock on the
# new day (else the step would bring a register's readings into the sealed
# day as late readings): on a loaded machine a read can time out, and when
# none comes in time the try is set aside and run again on a slower clock
# (paced_speed).
. "$(dirname "$0")/../lib.sh"

faketime_lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
if [ -z "$faketime_lib" ]; then
	not_ok "libfaketime is installed (tools/deps.sh installs faketime)"
	finish
fi
zone=Asia/Ho_Chi_Minh
paced_speed 7200 # an hour in half a real second (on the first try)
sim_args=(--meters 2 --profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone")
start=2026-03-02T13:00:00Z # 20:00 local, the true time
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")
port=$(free_port)
port2=$(free_port)
start_metersim sim --tcp "127.0.0.1:$port" "${sim_args[@]}" "${clock[@]}" &&
	start_metersim home --tcp "127.0.0.1:$port2" --meters 2 --first-unit 3 --load home \
		--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone" "${clock[@]}" ||
	{ not_ok "metersim starts"; finish; }
S=$GW_TMP/spool
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-ntp
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
poll_interval = 15m

[clock]
max_jump = 2h

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 300

[meter M1]
bus = b
unit = 1
profile = abb_b23

[meter M2]
bus = b
unit = 2
profile = abb_b23

[bus h]
type = modbus-tcp
host = 127.0.0.1
port = $port2
timeout_ms = 300

[meter H3]
bus = h
unit = 3
profile = abb_b23

[meter H4]
bus = h
unit = 4
profile = abb_b23
INI
status() { sed -n "s/^$1=//p" "$S/status" 2>/dev/null; }
ms() { date -d "$1" +%s000; }

awk -v s="$speed" 'BEGIN { print "+" 3600 / s }' >"$GW_TMP/faketime" # an hour fast
# the clocks stand at 20:00 until the four meters have been polled once
gatewayd_released "$GW_TMP/anchor" "$S" "$GW_TMP/gw.log" M1 M2 H3 H4 -- \
	env FAKETIME_TIMESTAMP_FILE="$GW_TMP/faketime" FAKETIME_NO_CACHE=1 FAKETIME_DONT_FAKE_MONOTONIC=1 \
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
	LD_PRELOAD="$faketime_lib" "$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" \
	--stop-at 2026-03-03T17:45:00Z || { not_ok "the meters are polled"; finish; }
gw=$gw_pid
# registers: every meter and register the sealed day holds
registers() { "$GW_BUILD/gwctl" spool dump "$S/ready/sub-ntp_2026-03-02_r0.gwb" | tail -n +2 | cut -d, -f4,5 | sort -u; }
# read_on_new_day: every register of the sealed day has a reading in the
# journal, on 2026-03-03 by the fast clock: the readings the step back
# brings into 2026-03-02 are then older than one already taken
read_on_new_day() {
	[ -e "$S/ready/sub-ntp_2026-03-02_r0.gwb" ] &&
		! registers | grep -vxFf <("$GW_BUILD/gwctl" spool journal "$S" 2>/dev/null |
			awk -F, -v d="$(ms 2026-03-02T17:00:00Z)" '$1 == "reading" && $5 >= d { print $3 "," $4 }' |
			sort -u) | grep -q .
}
# 00:30 by the fast clock: 2026-03-02 is sealed; NTP steps the clock back
if wait_for "$(paced_s 15)" test -e "$S/ready/sub-ntp_2026-03-02_r0.gwb"; then
	wait_for "$(paced_s 5)" read_on_new_day ||
		paced_not_ok "every register is read on 2026-03-03 by the fast clock before the step"
	echo "+0" >"$GW_TMP/faketime"
	ok "2026-03-02 is sealed by the fast clock, and the clock is stepped back an hour"
else
	not_ok "2026-03-02 was not sealed"
	finish
fi
if wait_pid_exit "$(paced_s 60)" $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd runs to its stop time"
else
	not_ok "gatewayd did not stop"
fi
grep -Eq "clock: stepped -(59 min|1 h 0 min) \(within max_jump: taken as it comes\)" "$GW_TMP/gw.log" &&
	ok "the step back is logged and taken as it comes" ||
	not_ok "step not logged: $(grep 'clock' "$GW_TMP/gw.log" | head -3)"
check_eq "$(status clock)/$(status clock_holds)" "trusted/0" "the clock was never held"
case ",$(status alarm)," in
*,clock_jump,*) not_ok "alarm clock_jump raised: $(status alarm)" ;;
*,readings_dropped,*) ok "alarm readings_dropped, no alarm clock_jump" ;;
*) not_ok "alarm: $(status alarm)" ;;
esac
# (a cycle that ran past the next poll time on a machine slower than the
# clock hands readings of a day over after its seal: a revision 1 that
# says nothing of the step; such a try is set aside and run again slower)
batches=$(ls "$S/ready" | tr '\n' ' ')
if [ "$batches" = "sub-ntp_2026-03-02_r0.gwb sub-ntp_2026-03-03_r0.gwb " ]; then
	ok "no day is sealed twice: one batch per day, revision 0"
else
	skipped_or_not_ok "no day is sealed twice: one batch per day, revision 0 (got '$batches')"
fi
marked=$("$GW_BUILD/gwctl" spool journal "$S" | grep -c ',clock_back$')
back=$(status dropped_clock_back)
[ "$marked" -gt 0 ] && check_eq "$back" "$marked" \
	"the $marked readings of the hour lived twice are journaled with their mark and counted (dropped_clock_back)" ||
	not_ok "no reading was stamped in the hour lived twice (dropped_clock_back=$back)"
# 3 to 5 poll cycles (an hour, give or take the cycle at its ends) of 4
# meters with 7 registers each
[ "$back" -ge 84 ] && [ "$back" -le 140 ] && ok "about an hour of readings set aside ($back)" ||
	not_ok "readings set aside: $back"
"$GW_BUILD/gwctl" status "$S" | grep -q "clock_back: read after the clock stepped back" &&
	ok "gwctl status explains clock_back" || not_ok "gwctl status: $("$GW_BUILD/gwctl" status "$S" | grep -A3 dropped)"
# whether the hour lived twice reached back into 2026-03-02 (the step came
# before 01:00 by the fast clock, 30 simulated minutes after the seal)
"$GW_BUILD/gwctl" spool journal "$S" | grep ',clock_back$' |
	awk -F, -v d="$(ms 2026-03-02T17:00:00Z)" '$5 < d { n++ }
		END { printf "# readings set aside as clock_back stamped on 2026-03-02: %d\n", n }'
dump() { "$GW_BUILD/gwctl" spool dump "$S/ready/sub-ntp_$1_r0.gwb" | tail -n +2; }
dump 2026-03-02 >"$GW_TMP/d1.csv"
dump 2026-03-03 >"$GW_TMP/d2.csv"
for m in M1 M2 H3 H4; do
	for o in 1.8.0 2.8.0; do
		end=$(awk -F, -v m=$m -v o=$o '$4 == m && $5 == o { print $7 }' "$GW_TMP/d1.csv")
		beg=$(awk -F, -v m=$m -v o=$o '$4 == m && $5 == o { print $6 }' "$GW_TMP/d2.csv")
		check_eq "$beg" "$end" "$m $o: 2026-03-03 starts where 2026-03-02 ended ($end)"
	done
done
for u in 1 2; do
	exp=$("$GW_BUILD/metersim" "${sim_args[@]}" "${clock[@]}" --print-expected 2026-03-03 |
		awk -v u=$u '$1 == u { print $2 }')
	got=$(awk -F, -v m=M$u '$4 == m && $5 == "1.8.0" { print $8 }' "$GW_TMP/d2.csv")
	# exact needs a reading near both midnights: on a loaded machine a poll
	# comes late by more than midnight_tolerance (10 min, 0.08 s at 7200x)
	if [ "$got" != "$exp" ] &&
		[ "$(midnight_quality "$S" "M$u" 1.8.0 "$zone" 2026-03-03 600)" = interpolated ]; then
		paced_not_ok "M$u 2026-03-03 consumption exact (got '$got', expected '$exp'; no reading near a midnight)"
	else
		check_eq "$got" "$exp" "M$u 2026-03-03 consumption exact (the clock was right all day)"
	fi
done
ev=$(for f in "$S"/ready/*.gwb; do "$GW_BUILD/gwctl" spool dump --events "$f"; done |
	grep -c 'counter_reset\|jump')
check_eq "$ev" 0 "no register went backwards: no counter_reset or jump event"
python3 "$GW_TOP/tests/integration/clock_readings.py" "$GW_BUILD/gwctl" "$S" "$zone" \
	"$(ms 2026-06-01)" ntp
finish
