#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# markcpu.sh TREE_A TREE_B [METERS] [ROUNDS]: markcpu.c built against two
# source trees (each built: TREE/build/libgw.a; it includes the tree's
# gateway/daemon_durable.c) and run side by side, A then B,
# GW_BENCH_REPS times (default 3) at 3 and at 23 registers (10,000
# meters of 50 modbus-tcp buses by default). Gives each one's CPU ns per
# 1,000 readings marked and B / A, min / median / max over the pairs.
set -eu
meters=${3:-10000} rounds=${4:-4}
# shellcheck source=tests/bench/heap/pair.bash
. "$(dirname "$0")/pair.bash"
pair_tmp markcpu
pair_build tests/bench/heap/markcpu.c "$1" "$2"
{
	printf '[gateway]\nid = m\ntimezone = UTC\nspool_dir = %s/spool\nprofiles_dir = %s/profiles\nmeters = meters.csv\n\n' "$tmp" "$pair_top"
	for bus in $(seq 1 $(((meters + 199) / 200))); do
		printf '[bus b%d]\ntype = modbus-tcp\nhost = 127.0.0.1\nport = %d\n\n' "$bus" $((20000 + bus))
	done
} >"$tmp/gw.ini"
echo "meter_id,bus,unit,profile" >"$tmp/meters.csv"
seq 0 $((meters - 1)) | awk '{ b = int($1 / 200) + 1; u = $1 % 200 + 1; print "M" b "-" u ",b" b "," u ",abb_b23" }' >>"$tmp/meters.csv"
for regs in 3 23; do
	: >"$tmp/ra" && : >"$tmp/rb" && : >"$tmp/ratio"
	for _ in $(seq "$(bench_reps)"); do
		x=$("$tmp/markcpu_a" "$tmp/gw.ini" "$regs" "$rounds")
		y=$("$tmp/markcpu_b" "$tmp/gw.ini" "$regs" "$rounds")
		field ns_per_1000 "$x" >>"$tmp/ra"
		field ns_per_1000 "$y" >>"$tmp/rb"
		ratio "$(field ns_per_1000 "$y")" "$(field ns_per_1000 "$x")" >>"$tmp/ratio"
	done
	echo "$meters x $regs: A $(mmm "$tmp/ra" ' / ') ns, B $(mmm "$tmp/rb" ' / ') ns per 1,000 readings; B / A $(mmm "$tmp/ratio" ' / ')"
done
