#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# make demo: a private PostgreSQL, simulated meters on two Modbus TCP
# endpoints, and the gateway running on an accelerated clock (48 simulated
# minutes per real second) across two local midnights in Asia/Ho_Chi_Minh;
# then the daily usage of each meter, read back from PostgreSQL.
# It stops everything it started, also on Ctrl-C.
# shellcheck disable=SC1091
. "$(dirname "$0")/runlib.sh"
set -e

zone=Asia/Ho_Chi_Minh
speed=2880
start=2026-03-01T15:00:00Z # 22:00 local
stop=2026-03-03T17:45:00Z  # 00:45 local on 2026-03-04
say() { printf '\033[1m== %s\033[0m\n' "$*"; }

say "starting a private PostgreSQL"
start_pg pg
echo "   $GW_PG_CONNINFO"

anchor=$(date +%s.%N)
clock=(--clock-anchor "$anchor" --clock-start "$start" --clock-speed "$speed")
port1=$(free_port)
port2=$(free_port)
say "starting simulated meters: 4 shops on 127.0.0.1:$port1, 2 homes on 127.0.0.1:$port2"
sim=(--profile abb_b23 --profiles-dir "$GW_TOP/profiles" --tz "$zone" "${clock[@]}")
start_metersim sim1 --tcp "127.0.0.1:$port1" --meters 4 --first-unit 1 --load shop "${sim[@]}" || exit 1
start_metersim sim2 --tcp "127.0.0.1:$port2" --meters 2 --first-unit 5 --load home "${sim[@]}" || exit 1

cat >"$GW_TMP/meters.csv" <<CSV
meter_id,bus,unit,profile
SHOP-01,feeder-1,1,abb_b23
SHOP-02,feeder-1,2,abb_b23
SHOP-03,feeder-1,3,abb_b23
SHOP-04,feeder-1,4,abb_b23
HOME-05,feeder-2,5,abb_b23
HOME-06,feeder-2,6,abb_b23
CSV
cat >"$GW_TMP/gateway.ini" <<INI
[gateway]
id = demo-substation
timezone = $zone
spool_dir = spool
profiles_dir = $GW_TOP/profiles
meters = meters.csv
poll_interval = 15m
midnight_tolerance = 5m
seal_delay = 30m

[database]
conninfo = $GW_PG_CONNINFO
upload_interval = 2

[bus feeder-1]
type = modbus-tcp
host = 127.0.0.1
port = $port1

[bus feeder-2]
type = modbus-tcp
host = 127.0.0.1
port = $port2
INI

say "running gatewayd from $start to $stop (simulated), about $(( ($(date -d "$stop" +%s) - $(date -d "$start" +%s)) / speed )) s"
"$GW_BUILD/gatewayd" -c "$GW_TMP/gateway.ini" "${clock[@]}" --stop-at "$stop" \
	2> >(grep --line-buffered -E "sealed|error|warn|stopped" | sed -u 's/^/   /' >&2) &
gw=$!
track_pid $gw
wait $gw

say "spool"
"$GW_BUILD/gwctl" spool ls "$GW_TMP/spool"

say "daily usage in PostgreSQL (local days in $zone)"
psql "$GW_PG_CONNINFO" -X -P footer=off -c \
	"select meter_id, day, import_kwh, export_kwh, quality from daily_usage order by meter_id, day"
echo "The first day started at 22:00 local time, so it is 'incomplete'; the"
echo "next two are whole days. Shops draw power 06:00-22:00, homes all day."
