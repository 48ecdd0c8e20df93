#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# A storm of SIGHUPs while gatewayd polls two buses and uploads: round
# after round the configuration file is edited (a fifth meter added and
# removed, the upload interval and the spool bound changed, now and then a
# broken line) and SIGHUP is sent three times in a row. Each round must
# end in a new configuration generation (or, for a broken file, in the
# running one kept, named with file:line); across all of them nothing read
# is lost and nothing is doubled: every reading the journal holds for the
# whole day is in PostgreSQL exactly once, each batch is in the ledger
# once, and each meter's day has its exact Wh. On the ThreadSanitizer
# build (make check SANITIZE=thread) the swaps run under the race
# detector.
. "$(dirname "$0")/../lib.sh"

zone=Asia/Ho_Chi_Minh
start_pg pg
paced_speed 2880
start=2026-03-01T15:00:00Z   # 22:00 local
stop=2026-03-02T19:00:00Z    # 02:00 local on 2026-03-03
# the clocks stand at 22:00 local until the meters have been polled once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start "$start" --clock-speed "$speed")
port1=$(free_port)
port2=$(free_port)
sim=(--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone" "${clock[@]}")
start_metersim sim1 --tcp "127.0.0.1:$port1" --meters 2 --first-unit 1 "${sim[@]}" &&
	start_metersim sim2 --tcp "127.0.0.1:$port2" --meters 3 --first-unit 3 "${sim[@]}" ||
	{ not_ok "metersim did not start"; finish; }

# conf ROUND: the configuration of a round: PE0005 on odd rounds only, the
# upload interval and the spool bound changing; every 7th round broken.
conf() {
	local r=$1
	cat <<INI
[gateway]
id = sub-storm
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
poll_interval = 15m
midnight_tolerance = 10m
seal_delay = 30m
spool_max = $((256 + r % 3))MB

[database]
conninfo = $GW_PG_CONNINFO
upload_interval = $((1 + r % 2))

[bus a]
type = modbus-tcp
host = 127.0.0.1
port = $port1
timeout_ms = 500

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $port2
timeout_ms = 500

[meter PE0001]
bus = a
unit = 1
profile = abb_b23

[meter PE0002]
bus = a
unit = 2
profile = abb_b23

[meter PE0003]
bus = b
unit = 3
profile = abb_b23

[meter PE0004]
bus = b
unit = 4
profile = abb_b23
INI
	if [ $((r % 2)) -eq 1 ]; then
		printf '\n[meter PE0005]\nbus = b\nunit = 5\nprofile = abb_b23\n'
	fi
	if [ "$r" -gt 0 ] && [ $((r % 7)) -eq 0 ]; then
		printf 'colour = blue\n'
	fi
}
conf 0 >"$GW_TMP/gw.ini"
log=$GW_TMP/gatewayd.log
gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$log" PE0001 PE0002 PE0003 PE0004 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at "$stop" ||
	{ not_ok "the meters are polled"; finish; }
gw=$gw_pid
wait_for 20 grep -q "gateway sub-storm: 4 meters on 2 buses" "$log" ||
	{ not_ok "gatewayd did not start"; sed 's/^/# /' "$log" | tail -5; finish; }

# The storm: rounds until the simulated clock nears the end of 2026-03-02
# local (16:00Z, 25 h after the start).
applied() { grep -c "reload: .* meters on .* buses (configuration" "$log"; }
refused() { grep -c "keeping the running configuration" "$log"; }
more_than() { [ "$("$1")" -gt "$2" ]; } # more_than COUNTER N
end_real=$(awk -v a="$anchor" -v s="$speed" 'BEGIN { printf "%.3f", a + 25 * 3600 / s }')
rounds=0
good=0
bad=0
stuck=0
while awk -v e="$end_real" -v n="$(date +%s.%N)" 'BEGIN { exit !(n < e) }'; do
	rounds=$((rounds + 1))
	a0=$(applied)
	r0=$(refused)
	conf $rounds >"$GW_TMP/gw.ini.new"
	mv "$GW_TMP/gw.ini.new" "$GW_TMP/gw.ini"
	kill -HUP $gw && kill -HUP $gw && kill -HUP $gw || break
	if [ "$rounds" -gt 0 ] && [ $((rounds % 7)) -eq 0 ]; then
		bad=$((bad + 1))
		wait_for 30 more_than refused "$r0" || stuck=$((stuck + 1))
	else
		good=$((good + 1))
		# the three signals may coalesce into one reload; one is needed
		wait_for 30 more_than applied "$a0" || stuck=$((stuck + 1))
	fi
done
check_eq "$stuck" 0 "every one of $rounds rounds of SIGHUPs ended in a reload (or a refusal of a broken file)"
if [ "$good" -ge 15 ]; then
	ok "$good rounds with a new configuration and $bad with a broken one during the day"
else
	# the rounds are paced by the machine, the day by the clock
	paced_not_ok "too few rounds to call it a storm: $good good, $bad broken"
fi
gen=$(grep -o "(configuration [0-9]*)" "$log" | tail -1 | tr -dc 0-9)
check_eq "$gen" "$(($(applied) + 1))" "the generation counts each configuration applied, from 1 at start"
grep -q "gw.ini:[0-9]*: unknown key 'colour'" "$log" &&
	ok "a broken file is named with file:line" || not_ok "no file:line for the broken key"

if wait_pid_exit "$(paced_s 120)" $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd ran to the stop time and exited 0"
else
	not_ok "gatewayd did not stop within $(paced_s 120) s of the storm"
fi
grep -E " (error|warn) " "$log" | grep -v "colour\|keeping the running" | head -5 | sed 's/^/# /'

q() { psql "$GW_PG_CONNINFO" -XAt -F ' ' -c "$1"; }
check_eq "$(ls "$GW_TMP/spool/ready" | wc -l)" 0 "every sealed batch was uploaded"
check_eq "$(q "select count(*) from batch_ledger where gateway_id = 'sub-storm'")" \
	"$(ls "$GW_TMP/spool/done" | wc -l)" "each batch file is in the ledger once"
check_eq "$(q "select count(*) - count(distinct (meter_id, obis, ts)) from interval_readings")" 0 \
	"no interval reading doubled"
check_eq "$(q "select count(*) - count(distinct (meter_id, obis, day)) from daily_registers where gateway_id = 'sub-storm'")" 0 \
	"one daily row per meter, register and day"
# Every reading the journal holds for 2026-03-02 local is in the database.
journal=$("$GW_BUILD/gwctl" spool journal "$GW_TMP/spool" 2>/dev/null | python3 -c '
import csv, sys
n = 0
for row in csv.reader(sys.stdin):
    if len(row) >= 5 and row[0] == "reading" and row[2] != "PE0005":
        ts = int(row[4])
        if 1772384400000 <= ts < 1772470800000:
            n += 1
print(n)')
db=$(q "select count(*) from interval_readings where meter_id <> 'PE0005'
	and ts >= '2026-03-01T17:00:00Z' and ts < '2026-03-02T17:00:00Z'")
if [ "$journal" -gt 0 ] && [ "$journal" = "$db" ]; then
	ok "all $db readings journaled on 2026-03-02 are in the database, none lost"
else
	not_ok "readings of 2026-03-02: $journal journaled, $db in the database"
fi
expected=""
for u in 1 2 3 4; do
	expected+="PE000$u $((16 * (200 + 50 * u)))"$'\n'
done
actual=$(q "select meter_id, consumption from daily_registers where obis = '1.8.0'
	and day = '2026-03-02' and meter_id <> 'PE0005' order by 1")
check_eq "$actual"$'\n' "$expected" "2026-03-02: each meter's exact Wh across the storm"
finish
