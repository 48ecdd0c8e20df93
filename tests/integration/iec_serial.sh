#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/integration/iec_serial.sh - the IEC 62056-21 driver against
# build/metersim --iec on a socat pseudo-terminal pair, through `gwctl
# read` as a field engineer runs it: three addressed meters on one line
# (an absent fourth), mode C with the baud switch, an echoing half-duplex
# line, a load profile, a drifted meter clock, every fault metersim can
# switch on, a port that vanishes under an open bus and comes back, 7E1
# through an 8N1 port, a fixed-baud line and a mode D push meter.
#
# The simulated clock starts at 23:00 local time (Asia/Ho_Chi_Minh), when
# the simulated meters draw nothing, so every register is exact: 1.8.0 =
# 1000000 u Wh, 2.8.0 = 0, 32.7.0 = 230.u V.
. "$(dirname "$0")/../lib.sh"

SIM=$GW_BUILD/metersim
GWCTL=$GW_BUILD/gwctl
if ! command -v socat >/dev/null; then
	not_ok "socat is installed (apt-get install socat)"
	finish
fi

# pty_pair NAME: socat pty pair $GW_TMP/NAME.sim <-> $GW_TMP/NAME.gw
pty_pair() {
	rm -f "$GW_TMP/$1.sim" "$GW_TMP/$1.gw"
	socat pty,raw,echo=0,link="$GW_TMP/$1.sim" pty,raw,echo=0,link="$GW_TMP/$1.gw" \
		2>>"$GW_TMP/socat.log" &
	track_pid $!
	eval "${1}_socat=$!"
	wait_for 10 test -e "$GW_TMP/$1.gw"
}

start=2026-03-01T16:00:00Z # 23:00 local
anchor=$(date +%s.%N)
clock=(--clock-anchor "$anchor" --clock-start "$start" --clock-speed 1)
addrs=11111111,22222222,33333333

# start_sim NAME ARGS...: metersim --iec on $GW_TMP/NAME.sim
start_sim() {
	local name=$1
	shift
	rm -f "$GW_TMP/$name.ready"
	"$SIM" --iec "$GW_TMP/$name.sim" --tz Asia/Ho_Chi_Minh "${clock[@]}" \
		--ready-file "$GW_TMP/$name.ready" "$@" 2>>"$GW_TMP/$name.log" &
	track_pid $!
	eval "${name}_sim=$!"
	wait_for 10 test -e "$GW_TMP/$name.ready"
}

if pty_pair line && start_sim line --addresses $addrs --echo --load-profile \
	--clock-offset 300 --faults "$GW_TMP/faults" --reaction-ms 50; then
	ok "metersim serves three IEC meters on a pty"
else
	not_ok "metersim serves three IEC meters on a pty"
	cat "$GW_TMP"/*.log
	finish
fi

cat >"$GW_TMP/meters.csv" <<CSV
meter_id,bus,unit,profile
EL0001,line,11111111,-
EL0002,line,22222222,-
EL0003,line,33333333,-
EL0004,line,44444444,-
PUSH01,push,-,-
CSV
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = sub-iec
timezone = Asia/Ho_Chi_Minh
spool_dir = spool
meters = meters.csv

[clock]
anchor = $anchor
start = $start

[bus line]
type = iec62056-21
device = $GW_TMP/line.gw
max_baud = 9600
timeout_ms = 1000
byte_timeout_ms = 300
max_clock_drift = 2m

[bus push]
type = iec62056-21
device = $GW_TMP/push.gw
mode = d
timeout_ms = 3000
byte_timeout_ms = 300
INI

# --- registers, output format, trace -------------------------------------
"$GWCTL" read -c "$GW_TMP/gw.ini" EL0002 >"$GW_TMP/r2.out" 2>&1
check_eq "$?" 0 "gwctl read of an addressed IEC meter exits 0"
check_eq "$(grep -v '^#' "$GW_TMP/r2.out" | head -6)" "$(printf '%s\n' \
	'OBIS                        value  unit' \
	'1.8.0                     2000000  Wh' \
	'2.8.0                           0  Wh' \
	'16.7.0                          0  W' \
	'32.7.0                      230.2  V' \
	'14.7.0                      50.00  Hz')" "registers exact, printed as for Modbus meters"
# (the meter's clock has whole seconds: its offset is known to a second)
check_eq "$(grep -cE '^P\.01:1\.5\.0 .*W  2026-03-01T1[56]:(09:59|10:0[01]|24:59|25:0[01]|39:59|40:0[01]|54:59|55:0[01])\.000Z$' "$GW_TMP/r2.out")" 4 \
	"load profile P.01: four interval readings of the series P.01:1.5.0, moved by the meter clock's 300 s onto the gateway's"
check_eq "$(grep -c '^1\.5\.0 ' "$GW_TMP/r2.out")" 0 "no profile channel is named like a register"
if grep -Eq '^# meter clock .*: \+(29[89]|30[01]) s \(drifted: more than max_clock_drift\)$' "$GW_TMP/r2.out"; then
	ok "a meter clock 300 s ahead is reported as drifted"
else
	not_ok "meter clock drift reported"; sed 's/^/#   /' "$GW_TMP/r2.out"
fi

"$GWCTL" read -c "$GW_TMP/gw.ini" EL0003 --tsv --trace "$GW_TMP/trace" >"$GW_TMP/r3.out" 2>&1
check_eq "$(head -3 "$GW_TMP/r3.out")" "$(printf '1.8.0\t3000000\tWh\n2.8.0\t0\tWh\n16.7.0\t0\tW')" \
	"gwctl read --tsv: obis<TAB>value<TAB>unit"
if grep -q '> 2f 3f 33 33 33 33 33 33 33 33 21 0d 0a  |/?33333333!..|' "$GW_TMP/trace" &&
	grep -q '< 2f 3f 33' "$GW_TMP/trace" && grep -Fq '/GWS5\2SIM33333333' "$GW_TMP/trace" &&
	grep -q '> 06 30 35 30 0d 0a' "$GW_TMP/trace" && grep -q '# baud 9600' "$GW_TMP/trace" &&
	grep -q 'accepted: .* BCC ok' "$GW_TMP/trace"; then
	ok "--trace: sign-on, its echo, identification, ACK 050, baud switch, BCC, with times"
else
	not_ok "--trace content"; sed 's/^/#   /' "$GW_TMP/trace" | head -20
fi

"$GWCTL" read -c "$GW_TMP/gw.ini" EL0004 >"$GW_TMP/r4.out" 2>&1
check_eq "$?:$(cat "$GW_TMP/r4.out")" \
	"1:gwctl read: meter EL0004 (address '44444444' on bus line): timed out" \
	"an absent address on the line times out"

# --- faults, switched on while metersim runs -------------------------------
fault_read() { # fault_read FAULT EXPECTED-MESSAGE
	echo "22222222 $1" >"$GW_TMP/faults"
	"$GWCTL" read -c "$GW_TMP/gw.ini" EL0002 >"$GW_TMP/f.out" 2>&1
	check_eq "$?:$(cat "$GW_TMP/f.out")" \
		"1:gwctl read: meter EL0002 (address '22222222' on bus line): $2" \
		"fault '$1' is rejected: $2"
}
fault_read silent "timed out"
fault_read garbage "malformed or unexpected reply"
fault_read bcc "checksum error"
fault_read baud "malformed or unexpected reply"
fault_read cut "malformed or unexpected reply"
echo "22222222 none" >"$GW_TMP/faults"
"$GWCTL" read -c "$GW_TMP/gw.ini" EL0002 --tsv >"$GW_TMP/f.out" 2>&1
check_eq "$?:$(head -1 "$GW_TMP/f.out")" "0:1.8.0	2000000	Wh" "the meter reads again once the fault is off"
echo "33333333 bcc" >"$GW_TMP/faults"
"$GWCTL" read -c "$GW_TMP/gw.ini" EL0001 --tsv >"$GW_TMP/f.out" 2>&1
check_eq "$?:$(head -1 "$GW_TMP/f.out")" "0:1.8.0	1000000	Wh" "a fault of one meter leaves the others on the line alone"
: >"$GW_TMP/faults"

# --- one open bus: counters, a vanished port, recovery ---------------------
coproc RD { "$GW_BUILD/tests/it_iec_read" "$GW_TMP/gw.ini" line 2>&1; }
track_pid $RD_PID
rd() { echo "$1" >&"${RD[1]}"; local a b; read -r -t 20 a <&"${RD[0]}"; read -r -t 20 b <&"${RD[0]}"; echo "$a|$b"; }
read -r -t 10 opened <&"${RD[0]}"
check_eq "$opened" "open	ok" "driver: bus open"
echo "11111111 bcc" >"$GW_TMP/faults"
check_eq "$(rd EL0001)" "EL0001	error	checksum error|EL0001	stats	requests=1 timeouts=0 crc=1 malformed=0" \
	"driver: a wrong BCC is counted as a CRC error, no readings"
echo "11111111 cut" >"$GW_TMP/faults"
check_eq "$(rd EL0001)" "EL0001	error	malformed or unexpected reply|EL0001	stats	requests=1 timeouts=0 crc=0 malformed=1" \
	"driver: a block cut short is counted as malformed"
: >"$GW_TMP/faults"
check_eq "$(rd EL0001)" "EL0001	ok	13 readings	1.8.0=1000000|EL0001	stats	requests=1 timeouts=0 crc=0 malformed=0" \
	"driver: next read complete (5 registers, 4 intervals of P.01:1.5.0 and P.01:2.5.0)"
again=$(rd EL0001)
check_eq "$(echo "$again" | cut -f3)" "5 readings" \
	"driver: the read after it passes on no interval twice"
kill "$line_sim" "$line_socat" 2>/dev/null
wait_pid_exit 5 "$line_socat"
got=$(rd EL0001)
case "$got" in
"EL0001	error	cannot connect|"*) ok "driver: a vanished port fails the read at once (cannot connect)" ;;
*) not_ok "driver: vanished port (got '$got')" ;;
esac
got=$(rd EL0001)
check_eq "${got%%|*}" "EL0001	error	cannot connect" "driver: while the port is gone, reads fail fast"
pty_pair line && start_sim line --addresses $addrs --reaction-ms 50
got=$(rd EL0003)
check_eq "${got%%|*}" "EL0003	ok	5 readings	1.8.0=3000000" \
	"driver: the port is reopened once it is back"
echo "" >&"${RD[1]}"

# --- 7E1 characters through an 8N1 port (parity bit in bit 7) -------------
kill "$line_sim" 2>/dev/null
wait_pid_exit 5 "$line_sim"
start_sim line --addresses $addrs --parity-bit --reaction-ms 20
sed 's/^max_baud = 9600$/max_baud = 4800\nframing = 8N1/' "$GW_TMP/gw.ini" >"$GW_TMP/gw8.ini"
"$GWCTL" read -c "$GW_TMP/gw8.ini" EL0001 --tsv --trace "$GW_TMP/trace8" >"$GW_TMP/r8.out" 2>&1
check_eq "$?:$(head -1 "$GW_TMP/r8.out")" "0:1.8.0	1000000	Wh" \
	"framing 8N1: parity made and stripped in software, BCC over 7-bit characters"
check_eq "$(grep -c '# baud 4800' "$GW_TMP/trace8")" 1 "max_baud caps the meter's offer (9600) at 4800"

# --- a fixed-baud line ---------------------------------------------------
kill "$line_sim" 2>/dev/null
wait_pid_exit 5 "$line_sim"
start_sim line --addresses $addrs --mode fixed --baud 9600 --reaction-ms 20
sed 's/^max_baud = 9600$/mode = fixed\nbaud = 9600/' "$GW_TMP/gw.ini" >"$GW_TMP/gwf.ini"
"$GWCTL" read -c "$GW_TMP/gwf.ini" EL0003 --tsv --trace "$GW_TMP/tracef" >"$GW_TMP/rf.out" 2>&1
check_eq "$?:$(head -1 "$GW_TMP/rf.out"):$(grep -c '# baud' "$GW_TMP/tracef")" \
	"0:1.8.0	3000000	Wh:0" "fixed baud: sign-on, ACK 0 5 0 and readout at 9600, no switch"

# --- mode D: a meter that pushes -----------------------------------------
pty_pair push && start_sim push --mode d --baud 9600 --push-ms 300 --addresses 99
"$GWCTL" read -c "$GW_TMP/gw.ini" PUSH01 --tsv >"$GW_TMP/rp.out" 2>&1
check_eq "$?:$(head -2 "$GW_TMP/rp.out" | tr '\n' ' ')" "0:1.8.0	1000000	Wh 2.8.0	0	Wh " \
	"mode D: the next pushed telegram is read"
finish
