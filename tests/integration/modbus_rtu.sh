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

# (the clock as in modbus_tcp.sh: 02:00 local on day 2, at real speed)
anchor=$(/usr/bin/python3 -c 'import time; print("%.3f" % (time.time() - 93600))')
"$SIM" --rtu "$GW_TMP/sim" --baud 19200 --parity N --meters 3 --first-unit 2 \
	--profile abb_b23 --profiles-dir "$PROF" \
	--clock-anchor "$anchor" --clock-start 2026-01-01T00:00:00Z --clock-speed 1 \
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
	check_eq "$got" "error/timed out stats/requests=1 timeouts=1 exceptions=0 matching/stale=0 unknown_exc=0 bad=0 " \
		"driver RTU: unit $u is not answered (one timeout, no further requests)"
done
got=$(awk -F'\t' '$1 == 4 { print $2 "/" $3 }' "$GW_TMP/read.out" | tr '\n' ' ')
check_eq "$got" "error/checksum error stats/requests=3 timeouts=0 exceptions=0 faults/crc=3 malformed=0 wrong_unit=0 illegal_address=0 busy=0 matching/stale=0 unknown_exc=0 bad=0 " \
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

# A meter that answers twice: RTU has no transaction id, so the second copy
# would be taken for the answer to the next request; it is dropped before
# that request is sent, and counted for the unit it came from.
ctl_send "2:none"
ctl_send "3:twice"
"$READ" "rtu:$GW_TMP/gw" 19200 "$PROF/abb_b23.prof" 3 2 3 >"$GW_TMP/twice.out" 2>&1
check_eq "$?" "0" "driver RTU: a meter that answers twice is read"
want3=$((3000000 + 16 * 350))
check_eq "$(awk -F'\t' '$1 == 3 && $2 == "1.8.0" { print $3 }' "$GW_TMP/twice.out" | tr '\n' ' ')" \
	"$want3 $want3 " "driver RTU: twice: unit 3 1.8.0 right in both reads"
check_eq "$(awk -F'\t' '$1 == 3 && $2 == "2.8.0" { print $3 }' "$GW_TMP/twice.out" | tr '\n' ' ')" \
	"6000 6000 " "driver RTU: twice: unit 3 2.8.0 right in both reads (not another register's copy)"
check_eq "$(awk -F'\t' '$1 == 2 && $2 == "1.8.0" { print $3 }' "$GW_TMP/twice.out")" \
	"$((2000000 + 16 * 300))" "driver RTU: twice: unit 2, read after unit 3's last copy, is right"
check_eq "$(awk -F'\t' '$2 == "faults" { print $3 }' "$GW_TMP/twice.out" | sort -u)" \
	"crc=0 malformed=0 wrong_unit=0 illegal_address=0 busy=0" \
	"driver RTU: twice: no reply taken for malformed (the copies never reach a request)"
stale=$(awk -F'\t' '$1 == 3 && $2 == "matching" { sub(/ .*/, "", $3); sub(/stale=/, "", $3); s += $3 } END { print s + 0 }' "$GW_TMP/twice.out")
if [ "$stale" -ge 3 ]; then
	ok "driver RTU: twice: the copies are counted as stale replies of unit 3 ($stale)"
else
	not_ok "driver RTU: twice: the copies are counted as stale replies of unit 3 (got $stale)"
	sed 's/^/#   /' "$GW_TMP/twice.out"
fi

# Exception codes Modbus does not define (0x12, 0x09): that meter fails this
# read after one request; the others of the line are read.
ctl_send "3:none"
ctl_send "2:exception:18"
ctl_send "4:exception:9"
IT_LOG_LEVEL=warn "$READ" "rtu:$GW_TMP/gw" 19200 "$PROF/abb_b23.prof" 2 3 4 3 >"$GW_TMP/exc.out" 2>&1
for u in 2 4; do
	check_eq "$(awk -F'\t' -v u=$u '$1 == u && $2 != "faults" { print $2 "/" $3 }' "$GW_TMP/exc.out" | tr '\n' ' ')" \
		"error/device answered with an exception stats/requests=1 timeouts=0 exceptions=1 matching/stale=0 unknown_exc=1 bad=0 " \
		"driver RTU: unit $u answers an undefined exception code: one request, counted as unknown"
done
check_eq "$(awk -F'\t' '$1 == 3 && $2 == "1.8.0" { print $3 }' "$GW_TMP/exc.out" | tr '\n' ' ')" \
	"$want3 $want3 " "driver RTU: unit 3 beside them is read both times"
if grep -q "unit 2 on bus it): read failed: device answered with an exception: an exception code not defined by Modbus" "$GW_TMP/exc.out" &&
	grep -q "unit 4 on bus it): read failed: device answered with an exception: exception 0x09 (not defined by Modbus)" "$GW_TMP/exc.out"; then
	ok "driver RTU: the warning names the exception"
else
	not_ok "driver RTU: the warning names the exception"
	sed 's/^/#   /' "$GW_TMP/exc.out"
fi


# gwctl read --trace on a serial line: the driver's own RTU framing reads
# it (libmodbus does not show its bytes); the values are the same.
ctl_send "2:none"
ctl_send "4:none"
cat >"$GW_TMP/trace.ini" <<INI
[gateway]
id = trace-rtu
timezone = UTC
spool_dir = spool
profiles_dir = $PROF

[bus line]
type = modbus-rtu
device = $GW_TMP/gw
baud = 19200
parity = none

[meter M3]
bus = line
unit = 3
profile = abb_b23
INI
"$GW_BUILD/gwctl" read -c "$GW_TMP/trace.ini" M3 --tsv --trace "$GW_TMP/m3.trace" >"$GW_TMP/m3.tsv" 2>&1
check_eq "$(awk -F'\t' '$1 == "1.8.0" || $1 == "2.8.0" { print $2 }' "$GW_TMP/m3.tsv" | tr '\n' ' ')" \
	"$want3 6000 " "gwctl read --trace (RTU serial): unit 3 read exactly"
check_eq "$(grep -cE '^ +[0-9]+\.[0-9] > 03 0[34] ' "$GW_TMP/m3.trace")/$(grep -cE '^ +[0-9]+\.[0-9] < 03 0[34] ' "$GW_TMP/m3.trace")" \
	"3/3" "gwctl read --trace (RTU serial): 3 requests and 3 replies in hex"
finish
