#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/modbus_rtu.sh - Modbus RTU on a pty pair with metersim pacing
# its bytes at the line rate (--pace: one byte per character time, 3.5
# characters of silence around each frame), at 9600 and 19200 baud 8N1:
# the gateway's driver reading 4 ABB B23 meters in a loop, against the
# line's limit computed from the frame sizes of the same requests and the
# 3.5-character gaps. Target: at least 80% of that limit.
. "$(dirname "$0")/../lib.sh"

make --no-print-directory -s -C "$GW_TOP" "${GW_BUILD#"$GW_TOP"/}/tests/it_bench_modbus" >/dev/null ||
	{ echo "bench: modbus_rtu: cannot build it_bench_modbus"; exit 1; }
command -v socat >/dev/null || { echo "bench: modbus_rtu: socat is missing"; exit 1; }

for baud in 9600 19200; do
	socat pty,raw,echo=0,link="$GW_TMP/sim$baud" pty,raw,echo=0,link="$GW_TMP/gw$baud" \
		2>/dev/null &
	track_pid $!
	wait_for 10 test -e "$GW_TMP/gw$baud"
	"$GW_BUILD/metersim" --rtu "$GW_TMP/sim$baud" --baud "$baud" --parity N --pace \
		--meters 4 --profile abb_b23 --profiles-dir "$GW_TOP/profiles" \
		--ready-file "$GW_TMP/ready$baud" 2>"$GW_TMP/sim$baud.log" &
	track_pid $!
	wait_for 10 test -s "$GW_TMP/ready$baud" || { echo "bench: modbus_rtu_$baud: metersim did not start"; continue; }
	"$GW_BUILD/tests/it_bench_modbus" rtu "${BENCH_SECONDS:-6}" "$GW_TOP/profiles/abb_b23.prof" \
		"$GW_TMP/gw$baud" "$baud" 1 4 >"$GW_TMP/out$baud" ||
		{ echo "bench: modbus_rtu_$baud: run failed"; continue; }
	awk -v baud="$baud" '
		$1 == "driver" { d = $2 } $1 == "limit" { l = $2 } $1 == "errors" { e = $2 }
		$1 == "requests" { q = $2 " requests/read" }
		END {
			r = d / l
			printf "bench: modbus_rtu_%d: %.2f reads/s (line limit %.2f reads/s at %d baud 8N1, %s, ratio %.2f, target 0.80): %s%s\n",
				baud, d, l, baud, q, r, (r >= 0.80 ? "met" : "missed"), (e > 0 ? " (" e " failed reads)" : "")
		}' "$GW_TMP/out$baud"
done
