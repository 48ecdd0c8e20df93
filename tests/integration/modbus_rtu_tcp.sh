#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/modbus_rtu_tcp.sh - Modbus RTU over TCP (bus type
# modbus-rtu-tcp), as a serial device server (Moxa NPort, USR-TCP232)
# passes an RS-485 line's RTU frames through a TCP connection:
# build/metersim --rtu-tcp serves them, the gateway's Modbus driver frames
# them itself (libmodbus 3.1.6 has no such backend).
#
# First the driver alone (it_modbus_read), on a clock at real speed 26 h
# after its start (02:00 local on day 2, in the flat night window, as in
# modbus_tcp.sh): exact values, an absent unit, a bad CRC, a reply from the
# wrong unit, a reply sent twice, exceptions. Then gatewayd polls the line
# through a whole local day on an accelerated clock and seals the day's
# exact Wh (checked in the spool, as dst_day.sh does).
. "$(dirname "$0")/../lib.sh"

SIM=$GW_BUILD/metersim
READ=$GW_BUILD/tests/it_modbus_read
PROF=$GW_TOP/profiles

anchor=$(/usr/bin/python3 -c 'import time; print("%.3f" % (time.time() - 93600))')
port=$(free_port)
start_metersim sim --rtu-tcp "127.0.0.1:$port" --meters 3 --first-unit 2 \
	--profile abb_b23 --profiles-dir "$PROF" \
	--clock-anchor "$anchor" --clock-start 2026-01-01T00:00:00Z --clock-speed 1 \
	--fault 4:crc --control "$GW_TMP/ctl" ||
	{ not_ok "metersim serves RTU over TCP"; finish; }
ok "metersim serves RTU over TCP on port $port"
if grep -q "Modbus RTU over TCP on 127.0.0.1:$port" "$GW_TMP/sim.log"; then
	ok "metersim says it serves RTU frames on TCP"
else
	not_ok "metersim says it serves RTU frames on TCP"
fi

rd() { "$READ" "rtutcp:127.0.0.1" "$port" "$PROF/abb_b23.prof" "$@"; }
val() { awk -F'\t' -v u="$2" -v o="$3" '$1 == u && $2 == o { print $3 }' "$1" | tr '\n' ' ' | sed 's/ $//'; }

rd 2 3 1 4 >"$GW_TMP/read.out" 2>&1
check_eq "$?" "1" "driver: exit 1 because unit 1 is absent and unit 4 garbled"
for u in 2 3; do
	p=$((200 + 50 * u))
	check_eq "$(val "$GW_TMP/read.out" $u 1.8.0)" "$((1000000 * u + 16 * p))" \
		"driver RTU/TCP: unit $u 1.8.0 = 1e6*u + 16*P_u Wh"
done
check_eq "$(val "$GW_TMP/read.out" 3 2.8.0)" "6000" "driver RTU/TCP: unit 3 2.8.0 = 4*Q_u Wh"
check_eq "$(val "$GW_TMP/read.out" 2 stats)" "requests=3 timeouts=0 exceptions=0" \
	"driver RTU/TCP: 23 ABB registers in 3 requests, as on a serial line"
check_eq "$(awk -F'\t' '$1 == 1 && $2 != "faults" { print $2 "/" $3 }' "$GW_TMP/read.out" | tr '\n' ' ')" \
	"error/timed out stats/requests=1 timeouts=1 exceptions=0 matching/stale=0 unknown_exc=0 bad=0 " \
	"driver RTU/TCP: an absent unit times out once (a converter does not answer for it)"
check_eq "$(awk -F'\t' '$1 == 4 { print $2 "/" $3 }' "$GW_TMP/read.out" | tr '\n' ' ')" \
	"error/checksum error stats/requests=3 timeouts=0 exceptions=0 faults/crc=3 malformed=0 wrong_unit=0 illegal_address=0 busy=0 matching/stale=0 unknown_exc=0 bad=0 " \
	"driver RTU/TCP: a bad CRC is refused and counted, never read as a value"

# ctl_send SPEC: writes one fault spec and waits until metersim applied it.
ctl_send() {
	local n
	n=$(grep -c "fault $1\$" "$GW_TMP/sim.log")
	echo "$1" >"$GW_TMP/ctl"
	wait_for 5 test "$(grep -c "fault $1\$" "$GW_TMP/sim.log")" -gt "$n"
}
ctl_send "4:none"
ctl_send "3:wrongunit"
rd 4 3 >"$GW_TMP/read2.out" 2>&1
check_eq "$(val "$GW_TMP/read2.out" 4 1.8.0)" "$((4000000 + 16 * 400))" "driver RTU/TCP: unit 4 reads once its fault is cleared"
check_eq "$(val "$GW_TMP/read2.out" 3 faults)" "crc=0 malformed=6 wrong_unit=6 illegal_address=0 busy=0" \
	"driver RTU/TCP: replies from the wrong unit id are refused and counted (one retry per request)"
check_eq "$(val "$GW_TMP/read2.out" 3 1.8.0)" "" "driver RTU/TCP: no reading is taken from the wrong unit"

ctl_send "3:none"
ctl_send "3:twice"
rd 3 2 3 >"$GW_TMP/twice.out" 2>&1
check_eq "$?" "0" "driver RTU/TCP: a meter that answers twice is read"
want3=$((3000000 + 16 * 350))
check_eq "$(val "$GW_TMP/twice.out" 3 1.8.0)" "$want3 $want3" "driver RTU/TCP: twice: unit 3 1.8.0 right in both reads"
check_eq "$(val "$GW_TMP/twice.out" 3 2.8.0)" "6000 6000" "driver RTU/TCP: twice: unit 3 2.8.0 right (not another register's copy)"
check_eq "$(val "$GW_TMP/twice.out" 2 1.8.0)" "$((2000000 + 16 * 300))" "driver RTU/TCP: twice: unit 2 after unit 3's copies is right"
stale=$(awk -F'\t' '$1 == 3 && $2 == "matching" { sub(/ .*/, "", $3); sub(/stale=/, "", $3); s += $3 } END { print s + 0 }' "$GW_TMP/twice.out")
if [ "$stale" -ge 3 ]; then
	ok "driver RTU/TCP: twice: the copies are counted as stale replies of unit 3 ($stale)"
else
	not_ok "driver RTU/TCP: twice: the copies are counted as stale replies of unit 3 (got $stale)"
	sed 's/^/#   /' "$GW_TMP/twice.out"
fi

ctl_send "3:none"
ctl_send "2:exception:18"
ctl_send "4:exception:6"
rd 2 3 4 >"$GW_TMP/exc.out" 2>&1
check_eq "$(awk -F'\t' '$1 == 2 && $2 != "faults" { print $2 "/" $3 }' "$GW_TMP/exc.out" | tr '\n' ' ')" \
	"error/device answered with an exception stats/requests=1 timeouts=0 exceptions=1 matching/stale=0 unknown_exc=1 bad=0 " \
	"driver RTU/TCP: an undefined exception code ends that meter's read after one request"
check_eq "$(val "$GW_TMP/exc.out" 4 faults)" "crc=0 malformed=0 wrong_unit=0 illegal_address=0 busy=3" \
	"driver RTU/TCP: exception 6 (busy) is counted per request"
check_eq "$(val "$GW_TMP/exc.out" 3 1.8.0)" "$want3" "driver RTU/TCP: the meter beside them is read"
ctl_send "2:none"
ctl_send "4:none"

# ---- gwctl read --trace: the frames in hex ------------------------------
tport=$(free_port)
start_metersim tsim --tcp "127.0.0.1:$tport" --meters 3 --first-unit 2 \
	--profile abb_b23 --profiles-dir "$PROF" \
	--clock-anchor "$anchor" --clock-start 2026-01-01T00:00:00Z --clock-speed 1 ||
	{ not_ok "metersim (TCP) did not start"; finish; }
cat >"$GW_TMP/trace.ini" <<INI
[gateway]
id = trace-1
timezone = UTC
spool_dir = spool
profiles_dir = $PROF

[bus nport]
type = modbus-rtu-tcp
host = 127.0.0.1
port = $port

[bus tcp]
type = modbus-tcp
host = 127.0.0.1
port = $tport

[meter R3]
bus = nport
unit = 3
profile = abb_b23

[meter T3]
bus = tcp
unit = 3
profile = abb_b23
INI
# frames_ok KIND FILE: every "> " and "< " line of a trace is one whole
# frame: RTU with a good CRC-16, TCP with an MBAP length that fits; prints
# "sent/received" counts.
frames_ok() {
	/usr/bin/python3 - "$1" "$2" <<'PY'
import sys
kind, path = sys.argv[1], sys.argv[2]
def crc16(b):
    c = 0xFFFF
    for x in b:
        c ^= x
        for _ in range(8):
            c = (c >> 1) ^ 0xA001 if c & 1 else c >> 1
    return c
n = {">": 0, "<": 0}
for line in open(path):
    f = line.split()
    if len(f) < 3 or f[1] not in n:
        continue
    b = bytes(int(x, 16) for x in f[2:])
    if kind == "rtu":
        good = len(b) >= 5 and crc16(b[:-2]) == b[-2] | (b[-1] << 8)
    else:
        good = len(b) >= 8 and (b[4] << 8 | b[5]) == len(b) - 6
    if not good:
        print("bad frame: " + line.strip())
        sys.exit(1)
    n[f[1]] += 1
print("%d/%d" % (n[">"], n["<"]))
PY
}
"$GW_BUILD/gwctl" read -c "$GW_TMP/trace.ini" R3 --tsv --trace "$GW_TMP/r3.trace" >"$GW_TMP/r3.tsv" 2>&1
check_eq "$(awk -F'\t' '$1 == "1.8.0" { print $2 }' "$GW_TMP/r3.tsv")" "$want3" "gwctl read --trace (RTU/TCP): the value is read"
check_eq "$(frames_ok rtu "$GW_TMP/r3.trace")" "3/3" "gwctl read --trace (RTU/TCP): 3 requests and 3 replies, whole frames with good CRCs"
expect_line() {
	if grep -qE "$2" "$3"; then ok "$1"; else not_ok "$1"; sed 's/^/#   /' "$3"; fi
}
expect_line "trace (RTU/TCP): the first request to unit 3, FC 3 at 0x5000, in hex with time and direction" \
	'^ +[0-9]+\.[0-9] > 03 03 50 00 00 08 [0-9A-F]{2} [0-9A-F]{2}$' "$GW_TMP/r3.trace"
expect_line "trace (RTU/TCP): its reply, 16 data bytes" '^ +[0-9]+\.[0-9] < 03 03 10 ' "$GW_TMP/r3.trace"
expect_line "trace: names the bus and its endpoint" "# bus nport: tcp 127\.0\.0\.1:$port" "$GW_TMP/r3.trace"
"$GW_BUILD/gwctl" read -c "$GW_TMP/trace.ini" T3 --tsv --trace "$GW_TMP/t3.trace" >"$GW_TMP/t3.tsv" 2>&1
check_eq "$(awk -F'\t' '$1 == "1.8.0" { print $2 }' "$GW_TMP/t3.tsv")" "$want3" "gwctl read --trace (TCP): the value is read"
check_eq "$(frames_ok tcp "$GW_TMP/t3.trace")" "3/3" "gwctl read --trace (TCP): 3 requests and 3 replies with their MBAP header"
expect_line "trace (TCP): the request with transaction id, protocol 0, length 6, unit 3" \
	'^ +[0-9]+\.[0-9] > 00 01 00 00 00 06 03 03 50 00 00 08$' "$GW_TMP/t3.trace"
echo 2:noanswer >"$GW_TMP/ctl"
wait_for 5 grep -q "fault 2:noanswer" "$GW_TMP/sim.log"
sed 's/^unit = 3$/unit = 2/' "$GW_TMP/trace.ini" >"$GW_TMP/trace2.ini"
"$GW_BUILD/gwctl" read -c "$GW_TMP/trace2.ini" R3 --trace "$GW_TMP/r2.trace" >/dev/null 2>&1
expect_line "trace (RTU/TCP): a request that is not answered is noted as timed out" \
	'# unit 2: Connection timed out' "$GW_TMP/r2.trace"
echo 2:none >"$GW_TMP/ctl"

# ---- gatewayd through a whole local day ---------------------------------
zone=Asia/Ho_Chi_Minh
# the clocks stand at 22:00 local until the meters have been polled once
clock=(--clock-anchor "@$GW_TMP/anchor" --clock-start 2026-03-01T15:00:00Z --clock-speed 8640)
gport=$(free_port)
start_metersim gsim --rtu-tcp "127.0.0.1:$gport" --meters 2 --first-unit 1 \
	--profile abb_b23 --profiles-dir "$PROF" --tz "$zone" "${clock[@]}" ||
	{ not_ok "metersim (accelerated) did not start"; finish; }
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = nport-1
timezone = $zone
spool_dir = spool
profiles_dir = $PROF
poll_interval = 15m
midnight_tolerance = 10m
seal_delay = 30m

[bus nport]
type = modbus-rtu-tcp
host = 127.0.0.1
port = $gport
timeout_ms = 500

[meter M1]
bus = nport
unit = 1
profile = abb_b23

[meter M2]
bus = nport
unit = 2
profile = abb_b23
INI
gatewayd_released "$GW_TMP/anchor" "$GW_TMP/spool" "$GW_TMP/gatewayd.log" M1 M2 -- \
	"$GW_BUILD/gatewayd" -c "$GW_TMP/gw.ini" "${clock[@]}" --stop-at 2026-03-02T18:00:00Z ||
	{ not_ok "the meters are polled over RTU/TCP"; sed 's/^/#   /' "$GW_TMP/gatewayd.log" | tail; finish; }
gw=$gw_pid
if wait_pid_exit 60 $gw; then
	wait $gw
	check_eq "$?" 0 "gatewayd polled over RTU/TCP through a day and exited 0"
else
	not_ok "gatewayd did not stop within 60 s"
fi
f=$(ls "$GW_TMP"/spool/ready/nport-1_2026-03-02_r*.gwb 2>/dev/null | head -1)
if [ -n "$f" ]; then ok "the whole day 2026-03-02 was sealed"; else not_ok "no batch for 2026-03-02"; finish; fi
rows=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, '$5 == "1.8.0" || $5 == "2.8.0" { print $4, $5, $8 }')
check_eq "$rows" "M1 1.8.0 4000
M1 2.8.0 0
M2 1.8.0 4800
M2 2.8.0 0" "exact daily Wh over RTU/TCP (16 h of 200 + 50*u W)"
q=$("$GW_BUILD/gwctl" spool dump "$f" | awk -F, '$5 == "1.8.0" { print $10 }' | sort -u | tr '\n' ' ')
case "$q" in
"measured "|"interpolated "|"interpolated measured "|"measured interpolated ") ok "both midnights found ($q)" ;;
*) not_ok "quality of the day over RTU/TCP: $q" ;;
esac
# (a loaded machine may make a cycle overrun at 8640x: not the line's fault)
if grep -E " (warn|error): (bus|meter) " "$GW_TMP/gatewayd.log" | grep -vE "poll cycle overran|alarm poll_overrun" | grep -q .; then
	not_ok "gatewayd reported no fault on a healthy RTU/TCP line"
	grep -E " (warn|error): (bus|meter) " "$GW_TMP/gatewayd.log" | grep -vE "poll cycle overran|alarm poll_overrun" |
		head -5 | sed 's/^/#   /'
else
	ok "gatewayd reported no fault on a healthy RTU/TCP line"
fi
finish
