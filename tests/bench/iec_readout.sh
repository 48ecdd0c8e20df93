#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/iec_readout.sh - one IEC 62056-21 mode C readout of a 1 kB
# data block at 9600 baud after the sign-on at 300 baud, by `gwctl read`
# against metersim on a socat pty pair, metersim pacing every character at
# the line rate (a pty itself passes bytes at once) and keeping the
# standard's reaction time tr = 200 ms before each answer.
#
# The minimum is computed from the bytes exchanged, as `gwctl read --trace`
# records them, at the baud each was sent at (10 bits a character), plus
# the three reaction times the protocol requires (meter before the
# identification, gateway before the ACK, meter before the data block):
#   T_min = bytes@300 (sign-on, identification, ACK) + bytes@9600 (block)
#           + 3 tr
# and compared with the time from the first byte sent to the last byte
# received (from the same trace), per readout: GW_BENCH_REPS readouts
# (default 3), each paired with the minimum of its own bytes; the ratio
# min / median / max. Target: median within 10 % of the minimum.
set -u
. "$(dirname "$0")/../../tools/runlib.sh"
. "$(dirname "$0")/common.bash"

socat pty,raw,echo=0,link="$GW_TMP/sim" pty,raw,echo=0,link="$GW_TMP/gw" \
	2>"$GW_TMP/socat.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/gw" || { echo "bench: iec_readout_1k: no pty pair"; exit 1; }
"$GW_BUILD/metersim" --iec "$GW_TMP/sim" --addresses 12345678 --baud 300 \
	--max-baud 9600 --pace --block-bytes 1024 --ready-file "$GW_TMP/ready" \
	2>"$GW_TMP/sim.log" &
track_pid $!
wait_for 10 test -e "$GW_TMP/ready" || { echo "bench: iec_readout_1k: metersim did not start"; exit 1; }
printf 'meter_id,bus,unit,profile\nB1,line,12345678,-\n' >"$GW_TMP/meters.csv"
cat >"$GW_TMP/gw.ini" <<INI
[gateway]
id = bench
timezone = UTC
spool_dir = spool
meters = meters.csv
[bus line]
type = iec62056-21
device = $GW_TMP/gw
baud = 300
max_baud = 9600
INI
: >"$GW_TMP/ms"
: >"$GW_TMP/min"
: >"$GW_TMP/ratio"
for run in $(seq 1 "$(bench_reps)"); do
	if ! "$GW_BUILD/gwctl" read -c "$GW_TMP/gw.ini" B1 --trace "$GW_TMP/trace.$run" \
		>"$GW_TMP/read.$run" 2>&1; then
		echo "bench: iec_readout_1k: read failed: $(cat "$GW_TMP/read.$run")"
		exit 1
	fi
	# trace lines: "   ms > hex.. |text|", "   ms < hex.. |text|", "   ms # baud N"
	res=$(awk '
		$2 == "#" && $3 == "baud" { baud = $4; next }
		$2 == "#" { next }
		$2 == ">" || $2 == "<" {
			if (first == "") first = $1
			if ($2 == "<") last = $1
			n = 0
			for (i = 3; i <= NF && $i !~ /^\|/; i++) n++
			if (baud == "") baud = 300
			wire += n * 10 * 1000 / baud
			bytes[baud] += n
		}
		END {
			min = wire + 3 * 200
			# the last byte is received when it has fully arrived; the
			# first is sent at "first": the measured span
			printf "%.1f %.1f %d %d\n", last - first, min, bytes[300], bytes[9600]
		}' "$GW_TMP/trace.$run")
	set -- $res
	echo "# readout $run: $1 ms (minimum $2 ms; bytes at 300 baud: $3, at 9600 baud: $4), ratio $(awk -v x="$1" -v m="$2" 'BEGIN { printf "%.3f", x / m }')"
	echo "$1" >>"$GW_TMP/ms"
	echo "$2" >>"$GW_TMP/min"
	awk -v x="$1" -v m="$2" 'BEGIN { printf "%.4f\n", x / m }' >>"$GW_TMP/ratio"
done
read -r t1 t2 t3 < <(mmm "$GW_TMP/ms")
read -r m1 m2 m3 < <(mmm "$GW_TMP/min")
read -r q1 q2 q3 < <(mmm "$GW_TMP/ratio")
n=$(wc -l <"$GW_TMP/ratio")
verdict=$(awk -v r="$q2" 'BEGIN { print (r <= 1.10 ? "met" : "missed") }')
echo "bench: iec_readout_1k: median $t2 ms (min $t1, max $t3; $n readouts) (baseline the minimum of each readout's bytes: median $m2 ms (min $m1, max $m3), ratio median $q2 (min $q1, max $q3), target 1.10): $verdict"
