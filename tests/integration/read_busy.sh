#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/read_busy.sh - `gwctl read` of a meter on a serial line
# that a running gatewayd has open is refused with a message that says so
# (two programs on one line take each other's replies), and so is `gwctl
# scan` of a Modbus RTU bus it has open; once gatewayd has stopped, the
# same read and scan work. A meter on Modbus TCP is read meanwhile.
. "$(dirname "$0")/../lib.sh"

SIM=$GW_BUILD/metersim
GWCTL=$GW_BUILD/gwctl
if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi
rm -f "$GW_TMP/line.sim" "$GW_TMP/line.gw"
socat pty,raw,echo=0,link="$GW_TMP/line.sim" pty,raw,echo=0,link="$GW_TMP/line.gw" \
	2>>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/line.gw" || not_ok "socat makes a pty pair"
"$SIM" --iec "$GW_TMP/line.sim" --tz Asia/Ho_Chi_Minh --addresses 12345678 \
	--ready-file "$GW_TMP/iec.ready" 2>>"$GW_TMP/iec.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/iec.ready" || not_ok "metersim serves an IEC meter"
rm -f "$GW_TMP/rtu.sim" "$GW_TMP/rtu.gw"
socat pty,raw,echo=0,link="$GW_TMP/rtu.sim" pty,raw,echo=0,link="$GW_TMP/rtu.gw" \
	2>>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/rtu.gw" || not_ok "socat makes a second pty pair"
start_metersim rtu --rtu "$GW_TMP/rtu.sim" --baud 19200 --parity N --meters 1 \
	--profile abb_b23 --profiles-dir "$GW_TOP/profiles" || not_ok "metersim serves a Modbus RTU meter"
start_metersim tcp --tcp 127.0.0.1:0 --meters 1 --profile abb_b23 \
	--profiles-dir "$GW_TOP/profiles" || not_ok "metersim serves a Modbus TCP meter"
port=$(cat "$GW_TMP/tcp.ready")

cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-busy
timezone = Asia/Ho_Chi_Minh
spool_dir = $GW_TMP/spool
profiles_dir = $GW_TOP/profiles
poll_interval = 5s

[bus line]
type = iec62056-21
device = $GW_TMP/line.gw
timeout_ms = 1000
byte_timeout_ms = 300

[meter EL0001]
bus = line
address = 12345678

[bus rs485]
type = modbus-rtu
device = $GW_TMP/rtu.gw
baud = 19200
parity = none

[meter PE0002]
bus = rs485
unit = 1
profile = abb_b23

[bus tcp]
type = modbus-tcp
host = 127.0.0.1
port = $port

[meter PE0001]
bus = tcp
unit = 1
profile = abb_b23
INI

"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" 2>"$GW_TMP/gatewayd.log" &
gw=$!
track_pid $gw
wait_for 30 grep -q ' info: gateway .*: [0-9]* meters on [0-9]* buses' "$GW_TMP/gatewayd.log" ||
	not_ok "gatewayd starts ($(tail -3 "$GW_TMP/gatewayd.log"))"

"$GWCTL" read -c "$GW_TMP/gw.ini" EL0001 >"$GW_TMP/r1.out" 2>&1
check_eq "$?:$(cat "$GW_TMP/r1.out")" \
	"1:gwctl read: meter EL0001: bus line is a serial line that gatewayd (pid $gw, $GW_TMP/spool/lock) has open; stop it first (systemctl stop gatewayd), or see the meter in gwctl status" \
	"gwctl read on a serial line gatewayd holds: refused, saying why"
"$GWCTL" read -c "$GW_TMP/gw.ini" PE0001 --tsv >"$GW_TMP/r2.out" 2>&1
check_eq "$?:$(head -1 "$GW_TMP/r2.out" | cut -f1)" "0:1.8.0" \
	"a meter on Modbus TCP is read while gatewayd runs"

"$GWCTL" scan -c "$GW_TMP/gw.ini" rs485 --from 1 --to 1 >"$GW_TMP/s1.out" 2>&1
check_eq "$?:$(cat "$GW_TMP/s1.out")" \
	"1:gwctl scan: bus rs485 is a serial line that gatewayd (pid $gw, $GW_TMP/spool/lock) has open; stop it first (systemctl stop gatewayd), or see its meters in gwctl status" \
	"gwctl scan of a Modbus RTU bus gatewayd holds: refused, saying why"

kill -TERM $gw
wait_pid_exit 60 $gw || not_ok "gatewayd stops on SIGTERM"
"$GWCTL" read -c "$GW_TMP/gw.ini" EL0001 --tsv >"$GW_TMP/r3.out" 2>&1
check_eq "$?:$(head -1 "$GW_TMP/r3.out" | cut -f1)" "0:1.8.0" \
	"once gatewayd has stopped the same read works"
"$GWCTL" scan -c "$GW_TMP/gw.ini" rs485 --from 1 --to 1 >"$GW_TMP/s2.out" 2>&1
check_eq "$?:$(grep -v '^#' "$GW_TMP/s2.out" | cut -c1-9)" "0:1	answers" \
	"once gatewayd has stopped the scan finds the RTU meter"
finish
