#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/poll_overrun.sh - a bus whose poll cycle does not fit
# its poll interval is never skipped silently. Two Modbus TCP buses (two
# metersims on loopback), three meters each, a 5 s poll interval on a clock
# 5 times real time (a cycle every real second). Meter 2 of bus
# "slow" starts answering late through
# metersim's control FIFO (each of the three requests of a read 400 ms,
# 2 simulated seconds, late): every cycle of that bus then overruns.
# The other bus's cycles have a whole real second before they overrun.
# Checked, each by waiting for the status file with a deadline:
#   - spool/status counts the bus's overruns and skipped poll times and
#     keeps the cycles' durations; the other bus has none;
#   - the log says so on the 1st, 2nd, 4th, 8th cycle behind in a row,
#     naming the bus, the interval, the duration and what to do;
#   - the alarm poll_overrun is raised, and gwctl status shows the bus
#     with ALARM and exits 1;
#   - the meter is fixed (fault off): the bus keeps up again, logged once,
#     the alarm is cleared after 5 cycles in time, gwctl status exits 0;
#   - the meter is slow again and raises it again; a SIGHUP with a longer
#     poll_interval (15 s) ends it: the new interval's cycles keep up.
. "$(dirname "$0")/../lib.sh"

PROF=$GW_TOP/profiles
speed=5
anchor=$(date +%s.%N)
clock=(--clock-anchor "$anchor" --clock-start 2026-03-02T01:00:00Z --clock-speed "$speed")
spool=$GW_TMP/spool
port_slow=$(free_port)
port_fast=$(free_port)

start_metersim slow --tcp "127.0.0.1:$port_slow" --meters 3 --profile eastron_sdm120 \
	--profiles-dir "$PROF" --control "$GW_TMP/slow.ctl" "${clock[@]}" ||
	{ not_ok "metersim of bus slow starts"; finish; }
start_metersim fast --tcp "127.0.0.1:$port_fast" --meters 3 --first-unit 4 \
	--profile eastron_sdm120 --profiles-dir "$PROF" "${clock[@]}" ||
	{ not_ok "metersim of bus fast starts"; finish; }

# write_config POLL_INTERVAL
write_config() {
	cat >"$GW_TMP/gw.ini" <<EOF
[gateway]
id = it-overrun
timezone = UTC
spool_dir = $spool
profiles_dir = $PROF
poll_interval = $1

[bus slow]
type = modbus-tcp
host = 127.0.0.1
port = $port_slow
timeout_ms = 3000

[bus fast]
type = modbus-tcp
host = 127.0.0.1
port = $port_fast
timeout_ms = 3000

[meter s1]
bus = slow
unit = 1
profile = eastron_sdm120
[meter s2]
bus = slow
unit = 2
profile = eastron_sdm120
[meter s3]
bus = slow
unit = 3
profile = eastron_sdm120
[meter f4]
bus = fast
unit = 4
profile = eastron_sdm120
[meter f5]
bus = fast
unit = 5
profile = eastron_sdm120
[meter f6]
bus = fast
unit = 6
profile = eastron_sdm120
EOF
}

# st KEY: the value gatewayd last wrote for KEY into spool/status.
st() { sed -n "s/^$1=//p" "$spool/status" 2>/dev/null; }
# at_least KEY N: KEY's value is a number >= N.
at_least() { local v; v=$(st "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ] 2>/dev/null; }
# is KEY VALUE
is() { [ "$(st "$1")" = "$2" ]; }
alarm_has() { case ",$(st alarm)," in *",$1,"*) return 0 ;; esac; return 1; }
no_alarm() { ! alarm_has "$1" && [ -n "$(st alarm)" ]; }
log=$GW_TMP/gatewayd.log

write_config 5s
"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>"$log" &
gw=$!
track_pid $gw

# Both buses read first (a bus's first cycle is its longest so far, which
# the status shows within a second).
if wait_for 30 at_least poll_cycles.slow 1 && wait_for 30 at_least poll_cycles.fast 1; then
	ok "spool/status counts the cycles of both buses"
else
	not_ok "poll cycles in spool/status: $(grep '^poll_' "$spool/status" 2>&1 | tr '\n' ' ')"
fi
check_eq "$(st poll_buses)/$(st poll_interval_s)/$(st poll_late_tolerance_ms)" "slow,fast/5/1250" \
	"spool/status names the buses polled, the interval and the tolerance of a start (250 ms real x 5)"
check_eq "$(st poll_overrun.slow)/$(st poll_alarm.slow)" "0/no" "no overrun while every meter answers at once"

# ---- meter 2 of bus slow answers each request 400 ms late -------------
echo "2:slow:400" >"$GW_TMP/slow.ctl"
if wait_for 60 at_least poll_behind_in_row.slow 8; then
	ok "the slow bus falls behind in 8 cycles in a row"
else
	not_ok "the slow bus behind in a row: $(grep '^poll_.*slow' "$spool/status" | tr '\n' ' ')"
fi
if wait_for 10 alarm_has poll_overrun; then
	ok "the alarm poll_overrun is raised"
else
	not_ok "alarm poll_overrun: alarm=$(st alarm)"
fi
check_eq "$(st poll_alarm.slow)/$(st poll_alarm.fast)" "yes/no" "spool/status names the bus that raises it"
over=$(st poll_overrun.slow)
skipped=$(st poll_skipped.slow)
if [ "${over:-0}" -ge 8 ] && [ "${skipped:-0}" -ge "$over" ]; then
	ok "its overruns ($over) are counted with the poll times they skipped ($skipped)"
else
	not_ok "overruns and skipped poll times of bus slow: $over, $skipped"
fi
last=$(st poll_last_ms.slow)
max=$(st poll_max_ms.slow)
if [ "${last:-0}" -ge 5000 ] && [ "${max:-0}" -ge "$last" ]; then
	ok "the last cycle's duration ($last ms) is over the 5 s interval, the longest ($max ms) kept"
else
	not_ok "durations of bus slow: last $last, max $max"
fi
check_eq "$(st poll_overrun.fast)/$(st poll_skipped.fast)" "0/0" \
	"the other bus has no overrun and skipped nothing (longest cycle $(st poll_max_ms.fast) ms)"

"$GW_BUILD/gwctl" status "$spool" >"$GW_TMP/status1.out" 2>&1
rc=$?
check_eq "$rc" 1 "gwctl status exits 1 while the alarm is raised"
if grep -q '^alarm: .*poll_overrun' "$GW_TMP/status1.out" &&
	grep -Eq "^  slow +[0-9]+ +[0-9]+ +[1-9][0-9]* +[1-9][0-9]* .*ALARM poll_overrun" "$GW_TMP/status1.out" &&
	grep -Eq '^  fast +[0-9]+ +[0-9]+ +0 +0 ' "$GW_TMP/status1.out" &&
	grep -q 'poll cycles (poll_interval 5 s; late: started more than 1.2 s after' "$GW_TMP/status1.out" &&
	grep -q 'fewer meters on this bus, a longer poll_interval, a faster line or a lower timeout_ms, or more buses' \
		"$GW_TMP/status1.out"; then
	ok "gwctl status shows each bus's cycles, the alarm on bus slow and what to do"
else
	not_ok "gwctl status during the overruns:"
	sed 's/^/#   /' "$GW_TMP/status1.out"
fi

# The log: the run of overruns from its first cycle, at growing intervals.
grep 'bus slow: poll cycle overran' "$log" >"$GW_TMP/overran.log"
runs=$(sed -n 's/.* \([0-9]*\) cycles* in a row behind.*/\1/p' "$GW_TMP/overran.log" | tr '\n' ' ')
case "$runs" in
"1 2 4 8 "*) ok "the overruns are logged on the 1st, 2nd, 4th, 8th ... in a row ($runs), $over in all" ;;
*) not_ok "overrun log lines in a row: '$runs'" ;;
esac
n=$(echo "$runs" | wc -w)
max_n=0
for k in 1 2 4 8 16 32 64 128; do [ "$k" -le "$(st poll_behind_in_row.slow)" ] && max_n=$((max_n + 1)); done
[ "$n" -le "$max_n" ] && ok "no other overrun is logged ($n lines)" ||
	not_ok "$n overrun lines for $(st poll_behind_in_row.slow) in a row"
if grep -Eq 'warn: bus slow: poll cycle overran: it took [0-9.]+ s for 3 meters against a poll_interval of 5 s, [0-9]+ poll times? skipped; 1 cycle in a row behind; fewer meters on this bus' "$GW_TMP/overran.log"; then
	ok "a log line names the bus, the duration, the interval, the poll times skipped and what to do"
else
	not_ok "overrun log line:"
	head -2 "$GW_TMP/overran.log" | sed 's/^/#   /'
fi
check_eq "$(grep -c 'bus slow: alarm poll_overrun: ' "$log")" 1 "the alarm is logged once, as an error"
check_eq "$(grep -c 'bus fast: poll cycle overran' "$log")" 0 "no overrun is logged of the other bus"
check_eq "$(grep -c 'keep up again' "$log")" 0 "no recovery is logged while the meter is slow"

# ---- the meter is fixed -------------------------------------------------
echo "2:none" >"$GW_TMP/slow.ctl"
if wait_for 60 is poll_alarm.slow no && wait_for 10 no_alarm poll_overrun; then
	ok "the alarm is cleared once the bus keeps up again"
else
	not_ok "alarm after the fix: $(st alarm), poll_alarm.slow=$(st poll_alarm.slow)"
fi
check_eq "$(st poll_behind_in_row.slow)" 0 "spool/status: no cycle behind in a row"
check_eq "$(grep -c 'bus slow: poll cycles keep up again after [0-9]* behind in a row' "$log")" 1 \
	"the recovery is logged once"
check_eq "$(grep -c 'bus slow: alarm poll_overrun cleared: 5 cycles in a row in time' "$log")" 1 \
	"the alarm's end is logged once"
"$GW_BUILD/gwctl" status "$spool" >"$GW_TMP/status2.out" 2>&1
check_eq "$?" 0 "gwctl status exits 0 again"
if grep -Eq "^  slow +[0-9]+ +[0-9]+ +[1-9][0-9]* +[1-9][0-9]* +[0-9.]+ m?s +[0-9.]+ (m?s|min) +[0-9]+$" "$GW_TMP/status2.out"; then
	ok "gwctl status keeps the counts of bus slow, without ALARM"
else
	not_ok "gwctl status after the fix:"
	sed 's/^/#   /' "$GW_TMP/status2.out"
fi

# ---- slow again, then a longer poll_interval by SIGHUP ------------------
echo "2:slow:400" >"$GW_TMP/slow.ctl"
if wait_for 60 alarm_has poll_overrun; then
	ok "the slow meter raises poll_overrun again"
else
	not_ok "alarm with the meter slow again: $(st alarm)"
fi
write_config 15s
kill -HUP $gw
if wait_for 30 is config_generation 2 && wait_for 30 is poll_interval_s 15; then
	ok "the reload with poll_interval = 15s is applied"
else
	not_ok "reload: config_generation=$(st config_generation) poll_interval_s=$(st poll_interval_s)"
fi
check_eq "$(alarm_has poll_overrun && echo raised || echo none)/$(st poll_alarm.slow)" none/no \
	"the new workers start afresh: the alarm is not raised"
# The worker starts afresh on the new interval: its first cycle with the
# slow meter (6 s of the 15) is the longest so far, which the status shows
# within a second; the health file (every 10 s) shows three cycles.
if wait_for 60 at_least poll_max_ms.slow 5000; then
	check_eq "$(st poll_overrun.slow)/$(st poll_skipped.slow)/$(st poll_alarm.slow)" "0/0/no" \
		"with a 15 s interval the slow bus keeps up: no overrun, nothing skipped"
	max=$(st poll_max_ms.slow)
	[ "$max" -lt 15000 ] && ok "its cycle takes the slow meter's time ($max ms), within the 15 s interval" ||
		not_ok "longest cycle at 15 s: $max ms"
else
	not_ok "cycles after the reload: $(grep '^poll_.*slow' "$spool/status" | tr '\n' ' ')"
fi
s2_cycles() { awk -F'\t' '$1 == "s2" { print $5 }' "$spool/health" 2>/dev/null; }
three() { [ "$(s2_cycles)" -ge 3 ] 2>/dev/null; }
if wait_for 60 three; then
	check_eq "$(sed -n '/reload: .* meters on .* buses (configuration 2)/,$p' "$log" | grep -c 'bus slow: poll cycle')" 0 \
		"three cycles of the slow meter at 15 s, none behind"
	check_eq "$(alarm_has poll_overrun && echo raised || echo none)" none "the alarm stays cleared"
else
	not_ok "three cycles after the reload: s2 cycles $(s2_cycles)"
fi

kill -TERM $gw
if wait_pid_exit 30 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd stops on SIGTERM with exit status 0"
else
	not_ok "gatewayd stops on SIGTERM"
fi
check_eq "$(grep -cE 'AddressSanitizer|LeakSanitizer|runtime error' "$log")" 0 "no sanitizer report in the log"
grep -E 'ERROR' "$log" | grep -v 'alarm poll_overrun' | sed 's/^/#   /'
finish
