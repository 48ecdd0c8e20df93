#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/clock_witness.sh - the meters' clocks and the database's
# clock as witnesses of the gateway's (clockcheck.h):
#   meters: IEC 62056-21 meters (metersim on a pty, their clocks 5 minutes
#   off the true time) tell a gateway whose clock is 300 days ahead that it
#   is wrong (held by their time), confirm a clock that is right after the
#   gateway was off for three days (the hold is released, nothing is
#   withheld any more), and hold a new gateway whose clock is wrong though
#   it has no past to compare with;
#   database: the server's clock (a private PostgreSQL) confirms a real
#   clock three days after the last time seen, and holds a clock 300 days
#   ahead (libfaketime) that has no past.
. "$(dirname "$0")/../lib.sh"

zone=Asia/Ho_Chi_Minh
status() { sed -n "s/^$2=//p" "$1/status" 2>/dev/null; }

# ---- the meters ----
if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi
socat pty,raw,echo=0,link="$GW_TMP/sim" pty,raw,echo=0,link="$GW_TMP/gw" \
	2>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/gw"
speed=2880
anchor=$(date +%s.%N)
true_start=2026-03-02T08:00:00Z # 15:00 local
iec_sim() { # NAME START: its pid in $simpid
	"$GW_BUILD/metersim" --iec "$GW_TMP/sim" --addresses 1001,1002 --mode fixed \
		--baud 9600 --reaction-ms 20 --manufacturer GWs --tz "$zone" \
		--clock-offset 300 --clock-anchor "$anchor" --clock-start "$2" --clock-speed "$speed" \
		--ready-file "$GW_TMP/$1.ready" 2>"$GW_TMP/$1.log" &
	simpid=$!
	track_pid $simpid
	wait_for 10 test -e "$GW_TMP/$1.ready"
}
iec_ini() { # SPOOL
	cat <<INI
[gateway]
id = sub-w
timezone = $zone
spool_dir = $1
poll_interval = 15m

[clock]
max_jump = 1d

[bus rs485]
type = iec62056-21
device = $GW_TMP/gw
mode = fixed
baud = 9600
timeout_ms = 1000
byte_timeout_ms = 300

[meter EL1]
bus = rs485
address = 1001

[meter EL2]
bus = rs485
address = 1002
INI
}
gw_run() { # INI LOG START: gatewayd in the background, its pid in $gw
	"$GW_BUILD/gatewayd" -c "$1" --clock-anchor "$anchor" --clock-start "$3" \
		--clock-speed "$speed" 2>"$2" &
	gw=$!
	track_pid $gw
}
gw_stop() {
	kill -TERM $gw
	wait $gw
}
iec_sim sim1 "$true_start" || { not_ok "metersim serves IEC meters"; finish; }
M=$GW_TMP/m
iec_ini "$M" >"$GW_TMP/m.ini"
gw_run "$GW_TMP/m.ini" "$GW_TMP/m1.log" "$true_start"
wait_for 20 grep -q '^EL2	rs485	online' "$M/health" || not_ok "the IEC meters are read"
gw_stop
check_eq "$(status "$M" clock)" "trusted" "meters: a gateway whose clock agrees with its meters' is trusted"

# the gateway boots 300 days ahead; the meters keep the true time
gw_run "$GW_TMP/m.ini" "$GW_TMP/m2.log" 2026-12-27T08:00:00Z
wait_for 20 grep -q '^clock_witness=meters' "$M/status" &&
	ok "meters: held at start, then the meters' clocks say the time" ||
	not_ok "meters: witness $(status "$M" clock_witness)"
case "$(status "$M" clock_detail)" in
"2 of 2 meters' clocks say the time is 2026-03-0"*"300 days before the gateway's clock"*)
	ok "meters: the status gives the meters' time and how far off the gateway's clock is" ;;
*) not_ok "meters: detail $(status "$M" clock_detail)" ;;
esac
case "$(status "$M" clock_seal_time)" in
2026-03-0*) ok "meters: days are sealed by the meters' time" ;;
*) not_ok "meters: seal time $(status "$M" clock_seal_time)" ;;
esac
gw_stop
check_eq "$(ls "$M/ready" | grep -c '_2026-1[12]-')" 0 "meters: no false day sealed"

# three days on by every clock: the gateway was off; its meters confirm
kill -TERM $simpid
wait $simpid 2>/dev/null
later=2026-03-05T08:00:00Z
iec_sim sim2 "$later" || { not_ok "metersim serves IEC meters again"; finish; }
gw_run "$GW_TMP/m.ini" "$GW_TMP/m3.log" "$later"
wait_for 20 grep -q "clock: trusted (confirmed by the meters' clocks)" "$GW_TMP/m3.log" &&
	ok "meters: three days after the last time seen, the meters' clocks confirm the gateway's" ||
	not_ok "meters: not confirmed: $(grep clock "$GW_TMP/m3.log" | head -3)"
wait_for 10 grep -q '^clock=trusted' "$M/status" && ok "meters: trusted" ||
	not_ok "meters: clock $(status "$M" clock)"
gw_stop
[ "$(status "$M" dropped_bad_time)" -gt 0 ] &&
	ok "meters: what the clock 300 days ahead stamped is set aside ($(status "$M" dropped_bad_time))" ||
	not_ok "meters: bad_time $(status "$M" dropped_bad_time)"

# a new gateway (no state) with a clock 300 days ahead: only the meters know
N=$GW_TMP/n
iec_ini "$N" >"$GW_TMP/n.ini"
gw_run "$GW_TMP/n.ini" "$GW_TMP/n.log" 2026-12-30T08:00:00Z
wait_for 20 grep -q '^clock=ahead' "$N/status" &&
	ok "meters: a new gateway whose meters all disagree with its clock is held" ||
	not_ok "meters: new gateway clock $(status "$N" clock)"
check_eq "$(status "$N" clock_witness)" "meters" "meters: held by the meters' word"
gw_stop

# ---- the database ----
start_pg pg
port=$(free_port)
start_metersim modbus --tcp "127.0.0.1:$port" --meters 1 --profile abb_b23 \
	--profiles-dir "$GW_TOP/profiles" --tz "$zone" || { not_ok "metersim starts"; finish; }
db_ini() { # SPOOL
	cat <<INI
[gateway]
id = sub-db
timezone = $zone
spool_dir = $1
profiles_dir = $GW_TOP/profiles
poll_interval = 1s

[database]
conninfo = $GW_PG_CONNINFO
upload_interval = 1

[bus b]
type = modbus-tcp
host = 127.0.0.1
port = $port
timeout_ms = 300

[meter M1]
bus = b
unit = 1
profile = abb_b23
INI
}
D=$GW_TMP/d
mkdir -p "$D"
db_ini "$D" >"$GW_TMP/d.ini"
# the last time seen was three days ago: off for three days (a real clock)
printf 'seen=%s\n' "$(date -u -d '3 days ago' +%Y-%m-%dT%H:%M:%S.000Z)" >"$D/state"
"$GW_BUILD/gatewayd" -c "$GW_TMP/d.ini" 2>"$GW_TMP/d.log" &
gw=$!
track_pid $gw
wait_for 10 grep -q 'clock: held at start' "$GW_TMP/d.log" &&
	ok "database: a real clock three days after the last time seen is held at start" ||
	not_ok "database: not held: $(grep clock "$GW_TMP/d.log" | head -2)"
wait_for 20 grep -q "clock: trusted (confirmed by the database's clock)" "$GW_TMP/d.log" &&
	ok "database: the server's clock confirms it" ||
	not_ok "database: not confirmed: $(grep clock "$GW_TMP/d.log" | tail -3)"
wait_for 10 grep -q '^clock=trusted' "$D/status" && ok "database: trusted" ||
	not_ok "database: clock $(status "$D" clock)"
gw_stop

faketime_lib=$(ls /usr/lib/*/faketime/libfaketimeMT.so.1 2>/dev/null | head -1)
if [ -z "$faketime_lib" ]; then
	not_ok "libfaketime is installed (tools/deps.sh installs faketime)"
	finish
fi
F=$GW_TMP/f
mkdir -p "$F"
db_ini "$F" >"$GW_TMP/f.ini"
FAKETIME=+300d FAKETIME_DONT_FAKE_MONOTONIC=1 ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0 \
	LD_PRELOAD=$faketime_lib \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/f.ini" 2>"$GW_TMP/f.log" &
gw=$!
track_pid $gw
wait_for 20 grep -q '^clock_witness=database' "$F/status" &&
	ok "database: a new gateway whose clock is 300 days ahead of the server's is held" ||
	not_ok "database: clock $(status "$F" clock)/$(status "$F" clock_witness)"
case "$(status "$F" clock_detail)" in
"the database's clock says the time is $(date -u +%Y-%m-%d)"*"300 days before the gateway's clock"*)
	ok "database: the status gives the server's time" ;;
*) not_ok "database: detail $(status "$F" clock_detail)" ;;
esac
gw_stop
finish
