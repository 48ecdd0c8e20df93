#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A feeder goes dark: the Modbus TCP endpoint of a line of three meters
# disappears for a few simulated hours and comes back. gatewayd marks each
# meter offline, raises one power_outage event per meter (all meters of the
# bus offline at once), marks them online again, and the day's batch holds
# those events; the other bus's meter is not affected.
. "$(dirname "$0")/../lib.sh"

zone=Asia/Ho_Chi_Minh
# 1.2 simulated hours per real second: the meters must be back and read
# again before the day ends (17:00Z) and gatewayd stops (18:00Z), and on
# a loaded machine the real seconds spent noticing the outage cost half
# the simulated time they did at 2.4 h a second
speed=4320
# the clocks stand at 22:00 local until the meters have been polled once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start 2026-03-01T15:00:00Z --clock-speed "$speed")
port=$(free_port)
port2=$(free_port)
sim() { # PORT FIRST N READYFILE
	"$GW_BUILD/metersim" --tcp "127.0.0.1:$1" --meters "$3" --first-unit "$2" \
		--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone" \
		"${clock[@]}" --ready-file "$4" 2>>"$GW_TMP/sim.log" &
}
sim "$port" 1 3 "$GW_TMP/a.ready"
simpid=$!
track_pid $simpid
sim "$port2" 4 1 "$GW_TMP/b.ready"
track_pid $!
wait_for 10 test -e "$GW_TMP/a.ready" && wait_for 10 test -e "$GW_TMP/b.ready" ||
	{ not_ok "metersim did not start"; finish; }

cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-out
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
poll_interval = 15m
offline_after = 2
retry_backoff_max = 1
[bus feeder-7]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 200
[bus feeder-8]
type = modbus-tcp
host = 127.0.0.1
port = $port2
[meter A1]
bus = feeder-7
unit = 1
profile = abb_b23
[meter A2]
bus = feeder-7
unit = 2
profile = abb_b23
[meter A3]
bus = feeder-7
unit = 3
profile = abb_b23
[meter B4]
bus = feeder-8
unit = 4
profile = abb_b23
INI
gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" A1 A2 A3 B4 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-02T18:00:00Z ||
	{ not_ok "gatewayd did not read the meters: $(cat "$GW_TMP/spool/health" 2>&1)"; finish; }
gw=$gw_pid

# 2026-03-02 local starts at 17:00Z on 03-01, 1.67 s after the release;
# the feeder goes dark once gatewayd has read its meters (they are online
# before the release: they must be before they can go offline) and the
# simulated clock is well into 2026-03-02 (8 s after the release, about
# 08:36 local).
sleep_until "$anchor" 8
kill -KILL "$simpid"
# gwctl status shows the outage while it lasts, and exits 1
if wait_for 5 sh -c "'$GW_BUILD/gwctl' status '$GW_TMP/spool' | grep -q '3 offline'"; then
	ok "gwctl status shows the three meters offline during the outage"
	"$GW_BUILD/gwctl" status "$GW_TMP/spool" >"$GW_TMP/status.out"
	check_eq "$?" 1 "gwctl status exits 1 while meters are offline"
	grep -Eq '^A1 +feeder-7 +offline' "$GW_TMP/status.out" &&
		ok "the offline meter is listed with its bus" ||
		not_ok "offline meter line in: $(cat "$GW_TMP/status.out")"
else
	not_ok "gwctl status during the outage: $("$GW_BUILD/gwctl" status "$GW_TMP/spool" 2>&1)"
fi
sim "$port" 1 3 "$GW_TMP/a2.ready"
track_pid $!
wait_for 10 test -e "$GW_TMP/a2.ready" || not_ok "metersim did not come back"

if wait_pid_exit 60 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to the stop time"
else
	not_ok "gatewayd did not stop within 60 s"
fi
f=$(ls "$GW_TMP"/spool/ready/sub-out_2026-03-02_r*.gwb 2>/dev/null | head -1)
[ -n "$f" ] || { not_ok "no batch for 2026-03-02"; finish; }
"$GW_BUILD/gwctl" spool dump --events "$f" >"$GW_TMP/ev.csv"
count() { awk -F, -v k="$1" -v m="$2" '$0 ~ k && $0 ~ m' "$GW_TMP/ev.csv" | wc -l; }
for m in A1 A2 A3; do
	check_eq "$(count power_outage "$m")" 1 "$m: one power_outage event"
	check_eq "$(count ',offline,' "$m")$(count ',online,' "$m")" 11 "$m: offline, then online again"
done
check_eq "$(grep -c B4 "$GW_TMP/ev.csv")" 0 "the meter on the other bus has no events"
grep -q "bus feeder-7: all 3 meters offline" "$GW_TMP/gatewayd.log" &&
	ok "the outage is logged as an error naming the bus" ||
	not_ok "outage log line"
grep -q "bus feeder-7: outage over" "$GW_TMP/gatewayd.log" &&
	ok "the end of the outage is logged" || not_ok "end-of-outage log line"
out=$("$GW_BUILD/gwctl" status "$GW_TMP/spool")
check_eq "$?" 0 "gwctl status exits 0 once every meter answers again"
case "$out" in *"meters: 4 online, 0 failing, 0 offline"*) ok "gwctl status: 4 online" ;;
*) not_ok "gwctl status after the outage: $out" ;; esac
"$GW_BUILD/gwctl" status "$GW_TMP/nowhere" >/dev/null 2>&1
check_eq "$?" 2 "gwctl status of a spool without status exits 2"
# The day's consumption is still exact: the shop load is flat before 06:00
# and the meters answer again well before 22:00.
rows=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, '$5 == "1.8.0" { print $4, $8 }' | tr '\n' ' ')
check_eq "$rows" "A1 4000 A2 4800 A3 5600 B4 6400 " "daily Wh exact across the outage"
finish
