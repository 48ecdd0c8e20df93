#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/clock_rewind.sh - a spool a wrong clock moved forward
# is recovered by `gwctl clock rewind` without losing a reading.
#
# The damage is made the way it happens: a gateway boots with its clock
# 300 days ahead and an operator wrongly confirms it (gwctl clock trust),
# so that it seals every day up to the false date, real days early and a
# false day with readings; one false batch is then taken as uploaded, and
# the state loses its "seen" line as a spool of the version before clock
# checks had none. With the right clock the gateway holds (the spool has
# sealed days the clock has not reached), keeps collecting, refuses `gwctl
# clock trust`, and `gwctl clock rewind` refuses while it runs. Stopped,
# the rewind sets the spool back; started again, the gateway seals the real
# day anew, exactly, with every reading it ever took by a right clock.
. "$(dirname "$0")/../lib.sh"

zone=Asia/Ho_Chi_Minh
speed=8640
sim_args=(--meters 2 --profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone")
port=$(free_port)
S=$GW_TMP/spool
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-r
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
poll_interval = 15m

[clock]
max_jump = 1d

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
INI
status() { sed -n "s/^$1=//p" "$S/status" 2>/dev/null; }
days_in() { ls "$S/$1" 2>/dev/null | grep '\.gwb$' | sed -E 's/^.*_([0-9-]+)_r[0-9]+\.gwb$/\1/' | sort -u | tr '\n' ' '; }
ms() { date -d "$1" +%s000; }

# Each run has a clock of its own that stands at the run's start until the
# gateway has started, and each run ends at a --stop-at: however slow the
# machine, the simulated time a step sees is the time it chose.
# Metersim's counters are a function of the simulated time and of the
# time they count from (its --clock-start): the meters of the runs by a
# right clock all count from run 1's start, so that a day's readings from
# two runs fit together.
t_ref=2026-03-02T14:00:00Z
sim_pid=
phase=0
# stop_meters: stops the meters of the run before.
stop_meters() {
	if [ -n "$sim_pid" ]; then
		kill -TERM "$sim_pid" 2>/dev/null
		wait "$sim_pid" 2>/dev/null
		sim_pid=
	fi
}
# new_phase START: a new standing clock at START for the gateway ($clock,
# anchor file $af); the health file of the run before is removed, so that
# it does not pass for this run's poll.
new_phase() {
	stop_meters
	phase=$((phase + 1))
	af=$GW_TMP/anchor$phase
	clock=(--clock-anchor "@$af" --clock-start "$1" --clock-speed "$speed")
	rm -f "$S/health"
}
# meters_standing: the meters on the standing clock of the phase (and
# counting from its start).
meters_standing() {
	start_metersim sim$phase --tcp "127.0.0.1:$port" "${sim_args[@]}" "${clock[@]}" || return 1
	sim_pid=$!
}
# meters_released START ANCHOR: the meters on the clock a gateway standing
# at START was released on at ANCHOR (`date +%s.%N`), counting from
# $t_ref. They are started after the release: meters on this clock that
# the gateway polled while its clock stood would give it values of
# another time than the one it stamps (it finds them offline until they
# listen, a few cycles).
meters_released() {
	local frac=${2#*.}000000 r_us a_us
	r_us=$((${2%.*} * 1000000 + 10#${frac:0:6}))
	a_us=$((r_us - ($(date -ud "$1" +%s) - $(date -ud "$t_ref" +%s)) * 1000000 / speed))
	start_metersim sim$phase --tcp "127.0.0.1:$port" "${sim_args[@]}" --clock-speed "$speed" \
		--clock-start "$t_ref" --clock-anchor "$((a_us / 1000000)).$(printf %06d $((a_us % 1000000)))" ||
		return 1
	sim_pid=$!
}
# run_ends PID WHAT: waits (90 s) until gatewayd PID stops at its
# --stop-at; its exit status in $rc.
run_ends() {
	rc=
	if wait_pid_exit 90 "$1"; then
		wait "$1"
		rc=$?
	else
		not_ok "$2: gatewayd did not stop at its --stop-at"
		kill -TERM "$1" 2>/dev/null
		wait "$1"
	fi
}

# Run 1, 21:00 local on 2026-03-02 to 01:00 on 2026-03-03, a right clock.
new_phase "$t_ref"
meters_standing || { not_ok "metersim starts"; finish; }
gatewayd_released "$af" "$S" "$GW_TMP/run1.log" M1 M2 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-02T18:00:00Z ||
	{ not_ok "the meters are polled"; finish; }
run_ends $gw_pid "run 1"
check_eq "$rc/$(days_in ready)" "0/2026-03-02 " "a first run seals 2026-03-02 by a right clock"

# Run 2: the meters' time goes on from 01:00 local on 2026-03-03; the
# gateway's clock boots 300 days ahead, at 23:00 local on 2026-12-27, and
# is held. The operator confirms it while it stands (the old behaviour, on
# purpose): it seals every day up to 2026-12-26 at once, and 2026-12-27,
# with the readings of its last hour, at 00:30 local on 2026-12-28; it
# stops at 15:00 local on 2026-12-28, before that day can be sealed.
# The meters stand with it (their readings, stamped by the wrong clock,
# never reach a batch).
new_phase 2026-03-02T18:00:00Z
meters_standing || { not_ok "metersim starts again (run 2)"; finish; }
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" --clock-anchor "@$af" --clock-start 2026-12-27T16:00:00Z \
	--clock-speed "$speed" --stop-at 2026-12-28T08:00:00Z 2>"$GW_TMP/run2.log" &
gw=$!
track_pid $gw
wait_health 60 "$S" online M1 M2 || not_ok "run 2 polls the meters"
wait_for 20 grep -q '^clock=ahead' "$S/status" || not_ok "the jumped clock is held"
"$GW_BUILD/gwctl" clock trust "$S" >/dev/null
wait_for 30 grep -q '^clock=trusted' "$S/status" || not_ok "the operator confirms the wrong clock"
clock_release "$af" >/dev/null
run_ends $gw "run 2"
ls "$S/ready" | grep -q _2026-12-27_ || not_ok "the confirmed wrong clock seals its false day"
next=$(sed -n 's/^next_day=//p' "$S/state")
case "$next" in
2026-12-2[89]) ok "the spool is moved forward: next_day=$next" ;;
*) not_ok "state: $(cat "$S/state")" ;;
esac
case "$(days_in ready)" in
"2026-03-02 2026-03-03 "*2026-12-27*) ok "real days sealed early and false days sealed ($(ls "$S/ready" | wc -l) batches)" ;;
*) not_ok "batches: $(days_in ready)" ;;
esac
# one false day was uploaded; the state has no "seen" (the version before)
mv "$S"/ready/sub-r_2026-12-27_r0.gwb "$S/done/"
sed -i '/^seen=/d' "$S/state"

# Run 3, the clock right again, from 17:00 local on 2026-03-03 past
# midnight to 00:36 local on 2026-03-04: both midnights of 2026-03-03 are
# in what runs 1 and 3 took. While its clock stands (the meters are
# started when it is released): it holds (the spool has sealed days the
# clock has not reached), gwctl says so, refuses to trust the clock and to
# rewind.
new_phase 2026-03-03T10:00:00Z
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-03T17:36:00Z \
	2>"$GW_TMP/run3.log" &
gw=$!
track_pid $gw
wait_for 60 grep -q '^clock=behind' "$S/status" &&
	ok "with the right clock the gateway holds: the spool has sealed days the clock has not reached" ||
	not_ok "run 3 clock: $(status clock)"
"$GW_BUILD/gwctl" status "$S" | grep -q "stop gatewayd and run gwctl clock rewind" &&
	ok "gwctl status says to run gwctl clock rewind" ||
	not_ok "gwctl status: $("$GW_BUILD/gwctl" status "$S" | grep clock)"
"$GW_BUILD/gwctl" clock trust "$S" >"$GW_TMP/trust.out" 2>&1
check_eq "$?" 1 "gwctl clock trust is refused: trusting the clock would drop every reading as late"
grep -q "gwctl clock rewind" "$GW_TMP/trust.out" && ok "and says why" ||
	not_ok "trust refusal: $(cat "$GW_TMP/trust.out")"
"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/gw.ini" --now 2026-03-03T10:00:00Z >"$GW_TMP/busy.out" 2>&1
rc=$?
check_eq "$rc/$(grep -c 'runs on .*stop it first' "$GW_TMP/busy.out")" "1/1" \
	"gwctl clock rewind refuses while gatewayd runs on the spool"
# A second gatewayd on the same spool is refused.
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>"$GW_TMP/second.log"
check_eq "$?/$(grep -c 'is in use by process' "$GW_TMP/second.log")" "1/1" \
	"a second gatewayd on the same spool is refused"
meters_released 2026-03-03T10:00:00Z "$(clock_release "$af")" ||
	{ not_ok "metersim starts again (run 3)"; finish; }
wait_for 30 sh -c "[ \"\$(sed -n 's/^clock_withheld=//p' '$S/status')\" -gt 20 ]" &&
	ok "the gateway keeps collecting meanwhile (readings journaled, kept out of days)" ||
	not_ok "withheld: $(status clock_withheld)"
run_ends $gw "run 3"
check_eq "$(days_in ready | grep -c 2026-03-03)" 1 "nothing was sealed or dropped meanwhile"

# The operator stops it and rewinds a few minutes later.
now=2026-03-03T17:40:00Z
cp "$S/state" "$GW_TMP/state.before"
"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/gw.ini" --now "$now" --dry-run >"$GW_TMP/dry.out" 2>&1
check_eq "$?" 0 "gwctl clock rewind --dry-run"
cmp -s "$S/state" "$GW_TMP/state.before" && ok "a dry run changes nothing" || not_ok "the dry run changed the state"
grep -q "days sealed again from 2026-03-03" "$GW_TMP/dry.out" &&
	ok "the plan seals again from the first day the wrong clock sealed (2026-03-03)" ||
	{ not_ok "plan"; sed 's/^/#   /' "$GW_TMP/dry.out"; }
grep -q "in the database already: sub-r_2026-12-27_r0.gwb" "$GW_TMP/dry.out" &&
	ok "the plan names the false day already in the database" || not_ok "uploaded false day not named"

# A batch that cannot give its readings back (emptied after upload by the
# size bound) is not sealed again: asked to, the rewind refuses.
cp -a "$S" "$GW_TMP/copy"
: >"$GW_TMP/copy/ready/sub-r_2026-03-03_r0.gwb"
sed "s|^spool_dir = spool|spool_dir = copy|" "$GW_TMP/gw.ini" >"$GW_TMP/copy.ini"
"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/copy.ini" --now "$now" --to 2026-03-03 \
	>"$GW_TMP/refused.out" 2>&1
rc=$?
check_eq "$rc/$(grep -c 'cannot be sealed again without losing readings' "$GW_TMP/refused.out")" "1/1" \
	"a day whose batch lost its readings is not sealed again: refused"
cmp -s "$GW_TMP/copy/state" "$S/state" && ok "and nothing changed" || not_ok "the refused rewind changed the state"

"$GW_BUILD/gwctl" clock rewind -c "$GW_TMP/gw.ini" --now "$now" >"$GW_TMP/rewind.out" 2>&1
check_eq "$?" 0 "gwctl clock rewind"
sed 's/^/# /' "$GW_TMP/rewind.out"
check_eq "$(sed -n 's/^next_day=//p' "$S/state")/$(sed -n 's/^seen=//p' "$S/state" | cut -c1-19)" \
	"2026-03-03/${now%Z}" "the state: next_day=2026-03-03, seen the time given"
check_eq "$(days_in ready)$(days_in done)" "2026-03-02 " "only the good day stays in ready/ and done/"
ls "$S"/quarantine/*.gwb.rewound >/dev/null 2>&1 && ok "each batch set aside has a note" || not_ok "no notes"
grep -q "it is in the database: remove it there" "$S/quarantine/sub-r_2026-12-27_r0.gwb.rewound" &&
	ok "the uploaded false day's note says to remove it from the database" || not_ok "note of the uploaded day"
"$GW_BUILD/gwctl" spool ls "$S" | grep -q "sub-r_2026-03-03_r0.gwb .*rewound: its day is sealed again" &&
	ok "gwctl spool ls shows why a batch was set aside" || not_ok "spool ls"
[ ! -e "$S/rewind" ] && ok "the rewind finished (no plan left)" || not_ok "plan file left"

# Started again with the right clock: the real day is sealed again.
# Run 4 from the time the rewind was given to 13:00 local on 2026-03-04
# (that day is sealed at 00:30 local on 2026-03-05).
new_phase "$now"
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-04T06:00:00Z \
	2>"$GW_TMP/run4.log" &
gw=$!
track_pid $gw
wait_for 60 _gw_running_or_gone "$GW_TMP/run4.log" 0 $gw || not_ok "run 4 did not start within 60 s"
meters_released "$now" "$(clock_release "$af")" || { not_ok "metersim starts again (run 4)"; finish; }
run_ends $gw "run 4"
check_eq "$rc/$(status clock)" "0/trusted" "after the rewind the clock is trusted and the gateway runs"
check_eq "$(ls "$S/ready" | tr '\n' ' ')" "sub-r_2026-03-02_r0.gwb sub-r_2026-03-03_r1.gwb " \
	"2026-03-03 is sealed again as revision 1"
f=$S/ready/sub-r_2026-03-03_r1.gwb
for u in 1 2; do
	exp=$("$GW_BUILD/metersim" "${sim_args[@]}" --print-expected 2026-03-03 |
		awk -v u=$u '$1 == u { print $2 }')
	got=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, -v m=M$u '$4 == m && $5 == "1.8.0" { print $8 }')
	check_eq "$got" "$exp" "M$u 2026-03-03 consumption exact after the rewind"
done
python3 "$GW_TOP/tests/integration/clock_readings.py" "$GW_BUILD/gwctl" "$S" "$zone" \
	"$(ms 2026-06-01)" rewound
finish
