#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sealed days' points on disk (<spool>/points, batch_spill.c) under a
# running gatewayd: 5 ABB B23 meters (metersim, two buses) on a clock at
# 14400x (a day is 6 real seconds; slower where the machine cannot keep
# up: paced_speed in tests/lib.sh).
#   - once a day is sealed, points/ holds the one file of that day;
#   - killed (SIGKILL) after a spill and restarted, the file is made again
#     from the journal's replay right after it;
#   - a spill file cut short under the running gateway: it says so, starts
#     over from the journal (same process), and seals the next days;
#   - points/ unusable (a plain file in its place): it says so and keeps
#     the points in memory;
#   - <spool>/status and gwctl status report the bytes on disk and
#     written, and the failed read across the start over;
# and every daily value sealed whose both midnights were measured is the
# simulator's exact one, each day once (gwctl spool verify).
. "$(dirname "$0")/../lib.sh"

paced_speed 14400
start=2026-03-01T15:00:00Z   # 22:00 local
anchor=$(date +%s.%N)
clock=(--clock-anchor "$anchor" --clock-start "$start" --clock-speed "$speed")
sim=(--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz Asia/Ho_Chi_Minh "${clock[@]}")
port1=$(free_port)
port2=$(free_port)
if ! start_metersim sim1 --tcp "127.0.0.1:$port1" --meters 3 --first-unit 1 "${sim[@]}" ||
	! start_metersim sim2 --tcp "127.0.0.1:$port2" --meters 2 --first-unit 4 "${sim[@]}"; then
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
log_level = debug

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
spool=$GW_TMP/spool
points=$spool/points
st() { sed -n "s/^$1=//p" "$spool/status" 2>/dev/null; }
st_gt() { [ "$(st "$1")" -gt "$2" ] 2>/dev/null; }
spills() { grep -c "points: .* holds the points up to" "$1" 2>/dev/null || true; }
more_spills() { [ "$(spills "$1")" -gt "$2" ]; }
one_file() { [ "$(ls "$points" 2>/dev/null | wc -l)" -eq 1 ]; }
gw() { # gw LOG: starts gatewayd, sets pid
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" 2>>"$1" &
	pid=$!
	track_pid $pid
}

# 1. Running: a day sealed, its points spilled, one file.
gw "$GW_TMP/gw.1.log"
wait_for "$(paced_s 60)" more_spills "$GW_TMP/gw.1.log" 1 || not_ok "no day's points were spilled in $(paced_s 60) s"
wait_for "$(paced_s 10)" one_file || true
f=$(ls "$points" 2>/dev/null)
case "$f" in
2026-03-[0-9][0-9]) ok "points/ holds the file of the last sealed day ($f)" ;;
*) not_ok "points/ holds '$f'" ;;
esac
[ -n "$f" ] && [ "$(stat -c %s "$points/$f")" -gt 100 ] &&
	ok "it holds the points ($(stat -c %s "$points/$f") bytes)" || not_ok "the file is empty"
wait_for "$(paced_s 70)" st_gt points_bytes 100 &&
	ok "status: points_bytes $(st points_bytes), points_written_bytes $(st points_written_bytes)" ||
	not_ok "status: points_bytes '$(st points_bytes)'"
st_gt points_written_bytes 100 || not_ok "status: points_written_bytes '$(st points_written_bytes)'"
check_eq "$(st points_write_failures),$(st points_read_failures)" "0,0" "status: no points/ failure"
"$GW_BUILD/gwctl" status "$spool" >"$GW_TMP/gwctl.1" 2>&1
grep -q "^points: [0-9]* bytes of sealed days' readings on disk" "$GW_TMP/gwctl.1" &&
	ok "gwctl status shows the points on disk" || not_ok "gwctl status: $(grep points "$GW_TMP/gwctl.1")"

# 2. SIGKILL after a spill; the restart spills again from the replay.
kill -KILL $pid; wait $pid 2>/dev/null
gw "$GW_TMP/gw.2.log"
wait_for "$(paced_s 60)" grep -q "journal: replayed" "$GW_TMP/gw.2.log" || not_ok "no replay after the kill"
wait_for "$(paced_s 30)" more_spills "$GW_TMP/gw.2.log" 0 &&
	ok "after SIGKILL the points are spilled again from the journal" ||
	not_ok "no spill after the restart"
wait_for "$(paced_s 10)" one_file && ok "one file again after the restart" || not_ok "points/: $(ls "$points")"

# 3. The file cut short under the running gateway: start over.
n=$(spills "$GW_TMP/gw.2.log")
f=$(ls "$points" | head -1)
truncate -s 40 "$points/$f"
wait_for "$(paced_s 60)" grep -q "starting over from the journal" "$GW_TMP/gw.2.log" &&
	ok "a spill file cut short: gatewayd says so and starts over" ||
	not_ok "the damaged spill file went unnoticed"
grep -q "points: .* cannot read\|points: the record of" "$GW_TMP/gw.2.log" &&
	ok "the damaged record is named in the log" || not_ok "no log line names the damaged record"
wait_for "$(paced_s 60)" more_spills "$GW_TMP/gw.2.log" $((n + 1)) &&
	ok "the same process seals and spills on after starting over" ||
	not_ok "no seal after starting over"
pid_alive $pid && ok "gatewayd still runs (pid $pid)" || not_ok "gatewayd exited"
wait_for "$(paced_s 70)" st_gt points_read_failures 0 &&
	ok "status: the failed read is counted across the start over ($(st points_read_failures))" ||
	not_ok "status: points_read_failures '$(st points_read_failures)'"
"$GW_BUILD/gwctl" status "$spool" >"$GW_TMP/gwctl.2" 2>&1
grep -q "^points: .*records not read back (started over from the journal)" "$GW_TMP/gwctl.2" &&
	ok "gwctl status names the failed read" || not_ok "gwctl status: $(grep points "$GW_TMP/gwctl.2")"
kill -TERM $pid
wait_pid_exit 30 $pid || not_ok "gatewayd did not stop on SIGTERM"
wait $pid
check_eq "$?" 0 "gatewayd exited 0 on SIGTERM"
check_eq "$(ls "$points" | wc -l)" 0 "a clean stop leaves points/ empty"

# 4. points/ unusable: the points stay in memory.
rmdir "$points" && echo "not a directory" >"$points"
before=$(ls "$spool/ready" | wc -l)
gw "$GW_TMP/gw.3.log"
wait_for "$(paced_s 60)" grep -q "points: .* cannot be used" "$GW_TMP/gw.3.log" &&
	ok "points/ unusable: gatewayd says so" || not_ok "no word of the unusable points/"
sealed_more() { [ "$(ls "$spool/ready" | wc -l)" -ge $((before + 2)) ]; }
wait_for "$(paced_s 60)" sealed_more && ok "it seals on with the points in memory" || not_ok "no seal without points/"
kill -TERM $pid
wait_pid_exit 30 $pid || not_ok "gatewayd did not stop on SIGTERM"
wait $pid
check_eq "$?" 0 "gatewayd exited 0"

# Every day once, the measured values exact.
check_cmd "gwctl spool verify passes" "$GW_BUILD/gwctl" spool verify "$spool"
names=$(ls "$spool/ready")
days=$(echo "$names" | sed -E 's/^sub-042_([0-9-]+)_r[0-9]+\.gwb$/\1/' | sort -u)
check_eq "$(echo "$names" | grep -c '_r0\.gwb$')" "$(echo "$days" | wc -l)" \
	"every sealed day has one first revision"
: >"$GW_TMP/expected.tsv"
: >"$GW_TMP/daily.csv"
for d in $days; do
	"$GW_BUILD/gwctl" spool dump "$(ls "$spool"/ready/sub-042_"$d"_r*.gwb | sort -V | tail -1)" |
		grep -v '^gateway_id' >>"$GW_TMP/daily.csv"
	for units in "1 3" "4 2"; do
		set -- $units
		"$GW_BUILD/metersim" --meters "$2" --first-unit "$1" "${sim[@]}" \
			--print-expected "$d" | sed "s/^/$d\t/" >>"$GW_TMP/expected.tsv"
	done
done
daily_exact "$GW_TMP/daily.csv" \
	"$GW_TMP/expected.tsv" PE%04d 20
finish
