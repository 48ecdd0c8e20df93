#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/modbus_tcp.sh - meter reads per second over loopback Modbus TCP
# with 1,000 simulated meters (five metersim endpoints of 200 unit ids
# each, ABB B23: three requests per meter read): the gateway's Modbus
# driver read loop (decoding included) against a bare libmodbus loop
# sending the same requests to the same simulators, alternating in one
# run (it_bench_modbus tcp: driver, bare, driver, bare). GW_BENCH_REPS
# such pairs (default 3) of BENCH_SECONDS (default 8) each; the ratio
# driver / bare per pair, min / median / max.
# Target: the driver at least 80% of the bare loop (median).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

make --no-print-directory -s -C "$GW_TOP" "${GW_BUILD#"$GW_TOP"/}/tests/it_bench_modbus" >/dev/null ||
	{ echo "bench: modbus_tcp_1000: cannot build it_bench_modbus"; exit 1; }
eps=()
for i in 1 2 3 4 5; do
	port=$(free_port)
	"$GW_BUILD/metersim" --tcp "127.0.0.1:$port" --meters 200 --profile abb_b23 \
		--profiles-dir "$GW_TOP/profiles" --ready-file "$GW_TMP/ready$i" \
		2>"$GW_TMP/sim$i.log" &
	track_pid $!
	wait_for 10 test -s "$GW_TMP/ready$i" || { echo "bench: modbus_tcp_1000: metersim did not start"; exit 1; }
	eps+=("127.0.0.1:$port:1:200")
done
: >"$GW_TMP/drv"
: >"$GW_TMP/bare"
: >"$GW_TMP/ratio"
errs=0
for r in $(seq 1 "$(bench_reps)"); do
	"$GW_BUILD/tests/it_bench_modbus" tcp "${BENCH_SECONDS:-8}" "$GW_TOP/profiles/abb_b23.prof" \
		"${eps[@]}" >"$GW_TMP/out" || { echo "# pair $r: run failed"; continue; }
	awk -v r="$r" -v fd="$GW_TMP/drv" -v fb="$GW_TMP/bare" -v fr="$GW_TMP/ratio" '
		$1 == "driver" { d = $2 } $1 == "bare" { b = $2 }
		END {
			printf "# pair %d: driver %d reads/s, bare libmodbus %d reads/s, ratio %.3f\n", r, d, b, d / b
			print d >> fd; print b >> fb; printf "%.4f\n", d / b >> fr
		}' "$GW_TMP/out"
	errs=$((errs + $(awk '$1 == "errors" { print $2 + $3 }' "$GW_TMP/out")))
done
read -r d1 d2 d3 < <(mmm "$GW_TMP/drv")
read -r b1 b2 b3 < <(mmm "$GW_TMP/bare")
read -r q1 q2 q3 < <(mmm "$GW_TMP/ratio")
n=$(wc -l <"$GW_TMP/ratio")
verdict=$([ "$n" -ge 1 ] && awk -v q="$q2" 'BEGIN { exit !(q >= 0.80) }' && echo met || echo missed)
echo "bench: modbus_tcp_1000: median $d2 reads/s (min $d1, max $d3; $n pairs) (baseline bare libmodbus: median $b2 reads/s (min $b1, max $b3), ratio median $q2 (min $q1, max $q3), target 0.80): $verdict$([ "$errs" -gt 0 ] && echo " ($errs failed reads)")"
