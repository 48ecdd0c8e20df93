#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/modbus_tcp.sh - meter reads per second over loopback Modbus TCP
# with 1,000 simulated meters (five metersim endpoints of 200 unit ids
# each, ABB B23: three requests per meter read): the gateway's Modbus
# driver read loop (decoding included) against a bare libmodbus loop
# sending the same requests to the same simulators, alternating in one run.
# Target: the driver at least 80% of the bare loop.
. "$(dirname "$0")/../lib.sh"

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
"$GW_BUILD/tests/it_bench_modbus" tcp "${BENCH_SECONDS:-8}" "$GW_TOP/profiles/abb_b23.prof" \
	"${eps[@]}" >"$GW_TMP/out" || { echo "bench: modbus_tcp_1000: run failed"; exit 1; }
drv=$(awk '$1 == "driver" { print $2 }' "$GW_TMP/out")
bare=$(awk '$1 == "bare" { print $2 }' "$GW_TMP/out")
errs=$(awk '$1 == "errors" { print $2 + $3 }' "$GW_TMP/out")
awk -v d="$drv" -v b="$bare" -v e="$errs" 'BEGIN {
	r = d / b
	printf "bench: modbus_tcp_1000: %d reads/s (bare libmodbus %d reads/s, ratio %.2f, target 0.80): %s%s\n",
		d, b, r, (r >= 0.80 ? "met" : "missed"), (e > 0 ? " (" e " failed reads)" : "")
}'
