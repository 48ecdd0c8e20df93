#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/modbus_rtu.sh - Modbus RTU over a pseudo-terminal pair
# (socat): build/metersim serves units 2..4 of an ABB B23 line on one end,
# the gateway's Modbus driver reads them on the other. The simulator must
# answer its own unit ids only: units 1 and 5 time out, as absent meters on
# an RS-485 line do. Values are checked exactly against the meter model
# (see modbus_tcp.sh for the clock anchoring).
. "$(dirname "$0")/../lib.sh"

SIM=$GW_BUILD/metersim
READ=$GW_BUILD/tests/it_modbus_read
PROF=$GW_TOP/profiles

if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi

socat pty,raw,echo=0,link="$GW_TMP/sim" pty,raw,echo=0,link="$GW_TMP/gw" \
	2>"$GW_TMP/socat.log" &
track_pid $!
if wait_for 10 test -e "$GW_TMP/gw"; then
	ok "socat made a pty pair"
else
	not_ok "socat made a pty pair"
	finish
fi

anchor=$(/usr/bin/python3 -c 'import time; print("%.3f" % (time.time() - 93.6))')
"$SIM" --rtu "$GW_TMP/sim" --baud 19200 --parity N --meters 3 --first-unit 2 \
	--profile abb_b23 --profiles-dir "$PROF" \
	--clock-anchor "$anchor" --clock-start 2026-01-01T00:00:00Z --clock-speed 1000 \
	--fault 4:crc --control "$GW_TMP/ctl" \
	--ready-file "$GW_TMP/ready" >"$GW_TMP/sim.log" 2>&1 &
track_pid $!
if wait_for 10 test -s "$GW_TMP/ready"; then
	ok "metersim serves RTU on a pty"
else
	not_ok "metersim serves RTU on a pty"
	sed 's/^/#   /' "$GW_TMP/sim.log"
	finish
fi

"$READ" "rtu:$GW_TMP/gw" 19200 "$PROF/abb_b23.prof" 2 3 1 4 5 >"$GW_TMP/read.out" 2>&1
check_eq "$?" "1" "driver: exit 1 because units 1 and 5 are absent"
for u in 2 3; do
	p=$((200 + 50 * u))
	got=$(awk -F'\t' -v u=$u '$1 == u && $2 == "1.8.0" { print $3 }' "$GW_TMP/read.out")
	check_eq "$got" "$((1000000 * u + 16 * p))" "driver RTU: unit $u 1.8.0 = 1e6*u + 16*P_u Wh"
done
got=$(awk -F'\t' '$1 == 3 && $2 == "2.8.0" { print $3 }' "$GW_TMP/read.out")
check_eq "$got" "6000" "driver RTU: unit 3 2.8.0 = 4*Q_u Wh"
for u in 1 5; do
	got=$(awk -F'\t' -v u=$u '$1 == u && $2 != "faults" { print $2 "/" $3 }' "$GW_TMP/read.out" | tr '\n' ' ')
	check_eq "$got" "error/timed out stats/requests=1 timeouts=1 exceptions=0 " \
		"driver RTU: unit $u is not answered (one timeout, no further requests)"
done
got=$(awk -F'\t' '$1 == 4 { print $2 "/" $3 }' "$GW_TMP/read.out" | tr '\n' ' ')
check_eq "$got" "error/checksum error stats/requests=3 timeouts=0 exceptions=0 faults/crc=3 malformed=0 wrong_unit=0 illegal_address=0 busy=0 " \
	"driver RTU: --fault 4:crc: every reply of unit 4 fails its CRC, counted"

# fault switched while running, through the control FIFO
# ctl_send SPEC: writes one fault spec and waits until metersim applied it.
ctl_send() {
	local n
	n=$(grep -c "fault $1\$" "$GW_TMP/sim.log")
	echo "$1" >"$GW_TMP/ctl"
	wait_for 5 test "$(grep -c "fault $1\$" "$GW_TMP/sim.log")" -gt "$n"
}
ctl_send "4:none"
ctl_send "3:wrongunit"
"$READ" "rtu:$GW_TMP/gw" 19200 "$PROF/abb_b23.prof" 4 3 >"$GW_TMP/read2.out" 2>&1
got=$(awk -F'\t' '$1 == 4 && $2 == "1.8.0" { print $3 }' "$GW_TMP/read2.out")
check_eq "$got" "$((4000000 + 16 * 400))" "control FIFO: 4:none clears unit 4's CRC fault"
got=$(awk -F'\t' '$1 == 3 && $2 == "faults" { print $3 }' "$GW_TMP/read2.out")
check_eq "$got" "crc=0 malformed=6 wrong_unit=6 illegal_address=0 busy=0" \
	"driver RTU: replies from the wrong unit id are refused and counted (one retry per request)"
ctl_send "3:none"
ctl_send "2:slow:300"
ctl_send "bogus"
"$READ" "rtu:$GW_TMP/gw" 19200 "$PROF/abb_b23.prof" 2 3 >"$GW_TMP/read3.out" 2>&1
check_eq "$?" "0" "a slow reply (300 ms) within the timeout still reads"
if grep -q "control: fault 'bogus'" "$GW_TMP/sim.log"; then
	ok "control FIFO: a bad spec is reported and the simulator keeps running"
else
	not_ok "control FIFO: a bad spec is reported"
fi

finish
