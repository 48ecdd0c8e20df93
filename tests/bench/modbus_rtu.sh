#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# tests/bench/modbus_rtu.sh - Modbus RTU through real libmodbus on a pty
# pair (socat) with metersim pacing its bytes at the line rate (--pace: one
# character time per byte, 3.5 characters of silence around each frame),
# at 9600 and 19200 baud, 8E1 (the default line, 11 bits a character) and
# 8N1 (10 bits): the gateway's driver reading 4 ABB B23 meters in a loop,
# against the line's limit computed from the frame sizes of the same
# requests, the 3.5-character gaps and the bits a character at that baud
# (it_bench_modbus). GW_BENCH_REPS runs of BENCH_SECONDS (default 5) each;
# the ratio reads/s / limit as min, median and max over the runs.
# Target: median at least 0.80 of the limit.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/common.bash"

make --no-print-directory -s -C "$GW_TOP" "${GW_BUILD#"$GW_TOP"/}/tests/it_bench_modbus" >/dev/null ||
	{ echo "bench: modbus_rtu: cannot build it_bench_modbus"; exit 1; }
command -v socat >/dev/null || { echo "bench: modbus_rtu: socat is missing"; exit 1; }
reps=$(bench_reps)

for line in 8E1 8N1; do
	par=${line:1:1}
	for baud in 9600 19200; do
		tag=$line-$baud
		socat pty,raw,echo=0,link="$GW_TMP/sim$tag" pty,raw,echo=0,link="$GW_TMP/gw$tag" \
			2>/dev/null &
		track_pid $!
		wait_for 10 test -e "$GW_TMP/gw$tag"
		"$GW_BUILD/metersim" --rtu "$GW_TMP/sim$tag" --baud "$baud" --parity "$par" --pace \
			--meters 4 --profile abb_b23 --profiles-dir "$GW_TOP/profiles" \
			--ready-file "$GW_TMP/ready$tag" 2>"$GW_TMP/sim$tag.log" &
		sim=$!
		track_pid $sim
		name=modbus_rtu_${baud}_$line
		wait_for 10 test -s "$GW_TMP/ready$tag" || { echo "bench: $name: metersim did not start"; continue; }
		: >"$GW_TMP/reads$tag"
		: >"$GW_TMP/ratio$tag"
		errs=0
		for r in $(seq 1 "$reps"); do
			"$GW_BUILD/tests/it_bench_modbus" rtu "${BENCH_SECONDS:-5}" "$GW_TOP/profiles/abb_b23.prof" \
				"$GW_TMP/gw$tag" "$baud" 1 4 "$par" >"$GW_TMP/out$tag" ||
				{ echo "# $name: run $r failed"; continue; }
			awk -v r="$r" -v rf="$GW_TMP/reads$tag" -v qf="$GW_TMP/ratio$tag" '
				$1 == "driver" { d = $2 } $1 == "limit" { l = $2 } $1 == "errors" { e = $2 }
				$1 == "requests" { q = $2 }
				END {
					printf "# run %d: %.2f reads/s, line limit %.2f reads/s (%d requests a read), ratio %.3f%s\n",
						r, d, l, q, d / l, (e > 0 ? ", " e " failed reads" : "")
					print d >> rf; printf "%.4f\n", d / l >> qf
				}' "$GW_TMP/out$tag"
			errs=$((errs + $(awk '$1 == "errors" { print $2 }' "$GW_TMP/out$tag")))
			limit=$(awk '$1 == "limit" { print $2 }' "$GW_TMP/out$tag")
		done
		read -r d1 d2 d3 < <(mmm "$GW_TMP/reads$tag")
		read -r q1 q2 q3 < <(mmm "$GW_TMP/ratio$tag")
		awk -v d1="$d1" -v d2="$d2" -v d3="$d3" -v q1="$q1" -v q2="$q2" -v q3="$q3" \
			-v l="${limit:-0}" -v nm="$name" -v baud="$baud" -v line="$line" -v n="$(wc -l <"$GW_TMP/ratio$tag")" \
			-v e="$errs" 'BEGIN {
			printf "bench: %s: median %s reads/s (min %s, max %s; %d runs) (baseline line limit %.2f reads/s at %d baud %s, %d bits a character, ratio median %s (min %s, max %s), target 0.80): %s%s\n",
				nm, d2, d1, d3, n, l, baud, line, (line == "8N1" ? 10 : 11), q2, q1, q3,
				(n >= 1 && q2 >= 0.80 ? "met" : "missed"), (e > 0 ? " (" e " failed reads)" : "")
		}'
		kill -TERM "$sim" 2>/dev/null
	done
done
